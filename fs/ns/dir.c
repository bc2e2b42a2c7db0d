// SPDX-License-Identifier: GPL-2.0
/*
 * Directories: short form in the inode, data blocks with the name hash and
 * free-space indexes past that (fs/ns/dir.h has the contract, fs/format.h the
 * format).  Locks: the directory's inode lock (fs/inode/inode.h) covers the
 * short form, the head, every data block and both trees; this file takes
 * no lock of its own.  kvfs_dir_lookup_rcu() (fs/ns/dir_rcu.c) reads them
 * without it, as a seqcount reader of the lock's i_lock_seq (the top of
 * that file says why that holds); fs/ns/dir_walk.c reads a stored
 * directory for the checker; fs/ns/dir_data.c keeps a data block's
 * records, fs/ns/dir_map.c the data blocks' addresses.
 */
#include "fs/ns/dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/bmap_btree.h"
#include "fs/data/bmap.h"
#include "fs/space/alloc.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/format/dinode.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/ns/dir_priv.h"
#include "journal/errortag.h"
#include "fs/trans/trans.h"

/* More than the largest inode's fork can hold (2048 - 208) / 24. */
#define SF_MAX_ENTRIES 80

static _Atomic uint64_t st_to_block, st_to_sf, st_added, st_freed;

void kvfs_dir_get_stats(struct kvfs_dir_stats *st)
{
	st->to_block = atomic_load(&st_to_block);
	st->to_sf = atomic_load(&st_to_sf);
	st->blocks_added = atomic_load(&st_added);
	st->blocks_freed = atomic_load(&st_freed);
}

int kvfs_dir_name_check(const char *name, size_t len)
{
	if (!len)
		return -EINVAL;
	if (len > KVFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return -EINVAL;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	return 0;
}

unsigned kvfs_ftype_to_dtype(uint8_t ftype)
{
	static const unsigned t[KVFS_FT_MAX] = {
		[KVFS_FT_UNKNOWN] = DT_UNKNOWN, [KVFS_FT_REG] = DT_REG,
		[KVFS_FT_DIR] = DT_DIR,		[KVFS_FT_CHR] = DT_CHR,
		[KVFS_FT_BLK] = DT_BLK,		[KVFS_FT_FIFO] = DT_FIFO,
		[KVFS_FT_SOCK] = DT_SOCK,	[KVFS_FT_LNK] = DT_LNK,
	};

	return ftype < KVFS_FT_MAX ? t[ftype] : DT_UNKNOWN;
}

/* ---- common ---- */

struct dctx {
	struct kvfs_trans *tp; /* NULL: read only */
	struct kvfs_inode *dp;
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;
	struct kv_buf *hbp; /* data block 0 */
};

static void dctx_init(struct dctx *d, struct kvfs_trans *tp,
		      struct kvfs_inode *dp)
{
	d->tp = tp;
	d->dp = dp;
	d->mp = dp->i_mount;
	d->g = &dp->i_mount->g;
	d->hbp = NULL;
}

static int corrupt(struct dctx *d, uint64_t blkno, const char *what)
{
	return kvfs_corrupt_inode(-EUCLEAN, blkno, d->dp->i_ino,
				  "directory: %s", what);
}

static void rele(struct dctx *d, struct kv_buf *bp)
{
	if (!d->tp && bp)
		kv_buf_rele(bp);
}

/* Data block dblk, held (read only) or locked in d->tp. */
static int read_dblk(struct dctx *d, uint32_t dblk, struct kv_buf **bpp)
{
	struct kv_buf *bp = NULL;
	uint64_t fsb = 0;
	int err;

	if (dblk == 0 && d->hbp) {
		*bpp = d->hbp;
		if (!d->tp)
			kv_buf_hold(d->hbp);
		return 0;
	}
	err = kvfs_dir_map_dblk(d->dp, dblk, &fsb);
	if (err)
		return err;
	if (d->tp)
		err = kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, fsbs(d->g),
					  &kvfs_dir_data_buf_ops, &bp);
	else
		err = kv_buf_read(d->mp->bc, fsb, fsbs(d->g),
				  &kvfs_dir_data_buf_ops, &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	if (kv_le64_to_cpu(dhdr(bp)->hdr.owner) != d->dp->i_ino ||
	    kv_le32_to_cpu(dhdr(bp)->dblk) != dblk) {
		rele(d, bp);
		return corrupt(d, fsb, "data block of another directory");
	}
	*bpp = bp;
	return 0;
}

static int read_head(struct dctx *d)
{
	struct kv_buf *bp = NULL;
	int err;

	if (d->hbp)
		return 0;
	err = read_dblk(d, 0, &bp);
	if (err == -ENODATA) /* a hole is no head block: damage */
		return corrupt(d, KVFS_NULLBLOCK, "no head block");
	if (err)
		return err;
	/*
	 * Every change sets the size with the head's end (fs/format.h): one
	 * that differs is damage, which would hide entries or show blocks
	 * past the end.
	 */
	if (d->dp->i_size !=
	    (uint64_t)kv_le32_to_cpu(head(bp)->ndata) * d->g->dirblksize) {
		uint64_t blkno = bp->b_blkno;

		rele(d, bp);
		return corrupt(d, blkno, "size is not the head's data blocks'");
	}
	d->hbp = bp;
	return 0;
}

static void dctx_done(struct dctx *d)
{
	rele(d, d->hbp);
	d->hbp = NULL;
}

static void log_range(struct dctx *d, struct kv_buf *bp, uint32_t first,
		      uint32_t len)
{
	kvfs_trans_log_buf(d->tp->jt, bp, first, first + len - 1);
}

static void tree_cur(struct dctx *d, struct kvfs_btree_cur *cur,
		     struct kvfs_dir_tree_ctx *c, bool free_tree)
{
	c->tp = d->tp;
	c->dp = d->dp;
	c->hbp = d->hbp;
	c->free_tree = free_tree;
	kvfs_btree_cur_init(cur,
			    free_tree ? &kvfs_dir_free_tree_ops :
					&kvfs_dir_hash_tree_ops,
			    d->g, d->tp->jt, d->mp->bl, d->dp->i_ino, c);
}

/* ---- the name hash index, read without a transaction ---- */

/*
 * join: locked in d->tp (the path from the root to the first leaf, which
 * an insertion in the same transaction descends again), else held.
 */
static int read_tree_blk(struct dctx *d, uint64_t fsb, unsigned level,
			 bool join, struct kv_buf **bpp)
{
	const struct kvfs_btree_block *bb;
	struct kv_buf *bp = NULL;
	int err;

	if (fsb >= d->g->dblocks)
		return corrupt(d, fsb, "hash index pointer out of range");
	err = join ? kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, 1,
					 &kvfs_dir_hash_buf_ops, &bp) :
		     kv_buf_read(d->mp->bc, fsb, 1, &kvfs_dir_hash_buf_ops,
				 &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	bb = bp->b_addr;
	if (kv_le32_to_cpu(bb->hdr.magic) != KVFS_DIR_HASH_MAGIC ||
	    kv_le64_to_cpu(bb->hdr.owner) != d->dp->i_ino ||
	    kv_le16_to_cpu(bb->level) != level) {
		if (!join)
			kv_buf_rele(bp);
		return corrupt(d, fsb, "hash index block out of place");
	}
	*bpp = bp;
	return 0;
}

static void tree_blk_rele(struct kv_buf *bp, bool joined)
{
	if (!joined)
		kv_buf_rele(bp);
}

static int hkey_cmp(uint32_t h1, uint64_t a1, uint32_t h2, uint64_t a2)
{
	if (h1 != h2)
		return h1 < h2 ? -1 : 1;
	return a1 < a2 ? -1 : a1 > a2;
}

/* A match found by the hash walk. */
struct hmatch {
	const char *name;
	size_t len;
	uint64_t addr;
	uint64_t ino;
	uint8_t ftype;
};

/* Does the entry at address addr carry m's name? */
static int entry_matches(struct dctx *d, uint64_t addr, struct hmatch *m,
			 bool *hit)
{
	uint64_t byte = addr * 8;
	uint32_t dblk = (uint32_t)(byte >> d->g->dirblklog);
	uint32_t off = (uint32_t)(byte & (d->g->dirblksize - 1));
	struct kvfs_dir_data_ent *e;
	struct kv_buf *bp = NULL;
	int err;

	if (dblk >= kv_le32_to_cpu(head(d->hbp)->ndata) ||
	    off < data_start(dblk) ||
	    off + KVFS_DIR_DATA_ENT_SIZE > d->g->dirblksize)
		return corrupt(d, d->hbp->b_blkno,
			       "hash index names an address outside the data");
	err = read_dblk(d, dblk, &bp);
	if (err == -ENODATA)
		return corrupt(d, d->hbp->b_blkno,
			       "hash index names a freed data block");
	if (err)
		return err;
	e = ent_at(bp, off);
	*hit = false;
	/*
	 * The data block's verifier walks its records from the start; an
	 * address from the index may point inside one (an unused record's
	 * bytes are not checked): the record must hold the name it claims.
	 */
	if (!kv_le64_to_cpu(e->ino) ||
	    kv_le32_to_cpu(e->reclen) < KVFS_DIR_DATA_ENTSIZE(e->namelen) ||
	    off + kv_le32_to_cpu(e->reclen) > d->g->dirblksize) {
		rele(d, bp);
		return corrupt(d, bp->b_blkno, "hash index names no entry");
	}
	if (e->namelen == m->len && !memcmp(e->name, m->name, m->len)) {
		*hit = true;
		m->addr = addr;
		m->ino = kv_le64_to_cpu(e->ino);
		m->ftype = e->ftype;
	}
	rele(d, bp);
	return 0;
}

/*
 * Binary searches of one hash index block (the linear scans of a 4 KiB
 * block's few hundred keys were a fifth of the instructions of a warm
 * lookup).  In a node of n >= 1 keys: the last child whose first key is
 * <= (hash, 0), child 0 if none.
 */
static unsigned hash_node_child(struct kvfs_btree_block *bb,
				const struct kvfs_btree_ops *ops, unsigned n,
				uint32_t hash)
{
	unsigned lo = 0, hi = n - 1;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;
		struct kvfs_dir_hash_rec *k = kvfs_btree_key(bb, ops, mid);

		if (hkey_cmp(kv_le32_to_cpu(k->hash), kv_le32_to_cpu(k->addr),
			     hash, 0) > 0)
			hi = mid - 1;
		else
			lo = mid;
	}
	return lo;
}

