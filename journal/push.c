// SPDX-License-Identifier: GPL-2.0
/*
 * The CIL push: switch to a new checkpoint context, wait out the old one's
 * committers (an RCU grace period), merge the per-CPU lists in commit
 * order, format the stream, compress it with zstd, cut it into crc32c'd
 * records followed by a commit record, write them at the head, flush, then
 * move the items into the AIL at the checkpoint's LSN and unpin them.
 *
 * Pushes are serialised by push_lock, which also gives group commit: a
 * force whose sequence became durable while it waited for the lock
 * returns without writing anything.  Each push that runs is numbered
 * (push_started, push_done): memory relief (relief.c) waits for one that
 * started after it asked.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu/urcu-memb.h>

#include "journal/crc32c.h"
#include "journal/errortag.h"
#include "journal/log_priv.h"

/* Merge two lists sorted by commit order. */
static struct kvj_cil_ent *ent_merge(struct kvj_cil_ent *a,
				     struct kvj_cil_ent *b)
{
	struct kvj_cil_ent *head = NULL, **tail = &head;

	while (a && b) {
		struct kvj_cil_ent **min = a->order <= b->order ? &a : &b;

		*tail = *min;
		tail = &(*min)->next;
		*min = (*min)->next;
	}
	*tail = a ? a : b;
	return head;
}

/*
 * Sort a list by commit order without allocating (a push may run with no
 * memory to spare): a bottom-up merge sort over runs of 2^i entries.
 */
static struct kvj_cil_ent *ent_sort(struct kvj_cil_ent *list)
{
	struct kvj_cil_ent *run[64] = { NULL }, *e;
	unsigned i;

	while (list) {
		e = list;
		list = list->next;
		e->next = NULL;
		for (i = 0; run[i]; i++) {
			e = ent_merge(run[i], e);
			run[i] = NULL;
		}
		run[i] = e;
	}
	for (e = NULL, i = 0; i < 64; i++)
		if (run[i])
			e = ent_merge(run[i], e);
	return e;
}

/*
 * A checkpoint's entries in commit order.  Each entry is a cache miss
 * (tens of thousands of them, last written by the committing threads) and
 * a push visits each several times: held in an array, a visit prefetches
 * the entries ahead of it instead of waiting on one next pointer at a
 * time.  When memory for the array is short, the list, sorted by the
 * merge sort, is walked instead.
 */
struct ckpt_ents {
	struct kvj_cil_ent **v; /* NULL: walk list */
	struct kvj_cil_ent *list;
	uint32_t n; /* entries */
	uint32_t nr; /* entries with a delta: the stream's items */
	uint64_t ulen; /* the uncompressed stream's length */
};

/* how far ahead a walk prefetches an entry; its item half as far */
#define ENTS_AHEAD 16

/* The i-th entry (prev: the one before it), NULL past the last. */
static inline struct kvj_cil_ent *ents_at(const struct ckpt_ents *c, uint32_t i,
					  struct kvj_cil_ent *prev)
{
	if (!c->v)
		return i ? prev->next : c->list;
	if (i >= c->n)
		return NULL;
	if (i + ENTS_AHEAD < c->n)
		__builtin_prefetch(c->v[i + ENTS_AHEAD]);
	if (i + ENTS_AHEAD / 2 < c->n)
		__builtin_prefetch(c->v[i + ENTS_AHEAD / 2]->lip);
	return c->v[i];
}

#define ents_for_each(c, e, i)                          \
	for ((i) = 0, (e) = ents_at((c), 0, NULL); (e); \
	     (e) = ents_at((c), ++(i), (e)))

static void ents_count(struct ckpt_ents *c, const struct kvj_cil_ent *e)
{
	if (e->len) {
		c->nr++;
		c->ulen += sizeof(struct kvj_item_hdr) + ((e->len + 7) & ~7u);
	}
}

struct ent_key {
	struct kvj_cil_ent *e;
	uint64_t order;
	uint64_t pos; /* in the lists' concatenation: the sort is stable */
};

static int ent_key_cmp(const void *a, const void *b)
{
	const struct ent_key *x = a, *y = b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The array of the nl lists' n entries in commit order (a stable sort of
 * their concatenation), when memory allows without waiting: false
 * otherwise, the lists untouched.  The lists are walked side by side, so
 * that their misses overlap; then only the array is read.  A context's
 * orders are dense, one per commit, so a count per order places every
 * entry; a context of few entries over many commits is sorted by
 * comparison.
 */
