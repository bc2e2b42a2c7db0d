// SPDX-License-Identifier: GPL-2.0
/*
 * Slab caches: the kmalloc size classes (8 B .. 8 KiB) and named
 * fixed-size object caches.  A slab is a buddy block carved into objects;
 * its state lives in the descriptor of its head page, every page of it
 * points at the owning cache.  Threads allocate from and free to per-thread
 * magazines (no lock); only refills and drains, in batches, take the
 * cache lock.
 *
 * Locks:
 *   named_lock protects named[] (the registry of named caches).
 *   kv_cache.lock ("slab") protects the cache's partial list and the slab
 *   state in the head descriptors of its slabs.
 *   Order: named_lock -> kv_cache.lock -> kv.buddy_lock.  No slab lock is
 *   held while allocating a new slab (which may reclaim).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "alloc/internal.h"

static const uint32_t class_size[KV_NR_CLASSES] = {
	8,    16,   32,	  48,	64,   80,   96,	  112,	128,  160,  192,
	224,  256,  320,  384,	448,  512,  640,  768,	896,  1024, 1280,
	1536, 1792, 2048, 2560, 3072, 3584, 4096, 5120, 6144, 7168, 8192,
};

struct kv_cache kv_classes[KV_NR_CLASSES];
uint8_t kv_class_small[1024 / 8 + 1];
uint8_t kv_class_big[KV_SLAB_MAX / 128 + 1];

static pthread_mutex_t named_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kv_cache *named[KV_NAMED_MAX];

struct kv_cache *kv_cache_by_id(unsigned id)
{
	return id < KV_NR_CLASSES ? &kv_classes[id] : named[id - KV_NR_CLASSES];
}

static void cache_setup(struct kv_cache *c, const char *name, uint32_t size,
			uint32_t id)
{
	uint32_t o;

	memset(c, 0, sizeof(*c));
	kv_mutex_init(&c->lock, kv.lc_slab);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->size = size;
	c->id = id;
	c->partial = KV_PFN_NONE;
	for (o = 0; (KV_PAGE_SIZE << o) < size; o++)
		;
	c->min_order = o;
	/* aim for 8 objects a slab, within the cheap orders */
	for (o = 0; o < KV_COSTLY_ORDER && (KV_PAGE_SIZE << o) / size < 8; o++)
		;
	c->order = o > c->min_order ? o : c->min_order;
	/* a magazine holds about kv.mag_bytes, and at least 4 objects */
	c->mag_max = kv.mag_bytes / size;
	if (c->mag_max > KV_MAG_MAX)
		c->mag_max = KV_MAG_MAX;
	if (c->mag_max < 4)
		c->mag_max = 4;
}

void kv_slab_init(void)
{
	unsigned i, c = 0;
	char name[24];

	for (i = 0; i <= 1024 / 8; i++) {
		while (class_size[c] < i * 8)
			c++;
		kv_class_small[i] = (uint8_t)c;
	}
	for (i = 0; i <= KV_SLAB_MAX / 128; i++) {
		while (class_size[c] < i * 128)
			c++;
		kv_class_big[i] = (uint8_t)c;
	}
	for (i = 0; i < KV_NR_CLASSES; i++) {
		snprintf(name, sizeof(name), "kmalloc-%u", class_size[i]);
		cache_setup(&kv_classes[i], name, class_size[i], i);
	}
}

static void partial_add(struct kv_cache *c, uint32_t pfn)
{
	struct kv_page *h = &kv.desc[pfn];

	h->prev = KV_PFN_NONE;
	h->next = c->partial;
	if (c->partial != KV_PFN_NONE)
		kv.desc[c->partial].prev = pfn;
	c->partial = pfn;
	c->nr_partial++;
}

static void partial_del(struct kv_cache *c, uint32_t pfn)
{
	struct kv_page *h = &kv.desc[pfn];

	if (h->prev != KV_PFN_NONE)
		kv.desc[h->prev].next = h->next;
	else
		c->partial = h->next;
	if (h->next != KV_PFN_NONE)
		kv.desc[h->next].prev = h->prev;
	c->nr_partial--;
}

/* A fresh slab, not yet on the partial list.  No lock held. */
static uint32_t slab_new(struct kv_cache *c, kv_gfp_t gfp)
{
	unsigned order = c->order, i;
	uint32_t pfn = KV_PFN_NONE;
	struct kv_page *h;

	/* the preferred order is opportunistic: never reclaim for it */
	if (order > c->min_order)
		pfn = kv_page_try(order);
	if (pfn == KV_PFN_NONE) {
		order = c->min_order;
		pfn = kv_pages_get(order, gfp);
		if (pfn == KV_PFN_NONE)
			return pfn;
	}
	for (i = 0; i < 1u << order; i++) {
		struct kv_page *d = &kv.desc[pfn + i];

		kv_pg_set_state(d, KV_PG_SLAB);
		d->cache = c;
		d->head = pfn;
	}
	h = &kv.desc[pfn];
	h->order = (uint8_t)order;
	h->nobj = (uint32_t)((KV_PAGE_SIZE << order) / c->size);
	h->inuse = 0;
	h->bump = 0;
	h->freelist = NULL;
	return pfn;
}

