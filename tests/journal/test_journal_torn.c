// SPDX-License-Identifier: GPL-2.0
/*
 * What a power cut can leave of the last log write: a drive with a
 * volatile cache persists any subset of the 512-byte blocks written since
 * the last flush.  The tests build those states exactly: the image before
 * the last checkpoint was written, the image after, and a chosen set of the
 * checkpoint's blocks put back to what they held before.
 *
 * Whatever subset persisted, recovery must succeed and the checkpoint must
 * be all there (every block persisted) or not at all; the log must go on
 * working, and a transaction forced after that recovery must survive the
 * next crash.  Also: the header of the checkpoint lost but its commit
 * record persisted; a checkpoint wrapping the log end with only the piece
 * at block 0 persisted; the wrapped piece's commit record lost, then a new
 * forced transaction (once silently lost: recovery zeroed block 0); and
 * recovery itself crashed at each of its writes, then run again.
 */
#include "journal/logwalk.h"
#include "tests/journal/jt.h"

/* small logs are read whole to find the head; larger ones are sampled */
#define LOGB (128 * 1024)
#define BIG_LOGB (20 << 20)
#define NBB (BIG_LOGB / KVJ_BB_SIZE)
#define NB 24

static uint64_t logb;

struct img {
	uint8_t *before; /* before the last checkpoint */
	uint8_t *after; /* after it, everything persisted */
	size_t len;
	/* the last checkpoint's blocks, in LSN order */
	kvj_lsn_t bb[NBB];
	unsigned nr_bb;
	kvj_lsn_t commit; /* its commit record */
	uint8_t want_a[NB][JT_BLK], want_b[NB][JT_BLK];
};

static struct img im;

/* ---- the records of the last checkpoint, from the log walk ---- */
struct last_ckpt {
	uint64_t seq;
	kvj_lsn_t lsn[NBB];
	uint32_t nr_bb[NBB];
	unsigned nr;
};

static int lc_record(void *priv, const struct kvj_walk_rec *r)
{
	struct last_ckpt *lc = priv;

	if (r->type != KVJ_REC_CKPT && r->type != KVJ_REC_COMMIT)
		return 0;
	if (r->seq != lc->seq) {
		lc->seq = r->seq;
		lc->nr = 0;
	}
	CHECK(lc->nr < NBB);
	lc->lsn[lc->nr] = r->lsn;
	lc->nr_bb[lc->nr++] = r->nr_bb;
	return 0;
}

static int lc_read(void *priv, void *buf, size_t len, uint64_t off)
{
	memcpy(buf, (const uint8_t *)priv + off, len);
	return 0;
}

static void find_last_ckpt(void)
{
	const struct kvj_io_ops io = { .read = lc_read };
	const struct kvj_walk_ops ops = { .record = lc_record };
	struct last_ckpt lc = { 0 };
	unsigned i, k;

	CHECK_EQ(kvj_log_walk(&io, im.after, logb, &ops, &lc), 0);
	CHECK(lc.nr >= 2);
	im.nr_bb = 0;
	for (i = 0; i < lc.nr; i++)
		for (k = 0; k < lc.nr_bb[i]; k++) {
			uint32_t b = KVJ_LSN_BLOCK(lc.lsn[i]) + k;

			im.bb[im.nr_bb++] =
				KVJ_LSN(KVJ_LSN_CYCLE(lc.lsn[i]), b);
		}
	im.commit = lc.lsn[lc.nr - 1];
}

/* ---- images ---- */
/* Flushes simulated: the image is scratch (fs/io/dev.h). */
static void dev_open(struct jt *t)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE,
				  .fail_write = UINT64_MAX };

	jt_dev_open(t);
	CHECK(kv_dev_set_fault(t->dev, &f) == 0);
}

static void write_image(struct jt *t, const uint8_t *img)
{
	int fd = open(t->path, O_WRONLY);

	CHECK(fd >= 0);
	CHECK(pwrite(fd, img, im.len, 0) == (ssize_t)im.len);
	close(fd);
}

/* The crashed image with the blocks marked in lost[] as they were before. */
static void write_state(struct jt *t, const bool *lost)
{
	uint8_t *img = malloc(im.len);
	unsigned i;

	CHECK(img);
	memcpy(img, im.after, im.len);
	for (i = 0; i < im.nr_bb; i++) {
		uint64_t off = (uint64_t)KVJ_LSN_BLOCK(im.bb[i])
			       << KVJ_BB_SHIFT;

		if (lost[i])
			memcpy(img + off, im.before + off, KVJ_BB_SIZE);
	}
	write_image(t, img);
	free(img);
}

