/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's table of the inodes the kernel knows (FUSE's lookup
 * counts).  The first reference the kernel takes on an inode (a lookup,
 * create, mkdir, mknod, symlink, link or readdirplus entry) takes one open
 * reference in the core (kvfs_inode_open()); the forget that brings the
 * count to zero drops it (kvfs_inode_close()).  So an unlinked inode the
 * kernel still has (an open file, a cwd) stays allocated until its last
 * forget, and the core frees it then.
 *
 * Each entry also remembers whether the inode has a security.capability
 * attribute, so that the getxattr the kernel sends before every write is
 * answered without the core once it is known; and the error of a write
 * back from the kernel's page cache that failed (ENOSPC), until a write()
 * is told (fs/fuse/ops.c).
 *
 * Safe from any number of threads: the table is split in stripes by inode
 * number, each with its own mutex (taken alone, never with another; the
 * core's kvfs_inode_open() is called under it, no other core call is).
 */
#ifndef KV_FS_FUSE_NODES_H
#define KV_FS_FUSE_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvfs_mount;
struct kvfs_fuse_nodes;

/* What is known of an inode's security.capability attribute. */
enum kvfs_fuse_caps {
	KVFS_CAPS_UNKNOWN = 0,
	KVFS_CAPS_NONE,
	KVFS_CAPS_SET,
};

int kvfs_fuse_nodes_new(struct kvfs_mount *mp, struct kvfs_fuse_nodes **np);
/* Drop every reference the kernel did not forget (unmount), free the table. */
void kvfs_fuse_nodes_free(struct kvfs_fuse_nodes *nt);

/*
 * One more kernel reference on ino (whose generation the caller just
 * read): the first takes the core's open reference, and fails as
 * kvfs_inode_open() does (-ENOENT, -ESTALE) with nothing counted.
 */
int kvfs_fuse_node_get(struct kvfs_fuse_nodes *nt, uint64_t ino, uint32_t gen);
/* The kernel forgot n references to ino. */
void kvfs_fuse_node_forget(struct kvfs_fuse_nodes *nt, uint64_t ino,
			   uint64_t n);

enum kvfs_fuse_caps kvfs_fuse_node_caps(struct kvfs_fuse_nodes *nt,
					uint64_t ino);
/*
 * Record caps (no effect on an inode the kernel forgot): what a setxattr
 * or removexattr just did, or with learned, what a getxattr just read,
 * kept only while nothing is known (a set or remove racing with the read
 * is newer than what the read saw).
 */
void kvfs_fuse_node_set_caps(struct kvfs_fuse_nodes *nt, uint64_t ino,
			     enum kvfs_fuse_caps caps, bool learned);

/*
 * Record err (negative) as ino's writeback error, replacing any (no effect
 * on an inode the kernel forgot); read it (0 if none), and with take clear
 * it.
 */
void kvfs_fuse_node_set_werr(struct kvfs_fuse_nodes *nt, uint64_t ino, int err);
int kvfs_fuse_node_werr(struct kvfs_fuse_nodes *nt, uint64_t ino, bool take);

/*
 * The count of the kernel's files open for writing on ino (open, create:
 * +1; release: -1), after adding delta; 0 for an unknown ino.
 */
uint32_t kvfs_fuse_node_writers(struct kvfs_fuse_nodes *nt, uint64_t ino,
				int delta);

/*
 * The inodes with files open for writing now (*inos, count of them; free
 * it): 0, or -ENOMEM with nothing returned.
 */
int kvfs_fuse_nodes_writing(struct kvfs_fuse_nodes *nt, uint64_t **inos,
			    size_t *count);

/* Inodes the kernel holds now (tests, statistics). */
uint64_t kvfs_fuse_nodes_count(struct kvfs_fuse_nodes *nt);

#endif
