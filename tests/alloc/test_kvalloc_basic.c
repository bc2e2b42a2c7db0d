// SPDX-License-Identifier: GPL-2.0
/*
 * kvalloc API: every allocation kind, kvcalloc overflow, kvrealloc, named
 * caches, the vmap path seen through both addresses, alignment, stats
 * names, and kv_fini/kv_init cycles returning the arena whole.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc/internal.h"
#include "tests/check.h"

static void check_all_free(void)
{
	struct kv_stats st;

	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(st.live_allocs, 0);
	CHECK_EQ(st.vmap_areas_live, 0);
}

/*
 * The first page handed out of a granule faults the whole granule in: its
 * last page is resident though nobody touched it.  Run on a fresh arena.
 */
static void test_populate_granule(void)
{
	size_t g = 1ul << KV_POPULATE_SHIFT;
	unsigned char vec[1] = { 0 };
	char *pg = kv_alloc_pages(0, 0);
	char *last;

	CHECK(pg);
	last = kv.base + ((size_t)(pg - kv.base) & ~(g - 1)) + g - KV_PAGE_SIZE;
	CHECK(last != pg);
	CHECK_EQ(mincore(last, KV_PAGE_SIZE, vec), 0);
	CHECK(vec[0] & 1);
	kv_free_pages(pg, 0);
}

/*
 * kv_config.prefault: every page of the arena is resident before the first
 * allocation (without it only the granules handed out are) and still
 * reads zero; the arena then works as any.
 */
static void test_sizes(void);

static void test_prefault(void)
{
	struct kv_config cfg = { .budget_bytes = 64 << 20, .prefault = true };
	size_t npages, i, resident = 0;
	unsigned char *vec;
	char *p;

	CHECK_EQ(kv_init(&cfg), 0);
	npages = kv.size / KV_PAGE_SIZE;
	vec = calloc(npages, 1);
	CHECK(vec);
	CHECK_EQ(mincore(kv.base, kv.size, vec), 0);
	for (i = 0; i < npages; i++)
		resident += vec[i] & 1;
	CHECK_EQ(resident, npages);
	free(vec);
	p = kvmalloc(1 << 20, 0);
	CHECK(p);
	for (i = 0; i < 1 << 20; i++)
		if (p[i])
			break;
	CHECK_EQ(i, 1 << 20);
	kvfree(p);
	test_sizes();
	CHECK_EQ(kv_fini(), 0);
}

static void test_sizes(void)
{
	static const size_t sizes[] = {
		0,    1,    8,	   9,	  100,	  1024,	   1025,	 4096,
		8192, 8193, 12288, 65536, 100000, 1 << 22, (1 << 22) + 1
	};
	void *p[sizeof(sizes) / sizeof(sizes[0])];
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p[i] = kvmalloc(sizes[i], 0);
		CHECK(p[i]);
		CHECK(kv_ksize(p[i]) >= sizes[i]);
		memset(p[i], (int)i, sizes[i]);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t j;

		for (j = 0; j < sizes[i]; j += 97)
			CHECK(((unsigned char *)p[i])[j] == i);
		if (sizes[i] > 8192 && (uintptr_t)p[i] % KV_PAGE_SIZE)
			CHECK(0);
		kvfree(p[i]);
	}
	/* over 4 MiB there is no buddy order: always vmap */
	p[0] = kvmalloc((1 << 22) + 1, 0);
	CHECK(kv_is_vmap(p[0]));
	kvfree(p[0]);
	kvfree(NULL);
	check_all_free();
}

static void test_zero_calloc_realloc(void)
{
	unsigned char *p;
	size_t i;

	p = kvmalloc(3000, 0);
	memset(p, 0xaa, 3000);
	kvfree(p);
	p = kvzalloc(3000, 0);
	for (i = 0; i < 3000; i++)
		CHECK(p[i] == 0);
	kvfree(p);

	p = kvcalloc(100, 100, 0);
	CHECK(p);
	for (i = 0; i < 10000; i++)
		CHECK(p[i] == 0);
	kvfree(p);
	CHECK(kvcalloc(SIZE_MAX / 2, 3, KV_NOWARN) == NULL);
	CHECK(kvmalloc(SIZE_MAX, KV_NOWARN) == NULL);
	CHECK(kv_vmalloc(SIZE_MAX, KV_NOWARN) == NULL);
	CHECK(kvcalloc((size_t)1 << 33, (size_t)1 << 33, KV_NOWARN) == NULL);

	p = kvrealloc(NULL, 10, 0);
	CHECK(p);
	memcpy(p, "0123456789", 10);
	p = kvrealloc(p, 100000, 0);
	CHECK(p && !memcmp(p, "0123456789", 10));
	p = kvrealloc(p, 20, 0);
	CHECK(p && !memcmp(p, "0123456789", 10));
	CHECK(kvrealloc(p, 0, 0) == NULL);
	check_all_free();
}

