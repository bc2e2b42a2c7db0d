/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Lock ranks (lockdep-lite): the one table of the order in which kvfs's
 * locks nest, outermost first, and in debug builds (KV_DEBUG) a check of
 * every ranked acquisition against the locks the thread already holds.
 *
 * What each lock protects is written at the top of the file that owns it;
 * this table only orders them.  A lock may be taken (waited for) only
 * while every lock the thread holds has a lower level (or the same level
 * and another class), except within one class, where:
 *   KV_NEST_NONE   never two at once;
 *   KV_NEST_KEYED  several only in strictly ascending key (inode number,
 *                  AG number) order;
 *   KV_NEST_ANY    several in any order: the class has no order of its
 *                  own, the locks above it serialise (buffers: whoever
 *                  locks more than one holds the AG or inode lock that
 *                  owns them, or only trylocks, as XFS's buffer locks).
 * A trylock cannot deadlock: it is never checked, but is recorded, so that
 * what is waited for under it is.  Unlocks may come in any order.  A
 * violation aborts with both acquisitions' classes, keys and call sites.
 *
 * Release builds compile all of it out: the lock wrappers are the plain
 * pthread calls, the macros below expand to nothing.
 *
 * Locks outside the table (and so unchecked): the allocator's registries
 * (tc_lock, named_lock, class_lock: pthread mutexes taken before the
 * allocator's ranked locks) and the page caches' spinlock (alloc/page.c),
 * the device's and the inode-GC worker's mutexes (leaves), the push
 * thread's wake-up mutex and the log's memory-relief mutex (leaves,
 * journal/relief.c).
 */
#ifndef KV_ALLOC_LOCKRANK_H
#define KV_ALLOC_LOCKRANK_H

#include <stdbool.h>
#include <stdint.h>

enum kv_lock_nest { KV_NEST_NONE, KV_NEST_KEYED, KV_NEST_ANY };

/*
 * rank, class name (kv_lock_class_register()), level, nesting in the class.
 * The level is the order: classes of one level do not order each other.
 * AG locks and buffer locks share one: every buffer is protected by its
 * owner's lock (its AG's, or its inode's for a file's mapping blocks), so
 * a transaction may hold one AG's buffers while it waits for a later AG,
 * as XFS's allocator holds one AG's header buffers while it locks the
 * next AG's; the AG locks stay ordered by AG number among themselves.
 * The buffer items' list comes after every lock held across an allocation
 * that may reclaim (its shrinker takes it): the push lock, an open
 * reference stripe.  A CIL slot, the buffer LRU, the caches' report
 * counts and the inode cache's reclaim candidates are leaves (nothing is
 * taken or allocated under them): last but the allocator's.
 * Owners: fuse_node fs/fuse/nodes.c; rename fs/ns/namei.c; kvfs_iolock,
 * kvfs_ilock fs/inode/inode.h; kvfs_conv fs/data/convert.h; perag
 * fs/space/perag.h; kvfs_buf, kvfs_buf_lru, kvfs_buf_reports fs/io/buf.c;
 * kvfs_icache_cand fs/inode/icache.c;
 * openref fs/inode/openref.c; kvfs_bli fs/io/buf_item.c; cil_push, ail, log,
 * grant, cil_pcp journal/log_priv.h; vmap_* alloc/vmap.c; slab alloc/slab.c;
 * buddy alloc/page.c; shrinker, nofail alloc/reclaim.c.
 */
#define KV_LOCK_RANKS(X)                                             \
	X(KV_RANK_FUSE_NODE, "fuse_node", 1, KV_NEST_NONE)           \
	X(KV_RANK_RENAME, "rename", 1, KV_NEST_NONE)                 \
	X(KV_RANK_IOLOCK, "kvfs_iolock", 2, KV_NEST_KEYED)           \
	X(KV_RANK_CONV, "kvfs_conv", 3, KV_NEST_NONE)                \
	X(KV_RANK_ILOCK, "kvfs_ilock", 4, KV_NEST_KEYED)             \
	X(KV_RANK_PERAG, "perag", 5, KV_NEST_KEYED)                  \
	X(KV_RANK_BUF, "kvfs_buf", 5, KV_NEST_ANY)                   \
	X(KV_RANK_OPENREF, "openref", 6, KV_NEST_NONE)               \
	X(KV_RANK_CIL_PUSH, "cil_push", 7, KV_NEST_NONE)             \
	X(KV_RANK_BLI, "kvfs_bli", 8, KV_NEST_NONE)                  \
	X(KV_RANK_AIL, "ail", 9, KV_NEST_NONE)                       \
	X(KV_RANK_LOG, "log", 10, KV_NEST_NONE)                      \
	X(KV_RANK_GRANT, "grant", 11, KV_NEST_NONE)                  \
	X(KV_RANK_CIL_PCP, "cil_pcp", 12, KV_NEST_NONE)              \
	X(KV_RANK_BUF_LRU, "kvfs_buf_lru", 13, KV_NEST_NONE)         \
	X(KV_RANK_BUF_REPORTS, "kvfs_buf_reports", 13, KV_NEST_NONE) \
	X(KV_RANK_ICACHE_CAND, "kvfs_icache_cand", 13, KV_NEST_NONE) \
	X(KV_RANK_VMAP_PURGE, "vmap_purge", 14, KV_NEST_NONE)        \
	X(KV_RANK_VMAP_ZONE, "vmap_zone", 15, KV_NEST_NONE)          \
	X(KV_RANK_SLAB, "slab", 16, KV_NEST_NONE)                    \
	X(KV_RANK_BUDDY, "buddy", 17, KV_NEST_NONE)                  \
	X(KV_RANK_SHRINKER, "shrinker", 18, KV_NEST_NONE)            \
	X(KV_RANK_NOFAIL, "nofail", 19, KV_NEST_NONE)

/* KV_RANK_NONE: a class outside the table (a test's own), never checked */
enum kv_lock_rank {
	KV_RANK_NONE = 0,
#define KV_RANK_ENUM(rank, name, level, nest) rank,
	KV_LOCK_RANKS(KV_RANK_ENUM)
#undef KV_RANK_ENUM
		KV_RANK_NR
};

#ifdef KV_DEBUG
#define KV_LOCKDEP 1
#endif

#ifdef KV_LOCKDEP
/* the rank of a class name, KV_RANK_NONE if it has none */
int kv_lock_rank_of(const char *name);
/* rank of a registered kv_mutex class (KV_RANK_NONE for a bad id) */
int kv_lock_class_rank(int class_id);

/*
 * Before waiting for lock (trylock false): check it against the held
 * locks, then record it.  After a successful trylock (true): record it.
 * KV_RANK_NONE records nothing.
 */
void kv_lockdep_acquire(const void *lock, int rank, uint64_t key, bool trylock,
			const char *file, int line);
/* After unlocking: forget it (aborts if the thread did not hold it). */
void kv_lockdep_release(const void *lock, const char *file, int line);
/* ranked locks the calling thread holds */
int kv_lockdep_depth(void);

/* a wrapper's extra parameters: its caller's site, and a key */
#define KV_LD_DECL , const char *ld_file, int ld_line
#define KV_LD_SITE , __FILE__, __LINE__
#define KV_LD_FWD , ld_file, ld_line
#define KV_LD_KEY_DECL , uint64_t ld_key KV_LD_DECL
#define KV_LD_KEY(key) , (uint64_t)(key)KV_LD_SITE
#define KV_LD_KEY_FWD(key) , (uint64_t)(key)KV_LD_FWD

#define kv_lockdep_lock(l, rank, key) \
	kv_lockdep_acquire(l, rank, key, false, __FILE__, __LINE__)
#define kv_lockdep_trylocked(l, rank, key) \
	kv_lockdep_acquire(l, rank, key, true, __FILE__, __LINE__)
#define kv_lockdep_unlock(l) kv_lockdep_release(l, __FILE__, __LINE__)
#else
#define KV_LD_DECL
#define KV_LD_SITE
#define KV_LD_FWD
#define KV_LD_KEY_DECL
#define KV_LD_KEY(key)
#define KV_LD_KEY_FWD(key)

#define kv_lockdep_acquire(...) ((void)0)
#define kv_lockdep_release(...) ((void)0)
#define kv_lockdep_lock(l, rank, key) ((void)0)
#define kv_lockdep_trylocked(l, rank, key) ((void)0)
#define kv_lockdep_unlock(l) ((void)0)
#endif

#endif
