// SPDX-License-Identifier: GPL-2.0
/*
 * The per-CPU committed item list: the commit path.
 *
 * A commit runs inside an RCU read-side section (liburcu, memb flavour):
 * it reads the current context sequence, formats each dirty item's delta
 * into the item's entry for that context (an item already in the context
 * only has its entry's delta rewritten: delayed logging), and appends the
 * new entries to one per-CPU slot's list for the context, indexed by
 * seq & 1.  A push bumps the sequence and waits for a grace period, after
 * which nobody references the old context's lists, so the push detaches
 * them without a lock and no reader/writer convoy exists.
 *
 * Entries and their delta buffers are protected by the item's lock (held by
 * the committing transaction) until the context is switched out, then
 * belong to the push.  A slot's lock protects its lists and counters; the
 * commit path only trylocks slots, moving on to the next slot when one is
 * busy, so it never waits on another CPU.  With single_cil there is one
 * slot, always locked (the ablation), and its contention is counted.
 */
/* inline urcu fast paths and its per-thread reader state */
#define _LGPL_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "journal/errortag.h"
#include "journal/log_priv.h"

/* fold a slot's charges into the global count every this many bytes */
#define CIL_FOLD_BYTES (16u * 1024)

static pthread_key_t rcu_key;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;

static void rcu_thread_exit(void *unused)
{
	(void)unused;
	urcu_memb_unregister_thread();
}

static void rcu_key_init(void)
{
	pthread_key_create(&rcu_key, rcu_thread_exit);
}

/*
 * Register the calling thread as an RCU reader unless something else in
 * the process (the buffer cache) already did; undone at its exit by
 * whoever registered it.
 */
void kvj_rcu_register(void)
{
	if (caa_likely(URCU_TLS(urcu_memb_reader).registered))
		return;
	pthread_once(&rcu_key_once, rcu_key_init);
	urcu_memb_register_thread();
	pthread_setspecific(rcu_key, (void *)1);
}

int kvj_cil_init(struct kvj_log *log)
{
	struct kvj_cil *cil = &log->cil;
	struct kv_stats ks;
	unsigned i, j;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);

	cil->pcp_class = kvj_lock_class(KVJ_LC_CIL_PCP);
	if (ncpu < 1)
		ncpu = 1;
	/*
	 * Twice as many slots as CPUs: a committer that finds its slot held
	 * (by a push collecting it, or a preempted committer) always has
	 * another free one to try.
	 */
	if (ncpu > KVJ_MAX_PCP / 2)
		ncpu = KVJ_MAX_PCP / 2;
	cil->nr_pcp = log->p.single_cil ? 1 : 2 * (unsigned)ncpu;
	cil->pcp = kvzalloc(sizeof(*cil->pcp) * cil->nr_pcp, 0);
	if (!cil->pcp)
		return -ENOMEM;
	for (i = 0; i < cil->nr_pcp; i++) {
		kv_mutex_init(&cil->pcp[i].lock, cil->pcp_class);
		for (j = 0; j < 2; j++)
			cil->pcp[i].tail[j] = &cil->pcp[i].head[j];
	}
	atomic_init(&cil->seq, 1);
	atomic_init(&cil->order, 1);
	atomic_init(&cil->commit_contended, 0);
	cil->push_base = log->p.log_bytes / log->p.push_fraction;
	cil->push_cap = log->p.log_bytes / 2;
	if (cil->push_cap < cil->push_base)
		cil->push_cap = cil->push_base;
	atomic_init(&cil->push_threshold, cil->push_base);
	kv_stats(&ks);
	cil->push_mem =
		ks.pages_total * KV_PAGE_SIZE / log->p.push_mem_fraction;
	/* the slots' unfolded memory stays a small part of the threshold */
	cil->mem_fold = cil->push_mem / (4 * cil->nr_pcp);
	if (cil->mem_fold > CIL_FOLD_BYTES)
		cil->mem_fold = CIL_FOLD_BYTES;
	return 0;
}

