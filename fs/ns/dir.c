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

static void dctx_init(struct kvfs_dir_ctx *d, struct kvfs_trans *tp,
		      struct kvfs_inode *dp)
{
	d->tp = tp;
	d->dp = dp;
	d->mp = dp->i_mount;
	d->g = &dp->i_mount->g;
	d->hbp = NULL;
}

int kvfs_dir_corrupt(const struct kvfs_inode *dp, uint64_t blkno,
		     const char *what)
{
	return kvfs_corrupt_inode(-EUCLEAN, blkno, dp->i_ino, "directory: %s",
				  what);
}

int kvfs_dir_ctx_corrupt(struct kvfs_dir_ctx *d, uint64_t blkno,
			 const char *what)
{
	return kvfs_dir_corrupt(d->dp, blkno, what);
}

void kvfs_dir_ctx_rele(struct kvfs_dir_ctx *d, struct kv_buf *bp)
{
	if (!d->tp && bp)
		kv_buf_rele(bp);
}

int kvfs_dir_ctx_read_dblk(struct kvfs_dir_ctx *d, uint32_t dblk,
			   struct kv_buf **bpp)
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
		kvfs_dir_ctx_rele(d, bp);
		return kvfs_dir_ctx_corrupt(d, fsb,
					    "data block of another directory");
	}
	*bpp = bp;
	return 0;
}

static int read_head(struct kvfs_dir_ctx *d)
{
	struct kv_buf *bp = NULL;
	int err;

	if (d->hbp)
		return 0;
	err = kvfs_dir_ctx_read_dblk(d, 0, &bp);
	if (err == -ENODATA) /* a hole is no head block: damage */
		return kvfs_dir_ctx_corrupt(d, KVFS_NULLBLOCK, "no head block");
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

		kvfs_dir_ctx_rele(d, bp);
		return kvfs_dir_ctx_corrupt(
			d, blkno, "size is not the head's data blocks'");
	}
	d->hbp = bp;
	return 0;
}

static void dctx_done(struct kvfs_dir_ctx *d)
{
	kvfs_dir_ctx_rele(d, d->hbp);
	d->hbp = NULL;
}

void kvfs_dir_ctx_log(struct kvfs_dir_ctx *d, struct kv_buf *bp, uint32_t first,
		      uint32_t len)
{
	kvfs_trans_log_buf(d->tp->jt, bp, first, first + len - 1);
}

