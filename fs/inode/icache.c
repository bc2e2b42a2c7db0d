// SPDX-License-Identifier: GPL-2.0
/*
 * The inode cache (see fs/inode/icache.h for the contract).
 *
 * Index: an rculfhash keyed by inode number, as the buffer cache's
 * (fs/io/buf.c), hashed by kvfs_ino_hash() (a chunk's inodes on
 * neighbouring buckets, fs/hash.h): a lookup takes a reference with one atomic
 * increment under rcu_read_lock(); reclaim forces an unreferenced inode's count
 * from 0 to INO_DEAD, so a lookup whose increment observes a negative count
 * undoes it and retries until the dying inode has left the index; dying inodes
 * are freed after a grace period.
 *
 * Creation: the creator publishes the new inode with KVFS_INEW set and
 * its i_lock held exclusively, then reads it; a concurrent kvfs_iget()
 * of the same number finds it, waits on i_lock, and either gets the one
 * inode or, if the read failed (KVFS_IBAD: unhashed), looks again.  So
 * every caller gets the same object.  A failed inode is freed by whoever
 * drops its last reference.  kvfs_iget_fresh() fills the inode from the
 * caller's image of a free inode before it publishes it: nothing to wait
 * for.
 *
 * Reclaim takes no lock (the item's clean test reads the AIL's flag
 * lock-free, kvj_item_in_ail()): it walks the index under RCU, claims
 * unreferenced clean inodes with the 0 -> INO_DEAD exchange, checks them clean
 * again (nobody can dirty an inode without a reference), unhashes them, waits
 * one grace period for the batch and frees them.  Under a stream of creates
 * the index is mostly dirty inodes the AIL has not written back, which every
 * lap walked again (at a 256 MiB budget the reclaim thread took a fifth of
 * the process's CPU in cds_lfht_next(), five inodes looked at for each one
 * freed): the AIL's write-backs name their unreferenced inodes to reclaim
 * (kvfs_icache_note_written(): a ring of the newest CAND_MAX numbers, the
 * oldest overwritten), which it tries first, each by one lookup.  The
 * shrinker's lap then looks at LAP_BATCH inodes at most, where the last
 * one stopped (XFS's per-AG reclaim cursor), so that a call costs a
 * bounded time and successive calls cover the whole index.
 *
 * Locks: cand_lock (class "kvfs_icache_cand", a leaf: taken under the AIL
 * lock, nothing taken or allocated under it) protects the candidate ring.
 *
 * The index grows by kvfs_ht_grow() (fs/hash.h).
 *
 * Each thread remembers the last inodes it found (tl_inodes, direct mapped
 * by number, as fs/io/buf.c's tl_bufs), each with the cache's free epoch
 * then: whoever frees hashed inodes bumps the epoch after unhashing them
 * and before their grace period, so a remembered inode whose epoch is
 * still current, read under rcu_read_lock(), has not been freed and will
 * not be before rcu_read_unlock().  It may be dying or failed (unhashed,
 * not yet freed): such an entry is forgotten and the index asked.  A stat
 * finds the directory and then the same child twice (lookup, getattr):
 * two of its three index walks are spared.  The third, the child's first
 * find, is spared by a hint (struct kvfs_ihint) its directory entry keeps
 * under the same rule: an inode and the epoch read before it was found.
 * Hints are stored by several threads, so each under a seqcount of its
 * own (a pair torn between two stores could pair an inode with an epoch
 * it was not found at).  An unlink takes its child through the hint by
 * reference (kvfs_icache_read_get()): the count is taken as a lookup
 * takes it, from 0 or more, which reclaim's exchange excludes.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "alloc/kvalloc.h"
#include "fs/bug.h"
#include "fs/data/convert.h"
#include "fs/data/iext.h"
#include "fs/hash.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/format/dinode.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inactive.h"
#include "fs/inode/inodegc.h"
#include "fs/ns/dir.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "journal/errortag.h"

#define INO_DEAD (-(1 << 30))
#define INODE_ALIGN 64
#define NR_SLOTS 64
#define TL_INODES 64
#define CAND_MAX 8192 /* reclaim candidates kept (a power of 2) */
#define CAND_BATCH 128 /* taken from the ring at a time */
#define LAP_BATCH 4096 /* inodes a shrinker's lap looks at */

/*
 * The hit and miss counts, striped per thread slot (one cache line each,
 * written with plain relaxed stores, as the buffer cache's): one shared
 * counter took an atomic increment on a line every thread bounced, three
 * times a stat.
 */
enum { ST_HITS, ST_MISSES, ST_SEARCHES };

/*
 * One cache line of counters per thread slot, aligned (the cache is
 * page-aligned): unaligned, the stats array began 32 bytes into a line,
 * two threads' slots shared one and every stat bounced it between them.
 */
struct stat_slot {
	uint64_t v[8];
} __attribute__((aligned(64)));

struct kvfs_icache {
	struct kvfs_mount *mp;
	uint64_t id; /* tl_inodes' entries are of this cache (never 0) */
	/* moved by every free of hashed inodes: tl_inodes' entries are stale */
	atomic_uint_fast64_t free_epoch;
	struct cds_lfht *ht;
	struct kv_cache *ino_cache; /* struct kvfs_inode */
	atomic_size_t nr_cached;
	struct kvfs_ht_size ht_size;
	atomic_uint_fast64_t reclaimed, reclaimed_written, skipped_dirty;
	atomic_uint_fast64_t inactive_failed;
	/* the inode a lap stopped before (0: none): the next starts there */
	atomic_uint_fast64_t lap_cursor;
	/* inode numbers the AIL wrote back, oldest first from cand_head */
	struct kv_mutex cand_lock;
	uint32_t cand_head, cand_nr;
	uint64_t cand[CAND_MAX];
	struct kv_shrinker shrinker;
	struct stat_slot stats[NR_SLOTS];
};