static bool ents_sort_array(struct ckpt_ents *c, struct kvj_cil_ent **heads,
			    const uint32_t *counts, unsigned nl, uint64_t n)
{
	struct kvj_cil_ent *cur[KVJ_MAX_PCP], **v;
	uint64_t at[KVJ_MAX_PCP], end[KVJ_MAX_PCP];
	uint64_t lo = UINT64_MAX, hi = 0, range, k, base = 0;
	struct ent_key *keys;
	uint32_t *pos = NULL;
	unsigned nofail, l, live = 0;

	if (!n || n > UINT32_MAX || kvj_errtag(KVJ_ERRTAG_PUSH_SORT_NOMEM))
		return false;
	nofail = kv_nofail_save();
	kv_nofail_restore(0);
	keys = kvmalloc(sizeof(*keys) * n, KV_NOWARN);
	v = keys ? kvmalloc(sizeof(*v) * n, KV_NOWARN) : NULL;
	kv_nofail_restore(nofail);
	if (!v)
		goto fail;
	for (l = 0; l < nl; l++) {
		cur[l] = heads[l];
		at[l] = base;
		base += counts[l];
		end[l] = base;
		live += !!cur[l];
	}
	while (live) {
		for (l = 0; l < nl; l++) {
			struct kvj_cil_ent *e = cur[l];

			if (!e)
				continue;
			/* more entries than counted: a bug; the list sorts */
			if (at[l] == end[l])
				goto fail;
			keys[at[l]] = (struct ent_key){ e, e->order, at[l] };
			at[l]++;
			lo = e->order < lo ? e->order : lo;
			hi = e->order > hi ? e->order : hi;
			ents_count(c, e);
			cur[l] = e->next;
			live -= !cur[l];
		}
	}
	for (l = 0; l < nl; l++)
		if (at[l] != end[l])
			goto fail;
	range = hi - lo + 1;
	if (range <= 4 * n) {
		nofail = kv_nofail_save();
		kv_nofail_restore(0);
		pos = kvcalloc(range + 1, sizeof(*pos), KV_NOWARN);
		kv_nofail_restore(nofail);
	}
	if (pos) {
		for (k = 0; k < n; k++)
			pos[keys[k].order - lo + 1]++;
		for (k = 1; k <= range; k++)
			pos[k] += pos[k - 1];
		for (k = 0; k < n; k++)
			v[pos[keys[k].order - lo]++] = keys[k].e;
		kvfree(pos);
	} else {
		qsort(keys, n, sizeof(*keys), ent_key_cmp);
		for (k = 0; k < n; k++)
			v[k] = keys[k].e;
	}
	kvfree(keys);
	c->v = v;
	c->n = (uint32_t)n;
	return true;
fail:
	c->nr = 0;
	c->ulen = sizeof(struct kvj_ckpt_hdr);
	kvfree(v);
	kvfree(keys);
	return false;
}

static bool cil_ctx_empty(struct kvj_cil *cil, unsigned idx)
{
	bool empty = true;
	unsigned i;

	for (i = 0; i < cil->nr_pcp && empty; i++) {
		kv_mutex_lock(&cil->pcp[i].lock);
		empty = cil->pcp[i].space[idx] == 0;
		kv_mutex_unlock(&cil->pcp[i].lock);
	}
	return empty;
}

/*
 * Write bytes of whole records laid out from block bb of cycle: split in
 * two where they wrap past the end of the region.
 */
int kvj_write_records(struct kvj_log *log, uint8_t *buf, uint64_t bytes,
		      uint32_t cycle, uint32_t bb)
{
	uint64_t off = (uint64_t)bb << KVJ_BB_SHIFT;
	uint64_t first = bytes;
	int err;

	(void)cycle;
	if (off + first > log->p.log_bytes)
		first = log->p.log_bytes - off;
	err = kvj_io_write(log, buf, first, off);
	if (!err && first < bytes)
		err = kvj_io_write(log, buf + first, bytes - first, 0);
	return err;
}

/*
 * Stamp cycle into the first word of every payload BB of the record that
 * h heads (nr_bb BBs, contiguous in memory), keeping the displaced words
 * in the header; the header is sealed afterwards.
 */
