// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-mkfs-bench: time kvfs_mkfs() on a fresh sparse image file (default
 * 64 GiB in /tmp), several runs, and optionally mkfs.xfs and mke2fs -t ext4
 * on the same size for comparison, measured the same way in the same run.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "tools/report.h"

#define MAX_RUNS 100

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n, const char *path)
{
	struct stat st;

	qsort(t, (size_t)n, sizeof(*t), cmp_double);
	if (stat(path, &st))
		st.st_blocks = 0;
	printf("%-10s runs=%d min=%.1f ms median=%.1f ms max=%.1f ms "
	       "allocated=%.1f MiB\n",
	       name, n, t[0], t[n / 2], t[n - 1],
	       (double)st.st_blocks * 512 / (1 << 20));
}

static int time_kvfs(const char *path, uint64_t size, uint32_t bs, double *t)
{
	struct kvfs_mkfs_opts o = {
		.target = path,
		.size = size,
		.blocksize = bs,
	};
	struct kvfs_geom g;
	double t0;
	int ret;

	unlink(path);
	t0 = now_ms();
	ret = kvfs_mkfs(&o, &g);
	*t = now_ms() - t0;
	if (ret)
		fprintf(stderr, "kvfs-mkfs-bench: %s\n", o.err);
	return ret;
}

/* Time an external mkfs on a fresh sparse file of size bytes. */
static int time_cmd(char *const argv[], const char *path, uint64_t size,
		    double *t)
{
	int fd, status;
	pid_t pid;
	double t0;

	unlink(path);
	fd = creat(path, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror(path);
		return -1;
	}
	close(fd);
	t0 = now_ms();
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -1;
	*t = now_ms() - t0;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvfs-mkfs-bench [-s SIZE] [-b BLOCKSIZE] [-r RUNS] "
		"[-d DIR] [-c]\n"
		"Time mkfs of a fresh sparse image (default 64G, 5 runs, /tmp).\n"
		"  -c  also time /sbin/mkfs.xfs and mke2fs -t ext4 (same size)\n");
}

int main(int argc, char **argv)
{
	uint64_t size = 64ULL << 30, v;
	const char *dir = "/tmp";
	int runs = 5, opt, ret = 0;
	double t[MAX_RUNS];
	bool compare = false;
	uint32_t bs = 0;
	char path[4096];

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "s:b:r:d:ch", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 's':
			if (kvfs_parse_size(optarg, &size)) {
				fprintf(stderr,
					"kvfs-mkfs-bench: bad size %s\n",
					optarg);
				return 1;
			}
			break;
		case 'b':
			if (kvfs_parse_size(optarg, &v) || v > UINT32_MAX) {
				fprintf(stderr,
					"kvfs-mkfs-bench: bad block size %s\n",
					optarg);
				return 1;
			}
			bs = (uint32_t)v;
			break;
		case 'r':
			runs = atoi(optarg);
			if (runs < 1 || runs > MAX_RUNS) {
				fprintf(stderr,
					"kvfs-mkfs-bench: runs must be 1..%d\n",
					MAX_RUNS);
				return 1;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'c':
			compare = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	snprintf(path, sizeof(path), "%s/kvfs-mkfs-bench.%d.img", dir,
		 (int)getpid());
	tool_report_init("kvfs-mkfs-bench");
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "kvfs-mkfs-bench: kv_init: %s\n",
			strerror(-ret));
		return 1;
	}
	printf("image %s, %llu bytes\n", path, (unsigned long long)size);
	for (int i = 0; i < runs && !ret; i++)
		ret = time_kvfs(path, size, bs, &t[i]);
	if (!ret)
		report("kvfs", t, runs, path);
	if (!ret && compare) {
		char *xfs[] = { "/sbin/mkfs.xfs", "-f", "-q", path, NULL };
		char *ext4[] = { "/sbin/mke2fs", "-F", "-q", "-t",
				 "ext4",	 path, NULL };
		int i;

		for (i = 0; i < runs && !time_cmd(xfs, path, size, &t[i]); i++)
			;
		if (i == runs)
			report("mkfs.xfs", t, runs, path);
		else
			fprintf(stderr, "kvfs-mkfs-bench: mkfs.xfs failed\n");
		for (i = 0; i < runs && !time_cmd(ext4, path, size, &t[i]); i++)
			;
		if (i == runs)
			report("mke2fs", t, runs, path);
		else
			fprintf(stderr, "kvfs-mkfs-bench: mke2fs failed\n");
	}
	unlink(path);
	kv_fini();
	return ret ? 1 : 0;
}
