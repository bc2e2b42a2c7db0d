/* SPDX-License-Identifier: GPL-2.0 */
/*
 * libkvjournal: transactions, the per-CPU committed item list (CIL), the
 * circular on-disk log, the AIL and recovery, modelled on XFS delayed
 * logging.
 *
 * The journal knows log items only through struct kvj_item_ops and does
 * its I/O only through struct kvj_io_ops: it never sees buffers, inodes or
 * devices.
 *
 * Life of a change: kvj_trans_alloc() reserves log space and enters a NOFS
 * allocation scope; the caller locks its items, kvj_trans_join()s them,
 * changes them and kvj_trans_log()s them; kvj_trans_commit() formats every
 * dirty item's delta into the current checkpoint context (pinning the item)
 * and releases the items.  A push writes the context as one checkpoint;
 * once it is durable the items are unpinned and enter the AIL at the
 * checkpoint's LSN, where the AIL pusher writes them back in place and the
 * log tail moves past them.
 */
#ifndef KV_JOURNAL_JOURNAL_H
#define KV_JOURNAL_JOURNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "journal/log_format.h"

struct kvj_log;
struct kvj_trans;
struct kvj_item;
struct kvj_cil_ent;

/* I/O within the log region; offsets are bytes from its start. */
struct kvj_io_ops {
	int (*read)(void *priv, void *buf, size_t len, uint64_t off);
	int (*write)(void *priv, const void *buf, size_t len, uint64_t off);
	/* make every write issued so far (log and in-place) durable */
	int (*flush)(void *priv);
	/*
	 * Optional: make every log write issued so far durable, in-place
	 * writes not necessarily (flush where absent).  A checkpoint that no
	 * force waits for ends with it: it need not write back what the
	 * device holds dirty besides the log.
	 */
	int (*flush_log)(void *priv);
};

/*
 * Return values of kvj_item_ops.push.  CLEAN: nothing to write, because an
 * earlier push wrote it (pushes run under the AIL lock, so that write was
 * issued before) or its block was freed in a checkpoint that is durable (a
 * stale buffer, unpinned); the AIL flushes only if some push's write may
 * not be durable yet.
 */
enum {
	KVJ_PUSH_SUCCESS = 0, /* written back; durable after the next flush */
	KVJ_PUSH_PINNED, /* pinned by the CIL: needs a log force */
	KVJ_PUSH_LOCKED, /* busy: try again later */
	KVJ_PUSH_SKIP, /* never written back (intents) */
	KVJ_PUSH_CLEAN, /* nothing to write back (see above) */
	/*
	 * the device had no space for the write (a sparse image on a full
	 * host filesystem): kept and tried again, as XFS retries metadata
	 * writes that failed with ENOSPC (journal/log_priv.h:
	 * kvj_ail_nospace_for())
	 */
	KVJ_PUSH_NOSPACE,
};

struct kvj_item_ops {
	const char *name;
	uint32_t type; /* >= KVJ_ITEM_CLIENT, matches a kvj_recover_ops */
	/*
	 * Bytes format() needs.  The delta must hold every change made since
	 * the item was last written back by push(), not only this
	 * transaction's: a relogged item moves forward in the AIL, so the
	 * tail passes the older checkpoints that logged it (as XFS buffer
	 * items keep their dirty map until write-back).  fresh: the item
	 * enters a new checkpoint context (else it is relogged in the same
	 * one and its entry is rewritten in place).  Called with the item
	 * locked by the transaction.
	 */
	uint32_t (*size)(struct kvj_item *lip, bool fresh);
	/*
	 * Copy the delta into buf (at least size() bytes); return its length.
	 * 0: an ordered item (XFS's ordered buffers): pinned, and put in the
	 * AIL at its checkpoint's LSN like any other, so the tail waits for
	 * its push, but nothing of it is written to the log.
	 * On a relog (!fresh) buf holds what the previous format() of this
	 * item wrote for this context, so an item may rewrite only what
	 * changed.
	 */
	uint32_t (*format)(struct kvj_item *lip, void *buf, bool fresh);
	/* The transaction ended (commit or cancel): unlock the item. */
	void (*release)(struct kvj_item *lip, bool aborted);
	/* Optional: the item entered a checkpoint context (pin count +1). */
	void (*pin)(struct kvj_item *lip);
	/*
	 * Optional: that context is durable at lsn.  Called under the AIL
	 * lock (take no item lock); return false to keep the item out of the
	 * AIL.  Without this hook the item enters the AIL.
	 */
	bool (*committed)(struct kvj_item *lip, kvj_lsn_t lsn);
	/*
	 * Optional: the pin count dropped; the last call the journal makes
	 * for this context (the item may be freed here if it is not in the
	 * AIL and not pinned).  Also called, without committed() or AIL
	 * insertion, for contexts a shut-down log drops unwritten.
	 */
	void (*unpin)(struct kvj_item *lip);
	/*
	 * Write the item back in place, stamped with lsn, without waiting for
	 * locks (trylock; check kvj_item_pinned() under the lock), and forget
	 * the changes it logged: later deltas start from here.  Called under
	 * the AIL lock.
	 */
	int (*push)(struct kvj_item *lip, kvj_lsn_t lsn);
	/*
	 * Optional: what push() wrote is durable and the item leaves the
	 * AIL now, clean unless changed since.  Called under the AIL lock,
	 * the item still in the AIL (so its owner alive); take no item lock.
	 */
	void (*written)(struct kvj_item *lip);
};

