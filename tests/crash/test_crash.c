// SPDX-License-Identifier: GPL-2.0
/*
 * Crash consistency of the core's file API (fs/kvfs.h; issue 9, "Crash
 * consistency" and "Memory"), over every crash mode of the device layer
 * (fs/io/dev.h): the machine dies after write N (CRASH), unflushed writes are
 * lost (VOLATILE + CRASH, then a power failure), write N is torn (TEAR),
 * and unflushed sectors persist in any subset and order (SECTORS + CRASH).
 *
 * files:    THREADS threads each own FILES files (made durable before the
 *           fault is armed) and run random writes, truncates up and down,
 *           fallocates (with and without KEEP_SIZE), hole punches, zero
 *           ranges, fsyncs and fdatasyncs on them, plus an open tmpfile
 *           each (closed, so freed, at the end: the orphan path).  Every
 *           write fills its bytes with a pattern of (file, offset,
 *           generation), never 0.  Each file keeps a model of its contents
 *           and the snapshot at its last fsync that returned before the
 *           crash, and the operations since.  After recovery:
 *             - a file unchanged since that fsync has exactly the
 *               snapshot's size and bytes;
 *             - any other file has a size it had since the snapshot (or
 *               one inside an extending write), and every byte is the
 *               snapshot's, 0 where an operation since zeroed it, or the
 *               pattern of a write since that covered it: never another
 *               file's bytes, never an old generation, never the garbage
 *               the image was filled with before mkfs (a block reachable
 *               before its data was written);
 *             - the checker (fs/check/scrub.h) finds nothing after a clean
 *               close.
 *           Before the crash, reads must return the model exactly.
 * truncate: a file of many extents truncated to 0 and fsync'd, crashing
 *           inside it or in the write-back in place that follows: its size is
 *           the old one or 0 (0 once the fsync returned before the crash), and
 *           the checker finds no block leaked or owned twice.
 * memory:   (--memory) the files test again, plus 1500 small files
 *           whose size each thread sets and syncs, under a kvalloc budget
 *           of 7/8 of what such a run holds unpressed: the inode and
 *           buffer shrinkers must reclaim, nothing may hang and no -ENOMEM
 *           reach the caller.  CI runs it under 2 MiB, about half of
 *           what the run holds unpressed (tests/crash/meson.build); it
 *           hung while the CIL push allocated its checkpoint under
 *           NOFAIL (memory only the items it checkpoints held), and
 *           returned -ENOMEM from inode, buffer and map allocations.
 *
 * The crash points are write numbers drawn from a clean run's count.
 * `test_crash --points N --seed S` runs N points of each test (CI: the
 * defaults below); `--mode M` only one mode (crash, volatile, tear,
 * sectors); `--max-size SIZE` files up to SIZE, where a write into
 * unwritten blocks of a file of 64 KiB or more leaves them pending
 * conversion: after the crash they read as they did at the snapshot (0).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/dev.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/journal.h"
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/scrub_util.h"

#define THREADS 3
#define FILES 2 /* durable files per thread */
#define NFILES (THREADS * FILES)
/*
 * File offsets stay below maxsize: by default 6 blocks (small files,
 * whose writes convert their blocks at once); --max-size up to
 * MAXSIZE_CAP makes files whose writes leave blocks pending conversion
 * (fs/data/convert.h).
 */
#define MAXSIZE_CAP (1u << 20)
static uint64_t maxsize = 24u << 10;
#define OPS 48 /* operations per thread and run */
#define IMG_SIZE (32u << 20)
#define GARBAGE 0xa5 /* the image's bytes before mkfs */

enum op_kind {
	OP_WRITE,
	OP_TRUNC,
	OP_FALLOC,
	OP_PUNCH,
	OP_ZERO,
	OP_FSYNC,
	NKINDS
};

/* An operation since the file's snapshot. */
struct op {
	enum op_kind kind;
	uint64_t off, len;
	uint32_t gen; /* OP_WRITE */
	uint64_t size_before, size_after;
};

