// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer cache single-threaded: write-back then re-read from a fresh
 * cache, LSN stamping, read verification failures, hits and misses, length
 * mismatches, pins, dirty and stale buffers versus reclaim and flush, the
 * memory limit, the index sized by the buffers cached, buffers kept
 * by lock-free readers (the free epoch, kv_buf_peek_epoch()), and the
 * buffer lock's rank checked in debug builds.
 */
#include <malloc.h>
#include <signal.h>
#include <urcu.h>

#include "alloc/kvlock.h"
#include "tests/alloc/child.h"
#include "tests/buf/buf_util.h"

#define BS 4096u
#define NBLK 256u

static char path[256];
static struct kv_dev *dev;

static struct kv_bcache *new_cache(size_t limit)
{
	struct kv_bcache *bc;

	CHECK_EQ(kv_bcache_create(dev, BS, limit, &bc), 0);
	return bc;
}

/* Write blocks 10..29 through the cache, then read them from a new one. */
static void test_writeback_reread(void)
{
	struct kv_bcache *bc = new_cache(0);
	struct kv_bcache_stats st;
	struct kv_buf *bp;
	uint8_t *copy = malloc(BS * 20);

	CHECK(copy);
	for (uint64_t b = 10; b < 30; b++) {
		CHECK_EQ(kv_buf_get(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_lock(bp);
		tb_fill(bp->b_addr, BS, b, 1);
		bp->b_lsn = 1000 + b;
		kv_buf_mark_dirty(bp);
		CHECK(kv_buf_is_dirty(bp));
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	/* half written one by one (the AIL's way), half by the flush */
	for (uint64_t b = 10; b < 20; b++) {
		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_lock(bp);
		CHECK_EQ(kv_buf_write(bp), 0);
		CHECK(!kv_buf_is_dirty(bp));
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	CHECK_EQ(kv_bcache_flush(bc), 0);
	for (uint64_t b = 10; b < 30; b++) {
		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		memcpy(copy + (b - 10) * BS, bp->b_addr, BS);
		kv_buf_rele(bp);
	}
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.writes, 20);
	CHECK_EQ(st.misses, 20);
	CHECK_EQ(st.reads, 0);
	CHECK_EQ(st.hits, 30);
	CHECK_EQ(st.nr_cached, 20);
	CHECK_EQ(st.bytes_cached, 20 * BS);
	kv_bcache_destroy(bc);

	bc = new_cache(0);
	for (uint64_t b = 10; b < 30; b++) {
		struct kvfs_blk_hdr *h;

		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		h = bp->b_addr;
		CHECK(memcmp(bp->b_addr, copy + (b - 10) * BS, BS) == 0);
		CHECK(tb_payload_ok(bp->b_addr, BS, b, 1));
		CHECK_EQ(kv_le64_to_cpu(h->lsn), 1000 + b);
		kv_buf_rele(bp);
	}
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.reads, 20);
	CHECK_EQ(st.misses, 20);
	CHECK_EQ(st.hits, 0);
	kv_bcache_destroy(bc);
	free(copy);
}

static void test_verify_failures(void)
{
	struct kv_bcache *bc = new_cache(0);
	struct kv_bcache_stats st;
	struct kv_buf *bp = NULL;
	uint8_t blk[BS];
	struct kvfs_blk_hdr *h = (void *)blk;

	/* 40: good; 41: bad crc; 42: wrong magic; 43: holds block 40 */
	tb_put_raw(dev, BS, 40, 1, 3);
	tb_put_raw(dev, BS, 41, 1, 3);
	CHECK_EQ(kv_dev_pread(dev, blk, BS, 41 * BS), 0);
	blk[100] ^= 1;
	CHECK_EQ(kv_dev_pwrite(dev, blk, BS, 41 * BS), 0);
	tb_fill(blk, BS, 42, 3);
	h->magic = kv_cpu_to_le32(0x12345678);
	h->crc = kv_cpu_to_le32(kv_crc32c_block(blk, BS, KVFS_BLK_CRC_OFF));
	CHECK_EQ(kv_dev_pwrite(dev, blk, BS, 42 * BS), 0);
	CHECK_EQ(kv_dev_pread(dev, blk, BS, 40 * BS), 0);
	CHECK_EQ(kv_dev_pwrite(dev, blk, BS, 43 * BS), 0);

	CHECK_EQ(kv_buf_read(bc, 40, 1, &tb_ops, &bp), 0);
	kv_buf_rele(bp);
	CHECK_EQ(kv_buf_read(bc, 41, 1, &tb_ops, &bp), -EBADMSG);
	CHECK(strstr(kv_buf_last_error(), "block 41") != NULL);
	CHECK(strstr(kv_buf_last_error(), "test_block") != NULL);
	CHECK(strstr(kv_buf_last_error(), "crc 0x") != NULL);
	CHECK_EQ(kv_buf_read(bc, 42, 1, &tb_ops, &bp), -EUCLEAN);
	CHECK(strstr(kv_buf_last_error(), "block 42") != NULL);
	CHECK(strstr(kv_buf_last_error(), "magic 0x12345678") != NULL);
	CHECK_EQ(kv_buf_read(bc, 43, 1, &tb_ops, &bp), -EUCLEAN);
	CHECK(strstr(kv_buf_last_error(), "block 43") != NULL);
	CHECK(strstr(kv_buf_last_error(), "header says block 40") != NULL);
	/* a failed read is not cached: the next one goes to the device */
	CHECK_EQ(kv_buf_read(bc, 41, 1, &tb_ops, &bp), -EBADMSG);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.reads, 5);
	CHECK_EQ(st.verify_failures, 4);
	/* without ops the bytes are returned as they are */
	CHECK_EQ(kv_buf_read(bc, 41, 1, NULL, &bp), 0);
	/* ... and verified when a reader names the type */
	CHECK_EQ(kv_buf_read(bc, 41, 1, &tb_ops, &bp), -EBADMSG);
	kv_buf_rele(bp);
	/* get retypes a cached block for overwriting, without verifying */
	{
		static const struct kv_buf_ops other = { .name = "other" };
		struct kv_buf *g;

		CHECK_EQ(kv_buf_read(bc, 41, 1, NULL, &g), 0);
		CHECK(g == bp);
		kv_buf_rele(g);
		CHECK_EQ(kv_buf_get(bc, 41, 1, &other, &g), 0);
		CHECK(g == bp && g->b_ops == &other);
		kv_buf_rele(g);
	}
	/* out of the device */
	CHECK_EQ(kv_buf_read(bc, NBLK, 1, &tb_ops, &bp), -EINVAL);
	CHECK(strstr(kv_buf_last_error(), "read") != NULL);

	/* verify_write refuses to write a corrupt buffer */
	CHECK_EQ(kv_buf_read(bc, 40, 1, &tb_ops, &bp), 0);
	kv_buf_lock(bp);
	((struct kvfs_blk_hdr *)bp->b_addr)->magic = kv_cpu_to_le32(0);
	kv_buf_mark_dirty(bp);
	CHECK_EQ(kv_buf_write(bp), -EUCLEAN);
	CHECK(kv_buf_is_dirty(bp));
	kv_buf_stale(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);

	/* the same block asked for with another length */
	CHECK_EQ(kv_buf_read(bc, 40, 1, &tb_ops, &bp), 0);
	kv_buf_rele(bp);
	CHECK_EQ(kv_buf_read(bc, 40, 2, &tb_ops, &bp), -EINVAL);
	CHECK_EQ(kv_buf_read(bc, 40, 0, &tb_ops, &bp), -EINVAL);
	kv_bcache_destroy(bc);
}

static void test_pin_dirty_stale_reclaim(void)
{
	struct kv_bcache *bc = new_cache(0);
	struct kv_bcache_stats st;
	struct kv_buf *held, *pinned, *dirty, *locked, *logged, *bp;

	for (uint64_t b = 50; b < 60; b++)
		tb_put_raw(dev, BS, b, 1, 4);
	for (uint64_t b = 50; b < 60; b++) {
		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_rele(bp);
	}
	CHECK_EQ(kv_buf_read(bc, 50, 1, &tb_ops, &held), 0);
	CHECK_EQ(kv_buf_read(bc, 51, 1, &tb_ops, &pinned), 0);
	kv_buf_lock(pinned);
	kv_buf_mark_dirty(pinned);
	kv_buf_pin(pinned);
	kv_buf_unlock(pinned);
	kv_buf_rele(pinned); /* the pin holds it now */
	CHECK(kv_buf_is_pinned(pinned));
	CHECK_EQ(kv_buf_read(bc, 52, 1, &tb_ops, &dirty), 0);
	kv_buf_lock(dirty);
	kv_buf_mark_dirty(dirty);
	kv_buf_unlock(dirty);
	kv_buf_rele(dirty);
	CHECK_EQ(kv_buf_read(bc, 53, 1, &tb_ops, &locked), 0);
	CHECK(kv_buf_trylock(locked));
	CHECK_EQ(kv_buf_read(bc, 54, 1, &tb_ops, &logged), 0);
	kv_buf_lock(logged);
	logged->b_log_item = &logged;
	kv_buf_unlock(logged);
	kv_buf_rele(logged);

	/* two passes: the first only clears the referenced bits */
	kv_bcache_shrink(bc, 100);
	kv_bcache_shrink(bc, 100);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.nr_cached, 5);
	CHECK_EQ(st.reclaimed, 5);
	logged->b_log_item = NULL;

	/* still cached: hits, no reads */
	for (uint64_t b = 50; b < 55; b++) {
		CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_rele(bp);
	}
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.reads, 10);

	/* a pinned buffer is not written back */
	kv_buf_lock(pinned);
	CHECK_EQ(kv_buf_write(pinned), -EAGAIN);
	kv_buf_unlock(pinned);
	CHECK_EQ(kv_bcache_flush(bc), -EBUSY);
	CHECK(kv_buf_is_dirty(pinned));
	CHECK(!kv_buf_is_dirty(dirty));

	kv_buf_unpin(pinned);
	CHECK(!kv_buf_is_pinned(pinned));
	CHECK_EQ(kv_bcache_flush(bc), 0);
	CHECK(!kv_buf_is_dirty(pinned));
	kv_buf_unlock(locked);
	kv_buf_rele(locked);
	kv_buf_rele(held);
	/* inside a read-side section the shrinker must not wait on itself */
	rcu_read_lock();
	CHECK_EQ(kv_bcache_shrink(bc, 100), 0);
	rcu_read_unlock();
	kv_bcache_shrink(bc, 100);
	kv_bcache_shrink(bc, 100);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.nr_cached, 0);
	CHECK_EQ(st.bytes_cached, 0);
	CHECK_EQ(st.reclaimed, 10);

	/* incore: only what is cached, without I/O */
	CHECK_EQ(kv_buf_incore(bc, 55, 1, &bp), -ENOENT);
	CHECK_EQ(kv_buf_read(bc, 55, 1, &tb_ops, &bp), 0);
	kv_buf_rele(bp);
	CHECK_EQ(kv_buf_incore(bc, 55, 1, &held), 0);
	CHECK(held == bp);
	CHECK_EQ(kv_buf_incore(bc, 55, 4, &held), -EINVAL);
	kv_buf_rele(bp);
	kv_bcache_shrink(bc, 100);
	CHECK_EQ(kv_buf_incore(bc, 55, 1, &bp), -ENOENT);

	/* stale: leaves the index at once, the next read goes to disk */
	CHECK_EQ(kv_buf_read(bc, 55, 1, &tb_ops, &bp), 0);
	kv_buf_lock(bp);
	kv_buf_mark_dirty(bp);
	kv_buf_stale(bp);
	CHECK(!kv_buf_is_dirty(bp));
	kv_buf_unlock(bp);
	CHECK_EQ(kv_buf_read(bc, 55, 1, &tb_ops, &held), 0);
	CHECK(held != bp);
	kv_buf_rele(bp);
	kv_buf_rele(held);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.reads, 13);
	/* stale buffers go without a second chance */
	CHECK_EQ(kv_bcache_shrink(bc, 1), 1);
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.nr_cached, 1);
	kv_bcache_destroy(bc);
}

