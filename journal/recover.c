// SPDX-License-Identifier: GPL-2.0
/*
 * Log recovery.
 *
 * 1. The head: every cycle's first record starts at block 0, so walking
 *    record headers from block 0 while they are valid and carry block 0's
 *    cycle ends at the head.  An all-zero block 0 is an empty log.
 * 2. The tail is named by the last record before the head; an unmount
 *    record naming itself is a clean log.
 * 3. A verification pass reads every record from tail to head, checks
 *    every crc, decompresses and parses every checkpoint, and decides
 *    where the replayable log ends: an incomplete or corrupt last
 *    checkpoint is a torn tail and is discarded; damage followed by a
 *    later checkpoint is corruption in the middle and refuses recovery
 *    with nothing written.
 * 4. The replay pass hands every delta of every complete checkpoint, in
 *    order, to its item type's recover ops (which skip deltas older than a
 *    block's stamped LSN), then the discarded tail is zeroed so that stale
 *    records can never be mistaken for new ones.
 * The caller then finishes intents and writes the unmount record.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal/crc32c.h"
#include "journal/log_priv.h"

struct rec {
	uint32_t type, cycle, nr_bb, len, comp, stream_crc, data_crc;
	uint32_t nr_items, nr_parts;
	kvj_lsn_t lsn, tail_lsn, ckpt_lsn;
	uint64_t seq, part_off, stream_len, ulen;
};

/* 0: h is a valid header for block bb; 1: it is not */
static int parse_hdr(struct kvj_log *log, const struct kvj_rec_hdr *hp,
		     uint32_t bb, struct rec *r)
{
	struct kvj_rec_hdr h;

	if (kvj_le32_to_cpu(hp->magic) != KVJ_REC_MAGIC)
		return 1;
	memcpy(&h, hp, sizeof(h));
	if (kvj_le32_to_cpu(h.magic) != KVJ_REC_MAGIC ||
	    kvj_le32_to_cpu(h.hdr_crc) !=
		    kv_crc32c_block(&h, sizeof(h), KVJ_REC_HDR_CRC_OFF) ||
	    kvj_le32_to_cpu(h.version) != KVJ_LOG_VERSION)
		return 1;
	r->type = kvj_le32_to_cpu(h.type);
	r->cycle = kvj_le32_to_cpu(h.cycle);
	r->nr_bb = kvj_le32_to_cpu(h.nr_bb);
	r->len = kvj_le32_to_cpu(h.len);
	r->data_crc = kvj_le32_to_cpu(h.data_crc);
	r->comp = kvj_le32_to_cpu(h.comp);
	r->stream_crc = kvj_le32_to_cpu(h.stream_crc);
	r->nr_items = kvj_le32_to_cpu(h.nr_items);
	r->nr_parts = kvj_le32_to_cpu(h.nr_parts);
	r->lsn = kvj_le64_to_cpu(h.lsn);
	r->tail_lsn = kvj_le64_to_cpu(h.tail_lsn);
	r->ckpt_lsn = kvj_le64_to_cpu(h.ckpt_lsn);
	r->seq = kvj_le64_to_cpu(h.seq);
	r->part_off = kvj_le64_to_cpu(h.part_off);
	r->stream_len = kvj_le64_to_cpu(h.stream_len);
	r->ulen = kvj_le64_to_cpu(h.ulen);
	if (r->nr_bb == 0 || (uint64_t)bb + r->nr_bb > log->log_bb ||
	    KVJ_LSN_BLOCK(r->lsn) != bb || KVJ_LSN_CYCLE(r->lsn) != r->cycle ||
	    (uint64_t)KVJ_REC_HDR_SIZE + r->len >
		    ((uint64_t)r->nr_bb << KVJ_BB_SHIFT) ||
	    r->type < KVJ_REC_CKPT || r->type > KVJ_REC_TAIL)
		return 1;
	return 0;
}

/* 0: valid header at bb; 1: not a valid header; <0: I/O error */
static int read_hdr(struct kvj_log *log, uint32_t bb, struct rec *r)
{
	struct kvj_rec_hdr h;
	int err = kvj_io_read(log, &h, sizeof(h), (uint64_t)bb << KVJ_BB_SHIFT);

	return err ? err : parse_hdr(log, &h, bb, r);
}

