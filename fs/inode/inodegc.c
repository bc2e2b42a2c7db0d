// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred inode inactivation (see fs/inode/inodegc.h for the contract).
 *
 * Lock: gc->lock protects the queue, the sequence counters and stop; it
 * is a leaf (the worker drops it before it puts an inode).  Inodes are
 * chained through i_gc_next while queued: a queued inode is referenced,
 * so reclaim (which only claims unreferenced inodes) never sees it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/inode/inodegc.h"
#include "fs/mount.h"
#include "journal/errortag.h"

struct kvfs_inodegc {
	pthread_mutex_t lock;
	pthread_cond_t work; /* the worker waits for inodes or stop */
	pthread_cond_t done; /* flushers wait for put to pass their mark */
	struct kvfs_inode *head, *tail;
	uint64_t queued, put; /* inodes queued and put, ever */
	bool stop;
	pthread_t thread;
};

static void *gc_worker(void *arg)
{
	struct kvfs_inodegc *gc = arg;
	struct kvfs_inode *ip;

	pthread_mutex_lock(&gc->lock);
	for (;;) {
		while (!gc->head && !gc->stop)
			pthread_cond_wait(&gc->work, &gc->lock);
		ip = gc->head;
		if (!ip)
			break;
		gc->head = ip->i_gc_next;
		if (!gc->head)
			gc->tail = NULL;
		ip->i_gc_next = NULL;
		pthread_mutex_unlock(&gc->lock);
		if (kvj_errtag(KVJ_ERRTAG_INODEGC_DELAY))
			usleep((useconds_t)kvj_errtag_value(
				KVJ_ERRTAG_INODEGC_DELAY));
		/* outside any transaction: a last put here frees the inode */
		kvfs_iput(ip);
		pthread_mutex_lock(&gc->lock);
		gc->put++;
		pthread_cond_broadcast(&gc->done);
	}
	pthread_mutex_unlock(&gc->lock);
	return NULL;
}

int kvfs_inodegc_start(struct kvfs_mount *mp)
{
	struct kvfs_inodegc *gc = kvzalloc(sizeof(*gc), 0);
	int err;

	if (!gc)
		return -ENOMEM;
	pthread_mutex_init(&gc->lock, NULL);
	pthread_cond_init(&gc->work, NULL);
	pthread_cond_init(&gc->done, NULL);
	err = pthread_create(&gc->thread, NULL, gc_worker, gc);
	if (err) {
		pthread_cond_destroy(&gc->done);
		pthread_cond_destroy(&gc->work);
		pthread_mutex_destroy(&gc->lock);
		kvfree(gc);
		return -err;
	}
	pthread_setname_np(gc->thread, "kvfs-inodegc");
	mp->inodegc = gc;
	return 0;
}

void kvfs_inodegc_stop(struct kvfs_mount *mp)
{
	struct kvfs_inodegc *gc = mp->inodegc;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->lock);
	gc->stop = true;
	pthread_cond_signal(&gc->work);
	pthread_mutex_unlock(&gc->lock);
	pthread_join(gc->thread, NULL);
	pthread_cond_destroy(&gc->done);
	pthread_cond_destroy(&gc->work);
	pthread_mutex_destroy(&gc->lock);
	kvfree(gc);
	mp->inodegc = NULL;
}

void kvfs_inodegc_queue(struct kvfs_inode *ip)
{
	struct kvfs_inodegc *gc = ip->i_mount->inodegc;

	pthread_mutex_lock(&gc->lock);
	ip->i_gc_next = NULL;
	if (gc->tail)
		gc->tail->i_gc_next = ip;
	else
		gc->head = ip;
	gc->tail = ip;
	gc->queued++;
	pthread_cond_signal(&gc->work);
	pthread_mutex_unlock(&gc->lock);
}

void kvfs_inodegc_flush(struct kvfs_mount *mp)
{
	struct kvfs_inodegc *gc = mp->inodegc;
	uint64_t mark;

	if (!gc)
		return;
	pthread_mutex_lock(&gc->lock);
	mark = gc->queued;
	while (gc->put < mark)
		pthread_cond_wait(&gc->done, &gc->lock);
	pthread_mutex_unlock(&gc->lock);
}
