// SPDX-License-Identifier: GPL-2.0
/*
 * Truncating a file's blocks in bounded steps (see fs/inode/itruncate.h).
 */
#include <errno.h>

#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/trans/defer.h"
#include "fs/inode/inode.h"
#include "fs/inode/itruncate.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

int kvfs_itruncate_extents(struct kvfs_trans **tpp, struct kvfs_inode *ip,
			   uint64_t new_size)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint64_t max = kvfs_max_fileoff_blocks(g);
	uint64_t first = (new_size + g->blocksize - 1) >> g->blocklog;
	uint64_t rem;
	int err;

	/* what a write left pending there goes with the blocks */
	kvfs_conv_trim(ip, first);
	if (first >= max || !ip->i_nextents)
		return 0;
	rem = max - first;
	while (rem) {
		err = kvfs_bunmapi(*tpp, ip, first, rem,
				   KVFS_ITRUNC_MAX_EXTENTS, &rem);
		/* the frees of this step, then a fresh unit for the next */
		if (!err)
			err = kvfs_defer_finish(*tpp);
		if (!err && rem)
			err = kvfs_trans_roll(*tpp, NULL);
		if (err)
			return err;
	}
	return 0;
}
