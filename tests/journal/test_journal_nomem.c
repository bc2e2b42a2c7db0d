// SPDX-License-Identifier: GPL-2.0
/*
 * A log write or flush that fails for want of memory (-ENOMEM: the host's
 * page cache under pressure, or the device layer's own allocations) is
 * retried, as metadata write-back retries it; only a real I/O error shuts
 * the log down.  The log_write_fail and log_flush_fail tags
 * (journal/errortag.h) make the log's writes and flushes fail N times:
 *
 * ckpt_write: a checkpoint's record writes fail: the force still returns
 *             0, the log is up, and after a crash recovery replays the
 *             checkpoint (no write-back: the AIL does not run).
 * ckpt_flush: the same with the flush after the records.
 * ail_flush:  the flush after an AIL write-back pass fails: the items stay
 *             in the AIL and a later pass removes them; the log drains.
 * threads:    the push thread and the AIL thread meet the failures on
 *             their own (commits from two threads, a force, a drain).
 * eio:        -EIO from the same points shuts the log down at once (not
 *             retried); a checkpoint whose records failed is not recovered.
 */
#include "journal/errortag.h"
#include "tests/journal/jt.h"

#define LOGB (256 * 1024)
#define FAILS 3

static void arm(enum kvj_errtag tag, uint64_t value)
{
	CHECK(kvj_errtag_set(tag, 0, 1, FAILS) == 0);
	CHECK(kvj_errtag_set_value(tag, value) == 0);
}

static void disarm(void)
{
	kvj_errtag_clear_all();
}

/* Reopen after a crash: blocks 0..n-1 hold val at 64, by replay. */
static void crash_and_check(struct jt *t, unsigned n, uint8_t val,
			    bool replayed)
{
	struct kvj_recovery_info ri;
	unsigned i;

	jt_log_crash(t);
	CHECK(jt_log_open(t) == 0);
	kvj_log_recovery_info(t->log, &ri);
	CHECK(!ri.was_clean);
	if (replayed)
		CHECK(ri.checkpoints_replayed >= 1);
	for (i = 0; i < n; i++)
		jt_check_range(t, i, 64, val);
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
}

/* One checkpoint of blocks 0..3 whose write or flush fails FAILS times. */
static void test_ckpt(enum kvj_errtag tag)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_log_stats st;
	struct jt t;
	unsigned i;

	jt_create(&t, "nomem", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < 4; i++)
		jt_tx1(&t, i, 64, 64, 0x40 + (uint8_t)tag);
	arm(tag, 0);
	CHECK_EQ(kvj_log_force(t.log, 0), 0);
	CHECK_EQ(kvj_errtag_hits(tag), FAILS);
	disarm();
	CHECK(!kvj_log_is_shutdown(t.log));
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.write_retries, FAILS);
	CHECK_EQ(st.checkpoints, 1);
	/* the log goes on: one more transaction, durable */
	jt_tx1(&t, 4, 64, 64, 0x40 + (uint8_t)tag);
	CHECK_EQ(kvj_log_force(t.log, 0), 0);
	crash_and_check(&t, 5, 0x40 + (uint8_t)tag, true);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_ail_flush(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_log_stats st;
	struct jt t;
	unsigned i;

	jt_create(&t, "nomem-ail", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < 4; i++)
		jt_tx1(&t, i, 128, 64, 0x51);
	CHECK_EQ(kvj_log_force(t.log, 0), 0);
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.ail_items, 4);
	arm(KVJ_ERRTAG_LOG_FLUSH_FAIL, 0);
	CHECK_EQ(kvj_log_drain(t.log), 0);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_LOG_FLUSH_FAIL), FAILS);
	disarm();
	CHECK(!kvj_log_is_shutdown(t.log));
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.ail_items, 0);
	CHECK_EQ(st.write_retries, FAILS);
	/* written back in place: a clean close, the blocks hold it */
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	for (i = 0; i < 4; i++)
		jt_check_range(&t, i, 128, 0x51);
	jt_dev_close(&t);
	jt_remove(&t);
}

struct committer {
	struct jt *t;
	unsigned first;
};

static void *commit_fn(void *arg)
{
	struct committer *c = arg;
	unsigned r, i;

	for (r = 0; r < 20; r++) {
		for (i = c->first; i < c->first + 4; i++)
			jt_tx1(c->t, i, 64, 64, (uint8_t)(0x60 + r));
		/* the push thread's 5 ms timer checkpoints some rounds */
		usleep(2000);
	}
	return NULL;
}

static void test_threads(void)
{
	struct kvj_log_params p = { .push_interval_ms = 5 };
	struct kvj_log_stats st;
	struct committer c[2];
	pthread_t th[2];
	struct jt t;
	unsigned i;

	jt_create(&t, "nomem-thr", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	CHECK(kvj_errtag_set(KVJ_ERRTAG_LOG_WRITE_FAIL, 0, 2, 10) == 0);
	CHECK(kvj_errtag_set(KVJ_ERRTAG_LOG_FLUSH_FAIL, 0, 2, 10) == 0);
	for (i = 0; i < 2; i++) {
		c[i].t = &t;
		c[i].first = 4 * i;
		CHECK(pthread_create(&th[i], NULL, commit_fn, &c[i]) == 0);
	}
	for (i = 0; i < 2; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	CHECK_EQ(kvj_log_force(t.log, 0), 0);
	CHECK_EQ(kvj_log_drain(t.log), 0);
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_LOG_WRITE_FAIL) > 0);
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_LOG_FLUSH_FAIL) > 0);
	disarm();
	CHECK(!kvj_log_is_shutdown(t.log));
	kvj_log_get_stats(t.log, &st);
	CHECK(st.write_retries > 0);
	crash_and_check(&t, 8, 0x60 + 19, false);
	jt_dev_close(&t);
	jt_remove(&t);
}

/* A real I/O error is no reason to wait: the log shuts down. */
static void test_eio(enum kvj_errtag tag)
{
	struct kvj_log_params p = { .no_threads = true };
	struct jt t;

	jt_create(&t, "nomem-eio", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	jt_tx1(&t, 0, 64, 64, 0x71);
	CHECK_EQ(kvj_log_force(t.log, 0), 0);
	jt_tx1(&t, 0, 64, 64, 0x72);
	arm(tag, EIO);
	CHECK_EQ(kvj_log_force(t.log, 0), -EIO);
	CHECK_EQ(kvj_errtag_hits(tag), 1);
	disarm();
	CHECK(kvj_log_is_shutdown(t.log));
	/* the records of a checkpoint whose flush failed may be on disk */
	crash_and_check(&t, tag == KVJ_ERRTAG_LOG_WRITE_FAIL, 0x71, true);
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_ckpt(KVJ_ERRTAG_LOG_WRITE_FAIL);
	test_ckpt(KVJ_ERRTAG_LOG_FLUSH_FAIL);
	test_ail_flush();
	test_threads();
	test_eio(KVJ_ERRTAG_LOG_WRITE_FAIL);
	test_eio(KVJ_ERRTAG_LOG_FLUSH_FAIL);
	jt_fini();
	printf("journal nomem: ok\n");
	return 0;
}