/*
 * A record of this cycle and a later sequence after the head means the
 * record at the head was damaged, not the end of the log.
 */
static int scan_past_head(struct kvj_log *log, uint32_t from, uint32_t cycle,
			  uint64_t seq, uint32_t *found)
{
	size_t chunk = 64 * 1024;
	uint8_t *buf = kvmalloc(chunk, 0);
	uint32_t bb = from, i, n;
	struct rec r;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	*found = 0;
	while (bb < log->log_bb && !*found) {
		n = chunk >> KVJ_BB_SHIFT;
		if (n > log->log_bb - bb)
			n = log->log_bb - bb;
		err = kvj_io_read(log, buf, (size_t)n << KVJ_BB_SHIFT,
				  (uint64_t)bb << KVJ_BB_SHIFT);
		if (err)
			break;
		for (i = 0; i < n; i++) {
			if (parse_hdr(log, (const void *)(buf + (i << KVJ_BB_SHIFT)),
				      bb + i, &r) == 0 &&
			    r.cycle == cycle && r.seq > seq) {
				*found = bb + i;
				break;
			}
		}
		bb += n;
	}
	kvfree(buf);
	return err;
}

static bool block_is_zero(const uint8_t *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

static const struct kvj_recover_ops *find_ops(struct kvj_log *log,
					      uint32_t type)
{
	unsigned i;

	for (i = 0; i < log->p.nr_recover; i++)
		if (log->p.recover[i].type == type)
			return &log->p.recover[i];
	return NULL;
}

struct walk {
	bool replay;
	/* results of the verification pass */
	kvj_lsn_t end;        /* where the replayable log ends */
	bool torn;
	const char *why;      /* what was wrong at bad_lsn */
	kvj_lsn_t bad_lsn;
	unsigned checkpoints, items;
	uint64_t max_seq;
	/* the checkpoint being assembled */
	uint8_t *sbuf;
	uint64_t scap, sfill, cur_seq;
	kvj_lsn_t first_lsn;
	bool in_ckpt;
};

/* Parse (and on the replay pass apply) one complete checkpoint stream. */
static int ckpt_apply(struct kvj_log *log, struct walk *w, const struct rec *c)
{
	const uint8_t *u = w->sbuf;
	uint8_t *ubuf = NULL;
	const struct kvj_ckpt_hdr *ch;
	uint64_t o;
	uint32_t i, nr;
	int err = 0;

	if (c->comp == KVJ_COMP_ZSTD) {
		if (c->ulen > (1ull << 32))
			return 1;
		ubuf = kvmalloc(c->ulen ? c->ulen : 1, 0);
		if (!ubuf)
			return -ENOMEM;
		if (kvj_zstd_decompress(log->zstd, ubuf, c->ulen, w->sbuf,
					w->sfill)) {
			kvfree(ubuf);
			return 1;
		}
		u = ubuf;
	} else if (c->comp != KVJ_COMP_NONE || c->ulen != w->sfill) {
		return 1;
	}
	ch = (const struct kvj_ckpt_hdr *)u;
	nr = c->ulen >= sizeof(*ch) ? kvj_le32_to_cpu(ch->nr_items) : 0;
	if (c->ulen < sizeof(*ch) || kvj_le32_to_cpu(ch->magic) !=
					    KVJ_CKPT_MAGIC ||
	    nr != c->nr_items || kvj_le64_to_cpu(ch->seq) != c->seq) {
		err = 1;
		goto out;
	}
	o = sizeof(*ch);
	for (i = 0; i < nr; i++) {
		const struct kvj_item_hdr *ih = (const void *)(u + o);
		uint32_t type, len;
		const struct kvj_recover_ops *ops;

		if (o + sizeof(*ih) > c->ulen) {
			err = 1;
			goto out;
		}
		type = kvj_le32_to_cpu(ih->type);
		len = kvj_le32_to_cpu(ih->len);
		o += sizeof(*ih);
		if (o + len > c->ulen) {
			err = 1;
			goto out;
		}
		ops = find_ops(log, type);
		if (type != KVJ_ITEM_INTENT && type != KVJ_ITEM_DONE && !ops) {
			fprintf(stderr,
				"kvjournal: checkpoint at lsn %u/%u holds item type %u that no recovery handler knows\n",
				KVJ_LSN_CYCLE(c->ckpt_lsn),
				KVJ_LSN_BLOCK(c->ckpt_lsn), type);
			err = -EUCLEAN;
			goto out;
		}
		if (w->replay) {
			if (!ops)
				err = kvj_intent_recovered(log, type, u + o,
							   len);
			else
				err = ops->replay(ops->priv, u + o, len,
						  c->ckpt_lsn);
			if (err)
				goto out;
			w->items++;
		}
		o += (len + 7) & ~7ull;
	}
out:
	kvfree(ubuf);
	return err;
}

static kvj_lsn_t lsn_advance(struct kvj_log *log, kvj_lsn_t lsn, uint32_t nbb)
{
	uint64_t bb = KVJ_LSN_BLOCK(lsn) + (uint64_t)nbb;
	uint32_t cycle = KVJ_LSN_CYCLE(lsn);

	if (bb >= log->log_bb) {
		bb -= log->log_bb;
		cycle++;
	}
	return KVJ_LSN(cycle, bb);
}

/*
 * Walk records from tail to head.  Returns 0 (w->end set), 1 when damage
 * is found that is not a torn tail (w->bad_lsn, w->why), <0 on I/O error.
 */
static int walk_log(struct kvj_log *log, struct walk *w, kvj_lsn_t tail,
		    kvj_lsn_t head)
{
	kvj_lsn_t pos = tail;
	uint8_t *rbuf = NULL;
	struct rec r;
	int err = 0;

	w->end = tail;
	w->in_ckpt = false;
	w->sfill = 0;
	while (pos < head) {
		uint32_t bb = KVJ_LSN_BLOCK(pos);
		uint64_t rbytes;

		err = read_hdr(log, bb, &r);
		if (err < 0)
			goto out;
		if (err || r.cycle != KVJ_LSN_CYCLE(pos)) {
			w->why = "bad record header";
			goto damaged;
		}
		if (r.seq > w->max_seq)
			w->max_seq = r.seq;
		rbytes = (uint64_t)r.nr_bb << KVJ_BB_SHIFT;
		if (r.type == KVJ_REC_CKPT) {
			if (w->in_ckpt && r.seq != w->cur_seq) {
				w->why = "checkpoint without commit record";
				goto damaged;
			}
			if (!w->in_ckpt) {
				w->in_ckpt = true;
				w->cur_seq = r.seq;
				w->sfill = 0;
				w->first_lsn = r.lsn;
			}
			if (r.part_off != w->sfill) {
				w->why = "checkpoint piece out of order";
				goto damaged;
			}
			kvfree(rbuf);
			rbuf = kvmalloc(rbytes, 0);
			if (!rbuf) {
				err = -ENOMEM;
				goto out;
			}
			err = kvj_io_read(log, rbuf, rbytes,
					  (uint64_t)bb << KVJ_BB_SHIFT);
			if (err)
				goto out;
			if (kv_crc32c(0, rbuf + KVJ_REC_HDR_SIZE, r.len) !=
			    r.data_crc) {
				w->why = "record payload checksum mismatch";
				goto damaged;
			}
			if (w->sfill + r.len > w->scap) {
				uint64_t cap = (w->sfill + r.len) * 2;
				uint8_t *n = kvrealloc(w->sbuf, cap, 0);

				if (!n) {
					err = -ENOMEM;
					goto out;
				}
				w->sbuf = n;
				w->scap = cap;
			}
			memcpy(w->sbuf + w->sfill, rbuf + KVJ_REC_HDR_SIZE,
			       r.len);
			w->sfill += r.len;
		} else if (r.type == KVJ_REC_COMMIT) {
			if (!w->in_ckpt || r.seq != w->cur_seq ||
			    r.ckpt_lsn != w->first_lsn ||
			    r.stream_len != w->sfill ||
			    kv_crc32c(0, w->sbuf, w->sfill) != r.stream_crc) {
				w->why = "commit record does not match its checkpoint";
				goto damaged;
			}
			r.ckpt_lsn = w->first_lsn;
			err = ckpt_apply(log, w, &r);
			if (err < 0)
				goto out;
			if (err) {
				w->why = "checkpoint contents do not parse";
				goto damaged;
			}
			w->in_ckpt = false;
			w->checkpoints++;
			w->end = lsn_advance(log, pos, r.nr_bb);
		} else {
			if (w->in_ckpt) {
				w->why = "checkpoint without commit record";
				goto damaged;
			}
			w->end = lsn_advance(log, pos, r.nr_bb);
		}
		pos = lsn_advance(log, pos, r.nr_bb);
	}
	/* an incomplete last checkpoint is a torn tail */
	w->torn = w->in_ckpt;
	err = 0;
	goto out;

damaged:
	w->bad_lsn = pos;
	/*
	 * Torn tail if nothing after the damage up to the head belongs to a
	 * later checkpoint: only the last, unflushed write can be torn.
	 */
	{
		uint64_t bad_seq = w->in_ckpt ? w->cur_seq : 0;
		bool later = false;

		if (read_hdr(log, KVJ_LSN_BLOCK(pos), &r) == 0 &&
		    r.cycle == KVJ_LSN_CYCLE(pos)) {
			if (!bad_seq)
				bad_seq = r.seq;
			for (pos = lsn_advance(log, pos, r.nr_bb); pos < head;
			     pos = lsn_advance(log, pos, r.nr_bb)) {
				if (read_hdr(log, KVJ_LSN_BLOCK(pos), &r) ||
				    r.cycle != KVJ_LSN_CYCLE(pos) ||
				    r.seq != bad_seq) {
					later = true;
					break;
				}
			}
		} else {
			later = true;
		}
		if (later) {
			err = 1;
		} else {
			w->torn = true;
			err = 0;
		}
	}
out:
	kvfree(rbuf);
	return err;
}

/* Zero [from, to): stale records of a discarded tail. */
static int zero_range(struct kvj_log *log, kvj_lsn_t from, kvj_lsn_t to)
{
	uint64_t left = kvj_lsn_diff_bytes(log, from, to);
	uint64_t off = (uint64_t)KVJ_LSN_BLOCK(from) << KVJ_BB_SHIFT;
	size_t chunk = 64 * 1024;
	uint8_t *z = kvzalloc(chunk, 0);
	int err = 0;

	if (!z)
		return -ENOMEM;
	while (left && !err) {
		uint64_t n = left < chunk ? left : chunk;

		if (off == log->p.log_bytes)
			off = 0;
		if (n > log->p.log_bytes - off)
			n = log->p.log_bytes - off;
		err = kvj_io_write(log, z, n, off);
		off += n;
		left -= n;
	}
	kvfree(z);
	return err;
}

static int find_head(struct kvj_log *log, kvj_lsn_t *headp, struct rec *last,
		     bool *emptyp)
{
	uint8_t blk[KVJ_BB_SIZE];
	uint32_t bb = 0, cycle;
	struct rec r;
	int err;

	*emptyp = false;
	err = read_hdr(log, 0, &r);
	if (err < 0)
		return err;
	if (err) {
		err = kvj_io_read(log, blk, sizeof(blk), 0);
		if (err)
			return err;
		if (block_is_zero(blk, sizeof(blk))) {
			*emptyp = true;
			*headp = KVJ_LSN(1, 0);
			return 0;
		}
		fprintf(stderr,
			"kvjournal: log block 0 is neither a valid record nor zero: the log is corrupt and cannot be recovered\n");
		return -EUCLEAN;
	}
	cycle = r.cycle;
	while (bb < log->log_bb) {
		err = read_hdr(log, bb, &r);
		if (err < 0)
			return err;
		if (err || r.cycle != cycle)
			break;
		*last = r;
		bb += r.nr_bb;
	}
	*headp = bb == log->log_bb ? KVJ_LSN(cycle + 1, 0) : KVJ_LSN(cycle, bb);
	if (bb + 1 < log->log_bb) {
		uint32_t found;

		err = scan_past_head(log, bb + 1, cycle, last->seq, &found);
		if (err)
			return err;
		if (found) {
			fprintf(stderr,
				"kvjournal: log record at lsn %u/%u is damaged but a later record follows at %u/%u: the log cannot be recovered (it was left untouched; the repair tool can zero it)\n",
				cycle, bb, cycle, found);
			return -EUCLEAN;
		}
	}
	return 0;
}

int kvj_recover(struct kvj_log *log)
{
	struct kvj_recovery_info *ri = &log->rinfo;
	struct walk w = { 0 };
	struct rec last = { 0 };
	kvj_lsn_t head, tail;
	unsigned i;
	bool empty;
	int err;

	err = find_head(log, &head, &last, &empty);
	if (err)
		return err;
	memset(ri, 0, sizeof(*ri));
	if (empty) {
		ri->was_empty = ri->was_clean = true;
		tail = head;
		goto done;
	}
	tail = last.tail_lsn;
	if (tail > head || kvj_lsn_diff_bytes(log, tail, head) >
				   log->p.log_bytes ||
	    KVJ_LSN_BLOCK(tail) >= log->log_bb) {
		fprintf(stderr,
			"kvjournal: log tail %u/%u is not within the log before head %u/%u: the log is corrupt and cannot be recovered\n",
			KVJ_LSN_CYCLE(tail), KVJ_LSN_BLOCK(tail),
			KVJ_LSN_CYCLE(head), KVJ_LSN_BLOCK(head));
		return -EUCLEAN;
	}
	atomic_store(&log->cil.seq, last.seq + 1);
	if (last.type == KVJ_REC_UNMOUNT && tail == last.lsn) {
		ri->was_clean = true;
		tail = head;
		goto done;
	}
	if (log->p.no_recovery) {
		fprintf(stderr, "kvjournal: the log is dirty and recovery was not allowed\n");
		return -EUCLEAN;
	}

	/* pass 1: verify everything, decide where the log ends */
	err = walk_log(log, &w, tail, head);
	if (err > 0) {
		fprintf(stderr,
			"kvjournal: log record at lsn %u/%u is damaged (%s) and later records depend on it: the log cannot be recovered (it was left untouched; the repair tool can zero it)\n",
			KVJ_LSN_CYCLE(w.bad_lsn), KVJ_LSN_BLOCK(w.bad_lsn),
			w.why);
		err = -EUCLEAN;
	}
	if (err)
		goto out;
	if (w.torn)
		fprintf(stderr,
			"kvjournal: discarding the torn tail of the log from lsn %u/%u to %u/%u (an incomplete last checkpoint)\n",
			KVJ_LSN_CYCLE(w.end), KVJ_LSN_BLOCK(w.end),
			KVJ_LSN_CYCLE(head), KVJ_LSN_BLOCK(head));

	/* pass 2: replay */
	{
		kvj_lsn_t end = w.end;
		bool torn = w.torn;
		uint64_t max_seq = w.max_seq;

		kvfree(w.sbuf);
		memset(&w, 0, sizeof(w));
		w.replay = true;
		err = walk_log(log, &w, tail, end);
		if (err > 0)
			err = -EIO; /* changed under us between the passes */
		if (err)
			goto out;
		for (i = 0; i < log->p.nr_recover && !err; i++)
			if (log->p.recover[i].finish)
				err = log->p.recover[i].finish(
					log->p.recover[i].priv);
		if (!err)
			err = kvj_io_flush(log);
		if (!err && torn)
			err = zero_range(log, end, head);
		if (!err && torn)
			err = kvj_io_flush(log);
		if (err)
			goto out;
		if (max_seq >= atomic_load(&log->cil.seq))
			atomic_store(&log->cil.seq, max_seq + 1);
		ri->torn_tail_discarded = torn;
		ri->checkpoints_replayed = w.checkpoints;
		ri->items_replayed = w.items;
		head = end;
	}
	/* keep the replayed region pinned until intents are finished */
	log->recovery_tail = tail;
done:
	log->head_cycle = KVJ_LSN_CYCLE(head);
	log->head_bb = KVJ_LSN_BLOCK(head);
	log->tail_lsn = tail;
	log->durable_seq = atomic_load(&log->cil.seq) - 1;
	ri->head_lsn = head;
	ri->tail_lsn = tail;
out:
	kvfree(w.sbuf);
	return err;
}
