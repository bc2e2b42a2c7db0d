// SPDX-License-Identifier: GPL-2.0
/*
 * The first attribute of a file whose data fork is an extent B+tree
 * already written back: the fork boundary moves, and the data fork's root
 * is laid out again for its smaller fork.  A power cut after the fsync
 * that made the attribute durable (the inode not written back since) must
 * leave, after recovery, the attribute and every byte of the file: the
 * root's new layout is logged with the core's new fork offset (found by
 * tools/powercut-campaign under xfstests' fsstress, -o mem=16M: replay set
 * the new offset over the old root, whose child pointer then read 0, the
 * file's 14 extents lost).  The attribute short (short-form fork) and
 * long (the fork a leaf block at once), a cut with every unflushed write
 * dropped; fsck -n finds nothing after the cut and after the close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "tests/check.h"
#include "tests/crash/harness.h"

#define NEXT 48 /* extents: far more than an inode's fork holds as a list */

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static const struct kvfs_cred cr = { 0 };

static void fill(uint8_t *b, uint32_t i)
{
	memset(b, (int)(i * 7 + 1), 4096);
	memcpy(b, &i, sizeof(i));
}

static void fsck_clean(const char *when)
{
	int err;

	CHECK_EQ(crash_fsck_dry(path, when, &err), 0);
	CHECK_EQ(err, 0);
}

static void one(size_t vlen)
{
	struct kvfs_mkfs_opts mo = { .size = 32u << 20, .force = true };
	static uint8_t b[4096], r[4096], v[3000], got[3000];
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	uint64_t ino;
	bool created;

	mo.target = path;
	unlink(path);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	mp = crash_open(path, NULL);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "f", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	ino = st.ino;
	/* every other block: one extent each */
	for (uint32_t i = 0; i < NEXT; i++) {
		fill(b, i);
		CHECK_EQ(kvfs_write(mp, ino, b, 4096, (uint64_t)i * 8192, 0),
			 4096);
	}
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	/* the inode written back in B+tree form: nothing of it left to log */
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	memset(v, 'v', sizeof(v));
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", v, vlen, 0), 0);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	crash_power_cut(mp);
	kvfs_close(mp);
	fsck_clean("after the cut");
	mp = crash_open(path, NULL);
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.a", got, sizeof(got)),
		 (ssize_t)vlen);
	CHECK(!memcmp(got, v, vlen));
	for (uint32_t i = 0; i < NEXT; i++) {
		fill(b, i);
		CHECK_EQ(kvfs_read(mp, ino, r, 4096, (uint64_t)i * 8192), 4096);
		CHECK(!memcmp(r, b, 4096));
	}
	CHECK_EQ(kvfs_close(mp), 0);
	fsck_clean("after the close");
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	crash_paths("forkoff", path, tmpl);
	one(10);
	one(2500);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("crash forkoff: the first attribute of a B+tree file, cut "
	       "after its fsync: the file and the attribute whole, fsck "
	       "clean\n");
	return 0;
}
