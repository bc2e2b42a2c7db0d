// SPDX-License-Identifier: GPL-2.0
/*
 * Crash consistency of the namespace (issue 10) over every crash mode of
 * the device layer (fs/io/dev.h): the machine dies after write N (CRASH),
 * unflushed writes are lost (VOLATILE + CRASH), write N is torn (TEAR),
 * unflushed sectors persist in any subset and order (SECTORS + CRASH).
 *
 * The workload is one thread of STEPS steps, each one API call, chosen
 * from a model of the tree so that each succeeds: create, write (4 KiB at
 * most, once per file), mkdir, rmdir, link, unlink, rename (plain, over
 * an existing file, NOREPLACE, EXCHANGE, WHITEOUT, a directory across
 * parents), symlink (inline and in blocks), setxattr, fsync of a file or
 * of a directory, and a file held open while its last name goes (an
 * orphan).  A run without a fault records the tree after every step: S_0
 * .. S_STEPS (paths, types, sizes, link counts, symlink targets, xattr
 * values; not inode numbers, which background work may change from run
 * to run).  A fault run stops at the first step after which the device
 * has crashed; then power is cut, the image reopened (recovery) and:
 *   - the open freed at most as many orphans as the run had removed
 *     names by then (the file held open, and any inode whose freeing had
 *     not reached the log: its last put, or the inode worker, comes after
 *     the unlink's commit), none after the fault-free run's clean close;
 *   - the checker (fs/check/scrub.h) finds nothing, and the namespace walk of
 *     tests/ns_util.h is clean: link counts equal the names, "." and "..",
 *     no inode in use unreached (every orphan freed by the open), and a
 *     reopen after the clean close finds no orphan and nothing to recover;
 *   - the tree is S_j for some j from k to the last step started, where k
 *     is the last step that changed an inode whose fsync then returned
 *     before the crash (fsync forces the log up to the inode's last
 *     change, and the log is replayed in order, each step whole or
 *     absent): so a file fsync'd after its creation is there by its name
 *     (its parent's entry durable with it);
 *   - every file's bytes are its own pattern or zeros (a write not yet
 *     durable may leave its blocks unwritten), exactly its pattern when
 *     its fsync returned after the write.
 *
 * `test_crash_ns --points N --seed S --mode M --budget SIZE -v`: N points
 * (CI: below), under a kvalloc budget of SIZE (default 256M),
 * one mode only; the seed sets the workload and the crash points.  The
 * run fails after 280 s per CI's number of points (a hang).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/ns_util.h"
#include "tests/scrub_util.h"

#define STEPS 300
#define IMG_SIZE (32u << 20)
#define MAXE 96 /* names in the model */
#define MAXF 64 /* files made */
#define TIMEOUT 280
#if defined(__SANITIZE_ADDRESS__)
#define CI_POINTS 100
#else
#define CI_POINTS 300
#endif

static const struct kvfs_cred cr = { 0 };
static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static bool verbose;

/* ---- the model: names of the tree (the root's d0 and d1 stay) ---- */

enum etype { E_FILE, E_DIR, E_LINK, E_WHITEOUT };

struct ent {
	char path[96];
	enum etype type;
	int fid; /* E_FILE: the file (several names may share it) */
};

struct mfile {
	uint64_t ino; /* of this run */
	uint32_t gen; /* the number's generation: it is reused */
	bool written;
	int write_step, last_change;
	int synced; /* the last step an fsync of it made durable */
	uint32_t size;
};

static struct ent ents[MAXE];
static unsigned nents;
static struct mfile mfiles[MAXF];
static unsigned nfiles, nlinks_made;
static int orphan_fid = -1;
/*
 * Names removed so far (unlink, rmdir, rename over a name, the orphan's
 * unlink): the most inodes a crash can leave on the unlinked lists, since
 * an inode gets there only by losing its last name, and one whose freeing
 * had not reached the log (done by its last put after the unlink's
 * commit, maybe by the inode worker later) is legitimately there.
 */
static unsigned removals;
static int dir_change[2]; /* d0, d1: last step changing them */

/* ---- snapshots of the fault-free run ---- */

static char *snaps[STEPS + 1];

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ns_ent *)a)->name,
		      ((const struct ns_ent *)b)->name);
}

