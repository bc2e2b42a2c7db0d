// SPDX-License-Identifier: GPL-2.0
/*
 * Transaction reservations (fs/trans/trans_resv.h), in the manner of XFS's
 * xfs_trans_resv.c: each reservation is a sum of named parts, counted in
 * buffers (whole blocks) and inodes.
 *
 * The rule.  A reservation holds the worst case of everything its
 * operation may do between kvfs_trans_alloc() and its final commit:
 *  - blocks: every block the allocator may charge to it (rolls do not
 *    refill blk_res), each tree taken at its maximum height (maxlevels, a
 *    tree of half-full blocks) and split at every level: an insert into a
 *    tree of height h < maxlevels takes h blocks (h - 1 splits and a new
 *    root; an inode root pushed down is the new block), so at most
 *    maxlevels - 1 blocks per record added to a tree with its root in the
 *    inode, maxlevels per record added to one with a block root, and a
 *    list becoming a tree one leaf more.  The free-space trees' splits
 *    and refills come from the AG's reserve list and are never charged
 *    (fs/space/alloc.h); what the caller asks for itself (a data
 *    extent's length, an attribute value's blocks) it adds on top.  An
 *    allocation's minimum must fit what is left BEFORE anything changes:
 *    kvfs_trans_need_blocks() (fs/trans/trans.h) fails it with ENOSPC and
 *    debug builds abort, naming the reservation, so a short one here is
 *    found by the first test that drives the operation to its worst case
 *    (tests/defer/test_resv_worst.c), not by a half-split tree on disk.
 *    A caller whose reservation may lack an optional allocation by design
 *    checks kvfs_trans_blocks_left() first (XFS's okalloc).
 *  - log bytes: one commit's worst case (log_count rolls each get as
 *    much): every buffer it may dirty as a whole-block delta (a split
 *    rewrites whole blocks), every inode it logs, every intent and done.
 * The figures in the comments below are for 4 KiB blocks, 512-byte
 * inodes, 4 KiB directory blocks and 1 GiB in 4 AGs (ialloc_blocks 8;
 * maxlevels: free space 3, inode chunks 2, extent map 6, attribute map 4,
 * directory hash index 5; buffer delta 4200 bytes, inode 560).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "fs/ns/attr.h"
#include "fs/io/buf_item.h"
#include "fs/trans/trans_resv.h"
#include "journal/log_format.h"

uint32_t kvfs_resv_item_bytes(uint32_t len)
{
	return kvj_item_log_bytes(len);
}

uint32_t kvfs_resv_buf_bytes(uint32_t len)
{
	uint32_t chunks = (len + KVFS_BLI_CHUNK - 1) / KVFS_BLI_CHUNK;
	uint32_t map_words = (chunks + 63) / 64;

	return kvfs_resv_item_bytes(sizeof(struct kvfs_buf_log_hdr) +
				    map_words * 8 + chunks * KVFS_BLI_CHUNK);
}

uint32_t kvfs_resv_intent_bytes(uint32_t len)
{
	return kvfs_resv_item_bytes(sizeof(struct kvj_intent_fmt) + len);
}

uint32_t kvfs_resv_done_bytes(void)
{
	return kvfs_resv_item_bytes(sizeof(struct kvj_done_fmt));
}

/*
 * Height of a tree of nrecs records with blocks half full, whose root may
 * hold root_max entries (0: the root is a block like the others), as XFS's
 * xfs_btree_compute_maxlevels.
 */
static uint32_t maxlevels(uint32_t leaf_max, uint32_t node_max,
			  uint32_t root_max, uint64_t nrecs)
{
	uint64_t leaf_min = leaf_max / 2, node_min = node_max / 2;
	uint64_t blocks = (nrecs + leaf_min - 1) / leaf_min;
	uint32_t levels = 1;

	if (root_max) {
		/* levels of blocks until the pointers fit the inode root */
		while (blocks > root_max) {
			blocks = (blocks + node_min - 1) / node_min;
			levels++;
		}
		return levels + 1;
	}
	while (blocks > 1) {
		blocks = (blocks + node_min - 1) / node_min;
		levels++;
	}
	return levels;
}

