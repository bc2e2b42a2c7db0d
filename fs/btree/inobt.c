// SPDX-License-Identifier: GPL-2.0
/*
 * Inode-chunk B+tree type: one record per 64 inodes (startino, hole mask,
 * count, free count, free mask: XFS's sparse inode records), sorted by
 * startino, owned by its AG.  The key is startino.
 */
#include <stddef.h>

#include "fs/btree/btblock.h"

static void ino_rec_key(const void *rec, void *key)
{
	struct kvfs_inobt_key *k = key;

	k->startino = ((const struct kvfs_inobt_rec *)rec)->startino;
	k->pad = kv_cpu_to_le32(0);
}

/* cmp_key compares a record in place of its key (fs/btree/btblock.h) */
_Static_assert(offsetof(struct kvfs_inobt_rec, startino) ==
		       offsetof(struct kvfs_inobt_key, startino),
	       "an inode-chunk record begins with its key");

static int ino_cmp_key(const void *a, const void *b)
{
	const struct kvfs_inobt_key *ka = a, *kb = b;
	uint32_t x = kv_le32_to_cpu(ka->startino);
	uint32_t y = kv_le32_to_cpu(kb->startino);

	return x < y ? -1 : x > y;
}

/* The 64-bit inode mask of a hole mask: 4 inode bits per hole bit. */
uint64_t kvfs_inobt_holes(uint16_t holemask)
{
	uint64_t m = 0;

	for (unsigned i = 0; i < 16; i++)
		if (holemask >> i & 1)
			m |= 0xfULL << (i * KVFS_INODES_PER_HOLEMASK_BIT);
	return m;
}

/* Every block of the chunk is a hole or allocated, never half of each. */
static bool holes_whole_blocks(const struct kvfs_geom *g, uint16_t holemask)
{
	uint32_t bits = g->inopblock / KVFS_INODES_PER_HOLEMASK_BIT;
	uint32_t group;

	if (bits <= 1)
		return true;
	if (bits >= 16)
		return !holemask;
	group = (1u << bits) - 1;
	for (unsigned i = 0; i < 16; i += bits) {
		uint32_t v = holemask >> i & group;

		if (v && v != group)
			return false;
	}
	return true;
}

static const char *ino_check_rec(const struct kvfs_geom *g, uint64_t owner,
				 const void *rec)
{
	const struct kvfs_inobt_rec *r = rec;
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint16_t holemask = kv_le16_to_cpu(r->holemask);
	uint64_t holes = kvfs_inobt_holes(holemask);
	uint64_t freemask = kv_le64_to_cpu(r->freemask);
	uint32_t length;

	if (owner >= g->agcount)
		return "owner is not an AG";
	length = kvfs_ag_length(g, (uint32_t)owner);
	if (start % KVFS_INODES_PER_CHUNK)
		return "chunk start is not aligned to 64 inodes";
	if (holemask == 0xffff)
		return "chunk is all holes";
	if (!holes_whole_blocks(g, holemask))
		return "hole covers part of a block";
	if (r->count !=
	    KVFS_INODES_PER_CHUNK -
		    KVFS_INODES_PER_HOLEMASK_BIT * __builtin_popcount(holemask))
		return "inode count does not match the hole mask";
	if ((freemask & holes) != holes)
		return "hole inodes are not marked free";
	if (r->freecount != __builtin_popcountll(freemask & ~holes))
		return "free count does not match the free mask";
	/* the allocated inodes lie past the AG headers, inside the AG */
	for (unsigned i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		uint64_t agbno = ((uint64_t)start + i) >> g->inopblog;

		if (holes >> i & 1)
			continue;
		if (agbno < KVFS_AG_HDR_BLOCKS)
			return "chunk covers the AG headers";
		if (agbno >= length)
			return "chunk runs past the end of the AG";
	}
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
