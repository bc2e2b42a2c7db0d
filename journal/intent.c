// SPDX-License-Identifier: GPL-2.0
/*
 * Generic intent/done items.  An intent logs "this multi-transaction
 * operation is under way" and, once durable, sits in the AIL (it is never
 * written back), pinning the log tail so recovery still sees it.  Its done
 * item, logged by the operation's last transaction, takes it out of the
 * AIL when that checkpoint is durable.  Recovery collects intents whose
 * done it did not see and hands them to the client's intent ops.
 *
 * Intent and done items need no lock of their own: they belong to the
 * operation's transactions, and the push thread frees them (under the
 * AIL lock in committed(), or last thing in unpin()).
 */
#include <errno.h>
#include <string.h>

#include "journal/log_priv.h"

struct kvj_intent {
	struct kvj_item item;
	uint64_t id;
	uint32_t subtype;
	uint32_t len;
	bool done_committed;
	uint8_t data[];
};

struct kvj_done {
	struct kvj_item item;
	uint64_t id;
	struct kvj_intent *intent; /* NULL for a recovered intent */
};

/* An intent found by recovery without its done. */
struct kvj_rintent {
	struct kvj_rintent *next;
	uint64_t id;
	uint32_t subtype;
	uint32_t len;
	uint8_t data[];
};

static uint32_t intent_size(struct kvj_item *lip, bool fresh)
{
	struct kvj_intent *ip = (struct kvj_intent *)lip;

	(void)fresh;
	return sizeof(struct kvj_intent_fmt) + ip->len;
}

static uint32_t intent_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct kvj_intent *ip = (struct kvj_intent *)lip;
	struct kvj_intent_fmt *f = buf;

	(void)fresh;
	f->id = kvj_cpu_to_le64(ip->id);
	f->subtype = kvj_cpu_to_le32(ip->subtype);
	f->len = kvj_cpu_to_le32(ip->len);
	memcpy(f + 1, ip->data, ip->len);
	return sizeof(*f) + ip->len;
}

/* A failed commit never inserted the item: nobody else will free it. */
static void item_release(struct kvj_item *lip, bool aborted)
{
	if (aborted && !kvj_item_pinned(lip) && !lip->in_ail)
		kvfree(lip);
}

/* Log teardown after a shutdown: free what the journal itself owns. */
void kvj_intent_discard(struct kvj_item *lip)
{
	if (lip->ops->type != KVJ_ITEM_INTENT &&
	    lip->ops->type != KVJ_ITEM_DONE)
		return;
	if (!kvj_item_pinned(lip) && !lip->in_ail)
		kvfree(lip);
}

static int intent_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	(void)lip;
	(void)lsn;
	return KVJ_PUSH_SKIP;
}

static void intent_unpin(struct kvj_item *lip)
{
	struct kvj_intent *ip = (struct kvj_intent *)lip;

	if (ip->done_committed && !kvj_item_pinned(lip))
		kvfree(ip);
}

static const struct kvj_item_ops intent_ops = {
	.name = "intent",
	.type = KVJ_ITEM_INTENT,
	.size = intent_size,
	.format = intent_format,
	.release = item_release,
	.push = intent_push,
	.unpin = intent_unpin,
};

static uint32_t done_size(struct kvj_item *lip, bool fresh)
{
	(void)lip;
	(void)fresh;
	return sizeof(struct kvj_done_fmt);
}

static uint32_t done_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct kvj_done *dp = (struct kvj_done *)lip;
	struct kvj_done_fmt *f = buf;

	(void)fresh;
	f->id = kvj_cpu_to_le64(dp->id);
	return sizeof(*f);
}

/* Under the AIL lock: the done is durable, so the intent is finished. */
static bool done_committed(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct kvj_done *dp = (struct kvj_done *)lip;
	struct kvj_intent *ip = dp->intent;

	(void)lsn;
	if (ip) {
		kvj_ail_delete_locked(lip->log, &ip->item);
		ip->done_committed = true;
		if (!kvj_item_pinned(&ip->item))
			kvfree(ip);
		dp->intent = NULL;
	}
	return false;
}

static void done_unpin(struct kvj_item *lip)
{
	if (!kvj_item_pinned(lip))
		kvfree(lip);
}

static const struct kvj_item_ops done_ops = {
	.name = "done",
	.type = KVJ_ITEM_DONE,
	.size = done_size,
	.format = done_format,
	.release = item_release,
	.committed = done_committed,
	.push = intent_push,
	.unpin = done_unpin,
};

