// SPDX-License-Identifier: GPL-2.0
/*
 * A nearly full filesystem whose every AG has a few blocks left: a file's
 * new extent takes one of them as long as the AG keeps what the file's
 * map may need to record it, reckoned from the map as it is (XFS's
 * minleft, xfs_bmapi_minleft(): the tree's height), not from the tallest
 * tree the reservation is made for.  64 MiB of 64 KiB blocks in four AGs
 * (the removals' reserve is 16 blocks, so statfs shows free blocks while
 * each AG has fewer left than that worst case), two files in extents form
 * with a full list, one made a tree of one leaf by one more extent; every
 * AG filled by the allocator until a file may take as many blocks as a
 * write reserves for its map's tree (the worst case: 7).  statfs shows
 * blocks free; a one-block write into a hole of the tree's file and a
 * fallocate into a hole of the full list's succeed, each taking from free
 * space exactly the blocks its file gained (the data, and the leaf of the
 * list turned tree), the bytes read back; what was filled given back,
 * the image clean.  Before, the worst case was kept in every attempt:
 * both answered ENOSPC with 12 blocks (768 KiB) free by statfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "tests/check.h"
#include "tests/file/raw_extents.h"
#include "tests/file/sparse_file.h"
#include "tests/scrub_util.h"

#define BS (64u << 10)
#define FS_SIZE (64u << 20)
#define AGS 4

static char path[] = "/tmp/kvfs-test-nearfull-XXXXXX";
static struct kvfs_mount *mp;

/* block b of a file: every byte b + 1 */
static uint8_t pat(uint64_t b)
{
	return (uint8_t)(b + 1);
}

/* A file "f" in a new directory name, its extent list full: *nblk blocks. */
static uint64_t full_list(const char *name, uint32_t *n, uint64_t *nblk)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;

	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), name, S_IFDIR | 0755, &cr,
			    &st),
		 0);
	*n = 0;
	return sparse_file(mp, st.ino, pat, n, nblk);
}

/*
 * Block at of file ino, a hole before its last extent, written (or
 * fallocated): 0 and its blocks exactly those taken from free space.
 */
static void one_block(uint64_t ino, uint64_t at, bool write)
{
	static uint8_t buf[BS], got[BS];
	struct kvfs_inode *ip;
	uint64_t nb0;
	int64_t fd0, taken;
	uint32_t n0;
	int err;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	nb0 = ip->i_nblocks;
	n0 = ip->i_nextents;
	fd0 = atomic_load(&mp->fdblocks);
	memset(buf, pat(at), BS);
	if (write)
		err = kvfs_write(mp, ino, buf, BS, (off_t)at * BS, 0) ==
				      (ssize_t)BS ?
			      0 :
			      -ENOSPC;
	else
		err = kvfs_fallocate(mp, ino, 0, (off_t)at * BS, BS);
	/* a write's conversion done: what it kept for it given back */
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	taken = fd0 - atomic_load(&mp->fdblocks);
	printf("nearfull: %s of block %llu of a %s of %u extents: %d, %lld "
	       "blocks taken, the file gained %llu\n",
	       write ? "write" : "fallocate", (unsigned long long)at,
	       n0 > kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent) ?
		       "tree" :
		       "full list",
	       n0, err, (long long)taken,
	       (unsigned long long)(ip->i_nblocks - nb0));
	CHECK_EQ(err, 0);
	CHECK_EQ(ip->i_nextents, n0 + 1);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK_EQ(taken, (int64_t)(ip->i_nblocks - nb0));
	CHECK_EQ(kvfs_read(mp, ino, got, BS, (off_t)at * BS), (ssize_t)BS);
	for (uint32_t k = 0; k < BS; k++)
		CHECK_EQ(got[k], write ? pat(at) : 0);
	kvfs_iput(ip);
}

int main(void)
{
	struct kvfs_mkfs_opts mo = { .target = path,
				     .size = FS_SIZE,
				     .blocksize = BS,
				     .agcount = AGS,
				     .force = true };
	struct kvfs_mount_opts o = { .no_log_threads = true };
	struct raw_extents raw = { .n = 0 };
	struct kvfs_inode *ip;
	struct kvfs_statfs sf;
	struct kvfs_geom g;
	uint64_t tino, lino, tblk, lblk;
	uint32_t tn, ln, left;
	uint8_t buf[BS];
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(g.agcount, AGS);
	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	/* one file's list full, the other's a tree of one leaf */
	lino = full_list("l", &ln, &lblk);
	tino = full_list("t", &tn, &tblk);
	memset(buf, pat(tblk), BS);
	CHECK_EQ(kvfs_write(mp, tino, buf, BS, (off_t)tblk * BS, 0),
		 (ssize_t)BS);
	CHECK_EQ(kvfs_release(mp, tino), 0);
	CHECK_EQ(kvfs_iget(mp, tino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	kvfs_iput(ip);
	/* the writes' conversions done: no block kept for them any more */
	CHECK_EQ(kvfs_sync(mp), 0);
	/* what a write keeps for its map's tree: the tallest tree's need */
	left = (uint32_t)mp->resv.write.blocks;
	for (uint32_t agno = 0; agno < AGS; agno++)
		raw_fill_ag(mp, &raw, agno, left);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kvfs_statfs(mp, &sf), 0);
	printf("nearfull: %u AGs of %u blocks with %u a file may take each, "
	       "%llu free by statfs\n",
	       AGS, g.agblocks, left, (unsigned long long)sf.bfree);
	CHECK(sf.bfree > 0);
	one_block(tino, tblk - 5, true);
	one_block(lino, lblk - 5, false);
	raw_give_back(mp, &raw);
	CHECK_EQ(kvfs_release(mp, tino), 0);
	CHECK_EQ(kvfs_release(mp, lino), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("nearfull: ok\n");
	return 0;
}
