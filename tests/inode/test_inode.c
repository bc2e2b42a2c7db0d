// SPDX-License-Identifier: GPL-2.0
/*
 * In-core inodes, the inode cache and the inode log item: iget/iput and
 * cache hits; one object for many threads getting one inode; reclaim of
 * clean inodes only (by hand and under a small kvmalloc budget); an
 * inode change (core and fork) logged, forced, crashed and replayed; the
 * skip-if-newer rule of replay; a damaged inode refused alone among its
 * chunk; allocation and free with the generation moving on reuse and the
 * inode header's counts exact; the index of many cached inodes sized by
 * their number.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/kvfs.h"
#include "tests/inode/ino.h"

static struct kvfs_icache_stats stats(struct kvfs_mount *mp)
{
	struct kvfs_icache_stats st;

	kvfs_icache_get_stats(mp->ic, &st);
	return st;
}

static void test_iget(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *ip2;
	unsigned long reports;
	uint64_t root, far;

	make_fs();
	mp = mount_fs(false);
	root = mp->g.rootino;
	CHECK_EQ(kvfs_iget(mp, root, 0, &ip), 0);
	CHECK_EQ(ip->i_mode & 0170000, 0040000);
	CHECK_EQ(ip->i_nlink, 3);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(stats(mp).misses, 1);
	CHECK_EQ(kvfs_iget(mp, root, 0, &ip2), 0);
	CHECK(ip == ip2);
	CHECK_EQ(stats(mp).hits, 1);
	kvfs_iput(ip2);
	kvfs_iput(ip);
	/* a free inode: -ENOENT, unless allocation asks */
	CHECK_EQ(kvfs_iget(mp, root + 5, 0, &ip), -ENOENT);
	CHECK_EQ(kvfs_iget(mp, root + 5, KVFS_IGET_FREE, &ip), 0);
	CHECK_EQ(ip->i_mode, 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_iget(mp, 0, 0, &ip), -EINVAL);
	CHECK_EQ(kvfs_iget(mp, ~0ull >> 1, 0, &ip), -EINVAL);
	/* handles */
	CHECK_EQ(kvfs_iget_handle(mp, root, 0, &ip), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_iget_handle(mp, root, 1, &ip), -ESTALE);
	CHECK_EQ(kvfs_iget_handle(mp, root + 5, 0, &ip), -ESTALE);
	CHECK_EQ(stats(mp).nr_cached, 2);
	/*
	 * Untrusted numbers: past the AG's inodes (its last block, free
	 * space) is no inode, and nothing is read there (no report); one
	 * of a chunk is read as usual.
	 */
	far = kvfs_agino_to_ino(
		&mp->g, 0, kvfs_agbno_to_agino(&mp->g, mp->g.agblocks - 1));
	reports = kvfs_corrupt_count();
	CHECK_EQ(kvfs_iget(mp, far, KVFS_IGET_UNTRUSTED, &ip), -EINVAL);
	CHECK_EQ(kvfs_iget_handle(mp, far, 1, &ip), -ESTALE);
	CHECK_EQ(kvfs_iget_handle(mp, far + 1, 0, &ip), -ESTALE);
	CHECK_EQ(kvfs_corrupt_count(), reports);
	CHECK_EQ(kvfs_iget(mp, root + 6, KVFS_IGET_UNTRUSTED, &ip), -ENOENT);
	CHECK_EQ(stats(mp).nr_cached, 3);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

#define NTHREADS 8

struct race {
	struct kvfs_mount *mp;
	pthread_barrier_t bar;
	struct kvfs_inode *got[NTHREADS];
	int round;
};

static struct race race;

static void *race_fn(void *arg)
{
	long t = (long)arg;

	pthread_barrier_wait(&race.bar);
	CHECK_EQ(kvfs_iget(race.mp, race.mp->g.rootino + race.round,
			   KVFS_IGET_FREE, &race.got[t]),
		 0);
	return NULL;
}

/* Threads getting one uncached inode at once get one object. */
static void test_iget_race(void)
{
	pthread_t th[NTHREADS];
	struct kvfs_icache_stats st;

	make_fs();
	race.mp = mount_fs(false);
	for (race.round = 0; race.round < KVFS_INODES_PER_CHUNK; race.round++) {
		pthread_barrier_init(&race.bar, NULL, NTHREADS);
		for (long t = 0; t < NTHREADS; t++)
			CHECK_EQ(pthread_create(&th[t], NULL, race_fn,
						(void *)t),
				 0);
		for (int t = 0; t < NTHREADS; t++)
			pthread_join(th[t], NULL);
		pthread_barrier_destroy(&race.bar);
		for (int t = 0; t < NTHREADS; t++) {
			CHECK(race.got[t] == race.got[0]);
			kvfs_iput(race.got[t]);
		}
		CHECK_EQ(atomic_load(&race.got[0]->i_count), 0);
	}
	st = stats(race.mp);
	CHECK_EQ(st.misses, KVFS_INODES_PER_CHUNK);
	CHECK_EQ(st.hits, (NTHREADS - 1) * KVFS_INODES_PER_CHUNK);
	CHECK_EQ(st.nr_cached, KVFS_INODES_PER_CHUNK);
	CHECK_EQ(kvfs_mount_close(race.mp), 0);
}

