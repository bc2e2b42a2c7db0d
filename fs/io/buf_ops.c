// SPDX-License-Identifier: GPL-2.0
/*
 * Buffer ops of the metadata block types.  Read verification delegates to
 * the format's verifiers (which record what was wrong through
 * kvfs_corrupt(); the message also becomes the buffer cache's detail for
 * kv_buf_last_error()); write-back stamps the buffer's LSN and recomputes
 * the crc of each self-describing unit in the buffer.
 */
#include "fs/io/buf_ops.h"

#include <errno.h>

#include "fs/format/ag.h"
#include "fs/ns/attr.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/format/geom.h"
#include "fs/format/sb.h"
#include "fs/ns/symlink.h"

static const struct kvfs_geom *buf_geom(const struct kv_buf *bp)
{
	return kv_bcache_private(bp->b_cache);
}

/* Every single-header block type is stamped the same way. */
static int blk_verify_write(struct kv_buf *bp)
{
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

/* Hand a failed verifier's report to the buffer cache's error detail. */
static int verdict(struct kv_buf *bp, int err)
{
	if (!err)
		return 0;
	return kv_buf_corrupt(bp, err, "%s", kvfs_report_last()->msg);
}

/*
 * A block that verifies, against the log's head (its cache's, none but a
 * mounted filesystem's: kv_bcache_set_lsn_head()).  The superblocks are
 * left out, as fsck.kvfs leaves them out of its LSN check (phase 2).
 */
int kvfs_buf_check_lsn(struct kv_buf *bp, int err, const char *what)
{
	if (!err)
		err = kvfs_blkhdr_check_lsn(bp->b_addr, bp->b_blkno,
					    KVFS_NULLINO, what,
					    kv_bcache_lsn_head(bp->b_cache));
	return verdict(bp, err);
}

static int sb_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	struct kvfs_geom copy;

	return verdict(bp, kvfs_sb_from_disk(bp->b_addr, bp->b_len,
					     kvfs_fsb_to_agno(g, bp->b_blkno),
					     g->meta_uuid, &copy));
}

static int agf_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	struct kvfs_agf_info agf;

	return kvfs_buf_check_lsn(
		bp,
		kvfs_agf_from_disk(g, kvfs_fsb_to_agno(g, bp->b_blkno),
				   bp->b_addr, &agf),
		kvfs_agf_buf_ops.name);
}

static int agi_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	struct kvfs_agi_info agi;

	return kvfs_buf_check_lsn(
		bp,
		kvfs_agi_from_disk(g, kvfs_fsb_to_agno(g, bp->b_blkno),
				   bp->b_addr, &agi),
		kvfs_agi_buf_ops.name);
}

static int agfl_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);

	return kvfs_buf_check_lsn(
		bp,
		kvfs_agfl_verify(g, kvfs_fsb_to_agno(g, bp->b_blkno),
				 bp->b_addr),
		kvfs_agfl_buf_ops.name);
}

static int btree_verify_read(struct kv_buf *bp,
			     const struct kvfs_btree_ops *ops)
{
	const struct kvfs_geom *g = buf_geom(bp);

	return kvfs_buf_check_lsn(
		bp,
		kvfs_btree_verify_block(bp->b_addr, g, ops, bp->b_blkno,
					kvfs_fsb_to_agno(g, bp->b_blkno), -1),
		ops->name);
}

static int bnobt_verify_read(struct kv_buf *bp)
{
	return btree_verify_read(bp, &kvfs_bnobt_ops);
}

static int cntbt_verify_read(struct kv_buf *bp)
{
	return btree_verify_read(bp, &kvfs_cntbt_ops);
}

static int inobt_verify_read(struct kv_buf *bp)
{
	return btree_verify_read(bp, &kvfs_inobt_ops);
}

/*
 * An extent-map block belongs to an inode the buffer does not know: the
 * header's owner is taken as it is here, and the cursor checks it is the
 * inode whose tree it walks.
 */
