// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: attribute blocks (leaf, hash node, remote value; fs/ns/attr.c),
 * told apart by their magic as the buffer type does.
 */
#include "fs/ns/attr.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kvfs_geom *g = fuzz_geom();
	void *blk = fuzz_block(data, size, g->blocksize);

	fuzz_verify_buf(&kvfs_attr_buf_ops, blk, g->blocksize,
			fuzz_hdr_blkno(blk));
	return 0;
}
