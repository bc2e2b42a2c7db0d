/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the filesystem tests: the image at path, unmounted, passes the
 * independent checker (fs/scrub.h) with no finding; findings are printed
 * before the check fails.
 */
#ifndef KV_TESTS_SCRUB_UTIL_H
#define KV_TESTS_SCRUB_UTIL_H

#include <stdio.h>

#include "fs/dev.h"
#include "fs/sb.h"
#include "fs/scrub.h"
#include "tests/check.h"

static inline void scrub_image_clean(const char *path)
{
	static struct kvfs_scrub_result res;
	struct kvfs_geom g;
	struct kv_dev *dev;
	unsigned i;
	int err;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	err = kvfs_scrub_dev(dev, &g, &res);
	for (i = 0; i < res.nfindings && i < KVFS_SCRUB_MAX_FINDINGS; i++)
		fprintf(stderr, "scrub: %s: %s\n",
			kvfs_scrub_kind_name(res.findings[i].kind),
			res.findings[i].what);
	CHECK_EQ(err, 0);
	CHECK_EQ(res.nfindings, 0);
	kv_dev_close(dev);
}

#endif
