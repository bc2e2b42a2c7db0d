// SPDX-License-Identifier: GPL-2.0
/*
 * The workload and the check of tests/fuse/kill.sh (SIGKILL of mount.kvfs):
 *   test_fuse_kill work DIR LIST THREADS
 *       THREADS threads make files in DIR until an operation fails (the
 *       daemon was killed): each file written under a temporary name in
 *       one or two pieces, fsync'd, renamed to its name, the directory
 *       fsync'd; then "+NAME SIZE" is appended to LIST (outside the mount).
 *       Every third file removes an older one, "-NAME" appended first.
 *   test_fuse_kill verify DIR LIST
 *       every file LIST holds as made (and not as removed) is in DIR with
 *       its exact size and bytes; a removed one, if it is there (the
 *       unlink was never made durable), too.  Prints how many were checked.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuse/fuse_check.h"

#define MAX_THREADS 16

struct worker {
	pthread_t t;
	int id;
	const char *dir;
	int dirfd;
	int listfd;
};

static uint8_t pat(uint64_t off, uint32_t seed)
{
	return (uint8_t)(((off + seed) * 2654435761u) >> 13) | 1;
}

static uint32_t seed_of(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 16777619u;
	return h;
}

/* Sizes from one byte to 384 KiB: inline, one block, several extents. */
static size_t size_of(uint32_t seed)
{
	return seed % 3 == 0 ? seed % 3000 + 1 : seed % (384 << 10) + 1;
}

static void fill(uint8_t *b, size_t len, uint64_t off, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(off + i, seed);
}

/* One line to LIST in one write (O_APPEND: whole lines). */
static int record(struct worker *w, char sign, const char *name, size_t size)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%c%s %zu\n", sign, name, size);

	return write(w->listfd, line, n) == n ? 0 : -1;
}

static int make_file(struct worker *w, long i, uint8_t *buf)
{
	char name[64], tmp[72];
	uint32_t seed;
	size_t size, half;
	int fd;

	snprintf(name, sizeof(name), "w%d-%ld", w->id, i);
	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	seed = seed_of(name);
	size = size_of(seed);
	fill(buf, size, 0, seed);
	fd = openat(w->dirfd, tmp, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		return -1;
	/* every other file in two pieces, the first made durable alone */
	half = i % 2 ? size / 2 : size;
	if (pwrite(fd, buf, half, 0) != (ssize_t)half ||
	    (half < size &&
	     (fsync(fd) || pwrite(fd, buf + half, size - half, half) !=
				   (ssize_t)(size - half))) ||
	    fsync(fd)) {
		close(fd);
		return -1;
	}
	if (close(fd) || renameat(w->dirfd, tmp, w->dirfd, name) ||
	    fsync(w->dirfd))
		return -1;
	return record(w, '+', name, size);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = malloc(384 << 10);

	if (!buf)
		return NULL;
	for (long i = 0;; i++) {
		if (make_file(w, i, buf))
			break;
		if (i % 3 == 2) {
			char name[64];

			snprintf(name, sizeof(name), "w%d-%ld", w->id, i - 2);
			if (record(w, '-', name, 0) ||
			    unlinkat(w->dirfd, name, 0))
				break;
		}
	}
	free(buf);
	return NULL;
}

static int run_work(const char *dir, const char *list, int threads)
{
	struct worker w[MAX_THREADS];
	int dirfd, listfd;

	CHECK(threads >= 1 && threads <= MAX_THREADS);
	CHECK_OK(mkdir(dir, 0755));
	CHECK_OK(dirfd = open(dir, O_RDONLY | O_DIRECTORY));
	CHECK_OK(listfd = open(list, O_CREAT | O_TRUNC | O_WRONLY | O_APPEND,
			       0644));
	for (int t = 0; t < threads; t++) {
		w[t] = (struct worker){
			.id = t, .dir = dir, .dirfd = dirfd, .listfd = listfd
		};
		CHECK_EQ(pthread_create(&w[t].t, NULL, work, &w[t]), 0);
	}
	for (int t = 0; t < threads; t++)
		pthread_join(w[t].t, NULL);
	close(listfd);
	close(dirfd);
	return 0;
}

/* NAME is made (+) or removed (-): the last line about it says which. */
struct entry {
	char name[64];
	size_t size;
	bool removed;
};

static int check_one(int dirfd, const struct entry *e, uint8_t *buf,
		     uint8_t *want)
{
	uint32_t seed = seed_of(e->name);
	struct stat st;
	int fd = openat(dirfd, e->name, O_RDONLY);

	if (fd < 0) {
		if (errno == ENOENT && e->removed)
			return 0;
		fprintf(stderr, "%s: fsync'd, then: %s\n", e->name,
			strerror(errno));
		return 1;
	}
	CHECK_OK(fstat(fd, &st));
	if ((size_t)st.st_size != e->size) {
		fprintf(stderr, "%s: size %lld, %zu fsync'd\n", e->name,
			(long long)st.st_size, e->size);
		close(fd);
		return 1;
	}
	CHECK_EQ(pread(fd, buf, e->size, 0), (ssize_t)e->size);
	fill(want, e->size, 0, seed);
	close(fd);
	if (memcmp(buf, want, e->size)) {
		fprintf(stderr, "%s: bytes differ from what was fsync'd\n",
			e->name);
		return 1;
	}
	return 0;
}

static int run_verify(const char *dir, const char *list)
{
	struct entry *es = NULL;
	size_t n = 0, cap = 0, made = 0, bad = 0;
	uint8_t *buf = malloc(384 << 10), *want = malloc(384 << 10);
	char line[128], name[64];
	size_t size;
	FILE *f;
	int dirfd;

	CHECK(buf && want);
	CHECK(f = fopen(list, "r"));
	CHECK_OK(dirfd = open(dir, O_RDONLY | O_DIRECTORY));
	while (fgets(line, sizeof(line), f)) {
		size_t i;

		CHECK_EQ(sscanf(line + 1, "%63s %zu", name, &size), 2);
		for (i = 0; i < n && strcmp(es[i].name, name); i++)
			;
		if (i == n) {
			if (n == cap) {
				cap = cap ? 2 * cap : 256;
				CHECK(es = realloc(es, cap * sizeof(*es)));
			}
			memset(&es[n], 0, sizeof(es[n]));
			strcpy(es[n++].name, name);
		}
		if (line[0] == '+') {
			es[i].size = size;
			es[i].removed = false;
		} else {
			CHECK_EQ(line[0], '-');
			es[i].removed = true;
		}
	}
	fclose(f);
	for (size_t i = 0; i < n; i++) {
		bad += check_one(dirfd, &es[i], buf, want);
		made += !es[i].removed;
	}
	close(dirfd);
	printf("%zu fsync'd files checked (%zu removed since), %zu bad\n", n,
	       n - made, bad);
	free(es);
	free(buf);
	free(want);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && !strcmp(argv[1], "work"))
		return run_work(argv[2], argv[3], atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "verify"))
		return run_verify(argv[2], argv[3]);
	fprintf(stderr, "usage: %s work DIR LIST THREADS | verify DIR LIST\n",
		argv[0]);
	return 2;
}
