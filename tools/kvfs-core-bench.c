// SPDX-License-Identifier: GPL-2.0
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
 * Locks: the bench owns none; the core locks what it touches.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/ns/dir.h"
#include "fs/format.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "tools/cli.h"
#include "journal/journal.h"
#include "tools/report.h"

#define PROG "kvfs-core-bench"
#define MAX_RUNS 16
#define SEQ_IO (1u << 20)
#define RAND_IO 4096u
#define TRUNC_SIZE (1ull << 30)
#define TRUNC_EXTENT (1u << 20)
#define FILL_CHUNK (64u << 10) /* --fill random's writes */

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

static const struct {
	const char *name, *unit;
	int raw_twin; /* -1: none */
} wls[NWL] = {
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
static const int order[NWL] = {
	SEQ_WRITE,     RAW_SEQ_WRITE,  SEQ_READ,      RAW_SEQ_READ,
	RAND_WRITE,    RAW_RAND_WRITE, RAND_READ,     RAW_RAND_READ,
	TRUNCATE_1G,   CREATE,	       STAT,	      UNLINK,
	CREATE_SHARED, STAT_SHARED,    UNLINK_SHARED, CREATE_4K,
	UNLINK_4K,     DIR_LOOKUP,     READDIR,	      DIR_LOOKUP_READS
};

static unsigned opt_threads[MAX_RUNS] = { 1 }, opt_nthreads = 1;
static double opt_seconds = 5;
/* namespace workloads: operations per thread, 0 for --seconds */
static unsigned opt_ops;
static unsigned opt_rounds = 3; /* alternated runs of a workload and its twin */
static bool opt_cold; /* leave the arena's pages unwritten until used */
static bool opt_wl[NWL];
static bool opt_csv;
static bool opt_cpu;
static bool opt_stats;
static const char *opt_image;
static uint64_t opt_size = 1ull << 30;
static uint64_t opt_mem; /* the kvalloc budget; 0: sized for the workloads */
static unsigned opt_dir_entries = 1000000;
static unsigned opt_commit_ms; /* 0: the core's default */
static bool opt_dio; /* kvfs_open_opts.direct_io */
static bool opt_fill_random; /* --fill random */

/* the target of the I/O workloads: a kvfs file or the raw file */
struct target {
	struct kvfs_mount *mp;
	uint64_t ino; /* kvfs */
	int fd; /* raw */
	bool filled; /* every byte of opt_size written */
};

static struct kvfs_mount *mp;
static struct target kv_file, raw_file;
static char raw_path[PATH_MAX + 64];
static char tmpdir[PATH_MAX], image[PATH_MAX + 64];
static double results[MAX_RUNS][NWL];
static bool have[MAX_RUNS][NWL];

static atomic_bool stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* User and system time of the whole process so far (every thread). */
static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static ssize_t t_write(struct target *t, const void *buf, size_t len,
		       uint64_t off)
{
	if (t->mp)
		return kvfs_write(t->mp, t->ino, buf, len, (off_t)off, 0);
	return pwrite(t->fd, buf, len, (off_t)off) < 0 ? -errno : (ssize_t)len;
}

static ssize_t t_read(struct target *t, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (t->mp)
		return kvfs_read(t->mp, t->ino, buf, len, (off_t)off);
	n = pread(t->fd, buf, len, (off_t)off);
	return n < 0 ? -errno : n;
}

static int t_truncate(struct target *t, uint64_t size)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };
	struct kvfs_cred cr = { 0 };

	if (t->mp)
		return kvfs_setattr(t->mp, t->ino, &sa, &cr, NULL);
	return ftruncate(t->fd, (off_t)size) ? -errno : 0;
}

static int tmpfile_ino(uint64_t *ino)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	int err = kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st);

	if (!err)
		*ino = st.ino;
	return err;
}

static uint64_t xorshift(uint64_t *s);

/*
 * --fill random: the FILL_CHUNK pieces of the target in a random order,
 * so that no two neighbours in the file are neighbours on the device: a
 * kvfs file of one extent per piece, its map a B+tree (fs/data/iext.c),
 * which a sequential fill (one extent per AG, kept in the inode) never
 * makes rand_read walk.
 */
static int fill_random(struct target *t, void *buf)
{
	uint64_t n = opt_size / FILL_CHUNK, rs = 0x2545f4914f6cdd1dull;
	uint32_t *order = malloc(n * sizeof(*order));
	int err = 0;

	if (!order)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = xorshift(&rs) % (i + 1);
		uint32_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (uint64_t i = 0; i < n && !err; i++) {
		ssize_t w = t_write(t, buf, FILL_CHUNK,
				    (uint64_t)order[i] * FILL_CHUNK);

		if (w < 0)
			err = (int)w;
	}
	free(order);
	return err;
}

/*
 * Write every byte of the target once (untimed), from empty: 1 MiB at a
 * time in one sequential stream, whatever a failed run left, or with
 * --fill random in pieces in a random order.
 */
