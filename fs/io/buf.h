/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The metadata buffer cache.
 *
 * A buffer covers one or more consecutive filesystem blocks (a 64 KiB
 * directory block is one buffer) and is keyed by its first block number.
 * Memory comes from kvmalloc, so multi-block buffers may be vmap-backed.
 *
 * Life of a buffer: kv_buf_read()/kv_buf_get() return it held (one
 * reference), NOT locked: a lookup of a cached block takes no lock at all
 * (an RCU hash lookup and an atomic increment).  A caller that changes the
 * buffer, or needs it stable, takes kv_buf_lock().  kv_buf_rele() drops the
 * reference; an unreferenced buffer stays cached on the LRU until the
 * memory limit or the allocator's shrinker reclaims it.  Reclaim never
 * touches a buffer that is held, locked (a lock holder also holds a
 * reference), pinned, dirty or attached to a log item.
 *
 * Verification: each buffer has a type (struct kv_buf_ops).  verify_read
 * runs on every read from the device and returns 0, -EBADMSG (checksum) or
 * -EUCLEAN (anything else wrong); a failed read is not cached.
 * verify_write runs on every write-back, in place, with the buffer locked:
 * it stamps b_lsn into the header and recomputes the crc, or refuses
 * (-EUCLEAN) to write out corrupt metadata.
 *
 * Journal hooks: b_log_item belongs to the buffer log item (fs/io/buf_item.c);
 * a buffer with a log item attached is never reclaimed (detach it, under
 * the buffer lock, once the item is done with the buffer).
 * A pinned buffer (its changes are in the log but not yet durable) is never
 * written back nor reclaimed; kv_buf_write() of a pinned buffer is -EAGAIN.
 *
 * Threads using the cache are registered with urcu (memb flavour)
 * automatically on first use and unregistered at thread exit.  Other code
 * that registers threads must test URCU_TLS(urcu_memb_reader).registered
 * first (as this cache does), or a thread would be registered twice.
 *
 * Reclaim waits for an RCU grace period before freeing.  When the shrinker
 * runs in a thread that is inside an RCU read-side section (an allocation
 * made under rcu_read_lock()), it frees nothing rather than deadlock; such
 * allocations therefore cannot be satisfied from this cache.  Calls into
 * the cache itself must not be made under rcu_read_lock().
 */
#ifndef KV_FS_BUF_H
#define KV_FS_BUF_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu/rculfhash.h>

#include "alloc/kvlock.h"

struct kv_dev;
struct kv_buf;
struct kv_bcache;

struct kv_buf_ops {
	const char *name;
	int (*verify_read)(struct kv_buf *bp);
	int (*verify_write)(struct kv_buf *bp);
};

/* b_flags */
#define KV_BUF_DONE (1u << 0) /* contents valid (read or initialised) */
#define KV_BUF_DIRTY (1u << 1) /* changed since last write-back */
#define KV_BUF_STALE (1u << 2) /* block freed: no longer in the index */
#define KV_BUF_REF (1u << 3) /* used since the LRU last passed it */
#define KV_BUF_HASHED (1u << 4) /* in the index */

/*
 * Line-aligned, and a lookup's fields (the index walk's b_hnode and
 * b_blkno, and what kv_buf_peek() and the reference check read) in the
 * first cache line: a lock-free stat peeks two blocks that are seldom in
 * the CPU's caches, and each peek touched two or three lines of the
 * buffer.
 */
struct kv_buf {
	/* read-only after creation */
	uint64_t b_blkno; /* first filesystem block */
	void *b_addr; /* the contents (kvmalloc) */
	unsigned b_nblks; /* blocks covered */

	/* the cache's own */
	atomic_int b_hold; /* references; negative once dying */
	atomic_uint b_flags; /* KV_BUF_* */
	atomic_int b_pin_count;
	struct cds_lfht_node b_hnode;

	/* under the buffer lock */
	const struct kv_buf_ops *b_ops;

	/* second line on: read-only after creation */
	size_t b_len; /* bytes: b_nblks * block size */
	struct kv_bcache *b_cache;

	/* under the buffer lock */
	void *b_log_item; /* owned by the buffer log item */
	uint64_t b_lsn; /* stamped into the header by verify_write */

	/* the cache's own */
	atomic_int b_lock; /* kv_buf_lock(): 0 free, 1 held, 2 waited for */
	struct kv_buf *b_lru_prev, *b_lru_next; /* under the cache lru lock */
} __attribute__((aligned(64)));

_Static_assert(offsetof(struct kv_buf, b_ops) + sizeof(void *) <= 64,
	       "a lookup's fields of struct kv_buf in its first line");

