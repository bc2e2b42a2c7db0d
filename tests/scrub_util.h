/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the filesystem tests: the image at path, unmounted, passes the
 * independent checker (fs/check/scrub.h) with no finding; findings are printed
 * before the check fails.
 */
#ifndef KV_TESTS_SCRUB_UTIL_H
#define KV_TESTS_SCRUB_UTIL_H

#include <stdbool.h>
#include <stdio.h>

#include "fs/io/dev.h"
#include "fs/format/sb.h"
#include "fs/check/scrub.h"
#include "tests/check.h"

/*
 * With ns false, the namespace findings (entries, "..", link counts,
 * connectivity) are let through: for tests that make inodes with no names
 * through the internal API (kvfs_icreate()).
 */
static inline void scrub_image_check(const char *path, bool ns)
{
	static struct kvfs_scrub_result res;
	struct kvfs_geom g;
	struct kv_dev *dev;
	uint64_t nsfound;
	unsigned i;
	int err;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	err = kvfs_scrub_dev(dev, &g, &res);
	nsfound = res.nkind[KVFS_SCRUB_DIRENT] + res.nkind[KVFS_SCRUB_DOTDOT] +
		  res.nkind[KVFS_SCRUB_NLINK] + res.nkind[KVFS_SCRUB_CONNECT];
	for (i = 0; res.nfindings != (ns ? 0 : nsfound) && i < res.nfindings &&
		    i < KVFS_SCRUB_MAX_FINDINGS;
	     i++)
		fprintf(stderr, "scrub: %s: %s\n",
			kvfs_scrub_kind_name(res.findings[i].kind),
			res.findings[i].what);
	if (ns || nsfound != res.nfindings)
		CHECK_EQ(err, 0);
	CHECK_EQ(res.nfindings, ns ? 0 : nsfound);
	kv_dev_close(dev);
}

static inline void scrub_image_clean(const char *path)
{
	scrub_image_check(path, true);
}

/* Clean but for the namespace: inodes made without names. */
static inline void scrub_image_clean_unnamed(const char *path)
{
	scrub_image_check(path, false);
}

#endif
