// SPDX-License-Identifier: GPL-2.0
/*
 * kvj_log_walk(), the read-only walker kvfs-logprint and recovery share,
 * over a small log that wrapped with the tail moving, its live part
 * crossing the end of the region: records are reported contiguous from
 * the tail to the head, each checkpoint's items
 * follow it, the walk never writes (its I/O ops fail the test on a write
 * or flush), a callback's error stops it, and recovery then replays
 * exactly the checkpoints and items the walk reported, from the same tail
 * to the same head.  Also an empty and a clean log.
 */
#include "journal/logwalk.h"
#include "tests/journal/jt.h"

#define NB 32
#define LOGB (64 * 1024)

struct seen {
	struct kvj_walk_head h;
	unsigned heads, records, ckpts, items, problems;
	unsigned ckpt_items; /* items expected for the current checkpoint */
	unsigned next_index;
	kvj_lsn_t next_lsn; /* where the next record must start */
	uint64_t log_bb;
	uint64_t ckpt_seq;
	int stop_at_record; /* return -EINTR from this record (1-based) */
};

static int ro_read(void *priv, void *buf, size_t len, uint64_t off)
{
	return kv_dev_pread(((struct jt *)priv)->dev, buf, len, off);
}

static int ro_write(void *priv, const void *buf, size_t len, uint64_t off)
{
	(void)priv;
	(void)buf;
	(void)len;
	(void)off;
	CHECK(!"the walk wrote");
	return -EROFS;
}

static int ro_flush(void *priv)
{
	(void)priv;
	CHECK(!"the walk flushed");
	return -EROFS;
}

static const struct kvj_io_ops ro_io = {
	.read = ro_read,
	.write = ro_write,
	.flush = ro_flush,
};

static int on_head(void *priv, const struct kvj_walk_head *h)
{
	struct seen *s = priv;

	s->heads++;
	s->h = *h;
	s->next_lsn = h->tail_lsn;
	return 0;
}

static int on_record(void *priv, const struct kvj_walk_rec *r)
{
	struct seen *s = priv;
	uint64_t bb;

	s->records++;
	CHECK(s->ckpt_items == s->next_index); /* the last ckpt is complete */
	CHECK_EQ(r->lsn, s->next_lsn);
	CHECK(r->crc_ok);
	CHECK(r->nr_bb > 0);
	CHECK(r->tail_lsn <= r->lsn);
	bb = KVJ_LSN_BLOCK(r->lsn) + (uint64_t)r->nr_bb;
	s->next_lsn = bb == s->log_bb ? KVJ_LSN(KVJ_LSN_CYCLE(r->lsn) + 1, 0) :
					KVJ_LSN(KVJ_LSN_CYCLE(r->lsn), bb);
	CHECK(bb <= s->log_bb);
	if ((int)s->records == s->stop_at_record)
		return -EINTR;
	return 0;
}

static int on_ckpt(void *priv, const struct kvj_walk_ckpt *c)
{
	struct seen *s = priv;

	CHECK(s->ckpt_items == s->next_index);
	CHECK(c->seq > s->ckpt_seq);
	CHECK(c->lsn < c->commit_lsn);
	CHECK(c->nr_parts >= 1);
	CHECK(c->nr_items >= 1);
	CHECK(c->comp == KVJ_COMP_ZSTD ? c->stream_len < c->ulen :
					 c->stream_len == c->ulen);
	s->ckpt_seq = c->seq;
	s->ckpts++;
	s->ckpt_items = c->nr_items;
	s->next_index = 0;
	return 0;
}

static int on_item(void *priv, const struct kvj_walk_ckpt *c,
		   const struct kvj_walk_item *it)
{
	struct seen *s = priv;
	const struct jt_delta *d = it->delta;

	CHECK_EQ(c->seq, s->ckpt_seq);
	CHECK_EQ(it->index, s->next_index);
	s->next_index++;
	s->items++;
	CHECK_EQ(it->type, JT_ITEM_TYPE);
	CHECK(it->len >= sizeof(*d) && d->idx < NB);
	CHECK_EQ(it->len, sizeof(*d) + __builtin_popcount(d->map) * JT_CHUNK);
	return 0;
}

static int on_problem(void *priv, enum kvj_walk_problem what, kvj_lsn_t lsn,
		      const char *msg)
{
	struct seen *s = priv;

	fprintf(stderr, "problem %d at %u/%u: %s\n", (int)what,
		KVJ_LSN_CYCLE(lsn), KVJ_LSN_BLOCK(lsn), msg);
	s->problems++;
	return 0;
}

static const struct kvj_walk_ops ops = {
	.head = on_head,
	.record = on_record,
	.ckpt = on_ckpt,
	.item = on_item,
	.problem = on_problem,
};

/* One transaction changing two blocks. */
static void tx(struct jt *t, unsigned n)
{
	struct kvj_trans *tp;

	CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
	jt_modify(tp, &t->blk[n % (NB / 2)], 64 * (1 + n % 7), 64, (uint8_t)n,
		  true);
	jt_modify(tp, &t->blk[(n * 7 + 3) % (NB / 2) + NB / 2], 512, 256,
		  (uint8_t)(n >> 3), true);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
}

