// SPDX-License-Identifier: GPL-2.0
/*
 * One AIL pass (journal/ail.c ail_push_batch()) writes back up to
 * AIL_FLUSH_ITEMS items, dropping the AIL lock every AIL_BATCH items it
 * looks at, and then flushes once; items whose push has nothing to write
 * (KVJ_PUSH_CLEAN: written with another item, or a freed block) need no
 * flush of their own.  A flush after every 256 items bounded the AIL at
 * some 90 000 items a second, mostly waiting for flushes, while two
 * threads unlinking the files they had made waited for log space, and a
 * freed inode cluster's items were each followed by a flush of nothing.
 *
 * NI items (more than one AIL_BATCH), each logged once, are written back
 * by one kvj_ail_push_once() with one flush; logged again and clean, by
 * one with no flush; one dirty among clean ones, with one flush.
 */
#include "tests/journal/jt.h"
/* kvj_ail_push_once(): one pass, as the AIL thread makes */
#include "journal/log_priv.h"

#define NI 600
#define PER_TX 50

static struct jt t;
static unsigned flushes;
static bool clean[NI];
static unsigned writes;

struct citem {
	struct kvj_item item;
	unsigned idx;
	uint64_t val;
};

static struct citem items[NI];

static int count_flush(void *priv)
{
	flushes++;
	return jt_io_flush(priv);
}

static const struct kvj_io_ops count_io = {
	.read = jt_io_read,
	.write = jt_io_write,
	.flush = count_flush,
};

static uint32_t ci_size(struct kvj_item *lip, bool fresh)
{
	(void)lip;
	(void)fresh;
	return sizeof(uint64_t);
}

static uint32_t ci_format(struct kvj_item *lip, void *buf, bool fresh)
{
	(void)fresh;
	memcpy(buf, &((struct citem *)lip)->val, sizeof(uint64_t));
	return sizeof(uint64_t);
}

static void ci_release(struct kvj_item *lip, bool aborted)
{
	(void)lip;
	(void)aborted;
}

static int ci_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct citem *c = (struct citem *)lip;

	(void)lsn;
	if (kvj_item_pinned(lip))
		return KVJ_PUSH_PINNED;
	if (clean[c->idx])
		return KVJ_PUSH_CLEAN;
	writes++;
	return KVJ_PUSH_SUCCESS;
}

/* never replayed: every round ends with the AIL empty */
static const struct kvj_item_ops ci_ops = {
	.name = "citem",
	.type = KVJ_ITEM_CLIENT + 7,
	.size = ci_size,
	.format = ci_format,
	.release = ci_release,
	.push = ci_push,
};

static void log_all(void)
{
	struct kvj_trans *tp;
	unsigned i, j;

	for (i = 0; i < NI; i += PER_TX) {
		CHECK(kvj_trans_alloc(t.log, PER_TX * 64, 0, &tp) == 0);
		for (j = i; j < i + PER_TX; j++) {
			items[j].val++;
			kvj_trans_join(tp, &items[j].item);
			kvj_trans_log(tp, &items[j].item);
		}
		CHECK(kvj_trans_commit(tp, NULL) == 0);
	}
	CHECK(kvj_log_force(t.log, 0) == 0);
}

/* One pass; returns the flushes it issued. */
static unsigned push_once(unsigned want_removed)
{
	unsigned pinned, busy, pushed, before = flushes;
	struct kvj_log_stats st;
	int n = kvj_ail_push_once(t.log, &pinned, &busy, &pushed);

	CHECK_EQ(n, (int)want_removed);
	CHECK_EQ(pushed, want_removed);
	CHECK_EQ(pinned, 0);
	CHECK_EQ(busy, 0);
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.ail_items, 0);
	return flushes - before;
}

int main(void)
{
	struct kvj_log_params p = { .no_threads = true, .no_compress = true };
	unsigned i;

	jt_init(64u << 20);
	jt_create(&t, "ail_batch", 1, 1u << 20);
	jt_dev_open(&t);
	p.io = &count_io;
	p.io_priv = &t;
	p.log_bytes = t.log_bytes;
	CHECK(kvj_log_open(&p, &t.log) == 0);
	for (i = 0; i < NI; i++) {
		kvj_item_init(&items[i].item, t.log, &ci_ops);
		items[i].idx = i;
	}

	/* every item written, one flush for all */
	log_all();
	CHECK_EQ(push_once(NI), 1);
	CHECK_EQ(writes, NI);

	/* nothing written: nothing to flush */
	for (i = 0; i < NI; i++)
		clean[i] = true;
	log_all();
	CHECK_EQ(push_once(NI), 0);
	CHECK_EQ(writes, NI);

	/* one write among clean items: flushed before the tail passes it */
	clean[NI / 2] = false;
	log_all();
	CHECK_EQ(push_once(NI), 1);
	CHECK_EQ(writes, NI + 1);

	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	return 0;
}