/* The tree below dir, sorted, one line per name. */
static void canon_dir(struct kvfs_mount *mp, uint64_t dir, const char *pre,
		      struct crash_sbuf *b)
{
	static char buf[KVFS_SYMLINK_MAX + 1];
	struct ns_ents l = { 0 };

	CHECK_EQ(kvfs_readdir(mp, dir, 0, ns_ents_fill, &l), 0);
	qsort(l.v + 2, l.n - 2, sizeof(*l.v), name_cmp);
	for (size_t i = 2; i < l.n; i++) {
		struct kvfs_stat st;
		char sub[512];
		ssize_t n;

		if (!*pre && !strcmp(l.v[i].name, "lost+found"))
			continue;
		CHECK(strlen(pre) + strlen(l.v[i].name) + 2 <= sizeof(sub));
		memcpy(sub, pre, strlen(pre));
		sub[strlen(pre)] = '/';
		strcpy(sub + strlen(pre) + 1, l.v[i].name);
		CHECK_EQ(kvfs_getattr(mp, l.v[i].ino, &st), 0);
		if (S_ISDIR(st.mode)) {
			crash_sb_add(b, "%s D %u\n", sub, st.nlink);
			canon_dir(mp, l.v[i].ino, sub, b);
		} else if (S_ISLNK(st.mode)) {
			CHECK(kvfs_readlink(mp, l.v[i].ino, buf, sizeof(buf)) >=
			      0);
			crash_sb_add(b, "%s L %016" PRIx64 "\n", sub,
				     crash_fnv(buf, strlen(buf)));
		} else if (S_ISREG(st.mode)) {
			n = kvfs_getxattr(mp, l.v[i].ino, "user.a", buf,
					  sizeof(buf));
			CHECK(n >= 0 || n == -ENODATA);
			crash_sb_add(b, "%s R %" PRIu64 " %u %016" PRIx64 "\n",
				     sub, st.size, st.nlink,
				     n >= 0 ? crash_fnv(buf, (size_t)n) : 0);
		} else {
			crash_sb_add(b, "%s %o\n", sub, st.mode);
		}
	}
	free(l.v);
}

static char *canon(struct kvfs_mount *mp)
{
	struct crash_sbuf b = { 0 };

	crash_sb_add(&b, "/");
	canon_dir(mp, kvfs_root_ino(mp), "", &b);
	return b.s;
}

/* ---- images ---- */

/*
 * d0 and d1 in the root, durable, on a sparse image (copied for each run
 * by its data ranges).
 */
static void make_template(void)
{
	struct kvfs_mkfs_opts o = {
		.target = tmpl, .size = IMG_SIZE, .agcount = 2, .force = true
	};
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;

	unlink(tmpl);
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = crash_open(tmpl, NULL);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d0", 040755, &cr, &st), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d1", 040755, &cr, &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(tmpl);
}

/* ---- the workload ---- */

static uint64_t rs;

static uint64_t rnd(void)
{
	return crash_rnd(&rs);
}

static uint8_t pattern(int fid, uint32_t off)
{
	return (uint8_t)((fid * 131 + off * 7) % 251 + 1);
}

/* split "a/b/c" into the parent's inode (looked up) and "c" */
static uint64_t parent_of(struct kvfs_mount *mp, const char *p,
			  const char **leaf)
{
	char dir[96];
	struct kvfs_stat st;
	const char *slash = strrchr(p, '/');

	CHECK(slash);
	*leaf = slash + 1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
	CHECK_EQ(ns_lookup_path(mp, dir, &st), 0);
	return st.ino;
}

static int find_ent(const char *p)
{
	for (unsigned i = 0; i < nents; i++)
		if (!strcmp(ents[i].path, p))
			return (int)i;
	return -1;
}

/* A name removed (its inode's last, maybe: a possible orphan). */
static void del_ent(unsigned i)
{
	ents[i] = ents[--nents];
	removals++;
}

static bool dir_empty(const char *p)
{
	size_t n = strlen(p);

	for (unsigned i = 0; i < nents; i++)
		if (!strncmp(ents[i].path, p, n) && ents[i].path[n] == '/')
			return false;
	return true;
}

