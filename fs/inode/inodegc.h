/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deferred inode inactivation (XFS's inodegc): the last reference to an
 * inode with no links is sometimes dropped where the inode cannot be freed
 * there and then, because freeing takes transactions of its own: inside a
 * transaction (a neighbour on an unlinked list, looked up by another
 * inode's free), in reclaim, in any NOFS scope.  kvfs_iput() then hands
 * its reference to this queue, and a worker thread of the mount drops it
 * outside any transaction, where the put frees the inode
 * (fs/inode/inactive.h).  Nothing is lost if the worker never gets to it: the
 * inode is on its unlinked list, which the next mount empties.
 *
 * kvfs_inodegc_flush() waits until everything queued before it is done:
 * statfs and sync call it, so that counts are exact once the last close
 * has returned (XFS's statfs flushes inodegc the same way).
 *
 * Locking: one mutex per mount (class "kvfs_inodegc"), a leaf: nothing is
 * taken under it.
 */
#ifndef KV_FS_INODEGC_H
#define KV_FS_INODEGC_H

struct kvfs_mount;
struct kvfs_inode;

/* The worker of a writable mount; -ENOMEM, or pthread's error. */
int kvfs_inodegc_start(struct kvfs_mount *mp);
/* Finish the queue, then stop the worker (before the log closes). */
void kvfs_inodegc_stop(struct kvfs_mount *mp);
/* Take over the caller's (last) reference to ip. */
void kvfs_inodegc_queue(struct kvfs_inode *ip);
/* Wait until every inode queued before the call has been put. */
void kvfs_inodegc_flush(struct kvfs_mount *mp);

#endif
