// SPDX-License-Identifier: GPL-2.0
/*
 * KV_NOFAIL never returns NULL: with the vmap window full, the budget
 * exhausted, or a costly page order unavailable, a NOFAIL allocation waits
 * until another thread frees, then succeeds.  Its waits back off (few
 * retries over a long wait), a free ends the wait in progress, and a
 * request nothing could ever satisfy aborts instead of returning NULL.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "tests/alloc/child.h"

#define BUDGET (8u << 20)
#define WINDOW (1u << 20) /* 256 pages, one zone */
#define MAXOBJ 4096

static void *obj[MAXOBJ];
static unsigned nr_obj;

enum kind { KVMALLOC, VMALLOC, PAGES };

struct waiter {
	enum kind kind;
	void *p;
	int done;
};

static void *nofail_alloc(enum kind kind, kv_gfp_t gfp)
{
	switch (kind) {
	case KVMALLOC:
		return kvmalloc(256 << 10, gfp);
	case VMALLOC:
		return kv_vmalloc(128 << 10, gfp);
	default:
		return kv_alloc_pages(5, gfp);
	}
}

static void nofail_free(enum kind kind, void *p)
{
	if (kind == PAGES)
		kv_free_pages(p, 5);
	else
		kvfree(p);
}

static void *waiter_fn(void *arg)
{
	struct waiter *w = arg;

	w->p = nofail_alloc(w->kind, KV_NOFAIL);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void setup(void)
{
	struct kv_config cfg = { .budget_bytes = BUDGET,
				 .vmap_zones = 1,
				 .vmap_window = WINDOW };

	CHECK_EQ(kv_init(&cfg), 0);
}

/* Take everything kind competes for: the window or the budget. */
static void fill(enum kind kind)
{
	void *p;

	nr_obj = 0;
	if (kind == VMALLOC) {
		while (nr_obj < MAXOBJ &&
		       (p = kv_vmalloc(128 << 10, KV_NOWARN)))
			obj[nr_obj++] = p;
	} else {
		while (nr_obj < MAXOBJ && (p = kv_alloc_pages(0, KV_NOWARN)))
			obj[nr_obj++] = p;
	}
	CHECK(nr_obj > 0 && nr_obj < MAXOBJ);
	CHECK(nofail_alloc(kind, KV_NOWARN) == NULL);
}

static void release_all(enum kind kind)
{
	while (nr_obj) {
		void *p = obj[--nr_obj];

		if (kind == VMALLOC)
			kv_vfree(p);
		else
			kv_free_pages(p, 0);
	}
}

/* until the waiter has waited n times (or failed: NULL is the bug) */
static void wait_retries(struct waiter *w, uint64_t n)
{
	uint64_t deadline = ms_now() + 20000;
	struct kv_stats st;

	for (;;) {
		CHECK(!__atomic_load_n(&w->done, __ATOMIC_ACQUIRE));
		kv_stats(&st);
		if (st.nofail_retries >= n)
			return;
		CHECK(ms_now() < deadline);
		usleep(1000);
	}
}

/*
 * The waiter blocks while the resource is full; waiting about a second
 * costs it a handful of retries; one free ends its current wait (no
 * timeout expires after the free) and it succeeds.
 */
static void test_waiter(enum kind kind)
{
	struct waiter w = { .kind = kind };
	struct kv_stats a, b;
	uint64_t t0, held;
	pthread_t t;

	setup();
	fill(kind);
	t0 = ms_now();
	CHECK_EQ(pthread_create(&t, NULL, waiter_fn, &w), 0);
	wait_retries(&w, 1);
	usleep(1000 * 1000);
	/* the backoff is past 64 ms now: a wake is what ends this wait */
	wait_retries(&w, 7);
	kv_stats(&a);
	held = ms_now() - t0;
	/* 1 ms doubling to 256 ms: about 12 waits in a second (was ~480) */
	if (a.nofail_retries > 12 + held / 100)
		fprintf(stderr, "%llu NOFAIL retries in %llu ms\n",
			(unsigned long long)a.nofail_retries,
			(unsigned long long)held);
	CHECK(a.nofail_retries <= 12 + held / 100);
	if (kind == VMALLOC)
		kv_vfree(obj[--nr_obj]);
	else
		release_all(kind);
	pthread_join(t, NULL);
	CHECK(w.p);
	memset(w.p, 0x5a, kind == KVMALLOC ? 256 << 10 : 128 << 10);
	kv_stats(&b);
	CHECK_EQ(b.nofail_timeouts, a.nofail_timeouts);
	nofail_free(kind, w.p);
	release_all(kind);
	CHECK_EQ(kv_fini(), 0);
}

static void huge_kvmalloc(void)
{
	setup();
	kvmalloc(2 * BUDGET, KV_NOFAIL);
}

static void huge_vmalloc(void)
{
	setup();
	kv_vmalloc(2 * WINDOW, KV_NOFAIL);
}

static void huge_calloc(void)
{
	setup();
	kvcalloc(SIZE_MAX / 2, 3, KV_NOFAIL);
}

/* No NULL even for a request nothing could satisfy: a loud abort. */
static void test_impossible(void (*fn)(void))
{
	char err[4096];
	int status = run_child(fn, err, sizeof(err));

	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "BUG: NOFAIL allocation"));
}

int main(void)
{
	test_waiter(VMALLOC);
	test_waiter(KVMALLOC);
	test_waiter(PAGES);
	test_impossible(huge_kvmalloc);
	test_impossible(huge_vmalloc);
	test_impossible(huge_calloc);
	printf("kvalloc nofail: ok\n");
	return 0;
}
