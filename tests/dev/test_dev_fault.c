// SPDX-License-Identifier: GPL-2.0
/*
 * Each fault-injection mode of the device layer, demonstrated against what
 * is on the media after a reopen: fail the Nth write, crash after write N,
 * lose the volatile cache on power failure, tear a write in half.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "fs/io/dev.h"
#include "tests/dev/dev_util.h"

#define IMG_SIZE (8u << 20)
#define BLK 4096u

static char path[256];

static struct kv_dev *reopen(struct kv_dev *dev)
{
	struct kv_dev *n;

	kv_dev_close(dev);
	CHECK_EQ(kv_dev_open(path, 0, &n), 0);
	return n;
}

/* Write block i (BLK bytes at i * BLK) with pattern seed. */
static int put(struct kv_dev *dev, unsigned i, unsigned seed)
{
	uint8_t buf[BLK];

	fill(buf, BLK, (uint64_t)i * BLK, seed);
	return kv_dev_pwrite(dev, buf, BLK, (uint64_t)i * BLK);
}

static int has(struct kv_dev *dev, unsigned i, unsigned seed)
{
	uint8_t buf[BLK];

	CHECK_EQ(kv_dev_pread(dev, buf, BLK, (uint64_t)i * BLK), 0);
	return matches(buf, BLK, (uint64_t)i * BLK, seed);
}

static int is_zero(struct kv_dev *dev, unsigned i)
{
	uint8_t buf[BLK];

	CHECK_EQ(kv_dev_pread(dev, buf, BLK, (uint64_t)i * BLK), 0);
	return all_zero(buf, BLK);
}

static void test_fail_write(void)
{
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE };

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(put(dev, 0, 7), 0); /* a write before the fault is armed */
	f.fail_write = kv_dev_nr_writes(dev) + 3;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	for (unsigned i = 1; i <= 5; i++)
		CHECK_EQ(put(dev, i, 1), i == 3 ? -EIO : 0);
	CHECK(!kv_dev_crashed(dev));
	CHECK_EQ(kv_dev_nr_writes(dev), 6);
	CHECK_EQ(kv_dev_flush(dev), 0);
	dev = reopen(dev);
	CHECK(has(dev, 0, 7));
	for (unsigned i = 1; i <= 5; i++)
		CHECK(i == 3 ? is_zero(dev, i) : has(dev, i, 1));
	kv_dev_close(dev);
}

static void test_crash(void)
{
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	f.crash_after = kv_dev_nr_writes(dev) + 2;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(put(dev, 10, 2), 0);
	CHECK(!kv_dev_crashed(dev));
	CHECK_EQ(put(dev, 11, 2), 0);
	CHECK(kv_dev_crashed(dev));
	/* the machine is dead: these succeed but never reach the media */
	CHECK_EQ(put(dev, 12, 2), 0);
	CHECK_EQ(put(dev, 10, 3), 0);
	CHECK_EQ(kv_dev_flush(dev), 0);
	CHECK(has(dev, 10, 2));
	CHECK(is_zero(dev, 12));
	dev = reopen(dev);
	CHECK(!kv_dev_crashed(dev));
	CHECK(has(dev, 10, 2));
	CHECK(has(dev, 11, 2));
	CHECK(is_zero(dev, 12));

	/* crash_after at or below the current count: crashed at once */
	f.crash_after = kv_dev_nr_writes(dev);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK(kv_dev_crashed(dev));
	CHECK_EQ(put(dev, 13, 2), 0);
	CHECK(is_zero(dev, 13));

	/* setting the faults again is a reboot: writes persist again */
	f.modes = 0;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK(!kv_dev_crashed(dev));
	CHECK_EQ(put(dev, 13, 4), 0);
	dev = reopen(dev);
	CHECK(has(dev, 13, 4));
	kv_dev_close(dev);
}

