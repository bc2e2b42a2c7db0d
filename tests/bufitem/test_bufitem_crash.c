// SPDX-License-Identifier: GPL-2.0
/*
 * Crash consistency of real metadata buffers.  Threads run random
 * transactions over NB test blocks in the buffer cache (1..3 buffers each,
 * 1..2 64-byte ranges per buffer), some followed by a log force, with the
 * journal's push and AIL threads running over a small log that wraps, so
 * buffers are written back in place, stamped, while relogged.  The device
 * is crashed after write N (N spread over a whole run) and/or loses its
 * unflushed writes.  After recovery every block must pass its verifier and
 * the blocks must equal the state after some prefix of the committed
 * transactions, in checkpoint order, that includes every force that
 * returned before the crash: never a mix, never older than the last force.
 *
 * The checker: a transaction writes its id into every byte range it
 * touches (8 copies of id << 4 | range) and bumps a generation counter
 * kept at a fixed place in each buffer it touches.  The buffer lock orders
 * one buffer's transactions, so a block's generation g names its state
 * (the contents after its g-th transaction, rebuilt from the ranges each
 * transaction wrote), and that transaction's checkpoint s(g).  A prefix
 * cut P exists iff for every block s(g) <= P < s(g + 1) and P >= the last
 * forced checkpoint.
 *
 * Usage: test_bufitem_crash MODE [iterations] [seed]
 *   MODE crash: crash at write N; volatile: crash at write N and drop
 *   unflushed writes, or only drop them at the end (alternately).
 * Every fifth run also recovers a copy of the crashed image and checks
 * both recoveries wrote the same bytes.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "tests/bufitem/bi.h"

#define NB 32
#define BLK 1024
#define LOGB (64 * 1024)
#define NTHREADS 3
#define NTX 150
#define GEN_OFF 48
#define NR_RANGES 15 /* 64-byte ranges 1..15 (range 0 holds the header) */
#define MAX_HIST (NTHREADS * NTX)

struct hist {
	uint64_t seq; /* checkpoint of the transaction */
	uint32_t id;
	uint16_t ranges; /* bit k: range k written */
};

struct tblock {
	unsigned nr;
	struct hist h[MAX_HIST];
};

