// SPDX-License-Identifier: GPL-2.0
/*
 * The active item list: items whose newest logged state is durable in the
 * log but not yet written in place, in ascending LSN order.  Its first
 * item is the log tail.  A background thread writes items back (through
 * ops->push, which stamps the LSN), flushes, then removes the items whose
 * LSN did not move meanwhile and advances the tail, which frees log space
 * for reservations.
 *
 * ail.lock protects the list, item->in_ail and item->lsn, and the
 * pusher's state; it nests outside log->lock.  ops->push runs under it and
 * may only trylock the item.
 *
 * kvj_item_in_ail() reads in_ail without the lock, for owners that know
 * the item cannot enter the AIL meanwhile (it is unpinned and they hold
 * what it would need to be logged): the insertion is over before the
 * unpin they saw, and clearing in_ail (a release store) is the deletion's
 * last touch of the item, so an owner that reads false may free it.  Every
 * buffer a transaction only read took the AIL lock this way on release,
 * and two creating threads slept on it behind the pusher's batches (a
 * fifth of their waits).
 */
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "journal/errortag.h"
#include "journal/log_priv.h"

/* items a pass looks at per hold of the AIL lock */
#define AIL_BATCH 256
/*
 * items a pass writes back before its flush: one flush (fdatasync of the
 * image, some milliseconds) every 256 items bounded the AIL at some 90 000
 * items a second, most of it waiting for flushes, and committers waited
 * for log space behind it
 */
#define AIL_FLUSH_ITEMS 4096

/*
 * A pass met nospace items the device had no room for: the state starts
 * (if it had not).  A pass that tried every item it looked at, none held
 * by its owner (clear: a held one may be the item without room), and met
 * none without room ends it.
 */
static void ail_nospace_note(struct kvj_log *log, unsigned nospace, bool clear)
{
	struct kvj_ail *ail = &log->ail;

	if (nospace) {
		uint64_t zero = 0;

		atomic_fetch_add_explicit(&log->st_nospace_retries, nospace,
					  memory_order_relaxed);
		if (atomic_compare_exchange_strong(&ail->nospace_since_ms,
						   &zero, kvj_now_ms()))
			kvj_report("write-back: no space on the device (a "
				   "sparse image's host filesystem full?): "
				   "retrying; the log keeps every change");
	} else if (clear && atomic_exchange(&ail->nospace_since_ms, 0)) {
		kvj_report("write-back: the device has room again");
	}
}

bool kvj_ail_nospace_for(struct kvj_log *log, uint64_t ms)
{
	uint64_t since = atomic_load(&log->ail.nospace_since_ms);

	return since && kvj_now_ms() - since >= ms;
}

void kvj_ail_insert_locked(struct kvj_log *log, struct kvj_item *lip,
			   kvj_lsn_t lsn)
{
	struct kvj_ail *ail = &log->ail;

	if (lip->in_ail) {
		if (lip->lsn >= lsn)
			return;
		kvj_ail_delete_locked(log, lip);
	}
	/* checkpoints complete in LSN order: append */
	lip->lsn = lsn;
	lip->ail_next = NULL;
	lip->ail_prev = ail->tail;
	if (ail->tail)
		ail->tail->ail_next = lip;
	else
		ail->head = lip;
	ail->tail = lip;
	__atomic_store_n(&lip->in_ail, true, __ATOMIC_RELAXED);
	ail->nr++;
	ail->inserts++;
}

void kvj_ail_delete_locked(struct kvj_log *log, struct kvj_item *lip)
{
	struct kvj_ail *ail = &log->ail;
	struct kvj_ail_cursor *c;

	if (!lip->in_ail)
		return;
	for (c = ail->cursors; c; c = c->next)
		if (c->item == lip)
			c->item = lip->ail_next;
	if (lip->ail_prev)
		lip->ail_prev->ail_next = lip->ail_next;
	else
		ail->head = lip->ail_next;
	if (lip->ail_next)
		lip->ail_next->ail_prev = lip->ail_prev;
	else
		ail->tail = lip->ail_prev;
	lip->ail_prev = lip->ail_next = NULL;
	/* the last touch: kvj_item_in_ail() readers may free it now */
	__atomic_store_n(&lip->in_ail, false, __ATOMIC_RELEASE);
	ail->nr--;
}

kvj_lsn_t kvj_ail_min_locked(struct kvj_log *log)
{
	return log->ail.head ? log->ail.head->lsn : 0;
}

bool kvj_item_in_ail(struct kvj_item *lip)
{
	return __atomic_load_n(&lip->in_ail, __ATOMIC_ACQUIRE);
}

