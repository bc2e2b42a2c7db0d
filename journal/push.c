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
 * returns without writing anything.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <urcu/urcu-memb.h>

#include "journal/crc32c.h"
#include "journal/log_priv.h"

static int ent_order_cmp(const void *a, const void *b)
{
	const struct kvj_cil_ent *x = *(struct kvj_cil_ent *const *)a;
	const struct kvj_cil_ent *y = *(struct kvj_cil_ent *const *)b;

	return x->order < y->order ? -1 : x->order > y->order;
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

/*
 * Write records and flush, with a flush after every KVJ_WINDOW_BB BBs
 * (journal/log_format.h: the reader looks for the head that far only).
 */
static int write_flushed(struct kvj_log *log, uint8_t *buf, uint64_t bytes,
			 uint32_t cycle, uint32_t bb)
{
	const uint64_t win = (uint64_t)KVJ_WINDOW_BB << KVJ_BB_SHIFT;
	int err = 0;

	while (bytes && !err) {
		uint64_t n = bytes < win ? bytes : win;

		err = kvj_write_records(log, buf, n, cycle, bb);
		if (!err)
			err = kvj_io_flush(log);
		buf += n;
		bytes -= n;
		bb += (uint32_t)(n >> KVJ_BB_SHIFT);
		if (bb >= log->log_bb) {
			bb -= (uint32_t)log->log_bb;
			cycle++;
		}
	}
	return err;
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
		fprintf(stderr,
			"kvjournal: log overrun: %llu bytes do not fit before the tail\n",
			(unsigned long long)bytes);
		kvj_log_shutdown(log, "log space overrun");
		return -EIO;
	}
	blk = kvzalloc(KVJ_BB_SIZE, KV_NOFAIL);
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
		err = kvj_io_flush(log);
	kvfree(blk);
	if (err)
		return err;
	kv_mutex_lock(&log->lock);
	if (++log->head_bb == log->log_bb) {
		log->head_bb = 0;
		log->head_cycle++;
	}
	log->tail_ondisk = tail;
	log->st_bytes += KVJ_BB_SIZE;
	kv_mutex_unlock(&log->lock);
	return 0;
}

struct ckpt_layout {
	uint8_t *buf;
	uint64_t bytes;
	uint32_t cycle, bb; /* where it starts */
	uint32_t end_cycle, end_bb;
	kvj_lsn_t ckpt_lsn;
};

/* Cut the stored stream into records at the head; add the commit record. */
static int ckpt_layout(struct kvj_log *log, struct ckpt_layout *l,
		       const uint8_t *stream, uint64_t slen, uint64_t ulen,
		       unsigned comp, uint64_t seq, uint32_t nr_items,
		       kvj_lsn_t tail)
{
	uint64_t cap = slen + (slen / KVJ_PART_MAX + 4) * 1024;
	uint64_t off = 0, o = 0;
	uint32_t cyc = l->cycle, bb = l->bb, nparts = 0;
	struct kvj_rec_hdr *h;

	/* a push may not fail for memory: its transactions are committed */
	l->buf = kvmalloc(cap, KV_NOFAIL);
	while (off < slen) {
		uint64_t room, plen, nbb;

		if (bb == log->log_bb) {
			bb = 0;
			cyc++;
		}
		room = (log->log_bb - bb - 1) << KVJ_BB_SHIFT;
		plen = slen - off;
		if (plen > KVJ_PART_MAX)
			plen = KVJ_PART_MAX;
		if (plen > room)
			plen = room;
		nbb = 1 + ((plen + KVJ_BB_SIZE - 1) >> KVJ_BB_SHIFT);
		h = (struct kvj_rec_hdr *)(l->buf + o);
		memset(h, 0, nbb << KVJ_BB_SHIFT);
		h->type = kvj_cpu_to_le32(KVJ_REC_CKPT);
		h->cycle = kvj_cpu_to_le32(cyc);
		h->nr_bb = kvj_cpu_to_le32(nbb);
		h->lsn = kvj_cpu_to_le64(KVJ_LSN(cyc, bb));
		h->tail_lsn = kvj_cpu_to_le64(tail);
		h->seq = kvj_cpu_to_le64(seq);
		h->len = kvj_cpu_to_le32(plen);
		h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, stream + off, plen));
		h->part_off = kvj_cpu_to_le64(off);
		memcpy(l->buf + o + KVJ_REC_HDR_SIZE, stream + off, plen);
		kvj_rec_stamp(h, nbb, cyc);
		kvj_rec_hdr_seal(h);
		if (!nparts)
			l->ckpt_lsn = KVJ_LSN(cyc, bb);
		nparts++;
		o += nbb << KVJ_BB_SHIFT;
		bb += nbb;
		off += plen;
	}
	if (bb == log->log_bb) {
		bb = 0;
		cyc++;
	}
	h = (struct kvj_rec_hdr *)(l->buf + o);
	memset(h, 0, KVJ_BB_SIZE);
	h->type = kvj_cpu_to_le32(KVJ_REC_COMMIT);
	h->cycle = kvj_cpu_to_le32(cyc);
	h->nr_bb = kvj_cpu_to_le32(1);
	h->lsn = kvj_cpu_to_le64(KVJ_LSN(cyc, bb));
	h->tail_lsn = kvj_cpu_to_le64(tail);
	h->seq = kvj_cpu_to_le64(seq);
	h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
	h->ckpt_lsn = kvj_cpu_to_le64(l->ckpt_lsn);
	h->stream_len = kvj_cpu_to_le64(slen);
	h->ulen = kvj_cpu_to_le64(ulen);
	h->comp = kvj_cpu_to_le32(comp);
	h->stream_crc = kvj_cpu_to_le32(kv_crc32c(0, stream, slen));
	h->nr_items = kvj_cpu_to_le32(nr_items);
	h->nr_parts = kvj_cpu_to_le32(nparts);
	kvj_rec_hdr_seal(h);
	o += KVJ_BB_SIZE;
	bb++;
	if (bb == log->log_bb) {
		bb = 0;
		cyc++;
	}
	l->bytes = o;
	l->end_cycle = cyc;
	l->end_bb = bb;
	return 0;
}

