/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Internals of libkvjournal shared by its files.
 *
 * Locks, outermost first (each protects what follows it):
 *   push_lock   (kv_mutex "cil_push")  one push at a time; cil.seq changes
 *   ail.lock    (kv_mutex "ail")       the AIL list and item->lsn/in_ail
 *   lock        (kv_mutex "log")       head, tail, tail_ondisk, avail,
 *                                      durable_seq, force_pushing;
 *                                      shutdown is set
 *                                      under it but read lock-free
 *   grant.lock  (pthread)              grant waiters (innermost)
 *   cil_pcp     (kv_mutex "cil_pcp")   one per-CPU slot's lists; never
 *                                      waited for on commit (trylock, then
 *                                      the next slot), never nested
 *   relief_lock (pthread)              memory relief's waiters (a leaf;
 *                                      journal/relief.c says who may wait)
 * Item locks (owned by clients) are taken outside all of these, except by
 * the AIL pusher, which only trylocks them (from ops->push) under ail.lock.
 */
#ifndef KV_JOURNAL_LOG_PRIV_H
#define KV_JOURNAL_LOG_PRIV_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "alloc/kvlock.h"
#include "journal/journal.h"

#define KVJ_CACHELINE 64
#define KVJ_MAX_PCP 64
/* payload per CKPT record: one BB per cycle_data[] word */
#define KVJ_PART_MAX (KVJ_CYCLE_WORDS * KVJ_BB_SIZE)
/*
 * The record buffer a push writes from, allocated when the log opens: a
 * push needs no memory of its own, so memory pinned by the items it
 * checkpoints never stops it.
 */
#define KVJ_REC_BUF_BYTES (4u * KVJ_REC_MAX_BB * KVJ_BB_SIZE)
/* blocks per read when recovery scans the log */
#define KVJ_WALK_CHUNK_BB 2048u
/*
 * Charged once per per-CPU slot and context: covers record headers, the
 * commit record, end-of-region rounding and one tail record.
 */
#define KVJ_CTX_OVERHEAD 4096u
/* Added to every reservation for KVJ_CTX_OVERHEAD. */
#define KVJ_TRANS_OVERHEAD KVJ_CTX_OVERHEAD
static_assert(KVJ_TRANS_OVERHEAD == KVJ_TRANS_UNIT_OVERHEAD,
	      "journal.h states the per-commit overhead");
/* Kept free for the unmount record (never granted). */
#define KVJ_LOG_SLACK 4096u

/*
 * A logged item's delta in one checkpoint context.  The delta buffer is
 * allocated with the entry (one allocation per fresh item, not two); a
 * relog that outgrows it moves the delta into the inline buffer of a
 * larger entry allocation kept as spill, which is never linked.
 */
struct kvj_cil_ent {
	struct kvj_cil_ent *next;
	struct kvj_item *lip;
	uint64_t order; /* commit order of the latest relog */
	uint32_t len;   /* delta bytes */
	uint32_t size;  /* buf capacity */
	uint32_t charged;
	uint8_t *buf; /* data, or spill's data */
	struct kvj_cil_ent *spill;
	uint8_t data[] __attribute__((aligned(8)));
};

struct kvj_cil_pcp {
	struct kv_mutex lock;
	/* lists of the two live contexts, indexed by seq & 1 */
	struct kvj_cil_ent *head[2];
	struct kvj_cil_ent **tail[2];
	uint64_t space[2];   /* bytes charged */
	uint64_t unfolded[2]; /* charged, not yet added to cil.space */
	uint64_t mem[2];      /* pinned memory not yet added to cil.mem */
	uint32_t nr[2];
	uint64_t commits, deltas, relogs; /* statistics */
} __attribute__((aligned(KVJ_CACHELINE)));

