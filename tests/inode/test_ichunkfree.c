// SPDX-License-Identifier: GPL-2.0
/*
 * Whole inode chunks freed with their last inode (fs/inode/ialloc.h,
 * XFS's xfs_difree_inode_chunk without ikeep).
 *
 * free_all: nfiles files in a directory fill many chunks; all removed with
 * the directory, the free block count is the one right after mkfs, the
 * AGs' inode counts are the mkfs chunk's, no chunk record but the mkfs
 * one holds any of the files' inode numbers (kvfs_ialloc_check_ino()),
 * the checker and fsck -n find nothing, and nothing changes when
 * fsck.kvfs rebuilds the tree from a scan of the AG (the freed chunks'
 * blocks still hold their inodes).  Before, every chunk stayed: 5000
 * files kept 624 blocks.
 *
 * reuse: the files created again, each written with its own bytes, in the
 * same mount (the old in-core inodes still cached, holding the freed
 * chunks' invalidated buffers) and after a remount (none cached): new
 * chunks made, each new file empty before its write and reading back its
 * own bytes after, no handle of an old file opening a new one, clean
 * again.
 *
 * Usage: test_ichunkfree FSCK_PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/format/mkfs.h"
#include "fs/inode/ialloc.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/space/perag.h"
#include "tests/agi_util.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

#define NFILES 5000
/* files of the runs in other block sizes: enough for many chunks */
#define NFILES_OTHER 1500

static const char *fsck;
static char path[256];
static const struct kvfs_cred cr = { 0 };
static uint64_t inos[NFILES];
static uint32_t gens[NFILES];
static int nfiles;

static struct kvfs_mount *open_fs(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	return mp;
}

static uint64_t bfree(struct kvfs_mount *mp)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	return st.bfree;
}

/* The inode headers' icount over all AGs, checked against the in-core. */
static uint64_t icount(struct kvfs_mount *mp)
{
	uint64_t n, nfree;

	agi_counts(mp, &n, &nfree);
	return n;
}

/* Whether a chunk record holds ino (the AG locked, as the contract asks). */
static bool in_tree(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_perag *pag =
		kvfs_perag_get(mp, kvfs_ino_to_agno(&mp->g, ino));
	int err;

	kvfs_perag_lock(pag);
	err = kvfs_ialloc_check_ino(mp, ino);
	kvfs_perag_unlock(pag);
	CHECK(err == 0 || err == -EINVAL);
	return !err;
}

static void fsck_clean(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "%s -f -n %s >/dev/null 2>&1", fsck, path);
	CHECK_EQ(system(cmd), 0);
}

/*
 * AG 0's inode-chunk tree (one leaf) zeroed: fsck.kvfs rebuilds it from a
 * scan of the AG, where freed chunks keep the inodes last written there.
 */
static void inobt_rebuild(void)
{
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kvfs_agi *agi;
	char cmd[600];
	uint8_t *b;
	off_t root;
	int fd, st;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	kv_dev_close(dev);
	b = calloc(1, g.blocksize);
	CHECK(b);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, b, g.blocksize, (off_t)KVFS_AGI_AGBNO * g.blocksize),
		 (ssize_t)g.blocksize);
	agi = (struct kvfs_agi *)b;
	CHECK_EQ(agi->ino_level, 0);
	root = (off_t)kv_le32_to_cpu(agi->ino_root) * g.blocksize;
	memset(b, 0, g.blocksize);
	CHECK_EQ(pwrite(fd, b, g.blocksize, root), (ssize_t)g.blocksize);
	close(fd);
	free(b);
	snprintf(cmd, sizeof(cmd), "%s -f -y %s >/dev/null 2>&1", fsck, path);
	st = system(cmd);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 1);
}

static void image_clean(void)
{
	scrub_image_clean(path);
	fsck_clean();
}

static uint64_t dir_ino(struct kvfs_mount *mp)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "d", &st), 0);
	return st.ino;
}

static void make_files(struct kvfs_mount *mp, bool data)
{
	uint64_t dir = dir_ino(mp);
	char name[32], buf[64] = { 0 }, got[64];
	struct kvfs_stat st;
	bool created;

	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
		inos[i] = st.ino;
		gens[i] = st.generation;
		if (!data)
			continue;
		/* nothing of an old life: no size, nothing to read */
		CHECK_EQ(st.size, 0);
		CHECK_EQ(st.blocks, 0);
		CHECK_EQ(kvfs_read(mp, st.ino, got, sizeof(got), 0), 0);
		snprintf(buf, sizeof(buf), "file %d ino %" PRIu64, i, st.ino);
		CHECK_EQ(kvfs_write(mp, st.ino, buf, sizeof(buf), 0, 0),
			 (ssize_t)sizeof(buf));
	}
}

