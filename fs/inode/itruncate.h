/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Freeing a file's blocks past a size (XFS's xfs_itruncate_extents()), in
 * bounded steps: each step unmaps at most KVFS_ITRUNC_MAX_EXTENTS extents
 * from the end of the file backwards (kvfs_bunmapi()), which queues their
 * frees as extent-free intents; the deferred frees are then finished
 * (each free commits with its intent's done, fs/space/extfree_item.h) and the
 * transaction rolls before the next step.  So a truncate of any number of
 * extents runs in the log space of one step (mp->resv.itruncate covers
 * it, and an extent free: fs/trans/trans_resv.h), and a crash leaves the file
 * with a prefix of its extents and every unmapped extent either free or
 * covered by an intent that recovery finishes.
 *
 * The inode stays locked and joined across the rolls; the size is the
 * caller's to set (and log) in the same transaction.
 */
#ifndef KV_FS_ITRUNCATE_H
#define KV_FS_ITRUNCATE_H

#include <stdint.h>

struct kvfs_inode;
struct kvfs_trans;

/* Extents unmapped per step (one intent each in the step's commit). */
#define KVFS_ITRUNC_MAX_EXTENTS 1

/*
 * Unmap and free every block of ip's data fork at or past the block that
 * holds byte new_size rounded up to a block.  ip is locked
 * KVFS_ILOCK_EXCL and joined to *tpp, which holds a reservation at least
 * mp->resv.itruncate's log bytes; *tpp is the transaction to commit when
 * it returns (rolled in between), ip still joined.  On error *tpp may be
 * dirty: cancel it (the filesystem shuts down; recovery finishes what
 * was committed).  -EOPNOTSUPP for a fork that is not EXTENTS; the errors
 * of kvfs_bunmapi() and kvfs_defer_finish().
 */
int kvfs_itruncate_extents(struct kvfs_trans **tpp, struct kvfs_inode *ip,
			   uint64_t new_size);

#endif