void kvj_rec_stamp(struct kvj_rec_hdr *h, uint32_t nr_bb, uint32_t cycle)
{
	uint8_t *rec = (uint8_t *)h;
	uint32_t i;

	for (i = 1; i < nr_bb; i++) {
		kvj_le32 *w = (kvj_le32 *)(rec + ((size_t)i << KVJ_BB_SHIFT));

		h->cycle_data[i - 1] = *w;
		*w = kvj_cpu_to_le32(cycle);
	}
}

void kvj_rec_hdr_seal(struct kvj_rec_hdr *h)
{
	h->magic = kvj_cpu_to_le32(KVJ_REC_MAGIC);
	h->version = kvj_cpu_to_le32(KVJ_LOG_VERSION);
	h->hdr_crc = 0;
	h->hdr_crc = kvj_cpu_to_le32(
		kv_crc32c_block(h, sizeof(*h), KVJ_REC_HDR_CRC_OFF));
}

/*
 * Make sure bytes can be written at the head without passing the tail
 * that the newest durable record names: if only the in-memory tail allows
 * it, first write a tail record carrying it.  Called with push_lock held.
 */
static int push_make_room(struct kvj_log *log, uint64_t bytes)
{
	uint8_t *blk;
	struct kvj_rec_hdr *h;
	kvj_lsn_t head, tail, ondisk;
	int err;

	kv_mutex_lock(&log->lock);
	head = KVJ_LSN(log->head_cycle, log->head_bb);
	tail = log->tail_lsn;
	ondisk = log->tail_ondisk;
	kv_mutex_unlock(&log->lock);

	if (kvj_lsn_diff_bytes(log, ondisk, head) + bytes <= log->p.log_bytes)
		return 0;
	if (tail == ondisk ||
	    kvj_lsn_diff_bytes(log, tail, head) + bytes + KVJ_BB_SIZE >
		    log->p.log_bytes) {
		kvj_report("log overrun: %llu bytes do not fit before the tail",
			   (unsigned long long)bytes);
		kvj_log_shutdown(log, "log space overrun");
		return -EIO;
	}
	blk = log->rec_buf;
	memset(blk, 0, KVJ_BB_SIZE);
	h = (struct kvj_rec_hdr *)blk;
	h->type = kvj_cpu_to_le32(KVJ_REC_TAIL);
	h->cycle = kvj_cpu_to_le32(KVJ_LSN_CYCLE(head));
	h->nr_bb = kvj_cpu_to_le32(1);
	h->lsn = kvj_cpu_to_le64(head);
	h->tail_lsn = kvj_cpu_to_le64(tail);
	h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
	kvj_rec_hdr_seal(h);
	err = kvj_write_records(log, blk, KVJ_BB_SIZE, KVJ_LSN_CYCLE(head),
				KVJ_LSN_BLOCK(head));
	if (!err)
		err = kvj_io_flush_log(log);
	if (err)
		return err;
	kv_mutex_lock(&log->lock);
	if (++log->head_bb == log->log_bb) {
		log->head_bb = 0;
		log->head_cycle++;
	}
	kvj_head_publish_locked(log);
	log->tail_ondisk = tail;
	log->st_bytes += KVJ_BB_SIZE;
	kv_mutex_unlock(&log->lock);
	return 0;
}

/* Detach the switched-out context's entries, sorted in commit order. */
static void cil_collect(struct kvj_log *log, unsigned idx, struct ckpt_ents *c,
			uint64_t *chargedp)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent *heads[KVJ_MAX_PCP], **tails[KVJ_MAX_PCP];
	struct kvj_cil_ent *list = NULL, **tail = &list, *e;
	uint32_t counts[KVJ_MAX_PCP];
	uint64_t nr = 0, charged = 0;
	unsigned i, nl = 0;

	for (i = 0; i < cil->nr_pcp; i++) {
		struct kvj_cil_pcp *pcp = &cil->pcp[i];

		nr += pcp->nr[idx];
		charged += pcp->space[idx];
		if (pcp->head[idx]) {
			heads[nl] = pcp->head[idx];
			tails[nl] = pcp->tail[idx];
			counts[nl++] = pcp->nr[idx];
		}
		pcp->head[idx] = NULL;
		pcp->tail[idx] = &pcp->head[idx];
		pcp->nr[idx] = 0;
		pcp->space[idx] = 0;
		pcp->unfolded[idx] = 0;
		pcp->mem[idx] = 0;
	}
	atomic_store(&cil->space[idx], 0);
	atomic_store(&cil->mem[idx], 0);
	*chargedp = charged;
	memset(c, 0, sizeof(*c));
	c->ulen = sizeof(struct kvj_ckpt_hdr);
	if (ents_sort_array(c, heads, counts, nl, nr))
		return;
	for (i = 0; i < nl; i++) {
		*tail = heads[i];
		tail = tails[i];
	}
	c->list = ent_sort(list);
	for (e = c->list; e; e = e->next) {
		ents_count(c, e);
		c->n++;
	}
}

