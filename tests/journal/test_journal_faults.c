// SPDX-License-Identifier: GPL-2.0
/*
 * Log damage and log space: a torn last checkpoint write is discarded with
 * the state before it recovered; a corrupt record in the middle (payload
 * or header) refuses recovery and leaves the image byte-for-byte
 * untouched; a small log wraps many times and runs full, with committers
 * waiting for the AIL to move the tail, and still recovers exactly.
 */
#include <stdatomic.h>

#include "tests/journal/jt.h"

#define LOGB (128 * 1024)

/* Change one byte of the image at off. */
static void poke(struct jt *t, uint64_t off)
{
	uint8_t c;

	jt_dev_open(t);
	CHECK(kv_dev_pread(t->dev, &c, 1, off) == 0);
	c ^= 0x5a;
	CHECK(kv_dev_pwrite(t->dev, &c, 1, off) == 0);
	CHECK(kv_dev_flush(t->dev) == 0);
	jt_dev_close(t);
}

static uint64_t head_bytes(struct jt *t)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(t->log, &st);
	return (uint64_t)KVJ_LSN_BLOCK(st.head_lsn) << KVJ_BB_SHIFT;
}

static void test_torn(bool big)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_recovery_info ri;
	struct kv_dev_fault f = { 0 };
	struct kvj_trans *tp;
	struct jt t;
	unsigned i, k;

	jt_create(&t, "torn", 32, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	jt_tx1(&t, 0, 64, 64, 0x11);
	CHECK(kvj_log_force(t.log, 0) == 0);
	CHECK(kvj_trans_alloc(t.log, 40000, 0, &tp) == 0);
	for (i = 1; i < (big ? 32u : 2u); i++) {
		jt_modify(tp, &t.blk[i], 64, 64, 0x22, true);
		/* incompressible: the record spans many blocks */
		for (k = 128; big && k < JT_BLK; k++)
			t.blk[i].data[k] = (uint8_t)rand();
		t.blk[i].dirty_map = 0xff;
	}
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	f.modes = KV_FAULT_TEAR;
	f.tear_write = kv_dev_nr_writes(t.dev) + 1;
	CHECK(kv_dev_set_fault(t.dev, &f) == 0);
	CHECK(kvj_log_force(t.log, 0) == 0);
	CHECK(kv_dev_crashed(t.dev));
	jt_log_crash(&t);
	jt_dev_close(&t);

	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean && ri.torn_tail_discarded);
	CHECK_EQ(ri.checkpoints_replayed, 1);
	jt_check_range(&t, 0, 64, 0x11);
	jt_check_range(&t, 1, 64, 0);
	/* the log is usable after the discarded tail */
	jt_tx1(&t, 2, 128, 64, 0x33);
	CHECK(kvj_log_force(t.log, 0) == 0);
	jt_log_crash(&t);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.torn_tail_discarded && ri.checkpoints_replayed == 1);
	jt_check_range(&t, 2, 128, 0x33);
	CHECK(kvj_log_close(t.log) == 0);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(ri.was_clean);
	CHECK(kvj_log_close(t.log) == 0);
	jt_check_range(&t, 0, 64, 0x11);
	jt_check_range(&t, 2, 128, 0x33);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_corrupt_middle(bool header)
{
	struct kvj_log_params p = { .no_threads = true };
	uint64_t first = 0;
	uint8_t *before, *after;
	size_t lb, la;
	struct jt t;
	unsigned i;

	jt_create(&t, "corrupt", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < 3; i++) {
		if (i == 1)
			first = head_bytes(&t);
		jt_tx1(&t, i, 64, 64, (uint8_t)(0x40 + i));
		CHECK(kvj_log_force(t.log, 0) == 0);
	}
	jt_log_crash(&t);
	jt_dev_close(&t);
	/* damage the second of three checkpoints */
	poke(&t, first + (header ? 40 : KVJ_REC_HDR_SIZE + 4));
	before = jt_slurp(t.path, &lb);

	jt_dev_open(&t);
	CHECK_EQ(jt_log_open(&t), -EUCLEAN);
	jt_dev_close(&t);
	after = jt_slurp(t.path, &la);
	CHECK_EQ(la, lb);
	CHECK(!memcmp(before, after, la));
	free(before);
	free(after);
	jt_remove(&t);
}

