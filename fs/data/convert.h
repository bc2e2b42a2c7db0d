/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deferred conversion of unwritten blocks (XFS converts at write-back
 * completion; we have no page cache, so at a "settle").
 *
 * Why: converting the blocks a write filled in the write's own
 * transaction makes the next checkpoint map them, and a checkpoint that
 * maps blocks must first flush every dirty data page of the image (ordered
 * data, fs/io/log_io.h): with the 1 s push interval, a file being written
 * was written back once a second, where XFS and ext4 leave new data to the
 * kernel's write-back (dirty_expire_centisecs, 30 s).
 *
 * What: a write into unwritten blocks of a large file (one of at least
 * KVFS_PREALLOC_FROM bytes before or after the write, no O_SYNC/O_DSYNC,
 * no wsync mount) leaves them unwritten on disk and in the fork and
 * records the written block ranges in the inode: "pending".
 * Reads, writes (their read-modify-write of edge blocks), lseek and the
 * zeroing of a truncate treat pending blocks as data.  The size the log
 * records stays at what it was when the first range was recorded
 * (kvfs_conv_log_size(), XFS's i_disk_size) unless a size change sets it.
 * A settle (kvfs_conv_settle()): fsync, sync, unmount, a punch or zeroing
 * over a range, and the settle thread every KVFS_CONV_MS for every inode
 * with ranges, seals the ranges, flushes the device (their data is then
 * durable), and converts the sealed ranges in transactions that also log
 * the size, their tree blocks those kept for them (Space below).  A crash
 * before that leaves the file as before the writes: blocks unwritten
 * (zeros) and, where the writes extended it, the old size.
 *
 * When a range cannot be recorded (no slot, no memory for the set), the
 * write converts at once, as before, after ordering every data write made
 * so far before the next log write (kvfs_log_io_order()).
 *
 * Space: an inode's ranges keep the blocks their conversions may take
 * for the extent map's tree (kvfs_bmap_convert_blocks(): none while the
 * fork is a list with room for the records they add, two a range, else
 * the write reservation's tree blocks a range), taken from the writing
 * transaction's reservation and kept out of the free count until the
 * conversion (kvfs_trans_keep_blocks(); XFS reserves a delayed
 * allocation's indirect blocks at write time): a write accepted is one
 * whose conversion has its blocks, however full the filesystem is by the
 * settle.  With the reserve pool alone, which the writes converted at
 * once had used up, a settle left them unwritten and writes that had
 * returned were lost (8 of 9816 on 32 MiB of 1 KiB blocks, every other
 * block of 27 MiB fallocated: tests/file/test_prealloc_full).  Each write
 * is recorded only with what the inode's ranges then need kept (a write
 * whose transaction has none, the reserve pool's or a write back's,
 * converts at once); one whose file's map outgrew what its ranges keep (a
 * list turned tree by the writes converted at once) settles them first,
 * while the reserve pool still has their blocks (fs/data/file.c).  What
 * ranges merged, converted or trimmed no longer need goes back; statfs
 * counts the rest as used.  Ranges recorded while the list had room keep
 * none; a change that may take that room (kvfs_conv_unkept()) settles
 * them first, when their conversions still add records to the list
 * without a block however full the filesystem is: a fallocate, punch or
 * zeroing (fs/data/file_space.c), an O_SYNC/O_DSYNC write and a write
 * converted at once whose two records the list has no room for besides
 * theirs (fs/data/file.c), an attribute change that may create or grow
 * the attribute fork (fs/ns/attr.c).  Else a fallocate of blocks
 * apart, the list turned tree, left them to the free blocks and the
 * reserve pool at the settle: on a full filesystem fsync and the unmount
 * -ENOSPC and the writes lost (tests/file/test_prealloc_tree).  A plain
 * write's allocation in a hole is not settled before (one settle per
 * allocating write): its conversion, recorded or not, looks right after
 * (write_done()), with what its own reservation left above the reserve
 * pool, then the pool.
 *
 * Ranges are only removed by a settle's conversion and by a truncate or
 * inactivation (kvfs_conv_trim(), the blocks themselves go); a punch or
 * zeroing settles what it overlaps first, so no range is ever split.
 *
 * Locks: the ranges change under the inode lock held exclusively (so
 * i_lock_seq covers them for lock-free readers: kvfs_conv_snap()).  The
 * mount's settle lock (kvfs_conv_ctl.lock, rank kvfs_conv) serialises
 * settles, so that the sealed ranges are exactly those sealed before the
 * running settle's flush: taken after the I/O lock (a punch settles under
 * it) and before any transaction and the inode lock; held while waiting
 * for log space (nothing the log needs to move takes it).
 */
#ifndef KV_FS_CONVERT_H
#define KV_FS_CONVERT_H

#include <stdbool.h>
#include <stdint.h>

struct kvfs_inode;
struct kvfs_mount;
struct kvfs_trans;

