// SPDX-License-Identifier: GPL-2.0
/*
 * The vmap path: order-0 arena pages mapped into one contiguous range of a
 * reserved virtual window with mmap(MAP_FIXED|MAP_SHARED) over the memfd,
 * so the same memory is visible through the direct map and the vmap address.
 *
 * The window is split into zones, each with its own lock, free-range index
 * (sorted array, coalescing), busy index (hash by start address), lazy list
 * and a cache of freed, still-mapped areas.  A thread allocates from
 * its home zone (assigned round-robin) and steals from the others only when
 * the home zone has no room; a free finds its zone by address arithmetic.
 * In debug builds every range is followed by one never-mapped guard page;
 * release builds pack areas back to back, so that neighbouring mappings of
 * consecutive memfd offsets merge into one kernel VMA (vm.max_map_count
 * would otherwise cap the number of live areas near 32k).
 *
 * The area cache is what makes steady-state traffic cheap: a hit maps
 * nothing, faults nothing and takes no page.  Cached areas sit on one list
 * per size class (the power of two their page count rounds up to; kvmalloc
 * rounds its vmap sizes to exactly that) and on the zone's LRU list; the
 * least recently freed go first when the zone's share of the budget or its
 * entry limit is reached.  Their pages stay counted as used: reclaim gives
 * them back (kv_vmap_purge()) before any shrinker runs, and so do
 * kv_drain_caches() and kv_fini().
 *
 * Unmapping is lazy: freed ranges queue on the zone's lazy list and are
 * purged in batches (sorted, coalesced, one mmap(PROT_NONE, MAP_FIXED) per
 * run) before going back to the free index.  The list is bounded: a free
 * that might overrun it (frees racing with a purge) purges first.  A freed
 * area's pages go back to the buddy before the purge; debug builds unmap
 * its range first, so a stale pointer faults rather than writes into them.
 *
 * Every mmap run is a kernel VMA, and vm.max_map_count (65530 by default)
 * caps them for the whole process: kv.vmaps counts the runs of live, cached
 * and lazy areas, and crossing kv.vmap_limit (a quarter of the limit left
 * for the rest of the process) purges lazy and cached areas first, then
 * treats the window as full, so the allocator never starves thread
 * creation or anybody else's mmap.
 *
 * Locks:
 *   kv_vzone.purge_lock ("vmap_purge") serialises purges of one zone and
 *   owns the zone's spare lazy buffer.  Taken before the zone lock; evicted
 *   areas' pages and descriptors are freed under it alone
 *   (vmap_purge -> slab -> buddy).
 *   kv_vzone.lock ("vmap_zone") protects the zone's free index, busy hash,
 *   lazy list and area cache (class and LRU lists), and its counters but
 *   maps (atomic).  Only bookkeeping happens
 *   under it: no mmap, no page allocation, no reclaim.  It is never held
 *   together with another zone's lock; the buddy lock is never taken under
 *   it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/internal.h"

#define VHASH_SIZE 4096
/* cached areas per zone, whatever their size */
#ifdef KV_VMAP_CACHE_MAX
#define VCACHE_MAX KV_VMAP_CACHE_MAX
#else
#define VCACHE_MAX 128
#endif
/* pages cached per zone at most (also capped at a quarter of the budget) */
#define VCACHE_PAGES 16384
/* size classes: areas of 1, 2, 3..4, .. 8193..16384 pages */
#define VCLASSES 15
/* cached areas a lookup examines per class */
#define VCACHE_SCAN 8
/* entries of a zone's free index and of its lazy list */
#ifdef KV_VMAP_RANGES_MAX
#define RANGES_MAX KV_VMAP_RANGES_MAX
#else
#define RANGES_MAX (1u << 20)
#endif
/* lazy entries one free may add: its area and the cached areas it evicts */
#define LAZY_PER_FREE (VCACHE_MAX + 1)
_Static_assert(RANGES_MAX >= 2 * LAZY_PER_FREE, "room for two frees");
#define DEFAULT_WINDOW ((size_t)16 << 30)
#define DEFAULT_PURGE_BATCH 8192
#ifdef KV_DEBUG
#define GUARD_PAGES 1
#else
#define GUARD_PAGES 0
#endif