/* Detach the switched-out context's entries, sorted in commit order. */
static struct kvj_cil_ent **cil_collect(struct kvj_log *log, unsigned idx,
					uint32_t *nrp, uint64_t *chargedp)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent **v, *ent;
	uint64_t nr = 0, charged = 0;
	unsigned i;

	for (i = 0; i < cil->nr_pcp; i++) {
		nr += cil->pcp[i].nr[idx];
		charged += cil->pcp[i].space[idx];
	}
	v = kvmalloc((nr ? nr : 1) * sizeof(*v), KV_NOFAIL);
	nr = 0;
	for (i = 0; i < cil->nr_pcp; i++) {
		struct kvj_cil_pcp *pcp = &cil->pcp[i];

		for (ent = pcp->head[idx]; ent; ent = ent->next)
			v[nr++] = ent;
		pcp->head[idx] = NULL;
		pcp->tail[idx] = &pcp->head[idx];
		pcp->nr[idx] = 0;
		pcp->space[idx] = 0;
		pcp->unfolded[idx] = 0;
	}
	atomic_store(&cil->space[idx], 0);
	qsort(v, nr, sizeof(*v), ent_order_cmp);
	*nrp = nr;
	*chargedp = charged;
	return v;
}

/* Build the uncompressed stream of the checkpoint. */
static uint8_t *ckpt_stream(struct kvj_cil_ent **v, uint32_t nr, uint64_t seq,
			    uint64_t *ulenp)
{
	uint64_t ulen = sizeof(struct kvj_ckpt_hdr), o;
	struct kvj_ckpt_hdr *ch;
	uint8_t *s;
	uint32_t i;

	for (i = 0; i < nr; i++)
		ulen += sizeof(struct kvj_item_hdr) + ((v[i]->len + 7) & ~7u);
	s = kvmalloc(ulen, KV_NOFAIL);
	ch = (struct kvj_ckpt_hdr *)s;
	ch->magic = kvj_cpu_to_le32(KVJ_CKPT_MAGIC);
	ch->nr_items = kvj_cpu_to_le32(nr);
	ch->seq = kvj_cpu_to_le64(seq);
	o = sizeof(*ch);
	for (i = 0; i < nr; i++) {
		struct kvj_item_hdr *ih = (struct kvj_item_hdr *)(s + o);
		uint32_t pad = (v[i]->len + 7) & ~7u;

		ih->type = kvj_cpu_to_le32(v[i]->lip->ops->type);
		ih->len = kvj_cpu_to_le32(v[i]->len);
		o += sizeof(*ih);
		memcpy(s + o, v[i]->buf, v[i]->len);
		memset(s + o + v[i]->len, 0, pad - v[i]->len);
		o += pad;
	}
	*ulenp = ulen;
	return s;
}

