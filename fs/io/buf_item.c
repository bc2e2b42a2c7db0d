// SPDX-License-Identifier: GPL-2.0
/*
 * The buffer log item (see fs/io/buf_item.h for the contract).
 *
 * Locks, in order (alloc/lockrank.h):
 *   b_lock (fs/io/buf.c): the item's dirty map and its attachment
 *     (b_log_item); the journal calls size/format/release with it held.
 *   bl->lock (class "kvfs_bli"): the list of items of a kvfs_bli_log and
 *     its counters.  Item creation takes it under a buffer lock; the sweep
 *     takes buffer locks under it with trylock only.  The shrinker takes
 *     it under whatever an allocation holds (the journal's push lock, an
 *     open-reference stripe), so it comes after those.
 *   the journal's AIL lock: push runs under it and only trylocks the
 *     buffer, and takes no bl->lock; an ordered buffer's write hook,
 *     called there with the buffer locked, only trylocks its owner's
 *     locks (the inodes of a cluster).  kvj_item_in_ail() does not take it.
 *
 * An item may be freed when, under its buffer lock, it has no logged
 * changes, is not in the AIL and its buffer is not pinned.  Idle items
 * keep their buffers from the cache's reclaim, so they are swept when the
 * item count doubles and by a shrinker.  The shrinker has no NOFS/NOIO
 * flags: it only trylocks buffers, does no I/O, and its other locks
 * (bl->lock, the AIL lock) are never held across an allocation, so it may
 * run inside a transaction, where memory pressure comes from.  The buffer pin
 * (not the journal's item pin count, which drops before unpin() is called)
 * is the test, and unpin() touches nothing of the item after
 * kv_buf_unpin(): the journal's last call for a context is then over by the
 * time anyone can see the item unpinned.
 *
 * What goes wrong is reported through kvfs_corrupt() (fs/io/blkhdr.h), never
 * printed; only the misuses that abort print first.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/bug.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_item.h"
#include "fs/io/rec_bufs.h"
#include "fs/format/geom.h"
#include "journal/crc32c.h"

#define SWEEP_MIN 256
/*
 * The structure named in recovery's reports (fs/io/blkhdr.h's sink: the
 * daemon logs them, the tools print them).
 */
#define BLI_RECOVERY "log recovery"

struct kvfs_bli {
	struct kvj_item item; /* first: the journal hands us &item */
	struct kv_buf *bp;
	struct kvfs_bli_log *bl;
	struct kvfs_bli *prev, *next; /* bl's list, under bl->lock */
	unsigned map_words;
	/* under the buffer lock: chunks changed since the last write-back */
	uint64_t map[KVFS_BLI_MAP_WORDS];
	/*
	 * What the last format() wrote into this context's delta (map and
	 * cancel flag), and the chunks logged since: a relog that dirtied no
	 * new chunk only copies those into their slots.
	 */
	uint64_t fmt_map[KVFS_BLI_MAP_WORDS];
	uint64_t tx_map[KVFS_BLI_MAP_WORDS];
	bool fmt_cancelled;
	bool cancelled; /* the block was freed: log a cancel */
	/*
	 * Ordered (kvfs_trans_ordered_buf()): initialised whole, logged
	 * elsewhere, to be written back by the AIL before the tail passes
	 * its checkpoint; cleared by that write-back
	 */
	bool ordered;
	/* how the AIL writes it back, if not kv_buf_write() (ordered) */
	kvfs_bli_write_fn write;
	void *write_priv;
};

struct kvfs_bli_log {
	struct kvj_log *log;
	struct kv_bcache *bc;
	struct kv_cache *cache; /* struct kvfs_bli */
	struct kv_mutex lock;
	struct kvfs_bli *items;
	size_t nr_items;
	size_t sweep_at; /* sweep when nr_items reaches this */
	struct kv_shrinker shrinker;
};

static const struct kvj_item_ops bli_ops;

static inline struct kvfs_bli *to_bli(struct kvj_item *lip)
{
	return (struct kvfs_bli *)lip;
}

static unsigned map_words_for(size_t len)
{
	return (unsigned)((len / KVFS_BLI_CHUNK + 63) / 64);
}

/*
 * The hot users of popcount (a relog's slots, an item's size: some 40 calls
 * a create) are built twice on x86, with the popcnt instruction and
 * without, and pick at run time: baseline x86-64 has no popcnt, and the
 * compiler's fallback is a libgcc call of some 25 instructions.
 */
#if defined(__x86_64__) || defined(__i386__)
#define POPCNT_VARIANTS 1
#define TARGET_POPCNT __attribute__((target("popcnt")))
static inline bool have_popcnt(void)
{
	return __builtin_cpu_supports("popcnt");
}
#endif

static inline __attribute__((always_inline)) unsigned
map_count_body(const uint64_t *map, unsigned words)
{
	unsigned i, n = 0;

	for (i = 0; i < words; i++)
		n += (unsigned)__builtin_popcountll(map[i]);
	return n;
}

#ifdef POPCNT_VARIANTS
static TARGET_POPCNT unsigned map_count_popcnt(const uint64_t *map,
					       unsigned words)
{
	return map_count_body(map, words);
}
#endif

static unsigned map_count(const uint64_t *map, unsigned words)
{
#ifdef POPCNT_VARIANTS
	if (have_popcnt())
		return map_count_popcnt(map, words);
#endif
	return map_count_body(map, words);
}

static bool map_empty(const struct kvfs_bli *bli)
{
	unsigned i;

	for (i = 0; i < bli->map_words; i++)
		if (bli->map[i])
			return false;
	return true;
}

/* ---- item life ---- */

static void bli_list_del(struct kvfs_bli_log *bl, struct kvfs_bli *bli)
{
	if (bli->prev)
		bli->prev->next = bli->next;
	else
		bl->items = bli->next;
	if (bli->next)
		bli->next->prev = bli->prev;
	__atomic_store_n(&bl->nr_items, bl->nr_items - 1, __ATOMIC_RELAXED);
}

/*
 * Under the buffer lock (and bl->lock when locked is true): detach and free
 * the item if nothing needs it any more.  Returns true if it was freed.
 */