uint32_t kvfs_inobt_maxlevels(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;
	/* every block of the AG an inode chunk */
	uint64_t chunks =
		((uint64_t)g->agblocks << g->inopblog) / KVFS_INODES_PER_CHUNK;

	return maxlevels(room / sizeof(struct kvfs_inobt_rec),
			 room / (sizeof(struct kvfs_inobt_key) + 8), 0,
			 chunks ? chunks : 1);
}

uint32_t kvfs_bmap_maxlevels(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;
	uint32_t fork = g->inodesize - KVFS_DINODE_CORE_SIZE;
	/* nextents is 32 bits; no file has more extents than blocks */
	uint64_t nrecs = kvfs_max_fileoff_blocks(g);

	if (nrecs > UINT32_MAX)
		nrecs = UINT32_MAX;
	return maxlevels(room / sizeof(struct kvfs_extent),
			 room / (sizeof(struct kvfs_bmbt_key) + 8),
			 (fork - KVFS_BMDR_HDR_SIZE) / 16, nrecs);
}

/* Records of an attribute fork's extent map: one per block at most. */
static uint64_t attr_maxrecs(const struct kvfs_geom *g)
{
	return KVFS_ATTR_MAX_BYTES >> g->blocklog;
}

/* The smallest attribute fork (one extent's room) has a root of one entry. */
uint32_t kvfs_attr_maxlevels(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;

	return maxlevels(room / sizeof(struct kvfs_extent),
			 room / (sizeof(struct kvfs_bmbt_key) + 8), 1,
			 attr_maxrecs(g));
}

/* Blocks of an attribute fork's extent map at its largest (half full). */
static uint64_t attr_tree_blocks(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;
	uint64_t leaf_min = room / sizeof(struct kvfs_extent) / 2;
	uint64_t node_min = room / (sizeof(struct kvfs_bmbt_key) + 8) / 2;
	uint64_t n = (attr_maxrecs(g) + leaf_min - 1) / leaf_min, sum = n;

	while (n > 1) {
		n = (n + node_min - 1) / node_min;
		sum += n;
	}
	return sum;
}

/*
 * A directory holds fewer than 2^32 entries (its data space of
 * KVFS_DIR_SPACE_BYTES, fs/format.h, holds 2^32 / 3 of the smallest), one
 * hash record each, and one free-space record per data block holding at
 * least one.
 */
uint32_t kvfs_dir_maxlevels(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;

	return maxlevels(room / sizeof(struct kvfs_dir_hash_rec),
			 room / (sizeof(struct kvfs_dir_hash_rec) + 8), 0,
			 KVFS_DIR_MAX_ENTRIES);
}

static uint32_t dir_free_maxlevels(const struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;

	return maxlevels(room / sizeof(struct kvfs_dir_free_rec),
			 room / (sizeof(struct kvfs_dir_free_rec) + 8), 0,
			 KVFS_DIR_MAX_ENTRIES);
}

/* Blocks both free-space trees log for n allocations or frees (XFS's). */
static uint32_t allocfree_bufs(const struct kvfs_trans_resv *r, uint32_t n)
{
	return n * 2 * (2 * r->alloc_maxlevels - 1);
}

/*
 * Blocks the extent map logs in one change of a B+tree fork: a split (or
 * join) at every level below the root, both halves logged, and the leaf of
 * a list turned into a tree.  As XFS counts it (the blocks of one path
 * and their new siblings; the second record of a split extent lands in the
 * same leaf but once in a leaf's worth of records).
 */
static uint32_t bmap_split_bufs(const struct kvfs_trans_resv *r)
{
	return 2 * (r->bmap_maxlevels - 1) + 1;
}

/*
 * Blocks a change of a B+tree fork may allocate: a new block at every
 * level below the root for each of two records added, and the leaf of a
 * list turned into a tree (fs/data/bmap.c keeps as much back before it
 * allocates data).
 */