/* In a leaf of n records: the first whose hash is >= hash (n if none). */
static unsigned hash_leaf_first(struct kvfs_btree_block *bb,
				const struct kvfs_btree_ops *ops, unsigned n,
				uint32_t hash)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		struct kvfs_dir_hash_rec *r = kvfs_btree_rec(bb, ops, mid);

		if (kv_le32_to_cpu(r->hash) < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Find m->name through the hash index: descend to the first record with
 * key >= (hash, 0), then follow records (and right siblings) while the
 * hash matches.  *found false if none carries the name.  In a
 * transaction the descent's blocks are joined to it, where the name's
 * insertion finds them again; right siblings, as many as the hash's
 * collisions span, are only read.
 */
static int hash_find(struct dctx *d, struct hmatch *m, bool *found)
{
	const struct kvfs_geom *g = d->g;
	uint32_t hash =
		kvfs_dir_hashname((const uint8_t *)m->name, (unsigned)m->len);
	const struct kvfs_dir_head *hd = head(d->hbp);
	uint64_t fsb = kv_le64_to_cpu(hd->hash_root);
	unsigned level = hd->hash_level;
	const struct kvfs_btree_ops *ops = &kvfs_dir_hash_ops;
	struct kv_buf *bp = NULL;
	bool joined = d->tp != NULL;
	int err, hops = 0;
	unsigned i, n;

	*found = false;
	for (;;) {
		struct kvfs_btree_block *bb;

		err = read_tree_blk(d, fsb, level, joined, &bp);
		if (err)
			return err;
		bb = bp->b_addr;
		n = kv_le16_to_cpu(bb->numrecs);
		if (!level)
			break;
		if (!n) {
			tree_blk_rele(bp, joined);
			return corrupt(d, fsb, "empty hash index node");
		}
		i = hash_node_child(bb, ops, n, hash);
		fsb = kv_le64_to_cpu(*kvfs_btree_ptr(bb, ops, g->blocksize, i));
		tree_blk_rele(bp, joined);
		level--;
	}
	/* at the leaf: records from the first >= (hash, 0) */
	for (i = hash_leaf_first(bp->b_addr, ops, n, hash);;) {
		struct kvfs_btree_block *bb = bp->b_addr;
		uint64_t next;

		n = kv_le16_to_cpu(bb->numrecs);
		for (; i < n; i++) {
			struct kvfs_dir_hash_rec *r =
				kvfs_btree_rec(bb, ops, i);
			uint32_t rh = kv_le32_to_cpu(r->hash);
			bool hit = false;

			if (rh < hash)
				continue;
			if (rh > hash) {
				tree_blk_rele(bp, joined);
				return 0;
			}
			err = entry_matches(d, kv_le32_to_cpu(r->addr), m,
					    &hit);
			if (err || hit) {
				tree_blk_rele(bp, joined);
				*found = !err;
				return err;
			}
		}
		next = kv_le64_to_cpu(bb->rightsib);
		tree_blk_rele(bp, joined);
		if (next == KVFS_NULLBLOCK)
			return 0;
		if (++hops > 1 << 20)
			return corrupt(d, next, "hash index sibling loop");
		joined = false;
		err = read_tree_blk(d, next, 0, false, &bp);
		if (err)
			return err;
		i = 0;
	}
}

/* ---- short form ---- */

static struct kvfs_dir_sf_hdr *sfh(struct kvfs_inode *dp)
{
	return (void *)dp->i_dfork;
}

static struct kvfs_dir_sf_ent *sf_first(struct kvfs_inode *dp)
{
	return (void *)(dp->i_dfork + KVFS_DIR_SF_HDR_SIZE);
}

static struct kvfs_dir_sf_ent *sf_next(struct kvfs_dir_sf_ent *e)
{
	return (void *)((uint8_t *)e + KVFS_DIR_SF_ENTSIZE(e->namelen));
}

static struct kvfs_dir_sf_ent *sf_find(struct kvfs_inode *dp, const char *name,
				       size_t len)
{
	struct kvfs_dir_sf_ent *e = sf_first(dp);
	unsigned n = kv_le16_to_cpu(sfh(dp)->count);

	for (unsigned i = 0; i < n; i++, e = sf_next(e))
		if (e->namelen == len && !memcmp(e->name, name, len))
			return e;
	return NULL;
}

static void log_sf(struct kvfs_trans *tp, struct kvfs_inode *dp)
{
	kvfs_trans_log_inode(tp, dp, KVFS_ILOG_CORE | KVFS_ILOG_DFORK);
}

void kvfs_dir_init(struct kvfs_trans *tp, struct kvfs_inode *dp,
		   uint64_t parent)
{
	kvfs_dir_map_forget(dp);
	kvfs_inode_own_forks(dp);
	memset(dp->i_dfork, 0, kvfs_inode_dfork_size(dp));
	dp->i_dformat = KVFS_DFORK_INLINE;
	dp->i_nextents = 0;
	sfh(dp)->parent = kv_cpu_to_le64(parent);
	dp->i_size = KVFS_DIR_SF_HDR_SIZE;
	log_sf(tp, dp);
}

static int check_format(struct kvfs_inode *dp)
{
	if (!S_ISDIR(dp->i_mode))
		return -ENOTDIR;
	/* blocks scattered among other files' outgrow the in-inode list */
	if (dp->i_dformat == KVFS_DFORK_INLINE ||
	    dp->i_dformat == KVFS_DFORK_EXTENTS ||
	    dp->i_dformat == KVFS_DFORK_BTREE)
		return 0;
	return kvfs_corrupt_inode(-EUCLEAN, KVFS_NULLBLOCK, dp->i_ino,
				  "directory fork format %u", dp->i_dformat);
}

/* ---- the index trees, in d->tp ---- */

/*
 * Insert rec into the free-space index (free_tree) or the name-hash index;
 * a record already there is corruption, reported as dup.  The insertion's
 * own descent finds it (-EEXIST): no lookup first, which walked the tree
 * twice per record.
 */
static int idx_insert(struct dctx *d, bool free_tree, const void *rec,
		      const char *dup)
{
	struct kvfs_btree_cur cur;
	struct kvfs_dir_tree_ctx c;
	int err;

	tree_cur(d, &cur, &c, free_tree);
	err = kvfs_btree_insert(&cur, rec);
	return err == -EEXIST ? corrupt(d, d->hbp->b_blkno, dup) : err;
}

/* at: a cursor a lookup left where the record goes, or NULL. */
static int hash_insert(struct dctx *d, uint32_t hash, uint64_t addr,
		       struct kvfs_dir_cur *at)
{
	struct kvfs_dir_hash_rec r = { .hash = kv_cpu_to_le32(hash),
				       .addr = kv_cpu_to_le32((uint32_t)addr) };
	int err;

	if (!at)
		return idx_insert(d, false, &r, "hash record exists");
	err = kvfs_btree_insert_at(&at->cur, &r);
	return err == -EEXIST ?
		       corrupt(d, d->hbp->b_blkno, "hash record exists") :
		       err;
}

/* Delete rec from one index; *found false (and nothing done) if absent. */
static int idx_delete(struct dctx *d, bool free_tree, const void *rec,
		      bool *found)
{
	struct kvfs_btree_cur cur;
	struct kvfs_dir_tree_ctx c;
	int stat, err;

	tree_cur(d, &cur, &c, free_tree);
	err = kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, rec, &stat);
	if (err)
		return err;
	*found = stat;
	return stat ? kvfs_btree_delete(&cur, &stat) : 0;
}

