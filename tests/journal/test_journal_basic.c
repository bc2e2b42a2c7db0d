// SPDX-License-Identifier: GPL-2.0
/*
 * Journal basics: an all-zero log is empty and clean; committed and forced
 * transactions survive a crash and are replayed; a clean close writes
 * everything in place and leaves a clean log; delayed logging writes an
 * item relogged many times in one checkpoint once; rolling transactions
 * keep their NOFS scope; recovery of the same image twice gives the same
 * result, also when the first recovery itself crashes; concurrent forces
 * share checkpoint writes and flushes (group commit); an idle log writes
 * its items back by itself; pushes happen on the timer and on CIL space
 * without a force, the space threshold scaled by the compression the
 * checkpoints see.
 */
#include <inttypes.h>

#include "journal/log_priv.h"
#include "tests/journal/jt.h"

#define LOGB (256 * 1024)

static void test_empty_and_clean(void)
{
	struct jt t;
	struct kvj_recovery_info ri;

	jt_create(&t, "empty", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(ri.was_empty && ri.was_clean);
	jt_tx1(&t, 1, 128, 64, 0x11);
	jt_tx1(&t, 2, 256, 64, 0x22);
	CHECK(kvj_log_close(t.log) == 0);
	/* a clean close wrote the blocks in place */
	jt_check_range(&t, 1, 128, 0x11);
	jt_check_range(&t, 2, 256, 0x22);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_empty && ri.was_clean);
	CHECK_EQ(ri.checkpoints_replayed, 0);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_replay_after_crash(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_log_stats st;
	struct kvj_recovery_info ri;
	struct jt t;
	uint64_t seq;
	unsigned i;

	jt_create(&t, "replay", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	/* one item relogged 100 times in one context is formatted once */
	for (i = 0; i < 100; i++)
		seq = jt_tx1(&t, 3, 64 + (i % 8) * 64, 64, (uint8_t)i);
	jt_tx1(&t, 4, 512, 64, 0x44);
	CHECK(kvj_log_force(t.log, seq) == 0);
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.commits, 101);
	CHECK_EQ(st.deltas, 101);
	CHECK_EQ(st.relogs, 99);
	CHECK_EQ(st.checkpoints, 1);
	/* a forced log is durable: nothing in place yet */
	jt_check_range(&t, 4, 512, 0);
	/* not forced: lost in the crash */
	jt_tx1(&t, 5, 512, 64, 0x55);
	jt_log_crash(&t);
	jt_dev_close(&t);

	jt_dev_open(&t);
	memset(&p, 0, sizeof(p));
	CHECK(jt_log_open_p(&t, &p) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean);
	CHECK_EQ(ri.checkpoints_replayed, 1);
	CHECK_EQ(ri.items_replayed, 2);
	jt_check_range(&t, 4, 512, 0x44);
	jt_check_range(&t, 5, 512, 0);
	for (i = 92; i < 100; i++)
		jt_check_range(&t, 3, 64 + (i % 8) * 64, (uint8_t)i);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

/*
 * kvj_log_format over a dirty log: clean and empty at the cycle asked for
 * (its changes are gone), and the log works from there: a forced change
 * survives a crash.
 */
static void test_format(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_recovery_info ri;
	struct kvj_log_stats st;
	struct jt t;
	uint64_t seq;

	jt_create(&t, "format", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	seq = jt_tx1(&t, 1, 128, 64, 0x11);
	CHECK(kvj_log_force(t.log, seq) == 0);
	jt_log_crash(&t);
	CHECK_EQ(kvj_log_format(&jt_io, &t, LOGB, 0), -EINVAL);
	CHECK_EQ(kvj_log_format(&jt_io, &t, LOGB, 9), 0);
	CHECK(jt_log_open_p(&t, &p) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(ri.was_clean && !ri.was_empty);
	CHECK_EQ(ri.checkpoints_replayed, 0);
	jt_check_range(&t, 1, 128, 0);
	kvj_log_get_stats(t.log, &st);
	CHECK_EQ(st.head_lsn, KVJ_LSN(9, 1));
	CHECK_EQ(kvj_log_head_lsn(t.log), KVJ_LSN(9, 1));
	seq = jt_tx1(&t, 2, 128, 64, 0x22);
	CHECK(kvj_log_force(t.log, seq) == 0);
	/* the forced checkpoint starts at the old head; the head is past it */
	kvj_log_get_stats(t.log, &st);
	CHECK(st.head_lsn > KVJ_LSN(9, 1));
	CHECK_EQ(kvj_log_head_lsn(t.log), st.head_lsn);
	jt_log_crash(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean);
	CHECK_EQ(ri.checkpoints_replayed, 1);
	jt_check_range(&t, 2, 128, 0x22);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_roll_scope(void)
{
	struct jt t;
	struct kvj_trans *tp;
	unsigned i;

	jt_create(&t, "roll", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	CHECK(!(kv_current_gfp(0) & KV_NOFS));
	CHECK(kvj_trans_alloc(t.log, 2048, 2, &tp) == 0);
	CHECK(kv_current_gfp(0) & KV_NOFS);
	jt_modify(tp, &t.blk[0], 64, 64, 1, true);
	kvj_trans_hold(tp, &t.blk[0].item);
	kvj_trans_set_nofail(tp);
	CHECK(kv_current_gfp(0) & KV_NOFAIL);
	for (i = 0; i < 5; i++) {
		/* more rolls than reserved: the later ones re-reserve */
		CHECK(kvj_trans_roll(&tp, NULL) == 0);
		CHECK(kv_current_gfp(0) & KV_NOFS);
		CHECK(kv_current_gfp(0) & KV_NOFAIL);
		jt_modify(tp, &t.blk[0], 128, 64, (uint8_t)(2 + i), false);
	}
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(!(kv_current_gfp(0) & KV_NOFS));
	CHECK(!(kv_current_gfp(0) & KV_NOFAIL));
	/* a clean cancel leaves the scope too and does not shut down */
	CHECK(kvj_trans_alloc(t.log, 2048, 0, &tp) == 0);
	kvj_trans_cancel(tp);
	CHECK(!(kv_current_gfp(0) & KV_NOFS));
	CHECK(!kvj_log_is_shutdown(t.log));
	CHECK(kvj_log_close(t.log) == 0);
	jt_check_range(&t, 0, 128, 6);

	/* cancelling a dirty transaction is a shutdown, not silent loss */
	CHECK(jt_log_open(&t) == 0);
	CHECK(kvj_trans_alloc(t.log, 2048, 0, &tp) == 0);
	jt_modify(tp, &t.blk[1], 64, 64, 9, true);
	kvj_trans_cancel(tp);
	CHECK(kvj_log_is_shutdown(t.log));
	CHECK(kvj_trans_alloc(t.log, 2048, 0, &tp) == -EIO);
	CHECK(kvj_log_force(t.log, 0) == -EIO);
	kvj_log_close(t.log);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	CHECK(system(cmd) == 0);
}

/* Blocks (not the log) of two images are equal. */
static void check_same_blocks(struct jt *t, const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = jt_slurp(a, &la), *y = jt_slurp(b, &lb);
	unsigned i;

	CHECK_EQ(la, lb);
	for (i = 0; i < t->nb; i++)
		CHECK(!memcmp(x + jt_blk_off(t, i) + 64,
			      y + jt_blk_off(t, i) + 64, JT_BLK - 64));
	free(x);
	free(y);
}

/*
 * A roll releases the items not held (their locks free for others, as
 * XFS's roll releases every buffer not held) and logs the held ones that
 * changed again in the next transaction, so that an item locked across
 * rolls moves forward in the log instead of pinning its tail.
 */
static void test_roll_release(void)
{
	struct jt t;
	struct kvj_trans *tp;
	uint64_t seq1, seq2;

	jt_create(&t, "rollrel", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	CHECK(kvj_trans_alloc(t.log, 4096, 2, &tp) == 0);
	jt_modify(tp, &t.blk[0], 64, 64, 1, true);
	jt_modify(tp, &t.blk[1], 64, 64, 2, true);
	kvj_trans_hold(tp, &t.blk[1].item);
	CHECK(kvj_trans_roll(&tp, &seq1) == 0);
	/* blk 0 released, blk 1 still locked by the transaction */
	CHECK(pthread_mutex_trylock(&t.blk[0].lock) == 0);
	pthread_mutex_unlock(&t.blk[0].lock);
	CHECK(pthread_mutex_trylock(&t.blk[1].lock) == EBUSY);
	CHECK(t.blk[1].item.ctx_seq == seq1);
	/* not changed again, but logged again with the next commit */
	CHECK(kvj_trans_dirty(tp));
	CHECK(kvj_trans_commit(tp, &seq2) == 0);
	CHECK(seq2 >= seq1);
	CHECK(t.blk[1].item.ctx_seq == seq2);
	CHECK(pthread_mutex_trylock(&t.blk[1].lock) == 0);
	pthread_mutex_unlock(&t.blk[1].lock);
	CHECK(kvj_log_close(t.log) == 0);
	jt_check_range(&t, 0, 64, 1);
	jt_check_range(&t, 1, 64, 2);
	jt_dev_close(&t);
	jt_remove(&t);
}

static void test_recover_twice(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct kvj_recovery_info ri;
	struct kv_dev_fault f = { 0 };
	char a[300], b[300];
	struct jt t;
	unsigned i, n;

	jt_create(&t, "twice", 8, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < 40; i++) {
		jt_tx1(&t, i % 8, 64 * (1 + i % 15), 64, (uint8_t)(i + 1));
		if (i % 10 == 9)
			CHECK(kvj_log_force(t.log, 0) == 0);
	}
	/* write some back in place so replay must skip older deltas */
	CHECK(kvj_log_drain(t.log) == 0);
	for (i = 0; i < 20; i++)
		jt_tx1(&t, i % 8, 64 * (1 + i % 15), 64, (uint8_t)(i + 100));
	CHECK(kvj_log_force(t.log, 0) == 0);
	jt_log_crash(&t);
	jt_dev_close(&t);

	snprintf(a, sizeof(a), "%s.a", t.path);
	snprintf(b, sizeof(b), "%s.b", t.path);
	copy_file(t.path, a);
	copy_file(t.path, b);

	/* recover the original twice: the second finds a clean log */
	jt_dev_open(&t);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(!ri.was_clean && ri.checkpoints_replayed == 1);
	CHECK(kvj_log_close(t.log) == 0);
	CHECK(jt_log_open(&t) == 0);
	kvj_log_recovery_info(t.log, &ri);
	CHECK(ri.was_clean);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	check_same_blocks(&t, t.path, t.path);

	/* recover copy a after a recovery that crashed at every write */
	for (n = 1; n < 6; n++) {
		copy_file(b, a);
		CHECK(kv_dev_open(a, 0, &t.dev) == 0);
		f.modes = KV_FAULT_CRASH;
		f.crash_after = n;
		CHECK(kv_dev_set_fault(t.dev, &f) == 0);
		if (jt_log_open(&t) == 0)
			jt_log_crash(&t);
		jt_dev_close(&t);
		CHECK(kv_dev_open(a, 0, &t.dev) == 0);
		CHECK(jt_log_open(&t) == 0);
		CHECK(kvj_log_close(t.log) == 0);
		jt_dev_close(&t);
		check_same_blocks(&t, t.path, a);
	}
	unlink(a);
	unlink(b);
	jt_remove(&t);
}

/*
 * An idle log writes its items back by itself (idle_push_ms): the change
 * reaches its block in place and the tail catches up with the head.
 */
static void test_idle_push(void)
{
	struct kvj_log_params p = { .idle_push_ms = 100 };
	struct kvj_log_stats st;
	struct jt t;
	unsigned ms;

	jt_create(&t, "idle", 2, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	CHECK(kvj_log_force(t.log, jt_tx1(&t, 1, 128, 64, 0x5a)) == 0);
	for (ms = 0; ms < 5000; ms += 10) {
		kvj_log_get_stats(t.log, &st);
		if (st.ail_pushed && st.tail_lsn == st.head_lsn)
			break;
		usleep(10000);
	}
	printf("idle push: written back after ~%u ms\n", ms);
	CHECK(st.ail_pushed > 0);
	CHECK(st.tail_lsn == st.head_lsn);
	jt_check_range(&t, 1, 128, 0x5a);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

/* Wait up to 5 s for a checkpoint nobody forced. */
static bool wait_unforced_checkpoint(struct kvj_log *log)
{
	struct kvj_log_stats st;
	unsigned ms;

	for (ms = 0; ms < 5000; ms += 5) {
		kvj_log_get_stats(log, &st);
		if (st.checkpoints)
			return st.force_writes == 0;
		usleep(5000);
	}
	return false;
}

/*
 * Without any force, the push thread checkpoints on its timer, and (with
 * the timer far away) when the CIL passes its share of the log.
 */
static void test_push_triggers(void)
{
	struct kvj_log_params timer = { .push_interval_ms = 20 };
	struct kvj_log_params space = { .push_interval_ms = 600000,
					.push_fraction = 16 };
	struct jt t;
	unsigned i, off;

	jt_create(&t, "trig", JT_MAX_NB, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &timer) == 0);
	jt_tx1(&t, 0, 0, 64, 1);
	CHECK(wait_unforced_checkpoint(t.log));
	CHECK(kvj_log_close(t.log) == 0);

	/* LOGB / 16 = 16 KiB; this dirties 64 KiB of blocks */
	CHECK(jt_log_open_p(&t, &space) == 0);
	for (i = 0; i < JT_MAX_NB; i++)
		for (off = 0; off < JT_BLK; off += 256)
			jt_tx1(&t, i, off, 256, (uint8_t)(i + off / 256));
	CHECK(wait_unforced_checkpoint(t.log));
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

/* Until the push thread has no push asked of it and none running. */
static void wait_push_idle(struct kvj_log *log)
{
	unsigned ms;
	bool idle = false;

	for (ms = 0; ms < 5000 && !idle; ms++) {
		pthread_mutex_lock(&log->push_wake_lock);
		idle = !log->push_wanted &&
		       atomic_load(&log->push_started) ==
			       atomic_load(&log->push_done);
		pthread_mutex_unlock(&log->push_wake_lock);
		if (!idle)
			usleep(1000);
	}
	CHECK(idle);
}

/*
 * Checkpoints written, without forces or timer, over 40 passes over every
 * block, each block wholly dirty from the second pass (so relogged whole in
 * each context) and all one byte: as compressible as a stream gets.  Each
 * pass waits for the pushes it asked for.
 */
static uint64_t size_pushes(struct jt *t, bool no_compress, uint64_t *threshold)
{
	struct kvj_log_params p = { .push_interval_ms = 600000,
				    .push_fraction = 16,
				    .no_compress = no_compress };
	struct kvj_log_stats st;
	unsigned i, r;

	CHECK(jt_log_open_p(t, &p) == 0);
	for (r = 0; r < 40; r++) {
		for (i = 0; i < JT_MAX_NB; i++)
			jt_tx1(t, i, r ? 64 * (r % 16) : 0, r ? 64 : JT_BLK,
			       (uint8_t)r);
		wait_push_idle(t->log);
	}
	kvj_log_get_stats(t->log, &st);
	CHECK(st.force_writes == 0);
	*threshold = atomic_load(&t->log->cil.push_threshold);
	CHECK(kvj_log_close(t->log) == 0);
	return st.checkpoints;
}

/*
 * The push threshold is a share of the log as written (kvj_cil_tune()):
 * it follows the compression of the checkpoints of some size, halfway
 * each time, between log / push_fraction and half the log.  So a
 * workload relogging whole blocks that compress well pushes far less
 * often than the same one uncompressed, where each 16 KiB of charge is a
 * push.
 */
static void test_push_threshold_compression(void)
{
	struct kvj_log_params p = { .no_threads = true, .push_fraction = 16 };
	const uint64_t base = LOGB / 16, cap = LOGB / 2;
	uint64_t plain, packed, thr;
	struct jt t;
	unsigned i;

	jt_create(&t, "tune", JT_MAX_NB, LOGB);
	jt_dev_open(&t);
	CHECK(jt_log_open_p(&t, &p) == 0);
	CHECK(atomic_load(&t.log->cil.push_threshold) == base);
	/* 4x compression: halfway to 4 * base, twice */
	kvj_cil_tune(t.log, 8 * base, 2 * base);
	CHECK(atomic_load(&t.log->cil.push_threshold) == base / 2 + 2 * base);
	kvj_cil_tune(t.log, 8 * base, 2 * base);
	thr = atomic_load(&t.log->cil.push_threshold);
	CHECK(thr == (base / 2 + 2 * base) / 2 + 2 * base);
	/* a small checkpoint (a force) changes nothing */
	kvj_cil_tune(t.log, base / 8 - 1, 1);
	CHECK(atomic_load(&t.log->cil.push_threshold) == thr);
	/* never past half the log, however well it compresses */
	for (i = 0; i < 64; i++)
		kvj_cil_tune(t.log, cap, 1);
	CHECK(atomic_load(&t.log->cil.push_threshold) <= cap);
	CHECK(atomic_load(&t.log->cil.push_threshold) > cap - cap / 16);
	/* a stream that does not shrink brings it back to the base */
	for (i = 0; i < 64; i++)
		kvj_cil_tune(t.log, base, base);
	CHECK(atomic_load(&t.log->cil.push_threshold) < base + base / 16);
	CHECK(atomic_load(&t.log->cil.push_threshold) >= base);
	CHECK(kvj_log_close(t.log) == 0);

	plain = size_pushes(&t, true, &thr);
	CHECK(thr == base);
	packed = size_pushes(&t, false, &thr);
	CHECK(thr > 4 * base && thr <= cap);
	printf("checkpoints: %" PRIu64 " uncompressed, %" PRIu64
	       " compressed (threshold %" PRIu64 " KiB)\n",
	       plain, packed, thr >> 10);
	CHECK(plain >= 40);
	CHECK(packed * 4 < plain);
	jt_dev_close(&t);
	jt_remove(&t);
}

#define GC_THREADS 8
#define GC_FORCES 40

struct gc_arg {
	struct jt *t;
	unsigned id;
};

/* Each thread owns one block: commit a change, force it, check durable. */
static void *gc_worker(void *arg)
{
	struct gc_arg *a = arg;
	unsigned n;

	for (n = 0; n < GC_FORCES; n++) {
		uint64_t seq =
			jt_tx1(a->t, a->id, 64 * (n % 8), 64, (uint8_t)(n + 1));

		CHECK(kvj_log_force(a->t->log, seq) == 0);
	}
	return NULL;
}

/*
 * With a 2 ms flush, forces arriving while a checkpoint is written must
 * share the next write: far fewer checkpoints than forces.  Every forced
 * change is durable (checked after a crash).
 */
static void test_group_commit(void)
{
	struct kvj_log_params p = { .no_threads = true };
	struct gc_arg args[GC_THREADS];
	pthread_t th[GC_THREADS];
	struct kvj_log_stats st;
	struct jt t;
	unsigned i;

	jt_create(&t, "gc", GC_THREADS, LOGB);
	jt_dev_open(&t);
	t.flush_delay_us = 2000;
	CHECK(jt_log_open_p(&t, &p) == 0);
	for (i = 0; i < GC_THREADS; i++) {
		args[i].t = &t;
		args[i].id = i;
		CHECK(pthread_create(&th[i], NULL, gc_worker, &args[i]) == 0);
	}
	for (i = 0; i < GC_THREADS; i++)
		pthread_join(th[i], NULL);
	kvj_log_get_stats(t.log, &st);
	printf("group commit: %" PRIu64 " forces, %" PRIu64
	       " checkpoints written\n",
	       st.forces, st.force_writes);
	CHECK_EQ(st.forces, GC_THREADS * GC_FORCES);
	CHECK(st.force_writes * 2 <= st.forces);
	jt_log_crash(&t);
	t.flush_delay_us = 0;
	CHECK(jt_log_open(&t) == 0);
	for (i = 0; i < GC_THREADS; i++)
		jt_check_range(&t, i, 64 * ((GC_FORCES - 1) % 8), GC_FORCES);
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_empty_and_clean();
	test_replay_after_crash();
	test_format();
	test_roll_scope();
	test_roll_release();
	test_recover_twice();
	test_group_commit();
	test_idle_push();
	test_push_triggers();
	test_push_threshold_compression();
	jt_fini();
	printf("journal basic: ok\n");
	return 0;
}