int kvj_intent_log(struct kvj_trans *tp, uint32_t subtype, const void *data,
		   uint32_t len, struct kvj_intent **ipp)
{
	struct kvj_log *log = kvj_trans_log_of(tp);
	struct kvj_intent *ip = kvmalloc(sizeof(*ip) + len, 0);

	if (!ip)
		return -ENOMEM;
	kvj_item_init(&ip->item, log, &intent_ops);
	ip->id = atomic_fetch_add(&log->next_intent_id, 1);
	ip->subtype = subtype;
	ip->len = len;
	ip->done_committed = false;
	memcpy(ip->data, data, len);
	kvj_trans_join(tp, &ip->item);
	kvj_trans_log(tp, &ip->item);
	*ipp = ip;
	return 0;
}

uint64_t kvj_intent_id(const struct kvj_intent *ip)
{
	return ip->id;
}

static int done_log(struct kvj_trans *tp, uint64_t id, struct kvj_intent *ip)
{
	struct kvj_done *dp = kvmalloc(sizeof(*dp), 0);

	if (!dp)
		return -ENOMEM;
	kvj_item_init(&dp->item, kvj_trans_log_of(tp), &done_ops);
	dp->id = id;
	dp->intent = ip;
	kvj_trans_join(tp, &dp->item);
	kvj_trans_log(tp, &dp->item);
	return 0;
}

int kvj_intent_done(struct kvj_trans *tp, struct kvj_intent *ip)
{
	return done_log(tp, ip->id, ip);
}

int kvj_intent_done_id(struct kvj_trans *tp, uint64_t id)
{
	return done_log(tp, id, NULL);
}

/* Recovery: an intent or done delta, in log order. */
int kvj_intent_decode(uint32_t type, const void *delta, uint32_t len,
		      struct kvj_intent_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = type;
	if (type == KVJ_ITEM_DONE) {
		struct kvj_done_fmt f;

		if (len < sizeof(f))
			return -EUCLEAN;
		memcpy(&f, delta, sizeof(f));
		r->id = kvj_le64_to_cpu(f.id);
		return 0;
	}
	if (type == KVJ_ITEM_INTENT) {
		struct kvj_intent_fmt f;

		if (len < sizeof(f))
			return -EUCLEAN;
		memcpy(&f, delta, sizeof(f));
		r->id = kvj_le64_to_cpu(f.id);
		r->subtype = kvj_le32_to_cpu(f.subtype);
		r->len = kvj_le32_to_cpu(f.len);
		if (r->len > len - sizeof(f))
			return -EUCLEAN;
		r->data = (const uint8_t *)delta + sizeof(f);
		return 0;
	}
	return -ENOENT;
}

int kvj_intent_recovered(struct kvj_log *log, uint32_t type, const void *delta,
			 uint32_t len)
{
	struct kvj_rintent *ri, **pp;
	struct kvj_intent_rec r;
	int err;

	err = kvj_intent_decode(type, delta, len, &r);
	if (err)
		return err == -ENOENT ? -EUCLEAN : err;
	if (type == KVJ_ITEM_DONE) {
		for (pp = &log->rintents; *pp; pp = &(*pp)->next) {
			if ((*pp)->id == r.id) {
				ri = *pp;
				*pp = ri->next;
				kvfree(ri);
				break;
			}
		}
		return 0;
	}
	ri = kvmalloc(sizeof(*ri) + r.len, 0);
	if (!ri)
		return -ENOMEM;
	ri->id = r.id;
	ri->subtype = r.subtype;
	ri->len = r.len;
	memcpy(ri->data, r.data, r.len);
	ri->next = NULL;
	for (pp = &log->rintents; *pp; pp = &(*pp)->next)
		;
	*pp = ri;
	if (ri->id >= atomic_load(&log->next_intent_id))
		atomic_store(&log->next_intent_id, ri->id + 1);
	return 0;
}

/* Finish every recovered intent that has no done, oldest first. */
int kvj_intents_finish(struct kvj_log *log)
{
	struct kvj_rintent *ri;
	unsigned i;
	int err;

	while ((ri = log->rintents)) {
		const struct kvj_intent_ops *ops = NULL;

		for (i = 0; i < log->p.nr_intents; i++)
			if (log->p.intents[i].subtype == ri->subtype)
				ops = &log->p.intents[i];
		if (!ops) {
			kvj_report("recovered intent %llu of subtype %u has no "
				   "handler",
				   (unsigned long long)ri->id, ri->subtype);
			return -EUCLEAN;
		}
		err = ops->recover(ops->priv, log, ri->id, ri->data, ri->len);
		if (err) {
			kvj_report("finishing recovered intent %llu failed: %d",
				   (unsigned long long)ri->id, err);
			return err;
		}
		log->rinfo.intents_finished++;
		log->rintents = ri->next;
		kvfree(ri);
	}
	return 0;
}

void kvj_intents_forget(struct kvj_log *log)
{
	struct kvj_rintent *ri;

	while ((ri = log->rintents)) {
		log->rintents = ri->next;
		kvfree(ri);
	}
}
