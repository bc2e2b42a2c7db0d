// SPDX-License-Identifier: GPL-2.0
/*
 * The two free-space trees as engine types (fs/btree/btree.h): roots and levels
 * in the AG header, blocks from the AG's block source (struct
 * kvfs_btree_ag).  The block format and record checks are in
 * fs/btree/allocbt.c.
 */
#include <stddef.h>

#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"

void kvfs_btree_ag_get_root(struct kvfs_btree_cur *cur, struct kv_buf *hbp,
			    size_t root_off, size_t level_off, uint64_t *root,
			    unsigned *level)
{
	struct kvfs_btree_ag *ag = cur->priv;
	const uint8_t *h = hbp->b_addr;
	const kv_le32 *r = (const kv_le32 *)(h + root_off);

	*root = kvfs_agb_to_fsb(cur->g, ag->agno, kv_le32_to_cpu(*r));
	*level = h[level_off];
}

void kvfs_btree_ag_set_root(struct kvfs_btree_cur *cur, struct kv_buf *hbp,
			    size_t root_off, size_t level_off, uint64_t root,
			    unsigned level)
{
	uint8_t *h = hbp->b_addr;

	*(kv_le32 *)(h + root_off) =
		kv_cpu_to_le32(kvfs_fsb_to_agbno(cur->g, root));
	h[level_off] = (uint8_t)level;
	kvfs_trans_log_buf(cur->tp, hbp, (unsigned)root_off,
			   (unsigned)root_off + sizeof(kv_le32) - 1);
	kvfs_trans_log_buf(cur->tp, hbp, (unsigned)level_off,
			   (unsigned)level_off);
}

int kvfs_btree_ag_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			      uint64_t *fsb)
{
	struct kvfs_btree_ag *ag = cur->priv;

	return ag->alloc_block(ag->src, cur->tp, ag->agno, near, fsb);
}

int kvfs_btree_ag_free_block(struct kvfs_btree_cur *cur, uint64_t fsb)
{
	struct kvfs_btree_ag *ag = cur->priv;

	return ag->free_block(ag->src, cur->tp, fsb);
}

static void bno_get_root(struct kvfs_btree_cur *cur, uint64_t *root,
			 unsigned *level)
{
	kvfs_btree_ag_get_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agf_bp,
			       offsetof(struct kvfs_agf, bno_root),
			       offsetof(struct kvfs_agf, bno_level), root,
			       level);
}

static void bno_set_root(struct kvfs_btree_cur *cur, uint64_t root,
			 unsigned level)
{
	kvfs_btree_ag_set_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agf_bp,
			       offsetof(struct kvfs_agf, bno_root),
			       offsetof(struct kvfs_agf, bno_level), root,
			       level);
}

static void cnt_get_root(struct kvfs_btree_cur *cur, uint64_t *root,
			 unsigned *level)
{
	kvfs_btree_ag_get_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agf_bp,
			       offsetof(struct kvfs_agf, cnt_root),
			       offsetof(struct kvfs_agf, cnt_level), root,
			       level);
}

static void cnt_set_root(struct kvfs_btree_cur *cur, uint64_t root,
			 unsigned level)
{
	kvfs_btree_ag_set_root(cur, ((struct kvfs_btree_ag *)cur->priv)->agf_bp,
			       offsetof(struct kvfs_agf, cnt_root),
			       offsetof(struct kvfs_agf, cnt_level), root,
			       level);
}

const struct kvfs_btree_tree_ops kvfs_bnobt_tree_ops = {
	.fmt = &kvfs_bnobt_ops,
	.buf_ops = &kvfs_bnobt_buf_ops,
	.get_root = bno_get_root,
	.set_root = bno_set_root,
	.alloc_block = kvfs_btree_ag_alloc_block,
	.free_block = kvfs_btree_ag_free_block,
};

const struct kvfs_btree_tree_ops kvfs_cntbt_tree_ops = {
	.fmt = &kvfs_cntbt_ops,
	.buf_ops = &kvfs_cntbt_buf_ops,
	.get_root = cnt_get_root,
	.set_root = cnt_set_root,
	.alloc_block = kvfs_btree_ag_alloc_block,
	.free_block = kvfs_btree_ag_free_block,
};
