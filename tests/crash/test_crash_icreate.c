// SPDX-License-Identifier: GPL-2.0
/*
 * A power cut at each step of making inode chunks through their creation
 * items (fs/inode/icreate_item.h: the cluster blocks ordered, not logged),
 * freeing them and reusing their blocks for data, then making chunks again
 * over the data's freed blocks.
 *
 * The run, on a copy of an empty template: NA files created in a
 * directory (new chunks past mkfs's), the directory fsynced every BATCH
 * creates; every file removed in order (the chunks freed, their cluster
 * buffers cancelled) and a sync; a file of NDATA blocks written over the
 * freed blocks and fsynced; that file removed and synced; NB files created
 * again (chunks made where the data was), fsynced every BATCH; the
 * write-back of everything.  The device dies at write n of that run, in
 * each of its modes (crash, unflushed writes lost, a torn write,
 * unflushed sectors kept in any subset and order), and with --recut the
 * mount that replays is cut again.  After recovery: the checker and
 * fsck -n find nothing, before and after the files are removed (a chunk
 * written again over the data, or not written before the tail passed its
 * creation, shows as inodes that fail their checks or a data block that
 * is neither its bytes nor zeros); every create an fsync made durable and
 * whose removal had not started is there; a removal a sync made durable is
 * done; the data file, once durable, reads back whole; the free block
 * count is mkfs's once everything is removed.
 *
 * Usage: test_crash_icreate [--points N | --every] [--seed S] [--recut]
 * [--blocksize B] (N points a mode spread over the run's writes, default
 * 16; --every: a point at every write; with a seed, the points drawn from
 * it and the sectors a SECTORS cut keeps too; B: the block size, 4096 by
 * default: 1024 makes chunks of 32 blocks, 65536 blocks of 128 inodes,
 * two chunks each, never freed)
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

#define NA 200
#define NB 130
#define BATCH 16
#define NDATA 96

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static const struct kvfs_cred cr = { 0 };
static uint64_t mkfs_free;
static uint32_t bsize;
static char *pattern, *got;
static unsigned nrecut;
static uint32_t blocksize_opt;
/* what the replays did with creation items, over all points */
static struct kvfs_icreate_recover_stats icr_total;

/* What the run made durable before the device died. */
struct run {
	int durable_a; /* f0.. below it: created, and fsynced */
	int unlink_a; /* removals of f0.. started below it */
	bool keep; /* the keeper's create durable */
	bool removed_a; /* all of them, synced */
	bool written; /* the data file's fsync durable */
	bool data_started; /* its removal started */
	bool data_removed; /* and synced */
	int durable_b; /* g0.. below it: created, and fsynced */
};

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
				     .blocksize = blocksize_opt,
				     .force = true };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;

	unlink(tmpl);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	bsize = g.blocksize;
	mp = crash_open(tmpl, NULL);
	mkfs_free = bfree(mp);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

/*
 * Create prefix<from>..prefix<n-1>, fsyncing dir every BATCH: *durable
 * counts those an fsync made durable.
 */
static int create_files(struct kvfs_mount *mp, uint64_t dir, char prefix,
			int from, int n, int *durable)
{
	struct kvfs_stat st;
	char name[32];
	bool created;
	int err = 0;

	for (int i = from; i < n && !err; i++) {
		snprintf(name, sizeof(name), "%c%d", prefix, i);
		err = kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				  KVFS_CREATE_EXCL, &cr, &st, &created);
		if (!err && ((i + 1) % BATCH == 0 || i + 1 == n)) {
			err = kvfs_fsync(mp, dir, false);
			if (!err && !crash_crashed(mp))
				*durable = i + 1;
		}
	}
	return err;
}

static int write_data(struct kvfs_mount *mp, uint64_t dir)
{
	struct kvfs_stat st;
	bool created;
	ssize_t n;
	int err;

	err = kvfs_create(mp, dir, "data", S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			  &cr, &st, &created);
	if (err)
		return err;
	n = kvfs_write(mp, st.ino, pattern, (size_t)NDATA * bsize, 0, 0);
	if (n != (ssize_t)NDATA * bsize)
		return n < 0 ? (int)n : -EIO;
	return kvfs_fsync(mp, st.ino, false);
}

