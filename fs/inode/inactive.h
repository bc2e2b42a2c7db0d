/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inactivation (XFS's xfs_inactive()): freeing an inode that has no links
 * once nobody uses it any more.  An inode with link count 0 stays
 * allocated, on its AG's unlinked list (fs/inode/iunlink.h), while it has
 * references: cache references (kvfs_iget()) or open references
 * (kvfs_inode_open() in fs/kvfs.h, counted by inode number in
 * fs/inode/openref.h, apart from the cache).  The last kvfs_iput() of such an
 * inode that is not open frees it, in transactions of its own:
 * its data blocks (kvfs_itruncate_extents() to 0, in bounded steps), then
 * off the unlinked list and kvfs_difree() together.  A crash anywhere in
 * between leaves it on the list, and the next read-write mount frees it
 * (kvfs_iunlink_recover()).
 *
 * Where it runs: only in the put path, never in the cache's reclaim
 * (which only frees unreferenced clean inodes, and runs in no transaction
 * anyway), and never inside a transaction: a last put from inside a
 * transaction's NOFS scope (the thread may hold the very locks the free
 * needs) hands the inode to the mount's inode worker (fs/inode/inodegc.h),
 * which kvfs_close() drains before it writes the clean superblock.
 * Callers therefore drop their last reference on an inode they unlinked
 * after their commit, holding no inode lock (the free takes the inode's
 * locks, then AG locks).  Read-only and shut-down mounts free nothing,
 * nor does a mount before kvfs_iunlink_recover() has loaded the lists,
 * nor one whose lists of the inode's AG did not read.
 */
#ifndef KV_FS_INACTIVE_H
#define KV_FS_INACTIVE_H

#include <stdbool.h>

struct kvfs_inode;

/* ip has no links, is allocated, is not open, and the mount can write. */
bool kvfs_inode_needs_inactive(struct kvfs_inode *ip);

/*
 * ip, locked exclusive by a transaction about to drop its last link, can
 * be freed in that transaction (kvfs_difree() in place of the unlinked
 * list): nobody has it open or holds another reference, and it has nothing
 * for inactivation to truncate.  XFS frees in inactivation because the VFS
 * holds the inode past the unlink; an inode nobody holds needs none, and
 * one transaction that removes the name and frees the inode is whole or
 * absent after a crash, with nothing left on a list for the next mount.
 */
bool kvfs_inode_free_at_unlink(struct kvfs_inode *ip);

/*
 * Free ip (referenced by the caller, unlocked, no transaction running):
 * blocks, then the inode.  -EUCLEAN (reported, ip marked sick, nothing
 * freed) when ip is on no unlinked list (kvfs_iunlink_check()).  -EIO
 * after a shutdown, -ENOSPC when no log
 * space or blocks could be reserved; the errors of the steps (the
 * filesystem is then shut down if a step had changed something).  ip is
 * left on its unlinked list on error, and the error recorded through the
 * report path (fs/io/blkhdr.h: the inode, "unlinked inode", why).
 */
int kvfs_inactive(struct kvfs_inode *ip);

#endif
