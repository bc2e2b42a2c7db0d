// SPDX-License-Identifier: GPL-2.0
/*
 * kvalloc-bench: command line, measurement loop and output.
 *
 * Every (threads, test, allocator) triple is one measurement: the threads
 * run their untimed setup, meet at a barrier, run the test body until the
 * main thread raises the stop flag after --seconds, meet again, and tear
 * down.  kv's lock-class counters are read at the two barriers, so the
 * contention printed is that of the timed part only.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "alloc/report.h"
#include "bench.h"

#define MAX_THREAD_LISTS 16
#define MAX_THREADS 1024
/* marks the one re-exec made to get static TLS for dlopen()ed allocators */
#define REEXEC_ENV "KVALLOC_BENCH_REEXEC"
#define TLS_TUNABLE "glibc.rtld.optional_static_tls=16384"

/*
 * The allocator's reports (a leak, an invalid free) on stderr.  Not
 * tools/report.c's hook, which reads the journal's error tags too.
 */
static void report(int level, const char *msg)
{
	(void)level;
	fprintf(stderr, "kvalloc-bench: %s\n", msg);
}

struct opts {
	bool want_test[KVB_MAX_TESTS];
	bool want_alloc[KVB_MAX_ALLOCS];
	unsigned threads[MAX_THREAD_LISTS];
	unsigned nr_threads;
	double seconds;
	size_t budget;
	bool csv;
	bool contention;
};

struct lock_delta {
	unsigned nr;
	struct {
		char name[24];
		uint64_t contended;
		uint64_t acquired;
	} lock[KV_LOCK_CLASSES_MAX];
};

struct result {
	double rate;
	struct lock_delta locks;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvalloc-bench [OPTIONS]\n"
		"Allocator benchmark: a userspace port of the kernel's test_vmalloc suite\n"
		"plus small-object and mixed-size tests, run against kvfs's allocator and\n"
		"glibc malloc, jemalloc and mimalloc, all in this one process.\n"
		"\n"
		"  -l, --list            list the tests and allocators, then exit\n"
		"  -t, --test NAME       run test NAME (repeatable; default: all tests)\n"
		"  -n, --threads N[,N..] thread counts to measure (default: 1)\n"
		"  -a, --alloc NAME[,..] kv, kv-vmalloc, glibc, jemalloc, mimalloc or all\n"
		"                        (repeatable; default: all)\n"
		"  -s, --seconds S       time per measurement, fractions "
		"allowed (default 1)\n"
		"  -b, --budget SIZE     kv arena size, K/M/G suffix (default 1G); also\n"
		"                        sizes kvmalloc_mixed's fragmented arena for all\n"
		"  -c, --csv             print 'test,threads,allocator,ops_per_sec' and one\n"
		"                        line per measurement, nothing else on stdout\n"
		"  -C, --contention      one 'contention:' summary line per kv measurement\n"
		"                        (on stderr with --csv)\n"
		"  -h, --help            this text\n"
		"\n"
		"An op is one allocation that is also freed, counted the same way for every\n"
		"allocator; ops_per_sec sums all threads.  Without --csv the table shows\n"
		"each allocator's ratio against kv, kv's lock contention "
		"(contended/acquired\n"
		"per lock class during the timed part) after each kv measurement, and kv's\n"
		"statistics at the end.\n"
		"\n"
		"Loading: jemalloc (libjemalloc.so.2) and mimalloc (libmimalloc.so.2) are\n"
		"dlopen()ed with RTLD_LOCAL and called through mallocx/sdallocx and\n"
		"mi_malloc/mi_free/mi_zalloc_aligned only, so they never replace the\n"
		"process malloc; glibc is called through libc.so.6's own malloc/free,\n"
		"checked with dladdr().  Debian's jemalloc needs more static TLS than\n"
		"dlopen() has spare, so when that is why dlopen() fails the program\n"
		"re-executes itself with\n"
		"  GLIBC_TUNABLES=" TLS_TUNABLE "\n"
		"and if that is not enough, once more with the library in LD_PRELOAD (the\n"
		"back-ends still call only their own entry points).\n"
		"kv-vmalloc is kv's explicit vmap path (kv_vmalloc/kv_vfree): use it with\n"
		"random_size_alloc to measure vmap zone contention.\n");
}

