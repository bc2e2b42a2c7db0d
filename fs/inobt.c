// SPDX-License-Identifier: GPL-2.0
/*
 * Inode-chunk B+tree type: one record per 64 inodes (startino, free count,
 * free mask), sorted by startino, owned by its AG.  The key is startino.
 */
#include <stddef.h>

#include "fs/btblock.h"

static void ino_rec_key(const void *rec, void *key)
{
	struct kvfs_inobt_key *k = key;

	k->startino = ((const struct kvfs_inobt_rec *)rec)->startino;
	k->pad = 0;
}

static int ino_cmp_key(const void *a, const void *b)
{
	const struct kvfs_inobt_key *ka = a, *kb = b;
	uint32_t x = kv_le32_to_cpu(ka->startino);
	uint32_t y = kv_le32_to_cpu(kb->startino);

	return x < y ? -1 : x > y;
}

static const char *ino_check_rec(const struct kvfs_geom *g, uint64_t owner,
				 const void *rec)
{
	const struct kvfs_inobt_rec *r = rec;
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint64_t last = (uint64_t)start + KVFS_INODES_PER_CHUNK - 1;

	if (owner >= g->agcount)
		return "owner is not an AG";
	if (start % KVFS_INODES_PER_CHUNK)
		return "chunk start is not aligned to 64 inodes";
	if (kvfs_agino_to_agbno(g, start) < KVFS_AG_FIRST_FREE)
		return "chunk covers the AG headers";
	if ((last >> g->inopblog) >= kvfs_ag_length(g, (uint32_t)owner))
		return "chunk runs past the end of the AG";
	if (kv_le32_to_cpu(r->freecount) !=
	    (uint32_t)__builtin_popcountll(kv_le64_to_cpu(r->freemask)))
		return "free count does not match the free mask";
	return NULL;
}

const struct kvfs_btree_ops kvfs_inobt_ops = {
	.name = "inode-chunk tree",
	.magic = KVFS_INOBT_MAGIC,
	.recsize = sizeof(struct kvfs_inobt_rec),
	.keysize = sizeof(struct kvfs_inobt_key),
	.ag_tree = true,
	.rec_key = ino_rec_key,
	.cmp_key = ino_cmp_key,
	.check_rec = ino_check_rec,
};
