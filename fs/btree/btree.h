/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The generic B+tree engine (XFS's xfs_btree.c): one implementation of
 * cursors, lookup, insert, delete, update, split, join, shifts between
 * siblings, root growth and shrink, and the structure walk, for every tree
 * type.  A tree type is a small table (struct kvfs_btree_tree_ops): its
 * block format (struct kvfs_btree_ops, fs/btree/btblock.h), its buffer type,
 * where its root lives (an AG header, or an inode's fork) and where its
 * blocks come from (the AG allocator's reserve list, or the AG allocator
 * for an inode's tree).  Every pointer (child, sibling) is a 64-bit
 * filesystem block number, so that a tree owned by an inode spans AGs.
 *
 * Roots in an inode (XFS's XFS_BTREE_ROOT_IN_INODE, tree_ops->iroot set):
 * the root is a node in the inode's fork (struct kvfs_bmdr_block: level,
 * numrecs, then maxrecs keys and maxrecs pointers, maxrecs =
 * kvfs_btree_iroot_maxrecs() of the fork's size), never a leaf, holding
 * at least one entry.  When it is full it grows out of the inode
 * (xfs_btree_new_iroot): its entries move to a new block, the root keeps
 * one pointer to it, a level higher.  When it has one entry and that
 * child's entries fit it, they move back into the inode and the child is
 * freed (xfs_btree_kill_iroot).  The only child of a one-entry inode root
 * may hold fewer than the minimum (as in XFS), down to none; turning a
 * small tree back into something else (an extent list) is the owner's
 * business (fs/data/bmap.c).  The cursor works on a copy of the root in block
 * format and writes it back to the fork, logging it through
 * tree_ops->log_iroot, at every change.
 *
 * Blocks: a node at level l > 0 holds numrecs keys and child pointers; key
 * i equals the first key of child i (the walk checks it); a leaf holds
 * numrecs records.  Every block but the root holds at least maxrecs / 2
 * entries (kvfs_btree_minrecs()); the root leaf may be empty, a root node
 * holds at least two.  Blocks of one level are linked both ways in key
 * order.
 *
 * Transactions: a cursor works inside one transaction (struct kvj_trans);
 * every block is read with kvfs_trans_read_buf() (verified on its way from
 * the device), every change logged with kvfs_trans_log_buf() over the
 * bytes changed, new blocks taken with kvfs_trans_get_buf(), freed ones
 * invalidated with kvfs_trans_binval().  The transaction holds and locks
 * every buffer the cursor touched until it commits.  The caller reserves
 * enough log space and blocks for the worst case (a split at every level,
 * a new root) before it starts.
 *
 * Concurrency: the engine takes no locks of its own.  The caller serialises
 * every cursor and walk of one tree (for the AG trees: the per-AG lock,
 * held across the transaction); buffer locks come with the transaction.
 *
 * Errors: every function returns 0 or a negative errno.  A block that is
 * not what the tree expects (verifier failure on read, wrong level, an
 * empty non-root block) is -EUCLEAN, reported via kvfs_corrupt(); the
 * engine never crashes on a corrupt block.  An operation that fails after
 * changing blocks leaves the transaction dirty: the caller cancels it,
 * which shuts the log down, as XFS does.
 */
#ifndef KV_FS_BTREE_H
#define KV_FS_BTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/btree/btblock.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/format.h"
#include "fs/format/geom.h"
#include "journal/journal.h"

struct kvfs_btree_cur;

struct kvfs_btree_tree_ops {
	const struct kvfs_btree_ops *fmt; /* block format, record ops */
	const struct kv_buf_ops *buf_ops; /* read verifier, write stamp */
	/* root block (fsb) and its level (height - 1) */
	void (*get_root)(struct kvfs_btree_cur *cur, uint64_t *root,
			 unsigned *level);
	/* record (and log, in cur->tp) a new root and level */
	void (*set_root)(struct kvfs_btree_cur *cur, uint64_t root,
			 unsigned level);
	/*
	 * A free block for the tree, preferably near near (fsb), in cur->tp;
	 * -ENOSPC if none (the caller should have reserved enough).
	 */
	int (*alloc_block)(struct kvfs_btree_cur *cur, uint64_t near,
			   uint64_t *fsb);
	/* fsb no longer belongs to the tree (already invalidated in cur->tp) */
	int (*free_block)(struct kvfs_btree_cur *cur, uint64_t fsb);
	/*
	 * Roots in an inode: the fork bytes holding the root and their size
	 * (get_root/set_root are then unused), and log the fork in cur->tp
	 * after the engine changed it.  NULL for roots in a block.
	 */
	uint8_t *(*iroot)(struct kvfs_btree_cur *cur, uint32_t *size);
	void (*log_iroot)(struct kvfs_btree_cur *cur);
};

/* The largest fork an inode root can live in (a 2 KiB inode's). */
#define KVFS_BTREE_IROOT_MAX ((1u << KVFS_MAX_INODELOG) - KVFS_DINODE_CORE_SIZE)

/* Entries an inode root of size bytes holds for keys of keysize bytes. */
static inline unsigned kvfs_btree_iroot_maxrecs(uint32_t size, uint32_t keysize)
{
	if (size < KVFS_BMDR_HDR_SIZE)
		return 0;
	return (size - KVFS_BMDR_HDR_SIZE) / (keysize + sizeof(kv_le64));
}

/*
 * The fork holding an inode root changes from old_size to new_size bytes
 * (an attribute fork came or went): the pointers follow maxrecs, as
 * XFS's xfs_iroot_realloc() moves them.  -ENOSPC (nothing changed) when
 * the root's entries do not fit new_size.  No cursor may hold the root.
 */
int kvfs_btree_iroot_resize(uint8_t *fork, uint32_t old_size, uint32_t new_size,
			    uint32_t keysize);
/* Bytes an inode root with its current entries needs (8-byte aligned). */
uint32_t kvfs_btree_iroot_bytes(const uint8_t *fork, uint32_t keysize);

struct kvfs_btree_cur {
	const struct kvfs_btree_tree_ops *ops;
	const struct kvfs_btree_ops *fmt;
	const struct kvfs_geom *g;
	struct kvj_trans *tp;
	struct kvfs_bli_log *bl;
	struct kv_bcache *bc; /* reads without a transaction */
	uint64_t owner; /* AG number or inode number: every block's owner */
	void *priv; /* the tree type's context (e.g. struct kvfs_btree_ag) */
	unsigned nlevels; /* tree height, from the last lookup */
	/*
	 * The path of the last lookup: the block at each level (held by tp)
	 * and the entry's index in it; at level 0, -1 is before the first
	 * record and numrecs after the last.
	 */
	struct kv_buf *bp[KVFS_BTREE_MAXLEVELS];
	int ptr[KVFS_BTREE_MAXLEVELS];
	/*
	 * Roots in an inode: the root as a block (ibuf.b_addr = iblk,
	 * b_blkno KVFS_NULLBLOCK), decoded from the fork at every descent;
	 * imax entries fit it.
	 */
	struct kv_buf ibuf;
	unsigned imax;
	/* counters of the cursor's life (tests, benchmarks) */
	uint64_t nsplits, njoins, nshifts, nnewroots, nkillroots;
	/* last: kvfs_btree_cur_init() zeroes all but it */
	_Alignas(8) uint8_t iblk[KVFS_BTREE_HDR_SIZE + KVFS_BTREE_IROOT_MAX];
};

enum kvfs_btree_lookup {
	KVFS_LOOKUP_EQ, /* the record with this key */
	KVFS_LOOKUP_LE, /* the last record with a key <= this one */
	KVFS_LOOKUP_GE, /* the first record with a key >= this one */
};

/* Entries per block of a level, and the minimum of a non-root block. */
static inline unsigned kvfs_btree_cur_maxrecs(const struct kvfs_btree_cur *cur,
					      unsigned level)
{
	return kvfs_btree_maxrecs(cur->fmt, cur->g->blocksize, level);
}

static inline unsigned kvfs_btree_minrecs(const struct kvfs_btree_ops *fmt,
					  uint32_t blocksize, unsigned level)
{
	return kvfs_btree_maxrecs(fmt, blocksize, level) / 2;
}

/*
 * A cursor over the tree of type ops owned by owner, working in tp.  With
 * tp NULL (lookups and moves only, e.g. a read under a shared inode lock)
 * the caller sets cur->bc: the cursor reads blocks through that cache and
 * holds them until the next lookup or kvfs_btree_cur_del().
 */
void kvfs_btree_cur_init(struct kvfs_btree_cur *cur,
			 const struct kvfs_btree_tree_ops *ops,
			 const struct kvfs_geom *g, struct kvj_trans *tp,
			 struct kvfs_bli_log *bl, uint64_t owner, void *priv);
/* Drop what a cursor without a transaction holds (no-op with one). */
void kvfs_btree_cur_del(struct kvfs_btree_cur *cur);

/*
 * Position the cursor (see enum kvfs_btree_lookup); *stat is 1 if it
 * points at a record that answers, else 0 (nothing there).
 */
int kvfs_btree_lookup(struct kvfs_btree_cur *cur, enum kvfs_btree_lookup dir,
		      const void *key, int *stat);
/* Next / previous record; *stat 0 at the end (the cursor stays there). */
int kvfs_btree_increment(struct kvfs_btree_cur *cur, int *stat);
int kvfs_btree_decrement(struct kvfs_btree_cur *cur, int *stat);
/* Copy the record under the cursor (recsize bytes); *stat 0 if none. */
int kvfs_btree_get_rec(struct kvfs_btree_cur *cur, void *rec, int *stat);
/*
 * Insert rec (splitting, shifting to siblings, growing a new root as
 * needed); -EEXIST if a record with its key exists.  The cursor then
 * points at the new record.
 */
int kvfs_btree_insert(struct kvfs_btree_cur *cur, const void *rec);
/*
 * kvfs_btree_insert() where the cursor stands, without a descent, when
 * rec's key falls between the two records around the cursor's position:
 * the cursor comes from a kvfs_btree_lookup() of a key near rec's in the
 * same transaction, the tree unchanged since.  Else (the key elsewhere,
 * or at the leaf's edge, where it may belong to a neighbour) the same
 * descent as kvfs_btree_insert().
 */
int kvfs_btree_insert_at(struct kvfs_btree_cur *cur, const void *rec);
/*
 * Delete the record under the cursor (joining under-full blocks with a
 * sibling or borrowing from one, killing a root left with one child);
 * -ENOENT if the cursor points at no record.  The cursor then points at
 * the record that followed (*stat 0 if there is none).
 */
int kvfs_btree_delete(struct kvfs_btree_cur *cur, int *stat);
/*
 * Read, in the cursor's transaction, the blocks a kvfs_btree_insert() of
 * the key the cursor was positioned on (kvfs_btree_lookup()) may read
 * besides its path (the siblings a full block passes entries to, the
 * block right of one that splits), so that a caller can meet their
 * damage before its first change.  -EINVAL for a cursor without a
 * transaction.
 */
int kvfs_btree_insert_reads(struct kvfs_btree_cur *cur);
/*
 * The same for a kvfs_btree_delete() at the cursor (the siblings an
 * under-full block borrows from or joins, the block whose left pointer a
 * join relinks, the next leaf where the cursor goes on to the record
 * that followed).  ins: NULL, or a cursor of the same tree positioned as
 * for kvfs_btree_insert_reads() on a record inserted before the deletion
 * (which may move the record to be deleted and its neighbours).
 */
int kvfs_btree_delete_reads(struct kvfs_btree_cur *cur,
			    const struct kvfs_btree_cur *ins);
/*
 * Replace the record under the cursor by rec, whose key must keep the
 * order with both neighbours (-EINVAL within the leaf); the parents' keys
 * follow when the leaf's first key changes.
 */
int kvfs_btree_update(struct kvfs_btree_cur *cur, const void *rec);
/*
 * kvfs_btree_update() of a record whose key may have moved past its
 * neighbours: *done true if it was replaced in place (the key keeps the
 * order, checked in the leaf and, at its edges, known beyond), false with
 * nothing changed when it does not or that needs the next leaf (the
 * caller deletes and inserts).  A changed key saves the delete's and the
 * insertion's descents and rebalancing.
 */
int kvfs_btree_update_moved(struct kvfs_btree_cur *cur, const void *rec,
			    bool *done);

/*
 * Free every block of the tree in cur->tp (each read, invalidated and
 * handed to free_block), calling rec_fn on every record in key order: an
 * inode's small tree turned back into a list.  The root (in an inode) is
 * left as it was for the caller to replace.
 */
int kvfs_btree_destroy(struct kvfs_btree_cur *cur,
		       int (*rec_fn)(const void *rec, void *priv), void *priv);

/*
 * Structure walk: every block from the root, through the buffer cache
 * (the caller holds what excludes changes to the tree, and no transaction
 * holding its blocks may be open).  Checks each block (as the verifier,
 * but the crc), levels, keys ordered within and across blocks, each
 * parent key equal to its child's first key, sibling links both ways and
 * in tree order, record counts within bounds, owner, pointers in range,
 * each block reached once.  An inode root is checked as its fork holds
 * it (level >= 1, 1 to maxrecs entries, keys in order); its blocks are
 * not counted in nblocks[] (it is no block), and the only child of a
 * one-entry inode root may hold fewer than the minimum.  Findings are
 * collected, not printed.
 */
#define KVFS_BTREE_WALK_MAX_FINDINGS 16

struct kvfs_btree_finding {
	uint64_t blkno;
	int level; /* the level expected there */
	char what[160];
};

struct kvfs_btree_walk {
	/* in: optional callbacks; a negative errno stops the walk */
	int (*rec_fn)(const void *rec, void *priv); /* each record in order */
	int (*blk_fn)(uint64_t fsb, unsigned level,
		      void *priv); /* each block */
	void *priv;
	/* out */
	unsigned height;
	uint64_t nrecs;
	uint64_t nblocks[KVFS_BTREE_MAXLEVELS];
	unsigned nfindings; /* all found; the first few are kept */
	struct kvfs_btree_finding findings[KVFS_BTREE_WALK_MAX_FINDINGS];
};

/*
 * Walk the tree the cursor (initialised, any transaction) names through
 * its get_root.  Returns 0 if clean, -EUCLEAN if anything was found, or
 * the negative errno that ended the walk early (a callback's, -ENOMEM,
 * -EIO).
 */
int kvfs_btree_walk_check(struct kvfs_btree_cur *cur, struct kv_bcache *bc,
			  struct kvfs_btree_walk *w);

/*
 * The AG trees (free space by block and by size, inode chunks): the root
 * is in the AG header, blocks come from a block source that will be the
 * AG allocator's reserve list (tests plug in their own).  The cursor's
 * priv is a struct kvfs_btree_ag.
 */
struct kvfs_btree_ag {
	uint32_t agno;
	/* the AG's headers holding the roots, got in the cursor's tp */
	struct kv_buf *agf_bp; /* free-space trees */
	struct kv_buf *agi_bp; /* inode-chunk tree */
	int (*alloc_block)(void *src, struct kvj_trans *tp, uint32_t agno,
			   uint64_t near, uint64_t *fsb);
	int (*free_block)(void *src, struct kvj_trans *tp, uint64_t fsb);
	void *src;
};

/*
 * For the AG tree types (fs/btree/alloc_btree.c, fs/btree/ialloc_btree.c): the
 * root (an AG block number, a kv_le32 at root_off in the AG header) and its
 * level (a byte at level_off), and the block source.
 */
/* Root and level at root_off/level_off of the header block hbp. */
void kvfs_btree_ag_get_root(struct kvfs_btree_cur *cur, struct kv_buf *hbp,
			    size_t root_off, size_t level_off, uint64_t *root,
			    unsigned *level);
void kvfs_btree_ag_set_root(struct kvfs_btree_cur *cur, struct kv_buf *hbp,
			    size_t root_off, size_t level_off, uint64_t root,
			    unsigned level);
int kvfs_btree_ag_alloc_block(struct kvfs_btree_cur *cur, uint64_t near,
			      uint64_t *fsb);
int kvfs_btree_ag_free_block(struct kvfs_btree_cur *cur, uint64_t fsb);

extern const struct kvfs_btree_tree_ops kvfs_bnobt_tree_ops;
extern const struct kvfs_btree_tree_ops kvfs_cntbt_tree_ops;
extern const struct kvfs_btree_tree_ops kvfs_inobt_tree_ops;

#endif
