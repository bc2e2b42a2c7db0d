// SPDX-License-Identifier: GPL-2.0
/*
 * The kvmalloc family and the layer's life cycle (kv_init/kv_fini).
 *
 * kvmalloc(): sizes up to KV_SLAB_MAX come from the slab size classes (the
 * thread's magazine, no lock); larger sizes get exactly one fail-fast
 * attempt at a whole power-of-two buddy block, as kmalloc_large() does (no
 * reclaim, no retry, no warning), then the vmap path for as many pages,
 * whose order-0 pages may reclaim.  kvfree() dispatches on the
 * address: direct map -> the page descriptor says slab object or buddy
 * block; vmap window -> the zone owning the address.
 *
 * Locks: none of its own; see page.c, slab.c, vmap.c, reclaim.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/internal.h"

static unsigned size_order(size_t npages)
{
	return npages <= 1 ? 0 : (unsigned)(64 - __builtin_clzll(npages - 1));
}

/* What no buddy block could serve, mapped from order-0 pages. */
static void *vmap_fallback(size_t size, kv_gfp_t gfp, bool account)
{
	void *p;

	if (account)
		kv_tstat_add(kv_tcache(), KV_T_VMAP_FALLBACK, 1);
	p = kv_vmap_alloc(size, KV_PAGE_SIZE, gfp);
	if (p && account)
		kv_tstat_add(kv_tcache(), KV_T_VMAP_ALLOC, 1);
	return p;
}

/* Above the slab: one fail-fast high-order attempt, then vmap. */
static void *large_alloc(size_t size, kv_gfp_t gfp, bool account)
{
	size_t npages = (size + KV_PAGE_SIZE - 1) >> KV_PAGE_SHIFT;
	unsigned order = size_order(npages);
	struct kv_tcache *tc = kv_tcache();
	void *p;

	if (size > kv.size) {
		if (gfp & KV_NOFAIL)
			kv_nofail_impossible(size, gfp);
		return NULL;
	}
	if (order <= KV_MAX_ORDER) {
		uint32_t pfn;

		if (account)
			kv_tstat_add(tc, KV_T_HO_ATTEMPT, 1);
		pfn = kv_page_try(order);
		if (pfn != KV_PFN_NONE) {
			if (account)
				kv_tstat_add(tc, KV_T_PAGE_ALLOC, 1);
			p = kv_page_addr(pfn);
			kv_unpoison(p, KV_PAGE_SIZE << order);
			if (gfp & KV_ZERO)
				memset(p, 0, KV_PAGE_SIZE << order);
			return p;
		}
		if (account)
			kv_tstat_add(tc, KV_T_HO_FAILFAST, 1);
	}
	/*
	 * The fallback gets as many pages as the buddy block would have had:
	 * same usable size either way, and a size class the vmap area cache
	 * serves exactly, so varying sizes reuse freed areas.
	 */
	if (order <= KV_MAX_ORDER)
		size = KV_PAGE_SIZE << order;
	return vmap_fallback(size, gfp, account);
}

/*
 * A slab of more than a page needs a buddy block of that order, which an
 * arena fragmented into single pages does not have however much reclaim
 * frees (a NOFAIL commit waited for ever in cil_ent_alloc() with 11 pages
 * free, no two of them a block): past one fail-fast attempt, such an
 * object is mapped from order-0 pages, as large_alloc() does.
 */
static void *slab_alloc(size_t size, kv_gfp_t gfp, bool account)
{
	struct kv_cache *c = kv_size_cache(size);
	unsigned scope = kv_scope;
	void *p;

	if (!c->min_order) {
		p = kv_slab_alloc(c, gfp);
		goto out;
	}
	/* the caller's NOFAIL scope would make the attempt wait */
	kv_scope &= ~KV_NOFAIL;
	p = kv_slab_alloc(c, (gfp & ~KV_NOFAIL) | KV_NORETRY | KV_NOWARN);
	kv_scope = scope;
	if (p)
		goto out;
	/* kvmalloc_slow() zeroes a slab-sized object itself */
	return vmap_fallback(size, gfp & ~KV_ZERO, account);
out:
	if (p && account)
		kv_tstat_add(kv_tc, KV_T_SLAB_ALLOC, 1);
	return p;
}