static int hash_delete(struct dctx *d, uint32_t hash, uint64_t addr)
{
	struct kvfs_dir_hash_rec r = { .hash = kv_cpu_to_le32(hash),
				       .addr = kv_cpu_to_le32((uint32_t)addr) };
	bool found;
	int err = idx_delete(d, false, &r, &found);

	if (!err && !found)
		return corrupt(d, d->hbp->b_blkno, "hash record missing");
	return err;
}

static int free_insert(struct dctx *d, uint32_t best, uint32_t dblk)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(best),
				       .dblk = kv_cpu_to_le32(dblk) };

	return idx_insert(d, true, &r, "free record exists");
}

/* Delete (best, dblk); *found false (and nothing done) if absent. */
static int free_delete(struct dctx *d, uint32_t best, uint32_t dblk,
		       bool *found)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(best),
				       .dblk = kv_cpu_to_le32(dblk) };

	return idx_delete(d, true, &r, found);
}

/*
 * The record's key changed from old to new: rewritten in place where the
 * order allows (the block filling up or emptying usually stays between
 * the same neighbours), else deleted and inserted again.
 */
static int free_move(struct dctx *d, struct kvfs_dir_cur *fc, uint32_t old,
		     uint32_t new, uint32_t dblk)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(old),
				       .dblk = kv_cpu_to_le32(dblk) };
	struct kvfs_dir_free_rec at;
	struct kvfs_dir_cur own;
	bool done;
	int stat, err;

	if (old == new)
		return 0;
	/*
	 * free_find()'s cursor still on the record (nothing changed the
	 * index since, in this transaction): no second descent
	 */
	if (fc && !kvfs_btree_get_rec(&fc->cur, &at, &stat) && stat &&
	    !memcmp(&at, &r, sizeof(r))) {
		err = 0;
	} else {
		fc = &own;
		tree_cur(d, &fc->cur, &fc->c, true);
		err = kvfs_btree_lookup(&fc->cur, KVFS_LOOKUP_EQ, &r, &stat);
		if (!err && !stat)
			return corrupt(d, d->hbp->b_blkno,
				       "free record missing");
	}
	r.best = kv_cpu_to_le32(new);
	if (!err)
		err = kvfs_btree_update_moved(&fc->cur, &r, &done);
	if (err || done)
		return err;
	err = kvfs_btree_delete(&fc->cur, &stat);
	return err ? err : free_insert(d, new, dblk);
}

/* The best bp's free-space index record carries (fs/format.h: idxlag). */
static uint32_t idx_best(struct kv_buf *bp)
{
	return kv_le32_to_cpu(dhdr(bp)->bestfree) -
	       kv_le32_to_cpu(dhdr(bp)->idxlag);
}

/*
 * Data block dblk's bestfree changed; old is the best its record carries.
 * The record moves, unless it can stay, promising less room than there
 * is: in a transaction without the blocks a split of the index may take
 * (a removal on a full filesystem, XFS's xfs_remove() with resblks 0,
 * then changes nothing that could need a block), or when it already
 * promises room for the longest name, which every search for room then
 * finds as it would the exact figure (the removals emptying a block
 * each moved its record, a descent and a logged leaf per unlink).
 */
static int free_reindex(struct dctx *d, struct kvfs_dir_cur *fc,
			struct kv_buf *bp, uint32_t old, uint32_t dblk)
{
	uint32_t best = kv_le32_to_cpu(dhdr(bp)->bestfree);
	uint32_t split = head(d->hbp)->free_level + 2u;
	int err;

	if (best < old || (old < KVFS_DIR_DATA_ENTSIZE(KVFS_NAME_MAX) &&
			   kvfs_trans_blocks_left(d->tp) >= split)) {
		err = free_move(d, fc, old, best, dblk);
		if (err)
			return err;
		old = best;
	}
	if (kv_le32_to_cpu(dhdr(bp)->idxlag) != best - old) {
		dhdr(bp)->idxlag = kv_cpu_to_le32(best - old);
		log_range(d, bp, 0, KVFS_DIR_DATA_HDR_SIZE);
	}
	return 0;
}

/* A data block with room for need bytes: *dblk, or *found false. */
static int free_find(struct dctx *d, struct kvfs_dir_cur *fc, uint32_t need,
		     uint32_t *dblk, bool *found)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(need) };
	int stat, err;

	tree_cur(d, &fc->cur, &fc->c, true);
	err = kvfs_btree_lookup(&fc->cur, KVFS_LOOKUP_GE, &r, &stat);
	if (!err && stat)
		err = kvfs_btree_get_rec(&fc->cur, &r, &stat);
	if (err)
		return err;
	*found = stat;
	if (stat)
		*dblk = kv_le32_to_cpu(r.dblk);
	return 0;
}

/* ---- growth: a new data block, short form to blocks ---- */

/* Data blocks of the largest data space (addresses fit 32 bits). */
static uint32_t dir_max_dblks(const struct kvfs_geom *g)
{
	uint32_t max = (uint32_t)(KVFS_DIR_SPACE_BYTES >> g->dirblklog);

	if (kvj_errtag(KVJ_ERRTAG_DIR_SPACE_SMALL) &&
	    kvj_errtag_value(KVJ_ERRTAG_DIR_SPACE_SMALL) < max)
		max = (uint32_t)kvj_errtag_value(KVJ_ERRTAG_DIR_SPACE_SMALL);
	return max;
}

/* Map data block dblk (contiguous) and get its buffer, initialised. */
static int add_dblk(struct dctx *d, uint32_t dblk, struct kv_buf **bpp)
{
	struct kvfs_bmap map[4];
	int n = 4, err;
	uint64_t off = (uint64_t)dblk * fsbs(d->g);

	/* past the data space (kvfs_dir_canenter() proved there is room) */
	if (dblk >= dir_max_dblks(d->g))
		return -ENOSPC;
	/* a directory block is one buffer: one extent */
	err = kvfs_bmapi_write(d->tp, d->dp, off, fsbs(d->g), KVFS_BMAPI_CONTIG,
			       map, &n);
	kvfs_dir_map_forget(d->dp);
	if (err)
		return err;
	if (n != 1 || map[0].blockcount < fsbs(d->g) ||
	    map[0].startblock == KVFS_NULLBLOCK)
		return -ENOSPC;
	err = kvfs_trans_get_buf(d->tp->jt, d->mp->bl, map[0].startblock,
				 fsbs(d->g), &kvfs_dir_data_buf_ops, bpp);
	if (err)
		return err;
	kvfs_dir_data_init(d->dp, *bpp, dblk);
	log_range(d, *bpp, 0, d->g->dirblksize);
	atomic_fetch_add(&st_added, 1);
	return 0;
}

/* One entry of the short form, sorted by address. */
struct sfent {
	uint64_t ino;
	uint32_t addr; /* bytes */
	uint8_t namelen, ftype;
	const uint8_t *name;
};