static _Thread_local int tl_slot = -1;
static atomic_uint next_slot;
static atomic_uint_fast64_t next_cache_id = 1;

/* Inodes this thread found (see the top of the file). */
struct tl_inode {
	uint64_t cache_id, ino, epoch;
	struct kvfs_inode *ip;
};

static _Thread_local struct tl_inode tl_inodes[TL_INODES];

static inline void stat_inc(struct kvfs_icache *ic, int which)
{
	uint64_t *v;

	if (caa_unlikely(tl_slot < 0))
		tl_slot = (int)(atomic_fetch_add(&next_slot, 1) % NR_SLOTS);
	v = &ic->stats[tl_slot].v[which];
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
}

/*
 * The I/O lock prefers writers (as the kernel's rwsems queue them): with
 * readers first, a stream of overwrites holding it shared kept an
 * extending write, which takes it exclusively, waiting for as long as
 * they went on (kvfs-core-bench seq_write, 4 threads: the last slice's
 * writer wrote 3 MiB in 2 s).  Nobody takes it shared twice in one
 * thread, which writer preference would deadlock.
 */
static pthread_rwlockattr_t iolock_attr;
static pthread_once_t iolock_once = PTHREAD_ONCE_INIT;

static void iolock_attr_init(void)
{
	pthread_rwlockattr_init(&iolock_attr);
	pthread_rwlockattr_setkind_np(
		&iolock_attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
}

static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static pthread_key_t rcu_key;

static void rcu_thread_exit(void *arg)
{
	(void)arg;
	rcu_unregister_thread();
}

static void rcu_key_init(void)
{
	pthread_key_create(&rcu_key, rcu_thread_exit);
}

/* Register this thread with urcu unless something (fs/io/buf.c) already did. */
static inline void rcu_online(void)
{
	if (caa_likely(URCU_TLS(urcu_memb_reader).registered))
		return;
	pthread_once(&rcu_once, rcu_key_init);
	rcu_register_thread();
	pthread_setspecific(rcu_key, (void *)1);
}

static inline void count(atomic_uint_fast64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static int ino_match(struct cds_lfht_node *node, const void *key)
{
	const struct kvfs_inode *ip =
		caa_container_of(node, struct kvfs_inode, i_hnode);

	return ip->i_ino == *(const uint64_t *)key;
}

/* ---- inode life ---- */

/* flags: KVFS_INEW, or 0 for one filled before it is published */
static struct kvfs_inode *inode_alloc(struct kvfs_icache *ic, uint64_t ino,
				      unsigned flags)
{
	struct kvfs_mount *mp = ic->mp;
	/*
	 * Never -ENOMEM (as XFS's xfs_inode_alloc()): reclaim frees inodes
	 * and buffers once the log and the AIL have made them clean, so
	 * waiting for them ends.
	 */
	struct kvfs_inode *ip =
		kv_cache_alloc(ic->ino_cache, KV_ZERO | KV_NOFAIL);

	pthread_once(&iolock_once, iolock_attr_init);
	ip->i_ino = ino;
	ip->i_mount = mp;
	kvfs_inode_forks_init(ip);
	atomic_init(&ip->i_count, 1);
	atomic_init(&ip->i_flags, flags);
	pthread_rwlock_init(&ip->i_iolock, &iolock_attr);
	pthread_rwlock_init(&ip->i_lock, NULL);
	cds_lfht_node_init(&ip->i_hnode);
	if (mp->log)
		kvfs_inode_item_init(ip, mp->log);
	return ip;
}

static void inode_free(struct kvfs_icache *ic, struct kvfs_inode *ip)
{
	kvfs_inode_item_teardown(ip);
	kvfs_iext_inode_free(ip);
	kvfs_conv_free(ip);
	pthread_rwlock_destroy(&ip->i_iolock);
	pthread_rwlock_destroy(&ip->i_lock);
	kvfs_dir_map_free(ip);
	kvfs_inode_forks_free(ip);
	kv_cache_free(ic->ino_cache, ip);
}

static void inode_unhash(struct kvfs_icache *ic, struct kvfs_inode *ip)
{
	rcu_read_lock();
	cds_lfht_del(ic->ht, &ip->i_hnode);
	rcu_read_unlock();
}

/*
 * Nobody holds it, nothing of the journal refers to it, and it keeps no
 * state only memory has: an allocated inode without links (open, on its
 * unlinked list: its last close must find it to free it, fs/inode/openref.h)
 * and a file with speculative blocks past EOF to trim at its last close stay.
 */
static bool inode_reclaimable(struct kvfs_inode *ip)
{
	if (__atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED) &&
	    !__atomic_load_n(&ip->i_nlink, __ATOMIC_RELAXED))
		return false;
	if (atomic_load(&ip->i_spec_prealloc))
		return false;
	/* written blocks not yet converted: the settle thread needs it */
	if (kvfs_conv_busy(ip))
		return false;
	return !ip->i_mount->log || kvfs_inode_item_clean(ip);
}

/* Not dying nor failed: still the hashed inode of its number. */
static inline bool ic_usable(const struct kvfs_inode *ip)
{
	return atomic_load_explicit(&ip->i_count, memory_order_relaxed) >= 0 &&
	       !(atomic_load_explicit(&ip->i_flags, memory_order_relaxed) &
		 KVFS_IBAD);
}

static inline void tl_remember(struct kvfs_icache *ic, uint64_t ino,
			       uint64_t epoch, struct kvfs_inode *ip)
{
	struct tl_inode *t = &tl_inodes[ino % TL_INODES];

	t->cache_id = ic->id;
	t->ino = ino;
	t->epoch = epoch;
	t->ip = ip;
}

/*
 * Under rcu_read_lock(): inode ino if hashed (or remembered by this thread
 * and not freed, see the top of the file), else NULL, epoch the cache's
 * free epoch read before (a free after the index walk moves it past
 * that).  Valid until rcu_read_unlock(); it may be new, failed or dying:
 * the caller looks.
 */
static inline struct kvfs_inode *ic_find_at(struct kvfs_icache *ic,
					    uint64_t ino, uint64_t epoch)
{
	struct tl_inode *t = &tl_inodes[ino % TL_INODES];
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct kvfs_inode *ip;

	if (t->cache_id == ic->id && t->ino == ino && t->epoch == epoch) {
		ip = t->ip;
		/* unhashed (dying, failed): a new one may be in the index */
		if (caa_likely(ic_usable(ip)))
			return ip;
		t->cache_id = 0;
	}
	stat_inc(ic, ST_SEARCHES);
	cds_lfht_lookup(ic->ht, kvfs_ino_hash(ino), ino_match, &ino, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (!node)
		return NULL;
	ip = caa_container_of(node, struct kvfs_inode, i_hnode);
	tl_remember(ic, ino, epoch, ip);
	return ip;
}

static inline struct kvfs_inode *ic_find(struct kvfs_icache *ic, uint64_t ino)
{
	return ic_find_at(
		ic, ino,
		atomic_load_explicit(&ic->free_epoch, memory_order_acquire));
}

/*
 * Under rcu_read_lock(): the inode hint h remembers if it is ino's, not
 * freed (h's epoch is the current one, epoch) and usable, else NULL.
 */
static inline struct kvfs_inode *hint_get(const struct kvfs_ihint *h,
					  uint64_t ino, uint64_t epoch)
{
	unsigned s = atomic_load_explicit(&h->seq, memory_order_acquire);
	struct kvfs_inode *ip =
		atomic_load_explicit(&h->ip, memory_order_relaxed);
	uint64_t e = atomic_load_explicit(&h->epoch, memory_order_relaxed);

	atomic_thread_fence(memory_order_acquire);
	if (s & 1 || atomic_load_explicit(&h->seq, memory_order_relaxed) != s ||
	    !ip || e != epoch)
		return NULL;
	return ip->i_ino == ino && ic_usable(ip) ? ip : NULL;
}

/* Remember ip, found at epoch, in h, unless another thread is storing. */
static void hint_set(struct kvfs_ihint *h, struct kvfs_inode *ip,
		     uint64_t epoch)
{
	unsigned s = atomic_load_explicit(&h->seq, memory_order_relaxed);

	if (s & 1 || !atomic_compare_exchange_strong_explicit(
			     &h->seq, &s, s + 1, memory_order_relaxed,
			     memory_order_relaxed))
		return;
	/* the odd count is seen before the fields change */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->ip, ip, memory_order_relaxed);
	atomic_store_explicit(&h->epoch, epoch, memory_order_relaxed);
	atomic_store_explicit(&h->seq, s + 2, memory_order_release);
}

/*
 * Under rcu_read_lock(): ic_find() of ino through hint h (NULL: none);
 * the inode found in the index is remembered in h, the one h gave in this
 * thread's memo (the stat that follows a lookup finds it there).
 */
static inline struct kvfs_inode *
ic_find_hinted(struct kvfs_icache *ic, uint64_t ino, struct kvfs_ihint *h)
{
	uint64_t epoch =
		atomic_load_explicit(&ic->free_epoch, memory_order_acquire);
	struct kvfs_inode *ip;

	if (!h)
		return ic_find_at(ic, ino, epoch);
	ip = hint_get(h, ino, epoch);
	if (ip) {
		tl_remember(ic, ino, epoch, ip);
		return ip;
	}
	ip = ic_find_at(ic, ino, epoch);
	if (ip)
		hint_set(h, ip, epoch);
	return ip;
}

void kvfs_ihint_remember(struct kvfs_mount *mp, struct kvfs_ihint *h,
			 struct kvfs_inode *ip)
{
	hint_set(h, ip,
		 atomic_load_explicit(&mp->ic->free_epoch,
				      memory_order_acquire));
}

/*
 * A reference to ip, found under rcu_read_lock(), unless reclaim has
 * claimed it (its count forced negative: the increment is undone).
 */
static inline bool ic_get_live(struct kvfs_inode *ip)
{
	if (caa_likely(atomic_fetch_add_explicit(&ip->i_count, 1,
						 memory_order_acquire) >= 0))
		return true;
	atomic_fetch_sub_explicit(&ip->i_count, 1, memory_order_relaxed);
	return false;
}

/* 1 and a reference if cached, 0 if not, -EAGAIN if dying there. */
static int ic_lookup(struct kvfs_icache *ic, uint64_t ino,
		     struct kvfs_inode **ipp)
{
	struct kvfs_inode *ip;
	int ret = 1;

	rcu_read_lock();
	ip = ic_find(ic, ino);
	if (!ip) {
		ret = 0;
		goto out;
	}
	if (!ic_get_live(ip)) {
		ret = -EAGAIN;
		goto out;
	}
	*ipp = ip;
out:
	rcu_read_unlock();
	return ret;
}

/*
 * A cached inode was found: wait for its creator if it is new.  0: ready;
 * -EAGAIN: its creation failed (released; look again).
 */
static int inode_found(struct kvfs_inode *ip)
{
	if (atomic_load_explicit(&ip->i_flags, memory_order_acquire) &
	    KVFS_INEW) {
		pthread_rwlock_rdlock(&ip->i_lock);
		pthread_rwlock_unlock(&ip->i_lock);
	}
	if (atomic_load_explicit(&ip->i_flags, memory_order_acquire) &
	    KVFS_IBAD) {
		kvfs_iput(ip);
		return -EAGAIN;
	}
	return 0;
}

/*
 * Read and fully verify inode ip (new, locked) from its cluster buffer;
 * held: the caller's transaction has that buffer locked.
 */
static int inode_read(struct kvfs_inode *ip, bool held)
{
	struct kvfs_mount *mp = ip->i_mount;
	const struct kvfs_geom *g = &mp->g;
	struct kv_buf *bp;
	const void *dip;
	int err;

	err = kv_buf_read(mp->bc, kvfs_ino_to_fsb(g, ip->i_ino), 1,
			  &kvfs_inode_buf_ops, &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	dip = (const uint8_t *)bp->b_addr + kvfs_ino_to_offset(g, ip->i_ino);
	/*
	 * Under the buffer lock: the AIL may be copying a neighbour into the
	 * cluster (never this inode: it has no dirty state before it is read).
	 */
	if (!held)
		kv_buf_lock(bp);
	err = kvfs_dinode_verify(dip, g, ip->i_ino);
	/* XFS's xfs_dinode_verify() checks it too (xfs_log_check_lsn()) */
	if (!err)
		err = kvfs_blkhdr_check_lsn(dip, bp->b_blkno, ip->i_ino, NULL,
					    kv_bcache_lsn_head(mp->bc));
	if (!err)
		kvfs_inode_from_disk(ip, dip);
	if (!held)
		kv_buf_unlock(bp);
	kv_buf_rele(bp);
	/* a bad checksum is damage to every caller (the public API's EUCLEAN) */
	return err == -EBADMSG ? -EUCLEAN : err;
}

/*
 * The AG lock a miss of a number from outside holds from before the new
 * inode is published to the end of its read (NULL for any other): the
 * chunk tree's answer holds while its piece cannot be freed.  Taken
 * first: an allocation in the AG holds that lock while it waits for a
 * free inode's creator (inode_found()), so a creator that published the
 * inode and then waited for the AG lock deadlocked with it (a FUSE
 * lookup by handle of a just freed inode beside a create taking it), as
 * XFS's xfs_iget_cache_miss() reads under the AGI before it inserts.
 */
static struct kvfs_perag *untrusted_lock(struct kvfs_mount *mp, uint64_t ino,
					 unsigned flags)
{
	struct kvfs_perag *pag;

	if (!(flags & KVFS_IGET_UNTRUSTED))
		return NULL;
	pag = kvfs_perag_get(mp, kvfs_ino_to_agno(&mp->g, ino));
	kvfs_perag_lock(pag);
	return pag;
}

/* inode_read() of a number from outside, under untrusted_lock()'s lock */
static int inode_read_untrusted(struct kvfs_inode *ip)
{
	int err = kvfs_ialloc_check_ino(ip->i_mount, ip->i_ino);

	return err ? err : inode_read(ip, false);
}

static int iget(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
		struct kvfs_inode **ipp)
{
	struct kvfs_icache *ic = mp->ic;
	struct cds_lfht_node *node;
	struct kvfs_inode *ip = NULL;
	struct kvfs_perag *pag;
	int err;

	rcu_online();
	for (;;) {
		err = ic_lookup(ic, ino, &ip);
		if (err == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (!err)
			break;
		if (inode_found(ip))
			continue;
		stat_inc(ic, ST_HITS);
		goto found;
	}
	/* only numbers in range are ever cached: checked on a miss */
	if (!kvfs_ino_in_range(&mp->g, ino))
		return -EINVAL;

	/* not cached: publish it locked, then read it */
	pag = untrusted_lock(mp, ino, flags);
	ip = inode_alloc(ic, ino, KVFS_INEW);
	pthread_rwlock_wrlock(&ip->i_lock);
	rcu_read_lock();
	node = cds_lfht_add_unique(ic->ht, kvfs_ino_hash(ino), ino_match, &ino,
				   &ip->i_hnode);
	rcu_read_unlock();
	if (node != &ip->i_hnode) {
		/*
		 * lost a race with another creator: never published; the
		 * cached one is looked up
		 */
		pthread_rwlock_unlock(&ip->i_lock);
		inode_free(ic, ip);
		if (pag)
			kvfs_perag_unlock(pag);
		return iget(mp, ino, flags, ipp);
	}
	kvfs_ht_grow(&ic->ht_size, atomic_fetch_add(&ic->nr_cached, 1) + 1);
	stat_inc(ic, ST_MISSES);
	if (pag)
		err = inode_read_untrusted(ip);
	else
		err = inode_read(ip, flags & KVFS_IGET_CREATE);
	if (err) {
		inode_unhash(ic, ip);
		atomic_fetch_sub(&ic->nr_cached, 1);
		atomic_fetch_or_explicit(&ip->i_flags, KVFS_IBAD,
					 memory_order_release);
		pthread_rwlock_unlock(&ip->i_lock);
		if (pag)
			kvfs_perag_unlock(pag);
		kvfs_iput(ip);
		return err;
	}
	atomic_fetch_and_explicit(&ip->i_flags, ~KVFS_INEW,
				  memory_order_release);
	pthread_rwlock_unlock(&ip->i_lock);
	if (pag)
		kvfs_perag_unlock(pag);
found:
	/* a free inode is cached too (allocation will want it) */
	if (!__atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED) &&
	    !(flags & KVFS_IGET_FREE)) {
		kvfs_iput(ip);
		return -ENOENT;
	}
	*ipp = ip;
	return 0;
}

int kvfs_iget(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
	      struct kvfs_inode **ipp)
{
	return iget(mp, ino, flags, ipp);
}

/*
 * kvfs_iget_fresh()'s insertion, without looking first: the inode is
 * filled from dip before it is published (the insertion orders the fills
 * before any find), so nobody ever sees it new and its creator needs
 * neither i_lock nor KVFS_INEW (a lock and an unlock per create).
 */
static int iget_fresh(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
		      const void *dip, struct kvfs_inode **ipp)
{
	struct kvfs_icache *ic = mp->ic;
	struct cds_lfht_node *node;
	struct kvfs_inode *ip;

	if (!kvfs_ino_in_range(&mp->g, ino))
		return -EINVAL;
	ip = inode_alloc(ic, ino, 0);
	kvfs_inode_from_disk(ip, dip);
	rcu_read_lock();
	node = cds_lfht_add_unique(ic->ht, kvfs_ino_hash(ino), ino_match, &ino,
				   &ip->i_hnode);
	rcu_read_unlock();
	if (node != &ip->i_hnode) {
		/* cached already: never published; the cached one is found */
		inode_free(ic, ip);
		return iget(mp, ino, flags, ipp);
	}
	kvfs_ht_grow(&ic->ht_size, atomic_fetch_add(&ic->nr_cached, 1) + 1);
	stat_inc(ic, ST_MISSES);
	*ipp = ip;
	return 0;
}

int kvfs_iget_fresh(struct kvfs_mount *mp, uint64_t ino, unsigned flags,
		    const void *dip, struct kvfs_inode **ipp)
{
	rcu_online();
	return iget_fresh(mp, ino, flags | KVFS_IGET_FREE, dip, ipp);
}

/* Reads of an inode changing under them: tried again this often. */
#define READ_TRIES 4

/*
 * kvfs_icache_read() of ip (NULL: not cached), the caller inside
 * rcu_read_lock(); inlined (-O2 kept it a call: ~30 instructions of a
 * stat's ~1 700)
 */
static inline __attribute__((always_inline)) int
read_rcu(struct kvfs_icache *ic, struct kvfs_inode *ip,
	 void (*read)(const struct kvfs_inode *ip, void *arg), void *arg)
{
	if (!ip)
		return -EAGAIN;
	/* acquire: a creator's reads are seen once KVFS_INEW is seen clear */
	if (atomic_load_explicit(&ip->i_flags, memory_order_acquire) &
	    (KVFS_INEW | KVFS_IBAD))
		return -EAGAIN;
	/*
	 * Dying: nobody can change it any more, but a new inode of the
	 * number may come once it is unhashed; iget waits that out.
	 */
	if (atomic_load_explicit(&ip->i_count, memory_order_relaxed) < 0)
		return -EAGAIN;
	for (unsigned i = 0; i < READ_TRIES; i++) {
		uint64_t seq = kvfs_ilock_seq_begin(ip);

		/* an exclusive holder: its unlock is waited for by the lock */
		if (seq & 1)
			break;
		read(ip, arg);
		/*
		 * Not dying either: a successor (made once this one is
		 * dying) changes the inode with a seqcount of its own.
		 */
		if (!kvfs_ilock_seq_retry(ip, seq) &&
		    atomic_load_explicit(&ip->i_count, memory_order_relaxed) >=
			    0) {
			stat_inc(ic, ST_HITS);
			return 0;
		}
	}
	return -EAGAIN;
}

int kvfs_icache_read(struct kvfs_mount *mp, uint64_t ino,
		     void (*read)(const struct kvfs_inode *ip, void *arg),
		     void *arg)
{
	int err;

	rcu_online();
	rcu_read_lock();
	err = read_rcu(mp->ic, ic_find(mp->ic, ino), read, arg);
	rcu_read_unlock();
	return err;
}

int kvfs_icache_read_then(struct kvfs_mount *mp, uint64_t ino,
			  void (*read)(const struct kvfs_inode *ip, void *arg),
			  void *arg, const struct kvfs_icache_next *next,
			  void (*read2)(const struct kvfs_inode *ip,
					void *arg2),
			  void *arg2, bool *done2)
{
	struct kvfs_icache *ic = mp->ic;
	int err;

	*done2 = false;
	rcu_online();
	rcu_read_lock();
	err = read_rcu(ic, ic_find(ic, ino), read, arg);
	/* *next comes from a read that counted: a number then true */
	if (!err && next->ino)
		*done2 =
			!read_rcu(ic, ic_find_hinted(ic, next->ino, next->hint),
				  read2, arg2);
	rcu_read_unlock();
	return err;
}

/*
 * Under rcu_read_lock(): a reference to the inode h remembers for ino, as
 * ic_lookup() and inode_found() give one, if h gives it usable (ino's,
 * not freed, dying, failed nor new), else NULL.  The count taken from 0
 * or more keeps reclaim off, so it is still hashed (reclaim claims an
 * inode before it unhashes it).
 */
static struct kvfs_inode *hint_grab(struct kvfs_icache *ic, uint64_t ino,
				    const struct kvfs_ihint *h)
{
	uint64_t epoch =
		atomic_load_explicit(&ic->free_epoch, memory_order_acquire);
	struct kvfs_inode *ip = hint_get(h, ino, epoch);

	/* acquire: a creator's reads are seen once KVFS_INEW is seen clear */
	if (!ip || atomic_load_explicit(&ip->i_flags, memory_order_acquire) &
			   (KVFS_INEW | KVFS_IBAD))
		return NULL;
	if (!ic_get_live(ip))
		return NULL;
	stat_inc(ic, ST_HITS);
	return ip;
}

int kvfs_icache_read_get(struct kvfs_mount *mp, uint64_t ino,
			 void (*read)(const struct kvfs_inode *ip, void *arg),
			 void *arg, const struct kvfs_icache_next *next,
			 struct kvfs_inode **ipp)
{
	struct kvfs_icache *ic = mp->ic;
	struct kvfs_inode *ip = NULL;
	int err;

	*ipp = NULL;
	rcu_online();
	rcu_read_lock();
	err = read_rcu(ic, ic_find(ic, ino), read, arg);
	/* *next comes from a read that counted: a number then true */
	if (!err && next->ino && next->hint)
		ip = hint_grab(ic, next->ino, next->hint);
	rcu_read_unlock();
	if (!ip)
		return err;
	/* a free inode is cached too: kvfs_iget() tells the caller */
	if (!__atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED)) {
		kvfs_iput(ip);
		return err;
	}
	*ipp = ip;
	return err;
}

int kvfs_iget_untrusted(struct kvfs_mount *mp, uint64_t ino,
			struct kvfs_inode **ipp)
{
	int err = kvfs_iget(mp, ino, KVFS_IGET_UNTRUSTED, ipp);

	return err == -EINVAL || err == -ENOENT ? -ESTALE : err;
}

int kvfs_iget_handle(struct kvfs_mount *mp, uint64_t ino, uint32_t gen,
		     struct kvfs_inode **ipp)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget_untrusted(mp, ino, &ip);

	if (err)
		return err;
	if (__atomic_load_n(&ip->i_generation, __ATOMIC_RELAXED) != gen) {
		kvfs_iput(ip);
		return -ESTALE;
	}
	*ipp = ip;
	return 0;
}