static void test_kmalloc_vmalloc_pages(void)
{
	unsigned char *k, *v, *pg, *direct;
	unsigned o;
	size_t i;

	k = kv_kmalloc(KV_SLAB_MAX, 0);
	CHECK(k && !kv_is_vmap(k));
	CHECK(kv_kmalloc(KV_SLAB_MAX + 1, 0) == NULL);
	kv_kfree(k);
	kv_kfree(NULL);

	v = kv_vmalloc(5 * KV_PAGE_SIZE + 1, KV_ZERO);
	CHECK(v && kv_is_vmap(v));
	CHECK_EQ(kv_ksize(v), 6 * KV_PAGE_SIZE);
	for (i = 0; i < 6 * KV_PAGE_SIZE; i++)
		CHECK(v[i] == 0);
	kv_vfree(v);
	kv_vfree(NULL);

	for (o = 0; o <= KV_MAX_ORDER; o++) {
		pg = kv_alloc_pages(o, 0);
		CHECK(pg && (uintptr_t)pg % KV_PAGE_SIZE == 0);
		CHECK_EQ(kv_ksize(pg), KV_PAGE_SIZE << o);
		memset(pg, 1, KV_PAGE_SIZE << o);
		kv_free_pages(pg, o);
	}
	CHECK(kv_alloc_pages(KV_MAX_ORDER + 1, 0) == NULL);

	/* the same memory through the vmap address and the direct map */
	v = kv_vmalloc(3 * KV_PAGE_SIZE, 0);
	CHECK(v);
	for (i = 0; i < 3 * KV_PAGE_SIZE; i++)
		v[i] = (unsigned char)(i * 7 + 1);
	for (i = 0; i < 3 * KV_PAGE_SIZE; i += 509) {
		direct = kv_vmap_to_direct(v + i);
		CHECK(direct && !kv_is_vmap(direct));
		CHECK(*direct == (unsigned char)(i * 7 + 1));
	}
	direct = kv_vmap_to_direct(v + 2 * KV_PAGE_SIZE + 5);
	*direct = 0xee;
	CHECK(v[2 * KV_PAGE_SIZE + 5] == 0xee);
	CHECK(kv_vmap_to_direct(v + 3 * KV_PAGE_SIZE) == NULL);
	kv_vfree(v);
	check_all_free();
}

static void test_align(void)
{
	size_t a;
	void *p;

	for (a = KV_PAGE_SIZE; a <= ((size_t)1 << 24); a <<= 2) {
		p = kv_vmalloc_align(3 * KV_PAGE_SIZE, a, 0);
		CHECK(p && (uintptr_t)p % a == 0);
		memset(p, 3, 3 * KV_PAGE_SIZE);
		kv_vfree(p);
	}
	CHECK(kv_vmalloc_align(KV_PAGE_SIZE, 3 * KV_PAGE_SIZE, KV_NOWARN) ==
	      NULL);
	CHECK(kv_vmalloc_align(KV_PAGE_SIZE, (size_t)1 << 62, KV_NOWARN) ==
	      NULL);
	check_all_free();
}

static void test_named_cache(void)
{
	struct kv_cache *c = kv_cache_create("test_obj", 200, 64);
	void *obj[500];
	unsigned i;

	CHECK(c);
	CHECK(kv_cache_create("bad", 8, 3) == NULL);
	for (i = 0; i < 500; i++) {
		obj[i] = kv_cache_alloc(c, i & 1 ? KV_ZERO : 0);
		CHECK(obj[i] && (uintptr_t)obj[i] % 64 == 0);
		CHECK(kv_ksize(obj[i]) >= 200);
		memset(obj[i], (int)i, 200);
	}
	for (i = 0; i < 500; i++) {
		CHECK(((unsigned char *)obj[i])[199] == (i & 0xff));
		kv_cache_free(c, obj[i]);
	}
	kv_cache_destroy(c);
	check_all_free();
}

static struct kv_cache *remote_cache;
static int remote_state; /* 1: objects freed into its magazine, 2: go */

static void *remote_user(void *arg)
{
	void *obj[32];
	unsigned i;

	(void)arg;
	for (i = 0; i < 32; i++)
		CHECK((obj[i] = kv_cache_alloc(remote_cache, 0)));
	for (i = 0; i < 32; i++)
		kv_cache_free(remote_cache, obj[i]);
	__atomic_store_n(&remote_state, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&remote_state, __ATOMIC_ACQUIRE) != 2)
		usleep(1000);
	return NULL;
}