static bool bli_try_free(struct kvfs_bli *bli, bool locked)
{
	struct kvfs_bli_log *bl = bli->bl;
	struct kv_buf *bp = bli->bp;

	if (!map_empty(bli) || bli->ordered || kv_buf_is_pinned(bp) ||
	    kvj_item_in_ail(&bli->item))
		return false;
	__atomic_store_n(&bp->b_log_item, NULL, __ATOMIC_RELAXED);
	if (!locked)
		kv_mutex_lock(&bl->lock);
	bli_list_del(bl, bli);
	if (!locked)
		kv_mutex_unlock(&bl->lock);
	kv_cache_free(bl->cache, bli);
	return true;
}

/*
 * Under bl->lock: free idle items whose buffers nobody holds locked, up to
 * nr; returns the number freed.  Called once the number of items has
 * doubled since the last sweep (amortised O(1) per item created) and by
 * the shrinker.
 */
static size_t bli_sweep(struct kvfs_bli_log *bl, size_t nr)
{
	struct kvfs_bli *bli, *next;
	size_t freed = 0;

	for (bli = bl->items; bli && freed < nr; bli = next) {
		struct kv_buf *bp = bli->bp;

		next = bli->next;
		if (!kv_buf_trylock(bp))
			continue;
		freed += bli_try_free(bli, true);
		kv_buf_unlock(bp);
	}
	bl->sweep_at =
		bl->nr_items * 2 > SWEEP_MIN ? bl->nr_items * 2 : SWEEP_MIN;
	return freed;
}

static size_t bli_shrink_count(void *priv)
{
	struct kvfs_bli_log *bl = priv;

	return __atomic_load_n(&bl->nr_items, __ATOMIC_RELAXED);
}

static size_t bli_shrink_scan(void *priv, size_t nr)
{
	struct kvfs_bli_log *bl = priv;
	size_t freed;

	kv_mutex_lock(&bl->lock);
	freed = bli_sweep(bl, nr);
	kv_mutex_unlock(&bl->lock);
	/*
	 * Items still logged pin their buffers until the AIL writes them
	 * back, which it otherwise does only when the log runs short: with
	 * a log large against memory, a NOFAIL allocation would wait forever.
	 */
	if (freed < nr)
		kvj_log_push_ail(bl->log);
	return freed;
}

/* The item of a locked buffer, created and attached if it has none. */
static int bli_attach(struct kvfs_bli_log *bl, struct kv_buf *bp,
		      struct kvfs_bli **blip)
{
	struct kvfs_bli *bli = bp->b_log_item;

	if (bli) {
		*blip = bli;
		return 0;
	}
	if (bp->b_len > KVFS_BLI_MAX_LEN || bp->b_len % KVFS_BLI_CHUNK)
		return -EINVAL;
	/* as XFS's buffer items: a transaction must not fail for one */
	bli = kv_cache_alloc(bl->cache, KV_ZERO | KV_NOFAIL);
	kvj_item_init(&bli->item, bl->log, &bli_ops);
	/* while pinned, the buffer cannot be reclaimed: the CIL counts it */
	bli->item.pin_bytes = (uint32_t)bp->b_len;
	bli->bp = bp;
	bli->bl = bl;
	bli->map_words = map_words_for(bp->b_len);
	kv_mutex_lock(&bl->lock);
	bli->next = bl->items;
	if (bl->items)
		bl->items->prev = bli;
	bl->items = bli;
	__atomic_store_n(&bl->nr_items, bl->nr_items + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&bp->b_log_item, bli, __ATOMIC_RELAXED);
	if (bl->nr_items >= bl->sweep_at)
		bli_sweep(bl, SIZE_MAX);
	kv_mutex_unlock(&bl->lock);
	*blip = bli;
	return 0;
}

/* ---- buffers held by this thread's transactions ---- */

#define TX_BUFS_MAX 256

/*
 * The buffers this thread's transactions hold, so that getting a buffer a
 * second time in one transaction returns it instead of deadlocking on its
 * lock (XFS finds it in the transaction's item list; ours is the
 * journal's).  A transaction is used by one thread (journal/trans.c), and
 * its items are released in that thread by commit or cancel.
 */
struct tx_buf {
	uint64_t blkno; /* bli's, here so that a miss reads no buffer */
	const struct kvj_trans *tp;
	struct kvfs_bli *bli;
};

static _Thread_local struct tx_buf tl_bufs[TX_BUFS_MAX];
static _Thread_local unsigned tl_nr;

/*
 * How many of tl_bufs have a block number of each low six bits: most gets
 * are of a block the thread does not hold (the blocks of a B+tree walk),
 * and a zero here answers them without the walk of the whole list.
 */
#define TX_HINTS 64
static _Thread_local uint16_t tl_hint[TX_HINTS];

static inline uint16_t *tx_hint(uint64_t blkno)
{
	return &tl_hint[blkno % TX_HINTS];
}

static struct kv_buf *tx_bufs_find(const struct kvj_trans *tp, uint64_t blkno)
{
	unsigned i;

	if (!*tx_hint(blkno))
		return NULL;
	for (i = 0; i < tl_nr; i++) {
		/* a freed block is found again as a new buffer */
		if (tl_bufs[i].blkno == blkno && tl_bufs[i].tp == tp &&
		    !tl_bufs[i].bli->cancelled)
			return tl_bufs[i].bli->bp;
	}
	return NULL;
}

static void tx_bufs_add(const struct kvj_trans *tp, struct kvfs_bli *bli)
{
	if (tl_nr == TX_BUFS_MAX) {
		kvfs_bug(
			"more than %d buffers held by one thread's transactions",
			TX_BUFS_MAX);
	}
	tl_bufs[tl_nr].blkno = bli->bp->b_blkno;
	tl_bufs[tl_nr].tp = tp;
	tl_bufs[tl_nr].bli = bli;
	tl_nr++;
	(*tx_hint(bli->bp->b_blkno))++;
}

/*
 * From the top: a commit releases its items newest first (the journal's
 * list is in reverse join order), so each is found at once.
 */
