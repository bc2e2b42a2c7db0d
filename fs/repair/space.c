// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 7, space: every AG's free space, as the ownership map says it is
 * (every block no one claimed), against its free-space trees, reserve
 * list and counters; then the inode counters against the inode-chunk
 * records, and the superblock's summary counters.
 *
 * When the trees differ from the map (or could not be read) the AG's
 * whole free-space side is rebuilt, as xfs_repair's phase 5 does: the
 * free extents from the map, the blocks for both trees and the reserve
 * list taken from the end of the AG's free space, both trees bulk-loaded
 * (every block at least half full, as the engine wants), the reserve list
 * and the free-space header written whole.  Only counters that differ are
 * rewritten in place.  An AG whose inode chunks are unknown (phase 3) is
 * left as it is: its free space cannot be told from its inodes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/repair/priv.h"

/* An AG's free extents (AG blocks), as the map says. */
struct ext_list {
	struct kvfs_alloc_rec *r;
	size_t n, cap;
};

static uint32_t rec_start(const struct kvfs_alloc_rec *r)
{
	return kv_le32_to_cpu(r->startblock);
}

static uint32_t rec_len(const struct kvfs_alloc_rec *r)
{
	return kv_le32_to_cpu(r->blockcount);
}

static int by_start(const void *a, const void *b)
{
	uint32_t x = rec_start(a), y = rec_start(b);

	return x < y ? -1 : x > y;
}

static int by_size(const void *a, const void *b)
{
	uint32_t x = rec_len(a), y = rec_len(b);

	return x != y ? (x < y ? -1 : 1) : by_start(a, b);
}

static int map_free(struct rp *rp, uint32_t agno, struct ext_list *e)
{
	uint64_t base = kvfs_agb_to_fsb(&rp->g, agno, 0);
	uint32_t len = kvfs_ag_length(&rp->g, agno);
	int err;

	e->n = 0;
	for (uint32_t b = KVFS_AG_HDR_BLOCKS; b < len;) {
		uint32_t s;

		if (kvfs_repair_bmap_test(&rp->map, base + b)) {
			b++;
			continue;
		}
		for (s = b;
		     b < len && !kvfs_repair_bmap_test(&rp->map, base + b); b++)
			;
		err = kvgrow((void **)&e->r, &e->cap, e->n, sizeof(*e->r), 0);
		if (err)
			return err;
		e->r[e->n++] = (struct kvfs_alloc_rec){
			.startblock = kv_cpu_to_le32(s),
			.blockcount = kv_cpu_to_le32(b - s),
		};
	}
	return 0;
}

