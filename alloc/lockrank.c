// SPDX-License-Identifier: GPL-2.0
/*
 * Lock rank checking (alloc/lockrank.h), debug builds only.
 *
 * Each thread keeps the ranked locks it holds in a thread-local array, in
 * acquisition order; nothing is shared, so there are no locks here.  A
 * violation is a bug in the caller: it is reported (kv_report(), stderr
 * when the program installed no hook) and the process aborts (no errno
 * can carry it).
 */
#include "alloc/lockrank.h"

#ifdef KV_LOCKDEP
#include <stdlib.h>
#include <string.h>

#include "alloc/internal.h"

/* a transaction may hold a buffer per block it changes */
#define HELD_MAX 512

struct held {
	const void *lock;
	const char *file;
	uint64_t key;
	int line;
	int rank;
	bool trylock;
};

static KV_TLS int nr_held;
static KV_TLS struct held held[HELD_MAX];

/* a class outside the table is never recorded: no name of its own */
static const char *const rank_names[KV_RANK_NR] = {
#define RANK_NAME(rank, name, level, nest) [rank] = name,
	KV_LOCK_RANKS(RANK_NAME)
#undef RANK_NAME
};

static const enum kv_lock_nest rank_nest[KV_RANK_NR] = {
#define RANK_NEST(rank, name, level, nest) [rank] = nest,
	KV_LOCK_RANKS(RANK_NEST)
#undef RANK_NEST
};

static const int rank_level[KV_RANK_NR] = {
#define RANK_LEVEL(rank, name, level, nest) [rank] = level,
	KV_LOCK_RANKS(RANK_LEVEL)
#undef RANK_LEVEL
};

int kv_lock_rank_of(const char *name)
{
	int r;

	for (r = KV_RANK_NONE + 1; r < KV_RANK_NR; r++)
		if (!strcmp(rank_names[r], name))
			return r;
	return KV_RANK_NONE;
}

int kv_lockdep_depth(void)
{
	return nr_held;
}

static void dump_held(void)
{
	int i;

	kv_report(KV_REPORT_BUG, "kvfs lockdep: held, oldest first:");
	for (i = 0; i < nr_held; i++)
		kv_report(KV_REPORT_BUG, "  %s key %llu at %s:%d%s",
			  rank_names[held[i].rank],
			  (unsigned long long)held[i].key, held[i].file,
			  held[i].line, held[i].trylock ? " (trylock)" : "");
}

static void violation(const char *what, const struct held *h, int rank,
		      uint64_t key, const char *file, int line)
{
	kv_report(KV_REPORT_BUG,
		  "kvfs lockdep: %s: acquiring %s key %llu at %s:%d while "
		  "holding %s key %llu taken at %s:%d",
		  what, rank_names[rank], (unsigned long long)key, file, line,
		  rank_names[h->rank], (unsigned long long)h->key, h->file,
		  h->line);
	dump_held();
	abort();
}

static void check(const void *lock, int rank, uint64_t key, const char *file,
		  int line)
{
	int i;

	for (i = 0; i < nr_held; i++) {
		const struct held *h = &held[i];

		if (h->lock == lock)
			violation("recursive acquisition", h, rank, key, file,
				  line);
		if (rank_level[h->rank] < rank_level[rank])
			continue;
		if (rank_level[h->rank] > rank_level[rank])
			violation("lock order violation", h, rank, key, file,
				  line);
		if (h->rank != rank)
			continue;
		switch (rank_nest[rank]) {
		case KV_NEST_ANY:
			break;
		case KV_NEST_KEYED:
			if (key <= h->key)
				violation("same-class locks out of key order",
					  h, rank, key, file, line);
			break;
		default:
			violation("two locks of a class that does not nest", h,
				  rank, key, file, line);
		}
	}
}

void kv_lockdep_acquire(const void *lock, int rank, uint64_t key, bool trylock,
			const char *file, int line)
{
	struct held *h;

	if (rank <= KV_RANK_NONE || rank >= KV_RANK_NR)
		return;
	if (!trylock)
		check(lock, rank, key, file, line);
	if (nr_held == HELD_MAX) {
		kv_report(KV_REPORT_BUG,
			  "kvfs lockdep: more than %d locks held, acquiring %s "
			  "at %s:%d",
			  HELD_MAX, rank_names[rank], file, line);
		dump_held();
		abort();
	}
	h = &held[nr_held++];
	h->lock = lock;
	h->rank = rank;
	h->key = key;
	h->file = file;
	h->line = line;
	h->trylock = trylock;
}

void kv_lockdep_release(const void *lock, const char *file, int line)
{
	int i;

	for (i = nr_held - 1; i >= 0; i--) {
		if (held[i].lock != lock)
			continue;
		memmove(&held[i], &held[i + 1],
			(nr_held - i - 1) * sizeof(held[0]));
		nr_held--;
		return;
	}
	kv_report(KV_REPORT_BUG,
		  "kvfs lockdep: releasing a lock not held at %s:%d", file,
		  line);
	dump_held();
	abort();
}
#endif
