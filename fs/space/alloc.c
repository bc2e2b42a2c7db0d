// SPDX-License-Identifier: GPL-2.0
/*
 * The AG block allocator (fs/space/alloc.h).  Locks: the AG lock
 * (fs/space/perag.h) through the transaction, then the AG's buffers through the
 * transaction; the in-core copies in struct kvfs_perag and its busy list change
 * under the AG lock.
 */
#include <errno.h>
#include <stddef.h>

#include "fs/format/ag.h"
#include "fs/space/alloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/space/extent_busy.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

/* Records a search looks at past its first before it settles. */
#define SEARCH_BUDGET 256

/* One operation on one AG, its headers got in tp. */
struct ag_op {
	struct kvfs_trans *tp;
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;
	struct kvfs_perag *pag;
	uint32_t agno;
	uint32_t aglen;
	struct kv_buf *agf_bp, *agfl_bp;
	struct kvfs_btree_ag src;
};

static struct kvfs_agf *agf(struct ag_op *op)
{
	return op->agf_bp->b_addr;
}

#define AGF_GET(op, f) kv_le32_to_cpu(agf(op)->f)
#define AGF_SET(op, f, v) \
	agf_set32(op, offsetof(struct kvfs_agf, f), &agf(op)->f, v)

static void agf_set32(struct ag_op *op, size_t off, kv_le32 *p, uint32_t v)
{
	*p = kv_cpu_to_le32(v);
	kvfs_trans_log_buf(op->tp->jt, op->agf_bp, (unsigned)off,
			   (unsigned)off + 3);
}

/* The in-core copies follow the header. */
static void pag_sync(struct ag_op *op)
{
	op->pag->freeblks = AGF_GET(op, freeblks);
	op->pag->longest = AGF_GET(op, longest);
	op->pag->flcount = AGF_GET(op, flcount);
	op->pag->btreeblks = AGF_GET(op, btreeblks);
	op->pag->free_extents = AGF_GET(op, free_extents);
	op->pag->bno_level = agf(op)->bno_level;
	op->pag->cnt_level = agf(op)->cnt_level;
}

static int64_t pag_avail(const struct kvfs_geom *g,
			 const struct kvfs_perag *pag)
{
	return kvfs_ag_avail(g, pag->freeblks, pag->flcount, pag->btreeblks);
}

/*
 * What one operation's splits can take of the reserve list, which
 * fix_freelist() refills it to: a split at every level plus a new root in
 * the by-block tree, twice that in the by-size tree; at least what mkfs
 * put there (so a quiet AG's counts come back to mkfs's).  From the
 * header's levels or their in-core copies, so that an AG judged from its
 * counters to fit (ag_may_fit()) is judged with the refill its opening
 * makes.
 */
static uint32_t fl_need_of(const struct kvfs_geom *g, uint32_t bno_level,
			   uint32_t cnt_level)
{
	uint32_t need = (bno_level + 2u) + 2 * (cnt_level + 2u);

	return need > g->agfl_min ? need : g->agfl_min;
}

/*
 * Free blocks an allocation may take of an AG (XFS's
 * xfs_alloc_space_available() and xfs_alloc_fix_minleft()): its free
 * blocks less the reserve list's refill to need (flcount on it), less
 * minleft for the allocations that follow in the transaction and then the
 * list's need again: this allocation's splits may take up to that much of
 * the list, which the next allocation's refill takes back from the free
 * blocks minleft is counted in.
 */
static int64_t ag_room(uint32_t freeblks, uint32_t flcount, uint32_t need,
		       uint32_t minleft)
{
	int64_t room =
		(int64_t)freeblks - (need > flcount ? need - flcount : 0);

	return minleft ? room - minleft - need : room;
}

/* ---- the reserve list ---- */

static kv_le32 *fl_slot(struct ag_op *op, uint32_t i)
{
	return &((struct kvfs_agfl *)op->agfl_bp->b_addr)->bno[i];
}

static void fl_set(struct ag_op *op, uint32_t i, uint32_t bno)
{
	unsigned off = (unsigned)(offsetof(struct kvfs_agfl, bno) + 4 * i);

	*fl_slot(op, i) = kv_cpu_to_le32(bno);
	kvfs_trans_log_buf(op->tp->jt, op->agfl_bp, off, off + 3);
}

static int fl_pop(struct ag_op *op, uint32_t *bno)
{
	uint32_t first = AGF_GET(op, flfirst), n = AGF_GET(op, flcount);

	if (!n)
		return -ENOSPC;
	*bno = kv_le32_to_cpu(*fl_slot(op, first));
	if (*bno < KVFS_AG_HDR_BLOCKS || *bno >= op->aglen)
		return kvfs_corrupt(
			-EUCLEAN,
			kvfs_agb_to_fsb(op->g, op->agno, KVFS_AGFL_AGBNO),
			"AG reserve list", "entry %u is block %u", first, *bno);
	fl_set(op, first, KVFS_NULLAGBLOCK);
	AGF_SET(op, flfirst, (first + 1) % op->g->agfl_size);
	AGF_SET(op, flcount, n - 1);
	return 0;
}

static int fl_push(struct ag_op *op, uint32_t bno)
{
	uint32_t n = AGF_GET(op, flcount), last;

	if (n == op->g->agfl_size)
		return kvfs_corrupt(
			-EUCLEAN,
			kvfs_agb_to_fsb(op->g, op->agno, KVFS_AGF_AGBNO),
			"AG free-space header", "reserve list full (%u)", n);
	last = (AGF_GET(op, fllast) + 1) % op->g->agfl_size;
	if (!n)
		AGF_SET(op, flfirst, last);
	fl_set(op, last, bno);
	AGF_SET(op, fllast, last);
	AGF_SET(op, flcount, n + 1);
	return 0;
}