struct file {
	uint32_t fid;
	uint64_t ino;
	uint8_t *cur, *snap; /* maxsize bytes each, 0 past the size */
	uint64_t cur_size, snap_size;
	uint32_t gen;
	struct op ops[OPS + 1];
	unsigned nops; /* since the snapshot */
	bool synced; /* a snapshot was taken by an fsync in this run */
};

static struct {
	unsigned points;
	uint64_t seed;
	int only_mode; /* -1: all */
	bool verbose;
	bool memory; /* run the memory test */
	size_t budget; /* its kvalloc budget; 0: 7/8 of a run's */
} opt = { .points = 0, .seed = 1, .only_mode = -1 };

static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static struct file files[NFILES];

/*
 * The memory test's many small files: each thread sets the size of its
 * share to one block and syncs, so that the run touches more inodes and
 * inode clusters than the budget holds.
 */
#define MANY 1500
static uint64_t many_ino[MANY];
static bool touch_many; /* the memory test */
static uint64_t held_max; /* kvalloc bytes in use at a run's end, most */
static bool many_durable[THREADS]; /* the thread's kvfs_sync() returned */

/* outcomes over the whole run, each required to have happened */
static struct {
	unsigned exact; /* files checked against their snapshot exactly */
	unsigned ranged; /* files checked against snapshot + later ops */
	unsigned crashed; /* runs whose device crashed */
	unsigned recovered; /* opens that replayed the log */
	unsigned ops[NKINDS];
	unsigned tail_kept; /* truncate: old size survived the crash */
	unsigned tail_gone; /* truncate: size 0 after the crash */
	unsigned tail_partial; /* size 0, blocks past it left */
} seen;

static uint8_t pattern(uint32_t fid, uint64_t off, uint32_t gen)
{
	uint64_t x = (off + 1) * 0x9e3779b97f4a7c15ull ^
		     ((uint64_t)fid << 40 | gen) * 0xc2b2ae3d27d4eb4full;

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 32;
	return (uint8_t)(x % 255 + 1);
}

/* ---- images ---- */

/* A fresh filesystem on an image whose every byte was GARBAGE before. */
static void mkfs_garbage(const char *p, uint64_t size, uint32_t agcount)
{
	struct kvfs_mkfs_opts o = {
		.target = p, .size = size, .agcount = agcount, .force = true
	};
	static uint8_t buf[1 << 20];
	struct kvfs_geom g;
	int fd;

	memset(buf, GARBAGE, sizeof(buf));
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf))
		CHECK(pwrite(fd, buf, sizeof(buf), (off_t)off) ==
		      (ssize_t)sizeof(buf));
	CHECK_EQ(close(fd), 0);
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

/*
 * A regular file that survives a crash: with no directories yet (issue
 * 10) it is allocated with one link and no name, which nothing frees.
 */
static uint64_t make_file(struct kvfs_mount *mp)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, kvfs_root_ino(mp), &a, &ip), 0);
	ino = ip->i_ino;
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	return ino;
}

/* ---- the model ---- */

static void model_zero(struct file *f, uint64_t off, uint64_t end)
{
	if (end > maxsize)
		end = maxsize;
	if (off < end)
		memset(f->cur + off, 0, end - off);
}

static void model_set_size(struct file *f, uint64_t size)
{
	if (size < f->cur_size)
		model_zero(f, size, f->cur_size);
	f->cur_size = size;
}

static void snapshot(struct file *f)
{
	memcpy(f->snap, f->cur, maxsize);
	f->snap_size = f->cur_size;
	f->nops = 0;
	f->synced = true;
}

static void files_reset(void)
{
	for (unsigned i = 0; i < NFILES; i++) {
		struct file *f = &files[i];

		if (!f->cur) {
			f->cur = calloc(1, MAXSIZE_CAP);
			f->snap = calloc(1, MAXSIZE_CAP);
			CHECK(f->cur && f->snap);
		}
		memset(f->cur, 0, maxsize);
		memset(f->snap, 0, maxsize);
		f->fid = i + 1;
		f->cur_size = f->snap_size = 0;
		f->gen = 0;
		f->nops = 0;
		f->synced = false;
	}
}

