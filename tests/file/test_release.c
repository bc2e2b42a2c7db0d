// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_release() (fs/data/file.c): many files of KVFS_PREALLOC_FROM bytes and
 * one block, the block written with an extending write (which then
 * preallocates speculatively past its end) and released, on a small
 * filesystem.  Each keeps exactly its blocks: without the trim at release
 * each kept 16 more (and the filesystem ran out long before it was full).
 * The trim works on a full filesystem too.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/file.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define NFILES 300

int main(void)
{
	static char path[] = "/tmp/kvfs-test-release-XXXXXX";
	struct kvfs_cred cr = { 0 };
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	static uint8_t buf[KVFS_PREALLOC_FROM];
	uint64_t fblocks;
	int64_t room;
	char name[32];
	bool created;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 32 << 20, 0, &g);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	fblocks = KVFS_PREALLOC_FROM / g.blocksize + 1;
	/* more files than the space of 16 more blocks each */
	CHECK(s0.bfree < (uint64_t)NFILES * (fblocks + 16));
	memset(buf, 0x6b, sizeof(buf));
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name,
				     S_IFREG | 0644, 0, 0, &cr, &st, &created),
			 0);
		CHECK_EQ(kvfs_write(mp, st.ino, buf, sizeof(buf), 0, 0),
			 (ssize_t)sizeof(buf));
		CHECK_EQ(kvfs_write(mp, st.ino, buf, g.blocksize,
				    (off_t)sizeof(buf), 0),
			 (ssize_t)g.blocksize);
		CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
		/* the premise: the second write preallocated */
		CHECK(st.blocks > fblocks * (g.blocksize / 512));
		CHECK_EQ(kvfs_release(mp, st.ino), 0);
		CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
		CHECK_EQ(st.blocks, fblocks * (g.blocksize / 512));
	}
	/*
	 * On a full filesystem (the free count down to the removals'
	 * reserve) the trim still runs: a removal.  It failed with ENOSPC,
	 * and the file kept its speculative blocks past its close.
	 */
	CHECK_EQ(kvfs_write(mp, st.ino, buf, g.blocksize,
			    (off_t)sizeof(buf) + g.blocksize, 0),
		 (ssize_t)g.blocksize);
	CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
	CHECK(st.blocks > (fblocks + 1) * (g.blocksize / 512));
	room = atomic_load(&mp->fdblocks) - (int64_t)mp->resblks;
	CHECK(room > 0);
	atomic_fetch_sub(&mp->fdblocks, room);
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	atomic_fetch_add(&mp->fdblocks, room);
	CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
	CHECK_EQ(st.blocks, (fblocks + 1) * (g.blocksize / 512));
	/* directories and devices have nothing to trim */
	CHECK_EQ(kvfs_release(mp, kvfs_root_ino(mp)), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK(s0.bfree - s1.bfree >= NFILES * fblocks);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("release: %d files of 64 KiB and a block on a %llu-block "
	       "filesystem, "
	       "%llu blocks used\n",
	       NFILES, (unsigned long long)s0.bfree,
	       (unsigned long long)(s0.bfree - s1.bfree));
	return 0;
}