/* Entries on the list freed by this transaction (not poppable in it). */
static uint32_t fl_fresh(struct ag_op *op)
{
	uint32_t first = AGF_GET(op, flfirst), n = AGF_GET(op, flcount);
	uint32_t i, fresh = 0;

	for (i = 0; i < n; i++) {
		uint32_t b = kv_le32_to_cpu(
			*fl_slot(op, (first + i) % op->g->agfl_size));

		fresh += kvfs_extent_busy_uncommitted(op->pag, b);
	}
	return fresh;
}

/*
 * The trees' block source.  A block this transaction freed (its buffer
 * cancelled in it) goes back to the tail of the list.
 */
static int src_alloc_block(void *src, struct kvj_trans *jt, uint32_t agno,
			   uint64_t near, uint64_t *fsb)
{
	struct ag_op *op = src;
	uint32_t tries = AGF_GET(op, flcount), bno;
	int err;

	(void)jt;
	(void)agno;
	(void)near;
	while (tries--) {
		err = fl_pop(op, &bno);
		if (err)
			return err;
		if (!kvfs_extent_busy_uncommitted(op->pag, bno)) {
			AGF_SET(op, btreeblks, AGF_GET(op, btreeblks) + 1);
			pag_sync(op);
			*fsb = kvfs_agb_to_fsb(op->g, op->agno, bno);
			return 0;
		}
		err = fl_push(op, bno);
		if (err)
			return err;
	}
	return -ENOSPC;
}

static int src_free_block(void *src, struct kvj_trans *jt, uint64_t fsb)
{
	struct ag_op *op = src;
	uint32_t bno = kvfs_fsb_to_agbno(op->g, fsb);
	int err;

	(void)jt;
	err = fl_push(op, bno);
	if (err)
		return err;
	kvfs_extent_busy_insert(op->tp, op->pag, bno, 1);
	AGF_SET(op, btreeblks, AGF_GET(op, btreeblks) - 1);
	pag_sync(op);
	return 0;
}

/* ---- the two trees ---- */

static void cur_init(struct ag_op *op, struct kvfs_btree_cur *cur,
		     const struct kvfs_btree_tree_ops *ops)
{
	kvfs_btree_cur_init(cur, ops, op->g, op->tp->jt, op->mp->bl, op->agno,
			    &op->src);
}

static struct kvfs_alloc_rec mkrec(uint32_t bno, uint32_t len)
{
	struct kvfs_alloc_rec r = { kv_cpu_to_le32(bno), kv_cpu_to_le32(len) };

	return r;
}

static int cur_lookup(struct ag_op *op, struct kvfs_btree_cur *cur,
		      const struct kvfs_btree_tree_ops *ops,
		      enum kvfs_btree_lookup dir, uint32_t bno, uint32_t len,
		      int *stat)
{
	struct kvfs_alloc_rec k = mkrec(bno, len);

	cur_init(op, cur, ops);
	return kvfs_btree_lookup(cur, dir, &k, stat);
}

static int cur_get(struct kvfs_btree_cur *cur, uint32_t *bno, uint32_t *len,
		   int *stat)
{
	struct kvfs_alloc_rec r;
	int err = kvfs_btree_get_rec(cur, &r, stat);

	if (!err && *stat) {
		*bno = kv_le32_to_cpu(r.startblock);
		*len = kv_le32_to_cpu(r.blockcount);
	}
	return err;
}

static int tree_missing(struct ag_op *op, const struct kvfs_btree_tree_ops *ops,
			uint32_t bno, uint32_t len)
{
	return kvfs_corrupt(
		-EUCLEAN, kvfs_agb_to_fsb(op->g, op->agno, KVFS_AGF_AGBNO),
		ops->fmt->name, "free extent %u+%u not found", bno, len);
}

static int tree_del(struct ag_op *op, const struct kvfs_btree_tree_ops *ops,
		    uint32_t bno, uint32_t len)
{
	struct kvfs_btree_cur cur;
	int stat, err;

	err = cur_lookup(op, &cur, ops, KVFS_LOOKUP_EQ, bno, len, &stat);
	if (err)
		return err;
	if (!stat)
		return tree_missing(op, ops, bno, len);
	return kvfs_btree_delete(&cur, &stat);
}

static int tree_ins(struct ag_op *op, const struct kvfs_btree_tree_ops *ops,
		    uint32_t bno, uint32_t len)
{
	struct kvfs_alloc_rec r = mkrec(bno, len);
	struct kvfs_btree_cur cur;

	cur_init(op, &cur, ops);
	return kvfs_btree_insert(&cur, &r);
}

/* Replace the by-block record (bno, len) by (nbno, nlen), same place. */
static int bno_update(struct ag_op *op, uint32_t bno, uint32_t len,
		      uint32_t nbno, uint32_t nlen)
{
	struct kvfs_alloc_rec r = mkrec(nbno, nlen);
	struct kvfs_btree_cur cur;
	int stat, err;

	err = cur_lookup(op, &cur, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_EQ, bno,
			 len, &stat);
	if (err)
		return err;
	if (!stat)
		return tree_missing(op, &kvfs_bnobt_tree_ops, bno, len);
	return kvfs_btree_update(&cur, &r);
}

/* The last by-size record is the longest extent. */
static int update_longest(struct ag_op *op)
{
	struct kvfs_btree_cur cur;
	uint32_t bno, len = 0;
	int stat, err;

	err = cur_lookup(op, &cur, &kvfs_cntbt_tree_ops, KVFS_LOOKUP_LE,
			 UINT32_MAX, UINT32_MAX, &stat);
	if (!err && stat)
		err = cur_get(&cur, &bno, &len, &stat);
	if (err)
		return err;
	AGF_SET(op, longest, stat ? len : 0);
	pag_sync(op);
	return 0;
}

