/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file tests that need only a new filesystem opened through the
 * public API (fs/kvfs.h): path is a mkstemp() template, filled in; the
 * geometry mkfs chose goes to *g.
 */
#ifndef KV_TESTS_FILE_FRESH_FS_H
#define KV_TESTS_FILE_FRESH_FS_H

#include <stdlib.h>
#include <unistd.h>

#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"

static inline struct kvfs_mount *fresh_fs(char *path, uint64_t size,
					  uint32_t agcount, struct kvfs_geom *g)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = size, .agcount = agcount, .force = true
	};
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kvfs_mkfs(&o, g), 0);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	return mp;
}

#endif