static bool cached(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;

	if (kvfs_icache_lookup(mp, ino, &ip))
		return false;
	kvfs_iput(ip);
	return true;
}

/* Reclaim frees clean unreferenced inodes, never dirty or held ones. */
static void test_reclaim(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *held;
	struct kvfs_trans *tp;
	uint64_t root, dirty[3];

	make_fs();
	mp = mount_fs(false);
	root = mp->g.rootino;
	tp = trans(mp);
	for (int i = 0; i < 3; i++) {
		ip = alloc_reg(tp, 100 + i);
		dirty[i] = ip->i_ino;
		/* unreferenced: only their dirty state keeps them */
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	for (int i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		CHECK_EQ(kvfs_iget(mp, root + i, KVFS_IGET_FREE, &ip), 0);
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_iget(mp, root, 0, &held), 0);
	CHECK_EQ(stats(mp).nr_cached, KVFS_INODES_PER_CHUNK);
	/* committed, not even forced: the three are pinned or logged */
	CHECK_EQ(kvfs_icache_shrink(mp->ic, SIZE_MAX),
		 KVFS_INODES_PER_CHUNK - 4);
	CHECK(stats(mp).skipped_dirty >= 3);
	CHECK(cached(mp, root));
	for (int i = 0; i < 3; i++)
		CHECK(cached(mp, dirty[i]));
	CHECK(!cached(mp, root + 10));
	/* forced: in the AIL, still dirty */
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kvfs_icache_shrink(mp->ic, SIZE_MAX), 0);
	/* written back: clean, and they go */
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	CHECK_EQ(kvfs_icache_shrink(mp->ic, SIZE_MAX), 3);
	CHECK_EQ(stats(mp).nr_cached, 1);
	CHECK_EQ(stats(mp).reclaimed, KVFS_INODES_PER_CHUNK - 1);
	kvfs_iput(held);
	/* read back from their clusters: what was written back */
	CHECK_EQ(kvfs_iget(mp, root + 2, 0, &ip), 0);
	CHECK_EQ(ip->i_size, 100);
	kvfs_iput(ip);
	check_chunk(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static unsigned nr_cached_of(struct kvfs_mount *mp, const uint64_t *ino,
			     unsigned n)
{
	unsigned c = 0;

	for (unsigned i = 0; i < n; i++)
		c += cached(mp, ino[i]);
	return c;
}

/*
 * The AIL's write-back names its unreferenced inodes to reclaim, which
 * frees them first, without a lap: an inode held while it
 * was written back is not named, and only a lap finds it.
 */
static void test_reclaim_written(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *held = NULL;
	struct kvfs_trans *tp;
	uint64_t ino[4], left;

	make_fs();
	mp = mount_fs(false);
	tp = trans(mp);
	for (int i = 0; i < 4; i++) {
		ip = alloc_reg(tp, 10 + i);
		ino[i] = ip->i_ino;
		if (i < 3)
			kvfs_iput(ip);
		else
			held = ip;
	}
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	kvfs_iput(held);
	CHECK(stats(mp).nr_cached >= 4);
	/* two of the three named: freed without looking further */
	CHECK_EQ(kvfs_icache_shrink(mp->ic, 2), 2);
	CHECK_EQ(stats(mp).reclaimed_written, 2);
	CHECK_EQ(nr_cached_of(mp, ino, 3), 1);
	CHECK(cached(mp, ino[3]));
	/* the third is still named: the first two calls dropped no name */
	CHECK_EQ(kvfs_icache_shrink(mp->ic, 1), 1);
	CHECK_EQ(stats(mp).reclaimed_written, 3);
	CHECK_EQ(nr_cached_of(mp, ino, 3), 0);
	CHECK(cached(mp, ino[3]));
	/* the named ones gone: the held one is the lap's, with the rest */
	left = stats(mp).nr_cached;
	CHECK_EQ(kvfs_icache_shrink(mp->ic, SIZE_MAX), left);
	CHECK_EQ(stats(mp).reclaimed_written, 3);
	CHECK(!cached(mp, ino[3]));
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * Under a small kvmalloc budget the allocator's reclaim calls the inode
 * cache's shrinker: clean inodes leave, dirty ones stay.
 */
static void test_reclaim_budget(void)
{
	struct kv_config cfg = { .budget_bytes = 24 << 20 };
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *dirty;
	struct kvfs_trans *tp;
	void **hog;
	size_t n = 0, max = 4096;
	uint64_t root;

	CHECK_EQ(kv_fini(), 0);
	CHECK_EQ(kv_init(&cfg), 0);
	make_fs();
	mp = mount_fs(false);
	root = mp->g.rootino;
	tp = trans(mp);
	dirty = alloc_reg(tp, 7);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	for (int i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		CHECK_EQ(kvfs_iget(mp, root + i, KVFS_IGET_FREE, &ip), 0);
		kvfs_iput(ip);
	}
	hog = malloc(max * sizeof(*hog));
	CHECK(hog);
	/* fill the budget until reclaim has taken inodes */
	while (n < max && stats(mp).reclaimed < 8) {
		hog[n] = kvmalloc(64 << 10, KV_NOWARN);
		if (!hog[n])
			break;
		n++;
	}
	CHECK(stats(mp).reclaimed >= 8);
	CHECK(cached(mp, dirty->i_ino));
	while (n)
		kvfree(hog[--n]);
	free(hog);
	kvfs_iput(dirty);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(kv_fini(), 0);
	CHECK_EQ(kv_init(NULL), 0);
}

/*
 * The index's buckets (malloc'd by rculfhash) grow with the number of
 * cached inodes, not faster: grown on chain length, 6000 inodes made a
 * table of half a million buckets (8 MiB), each doubling faulting and
 * initialising all of them.
 */
static void test_index_size(void)
{
	static const struct kvfs_cred root_cred;
	const unsigned n = 6000;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct mallinfo2 m0, m1;
	bool created;
	char name[32];

	make_fs();
	mp = mount_fs(true);
	m0 = mallinfo2();
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		CHECK_EQ(kvfs_create(mp, mp->g.rootino, name, 0100644, 0,
				     KVFS_CREATE_EXCL, &root_cred, &st,
				     &created),
			 0);
	}
	m1 = mallinfo2();
	CHECK(stats(mp).nr_cached > n);
	/* 16 KiB buckets at most: 16 bytes each, at least one per inode */
	CHECK((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd) <
	      (size_t)16 * 16384);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* A change of core and fork, forced, crashed: the next mount replays it. */
/* The LSN of the checkpoint that logged log_change()'s inode. */
static kvj_lsn_t logged_lsn;

static uint64_t log_change(struct kvfs_mount *mp, uint64_t fsb)
{
	struct kvfs_trans *tp = trans(mp);
	struct kvfs_inode *ip = alloc_reg(tp, 4096);
	struct kvfs_extent *e;
	uint64_t ino = ip->i_ino;

	/* a writer of fork bytes owns them first (fs/inode/inode.h) */
	kvfs_inode_own_forks(ip);
	e = (struct kvfs_extent *)ip->i_dfork;

	ip->i_mtime.sec = -86400 * 365; /* 1969 */
	ip->i_mtime.nsec = 999999999;
	ip->i_uid = 4242;
	ip->i_nextents = 1;
	ip->i_nblocks = 1;
	e->startoff = kv_cpu_to_le64(0);
	e->startblock = kv_cpu_to_le64(fsb);
	e->blockcount = kv_cpu_to_le32(1);
	e->flags = kv_cpu_to_le32(0);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_DFORK);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	/* in the AIL, at its checkpoint's LSN, once that is durable */
	logged_lsn = ip->i_item.item.lsn;
	CHECK(logged_lsn != 0);
	kvfs_iput(ip);
	return ino;
}

static void check_change(struct kvfs_mount *mp, uint64_t ino, uint64_t fsb)
{
	struct kvfs_inode *ip;
	struct kvfs_extent *e;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	e = (struct kvfs_extent *)ip->i_dfork;
	CHECK_EQ(ip->i_mode, 0100644);
	CHECK_EQ(ip->i_size, 4096);
	CHECK_EQ(ip->i_mtime.sec, -86400 * 365);
	CHECK_EQ(ip->i_mtime.nsec, 999999999);
	CHECK_EQ(ip->i_uid, 4242);
	CHECK_EQ(ip->i_generation, 1);
	CHECK_EQ(ip->i_nextents, 1);
	CHECK_EQ(kv_le64_to_cpu(e->startblock), fsb);
	CHECK_EQ(kv_le32_to_cpu(e->blockcount), 1);
	kvfs_iput(ip);
}

static uint64_t data_block(struct kvfs_mount *mp)
{
	return kvfs_agb_to_fsb(&mp->g, mp->g.agcount - 1, 100);
}

static void crash(struct kvfs_mount *mp)
{
	kvfs_mount_shutdown(mp, "test crash");
	CHECK_EQ(kvfs_mount_close(mp), -EIO);
}

static void test_replay(void)
{
	struct kvfs_mount *mp;
	uint64_t ino, fsb;

	make_fs();
	mp = mount_fs(false);
	fsb = data_block(mp);
	ino = log_change(mp, fsb);
	crash(mp);
	mp = mount_fs(false);
	CHECK(!mp->ri.was_clean);
	CHECK_EQ(mp->ino_rstats.applied, 1);
	CHECK_EQ(mp->ino_rstats.skipped, 0);
	check_change(mp, ino, fsb);
	check_chunk(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	/* written back at the clean unmount */
	mp = mount_fs(false);
	CHECK(mp->ri.was_clean);
	check_change(mp, ino, fsb);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * Fork memory (fs/inode/inode.h): an inode owns some only once its forks
 * hold something; until then both read as zeros from the shared area.
 */
static bool owns(struct kvfs_mount *mp, uint64_t ino)
{
	uint32_t room = mp->g.inodesize - KVFS_DINODE_CORE_SIZE;
	struct kvfs_inode *ip;
	bool own;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	own = kvfs_inode_owns_forks(ip);
	if (!own) {
		for (uint32_t i = 0; i < room; i++)
			CHECK_EQ(ip->i_dfork[i] | ip->i_afork[i], 0);
	}
	kvfs_iput(ip);
	return own;
}

static uint64_t make(struct kvfs_mount *mp, const char *name, uint32_t mode)
{
	static const struct kvfs_cred cr = { .uid = 0 };
	struct kvfs_stat st;

	if (S_ISDIR(mode))
		CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, name, mode, &cr, &st),
			 0);
	else if (S_ISLNK(mode))
		CHECK_EQ(kvfs_symlink(mp, mp->g.rootino, name, "target", &cr,
				      &st),
			 0);
	else
		CHECK_EQ(kvfs_create(mp, mp->g.rootino, name, mode, 0,
				     KVFS_CREATE_EXCL, &cr, &st, NULL),
			 0);
	return st.ino;
}

static void test_forks(void)
{
	static const char data[4096] = "data";
	struct kvfs_mount *mp;
	uint64_t f, e, x, d, l, p;

	make_fs();
	mp = mount_fs(false);
	f = make(mp, "f", S_IFREG | 0644);
	e = make(mp, "e", S_IFREG | 0644);
	x = make(mp, "x", S_IFREG | 0644);
	p = make(mp, "p", S_IFIFO | 0644);
	d = make(mp, "d", S_IFDIR | 0755);
	l = make(mp, "l", S_IFLNK);
	CHECK(!owns(mp, f) && !owns(mp, e) && !owns(mp, x) && !owns(mp, p));
	CHECK(owns(mp, d) && owns(mp, l));
	CHECK_EQ(kvfs_write(mp, f, data, sizeof(data), 0, 0),
		 (ssize_t)sizeof(data));
	CHECK_EQ(kvfs_setxattr(mp, x, "user.a", "v", 1, 0), 0);
	CHECK(owns(mp, f) && owns(mp, x) && !owns(mp, e));
	CHECK_EQ(kvfs_mount_close(mp), 0);

	/* read back: only forks holding something are owned */
	mp = mount_fs(false);
	CHECK(owns(mp, f) && owns(mp, x) && owns(mp, d) && owns(mp, l));
	CHECK(!owns(mp, e) && !owns(mp, p));
	CHECK_EQ(kvfs_write(mp, e, data, sizeof(data), 0, 0),
		 (ssize_t)sizeof(data));
	CHECK(owns(mp, e));
	CHECK_EQ(kvfs_mount_close(mp), 0);
	mp = mount_fs(false);
	CHECK(owns(mp, e));
	CHECK_EQ(kvfs_unlink(mp, mp->g.rootino, "e"), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* Rewrite inode ino on the image: its LSN and uid; crc fixed or not. */
static void poke_inode(const struct kvfs_geom *g, uint64_t ino, uint64_t lsn,
		       uint32_t uid, bool good_crc)
{
	uint8_t buf[2048];
	struct kvfs_dinode *d = (struct kvfs_dinode *)buf;
	off_t off = (off_t)(kvfs_ino_to_fsb(g, ino) << g->blocklog) +
		    kvfs_ino_to_offset(g, ino);
	int fd = open(path, O_RDWR);

	CHECK(fd >= 0 && pread(fd, buf, g->inodesize, off) == g->inodesize);
	d->hdr.lsn = kv_cpu_to_le64(lsn);
	d->uid = kv_cpu_to_le32(uid);
	kvfs_blkhdr_set_crc(buf, g->inodesize);
	if (!good_crc)
		d->hdr.crc = kv_cpu_to_le32(kv_le32_to_cpu(d->hdr.crc) ^ 1);
	CHECK(pwrite(fd, buf, g->inodesize, off) == g->inodesize);
	close(fd);
}

/*
 * Replay skips a delta not newer than the inode's LSN when the inode
 * verifies (written back at that checkpoint), and applies it when the
 * inode fails its crc (a torn write-back) or carries an LSN past every
 * checkpoint of the log (damage: no write-back is newer than the log's
 * newest checkpoint, fs/io/buf_item.c rec_block_lsn()).
 */
static void test_skip_newer(void)
{
	enum { WRITTEN_BACK, TORN, FUTURE };
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_geom g;
	uint64_t ino, fsb;

	for (int c = WRITTEN_BACK; c <= FUTURE; c++) {
		bool skip = c == WRITTEN_BACK;

		make_fs();
		mp = mount_fs(false);
		fsb = data_block(mp);
		g = mp->g;
		ino = log_change(mp, fsb);
		crash(mp);
		poke_inode(&g, ino, c == FUTURE ? 1ull << 60 : logged_lsn, 555,
			   c != TORN);
		mp = mount_fs(false);
		CHECK_EQ(mp->ino_rstats.deltas, 1);
		CHECK_EQ(mp->ino_rstats.skipped, skip ? 1 : 0);
		CHECK_EQ(mp->ino_rstats.applied, skip ? 0 : 1);
		if (!skip) {
			check_change(mp, ino, fsb);
		} else {
			CHECK_EQ(kvfs_iget(mp, ino, KVFS_IGET_FREE, &ip), 0);
			/* the free inode as poked, not the logged one */
			CHECK_EQ(ip->i_uid, 555);
			CHECK_EQ(ip->i_mode, 0);
			kvfs_iput(ip);
		}
		kvfs_mount_shutdown(mp, "test");
		kvfs_mount_close(mp);
	}
}

/* Rewrite one field of inode ino on the image, crc recomputed or not. */
static void damage_inode(const struct kvfs_geom *g, uint64_t ino, bool fix)
{
	uint8_t buf[2048];
	struct kvfs_dinode *d = (struct kvfs_dinode *)buf;
	off_t off = (off_t)(kvfs_ino_to_fsb(g, ino) << g->blocklog) +
		    kvfs_ino_to_offset(g, ino);
	int fd = open(path, O_RDWR);

	CHECK(fd >= 0 && pread(fd, buf, g->inodesize, off) == g->inodesize);
	d->flags = kv_cpu_to_le32(1u << 30); /* no such flag */
	if (fix)
		kvfs_blkhdr_set_crc(buf, g->inodesize);
	CHECK(pwrite(fd, buf, g->inodesize, off) == g->inodesize);
	close(fd);
}

/* A damaged inode is refused, reported by number, its chunk still loads. */
static void test_corrupt(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_geom g;
	uint64_t bad;

	for (int fix = 0; fix < 2; fix++) {
		make_fs();
		mp = mount_fs(false);
		g = mp->g;
		bad = g.rootino + 9;
		CHECK_EQ(kvfs_mount_close(mp), 0);
		damage_inode(&g, bad, fix);
		mp = mount_fs(false);
		for (int i = 0; i < 2; i++) {
			/* a bad crc is EUCLEAN too; the report says crc */
			CHECK_EQ(kvfs_iget(mp, bad, KVFS_IGET_FREE, &ip),
				 -EUCLEAN);
			CHECK_EQ(kvfs_report_last()->ino, bad);
			CHECK_EQ(kvfs_report_last()->err,
				 fix ? -EUCLEAN : -EBADMSG);
			CHECK_EQ(kvfs_iget_handle(mp, bad, 0, &ip), -EUCLEAN);
		}
		CHECK_EQ(stats(mp).nr_cached, 0);
		for (uint64_t i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
			if (g.rootino + i == bad)
				continue;
			CHECK_EQ(kvfs_iget(mp, g.rootino + i, KVFS_IGET_FREE,
					   &ip),
				 0);
			kvfs_iput(ip);
		}
		CHECK_EQ(stats(mp).nr_cached, KVFS_INODES_PER_CHUNK - 1);
		CHECK_EQ(kvfs_mount_close(mp), 0);
	}
}

/*
 * Every free inode of the first chunk allocated, then -ENOSPC (no new
 * chunks yet); frees and reallocations move the generation on; the
 * header's counts follow exactly, also across a remount.
 */
static void test_alloc_free(void)
{
	struct kvfs_inode *ips[KVFS_INODES_PER_CHUNK];
	struct kvfs_icreate_args a = { .mode = 0100600, .nlink = 1 };
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t mask, ino5;
	int n = 0;

	make_fs();
	mp = mount_fs(true);
	CHECK_EQ(__builtin_popcountll(check_chunk(mp)), 62);
	/*
	 * Transactions without blocks: once the mkfs chunk is full, a new
	 * chunk does not fit the reservation (-ENOSPC, nothing changed;
	 * tests/inode/test_ichunk.c allocates chunks).
	 */
	for (;;) {
		tp = trans(mp);
		if (kvfs_dialloc(tp, mp->g.rootino, &a, &ip) == -ENOSPC) {
			CHECK(!kvj_trans_dirty(tp->jt));
			kvfs_trans_cancel(tp);
			break;
		}
		CHECK_EQ(ip->i_generation, 1);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		ips[n++] = ip;
		CHECK_EQ(mp->pag[0].ifree, 62 - n);
	}
	CHECK_EQ(n, 62);
	CHECK_EQ(check_chunk(mp), 0);
	/* free every other one */
	for (int i = 0; i < n; i += 2)
		free_ino(mp, ips[i]);
	mask = check_chunk(mp);
	CHECK_EQ(__builtin_popcountll(mask), 31);
	/* a freed inode is gone for handles */
	CHECK_EQ(kvfs_iget_handle(mp, ips[4]->i_ino, 1, &ip), -ESTALE);
	ino5 = ips[4]->i_ino;
	for (int i = 0; i < n; i++)
		kvfs_iput(ips[i]);
	CHECK_EQ(kvfs_mount_close(mp), 0);

	/* after a remount: the same counts; reuse moves the generation on */
	mp = mount_fs(true);
	CHECK_EQ(check_chunk(mp), mask);
	tp = trans(mp);
	CHECK_EQ(kvfs_dialloc(tp, mp->g.rootino, &a, &ip), 0);
	/* the lowest free inode: the first one freed */
	CHECK_EQ(ip->i_ino, mp->g.rootino + 2);
	CHECK_EQ(ip->i_generation, 2);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(kvfs_iget_handle(mp, ip->i_ino, 1, &ips[0]), -ESTALE);
	CHECK_EQ(kvfs_iget_handle(mp, ip->i_ino, 2, &ips[0]), 0);
	kvfs_iput(ips[0]);
	CHECK_EQ(__builtin_popcountll(check_chunk(mp)), 30);
	kvfs_iput(ip);
	/* freeing a free inode is refused, nothing changed */
	CHECK_EQ(kvfs_iget(mp, ino5, KVFS_IGET_FREE, &ip), 0);
	tp = trans(mp);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_difree(tp, ip), -EUCLEAN);
	CHECK_EQ(kvfs_report_last()->ino, ino5);
	CHECK(!kvj_trans_dirty(tp->jt));
	kvfs_trans_cancel(tp);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * Every pthread_rwlock_wrlock() of the library goes through here (the
 * library is linked statically into this program): a lock this thread
 * already holds for writing is counted (glibc answers EDEADLK).
 */
static _Atomic unsigned nr_wrlock_deadlk;

int pthread_rwlock_wrlock(pthread_rwlock_t *l)
{
	static int (*real)(pthread_rwlock_t *);
	int err;

	if (!real)
		real = (int (*)(pthread_rwlock_t *))dlsym(
			RTLD_NEXT, "pthread_rwlock_wrlock");
	err = real(l);
	if (err == EDEADLK)
		nr_wrlock_deadlk++;
	return err;
}

/*
 * On a new filesystem, a file made and committed (*ipp, referenced), then
 * freed by the transaction returned, still open.
 */
static struct kvfs_trans *freeing_trans(struct kvfs_mount **mpp,
					struct kvfs_inode **ipp)
{
	struct kvfs_trans *tp;

	make_fs();
	*mpp = mount_fs(true);
	tp = trans(*mpp);
	*ipp = alloc_reg(tp, 1);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	tp = trans(*mpp);
	kvfs_ilock(*ipp, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, *ipp), 0);
	CHECK_EQ(kvfs_difree(tp, *ipp), 0);
	return tp;
}

/*
 * Free an inode and allocate in the same transaction: the allocation
 * takes the inode just freed (the lowest free), already locked and
 * joined by the transaction; it must not lock it again.
 */
static void test_free_realloc_same_trans(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *ip2;
	struct kvfs_trans *tp = freeing_trans(&mp, &ip);
	uint64_t ino = ip->i_ino;
	struct kvfs_perag *pag =
		kvfs_perag_get(mp, kvfs_ino_to_agno(&mp->g, ino));

	CHECK_EQ(atomic_load(&pag->ifree_held), 1);
	nr_wrlock_deadlk = 0;
	ip2 = alloc_reg(tp, 2);
	CHECK_EQ(ip2->i_ino, ino);
	CHECK_EQ(nr_wrlock_deadlk, 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	/* counted held from the free to the end of its transaction */
	CHECK_EQ(atomic_load(&pag->ifree_held), 0);
	/* the transaction's end left it unlocked, exactly once */
	CHECK(kvfs_ilock_nowait(ip, KVFS_ILOCK_EXCL));
	kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(ip->i_generation, 2);
	kvfs_iput(ip2);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * An inode freed by a transaction that rolled (its AG lock released, the
 * inode still locked and joined to it, as an rmdir whose parent's block
 * is freed after the roll) is not handed to another transaction, which
 * would wait for its lock under the AG lock the first one may need
 * (tests/stress ichurn -l 200 deadlocked so); once the first is over, it
 * is.  The AG counts it held (ifree_held) from the free to the first
 * transaction's end, over the roll: allocation asks the cache only then.
 */
static void test_free_realloc_other_trans(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip, *ip2, *ip3;
	struct kvfs_trans *tp = freeing_trans(&mp, &ip), *tp2;
	uint64_t ino = ip->i_ino;
	struct kvfs_perag *pag =
		kvfs_perag_get(mp, kvfs_ino_to_agno(&mp->g, ino));

	CHECK_EQ(atomic_load(&pag->ifree_held), 1);
	CHECK_EQ(kvfs_trans_roll(tp, NULL), 0);
	CHECK_EQ(atomic_load(&pag->ifree_held), 1);
	nr_wrlock_deadlk = 0;
	tp2 = trans(mp);
	ip2 = alloc_reg(tp2, 2);
	CHECK(ip2->i_ino != ino);
	CHECK_EQ(nr_wrlock_deadlk, 0);
	CHECK_EQ(kvfs_trans_commit(tp2, NULL), 0);
	/* the other transaction's end leaves it counted */
	CHECK_EQ(atomic_load(&pag->ifree_held), 1);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(atomic_load(&pag->ifree_held), 0);
	tp = trans(mp);
	ip3 = alloc_reg(tp, 3);
	CHECK_EQ(ip3->i_ino, ino);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip3);
	kvfs_iput(ip2);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A miss of a number from outside (a FUSE lookup by handle) and an
 * allocation of that free inode: the allocation holds the AG lock and
 * waits for the inode's creator, so the creator must not have published
 * the inode while it waits for the AG lock (it did: a deadlock).  The
 * test's transaction holds the AG lock as an allocation does; a thread
 * misses the handle's inode and waits for that lock; another gets the
 * free inode as the allocation would, and must not wait for the first.
 */
struct untrusted {
	struct kvfs_mount *mp;
	uint64_t ino;
	int err;
	struct kvfs_inode *ip;
};

static void *untrusted_handle(void *arg)
{
	struct untrusted *u = arg;

	u->err = kvfs_iget_handle(u->mp, u->ino, 1, &u->ip);
	return NULL;
}

static void *untrusted_alloc(void *arg)
{
	struct untrusted *u = arg;

	u->err = kvfs_iget(u->mp, u->ino, KVFS_IGET_FREE, &u->ip);
	return NULL;
}

static void test_untrusted_miss_alloc(void)
{
	struct untrusted h = { 0 }, a = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_perag *pag;
	struct kvfs_trans *tp;
	struct timespec ts;
	pthread_t th, ta;
	uint64_t before;
	bool newly;

	make_fs();
	mp = mount_fs(true);
	pag = &mp->pag[0];
	/* free in the mkfs chunk, not cached */
	h.mp = a.mp = mp;
	h.ino = a.ino = mp->g.rootino + 5;
	CHECK(!cached(mp, h.ino));
	tp = trans(mp);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 0, false, &newly), 0);
	before = atomic_load(&pag->lock_acquired);
	CHECK_EQ(pthread_create(&th, NULL, untrusted_handle, &h), 0);
	/* counted as it starts to wait for the lock */
	while (atomic_load(&pag->lock_acquired) == before)
		sched_yield();
	usleep(20000);
	CHECK_EQ(pthread_create(&ta, NULL, untrusted_alloc, &a), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	/* a timeout here is the deadlock: the handle's miss holds the inode */
	CHECK_EQ(pthread_timedjoin_np(ta, NULL, &ts), 0);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(a.ip->i_mode, 0);
	kvfs_trans_cancel(tp);
	pthread_join(th, NULL);
	CHECK_EQ(h.err, -ESTALE);
	kvfs_iput(a.ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- kvfs_icache_read(): lockless reads of cached inodes ---- */

struct snap {
	uint32_t uid, gid;
	uint64_t size;
	uint16_t mode;
};

static void snap_read(const struct kvfs_inode *ip, void *arg)
{
	struct snap *s = arg;

	s->uid = __atomic_load_n(&ip->i_uid, __ATOMIC_RELAXED);
	s->gid = __atomic_load_n(&ip->i_gid, __ATOMIC_RELAXED);
	s->size = __atomic_load_n(&ip->i_size, __ATOMIC_RELAXED);
	s->mode = __atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED);
}

#define SNAP_ROUNDS 20000

static struct kvfs_inode *snap_ip;
static atomic_int snap_done;

/* uid, gid and size changed together under the lock, step by step */
static void *snap_writer(void *arg)
{
	(void)arg;
	for (uint32_t k = 1; k <= SNAP_ROUNDS; k++) {
		kvfs_ilock(snap_ip, KVFS_ILOCK_EXCL);
		snap_ip->i_uid = k;
		sched_yield();
		snap_ip->i_gid = k;
		snap_ip->i_size = k;
		kvfs_iunlock(snap_ip, KVFS_ILOCK_EXCL);
	}
	atomic_store(&snap_done, 1);
	return NULL;
}

/* What next_read() names: next.ino, set from want */
struct next_arg {
	struct kvfs_icache_next next;
	uint64_t want;
};

/* kvfs_icache_read_then()'s first read: sets the number the second reads */
static void next_read(const struct kvfs_inode *ip, void *arg)
{
	struct next_arg *n = arg;

	n->next.ino =
		__atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED) ? n->want : 0;
}

/*
 * Two reads in one section: the second only when the first counted and
 * named an inode, and only counted when that one is cached.
 */
static void test_read_then(struct kvfs_mount *mp)
{
	struct next_arg next = { 0 };
	struct snap s;
	bool done2;

	/* root (cached, mode set) names rootino + 5 (cached, free) */
	memset(&s, 0xff, sizeof(s));
	next.want = mp->g.rootino + 5;
	CHECK_EQ(kvfs_icache_read_then(mp, mp->g.rootino, next_read, &next,
				       &next.next, snap_read, &s, &done2),
		 0);
	CHECK(done2);
	CHECK_EQ(s.mode, 0);
	/* a number not cached: the first counts, the second does not */
	next.want = mp->g.rootino + 6;
	CHECK_EQ(kvfs_icache_read_then(mp, mp->g.rootino, next_read, &next,
				       &next.next, snap_read, &s, &done2),
		 0);
	CHECK(!done2);
	/* the first names nothing (a free inode): no second read */
	memset(&s, 0xff, sizeof(s));
	next.want = mp->g.rootino;
	CHECK_EQ(kvfs_icache_read_then(mp, mp->g.rootino + 5, next_read, &next,
				       &next.next, snap_read, &s, &done2),
		 0);
	CHECK(!done2);
	CHECK_EQ(s.uid, UINT32_MAX);
	/* the first not cached: -EAGAIN, no second read */
	CHECK_EQ(kvfs_icache_read_then(mp, mp->g.rootino + 6, next_read, &next,
				       &next.next, snap_read, &s, &done2),
		 -EAGAIN);
	CHECK(!done2);
}

/*
 * A cached, ready inode is read without a reference (the count stays);
 * an uncached one, or one whose lock is held exclusively, is refused
 * (-EAGAIN); and a read racing changes made under the lock sees them
 * whole or not at all.
 */
static void test_read_rcu(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct snap s = { 0 };
	unsigned long ok = 0, refused = 0;
	uint32_t last = 0;
	pthread_t th;
	int err;

	make_fs();
	mp = mount_fs(false);
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino, snap_read, &s), -EAGAIN);
	CHECK_EQ(kvfs_iget(mp, mp->g.rootino, 0, &ip), 0);
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino, snap_read, &s), 0);
	CHECK_EQ(s.mode, ip->i_mode);
	CHECK_EQ(atomic_load(&ip->i_count), 1);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino, snap_read, &s), -EAGAIN);
	kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	kvfs_iput(ip);
	/* unreferenced but cached: still read */
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino, snap_read, &s), 0);
	/* a free inode is read too; its mode tells */
	CHECK_EQ(kvfs_iget(mp, mp->g.rootino + 5, KVFS_IGET_FREE, &ip), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino + 5, snap_read, &s), 0);
	CHECK_EQ(s.mode, 0);
	test_read_then(mp);

	/* a free inode, changed in core only (nothing logs it) */
	CHECK_EQ(kvfs_iget(mp, mp->g.rootino + 5, KVFS_IGET_FREE, &snap_ip),
		 0);
	CHECK_EQ(snap_ip->i_uid, 0);
	CHECK_EQ(snap_ip->i_gid, 0);
	CHECK_EQ(snap_ip->i_size, 0);
	atomic_store(&snap_done, 0);
	CHECK_EQ(pthread_create(&th, NULL, snap_writer, NULL), 0);
	while (!atomic_load(&snap_done)) {
		err = kvfs_icache_read(mp, mp->g.rootino + 5, snap_read, &s);
		if (err) {
			CHECK_EQ(err, -EAGAIN);
			refused++;
			continue;
		}
		CHECK_EQ(s.gid, s.uid);
		CHECK_EQ(s.size, s.uid);
		CHECK(s.uid >= last);
		last = s.uid;
		ok++;
	}
	CHECK_EQ(pthread_join(th, NULL), 0);
	CHECK_EQ(kvfs_icache_read(mp, mp->g.rootino + 5, snap_read, &s), 0);
	CHECK_EQ(s.uid, SNAP_ROUNDS);
	printf("read_rcu: %lu consistent reads, %lu refused\n", ok, refused);
	/* as it was */
	kvfs_ilock(snap_ip, KVFS_ILOCK_EXCL);
	snap_ip->i_uid = snap_ip->i_gid = 0;
	snap_ip->i_size = 0;
	kvfs_iunlock(snap_ip, KVFS_ILOCK_EXCL);
	kvfs_iput(snap_ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("inode");
	test_iget();
	test_iget_race();
	test_read_rcu();
	test_reclaim();
	test_reclaim_written();
	test_replay();
	test_forks();
	test_skip_newer();
	test_corrupt();
	test_alloc_free();
	test_free_realloc_same_trans();
	test_free_realloc_other_trans();
	test_untrusted_miss_alloc();
	test_index_size();
	test_reclaim_budget();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("inode: ok\n");
	return 0;
}
