// SPDX-License-Identifier: GPL-2.0
/*
 * Memory relief: the log's kvalloc pressure hook (alloc/kvalloc.h).
 *
 * The CIL keeps every item it holds pinned until the checkpoint that
 * carries it is durable, and a pinned buffer can be neither written back
 * nor reclaimed; after the checkpoint the AIL writes it back, and only then
 * may the buffer cache's shrinker free it.  With a long push interval an
 * allocation in a transaction (NOFS: no FS shrinker for it) may find the
 * budget held by exactly those buffers.  When kvalloc's shrinkers freed
 * nothing, log_relieve() therefore wakes the push thread, waits (bounded)
 * for a push that started after the request to finish, asks the AIL to
 * write everything back and waits for its next pass, and tells kvalloc to
 * try again.  Pushing early also bounds what the CIL pins in the
 * first place (cil.c: push_mem).
 *
 * The rule (why no waiter can wait for itself):
 *   A thread waits here only when it is none of these:
 *   - inside an RCU read-side section (urcu memb): the push switches
 *     contexts with a grace period, which would wait for the waiter.  A
 *     commit is such a section from its context's sequence read to the
 *     end of its formatting (cil.c: the XFS context lock's shared side);
 *     it allocates its entries before entering (cil_prep()), so its
 *     allocations wait here, outside, and its formatting allocates nothing;
 *   - the push thread or the AIL thread, or a thread inside
 *     kvj_cil_push() (push_lock held) or kvj_ail_push_once() (the AIL lock
 *     held, ops->push running): the work waited for is theirs or needs
 *     their lock (kvj_nowait_enter(), a per-thread count);
 *   - in a NOIO scope: the work waited for writes.
 *   Nor does it take any journal lock: only relief_lock, a leaf held for
 *   nothing but the wait's condition, and push_wake_lock, to wake the push
 *   thread (a leaf, never held across anything).  What the push and the
 *   AIL need besides is never held across an allocation: the push takes no
 *   item lock (committed() and unpin() take none, the AIL pusher only
 *   trylocks), the per-CPU slot locks are held for list splices only, and
 *   log->lock and the AIL lock are taken around no allocation outside the
 *   threads excluded above.
 *   A waiter may still hold a lock that some RCU reader waits for; then the
 *   grace period, the push and the wait take as long as the bounds
 *   (RELIEF_*_MS, 3 s a call at most): a stall, never a deadlock.
 */
#define _LGPL_SOURCE
#include <errno.h>
#include <time.h>
#include <urcu/urcu-memb.h>

#include "journal/log_priv.h"

/*
 * The longest one call waits for the push to start, for it to end (a slow
 * flush under load is no reason to fail the allocation), and for the AIL.
 */
#define RELIEF_START_MS 500
#define RELIEF_PUSH_MS 2000
#define RELIEF_AIL_MS 500

_Thread_local unsigned kvj_tl_nowait;

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Called with relief_lock held: cond met, or the deadline passed. */
static bool relief_wait_locked(struct kvj_log *log, _Atomic uint64_t *ctr,
			       uint64_t target, const struct timespec *dl)
{
	while (atomic_load(ctr) < target) {
		if (kvj_log_is_shutdown(log))
			return false;
		if (pthread_cond_timedwait(&log->relief_cond, &log->relief_lock,
					   dl) == ETIMEDOUT)
			return atomic_load(ctr) >= target;
	}
	return true;
}

static bool log_relieve(void *priv, kv_gfp_t gfp)
{
	struct kvj_log *log = priv;
	struct timespec dl;
	uint64_t push, gen;
	bool pushed, wrote = false;

	if (kvj_log_is_shutdown(log))
		return false;
	atomic_fetch_add_explicit(&log->st_relief_calls, 1,
				  memory_order_relaxed);
	/* a push that starts after this covers everything committed so far */
	push = atomic_load(&log->push_started) + 1;
	kvj_push_wake(log);
	if ((gfp & KV_NOIO) || kvj_tl_nowait || urcu_memb_read_ongoing()) {
		/* no waiting here: the threads still do the work */
		kvj_log_push_ail(log);
		return false;
	}
	atomic_fetch_add_explicit(&log->st_relief_waits, 1,
				  memory_order_relaxed);
	atomic_fetch_add(&log->relief_waiters, 1);
	pthread_mutex_lock(&log->relief_lock);
	deadline_after(&dl, RELIEF_START_MS);
	pushed = relief_wait_locked(log, &log->push_started, push, &dl);
	if (pushed) {
		deadline_after(&dl, RELIEF_PUSH_MS);
		pushed = relief_wait_locked(log, &log->push_done, push, &dl);
	}
	pthread_mutex_unlock(&log->relief_lock);
	if (pushed && atomic_load(&log->ail.nr)) {
		/* the checkpoint's items are in the AIL: write them all back */
		gen = atomic_load(&log->ail_gen);
		kvj_log_push_ail(log);
		deadline_after(&dl, RELIEF_AIL_MS);
		pthread_mutex_lock(&log->relief_lock);
		wrote = relief_wait_locked(log, &log->ail_gen, gen + 1, &dl);
		pthread_mutex_unlock(&log->relief_lock);
	}
	atomic_fetch_sub(&log->relief_waiters, 1);
	return pushed || wrote;
}

/* A push or a write-back ended: let the waiters look. */
void kvj_relief_wake(struct kvj_log *log)
{
	if (!atomic_load(&log->relief_waiters))
		return;
	pthread_mutex_lock(&log->relief_lock);
	pthread_cond_broadcast(&log->relief_cond);
	pthread_mutex_unlock(&log->relief_lock);
}

int kvj_relief_start(struct kvj_log *log)
{
	int err;

	if (log->p.no_threads)
		return 0; /* nobody would do the work waited for */
	log->relief.name = "kvjournal";
	log->relief.relieve = log_relieve;
	log->relief.priv = log;
	err = kv_register_pressure(&log->relief);
	if (!err)
		log->relief_registered = true;
	return err;
}

void kvj_relief_stop(struct kvj_log *log)
{
	if (!log->relief_registered)
		return;
	kv_unregister_pressure(&log->relief);
	log->relief_registered = false;
}
