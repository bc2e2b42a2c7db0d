/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvalloc internals shared by the files of alloc/.  Not for clients (tests
 * may include it to reach internal entry points such as kv_shrinker_run()).
 *
 * Memory map: the arena is one memfd mapped once at kv.base (the "direct
 * map"); page frame number (pfn) = (addr - kv.base) >> KV_PAGE_SHIFT indexes
 * kv.desc[], the struct-page-like descriptor array.  The vmap window is a
 * PROT_NONE reservation at kv.win split into kv.nzones equal zones.
 *
 * Per-thread state (struct kv_tcache) is touched only by its owner thread,
 * except by kv_fini(), kv_cache_destroy() and stats readers: the first two
 * require that no other thread is using the memory they drain; readers only
 * load counters with relaxed atomics.
 */
#ifndef KV_ALLOC_INTERNAL_H
#define KV_ALLOC_INTERNAL_H

#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#include "alloc/kvalloc.h"
#include "alloc/kvlock.h"
#include "alloc/report.h"

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define KV_ASAN 1
#endif

#define KV_PFN_NONE UINT32_MAX
#define KV_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/*
 * AddressSanitizer sees inside the arena: in ASan builds whatever is free
 * (free pages, freed slab objects, freed vmap areas, the slack past a slab
 * object's requested size) is poisoned, and what is handed out unpoisoned.
 * The allocator's own accesses to freed memory (slab freelist links)
 * unpoison around themselves.  No-ops otherwise.
 */
static inline void kv_poison(const void *p, size_t n)
{
#ifdef KV_ASAN
	ASAN_POISON_MEMORY_REGION(p, n);
#else
	(void)p;
	(void)n;
#endif
}

static inline void kv_unpoison(const void *p, size_t n)
{
#ifdef KV_ASAN
	ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
	(void)p;
	(void)n;
#endif
}

/* Descriptor states. */
enum {
	KV_PG_NONE, /* inside a free or allocated block, not its head */
	KV_PG_FREE, /* head of a free buddy block (on a free list) */
	KV_PG_USED, /* head of an allocated block (kvmalloc / alloc_pages) */
	KV_PG_PCP, /* head of a block in a per-thread page cache */
	KV_PG_SLAB, /* any page of a slab */
	KV_PG_VMAP, /* order-0 page owned by a vmap area */
};

struct kv_cache;

struct kv_page {
	uint8_t state;
	uint8_t order; /* FREE, USED, PCP, SLAB head: block order */
	uint16_t pad;
	uint32_t next; /* free list / slab partial list link (pfn) */
	uint32_t prev;
	uint32_t head; /* SLAB: pfn of the slab's head page */
	uint32_t inuse; /* SLAB head: objects handed out */
	uint32_t nobj; /* SLAB head: objects in the slab */
	uint32_t bump; /* SLAB head: first object never handed out */
	void *freelist; /* SLAB head: freed objects, linked through them */
	struct kv_cache *cache; /* SLAB: owner */
};

/*
 * A page's state is written under the lock of whoever owns the page (the
 * buddy lock, a thread's page-cache lock, a slab's) but read by others
 * without it (a buddy merge checking its neighbour, kvfree finding out what
 * it frees): relaxed atomics, which cost nothing on x86.  Only the buddy
 * lock makes a page FREE or takes it out of FREE.
 */
static inline uint8_t kv_pg_state(const struct kv_page *d)
{
	return __atomic_load_n(&d->state, __ATOMIC_RELAXED);
}

static inline void kv_pg_set_state(struct kv_page *d, uint8_t state)
{
	__atomic_store_n(&d->state, state, __ATOMIC_RELAXED);
}

/* Size classes 8 B .. 8 KiB and named caches share one magazine array. */
#define KV_NR_CLASSES 33
#define KV_NAMED_MAX 64
#define KV_NR_CACHES (KV_NR_CLASSES + KV_NAMED_MAX)
#define KV_MAG_MAX 64
#define KV_PCP_MAX 64
#define KV_PCP_BATCH 16
#define KV_HCP_MAX_ORDER 7
#define KV_HCP_DEPTH 4
#define KV_HCP_PAGES 512

struct kv_cache {
	struct kv_mutex lock; /* protects partial, nr_partial, slab heads */
	uint32_t size; /* object size, a multiple of the alignment */
	uint32_t order; /* preferred slab order */
	uint32_t min_order; /* smallest order that holds one object */
	uint32_t id; /* magazine slot */
	uint32_t mag_max;
	uint32_t partial; /* pfn of first slab with free objects */
	uint32_t nr_partial;
	uint64_t nr_slab_pages;
	char name[24];
};

struct kv_mag {
	uint32_t count;
	void *obj[KV_MAG_MAX];
};

/* Per-thread event counters, summed on read. */
enum {
	KV_T_SLAB_ALLOC,
	KV_T_SLAB_FREE,
	KV_T_PAGE_ALLOC,
	KV_T_PAGE_FREE,
	KV_T_VMAP_ALLOC,
	KV_T_VMAP_FREE,
	KV_T_HO_ATTEMPT,
	KV_T_HO_FAILFAST,
	KV_T_VMAP_FALLBACK,
	KV_T_NR
};

struct kv_tcache {
	struct kv_tcache *next, *prev; /* registry, under kv_tc_lock */
	int home_zone; /* -1 until the first vmap allocation */
	uint32_t drain_seen; /* kv.drain_gen last acted on */
	int page_lock; /* spinlock over pcp and hcp, see page.c */
	uint32_t pcp_count;
	uint32_t pcp[KV_PCP_MAX];
	uint32_t hcp_pages;
	uint8_t hcp_count[KV_HCP_MAX_ORDER + 1];
	uint32_t hcp[KV_HCP_MAX_ORDER + 1][KV_HCP_DEPTH];
	uint64_t stat[KV_T_NR];
	uint64_t lock_acquired[KV_LOCK_CLASSES_MAX];
	uint64_t lock_contended[KV_LOCK_CLASSES_MAX];
	struct kv_mag mag[KV_NR_CACHES];
};

struct kv_global {
	bool ready;
	int memfd;
	char *base; /* direct map */
	size_t size; /* arena bytes */
	uint32_t npages;
	struct kv_page *desc;

	/* buddy: everything below is under buddy_lock */
	struct kv_mutex buddy_lock;
	uint32_t free_head[KV_MAX_ORDER + 1];
	uint64_t nr_free; /* pages in the buddy free lists */
	/* bit o set iff free_head[o] is not empty; read without the lock */
	uint32_t free_mask;
#ifdef KV_ASAN
	/*
	 * Sections (KV_MAX_ORDER blocks) whose free pages are poisoned: a
	 * section is poisoned whole before its first page leaves the buddy,
	 * so that kv_init need not write the whole arena's shadow.
	 */
	uint8_t *armed;
#endif
	/*
	 * Granules (KV_POPULATE_SHIFT bytes) of the memfd faulted in whole
	 * when their first page is handed out: set once, never cleared
	 * (the arena never gives memory back).
	 */
	uint8_t *populated;
#define KV_POPULATE_SHIFT (KV_PAGE_SHIFT + 8)

	/* vmap window */
	char *win;
	size_t win_size;
	size_t zone_size;
	unsigned nzones;
	unsigned purge_batch;
	struct kv_vzone *zones;
	/*
	 * Kernel mappings (mmap runs) held by live, cached and lazily freed
	 * areas, and the most allowed: each is a VMA, and vm.max_map_count
	 * caps them for the whole process (thread stacks, other mmaps).
	 */
	uint64_t vmaps;
	uint64_t vmap_limit;

	/*
	 * What one thread may cache, scaled to the budget: memory in an idle
	 * thread's caches is out of reach of other threads until it exits.
	 */
	uint32_t pcp_high; /* order-0 pages, <= KV_PCP_MAX */
	uint32_t hcp_high; /* pages in order 1..KV_HCP_MAX_ORDER blocks */
	uint32_t mag_bytes; /* per magazine */
	/* bumped by reclaim: active threads then drain their caches */
	uint32_t drain_gen;

	/* KVALLOC_STRICT: leaks and invalid frees abort (the test suite) */
	bool strict;
	uint64_t bad_frees;

	/* lock classes */
	int lc_buddy, lc_slab, lc_vzone, lc_vpurge, lc_shrinker, lc_nofail;
};

extern struct kv_global kv;
extern KV_TLS struct kv_tcache *kv_tc;
extern KV_TLS unsigned kv_scope; /* KV_NOFS | KV_NOIO | KV_NOFAIL */
extern KV_TLS bool kv_in_reclaim;

/* tcache.c */
struct kv_tcache *kv_tcache_create(void);
static inline struct kv_tcache *kv_tcache(void)
{
	struct kv_tcache *tc = kv_tc;

	return likely(tc) ? tc : kv_tcache_create();
}
/* Relaxed so that concurrent stats readers see whole values. */
static inline void kv_tstat_add(struct kv_tcache *tc, int i, uint64_t n)
{
	__atomic_store_n(&tc->stat[i], tc->stat[i] + n, __ATOMIC_RELAXED);
}
void kv_tcache_drain(struct kv_tcache *tc);
/* Slow paths: drain if reclaim asked every thread to since we last looked. */
static inline void kv_tcache_check_drain(struct kv_tcache *tc)
{
	uint32_t gen = __atomic_load_n(&kv.drain_gen, __ATOMIC_RELAXED);

	if (unlikely(tc->drain_seen != gen)) {
		tc->drain_seen = gen;
		kv_tcache_drain(tc);
	}
}
void kv_tcache_drain_all(void);
/* Every live thread's page caches (not magazines) back to the buddy. */
void kv_tcache_drain_pages_all(void);
void kv_tcache_drain_slot(unsigned id);
void kv_tcache_sum(uint64_t stat[KV_T_NR], uint64_t *pcp,
		   uint64_t acq[KV_LOCK_CLASSES_MAX],
		   uint64_t cont[KV_LOCK_CLASSES_MAX]);
void kv_tcache_reset_stats(void);

/* lockstat.c */
int kv_lockstat_nr_classes(void);
const char *kv_lockstat_name(int id);

/* page.c */
int kv_arena_init(size_t budget);
void kv_arena_fini(void);
void kv_arena_prefault(void);
static inline uint32_t kv_pfn(const void *p)
{
	return (uint32_t)(((const char *)p - kv.base) >> KV_PAGE_SHIFT);
}
static inline void *kv_page_addr(uint32_t pfn)
{
	return kv.base + ((size_t)pfn << KV_PAGE_SHIFT);
}
static inline bool kv_in_arena(const void *p)
{
	return (uintptr_t)p - (uintptr_t)kv.base < kv.size;
}
/* n single pages (not necessarily contiguous) in one lock hold; all or none */
bool kv_buddy_try_bulk(uint32_t *pfn, uint32_t n);
void kv_buddy_free_bulk(const uint32_t *pfn, uint32_t n);
void kv_pcp_drain(struct kv_tcache *tc);
/* A block of 2^order pages, marked USED: no reclaim / with reclaim */
uint32_t kv_page_try(unsigned order);
uint32_t kv_pages_get(unsigned order, kv_gfp_t gfp);
void kv_page_free(uint32_t pfn, unsigned order);
/* straight to the buddy, bypassing the thread's caches */
void kv_buddy_free(uint32_t pfn, unsigned order);
uint64_t kv_buddy_nr_free(void);

/* slab.c */
extern struct kv_cache kv_classes[KV_NR_CLASSES];
extern uint8_t kv_class_small[1024 / 8 + 1];
extern uint8_t kv_class_big[KV_SLAB_MAX / 128 + 1];
void kv_slab_init(void);
void kv_slab_fini(void);
void *kv_slab_alloc_slow(struct kv_cache *c, kv_gfp_t gfp);
void kv_slab_free_slow(struct kv_cache *c, void *obj);
void kv_slab_free_batch(struct kv_cache *c, void **obj, unsigned n);
void kv_slab_shrink(void);
uint64_t kv_slab_pages(void);

static inline struct kv_cache *kv_size_cache(size_t size)
{
	unsigned i = size <= 1024 ? kv_class_small[(size + 7) >> 3] :
				    kv_class_big[(size + 127) >> 7];

	return &kv_classes[i];
}

/* Fast paths: the thread's magazine, no lock. */
static inline void *kv_slab_alloc(struct kv_cache *c, kv_gfp_t gfp)
{
	struct kv_tcache *tc = kv_tc;

	if (likely(tc)) {
		struct kv_mag *m = &tc->mag[c->id];

		if (likely(m->count))
			return m->obj[--m->count];
	}
	return kv_slab_alloc_slow(c, gfp);
}

static inline void kv_slab_free(struct kv_cache *c, void *obj)
{
	struct kv_tcache *tc = kv_tc;

	if (likely(tc)) {
		struct kv_mag *m = &tc->mag[c->id];

		if (likely(m->count < c->mag_max)) {
			m->obj[m->count++] = obj;
			return;
		}
	}
	kv_slab_free_slow(c, obj);
}
struct kv_cache *kv_cache_by_id(unsigned id);
void kv_slab_report_leaks(unsigned *nr);

/* vmap.c */
int kv_vmap_init(unsigned nzones, size_t window, unsigned purge_batch);
void kv_vmap_fini(void);
static inline bool kv_in_window(const void *p)
{
	return (uintptr_t)p - (uintptr_t)kv.win < kv.win_size;
}
void *kv_vmap_alloc(size_t size, size_t align, kv_gfp_t gfp);
void kv_vmap_free(const void *p);
size_t kv_vmap_size(const void *p);
/* vmalloc_to_page(): where p is in the direct map; NULL if unmapped */
void *kv_vmap_to_direct(const void *p);
void kv_vmap_stats(uint64_t *allocs, uint64_t *live, uint64_t *purges,
		   uint64_t *purged);
/*
 * area cache hits, mmap calls made mapping areas, pages in area caches,
 * most entries a zone's lazy list held
 */
void kv_vmap_cache_stats(uint64_t *hits, uint64_t *maps, uint64_t *pages,
			 uint64_t *lazy_max);
void kv_vmap_report_leaks(unsigned *nr);

/* kvmalloc.c: report an invalid free (aborts in debug and strict mode) */
void kv_bad_free(const void *p, const char *what);
/* kvmalloc for the allocator's own metadata (not counted) */
void *kv_alloc_internal(size_t size, kv_gfp_t gfp);
void kv_free_internal(const void *p);

/* reclaim.c */
void kv_reclaim_init(void);
void kv_reclaim_fini(void);
void kv_kswapd_stop(void);
void kv_kswapd_stats(uint64_t *passes, uint64_t *freed);
/* Allocation failed: returns true if the caller should try again. */
bool kv_reclaim_retry(kv_gfp_t gfp, unsigned *attempt);
void kv_reclaim_wake(void);
size_t kv_shrinker_run(struct kv_shrinker *s, size_t nr);
void kv_reclaim_stats(uint64_t *passes, uint64_t *freed, uint64_t *retries,
		      uint64_t *timeouts, uint64_t *failures);
/* A NOFAIL request nothing could ever satisfy: report and abort. */
void kv_nofail_impossible(size_t size, kv_gfp_t gfp) __attribute__((noreturn));
void kv_alloc_failed(size_t size, kv_gfp_t gfp);
int kv_shrinkers_format(char *buf, size_t len);

/* Enter the context of gfp for the rest of the call (and its internals). */
static inline unsigned kv_ctx_enter(kv_gfp_t gfp)
{
	unsigned old = kv_scope;

	kv_scope = old | (gfp & (KV_NOFS | KV_NOIO | KV_NOFAIL));
	return old;
}
static inline void kv_ctx_leave(unsigned old)
{
	kv_scope = old;
}

#endif
