// SPDX-License-Identifier: GPL-2.0
/*
 * Open references by inode number (see fs/inode/openref.h for the contract).
 *
 * A hash of 64 stripes, each a mutex over chained buckets that double when
 * the stripe's count passes them; the bucket arrays come from kvmalloc (a
 * large one takes its vmap path), the entries from a slab cache.
 * Allocations are NOFS (callers hold an inode lock); an entry waits for
 * memory (NOFAIL, as an in-core inode does: an open fails for no want of
 * memory, and a tmpfile takes one inside its dirty transaction), a larger
 * bucket array does not (the chains grow longer meanwhile).
 *
 * The last put of an open inode without links asks whether it is still
 * open on every read and write that holds no other reference (a tmpfile
 * read by number): kvfs_openref_held_hint() answers "held" from a hint the
 * inode keeps (such an inode stays cached) while its stripe has removed
 * nothing since the hint was taken, without the stripe's lock.
 *
 * Locks: stripe->lock protects the stripe's buckets, entries and count; a
 * leaf among the filesystem's locks, taken under inode locks and under AG
 * and buffer locks (inactivation asks kvfs_openref_held()), never two at
 * once; only the allocator's locks and its shrinkers' come after it.
 */
#include "fs/inode/openref.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "alloc/kvalloc.h"
#include "alloc/lockrank.h"

#define OPENREF_STRIPES 64
/* each stripe's first buckets, so that a new entry never needs more */
#define OPENREF_BUCKETS0 16

struct openref {
	struct openref *next;
	uint64_t ino;
	uint64_t count;
};

struct stripe {
	pthread_mutex_t lock;
	struct openref **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
	/*
	 * Entries removed so far, moved under the lock before each removal,
	 * read without it by kvfs_openref_held_hint(): an entry seen while
	 * it read r is there for as long as it still reads r.
	 */
	atomic_uint_fast64_t removals;
} __attribute__((aligned(64)));

struct kvfs_openrefs {
	struct kv_cache *cache;
	atomic_uint_fast64_t nr;
	struct stripe st[OPENREF_STRIPES];
};

static uint64_t ino_hash(uint64_t ino)
{
	return ino * 0x9e3779b97f4a7c15ull;
}

static struct stripe *stripe_of(struct kvfs_openrefs *refs, uint64_t ino)
{
	return &refs->st[ino_hash(ino) >> 58];
}

static struct openref **bucket_of(struct stripe *s, uint64_t ino)
{
	return &s->buckets[ino_hash(ino) & (s->nbuckets - 1)];
}

/* The link that points at ino's entry (NULL if none). */
static struct openref **find(struct stripe *s, uint64_t ino)
{
	struct openref **pp;

	for (pp = bucket_of(s, ino); *pp; pp = &(*pp)->next)
		if ((*pp)->ino == ino)
			return pp;
	return NULL;
}

/* Double the buckets, if memory comes at once: chains stay short. */
static void grow(struct stripe *s)
{
	size_t old = s->nbuckets, n = old * 2;
	struct openref **nb =
		kvcalloc(n, sizeof(*nb), KV_NOFS | KV_NORETRY | KV_NOWARN);
	struct openref **ob = s->buckets;

	if (!nb)
		return;
	s->buckets = nb;
	s->nbuckets = n;
	for (size_t i = 0; i < old; i++) {
		struct openref *e = ob[i], *next;

		for (; e; e = next) {
			struct openref **b = bucket_of(s, e->ino);

			next = e->next;
			e->next = *b;
			*b = e;
		}
	}
	kvfree(ob);
}

