// SPDX-License-Identifier: GPL-2.0
/*
 * The page arena: one memfd mapped once (the direct map), a buddy allocator
 * over it, and per-thread order-0 page caches (the per-CPU pages).
 *
 * Locks:
 *   kv_tcache.page_lock (a spinlock) protects one thread's pcp and hcp
 *   caches; taken by the owner on each use and by remote drains under the
 *   thread-cache registry lock (tc_lock -> page_lock -> buddy).
 *   kv.buddy_lock ("buddy") protects kv.free_head[], kv.nr_free, writes
 *   of kv.free_mask (a hint fail-fast attempts read without it) and the
 *   state/order/next/prev of every descriptor that is FREE or becomes
 *   FREE, and (ASan builds) kv.armed.  It is a leaf: it may be taken
 *   with a slab cache lock or a page_lock held and nothing is taken under
 *   it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/internal.h"

struct kv_global kv;

static void free_list_add(uint32_t pfn, unsigned order)
{
	struct kv_page *d = &kv.desc[pfn];
	uint32_t head = kv.free_head[order];

	kv_pg_set_state(d, KV_PG_FREE);
	d->order = (uint8_t)order;
	d->prev = KV_PFN_NONE;
	d->next = head;
	if (head != KV_PFN_NONE)
		kv.desc[head].prev = pfn;
	else
		__atomic_store_n(&kv.free_mask, kv.free_mask | 1u << order,
				 __ATOMIC_RELAXED);
	kv.free_head[order] = pfn;
}

static void free_list_del(uint32_t pfn)
{
	struct kv_page *d = &kv.desc[pfn];

	if (d->prev != KV_PFN_NONE)
		kv.desc[d->prev].next = d->next;
	else if ((kv.free_head[d->order] = d->next) == KV_PFN_NONE)
		__atomic_store_n(&kv.free_mask,
				 kv.free_mask & ~(1u << d->order),
				 __ATOMIC_RELAXED);
	if (d->next != KV_PFN_NONE)
		kv.desc[d->next].prev = d->prev;
	kv_pg_set_state(d, KV_PG_NONE);
}

/* Free one aligned block, merging with free buddies.  buddy_lock held. */
static void buddy_free_block(uint32_t pfn, unsigned order)
{
	kv.nr_free += 1u << order;
	kv_pg_set_state(&kv.desc[pfn], KV_PG_NONE);
	while (order < KV_MAX_ORDER) {
		uint32_t buddy = pfn ^ (1u << order);
		struct kv_page *b = &kv.desc[buddy];

		if (buddy + (1u << order) > kv.npages)
			break;
		if (kv_pg_state(b) != KV_PG_FREE || b->order != order)
			break;
		free_list_del(buddy);
		pfn &= buddy;
		order++;
	}
	free_list_add(pfn, order);
}

/* Free [pfn, pfn + n) as the largest aligned blocks.  buddy_lock held. */
static void buddy_free_run_locked(uint32_t pfn, uint32_t n)
{
	while (n) {
		unsigned order = KV_MAX_ORDER;

		if (pfn && (unsigned)__builtin_ctz(pfn) < order)
			order = (unsigned)__builtin_ctz(pfn);

		while ((1u << order) > n)
			order--;
		buddy_free_block(pfn, order);
		pfn += 1u << order;
		n -= 1u << order;
	}
}

#ifdef KV_ASAN
#define KV_SECTION_SHIFT (KV_PAGE_SHIFT + KV_MAX_ORDER)

static size_t nr_sections(void)
{
	return (kv.size + (1ul << KV_SECTION_SHIFT) - 1) >> KV_SECTION_SHIFT;
}

/* Bytes of section s: the last one may be short. */
static size_t section_len(size_t s)
{
	size_t left = kv.size - (s << KV_SECTION_SHIFT);

	return left < 1ul << KV_SECTION_SHIFT ? left : 1ul << KV_SECTION_SHIFT;
}
#endif

/*
 * ASan builds: poison the sections [pfn, pfn + n) lies in that were never
 * handed out.  No page of such a section has left the buddy (every page
 * leaves through buddy_take(), which arms first), so nothing unpoisoned
 * is clobbered.  buddy_lock held.
 */
