// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the AG inode header's read verifier (fs/format/ag.c through
 * fs/io/buf_ops.c).
 */
#include "fs/io/buf_ops.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kvfs_geom *g = fuzz_geom();
	void *blk = fuzz_block(data, size, g->blocksize);

	fuzz_verify_buf(&kvfs_agi_buf_ops, blk, g->blocksize,
			fuzz_hdr_blkno(blk));
	return 0;
}
