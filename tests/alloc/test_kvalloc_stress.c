// SPDX-License-Identifier: GPL-2.0
/*
 * Multi-threaded random alloc/free over every allocation kind, sizes 8 B to
 * 4 MiB, with patterns written into the memory and verified before each
 * free; a share of the objects is freed by another thread.  At the end every
 * page is back in the arena and nothing is live.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "tests/check.h"

#define NTHREADS 6
#define SLOTS 48
#ifdef KV_DEBUG
#define ITERS 15000
#else
#define ITERS 60000
#endif

enum kind { K_KV, K_KMALLOC, K_VMALLOC, K_PAGES, K_CACHE, K_NR };

struct obj {
	unsigned char *p;
	size_t size;
	unsigned order;
	enum kind kind;
	uint32_t seed;
};

static struct kv_cache *shared_cache;
/* hand-off slots: one object in flight from each thread to the next */
static struct obj handoff[NTHREADS];
static int handoff_full[NTHREADS];

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* Writing a 4 MiB object whole under ASan is slow: stride the big ones. */
static size_t stride(size_t size)
{
	return size <= (64 << 10) ? 1 : 61;
}

static void fill(struct obj *o)
{
	size_t i, st = stride(o->size);

	for (i = 0; i < o->size; i += st)
		o->p[i] = (unsigned char)(o->seed + i * 31);
	o->p[o->size - 1] = (unsigned char)(o->seed ^ 0xa5);
}

static void verify(const struct obj *o)
{
	size_t i, st = stride(o->size);

	for (i = 0; i < o->size - 1; i += st)
		CHECK(o->p[i] == (unsigned char)(o->seed + i * 31));
	CHECK(o->p[o->size - 1] == (unsigned char)(o->seed ^ 0xa5));
}

static void release(struct obj *o)
{
	verify(o);
	switch (o->kind) {
	case K_KMALLOC:
		kv_kfree(o->p);
		break;
	case K_VMALLOC:
		kv_vfree(o->p);
		break;
	case K_PAGES:
		kv_free_pages(o->p, o->order);
		break;
	case K_CACHE:
		kv_cache_free(shared_cache, o->p);
		break;
	default:
		kvfree(o->p);
	}
	o->p = NULL;
}

static bool make(struct obj *o, uint32_t *s)
{
	uint32_t r = rnd(s);
	unsigned shift = 3 + r % 20; /* 8 B .. 4 MiB, log-uniform */

	o->kind = (enum kind)((r >> 8) % K_NR);
	o->size = ((size_t)1 << shift) + (rnd(s) % ((size_t)1 << shift));
	if (o->size > ((size_t)4 << 20))
		o->size = (size_t)4 << 20;
	o->seed = rnd(s);
	switch (o->kind) {
	case K_KMALLOC:
		o->size = o->size % KV_SLAB_MAX + 1;
		o->p = kv_kmalloc(o->size, 0);
		break;
	case K_VMALLOC:
		o->size = o->size % (1 << 20) + 1;
		o->p = kv_vmalloc(o->size, 0);
		break;
	case K_PAGES:
		o->order = r % 4;
		o->size = KV_PAGE_SIZE << o->order;
		o->p = kv_alloc_pages(o->order, 0);
		break;
	case K_CACHE:
		o->size = 200;
		o->p = kv_cache_alloc(shared_cache, 0);
		break;
	default:
		if ((r >> 16) % 8 == 0 && o->size > 16) {
			/* grow through kvrealloc, keeping the prefix */
			o->p = kvmalloc(o->size / 2, 0);
			CHECK(o->p);
			memset(o->p, 0x11, o->size / 2);
			o->p = kvrealloc(o->p, o->size, 0);
			CHECK(o->p && o->p[o->size / 2 - 1] == 0x11);
		} else {
			o->p = kvmalloc(o->size, 0);
		}
	}
	if (!o->p)
		return false;
	fill(o);
	return true;
}

static void *worker(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, i, k;
	struct obj slot[SLOTS] = { 0 };
	uint32_t s = 0x9e3779b9u * (id + 1);
	unsigned next = (id + 1) % NTHREADS;

	for (i = 0; i < ITERS; i++) {
		k = rnd(&s) % SLOTS;
		if (slot[k].p) {
			/* give some to the next thread to free */
			if (rnd(&s) % 4 == 0 &&
			    !__atomic_load_n(&handoff_full[next],
					     __ATOMIC_ACQUIRE)) {
				handoff[next] = slot[k];
				__atomic_store_n(&handoff_full[next], 1,
						 __ATOMIC_RELEASE);
				slot[k].p = NULL;
			} else {
				release(&slot[k]);
			}
		} else {
			CHECK(make(&slot[k], &s));
		}
		if (__atomic_load_n(&handoff_full[id], __ATOMIC_ACQUIRE)) {
			release(&handoff[id]);
			__atomic_store_n(&handoff_full[id], 0,
					 __ATOMIC_RELEASE);
		}
	}
	for (k = 0; k < SLOTS; k++)
		if (slot[k].p)
			release(&slot[k]);
	return NULL;
}

/* Short-lived threads: each exit drains its caches through the destructor. */
static void *churn(void *arg)
{
	uint32_t s = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
	struct obj o[8];
	unsigned i;

	for (i = 0; i < 8; i++)
		CHECK(make(&o[i], &s));
	for (i = 0; i < 8; i++)
		release(&o[i]);
	return NULL;
}

static void test_churn(void)
{
	pthread_t t[4];
	unsigned round, i;

	for (round = 0; round < 16; round++) {
		for (i = 0; i < 4; i++)
			CHECK_EQ(pthread_create(
					 &t[i], NULL, churn,
					 (void *)(uintptr_t)(round * 4 + i)),
				 0);
		for (i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
	}
}

int main(void)
{
	pthread_t t[NTHREADS];
	struct kv_stats st;
	unsigned i;

	CHECK_EQ(kv_init(NULL), 0);
	shared_cache = kv_cache_create("stress", 200, 16);
	CHECK(shared_cache);
	for (i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, worker,
					(void *)(uintptr_t)i),
			 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < NTHREADS; i++)
		if (handoff_full[i])
			release(&handoff[i]);
	test_churn();
	kv_cache_destroy(shared_cache);

	kv_drain_caches();
	kv_stats(&st);
	CHECK_EQ(st.live_allocs, 0);
	CHECK_EQ(st.vmap_areas_live, 0);
	CHECK_EQ(st.pcp_pages, 0);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK(st.vmap_fallbacks + st.vmap_allocs > 0);
	CHECK(st.slab_allocs > 0);
	CHECK_EQ(st.alloc_failures, 0);
	kv_fini();
	return 0;
}