/* The run a point cuts short; errors are fine once the device died. */
static void workload(struct kvfs_mount *mp, struct run *r)
{
	uint64_t dir = dir_ino(mp);
	struct kvfs_stat st;
	char name[32];
	bool created;
	int err;

	memset(r, 0, sizeof(*r));
	err = create_files(mp, dir, 'f', 0, NA / 2, &r->durable_a);
	/* the first chunks written back: the tail passes their creations */
	if (!err)
		err = kvj_log_drain(mp->log);
	/*
	 * A file never changed again, logged before the next chunks: it
	 * holds the tail before their creations (their own items are all
	 * logged again when the chunks are freed), so that the replay sees
	 * creations of chunks freed and reused since.
	 */
	if (!err)
		err = kvfs_create(mp, kvfs_root_ino(mp), "keep", S_IFREG | 0644,
				  0, KVFS_CREATE_EXCL, &cr, &st, &created);
	if (!err)
		err = create_files(mp, dir, 'f', NA / 2, NA, &r->durable_a);
	/* the fsync of d covered it: it came first */
	r->keep = r->durable_a > NA / 2;
	for (int i = 0; i < NA && !err; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		r->unlink_a = i + 1;
		err = kvfs_unlink(mp, dir, name);
	}
	if (!err)
		err = kvfs_sync(mp);
	r->removed_a = !err && !crash_crashed(mp);
	if (!err)
		err = write_data(mp, dir);
	r->written = !err && !crash_crashed(mp);
	if (!err) {
		r->data_started = true;
		err = kvfs_unlink(mp, dir, "data");
	}
	if (!err)
		err = kvfs_sync(mp);
	r->data_removed = !err && !crash_crashed(mp);
	if (!err)
		err = create_files(mp, dir, 'g', 0, NB, &r->durable_b);
	if (!err)
		err = kvj_log_drain(mp->log);
	CHECK(!err || crash_crashed(mp));
}

/* Each block of the data file its bytes or zeros; whole once durable. */
static void check_data(struct kvfs_mount *mp, const struct run *r, uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK(!r->written || st.size == (uint64_t)NDATA * bsize);
	CHECK(st.size <= (uint64_t)NDATA * bsize);
	CHECK_EQ(kvfs_read(mp, ino, got, st.size, 0), (ssize_t)st.size);
	for (uint64_t b = 0; b * bsize < st.size; b++) {
		size_t len = st.size - b * bsize < bsize ? st.size - b * bsize :
							   bsize;
		char *blk = got + b * bsize;

		if (memcmp(blk, pattern + b * bsize, len) &&
		    (blk[0] || memcmp(blk, blk + 1, len - 1))) {
			fprintf(stderr,
				"data: block %" PRIu64
				" is neither its bytes nor zeros\n",
				b);
			CHECK(0);
		}
		CHECK(!r->written || !memcmp(blk, pattern + b * bsize, len));
	}
}

/* After recovery: what the run made durable is there, nothing else is off. */
static void check_point(const struct run *r)
{
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[32];
	uint64_t dir;
	int err;

	/* the recovered image itself, before anything changes it */
	mp = crash_open(path, NULL);
	icr_total.items += mp->icr_rstats.items;
	icr_total.blocks += mp->icr_rstats.blocks;
	icr_total.cancelled += mp->icr_rstats.cancelled;
	CHECK_EQ(kvfs_close(mp), 0);
	crash_image_clean(path, "after the recovery");
	mp = crash_open(path, NULL);
	dir = dir_ino(mp);
	for (int i = 0; i < NA; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		err = kvfs_lookup(mp, dir, name, &st);
		CHECK(err == 0 || err == -ENOENT);
		CHECK(!r->removed_a || err == -ENOENT);
		if (i < r->durable_a && i >= r->unlink_a && err) {
			fprintf(stderr, "f%d: fsynced, never removed, lost\n",
				i);
			CHECK(0);
		}
		if (!err) {
			CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
			CHECK(S_ISREG(st.mode));
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		}
	}
	err = kvfs_lookup(mp, dir, "data", &st);
	CHECK(err == 0 || err == -ENOENT);
	CHECK(!r->data_removed || err == -ENOENT);
	CHECK(!r->written || r->data_started || err == 0);
	if (!err) {
		check_data(mp, r, st.ino);
		CHECK_EQ(kvfs_unlink(mp, dir, "data"), 0);
	}
	for (int i = 0; i < NB; i++) {
		snprintf(name, sizeof(name), "g%d", i);
		err = kvfs_lookup(mp, dir, name, &st);
		CHECK(err == 0 || err == -ENOENT);
		if (i < r->durable_b && err) {
			fprintf(stderr, "g%d: fsynced, lost\n", i);
			CHECK(0);
		}
		if (!err) {
			CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
			CHECK(S_ISREG(st.mode));
			CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		}
	}
	err = kvfs_lookup(mp, kvfs_root_ino(mp), "keep", &st);
	CHECK(err == 0 || err == -ENOENT);
	CHECK(!r->keep || err == 0);
	if (!err)
		CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "keep"), 0);
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_image_clean(path, "after the removals");
	mp = crash_open(path, NULL);
	/* blocks of more than a chunk's inodes are kept (fs/inode/ialloc.h) */
	if (mp->g.inopblock <= KVFS_INODES_PER_CHUNK)
		CHECK_EQ(bfree(mp), mkfs_free);
	else
		CHECK(bfree(mp) <= mkfs_free);
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
	CHECK(r.keep && r.removed_a && r.written && r.data_removed &&
	      r.durable_b == NB);
	w = kv_dev_nr_writes(mp->dev);
	CHECK_EQ(kvfs_close(mp), 0);
	check_point(&r);
	return w - w0;
}