static void *kvmalloc_slow(size_t size, kv_gfp_t flags, bool account)
{
	kv_gfp_t gfp = kv_current_gfp(flags);
	unsigned old;
	void *p;

	if (!kv.ready)
		return NULL;
	old = kv_ctx_enter(gfp);
	if (size <= KV_SLAB_MAX) {
		p = slab_alloc(size, gfp, account);
		if (p) {
			kv_unpoison(p, size);
			if (gfp & KV_ZERO)
				memset(p, 0, size);
		}
	} else {
		p = large_alloc(size, gfp, account);
	}
	kv_ctx_leave(old);
	if (!p)
		kv_alloc_failed(size, gfp);
	return p;
}

void *kvmalloc(size_t size, kv_gfp_t flags)
{
	struct kv_tcache *tc = kv_tc;

	if (likely(size <= KV_SLAB_MAX && tc)) {
		struct kv_mag *m = &tc->mag[kv_size_cache(size)->id];

		if (likely(m->count)) {
			void *p = m->obj[--m->count];

			kv_unpoison(p, size);
			kv_tstat_add(tc, KV_T_SLAB_ALLOC, 1);
			if (flags & KV_ZERO)
				memset(p, 0, size);
			return p;
		}
	}
	return kvmalloc_slow(size, flags, true);
}

void *kv_alloc_internal(size_t size, kv_gfp_t gfp)
{
	return kvmalloc_slow(size, gfp, false);
}

void *kvzalloc(size_t size, kv_gfp_t flags)
{
	return kvmalloc(size, flags | KV_ZERO);
}

void *kvcalloc(size_t n, size_t size, kv_gfp_t flags)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		if (kv_current_gfp(flags) & KV_NOFAIL)
			kv_nofail_impossible(SIZE_MAX, kv_current_gfp(flags));
		kv_alloc_failed(SIZE_MAX, kv_current_gfp(flags));
		return NULL;
	}
	return kvmalloc(bytes, flags | KV_ZERO);
}

void kv_bad_free(const void *p, const char *what)
{
	bool fatal = true;

#ifndef KV_DEBUG
	fatal = kv.strict;
#endif
	kv_report(fatal ? KV_REPORT_BUG : KV_REPORT_WARN,
		  "kvalloc: %s of invalid pointer %p", what, p);
	__atomic_add_fetch(&kv.bad_frees, 1, __ATOMIC_RELAXED);
	if (fatal)
		abort();
}

/* A buddy block of the direct map (not a slab object). */
static bool block_free(const void *p, struct kv_page *d)
{
	if (kv_pg_state(d) != KV_PG_USED || ((uintptr_t)p & (KV_PAGE_SIZE - 1)))
		return false;
	kv_poison(p, KV_PAGE_SIZE << d->order);
	kv_page_free(kv_pfn(p), d->order);
	return true;
}

static void kvfree_common(const void *p, bool account)
{
	if (likely(kv_in_arena(p))) {
		struct kv_page *d = &kv.desc[kv_pfn(p)];

		if (likely(kv_pg_state(d) == KV_PG_SLAB)) {
			kv_poison(p, d->cache->size);
			kv_slab_free(d->cache, (void *)p);
			if (account)
				kv_tstat_add(kv_tc, KV_T_SLAB_FREE, 1);
		} else if (block_free(p, d)) {
			if (account)
				kv_tstat_add(kv_tc, KV_T_PAGE_FREE, 1);
		} else {
			kv_bad_free(p, "kvfree");
		}
	} else if (kv_in_window(p)) {
		kv_vmap_free(p);
		if (account)
			kv_tstat_add(kv_tcache(), KV_T_VMAP_FREE, 1);
	} else if (p) {
		kv_bad_free(p, "kvfree");
	}
}

void kvfree(const void *p)
{
	kvfree_common(p, true);
}

void kv_free_internal(const void *p)
{
	kvfree_common(p, false);
}