int kvfs_icache_lookup(struct kvfs_mount *mp, uint64_t ino,
		       struct kvfs_inode **ipp)
{
	struct kvfs_inode *ip;
	int err;

	rcu_online();
	for (;;) {
		err = ic_lookup(mp->ic, ino, &ip);
		if (err == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (!err)
			return -ENOENT;
		if (inode_found(ip))
			continue;
		*ipp = ip;
		return 0;
	}
}

struct kvfs_inode *kvfs_icache_peek(struct kvfs_mount *mp, uint64_t ino,
				    bool (*keep)(struct kvfs_inode *ip))
{
	struct kvfs_inode *ip;

	rcu_online();
	rcu_read_lock();
	ip = ic_find(mp->ic, ino);
	if (ip && !keep(ip))
		ip = NULL;
	rcu_read_unlock();
	return ip;
}

const struct kvfs_trans *kvfs_icache_joined_tx(struct kvfs_mount *mp,
					       uint64_t ino)
{
	const struct kvfs_trans *tx = NULL;
	struct kvfs_inode *ip;

	rcu_online();
	rcu_read_lock();
	ip = ic_find(mp->ic, ino);
	if (ip)
		tx = atomic_load(&ip->i_item.tx);
	rcu_read_unlock();
	return tx;
}

void kvfs_ihold(struct kvfs_inode *ip)
{
	atomic_fetch_add_explicit(&ip->i_count, 1, memory_order_relaxed);
}

/*
 * The count back from 0 to 1 after our put took it there: false when
 * somebody else took a reference meanwhile (their last put looks at the
 * inode again).  A negative count is reclaim's claim, undone as soon as it
 * sees the inode has no links (it never frees such an inode): waited out.
 */
static bool iget_back(struct kvfs_inode *ip)
{
	int c = 0;

	while (!atomic_compare_exchange_weak(&ip->i_count, &c, 1)) {
		if (c > 0)
			return false;
		if (c < 0) {
			sched_yield();
			c = 0;
		}
	}
	return true;
}

/*
 * The put that takes the count to 0 decides whether the inode is to be
 * freed, after the exchange: deciding before it (at a count of 1) lost
 * inodes whose last link went meanwhile, as another holder took a
 * reference, unlinked and put it back to 1 between the test and the
 * exchange (tests/life/test_iunlink.c, put_race).  The acquire side of the
 * exchange shows every change the other holders made before their puts.
 * Freeing takes the reference back, first; inside a transaction (or any
 * NOFS scope) the reference goes to the mount's inode worker instead,
 * which puts it outside (fs/inode/inodegc.h).  Under RCU until the
 * reference is back: a count of 0 lets reclaim free the inode, after a
 * grace period.
 */
void kvfs_iput(struct kvfs_inode *ip)
{
	bool tried = false, held;
	int zero = 0;

	rcu_online();
	for (;;) {
		rcu_read_lock();
		if (atomic_fetch_sub_explicit(&ip->i_count, 1,
					      memory_order_acq_rel) != 1) {
			rcu_read_unlock();
			return;
		}
		if (atomic_load(&ip->i_flags) & KVFS_IBAD) {
			/* a failed creation, out of the index: the last holder frees it */
			held = atomic_compare_exchange_strong(&ip->i_count,
							      &zero, INO_DEAD);
			rcu_read_unlock();
			if (held) {
				/* unhashed already: see tl_inodes */
				atomic_fetch_add(&ip->i_mount->ic->free_epoch,
						 1);
				synchronize_rcu();
				inode_free(ip->i_mount->ic, ip);
			}
			return;
		}
		if (kvj_errtag(KVJ_ERRTAG_IPUT_DELAY))
			usleep((useconds_t)kvj_errtag_value(
				KVJ_ERRTAG_IPUT_DELAY));
		held = !tried && kvfs_inode_needs_inactive(ip) && iget_back(ip);
		rcu_read_unlock();
		if (!held)
			return;
		/* ours again: freed meanwhile by whoever held it? */
		if (!kvfs_inode_needs_inactive(ip))
			continue;
		if (kv_current_gfp(0) & KV_NOFS) {
			if (ip->i_mount->inodegc) {
				/* freed where no transaction is open */
				kvfs_inodegc_queue(ip);
				return;
			}
			tried = true;
			continue;
		}
		/*
		 * A failure leaves it on its list for the next mount
		 * (recorded: fs/inode/inactive.h).  After a success it may
		 * need it again: freed, it may have been allocated, unlinked
		 * and closed again by others while our reference kept it.
		 */
		tried = kvfs_inactive(ip) != 0;
		if (tried)
			count(&ip->i_mount->ic->inactive_failed);
	}
}

/* ---- reclaim ---- */

/* The inode at the iterator, NULL at the end (no offset from NULL). */
static struct kvfs_inode *iter_inode(struct cds_lfht_iter *iter)
{
	struct cds_lfht_node *node = cds_lfht_iter_get_node(iter);

