/* SPDX-License-Identifier: GPL-2.0 */
/*
 * In-memory state of one allocation group (XFS's xfs_perag).
 *
 * lock (kv_mutex, class "perag") protects the AG's allocation state: its
 * free-space header, reserve list and free-space trees, its inode header
 * and inode-chunk tree, and the in-core copies below.  Whoever changes
 * those blocks holds it from the first read to the transaction's commit
 * (the transaction then holds the buffers).  An operation that needs two
 * AGs takes their locks in ascending AG order; see fs/mount.h for the order
 * against the other locks.  Each AG has its own lock so that allocation
 * in one AG never waits on another: its acquisitions and contended
 * acquisitions are counted per AG (and per class by kv_mutex), and per
 * thread (kvfs_perag_thread_stats()), so that a test can prove which AGs
 * a thread locked.
 */
#ifndef KV_FS_PERAG_H
#define KV_FS_PERAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/kvlock.h"
#include "fs/space/extent_busy.h"

struct kvfs_perag {
	uint32_t agno;
	struct kv_mutex lock;
	/* valid once agf_init / agi_init; changed under lock */
	bool agf_init;
	uint32_t freeblks; /* free blocks in the free-space trees */
	uint32_t longest; /* longest free extent */
	uint32_t flcount; /* blocks on the reserve list */
	uint32_t btreeblks; /* blocks of both free-space trees */
	uint32_t free_extents; /* records of each free-space tree */
	/* the free-space trees' heights - 1 (AGF bno_level, cnt_level) */
	uint32_t bno_level, cnt_level;
	/* extents freed and not yet durable, by start (fs/space/extent_busy.h) */
	struct kvfs_busy_tree busy;
	bool agi_init;
	uint32_t icount, ifree;
	/* a chunk that had free inodes at the last allocation (fs/inode/ialloc.c) */
	uint32_t ialloc_hint;
	/*
	 * 1 + an agino whose chunk (the record at or before it) had no free
	 * inode at an allocation, 0 none: the next ones near it skip that
	 * lookup.  Cleared when the AG gains free inodes (fs/inode/ialloc.c)
	 */
	uint32_t ialloc_full;
	/*
	 * The inodes of the record at ifresh_ino (an agino) that are as
	 * chunk_init_inodes() wrote them with ifresh_sec, ifresh_nsec and
	 * ifresh_gen, a bit each, set for the piece of a chunk this mount
	 * made last and cleared as they are taken (fs/inode/ialloc.c)
	 */
	uint32_t ifresh_ino, ifresh_nsec, ifresh_gen;
	int64_t ifresh_sec;
	uint64_t ifresh_mask;
	/* the AG's sequence of new chunks' generations, 0 before its first */
	uint64_t igen_seq;
	/*
	 * Free inodes of the AG still locked and joined to the transaction
	 * that freed them: raised by kvfs_difree() under lock, lowered by
	 * the release of such an inode once it left its transaction.  While
	 * it is 0, no free inode of the AG is held and rec_pick()
	 * (fs/inode/ialloc.c) asks the inode cache about none.
	 */
	atomic_uint ifree_held;
	/*
	 * Its free-space metadata was found damaged before an allocation
	 * changed any of it: allocations pass the AG by until fsck.kvfs
	 * repaired it (fs/space/alloc.c ag_damaged()).  Set under lock, read
	 * without it.
	 */
	bool alloc_sick;
	/*
	 * Likewise its inode header, inode-chunk tree or a free inode
	 * (fs/inode/ialloc.c): inode allocations, new chunks included, pass
	 * it by.
	 */
	bool ialloc_sick;
	/* statistics: relaxed counters */
	atomic_uint_fast64_t lock_acquired, lock_contended;
};

int kvfs_perag_init(struct kvfs_perag *pag, uint32_t agno);
void kvfs_perag_destroy(struct kvfs_perag *pag);

/* the macros pass the caller's site to the rank check (alloc/lockrank.h) */
void kvfs_perag_lock_(struct kvfs_perag *pag KV_LD_DECL);
void kvfs_perag_unlock_(struct kvfs_perag *pag KV_LD_DECL);
/* Take the lock if it is free (counted as an acquisition); else false. */
bool kvfs_perag_trylock_(struct kvfs_perag *pag KV_LD_DECL);
#define kvfs_perag_lock(pag) kvfs_perag_lock_(pag KV_LD_SITE)
#define kvfs_perag_unlock(pag) kvfs_perag_unlock_(pag KV_LD_SITE)
#define kvfs_perag_trylock(pag) kvfs_perag_trylock_(pag KV_LD_SITE)
/* Lock two AGs in the documented order (a == b: once). */
void kvfs_perag_lock_two(struct kvfs_perag *a, struct kvfs_perag *b);

/*
 * The AG locks the calling thread took since its last reset: bit agno of
 * acquired set when it took AG agno's lock, of contended when it had to
 * wait for it or its trylock failed (AGs 63 and above share bit 63), and
 * the counts of both.
 */
struct kvfs_perag_thread_stats {
	uint64_t acquired_mask, contended_mask;
	uint64_t acquired, contended;
};
/* The calling thread's statistics into st; reset: start them again. */
void kvfs_perag_thread_stats(struct kvfs_perag_thread_stats *st, bool reset);

#endif
