// SPDX-License-Identifier: GPL-2.0
/*
 * Fragmentation forces the vmap fallback: with every other page of the arena
 * in use, a high-order kvmalloc fails fast (no reclaim pass) and comes back
 * from the vmap window, and data written across its page boundaries is the
 * data seen through the direct map.  So does an object of a slab class
 * above a page, whose slab needs a block of two pages: even under NOFAIL,
 * which had waited for ever.  Once everything is freed the buddy
 * coalesces back to whole top-order blocks.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "alloc/internal.h"
#include "tests/check.h"

#define BUDGET (16u << 20)
#define NPAGES (BUDGET / KV_PAGE_SIZE)

static void *pg[NPAGES];

int main(void)
{
	struct kv_config cfg = { .budget_bytes = BUDGET };
	struct kv_stats before, after;
	unsigned n = 0, i;
	unsigned char *p;
	void *q, *r;
	void *big[NPAGES >> KV_MAX_ORDER];
	size_t j;

	CHECK_EQ(kv_init(&cfg), 0);

	/* unfragmented: the high-order attempt succeeds */
	p = kvmalloc(64 << 10, 0);
	CHECK(p && !kv_is_vmap(p));
	kvfree(p);

	while (n < NPAGES &&
	       (pg[n] = kv_alloc_pages(0, KV_NORETRY | KV_NOWARN)))
		n++;
	CHECK(n > NPAGES - 16);
	for (i = 1; i < n; i += 2)
		kv_free_pages(pg[i], 0);

	kv_stats(&before);
	p = kvmalloc(64 << 10, 0);
	kv_stats(&after);
	CHECK(p);
	CHECK(kv_is_vmap(p));
	CHECK_EQ(after.highorder_attempts, before.highorder_attempts + 1);
	CHECK_EQ(after.highorder_failfast, before.highorder_failfast + 1);
	CHECK_EQ(after.vmap_fallbacks, before.vmap_fallbacks + 1);
	CHECK_EQ(after.reclaim_passes, before.reclaim_passes);
	CHECK_EQ(after.vmap_areas_live, before.vmap_areas_live + 1);

	/* a pattern across the page boundaries, read back both ways */
	for (j = 0; j < (64 << 10); j++)
		p[j] = (unsigned char)(j ^ (j >> 12) ^ 0x3c);
	for (j = 0; j < (64 << 10); j++) {
		unsigned char *d = kv_vmap_to_direct(p + j);

		CHECK(d);
		CHECK(*d == (unsigned char)(j ^ (j >> 12) ^ 0x3c));
		CHECK(p[j] == *d);
	}
	/* the pages really are scattered: not one contiguous direct run */
	CHECK((unsigned char *)kv_vmap_to_direct(p + (60 << 10)) !=
	      (unsigned char *)kv_vmap_to_direct(p) + (60 << 10));
	kvfree(p);

	/* no two free pages adjacent: no slab of two pages (SIGALRM if stuck) */
	alarm(30);
	q = kvmalloc(5000, 0);
	CHECK(q && kv_is_vmap(q));
	r = kvmalloc(5000, KV_NOFAIL | KV_ZERO);
	CHECK(r && kv_is_vmap(r));
	alarm(0);
	memset(q, 0x5a, 5000);
	for (j = 0; j < 5000; j++)
		CHECK(((unsigned char *)r)[j] == 0);
	kvfree(q);
	kvfree(r);

	for (i = 0; i < n; i += 2)
		kv_free_pages(pg[i], 0);
	kv_drain_caches();
	kv_stats(&after);
	CHECK_EQ(after.pages_free, after.pages_total);
	CHECK_EQ(after.vmap_areas_live, 0);
	CHECK(after.vmap_lazy_purges > 0);

	/* coalesced: the whole arena comes back as top-order blocks */
	for (i = 0; i < (NPAGES >> KV_MAX_ORDER); i++) {
		big[i] = kv_alloc_pages(KV_MAX_ORDER, 0);
		CHECK(big[i]);
	}
	CHECK(kv_alloc_pages(0, KV_NORETRY | KV_NOWARN) == NULL);
	for (i = 0; i < (NPAGES >> KV_MAX_ORDER); i++)
		kv_free_pages(big[i], KV_MAX_ORDER);
	kv_stats(&after);
	CHECK_EQ(after.pages_free, after.pages_total);
	CHECK_EQ(after.live_allocs, 0);
	kv_fini();
	return 0;
}
