// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred operations (fs/trans/defer.h) on a mounted filesystem, with a test
 * type whose items do real metadata work: each adds 1 to a 32-bit counter
 * (a slot) in an AG's inode-chunk tree root block, through the buffer
 * items.  Increments are not idempotent, so a slot
 * that reads 2 after recovery is an item applied twice.
 *
 * Checked: a multi-intent operation completes; items queueing items run
 * depth first; a failure (errtag defer_item_fail) at every step and a
 * power cut (KV_FAULT_CRASH) at every write of an operation, then
 * recovery: every item applied exactly once (or, if its intents never
 * reached the log, none); a 100k-item chain in a 4 MiB log with at most
 * two items in memory.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf_ops.h"
#include "fs/trans/defer.h"
#include "fs/io/dev.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "fs/trans/trans_resv.h"
#include "journal/errortag.h"
#include "journal/log_priv.h"
#include "tests/check.h"

static char path[] = "/tmp/kvfs-test-defer-XXXXXX";

#define AG_SLOTS 32

struct titem {
	struct kvfs_defer_item di;
	uint32_t idx; /* the slot (mod the slot count) and order label */
	uint32_t chain; /* queue one successor idx + chain_step */
	uint32_t depth; /* queue two children idx * 10 + 1, + 2 */
	uint32_t pad;
};

static uint32_t nslots;
static uint32_t chain_step;
static long live, max_live;
static uint32_t order[64];
/* each step forces the log first: every commit is a crash point */
static bool force_each_step;
static unsigned norder;

static struct titem *titem_new(uint32_t idx, uint32_t chain, uint32_t depth)
{
	struct titem *it = kvzalloc(sizeof(*it), 0);

	CHECK(it);
	it->idx = idx;
	it->chain = chain;
	it->depth = depth;
	if (++live > max_live)
		max_live = live;
	return it;
}

static void titem_free(struct titem *it)
{
	live--;
	kvfree(it);
}

static void t_log_item(const struct kvfs_defer_item *di, void *rec)
{
	const struct titem *it = (const struct titem *)di;
	kv_le32 r[4];

	r[0] = kv_cpu_to_le32(it->idx);
	r[1] = kv_cpu_to_le32(it->chain);
	r[2] = kv_cpu_to_le32(it->depth);
	r[3] = kv_cpu_to_le32(0);

	memcpy(rec, r, sizeof(r));
}

static int t_recover_item(struct kvfs_mount *mp, const void *rec,
			  struct kvfs_defer_item **dip)
{
	kv_le32 r[4];

	(void)mp;
	memcpy(r, rec, sizeof(r));
	*dip = &titem_new(kv_le32_to_cpu(r[0]), kv_le32_to_cpu(r[1]),
			  kv_le32_to_cpu(r[2]))
			->di;
	return 0;
}

/*
 * The block and byte offset of a slot: the last 128 bytes of each AG's
 * inode-chunk tree root, past its few records (the AG headers' reserved
 * bytes must read zero).
 */
static void slot_where(struct kvfs_mount *mp, uint32_t slot, uint64_t *blk,
		       unsigned *off, const struct kv_buf_ops **ops)
{
	*blk = kvfs_agb_to_fsb(&mp->g, slot / AG_SLOTS, KVFS_INO_AGBNO);
	*off = mp->g.blocksize - 4 * AG_SLOTS + 4 * (slot % AG_SLOTS);
	*ops = &kvfs_inobt_buf_ops;
}

static const struct kvfs_defer_type *ttype_p;