static int walk(struct jt *t, struct seen *s, int stop_at_record)
{
	memset(s, 0, sizeof(*s));
	s->log_bb = t->log_bytes >> KVJ_BB_SHIFT;
	s->stop_at_record = stop_at_record;
	return kvj_log_walk(&ro_io, t, t->log_bytes, &ops, s);
}

int main(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_recovery_info ri;
	struct kvj_log_stats st;
	struct seen s, s2;
	uint64_t log_bb = LOGB >> KVJ_BB_SHIFT;
	uint32_t cycle;
	struct jt t;
	unsigned n;

	jt_init(64 << 20);
	jt_create(&t, "logwalk", NB, LOGB);
	jt_dev_open(&t);
	CHECK_EQ(kvj_log_walk(&ro_io, &t, t.log_bytes + 1, &ops, &s), -EINVAL);
	CHECK_EQ(kvj_log_walk(&ro_io, &t, 32 * 1024, &ops, &s), -EINVAL);

	/* never written */
	CHECK_EQ(walk(&t, &s, 0), 0);
	CHECK(s.heads == 1 && s.h.state == KVJ_WALK_EMPTY);
	CHECK_EQ(s.h.head_lsn, KVJ_LSN(1, 0));
	CHECK_EQ(s.h.tail_lsn, KVJ_LSN(1, 0));
	CHECK(s.records == 0 && s.ckpts == 0 && s.problems == 0);

	/*
	 * A log that wraps with the tail following the head (drains), then
	 * no write-back while the head crosses the end of the region once
	 * more: the live log runs from one cycle into the next.  Then a crash.
	 */
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (n = 0;; n++) {
		tx(&t, n);
		if (n % 2 == 1)
			CHECK(kvj_log_force(t.log, 0) == 0);
		if (n % 8 == 7)
			CHECK(kvj_log_drain(t.log) == 0);
		kvj_log_get_stats(t.log, &st);
		if (KVJ_LSN_CYCLE(st.head_lsn) >= 2 &&
		    KVJ_LSN_BLOCK(st.head_lsn) > log_bb / 2)
			break;
	}
	CHECK(kvj_log_drain(t.log) == 0);
	cycle = KVJ_LSN_CYCLE(st.head_lsn);
	for (n++; KVJ_LSN_CYCLE(st.head_lsn) == cycle ||
		  KVJ_LSN_BLOCK(st.head_lsn) < 8;
	     n++) {
		tx(&t, n);
		CHECK(kvj_log_force(t.log, 0) == 0);
		kvj_log_get_stats(t.log, &st);
	}
	jt_log_crash(&t);

	CHECK_EQ(walk(&t, &s, 0), 0);
	printf("wrapped: head %u/%u tail %u/%u, %u records, %u checkpoints, "
	       "%u items\n",
	       KVJ_LSN_CYCLE(s.h.head_lsn), KVJ_LSN_BLOCK(s.h.head_lsn),
	       KVJ_LSN_CYCLE(s.h.tail_lsn), KVJ_LSN_BLOCK(s.h.tail_lsn),
	       s.records, s.ckpts, s.items);
	CHECK(s.heads == 1 && s.h.state == KVJ_WALK_DIRTY);
	CHECK_EQ(s.h.head_lsn, st.head_lsn);
	/* the tail moved, and the walk crosses the end of the region */
	CHECK_EQ(KVJ_LSN_CYCLE(s.h.tail_lsn), cycle);
	CHECK_EQ(KVJ_LSN_CYCLE(s.h.head_lsn), cycle + 1);
	CHECK(KVJ_LSN_BLOCK(s.h.tail_lsn) > log_bb / 2);
	CHECK_EQ(s.next_lsn, s.h.head_lsn); /* records reach the head */
	CHECK(s.ckpt_items == s.next_index);
	CHECK(s.ckpts > 0 && s.items >= s.ckpts && s.problems == 0);

	/* the same again; a callback's error stops the walk */
	CHECK_EQ(walk(&t, &s2, 0), 0);
	CHECK(s2.records == s.records && s2.ckpts == s.ckpts &&
	      s2.items == s.items);
	CHECK_EQ(walk(&t, &s2, 2), -EINTR);
	CHECK_EQ(s2.records, 2);

	/* recovery replays what the walk reported */
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean && !ri.torn_tail_discarded);
	CHECK_EQ(ri.checkpoints_replayed, s.ckpts);
	CHECK_EQ(ri.items_replayed, s.items);
	CHECK_EQ(ri.tail_lsn, s.h.tail_lsn);
	CHECK_EQ(ri.head_lsn, s.h.head_lsn);
	CHECK(kvj_log_close(t.log) == 0);

	/* clean: one unmount record naming itself */
	CHECK_EQ(walk(&t, &s, 0), 0);
	CHECK(s.h.state == KVJ_WALK_CLEAN);
	CHECK_EQ(s.records, 1);
	CHECK_EQ(s.h.last_type, KVJ_REC_UNMOUNT);
	CHECK_EQ(s.h.tail_lsn, s.h.last_lsn);
	CHECK_EQ(s.next_lsn, s.h.head_lsn);
	CHECK(s.ckpts == 0 && s.problems == 0);

	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	printf("logwalk: ok\n");
	return 0;
}
