// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrent lookups with reclaim running: reader threads read random
 * blocks (checking every byte they get) from a working set larger than the
 * cache's memory limit, one thread calls the shrinker's scan in a loop, and
 * one allocates under a tiny budget so that kvalloc itself runs the
 * shrinker.  Then a thundering herd: every thread asks for the same
 * uncached blocks at once, and exactly one read per block reaches the
 * device.  Last, the buffer lock's exclusion: threads add to a counter in
 * one buffer under its lock, a lost update or a lost wake-up fails; a
 * thread waiting for a held lock sleeps, is counted and is woken.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "tests/buf/buf_util.h"

#define BS 4096u
#define NBLK 1024u
#define READERS 3
#define ROUNDS 20000

static struct kv_dev *dev;
static struct kv_bcache *bc;
static atomic_int readers_left;
static atomic_ulong lookups, nomem;

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u + 1;

	for (unsigned i = 0; i < ROUNDS; i++) {
		struct kv_buf *bp;
		uint64_t b;
		int err;

		seed = seed * 1103515245u + 12345u;
		/* a hot quarter and a cold rest */
		b = (seed >> 8) % (seed & 1 ? NBLK / 4 : NBLK);
		err = kv_buf_read(bc, b, 1, &tb_ops, &bp);
		if (err == -ENOMEM) {
			/* the hog may hold the whole budget for a moment */
			atomic_fetch_add(&nomem, 1);
			sched_yield();
			continue;
		}
		CHECK_EQ(err, 0);
		CHECK_EQ(bp->b_blkno, b);
		CHECK(tb_payload_ok(bp->b_addr, BS, b, 9));
		if (i % 64 == 0) {
			/* hold one across a reclaim pass of the others */
			kv_buf_lock(bp);
			sched_yield();
			CHECK(tb_payload_ok(bp->b_addr, BS, b, 9));
			kv_buf_unlock(bp);
		}
		kv_buf_rele(bp);
		atomic_fetch_add(&lookups, 1);
	}
	atomic_fetch_sub(&readers_left, 1);
	return NULL;
}

static void *shrinker_thread(void *arg)
{
	size_t freed = 0;

	(void)arg;
	while (atomic_load(&readers_left) > 0) {
		freed += kv_bcache_shrink(bc, 64);
		sched_yield();
	}
	CHECK(freed > 0);
	return NULL;
}

/*
 * Fill the whole budget with big allocations, over and over, so that
 * kvalloc itself must run the cache's shrinker.
 */
#define HOG_MAX 48
static void *hog_thread(void *arg)
{
	void *p[HOG_MAX];
	unsigned n = 0;

	(void)arg;
	while (atomic_load(&readers_left) > 0) {
		void *q = kvmalloc(256u << 10, KV_NOWARN);

		if (q) {
			memset(q, 0x5a, 256u << 10);
			p[n++] = q;
		}
		if (!q || n == HOG_MAX) {
			while (n)
				kvfree(p[--n]);
			sched_yield();
		}
	}
	while (n)
		kvfree(p[--n]);
	return NULL;
}

#define HERD 4
static pthread_barrier_t herd_barrier;

static void *herd(void *arg)
{
	(void)arg;
	for (uint64_t b = 0; b < 64; b++) {
		struct kv_buf *bp;

		pthread_barrier_wait(&herd_barrier);
		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		CHECK(tb_payload_ok(bp->b_addr, BS, b, 9));
		kv_buf_rele(bp);
	}
	return NULL;
}

#define LOCKERS 4
#define LOCK_ROUNDS 20000
static struct kv_buf *locked_bp;

static void *locker(void *arg)
{
	volatile uint64_t *ctr = locked_bp->b_addr;

	(void)arg;
	pthread_barrier_wait(&herd_barrier);
	for (unsigned i = 0; i < LOCK_ROUNDS; i++) {
		uint64_t v;

		if (i % 2)
			kv_buf_lock(locked_bp);
		else
			while (!kv_buf_trylock(locked_bp))
				;
		/* read, wait, write: another holder would lose an update */
		v = *ctr;
		if (i % 128 == 0)
			sched_yield();
		*ctr = v + 1;
		kv_buf_unlock(locked_bp);
	}
	return NULL;
}

static void test_lock_exclusion(void)
{
	pthread_t h[LOCKERS];

	CHECK_EQ(kv_buf_get(bc, 0, 1, &tb_ops, &locked_bp), 0);
	memset(locked_bp->b_addr, 0, sizeof(uint64_t));
	CHECK(pthread_barrier_init(&herd_barrier, NULL, LOCKERS) == 0);
	for (unsigned t = 0; t < LOCKERS; t++)
		CHECK(pthread_create(&h[t], NULL, locker, NULL) == 0);
	for (unsigned t = 0; t < LOCKERS; t++)
		CHECK(pthread_join(h[t], NULL) == 0);
	pthread_barrier_destroy(&herd_barrier);
	CHECK(kv_buf_trylock(locked_bp));
	CHECK_EQ(*(uint64_t *)locked_bp->b_addr,
		 (uint64_t)LOCKERS * LOCK_ROUNDS);
	kv_buf_unlock(locked_bp);
}

