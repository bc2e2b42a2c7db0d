/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Deferred operations (XFS's xfs_defer.c): work that must follow a change
 * in later transactions (free the extents a truncate unmapped, ...), made
 * crash-safe by intents.
 *
 * A transaction queues work items of a registered type with
 * kvfs_defer_add().  kvfs_defer_finish() (also run by kvfs_trans_commit())
 * logs one intent per group of at most type->max_items queued items in the
 * transaction that queued them, rolls, then finishes the items one by one
 * (type->finish_item, inside the transaction).  An item may queue further
 * work: its intents are logged in the same transaction and that work is
 * finished before the rest (depth first, as XFS).  When the next step would
 * not fit the transaction's log reservation, or an item asks for another
 * transaction (-EAGAIN: partly done, the item now describes the rest), or
 * it queued work, the group is closed in the current transaction: the done
 * of its intent, and a new intent for the items left; then the transaction
 * rolls.  So every item's work commits atomically with the done of the
 * intent that covered it, and recovery finishes each item exactly once.
 * The done of the last group goes with the last step, in the caller's
 * final commit.
 *
 * Recovery: the mount registers each type's intent recovery with the
 * journal; an intent found without its done has its items rebuilt with
 * type->recover_item and finished by the same machinery, the done logged
 * by intent id.
 *
 * Bounds: the framework holds only the queued items and one small group
 * per intent; an intent holds at most max_items items, and the log space
 * of every transaction is its reservation.  An operation of unbounded
 * size is a loop of the caller (queue a batch, finish it) or an item that
 * does part of its work and returns -EAGAIN.
 *
 * Contract of a type: step_log_bytes covers one finish_item's logging,
 * the intents of the work it queues included; a transaction running a
 * type's items reserves at least kvfs_defer_res_bytes(type) per commit.
 * finish_item and cancel_item free the item (finish_item only when it
 * returns 0).  A finish_item error is fatal: the filesystem is shut down
 * and the next mount's recovery finishes the work.
 */
#ifndef KV_FS_DEFER_H
#define KV_FS_DEFER_H

#include <stdatomic.h>
#include <stdint.h>

struct kvfs_mount;
struct kvfs_trans;

/* Embedded in the type's own item structure. */
struct kvfs_defer_item {
	struct kvfs_defer_item *next;
};

struct kvfs_defer_type {
	const char *name;
	uint32_t subtype; /* journal intent subtype, unique per mount */
	unsigned max_items; /* items per intent */
	uint32_t item_bytes; /* bytes of one item in the intent */
	uint32_t step_log_bytes; /* worst-case log bytes of one finish_item */
	/* blocks one finish_item may allocate (recovery reserves them) */
	uint64_t step_blocks;
	/* Write the item into its item_bytes of the intent payload. */
	void (*log_item)(const struct kvfs_defer_item *item, void *rec);
	/* Recovery: rebuild an item from its record; -EUCLEAN if malformed. */
	int (*recover_item)(struct kvfs_mount *mp, const void *rec,
			    struct kvfs_defer_item **itemp);
	/*
	 * Do the item's work in tp and free it: 0.  -EAGAIN: part done, the
	 * item describes the rest and is kept.  Other errors are fatal.
	 */
	int (*finish_item)(struct kvfs_trans *tp, struct kvfs_defer_item *item);
	/* Free an item that will not be finished. */
	void (*cancel_item)(struct kvfs_defer_item *item);
	/*
	 * Optional, built-in types: set the sizes that depend on the
	 * geometry (step_log_bytes, step_blocks) in the mount's copy of the
	 * type, from mp->resv.
	 */
	void (*mount_init)(const struct kvfs_mount *mp,
			   struct kvfs_defer_type *t);
};

/* Queued work of a transaction (fs/trans/trans.h's tp->dfops). */
struct kvfs_defer_pending;

/*
 * Queue item of type on tp.  -EOVERFLOW if tp's log reservation cannot
 * hold one step of the type (kvfs_defer_res_bytes()), -ENOMEM (only
 * before the transaction is NOFAIL).  The item belongs to tp from here:
 * it is finished or cancelled with it.
 */
int kvfs_defer_add(struct kvfs_trans *tp, const struct kvfs_defer_type *type,
		   struct kvfs_defer_item *item);
/*
 * Finish everything queued on tp, rolling as needed; tp stays open (the
 * caller commits: the last done goes with it).  An error shuts the
 * filesystem down (intents may be in the log): cancel tp.
 */
int kvfs_defer_finish(struct kvfs_trans *tp);
/* Drop everything queued on tp (cancel_item each); tp is being cancelled. */
void kvfs_defer_cancel(struct kvfs_trans *tp);
/* Log bytes per commit a transaction running type's items needs at least. */
uint32_t kvfs_defer_res_bytes(const struct kvfs_defer_type *type);

/* Counters of a mount's deferred operations (in struct kvfs_mount). */
struct kvfs_defer_counters {
	_Atomic uint64_t intents, relogs, dones, items, rolls, recovered;
};

/* What one mount's deferred operations did (tests and tools). */
struct kvfs_defer_stats {
	uint64_t intents; /* intents logged (relogs included) */
	uint64_t relogs; /* intents logged for the rest of a group */
	uint64_t dones;
	uint64_t items; /* items finished */
	uint64_t rolls;
	uint64_t recovered; /* intents finished by recovery */
};
void kvfs_defer_get_stats(struct kvfs_mount *mp, struct kvfs_defer_stats *st);

/*
 * Mount: the types this filesystem knows (the built-in ones, copied per
 * mount and sized by their mount_init, then extra, e.g. a test's), and
 * their intent recovery for struct kvj_log_params.
 * -EINVAL for two types of one subtype or a malformed type.
 */
int kvfs_defer_mount_init(struct kvfs_mount *mp,
			  const struct kvfs_defer_type *const *extra,
			  unsigned nr_extra);
void kvfs_defer_mount_fini(struct kvfs_mount *mp);
/* The mount's type of that subtype (its own copy of a built-in type). */
const struct kvfs_defer_type *kvfs_defer_type_of(struct kvfs_mount *mp,
						 uint32_t subtype);

#endif
