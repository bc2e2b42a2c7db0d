// SPDX-License-Identifier: GPL-2.0
/*
 * The log object: open (recovery first), close (drain and mark clean),
 * shutdown, head/tail bookkeeping, the background push thread and
 * statistics.  The lock order is documented in log_priv.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "journal/crc32c.h"
#include "journal/errortag.h"
#include "journal/log_priv.h"

static int lock_classes[KVJ_LC_NR];
static pthread_once_t lock_classes_once = PTHREAD_ONCE_INIT;

static void lock_classes_init(void)
{
	static const char *const names[KVJ_LC_NR] = {
		[KVJ_LC_LOG] = "log",
		[KVJ_LC_PUSH] = "cil_push",
		[KVJ_LC_AIL] = "ail",
		[KVJ_LC_CIL_PCP] = "cil_pcp",
	};
	unsigned i;

	for (i = 0; i < KVJ_LC_NR; i++) {
		int c = kv_lock_class_register(names[i]);

		lock_classes[i] = c < 0 ? 0 : c;
	}
}

/* The journal's lock classes, registered once per process. */
int kvj_lock_class(unsigned which)
{
	pthread_once(&lock_classes_once, lock_classes_init);
	return lock_classes[which];
}

int kvj_io_read(struct kvj_log *log, void *buf, size_t len, uint64_t off)
{
	return log->p.io->read(log->p.io_priv, buf, len, off);
}

int kvj_io_write(struct kvj_log *log, const void *buf, size_t len, uint64_t off)
{
	if (kvj_errtag(KVJ_ERRTAG_LOG_WRITE_FAIL))
		return kvj_errtag_errno(KVJ_ERRTAG_LOG_WRITE_FAIL, ENOMEM);
	return log->p.io->write(log->p.io_priv, buf, len, off);
}

int kvj_io_flush(struct kvj_log *log)
{
	if (kvj_errtag(KVJ_ERRTAG_LOG_FLUSH_FAIL))
		return kvj_errtag_errno(KVJ_ERRTAG_LOG_FLUSH_FAIL, ENOMEM);
	return log->p.io->flush(log->p.io_priv);
}

int kvj_io_flush_log(struct kvj_log *log)
{
	if (!log->p.io->flush_log)
		return kvj_io_flush(log);
	if (kvj_errtag(KVJ_ERRTAG_LOG_FLUSH_FAIL))
		return kvj_errtag_errno(KVJ_ERRTAG_LOG_FLUSH_FAIL, ENOMEM);
	return log->p.io->flush_log(log->p.io_priv);
}

uint64_t kvj_lsn_diff_bytes(struct kvj_log *log, kvj_lsn_t from, kvj_lsn_t to)
{
	int64_t bb = ((int64_t)KVJ_LSN_CYCLE(to) - KVJ_LSN_CYCLE(from)) *
			     (int64_t)log->log_bb +
		     (int64_t)KVJ_LSN_BLOCK(to) - KVJ_LSN_BLOCK(from);

	return bb < 0 ? 0 : (uint64_t)bb << KVJ_BB_SHIFT;
}

/* Called with ail.lock and log->lock held. */
void kvj_update_tail_locked(struct kvj_log *log, kvj_lsn_t ail_min)
{
	kvj_lsn_t head = KVJ_LSN(log->head_cycle, log->head_bb);
	kvj_lsn_t tail = head;

	if (ail_min && ail_min < tail)
		tail = ail_min;
	if (log->recovery_tail && log->recovery_tail < tail)
		tail = log->recovery_tail;
	if (tail > log->tail_lsn)
		log->tail_lsn = tail;
	kvj_grant_set_avail(log, (int64_t)log->p.log_bytes - KVJ_LOG_SLACK -
					 (int64_t)kvj_lsn_diff_bytes(
						 log, log->tail_lsn, head));
}

void kvj_item_init(struct kvj_item *lip, struct kvj_log *log,
		   const struct kvj_item_ops *ops)
{
	memset(lip, 0, sizeof(*lip));
	lip->ops = ops;
	lip->log = log;
	atomic_init(&lip->pin, 0);
}

static void (*report_sink)(const char *line, void *priv);
static void *report_priv;

void kvj_report_set_sink(void (*fn)(const char *line, void *priv), void *priv)
{
	report_priv = priv;
	__atomic_store_n(&report_sink, fn, __ATOMIC_RELEASE);
}

void kvj_report(const char *fmt, ...)
{
	void (*sink)(const char *, void *) =
		__atomic_load_n(&report_sink, __ATOMIC_ACQUIRE);
	char line[320];
	va_list ap;

	if (!sink)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sink(line, report_priv);
}