static int fill(struct target *t)
{
	void *buf;
	int err;

	if (t->filled)
		return 0;
	err = t_truncate(t, 0);
	if (err)
		return err;
	buf = aligned_alloc(4096, SEQ_IO);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0x6b, SEQ_IO);
	if (opt_fill_random)
		err = fill_random(t, buf);
	for (uint64_t off = 0; off < opt_size && !err && !opt_fill_random;
	     off += SEQ_IO) {
		ssize_t n = t_write(t, buf, SEQ_IO, off);

		if (n < 0)
			err = (int)n;
	}
	free(buf);
	t->filled = !err;
	return err;
}

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

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void io_loop(struct worker *w, bool seq, bool write)
{
	size_t io = seq ? SEQ_IO : RAND_IO;
	uint64_t slice = opt_size / w->nthreads / SEQ_IO * SEQ_IO;
	uint64_t base = slice * w->idx, pos = 0;
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	uint64_t blocks = opt_size / RAND_IO;
	void *buf = aligned_alloc(4096, io);

	if (!buf) {
		w->err = -ENOMEM;
		return;
	}
	memset(buf, 0x5a + w->idx, io);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		uint64_t off;
		ssize_t n;

		if (seq) {
			off = base + pos;
			pos = pos + io >= slice ? 0 : pos + io;
		} else {
			off = xorshift(&rs) % blocks * RAND_IO;
		}
		n = write ? t_write(w->t, buf, io, off) :
			    t_read(w->t, buf, io, off);
		if (n != (ssize_t)io) {
			w->err = n < 0 ? (int)n : -EIO;
			break;
		}
		w->ops++;
	}
	free(buf);
}

/*
 * Build a 1 GiB file of 1 MiB extents: fallocate each MiB, then 4 KiB of
 * a spacer file right after it, so the next MiB cannot extend the extent.
 */
static int build_1g(uint64_t ino, uint64_t spacer)
{
	int err = 0;

	for (uint64_t off = 0; off < TRUNC_SIZE && !err; off += TRUNC_EXTENT) {
		err = kvfs_fallocate(mp, ino, 0, (off_t)off, TRUNC_EXTENT);
		if (!err)
			err = kvfs_fallocate(
				mp, spacer, 0,
				(off_t)(off / TRUNC_EXTENT * RAND_IO), RAND_IO);
	}
	return err;
}

static void truncate_loop(struct worker *w)
{
	struct target t = { .mp = mp };
	uint64_t spacer;

	w->err = tmpfile_ino(&t.ino);
	if (w->err)
		return;
	w->err = tmpfile_ino(&spacer);
	if (w->err) {
		kvfs_inode_close(mp, t.ino);
		return;
	}
	/* at least one truncate, however short the run */
	do {
		struct target sp = { .mp = mp, .ino = spacer };
		double t0;

		w->err = build_1g(t.ino, spacer);
		if (w->err)
			break;
		t0 = now();
		w->err = t_truncate(&t, 0);
		w->busy += now() - t0;
		if (!w->err)
			w->err = t_truncate(&sp, 0);
		if (w->err)
			break;
		w->ops++;
	} while (!atomic_load_explicit(&stop, memory_order_relaxed));
	kvfs_inode_close(mp, t.ino);
	kvfs_inode_close(mp, spacer);
}

/* ---- the namespace ---- */

#define NS_MAX 256
#define NS_PREFILL 20000
#define READDIR_PAGE 128

/* The files of one thread: names n<idx>-<k> for k in [lo, hi) in dir. */
struct nsfiles {
	uint64_t dir;
	uint64_t lo, hi;
};

static struct nsfiles own[NS_MAX], shared[NS_MAX], own4k[NS_MAX];
static uint64_t shared_dir, big_dir;
static bool big_built, big_warm;

static const struct kvfs_cred root_cred;

/* v in decimal at p; the end */
static char *put_dec(char *p, uint64_t v)
{
	char tmp[20];
	unsigned n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = tmp[--n];
	return p;
}

/*
 * "n<idx>-<k>", as snprintf() would make it: formatted by hand because
 * snprintf() was ~1 070 instructions of a stat's ~2 700 (callgrind), the
 * harness weighing more than the core it measures.
 */
static void ns_name(char *buf, size_t len, unsigned idx, uint64_t k)
{
	char *p = buf;

	/* "n", 10 digits, "-", 20 digits, NUL */
	assert(len >= 33);
	*p++ = 'n';
	p = put_dec(p, idx);
	*p++ = '-';
	p = put_dec(p, k);
	*p = 0;
}

static void big_name(char *buf, size_t len, uint64_t k)
{
	snprintf(buf, len, "entry-%08" PRIu64, k);
}

