// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the consistency checker (fs/check/scrub.c) over the populated
 * image with one to four blocks replaced by the input (see fuzz_image() in
 * fuzz.h): every tree walked, every inode and its forks, directories
 * with their index trees, attribute and symlink blocks, each through the
 * code that decodes them past their verifiers.
 */
#include "fs/io/dev.h"
#include "fs/check/scrub.h"
#include "fs/format/sb.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kvfs_scrub_result res;
	static struct kvfs_geom g;
	static struct kv_dev *dev;
	struct fuzz_image *im = fuzz_image();
	size_t bs = fuzz_geom()->blocksize;
	uint64_t blknos[FUZZ_IMAGE_MAX_BLOCKS];
	unsigned n;

	if (!dev && (kv_dev_open(im->path, KV_DEV_RDONLY, &dev) ||
		     kvfs_sb_read(dev, &g)))
		abort();
	n = fuzz_image_put(im, data, size, bs, blknos);
	if (!n)
		return 0;
	kvfs_scrub_dev(dev, &g, &res);
	fuzz_image_restore(im, blknos, n, bs);
	return 0;
}