static void arm_pages(uint32_t pfn, uint32_t n)
{
#ifdef KV_ASAN
	size_t s = (size_t)pfn >> KV_MAX_ORDER;
	size_t e = ((size_t)pfn + n - 1) >> KV_MAX_ORDER;

	for (; s <= e; s++) {
		if (kv.armed[s])
			continue;
		kv_poison(kv.base + (s << KV_SECTION_SHIFT), section_len(s));
		kv.armed[s] = 1;
	}
#else
	(void)pfn;
	(void)n;
#endif
}

/*
 * A fault per 4 KiB page of the shared memfd, each one a trip through the
 * kernel (and a hypervisor's exit on a virtual machine), was a tenth of a
 * create's time: the first page handed out of a granule faults in the
 * granule whole, in one call.  A racing allocation of the same granule only
 * faults on its own as before; the call changes no byte.  Never under
 * buddy_lock (a slab cache's lock may be held: once per granule).
 */
static size_t nr_granules(void)
{
	return (kv.size + (1ul << KV_POPULATE_SHIFT) - 1) >> KV_POPULATE_SHIFT;
}

static void populate_pages(uint32_t pfn, uint32_t n)
{
	size_t g = pfn >> (KV_POPULATE_SHIFT - KV_PAGE_SHIFT);
	size_t e = (pfn + n - 1) >> (KV_POPULATE_SHIFT - KV_PAGE_SHIFT);
	size_t off, len;

	for (; g <= e; g++) {
		if (__atomic_load_n(&kv.populated[g], __ATOMIC_RELAXED) ||
		    __atomic_exchange_n(&kv.populated[g], 1, __ATOMIC_RELAXED))
			continue;
		off = g << KV_POPULATE_SHIFT;
		len = kv.size - off;
		if (len > 1ul << KV_POPULATE_SHIFT)
			len = 1ul << KV_POPULATE_SHIFT;
		/* a failure (an old kernel, a full tmpfs) leaves the faults */
		(void)madvise(kv.base + off, len, MADV_POPULATE_WRITE);
	}
}

/* Take a block of 2^order pages, splitting a larger one.  buddy_lock held. */
static uint32_t buddy_take(unsigned order)
{
	unsigned o = order;
	uint32_t pfn;

	while (o <= KV_MAX_ORDER && kv.free_head[o] == KV_PFN_NONE)
		o++;
	if (o > KV_MAX_ORDER)
		return KV_PFN_NONE;
	pfn = kv.free_head[o];
	free_list_del(pfn);
	/* Upper halves go back, so successive takes ascend in address. */
	while (o > order) {
		o--;
		free_list_add(pfn + (1u << o), o);
	}
	kv.nr_free -= 1u << order;
	arm_pages(pfn, 1u << order);
	return pfn;
}

static void buddy_lock(void)
{
	kv_mutex_lock(&kv.buddy_lock);
}

static void buddy_unlock(bool freed)
{
	kv_mutex_unlock(&kv.buddy_lock);
	if (freed)
		kv_reclaim_wake();
}

/*
 * The pages need not be contiguous, but runs save the vmap path mmap calls:
 * take the largest free block that still fits, splitting only when nothing
 * small enough is free.
 */
bool kv_buddy_try_bulk(uint32_t *pfn, uint32_t n)
{
	uint32_t i = 0, j, head;

	buddy_lock();
	if (kv.nr_free < n) {
		buddy_unlock(false);
		return false;
	}
	while (i < n) {
		int fit = 31 - __builtin_clz(n - i), o;

		if (fit > KV_MAX_ORDER)
			fit = KV_MAX_ORDER;
		for (o = fit; o >= 0 && kv.free_head[o] == KV_PFN_NONE; o--)
			;
		if (o < 0)
			o = fit;
		head = buddy_take((unsigned)o);
		for (j = 0; j < 1u << o; j++) {
			kv_pg_set_state(&kv.desc[head + j], KV_PG_VMAP);
			pfn[i++] = head + j;
		}
	}
	buddy_unlock(false);
	for (j = 0; j < n; j++)
		populate_pages(pfn[j], 1);
	return true;
}

