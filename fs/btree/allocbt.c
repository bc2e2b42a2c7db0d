// SPDX-License-Identifier: GPL-2.0
/*
 * Free-space B+tree types: by block (records sorted by start) and by size
 * (sorted by length, then start), both over struct kvfs_alloc_rec and both
 * owned by their AG.  The key is the record itself.
 */
#include <stddef.h>

#include "fs/btree/btblock.h"

static void alloc_rec_key(const void *rec, void *key)
{
	*(struct kvfs_alloc_rec *)key = *(const struct kvfs_alloc_rec *)rec;
}

static int cmp_u32(uint32_t a, uint32_t b)
{
	return a < b ? -1 : a > b;
}

static int bno_cmp_key(const void *a, const void *b)
{
	const struct kvfs_alloc_rec *x = a, *y = b;

	return cmp_u32(kv_le32_to_cpu(x->startblock),
		       kv_le32_to_cpu(y->startblock));
}

static int cnt_cmp_key(const void *a, const void *b)
{
	const struct kvfs_alloc_rec *x = a, *y = b;
	int c = cmp_u32(kv_le32_to_cpu(x->blockcount),
			kv_le32_to_cpu(y->blockcount));

	return c ? c : bno_cmp_key(a, b);
}

static const char *alloc_check_rec(const struct kvfs_geom *g, uint64_t owner,
				   const void *rec)
{
	const struct kvfs_alloc_rec *r = rec;
	uint32_t start = kv_le32_to_cpu(r->startblock);
	uint32_t len = kv_le32_to_cpu(r->blockcount);

	if (owner >= g->agcount)
		return "owner is not an AG";
	if (!len)
		return "empty extent";
	if (start < KVFS_AG_HDR_BLOCKS)
		return "extent covers the AG headers";
	if ((uint64_t)start + len > kvfs_ag_length(g, (uint32_t)owner))
		return "extent runs past the end of the AG";
	return NULL;
}

static const char *bno_check_next(const void *prev, const void *rec)
{
	const struct kvfs_alloc_rec *p = prev, *r = rec;

	if ((uint64_t)kv_le32_to_cpu(p->startblock) +
		    kv_le32_to_cpu(p->blockcount) >
	    kv_le32_to_cpu(r->startblock))
		return "overlaps the previous extent";
	return NULL;
}

const struct kvfs_btree_ops kvfs_bnobt_ops = {
	.name = "free-space by-block tree",
	.magic = KVFS_BNOBT_MAGIC,
	.recsize = sizeof(struct kvfs_alloc_rec),
	.keysize = sizeof(struct kvfs_alloc_rec),
	.ag_tree = true,
	.rec_key = alloc_rec_key,
	.cmp_key = bno_cmp_key,
	.check_rec = alloc_check_rec,
	.check_next = bno_check_next,
};

const struct kvfs_btree_ops kvfs_cntbt_ops = {
	.name = "free-space by-size tree",
	.magic = KVFS_CNTBT_MAGIC,
	.recsize = sizeof(struct kvfs_alloc_rec),
	.keysize = sizeof(struct kvfs_alloc_rec),
	.ag_tree = true,
	.rec_key = alloc_rec_key,
	.cmp_key = cnt_cmp_key,
	.check_rec = alloc_check_rec,
};
