// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the consistency checker (fs/scrub.c) over the populated
 * image with one block replaced by the input (see fuzz_image() in
 * fuzz.h): every tree walked, every inode and its forks, directories
 * with their index trees, attribute and symlink blocks, each through the
 * code that decodes them past their verifiers.
 */
#include "fs/dev.h"
#include "fs/scrub.h"
#include "fs/sb.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvfs_scrub_result res;
	static struct kvfs_geom g;
	static struct kv_dev *dev;
	struct fuzz_image *im = fuzz_image();
	size_t bs = fuzz_geom()->blocksize;
	void *blk = fuzz_block(data, size, bs);

	if (!dev && (kv_dev_open(im->path, KV_DEV_RDONLY, &dev) ||
		     kvfs_sb_read(dev, &g)))
		abort();
	if (!fuzz_image_put(im, blk, bs))
		return 0;
	kvfs_scrub_dev(dev, &g, &res);
	fuzz_image_restore(im, blk, bs);
	return 0;
}
