// SPDX-License-Identifier: GPL-2.0
/*
 * Crash consistency.  Several threads run random transactions over a set
 * of test blocks (each changing a few 64-byte ranges of 1..3 blocks), some
 * followed by a log force, with the background push and AIL threads
 * running over a small log that wraps.  The device is crashed after write
 * N (for N spread over a whole run), with or without dropping unflushed
 * writes, or only loses its volatile cache at the end.  After recovery the
 * blocks must equal the state after some prefix of the committed
 * transactions (in checkpoint order) that includes every force that
 * returned before the crash: never a mix, never older than the last force.
 *
 * Usage: test_journal_crash [iterations] [seed]
 */
#include <stdatomic.h>

#include "tests/journal/jt.h"

#define NB 16
#define NTHREADS 3
#define NTX 200
#define LOGB (64 * 1024)

struct run {
	struct jt *t;
	unsigned seed;
	_Atomic uint64_t forced_max;
};

struct worker {
	struct run *r;
	unsigned id;
	pthread_t th;
};

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct jt *t = w->r->t;
	unsigned s = w->r->seed * 31 + w->id * 7919 + 1;
	unsigned n;

	for (n = 0; n < NTX; n++) {
		unsigned nblk = 1 + rnd(&s) % 3, picked[3], i, j, k;
		struct kvj_trans *tp;
		uint64_t seq, cur;

		if (kv_dev_crashed(t->dev))
			break;
		for (i = 0; i < nblk; i++) {
again:
			picked[i] = rnd(&s) % NB;
			for (j = 0; j < i; j++)
				if (picked[j] == picked[i])
					goto again;
		}
		/* lock in index order */
		for (i = 0; i < nblk; i++)
			for (j = i + 1; j < nblk; j++)
				if (picked[j] < picked[i]) {
					k = picked[i];
					picked[i] = picked[j];
					picked[j] = k;
				}
		CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
		for (i = 0; i < nblk; i++) {
			struct tblk *b = &t->blk[picked[i]];
			unsigned nr = 1 + rnd(&s) % 2;

			pthread_mutex_lock(&b->lock);
			for (k = 0; k < nr; k++)
				jt_modify(tp, b, 64 * (1 + rnd(&s) % 15), 64,
					  (uint8_t)(1 + rnd(&s) % 255), false);
		}
		CHECK(kvj_trans_commit(tp, &seq) == 0);
		if (rnd(&s) % 6 == 0) {
			if (kvj_log_force(t->log, seq) == 0 &&
			    !kv_dev_crashed(t->dev)) {
				cur = atomic_load(&w->r->forced_max);
				while (seq > cur &&
				       !atomic_compare_exchange_weak(
					       &w->r->forced_max, &cur, seq))
					;
			}
		}
	}
	return NULL;
}

static uint32_t max_cycle;

