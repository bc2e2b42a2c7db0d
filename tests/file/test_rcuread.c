// SPDX-License-Identifier: GPL-2.0
/*
 * The lock-free read (fs/data/file.c read_rcu()) against the frees that
 * could hand it another file's bytes: every read sleeps between reading
 * the map and reading the data (errortag read_rcu_delay), inside its RCU
 * read-side section, while A, the file it reads, is truncated and B is
 * written over the blocks A freed.  A only ever holds 0x11 (or nothing), B
 * only 0xee: a reader of A that returns 0xee read with a stale map.
 *
 * Two guards keep that from happening: the read counts only if A's
 * i_lock_seq did not move and its in-core inode is not dying by then
 * (read_rcu()), and the freed blocks are busy until the free's checkpoint
 * is durable, whose push waits for a grace period, so for the reader (the
 * cycles below show it: their syncs end with the readers' windows).  The
 * test holds the whole to its promise whichever guard a change weakens.
 *
 * Part 1, truncate and reuse: A truncated to 0, B written over the freed
 * blocks.  Part 2, reclaim and a successor: A's in-core inode reclaimed
 * while a reader sits in its window, and a second in-core inode of A, read
 * afresh, truncates A (the first one's seqcount never moves: only its
 * dying mark tells).  Both parts check that reads were made the lock-free
 * way (the tag's hits), so that the referenced path alone cannot pass.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define BLOCKS 64
#define READERS 2
#define CYCLES 6 /* each part */
#define DELAY_US 50000 /* a lock-free read's window */

/* in memory: each cycle syncs three times */
static char path[] = "/dev/shm/kvfs-test-rcuread-XXXXXX";
static struct kvfs_mount *mp;
static uint64_t a, b;
static uint32_t bs;
static atomic_bool done;
static atomic_uint_fast64_t nreads;

static void *reader(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	uint8_t *buf = malloc(bs);

	CHECK(buf);
	while (!atomic_load(&done)) {
		uint64_t blk;
		ssize_t n;

		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		blk = s % BLOCKS;
		n = kvfs_read(mp, a, buf, bs, (off_t)(blk * bs));
		CHECK(n >= 0 && n <= (ssize_t)bs);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != 0x11 && buf[i] != 0) {
				fprintf(stderr,
					"rcuread: block %llu byte %zd: 0x%02x\n",
					(unsigned long long)blk, i, buf[i]);
				CHECK(0);
			}
		}
		atomic_fetch_add(&nreads, 1);
	}
	free(buf);
	return NULL;
}

static void fill(uint64_t ino, uint8_t c, uint8_t *buf)
{
	memset(buf, c, (size_t)BLOCKS * bs);
	CHECK_EQ(kvfs_write(mp, ino, buf, (size_t)BLOCKS * bs, 0, 0),
		 (ssize_t)BLOCKS * bs);
}

static void set_size(uint64_t ino, uint64_t size)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };
	struct kvfs_cred cr = { 0 };

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
}

static bool any(struct kvfs_inode *ip)
{
	(void)ip;
	return true;
}

static bool a_cached(void)
{
	return kvfs_icache_peek(mp, a, any) != NULL;
}

/* Reclaim A's in-core inode (it is clean): once no read holds it. */
static void *shrinker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100 && a_cached(); i++)
		kvfs_icache_shrink(mp->ic, 1u << 20);
	return NULL;
}

/*
 * One cycle: A whole, a reader in its window over A's map, then (part 2:
 * A's in-core inode reclaimed) A's blocks freed and B written over them,
 * all before the reader reads.
 */
static void cycle(bool reclaim, uint8_t *buf)
{
	uint64_t h;
	pthread_t sh;

	/*
	 * Both empty and nothing busy: A and then B take the lowest free
	 * blocks near their inodes, the same ones
	 */
	set_size(b, 0);
	CHECK_EQ(kvfs_sync(mp), 0);
	fill(a, 0x11, buf);
	CHECK_EQ(kvfs_sync(mp), 0);
	h = kvj_errtag_hits(KVJ_ERRTAG_READ_RCU_DELAY);
	while (kvj_errtag_hits(KVJ_ERRTAG_READ_RCU_DELAY) == h)
		usleep(50);
	if (reclaim) {
		CHECK_EQ(pthread_create(&sh, NULL, shrinker, NULL), 0);
		/* unhashed: its grace period waits for the reader, we do not */
		for (int i = 0; i < 2000 && a_cached(); i++)
			usleep(10);
	}
	set_size(a, 0);
	/* A's freed blocks no longer busy: B may have them */
	CHECK_EQ(kvfs_sync(mp), 0);
	fill(b, 0xee, buf);
	if (reclaim)
		CHECK_EQ(pthread_join(sh, NULL), 0);
}

static void run(bool reclaim)
{
	pthread_t t[READERS];
	uint8_t *buf = malloc((size_t)BLOCKS * bs);
	uint64_t hits0 = kvj_errtag_hits(KVJ_ERRTAG_READ_RCU_DELAY);

	CHECK(buf);
	atomic_store(&done, false);
	atomic_store(&nreads, 0);
	for (uintptr_t i = 0; i < READERS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, reader, (void *)i), 0);
	for (int c = 0; c < CYCLES; c++)
		cycle(reclaim, buf);
	atomic_store(&done, true);
	for (int i = 0; i < READERS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	/* reads were made the lock-free way, with the window open */
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_READ_RCU_DELAY) - hits0 >= CYCLES);
	printf("rcuread: %s: %d cycles, %llu reads, %llu lock-free\n",
	       reclaim ? "reclaim" : "truncate", CYCLES,
	       (unsigned long long)atomic_load(&nreads),
	       (unsigned long long)(kvj_errtag_hits(KVJ_ERRTAG_READ_RCU_DELAY) -
				    hits0));
	free(buf);
}

int main(void)
{
	struct kvfs_open_opts o = { .atime = KVFS_ATIME_NOATIME };
	struct kvfs_open_info info;
	struct kvfs_cred cr = { 0 };
	struct kvfs_geom g;
	struct kvfs_stat st;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 64 << 20, 0, &g);
	bs = g.blocksize;
	/* noatime: no read waits for an atime update, all may go lock-free */
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	/* linked files (an unlinked open one is never reclaimed) */
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "a", 0100600, 0, 0, &cr,
			     &st, NULL),
		 0);
	a = st.ino;
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "b", 0100600, 0, 0, &cr,
			     &st, NULL),
		 0);
	b = st.ino;
	CHECK_EQ(kvj_errtag_set_value(KVJ_ERRTAG_READ_RCU_DELAY, DELAY_US), 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_READ_RCU_DELAY, 0, 1, 0), 0);
	run(false);
	run(true);
	kvj_errtag_clear_all();
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