void kvj_ail_remove(struct kvj_item *lip)
{
	struct kvj_log *log = lip->log;

	kv_mutex_lock(&log->ail.lock);
	if (lip->in_ail) {
		kvj_ail_delete_locked(log, lip);
		kv_mutex_lock(&log->lock);
		kvj_update_tail_locked(log, kvj_ail_min_locked(log));
		kv_mutex_unlock(&log->lock);
	}
	kv_mutex_unlock(&log->ail.lock);
}

/* A pass wrote back what it could: memory relief's waiters may look. */
static void ail_pass_done(struct kvj_log *log)
{
	atomic_fetch_add(&log->ail_gen, 1);
	kvj_relief_wake(log);
}

/*
 * Push one batch from the front of the AIL.  Returns the number of items
 * written back and removed (the AIL thread may have removed some of them
 * first), or a negative errno; *pinned counts items that need a log force
 * first, *busy items whose owner holds them for now or whose write-back
 * must be tried again (the flush found the host short of memory), *pushed
 * (may be NULL) items written back and flushed.  What is none of these is
 * an intent waiting for its done: only its owner moves it.
 *
 * A batch is up to AIL_FLUSH_ITEMS items written back, then one flush.
 * The pass drops the AIL lock every AIL_BATCH items it looks at (a
 * cursor keeps its place), so that checkpoints entering the AIL and
 * owners asking about their items do not wait for the whole batch.
 *
 * No pointer to an item is kept across the flush, where the AIL lock is
 * dropped: another pusher (the AIL thread and kvj_log_drain() push
 * concurrently) or kvj_ail_remove() may take a pushed item out of the AIL
 * meanwhile and its owner free it.  Each pushed item is marked with this
 * pass instead, and after the flush only the items still in the AIL are
 * looked at: the batch's survivors are among the first entries the pass
 * scanned, since the AIL only grows at its end.
 */
static int ail_push_batch(struct kvj_log *log, uint64_t span, unsigned *pinned,
			  unsigned *busy, unsigned *pushed)
{
	struct kvj_ail *ail = &log->ail;
	struct kvj_ail_cursor cur, **cp;
	struct kvj_item *lip, *next;
	unsigned n = 0, found = 0, removed = 0, looked = 0, nospace = 0;
	uint64_t pass, gen, scanned = 0;
	bool flush;
	kvj_lsn_t first;
	int err = 0;

	*pinned = 0;
	*busy = 0;
	/* ops->push runs under the AIL lock: no waiting for relief */
	kvj_nowait_enter();
	kv_mutex_lock(&ail->lock);
	pass = ++ail->push_passes;
	first = kvj_ail_min_locked(log);
	cur.item = ail->head;
	cur.next = ail->cursors;
	ail->cursors = &cur;
	while ((lip = cur.item) && n < AIL_FLUSH_ITEMS) {
		/* ascending LSNs: the rest lies past the span too */
		if (span && kvj_lsn_diff_bytes(log, first, lip->lsn) > span)
			break;
		cur.item = lip->ail_next;
		/*
		 * The items lie in their owners' objects, apart: without this
		 * each step of the walk waited for a cache miss (a fifth of
		 * the AIL thread's time as two threads unlinked their files)
		 */
		if (cur.item) {
			__builtin_prefetch(cur.item);
			__builtin_prefetch(&cur.item->lsn);
		}
		scanned++;
		switch (lip->ops->push(lip, lip->lsn)) {
		case KVJ_PUSH_SUCCESS:
			ail->write_gen++;
			/* fallthrough */
		case KVJ_PUSH_CLEAN:
			lip->push_pass = pass;
			lip->push_lsn = lip->lsn;
			n++;
			break;
		case KVJ_PUSH_PINNED:
			(*pinned)++;
			break;
		case KVJ_PUSH_NOSPACE:
			nospace++;
			/* fallthrough */
		case KVJ_PUSH_LOCKED:
			(*busy)++;
			break;
		default:
			break;
		}
		if (++looked % AIL_BATCH == 0 && cur.item) {
			kv_mutex_unlock(&ail->lock);
			kv_mutex_lock(&ail->lock);
		}
	}
	for (cp = &ail->cursors; *cp != &cur; cp = &(*cp)->next)
		;
	*cp = cur.next;
	ail_nospace_note(log, nospace, looked && !*busy);
	/*
	 * What this pass or another wrote and no flush covers yet; a pass of
	 * clean items alone may rely on another's write (a cluster written
	 * with a neighbour's inode)
	 */
	gen = ail->write_gen;
	flush = n && ail->flushed_gen < gen;
	kv_mutex_unlock(&ail->lock);
	kvj_nowait_leave();
	if (pushed)
		*pushed = n;
	if (!n) {
		ail_pass_done(log);
		return 0;
	}

	/* the tail may only pass what is durable in place */
	if (flush)
		err = kvj_io_flush(log);
	if (err && kvj_io_transient(err)) {
		/*
		 * Short of memory: the items stay, as if busy, and a later
		 * pass writes them again and flushes (ckpt_backoff() in
		 * push.c says why not shut down).
		 */
		atomic_fetch_add_explicit(&log->st_write_retries, 1,
					  memory_order_relaxed);
		*busy += n;
		if (pushed)
			*pushed = 0;
		ail_pass_done(log);
		return 0;
	}
	if (err) {
		kvj_log_shutdown(log, "AIL write-back flush failed");
		return err;
	}
	if (kvj_errtag(KVJ_ERRTAG_AIL_PUSH_DELAY))
		usleep((useconds_t)kvj_errtag_value(KVJ_ERRTAG_AIL_PUSH_DELAY));
	kv_mutex_lock(&ail->lock);
	if (flush && ail->flushed_gen < gen)
		ail->flushed_gen = gen;
	for (lip = ail->head; lip && scanned-- && found < n; lip = next) {
		next = lip->ail_next;
		/* a later pass that pushed it again removes it */
		if (lip->push_pass != pass)
			continue;
		found++;
		/* unless relogged since (its LSN moved): not yet in place */
		if (lip->lsn == lip->push_lsn) {
			if (lip->ops->written)
				lip->ops->written(lip);
			kvj_ail_delete_locked(log, lip);
			removed++;
		}
	}
	kv_mutex_lock(&log->lock);
	kvj_update_tail_locked(log, kvj_ail_min_locked(log));
	kv_mutex_unlock(&log->lock);
	pthread_cond_broadcast(&ail->cond);
	kv_mutex_unlock(&ail->lock);
	atomic_fetch_add_explicit(&log->st_ail_pushed, removed,
				  memory_order_relaxed);
	ail_pass_done(log);
	return removed;
}

