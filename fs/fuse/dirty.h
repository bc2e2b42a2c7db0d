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
 * saying ENOSPC), and so can stores through many mappings.
 *
 * The limit is also at most 1/KVFS_FUSE_DIRTY_SHARE of the filesystem's
 * data blocks (1.75 MiB on a 32 MiB image, 15.7 MiB on 256 MiB), since
 * what it lets in is kept from other allocations (below): fallocate to
 * ENOSPC through a writer got 12.6 MiB of 25.2 on 32 MiB with the limit at
 * half the free space, 23.5 MiB with this (dd bs=1M there 0.38 to 0.45 s
 * against 0.27 to 0.39, the same on 256 MiB).
 *
 * What the cache may hold dirty (pend): the limit in force, or more while
 * pages taken under a higher one wait for their write back (each write
 * back takes its bytes off, never below the limit; the kernel writes back
 * what is dirty longer than its dirty_expire_centisecs, so that past that
 * and two of its dirty_writeback_centisecs after the limit went down
 * nothing taken under the old one is left).  While a file is open for
 * writing through the writeback cache the core keeps that much free for
 * the write backs (kvfs_set_wb_pending()), so that what takes space behind
 * the cache's back (O_DIRECT, fallocate, speculative blocks, new inodes)
 * does not take theirs: the limit bounds the cache's pages only when they
 * are taken, and a quarter of the files written with O_DIRECT took the
 * space in seconds, the limit falling from 29 MiB to 0.5 MiB with 9 MiB of
 * the cache's still dirty (tests/fuse/wbstorm.sh lost up to 226 KiB a run
 * without it, nothing in 8 runs with it).  Nothing is kept while no file
 * is open for writing: the kernel's fuse_flush() writes a file's dirty
 * pages back at every close, fuse_release() again (writeback cache) before
 * the release, whose request waits for every write back holding the file
 * (fuse_file_put()), and a shared mapping holds its file open until it is
 * unmapped.  statfs counts pend free (buffered write() may fill it); the
 * others get the free space less pend.  Without the writeback cache
 * nothing is kept (write() is the daemon's; stores through shared mappings
 * are not covered).
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
/* the limit is at most this part of the filesystem's size */
#define KVFS_FUSE_DIRTY_SHARE 16

struct kvfs_fuse_dirty {
	atomic_int fd; /* the bdi's max_bytes, open; -1: not tuned */
	uint64_t ceiling; /* max_bytes as max_ratio set it */
	uint64_t floor; /* the least max_bytes: a quarter of the reserve */
	/* the most: 1/KVFS_FUSE_DIRTY_SHARE of the filesystem, <= ceiling */
	uint64_t cap;
	atomic_uint_least64_t cur; /* the value last written (under lock) */
	/* the most the cache may hold dirty now (kvfs_set_wb_pending()) */
	atomic_uint_least64_t pend;
	/* CLOCK_MONOTONIC: pend may fall to cur then (under lock) */
	atomic_uint_least64_t pend_until;
	uint64_t expire_ns; /* the kernel's expiry of dirty data, and more */
	/* files open for writing through the writeback cache (under lock) */
	uint64_t writers;
	atomic_uint_least64_t next_ns; /* CLOCK_MONOTONIC: the next look */
	pthread_mutex_t lock; /* cur and the file's writes */
};

void kvfs_fuse_dirty_init(struct kvfs_fuse_dirty *dl);

/*
 * Start following mp's free space with the bdi whose max_bytes file is
 * path (its value now taken as the ceiling), never below a quarter of
 * mp's write-back reserve, and keeping what the cache may hold dirty free
 * in mp while a file is open for writing through it.  0, or a negative
 * errno when the file cannot be read and written (nothing is tuned or
 * kept then).
 */
int kvfs_fuse_dirty_start(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			  const char *path);

/*
 * A file open for writing through the writeback cache opened (delta 1) or
 * released (-1): what the cache may hold dirty is kept in mp while one is.
 */
void kvfs_fuse_dirty_writers(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			     int delta);

/*
 * A write back of bytes came: that much less may be dirty, never less than
 * the limit in force (the kernel may refill up to it).
 */
void kvfs_fuse_dirty_written(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp,
			     uint64_t bytes);

/* Bring the limit to the free space if it is time to look. */
void kvfs_fuse_dirty_update(struct kvfs_fuse_dirty *dl, struct kvfs_mount *mp);

/* Close the file (the mount's end); update() does nothing after. */
void kvfs_fuse_dirty_stop(struct kvfs_fuse_dirty *dl);

#endif
