/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tree the fuzz seeds and the trashed-image test are taken from: files
 * of several sizes (one hard-linked, one with 400 extents: an extent
 * B+tree), a short-form directory with inline and block symlinks, a
 * directory of nbig entries with holes (data blocks, hash and free-space
 * index trees), and xattrs in short form, in a leaf with a remote value,
 * and under a hash node.
 */
#ifndef KV_TESTS_FUZZ_POPULATE_H
#define KV_TESTS_FUZZ_POPULATE_H

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"
#include "tests/fuzz/fuzz.h"

/* mkfs of path with the harness's geometry (fuzz_geom()), into *g. */
static inline void fuzz_mkfs(const char *path, struct kvfs_geom *g)
{
	struct kvfs_mkfs_opts o = {
		.target = path,
		.size = FUZZ_FS_SIZE,
		.agcount = FUZZ_FS_AGCOUNT,
		.logsize = FUZZ_FS_LOGSIZE,
		.uuid = fuzz_uuid,
		.force = true,
	};

	CHECK_EQ(kvfs_mkfs(&o, g), 0);
}

static inline void fuzz_populate(struct kvfs_mount *mp, int nbig)
{
	struct kvfs_cred cr = { 0 };
	uint64_t root = kvfs_root_ino(mp);
	struct kvfs_stat st, dir, big;
	static uint8_t buf[65536];
	char name[64], target[3000];
	bool created;
	int i;

	memset(buf, 0x5a, sizeof(buf));
	for (i = 0; i < 4; i++) {
		static const size_t sizes[] = { 0, 100, 5000, 70000 };

		snprintf(name, sizeof(name), "file%d", i);
		CHECK_EQ(kvfs_create(mp, root, name, S_IFREG | 0644, 0, 0, &cr,
				     &st, &created),
			 0);
		for (size_t o = 0; o < sizes[i]; o += sizeof(buf)) {
			size_t n = sizes[i] - o < sizeof(buf) ? sizes[i] - o :
								sizeof(buf);

			CHECK_EQ(kvfs_write(mp, st.ino, buf, n, (off_t)o, 0),
				 (ssize_t)n);
		}
		CHECK_EQ(kvfs_release(mp, st.ino), 0);
	}
	CHECK_EQ(kvfs_link(mp, st.ino, root, "hardlink", &st), 0);

	/* one block every other block: an extent per block, past the inode */
	CHECK_EQ(kvfs_create(mp, root, "frag", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 0);
	for (i = 0; i < 400; i++)
		CHECK_EQ(kvfs_write(mp, st.ino, buf, 4096, (off_t)i * 8192, 0),
			 4096);
	CHECK_EQ(kvfs_release(mp, st.ino), 0);

	CHECK_EQ(kvfs_mkdir(mp, root, "small", 0755, &cr, &dir), 0);
	CHECK_EQ(kvfs_create(mp, dir.ino, "a", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 0);
	CHECK_EQ(kvfs_mkdir(mp, dir.ino, "sub", 0755, &cr, &st), 0);
	CHECK_EQ(kvfs_symlink(mp, dir.ino, "short", "file1", &cr, &st), 0);
	memset(target, 'x', sizeof(target) - 1);
	target[sizeof(target) - 1] = '\0';
	CHECK_EQ(kvfs_symlink(mp, dir.ino, "long", target, &cr, &st), 0);

	CHECK_EQ(kvfs_mkdir(mp, root, "big", 0755, &cr, &big), 0);
	for (i = 0; i < nbig; i++) {
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%05d",
			 i);
		CHECK_EQ(kvfs_create(mp, big.ino, name, S_IFREG | 0644, 0, 0,
				     &cr, &st, &created),
			 0);
	}
	/* holes in the data blocks, so the free-space index has entries */
	for (i = 0; i < nbig; i += 7) {
		snprintf(name, sizeof(name), "entry-with-a-longish-name-%05d",
			 i);
		CHECK_EQ(kvfs_unlink(mp, big.ino, name), 0);
	}

	/* xattrs: short form, leaf, remote value, and a node over leaves */
	CHECK_EQ(kvfs_lookup(mp, root, "file1", &st), 0);
	CHECK_EQ(kvfs_setxattr(mp, st.ino, "user.small", "v", 1, 0), 0);
	CHECK_EQ(kvfs_lookup(mp, root, "file2", &st), 0);
	CHECK_EQ(kvfs_setxattr(mp, st.ino, "user.leaf", buf, 1500, 0), 0);
	CHECK_EQ(kvfs_setxattr(mp, st.ino, "trusted.remote", buf, 20000, 0), 0);
	CHECK_EQ(kvfs_lookup(mp, root, "file3", &st), 0);
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "user.attribute-%04d", i);
		CHECK_EQ(kvfs_setxattr(mp, st.ino, name, buf, 60, 0), 0);
	}
}

#endif