	return node ? caa_container_of(node, struct kvfs_inode, i_hnode) : NULL;
}

int kvfs_icache_walk(struct kvfs_mount *mp, bool (*want)(struct kvfs_inode *ip),
		     int (*fn)(struct kvfs_inode *ip, void *arg), void *arg)
{
	struct kvfs_icache *ic = mp->ic;
	struct kvfs_inode *ip, *prev = NULL;
	struct cds_lfht_iter iter;
	int err = 0;

	rcu_online();
	rcu_read_lock();
	cds_lfht_first(ic->ht, &iter);
	while ((ip = iter_inode(&iter)) != NULL) {
		uint64_t ino = ip->i_ino;

		if (!want(ip)) {
			cds_lfht_next(ic->ht, &iter);
			continue;
		}
		/* dying (reclaim owns it): as a lookup, leave it be */
		if (!ic_get_live(ip)) {
			cds_lfht_next(ic->ht, &iter);
			continue;
		}
		rcu_read_unlock();
		/*
		 * The previous inode is let go only now: the iterator's
		 * step from it to this one was made under the read-side
		 * section just left, which no put may sleep in.
		 */
		if (prev)
			kvfs_iput(prev);
		err = fn(ip, arg);
		prev = ip;
		rcu_read_lock();
		if (err)
			break;
		/*
		 * Referenced, so still hashed: find it again under this
		 * read-side section (the iterator's next node may have been
		 * freed while it was left), and step on without leaving it.
		 */
		cds_lfht_lookup(ic->ht, kvfs_ino_hash(ino), ino_match, &ino,
				&iter);
		cds_lfht_next(ic->ht, &iter);
	}
	rcu_read_unlock();
	if (prev)
		kvfs_iput(prev);
	return err;
}

void kvfs_icache_note_written(struct kvfs_inode *ip)
{
	struct kvfs_icache *ic = ip->i_mount->ic;

	/* a referenced inode is reclaim's later, by a lap */
	if (!ic || atomic_load_explicit(&ip->i_count, memory_order_relaxed))
		return;
	kv_mutex_lock(&ic->cand_lock);
	ic->cand[(ic->cand_head + ic->cand_nr) % CAND_MAX] = ip->i_ino;
	if (ic->cand_nr < CAND_MAX)
		ic->cand_nr++;
	else
		ic->cand_head = (ic->cand_head + 1) % CAND_MAX;
	kv_mutex_unlock(&ic->cand_lock);
}

/* Unhash ip for reclaim if nobody holds it and it is clean (RCU held). */
static bool claim(struct kvfs_icache *ic, struct kvfs_inode *ip, size_t *kept)
{
	int zero = 0;

	if (atomic_load(&ip->i_count) != 0)
		return false;
	if (!inode_reclaimable(ip)) {
		++*kept;
		return false;
	}
	if (!atomic_compare_exchange_strong(&ip->i_count, &zero, INO_DEAD))
		return false;
	/* nobody holds it now: nobody can dirty it; look again */
	if (!inode_reclaimable(ip)) {
		atomic_fetch_sub(&ip->i_count, INO_DEAD);
		++*kept;
		return false;
	}
	cds_lfht_del(ic->ht, &ip->i_hnode);
	return true;
}

/* The AIL's candidates, newest last, until nr are claimed or none is left. */
static size_t claim_written(struct kvfs_icache *ic, size_t nr,
			    struct kvfs_inode **victims, size_t *kept)
{
	uint64_t inos[CAND_BATCH];
	size_t freed = 0;
	unsigned n;