/* Before the crash an error is a failure; after it anything goes. */
static void expect_ok(struct kvfs_mount *mp, long long err, const char *what,
		      const struct file *f)
{
	if (err >= 0 || crash_crashed(mp))
		return;
	fprintf(stderr,
		"%s of file %u (inode %" PRIu64 "): %lld before the "
		"crash\n",
		what, f->fid, f->ino, err);
	exit(1);
}

static void read_check(struct kvfs_mount *mp, const struct file *f)
{
	/* per thread (a thread owns its files), not in TLS: a MiB each */
	static uint8_t bufs[THREADS][MAXSIZE_CAP + 1];
	uint8_t *buf = bufs[(f->fid - 1) / FILES];
	ssize_t n;

	if (crash_crashed(mp))
		return;
	n = kvfs_read(mp, f->ino, buf, maxsize + 1, 0);
	/* the dead machine's reads may see what never reached the media */
	if (crash_crashed(mp))
		return;
	if (n != (ssize_t)f->cur_size ||
	    memcmp(buf, f->cur, f->cur_size) != 0) {
		uint64_t i = 0;

		while (n > 0 && i < (uint64_t)n && i < f->cur_size &&
		       buf[i] == f->cur[i])
			i++;
		fprintf(stderr,
			"file %u before the crash: read %zd bytes, model "
			"%" PRIu64 ", first difference at %" PRIu64 "\n",
			f->fid, n, f->cur_size, i);
		exit(1);
	}
}

static void do_op(struct kvfs_mount *mp, struct file *f, uint64_t *rs)
{
	unsigned r = crash_rnd(rs) % 100;
	uint64_t off = crash_rnd(rs) % maxsize, len;
	struct op op = { .size_before = f->cur_size };
	long long err;

	/* mostly small, some block-aligned, a few large */
	switch (crash_rnd(rs) % 4) {
	case 0:
		len = 1 + crash_rnd(rs) % 512;
		break;
	case 1:
		off &= ~4095ull;
		len = 4096 * (1 + crash_rnd(rs) % 3);
		break;
	case 2:
		len = 1 + crash_rnd(rs) % 10000;
		break;
	default:
		len = 1 + crash_rnd(rs) % maxsize;
	}
	if (off + len > maxsize)
		len = maxsize - off;
	op.off = off;
	op.len = len;
	if (r < 40) {
		static uint8_t bufs[THREADS][MAXSIZE_CAP];
		uint8_t *buf = bufs[(f->fid - 1) / FILES];

		op.kind = OP_WRITE;
		op.gen = ++f->gen;
		for (uint64_t i = 0; i < len; i++)
			buf[i] = pattern(f->fid, off + i, op.gen);
		err = kvfs_write(mp, f->ino, buf, len, (off_t)off, 0);
		expect_ok(mp, err, "write", f);
		if (err >= 0 && err != (long long)len && !crash_crashed(mp)) {
			fprintf(stderr,
				"write of file %u: %lld of %" PRIu64
				" bytes at %" PRIu64 " before the crash\n",
				f->fid, err, len, off);
			exit(1);
		}
		memcpy(f->cur + off, buf, len);
		if (off + len > f->cur_size)
			f->cur_size = off + len;
	} else if (r < 52) {
		struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
		struct kvfs_cred cr = { 0 };

		op.kind = OP_TRUNC;
		sa.size = crash_rnd(rs) % 2 ? off : f->cur_size / 2;
		err = kvfs_setattr(mp, f->ino, &sa, &cr, NULL);
		expect_ok(mp, err, "truncate", f);
		model_set_size(f, sa.size);
	} else if (r < 62) {
		bool keep = crash_rnd(rs) % 2;

		op.kind = OP_FALLOC;
		err = kvfs_fallocate(mp, f->ino, keep ? FALLOC_FL_KEEP_SIZE : 0,
				     (off_t)off, (off_t)len);
		expect_ok(mp, err, "fallocate", f);
		if (!keep && off + len > f->cur_size)
			f->cur_size = off + len;
	} else if (r < 72) {
		op.kind = OP_PUNCH;
		err = kvfs_fallocate(mp, f->ino,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     (off_t)off, (off_t)len);
		expect_ok(mp, err, "punch", f);
		model_zero(f, off,
			   off + len < f->cur_size ? off + len : f->cur_size);
	} else if (r < 80) {
		bool keep = crash_rnd(rs) % 2;

		op.kind = OP_ZERO;
		err = kvfs_fallocate(mp, f->ino,
				     FALLOC_FL_ZERO_RANGE |
					     (keep ? FALLOC_FL_KEEP_SIZE : 0),
				     (off_t)off, (off_t)len);
		expect_ok(mp, err, "zero range", f);
		model_zero(f, off,
			   keep && off + len > f->cur_size ? f->cur_size :
							     off + len);
		if (!keep && off + len > f->cur_size)
			f->cur_size = off + len;
	} else {
		op.kind = OP_FSYNC;
		err = kvfs_fsync(mp, f->ino, crash_rnd(rs) % 3 == 0);
		expect_ok(mp, err, "fsync", f);
		/* returned with nothing lost yet: durable */
		if (!err && !crash_crashed(mp))
			snapshot(f);
		__atomic_fetch_add(&seen.ops[op.kind], 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&seen.ops[op.kind], 1, __ATOMIC_RELAXED);
	op.size_after = f->cur_size;
	f->ops[f->nops++] = op;
	if (crash_rnd(rs) % 4 == 0)
		read_check(mp, f);
}

static void write_many(struct kvfs_mount *mp, unsigned t)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = 4096 };
	struct kvfs_cred cr = { 0 };
	int err;

	/* a size and no blocks: the inodes change, the free space does not */
	for (unsigned i = t; i < MANY; i += THREADS) {
		err = kvfs_setattr(mp, many_ino[i], &sa, &cr, NULL);
		expect_ok(mp, err, "setattr", &files[t * FILES]);
	}
	err = kvfs_sync(mp);
	expect_ok(mp, err, "sync", &files[t * FILES]);
	many_durable[t] = !err && !crash_crashed(mp);
}