struct kv_vlink {
	struct kv_vlink *next, *prev;
};

struct kv_varea {
	struct kv_varea *hnext; /* busy hash; chain of evicted areas */
	struct kv_vlink cls, lru; /* while cached */
	uintptr_t addr;
	uint32_t npages;
	uint32_t nmaps; /* mmap runs (kernel VMAs) mapping it */
	uint32_t pfn[];
};

struct kv_range {
	uintptr_t start;
	size_t len;
	uint64_t nmaps; /* lazy ranges: mmap runs that mapped it */
};

struct kv_vzone {
	struct kv_mutex lock;
	struct kv_mutex purge_lock;
	uintptr_t start;
	struct kv_range *free;
	uint32_t nr_free;
	struct kv_range *lazy;
	uint32_t nr_lazy;
	uint32_t lazy_max; /* most entries the lazy list ever held */
	size_t lazy_pages;
	struct kv_range *spare; /* under purge_lock */
	struct kv_varea **hash;
	struct kv_vlink cls[VCLASSES]; /* newest first */
	struct kv_vlink lru; /* newest first */
	uint32_t nr_cache;
	size_t cache_pages;
	size_t cache_limit;
	uint64_t allocs, frees, purges, purged, hits;
	uint64_t maps; /* mmap calls mapping areas */
} __attribute__((aligned(64)));

_Static_assert(1u << (VCLASSES - 1) == VCACHE_PAGES, "a class per order");

static unsigned zone_rr;

