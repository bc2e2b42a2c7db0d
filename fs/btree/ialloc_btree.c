// SPDX-License-Identifier: GPL-2.0
/*
 * The inode-chunk tree as an engine type (fs/btree/btree.h): root and level in
 * the AG header, blocks from the AG's block source.  The block format and
 * record checks are in fs/btree/inobt.c.
 */
#include <stddef.h>

#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"

static void ino_get_root(struct kvfs_btree_cur *cur, uint64_t *root,
			 unsigned *level)
{
	kvfs_btree_ag_get_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agi_bp,
			       offsetof(struct kvfs_agi, ino_root),
			       offsetof(struct kvfs_agi, ino_level), root,
			       level);
}

static void ino_set_root(struct kvfs_btree_cur *cur, uint64_t root,
			 unsigned level)
{
	kvfs_btree_ag_set_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agi_bp,
			       offsetof(struct kvfs_agi, ino_root),
			       offsetof(struct kvfs_agi, ino_level), root,
			       level);
}

const struct kvfs_btree_tree_ops kvfs_inobt_tree_ops = {
	.fmt = &kvfs_inobt_ops,
	.buf_ops = &kvfs_inobt_buf_ops,
	.get_root = ino_get_root,
	.set_root = ino_set_root,
	.alloc_block = kvfs_btree_ag_alloc_block,
	.free_block = kvfs_btree_ag_free_block,
};