static uint32_t bmap_split_blocks(const struct kvfs_trans_resv *r)
{
	return 2 * (r->bmap_maxlevels - 1) + 1;
}

/* Extent-free intents of the tree blocks one change may free. */
static uint32_t bmap_free_intents(const struct kvfs_trans_resv *r)
{
	return 2 * (r->bmap_maxlevels - 1);
}

/*
 * Blocks of an extent-map tree whose records fit the inode as a list (the
 * root's entries are enough for its leaves).
 */
static uint32_t list_tree_bufs(const struct kvfs_geom *g)
{
	uint32_t recs = (g->inodesize - KVFS_DINODE_CORE_SIZE) /
			sizeof(struct kvfs_extent);
	uint32_t leaf_min = (g->blocksize - KVFS_BTREE_HDR_SIZE) /
			    sizeof(struct kvfs_extent) / 2;

	return (recs + leaf_min - 1) / leaf_min;
}

/* Remote value blocks of a largest attribute value. */
static uint32_t attr_rmt_blocks(const struct kvfs_geom *g)
{
	return (KVFS_XATTR_SIZE_MAX + g->blocksize - KVFS_ATTR_RMT_HDR_SIZE -
		1) /
	       (g->blocksize - KVFS_ATTR_RMT_HDR_SIZE);
}

/*
 * Leaves of the extent-map tree n neighbouring records may span besides
 * the path's (leaves half full at least).
 */
static uint32_t bmap_range_leaves(const struct kvfs_geom *g, uint32_t n)
{
	uint32_t half = (g->blocksize - KVFS_BTREE_HDR_SIZE) /
			sizeof(struct kvfs_extent) / 2;

	return (n + half - 1) / half;
}

/*
 * Blocks the attribute fork's extent map logs in one change of
 * KVFS_ATTR_TREE_RANGES ranges: for each, a split at every level below
 * the root and the leaves its records may span; at most every block the
 * tree had before and after the change.
 */
static uint32_t attr_tree_bufs(const struct kvfs_geom *g,
			       const struct kvfs_trans_resv *r)
{
	uint64_t ranges = KVFS_ATTR_TREE_RANGES *
			  (2 * (uint64_t)(r->attr_maxlevels - 1) + 1 +
			   bmap_range_leaves(g, attr_rmt_blocks(g)));
	uint64_t all = 2 * attr_tree_blocks(g);

	return (uint32_t)(ranges < all ? ranges : all);
}

/* The free-space header and the reserve list of one AG. */
#define AG_FREE_HDR_BUFS 2

static void set(struct kvfs_trans_res *res, uint32_t bufs, uint32_t inodes,
		uint32_t extra, unsigned count, uint64_t blocks,
		const struct kvfs_trans_resv *r)
{
	res->log_bytes = bufs * r->buf_bytes + inodes * r->inode_bytes + extra;
	res->log_count = count;
	res->blocks = blocks;
}

/*
 * The namespace operations (XFS's xfs_calc_{create,link,remove,rename}
 * _reservation), counted from what one directory change logs:
 *   adding an entry: the head and one data block (whole), the hash index
 *   split at every level with a new root, the free-space index's path and
 *   a sibling, the extent map's change for a new data block, one AG's
 *   free-space header, reserve list and trees for the allocations (the
 *   data block and the index blocks come from one AG: one path);
 *   removing one: the head and the data block, the hash index's path and
 *   siblings (joins), the free-space index's path and a sibling, the
 *   extent map's split when a freed data block is punched out, the
 *   intents of the blocks freed (the emptied data block, a last one kept
 *   empty before it, and block 0 and two roots going back to short form;
 *   the frees run in the extent-free steps);
 * plus the inodes.  A new inode from a new chunk is logged in the same
 * transaction as the chunk (fs/inode/ialloc.h), so the operations add a new
 * chunk's reservation (which covers the inode header and the chunk
 * tree's path) to the rest.  log_count 0: the rolls of the deferred frees
 * regrant (and may wait for log space), so that the single unit fits a
 * quarter of the smallest log every geometry allows.
 */
