// SPDX-License-Identifier: GPL-2.0
/*
 * The bdi's dirty limit follows the free space (see fs/fuse/dirty.h).
 *
 * Locks: kvfs_fuse_dirty.lock protects cur and the writes of the file,
 * taken with no other lock held; a request thread only tries it (one that
 * finds it held goes on), start and stop wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse/dirty.h"
#include "fs/kvfs.h"

#define PERIOD_NS (KVFS_FUSE_DIRTY_PERIOD_MS * 1000000ull)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void kvfs_fuse_dirty_init(struct kvfs_fuse_dirty *dl)
{
	memset(dl, 0, sizeof(*dl));
	atomic_init(&dl->fd, -1);
	pthread_mutex_init(&dl->lock, NULL);
}

static int write_limit(int fd, uint64_t bytes)
{
	char buf[24];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64, bytes);
	ssize_t w = pwrite(fd, buf, (size_t)n, 0);

	if (w == n)
		return 0;
	return w < 0 ? -errno : -EIO;
}

/* Half the free space, within [floor, ceiling]. */
static uint64_t target(const struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp)
{
	uint64_t t = kvfs_free_bytes(mp) / 2;

	if (t > dl->ceiling)
		t = dl->ceiling;
	return t < dl->floor ? dl->floor : t;
}

/* Write the target when it differs by an eighth; under dl->lock. */
static int apply(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp, int fd)
{
	uint64_t t = target(dl, mp);
	uint64_t d = t > dl->cur ? t - dl->cur : dl->cur - t;
	int err;

	if (d <= dl->cur / 8)
		return 0;
	err = write_limit(fd, t);
	if (!err)
		dl->cur = t;
	return err;
}

int kvfs_fuse_dirty_start(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			  const char *path)
{
	char buf[24];
	ssize_t n;
	int err, fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0) {
		close(fd);
		return n ? -errno : -EINVAL;
	}
	buf[n] = '\0';
	dl->ceiling = strtoull(buf, NULL, 10);
	dl->floor = kvfs_wb_reserve_bytes(mp) / 2;
	if (dl->floor > KVFS_FUSE_DIRTY_FLOOR)
		dl->floor = KVFS_FUSE_DIRTY_FLOOR;
	/* a writer held to a few pages at a time would crawl */
	if (dl->floor < KVFS_FUSE_DIRTY_MIN)
		dl->floor = KVFS_FUSE_DIRTY_MIN;
	if (dl->ceiling < dl->floor) {
		/* the kernel's limit is below the floor already */
		close(fd);
		return -ERANGE;
	}
	pthread_mutex_lock(&dl->lock);
	dl->cur = dl->ceiling;
	err = apply(dl, mp, fd);
	pthread_mutex_unlock(&dl->lock);
	if (err) {
		close(fd);
		return err;
	}
	atomic_store_explicit(&dl->fd, fd, memory_order_release);
	return 0;
}

void kvfs_fuse_dirty_update(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp)
{
	int fd = atomic_load_explicit(&dl->fd, memory_order_acquire);
	uint64_t now, next;

	if (fd < 0)
		return;
	now = now_ns();
	next = atomic_load_explicit(&dl->next_ns, memory_order_relaxed);
	if (now < next || pthread_mutex_trylock(&dl->lock))
		return;
	/* stopped or refused while this thread got here */
	if (atomic_load(&dl->fd) == fd) {
		atomic_store_explicit(&dl->next_ns, now + PERIOD_NS,
				      memory_order_relaxed);
		/* a kernel refusing a value: its own limit is left be */
		if (apply(dl, mp, fd)) {
			atomic_store(&dl->fd, -1);
			close(fd);
		}
	}
	pthread_mutex_unlock(&dl->lock);
}

void kvfs_fuse_dirty_stop(struct kvfs_fuse_dirty *dl)
{
	int fd;

	pthread_mutex_lock(&dl->lock);
	fd = atomic_exchange(&dl->fd, -1);
	pthread_mutex_unlock(&dl->lock);
	if (fd >= 0)
		close(fd);
}
