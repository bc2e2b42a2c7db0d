// SPDX-License-Identifier: GPL-2.0
/*
 * The lazy purge list is bounded: built with a tiny list (KV_VMAP_RANGES_MAX)
 * and area cache, threads free vmap areas concurrently into one zone while
 * purges run; no list ever holds more ranges than it has room for.
 */
#include <pthread.h>

#include "alloc/kvalloc.h"
#include "tests/check.h"

#define THREADS 8
#define ROUNDS 400
#define BATCH 16

static void *freer(void *arg)
{
	void *p[BATCH];
	unsigned r, i;

	(void)arg;
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < BATCH; i++)
			CHECK((p[i] = kv_vmalloc(KV_PAGE_SIZE * (1 + i % 3),
						 KV_NOFAIL)));
		for (i = 0; i < BATCH; i++)
			kv_vfree(p[i]);
	}
	return NULL;
}

int main(void)
{
	/* no size-driven purge: only the list's bound can trigger one */
	struct kv_config cfg = { .budget_bytes = 64u << 20,
				 .vmap_zones = 1,
				 .purge_batch = 1u << 30 };
	pthread_t t[THREADS];
	struct kv_stats st;
	unsigned i;

	CHECK_EQ(kv_init(&cfg), 0);
	for (i = 0; i < THREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, freer, NULL), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	kv_stats(&st);
	CHECK(st.vmap_lazy_purges > 0);
	if (st.vmap_lazy_max > KV_VMAP_RANGES_MAX)
		fprintf(stderr, "lazy list held %llu ranges, room for %u\n",
			(unsigned long long)st.vmap_lazy_max,
			KV_VMAP_RANGES_MAX);
	CHECK(st.vmap_lazy_max <= KV_VMAP_RANGES_MAX);
	CHECK_EQ(kv_fini(), 0);
	printf("kvalloc lazy: ok (lazy list at most %llu)\n",
	       (unsigned long long)st.vmap_lazy_max);
	return 0;
}