static void check_files(struct kvfs_mount *mp)
{
	char buf[64] = { 0 }, got[64];

	for (int i = 0; i < nfiles; i++) {
		snprintf(buf, sizeof(buf), "file %d ino %" PRIu64, i, inos[i]);
		CHECK_EQ(kvfs_read(mp, inos[i], got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
		CHECK_EQ(memcmp(buf, got, sizeof(buf)), 0);
	}
}

static void remove_all(struct kvfs_mount *mp)
{
	uint64_t dir = dir_ino(mp);
	char name[32];

	for (int i = 0; i < nfiles; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
}

static uint64_t mkfs_free, mkfs_icount;

/*
 * blocksize: 4 KiB (8-block chunks), 1 KiB (32-block chunks, in 4-block
 * sparse pieces when space is short), or 64 KiB, whose blocks hold two
 * chunks' records each: those records stay, free, as XFS keeps them, and
 * are what an image of a kvfs that kept every chunk holds: the checker
 * and fsck -n must find them as clean as ever.
 */
static void test_free_all(uint32_t blocksize)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = blocksize > 4096 ? 256 << 20 :
							       64 << 20,
				    .agcount = 2,
				    .blocksize = blocksize,
				    .force = true };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	uint64_t full;

	nfiles = blocksize ? NFILES_OTHER : NFILES;
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = open_fs();
	mkfs_free = bfree(mp);
	mkfs_icount = icount(mp);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	make_files(mp, false);
	full = icount(mp);
	CHECK(full >= (uint64_t)nfiles);
	remove_all(mp);
	/* the frees of the last puts done (the inode worker drained) */
	CHECK_EQ(kvfs_close(mp), 0);
	image_clean();

	inobt_rebuild();
	image_clean();
	mp = open_fs();
	if (mp->g.inopblock > KVFS_INODES_PER_CHUNK) {
		CHECK_EQ(icount(mp), full);
		for (int i = 0; i < nfiles; i++)
			CHECK(in_tree(mp, inos[i]));
		CHECK(bfree(mp) < mkfs_free);
		CHECK_EQ(kvfs_close(mp), 0);
		printf("ichunkfree: %u-byte blocks: %d files removed, their "
		       "%" PRIu64 " inodes' records kept (two a block), "
		       "clean\n",
		       blocksize, nfiles, full);
		return;
	}
	CHECK_EQ(icount(mp), mkfs_icount);
	/* the mkfs chunk (the root's) took the first files, and stays */
	for (int i = 0; i < nfiles; i++)
		CHECK(!in_tree(mp, inos[i]) ||
		      inos[i] / KVFS_INODES_PER_CHUNK ==
			      kvfs_root_ino(mp) / KVFS_INODES_PER_CHUNK);
	CHECK_EQ(bfree(mp), mkfs_free);
	CHECK_EQ(kvfs_close(mp), 0);
	printf("ichunkfree: %u-byte blocks: %d files in %" PRIu64
	       " inodes' chunks removed: free blocks %" PRIu64
	       " as after mkfs, chunks back to %" PRIu64 " inodes, clean\n",
	       blocksize ? blocksize : 4096, nfiles, full, mkfs_free,
	       mkfs_icount);
}

/* No handle of a removed file opens the file at its number now. */
static void check_old_handles(struct kvfs_mount *mp, const uint64_t *old,
			      const uint32_t *oldgen)
{
	unsigned reused = 0;

	for (int i = 0; i < nfiles; i++) {
		int err = kvfs_inode_open(mp, old[i], oldgen[i]);

		if (!err)
			kvfs_inode_close(mp, old[i]);
		if (in_tree(mp, old[i]))
			reused++;
		CHECK(err == -ESTALE || err == -ENOENT);
	}
	printf("ichunkfree: %u of %d old inode numbers allocated again, no "
	       "old handle opens a new file\n",
	       reused, nfiles);
}

static void test_reuse(bool remount)
{
	static uint64_t old[NFILES];
	static uint32_t oldgen[NFILES];
	struct kvfs_mount *mp;
	struct kvfs_stat st;

	memcpy(old, inos, sizeof(old));
	memcpy(oldgen, gens, sizeof(oldgen));
	mp = open_fs();
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	make_files(mp, true);
	CHECK(icount(mp) >= (uint64_t)nfiles);
	CHECK(bfree(mp) < mkfs_free);
	check_files(mp);
	check_old_handles(mp, old, oldgen);
	if (remount) {
		CHECK_EQ(kvfs_close(mp), 0);
		image_clean();
		mp = open_fs();
		check_files(mp);
		check_old_handles(mp, old, oldgen);
	}
	/* removed in the mount that made them: their in-core inodes cached */
	remove_all(mp);
	CHECK_EQ(kvfs_close(mp), 0);
	image_clean();
	mp = open_fs();
	CHECK_EQ(icount(mp), mkfs_icount);
	CHECK_EQ(bfree(mp), mkfs_free);
	CHECK_EQ(kvfs_close(mp), 0);
	printf("ichunkfree: reuse%s: %d files made again over freed chunks, "
	       "each reads its own bytes, all freed again, clean\n",
	       remount ? " across a remount" : "", nfiles);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR");

	CHECK(argc == 2);
	fsck = argv[1];
	CHECK_EQ(kv_init(NULL), 0);
	snprintf(path, sizeof(path), "%s/kvfs-ichunkfree-%d.img",
		 dir ? dir : "/tmp", (int)getpid());
	test_free_all(0);
	test_reuse(false);
	/* the handles of the files of the first reuse, freed again */
	test_reuse(true);
	test_free_all(1024);
	test_reuse(true);
	test_free_all(65536);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