struct kv_bcache_stats {
	uint64_t hits; /* lookups served from the cache */
	uint64_t misses; /* lookups that created a buffer */
	uint64_t reads; /* device reads */
	uint64_t writes; /* device write-backs */
	uint64_t reclaimed; /* buffers freed by the LRU limit or the shrinker */
	uint64_t verify_failures;
	uint64_t nr_cached; /* buffers in the cache now */
	uint64_t bytes_cached;
};

/*
 * A cache over dev with blocks of blksize bytes, trimmed back below
 * mem_limit bytes of buffer contents (0: no limit but the shrinker).  The
 * cache registers a KV_SHRINK_IO shrinker with kvalloc.
 */
int kv_bcache_create(struct kv_dev *dev, unsigned blksize, size_t mem_limit,
		     struct kv_bcache **bcp);
/*
 * Free every buffer without writing anything back (write back first with
 * kv_bcache_flush(); dropping dirty buffers is how tests simulate a crash).
 * No buffer may still be held.
 */
void kv_bcache_destroy(struct kv_bcache *bc);
struct kv_dev *kv_bcache_dev(const struct kv_bcache *bc);
unsigned kv_bcache_blksize(const struct kv_bcache *bc);
/*
 * The owner's pointer, for verifiers that need more than the buffer (the
 * filesystem's verifiers in fs/io/buf_ops.c find the geometry here).  Set once,
 * before the first read.
 */
void kv_bcache_set_private(struct kv_bcache *bc, void *priv);
void *kv_bcache_private(const struct kv_bcache *bc);
/*
 * The log's head for the verifiers' LSN check (fs/io/blkhdr.h
 * kvfs_blkhdr_check_lsn()): fn(priv) returns it, 0 while there is none to
 * judge by (a log being replayed, whose recovery judges LSNs itself).
 * Without fn (the tools' caches) kv_bcache_lsn_head() is 0.  Set once,
 * before the first read.
 */
void kv_bcache_set_lsn_head(struct kv_bcache *bc, uint64_t (*fn)(void *priv),
			    void *priv);
uint64_t kv_bcache_lsn_head(const struct kv_bcache *bc);
/*
 * Corruption reports (fs/io/blkhdr.h kvfs_report()) counted per cache, so
 * that each filesystem of a process counts its own: a report counts to
 * the cache its thread last looked a block up in or ran a verifier for
 * (the metadata it was reading), if that cache still exists.
 * kv_bcache_count_report() is the report path's; kv_bcache_reports() the
 * cache's count so far.
 */
void kv_bcache_count_report(void);
unsigned long kv_bcache_reports(struct kv_bcache *bc);
/*
 * The calling thread's reports count to no cache until its next lookup
 * (a filesystem being opened, whose cache does not exist yet; a new
 * cache is its creator's at once).
 */
void kv_bcache_forget(void);
void kv_bcache_get_stats(struct kv_bcache *bc, struct kv_bcache_stats *st);
/*
 * Write back every dirty, unpinned buffer in block order, then flush the
 * device.  Returns -EBUSY (after writing the rest) if pinned dirty buffers
 * remained, -ENOMEM if the list of them could not be allocated.
 */
int kv_bcache_flush(struct kv_bcache *bc);
/* Reclaim up to nr unused buffers now (the shrinker's scan); returns freed. */
size_t kv_bcache_shrink(struct kv_bcache *bc, size_t nr);

/*
 * The buffer of nblks blocks at blkno, read and verified with ops (NULL:
 * no verification) if it is not cached.  Returned held, not locked.
 * -EBADMSG/-EUCLEAN from verify_read (see kv_buf_last_error()), -EIO etc.
 * from the device, -EINVAL if blkno is cached with another length.
 */
int kv_buf_read(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		const struct kv_buf_ops *ops, struct kv_buf **bpp);
/*
 * The buffer for blocks about to be initialised whole: never read from the
 * device; a new buffer is zeroed; a cached one takes the type ops without
 * verification.  Returned held, not locked.
 */
int kv_buf_get(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
	       const struct kv_buf_ops *ops, struct kv_buf **bpp);
/*
 * kv_buf_get() for a caller that writes every byte of the blocks before
 * anyone else can look them up (blocks its transaction just allocated): a
 * new buffer is not zeroed, its memory written once instead of twice.
 */
int kv_buf_get_raw(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		   const struct kv_buf_ops *ops, struct kv_buf **bpp);
/*
 * The cached buffer at blkno, held, without any I/O: -ENOENT if it is not
 * cached, -EINVAL if cached with another length.
 */
