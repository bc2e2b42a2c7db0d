// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's command line (bench.h): the options, the arena sized
 * for the workloads, every workload measured with every thread count.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "journal/journal.h"
#include "tools/cli.h"
#include "tools/report.h"
#include "bench.h"

unsigned opt_threads[MAX_RUNS] = { 1 }, opt_nthreads = 1;
double opt_seconds = 5;
/* namespace workloads: operations per thread, 0 for --seconds */
unsigned opt_ops;
unsigned opt_rounds = 3; /* alternated runs of a workload and its twin */
static bool opt_cold; /* leave the arena's pages unwritten until used */
bool opt_wl[NWL];
bool opt_csv;
bool opt_cpu;
bool opt_stats;
const char *opt_image;
uint64_t opt_size = 1ull << 30;
static uint64_t opt_mem; /* the kvalloc budget; 0: sized for the workloads */
unsigned opt_dir_entries = 1000000;
unsigned opt_commit_ms; /* 0: the core's default */
bool opt_dio; /* kvfs_open_opts.direct_io */
bool opt_fill_random; /* --fill random */

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
			bad = cli_seconds(PROG, "--seconds", optarg, 0.01, 3600,
					  &opt_seconds);
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
