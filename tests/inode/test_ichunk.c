// SPDX-License-Identifier: GPL-2.0
/*
 * New inode chunks (fs/inode/ialloc.c): 2000 inodes in a 2-AG filesystem whose
 * mkfs chunk has 62 free, chunks allocated on demand in both AGs, each
 * inode in its parent's AG (a new chunk there before another AG's free
 * inode), then every one freed: the inode headers' counts, the AGs' in-core
 * ones and the inodes themselves exact at each step, the image clean under the
 * independent checker.  Then a crash after a force in the middle of the
 * allocations: after recovery every inode allocated before the force is
 * still allocated and the image is clean.  Then a new chunk and its first
 * inodes in one checkpoint, the crash right after its force: recovery
 * must replay the inodes' cores over the chunk's initialisation.  New
 * directories go round the AGs.  A free inode damaged on disk fails the
 * allocation that takes it with EUCLEAN and nothing changed: the log
 * stays up.  The inodes of a chunk this mount made are taken without a
 * read of their cluster, as the read would have found them: the chunk's
 * generation moved on; a cached inode of the chunk's last life at the
 * same place moves its own generation on.  New chunks' generations differ
 * and cost one getrandom() per AG and mount, not one per chunk.
 */
#include <dlfcn.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fs/format/sb.h"
#include "fs/kvfs.h"
#include "tests/scrub_util.h"
#include "tests/inode/ino.h"

#define NINO 2000

static uint64_t inos[NINO];

static void make_fs2(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 2, .force = true
	};
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(g.agcount, 2);
}

/*
 * Parents alternate by chunk's worth between AG 0 (the root) and an inode
 * number of AG 1, so that the allocations that find every chunk full
 * have parents in both AGs.
 */
static uint64_t parent_of(const struct kvfs_geom *g, int i)
{
	return i / KVFS_INODES_PER_CHUNK % 2 ?
		       kvfs_agino_to_ino(
			       g, 1,
			       kvfs_agbno_to_agino(g, KVFS_AG_HDR_BLOCKS)) :
		       g->rootino;
}

static uint64_t alloc_one(struct kvfs_mount *mp, int i)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, parent_of(&mp->g, i), &a, &ip), 0);
	ino = ip->i_ino;
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	return ino;
}

/*
 * Every AG's inode header against its in-core counts and against used,
 * the inodes allocated there (with root and lost+found); returns the
 * filesystem's total of allocated chunk inodes.
 */
