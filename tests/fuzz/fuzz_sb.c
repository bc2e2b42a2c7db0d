// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: superblock decode and verify (fs/format/sb.c), then its
 * features.
 */
#include "fs/format/sb.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kvfs_geom *fg = fuzz_geom();
	void *blk = fuzz_block(data, size, fg->blocksize);
	uint64_t blkno = fuzz_hdr_blkno(blk);
	uint32_t agno = kvfs_fsb_to_agno(fg, blkno);
	struct kvfs_geom g;

	/* a primary takes its metadata UUID from the block, a copy must match */
	if (!kvfs_sb_from_disk(blk, fg->blocksize, agno,
			       agno ? fg->meta_uuid : NULL, &g)) {
		kvfs_sb_check_features(&g, true);
		kvfs_sb_check_mount(&g, false);
	}
	return 0;
}