int kvj_ail_push_once(struct kvj_log *log, unsigned *pinned, unsigned *busy,
		      unsigned *pushed)
{
	return ail_push_batch(log, 0, pinned, busy, pushed);
}

/*
 * A reservation waits for space (grant.waiters, which ail_wants_push()
 * reads, already counts it): wake the AIL thread if it sleeps.  Only a
 * trylock: the lock is held across whole batches of write-backs, and two
 * creating threads spent 0.47 s of a 10 s run queued on it here.  A
 * thread in a pass looks at the waiters again when the pass ends; a kick
 * lost to one about to sleep costs its 20 ms timer at most, and the
 * waiter kicks again on its own 10 ms one.
 */
void kvj_ail_kick(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;

	atomic_store(&ail->kicked, true);
	if (kv_mutex_trylock(&ail->lock)) {
		pthread_cond_broadcast(&ail->cond);
		kv_mutex_unlock(&ail->lock);
	}
}

/*
 * The AIL lock may be held by the allocating thread itself (ops->push runs
 * under it), so a reclaim request only sets a flag and wakes the thread if
 * the lock is free; the thread also polls the flag on its 20 ms timer.
 */
void kvj_log_push_ail(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;

	atomic_store(&ail->reclaim, true);
	if (kv_mutex_trylock(&ail->lock)) {
		pthread_cond_broadcast(&ail->cond);
		kv_mutex_unlock(&ail->lock);
	}
}

/* Nothing entered the AIL for idle_push_ms: time to write it all back. */
static bool ail_idle(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;
	uint64_t now = kvj_now_ms();

	if (ail->inserts != ail->idle_inserts) {
		ail->idle_inserts = ail->inserts;
		ail->idle_since_ms = now;
		return false;
	}
	if (now - ail->idle_since_ms < log->p.idle_push_ms)
		return false;
	/* once per idle period (intents waiting for their done stay) */
	ail->idle_since_ms = now;
	return true;
}

/*
 * Push when space runs short, someone waits for space, memory is short,
 * the log has been idle, or asked to.  *span: how much of the log from its
 * tail a pass may write back, 0 for no bound.  Space running short with
 * nobody waiting pushes only the oldest items, those whose write-back
 * brings the log back to half used, where the push stops (a target, as
 * XFS's xfsaild has): unbounded, the passes went on past a tail the CIL
 * pinned, where no write-back moves it, over every pinned item each time,
 * and wrote back the whole AIL (two threads unlinking the files they had
 * just made: every inode cluster written, to be freed a moment later, and
 * the AIL thread took a third of the workers' CPU).  A target lower than
 * half (three eighths) only wrote more back.
 */
