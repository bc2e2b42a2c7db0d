// SPDX-License-Identifier: GPL-2.0
/*
 * Per-thread caches: the page caches, the slab magazines and the
 * event/lock counters of one thread.  Page caches can be drained by other
 * threads (under the cache's page_lock); magazines only by their owner,
 * at its exit, or at kv_fini()/kv_cache_destroy() when no thread uses them.
 * Created on a thread's first use, drained into the shared allocators by a
 * pthread key destructor when the thread exits, and by kv_fini() for threads
 * still alive.
 *
 * The cache itself is anonymous memory outside the budget: it is the
 * allocator's own bookkeeping, like the descriptor array.
 *
 * Locks:
 *   tc_lock protects the registry list and the counters folded in from
 *   exited threads (dead_*).  Taken before any kv_mutex (drain under it
 *   takes slab and buddy locks: tc_lock -> slab -> buddy), never under
 *   one: a thread creates its cache (which takes tc_lock) before its first
 *   kv_mutex acquisition, and every drain under tc_lock first makes sure
 *   the calling thread has a cache.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "alloc/internal.h"

KV_TLS struct kv_tcache *kv_tc;

static pthread_mutex_t tc_lock = PTHREAD_MUTEX_INITIALIZER;
static struct kv_tcache *tc_list;
static pthread_key_t tc_key;
static pthread_once_t tc_once = PTHREAD_ONCE_INIT;
static uint64_t dead_stat[KV_T_NR];
static uint64_t dead_acq[KV_LOCK_CLASSES_MAX];
static uint64_t dead_cont[KV_LOCK_CLASSES_MAX];

static void tcache_unlink(struct kv_tcache *tc)
{
	if (tc->prev)
		tc->prev->next = tc->next;
	else
		tc_list = tc->next;
	if (tc->next)
		tc->next->prev = tc->prev;
}

static void tcache_destructor(void *p)
{
	struct kv_tcache *tc = p;
	int i;

	pthread_mutex_lock(&tc_lock);
	if (kv.ready)
		kv_tcache_drain(tc);
	for (i = 0; i < KV_T_NR; i++)
		dead_stat[i] += tc->stat[i];
	for (i = 0; i < KV_LOCK_CLASSES_MAX; i++) {
		dead_acq[i] += tc->lock_acquired[i];
		dead_cont[i] += tc->lock_contended[i];
	}
	tcache_unlink(tc);
	pthread_mutex_unlock(&tc_lock);
	kv_tc = NULL;
	munmap(tc, sizeof(*tc));
}

static void tcache_key_init(void)
{
	if (pthread_key_create(&tc_key, tcache_destructor)) {
		kv_report(KV_REPORT_BUG, "kvalloc: no thread cache key");
		abort();
	}
}

struct kv_tcache *kv_tcache_create(void)
{
	struct kv_tcache *tc;

	pthread_once(&tc_once, tcache_key_init);
	tc = mmap(NULL, sizeof(*tc), PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tc == MAP_FAILED) {
		kv_report(KV_REPORT_BUG,
			  "kvalloc: out of memory for a thread cache");
		abort();
	}
	tc->home_zone = -1;
	tc->drain_seen = __atomic_load_n(&kv.drain_gen, __ATOMIC_RELAXED);
	pthread_mutex_lock(&tc_lock);
	tc->next = tc_list;
	if (tc_list)
		tc_list->prev = tc;
	tc_list = tc;
	pthread_mutex_unlock(&tc_lock);
	pthread_setspecific(tc_key, tc);
	kv_tc = tc;
	return tc;
}

/* Give everything the thread holds back to the shared allocators. */
void kv_tcache_drain(struct kv_tcache *tc)
{
	unsigned id;

	for (id = 0; id < KV_NR_CACHES; id++) {
		struct kv_mag *m = &tc->mag[id];

		if (m->count) {
			kv_slab_free_batch(kv_cache_by_id(id), m->obj,
					   m->count);
			m->count = 0;
		}
	}
	kv_pcp_drain(tc);
}

void kv_tcache_drain_all(void)
{
	struct kv_tcache *tc;

	/* the lock counters of the drain need our cache: create it first */
	kv_tcache();
	pthread_mutex_lock(&tc_lock);
	for (tc = tc_list; tc; tc = tc->next)
		kv_tcache_drain(tc);
	pthread_mutex_unlock(&tc_lock);
}

void kv_tcache_drain_pages_all(void)
{
	struct kv_tcache *tc;

	kv_tcache();
	pthread_mutex_lock(&tc_lock);
	for (tc = tc_list; tc; tc = tc->next)
		kv_pcp_drain(tc);
	pthread_mutex_unlock(&tc_lock);
}

/* kv_cache_destroy(): the cache is no longer in use by any thread. */
void kv_tcache_drain_slot(unsigned id)
{
	struct kv_cache *c = kv_cache_by_id(id);
	struct kv_tcache *tc;

	kv_tcache();
	pthread_mutex_lock(&tc_lock);
	for (tc = tc_list; tc; tc = tc->next) {
		struct kv_mag *m = &tc->mag[id];

		if (m->count) {
			kv_slab_free_batch(c, m->obj, m->count);
			m->count = 0;
		}
	}
	pthread_mutex_unlock(&tc_lock);
}

void kv_tcache_sum(uint64_t stat[KV_T_NR], uint64_t *pcp,
		   uint64_t acq[KV_LOCK_CLASSES_MAX],
		   uint64_t cont[KV_LOCK_CLASSES_MAX])
{
	struct kv_tcache *tc;
	int i;

	*pcp = 0;
	pthread_mutex_lock(&tc_lock);
	memcpy(stat, dead_stat, sizeof(dead_stat));
	memcpy(acq, dead_acq, sizeof(dead_acq));
	memcpy(cont, dead_cont, sizeof(dead_cont));
	for (tc = tc_list; tc; tc = tc->next) {
		for (i = 0; i < KV_T_NR; i++)
			stat[i] +=
				__atomic_load_n(&tc->stat[i], __ATOMIC_RELAXED);
		for (i = 0; i < KV_LOCK_CLASSES_MAX; i++) {
			acq[i] += __atomic_load_n(&tc->lock_acquired[i],
						  __ATOMIC_RELAXED);
			cont[i] += __atomic_load_n(&tc->lock_contended[i],
						   __ATOMIC_RELAXED);
		}
		*pcp += __atomic_load_n(&tc->pcp_count, __ATOMIC_RELAXED) +
			__atomic_load_n(&tc->hcp_pages, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&tc_lock);
}

/* kv_fini(): every thread is quiescent. */
void kv_tcache_reset_stats(void)
{
	struct kv_tcache *tc;

	pthread_mutex_lock(&tc_lock);
	memset(dead_stat, 0, sizeof(dead_stat));
	memset(dead_acq, 0, sizeof(dead_acq));
	memset(dead_cont, 0, sizeof(dead_cont));
	for (tc = tc_list; tc; tc = tc->next) {
		memset(tc->stat, 0, sizeof(tc->stat));
		memset(tc->lock_acquired, 0, sizeof(tc->lock_acquired));
		memset(tc->lock_contended, 0, sizeof(tc->lock_contended));
		tc->home_zone = -1;
	}
	pthread_mutex_unlock(&tc_lock);
}
