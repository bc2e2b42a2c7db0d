/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Extent maps (XFS's xfs_bmap.c): which filesystem blocks back which file
 * blocks of an inode's fork (the data fork, or the attribute fork's blocks
 * of fs/ns/attr.h), in the EXTENTS format (a sorted array of
 * struct kvfs_extent in the inode) while the extents fit the fork, in the
 * BTREE format (the extent-map B+tree of fs/btree/bmap_btree.h, rooted in the
 * fork) when they do not.  A change converts between the two (XFS's
 * xfs_bmap_extents_to_btree / xfs_bmap_btree_to_extents), so a fork is
 * BTREE exactly when i_nextents exceeds what the fork holds as a list.
 * All offsets and lengths are in file blocks.  Lookups and changes cost
 * O(log n) tree block visits per extent visited, never a read of the
 * whole map; but a regular file's BTREE data fork is also held in memory
 * whole (fs/data/iext.h, loaded by its first lookup), which lookups
 * search instead of the tree and every change keeps in step.
 *
 * Invariants after every change (kvfs_bmap_check() proves them): extents
 * sorted by file offset and disjoint, each inside one AG and past its
 * headers, ending at or before kvfs_max_fileoff_blocks(); no two
 * neighbours that could be one extent (contiguous in the file and on disk,
 * same state, same AG) are left apart; i_nextents records (in the fork,
 * zeros after them; or in the tree, whose structure walk is clean);
 * i_nblocks is the sum of their lengths plus the tree's blocks.
 *
 * Locking (fs/inode/inode.h): readers hold ip's inode lock at least shared
 * (but kvfs_bmapi_read_nolock(), which validates what it read instead);
 * writers hold it exclusively and have joined ip to tp
 * (kvfs_trans_ijoin()).  Writers log the inode's core and fork.
 *
 * Space: blocks come from kvfs_alloc_file_extent(), charged against tp's
 * reservation (an allocation is cut to what is left of it, less what a
 * tree change may still need: fs/trans/trans_resv.c's write and itruncate
 * reservations hold it); a reservation used up ends a call early (see
 * kvfs_bmapi_write()).  Tree blocks are allocated and freed as
 * fs/btree/bmap_btree.h says, and counted in i_nblocks.
 *
 * Calls that change a BTREE fork (or turn a list into one) make one tree
 * change per call, since the reservations hold the log space and blocks of
 * one: kvfs_bmapi_write() then covers one step of its range and
 * kvfs_bunmapi() one extent; callers loop as they already do for a full
 * map array or a used-up reservation.
 */
#ifndef KV_FS_BMAP_H
#define KV_FS_BMAP_H

#include <stddef.h>
#include <stdint.h>

struct kvfs_inode;
struct kvfs_trans;

/*
 * The forks: every function works on the data fork; the _fork variants
 * on either (the attribute fork's blocks are the extended attributes',
 * fs/ns/attr.h; its changes log KVFS_ILOG_AFORK, its blocks count in
 * i_nblocks as the data fork's do).
 */
#define KVFS_DATA_FORK 0
#define KVFS_ATTR_FORK 1

/* One mapping: startblock KVFS_NULLBLOCK for a hole. */
struct kvfs_bmap {
	uint64_t startoff; /* file block */
	uint64_t startblock; /* filesystem block, or KVFS_NULLBLOCK */
	uint64_t blockcount;
	uint32_t flags; /* KVFS_BMAP_UNWRITTEN */
};

#define KVFS_BMAP_UNWRITTEN (1u << 0) /* allocated, reads as zeros */

/* kvfs_bmapi_write() flags */
#define KVFS_BMAPI_PREALLOC (1u << 0) /* holes get unwritten extents */
#define KVFS_BMAPI_CONVERT (1u << 1) /* unwritten blocks become written */
/* each hole is allocated as one extent or not at all (directory blocks) */
#define KVFS_BMAPI_CONTIG (1u << 2)

/*
 * The mappings of [off, off + len): *nmap in: room in map (>= 1); out:
 * mappings filled, in order, covering the range from off (less than all of
 * it when map is full).  A hole is one mapping however long.  -EFBIG past
 * kvfs_max_fileoff_blocks(), -EINVAL for len 0, -EOPNOTSUPP for a fork
 * that is neither EXTENTS nor BTREE, -EUCLEAN for a corrupt tree, -EIO,
 * -ENOMEM.
 */
