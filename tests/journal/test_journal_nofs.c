// SPDX-License-Identifier: GPL-2.0
/*
 * The journal's threads allocate in NOFS.  An FS shrinker that forces the
 * log (what the inode cache's will do) is registered while a hog holds
 * nearly the whole kvmalloc budget, giving back a few pages each time a
 * (non-FS) shrinker pass asks; transactions then keep the push thread and
 * the AIL thread pushing.  Every allocation they make reclaims.  A thread
 * outside NOFS would enter the FS shrinker while it holds push_lock (or the
 * AIL lock): the force takes push_lock again and the thread deadlocks.  An
 * alarm turns that hang into a failure.
 */
#include <signal.h>
#include <stdatomic.h>

#include "tests/journal/jt.h"

#define NB 32
#define HOG_MAX 8192 /* pages: more than the budget holds */
#define HOG_FREE 4 /* pages given back per shrinker call */
#define MAX_TX 50000
#define ENOUGH 50 /* reclaims by the journal's threads */

static struct jt t;
static pthread_t main_thread;

static pthread_mutex_t hog_lock = PTHREAD_MUTEX_INITIALIZER;
static void *hog[HOG_MAX];
static unsigned nr_hog;
static atomic_uint other_reclaims, fs_calls;

static size_t hog_count(void *priv)
{
	(void)priv;
	return __atomic_load_n(&nr_hog, __ATOMIC_RELAXED);
}

/* Frees a few pages; counts the calls made from the journal's threads. */
static size_t hog_scan(void *priv, size_t nr)
{
	size_t n = 0;

	(void)priv;
	if (!pthread_equal(pthread_self(), main_thread))
		atomic_fetch_add(&other_reclaims, 1);
	pthread_mutex_lock(&hog_lock);
	while (nr_hog && n < nr && n < HOG_FREE) {
		kv_free_pages(hog[--nr_hog], 0);
		n++;
	}
	pthread_mutex_unlock(&hog_lock);
	return n;
}

/* Take every page the budget has left (NORETRY: without reclaim). */
static void hog_fill(void)
{
	pthread_mutex_lock(&hog_lock);
	while (nr_hog < HOG_MAX) {
		void *pg = kv_alloc_pages(0, KV_NORETRY | KV_NOWARN);

		if (!pg)
			break;
		hog[nr_hog++] = pg;
	}
	pthread_mutex_unlock(&hog_lock);
}

static size_t force_count(void *priv)
{
	(void)priv;
	return 1;
}

/* An FS shrinker: forces the log, as an inode cache flushing inodes does. */
static size_t force_scan(void *priv, size_t nr)
{
	(void)priv;
	(void)nr;
	atomic_fetch_add(&fs_calls, 1);
	kvj_log_force(t.log, 0);
	return 0;
}

static struct kv_shrinker hog_shrinker = {
	.name = "test_hog",
	.count = hog_count,
	.scan = hog_scan,
};

static struct kv_shrinker force_shrinker = {
	.name = "test_log_force",
	.flags = KV_SHRINK_FS,
	.count = force_count,
	.scan = force_scan,
};

static void timed_out(int sig)
{
	static const char msg[] =
		"test_journal_nofs: timed out: a journal thread deadlocked "
		"in reclaim\n";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

/*
 * One life of the log under pressure.  ail_driven: the push thread sleeps
 * and the CIL never reaches its threshold, so the CIL is pushed only by
 * the AIL thread, when kvj_log_push_ail() finds the items it holds
 * relogged (pinned).
 */
static void phase(struct kvj_log_params *p, bool ail_driven)
{
	uint64_t rng = 88172645463325252ull, ckpts;
	struct kvj_log_stats st;
	unsigned i, tx;

	atomic_store(&other_reclaims, 0);
	atomic_store(&fs_calls, 0);
	CHECK(jt_log_open_p(&t, p) == 0);
	/* every block in the AIL, before the pressure */
	for (i = 0; i < NB; i++)
		jt_tx1(&t, i, 64, 64, 1);
	CHECK(kvj_log_force(t.log, 0) == 0);
	kvj_log_get_stats(t.log, &st);
	ckpts = st.checkpoints;
	CHECK(kv_register_shrinker(&hog_shrinker) == 0);
	CHECK(kv_register_shrinker(&force_shrinker) == 0);

	hog_fill();
	CHECK(nr_hog < HOG_MAX);
	for (tx = 0; tx < MAX_TX && atomic_load(&other_reclaims) < ENOUGH;
	     tx++) {
		struct kvj_trans *tp;
		unsigned k;

		CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		/* four distinct blocks, each locked once */
		for (k = 0; k < 4; k++)
			jt_modify(tp, &t.blk[(rng + k * NB / 4) % NB],
				  64 + ((rng >> 8) + k) % 7 * JT_CHUNK, 64,
				  (uint8_t)tx, true);
		CHECK(kvj_trans_commit(tp, NULL) == 0);
		if (tx % 16 != 15)
			continue;
		/* a push in this thread, as from an fsync: NOFS too */
		if (!ail_driven)
			CHECK(kvj_log_force(t.log, 0) == 0);
		/* take back what the journal freed: it reclaims again */
		hog_fill();
		if (ail_driven) {
			kvj_log_push_ail(t.log);
			usleep(500);
		}
	}
	/* a thread stuck in the FS shrinker holds what this needs */
	CHECK(kvj_log_drain(t.log) == 0);
	kvj_log_get_stats(t.log, &st);
	fprintf(stderr,
		"test_journal_nofs: %s: %u transactions, %llu checkpoints, "
		"%u reclaims by journal threads, %u FS shrinker calls\n",
		ail_driven ? "AIL thread" : "push thread", tx,
		(unsigned long long)(st.checkpoints - ckpts),
		atomic_load(&other_reclaims), atomic_load(&fs_calls));
	/* the journal's threads did push, and allocate with no memory left */
	CHECK(st.checkpoints > ckpts);
	CHECK(atomic_load(&other_reclaims) > 0);

	pthread_mutex_lock(&hog_lock);
	for (i = 0; i < nr_hog; i++)
		kv_free_pages(hog[i], 0);
	nr_hog = 0;
	pthread_mutex_unlock(&hog_lock);
	kv_unregister_shrinker(&force_shrinker);
	kv_unregister_shrinker(&hog_shrinker);
	CHECK(kvj_log_close(t.log) == 0);
	t.log = NULL;
}

int main(void)
{
	struct kvj_log_params by_push = { .push_interval_ms = 2,
					  .push_fraction = 32 };
	struct kvj_log_params by_ail = { .push_interval_ms = 600 * 1000,
					 .push_fraction = 1 };

	signal(SIGALRM, timed_out);
	alarm(30);
	main_thread = pthread_self();
	jt_init(8u << 20);
	jt_create(&t, "nofs", NB, 256 * 1024);
	jt_dev_open(&t);
	phase(&by_push, false);
	phase(&by_ail, true);
	jt_dev_close(&t);
	jt_remove(&t);
	jt_fini();
	alarm(0);
	return 0;
}
