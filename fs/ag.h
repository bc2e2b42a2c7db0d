/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AG header: in-core form, encode, decode + verify.
 */
#ifndef KV_FS_AG_H
#define KV_FS_AG_H

#include <stddef.h>
#include <stdint.h>

#include "fs/geom.h"

struct kvfs_ag_info {
	uint32_t agno;
	uint32_t length;
	uint32_t bno_root, cnt_root, ino_root; /* AG blocks */
	uint32_t bno_level, cnt_level, ino_level;
	uint32_t freeblks;
	uint32_t longest;
	uint32_t free_extents;
	uint32_t icount;
	uint32_t ifree;
	uint32_t newino;
};

/* Fill blk (g->blocksize bytes) with the AG header of a. */
void kvfs_agh_to_disk(const struct kvfs_geom *g, const struct kvfs_ag_info *a,
		      void *blk);

/* Verify AG agno's header block and decode it.  -EBADMSG / -EUCLEAN. */
int kvfs_agh_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_ag_info *a);

#endif