static int t_finish_item(struct kvfs_trans *tp, struct kvfs_defer_item *di)
{
	struct titem *it = (struct titem *)di;
	const struct kv_buf_ops *ops;
	struct kv_buf *bp;
	uint64_t blk;
	unsigned off;
	kv_le32 v;
	int err;

	if (force_each_step) {
		err = kvj_log_force(tp->mp->log, 0);
		if (err)
			return err;
	}
	slot_where(tp->mp, it->idx % nslots, &blk, &off, &ops);
	err = kvfs_trans_read_buf(tp->jt, tp->mp->bl, blk, 1, ops, &bp);
	if (err)
		return err;
	memcpy(&v, (uint8_t *)bp->b_addr + off, 4);
	v = kv_cpu_to_le32(kv_le32_to_cpu(v) + 1);
	memcpy((uint8_t *)bp->b_addr + off, &v, 4);
	kvfs_trans_log_buf(tp->jt, bp, off, off + 3);
	if (norder < sizeof(order) / sizeof(order[0]))
		order[norder++] = it->idx;
	if (it->chain) {
		err = kvfs_defer_add(
			tp, ttype_p,
			&titem_new(it->idx + chain_step, it->chain - 1, 0)->di);
		if (err)
			return err;
	}
	if (it->depth) {
		for (uint32_t k = 1; k <= 2; k++) {
			err = kvfs_defer_add(
				tp, ttype_p,
				&titem_new(it->idx * 10 + k, 0, it->depth - 1)
					 ->di);
			if (err)
				return err;
		}
	}
	titem_free(it);
	return 0;
}

static void t_cancel_item(struct kvfs_defer_item *di)
{
	titem_free((struct titem *)di);
}

#define T_MAX_ITEMS 8

static struct kvfs_defer_type ttype = {
	.name = "test_incr",
	.subtype = 100,
	.max_items = T_MAX_ITEMS,
	.item_bytes = 16,
	.log_item = t_log_item,
	.recover_item = t_recover_item,
	.finish_item = t_finish_item,
	.cancel_item = t_cancel_item,
};

static const struct kvfs_defer_type *const types[] = { &ttype };

static void make_fs(void)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64 << 20,
				    .logsize = 4 << 20,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ((uint64_t)g.logblocks * g.blocksize, 4u << 20);
	nslots = g.agcount * AG_SLOTS;
	/* one whole-block delta, and an intent for the two children */
	ttype.step_log_bytes = kvfs_resv_buf_bytes(g.blocksize) +
			       kvfs_resv_intent_bytes(2 * ttype.item_bytes);
}

static struct kvfs_mount *mount(unsigned push_ms)
{
	struct kvfs_mount_opts o = { .defer_types = types,
				     .nr_defer_types = 1,
				     .push_interval_ms = push_ms };
	struct kvfs_mount *mp;
	int err = kvfs_mount_open(path, &o, &mp);

	if (err)
		fprintf(stderr, "mount: %s\n", kvfs_mount_error());
	CHECK_EQ(err, 0);
	return mp;
}

static uint32_t read_slot(struct kvfs_mount *mp, uint32_t slot)
{
	const struct kv_buf_ops *ops;
	struct kv_buf *bp;
	uint64_t blk;
	unsigned off;
	kv_le32 v;

	slot_where(mp, slot, &blk, &off, &ops);
	CHECK_EQ(kv_buf_read(mp->bc, blk, 1, ops, &bp), 0);
	memcpy(&v, (uint8_t *)bp->b_addr + off, 4);
	kv_buf_rele(bp);
	return kv_le32_to_cpu(v);
}

/* A transaction of res_steps steps per commit; returns 0 or the error. */
static int run_op(struct kvfs_mount *mp, unsigned res_steps, uint32_t nroots,
		  uint32_t chain, uint32_t depth)
{
	struct kvfs_trans *tp;
	uint32_t i;

	CHECK_EQ(
		kvfs_trans_alloc(mp,
				 kvfs_defer_res_bytes(&ttype) +
					 (res_steps - 1) * ttype.step_log_bytes,
				 2, 0, &tp),
		0);
	for (i = 0; i < nroots; i++)
		CHECK_EQ(kvfs_defer_add(tp, &ttype,
					&titem_new(i + 1, chain, depth)->di),
			 0);
	return kvfs_trans_commit(tp, NULL);
}

