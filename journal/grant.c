// SPDX-License-Identifier: GPL-2.0
/*
 * Log space: the grant head.
 *
 * granted counts bytes reserved by live transactions plus bytes they
 * charged to the CIL and that no checkpoint has written yet; avail is the
 * region minus slack minus the bytes between tail and head.  A reservation
 * fits while granted <= avail.  The fast path is one atomic add; one that
 * does not fit waits (FIFO-ish: while anyone waits, newcomers wait too)
 * while the CIL is pushed and the AIL moves the tail.
 *
 * grant.lock only orders waiters; it is innermost.
 */
#include <errno.h>
#include <time.h>

#include "journal/log_priv.h"

int kvj_grant_init(struct kvj_log *log)
{
	struct kvj_grant *g = &log->grant;

	atomic_init(&g->granted, 0);
	atomic_init(&g->avail, 0);
	atomic_init(&g->waiters, 0);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	return 0;
}

void kvj_grant_destroy(struct kvj_log *log)
{
	pthread_mutex_destroy(&log->grant.lock);
	pthread_cond_destroy(&log->grant.cond);
}

static bool grant_try(struct kvj_grant *g, int64_t bytes)
{
	int64_t now = atomic_fetch_add(&g->granted, bytes) + bytes;

	if (now <= atomic_load(&g->avail))
		return true;
	atomic_fetch_sub(&g->granted, bytes);
	return false;
}

/*
 * A waiter checkpoints the CIL only when that gives space back by itself
 * (a good part of the log charged there, which the checkpoint writes
 * compressed) or the AIL has nothing to write back.  Otherwise the tail
 * moves by write-back, and the AIL thread checkpoints the CIL when what it
 * would write back is pinned there.  Every waiter's every wake (each AIL
 * pass) made a checkpoint: 80 a second of a few transactions each, each
 * logging again the whole dirty region of every buffer it held, so that
 * two threads unlinking 350 000 files wrote a third more log, and waited
 * for the write-back of that too.
 */
static bool grant_cil_helps(struct kvj_log *log)
{
	uint64_t seq = atomic_load(&log->cil.seq);

	return atomic_load(&log->ail.nr) == 0 ||
	       atomic_load(&log->cil.space[seq & 1]) >=
		       atomic_load_explicit(&log->cil.push_threshold,
					    memory_order_relaxed) /
			       4;
}

/*
 * fresh: a new transaction's reservation, which nothing depends on yet: it
 * gives up with -ENOSPC once it has waited KVJ_NOSPACE_RESERVE_MS while
 * the write-back that would free log space finds no room on the device
 * (kvj_ail_nospace_for()), instead of waiting until the host filesystem
 * has some; a roll's (!fresh) waits.
 */
int kvj_grant_reserve(struct kvj_log *log, int64_t bytes, bool fresh)
{
	struct kvj_grant *g = &log->grant;
	struct timespec ts;
	uint64_t start;

	if (bytes > (int64_t)(log->p.log_bytes - KVJ_LOG_SLACK) / 2)
		return -E2BIG;
	if (atomic_load(&g->waiters) == 0 && grant_try(g, bytes))
		return 0;

	atomic_fetch_add(&log->st_grant_waits, 1);
	start = kvj_now_ms();
	kv_lockdep_lock(&g->lock, KV_RANK_GRANT, 0);
	pthread_mutex_lock(&g->lock);
	atomic_fetch_add(&g->waiters, 1);
	while (!grant_try(g, bytes)) {
		int err = 0;

		if (kvj_log_is_shutdown(log))
			err = -EIO;
		else if (fresh && kvj_ail_nospace_for(log, 0) &&
			 kvj_now_ms() - start >= KVJ_NOSPACE_RESERVE_MS)
			err = -ENOSPC;

		if (err) {
			atomic_fetch_sub(&g->waiters, 1);
			pthread_mutex_unlock(&g->lock);
			kv_lockdep_unlock(&g->lock);
			return err;
		}
		/* space comes from checkpointing the CIL and moving the tail */
		pthread_mutex_unlock(&g->lock);
		kv_lockdep_unlock(&g->lock);
		if (log->p.no_threads) {
			unsigned pinned, busy;

			/* nobody else will: checkpoint and write back here */
			kvj_cil_push(log, 0, false);
			kvj_ail_push_once(log, &pinned, &busy, NULL);
		} else {
			if (grant_cil_helps(log))
				kvj_push_wake(log);
			kvj_ail_kick(log);
		}
		kv_lockdep_lock(&g->lock, KV_RANK_GRANT, 0);
		pthread_mutex_lock(&g->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 10 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&g->cond, &g->lock, &ts);
	}
	atomic_fetch_sub(&g->waiters, 1);
	pthread_mutex_unlock(&g->lock);
	kv_lockdep_unlock(&g->lock);
	return 0;
}

void kvj_grant_release(struct kvj_log *log, int64_t bytes)
{
	if (!bytes)
		return;
	atomic_fetch_sub(&log->grant.granted, bytes);
	if (atomic_load(&log->grant.waiters))
		kvj_grant_wake(log);
}

void kvj_grant_set_avail(struct kvj_log *log, int64_t avail)
{
	atomic_store(&log->grant.avail, avail);
	if (atomic_load(&log->grant.waiters))
		kvj_grant_wake(log);
}

void kvj_grant_wake(struct kvj_log *log)
{
	kv_lockdep_lock(&log->grant.lock, KV_RANK_GRANT, 0);
	pthread_mutex_lock(&log->grant.lock);
	pthread_cond_broadcast(&log->grant.cond);
	pthread_mutex_unlock(&log->grant.lock);
	kv_lockdep_unlock(&log->grant.lock);
}
