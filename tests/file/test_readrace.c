// SPDX-License-Identifier: GPL-2.0
/*
 * Reads racing every change of a file's map (fs/data/file.c reads the
 * extent list without the inode lock, validated by its seqcount, and the
 * last put of an open inode without links asks fs/inode/openref.c without
 * the stripe's lock).
 *
 * Part 1: three readers read random ranges of a file while a fourth
 * thread writes (allocating, converting unwritten blocks, overwriting),
 * punches holes, truncates down and up, fallocates, zeroes ranges, splits
 * the map past the in-inode list into a B+tree and merges it back, and
 * fills another file with 0xff from blocks the first one freed.  Every
 * byte the file is ever given at offset o is pat(o) (never 0 nor 0xff):
 * each byte a reader gets must be pat(o) or 0.  A stale mapping after a
 * free shows 0xff or another offset's pattern, a torn extent list
 * another file's or the metadata's bytes.
 *
 * Part 2: readers read a tmpfile by number (each read's put is the last
 * when the others are between reads) while it is closed: its last put
 * must free it (reads then answer -ENOENT) and the space comes back.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define REGION (4u << 20) /* the file's offsets in play */
#define MAXIO (256u << 10)
#define READERS 3
#define MUTATIONS 1500
#define SECONDS 2.0 /* part 1 stops after this much, done or not */
#define CLOSES 20

static char path[] = "/tmp/kvfs-test-readrace-XXXXXX";
static struct kvfs_mount *mp;
static uint64_t ino, other;
static uint32_t bs;
static atomic_bool done;
static atomic_uint_fast64_t nreads, nbytes;

static uint8_t pat(uint64_t o)
{
	return (uint8_t)(o % 127 + 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *reader(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	uint8_t *buf = malloc(MAXIO);

	CHECK(buf);
	while (!atomic_load(&done)) {
		uint64_t off = rnd(&s) % (REGION + bs);
		size_t len = rnd(&s) % 4 ? rnd(&s) % MAXIO + 1 : bs;
		ssize_t n;

		if (rnd(&s) % 2)
			off &= ~(uint64_t)(bs - 1);
		n = kvfs_read(mp, ino, buf, len, (off_t)off);
		CHECK(n >= 0 && (size_t)n <= len);
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] && buf[i] != pat(off + (uint64_t)i)) {
				fprintf(stderr,
					"readrace: byte %llu: 0x%02x, not 0x%02x "
					"nor 0\n",
					(unsigned long long)(off + (uint64_t)i),
					buf[i], pat(off + (uint64_t)i));
				CHECK(0);
			}
		}
		atomic_fetch_add(&nreads, 1);
		atomic_fetch_add(&nbytes, (uint64_t)n);
	}
	free(buf);
	return NULL;
}

static void write_pat(uint8_t *buf, uint64_t off, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = pat(off + i);
	CHECK_EQ(kvfs_write(mp, ino, buf, len, (off_t)off, 0), (ssize_t)len);
}

static void set_size(uint64_t ino_, uint64_t size)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };
	struct kvfs_cred cr = { 0 };

	CHECK_EQ(kvfs_setattr(mp, ino_, &sa, &cr, NULL), 0);
}

/* Blocks the file just freed go to the other file, filled with 0xff. */
static void reuse(uint8_t *buf)
{
	memset(buf, 0xff, MAXIO);
	for (uint64_t off = 0; off < 4 * MAXIO; off += MAXIO)
		CHECK_EQ(kvfs_write(mp, other, buf, MAXIO, (off_t)off, 0),
			 (ssize_t)MAXIO);
	set_size(other, 0);
}

