// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_icreate() (fs/inode/icreate.c): the owner rules of Linux's
 * inode_init_owner() and mode_strip_sgid() case by case (caller's group,
 * an S_ISGID directory's group, S_ISGID inherited by directories only,
 * S_ISGID|S_IXGRP stripped from a file whose group the caller is not in
 * unless root, kept for a supplementary group or without S_IXGRP), every
 * timestamp now, bad modes refused; each inode read back after a remount.
 */
#include <sys/stat.h>
#include <time.h>

#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inode_item.h"
#include "fs/ns/dir.h"
#include "fs/trans/trans.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

struct expect {
	uint64_t ino;
	uint32_t mode, uid, gid;
};

static struct expect made[32];
static int nmade;

/* Create with dp (locked shared here) and check the result. */
static void create(struct kvfs_mount *mp, struct kvfs_inode *dp, uint32_t mode,
		   const struct kvfs_cred *cr, uint32_t want_mode,
		   uint32_t want_gid)
{
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct timespec before, after;

	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	if (dp)
		kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_icreate(tp, dp, mode, 0, S_ISDIR(mode) ? 2 : 1, cr, &ip),
		 0);
	/* as mkdir makes one: the checker wants a directory's fork */
	if (S_ISDIR(mode))
		kvfs_dir_init(tp, ip, dp ? dp->i_ino : ip->i_ino);
	if (dp)
		kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(ip->i_mode, want_mode);
	CHECK_EQ(ip->i_uid, cr->uid);
	CHECK_EQ(ip->i_gid, want_gid);
	CHECK_EQ(ip->i_nlink, S_ISDIR(mode) ? 2u : 1u);
	CHECK(ip->i_atime.sec >= before.tv_sec);
	CHECK_EQ(ip->i_atime.sec, ip->i_mtime.sec);
	CHECK_EQ(ip->i_atime.nsec, ip->i_ctime.nsec);
	CHECK_EQ(ip->i_atime.nsec, ip->i_crtime.nsec);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	clock_gettime(CLOCK_REALTIME, &after);
	CHECK(ip->i_atime.sec <= after.tv_sec);
	made[nmade].ino = ip->i_ino;
	made[nmade].mode = want_mode;
	made[nmade].uid = cr->uid;
	made[nmade].gid = want_gid;
	nmade++;
	kvfs_iput(ip);
}

/* A directory of mode and group, owned by root. */
static struct kvfs_inode *mkdir_as(struct kvfs_mount *mp, uint32_t mode,
				   uint32_t gid)
{
	const struct kvfs_cred root = { .uid = 0, .gid = gid };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, NULL, S_IFDIR | mode, 0, 2, &root, &ip), 0);
	kvfs_dir_init(tp, ip, ip->i_ino);
	CHECK_EQ(ip->i_mode, S_IFDIR | mode);
	CHECK_EQ(ip->i_gid, gid);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return ip;
}

static void bad_modes(struct kvfs_mount *mp)
{
	const struct kvfs_cred cr = { .uid = 1, .gid = 1 };
	static const uint32_t modes[] = { 0644, 0170644, S_IFREG | 0200644 };
	struct kvfs_inode *ip = NULL;
	struct kvfs_trans *tp;

	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
		CHECK_EQ(kvfs_icreate(tp, NULL, modes[i], 0, 1, &cr, &ip),
			 -EINVAL);
		kvfs_trans_cancel(tp);
	}
	/* a device number on a regular file */
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, NULL, S_IFREG | 0644, 5, 1, &cr, &ip),
		 -EINVAL);
	kvfs_trans_cancel(tp);
	CHECK(ip == NULL);
	/* an owner no system call can set (Linux: EOVERFLOW) */
	{
		const struct kvfs_cred none[] = {
			{ .uid = KVFS_ID_NONE, .gid = 1 },
			{ .uid = 1, .gid = KVFS_ID_NONE },
		};

		for (unsigned i = 0; i < 2; i++) {
			CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0,
						      &tp),
				 0);
			CHECK_EQ(kvfs_icreate(tp, NULL, S_IFREG | 0644, 0, 1,
					      &none[i], &ip),
				 -EOVERFLOW);
			kvfs_trans_cancel(tp);
		}
	}
	CHECK(ip == NULL);
	/* a device keeps it */
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, NULL, S_IFCHR | 0600, (1ull << 32) | 3, 1,
			      &cr, &ip),
		 0);
	CHECK_EQ(ip->i_rdev, (1ull << 32) | 3);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
}