/* Size 0 or 4096 (4096 once synced), zeros. */
static void verify_many(struct kvfs_mount *mp, unsigned point)
{
	static uint8_t blk[8192];

	for (unsigned i = 0; i < MANY; i++) {
		bool synced = many_durable[i % THREADS];
		struct kvfs_stat st;
		ssize_t n;
		bool zero = true;

		CHECK_EQ(kvfs_getattr(mp, many_ino[i], &st), 0);
		n = kvfs_read(mp, many_ino[i], blk, sizeof(blk), 0);
		CHECK_EQ(n, (ssize_t)st.size);
		for (ssize_t b = 0; b < n; b++)
			zero &= !blk[b];
		if ((n != 0 && n != 4096) || !zero || (synced && n != 4096)) {
			fprintf(stderr,
				"point %u: small file %u: size %zd, %s, %s\n",
				point, i, n,
				zero ? "zeros" : "bytes never given",
				synced ? "synced" : "not synced");
			exit(1);
		}
	}
}

struct worker {
	struct kvfs_mount *mp;
	unsigned t;
	uint64_t rs;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct kvfs_mount *mp = w->mp;
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	struct file *mine = &files[w->t * FILES];
	static _Thread_local uint8_t buf[8192];
	bool tmp;
	int err;

	/* an unnamed file, open through the run: an orphan at the crash */
	err = kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st);
	expect_ok(mp, err, "tmpfile", mine);
	tmp = !err;
	memset(buf, 0x5a, sizeof(buf));
	for (unsigned i = 0; i < OPS; i++) {
		struct file *f = &mine[crash_rnd(&w->rs) % FILES];

		if (f->nops == OPS) {
			/* its list of operations is full: make it durable */
			err = kvfs_fsync(mp, f->ino, false);
			expect_ok(mp, err, "fsync", f);
			if (err || crash_crashed(mp))
				continue;
			snapshot(f);
		}
		do_op(mp, f, &w->rs);
		if (tmp && i % 8 == 0) {
			ssize_t n = kvfs_write(mp, st.ino, buf, sizeof(buf),
					       (off_t)(i / 8 * sizeof(buf)), 0);

			expect_ok(mp, n, "tmpfile write", mine);
		}
	}
	for (unsigned i = 0; i < FILES; i++) {
		struct file *f = &mine[i];

		err = kvfs_fsync(mp, f->ino, false);
		expect_ok(mp, err, "fsync", f);
		if (!err && !crash_crashed(mp))
			snapshot(f);
		read_check(mp, f);
	}
	/* its last close frees it (or recovery does, after a crash) */
	if (tmp)
		kvfs_inode_close(mp, st.ino);
	if (touch_many)
		write_many(mp, w->t);
	return NULL;
}

