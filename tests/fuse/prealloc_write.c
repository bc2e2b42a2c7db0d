// SPDX-License-Identifier: GPL-2.0
/*
 * For prealloc.sh: writes of whole blocks into a file's preallocated
 * space through a mount, one pwrite(2) each with O_DIRECT (so that each
 * reaches the daemon as its own write, its answer the call's), and their
 * check after a remount.
 *
 *   prealloc_write write FILE BS FIRST COUNT STEP LIST
 *	block FIRST + i * STEP (i < COUNT) written with its pattern; LIST
 *	gets a line per write, 1 stored, 0 refused with ENOSPC; then
 *	fsync.  Prints "ok N enospc M fsync E"; exit 1 on any other errno.
 *   prealloc_write verify FILE BS FIRST COUNT STEP LIST
 *	each block of LIST's 1 lines holds its pattern, each of its 0 lines
 *	zeros (a refused write changed nothing).  Exit 1 if any does not,
 *	naming the first and counting them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* block b's bytes: its number, then a byte of it in every position */
static void pattern(uint8_t *p, size_t bs, uint64_t b)
{
	for (size_t i = 0; i < bs; i++)
		p[i] = (uint8_t)(b * 131 + i / 8 + 1);
	memcpy(p, &b, sizeof(b));
}

static int run_write(int fd, FILE *list, size_t bs, uint64_t first,
		     uint64_t count, uint64_t step, uint8_t *buf)
{
	uint64_t ok = 0, nospc = 0;
	int e = 0;

	for (uint64_t i = 0; i < count; i++) {
		uint64_t b = first + i * step;
		ssize_t w;

		pattern(buf, bs, b);
		w = pwrite(fd, buf, bs, (off_t)(b * bs));
		if (w == (ssize_t)bs) {
			ok++;
			fputs("1\n", list);
		} else if (w < 0 && errno == ENOSPC) {
			nospc++;
			fputs("0\n", list);
		} else {
			fprintf(stderr, "block %llu: %zd (%s)\n",
				(unsigned long long)b, w,
				w < 0 ? strerror(errno) : "short");
			return 1;
		}
	}
	if (fsync(fd))
		e = errno;
	printf("ok %llu enospc %llu fsync %d\n", (unsigned long long)ok,
	       (unsigned long long)nospc, e);
	return 0;
}

static int run_verify(int fd, FILE *list, size_t bs, uint64_t first,
		      uint64_t count, uint64_t step, uint8_t *buf)
{
	uint8_t *want = malloc(bs);
	uint64_t bad[2] = { 0, 0 };
	char line[8];

	if (!want)
		return 1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t b = first + i * step;
		bool stored;

		if (!fgets(line, sizeof(line), list)) {
			fprintf(stderr, "list ends at write %llu\n",
				(unsigned long long)i);
			return 1;
		}
		stored = line[0] == '1';
		if (stored)
			pattern(want, bs, b);
		else
			memset(want, 0, bs);
		if (pread(fd, buf, bs, (off_t)(b * bs)) == (ssize_t)bs &&
		    !memcmp(buf, want, bs))
			continue;
		if (!bad[0] && !bad[1])
			fprintf(stderr, "block %llu (write %s) reads wrong\n",
				(unsigned long long)b,
				stored ? "stored" : "refused");
		bad[stored]++;
	}
	free(want);
	if (bad[0] || bad[1])
		fprintf(stderr,
			"%llu stored and %llu refused blocks read wrong\n",
			(unsigned long long)bad[1], (unsigned long long)bad[0]);
	return bad[0] || bad[1];
}

int main(int argc, char **argv)
{
	size_t bs;
	uint64_t first, count, step;
	uint8_t *buf;
	FILE *list;
	bool wr;
	int fd, rc;

	if (argc != 8 ||
	    (strcmp(argv[1], "write") && strcmp(argv[1], "verify"))) {
		fprintf(stderr,
			"usage: %s write|verify FILE BS FIRST COUNT STEP LIST\n",
			argv[0]);
		return 2;
	}
	wr = !strcmp(argv[1], "write");
	bs = strtoul(argv[3], NULL, 0);
	first = strtoull(argv[4], NULL, 0);
	count = strtoull(argv[5], NULL, 0);
	step = strtoull(argv[6], NULL, 0);
	fd = open(argv[2], wr ? O_WRONLY | O_DIRECT : O_RDONLY);
	list = fopen(argv[7], wr ? "w" : "r");
	if (fd < 0 || !list || posix_memalign((void **)&buf, 4096, bs)) {
		perror(argv[2]);
		return 1;
	}
	rc = wr ? run_write(fd, list, bs, first, count, step, buf) :
		  run_verify(fd, list, bs, first, count, step, buf);
	if (fclose(list) || close(fd))
		rc = 1;
	free(buf);
	return rc;
}