/*
 * Blocks of one directory change, adding an entry (a removal allocates at
 * most the extent map's split of a punched data block, less):
 *   a new data block                            fsbs            1
 *   the hash index, one record: a split at      dirlv + 1       6
 *     every level and a new root
 *   the free-space index, one record            freelv + 1      6
 *   the two roots of a short form gone to       2               2
 *     blocks (fs/ns/dir.c sf_to_block())
 *   the data block's extent added to the map    bmap - 1        5
 *                                                               20
 * The data block is allocated first (fs/ns/dir.c add_dblk()), when
 * alloc_hole() wants fsbs and a whole tree change, 2 * (bmap - 1) + 1,
 * left: 12 of the 20.
 */
static void dir_resv(const struct kvfs_geom *g, struct kvfs_trans_resv *r,
		     uint32_t efi)
{
	uint32_t dirlv = kvfs_dir_maxlevels(g);
	uint32_t freelv = dir_free_maxlevels(g);
	uint32_t dirbuf = kvfs_resv_buf_bytes(g->dirblksize);
	uint32_t fsbs = g->dirblksize >> g->blocklog;
	uint32_t add = (2 * dirlv + 1) + (freelv + 1) + bmap_split_bufs(r) +
		       AG_FREE_HDR_BUFS + allocfree_bufs(r, 1);
	uint32_t rm = 2 * dirlv + (freelv + 1) + bmap_split_bufs(r);
	uint32_t add_bytes = add * r->buf_bytes + 2 * dirbuf;
	uint32_t rm_bytes = rm * r->buf_bytes + 2 * dirbuf + 5 * efi;
	uint32_t chunk = r->create.log_bytes;
	uint64_t blocks =
		fsbs + dirlv + 1 + freelv + 1 + 2 + r->bmap_maxlevels - 1;
	uint32_t b;

	r->dir_maxlevels = dirlv;
	/* link, unlink, rmdir: one change, two inodes (and the parent): 20 */
	b = (add_bytes > rm_bytes ? add_bytes : rm_bytes) + 3 * r->inode_bytes;
	set(&r->dirop, 0, 0, b, 0, blocks, r);
	set(&r->remove, 0, 0, b + r->ifree.log_bytes, 0, blocks, r);
	/*
	 * create, mknod, mkdir, symlink: an inode and its entry: a chunk
	 * (create, 10) and one change (20): 30
	 */
	b = add_bytes + chunk + 3 * r->inode_bytes;
	set(&r->create_name, 0, 0, b, 0, blocks + r->create.blocks, r);
	/*
	 * rename: the target's directory adds or replaces (20), the
	 * source's removes or replaces (20; a whiteout replaces the name in
	 * place), a moved directory's ".." is rewritten in place (no
	 * block), the whiteout's inode a chunk (10): 50.  Four inodes and
	 * the whiteout logged.
	 */
	b = add_bytes + rm_bytes + chunk + 5 * r->inode_bytes;
	set(&r->rename, 0, 0, b, 0, 2 * blocks + r->create.blocks, r);
}

/* An extent-free intent of one extent (fs/format.h) */
#define EFI_ITEM_BYTES KVFS_EFI_REC_SIZE

void kvfs_trans_resv_compute(const struct kvfs_geom *g,
			     struct kvfs_trans_resv *r)
{
	uint32_t efi = kvfs_resv_intent_bytes(EFI_ITEM_BYTES);

	r->alloc_maxlevels = g->alloc_maxlevels;
	r->inobt_maxlevels = kvfs_inobt_maxlevels(g);
	r->bmap_maxlevels = kvfs_bmap_maxlevels(g);
	r->attr_maxlevels = kvfs_attr_maxlevels(g);
	r->buf_bytes = kvfs_resv_buf_bytes(g->blocksize);
	r->inode_bytes = kvfs_resv_buf_bytes(g->inodesize);

