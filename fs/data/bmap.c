// SPDX-License-Identifier: GPL-2.0
/*
 * Extent maps of EXTENTS and BTREE forks, data and attribute (fs/data/bmap.h).
 *
 * Every change is "replace [off, off + len) by at most one new extent,
 * then merge neighbours" (set_range(): the range's old pieces cut out,
 * the new extent put in, every mergeable pair of neighbours merged: this
 * covers all of XFS's xfs_bmap_add_extent_* left/right contiguity cases and
 * its unwritten-conversion splits in one place).  An EXTENTS fork is
 * decoded into an array once per call and the change made on the array,
 * stored back only if it fits.  A BTREE fork is changed through the
 * extent-map B+tree (fs/btree/bmap_btree.h): set_range() runs on the window of
 * records the change can touch (those overlapping the range and the two
 * neighbours), and the difference is applied to the tree as deletes,
 * updates and inserts, O(log n) each.  struct xmap hides which of the two
 * a call works on.
 *
 * Format changes (XFS's xfs_bmap_extents_to_btree / _btree_to_extents): a
 * change that would leave more extents than the fork holds first moves
 * the list into one leaf under a root in the fork; a change that leaves a
 * tree with no more extents than the fork holds moves them back into the
 * fork and frees every tree block.  So a fork is BTREE exactly when its
 * extents do not fit it as a list (the inode verifier's rule).  Both forks
 * work alike; each tree's root is laid out for its own fork's size (the
 * attribute code moves the boundary between them: fs/ns/attr.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/mem.h"
#include "fs/space/alloc.h"
#include "fs/data/bmap.h"
#include "fs/data/iext.h"
#include "fs/btree/bmap_btree.h"
#include "fs/bug.h"
#include "fs/io/buf_ops.h"
#include "fs/space/extfree_item.h"
#include "fs/format.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

/* A decoded fork and the room to build its successor. */
struct emap {
	int whichfork; /* KVFS_DATA_FORK or KVFS_ATTR_FORK */
	struct kvfs_irec *x; /* the current map: n records */
	struct kvfs_irec *y; /* scratch */
	struct kvfs_irec *mem; /* x and y, in one allocation */
	uint32_t n;
	uint32_t cap; /* records the fork holds */
};

static uint64_t irec_end(const struct kvfs_irec *r)
{
	return r->off + r->len;
}

static const struct kvfs_geom *geom(const struct kvfs_inode *ip)
{
	return &ip->i_mount->g;
}

/* The fork whichfork of ip: its bytes, format, extent count and size. */
static uint8_t *fork_ptr(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? ip->i_afork : ip->i_dfork;
}

/* The same, to be written: the inode's own memory (fs/inode/inode.h). */
static uint8_t *fork_ptr_w(struct kvfs_inode *ip, int whichfork)
{
	kvfs_inode_own_forks(ip);
	return fork_ptr(ip, whichfork);
}

static uint8_t fork_format(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? ip->i_aformat : ip->i_dformat;
}

static void fork_set_format(struct kvfs_inode *ip, int whichfork, uint8_t fmt)
{
	if (whichfork == KVFS_ATTR_FORK)
		ip->i_aformat = fmt;
	else
		ip->i_dformat = fmt;
}

static uint32_t *fork_nextents(struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? &ip->i_anextents : &ip->i_nextents;
}

static uint32_t fork_size(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? kvfs_inode_afork_size(ip) :
					     kvfs_inode_dfork_size(ip);
}

static unsigned fork_log_flag(int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? KVFS_ILOG_AFORK : KVFS_ILOG_DFORK;
}

static uint32_t fork_cap(const struct kvfs_inode *ip, int whichfork)
{
	return fork_size(ip, whichfork) / sizeof(struct kvfs_extent);
}

/*
 * Decode ip's fork.  The arrays have room for two more records than the
 * fork: set_range() may split one extent in three before merging.
 */
static int emap_load(struct kvfs_inode *ip, int whichfork, struct emap *m)
{
	const struct kvfs_extent *e = (const void *)fork_ptr(ip, whichfork);

	m->whichfork = whichfork;
	m->cap = fork_cap(ip, whichfork);
	if (*fork_nextents(ip, whichfork) > m->cap)
		return -EUCLEAN;
	/* never -ENOMEM, as XFS's in-core extent list (see xm_alloc()) */
	m->mem = kvcalloc(2 * ((size_t)m->cap + 2), sizeof(*m->mem), KV_NOFAIL);
	m->x = m->mem;
	m->y = m->x + m->cap + 2;
	m->n = *fork_nextents(ip, whichfork);
	for (uint32_t i = 0; i < m->n; i++) {
		m->x[i].off = kv_le64_to_cpu(e[i].startoff);
		m->x[i].bno = kv_le64_to_cpu(e[i].startblock);
		m->x[i].len = kv_le32_to_cpu(e[i].blockcount);
		m->x[i].flags = kv_le32_to_cpu(e[i].flags);
	}
	return 0;
}

static void emap_free(struct emap *m)
{
	kvfree(m->mem);
}

/* Write m back into ip's fork (zeros after the records) and count. */
static void emap_store(struct kvfs_inode *ip, const struct emap *m)
{
	struct kvfs_extent *e = (void *)fork_ptr_w(ip, m->whichfork);

	memset(e, 0, fork_size(ip, m->whichfork));
	for (uint32_t i = 0; i < m->n; i++) {
		e[i].startoff = kv_cpu_to_le64(m->x[i].off);
		e[i].startblock = kv_cpu_to_le64(m->x[i].bno);
		e[i].blockcount = kv_cpu_to_le32(m->x[i].len);
		e[i].flags = kv_cpu_to_le32(m->x[i].flags);
	}
	*fork_nextents(ip, m->whichfork) = m->n;
}