/* Write the AG's free-space header from a. */
static int write_agf(struct rp *rp, const struct kvfs_agf_info *a)
{
	struct kv_buf *bp;
	int err;

	err = kv_buf_get(rp->bc,
			 kvfs_agb_to_fsb(&rp->g, a->agno, KVFS_AGF_AGBNO), 1,
			 &kvfs_agf_buf_ops, &bp);
	if (err)
		return err;
	kv_buf_lock(bp);
	kvfs_agf_to_disk(&rp->g, a, bp->b_addr);
	kv_buf_mark_dirty(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	return 0;
}

/*
 * The AG's free-space side from the map: trees, reserve list, header (a
 * dry run writes nothing: ra->true_free alone is set, as -y leaves it).
 * Returns 0, 1 when the AG has no room for them (reported), or an errno.
 */
static int rebuild(struct rp *rp, uint32_t agno, struct rp_ag *ra)
{
	const struct kvfs_geom *g = &rp->g;
	const struct kvfs_btree_ops *bfmt = kvfs_bnobt_tree_ops.fmt;
	const struct kvfs_btree_ops *cfmt = kvfs_cntbt_tree_ops.fmt;
	uint64_t base = kvfs_agb_to_fsb(g, agno, 0);
	struct kvfs_agf_info a = { .agno = agno,
				   .length = kvfs_ag_length(g, agno) };
	struct ext_list e = { 0 };
	struct kvfs_alloc_rec *cnt = NULL;
	uint32_t *agfl = NULL;
	uint64_t *blks = NULL;
	uint32_t take, got = 0, tb, bno_tb, nfl;
	unsigned lv;
	struct kv_buf *bp;
	int err;

	err = map_free(rp, agno, &e);
	if (err)
		return err;
	/*
	 * Taking blocks off the end of the free space only ever removes
	 * extents, so the trees then need at most what was counted first;
	 * what they do not need goes on the reserve list.
	 */
	take = g->agfl_min + rp_bulkload_blocks(g, bfmt, e.n) +
	       rp_bulkload_blocks(g, cfmt, e.n);
	blks = kvmalloc(take * sizeof(*blks), 0);
	agfl = kvmalloc(g->agfl_size * sizeof(*agfl), 0);
	if (!blks || !agfl) {
		err = -ENOMEM;
		goto out;
	}
	while (got < take && e.n) {
		struct kvfs_alloc_rec *r = &e.r[e.n - 1];
		uint32_t l = rec_len(r) - 1;

		blks[got++] = base + rec_start(r) + l;
		if (l)
			r->blockcount = kv_cpu_to_le32(l);
		else
			e.n--;
	}
	bno_tb = rp_bulkload_blocks(g, bfmt, e.n);
	tb = bno_tb + rp_bulkload_blocks(g, cfmt, e.n);
	nfl = take - tb;
	if (got < take || nfl > g->agfl_size) {
		rp_unfixable(rp, KVFS_NULLINO, base,
			     "AG %u has no room left for its free-space "
			     "trees: not rebuilt",
			     agno);
		err = 1;
		goto out;
	}
	for (size_t i = 0; i < e.n; i++) {
		a.freeblks += rec_len(&e.r[i]);
		if (rec_len(&e.r[i]) > a.longest)
			a.longest = rec_len(&e.r[i]);
	}
	ra->true_free = a.freeblks;
	/* a dry run: only the count it leaves, for the summary counters */
	if (rp->o->dry_run)
		goto out;
	cnt = kvmalloc((e.n ? e.n : 1) * sizeof(*cnt), 0);
	if (!cnt) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(cnt, e.r, e.n * sizeof(*cnt));
	if (e.n > 1)
		qsort(cnt, e.n, sizeof(*cnt), by_size);
	err = rp_bulkload(rp, agno, &kvfs_bnobt_tree_ops, e.r, e.n, blks,
			  &a.bno_root, &lv);
	a.bno_level = lv;
	if (!err)
		err = rp_bulkload(rp, agno, &kvfs_cntbt_tree_ops, cnt, e.n,
				  blks + bno_tb, &a.cnt_root, &lv);
	a.cnt_level = lv;
	if (err)
		goto out;
	for (uint32_t i = 0; i < nfl; i++)
		agfl[i] = kvfs_fsb_to_agbno(g, blks[tb + i]);
	err = kv_buf_get(rp->bc, base + KVFS_AGFL_AGBNO, 1, &kvfs_agfl_buf_ops,
			 &bp);
	if (err)
		goto out;
	kv_buf_lock(bp);
	kvfs_agfl_to_disk(g, agno, agfl, nfl, bp->b_addr);
	kv_buf_mark_dirty(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	a.free_extents = (uint32_t)e.n;
	a.btreeblks = tb;
	a.flfirst = 0;
	a.fllast = nfl ? nfl - 1 : g->agfl_size - 1;
	a.flcount = nfl;
	err = write_agf(rp, &a);
	ra->agf = a;
	ra->agf_ok = true;
out:
	kvfree(e.r);
	kvfree(cnt);
	kvfree(agfl);
	kvfree(blks);
	return err;
}

/* Runs of AG blocks in one state, reported as they end. */
enum blk_state { B_OK, B_FREE_USED, B_FREE_META, B_LEAKED };

struct runs {
	struct rp *rp;
	uint32_t agno;
	enum blk_state st;
	uint32_t start;
	bool bad; /* structure wrong: the trees must be rebuilt */
	bool nofix; /* a problem left: no rebuild */
};

static void run_end(struct runs *r, uint32_t end)
{
	const struct kvfs_geom *g = &r->rp->g;
	uint64_t fsb = kvfs_agb_to_fsb(g, r->agno, r->start);
	char owner[96];
	bool fix = true;

	switch (r->st) {
	case B_OK:
		return;
	case B_FREE_USED:
		kvfs_repair_bmap_owner(&r->rp->map, fsb, owner, sizeof(owner));
		fix = rp_problem(r->rp, false, KVFS_NULLINO, fsb,
				 "%u blocks from %" PRIu64 " (AG %u block %u) "
				 "are free in the free-space tree but used by "
				 "the %s: taken out of free space",
				 end - r->start, fsb, r->agno, r->start, owner);
		break;
	case B_FREE_META:
		fix = rp_problem(r->rp, false, KVFS_NULLINO, fsb,
				 "%u blocks from %" PRIu64 " (AG %u block %u) "
				 "are free and also blocks of the free-space "
				 "trees or reserve list: rebuilt",
				 end - r->start, fsb, r->agno, r->start);
		break;
	case B_LEAKED:
		if (r->rp->inodes_left) {
			/* the damaged inode left may be their owner */
			rp_unfixable(
				r->rp, KVFS_NULLINO, fsb,
				"%u blocks from %" PRIu64 " (AG %u block "
				"%u) are owned by nothing (leaked), unless "
				"by the damaged inode left: kept",
				end - r->start, fsb, r->agno, r->start);
			fix = false;
			break;
		}
		fix = rp_problem(r->rp, true, KVFS_NULLINO, fsb,
				 "%u blocks from %" PRIu64 " (AG %u block %u) "
				 "are owned by nothing (leaked): returned to "
				 "free space",
				 end - r->start, fsb, r->agno, r->start);
		break;
	}
	r->bad = true;
	r->nofix |= !rp_would_fix(r->rp, fix);
}

static void set_bit(uint64_t *bm, uint32_t b)
{
	bm[b / 64] |= 1ull << (b % 64);
}

static bool test_bit(const uint64_t *bm, uint32_t b)
{
	return bm[b / 64] >> (b % 64) & 1;
}

/* Bits [b, b + n), a word at a time (a free-space record's blocks). */
static void set_bits(uint64_t *bm, uint32_t b, uint32_t n)
{
	while (n) {
		uint32_t k = 64 - b % 64 < n ? 64 - b % 64 : n;

		bm[b / 64] |= (k == 64 ? ~0ull : ((1ull << k) - 1)) << (b % 64);
		b += k;
		n -= k;
	}
}

static bool taken(const struct rp_ag *ra, uint64_t fsb)
{
	for (uint32_t i = 0; i < ra->ninobt_new; i++)
		if (ra->inobt_new[i] == fsb)
			return true;
	for (size_t i = 0; i < ra->nbmbt_new; i++)
		if (ra->bmbt_new[i] == fsb)
			return true;
	return false;
}

/*
 * The trees and reserve list as read in phase 3 against the map: each
 * difference reported, r->bad when the trees must be rebuilt.
 */
static int compare(struct rp *rp, uint32_t agno, struct rp_ag *ra,
		   struct runs *r)
{
	const struct kvfs_geom *g = &rp->g;
	uint64_t base = kvfs_agb_to_fsb(g, agno, 0);
	uint32_t len = kvfs_ag_length(g, agno);
	uint64_t *meta, *tf;
	char owner[96];
	int err = 0;

	meta = kvcalloc((len + 63) / 64, sizeof(*meta), 0);
	tf = kvcalloc((len + 63) / 64, sizeof(*tf), 0);
	if (!meta || !tf) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < ra->nfsbt + ra->nagfl; i++) {
		uint64_t fsb = i < ra->nfsbt ? ra->fsbt[i] :
					       base + ra->agfl[i - ra->nfsbt];
		uint32_t b = kvfs_fsb_to_agbno(g, fsb);
		const char *what = i < ra->nfsbt ? "free-space tree block" :
						   "reserve-list block";

		if (kvfs_repair_bmap_test(&rp->map, fsb)) {
			kvfs_repair_bmap_owner(&rp->map, fsb, owner,
					       sizeof(owner));
			r->nofix |=
				!rp_problem_y(rp, false, KVFS_NULLINO, fsb,
					      "%s %" PRIu64 " of AG %u is also "
					      "the %s: the free-space side "
					      "rebuilt",
					      what, fsb, agno, owner);
			r->bad = true;
		} else if (test_bit(meta, b)) {
			r->nofix |=
				!rp_problem_y(rp, false, KVFS_NULLINO, fsb,
					      "%s %" PRIu64 " of AG %u is used "
					      "twice: the free-space side "
					      "rebuilt",
					      what, fsb, agno);
			r->bad = true;
		}
		set_bit(meta, b);
	}
	/* the walk's record checks kept every record inside the AG */
	for (size_t i = 0; i < ra->nbno; i++)
		set_bits(tf, rec_start(&ra->bno[i]), rec_len(&ra->bno[i]));
	r->st = B_OK;
	for (uint32_t b = KVFS_AG_HDR_BLOCKS; b <= len; b++) {
		enum blk_state st = B_OK;

		/*
		 * 64 blocks in order (each free and unowned, or owned and
		 * not free) within a run in order: skipped whole, as the
		 * per-block test below would (the blocks this repair took
		 * are tested one by one)
		 */
		if (r->st == B_OK && !(b % 64) && b + 64 <= len &&
		    !ra->ninobt_new && !ra->nbmbt_new) {
			uint64_t t = tf[b / 64], m = meta[b / 64],
				 u = kvfs_repair_bmap_word(&rp->map, base + b);

			if (!(t & u) && !(t & m) && (t | u | m) == ~0ull) {
				b += 63;
				continue;
			}
		}
		if (b < len) {
			bool used = kvfs_repair_bmap_test(&rp->map, base + b);

			/* taken by this repair: no problem, but a rebuild */
			if (test_bit(tf, b) && taken(ra, base + b))
				r->bad = true;
			else if (test_bit(tf, b) && used)
				st = B_FREE_USED;
			else if (test_bit(tf, b) && test_bit(meta, b))
				st = B_FREE_META;
			else if (!test_bit(tf, b) && !used &&
				 !test_bit(meta, b))
				st = B_LEAKED;
		}
		if (st == r->st)
			continue;
		run_end(r, b);
		r->st = st;
		r->start = b;
	}
	/* both trees hold the same extents */
	if (ra->ncnt > 1)
		qsort(ra->cnt, ra->ncnt, sizeof(*ra->cnt), by_start);
	if (ra->nbno != ra->ncnt ||
	    memcmp(ra->bno, ra->cnt, ra->nbno * sizeof(*ra->bno))) {
		r->nofix |= !rp_problem_y(
			rp, false, KVFS_NULLINO, base + ra->agf.cnt_root,
			"free-space trees of AG %u disagree "
			"(%zu extents by block, %zu by size): "
			"rebuilt",
			agno, ra->nbno, ra->ncnt);
		r->bad = true;
	}
out:
	kvfree(meta);
	kvfree(tf);
	return err;
}

/* Counters of the free-space header against trees found right. */
static int agf_counters(struct rp *rp, uint32_t agno, struct rp_ag *ra)
{
	struct kvfs_agf_info a = ra->agf;
	uint32_t sum = 0, longest = 0;

	for (size_t i = 0; i < ra->nbno; i++) {
		sum += rec_len(&ra->bno[i]);
		if (rec_len(&ra->bno[i]) > longest)
			longest = rec_len(&ra->bno[i]);
	}
	ra->true_free = sum;
	if (a.freeblks == sum && a.longest == longest &&
	    a.free_extents == ra->nbno && a.btreeblks == ra->nfsbt)
		return 0;
	if (!rp_problem(rp, true, KVFS_NULLINO,
			kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGF_AGBNO),
			"free-space counters of AG %u wrong (header: %u free, "
			"longest %u, %u extents, %u tree blocks; trees: %u, "
			"%u, %zu, %zu): set",
			agno, a.freeblks, a.longest, a.free_extents,
			a.btreeblks, sum, longest, ra->nbno, ra->nfsbt))
		return 0;
	a.freeblks = sum;
	a.longest = longest;
	a.free_extents = (uint32_t)ra->nbno;
	a.btreeblks = (uint32_t)ra->nfsbt;
	ra->agf = a;
	return rp_will_write(rp) ?: write_agf(rp, &a);
}

