// SPDX-License-Identifier: GPL-2.0
/*
 * Two AIL pushers and an owner that frees its items: kvj_log_drain() races
 * the AIL thread over the same items while a sweeper frees every item that
 * is clean and out of the AIL (as the buffer item's sweep does).  A pusher
 * that touches an item another pusher took out of the AIL reads freed
 * memory: every item lives in a page of its own, made inaccessible when
 * freed, so the stale read faults (SIGSEGV) in every build.  The ail_push_delay
 * error tag holds each pusher between its flush and its removals, so that
 * the other pusher and the sweeper run in that window.
 *
 * Locks: the sweeper trylocks an item's lock and then takes the AIL lock
 * (kvj_item_in_ail()), as the journal allows; the item ops only trylock.
 */
#include <stdatomic.h>
#include <sys/mman.h>

#include "journal/errortag.h"
#include "tests/journal/jt.h"

#define FI_TYPE (KVJ_ITEM_CLIENT + 2)
#define FI_NR 512
#define FI_ROUNDS 40
#define FI_PER_TX 16
#define FI_PAGE 4096

struct fitem {
	struct kvj_item item;
	pthread_mutex_t lock;
	unsigned idx;
	bool dirty; /* logged since its last write-back */
};
_Static_assert(sizeof(struct fitem) <= FI_PAGE, "an item fits a page");

static struct fitem *_Atomic slots[FI_NR];
static struct fitem *pages[FI_NR]; /* every round's mappings */
static atomic_bool sweep_stop;
static atomic_uint freed;

static uint32_t fi_size(struct kvj_item *lip, bool fresh)
{
	(void)lip;
	(void)fresh;
	return sizeof(uint32_t);
}

static uint32_t fi_format(struct kvj_item *lip, void *buf, bool fresh)
{
	uint32_t idx = ((struct fitem *)lip)->idx;

	(void)fresh;
	memcpy(buf, &idx, sizeof(idx));
	return sizeof(idx);
}

static void fi_release(struct kvj_item *lip, bool aborted)
{
	(void)aborted;
	pthread_mutex_unlock(&((struct fitem *)lip)->lock);
}

static int fi_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct fitem *f = (struct fitem *)lip;

	(void)lsn;
	if (pthread_mutex_trylock(&f->lock))
		return KVJ_PUSH_LOCKED;
	if (kvj_item_pinned(lip)) {
		pthread_mutex_unlock(&f->lock);
		return KVJ_PUSH_PINNED;
	}
	f->dirty = false; /* nothing to write: the flush makes it "durable" */
	pthread_mutex_unlock(&f->lock);
	return KVJ_PUSH_SUCCESS;
}

static const struct kvj_item_ops fi_ops = {
	.name = "fitem",
	.type = FI_TYPE,
	.size = fi_size,
	.format = fi_format,
	.release = fi_release,
	.push = fi_push,
};

/* Every close is clean: nothing of this type is ever replayed. */
static int fi_replay(void *priv, const void *delta, uint32_t len, kvj_lsn_t lsn)
{
	(void)priv;
	(void)delta;
	(void)len;
	(void)lsn;
	CHECK(!"fitem replayed");
	return 0;
}

/* Free every item nobody needs any more: clean, unpinned, out of the AIL. */
static void *sweeper(void *arg)
{
	unsigned i;

	(void)arg;
	while (!atomic_load(&sweep_stop)) {
		for (i = 0; i < FI_NR; i++) {
			struct fitem *f = atomic_load(&slots[i]);
			bool idle;

			if (!f || pthread_mutex_trylock(&f->lock))
				continue;
			idle = !f->dirty && !kvj_item_pinned(&f->item) &&
			       !kvj_item_in_ail(&f->item);
			pthread_mutex_unlock(&f->lock);
			if (!idle)
				continue;
			/* nobody else can reach it: not in the AIL, no slot */
			atomic_store(&slots[i], NULL);
			CHECK(mprotect(f, FI_PAGE, PROT_NONE) == 0);
			atomic_fetch_add(&freed, 1);
		}
	}
	return NULL;
}

/* NR fresh items in their own pages, each logged once and durable. */
static void round_setup(struct kvj_log *log)
{
	struct kvj_trans *tp = NULL;
	unsigned i;

	for (i = 0; i < FI_NR; i++) {
		struct fitem *f = mmap(NULL, FI_PAGE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		CHECK(f != MAP_FAILED);
		pages[i] = f;
		pthread_mutex_init(&f->lock, NULL);
		f->idx = i;
		kvj_item_init(&f->item, log, &fi_ops);
		atomic_store(&slots[i], f);
	}
	for (i = 0; i < FI_NR; i++) {
		struct fitem *f = pages[i];

		if (i % FI_PER_TX == 0)
			CHECK(kvj_trans_alloc(log, 4096, 0, &tp) == 0);
		pthread_mutex_lock(&f->lock);
		kvj_trans_join(tp, &f->item);
		f->dirty = true;
		kvj_trans_log(tp, &f->item);
		if (i % FI_PER_TX == FI_PER_TX - 1)
			CHECK(kvj_trans_commit(tp, NULL) == 0);
	}
	CHECK(kvj_log_force(log, 0) == 0);
}

int main(void)
{
	struct kvj_recover_ops rops = { .type = FI_TYPE, .replay = fi_replay };
	struct kvj_log_params p = { 0 };
	struct kvj_log_stats st;
	pthread_t th;
	struct jt t;
	unsigned r, i, total = 0;
	int tag;

	jt_init(64u << 20);
	jt_create(&t, "ail_race", 1, 1u << 20);
	jt_dev_open(&t);
	p.io = &jt_io;
	p.io_priv = &t;
	p.log_bytes = t.log_bytes;
	p.recover = &rops;
	p.nr_recover = 1;
	CHECK(kvj_log_open(&p, &t.log) == 0);
	tag = kvj_errtag_lookup("ail_push_delay");
	CHECK(tag == KVJ_ERRTAG_AIL_PUSH_DELAY);
	CHECK(kvj_errtag_set_value(KVJ_ERRTAG_AIL_PUSH_DELAY, 2000) == 0);
	CHECK(kvj_errtag_set(KVJ_ERRTAG_AIL_PUSH_DELAY, 0, 1, 0) == 0);

	for (r = 0; r < FI_ROUNDS; r++) {
		round_setup(t.log);
		atomic_store(&freed, 0);
		atomic_store(&sweep_stop, false);
		CHECK(pthread_create(&th, NULL, sweeper, NULL) == 0);
		/* the AIL thread and this one push the same items */
		kvj_log_push_ail(t.log);
		CHECK(kvj_log_drain(t.log) == 0);
		/* the sweeper frees what is left once it is clean */
		for (i = 0; i < 2000 && atomic_load(&freed) < FI_NR; i++)
			usleep(1000);
		atomic_store(&sweep_stop, true);
		pthread_join(th, NULL);
		/* drain's contract: every item written back, none in the AIL */
		CHECK_EQ(atomic_load(&freed), FI_NR);
		total += FI_NR;
		for (i = 0; i < FI_NR; i++)
			CHECK(munmap(pages[i], FI_PAGE) == 0);
	}
	kvj_log_get_stats(t.log, &st);
	/* each item left the AIL once, whichever pusher removed it */
	CHECK_EQ(st.ail_pushed, total);
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_AIL_PUSH_DELAY) > 0);
	kvj_errtag_clear_all();
	CHECK(kvj_log_close(t.log) == 0);
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	return 0;
}
