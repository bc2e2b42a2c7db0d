// SPDX-License-Identifier: GPL-2.0
/*
 * The AIL thread's push target (journal/ail.c ail_wants_push()): with the
 * log more than half used and nobody waiting for space, it writes back
 * only the oldest items, those whose removal would bring the log back to
 * half used, and nothing past them while the item at the tail stays
 * pinned (no write-back can move the tail then).  Block 0 is logged first
 * and then reported pinned by its push (as an inode relogged by an unlink
 * is, until the next checkpoint); blocks 1.. are logged after it, a
 * checkpoint each, until the log is five eighths used.  Before the target,
 * the thread wrote back every block behind the pinned one, the whole AIL
 * (two threads unlinking the files they had made wrote back every inode
 * cluster, to be freed a moment later).
 */
#include <signal.h>
#include <stdatomic.h>

#include "tests/journal/jt.h"

#define NB 64
#define LOG_BYTES (128u << 10)

static struct jt t;
static atomic_bool hold_first;
static atomic_uint written[NB];

static int span_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct tblk *b = (struct tblk *)lip;
	int ret;

	if (b->idx == 0 && atomic_load(&hold_first))
		return KVJ_PUSH_PINNED;
	ret = tblk_push(lip, lsn);
	if (ret == KVJ_PUSH_SUCCESS)
		atomic_fetch_add(&written[b->idx], 1);
	return ret;
}

static const struct kvj_item_ops span_ops = {
	.name = "tblk_span",
	.type = JT_ITEM_TYPE,
	.size = tblk_size,
	.format = tblk_format,
	.release = tblk_release,
	.push = span_push,
};

static void timed_out(int sig)
{
	static const char msg[] = "test_journal_ail_span: timed out: hung\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

int main(void)
{
	/* no checkpoint but the forces, no idle write-back */
	struct kvj_log_params p = { .push_interval_ms = 600 * 1000,
				    .push_fraction = 1,
				    .idle_push_ms = 600 * 1000,
				    .no_compress = true };
	struct kvj_log_stats st;
	unsigned i, last, nwritten = 0;

	signal(SIGALRM, timed_out);
	alarm(60);
	jt_init(64u << 20);
	jt_create(&t, "ail_span", NB, LOG_BYTES);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < NB; i++)
		kvj_item_init(&t.blk[i].item, t.log, &span_ops);
	atomic_store(&hold_first, true);
	jt_tx1(&t, 0, 64, JT_BLK - 64, 0xa0);
	CHECK(kvj_log_force(t.log, 0) == 0);
	/*
	 * A checkpoint each (the items of one share its LSN), until the log
	 * is past half used, with room left: the pinned tail never moves.
	 */
	for (last = 1; last < NB; last++) {
		jt_tx1(&t, last, 64, JT_BLK - 64, (uint8_t)(0xa0 + last));
		CHECK(kvj_log_force(t.log, 0) == 0);
		kvj_log_get_stats(t.log, &st);
		if (st.log_bytes_used > LOG_BYTES / 8 * 5)
			break;
	}
	/* the premise: the AIL thread pushes for space alone */
	CHECK(last < NB);
	CHECK_EQ(st.grant_waits, 0);
	/*
	 * The thread's first pass (its timer is 20 ms; a loaded machine may
	 * delay it), then ten more periods for passes past the target.
	 */
	for (i = 0; i < 1000 && !atomic_load(&written[1]); i++)
		usleep(10 * 1000);
	usleep(200 * 1000);
	for (i = 1; i <= last; i++)
		nwritten += atomic_load(&written[i]) != 0;
	fprintf(stderr,
		"test_journal_ail_span: %llu of %u log bytes used, %u of %u "
		"blocks behind the pinned one written back\n",
		(unsigned long long)st.log_bytes_used, LOG_BYTES, nwritten,
		last);
	CHECK_EQ(atomic_load(&written[0]), 0);
	/* the oldest went, the newest stayed: no write-back past the target */
	CHECK(atomic_load(&written[1]) > 0);
	CHECK_EQ(atomic_load(&written[last]), 0);
	CHECK(nwritten < last);
	atomic_store(&hold_first, false);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
	for (i = 0; i <= last; i++)
		jt_check_range(&t, i, 64, (uint8_t)(0xa0 + i));
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	alarm(0);
	return 0;
}
