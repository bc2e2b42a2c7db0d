// SPDX-License-Identifier: GPL-2.0
/*
 * The generic B+tree engine (see fs/btree/btree.h for the contract), after
 * XFS's xfs_btree.c.  Positions are 0-based indexes into a block's entries.
 *
 * Insert descends to the leaf, then walks up: a full block first tries to
 * pass entries to a sibling under the same parent (rshift, lshift), else
 * splits in two and inserts the new block's key into the parent; a full
 * root splits and a new root is grown above it.  Delete walks up the same
 * way: an under-full block borrows entries from a sibling that has some to
 * spare, else joins a sibling and removes that entry from the parent; a
 * root node left with one child is killed, the child becoming the root.
 * A shift or a borrow evens the two blocks out (XFS's pass one entry):
 * with keys in random order (a directory's name hashes) a block passed
 * one entry was full or under-full again at the next change, and half of
 * a create's name-hash inserts shifted, moving and logging a whole
 * sibling each time.
 * Both end with a fresh lookup that positions the cursor, which keeps the
 * path bookkeeping of shifts and splits out of the cursor (an insert or a
 * delete that changed nothing but its leaf's entries is positioned
 * already).
 *
 * A root in an inode is worked on as a block (cur->ibuf, decoded from the
 * fork at every descent): the accessors size its pointer array by
 * cur->imax, and every change to it is written back to the fork and
 * logged through the tree's log_iroot (log_range()).  It never splits: a
 * full one grows a level out of the inode (new_iroot()), and one left with
 * a single child that fits it takes that child's entries back
 * (kill_iroot()).
 */
#include "fs/btree/btree.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"

static struct kvfs_btree_block *bblk(struct kv_buf *bp)
{
	return bp->b_addr;
}

static unsigned nrecs(struct kv_buf *bp)
{
	return kv_le16_to_cpu(bblk(bp)->numrecs);
}

static uint64_t rsib(struct kv_buf *bp)
{
	return kv_le64_to_cpu(bblk(bp)->rightsib);
}

static uint64_t lsib(struct kv_buf *bp)
{
	return kv_le64_to_cpu(bblk(bp)->leftsib);
}

