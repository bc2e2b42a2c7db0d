// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred operations (fs/trans/defer.h), after XFS's
 * xfs_defer_finish_noroll().
 *
 * A transaction holds two lists of groups (struct kvfs_defer_pending):
 * intake, the work queued since the last intents were logged, and
 * pending, the groups whose intent is logged, in the order they are
 * finished.  Logging the intake's intents moves it to the front of
 * pending, so work queued by an item runs before anything queued before
 * it (depth first).  Everything is used by the transaction's one thread.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/trans/defer.h"
#include "fs/space/extfree_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "fs/trans/trans_resv.h"
#include "journal/errortag.h"

struct kvfs_defer_pending {
	struct kvfs_defer_pending *next;
	const struct kvfs_defer_type *type;
	struct kvj_intent *ip; /* the intent covering the items */
	uint64_t rid; /* or a recovered intent's id (ip NULL) */
	struct kvfs_defer_item *head, **tail;
	unsigned count;
};

/* Built-in types, recovered at every mount. */
static const struct kvfs_defer_type *const builtin_types[] = {
	&kvfs_efi_type,
	NULL,
};

/* What closing a group costs: its done and an intent for the rest. */
static uint32_t close_bytes(const struct kvfs_defer_type *type)
{
	return kvfs_resv_done_bytes() +
	       kvfs_resv_intent_bytes(type->max_items * type->item_bytes);
}

uint32_t kvfs_defer_res_bytes(const struct kvfs_defer_type *type)
{
	return type->step_log_bytes + close_bytes(type);
}

static struct kvfs_defer_pending *dfp_alloc(const struct kvfs_defer_type *type)
{
	struct kvfs_defer_pending *dfp = kvzalloc(sizeof(*dfp), 0);

	if (!dfp)
		return NULL;
	dfp->type = type;
	dfp->tail = &dfp->head;
	return dfp;
}

static void dfp_push_item(struct kvfs_defer_pending *dfp,
			  struct kvfs_defer_item *item)
{
	item->next = NULL;
	*dfp->tail = item;
	dfp->tail = &item->next;
	dfp->count++;
}

int kvfs_defer_add(struct kvfs_trans *tp, const struct kvfs_defer_type *type,
		   struct kvfs_defer_item *item)
{
	struct kvfs_defer_pending *dfp = tp->dfops_intake_last;

	if (kvfs_defer_res_bytes(type) > tp->log_res)
		return -EOVERFLOW;
	/* only the last group is extended: the queue keeps its order */
	if (!dfp || dfp->type != type || dfp->count >= type->max_items) {
		dfp = dfp_alloc(type);
		if (!dfp)
			return -ENOMEM;
		if (tp->dfops_intake_last)
			tp->dfops_intake_last->next = dfp;
		else
			tp->dfops_intake = dfp;
		tp->dfops_intake_last = dfp;
	}
	dfp_push_item(dfp, item);
	return 0;
}

/* Log an intent for dfp's items in tp. */
static int log_intent(struct kvfs_trans *tp, struct kvfs_defer_pending *dfp)
{
	const struct kvfs_defer_type *type = dfp->type;
	uint32_t len = dfp->count * type->item_bytes;
	struct kvfs_defer_item *item;
	uint8_t *buf, *rec;
	int err;

	buf = kvmalloc(len, 0);
	if (!buf)
		return -ENOMEM;
	rec = buf;
	for (item = dfp->head; item; item = item->next) {
		type->log_item(item, rec);
		rec += type->item_bytes;
	}
	err = kvj_intent_log(tp->jt, type->subtype, buf, len, &dfp->ip);
	kvfree(buf);
	if (!err) {
		dfp->rid = 0;
		atomic_fetch_add(&tp->mp->defer_ctr.intents, 1);
	}
	return err;
}

static int log_done(struct kvfs_trans *tp, struct kvfs_defer_pending *dfp)
{
	int err = dfp->ip ? kvj_intent_done(tp->jt, dfp->ip) :
			    kvj_intent_done_id(tp->jt, dfp->rid);

	if (!err) {
		dfp->ip = NULL;
		dfp->rid = 0;
		atomic_fetch_add(&tp->mp->defer_ctr.dones, 1);
	}
	return err;
}

/*
 * Log the intake's intents in tp (the transaction that queued the work)
 * and put it in front of the pending groups.
 */