	/*
	 * The extent and the map's new blocks (two allocations, as XFS
	 * counts them: the map's blocks come from the same free-space paths),
	 * the intents of the map blocks a merge frees.  Blocks: one tree
	 * change per transaction (fs/data/bmap.c tree_change_done()), which
	 * adds at most two records (an unwritten extent converted in its
	 * middle becomes three), each a split at every level below the
	 * inode root, and a list turned into a tree one leaf:
	 * 2 * (6 - 1) + 1 = 11; the caller adds the data.  Log: the map's
	 * 11 blocks, both free-space trees' paths and siblings twice
	 * (2 * 2 * (2 * 3 - 1) = 20) and the AG's two headers, 33 buffers,
	 * the inode, 10 intents: 139640 bytes with 4 KiB blocks.
	 */
	set(&r->write,
	    bmap_split_bufs(r) + AG_FREE_HDR_BUFS + allocfree_bufs(r, 2), 1,
	    bmap_free_intents(r) * efi, 2, bmap_split_blocks(r), r);
	/*
	 * the extent's intent, and the map blocks as for a write: a punch
	 * splits one record in two (one record added, 6 - 1 blocks); 11
	 * held as for a write, since bmap.c asks a whole tree change of
	 * what is left before a change.  Truncates from the end and the
	 * frees of inactivation (fs/inode/inactive.c) reserve none: they
	 * only remove records and cut the last one.
	 */
	set(&r->itruncate,
	    bmap_split_bufs(r) + AG_FREE_HDR_BUFS + allocfree_bufs(r, 1), 1,
	    (1 + bmap_free_intents(r)) * efi, 2, bmap_split_blocks(r), r);
	/*
	 * A deferred free allocates nothing: the free-space trees' splits
	 * and the reserve list's refills come from the list, never charged
	 * (fs/space/alloc.h).  Log: both trees' paths and siblings, the
	 * headers, a done and the relogged intent.
	 */
	set(&r->extent_free, AG_FREE_HDR_BUFS + allocfree_bufs(r, 1), 0,
	    kvfs_resv_done_bytes() + efi, 2, 0, r);
	/*
	 * The inode header, the chunk's blocks, the tree split, one
	 * allocation.  Blocks: the chunk's, and a split of every level of a
	 * tree short of its maximum height plus its new root, inobt_maxlevels
	 * (one less made the root's split fail on a full chunk, and the
	 * failure was taken for "no room for a chunk": records lost):
	 * 8 + 2 = 10.  There is no free-inode tree: the chunk's record is
	 * the one insert.  A block of more than 64 inodes holds several
	 * chunks, one record each, but such a block is the whole
	 * ialloc_blocks (1) and the records of one block fit one leaf.
	 */
	set(&r->create,
	    1 + g->ialloc_blocks + 2 * r->inobt_maxlevels - 1 +
		    AG_FREE_HDR_BUFS + allocfree_bufs(r, 1),
	    1, 0, 2, g->ialloc_blocks + r->inobt_maxlevels, r);
	/* an inode's core: nothing allocated */
	set(&r->ichange, 0, 1, 0, 0, 0, r);
	/* the inode header's bucket and two inodes: nothing allocated */
	set(&r->iunlink, 1, 2, 0, 0, 0, r);
	/*
	 * The inode header and the record's path, its joins when the record
	 * is freed with its last inode (fs/inode/ialloc.h) with its cluster
	 * cancels and the frees of its blocks, in the transaction: a whole
	 * chunk is one extent, a sparse record at most 8 pieces (an eighth of
	 * a chunk at least), one free per two; the most is the sparse one's.
	 * Nothing is allocated from the reservation: a record updated or
	 * deleted never splits, and the free-space trees' splits of the
	 * frees take the AG's reserve list.
	 */
	set(&r->ifree,
	    1 + 2 * r->inobt_maxlevels - 1 + g->ialloc_blocks +
		    AG_FREE_HDR_BUFS +
		    allocfree_bufs(
			    r, ((g->ialloc_blocks < 8 ? g->ialloc_blocks : 8) +
				1) / 2),
	    2, 0, 0, 0, r);
	/*
	 * Three attribute blocks (a split: the leaf, the new one, the node),
	 * a largest value's remote blocks, the new blocks in two
	 * allocations (the value's, the leaves'); the attribute fork's
	 * extent map (fs/ns/attr.h: attr_tree_bufs()) and the intents of the
	 * extents of the ranges freed (one per block at most) and of the
	 * tree blocks freed; the data fork's tree, small enough to be a
	 * list, going back into the inode when the attribute fork goes.
	 * blocks: one change of the attribute fork's tree, 2 * (4 - 1) + 1
	 * = 7; fs/ns/attr.c multiplies them: a set of a local value takes
	 * 2 leaf blocks and (2 + KVFS_ATTR_TREE_RANGES) tree changes,
	 * 2 + 6 * 7 = 44, and a first attribute the room it makes in the
	 * data fork: a short-form directory gone to blocks (a directory
	 * change, 20; with 64 KiB directory blocks on 1 KiB blocks 89, past
	 * the 56 of the rest there), or an extent list gone to a tree (1).
	 */
	set(&r->attrset,
	    3 + attr_rmt_blocks(g) + AG_FREE_HDR_BUFS + allocfree_bufs(r, 2) +
		    attr_tree_bufs(g, r) + list_tree_bufs(g),
	    1,
	    KVFS_ATTR_TREE_RANGES *
		    (attr_rmt_blocks(g) + 2 * (r->attr_maxlevels - 1)) * efi,
	    1, 2 * (r->attr_maxlevels - 1) + 1, r);
	/*
	 * Blocks: the create's (10: the one less of before 1990fac was
	 * short here too) and the target's extents: the caller adds the
	 * target's blocks (at most 5, on 1 KiB blocks), which may each be
	 * an extent and overflow the inode's list; fs/ns/symlink.c calls
	 * kvfs_bmapi_write() again after each tree change, each call
	 * wanting a whole tree change left (11) and the tree, one leaf,
	 * taking one block in all: 12.  symlink(2) (symlink_name) adds the
	 * same 12 to a named create, which holds the chunk.
	 */
	set(&r->symlink,
	    1 + g->ialloc_blocks + 2 * r->inobt_maxlevels - 1 +
		    (KVFS_SYMLINK_MAXLEN + g->blocksize -
		     KVFS_SYMLINK_HDR_SIZE - 1) /
			    (g->blocksize - KVFS_SYMLINK_HDR_SIZE) +
		    bmap_split_bufs(r) + AG_FREE_HDR_BUFS +
		    allocfree_bufs(r, 2),
	    1, 0, 1, r->create.blocks + bmap_split_blocks(r) + 1, r);

