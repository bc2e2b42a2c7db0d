// SPDX-License-Identifier: GPL-2.0
/*
 * fsbench-meta create|stat|unlink DIR FILES THREADS: the metadata rates of
 * tools/fsbench.  Each thread works in its own directory DIR/tN on FILES
 * empty files: create (open O_CREAT|O_EXCL, close; the directory is made
 * first), stat (every file), or unlink (every file, then the directory).
 * Prints one line, the operations per second of all threads together,
 * timed from when every thread is ready to when the last one is done.
 * Exit status 1 on the first failure, with its errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum mode { CREATE, STAT, UNLINK };

struct job {
	pthread_t t;
	enum mode mode;
	char dir[4096];
	long files;
	int err;
	pthread_barrier_t *start;
};

static const char *const mode_names[] = { "create", "stat", "unlink" };

static int one(struct job *j, long i)
{
	char p[4200];
	struct stat st;
	int fd;

	snprintf(p, sizeof(p), "%s/f%07ld", j->dir, i);
	switch (j->mode) {
	case CREATE:
		fd = open(p, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0 || close(fd))
			return -errno;
		return 0;
	case STAT:
		return stat(p, &st) ? -errno : 0;
	case UNLINK:
		return unlink(p) ? -errno : 0;
	}
	return -EINVAL;
}

static void *run(void *arg)
{
	struct job *j = arg;
	long i;

	pthread_barrier_wait(j->start);
	for (i = 0; i < j->files && !j->err; i++)
		j->err = one(j, i);
	if (!j->err && j->mode == UNLINK && rmdir(j->dir))
		j->err = -errno;
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	pthread_barrier_t start;
	struct job *jobs;
	long files, threads;
	int mode = -1, ret = 0;
	double t0;

	if (argc == 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("usage: %s create|stat|unlink DIR FILES THREADS (1..64)\n"
		       "The metadata rates of tools/fsbench: each thread in "
		       "DIR/tN, FILES\nempty files each; one line, the "
		       "operations per second.\n",
		       argv[0]);
		return 0;
	}
	for (int m = CREATE; m <= UNLINK; m++)
		if (argc == 5 && !strcmp(argv[1], mode_names[m]))
			mode = m;
	files = argc == 5 ? atol(argv[3]) : 0;
	threads = argc == 5 ? atol(argv[4]) : 0;
	if (mode < 0 || files < 1 || threads < 1 || threads > 64) {
		fprintf(stderr,
			"usage: %s create|stat|unlink DIR FILES THREADS (1..64)\n",
			argv[0]);
		return 2;
	}
	jobs = calloc(threads, sizeof(*jobs));
	if (!jobs || pthread_barrier_init(&start, NULL, threads + 1)) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	for (long t = 0; t < threads; t++) {
		struct job *j = &jobs[t];

		j->mode = mode;
		j->files = files;
		j->start = &start;
		snprintf(j->dir, sizeof(j->dir), "%s/t%ld", argv[2], t);
		if (mode == CREATE && mkdir(j->dir, 0755)) {
			fprintf(stderr, "%s: mkdir %s: %s\n", argv[0], j->dir,
				strerror(errno));
			return 1;
		}
		if (pthread_create(&j->t, NULL, run, j)) {
			fprintf(stderr, "%s: cannot start a thread\n", argv[0]);
			return 1;
		}
	}
	pthread_barrier_wait(&start);
	t0 = now();
	for (long t = 0; t < threads; t++)
		pthread_join(jobs[t].t, NULL);
	t0 = now() - t0;
	for (long t = 0; t < threads; t++) {
		if (jobs[t].err) {
			fprintf(stderr, "%s: %s in %s: %s\n", argv[0],
				mode_names[mode], jobs[t].dir,
				strerror(-jobs[t].err));
			ret = 1;
		}
	}
	if (!ret)
		printf("%.0f\n", files * threads / t0);
	pthread_barrier_destroy(&start);
	free(jobs);
	return ret;
}