/* a random directory: d0, d1 or one of the model's */
static const char *pick_dir(void)
{
	unsigned nd = 0, k;

	for (unsigned i = 0; i < nents; i++)
		nd += ents[i].type == E_DIR;
	k = (unsigned)(rnd() % (nd + 2));
	if (k < 2)
		return k ? "d1" : "d0";
	k -= 2;
	for (unsigned i = 0; i < nents; i++)
		if (ents[i].type == E_DIR && !k--)
			return ents[i].path;
	CHECK(0);
	return NULL;
}

static int pick(enum etype t)
{
	unsigned n = 0, k;

	for (unsigned i = 0; i < nents; i++)
		n += ents[i].type == t;
	if (!n)
		return -1;
	k = (unsigned)(rnd() % n);
	for (unsigned i = 0; i < nents; i++)
		if (ents[i].type == t && !k--)
			return (int)i;
	return -1;
}

/* How many names a file has in the model. */
static unsigned names_of(int fid)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nents; i++)
		n += ents[i].type == E_FILE && ents[i].fid == fid;
	return n;
}

struct run {
	struct kvfs_mount *mp;
	int step; /* the step being made (1-based) */
	int k; /* the last step an fsync made durable */
	bool fault;
};

static void expect(struct run *r, long long err, const char *what)
{
	if (!err || (r->fault && crash_crashed(r->mp)))
		return;
	fprintf(stderr, "step %d: %s: %lld before the crash\n", r->step, what,
		err);
	exit(1);
}

static void fsynced(struct run *r, int err, int last_change)
{
	if (!err && !(r->fault && crash_crashed(r->mp)) && last_change > r->k)
		r->k = last_change;
}

static int dir_last_change(const char *dir)
{
	int i;

	if (!strcmp(dir, "d0") || !strcmp(dir, "d1"))
		return dir_change[dir[1] - '0'];
	i = find_ent(dir);
	CHECK(i >= 0);
	return ents[i].fid; /* a directory's fid: its last change */
}

static void dir_changed(const char *p, int step)
{
	char dir[96];
	const char *slash = strrchr(p, '/');
	int i;

	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
	if (!strcmp(dir, "d0") || !strcmp(dir, "d1")) {
		dir_change[dir[1] - '0'] = step;
		return;
	}
	i = find_ent(dir);
	CHECK(i >= 0);
	ents[i].fid = step;
}

static void touch_file(int fid, int step)
{
	mfiles[fid].last_change = step;
}

