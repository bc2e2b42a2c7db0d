// SPDX-License-Identifier: GPL-2.0
/*
 * Shrinkers and pressure hooks on their one registry (alloc/reclaim.c):
 * each kind is registered once (-EEXIST again, -EINVAL without its
 * callbacks); with the budget full, an allocation calls the shrinkers
 * first and the hooks only after a shrinker pass freed nothing; a hook
 * that gives memory back makes the allocation succeed; the shrinker
 * statistics list shrinkers only; an unregistered hook is called no more.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "tests/check.h"

#define BUDGET (4u << 20)
#define MAXP (2 * BUDGET / 4096)

static void *held[MAXP];
static unsigned nr_held;
static unsigned seq, scan_calls, relieve_calls, first_scan, first_relieve;

static size_t s_count(void *priv)
{
	(void)priv;
	return 1;
}

static size_t s_scan(void *priv, size_t nr)
{
	(void)priv;
	(void)nr;
	if (!scan_calls++)
		first_scan = ++seq;
	return 0;
}

/* Memory only this hook's owner can free: one held page per call. */
static bool relieve(void *priv, kv_gfp_t gfp)
{
	(void)priv;
	(void)gfp;
	if (!relieve_calls++)
		first_relieve = ++seq;
	if (!nr_held)
		return false;
	kvfree(held[--nr_held]);
	return true;
}

static struct kv_shrinker shrinker = { .name = "reg_s",
				       .count = s_count,
				       .scan = s_scan };
static struct kv_pressure hook = { .name = "reg_h", .relieve = relieve };

int main(void)
{
	struct kv_config cfg = { .budget_bytes = BUDGET };
	struct kv_shrinker bad_s = { .name = "bad" };
	struct kv_pressure bad_h = { .name = "bad" };
	static char stats[65536];
	void *p;

	CHECK_EQ(kv_init(&cfg), 0);
	CHECK_EQ(kv_register_shrinker(&shrinker), 0);
	CHECK_EQ(kv_register_pressure(&hook), 0);
	CHECK_EQ(kv_register_shrinker(&shrinker), -EEXIST);
	CHECK_EQ(kv_register_pressure(&hook), -EEXIST);
	CHECK_EQ(kv_register_shrinker(&bad_s), -EINVAL);
	CHECK_EQ(kv_register_pressure(&bad_h), -EINVAL);

	/* the budget full, without reclaim */
	while (nr_held < MAXP &&
	       (p = kvmalloc(4096, KV_NORETRY | KV_NOWARN)) != NULL)
		held[nr_held++] = p;
	CHECK(nr_held > 0 && nr_held < MAXP);
	CHECK_EQ(scan_calls + relieve_calls, 0);

	p = kvmalloc(4096, KV_NOWARN);
	CHECK(p != NULL);
	CHECK(scan_calls > 0 && relieve_calls > 0);
	CHECK(first_scan < first_relieve);
	kvfree(p);

	CHECK(kv_stats_format(stats, sizeof(stats)) > 0);
	CHECK(strstr(stats, "shrinker.reg_s.calls"));
	CHECK(!strstr(stats, "reg_h"));

	/* without the hook nothing gives memory back */
	kv_unregister_pressure(&hook);
	while (nr_held < MAXP &&
	       (p = kvmalloc(4096, KV_NORETRY | KV_NOWARN)) != NULL)
		held[nr_held++] = p;
	relieve_calls = 0;
	CHECK(kvmalloc(4096, KV_NOWARN) == NULL);
	CHECK_EQ(relieve_calls, 0);

	kv_unregister_shrinker(&shrinker);
	while (nr_held)
		kvfree(held[--nr_held]);
	CHECK_EQ(kv_fini(), 0);
	printf("kvalloc registry: ok\n");
	return 0;
}