static void test_volatile(void)
{
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	uint8_t buf[3 * BLK], rd[3 * BLK];
	uint64_t uoff = 20 * BLK + 1000; /* unaligned, spans 4 pages */

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(put(dev, 20, 5), 0); /* on the media before the mode */
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);

	CHECK_EQ(put(dev, 30, 6), 0);
	CHECK_EQ(kv_dev_flush(dev), 0); /* block 30 is durable */
	CHECK_EQ(put(dev, 31, 6), 0);
	CHECK_EQ(put(dev, 30, 7), 0); /* overwrite of a durable block */
	fill(buf, sizeof(buf), uoff, 8);
	CHECK_EQ(kv_dev_pwrite(dev, buf, sizeof(buf), uoff), 0);

	/* before the power failure, reads see the cached writes */
	CHECK(has(dev, 31, 6));
	CHECK(has(dev, 30, 7));
	CHECK_EQ(kv_dev_pread(dev, rd, sizeof(rd), uoff), 0);
	CHECK(matches(rd, sizeof(rd), uoff, 8));
	/* read-through kept the untouched head of the first page */
	CHECK_EQ(kv_dev_pread(dev, rd, 1000, 20 * BLK), 0);
	CHECK(matches(rd, 1000, 20 * BLK, 5));

	kv_dev_power_fail(dev);
	CHECK(kv_dev_crashed(dev));
	CHECK(has(dev, 30, 6));
	CHECK(is_zero(dev, 31));
	CHECK(has(dev, 20, 5));
	dev = reopen(dev);
	CHECK(has(dev, 30, 6));
	CHECK(is_zero(dev, 31));
	CHECK(has(dev, 20, 5));
	CHECK(is_zero(dev, 21));
	kv_dev_close(dev);
}

/*
 * KV_FAULT_DEAD_EIO: after the power failure, writes and flushes fail
 * (a daemon that outlives the cut must not reply "done" for them); what
 * was flushed before it stays, what was not is gone.  Without the mode
 * they succeed unseen (test_volatile()).
 */
static void test_dead_eio(void)
{
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE |
					   KV_FAULT_DEAD_EIO };

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(put(dev, 40, 9), 0);
	CHECK_EQ(kv_dev_flush(dev), 0);
	CHECK_EQ(put(dev, 41, 9), 0);
	kv_dev_power_fail(dev);
	CHECK_EQ(put(dev, 42, 9), -EIO);
	CHECK_EQ(kv_dev_flush(dev), -EIO);
	dev = reopen(dev);
	CHECK(has(dev, 40, 9));
	CHECK(is_zero(dev, 41));
	CHECK(is_zero(dev, 42));
	kv_dev_close(dev);
}

/*
 * Thousands of small random writes through the volatile cache against a
 * shadow copy: reads always match the shadow; after a power failure the
 * media matches the shadow as it was at the last flush.
 */
static void test_volatile_many(void)
{
	const uint64_t span = 4u << 20, base = 1u << 20;
	uint8_t *shadow = calloc(1, span), *durable = calloc(1, span);
	uint8_t *rd = malloc(span);
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	unsigned seed = 12345;

	CHECK(shadow && durable && rd);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_pread(dev, shadow, span, base), 0);
	memcpy(durable, shadow, span);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	for (unsigned i = 0; i < 20000; i++) {
		uint64_t off, len;

		seed = seed * 1103515245u + 12345u;
		off = (seed >> 4) % (span - 9000);
		len = 1 + (seed >> 7) % 9000;
		fill(shadow + off, len, off, i);
		CHECK_EQ(kv_dev_pwrite(dev, shadow + off, len, base + off), 0);
		if (i % 997 == 0) {
			CHECK_EQ(kv_dev_pread(dev, rd, span, base), 0);
			CHECK(memcmp(rd, shadow, span) == 0);
		}
		if (i == 15000) {
			CHECK_EQ(kv_dev_flush(dev), 0);
			memcpy(durable, shadow, span);
		}
	}
	CHECK_EQ(kv_dev_pread(dev, rd, span, base), 0);
	CHECK(memcmp(rd, shadow, span) == 0);
	kv_dev_power_fail(dev);
	dev = reopen(dev);
	CHECK_EQ(kv_dev_pread(dev, rd, span, base), 0);
	CHECK(memcmp(rd, durable, span) == 0);
	kv_dev_close(dev);
	free(shadow);
	free(durable);
	free(rd);
}

