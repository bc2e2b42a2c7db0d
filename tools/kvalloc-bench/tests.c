// SPDX-License-Identifier: GPL-2.0
/*
 * The test bodies of kvalloc-bench.  The first six follow the kernel's
 * lib/test_vmalloc.c (one "page" is KV_PAGE_SIZE); small_obj and
 * kvmalloc_mixed are ours.  Differences from the kernel, for userspace:
 *
 * - align_shift_alloc cycles through alignments 2^0 .. 2^22 instead of
 *   2^0 .. 2^63: the kernel test is meant to fail at the large ones, a
 *   benchmark must not.  random_size_align_alloc keeps the kernel's 2^22 cap.
 * - full_fit_alloc's junk size uses the online CPU count, as the kernel's
 *   fls(num_online_cpus()) does, so it is machine-dependent like the original.
 *
 * Setup (pinned objects, fragmentation) is untimed and identical for every
 * allocator; the harness's own arrays come from kvmalloc(), before the
 * clock starts, whichever allocator is measured.
 */
#include <errno.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "bench.h"

#define PG KV_PAGE_SIZE

/* Allocates size from w's back-end or records the failure. */
static void *bench_alloc(struct kvb_worker *w, size_t size)
{
	void *p = w->run->a->alloc(size);

	if (!p) {
		w->fail_size = size;
		w->err = -ENOMEM;
		return NULL;
	}
	kvb_touch(p);
	return p;
}

static void bench_free(struct kvb_worker *w, void *p, size_t size)
{
	w->run->a->free(p, size);
}

static void *bench_alloc_align(struct kvb_worker *w, size_t size, size_t align)
{
	void *p = w->run->a->alloc_align(size, align);

	if (!p) {
		w->fail_size = size;
		w->err = -ENOMEM;
		return NULL;
	}
	kvb_touch(p);
	return p;
}

/* A list of pinned blocks, freed at teardown. */
struct pinned {
	size_t n;
	size_t size;
	void *p[];
};

static struct pinned *pinned_alloc(size_t n, size_t size)
{
	struct pinned *pl = kvzalloc(sizeof(*pl) + n * sizeof(void *), 0);

	if (pl) {
		pl->n = n;
		pl->size = size;
	}
	return pl;
}

static void pinned_free(const struct kvb_alloc *a, struct pinned *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->n; i++)
		if (pl->p[i])
			a->free(pl->p[i], pl->size);
	kvfree(pl);
}

static void pinned_teardown(struct kvb_worker *w)
{
	pinned_free(w->run->a, w->state);
	w->state = NULL;
}

/* fix_size_alloc: one page, allocated, touched, freed. */
static int fix_size_body(struct kvb_worker *w)
{
	do {
		void *p = bench_alloc(w, PG);

		if (!p)
			return w->err;
		bench_free(w, p, PG);
		w->ops++;
	} while (!kvb_stopped(w));
	return 0;
}

/*
 * full_fit_alloc: fls(ncpus) * 32 MiB worth of page pairs, one of each
 * pair freed, leaving one-page holes that the loop's allocations fit.
 */
static int full_fit_setup(struct kvb_worker *w)
{
	long ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t len = (size_t)(ncpus > 0 ? 64 - __builtin_clzl(ncpus) : 1) *
		     (32UL << 20) / PG;
	struct pinned *pl = pinned_alloc(len, PG);
	struct pinned *junk = pinned_alloc(len, PG);
	int err = -ENOMEM;

	if (!pl || !junk)
		goto out;
	for (size_t i = 0; i < len; i++) {
		pl->p[i] = bench_alloc(w, PG);
		junk->p[i] = bench_alloc(w, PG);
		if (!pl->p[i] || !junk->p[i])
			goto out;
	}
	w->state = pl;
	pl = NULL;
	err = 0;
out:
	pinned_free(w->run->a, junk);
	pinned_free(w->run->a, pl);
	return err;
}