/* A new empty file, or with data: 4 KiB written into it. */
static int ns_create_one(uint64_t dir, const char *name, bool data)
{
	static const uint8_t block[RAND_IO] = { 0x6b };
	struct kvfs_stat st;
	bool created;
	ssize_t n;
	int err = kvfs_create(mp, dir, name, 0100644, 0, KVFS_CREATE_EXCL,
			      &root_cred, &st, &created);

	if (err || !data)
		return err;
	n = kvfs_write(mp, st.ino, block, sizeof(block), 0, 0);
	return n < 0 ? (int)n : 0;
}

static bool ns_wl(enum wl wl)
{
	return wl >= CREATE && wl <= UNLINK_4K;
}

static bool ns_shared(enum wl wl)
{
	return wl == CREATE_SHARED || wl == STAT_SHARED || wl == UNLINK_SHARED;
}

static bool ns_data(enum wl wl)
{
	return wl == CREATE_4K || wl == UNLINK_4K;
}

static struct nsfiles *ns_files(enum wl wl)
{
	return ns_shared(wl) ? shared : ns_data(wl) ? own4k : own;
}

/* A directory of the root, made once: *ino. */
static int ns_mkdir(const char *name, uint64_t *ino)
{
	struct kvfs_stat st;
	int err;

	if (*ino)
		return 0;
	err = kvfs_mkdir(mp, kvfs_root_ino(mp), name, 040755, &root_cred, &st);
	if (!err)
		*ino = st.ino;
	return err;
}

/* The files stat and unlink need, made untimed if a thread has none. */
static int ns_prepare(enum wl wl, unsigned nthreads)
{
	struct nsfiles *f = ns_files(wl);
	char name[64];
	int err = 0;

	if (ns_shared(wl))
		err = ns_mkdir("shared", &shared_dir);
	for (unsigned i = 0; i < nthreads && !err; i++) {
		if (ns_shared(wl)) {
			f[i].dir = shared_dir;
		} else {
			snprintf(name, sizeof(name),
				 ns_data(wl) ? "own4k-%u" : "own-%u", i);
			err = ns_mkdir(name, &f[i].dir);
		}
		if (err || wl == CREATE || wl == CREATE_SHARED ||
		    wl == CREATE_4K || f[i].hi - f[i].lo >= 1000)
			continue;
		while (!err && f[i].hi - f[i].lo < NS_PREFILL) {
			ns_name(name, sizeof(name), i, f[i].hi);
			err = ns_create_one(f[i].dir, name, ns_data(wl));
			if (!err)
				f[i].hi++;
		}
	}
	return err;
}

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void ns_loop(struct worker *w, struct nsfiles *f)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	struct kvfs_stat st;
	char name[64];
	double t0 = now(), c0 = thread_cpu();

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int err;

		switch (w->wl) {
		case CREATE:
		case CREATE_SHARED:
		case CREATE_4K:
			ns_name(name, sizeof(name), w->idx, f->hi);
			err = ns_create_one(f->dir, name, ns_data(w->wl));
			if (!err)
				f->hi++;
			break;
		case STAT:
		case STAT_SHARED:
			ns_name(name, sizeof(name), w->idx,
				f->lo + xorshift(&rs) % (f->hi - f->lo));
			err = kvfs_lookup(mp, f->dir, name, &st);
			if (!err)
				err = kvfs_getattr(mp, st.ino, &st);
			break;
		default:
			if (f->lo == f->hi)
				goto out;
			ns_name(name, sizeof(name), w->idx, f->lo);
			err = kvfs_unlink(mp, f->dir, name);
			if (!err)
				f->lo++;
		}
		if (err) {
			w->err = err;
			break;
		}
		if (++w->ops == opt_ops)
			break;
	}
out:
	w->busy = now() - t0;
	w->cpu = thread_cpu() - c0;
}

struct rd_count {
	uint64_t n, next;
	unsigned page;
};

static int rd_count_fill(void *priv, const char *name, size_t namelen,
			 uint64_t ino, unsigned dtype, uint64_t next)
{
	struct rd_count *c = priv;

	(void)name;
	(void)namelen;
	(void)ino;
	(void)dtype;
	if (c->page == READDIR_PAGE)
		return 1;
	c->page++;
	c->n++;
	c->next = next;
	return 0;
}

/* One whole readdir of dir in pages: the entries, or a negative errno. */
static int64_t readdir_pass(uint64_t dir)
{
	struct rd_count c = { 0 };

	for (;;) {
		int err;

		c.page = 0;
		err = kvfs_readdir(mp, dir, c.next, rd_count_fill, &c);
		if (err)
			return err;
		if (c.page < READDIR_PAGE)
			return (int64_t)c.n;
	}
}

static void big_loop(struct worker *w)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	struct kvfs_stat st;
	char name[64];
	double t0 = now();

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int64_t n;
		int err = 0;

		if (w->wl == DIR_LOOKUP) {
			big_name(name, sizeof(name),
				 xorshift(&rs) % opt_dir_entries);
			err = kvfs_lookup(mp, big_dir, name, &st);
			w->ops++;
		} else {
			n = readdir_pass(big_dir);
			if (n < 0)
				err = (int)n;
			else
				w->ops += (uint64_t)n;
		}
		if (err) {
			w->err = err;
			break;
		}
	}
	w->busy = now() - t0;
}