/* Ranges an inode may have pending; one slot stays free for a trim. */
#define KVFS_CONV_RANGES 8
/* The settle thread's period (ms), as the kernel's dirty_expire. */
#define KVFS_CONV_MS 30000

/* An inode's pending ranges: file blocks [start, end); end 0: free slot. */
struct kvfs_conv {
	uint64_t start[KVFS_CONV_RANGES];
	uint64_t end[KVFS_CONV_RANGES];
	uint32_t sealed; /* slot bits: sealed by the running settle */
	uint32_t nr; /* slots in use */
	uint64_t size; /* the size the log may record while nr */
	/* blocks kept for the conversions (Space above), less what they took */
	uint64_t held;
};

/* A copy of the ranges, taken consistently. */
struct kvfs_conv_snap {
	uint32_t nr;
	uint64_t start[KVFS_CONV_RANGES], end[KVFS_CONV_RANGES];
};

/*
 * Snapshot of ip's ranges.  Under i_lock (either way), or, from a
 * lock-free reader, as a seqcount read of i_lock_seq (the copy is of
 * relaxed loads and counts only if the reader's validation passes).
 */
void kvfs_conv_snap(const struct kvfs_inode *ip, struct kvfs_conv_snap *s);

/*
 * Whether block b is pending in s; *end: the first block past b, at most
 * limit, whose answer differs.
 */
bool kvfs_conv_snap_pending(const struct kvfs_conv_snap *s, uint64_t b,
			    uint64_t limit, uint64_t *end);

/* s has a range overlapping blocks [fb, fe). */
bool kvfs_conv_snap_overlaps(const struct kvfs_conv_snap *s, uint64_t fb,
			     uint64_t fe);

/*
 * Record blocks [fb, fe) of ip, just written into unwritten blocks, as
 * pending instead of converting them: under i_lock exclusive, in tp (ip
 * joined), before the caller changes i_size.  A new range keeps its
 * conversion's blocks out of tp's reservation (tp NULL: none to keep, only
 * a range already recorded may grow).  false: not recorded (the caller
 * converts).
 */
bool kvfs_conv_defer(struct kvfs_inode *ip, struct kvfs_trans *tp, uint64_t fb,
		     uint64_t fe);

/*
 * ip's ranges keep fewer blocks than their conversions may take in a tree
 * (recorded while the list had room for them), and a change adding any
 * number of records (any), else two (a write's conversion), may take
 * that room: the change must settle them first
 * (kvfs_conv_settle_unkept()).  Under i_lock.
 */
bool kvfs_conv_unkept(const struct kvfs_inode *ip, bool any);

/*
 * Blocks from fb on are being unmapped (a truncate, an inactivation):
 * they stop being pending.  Under i_lock exclusive.
 */
void kvfs_conv_trim(struct kvfs_inode *ip, uint64_t fb);

/*
 * The caller set i_size by a size change (truncate, fallocate): the log
 * records that size as it is (blocks still pending under it read zeros
 * after a crash, as XFS's).  Under i_lock exclusive.
 */
void kvfs_conv_size_set(struct kvfs_inode *ip);

/* The size the inode's log record and write-back carry.  Under i_lock. */
uint64_t kvfs_conv_log_size(const struct kvfs_inode *ip);

/* ip has pending ranges (a racy look: reclaim keeps such inodes). */
bool kvfs_conv_busy(const struct kvfs_inode *ip);

/*
 * Make ip's pending blocks durable and written: flush, convert.  ip
 * referenced, no inode lock or transaction held (the I/O lock may be).
 * 0, or the flush's or conversion's -errno (-ENOSPC: no AG could give a
 * B+tree split the blocks kept for it; the ranges stay pending).
 */
int kvfs_conv_settle(struct kvfs_inode *ip);
/* this thread holds the settle lock (kvfs_conv_settle()) */
bool kvfs_conv_settling(void);
/*
 * The same when ip's ranges are unkept (kvfs_conv_unkept(), any): before a
 * change that may take the list's room, under the I/O lock exclusive
 * (no range is recorded meanwhile), or with a look again later.  0 for
 * -ENOSPC: the settle needed a block only because the map had outgrown
 * the list already, and the change goes on as it would have.
 */
int kvfs_conv_settle_unkept(struct kvfs_inode *ip);
/* The same when a range overlaps blocks [fb, fe) (a punch's). */
int kvfs_conv_settle_range(struct kvfs_inode *ip, uint64_t fb, uint64_t fe);
/* Settle every inode with ranges: sync, unmount.  The first error. */
int kvfs_conv_settle_all(struct kvfs_mount *mp);

/*
 * The mount's settle lock and thread (period_ms, 0: KVFS_CONV_MS); start
 * after the inode cache, stop before the log closes.  A read-only mount
 * has none.  Stop settles everything first; its result is returned.
 */
int kvfs_conv_start(struct kvfs_mount *mp, unsigned period_ms);
int kvfs_conv_stop(struct kvfs_mount *mp);

/* Free ip's ranges with the inode. */
void kvfs_conv_free(struct kvfs_inode *ip);

#endif