void kvj_log_shutdown(struct kvj_log *log, const char *why)
{
	bool first;

	kv_mutex_lock(&log->lock);
	first = !atomic_exchange(&log->shutdown, true);
	pthread_cond_broadcast(&log->force_cond);
	kv_mutex_unlock(&log->lock);
	if (first)
		kvj_report("log shut down: %s", why);
	kvj_grant_wake(log);
}

bool kvj_log_is_shutdown(struct kvj_log *log)
{
	/* lock-free: called under grant.lock, which nests inside log->lock */
	return atomic_load(&log->shutdown);
}

void kvj_push_wake(struct kvj_log *log)
{
	if (!log->push_thread_running)
		return;
	pthread_mutex_lock(&log->push_wake_lock);
	log->push_wanted = true;
	pthread_cond_signal(&log->push_wake);
	pthread_mutex_unlock(&log->push_wake_lock);
}

/*
 * NOFS for the thread's life: a push holds push_lock across NOFAIL
 * allocations, and an FS shrinker may force the log, which takes it.
 */
static void *push_thread(void *arg)
{
	struct kvj_log *log = arg;
	unsigned nofs = kv_nofs_save();
	struct timespec ts;

	kvj_nowait_enter();
	pthread_mutex_lock(&log->push_wake_lock);
	while (!log->push_stop) {
		if (!log->push_wanted) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += log->p.push_interval_ms / 1000;
			ts.tv_nsec +=
				(log->p.push_interval_ms % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&log->push_wake,
					       &log->push_wake_lock, &ts);
			if (log->push_stop)
				break;
		}
		log->push_wanted = false;
		pthread_mutex_unlock(&log->push_wake_lock);
		kvj_cil_push(log, 0, false);
		pthread_mutex_lock(&log->push_wake_lock);
	}
	pthread_mutex_unlock(&log->push_wake_lock);
	kvj_nowait_leave();
	kv_nofs_restore(nofs);
	return NULL;
}

static void push_thread_stop(struct kvj_log *log)
{
	if (!log->push_thread_running)
		return;
	pthread_mutex_lock(&log->push_wake_lock);
	log->push_stop = true;
	pthread_cond_signal(&log->push_wake);
	pthread_mutex_unlock(&log->push_wake_lock);
	pthread_join(log->push_thread, NULL);
	log->push_thread_running = false;
}

static int log_drain(struct kvj_log *log)
{
	uint64_t give_up = KVJ_NOSPACE_DRAIN_MS;
	unsigned pinned, busy, pushed;
	bool empty;
	int n, err;

	if (kvj_errtag(KVJ_ERRTAG_NOSPACE_DRAIN))
		give_up = kvj_errtag_value(KVJ_ERRTAG_NOSPACE_DRAIN);

	for (;;) {
		err = kvj_log_force(log, 0);
		if (err)
			return err;
		kv_mutex_lock(&log->ail.lock);
		empty = !log->ail.head;
		kv_mutex_unlock(&log->ail.lock);
		if (empty)
			return 0;
		n = kvj_ail_push_once(log, &pinned, &busy, &pushed);
		if (n < 0)
			return n;
		if (!pushed && !pinned && !busy)
			return 0; /* only intents left, waiting for their done */
		if (n == 0 && busy) {
			/* the log keeps what is not in place */
			if (kvj_ail_nospace_for(log, give_up))
				return -ENOSPC;
			/* their holders will finish, or the device has room */
			usleep(kvj_ail_nospace_for(log, 0) ?
				       KVJ_NOSPACE_PAUSE_US :
				       1000);
		}
		if (kvj_log_is_shutdown(log))
			return -EIO;
	}
}

/*
 * In NOFS, as the push and AIL threads: the caller's thread pushes the CIL
 * and the AIL here, under the locks an FS shrinker forcing the log takes.
 */
int kvj_log_drain(struct kvj_log *log)
{
	unsigned nofs = kv_nofs_save();
	int err = log_drain(log);

	kv_nofs_restore(nofs);
	return err;
}

static void log_free(struct kvj_log *log)
{
	kvj_relief_stop(log);
	push_thread_stop(log);
	kvj_ail_destroy(log);
	kvj_cil_destroy(log);
	kvj_intents_forget(log);
	kvj_zstd_destroy(log->zstd);
	kvfree(log->rec_buf);
	kvj_grant_destroy(log);
	pthread_cond_destroy(&log->force_cond);
	pthread_cond_destroy(&log->push_wake);
	pthread_mutex_destroy(&log->push_wake_lock);
	pthread_cond_destroy(&log->relief_cond);
	pthread_mutex_destroy(&log->relief_lock);
	kv_mutex_destroy(&log->push_lock);
	kv_mutex_destroy(&log->lock);
	kvfree(log);
}

