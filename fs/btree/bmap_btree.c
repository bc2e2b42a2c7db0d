// SPDX-License-Identifier: GPL-2.0
/*
 * The extent-map B+tree type (fs/btree/bmap_btree.h): the record format, the
 * root in the inode's fork and the block source.
 */
#include "fs/btree/bmap_btree.h"

#include <errno.h>
#include <stddef.h>

#include "alloc/kvalloc.h"
#include "fs/space/alloc.h"
#include "fs/data/bmap.h"
#include "fs/io/buf_ops.h"
#include "fs/space/extfree_item.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

static void bmbt_rec_key(const void *rec, void *key)
{
	((struct kvfs_bmbt_key *)key)->startoff =
		((const struct kvfs_extent *)rec)->startoff;
}

/* cmp_key compares a record in place of its key (fs/btree/btblock.h) */
_Static_assert(offsetof(struct kvfs_extent, startoff) ==
		       offsetof(struct kvfs_bmbt_key, startoff),
	       "an extent record begins with its key");

static int bmbt_cmp_key(const void *a, const void *b)
{
	uint64_t x =
		kv_le64_to_cpu(((const struct kvfs_bmbt_key *)a)->startoff);
	uint64_t y =
		kv_le64_to_cpu(((const struct kvfs_bmbt_key *)b)->startoff);

	return x < y ? -1 : x > y;
}

uint64_t kvfs_extent_list_map(const struct kvfs_extent *x, uint32_t n,
			      uint64_t off)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t o = kv_le64_to_cpu(x[i].startoff);

		if (off >= o && off - o < kv_le32_to_cpu(x[i].blockcount))
			return kv_le64_to_cpu(x[i].startblock) + (off - o);
	}
	return KVFS_NULLBLOCK;
}

const char *kvfs_extent_check(const struct kvfs_geom *g,
			      const struct kvfs_extent *e)
{
	uint64_t maxoff = kvfs_max_fileoff_blocks(g);
	uint64_t off = kv_le64_to_cpu(e->startoff);
	uint64_t bno = kv_le64_to_cpu(e->startblock);
	uint32_t len = kv_le32_to_cpu(e->blockcount);

	if (!len)
		return "has no blocks";
	if (kv_le32_to_cpu(e->flags) & ~KVFS_EXT_FLAGS_ALL)
		return "has unknown flags";
	if (off >= maxoff || len > maxoff - off)
		return "ends past the largest file offset";
	if (bno >= g->dblocks || len > g->dblocks - bno)
		return "is outside the filesystem";
	if (kvfs_fsb_to_agno(g, bno) != kvfs_fsb_to_agno(g, bno + len - 1))
		return "crosses an AG";
	if (kvfs_fsb_to_agbno(g, bno) < KVFS_AG_HDR_BLOCKS)
		return "covers AG headers";
	return NULL;
}

static const char *bmbt_check_rec(const struct kvfs_geom *g, uint64_t owner,
				  const void *rec)
{
	(void)owner;
	return kvfs_extent_check(g, rec);
}

static const char *bmbt_check_next(const void *prev, const void *rec)
{
	const struct kvfs_extent *p = prev, *r = rec;

	if (kv_le64_to_cpu(p->startoff) + kv_le32_to_cpu(p->blockcount) >
	    kv_le64_to_cpu(r->startoff))
		return "overlaps the previous extent";
	return NULL;
}

const struct kvfs_btree_ops kvfs_bmbt_ops = {
	.name = "extent-map tree",
	.magic = KVFS_BMBT_MAGIC,
	.recsize = sizeof(struct kvfs_extent),
	.keysize = sizeof(struct kvfs_bmbt_key),
	.ag_tree = false,
	.rec_key = bmbt_rec_key,
	.cmp_key = bmbt_cmp_key,
	.check_rec = bmbt_check_rec,
	.check_next = bmbt_check_next,
};

static uint8_t *bmbt_iroot(struct kvfs_btree_cur *cur, uint32_t *size)
{
	struct kvfs_bmbt_ctx *c = cur->priv;

	if (!c->ip) {
		*size = c->forksize;
		return c->fork;
	}
	if (c->whichfork == KVFS_ATTR_FORK) {
		*size = kvfs_inode_afork_size(c->ip);
		return c->ip->i_afork;
	}
	*size = kvfs_inode_dfork_size(c->ip);
	return c->ip->i_dfork;
}

