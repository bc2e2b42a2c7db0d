// SPDX-License-Identifier: GPL-2.0
/*
 * Extent-free intents (fs/space/extfree_item.h) on a mkfs'd image (1 KiB
 * blocks, 2 AGs of 16 MiB, a 4 MiB log (the smallest)): 10000 single blocks
 * freed through intents, every other one first (10000 separate extents, then
 * merges), in batches: one intent and one done per extent, the free-space trees
 * walk clean, the AGF counters and their in-core copies are exact, blocks
 * are conserved (free + reserve list + tree blocks + the test's) and the
 * free count is back to the mkfs figure; a freed block is not handed out
 * again before its free is durable; a crash at every k-th device write of
 * a queue-and-free sequence: after recovery every block is free or still
 * the test's, exactly once, and every batch whose commit was durable is
 * free.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/space/alloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btree.h"
#include "fs/io/dev.h"
#include "fs/io/buf_ops.h"
#include "fs/space/extfree_item.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "tests/check.h"

#define BLK 1024
#define AGS 2
#define NBLK 10000
#define BATCH 16

static char path[256], base[256];
static struct kvfs_mount *mp;
static uint8_t *owned; /* 1 per fsb the test holds */
static uint64_t baseline[AGS]; /* free + list + tree blocks after mkfs */
static int64_t mkfs_fdblocks;
static uint64_t *blk; /* the test's blocks, in allocation order */

static void do_mount(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = false };
	int err = kvfs_mount_open(path, &o, &mp);

	if (err)
		fprintf(stderr, "mount: %s\n", kvfs_mount_error());
	CHECK_EQ(err, 0);
}

struct walk_recs {
	uint64_t nfree, longest, n, nblocks;
	uint32_t prev_end;
};

static int rec_cb(const void *rec, void *priv)
{
	const struct kvfs_alloc_rec *r = rec;
	struct walk_recs *w = priv;
	uint32_t l = kv_le32_to_cpu(r->blockcount);

	w->nfree += l;
	w->longest = l > w->longest ? l : w->longest;
	w->n++;
	return 0;
}

static int blk_cb(uint64_t fsb, unsigned level, void *priv)
{
	(void)fsb;
	(void)level;
	((struct walk_recs *)priv)->nblocks++;
	return 0;
}

/* The by-block tree's records of AG agno, for the ownership check. */
struct bno_map {
	uint32_t agno;
	uint8_t *free; /* per fsb */
};

static int map_cb(const void *rec, void *priv)
{
	const struct kvfs_alloc_rec *r = rec;
	struct bno_map *m = priv;
	uint32_t s = kv_le32_to_cpu(r->startblock);

	for (uint32_t i = 0; i < kv_le32_to_cpu(r->blockcount); i++) {
		uint64_t fsb = kvfs_agb_to_fsb(&mp->g, m->agno, s + i);

		CHECK(!m->free[fsb]);
		m->free[fsb] = 1;
	}
	return 0;
}

static void walk(const struct kvfs_btree_tree_ops *ops, struct kv_buf *agf_bp,
		 uint32_t agno, int (*fn)(const void *, void *), void *priv)
{
	struct kvfs_btree_ag ag = { .agno = agno, .agf_bp = agf_bp };
	struct kvfs_btree_walk w = { .rec_fn = fn,
				     .blk_fn = fn == rec_cb ? blk_cb : NULL,
				     .priv = priv };
	struct kvfs_btree_cur cur;
	int err;

	kvfs_btree_cur_init(&cur, ops, &mp->g, NULL, mp->bl, agno, &ag);
	err = kvfs_btree_walk_check(&cur, mp->bc, &w);
	for (unsigned i = 0; err && i < w.nfindings && i < 16; i++)
		fprintf(stderr, "AG %u block %llu: %s\n", agno,
			(unsigned long long)w.findings[i].blkno,
			w.findings[i].what);
	CHECK_EQ(err, 0);
}

/*
 * Check every AG (no transaction open): both trees walk clean and agree
 * with the AGF and its in-core copy; free[] gets the free blocks.
 * Returns the blocks of AG agno neither free, listed nor tree blocks
 * beyond the mkfs figure: what the test holds.
 */
