// SPDX-License-Identifier: GPL-2.0
/*
 * A relogged entry's delta buffer: an item relogged in one context finds
 * in its buffer what its previous format() wrote there (the contract of
 * kvj_item_ops.format), also after the delta outgrew the buffer it was
 * allocated with and moved to a larger one, and recovery replays the
 * whole of it.  The item type here appends bytes to its delta and, on a
 * relog, formats only the bytes appended since.
 */
#include "tests/journal/jt.h"

#define LOGB (256 * 1024)
#define APP_TYPE (KVJ_ITEM_CLIENT + 2)
#define APP_MAX 4096

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
	struct app *a = priv;

	(void)lsn;
	CHECK(len <= APP_MAX);
	memcpy(a->replayed, delta, len);
	a->replayed_len = len;
	a->nr_replayed++;
	return 0;
}

static int app_open(struct jt *t, struct app *a, struct kvj_log **logp)
{
	struct kvj_recover_ops rops = {
		.type = APP_TYPE,
		.replay = app_replay,
		.priv = a,
	};
	struct kvj_log_params p = {
		.io = &jt_io,
		.io_priv = t,
		.log_bytes = t->log_bytes,
		.recover = &rops,
		.nr_recover = 1,
		.no_threads = true,
	};

	return kvj_log_open(&p, logp);
}

/* Appends of growing sizes, each its own transaction, in one context. */
static void test_relog_grows(void)
{
	static struct app a;
	struct kvj_log_stats st;
	struct kvj_log *log;
	struct kvj_trans *tp;
	struct jt t;
	uint64_t seq = 0;
	uint32_t i, n;

	jt_create(&t, "relog", 1, LOGB);
	jt_dev_open(&t);
	memset(&a, 0, sizeof(a));
	CHECK(app_open(&t, &a, &log) == 0);
	kvj_item_init(&a.item, log, &app_ops);
	for (n = 1; a.len + n <= APP_MAX; n *= 2) {
		CHECK(kvj_trans_alloc(log, 2 * APP_MAX, 0, &tp) == 0);
		kvj_trans_join(tp, &a.item);
		for (i = 0; i < n; i++)
			a.data[a.len + i] = (uint8_t)(a.len + i * 7 + n);
		a.len += n;
		kvj_trans_log(tp, &a.item);
		CHECK(kvj_trans_commit(tp, &seq) == 0);
	}
	kvj_log_get_stats(log, &st);
	CHECK(st.relogs >= 10);
	CHECK(kvj_log_force(log, seq) == 0);
	kvj_log_get_stats(log, &st);
	CHECK_EQ(st.checkpoints, 1);
	kvj_log_shutdown(log, "test crash");
	CHECK(kvj_log_close(log) == 0);

	CHECK(app_open(&t, &a, &log) == 0);
	CHECK_EQ(a.nr_replayed, 1);
	CHECK_EQ(a.replayed_len, a.len);
	CHECK(memcmp(a.replayed, a.data, a.len) == 0);
	CHECK(kvj_log_close(log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_relog_grows();
	jt_fini();
	printf("journal relog: ok\n");
	return 0;
}
