// SPDX-License-Identifier: GPL-2.0
/*
 * AG lock independence (issue 9, "Concurrency"): four threads, each
 * creating, growing, punching, truncating and freeing files whose inodes
 * and blocks live in its own AG of a 4-AG filesystem (through the extent
 * map and transactions, then through fs/kvfs.h: writes, fsyncs,
 * truncates), never take (nor trylock, nor wait for) another AG's lock.
 * Each thread's own statistics
 * (kvfs_perag_thread_stats()) name the AGs it locked; each AG's counters
 * (struct kvfs_perag) must equal its one thread's, so nobody else locked
 * it, and show no contention.  The image is clean under the checker
 * afterwards.
 *
 * A setup phase first gives every AG a chunk: the threads then keep
 * fewer files than a chunk's inodes alive at once.
 */
#include <pthread.h>

#include "fs/space/alloc.h"
#include "fs/data/bmap.h"
#include "fs/inode/ialloc.h"
#include "fs/kvfs.h"
#include "tests/inode/ino.h"
#include "tests/scrub_util.h"

#define NAG 4
#define ROUNDS 1000
#define LIVE 8 /* files alive at once per thread: well under a chunk */
#define API_ROUNDS 400

struct worker {
	struct kvfs_mount *mp;
	uint32_t agno;
	unsigned seed;
	struct kvfs_perag_thread_stats st;
	unsigned extents; /* blocks mapped in this AG, all rounds */
	unsigned full; /* appends or punches refused: the fork was full */
};

/* An inode number of AG agno (its first chunk's place) to allocate near. */
static uint64_t parent_in(const struct kvfs_geom *g, uint32_t agno)
{
	return kvfs_agino_to_ino(g, agno,
				 kvfs_agbno_to_agino(g, KVFS_AG_HDR_BLOCKS));
}

static struct kvfs_inode *create_near(struct kvfs_mount *mp, uint64_t parent)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, parent, &a, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return ip;
}

/*
 * Map [off, off + len) of ip with written blocks, each of which must be in
 * agno; false when the in-inode fork is full (no extent B+tree yet: the
 * caller truncates the file).
 */
static bool map_range(struct kvfs_mount *mp, struct kvfs_inode *ip,
		      uint32_t agno, uint64_t off, uint64_t len)
{
	while (len) {
		struct kvfs_bmap map[4];
		struct kvfs_trans *tp;
		int nmap = 4, i, err;
		uint64_t done = 0;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, len, &tp),
			 0);
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
		err = kvfs_bmapi_write(tp, ip, off, len, 0, map, &nmap);
		if (err == -EOPNOTSUPP) {
			/* nothing mapped; a refilled reserve list commits */
			CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
			return false;
		}
		CHECK_EQ(err, 0);
		if (ip->i_size < (off + len) * mp->g.blocksize)
			ip->i_size = (off + len) * mp->g.blocksize;
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		for (i = 0; i < nmap; i++) {
			CHECK_EQ(kvfs_fsb_to_agno(&mp->g, map[i].startblock),
				 agno);
			done = map[i].startoff + map[i].blockcount - off;
		}
		CHECK(done > 0 && done <= len);
		off += done;
		len -= done;
	}
	return true;
}

/* Unmap [off, off + len) of ip; false for a punch that a full fork refused. */
static bool unmap_range(struct kvfs_mount *mp, struct kvfs_inode *ip,
			uint64_t off, uint64_t len)
{
	uint64_t rem = len;
	int err = 0;

	while (rem && !err) {
		struct kvfs_trans *tp;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.itruncate, 0, &tp),
			 0);
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
		err = kvfs_bunmapi(tp, ip, off, rem, 2, &rem);
		CHECK(!err || err == -EOPNOTSUPP);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	}
	return !err;
}

/*
 * The same through the public API (fs/kvfs.h): appends, fsyncs and
 * fdatasyncs, truncates, on one file of the AG held open, then freed.
 */
static void api_rounds(struct worker *w, uint64_t parent)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	static _Thread_local char buf[16384];
	struct kvfs_mount *mp = w->mp;
	struct kvfs_cred cr = { 0 };
	struct kvfs_inode *ip = create_near(mp, parent);
	uint64_t ino = ip->i_ino, size = 0;
	struct kvfs_stat st;

	memset(buf, 'a' + (int)w->agno, sizeof(buf));
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
	for (int r = 0; r < API_ROUNDS; r++) {
		size_t len = 1 + rand_r(&w->seed) % sizeof(buf);

		CHECK_EQ(kvfs_write(mp, ino, buf, len, (off_t)size, 0),
			 (ssize_t)len);
		size += len;
		if (r % 4 == 3)
			CHECK_EQ(kvfs_fsync(mp, ino, r % 8 == 7), 0);
		if (r % 16 == 15) {
			sa.size = size = size / 3;
			CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
		}
	}
	sa.size = 0;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, &st), 0);
	kvfs_inode_close(mp, ino);
	CHECK_EQ(st.blocks, 0);
	free_ino(mp, ip);
	kvfs_iput(ip);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct kvfs_mount *mp = w->mp;
	uint64_t parent = parent_in(&mp->g, w->agno);
	struct kvfs_inode *live[LIVE] = { NULL };

	kvfs_perag_thread_stats(&w->st, true);
	for (int r = 0; r < ROUNDS; r++) {
		int slot = rand_r(&w->seed) % LIVE;
		struct kvfs_inode *ip = live[slot];
		uint64_t len = 1 + rand_r(&w->seed) % 24;
		bool full;

		if (!ip) {
			ip = live[slot] = create_near(mp, parent);
			CHECK_EQ(kvfs_ino_to_agno(&mp->g, ip->i_ino), w->agno);
		}
		/* append, punch a block of it, sometimes truncate and free */
		full = !map_range(mp, ip, w->agno, ip->i_size / mp->g.blocksize,
				  len);
		if (!full) {
			w->extents += (unsigned)len;
			unmap_range(mp, ip,
				    ip->i_size / mp->g.blocksize - len / 2 - 1,
				    1);
		}
		w->full += full;
		if (full || rand_r(&w->seed) % 3 == 0) {
			CHECK(unmap_range(mp, ip, 0,
					  ip->i_size / mp->g.blocksize));
			CHECK_EQ(ip->i_nblocks, 0);
			free_ino(mp, ip);
			kvfs_iput(ip);
			live[slot] = NULL;
		}
	}
	for (int i = 0; i < LIVE; i++) {
		if (!live[i])
			continue;
		CHECK(unmap_range(mp, live[i], 0,
				  live[i]->i_size / mp->g.blocksize));
		free_ino(mp, live[i]);
		kvfs_iput(live[i]);
	}
	api_rounds(w, parent);
	kvfs_perag_thread_stats(&w->st, false);
	return NULL;
}

