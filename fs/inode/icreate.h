/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Creating inodes (XFS's xfs_icreate(); the owner rules of Linux's
 * inode_init_owner() and mode_strip_sgid()).
 *
 * kvfs_icreate() allocates through kvfs_dialloc() (fs/inode/ialloc.h) and
 * applies the rules a filesystem owns: the owner is the caller's uid; the
 * group is the caller's gid, or the directory's when the directory has
 * S_ISGID set (a new directory then inherits S_ISGID too); a new
 * non-directory with S_ISGID and S_IXGRP loses S_ISGID, in an S_ISGID
 * directory, when the caller is neither in the file's group nor root (uid
 * 0).  Every timestamp is now.
 * The link-count helpers are in fs/inode/iunlink.h, with the unlinked lists.
 */
#ifndef KV_FS_ICREATE_H
#define KV_FS_ICREATE_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/kvfs.h"

struct kvfs_inode;
struct kvfs_trans;

/*
 * A new inode of mode (S_IF* type and permission bits), rdev (devices
 * only) and nlink links, near directory dp (NULL: near the root), with
 * cr's owner as above.  dp, if given, is held by the caller at least
 * shared-locked (its mode and group are read).  Returns the inode as
 * kvfs_dialloc() does: referenced, locked KVFS_ILOCK_EXCL, joined to tp.
 * tp holds mp->resv.create.  -EINVAL for a mode of no file type, or rdev
 * on a file that is no device; -EOVERFLOW when cr's uid or gid is
 * KVFS_ID_NONE (tp clean); kvfs_dialloc()'s errors (tp may be dirty:
 * cancel it).
 */
int kvfs_icreate(struct kvfs_trans *tp, struct kvfs_inode *dp, uint32_t mode,
		 uint64_t rdev, uint32_t nlink, const struct kvfs_cred *cr,
		 struct kvfs_inode **ipp);

/* cr has gid among its groups (primary or supplementary). */
bool kvfs_cred_in_group(const struct kvfs_cred *cr, uint32_t gid);

#endif