static void *map_anon(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static void range_remove(struct kv_vzone *z, uint32_t i)
{
	memmove(&z->free[i], &z->free[i + 1],
		(z->nr_free - i - 1) * sizeof(z->free[0]));
	z->nr_free--;
}

static bool range_insert_at(struct kv_vzone *z, uint32_t i, uintptr_t start,
			    size_t len)
{
	if (z->nr_free == RANGES_MAX)
		return false;
	memmove(&z->free[i + 1], &z->free[i],
		(z->nr_free - i) * sizeof(z->free[0]));
	z->free[i].start = start;
	z->free[i].len = len;
	z->nr_free++;
	return true;
}

/* Return a range to the free index, merging with its neighbours. */
static void range_free(struct kv_vzone *z, uintptr_t start, size_t len)
{
	uint32_t lo = 0, hi = z->nr_free;
	bool prev, next;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (z->free[mid].start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	prev = lo > 0 && z->free[lo - 1].start + z->free[lo - 1].len == start;
	next = lo < z->nr_free && start + len == z->free[lo].start;
	if (prev && next) {
		z->free[lo - 1].len += len + z->free[lo].len;
		range_remove(z, lo);
	} else if (prev) {
		z->free[lo - 1].len += len;
	} else if (next) {
		z->free[lo].start = start;
		z->free[lo].len += len;
	} else if (!range_insert_at(z, lo, start, len)) {
		/* a million fragments: give up this bit of address space */
		kv_report(KV_REPORT_WARN, "kvalloc: vmap free index full");
	}
}

/* First fit with alignment; 0 if the zone has no room. */
static uintptr_t range_alloc(struct kv_vzone *z, size_t len, size_t align)
{
	uint32_t i;

	for (i = 0; i < z->nr_free; i++) {
		struct kv_range *r = &z->free[i];
		uintptr_t s = (r->start + align - 1) & ~(uintptr_t)(align - 1);
		uintptr_t end = r->start + r->len;
		size_t head, tail;

		if (s < r->start || s > end || end - s < len)
			continue;
		head = s - r->start;
		tail = end - (s + len);
		if (!head && !tail) {
			range_remove(z, i);
		} else if (!head) {
			r->start += len;
			r->len -= len;
		} else {
			r->len = head;
			if (tail && !range_insert_at(z, i + 1, s + len, tail))
				kv_report(KV_REPORT_WARN,
					  "kvalloc: vmap free index full");
		}
		return s;
	}
	return 0;
}

static struct kv_varea **hash_slot(struct kv_vzone *z, uintptr_t addr)
{
	return &z->hash[(addr >> KV_PAGE_SHIFT) & (VHASH_SIZE - 1)];
}

static void hash_insert(struct kv_vzone *z, struct kv_varea *a)
{
	struct kv_varea **slot = hash_slot(z, a->addr);

	a->hnext = *slot;
	*slot = a;
}

static struct kv_varea *hash_find(struct kv_vzone *z, uintptr_t addr,
				  bool remove)
{
	struct kv_varea **pp, *a;

	for (pp = hash_slot(z, addr); (a = *pp); pp = &a->hnext) {
		if (a->addr == addr) {
			if (remove)
				*pp = a->hnext;
			return a;
		}
	}
	return NULL;
}

static size_t area_bytes(const struct kv_varea *a)
{
	return ((size_t)a->npages + GUARD_PAGES) << KV_PAGE_SHIFT;
}

static bool vmaps_over(uint64_t more)
{
	return __atomic_load_n(&kv.vmaps, __ATOMIC_RELAXED) + more >
	       kv.vmap_limit;
}

/* The lazy list could not take the entries of one more free. */
static bool lazy_full(const struct kv_vzone *z)
{
	return z->nr_lazy + LAZY_PER_FREE > RANGES_MAX;
}

/*
 * Queue an area's range for the lazy purge; true if the zone's batch is
 * full or the process's mappings run short.  The caller made room
 * (!lazy_full() before the free that queues it).
 */
static bool lazy_add(struct kv_vzone *z, const struct kv_varea *a)
{
	struct kv_range *r = &z->lazy[z->nr_lazy++];

	r->start = a->addr;
	r->len = ((size_t)a->npages + GUARD_PAGES) << KV_PAGE_SHIFT;
#ifdef KV_DEBUG
	/* area_retire() unmaps it at once and accounts for its mappings */
	r->nmaps = 0;
#else
	r->nmaps = a->nmaps;
#endif
	z->lazy_pages += a->npages;
	if (z->nr_lazy > z->lazy_max)
		z->lazy_max = z->nr_lazy;
	return z->lazy_pages >= kv.purge_batch || lazy_full(z) || vmaps_over(0);
}

static void area_release(struct kv_varea *a)
{
	uint32_t i;

	for (i = 0; i < a->npages; i++)
		kv_poison(kv_page_addr(a->pfn[i]), KV_PAGE_SIZE);
	kv_buddy_free_bulk(a->pfn, a->npages);
	kv_free_internal(a);
}

/*
 * A freed area whose range waits for the lazy purge gives its pages back
 * now.  Until the purge a stale pointer would write into their next owner:
 * debug builds unmap the range first, so that it faults instead.
 */
static void area_retire(struct kv_varea *a)
{
#ifdef KV_DEBUG
	mmap((void *)a->addr, (size_t)a->npages << KV_PAGE_SHIFT, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	__atomic_sub_fetch(&kv.vmaps, a->nmaps, __ATOMIC_RELAXED);
#endif
	area_release(a);
}

/* Retire a chain of evicted areas (linked through hnext). */
static void retire_chain(struct kv_varea *a)
{
	while (a) {
		struct kv_varea *next = a->hnext;

		area_retire(a);
		a = next;
	}
}

static void link_init(struct kv_vlink *h)
{
	h->next = h->prev = h;
}

static void link_add(struct kv_vlink *h, struct kv_vlink *n)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

static void link_del(struct kv_vlink *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
}

static struct kv_varea *cls_area(struct kv_vlink *l)
{
	return (struct kv_varea *)((char *)l - offsetof(struct kv_varea, cls));
}

static struct kv_varea *lru_area(struct kv_vlink *l)
{
	return (struct kv_varea *)((char *)l - offsetof(struct kv_varea, lru));
}

/* Size class of an area of npages: the order npages rounds up to. */
static unsigned vclass(size_t npages)
{
	return npages <= 1 ? 0 : (unsigned)(64 - __builtin_clzll(npages - 1));
}

static void cache_unlink(struct kv_vzone *z, struct kv_varea *a)
{
	link_del(&a->cls);
	link_del(&a->lru);
	z->nr_cache--;
	z->cache_pages -= a->npages;
}

/*
 * Take the least recently freed area out of the cache and queue its range
 * for the purge; it goes on the *evict chain, to be released without the
 * zone lock.  Returns true if the lazy batch is full.  Zone locked.
 */
static bool cache_evict_one(struct kv_vzone *z, struct kv_varea **evict)
{
	struct kv_varea *a = lru_area(z->lru.prev);

	cache_unlink(z, a);
	a->hnext = *evict;
	*evict = a;
	return lazy_add(z, a);
}

static int range_cmp(const void *x, const void *y)
{
	const struct kv_range *a = x, *b = y;

	return a->start < b->start ? -1 : a->start > b->start;
}

/*
 * Unmap every lazily freed range of the zone (and, if all, every cached
 * area) and give the ranges back to the free index.
 */
static void zone_purge(struct kv_vzone *z, bool all)
{
	struct kv_varea *evict = NULL;
	uint32_t n, m, i;
	struct kv_range *buf;
	uint64_t pages = 0, nmaps = 0;

	kv_mutex_lock(&z->purge_lock);
	kv_mutex_lock(&z->lock);
	while (all && z->nr_cache && z->nr_lazy < RANGES_MAX)
		cache_evict_one(z, &evict);
	buf = z->lazy;
	n = z->nr_lazy;
	z->lazy = z->spare;
	z->nr_lazy = 0;
	z->lazy_pages = 0;
	kv_mutex_unlock(&z->lock);

	retire_chain(evict);
	for (i = 0; i < n; i++)
		nmaps += buf[i].nmaps;
	qsort(buf, n, sizeof(buf[0]), range_cmp);
	for (i = 0, m = 0; i < n; i++) {
		if (m && buf[m - 1].start + buf[m - 1].len == buf[i].start)
			buf[m - 1].len += buf[i].len;
		else
			buf[m++] = buf[i];
	}
	for (i = 0; i < m; i++) {
		/* unmapped: an access faults, and a new area unpoisons its own */
		kv_unpoison((void *)buf[i].start, buf[i].len);
		mmap((void *)buf[i].start, buf[i].len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
		     -1, 0);
		pages += buf[i].len >> KV_PAGE_SHIFT;
	}
	__atomic_sub_fetch(&kv.vmaps, nmaps, __ATOMIC_RELAXED);

	kv_mutex_lock(&z->lock);
	for (i = 0; i < m; i++)
		range_free(z, buf[i].start, buf[i].len);
	if (n) {
		z->purges++;
		z->purged += pages;
	}
	kv_mutex_unlock(&z->lock);
	z->spare = buf;
	kv_mutex_unlock(&z->purge_lock);
	if (m)
		kv_reclaim_wake();
}

void kv_vmap_purge(void)
{
	unsigned i;

	if (!kv.ready)
		return;
	for (i = 0; i < kv.nzones; i++)
		zone_purge(&kv.zones[i], true);
}

static struct kv_vzone *zone_of(uintptr_t addr)
{
	return &kv.zones[(addr - (uintptr_t)kv.win) / kv.zone_size];
}

static unsigned home_zone(void)
{
	struct kv_tcache *tc = kv_tcache();

	if (tc->home_zone < 0)
		tc->home_zone = (int)(__atomic_fetch_add(&zone_rr, 1,
							 __ATOMIC_RELAXED) %
				      kv.nzones);
	return (unsigned)tc->home_zone;
}

/*
 * A cached area of npages .. npages + npages/2 at a suitable alignment (the
 * slack is the price of a hit for sizes that vary; kvmalloc's power-of-two
 * sizes hit exactly), the most recently freed first.  Zone locked.
 */
static struct kv_varea *cache_take(struct kv_vzone *z, uint32_t npages,
				   size_t align)
{
	uint32_t max = npages + npages / 2;
	unsigned c, scan;

	for (c = vclass(npages); c < VCLASSES && c <= vclass(max); c++) {
		struct kv_vlink *l = z->cls[c].next;

		for (scan = 0; l != &z->cls[c] && scan < VCACHE_SCAN;
		     l = l->next, scan++) {
			struct kv_varea *a = cls_area(l);

			if (a->npages < npages || a->npages > max ||
			    (a->addr & (align - 1)))
				continue;
			cache_unlink(z, a);
			z->hits++;
			return a;
		}
	}
	return NULL;
}

/* Lazy or cached ranges a purge would give back (racy hint). */
static bool zone_reclaimable(struct kv_vzone *z)
{
	return __atomic_load_n(&z->nr_lazy, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&z->nr_cache, __ATOMIC_RELAXED);
}

static uintptr_t zone_reserve(struct kv_vzone *z, struct kv_varea *a,
			      size_t align)
{
	uintptr_t addr;

	kv_mutex_lock(&z->lock);
	addr = range_alloc(z, area_bytes(a), align);
	if (addr) {
		a->addr = addr;
		hash_insert(z, a);
		z->allocs++;
	}
	kv_mutex_unlock(&z->lock);
	return addr;
}

/*
 * Map the pages, one mmap per run of consecutive page offsets.  On failure
 * the caller unmaps the whole range, and a->nmaps says how many it made.
 */
static int area_map(struct kv_vzone *z, struct kv_varea *a)
{
	uint32_t i = 0, j;

	a->nmaps = 0;

	while (i < a->npages) {
		void *at = (void *)(a->addr + ((size_t)i << KV_PAGE_SHIFT));

		for (j = i + 1; j < a->npages && a->pfn[j] == a->pfn[j - 1] + 1;
		     j++)
			;
		if (mmap(at, (size_t)(j - i) << KV_PAGE_SHIFT,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 kv.memfd,
			 (off_t)a->pfn[i] << KV_PAGE_SHIFT) == MAP_FAILED)
			return -errno;
		__atomic_add_fetch(&z->maps, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&kv.vmaps, 1, __ATOMIC_RELAXED);
		a->nmaps++;
		i = j;
	}
	return 0;
}

/* Find room for a in some zone, starting at home; 0 if the window is full */
static uintptr_t area_place(struct kv_varea *a, unsigned home, size_t align,
			    struct kv_vzone **zp)
{
	uintptr_t addr = 0;
	unsigned k;

	for (k = 0; k < kv.nzones && !addr; k++) {
		*zp = &kv.zones[(home + k) % kv.nzones];
		addr = zone_reserve(*zp, a, align);
		if (!addr && zone_reclaimable(*zp)) {
			zone_purge(*zp, true);
			addr = zone_reserve(*zp, a, align);
		}
	}
	return addr;
}

/* Undo area_place() and a failed area_map(). */
static void area_unplace(struct kv_vzone *z, struct kv_varea *a)
{
	mmap((void *)a->addr, area_bytes(a), PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	__atomic_sub_fetch(&kv.vmaps, a->nmaps, __ATOMIC_RELAXED);
	a->nmaps = 0;
	kv_mutex_lock(&z->lock);
	hash_find(z, a->addr, true);
	z->allocs--;
	range_free(z, a->addr, area_bytes(a));
	kv_mutex_unlock(&z->lock);
}

void *kv_vmap_alloc(size_t size, size_t align, kv_gfp_t gfp)
{
	size_t npages = (size + KV_PAGE_SIZE - 1) >> KV_PAGE_SHIFT;
	unsigned home, attempt = 0;
	struct kv_vzone *z;
	struct kv_varea *a;
	uint32_t i, runs;

	if (!kv.ready)
		return NULL;
	if (align & (align - 1) || align > kv.zone_size / 2 || size > kv.size ||
	    npages + GUARD_PAGES > kv.zone_size >> KV_PAGE_SHIFT) {
		if (gfp & KV_NOFAIL)
			kv_nofail_impossible(size, gfp);
		return NULL;
	}
	if (align < KV_PAGE_SIZE)
		align = KV_PAGE_SIZE;
	if (!npages)
		npages = 1;
	home = home_zone();
	z = &kv.zones[home];

	kv_mutex_lock(&z->lock);
	a = z->nr_cache ? cache_take(z, (uint32_t)npages, align) : NULL;
	if (a) {
		hash_insert(z, a);
		z->allocs++;
	}
	kv_mutex_unlock(&z->lock);
	if (a)
		goto out;

	a = kv_alloc_internal(sizeof(*a) + npages * sizeof(a->pfn[0]), gfp);
	if (!a)
		return NULL;
	a->npages = (uint32_t)npages;
	while (!kv_buddy_try_bulk(a->pfn, a->npages)) {
		if (!kv_reclaim_retry(gfp, &attempt)) {
			kv_free_internal(a);
			return NULL;
		}
	}
	runs = 1;
	for (i = 0; i < a->npages; i++) {
		kv_unpoison(kv_page_addr(a->pfn[i]), KV_PAGE_SIZE);
		runs += i && a->pfn[i] != a->pfn[i - 1] + 1;
	}
	/*
	 * Room in the window, and mappings to spare (area_map() makes one a
	 * run of consecutive pages: a large area of pages taken together
	 * needs a few, where one a page would pass the limit): under
	 * NOFAIL, wait for frees and purges until there are.
	 */
	attempt = 0;
	for (;;) {
		if (vmaps_over(runs))
			kv_vmap_purge();
		if (!vmaps_over(runs) && area_place(a, home, align, &z)) {
			if (!area_map(z, a))
				break;
			area_unplace(z, a);
		}
		if (!kv_reclaim_retry(gfp, &attempt)) {
			area_release(a);
			return NULL;
		}
	}
out:
	kv_unpoison((void *)a->addr, (size_t)a->npages << KV_PAGE_SHIFT);
	if (gfp & KV_ZERO)
		memset((void *)a->addr, 0, (size_t)a->npages << KV_PAGE_SHIFT);
	return (void *)a->addr;
}

void kv_vmap_free(const void *p)
{
	struct kv_vzone *z = zone_of((uintptr_t)p);
	struct kv_varea *a, *evict = NULL;
	bool purge = false;

	kv_mutex_lock(&z->lock);
	/* frees racing with a purge must not overrun the lazy list */
	while (lazy_full(z)) {
		kv_mutex_unlock(&z->lock);
		zone_purge(z, false);
		kv_mutex_lock(&z->lock);
	}
	a = hash_find(z, (uintptr_t)p, true);
	if (!a) {
		kv_mutex_unlock(&z->lock);
		kv_bad_free(p, "kvfree (vmap)");
		return;
	}
	z->frees++;
	kv_poison((void *)a->addr, (size_t)a->npages << KV_PAGE_SHIFT);
	if (a->npages <= z->cache_limit) {
		/* keep it mapped for a same-sized allocation; evict old ones */
		while (z->nr_cache == VCACHE_MAX ||
		       z->cache_pages + a->npages > z->cache_limit)
			purge |= cache_evict_one(z, &evict);
		link_add(&z->cls[vclass(a->npages)], &a->cls);
		link_add(&z->lru, &a->lru);
		z->nr_cache++;
		z->cache_pages += a->npages;
		a = NULL;
	} else {
		purge = lazy_add(z, a);
	}
	kv_mutex_unlock(&z->lock);

	retire_chain(evict);
	if (a)
		area_retire(a);
	if (purge)
		zone_purge(z, false);
	/* pages, or cached areas a waiter's purge gives back */
	kv_reclaim_wake();
}

size_t kv_vmap_size(const void *p)
{
	struct kv_vzone *z = zone_of((uintptr_t)p);
	struct kv_varea *a;
	size_t n = 0;

	kv_mutex_lock(&z->lock);
	a = hash_find(z, (uintptr_t)p, false);
	if (a)
		n = (size_t)a->npages << KV_PAGE_SHIFT;
	kv_mutex_unlock(&z->lock);
	return n;
}

void *kv_vmap_to_direct(const void *p)
{
	uintptr_t addr = (uintptr_t)p & ~(uintptr_t)(KV_PAGE_SIZE - 1);
	struct kv_vzone *z;
	struct kv_varea *a = NULL;
	void *direct = NULL;
	uint32_t back;

	if (!kv_in_window(p))
		return NULL;
	z = zone_of((uintptr_t)p);
	kv_mutex_lock(&z->lock);
	/* an area is at most kv.npages long: walk back to its start */
	for (back = 0; back < kv.npages && addr >= z->start; back++) {
		a = hash_find(z, addr, false);
		if (a)
			break;
		addr -= KV_PAGE_SIZE;
	}
	if (a && (uintptr_t)p - a->addr < ((size_t)a->npages << KV_PAGE_SHIFT))
		direct = (char *)kv_page_addr(a->pfn[((uintptr_t)p - a->addr) >>
						     KV_PAGE_SHIFT]) +
			 ((uintptr_t)p & (KV_PAGE_SIZE - 1));
	kv_mutex_unlock(&z->lock);
	return direct;
}

void kv_vmap_stats(uint64_t *allocs, uint64_t *live, uint64_t *purges,
		   uint64_t *purged)
{
	unsigned i;

	*allocs = *live = *purges = *purged = 0;
	for (i = 0; i < kv.nzones; i++) {
		struct kv_vzone *z = &kv.zones[i];

		kv_mutex_lock(&z->lock);
		*allocs += z->allocs;
		*live += z->allocs - z->frees;
		*purges += z->purges;
		*purged += z->purged;
		kv_mutex_unlock(&z->lock);
	}
}

void kv_vmap_cache_stats(uint64_t *hits, uint64_t *maps, uint64_t *pages,
			 uint64_t *lazy_max)
{
	unsigned i;

	*hits = *maps = *pages = *lazy_max = 0;
	for (i = 0; i < kv.nzones; i++) {
		struct kv_vzone *z = &kv.zones[i];

		kv_mutex_lock(&z->lock);
		*hits += z->hits;
		*pages += z->cache_pages;
		if (z->lazy_max > *lazy_max)
			*lazy_max = z->lazy_max;
		kv_mutex_unlock(&z->lock);
		*maps += __atomic_load_n(&z->maps, __ATOMIC_RELAXED);
	}
}

/* kv_fini(): report and release every area never freed. */
void kv_vmap_report_leaks(unsigned *nr)
{
	unsigned i, b;

	for (i = 0; i < kv.nzones; i++) {
		struct kv_vzone *z = &kv.zones[i];

		for (b = 0; b < VHASH_SIZE; b++) {
			struct kv_varea *a;

			while ((a = z->hash[b])) {
				z->hash[b] = a->hnext;
				kv_report(
					KV_REPORT_WARN,
					"kvalloc: leak: vmap area %p, %u pages",
					(void *)a->addr, a->npages);
				(*nr)++;
				area_release(a);
			}
		}
	}
}

/* Three quarters of vm.max_map_count (the kernel's default if unreadable) */
static uint64_t vmap_limit(void)
{
	char buf[32];
	unsigned long max = 0;
	int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n > 0) {
		buf[n] = 0;
		max = strtoul(buf, NULL, 10);
	}
	if (max < 4096)
		max = 65530;
	return max / 4 * 3;
}

int kv_vmap_init(unsigned nzones, size_t window, unsigned purge_batch)
{
	size_t ranges = RANGES_MAX * sizeof(struct kv_range);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned i, c;

#ifdef KV_SINGLE_VMAP_ZONE
	nzones = 1;
#endif
	if (!nzones)
		nzones = ncpu > 2 ? 2 * (unsigned)ncpu : 4;
	if (nzones > 64)
		nzones = 64;
	kv.nzones = nzones;
	kv.win_size = window ? window : DEFAULT_WINDOW;
	kv.zone_size = (kv.win_size / nzones) & ~(KV_PAGE_SIZE - 1);
	if (kv.zone_size < 16 * KV_PAGE_SIZE)
		return -EINVAL;
	kv.win_size = kv.zone_size * nzones;
	kv.purge_batch = purge_batch ? purge_batch : DEFAULT_PURGE_BATCH;
	kv.vmaps = 0;
	kv.vmap_limit = vmap_limit();
	kv.win = mmap(NULL, kv.win_size, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (kv.win == MAP_FAILED)
		return -ENOMEM;
	kv.zones = map_anon(nzones * sizeof(*kv.zones));
	if (!kv.zones)
		goto fail_win;
	zone_rr = 0;
	for (i = 0; i < nzones; i++) {
		struct kv_vzone *z = &kv.zones[i];

		kv_mutex_init(&z->lock, kv.lc_vzone);
		kv_mutex_init(&z->purge_lock, kv.lc_vpurge);
		z->start = (uintptr_t)kv.win + i * kv.zone_size;
		z->free = map_anon(ranges);
		z->lazy = map_anon(ranges);
		z->spare = map_anon(ranges);
		z->hash = map_anon(VHASH_SIZE * sizeof(z->hash[0]));
		if (!z->free || !z->lazy || !z->spare || !z->hash) {
			kv.nzones = i + 1;
			kv_vmap_fini();
			return -ENOMEM;
		}
		z->free[0].start = z->start;
		z->free[0].len = kv.zone_size;
		z->nr_free = 1;
		for (c = 0; c < VCLASSES; c++)
			link_init(&z->cls[c]);
		link_init(&z->lru);
		z->cache_limit = kv.npages / (4 * nzones);
		if (z->cache_limit > VCACHE_PAGES)
			z->cache_limit = VCACHE_PAGES;
	}
	return 0;

fail_win:
	munmap(kv.win, kv.win_size);
	return -ENOMEM;
}

void kv_vmap_fini(void)
{
	size_t ranges = RANGES_MAX * sizeof(struct kv_range);
	unsigned i;

	for (i = 0; i < kv.nzones; i++) {
		struct kv_vzone *z = &kv.zones[i];

		if (z->free)
			munmap(z->free, ranges);
		if (z->lazy)
			munmap(z->lazy, ranges);
		if (z->spare)
			munmap(z->spare, ranges);
		if (z->hash)
			munmap(z->hash, VHASH_SIZE * sizeof(z->hash[0]));
		kv_mutex_destroy(&z->lock);
		kv_mutex_destroy(&z->purge_lock);
	}
	munmap(kv.zones, kv.nzones * sizeof(*kv.zones));
	munmap(kv.win, kv.win_size);
	kv.zones = NULL;
	kv.win = NULL;
	kv.win_size = 0;
	kv.nzones = 0;
}