/* long_busy_list_alloc: 15000 pinned pages, then 100-page + 1-page pairs. */
static int long_busy_setup(struct kvb_worker *w)
{
	struct pinned *pl = pinned_alloc(15000, PG);

	if (!pl)
		return -ENOMEM;
	for (size_t i = 0; i < pl->n; i++) {
		pl->p[i] = bench_alloc(w, PG);
		if (!pl->p[i]) {
			pinned_free(w->run->a, pl);
			return -ENOMEM;
		}
	}
	w->state = pl;
	return 0;
}

static int long_busy_body(struct kvb_worker *w)
{
	do {
		void *p1 = bench_alloc(w, 100 * PG);
		void *p2;

		if (!p1)
			return w->err;
		p2 = bench_alloc(w, PG);
		if (!p2) {
			bench_free(w, p1, 100 * PG);
			return w->err;
		}
		bench_free(w, p1, 100 * PG);
		bench_free(w, p2, PG);
		w->ops += 2;
	} while (!kvb_stopped(w));
	return 0;
}

/* random_size_alloc: 1..100 pages. */
static int random_size_body(struct kvb_worker *w)
{
	do {
		size_t size = (kvb_rand(&w->rng) % 100 + 1) * PG;
		void *p = bench_alloc(w, size);

		if (!p)
			return w->err;
		bench_free(w, p, size);
		w->ops++;
	} while (!kvb_stopped(w));
	return 0;
}

/* random_size_align_alloc: 1..10 zeroed pages aligned to 2^0 .. 2^22. */
static int random_align_body(struct kvb_worker *w)
{
	const struct kvb_alloc *a = w->run->a;

	do {
		unsigned rnd = kvb_rand(&w->rng) >> 56;
		size_t align = 1UL << (rnd % (KVB_MAX_ALIGN_SHIFT + 1));
		size_t size = (rnd % 10 + 1) * PG;
		void *p = bench_alloc_align(w, size, align);

		if (!p)
			return w->err;
		a->free_align(p, size, align);
		w->ops++;
	} while (!kvb_stopped(w));
	return 0;
}

/* align_shift_alloc: one zeroed page at each alignment 2^0 .. 2^22 in turn. */
static int align_shift_body(struct kvb_worker *w)
{
	const struct kvb_alloc *a = w->run->a;
	unsigned shift = 0;

	do {
		size_t align = 1UL << shift;
		void *p = bench_alloc_align(w, PG, align);

		if (!p)
			return w->err;
		a->free_align(p, PG, align);
		w->ops++;
		shift = shift == KVB_MAX_ALIGN_SHIFT ? 0 : shift + 1;
	} while (!kvb_stopped(w));
	return 0;
}

/*
 * small_obj and kvmalloc_mixed keep a ring of live blocks per thread: each
 * op frees a random slot's block (if any) and allocates a new one there, so
 * frees are not simply LIFO.
 */
#define RING_SLOTS 64

struct ring {
	void *p[RING_SLOTS];
	size_t size[RING_SLOTS];
};

static int ring_setup(struct kvb_worker *w)
{
	w->state = kvzalloc(sizeof(struct ring), 0);
	return w->state ? 0 : -ENOMEM;
}

static void ring_teardown(struct kvb_worker *w)
{
	struct ring *r = w->state;

	for (unsigned i = 0; i < RING_SLOTS; i++)
		if (r->p[i])
			w->run->a->free(r->p[i], r->size[i]);
	kvfree(r);
	w->state = NULL;
}

static int ring_step(struct kvb_worker *w, size_t size, unsigned slot)
{
	struct ring *r = w->state;

	if (r->p[slot])
		bench_free(w, r->p[slot], r->size[slot]);
	r->p[slot] = bench_alloc(w, size);
	r->size[slot] = size;
	if (!r->p[slot])
		return w->err;
	w->ops++;
	return 0;
}

/* small_obj: 16 .. 4096 bytes, uniformly. */
static int small_obj_body(struct kvb_worker *w)
{
	do {
		uint64_t rnd = kvb_rand(&w->rng);
		int err = ring_step(w, 16 + rnd % (4096 - 16 + 1),
				    (rnd >> 32) % RING_SLOTS);

		if (err)
			return err;
	} while (!kvb_stopped(w));
	return 0;
}

