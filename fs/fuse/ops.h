/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The FUSE lowlevel operations of mount.kvfs: every request answered from
 * the core API (fs/kvfs.h).  Node ids are inode numbers, except that the
 * root directory is FUSE_ROOT_ID (1) and the inode numbered 1, if any,
 * takes the root's number: the swap is its own inverse.  Entries and
 * attributes are cached by the kernel for a long time (every change to the
 * image passes through this daemon, and the kernel invalidates what its
 * own requests change); negative entries too.
 */
#ifndef KV_FS_FUSE_OPS_H
#define KV_FS_FUSE_OPS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/fuse/dirty.h"

struct kvfs_mount;
struct kvfs_fuse_nodes;

/* 1 MiB reads and writes (libfuse's buffers hold 256 pages) */
#define KVFS_FUSE_MAX_IO (1u << 20)

/*
 * The connection's limits (asked for at INIT; as root also written to the
 * bdi and fusectl files: see fs/fuse/main.c): background requests in
 * flight and the congestion mark, the bdi's dirty share in percent and
 * its read-ahead in KiB (one KVFS_FUSE_MAX_IO read).
 */
#define KVFS_FUSE_MAX_BACKGROUND 128u
#define KVFS_FUSE_CONGESTION_THRESHOLD 96u
#define KVFS_FUSE_BDI_MAX_RATIO "50"
#define KVFS_FUSE_READ_AHEAD_KB "1024"

struct kvfs_fuse {
	struct kvfs_mount *mp;
	struct kvfs_fuse_nodes *nodes;
	struct fuse_session *se; /* for the daemon's own invalidations */
	uint64_t root; /* the root directory's inode number */
	double timeout; /* entry and attribute timeout, seconds */
	bool writeback; /* ask for the kernel's writeback cache */
	/* answer COPY_FILE_RANGE (-o copy_file_range); else ENOSYS */
	bool copy_range;
	bool acl; /* the kernel enforces POSIX ACLs: keep them (set at INIT) */
	/* the bdi's dirty limit, kept below the free space (root only) */
	struct kvfs_fuse_dirty dirty;
	/*
	 * A write back took the write-back reserve or found no room: every
	 * buffered write() is refused until space is free beyond the reserve
	 * (kf_getattr(), wb_full() in fs/fuse/ops.c)
	 */
	atomic_bool wbfull;
	/* requests answered on threads of their own (kf_lseek()), in flight */
	atomic_uint flights;
	/* a signal is stopping the daemon: no new flight (fs/fuse/main.c) */
	atomic_bool closing;
	/* called at the kernel's INIT: requests flow from now on */
	void (*live)(struct kvfs_fuse *fs);
	void *priv;
};

extern const struct fuse_lowlevel_ops kvfs_fuse_ops;

#endif
