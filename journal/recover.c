// SPDX-License-Identifier: GPL-2.0
/*
 * The log walk (the one parser of the on-disk log, journal/logwalk.h) and
 * recovery, which is that walk plus replay.
 *
 * 1. The head: one read of the whole log takes the cycle stamp of every
 *    basic block (journal/log_format.h); the head is just past the highest
 *    LSN any block claims, whatever subset of the last unflushed write
 *    reached the media.  A log where only mkfs's zeroes are is empty.
 * 2. The tail is named by the last valid record before the head (scanning
 *    back from it); an unmount record naming itself, with nothing written
 *    after it, is a clean log.
 * 3. The walk reads every record from tail to head, checks every block's
 *    stamp and every crc, decompresses and parses every checkpoint, and
 *    decides where the replayable log ends.  Only the last write can be
 *    torn, and it is one checkpoint: damage after which everything the
 *    current pass wrote belongs to that one checkpoint is a torn tail and
 *    is discarded; anything else is corruption in the middle and refuses
 *    recovery with nothing written.
 * 4. Recovery's replay walks again up to that end and hands every delta of
 *    every complete checkpoint, in order, to its item type's recover ops
 *    (which skip deltas older than a block's stamped LSN), the types of a
 *    later replay phase after the others within each checkpoint, then
 *    overwrites the discarded tail with fill records of the previous
 *    cycle, so that nothing of it can be read as current again (a crash
 *    during that leaves a torn tail the next recovery discards the same
 *    way).
 * The caller then finishes intents and writes the unmount record.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "journal/crc32c.h"
#include "journal/log_priv.h"
#include "journal/logwalk.h"

struct rec {
	uint32_t type, cycle, nr_bb, len, comp, stream_crc, data_crc;
	uint32_t nr_items, nr_parts;
	kvj_lsn_t lsn, tail_lsn, ckpt_lsn;
	uint64_t seq, part_off, stream_len, ulen;
};

/* One walk: the log as it reads it, the callbacks, what it found. */
struct walk {
	const struct kvj_io_ops *io;
	void *io_priv;
	uint64_t log_bytes, log_bb;
	struct kvj_zstd *zstd;
	const struct kvj_walk_ops *ops;
	void *priv;
	/* results of walk_records() */
	kvj_lsn_t hw; /* just past the highest LSN any block claims */
	kvj_lsn_t end; /* where the replayable log ends */
	bool torn; /* end < hw: the rest is discarded */
	uint64_t done_seq; /* the last complete checkpoint */
	unsigned checkpoints;
	uint64_t max_seq;
	/* the checkpoint being assembled */
	uint8_t *sbuf;
	uint64_t scap, sfill, cur_seq;
	kvj_lsn_t first_lsn;
	uint32_t nr_parts;
	bool in_ckpt;
};

static void walk_init(struct walk *w, const struct kvj_io_ops *io,
		      void *io_priv, uint64_t log_bytes, struct kvj_zstd *zstd,
		      const struct kvj_walk_ops *ops, void *priv)
{
	memset(w, 0, sizeof(*w));
	w->io = io;
	w->io_priv = io_priv;
	w->log_bytes = log_bytes;
	w->log_bb = log_bytes >> KVJ_BB_SHIFT;
	w->zstd = zstd;
	w->ops = ops;
	w->priv = priv;
}

static void walk_fini(struct walk *w)
{
	kvfree(w->sbuf);
	w->sbuf = NULL;
}

static int walk_read(struct walk *w, void *buf, size_t len, uint64_t off)
{
	return w->io->read(w->io_priv, buf, len, off);
}

__attribute__((format(printf, 4, 5))) static int
report(struct walk *w, enum kvj_walk_problem what, kvj_lsn_t lsn,
       const char *fmt, ...)
{
	char msg[320];
	va_list ap;

	if (!w->ops->problem)
		return 0;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return w->ops->problem(w->priv, what, lsn, msg);
}

/* 0: h is a valid header for block bb; 1: it is not */
static int parse_hdr(struct walk *w, const struct kvj_rec_hdr *hp, uint32_t bb,
		     struct rec *r)
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
	if (r->nr_bb == 0 || r->nr_bb > KVJ_REC_MAX_BB ||
	    (r->type != KVJ_REC_CKPT && r->nr_bb != 1) ||
	    (uint64_t)bb + r->nr_bb > w->log_bb ||
	    KVJ_LSN_BLOCK(r->lsn) != bb || KVJ_LSN_CYCLE(r->lsn) != r->cycle ||
	    (uint64_t)KVJ_REC_HDR_SIZE + r->len >
		    ((uint64_t)r->nr_bb << KVJ_BB_SHIFT) ||
	    r->type < KVJ_REC_CKPT || r->type > KVJ_REC_FILL)
		return 1;
	return 0;
}

