// SPDX-License-Identifier: GPL-2.0
/*
 * The bdi's dirty limit follows the free space (see fs/fuse/dirty.h).
 *
 * Locks: kvfs_fuse_dirty.lock protects the writes of the file, of cur, of
 * pend and the core's copy of it (read without it), and writers; taken
 * with no other lock held; a request thread lowering the limit waits for
 * it, one raising it only tries it (one that finds it held goes on), as
 * does the expiry of pend; start, stop, opens and releases of writers and
 * write backs that lower pend wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
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

/* Half the free space, within [floor, cap]. */
static uint64_t target(const struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp)
{
	uint64_t t = kvfs_free_bytes(mp) / 2;

	if (t > dl->cap)
		t = dl->cap;
	return t < dl->floor ? dl->floor : t;
}

/* Whether t is an eighth or more away from the value written last. */
static bool moved(uint64_t t, uint64_t cur)
{
	return (t > cur ? t - cur : cur - t) > cur / 8;
}

/*
 * Set what the cache may hold dirty, and keep it in the core while a file
 * is open for writing through the cache (nothing else can be dirty:
 * dirty.h); under dl->lock.
 */
static void set_pend(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
		     uint64_t bytes)
{
	atomic_store_explicit(&dl->pend, bytes, memory_order_relaxed);
	kvfs_set_wb_pending(mp, dl->writers ? bytes : 0);
}

/* Write the target when it moved; under dl->lock. */
static int apply(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp, int fd)
{
	uint64_t t = target(dl, mp);
	uint64_t cur = atomic_load_explicit(&dl->cur, memory_order_relaxed);
	int err;

	if (!moved(t, cur))
		return 0;
	/* what the old limit let in is written back within the expiry */
	if (t < cur)
		atomic_store_explicit(&dl->pend_until, now_ns() + dl->expire_ns,
				      memory_order_relaxed);
	/* a higher limit lets the cache take more at once: kept first */
	if (t > atomic_load_explicit(&dl->pend, memory_order_relaxed))
		set_pend(dl, mp, t);
	err = write_limit(fd, t);
	if (!err)
		atomic_store_explicit(&dl->cur, t, memory_order_relaxed);
	return err;
}

void kvfs_fuse_dirty_writers(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			     int delta)
{
	uint64_t p;

	pthread_mutex_lock(&dl->lock);
	if (delta > 0 || dl->writers)
		dl->writers += delta;
	p = atomic_load_explicit(&dl->pend, memory_order_relaxed);
	/*
	 * The last writer's release comes after its pages were written back
	 * (dirty.h): nothing taken under an older, higher limit is left.
	 */
	if (!dl->writers)
		p = atomic_load_explicit(&dl->cur, memory_order_relaxed);
	if (atomic_load(&dl->fd) >= 0)
		set_pend(dl, mp, p);
	pthread_mutex_unlock(&dl->lock);
}

void kvfs_fuse_dirty_written(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			     uint64_t bytes)
{
	uint64_t p, n, cur;

	if (atomic_load_explicit(&dl->fd, memory_order_acquire) < 0 ||
	    atomic_load_explicit(&dl->pend, memory_order_relaxed) <=
		    atomic_load_explicit(&dl->cur, memory_order_relaxed))
		return;
	/* under the lock: the core's copy in the order of the changes */
	pthread_mutex_lock(&dl->lock);
	p = atomic_load_explicit(&dl->pend, memory_order_relaxed);
	cur = atomic_load_explicit(&dl->cur, memory_order_relaxed);
	n = p > bytes ? p - bytes : 0;
	if (n < cur)
		n = cur;
	if (n != p && atomic_load(&dl->fd) >= 0)
		set_pend(dl, mp, n);
	pthread_mutex_unlock(&dl->lock);
}

/* The expiry passed since the limit went down: pend falls to it. */
static void decay(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp)
{
	uint64_t cur = atomic_load_explicit(&dl->cur, memory_order_relaxed);

	if (atomic_load_explicit(&dl->pend, memory_order_relaxed) <= cur ||
	    now_ns() < atomic_load_explicit(&dl->pend_until,
					    memory_order_relaxed) ||
	    pthread_mutex_trylock(&dl->lock))
		return;
	cur = atomic_load_explicit(&dl->cur, memory_order_relaxed);
	if (atomic_load_explicit(&dl->pend, memory_order_relaxed) > cur &&
	    now_ns() >=
		    atomic_load_explicit(&dl->pend_until, memory_order_relaxed))
		set_pend(dl, mp, cur);
	pthread_mutex_unlock(&dl->lock);
}

/* A vm sysctl in centiseconds, or def when it cannot be read (0: def). */
static uint64_t sysctl_cs(const char *path, uint64_t def)
{
	char buf[24];
	ssize_t n;
	uint64_t v;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return def;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return def;
	buf[n] = '\0';
	v = strtoull(buf, NULL, 10);
	return v ? v : def;
}

int kvfs_fuse_dirty_start(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			  const char *path)
{
	struct kvfs_statfs sf;
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
	dl->floor = kvfs_wb_reserve_bytes(mp) / 4;
	if (dl->floor > KVFS_FUSE_DIRTY_FLOOR)
		dl->floor = KVFS_FUSE_DIRTY_FLOOR;
	/* held to a few pages a writer crawls: 45 MB/s at 256 KiB */
	if (dl->floor < KVFS_FUSE_DIRTY_MIN)
		dl->floor = KVFS_FUSE_DIRTY_MIN;
	if (dl->ceiling < dl->floor) {
		/* the kernel's limit is below the floor already */
		close(fd);
		return -ERANGE;
	}
	err = kvfs_statfs(mp, &sf);
	if (err) {
		close(fd);
		return err;
	}
	dl->cap = sf.blocks * sf.bsize / KVFS_FUSE_DIRTY_SHARE;
	if (dl->cap > dl->ceiling)
		dl->cap = dl->ceiling;
	if (dl->cap < dl->floor)
		dl->cap = dl->floor;
	dl->expire_ns =
		(sysctl_cs("/proc/sys/vm/dirty_expire_centisecs", 3000) +
		 2 * sysctl_cs("/proc/sys/vm/dirty_writeback_centisecs", 500)) *
		10000000ull;
	pthread_mutex_lock(&dl->lock);
	atomic_store_explicit(&dl->cur, dl->ceiling, memory_order_relaxed);
	err = apply(dl, mp, fd);
	/* the limit in force, moved or not (mount.kvfs has not returned) */
	set_pend(dl, mp, err ? 0 : atomic_load(&dl->cur));
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
	uint64_t t, cur, now;

	if (fd < 0)
		return;
	decay(dl, mp);
	t = target(dl, mp);
	cur = atomic_load_explicit(&dl->cur, memory_order_relaxed);
	if (!moved(t, cur))
		return;
	if (t < cur) {
		/*
		 * The space went: every write back the kernel sends under the
		 * old limit is one it refills, so the limit drops now, whoever
		 * is writing it.
		 */
		pthread_mutex_lock(&dl->lock);
	} else {
		now = now_ns();
		if (now < atomic_load_explicit(&dl->next_ns,
					       memory_order_relaxed) ||
		    pthread_mutex_trylock(&dl->lock))
			return;
		atomic_store_explicit(&dl->next_ns, now + PERIOD_NS,
				      memory_order_relaxed);
	}
	/* stopped or refused while this thread got here */
	if (atomic_load(&dl->fd) == fd && apply(dl, mp, fd)) {
		/* a kernel refusing a value: its own limit is left be */
		atomic_store(&dl->fd, -1);
		close(fd);
		set_pend(dl, mp, 0);
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
