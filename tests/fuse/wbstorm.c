// SPDX-License-Identifier: GPL-2.0
/*
 * For wbstorm.sh: writers that go on after ENOSPC on a full mount under
 * the writeback cache, and the check, after a remount, that every byte a
 * write(2) returned success for reads back.
 *
 *   wbstorm write DIR STATE PROCS FILES WRITES SEED DIO_PCT
 *	PROCS processes, each with FILES files DIR/wP.F of up to 4 MiB (a
 *	size drawn per file), FILE's writes O_DIRECT with DIO_PCT percent
 *	chance (drawn per file); each process WRITES pwrite(2)s of 4 KiB at
 *	random offsets (4 KiB-aligned with O_DIRECT, any byte otherwise) of
 *	random bytes 1..255, ENOSPC counted and ignored, a 4 KiB pread(2)
 *	every 16th write; then fsync and close of each file.  The model of
 *	each file (the bytes expected, those a failed write may have
 *	touched) goes to STATE/wP.F.  Prints
 *	"writes N enospc N reads N read_err N fsync_enospc N fsync_err N".
 *	Exit 1 on an errno other than ENOSPC from a write, or any failure
 *	of the harness.
 *   wbstorm verify DIR STATE PROCS FILES
 *	each model's known bytes read back from DIR.  Prints "lost N wrong
 *	N files_bad N" (lost: a byte written reads 0; wrong: any other
 *	difference); exit 1 when any byte is lost or wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define IO 4096
#define MAX_SIZE (4u << 20)

struct counts {
	uint64_t writes, enospc, reads, read_err, fsync_enospc, fsync_err;
};

/* the model of a file: exp[i] its byte (0: never written), unk[i] 1 if a
 * write that failed covered it (either value may be there) */
struct model {
	uint8_t *exp, *unk;
	uint32_t size; /* the most bytes any write reaches */
	bool dio;
	int fd, dfd;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static int save_model(const char *state, int p, int f, const struct model *m)
{
	char path[4096];
	FILE *out;
	int err = 0;

	snprintf(path, sizeof(path), "%s/w%d.%d", state, p, f);
	out = fopen(path, "w");
	if (!out)
		return -1;
	if (fwrite(&m->size, sizeof(m->size), 1, out) != 1 ||
	    fwrite(m->exp, 1, m->size, out) != m->size ||
	    fwrite(m->unk, 1, m->size, out) != m->size)
		err = -1;
	if (fclose(out))
		err = -1;
	return err;
}

static int writer(const char *dir, const char *state, int p, int files,
		  uint64_t writes, uint64_t seed, unsigned dio_pct,
		  struct counts *c)
{
	struct model *m = calloc((size_t)files, sizeof(*m));
	uint8_t *buf, *rbuf;
	char path[4096];