void kv_prefault(void *p, size_t len)
{
	uintptr_t start = (uintptr_t)p & ~(KV_PAGE_SIZE - 1);
	uintptr_t end =
		((uintptr_t)p + len + KV_PAGE_SIZE - 1) & ~(KV_PAGE_SIZE - 1);

	if (!p || !len)
		return;
	/* the error (an old kernel's EINVAL) only means the faults come later */
	(void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

bool kv_is_vmap(const void *p)
{
	return kv_in_window(p);
}

/* The caller may use all of it: unpoison the slack (as the kernel's ksize) */
size_t kv_ksize(const void *p)
{
	if (kv_in_arena(p)) {
		struct kv_page *d = &kv.desc[kv_pfn(p)];
		size_t n = 0;

		if (kv_pg_state(d) == KV_PG_SLAB)
			n = d->cache->size;
		else if (kv_pg_state(d) == KV_PG_USED)
			n = KV_PAGE_SIZE << d->order;
		kv_unpoison(p, n);
		return n;
	}
	if (kv_in_window(p))
		return kv_vmap_size(p);
	return 0;
}

void *kvrealloc(void *p, size_t new_size, kv_gfp_t flags)
{
	size_t old_size;
	void *q;

	if (!p)
		return kvmalloc(new_size, flags);
	if (!new_size) {
		kvfree(p);
		return NULL;
	}
	old_size = kv_ksize(p);
	/* shrink in place unless that would waste most of the block */
	if (new_size <= old_size && new_size >= old_size / 2) {
		kv_poison(p, old_size);
		kv_unpoison(p, new_size);
		return p;
	}
	q = kvmalloc(new_size, flags & ~KV_ZERO);
	if (!q)
		return NULL;
	memcpy(q, p, new_size < old_size ? new_size : old_size);
	if ((flags & KV_ZERO) && new_size > old_size)
		memset((char *)q + old_size, 0, new_size - old_size);
	kvfree(p);
	return q;
}

int kvgrow(void **arr, size_t *cap, size_t n, size_t size, kv_gfp_t flags)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	if (ncap < *cap || ncap > SIZE_MAX / size)
		return -ENOMEM;
	p = kvrealloc(*arr, ncap * size, flags);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

void *kv_kmalloc(size_t size, kv_gfp_t flags)
{
	if (size > KV_SLAB_MAX)
		return NULL;
	return kvmalloc(size, flags);
}

void kv_kfree(const void *p)
{
	if (!p)
		return;
	if (kv_in_arena(p) && kv_pg_state(&kv.desc[kv_pfn(p)]) == KV_PG_SLAB)
		kvfree(p);
	else
		kv_bad_free(p, "kv_kfree");
}

void *kv_vmalloc_align(size_t size, size_t align, kv_gfp_t flags)
{
	kv_gfp_t gfp = kv_current_gfp(flags);
	unsigned old;
	void *p;

	if (!kv.ready)
		return NULL;
	old = kv_ctx_enter(gfp);
	p = kv_vmap_alloc(size, align, gfp);
	kv_ctx_leave(old);
	if (p)
		kv_tstat_add(kv_tcache(), KV_T_VMAP_ALLOC, 1);
	else
		kv_alloc_failed(size, gfp);
	return p;
}

void *kv_vmalloc(size_t size, kv_gfp_t flags)
{
	return kv_vmalloc_align(size, KV_PAGE_SIZE, flags);
}

void kv_vfree(const void *p)
{
	if (!p)
		return;
	if (kv_in_window(p))
		kvfree(p);
	else
		kv_bad_free(p, "kv_vfree");
}

void *kv_alloc_pages(unsigned order, kv_gfp_t flags)
{
	kv_gfp_t gfp = kv_current_gfp(flags);
	uint32_t pfn;
	unsigned old;
	void *p;

	if (!kv.ready)
		return NULL;
	if (order > KV_MAX_ORDER) {
		if (gfp & KV_NOFAIL)
			kv_nofail_impossible(KV_PAGE_SIZE << order, gfp);
		return NULL;
	}
	old = kv_ctx_enter(gfp);
	if (order > KV_COSTLY_ORDER && !(gfp & KV_NOFAIL))
		pfn = kv_page_try(order);
	else
		pfn = kv_pages_get(order, gfp);
	kv_ctx_leave(old);
	if (pfn == KV_PFN_NONE) {
		kv_alloc_failed(KV_PAGE_SIZE << order, order > KV_COSTLY_ORDER ?
							       gfp | KV_NOWARN :
							       gfp);
		return NULL;
	}
	kv_tstat_add(kv_tcache(), KV_T_PAGE_ALLOC, 1);
	p = kv_page_addr(pfn);
	kv_unpoison(p, KV_PAGE_SIZE << order);
	if (gfp & KV_ZERO)
		memset(p, 0, KV_PAGE_SIZE << order);
	return p;
}

void kv_free_pages(void *p, unsigned order)
{
	if (!p)
		return;
	if (!kv_in_arena(p) || kv_pg_state(&kv.desc[kv_pfn(p)]) != KV_PG_USED ||
	    kv.desc[kv_pfn(p)].order != order) {
		kv_bad_free(p, "kv_free_pages");
		return;
	}
	kvfree(p);
}

void kv_drain_caches(void)
{
	if (!kv.ready)
		return;
	/* purging frees area descriptors into the magazines: purge first */
	kv_vmap_purge();
	kv_tcache_drain(kv_tcache());
	kv_tcache_drain_pages_all();
	kv_slab_shrink();
}

bool kv_initialized(void)
{
	return __atomic_load_n(&kv.ready, __ATOMIC_ACQUIRE);
}

static int register_classes(void)
{
	int *ids[] = { &kv.lc_buddy,  &kv.lc_slab,     &kv.lc_vzone,
		       &kv.lc_vpurge, &kv.lc_shrinker, &kv.lc_nofail };
	const char *names[] = { "buddy",      "slab",	  "vmap_zone",
				"vmap_purge", "shrinker", "nofail" };
	unsigned i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		*ids[i] = kv_lock_class_register(names[i]);
		if (*ids[i] < 0)
			return *ids[i];
	}
	return 0;
}

int kv_init(const struct kv_config *cfg)
{
	struct kv_config def = { 0 };
	int err;

	if (kv.ready)
		return -EBUSY;
	if (!cfg)
		cfg = &def;
	err = register_classes();
	if (err)
		return err;
	err = kv_arena_init(cfg->budget_bytes ? cfg->budget_bytes :
						KV_DEFAULT_BUDGET);
	if (err)
		return err;
	if (cfg->prefault)
		kv_arena_prefault();
	kv_slab_init();
	err = kv_vmap_init(cfg->vmap_zones, cfg->vmap_window, cfg->purge_batch);
	if (err)
		goto fail_vmap;
	kv_reclaim_init();
	kv.strict = getenv("KVALLOC_STRICT") != NULL;
	kv.bad_frees = 0;
	__atomic_store_n(&kv.ready, true, __ATOMIC_RELEASE);
	return 0;

fail_vmap:
	kv_slab_fini();
	kv_arena_fini();
	return err;
}

/* Buddy blocks never freed (kvmalloc high-order, kv_alloc_pages). */
static void report_block_leaks(unsigned *nr)
{
	uint32_t pfn;

	for (pfn = 0; pfn < kv.npages; pfn++) {
		struct kv_page *d = &kv.desc[pfn];

		if (kv_pg_state(d) != KV_PG_USED)
			continue;
		kv_report(KV_REPORT_WARN, "kvalloc: leak: %u page(s) at %p",
			  1u << d->order, kv_page_addr(pfn));
		(*nr)++;
	}
}

int kv_fini(void)
{
	unsigned nr = 0;
	int bad;

	if (!kv.ready)
		return 0;
	kv_kswapd_stop();
	kv_vmap_purge();
	kv_vmap_report_leaks(&nr);
	kv_tcache_drain_all();
	kv_slab_shrink();
	/*
	 * Every page back in the buddy's free lists: no slab and no block
	 * is left to report, and the walks of every page descriptor (the
	 * whole budget's, most never touched) are skipped.
	 */
	if (kv_buddy_nr_free() != kv.npages) {
		kv_slab_report_leaks(&nr);
		report_block_leaks(&nr);
	}
	if (nr)
		kv_report(kv.strict ? KV_REPORT_BUG : KV_REPORT_WARN,
			  "kvalloc: %u allocation(s) never freed", nr);
	if (nr && kv.strict)
		abort();
	bad = (int)nr + (int)__atomic_load_n(&kv.bad_frees, __ATOMIC_RELAXED);
	__atomic_store_n(&kv.ready, false, __ATOMIC_RELEASE);
	kv_reclaim_fini();
	kv_vmap_fini();
	kv_slab_fini();
	kv_arena_fini();
	kv_tcache_reset_stats();
	return bad;
}

void kv_stats(struct kv_stats *st)
{
	uint64_t t[KV_T_NR], acq[KV_LOCK_CLASSES_MAX],
		cont[KV_LOCK_CLASSES_MAX], pcp, live;
	int i, n;

	memset(st, 0, sizeof(*st));
	kv_tcache_sum(t, &pcp, acq, cont);
	st->pcp_pages = pcp;
	st->slab_allocs = t[KV_T_SLAB_ALLOC];
	st->slab_frees = t[KV_T_SLAB_FREE];
	st->highorder_attempts = t[KV_T_HO_ATTEMPT];
	st->highorder_failfast = t[KV_T_HO_FAILFAST];
	st->vmap_fallbacks = t[KV_T_VMAP_FALLBACK];
	st->live_allocs = t[KV_T_SLAB_ALLOC] - t[KV_T_SLAB_FREE] +
			  t[KV_T_PAGE_ALLOC] - t[KV_T_PAGE_FREE] +
			  t[KV_T_VMAP_ALLOC] - t[KV_T_VMAP_FREE];
	kv_kswapd_stats(&st->kswapd_passes, &st->kswapd_freed);
	kv_reclaim_stats(&st->reclaim_passes, &st->reclaim_freed,
			 &st->nofail_retries, &st->nofail_timeouts,
			 &st->alloc_failures);
	if (kv.ready) {
		st->pages_total = kv.npages;
		st->pages_free = kv_buddy_nr_free();
		st->pages_used = st->pages_total - st->pages_free - pcp;
		st->slab_pages = kv_slab_pages();
		kv_vmap_stats(&st->vmap_allocs, &live, &st->vmap_lazy_purges,
			      &st->vmap_pages_purged);
		st->vmap_areas_live = live;
		st->vmap_zones = kv.nzones;
		kv_vmap_cache_stats(&st->vmap_cache_hits, &st->vmap_maps,
				    &st->vmap_cache_pages, &st->vmap_lazy_max);
	}
	n = kv_lockstat_nr_classes();
	st->nr_lock_classes = (unsigned)n;
	for (i = 0; i < n; i++) {
		snprintf(st->lock[i].name, sizeof(st->lock[i].name), "%s",
			 kv_lockstat_name(i));
		st->lock[i].contended = cont[i];
		st->lock[i].acquired = acq[i];
	}
}

struct stat_field {
	const char *name;
	uint64_t val;
};

/* snprintf at *total, as far as len allows; keeps counting past the end */
static int __attribute__((format(printf, 4, 5)))
appendf(char *buf, size_t len, int *total, const char *fmt, ...)
{
	size_t at = (size_t)*total;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf && at < len ? buf + at : NULL,
		      buf && at < len ? len - at : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EIO;
	*total += n;
	return 0;
}

int kv_stats_format(char *buf, size_t len)
{
	struct kv_stats st;
	int total = 0, n;
	unsigned i;

	kv_stats(&st);
	const struct stat_field fields[] = {
		{ "pages_total", st.pages_total },
		{ "pages_free", st.pages_free },
		{ "pages_used", st.pages_used },
		{ "pcp_pages", st.pcp_pages },
		{ "slab_allocs", st.slab_allocs },
		{ "slab_frees", st.slab_frees },
		{ "slab_pages", st.slab_pages },
		{ "highorder_attempts", st.highorder_attempts },
		{ "highorder_failfast", st.highorder_failfast },
		{ "vmap_allocs", st.vmap_allocs },
		{ "vmap_fallbacks", st.vmap_fallbacks },
		{ "vmap_areas_live", st.vmap_areas_live },
		{ "vmap_lazy_purges", st.vmap_lazy_purges },
		{ "vmap_pages_purged", st.vmap_pages_purged },
		{ "vmap_zones", st.vmap_zones },
		{ "vmap_cache_hits", st.vmap_cache_hits },
		{ "vmap_maps", st.vmap_maps },
		{ "vmap_cache_pages", st.vmap_cache_pages },
		{ "vmap_lazy_max", st.vmap_lazy_max },
		{ "reclaim_passes", st.reclaim_passes },
		{ "reclaim_freed", st.reclaim_freed },
		{ "nofail_retries", st.nofail_retries },
		{ "nofail_timeouts", st.nofail_timeouts },
		{ "alloc_failures", st.alloc_failures },
		{ "live_allocs", st.live_allocs },
		{ "kswapd_passes", st.kswapd_passes },
		{ "kswapd_freed", st.kswapd_freed },
	};

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (appendf(buf, len, &total, "%s %llu\n", fields[i].name,
			    (unsigned long long)fields[i].val))
			return -EIO;
	for (i = 0; i < st.nr_lock_classes; i++)
		if (appendf(buf, len, &total,
			    "lock.%s.contended %llu\nlock.%s.acquired %llu\n",
			    st.lock[i].name,
			    (unsigned long long)st.lock[i].contended,
			    st.lock[i].name,
			    (unsigned long long)st.lock[i].acquired))
			return -EIO;
	n = kv_shrinkers_format(buf && (size_t)total < len ? buf + total : NULL,
				buf && (size_t)total < len ? len - total : 0);
	if (n < 0)
		return n;
	return total + n;
}
