// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's measurements (bench.h): one workload with one thread
 * count, its workers started and stopped, its figure; a workload and its
 * raw twin alternated for --rounds.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench.h"

const struct wl_info wls[NWL] = {
	[SEQ_WRITE] = { "seq_write", "MB/s", RAW_SEQ_WRITE },
	[SEQ_READ] = { "seq_read", "MB/s", RAW_SEQ_READ },
	[RAND_WRITE] = { "rand_write", "ops/s", RAW_RAND_WRITE },
	[RAND_READ] = { "rand_read", "ops/s", RAW_RAND_READ },
	[TRUNCATE_1G] = { "truncate_1g", "truncates/s", -1 },
	[CREATE] = { "create", "ops/s", -1 },
	[STAT] = { "stat", "ops/s", -1 },
	[UNLINK] = { "unlink", "ops/s", -1 },
	[CREATE_SHARED] = { "create_shared", "ops/s", -1 },
	[STAT_SHARED] = { "stat_shared", "ops/s", -1 },
	[UNLINK_SHARED] = { "unlink_shared", "ops/s", -1 },
	[CREATE_4K] = { "create_4k", "ops/s", -1 },
	[UNLINK_4K] = { "unlink_4k", "ops/s", -1 },
	[DIR_LOOKUP] = { "dir_lookup", "ops/s", -1 },
	[DIR_LOOKUP_READS] = { "dir_lookup_reads", "reads", -1 },
	[READDIR] = { "readdir", "entries/s", -1 },
	[RAW_SEQ_WRITE] = { "raw_seq_write", "MB/s", -1 },
	[RAW_SEQ_READ] = { "raw_seq_read", "MB/s", -1 },
	[RAW_RAND_WRITE] = { "raw_rand_write", "ops/s", -1 },
	[RAW_RAND_READ] = { "raw_rand_read", "ops/s", -1 },
};

/* each workload right before its raw twin: the same host conditions */
const int order[NWL] = {
	SEQ_WRITE,     RAW_SEQ_WRITE,  SEQ_READ,      RAW_SEQ_READ,
	RAND_WRITE,    RAW_RAND_WRITE, RAND_READ,     RAW_RAND_READ,
	TRUNCATE_1G,   CREATE,	       STAT,	      UNLINK,
	CREATE_SHARED, STAT_SHARED,    UNLINK_SHARED, CREATE_4K,
	UNLINK_4K,     DIR_LOOKUP,     READDIR,	      DIR_LOOKUP_READS
};

atomic_bool stop;
double stop_at;

/* User and system time of the whole process so far (every thread). */
static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	switch (w->wl) {
	case SEQ_WRITE:
	case RAW_SEQ_WRITE:
		io_loop(w, true, true);
		break;
	case SEQ_READ:
	case RAW_SEQ_READ:
		io_loop(w, true, false);
		break;
	case RAND_WRITE:
	case RAW_RAND_WRITE:
		io_loop(w, false, true);
		break;
	case RAND_READ:
	case RAW_RAND_READ:
		io_loop(w, false, false);
		break;
	case TRUNCATE_1G:
		truncate_loop(w);
		break;
	case DIR_LOOKUP:
	case READDIR:
		big_loop(w);
		break;
	default:
		ns_loop(w, &ns_files(w->wl)[w->idx]);
	}
	return NULL;
}

