// SPDX-License-Identifier: GPL-2.0
/*
 * The vmap area allocator: threads get distinct home zones (one zone in the
 * single_vmap_zone build), frees find their zone from the address, freed
 * ranges are unmapped lazily in batches and really unmapped after a purge,
 * and a freed area can be reused whole before it is purged.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/internal.h"
#include "tests/check.h"

#define NTHREADS 4

static unsigned zone_index(const void *p)
{
	return (unsigned)(((uintptr_t)p - (uintptr_t)kv.win) / kv.zone_size);
}

static void *zone_user(void *arg)
{
	unsigned *zone = arg;
	void *p = kv_vmalloc(3 * KV_PAGE_SIZE, 0);

	CHECK(p);
	*zone = zone_index(p);
	memset(p, 7, 3 * KV_PAGE_SIZE);
	kv_vfree(p);
	return NULL;
}

static void test_home_zones(void)
{
	unsigned zone[NTHREADS], i;
	pthread_t t[NTHREADS];
	struct kv_stats st;

	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, zone_user, &zone[i]), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	kv_stats(&st);
#ifdef KV_SINGLE_VMAP_ZONE
	CHECK_EQ(st.vmap_zones, 1);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(zone[i], 0);
#else
	CHECK(st.vmap_zones >= 4);
	for (i = 0; i < NTHREADS; i++)
		for (unsigned j = i + 1; j < NTHREADS; j++)
			CHECK(zone[i] != zone[j]);
#endif
	CHECK_EQ(st.vmap_areas_live, 0);
}

/* With a purge batch of 64 pages, frees of 5..9-page areas purge in batches. */
static void test_lazy_purge(void)
{
	struct kv_stats a, b;
	void *p[300];
	unsigned i;

	kv_vmap_purge();
	kv_stats(&a);
	/* more than the zone's area cache keeps: many go to the lazy list */
	for (i = 0; i < 300; i++) {
		p[i] = kv_vmalloc((i % 5 + 5) * KV_PAGE_SIZE, 0);
		CHECK(p[i]);
	}
	for (i = 0; i < 300; i++)
		kv_vfree(p[i]);
	kv_stats(&b);
	CHECK(b.vmap_lazy_purges > a.vmap_lazy_purges);
	/* batched: every purge so far unmapped a whole batch */
	CHECK(b.vmap_pages_purged - a.vmap_pages_purged >=
	      64 * (b.vmap_lazy_purges - a.vmap_lazy_purges));
	kv_vmap_purge();
	kv_stats(&b);
	CHECK_EQ(b.vmap_areas_live, 0);
	CHECK_EQ(b.vmap_cache_pages, 0);
}

/* After a purge the old address faults: the mapping is really gone. */
static void test_unmapped_after_purge(void)
{
	volatile unsigned char *p = kv_vmalloc(2 * KV_PAGE_SIZE, 0);
	int status;
	pid_t pid;

	CHECK(p);
	p[KV_PAGE_SIZE] = 1;
	kv_vfree((void *)p);
	kv_vmap_purge();
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		p[KV_PAGE_SIZE] = 2;
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
}

/* A freed area is kept mapped and handed out whole to a same-sized request. */
static void test_area_cache(void)
{
	unsigned char *p, *q, *d1, *d2;
	struct kv_stats a, b;

	kv_vmap_purge();
	p = kv_vmalloc(8 * KV_PAGE_SIZE, 0);
	CHECK(p);
	d1 = kv_vmap_to_direct(p);
	kv_vfree(p);
	kv_stats(&a);
	q = kv_vmalloc(8 * KV_PAGE_SIZE, KV_ZERO);
	kv_stats(&b);
	CHECK(q == p);
	d2 = kv_vmap_to_direct(q);
	CHECK(d1 == d2);
	CHECK_EQ(b.pages_free, a.pages_free); /* no new pages */
	CHECK(q[0] == 0 && q[8 * KV_PAGE_SIZE - 1] == 0);
	kv_vfree(q);
	/* a purge returns the cached area's pages */
	kv_stats(&a);
	kv_vmap_purge();
	kv_stats(&b);
	CHECK(b.pages_free + b.pcp_pages >= a.pages_free + a.pcp_pages + 8);
}

/*
 * A window of four 32-page zones: a second 20-page area does not fit the
 * home zone and is stolen from another; once the first is freed, a 30-page
 * area makes the home zone purge and fits there again.
 */
