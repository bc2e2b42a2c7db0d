// SPDX-License-Identifier: GPL-2.0
/*
 * Crash consistency.  Several threads run random transactions over a set
 * of test blocks (each changing a few 64-byte ranges of 1..3 blocks), some
 * followed by a log force, with the background push and AIL threads
 * running over a small log that wraps.  The device is crashed after write
 * N (for N spread over a whole run), with or without dropping unflushed
 * writes, or only loses its volatile cache at the end; in sectors mode the
 * cache keeps a random subset of its sectors instead (KV_FAULT_SECTORS),
 * at write N or at the end.  After recovery the blocks must equal the
 * state after some prefix of the committed transactions (in checkpoint
 * order) that includes every force that returned before the crash: never
 * a mix, never older than the last force.
 *
 * Then a transaction is committed and forced over the recovered log, the
 * power fails again, and the next recovery must keep it.  Every tenth run
 * also crashes recovery itself at each of its first writes (every one of
 * them if there are few), recovers that again and checks the same.
 *
 * Failures are counted by kind and the run goes on; the summary names each
 * kind and the exit status is 1 if there was any.
 *
 * Usage: test_journal_crash [iterations] [seed] [mixed|sectors] [point]
 *   point: run only that crash point of the series (after calibrating);
 *   the threads make a run reproducible only in distribution.
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

enum fail_kind {
	F_REFUSED, /* recovery returned -EUCLEAN */
	F_FAILED, /* recovery returned another error */
	F_PREFIX, /* recovered state no prefix >= the last force */
	F_FORCE_LOST, /* a force after recovery did not survive a crash */
	F_FORCE_FAILED, /* the recovery after that crash returned an error */
	F_RC_REFUSED, /* after a crash during recovery: -EUCLEAN */
	F_RC_FAILED, /* after a crash during recovery: another error */
	F_RC_PREFIX, /* after a crash during recovery: no prefix */
	F_AIL_LOST, /* the AIL scenario lost the written-back forced change */
	NR_FAIL
};

static const char *const fail_names[NR_FAIL] = {
	"recovery refused (-EUCLEAN)",
	"recovery failed",
	"not a prefix >= the last force",
	"force after recovery lost",
	"recovery after a force after recovery failed",
	"recovery refused after a crash in recovery (-EUCLEAN)",
	"recovery failed after a crash in recovery",
	"not a prefix after a crash in recovery",
	"AIL scenario: a forced change written back, then lost",
};

static unsigned nr_fail[NR_FAIL];
static unsigned nr_rc_points, nr_post_forces;

static unsigned nr_failures(void)
{
	unsigned k, n = 0;

	for (k = 0; k < NR_FAIL; k++)
		n += nr_fail[k];
	return n;
}

static void fail(enum fail_kind k, const char *what, int err)
{
	nr_fail[k]++;
	if (err)
		fprintf(stderr, "FAIL %s: %s: %d (%s)\n", fail_names[k], what,
			err, strerror(-err));
	else
		fprintf(stderr, "FAIL %s: %s\n", fail_names[k], what);
}

struct saved {
	struct jt_hist *hist;
	unsigned nr;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Is the recovered state some prefix >= forced_max?  Explains if not. */
static bool check_prefix(struct jt *t, struct saved *sv, uint64_t forced_max,
			 uint8_t (*got)[JT_BLK])
{
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
			return true;
		}
	}
	free(cand);
	/* which history states each block matches (*) */
	for (b = 0; b < NB; b++) {
		fprintf(stderr, "  block %u:", b);
		for (i = 0; i < sv[b].nr; i++)
			fprintf(stderr, " %llu%s",
				(unsigned long long)sv[b].hist[i].seq,
				memcmp(sv[b].hist[i].data + 64, got[b] + 64,
				       JT_BLK - 64) ?
					"" :
					"*");
		fprintf(stderr, "\n");
	}
	fprintf(stderr, "  no prefix >= forced seq %llu\n",
		(unsigned long long)forced_max);
	return false;
}

/*
 * Open the device of a scratch image: a fault mode that never fires makes
 * its flushes simulated (fs/io/dev.h), no fdatasync for each of the thousands
 * of recoveries.
 */
