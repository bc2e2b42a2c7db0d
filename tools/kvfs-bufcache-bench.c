// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-bufcache-bench: lookups per second of cached metadata blocks.
 *
 * Fills a scratch image with blocks, reads them all into one buffer cache,
 * then has N threads look up random cached blocks (kv_buf_read() +
 * kv_buf_rele(), the lock-free hit path) for S seconds, and prints lookups
 * per second per thread and in total.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf.h"
#include "fs/io/dev.h"
#include "tools/cli.h"
#include "tools/report.h"

#define BLKSIZE 4096u

static struct kv_bcache *bc;
static unsigned nr_blocks = 4096;
static atomic_bool stop;

struct worker {
	pthread_t th;
	unsigned id;
	uint64_t lookups;
	double cpu_secs; /* CPU time the thread got: the box is shared */
	int err;
};

static double thread_cpu_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t x = 0x9e3779b97f4a7c15ull * (w->id + 1), n = 0;
	double cpu0 = thread_cpu_secs();

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 1024; i++) {
			struct kv_buf *bp;
			int err;

			/* xorshift64: a random cached block each time */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			err = kv_buf_read(bc, x % nr_blocks, 1, NULL, &bp);
			if (err) {
				w->err = err;
				return NULL;
			}
			kv_buf_rele(bp);
		}
		n += 1024;
	}
	w->lookups = n;
	w->cpu_secs = thread_cpu_secs() - cpu0;
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvfs-bufcache-bench [--threads N] [--seconds S] [--blocks B]\n"
		"  Look up random cached 4 KiB metadata blocks from N threads for S\n"
		"  seconds in a cache of B blocks; print lookups/s per thread.\n"
		"  defaults: --threads 1 --seconds 3 --blocks 4096\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "blocks", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned nthreads = 1, seconds = 3;
	struct kv_config cfg = { 0 };
	struct kv_bcache_stats st;
	struct worker *w = NULL;
	struct timespec t0, t1;
	struct kv_dev *dev = NULL;
	char path[] = "/tmp/kvfs-bufcache-bench-XXXXXX";
	uint64_t total = 0;
	double secs;
	int c, fd, err, ret = 1;

	while ((c = getopt_long(argc, argv, "t:s:b:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_uint("kvfs-bufcache-bench", "--threads", optarg,
				     1, 1u << 24, &nthreads))
				return 1;
			break;
		case 's':
			if (cli_uint("kvfs-bufcache-bench", "--seconds", optarg,
				     1, 1u << 24, &seconds))
				return 1;
			break;
		case 'b':
			if (cli_uint("kvfs-bufcache-bench", "--blocks", optarg,
				     1, 1u << 24, &nr_blocks))
				return 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr,
			"kvfs-bufcache-bench: unexpected argument '%s'\n",
			argv[optind]);
		return 1;
	}

	/* contents plus slab and hash overhead, with room to spare */
	cfg.budget_bytes = ((size_t)nr_blocks * BLKSIZE * 2 + (64u << 20)) &
			   ~(size_t)(KV_PAGE_SIZE - 1);
	tool_report_init("kvfs-bufcache-bench");
	err = kv_init(&cfg);
	if (err) {
		fprintf(stderr, "kvfs-bufcache-bench: kv_init: %s\n",
			strerror(-err));
		return 1;
	}
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)nr_blocks * BLKSIZE) < 0) {
		fprintf(stderr, "kvfs-bufcache-bench: scratch image %s: %s\n",
			path, strerror(errno));
		goto out_fini;
	}
	close(fd);
	err = kv_dev_open(path, 0, &dev);
	if (!err)
		err = kv_bcache_create(dev, BLKSIZE, 0, &bc);
	if (err) {
		fprintf(stderr, "kvfs-bufcache-bench: %s: %s\n", path,
			strerror(-err));
		goto out_dev;
	}
	for (unsigned b = 0; b < nr_blocks; b++) {
		struct kv_buf *bp;

		err = kv_buf_read(bc, b, 1, NULL, &bp);
		if (err) {
			fprintf(stderr,
				"kvfs-bufcache-bench: read block %u: %s\n", b,
				strerror(-err));
			goto out_cache;
		}
		kv_buf_rele(bp);
	}

	w = calloc(nthreads, sizeof(*w));
	if (!w) {
		fprintf(stderr, "kvfs-bufcache-bench: out of memory\n");
		goto out_cache;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < nthreads; i++) {
		w[i].id = i;
		if (pthread_create(&w[i].th, NULL, work, &w[i])) {
			fprintf(stderr,
				"kvfs-bufcache-bench: pthread_create failed\n");
			atomic_store(&stop, true);
			nthreads = i;
			goto out_join;
		}
	}
	sleep(seconds);
	atomic_store(&stop, true);
	ret = 0;
out_join:
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].err) {
			fprintf(stderr, "kvfs-bufcache-bench: lookup: %s\n",
				strerror(-w[i].err));
			ret = 1;
		}
		total += w[i].lookups;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (!ret) {
		secs = (double)(t1.tv_sec - t0.tv_sec) +
		       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		kv_bcache_get_stats(bc, &st);
		printf("threads %u blocks %u seconds %.2f\n", nthreads,
		       nr_blocks, secs);
		for (unsigned i = 0; i < nthreads; i++)
			printf("thread %u: %.2f M lookups/s, %.2f M per "
			       "CPU-second (%.0f%% of a CPU)\n",
			       i, (double)w[i].lookups / secs / 1e6,
			       (double)w[i].lookups / w[i].cpu_secs / 1e6,
			       100.0 * w[i].cpu_secs / secs);
		printf("total: %.2f M lookups/s, %.2f M lookups/s per thread\n",
		       (double)total / secs / 1e6,
		       (double)total / secs / 1e6 / nthreads);
		printf("cache: hits %llu misses %llu reads %llu\n",
		       (unsigned long long)st.hits,
		       (unsigned long long)st.misses,
		       (unsigned long long)st.reads);
	}
	free(w);
out_cache:
	kv_bcache_destroy(bc);
out_dev:
	kv_dev_close(dev);
	unlink(path);
out_fini:
	kv_fini();
	return ret;
}