static int sfent_cmp(const void *a, const void *b)
{
	const struct sfent *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Short form to block form: every entry at its cookie in data block 0. */
static int sf_to_block(struct dctx *d)
{
	struct kvfs_inode *dp = d->dp;
	uint32_t fsize = kvfs_inode_dfork_size(dp), bl = d->g->dirblksize;
	unsigned n = kv_le16_to_cpu(sfh(dp)->count);
	struct kvfs_dir_sf_ent *e;
	uint64_t hroot, froot, parent = kv_le64_to_cpu(sfh(dp)->parent);
	struct sfent *v;
	uint8_t *copy;
	struct kv_buf *bp, *rbp;
	uint32_t pos;
	int err;

	/* inside a transaction that may be dirty already: wait for memory */
	copy = kvmalloc(fsize + (size_t)(n + 1) * sizeof(*v), KV_NOFAIL);
	memcpy(copy, dp->i_dfork, fsize);
	v = (void *)(copy + fsize);
	e = (void *)(copy + KVFS_DIR_SF_HDR_SIZE);
	for (unsigned i = 0; i < n; i++, e = sf_next(e))
		v[i] = (struct sfent){ kv_le64_to_cpu(e->ino),
				       kv_le32_to_cpu(e->cookie) * 8u,
				       e->namelen, e->ftype, e->name };
	qsort(v, n, sizeof(*v), sfent_cmp);

	memset(dp->i_dfork, 0, fsize);
	dp->i_dformat = KVFS_DFORK_EXTENTS;
	dp->i_nextents = 0;
	dp->i_size = 0;
	kvfs_trans_set_nofail(d->tp);
	err = add_dblk(d, 0, &bp);
	if (err)
		goto out;
	d->hbp = bp;
	/* records: gaps become unused space (an 8-byte gap: the slack of the
	 * entry before it) */
	pos = KVFS_DIR_HEAD_SIZE;
	for (unsigned i = 0; i <= n; i++) {
		uint32_t at = i < n ? v[i].addr : bl;

		if (at > pos) {
			if (at - pos >= KVFS_DIR_DATA_ENT_SIZE)
				kvfs_dir_data_put_unused(bp, pos, at - pos);
			else if (i && pos == v[i - 1].addr +
						      KVFS_DIR_DATA_ENTSIZE(
							      v[i - 1].namelen))
				ent_at(bp, v[i - 1].addr)->reclen =
					kv_cpu_to_le32(at - v[i - 1].addr);
			else
				err = -EUCLEAN;
		}
		if (err || i == n || at < pos) {
			if (!err && i < n)
				err = -EUCLEAN;
			break;
		}
		kvfs_dir_data_put_entry(bp, at,
					KVFS_DIR_DATA_ENTSIZE(v[i].namelen),
					(const char *)v[i].name, v[i].namelen,
					v[i].ino, v[i].ftype);
		pos = at + KVFS_DIR_DATA_ENTSIZE(v[i].namelen);
	}
	if (err) {
		err = corrupt(d, bp->b_blkno, "short-form cookies overlap");
		goto out;
	}
	dhdr(bp)->nents = kv_cpu_to_le32(n);
	kvfs_dir_data_recompute_best(bp, bl);
	head(bp)->parent = kv_cpu_to_le64(parent);
	head(bp)->ndata = kv_cpu_to_le32(1);
	head(bp)->nentries = kv_cpu_to_le64(n);
	/* the two roots: empty leaves */
	err = kvfs_dir_alloc_tree_block(d->tp, dp, &hroot);
	if (!err)
		err = kvfs_dir_alloc_tree_block(d->tp, dp, &froot);
	if (err)
		goto out;
	head(bp)->hash_root = kv_cpu_to_le64(hroot);
	head(bp)->free_root = kv_cpu_to_le64(froot);
	log_range(d, bp, 0, bl);
	err = kvfs_trans_get_buf(d->tp->jt, d->mp->bl, hroot, 1,
				 &kvfs_dir_hash_buf_ops, &rbp);
	if (err)
		goto out;
	kvfs_btree_init_block(rbp->b_addr, d->g, &kvfs_dir_hash_ops, hroot,
			      dp->i_ino, 0, 0);
	log_range(d, rbp, 0, KVFS_BTREE_HDR_SIZE);
	err = kvfs_trans_get_buf(d->tp->jt, d->mp->bl, froot, 1,
				 &kvfs_dir_free_buf_ops, &rbp);
	if (err)
		goto out;
	kvfs_btree_init_block(rbp->b_addr, d->g, &kvfs_dir_free_ops, froot,
			      dp->i_ino, 0, 0);
	log_range(d, rbp, 0, KVFS_BTREE_HDR_SIZE);
	err = free_insert(d, kv_le32_to_cpu(dhdr(bp)->bestfree), 0);
	for (unsigned i = 0; !err && i < n; i++)
		err = hash_insert(d, kvfs_dir_hashname(v[i].name, v[i].namelen),
				  v[i].addr / 8, NULL);
	if (err)
		goto out;
	dp->i_size = bl;
	kvfs_trans_log_inode(d->tp, dp, KVFS_ILOG_CORE | KVFS_ILOG_DFORK);
	atomic_fetch_add(&st_to_block, 1);
out:
	kvfree(copy);
	return err;
}

/* ---- holes, shrink ---- */

/*
 * The data space below ndata: *hole the first unmapped data block (or
 * ndata if none), *end (when not NULL) one past the last mapped one.
 */
static int scan_data(struct dctx *d, uint32_t ndata, uint32_t *hole,
		     uint32_t *end)
{
	uint64_t off = 0, len = (uint64_t)ndata * fsbs(d->g);
	struct kvfs_bmap map[64];
	int n, err;

	*hole = ndata;
	if (end)
		*end = 0;
	/*
	 * 64 mappings a call, as many calls as the range needs: a directory
	 * of long names on fragmented space has hundreds of extents, and an
	 * end taken from the first 64 alone cut ndata short (the blocks past
	 * it, and their names, lost to the hash index's lookups).
	 */
	while (off < len) {
		n = 64;
		err = kvfs_bmapi_read(d->dp, off, len - off, map, &n);
		if (err)
			return err;
		for (int i = 0; i < n; i++) {
			uint32_t s = (uint32_t)(map[i].startoff / fsbs(d->g));
			uint32_t e = (uint32_t)((map[i].startoff +
						 map[i].blockcount) /
						fsbs(d->g));

			if (map[i].startblock == KVFS_NULLBLOCK) {
				if (s < *hole)
					*hole = s;
				/* the first hole is all the caller wants */
				if (!end)
					return 0;
			} else if (end) {
				*end = e;
			}
		}
		if (!n || map[n - 1].startoff + map[n - 1].blockcount <= off)
			return corrupt(d, KVFS_NULLBLOCK,
				       "data space map does not advance");
		off = map[n - 1].startoff + map[n - 1].blockcount;
	}
	return 0;
}

/*
 * Free data block dblk (empty, not block 0): *done false, nothing
 * changed, when the extent map cannot split its extent (a full fork, or
 * no room for the tree blocks the split needs: the block stays, empty,
 * for the next inserts, as XFS's xfs_dir2_shrink_inode() leaves it).
 */
static int drop_dblk(struct dctx *d, uint32_t dblk, bool *done)
{
	struct kvfs_dir_head *hd = head(d->hbp);
	struct kv_buf *bp = NULL;
	uint64_t fsb, rem;
	uint32_t hole, end;
	int err = kvfs_dir_map_dblk(d->dp, dblk, &fsb);

	*done = false;
	if (err)
		return err;
	err = kvfs_bunmapi(d->tp, d->dp, (uint64_t)dblk * fsbs(d->g),
			   fsbs(d->g), 1, &rem);
	kvfs_dir_map_forget(d->dp);
	if (err == -EOPNOTSUPP || err == -ENOSPC)
		return 0;
	if (!err && rem)
		err = corrupt(d, fsb, "data block not unmapped");
	if (!err)
		err = kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, fsbs(d->g),
					  &kvfs_dir_data_buf_ops, &bp);
	if (err)
		return err;
	kvfs_trans_binval(d->tp->jt, bp);
	atomic_fetch_add(&st_freed, 1);
	*done = true;
	if (dblk + 1 == kv_le32_to_cpu(hd->ndata)) {
		err = scan_data(d, dblk, &hole, &end);
		if (err)
			return err;
		hd->ndata = kv_cpu_to_le32(end);
		log_range(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
			  KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
		d->dp->i_size = (uint64_t)end * d->g->dirblksize;
		kvfs_trans_log_inode(d->tp, d->dp, KVFS_ILOG_CORE);
	}
	return 0;
}

static int drop_root(struct dctx *d, uint64_t fsb, const struct kv_buf_ops *ops)
{
	struct kv_buf *bp = NULL;
	int err = kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, 1, ops, &bp);

	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	kvfs_trans_binval(d->tp->jt, bp);
	return kvfs_dir_free_tree_block(d->tp, d->dp, fsb);
}

