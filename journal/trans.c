// SPDX-License-Identifier: GPL-2.0
/*
 * Transactions: a reservation of log space, a NOFS allocation scope (and
 * optionally a NOFAIL one) held by the calling thread for the handle's
 * whole life, and the list of items it joined.
 *
 * A transaction reserves unit * (rolls + 1) bytes up front so that rolling
 * never waits for log space while it holds its items locked; each commit
 * consumes one unit (what it charged to the CIL is kept, the rest of the
 * unit is given back).  A transaction is used by one thread: no locks.
 */
#include <errno.h>
#include <stdlib.h>

#include "journal/bug.h"
#include "journal/log_priv.h"

struct kvj_trans {
	struct kvj_log *log;
	int64_t unit; /* bytes per commit, overhead included */
	unsigned cnt; /* units still held */
	struct kvj_item *items;
	unsigned nofs_saved;
	unsigned nofail_saved;
	bool nofail;
	bool dirty;
};

int kvj_trans_alloc(struct kvj_log *log, uint32_t res_bytes, unsigned rolls,
		    struct kvj_trans **tpp)
{
	struct kvj_trans *tp;
	unsigned nofs = kv_nofs_save();
	int64_t unit = (int64_t)res_bytes + KVJ_TRANS_OVERHEAD;
	int err;

	if (kvj_log_is_shutdown(log)) {
		err = -EIO;
		goto out_scope;
	}
	/* as XFS's transactions: waits for memory, never -ENOMEM */
	tp = kvmalloc(sizeof(*tp), KV_ZERO | KV_NOFAIL);
	err = kvj_grant_reserve(log, unit * (rolls + 1), true);
	if (err)
		goto out_free;
	tp->log = log;
	tp->unit = unit;
	tp->cnt = rolls + 1;
	tp->nofs_saved = nofs;
	*tpp = tp;
	return 0;

out_free:
	kvfree(tp);
out_scope:
	kv_nofs_restore(nofs);
	return err;
}

void kvj_trans_set_nofail(struct kvj_trans *tp)
{
	if (tp->nofail)
		return;
	tp->nofail_saved = kv_nofail_save();
	tp->nofail = true;
}

void kvj_trans_join(struct kvj_trans *tp, struct kvj_item *lip)
{
	struct kvj_item *it;

	/*
	 * Every insertion into a list sets JOINED and every removal clears
	 * it: an item without it is in no transaction, and needs no search
	 * of the list (a create joins some ten items, each scanning it).
	 */
	if (lip->tr_flags & KVJ_LI_JOINED)
		for (it = tp->items; it; it = it->tr_next)
			if (it == lip)
				return;
	lip->tr_flags = KVJ_LI_JOINED;
	lip->tr_next = tp->items;
	tp->items = lip;
}

bool kvj_trans_brelse(struct kvj_trans *tp, struct kvj_item *lip)
{
	struct kvj_item **pp;

	if (lip->tr_flags != KVJ_LI_JOINED)
		return false;
	for (pp = &tp->items; *pp && *pp != lip; pp = &(*pp)->tr_next)
		;
	if (!*pp)
		return false;
	*pp = lip->tr_next;
	lip->tr_next = NULL;
	lip->tr_flags = 0;
	lip->ops->release(lip, false);
	return true;
}

void kvj_trans_hold(struct kvj_trans *tp, struct kvj_item *lip)
{
	(void)tp;
	lip->tr_flags |= KVJ_LI_HOLD;
}

void kvj_trans_log(struct kvj_trans *tp, struct kvj_item *lip)
{
	if (!(lip->tr_flags & KVJ_LI_JOINED)) {
		kvj_bug("%s item logged by a transaction it is not joined to",
			lip->ops->name);
	}
	lip->tr_flags |= KVJ_LI_DIRTY;
	tp->dirty = true;
}

bool kvj_trans_dirty(struct kvj_trans *tp)
{
	return tp->dirty;
}

struct kvj_log *kvj_trans_log_of(struct kvj_trans *tp)
{
	return tp->log;
}

static void trans_release_items(struct kvj_trans *tp, bool aborted)
{
	struct kvj_item *lip, *next;

	for (lip = tp->items; lip; lip = next) {
		next = lip->tr_next;
		lip->tr_next = NULL;
		lip->tr_flags = 0;
		lip->ops->release(lip, aborted);
	}
	tp->items = NULL;
}

static bool journal_owned(const struct kvj_item *lip)
{
	return lip->ops->type == KVJ_ITEM_INTENT ||
	       lip->ops->type == KVJ_ITEM_DONE;
}

