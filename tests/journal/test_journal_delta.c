// SPDX-License-Identifier: GPL-2.0
/*
 * Deltas through a checkpoint, byte for byte.  A relogged entry's delta
 * buffer: an item relogged in one context finds in its buffer what its
 * previous format() wrote there (the contract of kvj_item_ops.format),
 * also after the delta outgrew the buffer it was allocated with and moved
 * to a larger one.  A checkpoint whose stream is larger than the record
 * buffer it is compressed through (journal/push.c) is several zstd
 * frames, with deltas split across them, and comes back whole.
 * A checkpoint's deltas replay in the order of their latest commits.  The
 * item type here appends bytes to its delta and, on a relog, formats only
 * the bytes appended since.
 */
#include "journal/errortag.h"
#include "tests/journal/jt.h"

#define LOGB (4 * 1024 * 1024)
#define APP_TYPE (KVJ_ITEM_CLIENT + 2)
#define APP_MAX (24 * 1024)
#define NR_APP 32

/* An item's delta starts with its index in apps[]. */
struct app {
	struct kvj_item item;
	uint8_t data[APP_MAX];
	uint32_t len; /* bytes appended since the last write-back */
	uint32_t formatted; /* of which in this context's delta */
	/* what recovery replayed */
	uint8_t replayed[APP_MAX];
	uint32_t replayed_len;
	unsigned nr_replayed;
};

static struct app apps[NR_APP];
/* the items in the order recovery replayed them */
static unsigned replay_order[NR_APP], nr_replay_order;

static uint32_t app_size(struct kvj_item *lip, bool fresh)
{
	(void)fresh;
	return ((struct app *)lip)->len;
}

static uint32_t app_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct app *a = (struct app *)lip;

	if (fresh)
		a->formatted = 0;
	memcpy((uint8_t *)buf + a->formatted, a->data + a->formatted,
	       a->len - a->formatted);
	a->formatted = a->len;
	return a->len;
}

static void app_release(struct kvj_item *lip, bool aborted)
{
	(void)lip;
	(void)aborted;
}

static int app_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	(void)lsn;
	if (kvj_item_pinned(lip))
		return KVJ_PUSH_PINNED;
	return KVJ_PUSH_SUCCESS;
}

static const struct kvj_item_ops app_ops = {
	.name = "append",
	.type = APP_TYPE,
	.size = app_size,
	.format = app_format,
	.release = app_release,
	.push = app_push,
};

static int app_replay(void *priv, const void *delta, uint32_t len,
		      kvj_lsn_t lsn)
{
	struct app *a;
	uint32_t idx;

	(void)priv;
	(void)lsn;
	CHECK(len >= sizeof(idx) && len <= APP_MAX);
	memcpy(&idx, delta, sizeof(idx));
	CHECK(idx < NR_APP);
	a = &apps[idx];
	replay_order[nr_replay_order++ % NR_APP] = idx;
	memcpy(a->replayed, delta, len);
	a->replayed_len = len;
	a->nr_replayed++;
	return 0;
}

static int app_open(struct jt *t, struct kvj_log **logp)
{
	struct kvj_recover_ops rops = {
		.type = APP_TYPE,
		.replay = app_replay,
	};
	struct kvj_log_params p = {
		.io = &jt_io,
		.io_priv = t,
		.log_bytes = t->log_bytes,
		.recover = &rops,
		.nr_recover = 1,
		.no_threads = true,
	};
	unsigned i;
	int err;

	for (i = 0; i < NR_APP; i++) {
		apps[i].replayed_len = 0;
		apps[i].nr_replayed = 0;
	}
	nr_replay_order = 0;
	err = kvj_log_open(&p, logp);
	if (err)
		return err;
	for (i = 0; i < NR_APP; i++) {
		memset(&apps[i].item, 0, sizeof(apps[i].item));
		kvj_item_init(&apps[i].item, *logp, &app_ops);
	}
	return 0;
}

/* Append n bytes to item idx (a byte pattern, or zeros), one transaction. */
static uint64_t app_append(struct kvj_log *log, unsigned idx, uint32_t n,
			   bool zeros)
{
	struct app *a = &apps[idx];
	struct kvj_trans *tp;
	uint64_t seq;
	uint32_t i;

	CHECK(a->len + n <= APP_MAX);
	CHECK(kvj_trans_alloc(log, 2 * APP_MAX, 0, &tp) == 0);
	kvj_trans_join(tp, &a->item);
	for (i = 0; i < n; i++)
		a->data[a->len + i] =
			zeros ? 0 : (uint8_t)((a->len + i) * 7 + idx + n);
	if (!a->len)
		memcpy(a->data, &idx, sizeof(idx));
	a->len += n;
	kvj_trans_log(tp, &a->item);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	return seq;
}