static void test_multi(void)
{
	struct kvfs_defer_stats st;
	struct kvfs_mount *mp;
	struct kvfs_trans *tp;
	struct titem *it;
	uint32_t s;

	make_fs();
	mp = mount(0);
	/* a reservation too small for one step is refused before anything */
	CHECK_EQ(kvfs_trans_alloc(mp, 1024, 0, 0, &tp), 0);
	it = titem_new(0, 0, 0);
	CHECK_EQ(kvfs_defer_add(tp, &ttype, &it->di), -EOVERFLOW);
	titem_free(it);
	kvfs_trans_cancel(tp);
	CHECK(!kvj_log_is_shutdown(mp->log));
	/* 20 items: three intents, three steps per commit */
	CHECK_EQ(run_op(mp, 3, 20, 0, 0), 0);
	kvfs_defer_get_stats(mp, &st);
	CHECK_EQ(st.items, 20);
	CHECK(st.intents >= 3 && st.dones == st.intents);
	CHECK(st.relogs > 0); /* 8 items do not fit 3 steps */
	CHECK_EQ(kvfs_mount_close(mp), 0);
	mp = mount(0);
	CHECK(mp->ri.was_clean);
	for (s = 0; s < nslots; s++)
		CHECK_EQ(read_slot(mp, s), s >= 1 && s <= 20 ? 1u : 0u);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(live, 0);
}

/* Two roots, the first with two levels of two children. */
static void test_depth_first(void)
{
	static const uint32_t want[] = { 1, 11, 111, 112, 12, 121, 122, 2 };
	struct kvfs_mount *mp;
	struct kvfs_trans *tp;

	make_fs();
	mp = mount(0);
	norder = 0;
	CHECK_EQ(kvfs_trans_alloc(mp, kvfs_defer_res_bytes(&ttype) * 4, 2, 0,
				  &tp),
		 0);
	CHECK_EQ(kvfs_defer_add(tp, &ttype, &titem_new(1, 0, 2)->di), 0);
	CHECK_EQ(kvfs_defer_add(tp, &ttype, &titem_new(2, 0, 0)->di), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK_EQ(norder, 8);
	CHECK(!memcmp(order, want, sizeof(want)));
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(live, 0);
}

/*
 * The operation of the crash tests: 12 roots, each with a chain of two
 * successors (36 slots, 1..36), two steps per commit.
 */
#define CR_ROOTS 12
#define CR_ITEMS (3 * CR_ROOTS)

/*
 * After recovery: each slot 1..CR_ITEMS applied once, or (the intents
 * never reached the log) none.  Returns whether it was applied.
 */
static bool check_recovered(void)
{
	struct kvfs_mount *mp = mount(0);
	uint32_t s, first = read_slot(mp, 1);

	CHECK(first <= 1);
	for (s = 0; s < nslots; s++)
		CHECK_EQ(read_slot(mp, s),
			 s >= 1 && s <= CR_ITEMS ? first : 0u);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(live, 0);
	return first == 1;
}

/* The finish of step k fails: a shutdown mid-operation, for every k. */
static void test_fail_every_step(void)
{
	unsigned k, applied = 0, recovered = 0;

	chain_step = CR_ROOTS;
	force_each_step = true;
	for (k = 0; k < CR_ITEMS; k++) {
		struct kvfs_defer_stats st;
		struct kvfs_mount *mp;

		make_fs();
		mp = mount(0);
		CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_DEFER_ITEM_FAIL, k, 1, 1),
			 0);
		CHECK_EQ(run_op(mp, 2, CR_ROOTS, 2, 0), -EIO);
		CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_DEFER_ITEM_FAIL), 1);
		kvj_errtag_clear_all();
		CHECK(kvj_log_is_shutdown(mp->log));
		CHECK_EQ(kvfs_mount_close(mp), -EIO);
		mp = mount(0);
		kvfs_defer_get_stats(mp, &st);
		recovered += st.recovered > 0;
		CHECK_EQ(kvfs_mount_close(mp), 0);
		applied += check_recovered();
	}
	printf("fail at each of %u steps: %u recovered, %u applied\n", CR_ITEMS,
	       recovered, applied);
	/*
	 * each step forces the log first: past the first step the intents
	 * were always out, and recovery finished all of the work
	 */
	CHECK(recovered >= CR_ITEMS - 1);
	CHECK_EQ(applied, recovered);
	chain_step = 0;
	force_each_step = false;
}

