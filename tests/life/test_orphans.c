// SPDX-License-Identifier: GPL-2.0
/*
 * Orphan accounting (fs/inode/icache.c kvfs_iput(), fs/inode/inodegc.c,
 * fs/inode/inactive.c): an inode whose last link goes is freed by its last
 * put, however the puts and the unlink interleave, and a clean close leaves
 * none for the next mount.
 *
 *  - put_race: one thread drops its reference to a linked file while
 *    another takes one, unlinks the file and drops it again, all inside
 *    the first put's window (the iput_delay error tag holds it open).  The
 *    put used to decide at a count of 1 and exchange afterwards: the
 *    unlinker saw a count of 2 and left the freeing to it, and it had
 *    already decided there was nothing to free, so the inode stayed
 *    allocated on its unlinked list until the next mount (the orphan that
 *    tests/dir rename_torture found after a clean close under load).  The
 *    file must be freed before the unlink returns or the put does, and
 *    the reopened mount finds no orphan.
 *  - gc_close: unlinked inodes whose last puts came inside NOFS scopes
 *    (queued for the inode worker, slowed by inodegc_delay) are all freed
 *    by the close, before the clean superblock: no orphan at the reopen,
 *    the free inode and block counts back to their figures.
 *  - failure: an inactivation that fails (a deferred free failing: -EIO,
 *    a shutdown) is recorded through the report path with the inode's
 *    number and counted in kvfs_stats(); the next mount frees the inode.
 *  - half_freed: unlinked inodes of every kind (an inline and a remote
 *    symlink, a directory (an empty one is in short form), a file with
 *    data and an attribute fork) whose freeing stopped between the truncate's
 *    commit and the inode's (the ifree_fail tag; a crash there leaves
 *    the same): the next mount frees them all.  Their on-disk inodes,
 *    size 0, failed the verifier and the mount gave "cannot free the
 *    unlinked inodes a crash left (EUCLEAN)" (tests/crash crash_ns in the
 *    debug build under load, about 1 run in 5, and under --budget 2M).
 */
#include <pthread.h>
#include <sys/stat.h>

#include "fs/inode/icache.h"
#include "fs/io/blkhdr.h"
#include "fs/kvfs.h"
#include "journal/errortag.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define ROUNDS 6 /* put_race */
#define NGC 16 /* gc_close: files */
#define DELAY_US 200000

static const struct kvfs_cred cr = { 0 };

static uint64_t create_file(struct kvfs_mount *mp, const char *name,
			    size_t bytes)
{
	static char buf[64 << 10];
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	CHECK(bytes <= sizeof(buf));
	memset(buf, 0x5a, bytes);
	if (bytes)
		CHECK_EQ(kvfs_write(mp, st.ino, buf, bytes, 0, 0),
			 (ssize_t)bytes);
	return st.ino;
}

/* Free inodes and blocks, as statfs counts them. */
static void counts(struct kvfs_mount *mp, uint64_t *ffree, uint64_t *bfree)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	*ffree = st.ffree;
	*bfree = st.bfree;
}

static uint64_t reopen_orphans(struct kvfs_mount **mpp)
{
	CHECK_EQ(kvfs_mount_close(*mpp), 0);
	*mpp = mount_fs();
	return (*mpp)->orphans;
}

static void *put_thread(void *arg)
{
	kvfs_iput(arg);
	return NULL;
}

