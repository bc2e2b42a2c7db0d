/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvalloc: the kvfs memory manager.
 *
 * A fixed budget of memory (one memfd, mapped once as the "direct map"),
 * shaped like the kernel's page allocator + slab + vmalloc:
 *
 *   kv_alloc_pages()  buddy allocator over the arena, per-CPU order-0 caches
 *   kv_kmalloc()      slab size classes 8 B .. 8 KiB, per-CPU magazines
 *   kv_vmalloc()      order-0 pages mapped contiguously into a reserved
 *                     virtual window (MAP_FIXED|MAP_SHARED over the memfd)
 *   kvmalloc()        slab for small sizes; otherwise one fail-fast
 *                     high-order attempt, then the vmap fallback
 *
 * Every allocation is made in a context: the flags passed, as modified by
 * the calling thread's scopes (kv_current_gfp()).  The context decides which
 * shrinkers may run when the budget is exhausted and whether the allocation
 * may fail.  An explicit KV_NOFS/KV_NOIO on one call behaves exactly as if
 * the call were made inside the matching scope, including for the vmap
 * fallback's own internal allocations.
 *
 * Dependencies: none beyond libc/pthreads.  This layer knows nothing of
 * filesystems.
 */
#ifndef KV_ALLOC_KVALLOC_H
#define KV_ALLOC_KVALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_PAGE_SHIFT 12
#define KV_PAGE_SIZE (1UL << KV_PAGE_SHIFT)
/* Largest buddy order; a block of KV_MAX_ORDER is 4 MiB. */
#define KV_MAX_ORDER 10
/* Orders above this are "costly": never reclaimed for, only tried once. */
#define KV_COSTLY_ORDER 3
/* Largest size served by the slab size classes. */
#define KV_SLAB_MAX 8192

/* Allocation context flags.  0 is the normal "may reclaim anything" context. */
typedef unsigned int kv_gfp_t;
#define KV_NOFS ((kv_gfp_t)1 << 0) /* must not recurse into the fs */
#define KV_NOIO ((kv_gfp_t)1 << 1) /* must not issue I/O (implies NOFS) */
/*
 * KV_NOFAIL: never returns NULL, on any path: waits for frees and purges
 * (backing off from 1 ms to 256 ms, woken early by frees) and retries.  A
 * request no free could ever satisfy (larger than the budget or a vmap
 * zone, a bad alignment or order) is a caller bug and aborts.
 */
#define KV_NOFAIL ((kv_gfp_t)1 << 2)
#define KV_NORETRY ((kv_gfp_t)1 << 3) /* no reclaim, no retry: fail fast */
#define KV_NOWARN ((kv_gfp_t)1 << 4) /* do not report the failure */
#define KV_ZERO ((kv_gfp_t)1 << 5) /* return zeroed memory */

/* The arena's size when kv_config gives none. */
#define KV_DEFAULT_BUDGET ((size_t)256 << 20)

struct kv_config {
	size_t budget_bytes; /* arena size; 0 = KV_DEFAULT_BUDGET */
	unsigned vmap_zones; /* 0 = one per CPU */
	size_t vmap_window; /* reserved virtual bytes; 0 = default */
	unsigned
		purge_batch; /* lazily freed vmap pages before a purge; 0 = default */
	/*
	 * Write every page of the arena once at kv_init(): a mapping's first
	 * write to a page is a fault, 20-45 us on a shadow-paged virtual
	 * machine even after MADV_POPULATE_WRITE (the shadow entry is made at
	 * the first access from user mode).  A process that will fill its
	 * arena pays them all up front instead of in its first operations.
	 */
	bool prefault;
};

/*
 * kv_init(NULL) uses defaults.  Returns 0 or a negative errno.  kv_fini()
 * reports every allocation never freed (kv_report(), alloc/report.h),
 * returns the arena whole, and leaves the layer ready for another
 * kv_init(); it returns the number of allocations never freed plus the
 * invalid frees seen since kv_init() (0: clean).  With KVALLOC_STRICT set
 * in the environment at kv_init(), an invalid free aborts at once (as in
 * debug builds) and so does a kv_fini() that finds leaks: the test suite
 * runs so.
 */
int kv_init(const struct kv_config *cfg);
int kv_fini(void);
bool kv_initialized(void);