/* One measurement: 0 and *value, or a negative errno. */
static int run(enum wl wl, unsigned nthreads, double *value)
{
	struct target *t = wl >= RAW_SEQ_WRITE ? &raw_file : &kv_file;
	struct worker w[NS_MAX];
	struct timespec ts = {
		.tv_sec = (time_t)opt_seconds,
		.tv_nsec = (long)((opt_seconds - (time_t)opt_seconds) * 1e9),
	};
	double t0, c0, secs, pcpu, sum = 0, busy = 0, cpu = 0;
	uint64_t ops = 0, slice = opt_size / nthreads / SEQ_IO * SEQ_IO;
	/* filled: every slice written to its end, the slices the whole file */
	bool wrapped = slice * nthreads == opt_size;
	struct kvfs_stats st0;
	unsigned i;
	int err = 0;

	if (wl == SEQ_WRITE) {
		/*
		 * Allocating writes: the file starts empty.  Written whole
		 * once first (untimed), as the raw twin is: the blocks the
		 * truncate frees are reused once the sync below has made
		 * the truncate durable, so both sides write into pages of
		 * the host's cache that exist, where the first round of a
		 * fresh sparse image timed the host's block and page
		 * allocation (218 MB/s against 4945 in the third round)
		 */
		err = fill(t);
		if (!err)
			err = t_truncate(t, 0);
		t->filled = false;
	} else if (ns_wl(wl)) {
		err = ns_prepare(wl, nthreads);
	} else if (wl >= DIR_LOOKUP && wl <= READDIR) {
		err = big_build();
		if (!err && wl == DIR_LOOKUP_READS)
			return lookup_reads(value);
		if (!err && wl == DIR_LOOKUP)
			err = big_warm_up();
	} else if (wl != TRUNCATE_1G) {
		err = fill(t);
	}
	if (err)
		return err;
	/*
	 * The previous measurement's work made durable and written back
	 * first, so that it does not slow this one: the core's (its log: the
	 * checkpoint of the file just emptied, whose freed blocks stay busy,
	 * not to be reused, until it is on disk; the AIL's write-back of the
	 * creates before a stat run, which took 0.7 us of a stat's 2.4), then
	 * the host's dirty pages.
	 */
	err = kvfs_writeback(mp);
	if (err)
		return err;
	if (syncfs(raw_file.fd))
		return -errno;
	if (opt_stats) {
		kvfs_stats(mp, &st0, NULL, 0);
		stats_start();
	}
	atomic_store(&stop, false);
	t0 = now();
	c0 = cpu_now();
	/* a fixed count: the workers end by themselves */
	stop_at = opt_ops && ns_wl(wl) ? 0 : t0 + opt_seconds;
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct worker){
			.wl = wl, .t = t, .idx = i, .nthreads = nthreads
		};
		if (pthread_create(&w[i].th, NULL, work, &w[i])) {
			atomic_store(&stop, true);
			err = -EAGAIN;
			break;
		}
	}
	if (stop_at) {
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		atomic_store(&stop, true);
	}
	nthreads = i;
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].err && !err)
			err = w[i].err;
		ops += w[i].ops;
		wrapped &= w[i].ops * SEQ_IO >= slice;
		if (w[i].busy > 0)
			sum += w[i].ops / w[i].busy;
		if (w[i].busy > busy)
			busy = w[i].busy;
		cpu += w[i].cpu;
	}
	pcpu = cpu_now() - c0;
	secs = opt_cpu ? pcpu : now() - t0;
	if (err)
		return err;
	if (opt_stats && ops)
		print_stats(wl, nthreads, &st0, ops);
	if (wl == SEQ_WRITE)
		t->filled = wrapped;
	switch (wl) {
	case SEQ_WRITE:
	case SEQ_READ:
	case RAW_SEQ_WRITE:
	case RAW_SEQ_READ:
		*value = ops * (double)SEQ_IO / secs / 1e6;
		break;
	case TRUNCATE_1G:
		*value = sum;
		break;
	case RAND_WRITE:
	case RAND_READ:
	case RAW_RAND_WRITE:
	case RAW_RAND_READ:
		*value = ops / secs;
		break;
	default:
		/*
		 * The namespace: until the slowest thread stopped (an unlink
		 * run ends when the files do).  Its CPU time per operation
		 * on stderr: a figure that the host's other load moves less.
		 */
		*value = busy > 0 ? ops / busy : 0;
		/*
		 * The workers' CPU, then the process's: the core's
		 * threads (log pushes, writeback, inode GC) share the
		 * machine's CPUs with the workers.
		 */
		if (ops && ns_wl(wl))
			fprintf(stderr,
				"%s, %u threads: %.2f us CPU per op (%" PRIu64
				" ops)\n%s, %u threads: %.2f us process CPU "
				"per op\n",
				wls[wl].name, nthreads, cpu * 1e6 / ops, ops,
				wls[wl].name, nthreads, pcpu * 1e6 / ops);
	}
	return 0;
}

/*
 * One workload with run r's thread count; a workload with a raw twin runs
 * with it, --rounds times each in turn (the twin then measured already).
 */
int measure(int wl, unsigned r)
{
	int twin = wls[wl].raw_twin, w[2] = { wl, twin };
	unsigned nw = twin >= 0 && opt_wl[twin] ? 2 : 1;
	unsigned rounds = twin >= 0 ? opt_rounds : 1;
	double v[2][99];

	if (!opt_wl[wl] || have[r][wl])
		return 0;
	for (unsigned i = 0; i < rounds; i++) {
		for (unsigned j = 0; j < nw; j++) {
			int err = run(w[j], opt_threads[r], &v[j][i]);

			if (err) {
				fprintf(stderr, PROG ": %s, %u threads: %s\n",
					wls[w[j]].name, opt_threads[r],
					strerror(-err));
				return -1;
			}
		}
	}
	for (unsigned j = 0; j < nw; j++)
		record(w[j], r, v[j], rounds);
	return 0;
}
