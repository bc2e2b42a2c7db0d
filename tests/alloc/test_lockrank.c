// SPDX-License-Identifier: GPL-2.0
/*
 * Lock ranks (alloc/lockrank.h): in a debug build, kv_mutexes of ranked
 * classes taken against the table abort naming both classes and both call
 * sites (each case in a forked child), and taken in order do not; keyed
 * classes nest only in ascending key order; trylocks are never checked but
 * are recorded; unlocks pop in any order.  In a release build the check is
 * compiled out: the same wrong order runs to the end.
 */
#include <signal.h>
#include <string.h>

#include "alloc/internal.h"
#include "alloc/kvlock.h"
#include "tests/alloc/child.h"

static struct kv_mutex perag0, perag1, buf0, buf1, ail, logl, other, ilk;

/*
 * The message names both call sites: "acquiring A ... at FILE:L1 while
 * holding B ... taken at FILE:L2".  Returns L1 - L2 (the cases take the
 * two locks on consecutive lines), or -1000 if the message is not there.
 */
static int site_distance(const char *err, const char *acquiring,
			 const char *holding)
{
	char pre[256], mid[256];
	const char *p, *q;
	int l1, l2;

	snprintf(pre, sizeof(pre), "acquiring %s at %s:", acquiring, __FILE__);
	snprintf(mid, sizeof(mid), " while holding %s taken at %s:", holding,
		 __FILE__);
	p = strstr(err, pre);
	if (!p || sscanf(p + strlen(pre), "%d", &l1) != 1)
		return -1000;
	q = strstr(p, mid);
	if (!q || sscanf(q + strlen(mid), "%d", &l2) != 1)
		return -1000;
	return l1 - l2;
}

static void wrong_order(void)
{
	kv_mutex_lock(&ail);
	kv_mutex_lock(&buf0); /* a buffer waited for under the AIL lock */
	kv_mutex_unlock(&buf0);
	kv_mutex_unlock(&ail);
}

static void right_order(void)
{
	kv_mutex_lock(&perag0);
	kv_mutex_lock(&buf0);
	/* a later AG under an AG's buffer (one level), in AG order */
	kv_mutex_lock_nested(&perag1, 1);
	kv_mutex_lock(&buf1); /* buffers nest in any order */
	kv_mutex_lock(&ail);
	kv_mutex_lock(&logl);
	kv_mutex_lock(&other); /* unranked: never checked */
	/* unlock in any order */
	kv_mutex_unlock(&buf0);
	kv_mutex_unlock(&logl);
	kv_mutex_unlock(&perag0);
	kv_mutex_unlock(&other);
	kv_mutex_unlock(&ail);
	kv_mutex_unlock(&buf1);
	kv_mutex_unlock(&perag1);
#ifdef KV_LOCKDEP
	if (kv_lockdep_depth() != 0)
		_exit(3);
#endif
}

static void key_order(void)
{
	kv_mutex_lock_nested(&perag1, 1);
	kv_mutex_lock_nested(&perag0, 0); /* AG 0 under AG 1 */
	_exit(0);
}

static void no_nesting(void)
{
	static struct kv_mutex log2;

	kv_mutex_init(&log2, logl.class_id);
	kv_mutex_lock(&logl);
	kv_mutex_lock(&log2);
	_exit(0);
}

static void trylock_out_of_order(void)
{
	kv_mutex_lock(&buf0);
	/* a trylock cannot deadlock: allowed, recorded */
	if (!kv_mutex_trylock(&perag0))
		_exit(2);
#ifdef KV_LOCKDEP
	if (kv_lockdep_depth() != 2)
		_exit(3);
#endif
	kv_mutex_unlock(&buf0);
	/* what is waited for under it is still checked */
	kv_mutex_lock(&ilk);
	_exit(0);
}

static void unlock_not_held(void)
{
	pthread_mutex_lock(&ail.m);
	kv_mutex_unlock(&ail);
	_exit(0);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 16u << 20 };
	char err[4096];
	int status;

	CHECK_EQ(kv_init(&cfg), 0);
	kv_mutex_init(&perag0, kv_lock_class_register("perag"));
	kv_mutex_init(&perag1, kv_lock_class_register("perag"));
	kv_mutex_init(&buf0, kv_lock_class_register("kvfs_buf"));
	kv_mutex_init(&buf1, kv_lock_class_register("kvfs_buf"));
	kv_mutex_init(&ail, kv_lock_class_register("ail"));
	kv_mutex_init(&logl, kv_lock_class_register("log"));
	kv_mutex_init(&other, kv_lock_class_register("test_unranked"));
	kv_mutex_init(&ilk, kv_lock_class_register("kvfs_ilock"));

	status = run_child(right_order, err, sizeof(err));
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(strstr(err, "lockdep") != NULL, 0);

	status = run_child(wrong_order, err, sizeof(err));
#ifdef KV_LOCKDEP
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "lock order violation: acquiring kvfs_buf"));
	if (site_distance(err, "kvfs_buf key 0", "ail key 0") != 1) {
		fprintf(stderr, "no message naming both sites in:\n%s", err);
		CHECK(0);
	}

	CHECK_EQ(kv_lock_rank_of("perag"), KV_RANK_PERAG);
	CHECK(KV_RANK_ILOCK < KV_RANK_PERAG && KV_RANK_PERAG < KV_RANK_BUF);
	CHECK(KV_RANK_BUF < KV_RANK_AIL && KV_RANK_LOG < KV_RANK_BUDDY);

	status = run_child(key_order, err, sizeof(err));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "same-class locks out of key order"));
	CHECK_EQ(site_distance(err, "perag key 0", "perag key 1"), 1);

	status = run_child(no_nesting, err, sizeof(err));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "two locks of a class that does not nest: "
			  "acquiring log"));

	status = run_child(unlock_not_held, err, sizeof(err));
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "releasing a lock not held"));
#else
	/* compiled out: the wrong order runs to the end unreported */
	(void)site_distance;
	(void)key_order;
	(void)no_nesting;
	(void)unlock_not_held;
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(strstr(err, "lockdep") != NULL, 0);
#endif

	status = run_child(trylock_out_of_order, err, sizeof(err));
#ifdef KV_LOCKDEP
	/* an inode lock waited for under perag0 (trylocked): reported */
	CHECK_EQ(child_signal(status), SIGABRT);
	CHECK(strstr(err, "acquiring kvfs_ilock key 0"));
	CHECK(strstr(err, "while holding perag key 0"));
	CHECK(strstr(err, "(trylock)"));
#else
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
#endif
	kv_fini();
	return 0;
}
