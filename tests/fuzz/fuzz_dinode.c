// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: one on-disk inode (fs/format/dinode.c): the full verifier (core,
 * extent list, extent B+tree root, short-form directory, inline symlink,
 * short-form attribute fork), then, as a reader would, the short-form
 * directory's entries through kvfs_dir_sf_next().
 */
#include <sys/stat.h>

#include "fs/format/dinode.h"
#include "tests/fuzz/fuzz.h"

/* the names are read, as a lookup would */
static volatile unsigned name_sum;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct kvfs_geom *g = fuzz_geom();
	void *dip = fuzz_block(data, size, g->inodesize);
	const struct kvfs_dinode *d = dip;
	const struct kvfs_dir_sf_ent *e;
	uint64_t ino = fuzz_hdr_owner(dip);
	uint32_t pos = 0;

	/* an inode is only ever read at its own number */
	if (!kvfs_ino_in_range(g, ino))
		return 0;
	kvfs_dinode_set_crc(dip, g);
	if (kvfs_dinode_verify(dip, g, ino))
		return 0;
	if (!S_ISDIR(kv_le16_to_cpu(d->mode)) ||
	    d->dformat != KVFS_DFORK_INLINE)
		return 0;
	while ((e = kvfs_dir_sf_next(dip, &pos)))
		for (unsigned i = 0; i < e->namelen; i++)
			name_sum += e->name[i];
	return 0;
}