/* 0: valid header at bb; 1: not a valid header; <0: I/O error */
static int read_hdr(struct walk *w, uint32_t bb, struct rec *r)
{
	struct kvj_rec_hdr h;
	int err = walk_read(w, &h, sizeof(h), (uint64_t)bb << KVJ_BB_SHIFT);

	return err ? err : parse_hdr(w, &h, bb, r);
}

static bool bb_is_hdr(const uint8_t *b)
{
	return kvj_le32_to_cpu(((const struct kvj_rec_hdr *)b)->magic) ==
	       KVJ_REC_MAGIC;
}

/*
 * Words OR-ed whole, with no early exit: the loop vectorises, and a log
 * block tested is almost always zero (a byte loop was most of the head
 * search, a twelfth of fsck -n's CPU on a fresh log).
 */
static bool bb_is_zero(const uint8_t *b)
{
	uint64_t acc = 0, w;

	for (size_t i = 0; i < KVJ_BB_SIZE; i += sizeof(w)) {
		memcpy(&w, b + i, sizeof(w));
		acc |= w;
	}
	return !acc;
}

static kvj_lsn_t lsn_advance(struct walk *w, kvj_lsn_t lsn, uint32_t nbb);
static uint64_t lsn_diff_bb(struct walk *w, kvj_lsn_t from, kvj_lsn_t to);

/*
 * Blocks [bb, bb + n) (not past the end): raise *hw to the highest LSN
 * their stamps claim.  A block of cycle 0 that is not a record header was
 * never written and must be zero as mkfs left it.
 */
static int scan_range(struct walk *w, uint8_t *buf, uint32_t bb, uint64_t n,
		      kvj_lsn_t *hw)
{
	uint32_t i, k;
	int err = 0;

	for (; n && !err; bb += k, n -= k) {
		k = n < KVJ_WALK_CHUNK_BB ? (uint32_t)n : KVJ_WALK_CHUNK_BB;
		err = walk_read(w, buf, (size_t)k << KVJ_BB_SHIFT,
				(uint64_t)bb << KVJ_BB_SHIFT);
		for (i = 0; i < k && !err; i++) {
			const uint8_t *b = buf + ((size_t)i << KVJ_BB_SHIFT);
			uint32_t c = kvj_bb_cycle(b);

			if (c == 0 && !bb_is_hdr(b) && !bb_is_zero(b)) {
				err = report(
					w, KVJ_WALK_CORRUPT, KVJ_LSN(0, bb + i),
					"log block %u was never written "
					"(cycle 0) but is not zero: the log is "
					"corrupt and cannot be recovered",
					bb + i);
				if (!err)
					err = -EUCLEAN;
			}
			if (KVJ_LSN(c, bb + i) > *hw)
				*hw = KVJ_LSN(c, bb + i);
		}
	}
	return err;
}

/*
 * w->hw: just past the highest LSN any block's stamp claims.  Outside the
 * last unflushed write (at most KVJ_WINDOW_BB blocks) the log holds one
 * cycle up to the durable head and the one before after it, so the newest
 * of one block sampled in every window lies at most a window before that
 * write: the two windows from it hold the highest LSN.  Small logs are
 * read whole.
 */
static int scan_stamps(struct walk *w)
{
	uint8_t *buf = kvmalloc((size_t)KVJ_WALK_CHUNK_BB << KVJ_BB_SHIFT, 0);
	const uint64_t win = 2ull * KVJ_WINDOW_BB;
	kvj_lsn_t hw = 0, best = 0;
	uint32_t bb, from = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (w->log_bb <= 2 * win) {
		err = scan_range(w, buf, 0, w->log_bb, &hw);
		goto out;
	}
	for (bb = 0; bb < w->log_bb && !err; bb += KVJ_WINDOW_BB) {
		err = walk_read(w, buf, KVJ_BB_SIZE,
				(uint64_t)bb << KVJ_BB_SHIFT);
		if (!err && KVJ_LSN(kvj_bb_cycle(buf), bb) >= best) {
			best = KVJ_LSN(kvj_bb_cycle(buf), bb);
			from = bb;
		}
	}
	if (!err)
		err = scan_range(
			w, buf, from,
			w->log_bb - from < win ? w->log_bb - from : win, &hw);
	if (!err && w->log_bb - from < win)
		err = scan_range(w, buf, 0, win - (w->log_bb - from), &hw);
out:
	kvfree(buf);
	w->hw = lsn_advance(w, hw, 1);
	return err;
}

/*
 * The last valid record before w->hw: scanning back, the first block that
 * is a valid record header written at the LSN it sits at (headers of
 * earlier passes carry an older cycle; fill records never count).
 * 0 (*last set), 1 when there is none, or -errno.
 */
