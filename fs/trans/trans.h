/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filesystem transactions (XFS's xfs_trans): a journal transaction
 * (journal/journal.h, which the buffer functions of fs/io/buf_item.h take as
 * tp->jt) plus the blocks the operation may need, reserved up front from
 * the filesystem's free-block count, so that an operation never runs out
 * of space half-way: -ENOSPC comes from kvfs_trans_alloc(), before
 * anything is dirty.
 *
 * Free blocks: mp->fdblocks counts blocks free for reservations: the free
 * blocks of every AG's free-space trees (summed from the AG headers at
 * mount), less a set-aside per AG that refills of the AG's reserve list
 * may take without a reservation (fs/mount.h: KVFS_AG_SET_ASIDE).  A
 * transaction reserves blk_res blocks; the allocator charges every block
 * it hands out against the reservation (kvfs_trans_use_blocks()); commit
 * returns what was reserved and not used, and counts the blocks the
 * transaction freed (kvfs_trans_free_blocks()) as free again, as XFS does
 * for its in-core counter.  (The allocator must still not hand out a freed
 * extent again before its free is durable: that is its busy-extent rule,
 * not the counter's.)
 *
 * AG locks and freed extents: the allocator's AG locks (kvfs_trans_lock_ag())
 * are released after the journal commit, once the extents the transaction
 * freed are marked with its commit sequence (fs/space/extent_busy.h).  A roll
 * marks them too and releases, as XFS's roll does, every buffer not held
 * (journal/journal.h: kvj_trans_roll()) and every AG lock not held
 * (kvfs_trans_hold_ag()); inodes joined stay joined (fs/inode/inode_item.h).
 *
 * Scopes: from alloc to commit or cancel the thread is inside a NOFS
 * scope (the journal's); once a transaction has dirtied something it
 * cannot back out of, the caller calls kvfs_trans_set_nofail() and every
 * later allocation retries forever.  Cancelling a dirty transaction shuts
 * the filesystem down.
 */
#ifndef KV_FS_TRANS_H
#define KV_FS_TRANS_H

#include <stdbool.h>
#include <stdint.h>

#include "journal/journal.h"

struct kvfs_mount;
struct kvfs_defer_pending;
struct kvfs_trans_res;
struct kvfs_busy_ext;

/* AG locks one transaction may hold at once */
#define KVFS_TRANS_MAX_AGS 8

struct kvfs_trans {
	struct kvj_trans *jt;
	struct kvfs_mount *mp;
	uint32_t log_res; /* log bytes per commit */
	/* deferred work (fs/trans/defer.h): queued, and with intents logged */
	struct kvfs_defer_pending *dfops_intake, *dfops_intake_last;
	struct kvfs_defer_pending *dfops;
	uint64_t blk_res; /* blocks reserved */
	uint64_t blk_used; /* of which handed out by the allocator */
	uint64_t blk_freed; /* blocks this transaction freed */
	/* its changes to the AG inode headers' counts (mp->icount, ifree) */
	int64_t icount_delta, ifree_delta;
	/* debug builds: its kind (kvfs_trans_res_kind()), for reports */
	unsigned kind;
	/* AG locks held until commit or cancel (kvfs_trans_lock_ag()) */
	uint32_t ag_locked[KVFS_TRANS_MAX_AGS];
	bool ag_held[KVFS_TRANS_MAX_AGS]; /* kept across rolls */
	unsigned nr_ag_locked;
	/* extents freed in this transaction (fs/space/extent_busy.h) */
	struct kvfs_busy_ext *busy;
};

/*
 * log_bytes and rolls: as kvj_trans_alloc(); blocks: the most blocks the
 * operation can allocate (tree splits included).  -ENOSPC when the blocks
 * are not there even after the speculative preallocation of the cached
 * files was trimmed (kvfs_file_trim_all_prealloc(): no inode lock may be
 * held), -EIO after a shutdown, -EROFS on a read-only mount.
 */
int kvfs_trans_alloc(struct kvfs_mount *mp, uint32_t log_bytes, unsigned rolls,
		     uint64_t blocks, struct kvfs_trans **tpp);
/*
 * The same for one kind of operation (mp->resv, fs/trans/trans_resv.h); blocks
 * are added to the kind's (e.g. the length of the extent to allocate).
 */
int kvfs_trans_alloc_res(struct kvfs_mount *mp,
			 const struct kvfs_trans_res *res, uint64_t blocks,
			 struct kvfs_trans **tpp);
/*
 * The same for the write back of data a page cache in front of the core
 * accepted (kvfs_write_cached()): it may take the blocks kept for it
 * (mp->wbblks), and sets *reserve when it did (leaves it alone when not).
 */
int kvfs_trans_alloc_cached(struct kvfs_mount *mp, uint32_t log_bytes,
			    unsigned rolls, uint64_t blocks, bool *reserve,
			    struct kvfs_trans **tpp);
/*
 * The same for a removal (unlink, rmdir): it may take the blocks kept
 * for removals (mp->resblks, XFS's XFS_TRANS_RESERVE), so that deleting
 * files works on a full filesystem.
 */
int kvfs_trans_alloc_remove(struct kvfs_mount *mp,
			    const struct kvfs_trans_res *res,
			    struct kvfs_trans **tpp);
/*
 * Commit (the transaction is freed whatever the result); seq: see journal.
 * Deferred work still queued is finished first (kvfs_defer_finish()).
 */
int kvfs_trans_commit(struct kvfs_trans *tp, uint64_t *seqp);
/* Cancel; deferred work still queued is dropped (kvfs_defer_cancel()). */
void kvfs_trans_cancel(struct kvfs_trans *tp);
/*
 * End a transaction whose operation failed with -ENOSPC from the
 * allocator before it changed anything of its own (an inode allocation
 * that found no room): what the allocator's attempts logged on the way,
 * reserve-list refills (fs/space/alloc.h), is consistent and committed,
 * since cancelling a dirty transaction shuts the log down; a clean one is
 * cancelled.  Returns err, or the commit's error.
 */
int kvfs_trans_end_nospc(struct kvfs_trans *tp, int err);
/*
 * Commit and continue with the same reservation's remaining blocks; the
 * buffers and AG locks not held are released, joined inodes and held
 * items stay (kvj_trans_roll()); queued deferred work stays queued.
 */
int kvfs_trans_roll(struct kvfs_trans *tp, uint64_t *seqp);
void kvfs_trans_set_nofail(struct kvfs_trans *tp);

/*
 * The allocator, before it looks for an extent of at least minlen blocks
 * (its maxlen is cut to what is left, which some callers rely on; its
 * minimum is what the operation cannot do without): 0 if the rest of the
 * reservation holds minlen, else -ENOSPC, before anything changed.  That
 * is a reservation computed too small (fs/trans/trans_resv.c), and in
 * debug builds (KV_DEBUG) kvfs_bug() names the transaction's kind and its
 * figures: in release builds the operation fails cleanly, but whoever
 * treats the ENOSPC as "no room" after changing something commits half
 * an operation (a half-split tree, as the create of 1990fac did).
 * Callers that may find a reservation short by design check
 * kvfs_trans_blocks_left() first.
 */
int kvfs_trans_need_blocks(struct kvfs_trans *tp, uint64_t minlen);
/* What is left of the transaction's block reservation. */
uint64_t kvfs_trans_blocks_left(const struct kvfs_trans *tp);
/*
 * The allocator hands out n blocks under this reservation.  -ENOSPC if it
 * would exceed it (a reservation that was computed too small: a bug that
 * must not corrupt anything, so it fails before the change; kvfs_bug() in
 * debug builds, as kvfs_trans_need_blocks()).
 */
int kvfs_trans_use_blocks(struct kvfs_trans *tp, uint64_t n);
/* n blocks freed: free for others once this transaction commits. */
void kvfs_trans_free_blocks(struct kvfs_trans *tp, uint64_t n);
/*
 * tp moved the inode and free-inode counts of an AG inode header by
 * dicount and difree: statfs's counts (mp->icount, ifree) follow at its
 * commit (or the roll that commits the change), never at a cancel.
 */
void kvfs_trans_mod_icount(struct kvfs_trans *tp, int64_t dicount,
			   int64_t difree);

/*
 * Blocks kept past a commit for a later transaction of the same work
 * (XFS's indirect-block reservation of a delayed allocation): n unused
 * blocks leave tp's reservation and stay out of mp->fdblocks, the
 * caller's, until kvfs_trans_add_kept() hands them to another transaction
 * (whose commit frees what it leaves unused, unless kept again) or
 * kvfs_trans_unkeep() frees them.  -ENOSPC, nothing kept, when fewer are
 * left.
 */
int kvfs_trans_keep_blocks(struct kvfs_trans *tp, uint64_t n);
void kvfs_trans_add_kept(struct kvfs_trans *tp, uint64_t n);
void kvfs_trans_unkeep(struct kvfs_mount *mp, uint64_t n);

/*
 * AG locks (fs/space/perag.h) for the allocator: AG agno's lock, held by the
 * transaction until it commits or is cancelled (kept across rolls, with
 * the AG's buffers).  Taken blocking only when the transaction holds no
 * AG numbered higher (the AG lock order); otherwise, or with trylock, only
 * if free.  *newly: the lock was not held before.  -EAGAIN: not taken
 * (busy out of order, or KVFS_TRANS_MAX_AGS held).
 */
int kvfs_trans_lock_ag(struct kvfs_trans *tp, uint32_t agno, bool trylock,
		       bool *newly);
/*
 * Keep AG agno's lock (taken) across rolls, to the final commit or
 * cancel; its buffers are released by the roll all the same, and read
 * again after it (nobody else changed them: the lock excludes that).
 */
void kvfs_trans_hold_ag(struct kvfs_trans *tp, uint32_t agno);
/*
 * Drop an AG lock the transaction took and read nothing under, or whose
 * buffers it handed back (kvfs_trans_brelse_since()).
 */
void kvfs_trans_unlock_ag(struct kvfs_trans *tp, uint32_t agno);
/*
 * Damage err (-EUCLEAN, -EBADMSG) met in AG agno by an attempt that took
 * buffer mark after the AG's lock and changed nothing since (every
 * buffer got since mark clean: they go back, kvfs_trans_brelse_since()):
 * *sick set (the allocator passes the AG by until fsck.kvfs repairs it),
 * the lock dropped if the attempt took it (newly), true.  Any other error,
 * or a change already made: false, nothing done, err stands.
 */
bool kvfs_trans_ag_damaged(struct kvfs_trans *tp, uint32_t agno, bool *sick,
			   bool newly, unsigned mark, int err);

#endif