static int corrupt(struct kvfs_btree_cur *cur, uint64_t blkno, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

static bool is_iroot(const struct kvfs_btree_cur *cur, const struct kv_buf *bp)
{
	return bp == &cur->ibuf;
}

/* Entries a block of level level (or the inode root) holds. */
static unsigned blk_max(const struct kvfs_btree_cur *cur,
			const struct kv_buf *bp, unsigned level)
{
	return is_iroot(cur, bp) ? cur->imax :
				   kvfs_btree_cur_maxrecs(cur, level);
}

static void *rec_at(struct kvfs_btree_cur *cur, struct kv_buf *bp, unsigned i)
{
	return kvfs_btree_rec(bp->b_addr, cur->fmt, i);
}

static void *key_at(struct kvfs_btree_cur *cur, struct kv_buf *bp, unsigned i)
{
	return kvfs_btree_key(bp->b_addr, cur->fmt, i);
}

static kv_le64 *ptr_at(struct kvfs_btree_cur *cur, struct kv_buf *bp,
		       unsigned i)
{
	return (kv_le64 *)((uint8_t *)bp->b_addr + KVFS_BTREE_HDR_SIZE +
			   (size_t)blk_max(cur, bp, 1) * cur->fmt->keysize) +
	       i;
}

static uint64_t child_at(struct kvfs_btree_cur *cur, struct kv_buf *bp,
			 unsigned i)
{
	return kv_le64_to_cpu(*ptr_at(cur, bp, i));
}

static unsigned off_of(struct kv_buf *bp, const void *p)
{
	return (unsigned)((const uint8_t *)p - (const uint8_t *)bp->b_addr);
}

/* The key of entry i of a block of level level, into key. */
static void entry_key(struct kvfs_btree_cur *cur, struct kv_buf *bp,
		      unsigned level, unsigned i, void *key)
{
	if (level)
		memcpy(key, key_at(cur, bp, i), cur->fmt->keysize);
	else
		cur->fmt->rec_key(rec_at(cur, bp, i), key);
}

/* Write the inode root back to its fork (struct kvfs_bmdr_block). */
static void iroot_store(struct kvfs_btree_cur *cur)
{
	struct kv_buf *bp = &cur->ibuf;
	uint32_t ks = cur->fmt->keysize, size;
	uint8_t *fork = cur->ops->iroot(cur, &size);
	struct kvfs_bmdr_block *rb = (void *)fork;
	unsigned n = nrecs(bp);

	memset(fork, 0, size);
	rb->level = bblk(bp)->level;
	rb->numrecs = bblk(bp)->numrecs;
	memcpy(fork + KVFS_BMDR_HDR_SIZE, key_at(cur, bp, 0), (size_t)n * ks);
	memcpy(fork + KVFS_BMDR_HDR_SIZE + (size_t)cur->imax * ks,
	       ptr_at(cur, bp, 0), (size_t)n * sizeof(kv_le64));
}

/*
 * Decode the inode root into cur->ibuf (as a block, so that the rest of
 * the engine works on it as on any node).
 */
static int iroot_load(struct kvfs_btree_cur *cur)
{
	struct kv_buf *bp = &cur->ibuf;
	uint32_t ks = cur->fmt->keysize, size;
	const uint8_t *fork = cur->ops->iroot(cur, &size);
	const struct kvfs_bmdr_block *rb = (const void *)fork;
	unsigned level = kv_le16_to_cpu(rb->level);
	unsigned n = kv_le16_to_cpu(rb->numrecs);

	if (size > KVFS_BTREE_IROOT_MAX)
		return corrupt(cur, KVFS_NULLBLOCK, "inode root of %u bytes",
			       size);
	cur->imax = kvfs_btree_iroot_maxrecs(size, ks);
	bp->b_addr = cur->iblk;
	bp->b_blkno = KVFS_NULLBLOCK;
	bp->b_len = sizeof(cur->iblk);
	memset(cur->iblk, 0, KVFS_BTREE_HDR_SIZE);
	if (!level || level >= KVFS_BTREE_MAXLEVELS || !n || n > cur->imax)
		return corrupt(cur, KVFS_NULLBLOCK,
			       "inode root of level %u with %u of %u entries",
			       level, n, cur->imax);
	bblk(bp)->level = rb->level;
	bblk(bp)->numrecs = rb->numrecs;
	memcpy(key_at(cur, bp, 0), fork + KVFS_BMDR_HDR_SIZE, (size_t)n * ks);
	memcpy(ptr_at(cur, bp, 0),
	       fork + KVFS_BMDR_HDR_SIZE + (size_t)cur->imax * ks,
	       (size_t)n * sizeof(kv_le64));
	return 0;
}

/* Bytes [first, last] of bp changed: log them (the inode root: its fork). */
static void log_range(struct kvfs_btree_cur *cur, struct kv_buf *bp,
		      unsigned first, unsigned last)
{
	if (is_iroot(cur, bp)) {
		iroot_store(cur);
		cur->ops->log_iroot(cur);
		return;
	}
	kvfs_trans_log_buf(cur->tp, bp, first, last);
}

static void log_hdr(struct kvfs_btree_cur *cur, struct kv_buf *bp)
{
	log_range(cur, bp, 0, KVFS_BTREE_HDR_SIZE - 1);
}

/* Log entries [first, last] of a block of level level. */
static void log_entries(struct kvfs_btree_cur *cur, struct kv_buf *bp,
			unsigned level, unsigned first, unsigned last)
{
	if (!level) {
		log_range(cur, bp, off_of(bp, rec_at(cur, bp, first)),
			  off_of(bp, rec_at(cur, bp, last + 1)) - 1);
		return;
	}
	log_range(cur, bp, off_of(bp, key_at(cur, bp, first)),
		  off_of(bp, key_at(cur, bp, last + 1)) - 1);
	log_range(cur, bp, off_of(bp, ptr_at(cur, bp, first)),
		  off_of(bp, ptr_at(cur, bp, last + 1)) - 1);
}

static void set_nrecs(struct kvfs_btree_cur *cur, struct kv_buf *bp, unsigned n)
{
	bblk(bp)->numrecs = kv_cpu_to_le16((uint16_t)n);
	log_hdr(cur, bp);
}

/* Move n entries: entries [si, si + n) of src to [di, di + n) of dst. */
static void move_entries(struct kvfs_btree_cur *cur, unsigned level,
			 struct kv_buf *dst, unsigned di, struct kv_buf *src,
			 unsigned si, unsigned n)
{
	if (!n)
		return;
	if (!level) {
		memmove(rec_at(cur, dst, di), rec_at(cur, src, si),
			(size_t)n * cur->fmt->recsize);
	} else {
		memmove(key_at(cur, dst, di), key_at(cur, src, si),
			(size_t)n * cur->fmt->keysize);
		memmove(ptr_at(cur, dst, di), ptr_at(cur, src, si),
			(size_t)n * sizeof(kv_le64));
	}
	log_entries(cur, dst, level, di, di + n - 1);
}

/* Entry i of a block: a record (level 0) or a key and a child pointer. */
static void set_entry(struct kvfs_btree_cur *cur, struct kv_buf *bp,
		      unsigned level, unsigned i, const void *ent,
		      uint64_t child)
{
	if (!level) {
		memcpy(rec_at(cur, bp, i), ent, cur->fmt->recsize);
	} else {
		memcpy(key_at(cur, bp, i), ent, cur->fmt->keysize);
		*ptr_at(cur, bp, i) = kv_cpu_to_le64(child);
	}
	log_entries(cur, bp, level, i, i);
}

static int corrupt(struct kvfs_btree_cur *cur, uint64_t blkno, const char *fmt,
		   ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return kvfs_corrupt(-EUCLEAN, blkno, cur->fmt->name, "%s", msg);
}

/*
 * Block fsb of the tree at level level, in the cursor's transaction.  The
 * read verifier checked it on its way from the device; what only the tree
 * knows (its level, its owner) is checked here, on every visit.
 */
static int read_block(struct kvfs_btree_cur *cur, uint64_t fsb, unsigned level,
		      struct kv_buf **bpp)
{
	const struct kvfs_blk_hdr *h;
	struct kv_buf *bp = NULL;
	int err;

	if (fsb >= cur->g->dblocks)
		return corrupt(cur, fsb, "block beyond the filesystem");
	if (cur->tp)
		err = kvfs_trans_read_buf(cur->tp, cur->bl, fsb, 1,
					  cur->ops->buf_ops, &bp);
	else
		err = kv_buf_read(cur->bc, fsb, 1, cur->ops->buf_ops, &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	h = bp->b_addr;
	if (kv_le32_to_cpu(h->magic) != cur->fmt->magic ||
	    kv_le64_to_cpu(h->owner) != cur->owner)
		err = corrupt(cur, fsb, "not a block of this tree");
	else if (kv_le16_to_cpu(bblk(bp)->level) != level)
		err = corrupt(cur, fsb, "level %u, expected %u",
			      kv_le16_to_cpu(bblk(bp)->level), level);
	else if (nrecs(bp) > kvfs_btree_cur_maxrecs(cur, level))
		err = corrupt(cur, fsb, "%u entries, at most %u fit", nrecs(bp),
			      kvfs_btree_cur_maxrecs(cur, level));
	if (err) {
		if (!cur->tp)
			kv_buf_rele(bp);
		return err;
	}
	*bpp = bp;
	return 0;
}

/* Drop the cursor's hold on the block at level (without a transaction). */
static void put_level(struct kvfs_btree_cur *cur, unsigned level)
{
	struct kv_buf *bp = cur->bp[level];

	cur->bp[level] = NULL;
	if (bp && !cur->tp && !is_iroot(cur, bp))
		kv_buf_rele(bp);
}

void kvfs_btree_cur_del(struct kvfs_btree_cur *cur)
{
	for (unsigned l = 0; l < KVFS_BTREE_MAXLEVELS; l++)
		put_level(cur, l);
}

void kvfs_btree_cur_init(struct kvfs_btree_cur *cur,
			 const struct kvfs_btree_tree_ops *ops,
			 const struct kvfs_geom *g, struct kvj_trans *tp,
			 struct kvfs_bli_log *bl, uint64_t owner, void *priv)
{
	/*
	 * All but the inode root's block, 2 KiB that iroot_load() fills
	 * before any use: zeroing it was most of a cursor's set-up, paid
	 * several times a create by trees that have no inode root.
	 */
	memset(cur, 0, offsetof(struct kvfs_btree_cur, iblk));
	cur->ops = ops;
	cur->fmt = ops->fmt;
	cur->g = g;
	cur->tp = tp;
	cur->bl = bl;
	cur->owner = owner;
	cur->priv = priv;
}

/*
 * First index of a leaf whose key is >= key (numrecs if none): records
 * compared in place (struct kvfs_btree_ops, cmp_key).
 */
static unsigned leaf_search(struct kvfs_btree_cur *cur, struct kv_buf *bp,
			    const void *key)
{
	unsigned lo = 0, hi = nrecs(bp);

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (cur->fmt->cmp_key(rec_at(cur, bp, mid), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Last index of a node whose key is <= key (0 if none). */
static unsigned node_search(struct kvfs_btree_cur *cur, struct kv_buf *bp,
			    const void *key)
{
	unsigned lo = 1, hi = nrecs(bp);

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (cur->fmt->cmp_key(key_at(cur, bp, mid), key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* lo: first index >= 1 with key >= search, or numrecs */
	if (lo < nrecs(bp) && !cur->fmt->cmp_key(key_at(cur, bp, lo), key))
		return lo;
	return lo - 1;
}

/*
 * Descend to the leaf where key belongs: ptr[0] is the first record >= key
 * in it (numrecs if none), ptr[l] the child taken at level l.
 */
static int descend(struct kvfs_btree_cur *cur, const void *key)
{
	uint64_t fsb = KVFS_NULLBLOCK;
	unsigned level;
	int l, err;

	kvfs_btree_cur_del(cur);
	cur->nlevels = 0;
	if (cur->ops->iroot) {
		err = iroot_load(cur);
		if (err)
			return err;
		level = kv_le16_to_cpu(bblk(&cur->ibuf)->level);
	} else {
		cur->ops->get_root(cur, &fsb, &level);
		if (level >= KVFS_BTREE_MAXLEVELS)
			return corrupt(cur, fsb, "root level %u", level);
	}
	cur->nlevels = level + 1;
	for (l = (int)level; l >= 0; l--) {
		struct kv_buf *bp = &cur->ibuf;

		if (l != (int)level || !cur->ops->iroot) {
			err = read_block(cur, fsb, (unsigned)l, &bp);
			if (err)
				return err;
		}
		cur->bp[l] = bp;
		if (!l) {
			cur->ptr[0] = (int)leaf_search(cur, bp, key);
			break;
		}
		if (!nrecs(bp))
			return corrupt(cur, fsb, "empty node");
		cur->ptr[l] = (int)node_search(cur, bp, key);
		fsb = child_at(cur, bp, (unsigned)cur->ptr[l]);
	}
	return 0;
}

int kvfs_btree_lookup(struct kvfs_btree_cur *cur, enum kvfs_btree_lookup dir,
		      const void *key, int *stat)
{
	struct kv_buf *bp = NULL;
	unsigned n;
	int i, err;
	bool eq;

	err = descend(cur, key);
	if (err)
		return err;
	bp = cur->bp[0];
	n = nrecs(bp);
	i = cur->ptr[0];
	eq = (unsigned)i < n &&
	     !cur->fmt->cmp_key(rec_at(cur, bp, (unsigned)i), key);
	switch (dir) {
	case KVFS_LOOKUP_EQ:
		*stat = eq;
		return 0;
	case KVFS_LOOKUP_GE:
		if ((unsigned)i < n) {
			*stat = 1;
			return 0;
		}
		if (!n) {
			*stat = 0;
			return 0;
		}
		/* past this leaf: the next leaf's first record, if any */
		cur->ptr[0] = (int)n - 1;
		return kvfs_btree_increment(cur, stat);
	case KVFS_LOOKUP_LE:
		if (eq) {
			*stat = 1;
			return 0;
		}
		cur->ptr[0] = i;
		return kvfs_btree_decrement(cur, stat);
	}
	return -EINVAL;
}

int kvfs_btree_increment(struct kvfs_btree_cur *cur, int *stat)
{
	unsigned l;
	int err;

	if (!cur->bp[0])
		return -EINVAL;
	if (cur->ptr[0] < (int)nrecs(cur->bp[0]))
		cur->ptr[0]++;
	if (cur->ptr[0] < (int)nrecs(cur->bp[0])) {
		*stat = 1;
		return 0;
	}
	for (l = 1; l < cur->nlevels; l++)
		if (cur->ptr[l] + 1 < (int)nrecs(cur->bp[l]))
			break;
	if (l == cur->nlevels) {
		*stat = 0;
		return 0;
	}
	cur->ptr[l]++;
	for (; l > 0; l--) {
		uint64_t fsb = child_at(cur, cur->bp[l], (unsigned)cur->ptr[l]);
		struct kv_buf *bp = NULL;

		err = read_block(cur, fsb, l - 1, &bp);
		if (err)
			return err;
		put_level(cur, l - 1);
		cur->bp[l - 1] = bp;
		if (!nrecs(cur->bp[l - 1]))
			return corrupt(cur, fsb, "empty block below the root");
		cur->ptr[l - 1] = 0;
	}
	*stat = 1;
	return 0;
}

int kvfs_btree_decrement(struct kvfs_btree_cur *cur, int *stat)
{
	unsigned l;
	int err;

	if (!cur->bp[0])
		return -EINVAL;
	if (cur->ptr[0] >= 0)
		cur->ptr[0]--;
	if (cur->ptr[0] >= 0) {
		*stat = 1;
		return 0;
	}
	for (l = 1; l < cur->nlevels; l++)
		if (cur->ptr[l] > 0)
			break;
	if (l == cur->nlevels) {
		*stat = 0;
		return 0;
	}
	cur->ptr[l]--;
	for (; l > 0; l--) {
		uint64_t fsb = child_at(cur, cur->bp[l], (unsigned)cur->ptr[l]);
		struct kv_buf *bp = NULL;
		unsigned n;

		err = read_block(cur, fsb, l - 1, &bp);
		if (err)
			return err;
		put_level(cur, l - 1);
		cur->bp[l - 1] = bp;
		n = nrecs(cur->bp[l - 1]);
		if (!n)
			return corrupt(cur, fsb, "empty block below the root");
		cur->ptr[l - 1] = (int)n - 1;
	}
	*stat = 1;
	return 0;
}

int kvfs_btree_get_rec(struct kvfs_btree_cur *cur, void *rec, int *stat)
{
	if (!cur->bp[0] || cur->ptr[0] < 0 ||
	    cur->ptr[0] >= (int)nrecs(cur->bp[0])) {
		*stat = 0;
		return 0;
	}
	memcpy(rec, rec_at(cur, cur->bp[0], (unsigned)cur->ptr[0]),
	       cur->fmt->recsize);
	*stat = 1;
	return 0;
}

/*
 * The first key of the block at level level changed: carry it up the
 * cursor's path for as long as the block is its parent's first child.
 */
static void update_keys(struct kvfs_btree_cur *cur, unsigned level)
{
	uint8_t key[KVFS_BTREE_KEY_MAX];
	unsigned l;

	for (l = level; l + 1 < cur->nlevels; l++) {
		struct kv_buf *pbp = cur->bp[l + 1];
		unsigned pi = (unsigned)cur->ptr[l + 1];

		if (!nrecs(cur->bp[l]))
			return;
		entry_key(cur, cur->bp[l], l, 0, key);
		if (!memcmp(key_at(cur, pbp, pi), key, cur->fmt->keysize))
			return;
		memcpy(key_at(cur, pbp, pi), key, cur->fmt->keysize);
		log_range(cur, pbp, off_of(pbp, key_at(cur, pbp, pi)),
			  off_of(pbp, key_at(cur, pbp, pi + 1)) - 1);
		if (pi)
			return;
	}
}

/* Set key i of node pbp (level > 0) to the first key of bp. */
static void set_parent_key(struct kvfs_btree_cur *cur, struct kv_buf *pbp,
			   unsigned i, struct kv_buf *bp, unsigned level)
{
	entry_key(cur, bp, level, 0, key_at(cur, pbp, i));
	log_range(cur, pbp, off_of(pbp, key_at(cur, pbp, i)),
		  off_of(pbp, key_at(cur, pbp, i + 1)) - 1);
}

/*
 * The sibling of the block at level (not the root) under the same parent:
 * dir +1 right, -1 left.  *bpp NULL if the block is the parent's last
 * (first) child.  The sibling links must agree with the parent.
 */
static int sibling(struct kvfs_btree_cur *cur, unsigned level, int dir,
		   struct kv_buf **bpp)
{
	struct kv_buf *bp = cur->bp[level], *pbp = cur->bp[level + 1];
	int pi = cur->ptr[level + 1] + dir;
	uint64_t fsb;

	*bpp = NULL;
	if (pi < 0 || pi >= (int)nrecs(pbp))
		return 0;
	fsb = child_at(cur, pbp, (unsigned)pi);
	if ((dir > 0 ? rsib(bp) : lsib(bp)) != fsb)
		return corrupt(cur, bp->b_blkno,
			       "%s sibling %" PRIu64
			       ", the parent says %" PRIu64,
			       dir > 0 ? "right" : "left",
			       dir > 0 ? rsib(bp) : lsib(bp), fsb);
	return read_block(cur, fsb, level, bpp);
}

/* Set the left sibling pointer of block fsb (level level), if any. */
static int relink_left(struct kvfs_btree_cur *cur, uint64_t fsb, unsigned level,
		       uint64_t left)
{
	struct kv_buf *bp = NULL;
	int err;

	if (fsb == KVFS_NULLBLOCK)
		return 0;
	err = read_block(cur, fsb, level, &bp);
	if (err)
		return err;
	bblk(bp)->leftsib = kv_cpu_to_le64(left);
	log_hdr(cur, bp);
	return 0;
}

/* A new, empty block of level level, near near. */
static int new_block(struct kvfs_btree_cur *cur, uint64_t near, unsigned level,
		     struct kv_buf **bpp)
{
	uint64_t fsb;
	int err;

	err = cur->ops->alloc_block(cur, near, &fsb);
	if (err)
		return err;
	err = kvfs_trans_get_buf(cur->tp, cur->bl, fsb, 1, cur->ops->buf_ops,
				 bpp);
	if (err) {
		cur->ops->free_block(cur, fsb);
		return err;
	}
	kvfs_btree_init_block((*bpp)->b_addr, cur->g, cur->fmt, fsb, cur->owner,
			      level, 0);
	log_hdr(cur, *bpp);
	return 0;
}

static int free_block(struct kvfs_btree_cur *cur, struct kv_buf *bp)
{
	uint64_t fsb = bp->b_blkno;

	kvfs_trans_binval(cur->tp, bp);
	return cur->ops->free_block(cur, fsb);
}

/*
 * Make room in the full block at level (not the root) where an entry is to
 * go at index *ip, by passing entries to a sibling with room, half the
 * difference of their counts: the last ones to the right sibling unless
 * the new entry goes at or after them, else the first ones to the left
 * sibling unless the new entry goes first (as XFS's rshift/lshift, which
 * leave those cases to a split).  *done 0 if neither could.
 */
static int shift(struct kvfs_btree_cur *cur, unsigned level, unsigned *ip,
		 int *done)
{
	struct kv_buf *bp = cur->bp[level], *sbp;
	unsigned n = nrecs(bp), max = kvfs_btree_cur_maxrecs(cur, level), sn, k;
	int err;

	*done = 0;
	if (*ip + 1 < n) {
		err = sibling(cur, level, 1, &sbp);
		if (err)
			return err;
		if (sbp && (sn = nrecs(sbp)) < max) {
			/* the new entry stays in bp, before those passed */
			k = (n - sn + 1) / 2;
			if (k > n - 1 - *ip)
				k = n - 1 - *ip;
			move_entries(cur, level, sbp, k, sbp, 0, sn);
			move_entries(cur, level, sbp, 0, bp, n - k, k);
			set_nrecs(cur, sbp, sn + k);
			set_nrecs(cur, bp, n - k);
			set_parent_key(cur, cur->bp[level + 1],
				       (unsigned)cur->ptr[level + 1] + 1, sbp,
				       level);
			cur->nshifts++;
			*done = 1;
			return 0;
		}
	}
	if (*ip > 0) {
		err = sibling(cur, level, -1, &sbp);
		if (err)
			return err;
		if (sbp && (sn = nrecs(sbp)) < max) {
			k = (n - sn + 1) / 2;
			if (k > *ip)
				k = *ip;
			move_entries(cur, level, sbp, sn, bp, 0, k);
			move_entries(cur, level, bp, 0, bp, k, n - k);
			set_nrecs(cur, sbp, sn + k);
			set_nrecs(cur, bp, n - k);
			update_keys(cur, level);
			*ip -= k;
			cur->nshifts++;
			*done = 1;
		}
	}
	return 0;
}

/*
 * Split the full block at level in two, the upper entries moving to a new
 * right sibling, so that both halves are even once the new entry (going
 * at index *ip) is in.  *bpp: the block the new entry goes to, *ip its
 * index there.
 */
static int split(struct kvfs_btree_cur *cur, unsigned level, unsigned *ip,
		 struct kv_buf **bpp, struct kv_buf **nbpp)
{
	struct kv_buf *bp = cur->bp[level], *nbp;
	unsigned n = nrecs(bp), left = (n + 2) / 2, keep;
	int err;

	err = new_block(cur, bp->b_blkno, level, &nbp);
	if (err)
		return err;
	keep = *ip < left ? left - 1 : left;
	move_entries(cur, level, nbp, 0, bp, keep, n - keep);
	set_nrecs(cur, nbp, n - keep);
	set_nrecs(cur, bp, keep);
	bblk(nbp)->leftsib = kv_cpu_to_le64(bp->b_blkno);
	bblk(nbp)->rightsib = bblk(bp)->rightsib;
	err = relink_left(cur, rsib(bp), level, nbp->b_blkno);
	if (err)
		return err;
	bblk(bp)->rightsib = kv_cpu_to_le64(nbp->b_blkno);
	log_hdr(cur, bp);
	*bpp = bp;
	if (*ip >= left) {
		*bpp = nbp;
		*ip -= keep;
	}
	*nbpp = nbp;
	cur->nsplits++;
	return 0;
}

/* The root at level nlevels - 1 split into it and nbp: grow a new root. */
static int new_root(struct kvfs_btree_cur *cur, struct kv_buf *nbp)
{
	unsigned level = cur->nlevels;
	struct kv_buf *old = cur->bp[level - 1], *rbp;
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int err;

	if (level >= KVFS_BTREE_MAXLEVELS)
		return -EFBIG;
	err = new_block(cur, old->b_blkno, level, &rbp);
	if (err)
		return err;
	entry_key(cur, old, level - 1, 0, key);
	set_entry(cur, rbp, level, 0, key, old->b_blkno);
	entry_key(cur, nbp, level - 1, 0, key);
	set_entry(cur, rbp, level, 1, key, nbp->b_blkno);
	set_nrecs(cur, rbp, 2);
	cur->ops->set_root(cur, rbp->b_blkno, level);
	cur->bp[level] = rbp;
	cur->ptr[level] = 0;
	cur->nlevels++;
	cur->nnewroots++;
	return 0;
}

int kvfs_btree_iroot_resize(uint8_t *fork, uint32_t old_size, uint32_t new_size,
			    uint32_t keysize)
{
	const struct kvfs_bmdr_block *rb = (const void *)fork;
	unsigned n = kv_le16_to_cpu(rb->numrecs);
	unsigned omax = kvfs_btree_iroot_maxrecs(old_size, keysize);
	unsigned nmax = kvfs_btree_iroot_maxrecs(new_size, keysize);
	size_t nptrs = KVFS_BMDR_HDR_SIZE + (size_t)nmax * keysize;

	if (n > omax || n > nmax)
		return -ENOSPC;
	memmove(fork + nptrs,
		fork + KVFS_BMDR_HDR_SIZE + (size_t)omax * keysize,
		(size_t)n * sizeof(kv_le64));
	/* what lay between keys and pointers, and past them, is unused */
	memset(fork + KVFS_BMDR_HDR_SIZE + (size_t)n * keysize, 0,
	       (size_t)(nmax - n) * keysize);
	memset(fork + nptrs + (size_t)n * sizeof(kv_le64), 0,
	       new_size - nptrs - (size_t)n * sizeof(kv_le64));
	return 0;
}

uint32_t kvfs_btree_iroot_bytes(const uint8_t *fork, uint32_t keysize)
{
	const struct kvfs_bmdr_block *rb = (const void *)fork;
	uint32_t n = kv_le16_to_cpu(rb->numrecs);

	return (KVFS_BMDR_HDR_SIZE + n * (keysize + (uint32_t)sizeof(kv_le64)) +
		7) &
	       ~7u;
}

/*
 * The inode root (level nlevels - 1) is full: its entries move to a new
 * block of the same level, the root keeps one pointer to it a level up
 * (XFS's xfs_btree_new_iroot).  The path follows: the new block takes
 * the root's place at its level.
 */
static int new_iroot(struct kvfs_btree_cur *cur)
{
	unsigned level = cur->nlevels - 1, n = nrecs(&cur->ibuf);
	struct kv_buf *rbp = &cur->ibuf, *nbp;
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int err;

	if (level + 1 >= KVFS_BTREE_MAXLEVELS)
		return -EFBIG;
	err = new_block(cur, child_at(cur, rbp, 0), level, &nbp);
	if (err)
		return err;
	move_entries(cur, level, nbp, 0, rbp, 0, n);
	set_nrecs(cur, nbp, n);
	memcpy(key, key_at(cur, rbp, 0), cur->fmt->keysize);
	bblk(rbp)->level = kv_cpu_to_le16((uint16_t)(level + 1));
	bblk(rbp)->numrecs = kv_cpu_to_le16(1);
	set_entry(cur, rbp, level + 1, 0, key, nbp->b_blkno);
	cur->bp[level] = nbp;
	cur->bp[level + 1] = rbp;
	cur->ptr[level + 1] = 0;
	cur->nlevels++;
	cur->nnewroots++;
	return 0;
}

/* Insert rec, whose key is key, at the cursor's position (a descent's). */
static int insert_here(struct kvfs_btree_cur *cur, const void *rec,
		       const void *key)
{
	uint8_t ent[KVFS_BTREE_KEY_MAX];
	const void *e = rec;
	uint64_t child = 0, moves;
	unsigned level;
	int stat, err;

	moves = cur->nsplits + cur->nnewroots;
	if (cur->ptr[0] < (int)nrecs(cur->bp[0]) &&
	    !cur->fmt->cmp_key(rec_at(cur, cur->bp[0], (unsigned)cur->ptr[0]),
			       key))
		return -EEXIST;
	for (level = 0;; level++) {
		struct kv_buf *bp = cur->bp[level], *nbp = NULL;
		unsigned i = (unsigned)cur->ptr[level];
		unsigned n = nrecs(bp);
		int done = 0;

		if (is_iroot(cur, bp) && n >= cur->imax) {
			err = new_iroot(cur);
			if (err)
				return err;
			bp = cur->bp[level];
			n = nrecs(bp);
		}
		if (n >= kvfs_btree_cur_maxrecs(cur, level)) {
			if (level + 1 < cur->nlevels) {
				err = shift(cur, level, &i, &done);
				if (err)
					return err;
			}
			if (!done) {
				err = split(cur, level, &i, &bp, &nbp);
				if (err)
					return err;
			}
		}
		n = nrecs(bp);
		move_entries(cur, level, bp, i + 1, bp, i, n - i);
		set_entry(cur, bp, level, i, e, child);
		set_nrecs(cur, bp, n + 1);
		if (!i && bp == cur->bp[level])
			update_keys(cur, level);
		if (!nbp) {
			cur->ptr[level] = (int)i;
			break;
		}
		/* the new block's first key and pointer go to the parent */
		entry_key(cur, nbp, level, 0, ent);
		e = ent;
		child = nbp->b_blkno;
		if (level + 1 == cur->nlevels) {
			err = new_root(cur, nbp);
			if (err)
				return err;
			break;
		}
		cur->ptr[level + 1]++;
	}
	/*
	 * The leaf took the record without a split or new root (the common
	 * case; a shift keeps the new entry in its block, at the index it
	 * adjusted): the cursor's path is the descent's and ptr[0] the
	 * record, as the lookup would find it.  The lookup was a second
	 * descent per insertion (a create's name-hash insert: ~1,000
	 * instructions of its ~25,000).
	 */
	if (!level && moves == cur->nsplits + cur->nnewroots &&
	    !is_iroot(cur, cur->bp[0]))
		return 0;
	err = kvfs_btree_lookup(cur, KVFS_LOOKUP_EQ, key, &stat);
	if (err)
		return err;
	return stat ? 0 :
		      corrupt(cur, cur->bp[0]->b_blkno,
			      "inserted record not found");
}

int kvfs_btree_insert(struct kvfs_btree_cur *cur, const void *rec)
{
	uint8_t key[KVFS_BTREE_KEY_MAX];
	int err;

	cur->fmt->rec_key(rec, key);
	err = descend(cur, key);
	return err ? err : insert_here(cur, rec, key);
}

int kvfs_btree_insert_at(struct kvfs_btree_cur *cur, const void *rec)
{
	uint8_t key[KVFS_BTREE_KEY_MAX];
	struct kv_buf *bp = cur->bp[0];
	int i = cur->ptr[0];

	cur->fmt->rec_key(rec, key);
	/*
	 * Between two records of the leaf, the key's descent is the one
	 * that found the cursor's position: at the leaf's edges the key
	 * may belong to a neighbour, which only a descent tells.
	 */
	if (!cur->ops->iroot && cur->nlevels && bp && i > 0 &&
	    i < (int)nrecs(bp) &&
	    cur->fmt->cmp_key(rec_at(cur, bp, (unsigned)i - 1), key) < 0 &&
	    cur->fmt->cmp_key(rec_at(cur, bp, (unsigned)i), key) > 0)
		return insert_here(cur, rec, key);
	return kvfs_btree_insert(cur, rec);
}

/* The root node has a single child: make the child the root. */
static int kill_root(struct kvfs_btree_cur *cur)
{
	unsigned level = cur->nlevels - 1;
	struct kv_buf *rbp = cur->bp[level];
	uint64_t child = child_at(cur, rbp, 0);
	int err;

	cur->ops->set_root(cur, child, level - 1);
	err = free_block(cur, rbp);
	cur->bp[level] = NULL;
	cur->nlevels--;
	cur->nkillroots++;
	return err;
}

/*
 * The inode root has one entry: when its child is a node whose entries
 * fit the root, they move into the root and the child is freed (XFS's
 * xfs_btree_kill_iroot); else nothing changes (the child may then stay
 * under-full).
 */
static int kill_iroot(struct kvfs_btree_cur *cur)
{
	unsigned top = cur->nlevels - 1;
	struct kv_buf *rbp = &cur->ibuf, *cbp = cur->bp[top - 1];
	unsigned n;
	int err;

	if (top < 2 || nrecs(rbp) != 1 || child_at(cur, rbp, 0) != cbp->b_blkno)
		return 0;
	n = nrecs(cbp);
	if (n > cur->imax)
		return 0;
	bblk(rbp)->level = kv_cpu_to_le16((uint16_t)(top - 1));
	move_entries(cur, top - 1, rbp, 0, cbp, 0, n);
	set_nrecs(cur, rbp, n);
	err = free_block(cur, cbp);
	cur->bp[top] = NULL;
	cur->bp[top - 1] = rbp;
	cur->nlevels--;
	cur->nkillroots++;
	return err;
}

/*
 * Remove entry ptr[level] of the block at level; *more: a block was joined
 * away and its entry ptr[level + 1] must go from the parent.
 */
static int delrec(struct kvfs_btree_cur *cur, unsigned level, int *more)
{
	struct kv_buf *bp = cur->bp[level], *rbp, *lbp;
	unsigned i = (unsigned)cur->ptr[level], n = nrecs(bp);
	unsigned max = kvfs_btree_cur_maxrecs(cur, level), min = max / 2, sn, k;
	int err;

	*more = 0;
	move_entries(cur, level, bp, i, bp, i + 1, n - i - 1);
	set_nrecs(cur, bp, --n);
	if (level + 1 == cur->nlevels) {
		if (is_iroot(cur, bp))
			return n == 1 ? kill_iroot(cur) : 0;
		if (level && n == 1)
			return kill_root(cur);
		return 0;
	}
	if (!i)
		update_keys(cur, level);
	if (n >= min)
		return 0;
	/* the only child of an inode root: no sibling to balance with */
	if (level + 2 == cur->nlevels && is_iroot(cur, cur->bp[level + 1]) &&
	    nrecs(cur->bp[level + 1]) == 1)
		return kill_iroot(cur);
	err = sibling(cur, level, 1, &rbp);
	if (!err)
		err = sibling(cur, level, -1, &lbp);
	if (err)
		return err;
	/* sn > min > n: half the difference, at least one, leaves both >= min */
	if (rbp && (sn = nrecs(rbp)) > min) {
		/* borrow the right sibling's first entries */
		k = (sn - n) / 2;
		move_entries(cur, level, bp, n, rbp, 0, k);
		move_entries(cur, level, rbp, 0, rbp, k, sn - k);
		set_nrecs(cur, rbp, sn - k);
		set_nrecs(cur, bp, n + k);
		set_parent_key(cur, cur->bp[level + 1],
			       (unsigned)cur->ptr[level + 1] + 1, rbp, level);
		if (!n)
			update_keys(cur, level);
		cur->nshifts++;
		return 0;
	}
	if (lbp && (sn = nrecs(lbp)) > min) {
		/* borrow the left sibling's last entries */
		k = (sn - n) / 2;
		move_entries(cur, level, bp, k, bp, 0, n);
		move_entries(cur, level, bp, 0, lbp, sn - k, k);
		set_nrecs(cur, lbp, sn - k);
		set_nrecs(cur, bp, n + k);
		update_keys(cur, level);
		cur->nshifts++;
		return 0;
	}
	if (lbp && nrecs(lbp) + n <= max) {
		/* join into the left sibling */
		sn = nrecs(lbp);
		move_entries(cur, level, lbp, sn, bp, 0, n);
		set_nrecs(cur, lbp, sn + n);
		bblk(lbp)->rightsib = bblk(bp)->rightsib;
		err = relink_left(cur, rsib(bp), level, lbp->b_blkno);
		if (err)
			return err;
		err = free_block(cur, bp);
		cur->bp[level] = lbp;
	} else if (rbp && nrecs(rbp) + n <= max) {
		/* join the right sibling into this block */
		sn = nrecs(rbp);
		move_entries(cur, level, bp, n, rbp, 0, sn);
		set_nrecs(cur, bp, n + sn);
		bblk(bp)->rightsib = bblk(rbp)->rightsib;
		log_hdr(cur, bp);
		err = relink_left(cur, rsib(rbp), level, bp->b_blkno);
		if (err)
			return err;
		err = free_block(cur, rbp);
		cur->ptr[level + 1]++;
	} else {
		return corrupt(cur, bp->b_blkno,
			       "%u entries and no sibling to join", n);
	}
	cur->njoins++;
	*more = 1;
	return err;
}

/* Read n blocks along bp's sibling links, rightwards (dir > 0) or left. */
static int read_chain(struct kvfs_btree_cur *cur, struct kv_buf *bp,
		      unsigned level, int dir, unsigned n)
{
	while (n--) {
		uint64_t fsb = dir > 0 ? rsib(bp) : lsib(bp);
		int err;

		if (fsb == KVFS_NULLBLOCK)
			return 0;
		err = read_block(cur, fsb, level, &bp);
		if (err)
			return err;
	}
	return 0;
}

int kvfs_btree_insert_reads(struct kvfs_btree_cur *cur)
{
	unsigned level;

	/* the blocks read stay joined to the transaction: nothing to drop */
	if (!cur->tp)
		return -EINVAL;
	/* a full block shifts to a sibling or splits, relinking its right */
	for (level = 0; level + 1 < cur->nlevels; level++) {
		struct kv_buf *bp = cur->bp[level], *sbp;
		int err;

		if (!bp || nrecs(bp) < kvfs_btree_cur_maxrecs(cur, level))
			return 0;
		err = sibling(cur, level, 1, &sbp);
		if (!err)
			err = sibling(cur, level, -1, &sbp);
		if (!err)
			err = read_chain(cur, bp, level, 1, 1);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The blocks kvfs_btree_increment() reads from the cursor's last record
 * of a leaf: the path to the next leaf, below the level it climbs to.
 */
static int next_leaf_reads(struct kvfs_btree_cur *cur)
{
	struct kv_buf *bp;
	unsigned l, i;
	int err;

	if (cur->ptr[0] + 1 < (int)nrecs(cur->bp[0]))
		return 0;
	for (l = 1; l < cur->nlevels; l++)
		if (cur->ptr[l] + 1 < (int)nrecs(cur->bp[l]))
			break;
	if (l == cur->nlevels)
		return 0;
	bp = cur->bp[l];
	for (i = (unsigned)cur->ptr[l] + 1; l > 0; l--, i = 0) {
		err = read_block(cur, child_at(cur, bp, i), l - 1, &bp);
		if (err)
			return err;
		if (!nrecs(bp))
			return corrupt(cur, bp->b_blkno,
				       "empty block below the root");
	}
	return 0;
}

int kvfs_btree_delete_reads(struct kvfs_btree_cur *cur,
			    const struct kvfs_btree_cur *ins)
{
	bool reach = ins != NULL;
	unsigned level;
	int err;

	if (!cur->tp || !cur->bp[0])
		return -EINVAL;
	/* the cursor moves on to the next record, maybe the next leaf's */
	err = next_leaf_reads(cur);
	if (err)
		return err;
	for (level = 0; level + 1 < cur->nlevels; level++) {
		struct kv_buf *bp = cur->bp[level], *rbp, *lbp;
		unsigned max = kvfs_btree_cur_maxrecs(cur, level);
		bool moved;

		if (!bp)
			return 0;
		/*
		 * ins's full blocks, from its leaf up, split or pass entries
		 * on: the record may then sit one block over, in a block
		 * left half full, whose siblings reach one block further.
		 */
		reach = reach && level + 1 < ins->nlevels && ins->bp[level] &&
			nrecs(ins->bp[level]) >= max;
		moved = reach && ins->bp[level]->b_blkno == bp->b_blkno;
		/* a level left under-full (delrec()'s test) reaches siblings */
		if (!moved && nrecs(bp) > max / 2)
			return 0;
		err = sibling(cur, level, 1, &rbp);
		if (!err)
			err = sibling(cur, level, -1, &lbp);
		if (err)
			return err;
		/*
		 * A join relinks the block right of the one it frees, under
		 * another parent too; after ins, the blocks' parents and
		 * counts may have changed: their neighbours along the links.
		 */
		if (ins) {
			err = read_chain(cur, bp, level, 1, moved ? 3 : 2);
			if (!err)
				err = read_chain(cur, bp, level, -1,
						 moved ? 2 : 1);
		} else if (!rbp) {
			err = read_chain(cur, bp, level, 1, 1);
		} else if (nrecs(rbp) + nrecs(bp) <= max + 1) {
			err = read_chain(cur, rbp, level, 1, 1);
		}
		if (err)
			return err;
	}
	return 0;
}

int kvfs_btree_delete(struct kvfs_btree_cur *cur, int *stat)
{
	uint8_t key[KVFS_BTREE_KEY_MAX];
	uint64_t moves;
	unsigned level;
	int more, err;

	if (!cur->bp[0] || cur->ptr[0] < 0 ||
	    cur->ptr[0] >= (int)nrecs(cur->bp[0]))
		return -ENOENT;
	entry_key(cur, cur->bp[0], 0, (unsigned)cur->ptr[0], key);
	moves = cur->nshifts + cur->njoins + cur->nkillroots;
	for (level = 0;; level++) {
		err = delrec(cur, level, &more);
		if (err)
			return err;
		if (!more)
			break;
	}
	/*
	 * Nothing moved but the leaf's entries after the deleted one (the
	 * common case): the cursor already points at the record that
	 * followed, as the lookup would find it, unless that one starts the
	 * next leaf.  The lookup was a descent per deletion.
	 */
	if (!level && moves == cur->nshifts + cur->njoins + cur->nkillroots &&
	    !is_iroot(cur, cur->bp[0]) &&
	    cur->ptr[0] < (int)nrecs(cur->bp[0])) {
		*stat = 1;
		return 0;
	}
	return kvfs_btree_lookup(cur, KVFS_LOOKUP_GE, key, stat);
}

int kvfs_btree_update(struct kvfs_btree_cur *cur, const void *rec)
{
	uint8_t key[KVFS_BTREE_KEY_MAX], k[KVFS_BTREE_KEY_MAX];
	struct kv_buf *bp = cur->bp[0];
	int i = cur->ptr[0];

	if (!bp || i < 0 || i >= (int)nrecs(bp))
		return -ENOENT;
	cur->fmt->rec_key(rec, key);
	if (i > 0) {
		entry_key(cur, bp, 0, (unsigned)i - 1, k);
		if (cur->fmt->cmp_key(k, key) >= 0)
			return -EINVAL;
	}
	if (i + 1 < (int)nrecs(bp)) {
		entry_key(cur, bp, 0, (unsigned)i + 1, k);
		if (cur->fmt->cmp_key(key, k) >= 0)
			return -EINVAL;
	}
	set_entry(cur, bp, 0, (unsigned)i, rec, 0);
	if (!i)
		update_keys(cur, 0);
	return 0;
}

/*
 * May the record at leaf position i take a key that moves away from the
 * neighbour beyond the leaf's edge on side dir (-1 left, +1 right)?  Yes
 * when i is not at that edge, or no leaf lies beyond it; the neighbour
 * there is on the right side of the old key, so a key moving away from it
 * keeps the order too (up: from the left one, down: from the right one).
 */
static bool edge_ok(struct kvfs_btree_cur *cur, struct kv_buf *bp, int i,
		    int dir, bool away)
{
	if (dir < 0 ? i > 0 : i + 1 < (int)nrecs(bp))
		return true;
	if (away || cur->nlevels == 1)
		return true;
	return (dir < 0 ? lsib(bp) : rsib(bp)) == KVFS_NULLBLOCK;
}

int kvfs_btree_update_moved(struct kvfs_btree_cur *cur, const void *rec,
			    bool *done)
{
	uint8_t key[KVFS_BTREE_KEY_MAX], old[KVFS_BTREE_KEY_MAX];
	struct kv_buf *bp = cur->bp[0];
	int i = cur->ptr[0], up, err;

	*done = false;
	if (!bp || i < 0 || i >= (int)nrecs(bp))
		return -ENOENT;
	cur->fmt->rec_key(rec, key);
	entry_key(cur, bp, 0, (unsigned)i, old);
	up = cur->fmt->cmp_key(key, old) > 0;
	if (!edge_ok(cur, bp, i, -1, up) || !edge_ok(cur, bp, i, 1, !up))
		return 0;
	err = kvfs_btree_update(cur, rec);
	if (err == -EINVAL)
		return 0;
	*done = !err;
	return err;
}

static int destroy_block(struct kvfs_btree_cur *cur, uint64_t fsb,
			 unsigned level,
			 int (*rec_fn)(const void *rec, void *priv), void *priv)
{
	struct kv_buf *bp = NULL;
	int err;

	err = read_block(cur, fsb, level, &bp);
	if (err)
		return err;
	for (unsigned i = 0; i < nrecs(bp); i++) {
		if (level)
			err = destroy_block(cur, child_at(cur, bp, i),
					    level - 1, rec_fn, priv);
		else
			err = rec_fn(rec_at(cur, bp, i), priv);
		if (err)
			return err;
	}
	return free_block(cur, bp);
}

int kvfs_btree_destroy(struct kvfs_btree_cur *cur,
		       int (*rec_fn)(const void *rec, void *priv), void *priv)
{
	uint64_t fsb;
	unsigned level;
	int err;

	kvfs_btree_cur_del(cur);
	cur->nlevels = 0;
	if (!cur->ops->iroot) {
		cur->ops->get_root(cur, &fsb, &level);
		if (level >= KVFS_BTREE_MAXLEVELS)
			return corrupt(cur, fsb, "root level %u", level);
		return destroy_block(cur, fsb, level, rec_fn, priv);
	}
	err = iroot_load(cur);
	if (err)
		return err;
	level = kv_le16_to_cpu(bblk(&cur->ibuf)->level);
	for (unsigned i = 0; i < nrecs(&cur->ibuf); i++) {
		err = destroy_block(cur, child_at(cur, &cur->ibuf, i),
				    level - 1, rec_fn, priv);
		if (err)
			return err;
	}
	return 0;
}

/* ---- the structure walk ---- */

/* Blocks seen, an open-addressing set (block numbers + 1, 0 is empty). */
struct blkset {
	uint64_t *slot;
	size_t cap, nr;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int blkset_add(struct blkset *s, uint64_t v, bool *seen)
{
	size_t i;

	if ((s->nr + 1) * 2 > s->cap) {
		struct blkset n = { .cap = s->cap ? s->cap * 2 : 256 };
		bool dummy;

		n.slot = kvcalloc(n.cap, sizeof(*n.slot), 0);
		if (!n.slot)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++)
			if (s->slot[i])
				blkset_add(&n, s->slot[i] - 1, &dummy);
		kvfree(s->slot);
		*s = n;
	}
	for (i = mix(v) & (s->cap - 1); s->slot[i]; i = (i + 1) & (s->cap - 1))
		if (s->slot[i] == v + 1) {
			*seen = true;
			return 0;
		}
	s->slot[i] = v + 1;
	s->nr++;
	*seen = false;
	return 0;
}

struct walk {
	struct kvfs_btree_cur *cur;
	struct kv_bcache *bc;
	struct kvfs_btree_walk *w;
	struct blkset seen;
	uint8_t *blk[KVFS_BTREE_MAXLEVELS];
	/* per level: the last block visited and its right sibling pointer */
	uint64_t prev[KVFS_BTREE_MAXLEVELS], prev_right[KVFS_BTREE_MAXLEVELS];
	/* per level: the last key seen, for the order across blocks */
	uint8_t last_key[KVFS_BTREE_MAXLEVELS][KVFS_BTREE_KEY_MAX];
	bool have_key[KVFS_BTREE_MAXLEVELS];
	uint8_t *last_rec; /* the last record, for check_next across leaves */
	bool have_rec;
};

static void finding(struct walk *ws, uint64_t blkno, int level, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static void finding(struct walk *ws, uint64_t blkno, int level, const char *fmt,
		    ...)
{
	struct kvfs_btree_walk *w = ws->w;
	struct kvfs_btree_finding *f;
	va_list ap;

	if (w->nfindings++ >= KVFS_BTREE_WALK_MAX_FINDINGS)
		return;
	f = &w->findings[w->nfindings - 1];
	f->blkno = blkno;
	f->level = level;
	va_start(ap, fmt);
	vsnprintf(f->what, sizeof(f->what), fmt, ap);
	va_end(ap);
}

static bool in_range(const struct kvfs_btree_cur *cur, uint64_t fsb)
{
	if (fsb >= cur->g->dblocks)
		return false;
	return !cur->fmt->ag_tree ||
	       (kvfs_fsb_to_agno(cur->g, fsb) == cur->owner &&
		kvfs_fsb_to_agbno(cur->g, fsb) >= KVFS_AG_HDR_BLOCKS);
}

/*
 * The block fsb at level under the parent key pkey (NULL: the root); lone:
 * the only child of an inode root, which may hold fewer than the minimum.
 */
static int walk_block(struct walk *ws, uint64_t fsb, unsigned level,
		      const void *pkey, bool lone)
{
	struct kvfs_btree_cur *cur = ws->cur;
	const struct kvfs_btree_ops *fmt = cur->fmt;
	struct kvfs_btree_walk *w = ws->w;
	uint32_t bs = cur->g->blocksize;
	bool root = !pkey, seen;
	uint8_t *b = ws->blk[level], key[KVFS_BTREE_KEY_MAX];
	struct kvfs_btree_block *bb = (void *)b;
	struct kv_buf *bp = NULL;
	unsigned n, min, i;
	char why[160];
	int err;

	if (!in_range(cur, fsb)) {
		finding(ws, fsb, (int)level, "block outside the tree's range");
		return 0;
	}
	err = blkset_add(&ws->seen, fsb, &seen);
	if (err)
		return err;
	if (seen) {
		finding(ws, fsb, (int)level, "block reached twice");
		return 0;
	}
	err = kv_buf_read(ws->bc, fsb, 1, cur->ops->buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG) {
		finding(ws, fsb, (int)level, "unreadable: %s",
			kv_buf_last_error());
		return 0;
	}
	if (err)
		return err;
	kv_buf_lock(bp);
	memcpy(b, bp->b_addr, bs);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	w->nblocks[level]++;
	if (w->blk_fn) {
		err = w->blk_fn(fsb, level, w->priv);
		if (err)
			return err;
	}
	if (kvfs_btree_check_block(b, cur->g, fmt, fsb, cur->owner, (int)level,
				   why, sizeof(why))) {
		/* its neighbours are still checked against its links */
		finding(ws, fsb, (int)level, "%s", why);
		ws->prev[level] = fsb;
		ws->prev_right[level] = kv_le64_to_cpu(bb->rightsib);
		return 0;
	}
	n = kv_le16_to_cpu(bb->numrecs);
	min = kvfs_btree_minrecs(fmt, bs, level);
	if (!root && !lone && n < min)
		finding(ws, fsb, (int)level,
			"%u entries, fewer than the minimum %u", n, min);
	if (root && level && n < 2)
		finding(ws, fsb, (int)level, "root node with %u entries", n);
	if (kv_le64_to_cpu(bb->leftsib) != ws->prev[level])
		finding(ws, fsb, (int)level,
			"left sibling %" PRIu64 ", expected %" PRIu64,
			(uint64_t)kv_le64_to_cpu(bb->leftsib), ws->prev[level]);
	if (ws->prev[level] != KVFS_NULLBLOCK && ws->prev_right[level] != fsb)
		finding(ws, ws->prev[level], (int)level,
			"right sibling %" PRIu64 ", expected %" PRIu64,
			ws->prev_right[level], fsb);
	ws->prev[level] = fsb;
	ws->prev_right[level] = kv_le64_to_cpu(bb->rightsib);
	if (!n)
		return 0;
	if (level)
		memcpy(key, kvfs_btree_key(b, fmt, 0), fmt->keysize);
	else
		fmt->rec_key(kvfs_btree_rec(b, fmt, 0), key);
	if (pkey && fmt->cmp_key(pkey, key))
		finding(ws, fsb, (int)level,
			"first key differs from the parent's key");
	if (ws->have_key[level] && fmt->cmp_key(ws->last_key[level], key) >= 0)
		finding(ws, fsb, (int)level,
			"first %s out of order with the previous block's last",
			level ? "key" : "record");
	ws->have_key[level] = true;
	if (level)
		memcpy(ws->last_key[level], kvfs_btree_key(b, fmt, n - 1),
		       fmt->keysize);
	else
		fmt->rec_key(kvfs_btree_rec(b, fmt, n - 1),
			     ws->last_key[level]);
	if (!level) {
		const char *bad;

		if (ws->have_rec && fmt->check_next &&
		    (bad = fmt->check_next(ws->last_rec,
					   kvfs_btree_rec(b, fmt, 0))))
			finding(ws, fsb, 0, "record 0: %s", bad);
		for (i = 0; i < n; i++) {
			w->nrecs++;
			if (w->rec_fn) {
				err = w->rec_fn(kvfs_btree_rec(b, fmt, i),
						w->priv);
				if (err)
					return err;
			}
		}
		memcpy(ws->last_rec, kvfs_btree_rec(b, fmt, n - 1),
		       fmt->recsize);
		ws->have_rec = true;
		return 0;
	}
	for (i = 0; i < n; i++) {
		uint64_t child = kv_le64_to_cpu(*kvfs_btree_ptr(b, fmt, bs, i));

		err = walk_block(ws, child, level - 1,
				 kvfs_btree_key(b, fmt, i), false);
		if (err)
			return err;
	}
	return 0;
}

/* The inode root (decoded in cur->ibuf): its keys, then its children. */
static int walk_iroot(struct walk *ws, unsigned level)
{
	struct kvfs_btree_cur *cur = ws->cur;
	struct kv_buf *rbp = &cur->ibuf;
	unsigned n = nrecs(rbp);
	int err;

	for (unsigned i = 1; i < n; i++)
		if (cur->fmt->cmp_key(key_at(cur, rbp, i - 1),
				      key_at(cur, rbp, i)) >= 0)
			finding(ws, KVFS_NULLBLOCK, (int)level,
				"inode root key %u out of order", i);
	for (unsigned i = 0; i < n; i++) {
		err = walk_block(ws, child_at(cur, rbp, i), level - 1,
				 key_at(cur, rbp, i), n == 1);
		if (err)
			return err;
	}
	return 0;
}

int kvfs_btree_walk_check(struct kvfs_btree_cur *cur, struct kv_bcache *bc,
			  struct kvfs_btree_walk *w)
{
	struct walk ws = { .cur = cur, .bc = bc, .w = w };
	uint32_t bs = cur->g->blocksize;
	uint64_t root;
	unsigned level, l;
	int err = 0;

	w->height = 0;
	w->nrecs = 0;
	w->nfindings = 0;
	memset(w->nblocks, 0, sizeof(w->nblocks));
	if (cur->ops->iroot) {
		if (iroot_load(cur)) {
			finding(&ws, KVFS_NULLBLOCK, -1, "inode root: %s",
				kvfs_report_last()->msg);
			return -EUCLEAN;
		}
		root = KVFS_NULLBLOCK;
		level = kv_le16_to_cpu(bblk(&cur->ibuf)->level);
	} else {
		cur->ops->get_root(cur, &root, &level);
	}
	if (level >= KVFS_BTREE_MAXLEVELS) {
		finding(&ws, root, (int)level, "root level %u", level);
		return -EUCLEAN;
	}
	w->height = level + 1;
	for (l = 0; l <= level; l++) {
		ws.prev[l] = KVFS_NULLBLOCK;
		ws.blk[l] = kvmalloc(bs, 0);
		if (!ws.blk[l])
			err = -ENOMEM;
	}
	ws.last_rec = kvmalloc(cur->fmt->recsize, 0);
	if (!ws.last_rec)
		err = -ENOMEM;
	if (!err && cur->ops->iroot)
		err = walk_iroot(&ws, level);
	else if (!err)
		err = walk_block(&ws, root, level, NULL, false);
	for (l = 0; !err && l <= level; l++)
		if (ws.prev[l] != KVFS_NULLBLOCK &&
		    ws.prev_right[l] != KVFS_NULLBLOCK)
			finding(&ws, ws.prev[l], (int)l,
				"right sibling %" PRIu64
				" at the right edge of the level",
				ws.prev_right[l]);
	for (l = 0; l <= level; l++)
		kvfree(ws.blk[l]);
	kvfree(ws.last_rec);
	kvfree(ws.seen.slot);
	if (err)
		return err;
	return w->nfindings ? -EUCLEAN : 0;
}