static int find_last(struct walk *w, struct rec *last)
{
	uint8_t *buf = kvmalloc((size_t)KVJ_WALK_CHUNK_BB << KVJ_BB_SHIFT, 0);
	uint64_t left = w->log_bb;
	kvj_lsn_t p = w->hw;
	int err = 1;

	if (!buf)
		return -ENOMEM;
	while (left && err == 1) {
		uint32_t cyc = KVJ_LSN_CYCLE(p), b1 = KVJ_LSN_BLOCK(p), b0, i;
		uint64_t n;
		int rerr;

		if (!b1) {
			cyc--;
			b1 = w->log_bb;
		}
		n = b1 < KVJ_WALK_CHUNK_BB ? b1 : KVJ_WALK_CHUNK_BB;
		if (n > left)
			n = left;
		b0 = b1 - (uint32_t)n;
		rerr = walk_read(w, buf, (size_t)n << KVJ_BB_SHIFT,
				 (uint64_t)b0 << KVJ_BB_SHIFT);
		if (rerr) {
			err = rerr;
			break;
		}
		for (i = (uint32_t)n; i-- > 0;) {
			const uint8_t *b = buf + ((size_t)i << KVJ_BB_SHIFT);

			if (bb_is_hdr(b) &&
			    !parse_hdr(w, (const void *)b, b0 + i, last) &&
			    last->cycle == cyc && last->type != KVJ_REC_FILL) {
				err = 0;
				break;
			}
		}
		left -= n;
		p = KVJ_LSN(cyc, b0);
	}
	kvfree(buf);
	return err;
}

/*
 * Hand one complete checkpoint stream to the ckpt and item callbacks.
 * 0, 1 when it does not parse (nothing reported), <0 on error or what a
 * callback returned.
 */
