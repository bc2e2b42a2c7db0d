// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer item under memory pressure: more metadata than the kvalloc
 * budget holds, changed by transactions from two threads.  Items of
 * written-back buffers must be freed so the cache can reclaim the
 * buffers, every allocation made inside a transaction must stay out of
 * the FS shrinker (which asserts it), and after a clean close every block
 * must hold its last committed change.  Run twice: with a log small
 * against memory (log space drives write-back) and a log large against it
 * (only reclaim can make the AIL write back: without that, a NOFAIL
 * allocation in a push waited forever).
 */
#include <pthread.h>

#include "tests/bufitem/bi.h"

#define BLK 4096
#define NB 8192 /* 32 MiB of blocks: more than the budget leaves */
#define NTHREADS 2
#define NTX 6000
#define OFF 256

static struct bi t;
static atomic_uint enomem_retries;
/* the last value written to each block, under its buffer lock */
static uint8_t model[NB];

static unsigned rnd(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) & 0xffffff;
}

static void *worker_fn(void *arg)
{
	unsigned s = (unsigned)(uintptr_t)arg * 7919 + 1;

	for (unsigned n = 0; n < NTX; n++) {
		unsigned b = rnd(&s) % NB;
		uint8_t v = (uint8_t)(1 + rnd(&s) % 255);
		struct kvj_trans *tp;
		struct kv_buf *bp;

		int err;

		CHECK(kvj_trans_alloc(t.log, 2 * BLK, 0, &tp) == 0);
		while ((err = kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, b), 1,
						  &bi_buf_ops, &bp)) ==
		       -ENOMEM) {
			/*
			 * Out of memory before changing anything: a clean
			 * cancel (no shutdown), and the operation is tried
			 * again once reclaim had the AIL write back.
			 */
			kvj_trans_cancel(tp);
			CHECK(!kvj_log_is_shutdown(t.log));
			atomic_fetch_add(&enomem_retries, 1);
			usleep(1000);
			CHECK(kvj_trans_alloc(t.log, 2 * BLK, 0, &tp) == 0);
		}
		CHECK(err == 0);
		memset((uint8_t *)bp->b_addr + OFF, v, 64);
		kvfs_trans_log_buf(tp, bp, OFF, OFF + 63);
		model[b] = v;
		CHECK(kvj_trans_commit(tp, NULL) == 0);
		if (n % 500 == 499)
			CHECK(kvj_log_force(t.log, 0) == 0);
	}
	return NULL;
}

static void run(uint64_t log_bytes, size_t budget)
{
	struct kvj_log_params p = { .push_interval_ms = 5 };
	struct kv_bcache_stats st;
	struct kvj_log_stats ls;
	pthread_t th[NTHREADS];
	struct kv_buf *bp;
	size_t peak = 0;
	unsigned i;

	memset(model, 0, sizeof(model));
	bi_init(budget);
	bi_create(&t, "pressure", BLK, log_bytes, NB);
	bi_dev_open(&t);
	bi_format_blocks(&t, NB);
	CHECK(bi_log_open(&t, &p) == 0);
	for (i = 0; i < NTHREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker_fn,
				     (void *)(uintptr_t)i) == 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	kvj_log_get_stats(t.log, &ls);
	CHECK_EQ(ls.commits, NTHREADS * NTX);
	peak = kvfs_bli_log_nr_items(t.bl);
	/* the cache reclaimed buffers whose items had been freed */
	kv_bcache_get_stats(t.bc, &st);
	CHECK(st.reclaimed > 0);
	/* once everything is written back, no item is needed any more */
	CHECK(kvj_log_drain(t.log) == 0);
	kvfs_bli_log_sweep(t.bl);
	CHECK_EQ(kvfs_bli_log_nr_items(t.bl), 0);
	bi_log_close(&t);

	/* everything read back through a fresh cache, outside transactions */
	kv_bcache_destroy(t.bc);
	CHECK(kv_bcache_create(t.dev, BLK, 0, &t.bc) == 0);
	for (i = 0; i < NB; i++) {
		const uint8_t *q;

		CHECK(kv_buf_read(t.bc, bi_blk(&t, i), 1, &bi_buf_ops, &bp) ==
		      0);
		q = bp->b_addr;
		for (unsigned j = OFF; j < OFF + 64; j++)
			CHECK(q[j] == model[i]);
		kv_buf_rele(bp);
	}
	kv_bcache_get_stats(t.bc, &st);
	CHECK(st.reclaimed > 0);
	/* reclaim outside a transaction may call the FS shrinker */
	CHECK(atomic_load(&bi_fs_scans) > 0);
	bi_dev_close(&t);
	bi_remove(&t);
	bi_fini();
	printf("bufitem pressure: log %llu KiB, budget %zu MiB: %u blocks of "
	       "%u bytes, %llu transactions (%u retried after ENOMEM), %llu "
	       "buffers reclaimed, %zu items at the end, ok\n",
	       (unsigned long long)log_bytes >> 10, budget >> 20, NB, BLK,
	       (unsigned long long)ls.commits, atomic_load(&enomem_retries),
	       (unsigned long long)st.reclaimed, peak);
	atomic_store(&enomem_retries, 0);
}

int main(void)
{
	run(128 * 1024, 32 << 20);
	run(1 << 20, 24 << 20);
	return 0;
}
