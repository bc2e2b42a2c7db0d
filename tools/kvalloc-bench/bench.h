/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvalloc-bench: a userspace port of the kernel's lib/test_vmalloc.c plus a
 * small-object and a mixed-size test, run against kvalloc, glibc malloc,
 * jemalloc and mimalloc in one process.
 *
 * One measurement is (test, threads, allocator): every thread runs the same
 * test body against the same back-end, all released together by a barrier,
 * for a fixed wall time.  An "op" is one allocation that is also freed: a
 * test loop that allocates and frees two blocks counts two ops, whatever
 * the allocator.
 */
#ifndef KVB_BENCH_H
#define KVB_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* sizes of the option tables in main.c */
#define KVB_MAX_ALLOCS 8
#define KVB_MAX_TESTS 32

/* Largest alignment the aligned tests ask for (test_vmalloc's 1 << 22). */
#define KVB_MAX_ALIGN_SHIFT 22

/* One allocator back-end.  Every call goes through these pointers. */
struct kvb_alloc {
	const char *name;
	const char *desc;
	bool is_kv; /* backed by libkvalloc: its lock counters apply */
	const char *soname; /* library providing it, if not libkvalloc */
	/* loads the back-end (NULL: kv, set up by kv_init()); 0 or -errno */
	int (*load)(struct kvb_alloc *a, char *err, size_t errlen);
	void *(*alloc)(size_t size);
	void (*free)(void *p, size_t size);
	/* zeroed memory aligned to align (a power of two) */
	void *(*alloc_align)(size_t size, size_t align);
	void (*free_align)(void *p, size_t size, size_t align);
	char origin[160]; /* "malloc() from /path/libc.so.6", set by load */
};

extern struct kvb_alloc kvb_allocs[];
extern const unsigned kvb_nr_allocs;

struct kvb_alloc *kvb_alloc_find(const char *name);

/* One measurement in progress. */
struct kvb_run {
	struct kvb_alloc *a;
	const struct kvb_test *test;
	unsigned test_idx;
	size_t budget; /* kv arena size: scales kvmalloc_mixed's arena */
	atomic_bool stop; /* set by the main thread when time is up */
	void *shared; /* state of the test's run_setup */
};

/* One thread of a measurement. */
/*
 * Workers live in one array and write rng and ops on every op: each takes
 * 128 bytes, so that two workers' hot fields are never on one cache line
 * whatever the array's alignment (false sharing there halved the 2-thread
 * figures of every allocator, depending on where the array landed).
 */
struct kvb_worker {
	struct kvb_run *run;
	unsigned idx;
	uint64_t rng;
	void *state; /* state of the test's setup */
	uint64_t ops;
	double secs;
	size_t fail_size; /* size of the allocation that failed */
	int err;
	pthread_t tid;
	char pad[56];
};
_Static_assert(sizeof(struct kvb_worker) == 128, "kvb_worker: two lines");

struct kvb_test {
	const char *name;
	const char *desc;
	/* untimed, once per measurement before the threads start (optional) */
	int (*run_setup)(struct kvb_run *r);
	void (*run_teardown)(struct kvb_run *r);
	/* untimed, per thread (optional) */
	int (*setup)(struct kvb_worker *w);
	void (*teardown)(struct kvb_worker *w);
	/* timed: at least one op, then until r->stop; counts w->ops; 0 or -ENOMEM */
	int (*body)(struct kvb_worker *w);
};

extern const struct kvb_test kvb_tests[];
extern const unsigned kvb_nr_tests;

/* xorshift64*: cheap, and seeded identically for every allocator */
static inline uint64_t kvb_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline bool kvb_stopped(const struct kvb_worker *w)
{
	return atomic_load_explicit(&w->run->stop, memory_order_relaxed);
}

/* What every test does with a fresh block: touch its first byte. */
static inline void kvb_touch(void *p)
{
	*(volatile unsigned char *)p = 1;
}

#endif