static void test_tear(void)
{
	const size_t len = 64 * 1024;
	const uint64_t off = 64 * BLK;
	uint8_t *buf = malloc(len), *rd = malloc(len);
	struct kv_dev *dev;
	struct kv_dev_fault f = { .modes = KV_FAULT_TEAR };

	CHECK(buf && rd);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	fill(buf, len, off, 9);
	CHECK_EQ(kv_dev_pwrite(dev, buf, len, off), 0); /* the old data */
	f.tear_write = kv_dev_nr_writes(dev) + 2;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(put(dev, 100, 10), 0);
	fill(buf, len, off, 11);
	CHECK_EQ(kv_dev_pwrite(dev, buf, len, off), 0);
	CHECK(kv_dev_crashed(dev));
	CHECK_EQ(put(dev, 101, 10), 0); /* after the tear: lost */
	dev = reopen(dev);
	CHECK_EQ(kv_dev_pread(dev, rd, len, off), 0);
	CHECK(matches(rd, len / 2, off, 11));
	CHECK(matches(rd + len / 2, len / 2, off + len / 2, 9));
	CHECK(has(dev, 100, 10));
	CHECK(is_zero(dev, 101));

	/* an odd length tears at a 512-byte boundary below the half */
	f.tear_write = kv_dev_nr_writes(dev) + 1;
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	fill(buf, 3000, 200 * BLK, 12);
	CHECK_EQ(kv_dev_pwrite(dev, buf, 3000, 200 * BLK), 0);
	dev = reopen(dev);
	CHECK_EQ(kv_dev_pread(dev, rd, 3000, 200 * BLK), 0);
	CHECK(matches(rd, 1024, 200 * BLK, 12));
	CHECK(all_zero(rd + 1024, 3000 - 1024));
	kv_dev_close(dev);
	free(buf);
	free(rd);
}

/* Writers, readers and a flusher at once on a volatile device. */
#define VT_THREADS 3
#define VT_ROUNDS 300
static struct kv_dev *vdev;
static atomic_int writers_left;

static void *vt_writer(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;

	for (unsigned r = 0; r < VT_ROUNDS; r++) {
		unsigned blk = 400 + t * 64 + r % 64;

		CHECK_EQ(put(vdev, blk, r), 0);
		CHECK(has(vdev, blk, r));
	}
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void *vt_flusher(void *arg)
{
	(void)arg;
	while (atomic_load(&writers_left))
		CHECK_EQ(kv_dev_flush(vdev), 0);
	return NULL;
}

static void test_volatile_threads(void)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	pthread_t th[VT_THREADS + 1];

	CHECK_EQ(kv_dev_open(path, 0, &vdev), 0);
	CHECK_EQ(kv_dev_set_fault(vdev, &f), 0);
	atomic_store(&writers_left, VT_THREADS);
	for (unsigned t = 0; t < VT_THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, vt_writer,
				     (void *)(uintptr_t)t) == 0);
	CHECK(pthread_create(&th[VT_THREADS], NULL, vt_flusher, NULL) == 0);
	for (unsigned t = 0; t <= VT_THREADS; t++)
		CHECK(pthread_join(th[t], NULL) == 0);
	CHECK_EQ(kv_dev_flush(vdev), 0);
	kv_dev_power_fail(vdev);
	vdev = reopen(vdev);
	for (unsigned t = 0; t < VT_THREADS; t++)
		for (unsigned r = VT_ROUNDS - 64; r < VT_ROUNDS; r++)
			CHECK(has(vdev, 400 + t * 64 + r % 64, r));
	kv_dev_close(vdev);
}

int main(void)
{
	make_image(path, sizeof(path), IMG_SIZE);
	test_fail_write();
	test_crash();
	test_volatile();
	test_dead_eio();
	test_volatile_many();
	test_tear();
	test_volatile_threads();
	unlink(path);
	return 0;
}