struct kvj_cil {
	_Atomic uint64_t seq; /* current context; readers under RCU */
	/* written by every commit: kept off seq's read-mostly line */
	atomic_uint_fast64_t order __attribute__((aligned(KVJ_CACHELINE)));
	_Atomic uint64_t space[2] __attribute__((aligned(KVJ_CACHELINE)));
	/*
	 * Push when a context's charge passes this: log_bytes /
	 * push_fraction of log once written, so scaled by the compression
	 * the last checkpoints saw (kvj_cil_tune()), within [push_base,
	 * push_cap]
	 */
	_Atomic uint64_t push_threshold;
	uint64_t push_base, push_cap;
	/* push when a context pins more memory than this (see cil.c) */
	_Atomic uint64_t mem[2] __attribute__((aligned(KVJ_CACHELINE)));
	uint64_t push_mem;
	uint64_t mem_fold;
	unsigned nr_pcp;
	struct kvj_cil_pcp *pcp;
	int pcp_class;
	/* commits that had to wait for a slot lock (the commit path only) */
	atomic_uint_fast64_t commit_contended;
};

/*
 * A pass's place in the AIL while it drops the lock between batches:
 * removing the item it points at moves it to the next.
 */
struct kvj_ail_cursor {
	struct kvj_item *item;
	struct kvj_ail_cursor *next;
};

struct kvj_ail {
	struct kv_mutex lock;
	struct kvj_item *head, *tail; /* ascending LSN */
	_Atomic uint64_t nr;     /* read lock-free by memory relief */
	pthread_cond_t cond;     /* pusher work / progress, with lock.m */
	bool push_all;           /* drain requested */
	atomic_bool kicked; /* someone waits for space (lock-free) */
	atomic_bool reclaim;     /* memory is short: push all (lock-free) */
	uint64_t push_passes;    /* pushes started so far (item->push_pass) */
	struct kvj_ail_cursor *cursors; /* passes between their batches */
	/* pushes that wrote so far; the count the last flush covered */
	uint64_t write_gen, flushed_gen;
	uint64_t inserts;        /* items inserted so far */
	uint64_t idle_inserts;   /* the count when idle_since was taken */
	uint64_t idle_since_ms;  /* no insertion since (pusher's clock) */
	/*
	 * Monotonic ms since a pass met an item the device had no space
	 * for (KVJ_PUSH_NOSPACE); 0 again after a pass that met none and
	 * none held by its owner (ail_nospace_note()).  Read lock-free by
	 * reservations and the drain.
	 */
	_Atomic uint64_t nospace_since_ms;
	bool stop;
	pthread_t thread;
	bool thread_running;
};

struct kvj_grant {
	_Atomic int64_t granted; /* reserved + charged to the CIL */
	_Atomic int64_t avail;   /* log bytes - slack - (head - tail) */
	atomic_int waiters;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

struct kvj_zstd;
struct kvj_rintent;

struct kvj_log {
	struct kvj_log_params p;
	uint64_t log_bb;

	struct kv_mutex lock;
	uint32_t head_cycle;
	uint32_t head_bb;
	/*
	 * The head as one word for readers without the lock
	 * (kvj_log_head_lsn()): the pair read apart could pair a cycle with
	 * the block of another pass.  Set by kvj_head_publish_locked().
	 */
	_Atomic uint64_t head_pub;
	kvj_lsn_t tail_lsn;        /* in memory */
	kvj_lsn_t tail_ondisk;     /* in the newest durable record */
	kvj_lsn_t recovery_tail;   /* pinned by an unfinished recovery; 0 */
	uint64_t durable_seq;
	bool force_pushing;        /* a force is pushing: others wait */
	atomic_bool shutdown;
	/* with lock.m: durable_seq moved or force_pushing cleared */
	pthread_cond_t force_cond;

	struct kv_mutex push_lock;
	struct kvj_cil cil;
	struct kvj_ail ail;
	struct kvj_grant grant;
	struct kvj_zstd *zstd;
	uint8_t *rec_buf;          /* the push cuts its records here */

	/* background push thread */
	pthread_t push_thread;
	bool push_thread_running;
	pthread_mutex_t push_wake_lock;
	pthread_cond_t push_wake;
	bool push_wanted;
	bool push_stop;
	/* pushes started (under push_lock), and the last one finished */
	_Atomic uint64_t push_started, push_done;
	/* AIL write-back passes finished */
	_Atomic uint64_t ail_gen;