static uint64_t check_counts(struct kvfs_mount *mp, const uint64_t *used)
{
	const struct kvfs_geom *g = &mp->g;
	uint64_t icount = 0;

	for (uint32_t agno = 0; agno < g->agcount; agno++) {
		struct kvfs_perag *pag = &mp->pag[agno];
		const struct kvfs_agi *agi;
		struct kv_buf *bp;
		uint32_t ic, fr;

		CHECK_EQ(kv_buf_read(mp->bc,
				     kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
				     1, &kvfs_agi_buf_ops, &bp),
			 0);
		agi = bp->b_addr;
		ic = kv_le32_to_cpu(agi->icount);
		fr = kv_le32_to_cpu(agi->ifree);
		kv_buf_rele(bp);
		CHECK_EQ(ic % KVFS_INODES_PER_CHUNK, 0);
		CHECK_EQ(ic - fr, used[agno]);
		CHECK(pag->agi_init);
		CHECK_EQ(pag->icount, ic);
		CHECK_EQ(pag->ifree, fr);
		icount += ic;
	}
	return icount;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_alloc_free_many(void)
{
	uint64_t used[2] = { 2, 0 }, sorted[NINO];
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;

	make_fs2();
	mp = mount_fs(true);
	g = &mp->g;
	for (int i = 0; i < NINO; i++) {
		inos[i] = alloc_one(mp, i);
		used[kvfs_ino_to_agno(g, inos[i])]++;
	}
	/*
	 * Every inode in its parent's AG, a new chunk there only when none
	 * of the AG's has a free inode (XFS's xfs_dialloc): the fewest per
	 * AG.  Taking another AG's free inode first put the AG-1 parents'
	 * first 62 inodes into the mkfs chunk of AG 0.
	 */
	for (int i = 0; i < NINO; i++)
		CHECK_EQ(kvfs_ino_to_agno(g, inos[i]),
			 kvfs_ino_to_agno(g, parent_of(g, i)));
	CHECK_EQ(check_counts(mp, used),
		 (used[0] + KVFS_INODES_PER_CHUNK - 1) / KVFS_INODES_PER_CHUNK *
				 KVFS_INODES_PER_CHUNK +
			 (used[1] + KVFS_INODES_PER_CHUNK - 1) /
				 KVFS_INODES_PER_CHUNK * KVFS_INODES_PER_CHUNK);
	memcpy(sorted, inos, sizeof(sorted));
	qsort(sorted, NINO, sizeof(sorted[0]), cmp_u64);
	for (int i = 1; i < NINO; i++)
		CHECK(sorted[i] != sorted[i - 1]);
	for (int i = 0; i < NINO; i++) {
		CHECK_EQ(kvfs_iget(mp, inos[i], 0, &ip), 0);
		CHECK_EQ(ip->i_mode, 0100644);
		free_ino(mp, ip);
		kvfs_iput(ip);
		used[kvfs_ino_to_agno(g, inos[i])]--;
	}
	CHECK_EQ(used[0], 2);
	CHECK_EQ(used[1], 0);
	check_counts(mp, used);
	CHECK_EQ(kvfs_iget(mp, inos[NINO - 1], 0, &ip), -ENOENT);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	printf("ichunk: %d inodes allocated and freed, scrub clean\n", NINO);
}

/*
 * over_old: mkfs over the image the earlier test left, whose blocks carry
 * LSNs of another log, higher than the new log's: recovery must replay
 * over them (it once trusted their LSNs and skipped the new chunks'
 * initialisation and inodes).
 */
static void test_crash(bool over_old)
{
	const int before = NINO / 2, after = 300;
	struct kvfs_mount *mp;

	if (!over_old)
		unlink(path);
	make_fs2();
	mp = mount_fs(true);
	for (int i = 0; i < before; i++)
		inos[i] = alloc_one(mp, i);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	for (int i = before; i < before + after; i++)
		inos[i] = alloc_one(mp, i);
	kvfs_mount_shutdown(mp, "test: power cut");
	CHECK_EQ(kvfs_mount_close(mp), -EIO);

	mp = mount_fs(true);
	for (int i = 0; i < before; i++) {
		struct kvfs_inode *ip;
		int err = kvfs_iget(mp, inos[i], 0, &ip);

		if (err)
			fprintf(stderr, "inode %d %llu: %s: %s\n", i,
				(unsigned long long)inos[i],
				kvfs_report_last()->what,
				kvfs_report_last()->msg);
		CHECK_EQ(err, 0);
		CHECK_EQ(ip->i_mode, 0100644);
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	printf("ichunk: crash after %d inodes forced%s: recovered, scrub "
	       "clean\n",
	       before, over_old ? " (mkfs over an old image)" : "");
}

/*
 * The new chunk's initialisation (its cluster buffers, all inodes free)
 * and the cores of the inodes taken from it are logged in one checkpoint,
 * the chunk's in the same transaction as its first inode and before it;
 * the checkpoint lists the inode first (a transaction's items go out in
 * reverse join order).  Replayed in log order, the free cluster lands
 * over the first inode's core: the inode is lost (its chunk record says
 * allocated, the inode free), which the checks below catch.
 */
static void test_crash_same_checkpoint(void)
{
	const int nr = 3;
	struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	uint64_t ino[3], first;
	int i;

	unlink(path);
	make_fs();
	/* no log threads: the forces below are the only checkpoints */
	mp = mount_fs(false);
	/* mkfs's chunk full (root and lost+found hold two), all written */
	for (i = 0; i < KVFS_INODES_PER_CHUNK - 2; i++)
		alloc_one(mp, 0);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	for (i = 0; i < nr; i++) {
		struct kvfs_trans *tp;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
		ip = alloc_reg(tp, (uint64_t)i + 7);
		ino[i] = ip->i_ino;
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		kvfs_iput(ip);
	}
	first = ino[0] & ~(uint64_t)(KVFS_INODES_PER_CHUNK - 1);
	/* the first one is the new chunk's first inode (the cluster's LSN) */
	CHECK_EQ(ino[0], first);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	/* the power cut: nothing more reaches the device */
	f.crash_after = kv_dev_nr_writes(mp->dev);
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
	kvfs_mount_shutdown(mp, "test: power cut");
	kvfs_mount_close(mp);

	mp = mount_fs(false);
	CHECK(!mp->ri.was_clean);
	for (i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		uint64_t want = 0;
		int k;

		for (k = 0; k < nr; k++)
			if (ino[k] == first + (uint64_t)i)
				want = (uint64_t)k + 7;
		CHECK_EQ(
			kvfs_iget(mp, first + (uint64_t)i, KVFS_IGET_FREE, &ip),
			0);
		if ((ip->i_mode != 0) != (want != 0) ||
		    (want && ip->i_size != want)) {
			fprintf(stderr,
				"new chunk's inode %d: mode 0%o size %llu, "
				"want size %llu\n",
				i, ip->i_mode, (unsigned long long)ip->i_size,
				(unsigned long long)want);
			exit(1);
		}
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	printf("ichunk: a new chunk and its inodes in one checkpoint: "
	       "recovered, scrub clean\n");
}

/*
 * The inode-chunk tree's root leaf full (every record a whole chunk, every
 * inode used): the next chunk splits the root, which takes two blocks
 * beside the chunk's.  A create's reservation had one block less than
 * the chunk and a split of every level with a new root: the root's split
 * failed, and the failure passed for "no room for a chunk" (after it, the
 * records moved to the new leaf were unreachable: creates found no free
 * inode the header counted, frees found no record).
 */
static void test_root_split(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 1, .force = true
	};
	struct kvfs_mount *mp;
	struct kvfs_perag *pag;
	const struct kvfs_agi *agi;
	struct kv_buf *bp;
	struct kvfs_geom g;
	uint32_t maxrecs, level;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = mount_fs(true);
	pag = &mp->pag[0];
	maxrecs = (g.blocksize - KVFS_BTREE_HDR_SIZE) /
		  sizeof(struct kvfs_inobt_rec);
	CHECK(mp->resv.inobt_maxlevels >= 2);
	do
		alloc_one(mp, 0);
	while (!pag->agi_init || pag->ifree ||
	       pag->icount < maxrecs * KVFS_INODES_PER_CHUNK);
	CHECK_EQ(pag->icount, maxrecs * KVFS_INODES_PER_CHUNK);
	alloc_one(mp, 0);
	CHECK_EQ(pag->icount, (maxrecs + 1) * KVFS_INODES_PER_CHUNK);
	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(&g, 0, KVFS_AGI_AGBNO), 1,
			     &kvfs_agi_buf_ops, &bp),
		 0);
	agi = bp->b_addr;
	level = agi->ino_level;
	kv_buf_rele(bp);
	CHECK_EQ(level, 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * New directories go round the AGs, each one's files in its AG: eight
 * directories of the root in a 4-AG filesystem, two in each AG.
 */
static void test_dir_rotor(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 4, .force = true
	};
	const struct kvfs_cred cr = { .uid = 0, .gid = 0 };
	unsigned per_ag[4] = { 0 };
	struct kvfs_stat dst, fst;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	char name[16];

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(g.agcount, 4);
	mp = mount_fs(false);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		CHECK_EQ(kvfs_mkdir(mp, g.rootino, name, 0755, &cr, &dst), 0);
		per_ag[kvfs_ino_to_agno(&g, dst.ino)]++;
		CHECK_EQ(kvfs_create(mp, dst.ino, "f", S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &fst, NULL),
			 0);
		CHECK_EQ(kvfs_ino_to_agno(&g, fst.ino),
			 kvfs_ino_to_agno(&g, dst.ino));
	}
	for (int a = 0; a < 4; a++)
		CHECK_EQ(per_ag[a], 2);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * The free inode the next allocation in AG 0 takes, damaged on disk (a
 * byte of its core, its crc left): kvfs_dialloc() meets it before the
 * transaction changed anything, so the log stays up (a cancel of the
 * changed transaction shut it down: one damaged free inode stopped every
 * later change of the mount; found by tools/trash-campaign, blocktrash
 * -s 14), and AG 0's inode allocation is marked sick: a transaction
 * without room for a chunk gets -ENOSPC (no free inode elsewhere), one
 * with room a new chunk in another AG (every create in AG 0 failed with
 * EUCLEAN until fsck), the next one an inode of that chunk.  The mount
 * closes with 0.
 */
static void test_damaged_free_inode(void)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inobt_rec r;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct kvfs_mount *mp;
	struct kvfs_agi agi;
	struct kvfs_geom g;
	uint64_t victim, off;
	uint8_t b;
	int fd;

	make_fs();
	mp = mount_fs(false);
	g = mp->g;
	read_chunk(mp, 0, &r, &agi);
	CHECK(kv_le64_to_cpu(r.freemask) != 0);
	victim = kvfs_agino_to_ino(
		&g, 0,
		kv_le32_to_cpu(r.startino) +
			(unsigned)__builtin_ctzll(kv_le64_to_cpu(r.freemask)));
	CHECK_EQ(kvfs_mount_close(mp), 0);

	off = kvfs_fsb_to_bytes(&g, kvfs_ino_to_fsb(&g, victim)) +
	      kvfs_ino_to_offset(&g, victim) + 64;
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x40;
	CHECK_EQ(pwrite(fd, &b, 1, (off_t)off), 1);
	CHECK_EQ(close(fd), 0);

	mp = mount_fs(false);
	tp = trans(mp);
	CHECK_EQ(kvfs_dialloc(tp, g.rootino, &a, &ip), -ENOSPC);
	kvfs_trans_cancel(tp);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK(mp->pag[0].ialloc_sick);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
		CHECK_EQ(kvfs_dialloc(tp, g.rootino, &a, &ip), 0);
		CHECK(kvfs_ino_to_agno(&g, ip->i_ino) != 0);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		kvfs_iput(ip);
	}
	CHECK(!kvj_log_is_shutdown(mp->log));
	/* a later change commits, and the mount closes clean */
	tp = trans(mp);
	CHECK_EQ(kvfs_iget(mp, g.rootino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* Buffer lookups of the cache so far. */
static uint64_t buf_lookups(struct kvfs_mount *mp)
{
	struct kv_bcache_stats st;

	kv_bcache_get_stats(mp->bc, &st);
	return st.hits + st.misses;
}

/*
 * One AG, its mkfs chunk filled: the next 64 inodes are a new chunk's,
 * each one generation past what the chunk's initialisation wrote (read
 * back from an inode of the chunk left free).  Allocations from that
 * chunk after a remount read the inode: one buffer lookup more each than
 * the same allocations before it.  The chunk freed and made again at the
 * same place, its inodes still cached: each one's generation moves on
 * from its last life.
 */
static void test_fresh_inodes(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 1, .force = true
	};
	uint64_t chunk[KVFS_INODES_PER_CHUNK], l0, l1, l2;
	uint32_t gens[KVFS_INODES_PER_CHUNK], gen;
	const struct kvfs_dinode *dip;
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	struct kv_buf *bp;
	struct kvfs_geom g;
	int n = 0, i;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = mount_fs(true);
	while (!mp->pag[0].agi_init || mp->pag[0].ifree)
		alloc_one(mp, 0);
	/* the new chunk's first 60, then 2 counted */
	for (; n < 60; n++)
		chunk[n] = alloc_one(mp, 0);
	l0 = buf_lookups(mp);
	for (; n < 62; n++)
		chunk[n] = alloc_one(mp, 0);
	l1 = buf_lookups(mp) - l0;
	for (i = 0; i < n; i++) {
		CHECK_EQ(kvfs_ino_to_agino(&g, chunk[i]) /
				 KVFS_INODES_PER_CHUNK,
			 kvfs_ino_to_agino(&g, chunk[0]) /
				 KVFS_INODES_PER_CHUNK);
		CHECK_EQ(kvfs_iget(mp, chunk[i], 0, &ip), 0);
		gens[i] = ip->i_generation;
		kvfs_iput(ip);
	}
	CHECK_EQ(kv_buf_read(mp->bc, kvfs_ino_to_fsb(&g, chunk[0] + 63), 1,
			     &kvfs_inode_buf_ops, &bp),
		 0);
	dip = (const void *)((const uint8_t *)bp->b_addr +
			     kvfs_ino_to_offset(&g, chunk[0] + 63));
	gen = kv_le32_to_cpu(dip->generation);
	kv_buf_rele(bp);
	for (i = 0; i < n; i++)
		CHECK_EQ(gens[i], gen + 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);

	mp = mount_fs(true);
	l0 = buf_lookups(mp);
	for (; n < 64; n++)
		chunk[n] = alloc_one(mp, 0);
	l2 = buf_lookups(mp) - l0;
	CHECK_EQ(l2, l1 + 2);
	CHECK_EQ(kvfs_ino_to_agino(&g, chunk[63]),
		 kvfs_ino_to_agino(&g, chunk[0]) + 63);
	/* every inode freed, the chunk with them; cached, each one's gen */
	for (i = 0; i < n; i++) {
		CHECK_EQ(kvfs_iget(mp, chunk[i], 0, &ip), 0);
		gens[i] = ip->i_generation;
		free_ino(mp, ip);
		kvfs_iput(ip);
	}
	/* the chunk's blocks no longer busy: the next chunk goes there */
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	for (i = 0; i < n; i++) {
		uint64_t ino = alloc_one(mp, 0);

		CHECK_EQ(ino, chunk[i]);
		CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
		CHECK_EQ(ip->i_generation, gens[i] + 1);
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * Every getrandom() of the library goes through here (linked statically
 * into this program): counted.
 */
static _Atomic unsigned nr_getrandom;

ssize_t getrandom(void *buf, size_t len, unsigned flags)
{
	static ssize_t (*real)(void *, size_t, unsigned);

	if (!real)
		real = (ssize_t(*)(void *, size_t, unsigned))dlsym(RTLD_NEXT,
								   "getrandom");
	nr_getrandom++;
	return real(buf, len, flags);
}

/*
 * One AG, its mkfs chunk filled: the next four chunks' generations (each
 * chunk's first inode one past its chunk's) all differ, drawn with one
 * getrandom() at most.
 */
static void test_chunk_generations(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 1, .force = true
	};
	uint32_t gens[4];
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	unsigned calls;
	int c, i, j;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = mount_fs(true);
	while (!mp->pag[0].agi_init || mp->pag[0].ifree)
		alloc_one(mp, 0);
	calls = nr_getrandom;
	for (c = 0; c < 4; c++) {
		CHECK_EQ(kvfs_iget(mp, alloc_one(mp, 0), 0, &ip), 0);
		gens[c] = ip->i_generation;
		kvfs_iput(ip);
		for (i = 1; i < KVFS_INODES_PER_CHUNK; i++)
			alloc_one(mp, 0);
		CHECK_EQ(mp->pag[0].ifree, 0);
	}
	CHECK(nr_getrandom - calls <= 1);
	for (c = 0; c < 4; c++)
		for (j = 0; j < c; j++)
			CHECK(gens[c] != gens[j]);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("ichunk");
	test_alloc_free_many();
	test_root_split();
	test_dir_rotor();
	test_crash(true);
	test_crash(false);
	test_crash_same_checkpoint();
	test_damaged_free_inode();
	test_fresh_inodes();
	test_chunk_generations();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("ichunk: ok\n");
	return 0;
}
