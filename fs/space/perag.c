// SPDX-License-Identifier: GPL-2.0
/*
 * Per-AG in-memory state and its lock (fs/space/perag.h).
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/space/extent_busy.h"
#include "fs/space/perag.h"

static int perag_class = -1;
static _Thread_local struct kvfs_perag_thread_stats thread_stats;
static pthread_once_t class_once = PTHREAD_ONCE_INIT;

static void class_register(void)
{
	perag_class = kv_lock_class_register("perag");
}

int kvfs_perag_init(struct kvfs_perag *pag, uint32_t agno)
{
	pthread_once(&class_once, class_register);
	if (perag_class < 0)
		return perag_class;
	pag->agno = agno;
	kv_mutex_init(&pag->lock, perag_class);
	pag->agf_init = pag->agi_init = false;
	pag->busy = (struct kvfs_busy_tree){ 0 };
	atomic_init(&pag->ifree_held, 0);
	atomic_init(&pag->lock_acquired, 0);
	atomic_init(&pag->lock_contended, 0);
	return 0;
}

void kvfs_perag_destroy(struct kvfs_perag *pag)
{
	kvfs_extent_busy_destroy(pag);
	kv_mutex_destroy(&pag->lock);
}

static uint64_t thread_bit(const struct kvfs_perag *pag)
{
	return 1ull << (pag->agno < 63 ? pag->agno : 63);
}

static void count_acquired(struct kvfs_perag *pag)
{
	atomic_fetch_add_explicit(&pag->lock_acquired, 1, memory_order_relaxed);
	thread_stats.acquired_mask |= thread_bit(pag);
	thread_stats.acquired++;
}

static void count_contended(struct kvfs_perag *pag)
{
	atomic_fetch_add_explicit(&pag->lock_contended, 1,
				  memory_order_relaxed);
	thread_stats.contended_mask |= thread_bit(pag);
	thread_stats.contended++;
}

void kvfs_perag_lock_(struct kvfs_perag *pag KV_LD_DECL)
{
	count_acquired(pag);
	if (kv_mutex_lock_(&pag->lock KV_LD_KEY_FWD(pag->agno)))
		count_contended(pag);
}

bool kvfs_perag_trylock_(struct kvfs_perag *pag KV_LD_DECL)
{
	if (!kv_mutex_trylock_(&pag->lock KV_LD_KEY_FWD(pag->agno))) {
		count_contended(pag);
		return false;
	}
	count_acquired(pag);
	return true;
}

void kvfs_perag_thread_stats(struct kvfs_perag_thread_stats *st, bool reset)
{
	*st = thread_stats;
	if (reset)
		memset(&thread_stats, 0, sizeof(thread_stats));
}

void kvfs_perag_unlock_(struct kvfs_perag *pag KV_LD_DECL)
{
	kv_mutex_unlock_(&pag->lock KV_LD_FWD);
}

void kvfs_perag_lock_two(struct kvfs_perag *a, struct kvfs_perag *b)
{
	if (a == b) {
		kvfs_perag_lock(a);
	} else if (a->agno < b->agno) {
		kvfs_perag_lock(a);
		kvfs_perag_lock(b);
	} else {
		kvfs_perag_lock(b);
		kvfs_perag_lock(a);
	}
}
