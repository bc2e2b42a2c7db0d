// SPDX-License-Identifier: GPL-2.0
/*
 * The growth of the core's rculfhash tables (fs/hash.h): a thread per
 * table, started at its first growth, runs cds_lfht_resize() to the size
 * kvfs_ht_grow() asked for, so that no lookup or insert waits for a
 * resize.  If the thread cannot be started the caller resizes, as before.
 *
 * Locks: struct kvfs_ht_size.lock (fs/hash.h), a leaf.
 */
#include <pthread.h>

#include "fs/hash.h"

struct cds_lfht *kvfs_ht_new(struct kvfs_ht_size *s)
{
	struct cds_lfht *ht = cds_lfht_new(KVFS_HT_MIN_BUCKETS,
					   KVFS_HT_MIN_BUCKETS, 0, 0, NULL);

	if (!ht)
		return NULL;
	atomic_init(&s->size, KVFS_HT_MIN_BUCKETS);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->ht = ht;
	s->started = false;
	s->stop = false;
	s->resized = KVFS_HT_MIN_BUCKETS;
	return ht;
}

static void *resizer(void *arg)
{
	struct kvfs_ht_size *s = arg;

	rcu_register_thread();
	pthread_mutex_lock(&s->lock);
	for (;;) {
		size_t want = atomic_load(&s->size);

		if (s->stop)
			break;
		if (want == s->resized) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		cds_lfht_resize(s->ht, want);
		pthread_mutex_lock(&s->lock);
		s->resized = want;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	rcu_unregister_thread();
	return NULL;
}

void kvfs_ht_kick(struct kvfs_ht_size *s)
{
	size_t want;

	pthread_mutex_lock(&s->lock);
	if (!s->started && !s->stop &&
	    !pthread_create(&s->thread, NULL, resizer, s)) {
		pthread_setname_np(s->thread, "kvfs-htgrow");
		s->started = true;
	}
	if (s->started) {
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	pthread_mutex_unlock(&s->lock);
	/*
	 * No thread: resize here, to the latest size (an older target would
	 * shrink it back), outside any RCU read-side section as
	 * cds_lfht_resize() requires.
	 */
	if (rcu_read_ongoing())
		return;
	pthread_mutex_lock(&s->lock);
	want = atomic_load(&s->size);
	cds_lfht_resize(s->ht, want);
	s->resized = want;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void kvfs_ht_settle(struct kvfs_ht_size *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->started && s->resized != atomic_load(&s->size))
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void kvfs_ht_destroy(struct kvfs_ht_size *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	cds_lfht_destroy(s->ht, NULL);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
}
