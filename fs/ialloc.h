/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inode allocation (XFS's xfs_ialloc.c): finding a free inode in the
 * inode-chunk tree (records of 64 inodes with a free mask and a hole mask,
 * fs/format.h), marking it used or free again, and initialising the
 * in-core and on-disk inode.
 *
 * An inode is taken from the chunks that exist, preferring the parent's
 * AG and, there, the parent's chunk, then the next AGs in order.  Making
 * new chunks needs the AG block allocator, which is not there yet: with
 * every chunk full, kvfs_dialloc() answers -ENOSPC.
 *
 * Locking: the AG's lock (fs/perag.h) is held while its inode header and
 * inode-chunk tree are read and changed and its in-core counts updated;
 * the transaction then holds the inode header's buffer, locked, to its
 * commit, which keeps every other allocation or free in that AG waiting
 * until then (as XFS's AGI buffer lock does).  kvfs_difree() is called
 * with the inode locked (inode lock before AG lock and buffer locks);
 * kvfs_dialloc() locks the new inode after the inode header's buffer,
 * the one exception to that order (see fs/inode.h).
 *
 * Counts: the inode header's free count and the AG's in-core one move by
 * one with each allocation and free; icount changes only with chunks.
 */
#ifndef KV_FS_IALLOC_H
#define KV_FS_IALLOC_H

#include <stdint.h>

#include "fs/inode.h"

struct kvfs_trans;

/* What a new inode starts as. */
struct kvfs_icreate_args {
	uint16_t mode; /* S_IF* | permissions, not 0 */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t rdev; /* device files */
};

/*
 * Allocate an inode near parent (an inode number, or KVFS_NULLINO for AG
 * 0) in tp and initialise it from a: size 0, no extents, every timestamp
 * now, a generation different from the one the inode had when it was
 * last freed.  Returns it referenced, locked KVFS_ILOCK_EXCL and joined
 * to tp (commit unlocks it; the caller puts the reference).  -ENOSPC when
 * no chunk has a free inode; -EUCLEAN when the tree and the inode disagree
 * (reported).  On error after something changed, tp is dirty: cancel it.
 */
int kvfs_dialloc(struct kvfs_trans *tp, uint64_t parent,
		 const struct kvfs_icreate_args *a, struct kvfs_inode **ipp);

/*
 * Free ip, which the caller holds referenced, locked KVFS_ILOCK_EXCL and
 * joined to tp, with its data fork empty (no extents, no blocks: -EBUSY
 * otherwise): the inode becomes mode 0 (its generation kept, so that the
 * next allocation moves it on) and its chunk record marks it free.
 * -EUCLEAN when the record says it is free already (reported).
 */
int kvfs_difree(struct kvfs_trans *tp, struct kvfs_inode *ip);

#endif