/* ---- verification ---- */

static bool size_allowed(const struct file *f, uint64_t size)
{
	if (size == f->snap_size)
		return true;
	for (unsigned i = 0; i < f->nops; i++) {
		const struct op *op = &f->ops[i];

		if (size == op->size_after)
			return true;
		/* an extending write may commit its size in steps */
		if (op->kind == OP_WRITE && size > op->size_before &&
		    size < op->size_after)
			return true;
	}
	return false;
}

static bool byte_allowed(const struct file *f, uint64_t b, uint8_t v)
{
	if (v == f->snap[b])
		return true;
	for (unsigned i = 0; i < f->nops; i++) {
		const struct op *op = &f->ops[i];
		bool in = b >= op->off && b < op->off + op->len;

		switch (op->kind) {
		case OP_WRITE:
			if (in && v == pattern(f->fid, b, op->gen))
				return true;
			break;
		case OP_TRUNC:
			if (!v && b >= op->size_after)
				return true;
			break;
		case OP_PUNCH:
		case OP_ZERO:
			if (!v && in)
				return true;
			break;
		default:
			break;
		}
	}
	return false;
}

static void verify_file(struct kvfs_mount *mp, struct file *f, unsigned point)
{
	static uint8_t buf[MAXSIZE_CAP + 1];
	struct kvfs_stat st;
	ssize_t n;

	CHECK_EQ(kvfs_getattr(mp, f->ino, &st), 0);
	CHECK(S_ISREG(st.mode));
	n = kvfs_read(mp, f->ino, buf, maxsize + 1, 0);
	CHECK_EQ(n, (ssize_t)st.size);
	if (!f->nops) {
		/* untouched since a durable fsync (or the setup) */
		if (st.size != f->snap_size ||
		    memcmp(buf, f->snap, st.size) != 0) {
			fprintf(stderr,
				"point %u: file %u: size %" PRIu64
				", fsync'd %" PRIu64 "; contents %s\n",
				point, f->fid, st.size, f->snap_size,
				st.size == f->snap_size ? "differ" : "-");
			exit(1);
		}
		seen.exact++;
		return;
	}
	if (!size_allowed(f, st.size)) {
		fprintf(stderr,
			"point %u: file %u: size %" PRIu64 " never held "
			"(fsync'd %" PRIu64 ", %u ops since)\n",
			point, f->fid, st.size, f->snap_size, f->nops);
		exit(1);
	}
	for (uint64_t b = 0; b < st.size; b++) {
		if (byte_allowed(f, b, buf[b]))
			continue;
		fprintf(stderr,
			"point %u: file %u (inode %" PRIu64 "): byte %" PRIu64
			" is %#x: never given (fsync'd %#x, size %" PRIu64
			", %u ops since)\n",
			point, f->fid, f->ino, b, buf[b], f->snap[b], st.size,
			f->nops);
		exit(1);
	}
	seen.ranged++;
}

/* ---- one crash point ---- */

/*
 * The template: the durable files (empty), made before any fault, on an
 * image filled with garbage.
 */
static void make_template(void)
{
	struct kvfs_mount *mp;

	mkfs_garbage(tmpl, IMG_SIZE, 2);
	mp = crash_open(tmpl, NULL);
	for (unsigned i = 0; i < NFILES; i++)
		files[i].ino = make_file(mp);
	for (unsigned i = 0; i < MANY; i++)
		many_ino[i] = make_file(mp);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean_unnamed(tmpl);
}

/*
 * One run of the workload; m < 0: no fault (then everything is exact after
 * a clean close).  Returns the device writes the run made.
 */