struct rd_seen {
	uint8_t *seen;
	uint64_t n, next, bad;
};

static int rd_seen_fill(void *priv, const char *name, size_t namelen,
			uint64_t ino, unsigned dtype, uint64_t next)
{
	struct rd_seen *c = priv;
	unsigned long long k;

	(void)ino;
	(void)dtype;
	c->next = next;
	c->n++;
	if (c->n <= 2)
		return 0; /* "." and ".." */
	if (namelen != 14 || strncmp(name, "entry-", 6) ||
	    sscanf(name + 6, "%8llu", &k) != 1 || k >= opt_dir_entries ||
	    c->seen[k]++)
		c->bad++;
	return c->n % READDIR_PAGE == 0; /* pages, as FUSE */
}

/*
 * The directory of --dir-entries files (untimed; reported on stderr),
 * then one readdir of it: every entry exactly once.
 */
static int big_build(void)
{
	struct rd_seen c = { 0 };
	char name[64];
	uint64_t k;
	double t0;
	int err;

	if (big_built)
		return 0;
	err = ns_mkdir("big", &big_dir);
	t0 = now();
	for (k = 0; k < opt_dir_entries && !err; k++) {
		big_name(name, sizeof(name), k);
		err = ns_create_one(big_dir, name, false);
	}
	if (err)
		return err;
	fprintf(stderr, PROG ": big directory: %u creates in %.1f s (%.0f/s)\n",
		opt_dir_entries, now() - t0, opt_dir_entries / (now() - t0));
	c.seen = calloc(opt_dir_entries, 1);
	if (!c.seen)
		return -ENOMEM;
	t0 = now();
	do {
		uint64_t before = c.n;

		err = kvfs_readdir(mp, big_dir, c.next, rd_seen_fill, &c);
		if (!err && c.n == before)
			break;
	} while (!err);
	for (k = 0; k < opt_dir_entries && !err; k++)
		if (c.seen[k] != 1)
			c.bad++;
	free(c.seen);
	if (err)
		return err;
	fprintf(stderr,
		PROG ": big directory: readdir of %" PRIu64 " entries in "
		     "%.2f s, %s\n",
		c.n, now() - t0,
		c.bad ? "WRONG (entries missing or twice)" :
			"each entry exactly once");
	if (c.bad || c.n != opt_dir_entries + 2ull)
		return -EUCLEAN;
	big_built = big_warm = true;
	return 0;
}

/* Every entry and its inode in the caches again after a remount. */
static int big_warm_up(void)
{
	struct kvfs_stat st;
	char name[64];
	int err = 0;

	for (uint64_t k = 0; k < opt_dir_entries && !err && !big_warm; k++) {
		big_name(name, sizeof(name), k);
		err = kvfs_lookup(mp, big_dir, name, &st);
	}
	big_warm = !err;
	return err;
}

/* Remove every entry; the directory must be short form with no blocks. */
static int big_teardown(void)
{
	struct kvfs_inode *dp;
	char name[64];
	double t0 = now();
	bool sf;
	int err = 0;

	for (uint64_t k = 0; k < opt_dir_entries && !err; k++) {
		big_name(name, sizeof(name), k);
		err = kvfs_unlink(mp, big_dir, name);
	}
	if (err)
		return err;
	err = kvfs_iget(mp, big_dir, 0, &dp);
	if (err)
		return err;
	sf = dp->i_dformat == KVFS_DFORK_INLINE && dp->i_nblocks == 0;
	kvfs_iput(dp);
	fprintf(stderr,
		PROG ": big directory: %u unlinks in %.1f s (%.0f/s), %s\n",
		opt_dir_entries, now() - t0, opt_dir_entries / (now() - t0),
		sf ? "short form again, no blocks" : "NOT back to short form");
	return sf ? 0 : -EUCLEAN;
}

/*
 * Close and open the filesystem again: an empty buffer cache (a buffer
 * with a log item attached stays cached until written back, which a
 * purge of the cache cannot force).  The unnamed data file does not
 * survive: a new one, empty.
 */
static int remount(void)
{
	struct kvfs_open_opts oo = { .atime = KVFS_ATIME_NOATIME,
				     .commit_ms = opt_commit_ms,
				     .direct_io = opt_dio };
	struct kvfs_open_info info;
	int err;

	if (kv_file.ino)
		kvfs_inode_close(mp, kv_file.ino);
	kv_file.ino = 0;
	err = kvfs_close(mp);
	mp = NULL;
	if (err)
		return err;
	err = kvfs_open(image, &oo, &mp, &info);
	if (err)
		return err;
	kv_file.mp = mp;
	kv_file.filled = false;
	big_warm = false;
	return tmpfile_ino(&kv_file.ino);
}

