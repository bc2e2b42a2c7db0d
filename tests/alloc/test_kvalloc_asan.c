// SPDX-License-Identifier: GPL-2.0
/*
 * ASan builds only: AddressSanitizer sees inside the arena.  A read of a
 * freed slab object, a write past a slab object's requested size, a read
 * of a freed page block and of a freed (cached) vmap area each kill the
 * process with an ASan report; so does a read of a free page that was
 * never handed out (the arena is poisoned a section at a time, lazily),
 * also when kv_init() wrote every page (kv_config.prefault).
 */
#include <signal.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "tests/alloc/child.h"

static volatile char sink;

static void setup(void)
{
	struct kv_config cfg = { .budget_bytes = 16u << 20 };

	CHECK_EQ(kv_init(&cfg), 0);
}

static void slab_uaf(void)
{
	char *p;

	setup();
	p = kvmalloc(100, 0);
	kvfree(p);
	sink = p[10];
}

static void slab_overflow(void)
{
	char *p;

	setup();
	p = kvmalloc(100, 0); /* a 112-byte object */
	p[99] = 1;
	p[104] = 1;
}

static void cache_uaf(void)
{
	struct kv_cache *c;
	char *p;

	setup();
	c = kv_cache_create("asan_test", 48, 0);
	p = kv_cache_alloc(c, 0);
	kv_cache_free(c, p);
	sink = p[0];
}

static void block_uaf(void)
{
	char *p;

	setup();
	p = kvmalloc(64 << 10, 0);
	CHECK(!kv_is_vmap(p));
	kvfree(p);
	sink = p[5000];
}

/* p's buddy went back to the free lists when p's block was split. */
static void never_allocated(void)
{
	char *p;

	setup();
	p = kvmalloc(64 << 10, 0);
	CHECK(!kv_is_vmap(p));
	sink = p[(64 << 10) + 5000];
}

/* the same with every page written at kv_init (kv_config.prefault) */
static void never_allocated_prefault(void)
{
	struct kv_config cfg = { .budget_bytes = 16u << 20, .prefault = true };
	char *p;

	CHECK_EQ(kv_init(&cfg), 0);
	p = kvmalloc(64 << 10, 0);
	CHECK(!kv_is_vmap(p));
	sink = p[(64 << 10) + 5000];
}

static void vmap_uaf(void)
{
	char *p;

	setup();
	p = kv_vmalloc(64 << 10, 0);
	kvfree(p);
	sink = p[5000];
}

static void check_reported(void (*fn)(void), const char *what)
{
	char err[16384];
	int status = run_child(fn, err, sizeof(err));

	if (!strstr(err, "use-after-poison"))
		fprintf(stderr, "%s: no ASan report; status %#x, stderr: %s\n",
			what, status, err);
	CHECK(strstr(err, "use-after-poison"));
	CHECK(WIFSIGNALED(status) ||
	      (WIFEXITED(status) && WEXITSTATUS(status) != 0));
}

/* What is handed out stays usable: ksize'd slack, zeroed memory. */
static void test_no_false_reports(void)
{
	char *p, *q;

	setup();
	p = kvmalloc(100, 0);
	memset(p, 1, kv_ksize(p));
	p = kvrealloc(p, 4000, 0);
	memset(p, 2, 4000);
	q = kvzalloc(100 << 10, 0);
	memset(q, 3, 100 << 10);
	kvfree(q);
	q = kv_vmalloc(64 << 10, KV_ZERO);
	memset(q, 4, 64 << 10);
	kvfree(q);
	kvfree(p);
	kv_drain_caches();
	CHECK_EQ(kv_fini(), 0);
}

int main(void)
{
	check_reported(slab_uaf, "slab use-after-free");
	check_reported(slab_overflow, "slab overflow");
	check_reported(cache_uaf, "named cache use-after-free");
	check_reported(block_uaf, "page block use-after-free");
	check_reported(vmap_uaf, "vmap use-after-free");
	check_reported(never_allocated, "free page never handed out");
	check_reported(never_allocated_prefault,
		       "free page never handed out, arena prefaulted");
	test_no_false_reports();
	printf("kvalloc asan: ok\n");
	return 0;
}