/* Embedded in the client's object; zero it, then kvj_item_init(). */
struct kvj_item {
	const struct kvj_item_ops *ops;
	struct kvj_log *log;
	struct kvj_item *tr_next;  /* transaction's items */
	struct kvj_cil_ent *ent;   /* entry in context ctx_seq */
	uint32_t ent_size;         /* its delta buffer's capacity */
	uint64_t ctx_seq;          /* last context the item entered */
	atomic_int pin;            /* contexts not yet durable */
	/*
	 * Memory the item keeps from reclaim while pinned (a buffer item's
	 * buffer), set by the client: counted against push_mem_fraction
	 */
	uint32_t pin_bytes;
	unsigned tr_flags;         /* KVJ_LI_* in the current transaction */
	bool in_ail;
	kvj_lsn_t lsn;             /* AIL position; protected by the AIL lock */
	struct kvj_item *ail_prev, *ail_next;
	/* the AIL pusher's, under the AIL lock: its pass, the LSN it pushed */
	uint64_t push_pass;
	kvj_lsn_t push_lsn;
};

#define KVJ_LI_DIRTY (1u << 0)
#define KVJ_LI_HOLD (1u << 1) /* stays joined across rolls (kvj_trans_hold) */
#define KVJ_LI_JOINED (1u << 2) /* joined to the transaction, not released */

void kvj_item_init(struct kvj_item *lip, struct kvj_log *log,
		   const struct kvj_item_ops *ops);
static inline bool kvj_item_pinned(struct kvj_item *lip)
{
	return atomic_load(&lip->pin) > 0;
}
/*
 * The item is in the AIL (its newest logged state is not yet in place).
 * Lock-free: only for an owner that knows the item cannot enter the AIL
 * meanwhile (unpinned, and not loggable without what the owner holds);
 * false then means the AIL is done with it and it may be freed.
 */
bool kvj_item_in_ail(struct kvj_item *lip);
/*
 * Take an unpinned item out of the AIL without writing it (the client
 * wrote it back itself and flushed).  Safe to call when it is not in.
 */
void kvj_ail_remove(struct kvj_item *lip);

/* Replay phases over each checkpoint (struct kvj_recover_ops.phase). */
#define KVJ_RECOVER_PHASES 2

/* Replay of one item type during recovery. */
struct kvj_recover_ops {
	uint32_t type;
	/*
	 * Within one checkpoint, the deltas of every type of phase 0 are
	 * replayed (in log order) before those of phase 1 (phase <
	 * KVJ_RECOVER_PHASES; intents are phase 0), as XFS's
	 * xlog_recover_reorder_trans() puts buffers first: a type whose
	 * deltas overlay another's blocks (an inode's core over the cluster
	 * its new chunk initialised, both in one checkpoint) comes later.
	 */
	unsigned phase;
	/*
	 * Optional: the first pass shows every delta of the log to be
	 * replayed, in order, before any replay (what XFS's pass 1 does to
	 * learn which buffers were freed later).
	 */
	int (*scan)(void *priv, const void *delta, uint32_t len,
		    kvj_lsn_t lsn);
	/* apply one delta logged in the checkpoint at lsn */
	int (*replay)(void *priv, const void *delta, uint32_t len,
		      kvj_lsn_t lsn);
	/* Optional: every checkpoint is replayed: write back what changed */
	int (*finish)(void *priv);
	void *priv;
};