/*
 * The records of one checkpoint, cut from its stream as the stream is
 * produced and written from the log's record buffer whenever it fills: a
 * push allocates nothing it cannot do without (see kvj_cil_push()).
 */
struct ckpt_out {
	struct kvj_log *log;
	uint64_t seq;
	kvj_lsn_t tail;
	uint8_t *buf; /* log->rec_buf */
	uint64_t used; /* bytes of whole records in buf */
	uint32_t buf_cycle, buf_bb; /* where buf[0] goes */
	uint32_t cycle, bb; /* where the open record goes */
	uint32_t plen; /* payload bytes in the open record */
	uint32_t room; /* payload bytes the open record may take */
	uint64_t unflushed; /* BBs written since the last flush */
	uint64_t off; /* stream bytes emitted */
	uint64_t written; /* bytes written */
	uint32_t stream_crc;
	uint32_t nparts;
	kvj_lsn_t ckpt_lsn;
	int err;
};

/*
 * Write the whole records in the buffer.  The reader looks for the head
 * only KVJ_WINDOW_BB BBs past the newest flushed record
 * (journal/log_format.h): flush before more than that is unflushed.
 */
static void out_write(struct ckpt_out *o)
{
	uint64_t nbb = o->used >> KVJ_BB_SHIFT;

	if (o->err || !o->used)
		return;
	if (o->unflushed + nbb > KVJ_WINDOW_BB) {
		o->err = kvj_io_flush_log(o->log);
		o->unflushed = 0;
	}
	if (!o->err)
		o->err = kvj_write_records(o->log, o->buf, o->used,
					   o->buf_cycle, o->buf_bb);
	o->unflushed += nbb;
	o->written += o->used;
	o->used = 0;
	o->buf_cycle = o->cycle;
	o->buf_bb = o->bb;
}

/* Advance the position past n BBs, wrapping at the end of the region. */
static void out_advance(struct ckpt_out *o, uint32_t n)
{
	o->bb += n;
	if (o->bb >= o->log->log_bb) {
		o->bb -= (uint32_t)o->log->log_bb;
		o->cycle++;
	}
}

/* Room for the next record: a whole one, not crossing the region's end. */
static void out_open(struct ckpt_out *o)
{
	uint64_t room = (o->log->log_bb - o->bb - 1) << KVJ_BB_SHIFT;

	if (o->used + ((uint64_t)KVJ_REC_MAX_BB << KVJ_BB_SHIFT) >
	    KVJ_REC_BUF_BYTES)
		out_write(o);
	o->plen = 0;
	o->room = room < KVJ_PART_MAX ? (uint32_t)room : KVJ_PART_MAX;
}

static void out_close_part(struct ckpt_out *o)
{
	struct kvj_rec_hdr *h = (struct kvj_rec_hdr *)(o->buf + o->used);
	uint8_t *data = o->buf + o->used + KVJ_REC_HDR_SIZE;
	uint32_t nbb = 1 + ((o->plen + KVJ_BB_SIZE - 1) >> KVJ_BB_SHIFT);

	memset(h, 0, KVJ_REC_HDR_SIZE);
	memset(data + o->plen, 0,
	       ((size_t)(nbb - 1) << KVJ_BB_SHIFT) - o->plen);
	h->type = kvj_cpu_to_le32(KVJ_REC_CKPT);
	h->cycle = kvj_cpu_to_le32(o->cycle);
	h->nr_bb = kvj_cpu_to_le32(nbb);
	h->lsn = kvj_cpu_to_le64(KVJ_LSN(o->cycle, o->bb));
	h->tail_lsn = kvj_cpu_to_le64(o->tail);
	h->seq = kvj_cpu_to_le64(o->seq);
	h->len = kvj_cpu_to_le32(o->plen);
	h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, data, o->plen));
	h->part_off = kvj_cpu_to_le64(o->off - o->plen);
	kvj_rec_stamp(h, nbb, o->cycle);
	kvj_rec_hdr_seal(h);
	if (!o->nparts)
		o->ckpt_lsn = KVJ_LSN(o->cycle, o->bb);
	o->nparts++;
	o->used += (uint64_t)nbb << KVJ_BB_SHIFT;
	out_advance(o, nbb);
	out_open(o);
}