int kvfs_bmapi_read(struct kvfs_inode *ip, uint64_t off, uint64_t len,
		    struct kvfs_bmap *map, int *nmap);
int kvfs_bmapi_read_fork(struct kvfs_inode *ip, int whichfork, uint64_t off,
			 uint64_t len, struct kvfs_bmap *map, int *nmap);

/*
 * kvfs_bmapi_read() of the data fork without the inode lock (the reads'
 * fast path, fs/data/file.c): the in-inode extent list read under the
 * inode's lock seqcount (fs/inode/inode.h); for a B+tree fork, one
 * mapping from off in the extent that the last locked read of the tree
 * found (struct kvfs_inode's i_lastext_*), if the fork has not changed
 * since and off is in it (it may cover less than the range: call again
 * for the rest).  -EAGAIN when that cannot answer (off not in that
 * extent, another fork format, an exclusive holder of the inode lock at
 * work, a change during the reads): take the lock shared and call
 * kvfs_bmapi_read().  What it returns was the map at one moment; the
 * caller keeps it true enough (the I/O lock held shared: no block of it
 * is freed meanwhile).
 */
int kvfs_bmapi_read_nolock(struct kvfs_inode *ip, uint64_t off, uint64_t len,
			   struct kvfs_bmap *map, int *nmap);
/*
 * kvfs_bmapi_read_nolock(), and for a B+tree fork its in-core extent list
 * (fs/data/iext.h) if it is loaded, under the inode lock taken shared
 * without waiting: for a caller that may not wait (fs/data/file.c's read
 * inside an RCU read-side section).  -EAGAIN when neither answers (the
 * lock held exclusively, the list not loaded): the locked way.
 */
int kvfs_bmapi_read_rcu(struct kvfs_inode *ip, uint64_t off, uint64_t len,
			struct kvfs_bmap *map, int *nmap);

/*
 * Back [off, off + len) with blocks in tp, as XFS's xfs_bmapi_write():
 * holes get newly allocated extents (written, or unwritten with
 * KVFS_BMAPI_PREALLOC), each placed right after the file's previous
 * extent when that space is free; with KVFS_BMAPI_CONVERT unwritten blocks
 * in the range become written (splitting an extent in up to three);
 * otherwise existing extents are left as they are.  Neighbours are merged.
 * *nmap as kvfs_bmapi_read(), the mappings as they are after the call (no
 * holes).
 *
 * A call covers less than the range when map is full, when the fork is
 * (or becomes) a B+tree and the call made its one tree change, or when the
 * next step would need more blocks than the reservation has left: it
 * returns 0 with what it did; a call that can do nothing fails with
 * nothing changed: -ENOSPC (the allocator may have refilled an AG's
 * reserve list: commit tp, do not cancel it).  A conversion that splits
 * an extent makes sure of the tree's blocks first, in the reservation and
 * in an AG, as a punch does (kvfs_bunmapi()): -ENOSPC without them.  A
 * tree change whose split finds no block after all, past a change, shuts
 * the filesystem down (-EIO).  -EFBIG when the range passes
 * kvfs_max_fileoff_blocks() (nothing changed), -EINVAL for len 0 or
 * PREALLOC with CONVERT.  Other errors (-EIO, -EUCLEAN from the allocator)
 * may leave tp dirty: cancel it.
 */
int kvfs_bmapi_write(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		     uint64_t len, unsigned flags, struct kvfs_bmap *map,
		     int *nmap);
int kvfs_bmapi_write_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
			  int whichfork, uint64_t off, uint64_t len,
			  unsigned flags, struct kvfs_bmap *map, int *nmap);