static void scratch_dev_open(struct jt *t)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE,
				  .fail_write = UINT64_MAX };

	jt_dev_open(t);
	CHECK(kv_dev_set_fault(t->dev, &f) == 0);
}

/*
 * The power fails under modes (VOLATILE or SECTORS, or just a crash), the
 * log stops, the device closes.
 */
static void power_fail(struct jt *t, unsigned modes)
{
	if (modes & (KV_FAULT_VOLATILE | KV_FAULT_SECTORS))
		kv_dev_power_fail(t->dev);
	if (t->log)
		jt_log_crash(t);
	jt_dev_close(t);
}

/* The fault modes of the runs after the first crash: a power failure. */
static unsigned cache_mode(unsigned modes)
{
	return modes & KV_FAULT_SECTORS ? KV_FAULT_SECTORS : KV_FAULT_VOLATILE;
}

/*
 * Over the recovered (open) log: commit a change of block 0 and force it,
 * fail the power, recover: the change must be there and nothing else may
 * have moved.  The log is closed on return.
 */
static void force_after_recovery(struct jt *t, unsigned modes, uint64_t sseed,
				 uint8_t (*got)[JT_BLK], const char *what)
{
	static uint8_t now[JT_BLK];
	struct kv_dev_fault f = { .modes = cache_mode(modes), .seed = sseed };
	uint8_t val = got[0][128] == 0xa5 ? 0x5a : 0xa5;
	uint64_t seq;
	unsigned b;
	int err;

	CHECK(kv_dev_set_fault(t->dev, &f) == 0);
	seq = jt_tx1(t, 0, 128, 64, val);
	CHECK(kvj_log_force(t->log, seq) == 0);
	power_fail(t, f.modes);
	scratch_dev_open(t);
	err = jt_log_open(t);
	if (err) {
		fail(F_FORCE_FAILED, what, err);
		t->log = NULL;
		jt_dev_close(t);
		return;
	}
	nr_post_forces++;
	memset(got[0] + 128, val, 64);
	for (b = 0; b < NB; b++) {
		jt_read_block(t, b, now);
		if (memcmp(now + 64, got[b] + 64, JT_BLK - 64)) {
			fprintf(stderr, "  block %u differs%s\n", b,
				b ? "" : " (the forced change is in block 0)");
			fail(F_FORCE_LOST, what, 0);
			break;
		}
	}
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
	jt_dev_close(t);
}

/*
 * The crashed image at t->path (saved at copy) is recovered with the
 * device crashed at each of recovery's first writes, then recovered again
 * and checked; rec_writes: how many writes the uncrashed recovery issued.
 */
static void crash_recovery(struct jt *t, const char *copy, uint64_t rec_writes,
			   unsigned modes, uint64_t sseed, struct saved *sv,
			   uint64_t forced_max, const char *what)
{
	static uint8_t got[NB][JT_BLK];
	const uint64_t max_points = 32;
	uint64_t points = rec_writes < max_points ? rec_writes : max_points;
	char rwhat[256];
	uint64_t j;
	int err;

	for (j = 0; j < points; j++) {
		/* every write while few, else spread over all of them */
		uint64_t n = 1 + j * rec_writes / points;
		struct kv_dev_fault f = { .modes = KV_FAULT_CRASH,
					  .seed = sseed + 1000 * (j + 1) };

		if (modes & (KV_FAULT_VOLATILE | KV_FAULT_SECTORS))
			f.modes |= cache_mode(modes);
		snprintf(rwhat, sizeof(rwhat),
			 "%s, recovery crashed at its write %llu of %llu", what,
			 (unsigned long long)n, (unsigned long long)rec_writes);
		jt_file_copy(copy, t->path);
		scratch_dev_open(t);
		f.crash_after = kv_dev_nr_writes(t->dev) + n;
		CHECK(kv_dev_set_fault(t->dev, &f) == 0);
		/* whatever the crashed recovery says, the next one decides */
		if (jt_log_open(t) != 0)
			t->log = NULL;
		power_fail(t, f.modes);
		nr_rc_points++;

		scratch_dev_open(t);
		err = jt_log_open(t);
		if (err) {
			fail(err == -EUCLEAN ? F_RC_REFUSED : F_RC_FAILED,
			     rwhat, err);
			t->log = NULL;
			jt_dev_close(t);
			continue;
		}
		CHECK(kvj_log_close(t->log) == 0);
		t->log = NULL;
		if (!check_prefix(t, sv, forced_max, got))
			fail(F_RC_PREFIX, rwhat, 0);
		jt_dev_close(t);
	}
}

