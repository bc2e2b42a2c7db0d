/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The data path of regular files (XFS's xfs_file.c, xfs_iomap.c and
 * xfs_bmap_util.c): kvfs_read(), kvfs_write(), kvfs_fallocate(),
 * kvfs_lseek(), kvfs_fsync() and the size part of kvfs_setattr() of
 * fs/kvfs.h, and what they share.
 *
 * Data goes to and from the device at the extents' locations
 * (kv_dev_pread()/kv_dev_pwrite()), never through the buffer cache.
 *
 * Ordering (no stale data after a crash): a write into a hole allocates
 * the blocks as unwritten extents in one transaction (they read as zeros
 * whatever is on the media), writes the data, then converts exactly the
 * blocks written and sets the size in a second transaction (XFS's I/O
 * completion).  Every log write is preceded by a device flush when such
 * data (or the zeroing of a block's tail) was written since the last one
 * (fs/io/log_io.h), so the checkpoint holding a conversion never reaches the
 * media before the data.  A large file's writes leave the conversion to a
 * settle that flushes first (fs/data/convert.h): the blocks stay pending,
 * and the log's size stays below them, until fsync, sync, unmount or the
 * settle thread.  Overwrites of written blocks need no
 * transaction but the timestamps' (at most one per tick of the coarse
 * clock, as the kernel's current_time()), and no flush before the log's
 * writes: only fsync flushes them.
 *
 * Invariant: the bytes of a written block past the size are zeros on
 * disk (edge blocks of new or unwritten extents are zero-filled, a
 * truncate zeroes the tail of its last block), so extending the size
 * exposes zeros only.
 *
 * Speculative preallocation: a write extending a file of at least
 * KVFS_PREALLOC_FROM bytes that allocates also allocates, unwritten, as
 * many blocks again as the file has past its end (at least
 * KVFS_PREALLOC_MIN, at most KVFS_PREALLOC_MAX), so that a file written
 * sequentially gets few large extents.  A write that runs out of space
 * trims every cached file's speculative blocks and tries once more.  A write
 * that extends the file marks everything past its EOF for trimming, which
 * kvfs_file_trim_prealloc() does at the last close and a size change does
 * at once; fallocate(KEEP_SIZE) past EOF trims what is marked first and
 * sets KVFS_DIFLAG_PREALLOC, so the blocks it allocates past EOF stay:
 * writes mark nothing and preallocate nothing while the flag is set, and a
 * truncate that frees everything past EOF clears it.  The mark lives in
 * memory: blocks past EOF that a crash left (speculative, or a deferred
 * conversion's whose size never reached the log) are trimmed at the first
 * close after the inode is read, unless the flag is set.
 *
 * fsync: the inode's pending blocks settled (a flush, their conversion),
 * then the log forced up to the inode's last change: i_sync_seq (and
 * for fdatasync i_dsync_seq, the last change of its size or map), never a
 * whole-log force; the flush after that log write covers the data, and
 * without a force the device is flushed if data was written since the
 * last flush: one device flush either way when nothing was pending.
 *
 * Locks: i_iolock exclusive for writes that extend the file or are not
 * block-aligned, truncate and fallocate; shared for reads, lseek and
 * aligned overwrites inside the size.  The inode lock only around map
 * lookups, an overwrite's look at its timestamps (shared) and inside
 * transactions (fs/inode/inode.h has the order).
 *
 * Limits until the extent B+tree lands (issue 9): a change that needs
 * more extents than the inode's fork holds fails with -EOPNOTSUPP.  A
 * write then takes only what extends the file's existing extents; a
 * conversion that no longer fits leaves the blocks unwritten (zeros, the
 * write fails with -EOPNOTSUPP).
 */
#ifndef KV_FS_FILE_H
#define KV_FS_FILE_H

#include <stdbool.h>
#include <stdint.h>

struct kvfs_bmap;
struct kvfs_ictime;
struct kvfs_inode;
struct kvfs_mount;
struct kvfs_trans;
struct kvfs_trans_res;

/* Speculative preallocation bounds, in blocks. */
#define KVFS_PREALLOC_MIN 16u
#define KVFS_PREALLOC_MAX 2048u
/* No speculative preallocation for a file smaller than this (bytes). */
#define KVFS_PREALLOC_FROM (64u << 10)

/*
 * Free the speculative blocks past EOF of ip (referenced by the caller,
 * no lock held), if a write left any, or at the first call since the
 * inode was read any block past EOF without KVFS_DIFLAG_PREALLOC: called
 * by the last kvfs_inode_close() of an inode that still has links
 * (kvfs_inode_close() of the `life` branch, before it drops its reference).
 * 0 or -errno.
 */
int kvfs_file_trim_prealloc(struct kvfs_inode *ip);
/*
 * Out of space: free the speculative blocks of every cached file (XFS's
 * blockgc on ENOSPC) whose I/O lock is free (a trylock), and of self (may
 * be NULL) whose I/O lock the caller holds exclusively; then force the
 * log so that the freed blocks can be allocated at once.  No inode lock
 * may be held.  -ENOSPC when called from inside such a trim.
 */
int kvfs_file_trim_all_prealloc(struct kvfs_mount *mp, struct kvfs_inode *self);
/*
 * ip's blocks past EOF are speculative (trimmed at its last close or on
 * ENOSPC): the mark, counted per mount so that the trim of every file
 * walks the inode cache only when some file has it.  Take: clears it,
 * true if it was set (the caller trims).
 */
void kvfs_file_spec_mark(struct kvfs_inode *ip);
bool kvfs_file_spec_take(struct kvfs_inode *ip);

/*
 * ---- shared by fs/data/file.c, fs/data/file_space.c and fs/inode/iattr.c ----
 */

/*
 * The regular file ino, referenced: -EISDIR for a directory, -EINVAL for
 * other types, kvfs_iget()'s errors.
 */
int kvfs_file_get(struct kvfs_mount *mp, uint64_t ino, struct kvfs_inode **ipp);
/*
 * A read of ip (a file, a directory's listing, a symlink's target): atime
 * per the mount's rule, best effort (a full log skips it).  Without the
 * ILOCK held.
 */
void kvfs_file_touch_atime(struct kvfs_inode *ip);
/* The mappings of file blocks [fb, fb + len), under the shared inode lock. */
int kvfs_file_map(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
		  struct kvfs_bmap *map, int *nmap);
/*
 * A transaction (kvfs_trans_alloc()'s arguments, or a reservation kind
 * plus blocks) with ip locked exclusively and joined.
 */
int kvfs_file_trans(struct kvfs_inode *ip, uint32_t log_bytes, unsigned rolls,
		    uint64_t blocks, struct kvfs_trans **tpp);
int kvfs_file_trans_res(struct kvfs_inode *ip, const struct kvfs_trans_res *res,
			uint64_t blocks, struct kvfs_trans **tpp);
/*
 * The same for a truncate from the end (kvfs_itruncate_extents() to a
 * size, or to the last block in use): no blocks, as XFS's truncates and
 * kvfs's inactivation (fs/inode/inactive.c), since unmapping from the end
 * only removes records and cuts the last one, so that a full filesystem
 * can always be truncated.
 */
int kvfs_file_trans_shrink(struct kvfs_inode *ip, struct kvfs_trans **tpp);
/*
 * The same for res, whose blocks may come from the removals' reserve pool
 * (kvfs_trans_alloc_remove()): work that must finish on a full
 * filesystem, a settle's conversion of accepted writes
 * (fs/data/convert.h).
 */
int kvfs_file_trans_reserved(struct kvfs_inode *ip,
			     const struct kvfs_trans_res *res,
			     struct kvfs_trans **tpp);
/* Commit tp, which changed ip (dsync: its size or map), recording the seq. */
int kvfs_file_commit(struct kvfs_trans *tp, struct kvfs_inode *ip, bool dsync);
/*
 * Zero [off, off + len) of one block of ip on disk if that block is
 * written (holes and unwritten blocks read as zeros already).  I/O lock
 * held exclusively.
 */
int kvfs_file_zero_partial(struct kvfs_inode *ip, uint64_t off, uint64_t len);
/*
 * Unmap file blocks [fb, fb + len) (clamped to the largest offset), one
 * extent per transaction, the frees finished by each commit.  I/O lock
 * held exclusively.  -EOPNOTSUPP: a split the fork cannot hold.
 */
int kvfs_file_unmap(struct kvfs_inode *ip, uint64_t fb, uint64_t len);
/*
 * Before the file grows past size: unmap the written blocks past it (what
 * a crash in the middle of a truncate leaves: writes convert blocks and
 * set the size in one transaction, so nothing else is written past the
 * end), whose old bytes would otherwise reappear inside the new size
 * (XFS zeroes that range).  Unwritten blocks (speculative, KEEP_SIZE)
 * read as zeros and stay.  I/O lock held exclusively.
 */
int kvfs_file_drop_stale(struct kvfs_inode *ip, uint64_t size);
/*
 * Back file blocks [fb, fb + len) with unwritten extents where they are
 * holes, in one reservation (-ENOSPC with nothing allocated when the
 * blocks are not there); then, when size is past i_size, set it, and set
 * mtime and ctime in the last commit (fallocate(2) modifies the file, as
 * file_modified() says on ext4 and XFS).  I/O lock held exclusively.
 */
int kvfs_file_alloc_unwritten(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
			      uint64_t size);
/*
 * Free every block past the size rounded up to a block, speculative or
 * not (kvfs_itruncate_extents()), in ip's own transactions.  I/O lock
 * held exclusively.
 */
int kvfs_file_trim_eof(struct kvfs_inode *ip);
/* Set mtime and ctime of ip to now in a transaction of their own. */
int kvfs_file_stamp(struct kvfs_inode *ip);
/* fsync of ip (fs/kvfs.h kvfs_fsync()). */
int kvfs_file_sync(struct kvfs_inode *ip, bool datasync);

#endif