/* One step: an operation the model says succeeds. */
static void step(struct run *r)
{
	struct kvfs_mount *mp = r->mp;
	char np[96], buf[4096];
	const char *leaf, *leaf2, *d;
	struct kvfs_stat st;
	uint64_t dino, dino2;
	unsigned kind = (unsigned)(rnd() % 19);
	ssize_t n;
	int i, j, err;
	bool created;

	if (r->step >= 3 && r->step <= 5)
		kind = 97 + (unsigned)r->step; /* the orphan, early */
	switch (kind) {
	case 0:
	case 1:
	case 2: /* create */
		if (nents >= MAXE - 2 || nfiles >= MAXF)
			goto fsync_any;
		d = pick_dir();
		snprintf(np, sizeof(np), "%s/f%u", d, nfiles);
		dino = parent_of(mp, np, &leaf);
		err = kvfs_create(mp, dino, leaf, 0100644, 0, KVFS_CREATE_EXCL,
				  &cr, &st, &created);
		expect(r, err, "create");
		mfiles[nfiles] = (struct mfile){ .ino = st.ino,
						 .gen = st.generation,
						 .last_change = r->step };
		ents[nents++] =
			(struct ent){ .type = E_FILE, .fid = (int)nfiles++ };
		snprintf(ents[nents - 1].path, sizeof(ents[0].path), "%s", np);
		dir_changed(np, r->step);
		return;
	case 3:
	case 4: /* write a file never written */
		for (i = 0; i < (int)nfiles; i++)
			if (!mfiles[i].written && i != orphan_fid &&
			    names_of(i))
				break;
		if (i == (int)nfiles)
			goto fsync_any;
		mfiles[i].size = 1 + (uint32_t)(rnd() % sizeof(buf));
		for (uint32_t o = 0; o < mfiles[i].size; o++)
			buf[o] = (char)pattern(i, o);
		n = kvfs_write(mp, mfiles[i].ino, buf, mfiles[i].size, 0, 0);
		expect(r,
		       n == (ssize_t)mfiles[i].size ? 0 :
		       n < 0			    ? n :
						      -EIO,
		       "write");
		mfiles[i].written = true;
		mfiles[i].write_step = r->step;
		touch_file(i, r->step);
		return;
	case 5: /* mkdir */
		if (nents >= MAXE - 2)
			goto fsync_any;
		d = pick_dir();
		if (strlen(d) > 40)
			d = "d1";
		snprintf(np, sizeof(np), "%s/s%d", d, r->step);
		dino = parent_of(mp, np, &leaf);
		err = kvfs_mkdir(mp, dino, leaf, 040755, &cr, &st);
		expect(r, err, "mkdir");
		dir_changed(np, r->step);
		ents[nents++] = (struct ent){ .type = E_DIR, .fid = r->step };
		snprintf(ents[nents - 1].path, sizeof(ents[0].path), "%s", np);
		return;
	case 6: /* link */
		i = pick(E_FILE);
		if (i < 0 || nents >= MAXE - 2)
			goto fsync_any;
		d = pick_dir();
		snprintf(np, sizeof(np), "%s/h%u", d, nlinks_made++);
		dino = parent_of(mp, np, &leaf);
		err = kvfs_link(mp, mfiles[ents[i].fid].ino, dino, leaf, &st);
		expect(r, err, "link");
		touch_file(ents[i].fid, r->step);
		dir_changed(np, r->step);
		ents[nents] = ents[i];
		snprintf(ents[nents++].path, sizeof(ents[0].path), "%s", np);
		return;
	case 7: /* unlink a file or symlink */
		i = pick(rnd() % 3 ? E_FILE : E_LINK);
		if (i < 0)
			goto fsync_any;
		dino = parent_of(mp, ents[i].path, &leaf);
		err = kvfs_unlink(mp, dino, leaf);
		expect(r, err, "unlink");
		dir_changed(ents[i].path, r->step);
		if (ents[i].type == E_FILE)
			touch_file(ents[i].fid, r->step);
		del_ent((unsigned)i);
		return;
	case 8: /* rmdir an empty directory */
		i = pick(E_DIR);
		if (i < 0 || !dir_empty(ents[i].path))
			goto fsync_any;
		dino = parent_of(mp, ents[i].path, &leaf);
		err = kvfs_rmdir(mp, dino, leaf);
		expect(r, err, "rmdir");
		dir_changed(ents[i].path, r->step);
		del_ent((unsigned)i);
		return;
	case 9:
	case 10: { /* rename a file: new name, over a file, or exchange */
		unsigned flags = 0;
		char old[96];

		i = pick(E_FILE);
		if (i < 0)
			goto fsync_any;
		j = pick(E_FILE);
		if (j >= 0 && ents[j].fid != ents[i].fid && rnd() % 2) {
			/* over j, or exchanged with it */
			flags = rnd() % 2 ? KVFS_RENAME_EXCHANGE : 0;
			snprintf(np, sizeof(np), "%s", ents[j].path);
		} else {
			d = pick_dir();
			snprintf(np, sizeof(np), "%s/r%d", d, r->step);
			flags = rnd() % 3 == 0 ? KVFS_RENAME_WHITEOUT :
				rnd() % 2      ? KVFS_RENAME_NOREPLACE :
						 0;
			j = -1;
		}
		snprintf(old, sizeof(old), "%s", ents[i].path);
		dino = parent_of(mp, ents[i].path, &leaf);
		dino2 = parent_of(mp, np, &leaf2);
		err = kvfs_rename(mp, dino, leaf, dino2, leaf2, flags, &cr);
		expect(r, err, "rename");
		dir_changed(ents[i].path, r->step);
		dir_changed(np, r->step);
		touch_file(ents[i].fid, r->step);
		if (j >= 0) {
			touch_file(ents[j].fid, r->step);
			if (flags & KVFS_RENAME_EXCHANGE) {
				int f = ents[i].fid;

				ents[i].fid = ents[j].fid;
				ents[j].fid = f;
				return;
			}
			del_ent((unsigned)j);
			if (i == (int)nents)
				i = j; /* moved by del_ent */
		}
		snprintf(ents[i].path, sizeof(ents[0].path), "%s", np);
		if ((flags & KVFS_RENAME_WHITEOUT) && nents < MAXE) {
			/* the whiteout left at the old name */
			ents[nents] = (struct ent){ .type = E_WHITEOUT };
			snprintf(ents[nents++].path, sizeof(ents[0].path), "%s",
				 old);
		}
		return;
	}
	case 11: { /* move an empty directory to another parent */
		i = pick(E_DIR);
		if (i < 0 || !dir_empty(ents[i].path))
			goto fsync_any;
		d = rnd() % 2 ? "d0" : "d1";
		snprintf(np, sizeof(np), "%s/m%d", d, r->step);
		dino = parent_of(mp, ents[i].path, &leaf);
		dino2 = parent_of(mp, np, &leaf2);
		err = kvfs_rename(mp, dino, leaf, dino2, leaf2, 0, &cr);
		expect(r, err, "rename directory");
		dir_changed(ents[i].path, r->step);
		dir_changed(np, r->step);
		snprintf(ents[i].path, sizeof(ents[0].path), "%s", np);
		ents[i].fid = r->step;
		return;
	}
	case 12: { /* symlink, short or in blocks */
		size_t tl = rnd() % 2 ? 1 + rnd() % 40 : 100 + rnd() % 3000;

		if (nents >= MAXE - 2)
			goto fsync_any;
		d = pick_dir();
		snprintf(np, sizeof(np), "%s/l%d", d, r->step);
		for (size_t o = 0; o < tl; o++)
			buf[o] = (char)('a' + (o * 7 + (size_t)r->step) % 26);
		buf[tl] = '\0';
		dino = parent_of(mp, np, &leaf);
		err = kvfs_symlink(mp, dino, leaf, buf, &cr, &st);
		expect(r, err, "symlink");
		dir_changed(np, r->step);
		ents[nents++] = (struct ent){ .type = E_LINK };
		snprintf(ents[nents - 1].path, sizeof(ents[0].path), "%s", np);
		return;
	}
	case 13: { /* setxattr */
		size_t vl = 1 + rnd() % 600;

		i = pick(E_FILE);
		if (i < 0)
			goto fsync_any;
		memset(buf, 'A' + r->step % 26, vl);
		err = kvfs_setxattr(mp, mfiles[ents[i].fid].ino, "user.a", buf,
				    vl, 0);
		expect(r, err, "setxattr");
		touch_file(ents[i].fid, r->step);
		return;
	}
	case 100: /* a file held open: it becomes an orphan at step 5 */
		snprintf(np, sizeof(np), "d0/o");
		dino = parent_of(mp, np, &leaf);
		err = kvfs_create(mp, dino, leaf, 0100644, 0, KVFS_CREATE_EXCL,
				  &cr, &st, &created);
		expect(r, err, "create the orphan");
		expect(r, kvfs_inode_open(mp, st.ino, 0), "open the orphan");
		orphan_fid = (int)nfiles;
		mfiles[nfiles++] =
			(struct mfile){ .ino = st.ino, .gen = st.generation };
		dir_changed(np, r->step);
		return;
	case 101:
		memset(buf, 0x33, 3000);
		n = kvfs_write(mp, mfiles[orphan_fid].ino, buf, 3000, 0, 0);
		expect(r, n == 3000 ? 0 : n < 0 ? n : -EIO, "write the orphan");
		return;
	case 102:
		dino = parent_of(mp, "d0/o", &leaf);
		expect(r, kvfs_unlink(mp, dino, leaf), "unlink the orphan");
		dir_changed("d0/o", r->step);
		removals++;
		return;
	default:
fsync_any:
		if (rnd() % 3) {
			i = pick(E_FILE);
			if (i < 0)
				return;
			err = kvfs_fsync(mp, mfiles[ents[i].fid].ino, false);
			expect(r, err, "fsync");
			fsynced(r, err, mfiles[ents[i].fid].last_change);
			if (!err && !(r->fault && crash_crashed(mp)))
				mfiles[ents[i].fid].synced = r->step;
		} else {
			d = pick_dir();
			CHECK_EQ(ns_lookup_path(mp, d, &st), 0);
			err = kvfs_fsync(mp, st.ino, false);
			expect(r, err, "fsync of a directory");
			fsynced(r, err, dir_last_change(d));
		}
	}
}