static void tx_bufs_del(struct kvfs_bli *bli)
{
	unsigned i;

	for (i = tl_nr; i-- > 0;) {
		if (tl_bufs[i].bli == bli) {
			(*tx_hint(tl_bufs[i].blkno))--;
			tl_bufs[i] = tl_bufs[--tl_nr];
			return;
		}
	}
	kvfs_bug("block %llu released by a thread other than its transaction's",
		 (unsigned long long)bli->bp->b_blkno);
}

/* ---- the journal's item ops ---- */

/* Nothing to log but the order: the journal writes no delta for it. */
static bool bli_ordered_only(struct kvfs_bli *bli)
{
	return bli->ordered && !bli->cancelled && map_empty(bli);
}

static uint32_t bli_size(struct kvj_item *lip, bool fresh)
{
	struct kvfs_bli *bli = to_bli(lip);

	(void)fresh;
	if (bli_ordered_only(bli))
		return 0;
	return (uint32_t)(sizeof(struct kvfs_buf_log_hdr) +
			  bli->map_words * sizeof(kv_le64) +
			  map_count(bli->map, bli->map_words) * KVFS_BLI_CHUNK);
}

/*
 * Relog in the same context with the same dirty chunks: buf still holds
 * the previous delta (the journal's contract), so only the chunks logged
 * since then are copied, into their slots (a chunk's slot is its rank in
 * the map).  This is the hot case of delayed logging: without it every
 * relog recopied the whole dirty region (43% of the journal bench's CPU).
 */
static inline __attribute__((always_inline)) bool
relog_body(struct kvfs_bli *bli, void *buf, uint32_t *lenp)
{
	struct kvfs_buf_log_hdr *h = buf;
	uint8_t *slots = (uint8_t *)((kv_le64 *)(h + 1) + bli->map_words);
	const uint8_t *src = bli->bp->b_addr;
	unsigned w, rank = 0;

	if (bli->cancelled != bli->fmt_cancelled)
		return false;
	/* word by word: a block's map is a word or two, memcmp() a call */
	for (w = 0; w < bli->map_words; w++)
		if (bli->map[w] != bli->fmt_map[w])
			return false;
	for (w = 0; w < bli->map_words; w++) {
		uint64_t m = bli->tx_map[w];

		while (m) {
			/*
			 * A run of chunks logged since is a run of slots too
			 * (tx_map is within map): one copy (a btree insert
			 * shifts half a block's entries)
			 */
			unsigned b = (unsigned)__builtin_ctzll(m);
			uint64_t run = ~(m >> b);
			unsigned n = run ? (unsigned)__builtin_ctzll(run) : 64;
			size_t c = w * 64 + b;
			unsigned slot =
				rank + (unsigned)__builtin_popcountll(
					       bli->map[w] & ((1ull << b) - 1));

			memcpy(slots + (size_t)slot * KVFS_BLI_CHUNK,
			       src + (c << KVFS_BLI_CHUNK_SHIFT),
			       (size_t)n * KVFS_BLI_CHUNK);
			m = n == 64 ? 0 : m & ~(((1ull << n) - 1) << b);
		}
		rank += (unsigned)__builtin_popcountll(bli->map[w]);
		bli->tx_map[w] = 0;
	}
	*lenp = (uint32_t)(slots - (uint8_t *)buf) + rank * KVFS_BLI_CHUNK;
	return true;
}

#ifdef POPCNT_VARIANTS
static TARGET_POPCNT bool relog_popcnt(struct kvfs_bli *bli, void *buf,
				       uint32_t *lenp)
{
	return relog_body(bli, buf, lenp);
}
#endif

static bool bli_format_relog(struct kvfs_bli *bli, void *buf, uint32_t *lenp)
{
#ifdef POPCNT_VARIANTS
	if (have_popcnt())
		return relog_popcnt(bli, buf, lenp);
#endif
	return relog_body(bli, buf, lenp);
}

static uint32_t bli_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct kvfs_bli *bli = to_bli(lip);
	struct kvfs_buf_log_hdr *h = buf;
	kv_le64 *map = (kv_le64 *)(h + 1);
	uint8_t *p = (uint8_t *)(map + bli->map_words);
	const uint8_t *src = bli->bp->b_addr;
	uint32_t len;
	unsigned w;

	if (bli_ordered_only(bli)) {
		memset(bli->fmt_map, 0, sizeof(bli->fmt_map));
		memset(bli->tx_map, 0, sizeof(bli->tx_map));
		bli->fmt_cancelled = false;
		return 0;
	}
	if (!fresh && bli_format_relog(bli, buf, &len))
		return len;
	h->blkno = kv_cpu_to_le64(bli->bp->b_blkno);
	h->nblks = kv_cpu_to_le32(bli->bp->b_nblks);
	h->map_words = kv_cpu_to_le16((uint16_t)bli->map_words);
	h->flags = kv_cpu_to_le16(bli->cancelled ? KVFS_BLF_CANCEL : 0);
	for (w = 0; w < bli->map_words; w++) {
		uint64_t m = bli->map[w];

		map[w] = kv_cpu_to_le64(m);
		bli->fmt_map[w] = m;
		bli->tx_map[w] = 0;
		while (m) {
			/* a run of dirty chunks is one copy */
			unsigned b = (unsigned)__builtin_ctzll(m);
			uint64_t run = ~(m >> b);
			unsigned n = run ? (unsigned)__builtin_ctzll(run) : 64;
			size_t c = w * 64 + b;

			memcpy(p, src + (c << KVFS_BLI_CHUNK_SHIFT),
			       (size_t)n * KVFS_BLI_CHUNK);
			p += (size_t)n * KVFS_BLI_CHUNK;
			m = n == 64 ? 0 : m & ~(((1ull << n) - 1) << b);
		}
	}
	bli->fmt_cancelled = bli->cancelled;
	return (uint32_t)(p - (uint8_t *)buf);
}

/* The transaction is over: unlock and release the buffer. */
static void bli_release(struct kvj_item *lip, bool aborted)
{
	struct kvfs_bli *bli = to_bli(lip);
	struct kv_buf *bp = bli->bp;

	(void)aborted;
	tx_bufs_del(bli);
	bli_try_free(bli, false);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
}

static void bli_pin(struct kvj_item *lip)
{
	kv_buf_pin(to_bli(lip)->bp);
}