/*
 * Take [bno, bno + len) out of the free extent (fbno, flen) that holds it
 * (XFS's xfs_alloc_fixup_trees): one insert at most in the by-block tree,
 * two in the by-size tree.
 */
static int rm_free(struct ag_op *op, uint32_t fbno, uint32_t flen, uint32_t bno,
		   uint32_t len)
{
	uint32_t left = bno - fbno, right = fbno + flen - (bno + len);
	const struct kvfs_btree_tree_ops *const trees[] = {
		&kvfs_bnobt_tree_ops, &kvfs_cntbt_tree_ops
	};
	struct kvfs_btree_cur cur;
	int i, stat, err;

	/*
	 * Both records read before either tree changes: a damaged block on
	 * the path the search did not take fails here with nothing logged
	 * (ag_damaged()), not half way, where only a cancel that shuts
	 * the log down is left (trash-campaign --mode fuzzc --seed 53004: a
	 * by-block leaf with a bad crc, met after the by-size delete).
	 */
	for (i = 0; i < 2; i++) {
		err = cur_lookup(op, &cur, trees[i], KVFS_LOOKUP_EQ, fbno, flen,
				 &stat);
		if (err)
			return err;
		if (!stat)
			return tree_missing(op, trees[i], fbno, flen);
	}
	err = tree_del(op, &kvfs_cntbt_tree_ops, fbno, flen);
	if (!err && left)
		err = tree_ins(op, &kvfs_cntbt_tree_ops, fbno, left);
	if (!err && right)
		err = tree_ins(op, &kvfs_cntbt_tree_ops, bno + len, right);
	if (err)
		return err;
	if (left) {
		err = bno_update(op, fbno, flen, fbno, left);
		if (!err && right)
			err = tree_ins(op, &kvfs_bnobt_tree_ops, bno + len,
				       right);
	} else if (right) {
		err = bno_update(op, fbno, flen, bno + len, right);
	} else {
		err = tree_del(op, &kvfs_bnobt_tree_ops, fbno, flen);
	}
	if (err)
		return err;
	AGF_SET(op, freeblks, AGF_GET(op, freeblks) - len);
	AGF_SET(op, free_extents,
		AGF_GET(op, free_extents) + !!left + !!right - 1);
	return update_longest(op);
}

/* Put [bno, bno + len) back into free space, merged with its neighbours. */
static int add_free(struct ag_op *op, uint32_t bno, uint32_t len)
{
	uint32_t lb = 0, ll = 0, rb = 0, rl = 0, nb = bno, nl = len;
	bool hl = false, hr = false;
	struct kvfs_btree_cur cur;
	int stat, err;

	err = cur_lookup(op, &cur, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_LE, bno, 0,
			 &stat);
	if (!err && stat)
		err = cur_get(&cur, &lb, &ll, &stat);
	if (err)
		return err;
	if (stat) {
		if ((uint64_t)lb + ll > bno)
			goto dup;
		hl = lb + ll == bno;
	}
	err = cur_lookup(op, &cur, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_GE, bno, 0,
			 &stat);
	if (!err && stat)
		err = cur_get(&cur, &rb, &rl, &stat);
	if (err)
		return err;
	if (stat) {
		if ((uint64_t)bno + len > rb)
			goto dup;
		hr = bno + len == rb;
	}
	if (hl) {
		nb = lb;
		nl += ll;
		err = tree_del(op, &kvfs_cntbt_tree_ops, lb, ll);
	}
	if (!err && hr) {
		nl += rl;
		err = tree_del(op, &kvfs_cntbt_tree_ops, rb, rl);
	}
	if (!err)
		err = tree_ins(op, &kvfs_cntbt_tree_ops, nb, nl);
	if (err)
		return err;
	if (hl && hr) {
		err = tree_del(op, &kvfs_bnobt_tree_ops, rb, rl);
		if (!err)
			err = bno_update(op, lb, ll, nb, nl);
	} else if (hl) {
		err = bno_update(op, lb, ll, nb, nl);
	} else if (hr) {
		err = bno_update(op, rb, rl, nb, nl);
	} else {
		err = tree_ins(op, &kvfs_bnobt_tree_ops, nb, nl);
	}
	if (err)
		return err;
	AGF_SET(op, freeblks, AGF_GET(op, freeblks) + len);
	AGF_SET(op, free_extents, AGF_GET(op, free_extents) + 1 - hl - hr);
	return update_longest(op);
dup:
	return kvfs_corrupt(-EUCLEAN, kvfs_agb_to_fsb(op->g, op->agno, bno),
			    "free-space by-block tree",
			    "freeing %u+%u, already free", bno, len);
}

/* ---- searching ---- */

struct want {
	uint32_t goal; /* AG block */
	uint32_t minlen, maxlen, align;
	bool near;
	bool metadata; /* committed busy blocks may serve (busy_trim) */
};

struct cand {
	uint32_t fbno, flen; /* the free extent */
	uint32_t bno, len; /* the part chosen */
	uint32_t diff; /* from the goal (near) */
	bool found;
};

/*
 * The part of free extent (fbno, flen) to take: the longest range of it
 * with no busy block, its start aligned, as close to the goal as it can be
 * (near) or at its start; false if less than minlen.
 */