static void model_reset(uint64_t seed)
{
	nents = nfiles = nlinks_made = removals = 0;
	orphan_fid = -1;
	dir_change[0] = dir_change[1] = 0;
	memset(mfiles, 0, sizeof(mfiles));
	rs = seed;
}

/* each file's bytes: its pattern or zeros; exactly its pattern if fsync'd */
static void check_files(struct kvfs_mount *mp, unsigned point)
{
	static uint8_t buf[8192];

	for (unsigned i = 0; i < nents; i++) {
		const struct mfile *f;
		struct kvfs_stat st;
		ssize_t n;
		bool exact;
		const char *p = ents[i].path;

		if (ents[i].type != E_FILE)
			continue;
		if (ns_lookup_path(mp, p, &st))
			continue; /* the tree check said whether it may go */
		f = &mfiles[ents[i].fid];
		/*
		 * an older file at this name: another inode, or this number
		 * before a file freed after the recovered step gave it up
		 * (seed 1051: the name's file replaced, its number reused by
		 * a file then renamed over the name)
		 */
		if (st.ino != f->ino || st.generation != f->gen)
			continue;
		n = kvfs_read(mp, st.ino, buf, sizeof(buf), 0);
		CHECK_EQ(n, (ssize_t)st.size);
		/* its own fsync after the write: the data flushed too */
		exact = f->written && f->write_step <= f->synced;
		for (ssize_t o = 0; o < n; o++) {
			uint8_t want = pattern(ents[i].fid, (uint32_t)o);

			if (buf[o] == want || (!exact && !buf[o]))
				continue;
			fprintf(stderr,
				"point %u: %s: byte %zd is %#x, not %#x (%s)\n",
				point, p, o, buf[o], want,
				exact ? "fsync'd" : "not fsync'd");
			exit(1);
		}
	}
}