/* The checkpoint is durable: AIL insertion, head and tail, unpin. */
static void ckpt_done(struct kvj_log *log, struct kvj_cil_ent **v, uint32_t nr,
		      const struct ckpt_layout *l, uint64_t seq, kvj_lsn_t tail)
{
	uint32_t i;

	kv_mutex_lock(&log->ail.lock);
	for (i = 0; i < nr; i++) {
		struct kvj_item *lip = v[i]->lip;
		bool to_ail = true;

		if (lip->ops->committed)
			to_ail = lip->ops->committed(lip, l->ckpt_lsn);
		if (to_ail)
			kvj_ail_insert_locked(log, lip, l->ckpt_lsn);
	}
	kv_mutex_lock(&log->lock);
	log->head_cycle = l->end_cycle;
	log->head_bb = l->end_bb;
	log->tail_ondisk = tail;
	log->durable_seq = seq;
	log->st_bytes += l->bytes;
	kvj_update_tail_locked(log, kvj_ail_min_locked(log));
	pthread_cond_broadcast(&log->force_cond);
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);

	for (i = 0; i < nr; i++) {
		struct kvj_item *lip = v[i]->lip;

		kvj_cil_ent_free(v[i]);
		atomic_fetch_sub(&lip->pin, 1);
		if (lip->ops->unpin)
			lip->ops->unpin(lip);
	}
}

static int ckpt_write(struct kvj_log *log, struct kvj_cil_ent **v, uint32_t nr,
		      uint64_t seq)
{
	struct ckpt_layout l = { 0 };
	uint8_t *stream, *cbuf = NULL;
	const uint8_t *stored;
	uint64_t ulen, slen;
	unsigned comp = KVJ_COMP_NONE;
	kvj_lsn_t tail;
	int err;

	stream = ckpt_stream(v, nr, seq, &ulen);
	stored = stream;
	slen = ulen;
	if (!log->p.no_compress) {
		size_t cap = kvj_zstd_bound(ulen), c;

		/* without memory the checkpoint goes out uncompressed */
		cbuf = kvmalloc(cap, KV_NOWARN);
		if (cbuf) {
			c = kvj_zstd_compress(log->zstd, cbuf, cap, stream,
					      ulen);
			if (c) {
				stored = cbuf;
				slen = c;
				comp = KVJ_COMP_ZSTD;
			}
		}
	}
	/* the worst-case size of the records, for the room check */
	err = push_make_room(log, slen + (slen / KVJ_PART_MAX + 4) * 1024);
	if (err)
		goto out;

	kv_mutex_lock(&log->ail.lock);
	kv_mutex_lock(&log->lock);
	tail = log->tail_lsn;
	l.cycle = log->head_cycle;
	l.bb = log->head_bb;
	kv_mutex_unlock(&log->lock);
	kv_mutex_unlock(&log->ail.lock);

	err = ckpt_layout(log, &l, stored, slen, ulen, comp, seq, nr, tail);
	if (err)
		goto out;
	err = write_flushed(log, l.buf, l.bytes, l.cycle, l.bb);
	if (err) {
		kvj_log_shutdown(log, "log write failed");
		goto out;
	}
	log->st_checkpoints++;
	log->st_ulen += ulen;
	log->st_len += slen;
	ckpt_done(log, v, nr, &l, seq, tail);
out:
	kvfree(l.buf);
	kvfree(cbuf);
	kvfree(stream);
	return err;
}

int kvj_cil_push(struct kvj_log *log, uint64_t seq, bool for_force)
{
	struct kvj_cil *cil = &log->cil;
	struct kvj_cil_ent **v;
	uint64_t cur, charged;
	uint32_t nr, i;
	/* a force from an fsync: reclaim must not force the log it pushes */
	unsigned nofs = kv_nofs_save();
	int err = 0;

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

	cur = atomic_load(&cil->seq);
	if (cil_ctx_empty(cil, cur & 1))
		goto out;
	atomic_store_explicit(&cil->seq, cur + 1, memory_order_release);
	urcu_memb_synchronize_rcu();

	v = cil_collect(log, cur & 1, &nr, &charged);
	if (for_force)
		log->st_force_writes++;
	err = ckpt_write(log, v, nr, cur);
	if (err) {
		/* committed transactions are lost: never silently */
		kvj_log_shutdown(log, "checkpoint write failed");
		/* shut down: the entries die with the context */
		for (i = 0; i < nr; i++)
			kvj_cil_ent_abort(v[i]);
	}
	kvfree(v);
	kvj_grant_release(log, charged);
out:
	kv_mutex_unlock(&log->push_lock);
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
	h = kvzalloc(KVJ_BB_SIZE, KV_NOFAIL);
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
	kvfree(h);
	if (!err) {
		kv_mutex_lock(&log->ail.lock);
		kv_mutex_lock(&log->lock);
		if (++log->head_bb == log->log_bb) {
			log->head_bb = 0;
			log->head_cycle++;
		}
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