void kvfs_dir_ctx_tree_cur(struct kvfs_dir_ctx *d, struct kvfs_btree_cur *cur,
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
static int add_dblk(struct kvfs_dir_ctx *d, uint32_t dblk, struct kv_buf **bpp)
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
	kvfs_dir_ctx_log(d, *bpp, 0, d->g->dirblksize);
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
static int sf_to_block(struct kvfs_dir_ctx *d)
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
		err = kvfs_dir_ctx_corrupt(d, bp->b_blkno,
					   "short-form cookies overlap");
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
	kvfs_dir_ctx_log(d, bp, 0, bl);
	err = kvfs_trans_get_buf(d->tp->jt, d->mp->bl, hroot, 1,
				 &kvfs_dir_hash_buf_ops, &rbp);
	if (err)
		goto out;
	kvfs_btree_init_block(rbp->b_addr, d->g, &kvfs_dir_hash_ops, hroot,
			      dp->i_ino, 0, 0);
	kvfs_dir_ctx_log(d, rbp, 0, KVFS_BTREE_HDR_SIZE);
	err = kvfs_trans_get_buf(d->tp->jt, d->mp->bl, froot, 1,
				 &kvfs_dir_free_buf_ops, &rbp);
	if (err)
		goto out;
	kvfs_btree_init_block(rbp->b_addr, d->g, &kvfs_dir_free_ops, froot,
			      dp->i_ino, 0, 0);
	kvfs_dir_ctx_log(d, rbp, 0, KVFS_BTREE_HDR_SIZE);
	err = kvfs_dir_free_insert(d, kv_le32_to_cpu(dhdr(bp)->bestfree), 0);
	for (unsigned i = 0; !err && i < n; i++)
		err = kvfs_dir_hash_insert(
			d, kvfs_dir_hashname(v[i].name, v[i].namelen),
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
static int scan_data(struct kvfs_dir_ctx *d, uint32_t ndata, uint32_t *hole,
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
			return kvfs_dir_ctx_corrupt(
				d, KVFS_NULLBLOCK,
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
static int drop_dblk(struct kvfs_dir_ctx *d, uint32_t dblk, bool *done)
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
		err = kvfs_dir_ctx_corrupt(d, fsb, "data block not unmapped");
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
		kvfs_dir_ctx_log(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
				 KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
		d->dp->i_size = (uint64_t)end * d->g->dirblksize;
		kvfs_trans_log_inode(d->tp, d->dp, KVFS_ILOG_CORE);
	}
	return 0;
}

static int drop_root(struct kvfs_dir_ctx *d, uint64_t fsb,
		     const struct kv_buf_ops *ops)
{
	struct kv_buf *bp = NULL;
	int err = kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, 1, ops, &bp);

	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	kvfs_trans_binval(d->tp->jt, bp);
	return kvfs_dir_free_tree_block(d->tp, d->dp, fsb);
}

/* Block form with one data block whose entries fit the inode: short form. */
static int maybe_to_sf(struct kvfs_dir_ctx *d)
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
			err = kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno,
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
		err = kvfs_dir_ctx_corrupt(d, KVFS_NULLBLOCK,
					   "blocks left after shrinking");
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
	struct kvfs_dir_ctx d;
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
	struct kvfs_dir_ctx d;
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
	kvfs_dir_ctx_log(&d, d.hbp, KVFS_DIR_DATA_HDR_SIZE, 8);
	return 0;
}

/*
 * Find m's name in dp: an inline directory's entry in *sfe; otherwise
 * *sfe NULL and m filled, with d open (the caller's dctx_done()).  On an
 * error (-ENOENT if absent) nothing is open.
 */
static int dir_find(struct kvfs_trans *tp, struct kvfs_inode *dp,
		    struct kvfs_dir_hmatch *m, struct kvfs_dir_ctx *d,
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
		err = kvfs_dir_hash_find(d, m, &found);
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
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct kvfs_dir_ctx d;
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
	struct kvfs_dir_ctx d;
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
		kvfs_dir_ctx_tree_cur(&d, &pl->hash.cur, &pl->hash.c, false);
		err = kvfs_btree_lookup(&pl->hash.cur, KVFS_LOOKUP_EQ, &h,
					&stat);
	}
	dctx_done(&d);
	if (err)
		return err;
	if (kvfs_dir_hash_cur_past(&pl->hash.cur, hash)) {
		pl->hash_read = true;
		return -ENOENT;
	}
	return kvfs_dir_lookup_in(tp, dp, name, len, ino, ftype);
}

int kvfs_dir_locate(struct kvfs_inode *dp, const char *name, size_t len,
		    uint64_t *cookie, uint64_t *fsb, uint32_t *off)
{
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct kvfs_dir_ctx d;
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
static int block_createname(struct kvfs_dir_ctx *d, const char *name,
			    size_t len, uint64_t ino, uint8_t ftype,
			    bool absent, struct kvfs_dir_place *pl)
{
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	uint32_t need = KVFS_DIR_DATA_ENTSIZE(len), dblk, old, off;
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)name, (unsigned)len);
	struct kvfs_dir_head *hd;
	struct kvfs_dir_cur own, *fc = &own;
	struct kvfs_inode *ip = pl ? pl->ip : NULL;
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
			err = kvfs_dir_hash_find(d, &m, &found);
			if (!err && found)
				err = -EEXIST;
		}
		if (!err)
			err = kvfs_dir_free_find(d, fc, need, &dblk, &found);
		if (!err && found)
			err = kvfs_dir_ctx_read_dblk(d, dblk, &bp);
		if (err)
			return err;
	}
	hd = head(d->hbp);
	kvfs_trans_set_nofail(d->tp);
	if (found) {
		old = kvfs_dir_idx_best(bp);
		err = kvfs_dir_data_insert(d->tp, d->dp, bp, name, len, ino,
					   ftype, &off);
		if (err == -ENOSPC)
			return kvfs_dir_ctx_corrupt(
				d, bp->b_blkno,
				"free index promises room that is not there");
		if (!err)
			err = kvfs_dir_free_reindex(d, fc, bp, old, dblk);
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
			err = kvfs_dir_free_insert(
				d, kv_le32_to_cpu(dhdr(bp)->bestfree), dblk);
	}
	if (!err)
		err = kvfs_dir_hash_insert(
			d, hash,
			(((uint64_t)dblk << d->g->dirblklog) + off) / 8,
			pl && pl->hash_at ? &pl->hash : NULL);
	if (err)
		return err;
	hd->nentries = kv_cpu_to_le64(kv_le64_to_cpu(hd->nentries) + 1);
	kvfs_dir_ctx_log(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
			 KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
	kvfs_trans_log_inode(d->tp, d->dp, KVFS_ILOG_CORE);
	if (ip)
		kvfs_dir_map_hint_new(d->dp, dblk, off, ip);
	return 0;
}