static void test_steal_and_purge(void)
{
	struct kv_config cfg = { .budget_bytes = 4u << 20,
				 .vmap_zones = 4,
				 .vmap_window = 4 * 32 * KV_PAGE_SIZE };
	void *a, *b, *c;

	CHECK_EQ(kv_init(&cfg), 0);
	a = kv_vmalloc(20 * KV_PAGE_SIZE, 0);
	b = kv_vmalloc(20 * KV_PAGE_SIZE, 0);
	CHECK(a && b);
#ifdef KV_SINGLE_VMAP_ZONE
	CHECK_EQ(kv.nzones, 1);
	CHECK_EQ(zone_index(a), zone_index(b));
#else
	CHECK_EQ(kv.nzones, 4);
	CHECK(zone_index(a) != zone_index(b));
#endif
	kv_vfree(a);
	c = kv_vmalloc(30 * KV_PAGE_SIZE, 0);
	CHECK(c);
	CHECK_EQ(zone_index(c), zone_index(a));
	memset(c, 1, 30 * KV_PAGE_SIZE);
	kv_vfree(b);
	kv_vfree(c);
	kv_fini();
}

/*
 * Mappings are bounded (vm.max_map_count is per process): past the limit
 * lazy and cached areas are purged first, then allocation fails cleanly,
 * and freed areas make room again.
 */
static void test_map_limit(void)
{
	struct kv_config cfg = { .budget_bytes = 32u << 20 };
	static void *p[2048];
	unsigned n = 0, i;

	CHECK_EQ(kv_init(&cfg), 0);
	CHECK(kv.vmap_limit >= 4096 / 4 * 3);
	kv.vmap_limit = 1000;
	while (n < 2048 && (p[n] = kv_vmalloc(KV_PAGE_SIZE, KV_NOWARN)))
		n++;
	CHECK(n >= 900 && n <= 1000);
	CHECK(kv.vmaps <= kv.vmap_limit);
	for (i = 0; i < n; i += 2)
		kv_vfree(p[i]);
	/*
	 * The freed areas sit cached or lazy: new sizes need them purged.
	 * Two pages may take two mappings.
	 */
	for (i = 0; i < n; i += 4) {
		p[i] = kv_vmalloc(2 * KV_PAGE_SIZE, KV_NOWARN);
		CHECK(p[i]);
		memset(p[i], 3, 2 * KV_PAGE_SIZE);
	}
	CHECK(kv.vmaps <= kv.vmap_limit);
	for (i = 0; i < n; i++)
		if (i % 4 != 2)
			kv_vfree(p[i]);
	kv_fini();
}

static long minor_faults(void)
{
	struct rusage ru;

	CHECK_EQ(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_minflt;
}

/*
 * kv_prefault() maps a fresh area's pages: filling it then faults on few
 * of them (under ASan, some on the shadow), not on each of its 1024.
 */
static void test_prefault(void)
{
	size_t len = 4u << 20;
	uint8_t *p;
	long before;

	kv_vmap_purge(); /* no cached area, still mapped, serves it */
	p = kv_vmalloc(len, 0);
	CHECK(p);
	kv_prefault(p, len);
	before = minor_faults();
	for (size_t i = 0; i < len; i += KV_PAGE_SIZE)
		p[i] = 1;
	CHECK(minor_faults() - before < (long)(len / KV_PAGE_SIZE / 4));
	kv_vfree(p);
}

/*
 * A mapping a run of consecutive pages, not a page: an area larger in
 * pages than the mappings left fits when its pages come in runs (fsck's
 * block map of an 8 TiB filesystem: 65 536 pages, under a limit of
 * 49 000 mappings).
 */
static void test_large_area(void)
{
	struct kv_config cfg = { .budget_bytes = 32u << 20 };
	size_t len = 16u << 20;
	uint8_t *p;

	CHECK_EQ(kv_init(&cfg), 0);
	kv.vmap_limit = 100;
	p = kv_vmalloc(len, KV_NOWARN);
	CHECK(p);
	CHECK(kv.vmaps <= kv.vmap_limit);
	memset(p, 5, len);
	CHECK_EQ(p[len - 1], 5);
	kv_vfree(p);
	kv_fini();
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 32u << 20, .purge_batch = 64 };
	struct kv_stats st;

	CHECK_EQ(kv_init(&cfg), 0);
	test_home_zones();
	test_lazy_purge();
	test_unmapped_after_purge();
	test_area_cache();
	test_prefault();
	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(st.live_allocs, 0);
	kv_fini();
	test_steal_and_purge();
	test_map_limit();
	test_large_area();
	return 0;
}