struct saved {
	struct jt_hist *hist;
	unsigned nr;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is the recovered state some prefix >= forced_max? */
static void check_prefix(struct jt *t, struct saved *sv, uint64_t forced_max,
			 const char *what)
{
	static uint8_t got[NB][JT_BLK];
	static const uint8_t zero[JT_BLK];
	uint64_t *cand;
	unsigned nc = 0, i, c, b;

	for (b = 0; b < NB; b++)
		jt_read_block(t, b, got[b]);
	for (b = 0; b < NB; b++)
		nc += sv[b].nr;
	cand = malloc((nc + 1) * sizeof(*cand));
	CHECK(cand);
	nc = 0;
	cand[nc++] = 0;
	for (b = 0; b < NB; b++)
		for (i = 0; i < sv[b].nr; i++)
			cand[nc++] = sv[b].hist[i].seq;
	qsort(cand, nc, sizeof(*cand), cmp_u64);
	for (c = 0; c < nc; c++) {
		uint64_t k = cand[c];
		bool ok = true;

		if (k < forced_max || (c && cand[c - 1] == k))
			continue;
		for (b = 0; b < NB && ok; b++) {
			const uint8_t *want = zero;

			for (i = 0; i < sv[b].nr && sv[b].hist[i].seq <= k; i++)
				want = sv[b].hist[i].data;
			ok = !memcmp(want + 64, got[b] + 64, JT_BLK - 64);
		}
		if (ok) {
			free(cand);
			return;
		}
	}
	/* which history states each block matches (*) */
	for (b = 0; b < NB; b++) {
		fprintf(stderr, "block %u:", b);
		for (i = 0; i < sv[b].nr; i++)
			fprintf(stderr, " %llu%s",
				(unsigned long long)sv[b].hist[i].seq,
				memcmp(sv[b].hist[i].data + 64, got[b] + 64,
				       JT_BLK - 64) ? "" : "*");
		fprintf(stderr, "\n");
	}
	fprintf(stderr,
		"%s: recovered state is no prefix >= forced seq %llu\n", what,
		(unsigned long long)forced_max);
	exit(1);
}

/* One run; returns the number of device writes it issued. */
static uint64_t run_once(struct jt *t, unsigned seed, unsigned modes,
			 uint64_t crash_after, unsigned *forced)
{
	struct kvj_log_params p = { .push_interval_ms = 2,
				    .push_fraction = 4 };
	struct kv_dev_fault f = { 0 };
	struct kvj_log_stats st;
	struct worker w[NTHREADS];
	struct saved sv[NB];
	struct run r = { .t = t, .seed = seed };
	char what[128];
	uint64_t writes;
	unsigned i;

	jt_create(t, "crash", NB, LOGB);
	jt_dev_open(t);
	f.modes = modes;
	f.crash_after = crash_after;
	CHECK(kv_dev_set_fault(t->dev, &f) == 0);
	t->keep_hist = true;
	CHECK(jt_log_open_p(t, &p) == 0);
	atomic_init(&r.forced_max, 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i].r = &r;
		w[i].id = i;
		CHECK(pthread_create(&w[i].th, NULL, worker_fn, &w[i]) == 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].th, NULL);
	writes = kv_dev_nr_writes(t->dev);
	kvj_log_get_stats(t->log, &st);
	if (KVJ_LSN_CYCLE(st.head_lsn) > max_cycle)
		max_cycle = KVJ_LSN_CYCLE(st.head_lsn);
	if (modes & KV_FAULT_VOLATILE)
		kv_dev_power_fail(t->dev);
	jt_log_crash(t);
	jt_dev_close(t);
	for (i = 0; i < NB; i++) {
		sv[i].hist = t->blk[i].hist;
		sv[i].nr = t->blk[i].nr_hist;
		t->blk[i].hist = NULL;
		t->blk[i].nr_hist = t->blk[i].cap_hist = 0;
	}
	t->keep_hist = false;

	jt_dev_open(t);
	if (jt_log_open(t) != 0) {
		fprintf(stderr, "seed %u modes %u crash %llu: recovery failed\n",
			seed, modes, (unsigned long long)crash_after);
		exit(1);
	}
	CHECK(kvj_log_close(t->log) == 0);
	snprintf(what, sizeof(what), "seed %u modes %u crash_after %llu",
		 seed, modes, (unsigned long long)crash_after);
	check_prefix(t, sv, atomic_load(&r.forced_max), what);
	jt_dev_close(t);
	for (i = 0; i < NB; i++)
		free(sv[i].hist);
	if (atomic_load(&r.forced_max))
		(*forced)++;
	jt_remove(t);
	return writes;
}

int main(int argc, char **argv)
{
	static struct jt t;
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
	unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	unsigned i, forced = 0;
	uint64_t total;

	jt_init(64 << 20);
	/* calibrate: how many writes a whole run issues */
	total = run_once(&t, seed, 0, 0, &forced);
	CHECK(total > 10);
	for (i = 0; i < iters; i++) {
		uint64_t n = 1 + (uint64_t)(i * 2654435761u) % (total + 5);
		unsigned modes;

		switch (i % 3) {
		case 0:
			modes = KV_FAULT_CRASH;
			break;
		case 1:
			modes = KV_FAULT_CRASH | KV_FAULT_VOLATILE;
			break;
		default:
			modes = KV_FAULT_VOLATILE;
			n = 0;
			break;
		}
		run_once(&t, seed + i + 1, modes, n, &forced);
	}
	/* the runs must actually have exercised forces */
	CHECK(forced > iters / 4);
	/* and the log must have wrapped */
	CHECK(max_cycle >= 2);
	jt_fini();
	printf("journal crash: %u crash runs over ~%llu writes each, ok\n",
	       iters, (unsigned long long)total);
	return 0;
}