/*
 * A checkpoint of ulen stream bytes was written as slen: aim the next
 * pushes at push_base bytes of log as written, not as charged.  The
 * charge is uncompressed, and relogging makes it grow with the time
 * between checkpoints: two threads creating files in two large
 * directories relog every hash-index leaf they touched, whole (a leaf's
 * inserts shift its records), at each checkpoint: over 10 s of that, with
 * a threshold in charged bytes a checkpoint came every 10 000 creates,
 * 1.2 KiB of stream and 0.37 KiB of log per create; with this one, 0.6
 * KiB and 0.2 (a quiet machine; 0.3-0.4 and 0.06-0.1 on a loaded one,
 * which makes fewer files), and an eighth less CPU per create.  The
 * charge still counts against the grant head (grant.c), so a stream that
 * does not compress at all fits the log; push_cap (half the log) bounds
 * what one checkpoint pins and replays.  Small checkpoints (forces, idle
 * pushes) say little about the stream and are ignored; the others move
 * the threshold halfway to their figure.  Called by the push, under the
 * push lock.
 */
void kvj_cil_tune(struct kvj_log *log, uint64_t ulen, uint64_t slen)
{
	struct kvj_cil *cil = &log->cil;
	uint64_t cur, want;

	if (!slen || ulen < cil->push_base / 8)
		return;
	/* in double: base * ulen may pass 64 bits on a large log */
	want = (uint64_t)((double)cil->push_base * (double)ulen / (double)slen);
	if (want > cil->push_cap)
		want = cil->push_cap;
	if (want < cil->push_base)
		want = cil->push_base;
	cur = atomic_load_explicit(&cil->push_threshold, memory_order_relaxed);
	atomic_store_explicit(&cil->push_threshold, cur / 2 + want / 2,
			      memory_order_relaxed);
}

void kvj_cil_ent_free(struct kvj_cil_ent *ent)
{
	kvfree(ent->spill);
	kvfree(ent);
}

/*
 * A context that will never be written (the log shut down): the item is
 * unpinned as if it had been, so that its owner's pins (a buffer's, which
 * holds a reference) are dropped; intents the journal owns are freed.
 */
void kvj_cil_ent_abort(struct kvj_cil_ent *ent)
{
	struct kvj_item *lip = ent->lip;

	kvj_cil_ent_free(ent);
	atomic_fetch_sub(&lip->pin, 1);
	if (lip->ops->type == KVJ_ITEM_INTENT ||
	    lip->ops->type == KVJ_ITEM_DONE)
		kvj_intent_discard(lip);
	else if (lip->ops->unpin)
		lip->ops->unpin(lip);
}

void kvj_cil_destroy(struct kvj_log *log)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent *ent, *next;
	unsigned i, j;

	if (!cil->pcp)
		return;
	for (i = 0; i < cil->nr_pcp; i++) {
		for (j = 0; j < 2; j++) {
			for (ent = cil->pcp[i].head[j]; ent; ent = next) {
				next = ent->next;
				kvj_cil_ent_abort(ent);
			}
		}
		kv_mutex_destroy(&cil->pcp[i].lock);
	}
	kvfree(cil->pcp);
	cil->pcp = NULL;
}

static uint32_t ent_charge(uint32_t len)
{
	return kvj_item_log_bytes(len);
}

static struct kvj_cil_pcp *cil_lock_slot(struct kvj_cil *cil)
{
	struct kvj_cil_pcp *pcp;
	unsigned i, start;
	int cpu;

	cpu = cil->nr_pcp == 1 ? 0 : sched_getcpu();
	start = cpu < 0 ? 0 : (unsigned)cpu * 2 % cil->nr_pcp;
	for (i = 0; i < cil->nr_pcp; i++) {
		pcp = &cil->pcp[(start + i) % cil->nr_pcp];
		if (kv_mutex_trylock(&pcp->lock))
			return pcp;
	}
	/*
	 * Every slot busy: more committers than CPUs, or the single_cil
	 * ablation, or a push collecting.  Wait on our own.
	 */
	atomic_fetch_add_explicit(&cil->commit_contended, 1,
				  memory_order_relaxed);
	pcp = &cil->pcp[start];
	kv_mutex_lock(&pcp->lock);
	return pcp;
}

