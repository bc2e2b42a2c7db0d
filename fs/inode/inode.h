/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-core inode (XFS's struct xfs_inode): the decoded core of one
 * on-disk inode, its data fork as raw bytes, its locks, its reference
 * count and its log item.  Inodes are found and created by the inode
 * cache (fs/inode/icache.h) and logged by the inode log item
 * (fs/inode/inode_item.h).
 *
 * Locks of an inode, outermost first (fs/mount.h has the whole core's
 * order):
 *   i_iolock (rwlock, KVFS_IOLOCK_*): the data path.  Held shared by
 *     reads (but the lock-free read of a cached file, which validates
 *     what it read instead: fs/data/file.c read_rcu()) and direct I/O,
 *     exclusive by writes that change the size,
 *     truncate, fallocate and punch, so that no I/O runs over extents
 *     being changed, and by an attribute change that settles the
 *     file's pending ranges first (fs/ns/attr.c, fs/data/convert.h).  Taken before any transaction is allocated and
 *     before the inode lock.
 *   i_lock (rwlock, KVFS_ILOCK_*): the metadata: every core field, the
 *     data fork and the log item's state.  Held shared to read them
 *     stably, exclusive to change them; a transaction that changes an
 *     inode joins it exclusively locked (kvfs_trans_ijoin()) and its
 *     commit or cancel unlocks it.  Taken after the transaction's log
 *     reservation (never wait for log space holding it) and before AG
 *     locks and buffer locks.  Two inode locks of one kind are taken in
 *     ascending inode number order.  One exception, as in XFS: inode
 *     allocation locks the new inode while its transaction holds the
 *     AG's inode header buffer (only allocation in that AG, which waits
 *     for the header first, locks a free inode; a transaction that freed
 *     one holds its lock to its end and may wait for AG locks after a
 *     roll, so an inode still joined to another transaction is never
 *     handed out: fs/inode/ialloc.c rec_pick()).
 * The AIL and the cache's reclaim only ever trylock both.
 *
 * Reading a field without the inode lock gives a value that was true at
 * some point (fields are naturally aligned), nothing more.  Several fields
 * read together without it are a state some holder of the lock saw when
 * i_lock_seq was even before and unchanged after the reads
 * (kvfs_ilock_seq_begin() / kvfs_ilock_seq_retry(), a seqcount: odd while
 * i_lock is held exclusively); the reads must be atomic (relaxed) ones,
 * and what they return is used only once validated.
 */
#ifndef KV_FS_INODE_H
#define KV_FS_INODE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <urcu/rculfhash.h>

#include "alloc/lockrank.h"
#include "fs/format.h"
#include "journal/journal.h"

struct kvfs_conv;
struct kvfs_dir_map;
struct kvfs_iext;
struct kvfs_mount;
struct kvfs_trans;
struct kv_buf;

struct kvfs_ictime {
	int64_t sec; /* signed: before 1970 is negative */
	uint32_t nsec;
};

/*
 * Now, for every timestamp the core stamps.  CLOCK_REALTIME_COARSE: the
 * clock of the kernel's own stamps on a filesystem without fine-grained
 * timestamps, FUSE among them (current_time()).  Under the writeback cache
 * the kernel stamps a regular file's mtime and ctime itself (a write, an
 * unlink's ctime); from one clock, a stamp the kernel makes after one of
 * ours is never earlier, which a finer clock of our own would break.
 */
void kvfs_inode_now(struct kvfs_ictime *t);

/* The inode log item; its fields belong to fs/inode/inode_item.c. */
struct kvfs_inode_log_item {
	struct kvj_item item; /* the journal hands us &item */
	/*
	 * Under the inode lock (taken exclusively by transactions, shared
	 * by the AIL's push, which the AIL lock serialises): KVFS_ILOG_*
	 * changed since the last write-back, and the cluster buffer held
	 * from the first change until that write-back.
	 */
	unsigned fields;
	struct kv_buf *bp;
	/* checkpoint contexts holding the item (its own count: see unpin) */
	atomic_int pincount;
	bool joined; /* joined to a transaction that will unlock the inode */
	/*
	 * That transaction, set and cleared with joined; read without the
	 * lock only to ask "is it mine" (kvfs_trans_ijoined()).
	 */
	_Atomic(struct kvfs_trans *) tx;
	/* freed by that transaction: counted in its AG's ifree_held */
	bool ifree_held;
};

/* i_flags */
#define KVFS_INEW (1u << 0) /* being read by its creator: wait on i_lock */
#define KVFS_IBAD (1u << 1) /* creation failed: out of the cache, look again */
/* named by a directory with no links (damaged): never inactivated */
#define KVFS_ISICK (1u << 2)

struct kvfs_inode {
	/* read-only after creation */
	uint64_t i_ino;
	struct kvfs_mount *i_mount;