static void put_race(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint64_t ffree0, bfree0, ffree, bfree, ino;
	pthread_t t;
	char name[16];

	make_fs_ags(1);
	mp = mount_fs();
	counts(mp, &ffree0, &bfree0);
	for (int r = 0; r < ROUNDS; r++) {
		snprintf(name, sizeof(name), "f%d", r);
		ino = create_file(mp, name, r % 2 ? 8192 : 0);
		CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
		CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_IPUT_DELAY, DELAY_US),
			 0);
		CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_IPUT_DELAY, 0, 1, 1), 0);
		CHECK_EQ(pthread_create(&t, NULL, put_thread, ip), 0);
		/* the unlink (its own get and put) inside the put's window */
		for (int i = 0; !kvj_errtag_hits(KVJ_ERRTAG_IPUT_DELAY); i++) {
			CHECK(i < 10000);
			usleep(1000);
		}
		CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), name), 0);
		CHECK_EQ(pthread_join(t, NULL), 0);
		kvj_errtag_clear_all();
		CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), -ENOENT);
	}
	counts(mp, &ffree, &bfree);
	CHECK_EQ(ffree, ffree0);
	CHECK_EQ(bfree, bfree0);
	CHECK_EQ(reopen_orphans(&mp), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static void gc_close(void)
{
	struct kvfs_inode *ips[NGC];
	struct kvfs_mount *mp;
	uint64_t ffree0, bfree0, ffree, bfree, inos[NGC];
	struct kvfs_stats st;
	char name[16];
	unsigned nofs;

	make_fs_ags(2);
	mp = mount_fs();
	counts(mp, &ffree0, &bfree0);
	for (int i = 0; i < NGC; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		inos[i] = create_file(mp, name, (size_t)(i % 4) * 12288);
		CHECK_EQ(kvfs_iget(mp, inos[i], 0, &ips[i]), 0);
		CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), name), 0);
	}
	CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_INODEGC_DELAY, DELAY_US / 4),
		 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_INODEGC_DELAY, 0, 1, 0), 0);
	/* last puts where freeing cannot run: the worker's */
	nofs = kv_nofs_save();
	for (int i = 0; i < NGC; i++)
		kvfs_iput(ips[i]);
	kv_nofs_restore(nofs);
	/* the worker is slowed down: most are still queued at the close */
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_INODEGC_DELAY) < NGC);
	CHECK_EQ(kvfs_stats(mp, &st, NULL, 0), 0);
	CHECK_EQ(st.inode_inactive_failed, 0);
	CHECK_EQ(reopen_orphans(&mp), 0);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_INODEGC_DELAY), NGC);
	kvj_errtag_clear_all();
	for (int i = 0; i < NGC; i++)
		CHECK_EQ(kvfs_iget(mp, inos[i], 0, &ips[i]), -ENOENT);
	counts(mp, &ffree, &bfree);
	CHECK_EQ(ffree, ffree0);
	CHECK_EQ(bfree, bfree0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static void failure(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint64_t ffree0, bfree0, ffree, bfree, ino;
	unsigned long reports;
	struct kvfs_stats st;

	make_fs_ags(1);
	mp = mount_fs();
	counts(mp, &ffree0, &bfree0);
	ino = create_file(mp, "x", 3 * 4096);
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "x"), 0);
	/* the unlink durable: the crash keeps the inode on its list */
	CHECK_EQ(kvfs_sync(mp), 0);
	reports = kvfs_corrupt_count();
	/* the freeing of its blocks fails: -EIO, the filesystem shut down */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_DEFER_ITEM_FAIL, 0, 1, 1), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_DEFER_ITEM_FAIL), 1);
	kvj_errtag_clear_all();
	CHECK_EQ(kvfs_corrupt_count(), reports + 1);
	CHECK_EQ(kvfs_report_last()->ino, ino);
	CHECK_EQ(kvfs_report_last()->err, -EIO);
	CHECK(!strcmp(kvfs_report_last()->what, "unlinked inode"));
	CHECK_EQ(kvfs_stats(mp, &st, NULL, 0), 0);
	CHECK_EQ(st.inode_inactive_failed, 1);
	CHECK_EQ(kvfs_mount_close(mp), -EIO);
	/* left on its list: the next mount frees it */
	mp = mount_fs();
	CHECK_EQ(mp->orphans, 1);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), -ENOENT);
	counts(mp, &ffree, &bfree);
	CHECK_EQ(ffree, ffree0);
	CHECK_EQ(bfree, bfree0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static void half_freed(void)
{
	static char target[3000];
	struct kvfs_inode *ips[4];
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t ffree0, bfree0, ffree, bfree, root, inos[4];
	unsigned long reports;
	int n = 0;

	make_fs_ags(1);
	mp = mount_fs();
	root = kvfs_root_ino(mp);
	counts(mp, &ffree0, &bfree0);
	memset(target, 't', sizeof(target) - 1);
	CHECK_EQ(kvfs_symlink(mp, root, "inl", "short", &cr, &st), 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_symlink(mp, root, "rmt", target, &cr, &st), 0);
	inos[n++] = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, root, "sf", 0755, &cr, &st), 0);
	inos[n++] = st.ino;
	inos[n++] = create_file(mp, "file", 5 * 4096);
	CHECK_EQ(kvfs_setxattr(mp, inos[3], "user.a", target, 2000, 0), 0);
	for (int i = 0; i < n; i++)
		CHECK_EQ(kvfs_iget(mp, inos[i], 0, &ips[i]), 0);
	/* the remote one has its block */
	CHECK_EQ(ips[1]->i_nextents, 1);
	CHECK_EQ(kvfs_unlink(mp, root, "inl"), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "rmt"), 0);
	CHECK_EQ(kvfs_rmdir(mp, root, "sf"), 0);
	CHECK_EQ(kvfs_unlink(mp, root, "file"), 0);
	reports = kvfs_corrupt_count();
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_IFREE_FAIL, 0, 1, 0), 0);
	for (int i = 0; i < n; i++)
		kvfs_iput(ips[i]);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_IFREE_FAIL), n);
	kvj_errtag_clear_all();
	CHECK_EQ(kvfs_corrupt_count(), reports + (unsigned long)n);
	/* written back as they are: the lists and the truncated inodes */
	CHECK_EQ(reopen_orphans(&mp), n);
	for (int i = 0; i < n; i++)
		CHECK_EQ(kvfs_iget(mp, inos[i], 0, &ips[i]), -ENOENT);
	counts(mp, &ffree, &bfree);
	CHECK_EQ(ffree, ffree0);
	CHECK_EQ(bfree, bfree0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("orphans");
	put_race();
	gc_close();
	failure();
	half_freed();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("orphans: %d put races, %d last puts through the worker at "
	       "the close, a failed freeing reported, half-freed inodes of every "
	       "kind freed at the mount: no orphan left\n",
	       ROUNDS, NGC);
	return 0;
}
