// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_itruncate_extents() (fs/inode/itruncate.c): a file with as many 2-block
 * extents on alternate ranges as the in-inode fork holds (built with
 * kvfs_bmapi_write(); more needs the extent B+tree) is cut to the middle
 * of one extent (the size rounded up to a block: that extent trimmed,
 * every later one freed), then to 0: each extent a step of its own (one
 * intent and one done each, a roll between steps), the map's invariants
 * held, the free-block count back to exactly what it was.  Then crashes
 * mid-truncate (a deferred free fails after k frees, a shutdown, while
 * another thread keeps forcing the log so that some steps are durable):
 * after recovery nothing is leaked (the file's blocks plus the free
 * blocks are the total before, scrub clean) and a truncate finishes it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "fs/data/bmap.h"
#include "fs/trans/defer.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/itruncate.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

static struct kvfs_mount *mount_threads(void)
{
	struct kvfs_mount_opts o = { .push_interval_ms = 1 };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

static struct kvfs_inode *new_file(struct kvfs_mount *mp)
{
	const struct kvfs_cred cr = { .uid = 0, .gid = 0 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, NULL, S_IFREG | 0644, 0, 1, &cr, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return ip;
}

/*
 * Extents [3k, 3k + 2) until the in-inode extent list is full (the map
 * stays a list: i_nblocks counts data blocks only); returns how many.
 */
static uint32_t fill(struct kvfs_mount *mp, struct kvfs_inode *ip)
{
	uint32_t cap = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	uint32_t n = 0;

	/* a write may take two extents: stop while both still fit */
	while (ip->i_nextents + 2 <= cap) {
		struct kvfs_bmap map[2];
		struct kvfs_trans *tp;
		int nmap = 2;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, 2, &tp), 0);
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
		CHECK_EQ(kvfs_bmapi_write(tp, ip, 3ull * n, 2, 0, map, &nmap),
			 0);
		/* the allocator may place the two blocks apart */
		CHECK(nmap >= 1);
		CHECK_EQ(map[0].startoff, 3ull * n);
		CHECK_EQ(map[0].blockcount + (nmap > 1 ? map[1].blockcount : 0),
			 2);
		ip->i_size = (3ull * n + 2) << mp->g.blocklog;
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		n++;
		CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
		CHECK_EQ(ip->i_nblocks, 2ull * n);
	}
	CHECK(n >= 8);
	return n;
}

/* Extents of ip ending past block cut, and starting before it. */
static void count_extents(struct kvfs_inode *ip, uint64_t cut, uint32_t *past,
			  uint32_t *before)
{
	struct kvfs_bmap map[64];
	int nmap = 64;

	*past = *before = 0;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_bmapi_read(ip, 0, 1ull << 20, map, &nmap), 0);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	for (int i = 0; i < nmap; i++) {
		if (map[i].startblock == KVFS_NULLBLOCK)
			continue;
		*past += map[i].startoff + map[i].blockcount > cut;
		*before += map[i].startoff < cut;
	}
}

/* Truncate to size in one transaction chain; its result. */
static int truncate_to(struct kvfs_mount *mp, struct kvfs_inode *ip,
		       uint64_t size)
{
	struct kvfs_trans *tp;
	int err;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.itruncate, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	err = kvfs_itruncate_extents(&tp, ip, size);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	CHECK(kvfs_trans_ijoined(tp, ip));
	ip->i_size = size;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return 0;
}

static void check_map(struct kvfs_inode *ip)
{
	char why[256];

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_bmap_check(ip, why, sizeof(why)), 0);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
}