/* Nothing of the item may be touched once the buffer is unpinned. */
static void bli_unpin(struct kvj_item *lip)
{
	kv_buf_unpin(to_bli(lip)->bp);
}

/* AIL write-back: never waits for the buffer lock. */
static int bli_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct kvfs_bli *bli = to_bli(lip);
	struct kv_buf *bp = bli->bp;
	bool stale;
	int err;

	if (!kv_buf_trylock(bp))
		return KVJ_PUSH_LOCKED;
	if (kv_buf_is_pinned(bp)) {
		kv_buf_unlock(bp);
		return KVJ_PUSH_PINNED;
	}
	/*
	 * Nothing logged or ordered since the last write-back (its own, or
	 * its owner's, kvfs_bli_written()): that write, counted by the push
	 * that made it, is all the flush before the removal needs
	 */
	if (!bli->ordered && !bli->cancelled && map_empty(bli)) {
		kv_buf_unlock(bp);
		return KVJ_PUSH_CLEAN;
	}
	/* freed, its cancel durable (unpinned): kv_buf_write() skips it */
	stale = atomic_load(&bp->b_flags) & KV_BUF_STALE;
	bp->b_lsn = lsn;
	if (bli->write && !stale)
		err = bli->write(bp, bli->write_priv);
	else
		err = kv_buf_write(bp);
	if (!err) {
		memset(bli->map, 0, sizeof(bli->map));
		bli->ordered = false;
		bli->write = NULL;
	}
	kv_buf_unlock(bp);
	if (!err)
		return stale ? KVJ_PUSH_CLEAN : KVJ_PUSH_SUCCESS;
	/*
	 * The log tail cannot pass a buffer that cannot be written (device
	 * error, or verify_write refusing corrupt metadata): stop, as XFS
	 * shuts down.  The log lock nests inside the AIL lock held here.  A
	 * host short of memory, or a device without room, is waited out: a
	 * later push tries again.
	 */
	if (kv_buf_write_nospace(err))
		return KVJ_PUSH_NOSPACE;
	if (!kv_buf_write_transient(err)) {
		kvfs_corrupt(err, bp->b_blkno, "buffer", "write-back: %s",
			     strerror(-err));
		kvj_log_shutdown(lip->log, "buffer write-back failed");
	}
	return KVJ_PUSH_LOCKED;
}

static const struct kvj_item_ops bli_ops = {
	.name = "buf",
	.type = KVFS_ITEM_BUF,
	.size = bli_size,
	.format = bli_format,
	.release = bli_release,
	.pin = bli_pin,
	.unpin = bli_unpin,
	.push = bli_push,
};

/* ---- the per-log state ---- */

int kvfs_bli_log_create(struct kvj_log *log, struct kv_bcache *bc,
			struct kvfs_bli_log **blp)
{
	struct kvfs_bli_log *bl;
	int class = kv_lock_class_register("kvfs_bli"), err;

	*blp = NULL;
	if (class < 0)
		return class;
	bl = kvzalloc(sizeof(*bl), 0);
	if (!bl)
		return -ENOMEM;
	bl->cache = kv_cache_create("kvfs_bli", sizeof(struct kvfs_bli),
				    _Alignof(struct kvfs_bli));
	if (!bl->cache) {
		kvfree(bl);
		return -ENOMEM;
	}
	bl->log = log;
	bl->bc = bc;
	bl->sweep_at = SWEEP_MIN;
	kv_mutex_init(&bl->lock, class);
	bl->shrinker.name = "kvfs_bli";
	bl->shrinker.count = bli_shrink_count;
	bl->shrinker.scan = bli_shrink_scan;
	bl->shrinker.priv = bl;
	err = kv_register_shrinker(&bl->shrinker);
	if (err) {
		kv_mutex_destroy(&bl->lock);
		kv_cache_destroy(bl->cache);
		kvfree(bl);
		return err;
	}
	*blp = bl;
	return 0;
}

void kvfs_bli_log_stop_reclaim(struct kvfs_bli_log *bl)
{
	if (bl)
		kv_unregister_shrinker(&bl->shrinker);
}

void kvfs_bli_log_destroy(struct kvfs_bli_log *bl)
{
	struct kvfs_bli *bli;

	if (!bl)
		return;
	kv_unregister_shrinker(&bl->shrinker);
	while ((bli = bl->items)) {
		struct kv_buf *bp = bli->bp;

		kv_buf_lock(bp);
		/*
		 * The journal unpins even the contexts it drops unwritten: a
		 * pin left here is a journal bug, reported, then undone so
		 * that the cache can still be torn down.
		 */
		if (kv_buf_is_pinned(bp))
			kvfs_corrupt(-EBUSY, bp->b_blkno, "buffer",
				     "still pinned at log teardown");
		while (kv_buf_is_pinned(bp))
			kv_buf_unpin(bp);
		__atomic_store_n(&bp->b_log_item, NULL, __ATOMIC_RELAXED);
		bli_list_del(bl, bli);
		kv_buf_unlock(bp);
		kv_cache_free(bl->cache, bli);
	}
	kv_mutex_destroy(&bl->lock);
	kv_cache_destroy(bl->cache);
	kvfree(bl);
}

size_t kvfs_bli_log_sweep(struct kvfs_bli_log *bl)
{
	size_t freed;

	kv_mutex_lock(&bl->lock);
	freed = bli_sweep(bl, SIZE_MAX);
	kv_mutex_unlock(&bl->lock);
	return freed;
}

size_t kvfs_bli_log_nr_items(struct kvfs_bli_log *bl)
{
	size_t n;

	kv_mutex_lock(&bl->lock);
	n = bl->nr_items;
	kv_mutex_unlock(&bl->lock);
	return n;
}

/* ---- transactions ---- */

#define JOIN_STALE 1
/*
 * bp is held: lock it, attach its item and join it to tp.  JOIN_STALE: the
 * block was freed while we waited for the lock (the buffer has left the
 * index): look it up again.
 */
static int trans_join_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
			  struct kv_buf *bp, struct kv_buf **bpp)
{
	struct kvfs_bli *bli;
	int err;