static struct kvj_cil_ent *cil_ent_alloc(struct kvj_item *lip, uint32_t need)
{
	uint32_t size = need < 64 ? 64 : need + need / 4;
	struct kvj_cil_ent *ent = kvmalloc(sizeof(*ent) + size, KV_NOFAIL);

	memset(ent, 0, sizeof(*ent));
	ent->buf = ent->data;
	ent->size = size;
	ent->lip = lip;
	return ent;
}

static bool cil_item_fresh(const struct kvj_item *lip, uint64_t seq)
{
	return lip->ctx_seq != seq || !lip->ent;
}

/*
 * What formatting into context seq will need: prep[i] is the i-th dirty
 * item's new entry, or a larger buffer for its relogged one.  With alloc
 * (before the RCU read-side section: a NOFAIL allocation waiting for
 * memory inside it could wait on a push that waits for our grace period)
 * allocate what is missing; without (inside it) only say whether prep
 * covers seq.  Only the item (locked by us) is read: its entry may belong
 * to a context being pushed.
 */
static bool cil_prep(struct kvj_item *items, uint64_t seq,
		     struct kvj_cil_ent **prep, bool alloc)
{
	struct kvj_item *lip;
	unsigned i = 0;

	for (lip = items; lip; lip = lip->tr_next) {
		bool fresh = cil_item_fresh(lip, seq);
		uint32_t need;

		if (!(lip->tr_flags & KVJ_LI_DIRTY))
			continue;
		need = lip->ops->size(lip, fresh);
		if (prep[i] && prep[i]->size < need) {
			if (!alloc)
				return false;
			kvj_cil_ent_free(prep[i]);
			prep[i] = NULL;
		}
		if (!prep[i] && (fresh || lip->ent_size < need)) {
			if (!alloc)
				return false;
			prep[i] = cil_ent_alloc(lip, need);
		}
		i++;
	}
	return true;
}

/*
 * Format one item into the context seq, from its prepared allocation.
 * New entries are chained on *newp; returns the bytes newly charged.
 */
static int64_t cil_format_item(struct kvj_item *lip, uint64_t seq,
			       uint64_t order, struct kvj_cil_ent *prep,
			       struct kvj_cil_ent ***newp, bool *relog)
{
	bool fresh = cil_item_fresh(lip, seq);
	struct kvj_cil_ent *ent = fresh ? prep : lip->ent;
	uint32_t old_charge = fresh ? 0 : ent->charged;

	if (!fresh && prep) {
		/* the relogged delta outgrew its buffer: take prep's */
		memcpy(prep->data, ent->buf, ent->len);
		kvfree(ent->spill);
		ent->spill = prep;
		ent->buf = prep->data;
		ent->size = prep->size;
	}
	lip->ent_size = ent->size;
	ent->len = lip->ops->format(lip, ent->buf, fresh);
	ent->order = order;
	ent->charged = ent_charge(ent->len);
	*relog = !fresh;
	if (fresh) {
		atomic_fetch_add(&lip->pin, 1);
		if (lip->ops->pin)
			lip->ops->pin(lip);
		lip->ctx_seq = seq;
		lip->ent = ent;
		ent->next = NULL;
		**newp = ent;
		*newp = &ent->next;
	}
	if (ent->charged < old_charge)
		ent->charged = old_charge;
	return (int64_t)ent->charged - old_charge;
}

/*
 * The context's pinned memory passed budget / push_mem_fraction: push it
 * now rather than at the interval, so the items it pins can be written
 * back and their memory reclaimed (XFS pushes at a space threshold; for
 * kvfs, under a small budget, memory runs out first).  One wake as the
 * count crosses the threshold: the push thread's request is sticky.
 */
static void cil_mem_fold(struct kvj_log *log, unsigned idx, uint64_t bytes)
{
	struct kvj_cil *cil = &log->cil;
	uint64_t old = atomic_fetch_add(&cil->mem[idx], bytes);

	if (old <= cil->push_mem && old + bytes > cil->push_mem) {
		atomic_fetch_add_explicit(&log->st_mem_pushes, 1,
					  memory_order_relaxed);
		kvj_push_wake(log);
	}
}

