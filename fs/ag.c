// SPDX-License-Identifier: GPL-2.0
/*
 * AG header encode/decode/verify.
 */
#include <errno.h>
#include <string.h>

#include "fs/ag.h"
#include "fs/blkhdr.h"

void kvfs_agh_to_disk(const struct kvfs_geom *g, const struct kvfs_ag_info *a,
		      void *blk)
{
	struct kvfs_agh *h = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, KVFS_AGH_MAGIC,
			 kvfs_agb_to_fsb(g, a->agno, KVFS_AGH_AGBNO), a->agno,
			 g->uuid);
	h->agno = kv_cpu_to_le32(a->agno);
	h->length = kv_cpu_to_le32(a->length);
	h->bno_root = kv_cpu_to_le32(a->bno_root);
	h->cnt_root = kv_cpu_to_le32(a->cnt_root);
	h->ino_root = kv_cpu_to_le32(a->ino_root);
	h->bno_level = (uint8_t)a->bno_level;
	h->cnt_level = (uint8_t)a->cnt_level;
	h->ino_level = (uint8_t)a->ino_level;
	h->freeblks = kv_cpu_to_le32(a->freeblks);
	h->longest = kv_cpu_to_le32(a->longest);
	h->free_extents = kv_cpu_to_le32(a->free_extents);
	h->icount = kv_cpu_to_le32(a->icount);
	h->ifree = kv_cpu_to_le32(a->ifree);
	h->newino = kv_cpu_to_le32(a->newino);
	kvfs_blkhdr_set_crc(blk, g->blocksize);
}

static bool tail_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int kvfs_agh_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_ag_info *a)
{
	const struct kvfs_agh *h = blk;
	uint64_t blkno = kvfs_agb_to_fsb(g, agno, KVFS_AGH_AGBNO);
	const char *what = "AG header";
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, KVFS_AGH_MAGIC, blkno, agno,
				 g->uuid, what);
	if (ret)
		return ret;
	a->agno = kv_le32_to_cpu(h->agno);
	a->length = kv_le32_to_cpu(h->length);
	a->bno_root = kv_le32_to_cpu(h->bno_root);
	a->cnt_root = kv_le32_to_cpu(h->cnt_root);
	a->ino_root = kv_le32_to_cpu(h->ino_root);
	a->bno_level = h->bno_level;
	a->cnt_level = h->cnt_level;
	a->ino_level = h->ino_level;
	a->freeblks = kv_le32_to_cpu(h->freeblks);
	a->longest = kv_le32_to_cpu(h->longest);
	a->free_extents = kv_le32_to_cpu(h->free_extents);
	a->icount = kv_le32_to_cpu(h->icount);
	a->ifree = kv_le32_to_cpu(h->ifree);
	a->newino = kv_le32_to_cpu(h->newino);
	if (a->agno != agno)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "AG number %u, expected %u", a->agno, agno);
	if (a->length != kvfs_ag_length(g, agno))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "length %u, the superblock says %u",
				    a->length, kvfs_ag_length(g, agno));
	if (a->bno_root <= KVFS_AGH_AGBNO || a->bno_root >= a->length ||
	    a->cnt_root <= KVFS_AGH_AGBNO || a->cnt_root >= a->length ||
	    a->ino_root <= KVFS_AGH_AGBNO || a->ino_root >= a->length)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree root outside the AG (%u/%u/%u)",
				    a->bno_root, a->cnt_root, a->ino_root);
	if (a->bno_level >= KVFS_BTREE_MAXLEVELS ||
	    a->cnt_level >= KVFS_BTREE_MAXLEVELS ||
	    a->ino_level >= KVFS_BTREE_MAXLEVELS || h->pad0)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree level too high (%u/%u/%u)",
				    a->bno_level, a->cnt_level, a->ino_level);
	if (a->freeblks > a->length || a->longest > a->freeblks ||
	    a->free_extents > a->freeblks || (a->freeblks && !a->longest))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "free counters inconsistent (free %u, "
				    "longest %u, extents %u)",
				    a->freeblks, a->longest, a->free_extents);
	if (a->ifree > a->icount || a->icount % KVFS_INODES_PER_CHUNK ||
	    (uint64_t)a->icount > (uint64_t)a->length << g->inopblog)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "inode counters inconsistent (count %u, "
				    "free %u)",
				    a->icount, a->ifree);
	if (!tail_zero(h->reserved, sizeof(h->reserved)) ||
	    !tail_zero((const uint8_t *)blk + sizeof(*h),
		       g->blocksize - sizeof(*h)))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "reserved bytes are not zero");
	return 0;
}