static bool cand_eval(struct ag_op *op, const struct want *w, uint32_t fbno,
		      uint32_t flen, struct cand *c)
{
	uint32_t tb, tl, astart, end, len, s;

	if (!kvfs_extent_busy_trim(op->pag, fbno, flen, w->metadata, &tb, &tl))
		return false;
	end = tb + tl;
	astart = (tb + w->align - 1) / w->align * w->align;
	if (astart >= end)
		return false;
	len = end - astart < w->maxlen ? end - astart : w->maxlen;
	if (len < w->minlen)
		return false;
	s = astart;
	if (w->near) {
		s = w->goal < astart	? astart :
		    w->goal > end - len ? end - len :
					  w->goal;
		s -= s % w->align;
		if (s < astart)
			s = astart;
	}
	c->fbno = fbno;
	c->flen = flen;
	c->bno = s;
	c->len = len;
	c->diff = s > w->goal ? s - w->goal : w->goal - s;
	c->found = true;
	return true;
}

/*
 * Best fit by size: the smallest extent that gives maxlen, else the
 * largest that gives at least minlen (by-size tree, O(log n) plus the
 * records the busy list or alignment reject, at most SEARCH_BUDGET).
 */
static int find_by_size(struct ag_op *op, const struct want *w, struct cand *c)
{
	struct kvfs_btree_cur cur;
	uint32_t bno, len, n;
	int stat, err;

	err = cur_lookup(op, &cur, &kvfs_cntbt_tree_ops, KVFS_LOOKUP_GE, 0,
			 w->maxlen, &stat);
	for (n = 0; !err && stat && n < SEARCH_BUDGET; n++) {
		err = cur_get(&cur, &bno, &len, &stat);
		if (err || !stat)
			break;
		if (cand_eval(op, w, bno, len, c) && c->len == w->maxlen)
			return 0;
		c->found = false;
		err = kvfs_btree_increment(&cur, &stat);
	}
	if (err)
		return err;
	err = cur_lookup(op, &cur, &kvfs_cntbt_tree_ops, KVFS_LOOKUP_LE,
			 UINT32_MAX, UINT32_MAX, &stat);
	for (n = 0; !err && stat && n < SEARCH_BUDGET; n++) {
		err = cur_get(&cur, &bno, &len, &stat);
		if (err || !stat || len < w->minlen)
			break;
		if (cand_eval(op, w, bno, len, c))
			return 0;
		err = kvfs_btree_decrement(&cur, &stat);
	}
	return err;
}

/*
 * Near the goal (XFS's NEAR_BNO): a by-size candidate bounds the distance;
 * then the by-block tree is walked outward from the goal, both ways, the
 * nearer side first, until the next extent on either side is farther than
 * the best found (or the budget is spent).  As XFS's xfs_alloc_cur_check(),
 * the longer part wins and the nearer one among equals: the by-size
 * candidate is as long as any (maxlen, else the longest extent), so a
 * piece shorter than it near the goal never cuts a file up (a trimmed
 * preallocation left 8 MiB files in 4-8 extents on a roomy filesystem).
 */
static int find_near(struct ag_op *op, const struct want *w, struct cand *c)
{
	struct kvfs_btree_cur lc, rc;
	int ls, rs, err, stat;
	uint32_t lb = 0, ll = 0, rb = 0, rl = 0, n;
	struct cand t = { 0 };

	err = find_by_size(op, w, c);
	if (err)
		return err;
	err = cur_lookup(op, &lc, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_LE, w->goal,
			 0, &ls);
	if (!err && ls)
		err = cur_get(&lc, &lb, &ll, &ls);
	if (!err)
		err = cur_lookup(op, &rc, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_GE,
				 w->goal + 1, 0, &rs);
	if (!err && rs)
		err = cur_get(&rc, &rb, &rl, &rs);
	for (n = 0; !err && (ls || rs) && n < SEARCH_BUDGET; n++) {
		uint32_t ld =
			ls ? (lb + ll > w->goal ? 0 : w->goal - (lb + ll - 1)) :
			     UINT32_MAX;
		uint32_t rd = rs ? rb - w->goal : UINT32_MAX;
		bool left = ld <= rd;

		if (c->found && (left ? ld : rd) >= c->diff)
			break;
		if (left ? cand_eval(op, w, lb, ll, &t) :
			   cand_eval(op, w, rb, rl, &t)) {
			if (!c->found || t.len > c->len ||
			    (t.len == c->len && t.diff < c->diff))
				*c = t;
		}
		if (left) {
			err = kvfs_btree_decrement(&lc, &stat);
			if (!err && stat)
				err = cur_get(&lc, &lb, &ll, &stat);
			ls = stat;
		} else {
			err = kvfs_btree_increment(&rc, &stat);
			if (!err && stat)
				err = cur_get(&rc, &rb, &rl, &stat);
			rs = stat;
		}
	}
	return err;
}

/* Exactly at the goal: the free extent holding it, no busy block before. */
static int find_exact(struct ag_op *op, const struct want *w, struct cand *c)
{
	struct kvfs_btree_cur cur;
	uint32_t bno, len, avail;
	int stat, err;

	if (w->goal % w->align)
		return 0;
	err = cur_lookup(op, &cur, &kvfs_bnobt_tree_ops, KVFS_LOOKUP_LE,
			 w->goal, 0, &stat);
	if (!err && stat)
		err = cur_get(&cur, &bno, &len, &stat);
	if (err || !stat || bno + len <= w->goal)
		return err;
	avail = kvfs_extent_busy_free_prefix(op->pag, w->goal,
					     bno + len - w->goal);
	if (avail < w->minlen)
		return 0;
	*c = (struct cand){ .fbno = bno,
			    .flen = len,
			    .bno = w->goal,
			    .len = avail < w->maxlen ? avail : w->maxlen,
			    .found = true };
	return 0;
}

/* ---- fixing the reserve list ---- */

/* fl_need_of() from the header read in op */
static uint32_t fl_need(struct ag_op *op)
{
	return fl_need_of(op->g, agf(op)->bno_level, agf(op)->cnt_level);
}

