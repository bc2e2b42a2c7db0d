// SPDX-License-Identifier: GPL-2.0
/*
 * A power cut at each step of removals that free their inode in their own
 * transaction (fs/inode/inactive.h kvfs_inode_free_at_unlink(): an inode
 * nobody holds, with nothing to truncate, freed with its last name), beside
 * one that does not (a file held open goes onto its unlinked list).
 *
 * The run, on a copy of a template holding directory d with NF empty files,
 * an inline symlink, a fifo and an empty subdirectory, all durable: a
 * file of d opened; then, in order, every file removed (the last ones of
 * their inode chunk free the chunk in the same transaction), the symlink,
 * the fifo and the subdirectory, d fsynced every BATCH removals; the open
 * file closed (its freeing at the put); a sync.  The device dies at write
 * n of that run, in each of its modes.  After recovery: the checker and
 * fsck -n find nothing; each name is there with its inode allocated and
 * linked once, or gone with its inode free (never a name without its
 * inode, nor an inode without its name); the names gone are a prefix of
 * the removal order, covering every removal an fsync made durable; the
 * unlinked lists held at most the open file; once everything is removed,
 * the free block and inode counts are the template's.
 *
 * Usage: test_crash_unlink [--points N] (N points a mode spread over the
 * run's writes, default 12)
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
#include "fs/inode/icache.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/crash/harness.h"

#define NF 150
#define BATCH 3
/* the files, then the symlink, the fifo and the subdirectory */
#define NNAMES (NF + 3)
/* the file held open while removed */
#define OPEN_IDX 37

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static const struct kvfs_cred cr = { 0 };
static uint64_t inos[NNAMES];
static uint64_t tmpl_bfree, tmpl_ffree;

/* What the run made durable before the device died. */
struct run {
	int started; /* removals started: names below it may be gone */
	int durable; /* removals below it made durable by an fsync */
};

static void name_of(int i, char *buf, size_t len)
{
	if (i < NF)
		snprintf(buf, len, "f%d", i);
	else
		snprintf(buf, len, "%s",
			 i == NF ? "sym" : i == NF + 1 ? "fifo" : "sub");
}

static void counts(struct kvfs_mount *mp, uint64_t *bfree, uint64_t *ffree)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	*bfree = st.bfree;
	*ffree = st.ffree;
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
	uint64_t d;

	unlink(tmpl);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	mp = crash_open(tmpl, NULL);
	counts(mp, &tmpl_bfree, &tmpl_ffree);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	d = st.ino;
	for (int i = 0; i < NF; i++) {
		name_of(i, name, sizeof(name));
		CHECK_EQ(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
		inos[i] = st.ino;
	}
	CHECK_EQ(kvfs_symlink(mp, d, "sym", "short", &cr, &st), 0);
	inos[NF] = st.ino;
	CHECK_EQ(kvfs_create(mp, d, "fifo", S_IFIFO | 0644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	inos[NF + 1] = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, d, "sub", 040755, &cr, &st), 0);
	inos[NF + 2] = st.ino;
	CHECK_EQ(kvfs_close(mp), 0);
}

/* The run a point cuts short; errors are fine once the device died. */
static void workload(struct kvfs_mount *mp, struct run *r)
{
	uint64_t dir = dir_ino(mp);
	bool opened;
	char name[32];
	int err;

	memset(r, 0, sizeof(*r));
	err = kvfs_inode_open(mp, inos[OPEN_IDX], 0);
	opened = !err;
	for (int i = 0; i < NNAMES && !err; i++) {
		name_of(i, name, sizeof(name));
		r->started = i + 1;
		err = i == NF + 2 ? kvfs_rmdir(mp, dir, name) :
				    kvfs_unlink(mp, dir, name);
		if (!err && ((i + 1) % BATCH == 0 || i + 1 == NNAMES)) {
			err = kvfs_fsync(mp, dir, false);
			if (!err && !crash_crashed(mp))
				r->durable = i + 1;
		}
	}
	if (opened)
		kvfs_inode_close(mp, inos[OPEN_IDX]);
	if (!err)
		err = kvfs_sync(mp);
	CHECK(!err || crash_crashed(mp));
}

/* After recovery: each removal whole or absent, in order. */
static void check_point(const struct run *r)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_stat st;
	uint64_t dir, bfree, ffree;
	char name[32];
	int gone = 0, err;

	mp = crash_open(path, &info);
	CHECK(info.orphans <= 1);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_image_clean(path, "after the recovery");
	mp = crash_open(path, NULL);
	dir = dir_ino(mp);
	for (int i = 0; i < NNAMES; i++) {
		name_of(i, name, sizeof(name));
		err = kvfs_lookup(mp, dir, name, &st);
		CHECK(err == 0 || err == -ENOENT);
		if (err) {
			if (gone != i) {
				fprintf(stderr, "%s gone, an earlier name not\n",
					name);
				CHECK(0);
			}
			gone = i + 1;
			/* a number of a freed chunk is no inode at all */
			err = kvfs_iget(mp, inos[i], KVFS_IGET_UNTRUSTED, &ip);
			if (err != -ENOENT && err != -EINVAL) {
				fprintf(stderr, "%s gone, its inode not: %d\n",
					name, err);
				CHECK(0);
			}
			continue;
		}
		if (i < r->durable) {
			fprintf(stderr, "%s: removal fsynced, name back\n",
				name);
			CHECK(0);
		}
		CHECK_EQ(st.ino, inos[i]);
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), 0);
		CHECK_EQ(st.nlink, i == NF + 2 ? 2u : 1u);
		err = i == NF + 2 ? kvfs_rmdir(mp, dir, name) :
				    kvfs_unlink(mp, dir, name);
		CHECK_EQ(err, 0);
	}
	CHECK(gone <= r->started);
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_image_clean(path, "after the removals");
	mp = crash_open(path, NULL);
	counts(mp, &bfree, &ffree);
	CHECK_EQ(bfree, tmpl_bfree);
	CHECK_EQ(ffree, tmpl_ffree);
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
	CHECK_EQ(r.durable, NNAMES);
	w = kv_dev_nr_writes(mp->dev);
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
		{ NULL, 0, NULL, 0 },
	};
	unsigned points = 12, by_mode = 0;
	uint64_t writes, n;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'p') {
			fprintf(stderr, "usage: %s [--points N]\n", argv[0]);
			return 2;
		}
		points = (unsigned)strtoul(optarg, NULL, 10);
	}
	CHECK(points > 1);
	CHECK_EQ(kv_init(NULL), 0);
	crash_alarm(900, "test_crash_unlink: hung\n");
	crash_paths("unlink", path, tmpl);
	make_template();
	writes = count_writes();
	CHECK(writes > 0);
	for (int m = 0; m < NMODES; m++) {
		for (unsigned p = 0; p < points; p++) {
			/* spread over the run, the first and last writes too */
			n = 1 + (writes - 1) * p / (points - 1);
			one_point((enum crash_mode)m, n, n * 7919 + m);
			by_mode++;
		}
	}
	unlink(path);
	unlink(tmpl);
	CHECK_EQ(kv_fini(), 0);
	printf("crash unlink: %d names removed (%d freed with their name, "
	       "one open file by its put); %" PRIu64
	       " writes, %u points over %d modes: recovered, clean, each "
	       "removal whole or absent and in order\n",
	       NNAMES, NNAMES - 1, writes, by_mode, NMODES);
	return 0;
}