static bool ail_wants_push(struct kvj_log *log, uint64_t *span)
{
	int64_t used =
		(int64_t)log->p.log_bytes - atomic_load(&log->grant.avail);

	*span = 0;
	if (atomic_exchange(&log->ail.reclaim, false) ||
	    (log->ail.head && !log->ail.push_all && ail_idle(log)))
		log->ail.push_all = true;
	if (!log->ail.head)
		return false;
	if (log->ail.push_all || atomic_load(&log->ail.kicked) ||
	    atomic_load(&log->grant.waiters))
		return true;
	if (used <= (int64_t)log->p.log_bytes / 2)
		return false;
	*span = (uint64_t)used - log->p.log_bytes / 2;
	return true;
}

static void *ail_thread(void *arg)
{
	struct kvj_log *log = arg;
	struct kvj_ail *ail = &log->ail;
	struct timespec ts;
	unsigned pinned, busy, nofs;
	bool idle_pass = false;
	uint64_t span;
	int n;

	/*
	 * NOFS for the thread's life: it pushes the CIL (push_lock held,
	 * NOFAIL allocations) and items (AIL lock held), and an FS shrinker
	 * may force the log, which takes both.
	 */
	nofs = kv_nofs_save();
	kvj_nowait_enter();
	kv_mutex_lock(&ail->lock);
	while (!ail->stop) {
		/* an idle pass delays the next bounded one, no other */
		if (!ail_wants_push(log, &span) || (idle_pass && span)) {
			idle_pass = false;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&ail->cond, &ail->lock.m, &ts);
			continue;
		}
		atomic_store(&ail->kicked, false);
		kv_mutex_unlock(&ail->lock);
		n = ail_push_batch(log, span, &pinned, &busy, NULL);
		/*
		 * A bounded pass that could move nothing (pinned items: the
		 * CIL's next checkpoint, due anyway, unpins them; held ones;
		 * intents waiting for their owners) has the next look on the
		 * timer: a checkpoint forced here came at every pass while the
		 * workers relogged the items at the tail, a few transactions
		 * each.  A reservation that waits makes the push unbounded.
		 */
		idle_pass = n == 0 && span;
		if (n == 0 && !span &&
		    (pinned || atomic_load(&log->grant.waiters))) {
			/*
			 * The tail is pinned by the CIL, or waits there for an
			 * intent's done while reservations wait: checkpoint it
			 */
			kvj_cil_push(log, 0, false);
		} else if (n < 0 || (n == 0 && busy && !span)) {
			usleep(1000);
		}
		if (kvj_ail_nospace_for(log, 0))
			usleep(KVJ_NOSPACE_PAUSE_US);
		kv_mutex_lock(&ail->lock);
		if (!ail->head || (n == 0 && !pinned && !busy))
			ail->push_all = false;
		if (n < 0)
			break;
	}
	kv_mutex_unlock(&ail->lock);
	kvj_nowait_leave();
	kv_nofs_restore(nofs);
	return NULL;
}

void kvj_ail_init(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;

	kv_mutex_init(&ail->lock, kvj_lock_class(KVJ_LC_AIL));
	pthread_cond_init(&ail->cond, NULL);
}

int kvj_ail_start(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;

	if (pthread_create(&ail->thread, NULL, ail_thread, log))
		return -EAGAIN;
	pthread_setname_np(ail->thread, "kvfs-ail");
	ail->thread_running = true;
	return 0;
}

void kvj_ail_stop(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;

	if (!ail->thread_running)
		return;
	kv_mutex_lock(&ail->lock);
	ail->stop = true;
	pthread_cond_broadcast(&ail->cond);
	kv_mutex_unlock(&ail->lock);
	pthread_join(ail->thread, NULL);
	ail->thread_running = false;
}

void kvj_ail_destroy(struct kvj_log *log)
{
	struct kvj_ail *ail = &log->ail;
	struct kvj_item *lip, *next;

	kvj_ail_stop(log);
	for (lip = ail->head; lip; lip = next) {
		next = lip->ail_next;
		lip->ail_prev = lip->ail_next = NULL;
		lip->in_ail = false;
		kvj_intent_discard(lip);
	}
	ail->head = ail->tail = NULL;
	pthread_cond_destroy(&ail->cond);
	kv_mutex_destroy(&ail->lock);
}