void kv_buddy_free_bulk(const uint32_t *pfn, uint32_t n)
{
	uint32_t i = 0, j;

	buddy_lock();
	while (i < n) {
		for (j = i + 1; j < n && pfn[j] == pfn[j - 1] + 1; j++)
			;
		buddy_free_run_locked(pfn[i], j - i);
		i = j;
	}
	buddy_unlock(true);
}

uint64_t kv_buddy_nr_free(void)
{
	return __atomic_load_n(&kv.nr_free, __ATOMIC_RELAXED);
}

/*
 * Per-thread order-0 cache.  Refilled in batches stored so that pops come
 * out in ascending address order (runs the vmap path can map in one call).
 */
/*
 * The page caches of a thread are reachable by reclaim in other threads
 * (kv_tcache_drain_pages_all()), so they sit under the thread's page_lock,
 * a spinlock its owner takes uncontended but for the rare remote drain.
 */
static void tc_page_lock(struct kv_tcache *tc)
{
	while (__atomic_exchange_n(&tc->page_lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&tc->page_lock, __ATOMIC_RELAXED))
			;
}

static void tc_page_unlock(struct kv_tcache *tc)
{
	__atomic_store_n(&tc->page_lock, 0, __ATOMIC_RELEASE);
}

static uint32_t pcp_alloc(struct kv_tcache *tc)
{
	uint32_t got[KV_PCP_BATCH];
	unsigned n = 0, i;
	uint32_t pfn;

	tc_page_lock(tc);
	if (likely(tc->pcp_count)) {
		pfn = tc->pcp[tc->pcp_count - 1];
		__atomic_store_n(&tc->pcp_count, tc->pcp_count - 1,
				 __ATOMIC_RELAXED);
		tc_page_unlock(tc);
		return pfn;
	}
	buddy_lock();
	while (n < KV_PCP_BATCH && (pfn = buddy_take(0)) != KV_PFN_NONE)
		got[n++] = pfn;
	buddy_unlock(false);
	for (i = 1; i < n; i++) {
		kv_pg_set_state(&kv.desc[got[i]], KV_PG_PCP);
		tc->pcp[n - 1 - i] = got[i];
	}
	if (n)
		__atomic_store_n(&tc->pcp_count, n - 1, __ATOMIC_RELAXED);
	tc_page_unlock(tc);
	return n ? got[0] : KV_PFN_NONE;
}

static void pcp_free(struct kv_tcache *tc, uint32_t pfn)
{
	uint32_t c;

	tc_page_lock(tc);
	c = tc->pcp_count;
	if (unlikely(c >= kv.pcp_high)) {
		unsigned half = c / 2, i;

		buddy_lock();
		for (i = 0; i < half; i++)
			buddy_free_block(tc->pcp[i], 0);
		buddy_unlock(true);
		memmove(tc->pcp, tc->pcp + half,
			(c - half) * sizeof(tc->pcp[0]));
		c -= half;
	}
	kv_pg_set_state(&kv.desc[pfn], KV_PG_PCP);
	tc->pcp[c] = pfn;
	__atomic_store_n(&tc->pcp_count, c + 1, __ATOMIC_RELAXED);
	tc_page_unlock(tc);
}

/*
 * Per-thread cache of higher-order blocks (orders 1..KV_HCP_MAX_ORDER): a
 * few blocks per order, at most kv.hcp_high pages per thread.  It only
 * ever holds blocks that were free, so the fail-fast attempt stays
 * fail-fast: a hit here is a block of that order that was free.
 */
static unsigned hcp_depth(unsigned order)
{
	return order < 5 ? KV_HCP_DEPTH : KV_HCP_DEPTH / 2;
}

static uint32_t hcp_alloc(struct kv_tcache *tc, unsigned order)
{
	uint32_t pfn = KV_PFN_NONE;
	uint8_t c;

	tc_page_lock(tc);
	c = tc->hcp_count[order];
	if (c) {
		tc->hcp_count[order] = --c;
		__atomic_store_n(&tc->hcp_pages, tc->hcp_pages - (1u << order),
				 __ATOMIC_RELAXED);
		pfn = tc->hcp[order][c];
	}
	tc_page_unlock(tc);
	return pfn;
}