/* Empty slab back to the buddy.  c->lock held. */
static void slab_release(struct kv_cache *c, uint32_t pfn)
{
	unsigned n = 1u << kv.desc[pfn].order, i;

	for (i = 0; i < n; i++)
		kv_pg_set_state(&kv.desc[pfn + i], KV_PG_NONE);
	__atomic_store_n(&c->nr_slab_pages, c->nr_slab_pages - n,
			 __ATOMIC_RELAXED);
	/* straight to the buddy: shrinking must not refill thread caches */
	kv_buddy_free(pfn, kv.desc[pfn].order);
}

static unsigned slab_refill(struct kv_cache *c, void **out, unsigned want,
			    kv_gfp_t gfp)
{
	unsigned got = 0;

	kv_mutex_lock(&c->lock);
	while (got < want) {
		struct kv_page *h;
		uint32_t pfn = c->partial;

		if (pfn == KV_PFN_NONE) {
			if (got)
				break;
			kv_mutex_unlock(&c->lock);
			pfn = slab_new(c, gfp);
			if (pfn == KV_PFN_NONE)
				return 0;
			kv_mutex_lock(&c->lock);
			__atomic_store_n(&c->nr_slab_pages,
					 c->nr_slab_pages +
						 (1u << kv.desc[pfn].order),
					 __ATOMIC_RELAXED);
			partial_add(c, pfn);
			continue;
		}
		h = &kv.desc[pfn];
		while (got < want && h->inuse < h->nobj) {
			void *obj = h->freelist;

			if (obj) {
				kv_unpoison(obj, sizeof(void *));
				h->freelist = *(void **)obj;
				kv_poison(obj, sizeof(void *));
			} else
				obj = (char *)kv_page_addr(pfn) +
				      (size_t)h->bump++ * c->size;
			h->inuse++;
			out[got++] = obj;
		}
		if (h->inuse == h->nobj)
			partial_del(c, pfn);
	}
	kv_mutex_unlock(&c->lock);
	return got;
}

void *kv_slab_alloc_slow(struct kv_cache *c, kv_gfp_t gfp)
{
	void *batch[KV_MAG_MAX];
	struct kv_tcache *tc;
	struct kv_mag *m;
	unsigned n;
	void *obj;

	if (!kv.ready)
		return NULL;
	tc = kv_tcache();
	kv_tcache_check_drain(tc);
	m = &tc->mag[c->id];
	if (m->count)
		return m->obj[--m->count];
	n = slab_refill(c, batch, c->mag_max / 2, gfp);
	if (!n)
		return NULL;
	obj = batch[--n];
	/* reclaim during the refill may have drained the magazine: refill it */
	while (n && m->count < c->mag_max)
		m->obj[m->count++] = batch[--n];
	if (n)
		kv_slab_free_batch(c, batch, n);
	return obj;
}

void kv_slab_free_batch(struct kv_cache *c, void **obj, unsigned n)
{
	unsigned i;

	kv_mutex_lock(&c->lock);
	for (i = 0; i < n; i++) {
		uint32_t pfn = kv.desc[kv_pfn(obj[i])].head;
		struct kv_page *h = &kv.desc[pfn];

		if (h->inuse == h->nobj)
			partial_add(c, pfn);
		kv_unpoison(obj[i], sizeof(void *));
		*(void **)obj[i] = h->freelist;
		kv_poison(obj[i], sizeof(void *));
		h->freelist = obj[i];
		if (--h->inuse == 0 && c->nr_partial > 1) {
			partial_del(c, pfn);
			slab_release(c, pfn);
		}
	}
	kv_mutex_unlock(&c->lock);
}

void kv_slab_free_slow(struct kv_cache *c, void *obj)
{
	struct kv_tcache *tc = kv_tcache();
	struct kv_mag *m = &tc->mag[c->id];
	unsigned half;

	kv_tcache_check_drain(tc);
	half = m->count / 2;
	if (m->count >= c->mag_max) {
		kv_slab_free_batch(c, m->obj, half);
		memmove(m->obj, m->obj + half,
			(m->count - half) * sizeof(m->obj[0]));
		m->count -= half;
	}
	m->obj[m->count++] = obj;
}

static void cache_shrink(struct kv_cache *c)
{
	uint32_t pfn, next;

	kv_mutex_lock(&c->lock);
	for (pfn = c->partial; pfn != KV_PFN_NONE; pfn = next) {
		next = kv.desc[pfn].next;
		if (kv.desc[pfn].inuse == 0) {
			partial_del(c, pfn);
			slab_release(c, pfn);
		}
	}
	kv_mutex_unlock(&c->lock);
}

