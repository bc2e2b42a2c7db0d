// SPDX-License-Identifier: GPL-2.0
/*
 * The device layer without fault injection: large unaligned I/O, bounds,
 * read-only opens, discard, error codes, concurrent I/O from threads, and
 * the read watch.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/stat.h>

#include "fs/io/dev.h"
#include "tests/dev/dev_util.h"

#define IMG_SIZE (16u << 20)
#define NR_THREADS 4
#define SLICE (IMG_SIZE / NR_THREADS)

static struct kv_dev *shared;

/* What the read watch saw last, and how many reads. */
struct seen {
	unsigned n;
	const void *buf;
	size_t len;
	uint64_t off;
	uint8_t first;
};

static void watch(void *priv, const void *buf, size_t len, uint64_t off)
{
	struct seen *w = priv;

	w->n++;
	w->buf = buf;
	w->len = len;
	w->off = off;
	w->first = *(const uint8_t *)buf;
}

static void *io_thread(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint64_t base = (uint64_t)t * SLICE;
	uint8_t *buf = malloc(65536), *rd = malloc(65536);

	CHECK(buf && rd);
	for (unsigned round = 0; round < 40; round++) {
		uint64_t off = base + (round * 65536u) % (SLICE - 65536);

		fill(buf, 65536, off, t + round);
		CHECK_EQ(kv_dev_pwrite(shared, buf, 65536, off), 0);
		CHECK_EQ(kv_dev_pread(shared, rd, 65536, off), 0);
		CHECK(matches(rd, 65536, off, t + round));
	}
	free(buf);
	free(rd);
	return NULL;
}

/*
 * The read watch sees each read that succeeded, its bytes as returned (an
 * overlay's writes laid over the media), and no failed read or write.
 */
static void check_watch(const char *path, uint8_t *buf, uint8_t *rd)
{
	struct seen w = { 0 };
	struct kv_dev *dev;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY | KV_DEV_OVERLAY, &dev), 0);
	kv_dev_set_read_watch(dev, watch, &w);
	memset(buf, 0xa5, 4096);
	CHECK_EQ(kv_dev_pwrite(dev, buf, 4096, 8192), 0);
	CHECK_EQ(w.n, 0);
	CHECK_EQ(kv_dev_pread(dev, rd, 100, 8192 + 7), 0);
	CHECK(w.n == 1 && w.buf == rd && w.len == 100 && w.off == 8192 + 7 &&
	      w.first == 0xa5);
	CHECK_EQ(kv_dev_pread(dev, rd, 2, IMG_SIZE - 1), -EINVAL);
	CHECK_EQ(w.n, 1);
	kv_dev_set_read_watch(dev, NULL, NULL);
	CHECK_EQ(kv_dev_pread(dev, rd, 100, 0), 0);
	CHECK_EQ(w.n, 1);
	kv_dev_close(dev);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	kv_dev_set_read_watch(dev, watch, &w);
	CHECK_EQ(kv_dev_pread(dev, rd, 65536, 0), 0);
	CHECK(w.n == 2 && w.len == 65536 && w.off == 0 && w.first == rd[0]);
	kv_dev_close(dev);
}

int main(void)
{
	char path[256];
	size_t big = 3u << 20;
	uint64_t off = 4096 + 123;
	uint8_t *buf = malloc(big), *rd = malloc(big);
	struct kv_dev *dev, *ro;
	pthread_t th[NR_THREADS];
	uint64_t nw;
	int err;

	CHECK(buf && rd);
	make_image(path, sizeof(path), IMG_SIZE);

	CHECK_EQ(kv_dev_open("/nonexistent/kvfs-image", 0, &dev), -ENOENT);
	CHECK(dev == NULL);
	err = kv_dev_open("/", 0, &dev);
	CHECK(err == -EISDIR || err == -EINVAL);

	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_size(dev), IMG_SIZE);
	CHECK(!kv_dev_is_bdev(dev));
	CHECK(!kv_dev_rdonly(dev));
	CHECK(strcmp(kv_dev_path(dev), path) == 0);
	CHECK_EQ(kv_dev_nr_writes(dev), 0);
	CHECK(!kv_dev_crashed(dev));

	/* one large unaligned write and read */
	fill(buf, big, off, 1);
	CHECK_EQ(kv_dev_pwrite(dev, buf, big, off), 0);
	CHECK_EQ(kv_dev_nr_writes(dev), 1);
	memset(rd, 0, big);
	CHECK_EQ(kv_dev_pread(dev, rd, big, off), 0);
	CHECK(matches(rd, big, off, 1));
	CHECK_EQ(kv_dev_flush(dev), 0);

	/* bounds: the last byte is fine, one past it is not */
	CHECK_EQ(kv_dev_pwrite(dev, buf, 1, IMG_SIZE - 1), 0);
	CHECK_EQ(kv_dev_pwrite(dev, buf, 2, IMG_SIZE - 1), -EINVAL);
	CHECK_EQ(kv_dev_pread(dev, rd, 2, IMG_SIZE - 1), -EINVAL);
	CHECK_EQ(kv_dev_pread(dev, rd, 1, UINT64_MAX), -EINVAL);
	CHECK_EQ(kv_dev_discard(dev, IMG_SIZE, 1), -EINVAL);
	CHECK_EQ(kv_dev_pread(dev, rd, 0, IMG_SIZE), 0);

	/* discard: supported on image files where the fs can punch holes */
	err = kv_dev_discard(dev, 8u << 20, 1u << 20);
	CHECK(err == 0 || err == -EOPNOTSUPP);
	if (err == 0) {
		CHECK_EQ(kv_dev_pread(dev, rd, 1u << 20, 8u << 20), 0);
		CHECK(all_zero(rd, 1u << 20));
	}

	/* unknown fault modes are refused */
	struct kv_dev_fault bad = { .modes = 1u << 30 };

	CHECK_EQ(kv_dev_set_fault(dev, &bad), -EINVAL);

	/* concurrent writers and readers on disjoint slices */
	shared = dev;
	nw = kv_dev_nr_writes(dev);
	for (unsigned t = 0; t < NR_THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, io_thread,
				     (void *)(uintptr_t)t) == 0);
	for (unsigned t = 0; t < NR_THREADS; t++)
		CHECK(pthread_join(th[t], NULL) == 0);
	CHECK_EQ(kv_dev_nr_writes(dev), nw + NR_THREADS * 40);
	kv_dev_close(dev);

	/* read-only: reads work, writes and discards are refused */
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &ro), 0);
	CHECK(kv_dev_rdonly(ro));
	CHECK_EQ(kv_dev_pwrite(ro, buf, 512, 0), -EROFS);
	CHECK_EQ(kv_dev_discard(ro, 0, 4096), -EROFS);
	CHECK_EQ(kv_dev_flush(ro), 0);
	for (unsigned t = 0; t < NR_THREADS; t++) {
		uint64_t o =
			(uint64_t)t * SLICE + (39 * 65536u) % (SLICE - 65536);

		CHECK_EQ(kv_dev_pread(ro, rd, 65536, o), 0);
		CHECK(matches(rd, 65536, o, t + 39));
	}
	kv_dev_close(ro);
	kv_dev_close(NULL);

	check_watch(path, buf, rd);

	unlink(path);
	free(buf);
	free(rd);
	return 0;
}