	/* the cache's */
	atomic_int i_count; /* references; negative once dying */
	atomic_uint i_flags;
	struct cds_lfht_node i_hnode;
	struct kvfs_inode *i_reclaim_next; /* reclaim's victim list */
	struct kvfs_inode *i_gc_next; /* fs/inode/inodegc.c's queue */

	/*
	 * The seqcount of i_lock's exclusive holds (above): never wraps.
	 * With the fields above and the core below it fills the first three
	 * cache lines (the cache aligns inodes to one): what a lookup's walk
	 * of the index and a lockless read of the attributes touch
	 * (kvfs_icache_read()); the locks come after.
	 */
	_Atomic uint64_t i_lock_seq;

	/* the core, under i_lock */
	uint16_t i_mode; /* 0: free */
	uint8_t i_dformat; /* KVFS_DFORK_* */
	uint8_t i_aformat; /* 0 without an attribute fork */
	uint32_t i_nlink;
	uint32_t i_uid, i_gid;
	uint64_t i_size;
	uint64_t i_nblocks;
	struct kvfs_ictime i_atime, i_mtime, i_ctime, i_crtime;
	uint32_t i_generation;
	uint32_t i_diflags; /* KVFS_DIFLAG_* */
	uint32_t i_nextents; /* data fork extents (or btree records) */
	uint32_t i_anextents;
	uint16_t i_forkoff; /* attribute fork offset in 8-byte units */
	uint32_t i_next_unlinked; /* agino */
	uint64_t i_rdev;
	/*
	 * The data fork, raw (extent array, btree root or inline data), as
	 * on disk: kvfs_inode_dfork_size() bytes of i_dfork are meaningful.
	 * The extent-map code owns its interpretation.  Both forks point
	 * into a shared read-only zero area until the inode's forks first
	 * hold something (kvfs_inode_own_forks()).
	 */
	uint8_t *i_dfork; /* inodesize - core bytes */
	/*
	 * The attribute fork, raw, as on disk: kvfs_inode_afork_size()
	 * bytes are meaningful (fs/ns/attr.c owns its interpretation).
	 */
	uint8_t *i_afork;
	/*
	 * A directory's data-block addresses, fs/ns/dir.c's (NULL until a
	 * lookup wants one): filled under i_lock shared, dropped under it
	 * exclusive when the block map changes; freed with the inode.
	 */
	_Atomic(struct kvfs_dir_map *) i_dirmap;

	pthread_rwlock_t i_iolock;
	pthread_rwlock_t i_lock;

	struct kvfs_inode_log_item i_item;

	/*
	 * The data path's (fs/data/file.h), atomic: journal sequences of the last
	 * commit that changed the inode through the data path, and of the
	 * last that changed its size or block map (fdatasync forces only up
	 * to that one); speculative blocks past EOF to trim at close; the
	 * map past EOF looked at since the inode was read (a crash loses the
	 * mark: the first close after the read trims what it finds there).
	 */
	_Atomic uint64_t i_sync_seq;
	_Atomic uint64_t i_dsync_seq;
	atomic_bool i_spec_prealloc;
	atomic_bool i_eof_checked;

	/*
	 * fs/inode/openref.c's: that the inode number held an open
	 * reference when its table's stripe had seen a given number of
	 * removals (0: not known), so that the last put of an open inode
	 * without links asks without the stripe's lock.
	 */
	_Atomic uint64_t i_openref_hint;

	/*
	 * fs/data/bmap.c's: the data fork extent that the last locked read
	 * of a B+tree fork found, and i_lock_seq then (even: it holds while
	 * i_lock_seq keeps that value), so that the next read in it needs
	 * neither the lock nor the tree.  Stored by readers holding i_lock
	 * shared, so under a seqcount of its own, odd while one stores.
	 */
	atomic_uint i_lastext_seq;
	_Atomic uint64_t i_lastext_lockseq;
	_Atomic uint64_t i_lastext_off, i_lastext_bno;
	_Atomic uint32_t i_lastext_len, i_lastext_flags;

	/*
	 * fs/data/iext.h's: the extent list of a regular file's B+tree data
	 * fork, NULL until a lookup loads it (freed with the inode).
	 */
	_Atomic(struct kvfs_iext *) i_iext;

	/*
	 * fs/data/convert.h's: blocks written but not yet converted, NULL
	 * until a write first defers a conversion (freed with the inode).
	 */
	struct kvfs_conv *i_conv;
};

/* Lock flags (combine one I/O lock and one inode lock flag). */
#define KVFS_IOLOCK_SHARED (1u << 0)
#define KVFS_IOLOCK_EXCL (1u << 1)
#define KVFS_ILOCK_SHARED (1u << 2)
#define KVFS_ILOCK_EXCL (1u << 3)
/*
 * With KVFS_ILOCK_*: the inode is free and being allocated, its lock taken
 * under the AG's locks (the exception above): out of the rank order, so
 * recorded without the check, as a trylock.
 */
#define KVFS_ILOCK_ALLOC (1u << 4)