int main(void)
{
	const uint32_t supp[] = { 7, 50 };
	const struct kvfs_cred user = { .uid = 100, .gid = 10 };
	const struct kvfs_cred member = {
		.uid = 101, .gid = 11, .groups = supp, .ngroups = 2
	};
	const struct kvfs_cred root = { .uid = 0, .gid = 0 };
	struct kvfs_inode *plain, *sgid;
	struct kvfs_mount *mp;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("icreate");
	make_fs_ags(2);
	mp = mount_fs();

	plain = mkdir_as(mp, 0755, 30);
	sgid = mkdir_as(mp, 02775, 50);

	/* no directory, and a plain one: the caller's group */
	create(mp, NULL, S_IFREG | 0644, &user, S_IFREG | 0644, 10);
	create(mp, plain, S_IFREG | 0640, &user, S_IFREG | 0640, 10);
	/* the caller's own group: S_ISGID kept */
	create(mp, plain, S_IFREG | 02755, &user, S_IFREG | 02755, 10);
	create(mp, plain, S_IFDIR | 0755, &user, S_IFDIR | 0755, 10);
	/* an S_ISGID directory: its group; directories inherit S_ISGID */
	create(mp, sgid, S_IFREG | 0644, &user, S_IFREG | 0644, 50);
	create(mp, sgid, S_IFDIR | 0755, &user, S_IFDIR | 02755, 50);
	create(mp, sgid, S_IFDIR | 02700, &user, S_IFDIR | 02700, 50);
	/* not in group 50: S_ISGID|S_IXGRP stripped from a file */
	create(mp, sgid, S_IFREG | 02755, &user, S_IFREG | 0755, 50);
	/* S_ISGID without S_IXGRP is no privilege: kept */
	create(mp, sgid, S_IFREG | 02745, &user, S_IFREG | 02745, 50);
	/* a supplementary group member, and root: kept */
	create(mp, sgid, S_IFREG | 02755, &member, S_IFREG | 02755, 50);
	create(mp, sgid, S_IFREG | 02755, &root, S_IFREG | 02755, 50);
	/* other types in an S_ISGID directory: the group, no S_ISGID added */
	create(mp, sgid, S_IFIFO | 0644, &user, S_IFIFO | 0644, 50);
	create(mp, sgid, S_IFSOCK | 0755, &user, S_IFSOCK | 0755, 50);
	/* the new inodes are near their directory: same AG */
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, made[nmade - 1].ino),
		 kvfs_ino_to_agno(&mp->g, sgid->i_ino));
	bad_modes(mp);

	kvfs_iput(plain);
	kvfs_iput(sgid);
	CHECK_EQ(kvfs_mount_close(mp), 0);

	/* every rule's outcome is what reached the disk */
	mp = mount_fs();
	for (int i = 0; i < nmade; i++) {
		struct kvfs_inode *ip;

		CHECK_EQ(kvfs_iget(mp, made[i].ino, 0, &ip), 0);
		CHECK_EQ(ip->i_mode, made[i].mode);
		CHECK_EQ(ip->i_uid, made[i].uid);
		CHECK_EQ(ip->i_gid, made[i].gid);
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("icreate: %d inodes, every owner rule as Linux applies it\n",
	       nmade);
	return 0;
}