/* A corrupt non-zero block 0 is not an empty log. */
static void test_garbage_log(void)
{
	struct jt t;

	jt_create(&t, "garbage", 4, LOGB);
	poke(&t, 100);
	jt_dev_open(&t);
	CHECK_EQ(jt_log_open(&t), -EUCLEAN);
	jt_dev_close(&t);
	jt_remove(&t);
}

#define WRAP_THREADS 4
#define WRAP_NB 64

struct wrap_arg {
	struct jt *t;
	unsigned id;
	pthread_t th;
};

/* The head went round the log twice (group commit may batch a lot). */
static bool wrapped_twice(struct kvj_log *log)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(log, &st);
	return KVJ_LSN_CYCLE(st.head_lsn) >= 3;
}

static void *wrap_worker(void *arg)
{
	struct wrap_arg *a = arg;
	unsigned s = a->id * 77 + 5, n;

	for (n = 0;
	     n < 400 || (n < 40000 && (n % 64 || !wrapped_twice(a->t->log)));
	     n++) {
		struct kvj_trans *tp;
		unsigned b0, k;

		/* big reservations in a 64 KiB log: the log runs full */
		CHECK(kvj_trans_alloc(a->t->log, 20000, 0, &tp) == 0);
		s = s * 1103515245u + 12345u;
		b0 = (s >> 8) % (WRAP_NB / 2);
		for (k = 0; k < 2; k++) {
			/* two blocks, locked in index order */
			unsigned b = b0 + k * (WRAP_NB / 2);

			s = s * 1103515245u + 12345u;
			jt_modify(tp, &a->t->blk[b], 64 * (1 + (s >> 8) % 15),
				  64, (uint8_t)(s >> 16), true);
		}
		CHECK(kvj_trans_commit(tp, NULL) == 0);
		if (n % 8 == 7)
			CHECK(kvj_log_force(a->t->log, 0) == 0);
	}
	return NULL;
}

static void test_wrap_full(void)
{
	struct kvj_log_params p = { .push_interval_ms = 20 };
	struct wrap_arg a[WRAP_THREADS];
	static uint8_t want[WRAP_NB][JT_BLK];
	struct kvj_log_stats st;
	struct kvj_recovery_info ri;
	struct jt t;
	uint8_t buf[JT_BLK];
	unsigned i;

	jt_create(&t, "wrap", WRAP_NB, 64 * 1024);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < WRAP_THREADS; i++) {
		a[i].t = &t;
		a[i].id = i;
		CHECK(pthread_create(&a[i].th, NULL, wrap_worker, &a[i]) == 0);
	}
	for (i = 0; i < WRAP_THREADS; i++)
		pthread_join(a[i].th, NULL);
	CHECK(kvj_log_force(t.log, 0) == 0);
	kvj_log_get_stats(t.log, &st);
	printf("wrap: head %u/%u, %llu checkpoints, %llu grant waits, "
	       "%llu AIL pushes\n",
	       KVJ_LSN_CYCLE(st.head_lsn), KVJ_LSN_BLOCK(st.head_lsn),
	       (unsigned long long)st.checkpoints,
	       (unsigned long long)st.grant_waits,
	       (unsigned long long)st.ail_pushed);
	CHECK(KVJ_LSN_CYCLE(st.head_lsn) >= 3);
	CHECK(st.grant_waits > 0);
	CHECK(st.ail_pushed > 0);
	for (i = 0; i < WRAP_NB; i++)
		memcpy(want[i], t.blk[i].data, JT_BLK);
	/* crash with everything forced: recovery after many wraps is exact */
	jt_log_crash(&t);
	jt_dev_close(&t);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean && !ri.torn_tail_discarded);
	CHECK(kvj_log_close(t.log) == 0);
	for (i = 0; i < WRAP_NB; i++) {
		jt_read_block(&t, i, buf);
		CHECK(!memcmp(buf + 64, want[i] + 64, JT_BLK - 64));
	}
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_torn(false);
	test_torn(true);
	test_corrupt_middle(false);
	test_corrupt_middle(true);
	test_garbage_log();
	test_wrap_full();
	jt_fini();
	printf("journal faults: ok\n");
	return 0;
}