/* Append stream bytes (NULL: zeros) to the records. */
static void out_emit(struct ckpt_out *o, const void *p, size_t n)
{
	static const uint8_t zero[8];

	while (n) {
		uint8_t *data = o->buf + o->used + KVJ_REC_HDR_SIZE;
		size_t c = o->room - o->plen;

		/* full, or no room at all before the region's end */
		if (!c) {
			out_close_part(o);
			continue;
		}
		if (c > n)
			c = n;
		if (p)
			memcpy(data + o->plen, p, c);
		else
			memset(data + o->plen, 0, c);
		o->stream_crc = kv_crc32c(o->stream_crc, p ? p : zero, c);
		o->plen += (uint32_t)c;
		o->off += c;
		n -= c;
		if (p)
			p = (const uint8_t *)p + c;
	}
}

/* The checkpoint's header and items, in commit order: its stream. */
static void emit_stream(struct ckpt_out *o, const struct ckpt_ents *c)
{
	struct kvj_ckpt_hdr ch = { 0 };
	struct kvj_cil_ent *e;
	uint32_t i;

	ch.magic = kvj_cpu_to_le32(KVJ_CKPT_MAGIC);
	ch.nr_items = kvj_cpu_to_le32(c->nr);
	ch.seq = kvj_cpu_to_le64(o->seq);
	out_emit(o, &ch, sizeof(ch));
	ents_for_each(c, e, i)
	{
		struct kvj_item_hdr ih = { 0 };
		uint32_t pad = ((e->len + 7) & ~7u) - e->len;

		if (!e->len)
			continue; /* ordered: nothing to log */

		ih.type = kvj_cpu_to_le32(e->lip->ops->type);
		ih.len = kvj_cpu_to_le32(e->len);
		out_emit(o, &ih, sizeof(ih));
		out_emit(o, e->buf, e->len);
		out_emit(o, NULL, pad);
	}
}

/*
 * The stream compressed as it is formatted, a frame per record buffer's
 * worth (the buffer is free until the records are cut): no copy of the
 * whole stream, which was a third of a push's time (megabytes of cold
 * memory written, then read back by zstd), and unlike zstd's streaming
 * mode (its ring buffer's wraps take its slower external-dictionary
 * match finder, a third more instructions) no copy inside zstd either.
 */
struct ckpt_zin {
	struct kvj_zstd *z;
	uint8_t *stage; /* log->rec_buf */
	size_t staged;
	uint8_t *dst;
	size_t cap, pos;
	int err;
};

static void zin_feed(struct ckpt_zin *zi)
{
	if (!zi->err && zi->staged)
		zi->err = kvj_zstd_compress(zi->z, zi->dst, zi->cap, &zi->pos,
					    zi->stage, zi->staged);
	zi->staged = 0;
}

/* Append n stream bytes (NULL: zeros). */
static void zin_put(struct ckpt_zin *zi, const void *p, size_t n)
{
	while (n && !zi->err) {
		size_t c = KVJ_REC_BUF_BYTES - zi->staged;

		if (!c) {
			zin_feed(zi);
			continue;
		}
		if (c > n)
			c = n;
		if (p) {
			memcpy(zi->stage + zi->staged, p, c);
			p = (const uint8_t *)p + c;
		} else {
			memset(zi->stage + zi->staged, 0, c);
		}
		zi->staged += c;
		n -= c;
	}
}

/*
 * The stream compressed, if memory allows without waiting for it (a push
 * may be what frees memory; NOFS reclaim is fine): NULL otherwise, or if
 * it does not shrink.  Its allocations (zstd's included) may fail even
 * when the push runs for a caller inside a NOFAIL scope.
 */