/* Return every empty slab to the buddy. */
void kv_slab_shrink(void)
{
	unsigned i;

	for (i = 0; i < KV_NR_CLASSES; i++)
		cache_shrink(&kv_classes[i]);
	pthread_mutex_lock(&named_lock);
	for (i = 0; i < KV_NAMED_MAX; i++)
		if (named[i])
			cache_shrink(named[i]);
	pthread_mutex_unlock(&named_lock);
}

uint64_t kv_slab_pages(void)
{
	uint64_t n = 0;
	unsigned i;

	for (i = 0; i < KV_NR_CLASSES; i++)
		n += __atomic_load_n(&kv_classes[i].nr_slab_pages,
				     __ATOMIC_RELAXED);
	pthread_mutex_lock(&named_lock);
	for (i = 0; i < KV_NAMED_MAX; i++)
		if (named[i])
			n += __atomic_load_n(&named[i]->nr_slab_pages,
					     __ATOMIC_RELAXED);
	pthread_mutex_unlock(&named_lock);
	return n;
}

/* kv_fini(): slabs still holding objects after every magazine drained. */
void kv_slab_report_leaks(unsigned *nr)
{
	uint32_t pfn;

	for (pfn = 0; pfn < kv.npages; pfn++) {
		struct kv_page *d = &kv.desc[pfn];

		if (kv_pg_state(d) != KV_PG_SLAB || d->head != pfn || !d->inuse)
			continue;
		kv_report(
			KV_REPORT_WARN,
			"kvalloc: leak: %u object(s) of %.23s (%u bytes) in slab %p",
			d->inuse, d->cache->name, d->cache->size,
			kv_page_addr(pfn));
		*nr += d->inuse;
	}
}

void kv_slab_fini(void)
{
	unsigned i;

	pthread_mutex_lock(&named_lock);
	for (i = 0; i < KV_NAMED_MAX; i++) {
		if (named[i])
			kv_mutex_destroy(&named[i]->lock);
		named[i] = NULL;
	}
	pthread_mutex_unlock(&named_lock);
	for (i = 0; i < KV_NR_CLASSES; i++)
		kv_mutex_destroy(&kv_classes[i].lock);
}

struct kv_cache *kv_cache_create(const char *name, size_t size, size_t align)
{
	struct kv_cache *c;
	unsigned i;

	if (!kv.ready || !name)
		return NULL;
	if (!align)
		align = 8;
	if (align & (align - 1) || align > KV_PAGE_SIZE)
		return NULL;
	if (size < 8)
		size = 8;
	size = (size + align - 1) & ~(align - 1);
	if (size > (KV_PAGE_SIZE << KV_COSTLY_ORDER))
		return NULL;
	c = kv_slab_alloc(kv_size_cache(sizeof(*c)), 0);
	if (!c)
		return NULL;
	kv_unpoison(c, sizeof(*c));
	pthread_mutex_lock(&named_lock);
	for (i = 0; i < KV_NAMED_MAX && named[i]; i++)
		;
	if (i == KV_NAMED_MAX) {
		pthread_mutex_unlock(&named_lock);
		kv_poison(c, kv_size_cache(sizeof(*c))->size);
		kv_slab_free(kv_size_cache(sizeof(*c)), c);
		return NULL;
	}
	cache_setup(c, name, (uint32_t)size, KV_NR_CLASSES + i);
	named[i] = c;
	pthread_mutex_unlock(&named_lock);
	return c;
}

void *kv_cache_alloc(struct kv_cache *c, kv_gfp_t flags)
{
	kv_gfp_t gfp = kv_current_gfp(flags);
	unsigned old = kv_ctx_enter(gfp);
	void *p = kv_slab_alloc(c, gfp);

	kv_ctx_leave(old);
	if (likely(p)) {
		kv_unpoison(p, c->size);
		kv_tstat_add(kv_tc, KV_T_SLAB_ALLOC, 1);
		if (gfp & KV_ZERO)
			memset(p, 0, c->size);
	} else {
		kv_alloc_failed(c->size, gfp);
	}
	return p;
}

void kv_cache_free(struct kv_cache *c, void *obj)
{
	if (!obj)
		return;
	kv_poison(obj, c->size);
	kv_slab_free(c, obj);
	kv_tstat_add(kv_tc, KV_T_SLAB_FREE, 1);
}

void kv_cache_destroy(struct kv_cache *c)
{
	unsigned id;

	if (!c)
		return;
	id = c->id - KV_NR_CLASSES;
	kv_tcache_drain_slot(c->id);
	cache_shrink(c);
	if (c->partial != KV_PFN_NONE || c->nr_slab_pages)
		kv_report(KV_REPORT_WARN,
			  "kvalloc: cache %s destroyed with objects in use",
			  c->name);
	pthread_mutex_lock(&named_lock);
	named[id] = NULL;
	pthread_mutex_unlock(&named_lock);
	kv_mutex_destroy(&c->lock);
	kv_poison(c, kv_size_cache(sizeof(*c))->size);
	kv_slab_free(kv_size_cache(sizeof(*c)), c);
}
