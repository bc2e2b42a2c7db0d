// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's command line (difftest.h): the options, the fallocate
 * modes each side has, the seeds run and the summary.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "difftest.h"

long check_every = 16;
int verbose;
bool keep_going;
bool ref_falloc[3];
static long nops = 2000;

/*
 * The fallocate modes root's filesystem has; COLLAPSE_RANGE and
 * INSERT_RANGE are drawn only when both sides have them (kvfs has not).
 */
static int probe_falloc(const char *root, bool has[3])
{
	static const int modes[] = { FALLOC_FL_ZERO_RANGE,
				     FALLOC_FL_COLLAPSE_RANGE,
				     FALLOC_FL_INSERT_RANGE };
	char p[PATH_MAX];
	char buf[8192] = { 0 };
	int fd;

	snprintf(p, sizeof(p), "%s/difftest-probe.%d", root, (int)getpid());
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	unlink(p);
	for (int i = 0; i < 3; i++) {
		if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
			break;
		has[i] = !fallocate(fd, modes[i], 0, 4096) ||
			 errno != EOPNOTSUPP;
	}
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvfs-difftest DIR REFDIR [options]\n"
		"  the same random system calls under DIR (kvfs) and REFDIR\n"
		"  (tmpfs or ext4), every result and attribute compared\n"
		"  --seed N      first seed (1)\n"
		"  --seeds N     seeds to run, N in a row from --seed (1)\n"
		"  --ops N       calls per seed (2000)\n"
		"  --check N     compare the whole trees every N calls (16;\n"
		"                0: at the end only)\n"
		"  --minimize    a difference: print a minimal reproducer\n"
		"  --keep-going  report every difference of a seed\n"
		"  -v            print the calls (twice: every call)\n"
		"  -h, --help    this help\n"
		"exit status: 0 the same, 1 a difference, 2 usage/setup\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "ops", required_argument, NULL, 'o' },
		{ "check", required_argument, NULL, 'c' },
		{ "minimize", no_argument, NULL, 'm' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long seed = 1, seeds = 1, bad_seeds = 0;
	bool min = false;
	long *idx;
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			seeds = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			nops = strtol(optarg, NULL, 0);
			break;
		case 'c':
			check_every = strtol(optarg, NULL, 0);
			break;
		case 'm':
			min = true;
			break;
		case 'k':
			keep_going = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || nops <= 0 || check_every < 0) {
		usage(stderr);
		return 2;
	}
	if (geteuid()) {
		fprintf(stderr, "kvfs-difftest: needs root (setfsuid)\n");
		return 2;
	}
	S[0].root = argv[optind];
	S[1].root = argv[optind + 1];
	for (int s = 0; s < 2; s++)
		for (int i = 0; i < NSLOT; i++)
			S[s].fd[i] = -1;
	for (int s = 0; s < 2; s++) {
		bool has[3];

		if (probe_falloc(S[s].root, has)) {
			fprintf(stderr, "kvfs-difftest: %s: %s\n", S[s].root,
				strerror(errno));
			return 2;
		}
		/* [0]: the reference's (a ZERO_RANGE is emulated there) */
		for (int i = 0; i < 3; i++)
			ref_falloc[i] =
				s ? has[i] && (i == 0 || ref_falloc[i]) :
				    has[i];
	}
	umask(022);
	/* a write to a FIFO whose reader closed: EPIPE, compared */
	signal(SIGPIPE, SIG_IGN);
	/* the callers all in group 1001 too: the SGID and chgrp rules */
	if (setgroups(1, &(gid_t){ 1001 })) {
		perror("kvfs-difftest: setgroups");
		return 2;
	}
	ops = calloc((size_t)nops, sizeof(*ops));
	idx = malloc(sizeof(*idx) * (size_t)nops);
	for (unsigned long k = 0; k < seeds; k++, seed++) {
		long bad;

		draw_start(seed);
		for (long i = 0; i < nops; i++)
			idx[i] = i;
		bad = run(idx, nops, -1, false, true);
		printf("seed %lu: %ld calls, %s\n", seed, nops,
		       bad < 0 ? "same" : "DIFFERENT");
		fflush(stdout);
		if (bad >= 0) {
			bad_seeds++;
			if (min)
				minimize(idx, nops, bad);
		}
	}
	printf("filtered: %ld setxattr results (the xattr limits), %ld lseek "
	       "results (in a directory, near 2^63, unwritten blocks), %ld "
	       "stamps of truncate() to the same size, %ld FIFO stamps, %ld "
	       "chown(-1, -1) kills\n",
	       filtered, filtered_seek, filtered_times, filtered_fifo,
	       filtered_chown);
	if (verbose)
		for (int k = 0; k < K_NKIND; k++)
			printf("  %-12s %6ld ok %6ld failed\n", kind_name[k],
			       n_ok[k], n_err[k]);
	free(ops);
	free(idx);
	return bad_seeds ? 1 : 0;
}