/*
 * The AIL flushes its write-backs before it moves the tail: block 0 is
 * changed and forced (checkpoint C1), written back in place by a drain
 * (which moves the tail past C1), then block 1 is changed and forced (C2,
 * whose header carries the new tail); the power fails at C2's write with
 * the cache keeping a random subset of its sectors.  Recovery starts at the
 * tail C2 names, past C1, so only the write-back holds block 0's change:
 * it must survive, whatever became of C2.
 */
static void ail_tail_scenario(struct jt *t, unsigned nseeds, unsigned seed)
{
	uint8_t blk[JT_BLK];
	char what[96];
	unsigned i, k;
	int err;

	for (i = 0; i < nseeds; i++) {
		struct kvj_log_params p = { .no_threads = true };
		struct kv_dev_fault f = { .modes = KV_FAULT_SECTORS,
					  .seed = (uint64_t)seed * 1000003 +
						  i };

		snprintf(what, sizeof(what), "AIL scenario, sectors seed %llu",
			 (unsigned long long)f.seed);
		jt_create(t, "ail", NB, LOGB);
		scratch_dev_open(t);
		CHECK(kv_dev_set_fault(t->dev, &f) == 0);
		CHECK(jt_log_open_p(t, &p) == 0);
		CHECK(kvj_log_force(t->log, jt_tx1(t, 0, 128, 64, 0x11)) == 0);
		CHECK(kvj_log_drain(t->log) == 0);
		f.modes |= KV_FAULT_CRASH;
		f.crash_after = kv_dev_nr_writes(t->dev) + 1;
		CHECK(kv_dev_set_fault(t->dev, &f) == 0);
		kvj_log_force(t->log, jt_tx1(t, 1, 128, 64, 0x22));
		CHECK(kv_dev_crashed(t->dev));
		power_fail(t, f.modes);

		scratch_dev_open(t);
		err = jt_log_open(t);
		if (err) {
			fail(err == -EUCLEAN ? F_REFUSED : F_FAILED, what, err);
			t->log = NULL;
		} else {
			jt_read_block(t, 0, blk);
			for (k = 128; k < 192 && blk[k] == 0x11; k++)
				;
			if (k < 192)
				fail(F_AIL_LOST, what, 0);
			jt_read_block(t, 1, blk);
			CHECK(blk[128] == 0x22 || blk[128] == 0);
			CHECK(kvj_log_close(t->log) == 0);
			t->log = NULL;
		}
		jt_dev_close(t);
		jt_remove(t);
	}
}

/* Which runs also crash their recovery. */
#define RC_EVERY 10
/* Seeds of the AIL scenario (sectors mode) */
#define AIL_SEEDS 64