static uint64_t run_files(int m, uint64_t n, uint64_t seed, unsigned point)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kv_stats ks;
	uint64_t w0, writes;

	crash_copy_image(tmpl, path);
	files_reset();
	memset(many_durable, 0, sizeof(many_durable));
	mp = crash_open(path, NULL);
	w0 = kv_dev_nr_writes(mp->dev);
	if (m >= 0)
		crash_arm(mp, m, n, seed);
	for (unsigned t = 0; t < THREADS; t++) {
		w[t] = (struct worker){ .mp = mp,
					.t = t,
					.rs = seed * 131 + t };
		CHECK_EQ(pthread_create(&th[t], NULL, work, &w[t]), 0);
	}
	for (unsigned t = 0; t < THREADS; t++)
		CHECK_EQ(pthread_join(th[t], NULL), 0);
	writes = kv_dev_nr_writes(mp->dev) - w0;
	kv_stats(&ks);
	if (ks.pages_used * KV_PAGE_SIZE > held_max)
		held_max = ks.pages_used * KV_PAGE_SIZE;
	if (m >= 0) {
		seen.crashed += crash_crashed(mp);
		crash_power_cut(mp);
		kvfs_close(mp);
	} else {
		CHECK_EQ(kvfs_close(mp), 0);
	}

	mp = crash_open(path, &info);
	seen.recovered += info.recovered;
	CHECK(info.orphans <= THREADS);
	if (m < 0)
		CHECK_EQ(info.orphans, 0);
	for (unsigned i = 0; i < NFILES; i++)
		verify_file(mp, &files[i], point);
	if (touch_many)
		verify_many(mp, point);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean_unnamed(path);
	return writes;
}

static void test_files(unsigned points, const char *label)
{
	uint64_t total = run_files(-1, 0, opt.seed, 0);
	unsigned by_mode[NMODES] = { 0 };

	CHECK(total > 20);
	for (unsigned i = 1; i <= points; i++) {
		uint64_t s = opt.seed * 1000003 + i;
		int m = opt.only_mode >= 0 ? opt.only_mode : (int)(i % NMODES);
		/* a bit past a clean run's count: some runs never crash */
		uint64_t n = 1 + crash_rnd(&s) % (total + total / 16);

		if (opt.verbose)
			printf("%s point %u: %s at write %" PRIu64 "/%" PRIu64
			       "\n",
			       label, i, crash_mode_name[m], n, total);
		run_files(m, n, s, i);
		by_mode[m]++;
	}
	printf("crash %s: %u points (crash %u, volatile %u, tear %u, sectors "
	       "%u) over %" PRIu64 " writes per run\n",
	       label, points, by_mode[M_CRASH], by_mode[M_VOLATILE],
	       by_mode[M_TEAR], by_mode[M_SECTORS], total);
}

/* ---- a crash inside the truncation of a large file ---- */

#define BIG_EXTENTS 2000

static uint64_t big_ino;
static uint64_t big_size;
static unsigned big_extents; /* 4 KiB of 0x3c at every other block */

/* A file of as many extents as the map takes, and a large unwritten tail. */
static void make_big_template(void)
{
	static uint8_t blk[4096];
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	unsigned e;

	mkfs_garbage(tmpl, IMG_SIZE, 2);
	mp = crash_open(tmpl, NULL);
	big_ino = make_file(mp);
	memset(blk, 0x3c, sizeof(blk));
	for (e = 0; e < BIG_EXTENTS; e++) {
		ssize_t n = kvfs_write(mp, big_ino, blk, sizeof(blk),
				       (off_t)e * 2 * 4096, 0);

		/* an extent map that cannot grow further ends it */
		if (n == -EOPNOTSUPP || n == -ENOSPC)
			break;
		CHECK_EQ(n, (ssize_t)sizeof(blk));
	}
	CHECK(e >= 4);
	big_extents = e;
	CHECK_EQ(kvfs_fallocate(mp, big_ino, 0, (off_t)e * 2 * 4096,
				(off_t)(IMG_SIZE / 4)),
		 0);
	CHECK_EQ(kvfs_getattr(mp, big_ino, &st), 0);
	big_size = st.size;
	CHECK_EQ(kvfs_close(mp), 0);
	printf("crash truncate: %u written extents and a %u MiB unwritten "
	       "tail\n",
	       e, IMG_SIZE / 4 >> 20);
}

