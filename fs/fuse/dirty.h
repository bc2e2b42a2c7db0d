/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's dirty limit for the mount, kept below the free space.
 *
 * Under the writeback cache the kernel takes written pages without asking
 * the daemon, up to the bdi's dirty limit (its max_ratio, which
 * fs/fuse/main.c raises to 50: gigabytes on a large machine); in both
 * cache modes it takes the stores through shared mappings so.  On a
 * filesystem with less free space than that, a writer filled the cache
 * far past the space (2 GiB on a 256 MiB image) and heard of it only when
 * the write back failed, those pages lost.  With the bdi's max_bytes kept
 * at half the free space (never below the floor, never above what
 * max_ratio gave), the cache holds at most about the floor past the
 * space.  The core keeps a write-back reserve (KVFS_FUSE_WB_RESERVE, at
 * most 1/32 of the filesystem; -o wbreserve=) that only write backs may
 * take, and the floor is half of it (within KVFS_FUSE_DIRTY_MIN and
 * KVFS_FUSE_DIRTY_FLOOR), so that what the cache took when the space ran
 * out lands there.  The first write back that needed the reserve has the
 * file's next write() refused with ENOSPC (fs/fuse/ops.c), as a write
 * back that failed does.
 *
 * Root only (sysfs); without the file nothing is tuned.  The target is
 * computed after every write and fallocate (one counter read), and the
 * bdi's file written when the target moved by an eighth: at once when it
 * went down (the thread waits for the lock), at most every
 * KVFS_FUSE_DIRTY_PERIOD_MS when it went up.  Every write back that lands
 * takes space, and the kernel refills the pages it sent up to the limit
 * it still has: looked at every 20 ms, the limit lagged the space by ten
 * MiB and more at dd's 0.5 to 1 GB/s (17 MiB in force with 6 MiB free).
 */
#ifndef KV_FS_FUSE_DIRTY_H
#define KV_FS_FUSE_DIRTY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kvfs_mount;

#define KVFS_FUSE_DIRTY_FLOOR (16ull << 20)
#define KVFS_FUSE_DIRTY_MIN (1ull << 20)
#define KVFS_FUSE_WB_RESERVE (32ull << 20)
#define KVFS_FUSE_DIRTY_PERIOD_MS 20

struct kvfs_fuse_dirty {
	atomic_int fd; /* the bdi's max_bytes, open; -1: not tuned */
	uint64_t ceiling; /* max_bytes as max_ratio set it */
	uint64_t floor; /* the least max_bytes: half the write-back reserve */
	atomic_uint_least64_t cur; /* the value last written (under lock) */
	atomic_uint_least64_t next_ns; /* CLOCK_MONOTONIC: the next look */
	pthread_mutex_t lock; /* cur and the file's writes */
};

void kvfs_fuse_dirty_init(struct kvfs_fuse_dirty *dl);

/*
 * Start following mp's free space with the bdi whose max_bytes file is
 * path (its value now taken as the ceiling), never below half of mp's
 * write-back reserve.  0, or a negative errno when the file cannot be
 * read and written (nothing is tuned then).
 */
int kvfs_fuse_dirty_start(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			  const char *path);

/* Bring the limit to the free space if it is time to look. */
void kvfs_fuse_dirty_update(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp);

/* Close the file (the mount's end); update() does nothing after. */
void kvfs_fuse_dirty_stop(struct kvfs_fuse_dirty *dl);

#endif