/* Block form with one data block whose entries fit the inode: short form. */
static int maybe_to_sf(struct dctx *d)
{
	struct kvfs_inode *dp = d->dp;
	struct kvfs_dir_head *hd = head(d->hbp);
	uint32_t fsize = kvfs_inode_dfork_size(dp), bl = d->g->dirblksize;
	uint32_t pos, size = KVFS_DIR_SF_HDR_SIZE;
	uint64_t parent = kv_le64_to_cpu(hd->parent);
	uint64_t hroot = kv_le64_to_cpu(hd->hash_root);
	uint64_t froot = kv_le64_to_cpu(hd->free_root);
	uint8_t *sf;
	int err;

	if (kv_le32_to_cpu(hd->ndata) != 1 || hd->hash_level ||
	    hd->free_level ||
	    kv_le64_to_cpu(hd->nentries) * KVFS_DIR_SF_ENTSIZE(1) + size >
		    fsize)
		return 0;
	for (pos = KVFS_DIR_HEAD_SIZE; pos < bl;) {
		struct kvfs_dir_data_ent *e = ent_at(d->hbp, pos);

		if (kv_le64_to_cpu(e->ino))
			size += KVFS_DIR_SF_ENTSIZE(e->namelen);
		pos += kv_le32_to_cpu(e->reclen);
	}
	if (size > fsize)
		return 0;
	sf = kvzalloc(fsize, KV_NOFAIL);
	((struct kvfs_dir_sf_hdr *)sf)->parent = kv_cpu_to_le64(parent);
	((struct kvfs_dir_sf_hdr *)sf)->count =
		kv_cpu_to_le16((uint16_t)kv_le64_to_cpu(hd->nentries));
	size = KVFS_DIR_SF_HDR_SIZE;
	for (pos = KVFS_DIR_HEAD_SIZE; pos < bl;) {
		struct kvfs_dir_data_ent *e = ent_at(d->hbp, pos);
		struct kvfs_dir_sf_ent *s = (void *)(sf + size);

		if (kv_le64_to_cpu(e->ino)) {
			s->ino = e->ino;
			s->cookie = kv_cpu_to_le32(pos / 8);
			s->namelen = e->namelen;
			s->ftype = e->ftype;
			memcpy(s->name, e->name, e->namelen);
			size += KVFS_DIR_SF_ENTSIZE(e->namelen);
		}
		pos += kv_le32_to_cpu(e->reclen);
	}
	err = drop_root(d, hroot, &kvfs_dir_hash_buf_ops);
	if (!err)
		err = drop_root(d, froot, &kvfs_dir_free_buf_ops);
	if (!err) {
		uint64_t rem;

		err = kvfs_bunmapi(d->tp, dp, 0, fsbs(d->g), 1, &rem);
		kvfs_dir_map_forget(dp);
		if (!err && rem)
			err = corrupt(d, d->hbp->b_blkno,
				      "data block not unmapped");
		if (!err) {
			kvfs_trans_binval(d->tp->jt, d->hbp);
			atomic_fetch_add(&st_freed, 1);
		}
	}
	/*
	 * The data fork maps nothing now (a tree went back to a list as its
	 * last extent went); i_nblocks is not compared with the attribute
	 * fork's mapped blocks, which leave out its own tree's blocks (a
	 * directory with many xattrs was refused here as corrupt).
	 */
	if (!err && (dp->i_nextents || dp->i_dformat != KVFS_DFORK_EXTENTS))
		err = corrupt(d, KVFS_NULLBLOCK, "blocks left after shrinking");
	if (!err) {
		d->hbp = NULL;
		memcpy(dp->i_dfork, sf, fsize);
		dp->i_dformat = KVFS_DFORK_INLINE;
		dp->i_size = size;
		log_sf(d->tp, dp);
		atomic_fetch_add(&st_to_sf, 1);
	}
	kvfree(sf);
	return err;
}

/* ---- the operations ---- */

int kvfs_dir_parent(struct kvfs_inode *dp, uint64_t *parent)
{
	struct dctx d;
	int err = check_format(dp);

	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE) {
		*parent = kv_le64_to_cpu(sfh(dp)->parent);
		return 0;
	}
	dctx_init(&d, NULL, dp);
	err = read_head(&d);
	if (!err)
		*parent = kv_le64_to_cpu(head(d.hbp)->parent);
	dctx_done(&d);
	return err;
}

int kvfs_dir_set_parent(struct kvfs_trans *tp, struct kvfs_inode *dp,
			uint64_t parent)
{
	struct dctx d;
	int err = check_format(dp);

	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE) {
		sfh(dp)->parent = kv_cpu_to_le64(parent);
		log_sf(tp, dp);
		return 0;
	}
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (err)
		return err;
	head(d.hbp)->parent = kv_cpu_to_le64(parent);
	log_range(&d, d.hbp, KVFS_DIR_DATA_HDR_SIZE, 8);
	return 0;
}

/*
 * Find m's name in dp: an inline directory's entry in *sfe; otherwise
 * *sfe NULL and m filled, with d open (the caller's dctx_done()).  On an
 * error (-ENOENT if absent) nothing is open.
 */
static int dir_find(struct kvfs_trans *tp, struct kvfs_inode *dp,
		    struct hmatch *m, struct dctx *d,
		    struct kvfs_dir_sf_ent **sfe)
{
	bool found;
	int err = check_format(dp);

	*sfe = NULL;
	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE) {
		*sfe = sf_find(dp, m->name, m->len);
		return *sfe ? 0 : -ENOENT;
	}
	dctx_init(d, tp, dp);
	err = read_head(d);
	if (!err)
		err = hash_find(d, m, &found);
	if (!err && !found)
		err = -ENOENT;
	if (err)
		dctx_done(d);
	return err;
}

int kvfs_dir_lookup(struct kvfs_inode *dp, const char *name, size_t len,
		    uint64_t *ino, uint8_t *ftype)
{
	struct kvfs_dir_slot slot;
	int err = kvfs_dir_lookup_slot(dp, name, len, &slot);

	if (err)
		return err;
	*ino = slot.ino;
	*ftype = slot.ftype;
	return 0;
}

int kvfs_dir_lookup_in(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len, uint64_t *ino,
		       uint8_t *ftype)
{
	struct hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct dctx d;
	int err = dir_find(tp, dp, &m, &d, &e);

	if (err)
		return err;
	if (e) {
		*ino = kv_le64_to_cpu(e->ino);
		*ftype = e->ftype;
		return 0;
	}
	dctx_done(&d);
	*ino = m.ino;
	*ftype = m.ftype;
	return 0;
}

int kvfs_dir_lookup_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len, uint64_t *ino,
		       uint8_t *ftype, struct kvfs_dir_place *pl)
{
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)name, (unsigned)len);
	struct kvfs_dir_hash_rec h = { .hash = kv_cpu_to_le32(hash) };
	const struct kvfs_dir_hash_rec *r;
	struct kvfs_btree_block *bb;
	struct dctx d;
	int stat, err = check_format(dp);

	pl->hash_read = false;
	if (err || dp->i_dformat == KVFS_DFORK_INLINE)
		return err ? err :
			     kvfs_dir_lookup_in(tp, dp, name, len, ino, ftype);
	/*
	 * The descent the name's insertion takes: where the first record
	 * at or after (hash, 0) has another hash, no entry has the name,
	 * and the cursor stands where its record would go.
	 */
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err) {
		tree_cur(&d, &pl->hash.cur, &pl->hash.c, false);
		err = kvfs_btree_lookup(&pl->hash.cur, KVFS_LOOKUP_EQ, &h,
					&stat);
	}
	dctx_done(&d);
	if (err)
		return err;
	bb = pl->hash.cur.bp[0]->b_addr;
	r = kvfs_btree_rec(bb, &kvfs_dir_hash_ops,
			   (unsigned)pl->hash.cur.ptr[0]);
	if (pl->hash.cur.ptr[0] < kv_le16_to_cpu(bb->numrecs) &&
	    kv_le32_to_cpu(r->hash) != hash) {
		pl->hash_read = true;
		return -ENOENT;
	}
	return kvfs_dir_lookup_in(tp, dp, name, len, ino, ftype);
}

int kvfs_dir_locate(struct kvfs_inode *dp, const char *name, size_t len,
		    uint64_t *cookie, uint64_t *fsb, uint32_t *off)
{
	struct hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct dctx d;
	int err = dir_find(NULL, dp, &m, &d, &e);

	if (err)
		return err;
	if (e) {
		*cookie = kv_le32_to_cpu(e->cookie);
		*fsb = KVFS_NULLBLOCK;
		*off = (uint32_t)((uint8_t *)e - dp->i_dfork);
		return 0;
	}
	err = kvfs_dir_map_dblk(dp, (uint32_t)(m.addr * 8 >> d.g->dirblklog),
				fsb);
	if (!err) {
		*cookie = m.addr;
		*off = (uint32_t)(m.addr * 8 & (d.g->dirblksize - 1));
	}
	dctx_done(&d);
	return err;
}

/*
 * absent: the caller proved name absent under dp's lock (no search); pl:
 * where kvfs_dir_canenter_at() found room (absent too), or NULL.
 */