static uint64_t run_truncate(int m, uint64_t n, uint64_t seed, unsigned point)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = 0 };
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t w0, writes;
	bool durable = false;
	int err;

	crash_copy_image(tmpl, path);
	mp = crash_open(path, NULL);
	w0 = kv_dev_nr_writes(mp->dev);
	if (m >= 0)
		crash_arm(mp, m, n, seed);
	err = kvfs_setattr(mp, big_ino, &sa, &cr, NULL);
	CHECK(!err || crash_crashed(mp));
	err = kvfs_fsync(mp, big_ino, false);
	CHECK(!err || crash_crashed(mp));
	durable = !err && !crash_crashed(mp);
	/*
	 * and the write-back in place of what it logged (the extent tree's
	 * blocks freed, the free-space trees, the AG headers): cut there too
	 */
	if (!err)
		err = kvj_log_drain(mp->log);
	CHECK(!err || crash_crashed(mp));
	writes = kv_dev_nr_writes(mp->dev) - w0;
	if (m >= 0) {
		crash_power_cut(mp);
		kvfs_close(mp);
	} else {
		CHECK_EQ(kvfs_close(mp), 0);
	}

	mp = crash_open(path, NULL);
	CHECK_EQ(kvfs_getattr(mp, big_ino, &st), 0);
	if (st.size != 0 && (durable || st.size != big_size)) {
		fprintf(stderr,
			"truncate point %u: size %" PRIu64 ", was %" PRIu64
			", truncate %sdurable\n",
			point, st.size, big_size, durable ? "" : "not ");
		exit(1);
	}
	if (durable)
		CHECK_EQ(st.blocks, 0);
	if (!st.size && st.blocks) {
		/*
		 * The size went first (as XFS's truncate): blocks the crash
		 * left past it are the file's, and a new truncate frees them.
		 */
		CHECK_EQ(kvfs_setattr(mp, big_ino, &sa, &cr, NULL), 0);
		CHECK_EQ(kvfs_getattr(mp, big_ino, &st), 0);
		CHECK_EQ(st.blocks, 0);
		seen.tail_partial++;
	}
	if (st.size) {
		/* the old size: every written block still there */
		for (unsigned e = 0; e < big_extents; e++) {
			uint8_t blk[4096];

			CHECK_EQ(kvfs_read(mp, big_ino, blk, sizeof(blk),
					   (off_t)e * 2 * 4096),
				 sizeof(blk));
			CHECK(blk[0] == 0x3c && blk[4095] == 0x3c);
		}
	}
	seen.tail_kept += st.size != 0;
	seen.tail_gone += st.size == 0;
	CHECK_EQ(kvfs_close(mp), 0);
	/* no block leaked or owned twice */
	scrub_image_clean_unnamed(path);
	return writes;
}

static void test_truncate(unsigned points)
{
	uint64_t total;

	make_big_template();
	total = run_truncate(-1, 0, opt.seed, 0);
	CHECK(total > 0);
	for (unsigned i = 1; i <= points; i++) {
		uint64_t s = opt.seed * 7919 + i;
		int m = opt.only_mode >= 0 ? opt.only_mode : (int)(i % NMODES);

		/* 0: nothing of the truncate persists (a tear needs a write) */
		run_truncate(m, crash_rnd(&s) % (total + 1) + (m == M_TEAR), s,
			     i);
	}
	printf("crash truncate: %u points over %" PRIu64 " writes: old size "
	       "kept %u, truncated %u (%u with blocks left past the size)\n",
	       points, total, seen.tail_kept, seen.tail_gone,
	       seen.tail_partial);
	CHECK(seen.tail_gone > 0);
}

/*
 * The files test again with the many small files, under a kvalloc budget
 * of 7/8 of what such a run holds when nothing presses (or --budget).
 */
