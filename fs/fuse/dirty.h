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
 * the write back failed, those pages lost.
 *
 * The limit: the bdi's max_bytes, kept at half the free space (statfs's),
 * never below the floor, never above what max_ratio gave.  The kernel
 * keeps the bdi's dirty and writeback pages within about 0.3 MiB of it
 * (FUSE's bdi has strictlimit; a fixed max_bytes of 0.25 to 4 MiB under
 * dd at 0.1 to 0.4 GB/s, writes of 64 KiB to 4 MiB), but every write back
 * that lands takes space and the kernel refills what it sent up to the
 * limit it still has: the limit must go down as fast as the space.  The
 * target is computed after every write and fallocate (one counter read)
 * and the bdi's file written when it moved by an eighth: at once when it
 * went down (the thread waits for the lock), at most every
 * KVFS_FUSE_DIRTY_PERIOD_MS when it went up.  Looked at every 20 ms, the
 * limit lagged the space by ten MiB and more at dd's 0.5 to 1 GB/s (17
 * MiB in force with 6 MiB free).  The kernel turns max_bytes into
 * millionths of its global dirty threshold (max_ratio), so the bytes in
 * force move with that threshold until the next write (BdiDirtyThresh in
 * /sys/kernel/debug/bdi/MAJ:MIN/stats).
 *
 * The reserve: blocks only write backs may take (KVFS_FUSE_WB_RESERVE,
 * -o wbreserve=; at most 1/32 of the filesystem, or
 * KVFS_WB_RESERVE_SMALL under 64 MiB: fs/mount.h).  The first write back
 * that needed it makes the filesystem full for buffered write() until
 * space is free again beyond it: every file's next write() is refused
 * with ENOSPC (fs/fuse/ops.c wb_full()).  When the free space
 * runs out it must hold what the cache holds then: the limit (the floor:
 * a quarter of the reserve, within KVFS_FUSE_DIRTY_MIN and
 * KVFS_FUSE_DIRTY_FLOOR, and up to an eighth more), the kernel's 0.3 MiB
 * past it, and the rest of each write() under way, which the kernel
 * finishes as the write backs drain, into the reserve or failing.  With 2
 * MiB and a 0.5 MiB floor (32 and 64 MiB images) write() calls of up to 1
 * MiB lose nothing; a larger one can lose its tail when the space runs
 * out in its middle (dd bs=4M onto 64 MiB: 1.4 MiB, close and fsync
 * saying ENOSPC), and so can stores through many mappings, and writers
 * that go on after their ENOSPC (refused at every write() then) when
 * O_DIRECT writes, fallocate or speculative blocks took the space under
 * pages already dirty: the limit bounds those only when they are taken
 * (a quarter of the files written with O_DIRECT took the space in
 * seconds, the limit falling from 29 MiB to 0.5 MiB with 9 MiB of the
 * cache's still dirty; tests/fuse/wbstorm.sh).
 */
#ifndef KV_FS_FUSE_DIRTY_H
#define KV_FS_FUSE_DIRTY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct kvfs_mount;

#define KVFS_FUSE_DIRTY_FLOOR (16ull << 20)
#define KVFS_FUSE_DIRTY_MIN (256ull << 10)
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
