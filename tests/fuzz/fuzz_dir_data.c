// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: directory data blocks (one directory block of dirblksize
 * bytes): the read verifier and the entry and bestfree checks of
 * fs/btree/dir_btree.c.
 */
#include "fs/io/buf_ops.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kvfs_geom *g = fuzz_geom();
	void *blk = fuzz_block(data, size, g->dirblksize);

	fuzz_verify_buf(&kvfs_dir_data_buf_ops, blk, g->dirblksize,
			fuzz_hdr_blkno(blk));
	return 0;
}
