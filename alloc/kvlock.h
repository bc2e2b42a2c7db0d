/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kv_mutex: a pthread mutex that counts its contended acquisitions per lock
 * class (see kv_lock_class_register() in kvalloc.h).  The counters are
 * per-CPU slots summed on read, so measuring contention does not itself
 * bounce a shared cache line on the uncontended path.
 */
#ifndef KV_ALLOC_KVLOCK_H
#define KV_ALLOC_KVLOCK_H

#include <pthread.h>

struct kv_mutex {
	pthread_mutex_t m;
	int class_id;
};

void kv_lockstat_contended(int class_id);
void kv_lockstat_acquired(int class_id);
/*
 * Sets up the calling thread's counter slots.  The counting calls do it on
 * first use; they are made before the mutex is taken so that this never
 * happens with a kv_mutex held.
 */
void kv_lockstat_thread_init(void);

static inline void kv_mutex_init(struct kv_mutex *l, int class_id)
{
	pthread_mutex_init(&l->m, NULL);
	l->class_id = class_id;
}

static inline void kv_mutex_destroy(struct kv_mutex *l)
{
	pthread_mutex_destroy(&l->m);
}

static inline void kv_mutex_lock(struct kv_mutex *l)
{
	kv_lockstat_acquired(l->class_id);
	if (pthread_mutex_trylock(&l->m) != 0) {
		kv_lockstat_contended(l->class_id);
		pthread_mutex_lock(&l->m);
	}
}

static inline int kv_mutex_trylock(struct kv_mutex *l)
{
	kv_lockstat_thread_init();
	if (pthread_mutex_trylock(&l->m) != 0)
		return 0;
	kv_lockstat_acquired(l->class_id);
	return 1;
}

static inline void kv_mutex_unlock(struct kv_mutex *l)
{
	pthread_mutex_unlock(&l->m);
}

#endif
