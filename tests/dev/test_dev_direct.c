// SPDX-License-Identifier: GPL-2.0
/*
 * KV_DEV_DIRECT: large aligned writes go through the O_DIRECT descriptor
 * (when the host filesystem has O_DIRECT: asked of it here first, so that
 * either answer is checked), from aligned and unaligned buffers, over
 * dirty and cached buffered pages, from threads at once; small or
 * unaligned writes, fault modes and overlay devices stay buffered; what
 * is read back is what was written last, through a fresh open too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>

#include "fs/io/dev.h"
#include "tests/dev/dev_util.h"

#define IMG_SIZE (64u << 20)
#define BIG (3u << 20) /* three bounce chunks */
#define NR_THREADS 4
/* the threads' slices, in the image's second half */
#define SLICE (IMG_SIZE / 2 / NR_THREADS)
#define SLICE_AT(t) (IMG_SIZE / 2 + (uint64_t)(t)*SLICE)

static struct kv_dev *shared;

/* Whether the file at path can be opened O_DIRECT at all. */
static bool host_has_direct(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static void check_range(struct kv_dev *dev, uint64_t off, size_t len,
			unsigned seed)
{
	uint8_t *rd = malloc(len);

	CHECK(rd);
	CHECK_EQ(kv_dev_pread(dev, rd, len, off), 0);
	if (!matches(rd, len, off, seed))
		fprintf(stderr, "bytes [%llu, +%zu) not those of seed %u\n",
			(unsigned long long)off, len, seed);
	CHECK(matches(rd, len, off, seed));
	free(rd);
}

/* Unaligned 1 MiB writes (the thread's bounce buffer) on its own slice. */
static void *writer(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	uint8_t *mem = malloc((1u << 20) + 1);

	CHECK(mem);
	for (unsigned i = 0; i < 6; i++) {
		uint64_t off = SLICE_AT(t) + (uint64_t)i * (1u << 20);

		fill(mem + 1, 1u << 20, off, 100 + t);
		CHECK_EQ(kv_dev_pwrite(shared, mem + 1, 1u << 20, off), 0);
	}
	free(mem);
	return NULL;
}

int main(void)
{
	char path[256];
	uint8_t *mem = malloc(BIG + KV_DEV_DIRECT_ALIGN + 1);
	uint8_t *aligned = aligned_alloc(KV_DEV_DIRECT_ALIGN, BIG);
	struct kv_dev *dev, *ovl;
	struct kv_dev_fault volat = { .modes = KV_FAULT_VOLATILE };
	struct kv_dev_fault none = { 0 };
	pthread_t th[NR_THREADS];
	uint64_t nd;
	bool direct;

	CHECK(mem && aligned);
	make_image(path, sizeof(path), IMG_SIZE);
	direct = host_has_direct(path);
	CHECK_EQ(kv_dev_open(path, KV_DEV_DIRECT, &dev), 0);

	/* aligned buffer, aligned range: direct where the host allows */
	fill(aligned, BIG, 1u << 20, 1);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, BIG, 1u << 20), 0);
	CHECK_EQ(kv_dev_nr_direct(dev), direct ? 1 : 0);
	check_range(dev, 1u << 20, BIG, 1);

	/* unaligned buffer: through the bounce buffer, chunk by chunk */
	fill(mem + 1, BIG, 8u << 20, 2);
	CHECK_EQ(kv_dev_pwrite(dev, mem + 1, BIG, 8u << 20), 0);
	CHECK_EQ(kv_dev_nr_direct(dev), direct ? 2 : 0);
	check_range(dev, 8u << 20, BIG, 2);

	/* dirty buffered pages under a direct write: the direct bytes win */
	fill(mem, 4096, (16u << 20) + 8192, 3);
	CHECK_EQ(kv_dev_pwrite(dev, mem, 4096, (16u << 20) + 8192), 0);
	check_range(dev, (16u << 20) + 8192, 4096, 3);
	fill(aligned, 1u << 20, 16u << 20, 4);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, 1u << 20, 16u << 20), 0);
	check_range(dev, 16u << 20, 1u << 20, 4);
	/* and a buffered write inside a direct one is read back */
	fill(mem, 512, (16u << 20) + 1000, 5);
	CHECK_EQ(kv_dev_pwrite(dev, mem, 512, (16u << 20) + 1000), 0);
	check_range(dev, (16u << 20) + 1000, 512, 5);
	check_range(dev, 16u << 20, 1000, 4);
	CHECK_EQ(kv_dev_flush(dev), 0);
	nd = kv_dev_nr_direct(dev);
	CHECK_EQ(nd, direct ? 3 : 0);

	/* small, unaligned offset or length: buffered */
	fill(aligned, KV_DEV_DIRECT_MIN, 20u << 20, 6);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, KV_DEV_DIRECT_MIN - 4096,
			       20u << 20),
		 0);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, KV_DEV_DIRECT_MIN, 512), 0);
	CHECK_EQ(
		kv_dev_pwrite(dev, aligned, KV_DEV_DIRECT_MIN + 512, 21u << 20),
		0);
	CHECK_EQ(kv_dev_nr_direct(dev), nd);

	/* a fault mode: every write takes the simulated path */
	CHECK_EQ(kv_dev_set_fault(dev, &volat), 0);
	fill(aligned, 1u << 20, 22u << 20, 7);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, 1u << 20, 22u << 20), 0);
	CHECK_EQ(kv_dev_nr_direct(dev), nd);
	CHECK_EQ(kv_dev_flush(dev), 0);
	CHECK_EQ(kv_dev_set_fault(dev, &none), 0);
	check_range(dev, 22u << 20, 1u << 20, 7);

	/* threads at once, each with its own bounce buffer */
	shared = dev;
	for (unsigned t = 0; t < NR_THREADS; t++)
		CHECK(pthread_create(&th[t], NULL, writer,
				     (void *)(uintptr_t)t) == 0);
	for (unsigned t = 0; t < NR_THREADS; t++)
		CHECK(pthread_join(th[t], NULL) == 0);
	CHECK_EQ(kv_dev_nr_direct(dev), direct ? nd + NR_THREADS * 6 : 0);
	CHECK_EQ(kv_dev_flush(dev), 0);
	kv_dev_close(dev);

	/* what a fresh open reads */
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY | KV_DEV_DIRECT, &dev), 0);
	check_range(dev, 1u << 20, BIG, 1);
	check_range(dev, 8u << 20, BIG, 2);
	check_range(dev, (16u << 20) + 1000, 512, 5);
	for (unsigned t = 0; t < NR_THREADS; t++)
		check_range(dev, SLICE_AT(t), 6u << 20, 100 + t);
	CHECK_EQ(kv_dev_pwrite(dev, aligned, 1u << 20, 0), -EROFS);
	kv_dev_close(dev);

	/* an overlay keeps its writes in memory, direct or not */
	CHECK_EQ(kv_dev_open(path, KV_DEV_OVERLAY | KV_DEV_DIRECT, &ovl), 0);
	fill(aligned, 1u << 20, 1u << 20, 8);
	CHECK_EQ(kv_dev_pwrite(ovl, aligned, 1u << 20, 1u << 20), 0);
	CHECK_EQ(kv_dev_nr_direct(ovl), 0);
	check_range(ovl, 1u << 20, 1u << 20, 8);
	kv_dev_close(ovl);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	check_range(dev, 1u << 20, BIG, 1);
	kv_dev_close(dev);

	unlink(path);
	free(mem);
	free(aligned);
	return 0;
}