static void *lock_waiter(void *arg)
{
	(void)arg;
	kv_buf_lock(locked_bp);
	(*(uint64_t *)locked_bp->b_addr)++;
	kv_buf_unlock(locked_bp);
	return NULL;
}

/*
 * A lock waited for is counted as contended, its word says a waiter
 * sleeps (2), and the unlock wakes it (else the join never returns); both
 * acquisitions are counted, as every kv lock's are.
 */
static void test_lock_wait(void)
{
	int class = kv_lock_class_register("kvfs_buf");
	uint64_t contended = kv_lock_class_contended(class);
	uint64_t acquired = kv_lock_class_acquired(class);
	uint64_t before;
	pthread_t h;

	kv_buf_lock(locked_bp);
	before = *(uint64_t *)locked_bp->b_addr;
	CHECK(pthread_create(&h, NULL, lock_waiter, NULL) == 0);
	while (atomic_load(&locked_bp->b_lock) != 2)
		sched_yield();
	CHECK_EQ(*(uint64_t *)locked_bp->b_addr, before);
	kv_buf_unlock(locked_bp);
	CHECK(pthread_join(h, NULL) == 0);
	CHECK_EQ(*(uint64_t *)locked_bp->b_addr, before + 1);
	CHECK(kv_lock_class_contended(class) > contended);
	CHECK(kv_lock_class_acquired(class) >= acquired + 2);
	CHECK(kv_buf_trylock(locked_bp));
	CHECK(kv_lock_class_acquired(class) >= acquired + 3);
	kv_buf_unlock(locked_bp);
	kv_buf_rele(locked_bp);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 12u << 20 };
	struct kv_bcache_stats st;
	struct kv_stats ks;
	pthread_t th[READERS + 2];
	char path[256];

	CHECK_EQ(kv_init(&cfg), 0);
	tb_make_image(path, sizeof(path), (uint64_t)NBLK * BS);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	for (uint64_t b = 0; b < NBLK; b++)
		tb_put_raw(dev, BS, b, 1, 9);
	/* the limit holds about half the working set */
	CHECK_EQ(kv_bcache_create(dev, BS, NBLK / 2 * BS, &bc), 0);

	atomic_store(&readers_left, READERS);
	for (unsigned t = 0; t < READERS; t++)
		CHECK(pthread_create(&th[t], NULL, reader,
				     (void *)(uintptr_t)t) == 0);
	CHECK(pthread_create(&th[READERS], NULL, shrinker_thread, NULL) == 0);
	CHECK(pthread_create(&th[READERS + 1], NULL, hog_thread, NULL) == 0);
	for (unsigned t = 0; t < READERS + 2; t++)
		CHECK(pthread_join(th[t], NULL) == 0);

	kv_bcache_get_stats(bc, &st);
	kv_stats(&ks);
	CHECK_EQ(st.hits + st.misses, atomic_load(&lookups));
	CHECK_EQ(st.misses, st.reads);
	CHECK(st.hits > 0);
	CHECK(st.reclaimed > 0);
	CHECK(st.bytes_cached <= NBLK / 2 * BS + READERS * BS);
	CHECK_EQ(st.nr_cached * BS, st.bytes_cached);
	CHECK(ks.reclaim_passes > 0);
	CHECK_EQ(st.verify_failures, 0);
	printf("lookups %lu (%lu ENOMEM retries) hits %llu misses %llu "
	       "reclaimed %llu kv reclaim passes %llu\n",
	       atomic_load(&lookups), atomic_load(&nomem),
	       (unsigned long long)st.hits, (unsigned long long)st.misses,
	       (unsigned long long)st.reclaimed,
	       (unsigned long long)ks.reclaim_passes);

	/* thundering herd on uncached blocks: one device read each */
	kv_bcache_shrink(bc, 2 * NBLK);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.nr_cached, 0);
	{
		uint64_t reads0 = st.reads;
		pthread_t h[HERD];

		CHECK(pthread_barrier_init(&herd_barrier, NULL, HERD) == 0);
		for (unsigned t = 0; t < HERD; t++)
			CHECK(pthread_create(&h[t], NULL, herd, NULL) == 0);
		for (unsigned t = 0; t < HERD; t++)
			CHECK(pthread_join(h[t], NULL) == 0);
		pthread_barrier_destroy(&herd_barrier);
		kv_bcache_get_stats(bc, &st);
		CHECK_EQ(st.reads - reads0, 64);
		CHECK_EQ(st.nr_cached, 64);
	}

	test_lock_exclusion();
	test_lock_wait();

	kv_bcache_destroy(bc);
	kv_dev_close(dev);
	unlink(path);
	kv_fini();
	return 0;
}