struct run {
	struct bi *t;
	unsigned seed;
	_Atomic uint64_t forced_max;
	atomic_uint next_id;
	struct tblock blk[NB];
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

static void fill_range(uint8_t *blk, unsigned k, uint32_t id)
{
	uint64_t v = (uint64_t)id << 4 | k;

	for (unsigned i = 0; i < 64; i += 8)
		memcpy(blk + 64 * k + i, &v, 8);
}

static void sort_picked(unsigned *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (p[j] < p[i]) {
				unsigned x = p[i];

				p[i] = p[j];
				p[j] = x;
			}
}

static void *worker_fn(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->r;
	struct bi *t = r->t;
	unsigned s = r->seed * 31 + w->id * 7919 + 1;

	for (unsigned n = 0; n < NTX && !kv_dev_crashed(t->dev); n++) {
		unsigned nblk = 1 + rnd(&s) % 3, picked[3], slot[3], i, j;
		struct kvj_trans *tp;
		uint64_t seq, cur;
		uint32_t id;

		for (i = 0; i < nblk; i++) {
again:
			picked[i] = rnd(&s) % NB;
			for (j = 0; j < i; j++)
				if (picked[j] == picked[i])
					goto again;
		}
		sort_picked(picked, nblk);
		CHECK(kvj_trans_alloc(t->log, nblk * 1200, 0, &tp) == 0);
		id = 0;
		for (i = 0; i < nblk; i++) {
			struct tblock *tb = &r->blk[picked[i]];
			struct kv_buf *bp;
			struct hist *h;
			uint64_t gen;
			uint8_t *b;
			unsigned nr = 1 + rnd(&s) % 2, k;

			CHECK(kvfs_trans_read_buf(tp, t->bl,
						  bi_blk(t, picked[i]), 1,
						  &bi_buf_ops, &bp) == 0);
			if (!id)
				id = atomic_fetch_add(&r->next_id, 1);
			b = bp->b_addr;
			memcpy(&gen, b + GEN_OFF, 8);
			gen++;
			CHECK(gen == tb->nr + 1 && tb->nr < MAX_HIST);
			memcpy(b + GEN_OFF, &gen, 8);
			kvfs_trans_log_buf(tp, bp, GEN_OFF, GEN_OFF + 7);
			h = &tb->h[tb->nr];
			h->id = id;
			h->ranges = 0;
			for (k = 0; k < nr; k++) {
				unsigned rg = 1 + rnd(&s) % NR_RANGES;

				fill_range(b, rg, id);
				kvfs_trans_log_buf(tp, bp, 64 * rg,
						   64 * rg + 63);
				h->ranges |= 1u << rg;
			}
			slot[i] = tb->nr++;
		}
		CHECK(kvj_trans_commit(tp, &seq) == 0);
		/* the slots are ours even though the buffers are unlocked */
		for (i = 0; i < nblk; i++)
			r->blk[picked[i]].h[slot[i]].seq = seq;
		if (rnd(&s) % 6 == 0 && kvj_log_force(t->log, seq) == 0 &&
		    !kv_dev_crashed(t->dev)) {
			cur = atomic_load(&r->forced_max);
			while (seq > cur && !atomic_compare_exchange_weak(
						    &r->forced_max, &cur, seq))
				;
		}
	}
	return NULL;
}

/* Block contents (past the header) after its first gen transactions. */
static void expected(const struct tblock *tb, unsigned gen, uint8_t *out)
{
	uint64_t g = gen;

	memset(out, 0, BLK);
	memcpy(out + GEN_OFF, &g, 8);
	for (unsigned i = 0; i < gen; i++)
		for (unsigned k = 1; k <= NR_RANGES; k++)
			if (tb->h[i].ranges & (1u << k))
				fill_range(out, k, tb->h[i].id);
}

static bool self_testing;

/*
 * Is got[] (NB blocks) the state after a prefix of checkpoints that
 * includes forced?  Explains on stderr and returns false if not.
 */
static bool is_prefix(const struct run *r, uint8_t (*got)[BLK], uint64_t forced,
		      const char *what)
{
	static uint8_t want[BLK];
	uint64_t lo = forced, hi = UINT64_MAX;
	unsigned b;

	for (b = 0; b < NB; b++) {
		const struct tblock *tb = &r->blk[b];
		uint64_t gen;

		memcpy(&gen, got[b] + GEN_OFF, 8);
		if (gen > tb->nr) {
			fprintf(stderr,
				"%s: block %u at generation %llu of %u\n", what,
				b, (unsigned long long)gen, tb->nr);
			return false;
		}
		expected(tb, (unsigned)gen, want);
		if (memcmp(want + GEN_OFF, got[b] + GEN_OFF, BLK - GEN_OFF)) {
			fprintf(stderr,
				"%s: block %u is not its state at generation %llu (a torn transaction)\n",
				what, b, (unsigned long long)gen);
			return false;
		}
		if (gen && tb->h[gen - 1].seq > lo)
			lo = tb->h[gen - 1].seq;
		if (gen < tb->nr && tb->h[gen].seq < hi)
			hi = tb->h[gen].seq;
	}
	if (lo < hi)
		return true;
	fprintf(stderr,
		"%s: no prefix: blocks need checkpoints through %llu but miss %llu (forced %llu)\n",
		what, (unsigned long long)lo, (unsigned long long)hi,
		(unsigned long long)forced);
	for (b = 0; b < NB && !self_testing; b++) {
		uint64_t gen;

		memcpy(&gen, got[b] + GEN_OFF, 8);
		fprintf(stderr, "  block %u: generation %llu/%u\n", b,
			(unsigned long long)gen, r->blk[b].nr);
	}
	return false;
}

static void copy_file(const char *from, const char *to)
{
	static uint8_t buf[64 * 1024];
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	size_t n;

	CHECK(in && out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		CHECK(fwrite(buf, 1, n, out) == n);
	fclose(in);
	CHECK(fclose(out) == 0);
}

/* Recover t's image; read every block back verified into got. */
static void recover(struct bi *t, uint8_t (*got)[BLK], const char *what)
{
	bi_dev_open(t);
	if (bi_log_open(t, NULL) != 0) {
		fprintf(stderr, "%s: recovery failed\n", what);
		exit(1);
	}
	bi_log_close(t);
	/* through a fresh cache: every block passes its verifier */
	kv_bcache_destroy(t->bc);
	CHECK(kv_bcache_create(t->dev, BLK, 0, &t->bc) == 0);
	for (unsigned b = 0; b < NB; b++) {
		struct kv_buf *bp;
		int err = kv_buf_read(t->bc, bi_blk(t, b), 1, &bi_buf_ops, &bp);

		if (err) {
			fprintf(stderr, "%s: %s\n", what, kv_buf_last_error());
			exit(1);
		}
		memcpy(got[b], bp->b_addr, BLK);
		kv_buf_rele(bp);
	}
	bi_dev_close(t);
}

static uint64_t max_cycle;
static unsigned nr_forced, nr_skipped, nr_twice;

/* One run; returns the number of device writes it issued. */
static uint64_t run_once(struct run *r, unsigned seed, unsigned modes,
			 uint64_t crash_after, bool twice)
{
	static uint8_t got[NB][BLK], got2[NB][BLK];
	struct kvj_log_params p = { .push_interval_ms = 2, .push_fraction = 4 };
	struct kv_dev_fault f = { 0 };
	struct kvj_log_stats st;
	struct worker w[NTHREADS];
	struct bi t, t2;
	char what[128];
	uint64_t writes, base;
	unsigned i;

	memset(r, 0, sizeof(*r));
	r->t = &t;
	r->seed = seed;
	atomic_init(&r->next_id, 1);
	bi_create(&t, "crash", BLK, LOGB, NB);
	bi_dev_open(&t);
	bi_format_blocks(&t, NB);
	base = kv_dev_nr_writes(t.dev);
	f.modes = modes;
	f.crash_after = crash_after ? base + crash_after : 0;
	CHECK(kv_dev_set_fault(t.dev, &f) == 0);
	CHECK(bi_log_open(&t, &p) == 0);
	for (i = 0; i < NTHREADS; i++) {
		w[i].r = r;
		w[i].id = i;
		CHECK(pthread_create(&w[i].th, NULL, worker_fn, &w[i]) == 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].th, NULL);
	writes = kv_dev_nr_writes(t.dev) - base;
	kvj_log_get_stats(t.log, &st);
	if (KVJ_LSN_CYCLE(st.head_lsn) > max_cycle)
		max_cycle = KVJ_LSN_CYCLE(st.head_lsn);
	if (modes & KV_FAULT_VOLATILE)
		kv_dev_power_fail(t.dev);
	bi_crash(&t);

	snprintf(what, sizeof(what), "seed %u modes %u crash_after %llu", seed,
		 modes, (unsigned long long)crash_after);
	if (twice) {
		t2 = t;
		CHECK(strlen(t.path) + 6 <= sizeof(t2.path));
		memcpy(t2.path + strlen(t.path), ".copy", 6);
		copy_file(t.path, t2.path);
	}
	recover(&t, got, what);
	nr_skipped += t.rst.skipped;
	if (!is_prefix(r, got, atomic_load(&r->forced_max), what))
		exit(1);
	if (twice) {
		recover(&t2, got2, what);
		CHECK(t2.rst.applied == t.rst.applied &&
		      t2.rst.skipped == t.rst.skipped);
		if (memcmp(got, got2, sizeof(got))) {
			fprintf(stderr, "%s: two recoveries differ\n", what);
			exit(1);
		}
		/* a recovered image opens clean and stays as it is */
		recover(&t2, got2, what);
		CHECK(t2.ri.was_clean && t2.rst.deltas == 0);
		CHECK(!memcmp(got, got2, sizeof(got)));
		bi_remove(&t2);
		nr_twice++;
	}
	if (atomic_load(&r->forced_max))
		nr_forced++;
	bi_remove(&t);
	return writes;
}

/* The checker must reject a mix and a state older than a force. */
static void checker_self_test(struct run *r)
{
	static uint8_t got[NB][BLK];
	uint64_t last = 0;
	unsigned b, busy = 0;

	for (b = 0; b < NB; b++) {
		expected(&r->blk[b], r->blk[b].nr, got[b]);
		if (r->blk[b].nr > r->blk[busy].nr)
			busy = b;
		if (r->blk[b].nr && r->blk[b].h[r->blk[b].nr - 1].seq > last)
			last = r->blk[b].h[r->blk[b].nr - 1].seq;
	}
	CHECK(r->blk[busy].nr >= 2);
	CHECK(is_prefix(r, got, last, "self-test: everything"));
	/* one block a generation behind, after the last force: rejected */
	expected(&r->blk[busy], r->blk[busy].nr - 1, got[busy]);
	fprintf(stderr, "checker self-test (two failures expected):\n");
	self_testing = true;
	CHECK(!is_prefix(r, got, last, "  self-test: older than the force"));
	/* one range of a later transaction without its generation: a mix */
	expected(&r->blk[busy], r->blk[busy].nr, got[busy]);
	memcpy(got[busy] + GEN_OFF, &(uint64_t){ r->blk[busy].nr - 1 }, 8);
	CHECK(!is_prefix(r, got, 0, "  self-test: torn"));
	self_testing = false;
}

int main(int argc, char **argv)
{
	static struct run r;
	bool volatile_mode;
	unsigned iters, seed, i;
	uint64_t total;

	if (argc < 2 ||
	    (strcmp(argv[1], "crash") && strcmp(argv[1], "volatile"))) {
		fprintf(stderr,
			"usage: %s crash|volatile [iterations] [seed]\n",
			argv[0]);
		return 2;
	}
	volatile_mode = !strcmp(argv[1], "volatile");
	iters = argc > 2 ? (unsigned)atoi(argv[2]) : 300;
	seed = argc > 3 ? (unsigned)atoi(argv[3]) : 1;
	bi_init(128 << 20);
	/* calibrate: how many writes a whole run issues */
	total = run_once(&r, seed, 0, 0, true);
	CHECK(total > 10);
	checker_self_test(&r);
	for (i = 0; i < iters; i++) {
		uint64_t n = 1 + (uint64_t)(i * 2654435761u) % (total + 5);
		unsigned modes = KV_FAULT_CRASH;

		if (volatile_mode) {
			modes |= KV_FAULT_VOLATILE;
			if (i % 2) {
				modes = KV_FAULT_VOLATILE;
				n = 0;
			}
		}
		run_once(&r, seed + i + 1, modes, n, i % 5 == 0);
	}
	/* the runs must have forced, wrapped the log and skipped deltas */
	CHECK(nr_forced > iters / 4);
	CHECK(max_cycle >= 2);
	CHECK(nr_skipped > 0);
	bi_fini();
	printf("bufitem crash (%s): %u crash points over ~%llu writes a run, "
	       "%u with forces, %u recovered twice, %u deltas skipped, ok\n",
	       argv[1], iters, (unsigned long long)total, nr_forced, nr_twice,
	       nr_skipped);
	return 0;
}