/* A power cut after write n of the operation, for every n. */
static void test_crash_every_write(void)
{
	unsigned n, total = 0, applied = 0;

	chain_step = CR_ROOTS;
	force_each_step = true;
	for (n = 1;; n++) {
		struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };
		struct kvfs_mount *mp;
		bool crashed;

		make_fs();
		mp = mount(0);
		f.crash_after = kv_dev_nr_writes(mp->dev) + n - 1;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		/* forcing after the op: its writes are all in the log */
		CHECK_EQ(run_op(mp, 2, CR_ROOTS, 2, 0), 0);
		CHECK_EQ(kvj_log_force(mp->log, 0), 0);
		crashed = kv_dev_crashed(mp->dev);
		kvfs_mount_shutdown(mp, "power cut");
		CHECK_EQ(kvfs_mount_close(mp), -EIO);
		applied += check_recovered();
		if (!crashed) {
			total = n - 1;
			break;
		}
		CHECK(n < 10000);
	}
	printf("power cut at each of %u writes: %u applied\n", total, applied);
	/*
	 * a forced checkpoint per step; once the intents are durable
	 * recovery finishes everything (exactly once: check_recovered())
	 */
	CHECK(total >= CR_ITEMS && applied > total / 2);
	chain_step = 0;
	force_each_step = false;
}

/*
 * One item with a chain of n successors: every step a commit, in a
 * 4 MiB log; the log is never overrun (that would shut it down) and at
 * most two items exist at a time.
 */
static void test_long_chain(uint32_t n)
{
	struct kvfs_defer_stats st;
	struct kvj_log_stats ls;
	struct kvfs_mount *mp;
	uint64_t sum = 0;
	uint32_t s;

	make_fs();
	mp = mount(0);
	chain_step = 1;
	max_live = live = 0;
	CHECK_EQ(run_op(mp, 1, 1, n, 0), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	kvfs_defer_get_stats(mp, &st);
	kvj_log_get_stats(mp->log, &ls);
	CHECK_EQ(st.items, n + 1);
	CHECK(st.rolls >= n);
	printf("chain of %u: %llu rolls, %llu checkpoint bytes (%llu "
	       "compressed) through a 4 MiB log, max %ld items live, %zu "
	       "buffer items\n",
	       n + 1, (unsigned long long)st.rolls,
	       (unsigned long long)ls.stream_ulen,
	       (unsigned long long)ls.log_bytes_written, max_live,
	       kvfs_bli_log_nr_items(mp->bl));
	CHECK(max_live <= 2);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	mp = mount(0);
	for (s = 0; s < nslots; s++)
		sum += read_slot(mp, s);
	CHECK_EQ(sum, (uint64_t)n + 1);
	CHECK_EQ(read_slot(mp, 1), (n + 1 + nslots - 1) / nslots);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	chain_step = 0;
	CHECK_EQ(live, 0);
}

static struct kvfs_mount *ag_mp;

/* Another thread: AG 0 then AG 1, in the AG order, blocking. */
static void *lock_ag0_then_ag1(void *arg)
{
	(void)arg;
	kvfs_perag_lock(kvfs_perag_get(ag_mp, 0));
	kvfs_perag_lock(kvfs_perag_get(ag_mp, 1));
	kvfs_perag_unlock(kvfs_perag_get(ag_mp, 1));
	kvfs_perag_unlock(kvfs_perag_get(ag_mp, 0));
	return NULL;
}

/*
 * A transaction holding AG 1 that needs AG 0 (a deferred free after an
 * allocation) cannot wait for it, and a thread holding AG 0 waits for AG
 * 1: the roll must release AG 1, or neither ever proceeds.  An AG lock
 * held across rolls (kvfs_trans_hold_ag()) stays.
 */
static void test_roll_ag_locks(void)
{
	struct kvfs_trans *tp;
	struct timespec ts;
	pthread_t th;
	bool newly;

	make_fs();
	ag_mp = mount(0);
	CHECK(ag_mp->g.agcount >= 2);
	CHECK_EQ(kvfs_trans_alloc(ag_mp, 4096, 4, 0, &tp), 0);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 1, false, &newly), 0);
	CHECK_EQ(pthread_create(&th, NULL, lock_ag0_then_ag1, NULL), 0);
	/* the thread holds AG 0 (and then waits for AG 1) */
	while (kvfs_perag_trylock(kvfs_perag_get(ag_mp, 0))) {
		kvfs_perag_unlock(kvfs_perag_get(ag_mp, 0));
		sched_yield();
	}
	CHECK_EQ(kvfs_trans_lock_ag(tp, 0, false, &newly), -EAGAIN);
	CHECK_EQ(kvfs_trans_roll(tp, NULL), 0);
	CHECK_EQ(tp->nr_ag_locked, 0);
	CHECK_EQ(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += 20;
	CHECK_EQ(pthread_timedjoin_np(th, NULL, &ts), 0);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 0, false, &newly), 0);
	CHECK(newly);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 1, false, &newly), 0);
	kvfs_trans_hold_ag(tp, 0);
	CHECK_EQ(kvfs_trans_roll(tp, NULL), 0);
	CHECK_EQ(tp->nr_ag_locked, 1);
	CHECK_EQ(tp->ag_locked[0], 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	CHECK(kvfs_perag_trylock(kvfs_perag_get(ag_mp, 0)));
	kvfs_perag_unlock(kvfs_perag_get(ag_mp, 0));
	CHECK_EQ(kvfs_mount_close(ag_mp), 0);
}

