/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inode allocation (XFS's xfs_ialloc.c): finding a free inode in the
 * inode-chunk tree (records of 64 inodes with a free mask and a hole mask,
 * fs/format.h), marking it used or free again, and initialising the
 * in-core and on-disk inode.
 *
 * An inode is taken from the parent's AG (there, the parent's chunk
 * first): from a chunk with a free inode, else from a new chunk of
 * g.ialloc_blocks blocks (aligned to that count, so that its first inode
 * number is a multiple of its inodes) allocated near the parent's inode
 * block, as XFS's xfs_dialloc makes chunks on demand in the parent's AG.
 * Only when no chunk fits there does a free inode of the next AGs, in
 * order, serve, and then a new chunk anywhere (fs/space/alloc.h).  Where
 * no such extent is left (free space fragmented), a piece of a sparse
 * chunk is allocated instead, as XFS does: the smallest
 * unit a hole-mask bit can describe rounded up to whole blocks (4 inodes,
 * so one block of 8 with 512-byte inodes in 4 KiB blocks) and to an
 * eighth of a chunk at least, aligned to its size, its chunk being the
 * ialloc_blocks-aligned one around it; its
 * record is inserted with the rest as holes, or an existing record of
 * that chunk gains it (hole bits cleared, count and free count grown).
 * The new inodes are written free into ordered cluster buffers, logged as
 * one creation item (fs/inode/icreate_item.h, XFS's icreate), the records
 * inserted or merged (the chunk tree's blocks come from the AG allocator),
 * the inode header's icount, ifree and newino moved with the AG's
 * in-core counts, and the new inode is taken from it in the same
 * transaction: recovery replays a checkpoint's inode deltas after its
 * buffer and creation items (journal/journal.h, struct
 * kvj_recover_ops.phase), so the cluster's free inode never lands over
 * the allocated one.
 *
 * Locking: the AG's lock (fs/space/perag.h) is taken through the transaction
 * (kvfs_trans_lock_ag()) and held to its commit once the inode header
 * has been read, as XFS holds its AGI buffer: it covers the inode header,
 * the inode-chunk tree, the in-core counts and, with the allocator, the
 * free space a new chunk comes from.  An AG with no free inode by its
 * in-core counts is unlocked again without reading anything; an AG
 * numbered lower than one the transaction holds is only trylocked (and
 * skipped when busy).  kvfs_difree() is called with the inode locked
 * (inode lock before AG lock and buffer locks); kvfs_dialloc() locks the
 * new inode after the inode header's buffer, the one exception to that
 * order (see fs/inode/inode.h).  A new chunk's inodes are read into the inode
 * cache from the buffers the transaction holds (KVFS_IGET_CREATE).
 *
 * Counts: the inode header's free count and the AG's in-core one move by
 * one with each allocation and free; icount and ifree move by a chunk's
 * (or a piece's) inodes with each new chunk or piece.
 *
 * Freeing: a record is freed once its last allocated inode is (XFS's
 * xfs_difree_inode_chunk without ikeep): the record leaves the tree, its
 * blocks (a whole chunk's, or a sparse record's pieces: a piece on its
 * own is never freed) return to free space in the same transaction, their
 * cluster buffers are invalidated (logged cancels, so that recovery
 * replays no older delta, buffer or inode, into blocks that may hold
 * anything since), icount and ifree drop by the record's count.  Where a
 * block holds more inodes than a chunk (several records a block), records
 * are kept, as XFS does.  A chunk freed and made again may come back at
 * the same inode numbers: its inodes start at a random generation, so that
 * a removed file's handle does not open the new file.  The inode header's
 * newino (the last chunk made) and the AG's in-core allocation hint may
 * name a chunk freed since: the hint's lookup finds the record at or
 * before it, and nothing allocates by newino.
 */
#ifndef KV_FS_IALLOC_H
#define KV_FS_IALLOC_H

#include <stdint.h>

#include "fs/inode/inode.h"

struct kvfs_mount;
struct kvfs_trans;
struct kv_buf;

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
 * to tp (commit unlocks it; the caller puts the reference).  tp needs the
 * blocks and log space of a new chunk and a tree split reserved
 * (mp->resv.create).  -ENOSPC when no chunk has a free inode and no new
 * chunk fits (the reservation or the AGs); -EUCLEAN when the tree and the
 * inode disagree (reported).  On error after something changed, tp is
 * dirty: cancel it.
 */
int kvfs_dialloc(struct kvfs_trans *tp, uint64_t parent,
		 const struct kvfs_icreate_args *a, struct kvfs_inode **ipp);

/*
 * Free ip, which the caller holds referenced, locked KVFS_ILOCK_EXCL and
 * joined to tp, with its data fork empty (no extents, no blocks: -EBUSY
 * otherwise): the inode becomes mode 0 (its generation kept, so that the
 * next allocation moves it on) and its chunk record marks it free.
 * -EUCLEAN when the record says it is free already (reported); -EAGAIN
 * when tp holds a higher AG's lock and this AG's is busy (the AG order).
 */
int kvfs_difree(struct kvfs_trans *tp, struct kvfs_inode *ip);

/*
 * AG agno's inode header in tp, under the AG's lock taken through tp (held
 * to its commit; -EAGAIN when tp holds a higher AG and this one is busy),
 * the AG's in-core counts loaded on first use (the unlinked lists of
 * fs/inode/iunlink.h live there too).
 */
int kvfs_ialloc_read_agi(struct kvfs_trans *tp, uint32_t agno,
			 struct kv_buf **bpp);

/*
 * Whether ino lies in an allocated chunk, outside the holes of a sparse
 * one (XFS's xfs_imap() with XFS_IGET_UNTRUSTED): for an inode number
 * from outside (a file handle, a tool's argument) before anything is read
 * where it points, which may be free space, a freed chunk's blocks holding
 * a file's data since, or past the AG's inodes.  0 if it does; -EINVAL if
 * no chunk record holds it or it is in a hole; the tree's read errors.
 * The caller holds the AG's lock (kvfs_perag_lock()) and no transaction:
 * the answer holds while it keeps the lock (chunks are freed under it).
 */
int kvfs_ialloc_check_ino(struct kvfs_mount *mp, uint64_t ino);

#endif