/* Finishing an intent found without its done item during recovery. */
struct kvj_intent_ops {
	uint32_t subtype;
	/*
	 * Complete the operation described by data with new transactions,
	 * the last of which must kvj_intent_done_id(tp, id).
	 */
	int (*recover)(void *priv, struct kvj_log *log, uint64_t id,
		       const void *data, uint32_t len);
	void *priv;
};

struct kvj_log_params {
	const struct kvj_io_ops *io;
	void *io_priv;
	uint64_t log_bytes; /* region size, a multiple of 512, >= 64 KiB */
	const struct kvj_recover_ops *recover;
	unsigned nr_recover;
	const struct kvj_intent_ops *intents;
	unsigned nr_intents;
	/* background push period; 0 = 50 ms */
	unsigned push_interval_ms;
	/* push when the CIL holds more than log_bytes / this; 0 = 8 */
	unsigned push_fraction;
	/*
	 * Push when the CIL's context pins more than the kvalloc budget /
	 * this (its entries and the memory its items pin, kvj_item.pin_bytes);
	 * 0 = 8
	 */
	unsigned push_mem_fraction;
	/*
	 * Write everything back once no checkpoint has been written for this
	 * long (like XFS's log worker: an idle log does not keep its dirty
	 * metadata, nor a long recovery); 0 = 30 s
	 */
	unsigned idle_push_ms;
	/* one global CIL list and lock (the ablation of the per-CPU CIL) */
	bool single_cil;
	/* no zstd compression of checkpoints */
	bool no_compress;
	/* opening a dirty log fails with -EUCLEAN instead of replaying */
	bool no_recovery;
	/* do not start the background threads (tests drive pushes) */
	bool no_threads;
};

/*
 * Open the log: find head and tail, replay a dirty log (then finish
 * outstanding intents), start the push and AIL threads.  A log that cannot
 * be recovered returns -EUCLEAN with a report saying why
 * (kvj_report_set_sink()) and nothing written.
 */
int kvj_log_open(const struct kvj_log_params *p, struct kvj_log **logp);
/*
 * The kvalloc memory a log takes whatever its load, besides the items the
 * client logs: while it opens (its record buffer and recovery's scan
 * buffer) or once open (the record buffer).
 */
size_t kvj_log_fixed_bytes(bool opening);
/*
 * Clean close: force the log, write every AIL item back, write an unmount
 * record.  After a shutdown it only frees memory.  Returns 0 or the first
 * error met.
 */
int kvj_log_close(struct kvj_log *log);
/*
 * Write a clean, empty log over the whole region of log_bytes (as for
 * kvj_log_open()) through io, whatever it held: zeroes, then one unmount
 * record at block 0 stamped with cycle (>= 1), flushed.  The log then
 * writes from LSN cycle/1 on, so a repair that throws a log away passes a
 * cycle above that of every LSN stamped in metadata: recovery skips a
 * delta older than its block's stamp (xfs_repair's libxfs_log_clear with
 * a cycle).  0, -EINVAL, -ENOMEM or the io's error.
 */
int kvj_log_format(const struct kvj_io_ops *io, void *io_priv,
		   uint64_t log_bytes, uint32_t cycle);
/* Stop writing anything (I/O error, cancelled dirty transaction). */
void kvj_log_shutdown(struct kvj_log *log, const char *why);
/*
 * What the log has to say beyond an errno (why it shut down, what makes a
 * log unrecoverable, an intent recovery could not finish, a reservation
 * overrun): one line each, without "kvjournal: " or a newline, handed to
 * the process-wide sink installed here, on the thread that made it.  The
 * library never prints: without a sink a report is dropped; the daemon
 * and the tools install one that prints.  NULL removes it.
 */
