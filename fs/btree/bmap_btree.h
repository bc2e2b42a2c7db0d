/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The extent-map B+tree type (XFS's xfs_bmap_btree.c): a fork's extents
 * (struct kvfs_extent) keyed by file offset, the root in the inode's fork
 * (data or attribute: struct kvfs_bmdr_block, a node of level >= 1, laid
 * out for that fork's size), the blocks owned by the inode (every block's
 * header names its inode number, checked by the cursor on every read) and
 * counted in its i_nblocks.
 *
 * Blocks: allocated one at a time by the AG allocator near the block the
 * engine names (a neighbour in the tree, else the inode), charged to the
 * transaction's reservation; freed through an extent-free intent
 * (kvfs_free_extent_later(), as XFS's xfs_bmbt_free_block does): the
 * transaction may already hold a higher AG's lock for the file's data, so
 * a direct free could break the AG lock order, and the intent makes the
 * free crash-safe without it.  Either way i_nblocks moves at once and the
 * inode core is logged.
 *
 * The cursor's priv is a struct kvfs_bmbt_ctx; owner is the inode number.
 */
#ifndef KV_FS_BMAP_BTREE_H
#define KV_FS_BMAP_BTREE_H

#include <stdint.h>

#include "fs/btree/btree.h"

struct kvfs_inode;
struct kvfs_trans;

struct kvfs_bmbt_ctx {
	/*
	 * The inode and the transaction changing its tree (both under its
	 * exclusive lock), or ip with tp NULL for lookups; or, with ip
	 * NULL, a raw fork to walk (the checker reading a dinode).
	 */
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	int whichfork; /* KVFS_DATA_FORK or KVFS_ATTR_FORK (fs/data/bmap.h) */
	uint8_t *fork;
	uint32_t forksize;
};

extern const struct kvfs_btree_ops kvfs_bmbt_ops;
extern const struct kvfs_btree_tree_ops kvfs_bmbt_tree_ops;

/*
 * A cursor over the tree of ip's fork whichfork: in tp (NULL: lookups
 * only, through the mount's buffer cache; release with
 * kvfs_btree_cur_del()).
 */
void kvfs_bmbt_cur_init(struct kvfs_btree_cur *cur, struct kvfs_bmbt_ctx *ctx,
			struct kvfs_inode *ip, int whichfork,
			struct kvfs_trans *tp);

/*
 * Every extent of the extent-map tree rooted in a stored fork (size bytes,
 * inode ino, read through bc, no transaction), in order, into a new array
 * *xp (kvfree() it) of *np records: for readers of an unmounted image (the
 * checker, fsck).  -EUCLEAN when the tree's walk finds anything wrong.
 */
int kvfs_bmbt_read_extents(struct kv_bcache *bc, const struct kvfs_geom *g,
			   uint64_t ino, const uint8_t *fork, uint32_t size,
			   struct kvfs_extent **xp, uint32_t *np);

/*
 * The filesystem block of file block off in a stored extent list (x, n
 * records), or KVFS_NULLBLOCK: a linear search, for readers of an
 * unmounted image.
 */
uint64_t kvfs_extent_list_map(const struct kvfs_extent *x, uint32_t n,
			      uint64_t off);

/* NULL, or why extent e cannot be one of a file's extents. */
const char *kvfs_extent_check(const struct kvfs_geom *g,
			      const struct kvfs_extent *e);

#endif