static struct {
	unsigned by_mode[NMODES], crashed, recovered, orphans;
} seen;

/* One run: m < 0 records the snapshots; returns the device writes. */
static uint64_t run(int m, uint64_t n, uint64_t seed, unsigned point)
{
	struct run r = { .k = 0, .fault = m >= 0 };
	struct kvfs_open_info info;
	uint64_t w0, writes;
	char *now;
	int last, j;

	crash_copy_image(tmpl, path);
	model_reset(seed);
	r.mp = crash_open(path, NULL);
	w0 = kv_dev_nr_writes(r.mp->dev);
	if (m < 0)
		snaps[0] = canon(r.mp);
	else
		crash_arm(r.mp, (enum crash_mode)m, n, seed);
	for (r.step = 1; r.step <= STEPS; r.step++) {
		step(&r);
		if (m < 0)
			snaps[r.step] = canon(r.mp);
		else if (crash_crashed(r.mp))
			break;
	}
	last = r.step > STEPS ? STEPS : r.step;
	writes = kv_dev_nr_writes(r.mp->dev) - w0;
	if (m < 0) {
		kvfs_inode_close(r.mp, mfiles[orphan_fid].ino);
		CHECK_EQ(kvfs_close(r.mp), 0);
	} else {
		seen.crashed += crash_crashed(r.mp);
		crash_power_cut(r.mp);
		/* the daemon's last reference, after the power is gone */
		if (orphan_fid >= 0)
			kvfs_inode_close(r.mp, mfiles[orphan_fid].ino);
		kvfs_close(r.mp);
	}

	r.mp = crash_open(path, &info);
	seen.recovered += info.recovered;
	seen.orphans += info.orphans;
	/*
	 * After a crash, any inode whose last name went may be an orphan
	 * (the one held open, those whose freeing had not committed):
	 * recovery freed them, as the walk and the checker below prove.
	 * After a clean close (every last close made first) there is none.
	 */
	if (info.orphans > (m >= 0 ? removals : 0u)) {
		fprintf(stderr,
			"point %u (%s at write %" PRIu64 "): %" PRIu64
			" orphans freed at the open, %u names went\n",
			point, m >= 0 ? crash_mode_name[m] : "none", n,
			info.orphans, removals);
		exit(1);
	}
	now = canon(r.mp);
	for (j = last; j >= r.k; j--)
		if (!strcmp(now, snaps[j]))
			break;
	if (j < r.k) {
		fprintf(stderr,
			"point %u (%s at write %" PRIu64 "): the tree is no "
			"state from step %d (last fsync'd change) to %d:\n%s"
			"step %d was:\n%s",
			point, m >= 0 ? crash_mode_name[m] : "none", n, r.k,
			last, now, r.k, snaps[r.k]);
		exit(1);
	}
	if (verbose)
		printf("point %u: fsync'd step %d, last %d, recovered %d\n",
		       point, r.k, last, j);
	free(now);
	check_files(r.mp, point);
	CHECK(ns_walk(r.mp, 0) > 0);
	CHECK_EQ(kvfs_close(r.mp), 0);
	scrub_image_clean(path);
	/* what recovery freed stays freed: the lists are empty on disk */
	r.mp = crash_open(path, &info);
	CHECK(!info.recovered);
	CHECK_EQ(info.orphans, 0);
	CHECK_EQ(kvfs_close(r.mp), 0);
	return writes;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "points", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "mode", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "budget", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	struct kv_config kc = { 0 };
	unsigned points = CI_POINTS;
	uint64_t seed = 1, total;
	int only = -1, c;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			points = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 'm':
			only = crash_mode_parse(optarg);
			if (only < 0) {
				fprintf(stderr, "unknown mode %s\n", optarg);
				return 2;
			}
			break;
		case 'v':
			verbose = true;
			break;
		case 'b': {
			uint64_t v;

			if (kvfs_parse_size(optarg, &v)) {
				fprintf(stderr, "bad size %s\n", optarg);
				return 2;
			}
			kc.budget_bytes = (size_t)v;
			break;
		}
		default:
			fprintf(stderr,
				"usage: %s [--points N] [--seed S] [--mode "
				"crash|volatile|tear|sectors] [--budget SIZE] "
				"[-v]\n",
				argv[0]);
			return 2;
		}
	}
	/* a longer run (the campaign of README's Testing) has longer */
	crash_alarm(TIMEOUT * (1 + (points ? (points - 1) / CI_POINTS : 0)),
		    "crash_ns: timed out\n");
	CHECK_EQ(kv_init(&kc), 0);
	crash_paths("crashns", path, tmpl);
	make_template();
	total = run(-1, 0, seed, 0);
	CHECK(total > 20);
	for (unsigned i = 1; i <= points; i++) {
		uint64_t s = seed * 1000003 + i, x = s;
		int m = only >= 0 ? only : (int)(i % NMODES);
		uint64_t n;

		x = (x ^ (x >> 31)) * 0x9e3779b97f4a7c15ull;
		n = 1 + (x >> 7) % (total + total / 16);
		if (verbose)
			printf("point %u: %s at write %" PRIu64 "/%" PRIu64
			       "\n",
			       i, crash_mode_name[m], n, total);
		/* the same workload each time: the snapshots hold */
		run(m, n, seed, i);
		seen.by_mode[m]++;
	}
	for (unsigned i = 0; i <= STEPS; i++)
		free(snaps[i]);
	unlink(path);
	unlink(tmpl);
	CHECK_EQ(kv_fini(), 0);
	printf("crash ns: %u points (crash %u, volatile %u, tear %u, sectors "
	       "%u) over %" PRIu64 " writes per run of %d steps: %u crashed, "
	       "%u recovered, %u orphans freed\n",
	       points, seen.by_mode[M_CRASH], seen.by_mode[M_VOLATILE],
	       seen.by_mode[M_TEAR], seen.by_mode[M_SECTORS], total, STEPS,
	       seen.crashed, seen.recovered, seen.orphans);
	CHECK(points == 0 || seen.crashed > points / 2);
	return 0;
}
