// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata buffer cache (see fs/io/buf.h for the contract).
 *
 * Index: an rculfhash keyed by first block number, read under
 * rcu_read_lock() (urcu memb flavour).  A lookup takes a reference with one
 * atomic increment; a buffer being freed has b_hold forced from 0 to
 * BUF_DEAD by the reclaimer, so an increment that observes a negative count
 * failed, is undone, and the lookup retries until the dying buffer has left
 * the index.  A dying buffer is freed only after a grace period, so the
 * failed increment and its undo never touch freed memory.  Dying buffers
 * still match lookups and inserts: two live buffers for one block can never
 * coexist in the index.
 *
 * Locks, in order:
 *   b_lock (per buffer, class "kvfs_buf"): the buffer's contents, b_ops,
 *     b_log_item and b_lsn for whoever changes them; held by the creator
 *     while a new buffer is read, which is how concurrent readers of the
 *     same block wait for that read.  A futex word, not a pthread mutex:
 *     a create takes some eight buffer locks, and a pthread mutex's lock,
 *     unlock were some 85 instructions a pair against some 15; the class
 *     counts acquisitions and contended ones as every kv lock's does
 *     (kvfs-stat's lock.kvfs_buf.*), and debug builds check its rank as a
 *     kv_mutex's.
 *   lru_lock (per cache, class "kvfs_buf_lru"): the LRU list.  Taken under
 *     b_lock (insertion of a new buffer); nothing is taken under it, and no
 *     memory is allocated under it.
 *   reports_lock (one, class "kvfs_buf_reports"): the list of live caches
 *     and their report counts (kv_bcache_count_report()).  Taken under
 *     b_lock (a verifier's report); nothing is taken or allocated under it.
 * The hit path takes neither.
 *
 * Reclaim is a second-chance LRU: a buffer used since the last pass
 * (KV_BUF_REF) is rotated once.  It frees only unreferenced buffers that are
 * neither dirty nor pinned (a locked buffer is referenced by its locker),
 * unlinks them from the index, waits one grace period for the whole batch,
 * then returns their memory.  Stale buffers are unlinked already and go
 * first.
 *
 * Counters are striped per thread slot (one cache line each, written with
 * plain relaxed stores) so that counting hits does not bounce a shared line.
 *
 * Each thread remembers the last buffers it found (tl_bufs, direct mapped
 * by block number), each with the cache's free epoch then: reclaim bumps
 * the epoch after unhashing its victims and before their grace period, so
 * a remembered buffer whose epoch is still current, read under
 * rcu_read_lock(), has not been freed and will not be before
 * rcu_read_unlock() (a free since is a moved epoch).  It is taken like a
 * hashed one (the increment, a negative count undone) and only while still
 * hashed (KV_BUF_HASHED): a directory's head and hash root, an AG's
 * headers, looked up again and again, skip the index walk.  The same
 * epoch lets a lock-free reader keep a buffer it found past its RCU
 * section (a directory's blocks, fs/ns/dir_rcu.c: see kv_buf_peek_epoch()
 * in fs/io/buf.h).
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <urcu.h>
#include <urcu/rculfhash.h>

#include "alloc/kvalloc.h"
#include "fs/bug.h"
#include "fs/hash.h"
#include "fs/io/buf.h"
#include "fs/io/dev.h"
#include "journal/errortag.h"

#define BUF_DEAD (-(1 << 30))
#define NR_SLOTS 64

enum {
	ST_HITS,
	ST_MISSES,
	ST_READS,
	ST_WRITES,
	ST_RECLAIMED,
	ST_VERIFY,
	ST_NR
};

/*
 * One cache line of counters per thread slot, aligned (the cache is a
 * slab object of a class of 128-byte steps, or page-aligned): unaligned,
 * the stats array began 40 bytes into a line, two threads' slots shared
 * one and every buffer found bounced it between them.
 */
struct stat_slot {
	uint64_t v[8];
} __attribute__((aligned(64)));

struct kv_bcache {
	struct kv_dev *dev;
	unsigned blksize;
	size_t mem_limit;
	struct cds_lfht *ht;
	struct kvfs_ht_size ht_size;
	struct kv_cache *buf_cache; /* struct kv_buf objects */
	int buf_lock_class;
	atomic_size_t bytes;
	atomic_size_t nr_bufs;

	struct kv_mutex lru_lock;
	struct kv_buf *lru_first; /* least recently inserted or rotated */
	struct kv_buf *lru_last;
	atomic_size_t nr_lru;

	struct kv_shrinker shrinker;
	void *priv; /* the owner's (e.g. the geometry verifiers need) */
	uint64_t (*lsn_head)(void *priv); /* kv_bcache_set_lsn_head() */
	void *lsn_priv;
	/*
	 * moved by every reclaim that frees (tl_bufs' entries are stale) or
	 * takes a second chance (kv_buf_peek_epoch())
	 */
	atomic_uint_fast64_t free_epoch;
	struct stat_slot stats[NR_SLOTS];

	/* reports_lock: the live caches, reports counted to this one */
	uint64_t id; /* never reused in the process */
	struct kv_bcache *live_next;
	unsigned long nreports;
};

/*
 * A report concerns the cache the thread last looked a block up in (the
 * filesystem whose metadata it was reading): its id, never a pointer, so
 * that a cache destroyed since is only not found.
 */
static _Thread_local uint64_t tl_cache_id;
static struct kv_mutex reports_lock;
static pthread_once_t reports_once = PTHREAD_ONCE_INIT;
static struct kv_bcache *live_caches;
static uint64_t next_cache_id = 1;

static void reports_init(void);

/* Buffers this thread found (see the top of the file). */
#define TL_BUFS 256

struct tl_buf {
	uint64_t cache_id, blkno, epoch;
	struct kv_buf *bp;
};

static _Thread_local struct tl_buf tl_bufs[TL_BUFS];

static _Thread_local char tl_errmsg[256];
static _Thread_local char tl_detail[160];
static _Thread_local int tl_slot = -1;
static atomic_uint next_slot;

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

/* Register this thread with urcu unless something already did. */
static void rcu_online_slow(void)
{
	pthread_once(&rcu_once, rcu_key_init);
	rcu_register_thread();
	pthread_setspecific(rcu_key, (void *)1);
}

static inline void rcu_online(void)
{
	if (caa_unlikely(!URCU_TLS(urcu_memb_reader).registered))
		rcu_online_slow();
}

static inline void stat_inc(struct kv_bcache *bc, int which, uint64_t n)
{
	uint64_t *v;

	if (caa_unlikely(tl_slot < 0))
		tl_slot = (int)(atomic_fetch_add(&next_slot, 1) % NR_SLOTS);
	v = &bc->stats[tl_slot].v[which];
	__atomic_store_n(v, __atomic_load_n(v, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static int buf_match(struct cds_lfht_node *node, const void *key)
{
	const struct kv_buf *bp =
		caa_container_of(node, struct kv_buf, b_hnode);

	return bp->b_blkno == *(const uint64_t *)key;
}

const char *kv_buf_last_error(void)
{
	return tl_errmsg;
}

int kv_buf_corrupt(struct kv_buf *bp, int err, const char *fmt, ...)
{
	va_list ap;

	(void)bp;
	va_start(ap, fmt);
	vsnprintf(tl_detail, sizeof(tl_detail), fmt, ap);
	va_end(ap);
	return err;
}

static int verify_failed(struct kv_buf *bp, const char *which, int err)
{
	const struct kv_buf_ops *ops = bp->b_ops;
	bool detail = tl_detail[0] != 0;

	snprintf(tl_errmsg, sizeof(tl_errmsg), "block %llu: %s %s: %s%s%s%s",
		 (unsigned long long)bp->b_blkno,
		 ops && ops->name ? ops->name : "buffer", which, strerror(-err),
		 detail ? " (" : "", tl_detail, detail ? ")" : "");
	stat_inc(bp->b_cache, ST_VERIFY, 1);
	return err;
}

/* Run one verifier; a failure is recorded for kv_buf_last_error(). */
static int run_verify(struct kv_buf *bp, int (*fn)(struct kv_buf *bp),
		      const char *which)
{
	int err;

	tl_detail[0] = 0;
	tl_cache_id = bp->b_cache->id;
	err = fn(bp);
	if (err)
		verify_failed(bp, which, err);
	return err;
}

/* ---- the buffer lock ---- */

static void futex_call(atomic_int *word, int op, int val)
{
	syscall(SYS_futex, word, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* Held, or 2 (waited for) seen: wait as Drepper's "Futexes Are Tricky" */
static __attribute__((noinline)) void buf_lock_wait(struct kv_buf *bp, int c)
{
	kv_lockstat_contended(bp->b_cache->buf_lock_class);
	if (c != 2)
		c = atomic_exchange_explicit(&bp->b_lock, 2,
					     memory_order_acquire);
	while (c != 0) {
		futex_call(&bp->b_lock, FUTEX_WAIT, 2);
		c = atomic_exchange_explicit(&bp->b_lock, 2,
					     memory_order_acquire);
	}
}

static inline void buf_lock(struct kv_buf *bp KV_LD_KEY_DECL)
{
	int c = 0;

#ifdef KV_LOCKDEP
	kv_lockdep_acquire(bp, kv_lock_class_rank(bp->b_cache->buf_lock_class),
			   ld_key, false, ld_file, ld_line);
#endif
	if (!atomic_compare_exchange_strong_explicit(&bp->b_lock, &c, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		buf_lock_wait(bp, c);
	kv_lockstat_acquired(bp->b_cache->buf_lock_class);
}

static inline bool buf_trylock(struct kv_buf *bp KV_LD_KEY_DECL)
{
	int c = 0;

	if (!atomic_compare_exchange_strong_explicit(&bp->b_lock, &c, 1,
						     memory_order_acquire,
						     memory_order_relaxed))
		return false;
	kv_lockstat_acquired(bp->b_cache->buf_lock_class);
#ifdef KV_LOCKDEP
	kv_lockdep_acquire(bp, kv_lock_class_rank(bp->b_cache->buf_lock_class),
			   ld_key, true, ld_file, ld_line);
#endif
	return true;
}

/* The check first: once the word is 0 the buffer may go under another. */
static inline void buf_unlock(struct kv_buf *bp KV_LD_DECL)
{
#ifdef KV_LOCKDEP
	if (kv_lock_class_rank(bp->b_cache->buf_lock_class) != KV_RANK_NONE)
		kv_lockdep_release(bp, ld_file, ld_line);
#endif
	if (atomic_exchange_explicit(&bp->b_lock, 0, memory_order_release) == 2)
		futex_call(&bp->b_lock, FUTEX_WAKE, 1);
}

/* ---- LRU (lru_lock held) ---- */

static void lru_add_tail(struct kv_bcache *bc, struct kv_buf *bp)
{
	bp->b_lru_next = NULL;
	bp->b_lru_prev = bc->lru_last;
	if (bc->lru_last)
		bc->lru_last->b_lru_next = bp;
	else
		bc->lru_first = bp;
	bc->lru_last = bp;
}

static void lru_unlink(struct kv_bcache *bc, struct kv_buf *bp)
{
	if (bp->b_lru_prev)
		bp->b_lru_prev->b_lru_next = bp->b_lru_next;
	else
		bc->lru_first = bp->b_lru_next;
	if (bp->b_lru_next)
		bp->b_lru_next->b_lru_prev = bp->b_lru_prev;
	else
		bc->lru_last = bp->b_lru_prev;
	bp->b_lru_prev = bp->b_lru_next = NULL;
}

/* ---- buffer life ---- */

static struct kv_buf *buf_alloc(struct kv_bcache *bc, uint64_t blkno,
				unsigned nblks)
{
	/*
	 * Never -ENOMEM (as XFS's buffers): the shrinker frees clean buffers,
	 * and dirty ones become clean as the log and the AIL move.
	 */
	struct kv_buf *bp = kv_cache_alloc(bc->buf_cache, KV_NOFAIL);

	memset(bp, 0, sizeof(*bp));
	bp->b_len = (size_t)nblks * bc->blksize;
	bp->b_addr = kvmalloc(bp->b_len, KV_NOFAIL);
	bp->b_blkno = blkno;
	bp->b_nblks = nblks;
	bp->b_cache = bc;
	atomic_init(&bp->b_hold, 1);
	atomic_init(&bp->b_flags, 0);
	atomic_init(&bp->b_pin_count, 0);
	atomic_init(&bp->b_lock, 0);
	cds_lfht_node_init(&bp->b_hnode);
	return bp;
}

static void buf_free(struct kv_buf *bp)
{
	struct kv_bcache *bc = bp->b_cache;

	kvfree(bp->b_addr);
	kv_cache_free(bc->buf_cache, bp);
}

/* Take bp out of the index if it is still there. */
static void buf_unhash(struct kv_buf *bp)
{
	if (atomic_fetch_and(&bp->b_flags, ~KV_BUF_HASHED) & KV_BUF_HASHED) {
		rcu_read_lock();
		cds_lfht_del(bp->b_cache->ht, &bp->b_hnode);
		rcu_read_unlock();
	}
}

/*
 * Reclaim keeps a buffer that is dirty, pinned, or still tied to a log item
 * (the journal may reach the buffer through its item).
 */
static bool buf_busy(struct kv_buf *bp, unsigned flags)
{
	return (flags & KV_BUF_DIRTY) || atomic_load(&bp->b_pin_count) ||
	       __atomic_load_n(&bp->b_log_item, __ATOMIC_RELAXED);
}

/*
 * Free up to nr_to_scan unused buffers from the cold end of the LRU, or
 * until the cache holds at most target bytes.  Returns the number freed.
 */
static size_t bc_reclaim(struct kv_bcache *bc, size_t nr_to_scan, size_t target)
{
	struct kv_buf *victims = NULL, *bp;
	size_t bytes = atomic_load(&bc->bytes), freed = 0, freed_bytes = 0;
	size_t scanned = 0;
	bool unref = false; /* a buffer's second chance taken */

	rcu_online();
	/*
	 * Called from an allocation made inside an RCU read-side section
	 * (the shrinker runs in the allocating thread): the grace period
	 * below would wait for this very thread.  Free nothing.
	 */
	if (rcu_read_ongoing())
		return 0;
	kv_mutex_lock(&bc->lru_lock);
	/* two laps at most: a referenced buffer gets one second chance */
	if (nr_to_scan > 2 * atomic_load(&bc->nr_lru))
		nr_to_scan = 2 * atomic_load(&bc->nr_lru);
	while (scanned < nr_to_scan && bytes > target && bc->lru_first) {
		unsigned flags;
		int zero = 0;

		bp = bc->lru_first;
		scanned++;
		lru_unlink(bc, bp);
		flags = atomic_load(&bp->b_flags);
		if ((flags & (KV_BUF_REF | KV_BUF_STALE)) == KV_BUF_REF) {
			atomic_fetch_and(&bp->b_flags, ~KV_BUF_REF);
			unref = true;
			goto keep;
		}
		if (buf_busy(bp, flags))
			goto keep;
		if (!atomic_compare_exchange_strong(&bp->b_hold, &zero,
						    BUF_DEAD))
			goto keep;
		/* now nobody holds it: its flags are final, look again */
		if (buf_busy(bp, atomic_load(&bp->b_flags))) {
			atomic_fetch_sub(&bp->b_hold, BUF_DEAD);
			goto keep;
		}
		bp->b_lru_next = victims;
		victims = bp;
		bytes -= bp->b_len;
		atomic_fetch_sub(&bc->nr_lru, 1);
		continue;
keep:
		lru_add_tail(bc, bp);
	}
	kv_mutex_unlock(&bc->lru_lock);
	if (!victims) {
		/* after the clears: see kv_buf_peek_epoch() */
		if (unref)
			atomic_fetch_add(&bc->free_epoch, 1);
		return 0;
	}

	for (bp = victims; bp; bp = bp->b_lru_next)
		buf_unhash(bp);
	/*
	 * After the unhashes, before the grace period: see tl_bufs; and
	 * after the second chances taken (kv_buf_peek_epoch())
	 */
	atomic_fetch_add(&bc->free_epoch, 1);
	synchronize_rcu();
	while (victims) {
		bp = victims;
		victims = bp->b_lru_next;
		freed_bytes += bp->b_len;
		freed++;
		buf_free(bp);
	}
	atomic_fetch_sub(&bc->bytes, freed_bytes);
	atomic_fetch_sub(&bc->nr_bufs, freed);
	stat_inc(bc, ST_RECLAIMED, freed);
	return freed;
}

/* Past the memory limit: trim to 7/8 of it so the grace period amortises. */
static void bc_trim(struct kv_bcache *bc)
{
	if (bc->mem_limit && atomic_load(&bc->bytes) > bc->mem_limit)
		bc_reclaim(bc, SIZE_MAX, bc->mem_limit - bc->mem_limit / 8);
}

size_t kv_bcache_shrink(struct kv_bcache *bc, size_t nr)
{
	return bc_reclaim(bc, nr, 0);
}

static size_t shrink_count(void *priv)
{
	struct kv_bcache *bc = priv;

	return atomic_load(&bc->nr_lru);
}

static size_t shrink_scan(void *priv, size_t nr)
{
	return bc_reclaim(priv, nr, 0);
}

/* ---- lookup ---- */

/* 1 and a reference if cached, 0 if not, -EAGAIN if dying there. */
static inline int bc_lookup(struct kv_bcache *bc, uint64_t blkno,
			    struct kv_buf **bpp)
{
	struct tl_buf *t = &tl_bufs[blkno % TL_BUFS];
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct kv_buf *bp;
	uint64_t epoch;
	int ret = 1;

	rcu_read_lock();
	epoch = atomic_load_explicit(&bc->free_epoch, memory_order_acquire);
	if (t->cache_id == bc->id && t->blkno == blkno && t->epoch == epoch) {
		bp = t->bp;
		if (caa_likely(atomic_fetch_add_explicit(&bp->b_hold, 1,
							 memory_order_acquire) >=
				       0 &&
			       (atomic_load_explicit(&bp->b_flags,
						     memory_order_acquire) &
				KV_BUF_HASHED)))
			goto found;
		/* dying or unhashed: forget it, ask the index */
		atomic_fetch_sub_explicit(&bp->b_hold, 1, memory_order_relaxed);
		t->cache_id = 0;
	}
	cds_lfht_lookup(bc->ht, kvfs_hash64(blkno), buf_match, &blkno, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (!node) {
		ret = 0;
		goto out;
	}
	bp = caa_container_of(node, struct kv_buf, b_hnode);
	if (caa_unlikely(atomic_fetch_add_explicit(&bp->b_hold, 1,
						   memory_order_acquire) < 0)) {
		atomic_fetch_sub_explicit(&bp->b_hold, 1, memory_order_relaxed);
		ret = -EAGAIN;
		goto out;
	}
	t->cache_id = bc->id;
	t->blkno = blkno;
	t->epoch = epoch;
	t->bp = bp;
found:
	*bpp = bp;
out:
	rcu_read_unlock();
	return ret;
}

/*
 * A cached buffer that the fast path could not hand out as is: still being
 * read by its creator, stale, another length, or read without these ops.
 * Returns 0 (bp is good), -EAGAIN (released; look up again) or an error
 * (released).
 */
static int buf_found_slow(struct kv_buf *bp, unsigned nblks,
			  const struct kv_buf_ops *ops, bool verify)
{
	unsigned flags;
	int err = 0;

	if (bp->b_nblks != nblks) {
		snprintf(tl_errmsg, sizeof(tl_errmsg),
			 "block %llu: cached as %u blocks, asked for %u",
			 (unsigned long long)bp->b_blkno, bp->b_nblks, nblks);
		kv_buf_rele(bp);
		return -EINVAL;
	}
	kv_buf_lock(bp);
	flags = atomic_load(&bp->b_flags);
	if ((flags & KV_BUF_STALE) || !(flags & KV_BUF_DONE)) {
		/* freed, or its read failed: it has left the index */
		err = -EAGAIN;
	} else if (ops && bp->b_ops != ops) {
		const struct kv_buf_ops *old = bp->b_ops;

		/*
		 * The first reader that knows the type verifies what was
		 * read; kv_buf_get() retypes a block it will overwrite.
		 */
		__atomic_store_n(&bp->b_ops, ops, __ATOMIC_RELAXED);
		if (verify && ops->verify_read) {
			err = run_verify(bp, ops->verify_read, "verify_read");
			if (err)
				__atomic_store_n(&bp->b_ops, old,
						 __ATOMIC_RELAXED);
		}
	}
	kv_buf_unlock(bp);
	if (err)
		kv_buf_rele(bp);
	return err;
}

/* kv_buf_read() (read), kv_buf_get() (zero) or kv_buf_get_raw() (neither) */
static int buf_find_or_create(struct kv_bcache *bc, uint64_t blkno,
			      unsigned nblks, const struct kv_buf_ops *ops,
			      bool read, bool zero, struct kv_buf **bpp)
{
	struct cds_lfht_node *node;
	struct kv_buf *bp = NULL;
	int err;

	if (!nblks)
		return -EINVAL;
	tl_cache_id = bc->id;
	rcu_online();
	for (;;) {
		unsigned flags;

		err = bc_lookup(bc, blkno, &bp);
		if (err == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (err == 0)
			break;
		flags = atomic_load_explicit(&bp->b_flags,
					     memory_order_acquire);
		if (caa_likely((flags & (KV_BUF_DONE | KV_BUF_STALE)) ==
				       KV_BUF_DONE &&
			       bp->b_nblks == nblks &&
			       (!ops ||
				__atomic_load_n(&bp->b_ops, __ATOMIC_RELAXED) ==
					ops))) {
			if (!(flags & KV_BUF_REF))
				atomic_fetch_or_explicit(&bp->b_flags,
							 KV_BUF_REF,
							 memory_order_relaxed);
			goto hit;
		}
		err = buf_found_slow(bp, nblks, ops, read);
		if (err == -EAGAIN)
			continue;
		if (err)
			return err;
hit:
		stat_inc(bc, ST_HITS, 1);
		*bpp = bp;
		return 0;
	}

	/* not cached: build it locked, publish it, then fill it */
	bp = buf_alloc(bc, blkno, nblks);
	bp->b_ops = ops;
	buf_lock(bp KV_LD_KEY(0));
	if (!read) {
		if (zero)
			memset(bp->b_addr, 0, bp->b_len);
		atomic_store(&bp->b_flags, KV_BUF_DONE);
	}
	atomic_fetch_or(&bp->b_flags, KV_BUF_HASHED);
	rcu_read_lock();
	node = cds_lfht_add_unique(bc->ht, kvfs_hash64(blkno), buf_match,
				   &blkno, &bp->b_hnode);
	rcu_read_unlock();
	if (node != &bp->b_hnode) {
		/* lost a race with another creator: never published */
		buf_unlock(bp KV_LD_SITE);
		buf_free(bp);
		return buf_find_or_create(bc, blkno, nblks, ops, read, zero,
					  bpp);
	}
	kv_mutex_lock(&bc->lru_lock);
	lru_add_tail(bc, bp);
	kv_mutex_unlock(&bc->lru_lock);
	atomic_fetch_add(&bc->nr_lru, 1);
	kvfs_ht_grow(&bc->ht_size, atomic_fetch_add(&bc->nr_bufs, 1) + 1);
	atomic_fetch_add(&bc->bytes, bp->b_len);
	stat_inc(bc, ST_MISSES, 1);

	if (read) {
		err = kvj_errtag(KVJ_ERRTAG_META_READ_IO) ?
			      -EIO :
			      kv_dev_pread(bc->dev, bp->b_addr, bp->b_len,
					   blkno * bc->blksize);
		stat_inc(bc, ST_READS, 1);
		if (err) {
			snprintf(tl_errmsg, sizeof(tl_errmsg),
				 "block %llu: read: %s",
				 (unsigned long long)blkno, strerror(-err));
		} else if (ops && ops->verify_read) {
			err = run_verify(bp, ops->verify_read, "verify_read");
		}
		if (err) {
			/* not cached: left for reclaim, unreachable */
			atomic_fetch_or(&bp->b_flags, KV_BUF_STALE);
			buf_unhash(bp);
			buf_unlock(bp KV_LD_SITE);
			kv_buf_rele(bp);
			return err;
		}
		atomic_fetch_or_explicit(&bp->b_flags, KV_BUF_DONE,
					 memory_order_release);
	}
	buf_unlock(bp KV_LD_SITE);
	bc_trim(bc);
	*bpp = bp;
	return 0;
}

/*
 * kv_buf_peek()'s index walk, remembered in t: out of line, so that the
 * remembered case (most peeks) saves and restores no registers for it.
 */
static __attribute__((noinline)) struct kv_buf *peek_index(struct kv_bcache *bc,
							   uint64_t blkno,
							   struct tl_buf *t,
							   uint64_t epoch)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	struct kv_buf *bp;

	cds_lfht_lookup(bc->ht, kvfs_hash64(blkno), buf_match, &blkno, &iter);
	node = cds_lfht_iter_get_node(&iter);
	if (!node)
		return NULL;
	bp = caa_container_of(node, struct kv_buf, b_hnode);
	t->cache_id = bc->id;
	t->blkno = blkno;
	t->epoch = epoch;
	t->bp = bp;
	return bp;
}

/*
 * Under the caller's rcu_read_lock(): bc_lookup() without the reference
 * and without the counters, which are the shared writes a lock-free
 * reader avoids.  What makes the result safe to read until the caller's
 * rcu_read_unlock(): a buffer found in the index (or in tl_bufs at the
 * current free epoch, see the top of the file) is freed only after a
 * grace period that started after its unhash, so not before then; its
 * b_addr is allocated with it and never replaced.  Nothing here keeps
 * its contents from changing: that is the caller's business (a seqcount
 * of whoever changes them).  Never allocates, never waits.
 */
struct kv_buf *kv_buf_peek(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
			   const struct kv_buf_ops *ops)
{
	struct tl_buf *t = &tl_bufs[blkno % TL_BUFS];
	uint64_t epoch =
		atomic_load_explicit(&bc->free_epoch, memory_order_acquire);
	struct kv_buf *bp = NULL;
	unsigned flags;

	if (t->cache_id == bc->id && t->blkno == blkno && t->epoch == epoch) {
		bp = t->bp;
		/* unhashed since (stale): a new one may be in the index */
		if (!(atomic_load_explicit(&bp->b_flags, memory_order_relaxed) &
		      KV_BUF_HASHED))
			bp = NULL;
	}
	if (!bp) {
		bp = peek_index(bc, blkno, t, epoch);
		if (!bp)
			return NULL;
	}
	/* acquire: DONE is set after the contents are read in */
	flags = atomic_load_explicit(&bp->b_flags, memory_order_acquire);
	if ((flags & (KV_BUF_DONE | KV_BUF_STALE | KV_BUF_HASHED)) !=
		    (KV_BUF_DONE | KV_BUF_HASHED) ||
	    atomic_load_explicit(&bp->b_hold, memory_order_relaxed) < 0 ||
	    bp->b_nblks != nblks ||
	    __atomic_load_n(&bp->b_ops, __ATOMIC_RELAXED) != ops)
		return NULL;
	/* the LRU's second chance, as a hit (a write only the first time) */
	if (!(flags & KV_BUF_REF))
		atomic_fetch_or_explicit(&bp->b_flags, KV_BUF_REF,
					 memory_order_relaxed);
	return bp;
}

uint64_t kv_buf_peek_epoch(struct kv_bcache *bc)
{
	return atomic_load_explicit(&bc->free_epoch, memory_order_acquire);
}

int kv_buf_incore(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		  struct kv_buf **bpp)
{
	struct kv_buf *bp = NULL;
	int err;

	tl_cache_id = bc->id;
	rcu_online();
	for (;;) {
		err = bc_lookup(bc, blkno, &bp);
		if (err == -EAGAIN) {
			sched_yield();
			continue;
		}
		if (err == 0)
			return -ENOENT;
		err = buf_found_slow(bp, nblks, NULL, false);
		if (err == -EAGAIN)
			continue;
		if (err)
			return err;
		*bpp = bp;
		return 0;
	}
}

int kv_buf_read(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return buf_find_or_create(bc, blkno, nblks, ops, true, false, bpp);
}

int kv_buf_get(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
	       const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return buf_find_or_create(bc, blkno, nblks, ops, false, true, bpp);
}

int kv_buf_get_raw(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		   const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return buf_find_or_create(bc, blkno, nblks, ops, false, false, bpp);
}

void kv_buf_hold(struct kv_buf *bp)
{
	atomic_fetch_add_explicit(&bp->b_hold, 1, memory_order_relaxed);
}

void kv_buf_rele(struct kv_buf *bp)
{
	/* release: the reclaimer's acquiring cmpxchg sees our flag changes */
	atomic_fetch_sub_explicit(&bp->b_hold, 1, memory_order_release);
}

void kv_buf_lock_(struct kv_buf *bp KV_LD_DECL)
{
	buf_lock(bp KV_LD_KEY_FWD(bp->b_blkno));
}

bool kv_buf_trylock_(struct kv_buf *bp KV_LD_DECL)
{
	return buf_trylock(bp KV_LD_KEY_FWD(bp->b_blkno));
}

void kv_buf_unlock_(struct kv_buf *bp KV_LD_DECL)
{
	buf_unlock(bp KV_LD_FWD);
}

void kv_buf_mark_dirty(struct kv_buf *bp)
{
	atomic_fetch_or(&bp->b_flags, KV_BUF_DIRTY);
}

bool kv_buf_is_dirty(const struct kv_buf *bp)
{
	return atomic_load(&bp->b_flags) & KV_BUF_DIRTY;
}

int kv_buf_write(struct kv_buf *bp)
{
	struct kv_bcache *bc = bp->b_cache;
	int err;

	if (atomic_load(&bp->b_flags) & KV_BUF_STALE)
		return 0;
	if (atomic_load(&bp->b_pin_count))
		return -EAGAIN;
	if (bp->b_ops && bp->b_ops->verify_write) {
		err = run_verify(bp, bp->b_ops->verify_write, "verify_write");
		if (err)
			return err;
	}
	if (kvj_errtag(KVJ_ERRTAG_META_WRITE_IO))
		/* the tag's value, if set, is the errno (12: the host's ENOMEM) */
		err = kvj_errtag_value(KVJ_ERRTAG_META_WRITE_IO) ?
			      -(int)kvj_errtag_value(KVJ_ERRTAG_META_WRITE_IO) :
			      -EIO;
	else
		err = kv_dev_pwrite(bc->dev, bp->b_addr, bp->b_len,
				    bp->b_blkno * bc->blksize);
	if (err)
		return err;
	atomic_fetch_and(&bp->b_flags, ~KV_BUF_DIRTY);
	stat_inc(bc, ST_WRITES, 1);
	return 0;
}

void kv_buf_stale(struct kv_buf *bp)
{
	atomic_fetch_or(&bp->b_flags, KV_BUF_STALE);
	atomic_fetch_and(&bp->b_flags, ~KV_BUF_DIRTY);
	buf_unhash(bp);
}

void kv_buf_pin(struct kv_buf *bp)
{
	kv_buf_hold(bp);
	atomic_fetch_add(&bp->b_pin_count, 1);
}

void kv_buf_unpin(struct kv_buf *bp)
{
	atomic_fetch_sub(&bp->b_pin_count, 1);
	kv_buf_rele(bp);
}

bool kv_buf_is_pinned(const struct kv_buf *bp)
{
	return atomic_load(&bp->b_pin_count) > 0;
}

/* ---- the cache ---- */

int kv_bcache_create(struct kv_dev *dev, unsigned blksize, size_t mem_limit,
		     struct kv_bcache **bcp)
{
	struct kv_bcache *bc;
	int err;

	*bcp = NULL;
	if (blksize < 512 || (blksize & (blksize - 1)))
		return -EINVAL;
	rcu_online();
	bc = kvzalloc(sizeof(*bc), 0);
	if (!bc)
		return -ENOMEM;
	bc->dev = dev;
	bc->blksize = blksize;
	bc->mem_limit = mem_limit;
	bc->buf_cache = kv_cache_create("kvfs_buf", sizeof(struct kv_buf),
					_Alignof(struct kv_buf));
	if (!bc->buf_cache) {
		err = -ENOMEM;
		goto out_free;
	}
	/*
	 * Grown by kvfs_ht_grow() with the buffers it holds: made at the
	 * cache's capacity (up to a million buckets, 16 MiB), its
	 * initialisation was most of a mount's CPU, and every lookup of a
	 * small working set missed the cache on its bucket.
	 */
	bc->ht = kvfs_ht_new(&bc->ht_size);
	if (!bc->ht) {
		err = -ENOMEM;
		goto out_cache;
	}
	bc->buf_lock_class = kv_lock_class_register("kvfs_buf");
	kv_mutex_init(&bc->lru_lock, kv_lock_class_register("kvfs_buf_lru"));
	bc->shrinker.name = "kvfs_buf";
	bc->shrinker.flags = KV_SHRINK_IO;
	bc->shrinker.count = shrink_count;
	bc->shrinker.scan = shrink_scan;
	bc->shrinker.priv = bc;
	err = kv_register_shrinker(&bc->shrinker);
	if (err)
		goto out_ht;
	pthread_once(&reports_once, reports_init);
	kv_mutex_lock(&reports_lock);
	bc->id = next_cache_id++;
	bc->live_next = live_caches;
	live_caches = bc;
	kv_mutex_unlock(&reports_lock);
	tl_cache_id = bc->id;
	*bcp = bc;
	return 0;

out_ht:
	kv_mutex_destroy(&bc->lru_lock);
	kvfs_ht_destroy(&bc->ht_size);
out_cache:
	kv_cache_destroy(bc->buf_cache);
out_free:
	kvfree(bc);
	return err;
}

void kv_bcache_destroy(struct kv_bcache *bc)
{
	struct kv_buf *bp;

	if (!bc)
		return;
	kv_mutex_lock(&reports_lock);
	for (struct kv_bcache **pp = &live_caches; *pp; pp = &(*pp)->live_next)
		if (*pp == bc) {
			*pp = bc->live_next;
			break;
		}
	kv_mutex_unlock(&reports_lock);
	kv_unregister_shrinker(&bc->shrinker);
	rcu_online();
	while ((bp = bc->lru_first)) {
		if (atomic_load(&bp->b_hold) != 0) {
			kvfs_bug(
				"buffer cache destroyed with block %llu still held",
				(unsigned long long)bp->b_blkno);
		}
		lru_unlink(bc, bp);
		buf_unhash(bp);
		buf_free(bp);
	}
	kvfs_ht_destroy(&bc->ht_size);
	kv_mutex_destroy(&bc->lru_lock);
	kv_cache_destroy(bc->buf_cache);
	kvfree(bc);
}

static void reports_init(void)
{
	kv_mutex_init(&reports_lock,
		      kv_lock_class_register("kvfs_buf_reports"));
}

void kv_bcache_count_report(void)
{
	if (!tl_cache_id)
		return;
	kv_mutex_lock(&reports_lock);
	for (struct kv_bcache *bc = live_caches; bc; bc = bc->live_next)
		if (bc->id == tl_cache_id) {
			bc->nreports++;
			break;
		}
	kv_mutex_unlock(&reports_lock);
}

void kv_bcache_forget(void)
{
	tl_cache_id = 0;
}

unsigned long kv_bcache_reports(struct kv_bcache *bc)
{
	unsigned long n;

	kv_mutex_lock(&reports_lock);
	n = bc->nreports;
	kv_mutex_unlock(&reports_lock);
	return n;
}

struct kv_dev *kv_bcache_dev(const struct kv_bcache *bc)
{
	return bc->dev;
}

void kv_bcache_set_private(struct kv_bcache *bc, void *priv)
{
	bc->priv = priv;
}

void *kv_bcache_private(const struct kv_bcache *bc)
{
	return bc->priv;
}

void kv_bcache_set_lsn_head(struct kv_bcache *bc, uint64_t (*fn)(void *priv),
			    void *priv)
{
	bc->lsn_head = fn;
	bc->lsn_priv = priv;
}

uint64_t kv_bcache_lsn_head(const struct kv_bcache *bc)
{
	return bc->lsn_head ? bc->lsn_head(bc->lsn_priv) : 0;
}

unsigned kv_bcache_blksize(const struct kv_bcache *bc)
{
	return bc->blksize;
}

void kv_bcache_get_stats(struct kv_bcache *bc, struct kv_bcache_stats *st)
{
	uint64_t sum[ST_NR] = { 0 };

	for (int s = 0; s < NR_SLOTS; s++)
		for (int i = 0; i < ST_NR; i++)
			sum[i] += __atomic_load_n(&bc->stats[s].v[i],
						  __ATOMIC_RELAXED);
	st->hits = sum[ST_HITS];
	st->misses = sum[ST_MISSES];
	st->reads = sum[ST_READS];
	st->writes = sum[ST_WRITES];
	st->reclaimed = sum[ST_RECLAIMED];
	st->verify_failures = sum[ST_VERIFY];
	st->nr_cached = atomic_load(&bc->nr_bufs);
	st->bytes_cached = atomic_load(&bc->bytes);
}

static int buf_blkno_cmp(const void *x, const void *y)
{
	const struct kv_buf *a = *(struct kv_buf *const *)x;
	const struct kv_buf *b = *(struct kv_buf *const *)y;

	return a->b_blkno < b->b_blkno ? -1 : a->b_blkno > b->b_blkno;
}

/*
 * One pass over the LRU collects every dirty, unpinned buffer (held, so
 * none dies meanwhile); they are written in block order.  The array is
 * allocated before the LRU lock (reclaim takes that lock); if buffers were
 * added meanwhile and it filled up, another pass picks up the rest.
 */
int kv_bcache_flush(struct kv_bcache *bc)
{
	struct kv_buf **v;
	bool pinned = false, full;
	size_t cap, n, i;
	int err = 0;

	rcu_online();
	do {
		struct kv_buf *bp;

		cap = atomic_load(&bc->nr_lru) + 16;
		v = kvmalloc(cap * sizeof(*v), 0);
		if (!v)
			return -ENOMEM;
		n = 0;
		kv_mutex_lock(&bc->lru_lock);
		for (bp = bc->lru_first; bp && n < cap; bp = bp->b_lru_next) {
			if (!(atomic_load(&bp->b_flags) & KV_BUF_DIRTY))
				continue;
			if (atomic_load(&bp->b_pin_count)) {
				pinned = true;
				continue;
			}
			kv_buf_hold(bp);
			v[n++] = bp;
		}
		full = n == cap;
		kv_mutex_unlock(&bc->lru_lock);

		qsort(v, n, sizeof(*v), buf_blkno_cmp);
		for (i = 0; i < n; i++) {
			bp = v[i];
			kv_buf_lock(bp);
			if (!err && kv_buf_is_dirty(bp)) {
				err = kv_buf_write(bp);
				/* repinned meanwhile: leave it to the journal */
				if (err == -EAGAIN) {
					pinned = true;
					err = 0;
				}
			}
			kv_buf_unlock(bp);
			kv_buf_rele(bp);
		}
		kvfree(v);
	} while (!err && full);
	if (err)
		return err;
	err = kv_dev_flush(bc->dev);
	if (err)
		return err;
	return pinned ? -EBUSY : 0;
}
