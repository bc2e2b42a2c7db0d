/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Busy extents (XFS's xfs_extent_busy.c): extents freed by a transaction
 * whose free is not durable yet.  Until the checkpoint carrying the free
 * is on disk, a crash brings the old owner back, so the allocator must not
 * hand such an extent out again: as file data it could show the old
 * owner's bytes, as anything it could end up owned twice.
 *
 * Each AG keeps its busy extents in a struct kvfs_busy_tree in its struct
 * kvfs_perag, protected by the AG lock: a tree by start (overlaps
 * allowed), and its committed entries in a list oldest first.  An entry
 * is inserted by the transaction that frees the extent (it holds the AG
 * lock until it commits); commit stamps the transaction's entries with
 * its commit sequence (kvfs_extent_busy_trans_done(), before the AG lock
 * is dropped) and appends them to the list; an entry expires once the
 * journal's durable sequence (kvj_log_durable_seq()) has reached its
 * sequence, and is pruned by the next operation on the AG, from the head
 * of the list.  An entry without a sequence belongs to the open
 * transaction holding the AG lock: the allocator uses that to keep a
 * freed tree block out of the same transaction.
 *
 * The tree (XFS uses an rbtree) is a treap, each node keeping the largest
 * end in its subtree, so that the entries overlapping a range are found
 * in O(log n + k): an unlink of a file with data frees an extent, and a
 * second's frees between two checkpoints are tens of thousands of
 * entries.  The sorted list it replaces took 61% of the time of 50,000
 * such unlinks (kvfs_extent_busy_insert() and _prune() walked it).
 */
#ifndef KV_FS_EXTENT_BUSY_H
#define KV_FS_EXTENT_BUSY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kvfs_perag;
struct kvfs_trans;

struct kvfs_busy_ext {
	uint32_t agno;
	uint32_t bno, len; /* AG blocks */
	uint32_t prio; /* the treap's heap order */
	uint64_t seq; /* commit sequence; 0 while its transaction is open */
	uint64_t maxend; /* the largest bno + len of its subtree */
	struct kvfs_busy_ext *left, *right; /* in the AG's tree, by bno */
	struct kvfs_busy_ext *newer; /* the next committed after it */
	struct kvfs_busy_ext *tp_next; /* in the transaction's list */
};

struct kvfs_busy_tree {
	struct kvfs_busy_ext *root;
	/* committed entries by commit, oldest first; tail: the newest */
	struct kvfs_busy_ext *head, *tail;
	size_t count;
};

/* [bno, bno + len) of pag is freed by tp (which holds pag's lock). */
void kvfs_extent_busy_insert(struct kvfs_trans *tp, struct kvfs_perag *pag,
			     uint32_t bno, uint32_t len);
/*
 * tp committed with sequence seq (its entries expire once seq is
 * durable), or failed or was cancelled (seq 0: its entries are dropped,
 * the free never happened or the filesystem is shut down).  Called with
 * tp's AG locks held.
 */
void kvfs_extent_busy_trans_done(struct kvfs_trans *tp, uint64_t seq);
/* Drop the entries of pag whose sequence is <= durable. */
void kvfs_extent_busy_prune(struct kvfs_perag *pag, uint64_t durable);
/* Is any block of [bno, bno + len) busy? */
bool kvfs_extent_busy_overlaps(const struct kvfs_perag *pag, uint32_t bno,
			       uint32_t len);
/* Is block bno busy for the open transaction (freed in it)? */
bool kvfs_extent_busy_uncommitted(const struct kvfs_perag *pag, uint32_t bno);
/* Are there entries a log force would expire? */
bool kvfs_extent_busy_committed(const struct kvfs_perag *pag);
/*
 * The longest range of [bno, bno + len) with no busy block, in *tbno and
 * *tlen; false if every block is busy.  metadata: only the open
 * transaction's entries count (XFS's busy extent reuse): a block whose
 * free has committed may become a logged metadata block at once, since
 * its new contents reach the disk only through the log, after the free.
 */
bool kvfs_extent_busy_trim(const struct kvfs_perag *pag, uint32_t bno,
			   uint32_t len, bool metadata, uint32_t *tbno,
			   uint32_t *tlen);
/* Blocks from bno (of len) before the first busy one. */
uint32_t kvfs_extent_busy_free_prefix(const struct kvfs_perag *pag,
				      uint32_t bno, uint32_t len);
/* Entries of pag (tests). */
size_t kvfs_extent_busy_count(const struct kvfs_perag *pag);
/* Free every entry (unmount; no transaction is open). */
void kvfs_extent_busy_destroy(struct kvfs_perag *pag);

#endif
