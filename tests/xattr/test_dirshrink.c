// SPDX-License-Identifier: GPL-2.0
/*
 * A block directory with many xattrs shrinks back to short form as its
 * entries go (fs/ns/dir.c maybe_to_sf()).  Its check that nothing was
 * left compared i_nblocks with the blocks the attribute fork maps, which
 * leave out that fork's own B+tree blocks: once the xattrs made the
 * attribute fork a tree, the last unlink that shrank the directory was
 * refused as corruption ("blocks left after shrinking"), the log shut
 * down and every later call failed (fsstress on a mount, ~1 run in 70).
 * Every unlink must succeed, the directory end short-form and empty, the
 * image scrub clean, every xattr still there.
 */
#include <errno.h>
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

#define NENT 600 /* entries: several directory blocks */
#define NXATTR 24 /* 3000-byte values: an attribute fork of 6+ extents */

#define LONG "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static char name[NENT][80];
static uint8_t val[3000], got[3000];

int main(void)
{
	static char path[] = "/tmp/kvfs-test-dirshrink-XXXXXX";
	struct kvfs_open_info info;
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	char xname[32];
	uint64_t dir;
	bool created;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 64 << 20, 4, &g);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &cr, &st), 0);
	dir = st.ino;
	/*
	 * xattrs between the entries: their blocks interleave with the
	 * directory's, the attribute fork's extents do not merge and it
	 * becomes a B+tree
	 */
	for (unsigned i = 0; i < NENT; i++) {
		unsigned x = i / (NENT / NXATTR);

		snprintf(name[i], sizeof(name[i]), "f%05u_%.*s", i,
			 (int)(i % 60 + 1), LONG);
		CHECK_EQ(kvfs_create(mp, dir, name[i], S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
		CHECK_EQ(kvfs_release(mp, st.ino), 0);
		if (i % (NENT / NXATTR) || x >= NXATTR)
			continue;
		memset(val, (int)x + 1, sizeof(val));
		snprintf(xname, sizeof(xname), "user.a%u", x);
		CHECK_EQ(kvfs_setxattr(mp, dir, xname, val, sizeof(val), 0), 0);
	}
	/* every entry goes: the last unlinks shrink it to short form */
	for (unsigned i = 0; i < NENT; i++)
		CHECK_EQ(kvfs_unlink(mp, dir, name[NENT - 1 - i]), 0);
	CHECK_EQ(kvfs_getattr(mp, dir, &st), 0);
	CHECK_EQ(st.nlink, 2);
	CHECK_EQ(kvfs_close(mp), 0);

	scrub_image_clean(path);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	for (unsigned i = 0; i < NXATTR; i++) {
		memset(val, (int)i + 1, sizeof(val));
		snprintf(xname, sizeof(xname), "user.a%u", i);
		CHECK_EQ(kvfs_getxattr(mp, dir, xname, got, sizeof(got)),
			 (ssize_t)sizeof(got));
		CHECK(!memcmp(got, val, sizeof(val)));
	}
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("dirshrink: %u entries, %u xattrs: shrunk to short form, "
	       "scrub clean\n",
	       NENT, NXATTR);
	return 0;
}