static uint64_t check_ag(uint32_t agno, uint8_t *free)
{
	const struct kvfs_geom *g = &mp->g;
	struct walk_recs bt = { 0 }, ct = { 0 };
	struct bno_map m = { .agno = agno, .free = free };
	struct kvfs_perag *pag = &mp->pag[agno];
	struct kvfs_agf_info a;
	struct kv_buf *agf_bp;
	uint8_t b[BLK];

	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, agno, KVFS_AGF_AGBNO),
			     1, &kvfs_agf_buf_ops, &agf_bp),
		 0);
	memcpy(b, agf_bp->b_addr, g->blocksize);
	kvfs_blkhdr_set_crc(b, g->blocksize);
	CHECK_EQ(kvfs_agf_from_disk(g, agno, b, &a), 0);
	walk(&kvfs_bnobt_tree_ops, agf_bp, agno, rec_cb, &bt);
	walk(&kvfs_cntbt_tree_ops, agf_bp, agno, rec_cb, &ct);
	walk(&kvfs_bnobt_tree_ops, agf_bp, agno, map_cb, &m);
	kv_buf_rele(agf_bp);
	CHECK_EQ(bt.nfree, ct.nfree);
	CHECK_EQ(bt.n, ct.n);
	CHECK_EQ(a.freeblks, bt.nfree);
	CHECK_EQ(a.longest, bt.longest);
	CHECK_EQ(a.free_extents, bt.n);
	CHECK_EQ(a.btreeblks, bt.nblocks + ct.nblocks);
	CHECK_EQ(pag->freeblks, a.freeblks);
	CHECK_EQ(pag->longest, a.longest);
	CHECK_EQ(pag->flcount, a.flcount);
	CHECK_EQ(pag->btreeblks, a.btreeblks);
	CHECK(a.freeblks + a.flcount + a.btreeblks <= baseline[agno]);
	return baseline[agno] - (a.freeblks + a.flcount + a.btreeblks);
}

/*
 * Every AG checked; every block the test allocated is either free or
 * still the test's (owned[] rebuilt from the trees when rebuild), and
 * the blocks the test holds are exactly those not counted free.
 */
static void check_all(bool rebuild)
{
	uint8_t *isfree = calloc(mp->g.dblocks, 1);
	uint64_t held = 0, n = 0;

	CHECK(isfree);
	for (uint32_t agno = 0; agno < AGS; agno++)
		held += check_ag(agno, isfree);
	for (unsigned i = 0; i < NBLK; i++) {
		/* not allocated yet (block 0 is the superblock's) */
		if (!blk[i])
			continue;
		if (rebuild)
			owned[blk[i]] = !isfree[blk[i]];
		CHECK_EQ(owned[blk[i]], !isfree[blk[i]]);
		n += owned[blk[i]];
	}
	CHECK_EQ(held, n);
	free(isfree);
}

static struct kvfs_trans *tx(uint32_t log_bytes, uint64_t blocks)
{
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc(mp, log_bytes, 2, blocks, &tp), 0);
	return tp;
}

/* Allocate NBLK single blocks (consecutive, from AG 0 up). */
static void alloc_all(void)
{
	for (unsigned i = 0; i < NBLK; i += 50) {
		struct kvfs_trans *tp = tx(64 << 10, 50);

		for (unsigned j = i; j < i + 50; j++) {
			struct kvfs_alloc_arg a = {
				.tp = tp,
				.goal = KVFS_NULLBLOCK,
				.minlen = 1,
				.maxlen = 1,
				.type = KVFS_ALLOC_FIRST_AG,
			};

			CHECK_EQ(kvfs_alloc_vextent(&a), 0);
			CHECK(!owned[a.fsb]);
			owned[a.fsb] = 1;
			blk[j] = a.fsb;
		}
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	}
}

/* Queue the frees of blk[i] for i = first, first + step, ... < end. */
static void free_batch(unsigned first, unsigned step, unsigned end,
		       uint64_t *seqp)
{
	struct kvfs_trans *tp =
		tx(mp->resv.extent_free.log_bytes +
			   (end - first) * kvfs_efi_intent_bytes(),
		   0);

	for (unsigned i = first; i < end; i += step)
		CHECK_EQ(kvfs_free_extent_later(tp, blk[i], 1), 0);
	CHECK_EQ(kvfs_trans_commit(tp, seqp), 0);
}

