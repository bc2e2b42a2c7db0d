// SPDX-License-Identifier: GPL-2.0
/*
 * A power cut at each step of freeing whole inode chunks (fs/inode/ialloc.h:
 * a record freed with its last inode, its cluster buffers cancelled and
 * its blocks freed in one transaction) and of reusing their blocks.
 *
 * The template: NFILES files in a directory, filling the mkfs chunk's
 * free inodes and then whole chunks of their own.  Each point, on a copy:
 * every file removed (the chunks freed), a sync, then a file written over
 * the freed blocks (NDATA blocks of its own bytes) and fsynced, then the
 * close's write-back; the device dies at write n of that run, in each of
 * its modes (crash, unflushed writes lost, a torn write, unflushed sectors
 * kept in any subset and order).  After recovery: the checker and
 * fsck -n find nothing (a block both free and in use, a record without
 * its blocks, an inode count off); a removal the sync made durable is
 * still done; the new file, once its fsync was durable, reads back whole,
 * and at any point reads only its bytes or zeros (never an inode replayed
 * over its blocks from a log older than the chunk's free); everything
 * then removed, the free block count is the one after mkfs and the image
 * clean again.
 *
 * Usage: test_crash_ichunk [--points N] [--seed S] (N points a mode,
 * spread evenly over the run's writes, default 16; with a seed, drawn
 * from it over the writes, and the sectors a SECTORS cut keeps too)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/crash/harness.h"

#define NFILES 320
#define NDATA 64

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static const struct kvfs_cred cr = { 0 };
static uint64_t mkfs_free;
static uint32_t bsize;
static char *pattern, *got;

static uint64_t bfree(struct kvfs_mount *mp)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	return st.bfree;
}

static uint64_t dir_ino(struct kvfs_mount *mp)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "d", &st), 0);
	return st.ino;
}

static void make_template(void)
{
	struct kvfs_mkfs_opts mo = { .target = tmpl,
				     .size = 32u << 20,
				     .force = true };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	char name[32];
	bool created;
	uint64_t dir;

	unlink(tmpl);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	bsize = g.blocksize;
	mp = crash_open(tmpl, NULL);
	mkfs_free = bfree(mp);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	dir = st.ino;
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
	}
	CHECK_EQ(kvfs_close(mp), 0);
}

struct run {
	bool removed; /* the removals' sync durable */
	bool written; /* the new file's fsync durable */
};

/*
 * Every removal from..to, then a sync and (drain) the write-back of all in
 * place.
 */
static int remove_files(struct kvfs_mount *mp, uint64_t dir, int from, int to,
			bool drain)
{
	char name[32];
	int err = 0;

	for (int i = from; i < to && !err; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		err = kvfs_unlink(mp, dir, name);
	}
	if (!err)
		err = kvfs_sync(mp);
	if (!err && drain)
		err = kvj_log_drain(mp->log);
	return err;
}

/*
 * The run a point cuts short: half the files removed (some chunks freed)
 * and written back, the rest removed and synced, the new file over the
 * freed blocks, the write-back then (the freed inodes' items with it);
 * errors are fine once the device died.
 */
static void workload(struct kvfs_mount *mp, struct run *r)
{
	uint64_t dir = dir_ino(mp);
	struct kvfs_stat st;
	bool created;
	ssize_t n;
	int err;

	err = remove_files(mp, dir, 0, NFILES / 2, true);
	/* the freed inodes still to write back when their blocks are reused */
	if (!err)
		err = remove_files(mp, dir, NFILES / 2, NFILES, false);
	r->removed = !err && !crash_crashed(mp);
	CHECK(!err || crash_crashed(mp));
	if (!err)
		err = kvfs_create(mp, dir, "new", S_IFREG | 0644, 0,
				  KVFS_CREATE_EXCL, &cr, &st, &created);
	if (!err) {
		n = kvfs_write(mp, st.ino, pattern, (size_t)NDATA * bsize, 0,
			       0);
		err = n == (ssize_t)NDATA * bsize ? 0 : n < 0 ? (int)n : -EIO;
	}
	if (!err)
		err = kvfs_fsync(mp, st.ino, false);
	r->written = !err && !crash_crashed(mp);
	CHECK(!err || crash_crashed(mp));
	if (!err)
		err = kvj_log_drain(mp->log);
	CHECK(!err || crash_crashed(mp));
}