static unsigned mutate(void)
{
	uint64_t s = 0x2545f4914f6cdd1dull;
	uint8_t *buf = malloc(MAXIO);
	double t0 = now();
	unsigned i;

	CHECK(buf);
	for (i = 0; i < MUTATIONS && now() - t0 < SECONDS; i++) {
		uint64_t off = rnd(&s) % REGION, len = rnd(&s) % MAXIO + 1;

		if (len > REGION - off)
			len = REGION - off;
		switch (rnd(&s) % 8) {
		case 0:
		case 1:
			write_pat(buf, off, len);
			break;
		case 2:
			CHECK_EQ(kvfs_fallocate(mp, ino,
						FALLOC_FL_PUNCH_HOLE |
							FALLOC_FL_KEEP_SIZE,
						(off_t)off, (off_t)len),
				 0);
			reuse(buf);
			break;
		case 3:
			set_size(ino, off);
			reuse(buf);
			set_size(ino, off + len);
			break;
		case 4:
			CHECK_EQ(kvfs_fallocate(
					 mp, ino,
					 rnd(&s) % 2 ? FALLOC_FL_KEEP_SIZE : 0,
					 (off_t)off, (off_t)len),
				 0);
			break;
		case 5:
			CHECK_EQ(kvfs_fallocate(mp, ino, FALLOC_FL_ZERO_RANGE,
						(off_t)off, (off_t)len),
				 0);
			break;
		case 6:
			/* every other block a hole: a B+tree map */
			off &= ~(uint64_t)(bs - 1);
			write_pat(buf, off,
				  REGION - off < 64 * bs ? REGION - off :
							   64 * bs);
			for (uint64_t b = off; b < off + 64 * bs && b < REGION;
			     b += 2 * bs)
				CHECK_EQ(kvfs_fallocate(
						 mp, ino,
						 FALLOC_FL_PUNCH_HOLE |
							 FALLOC_FL_KEEP_SIZE,
						 (off_t)b, bs),
					 0);
			reuse(buf);
			break;
		default:
			/* aligned overwrites inside the size: the I/O lock shared */
			off &= ~(uint64_t)(bs - 1);
			len = (len + bs - 1) & ~(uint64_t)(bs - 1);
			if (len > REGION - off)
				len = REGION - off;
			write_pat(buf, off, len);
			break;
		}
	}
	free(buf);
	return i;
}

static void part1(void)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	pthread_t t[READERS];
	uint8_t *buf = malloc(MAXIO);
	unsigned n;

	CHECK(buf);
	CHECK_EQ(kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st), 0);
	ino = st.ino;
	CHECK_EQ(kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st), 0);
	other = st.ino;
	for (uint64_t off = 0; off < REGION; off += MAXIO)
		write_pat(buf, off, MAXIO);
	for (uintptr_t i = 0; i < READERS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, reader, (void *)i), 0);
	n = mutate();
	atomic_store(&done, true);
	for (int i = 0; i < READERS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	/* and once more, alone: every byte as the model says */
	for (uint64_t off = 0; off < REGION; off += MAXIO) {
		ssize_t r = kvfs_read(mp, ino, buf, MAXIO, (off_t)off);

		CHECK(r >= 0);
		for (ssize_t i = 0; i < r; i++)
			CHECK(!buf[i] || buf[i] == pat(off + (uint64_t)i));
	}
	kvfs_inode_close(mp, ino);
	kvfs_inode_close(mp, other);
	free(buf);
	printf("readrace: %u changes, %llu reads (%llu MiB) checked\n", n,
	       (unsigned long long)atomic_load(&nreads),
	       (unsigned long long)(atomic_load(&nbytes) >> 20));
}

static atomic_bool closed;

/*
 * Read until the file is closed, and a few times after: reads by number
 * keep the inode while they overlap, so the last of them frees it.
 */
static void *tmp_reader(void *arg)
{
	uint8_t buf[512];
	int after = 0;

	(void)arg;
	while (after < 16) {
		ssize_t n = kvfs_read(mp, ino, buf, sizeof(buf), 0);

		/* 0: truncated by its freeing, not yet free */
		CHECK(n == (ssize_t)sizeof(buf) || n == 0 || n == -ENOENT);
		if (n > 0)
			CHECK(buf[0] == 0x5a && buf[sizeof(buf) - 1] == 0x5a);
		if (atomic_load(&closed))
			after++;
	}
	return NULL;
}

static void part2(void)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_statfs before, after;
	struct kvfs_stat st;
	uint8_t buf[64 << 10];

	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_statfs(mp, &before), 0);
	for (int k = 0; k < CLOSES; k++) {
		pthread_t t[READERS];

		CHECK_EQ(kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st),
			 0);
		ino = st.ino;
		CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf), 0, 0),
			 (ssize_t)sizeof(buf));
		atomic_store(&closed, false);
		for (uintptr_t i = 0; i < READERS; i++)
			CHECK_EQ(pthread_create(&t[i], NULL, tmp_reader,
						(void *)i),
				 0);
		/* the readers' puts take the hint first */
		usleep(1000);
		kvfs_inode_close(mp, ino);
		atomic_store(&closed, true);
		for (int i = 0; i < READERS; i++)
			CHECK_EQ(pthread_join(t[i], NULL), 0);
	}
	/* every file freed by a last put: the space and the inodes back */
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_statfs(mp, &after), 0);
	CHECK_EQ(after.bfree, before.bfree);
	CHECK_EQ(after.ffree, before.ffree);
	CHECK_EQ(kvfs_read(mp, ino, buf, 1, 0), -ENOENT);
	printf("readrace: %d tmpfiles closed under readers, each freed\n",
	       CLOSES);
}

int main(void)
{
	struct kvfs_geom g;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 256 << 20, 0, &g);
	bs = g.blocksize;
	part1();
	part2();
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