static void test_steps(void)
{
	struct kvfs_defer_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint32_t bs, n, half, freed, kept;
	int64_t free0;

	make_fs_ags(2);
	mp = mount_fs();
	bs = mp->g.blocksize;
	ip = new_file(mp);
	free0 = atomic_load(&mp->fdblocks);
	n = fill(mp, ip);
	CHECK_EQ(ip->i_nblocks, 2ull * n);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0 - 2 * (int64_t)n);

	/* into the second block of extent `half`: it keeps one block */
	half = n / 2;
	count_extents(ip, 3ull * half + 1, &freed, &kept);
	CHECK_EQ(freed + kept, ip->i_nextents + 1);
	kvfs_defer_get_stats(mp, &s0);
	CHECK_EQ(truncate_to(mp, ip, (3ull * half + 1) * bs - 100), 0);
	kvfs_defer_get_stats(mp, &s1);
	CHECK_EQ(ip->i_nextents, kept);
	CHECK_EQ(ip->i_nblocks, 2ull * half + 1);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0 - (int64_t)ip->i_nblocks);
	/* one intent and one done per extent, a roll per step */
	CHECK_EQ(s1.items - s0.items, freed);
	CHECK_EQ(s1.dones - s0.dones, freed);
	CHECK(s1.rolls - s0.rolls >= freed);
	check_map(ip);

	/* past the end, and exactly at a block boundary: nothing to do */
	CHECK_EQ(truncate_to(mp, ip, (3ull * half + 1) * bs), 0);
	CHECK_EQ(ip->i_nblocks, 2ull * half + 1);
	CHECK_EQ(truncate_to(mp, ip, 0), 0);
	CHECK_EQ(ip->i_nextents, 0);
	CHECK_EQ(ip->i_nblocks, 0);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0);
	check_map(ip);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	printf("itruncate: %u 2-block writes, %u extents freed one step each\n",
	       n, freed);
}

static atomic_bool stop;
static unsigned nr_midway; /* crashes that left the truncate part done */
static unsigned nr_intents; /* frees recovery finished */

static void *forcer(void *arg)
{
	struct kvfs_mount *mp = arg;

	while (!atomic_load(&stop))
		if (kvj_log_force(mp->log, 0))
			break;
	return NULL;
}

/* A crash after k of the truncate's frees. */
static void crash_after(uint32_t k)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	pthread_t t;
	uint64_t ino;
	uint32_t ext;
	int64_t free0;

	make_fs_ags(2);
	mp = mount_threads();
	ip = new_file(mp);
	ino = ip->i_ino;
	free0 = atomic_load(&mp->fdblocks);
	fill(mp, ip);
	ext = ip->i_nextents;
	CHECK(k < ext);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	atomic_store(&stop, false);
	CHECK_EQ(pthread_create(&t, NULL, forcer, mp), 0);
	/* slow commits, so that the forcer's checkpoints fall between them */
	CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_CIL_INSERT_DELAY, 2000), 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_CIL_INSERT_DELAY, 0, 1, 0), 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_DEFER_ITEM_FAIL, k, 1, 1), 0);
	CHECK_EQ(truncate_to(mp, ip, 0), -EIO);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_DEFER_ITEM_FAIL), 1);
	kvj_errtag_clear_all();
	atomic_store(&stop, true);
	CHECK_EQ(pthread_join(t, NULL), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), -EIO);

	/* recovered: the file's blocks and the free ones add up */
	mp = mount_fs();
	CHECK(!mp->ri.was_clean);
	nr_intents += mp->ri.intents_finished;
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK(ip->i_nextents <= ext);
	if (ip->i_nextents < ext)
		nr_midway++;
	CHECK_EQ(atomic_load(&mp->fdblocks), free0 - (int64_t)ip->i_nblocks);
	check_map(ip);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);

	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(truncate_to(mp, ip, 0), 0);
	CHECK_EQ(ip->i_nblocks, 0);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("itruncate");
	test_steps();
	for (uint32_t k = 1; k <= 9; k += 4)
		crash_after(k);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("itruncate: crashes after 1, 5, 9 frees: nothing leaked, %u "
	       "left part done, %u frees finished by recovery\n",
	       nr_midway, nr_intents);
	return 0;
}
