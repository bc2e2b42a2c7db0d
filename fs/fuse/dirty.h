/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel's dirty limit for the mount, kept below the free space.
 *
 * Under the writeback cache the kernel takes written pages without asking
 * the daemon, up to the bdi's dirty limit (its max_ratio, which
 * fs/fuse/main.c raises to 50: gigabytes on a large machine).  On a
 * filesystem with less free space than that, a writer filled the cache
 * far past the space (2 GiB on a 256 MiB image) and heard of it only when
 * the write back failed, those pages lost.  With the bdi's max_bytes kept
 * at half the free space (never below KVFS_FUSE_DIRTY_FLOOR, never above
 * what max_ratio gave), a write() is refused at most about the floor past
 * the space (fs/fuse/ops.c hands a failed write back's error to the next
 * write()).
 *
 * Root only (sysfs); without the file nothing is tuned.  The limit is
 * looked at after a write or an fallocate, at most every
 * KVFS_FUSE_DIRTY_PERIOD_MS, by whichever request thread gets there first
 * (one counter read, the bdi's file written when the target moved by an
 * eighth); nothing waits.
 */
#ifndef KV_FS_FUSE_DIRTY_H
#define KV_FS_FUSE_DIRTY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kvfs_mount;

#define KVFS_FUSE_DIRTY_FLOOR (16ull << 20)
#define KVFS_FUSE_DIRTY_PERIOD_MS 20

struct kvfs_fuse_dirty {
	atomic_int fd; /* the bdi's max_bytes, open; -1: not tuned */
	uint64_t ceiling; /* max_bytes as max_ratio set it */
	uint64_t cur; /* the value last written, under lock */
	atomic_uint_least64_t next_ns; /* CLOCK_MONOTONIC: the next look */
	pthread_mutex_t lock; /* cur and the file's writes */
};

void kvfs_fuse_dirty_init(struct kvfs_fuse_dirty *dl);

/*
 * Start following mp's free space with the bdi whose max_bytes file is
 * path (its value now taken as the ceiling).  0, or a negative errno when
 * the file cannot be read and written (nothing is tuned then).
 */
int kvfs_fuse_dirty_start(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			  const char *path);

/* Bring the limit to the free space if it is time to look. */
void kvfs_fuse_dirty_update(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp);

/* Close the file (the mount's end); update() does nothing after. */
void kvfs_fuse_dirty_stop(struct kvfs_fuse_dirty *dl);

#endif