/*
 * Buffer reads of one cold directory lookup (the directory's inode read
 * before, not counted), averaged over a run of at least 3.
 */
static int lookup_reads(double *value)
{
	struct kv_bcache_stats st;
	struct kvfs_inode *dp;
	uint64_t rs = 0x2545f4914f6cdd1dull, total = 0, n = 0, ino, r0;
	double t_end = now() + opt_seconds;
	char name[64];
	uint8_t ft;
	int err = 0;

	while (!err && (now() < t_end || n < 3)) {
		err = remount();
		if (!err)
			err = kvfs_iget(mp, big_dir, 0, &dp);
		if (err)
			break;
		big_name(name, sizeof(name), xorshift(&rs) % opt_dir_entries);
		kv_bcache_get_stats(mp->bc, &st);
		r0 = st.reads;
		kvfs_ilock(dp, KVFS_ILOCK_SHARED);
		err = kvfs_dir_lookup(dp, name, strlen(name), &ino, &ft);
		kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
		kvfs_iput(dp);
		kv_bcache_get_stats(mp->bc, &st);
		total += st.reads - r0;
		n++;
	}
	*value = n ? (double)total / n : 0;
	return err;
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

/* --stats: the arena's and the lock classes' counts at a measurement's start */
static uint64_t lock_acq0[KV_LOCK_CLASSES_MAX], lock_cont0[KV_LOCK_CLASSES_MAX];

static uint64_t arena_used0, reclaim0;

static void stats_start(void)
{
	struct kv_stats ks;

	kv_stats(&ks);
	arena_used0 = ks.pages_total - ks.pages_free;
	reclaim0 = ks.reclaim_passes;
	for (int c = 0; c < kv_lock_classes(); c++) {
		lock_acq0[c] = kv_lock_class_acquired(c);
		lock_cont0[c] = kv_lock_class_contended(c);
	}
}

/*
 * The lock classes contended in the measurement, on one line: contended
 * and all acquisitions per op.
 */
static void print_lock_counts(enum wl wl, unsigned nthreads, double n)
{
	bool any = false;

	for (int c = 0; c < kv_lock_classes(); c++) {
		uint64_t cont = kv_lock_class_contended(c) - lock_cont0[c];

		if (!cont)
			continue;
		if (!any)
			fprintf(stderr, "%s, %u threads, per op, locks contended:",
				wls[wl].name, nthreads);
		fprintf(stderr, "%s %s %.4f of %.4f acquired", any ? "," : "",
			kv_lock_class_name(c), cont / n,
			(kv_lock_class_acquired(c) - lock_acq0[c]) / n);
		any = true;
	}
	if (any)
		fputc('\n', stderr);
}

/*
 * --stats: what the core did per operation during one measurement (the
 * log's and the caches' counters), on stderr beside the CPU figures.
 */
static void print_stats(enum wl wl, unsigned nthreads,
			const struct kvfs_stats *a, uint64_t ops)
{
	struct kvfs_stats b;
	struct kv_stats ks;
	double n = (double)ops;

	kv_stats(&ks);
	fprintf(stderr,
		"%s, %u threads, per op: %+.0f bytes of the arena; %" PRIu64
		" reclaim passes\n",
		wls[wl].name, nthreads,
		((double)(ks.pages_total - ks.pages_free) - (double)arena_used0) *
			KV_PAGE_SIZE / n,
		ks.reclaim_passes - reclaim0);
	kvfs_stats(mp, &b, NULL, 0);
	fprintf(stderr,
		"%s, %u threads, per op: %.3f commits, %.1f log bytes in, "
		"%.1f out (%.1fx), %.1f written; %.4f checkpoints, %.4f "
		"grant waits, %.3f items written back, %.3f block writes, "
		"%.3f block reads\n",
		wls[wl].name, nthreads, (b.log_commits - a->log_commits) / n,
		(b.zstd_in - a->zstd_in) / n, (b.zstd_out - a->zstd_out) / n,
		b.zstd_out > a->zstd_out ? (double)(b.zstd_in - a->zstd_in) /
						   (b.zstd_out - a->zstd_out) :
					   0.0,
		(b.log_bytes_written - a->log_bytes_written) / n,
		(b.log_checkpoints - a->log_checkpoints) / n,
		(b.log_grant_waits - a->log_grant_waits) / n,
		(b.ail_pushed - a->ail_pushed) / n,
		(b.buf_writes - a->buf_writes) / n,
		(b.buf_reads - a->buf_reads) / n);
	print_lock_counts(wl, nthreads, n);
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
	/* a fixed count: the workers end by themselves */
	if (!opt_ops || !ns_wl(wl)) {
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

/* ---- setup ---- */

static uint64_t image_size(void)
{
	unsigned most = 1;

	for (unsigned i = 0; i < opt_nthreads; i++)
		if (opt_threads[i] > most)
			most = opt_threads[i];
	/* the data file, the 1 GiB files and spacers, and room to spare */
	/* the namespace: an inode and a directory entry per file */
	return opt_size + (uint64_t)most * (TRUNC_SIZE + (8 << 20)) +
	       (1ull << 30) + (uint64_t)opt_dir_entries * 2048 + (4ull << 30);
}

static int setup(void)
{
	struct kvfs_open_opts oo = { .atime = KVFS_ATIME_NOATIME,
				     .commit_ms = opt_commit_ms,
				     .direct_io = opt_dio };
	struct kvfs_open_info info;
	const char *dir = getenv("TMPDIR");
	char *slash;
	int err;

	if (opt_image) {
		snprintf(image, sizeof(image), "%s", opt_image);
		snprintf(tmpdir, sizeof(tmpdir), "%s", opt_image);
		slash = strrchr(tmpdir, '/');
		if (slash)
			*slash = 0;
		else
			strcpy(tmpdir, ".");
		snprintf(raw_path, sizeof(raw_path), "%s/" PROG "-raw-%d",
			 tmpdir, (int)getpid());
	} else {
		struct kvfs_mkfs_opts mo = { .force = true };
		struct kvfs_geom g;

		snprintf(tmpdir, sizeof(tmpdir), "%s/" PROG "-XXXXXX",
			 dir ? dir : "/tmp");
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, PROG ": mkdtemp: %s\n",
				strerror(errno));
			return -1;
		}
		snprintf(image, sizeof(image), "%s/image", tmpdir);
		snprintf(raw_path, sizeof(raw_path), "%s/raw", tmpdir);
		mo.target = image;
		mo.size = image_size();
		err = kvfs_mkfs(&mo, &g);
		if (err) {
			fprintf(stderr, PROG ": mkfs: %s\n", mo.err);
			return -1;
		}
	}
	err = kvfs_open(image, &oo, &mp, &info);
	if (err) {
		fprintf(stderr, PROG ": %s: %s (%s)\n", image, strerror(-err),
			kvfs_open_error());
		return -1;
	}
	kv_file.mp = mp;
	err = tmpfile_ino(&kv_file.ino);
	if (err) {
		fprintf(stderr, PROG ": tmpfile: %s\n", strerror(-err));
		return -1;
	}
	raw_file.fd = open(raw_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (raw_file.fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", raw_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int teardown(void)
{
	int err = 0;

	if (raw_file.fd > 0) {
		close(raw_file.fd);
		unlink(raw_path);
	}
	if (mp) {
		if (big_built && big_teardown())
			err = -EUCLEAN;
		if (kv_file.ino)
			kvfs_inode_close(mp, kv_file.ino);
		err = kvfs_close(mp);
		if (err)
			fprintf(stderr, PROG ": close: %s\n", strerror(-err));
	}
	if (!opt_image && tmpdir[0]) {
		unlink(image);
		rmdir(tmpdir);
	}
	return err;
}

/* ---- output ---- */

static void print_table(void)
{
	printf("%-15s %7s %14s %-12s %14s %7s\n", "workload", "threads",
	       "value", "unit", "raw", "ratio");
	for (unsigned r = 0; r < opt_nthreads; r++) {
		for (int k = 0; k < NWL; k++) {
			int wl = order[k], twin = wls[wl].raw_twin;

			if (!have[r][wl])
				continue;
			printf("%-15s %7u %14.1f %-12s", wls[wl].name,
			       opt_threads[r], results[r][wl], wls[wl].unit);
			if (twin >= 0 && have[r][twin] && results[r][twin] > 0)
				printf(" %14.1f %6.2fx\n", results[r][twin],
				       results[r][wl] / results[r][twin]);
			else
				printf(" %14s %7s\n", "-", "-");
		}
	}
}

/* ---- command line ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"The filesystem core's data path (fs/kvfs.h) against plain\n"
		"pread/pwrite on a raw file of the same size on the same host\n"
		"filesystem, in the same run.\n"
		"\n"
		"  --threads N[,N...]   threads, one run of every workload per\n"
		"                       value (1)\n"
		"  --seconds S          length of each measurement, fractions\n"
		"                       allowed (5)\n"
		"  --ops N              create, stat, unlink and their _shared\n"
		"                       forms: each thread stops after N\n"
		"                       operations instead (a fixed amount of\n"
		"                       work, for instruction counts)\n"
		"  --workload W[,W...]  workloads (default all): seq_write,\n"
		"                       seq_read (1 MiB I/O, MB/s), rand_write,\n"
		"                       rand_read (4 KiB, ops/s), truncate_1g\n"
		"                       (truncates/s of a 1 GiB file of 1 MiB\n"
		"                       extents), raw_seq_write, raw_seq_read,\n"
		"                       raw_rand_write, raw_rand_read (the same\n"
		"                       I/O on the raw file); create, stat,\n"
		"                       unlink (empty files, ops/s, each thread\n"
		"                       in its own directory), create_shared,\n"
		"                       stat_shared, unlink_shared (one\n"
		"                       directory), create_4k, unlink_4k (files\n"
		"                       of 4 KiB, own directories),\n"
		"                       dir_lookup (warm, ops/s),\n"
		"                       dir_lookup_reads (buffer reads per cold\n"
		"                       lookup), readdir (entries/s) in a\n"
		"                       directory of --dir-entries files\n"
		"  --dir-entries N      entries of that directory (1000000)\n"
		"  --size SIZE          size of the data file and the raw file\n"
		"                       (1G)\n"
		"  --image PATH         use this existing kvfs image (its free\n"
		"                       space must hold the files); the raw file\n"
		"                       goes beside it.  Default: a fresh sparse\n"
		"                       image made by the library's mkfs in\n"
		"                       $TMPDIR, removed at the end\n"
		"  --commit SECONDS     log push interval, as mount.kvfs's\n"
		"                       commit= (the core's default)\n"
		"  --rounds N           a workload with a raw twin and that twin\n"
		"                       run N times each, alternated, and the\n"
		"                       median of each reported: the host's\n"
		"                       write-back and other tenants stall one\n"
		"                       side or the other for whole seconds (3)\n"
		"  --csv                print workload,threads,value,unit and one\n"
		"                       row per measurement\n"
		"  --stats              after each measurement, on stderr: the\n"
		"                       log's and caches' work per operation\n"
		"                       (commits, checkpoint bytes before and\n"
		"                       after compression, grant waits, blocks\n"
		"                       written back) and the lock classes\n"
		"                       contended (kvalloc's kv_mutex classes)\n"
		"  --cpu                rates per CPU second of the whole\n"
		"                       process (every thread, the core's too)\n"
		"                       instead of per second: on a shared,\n"
		"                       loaded machine the wall clock follows\n"
		"                       the others' load.  The host's own\n"
		"                       write-back threads are not counted\n"
		"                       (truncate_1g is per truncating second\n"
		"                       either way)\n"
		"  --dio                the image opened with direct_io (large\n"
		"                       aligned writes O_DIRECT, fs/io/dev.h)\n"
		"  --fill seq|random    how the read workloads' files are\n"
		"                       written first (untimed): 1 MiB in order\n"
		"                       (seq, the default), or 64 KiB pieces in\n"
		"                       a random order (random: a kvfs file of\n"
		"                       one extent per piece, its map a B+tree)\n"
		"  --mem SIZE           the memory budget (kvalloc's arena, as\n"
		"                       mount.kvfs's mem=); default 1 GiB, plus\n"
		"                       1 GiB with a create, stat or unlink\n"
		"                       workload, plus 2 KiB per --dir-entries\n"
		"                       with dir_lookup,\n"
		"                       dir_lookup_reads or readdir, so that no\n"
		"                       workload's inodes and buffers are\n"
		"                       reclaimed; smaller: reclaim is timed too\n"
		"  --cold               do not write the arena's pages before\n"
		"                       the measurements.  By default every\n"
		"                       page is written once first (untimed,\n"
		"                       its time on stderr), as in a daemon\n"
		"                       that has run a while: a process's first\n"
		"                       write to a page faults, 20-45 us a page\n"
		"                       on a shadow-paged virtual machine, and a\n"
		"                       create needs a quarter of a new page\n"
		"  -h, --help           this text\n"
		"\n"
		"Without --csv: a table with each workload's ratio to its raw\n"
		"twin.  No fsync is timed.  Exit status 1 if a workload failed.\n");
}

static int parse_workloads(const char *s)
{
	char buf[256], *tok, *save = NULL;
	bool any = false;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int wl;

		for (wl = 0; wl < NWL && strcmp(tok, wls[wl].name); wl++)
			;
		if (wl == NWL) {
			fprintf(stderr, PROG ": unknown workload '%s'\n", tok);
			return -1;
		}
		opt_wl[wl] = any = true;
	}
	if (any)
		return 0;
bad:
	fprintf(stderr, PROG ": bad --workload value '%s'\n", s);
	return -1;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'o' },
		{ "workload", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 'z' },
		{ "image", required_argument, NULL, 'I' },
		{ "dir-entries", required_argument, NULL, 'd' },
		{ "csv", no_argument, NULL, 'c' },
		{ "cpu", no_argument, NULL, 'C' },
		{ "stats", no_argument, NULL, 'S' },
		{ "dio", no_argument, NULL, 'D' },
		{ "fill", required_argument, NULL, 'F' },
		{ "commit", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "mem", required_argument, NULL, 'M' },
		{ "cold", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool wl_given = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 't':
			bad = cli_uint_list(PROG, "--threads", optarg, 256,
					    opt_threads, MAX_RUNS,
					    &opt_nthreads);
			break;
		case 's':
			bad = cli_seconds(PROG, "--seconds", optarg, 0.01,
					  3600, &opt_seconds);
			break;
		case 'o':
			bad = cli_uint(PROG, "--ops", optarg, 1, 1000000000,
				       &opt_ops);
			break;
		case 'w':
			bad = parse_workloads(optarg);
			wl_given = true;
			break;
		case 'z':
			bad = cli_size(PROG, "--size", optarg, SEQ_IO * 16ull,
				       &opt_size);
			opt_size = opt_size / SEQ_IO * SEQ_IO;
			break;
		case 'I':
			opt_image = optarg;
			break;
		case 'M':
			bad = cli_size(PROG, "--mem", optarg, 16ull << 20,
				       &opt_mem);
			break;
		case 'K':
			opt_cold = true;
			break;
		case 'd':
			bad = cli_uint(PROG, "--dir-entries", optarg, 1,
				       99999999, &opt_dir_entries);
			break;
		case 'c':
			opt_csv = true;
			break;
		case 'C':
			opt_cpu = true;
			break;
		case 'S':
			opt_stats = true;
			break;
		case 'D':
			opt_dio = true;
			break;
		case 'F':
			if (!strcmp(optarg, "random")) {
				opt_fill_random = true;
			} else if (!strcmp(optarg, "seq")) {
				opt_fill_random = false;
			} else {
				fprintf(stderr,
					PROG ": --fill: 'seq' or 'random', "
					     "not '%s'\n",
					optarg);
				bad = -1;
			}
			break;
		case 'm': {
			unsigned sec;

			bad = cli_uint(PROG, "--commit", optarg, 1, 3600, &sec);
			opt_commit_ms = sec * 1000;
			break;
		}
		case 'r':
			bad = cli_uint(PROG, "--rounds", optarg, 1, 99,
				       &opt_rounds);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad)
			return -1;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (!wl_given)
		for (int wl = 0; wl < NWL; wl++)
			opt_wl[wl] = true;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void record(int wl, unsigned r, double *v, unsigned n)
{
	if (n > 1) {
		fprintf(stderr, "%s, %u threads, %u rounds:", wls[wl].name,
			opt_threads[r], n);
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, " %.1f", v[i]);
		fprintf(stderr, "\n");
	}
	qsort(v, n, sizeof(*v), cmp_double);
	results[r][wl] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	have[r][wl] = true;
	if (opt_csv) {
		printf("%s,%u,%.1f,%s\n", wls[wl].name, opt_threads[r],
		       results[r][wl], wls[wl].unit);
		fflush(stdout);
	}
}

/*
 * One workload with run r's thread count; a workload with a raw twin runs
 * with it, --rounds times each in turn (the twin then measured already).
 */
static int measure(int wl, unsigned r)
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

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

int main(int argc, char **argv)
{
	struct kv_config cfg = { 0 };
	int status = 0;
	double t0;

	if (parse_args(argc, argv))
		return 2;
	/*
	 * The arena sized for the namespace workloads: a million inodes and
	 * their buffers do not fit the default 256 MiB, where the journal's
	 * CIL push waits in a NOFAIL allocation for memory only the
	 * checkpoint it would write frees (issue 9's budget deadlock).
	 */
	cfg.budget_bytes = opt_mem ? opt_mem : 1ull << 30;
	if (!opt_mem &&
	    (opt_wl[DIR_LOOKUP] || opt_wl[DIR_LOOKUP_READS] || opt_wl[READDIR]))
		cfg.budget_bytes += (size_t)opt_dir_entries * 2048;
	/*
	 * A create takes ~1.4 KiB of the arena (--stats): 2 GiB hold
	 * ~1 500 000, 5 s at 300 000/s, without reclaim (past ~760 000
	 * creates in 1 GiB the unlinks after them wrote back and read again
	 * 1.1 items each)
	 */
	for (int wl = 0; !opt_mem && wl < NWL; wl++)
		if (ns_wl(wl) && opt_wl[wl]) {
			cfg.budget_bytes += 1ull << 30;
			break;
		}
	cfg.prefault = !opt_cold;
	kvj_report_set_sink(print_jreport, NULL);
	tool_report_init(PROG);
	t0 = now();
	if (kv_init(&cfg)) {
		fprintf(stderr, PROG ": kv_init failed\n");
		return 1;
	}
	if (cfg.prefault)
		fprintf(stderr, PROG ": arena of %zu MiB written in %.2f s\n",
			cfg.budget_bytes >> 20, now() - t0);
	if (setup()) {
		teardown();
		kv_fini();
		return 1;
	}
	if (opt_csv)
		printf("workload,threads,value,unit\n");
	for (unsigned r = 0; r < opt_nthreads; r++)
		for (int k = 0; k < NWL; k++)
			if (measure(order[k], r))
				status = 1;
	if (!opt_csv)
		print_table();
	if (teardown())
		status = 1;
	kv_fini();
	return status;
}
