// SPDX-License-Identifier: GPL-2.0
/*
 * What a crash leaves on the unlinked lists is a consistent filesystem for
 * the checkers: an inode whose freeing stopped between the truncate of its
 * blocks and its own freeing (the ifree_fail tag stops it there; a power
 * cut there leaves the same, crashcamp --seed 3007 found it) keeps its size
 * with no blocks (fs/inode/inactive.c: the verifier refuses a symlink or
 * directory of size 0), and is freed by the next mount.  fsck -n and the
 * checker (fs/check/scrub.h) must find nothing wrong with it: both called
 * such a remote symlink "damaged target blocks" (fsck -n: "fails its
 * verifier ... cleared").  Then the mount frees them all, and both are
 * clean again.  (The checker is run without its namespace findings while
 * they are there: an inode on an unlinked list has no name.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/kvfs.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/scrub_util.h"

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static const struct kvfs_cred cr = { 0 };

static void fsck_clean(void)
{
	int err;

	CHECK_EQ(crash_fsck_dry(path, "at a close", &err), 0);
	CHECK_EQ(err, 0);
}

int main(void)
{
	struct kvfs_mkfs_opts mo = { .size = 32u << 20, .force = true };
	static char target[3000], data[5 * 4096];
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	uint64_t root, inos[4];
	bool created;
	int n = 0;

	CHECK_EQ(kv_init(NULL), 0);
	crash_paths("orphans", path, tmpl);
	mo.target = path;
	unlink(path);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	mp = crash_open(path, NULL);
	root = kvfs_root_ino(mp);
	memset(target, 't', sizeof(target) - 1);
	memset(data, 'd', sizeof(data));
	CHECK_EQ(kvfs_symlink(mp, root, "rmt", target, &cr, &st), 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_symlink(mp, root, "inl", "short", &cr, &st), 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, root, "sf", 040755, &cr, &st), 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_create(mp, root, "file", 0100644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, &created),
		 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_write(mp, st.ino, data, sizeof(data), 0, 0),
		 (ssize_t)sizeof(data));
	CHECK_EQ(kvfs_setxattr(mp, st.ino, "user.a", target, 2000, 0), 0);
	for (int i = 0; i < n; i++)
		CHECK_EQ(kvfs_inode_open(mp, inos[i], 0), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "rmt"), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "inl"), 0);
	CHECK_EQ(kvfs_rmdir(mp, root, "sf"), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "file"), 0);
	/* each freeing stops after the truncate's commit */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_IFREE_FAIL, 0, 1, 0), 0);
	for (int i = 0; i < n; i++)
		kvfs_inode_close(mp, inos[i]);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_IFREE_FAIL), (uint64_t)n);
	kvj_errtag_clear_all();
	/* closed with them on the lists, as a crash after a push leaves them */
	CHECK_EQ(kvfs_close(mp), 0);
	fsck_clean();
	scrub_image_clean_unnamed(path);
	mp = crash_open(path, &info);
	CHECK_EQ(info.orphans, (uint64_t)n);
	CHECK_EQ(kvfs_close(mp), 0);
	fsck_clean();
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("crash orphans: %d half-freed inodes (remote and inline "
	       "symlink, directory, file with an xattr) clean for fsck -n "
	       "and the checker, freed by the next mount\n",
	       n);
	return 0;
}