/*
 * XFS's xfs_alloc_fix_freelist: trim the list to need (the blocks go to
 * free space, busy: they may have been tree blocks just now) and refill it
 * with blocks not busy until need of them can be popped in this
 * transaction.
 */
static int fix_freelist(struct ag_op *op, bool freeing)
{
	struct want w = { .minlen = 1, .align = 1 };
	uint32_t bno;
	int err;

	for (;;) {
		uint32_t n = AGF_GET(op, flcount), usable = n - fl_fresh(op);
		uint32_t need = fl_need(op);
		struct cand c = { 0 };

		if (usable > need) {
			err = fl_pop(op, &bno);
			if (!err) {
				kvfs_extent_busy_insert(op->tp, op->pag, bno,
							1);
				err = add_free(op, bno, 1);
			}
		} else if (usable < need) {
			w.maxlen = need - usable;
			err = find_by_size(op, &w, &c);
			/*
			 * A free in a completely full AG (the rest of its
			 * space freed by this chain and still busy): the
			 * list holds tree blocks, logged metadata, so blocks
			 * whose free has committed may serve (XFS reuses
			 * busy extents for metadata); failing that it goes
			 * on with the list short, as XFS's does
			 * (XFS_ALLOC_FLAG_FREEING): refusing it would fail
			 * a deferred free and shut the filesystem down.
			 */
			if (!err && !c.found && freeing && !w.metadata) {
				w.metadata = true;
				err = find_by_size(op, &w, &c);
			}
			if (!err && !c.found)
				return freeing ? 0 : -ENOSPC;
			if (!err)
				err = rm_free(op, c.fbno, c.flen, c.bno, c.len);
			for (bno = c.bno; !err && bno < c.bno + c.len; bno++)
				err = fl_push(op, bno);
		} else {
			return 0;
		}
		if (err)
			return err;
		pag_sync(op);
	}
}

/* ---- AG operations ---- */

/*
 * Read the AG's headers in tp (its lock held) and fix its reserve list
 * (freeing: as far as the AG's free space allows, see fix_freelist()).
 */
static int ag_open(struct kvfs_trans *tp, uint32_t agno, struct ag_op *op,
		   bool freeing)
{
	struct kvfs_mount *mp = tp->mp;
	int err;

	*op = (struct ag_op){ .tp = tp,
			      .mp = mp,
			      .g = &mp->g,
			      .pag = &mp->pag[agno],
			      .agno = agno,
			      .aglen = kvfs_ag_length(&mp->g, agno) };
	op->src = (struct kvfs_btree_ag){ .agno = agno,
					  .alloc_block = src_alloc_block,
					  .free_block = src_free_block,
					  .src = op };
	err = kvfs_trans_read_buf(tp->jt, mp->bl,
				  kvfs_agb_to_fsb(&mp->g, agno, KVFS_AGF_AGBNO),
				  1, &kvfs_agf_buf_ops, &op->agf_bp);
	if (!err)
		err = kvfs_trans_read_buf(
			tp->jt, mp->bl,
			kvfs_agb_to_fsb(&mp->g, agno, KVFS_AGFL_AGBNO), 1,
			&kvfs_agfl_buf_ops, &op->agfl_bp);
	/* a bad checksum is damage to the caller (fs/kvfs.h's EUCLEAN) */
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	op->src.agf_bp = op->agf_bp;
	kvfs_extent_busy_prune(op->pag, kvj_log_durable_seq(mp->log));
	return fix_freelist(op, freeing);
}

/*
 * Can the AG give minlen blocks and then minleft more?  From the in-core
 * counters, before its headers are read (so that a full AG is passed by
 * without holding it), with the reserve list refilled as ag_open() will
 * (fl_need_of() of the trees' levels; the mkfs minimum counted here let an
 * AG pass that its refill then left short).  The refill takes the smallest
 * piece that holds it, the longest extent when no other does: it comes off
 * the longest (XFS's xfs_alloc_longest_free_extent()), but for one block,
 * which the room left after the refill answers for.
 */
static bool ag_may_fit(struct kvfs_mount *mp, uint32_t agno, uint32_t minlen,
		       uint32_t minleft)
{
	const struct kvfs_perag *pag = &mp->pag[agno];
	uint32_t need = fl_need_of(&mp->g, pag->bno_level, pag->cnt_level);
	uint32_t refill = need > pag->flcount ? need - pag->flcount : 0;
	uint32_t longest = pag->longest > refill ? pag->longest - refill :
						   pag->longest > 0;

	if (__atomic_load_n(&pag->alloc_sick, __ATOMIC_RELAXED))
		return false;
	return longest >= minlen &&
	       pag_avail(&mp->g, pag) >= (int64_t)minlen + minleft &&
	       ag_room(pag->freeblks, pag->flcount, need, minleft) >= minlen;
}

enum search {
	S_EXACT,
	S_NEAR,
	S_SIZE,
};

/*
 * Damage (err) met in an AG's free-space headers or trees by an attempt
 * that changed nothing yet: the AG is marked so that allocations pass it
 * by (the damage is already reported, and the unmount leaves the
 * superblock in the error state), what the attempt read goes back (and
 * the AG's lock, if the attempt took it), and the search goes on in the
 * other AGs, as XFS's allocator skips an AG its health tracking marked
 * sick.  "Changed nothing": the buffers got since mark are clean
 * (kvfs_trans_brelse_since()), which covers every buffer of the AG only
 * when the attempt took its lock (newly); in an AG tp held before, the
 * reserve-list refill or the record changes may have changed a buffer
 * held from before, so only damage met by the search (read-only:
 * searching) passes there.  Past the attempt's first change there is no
 * backing out, and the error stands (the transaction's cancel shuts the
 * log down).
 */