	kv_buf_lock(bp);
	if (atomic_load(&bp->b_flags) & KV_BUF_STALE) {
		err = JOIN_STALE;
		goto out_unlock;
	}
	err = bli_attach(bl, bp, &bli);
	if (err)
		goto out_unlock;
	kvj_trans_join(tp, &bli->item);
	tx_bufs_add(tp, bli);
	*bpp = bp;
	return 0;

out_unlock:
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	return err;
}

/* The transaction holds bp already: hand it out again. */
static int trans_found_buf(struct kv_buf *bp, unsigned nblks,
			   struct kv_buf **bpp)
{
	if (bp->b_nblks != nblks)
		return -EINVAL;
	*bpp = bp;
	return 0;
}

/* kv_buf_read(), kv_buf_get() or kv_buf_get_raw() */
typedef int (*buf_get_fn)(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
			  const struct kv_buf_ops *ops, struct kv_buf **bpp);

/* Get a buffer by get, locked and joined to tp. */
static int trans_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
		     uint64_t blkno, unsigned nblks,
		     const struct kv_buf_ops *ops, buf_get_fn get,
		     struct kv_buf **bpp)
{
	struct kv_buf *bp = tx_bufs_find(tp, blkno);
	int err;

	if (bp)
		return trans_found_buf(bp, nblks, bpp);
	do {
		err = get(bl->bc, blkno, nblks, ops, &bp);
		if (!err)
			err = trans_join_buf(tp, bl, bp, bpp);
	} while (err == JOIN_STALE);
	return err;
}

int kvfs_trans_get_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
		       uint64_t blkno, unsigned nblks,
		       const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return trans_buf(tp, bl, blkno, nblks, ops, kv_buf_get, bpp);
}

int kvfs_trans_get_buf_raw(struct kvj_trans *tp, struct kvfs_bli_log *bl,
			   uint64_t blkno, unsigned nblks,
			   const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return trans_buf(tp, bl, blkno, nblks, ops, kv_buf_get_raw, bpp);
}

int kvfs_trans_read_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
			uint64_t blkno, unsigned nblks,
			const struct kv_buf_ops *ops, struct kv_buf **bpp)
{
	return trans_buf(tp, bl, blkno, nblks, ops, kv_buf_read, bpp);
}

/*
 * A dirty transaction cannot be backed out (its cancel shuts the log
 * down): from its first change no allocation of its thread may fail, or
 * an ENOMEM would come back as EIO (tests/life nomem: an extent-free
 * intent's allocation in a truncate after its first roll).  XFS's
 * allocations in a transaction do not fail either.
 */
static void trans_log(struct kvj_trans *tp, struct kvj_item *lip)
{
	kvj_trans_set_nofail(tp);
	kvj_trans_log(tp, lip);
}

void kvfs_trans_log_buf(struct kvj_trans *tp, struct kv_buf *bp, unsigned first,
			unsigned last)
{
	struct kvfs_bli *bli = bp->b_log_item;
	unsigned c;

	if (!bli || bli->cancelled || first > last || last >= bp->b_len) {
		kvfs_bug("kvfs_trans_log_buf: block %llu bytes %u-%u of %zu%s",
			 (unsigned long long)bp->b_blkno, first, last,
			 bp->b_len,
			 !bli		? " not in a transaction" :
			 bli->cancelled ? " freed" :
					  "");
	}
	/*
	 * An ordered buffer not yet written back is logged whole: the delta
	 * then moves the item forward in the AIL, past the checkpoint whose
	 * other item (an inode chunk's creation) stood for its contents.
	 */
	if (bli->ordered) {
		first = 0;
		last = (unsigned)bp->b_len - 1;
	}
	/* chunks first..last: a mask per map word, not a bit per chunk */
	first >>= KVFS_BLI_CHUNK_SHIFT;
	last >>= KVFS_BLI_CHUNK_SHIFT;
	for (c = first / 64; c <= last / 64; c++) {
		uint64_t m = ~0ull;

		if (c == first / 64)
			m &= ~0ull << (first % 64);
		if (c == last / 64 && last % 64 != 63)
			m &= (1ull << (last % 64 + 1)) - 1;
		bli->map[c] |= m;
		bli->tx_map[c] |= m;
	}
	trans_log(tp, &bli->item);
}

void kvfs_trans_binval(struct kvj_trans *tp, struct kv_buf *bp)
{
	struct kvfs_bli *bli = bp->b_log_item;

	if (!bli) {
		kvfs_bug("kvfs_trans_binval: block %llu not in a transaction",
			 (unsigned long long)bp->b_blkno);
	}
	kv_buf_stale(bp);
	memset(bli->map, 0, sizeof(bli->map));
	/* a stale buffer is never written: nothing is left to order */
	bli->ordered = false;
	bli->write = NULL;
	bli->cancelled = true;
	trans_log(tp, &bli->item);
}

void kvfs_trans_ordered_buf(struct kvj_trans *tp, struct kv_buf *bp,
			    kvfs_bli_write_fn write, void *priv)
{
	struct kvfs_bli *bli = bp->b_log_item;

	if (!bli || bli->cancelled) {
		kvfs_bug("kvfs_trans_ordered_buf: block %llu%s",
			 (unsigned long long)bp->b_blkno,
			 bli ? " freed" : " not in a transaction");
	}
	bli->write = write;
	bli->write_priv = priv;
	/* logged chunks are a delta of their own, written with the rest */
	if (map_empty(bli))
		bli->ordered = true;
	else
		kvfs_trans_log_buf(tp, bp, 0, (unsigned)bp->b_len - 1);
	trans_log(tp, &bli->item);
}

void kvfs_bli_written(struct kv_buf *bp)
{
	struct kvfs_bli *bli = bp->b_log_item;

	if (bli && bli->ordered && !bli->cancelled && map_empty(bli)) {
		bli->ordered = false;
		bli->write = NULL;
	}
}

bool kvfs_trans_brelse(struct kvj_trans *tp, struct kv_buf *bp)
{
	struct kvfs_bli *bli = bp->b_log_item;

	return bli && kvj_trans_brelse(tp, &bli->item);
}