static int block_createname(struct dctx *d, const char *name, size_t len,
			    uint64_t ino, uint8_t ftype, bool absent,
			    struct kvfs_dir_place *pl)
{
	struct hmatch m = { .name = name, .len = len };
	uint32_t need = KVFS_DIR_DATA_ENTSIZE(len), dblk, old, off;
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)name, (unsigned)len);
	struct kvfs_dir_head *hd;
	struct kvfs_dir_cur own, *fc = &own;
	struct kv_buf *bp = NULL;
	bool found;
	int err;

	if (pl && pl->set) {
		d->hbp = pl->hbp;
		fc = &pl->free;
		dblk = pl->dblk;
		bp = pl->bp;
		found = true;
	} else {
		pl = NULL;
		err = read_head(d);
		if (!err && !absent) {
			err = hash_find(d, &m, &found);
			if (!err && found)
				err = -EEXIST;
		}
		if (!err)
			err = free_find(d, fc, need, &dblk, &found);
		if (!err && found)
			err = read_dblk(d, dblk, &bp);
		if (err)
			return err;
	}
	hd = head(d->hbp);
	kvfs_trans_set_nofail(d->tp);
	if (found) {
		old = idx_best(bp);
		err = kvfs_dir_data_insert(d->tp, d->dp, bp, name, len, ino,
					   ftype, &off);
		if (err == -ENOSPC)
			return corrupt(
				d, bp->b_blkno,
				"free index promises room that is not there");
		if (!err)
			err = free_reindex(d, fc, bp, old, dblk);
	} else {
		uint32_t ndata = kv_le32_to_cpu(hd->ndata);

		err = scan_data(d, ndata, &dblk, NULL);
		if (err)
			return err;
		/* a hole first; past the end when the fork cannot take it */
		err = add_dblk(d, dblk, &bp);
		if ((err == -EOPNOTSUPP || err == -ENOSPC) && dblk < ndata) {
			dblk = ndata;
			err = add_dblk(d, dblk, &bp);
		}
		if (err == -EOPNOTSUPP)
			err = -ENOSPC;
		if (err)
			return err;
		if (dblk >= ndata) {
			hd->ndata = kv_cpu_to_le32(dblk + 1);
			d->dp->i_size = (uint64_t)(dblk + 1) * d->g->dirblksize;
		}
		err = kvfs_dir_data_insert(d->tp, d->dp, bp, name, len, ino,
					   ftype, &off);
		if (!err)
			err = free_insert(d, kv_le32_to_cpu(dhdr(bp)->bestfree),
					  dblk);
	}
	if (!err)
		err = hash_insert(d, hash,
				  (((uint64_t)dblk << d->g->dirblklog) + off) /
					  8,
				  pl && pl->hash_at ? &pl->hash : NULL);
	if (err)
		return err;
	hd->nentries = kv_cpu_to_le64(kv_le64_to_cpu(hd->nentries) + 1);
	log_range(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
		  KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
	kvfs_trans_log_inode(d->tp, d->dp, KVFS_ILOG_CORE);
	return 0;
}

int kvfs_dir_sf_to_block(struct kvfs_trans *tp, struct kvfs_inode *dp)
{
	struct dctx d;
	int err = check_format(dp);

	if (err || dp->i_dformat != KVFS_DFORK_INLINE)
		return err;
	dctx_init(&d, tp, dp);
	err = sf_to_block(&d);
	dctx_done(&d);
	return err;
}

/* A name of len bytes fits the short form dp has (at *cookie)? */
static bool sf_fits(struct kvfs_inode *dp, size_t len, uint32_t *cookie)
{
	uint32_t size = (uint32_t)dp->i_size;

	return dp->i_dformat == KVFS_DFORK_INLINE &&
	       size + KVFS_DIR_SF_ENTSIZE(len) <= kvfs_inode_dfork_size(dp) &&
	       !kvfs_dir_sf_pick(dp->i_dfork, size, (unsigned)len,
				 dp->i_mount->g.dirblksize, cookie);
}

/* The cursor's leaf takes one more record without a split. */
static bool leaf_room(const struct kvfs_btree_cur *cur)
{
	const struct kvfs_btree_block *bb = cur->bp[0]->b_addr;

	return kv_le16_to_cpu(bb->numrecs) < kvfs_btree_cur_maxrecs(cur, 0);
}

/*
 * The blocks the insertion of name's hash record reads, read; *hc left
 * on where it goes.  Its address is not known before the entry is
 * placed: (hash, 0) finds the leaf, unless records of the same hash (or
 * the leaf's end) follow, where a larger address may go one leaf on and
 * hash_find() (a create not known absent) reads the next leaf.  *room
 * (when asked): whichever of those leaves it goes into takes it without
 * a split.  *at (when asked): no record of the hash follows in the leaf,
 * so that *hc stands where the record goes, whatever its address.
 * positioned: *hc is already on (hash, 0) in d->tp (kvfs_dir_lookup_at()).
 */
static int hash_ins_reads(struct dctx *d, const char *name, size_t len,
			  struct kvfs_dir_cur *hc, bool positioned, bool *room,
			  bool *at)
{
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)name, (unsigned)len);
	struct kvfs_dir_hash_rec h = { .hash = kv_cpu_to_le32(hash) };
	const struct kvfs_dir_hash_rec *r;
	struct kvfs_btree_block *bb;
	struct kv_buf *bp = NULL;
	struct kvfs_dir_cur last;
	uint64_t rightsib;
	bool here;
	int stat, err;

	if (!positioned) {
		tree_cur(d, &hc->cur, &hc->c, false);
		err = kvfs_btree_lookup(&hc->cur, KVFS_LOOKUP_EQ, &h, &stat);
		if (err)
			return err;
	}
	err = kvfs_btree_insert_reads(&hc->cur);
	if (err)
		return err;
	bb = hc->cur.bp[0]->b_addr;
	if (room)
		*room = leaf_room(&hc->cur);
	r = kvfs_btree_rec(bb, &kvfs_dir_hash_ops, (unsigned)hc->cur.ptr[0]);
	here = hc->cur.ptr[0] < kv_le16_to_cpu(bb->numrecs) &&
	       kv_le32_to_cpu(r->hash) != hash;
	if (at)
		*at = here;
	if (here)
		return 0;
	rightsib = kv_le64_to_cpu(bb->rightsib);
	if (rightsib != KVFS_NULLBLOCK) {
		err = read_tree_blk(d, rightsib, 0, true, &bp);
		if (err)
			return err;
	}
	h.addr = kv_cpu_to_le32(UINT32_MAX);
	tree_cur(d, &last.cur, &last.c, false);
	err = kvfs_btree_lookup(&last.cur, KVFS_LOOKUP_EQ, &h, &stat);
	if (!err)
		err = kvfs_btree_insert_reads(&last.cur);
	/* records of the same hash may end one leaf and begin the next */
	if (!err && room)
		*room = *room && leaf_room(&last.cur) &&
			(last.cur.bp[0]->b_blkno == hc->cur.bp[0]->b_blkno ||
			 last.cur.bp[0]->b_blkno == rightsib);
	return err;
}

/*
 * Where a name goes, read before the caller's first change (its inode's
 * allocation), where block_createname() would be too late: the
 * free-space index's path, the data block it picks and the blocks the
 * name-hash record's insertion reads are verified (damage met with the
 * transaction dirty shut the log down), and a directory whose data space
 * reached its end takes a name only into a hole or a block with room.
 * unreserved: a change with no block reserved (a link or a rename to a
 * new name on a full filesystem; XFS's xfs_link() and xfs_rename() retry
 * with resblks 0 the same way), which takes the name only where it needs
 * none: a data block with room, a name-hash leaf with room for its
 * record (no split), and a free-space index of one leaf, where the data
 * block's record moving (deleted, inserted again: free_reindex()) cannot
 * split either; every allocation after the first change would be one the
 * transaction has no block for (the log shut down).  -ENOSPC, nothing
 * changed, otherwise.
 */
static int space_left(struct kvfs_trans *tp, struct kvfs_inode *dp,
		      const char *name, size_t len, bool unreserved,
		      struct kvfs_dir_place *pl)
{
	uint32_t max = dir_max_dblks(&tp->mp->g), hole, dblk;
	struct kvfs_dir_cur *fc = &pl->free;
	struct kv_buf *bp = NULL;
	struct dctx d;
	bool found, room;
	int err;

	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err)
		err = hash_ins_reads(&d, name, len, &pl->hash, pl->hash_read,
				     &room, &pl->hash_at);
	if (!err)
		err = free_find(&d, fc, KVFS_DIR_DATA_ENTSIZE(len), &dblk,
				&found);
	if (!err && unreserved && (!found || !room || head(d.hbp)->free_level))
		err = -ENOSPC;
	if (!err && found) {
		err = read_dblk(&d, dblk, &bp);
		/*
		 * block_createname() moves the record keyed by the block's
		 * idx_best(): one that is not the record found here is met
		 * only after the block's change (log shut down)
		 */
		if (!err) {
			struct kvfs_dir_free_rec at;
			int stat;

			err = kvfs_btree_get_rec(&fc->cur, &at, &stat);
			if (!err && stat &&
			    kv_le32_to_cpu(at.best) != idx_best(bp))
				err = corrupt(&d, bp->b_blkno,
					      "free record disagrees with "
					      "its block");
		}
		if (!err) {
			pl->set = true;
			pl->dblk = dblk;
			pl->hbp = d.hbp;
			pl->bp = bp;
		}
	} else if (!err && dp->i_size >= (uint64_t)max * tp->mp->g.dirblksize) {
		err = scan_data(&d, kv_le32_to_cpu(head(d.hbp)->ndata), &hole,
				NULL);
		if (!err && hole >= max)
			err = -ENOSPC;
	}
	dctx_done(&d);
	return err;
}