	while (freed < nr) {
		/* no more than can be wanted: the rest stay for later */
		n = nr - freed < CAND_BATCH ? (unsigned)(nr - freed) :
					      CAND_BATCH;
		kv_mutex_lock(&ic->cand_lock);
		if (n > ic->cand_nr)
			n = ic->cand_nr;
		for (unsigned i = 0; i < n; i++)
			inos[i] = ic->cand[(ic->cand_head + i) % CAND_MAX];
		ic->cand_head = (ic->cand_head + n) % CAND_MAX;
		ic->cand_nr -= n;
		kv_mutex_unlock(&ic->cand_lock);
		if (!n)
			break;
		rcu_read_lock();
		for (unsigned i = 0; i < n; i++) {
			struct kvfs_inode *ip;
			struct cds_lfht_iter iter;

			cds_lfht_lookup(ic->ht, kvfs_ino_hash(inos[i]),
					ino_match, &inos[i], &iter);
			ip = iter_inode(&iter);
			if (!ip || !claim(ic, ip, kept))
				continue;
			ip->i_reclaim_next = *victims;
			*victims = ip;
			freed++;
		}
		rcu_read_unlock();
	}
	return freed;
}

/* Where a lap starts: where the last one stopped, or the first inode. */
static bool lap_start(struct kvfs_icache *ic, struct cds_lfht_iter *iter)
{
	uint64_t ino = atomic_load(&ic->lap_cursor);

	if (ino) {
		cds_lfht_lookup(ic->ht, kvfs_ino_hash(ino), ino_match, &ino,
				iter);
		if (iter_inode(iter))
			return true;
	}
	cds_lfht_first(ic->ht, iter);
	return false;
}

/*
 * Up to nr more, looking at most inodes.
 * The cursor is a hint: laps racing each other may move it back or forth,
 * which only costs or spares some steps.
 */
static size_t claim_lap(struct kvfs_icache *ic, size_t nr, size_t most,
			struct kvfs_inode **victims, size_t *kept)
{
	size_t freed = 0, seen = 0;
	struct cds_lfht_iter iter;
	struct kvfs_inode *ip;
	uint64_t cursor = 0;
	bool wrap;