static uint8_t *ckpt_compress(struct kvj_log *log, const struct ckpt_ents *c,
			      uint64_t seq, uint64_t *slenp)
{
	struct ckpt_zin zi = { .z = log->zstd, .stage = log->rec_buf };
	struct kvj_ckpt_hdr ch = { 0 };
	struct kvj_cil_ent *e;
	unsigned nofail = kv_nofail_save();
	uint32_t i;

	kv_nofail_restore(0);
	/* a stream that does not shrink is written as it is */
	zi.cap = c->ulen;
	zi.dst = kvmalloc(zi.cap, KV_NOWARN);
	if (!zi.dst) {
		kv_nofail_restore(nofail);
		return NULL;
	}
	ch.magic = kvj_cpu_to_le32(KVJ_CKPT_MAGIC);
	ch.nr_items = kvj_cpu_to_le32(c->nr);
	ch.seq = kvj_cpu_to_le64(seq);
	zin_put(&zi, &ch, sizeof(ch));
	ents_for_each(c, e, i)
	{
		struct kvj_item_hdr ih = { 0 };

		if (!e->len)
			continue;
		ih.type = kvj_cpu_to_le32(e->lip->ops->type);
		ih.len = kvj_cpu_to_le32(e->len);
		zin_put(&zi, &ih, sizeof(ih));
		zin_put(&zi, e->buf, e->len);
		zin_put(&zi, NULL, ((e->len + 7) & ~7u) - e->len);
	}
	zin_feed(&zi);
	kv_nofail_restore(nofail);
	if (zi.err || zi.pos >= c->ulen) {
		kvfree(zi.dst);
		return NULL;
	}
	*slenp = zi.pos;
	return zi.dst;
}

/* The checkpoint is durable: AIL insertion, head and tail, unpin. */
static void ckpt_done(struct kvj_log *log, const struct ckpt_ents *c,
		      const struct ckpt_out *o, uint64_t seq)
{
	struct kvj_cil_ent *e, *next;
	uint32_t i;

	kv_mutex_lock(&log->ail.lock);
	ents_for_each(c, e, i)
	{
		struct kvj_item *lip = e->lip;
		bool to_ail = true;

		if (lip->ops->committed)
			to_ail = lip->ops->committed(lip, o->ckpt_lsn);
		if (to_ail)
			kvj_ail_insert_locked(log, lip, o->ckpt_lsn);
	}
	kv_mutex_lock(&log->lock);
	log->head_cycle = o->cycle;
	log->head_bb = o->bb;
	kvj_head_publish_locked(log);
	log->tail_ondisk = o->tail;
	log->durable_seq = seq;
	log->st_bytes += o->written;
	kvj_update_tail_locked(log, kvj_ail_min_locked(log));
	pthread_cond_broadcast(&log->force_cond);
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);

	for (i = 0, e = ents_at(c, 0, NULL); e; e = next) {
		struct kvj_item *lip = e->lip;

		next = ents_at(c, ++i, e);
		kvj_cil_ent_free(e);
		atomic_fetch_sub(&lip->pin, 1);
		if (lip->ops->unpin)
			lip->ops->unpin(lip);
	}
}

/*
 * One attempt at writing the checkpoint at the head: its records, its
 * commit record, the flush.  Nothing moves before the flush succeeded, so
 * a failed attempt leaves only records past the head, without a commit
 * record, which recovery ignores and the next attempt overwrites.
 */