/*
 * Crash after forcing seq (one checkpoint, compressed if said so),
 * recover, check every item.
 */
static void app_crash_check(struct jt *t, struct kvj_log *log, uint64_t seq,
			    unsigned nr, bool compressed)
{
	struct kvj_log_stats st;
	unsigned i;

	CHECK(kvj_log_force(log, seq) == 0);
	kvj_log_get_stats(log, &st);
	CHECK_EQ(st.checkpoints, 1);
	CHECK(!compressed || st.stream_len < st.stream_ulen);
	kvj_log_shutdown(log, "test crash");
	CHECK(kvj_log_close(log) == 0);

	CHECK(app_open(t, &log) == 0);
	for (i = 0; i < nr; i++) {
		CHECK_EQ(apps[i].nr_replayed, 1);
		CHECK_EQ(apps[i].replayed_len, apps[i].len);
		CHECK(memcmp(apps[i].replayed, apps[i].data, apps[i].len) == 0);
	}
	CHECK(kvj_log_close(log) == 0);
}

/* Appends of growing sizes, each its own transaction, in one context. */
static void test_relog_grows(void)
{
	struct kvj_log_stats st;
	struct kvj_log *log;
	struct jt t;
	uint64_t seq = 0;
	uint32_t n;

	jt_create(&t, "relog", 1, LOGB);
	jt_dev_open(&t);
	memset(apps, 0, sizeof(apps));
	CHECK(app_open(&t, &log) == 0);
	for (n = 4; apps[0].len + n <= APP_MAX; n *= 2)
		seq = app_append(log, 0, n, false);
	kvj_log_get_stats(log, &st);
	CHECK(st.relogs >= 10);
	app_crash_check(&t, log, seq, 1, true);
	jt_dev_close(&t);
	jt_remove(&t);
}

/*
 * Some 700 KiB of stream, every item's delta half pattern, half zeros (so
 * that it compresses), in one checkpoint.
 */
static void test_stream_pieces(void)
{
	struct kvj_log *log;
	struct jt t;
	uint64_t seq = 0;
	unsigned i;

	jt_create(&t, "pieces", 1, LOGB);
	jt_dev_open(&t);
	memset(apps, 0, sizeof(apps));
	CHECK(app_open(&t, &log) == 0);
	for (i = 0; i < NR_APP; i++) {
		app_append(log, i, APP_MAX / 2 - 3 * i, false);
		seq = app_append(log, i, APP_MAX / 2, true);
	}
	app_crash_check(&t, log, seq, NR_APP, true);
	jt_dev_close(&t);
	jt_remove(&t);
}

/*
 * Items committed 0, 1, ..., 7, then 0, 2, 4 and 6 relogged: the stream
 * holds 1, 3, 5, 7, 0, 2, 4, 6.  Over a context of a few commits (the
 * push's count per order), and with 7 relogged 64 times before the second
 * round, over one of a few entries among many commits (its comparison
 * sort); both again with no memory for the push's array (the merge sort
 * of its list).
 */
static void test_stream_order(void)
{
	static const unsigned want[8] = { 1, 3, 5, 7, 0, 2, 4, 6 };
	struct kvj_log *log;
	struct jt t;
	unsigned i, pass;
	uint64_t seq = 0;

	for (pass = 0; pass < 4; pass++) {
		bool nomem = pass >= 2;

		jt_create(&t, "order", 1, LOGB);
		jt_dev_open(&t);
		memset(apps, 0, sizeof(apps));
		CHECK(app_open(&t, &log) == 0);
		for (i = 0; i < 8; i++)
			app_append(log, i, 16, false);
		for (i = 0; i < 64 * (pass & 1); i++)
			app_append(log, 7, 16, false);
		for (i = 0; i < 8; i += 2)
			seq = app_append(log, i, 16, false);
		if (nomem)
			CHECK(kvj_errtag_set(KVJ_ERRTAG_PUSH_SORT_NOMEM, 0, 1,
					     0) == 0);
		app_crash_check(&t, log, seq, 8, false);
		CHECK(!nomem ||
		      kvj_errtag_hits(KVJ_ERRTAG_PUSH_SORT_NOMEM) == 1);
		kvj_errtag_clear_all();
		CHECK_EQ(nr_replay_order, 8);
		for (i = 0; i < 8; i++)
			CHECK_EQ(replay_order[i], want[i]);
		jt_dev_close(&t);
		jt_remove(&t);
	}
}

int main(void)
{
	jt_init(64 << 20);
	test_relog_grows();
	test_stream_pieces();
	test_stream_order();
	jt_fini();
	printf("journal delta: ok\n");
	return 0;
}