/* After recovery: what the run made durable is there, nothing else is off. */
static void check_point(const struct run *r)
{
	struct kvfs_mount *mp = crash_open(path, NULL);
	uint64_t dir = dir_ino(mp);
	struct kvfs_stat st;
	char name[32];
	int err;

	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		err = kvfs_lookup(mp, dir, name, &st);
		CHECK(err == 0 || err == -ENOENT);
		CHECK(!r->removed || err == -ENOENT);
		if (!err) {
			CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
			CHECK(S_ISREG(st.mode));
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		}
	}
	err = kvfs_lookup(mp, dir, "new", &st);
	CHECK(err == 0 || err == -ENOENT);
	CHECK(!r->written || err == 0);
	if (!err) {
		CHECK(!r->written || st.size == (uint64_t)NDATA * bsize);
		CHECK(st.size <= (uint64_t)NDATA * bsize);
		CHECK_EQ(kvfs_read(mp, st.ino, got, st.size, 0),
			 (ssize_t)st.size);
		/* each block its bytes or zeros: never an inode or garbage */
		for (uint64_t b = 0; b * bsize < st.size; b++) {
			size_t len = st.size - b * bsize < bsize ?
					     st.size - b * bsize :
					     bsize;
			char *blk = got + b * bsize;

			if (memcmp(blk, pattern + b * bsize, len) &&
			    (blk[0] || memcmp(blk, blk + 1, len - 1))) {
				fprintf(stderr,
					"new: block %" PRIu64
					" is neither its bytes nor "
					"zeros\n",
					b);
				CHECK(0);
			}
			CHECK(!r->written ||
			      !memcmp(blk, pattern + b * bsize, len));
		}
		CHECK_EQ(kvfs_unlink(mp, dir, "new"), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_image_clean(path, "after the removals");
	mp = crash_open(path, NULL);
	CHECK_EQ(bfree(mp), mkfs_free);
	CHECK_EQ(kvfs_close(mp), 0);
}

/* Writes of a whole run, without a fault. */
static uint64_t count_writes(void)
{
	struct kvfs_mount *mp;
	struct run r;
	uint64_t w0, w;

	crash_copy_image(tmpl, path);
	mp = crash_open(path, NULL);
	w0 = kv_dev_nr_writes(mp->dev);
	workload(mp, &r);
	CHECK(r.removed && r.written);
	w = kv_dev_nr_writes(mp->dev);
	/* the close's write-back goes to the media as well */
	CHECK_EQ(kvfs_close(mp), 0);
	check_point(&r);
	return w - w0;
}

static void one_point(enum crash_mode m, uint64_t n, uint64_t cutseed)
{
	struct kvfs_mount *mp;
	struct run r;

	crash_copy_image(tmpl, path);
	mp = crash_open(path, NULL);
	crash_arm(mp, m, n, cutseed);
	workload(mp, &r);
	crash_power_cut(mp);
	kvfs_close(mp);
	check_point(&r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "points", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned points = 16, by_mode = 0;
	uint64_t writes, seed = 0, ps;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p') {
			points = (unsigned)strtoul(optarg, NULL, 10);
		} else if (c == 's') {
			seed = strtoull(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: %s [--points N] [--seed S]\n",
				argv[0]);
			return 2;
		}
	}
	CHECK(points > 0);
	ps = seed;
	CHECK_EQ(kv_init(NULL), 0);
	crash_alarm(600, "test_crash_ichunk: hung\n");
	crash_paths("ichunk", path, tmpl);
	make_template();
	pattern = malloc((size_t)NDATA * bsize);
	got = malloc((size_t)NDATA * bsize);
	CHECK(pattern && got);
	for (size_t i = 0; i < (size_t)NDATA * bsize; i++)
		pattern[i] = (char)(i / 7 % 251 + 1);
	writes = count_writes();
	CHECK(writes > 0);
	for (int m = 0; m < NMODES; m++) {
		for (unsigned p = 0; p < points; p++) {
			/* spread over the run, the first and last writes too */
			uint64_t n = points == 1 ? 1 :
						   1 + (writes - 1) * p /
								   (points - 1);

			if (seed)
				n = 1 + crash_rnd(&ps) % writes;
			one_point((enum crash_mode)m, n,
				  seed ? crash_rnd(&ps) : n * 7919 + m);
			by_mode++;
		}
	}
	unlink(path);
	unlink(tmpl);
	free(pattern);
	free(got);
	CHECK_EQ(kv_fini(), 0);
	printf("crash ichunk: %d files' chunks freed and their blocks "
	       "reused, %" PRIu64 " writes, %u points over %d modes: "
	       "recovered, clean, every block back\n",
	       NFILES, writes, by_mode, NMODES);
	return 0;
}