static int ag_damaged(struct kvfs_trans *tp, uint32_t agno, bool newly,
		      bool searching, unsigned mark, int err)
{
	if (!newly && !searching)
		return err;
	return kvfs_trans_ag_damaged(tp, agno, &tp->mp->pag[agno].alloc_sick,
				     newly, mark, err) ?
		       -ENOSPC :
		       err;
}

/*
 * Try one AG: 0 and args->fsb set, -ENOSPC not here, -EAGAIN lock not
 * taken, else an error.  *busy: busy extents a log force would free.
 */
static int alloc_ag(struct kvfs_alloc_arg *a, uint32_t agno, enum search s,
		    uint32_t goal, uint32_t maxlen, bool trylock, bool *busy)
{
	struct kvfs_trans *tp = a->tp;
	struct kvfs_mount *mp = tp->mp;
	struct want w = { .goal = goal,
			  .minlen = a->minlen,
			  .maxlen = maxlen,
			  .align = a->alignment > 1 ? a->alignment : 1,
			  .near = s == S_NEAR };
	struct cand c = { 0 };
	struct ag_op op;
	unsigned mark = kvfs_trans_buf_mark(tp->jt);
	bool newly;
	int64_t avail, room;
	int err;

	err = kvfs_trans_lock_ag(tp, agno, trylock, &newly);
	if (err)
		return err;
	if (!ag_may_fit(mp, agno, a->minlen, a->minleft) ||
	    (a->inode_chunk &&
	     __atomic_load_n(&mp->pag[agno].ialloc_sick, __ATOMIC_RELAXED)))
		goto nospc;
	err = ag_open(tp, agno, &op, false);
	/*
	 * The reserve list could not be refilled: nothing free but busy
	 * blocks, which a log force frees as it does for the search below
	 * (their room is what kvfs_alloc_hold_space() promised a split).
	 */
	if (err == -ENOSPC) {
		*busy |= kvfs_extent_busy_committed(op.pag);
		goto nospc;
	}
	if (err)
		return ag_damaged(tp, agno, newly, false, mark, err);
	/*
	 * never below the AG's set-aside, nor what the caller must leave,
	 * counted in what it may take of the AG and in its free blocks
	 */
	avail = pag_avail(&mp->g, op.pag) - a->minleft;
	room = ag_room(AGF_GET(&op, freeblks), AGF_GET(&op, flcount),
		       fl_need(&op), a->minleft);
	if (room < avail)
		avail = room;
	if (avail < w.minlen)
		goto nospc;
	if (avail < w.maxlen)
		w.maxlen = (uint32_t)avail;
	err = s == S_EXACT ? find_exact(&op, &w, &c) :
	      s == S_NEAR  ? find_near(&op, &w, &c) :
			     find_by_size(&op, &w, &c);
	if (err)
		return ag_damaged(tp, agno, newly, true, mark, err);
	if (!c.found) {
		*busy |= kvfs_extent_busy_committed(op.pag);
		goto nospc;
	}
	err = rm_free(&op, c.fbno, c.flen, c.bno, c.len);
	if (err)
		return ag_damaged(tp, agno, newly, false, mark, err);
	a->fsb = kvfs_agb_to_fsb(&mp->g, agno, c.bno);
	a->len = c.len;
	return 0;

nospc:
	/*
	 * Nothing here: an AG this attempt locked and left clean goes back
	 * with what it read (the reserve list refilled: it stays, dirty, to
	 * the commit), so that a failed exact attempt does not hold an AG
	 * the next attempt, or another transaction, wants.
	 */
	if (newly && kvfs_trans_brelse_since(tp->jt, mark))
		kvfs_trans_unlock_ag(tp, agno);
	return -ENOSPC;
}

/*
 * alloc_ag(), and again after a log force when all that fits in the AG is
 * busy (freed, not durable yet), once per allocation (*forced).  As XFS
 * (xfs_extent_busy_flush() in its near and by-size searches) the AG's
 * busy extents are waited for before the search moves on: moving on sent
 * a file's next extent to another AG with its own AG nearly empty
 * (tests/concurrency ag_locks).  An AG the attempt locked and left clean
 * goes back before the force (alloc_ag()), so nobody waits for it then.
 */
static int alloc_ag_busy(struct kvfs_alloc_arg *a, uint32_t agno, enum search s,
			 uint32_t goal, uint32_t maxlen, bool trylock,
			 bool *forced)
{
	bool busy = false;
	int err = alloc_ag(a, agno, s, goal, maxlen, trylock, &busy);

	if (err != -ENOSPC || !busy || a->noforce || *forced)
		return err;
	*forced = true;
	err = kvj_log_force(a->tp->mp->log, 0);
	if (err)
		return err;
	return alloc_ag(a, agno, s, goal, maxlen, trylock, &busy);
}

/* Every AG from start, wrapping: trylocks first, then waiting in order. */
static int alloc_iterate(struct kvfs_alloc_arg *a, uint32_t start,
			 uint32_t goal, enum search first, uint32_t maxlen,
			 bool *forced)
{
	uint32_t n = a->tp->mp->g.agcount, i;
	bool again = true;
	int pass, err;

	for (pass = 0; pass < 2 && again; pass++) {
		again = false;
		for (i = 0; i < n; i++) {
			uint32_t agno = (start + i) % n;

			/*
			 * The goal's AG is waited for (locality: a file's
			 * blocks near its last ones, its inode's AG); the
			 * others only tried on the first pass.
			 */
			err = alloc_ag_busy(a, agno, i ? S_SIZE : first,
					    i ? KVFS_AG_HDR_BLOCKS : goal,
					    maxlen, pass == 0 && i, forced);
			if (err == -EAGAIN)
				again = true;
			else if (err != -ENOSPC)
				return err;
		}
	}
	return -ENOSPC;
}