/* Batches of the crash sequence: a force after each. */
#define CBATCH BATCH
/* Free blk[from .. to) through intents: odd indices, then even. */
static void free_range(unsigned from, unsigned to, bool *durable)
{
	unsigned nb = 0;

	for (unsigned parity = 1; parity < 3; parity++) {
		unsigned start = from + (from % 2 == parity % 2 ? 0 : 1);

		for (unsigned i = start; i < to; i += 2 * CBATCH) {
			unsigned end =
				i + 2 * CBATCH < to ? i + 2 * CBATCH : to;

			free_batch(i, 2, end, NULL);
			if (durable) {
				CHECK_EQ(kvj_log_force(mp->log, 0), 0);
				durable[nb] = !kv_dev_crashed(mp->dev);
			}
			nb++;
		}
	}
}

static void make_base(void)
{
	struct kvfs_mkfs_opts o = { .target = base,
				    .size = (uint64_t)AGS * (16 << 20),
				    .blocksize = BLK,
				    .agcount = AGS,
				    .logsize = 4 << 20,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	owned = calloc(g.dblocks, 1);
	blk = calloc(NBLK, sizeof(*blk));
	CHECK(owned && blk);
}

static void copy_base(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp %s %s", base, path);
	CHECK_EQ(system(cmd), 0);
}

/* 10000 frees through intents: exact counts, bounded log. */
static void test_free_many(void)
{
	struct kvfs_defer_stats st0, st;

	copy_base();
	do_mount();
	memset(owned, 0, mp->g.dblocks);
	for (uint32_t agno = 0; agno < AGS; agno++) {
		struct kvfs_perag *pag = &mp->pag[agno];

		baseline[agno] = pag->freeblks + pag->flcount + pag->btreeblks;
	}
	mkfs_fdblocks = atomic_load(&mp->fdblocks);
	check_all(false);
	alloc_all();
	check_all(false);
	kvfs_defer_get_stats(mp, &st0);
	/* odd ones: 5000 separate extents, every one its own free extent */
	for (unsigned i = 1; i < NBLK; i += 2 * BATCH)
		free_batch(i, 2, i + 2 * BATCH < NBLK ? i + 2 * BATCH : NBLK,
			   NULL);
	for (unsigned i = 1; i < NBLK; i += 2)
		owned[blk[i]] = 0;
	check_all(false);
	CHECK(mp->pag[0].free_extents + mp->pag[1].free_extents >= NBLK / 2);
	/* the even ones merge them back */
	for (unsigned i = 0; i < NBLK; i += 2 * BATCH)
		free_batch(i, 2, i + 2 * BATCH < NBLK ? i + 2 * BATCH : NBLK,
			   NULL);
	for (unsigned i = 0; i < NBLK; i += 2)
		owned[blk[i]] = 0;
	kvfs_defer_get_stats(mp, &st);
	CHECK_EQ(st.items - st0.items, NBLK);
	/* one intent per extent, plus those relogged for a roll */
	CHECK_EQ((st.intents - st0.intents) - (st.relogs - st0.relogs), NBLK);
	CHECK_EQ(st.dones - st0.dones, st.intents - st0.intents);
	check_all(false);
	CHECK_EQ(atomic_load(&mp->fdblocks), mkfs_fdblocks);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	mp = NULL;
	do_mount();
	CHECK(mp->ri.was_clean);
	check_all(false);
	CHECK_EQ(atomic_load(&mp->fdblocks), mkfs_fdblocks);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A block whose free is committed but not durable is not handed out: AG 1
 * has plenty of space near it.
 */
static void test_busy(void)
{
	struct kvfs_alloc_arg a = { .minlen = 1,
				    .maxlen = 1,
				    .type = KVFS_ALLOC_NEAR_BNO };
	uint64_t f;

	copy_base();
	do_mount();
	a.tp = tx(64 << 10, 1);
	a.goal = kvfs_agb_to_fsb(&mp->g, 1, 5000);
	CHECK_EQ(kvfs_alloc_vextent(&a), 0);
	f = a.fsb;
	CHECK_EQ(kvfs_trans_commit(a.tp, NULL), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	a.tp = tx(mp->resv.extent_free.log_bytes + kvfs_efi_intent_bytes(), 0);
	CHECK_EQ(kvfs_free_extent_later(a.tp, f, 1), 0);
	CHECK_EQ(kvfs_trans_commit(a.tp, NULL), 0);
	a.tp = tx(64 << 10, 1);
	a.goal = f;
	CHECK_EQ(kvfs_alloc_vextent(&a), 0);
	CHECK(a.fsb != f);
	CHECK_EQ(kvfs_free_extent(a.tp, a.fsb, 1), 0);
	CHECK_EQ(kvfs_trans_commit(a.tp, NULL), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

#define CRASH_N 600 /* blocks of the crash sequence */
#define NB_MAX (2 * (CRASH_N / (2 * CBATCH) + 1))

/* Allocate CRASH_N blocks, force, then free them through intents. */
static uint64_t crash_run(bool *durable)
{
	uint64_t w0 = kv_dev_nr_writes(mp->dev);

	free_range(0, CRASH_N, durable);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	return kv_dev_nr_writes(mp->dev) - w0;
}

static void crash_setup(void)
{
	copy_base();
	do_mount();
	memset(owned, 0, mp->g.dblocks);
	memset(blk, 0, NBLK * sizeof(*blk));
	for (unsigned i = 0; i < CRASH_N; i += 50) {
		struct kvfs_trans *tp = tx(64 << 10, 50);

		for (unsigned j = i; j < i + 50; j++) {
			struct kvfs_alloc_arg a = {
				.tp = tp,
				.goal = KVFS_NULLBLOCK,
				.minlen = 1,
				.maxlen = 1,
				.type = KVFS_ALLOC_FIRST_AG,
			};

			CHECK_EQ(kvfs_alloc_vextent(&a), 0);
			blk[j] = a.fsb;
		}
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	}
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
}

static uint64_t nr_recovered; /* intents finished by recovery */

static void crash_verify(const bool *durable, unsigned nb)
{
	struct kvfs_defer_stats st;
	unsigned b = 0;

	do_mount();
	kvfs_defer_get_stats(mp, &st);
	nr_recovered += st.recovered;
	check_all(true);
	/* batch b freed blk[] of its parity in its range: durable => free */
	for (unsigned parity = 1; parity < 3; parity++) {
		for (unsigned i = parity % 2; i < CRASH_N; i += 2 * CBATCH) {
			unsigned end = i + 2 * CBATCH < CRASH_N ?
					       i + 2 * CBATCH :
					       CRASH_N;

			for (unsigned j = i; durable[b] && j < end; j += 2)
				CHECK(!owned[blk[j]]);
			b++;
		}
	}
	CHECK_EQ(b, nb);
	/* give back what is left: the free count returns to mkfs' */
	for (unsigned i = 0; i < CRASH_N; i++) {
		if (owned[blk[i]]) {
			struct kvfs_trans *tp = tx(64 << 10, 0);

			CHECK_EQ(kvfs_free_extent(tp, blk[i], 1), 0);
			CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
			owned[blk[i]] = 0;
		}
	}
	check_all(false);
	CHECK_EQ(atomic_load(&mp->fdblocks), mkfs_fdblocks);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static void test_crash(void)
{
	bool durable[NB_MAX];
	uint64_t total, n, step;
	unsigned crashed = 0, points = 0, nb = 0;

	crash_setup();
	memset(durable, 0, sizeof(durable));
	total = crash_run(durable);
	for (nb = 0; nb < NB_MAX && durable[nb]; nb++)
		;
	CHECK_EQ(kvfs_mount_close(mp), 0);
	crash_verify(durable, nb);
	CHECK(total >= 20);
	step = total / 40 ? total / 40 : 1;
	for (n = 0; n <= total; n += step) {
		struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };

		crash_setup();
		f.crash_after = kv_dev_nr_writes(mp->dev) + n;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		memset(durable, 0, sizeof(durable));
		crash_run(durable);
		crashed += kv_dev_crashed(mp->dev);
		kvfs_mount_shutdown(mp, "test: power cut");
		kvfs_mount_close(mp);
		crash_verify(durable, nb);
		points++;
	}
	/*
	 * The background push makes the number of writes of a run vary a
	 * little from the measured one: the last points may not be reached.
	 */
	CHECK(crashed >= points * 3 / 4);
	printf("extfree: %u crash points (%u reached) over %llu writes, %llu "
	       "intents recovered\n",
	       points, crashed, (unsigned long long)total,
	       (unsigned long long)nr_recovered);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	snprintf(path, sizeof(path), "/tmp/kvfs-extfree-%d.img", getpid());
	snprintf(base, sizeof(base), "/tmp/kvfs-extfree-%d.base", getpid());
	make_base();
	test_free_many();
	test_busy();
	test_crash();
	unlink(path);
	unlink(base);
	free(owned);
	free(blk);
	CHECK_EQ(kv_fini(), 0);
	printf("extfree: ok\n");
	return 0;
}
