/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hash of the 64-bit keys (block and inode numbers) of the core's
 * rculfhash tables: the buffer cache (fs/io/buf.c) and the inode cache
 * (fs/inode/icache.c).  rculfhash splits its buckets on the reversed hash
 * bits, so every bit a split reads must depend on the whole key: murmur3's
 * finaliser (the inode cache's keeps a chunk's low bits: kvfs_ino_hash()).
 *
 * Their growth: kvfs_ht_grow() doubles a table (made without
 * CDS_LFHT_AUTO_RESIZE) when it holds more nodes than it has buckets, so
 * chains stay short.  rculfhash's own resizing either let them reach 8
 * (CDS_LFHT_ACCOUNTING grows at 8 nodes a bucket) or, without accounting,
 * grew on any chain of 3, which random keys make common long before a
 * table is full: 40 000 cached inodes had 2 million buckets.  Never
 * shrunk.  The resize itself runs on the table's own thread (fs/hash.c),
 * started at the first growth: cds_lfht_resize() is synchronous, and a
 * create that crossed a million inodes waited 0.2 s for it.  Lookups and
 * inserts go on meanwhile, the chains a little longer until it is done.
 */
#ifndef KV_FS_HASH_H
#define KV_FS_HASH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <urcu.h> /* the flavour whose cds_lfht_new() the tables use */
#include <urcu/rculfhash.h>

static inline unsigned long kvfs_hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return (unsigned long)k;
}

/*
 * The inode cache's hash: an inode's index in its 64-inode chunk (chunks
 * are aligned: fs/inode/ialloc.c) is kept as the low bits, the rest is the
 * finaliser of the chunk's number.  A table has at least 64 buckets, so a
 * chunk's inodes take 64 neighbouring buckets (1 KiB of them), which the
 * consecutive inodes a create, stat or unlink loop visits find in the same
 * cache lines: with every bit mixed each lookup missed on its own line.
 * Every bit a split of a table of 64 buckets or more reads (bit 6 up) still
 * depends on the whole chunk number, so chunks spread as random keys and
 * chains stay as short (tests/inode/test_ihash.c).
 */
static inline unsigned long kvfs_ino_hash(uint64_t ino)
{
	return (kvfs_hash64(ino & ~63ull) & ~63ul) | (unsigned long)(ino & 63);
}

/*
 * Locks: lock protects the fields after it, a leaf (rculfhash's resize
 * mutex under it only where no thread could be started and the caller
 * resizes).
 */
struct kvfs_ht_size {
	atomic_size_t size; /* buckets asked of the table */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* the thread's work, and a resize done */
	struct cds_lfht *ht;
	pthread_t thread;
	bool started; /* thread runs: joined at kvfs_ht_destroy() */
	bool stop;
	size_t resized; /* buckets of the last resize finished */
};

#define KVFS_HT_MIN_BUCKETS 1024

/* A table for kvfs_ht_grow(), its size in *s: NULL if out of memory. */
struct cds_lfht *kvfs_ht_new(struct kvfs_ht_size *s);

/* Stop the table's thread, then free the table (no node left in it). */
void kvfs_ht_destroy(struct kvfs_ht_size *s);

/* The thread's part of kvfs_ht_grow(): resize to s->size. */
void kvfs_ht_kick(struct kvfs_ht_size *s);

/* Wait until the table has the buckets asked of it (tests). */
void kvfs_ht_settle(struct kvfs_ht_size *s);

/*
 * nr nodes are in s's table now: the thread that crosses the size asks
 * for twice the buckets and goes on.  Callable from any thread, in or out
 * of an RCU read-side section.
 */
static inline void kvfs_ht_grow(struct kvfs_ht_size *s, size_t nr)
{
	size_t size = atomic_load_explicit(&s->size, memory_order_relaxed);

	if (__builtin_expect(nr <= size, 1))
		return;
	if (!atomic_compare_exchange_strong(&s->size, &size, 2 * size))
		return;
	kvfs_ht_kick(s);
}

#endif