static void one_point(enum crash_mode m, uint64_t n, uint64_t cutseed,
		      bool recut)
{
	struct kvfs_mount *mp;
	struct run r;

	crash_copy_image(tmpl, path);
	mp = crash_open(path, NULL);
	crash_arm(mp, m, n, cutseed);
	workload(mp, &r);
	crash_power_cut(mp);
	kvfs_close(mp);
	if (recut) {
		uint64_t cut_at;
		bool recrashed;
		int err =
			crash_cut_in_replay(path, cutseed, &cut_at, &recrashed);

		if (err) {
			fprintf(stderr,
				"%s at write %" PRIu64
				": the mount cut at write %" PRIu64
				": %d: %s\n",
				crash_mode_name[m], n, cut_at, err,
				kvfs_mount_error());
			exit(1);
		}
		nrecut += recrashed;
	}
	check_point(&r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "points", required_argument, NULL, 'p' },
		{ "every", no_argument, NULL, 'e' },
		{ "seed", required_argument, NULL, 's' },
		{ "recut", no_argument, NULL, 'r' },
		{ "blocksize", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned points = 16, by_mode = 0;
	uint64_t writes, seed = 0, ps, n;
	bool every = false, recut = false;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'p') {
			points = (unsigned)strtoul(optarg, NULL, 10);
		} else if (c == 'e') {
			every = true;
		} else if (c == 's') {
			seed = strtoull(optarg, NULL, 10);
		} else if (c == 'r') {
			recut = true;
		} else if (c == 'b') {
			blocksize_opt = (uint32_t)strtoul(optarg, NULL, 10);
		} else {
			fprintf(stderr,
				"usage: %s [--points N | --every] [--seed S] "
				"[--recut] [--blocksize B]\n",
				argv[0]);
			return 2;
		}
	}
	CHECK(points > 0);
	ps = seed;
	CHECK_EQ(kv_init(NULL), 0);
	crash_alarm(every ? 36000 : 900, "test_crash_icreate: hung\n");
	crash_paths("icreate", path, tmpl);
	make_template();
	pattern = malloc((size_t)NDATA * bsize);
	got = malloc((size_t)NDATA * bsize);
	CHECK(pattern && got);
	for (size_t i = 0; i < (size_t)NDATA * bsize; i++)
		pattern[i] = (char)(i / 7 % 251 + 1);
	writes = count_writes();
	CHECK(writes > 0);
	if (every)
		points = (unsigned)writes;
	for (int m = 0; m < NMODES; m++) {
		for (unsigned p = 0; p < points; p++) {
			/* spread over the run, the first and last writes too */
			n = points == 1 ? 1 :
					  1 + (writes - 1) * p / (points - 1);
			if (seed && !every)
				n = 1 + crash_rnd(&ps) % writes;
			one_point((enum crash_mode)m, n,
				  seed ? crash_rnd(&ps) : n * 7919 + m, recut);
			by_mode++;
		}
	}
	unlink(path);
	unlink(tmpl);
	free(pattern);
	free(got);
	CHECK_EQ(kv_fini(), 0);
	printf("crash icreate (%u-byte blocks): %d files' chunks made, freed, "
	       "their blocks reused by data, %d made again; %" PRIu64
	       " writes, %u points over %d modes (%u cut again in replay; "
	       "replays: %" PRIu64 " creation items, %" PRIu64
	       " blocks written again, %" PRIu64 " left as freed later): "
	       "recovered, clean, every fsynced file there\n",
	       bsize, NA, NB, writes, by_mode, NMODES, nrecut, icr_total.items,
	       icr_total.blocks, icr_total.cancelled);
	return 0;
}