/* Destroying a cache takes back the objects in a live thread's magazine. */
static void test_cache_destroy_remote(void)
{
	struct kv_stats st;
	pthread_t t;

	remote_cache = kv_cache_create("remote", 512, 0);
	CHECK(remote_cache);
	CHECK_EQ(pthread_create(&t, NULL, remote_user, NULL), 0);
	while (__atomic_load_n(&remote_state, __ATOMIC_ACQUIRE) != 1)
		usleep(1000);
	kv_cache_destroy(remote_cache);
	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.pages_free + st.pcp_pages, st.pages_total);
	__atomic_store_n(&remote_state, 2, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	__atomic_store_n(&remote_state, 0, __ATOMIC_RELEASE);
	check_all_free();
}

static void test_stats_format(void)
{
	static const char *names[] = { "\nhighorder_failfast ",
				       "\nvmap_fallbacks ",
				       "\nnofail_retries ",
				       "\nreclaim_passes ",
				       "pages_free ",
				       "lock.buddy.contended ",
				       "lock.vmap_zone.contended " };
	char buf[8192];
	int n;
	unsigned i;

	n = kv_stats_format(buf, sizeof(buf));
	CHECK(n > 0 && n < (int)sizeof(buf));
	CHECK_EQ(kv_stats_format(NULL, 0), n);
	CHECK_EQ(kv_stats_format(buf, 10), n);
	n = kv_stats_format(buf, sizeof(buf));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK(strstr(buf, names[i]));
	CHECK(buf[n - 1] == '\n');
}

static struct kv_mutex test_lock;
static int held;

static void *contender(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&held, __ATOMIC_ACQUIRE))
		;
	kv_mutex_lock(&test_lock); /* the holder sleeps: this contends */
	kv_mutex_unlock(&test_lock);
	return NULL;
}

/* A contended acquisition is counted once, for its class, on any thread. */
static void test_lock_class(void)
{
	int id = kv_lock_class_register("test_lock");
	uint64_t before;
	pthread_t t;

	CHECK(id >= 0);
	CHECK_EQ(kv_lock_class_register("test_lock"), id);
	CHECK(kv_lock_class_register("") < 0);
	/* enumerable by id, with their names (kvfs-core-bench --stats) */
	CHECK(id < kv_lock_classes());
	CHECK(!strcmp(kv_lock_class_name(id), "test_lock"));
	CHECK(!strcmp(kv_lock_class_name(0), "buddy"));
	CHECK(!kv_lock_class_name(kv_lock_classes()));
	CHECK(!kv_lock_class_name(-1));
	kv_mutex_init(&test_lock, id);
	before = kv_lock_class_contended(id);
	CHECK_EQ(pthread_create(&t, NULL, contender, NULL), 0);
	kv_mutex_lock(&test_lock);
	__atomic_store_n(&held, 1, __ATOMIC_RELEASE);
	usleep(100 * 1000);
	kv_mutex_unlock(&test_lock);
	pthread_join(t, NULL);
	CHECK_EQ(kv_lock_class_contended(id), before + 1);
	CHECK(kv_mutex_trylock(&test_lock));
	kv_mutex_unlock(&test_lock);
	kv_mutex_destroy(&test_lock);
	__atomic_store_n(&held, 0, __ATOMIC_RELEASE);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 64 << 20 };
	struct kv_stats st;
	int round;

	CHECK(!kv_initialized());
	CHECK(kvmalloc(10, KV_NOWARN) == NULL);
	{
		struct kv_config tiny = { .budget_bytes = KV_PAGE_SIZE };

		CHECK(kv_init(&tiny) < 0);
		CHECK(!kv_initialized());
	}
	test_prefault();
	CHECK(!kv_initialized());
	CHECK_EQ(kv_init(NULL), 0);
	CHECK(kv_initialized());
	CHECK(kv_init(NULL) < 0);
	kv_stats(&st);
	CHECK_EQ(st.pages_total, (256 << 20) / KV_PAGE_SIZE);
	kv_fini();
	CHECK(!kv_initialized());

	for (round = 0; round < 2; round++) {
		CHECK_EQ(kv_init(&cfg), 0);
		kv_stats(&st);
		CHECK_EQ(st.pages_total, (64 << 20) / KV_PAGE_SIZE);
		CHECK(st.vmap_zones >= 1);
		test_populate_granule();
		test_sizes();
		test_zero_calloc_realloc();
		test_kmalloc_vmalloc_pages();
		test_align();
		test_named_cache();
		test_cache_destroy_remote();
		test_stats_format();
		test_lock_class();
		kv_fini();
	}
	return 0;
}