static int bmbt_verify_read(struct kv_buf *bp)
{
	const struct kvfs_blk_hdr *h = bp->b_addr;

	return kvfs_buf_check_lsn(
		bp,
		kvfs_btree_verify_block(bp->b_addr, buf_geom(bp),
					&kvfs_bmbt_ops, bp->b_blkno,
					kv_le64_to_cpu(h->owner), -1),
		kvfs_bmbt_ops.name);
}

/*
 * Directory blocks name their directory as owner: the verifier checks the
 * owner is an inode of this filesystem; the directory code checks it is
 * the directory it walks.
 */
static uint64_t dir_owner(const struct kv_buf *bp)
{
	const struct kvfs_blk_hdr *h = bp->b_addr;

	return kv_le64_to_cpu(h->owner);
}

static int dir_tree_verify_read(struct kv_buf *bp,
				const struct kvfs_btree_ops *ops)
{
	const struct kvfs_geom *g = buf_geom(bp);

	if (!kvfs_ino_in_range(g, dir_owner(bp)))
		return verdict(bp,
			       kvfs_corrupt(-EUCLEAN, bp->b_blkno, ops->name,
					    "owner is not an inode"));
	return kvfs_buf_check_lsn(bp,
				  kvfs_btree_verify_block(bp->b_addr, g, ops,
							  bp->b_blkno,
							  dir_owner(bp), -1),
				  ops->name);
}

static int dir_hash_verify_read(struct kv_buf *bp)
{
	return dir_tree_verify_read(bp, &kvfs_dir_hash_ops);
}

static int dir_free_verify_read(struct kv_buf *bp)
{
	return dir_tree_verify_read(bp, &kvfs_dir_free_ops);
}

static int dir_data_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	const char *bad;
	int ret;

	if (bp->b_len < KVFS_BLK_HDR_SIZE ||
	    !kvfs_ino_in_range(g, dir_owner(bp)))
		return verdict(bp, kvfs_corrupt(-EUCLEAN, bp->b_blkno,
						"directory data block",
						"owner is not an inode"));
	ret = kvfs_blkhdr_verify(bp->b_addr, bp->b_len, KVFS_DIR_DATA_MAGIC,
				 bp->b_blkno, dir_owner(bp), g->meta_uuid,
				 "directory data block");
	if (ret)
		return verdict(bp, ret);
	bad = kvfs_dir_data_check(g, bp->b_addr, bp->b_len);
	if (bad)
		return verdict(bp,
			       kvfs_corrupt(-EUCLEAN, bp->b_blkno,
					    "directory data block", "%s", bad));
	return kvfs_buf_check_lsn(bp, 0, "directory data block");
}

/* The inode number of the first inode of the buffer's first block. */
static uint64_t inode_buf_first_ino(const struct kvfs_geom *g,
				    const struct kv_buf *bp)
{
	uint32_t agno = kvfs_fsb_to_agno(g, bp->b_blkno);
	uint32_t agbno = kvfs_fsb_to_agbno(g, bp->b_blkno);

	return kvfs_agino_to_ino(g, agno, kvfs_agbno_to_agino(g, agbno));
}

/*
 * Lightly, as XFS's inode buffer verifier: every slot carries the inode
 * magic (a block that is not inodes at all fails).  Each inode's crc and
 * fields are checked by kvfs_dinode_verify() when that inode is loaded, so
 * one damaged inode leaves the others of its cluster readable.
 */
static int inode_verify_read(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	uint64_t ino = inode_buf_first_ino(g, bp);
	size_t nr = bp->b_len >> g->inodelog;

	for (size_t i = 0; i < nr; i++) {
		const struct kvfs_dinode *d =
			(const void *)((char *)bp->b_addr + (i << g->inodelog));
		uint32_t m = kv_le32_to_cpu(d->hdr.magic);

		if (m != KVFS_DINODE_MAGIC)
			return verdict(bp, kvfs_corrupt_inode(
						   -EUCLEAN,
						   kvfs_ino_to_fsb(g, ino + i),
						   ino + i,
						   "bad magic 0x%08x in the "
						   "inode cluster",
						   m));
	}
	return 0;
}

