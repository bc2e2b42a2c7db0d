/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers of the inode-lifecycle tests: images, mounts, counts. */
#ifndef KV_TESTS_LIFE_LIFE_H
#define KV_TESTS_LIFE_LIFE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "tests/check.h"

static char path[256];

static inline void set_path(const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/kvfs-life-%s-%d.img",
		 dir ? dir : "/tmp", name, (int)getpid());
}

static inline void make_fs_ags(uint32_t agcount)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64 << 20,
				    .agcount = agcount,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static inline struct kvfs_mount *mount_fs(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = true };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

#endif
