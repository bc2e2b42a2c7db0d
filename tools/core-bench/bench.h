/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs-core-bench: the filesystem core's data path (fs/kvfs.h) against the
 * host filesystem it runs on.
 *
 * Makes a sparse kvfs image with the library's mkfs in a temporary
 * directory (or takes --image), opens it with kvfs_open() and runs each
 * workload for --seconds with each --threads count:
 *   seq_write   1 MiB writes, each thread sequentially through its slice
 *               of one --size file that starts empty (allocating writes;
 *               overwrites once a slice wraps; the file is written whole
 *               once, untimed, before it is emptied, as the raw twin
 *               is, so that the host's allocation of the sparse image
 *               is not timed); MB/s
 *   seq_read    1 MiB reads likewise of the written file; MB/s
 *   rand_write  4 KiB overwrites at random aligned offsets of it; ops/s
 *   rand_read   4 KiB reads likewise; ops/s
 *   truncate_1g truncates to 0 per second of a 1 GiB file made of 1 MiB
 *               extents (fallocated between the 4 KiB extents of a spacer
 *               file, so that no two are contiguous), each thread its own
 *               file; only the truncate (kvfs_setattr) is timed
 *   raw_*       the same I/O as plain pread/pwrite on a raw file of the
 *               same size in the image's directory: the ceiling (the raw
 *               file is written whole first: raw_seq_write overwrites,
 *               the host's fastest write, where emptying it would time
 *               the host's block and page allocation)
 *   create, stat, unlink
 *               empty regular files, each thread in its own directory;
 *               ops/s (a stat is kvfs_lookup() then kvfs_getattr(), as
 *               FUSE asks; an unlink run ends early when its thread has
 *               removed every file the creates left)
 *   create_4k, unlink_4k
 *               the same with 4 KiB of data written into each new file
 *               (an extent to allocate, and to free at the unlink)
 *   create_shared, stat_shared, unlink_shared
 *               the same with every thread in one directory
 *   dir_lookup  kvfs_lookup() of random names of a directory of
 *               --dir-entries files, warm (every name looked up once,
 *               untimed, after a remount); ops/s
 *   dir_lookup_reads
 *               buffer reads of one cold kvfs_dir_lookup() in it (the
 *               buffer cache synced and emptied before each), one thread
 *               whatever --threads; reads
 *   readdir     kvfs_readdir() of the whole directory in pages of 128
 *               entries, as FUSE pages; entries/s
 * The directory of --dir-entries is built (untimed but reported on
 * stderr) by the first workload that needs it, checked (every entry
 * returned by readdir once), and at the end emptied (reported) and
 * checked to be short form again with no blocks.
 * The kvfs files are unnamed (kvfs_tmpfile()), freed at the end.  No
 * fsync is timed: both sides measure their write path into the host's
 * page cache, where the image's data lands too; the core (kvfs_sync())
 * and the host filesystem are synced (untimed) before each measurement.
 * A workload with a raw twin runs --rounds times alternated with it, and
 * each side's median is its figure (every round on stderr).  With --cpu,
 * rates are per CPU second of the process rather than per second.
 *
 * The pieces (tools/core-bench/): io.c the I/O workloads and truncate_1g
 * on a target, ns.c the namespace workloads, bigdir.c the directory of
 * --dir-entries and its workloads, run.c one measurement and a workload's
 * rounds, stats.c --stats, output.c the figures kept and printed,
 * setup.c the image and the raw file, main.c the command line.  The
 * state they share is declared here, each with the file that defines it;
 * all other state is its file's own.
 *
 * Locks: the bench owns none; the core locks what it touches.
 */
#ifndef KV_TOOLS_CORE_BENCH_BENCH_H
#define KV_TOOLS_CORE_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "fs/kvfs.h"

#define PROG "kvfs-core-bench"
#define MAX_RUNS 16
#define SEQ_IO (1u << 20)
#define RAND_IO 4096u
#define TRUNC_SIZE (1ull << 30)
#define TRUNC_EXTENT (1u << 20)
#define FILL_CHUNK (64u << 10) /* --fill random's writes */
#define NS_MAX 256 /* the most threads of a measurement */

enum wl {
	SEQ_WRITE,
	SEQ_READ,
	RAND_WRITE,
	RAND_READ,
	TRUNCATE_1G,
	CREATE,
	STAT,
	UNLINK,
	CREATE_SHARED,
	STAT_SHARED,
	UNLINK_SHARED,
	CREATE_4K,
	UNLINK_4K,
	DIR_LOOKUP,
	DIR_LOOKUP_READS,
	READDIR,
	RAW_SEQ_WRITE,
	RAW_SEQ_READ,
	RAW_RAND_WRITE,
	RAW_RAND_READ,
	NWL
};

