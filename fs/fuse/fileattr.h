/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The ioctls of chattr(1), lsattr(1) and xfs_io's chattr and lsattr, as
 * the kernel sends them to a FUSE filesystem (fs/fuse/ioctl.c:
 * fuse_fileattr_get() and fuse_fileattr_set(), on a file it opened for
 * them): FS_IOC_GETFLAGS / FS_IOC_SETFLAGS with an int of FS_*_FL, and
 * FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR with a struct fsxattr, answered
 * from kvfs_getflags() and kvfs_setflags() (fs/kvfs.h).  The kernel
 * checks ownership and CAP_LINUX_IMMUTABLE first (vfs_fileattr_set());
 * the core checks them again by the caller's uid.
 */
#ifndef KV_FS_FUSE_FILEATTR_H
#define KV_FS_FUSE_FILEATTR_H

#include <stddef.h>
#include <stdint.h>

struct kvfs_mount;
struct kvfs_cred;

/*
 * ioctl cmd on inode ino with the kernel's input (in, in_size bytes):
 * 0 with *out_size bytes of out (room for out_size bytes on entry) to
 * send back; -ENOTTY for any other cmd, -EINVAL for a payload of the
 * wrong size, -EOPNOTSUPP for a flag or field kvfs does not keep, or the
 * core's error.
 */
int kvfs_fuse_fileattr(struct kvfs_mount *mp, uint64_t ino, unsigned cmd,
		       const struct kvfs_cred *cr, const void *in,
		       size_t in_size, void *out, size_t *out_size);

#endif
