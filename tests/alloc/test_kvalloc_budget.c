// SPDX-License-Identifier: GPL-2.0
/*
 * The budget is real: exhausting it fails with NULL after a reclaim pass
 * (not under NORETRY), freeing recovers; NOFAIL (flag or scope) waits until
 * another thread frees and never returns NULL; kv_fini() reports leaks
 * (fatal under KVALLOC_STRICT) and a later kv_init() starts from a whole
 * arena.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "tests/alloc/child.h"

#define BUDGET (4u << 20)
#define MAXOBJ 65536

static void *obj[MAXOBJ];
static unsigned nr_obj;
static int freed_flag;

static void fill(size_t size, kv_gfp_t flags)
{
	while (nr_obj < MAXOBJ &&
	       (obj[nr_obj] = kvmalloc(size, flags | KV_NOWARN)))
		nr_obj++;
	CHECK(nr_obj < MAXOBJ);
}

static void free_all(void)
{
	while (nr_obj)
		kvfree(obj[--nr_obj]);
}

static void check_whole(void)
{
	struct kv_stats st;

	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(st.live_allocs, 0);
}

static void test_exhaustion(void)
{
	struct kv_stats a, b;
	unsigned first;

	kv_stats(&a);
	fill(100 << 10, 0);
	first = nr_obj;
	CHECK(first > 10);
	kvfree(obj[--nr_obj]);
	fill(64, 0);
	CHECK(nr_obj >= first + 100);
	kv_stats(&b);
	CHECK(b.alloc_failures >= a.alloc_failures + 2);
	CHECK(b.reclaim_passes > a.reclaim_passes);
	CHECK(kvmalloc(1 << 20, KV_NOWARN) == NULL);
	CHECK(kv_vmalloc(1 << 20, KV_NOWARN) == NULL);
	CHECK(kv_alloc_pages(0, KV_NOWARN) == NULL);

	/* NORETRY fails at once, without a reclaim pass */
	kv_stats(&a);
	CHECK(kvmalloc(1 << 20, KV_NORETRY | KV_NOWARN) == NULL);
	kv_stats(&b);
	CHECK_EQ(b.reclaim_passes, a.reclaim_passes);

	free_all();
	check_whole();
	/* recovered: the whole budget is usable again */
	fill(100 << 10, 0);
	CHECK_EQ(nr_obj, first);
	free_all();
	check_whole();
}

static void *late_freer(void *arg)
{
	(void)arg;
	usleep(200 * 1000);
	__atomic_store_n(&freed_flag, 1, __ATOMIC_SEQ_CST);
	free_all();
	return NULL;
}

static void test_nofail(bool scope)
{
	struct kv_stats a, b;
	pthread_t t;
	unsigned s = 0;
	void *p;

	fill(64 << 10, 0);
	fill(KV_PAGE_SIZE, 0);
	CHECK(kvmalloc(256 << 10, KV_NOWARN) == NULL);
	kv_stats(&a);
	__atomic_store_n(&freed_flag, 0, __ATOMIC_SEQ_CST);
	CHECK_EQ(pthread_create(&t, NULL, late_freer, NULL), 0);
	if (scope) {
		s = kv_nofail_save();
		p = kvmalloc(256 << 10, 0);
		kv_nofail_restore(s);
	} else {
		p = kvmalloc(256 << 10, KV_NOFAIL);
	}
	CHECK(p);
	CHECK(__atomic_load_n(&freed_flag, __ATOMIC_SEQ_CST));
	memset(p, 1, 256 << 10);
	pthread_join(t, NULL);
	kv_stats(&b);
	CHECK(b.nofail_retries > a.nofail_retries);
	kvfree(p);
	check_whole();
}

static int idle_state; /* 1: caches filled, 2: may exit */

static void *idle_cacher(void *arg)
{
	void *p[32];
	unsigned i;

	(void)arg;
	for (i = 0; i < 32; i++)
		CHECK((p[i] = kv_alloc_pages(i % 3, 0)));
	for (i = 0; i < 32; i++)
		kv_free_pages(p[i], i % 3);
	__atomic_store_n(&idle_state, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&idle_state, __ATOMIC_ACQUIRE) != 2)
		usleep(1000);
	return NULL;
}

/*
 * Pages an idle thread keeps in its page caches are not lost: reclaim
 * drains every thread's page caches, so the whole budget stays reachable.
 */
static void test_idle_thread_pages(void)
{
	struct kv_stats st;
	pthread_t t;
	unsigned n = 0;

	CHECK_EQ(pthread_create(&t, NULL, idle_cacher, NULL), 0);
	while (__atomic_load_n(&idle_state, __ATOMIC_ACQUIRE) != 1)
		usleep(1000);
	kv_stats(&st);
	CHECK(st.pcp_pages > 0);
	while (n < MAXOBJ && (obj[n] = kv_alloc_pages(0, KV_NOWARN)))
		n++;
	kv_stats(&st);
	CHECK_EQ(n, st.pages_total);
	CHECK_EQ(st.pcp_pages, 0);
	while (n)
		kv_free_pages(obj[--n], 0);
	__atomic_store_n(&idle_state, 2, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	check_whole();
}

static void leak_three(bool strict)
{
	struct kv_config cfg = { .budget_bytes = BUDGET };

	kv_fini();
	if (strict)
		setenv("KVALLOC_STRICT", "1", 1);
	else
		unsetenv("KVALLOC_STRICT");
	CHECK_EQ(kv_init(&cfg), 0);
	CHECK(kvmalloc(100, 0));
	CHECK(kvmalloc(100 << 10, 0));
	CHECK(kv_vmalloc(5 * KV_PAGE_SIZE, 0));
}

static void leak_lax(void)
{
	leak_three(false);
	CHECK_EQ(kv_fini(), 3);
}

static void leak_strict(void)
{
	leak_three(true);
	kv_fini();
}

static void bad_free_strict(void)
{
	char *p;

	leak_three(true);
	p = kvmalloc(100 << 10, 0);
	kvfree(p + KV_PAGE_SIZE);
}

/*
 * kv_fini() names what was never freed and counts it; under
 * KVALLOC_STRICT (the test suite's setting) a leak or an invalid free
 * kills the process, so that no test passes while leaking.
 */
static void test_leak_report(void)
{
	char buf[4096];
	int status;

	status = run_child(leak_lax, buf, sizeof(buf));
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(strstr(buf, "leak: 1 object(s) of kmalloc-112"));
	CHECK(strstr(buf, "leak: 32 page(s)"));
	CHECK(strstr(buf, "leak: vmap area"));
	CHECK(strstr(buf, "3 allocation(s) never freed"));

	status = run_child(leak_strict, buf, sizeof(buf));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(buf, "3 allocation(s) never freed"));

	status = run_child(bad_free_strict, buf, sizeof(buf));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(buf, "kvfree of invalid pointer"));
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = BUDGET };
	struct kv_stats st;

	CHECK_EQ(kv_init(&cfg), 0);
	test_exhaustion();
	test_nofail(false);
	test_nofail(true);
	test_idle_thread_pages();
	test_leak_report();
	kv_fini();

	/* after fini, a fresh init starts whole */
	CHECK_EQ(kv_init(&cfg), 0);
	kv_stats(&st);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(st.pages_total, BUDGET / KV_PAGE_SIZE);
	CHECK_EQ(st.alloc_failures, 0);
	kv_fini();
	return 0;
}