static int log_start_threads(struct kvj_log *log)
{
	int err;

	if (log->p.no_threads)
		return 0;
	err = kvj_ail_start(log);
	if (err)
		return err;
	if (pthread_create(&log->push_thread, NULL, push_thread, log))
		return -EAGAIN;
	pthread_setname_np(log->push_thread, "kvfs-logpush");
	log->push_thread_running = true;
	return 0;
}

/*
 * Recovery left work pinned behind recovery_tail: finish it, mark clean
 * (in NOFS: the unmount record is written under push_lock).
 */
static int log_finish_recovery(struct kvj_log *log)
{
	unsigned nofs;
	int err = 0;

	if (log->rintents)
		err = kvj_intents_finish(log);
	if (!err)
		err = kvj_log_drain(log);
	if (err)
		return err;
	kv_mutex_lock(&log->ail.lock);
	kv_mutex_lock(&log->lock);
	log->recovery_tail = 0;
	kvj_update_tail_locked(log, kvj_ail_min_locked(log));
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);
	nofs = kv_nofs_save();
	err = kvj_write_unmount(log);
	kv_nofs_restore(nofs);
	return err;
}

size_t kvj_log_fixed_bytes(bool opening)
{
	return KVJ_REC_BUF_BYTES +
	       (opening ? (size_t)KVJ_WALK_CHUNK_BB << KVJ_BB_SHIFT : 0);
}

int kvj_log_open(const struct kvj_log_params *p, struct kvj_log **logp)
{
	struct kvj_log *log;
	unsigned i;
	int err;

	if (!p->io || !p->io->read || !p->io->write || !p->io->flush ||
	    p->log_bytes % KVJ_BB_SIZE || p->log_bytes < 64 * 1024 ||
	    (p->log_bytes >> KVJ_BB_SHIFT) >= (1ull << 31))
		return -EINVAL;
	for (i = 0; i < p->nr_recover; i++)
		if (p->recover[i].phase >= KVJ_RECOVER_PHASES)
			return -EINVAL;
	log = kvzalloc(sizeof(*log), 0);
	if (!log)
		return -ENOMEM;
	log->p = *p;
	if (!log->p.push_interval_ms)
		log->p.push_interval_ms = 50;
	if (!log->p.push_fraction)
		log->p.push_fraction = 8;
	if (!log->p.push_mem_fraction)
		log->p.push_mem_fraction = 8;
	if (!log->p.idle_push_ms)
		log->p.idle_push_ms = 30000;
	log->log_bb = p->log_bytes >> KVJ_BB_SHIFT;
	kv_mutex_init(&log->lock, kvj_lock_class(KVJ_LC_LOG));
	kv_mutex_init(&log->push_lock, kvj_lock_class(KVJ_LC_PUSH));
	pthread_cond_init(&log->force_cond, NULL);
	pthread_mutex_init(&log->push_wake_lock, NULL);
	pthread_cond_init(&log->push_wake, NULL);
	pthread_mutex_init(&log->relief_lock, NULL);
	pthread_cond_init(&log->relief_cond, NULL);
	atomic_init(&log->next_intent_id, 1);
	kvj_grant_init(log);

	kvj_ail_init(log);
	err = kvj_cil_init(log);
	if (err)
		goto fail;
	log->zstd = kvj_zstd_create();
	log->rec_buf = kvmalloc(KVJ_REC_BUF_BYTES, 0);
	if (!log->zstd || !log->rec_buf) {
		err = -ENOMEM;
		goto fail;
	}
	err = kvj_recover(log);
	if (err)
		goto fail;
	kv_mutex_lock(&log->ail.lock);
	kv_mutex_lock(&log->lock);
	kvj_update_tail_locked(log, 0);
	log->tail_ondisk = log->tail_lsn;
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);

	err = log_start_threads(log);
	if (!err)
		err = kvj_relief_start(log);
	if (err)
		goto fail;
	if (log->recovery_tail) {
		err = log_finish_recovery(log);
		if (err)
			goto fail;
	}
	*logp = log;
	return 0;
fail:
	log_free(log);
	return err;
}