static int create_intents(struct kvfs_trans *tp)
{
	struct kvfs_defer_pending *dfp;
	int err;

	if (!tp->dfops_intake)
		return 0;
	/* the intents make tp dirty for good */
	kvfs_trans_set_nofail(tp);
	for (dfp = tp->dfops_intake; dfp; dfp = dfp->next) {
		err = log_intent(tp, dfp);
		if (err)
			return err;
	}
	tp->dfops_intake_last->next = tp->dfops;
	tp->dfops = tp->dfops_intake;
	tp->dfops_intake = NULL;
	tp->dfops_intake_last = NULL;
	return 0;
}

static int defer_roll(struct kvfs_trans *tp)
{
	atomic_fetch_add(&tp->mp->defer_ctr.rolls, 1);
	return kvfs_trans_roll(tp, NULL);
}

/*
 * Finish items of the first pending group in tp, from a log budget of
 * *used bytes already spent, until the group is empty (its done is
 * logged), or it must stop for a roll: then its done and an intent for the
 * items left are logged; *roll tells the caller to roll.
 */
static int finish_one(struct kvfs_trans *tp, uint32_t *used, bool *roll)
{
	struct kvfs_defer_pending *dfp = tp->dfops;
	const struct kvfs_defer_type *type = dfp->type;
	uint32_t step = type->step_log_bytes, close = close_bytes(type);
	int err = 0;

	*roll = false;
	while (dfp->head) {
		struct kvfs_defer_item *item = dfp->head;
		struct kvfs_defer_item *next = item->next;

		if (*used && *used + step + close > tp->log_res) {
			*roll = true;
			break;
		}
		*used += step;
		if (kvj_errtag(KVJ_ERRTAG_DEFER_ITEM_FAIL))
			return -EIO;
		err = type->finish_item(tp, item);
		if (err == -EAGAIN) {
			*roll = true;
			break;
		}
		if (err)
			return err;
		atomic_fetch_add(&tp->mp->defer_ctr.items, 1);
		dfp->head = next;
		if (!next)
			dfp->tail = &dfp->head;
		dfp->count--;
		/* work it queued goes first */
		if (tp->dfops_intake) {
			*roll = true;
			break;
		}
	}
	err = log_done(tp, dfp);
	if (err)
		return err;
	*used += close;
	if (!dfp->head) {
		tp->dfops = dfp->next;
		kvfree(dfp);
		return 0;
	}
	err = log_intent(tp, dfp);
	if (!err)
		atomic_fetch_add(&tp->mp->defer_ctr.relogs, 1);
	return err;
}

/*
 * Once intents are logged the operation cannot be backed out of: the
 * commits so far are in the log and a transaction cancelled clean after a
 * roll would not stop the filesystem.  An error shuts it down (XFS does
 * the same); recovery finishes the work.
 */
static int defer_finish(struct kvfs_trans *tp)
{
	uint32_t used = 0;
	bool roll;
	int err;

	while (tp->dfops_intake || tp->dfops) {
		if (tp->dfops_intake) {
			err = create_intents(tp);
			if (!err)
				err = defer_roll(tp);
			if (err)
				return err;
			used = 0;
		}
		err = finish_one(tp, &used, &roll);
		if (err)
			return err;
		if (roll && !tp->dfops_intake) {
			err = defer_roll(tp);
			if (err)
				return err;
			used = 0;
		}
	}
	return 0;
}

int kvfs_defer_finish(struct kvfs_trans *tp)
{
	int err = defer_finish(tp);

	if (err)
		kvfs_mount_shutdown(tp->mp, "a deferred operation failed");
	return err;
}

static void cancel_list(struct kvfs_defer_pending *dfp)
{
	while (dfp) {
		struct kvfs_defer_pending *next = dfp->next;
		struct kvfs_defer_item *item = dfp->head;

		while (item) {
			struct kvfs_defer_item *inext = item->next;

			dfp->type->cancel_item(item);
			item = inext;
		}
		kvfree(dfp);
		dfp = next;
	}
}

void kvfs_defer_cancel(struct kvfs_trans *tp)
{
	cancel_list(tp->dfops_intake);
	cancel_list(tp->dfops);
	tp->dfops_intake = tp->dfops_intake_last = tp->dfops = NULL;
}

void kvfs_defer_get_stats(struct kvfs_mount *mp, struct kvfs_defer_stats *st)
{
	st->intents = atomic_load(&mp->defer_ctr.intents);
	st->relogs = atomic_load(&mp->defer_ctr.relogs);
	st->dones = atomic_load(&mp->defer_ctr.dones);
	st->items = atomic_load(&mp->defer_ctr.items);
	st->rolls = atomic_load(&mp->defer_ctr.rolls);
	st->recovered = atomic_load(&mp->defer_ctr.recovered);
}

/* ---- recovery ---- */