void kvj_report_set_sink(void (*fn)(const char *line, void *priv), void *priv);
bool kvj_log_is_shutdown(struct kvj_log *log);
/*
 * Make every transaction committed with a sequence <= seq durable (0: all
 * committed so far).  Concurrent forces share one write and one flush.
 */
int kvj_log_force(struct kvj_log *log, uint64_t seq);
/*
 * The highest sequence whose transactions are all durable: a transaction
 * committed with sequence seq is durable once this is >= seq.
 */
uint64_t kvj_log_durable_seq(struct kvj_log *log);
/*
 * The LSN the log writes next, its head (a read verifier's bound, XFS's
 * xfs_log_check_lsn()): the head passes a checkpoint once it is durable,
 * before its items enter the AIL (journal/push.c ckpt_done()), so
 * metadata written back carries an LSN below the head the writer saw; an
 * LSN at or past it is damage.  Grows only; lock-free, an acquire load:
 * read after the block, it is at least the head its write-back saw.
 */
kvj_lsn_t kvj_log_head_lsn(struct kvj_log *log);
/*
 * Push the AIL until everything is written back in place; intents waiting
 * for their done stay (and keep the tail, so the log is closed dirty).
 */
int kvj_log_drain(struct kvj_log *log);

/*
 * Memory is short: write back everything the AIL holds (in the AIL's
 * thread; never blocks, safe from a shrinker in any allocation context),
 * so that the items' owners can free what they hold for them.  With
 * no_threads nothing happens until the caller drains.
 */
void kvj_log_push_ail(struct kvj_log *log);

struct kvj_log_stats {
	uint64_t commits;
	uint64_t deltas;      /* items committed (each relog counts) */
	uint64_t relogs;      /* of which already in the context */
	uint64_t checkpoints;
	uint64_t log_bytes_written;
	uint64_t stream_ulen; /* uncompressed checkpoint bytes */
	uint64_t stream_len;  /* as stored */
	uint64_t forces;
	uint64_t force_writes; /* checkpoints written for a force */
	uint64_t grant_waits;
	uint64_t ail_pushed;
	uint64_t cil_lock_contended; /* contended CIL locks on commit */
	uint64_t head_lsn;
	uint64_t tail_lsn;
	uint64_t log_bytes;      /* the log's size */
	uint64_t log_bytes_used; /* from the tail to the head */
	uint64_t ail_items;      /* items in the AIL now */
	uint64_t mem_pushes;     /* pushes woken by the CIL's pinned memory */
	uint64_t relief_calls;   /* allocations that asked the log for memory */
	uint64_t relief_waits;   /* of which waited for a push (relief.c) */
	uint64_t write_retries;  /* log writes and flushes short of memory */
	uint64_t nospace_retries; /* write-backs the device had no room for */
};
void kvj_log_get_stats(struct kvj_log *log, struct kvj_log_stats *st);

/* What kvj_log_open() found (for tools and tests). */
struct kvj_recovery_info {
	bool was_empty;
	bool was_clean;
	unsigned checkpoints_replayed;
	unsigned items_replayed;
	unsigned intents_finished;
	bool torn_tail_discarded;
	kvj_lsn_t head_lsn, tail_lsn;
};
void kvj_log_recovery_info(struct kvj_log *log, struct kvj_recovery_info *ri);

/*
 * Transactions.  res_bytes: the most log space one commit of this
 * transaction formats; rolls: how many kvj_trans_roll() it reserves for up
 * front.  The calling thread is inside a NOFS scope from alloc until commit
 * or cancel (carried across rolls).  May wait for log space.
 */
int kvj_trans_alloc(struct kvj_log *log, uint32_t res_bytes, unsigned rolls,
		    struct kvj_trans **tpp);
/* What each commit of a transaction costs beyond its res_bytes. */
#define KVJ_TRANS_UNIT_OVERHEAD 4096u
/* Log space kvj_trans_alloc(res_bytes, rolls) takes from the log. */
static inline uint64_t kvj_trans_grant_bytes(uint32_t res_bytes,
					     unsigned rolls)
{
	return ((uint64_t)res_bytes + KVJ_TRANS_UNIT_OVERHEAD) * (rolls + 1);
}
/*
 * Log bytes one item delta of len bytes is charged in a checkpoint: its
 * item header and padding and its share of record headers (what
 * res_bytes must cover per item).
 */