/*
 * Give every AG an inode chunk: allocate near a parent in AG agno until an
 * inode lands there (a new chunk in the parent's AG comes before another
 * AG's free inode, fs/inode/ialloc.h: the first), then free everything
 * allocated but that inode, pins[agno]: a chunk goes with its last inode,
 * and the threads' frees would otherwise free it (AG 0's mkfs chunk holds
 * the root).
 */
static void setup_chunks(struct kvfs_mount *mp, struct kvfs_inode **pins)
{
	static struct kvfs_inode *tmp[NAG * KVFS_INODES_PER_CHUNK];
	unsigned n = 0;

	for (uint32_t agno = 1; agno < NAG; agno++) {
		struct kvfs_inode *ip;

		do {
			CHECK(n < NAG * KVFS_INODES_PER_CHUNK);
			ip = tmp[n++] =
				create_near(mp, parent_in(&mp->g, agno));
		} while (kvfs_ino_to_agno(&mp->g, ip->i_ino) != agno);
		pins[agno] = ip;
		n--;
	}
	while (n--) {
		free_ino(mp, tmp[n]);
		kvfs_iput(tmp[n]);
	}
	/*
	 * The in-core counts of every AG loaded (AG 0's mkfs chunk's too):
	 * its inode header read once in a transaction (statfs reads none)
	 */
	for (uint32_t agno = 0; agno < NAG; agno++) {
		struct kvfs_trans *tp;
		struct kv_buf *bp;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
		CHECK_EQ(kvfs_ialloc_read_agi(tp, agno, &bp), 0);
		kvfs_trans_cancel(tp);
		CHECK(mp->pag[agno].ifree >= LIVE);
	}
}

int main(void)
{
	struct kvfs_mkfs_opts o = { .size = 128 << 20,
				    .agcount = NAG,
				    .force = true };
	uint64_t acq0[NAG], con0[NAG];
	struct worker w[NAG];
	pthread_t th[NAG];
	struct kvfs_inode *pins[NAG] = { NULL };
	struct kvfs_mount *mp;
	struct kvfs_geom g;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("aglocks");
	o.target = path;
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(g.agcount, NAG);
	mp = mount_fs(true);
	setup_chunks(mp, pins);
	for (uint32_t agno = 0; agno < NAG; agno++) {
		acq0[agno] = atomic_load(&mp->pag[agno].lock_acquired);
		con0[agno] = atomic_load(&mp->pag[agno].lock_contended);
		w[agno] = (struct worker){ .mp = mp,
					   .agno = agno,
					   .seed = 7 + agno };
		CHECK_EQ(pthread_create(&th[agno], NULL, work, &w[agno]), 0);
	}
	for (uint32_t agno = 0; agno < NAG; agno++)
		CHECK_EQ(pthread_join(th[agno], NULL), 0);
	for (uint32_t agno = 0; agno < NAG; agno++) {
		uint64_t acq = atomic_load(&mp->pag[agno].lock_acquired) -
			       acq0[agno],
			 con = atomic_load(&mp->pag[agno].lock_contended) -
			       con0[agno];

		printf("ag locks: AG %u: %llu acquisitions, %llu contended; "
		       "its thread: %llu, %llu contended, mask %#llx\n",
		       agno, (unsigned long long)acq, (unsigned long long)con,
		       (unsigned long long)w[agno].st.acquired,
		       (unsigned long long)w[agno].st.contended,
		       (unsigned long long)w[agno].st.acquired_mask);
		CHECK_EQ(w[agno].st.acquired_mask, 1ull << agno);
		CHECK_EQ(w[agno].st.contended_mask & ~(1ull << agno), 0);
		CHECK(w[agno].st.acquired >= ROUNDS);
		/* nobody else took it, so it never had to wait */
		CHECK_EQ(acq, w[agno].st.acquired);
		CHECK_EQ(con, 0);
		CHECK(w[agno].extents >= ROUNDS);
		printf("ag locks: AG %u: %u blocks mapped, %u changes refused by a full "
		       "fork\n",
		       agno, w[agno].extents, w[agno].full);
	}
	for (uint32_t agno = 1; agno < NAG; agno++) {
		free_ino(mp, pins[agno]);
		kvfs_iput(pins[agno]);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("ag locks: ok\n");
	return 0;
}