/* One run; returns the number of device writes it issued. */
static uint64_t run_once(struct jt *t, unsigned seed, unsigned modes,
			 uint64_t crash_after, bool rc, unsigned *forced)
{
	static uint8_t got[NB][JT_BLK];
	struct kvj_log_params p = { .push_interval_ms = 2, .push_fraction = 4 };
	uint64_t sseed = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 1;
	struct kv_dev_fault f = { .seed = sseed };
	struct kvj_log_stats st;
	struct worker w[NTHREADS];
	struct saved sv[NB];
	struct run r = { .t = t, .seed = seed };
	char what[160], copy[sizeof(t->path) + 8];
	uint64_t writes, forced_max, rec_writes;
	unsigned i;
	int err;

	jt_create(t, "crash", NB, LOGB);
	scratch_dev_open(t);
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
	power_fail(t, modes);
	for (i = 0; i < NB; i++) {
		sv[i].hist = t->blk[i].hist;
		sv[i].nr = t->blk[i].nr_hist;
		t->blk[i].hist = NULL;
		t->blk[i].nr_hist = t->blk[i].cap_hist = 0;
	}
	t->keep_hist = false;
	forced_max = atomic_load(&r.forced_max);
	snprintf(what, sizeof(what),
		 "seed %u modes %#x crash_after %llu sectors seed %llu", seed,
		 modes, (unsigned long long)crash_after,
		 (unsigned long long)sseed);
	snprintf(copy, sizeof(copy), "%s.crashed", t->path);
	if (rc)
		jt_file_copy(t->path, copy);

	scratch_dev_open(t);
	rec_writes = kv_dev_nr_writes(t->dev);
	err = jt_log_open(t);
	rec_writes = kv_dev_nr_writes(t->dev) - rec_writes;
	if (err) {
		fail(err == -EUCLEAN ? F_REFUSED : F_FAILED, what, err);
		t->log = NULL;
		jt_dev_close(t);
	} else if (!check_prefix(t, sv, forced_max, got)) {
		fail(F_PREFIX, what, 0);
		CHECK(kvj_log_close(t->log) == 0);
		t->log = NULL;
		jt_dev_close(t);
	} else {
		force_after_recovery(t, modes, sseed + 1, got, what);
	}
	if (rc) {
		crash_recovery(t, copy, rec_writes, modes, sseed, sv,
			       forced_max, what);
		unlink(copy);
	}
	for (i = 0; i < NB; i++)
		free(sv[i].hist);
	if (forced_max)
		(*forced)++;
	jt_remove(t);
	return writes;
}

int main(int argc, char **argv)
{
	static struct jt t;
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 300;
	unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	bool sectors = argc > 3 && !strcmp(argv[3], "sectors");
	int only = argc > 4 ? atoi(argv[4]) : -1;
	unsigned i, k, forced = 0, runs = 0;
	uint64_t total;

	if (argc > 3 && !sectors && strcmp(argv[3], "mixed")) {
		fprintf(stderr,
			"usage: %s [iterations] [seed] [mixed|sectors] [point]\n",
			argv[0]);
		return 2;
	}
	jt_init(64 << 20);
	/* calibrate: how many writes a whole run issues */
	total = run_once(&t, seed, 0, 0, false, &forced);
	CHECK(total > 10);
	for (i = 0; i < iters; i++) {
		uint64_t n = 1 + (uint64_t)(i * 2654435761u) % (total + 5);
		unsigned modes;

		if (only >= 0 && i != (unsigned)only)
			continue;
		if (sectors) {
			/* at write N, or only at the end */
			modes = KV_FAULT_SECTORS;
			if (i % 2)
				n = 0;
			else
				modes |= KV_FAULT_CRASH;
		} else {
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
		}
		k = nr_failures();
		run_once(&t, seed + i + 1, modes, n, i % RC_EVERY == 0,
			 &forced);
		if (nr_failures() != k)
			fprintf(stderr,
				"  (point %u: rerun with %s %u %u %s %u)\n", i,
				argv[0], iters, seed,
				sectors ? "sectors" : "mixed", i);
		runs++;
	}
	if (sectors && only < 0)
		ail_tail_scenario(&t, AIL_SEEDS, seed);
	jt_fini();
	printf("journal crash (%s): %u crash runs over ~%llu writes each, "
	       "%u forced after recovery, %u crash points in recovery, %u AIL "
	       "scenario seeds\n",
	       sectors ? "sectors" : "mixed", runs, (unsigned long long)total,
	       nr_post_forces, nr_rc_points,
	       sectors && only < 0 ? AIL_SEEDS : 0);
	for (i = 0; i < NR_FAIL; i++)
		if (nr_fail[i])
			printf("  FAILED %u: %s\n", nr_fail[i], fail_names[i]);
	if (nr_failures())
		return 1;
	/* the runs must actually have exercised forces, and recovery crashes */
	CHECK(only >= 0 || forced > iters / 4);
	CHECK(only >= 0 || nr_rc_points > iters / RC_EVERY);
	/* and the log must have wrapped */
	CHECK(only >= 0 || max_cycle >= 2);
	printf("ok\n");
	return 0;
}
