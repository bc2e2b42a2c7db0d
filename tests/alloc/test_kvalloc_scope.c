// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation contexts: scope nesting and per-thread isolation, and which
 * shrinkers reclaim may call: never an FS shrinker under NOFS (scope or
 * explicit flag, kvmalloc or the vmap path), neither FS nor IO shrinkers
 * under NOIO.  Debug builds abort when an FS shrinker is entered under
 * NOFS; that guard is checked in a forked child.
 */
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/internal.h"
#include "tests/check.h"

#define CHUNK (64u << 10)
#define HELD 24

struct cache {
	struct kv_shrinker s;
	void *obj[HELD];
	unsigned nr;
	uint64_t calls0; /* nr_calls when last filled */
	unsigned bad_ctx; /* scans entered in a context that forbids them */
};

static size_t cache_count(void *priv)
{
	return ((struct cache *)priv)->nr;
}

static size_t cache_scan(void *priv, size_t nr)
{
	struct cache *c = priv;
	kv_gfp_t ctx = kv_current_gfp(0);
	size_t freed = 0;

	if (((c->s.flags & KV_SHRINK_FS) && (ctx & KV_NOFS)) ||
	    ((c->s.flags & KV_SHRINK_IO) && (ctx & KV_NOIO)))
		c->bad_ctx++;
	while (c->nr && freed < nr) {
		kvfree(c->obj[--c->nr]);
		freed++;
	}
	return freed;
}

#define CACHE(var, nm, fl)                                       \
	static struct cache var = { .s = { .name = nm,           \
					   .flags = fl,          \
					   .count = cache_count, \
					   .scan = cache_scan,   \
					   .priv = &var } }
CACHE(fs_c, "fs", KV_SHRINK_FS);
CACHE(io_c, "io", KV_SHRINK_IO);
CACHE(plain_c, "plain", 0);
static struct cache *caches[] = { &fs_c, &io_c, &plain_c };

static void fill_caches(void)
{
	unsigned i;

	for (i = 0; i < 3; i++) {
		struct cache *c = caches[i];

		while (c->nr < HELD) {
			c->obj[c->nr] = kvmalloc(CHUNK, 0);
			CHECK(c->obj[c->nr]);
			c->nr++;
		}
		c->calls0 = c->s.nr_calls;
	}
}

/* Allocate until failure in the given context; free it all again. */
static void exhaust(kv_gfp_t flags, bool vmap)
{
	static void *mine[4096];
	unsigned n = 0;

	while (n < 4096) {
		mine[n] = vmap ? kv_vmalloc(CHUNK, flags | KV_NOWARN) :
				 kvmalloc(CHUNK, flags | KV_NOWARN);
		if (!mine[n])
			break;
		n++;
	}
	CHECK(n > 0 && n < 4096);
	while (n)
		kvfree(mine[--n]);
}

static void *other_thread(void *arg)
{
	(void)arg;
	CHECK_EQ(kv_current_gfp(0), 0);
	return NULL;
}

static void test_nesting(void)
{
	unsigned a, b, c, d;
	pthread_t t;

	CHECK_EQ(kv_current_gfp(0), 0);
	CHECK_EQ(kv_current_gfp(KV_ZERO), KV_ZERO);
	a = kv_nofs_save();
	CHECK_EQ(kv_current_gfp(0), KV_NOFS);
	b = kv_nofs_save();
	c = kv_nofail_save();
	CHECK_EQ(kv_current_gfp(0), KV_NOFS | KV_NOFAIL);
	/* the scope is per-thread */
	CHECK_EQ(pthread_create(&t, NULL, other_thread, NULL), 0);
	pthread_join(t, NULL);
	d = kv_noio_save();
	CHECK_EQ(kv_current_gfp(0), KV_NOFS | KV_NOIO | KV_NOFAIL);
	kv_noio_restore(d);
	kv_nofail_restore(c);
	kv_nofs_restore(b);
	CHECK_EQ(kv_current_gfp(0), KV_NOFS); /* inner restore keeps outer */
	kv_nofs_restore(a);
	CHECK_EQ(kv_current_gfp(0), 0);

	/* NOIO alone implies NOFS */
	d = kv_noio_save();
	CHECK_EQ(kv_current_gfp(0), KV_NOFS | KV_NOIO);
	kv_noio_restore(d);
	CHECK_EQ(kv_current_gfp(0), 0);
	CHECK_EQ(kv_current_gfp(KV_NOIO), KV_NOFS | KV_NOIO);

	/* an explicit flag does not leak into the scope */
	kvfree(kvmalloc(100, KV_NOFS | KV_NOFAIL));
	CHECK_EQ(kv_current_gfp(0), 0);
}

