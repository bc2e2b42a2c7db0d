// SPDX-License-Identifier: GPL-2.0
/*
 * Creates under a memory budget smaller than the inodes they leave cached.
 * Every allocation of a create runs inside its transaction's NOFS scope,
 * where the inode cache's shrinker may not run: without background
 * reclaim (alloc/reclaim.c's reclaim thread) the budget filled with clean
 * inodes nobody could drop and a NOFAIL allocation waited forever
 * (mount.kvfs stopped at 99 453 creates into one directory with mem=64M;
 * here at about 9 000 under 12 MiB).  NFILES creates in one directory,
 * then NFILES in several: all done, the reclaim thread freed inodes, the
 * image is clean.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fs/kvfs.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define NFILES 30000

static const struct kvfs_cred user = { .uid = 1000, .gid = 100 };

static void create_in(struct kvfs_mount *mp, uint64_t dir, int n, int tag)
{
	struct kvfs_stat st;
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d-%d", tag, i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &user, &st, NULL),
			 0);
	}
}

int main(void)
{
	struct kv_config kc = { .budget_bytes = 12 << 20 };
	struct kvfs_mkfs_opts mo = { .size = 256 << 20, .force = true };
	struct kvfs_open_opts o = { 0 };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kv_stats ks;
	struct kvfs_geom g;
	uint64_t root;

	CHECK_EQ(kv_init(&kc), 0);
	set_path("pressure");
	mo.target = path;
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	root = kvfs_root_ino(mp);
	CHECK_EQ(kvfs_mkdir(mp, root, "one", 0755, &user, &st), 0);
	create_in(mp, st.ino, NFILES, 0);
	for (int d = 0; d < 4; d++) {
		char name[16];

		snprintf(name, sizeof(name), "d%d", d);
		CHECK_EQ(kvfs_mkdir(mp, root, name, 0755, &user, &st), 0);
		create_in(mp, st.ino, NFILES / 4, d + 1);
	}
	kv_stats(&ks);
	printf("pressure: %d creates under 12 MiB; the reclaim thread made "
	       "%llu passes, freed %llu objects\n",
	       2 * NFILES, (unsigned long long)ks.kswapd_passes,
	       (unsigned long long)ks.kswapd_freed);
	CHECK(ks.kswapd_freed > 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