/* kvmalloc family: any size; kvfree() works on either kind (NULL is fine). */
void *kvmalloc(size_t size, kv_gfp_t flags);
void *kvzalloc(size_t size, kv_gfp_t flags);
void *kvcalloc(size_t n, size_t size, kv_gfp_t flags);
void *kvrealloc(void *p, size_t new_size, kv_gfp_t flags);
void kvfree(const void *p);
/*
 * A growing array: make *arr (*cap elements of size bytes, n of them used)
 * hold one more, doubling *cap (from 64) when n reached it.  0, or -ENOMEM
 * with *arr and *cap unchanged.
 */
int kvgrow(void **arr, size_t *cap, size_t n, size_t size, kv_gfp_t flags);
/*
 * Map the pages of [p, p + len), memory from the kvmalloc family, now and
 * in one call (MADV_POPULATE_WRITE): for a large array about to be filled,
 * cheaper than a page fault per page (a third less system time per page on
 * a virtual machine).  A hint: without the kernel's support, nothing.
 */
void kv_prefault(void *p, size_t len);
/* True if p came from the vmap path (not physically contiguous). */
bool kv_is_vmap(const void *p);
/* Usable size of an allocation made by any function of this header. */
size_t kv_ksize(const void *p);

/* Slab only (size <= KV_SLAB_MAX, else NULL). */
void *kv_kmalloc(size_t size, kv_gfp_t flags);
void kv_kfree(const void *p);

/*
 * vmap only: always page-granular, never physically contiguous.  A freed
 * area's pages go back to the buddy before its range is unmapped (purges
 * are lazy): in release builds a stale pointer into a freed vmap area can
 * write into the pages' next owner until the purge.  Debug builds unmap the
 * range first, so such an access faults; ASan builds report it.
 */
void *kv_vmalloc(size_t size, kv_gfp_t flags);
void kv_vfree(const void *p);
/* align: a power of two; NULL if the window cannot honour it */
void *kv_vmalloc_align(size_t size, size_t align, kv_gfp_t flags);
/* Unmap every lazily freed vmap area (and cached area) now. */
void kv_vmap_purge(void);
/*
 * Give back what the allocator hoards: every thread's page caches, the
 * calling thread's slab magazines, every empty slab, every lazily freed or
 * cached vmap area.  Other threads' magazines drain when they exit, on
 * their next slow path after a reclaim, or at kv_fini().
 */
void kv_drain_caches(void);

/*
 * Buddy pages.  order > KV_COSTLY_ORDER attempts are fail-fast unless
 * KV_NOFAIL; lower orders may reclaim.
 */
void *kv_alloc_pages(unsigned order, kv_gfp_t flags);
void kv_free_pages(void *p, unsigned order);

/* Named fixed-size object caches. */
struct kv_cache;
struct kv_cache *kv_cache_create(const char *name, size_t size, size_t align);
void *kv_cache_alloc(struct kv_cache *c, kv_gfp_t flags);
void kv_cache_free(struct kv_cache *c, void *obj);
void kv_cache_destroy(struct kv_cache *c);

/*
 * Per-thread scopes.  save() enters the scope and returns the previous
 * state, restore() puts that state back; they nest.
 */
unsigned kv_nofs_save(void);
void kv_nofs_restore(unsigned saved);
unsigned kv_noio_save(void);
void kv_noio_restore(unsigned saved);
unsigned kv_nofail_save(void);
void kv_nofail_restore(unsigned saved);
/* flags as the current thread's scopes modify them */
kv_gfp_t kv_current_gfp(kv_gfp_t flags);

/*
 * What kvalloc keeps of a registered shrinker or pressure hook: both kinds
 * are on one registry (alloc/reclaim.c).  Owned by kvalloc.
 */
struct kv_reclaim_reg {
	struct kv_reclaim_reg *next;
	const char *name;
	unsigned kind; /* KV_REG_SHRINKER or KV_REG_PRESSURE */
	unsigned active; /* passes currently calling it */
	uint64_t nr_calls;
	/* a shrinker's objects freed; a hook's calls that returned true */
	uint64_t nr_done;
};

#define KV_REG_SHRINKER 1u
#define KV_REG_PRESSURE 2u

