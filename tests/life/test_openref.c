// SPDX-License-Identifier: GPL-2.0
/*
 * Open references (fs/inode/openref.h, kvfs_inode_open() of fs/kvfs.h) do not
 * pin in-core inodes: the FUSE daemon opens every inode the kernel knows,
 * and pinning them once made a mount wait forever for memory after
 * ~220 000 creates.
 *  - NFILES files opened: every one counted, and after a sync most of
 *    them leave the inode cache when reclaim asks (without the fix: none);
 *  - half of them unlinked while open: still there (nlink 0) through
 *    reclaim, opened a second time and closed again; the last close frees
 *    each (-ENOENT after, -ESTALE by handle, inodes back in statfs);
 *  - a close without an open changes nothing;
 *  - remount: no orphans, scrub clean.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/inode/openref.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define NFILES 4000

static const struct kvfs_cred user = { .uid = 1000, .gid = 100 };
static uint64_t inos[NFILES];
static uint32_t gens[NFILES];

static uint64_t cached(struct kvfs_mount *mp)
{
	struct kvfs_icache_stats st;

	kvfs_icache_get_stats(mp->ic, &st);
	return st.nr_cached;
}

static uint64_t used_inodes(struct kvfs_mount *mp)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	return st.files - st.ffree;
}

/*
 * Reclaim what it may, until at most target inodes stay cached or ~5 s
 * passed: an inode is clean once the AIL wrote it back, which reclaim
 * asks for when it has to keep dirty ones.
 */
static void reclaim_to(struct kvfs_mount *mp, uint64_t target)
{
	CHECK_EQ(kvfs_sync(mp), 0);
	for (int i = 0; i < 500 && cached(mp) > target; i++) {
		kvfs_icache_shrink(mp->ic, SIZE_MAX);
		usleep(10000);
	}
}

int main(void)
{
	struct kvfs_open_opts o = { 0 };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t dir, used0;
	char name[32];

	CHECK_EQ(kv_init(NULL), 0);
	set_path("openref");
	make_fs_ags(2);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &user, &st), 0);
	dir = st.ino;
	used0 = used_inodes(mp);

	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &user, &st, NULL),
			 0);
		inos[i] = st.ino;
		gens[i] = st.generation;
		CHECK_EQ(kvfs_inode_open(mp, inos[i], gens[i]), 0);
	}
	CHECK_EQ(kvfs_openrefs_count(mp->openrefs), NFILES);
	reclaim_to(mp, NFILES / 8);
	/* open files with links are reclaimable like any other inode */
	CHECK(cached(mp) < NFILES / 4);

	for (int i = 0; i < NFILES; i += 2) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	reclaim_to(mp, NFILES / 2 + 4);
	/* open files without links stay */
	CHECK(cached(mp) >= NFILES / 2);
	CHECK_EQ(used_inodes(mp), used0 + NFILES);
	for (int i = 0; i < NFILES; i += 2) {
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), 0);
		CHECK_EQ(st.nlink, 0);
		/* a second open of an open unlinked file, closed again */
		CHECK_EQ(kvfs_inode_open(mp, inos[i], gens[i]), 0);
		kvfs_inode_close(mp, inos[i]);
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), 0);
	}
	for (int i = 0; i < NFILES; i++)
		kvfs_inode_close(mp, inos[i]);
	CHECK_EQ(kvfs_openrefs_count(mp->openrefs), 0);
	/* a close without an open */
	kvfs_inode_close(mp, inos[1]);
	CHECK_EQ(kvfs_getattr(mp, inos[1], &st), 0);
	CHECK_EQ(st.nlink, 1);
	for (int i = 0; i < NFILES; i += 2) {
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), -ENOENT);
		CHECK_EQ(kvfs_inode_open(mp, inos[i], gens[i]), -ESTALE);
	}
	CHECK_EQ(used_inodes(mp), used0 + NFILES / 2);
	CHECK_EQ(kvfs_close(mp), 0);

	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK_EQ(info.orphans, 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
