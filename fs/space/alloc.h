/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AG block allocator (XFS's xfs_alloc.c): free space of each AG in
 * two B+trees kept in step, by block (fs/btree/alloc_btree.c: start, length)
 * and by size (length, start), with the AG's free-space header (AGF) counters
 * freeblks, longest, free_extents and btreeblks exact after every
 * operation (and their in-core copies in struct kvfs_perag).
 *
 * Reserve list (AGFL): before each allocation or free the AG's reserve
 * list is refilled from its free space (or trimmed back to it) to what a
 * split of the by-block tree and two of the by-size tree need (at least
 * g.agfl_min), so a tree split during the operation takes its blocks from
 * the list and never fails half-way; the trees' block source pops and
 * pushes the list.  A tree block freed in a transaction is not popped
 * again in the same transaction (its buffer is cancelled in it).
 *
 * Space: blocks handed to the caller are charged to its transaction's
 * reservation (kvfs_trans_use_blocks(); an allocation larger than what is
 * left of it is cut to it, or fails with -ENOSPC before any change),
 * blocks freed are credited (kvfs_trans_free_blocks()).  Moves between
 * free space, the reserve list and the tree blocks are not charged
 * (kvfs_ag_avail() in fs/mount.h does not change with them); an AG never
 * hands out blocks below its set-aside.  Allocations never cross an AG
 * nor touch its header blocks (0 .. KVFS_AG_HDR_BLOCKS - 1).
 *
 * Busy extents: an extent freed here is not handed out again until the
 * checkpoint of the freeing transaction is durable (fs/space/extent_busy.h);
 * when all that fits in an AG is busy, or all that could refill its
 * reserve list, the allocator forces the log (once per allocation) and
 * tries that AG again before it tries another.
 *
 * Locks: an operation takes its AG's lock through the transaction
 * (kvfs_trans_lock_ag()) and keeps it until commit, as XFS keeps its AGF
 * buffer locked; an AG numbered lower than one the transaction holds is
 * only trylocked (the ascending AG order of fs/space/perag.h).  The fallback
 * across AGs trylocks every AG in a first pass, then waits only where the
 * order allows; an AG whose in-core counters say the request cannot fit is
 * unlocked again without reading anything.
 *
 * Errors: -ENOSPC nothing fits (nothing changed if the reservation was
 * short; otherwise reserve-list refills may have been logged, which
 * commit keeps); -EAGAIN (free) the AG lock could not be taken in order:
 * free it in its own transaction (an extent-free intent); -EINVAL bad
 * arguments; -EUCLEAN a tree or header is corrupt or the extent to free
 * is already free; -EIO and the buffer cache's errors.  After an error
 * past the first change the transaction is dirty: cancel it.
 */
#ifndef KV_FS_ALLOC_H
#define KV_FS_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct kvfs_mount;
struct kvfs_trans;

enum kvfs_alloc_type {
	KVFS_ALLOC_THIS_BNO, /* exactly at goal (minlen..maxlen from it) */
	KVFS_ALLOC_NEAR_BNO, /* in goal's AG, as close to goal as possible */
	KVFS_ALLOC_THIS_AG, /* in goal's AG, best fit by size */
	KVFS_ALLOC_START_AG, /* near goal in its AG, then the next AGs */
	KVFS_ALLOC_FIRST_AG, /* best fit from AG 0 upward */
};

struct kvfs_alloc_arg {
	/* in */
	struct kvfs_trans *tp;
	uint64_t goal; /* fsb; KVFS_NULLBLOCK: AG 0's start */
	uint32_t minlen, maxlen; /* 1 <= minlen <= maxlen */
	uint32_t alignment; /* the start's AG block is a multiple; 0/1: any */
	enum kvfs_alloc_type type;
	uint64_t owner; /* inode or AG (for a future reverse map) */
	/*
	 * Blocks the AG must still be able to give after this allocation,
	 * in the same transaction (XFS's args->minleft): an inode chunk
	 * leaves room for the split of the AG's inode-chunk tree that
	 * records it, whose blocks cannot come from another AG; a file's
	 * extent for the blocks its extent map's tree may need to record
	 * it, which another AG may not give this transaction (one below an
	 * AG it holds is only trylocked).
	 */
	uint32_t minleft;
	/*
	 * Busy blocks in the way are not worth a log force: the caller has
	 * another place to try (a file's exact next-extent attempt).
	 */
	bool noforce;
	/* an inode chunk: not in an AG whose inode allocation is sick */
	bool inode_chunk;
	/* out */
	uint64_t fsb; /* KVFS_NULLBLOCK when nothing was allocated */
	uint32_t len;
};

/* Allocate an extent as args says; 0 with fsb/len set, or -errno. */
int kvfs_alloc_vextent(struct kvfs_alloc_arg *args);

/*
 * Lock in tp an AG that can still give total blocks, one extent of minlen
 * among them, to this transaction's later allocations (XFS's args->total
 * checked before the first change): the first from start, wrapping; one
 * numbered below an AG tp holds is only trylocked.  Its lock, held to the
 * commit, keeps the room for tp: every allocation type falls back to all
 * the AGs (fs/space/alloc.c alloc_iterate), this one among them.  Nothing
 * is read or logged: -ENOSPC (no such AG) leaves tp as clean as it was.
 */
int kvfs_alloc_hold_space(struct kvfs_trans *tp, uint32_t start,
			  uint32_t minlen, uint32_t total);

/*
 * Free [fsb, fsb + len) (inside one AG, past its headers), merging it with
 * its free neighbours; busy until tp's checkpoint is durable.
 */
int kvfs_free_extent(struct kvfs_trans *tp, uint64_t fsb, uint32_t len);
/*
 * kvfs_free_extent() for a deferred free (fs/space/extfree_item.c): when
 * the AG's headers or free-space trees fail to verify before anything of
 * the AG is logged, the extent is left out of its free space (leaked,
 * reported; fsck.kvfs rebuilds a damaged AG's free space from what the
 * files own) and the free counts as done (0).  Failing it failed the
 * deferred chain, which shuts the log down.
 */
int kvfs_free_extent_deferred(struct kvfs_trans *tp, uint64_t fsb,
			      uint32_t len);

/*
 * Goals.  A file's next extent: exactly after its last one (prev_end, the
 * fsb after its last block; KVFS_NULLBLOCK if none), else near it (near
 * its last block when it ends its AG; near the inode ino without one),
 * else the next AGs.  align > 1: when not exactly after the last, first
 * near the goal in its AG on a multiple of align blocks of the device
 * (when the AGs' size is one), then as without.  Only in an AG that can
 * still give minleft blocks after it (the file's extent-map tree blocks
 * the mapping of the extent may need: fs/data/bmap.c), in every attempt.
 */
int kvfs_alloc_file_extent(struct kvfs_trans *tp, uint64_t ino,
			   uint64_t prev_end, uint32_t minlen, uint32_t maxlen,
			   uint32_t align, uint32_t minleft, uint64_t *fsb,
			   uint32_t *len);
/* Goal of a new file's first blocks or inode chunk: its parent's block. */
uint64_t kvfs_alloc_goal_near_parent(const struct kvfs_mount *mp,
				     uint64_t parent_ino);
/* Goal of a new directory: the start of the next AG of a rotor. */
uint64_t kvfs_alloc_goal_new_dir(struct kvfs_mount *mp);

#endif
