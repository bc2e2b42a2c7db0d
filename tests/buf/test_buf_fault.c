// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer cache over a fault-injecting device: write-backs not covered
 * by a flush are lost on power failure while flushed ones survive and
 * verify; a torn multi-block write is caught by the crc on the next read;
 * a failed write-back leaves the buffer dirty and can be retried.
 */
#include "tests/buf/buf_util.h"

#define BS 4096u
#define NB 16u

static char path[256];

static void write_blocks(struct kv_bcache *bc, uint64_t first, unsigned n,
			 unsigned nblks, unsigned gen)
{
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = first + (uint64_t)i * nblks;
		struct kv_buf *bp;

		CHECK_EQ(kv_buf_get(bc, b, nblks, &tb_ops, &bp), 0);
		kv_buf_lock(bp);
		tb_fill(bp->b_addr, bp->b_len, b, gen);
		bp->b_lsn = gen;
		kv_buf_mark_dirty(bp);
		CHECK_EQ(kv_buf_write(bp), 0);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
}

/* Read through a fresh cache: every block verifies and holds gen. */
static void expect_blocks(struct kv_dev *dev, uint64_t first, unsigned n,
			  unsigned nblks, unsigned gen)
{
	struct kv_bcache *bc;

	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = first + (uint64_t)i * nblks;
		struct kv_buf *bp;

		CHECK_EQ(kv_buf_read(bc, b, nblks, &tb_ops, &bp), 0);
		CHECK(tb_payload_ok(bp->b_addr, bp->b_len, b, gen));
		kv_buf_rele(bp);
	}
	kv_bcache_destroy(bc);
}

static void test_power_fail(void)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	struct kv_bcache *bc;
	struct kv_dev *dev;

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	write_blocks(bc, 0, 10, 1, 1);
	CHECK_EQ(kv_bcache_flush(bc), 0);
	write_blocks(bc, 0, 5, 1, 2);
	/* the device's cache serves the unflushed write-backs */
	expect_blocks(dev, 0, 5, 1, 2);
	kv_dev_power_fail(dev);
	kv_bcache_destroy(bc);
	kv_dev_close(dev);

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	expect_blocks(dev, 0, 10, 1, 1);
	kv_dev_close(dev);
}

static void test_torn_multiblock(void)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_TEAR };
	struct kv_bcache *bc;
	struct kv_dev *dev;
	struct kv_buf *bp;
	uint64_t b = 64;

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	write_blocks(bc, b, 2, NB, 1);
	f.tear_write = kv_dev_nr_writes(dev) + 1;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	write_blocks(bc, b, 2, NB, 2); /* the first is torn, then a crash */
	CHECK(kv_dev_crashed(dev));
	kv_bcache_destroy(bc);
	kv_dev_close(dev);

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	CHECK_EQ(kv_buf_read(bc, b, NB, &tb_ops, &bp), -EBADMSG);
	CHECK(strstr(kv_buf_last_error(), "block 64") != NULL);
	/* the write after the tear never happened: old and intact */
	CHECK_EQ(kv_buf_read(bc, b + NB, NB, &tb_ops, &bp), 0);
	CHECK(tb_payload_ok(bp->b_addr, bp->b_len, b + NB, 1));
	kv_buf_rele(bp);
	kv_bcache_destroy(bc);
	kv_dev_close(dev);
}

static void test_failed_writeback(void)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE };
	struct kv_bcache *bc;
	struct kv_dev *dev;
	struct kv_buf *bp;

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_bcache_create(dev, BS, 0, &bc), 0);
	CHECK_EQ(kv_buf_get(bc, 200, 1, &tb_ops, &bp), 0);
	kv_buf_lock(bp);
	tb_fill(bp->b_addr, BS, 200, 3);
	kv_buf_mark_dirty(bp);
	f.fail_write = kv_dev_nr_writes(dev) + 1;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(kv_buf_write(bp), -EIO);
	CHECK(kv_buf_is_dirty(bp));
	kv_buf_unlock(bp);
	/* the flush retries it: the fault was for one write only */
	CHECK_EQ(kv_bcache_flush(bc), 0);
	CHECK(!kv_buf_is_dirty(bp));

	kv_buf_lock(bp);
	tb_fill(bp->b_addr, BS, 200, 4);
	kv_buf_mark_dirty(bp);
	kv_buf_unlock(bp);
	f.fail_write = kv_dev_nr_writes(dev) + 1;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(kv_bcache_flush(bc), -EIO);
	CHECK(kv_buf_is_dirty(bp));
	kv_buf_rele(bp);
	kv_bcache_destroy(bc);
	expect_blocks(dev, 200, 1, 1, 3);
	kv_dev_close(dev);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	tb_make_image(path, sizeof(path), 512u * BS);
	test_power_fail();
	test_torn_multiblock();
	test_failed_writeback();
	unlink(path);
	kv_fini();
	return 0;
}