static void expect_called(bool fs, bool io, bool plain)
{
	CHECK_EQ(fs_c.s.nr_calls > fs_c.calls0, fs);
	CHECK_EQ(io_c.s.nr_calls > io_c.calls0, io);
	CHECK_EQ(plain_c.s.nr_calls > plain_c.calls0, plain);
	if (!fs)
		CHECK_EQ(fs_c.nr, HELD);
	CHECK_EQ(fs_c.bad_ctx + io_c.bad_ctx + plain_c.bad_ctx, 0);
}

static void test_shrinkers(void)
{
	struct kv_stats before, after;
	unsigned s, vmap;

	for (s = 0; s < 3; s++)
		CHECK_EQ(kv_register_shrinker(&caches[s]->s), 0);
	CHECK(kv_register_shrinker(&fs_c.s) < 0);

	for (vmap = 0; vmap < 2; vmap++) {
		fill_caches();
		s = kv_nofs_save();
		exhaust(0, vmap);
		kv_nofs_restore(s);
		expect_called(false, true, true);

		fill_caches();
		exhaust(KV_NOFS, vmap);
		expect_called(false, true, true);

		fill_caches();
		s = kv_noio_save();
		exhaust(0, vmap);
		kv_noio_restore(s);
		expect_called(false, false, true);

		fill_caches();
		exhaust(KV_NOIO, vmap);
		expect_called(false, false, true);

		fill_caches();
		kv_stats(&before);
		exhaust(0, vmap);
		kv_stats(&after);
		expect_called(true, true, true);
		CHECK(after.reclaim_passes > before.reclaim_passes);
		CHECK(after.reclaim_freed >= before.reclaim_freed + 3 * HELD);
	}

	/* NORETRY never reclaims */
	fill_caches();
	kv_stats(&before);
	exhaust(KV_NORETRY, false);
	kv_stats(&after);
	CHECK_EQ(after.reclaim_passes, before.reclaim_passes);
	expect_called(false, false, false);

	for (s = 0; s < 3; s++) {
		kv_unregister_shrinker(&caches[s]->s);
		while (caches[s]->nr)
			kvfree(caches[s]->obj[--caches[s]->nr]);
	}
}

/*
 * The guard at the entry of every shrinker call: enter the FS shrinker
 * through kv_shrinker_run() from inside a NOFS scope, in a child.
 */
static void test_debug_guard(void)
{
	int status;
	pid_t pid;

	fill_caches();
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		unsigned s = kv_nofs_save();

		kv_shrinker_run(&fs_c.s, 1);
		kv_nofs_restore(s);
		_exit(fs_c.nr == HELD - 1 ? 0 : 2);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
#ifdef KV_DEBUG
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
#else
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
	/* outside the scope the same entry is legitimate */
	CHECK_EQ(kv_shrinker_run(&fs_c.s, 1), 1);
	CHECK_EQ(fs_c.nr, HELD - 1);
	while (fs_c.nr)
		kvfree(fs_c.obj[--fs_c.nr]);
	while (io_c.nr)
		kvfree(io_c.obj[--io_c.nr]);
	while (plain_c.nr)
		kvfree(plain_c.obj[--plain_c.nr]);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 16u << 20 };
	struct kv_stats st;

	CHECK_EQ(kv_init(&cfg), 0);
	test_nesting();
	test_shrinkers();
	test_debug_guard();
	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(st.live_allocs, 0);
	kv_fini();
	return 0;
}