	dir_resv(g, r, efi);
	/* symlink(2): a named create and the target's blocks, one commit */
	r->symlink_name.log_bytes =
		r->create_name.log_bytes + r->symlink.log_bytes;
	r->symlink_name.log_count = r->create_name.log_count;
	r->symlink_name.blocks =
		r->create_name.blocks + r->symlink.blocks - r->create.blocks;
	for (unsigned i = 0; i <= KVFS_RESV_NR; i++) {
		atomic_init(&r->peak[i].n, 0);
		atomic_init(&r->peak[i].most_used, 0);
		atomic_init(&r->peak[i].least_left, UINT64_MAX);
	}
}

uint64_t kvfs_trans_res_grant(const struct kvfs_trans_res *res)
{
	return kvj_trans_grant_bytes(res->log_bytes, res->log_count);
}

/* Every reservation, for the checks over all of them. */
static const struct {
	const char *name;
	size_t off;
} res_fields[] = {
	{ "write", offsetof(struct kvfs_trans_resv, write) },
	{ "itruncate", offsetof(struct kvfs_trans_resv, itruncate) },
	{ "extent_free", offsetof(struct kvfs_trans_resv, extent_free) },
	{ "create", offsetof(struct kvfs_trans_resv, create) },
	{ "ichange", offsetof(struct kvfs_trans_resv, ichange) },
	{ "iunlink", offsetof(struct kvfs_trans_resv, iunlink) },
	{ "ifree", offsetof(struct kvfs_trans_resv, ifree) },
	{ "attrset", offsetof(struct kvfs_trans_resv, attrset) },
	{ "symlink", offsetof(struct kvfs_trans_resv, symlink) },
	{ "dirop", offsetof(struct kvfs_trans_resv, dirop) },
	{ "remove", offsetof(struct kvfs_trans_resv, remove) },
	{ "create_name", offsetof(struct kvfs_trans_resv, create_name) },
	{ "symlink_name", offsetof(struct kvfs_trans_resv, symlink_name) },
	{ "rename", offsetof(struct kvfs_trans_resv, rename) },
};