static int alloc_once(struct kvfs_alloc_arg *a, uint32_t maxlen)
{
	const struct kvfs_geom *g = &a->tp->mp->g;
	uint32_t agno = kvfs_fsb_to_agno(g, a->goal);
	uint32_t goal = kvfs_fsb_to_agbno(g, a->goal);
	bool forced = false;
	int err;

	if (goal < KVFS_AG_HDR_BLOCKS) {
		if (a->type == KVFS_ALLOC_THIS_BNO)
			return -ENOSPC;
		goal = KVFS_AG_HDR_BLOCKS;
	}
	switch (a->type) {
	case KVFS_ALLOC_THIS_BNO:
		err = alloc_ag_busy(a, agno, S_EXACT, goal, maxlen, false,
				    &forced);
		break;
	case KVFS_ALLOC_NEAR_BNO:
		err = alloc_ag_busy(a, agno, S_NEAR, goal, maxlen, false,
				    &forced);
		break;
	case KVFS_ALLOC_THIS_AG:
		err = alloc_ag_busy(a, agno, S_SIZE, goal, maxlen, false,
				    &forced);
		break;
	case KVFS_ALLOC_START_AG:
		return alloc_iterate(a, agno, goal, S_NEAR, maxlen, &forced);
	default:
		return alloc_iterate(a, 0, KVFS_AG_HDR_BLOCKS, S_SIZE, maxlen,
				     &forced);
	}
	return err == -EAGAIN ? -ENOSPC : err;
}

int kvfs_alloc_vextent(struct kvfs_alloc_arg *a)
{
	struct kvfs_trans *tp = a->tp;
	const struct kvfs_geom *g = &tp->mp->g;
	uint64_t left = kvfs_trans_blocks_left(tp);
	uint32_t maxlen = a->maxlen;
	int err;

	a->fsb = KVFS_NULLBLOCK;
	a->len = 0;
	if (a->goal == KVFS_NULLBLOCK)
		a->goal = 0;
	if (!a->minlen || a->maxlen < a->minlen || a->goal >= g->dblocks ||
	    a->type > KVFS_ALLOC_FIRST_AG)
		return -EINVAL;
	/* the reservation bounds the extent: fail before any change */
	err = kvfs_trans_need_blocks(tp, a->minlen);
	if (err)
		return err;
	if (left < maxlen)
		maxlen = (uint32_t)left;
	err = alloc_once(a, maxlen);
	if (err)
		return err;
	return kvfs_trans_use_blocks(tp, a->len);
}

int kvfs_alloc_hold_space(struct kvfs_trans *tp, uint32_t start,
			  uint32_t minlen, uint32_t total)
{
	struct kvfs_mount *mp = tp->mp;
	uint32_t n = mp->g.agcount, i;
	bool newly;
	int err;

	if (total < minlen)
		return -EINVAL;
	if (kvj_errtag(KVJ_ERRTAG_MAP_TREE_NOSPC))
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		uint32_t agno = (start + i) % n;

		err = kvfs_trans_lock_ag(tp, agno, false, &newly);
		if (err == -EAGAIN)
			continue;
		if (err)
			return err;
		/* the in-core counters are stable under the AG lock */
		if (ag_may_fit(mp, agno, minlen, total - minlen))
			return 0;
		if (newly)
			kvfs_trans_unlock_ag(tp, agno);
	}
	return -ENOSPC;
}

static int free_extent(struct kvfs_trans *tp, uint64_t fsb, uint32_t len,
		       bool deferred)
{
	const struct kvfs_geom *g = &tp->mp->g;
	uint32_t agno = kvfs_fsb_to_agno(g, fsb);
	uint32_t bno = kvfs_fsb_to_agbno(g, fsb);
	unsigned mark;
	struct ag_op op;
	bool newly;
	int err;

	if (!len || fsb >= g->dblocks || bno < KVFS_AG_HDR_BLOCKS ||
	    (uint64_t)bno + len > kvfs_ag_length(g, agno))
		return -EINVAL;
	err = kvfs_trans_lock_ag(tp, agno, false, &newly);
	if (err)
		return err;
	mark = kvfs_trans_buf_mark(tp->jt);
	err = ag_open(tp, agno, &op, true);
	if (!err) {
		kvfs_extent_busy_insert(tp, op.pag, bno, len);
		err = add_free(&op, bno, len);
	}
	if (err && deferred &&
	    ag_damaged(tp, agno, newly, false, mark, err) == -ENOSPC) {
		kvfs_corrupt(-EUCLEAN, fsb, "AG free space",
			     "AG %u damaged: blocks %llu+%u not freed, left "
			     "to fsck.kvfs",
			     agno, (unsigned long long)fsb, len);
		return 0;
	}
	if (err)
		return err;
	kvfs_trans_free_blocks(tp, len);
	return 0;
}

int kvfs_free_extent(struct kvfs_trans *tp, uint64_t fsb, uint32_t len)
{
	return free_extent(tp, fsb, len, false);
}

int kvfs_free_extent_deferred(struct kvfs_trans *tp, uint64_t fsb, uint32_t len)
{
	return free_extent(tp, fsb, len, true);
}

/* ---- goals ---- */

/*
 * The longest extent an AG could give a file now, from its in-core
 * counters read without its lock (XFS's xfs_alloc_longest_free_extent()
 * reads pagf_longest so): a hint, which the allocation under the lock
 * checks.  What a refill of the reserve list (fl_need_of()) takes comes
 * off it, and the AG never goes below its set-aside.
 */