static inline uint32_t kvj_item_log_bytes(uint32_t len)
{
	return len + 16 + (len >> 6);
}
/* From here on allocations of this thread retry forever (NOFAIL scope). */
void kvj_trans_set_nofail(struct kvj_trans *tp);
/* Join an item the caller has locked; release() unlocks it at the end. */
void kvj_trans_join(struct kvj_trans *tp, struct kvj_item *lip);
/*
 * Unjoin an item this transaction joined but never logged, nor held, and
 * release() it now (XFS's xfs_trans_brelse() of a clean buffer): what a
 * failed search read goes back before the commit.  false, and nothing
 * done, if it was logged, held, or is not joined to tp.
 */
bool kvj_trans_brelse(struct kvj_trans *tp, struct kvj_item *lip);
/*
 * Keep a joined item joined (and locked) across kvj_trans_roll() until
 * the final commit or cancel (XFS's xfs_trans_bhold / the inodes its
 * deferred-op rolls rejoin).
 */
void kvj_trans_hold(struct kvj_trans *tp, struct kvj_item *lip);
/*
 * The item was changed in this transaction.  Logging an item that is not
 * joined (never, or released by a roll) aborts: the change would be lost.
 */
void kvj_trans_log(struct kvj_trans *tp, struct kvj_item *lip);
bool kvj_trans_dirty(struct kvj_trans *tp);
/*
 * Commit; *seqp (may be NULL) receives the sequence to kvj_log_force().
 * The transaction is freed whatever the result.
 */
int kvj_trans_commit(struct kvj_trans *tp, uint64_t *seqp);
/* Cancelling a dirty transaction shuts the log down. */
void kvj_trans_cancel(struct kvj_trans *tp);
/*
 * Commit and continue: *tpp is replaced by a fresh transaction with the
 * scopes carried over.  Items joined without kvj_trans_hold() are
 * released (unlocked) by the commit, as XFS's roll releases every buffer
 * not held, so a long chain of rolls pins nothing it no longer needs;
 * held items stay joined and locked, and those the rolled transaction
 * changed are logged again in the new one (XFS's relogging in
 * xfs_defer_trans_roll): an item held locked across many rolls moves
 * forward in the log with each of them instead of pinning its tail, since
 * the AIL cannot write back a locked item.  The caller's reservation
 * covers them in every unit.  On error *tpp is still live: the caller
 * cancels it.
 */
int kvj_trans_roll(struct kvj_trans **tpp, uint64_t *seqp);
/*
 * kvj_trans_roll() in its two steps, for a caller holding locks of its
 * own that the released items do not cover (the filesystem's AG locks):
 * kvj_trans_roll_commit() commits and releases, never waiting for log
 * space; kvj_trans_regrant() then takes the next unit when the
 * pre-reserved rolls are used up, and may wait for the log's tail to
 * move.  Waiting with such a lock held deadlocks: the transactions that
 * wait for the lock hold the log space the wait needs (XFS regrants in
 * xfs_trans_roll() after the commit released its buffers).
 */
int kvj_trans_roll_commit(struct kvj_trans **tpp, uint64_t *seqp);
int kvj_trans_regrant(struct kvj_trans *tp);
struct kvj_log *kvj_trans_log_of(struct kvj_trans *tp);

/*
 * Intents: an operation spanning transactions logs an intent in its first
 * transaction and the matching done in its last; recovery calls the
 * intent ops' recover() for every intent logged without its done.
 */
struct kvj_intent;
int kvj_intent_log(struct kvj_trans *tp, uint32_t subtype, const void *data,
		   uint32_t len, struct kvj_intent **ip);
uint64_t kvj_intent_id(const struct kvj_intent *ip);
/* Log the done of ip in tp; ip is freed once that is durable. */
int kvj_intent_done(struct kvj_trans *tp, struct kvj_intent *ip);
/* Log a done for an intent known only by id (recovery). */
int kvj_intent_done_id(struct kvj_trans *tp, uint64_t id);

#endif