#define CIL_PREP_STACK 16

int kvj_cil_insert(struct kvj_log *log, struct kvj_trans *tp,
		   struct kvj_item *items, uint64_t *seqp, int64_t *used)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent *new_head = NULL, **new_tail = &new_head;
	struct kvj_cil_ent *prep_stack[CIL_PREP_STACK], **prep = prep_stack;
	struct kvj_cil_pcp *pcp;
	struct kvj_item *lip;
	uint64_t seq, order, fold = 0, mem = 0, mem_fold = 0;
	unsigned idx, i, nr = 0, nr_relog = 0, nr_new = 0, nr_dirty = 0;
	int64_t charged = 0;

	(void)tp;
	if (kvj_log_is_shutdown(log))
		return -EIO;
	for (lip = items; lip; lip = lip->tr_next)
		nr_dirty += !!(lip->tr_flags & KVJ_LI_DIRTY);
	if (nr_dirty > CIL_PREP_STACK)
		prep = kvmalloc(sizeof(*prep) * nr_dirty, KV_NOFAIL);
	memset(prep, 0, sizeof(*prep) * nr_dirty);
	kvj_rcu_register();
	seq = atomic_load_explicit(&cil->seq, memory_order_acquire);
	for (;;) {
		uint64_t prepared = seq;

		cil_prep(items, seq, prep, true);
		urcu_memb_read_lock();
		seq = atomic_load_explicit(&cil->seq, memory_order_acquire);
		/* the items are ours: prep covers the context it was made for */
		if (seq == prepared || cil_prep(items, seq, prep, false))
			break;
		/* a push switched contexts meanwhile: prepare for the new one */
		urcu_memb_read_unlock();
	}
	idx = seq & 1;
	if (kvj_errtag(KVJ_ERRTAG_CIL_INSERT_DELAY))
		usleep((useconds_t)kvj_errtag_value(
			KVJ_ERRTAG_CIL_INSERT_DELAY));
	order = atomic_fetch_add_explicit(&cil->order, 1, memory_order_relaxed);
	i = 0;
	for (lip = items; lip; lip = lip->tr_next) {
		bool relog;

		if (!(lip->tr_flags & KVJ_LI_DIRTY))
			continue;
		charged += cil_format_item(lip, seq, order, prep[i++],
					   &new_tail, &relog);
		nr++;
		if (relog) {
			nr_relog++;
		} else {
			nr_new++;
			mem += sizeof(struct kvj_cil_ent) + lip->ent_size +
			       lip->pin_bytes;
		}
	}

	pcp = cil_lock_slot(cil);
	if (nr_new) {
		if (pcp->space[idx] == 0)
			charged += KVJ_CTX_OVERHEAD;
		*pcp->tail[idx] = new_head;
		pcp->tail[idx] = new_tail;
		pcp->nr[idx] += nr_new;
	}
	pcp->space[idx] += charged;
	pcp->unfolded[idx] += charged;
	if (pcp->unfolded[idx] >= CIL_FOLD_BYTES) {
		fold = pcp->unfolded[idx];
		pcp->unfolded[idx] = 0;
	}
	pcp->mem[idx] += mem;
	if (pcp->mem[idx] >= cil->mem_fold) {
		mem_fold = pcp->mem[idx];
		pcp->mem[idx] = 0;
	}
	pcp->commits++;
	pcp->deltas += nr;
	pcp->relogs += nr_relog;
	kv_mutex_unlock(&pcp->lock);
	urcu_memb_read_unlock();
	if (prep != prep_stack)
		kvfree(prep);

	if (fold && atomic_fetch_add(&cil->space[idx], fold) + fold >
			    atomic_load_explicit(&cil->push_threshold,
						 memory_order_relaxed))
		kvj_push_wake(log);
	if (mem_fold)
		cil_mem_fold(log, idx, mem_fold);
	if (seqp)
		*seqp = seq;
	*used = charged;
	return 0;
}
