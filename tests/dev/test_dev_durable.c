// SPDX-License-Identifier: GPL-2.0
/*
 * kv_dev_pwrite_durable(): the write and every earlier write inside its
 * range are durable when it returns, writes outside the range are not
 * made so.  Checked against what the media holds after a power failure
 * under the volatile cache (VOLATILE) and under sectors persisting in any
 * order (SECTORS, many seeds), with a page across the range's end; and
 * on a plain device, its argument checks and its data.
 */
#include <errno.h>

#include "fs/io/dev.h"
#include "tests/dev/dev_util.h"

#define IMG_SIZE (4u << 20)
#define BLK 4096u
#define SEC 512u
/* the range: pages 64..71 whole and the first 1 KiB of page 72 */
#define R_OFF (64ull * BLK)
#define R_LEN (8ull * BLK + 1024)

static char path[256];

static void put(struct kv_dev *dev, uint64_t off, size_t len, unsigned seed)
{
	uint8_t buf[BLK];

	fill(buf, len, off, seed);
	CHECK_EQ(kv_dev_pwrite(dev, buf, len, off), 0);
}

static int has(struct kv_dev *dev, uint64_t off, size_t len, unsigned seed)
{
	uint8_t buf[BLK];

	CHECK_EQ(kv_dev_pread(dev, buf, len, off), 0);
	return matches(buf, len, off, seed);
}

static int zero(struct kv_dev *dev, uint64_t off, size_t len)
{
	uint8_t buf[BLK];

	CHECK_EQ(kv_dev_pread(dev, buf, len, off), 0);
	return all_zero(buf, len);
}

/* Each sector of [off, off + len) holds nothing or seed's bytes. */
static int old_or(struct kv_dev *dev, uint64_t off, size_t len, unsigned seed)
{
	for (uint64_t s = off; s < off + len; s += SEC)
		if (!zero(dev, s, SEC) && !has(dev, s, SEC, seed))
			return 0;
	return 1;
}

static void durable(struct kv_dev *dev, uint64_t off, size_t len, unsigned seed)
{
	uint8_t buf[BLK];

	fill(buf, len, off, seed);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, len, off, R_OFF, R_LEN), 0);
}

/* The writes of every case: in the range, outside it, and across its end. */
static void script(struct kv_dev *dev)
{
	put(dev, 64 * BLK, BLK, 3);
	put(dev, 64 * BLK, BLK, 6); /* the newest state must be the one kept */
	put(dev, 80 * BLK, BLK, 3);
	put(dev, 72 * BLK, BLK, 4);
	durable(dev, 70 * BLK + SEC, SEC, 5);
	/* the cache still serves what it did not make durable */
	CHECK(has(dev, 80 * BLK, BLK, 3));
	CHECK(has(dev, 72 * BLK, BLK, 4));
}

static void check_inside(struct kv_dev *dev)
{
	CHECK(has(dev, 64 * BLK, BLK, 6));
	CHECK(has(dev, 70 * BLK + SEC, SEC, 5));
	CHECK(zero(dev, 70 * BLK, SEC));
	CHECK(has(dev, 72 * BLK, 1024, 4));
}

static struct kv_dev *fresh(unsigned modes, uint64_t seed)
{
	struct kv_dev_fault f = { .modes = modes, .seed = seed };
	struct kv_dev *dev;

	make_image(path, sizeof(path), IMG_SIZE);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	return dev;
}

static void test_volatile(void)
{
	struct kv_dev *dev = fresh(KV_FAULT_VOLATILE, 0);

	script(dev);
	kv_dev_power_fail(dev);
	check_inside(dev);
	CHECK(zero(dev, 80 * BLK, BLK));
	CHECK(zero(dev, 72 * BLK + 1024, BLK - 1024));
	kv_dev_close(dev);
	unlink(path);

	/* what stayed in the cache is made durable by a full flush */
	dev = fresh(KV_FAULT_VOLATILE, 0);
	script(dev);
	CHECK_EQ(kv_dev_flush(dev), 0);
	kv_dev_power_fail(dev);
	check_inside(dev);
	CHECK(has(dev, 80 * BLK, BLK, 3));
	CHECK(has(dev, 72 * BLK, BLK, 4));
	kv_dev_close(dev);
	unlink(path);
}

static void test_sectors(void)
{
	unsigned lost_outside = 0;

	for (uint64_t seed = 1; seed <= 40; seed++) {
		struct kv_dev *dev = fresh(KV_FAULT_SECTORS, seed);

		script(dev);
		kv_dev_power_fail(dev);
		check_inside(dev);
		CHECK(old_or(dev, 80 * BLK, BLK, 3));
		CHECK(old_or(dev, 72 * BLK + 1024, BLK - 1024, 4));
		lost_outside += zero(dev, 80 * BLK, SEC);
		kv_dev_close(dev);
		unlink(path);
	}
	/* the outside stayed volatile: some seeds lost its first sector */
	CHECK(lost_outside > 0 && lost_outside < 40);
}

static void test_plain(void)
{
	struct kv_dev *dev;
	uint8_t buf[SEC];

	make_image(path, sizeof(path), IMG_SIZE);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	fill(buf, SEC, 70 * BLK, 9);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, 70 * BLK, R_OFF, 100),
		 -EINVAL);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, 80 * BLK, R_OFF, R_LEN),
		 -EINVAL);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, IMG_SIZE, R_OFF, R_LEN),
		 -EINVAL);
	put(dev, 64 * BLK, BLK, 2);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, 70 * BLK, R_OFF, R_LEN),
		 0);
	kv_dev_close(dev);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK(has(dev, 70 * BLK, SEC, 9));
	CHECK(has(dev, 64 * BLK, BLK, 2));
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, 70 * BLK, R_OFF, R_LEN),
		 -EROFS);
	kv_dev_close(dev);

	/* an overlay device keeps it in memory: the media never sees it */
	CHECK_EQ(kv_dev_open(path, KV_DEV_OVERLAY, &dev), 0);
	fill(buf, SEC, 70 * BLK, 11);
	CHECK_EQ(kv_dev_pwrite_durable(dev, buf, SEC, 70 * BLK, R_OFF, R_LEN),
		 0);
	CHECK(has(dev, 70 * BLK, SEC, 11));
	kv_dev_close(dev);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK(has(dev, 70 * BLK, SEC, 9));
	kv_dev_close(dev);
	unlink(path);
}

int main(void)
{
	test_plain();
	test_volatile();
	test_sectors();
	return 0;
}