unsigned kvfs_trans_buf_mark(struct kvj_trans *tp)
{
	(void)tp;
	return tl_nr;
}

/*
 * The thread's buffers are only added during the search (nothing commits
 * or rolls there): every one at or above mark is one it got, and
 * releasing from the top keeps the rest in place (tx_bufs_del()).
 */
bool kvfs_trans_brelse_since(struct kvj_trans *tp, unsigned mark)
{
	unsigned i;

	for (i = mark; i < tl_nr; i++)
		if (tl_bufs[i].tp == tp &&
		    tl_bufs[i].bli->item.tr_flags != KVJ_LI_JOINED)
			return false;
	for (i = tl_nr; i-- > mark;)
		if (tl_bufs[i].tp == tp)
			kvfs_trans_brelse(tp, tl_bufs[i].bli->bp);
	return true;
}

/* ---- deltas ---- */

/*
 * Check a delta's framing; on success *mapp points at its map (little-
 * endian words, possibly unaligned: read with memcpy) and *datap at its
 * first chunk.
 */
static int delta_parse(const void *delta, uint32_t len,
		       struct kvfs_buf_log_hdr *h, const uint8_t **mapp,
		       const uint8_t **datap)
{
	const uint8_t *p = delta;
	uint64_t need, nr = 0;
	unsigned words, w;

	if (len < sizeof(*h))
		return -EUCLEAN;
	memcpy(h, p, sizeof(*h));
	words = kv_le16_to_cpu(h->map_words);
	if (!kv_le32_to_cpu(h->nblks) || !words || words > KVFS_BLI_MAP_WORDS ||
	    kv_le16_to_cpu(h->flags) & ~KVFS_BLF_ALL)
		return -EUCLEAN;
	need = sizeof(*h) + (uint64_t)words * sizeof(kv_le64);
	if (len < need)
		return -EUCLEAN;
	for (w = 0; w < words; w++) {
		kv_le64 m;

		memcpy(&m, p + sizeof(*h) + w * sizeof(m), sizeof(m));
		nr += (unsigned)__builtin_popcountll(kv_le64_to_cpu(m));
	}
	if (len != need + nr * KVFS_BLI_CHUNK)
		return -EUCLEAN;
	if ((kv_le16_to_cpu(h->flags) & KVFS_BLF_CANCEL) && nr)
		return -EUCLEAN;
	*mapp = p + sizeof(*h);
	*datap = p + need;
	return 0;
}

static uint64_t delta_map_word(const uint8_t *map, unsigned w)
{
	kv_le64 m;

	memcpy(&m, map + w * sizeof(m), sizeof(m));
	return kv_le64_to_cpu(m);
}

static bool delta_bit(const uint8_t *map, unsigned c)
{
	return delta_map_word(map, c / 64) >> (c % 64) & 1;
}

/* Does the map name chunks at or past nchunks? */
static bool delta_past_end(const uint8_t *map, unsigned words, size_t nchunks)
{
	unsigned used = nchunks % 64;

	return used && delta_map_word(map, words - 1) >> used;
}

/* Append to out like snprintf, never past outlen; *o counts everything. */
static void __attribute__((format(printf, 4, 5)))
emit(char *out, size_t outlen, size_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*o < outlen ? out + *o : NULL,
		      *o < outlen ? outlen - *o : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*o += (size_t)n;
}

int kvfs_bli_describe(const void *delta, uint32_t len, char *out, size_t outlen)
{
	struct kvfs_buf_log_hdr h;
	const uint8_t *map, *data;
	unsigned words, nchunks, c, end, nr = 0;
	const char *sep = " bytes ";
	size_t o = 0;

	if (delta_parse(delta, len, &h, &map, &data))
		return -EUCLEAN;
	words = kv_le16_to_cpu(h.map_words);
	if (kv_le16_to_cpu(h.flags) & KVFS_BLF_CANCEL) {
		emit(out, outlen, &o,
		     "buf block %llu nblks %u map_words %u cancel",
		     (unsigned long long)kv_le64_to_cpu(h.blkno),
		     kv_le32_to_cpu(h.nblks), words);
		goto out;
	}
	nchunks = words * 64;
	for (c = 0; c < nchunks; c++)
		nr += delta_bit(map, c);
	emit(out, outlen, &o,
	     "buf block %llu nblks %u map_words %u logged %u chunks:",
	     (unsigned long long)kv_le64_to_cpu(h.blkno),
	     kv_le32_to_cpu(h.nblks), words, nr);
	for (c = 0; c < nchunks && o < outlen; c = end + 1) {
		end = c;
		if (!delta_bit(map, c))
			continue;
		while (end + 1 < nchunks && delta_bit(map, end + 1))
			end++;
		emit(out, outlen, &o, "%s%u-%u", sep, c * KVFS_BLI_CHUNK,
		     (end + 1) * KVFS_BLI_CHUNK - 1);
		sep = ",";
	}
out:
	if (!outlen)
		return 0;
	return (int)(o < outlen ? o : outlen - 1);
}

/* ---- recovery ---- */

/* A block freed (cancelled) in the checkpoint at lsn. */
struct rec_cancel {
	uint64_t blkno;
	kvj_lsn_t lsn;
};

struct bli_recovery {
	struct kv_bcache *bc;
	kvfs_bli_buf_type_fn buf_type;
	const uint8_t *meta_uuid; /* NULL: blocks without the header */
	struct kvfs_rec_bufs bufs;
	size_t limit; /* buffers held before the replayed ones are written */
	/* from the scan pass: every cancel, sorted by block then lsn */
	struct rec_cancel *cancels;
	size_t nr_cancels, cancels_cap;
	bool cancels_sorted;
	kvj_lsn_t max_lsn; /* the newest checkpoint holding a buffer delta */
	struct kvfs_bli_recover_stats st;
};

/*
 * The block was freed: drop what replay put into it (nothing was written
 * yet), so that a later delta (the block reused as metadata) starts from
 * the device again.
 */
static void rec_forget(struct bli_recovery *r, struct kvfs_rec_buf *rb)
{
	kv_buf_lock(rb->bp);
	kv_buf_stale(rb->bp);
	kv_buf_unlock(rb->bp);
	kv_buf_rele(rb->bp);
	kvfs_rec_bufs_remove(&r->bufs, rb);
}