static bool hcp_free(struct kv_tcache *tc, uint32_t pfn, unsigned order)
{
	uint8_t c;

	tc_page_lock(tc);
	c = tc->hcp_count[order];
	if (c >= hcp_depth(order) ||
	    tc->hcp_pages + (1u << order) > kv.hcp_high) {
		tc_page_unlock(tc);
		return false;
	}
	kv_pg_set_state(&kv.desc[pfn], KV_PG_PCP);
	kv.desc[pfn].order = (uint8_t)order;
	tc->hcp[order][c] = pfn;
	tc->hcp_count[order] = c + 1;
	__atomic_store_n(&tc->hcp_pages, tc->hcp_pages + (1u << order),
			 __ATOMIC_RELAXED);
	tc_page_unlock(tc);
	return true;
}

void kv_pcp_drain(struct kv_tcache *tc)
{
	unsigned o, i;

	tc_page_lock(tc);
	if (!tc->pcp_count && !tc->hcp_pages) {
		tc_page_unlock(tc);
		return;
	}
	buddy_lock();
	for (i = 0; i < tc->pcp_count; i++)
		buddy_free_block(tc->pcp[i], 0);
	for (o = 1; o <= KV_HCP_MAX_ORDER; o++) {
		for (i = 0; i < tc->hcp_count[o]; i++)
			buddy_free_block(tc->hcp[o][i], o);
		tc->hcp_count[o] = 0;
	}
	kv_mutex_unlock(&kv.buddy_lock);
	__atomic_store_n(&tc->pcp_count, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&tc->hcp_pages, 0, __ATOMIC_RELAXED);
	tc_page_unlock(tc);
	kv_reclaim_wake();
}

uint32_t kv_page_try(unsigned order)
{
	struct kv_tcache *tc = kv_tcache();
	uint32_t pfn;

	kv_tcache_check_drain(tc);
	if (order == 0) {
		pfn = pcp_alloc(tc);
	} else {
		pfn = order <= KV_HCP_MAX_ORDER ? hcp_alloc(tc, order) :
						  KV_PFN_NONE;
		/*
		 * Nothing free that large: fail without the lock.  The mask
		 * may be stale, which a fail-fast attempt can afford.
		 */
		if (pfn == KV_PFN_NONE &&
		    __atomic_load_n(&kv.free_mask, __ATOMIC_RELAXED) >> order) {
			buddy_lock();
			pfn = buddy_take(order);
			buddy_unlock(false);
		}
	}
	/*
	 * Before an order-0 request fails, the blocks this thread caches go
	 * back to be split.  Higher orders fail fast instead: reclaim (or the
	 * vmap fallback) is the caller's business.
	 */
	if (pfn == KV_PFN_NONE && order == 0 &&
	    __atomic_load_n(&tc->hcp_pages, __ATOMIC_RELAXED)) {
		kv_pcp_drain(tc);
		return kv_page_try(order);
	}
	if (pfn != KV_PFN_NONE) {
		kv_pg_set_state(&kv.desc[pfn], KV_PG_USED);
		kv.desc[pfn].order = (uint8_t)order;
		populate_pages(pfn, 1u << order);
	}
	return pfn;
}

void kv_page_free(uint32_t pfn, unsigned order)
{
	struct kv_tcache *tc = kv_tcache();

	if (order == 0) {
		pcp_free(tc, pfn);
		return;
	}
	if (order <= KV_HCP_MAX_ORDER && hcp_free(tc, pfn, order))
		return;
	kv_buddy_free(pfn, order);
}

void kv_buddy_free(uint32_t pfn, unsigned order)
{
	buddy_lock();
	buddy_free_block(pfn, order);
	buddy_unlock(true);
}

uint32_t kv_pages_get(unsigned order, kv_gfp_t gfp)
{
	unsigned attempt = 0;
	uint32_t pfn;

	while ((pfn = kv_page_try(order)) == KV_PFN_NONE)
		if (!kv_reclaim_retry(gfp, &attempt))
			break;
	return pfn;
}

