// SPDX-License-Identifier: GPL-2.0
/*
 * Intents: an intent logged without its done is finished by recovery
 * (exactly once: recovering again does not redo it); an intent whose done
 * was logged is not; a finished intent stops pinning the log tail.
 * NOFS: inside a transaction an allocation that exhausts the budget never
 * enters the FS shrinker, outside it does.
 */
#include "tests/journal/jt.h"

#define LOGB (128 * 1024)
#define SUBTYPE 7

struct op {
	uint32_t blk;
	uint8_t val;
	uint8_t pad[3];
};

static unsigned recovered_calls;

/* Finish the "operation": set the block's range, log the done. */
static int op_recover(void *priv, struct kvj_log *log, uint64_t id,
		      const void *data, uint32_t len)
{
	struct jt *t = priv;
	const struct op *o = data;
	struct kvj_trans *tp;
	struct tblk *b;

	CHECK_EQ(len, sizeof(*o));
	CHECK(o->blk < t->nb);
	b = &t->blk[o->blk];
	kvj_item_init(&b->item, log, &tblk_ops);
	CHECK(kvj_trans_alloc(log, 4096, 0, &tp) == 0);
	jt_modify(tp, b, 192, 64, o->val, true);
	CHECK(kvj_intent_done_id(tp, id) == 0);
	recovered_calls++;
	return kvj_trans_commit(tp, NULL);
}

static void test_intents(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_recovery_info ri;
	struct kvj_log_stats st;
	struct kvj_intent *ip, *ip2;
	struct kvj_trans *tp;
	struct op o1 = { .blk = 3, .val = 0x77 },
		  o2 = { .blk = 4, .val = 0x88 };
	struct jt t;

	jt_create(&t, "intent", 8, LOGB);
	t.iops.subtype = SUBTYPE;
	t.iops.recover = op_recover;
	t.iops.priv = &t;
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);

	/* op 1: intent only (the daemon dies half-way) */
	CHECK(kvj_trans_alloc(t.log, 4096, 1, &tp) == 0);
	CHECK(kvj_intent_log(tp, SUBTYPE, &o1, sizeof(o1), &ip) == 0);
	jt_modify(tp, &t.blk[1], 64, 64, 0x11, true);
	CHECK(kvj_trans_commit(tp, NULL) == 0);

	/* op 2: intent, then the work and the done in a rolled transaction */
	CHECK(kvj_trans_alloc(t.log, 4096, 1, &tp) == 0);
	CHECK(kvj_intent_log(tp, SUBTYPE, &o2, sizeof(o2), &ip2) == 0);
	CHECK(kvj_trans_roll(&tp, NULL) == 0);
	jt_modify(tp, &t.blk[4], 192, 64, 0x88, true);
	CHECK(kvj_intent_done(tp, ip2) == 0);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(kvj_log_force(t.log, 0) == 0);
	(void)ip;
	jt_log_crash(&t);
	jt_dev_close(&t);

	jt_dev_open(&t);
	recovered_calls = 0;
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK_EQ(recovered_calls, 1);
	CHECK_EQ(ri.intents_finished, 1);
	jt_check_range(&t, 3, 192, 0x77);
	jt_check_range(&t, 4, 192, 0x88);
	jt_check_range(&t, 1, 64, 0x11);
	jt_log_crash(&t);
	/* recovering again finds nothing left to do */
	recovered_calls = 0;
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK_EQ(recovered_calls, 0);
	CHECK(kvj_log_close(t.log) == 0);

	/* a finished intent no longer pins the tail; an open one does */
	CHECK(jt_log_open(&t) == 0);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	CHECK(kvj_intent_log(tp, SUBTYPE, &o1, sizeof(o1), &ip) == 0);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(kvj_log_force(t.log, 0) == 0);
	jt_tx1(&t, 2, 64, 64, 0x22);
	CHECK(kvj_log_drain(t.log) == 0);
	kvj_log_get_stats(t.log, &st);
	CHECK(st.tail_lsn < st.head_lsn);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	CHECK(kvj_intent_done(tp, ip) == 0);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(kvj_log_drain(t.log) == 0);
	kvj_log_get_stats(t.log, &st);
	CHECK(st.tail_lsn == st.head_lsn);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_nofs(void)
{
	void *p[4096];
	unsigned n = 0, i;
	uint64_t calls;
	struct kvj_trans *tp;
	struct jt t;

	jt_create(&t, "nofs", 4, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	jt_modify(tp, &t.blk[0], 64, 64, 1, true);
	calls = jt_fs_scans_here;
	/* exhaust the budget inside the transaction */
	while (n < 4096 && (p[n] = kvmalloc(256 * 1024, KV_NOWARN)))
		n++;
	CHECK(n < 4096);
	CHECK_EQ(jt_fs_scans_here, calls);
	for (i = 0; i < n; i++)
		kvfree(p[i]);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	/* the same outside a transaction asks the FS shrinker itself */
	n = 0;
	while (n < 4096 && (p[n] = kvmalloc(256 * 1024, KV_NOWARN)))
		n++;
	CHECK(n < 4096);
	CHECK(jt_fs_scans_here > calls);
	for (i = 0; i < n; i++)
		kvfree(p[i]);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(32 << 20);
	test_intents();
	test_nofs();
	jt_fini();
	printf("journal intents and NOFS: ok\n");
	return 0;
}
