/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mount.kvfs's live figures, read by kvfs-stat.
 *
 * The channel: the daemon answers getxattr(2) of the name
 * KVFS_FUSE_STATS_XATTR ("kvfs.stats") on any inode of its mount with
 * the figures as text, one "name value" line each (the first line is
 * "kvfs-stats 1", the format's version).  No socket to find or clean up:
 * each mount answers for itself, so several mounts are watched at once
 * without a registry, a daemon killed leaves nothing behind, and the
 * kernel's own permission check (read access to the inode asked) guards
 * it.  The core stores no names outside user., trusted. and security., so
 * the name never hides a real attribute, and it is never listed or set.
 *
 * FUSE requests are counted per type with their total time, from the
 * request's arrival in the daemon to its reply, in per-thread slots: a
 * worker only ever writes its own slot (no lock, no shared cache line);
 * a slot outlives its thread and is taken over by the next thread to
 * start, so nothing is lost when libfuse retires idle workers.
 */
#ifndef KV_FS_FUSE_STATS_H
#define KV_FS_FUSE_STATS_H

#include <stddef.h>
#include <stdint.h>

struct kvfs_mount;

#define KVFS_FUSE_STATS_XATTR "kvfs.stats"
/* the largest reply getxattr(2) can carry (XATTR_SIZE_MAX) */
#define KVFS_FUSE_STATS_MAX 65536

enum kvfs_fuse_op {
	KF_LOOKUP,
	KF_FORGET,
	KF_BATCH_FORGET,
	KF_GETATTR,
	KF_SETATTR,
	KF_READLINK,
	KF_MKNOD,
	KF_MKDIR,
	KF_SYMLINK,
	KF_UNLINK,
	KF_RMDIR,
	KF_RENAME,
	KF_LINK,
	KF_OPEN,
	KF_CREATE,
	KF_READ,
	KF_WRITE,
	KF_RELEASE,
	KF_FSYNC,
	KF_OPENDIR,
	KF_READDIR,
	KF_READDIRPLUS,
	KF_RELEASEDIR, /* never sent: no directory handles (kf_opendir()) */
	KF_FSYNCDIR,
	KF_STATFS,
	KF_SETXATTR,
	KF_GETXATTR,
	KF_LISTXATTR,
	KF_REMOVEXATTR,
	KF_FALLOCATE,
	KF_LSEEK,
	KF_COPY_FILE_RANGE,
	KF_IOCTL,
	KF_NR_OPS
};

/* A request of type op began at start (kvfs_fuse_now()) and was answered. */
uint64_t kvfs_fuse_now(void);
void kvfs_fuse_count(enum kvfs_fuse_op op, uint64_t start);

/*
 * The figures as text into buf: its length, or -ERANGE when size is too
 * small (the AGs that do not fit KVFS_FUSE_STATS_MAX are left out and
 * counted in space.ag_omitted), -ENOMEM.
 */
int kvfs_fuse_stats_format(struct kvfs_mount *mp, char *buf, size_t size);

#endif