int kvfs_dir_sf_to_block(struct kvfs_trans *tp, struct kvfs_inode *dp)
{
	struct kvfs_dir_ctx d;
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
 * block's record moving (deleted, inserted again:
 * kvfs_dir_free_reindex()) cannot split either; every allocation after
 * the first change would be one the transaction has no block for (the
 * log shut down).  -ENOSPC, nothing changed, otherwise.
 */
static int space_left(struct kvfs_trans *tp, struct kvfs_inode *dp,
		      const char *name, size_t len, bool unreserved,
		      struct kvfs_dir_place *pl)
{
	uint32_t max = dir_max_dblks(&tp->mp->g), hole, dblk;
	struct kvfs_dir_cur *fc = &pl->free;
	struct kv_buf *bp = NULL;
	struct kvfs_dir_ctx d;
	bool found, room;
	int err;

	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err)
		err = kvfs_dir_hash_ins_reads(&d, name, len, &pl->hash,
					      pl->hash_read, &room,
					      &pl->hash_at);
	if (!err)
		err = kvfs_dir_free_find(&d, fc, KVFS_DIR_DATA_ENTSIZE(len),
					 &dblk, &found);
	if (!err && unreserved && (!found || !room || head(d.hbp)->free_level))
		err = -ENOSPC;
	if (!err && found) {
		err = kvfs_dir_ctx_read_dblk(&d, dblk, &bp);
		/*
		 * block_createname() moves the record keyed by the block's
		 * kvfs_dir_idx_best(): one that is not the record found here is met
		 * only after the block's change (log shut down)
		 */
		if (!err) {
			struct kvfs_dir_free_rec at;
			int stat;

			err = kvfs_btree_get_rec(&fc->cur, &at, &stat);
			if (!err && stat &&
			    kv_le32_to_cpu(at.best) != kvfs_dir_idx_best(bp))
				err = kvfs_dir_ctx_corrupt(
					&d, bp->b_blkno,
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
	struct kvfs_dir_ctx d;
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
static int drop_empty(struct kvfs_dir_ctx *d, uint32_t dblk, uint32_t best,
		      bool *dropped)
{
	bool found;
	int err = drop_dblk(d, dblk, dropped);

	if (err || !*dropped)
		return err;
	err = kvfs_dir_free_delete(d, best, dblk, &found);
	if (!err && !found)
		err = kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno,
					   "free record missing");
	return err;
}

/*
 * After the last data block went: a block kept empty before it (its
 * extent could not be split then, drop_dblk()) now ends the data space
 * and goes too, from the extent's end (no split), as XFS's
 * xfs_dir2_leaf_trim_data() trims a leaf directory's last empty block.
 * One a removal: its log reservation holds that one.
 */
static int trim_last_empty(struct kvfs_dir_ctx *d)
{
	uint32_t last = kv_le32_to_cpu(head(d->hbp)->ndata) - 1;
	struct kv_buf *bp = NULL;
	bool dropped;
	int err;

	if (!last)
		return 0;
	err = kvfs_dir_ctx_read_dblk(d, last, &bp);
	if (err || kv_le32_to_cpu(dhdr(bp)->nents))
		return err;
	return drop_empty(d, last, kvfs_dir_idx_best(bp), &dropped);
}

/* Remove name's entry, found at address addr (d's head read, in d->tp). */
static int block_removename(struct kvfs_dir_ctx *d, const char *name,
			    size_t len, uint64_t addr)
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
	err = kvfs_dir_ctx_read_dblk(d, dblk, &bp);
	if (err)
		return err;
	old = kvfs_dir_idx_best(bp);
	err = kvfs_dir_data_remove(d->tp, d->dp, bp, off);
	if (!err && dblk && !kv_le32_to_cpu(dhdr(bp)->nents)) {
		bool last = dblk + 1 == kv_le32_to_cpu(hd->ndata);

		err = drop_empty(d, dblk, old, &dropped);
		if (!err && dropped && last)
			err = trim_last_empty(d);
		else if (!err && !dropped)
			err = kvfs_dir_free_reindex(d, NULL, bp, old, dblk);
	} else if (!err) {
		err = kvfs_dir_free_reindex(d, NULL, bp, old, dblk);
	}
	if (!err)
		err = kvfs_dir_hash_delete(
			d,
			kvfs_dir_hashname((const uint8_t *)name, (unsigned)len),
			addr);
	if (err)
		return err;
	hd->nentries = kv_cpu_to_le64(kv_le64_to_cpu(hd->nentries) - 1);
	kvfs_dir_ctx_log(d, d->hbp, KVFS_DIR_DATA_HDR_SIZE,
			 KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
	return maybe_to_sf(d);
}

int kvfs_dir_removename(struct kvfs_trans *tp, struct kvfs_inode *dp,
			const char *name, size_t len, uint64_t ino)
{
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	struct kvfs_dir_ctx d;
	bool found;
	int err = check_format(dp);

	if (err)
		return err;
	if (dp->i_dformat == KVFS_DFORK_INLINE)
		return sf_removename(tp, dp, name, len, ino);
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err)
		err = kvfs_dir_hash_find(&d, &m, &found);
	if (err)
		return err;
	if (!found || m.ino != ino)
		return -ENOENT;
	return block_removename(&d, name, len, m.addr);
}

int kvfs_dir_lookup_slot(struct kvfs_inode *dp, const char *name, size_t len,
			 struct kvfs_dir_slot *slot)
{
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	struct kvfs_dir_sf_ent *e;
	struct kvfs_dir_ctx d;
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
	struct kvfs_dir_ctx d;
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
static int removal_reads(struct kvfs_dir_ctx *d, const char *name, size_t len,
			 uint64_t addr, const char *first, size_t flen)
{
	uint32_t dblk = (uint32_t)(addr * 8 >> d->g->dirblklog);
	struct kvfs_dir_cur fc, hc, ic;
	struct kvfs_dir_free_rec r;
	struct kv_buf *bp = NULL;
	int stat, err;

	err = kvfs_dir_ctx_read_dblk(d, dblk, &bp);
	if (err)
		return err;
	r.best = kv_cpu_to_le32(kvfs_dir_idx_best(bp));
	r.dblk = kv_cpu_to_le32(dblk);
	kvfs_dir_ctx_tree_cur(d, &fc.cur, &fc.c, true);
	err = kvfs_btree_lookup(&fc.cur, KVFS_LOOKUP_EQ, &r, &stat);
	if (!err && stat)
		err = kvfs_btree_delete_reads(&fc.cur, NULL);
	/* kvfs_dir_free_reindex() would look it up after the block's change */
	else if (!err)
		err = kvfs_dir_ctx_corrupt(
			d, bp->b_blkno, "free record disagrees with its block");
	if (!err && first)
		err = kvfs_dir_hash_ins_reads(d, first, flen, &ic, false, NULL,
					      NULL);
	if (!err) {
		struct kvfs_dir_hash_rec h = {
			.hash = kv_cpu_to_le32(kvfs_dir_hashname(
				(const uint8_t *)name, (unsigned)len)),
			.addr = kv_cpu_to_le32((uint32_t)addr)
		};

		kvfs_dir_ctx_tree_cur(d, &hc.cur, &hc.c, false);
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
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	bool found = true;
	struct kvfs_dir_ctx d;
	int err = check_format(dp);

	if (err || dp->i_dformat == KVFS_DFORK_INLINE)
		return err;
	dctx_init(&d, tp, dp);
	err = read_head(&d);
	if (!err && slot)
		m.addr = slot->addr;
	else if (!err)
		err = kvfs_dir_hash_find(&d, &m, &found);
	if (!err && found)
		err = removal_reads(&d, name, len, m.addr, first, flen);
	dctx_done(&d);
	return err;
}

int kvfs_dir_replace(struct kvfs_trans *tp, struct kvfs_inode *dp,
		     const char *name, size_t len, uint64_t ino, uint8_t ftype)
{
	struct kvfs_dir_hmatch m = { .name = name, .len = len };
	struct kvfs_dir_data_ent *e;
	struct kv_buf *bp = NULL;
	struct kvfs_dir_ctx d;
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
		err = kvfs_dir_hash_find(&d, &m, &found);
	if (err)
		return err;
	if (!found)
		return -ENOENT;
	dblk = (uint32_t)(m.addr * 8 >> d.g->dirblklog);
	off = (uint32_t)(m.addr * 8 & (d.g->dirblksize - 1));
	err = kvfs_dir_ctx_read_dblk(&d, dblk, &bp);
	if (err)
		return err;
	e = ent_at(bp, off);
	e->ino = kv_cpu_to_le64(ino);
	e->ftype = ftype;
	kvfs_dir_ctx_log(&d, bp, off, KVFS_DIR_DATA_ENT_SIZE);
	return 0;
}

bool kvfs_dir_isempty(struct kvfs_inode *dp)
{
	struct kvfs_dir_ctx d;
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
	struct kvfs_dir_ctx d;
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

		err = kvfs_dir_ctx_read_dblk(&d, (uint32_t)dblk, &bp);
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