/*
 * Each inode keeps its own LSN (the inode log item stamps the inode it
 * writes back, XFS's di_lsn): a neighbour in the cluster may hold contents
 * older than the buffer's LSN, and stamping it would make recovery skip
 * its deltas.  Only the crcs are recomputed.
 */
static int inode_verify_write(struct kv_buf *bp)
{
	const struct kvfs_geom *g = buf_geom(bp);
	size_t nr = bp->b_len >> g->inodelog;

	for (size_t i = 0; i < nr; i++)
		kvfs_blkhdr_set_crc((char *)bp->b_addr + (i << g->inodelog),
				    g->inodesize);
	return 0;
}

const struct kv_buf_ops kvfs_sb_buf_ops = {
	.name = "superblock",
	.verify_read = sb_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_agf_buf_ops = {
	.name = "AG free-space header",
	.verify_read = agf_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_agi_buf_ops = {
	.name = "AG inode header",
	.verify_read = agi_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_agfl_buf_ops = {
	.name = "AG reserve list",
	.verify_read = agfl_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_bnobt_buf_ops = {
	.name = "free space by block",
	.verify_read = bnobt_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_cntbt_buf_ops = {
	.name = "free space by size",
	.verify_read = cntbt_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_inobt_buf_ops = {
	.name = "inode chunks",
	.verify_read = inobt_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_bmbt_buf_ops = {
	.name = "extent map",
	.verify_read = bmbt_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_dir_hash_buf_ops = {
	.name = "directory name hash index",
	.verify_read = dir_hash_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_dir_free_buf_ops = {
	.name = "directory free-space index",
	.verify_read = dir_free_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_dir_data_buf_ops = {
	.name = "directory data",
	.verify_read = dir_data_verify_read,
	.verify_write = blk_verify_write,
};

const struct kv_buf_ops kvfs_inode_buf_ops = {
	.name = "inodes",
	.verify_read = inode_verify_read,
	.verify_write = inode_verify_write,
};

const struct kv_buf_ops *kvfs_buf_ops_by_magic(const void *blk, size_t len)
{
	static const struct {
		uint32_t magic;
		const struct kv_buf_ops *ops;
	} types[] = {
		{ KVFS_SB_MAGIC, &kvfs_sb_buf_ops },
		{ KVFS_AGF_MAGIC, &kvfs_agf_buf_ops },
		{ KVFS_AGI_MAGIC, &kvfs_agi_buf_ops },
		{ KVFS_AGFL_MAGIC, &kvfs_agfl_buf_ops },
		{ KVFS_BNOBT_MAGIC, &kvfs_bnobt_buf_ops },
		{ KVFS_CNTBT_MAGIC, &kvfs_cntbt_buf_ops },
		{ KVFS_INOBT_MAGIC, &kvfs_inobt_buf_ops },
		{ KVFS_BMBT_MAGIC, &kvfs_bmbt_buf_ops },
		{ KVFS_DINODE_MAGIC, &kvfs_inode_buf_ops },
		{ KVFS_ATTR_LEAF_MAGIC, &kvfs_attr_buf_ops },
		{ KVFS_ATTR_NODE_MAGIC, &kvfs_attr_buf_ops },
		{ KVFS_ATTR_RMT_MAGIC, &kvfs_attr_buf_ops },
		{ KVFS_SYMLINK_MAGIC, &kvfs_symlink_buf_ops },
		{ KVFS_DIR_DATA_MAGIC, &kvfs_dir_data_buf_ops },
		{ KVFS_DIR_HASH_MAGIC, &kvfs_dir_hash_buf_ops },
		{ KVFS_DIR_FREE_MAGIC, &kvfs_dir_free_buf_ops },
	};
	uint32_t magic;
	size_t i;

	if (len < KVFS_BLK_HDR_SIZE)
		return NULL;
	magic = kv_le32_to_cpu(((const struct kvfs_blk_hdr *)blk)->magic);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].magic == magic)
			return types[i].ops;
	return NULL;
}