static int ckpt_parse(struct walk *w, const struct rec *c)
{
	struct kvj_walk_ckpt wc = {
		.seq = c->seq,
		.lsn = w->first_lsn,
		.commit_lsn = c->lsn,
		.nr_parts = w->nr_parts,
		.nr_items = c->nr_items,
		.comp = c->comp,
		.stream_len = w->sfill,
		.ulen = c->ulen,
	};
	const uint8_t *u = w->sbuf;
	uint8_t *ubuf = NULL;
	const struct kvj_ckpt_hdr *ch;
	struct kvj_walk_item it;
	uint64_t o;
	uint32_t i, nr;
	unsigned phases = w->ops->item_phases ? w->ops->item_phases : 1;
	int err = 0;

	if (c->comp == KVJ_COMP_ZSTD) {
		ubuf = kvmalloc(c->ulen ? c->ulen : 1, 0);
		if (!ubuf)
			return -ENOMEM;
		if (kvj_zstd_decompress(w->zstd, ubuf, c->ulen, w->sbuf,
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
	if (c->ulen < sizeof(*ch) ||
	    kvj_le32_to_cpu(ch->magic) != KVJ_CKPT_MAGIC || nr != c->nr_items ||
	    kvj_le64_to_cpu(ch->seq) != c->seq) {
		err = 1;
		goto out;
	}
	/* bounds of every item first: callbacks see whole checkpoints only */
	for (o = sizeof(*ch), i = 0; i < nr; i++) {
		const struct kvj_item_hdr *ih = (const void *)(u + o);

		if (o + sizeof(*ih) > c->ulen ||
		    o + sizeof(*ih) + kvj_le32_to_cpu(ih->len) > c->ulen) {
			err = 1;
			goto out;
		}
		o += sizeof(*ih) + ((kvj_le32_to_cpu(ih->len) + 7) & ~7ull);
	}
	if (w->ops->ckpt) {
		err = w->ops->ckpt(w->priv, &wc);
		if (err)
			goto out;
	}
	for (it.phase = 0; w->ops->item && it.phase < phases; it.phase++) {
		for (o = sizeof(*ch), i = 0; i < nr; i++) {
			const struct kvj_item_hdr *ih = (const void *)(u + o);

			it.index = i;
			it.type = kvj_le32_to_cpu(ih->type);
			it.len = kvj_le32_to_cpu(ih->len);
			it.delta = u + o + sizeof(*ih);
			err = w->ops->item(w->priv, &wc, &it);
			if (err)
				goto out;
			o += sizeof(*ih) + ((it.len + 7) & ~7ull);
		}
	}
out:
	kvfree(ubuf);
	return err;
}

static kvj_lsn_t lsn_advance(struct walk *w, kvj_lsn_t lsn, uint32_t nbb)
{
	uint64_t bb = KVJ_LSN_BLOCK(lsn) + (uint64_t)nbb;
	uint32_t cycle = KVJ_LSN_CYCLE(lsn);

	if (bb >= w->log_bb) {
		bb -= w->log_bb;
		cycle++;
	}
	return KVJ_LSN(cycle, bb);
}

static uint64_t lsn_diff_bb(struct walk *w, kvj_lsn_t from, kvj_lsn_t to)
{
	int64_t bb = ((int64_t)KVJ_LSN_CYCLE(to) - KVJ_LSN_CYCLE(from)) *
			     (int64_t)w->log_bb +
		     (int64_t)KVJ_LSN_BLOCK(to) - KVJ_LSN_BLOCK(from);

	return bb < 0 ? 0 : (uint64_t)bb;
}

static int report_record(struct walk *w, const struct rec *r, bool crc_ok)
{
	struct kvj_walk_rec wr = {
		.lsn = r->lsn,
		.type = r->type,
		.nr_bb = r->nr_bb,
		.len = r->len,
		.crc_ok = crc_ok,
		.tail_lsn = r->tail_lsn,
		.seq = r->seq,
		.part_off = r->part_off,
	};

	return w->ops->record ? w->ops->record(w->priv, &wr) : 0;
}

#define DAMAGED_HDR "a damaged header of the current pass"

/*
 * Damage at pos (why).  Only the last write can be torn, and it is one
 * checkpoint, newer than the last complete one, that starts at or before
 * pos: the rest of the log is a torn tail if every block from pos to the
 * head written in the current pass (stamped with the cycle of its LSN) is
 * payload or a valid header of that one checkpoint.  Then 0 with w->torn
 * set.  Otherwise damage in the middle: reported, -EUCLEAN.
 */
static int damaged(struct walk *w, kvj_lsn_t pos, kvj_lsn_t head,
		   const char *why)
{
	uint8_t *buf = kvmalloc((size_t)KVJ_WALK_CHUNK_BB << KVJ_BB_SHIFT, 0);
	uint64_t seq = w->in_ckpt ? w->cur_seq : 0;
	const char *later = NULL;
	kvj_lsn_t p = pos, at = pos;
	struct rec r;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (p < head && !later && !err) {
		uint32_t bb = KVJ_LSN_BLOCK(p), cyc = KVJ_LSN_CYCLE(p), i;
		uint64_t n = w->log_bb - bb;

		if (n > KVJ_WALK_CHUNK_BB)
			n = KVJ_WALK_CHUNK_BB;
		if (n > lsn_diff_bb(w, p, head))
			n = lsn_diff_bb(w, p, head);
		err = walk_read(w, buf, (size_t)n << KVJ_BB_SHIFT,
				(uint64_t)bb << KVJ_BB_SHIFT);
		for (i = 0; i < n && !err; i++) {
			const uint8_t *b = buf + ((size_t)i << KVJ_BB_SHIFT);

			if (kvj_bb_cycle(b) != cyc || !bb_is_hdr(b))
				continue;
			at = KVJ_LSN(cyc, bb + i);
			if (parse_hdr(w, (const void *)b, bb + i, &r) ||
			    r.cycle != cyc) {
				later = DAMAGED_HDR;
				break;
			}
			if (r.type != KVJ_REC_CKPT &&
			    r.type != KVJ_REC_COMMIT) {
				later = "a later record";
				break;
			}
			if (!seq)
				seq = r.seq;
			if (r.seq != seq || seq <= w->done_seq) {
				later = "a record of another checkpoint";
				break;
			}
		}
		p = lsn_advance(w, p, (uint32_t)n);
	}
	kvfree(buf);
	if (err)
		return err;
	if (!later) {
		w->torn = true;
		return 0;
	}
	if (at == pos && !strcmp(later, DAMAGED_HDR))
		err = report(
			w, KVJ_WALK_CORRUPT, pos,
			"log record at lsn %u/%u has a damaged header written "
			"in the current pass: the log cannot be recovered (it "
			"was left untouched; the repair tool can zero it)",
			KVJ_LSN_CYCLE(pos), KVJ_LSN_BLOCK(pos));
	else
		err = report(
			w, KVJ_WALK_CORRUPT, pos,
			"log record at lsn %u/%u is damaged (%s) but %s "
			"follows at %u/%u: the log cannot be recovered (it was "
			"left untouched; the repair tool can zero it)",
			KVJ_LSN_CYCLE(pos), KVJ_LSN_BLOCK(pos), why, later,
			KVJ_LSN_CYCLE(at), KVJ_LSN_BLOCK(at));
	return err ? err : -EUCLEAN;
}

/*
 * Check the stamps of CKPT record rbuf of r and put back the words they
 * displaced.  False when a block is from an earlier pass: a torn write.
 */
static bool rec_unstamp(const struct rec *r, uint8_t *rbuf)
{
	const struct kvj_rec_hdr *h = (const void *)rbuf;
	uint32_t i;

	for (i = 1; i < r->nr_bb; i++) {
		kvj_le32 *w = (kvj_le32 *)(rbuf + ((size_t)i << KVJ_BB_SHIFT));

		if (kvj_le32_to_cpu(*w) != r->cycle)
			return false;
		*w = h->cycle_data[i - 1];
	}
	return true;
}

/* Append the payload of CKPT record r (rbuf: the whole record). */
static int stream_append(struct walk *w, const struct rec *r,
			 const uint8_t *rbuf)
{
	if (w->sfill + r->len > w->scap) {
		uint64_t cap = (w->sfill + r->len) * 2;
		uint8_t *n = kvrealloc(w->sbuf, cap, 0);

		if (!n)
			return -ENOMEM;
		w->sbuf = n;
		w->scap = cap;
	}
	if (r->len) /* a piece may be empty: one BB left before the end */
		memcpy(w->sbuf + w->sfill, rbuf + KVJ_REC_HDR_SIZE, r->len);
	w->sfill += r->len;
	w->nr_parts++;
	return 0;
}

/*
 * Walk records from tail to head.  Returns 0 (w->end set; w->torn when the
 * rest is a torn tail), -EUCLEAN after reporting corruption in the middle,
 * another -errno on error or what a callback returned.
 */
static int walk_records(struct walk *w, kvj_lsn_t tail, kvj_lsn_t head)
{
	kvj_lsn_t pos = tail;
	uint8_t *rbuf = NULL;
	const char *why;
	struct rec r;
	int err = 0;

	w->end = tail;
	w->in_ckpt = false;
	w->torn = false;
	w->sfill = 0;
	w->done_seq = 0;
	while (pos < head) {
		uint32_t bb = KVJ_LSN_BLOCK(pos);
		uint64_t rbytes;
		bool crc_ok = true, stamps_ok = true;

		err = read_hdr(w, bb, &r);
		if (err < 0)
			goto out;
		if (err || r.cycle != KVJ_LSN_CYCLE(pos) ||
		    r.type == KVJ_REC_FILL) {
			why = "no valid record header";
			goto damaged;
		}
		if (lsn_diff_bb(w, pos, head) < r.nr_bb) {
			why = "the record runs past the head";
			goto damaged;
		}
		if (r.seq > w->max_seq)
			w->max_seq = r.seq;
		rbytes = (uint64_t)r.nr_bb << KVJ_BB_SHIFT;
		if (r.type == KVJ_REC_CKPT) {
			kvfree(rbuf);
			rbuf = kvmalloc(rbytes, 0);
			if (!rbuf) {
				err = -ENOMEM;
				goto out;
			}
			err = walk_read(w, rbuf, rbytes,
					(uint64_t)bb << KVJ_BB_SHIFT);
			if (err)
				goto out;
			stamps_ok = rec_unstamp(&r, rbuf);
			crc_ok = stamps_ok &&
				 kv_crc32c(0, rbuf + KVJ_REC_HDR_SIZE, r.len) ==
					 r.data_crc;
		}
		err = report_record(w, &r, crc_ok);
		if (err)
			goto out;
		if (r.type == KVJ_REC_CKPT) {
			if (w->in_ckpt && r.seq != w->cur_seq) {
				why = "checkpoint without commit record";
				goto damaged;
			}
			if (!w->in_ckpt) {
				w->in_ckpt = true;
				w->cur_seq = r.seq;
				w->sfill = 0;
				w->nr_parts = 0;
				w->first_lsn = r.lsn;
			}
			if (r.part_off != w->sfill) {
				why = "checkpoint piece out of order";
				goto damaged;
			}
			if (!stamps_ok) {
				why = "a block of the record is from an earlier pass";
				goto damaged;
			}
			if (!crc_ok) {
				why = "record payload checksum mismatch";
				goto damaged;
			}
			err = stream_append(w, &r, rbuf);
			if (err)
				goto out;
		} else if (r.type == KVJ_REC_COMMIT) {
			if (!w->in_ckpt || r.seq != w->cur_seq ||
			    r.ckpt_lsn != w->first_lsn ||
			    r.stream_len != w->sfill ||
			    kv_crc32c(0, w->sbuf, w->sfill) != r.stream_crc) {
				why = "commit record does not match its checkpoint";
				goto damaged;
			}
			/*
			 * Every byte of a checkpoint was reserved in the log
			 * before it was written, compressed or not: a larger
			 * claim in a header whose crc holds is corruption,
			 * never a torn write, and is not allocated.
			 */
			if (r.ulen > w->log_bytes) {
				err = report(
					w, KVJ_WALK_CORRUPT, r.lsn,
					"log record at lsn %u/%u: checkpoint seq %" PRIu64
					" claims %" PRIu64
					" bytes uncompressed, more than the %" PRIu64
					"-byte log holds: the log cannot be "
					"recovered (it was left untouched; the "
					"repair tool can zero it)",
					KVJ_LSN_CYCLE(r.lsn),
					KVJ_LSN_BLOCK(r.lsn), r.seq, r.ulen,
					w->log_bytes);
				if (!err)
					err = -EUCLEAN;
				goto out;
			}
			err = ckpt_parse(w, &r);
			if (err < 0)
				goto out;
			if (err) {
				why = "checkpoint contents do not parse";
				goto damaged;
			}
			w->in_ckpt = false;
			w->done_seq = r.seq;
			w->checkpoints++;
			w->end = lsn_advance(w, pos, r.nr_bb);
		} else {
			if (w->in_ckpt) {
				why = "checkpoint without commit record";
				goto damaged;
			}
			w->end = lsn_advance(w, pos, r.nr_bb);
		}
		pos = lsn_advance(w, pos, r.nr_bb);
	}
	/* an incomplete last checkpoint is a torn tail */
	w->torn = w->in_ckpt;
	err = 0;
	goto out;
damaged:
	err = damaged(w, pos, head, why);
out:
	kvfree(rbuf);
	return err;
}

/*
 * Find the head and the tail into h (and w->hw).  0, -EUCLEAN after
 * reporting, or another -errno.
 */
static int find_head(struct walk *w, struct kvj_walk_head *h)
{
	kvj_lsn_t tail;
	struct rec last;
	int err;

	memset(h, 0, sizeof(*h));
	h->log_bytes = w->log_bytes;
	err = scan_stamps(w);
	if (err)
		return err;
	err = find_last(w, &last);
	if (err < 0)
		return err;
	if (err) {
		/* no record was ever completed: at most a torn first write */
		if (w->hw > KVJ_LSN(2, 0)) {
			err = report(
				w, KVJ_WALK_CORRUPT, w->hw,
				"no log record is valid, yet log blocks claim "
				"cycle %u: the log is corrupt and cannot be "
				"recovered",
				KVJ_LSN_CYCLE(w->hw) - 1);
			return err ? err : -EUCLEAN;
		}
		h->state = KVJ_WALK_EMPTY;
		h->head_lsn = h->tail_lsn = KVJ_LSN(1, 0);
		return 0;
	}
	tail = last.tail_lsn;
	if (tail > last.lsn || KVJ_LSN_CYCLE(tail) == 0 ||
	    lsn_diff_bb(w, tail, w->hw) > w->log_bb ||
	    KVJ_LSN_BLOCK(tail) >= w->log_bb) {
		err = report(
			w, KVJ_WALK_CORRUPT, tail,
			"log tail %u/%u is not within the log before head "
			"%u/%u: the log is corrupt and cannot be recovered",
			KVJ_LSN_CYCLE(tail), KVJ_LSN_BLOCK(tail),
			KVJ_LSN_CYCLE(w->hw), KVJ_LSN_BLOCK(w->hw));
		return err ? err : -EUCLEAN;
	}
	h->state = last.type == KVJ_REC_UNMOUNT && tail == last.lsn &&
				   w->hw == lsn_advance(w, last.lsn, 1) ?
			   KVJ_WALK_CLEAN :
			   KVJ_WALK_DIRTY;
	h->head_lsn = w->hw;
	h->tail_lsn = tail;
	h->last_lsn = last.lsn;
	h->last_type = last.type;
	h->last_seq = last.seq;
	return 0;
}

/*
 * The whole walk: head and tail, every record, then the verdict.  Fills h
 * and w->end, w->torn, w->max_seq.
 */
static int walk_all(struct walk *w, struct kvj_walk_head *h)
{
	int err;

	err = find_head(w, h);
	if (err)
		return err;
	if (w->ops->head) {
		err = w->ops->head(w->priv, h);
		if (err)
			return err;
	}
	switch (h->state) {
	case KVJ_WALK_EMPTY:
		w->end = h->head_lsn;
		w->torn = w->hw > w->end;
		break;
	case KVJ_WALK_CLEAN:
	case KVJ_WALK_DIRTY:
		err = walk_records(w, h->tail_lsn, w->hw);
		break;
	}
	if (!err && w->torn)
		err = report(
			w, KVJ_WALK_TORN, w->end,
			"discarding the torn tail of the log from lsn %u/%u to "
			"%u/%u (an incomplete last checkpoint)",
			KVJ_LSN_CYCLE(w->end), KVJ_LSN_BLOCK(w->end),
			KVJ_LSN_CYCLE(w->hw), KVJ_LSN_BLOCK(w->hw));
	return err;
}

int kvj_log_walk(const struct kvj_io_ops *io, void *io_priv, uint64_t log_bytes,
		 const struct kvj_walk_ops *ops, void *priv)
{
	struct kvj_walk_head h;
	struct walk w;
	int err;

	if (!io || !io->read || !ops || log_bytes % KVJ_BB_SIZE ||
	    log_bytes < 64 * 1024 ||
	    (log_bytes >> KVJ_BB_SHIFT) >= (1ull << 31))
		return -EINVAL;
	walk_init(&w, io, io_priv, log_bytes, kvj_zstd_create(), ops, priv);
	if (!w.zstd)
		return -ENOMEM;
	err = walk_all(&w, &h);
	walk_fini(&w);
	kvj_zstd_destroy(w.zstd);
	return err;
}

const char *kvj_rec_type_name(uint32_t type)
{
	static const char *const names[] = {
		[KVJ_REC_CKPT] = "CKPT",
		[KVJ_REC_COMMIT] = "COMMIT",
		[KVJ_REC_UNMOUNT] = "UNMOUNT",
		[KVJ_REC_TAIL] = "TAIL",
	};

	return type < sizeof(names) / sizeof(names[0]) && names[type] ?
		       names[type] :
		       "?";
}

int kvj_walk_item_describe(const struct kvj_walk_item *it, char *out,
			   size_t outlen)
{
	const char *name = it->type == KVJ_ITEM_DONE ? "done" : "intent";
	struct kvj_intent_rec r;
	int err = kvj_intent_decode(it->type, it->delta, it->len, &r);

	if (err == -ENOENT)
		return err;
	if (err)
		snprintf(out, outlen, "%s, malformed (%u bytes)", name,
			 it->len);
	else if (it->type == KVJ_ITEM_DONE)
		snprintf(out, outlen, "done id %" PRIu64, r.id);
	else
		snprintf(out, outlen,
			 "intent id %" PRIu64 " subtype %u payload %u bytes",
			 r.id, r.subtype, r.len);
	return 0;
}

/* ---- recovery: the walk, then replay ---- */

struct rcv {
	struct kvj_log *log;
	unsigned items;
};

static const struct kvj_recover_ops *find_ops(struct kvj_log *log,
					      uint32_t type)
{
	unsigned i;

	for (i = 0; i < log->p.nr_recover; i++)
		if (log->p.recover[i].type == type)
			return &log->p.recover[i];
	return NULL;
}

static int rcv_head(void *priv, const struct kvj_walk_head *h)
{
	struct rcv *rc = priv;

	if (h->state == KVJ_WALK_DIRTY && rc->log->p.no_recovery) {
		kvj_report("the log is dirty and recovery was not allowed");
		return -EUCLEAN;
	}
	return 0;
}

static int rcv_problem(void *priv, enum kvj_walk_problem what, kvj_lsn_t lsn,
		       const char *msg)
{
	(void)priv;
	(void)lsn;
	kvj_report("%s", msg);
	return what == KVJ_WALK_CORRUPT ? -EUCLEAN : 0;
}

/*
 * First pass: every item must have somewhere to go; handlers that scan see
 * their deltas (only complete checkpoints are delivered, the same ones the
 * replay pass applies).
 */
static int rcv_check_item(void *priv, const struct kvj_walk_ckpt *c,
			  const struct kvj_walk_item *it)
{
	struct rcv *rc = priv;
	const struct kvj_recover_ops *ops = find_ops(rc->log, it->type);

	if (ops)
		return ops->scan ? ops->scan(ops->priv, it->delta, it->len,
					     c->lsn) :
				   0;
	if (it->type == KVJ_ITEM_INTENT || it->type == KVJ_ITEM_DONE)
		return 0;
	kvj_report("checkpoint at lsn %u/%u holds item type %u that no "
		   "recovery handler knows",
		   KVJ_LSN_CYCLE(c->lsn), KVJ_LSN_BLOCK(c->lsn), it->type);
	return -EUCLEAN;
}

static int rcv_replay_item(void *priv, const struct kvj_walk_ckpt *c,
			   const struct kvj_walk_item *it)
{
	struct rcv *rc = priv;
	const struct kvj_recover_ops *ops = find_ops(rc->log, it->type);
	int err;

	if (it->phase != (ops ? ops->phase : 0))
		return 0;
	if (ops)
		err = ops->replay(ops->priv, it->delta, it->len, c->lsn);
	else
		err = kvj_intent_recovered(rc->log, it->type, it->delta,
					   it->len);
	if (!err)
		rc->items++;
	return err;
}

static const struct kvj_walk_ops rcv_check_ops = {
	.head = rcv_head,
	.item = rcv_check_item,
	.problem = rcv_problem,
};

static const struct kvj_walk_ops rcv_replay_ops = {
	.item_phases = KVJ_RECOVER_PHASES,
	.item = rcv_replay_item,
	.problem = rcv_problem,
};

/*
 * Overwrite [from, to), a discarded tail, with fill records stamped with
 * the cycle each block had before the torn write (its LSN's cycle - 1),
 * so that none of it can be read as written in the current pass again.
 */
static int clear_stale(struct kvj_log *log, kvj_lsn_t from, kvj_lsn_t to)
{
	const uint32_t chunk = 128;
	uint8_t *buf = kvzalloc((size_t)chunk << KVJ_BB_SHIFT, 0);
	kvj_lsn_t p = from;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (p < to && !err) {
		uint32_t bb = KVJ_LSN_BLOCK(p), cyc = KVJ_LSN_CYCLE(p) - 1, i;
		uint64_t n = log->log_bb - bb, left;

		left = kvj_lsn_diff_bytes(log, p, to) >> KVJ_BB_SHIFT;
		if (n > left)
			n = left;
		if (n > chunk)
			n = chunk;
		for (i = 0; i < n; i++) {
			struct kvj_rec_hdr *h =
				(void *)(buf + ((size_t)i << KVJ_BB_SHIFT));

			memset(h, 0, KVJ_BB_SIZE);
			h->type = kvj_cpu_to_le32(KVJ_REC_FILL);
			h->cycle = kvj_cpu_to_le32(cyc);
			h->nr_bb = kvj_cpu_to_le32(1);
			h->lsn = kvj_cpu_to_le64(KVJ_LSN(cyc, bb + i));
			h->data_crc = kvj_cpu_to_le32(kv_crc32c(0, NULL, 0));
			kvj_rec_hdr_seal(h);
		}
		err = kvj_io_write(log, buf, (size_t)n << KVJ_BB_SHIFT,
				   (uint64_t)bb << KVJ_BB_SHIFT);
		bb += (uint32_t)n;
		p = bb == log->log_bb ? KVJ_LSN(cyc + 2, 0) :
					KVJ_LSN(cyc + 1, bb);
	}
	kvfree(buf);
	return err;
}

int kvj_recover(struct kvj_log *log)
{
	struct kvj_recovery_info *ri = &log->rinfo;
	struct rcv rc = { .log = log };
	struct kvj_walk_head h;
	kvj_lsn_t head, tail, end, hw;
	uint64_t max_seq;
	struct walk w;
	unsigned i;
	bool torn;
	int err;

	/* pass 1: the walk verifies everything, decides where the log ends */
	walk_init(&w, log->p.io, log->p.io_priv, log->p.log_bytes, log->zstd,
		  &rcv_check_ops, &rc);
	err = walk_all(&w, &h);
	walk_fini(&w);
	if (err)
		return err;
	memset(ri, 0, sizeof(*ri));
	head = h.head_lsn;
	tail = h.tail_lsn;
	if (h.state == KVJ_WALK_EMPTY) {
		ri->was_empty = ri->was_clean = true;
		ri->torn_tail_discarded = w.torn;
		if (w.torn)
			err = clear_stale(log, head, w.hw);
		if (!err && w.torn)
			err = kvj_io_flush(log);
		if (err)
			return err;
		goto done;
	}
	atomic_store(&log->cil.seq, h.last_seq + 1);
	if (h.state == KVJ_WALK_CLEAN) {
		ri->was_clean = true;
		tail = head;
		goto done;
	}
	end = w.end;
	torn = w.torn;
	hw = w.hw;
	max_seq = w.max_seq;

	/* pass 2: replay the complete checkpoints up to end */
	walk_init(&w, log->p.io, log->p.io_priv, log->p.log_bytes, log->zstd,
		  &rcv_replay_ops, &rc);
	err = walk_records(&w, tail, end);
	if (!err && w.torn)
		err = -EIO; /* changed under us between the phases */
	walk_fini(&w);
	for (i = 0; i < log->p.nr_recover && !err; i++)
		if (log->p.recover[i].finish)
			err = log->p.recover[i].finish(log->p.recover[i].priv);
	if (!err)
		err = kvj_io_flush(log);
	if (!err && torn)
		err = clear_stale(log, end, hw);
	if (!err && torn)
		err = kvj_io_flush(log);
	if (err)
		return err;
	if (max_seq >= atomic_load(&log->cil.seq))
		atomic_store(&log->cil.seq, max_seq + 1);
	ri->torn_tail_discarded = torn;
	ri->checkpoints_replayed = w.checkpoints;
	ri->items_replayed = rc.items;
	head = end;
	/* keep the replayed region pinned until intents are finished */
	log->recovery_tail = tail;
done:
	log->head_cycle = KVJ_LSN_CYCLE(head);
	log->head_bb = KVJ_LSN_BLOCK(head);
	kvj_head_publish_locked(log);
	log->tail_lsn = tail;
	log->durable_seq = atomic_load(&log->cil.seq) - 1;
	ri->head_lsn = head;
	ri->tail_lsn = tail;
	return 0;
}