static void bmbt_log_iroot(struct kvfs_btree_cur *cur)
{
	struct kvfs_bmbt_ctx *c = cur->priv;

	kvfs_trans_log_inode(c->tp, c->ip,
			     KVFS_ILOG_CORE | (c->whichfork == KVFS_ATTR_FORK ?
						       KVFS_ILOG_AFORK :
						       KVFS_ILOG_DFORK));
}

static int bmbt_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			    uint64_t *fsb)
{
	struct kvfs_bmbt_ctx *c = cur->priv;
	struct kvfs_alloc_arg a = {
		.tp = c->tp,
		.goal = near != KVFS_NULLBLOCK && near < cur->g->dblocks ?
				near :
				kvfs_ino_to_fsb(cur->g, c->ip->i_ino),
		.minlen = 1,
		.maxlen = 1,
		.type = KVFS_ALLOC_START_AG,
		.owner = c->ip->i_ino,
	};
	int err;

	if (kvj_errtag(KVJ_ERRTAG_MAP_TREE_NOSPC))
		return -ENOSPC;
	err = kvfs_alloc_vextent(&a);
	if (err)
		return err;
	/* the allocator changed an AG: no backing out from here */
	kvfs_trans_set_nofail(c->tp);
	*fsb = a.fsb;
	c->ip->i_nblocks++;
	kvfs_trans_log_inode(c->tp, c->ip, KVFS_ILOG_CORE);
	return 0;
}

static int bmbt_free_block(struct kvfs_btree_cur *cur, uint64_t fsb)
{
	struct kvfs_bmbt_ctx *c = cur->priv;
	int err;

	err = kvfs_free_extent_later(c->tp, fsb, 1);
	if (err)
		return err;
	c->ip->i_nblocks--;
	kvfs_trans_log_inode(c->tp, c->ip, KVFS_ILOG_CORE);
	return 0;
}

const struct kvfs_btree_tree_ops kvfs_bmbt_tree_ops = {
	.fmt = &kvfs_bmbt_ops,
	.buf_ops = &kvfs_bmbt_buf_ops,
	.alloc_block = bmbt_alloc_block,
	.free_block = bmbt_free_block,
	.iroot = bmbt_iroot,
	.log_iroot = bmbt_log_iroot,
};

void kvfs_bmbt_cur_init(struct kvfs_btree_cur *cur, struct kvfs_bmbt_ctx *ctx,
			struct kvfs_inode *ip, int whichfork,
			struct kvfs_trans *tp)
{
	struct kvfs_mount *mp = ip->i_mount;

	ctx->ip = ip;
	ctx->tp = tp;
	ctx->whichfork = whichfork;
	ctx->fork = NULL;
	ctx->forksize = 0;
	kvfs_btree_cur_init(cur, &kvfs_bmbt_tree_ops, &mp->g,
			    tp ? tp->jt : NULL, mp->bl, ip->i_ino, ctx);
	cur->bc = mp->bc;
}

struct extents {
	struct kvfs_extent *x;
	uint32_t n, cap;
};

static int collect_extent(const void *rec, void *priv)
{
	struct extents *e = priv;

	if (e->n == e->cap) {
		uint32_t cap = e->cap ? 2 * e->cap : 64;
		struct kvfs_extent *x =
			kvrealloc(e->x, (size_t)cap * sizeof(*x), 0);

		if (!x)
			return -ENOMEM;
		e->x = x;
		e->cap = cap;
	}
	e->x[e->n++] = *(const struct kvfs_extent *)rec;
	return 0;
}

int kvfs_bmbt_read_extents(struct kv_bcache *bc, const struct kvfs_geom *g,
			   uint64_t ino, const uint8_t *fork, uint32_t size,
			   struct kvfs_extent **xp, uint32_t *np)
{
	struct kvfs_bmbt_ctx ctx = { .fork = (uint8_t *)fork,
				     .forksize = size };
	struct extents e = { 0 };
	struct kvfs_btree_walk *w = kvzalloc(sizeof(*w), 0);
	struct kvfs_btree_cur *cur = kvmalloc(sizeof(*cur), 0);
	int err = -ENOMEM;

	if (w && cur) {
		w->rec_fn = collect_extent;
		w->priv = &e;
		kvfs_btree_cur_init(cur, &kvfs_bmbt_tree_ops, g, NULL, NULL,
				    ino, &ctx);
		cur->bc = bc;
		err = kvfs_btree_walk_check(cur, bc, w);
	}
	kvfree(w);
	kvfree(cur);
	if (err) {
		kvfree(e.x);
		return err;
	}
	*xp = e.x;
	*np = e.n;
	return 0;
}