/* Shrinkers: called when the budget is exhausted. */
#define KV_SHRINK_FS (1u << 0) /* may enter the filesystem */
#define KV_SHRINK_IO (1u << 1) /* may issue I/O */

struct kv_shrinker {
	const char *name;
	unsigned flags;
	size_t (*count)(void *priv);
	size_t (*scan)(void *priv, size_t nr_to_scan); /* returns nr freed */
	void *priv;
	struct kv_reclaim_reg reg;
};

int kv_register_shrinker(struct kv_shrinker *s);
void kv_unregister_shrinker(struct kv_shrinker *s);

/*
 * Pressure hooks: for memory a client can free only through work its own
 * threads do (a log keeps dirty buffers pinned until its next checkpoint,
 * and only then may they be written back and reclaimed).  When a reclaim
 * round's shrinker pass frees nothing, relieve() runs in the allocating
 * thread, in its context (its scopes, whatever locks it holds, NOFS
 * included: that is where it is needed): it may wake the client's threads
 * and wait for them a bounded time, but must not allocate, must not take a
 * lock the allocating thread may hold, and must not wait for work that
 * needs one (it decides that itself: the hook knows its locks, kvalloc
 * does not).  It returns true when memory may have come back, and the
 * allocation then starts a new round, even without NOFAIL: at most
 * KV_RELIEF_ROUNDS such rounds per allocation.  Never called from a
 * shrinker or from the reclaim thread.
 */
#define KV_RELIEF_ROUNDS 8

struct kv_pressure {
	const char *name;
	bool (*relieve)(void *priv, kv_gfp_t gfp);
	void *priv;
	struct kv_reclaim_reg reg;
};

int kv_register_pressure(struct kv_pressure *p);
void kv_unregister_pressure(struct kv_pressure *p);

/*
 * Lock classes: every lock of kvalloc (and every lock a client wants
 * measured) counts its contended acquisitions per class.  A contended
 * acquisition is one whose trylock failed.
 */
#define KV_LOCK_CLASSES_MAX 32
int kv_lock_class_register(const char *name); /* returns class id or -errno */
uint64_t kv_lock_class_contended(int class_id);
uint64_t kv_lock_class_acquired(int class_id); /* all acquisitions */
/* The classes registered: ids 0 .. kv_lock_classes() - 1, and their names. */
int kv_lock_classes(void);
const char *kv_lock_class_name(int class_id);

struct kv_stats {
	uint64_t pages_total;
	uint64_t pages_free;
	uint64_t pages_used;
	uint64_t pcp_pages; /* order-0 pages cached per CPU */
	uint64_t slab_allocs;
	uint64_t slab_frees;
	uint64_t slab_pages;
	uint64_t highorder_attempts;
	uint64_t highorder_failfast;
	uint64_t vmap_allocs;
	uint64_t vmap_fallbacks; /* kvmalloc calls that took the vmap path */
	uint64_t vmap_areas_live;
	uint64_t vmap_lazy_purges;
	uint64_t vmap_pages_purged;
	uint64_t reclaim_passes;
	uint64_t reclaim_freed;
	uint64_t nofail_retries; /* NOFAIL waits */
	uint64_t nofail_timeouts; /* NOFAIL waits no free ended early */
	uint64_t alloc_failures;
	uint64_t live_allocs; /* allocations not yet freed */
	uint64_t vmap_zones;
	uint64_t vmap_cache_hits; /* vmap allocations served by an area cache */
	uint64_t vmap_maps; /* mmap calls made mapping new vmap areas */
	uint64_t vmap_cache_pages; /* pages held by freed, still-mapped areas */
	uint64_t vmap_lazy_max; /* most ranges a zone's lazy list held */
	uint64_t kswapd_passes; /* the reclaim thread's (in reclaim_passes) */
	uint64_t kswapd_freed;
	unsigned nr_lock_classes;
	struct {
		char name[24];
		uint64_t contended;
		uint64_t acquired;
	} lock[KV_LOCK_CLASSES_MAX];
};

void kv_stats(struct kv_stats *st);
/*
 * One "name value" per line, including one line per shrinker
 * ("shrinker.NAME.freed N") and per lock class ("lock.NAME.contended N").
 * Returns the length it wanted to write (as snprintf) or a negative errno.
 */
int kv_stats_format(char *buf, size_t len);

#endif