/*
 * Move the intents and dones to the end of the list and return where
 * they start.  Once a commit has put them in the CIL they belong to the
 * journal, which frees them when their checkpoint is durable, possibly
 * before the committing thread looks at its list again: after a
 * successful commit the list is cut there without touching them (their
 * release() does nothing unless the transaction aborted).
 */
static struct kvj_item **trans_journal_items_last(struct kvj_trans *tp)
{
	struct kvj_item *own = NULL, **own_tail = &own, *lip, **pp;

	for (pp = &tp->items; (lip = *pp);) {
		if (journal_owned(lip)) {
			*pp = lip->tr_next;
			lip->tr_next = NULL;
			*own_tail = lip;
			own_tail = &lip->tr_next;
			continue;
		}
		pp = &lip->tr_next;
	}
	*pp = own;
	return pp;
}

static void trans_end_scopes(struct kvj_trans *tp)
{
	if (tp->nofail)
		kv_nofail_restore(tp->nofail_saved);
	kv_nofs_restore(tp->nofs_saved);
}

/* Format the dirty items into the CIL; consumes one unit. */
static int trans_commit_items(struct kvj_trans *tp, uint64_t *seqp)
{
	struct kvj_log *log = tp->log;
	int64_t used = 0;
	int err;

	if (!tp->dirty) {
		kvj_grant_release(log, tp->unit);
		tp->cnt--;
		if (seqp)
			*seqp = 0;
		return 0;
	}
	err = kvj_cil_insert(log, tp, tp->items, seqp, &used);
	tp->cnt--;
	if (err) {
		kvj_grant_release(log, tp->unit);
		return err;
	}
	if (used > tp->unit) {
		kvj_report("transaction overran its reservation (%lld > %lld "
			   "bytes)",
			   (long long)used, (long long)tp->unit);
		kvj_log_shutdown(log, "transaction reservation overrun");
		used = tp->unit;
	}
	kvj_grant_release(log, tp->unit - used);
	return 0;
}

int kvj_trans_commit(struct kvj_trans *tp, uint64_t *seqp)
{
	struct kvj_item **cut = trans_journal_items_last(tp);
	int err = trans_commit_items(tp, seqp);

	if (!err)
		*cut = NULL;

	kvj_grant_release(tp->log, tp->unit * tp->cnt);
	trans_release_items(tp, err != 0);
	trans_end_scopes(tp);
	kvfree(tp);
	return err;
}

void kvj_trans_cancel(struct kvj_trans *tp)
{
	if (tp->dirty)
		kvj_log_shutdown(tp->log, "dirty transaction cancelled");
	kvj_grant_release(tp->log, tp->unit * tp->cnt);
	trans_release_items(tp, tp->dirty);
	trans_end_scopes(tp);
	kvfree(tp);
}

int kvj_trans_roll_commit(struct kvj_trans **tpp, uint64_t *seqp)
{
	struct kvj_trans *tp = *tpp;
	struct kvj_item *lip, **pp, **cut = trans_journal_items_last(tp);
	int err;

	err = trans_commit_items(tp, seqp);
	if (err)
		return err;
	/*
	 * The intents and dones now belong to the journal (see
	 * trans_journal_items_last()); the items not held are released as
	 * a commit releases them: a long deferred operation rolls
	 * thousands of times.
	 */
	*cut = NULL;
	tp->dirty = false;
	for (pp = &tp->items; (lip = *pp);) {
		unsigned flags = lip->tr_flags;

		if (!(flags & KVJ_LI_HOLD)) {
			*pp = lip->tr_next;
			lip->tr_next = NULL;
			lip->tr_flags = 0;
			lip->ops->release(lip, false);
			continue;
		}
		lip->tr_flags = KVJ_LI_JOINED | KVJ_LI_HOLD;
		if (flags & KVJ_LI_DIRTY)
			kvj_trans_log(tp, lip);
		pp = &lip->tr_next;
	}
	/* the same handle continues: the scopes carry over with no gap */
	*tpp = tp;
	return 0;
}

int kvj_trans_regrant(struct kvj_trans *tp)
{
	int err;

	if (tp->cnt)
		return 0;
	/* out of pre-reserved rolls: this one may wait */
	err = kvj_grant_reserve(tp->log, tp->unit, false);
	if (!err)
		tp->cnt = 1;
	return err;
}

int kvj_trans_roll(struct kvj_trans **tpp, uint64_t *seqp)
{
	int err = kvj_trans_roll_commit(tpp, seqp);

	return err ? err : kvj_trans_regrant(*tpp);
}
