/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the filesystem tests: the AG inode headers' counts as the image
 * holds them, against which the in-core counts (struct kvfs_perag's,
 * statfs's) are checked.
 */
#ifndef KV_TESTS_AGI_UTIL_H
#define KV_TESTS_AGI_UTIL_H

#include <stdint.h>

#include "fs/format/ag.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/mount.h"
#include "fs/space/perag.h"
#include "tests/check.h"

/*
 * The headers' icount and ifree summed over mp's AGs; each AG's in-core
 * counts, where they are loaded, checked equal to its header's (call it
 * with no transaction under way).
 */
static inline void agi_counts(struct kvfs_mount *mp, uint64_t *icount,
			      uint64_t *ifree)
{
	const struct kvfs_geom *g = &mp->g;

	*icount = *ifree = 0;
	for (uint32_t agno = 0; agno < g->agcount; agno++) {
		const struct kvfs_agi *agi;
		struct kv_buf *bp;

		CHECK_EQ(kv_buf_read(mp->bc,
				     kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
				     1, &kvfs_agi_buf_ops, &bp),
			 0);
		agi = bp->b_addr;
		if (mp->pag[agno].agi_init) {
			CHECK_EQ(mp->pag[agno].icount,
				 kv_le32_to_cpu(agi->icount));
			CHECK_EQ(mp->pag[agno].ifree,
				 kv_le32_to_cpu(agi->ifree));
		}
		*icount += kv_le32_to_cpu(agi->icount);
		*ifree += kv_le32_to_cpu(agi->ifree);
		kv_buf_rele(bp);
	}
}

#endif