int kv_buf_incore(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
		  struct kv_buf **bpp);
/*
 * The cached buffer at blkno, of nblks blocks, read and verified with ops,
 * for a lock-free reader: no reference is taken, the caller must be in an
 * RCU read-side section (the exception to "not under rcu_read_lock()"
 * above) and may read the contents until it leaves it, which may be
 * changing meanwhile.  NULL if not cached so (absent, being read, stale,
 * dying, another length or type): read it the usual way then.
 */
struct kv_buf *kv_buf_peek(struct kv_bcache *bc, uint64_t blkno, unsigned nblks,
			   const struct kv_buf_ops *ops);
/*
 * The buffer cache's free epoch, for a lock-free reader that keeps a
 * buffer kv_buf_peek() found past its RCU section: read before that
 * kv_buf_peek(), inside the same section.  The epoch moves after every
 * free and after every reclaim pass that took a buffer's second chance
 * (cleared its mark of use).  A keeper that knows by its own means that
 * the block was neither freed (made stale) nor retyped since (a
 * directory's blocks while the directory's i_lock_seq holds,
 * fs/ns/dir_rcu.c) and finds the epoch, read in its current section,
 * still the one it kept may use the contents without reading the
 * buffer: not freed before rcu_read_unlock(), and still marked used as
 * kv_buf_peek() marked it.
 */
uint64_t kv_buf_peek_epoch(struct kv_bcache *bc);
/* An extra reference on a buffer already held. */
void kv_buf_hold(struct kv_buf *bp);
void kv_buf_rele(struct kv_buf *bp);

/* the macros pass the caller's site to the rank check (alloc/lockrank.h) */
void kv_buf_lock_(struct kv_buf *bp KV_LD_DECL);
bool kv_buf_trylock_(struct kv_buf *bp KV_LD_DECL);
void kv_buf_unlock_(struct kv_buf *bp KV_LD_DECL);
#define kv_buf_lock(bp) kv_buf_lock_(bp KV_LD_SITE)
#define kv_buf_trylock(bp) kv_buf_trylock_(bp KV_LD_SITE)
#define kv_buf_unlock(bp) kv_buf_unlock_(bp KV_LD_SITE)

/* Under the buffer lock: the contents changed and must be written back. */
void kv_buf_mark_dirty(struct kv_buf *bp);
bool kv_buf_is_dirty(const struct kv_buf *bp);
/*
 * Write one locked, held buffer back in place: verify_write (stamps b_lsn,
 * recomputes the crc), then the device write; clears DIRTY on success.
 * -EAGAIN if pinned; a stale buffer is not written (returns 0).
 */
int kv_buf_write(struct kv_buf *bp);
/*
 * An error of kv_buf_write() that a later attempt may not meet: pinned
 * (-EAGAIN), or the host short of memory for the write (-ENOMEM,
 * -ENOBUFS: an image file's page cache under memory pressure).  Write-back
 * retries these, as XFS retries failed metadata writes, instead of
 * shutting the filesystem down.
 */
static inline bool kv_buf_write_transient(int err)
{
	return err == -EAGAIN || err == -ENOMEM || err == -ENOBUFS;
}
/*
 * An error of kv_buf_write() for want of room: a sparse image's host
 * filesystem full (-ENOSPC, or the host's quota, -EDQUOT).  Write-back
 * keeps the item and tries again (KVJ_PUSH_NOSPACE): the log holds the
 * change, and space freed on the host lets the mount go on where a
 * shut-down log had refused every call.
 */
static inline bool kv_buf_write_nospace(int err)
{
	return err == -ENOSPC || err == -EDQUOT;
}
/*
 * The block was freed: the buffer leaves the index (later lookups read the
 * device afresh), its dirty state is dropped, and it is reclaimed once
 * released.  Under the buffer lock.
 */
void kv_buf_stale(struct kv_buf *bp);

/*
 * Pins are taken by the journal on a held buffer; a pin holds its own
 * reference, dropped by the matching unpin.
 */
void kv_buf_pin(struct kv_buf *bp);
void kv_buf_unpin(struct kv_buf *bp);
bool kv_buf_is_pinned(const struct kv_buf *bp);

/*
 * This thread's description of its last failed buffer read or verification
 * ("block 41: test_block verify_read: Bad message (crc 0x... != 0x...)"),
 * or "" if none.
 */
const char *kv_buf_last_error(void);
/*
 * For verifiers: say what was wrong (the part in parentheses above) and
 * return err, as in `return kv_buf_corrupt(bp, -EUCLEAN, "magic %x", m);`.
 */
int kv_buf_corrupt(struct kv_buf *bp, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