int kvfs_dir_canenter_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 const char *name, size_t len, uint32_t extra,
			 struct kvfs_dir_place *pl)
{
	const struct kvfs_geom *g = &tp->mp->g;
	uint32_t cookie, minlen = 1, total = extra;
	int err = check_format(dp);

	pl->set = false;
	if (err)
		return err;
	/*
	 * Past the short form any name may take blocks: a new data block
	 * (one extent), the index trees' splits, the extent map's; the
	 * reservation's figure covers them all.
	 */
	if (!sf_fits(dp, len, &cookie)) {
		/* none reserved: only where the name takes no block */
		if (!kvfs_trans_blocks_left(tp) && !extra) {
			if (dp->i_dformat == KVFS_DFORK_INLINE)
				return -ENOSPC;
			return space_left(tp, dp, name, len, true, pl);
		}
		minlen = g->dirblksize >> g->blocklog;
		total += (uint32_t)tp->mp->resv.dirop.blocks;
		if (dp->i_dformat != KVFS_DFORK_INLINE) {
			err = space_left(tp, dp, name, len, false, pl);
			if (err)
				return err;
		}
	}
	if (!total)
		return 0;
	return kvfs_alloc_hold_space(tp, kvfs_ino_to_agno(g, dp->i_ino), minlen,
				     total);
}

int kvfs_dir_canenter(struct kvfs_trans *tp, struct kvfs_inode *dp,
		      const char *name, size_t len, uint32_t extra)
{
	struct kvfs_dir_place pl;

	kvfs_dir_place_init(&pl);
	return kvfs_dir_canenter_at(tp, dp, name, len, extra, &pl);
}

static int createname(struct kvfs_trans *tp, struct kvfs_inode *dp,
		      const char *name, size_t len, uint64_t ino, uint8_t ftype,
		      bool absent, struct kvfs_dir_place *pl)
{
	struct dctx d;
	int err = check_format(dp);

	if (err)
		return err;
	dctx_init(&d, tp, dp);
	if (dp->i_dformat == KVFS_DFORK_INLINE) {
		uint32_t size = (uint32_t)dp->i_size, cookie;
		struct kvfs_dir_sf_ent *e;

		if (sf_find(dp, name, len))
			return -EEXIST;
		if (sf_fits(dp, len, &cookie)) {
			e = (void *)(dp->i_dfork + size);
			memset(e, 0, KVFS_DIR_SF_ENTSIZE(len));
			e->ino = kv_cpu_to_le64(ino);
			e->cookie = kv_cpu_to_le32(cookie);
			e->namelen = (uint8_t)len;
			e->ftype = ftype;
			memcpy(e->name, name, len);
			sfh(dp)->count = kv_cpu_to_le16(
				(uint16_t)(kv_le16_to_cpu(sfh(dp)->count) + 1));
			dp->i_size = size + KVFS_DIR_SF_ENTSIZE(len);
			log_sf(tp, dp);
			return 0;
		}
		err = sf_to_block(&d);
		if (err)
			return err;
	}
	return block_createname(&d, name, len, ino, ftype, absent, pl);
}

int kvfs_dir_createname(struct kvfs_trans *tp, struct kvfs_inode *dp,
			const char *name, size_t len, uint64_t ino,
			uint8_t ftype)
{
	return createname(tp, dp, name, len, ino, ftype, false, NULL);
}

int kvfs_dir_createname_absent(struct kvfs_trans *tp, struct kvfs_inode *dp,
			       const char *name, size_t len, uint64_t ino,
			       uint8_t ftype)
{
	return createname(tp, dp, name, len, ino, ftype, true, NULL);
}

int kvfs_dir_createname_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
			   const char *name, size_t len, uint64_t ino,
			   uint8_t ftype, struct kvfs_dir_place *pl)
{
	return createname(tp, dp, name, len, ino, ftype, true, pl);
}

/* Remove name from a short-form dp if it points at ino (else -ENOENT). */
static int sf_removename(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 const char *name, size_t len, uint64_t ino)
{
	struct kvfs_dir_sf_ent *e = sf_find(dp, name, len);
	uint32_t esz, at;

	if (!e || kv_le64_to_cpu(e->ino) != ino)
		return -ENOENT;
	esz = KVFS_DIR_SF_ENTSIZE(e->namelen);
	at = (uint32_t)((uint8_t *)e - dp->i_dfork);
	memmove(e, (uint8_t *)e + esz, dp->i_size - at - esz);
	memset(dp->i_dfork + dp->i_size - esz, 0, esz);
	dp->i_size -= esz;
	sfh(dp)->count =
		kv_cpu_to_le16((uint16_t)(kv_le16_to_cpu(sfh(dp)->count) - 1));
	log_sf(tp, dp);
	return 0;
}

/*
 * Drop empty data block dblk (not block 0) and its free-index record (its
 * bestfree best): *dropped false when the block stays (drop_dblk()), its
 * record then still the block's.
 */
static int drop_empty(struct dctx *d, uint32_t dblk, uint32_t best,
		      bool *dropped)
{
	bool found;
	int err = drop_dblk(d, dblk, dropped);

	if (err || !*dropped)
		return err;
	err = free_delete(d, best, dblk, &found);
	if (!err && !found)
		err = corrupt(d, d->hbp->b_blkno, "free record missing");
	return err;
}

/*
 * After the last data block went: a block kept empty before it (its
 * extent could not be split then, drop_dblk()) now ends the data space
 * and goes too, from the extent's end (no split), as XFS's
 * xfs_dir2_leaf_trim_data() trims a leaf directory's last empty block.
 * One a removal: its log reservation holds that one.
 */
static int trim_last_empty(struct dctx *d)
{
	uint32_t last = kv_le32_to_cpu(head(d->hbp)->ndata) - 1;
	struct kv_buf *bp = NULL;
	bool dropped;
	int err;

	if (!last)
		return 0;
	err = read_dblk(d, last, &bp);
	if (err || kv_le32_to_cpu(dhdr(bp)->nents))
		return err;
	return drop_empty(d, last, idx_best(bp), &dropped);
}

/* Remove name's entry, found at address addr (d's head read, in d->tp). */
static int block_removename(struct dctx *d, const char *name, size_t len,
			    uint64_t addr)
{
	struct kvfs_dir_head *hd;
	uint32_t dblk, off, old;
	struct kv_buf *bp = NULL;
	bool dropped;
	int err;

	kvfs_trans_set_nofail(d->tp);
	hd = head(d->hbp);
	dblk = (uint32_t)(addr * 8 >> d->g->dirblklog);
	off = (uint32_t)(addr * 8 & (d->g->dirblksize - 1));
	err = read_dblk(d, dblk, &bp);
	if (err)
		return err;
	old = idx_best(bp);
	err = kvfs_dir_data_remove(d->tp, d->dp, bp, off);
	if (!err && dblk && !kv_le32_to_cpu(dhdr(bp)->nents)) {
		bool last = dblk + 1 == kv_le32_to_cpu(hd->ndata);

		err = drop_empty(d, dblk, old, &dropped);
		if (!err && dropped && last)
			err = trim_last_empty(d);
		else if (!err && !dropped)
			err = free_reindex(d, NULL, bp, old, dblk);
	} else if (!err) {
		err = free_reindex(d, NULL, bp, old, dblk);
	}
	if (!err)
		err = hash_delete(
			d,
			kvfs_dir_hashname((const uint8_t *)name, (unsigned)len),
			addr);
	if (err)
		return err;
	hd->nentries = kv_cpu_to_le64(kv_le64_to_cpu(hd->nentries) - 1);
	log_range(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
		  KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
	return maybe_to_sf(d);
}

int kvfs_dir_removename(struct kvfs_trans *tp, struct kvfs_inode *dp,
			const char *name, size_t len, uint64_t ino)
{
	struct hmatch m = { .name = name, .len = len };
	struct dctx d;
	bool found;
	int err = check_format(dp);

	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE)
		return sf_removename(tp, dp, name, len, ino);
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err)
		err = hash_find(&d, &m, &found);
	if (err)
		return err;
	if (!found || m.ino != ino)
		return -ENOENT;
	return block_removename(&d, name, len, m.addr);
}

int kvfs_dir_lookup_slot(struct kvfs_inode *dp, const char *name, size_t len,
			 struct kvfs_dir_slot *slot)
{
	struct hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct dctx d;
	int err = dir_find(NULL, dp, &m, &d, &e);

