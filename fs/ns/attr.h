/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Extended attributes (XFS's xfs_attr*.c) in an inode's attribute fork,
 * format in fs/format.h: short form inline in the fork while the
 * attributes fit it; then one leaf block; past one leaf a hash index node
 * (attribute block 0) over up to (blocksize - 56) / 8 leaves; values too
 * big for a leaf in remote value blocks.  Lookup, insert and remove read
 * at most the node and one leaf (plus a sibling when leaves merge):
 * O(log n) in the leaf (binary search by hash) after one node probe.
 *
 * Namespaces: user., trusted., security. (a non-empty suffix),
 * system.posix_acl_access and system.posix_acl_default (ACL blobs kept as
 * given); any other name is -EOPNOTSUPP.  Names 1..255 bytes whole
 * (-ERANGE otherwise, as Linux), values up to 64 KiB (-E2BIG past).
 *
 * The attribute fork maps the attribute blocks as the data fork maps a
 * file's (fs/data/bmap.h): an extent list in the inode while the extents fit
 * the fork, else an extent-map B+tree rooted in the fork (laid out for
 * the fork's size), back to a list when they fit again; moving the
 * boundary between the forks keeps both roots valid.
 *
 * Every change is one transaction (fs/trans/trans.h, mp->resv.attrset): the
 * blocks it needs are allocated first; if there are not enough of them,
 * what was allocated is unmapped again and the call fails with -ENOSPC,
 * nothing else changed.  A change touches at most KVFS_ATTR_TREE_RANGES
 * ranges of attribute blocks (allocated or freed), each a run of
 * neighbouring records of the fork's tree: the reservation holds the log
 * space of one tree change per range and the blocks of one per extent
 * added.  A removal may use the blocks kept for removals (it allocates
 * only tree blocks).  The inode's ctime moves with every change.
 *
 * Locking: the inode lock, shared by get and list, exclusive (through the
 * transaction) by set and remove.
 */
#ifndef KV_FS_ATTR_H
#define KV_FS_ATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/io/buf.h"
#include "fs/format/geom.h"

struct kvfs_inode;
struct kvfs_trans;

/* Most ranges of attribute blocks one change allocates or frees. */
#define KVFS_ATTR_TREE_RANGES 4
/*
 * Most bytes of attribute blocks one inode maps (new blocks go in the
 * first hole, from attribute block 0: none is numbered past it), which
 * bounds the fork's extents and so its tree's height
 * (fs/trans/trans_resv.h: attr_maxlevels).  -ENOSPC past it.
 */
#define KVFS_ATTR_MAX_BYTES (64u << 20)

/* The whole name is 1..255 bytes without NUL, in a known namespace. */
bool kvfs_attr_name_valid(const char *name, size_t len);
/* The hash of a name: kv_crc32c(0, name, len). */
uint32_t kvfs_attr_hash(const char *name, size_t len);

/* flags: KVFS_XATTR_CREATE / KVFS_XATTR_REPLACE of fs/kvfs.h */
int kvfs_attr_set(struct kvfs_inode *ip, const char *name, const void *value,
		  size_t size, int flags);
ssize_t kvfs_attr_get(struct kvfs_inode *ip, const char *name, void *value,
		      size_t size);
ssize_t kvfs_attr_list(struct kvfs_inode *ip, char *list, size_t size);
int kvfs_attr_remove(struct kvfs_inode *ip, const char *name);

/*
 * Free every attribute block of ip (referenced, locked exclusively,
 * joined to *tpp, a transaction with mp->resv.itruncate's log space) and
 * remove its attribute fork (a B+tree data fork that then fits the inode
 * as a list becomes one).  Blocks go one extent (at most 128 blocks, one
 * tree change) per transaction, each committed and a new transaction of that
 * log space and no blocks allocated into *tpp with ip locked (KVFS_ILOCK_EXCL)
 * and joined again (the inode lock is dropped between: the inode must be
 * unreachable, as an inode being inactivated is).  On error *tpp is the
 * transaction to cancel, or NULL (ip then unlocked).  For inactivation, before
 * the data fork is truncated and kvfs_difree() (which wants no blocks):
 *     kvfs_attr_inactive(&tp, ip); kvfs_symlink_inactive(&tp, ip);
 *     then the data fork, kvfs_difree(tp, ip), commit.
 */
int kvfs_attr_inactive(struct kvfs_trans **tpp, struct kvfs_inode *ip);

/*
 * The checker's view (fs/check/scrub.c): the attribute blocks of inode ino,
 * mapped by the n extents at x (the fork's list, or its tree's records
 * from kvfs_bmbt_read_extents()), read through
 * bc: each block verified, block 0 a leaf or a node whose entries name
 * leaves, every remote value's blocks mapped and in order, every mapped
 * block used exactly once.  0, -EUCLEAN with why, or -ENOMEM/-EIO.
 */
int kvfs_attr_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
		    uint64_t ino, const void *x, uint32_t n, char *why,
		    size_t whylen);

/*
 * The buffer type of attribute blocks (leaf, node and remote value
 * blocks, told apart by their magic; fs/io/buf_ops.c finds it by magic).
 */
extern const struct kv_buf_ops kvfs_attr_buf_ops;

#endif
