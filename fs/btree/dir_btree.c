// SPDX-License-Identifier: GPL-2.0
/*
 * The directory's two index trees as engine types (fs/btree/btree.h): the name
 * hash index (hash, address) and the free-space index (bestfree, data
 * block), rooted in the head of data block 0, their blocks allocated from
 * the directory's AG (from its end, away from the data blocks, so that the
 * data extents stay contiguous) and freed through extent-free intents;
 * the directory's nblocks counts them.  Also the data block check.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "fs/mem.h"
#include "fs/space/alloc.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/ns/dir.h"
#include "fs/space/extfree_item.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

static void hash_rec_key(const void *rec, void *key)
{
	memcpy(key, rec, sizeof(struct kvfs_dir_hash_rec));
}

static int hash_cmp_key(const void *a, const void *b)
{
	const struct kvfs_dir_hash_rec *x = a, *y = b;
	uint32_t hx = kv_le32_to_cpu(x->hash), hy = kv_le32_to_cpu(y->hash);
	uint32_t ax = kv_le32_to_cpu(x->addr), ay = kv_le32_to_cpu(y->addr);

	if (hx != hy)
		return hx < hy ? -1 : 1;
	return ax < ay ? -1 : ax > ay;
}

static const char *hash_check_rec(const struct kvfs_geom *g, uint64_t owner,
				  const void *rec)
{
	const struct kvfs_dir_hash_rec *r = rec;
	uint64_t a = kv_le32_to_cpu(r->addr);

	(void)owner;
	if (a * 8 % g->dirblksize < KVFS_DIR_DATA_HDR_SIZE)
		return "address outside the data space";
	return NULL;
}

const struct kvfs_btree_ops kvfs_dir_hash_ops = {
	.name = "directory name hash index",
	.magic = KVFS_DIR_HASH_MAGIC,
	.recsize = sizeof(struct kvfs_dir_hash_rec),
	.keysize = sizeof(struct kvfs_dir_hash_rec),
	.rec_key = hash_rec_key,
	.cmp_key = hash_cmp_key,
	.check_rec = hash_check_rec,
};

static void free_rec_key(const void *rec, void *key)
{
	memcpy(key, rec, sizeof(struct kvfs_dir_free_rec));
}

static int free_cmp_key(const void *a, const void *b)
{
	const struct kvfs_dir_free_rec *x = a, *y = b;
	uint32_t bx = kv_le32_to_cpu(x->best), by = kv_le32_to_cpu(y->best);
	uint32_t dx = kv_le32_to_cpu(x->dblk), dy = kv_le32_to_cpu(y->dblk);

	if (bx != by)
		return bx < by ? -1 : 1;
	return dx < dy ? -1 : dx > dy;
}

static const char *free_check_rec(const struct kvfs_geom *g, uint64_t owner,
				  const void *rec)
{
	const struct kvfs_dir_free_rec *r = rec;

	(void)owner;
	if (kv_le32_to_cpu(r->best) > g->dirblksize - KVFS_DIR_DATA_HDR_SIZE ||
	    kv_le32_to_cpu(r->best) % 8)
		return "best free length impossible";
	return NULL;
}

const struct kvfs_btree_ops kvfs_dir_free_ops = {
	.name = "directory free-space index",
	.magic = KVFS_DIR_FREE_MAGIC,
	.recsize = sizeof(struct kvfs_dir_free_rec),
	.keysize = sizeof(struct kvfs_dir_free_rec),
	.rec_key = free_rec_key,
	.cmp_key = free_cmp_key,
	.check_rec = free_check_rec,
};

static struct kvfs_dir_head *head_of(struct kvfs_btree_cur *cur)
{
	struct kvfs_dir_tree_ctx *c = cur->priv;

	return (void *)((char *)c->hbp->b_addr + KVFS_DIR_DATA_HDR_SIZE);
}

static void dir_get_root(struct kvfs_btree_cur *cur, uint64_t *root,
			 unsigned *level)
{
	struct kvfs_dir_tree_ctx *c = cur->priv;
	struct kvfs_dir_head *h = head_of(cur);

	*root = kv_le64_to_cpu(c->free_tree ? h->free_root : h->hash_root);
	*level = c->free_tree ? h->free_level : h->hash_level;
}

static void dir_set_root(struct kvfs_btree_cur *cur, uint64_t root,
			 unsigned level)
{
	struct kvfs_dir_tree_ctx *c = cur->priv;
	struct kvfs_dir_head *h = head_of(cur);

	if (c->free_tree) {
		h->free_root = kv_cpu_to_le64(root);
		h->free_level = (uint8_t)level;
	} else {
		h->hash_root = kv_cpu_to_le64(root);
		h->hash_level = (uint8_t)level;
	}
	kvfs_trans_log_buf(cur->tp, c->hbp, KVFS_DIR_DATA_HDR_SIZE,
			   KVFS_DIR_HEAD_SIZE - 1);
}

/* A tree block from the directory's AG, searched from the AG's end. */
int kvfs_dir_alloc_tree_block(struct kvfs_trans *tp, struct kvfs_inode *dp,
			      uint64_t *fsb)
{
	const struct kvfs_geom *g = &tp->mp->g;
	uint32_t agno = kvfs_ino_to_agno(g, dp->i_ino);
	struct kvfs_alloc_arg a = {
		.tp = tp,
		.goal = kvfs_agb_to_fsb(g, agno, kvfs_ag_length(g, agno) - 1),
		.minlen = 1,
		.maxlen = 1,
		.type = KVFS_ALLOC_START_AG,
		.owner = dp->i_ino,
	};
	int err = kvfs_alloc_vextent(&a);

	if (err)
		return err;
	*fsb = a.fsb;
	dp->i_nblocks++;
	kvfs_trans_log_inode(tp, dp, KVFS_ILOG_CORE);
	return 0;
}

