// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions driven to the worst case their reservation
 * (fs/trans/trans_resv.c) must cover, one geometry each where it is
 * tightest.  In a debug build a short reservation aborts in
 * kvfs_trans_need_blocks(); in a release build the operation failed with
 * ENOSPC on a filesystem with room to spare, or worse.
 *
 * attr_dir: the first attribute of a short-form directory filled to the
 * last byte of its inode, on 1 KiB blocks with 64 KiB directory blocks:
 * room for the attribute fork is made by turning the directory into
 * block form (a 64-block data block and two index roots), which a
 * setxattr's reservation (a leaf and tree changes: 56 blocks) did not
 * hold.  The conversion had cleared the in-core short form before its
 * allocation failed, and the transaction was committed: -ENOSPC, and the
 * directory read back empty.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

static char path[] = "/tmp/kvfs-test-resv-worst-XXXXXX";

static struct kvfs_mount *make_fs(uint32_t blocksize, uint32_t dirblksize)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64 << 20,
				    .blocksize = blocksize,
				    .dirblksize = dirblksize,
				    .force = true };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	return mp;
}

static int count_ent(void *priv, const char *name, size_t namelen, uint64_t ino,
		     unsigned dtype, uint64_t next)
{
	(void)name;
	(void)namelen;
	(void)ino;
	(void)dtype;
	(void)next;
	++*(unsigned *)priv;
	return 0;
}

static unsigned dir_entries(struct kvfs_mount *mp, uint64_t dir)
{
	unsigned n = 0;

	CHECK_EQ(kvfs_readdir(mp, dir, 0, count_ent, &n), 0);
	return n;
}

/*
 * Names in dir until it is one byte from block form: shorter and shorter
 * names, each length until the directory leaves short form (then that
 * name is removed, which brings it back).  Returns the names made.
 */
static unsigned fill_short_form(struct kvfs_mount *mp, uint64_t dir)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	unsigned n = 0, made = 0;
	char name[64];
	bool created;

	for (int len = 40; len >= 1; len--) {
		for (;;) {
			snprintf(name, sizeof(name), "%0*u", len, n++);
			name[len] = 0;
			CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
					     KVFS_CREATE_EXCL, &cr, &st,
					     &created),
				 0);
			CHECK_EQ(kvfs_getattr(mp, dir, &st), 0);
			if (!st.blocks) {
				made++;
				continue;
			}
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
			CHECK_EQ(kvfs_getattr(mp, dir, &st), 0);
			CHECK_EQ(st.blocks, 0);
			break;
		}
	}
	return made;
}

static void test_attr_dir(void)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	unsigned made;
	char v[4];

	mp = make_fs(1024, 65536);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &cr, &st), 0);
	made = fill_short_form(mp, st.ino);
	CHECK_EQ(dir_entries(mp, st.ino), made + 2);
	CHECK_EQ(kvfs_setxattr(mp, st.ino, "user.a", "v", 1, 0), 0);
	CHECK_EQ(kvfs_close(mp), 0);

	scrub_image_clean(path);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "d", &st), 0);
	CHECK_EQ(dir_entries(mp, st.ino), made + 2);
	CHECK_EQ(kvfs_getxattr(mp, st.ino, "user.a", v, sizeof(v)), 1);
	CHECK_EQ(kvfs_close(mp), 0);
	printf("attr_dir: %u names, directory in block form for the "
	       "attribute\n",
	       made);
}

int main(void)
{
	int fd;

	CHECK_EQ(kv_init(NULL), 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	test_attr_dir();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