static int find_test(const char *name)
{
	for (unsigned i = 0; i < kvb_nr_tests; i++)
		if (!strcmp(kvb_tests[i].name, name))
			return (int)i;
	return -1;
}

static void list(void)
{
	printf("tests:\n");
	for (unsigned i = 0; i < kvb_nr_tests; i++)
		printf("  %-24s %s\n", kvb_tests[i].name, kvb_tests[i].desc);
	printf("allocators:\n");
	for (unsigned i = 0; i < kvb_nr_allocs; i++)
		printf("  %-24s %s\n", kvb_allocs[i].name, kvb_allocs[i].desc);
}

/*
 * Copies a comma list out of argv before strtok_r() cuts it up: a re-exec
 * must see argv unchanged.
 */
static int copy_list(char *buf, size_t len, const char *arg)
{
	if ((size_t)snprintf(buf, len, "%s", arg) < len)
		return 0;
	fprintf(stderr, "kvalloc-bench: list too long: '%s'\n", arg);
	return -EINVAL;
}

static int parse_allocs(struct opts *o, const char *arg)
{
	char *save = NULL, buf[256];

	if (copy_list(buf, sizeof(buf), arg))
		return -EINVAL;
	for (char *s = strtok_r(buf, ",", &save); s;
	     s = strtok_r(NULL, ",", &save)) {
		struct kvb_alloc *a = kvb_alloc_find(s);

		if (!strcmp(s, "all")) {
			for (unsigned i = 0; i < kvb_nr_allocs; i++)
				o->want_alloc[i] = true;
		} else if (a) {
			o->want_alloc[a - kvb_allocs] = true;
		} else {
			fprintf(stderr,
				"kvalloc-bench: unknown allocator '%s' (see --list)\n",
				s);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_threads(struct opts *o, const char *arg)
{
	char *save = NULL, buf[256];

	if (copy_list(buf, sizeof(buf), arg))
		return -EINVAL;
	for (char *s = strtok_r(buf, ",", &save); s;
	     s = strtok_r(NULL, ",", &save)) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);

		if (*end || n < 1 || n > MAX_THREADS) {
			fprintf(stderr,
				"kvalloc-bench: bad thread count '%s' (1..%d)\n",
				s, MAX_THREADS);
			return -EINVAL;
		}
		if (o->nr_threads == MAX_THREAD_LISTS) {
			fprintf(stderr,
				"kvalloc-bench: more than %d thread counts\n",
				MAX_THREAD_LISTS);
			return -EINVAL;
		}
		o->threads[o->nr_threads++] = (unsigned)n;
	}
	return 0;
}

static int parse_size(const char *arg, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(arg, &end, 10);
	unsigned shift = 0;

	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	}
	if (end == arg || *end || v == 0 || v > (~0ULL >> (shift + 1)))
		return -EINVAL;
	*out = (size_t)(v << shift);
	return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "test", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'n' },
		{ "alloc", required_argument, NULL, 'a' },
		{ "seconds", required_argument, NULL, 's' },
		{ "budget", required_argument, NULL, 'b' },
		{ "csv", no_argument, NULL, 'c' },
		{ "contention", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool any_test = false, any_alloc = false;
	/* "+": no argv permutation, so a re-exec gets argv as it was given */
	char *end;
	int c, t;

	o->seconds = 1.0;
	o->budget = 1UL << 30;
	while ((c = getopt_long(argc, argv, "+lt:n:a:s:b:cCh", lopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'l':
			list();
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case 't':
			t = find_test(optarg);
			if (t < 0) {
				fprintf(stderr,
					"kvalloc-bench: unknown test '%s' (see --list)\n",
					optarg);
				return -EINVAL;
			}
			o->want_test[t] = any_test = true;
			break;
		case 'n':
			if (parse_threads(o, optarg))
				return -EINVAL;
			break;
		case 'a':
			if (parse_allocs(o, optarg))
				return -EINVAL;
			any_alloc = true;
			break;
		case 's':
			o->seconds = strtod(optarg, &end);
			if (end == optarg || *end || !isfinite(o->seconds) ||
			    o->seconds <= 0 || o->seconds > 3600) {
				fprintf(stderr,
					"kvalloc-bench: bad --seconds '%s' (0 < S <= 3600)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'b':
			if (parse_size(optarg, &o->budget) ||
			    o->budget < (16UL << 20)) {
				fprintf(stderr,
					"kvalloc-bench: bad --budget '%s' (at least 16M)\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			o->csv = true;
			break;
		case 'C':
			o->contention = true;
			break;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvalloc-bench: unexpected argument '%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	for (unsigned i = 0; !any_test && i < kvb_nr_tests; i++)
		o->want_test[i] = true;
	for (unsigned i = 0; !any_alloc && i < kvb_nr_allocs; i++)
		o->want_alloc[i] = true;
	if (!o->nr_threads)
		o->threads[o->nr_threads++] = 1;
	return 0;
}

/* Appends item to the colon-separated environment list var. */
static int env_append(const char *var, const char *item)
{
	const char *old = getenv(var);
	char *val;
	int ret;

	if (old && *old)
		ret = asprintf(&val, "%s:%s", old, item);
	else
		ret = asprintf(&val, "%s", item);
	if (ret < 0)
		return -ENOMEM;
	ret = setenv(var, val, 1) ? -errno : 0;
	free(val);
	return ret;
}

/*
 * dlopen() of soname failed for lack of static TLS: re-executes the
 * program, first with more static TLS for dlopen(), and if that was not
 * enough, with soname in LD_PRELOAD (which gets static TLS at startup; the
 * back-ends still call only their own entry points, so the process malloc
 * being interposed changes no measurement).  Returns if both were tried.
 */
static void reexec_for_tls(char **argv, const char *soname)
{
	const char *stage = getenv(REEXEC_ENV);

	if (!stage) {
		if (env_append("GLIBC_TUNABLES", TLS_TUNABLE) ||
		    setenv(REEXEC_ENV, "tunable", 1))
			return;
	} else if (!strcmp(stage, "tunable")) {
		if (env_append("LD_PRELOAD", soname) ||
		    setenv(REEXEC_ENV, "preload", 1))
			return;
	} else {
		return;
	}
	execv("/proc/self/exe", argv);
}

static int load_allocs(struct opts *o, char **argv)
{
	char err[256];

	for (unsigned i = 0; i < kvb_nr_allocs; i++) {
		struct kvb_alloc *a = &kvb_allocs[i];

		if (!o->want_alloc[i] || !a->load ||
		    !a->load(a, err, sizeof(err)))
			continue;
		if (strstr(err, "static TLS")) {
			reexec_for_tls(argv, a->soname);
			if (!a->load(a, err, sizeof(err)))
				continue;
		}
		fprintf(stderr, "kvalloc-bench: cannot load %s: %s\n", a->name,
			err);
		return -ENOENT;
	}
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* barriers: setup done (main reads counters), go, body done */
static pthread_barrier_t bar_ready, bar_go, bar_done;

static void *worker_main(void *arg)
{
	struct kvb_worker *w = arg;
	const struct kvb_test *t = w->run->test;
	int setup_err = t->setup ? t->setup(w) : 0;
	double t0;

	w->err = setup_err;
	pthread_barrier_wait(&bar_ready);
	pthread_barrier_wait(&bar_go);
	if (!setup_err) {
		t0 = now();
		w->err = t->body(w);
		w->secs = now() - t0;
	}
	pthread_barrier_wait(&bar_done);
	if (!setup_err && t->teardown)
		t->teardown(w);
	return NULL;
}

static void lock_snapshot(struct kv_stats *st, bool is_kv)
{
	if (is_kv)
		kv_stats(st);
	else
		memset(st, 0, sizeof(*st));
}

static void lock_diff(const struct kv_stats *a, const struct kv_stats *b,
		      struct lock_delta *d)
{
	d->nr = b->nr_lock_classes;
	for (unsigned i = 0; i < d->nr; i++) {
		bool old = i < a->nr_lock_classes;

		memcpy(d->lock[i].name, b->lock[i].name,
		       sizeof(d->lock[i].name));
		d->lock[i].contended =
			b->lock[i].contended - (old ? a->lock[i].contended : 0);
		d->lock[i].acquired =
			b->lock[i].acquired - (old ? a->lock[i].acquired : 0);
	}
}

static void sleep_for(double secs)
{
	struct timespec ts = { (time_t)secs,
			       (long)((secs - (time_t)secs) * 1e9) };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

/* Runs one measurement; 0 or -errno (message already printed). */
static int measure(struct kvb_run *r, unsigned nthreads, double secs,
		   struct result *res)
{
	struct kvb_worker *w = kvzalloc(nthreads * sizeof(*w), 0);
	struct kv_stats *st = kvmalloc(2 * sizeof(*st), 0);
	unsigned started = 0;
	int err = -ENOMEM;

	memset(res, 0, sizeof(*res));
	if (!w || !st) {
		fprintf(stderr, "kvalloc-bench: out of memory\n");
		goto out;
	}
	atomic_store(&r->stop, false);
	if (r->test->run_setup) {
		err = r->test->run_setup(r);
		if (err) {
			fprintf(stderr,
				"kvalloc-bench: %s: %s: setup failed: %s\n",
				r->test->name, r->a->name, strerror(-err));
			goto out;
		}
	}
	pthread_barrier_init(&bar_ready, NULL, nthreads + 1);
	pthread_barrier_init(&bar_go, NULL, nthreads + 1);
	pthread_barrier_init(&bar_done, NULL, nthreads + 1);
	for (; started < nthreads; started++) {
		w[started].run = r;
		w[started].idx = started;
		/* the same sequence for every allocator */
		w[started].rng = 0x9e3779b97f4a7c15ULL * (started + 1) ^
				 (r->test_idx + 1);
		err = -pthread_create(&w[started].tid, NULL, worker_main,
				      &w[started]);
		if (err) {
			/* nobody can pass the barriers now: this is fatal */
			fprintf(stderr, "kvalloc-bench: pthread_create: %s\n",
				strerror(-err));
			exit(1);
		}
	}
	pthread_barrier_wait(&bar_ready);
	lock_snapshot(&st[0], r->a->is_kv);
	pthread_barrier_wait(&bar_go);
	sleep_for(secs);
	atomic_store(&r->stop, true);
	pthread_barrier_wait(&bar_done);
	lock_snapshot(&st[1], r->a->is_kv);
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].tid, NULL);
	pthread_barrier_destroy(&bar_ready);
	pthread_barrier_destroy(&bar_go);
	pthread_barrier_destroy(&bar_done);
	if (r->test->run_teardown)
		r->test->run_teardown(r);

	err = 0;
	for (unsigned i = 0; i < started; i++) {
		if (w[i].err) {
			fprintf(stderr,
				"kvalloc-bench: %s: %s: thread %u: %s allocation of %zu bytes failed\n",
				r->test->name, r->a->name, i,
				w[i].secs > 0 ? "timed" : "setup",
				w[i].fail_size);
			err = w[i].err;
			continue;
		}
		if (w[i].secs > 0)
			res->rate += (double)w[i].ops / w[i].secs;
	}
	/* a rate from the threads that did not fail would mislead */
	if (err)
		res->rate = 0;
	lock_diff(&st[0], &st[1], &res->locks);
out:
	kvfree(st);
	kvfree(w);
	/* the next measurement starts without this one's lazy vmap areas */
	if (r->a->is_kv)
		kv_vmap_purge();
	return err;
}

static void print_locks(FILE *f, const char *prefix, const struct result *res)
{
	uint64_t c = 0, a = 0;

	for (unsigned i = 0; i < res->locks.nr; i++) {
		c += res->locks.lock[i].contended;
		a += res->locks.lock[i].acquired;
	}
	fprintf(f, "%scontended=%llu acquired=%llu", prefix,
		(unsigned long long)c, (unsigned long long)a);
	for (unsigned i = 0; i < res->locks.nr; i++)
		if (res->locks.lock[i].acquired)
			fprintf(f, " %s=%llu/%llu", res->locks.lock[i].name,
				(unsigned long long)res->locks.lock[i]
					.contended,
				(unsigned long long)res->locks.lock[i]
					.acquired);
	fputc('\n', f);
}

/* One (threads, test) group of the table: rows, then kv's lock lines. */
static void print_group(const struct opts *o, const struct kvb_test *t,
			unsigned nthreads, const struct result *res)
{
	int kv = (int)(kvb_alloc_find("kv") - kvb_allocs);

	if (!o->want_alloc[kv])
		kv = -1;

	for (unsigned i = 0; i < kvb_nr_allocs; i++) {
		if (!o->want_alloc[i])
			continue;
		printf("%-24s %3u %-11s %14.0f", t->name, nthreads,
		       kvb_allocs[i].name, res[i].rate);
		if (kv >= 0 && res[kv].rate > 0)
			printf(" %7.2f\n", res[i].rate / res[kv].rate);
		else
			printf(" %7s\n", "-");
	}
	for (unsigned i = 0; i < kvb_nr_allocs; i++) {
		char prefix[64];

		if (!o->want_alloc[i] || !kvb_allocs[i].is_kv)
			continue;
		snprintf(prefix, sizeof(prefix),
			 "    %s locks: ", kvb_allocs[i].name);
		print_locks(stdout, prefix, &res[i]);
	}
}

static void print_kv_stats(void)
{
	int len = kv_stats_format(NULL, 0);
	char *buf;

	if (len < 0)
		return;
	buf = kvmalloc((size_t)len + 1, 0);
	if (!buf)
		return;
	kv_stats_format(buf, (size_t)len + 1);
	printf("\nkv statistics:\n%s", buf);
	if (len > 0 && buf[len - 1] != '\n')
		putchar('\n');
	kvfree(buf);
}

static int run_all(const struct opts *o)
{
	struct result res[KVB_MAX_ALLOCS];
	bool any_kv = false;
	int ret = 0;

	if (o->csv) {
		printf("test,threads,allocator,ops_per_sec\n");
	} else {
		printf("kvalloc-bench: %.2f s per measurement, "
		       "kv budget %zu MiB, %ld CPUs online\n",
		       o->seconds, o->budget >> 20,
		       sysconf(_SC_NPROCESSORS_ONLN));
		for (unsigned i = 0; i < kvb_nr_allocs; i++)
			if (o->want_alloc[i])
				printf("  %-11s %s\n", kvb_allocs[i].name,
				       kvb_allocs[i].origin[0] ?
					       kvb_allocs[i].origin :
					       kvb_allocs[i].desc);
		printf("%-24s %3s %-11s %14s %7s\n", "test", "thr", "allocator",
		       "ops/sec", "vs kv");
	}
	for (unsigned ti = 0; ti < o->nr_threads; ti++) {
		for (unsigned t = 0; t < kvb_nr_tests; t++) {
			if (!o->want_test[t])
				continue;
			for (unsigned i = 0; i < kvb_nr_allocs; i++) {
				struct kvb_run r = {
					.a = &kvb_allocs[i],
					.test = &kvb_tests[t],
					.test_idx = t,
					.budget = o->budget,
				};
				char prefix[160];

				if (!o->want_alloc[i])
					continue;
				if (measure(&r, o->threads[ti], o->seconds,
					    &res[i]))
					ret = 1;
				if (o->csv)
					printf("%s,%u,%s,%.0f\n",
					       kvb_tests[t].name,
					       o->threads[ti],
					       kvb_allocs[i].name, res[i].rate);
				fflush(stdout);
				if (!o->contention || !r.a->is_kv)
					continue;
				snprintf(
					prefix, sizeof(prefix),
					"contention: test=%s threads=%u allocator=%s ",
					kvb_tests[t].name, o->threads[ti],
					r.a->name);
				print_locks(o->csv ? stderr : stdout, prefix,
					    &res[i]);
			}
			if (!o->csv)
				print_group(o, &kvb_tests[t], o->threads[ti],
					    res);
			fflush(stdout);
		}
	}
	for (unsigned i = 0; i < kvb_nr_allocs; i++)
		any_kv |= o->want_alloc[i] && kvb_allocs[i].is_kv;
	if (!o->csv && any_kv)
		print_kv_stats();
	return ret;
}

int main(int argc, char **argv)
{
	struct kv_config cfg = { 0 };
	struct opts o = { 0 };
	int ret;

	if (parse_opts(argc, argv, &o))
		return 2;
	kv_report_set_hook(report);
	/* before kv_init(): a re-exec must not leave an arena behind */
	if (load_allocs(&o, argv))
		return 1;
	cfg.budget_bytes = o.budget;
	/* lazily purged areas and 4 MiB alignments need room beyond the budget */
	cfg.vmap_window = 4 * o.budget;
	ret = kv_init(&cfg);
	if (ret) {
		fprintf(stderr, "kvalloc-bench: kv_init(budget %zu MiB): %s\n",
			o.budget >> 20, strerror(-ret));
		return 1;
	}
	ret = run_all(&o);
	kv_fini();
	return ret;
}