/* a workload's name and unit, as printed, and its raw twin */
struct wl_info {
	const char *name, *unit;
	int raw_twin; /* -1: none */
};

/* the target of the I/O workloads: a kvfs file or the raw file */
struct target {
	struct kvfs_mount *mp;
	uint64_t ino; /* kvfs */
	int fd; /* raw */
	bool filled; /* every byte of opt_size written */
};

/* one thread of a measurement */
struct worker {
	pthread_t th;
	enum wl wl;
	struct target *t;
	unsigned idx, nthreads;
	uint64_t ops;
	double busy; /* truncate_1g: seconds inside the truncates */
	double cpu; /* the namespace: the thread's CPU seconds in its loop */
	int err;
};

/* The files of one thread: names n<idx>-<k> for k in [lo, hi) in dir. */
struct nsfiles {
	uint64_t dir;
	uint64_t lo, hi;
};

/* the command line (main.c) */
extern unsigned opt_threads[MAX_RUNS], opt_nthreads;
extern double opt_seconds;
/* namespace workloads: operations per thread, 0 for --seconds */
extern unsigned opt_ops;
extern unsigned opt_rounds; /* alternated runs of a workload and its twin */
extern bool opt_wl[NWL];
extern bool opt_csv;
extern bool opt_cpu;
extern bool opt_stats;
extern const char *opt_image;
extern uint64_t opt_size;
extern unsigned opt_dir_entries;
extern unsigned opt_commit_ms; /* 0: the core's default */
extern bool opt_dio; /* kvfs_open_opts.direct_io */
extern bool opt_fill_random; /* --fill random */

/* the workloads, and the order they run in (run.c) */
extern const struct wl_info wls[NWL];
extern const int order[NWL];
/*
 * set: the workers of a measurement stop (run.c); they also stop by
 * themselves at stop_at (now()'s clock; 0: a fixed count), since a main
 * thread that sleeps may never run again while workers at a real-time
 * priority hold every CPU.
 */
extern atomic_bool stop;
extern double stop_at;

/* the filesystem and the two targets (setup.c) */
extern struct kvfs_mount *mp;
extern struct target kv_file, raw_file;

/* each run's (--threads value's) figures, and which are measured (output.c) */
extern double results[MAX_RUNS][NWL];
extern bool have[MAX_RUNS][NWL];

static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A worker's loop test: stop set, or stop_at passed.  The clock is read
 * once in mask + 1 calls: 64 for a stat, whose cost a clock read would
 * add a twentieth to; every call for a slow step (a readdir pass, a 1 GiB
 * truncate).
 */
static inline bool bench_stopped(unsigned *calls, unsigned mask)
{
	if (atomic_load_explicit(&stop, memory_order_relaxed))
		return true;
	if (stop_at == 0 || (++*calls & mask))
		return false;
	if (now() < stop_at)
		return false;
	atomic_store_explicit(&stop, true, memory_order_relaxed);
	return true;
}

static inline uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* io.c: the I/O workloads */
int t_truncate(struct target *t, uint64_t size);
/* A new unnamed kvfs file: *ino. */
int tmpfile_ino(uint64_t *ino);
int fill(struct target *t);
void io_loop(struct worker *w, bool seq, bool write);
void truncate_loop(struct worker *w);

/* ns.c: the namespace workloads */
int ns_create_one(uint64_t dir, const char *name, bool data);
bool ns_wl(enum wl wl);
struct nsfiles *ns_files(enum wl wl);
int ns_mkdir(const char *name, uint64_t *ino);
int ns_prepare(enum wl wl, unsigned nthreads);
void ns_loop(struct worker *w, struct nsfiles *f);

/* bigdir.c: the directory of --dir-entries */
void big_loop(struct worker *w);
int big_build(void);
int big_warm_up(void);
/* every entry removed, short form again; nothing if never built */
int big_teardown(void);
int lookup_reads(double *value);

/* stats.c: --stats */
void stats_start(void);
void print_stats(enum wl wl, unsigned nthreads, const struct kvfs_stats *a,
		 uint64_t ops);

/* run.c: the measurements */
int measure(int wl, unsigned r);

/* output.c: the figures */
void record(int wl, unsigned r, double *v, unsigned n);
void print_table(void);

/* setup.c: the image, the raw file */
int setup(void);
int teardown(void);
/* the caches emptied; kv_file a new empty file */
int remount(void);

#endif
