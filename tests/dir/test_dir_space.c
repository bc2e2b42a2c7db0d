// SPDX-License-Identifier: GPL-2.0
/*
 * A directory whose data space is full (fs/format.h KVFS_DIR_SPACE_BYTES,
 * 32 GiB; here cut to 3 data blocks by the dir_space_small error tag):
 * create, mkdir, symlink, link and a rename into it answer -ENOSPC before
 * they change anything (no inode made, the mount not shut down, the name
 * absent), a removal makes room for one name again, and past the tag the
 * directory grows on.  The image checks clean.
 */
#include "journal/errortag.h"
#include "tests/dir/dirtest.h"

static const struct kvfs_cred cr = { .uid = 0, .gid = 0 };

/* 200-byte names: 18 to a 4 KiB data block */
static void long_name(char *buf, size_t size, const char *tag, unsigned i)
{
	int n = snprintf(buf, size, "%s-%05u-", tag, i);

	memset(buf + n, 'x', 200 - (size_t)n);
	buf[200] = 0;
}

int main(void)
{
	struct kvfs_statfs sf0, sf1;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t d, other, file;
	char name[256];
	unsigned n = 0;
	int err;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("space");
	make_fs(64 << 20, 0);
	mp = mount_fs();
	d = dir_mkdir(mp, mp->g.rootino, "d", &cr);
	other = dir_mkdir(mp, mp->g.rootino, "other", &cr);
	file = dir_creat(mp, other, "f", &cr);

	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_DIR_SPACE_SMALL, 0, 1, 0), 0);
	CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_DIR_SPACE_SMALL, 3), 0);
	for (;;) {
		long_name(name, sizeof(name), "n", n);
		err = kvfs_create(mp, d, name, 0644, 0, KVFS_CREATE_EXCL, &cr,
				  &st, NULL);
		if (err)
			break;
		n++;
		CHECK(n < 1000);
	}
	CHECK_EQ(err, -ENOSPC);
	/* three 4 KiB blocks of 200-byte names, the head's in the first */
	CHECK(n >= 50 && n <= 54);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), -ENOENT);
	CHECK_EQ(kvfs_statfs(mp, &sf0), 0);

	/* every way in refused with nothing changed */
	long_name(name, sizeof(name), "m", 0);
	CHECK_EQ(kvfs_mkdir(mp, d, name, 0755, &cr, &st), -ENOSPC);
	CHECK_EQ(kvfs_symlink(mp, d, name, "target", &cr, &st), -ENOSPC);
	CHECK_EQ(kvfs_link(mp, file, d, name, &st), -ENOSPC);
	CHECK_EQ(kvfs_rename(mp, other, "f", d, name, 0, &cr), -ENOSPC);
	CHECK_EQ(kvfs_lookup(mp, other, "f", &st), 0);
	CHECK_EQ(st.ino, file);
	CHECK_EQ(st.nlink, 1);
	CHECK_EQ(kvfs_lookup(mp, d, name, &st), -ENOENT);
	CHECK_EQ(kvfs_statfs(mp, &sf1), 0);
	CHECK_EQ(sf1.ffree, sf0.ffree);
	CHECK_EQ(sf1.bfree, sf0.bfree);
	/* the mount goes on: a name elsewhere */
	CHECK_EQ(kvfs_create(mp, other, "g", 0644, 0, 0, &cr, &st, NULL), 0);

	/* a removal makes room for one name, not two */
	long_name(name, sizeof(name), "n", 7);
	CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	long_name(name, sizeof(name), "r", 0);
	CHECK_EQ(kvfs_rename(mp, other, "f", d, name, 0, &cr), 0);
	long_name(name, sizeof(name), "r", 1);
	CHECK_EQ(kvfs_create(mp, d, name, 0644, 0, 0, &cr, &st, NULL), -ENOSPC);

	/* the tag off: the data space is 32 GiB again */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_DIR_SPACE_SMALL, 0, 0, 0), 0);
	for (unsigned i = 0; i < 40; i++) {
		long_name(name, sizeof(name), "p", i);
		CHECK_EQ(kvfs_create(mp, d, name, 0644, 0, 0, &cr, &st, NULL),
			 0);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	printf("dir space: %u names filled 3 data blocks; create, mkdir, "
	       "symlink, link, rename refused unchanged\n",
	       n);
	unlink(path);
	return kv_fini() ? 1 : 0;
}