	rng_state = seed * 0x9e3779b97f4a7c15ull + (uint64_t)p * 7919 + 1;
	if (!m || posix_memalign((void **)&buf, IO, IO) ||
	    posix_memalign((void **)&rbuf, IO, IO))
		return 1;
	for (int f = 0; f < files; f++) {
		m[f].size = (uint32_t)(IO * 16 + rnd() % (MAX_SIZE - IO * 16));
		m[f].size &= ~(uint32_t)(IO - 1);
		m[f].dio = rnd() % 100 < dio_pct;
		m[f].exp = calloc(m[f].size, 1);
		m[f].unk = calloc(m[f].size, 1);
		snprintf(path, sizeof(path), "%s/w%d.%d", dir, p, f);
		m[f].fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		m[f].dfd = m[f].dio ? open(path, O_RDWR | O_DIRECT) : -1;
		if (!m[f].exp || !m[f].unk || m[f].fd < 0 ||
		    (m[f].dio && m[f].dfd < 0)) {
			perror(path);
			return 1;
		}
	}
	for (uint64_t i = 0; i < writes; i++) {
		struct model *fm = &m[rnd() % (uint64_t)files];
		uint32_t off;
		ssize_t w;

		if (fm->dio)
			off = (uint32_t)(rnd() % (fm->size / IO)) * IO;
		else
			off = (uint32_t)(rnd() % (fm->size - IO + 1));
		for (int k = 0; k < IO; k++)
			buf[k] = (uint8_t)(rnd() % 255 + 1);
		w = pwrite(fm->dio ? fm->dfd : fm->fd, buf, IO, off);
		c->writes++;
		if (w < 0 && errno != ENOSPC) {
			fprintf(stderr, "w%d: pwrite: %s\n", p,
				strerror(errno));
			return 1;
		}
		if (w < 0) {
			c->enospc++;
			w = 0;
		}
		memcpy(fm->exp + off, buf, (size_t)w);
		memset(fm->unk + off, 0, (size_t)w);
		/* a short or failed write: its rest may or may not be there */
		memset(fm->unk + off + w, 1, IO - (size_t)w);
		if (i % 16 == 15) {
			fm = &m[rnd() % (uint64_t)files];
			off = (uint32_t)(rnd() % (fm->size / IO)) * IO;
			c->reads++;
			if (pread(fm->dio ? fm->dfd : fm->fd, rbuf, IO, off) <
			    0)
				c->read_err++;
		}
	}
	for (int f = 0; f < files; f++) {
		if (fsync(m[f].fd)) {
			if (errno == ENOSPC)
				c->fsync_enospc++;
			else
				c->fsync_err++;
		}
		close(m[f].fd);
		if (m[f].dfd >= 0)
			close(m[f].dfd);
		if (save_model(state, p, f, &m[f])) {
			perror("the model");
			return 1;
		}
		free(m[f].exp);
		free(m[f].unk);
	}
	free(m);
	free(buf);
	free(rbuf);
	return 0;
}

static int run_write(char **argv)
{
	int procs = atoi(argv[2]), files = atoi(argv[3]);
	uint64_t writes = strtoull(argv[4], NULL, 0);
	uint64_t seed = strtoull(argv[5], NULL, 0);
	unsigned dio_pct = (unsigned)atoi(argv[6]);
	int pfd[2], bad = 0;
	struct counts sum = { 0 }, c;

	if (procs < 1 || files < 1 || pipe(pfd))
		return 1;
	for (int p = 0; p < procs; p++) {
		pid_t pid = fork();

		if (pid < 0)
			return 1;
		if (!pid) {
			int st;

			close(pfd[0]);
			memset(&c, 0, sizeof(c));
			st = writer(argv[0], argv[1], p, files, writes, seed,
				    dio_pct, &c);
			if (write(pfd[1], &c, sizeof(c)) != sizeof(c))
				st = 1;
			_exit(st);
		}
	}
	close(pfd[1]);
	while (read(pfd[0], &c, sizeof(c)) == sizeof(c)) {
		sum.writes += c.writes;
		sum.enospc += c.enospc;
		sum.reads += c.reads;
		sum.read_err += c.read_err;
		sum.fsync_enospc += c.fsync_enospc;
		sum.fsync_err += c.fsync_err;
	}
	for (int p = 0; p < procs; p++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			bad = 1;
	}
	printf("writes %llu enospc %llu reads %llu read_err %llu "
	       "fsync_enospc %llu fsync_err %llu\n",
	       (unsigned long long)sum.writes, (unsigned long long)sum.enospc,
	       (unsigned long long)sum.reads, (unsigned long long)sum.read_err,
	       (unsigned long long)sum.fsync_enospc,
	       (unsigned long long)sum.fsync_err);
	return bad;
}

static int verify_one(const char *dir, const char *state, int p, int f,
		      uint64_t *lost, uint64_t *wrong)
{
	char path[4096];
	uint32_t size;
	uint8_t *exp = NULL, *unk = NULL, *got = NULL;
	FILE *in;
	ssize_t n = 0;
	uint64_t l = 0, w = 0;
	int fd, ret = -1;

	snprintf(path, sizeof(path), "%s/w%d.%d", state, p, f);
	in = fopen(path, "r");
	if (!in)
		return -1;
	if (fread(&size, sizeof(size), 1, in) != 1 || size > MAX_SIZE)
		goto out;
	exp = malloc(size);
	unk = malloc(size);
	got = calloc(size, 1);
	if (!exp || !unk || !got || fread(exp, 1, size, in) != size ||
	    fread(unk, 1, size, in) != size)
		goto out;
	snprintf(path, sizeof(path), "%s/w%d.%d", dir, p, f);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		goto out;
	/* past the end reads as zeros: a lost tail */
	for (uint32_t at = 0; at < size; at += (uint32_t)n) {
		n = pread(fd, got + at, size - at, at);
		if (n <= 0)
			break;
	}
	close(fd);
	if (n < 0)
		goto out;
	for (uint32_t i = 0; i < size; i++) {
		if (unk[i] || got[i] == exp[i])
			continue;
		if (exp[i] && !got[i])
			l++;
		else
			w++;
	}
	if (l || w)
		fprintf(stderr, "w%d.%d: %llu bytes lost, %llu wrong\n", p, f,
			(unsigned long long)l, (unsigned long long)w);
	*lost += l;
	*wrong += w;
	ret = l || w;
out:
	fclose(in);
	free(exp);
	free(unk);
	free(got);
	return ret;
}

static int run_verify(char **argv)
{
	int procs = atoi(argv[2]), files = atoi(argv[3]), bad = 0, r;
	uint64_t lost = 0, wrong = 0;

	for (int p = 0; p < procs; p++)
		for (int f = 0; f < files; f++) {
			r = verify_one(argv[0], argv[1], p, f, &lost, &wrong);
			if (r < 0) {
				fprintf(stderr, "w%d.%d: cannot check: %s\n", p,
					f, strerror(errno));
				return 1;
			}
			bad += r;
		}
	printf("lost %llu wrong %llu files_bad %d\n", (unsigned long long)lost,
	       (unsigned long long)wrong, bad);
	return lost || wrong;
}

int main(int argc, char **argv)
{
	if (argc == 9 && !strcmp(argv[1], "write"))
		return run_write(argv + 2);
	if (argc == 6 && !strcmp(argv[1], "verify"))
		return run_verify(argv + 2);
	fprintf(stderr, "usage: wbstorm write DIR STATE PROCS FILES WRITES "
			"SEED DIO_PCT\n"
			"       wbstorm verify DIR STATE PROCS FILES\n");
	return 2;
}
