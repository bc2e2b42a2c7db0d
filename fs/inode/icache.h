/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The inode cache (XFS's xfs_icache.c): one in-core inode per inode number,
 * found lock-free (an rculfhash lookup under RCU and one atomic increment),
 * reference counted, read from its cluster buffer and fully verified
 * (kvfs_dinode_verify()) the first time it is wanted.
 *
 * An inode stays cached after its last kvfs_iput() until reclaim frees it:
 * the shrinker registered with kvmalloc (and kvfs_icache_shrink()) frees
 * unreferenced inodes that are clean: nothing logged since their last
 * write-back, not pinned by a checkpoint, not in the AIL.  Dirty inodes are
 * never dropped: when reclaim finds too few clean ones it asks the AIL to
 * write everything back (kvj_log_push_ail()), after which they are clean.
 * The shrinker is flagged KV_SHRINK_FS: it is not run inside a transaction
 * (NOFS), where the inode it would look at may be locked by the very
 * thread that allocates; it only trylocks and never waits on I/O.
 *
 * Corruption: a damaged inode is -EUCLEAN (a bad crc too, which the
 * report says), recorded with its number through the corruption-report path
 * (fs/io/blkhdr.h); it is not cached, and the other inodes of its cluster
 * load as usual (the cluster buffer's verifier checks magics only).
 */
#ifndef KV_FS_ICACHE_H
#define KV_FS_ICACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/inode/inode.h"

struct kvfs_icache;
struct kvfs_trans;

/* Create the cache of mp (after the log is open); one per mount. */
int kvfs_icache_create(struct kvfs_mount *mp, struct kvfs_icache **icp);
/*
 * No more reclaim from the allocator's shrinker pass (the background
 * reclaim thread may run one at any time): before kvj_log_close(), whose
 * log the inodes' items reach while they are judged reclaimable.
 */
void kvfs_icache_stop_reclaim(struct kvfs_icache *ic);
/*
 * Free every inode (after kvj_log_close(): nothing may reach the items
 * any more).  An inode still referenced is a caller bug: reported, abort.
 */
void kvfs_icache_destroy(struct kvfs_icache *ic);

/* kvfs_iget() flags */
#define KVFS_IGET_FREE (1u << 0) /* a free inode is fine (inode allocation) */
/*
 * The caller's transaction holds the inode's cluster buffer locked (a new
 * chunk's inode, fs/inode/ialloc.c): it is read under that lock.
 */
#define KVFS_IGET_CREATE (1u << 1)
/*
 * A number from outside (a file handle, a tool's argument): not read
 * unless the inode-chunk tree says an allocated chunk holds it (see
 * kvfs_ialloc_check_ino()), -EINVAL otherwise.  It costs a tree lookup
 * under the AG's lock on a cache miss: numbers the core handed out
 * itself (directory entries, FUSE node ids) need not pay it.  The caller
 * holds no AG lock (no transaction).
 */
#define KVFS_IGET_UNTRUSTED (1u << 2)

/*
 * The in-core inode ino, referenced.  -EINVAL: not an inode number of
 * this filesystem; -ENOENT: the inode is free (without KVFS_IGET_FREE);
 * -EUCLEAN: damaged (reported); -EIO (never -ENOMEM: memory
 * for the in-core inode is waited for, as in XFS).
 */
int kvfs_iget(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
	      struct kvfs_inode **ipp);
/*
 * kvfs_iget(KVFS_IGET_FREE | flags) of a free inode whose on-disk image
 * the caller knows to be dip (inodesize bytes; a chunk this mount
 * initialised, fs/inode/ialloc.c): a cached inode is the one returned; on
 * a miss the inode is made from dip, its cluster neither read nor
 * verified (XFS's xfs_iget() of a new inode with XFS_IGET_CREATE).
 */
int kvfs_iget_fresh(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
		    const void *dip, struct kvfs_inode **ipp);
/*
 * kvfs_iget() of a number from outside (KVFS_IGET_UNTRUSTED): -ESTALE when
 * it is not an inode (no allocated chunk holds it) or the inode is free.
 */
int kvfs_iget_untrusted(struct kvfs_mount *mp, uint64_t ino,
			struct kvfs_inode **ipp);
/*
 * An NFS-style handle (ino, generation), untrusted: kvfs_iget_untrusted(),
 * and -ESTALE too when the inode was freed and reused since the handle
 * was made (another generation).
 */
int kvfs_iget_handle(struct kvfs_mount *mp, uint64_t ino, uint32_t gen,
		     struct kvfs_inode **ipp);
/*
 * Call fn on every cached inode for which want() (called under RCU, no
 * reference: it may only read atomics) is true, holding a reference and
 * no lock; stops at fn's first error, returned.  Inodes cached during the
 * walk may be missed.
 */
int kvfs_icache_walk(struct kvfs_mount *mp, bool (*want)(struct kvfs_inode *ip),
		     int (*fn)(struct kvfs_inode *ip, void *arg), void *arg);
/* Another reference on an inode already referenced. */
void kvfs_ihold(struct kvfs_inode *ip);
/*
 * Drop a reference.  The last one of an allocated inode with no links and
 * no open reference frees it (fs/inode/inactive.h), in transactions of its
 * own: put it holding no inode lock and outside any transaction (inside
 * one, or any NOFS scope, the mount's inode worker frees it instead:
 * fs/inode/inodegc.h).  Whichever put is the last decides, however puts,
 * gets and unlinks interleave.
 */
void kvfs_iput(struct kvfs_inode *ip);

/*
 * read(ip, arg) of the cached inode ino without a reference or a lock (no
 * write to any shared line): under RCU, so the inode is not freed
 * meanwhile, as a seqcount read of i_lock_seq (fs/inode/inode.h): read()
 * makes relaxed atomic loads only, and what it found counts only once this
 * returns 0.  -EAGAIN when it cannot be done so: not cached, still being
 * read, failed or dying, or changed under the reads by exclusive holders
 * of its lock: take a reference then (kvfs_iget()).  A free inode (mode 0)
 * is read like any other: the caller tells.
 */
int kvfs_icache_read(struct kvfs_mount *mp, uint64_t ino,
		     void (*read)(const struct kvfs_inode *ip, void *arg),
		     void *arg);

/*
 * Where a finder of inodes by number remembers the inode it found for the
 * next finder (a directory entry's child: fs/ns/dir_rcu.c), so that
 * kvfs_icache_read_then() reads neither the cache's index nor its bucket,
 * and the inode's lines can be fetched before its number is read: the
 * in-core inode and the cache's free epoch read before it was found
 * (under RCU, that epoch still current means it is not freed: the rule
 * of the cache's per-thread memo, fs/inode/icache.c), under a seqcount of
 * its own (seq, odd while one of several storing threads stores).  A hint
 * is checked against the number wanted (its inode's own), so one that
 * names another inode (a name removed and made again, a slot two entries
 * share) is never used for this one.  Zeroed: none.  Lives at least as
 * long as the caller's RCU read section.
 */
struct kvfs_ihint {
	atomic_uint seq;
	struct kvfs_inode *_Atomic ip;
	_Atomic uint64_t epoch;
};

/*
 * Start fetching the inode h names into the CPU's cache: the lines a
 * lock-free read of its attributes reads (the cache's fields and the
 * core, fs/inode/inode.h).  Nothing is read from it nor checked: a
 * prefetch of freed memory does no harm.
 */
static inline void kvfs_ihint_prefetch(const struct kvfs_ihint *h)
{
	const char *p = (const char *)atomic_load_explicit(
		&h->ip, memory_order_relaxed);

	if (p) {
		__builtin_prefetch(p);
		__builtin_prefetch(p + 64);
		__builtin_prefetch(p + 128);
	}
}

/*
 * Remember ip (referenced by the caller, in the cache) in h, unless
 * another thread is storing there: a creator's, so that the first lookup
 * of the new name fetches the inode as it reads the entry.
 */
void kvfs_ihint_remember(struct kvfs_mount *mp, struct kvfs_ihint *h,
			 struct kvfs_inode *ip);

/* The second inode of kvfs_icache_read_then(), as the first read sets it. */
struct kvfs_icache_next {
	uint64_t ino; /* 0: none */
	/* NULL, or where ino's inode may be remembered: used, then refreshed */
	struct kvfs_ihint *hint;
};

/*
 * kvfs_icache_read() of ino with read(ip, arg), then, when that counted
 * and left a nonzero inode number in next->ino, kvfs_icache_read() of it
 * with read2(ip, arg2) (its inode found through next->hint if that holds
 * it), in one RCU read section (a lookup in a directory and the stat of
 * the child it found: one section, not two).  Returns the first read's
 * result; *done2 says whether the second one counted.
 */
int kvfs_icache_read_then(struct kvfs_mount *mp, uint64_t ino,
			  void (*read)(const struct kvfs_inode *ip, void *arg),
			  void *arg, const struct kvfs_icache_next *next,
			  void (*read2)(const struct kvfs_inode *ip,
					void *arg2),
			  void *arg2, bool *done2);

/*
 * kvfs_icache_read() of ino with read(ip, arg), then, when that counted
 * and left in next a nonzero number and a hint, a reference to that
 * number's inode taken through the hint alone, as kvfs_iget() of it gives
 * one (*ipp; NULL when the hint does not give it so, a free inode
 * neither: kvfs_iget() it then): neither the cache's index nor its bucket
 * read, in the read's RCU section (an unlink's child, fs/ns/namei.c).
 */
int kvfs_icache_read_get(struct kvfs_mount *mp, uint64_t ino,
			 void (*read)(const struct kvfs_inode *ip, void *arg),
			 void *arg, const struct kvfs_icache_next *next,
			 struct kvfs_inode **ipp);

/*
 * The cached inode ino, referenced, without reading anything (tests):
 * -ENOENT if it is not cached.
 */
int kvfs_icache_lookup(struct kvfs_mount *mp, uint64_t ino,
		       struct kvfs_inode **ipp);

/*
 * The cached inode ino, without a reference, if keep(ip) (called under
 * RCU) says so; else NULL.  What keeps the inode from being freed once
 * RCU is left is the caller's business: the AIL's push holds the AIL lock
 * and keeps only inodes whose item is in the AIL, which reclaim's clean
 * test (taking that lock) never frees.
 */
struct kvfs_inode *kvfs_icache_peek(struct kvfs_mount *mp, uint64_t ino,
				    bool (*keep)(struct kvfs_inode *ip));

/*
 * The transaction the cached inode ino is joined to, or NULL (not cached,
 * or joined to none): read under RCU, a value to compare only, never to
 * follow (that transaction may end meanwhile).
 */
const struct kvfs_trans *kvfs_icache_joined_tx(struct kvfs_mount *mp,
					       uint64_t ino);

/*
 * The AIL wrote ip back and takes it out (its item's written() hook):
 * unreferenced, it is one of reclaim's first candidates.
 */
void kvfs_icache_note_written(struct kvfs_inode *ip);
/*
 * Free up to nr reclaimable inodes now: the AIL's recent write-backs
 * first, then a lap of the whole cache if they were not enough.
 */
size_t kvfs_icache_shrink(struct kvfs_icache *ic, size_t nr);

struct kvfs_icache_stats {
	uint64_t hits; /* kvfs_iget() served from the cache */
	uint64_t misses; /* kvfs_iget() that read the inode */
	/*
	 * lock-free reads that searched the index: neither the name's hint
	 * nor the thread's last finds held the inode
	 */
	uint64_t searches;
	uint64_t reclaimed; /* inodes freed by reclaim */
	/* of those, named by the AIL's write-back (no lap needed) */
	uint64_t reclaimed_written;
	uint64_t skipped_dirty; /* unreferenced inodes reclaim had to keep */
	/* last puts whose freeing failed (left for the next mount) */
	uint64_t inactive_failed;
	uint64_t nr_cached; /* inodes in the cache now */
};
void kvfs_icache_get_stats(struct kvfs_icache *ic,
			   struct kvfs_icache_stats *st);

#endif
