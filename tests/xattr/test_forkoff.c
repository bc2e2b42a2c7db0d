// SPDX-License-Identifier: GPL-2.0
/*
 * The data fork's bytes past what it uses stay zero while the attribute
 * fork comes and goes (fs/ns/attr.c set_forkoff(), fs/btree's inode root
 * resize).  fsstress on a mount (setfattr, punch, removefattr on a file
 * with many extents) left an image that fsck.kvfs refused: "bytes after
 * the extents are not zero", the old root pointer of a B+tree data fork.
 * The sequence: the data fork becomes a B+tree with the whole literal
 * area; an attribute halves it (the root's pointers move down); punches
 * bring the extents back into the fork as a list; the attribute goes,
 * the data fork has the whole area again.  The image must scrub clean
 * and the inode read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define NEXT 40 /* extents: more than an inode's literal area holds */

static uint8_t blk[4096];

int main(void)
{
	static char path[] = "/tmp/kvfs-test-forkoff-XXXXXX";
	struct kvfs_open_info info;
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t ino;
	bool created;
	off_t res;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 64 << 20, 4, &g);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "f", S_IFREG | 0644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	ino = st.ino;
	/* one block every other block: a B+tree data fork */
	memset(blk, 0x5a, sizeof(blk));
	for (unsigned i = 0; i < NEXT; i++)
		CHECK_EQ(kvfs_write(mp, ino, blk, g.blocksize,
				    (off_t)i * 2 * g.blocksize, 0),
			 (ssize_t)g.blocksize);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	/* closed now: nothing rewrites the fork after the last step */
	CHECK_EQ(kvfs_release(mp, ino), 0);
	/* an attribute fork: the data fork's root gets half the room */
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "v", 1, 0), 0);
	/* all but the first block punched: the extents fit as a list again */
	CHECK_EQ(kvfs_fallocate(
			 mp, ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)g.blocksize, (off_t)NEXT * 2 * g.blocksize),
		 0);
	/* no attribute fork: the data fork has the whole room again */
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.a"), 0);
	CHECK_EQ(kvfs_close(mp), 0);

	scrub_image_clean(path);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, (uint64_t)(2 * NEXT - 1) * g.blocksize);
	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_HOLE, &res), 0);
	CHECK_EQ(res, (off_t)g.blocksize);
	CHECK_EQ(kvfs_close(mp), 0);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("forkoff: ok\n");
	return 0;
}
