/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An inode's immutable and append-only flags (chattr +i, +a; the core of
 * kvfs_getflags() / kvfs_setflags(), fs/kvfs.h), judged as Linux's VFS
 * judges IS_IMMUTABLE() and IS_APPEND() (inode_permission(MAY_WRITE),
 * may_delete(), vfs_link(), notify_change(), vfs_fallocate(),
 * xattr_permission()).  The kernel cannot judge them for a FUSE
 * filesystem: it does not know the flags, so every operation of the core
 * that changes an inode asks here.
 *
 *  - kvfs_iflags_may_change(): a change that rewrites or takes away
 *    (contents other than appended, the size, mode, owner, times set
 *    explicitly, xattrs; a name removed from a directory; the inode's own
 *    names, removed, moved or added): both flags refuse it, -EPERM.
 *  - kvfs_iflags_may_add(): a change that only adds (a name added to a
 *    directory, bytes appended, blocks allocated past EOF keeping the
 *    size, times set to now): only the immutable flag refuses it.
 *  - kvfs_iflags_may_delete(): ip's name removed from (or replaced in)
 *    dp, Linux's may_delete(): the directory's flags, then the inode's.
 *
 * The flags are read without the inode's lock, as the VFS reads i_flags:
 * a change racing a chattr is judged by the flags before or after it.
 * Write backs of pages the kernel's cache took before a chattr +i are
 * not refused (their data would be lost): only what opens, truncates and
 * changes is.
 */
#ifndef KV_FS_IFLAGS_H
#define KV_FS_IFLAGS_H

#include <errno.h>

#include "fs/format.h"
#include "fs/inode/inode.h"

static inline uint32_t kvfs_iflags(const struct kvfs_inode *ip)
{
	return __atomic_load_n(&ip->i_diflags, __ATOMIC_RELAXED);
}

static inline int kvfs_iflags_may_change(const struct kvfs_inode *ip)
{
	return kvfs_iflags(ip) & (KVFS_DIFLAG_IMMUTABLE | KVFS_DIFLAG_APPEND) ?
		       -EPERM :
		       0;
}

static inline int kvfs_iflags_may_add(const struct kvfs_inode *ip)
{
	return kvfs_iflags(ip) & KVFS_DIFLAG_IMMUTABLE ? -EPERM : 0;
}

static inline int kvfs_iflags_may_delete(const struct kvfs_inode *dp,
					 const struct kvfs_inode *ip)
{
	int err = kvfs_iflags_may_change(dp);

	return err ? err : kvfs_iflags_may_change(ip);
}

#endif