int kvj_log_close(struct kvj_log *log)
{
	unsigned nofs = kv_nofs_save(); /* drain and unmount record */
	int err = 0;

	kvj_relief_stop(log);
	push_thread_stop(log);
	kvj_ail_stop(log);
	if (!kvj_log_is_shutdown(log)) {
		err = log_drain(log);
		/* an unfinished intent keeps the log dirty: recovery ends it */
		if (!err && !log->ail.head)
			err = kvj_write_unmount(log);
		else if (!err)
			kvj_report("unfinished intents: the log stays dirty "
				   "for recovery");
		else if (err == -ENOSPC)
			kvj_report("no space on the device for the write-back: "
				   "the log stays dirty, and the next mount "
				   "replays it once the device (a sparse "
				   "image's host filesystem) has room");
	}
	log_free(log);
	kv_nofs_restore(nofs);
	return err;
}

#define FORMAT_CHUNK (64u << 10)

int kvj_log_format(const struct kvj_io_ops *io, void *io_priv,
		   uint64_t log_bytes, uint32_t cycle)
{
	struct kvj_rec_hdr *h;
	uint64_t off;
	void *z;
	int err = 0;

	if (!io || !io->write || !io->flush || !cycle ||
	    log_bytes % KVJ_BB_SIZE || log_bytes < 64 * 1024)
		return -EINVAL;
	z = kvzalloc(FORMAT_CHUNK, 0);
	if (!z)
		return -ENOMEM;
	for (off = 0; off < log_bytes && !err; off += FORMAT_CHUNK)
		err = io->write(io_priv, z,
				log_bytes - off < FORMAT_CHUNK ?
					log_bytes - off :
					FORMAT_CHUNK,
				off);
	/* the zeroes first: the record must not land before them */
	if (!err)
		err = io->flush(io_priv);
	if (!err) {
		h = z;
		h->type = kvj_cpu_to_le32(KVJ_REC_UNMOUNT);
		h->cycle = kvj_cpu_to_le32(cycle);
		h->nr_bb = kvj_cpu_to_le32(1);
		h->lsn = kvj_cpu_to_le64(KVJ_LSN(cycle, 0));
		h->tail_lsn = h->lsn;
		h->seq = kvj_cpu_to_le64(1);
		h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
		kvj_rec_hdr_seal(h);
		err = io->write(io_priv, h, KVJ_BB_SIZE, 0);
	}
	if (!err)
		err = io->flush(io_priv);
	kvfree(z);
	return err;
}

uint64_t kvj_log_durable_seq(struct kvj_log *log)
{
	uint64_t seq;

	kv_mutex_lock(&log->lock);
	seq = log->durable_seq;
	kv_mutex_unlock(&log->lock);
	return seq;
}

void kvj_log_get_stats(struct kvj_log *log, struct kvj_log_stats *st)
{
	struct kvj_cil *cil = &log->cil;
	unsigned i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < cil->nr_pcp; i++) {
		kv_mutex_lock(&cil->pcp[i].lock);
		st->commits += cil->pcp[i].commits;
		st->deltas += cil->pcp[i].deltas;
		st->relogs += cil->pcp[i].relogs;
		kv_mutex_unlock(&cil->pcp[i].lock);
	}
	kv_mutex_lock(&log->push_lock);
	st->checkpoints = log->st_checkpoints;
	st->stream_ulen = log->st_ulen;
	st->stream_len = log->st_len;
	st->force_writes = log->st_force_writes;
	kv_mutex_unlock(&log->push_lock);
	kv_mutex_lock(&log->ail.lock);
	st->ail_items = log->ail.nr;
	kv_mutex_unlock(&log->ail.lock);
	kv_mutex_lock(&log->lock);
	st->log_bytes_written = log->st_bytes;
	st->head_lsn = KVJ_LSN(log->head_cycle, log->head_bb);
	st->tail_lsn = log->tail_lsn;
	st->log_bytes_used =
		kvj_lsn_diff_bytes(log, log->tail_lsn, st->head_lsn);
	kv_mutex_unlock(&log->lock);
	st->log_bytes = log->log_bb << KVJ_BB_SHIFT;
	st->forces = atomic_load(&log->st_forces);
	st->grant_waits = atomic_load(&log->st_grant_waits);
	st->ail_pushed = atomic_load(&log->st_ail_pushed);
	st->mem_pushes = atomic_load(&log->st_mem_pushes);
	st->relief_calls = atomic_load(&log->st_relief_calls);
	st->relief_waits = atomic_load(&log->st_relief_waits);
	st->write_retries = atomic_load(&log->st_write_retries);
	st->nospace_retries = atomic_load(&log->st_nospace_retries);
	st->cil_lock_contended = atomic_load(&cil->commit_contended);
}

kvj_lsn_t kvj_log_head_lsn(struct kvj_log *log)
{
	return atomic_load_explicit(&log->head_pub, memory_order_acquire);
}

void kvj_log_recovery_info(struct kvj_log *log, struct kvj_recovery_info *ri)
{
	*ri = log->rinfo;
}