/*
 * Unmap [off, off + len) in tp (punch, truncate), from its end backwards,
 * splitting the extents at its edges and freeing the blocks, at most
 * max_extents extents per call, so that a truncate rolls its transaction
 * between calls.  *remaining: the range still mapped-or-unvisited is
 * [off, off + *remaining) (0: done).
 *
 * The blocks are freed through extent-free intents
 * (kvfs_free_extent_later(), fs/space/extfree_item.h): logged in tp, the frees
 * themselves done when tp commits, in the transactions that follow it; tp's
 * reservation must hold one intent per extent unmapped
 * (kvfs_efi_intent_bytes()) and those of the tree blocks a change frees
 * (the itruncate reservation holds them for one extent).
 *
 * A punch inside an extent splits it (a full list becomes a tree): the
 * room for the tree's blocks is made sure of first, in tp's reservation and
 * in an AG tp locks for them (kvfs_alloc_hold_space()), and -ENOSPC
 * without it, nothing changed (XFS's xfs_bunmapi() refuses such a split
 * with no blocks reserved): a directory then keeps its empty block.  The
 * split's allocation failing all the same is -ENOSPC too when tp came
 * clean and nothing was logged; past a change it shuts the filesystem
 * down (-EIO).  -EFBIG, -EINVAL as kvfs_bmapi_write(); -EUCLEAN, -EIO
 * from the tree (tp dirty: cancel it).
 */
int kvfs_bunmapi(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		 uint64_t len, unsigned max_extents, uint64_t *remaining);
int kvfs_bunmapi_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
		      int whichfork, uint64_t off, uint64_t len,
		      unsigned max_extents, uint64_t *remaining);

/*
 * The fork whichfork of ip just grew (the boundary between the forks
 * moved: fs/ns/attr.c; a B+tree root already laid out for the new size,
 * kvfs_btree_iroot_resize()): a BTREE fork whose extents now fit it as a
 * list becomes EXTENTS again, as the invariant above wants, its tree's
 * blocks freed through intents in tp (one tree change's log space and
 * intents).  -EUCLEAN, -EIO from the tree (tp dirty: cancel it).
 */
int kvfs_bmap_fork_grown(struct kvfs_trans *tp, struct kvfs_inode *ip,
			 int whichfork);
/*
 * The fork whichfork of ip is about to shrink (an attribute fork is made
 * beside it) below what its extent list needs: an EXTENTS fork with
 * extents becomes a B+tree of one leaf, whose root fits any fork (XFS's
 * xfs_bmap_add_attrfork_extents).  One block from tp's reservation; then
 * tp cannot back out.  0 and nothing done for other formats.
 */
int kvfs_bmap_to_btree(struct kvfs_trans *tp, struct kvfs_inode *ip,
		       int whichfork);

/*
 * Blocks the conversion of nranges ranges of ip's data fork, each inside
 * unwritten extents, may take for the fork's tree (fs/data/convert.h keeps
 * them for writes it leaves pending): each adds at most two records (its
 * edges split out of unwritten extents), none for a list with room for
 * them all, else the write reservation's tree blocks (a split at every
 * level of the tallest tree) for each.  Under the inode lock.
 */
uint64_t kvfs_bmap_convert_blocks(const struct kvfs_inode *ip,
				  uint32_t nranges);

/*
 * SEEK_DATA / SEEK_HOLE in file blocks: the first block at or after off
 * that is data (-ENXIO if none), or a hole (always one: the map ends at
 * kvfs_max_fileoff_blocks() at the latest).  The caller clamps to the
 * size.  Unwritten extents count as holes: with no page cache, an
 * unwritten block reads as zeros until its write converts it (the data is
 * on disk before the conversion commits), so reporting it as a hole says
 * exactly what a read returns (XFS's answer for unwritten extents without
 * cached pages).
 */
int kvfs_bmap_seek_data(struct kvfs_inode *ip, uint64_t off, uint64_t *res);
int kvfs_bmap_seek_hole(struct kvfs_inode *ip, uint64_t off, uint64_t *res);

/*
 * Check the invariants above on ip's in-core fork, and for a BTREE fork the
 * tree's structure walk (fs/btree/btree.h, every block owned by ip) and that
 * i_nblocks counts its blocks: no transaction may hold the tree's blocks.
 * 0, or -EUCLEAN with what is wrong in why (-ENOMEM, -EIO).
 */
int kvfs_bmap_check(struct kvfs_inode *ip, char *why, size_t whylen);

#endif