_Static_assert(sizeof(res_fields) / sizeof(res_fields[0]) == KVFS_RESV_NR,
	       "KVFS_RESV_NR: every reservation in res_fields");

static const struct kvfs_trans_res *res_field(const struct kvfs_trans_resv *r,
					      unsigned i)
{
	return (const void *)((const char *)r + res_fields[i].off);
}

const char *kvfs_trans_res_name(unsigned i)
{
	return i < KVFS_RESV_NR ? res_fields[i].name : "other";
}

const struct kvfs_trans_res *kvfs_trans_res_at(const struct kvfs_trans_resv *r,
					       unsigned i)
{
	return res_field(r, i);
}

unsigned kvfs_trans_res_kind(const struct kvfs_trans_resv *r,
			     uint32_t log_bytes, unsigned log_count)
{
	unsigned i;

	for (i = 0; i < KVFS_RESV_NR; i++)
		if (res_field(r, i)->log_bytes == log_bytes &&
		    res_field(r, i)->log_count == log_count)
			break;
	return i;
}

int kvfs_trans_resv_peaks(struct kvfs_trans_resv *r, char *buf, size_t len)
{
	int n = 0;
	unsigned i;

	if (len)
		buf[0] = 0;
	for (i = 0; i <= KVFS_RESV_NR; i++) {
		struct kvfs_resv_peak *p = &r->peak[i];
		size_t at = (size_t)n < len ? (size_t)n : len;

		if (!atomic_load(&p->n))
			continue;
		n += snprintf(
			buf + at, len - at,
			"%s: %llu trans, reserved %llu, most used %llu, "
			"least left %llu\n",
			kvfs_trans_res_name(i),
			(unsigned long long)atomic_load(&p->n),
			(unsigned long long)(i < KVFS_RESV_NR ?
						     res_field(r, i)->blocks :
						     0),
			(unsigned long long)atomic_load(&p->most_used),
			(unsigned long long)atomic_load(&p->least_left));
	}
	return n;
}

uint64_t kvfs_trans_resv_max_grant(const struct kvfs_trans_resv *r)
{
	uint64_t max = 0;
	unsigned i;

	for (i = 0; i < sizeof(res_fields) / sizeof(res_fields[0]); i++)
		if (kvfs_trans_res_grant(res_field(r, i)) > max)
			max = kvfs_trans_res_grant(res_field(r, i));
	return max;
}

int kvfs_trans_resv_check(const struct kvfs_trans_resv *r, uint64_t log_bytes,
			  char *err, size_t errlen)
{
	unsigned i;

	for (i = 0; i < sizeof(res_fields) / sizeof(res_fields[0]); i++) {
		uint64_t grant = kvfs_trans_res_grant(res_field(r, i));

		if (grant <= log_bytes / 4)
			continue;
		snprintf(err, errlen,
			 "the %s reservation (%llu log bytes) is more than a "
			 "quarter of the %llu-byte log: the log must be at "
			 "least %llu bytes",
			 res_fields[i].name, (unsigned long long)grant,
			 (unsigned long long)log_bytes,
			 (unsigned long long)(4 * grant));
		return -ENOSPC;
	}
	return 0;
}

uint64_t kvfs_trans_resv_min_log_bytes(const struct kvfs_geom *g)
{
	struct kvfs_trans_resv r;
	uint64_t min;

	kvfs_trans_resv_compute(g, &r);
	min = 4 * kvfs_trans_resv_max_grant(&r);
	return min > KVFS_LOG_MIN_BYTES ? min : KVFS_LOG_MIN_BYTES;
}
