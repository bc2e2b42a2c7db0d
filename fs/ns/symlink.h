/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Symbolic link targets (XFS's xfs_symlink.c), format in fs/format.h: the
 * target (1..KVFS_SYMLINK_MAXLEN bytes, no NUL) inline in the data fork
 * when it fits with room left for a short attribute fork
 * (KVFS_SYMLINK_INLINE_SLACK bytes), else in self-describing symlink
 * blocks mapped by the data fork from file block 0.
 *
 * Locking: write and inactive run in the caller's transaction with the
 * inode locked exclusively and joined; read takes the inode lock shared.
 */
#ifndef KV_FS_SYMLINK_H
#define KV_FS_SYMLINK_H

#include <stddef.h>
#include <stdint.h>

#include "fs/io/buf.h"
#include "fs/format/geom.h"

struct kvfs_inode;
struct kvfs_trans;

/* Data fork bytes an inline target leaves for a later attribute fork. */
#define KVFS_SYMLINK_INLINE_SLACK 64

/* Symlink blocks a target of len bytes takes out of line. */
uint32_t kvfs_symlink_blocks(const struct kvfs_geom *g, size_t len);

/*
 * Store target (len bytes) in ip, a new S_IFLNK inode with an empty data
 * fork, locked and joined to tp: tp needs mp->resv.symlink plus
 * kvfs_symlink_blocks(len) blocks.  -ENAMETOOLONG past
 * KVFS_SYMLINK_MAXLEN, -ENOENT for an empty target (as Linux), -EINVAL for
 * one holding a NUL; then nothing is changed.  Other errors (-ENOSPC,
 * -EIO) leave tp dirty: cancel it.
 */
int kvfs_symlink_write(struct kvfs_trans *tp, struct kvfs_inode *ip,
		       const char *target, size_t len);

/*
 * The target of ip into buf, NUL-terminated: its length; -EINVAL when ip
 * is not a symbolic link, -ERANGE when buf is too small, -EUCLEAN.
 */
int kvfs_symlink_read(struct kvfs_inode *ip, char *buf, size_t size);

/*
 * Free ip's symlink blocks (invalidated, then unmapped through
 * extent-free intents) in *tpp, ip locked and joined; an inline target
 * needs nothing.  For inode inactivation, before kvfs_difree(); the
 * `life` branch's data-fork truncate must not free symlink blocks without
 * their invalidation.
 */
int kvfs_symlink_inactive(struct kvfs_trans **tpp, struct kvfs_inode *ip);

/*
 * The checker's view: symlink inode ino of size bytes whose EXTENTS data
 * fork maps the n extents at x: blocks 0..kvfs_symlink_blocks(size) - 1
 * mapped, nothing else, each verified and holding its piece.  0, -EUCLEAN
 * with why, or -ENOMEM/-EIO.
 */
int kvfs_symlink_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, uint64_t size, const void *x, uint32_t n,
		       char *why, size_t whylen);

extern const struct kv_buf_ops kvfs_symlink_buf_ops;

#endif