static uint32_t ag_longest_hint(const struct kvfs_geom *g,
				const struct kvfs_perag *pag)
{
	uint32_t longest = __atomic_load_n(&pag->longest, __ATOMIC_RELAXED);
	uint32_t flcount = __atomic_load_n(&pag->flcount, __ATOMIC_RELAXED);
	int64_t avail = kvfs_ag_avail(
		g, __atomic_load_n(&pag->freeblks, __ATOMIC_RELAXED), flcount,
		__atomic_load_n(&pag->btreeblks, __ATOMIC_RELAXED));
	uint32_t need = fl_need_of(
		g, __atomic_load_n(&pag->bno_level, __ATOMIC_RELAXED),
		__atomic_load_n(&pag->cnt_level, __ATOMIC_RELAXED));
	uint32_t refill = need > flcount ? need - flcount : 0;

	longest = longest > refill ? longest - refill : 0;
	if (avail < longest)
		longest = avail > 0 ? (uint32_t)avail : 0;
	return longest;
}

/*
 * The least length worth taking for a file extent of minlen..maxlen
 * (XFS's xfs_bmap_btalloc_select_lengths() and xfs_bmap_select_minlen()):
 * the longest piece any AG holds, start's AG first, up to maxlen.  Asking
 * for less let a file take the short pieces near its goal one after the
 * other while another AG held the whole length (tests/file aging).
 */
static uint32_t select_minlen(struct kvfs_mount *mp, uint32_t start,
			      uint32_t minlen, uint32_t maxlen)
{
	uint32_t n = mp->g.agcount, i, best = 0;

	for (i = 0; i < n && best < maxlen; i++) {
		uint32_t len =
			ag_longest_hint(&mp->g, &mp->pag[(start + i) % n]);

		if (len > best)
			best = len;
	}
	return best < minlen ? minlen : best < maxlen ? best : maxlen;
}

int kvfs_alloc_file_extent(struct kvfs_trans *tp, uint64_t ino,
			   uint64_t prev_end, uint32_t minlen, uint32_t maxlen,
			   uint32_t align, uint32_t minleft, uint64_t *fsb,
			   uint32_t *len)
{
	const struct kvfs_geom *g = &tp->mp->g;
	struct kvfs_alloc_arg a = { .tp = tp,
				    .minlen = minlen,
				    .maxlen = maxlen,
				    .owner = ino,
				    .minleft = minleft };
	bool prev = prev_end && prev_end <= g->dblocks;
	/*
	 * A last extent that ends its AG has its end in the next AG (or past
	 * the device): the goal is then its last block, so that the search
	 * stays in its AG (XFS's xfs_bmap_adjacent() takes the end only in
	 * the extent's AG).  The next AG's first block sent the file's next
	 * extent there (tests/concurrency ag_locks).
	 */
	bool ag_end = prev && (prev_end == g->dblocks ||
			       kvfs_fsb_to_agno(g, prev_end) !=
				       kvfs_fsb_to_agno(g, prev_end - 1));
	uint32_t sel;
	int err = -ENOSPC;

	if (prev && !ag_end) {
		a.goal = prev_end;
		a.type = KVFS_ALLOC_THIS_BNO;
		/*
		 * Forcing the log here made every allocation just after a
		 * free nearby (a trimmed preallocation, a deleted file) a
		 * synchronous log write: tar x ran at 50 files/s.
		 */
		a.noforce = true;
		err = kvfs_alloc_vextent(&a);
		a.noforce = false;
	}
	/*
	 * Not exactly after the last extent (which only lengthens it): as
	 * long a piece as any AG has, up to maxlen, then (XFS's
	 * xfs_bmap_btalloc_low_space()) any length from minlen.
	 */
	if (err == -ENOSPC) {
		a.goal = !prev	? kvfs_ino_to_fsb(g, ino) :
			 ag_end ? prev_end - 1 :
				  prev_end;
		sel = select_minlen(tp->mp, kvfs_fsb_to_agno(g, a.goal), minlen,
				    maxlen);
		/*
		 * AG-relative alignment is the device's when AGs are aligned;
		 * only a whole aligned piece is worth it (else free space is
		 * cut up for nothing): as without when none is free.  As
		 * XFS's xfs_bmap_btalloc_at_eof(), the selected length less
		 * what aligning its start may cost.  Near the goal, then in
		 * the next AGs: a file that filled its AG had its next extent
		 * at the next AG's first free block, off alignment, and the
		 * host cached that data in ~9 folios a MiB (a 1 GiB file 64
		 * MiB into an image of 1 GiB AGs: its last 64 MiB).
		 */
		if (align > 1 && g->agblocks % align == 0) {
			a.alignment = align;
			a.minlen = maxlen < align ? maxlen : align;
			if (sel > align && sel - align > a.minlen)
				a.minlen = sel - align;
			if (a.minlen < minlen)
				a.minlen = minlen;
			a.type = KVFS_ALLOC_START_AG;
			err = kvfs_alloc_vextent(&a);
			a.alignment = 0;
		}
		a.minlen = sel;
	}
	if (err == -ENOSPC) {
		a.type = KVFS_ALLOC_START_AG;
		err = kvfs_alloc_vextent(&a);
	}
	if (err == -ENOSPC && a.minlen > minlen) {
		a.minlen = minlen;
		err = kvfs_alloc_vextent(&a);
	}
	if (err)
		return err;
	*fsb = a.fsb;
	*len = a.len;
	return 0;
}

uint64_t kvfs_alloc_goal_near_parent(const struct kvfs_mount *mp,
				     uint64_t parent_ino)
{
	return kvfs_ino_to_fsb(&mp->g, parent_ino);
}

uint64_t kvfs_alloc_goal_new_dir(struct kvfs_mount *mp)
{
	uint32_t agno = atomic_fetch_add(&mp->agrotor, 1) % mp->g.agcount;

	return kvfs_agb_to_fsb(&mp->g, agno, KVFS_AG_HDR_BLOCKS);
}