static void snap_blocks(struct jt *t, uint8_t (*want)[JT_BLK])
{
	unsigned i;

	for (i = 0; i < NB; i++)
		memcpy(want[i], t->blk[i].data, JT_BLK);
}

/* 1: the device holds state a, 2: state b, 0: neither */
static int which_state(struct jt *t)
{
	bool a = true, b = true;
	uint8_t buf[JT_BLK];
	unsigned i;

	for (i = 0; i < NB; i++) {
		jt_read_block(t, i, buf);
		a = a && !memcmp(buf + 64, im.want_a[i] + 64, JT_BLK - 64);
		b = b && !memcmp(buf + 64, im.want_b[i] + 64, JT_BLK - 64);
	}
	return a ? 1 : b ? 2 : 0;
}

/* Block i's bytes from 128 on: random (incompressible), seeded. */
static void fill_random(struct tblk *b, unsigned seed)
{
	unsigned k;

	for (k = 128; k < JT_BLK; k++) {
		seed = seed * 1103515245u + 12345u;
		b->data[k] = (uint8_t)(seed >> 16);
	}
	b->dirty_map = (1u << (JT_BLK / JT_CHUNK)) - 1;
}

static void tx_big(struct jt *t, unsigned first, unsigned n, unsigned seed)
{
	struct kvj_trans *tp;
	unsigned i;

	CHECK(kvj_trans_alloc(t->log, n * JT_BLK * 2, 0, &tp) == 0);
	for (i = first; i < first + n; i++) {
		jt_modify(tp, &t->blk[i], 64, 64, (uint8_t)(seed + i), true);
		fill_random(&t->blk[i], seed * 131 + i);
	}
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(kvj_log_force(t->log, 0) == 0);
}

static uint32_t head_block(struct jt *t)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(t->log, &st);
	return KVJ_LSN_BLOCK(st.head_lsn);
}

/*
 * Build the images: small forced transactions (with drains, so the tail
 * follows) until the head is within room blocks of the log end, then one
 * big incompressible checkpoint of n blocks.
 */
static void build(struct jt *t, const char *name, uint64_t log_bytes,
		  uint32_t room, unsigned n)
{
	struct kvj_log_params p = { .no_threads = true };
	uint32_t nbb = (uint32_t)(log_bytes >> KVJ_BB_SHIFT);
	unsigned i = 0;

	logb = log_bytes;
	jt_create(t, name, NB, log_bytes);
	dev_open(t);
	CHECK(jt_log_open_p(t, &p) == 0);
	do {
		jt_tx1(t, i % NB, 64 + 64 * (i % 8), 64, (uint8_t)(i + 1));
		CHECK(kvj_log_force(t->log, 0) == 0);
		if (++i % 8 == 0)
			CHECK(kvj_log_drain(t->log) == 0);
	} while (i < 4 || nbb - head_block(t) > room);
	/* a tail record may go first: it is flushed before the checkpoint */
	CHECK(kvj_log_drain(t->log) == 0);
	snap_blocks(t, im.want_a);
	free(im.before);
	im.before = jt_slurp(t->path, &im.len);
	tx_big(t, 2, n, 7);
	snap_blocks(t, im.want_b);
	jt_log_crash(t);
	jt_dev_close(t);
	free(im.after);
	im.after = jt_slurp(t->path, &im.len);
	find_last_ckpt();
}

/*
 * Recover the state on the image and check it is a (1) or b (2) as
 * expected, and whether a torn tail was discarded (torn < 0: either);
 * then the log works and a forced transaction survives a crash.
 */
static void recover_check(struct jt *t, int expect, int torn)
{
	struct kvj_recovery_info ri;
	uint8_t buf[JT_BLK];
	unsigned k;

	dev_open(t);
	CHECK_EQ(jt_log_open(t), 0);
	kvj_log_recovery_info(t->log, &ri);
	if (torn >= 0)
		CHECK_EQ(ri.torn_tail_discarded, torn);
	CHECK_EQ(which_state(t), expect);
	jt_tx1(t, 1, 512, 64, 0x5c);
	CHECK(kvj_log_force(t->log, 0) == 0);
	jt_log_crash(t);
	CHECK_EQ(jt_log_open(t), 0);
	jt_read_block(t, 1, buf);
	for (k = 512; k < 576; k++)
		CHECK_EQ(buf[k], 0x5c);
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
	jt_dev_close(t);
}