/*
 * kvmalloc_mixed: 64 B .. 1 MiB, log-uniform, in a fragmented arena.  Before
 * the threads start, 63/64 of the kv budget is allocated as 64 KiB blocks
 * and every other one freed: kv's buddy allocator is left with order-4
 * holes between pinned blocks and little else, so requests above 64 KiB
 * soon meet a failing fail-fast high-order attempt and take the vmap
 * fallback.  The other allocators get the same pre-allocations.  (64 KiB
 * rather than smaller blocks keeps kv-vmalloc's pinned areas, each one or
 * two kernel VMAs, under vm.max_map_count.)
 */
#define FRAG_BLOCK (64UL << 10)

static int mixed_run_setup(struct kvb_run *r)
{
	size_t n = (r->budget - r->budget / 64) / FRAG_BLOCK;
	struct pinned *pl = pinned_alloc(n, FRAG_BLOCK);

	if (!pl)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		pl->p[i] = r->a->alloc(FRAG_BLOCK);
		if (!pl->p[i]) {
			pinned_free(r->a, pl);
			return -ENOMEM;
		}
		kvb_touch(pl->p[i]);
	}
	for (size_t i = 1; i < n; i += 2) {
		r->a->free(pl->p[i], FRAG_BLOCK);
		pl->p[i] = NULL;
	}
	r->shared = pl;
	return 0;
}

static void mixed_run_teardown(struct kvb_run *r)
{
	pinned_free(r->a, r->shared);
	r->shared = NULL;
}

static int mixed_body(struct kvb_worker *w)
{
	do {
		uint64_t rnd = kvb_rand(&w->rng);
		/* 64 << 0..14 is 64 B .. 1 MiB; add up to as much again */
		size_t base = 64UL << (rnd % 15);
		size_t size = base + (rnd >> 16) % base;
		int err;

		if (size > (1UL << 20))
			size = 1UL << 20;
		err = ring_step(w, size, (rnd >> 8) % RING_SLOTS);
		if (err)
			return err;
	} while (!kvb_stopped(w));
	return 0;
}

const struct kvb_test kvb_tests[] = {
	{
		.name = "fix_size_alloc",
		.desc = "1 page alloc/free",
		.body = fix_size_body,
	},
	{
		.name = "full_fit_alloc",
		.desc = "1 page into holes among fls(ncpus)*32 MiB of pinned pages",
		.setup = full_fit_setup,
		.teardown = pinned_teardown,
		.body = fix_size_body,
	},
	{
		.name = "long_busy_list_alloc",
		.desc = "100 pages + 1 page, 15000 pages pinned per thread",
		.setup = long_busy_setup,
		.teardown = pinned_teardown,
		.body = long_busy_body,
	},
	{
		.name = "random_size_alloc",
		.desc = "1..100 pages",
		.body = random_size_body,
	},
	{
		.name = "random_size_align_alloc",
		.desc = "1..10 zeroed pages aligned to 2^0..2^22 bytes",
		.body = random_align_body,
	},
	{
		.name = "align_shift_alloc",
		.desc = "1 zeroed page at alignment 2^0, 2^1, .. 2^22 in turn",
		.body = align_shift_body,
	},
	{
		.name = "small_obj",
		.desc = "16..4096 B, 64 live per thread, random slot replaced",
		.setup = ring_setup,
		.teardown = ring_teardown,
		.body = small_obj_body,
	},
	{
		.name = "kvmalloc_mixed",
		.desc = "64 B..1 MiB log-uniform, 64 live per thread, fragmented arena",
		.run_setup = mixed_run_setup,
		.run_teardown = mixed_run_teardown,
		.setup = ring_setup,
		.teardown = ring_teardown,
		.body = mixed_body,
	},
};

const unsigned kvb_nr_tests = sizeof(kvb_tests) / sizeof(kvb_tests[0]);
_Static_assert(sizeof(kvb_tests) / sizeof(kvb_tests[0]) <= KVB_MAX_TESTS,
	       "raise KVB_MAX_TESTS");