/* Counters of the inode header against the inode-chunk records. */
static int agi_counters(struct rp *rp, uint32_t agno, struct rp_ag *ra)
{
	uint32_t icount = 0, ifree = 0;
	struct kv_buf *bp;
	int err;

	for (size_t i = 0; i < ra->nchunks; i++) {
		icount += ra->chunks[i].count;
		ifree += ra->chunks[i].freecount;
	}
	ra->true_icount = icount;
	ra->true_ifree = ifree;
	if (ra->agi_rewrite) {
		/* the header is rebuilt: its problem was said in phase 3 */
		if (rp->o->dry_run || ra->ino_nofix)
			return 0;
		if (ra->nchunks)
			ra->agi.newino = kv_le32_to_cpu(
				ra->chunks[ra->nchunks - 1].startino);
	} else if (ra->agi.icount == icount && ra->agi.ifree == ifree) {
		return 0;
	} else if (
		!rp_problem(
			rp, true, KVFS_NULLINO,
			kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGI_AGBNO),
			"inode counters of AG %u wrong (header: %u inodes, %u "
			"free; chunks: %u, %u): set",
			agno, ra->agi.icount, ra->agi.ifree, icount, ifree)) {
		return 0;
	}
	ra->agi.icount = icount;
	ra->agi.ifree = ifree;
	err = rp_will_write(rp);
	if (!err)
		err = kv_buf_get(rp->bc,
				 kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGI_AGBNO),
				 1, &kvfs_agi_buf_ops, &bp);
	if (err)
		return err;
	kv_buf_lock(bp);
	kvfs_agi_to_disk(&rp->g, &ra->agi, bp->b_addr);
	kv_buf_mark_dirty(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	return 0;
}