	/* memory relief (journal/relief.c) */
	struct kv_pressure relief;
	bool relief_registered;
	pthread_mutex_t relief_lock;
	pthread_cond_t relief_cond;
	atomic_int relief_waiters;

	_Atomic uint64_t next_intent_id;
	struct kvj_rintent *rintents; /* found by recovery, not yet done */
	struct kvj_recovery_info rinfo;

	/* statistics (relaxed counters) */
	uint64_t st_checkpoints, st_bytes, st_ulen, st_len, st_force_writes;
	atomic_uint_fast64_t st_forces, st_grant_waits, st_ail_pushed;
	atomic_uint_fast64_t st_mem_pushes, st_relief_calls, st_relief_waits;
	atomic_uint_fast64_t st_write_retries;
	atomic_uint_fast64_t st_nospace_retries;
};

/* Monotonic milliseconds (the AIL's timers, the no-space state). */
static inline uint64_t kvj_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The head moved (under lock, once what lies before it is durable): make
 * it kvj_log_head_lsn()'s.  Release: a reader that sees an item written
 * back at an LSN sees a head past it (journal.h says why).
 */
static inline void kvj_head_publish_locked(struct kvj_log *log)
{
	atomic_store_explicit(&log->head_pub,
			      KVJ_LSN(log->head_cycle, log->head_bb),
			      memory_order_release);
}

/* log.c */
/* One report (kvj_report_set_sink()). */
void kvj_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
enum { KVJ_LC_LOG, KVJ_LC_PUSH, KVJ_LC_AIL, KVJ_LC_CIL_PCP, KVJ_LC_NR };
int kvj_lock_class(unsigned which);
int kvj_io_read(struct kvj_log *log, void *buf, size_t len, uint64_t off);
int kvj_io_write(struct kvj_log *log, const void *buf, size_t len,
		 uint64_t off);
int kvj_io_flush(struct kvj_log *log);
int kvj_io_flush_log(struct kvj_log *log);
/*
 * An error of a log write or flush that a later attempt may not meet: the
 * host short of memory (-ENOMEM, -ENOBUFS) or a busy device (-EAGAIN), as
 * fs/io/buf.h kv_buf_write_transient().  The log retries these; any other
 * error (-EIO, a failed flush of the device) shuts it down.
 */
static inline bool kvj_io_transient(int err)
{
	return err == -ENOMEM || err == -ENOBUFS || err == -EAGAIN;
}
uint64_t kvj_lsn_diff_bytes(struct kvj_log *log, kvj_lsn_t from,
			    kvj_lsn_t to);
void kvj_rec_hdr_seal(struct kvj_rec_hdr *h);
void kvj_update_tail_locked(struct kvj_log *log, kvj_lsn_t ail_min);
void kvj_push_wake(struct kvj_log *log);

/* grant.c */
int kvj_grant_init(struct kvj_log *log);
void kvj_grant_destroy(struct kvj_log *log);
int kvj_grant_reserve(struct kvj_log *log, int64_t bytes, bool fresh);
void kvj_grant_release(struct kvj_log *log, int64_t bytes);
void kvj_grant_set_avail(struct kvj_log *log, int64_t avail);
void kvj_grant_wake(struct kvj_log *log);

/* cil.c */
int kvj_cil_init(struct kvj_log *log);
void kvj_cil_destroy(struct kvj_log *log);
int kvj_cil_insert(struct kvj_log *log, struct kvj_trans *tp,
		   struct kvj_item *items, uint64_t *seqp, int64_t *used);
void kvj_cil_ent_free(struct kvj_cil_ent *ent);
void kvj_cil_tune(struct kvj_log *log, uint64_t ulen, uint64_t slen);
void kvj_rcu_register(void);

/* The cycle a BB was written in (journal/log_format.h: cycle stamping). */
static inline uint32_t kvj_bb_cycle(const void *bb)
{
	const struct kvj_rec_hdr *h = bb;

	return kvj_le32_to_cpu(h->magic) == KVJ_REC_MAGIC ?
		       kvj_le32_to_cpu(h->cycle) :
		       kvj_le32_to_cpu(h->magic);
}

/* push.c */
void kvj_rec_stamp(struct kvj_rec_hdr *h, uint32_t nr_bb, uint32_t cycle);
int kvj_cil_push(struct kvj_log *log, uint64_t seq, bool for_force);
int kvj_write_unmount(struct kvj_log *log);
int kvj_write_records(struct kvj_log *log, uint8_t *buf, uint64_t bytes,
		      uint32_t cycle, uint32_t bb);

/* ail.c */
void kvj_ail_init(struct kvj_log *log);
int kvj_ail_start(struct kvj_log *log);
void kvj_ail_stop(struct kvj_log *log);
void kvj_ail_destroy(struct kvj_log *log);
void kvj_ail_insert_locked(struct kvj_log *log, struct kvj_item *lip,
			   kvj_lsn_t lsn);
void kvj_ail_delete_locked(struct kvj_log *log, struct kvj_item *lip);
kvj_lsn_t kvj_ail_min_locked(struct kvj_log *log);
void kvj_ail_kick(struct kvj_log *log);
int kvj_ail_push_once(struct kvj_log *log, unsigned *pinned, unsigned *busy,
		      unsigned *pushed);
/*
 * Write-back stuck for want of device space (a sparse image's full host)
 * for ms or longer (0: at all): a new transaction that waited
 * KVJ_NOSPACE_RESERVE_MS for log space meanwhile gives up with -ENOSPC,
 * the drain of an unmount after KVJ_NOSPACE_DRAIN_MS stuck (the log keeps
 * every change: the next mount replays it once the host has room).  Its
 * pushers pause KVJ_NOSPACE_PAUSE_US between passes meanwhile: each retry
 * is a failed write.
 */
#define KVJ_NOSPACE_RESERVE_MS 2000
#define KVJ_NOSPACE_DRAIN_MS 10000
#define KVJ_NOSPACE_PAUSE_US (100 * 1000)
bool kvj_ail_nospace_for(struct kvj_log *log, uint64_t ms);

/* relief.c */
/*
 * Nonzero while the thread does the log's own work (the push and AIL
 * threads, kvj_cil_push(), kvj_ail_push_once()): it must never wait for
 * that work to relieve memory.
 */
extern _Thread_local unsigned kvj_tl_nowait;
static inline void kvj_nowait_enter(void)
{
	kvj_tl_nowait++;
}

static inline void kvj_nowait_leave(void)
{
	kvj_tl_nowait--;
}

int kvj_relief_start(struct kvj_log *log);
void kvj_relief_stop(struct kvj_log *log);
void kvj_relief_wake(struct kvj_log *log);

/* zstd.c */
struct kvj_zstd *kvj_zstd_create(void);
void kvj_zstd_destroy(struct kvj_zstd *z);
/*
 * Compress len bytes at src into one frame at dst[*pos, cap), advancing
 * *pos: -ENOSPC when it does not fit.
 */
int kvj_zstd_compress(struct kvj_zstd *z, void *dst, size_t cap, size_t *pos,
		      const void *src, size_t len);
int kvj_zstd_decompress(struct kvj_zstd *z, void *dst, size_t cap,
			const void *src, size_t len);

/* recover.c */
int kvj_recover(struct kvj_log *log);
int kvj_recover_intents(struct kvj_log *log);

/* intent.c */
/* The one decoder of intent and done deltas (recovery and the printer). */
struct kvj_intent_rec {
	uint32_t type;
	uint64_t id;
	uint32_t subtype;
	uint32_t len;
	const void *data;
};
int kvj_intent_decode(uint32_t type, const void *delta, uint32_t len,
		      struct kvj_intent_rec *r);
int kvj_intent_recovered(struct kvj_log *log, uint32_t type,
			 const void *delta, uint32_t len);
int kvj_intents_finish(struct kvj_log *log);
void kvj_intents_forget(struct kvj_log *log);
void kvj_intent_discard(struct kvj_item *lip);
void kvj_cil_ent_abort(struct kvj_cil_ent *ent);

#endif
