/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AG headers: the free-space header (AGF), the inode header (AGI) and the
 * reserve list (AGFL), each in its own block so that block and inode
 * allocation in one AG never serialise on one buffer.  In-core forms,
 * encode, decode + verify.
 */
#ifndef KV_FS_AG_H
#define KV_FS_AG_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kvfs_agf_info {
	uint32_t agno;
	uint32_t length;
	uint32_t bno_root, cnt_root; /* AG blocks */
	uint32_t bno_level, cnt_level;
	uint32_t freeblks;
	uint32_t longest;
	uint32_t free_extents;
	uint32_t btreeblks;
	uint32_t flfirst, fllast, flcount;
};

struct kvfs_agi_info {
	uint32_t agno;
	uint32_t length;
	uint32_t ino_root; /* AG block */
	uint32_t ino_level;
	uint32_t icount;
	uint32_t ifree;
	uint32_t newino;
	uint32_t unlinked[KVFS_AGI_UNLINKED_BUCKETS]; /* aginos */
};

/* Fill blk (g->blocksize bytes) with the AGF of a. */
void kvfs_agf_to_disk(const struct kvfs_geom *g, const struct kvfs_agf_info *a,
		      void *blk);
/* Verify AG agno's AGF block and decode it.  -EBADMSG / -EUCLEAN. */
int kvfs_agf_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_agf_info *a);

/* Fill blk (g->blocksize bytes) with the AGI of a. */
void kvfs_agi_to_disk(const struct kvfs_geom *g, const struct kvfs_agi_info *a,
		      void *blk);
/* Verify AG agno's AGI block and decode it.  -EBADMSG / -EUCLEAN. */
int kvfs_agi_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_agi_info *a);

/*
 * Fill blk with AG agno's reserve list: entries 0 .. n - 1 are bno[], the
 * rest KVFS_NULLAGBLOCK.
 */
void kvfs_agfl_to_disk(const struct kvfs_geom *g, uint32_t agno,
		       const uint32_t *bno, uint32_t n, void *blk);
/*
 * Verify AG agno's AGFL block: header, and every entry a block of the AG
 * past its fixed headers or KVFS_NULLAGBLOCK.  Which entries are in use is
 * the AGF's to say (kvfs_agfl_entry()).  -EBADMSG / -EUCLEAN.
 */
int kvfs_agfl_verify(const struct kvfs_geom *g, uint32_t agno, const void *blk);

/* Entry i of a reserve-list block. */
static inline uint32_t kvfs_agfl_entry(const void *blk, uint32_t i)
{
	return kv_le32_to_cpu(((const struct kvfs_agfl *)blk)->bno[i]);
}

#endif