static int space_ag(struct rp *rp, uint32_t agno, bool *unknown)
{
	struct rp_ag *ra = &rp->ags[agno];
	struct runs r = { .rp = rp, .agno = agno };
	int err;

	/* inode chunks unknown: said in phase 3, the AG left as it is */
	ra->true_free = ra->agf.freeblks;
	ra->true_icount = ra->agi.icount;
	ra->true_ifree = ra->agi.ifree;
	if (!ra->ino_ok) {
		*unknown = true;
		return 0;
	}
	if (ra->inobt_rebuild && !ra->ino_nofix) {
		err = rp->o->dry_run ? 0 : rp_will_write(rp);
		if (!err)
			err = rp_inobt_rebuild(rp, agno, ra);
		if (err < 0)
			return err;
	}
	r.bad = !ra->agf_ok || !ra->agfl_ok || !ra->bno_ok || !ra->cnt_ok;
	r.nofix = ra->fs_nofix || rp->inodes_left;
	if (!r.bad) {
		err = compare(rp, agno, ra, &r);
		if (err)
			return err;
	}
	/* left damaged: the summary cannot be known either */
	*unknown |= r.bad && r.nofix;
	if (r.bad && !r.nofix) {
		err = rp->o->dry_run ? 0 : rp_will_write(rp);
		if (!err)
			err = rebuild(rp, agno, ra);
		if (err < 0)
			return err;
	} else if (!r.bad) {
		err = agf_counters(rp, agno, ra);
		if (err)
			return err;
	}
	return agi_counters(rp, agno, ra);
}