/* Bug 1: the checkpoint's first block (its header) lost, the rest kept. */
static void test_lost_header(void)
{
	bool lost[NBB] = { true };
	struct jt t;

	build(&t, "lost-hdr", LOGB, LOGB, 12);
	CHECK(KVJ_LSN_CYCLE(im.bb[0]) == KVJ_LSN_CYCLE(im.commit));
	write_state(&t, lost);
	recover_check(&t, 1, true);
	/* and only its commit record lost */
	memset(lost, 0, sizeof(lost));
	lost[im.nr_bb - 1] = true;
	write_state(&t, lost);
	recover_check(&t, 1, true);
	/* nothing lost */
	memset(lost, 0, sizeof(lost));
	write_state(&t, lost);
	recover_check(&t, 2, false);
	jt_remove(&t);
}

/*
 * Bugs 2 and 3: a checkpoint wrapping the log end.  The piece before the
 * end lost, the piece at block 0 kept; then only the wrapped commit record
 * lost, recovered, and a transaction forced after that recovery survives.
 */
static void test_wrap(void)
{
	bool lost[NBB] = { false };
	struct jt t;
	unsigned i, before_end = 0;

	build(&t, "wrap", LOGB, 10, 12);
	CHECK(KVJ_LSN_CYCLE(im.commit) == KVJ_LSN_CYCLE(im.bb[0]) + 1);
	for (i = 0; i < im.nr_bb; i++)
		if (KVJ_LSN_CYCLE(im.bb[i]) == KVJ_LSN_CYCLE(im.bb[0]))
			lost[before_end++] = true;
	CHECK(before_end > 0 && before_end < im.nr_bb);
	write_state(&t, lost);
	recover_check(&t, 1, true);

	memset(lost, 0, sizeof(lost));
	lost[im.nr_bb - 1] = true;
	write_state(&t, lost);
	recover_check(&t, 1, true);
	jt_remove(&t);
}

/* Any subset of the last checkpoint's blocks: all of it or nothing. */
static void test_subsets(const char *name, uint64_t log_bytes, uint32_t room,
			 unsigned seeds)
{
	unsigned seed, i, got[3] = { 0 };
	bool lost[NBB];
	struct jt t;

	build(&t, name, log_bytes, room, 12);
	/* it wraps the log end when the head was taken there */
	CHECK_EQ(KVJ_LSN_CYCLE(im.commit) != KVJ_LSN_CYCLE(im.bb[0]),
		 room < 100);
	for (seed = 1; seed <= seeds; seed++) {
		unsigned s = seed * 2654435761u, nlost = 0;
		int st;

		for (i = 0; i < im.nr_bb; i++) {
			s = s * 1103515245u + 12345u;
			/* a few states with a single block lost */
			lost[i] = seed % 4 ? (s >> 16) & 1 :
					     i == seed / 4 % im.nr_bb;
			nlost += lost[i];
		}
		write_state(&t, lost);
		st = nlost ? 1 : 2;
		recover_check(&t, st, nlost > 0);
		got[st]++;
	}
	printf("%s: %u blocks in the last checkpoint at %u/%u, %u subsets: "
	       "%u recovered the state before it, %u the state after\n",
	       name, im.nr_bb, KVJ_LSN_CYCLE(im.bb[0]), KVJ_LSN_BLOCK(im.bb[0]),
	       seeds, got[1], got[2]);
	CHECK(got[1] > 0);
	jt_remove(&t);
}

/*
 * Recovery's own writes (replay, the clean-up of the torn tail) crashed
 * at each of them: the next recovery still finds the state before the torn
 * checkpoint, and a transaction forced after it survives.
 */
static void test_crash_in_recovery(void)
{
	bool lost[NBB] = { false };
	struct kv_dev_fault f = { 0 };
	struct jt t;
	unsigned k;

	build(&t, "rec-crash", LOGB, 10, 12);
	lost[im.nr_bb - 1] = true;
	for (k = 1; k <= 24; k++) {
		write_state(&t, lost);
		jt_dev_open(&t);
		f.modes = KV_FAULT_CRASH;
		f.crash_after = kv_dev_nr_writes(t.dev) + k - 1;
		CHECK(kv_dev_set_fault(t.dev, &f) == 0);
		CHECK_EQ(jt_log_open(&t), 0);
		jt_log_crash(&t);
		jt_dev_close(&t);
		recover_check(&t, 1, -1);
	}
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_lost_header();
	test_wrap();
	test_subsets("subsets", LOGB, LOGB, 200);
	test_subsets("wrapped subsets", LOGB, 10, 200);
	/* a log large enough for the head to be found by sampling */
	test_subsets("subsets, sampled head", BIG_LOGB,
		     (BIG_LOGB >> KVJ_BB_SHIFT) / 2 - 777, 12);
	test_subsets("wrapped subsets, sampled head", BIG_LOGB, 10, 12);
	test_crash_in_recovery();
	free(im.before);
	free(im.after);
	jt_fini();
	printf("journal torn: ok\n");
	return 0;
}