static void test_memory(unsigned points)
{
	struct kv_config small = { 0 };
	struct kv_stats ks;

	/* a deadlock fails the test rather than hanging it */
	crash_alarm(600, "crash memory: no end after 600 s: hung\n");

	CHECK_EQ(kv_init(NULL), 0);
	touch_many = true;
	held_max = 0;
	run_files(-1, 0, opt.seed, 0);
	CHECK_EQ(kv_fini(), 0);
	small.budget_bytes = opt.budget ? opt.budget : held_max / 8 * 7;
	printf("crash memory: a run holds %" PRIu64 " KiB unpressed; budget "
	       "%zu KiB\n",
	       held_max >> 10, small.budget_bytes >> 10);
	CHECK_EQ(kv_init(&small), 0);
	test_files(points, "memory");
	touch_many = false;
	kv_stats(&ks);
	printf("crash memory: %" PRIu64 " reclaim passes freed %" PRIu64
	       " objects\n",
	       ks.reclaim_passes, ks.reclaim_freed);
	/* the budget was short: the shrinkers had to give memory back */
	CHECK(ks.reclaim_passes > 0 && ks.reclaim_freed > 0);
	CHECK_EQ(kv_fini(), 0);
	alarm(0);
}

static void usage(const char *prog)
{
	printf("usage: %s [--points N] [--seed S] [--mode crash|volatile|"
	       "tear|sectors] [--max-size SIZE] [--memory [--budget SIZE]]\n"
	       "  [--verbose]\n"
	       "  crash points per test (default: the CI set), seed of the\n"
	       "  crash points and of the workload, one crash mode only;\n"
	       "  --max-size: file offsets below SIZE (default 24K, at most\n"
	       "  1M; 64K and more: writes left pending conversion);\n"
	       "  --memory: also the memory test, under a kvalloc budget of\n"
	       "  SIZE (default: 7/8 of what its run holds unpressed)\n",
	       prog);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "points", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "budget", required_argument, NULL, 'b' },
		{ "memory", no_argument, NULL, 'M' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned file_points = 128, trunc_points = 24, mem_points = 16;
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "p:s:m:vb:MS:h", lopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			opt.points = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			opt.seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			opt.only_mode = crash_mode_parse(optarg);
			if (opt.only_mode < 0) {
				usage(argv[0]);
				return 2;
			}
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'M':
			opt.memory = true;
			break;
		case 'b':
			if (kvfs_parse_size(optarg, &v)) {
				usage(argv[0]);
				return 2;
			}
			opt.budget = (size_t)v;
			break;
		case 'S':
			if (kvfs_parse_size(optarg, &v) || v < 4096 ||
			    v > MAXSIZE_CAP) {
				usage(argv[0]);
				return 2;
			}
			maxsize = v;
			break;
		case 'h':
			usage(argv[0]);
			return 0;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (opt.points)
		file_points = trunc_points = mem_points = opt.points;

	crash_paths("crash", path, tmpl);
	CHECK_EQ(kv_init(NULL), 0);
	make_template();
	test_files(file_points, "files");
	/*
	 * Most points crash and recover; with a handful (the memory run's
	 * 4) where they fall is chance (the threads' timing moves the
	 * commits between writes): at least one then.
	 */
	CHECK(seen.crashed > (file_points >= 16 ? file_points / 2 : 0));
	CHECK(seen.recovered > (file_points >= 16 ? file_points / 2 : 0));
	CHECK(seen.exact > 0 && seen.ranged > 0);
	for (unsigned k = 0; k < NKINDS; k++)
		CHECK(seen.ops[k] > 0);
	printf("crash files: %u files exact at their fsync, %u within their "
	       "later operations\n",
	       seen.exact, seen.ranged);
	CHECK_EQ(kv_fini(), 0);

	if (opt.memory)
		test_memory(mem_points);

	CHECK_EQ(kv_init(NULL), 0);
	test_truncate(trunc_points);
	CHECK_EQ(kv_fini(), 0);

	for (unsigned i = 0; i < NFILES; i++) {
		free(files[i].cur);
		free(files[i].snap);
	}
	unlink(path);
	unlink(tmpl);
	printf("crash: ok\n");
	return 0;
}
