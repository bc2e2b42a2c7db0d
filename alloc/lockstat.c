// SPDX-License-Identifier: GPL-2.0
/*
 * Lock classes and their contention counters.  The counters live in the
 * per-thread caches (one slot per class per thread) and are summed on read,
 * so counting an acquisition never writes a shared cache line.  A thread's
 * slots are created on its first count, which kv_mutex_lock() makes before
 * taking the mutex: creating them takes the thread-cache registry lock,
 * which must never nest inside a kv_mutex (see tcache.c).
 *
 * Locks:
 *   class_lock protects registration (names[], nr_classes).  Readers of a
 *   registered name need no lock: a slot is written once, before nr_classes
 *   is published with release ordering.  Leaf lock.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "alloc/internal.h"

static pthread_mutex_t class_lock = PTHREAD_MUTEX_INITIALIZER;
static char names[KV_LOCK_CLASSES_MAX][24];
static int nr_classes;
#ifdef KV_LOCKDEP
/* each class's rank in alloc/lockrank.h, written before it is published */
static signed char class_rank[KV_LOCK_CLASSES_MAX];
#endif

int kv_lock_class_register(const char *name)
{
	int i, id = -ENOSPC;

	if (!name || !*name)
		return -EINVAL;
	pthread_mutex_lock(&class_lock);
	for (i = 0; i < nr_classes; i++) {
		if (!strncmp(names[i], name, sizeof(names[i]) - 1)) {
			id = i;
			goto out;
		}
	}
	if (nr_classes < KV_LOCK_CLASSES_MAX) {
		id = nr_classes;
		strncpy(names[id], name, sizeof(names[id]) - 1);
#ifdef KV_LOCKDEP
		class_rank[id] = (signed char)kv_lock_rank_of(names[id]);
#endif
		__atomic_store_n(&nr_classes, id + 1, __ATOMIC_RELEASE);
	}
out:
	pthread_mutex_unlock(&class_lock);
	return id;
}

#ifdef KV_LOCKDEP
int kv_lock_class_rank(int class_id)
{
	if ((unsigned)class_id >= (unsigned)kv_lockstat_nr_classes())
		return KV_RANK_NONE;
	return class_rank[class_id];
}
#endif

int kv_lockstat_nr_classes(void)
{
	return __atomic_load_n(&nr_classes, __ATOMIC_ACQUIRE);
}

const char *kv_lockstat_name(int id)
{
	return names[id];
}

void kv_lockstat_thread_init(void)
{
	kv_tcache();
}

void kv_lockstat_contended(int class_id)
{
	struct kv_tcache *tc = kv_tcache();

	if ((unsigned)class_id < KV_LOCK_CLASSES_MAX && tc)
		__atomic_store_n(&tc->lock_contended[class_id],
				 tc->lock_contended[class_id] + 1,
				 __ATOMIC_RELAXED);
}

void kv_lockstat_acquired(int class_id)
{
	struct kv_tcache *tc = kv_tcache();

	if ((unsigned)class_id < KV_LOCK_CLASSES_MAX && tc)
		__atomic_store_n(&tc->lock_acquired[class_id],
				 tc->lock_acquired[class_id] + 1,
				 __ATOMIC_RELAXED);
}

static uint64_t class_count(int class_id, bool contended)
{
	uint64_t stat[KV_T_NR], pcp, acq[KV_LOCK_CLASSES_MAX],
		cont[KV_LOCK_CLASSES_MAX];

	if ((unsigned)class_id >= KV_LOCK_CLASSES_MAX)
		return 0;
	kv_tcache_sum(stat, &pcp, acq, cont);
	return contended ? cont[class_id] : acq[class_id];
}

uint64_t kv_lock_class_contended(int class_id)
{
	return class_count(class_id, true);
}

uint64_t kv_lock_class_acquired(int class_id)
{
	return class_count(class_id, false);
}

int kv_lock_classes(void)
{
	return kv_lockstat_nr_classes();
}

const char *kv_lock_class_name(int class_id)
{
	if ((unsigned)class_id >= (unsigned)kv_lockstat_nr_classes())
		return NULL;
	return kv_lockstat_name(class_id);
}