	rcu_read_lock();
	wrap = lap_start(ic, &iter);
	for (;; cds_lfht_next(ic->ht, &iter)) {
		ip = iter_inode(&iter);
		if (!ip && wrap) {
			wrap = false;
			cds_lfht_first(ic->ht, &iter);
			ip = iter_inode(&iter);
		}
		if (!ip)
			break;
		if (freed >= nr || seen++ >= most) {
			cursor = ip->i_ino;
			break;
		}
		if (!claim(ic, ip, kept))
			continue;
		ip->i_reclaim_next = *victims;
		*victims = ip;
		freed++;
	}
	rcu_read_unlock();
	atomic_store(&ic->lap_cursor, cursor);
	return freed;
}

static size_t icache_shrink(struct kvfs_icache *ic, size_t nr, size_t most)
{
	struct kvfs_inode *victims = NULL, *ip;
	size_t freed, kept = 0;

	rcu_online();
	/*
	 * Called from an allocation made inside an RCU read-side section:
	 * the grace period below would wait for this very thread.
	 */
	if (rcu_read_ongoing())
		return 0;
	freed = claim_written(ic, nr, &victims, &kept);
	atomic_fetch_add(&ic->reclaimed_written, freed);
	/* once round: the inodes cached now and some added meanwhile */
	if (most > atomic_load(&ic->nr_cached) + 64)
		most = atomic_load(&ic->nr_cached) + 64;
	if (freed < nr)
		freed += claim_lap(ic, nr - freed, most, &victims, &kept);
	atomic_fetch_add(&ic->skipped_dirty, kept);
	if (kept && freed < nr && ic->mp->log)
		kvj_log_push_ail(ic->mp->log);
	if (!victims)
		return 0;
	/* after the unhashes, before the grace period: see tl_inodes */
	atomic_fetch_add(&ic->free_epoch, 1);
	synchronize_rcu();
	while ((ip = victims)) {
		victims = ip->i_reclaim_next;
		inode_free(ic, ip);
	}
	atomic_fetch_sub(&ic->nr_cached, freed);
	atomic_fetch_add(&ic->reclaimed, freed);
	return freed;
}

size_t kvfs_icache_shrink(struct kvfs_icache *ic, size_t nr)
{
	return icache_shrink(ic, nr, SIZE_MAX);
}

static size_t shrink_count(void *priv)
{
	struct kvfs_icache *ic = priv;

	return atomic_load(&ic->nr_cached);
}

/* A bounded lap (see the top of the file). */
static size_t shrink_scan(void *priv, size_t nr)
{
	return icache_shrink(priv, nr, LAP_BATCH);
}

/* ---- the cache ---- */

int kvfs_icache_create(struct kvfs_mount *mp, struct kvfs_icache **icp)
{
	struct kvfs_icache *ic;
	int err;

	*icp = NULL;
	rcu_online();
	ic = kvzalloc(sizeof(*ic), 0);
	if (!ic)
		return -ENOMEM;
	ic->mp = mp;
	ic->id = atomic_fetch_add(&next_cache_id, 1);
	kv_mutex_init(&ic->cand_lock,
		      kv_lock_class_register("kvfs_icache_cand"));
	/* cache-line aligned: the layout of fs/inode/inode.h counts on it */
	ic->ino_cache = kv_cache_create("kvfs_inode", sizeof(struct kvfs_inode),
					INODE_ALIGN);
	if (!ic->ino_cache) {
		err = -ENOMEM;
		goto out_free;
	}
	/*
	 * Grown by kvfs_ht_grow(): with CDS_LFHT_ACCOUNTING chains were 1 to
	 * 8 inodes long, each a cache miss (a stat of a random one of 60 000
	 * files spent half its time walking them).
	 */
	ic->ht = kvfs_ht_new(&ic->ht_size);
	if (!ic->ht) {
		err = -ENOMEM;
		goto out_cache;
	}
	ic->shrinker.name = "kvfs_inode";
	ic->shrinker.flags = KV_SHRINK_FS;
	ic->shrinker.count = shrink_count;
	ic->shrinker.scan = shrink_scan;
	ic->shrinker.priv = ic;
	err = kv_register_shrinker(&ic->shrinker);
	if (err)
		goto out_ht;
	*icp = ic;
	return 0;

out_ht:
	kvfs_ht_destroy(&ic->ht_size);
out_cache:
	kv_cache_destroy(ic->ino_cache);
out_free:
	kv_mutex_destroy(&ic->cand_lock);
	kvfree(ic);
	return err;
}

void kvfs_icache_stop_reclaim(struct kvfs_icache *ic)
{
	if (ic)
		kv_unregister_shrinker(&ic->shrinker);
}

void kvfs_icache_destroy(struct kvfs_icache *ic)
{
	struct kvfs_inode *victims = NULL, *ip;
	struct cds_lfht_iter iter;

	if (!ic)
		return;
	kv_unregister_shrinker(&ic->shrinker);
	rcu_online();
	rcu_read_lock();
	for (cds_lfht_first(ic->ht, &iter); (ip = iter_inode(&iter)) != NULL;
	     cds_lfht_next(ic->ht, &iter)) {
		if (atomic_load(&ip->i_count) != 0) {
			kvfs_bug(
				"inode cache destroyed with inode %llu still referenced",
				(unsigned long long)ip->i_ino);
		}
		cds_lfht_del(ic->ht, &ip->i_hnode);
		ip->i_reclaim_next = victims;
		victims = ip;
	}
	rcu_read_unlock();
	synchronize_rcu();
	while ((ip = victims)) {
		victims = ip->i_reclaim_next;
		inode_free(ic, ip);
	}
	kvfs_ht_destroy(&ic->ht_size);
	kv_cache_destroy(ic->ino_cache);
	kv_mutex_destroy(&ic->cand_lock);
	kvfree(ic);
}

void kvfs_icache_get_stats(struct kvfs_icache *ic, struct kvfs_icache_stats *st)
{
	st->hits = st->misses = st->searches = 0;
	for (unsigned i = 0; i < NR_SLOTS; i++) {
		st->hits += __atomic_load_n(&ic->stats[i].v[ST_HITS],
					    __ATOMIC_RELAXED);
		st->misses += __atomic_load_n(&ic->stats[i].v[ST_MISSES],
					      __ATOMIC_RELAXED);
		st->searches += __atomic_load_n(&ic->stats[i].v[ST_SEARCHES],
						__ATOMIC_RELAXED);
	}
	st->reclaimed = atomic_load(&ic->reclaimed);
	st->reclaimed_written = atomic_load(&ic->reclaimed_written);
	st->skipped_dirty = atomic_load(&ic->skipped_dirty);
	st->inactive_failed = atomic_load(&ic->inactive_failed);
	st->nr_cached = atomic_load(&ic->nr_cached);
}