/*
 * The LSN of the block's last write-back, or 0 (replay every delta) when
 * the block cannot vouch for it: a type unknown (never written, or not
 * metadata), contents failing their checksum (a write-back torn by the
 * crash: its header may carry the new LSN over old contents, and the
 * deltas since the tail rebuild every chunk changed since the write-back
 * before), or an LSN newer than every checkpoint of the log holding a
 * buffer delta.  A block is written back only once the checkpoint that
 * last logged it is durable (journal/push.c ckpt_done()), so its LSN is
 * that checkpoint's, still in the log, or older than the tail: a newer one
 * is damage, which would have every change since the tail skipped (what
 * fsck.kvfs reports and resets, fs/repair/log.c).
 */
static kvj_lsn_t rec_block_lsn(struct bli_recovery *r, struct kv_buf *bp)
{
	const struct kvfs_blk_hdr *h = bp->b_addr;
	const struct kv_buf_ops *ops = NULL;

	if (r->buf_type) {
		ops = r->buf_type(bp->b_addr, bp->b_len);
		if (!ops)
			return 0;
	}
	/*
	 * A block of another filesystem (mkfs over an old image) carries
	 * LSNs of another log: replay over it (XFS's
	 * xlog_recover_get_buf_lsn checks the metadata UUID the same way).
	 * Checked before the verifier, which would report it as damage:
	 * every crash of a filesystem made over an old one printed a
	 * corruption per block reused since the log's tail.
	 */
	if (r->meta_uuid && memcmp(h->uuid, r->meta_uuid, KVFS_UUID_SIZE))
		return 0;
	if (ops ? ops->verify_read && ops->verify_read(bp) :
		  kv_le32_to_cpu(h->crc) != kv_crc32c_block(bp->b_addr,
							    bp->b_len,
							    KVFS_BLK_CRC_OFF))
		return 0;
	return kv_le64_to_cpu(h->lsn) > r->max_lsn ? 0 : kv_le64_to_cpu(h->lsn);
}

/* Pass 1: remember every cancel. */
static int rec_scan(void *priv, const void *delta, uint32_t len, kvj_lsn_t lsn)
{
	struct bli_recovery *r = priv;
	struct kvfs_buf_log_hdr h;
	const uint8_t *map, *data;

	if (delta_parse(delta, len, &h, &map, &data))
		return kvfs_corrupt(-EUCLEAN, KVFS_NULLBLOCK, BLI_RECOVERY,
				    "malformed buffer delta (%u bytes)", len);
	if (lsn > r->max_lsn)
		r->max_lsn = lsn;
	if (!(kv_le16_to_cpu(h.flags) & KVFS_BLF_CANCEL))
		return 0;
	if (r->nr_cancels == r->cancels_cap) {
		size_t cap = r->cancels_cap ? 2 * r->cancels_cap : 64;
		struct rec_cancel *c = kvmalloc(cap * sizeof(*c), 0);

		if (!c)
			return -ENOMEM;
		if (r->nr_cancels)
			memcpy(c, r->cancels, r->nr_cancels * sizeof(*c));
		kvfree(r->cancels);
		r->cancels = c;
		r->cancels_cap = cap;
	}
	r->cancels[r->nr_cancels].blkno = kv_le64_to_cpu(h.blkno);
	r->cancels[r->nr_cancels].lsn = lsn;
	r->nr_cancels++;
	return 0;
}

static int rec_cancel_cmp(const void *x, const void *y)
{
	const struct rec_cancel *a = x, *b = y;

	if (a->blkno != b->blkno)
		return a->blkno < b->blkno ? -1 : 1;
	return a->lsn < b->lsn ? -1 : a->lsn > b->lsn;
}

/* Is blkno freed in a checkpoint after lsn? */
static bool rec_cancelled_later(struct bli_recovery *r, uint64_t blkno,
				kvj_lsn_t lsn)
{
	size_t lo = 0, hi = r->nr_cancels;

	if (!hi)
		return false;
	if (!r->cancels_sorted) {
		qsort(r->cancels, r->nr_cancels, sizeof(*r->cancels),
		      rec_cancel_cmp);
		r->cancels_sorted = true;
	}
	/* the last cancel of blkno decides */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->cancels[mid].blkno <= blkno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && r->cancels[lo - 1].blkno == blkno &&
	       r->cancels[lo - 1].lsn > lsn;
}

static int rec_write(struct bli_recovery *r, struct kvfs_rec_buf *rb);
static void rec_release(struct bli_recovery *r, bool stale);

/*
 * Write back every replayed block and let all go.  Any replayed block may
 * be written before the end: its deltas were applied only if no later
 * checkpoint frees the block (the scan pass knows), and a recovery that
 * dies meanwhile starts again from the same tail, skipping what the
 * stamped LSNs say is in place.
 */
static int rec_write_all(struct bli_recovery *r)
{
	size_t i;
	int err = 0;

	for (i = 0; i < r->bufs.cap && !err; i++) {
		struct kvfs_rec_buf *rb = &r->bufs.slots[i];

		if (!rb->bp || !rb->changed)
			continue;
		kv_buf_lock(rb->bp);
		err = rec_write(r, rb);
		kv_buf_unlock(rb->bp);
		if (err)
			kvfs_corrupt(err, rb->bp->b_blkno, BLI_RECOVERY,
				     "write back block %llu: %s",
				     (unsigned long long)rb->bp->b_blkno,
				     strerror(-err));
		else
			r->st.written++;
	}
	rec_release(r, err != 0);
	return err;
}

