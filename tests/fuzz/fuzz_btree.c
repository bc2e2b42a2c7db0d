// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: B+tree blocks of every tree (free space by block and by
 * size, inode chunks, extent maps, the directory hash and free-space
 * indexes), chosen by the block's magic: their read verifiers, which check
 * every record (fs/btree/btblock.c and each tree's record checks).
 */
#include "fs/io/buf_ops.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		uint32_t magic;
		const struct kv_buf_ops *ops;
	} trees[] = {
		{ KVFS_BNOBT_MAGIC, &kvfs_bnobt_buf_ops },
		{ KVFS_CNTBT_MAGIC, &kvfs_cntbt_buf_ops },
		{ KVFS_INOBT_MAGIC, &kvfs_inobt_buf_ops },
		{ KVFS_BMBT_MAGIC, &kvfs_bmbt_buf_ops },
		{ KVFS_DIR_HASH_MAGIC, &kvfs_dir_hash_buf_ops },
		{ KVFS_DIR_FREE_MAGIC, &kvfs_dir_free_buf_ops },
	};
	const struct kvfs_geom *g = fuzz_geom();
	void *blk = fuzz_block(data, size, g->blocksize);
	uint32_t magic = kv_le32_to_cpu(((struct kvfs_blk_hdr *)blk)->magic);

	for (size_t i = 0; i < sizeof(trees) / sizeof(trees[0]); i++)
		if (trees[i].magic == magic)
			fuzz_verify_buf(trees[i].ops, blk, g->blocksize,
					fuzz_hdr_blkno(blk));
	return 0;
}