static int ckpt_try(struct kvj_log *log, struct ckpt_out *o,
		    const struct ckpt_ents *c, const uint8_t *cbuf,
		    uint64_t slen, bool for_force)
{
	struct kvj_rec_hdr *h;
	unsigned comp = cbuf ? KVJ_COMP_ZSTD : KVJ_COMP_NONE;
	uint64_t seq = o->seq;

	memset(o, 0, sizeof(*o));
	o->log = log;
	o->seq = seq;
	o->buf = log->rec_buf;
	/* the worst-case size of the records, for the room check */
	o->err = push_make_room(log, slen + (slen / KVJ_PART_MAX + 4) * 1024);
	if (o->err)
		return o->err;

	kv_mutex_lock(&log->ail.lock);
	kv_mutex_lock(&log->lock);
	o->tail = log->tail_lsn;
	o->cycle = log->head_cycle;
	o->bb = log->head_bb;
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);
	o->buf_cycle = o->cycle;
	o->buf_bb = o->bb;

	out_open(o);
	if (cbuf)
		out_emit(o, cbuf, slen);
	else
		emit_stream(o, c);
	if (o->plen)
		out_close_part(o);
	h = (struct kvj_rec_hdr *)(o->buf + o->used);
	memset(h, 0, KVJ_BB_SIZE);
	h->type = kvj_cpu_to_le32(KVJ_REC_COMMIT);
	h->cycle = kvj_cpu_to_le32(o->cycle);
	h->nr_bb = kvj_cpu_to_le32(1);
	h->lsn = kvj_cpu_to_le64(KVJ_LSN(o->cycle, o->bb));
	h->tail_lsn = kvj_cpu_to_le64(o->tail);
	h->seq = kvj_cpu_to_le64(seq);
	h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
	h->ckpt_lsn = kvj_cpu_to_le64(o->ckpt_lsn);
	h->stream_len = kvj_cpu_to_le64(slen);
	h->ulen = kvj_cpu_to_le64(c->ulen);
	h->comp = kvj_cpu_to_le32(comp);
	h->stream_crc = kvj_cpu_to_le32(o->stream_crc);
	h->nr_items = kvj_cpu_to_le32(c->nr);
	h->nr_parts = kvj_cpu_to_le32(o->nparts);
	kvj_rec_hdr_seal(h);
	o->used += KVJ_BB_SIZE;
	out_advance(o, 1);
	out_write(o);
	/*
	 * A force's flush covers the writes before it (an fsync's data: one
	 * device flush); the timer's makes the log durable and no more.
	 */
	if (!o->err)
		o->err = for_force ? kvj_io_flush(log) : kvj_io_flush_log(log);
	return o->err;
}

/*
 * A write or flush that failed for want of memory is retried, as metadata
 * write-back retries it (fs/io/buf.h kv_buf_write_transient()), after
 * memory relief: the allocator gives back what it caches, the AIL is
 * asked to write back (so that the buffer cache may shrink), and the push
 * backs off, 1 ms doubling to 256 ms.  It cannot wait for relief
 * (relief.c: it is the work relief waits for).  Forces wait meanwhile.
 */
#define CKPT_RETRY_MAX_SHIFT 8

static void ckpt_backoff(struct kvj_log *log, unsigned tries)
{
	unsigned shift =
		tries < CKPT_RETRY_MAX_SHIFT ? tries : CKPT_RETRY_MAX_SHIFT;

	atomic_fetch_add_explicit(&log->st_write_retries, 1,
				  memory_order_relaxed);
	kv_drain_caches();
	kvj_log_push_ail(log);
	usleep(1000u << shift);
}

static int ckpt_write(struct kvj_log *log, const struct ckpt_ents *c,
		      uint64_t seq, bool for_force)
{
	struct ckpt_out o = { .seq = seq };
	uint64_t ulen = c->ulen, slen = c->ulen;
	uint8_t *cbuf = NULL;
	unsigned tries;
	int err;

	if (!log->p.no_compress)
		cbuf = ckpt_compress(log, c, seq, &slen);
	for (tries = 0;; tries++) {
		err = ckpt_try(log, &o, c, cbuf, slen, for_force);
		if (!err || !kvj_io_transient(err) || kvj_log_is_shutdown(log))
			break;
		ckpt_backoff(log, tries);
	}
	if (err) {
		/* committed transactions are lost: never silently */
		kvj_log_shutdown(log, "log write failed");
		goto out;
	}
	log->st_checkpoints++;
	log->st_ulen += ulen;
	log->st_len += slen;
	kvj_cil_tune(log, ulen, slen);
	ckpt_done(log, c, &o, seq);
out:
	kvfree(cbuf);
	return err;
}

int kvj_cil_push(struct kvj_log *log, uint64_t seq, bool for_force)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent *e, *next;
	struct ckpt_ents c;
	uint64_t cur, charged, n = 0;
	uint32_t i;
	/* a force from an fsync: reclaim must not force the log it pushes */
	unsigned nofs = kv_nofs_save();
	int err = 0;

	/* memory relief waits for pushes: never for this one (relief.c) */
	kvj_nowait_enter();
	kv_mutex_lock(&log->push_lock);
	kv_mutex_lock(&log->lock);
	if (atomic_load(&log->shutdown))
		err = -EIO;
	else if (seq && seq <= log->durable_seq)
		seq = 0; /* someone else's push covered it: group commit */
	else
		seq = 1;
	kv_mutex_unlock(&log->lock);
	if (err || !seq)
		goto out;

	n = atomic_fetch_add(&log->push_started, 1) + 1;
	kvj_relief_wake(log);
	cur = atomic_load(&cil->seq);
	if (cil_ctx_empty(cil, cur & 1))
		goto out;
	atomic_store_explicit(&cil->seq, cur + 1, memory_order_release);
	urcu_memb_synchronize_rcu();

	/* ordered items (an empty delta) enter the AIL but not the stream */
	cil_collect(log, cur & 1, &c, &charged);
	if (for_force)
		log->st_force_writes++;
	err = ckpt_write(log, &c, cur, for_force);
	if (err) {
		/* shut down: the entries die with the context */
		for (i = 0, e = ents_at(&c, 0, NULL); e; e = next) {
			next = ents_at(&c, ++i, e);
			kvj_cil_ent_abort(e);
		}
	}
	kvfree(c.v);
	kvj_grant_release(log, charged);