/* Index of the first record of x[0..n) ending after off (n if none). */
static uint32_t find_after(const struct kvfs_irec *x, uint32_t n, uint64_t off)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (irec_end(&x[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* a then b could be one extent. */
static bool mergeable(const struct kvfs_geom *g, const struct kvfs_irec *a,
		      const struct kvfs_irec *b)
{
	return irec_end(a) == b->off && a->bno + a->len == b->bno &&
	       a->flags == b->flags &&
	       kvfs_fsb_to_agno(g, a->bno) ==
		       kvfs_fsb_to_agno(g, b->bno + b->len - 1) &&
	       (uint64_t)a->len + b->len <= UINT32_MAX;
}

/*
 * Build in m->y the map m->x with [off, off + len) replaced by nr (NULL:
 * a hole; else nr covers exactly that range), neighbours merged.  Returns
 * the new count, which may exceed m->cap (then nothing is to be stored).
 */
static uint32_t set_range(const struct kvfs_geom *g, struct emap *m,
			  uint64_t off, uint64_t len,
			  const struct kvfs_irec *nr)
{
	uint64_t end = off + len;
	uint32_t k = 0, at = 0, i;

	for (i = 0; i < m->n; i++) {
		struct kvfs_irec r = m->x[i];

		if (irec_end(&r) <= off || r.off >= end) {
			m->y[k++] = r;
			if (r.off < off)
				at = k;
			continue;
		}
		if (r.off < off) {
			m->y[k] = r;
			m->y[k++].len = (uint32_t)(off - r.off);
			at = k;
		}
		if (irec_end(&r) > end) {
			m->y[k] = r;
			m->y[k].off = end;
			m->y[k].bno = r.bno + (end - r.off);
			m->y[k++].len = (uint32_t)(irec_end(&r) - end);
		}
	}
	if (nr) {
		memmove(&m->y[at + 1], &m->y[at], (k - at) * sizeof(*m->y));
		m->y[at] = *nr;
		k++;
	}
	if (!k)
		return 0;
	/* merge every pair of neighbours that can be one extent */
	i = 0;
	for (uint32_t j = 1; j < k; j++) {
		if (mergeable(g, &m->y[i], &m->y[j]))
			m->y[i].len += m->y[j].len;
		else
			m->y[++i] = m->y[j];
	}
	return i + 1;
}

/* Make the map built by set_range() the current one. */
static void emap_commit(struct emap *m, uint32_t n)
{
	struct kvfs_irec *t = m->x;

	m->x = m->y;
	m->y = t;
	m->n = n;
}

static int range_check(const struct kvfs_inode *ip, uint64_t off, uint64_t len)
{
	uint64_t max = kvfs_max_fileoff_blocks(geom(ip));

	if (!len)
		return -EINVAL;
	if (off >= max || len > max - off)
		return -EFBIG;
	return 0;
}

static struct kvfs_irec irec_of(const struct kvfs_extent *e)
{
	return (struct kvfs_irec){ kv_le64_to_cpu(e->startoff),
				   kv_le64_to_cpu(e->startblock),
				   kv_le32_to_cpu(e->blockcount),
				   kv_le32_to_cpu(e->flags) };
}

static struct kvfs_extent ext_of(const struct kvfs_irec *r)
{
	return (struct kvfs_extent){ kv_cpu_to_le64(r->off),
				     kv_cpu_to_le64(r->bno),
				     kv_cpu_to_le32(r->len),
				     kv_cpu_to_le32(r->flags) };
}

/* The map one call works on: an EXTENTS fork decoded, or a tree cursor. */
struct xmap {
	struct kvfs_inode *ip;
	int whichfork;
	struct kvfs_trans *tp; /* NULL: lookups only */
	bool btree;
	bool dirty; /* the inode (core, fork) changed: log it at the end */
	struct emap m; /* EXTENTS */
	struct kvfs_bmbt_ctx ctx; /* BTREE */
	struct kvfs_btree_cur cur;
	/*
	 * BTREE: the in-core list of the tree (fs/data/iext.h), when loaded
	 * (a regular file's data fork): lookups search it, changes of the
	 * tree are made to it too.
	 */
	struct kvfs_iext *iext;
	/* B+tree changes (format changes included) made in this call */
	unsigned tree_changes;
};

/*
 * A map walk never fails for memory (as XFS's btree cursors): it may run
 * inside a transaction that cannot back out, and reclaim frees what it
 * waits for.
 */
static struct xmap *xm_alloc(void)
{
	return kvmalloc(sizeof(struct xmap), KV_NOFAIL);
}

static int xm_open(struct xmap *xm, struct kvfs_inode *ip, int whichfork,
		   struct kvfs_trans *tp)
{
	xm->ip = ip;
	xm->whichfork = whichfork;
	xm->tp = tp;
	xm->dirty = false;
	xm->tree_changes = 0;
	xm->m.mem = NULL;
	xm->iext = NULL;
	if (fork_format(ip, whichfork) == KVFS_DFORK_BTREE) {
		xm->btree = true;
		kvfs_bmbt_cur_init(&xm->cur, &xm->ctx, ip, whichfork, tp);
		/*
		 * A lookup loads the list (no memory: the tree is walked);
		 * a change only keeps a loaded one in step (its transaction
		 * may hold the tree's buffers, which the load reads).
		 */
		if (whichfork == KVFS_DATA_FORK && !tp &&
		    kvfs_iext_get(ip, &xm->iext))
			xm->iext = NULL;
		else if (whichfork == KVFS_DATA_FORK && tp)
			xm->iext = kvfs_iext_peek(ip);
		return 0;
	}
	if (fork_format(ip, whichfork) != KVFS_DFORK_EXTENTS)
		return -EOPNOTSUPP;
	xm->btree = false;
	return emap_load(ip, whichfork, &xm->m);
}

/* The extent under the tree cursor, *found 0 if none. */
static int cur_rec(struct xmap *xm, struct kvfs_irec *r, bool *found)
{
	struct kvfs_extent e;
	int stat, err;

	err = kvfs_btree_get_rec(&xm->cur, &e, &stat);
	*found = !err && stat;
	if (*found)
		*r = irec_of(&e);
	return err;
}

#ifdef KV_DEBUG
/* Most extents of a tree whose list debug builds check after a change. */
#define IEXT_VERIFY_MAX 1024

/*
 * Debug builds: after a change of a small tree, its list (if loaded) holds
 * exactly its records, read through the change's cursor.
 */
static void iext_verify(struct xmap *xm)
{
	struct kvfs_bmbt_key k = { kv_cpu_to_le64(0) };
	struct kvfs_iext_pos pos;
	struct kvfs_irec a, b;
	uint64_t n = 0;
	bool have, found;
	int stat, err;

	if (!xm->iext || !xm->btree || !xm->dirty ||
	    *fork_nextents(xm->ip, xm->whichfork) > IEXT_VERIFY_MAX)
		return;
	have = kvfs_iext_find(xm->iext, 0, &pos, &a);
	err = kvfs_btree_lookup(&xm->cur, KVFS_LOOKUP_GE, &k, &stat);
	while (!err && stat) {
		err = cur_rec(xm, &b, &found);
		if (err || !found)
			break;
		if (!have || memcmp(&a, &b, sizeof(a)))
			kvfs_bug("inode %" PRIu64 ": extent %" PRIu64
				 " (file block %" PRIu64
				 ") differs between list and tree",
				 xm->ip->i_ino, n, b.off);
		n++;
		have = kvfs_iext_next(xm->iext, &pos, &a);
		err = kvfs_btree_increment(&xm->cur, &stat);
	}
	if (!err && (have || n != kvfs_iext_count(xm->iext)))
		kvfs_bug("inode %" PRIu64 ": the tree has %" PRIu64
			 " extents, its list %" PRIu64,
			 xm->ip->i_ino, n, kvfs_iext_count(xm->iext));
}
#else
static void iext_verify(struct xmap *xm)
{
	(void)xm;
}
#endif

/* Store what changed (EXTENTS) and log the inode; free the map. */
static void xm_close(struct xmap *xm)
{
	iext_verify(xm);
	if (xm->dirty) {
		if (!xm->btree)
			emap_store(xm->ip, &xm->m);
		kvfs_trans_log_inode(xm->tp, xm->ip,
				     KVFS_ILOG_CORE |
					     fork_log_flag(xm->whichfork));
	}
	if (xm->btree)
		kvfs_btree_cur_del(&xm->cur);
	emap_free(&xm->m);
}

static int cur_lookup(struct xmap *xm, enum kvfs_btree_lookup dir, uint64_t off,
		      int *stat)
{
	struct kvfs_bmbt_key k = { kv_cpu_to_le64(off) };

	return kvfs_btree_lookup(&xm->cur, dir, &k, stat);
}

/* The first extent that ends after off. */
static int xm_find(struct xmap *xm, uint64_t off, struct kvfs_irec *r,
		   bool *found)
{
	int stat, err;

	if (!xm->btree) {
		uint32_t i = find_after(xm->m.x, xm->m.n, off);

		*found = i < xm->m.n;
		if (*found)
			*r = xm->m.x[i];
		return 0;
	}
	if (xm->iext) {
		struct kvfs_iext_pos pos;

		*found = kvfs_iext_find(xm->iext, off, &pos, r);
		return 0;
	}
	err = cur_lookup(xm, KVFS_LOOKUP_LE, off, &stat);
	if (!err && stat)
		err = cur_rec(xm, r, found);
	if (!err && (!stat || irec_end(r) <= off))
		err = kvfs_btree_increment(&xm->cur, &stat);
	if (err)
		return err;
	return cur_rec(xm, r, found);
}

/* The last extent that starts before end (end > 0). */
static int xm_last_before(struct xmap *xm, uint64_t end, struct kvfs_irec *r,
			  bool *found)
{
	int stat, err;

	if (!xm->btree) {
		uint32_t i = find_after(xm->m.x, xm->m.n, end);

		if (i < xm->m.n && xm->m.x[i].off < end)
			i++;
		*found = i > 0;
		if (*found)
			*r = xm->m.x[i - 1];
		return 0;
	}
	if (xm->iext) {
		*found = kvfs_iext_last_before(xm->iext, end, r);
		return 0;
	}
	err = cur_lookup(xm, KVFS_LOOKUP_LE, end - 1, &stat);
	if (err)
		return err;
	if (!stat) {
		*found = false;
		return 0;
	}
	return cur_rec(xm, r, found);
}

/*
 * The list of the data fork's tree is dropped (the inode locked
 * exclusively): no longer a tree, or not known to be in step with it.
 */
static void xm_iext_drop(struct xmap *xm)
{
	if (xm->whichfork == KVFS_DATA_FORK)
		kvfs_iext_drop(xm->ip);
	xm->iext = NULL;
}

/* The extents of an EXTENTS fork move into one leaf under a root. */
static int extents_to_btree(struct xmap *xm)
{
	struct kvfs_inode *ip = xm->ip;
	const struct kvfs_geom *g = geom(ip);
	struct kvfs_mount *mp = ip->i_mount;
	uint32_t size = fork_size(ip, xm->whichfork), n = xm->m.n, imax;
	uint8_t *fork = fork_ptr_w(ip, xm->whichfork);
	struct kvfs_alloc_arg a = {
		.tp = xm->tp,
		.goal = n ? xm->m.x[0].bno : kvfs_ino_to_fsb(g, ip->i_ino),
		.minlen = 1,
		.maxlen = 1,
		.type = KVFS_ALLOC_START_AG,
		.owner = ip->i_ino,
	};
	struct kvfs_bmdr_block *rb = (void *)fork;
	struct kv_buf *bp;
	uint8_t *blk;
	int err;

	imax = kvfs_btree_iroot_maxrecs(size, sizeof(struct kvfs_bmbt_key));
	if (!n || !imax ||
	    n > kvfs_btree_maxrecs(&kvfs_bmbt_ops, g->blocksize, 0))
		return -EUCLEAN;
	if (kvj_errtag(KVJ_ERRTAG_MAP_TREE_NOSPC))
		return -ENOSPC;
	err = kvfs_alloc_vextent(&a);
	if (err)
		return err;
	kvfs_trans_set_nofail(xm->tp);
	err = kvfs_trans_get_buf(xm->tp->jt, mp->bl, a.fsb, 1,
				 &kvfs_bmbt_buf_ops, &bp);
	if (err)
		return err;
	blk = bp->b_addr;
	kvfs_btree_init_block(blk, g, &kvfs_bmbt_ops, a.fsb, ip->i_ino, 0, n);
	for (uint32_t i = 0; i < n; i++)
		*(struct kvfs_extent *)kvfs_btree_rec(blk, &kvfs_bmbt_ops, i) =
			ext_of(&xm->m.x[i]);
	kvfs_trans_log_buf(xm->tp->jt, bp, 0,
			   KVFS_BTREE_HDR_SIZE +
				   n * (unsigned)sizeof(struct kvfs_extent) -
				   1);
	memset(fork, 0, size);
	rb->level = kv_cpu_to_le16(1);
	rb->numrecs = kv_cpu_to_le16(1);
	((struct kvfs_bmbt_key *)(fork + KVFS_BMDR_HDR_SIZE))->startoff =
		kv_cpu_to_le64(xm->m.x[0].off);
	*(kv_le64 *)(fork + KVFS_BMDR_HDR_SIZE +
		     (size_t)imax * sizeof(struct kvfs_bmbt_key)) =
		kv_cpu_to_le64(a.fsb);
	fork_set_format(ip, xm->whichfork, KVFS_DFORK_BTREE);
	*fork_nextents(ip, xm->whichfork) = n;
	ip->i_nblocks++;
	emap_free(&xm->m);
	xm->m.mem = NULL;
	xm->btree = true;
	xm->dirty = true;
	xm->tree_changes++;
	kvfs_bmbt_cur_init(&xm->cur, &xm->ctx, ip, xm->whichfork, xm->tp);
	/* a new tree: its list is loaded when a lookup wants it */
	xm_iext_drop(xm);
	return 0;
}

static int collect_rec(const void *rec, void *priv)
{
	struct emap *m = priv;

	if (m->n >= m->cap)
		return -EUCLEAN;
	m->x[m->n++] = irec_of(rec);
	return 0;
}

/* A tree whose extents fit the fork: they move back, its blocks are freed. */
static int btree_to_extents(struct xmap *xm)
{
	struct kvfs_inode *ip = xm->ip;
	struct emap m;
	int err;

	m.whichfork = xm->whichfork;
	m.cap = fork_cap(ip, xm->whichfork);
	m.mem = kvcalloc(2 * ((size_t)m.cap + 2), sizeof(*m.mem), KV_NOFAIL);
	m.x = m.mem;
	m.y = m.x + m.cap + 2;
	m.n = 0;
	err = kvfs_btree_destroy(&xm->cur, collect_rec, &m);
	if (err) {
		emap_free(&m);
		return err;
	}
	fork_set_format(ip, xm->whichfork, KVFS_DFORK_EXTENTS);
	xm_iext_drop(xm);
	xm->btree = false;
	xm->m = m;
	xm->dirty = true;
	emap_store(ip, &xm->m);
	return 0;
}

/* fn (a format change) on ip's fork whichfork, opened in tp. */
static int xm_convert(struct kvfs_trans *tp, struct kvfs_inode *ip,
		      int whichfork, int (*fn)(struct xmap *))
{
	struct xmap *xm = xm_alloc();
	int err = xm_open(xm, ip, whichfork, tp);

	if (!err)
		err = fn(xm);
	xm_close(xm);
	kvfree(xm);
	return err;
}

int kvfs_bmap_to_btree(struct kvfs_trans *tp, struct kvfs_inode *ip,
		       int whichfork)
{
	if (fork_format(ip, whichfork) != KVFS_DFORK_EXTENTS ||
	    !*fork_nextents(ip, whichfork))
		return 0;
	return xm_convert(tp, ip, whichfork, extents_to_btree);
}

int kvfs_bmap_fork_grown(struct kvfs_trans *tp, struct kvfs_inode *ip,
			 int whichfork)
{
	if (fork_format(ip, whichfork) != KVFS_DFORK_BTREE ||
	    *fork_nextents(ip, whichfork) > fork_cap(ip, whichfork))
		return 0;
	return xm_convert(tp, ip, whichfork, btree_to_extents);
}

/*
 * A change of the tree succeeded and the same change of its list returned
 * err: a list that could not follow (no memory) is dropped, the tree's
 * change stands.  One that disagreed with the tree (a bug of this file)
 * aborts debug builds; release builds drop it too: the tree is the truth.
 */
static int iext_err(struct xmap *xm, int err)
{
#ifdef KV_DEBUG
	if (err && err != -ENOMEM)
		kvfs_bug("inode %" PRIu64
			 ": extent list and tree disagree (%d)",
			 xm->ip->i_ino, err);
#endif
	if (err)
		xm_iext_drop(xm);
	return 0;
}

/* Most records one change can touch: the pieces and both neighbours. */
#define WINDOW_MAX 8

/*
 * Replace [off, off + len) by nr (NULL: a hole), neighbours merged, in
 * either format, changing formats as needed (see the top of the file).
 * The range lies inside one extent or one hole.
 */
static int xm_replace(struct xmap *xm, uint64_t off, uint64_t len,
		      const struct kvfs_irec *nr)
{
	const struct kvfs_geom *g = geom(xm->ip);
	struct kvfs_irec win[WINDOW_MAX + 2], out[WINDOW_MAX + 2], r;
	struct emap w = { .x = win, .y = out, .cap = WINDOW_MAX };
	uint64_t end = off + len, pos = off ? off - 1 : 0;
	uint32_t n, k;
	bool found;
	int stat, err;

	if (!xm->btree) {
		n = set_range(g, &xm->m, off, len, nr);
		if (n <= xm->m.cap) {
			emap_commit(&xm->m, n);
			xm->dirty = true;
			return 0;
		}
		err = extents_to_btree(xm);
		if (err)
			return err;
	}
	/* the records ending at or after off and starting at or before end */
	for (;;) {
		err = xm_find(xm, pos, &r, &found);
		if (err)
			return err;
		if (!found || r.off > end)
			break;
		if (w.n == WINDOW_MAX)
			return -EUCLEAN;
		win[w.n++] = r;
		pos = irec_end(&r);
	}
	k = set_range(g, &w, off, len, nr);
	/*
	 * Records gone or changed in place, then the new ones: each change
	 * made to the tree is made to its list once the tree's succeeded; a
	 * failure of either leaves the list dropped.
	 */
	for (uint32_t i = 0; i < w.n; i++) {
		bool kept = false;

		for (uint32_t j = 0; j < k; j++)
			kept |= out[j].off == win[i].off;
		if (kept)
			continue;
		err = cur_lookup(xm, KVFS_LOOKUP_EQ, win[i].off, &stat);
		if (!err && !stat)
			err = -EUCLEAN;
		if (!err)
			err = kvfs_btree_delete(&xm->cur, &stat);
		if (!err && xm->iext)
			err = iext_err(xm,
				       kvfs_iext_delete(xm->iext, win[i].off));
		if (err)
			goto fail;
	}
	for (uint32_t j = 0; j < k; j++) {
		struct kvfs_extent e = ext_of(&out[j]);
		uint32_t i;

		for (i = 0; i < w.n && win[i].off != out[j].off; i++)
			;
		if (i < w.n && !memcmp(&win[i], &out[j], sizeof(r)))
			continue;
		err = cur_lookup(xm, KVFS_LOOKUP_EQ, out[j].off, &stat);
		if (err)
			goto fail;
		err = i < w.n ? kvfs_btree_update(&xm->cur, &e) :
				kvfs_btree_insert(&xm->cur, &e);
		if (!err && xm->iext)
			err = iext_err(
				xm,
				i < w.n ? kvfs_iext_update(xm->iext, &out[j]) :
					  kvfs_iext_insert(xm->iext, &out[j]));
		if (err)
			goto fail;
	}
	*fork_nextents(xm->ip, xm->whichfork) += k - w.n;
	xm->dirty = true;
	xm->tree_changes++;
	if (*fork_nextents(xm->ip, xm->whichfork) <=
	    fork_cap(xm->ip, xm->whichfork))
		return btree_to_extents(xm);
	return 0;
fail:
	xm_iext_drop(xm);
	return err;
}

/*
 * Blocks a tree change may still need (XFS's per-extent split
 * reservation): a leaf for a list that may not fit, and a split at every
 * level for each of the two records a change may add.
 */
static uint64_t tree_res(const struct xmap *xm)
{
	const struct kvfs_trans_resv *r = &xm->ip->i_mount->resv;
	/* an attribute fork's tree is bounded by KVFS_ATTR_MAX_BYTES */
	uint32_t levels = xm->whichfork == KVFS_ATTR_FORK ? r->attr_maxlevels :
							    r->bmap_maxlevels;

	if (!xm->btree && xm->m.n + 2 <= xm->m.cap)
		return 0;
	return 2 * (uint64_t)(levels - 1) + 1;
}

/*
 * Blocks a change adding nrec records (at most two) may allocate for the
 * map's tree as it is now (XFS's xfs_bmapi_minleft(): the root's level
 * plus one): none for a list with room for them, the leaf of a list
 * turned tree (the records then go into it), and per record for a tree of
 * nlevels levels a split at every level below its root in the inode and
 * the root pushed down into a new block, the second record in a tree one
 * level taller; at most maxlevels - 1 a record, as tree_res() counts (a
 * tree of the greatest height has no room to grow).  tree_res() alone,
 * 2 * (maxlevels - 1) + 1 whatever the tree, kept a file's extent from an
 * AG with fewer free blocks than that (13 of 1 KiB, 7 of 64 KiB) where
 * its map needed two (tests/file/test_nearfull).
 */
static uint64_t tree_need(const struct xmap *xm, unsigned nrec)
{
	const struct kvfs_trans_resv *r = &xm->ip->i_mount->resv;
	const struct kvfs_bmdr_block *rb =
		(const void *)fork_ptr(xm->ip, xm->whichfork);
	uint32_t most = (xm->whichfork == KVFS_ATTR_FORK ? r->attr_maxlevels :
							   r->bmap_maxlevels) -
			1;
	uint64_t need = 0;

	if (!xm->btree)
		return xm->m.n + nrec <= xm->m.cap ? 0 : 1;
	for (unsigned i = 0; i < nrec; i++) {
		uint32_t lv = kv_le16_to_cpu(rb->level) + 1u + i;

		need += lv < most ? lv : most;
	}
	return need;
}

/*
 * Before a change that adds nrec records (a punch out of an extent's
 * middle, a conversion of part of an unwritten extent): the blocks a tree
 * may need, in tp's reservation and in an AG locked for tp, or -ENOSPC
 * with nothing changed.  The split's blocks then come from that AG if
 * from no other (every allocation falls back to all the AGs), where
 * without it a split could find none part way through, the map half
 * changed: the free blocks the reservation counts may be on the AGs'
 * reserve lists or busy, or in AGs below one tp holds, only tried.
 */
static int split_room(struct xmap *xm, unsigned nrec)
{
	struct kvfs_inode *ip = xm->ip;
	uint64_t need = tree_need(xm, nrec);

	if (!need)
		return 0;
	if (kvfs_trans_blocks_left(xm->tp) < need)
		return -ENOSPC;
	return kvfs_alloc_hold_space(xm->tp,
				     kvfs_ino_to_agno(geom(ip), ip->i_ino), 1,
				     (uint32_t)need);
}

/*
 * A split found no block where split_room() (or the data's allocation,
 * with minleft) had made sure of one (as XFS, whose reservation covers
 * the split, never expects it): a change that left tp as it came (the
 * first step allocates before it changes anything) is a refusal, -ENOSPC;
 * one that changed the map or the AGs cannot be backed out, and the
 * filesystem shuts down, -EIO (committed, the half-changed tree lost the
 * extents past the split: a settle's conversion leaked 3507 blocks that
 * way, fsck.kvfs -n's 'owned by nothing').
 */
static int split_short(struct xmap *xm, bool clean)
{
	if (clean && !xm->dirty && !kvj_trans_dirty(xm->tp->jt))
		return -ENOSPC;
	kvfs_mount_shutdown(xm->ip->i_mount,
			    "extent map split found no block it had held");
	return -EIO;
}

/*
 * A B+tree fork changes once per call: the callers' reservations
 * (fs/trans/trans_resv.c: write, itruncate) hold the log space and blocks of
 * one tree change.
 */
static bool tree_change_done(const struct xmap *xm)
{
	return xm->tree_changes && (xm->btree || tree_res(xm));
}

static void put_map(struct kvfs_bmap *map, int *k, uint64_t off, uint64_t bno,
		    uint64_t len, uint32_t flags)
{
	struct kvfs_bmap *p = &map[*k];

	/* a step that continues the previous mapping extends it */
	if (*k && bno != KVFS_NULLBLOCK && p[-1].startblock != KVFS_NULLBLOCK &&
	    p[-1].startoff + p[-1].blockcount == off &&
	    p[-1].startblock + p[-1].blockcount == bno &&
	    p[-1].flags == flags) {
		p[-1].blockcount += len;
		return;
	}
	p->startoff = off;
	p->startblock = bno;
	p->blockcount = len;
	p->flags = flags;
	(*k)++;
}

static uint32_t bmap_flags(uint32_t ext_flags)
{
	return ext_flags & KVFS_EXT_UNWRITTEN ? KVFS_BMAP_UNWRITTEN : 0;
}

/*
 * The mappings of [*cur, end) up to the end of record r (which ends past
 * *cur): the hole before it, then its piece.  False when map filled up
 * before its piece.
 */
static bool put_rec(struct kvfs_bmap *map, int *k, int nmap, uint64_t *cur,
		    uint64_t end, const struct kvfs_irec *r)
{
	uint64_t pend;

	if (r->off > *cur) {
		put_map(map, k, *cur, KVFS_NULLBLOCK, r->off - *cur, 0);
		*cur = r->off;
		if (*k == nmap)
			return false;
	}
	pend = irec_end(r) < end ? irec_end(r) : end;
	put_map(map, k, *cur, r->bno + (*cur - r->off), pend - *cur,
		bmap_flags(r->flags));
	*cur = pend;
	return true;
}

/*
 * r, found by a read of ip's B+tree data fork, is the inode's last extent
 * (struct kvfs_inode's i_lastext_*): only under i_lock held shared (the
 * fork then stays as it is, i_lock_seq even and still), and only by one
 * reader at a time (another storing: skipped).
 */
static void lastext_store(struct kvfs_inode *ip, const struct kvfs_irec *r)
{
	uint64_t ls = kvfs_ilock_seq_begin(ip);
	unsigned s =
		atomic_load_explicit(&ip->i_lastext_seq, memory_order_relaxed);

	if (ls & 1 || s & 1 ||
	    !atomic_compare_exchange_strong(&ip->i_lastext_seq, &s, s + 1))
		return;
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&ip->i_lastext_lockseq, ls, memory_order_relaxed);
	atomic_store_explicit(&ip->i_lastext_off, r->off, memory_order_relaxed);
	atomic_store_explicit(&ip->i_lastext_bno, r->bno, memory_order_relaxed);
	atomic_store_explicit(&ip->i_lastext_len, r->len, memory_order_relaxed);
	atomic_store_explicit(&ip->i_lastext_flags, r->flags,
			      memory_order_relaxed);
	atomic_store_explicit(&ip->i_lastext_seq, s + 2, memory_order_release);
}

/*
 * The inode's last extent, if one is stored and still true while the
 * inode lock's seqcount reads ls: 0 and *r, else -EAGAIN.
 */
static int lastext_load(struct kvfs_inode *ip, uint64_t ls, struct kvfs_irec *r)
{
	unsigned s =
		atomic_load_explicit(&ip->i_lastext_seq, memory_order_acquire);
	uint64_t at;

	at = atomic_load_explicit(&ip->i_lastext_lockseq, memory_order_relaxed);
	r->off = atomic_load_explicit(&ip->i_lastext_off, memory_order_relaxed);
	r->bno = atomic_load_explicit(&ip->i_lastext_bno, memory_order_relaxed);
	r->len = atomic_load_explicit(&ip->i_lastext_len, memory_order_relaxed);
	r->flags = atomic_load_explicit(&ip->i_lastext_flags,
					memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (s & 1 || !s ||
	    atomic_load_explicit(&ip->i_lastext_seq, memory_order_relaxed) !=
		    s ||
	    at != ls)
		return -EAGAIN;
	return 0;
}

/*
 * The mappings of [off, off + len) from the in-core list x, at most nmax,
 * into map; their count.  Each extent found is also remembered as ip's
 * last extent when ip is given (not by a lock-free reader, which stores
 * nothing).
 */
static int iext_map(struct kvfs_iext *x, uint64_t off, uint64_t len,
		    struct kvfs_bmap *map, int nmax, struct kvfs_inode *ip)
{
	uint64_t cur = off, end = off + len;
	struct kvfs_iext_pos pos;
	struct kvfs_irec r;
	bool found;
	int k = 0;

	found = kvfs_iext_find(x, off, &pos, &r);
	while (cur < end && k < nmax) {
		if (!found || r.off >= end) {
			put_map(map, &k, cur, KVFS_NULLBLOCK, end - cur, 0);
			break;
		}
		if (!put_rec(map, &k, nmax, &cur, end, &r))
			break;
		if (ip)
			lastext_store(ip, &r);
		found = kvfs_iext_next(x, &pos, &r);
	}
	return k;
}

/*
 * kvfs_bmapi_read_fork() of a regular file's B+tree data fork from its
 * in-core list (fs/data/iext.h): -ENOMEM when the list cannot be had.
 */
static int read_iext(struct kvfs_inode *ip, uint64_t off, uint64_t len,
		     struct kvfs_bmap *map, int *nmap)
{
	struct kvfs_iext *x;
	int err;

	err = kvfs_iext_get(ip, &x);
	if (err)
		return err;
	*nmap = iext_map(x, off, len, map, *nmap, ip);
	return 0;
}

int kvfs_bmapi_read_fork(struct kvfs_inode *ip, int whichfork, uint64_t off,
			 uint64_t len, struct kvfs_bmap *map, int *nmap)
{
	uint64_t cur = off, end = off + len;
	struct xmap *xm;
	struct kvfs_irec r;
	bool found;
	int k = 0, err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (*nmap < 1)
		return -EINVAL;
	if (whichfork == KVFS_DATA_FORK && ip->i_dformat == KVFS_DFORK_BTREE &&
	    S_ISREG(ip->i_mode)) {
		err = read_iext(ip, off, len, map, nmap);
		if (err != -ENOMEM)
			return err;
	}
	xm = xm_alloc();
	err = xm_open(xm, ip, whichfork, NULL);
	if (!err)
		err = xm_find(xm, off, &r, &found);
	while (!err && cur < end && k < *nmap) {
		if (!found || r.off >= end) {
			put_map(map, &k, cur, KVFS_NULLBLOCK, end - cur, 0);
			break;
		}
		if (!put_rec(map, &k, *nmap, &cur, end, &r))
			break;
		/* for kvfs_bmapi_read_nolock(): files only */
		if (xm->btree && whichfork == KVFS_DATA_FORK &&
		    S_ISREG(ip->i_mode))
			lastext_store(ip, &r);
		if (cur < end && k < *nmap)
			err = xm_find(xm, cur, &r, &found);
	}
	xm_close(xm);
	kvfree(xm);
	*nmap = k;
	return err;
}

int kvfs_bmapi_read(struct kvfs_inode *ip, uint64_t off, uint64_t len,
		    struct kvfs_bmap *map, int *nmap)
{
	return kvfs_bmapi_read_fork(ip, KVFS_DATA_FORK, off, len, map, nmap);
}

/* Record i of an in-inode extent list that may be changing under us. */
static struct kvfs_irec irec_racy(const struct kvfs_extent *x, uint32_t i)
{
	const struct kvfs_extent *e = &x[i];

	return (struct kvfs_irec){
		le64toh(__atomic_load_n(&e->startoff.v, __ATOMIC_RELAXED)),
		le64toh(__atomic_load_n(&e->startblock.v, __ATOMIC_RELAXED)),
		le32toh(__atomic_load_n(&e->blockcount.v, __ATOMIC_RELAXED)),
		le32toh(__atomic_load_n(&e->flags.v, __ATOMIC_RELAXED))
	};
}

int kvfs_bmapi_read_nolock(struct kvfs_inode *ip, uint64_t off, uint64_t len,
			   struct kvfs_bmap *map, int *nmap)
{
	const struct kvfs_extent *x = (const void *)ip->i_dfork;
	/* the most the fork's buffer holds, whatever i_forkoff says now */
	uint32_t max =
		(geom(ip)->inodesize - KVFS_DINODE_CORE_SIZE) / sizeof(*x);
	uint64_t cur = off, end = off + len;
	uint32_t n, i, hi;
	uint64_t seq;
	int k = 0, err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (*nmap < 1)
		return -EINVAL;
	seq = kvfs_ilock_seq_begin(ip);
	if (seq & 1)
		return -EAGAIN;
	if (__atomic_load_n(&ip->i_dformat, __ATOMIC_RELAXED) ==
	    KVFS_DFORK_BTREE) {
		struct kvfs_irec r;

		/* a tree: only from the last extent found, as far as it goes */
		if (lastext_load(ip, seq, &r) || off < r.off ||
		    off >= irec_end(&r))
			return -EAGAIN;
		put_map(map, &k, off, r.bno + (off - r.off),
			(irec_end(&r) < end ? irec_end(&r) : end) - off,
			bmap_flags(r.flags));
		goto out;
	}
	if (__atomic_load_n(&ip->i_dformat, __ATOMIC_RELAXED) !=
	    KVFS_DFORK_EXTENTS)
		return -EAGAIN;
	n = __atomic_load_n(&ip->i_nextents, __ATOMIC_RELAXED);
	if (n > max)
		return -EAGAIN;
	/* find_after() on the raw records: the first ending after off */
	for (i = 0, hi = n; i < hi;) {
		uint32_t mid = i + (hi - i) / 2;
		struct kvfs_irec r = irec_racy(x, mid);

		if (irec_end(&r) <= off)
			i = mid + 1;
		else
			hi = mid;
	}
	/*
	 * As kvfs_bmapi_read_fork(); a torn list may give nonsense, never
	 * more than *nmap mappings nor an endless loop (i only grows), and
	 * is thrown away below.
	 */
	for (; cur < end && k < *nmap; i++) {
		struct kvfs_irec r;

		if (i >= n || (r = irec_racy(x, i)).off >= end) {
			put_map(map, &k, cur, KVFS_NULLBLOCK, end - cur, 0);
			break;
		}
		if (!put_rec(map, &k, *nmap, &cur, end, &r))
			break;
	}
out:
	if (kvfs_ilock_seq_retry(ip, seq))
		return -EAGAIN;
	*nmap = k;
	return 0;
}

int kvfs_bmapi_read_rcu(struct kvfs_inode *ip, uint64_t off, uint64_t len,
			struct kvfs_bmap *map, int *nmap)
{
	struct kvfs_iext *x;
	int err;

	err = kvfs_bmapi_read_nolock(ip, off, len, map, nmap);
	if (err != -EAGAIN ||
	    __atomic_load_n(&ip->i_dformat, __ATOMIC_RELAXED) !=
		    KVFS_DFORK_BTREE)
		return err;
	/* never waits: the caller may be inside an RCU read-side section */
	if (!kvfs_ilock_nowait(ip, KVFS_ILOCK_SHARED))
		return -EAGAIN;
	err = range_check(ip, off, len);
	x = err || ip->i_dformat != KVFS_DFORK_BTREE || !S_ISREG(ip->i_mode) ?
		    NULL :
		    kvfs_iext_peek(ip);
	if (!x) {
		kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
		return -EAGAIN;
	}
	*nmap = iext_map(x, off, len, map, *nmap, NULL);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return 0;
}

/*
 * The alignment on the device of a new data extent of a file for the hole
 * of want blocks at cur (0: none): a MiB when cur is on one and the hole
 * holds one.  The image's host page cache keeps a file's data in folios
 * aligned on the image: data 23 blocks off a MiB took ~7 folios per
 * aligned MiB where the raw file took 1, and the host's reads of it ran
 * at 0.75-0.85x (kvfs-core-bench seq_read and rand_read).
 */
static uint32_t data_align(const struct xmap *xm, uint64_t cur, uint64_t want)
{
	uint32_t a = KVFS_DATA_ALIGN_BYTES >> geom(xm->ip)->blocklog;

	if (xm->whichfork != KVFS_DATA_FORK || !S_ISREG(xm->ip->i_mode) ||
	    a < 2 || cur % a || want < a)
		return 0;
	return a;
}

/*
 * Allocate up to want blocks for the hole at cur into *nr, after the
 * file's previous extent when that space is free, keeping back what a
 * tree change may need of the reservation and of the AG the extent comes
 * from (XFS's minleft): the map's tree blocks are allocated after the
 * extent, when an AG numbered below the extent's is only trylocked, and a
 * tree block found nowhere left the extent allocated and mapped nowhere
 * (mode-0 fallocate on two AGs, the lower one busy: its -ENOSPC leaked the
 * extent).
 */
static int alloc_hole(struct xmap *xm, uint64_t cur, uint64_t want,
		      uint32_t ext_flags, bool contig, struct kvfs_irec *nr)
{
	struct kvfs_trans *tp = xm->tp;
	uint64_t left = kvfs_trans_blocks_left(tp), keep = tree_need(xm, 1);
	uint32_t maxlen = want < UINT32_MAX ? (uint32_t)want : UINT32_MAX;
	uint64_t fsb, prev_end = KVFS_NULLBLOCK;
	struct kvfs_irec p;
	bool found;
	uint32_t got;
	int err;

	/*
	 * KVFS_BMAPI_CONTIG: the whole hole as one extent and the tree
	 * change are the reservation's to cover.  Otherwise the data the
	 * caller reserved may simply be used up (its count is an estimate:
	 * the rest of the range goes in another transaction).
	 */
	if (contig) {
		err = kvfs_trans_need_blocks(tp, keep + want);
		if (err)
			return err;
	}
	if (left <= keep)
		return -ENOSPC;
	if (maxlen > left - keep)
		maxlen = (uint32_t)(left - keep);
	if (cur) {
		err = xm_last_before(xm, cur, &p, &found);
		if (err)
			return err;
		if (found)
			prev_end = p.bno + p.len;
	}
	err = kvfs_alloc_file_extent(
		tp, xm->ip->i_ino, prev_end, contig ? maxlen : 1, maxlen,
		data_align(xm, cur, want), (uint32_t)keep, &fsb, &got);
	if (err)
		return err;
	nr->off = cur;
	nr->bno = fsb;
	nr->len = got;
	nr->flags = ext_flags;
	return 0;
}

int kvfs_bmapi_write_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
			  int whichfork, uint64_t off, uint64_t len,
			  unsigned flags, struct kvfs_bmap *map, int *nmap)
{
	uint32_t new_flags =
		flags & KVFS_BMAPI_PREALLOC ? KVFS_EXT_UNWRITTEN : 0;
	/* a refusal leaves tp as it came: nothing logged in it yet */
	bool clean = !kvj_trans_dirty(tp->jt);
	uint64_t cur = off, end = off + len;
	struct xmap *xm;
	int k = 0, err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (*nmap < 1 ||
	    flags & ~(KVFS_BMAPI_PREALLOC | KVFS_BMAPI_CONVERT |
		      KVFS_BMAPI_CONTIG) ||
	    (flags & KVFS_BMAPI_PREALLOC && flags & KVFS_BMAPI_CONVERT))
		return -EINVAL;
	xm = xm_alloc();
	err = xm_open(xm, ip, whichfork, tp);
	while (!err && cur < end && k < *nmap) {
		struct kvfs_irec r, nr;
		bool found;

		err = xm_find(xm, cur, &r, &found);
		if (err)
			break;
		if (found && r.off <= cur) {
			uint64_t pend = irec_end(&r) < end ? irec_end(&r) : end;
			uint64_t bno = r.bno + (cur - r.off);
			uint32_t fl = r.flags;

			if (fl & KVFS_EXT_UNWRITTEN &&
			    flags & KVFS_BMAPI_CONVERT) {
				/* the unwritten pieces left on either side */
				unsigned nrec =
					(cur > r.off) + (pend < irec_end(&r));

				if (tree_change_done(xm)) {
					err = -ENOSPC;
					break;
				}
				err = split_room(xm, nrec);
				if (err)
					break;
				fl = 0;
				nr = (struct kvfs_irec){ cur, bno,
							 (uint32_t)(pend - cur),
							 0 };
				err = xm_replace(xm, cur, pend - cur, &nr);
				if (err == -ENOSPC)
					err = split_short(xm, clean);
				if (err)
					break;
			}
			put_map(map, &k, cur, bno, pend - cur, bmap_flags(fl));
			cur = pend;
			continue;
		}
		if (tree_change_done(xm)) {
			err = -ENOSPC;
			break;
		}
		err = alloc_hole(xm, cur,
				 (found && r.off < end ? r.off : end) - cur,
				 new_flags, flags & KVFS_BMAPI_CONTIG, &nr);
		if (err)
			break;
		/* the allocator changed the AG: no backing out from here */
		kvfs_trans_set_nofail(tp);
		err = xm_replace(xm, cur, nr.len, &nr);
		if (err == -ENOSPC)
			err = split_short(xm, false);
		if (err)
			break;
		ip->i_nblocks += nr.len;
		xm->dirty = true;
		put_map(map, &k, cur, nr.bno, nr.len, bmap_flags(nr.flags));
		cur += nr.len;
	}
	xm_close(xm);
	kvfree(xm);
	/* a later step's lack of space: report what was done */
	if (k && err == -ENOSPC)
		err = 0;
	*nmap = k;
	return err;
}

int kvfs_bmapi_write(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		     uint64_t len, unsigned flags, struct kvfs_bmap *map,
		     int *nmap)
{
	return kvfs_bmapi_write_fork(tp, ip, KVFS_DATA_FORK, off, len, flags,
				     map, nmap);
}

int kvfs_bunmapi_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
		      int whichfork, uint64_t off, uint64_t len,
		      unsigned max_extents, uint64_t *remaining)
{
	/* a refusal leaves tp as it came: nothing logged in it yet */
	bool clean = !kvj_trans_dirty(tp->jt);
	uint64_t end;
	unsigned done = 0;
	struct xmap *xm;
	int err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (!max_extents)
		return -EINVAL;
	xm = xm_alloc();
	err = xm_open(xm, ip, whichfork, tp);
	end = off + len;
	while (!err) {
		uint64_t ps, pe, fsb;
		struct kvfs_irec r;
		bool found;

		err = xm_last_before(xm, end, &r, &found);
		if (err)
			break;
		if (!found || irec_end(&r) <= off) {
			end = off; /* nothing mapped is left in the range */
			break;
		}
		if (done == max_extents || tree_change_done(xm)) {
			/* what follows the extent is unmapped already */
			if (irec_end(&r) < end)
				end = irec_end(&r);
			break;
		}
		ps = r.off > off ? r.off : off;
		pe = irec_end(&r) < end ? irec_end(&r) : end;
		fsb = r.bno + (ps - r.off);
		/* only the first step can split: the range is inside r */
		if (ps > r.off && pe < irec_end(&r)) {
			err = split_room(xm, 1);
			if (err)
				break;
		}
		/*
		 * Freed by an extent-free intent logged in tp and finished
		 * after it (XFS's EFI): a crash in between still frees it,
		 * once.
		 */
		err = kvfs_free_extent_later(tp, fsb, (uint32_t)(pe - ps));
		if (err)
			break;
		kvfs_trans_set_nofail(tp);
		err = xm_replace(xm, ps, pe - ps, NULL);
		if (err == -ENOSPC)
			err = split_short(xm, clean);
		if (err)
			break;
		ip->i_nblocks -= pe - ps;
		xm->dirty = true;
		done++;
		end = ps;
	}
	xm_close(xm);
	kvfree(xm);
	*remaining = end - off;
	return err;
}

int kvfs_bunmapi(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		 uint64_t len, unsigned max_extents, uint64_t *remaining)
{
	return kvfs_bunmapi_fork(tp, ip, KVFS_DATA_FORK, off, len, max_extents,
				 remaining);
}

uint64_t kvfs_bmap_convert_blocks(const struct kvfs_inode *ip, uint32_t nranges)
{
	const struct kvfs_trans_resv *r = &ip->i_mount->resv;

	if (ip->i_dformat == KVFS_DFORK_EXTENTS &&
	    ip->i_nextents + 2 * (uint64_t)nranges <=
		    fork_cap(ip, KVFS_DATA_FORK))
		return 0;
	/* the blocks the pending writes' own reservations held for it */
	return nranges * r->write.blocks;
}

/* First block at or after off whose state is data (want_data) or not. */
static int seek(struct kvfs_inode *ip, uint64_t off, bool want_data,
		uint64_t *res)
{
	uint64_t max = kvfs_max_fileoff_blocks(geom(ip)), cur = off;
	struct xmap *xm;
	struct kvfs_irec r;
	bool found;
	int err, ret;

	if (off >= max)
		return -ENXIO;
	xm = xm_alloc();
	ret = want_data ? -ENXIO : 0;
	err = xm_open(xm, ip, KVFS_DATA_FORK, NULL);
	if (!err)
		err = xm_find(xm, off, &r, &found);
	while (!err && found) {
		bool data = !(r.flags & KVFS_EXT_UNWRITTEN);

		if (want_data && data) {
			cur = r.off > cur ? r.off : cur;
			ret = 0;
			break;
		}
		if (!want_data) {
			if (r.off > cur || !data)
				break; /* a hole at cur */
			cur = irec_end(&r);
		}
		err = xm_find(xm, irec_end(&r), &r, &found);
	}
	xm_close(xm);
	kvfree(xm);
	if (err)
		return err;
	if (!ret)
		*res = cur;
	return ret;
}

int kvfs_bmap_seek_data(struct kvfs_inode *ip, uint64_t off, uint64_t *res)
{
	return seek(ip, off, true, res);
}

int kvfs_bmap_seek_hole(struct kvfs_inode *ip, uint64_t off, uint64_t *res)
{
	return seek(ip, off, false, res);
}

/* What the walk of a tree's records found. */
struct check_ctx {
	const struct kvfs_geom *g;
	/* the in-core list, when loaded: each record must be the tree's */
	const struct kvfs_iext *iext;
	struct kvfs_iext_pos pos;
	bool more; /* the list has a record at pos */
	struct kvfs_irec prev;
	uint64_t n, sum;
	bool bad;
	char *why;
	size_t whylen;
};

static int check_rec(const void *rec, void *priv)
{
	struct check_ctx *c = priv;
	struct kvfs_irec r = irec_of(rec);
	const char *bad = kvfs_extent_check(c->g, rec);

	if (!bad && c->n && r.off < irec_end(&c->prev))
		bad = "overlaps or precedes the previous one";
	else if (!bad && c->n && mergeable(c->g, &c->prev, &r))
		bad = "could be merged with the previous one";
	if (!bad && c->iext) {
		struct kvfs_irec l;

		c->more = c->n ? kvfs_iext_next(c->iext, &c->pos, &l) :
				 kvfs_iext_find(c->iext, 0, &c->pos, &l);
		if (!c->more || memcmp(&l, &r, sizeof(l)))
			bad = "is not the in-core list's";
	}
	if (bad) {
		snprintf(c->why, c->whylen,
			 "extent %" PRIu64 " (file block %" PRIu64
			 ", block %" PRIu64 ", %u blocks) %s",
			 c->n, r.off, r.bno, r.len, bad);
		c->bad = true;
		return -EUCLEAN;
	}
	c->prev = r;
	c->n++;
	c->sum += r.len;
	return 0;
}

/* A BTREE fork: the tree's structure walk, its records, the counts. */
static int btree_check(struct kvfs_inode *ip, char *why, size_t whylen)
{
	struct check_ctx c = { .g = geom(ip),
			       .iext = S_ISREG(ip->i_mode) ?
					       kvfs_iext_peek(ip) :
					       NULL,
			       .why = why,
			       .whylen = whylen };
	struct kvfs_btree_walk *w;
	struct kvfs_btree_cur *cur;
	struct kvfs_bmbt_ctx ctx;
	uint64_t tblocks = 0;
	int err;

	if (ip->i_nextents <= fork_cap(ip, KVFS_DATA_FORK)) {
		snprintf(why, whylen,
			 "btree fork with %u extents, which fit the fork",
			 ip->i_nextents);
		return -EUCLEAN;
	}
	w = kvzalloc(sizeof(*w), 0);
	cur = kvmalloc(sizeof(*cur), 0);
	if (!w || !cur) {
		kvfree(w);
		kvfree(cur);
		return -ENOMEM;
	}
	w->rec_fn = check_rec;
	w->priv = &c;
	kvfs_bmbt_cur_init(cur, &ctx, ip, KVFS_DATA_FORK, NULL);
	err = kvfs_btree_walk_check(cur, ip->i_mount->bc, w);
	for (unsigned l = 0; l < KVFS_BTREE_MAXLEVELS; l++)
		tblocks += w->nblocks[l];
	if (err == -EUCLEAN && !c.bad && w->nfindings)
		snprintf(why, whylen,
			 "extent-map tree block %" PRIu64 " level %d: %s",
			 w->findings[0].blkno, w->findings[0].level,
			 w->findings[0].what);
	if (!err && c.n != ip->i_nextents) {
		snprintf(why, whylen, "nextents %u, the tree holds %" PRIu64,
			 ip->i_nextents, c.n);
		err = -EUCLEAN;
	} else if (!err && c.iext && kvfs_iext_count(c.iext) != c.n) {
		snprintf(why, whylen,
			 "the in-core extent list holds %" PRIu64
			 " extents, the tree %" PRIu64,
			 kvfs_iext_count(c.iext), c.n);
		err = -EUCLEAN;
	} else if (!err && c.sum + tblocks != ip->i_nblocks) {
		snprintf(why, whylen,
			 "nblocks %" PRIu64 ", extents hold %" PRIu64
			 " and the tree %" PRIu64,
			 ip->i_nblocks, c.sum, tblocks);
		err = -EUCLEAN;
	}
	kvfree(w);
	kvfree(cur);
	return err;
}

int kvfs_bmap_check(struct kvfs_inode *ip, char *why, size_t whylen)
{
	const struct kvfs_geom *g = geom(ip);
	const struct kvfs_extent *e = (const void *)ip->i_dfork;
	uint64_t max = kvfs_max_fileoff_blocks(g), sum = 0;
	uint32_t cap = fork_cap(ip, KVFS_DATA_FORK), n = ip->i_nextents;

	if (ip->i_dformat == KVFS_DFORK_BTREE)
		return btree_check(ip, why, whylen);
	if (kvfs_iext_peek(ip)) {
		snprintf(why, whylen, "an in-core extent list without a tree");
		return -EUCLEAN;
	}
	if (ip->i_dformat != KVFS_DFORK_EXTENTS) {
		snprintf(why, whylen, "data fork format %u is not extents",
			 ip->i_dformat);
		return -EUCLEAN;
	}
	if (n > cap) {
		snprintf(why, whylen, "%u extents in a fork of %u", n, cap);
		return -EUCLEAN;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct kvfs_irec r = { kv_le64_to_cpu(e[i].startoff),
				       kv_le64_to_cpu(e[i].startblock),
				       kv_le32_to_cpu(e[i].blockcount),
				       kv_le32_to_cpu(e[i].flags) };
		const char *bad = NULL;

		if (!r.len)
			bad = "has no blocks";
		else if (r.flags & ~KVFS_EXT_FLAGS_ALL)
			bad = "has unknown flags";
		else if (r.off >= max || r.len > max - r.off)
			bad = "ends past the largest file offset";
		else if (r.bno >= g->dblocks || r.len > g->dblocks - r.bno)
			bad = "is outside the filesystem";
		else if (kvfs_fsb_to_agno(g, r.bno) !=
			 kvfs_fsb_to_agno(g, r.bno + r.len - 1))
			bad = "crosses an AG";
		else if (kvfs_fsb_to_agbno(g, r.bno) < KVFS_AG_HDR_BLOCKS)
			bad = "covers AG headers";
		else if (i) {
			struct kvfs_irec p = {
				kv_le64_to_cpu(e[i - 1].startoff),
				kv_le64_to_cpu(e[i - 1].startblock),
				kv_le32_to_cpu(e[i - 1].blockcount),
				kv_le32_to_cpu(e[i - 1].flags)
			};

			if (r.off < irec_end(&p))
				bad = "overlaps or precedes the previous one";
			else if (mergeable(g, &p, &r))
				bad = "could be merged with the previous one";
		}
		if (bad) {
			snprintf(why, whylen,
				 "extent %u (file block %" PRIu64
				 ", block %" PRIu64 ", %u blocks) %s",
				 i, r.off, r.bno, r.len, bad);
			return -EUCLEAN;
		}
		sum += r.len;
	}
	if (!kvfs_mem_is_zero(ip->i_dfork + (size_t)n * sizeof(*e),
			      kvfs_inode_dfork_size(ip) -
				      (size_t)n * sizeof(*e))) {
		snprintf(why, whylen, "fork bytes after %u extents not zero",
			 n);
		return -EUCLEAN;
	}
	if (sum != ip->i_nblocks) {
		snprintf(why, whylen,
			 "nblocks %" PRIu64 ", extents hold %" PRIu64,
			 ip->i_nblocks, sum);
		return -EUCLEAN;
	}
	return 0;
}