/* The superblock's summary counters; the needs-repair bit cleared. */
static int sb_counters(struct rp *rp, bool unknown)
{
	struct kvfs_geom *g = &rp->g;
	uint64_t fd = 0, ic = 0, ifr = 0;
	bool wrong;
	int err;

	for (uint32_t agno = 0; agno < g->agcount; agno++) {
		fd += rp->ags[agno].true_free;
		ic += rp->ags[agno].true_icount;
		ifr += rp->ags[agno].true_ifree;
	}
	wrong = !unknown &&
		(fd != g->fdblocks || ic != g->icount || ifr != g->ifree);
	/* exact only at a clean unmount; a rebuilt primary has mkfs's */
	if (wrong && !(g->state & KVFS_STATE_DIRTY) && !rp->sb_bad &&
	    !rp_problem(rp, true, KVFS_NULLINO, 0,
			"superblock summary counters wrong (%" PRIu64
			" free blocks, %" PRIu64 " inodes, %" PRIu64
			" free; the AGs hold %" PRIu64 ", %" PRIu64 ", %" PRIu64
			"): set",
			g->fdblocks, g->icount, g->ifree, fd, ic, ifr))
		return 0;
	if (rp->o->dry_run || (!rp->needsrepair && !rp->sb_bad &&
			       !(wrong && !(g->state & KVFS_STATE_DIRTY))))
		return 0;
	/* what the repair wrote is durable before the bit goes */
	err = kv_bcache_flush(rp->bc);
	if (err)
		return err;
	if (!unknown) {
		g->fdblocks = fd;
		g->icount = ic;
		g->ifree = ifr;
	}
	g->state = KVFS_STATE_CLEAN;
	g->feat_incompat &= ~KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
	rp->needsrepair = false;
	return rp_sb_write(rp);
}

int rp_phase_space(struct rp *rp)
{
	bool unknown = false;
	int err = 0;

	for (uint32_t agno = 0; agno < rp->g.agcount && !err; agno++) {
		rp_progress(rp, agno, rp->g.agcount);
		err = space_ag(rp, agno, &unknown);
	}
	return err ?: sb_counters(rp, unknown);
}
