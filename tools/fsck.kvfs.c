// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.kvfs [-n|-y|-p] [-f] [-L] [-v] TARGET: check and repair a kvfs
 * filesystem.  A thin front end over kvfs_repair() (fs/repair/repair.h):
 * it takes the image lock mount.kvfs takes (so a mounted image, or one
 * being checked, is refused), words the engine's phases and problems on
 * stdout, shows progress on stderr when that is a terminal and a phase
 * runs over a second (KVFS_FSCK_PROGRESS_AFTER sets another threshold:
 * the tests' 0), and exits as e2fsck does: 0 clean, 1 errors
 * corrected, 4 errors left uncorrected, 8 operational error, 16 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <search.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/io/blkhdr.h"
#include "fs/io/dev.h"
#include "fs/repair/repair.h"
#include "journal/bug.h"
#include "journal/journal.h"
#include "tools/cli.h"
#include "tools/report.h"

#define EXIT_CLEAN 0
#define EXIT_FIXED 1
#define EXIT_LEFT 4
#define EXIT_OPERR 8
#define EXIT_USAGE 16

/* -m's least: the arena's own bookkeeping and a small filesystem's caches */
#define MIN_BUDGET ((uint64_t)16 << 20)

static const char *prog = "fsck.kvfs";

struct ui {
	const struct kvfs_repair_opts *o;
	const char *target;
	bool verbose;
	size_t budget; /* kvalloc's, for the message when it is short */
	bool tty; /* stderr is a terminal: progress there */
	double progress_after; /* seconds into a phase before it shows */
	struct timespec phase_start;
	int shown; /* percentage last shown, -1 none */
	/*
	 * The core's reports, under lock (the sink runs on the thread that
	 * read the block): the lines printed (a tsearch(3) tree); the last
	 * one printed, and those alike but for their blocks that followed
	 * it, held back (more of them, from more_first to more_last) for
	 * more_print().
	 */
	void *said;
	struct kvfs_report last;
	uint64_t more, more_first, more_last;
	pthread_mutex_t lock;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [-n|-y|-p] [-f] [-L] [-v] [-m SIZE] TARGET\n"
		"Check and repair a kvfs filesystem (image file or block "
		"device).\n"
		"\n"
		"  -n  check only: never write (the default); a dirty log is\n"
		"      replayed in memory only, and checked as it leaves the\n"
		"      filesystem\n"
		"  -y  repair everything that can be repaired\n"
		"  -p  repair what is safe without asking (counters, leaked\n"
		"      blocks, reserve lists); stop with exit 4 otherwise (-a)\n"
		"  -f  check even a filesystem marked clean\n"
		"  -L  zero a log that cannot be replayed (its changes are "
		"lost)\n"
		"  -v  verbose: the time each phase took\n"
		"  -m SIZE  the memory budget (K/M/G/T suffixes); default\n"
		"      256M, plus 256M per TiB of the target for its block\n"
		"      maps and 128 bytes per inode in use (reserved: used\n"
		"      only as far as needed)\n"
		"  -V  print the version and exit\n"
		"  -h  this help\n"
		"\n"
		"Progress (percentages) goes to stderr when it is a terminal, "
		"once a phase\n"
		"has run for KVFS_FSCK_PROGRESS_AFTER seconds (environment; "
		"default 1).\n"
		"\n"
		"Exit status: 0 clean, 1 errors corrected, 4 errors left "
		"uncorrected,\n"
		"8 operational error, 16 usage error.\n",
		prog);
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* KVFS_FSCK_PROGRESS_AFTER (seconds, >= 0), else 1 (issue 12). */
static double progress_after(void)
{
	const char *v = getenv("KVFS_FSCK_PROGRESS_AFTER");
	char *end;
	double d;

	if (!v || !*v)
		return 1.0;
	d = strtod(v, &end);
	return *end || !(d >= 0) ? 1.0 : d;
}

static void progress_clear(struct ui *u)
{
	if (u->shown >= 0)
		fprintf(stderr, "\r%40s\r", "");
	u->shown = -1;
}

/* The reports held back, as one line; under u->lock. */
static void more_print(struct ui *u)
{
	struct kvfs_report r = u->last;
	char line[352];

	if (!u->more)
		return;
	r.blkno = u->more_first;
	kvfs_report_format_run(&r, u->more, u->more_last, line, sizeof(line));
	progress_clear(u);
	fprintf(stderr, "%s: %s: %s\n", prog, u->target, line);
	u->more = 0;
}

/* Before anything else is printed: the reports held back. */
static void reports_flush(struct ui *u)
{
	pthread_mutex_lock(&u->lock);
	more_print(u);
	pthread_mutex_unlock(&u->lock);
}

static void on_phase(void *arg, enum kvfs_repair_phase ph)
{
	struct ui *u = arg;

	reports_flush(u);
	progress_clear(u);
	if (u->verbose && u->phase_start.tv_sec)
		printf("        (%.2f s)\n", since(&u->phase_start));
	clock_gettime(CLOCK_MONOTONIC, &u->phase_start);
	printf("Phase %d - %s\n", (int)ph, kvfs_repair_phase_name(ph));
	fflush(stdout);
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct ui *u = arg;
	int pct;

	if (!u->tty || !total || since(&u->phase_start) < u->progress_after)
		return;
	pct = (int)(done * 100 / total);
	if (pct == u->shown)
		return;
	u->shown = pct;
	fprintf(stderr, "\r  %3d%%", pct);
}

static void on_problem(void *arg, enum kvfs_repair_phase ph, uint64_t ino,
		       uint64_t blkno, const char *what, bool fixed)
{
	struct ui *u = arg;

	(void)ph;
	(void)ino;
	(void)blkno;
	reports_flush(u);
	progress_clear(u);
	if (fixed)
		printf("        %s\n", what);
	else
		printf("        %s -- NOT FIXED%s\n", what,
		       u->o->dry_run ? " (-n)" :
		       u->o->preen   ? " (-p: run with -y)" :
				       "");
	fflush(stdout);
}

static void on_notice(void *arg, const char *what)
{
	reports_flush(arg);
	progress_clear(arg);
	printf("        %s\n", what);
	fflush(stdout);
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Whether line was printed before (remembered now if not). */
static bool said_before(struct ui *u, const char *line)
{
	char *copy = strdup(line);
	void *node;

	/* without memory to remember it, it is printed (again) */
	if (!copy)
		return false;
	node = tsearch(copy, &u->said, line_cmp);
	if (node && *(char **)node == copy)
		return false;
	free(copy);
	return node != NULL;
}

/* r is the last report printed but for its block, past the last held. */
static bool more_alike(const struct ui *u, const struct kvfs_report *r)
{
	uint64_t after = u->more ? u->more_last : u->last.blkno;

	return r->blkno != KVFS_NULLBLOCK && after != KVFS_NULLBLOCK &&
	       r->blkno > after && r->err == u->last.err &&
	       r->ino == u->last.ino && !strcmp(r->what, u->last.what) &&
	       !strcmp(r->msg, u->last.msg);
}

/*
 * Every corruption the core reports on its way (a verifier's, the log
 * replay's: which delta of which block it refused), on stderr: the library
 * never prints, and its callers keep only the last report.  Each distinct
 * report once a run: a block or inode that fails its verifier is reported
 * by every read of it (the buffer cache keeps no failed verdict), and
 * phase 4, the checker, the namespace phases and their rebuilds each
 * read it (a damaged directory block: 4 times with -n, 6 with -y).  The
 * same block, structure and fault is the same finding; the problem lines
 * on stdout say what fsck makes of it.  Reports alike but for their
 * ascending blocks (a directory's data blocks each failing the same way:
 * a line a block) follow the first as one line.
 */
static void on_report(const struct kvfs_report *r, void *arg)
{
	struct ui *u = arg;
	char line[320];

	kvfs_report_format(r, line, sizeof(line));
	pthread_mutex_lock(&u->lock);
	if (said_before(u, line)) {
		pthread_mutex_unlock(&u->lock);
		return;
	}
	if (more_alike(u, r)) {
		if (!u->more++)
			u->more_first = r->blkno;
		u->more_last = r->blkno;
	} else {
		more_print(u);
		progress_clear(u);
		fprintf(stderr, "%s: %s: %s\n", prog, u->target, line);
		u->last = *r;
	}
	pthread_mutex_unlock(&u->lock);
}

/* The lock mount.kvfs holds while mounted; the fd keeps it. */
static int lock_image(const char *target, bool rdonly, int *fdp)
{
	int err = kvfs_image_lock(target, rdonly, KVFS_IMAGE_LOCK_WAIT_MS, fdp);

	if (err)
		fprintf(stderr, "%s: %s: %s\n", prog, target,
			err == -EBUSY ?
				"in use (mounted, or being checked): not "
				"checked" :
				strerror(-err));
	return err;
}

/*
 * The default budget for target: what the repair library asks for a
 * device of its size (a device that does not open is reported by the
 * run).
 */
static size_t target_budget(const char *target)
{
	struct kv_dev *dev;
	size_t budget;

	if (kv_dev_open(target, KV_DEV_RDONLY, &dev))
		return KV_DEFAULT_BUDGET;
	budget = kvfs_repair_budget(dev);
	kv_dev_close(dev);
	return budget;
}

static int run(const char *target, const struct kvfs_repair_opts *o, bool force)
{
	struct kvfs_repair_result res;
	struct kvfs_geom g;
	struct ui *u = o->arg;
	int err;

	if (!force) {
		err = kvfs_repair_clean(target, &g);
		if (err == 1) {
			printf("%s: clean, %" PRIu64 "/%" PRIu64
			       " files, %" PRIu64 "/%" PRIu64 " blocks\n",
			       target, g.icount - g.ifree, g.icount,
			       g.dblocks - g.fdblocks, g.dblocks);
			return EXIT_CLEAN;
		}
		if (err == -ENODATA) {
			fprintf(stderr, "%s: %s: not a kvfs filesystem\n", prog,
				target);
			return EXIT_OPERR;
		}
	}
	err = kvfs_repair(target, o, &res);
	reports_flush(u);
	progress_clear(u);
	if (u->verbose && u->phase_start.tv_sec)
		printf("        (%.2f s)\n", since(&u->phase_start));
	switch (err) {
	case 0:
		break;
	case -ENODATA:
		fprintf(stderr, "%s: %s: not a kvfs filesystem\n", prog,
			target);
		return EXIT_OPERR;
	case -EUCLEAN:
		printf("%s: stopped: %" PRIu64 " problems found, %" PRIu64
		       " fixed, %" PRIu64 " left\n",
		       target, res.found, res.fixed, res.left);
		return EXIT_LEFT;
	case -ENOMEM:
		fprintf(stderr,
			"%s: %s: %s within the memory budget of %zu MiB "
			"(-m SIZE raises it)\n",
			prog, target, strerror(-err), u->budget >> 20);
		return EXIT_OPERR;
	default:
		fprintf(stderr, "%s: %s: %s\n", prog, target, strerror(-err));
		return EXIT_OPERR;
	}
	if (!res.found && !res.log_replayed && !res.log_zeroed) {
		printf("%s: clean\n", target);
		return EXIT_CLEAN;
	}
	printf("%s: %" PRIu64 " problems found, %" PRIu64 " fixed, %" PRIu64
	       " left%s%s\n",
	       target, res.found, res.fixed, res.left,
	       res.log_replayed ? "; log replayed" : "",
	       res.log_zeroed ? "; log zeroed" : "");
	if (res.left)
		return EXIT_LEFT;
	return EXIT_FIXED;
}

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	reports_flush(priv);
	fprintf(stderr, "kvjournal: %s\n", line);
}

int main(int argc, char **argv)
{
	static const struct kvfs_repair_ops ops = {
		.phase = on_phase,
		.progress = on_progress,
		.problem = on_problem,
		.notice = on_notice,
	};
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct kvfs_repair_opts o = { .dry_run = true, .ops = &ops };
	struct ui u = { .o = &o,
			.shown = -1,
			.last = { .blkno = KVFS_NULLBLOCK },
			.lock = PTHREAD_MUTEX_INITIALIZER };
	struct kv_config kc = { 0 };
	bool force = false, n = false, y = false, p = false;
	uint64_t budget = 0;
	int opt, fd, ret;

	tool_report_init(prog);
	kvj_bug_set_hook(kvj_bug_stderr);
	while ((opt = getopt_long(argc, argv, "nypafLvm:Vh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'n':
			n = true;
			break;
		case 'y':
			y = true;
			break;
		case 'p':
		case 'a':
			p = true;
			break;
		case 'f':
			force = true;
			break;
		case 'L':
			o.zap_log = true;
			break;
		case 'v':
			u.verbose = true;
			break;
		case 'm':
			if (cli_size(prog, "-m", optarg, MIN_BUDGET, &budget))
				return EXIT_USAGE;
			break;
		case 'V':
			printf("%s %s (on-disk format v%d)\n", prog, KV_VERSION,
			       KVFS_VERSION);
			return EXIT_CLEAN;
		case 'h':
			usage(stdout);
			return EXIT_CLEAN;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (n + y + p > 1 || optind != argc - 1) {
		fprintf(stderr, "%s: %s\n", prog,
			n + y + p > 1  ? "-n, -y and -p exclude each other" :
			optind == argc ? "no target given" :
					 "too many arguments");
		usage(stderr);
		return EXIT_USAGE;
	}
	o.dry_run = !y && !p;
	o.preen = p;
	o.arg = &u;
	u.tty = isatty(STDERR_FILENO);
	u.progress_after = progress_after();
	if (lock_image(argv[optind], o.dry_run, &fd))
		return EXIT_OPERR;
	kc.budget_bytes = budget ? budget : target_budget(argv[optind]);
	u.budget = kc.budget_bytes;
	if (u.verbose)
		printf("memory budget: %zu MiB\n", u.budget >> 20);
	ret = kv_init(&kc);
	if (ret) {
		fprintf(stderr, "%s: cannot initialise memory: %s\n", prog,
			strerror(-ret));
		close(fd);
		return EXIT_OPERR;
	}
	u.target = argv[optind];
	kvfs_report_set_sink(on_report, &u);
	kvj_report_set_sink(print_jreport, &u);
	ret = run(argv[optind], &o, force);
	reports_flush(&u);
	kvj_report_set_sink(NULL, NULL);
	kvfs_report_set_sink(NULL, NULL);
	tdestroy(u.said, free);
	kv_fini();
	close(fd);
	return ret;
}
