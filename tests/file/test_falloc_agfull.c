// SPDX-License-Identifier: GPL-2.0
/*
 * A file's new extent in an AG it would fill, its extent map then needing
 * a tree block: the data allocation leaves the AG the tree's blocks (XFS's
 * minleft), so that the mapping finds them even when the other AGs cannot
 * be locked.  32 MiB of 1 KiB blocks in two AGs, mounted without log
 * threads, a filesystem per case: a file in AG 1 whose extent list is
 * full (one block at every other offset), AG 1 filled by the allocator but
 * for one block a file may take, AG 0 roomy (the reservations come from
 * it) but its lock only tried and found taken (tag ag_lock_busy: AG 0 is
 * below AG 1, which the transaction holds once the data is there).  A
 * mode-0 fallocate and a write of the hole before the last extent succeed;
 * the blocks taken from free space are the blocks the file gained (the
 * data and the tree's leaf), the map is a tree of one more extent, the
 * bytes read back as written (zeros for the fallocate); what the test took
 * from the allocator given back, the image checks clean.  Before: the data
 * took AG 1's last block, the leaf found none (AG 0 only tried), and the
 * call answered ENOSPC with the extent allocated and mapped nowhere (a
 * leaked block: fsck.kvfs -n 'owned by nothing').
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
#include "fs/data/bmap.h"
#include "fs/data/file.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/file/raw_extents.h"
#include "tests/file/sparse_file.h"
#include "tests/scrub_util.h"

#define BS 1024
#define FS_SIZE (32u << 20)

static char path[] = "/tmp/kvfs-test-falloc-agfull-XXXXXX";
static struct kvfs_mount *mp;

/* what the test took straight from the allocator */
static struct raw_extents raw;

/* block b of the file: every byte b + 1 */
static uint8_t pat(uint64_t b)
{
	return (uint8_t)(b + 1);
}

/* A directory whose inode is in AG 1 (new directories go round the AGs). */
static uint64_t dir_in_ag1(void)
{
	static const char *const names[] = { "d0", "d1" };
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;

	for (int i = 0; i < 2; i++) {
		CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), names[i],
				    S_IFDIR | 0755, &cr, &st),
			 0);
		if (kvfs_ino_to_agno(&mp->g, st.ino) == 1)
			return st.ino;
	}
	CHECK(!"no directory in AG 1");
	return 0;
}

/*
 * A new file in AG 1 whose extent list is full (sparse_file()), in
 * extents form.  *n extents, *nblk its size in blocks.
 */
static uint64_t make_file(uint32_t *n, uint64_t *nblk)
{
	struct kvfs_bmap map[2];
	struct kvfs_inode *ip;
	uint64_t ino;
	int nmap = 2;

	*n = 0;
	ino = sparse_file(mp, dir_in_ag1(), pat, n, nblk);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(kvfs_file_map(ip, 0, 1, map, &nmap), 0);
	CHECK_EQ(kvfs_fsb_to_agno(&mp->g, map[0].startblock), 1);
	kvfs_iput(ip);
	return ino;
}

/* One case on a filesystem of its own: write, else mode-0 fallocate. */
static void one(bool write)
{
	struct kvfs_mkfs_opts mo = { .target = path,
				     .size = FS_SIZE,
				     .blocksize = BS,
				     .agcount = 2,
				     .force = true };
	struct kvfs_mount_opts o = { .no_log_threads = true };
	uint64_t nblk, ino, at, nb0, hits;
	uint8_t buf[BS], got[BS];
	struct kvfs_inode *ip;
	struct kvfs_bmap map[2];
	struct kvfs_geom g;
	int64_t fd0, taken;
	uint32_t n;
	int nmap, err;

	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(g.agcount, 2);
	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	ino = make_file(&n, &nblk);
	/* the hole before the last extent */
	at = nblk - 5;
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	raw_fill_ag(mp, &raw, 1, 1);
	CHECK(raw_ag_avail(mp, 0) > 1000);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	fd0 = atomic_load(&mp->fdblocks);
	nb0 = ip->i_nblocks;
	memset(buf, pat(at), BS);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_AG_LOCK_BUSY, 0, 1, 0), 0);
	if (write)
		err = kvfs_write(mp, ino, buf, BS, (off_t)at * BS, 0) == BS ?
			      0 :
			      -EIO;
	else
		err = kvfs_fallocate(mp, ino, 0, (off_t)at * BS, BS);
	hits = kvj_errtag_hits(KVJ_ERRTAG_AG_LOCK_BUSY);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_AG_LOCK_BUSY, 0, 0, 0), 0);
	taken = fd0 - atomic_load(&mp->fdblocks);
	printf("falloc_agfull: %s of block %llu of a full extent list of %u "
	       "in AG 1 with 1 block left, AG 0 busy (%llu tries): %d, %lld "
	       "blocks taken, the file gained %llu, %u extents\n",
	       write ? "write" : "fallocate", (unsigned long long)at, n,
	       (unsigned long long)hits, err, (long long)taken,
	       (unsigned long long)(ip->i_nblocks - nb0), ip->i_nextents);
	/* the lower AG's lock was tried and refused */
	CHECK(hits > 0);
	/* nothing taken from free space but what the file maps */
	CHECK_EQ(taken, (int64_t)(ip->i_nblocks - nb0));
	CHECK_EQ(err, 0);
	CHECK_EQ(ip->i_nextents, n + 1);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	nmap = 2;
	CHECK_EQ(kvfs_file_map(ip, at, 1, map, &nmap), 0);
	CHECK(map[0].startblock != KVFS_NULLBLOCK);
	CHECK_EQ(kvfs_read(mp, ino, got, BS, (off_t)at * BS), BS);
	for (uint32_t k = 0; k < BS; k++)
		CHECK_EQ(got[k], write ? pat(at) : 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	kvfs_iput(ip);
	raw_give_back(mp, &raw);
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

int main(void)
{
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	one(false);
	one(true);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("falloc_agfull: ok\n");
	return 0;
}