static int rec_replay(void *priv, const void *delta, uint32_t len,
		      kvj_lsn_t lsn)
{
	struct bli_recovery *r = priv;
	struct kvfs_buf_log_hdr h;
	const uint8_t *map, *data;
	struct kvfs_rec_buf *rb;
	struct kv_buf *bp;
	uint64_t blkno, bytes;
	unsigned words, w, nblks;
	int err;

	r->st.deltas++;
	if (delta_parse(delta, len, &h, &map, &data))
		return kvfs_corrupt(-EUCLEAN, KVFS_NULLBLOCK, BLI_RECOVERY,
				    "malformed buffer delta (%u bytes)", len);
	blkno = kv_le64_to_cpu(h.blkno);
	if (kv_le16_to_cpu(h.flags) & KVFS_BLF_CANCEL) {
		r->st.cancelled++;
		rb = kvfs_rec_bufs_find(&r->bufs, blkno);
		if (rb && rb->bp)
			rec_forget(r, rb);
		return 0;
	}
	if (rec_cancelled_later(r, blkno, lsn)) {
		/* freed later: its contents may be anyone's by now */
		r->st.freed_later++;
		return 0;
	}
	/* the buffer's size, from the delta, bounded before it is read */
	nblks = kv_le32_to_cpu(h.nblks);
	bytes = (uint64_t)nblks * kv_bcache_blksize(r->bc);
	if (bytes > KVFS_BLI_MAX_LEN ||
	    kv_le16_to_cpu(h.map_words) != map_words_for(bytes))
		return kvfs_corrupt(
			-EUCLEAN, blkno, BLI_RECOVERY,
			"buffer delta of block %llu does not fit its %u-block buffer",
			(unsigned long long)blkno, nblks);
	if (r->bufs.nr >= r->limit) {
		r->st.batches++;
		err = rec_write_all(r);
		if (err)
			return err;
	}
	rb = kvfs_rec_bufs_get(&r->bufs, blkno);
	if (!rb)
		return -ENOMEM;
	if (!rb->bp) {
		err = kv_buf_read(r->bc, blkno, nblks, NULL, &bp);
		if (err)
			return kvfs_corrupt(err, blkno, BLI_RECOVERY, "%s",
					    kv_buf_last_error());
		kvfs_rec_bufs_fill(&r->bufs, rb, bp);
		rb->lsn = rec_block_lsn(r, bp);
	}
	bp = rb->bp;
	words = kv_le16_to_cpu(h.map_words);
	if (bp->b_nblks != kv_le32_to_cpu(h.nblks) ||
	    words != map_words_for(bp->b_len) ||
	    delta_past_end(map, words, bp->b_len / KVFS_BLI_CHUNK))
		return kvfs_corrupt(
			-EUCLEAN, blkno, BLI_RECOVERY,
			"buffer delta of block %llu does not fit its %u-block buffer",
			(unsigned long long)blkno, bp->b_nblks);
	if (rb->lsn >= lsn) {
		r->st.skipped++;
		return 0;
	}
	kv_buf_lock(bp);
	for (w = 0; w < words; w++) {
		uint64_t m = delta_map_word(map, w);

		while (m) {
			size_t c = w * 64 + (unsigned)__builtin_ctzll(m);

			memcpy((uint8_t *)bp->b_addr +
				       (c << KVFS_BLI_CHUNK_SHIFT),
			       data, KVFS_BLI_CHUNK);
			data += KVFS_BLI_CHUNK;
			m &= m - 1;
		}
	}
	kv_buf_unlock(bp);
	rb->lsn = lsn;
	rb->changed = true;
	r->st.applied++;
	return 0;
}

/*
 * Release the buffers; stale: recovery failed, so what replay left in them
 * must not be cached.
 */
static void rec_release(struct bli_recovery *r, bool stale)
{
	size_t i;

	for (i = 0; i < r->bufs.cap; i++) {
		struct kv_buf *bp = r->bufs.slots[i].bp;

		if (!bp)
			continue;
		if (stale) {
			kv_buf_lock(bp);
			kv_buf_stale(bp);
			kv_buf_unlock(bp);
		}
		kv_buf_rele(bp);
	}
	kvfs_rec_bufs_reset(&r->bufs);
}

/* Stamp and write back one replayed buffer (locked). */
static int rec_write(struct bli_recovery *r, struct kvfs_rec_buf *rb)
{
	struct kv_buf *bp = rb->bp;
	const struct kv_buf_ops *ops = NULL;

	if (r->buf_type) {
		ops = r->buf_type(bp->b_addr, bp->b_len);
		if (!ops)
			return kvfs_corrupt(
				-EUCLEAN, bp->b_blkno, BLI_RECOVERY,
				"block %llu replayed into contents of no known type",
				(unsigned long long)bp->b_blkno);
		bp->b_ops = ops;
	} else {
		kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, rb->lsn);
	}
	bp->b_lsn = rb->lsn;
	return kv_buf_write(bp);
}

static int rec_finish(void *priv)
{
	return rec_write_all(priv);
}

int kvfs_bli_recover_ops(struct kv_bcache *bc, kvfs_bli_buf_type_fn buf_type,
			 const uint8_t *meta_uuid, struct kvj_recover_ops *ops)
{
	struct bli_recovery *r = kvzalloc(sizeof(*r), 0);

	memset(ops, 0, sizeof(*ops));
	if (!r)
		return -ENOMEM;
	r->bc = bc;
	r->buf_type = buf_type;
	r->meta_uuid = meta_uuid;
	r->limit = KVFS_BLI_RECOVER_LIMIT;
	ops->type = KVFS_ITEM_BUF;
	ops->scan = rec_scan;
	ops->replay = rec_replay;
	ops->finish = rec_finish;
	ops->priv = r;
	return 0;
}

void kvfs_bli_recover_free(struct kvj_recover_ops *ops)
{
	struct bli_recovery *r = ops->priv;

	if (!r)
		return;
	rec_release(r, true);
	kvfree(r->cancels);
	kvfree(r);
	ops->priv = NULL;
}

bool kvfs_bli_recover_freed_since(const struct kvj_recover_ops *ops,
				  uint64_t blkno, kvj_lsn_t lsn)
{
	return lsn && rec_cancelled_later(ops->priv, blkno, lsn - 1);
}

void kvfs_bli_recover_set_limit(struct kvj_recover_ops *ops, size_t nbufs)
{
	struct bli_recovery *r = ops->priv;

	r->limit = nbufs ? nbufs : 1;
}

void kvfs_bli_recover_get_stats(const struct kvj_recover_ops *ops,
				struct kvfs_bli_recover_stats *st)
{
	const struct bli_recovery *r = ops->priv;

	*st = r->st;
}