static void test_mem_limit(void)
{
	struct kv_bcache *bc = new_cache(16 * BS);
	struct kv_bcache_stats st;
	struct kv_buf *bp;

	for (uint64_t b = 100; b < 200; b++)
		tb_put_raw(dev, BS, b, 1, 5);
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t b = 100; b < 200; b++) {
			CHECK_EQ(kv_buf_read(bc, b, 1, &tb_ops, &bp), 0);
			CHECK(tb_payload_ok(bp->b_addr, BS, b, 5));
			kv_buf_rele(bp);
			kv_bcache_get_stats(bc, &st);
			CHECK(st.bytes_cached <= 16 * BS);
		}
	}
	kv_bcache_get_stats(bc, &st);
	CHECK(st.reclaimed >= 200 - 16);
	CHECK_EQ(st.misses, st.reads);
	kv_bcache_destroy(bc);
}

/*
 * The index's buckets (malloc'd by rculfhash) follow the buffers cached,
 * not the limit: sized for a 1 GiB cache from the start, an empty cache
 * took 4 MiB and every lookup a bucket in it.
 */
static void test_index_size(void)
{
	const unsigned n = 3000;
	struct mallinfo2 m0 = mallinfo2(), m1;
	struct kv_bcache_stats st;
	char big[256];
	struct kv_dev *bdev;
	struct kv_bcache *bc;
	struct kv_buf *bp;

	tb_make_image(big, sizeof(big), (uint64_t)n * BS);
	CHECK_EQ(kv_dev_open(big, 0, &bdev), 0);
	CHECK_EQ(kv_bcache_create(bdev, BS, (size_t)1 << 30, &bc), 0);
	for (uint64_t b = 0; b < n; b++) {
		CHECK_EQ(kv_buf_get(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_rele(bp);
	}
	m1 = mallinfo2();
	kv_bcache_get_stats(bc, &st);
	CHECK_EQ(st.nr_cached, n);
	for (uint64_t b = 0; b < n; b++) {
		CHECK_EQ(kv_buf_incore(bc, b, 1, &bp), 0);
		kv_buf_rele(bp);
	}
	/* 16 KiB buckets at most: 16 bytes each, at least one per buffer */
	CHECK((m1.uordblks + m1.hblkhd) - (m0.uordblks + m0.hblkhd) <
	      (size_t)16 * 16384);
	kv_bcache_destroy(bc);
	kv_dev_close(bdev);
	unlink(big);
}

/*
 * The free epoch moves after a reclaim pass that only took second chances
 * (cleared the buffers' marks of use: a lock-free keeper that trusts the
 * epoch without reading the buffer, fs/ns/dir_rcu.c, would otherwise keep
 * using a buffer left unmarked, for the next pass to free), and after one
 * that freed.
 */
static void test_epoch_second_chance(void)
{
	struct kv_bcache *bc = new_cache(0);
	struct kv_buf *bp;
	uint64_t epoch;

	for (uint64_t b = 50; b < 52; b++) {
		CHECK_EQ(kv_buf_get(bc, b, 1, &tb_ops, &bp), 0);
		kv_buf_rele(bp);
	}
	rcu_read_lock();
	epoch = kv_buf_peek_epoch(bc);
	CHECK(kv_buf_peek(bc, 50, 1, &tb_ops));
	CHECK(kv_buf_peek(bc, 51, 1, &tb_ops));
	CHECK_EQ(kv_buf_peek_epoch(bc), epoch);
	rcu_read_unlock();

	/* one buffer scanned: its second chance taken, nothing freed */
	CHECK_EQ(kv_bcache_shrink(bc, 1), 0);
	CHECK(kv_buf_peek_epoch(bc) != epoch);

	rcu_read_lock();
	epoch = kv_buf_peek_epoch(bc);
	CHECK(kv_buf_peek(bc, 50, 1, &tb_ops));
	rcu_read_unlock();
	CHECK(kv_bcache_shrink(bc, 16) > 0);
	CHECK(kv_buf_peek_epoch(bc) != epoch);
	kv_bcache_destroy(bc);
}

static struct kv_buf *rank_bp;
static struct kv_mutex rank_ail;

/* a buffer waited for under the AIL lock, which only trylocks them */
static void buf_under_ail(void)
{
	kv_mutex_lock(&rank_ail);
	kv_buf_lock(rank_bp);
	kv_buf_unlock(rank_bp);
	kv_mutex_unlock(&rank_ail);
}

static void buf_trylock_under_ail(void)
{
	kv_mutex_lock(&rank_ail);
	CHECK(kv_buf_trylock(rank_bp));
	kv_buf_unlock(rank_bp);
	kv_mutex_unlock(&rank_ail);
}

/* The buffer lock (a futex word, not a kv_mutex) keeps its rank check. */
static void test_lock_rank(void)
{
	struct kv_bcache *bc = new_cache(0);
	char err[4096];
	int status;

	kv_mutex_init(&rank_ail, kv_lock_class_register("ail"));
	CHECK_EQ(kv_buf_get(bc, 60, 1, &tb_ops, &rank_bp), 0);
	status = run_child(buf_trylock_under_ail, err, sizeof(err));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	status = run_child(buf_under_ail, err, sizeof(err));
#ifdef KV_LOCKDEP
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "lock order violation: acquiring kvfs_buf"));
#else
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
	kv_buf_rele(rank_bp);
	kv_mutex_destroy(&rank_ail);
	kv_bcache_destroy(bc);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 32u << 20 };

	CHECK_EQ(kv_init(&cfg), 0);
	tb_make_image(path, sizeof(path), (uint64_t)NBLK * BS);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	test_writeback_reread();
	test_verify_failures();
	test_pin_dirty_stale_reclaim();
	test_mem_limit();
	test_index_size();
	test_epoch_second_chance();
	test_lock_rank();
	kv_dev_close(dev);
	unlink(path);
	kv_fini();
	return 0;
}
