// SPDX-License-Identifier: GPL-2.0
/*
 * Write-back that finds no space on the device (an item's push answering
 * KVJ_PUSH_NOSPACE: a sparse image's host filesystem full) is retried and
 * never shuts the log down (journal/ail.c, grant.c, log.c):
 *
 * wait:  block 0's push has no room while `full` is set, so the tail
 *        stays at it; transactions on the other blocks fill the log, and
 *        a new one then fails with -ENOSPC after its 2 s wait, the log up,
 *        the state reported once; with room again the next transaction
 *        goes through, the state reported over, and the close is clean.
 * drain: the close of a log whose write-back has no room gives up with
 *        -ENOSPC (10 s stuck), the log dirty and reported so; the next
 *        open replays it.
 */
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "tests/journal/jt.h"

#define NB 16
#define LOG_BYTES (128u << 10)

static struct jt t;
static atomic_bool full;
static atomic_uint reports_full, reports_room, reports_dirty;

static int ns_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct tblk *b = (struct tblk *)lip;

	if (b->idx == 0 && atomic_load(&full))
		return KVJ_PUSH_NOSPACE;
	return tblk_push(lip, lsn);
}

static const struct kvj_item_ops ns_ops = {
	.name = "tblk_nospace",
	.type = JT_ITEM_TYPE,
	.size = tblk_size,
	.format = tblk_format,
	.release = tblk_release,
	.push = ns_push,
};

static void sink(const char *line, void *priv)
{
	(void)priv;
	if (strstr(line, "no space on the device (a sparse"))
		atomic_fetch_add(&reports_full, 1);
	if (strstr(line, "has room again"))
		atomic_fetch_add(&reports_room, 1);
	if (strstr(line, "the log stays dirty"))
		atomic_fetch_add(&reports_dirty, 1);
}

static void timed_out(int sig)
{
	static const char msg[] = "test_journal_nospace: timed out: hung\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void open_log(void)
{
	unsigned i;

	CHECK(jt_log_open(&t) == 0);
	for (i = 0; i < NB; i++)
		kvj_item_init(&t.blk[i].item, t.log, &ns_ops);
}

/* One transaction on block i, forced; its kvj_trans_alloc()'s error. */
static int tx_forced(unsigned i, uint8_t val)
{
	struct kvj_trans *tp;
	uint64_t seq;
	int err = kvj_trans_alloc(t.log, 4096, 0, &tp);

	if (err)
		return err;
	jt_modify(tp, &t.blk[i], 64, 64, val, true);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	CHECK(kvj_log_force(t.log, seq) == 0);
	return 0;
}

static void test_wait(void)
{
	struct kvj_log_stats st;
	unsigned n = 0, i;
	double t0;
	int err;

	open_log();
	CHECK(tx_forced(0, 0x30) == 0);
	atomic_store(&full, true);
	/* the AIL thread meets block 0 and the log fills behind it */
	while ((err = tx_forced(1 + n % (NB - 1), (uint8_t)(0x31 + n % 64))) ==
	       0) {
		n++;
		CHECK(n < 100000);
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK(n > 10);
	CHECK(!kvj_log_is_shutdown(t.log));
	kvj_log_get_stats(t.log, &st);
	CHECK(st.nospace_retries > 0);
	CHECK_EQ(atomic_load(&reports_full), 1);
	fprintf(stderr,
		"test_journal_nospace: ENOSPC after %u transactions, %llu "
		"write-back retries\n",
		n, (unsigned long long)st.nospace_retries);
	/* room again: the next pass writes block 0 and frees the log */
	atomic_store(&full, false);
	t0 = now_s();
	CHECK(tx_forced(1, 0x7f) == 0);
	CHECK(now_s() - t0 < 10);
	for (i = 0; i < 500 && !atomic_load(&reports_room); i++)
		usleep(10 * 1000);
	CHECK_EQ(atomic_load(&reports_room), 1);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	jt_check_range(&t, 0, 64, 0x30);
	jt_check_range(&t, 1, 64, 0x7f);
}

static void test_drain(void)
{
	struct kvj_recovery_info ri;
	double t0;

	open_log();
	CHECK(tx_forced(0, 0x5a) == 0);
	atomic_store(&full, true);
	t0 = now_s();
	CHECK_EQ(kvj_log_close(t.log), -ENOSPC);
	t.log = NULL;
	CHECK(now_s() - t0 >= 9);
	CHECK_EQ(atomic_load(&reports_dirty), 1);
	atomic_store(&full, false);
	open_log();
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	jt_check_range(&t, 0, 64, 0x5a);
}

int main(void)
{
	signal(SIGALRM, timed_out);
	alarm(100);
	jt_init(64u << 20);
	kvj_report_set_sink(sink, NULL);
	jt_create(&t, "nospace", NB, LOG_BYTES);
	jt_dev_open(&t);
	test_wait();
	test_drain();
	kvj_report_set_sink(NULL, NULL);
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	alarm(0);
	return 0;
}