	if (err)
		return err;
	if (e) {
		slot->ino = kv_le64_to_cpu(e->ino);
		slot->ftype = e->ftype;
		slot->addr = 0;
		return 0;
	}
	dctx_done(&d);
	slot->ino = m.ino;
	slot->ftype = m.ftype;
	slot->addr = m.addr;
	return 0;
}

int kvfs_dir_removename_slot(struct kvfs_trans *tp, struct kvfs_inode *dp,
			     const char *name, size_t len,
			     const struct kvfs_dir_slot *slot)
{
	struct dctx d;
	int err = check_format(dp);

	if (err)
		return err;
	/* a short form has no index: its search is the removal's own */
	if (dp->i_dformat == KVFS_DFORK_INLINE)
		return sf_removename(tp, dp, name, len, slot->ino);
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (err)
		return err;
	return block_removename(&d, name, len, slot->addr);
}

/*
 * The blocks block_removename() changes for name's entry at addr, read:
 * its data block, and in both indexes the path to its record and the
 * blocks the record's deletion may join or borrow from, after the
 * insertion of first's hash record when first is given.
 */
static int removal_reads(struct dctx *d, const char *name, size_t len,
			 uint64_t addr, const char *first, size_t flen)
{
	uint32_t dblk = (uint32_t)(addr * 8 >> d->g->dirblklog);
	struct kvfs_dir_cur fc, hc, ic;
	struct kvfs_dir_free_rec r;
	struct kv_buf *bp = NULL;
	int stat, err;

	err = read_dblk(d, dblk, &bp);
	if (err)
		return err;
	r.best = kv_cpu_to_le32(idx_best(bp));
	r.dblk = kv_cpu_to_le32(dblk);
	tree_cur(d, &fc.cur, &fc.c, true);
	err = kvfs_btree_lookup(&fc.cur, KVFS_LOOKUP_EQ, &r, &stat);
	if (!err && stat)
		err = kvfs_btree_delete_reads(&fc.cur, NULL);
	/* free_reindex() would look it up after the block's change */
	else if (!err)
		err = corrupt(d, bp->b_blkno,
			      "free record disagrees with its block");
	if (!err && first)
		err = hash_ins_reads(d, first, flen, &ic, false, NULL, NULL);
	if (!err) {
		struct kvfs_dir_hash_rec h = {
			.hash = kv_cpu_to_le32(kvfs_dir_hashname(
				(const uint8_t *)name, (unsigned)len)),
			.addr = kv_cpu_to_le32((uint32_t)addr)
		};

		tree_cur(d, &hc.cur, &hc.c, false);
		err = kvfs_btree_lookup(&hc.cur, KVFS_LOOKUP_EQ, &h, &stat);
		if (!err && stat)
			err = kvfs_btree_delete_reads(&hc.cur,
						      first ? &ic.cur : NULL);
	}
	return err;
}

int kvfs_dir_canremove(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len,
		       const struct kvfs_dir_slot *slot, const char *first,
		       size_t flen)
{
	struct hmatch m = { .name = name, .len = len };
	bool found = true;
	struct dctx d;
	int err = check_format(dp);

	if (err || dp->i_dformat == KVFS_DFORK_INLINE)
		return err;
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err && slot)
		m.addr = slot->addr;
	else if (!err)
		err = hash_find(&d, &m, &found);
	if (!err && found)
		err = removal_reads(&d, name, len, m.addr, first, flen);
	dctx_done(&d);
	return err;
}

int kvfs_dir_replace(struct kvfs_trans *tp, struct kvfs_inode *dp,
		     const char *name, size_t len, uint64_t ino, uint8_t ftype)
{
	struct hmatch m = { .name = name, .len = len };
	struct kvfs_dir_data_ent *e;
	struct kv_buf *bp = NULL;
	struct dctx d;
	uint32_t dblk, off;
	bool found;
	int err = check_format(dp);

	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE) {
		struct kvfs_dir_sf_ent *s = sf_find(dp, name, len);

		if (!s)
			return -ENOENT;
		s->ino = kv_cpu_to_le64(ino);
		s->ftype = ftype;
		log_sf(tp, dp);
		return 0;
	}
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err)
		err = hash_find(&d, &m, &found);
	if (err)
		return err;
	if (!found)
		return -ENOENT;
	dblk = (uint32_t)(m.addr * 8 >> d.g->dirblklog);
	off = (uint32_t)(m.addr * 8 & (d.g->dirblksize - 1));
	err = read_dblk(&d, dblk, &bp);
	if (err)
		return err;
	e = ent_at(bp, off);
	e->ino = kv_cpu_to_le64(ino);
	e->ftype = ftype;
	log_range(&d, bp, off, KVFS_DIR_DATA_ENT_SIZE);
	return 0;
}

bool kvfs_dir_isempty(struct kvfs_inode *dp)
{
	struct dctx d;
	bool empty;

	if (dp->i_dformat == KVFS_DFORK_INLINE)
		return !kv_le16_to_cpu(sfh(dp)->count);
	dctx_init(&d, NULL, dp);
	if (read_head(&d))
		return false;
	empty = !kv_le64_to_cpu(head(d.hbp)->nentries);
	dctx_done(&d);
	return empty;
}

static int sf_readdir(struct kvfs_inode *dp, uint64_t cookie,
		      kvfs_dir_fill_t fill, void *priv)
{
	unsigned n = kv_le16_to_cpu(sfh(dp)->count);
	struct kvfs_dir_sf_ent *e = sf_first(dp);
	struct sfent v[SF_MAX_ENTRIES];

	if (n > SF_MAX_ENTRIES)
		return kvfs_corrupt_inode(-EUCLEAN, KVFS_NULLBLOCK, dp->i_ino,
					  "short-form directory too long");
	for (unsigned i = 0; i < n; i++, e = sf_next(e))
		v[i] = (struct sfent){ kv_le64_to_cpu(e->ino),
				       kv_le32_to_cpu(e->cookie), e->namelen,
				       e->ftype, e->name };
	qsort(v, n, sizeof(*v), sfent_cmp);
	for (unsigned i = 0; i < n; i++) {
		if (v[i].addr < cookie)
			continue;
		if (fill(priv, (const char *)v[i].name, v[i].namelen, v[i].ino,
			 kvfs_ftype_to_dtype(v[i].ftype),
			 v[i].addr + KVFS_DIR_DATA_ENTSIZE(v[i].namelen) / 8))
			break;
	}
	return 0;
}

int kvfs_dir_readdir(struct kvfs_inode *dp, uint64_t cookie,
		     kvfs_dir_fill_t fill, void *priv)
{
	const struct kvfs_geom *g = &dp->i_mount->g;
	uint64_t parent;
	uint32_t ndata;
	struct dctx d;
	int err;

	err = kvfs_dir_parent(dp, &parent);
	if (err)
		return err;
	if (cookie == 0 && fill(priv, ".", 1, dp->i_ino, DT_DIR, 1))
		return 0;
	if (cookie <= 1 && fill(priv, "..", 2, parent, DT_DIR, 2))
		return 0;
	if (cookie < 2)
		cookie = 2;
	if (dp->i_dformat == KVFS_DFORK_INLINE)
		return sf_readdir(dp, cookie, fill, priv);
	dctx_init(&d, NULL, dp);
	err = read_head(&d);
	if (err)
		return err;
	ndata = kv_le32_to_cpu(head(d.hbp)->ndata);
	for (uint64_t dblk = cookie * 8 >> g->dirblklog; dblk < ndata; dblk++) {
		uint32_t pos = data_start((uint32_t)dblk);
		struct kv_buf *bp = NULL;
		bool stop = false;

		err = read_dblk(&d, (uint32_t)dblk, &bp);
		if (err == -ENODATA) {
			uint32_t next = ndata;

			err = kvfs_dir_next_dblk(dp, (uint32_t)dblk, ndata,
						 &next);
			if (err)
				break;
			dblk = next - 1;
			continue;
		}
		if (err)
			break;
		while (pos < g->dirblksize) {
			struct kvfs_dir_data_ent *e = ent_at(bp, pos);
			uint32_t rl = kv_le32_to_cpu(e->reclen);
			uint64_t addr = ((dblk << g->dirblklog) + pos) / 8;

			if (kv_le64_to_cpu(e->ino) && addr >= cookie &&
			    fill(priv, (const char *)e->name, e->namelen,
				 kv_le64_to_cpu(e->ino),
				 kvfs_ftype_to_dtype(e->ftype),
				 addr + rl / 8)) {
				stop = true;
				break;
			}
			pos += rl;
		}
		kv_buf_rele(bp);
		if (stop)
			break;
	}
	dctx_done(&d);
	return err;
}