int kv_arena_init(size_t budget)
{
	unsigned o;
	int err;

	budget &= ~(KV_PAGE_SIZE - 1);
	if (budget < 64 * KV_PAGE_SIZE ||
	    (budget >> KV_PAGE_SHIFT) >= KV_PFN_NONE)
		return -EINVAL;
	kv.memfd = memfd_create("kvalloc", MFD_CLOEXEC);
	if (kv.memfd < 0)
		return -errno;
	if (ftruncate(kv.memfd, (off_t)budget) < 0)
		goto fail_fd;
	kv.base = mmap(NULL, budget, PROT_READ | PROT_WRITE, MAP_SHARED,
		       kv.memfd, 0);
	if (kv.base == MAP_FAILED)
		goto fail_fd;
	kv.size = budget;
	kv.npages = (uint32_t)(budget >> KV_PAGE_SHIFT);
	kv.desc =
		mmap(NULL, kv.npages * sizeof(*kv.desc), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kv.desc == MAP_FAILED)
		goto fail_map;
	kv.populated = mmap(NULL, nr_granules(), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kv.populated == MAP_FAILED)
		goto fail_desc;
#ifdef KV_ASAN
	kv.armed = mmap(NULL, nr_sections(), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (kv.armed == MAP_FAILED) {
		err = -errno;
		munmap(kv.populated, nr_granules());
		munmap(kv.desc, kv.npages * sizeof(*kv.desc));
		munmap(kv.base, budget);
		close(kv.memfd);
		return err;
	}
#endif
	kv_mutex_init(&kv.buddy_lock, kv.lc_buddy);
	for (o = 0; o <= KV_MAX_ORDER; o++)
		kv.free_head[o] = KV_PFN_NONE;
	kv.free_mask = 0;
	kv.nr_free = 0;
	/* free pages are poisoned (arm_pages()): handed out, they unpoison */
	buddy_free_run_locked(0, kv.npages);
	kv.pcp_high = kv.npages / 512;
	if (kv.pcp_high > KV_PCP_MAX)
		kv.pcp_high = KV_PCP_MAX;
	if (kv.pcp_high < KV_PCP_BATCH)
		kv.pcp_high = KV_PCP_BATCH;
	kv.hcp_high = kv.npages / 128;
	if (kv.hcp_high > KV_HCP_PAGES)
		kv.hcp_high = KV_HCP_PAGES;
	kv.mag_bytes = (uint32_t)(budget / 1024);
	if (kv.mag_bytes > 65536)
		kv.mag_bytes = 65536;
	if (kv.mag_bytes < 8192)
		kv.mag_bytes = 8192;
	return 0;

fail_desc:
	err = -errno;
	munmap(kv.desc, kv.npages * sizeof(*kv.desc));
	munmap(kv.base, budget);
	close(kv.memfd);
	return err;
fail_map:
	err = -errno;
	munmap(kv.base, budget);
	close(kv.memfd);
	return err;
fail_fd:
	err = -errno;
	close(kv.memfd);
	return err;
}

/*
 * Before any page is handed out (none is poisoned yet): every page is free
 * and still the memfd's zeros, so writing a zero changes nothing.  The
 * granules are populated first, in one call each, as populate_pages().
 */
void kv_arena_prefault(void)
{
	volatile uint8_t *p = (volatile uint8_t *)kv.base;
	size_t g, off;

	for (g = 0; g < nr_granules(); g++)
		populate_pages(
			(uint32_t)(g << (KV_POPULATE_SHIFT - KV_PAGE_SHIFT)),
			1);
	for (off = 0; off < kv.size; off += KV_PAGE_SIZE)
		p[off] = 0;
}

void kv_arena_fini(void)
{
#ifdef KV_ASAN
	size_t s;

	/* the addresses go back to the system: leave no stale poison */
	for (s = 0; s < nr_sections(); s++)
		if (kv.armed[s])
			kv_unpoison(kv.base + (s << KV_SECTION_SHIFT),
				    section_len(s));
	munmap(kv.armed, nr_sections());
	kv.armed = NULL;
#endif
	munmap(kv.populated, nr_granules());
	kv.populated = NULL;
	munmap(kv.desc, kv.npages * sizeof(*kv.desc));
	munmap(kv.base, kv.size);
	close(kv.memfd);
	kv_mutex_destroy(&kv.buddy_lock);
	kv.desc = NULL;
	kv.base = NULL;
	kv.size = 0;
	kv.npages = 0;
}