out:
	if (n)
		atomic_store(&log->push_done, n);
	kv_mutex_unlock(&log->push_lock);
	if (n)
		kvj_relief_wake(log);
	kvj_nowait_leave();
	kv_nofs_restore(nofs);
	return err;
}

/*
 * Group commit.  One force pushes at a time; every other force waits on
 * force_cond, without queueing on the push lock, until its context is
 * durable or the pushing force is done, and then re-evaluates: so forces
 * whose transactions went out in that push return at once, and the
 * transactions committed during the write all go out in the next push,
 * under one write and one flush.  (Queueing every force on the push lock
 * made each push carry one or two transactions.)
 */
int kvj_log_force(struct kvj_log *log, uint64_t seq)
{
	int err = 0;

	atomic_fetch_add_explicit(&log->st_forces, 1, memory_order_relaxed);
	if (!seq)
		seq = atomic_load(&log->cil.seq);
	kv_mutex_lock(&log->lock);
	for (;;) {
		if (atomic_load(&log->shutdown)) {
			err = -EIO;
			break;
		}
		if (seq <= log->durable_seq)
			break;
		if (seq >= atomic_load(&log->cil.seq) && !log->force_pushing) {
			/* still the open context, and nobody is pushing */
			log->force_pushing = true;
			kv_mutex_unlock(&log->lock);
			err = kvj_cil_push(log, seq, true);
			kv_mutex_lock(&log->lock);
			log->force_pushing = false;
			pthread_cond_broadcast(&log->force_cond);
			break;
		}
		pthread_cond_wait(&log->force_cond, &log->lock.m);
	}
	kv_mutex_unlock(&log->lock);
	return err;
}

/* The log is clean: an unmount record naming itself as the tail. */
int kvj_write_unmount(struct kvj_log *log)
{
	unsigned nofs = kv_nofs_save();
	struct kvj_rec_hdr *h;
	kvj_lsn_t head;
	int err;

	kv_mutex_lock(&log->push_lock);
	kv_mutex_lock(&log->lock);
	head = KVJ_LSN(log->head_cycle, log->head_bb);
	kv_mutex_unlock(&log->lock);
	h = (struct kvj_rec_hdr *)log->rec_buf;
	memset(h, 0, KVJ_BB_SIZE);
	h->type = kvj_cpu_to_le32(KVJ_REC_UNMOUNT);
	h->cycle = kvj_cpu_to_le32(KVJ_LSN_CYCLE(head));
	h->nr_bb = kvj_cpu_to_le32(1);
	h->lsn = kvj_cpu_to_le64(head);
	h->tail_lsn = kvj_cpu_to_le64(head);
	h->seq = kvj_cpu_to_le64(atomic_load(&log->cil.seq));
	h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
	kvj_rec_hdr_seal(h);
	err = kvj_write_records(log, (uint8_t *)h, KVJ_BB_SIZE,
				KVJ_LSN_CYCLE(head), KVJ_LSN_BLOCK(head));
	if (!err)
		err = kvj_io_flush(log);
	if (!err) {
		kv_mutex_lock(&log->ail.lock);
		kv_mutex_lock(&log->lock);
		if (++log->head_bb == log->log_bb) {
			log->head_bb = 0;
			log->head_cycle++;
		}
		kvj_head_publish_locked(log);
		log->tail_ondisk = head;
		log->st_bytes += KVJ_BB_SIZE;
		kvj_update_tail_locked(log, kvj_ail_min_locked(log));
		kv_mutex_unlock(&log->lock);
		kv_mutex_unlock(&log->ail.lock);
	}
	kv_mutex_unlock(&log->push_lock);
	kv_nofs_restore(nofs);
	return err;
}
