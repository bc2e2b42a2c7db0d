// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation contexts and reclaim: the per-thread NOFS/NOIO/NOFAIL scopes,
 * the shrinker registry, what an allocation does when the budget is
 * exhausted, and the NOFAIL wait.
 *
 * When an allocation finds no memory it first gives back what the allocator
 * itself hoards (its thread's caches, empty slabs, lazily freed and cached
 * vmap areas), then runs reclaim passes over the shrinkers its context
 * allows (none that may enter the fs under NOFS, none that may enter the fs
 * or issue I/O under NOIO), then fails -- or, under NOFAIL, sleeps until a
 * free wakes it (or a backoff that doubles with every wait expires) and
 * starts over.  Before failing or sleeping, a round whose shrinker pass
 * freed nothing calls the pressure hooks (kvalloc.h), which may wait a
 * bounded time for their owners' threads to unpin memory; when one says
 * memory may be back, a new round starts (KV_RELIEF_ROUNDS at most).  A
 * NOFAIL allocation never returns NULL: one that no amount
 * of freeing could satisfy (larger than the budget or the vmap zone) is a
 * bug and aborts.  Allocations made by a shrinker do not recurse into
 * reclaim.
 *
 * Background reclaim (the kernel's kswapd): an allocation under NOFS or
 * NOIO that found nothing to free wakes one reclaim thread, which runs
 * every shrinker from a context that holds nothing (no scope, no lock),
 * and so frees what the allocating context may not touch.  A filesystem
 * whose every change runs in NOFS transactions would otherwise fill the
 * budget with clean inodes nobody is allowed to drop, and its NOFAIL
 * allocations would wait forever (mount.kvfs after 99 453 creates into one
 * directory with mem=64M).  The thread starts on the first wake and stops
 * at kv_fini().
 *
 * Shrinkers and pressure hooks are on one registry, each by its struct
 * kv_reclaim_reg (kvalloc.h), which says which kind it is.
 *
 * Locks:
 *   shrinker_lock ("shrinker") protects the registry and each entry's
 *   owned fields (next, the counters, active).  It is NOT held while a
 *   shrinker or hook runs: a pass pins those it will call (active), and
 *   the unregistering waits for active to drop to 0.
 *   nofail_lock ("nofail") protects the NOFAIL wait queue.  Both are
 *   leaves.
 *   kswapd_lock (a plain mutex) protects the reclaim thread's state
 *   (running, stop, wanted); a leaf, never held while shrinkers run.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alloc/internal.h"

#define SHRINK_BATCH 64
/* the shrinker or hook whose registry entry p is */
#define container_of(p, type, member) \
	((type *)((char *)(p)-offsetof(type, member)))
/* the NOFAIL backoff doubles from 1 ms up to 1 ms << this (256 ms) */
#define NOFAIL_MAX_SHIFT 8
/* waits of one allocation before it is reported: ~10 s (8 short, 38 long) */
#define NOFAIL_WARN_WAITS 46

KV_TLS unsigned kv_scope;
KV_TLS bool kv_in_reclaim;

static struct kv_mutex shrinker_lock = { PTHREAD_MUTEX_INITIALIZER, -1 };
static pthread_cond_t shrinker_idle = PTHREAD_COND_INITIALIZER;
/* every registered shrinker and pressure hook, the newest first */
static struct kv_reclaim_reg *regs;

static struct kv_mutex nofail_lock = { PTHREAD_MUTEX_INITIALIZER, -1 };
static pthread_cond_t nofail_cond = PTHREAD_COND_INITIALIZER;
static unsigned nofail_waiters;
/* bumped by every wake: a waiter sleeps only if no free came since it tried */
static uint64_t free_seq;
static KV_TLS uint64_t free_seq_seen;

static uint64_t reclaim_passes, reclaim_freed, nofail_retries, nofail_timeouts,
	alloc_failures;

/* Enter the scope of one flag; return the flag's previous state. */
static unsigned scope_save(unsigned flag)
{
	unsigned old = kv_scope & flag;

	kv_scope |= flag;
	return old;
}

static void scope_restore(unsigned flag, unsigned saved)
{
	kv_scope = (kv_scope & ~flag) | (saved & flag);
}

unsigned kv_nofs_save(void)
{
	return scope_save(KV_NOFS);
}

void kv_nofs_restore(unsigned saved)
{
	scope_restore(KV_NOFS, saved);
}

unsigned kv_noio_save(void)
{
	return scope_save(KV_NOIO);
}

void kv_noio_restore(unsigned saved)
{
	scope_restore(KV_NOIO, saved);
}

unsigned kv_nofail_save(void)
{
	return scope_save(KV_NOFAIL);
}

void kv_nofail_restore(unsigned saved)
{
	scope_restore(KV_NOFAIL, saved);
}

kv_gfp_t kv_current_gfp(kv_gfp_t flags)
{
	flags |= kv_scope;
	if (flags & KV_NOIO)
		flags |= KV_NOFS;
	return flags;
}

static int reg_add(struct kv_reclaim_reg *r, const char *name, unsigned kind)
{
	struct kv_reclaim_reg *it;

	kv_mutex_lock(&shrinker_lock);
	for (it = regs; it; it = it->next) {
		if (it == r) {
			kv_mutex_unlock(&shrinker_lock);
			return -EEXIST;
		}
	}
	r->name = name;
	r->kind = kind;
	r->nr_calls = 0;
	r->nr_done = 0;
	r->active = 0;
	r->next = regs;
	regs = r;
	kv_mutex_unlock(&shrinker_lock);
	return 0;
}

static void reg_del(struct kv_reclaim_reg *r)
{
	struct kv_reclaim_reg **pp;

	kv_mutex_lock(&shrinker_lock);
	for (pp = &regs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	while (r->active)
		pthread_cond_wait(&shrinker_idle, &shrinker_lock.m);
	kv_mutex_unlock(&shrinker_lock);
}

/*
 * Pin for a pass up to SHRINK_BATCH entries of one kind that want() (if
 * any) accepts, into batch, in registry order; returns how many.
 */
static unsigned reg_pin(unsigned kind, kv_gfp_t gfp,
			bool (*want)(struct kv_reclaim_reg *r, kv_gfp_t gfp),
			struct kv_reclaim_reg **batch)
{
	struct kv_reclaim_reg *r;
	unsigned n = 0;

	kv_mutex_lock(&shrinker_lock);
	for (r = regs; r && n < SHRINK_BATCH; r = r->next) {
		if (r->kind == kind && (!want || want(r, gfp))) {
			r->active++;
			batch[n++] = r;
		}
	}
	kv_mutex_unlock(&shrinker_lock);
	return n;
}

/* The pass is done with batch: count it, and let unregistering go on. */
static void reg_unpin(struct kv_reclaim_reg **batch, const uint64_t *done,
		      unsigned n)
{
	unsigned i;

	kv_mutex_lock(&shrinker_lock);
	for (i = 0; i < n; i++) {
		batch[i]->nr_calls++;
		batch[i]->nr_done += done[i];
		batch[i]->active--;
	}
	pthread_cond_broadcast(&shrinker_idle);
	kv_mutex_unlock(&shrinker_lock);
}

int kv_register_shrinker(struct kv_shrinker *s)
{
	if (!s || !s->count || !s->scan || !s->name)
		return -EINVAL;
	return reg_add(&s->reg, s->name, KV_REG_SHRINKER);
}

void kv_unregister_shrinker(struct kv_shrinker *s)
{
	reg_del(&s->reg);
}

int kv_register_pressure(struct kv_pressure *p)
{
	if (!p || !p->relieve || !p->name)
		return -EINVAL;
	return reg_add(&p->reg, p->name, KV_REG_PRESSURE);
}

void kv_unregister_pressure(struct kv_pressure *p)
{
	reg_del(&p->reg);
}

/*
 * Every pressure hook, once, as a shrinker pass calls shrinkers: true if
 * one says memory may have come back.  Allocations made by a hook do not
 * recurse into reclaim.
 */
static bool pressure_relieve(kv_gfp_t gfp)
{
	struct kv_reclaim_reg *batch[SHRINK_BATCH];
	uint64_t ok[SHRINK_BATCH];
	bool any = false;
	unsigned n, i;

	n = reg_pin(KV_REG_PRESSURE, gfp, NULL, batch);
	if (!n)
		return false;
	kv_in_reclaim = true;
	for (i = 0; i < n; i++) {
		struct kv_pressure *p =
			container_of(batch[i], struct kv_pressure, reg);

		ok[i] = p->relieve(p->priv, gfp);
		any |= ok[i];
	}
	kv_in_reclaim = false;
	reg_unpin(batch, ok, n);
	return any;
}

/*
 * The one way into a shrinker.  Debug builds check the calling thread's
 * effective context here, at the point of entry, whatever path led here.
 */
size_t kv_shrinker_run(struct kv_shrinker *s, size_t nr)
{
#ifdef KV_DEBUG
	kv_gfp_t ctx = kv_current_gfp(0);

	if (((s->flags & KV_SHRINK_FS) && (ctx & KV_NOFS)) ||
	    ((s->flags & KV_SHRINK_IO) && (ctx & KV_NOIO))) {
		kv_report(
			KV_REPORT_BUG,
			"kvalloc: BUG: shrinker %s (flags %#x) entered in context %#x",
			s->name, s->flags, ctx);
		abort();
	}
#endif
	return s->scan(s->priv, nr);
}

static bool shrinker_allowed(struct kv_reclaim_reg *r, kv_gfp_t gfp)
{
	const struct kv_shrinker *s = container_of(r, struct kv_shrinker, reg);

	if ((gfp & KV_NOIO) && (s->flags & (KV_SHRINK_FS | KV_SHRINK_IO)))
		return false;
	return !((gfp & KV_NOFS) && (s->flags & KV_SHRINK_FS));
}

/* One pass over the shrinkers the context allows; returns objects freed. */
static size_t shrink_pass(kv_gfp_t gfp)
{
	struct kv_reclaim_reg *batch[SHRINK_BATCH];
	uint64_t freed[SHRINK_BATCH];
	size_t total = 0;
	unsigned n, i;

	gfp = kv_current_gfp(gfp);
	n = reg_pin(KV_REG_SHRINKER, gfp, shrinker_allowed, batch);
	__atomic_add_fetch(&reclaim_passes, 1, __ATOMIC_RELAXED);

	for (i = 0; i < n; i++) {
		struct kv_shrinker *s =
			container_of(batch[i], struct kv_shrinker, reg);
		size_t count = s->count(s->priv);

		freed[i] = 0;
		if (count)
			freed[i] = kv_shrinker_run(s, count > 128 ? count / 2 :
								    count);
		total += freed[i];
	}

	reg_unpin(batch, freed, n);
	__atomic_add_fetch(&reclaim_freed, total, __ATOMIC_RELAXED);
	return total;
}

/*
 * Sleep until a free wakes us or the backoff expires: 1 ms doubling with
 * every wait of the same allocation, up to NOFAIL_MAX_SHIFT.  No sleep if
 * a free came since seen (taken before the attempt that failed).
 */
static void nofail_wait(unsigned waits, uint64_t seen)
{
	unsigned shift = waits < NOFAIL_MAX_SHIFT ? waits : NOFAIL_MAX_SHIFT;
	long ns = 1000000L << shift;
	struct timespec ts;
	int err;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += ns % 1000000000L;
	ts.tv_sec += ns / 1000000000L + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	kv_mutex_lock(&nofail_lock);
	__atomic_add_fetch(&nofail_waiters, 1, __ATOMIC_SEQ_CST);
	err = 0;
	if (__atomic_load_n(&free_seq, __ATOMIC_SEQ_CST) == seen)
		err = pthread_cond_timedwait(&nofail_cond, &nofail_lock.m, &ts);
	__atomic_sub_fetch(&nofail_waiters, 1, __ATOMIC_RELAXED);
	kv_mutex_unlock(&nofail_lock);
	__atomic_add_fetch(&nofail_retries, 1, __ATOMIC_RELAXED);
	if (err == ETIMEDOUT)
		__atomic_add_fetch(&nofail_timeouts, 1, __ATOMIC_RELAXED);
}

/*
 * An allocation that cannot fail has waited ~10 s (NOFAIL_WARN_WAITS, most
 * at the longest backoff): what holds the budget is not coming back, and
 * whoever runs the program should hear it, once a minute at most, rather
 * than see a silent hang.
 */
static void nofail_warn(void)
{
	static int64_t last;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (last && now.tv_sec - __atomic_load_n(&last, __ATOMIC_RELAXED) < 60)
		return;
	__atomic_store_n(&last, now.tv_sec ? now.tv_sec : 1, __ATOMIC_RELAXED);
	kv_report(KV_REPORT_WARN,
		  "kvalloc: an allocation that cannot fail has waited 10 s for "
		  "memory: the %zu MiB budget is held by what cannot be "
		  "reclaimed (%llu MiB free); a larger budget is needed",
		  kv.size >> 20,
		  (unsigned long long)(__atomic_load_n(&kv.nr_free,
						       __ATOMIC_RELAXED) *
					       KV_PAGE_SIZE >>
				       20));
}

/* Memory (or vmap address space) came back: end the NOFAIL waits. */
void kv_reclaim_wake(void)
{
	__atomic_add_fetch(&free_seq, 1, __ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&nofail_waiters, __ATOMIC_SEQ_CST))
		return;
	kv_mutex_lock(&nofail_lock);
	pthread_cond_broadcast(&nofail_cond);
	kv_mutex_unlock(&nofail_lock);
}

static pthread_mutex_t kswapd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kswapd_cond = PTHREAD_COND_INITIALIZER;
static pthread_t kswapd_thread;
static bool kswapd_running, kswapd_stop;
static uint64_t kswapd_wanted; /* wakes asked for */
static uint64_t kswapd_passes, kswapd_freed;

/*
 * Free pages at which the reclaim thread stops: a 64th of the budget (as
 * the kernel's high watermark, a small share).  Each pass looks again at
 * what the last left, which under a stream of creates is mostly dirty.
 */
#define KSWAPD_HIGH (kv.npages / 64)

/*
 * Passes over every shrinker while they free something and the pages
 * free stay under KSWAPD_HIGH, for each wake.
 */
static void *kswapd_fn(void *arg)
{
	uint64_t seen = 0;

	(void)arg;
	pthread_mutex_lock(&kswapd_lock);
	for (;;) {
		while (!kswapd_stop && kswapd_wanted == seen)
			pthread_cond_wait(&kswapd_cond, &kswapd_lock);
		if (kswapd_stop)
			break;
		seen = kswapd_wanted;
		pthread_mutex_unlock(&kswapd_lock);
		kv_in_reclaim = true;
		for (int i = 0; i < 8; i++) {
			size_t freed = shrink_pass(0);

			__atomic_add_fetch(&kswapd_passes, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&kswapd_freed, freed,
					   __ATOMIC_RELAXED);
			kv_tcache_drain(kv_tcache());
			kv_slab_shrink();
			if (!freed || kv_buddy_nr_free() >= KSWAPD_HIGH)
				break;
		}
		kv_in_reclaim = false;
		kv_reclaim_wake();
		pthread_mutex_lock(&kswapd_lock);
	}
	pthread_mutex_unlock(&kswapd_lock);
	return NULL;
}

/* Ask the reclaim thread for a pass (started on the first call). */
static void kswapd_wake(void)
{
	pthread_mutex_lock(&kswapd_lock);
	if (!kswapd_running && !kswapd_stop &&
	    !pthread_create(&kswapd_thread, NULL, kswapd_fn, NULL)) {
		kswapd_running = true;
		pthread_setname_np(kswapd_thread, "kvfs-kswapd");
	}
	kswapd_wanted++;
	pthread_cond_signal(&kswapd_cond);
	pthread_mutex_unlock(&kswapd_lock);
}

/* kv_fini(): the reclaim thread stopped and joined (its caches go back). */
void kv_kswapd_stop(void)
{
	pthread_mutex_lock(&kswapd_lock);
	kswapd_stop = true;
	pthread_cond_signal(&kswapd_cond);
	pthread_mutex_unlock(&kswapd_lock);
	if (kswapd_running)
		pthread_join(kswapd_thread, NULL);
	pthread_mutex_lock(&kswapd_lock);
	kswapd_running = false;
	kswapd_stop = false;
	kswapd_wanted = 0;
	pthread_mutex_unlock(&kswapd_lock);
}

/*
 * *attempt counts the calls made for one allocation: the low two bits are
 * the step of the current round (0: give back the allocator's own caches,
 * 1..3: shrinker passes), the bits up to RELIEF_SHIFT the NOFAIL waits so
 * far, which set the backoff, and the bits above the rounds the pressure
 * hooks started.  Only NOFAIL, or a hook's relief, goes past a round.
 */
#define RELIEF_SHIFT 24
#define ROUND_MASK ((1u << RELIEF_SHIFT) - 1)

bool kv_reclaim_retry(kv_gfp_t gfp, unsigned *attempt)
{
	unsigned a = (*attempt)++, step = a & 3;
	unsigned waits = (a & ROUND_MASK) >> 2, relief = a >> RELIEF_SHIFT;
	uint64_t seen = free_seq_seen;

	/* frees from now on are ones the next attempt may not have seen */
	free_seq_seen = __atomic_load_n(&free_seq, __ATOMIC_SEQ_CST);
	gfp = kv_current_gfp(gfp);
	if (!(gfp & KV_NOFAIL) && ((gfp & KV_NORETRY) || (a & ROUND_MASK) > 3))
		return false;
	if (step == 0) {
		/*
		 * What the allocator itself holds on to comes back first: every
		 * thread's page caches now, other threads' magazines on their
		 * next slow path.
		 */
		__atomic_add_fetch(&kv.drain_gen, 1, __ATOMIC_RELAXED);
		kv_vmap_purge();
		kv_tcache_drain(kv_tcache());
		kv_tcache_drain_pages_all();
		kv_slab_shrink();
		return true;
	}
	if (!kv_in_reclaim) {
		size_t freed;

		kv_in_reclaim = true;
		freed = shrink_pass(gfp);
		kv_in_reclaim = false;
		if (freed) {
			kv_tcache_drain(kv_tcache());
			kv_slab_shrink();
			return true;
		}
	}
	/* what this context may not free, the reclaim thread may */
	if (gfp & KV_NOFS)
		kswapd_wake();
	/* memory only its owner's threads can unpin: a new round once they did */
	if (!kv_in_reclaim && relief < KV_RELIEF_ROUNDS &&
	    pressure_relieve(gfp)) {
		*attempt = (relief + 1) << RELIEF_SHIFT | waits << 2;
		return true;
	}
	if (!(gfp & KV_NOFAIL))
		return false;
	if (waits == NOFAIL_WARN_WAITS)
		nofail_warn();
	nofail_wait(waits, seen);
	/* the next round starts with the cheap drain, after one more try */
	*attempt = relief << RELIEF_SHIFT | (waits + 1) << 2;
	return true;
}

void kv_nofail_impossible(size_t size, kv_gfp_t gfp)
{
	kv_report(KV_REPORT_BUG,
		  "kvalloc: BUG: NOFAIL allocation of %zu bytes can never be "
		  "satisfied (flags %#x)",
		  size, gfp);
	abort();
}

void kv_alloc_failed(size_t size, kv_gfp_t gfp)
{
	__atomic_add_fetch(&alloc_failures, 1, __ATOMIC_RELAXED);
	if (!(gfp & KV_NOWARN))
		kv_report(KV_REPORT_WARN,
			  "kvalloc: allocation of %zu bytes failed (flags %#x)",
			  size, gfp);
}

void kv_reclaim_stats(uint64_t *passes, uint64_t *freed, uint64_t *retries,
		      uint64_t *timeouts, uint64_t *failures)
{
	*passes = __atomic_load_n(&reclaim_passes, __ATOMIC_RELAXED);
	*freed = __atomic_load_n(&reclaim_freed, __ATOMIC_RELAXED);
	*retries = __atomic_load_n(&nofail_retries, __ATOMIC_RELAXED);
	*timeouts = __atomic_load_n(&nofail_timeouts, __ATOMIC_RELAXED);
	*failures = __atomic_load_n(&alloc_failures, __ATOMIC_RELAXED);
}

void kv_kswapd_stats(uint64_t *passes, uint64_t *freed)
{
	*passes = __atomic_load_n(&kswapd_passes, __ATOMIC_RELAXED);
	*freed = __atomic_load_n(&kswapd_freed, __ATOMIC_RELAXED);
}

int kv_shrinkers_format(char *buf, size_t len)
{
	struct kv_reclaim_reg *r;
	int n, total = 0;

	kv_mutex_lock(&shrinker_lock);
	for (r = regs; r; r = r->next) {
		if (r->kind != KV_REG_SHRINKER)
			continue;
		n = snprintf(buf && (size_t)total < len ? buf + total : NULL,
			     buf && (size_t)total < len ? len - total : 0,
			     "shrinker.%s.calls %llu\nshrinker.%s.freed %llu\n",
			     r->name, (unsigned long long)r->nr_calls, r->name,
			     (unsigned long long)r->nr_done);
		if (n < 0) {
			total = -EIO;
			break;
		}
		total += n;
	}
	kv_mutex_unlock(&shrinker_lock);
	return total;
}

void kv_reclaim_init(void)
{
	shrinker_lock.class_id = kv.lc_shrinker;
	nofail_lock.class_id = kv.lc_nofail;
}

/* kv_fini(): forget the shrinkers still registered, zero the counters. */
void kv_reclaim_fini(void)
{
	struct kv_reclaim_reg *r;

	kv_mutex_lock(&shrinker_lock);
	for (r = regs; r; r = r->next)
		kv_report(KV_REPORT_WARN, "kvalloc: %s %s still registered",
			  r->kind == KV_REG_SHRINKER ? "shrinker" :
						       "pressure hook",
			  r->name);
	regs = NULL;
	kv_mutex_unlock(&shrinker_lock);
	reclaim_passes = 0;
	reclaim_freed = 0;
	kswapd_passes = 0;
	kswapd_freed = 0;
	nofail_retries = 0;
	nofail_timeouts = 0;
	alloc_failures = 0;
}