struct defer_rctx {
	struct kvfs_mount *mp;
	const struct kvfs_defer_type *type;
	struct kvfs_defer_type copy; /* a built-in type's, sized for mp */
};

/* Rebuild the items of a recovered intent into a pending group. */
static int recover_items(struct kvfs_mount *mp,
			 const struct kvfs_defer_type *type,
			 const uint8_t *data, uint32_t len,
			 struct kvfs_defer_pending *dfp)
{
	uint32_t off;
	int err;

	if (!len || len % type->item_bytes ||
	    len / type->item_bytes > type->max_items)
		return -EUCLEAN;
	for (off = 0; off < len; off += type->item_bytes) {
		struct kvfs_defer_item *item;

		err = type->recover_item(mp, data + off, &item);
		if (err)
			return err;
		dfp_push_item(dfp, item);
	}
	return 0;
}

static int defer_recover(void *priv, struct kvj_log *log, uint64_t id,
			 const void *data, uint32_t len)
{
	struct defer_rctx *rc = priv;
	const struct kvfs_defer_type *type = rc->type;
	struct kvfs_mount *mp = rc->mp;
	struct kvfs_defer_pending *dfp;
	struct kvfs_trans *tp;
	int err;

	err = kvfs_mount_recovery_ready(mp, log);
	if (err)
		return err;
	dfp = dfp_alloc(type);
	if (!dfp)
		return -ENOMEM;
	dfp->rid = id;
	err = recover_items(mp, type, data, len, dfp);
	if (!err)
		err = kvfs_trans_alloc(mp, kvfs_defer_res_bytes(type), 2,
				       type->step_blocks * type->max_items,
				       &tp);
	if (err) {
		cancel_list(dfp);
		return err;
	}
	kvfs_trans_set_nofail(tp);
	tp->dfops = dfp;
	err = kvfs_defer_finish(tp);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	err = kvfs_trans_commit(tp, NULL);
	if (!err)
		atomic_fetch_add(&mp->defer_ctr.recovered, 1);
	return err;
}

static bool type_ok(const struct kvfs_defer_type *t)
{
	return t->name && t->max_items && t->item_bytes && t->log_item &&
	       t->recover_item && t->finish_item && t->cancel_item;
}

int kvfs_defer_mount_init(struct kvfs_mount *mp,
			  const struct kvfs_defer_type *const *extra,
			  unsigned nr_extra)
{
	unsigned nr_builtin = 0, n, i, j;
	struct defer_rctx *rc;

	while (builtin_types[nr_builtin])
		nr_builtin++;
	n = nr_builtin + nr_extra;
	mp->defer_types = kvcalloc(n ? n : 1, sizeof(*mp->defer_types), 0);
	mp->defer_iops = kvcalloc(n ? n : 1, sizeof(*mp->defer_iops), 0);
	rc = kvcalloc(n ? n : 1, sizeof(*rc), 0);
	mp->defer_rctx = rc;
	if (!mp->defer_types || !mp->defer_iops || !rc) {
		kvfs_defer_mount_fini(mp);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct kvfs_defer_type *t = i < nr_builtin ?
							  builtin_types[i] :
							  extra[i - nr_builtin];

		for (j = 0; j < i; j++)
			if (mp->defer_types[j]->subtype == t->subtype)
				break;
		if (j < i || !type_ok(t)) {
			kvfs_defer_mount_fini(mp);
			return -EINVAL;
		}
		if (i < nr_builtin) {
			rc[i].copy = *t;
			if (t->mount_init)
				t->mount_init(mp, &rc[i].copy);
			t = &rc[i].copy;
		}
		mp->defer_types[i] = t;
		rc[i].mp = mp;
		rc[i].type = t;
		mp->defer_iops[i].subtype = t->subtype;
		mp->defer_iops[i].recover = defer_recover;
		mp->defer_iops[i].priv = &rc[i];
	}
	mp->nr_defer_types = n;
	return 0;
}

const struct kvfs_defer_type *kvfs_defer_type_of(struct kvfs_mount *mp,
						 uint32_t subtype)
{
	unsigned i;

	for (i = 0; i < mp->nr_defer_types; i++)
		if (mp->defer_types[i]->subtype == subtype)
			return mp->defer_types[i];
	return NULL;
}

void kvfs_defer_mount_fini(struct kvfs_mount *mp)
{
	kvfree(mp->defer_types);
	kvfree(mp->defer_iops);
	kvfree(mp->defer_rctx);
	mp->defer_types = NULL;
	mp->defer_iops = NULL;
	mp->defer_rctx = NULL;
	mp->nr_defer_types = 0;
}
