/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kv_mutex: a pthread mutex that counts its contended acquisitions per lock
 * class (see kv_lock_class_register() in kvalloc.h).  The counters are
 * per-CPU slots summed on read, so measuring contention does not itself
 * bounce a shared cache line on the uncontended path.
 *
 * In debug builds every acquisition of a ranked class is checked against
 * the locks the thread holds (alloc/lockrank.h); kv_mutex_lock_nested()
 * gives the key that orders two locks of one KV_NEST_KEYED class.  The
 * call macros pass their caller's file and line to the check; release
 * builds call the plain functions.
 */
#ifndef KV_ALLOC_KVLOCK_H
#define KV_ALLOC_KVLOCK_H

#include <pthread.h>

#include "alloc/lockrank.h"

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

/* Returns 1 if the lock was contended (had to be waited for), else 0. */
static inline int kv_mutex_lock_(struct kv_mutex *l KV_LD_KEY_DECL)
{
#ifdef KV_LOCKDEP
	kv_lockdep_acquire(l, kv_lock_class_rank(l->class_id), ld_key, false,
			   ld_file, ld_line);
#endif
	kv_lockstat_acquired(l->class_id);
	if (pthread_mutex_trylock(&l->m) != 0) {
		kv_lockstat_contended(l->class_id);
		pthread_mutex_lock(&l->m);
		return 1;
	}
	return 0;
}

static inline int kv_mutex_trylock_(struct kv_mutex *l KV_LD_KEY_DECL)
{
	kv_lockstat_thread_init();
	if (pthread_mutex_trylock(&l->m) != 0)
		return 0;
#ifdef KV_LOCKDEP
	kv_lockdep_acquire(l, kv_lock_class_rank(l->class_id), ld_key, true,
			   ld_file, ld_line);
#endif
	kv_lockstat_acquired(l->class_id);
	return 1;
}

static inline void kv_mutex_unlock_(struct kv_mutex *l KV_LD_DECL)
{
	pthread_mutex_unlock(&l->m);
#ifdef KV_LOCKDEP
	if (kv_lock_class_rank(l->class_id) != KV_RANK_NONE)
		kv_lockdep_release(l, ld_file, ld_line);
#endif
}

#define kv_mutex_lock(l) kv_mutex_lock_(l KV_LD_KEY(0))
#define kv_mutex_lock_nested(l, key) kv_mutex_lock_(l KV_LD_KEY(key))
#define kv_mutex_trylock(l) kv_mutex_trylock_(l KV_LD_KEY(0))
#define kv_mutex_trylock_nested(l, key) kv_mutex_trylock_(l KV_LD_KEY(key))
#define kv_mutex_unlock(l) kv_mutex_unlock_(l KV_LD_SITE)

#endif