int kvfs_dir_free_tree_block(struct kvfs_trans *tp, struct kvfs_inode *dp,
			     uint64_t fsb)
{
	int err = kvfs_free_extent_later(tp, fsb, 1);

	if (err)
		return err;
	dp->i_nblocks--;
	kvfs_trans_log_inode(tp, dp, KVFS_ILOG_CORE);
	return 0;
}

static int dir_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			   uint64_t *fsb)
{
	struct kvfs_dir_tree_ctx *c = cur->priv;

	(void)near;
	return kvfs_dir_alloc_tree_block(c->tp, c->dp, fsb);
}

static int dir_free_block(struct kvfs_btree_cur *cur, uint64_t fsb)
{
	struct kvfs_dir_tree_ctx *c = cur->priv;

	return kvfs_dir_free_tree_block(c->tp, c->dp, fsb);
}

const struct kvfs_btree_tree_ops kvfs_dir_hash_tree_ops = {
	.fmt = &kvfs_dir_hash_ops,
	.buf_ops = &kvfs_dir_hash_buf_ops,
	.get_root = dir_get_root,
	.set_root = dir_set_root,
	.alloc_block = dir_alloc_block,
	.free_block = dir_free_block,
};

const struct kvfs_btree_tree_ops kvfs_dir_free_tree_ops = {
	.fmt = &kvfs_dir_free_ops,
	.buf_ops = &kvfs_dir_free_buf_ops,
	.get_root = dir_get_root,
	.set_root = dir_set_root,
	.alloc_block = dir_alloc_block,
	.free_block = dir_free_block,
};

const char *kvfs_dir_data_check(const struct kvfs_geom *g, const void *blk,
				size_t len)
{
	const struct kvfs_dir_data_hdr *h = blk;
	const uint8_t *b = blk;
	uint32_t dblk = kv_le32_to_cpu(h->dblk);
	uint32_t pos = dblk ? KVFS_DIR_DATA_HDR_SIZE : KVFS_DIR_HEAD_SIZE;
	uint32_t best = 0, nents = 0;
	bool prev_unused = false;

	if (len != g->dirblksize)
		return "buffer is not one directory block";
	if (!dblk) {
		const struct kvfs_dir_head *hd =
			(const void *)(b + KVFS_DIR_DATA_HDR_SIZE);

		if (hd->hash_level >= KVFS_BTREE_MAXLEVELS ||
		    hd->free_level >= KVFS_BTREE_MAXLEVELS ||
		    kv_le16_to_cpu(hd->pad0) || !kv_le32_to_cpu(hd->ndata) ||
		    kv_le64_to_cpu(hd->hash_root) >= g->dblocks ||
		    kv_le64_to_cpu(hd->free_root) >= g->dblocks ||
		    !kvfs_ino_in_range(g, kv_le64_to_cpu(hd->parent)))
			return "directory head invalid";
	}
	while (pos < len) {
		const struct kvfs_dir_data_ent *e = (const void *)(b + pos);
		uint32_t rl;

		if (pos + KVFS_DIR_DATA_ENT_SIZE > len)
			return "record runs past the block";
		rl = kv_le32_to_cpu(e->reclen);
		if (rl < KVFS_DIR_DATA_ENT_SIZE || rl % 8 || rl > len - pos ||
		    kv_le16_to_cpu(e->pad0))
			return "record length invalid";
		if (!kv_le64_to_cpu(e->ino)) {
			if (prev_unused)
				return "two unused records side by side";
			if (e->namelen || e->ftype)
				return "unused record with a name";
			if (rl > best)
				best = rl;
			prev_unused = true;
		} else {
			uint32_t es = KVFS_DIR_DATA_ENTSIZE(e->namelen);

			if (!e->namelen || (rl != es && rl != es + 8))
				return "entry length invalid";
			if (memchr(e->name, '/', e->namelen) ||
			    memchr(e->name, '\0', e->namelen) ||
			    !kvfs_mem_is_zero(e->name + e->namelen,
					      es - KVFS_DIR_DATA_ENT_SIZE -
						      e->namelen) ||
			    (e->namelen <= 2 && e->name[0] == '.' &&
			     (e->namelen == 1 || e->name[1] == '.')))
				return "entry name invalid";
			if (!kvfs_ino_in_range(g, kv_le64_to_cpu(e->ino)))
				return "entry inode out of range";
			if (e->ftype == KVFS_FT_UNKNOWN ||
			    e->ftype >= KVFS_FT_MAX)
				return "entry file type invalid";
			nents++;
			prev_unused = false;
		}
		pos += rl;
	}
	if (best != kv_le32_to_cpu(h->bestfree))
		return "bestfree differs from the longest unused record";
	if (kv_le32_to_cpu(h->idxlag) > best)
		return "index lag exceeds bestfree";
	if (nents != kv_le32_to_cpu(h->nents))
		return "entry count differs from the records";
	return NULL;
}
