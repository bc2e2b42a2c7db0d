// SPDX-License-Identifier: GPL-2.0
/*
 * The log under a tight kvalloc budget with a long push interval (10 min).
 * Each test block carries a cache of CACHE_BYTES (what its buffer is to a
 * buffer item), allocated by the transaction that dirties the block, in
 * its NOFS scope and without NOFAIL, so it may fail; a shrinker (allowed
 * in NOFS) frees the caches of clean blocks: unpinned and written back by
 * the AIL.  The item says its cache is what it pins (kvj_item.pin_bytes).
 *
 * relief:   the CIL's log-space and memory thresholds out of reach, so no
 *           checkpoint comes unless someone asks.  The caches of the NB
 *           blocks hold twice the budget: from about the budget's worth of
 *           blocks on, each allocation finds the budget full of pinned
 *           caches and succeeds only because the allocator's pressure hook
 *           has the log push and the AIL write back (journal/relief.c).
 *           Without it the allocation fails (-ENOMEM, as the filesystem's
 *           NOFS allocations did in tests/crash crash_memory at commit=1).
 * mem_push: the memory threshold at a quarter of the budget, blocks
 *           pinning half of it committed, no allocation short of memory:
 *           a checkpoint is written without a force, a timer or a relief
 *           (waited for up to 10 s, a hang guard, not a timing).
 */
#include <signal.h>
#include <time.h>

#include "tests/journal/jt.h"

#define NB 64
#define CACHE_BYTES (256u << 10)
#define BUDGET (8u << 20)
#define ROUNDS 3

static struct jt t;
static void *cache[NB];

static size_t cache_count(void *priv)
{
	size_t n = 0;

	(void)priv;
	for (unsigned i = 0; i < NB; i++)
		n += __atomic_load_n(&cache[i], __ATOMIC_RELAXED) != NULL;
	return n;
}

/* Free the caches of clean blocks; never waits for a block's lock. */
static size_t cache_scan(void *priv, size_t nr)
{
	size_t freed = 0;

	(void)priv;
	for (unsigned i = 0; i < NB && freed < nr; i++) {
		struct tblk *b = &t.blk[i];

		if (pthread_mutex_trylock(&b->lock))
			continue;
		if (cache[i] && !kvj_item_pinned(&b->item) && !b->dirty_map) {
			kvfree(cache[i]);
			__atomic_store_n(&cache[i], NULL, __ATOMIC_RELAXED);
			b->item.pin_bytes = 0;
			freed++;
		}
		pthread_mutex_unlock(&b->lock);
	}
	return freed;
}

static struct kv_shrinker cache_shrinker = {
	.name = "test_cache",
	.count = cache_count,
	.scan = cache_scan,
};

static void timed_out(int sig)
{
	static const char msg[] = "test_journal_relief: timed out: hung\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/* One transaction dirtying block i, whose cache it allocates if gone. */
static void tx_block(unsigned i, uint8_t val)
{
	struct tblk *b = &t.blk[i];
	struct kvj_trans *tp;

	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	pthread_mutex_lock(&b->lock);
	if (!cache[i]) {
		/* in the transaction's NOFS scope, may fail */
		void *c = kvmalloc(CACHE_BYTES, 0);

		if (!c)
			fprintf(stderr,
				"test_journal_relief: block %u: the cache's "
				"allocation failed\n",
				i);
		CHECK(c != NULL);
		memset(c, val, CACHE_BYTES);
		__atomic_store_n(&cache[i], c, __ATOMIC_RELAXED);
		b->item.pin_bytes = CACHE_BYTES;
	}
	jt_modify(tp, b, 64, 64, val, false);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
}

static void caches_free(void)
{
	for (unsigned i = 0; i < NB; i++) {
		kvfree(cache[i]);
		cache[i] = NULL;
	}
}

static void test_relief(void)
{
	struct kvj_log_params p = { .push_interval_ms = 600 * 1000,
				    .push_fraction = 1,
				    .push_mem_fraction = 1 };
	struct kvj_log_stats st;
	unsigned r, i;

	CHECK(jt_log_open_p(&t, &p) == 0);
	for (r = 0; r < ROUNDS; r++)
		for (i = 0; i < NB; i++)
			tx_block(i, (uint8_t)(r * NB + i));
	kvj_log_get_stats(t.log, &st);
	fprintf(stderr,
		"test_journal_relief: relief: %u transactions, %llu "
		"checkpoints, %llu relief calls (%llu waited), %llu memory "
		"pushes\n",
		ROUNDS * NB, (unsigned long long)st.checkpoints,
		(unsigned long long)st.relief_calls,
		(unsigned long long)st.relief_waits,
		(unsigned long long)st.mem_pushes);
	/* the caches held more than the budget: only relief pushed */
	CHECK(st.relief_waits > 0);
	CHECK(st.checkpoints > 0);
	CHECK_EQ(st.mem_pushes, 0);
	CHECK_EQ(st.force_writes, 0);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	caches_free();
	for (i = 0; i < NB; i++)
		jt_check_range(&t, i, 64, (uint8_t)((ROUNDS - 1) * NB + i));
}

static void test_mem_push(void)
{
	struct kvj_log_params p = { .push_interval_ms = 600 * 1000,
				    .push_fraction = 1,
				    .push_mem_fraction = 4 };
	struct kvj_log_stats st;
	unsigned i, waited;

	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < NB / 4; i++)
		tx_block(i, (uint8_t)(0x80 + i));
	for (waited = 0; waited < 10000; waited += 10) {
		kvj_log_get_stats(t.log, &st);
		if (st.checkpoints)
			break;
		usleep(10 * 1000);
	}
	fprintf(stderr,
		"test_journal_relief: mem_push: %llu checkpoints, %llu "
		"memory pushes, %llu relief calls\n",
		(unsigned long long)st.checkpoints,
		(unsigned long long)st.mem_pushes,
		(unsigned long long)st.relief_calls);
	CHECK(st.checkpoints > 0);
	CHECK(st.mem_pushes > 0);
	CHECK_EQ(st.relief_calls, 0);
	CHECK_EQ(st.force_writes, 0);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	caches_free();
}

int main(void)
{
	signal(SIGALRM, timed_out);
	alarm(60);
	jt_init(BUDGET);
	CHECK(kv_register_shrinker(&cache_shrinker) == 0);
	jt_create(&t, "relief", NB, 1024 * 1024);
	jt_dev_open(&t);
	test_relief();
	test_mem_push();
	jt_dev_close(&t);
	jt_remove(&t);
	kv_unregister_shrinker(&cache_shrinker);
	jt_fini();
	alarm(0);
	return 0;
}
