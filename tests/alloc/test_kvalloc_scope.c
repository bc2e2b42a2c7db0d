// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation contexts: scope nesting and per-thread isolation, and which
 * shrinkers reclaim may call from the allocating thread: never an FS
 * shrinker under NOFS (scope or explicit flag, kvmalloc or the vmap path),
 * neither FS nor IO shrinkers under NOIO.  What such a context may not
 * free, the reclaim thread does, in a context that allows everything: a
 * NOFS allocation that finds nothing wakes it, and it empties the FS
 * cache.  Debug builds abort when an FS shrinker is entered under NOFS;
 * that guard is checked in a forked child.
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
	pthread_mutex_t lock; /* obj, nr: the reclaim thread scans too */
	void *obj[HELD];
	unsigned nr;
	unsigned here, here0; /* scans from the test's thread; when filled */
	unsigned there; /* scans from another thread (the reclaim thread) */
	unsigned bad_ctx; /* scans entered in a context that forbids them */
};

static pthread_t test_thread;

static size_t cache_count(void *priv)
{
	struct cache *c = priv;
	size_t nr;

	pthread_mutex_lock(&c->lock);
	nr = c->nr;
	pthread_mutex_unlock(&c->lock);
	return nr;
}

static size_t cache_scan(void *priv, size_t nr)
{
	struct cache *c = priv;
	kv_gfp_t ctx = kv_current_gfp(0);
	size_t freed = 0;

	pthread_mutex_lock(&c->lock);
	if (((c->s.flags & KV_SHRINK_FS) && (ctx & KV_NOFS)) ||
	    ((c->s.flags & KV_SHRINK_IO) && (ctx & KV_NOIO)))
		c->bad_ctx++;
	if (pthread_equal(pthread_self(), test_thread))
		c->here++;
	else
		c->there++;
	while (c->nr && freed < nr) {
		kvfree(c->obj[--c->nr]);
		freed++;
	}
	pthread_mutex_unlock(&c->lock);
	return freed;
}

#define CACHE(var, nm, fl)                                       \
	static struct cache var = { .s = { .name = nm,           \
					   .flags = fl,          \
					   .count = cache_count, \
					   .scan = cache_scan,   \
					   .priv = &var },       \
				    .lock = PTHREAD_MUTEX_INITIALIZER }
CACHE(fs_c, "fs", KV_SHRINK_FS);
CACHE(io_c, "io", KV_SHRINK_IO);
CACHE(plain_c, "plain", 0);
static struct cache *caches[] = { &fs_c, &io_c, &plain_c };

/* The reclaim thread idle: its pass count still for 20 ms. */
static void quiesce(void)
{
	struct kv_stats a, b;

	kv_stats(&b);
	do {
		a = b;
		usleep(20000);
		kv_stats(&b);
	} while (b.kswapd_passes != a.kswapd_passes);
}

static void fill_caches(void)
{
	unsigned i;

	quiesce();

	for (i = 0; i < 3; i++) {
		struct cache *c = caches[i];

		/* no lock across kvmalloc: it may scan this very cache */
		while (cache_count(c) < HELD) {
			void *p = kvmalloc(CHUNK, 0);

			CHECK(p);
			pthread_mutex_lock(&c->lock);
			c->obj[c->nr++] = p;
			pthread_mutex_unlock(&c->lock);
		}
		c->here0 = c->here;
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

/* Which shrinkers the test's own thread entered since the last fill. */
static void expect_called(bool fs, bool io, bool plain)
{
	CHECK_EQ(fs_c.here > fs_c.here0, fs);
	CHECK_EQ(io_c.here > io_c.here0, io);
	CHECK_EQ(plain_c.here > plain_c.here0, plain);
	CHECK_EQ(fs_c.bad_ctx + io_c.bad_ctx + plain_c.bad_ctx, 0);
}

/* The reclaim thread emptied the FS cache the test's thread could not. */
static void expect_background(void)
{
	for (int i = 0; i < 500 && cache_count(&fs_c); i++)
		usleep(2000);
	CHECK_EQ(cache_count(&fs_c), 0);
	CHECK(fs_c.there > 0);
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

		expect_background();

		fill_caches();
		exhaust(KV_NOFS, vmap);
		expect_called(false, true, true);
		expect_background();

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

	/* NORETRY never reclaims (the reclaim thread's passes aside) */
	fill_caches();
	kv_stats(&before);
	exhaust(KV_NORETRY, false);
	kv_stats(&after);
	CHECK_EQ(after.reclaim_passes - after.kswapd_passes,
		 before.reclaim_passes - before.kswapd_passes);
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
	test_thread = pthread_self();
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