/*
 * Take (I/O lock first) and drop (inode lock first) the named locks.  The
 * macros pass the caller's site to the rank check (alloc/lockrank.h: two
 * inodes' locks of one kind in ascending inode number order).
 */
void kvfs_ilock_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL);
/* Without waiting: true if every named lock was taken (else none is). */
bool kvfs_ilock_nowait_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL);
void kvfs_iunlock_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL);
#define kvfs_ilock(ip, flags) kvfs_ilock_(ip, flags KV_LD_SITE)
#define kvfs_ilock_nowait(ip, flags) kvfs_ilock_nowait_(ip, flags KV_LD_SITE)
#define kvfs_iunlock(ip, flags) kvfs_iunlock_(ip, flags KV_LD_SITE)

/*
 * The exclusive hold of i_lock just taken, or about to be dropped (by
 * kvfs_ilock() and kvfs_iunlock(), and by the inode item's release of a
 * joined inode): i_lock_seq odd while it lasts.
 */
static inline void kvfs_ilock_seq_excl(struct kvfs_inode *ip)
{
	uint64_t s =
		atomic_load_explicit(&ip->i_lock_seq, memory_order_relaxed);

	atomic_store_explicit(&ip->i_lock_seq, s + 1, memory_order_relaxed);
	/* the odd count is seen before any change made under the lock */
	atomic_thread_fence(memory_order_release);
}

static inline void kvfs_ilock_seq_unexcl(struct kvfs_inode *ip)
{
	uint64_t s =
		atomic_load_explicit(&ip->i_lock_seq, memory_order_relaxed);

	/* even again, after every change made under the lock */
	atomic_store_explicit(&ip->i_lock_seq, s + 1, memory_order_release);
}

/*
 * A read of fields without i_lock (above): the count to give
 * kvfs_ilock_seq_retry(), odd when an exclusive holder is changing them
 * (the reads are then bound to be retried).
 */
static inline uint64_t kvfs_ilock_seq_begin(struct kvfs_inode *ip)
{
	return atomic_load_explicit(&ip->i_lock_seq, memory_order_acquire);
}

/* The reads since kvfs_ilock_seq_begin() returned seq must be discarded. */
static inline bool kvfs_ilock_seq_retry(struct kvfs_inode *ip, uint64_t seq)
{
	atomic_thread_fence(memory_order_acquire);
	return (seq & 1) || atomic_load_explicit(&ip->i_lock_seq,
						 memory_order_relaxed) != seq;
}

/* Bytes of the data fork (up to the attribute fork or the inode's end). */
uint32_t kvfs_inode_dfork_size(const struct kvfs_inode *ip);

/*
 * Fork memory.  An inode whose forks hold nothing (an empty regular file,
 * a device node, a free inode) has none of its own: i_dfork and i_afork
 * point into one shared, read-only zero area, as XFS allocates a fork's
 * if_data only once it holds bytes.  A create then allocates and zeroes
 * no fork memory (2 x 304 bytes with 512-byte inodes, a fifth of a
 * create's CPU where fresh memory's first touch is dear, as on our VMs).
 * Every writer of fork bytes calls kvfs_inode_own_forks() first, with
 * i_lock held exclusively; readers need nothing (zeros either way), and
 * a write into the shared area faults rather than reaching another
 * inode.  Owned forks stay until the inode is freed: lock-free readers
 * may hold either pointer.
 */
void kvfs_inode_forks_init(struct kvfs_inode *ip);
void kvfs_inode_own_forks(struct kvfs_inode *ip);
bool kvfs_inode_owns_forks(const struct kvfs_inode *ip);
/*
 * The data fork's whole room (the literal area without an attribute
 * fork) is zeros: shared forks, or owned ones holding nothing.
 */
bool kvfs_inode_forks_zero(const struct kvfs_inode *ip);
/* Zero both forks (nothing to do for shared ones). */
void kvfs_inode_forks_clear(struct kvfs_inode *ip);
void kvfs_inode_forks_free(struct kvfs_inode *ip);

/* Bytes of the attribute fork (0 without one). */
uint32_t kvfs_inode_afork_size(const struct kvfs_inode *ip);

/*
 * Decode inode ino from dip (verified by the caller with
 * kvfs_dinode_verify()) into ip.
 */
void kvfs_inode_from_disk(struct kvfs_inode *ip, const void *dip);
/*
 * Encode ip's core and forks into dip (inodesize bytes), keeping dip's
 * header but its lsn and crc: stamped with lsn, crc recomputed.
 */
void kvfs_inode_to_disk(const struct kvfs_inode *ip, void *dip, uint64_t lsn);
/* The core as logged (struct kvfs_log_dinode) and back. */
void kvfs_inode_to_log(const struct kvfs_inode *ip, struct kvfs_log_dinode *ld);
void kvfs_log_dinode_to_disk(const struct kvfs_log_dinode *ld, void *dip);

#endif