int kvfs_openrefs_create(struct kvfs_openrefs **refsp)
{
	struct kvfs_openrefs *refs = kvzalloc(sizeof(*refs), 0);

	if (!refs)
		return -ENOMEM;
	for (int i = 0; i < OPENREF_STRIPES; i++)
		pthread_mutex_init(&refs->st[i].lock, NULL);
	refs->cache = kv_cache_create("kvfs_openref", sizeof(struct openref),
				      _Alignof(struct openref));
	if (!refs->cache)
		goto fail;
	for (int i = 0; i < OPENREF_STRIPES; i++) {
		struct stripe *s = &refs->st[i];

		s->buckets = kvcalloc(OPENREF_BUCKETS0, sizeof(*s->buckets), 0);
		if (!s->buckets)
			goto fail;
		s->nbuckets = OPENREF_BUCKETS0;
	}
	*refsp = refs;
	return 0;
fail:
	kvfs_openrefs_destroy(refs);
	return -ENOMEM;
}

void kvfs_openrefs_destroy(struct kvfs_openrefs *refs)
{
	if (!refs)
		return;
	for (int i = 0; i < OPENREF_STRIPES; i++) {
		struct stripe *s = &refs->st[i];

		for (size_t j = 0; j < s->nbuckets; j++) {
			struct openref *e = s->buckets[j], *next;

			for (; e; e = next) {
				next = e->next;
				kv_cache_free(refs->cache, e);
			}
		}
		kvfree(s->buckets);
		pthread_mutex_destroy(&s->lock);
	}
	if (refs->cache)
		kv_cache_destroy(refs->cache);
	kvfree(refs);
}

void kvfs_openref_get(struct kvfs_openrefs *refs, uint64_t ino)
{
	struct stripe *s = stripe_of(refs, ino);
	struct openref **pp, *e;

	kv_lockdep_lock(&s->lock, KV_RANK_OPENREF, 0);
	pthread_mutex_lock(&s->lock);
	pp = find(s, ino);
	if (pp) {
		(*pp)->count++;
		goto out;
	}
	if (s->count >= s->nbuckets)
		grow(s);
	e = kv_cache_alloc(refs->cache, KV_NOFS | KV_NOFAIL);
	e->ino = ino;
	e->count = 1;
	e->next = *bucket_of(s, ino);
	*bucket_of(s, ino) = e;
	s->count++;
	atomic_fetch_add(&refs->nr, 1);
out:
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
}

int64_t kvfs_openref_put(struct kvfs_openrefs *refs, uint64_t ino)
{
	struct stripe *s = stripe_of(refs, ino);
	struct openref **pp, *e = NULL;
	int64_t left = -ENOENT;

	kv_lockdep_lock(&s->lock, KV_RANK_OPENREF, 0);
	pthread_mutex_lock(&s->lock);
	pp = find(s, ino);
	if (pp) {
		left = (int64_t)--(*pp)->count;
		if (!left) {
			atomic_fetch_add(&s->removals, 1);
			e = *pp;
			*pp = e->next;
			s->count--;
			atomic_fetch_sub(&refs->nr, 1);
		}
	}
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	if (e)
		kv_cache_free(refs->cache, e);
	return left;
}

bool kvfs_openref_held(struct kvfs_openrefs *refs, uint64_t ino)
{
	struct stripe *s = stripe_of(refs, ino);
	bool held;

	kv_lockdep_lock(&s->lock, KV_RANK_OPENREF, 0);
	pthread_mutex_lock(&s->lock);
	held = find(s, ino) != NULL;
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	return held;
}

bool kvfs_openref_held_hint(struct kvfs_openrefs *refs, uint64_t ino,
			    _Atomic uint64_t *hint)
{
	struct stripe *s = stripe_of(refs, ino);
	uint64_t h = atomic_load(hint), r;
	bool held;

	/* held when the hint was taken, and nothing removed since */
	if (h && h >> 1 == atomic_load(&s->removals))
		return true;
	kv_lockdep_lock(&s->lock, KV_RANK_OPENREF, 0);
	pthread_mutex_lock(&s->lock);
	held = find(s, ino) != NULL;
	r = atomic_load_explicit(&s->removals, memory_order_relaxed);
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	/* a hint stored late is stale at once: removals only grow */
	if (held)
		atomic_store(hint, r << 1 | 1);
	return held;
}

uint64_t kvfs_openrefs_count(struct kvfs_openrefs *refs)
{
	return atomic_load(&refs->nr);
}