/* A transaction of bytes (its reservation held), then AG 0, blocking. */
static void *reserve_then_lock_ag0(void *arg)
{
	struct kvfs_trans *tp;
	bool newly;

	CHECK_EQ(kvfs_trans_alloc(ag_mp, (uint32_t)(uintptr_t)arg, 0, 0, &tp),
		 0);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 0, false, &newly), 0);
	kvfs_trans_cancel(tp);
	return NULL;
}

static void regrant_timeout(int sig)
{
	(void)sig;
	fprintf(stderr, "test_roll_regrant: a roll waited for log space under "
			"its AG lock: deadlock\n");
	_exit(1);
}

/*
 * A roll past the transaction's reserved units waits for log space; the
 * transactions queued on the AG lock it holds hold that space: the roll
 * must drop its AG locks before it waits (kvj_trans_regrant()), or
 * neither side ever proceeds.  Here the rolling transaction logged the
 * root inode, which it keeps locked across the roll, so the log's tail
 * cannot pass it: only the queued reservations can give the space back.
 * Found by tests/stress ichurn (one AG, eight threads, a write's
 * allocation rolling extent by extent).
 */
static void test_roll_regrant(void)
{
	struct kvj_grant *g;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct timespec ts;
	int64_t room;
	pthread_t th[2];
	bool newly;
	int i;

	make_fs();
	ag_mp = mount(0);
	g = &ag_mp->log->grant;
	CHECK_EQ(kvfs_trans_alloc(ag_mp, 4096, 0, 0, &tp), 0);
	CHECK_EQ(kvfs_iget(ag_mp, ag_mp->g.rootino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_lock_ag(tp, 0, false, &newly), 0);
	/* two reservations take all the room but a few bytes */
	room = atomic_load(&g->avail) - atomic_load(&g->granted);
	for (i = 0; i < 2; i++) {
		int64_t bytes = room / 2 - 8 - KVJ_TRANS_OVERHEAD;

		CHECK(bytes > 0);
		CHECK_EQ(pthread_create(&th[i], NULL, reserve_then_lock_ag0,
					(void *)(uintptr_t)bytes),
			 0);
	}
	while (atomic_load(&g->avail) - atomic_load(&g->granted) > 16)
		sched_yield();
	signal(SIGALRM, regrant_timeout);
	alarm(30);
	CHECK_EQ(kvfs_trans_roll(tp, NULL), 0);
	alarm(0);
	CHECK_EQ(tp->nr_ag_locked, 0);
	CHECK_EQ(clock_gettime(CLOCK_REALTIME, &ts), 0);
	ts.tv_sec += 20;
	for (i = 0; i < 2; i++)
		CHECK_EQ(pthread_timedjoin_np(th[i], NULL, &ts), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(ag_mp), 0);
}

int main(int argc, char **argv)
{
	int fd = mkstemp(path);
	/* debug (sanitizer) builds pass the chain length: 100000 in release */
	uint32_t chain = argc > 1 ? (uint32_t)atoi(argv[1]) : 100000;

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	ttype_p = &ttype;
	test_roll_ag_locks();
	test_roll_regrant();
	test_multi();
	test_depth_first();
	test_fail_every_step();
	test_crash_every_write();
	test_long_chain(chain);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
