// SPDX-License-Identifier: GPL-2.0
/*
 * Crash atomicity of the operations that change an object's on-disk form,
 * which the other crash tests reach seldom or never, over every crash
 * mode of the device layer (fs/io/dev.h).  Six workloads, one seeded
 * sequence of steps each (every step one API call, chosen from a model so
 * that it succeeds, then an fsync of what it changed or not, and now and
 * then an AIL push: the logged metadata written back in place, as the
 * shrinkers do):
 *
 *   dir:     a directory grows from short form to blocks and past the
 *            first split of its name hash index (600 names of 1 to 120
 *            bytes; a 4 KiB leaf holds ~500 of the 8-byte records),
 *            names renamed in it and to and from another
 *            directory, then shrinks back to empty (blocks freed, short
 *            form again);
 *   dirattr: the same, with attributes of both directories set and
 *            removed among its steps (short, local and remote values):
 *            the boundary between the data and attribute forks moves
 *            while the data fork changes form;
 *   xattr:   a file, a directory and a symlink gain up to 60 attributes
 *            each (short form, one leaf, the hash index node and several
 *            leaves; values short, local in a leaf, and remote in blocks
 *            of their own), replaced (local to remote and back) and
 *            removed down to none;
 *   rename:  renames across directories with every flag: EXCHANGE of a
 *            file, symlink or directory with one of another type (the
 *            directory's ".." and both parents' link counts change),
 *            WHITEOUT of files and symlinks, NOREPLACE, over a file or an
 *            empty directory; hard links, creates, mkdir, unlink, rmdir;
 *   extents: a file whose map is the extent B+tree (every other block of
 *            8 MiB written), fsync'd after every step: writes, hole
 *            punches, zero ranges, fallocate, truncates down and up (to 0
 *            sometimes), and copy_file_range from another file;
 *   extattr: the same, with attributes of the file set and removed among
 *            its steps (short, local and remote values): the attribute
 *            fork grows into the inode's literal area and out of it while
 *            the data fork is a B+tree root there, or extents, or none.
 *
 * A run without a fault records the tree after every step (names, types,
 * link counts, sizes, symlink targets, every xattr's name and value, the
 * bytes of files outside the extents workload).  A fault run stops after
 * the step in which the device died; power is cut and the image
 * reopened (recovery; a third of the points first cut again inside a
 * mount, its replay's writes or its close's, as crashcamp does); then:
 *   - the tree is the recorded one after some step j from k to the last
 *     step started, k the last step whose fsync returned before the cut:
 *     every operation wholly there or wholly absent;
 *   - extents: the file's size is the one before or after the step cut
 *     (each step is fsync'd), and each byte the model's before or after
 *     it: never stale, never another file's;
 *   - fsck -n finds nothing after each cut (the log replayed in memory);
 *     the namespace walk (tests/ns_util.h), then after a clean close the
 *     checker (fs/check/scrub.h) and fsck -n find nothing;
 *   - everything removed, the free blocks and inodes are mkfs's: no
 *     block or inode leaked.
 *
 * `test_crash_forms --seed S --points N [--workload W] [--mode M]
 * [--at WRITE] [--errtags SPEC] -v`: N points a mode of each workload
 * (CI: below), at write numbers drawn from the seed over a clean run's
 * writes; a failure names its workload, mode, write and seed, which
 * `--workload W --mode M --at WRITE --seed S` replays.  --errtags arms
 * error-injection points for the whole run (KVFS_ERRTAGS syntax): with
 * remove_noresv every removal goes without blocks, as on a full
 * filesystem, and directories leave free-space index records behind.
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
#include "fs/format/mkfs.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/ns_util.h"
#include "tests/scrub_util.h"

#define IMG_SIZE (64u << 20)
#define PATHLEN 128
#define TIMEOUT 1200

static const struct kvfs_cred cr = { 0 };
static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static bool verbose;
static uint64_t rs;
static uint64_t mkfs_bfree, mkfs_ffree;

static uint64_t rnd(void)
{
	return crash_rnd(&rs);
}

static uint32_t rndn(uint32_t n)
{
	return (uint32_t)(rnd() % n);
}

/* ---- a run ---- */

struct run {
	struct kvfs_mount *mp; /* NULL: the model only */
	bool fault;
	int step;
	int k; /* the last step made durable */
};

/* An API call of the workload: it succeeds unless the device died. */
static void expect(struct run *r, long long err, const char *what)
{
	if (err >= 0 || (r->fault && crash_crashed(r->mp)))
		return;
	fprintf(stderr, "step %d: %s: %lld\n", r->step, what, err);
	exit(1);
}

/* fsync of ino (made durable every step up to this one if it returned) */
static void fsync_ino(struct run *r, uint64_t ino, bool datasync)
{
	int err;

	if (!r->mp)
		return;
	err = kvfs_fsync(r->mp, ino, datasync);
	expect(r, err, "fsync");
	if (!err && !(r->fault && crash_crashed(r->mp)))
		r->k = r->step;
}

/* After a step: an fsync of ino half the time, an AIL push now and then. */
static void after_step(struct run *r, uint64_t ino)
{
	bool sync = rndn(2), push = rndn(8) == 0;

	if (sync)
		fsync_ino(r, ino, false);
	if (push && r->mp)
		kvj_log_push_ail(r->mp->log);
}

static uint64_t lookup(struct kvfs_mount *mp, uint64_t dir, const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	return st.ino;
}

static uint64_t lookup_path(struct kvfs_mount *mp, const char *p)
{
	struct kvfs_stat st;

	CHECK_EQ(ns_lookup_path(mp, p, &st), 0);
	return st.ino;
}

/* ---- the tree, canonical ---- */

static bool canon_data = true;

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void canon_xattrs(struct kvfs_mount *mp, uint64_t ino,
			 struct crash_sbuf *b)
{
	static char list[1 << 16];
	static uint8_t v[KVFS_XATTR_SIZE_MAX];
	char *names[256];
	ssize_t n = kvfs_listxattr(mp, ino, list, sizeof(list));
	unsigned c = 0;

	CHECK(n >= 0);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		CHECK(c < 256);
		names[c++] = list + i;
	}
	qsort(names, c, sizeof(names[0]), str_cmp);
	for (unsigned i = 0; i < c; i++) {
		ssize_t len = kvfs_getxattr(mp, ino, names[i], v, sizeof(v));

		CHECK(len >= 0);
		crash_sb_add(b, " %s=%zd:%016" PRIx64, names[i], len,
			     crash_fnv(v, (size_t)len));
	}
}

static void canon_dir(struct kvfs_mount *mp, uint64_t dir, const char *pre,
		      struct crash_sbuf *b)
{
	static char buf[KVFS_SYMLINK_MAX + 1];
	struct ns_ents e = { 0 };
	char **lines;
	size_t nl = 0;

	CHECK_EQ(kvfs_readdir(mp, dir, 0, ns_ents_fill, &e), 0);
	lines = calloc(e.n + 1, sizeof(*lines));
	CHECK(lines);
	for (size_t i = 2; i < e.n; i++) {
		struct crash_sbuf l = { 0 };
		struct kvfs_stat st;
		char sub[2 * KVFS_NAME_MAX + 8];

		if (!*pre && !strcmp(e.v[i].name, "lost+found"))
			continue;
		CHECK(snprintf(sub, sizeof(sub), "%s%s", pre, e.v[i].name) <
		      (int)sizeof(sub));
		CHECK_EQ(kvfs_getattr(mp, e.v[i].ino, &st), 0);
		crash_sb_add(&l, "%s %c%u %" PRIu64, sub,
			     S_ISDIR(st.mode) ? 'D' :
			     S_ISLNK(st.mode) ? 'L' :
			     S_ISREG(st.mode) ? 'F' :
			     S_ISCHR(st.mode) ? 'C' :
						'?',
			     st.nlink, st.size);
		if (S_ISLNK(st.mode)) {
			CHECK(kvfs_readlink(mp, st.ino, buf, sizeof(buf)) >= 0);
			crash_sb_add(&l, " ->%016" PRIx64,
				     crash_fnv(buf, strlen(buf)));
		} else if (S_ISREG(st.mode) && canon_data && st.size) {
			uint8_t *d = malloc(st.size);

			CHECK(d);
			CHECK_EQ(kvfs_read(mp, st.ino, d, st.size, 0),
				 (ssize_t)st.size);
			crash_sb_add(&l, " #%016" PRIx64,
				     crash_fnv(d, st.size));
			free(d);
		}
		canon_xattrs(mp, st.ino, &l);
		crash_sb_add(&l, "\n");
		if (S_ISDIR(st.mode)) {
			CHECK(snprintf(sub, sizeof(sub), "%s%s/", pre,
				       e.v[i].name) < (int)sizeof(sub));
			canon_dir(mp, st.ino, sub, &l);
		}
		lines[nl++] = l.s;
	}
	qsort(lines, nl, sizeof(*lines), str_cmp);
	for (size_t i = 0; i < nl; i++) {
		crash_sb_add(b, "%s", lines[i]);
		free(lines[i]);
	}
	free(lines);
	free(e.v);
}

static char *canon(struct kvfs_mount *mp)
{
	struct crash_sbuf b = { 0 };

	crash_sb_add(&b, "/");
	canon_xattrs(mp, kvfs_root_ino(mp), &b);
	crash_sb_add(&b, "\n");
	canon_dir(mp, kvfs_root_ino(mp), "", &b);
	return b.s;
}

/* ---- dir: a directory through its forms and back ---- */

#define DIR_MAX 600
#define DIR_STEPS 2100
#define DIR_XNAMES 12

static struct {
	char name[DIR_MAX][PATHLEN];
	bool in_e[DIR_MAX]; /* moved to the other directory */
	unsigned n, made;
	bool shrink;
	bool attrs; /* dirattr: the directories' attribute forks change too */
	bool has[2][DIR_XNAMES];
} dm;

static void dir_reset(void)
{
	memset(&dm, 0, sizeof(dm));
}

static void dirattr_reset(void)
{
	dir_reset();
	dm.attrs = true;
}

/*
 * dirattr: an attribute of d or e set or removed: the fork boundary moves
 * while the data fork changes form
 */
static void dir_xattr_step(struct run *r, uint64_t d, uint64_t e)
{
	static uint8_t v[9000];
	unsigned which = rndn(2), i = rndn(DIR_XNAMES), sz = rndn(3);
	int len = sz == 0 ? (int)rndn(30) :
		  sz == 1 ? 100 + (int)rndn(1400) :
			    3000 + (int)rndn(6000);
	uint64_t ino = which ? e : d;
	char name[32];
	int err;

	snprintf(name, sizeof(name), "user.dir%u", i);
	if (dm.has[which][i] && rndn(2)) {
		if (r->mp) {
			err = kvfs_removexattr(r->mp, ino, name);
			expect(r, err, "removexattr");
		}
		dm.has[which][i] = false;
	} else {
		for (int b = 0; b < len; b++)
			v[b] = (uint8_t)(1 + (b + r->step) % 251);
		if (r->mp) {
			err = kvfs_setxattr(r->mp, ino, name, v, (size_t)len,
					    0);
			expect(r, err, "setxattr");
		}
		dm.has[which][i] = true;
	}
	after_step(r, ino);
}

static void dir_setup(struct kvfs_mount *mp)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "e", 040755, &cr, &st), 0);
}

static void dir_name(char *out)
{
	unsigned len = 1 + rndn(rndn(4) ? 24 : 120);
	int n = snprintf(out, PATHLEN, "%x", dm.made++);

	while ((unsigned)n < len && n < PATHLEN - 1)
		out[n++] = (char)('a' + rndn(26));
	out[n] = '\0';
}

static bool dir_step(struct run *r)
{
	struct kvfs_mount *mp = r->mp;
	uint64_t d = mp ? lookup(mp, kvfs_root_ino(mp), "d") : 1;
	uint64_t e = mp ? lookup(mp, kvfs_root_ino(mp), "e") : 2;
	unsigned kind = rndn(100), i;
	char nn[PATHLEN];
	struct kvfs_stat st;
	bool created;
	int err;

	if (!dm.shrink && dm.n >= DIR_MAX - 1)
		dm.shrink = true;
	if (dm.shrink && !dm.n)
		return false;
	if (dm.attrs && kind < 8) {
		dir_xattr_step(r, d, e);
		return true;
	}
	/* shrinking, creates still come: never past the model's room */
	if (!dm.n || (kind < (dm.shrink ? 10 : 75) && dm.n < DIR_MAX)) {
		dir_name(dm.name[dm.n]);
		dm.in_e[dm.n] = false;
		if (mp) {
			err = kvfs_create(mp, d, dm.name[dm.n], 0100644, 0,
					  KVFS_CREATE_EXCL, &cr, &st, &created);
			expect(r, err, "create");
		}
		dm.n++;
		after_step(r, d);
		return true;
	}
	i = rndn(dm.n);
	if (kind < 88) {
		uint64_t from = dm.in_e[i] ? e : d;

		if (mp) {
			err = kvfs_unlink(mp, from, dm.name[i]);
			expect(r, err, "unlink");
		}
		dm.n--;
		memcpy(dm.name[i], dm.name[dm.n], PATHLEN);
		dm.in_e[i] = dm.in_e[dm.n];
		after_step(r, from);
		return true;
	}
	/* renamed within its directory or to the other one */
	dir_name(nn);
	bool to_e = kind < 94 ? dm.in_e[i] : !dm.in_e[i];
	uint64_t from = dm.in_e[i] ? e : d;

	if (mp) {
		err = kvfs_rename(mp, from, dm.name[i], to_e ? e : d, nn, 0,
				  &cr);
		expect(r, err, "rename");
	}
	memcpy(dm.name[i], nn, PATHLEN);
	dm.in_e[i] = to_e;
	after_step(r, from);
	return true;
}

/* ---- xattr: attribute forks through their forms and back ---- */

#define XOBJ 3
#define XNAMES 60
#define XATTR_STEPS 700

static const char *const xobj_path[XOBJ] = { "f", "s", "l" };
static struct {
	int len[XOBJ][XNAMES]; /* -1: absent */
	uint32_t gen[XOBJ][XNAMES];
	unsigned n[XOBJ], total;
	bool shrink;
} xm;

static void xattr_reset(void)
{
	memset(&xm, 0, sizeof(xm));
	for (int o = 0; o < XOBJ; o++)
		for (int i = 0; i < XNAMES; i++)
			xm.len[o][i] = -1;
}

static void xattr_setup(struct kvfs_mount *mp)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "f", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "s", 040755, &cr, &st), 0);
	CHECK_EQ(kvfs_symlink(mp, kvfs_root_ino(mp), "l", "f", &cr, &st), 0);
}

static void xattr_name(unsigned i, char *out)
{
	/* lengths 7 to 90: leaves fill at different counts */
	int n = snprintf(out, PATHLEN, "user.x%02u", i);

	for (; n < (int)(7 + (i * 37) % 84); n++)
		out[n] = (char)('a' + (i + (unsigned)n) % 26);
	out[n] = '\0';
}

static bool xattr_step(struct run *r)
{
	static uint8_t v[KVFS_XATTR_SIZE_MAX];
	unsigned o = rndn(XOBJ), i = rndn(XNAMES), kind = rndn(100);
	uint64_t ino =
		r->mp ? lookup(r->mp, kvfs_root_ino(r->mp), xobj_path[o]) : 0;
	char name[PATHLEN];
	int err;

	if (!xm.shrink && xm.total >= XOBJ * XNAMES * 3 / 4)
		xm.shrink = true;
	if (xm.shrink && !xm.total)
		return false;
	xattr_name(i, name);
	if (xm.len[o][i] >= 0 && kind < (xm.shrink ? 75 : 20)) {
		if (r->mp) {
			err = kvfs_removexattr(r->mp, ino, name);
			expect(r, err, "removexattr");
		}
		xm.len[o][i] = -1;
		xm.n[o]--;
		xm.total--;
	} else {
		unsigned sz = rndn(3);
		int len = sz == 0 ? (int)rndn(40) :
			  sz == 1 ? 100 + (int)rndn(1400) :
				    3000 + (int)rndn(17000);
		uint32_t g = ++xm.gen[o][i];

		for (int b = 0; b < len; b++)
			v[b] = (uint8_t)(1 + (b * 7 + g * 13 + i + o) % 251);
		if (r->mp) {
			err = kvfs_setxattr(r->mp, ino, name, v, (size_t)len,
					    0);
			expect(r, err, "setxattr");
		}
		if (xm.len[o][i] < 0) {
			xm.n[o]++;
			xm.total++;
		}
		xm.len[o][i] = len;
	}
	after_step(r, ino);
	return true;
}

/* ---- rename: across directories, every flag, every pair of types ---- */

#define RTOP 3 /* a, b, c: never renamed */
#define RMAX 96
#define RENAME_STEPS 500

enum rtype { R_FILE, R_DIR, R_LINK, R_WHITEOUT };

/* an entry: name in directory entry par (-1: one of the top ones, top) */
struct rent {
	bool used;
	enum rtype t;
	int par; /* index of the parent entry, or -1 - top */
	char name[32];
	int obj; /* files: hard links share it */
};

static struct {
	struct rent e[RMAX];
	unsigned made;
} rm;

static const char *const rtop[RTOP] = { "a", "b", "c" };

static void rename_reset(void)
{
	memset(&rm, 0, sizeof(rm));
}

static void rename_setup(struct kvfs_mount *mp)
{
	struct kvfs_stat st;

	for (int i = 0; i < RTOP; i++)
		CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), rtop[i], 040755, &cr,
				    &st),
			 0);
}

static void rent_path(int i, char *out)
{
	char pp[PATHLEN];

	if (i < 0) {
		snprintf(out, PATHLEN, "%s", rtop[-1 - i]);
		return;
	}
	rent_path(rm.e[i].par, pp);
	CHECK(snprintf(out, PATHLEN, "%s/%s", pp, rm.e[i].name) < PATHLEN);
}

static uint64_t rent_ino(struct kvfs_mount *mp, int i)
{
	char p[PATHLEN];

	rent_path(i, p);
	return lookup_path(mp, p);
}

static int rent_pick(int want, bool dirs_ok)
{
	unsigned start = rndn(RMAX);

	for (unsigned k = 0; k < RMAX; k++) {
		unsigned i = (start + k) % RMAX;

		if (!rm.e[i].used || (want >= 0 && rm.e[i].t != (unsigned)want))
			continue;
		if (!dirs_ok && rm.e[i].t == R_DIR)
			continue;
		return (int)i;
	}
	return -1;
}

static bool rent_empty(int i)
{
	for (int k = 0; k < RMAX; k++)
		if (rm.e[k].used && rm.e[k].par == i)
			return false;
	return true;
}

static int rent_free(void)
{
	for (int i = 0; i < RMAX; i++)
		if (!rm.e[i].used)
			return i;
	return -1;
}

/* a parent for an entry of type t: directories go to the top only */
static int rent_parent(enum rtype t)
{
	int i;

	if (t != R_DIR && rndn(2) && (i = rent_pick(R_DIR, true)) >= 0)
		return i;
	return -1 - (int)rndn(RTOP);
}

static bool rename_step(struct run *r)
{
	struct kvfs_mount *mp = r->mp;
	unsigned kind = rndn(100);
	int i, j, f, par;
	struct kvfs_stat st;
	bool created;
	int err = 0;

	if (r->step > RENAME_STEPS)
		return false;
	f = rent_free();
	if (kind < 25 && f >= 0) { /* create, mkdir, symlink */
		enum rtype t = kind < 12 ? R_FILE : kind < 19 ? R_DIR : R_LINK;

		par = rent_parent(t);
		rm.e[f] = (struct rent){
			.used = true, .t = t, .par = par, .obj = f
		};
		snprintf(rm.e[f].name, sizeof(rm.e[f].name), "n%u", rm.made++);
		if (mp) {
			uint64_t d = rent_ino(mp, par);
			char tgt[600];

			if (t == R_FILE) {
				err = kvfs_create(mp, d, rm.e[f].name, 0100644,
						  0, KVFS_CREATE_EXCL, &cr, &st,
						  &created);
			} else if (t == R_DIR) {
				err = kvfs_mkdir(mp, d, rm.e[f].name, 040755,
						 &cr, &st);
			} else {
				/* in blocks every other one */
				memset(tgt, 't', sizeof(tgt));
				tgt[f % 2 ? 20 : 599] = '\0';
				err = kvfs_symlink(mp, d, rm.e[f].name, tgt,
						   &cr, &st);
			}
			expect(r, err, "create");
			after_step(r, d);
		} else {
			after_step(r, 0);
		}
		return true;
	}
	if (kind < 32 && f >= 0 && (i = rent_pick(R_FILE, false)) >= 0) {
		/* a hard link in another directory */
		par = rent_parent(R_FILE);
		rm.e[f] = (struct rent){ .used = true,
					 .t = R_FILE,
					 .par = par,
					 .obj = rm.e[i].obj };
		snprintf(rm.e[f].name, sizeof(rm.e[f].name), "h%u", rm.made++);
		if (mp) {
			err = kvfs_link(mp, rent_ino(mp, i), rent_ino(mp, par),
					rm.e[f].name, &st);
			expect(r, err, "link");
			after_step(r, rent_ino(mp, par));
		} else {
			after_step(r, 0);
		}
		return true;
	}
	if (kind < 42) { /* unlink or rmdir */
		i = rent_pick(-1, true);
		if (i < 0 || (rm.e[i].t == R_DIR && !rent_empty(i)))
			return true;
		par = rm.e[i].par;
		if (mp) {
			uint64_t d = rent_ino(mp, par);

			if (rm.e[i].t == R_DIR)
				err = kvfs_rmdir(mp, d, rm.e[i].name);
			else
				err = kvfs_unlink(mp, d, rm.e[i].name);
			expect(r, err, "unlink");
			after_step(r, d);
		} else {
			after_step(r, 0);
		}
		rm.e[i].used = false;
		return true;
	}
	/* a rename */
	i = rent_pick(-1, true);
	if (i < 0)
		return true;
	char nname[32];
	unsigned flags = 0;
	int npar = 0;

	j = rent_pick(-1, true);
	if (kind < 65 && j >= 0 && j != i) {
		/* EXCHANGE with any other entry (of any type) */
		if ((rm.e[i].t == R_DIR && rm.e[j].par >= 0) ||
		    (rm.e[j].t == R_DIR && rm.e[i].par >= 0))
			return true; /* a directory stays at the top */
		if (rm.e[i].obj == rm.e[j].obj)
			return true; /* two links of one file */
		flags = KVFS_RENAME_EXCHANGE;
	} else if (kind < 80 && j >= 0 && j != i &&
		   (rm.e[i].t == R_DIR) == (rm.e[j].t == R_DIR) &&
		   rm.e[j].obj != rm.e[i].obj) {
		/* over j: an empty directory, or any non-directory */
		if (rm.e[j].t == R_DIR && (!rent_empty(j) || rm.e[j].par >= 0))
			return true;
		if (rm.e[i].t == R_DIR && rm.e[j].par >= 0)
			return true;
		if (j == rm.e[i].par || i == rm.e[j].par)
			return true;
	} else {
		j = -1;
		npar = rent_parent(rm.e[i].t);
		if (npar == i)
			return true;
		snprintf(nname, sizeof(nname), "r%u", rm.made++);
		if ((rm.e[i].t == R_FILE || rm.e[i].t == R_LINK) && f >= 0 &&
		    rndn(2))
			flags = KVFS_RENAME_WHITEOUT;
		else if (rndn(2))
			flags = KVFS_RENAME_NOREPLACE;
	}
	if (mp) {
		uint64_t od = rent_ino(mp, rm.e[i].par);
		uint64_t nd =
			j >= 0 ? rent_ino(mp, rm.e[j].par) : rent_ino(mp, npar);

		err = kvfs_rename(mp, od, rm.e[i].name, nd,
				  j >= 0 ? rm.e[j].name : nname, flags, &cr);
		expect(r, err, "rename");
		after_step(r, rndn(2) ? od : nd);
	} else {
		(void)rndn(2);
		after_step(r, 0);
	}
	if (flags & KVFS_RENAME_EXCHANGE) {
		struct rent t = rm.e[i];

		/* the objects swap places: entries keep par and name */
		rm.e[i].t = rm.e[j].t;
		rm.e[i].obj = rm.e[j].obj;
		rm.e[j].t = t.t;
		rm.e[j].obj = t.obj;
		/* children follow their directory */
		for (int k = 0; k < RMAX; k++) {
			if (!rm.e[k].used)
				continue;
			if (rm.e[k].par == i)
				rm.e[k].par = -1000 - j;
			else if (rm.e[k].par == j)
				rm.e[k].par = i;
		}
		for (int k = 0; k < RMAX; k++)
			if (rm.e[k].used && rm.e[k].par == -1000 - j)
				rm.e[k].par = j;
		return true;
	}
	if (j >= 0) {
		/* i takes j's place: j's entry gone, children of i follow */
		rm.e[j].t = rm.e[i].t;
		rm.e[j].obj = rm.e[i].obj;
		for (int k = 0; k < RMAX; k++)
			if (rm.e[k].used && rm.e[k].par == i)
				rm.e[k].par = j;
		rm.e[i].used = false;
		return true;
	}
	/* a new name: whiteout left at the old one */
	struct rent moved = rm.e[i];

	moved.par = npar;
	snprintf(moved.name, sizeof(moved.name), "%s", nname);
	if (flags & KVFS_RENAME_WHITEOUT) {
		f = rent_free();
		CHECK(f >= 0);
		rm.e[f] = moved;
		rm.e[i].t = R_WHITEOUT;
		rm.e[i].obj = -1;
		return true;
	}
	rm.e[i].par = npar;
	snprintf(rm.e[i].name, sizeof(rm.e[i].name), "%s", nname);
	return true;
}

/* ---- extents: a file in extent-B+tree form ---- */

#define XSIZE (8u << 20)
#define XMAX (12u << 20)
#define SRCSIZE (1u << 20)
#define EXT_STEPS 250

#define EXT_XNAMES 16

static struct {
	uint8_t *cur;
	uint32_t size;
	uint32_t gen;
	bool attrs; /* extattr: the file's attribute fork changes too */
	bool has[EXT_XNAMES];
} em;
static uint32_t bsize;

static uint8_t src_pat(uint32_t off)
{
	return (uint8_t)(0x80 | (off / 5 % 127));
}

static uint8_t ext_pat(uint32_t gen, uint32_t off)
{
	return (uint8_t)(1 + (gen * 17 + off / 3) % 127);
}

static void ext_reset(void)
{
	if (!em.cur) {
		em.cur = malloc(XMAX);
		CHECK(em.cur);
	}
	memset(em.cur, 0, XMAX);
	em.size = XSIZE;
	em.gen = 1;
	em.attrs = false;
	memset(em.has, 0, sizeof(em.has));
	/* every other block written: the setup's */
	for (uint32_t b = 0; b < XSIZE / 4096; b += 2)
		for (uint32_t o = b * 4096; o < (b + 1) * 4096; o++)
			em.cur[o] = ext_pat(1, o);
}

static void ext_setup(struct kvfs_mount *mp)
{
	struct kvfs_stat st;
	uint8_t *buf = malloc(SRCSIZE);
	bool created;

	CHECK(buf);
	ext_reset();
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "x", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	for (uint32_t b = 0; b < XSIZE / 4096; b += 2)
		CHECK_EQ(kvfs_write(mp, st.ino, em.cur + b * 4096, 4096,
				    b * 4096, 0),
			 4096);
	CHECK_EQ(kvfs_setattr(mp, st.ino,
			      &(struct kvfs_setattr){ .valid = KVFS_SET_SIZE,
						      .size = XSIZE },
			      &cr, NULL),
		 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "src", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	for (uint32_t o = 0; o < SRCSIZE; o++)
		buf[o] = src_pat(o);
	/* holes in the source: copies keep them */
	memset(buf + SRCSIZE / 4, 0, SRCSIZE / 8);
	CHECK_EQ(kvfs_write(mp, st.ino, buf, SRCSIZE / 4, 0, 0), SRCSIZE / 4);
	CHECK_EQ(kvfs_write(mp, st.ino, buf + SRCSIZE * 3 / 8, SRCSIZE * 5 / 8,
			    SRCSIZE * 3 / 8, 0),
		 SRCSIZE * 5 / 8);
	free(buf);
}

static void extattr_reset(void)
{
	ext_reset();
	em.attrs = true;
}

/*
 * extattr: an attribute of x set or removed, its value short (in the
 * inode), local to a leaf, or remote; the fork boundary moves over the
 * data fork's B+tree root
 */
static void ext_xattr_step(struct run *r, uint64_t x)
{
	static uint8_t v[9000];
	unsigned i = rndn(EXT_XNAMES), sz = rndn(3);
	int len = sz == 0 ? (int)rndn(40) :
		  sz == 1 ? 100 + (int)rndn(1400) :
			    3000 + (int)rndn(6000);
	char name[32];
	int err;

	snprintf(name, sizeof(name), "user.x%u", i);
	if (em.has[i] && rndn(2)) {
		if (r->mp) {
			err = kvfs_removexattr(r->mp, x, name);
			expect(r, err, "removexattr");
		}
		em.has[i] = false;
	} else {
		for (int b = 0; b < len; b++)
			v[b] = (uint8_t)(1 + (b * 7 + r->step) % 251);
		if (r->mp) {
			err = kvfs_setxattr(r->mp, x, name, v, (size_t)len, 0);
			expect(r, err, "setxattr");
		}
		em.has[i] = true;
	}
}

static void em_size(uint32_t sz)
{
	if (sz < em.size)
		memset(em.cur + sz, 0, em.size - sz);
	em.size = sz;
}

static bool ext_step(struct run *r)
{
	static uint8_t buf[1u << 20];
	struct kvfs_mount *mp = r->mp;
	uint64_t x = mp ? lookup(mp, kvfs_root_ino(mp), "x") : 0;
	uint64_t src = mp ? lookup(mp, kvfs_root_ino(mp), "src") : 0;
	unsigned kind = rndn(100);
	long long err = 0;
	bool xstep, datasync;
	/* block-aligned half the time: whole extents change */
	uint32_t off = rndn(XSIZE + XSIZE / 4), len;

	if (r->step > EXT_STEPS)
		return false;
	if (rndn(2))
		off &= ~4095u;
	len = 1 + rndn(rndn(4) ? 65536 : 1u << 20);
	if (off + len > XMAX)
		len = XMAX - off;
	xstep = em.attrs && rndn(3) == 0;
	if (xstep) {
		ext_xattr_step(r, x);
	} else if (kind < 30) {
		uint32_t g = ++em.gen;

		for (uint32_t i = 0; i < len; i++)
			buf[i] = ext_pat(g, off + i);
		err = mp ? kvfs_write(mp, x, buf, len, off, 0) : len;
		expect(r,
		       err == (long long)len ? 0 :
		       err < 0		     ? err :
					       -EIO,
		       "write");
		memcpy(em.cur + off, buf, len);
		if (off + len > em.size)
			em.size = off + len;
	} else if (kind < 45) {
		if (mp)
			err = kvfs_fallocate(mp, x,
					     FALLOC_FL_PUNCH_HOLE |
						     FALLOC_FL_KEEP_SIZE,
					     off, len);
		expect(r, err, "punch");
		if (off < em.size)
			memset(em.cur + off, 0,
			       (off + len > em.size ? em.size : off + len) -
				       off);
	} else if (kind < 57) {
		bool keep = rndn(2);

		if (mp)
			err = kvfs_fallocate(
				mp, x,
				FALLOC_FL_ZERO_RANGE |
					(keep ? FALLOC_FL_KEEP_SIZE : 0),
				off, len);
		expect(r, err, "zero range");
		if (off < em.size)
			memset(em.cur + off, 0,
			       (off + len > em.size ? em.size : off + len) -
				       off);
		if (!keep && off + len > em.size)
			em.size = off + len;
	} else if (kind < 67) {
		bool keep = rndn(2);

		if (mp)
			err = kvfs_fallocate(mp, x,
					     keep ? FALLOC_FL_KEEP_SIZE : 0,
					     off, len);
		expect(r, err, "fallocate");
		if (!keep && off + len > em.size)
			em.size = off + len;
	} else if (kind < 80) {
		uint32_t sz = rndn(20) == 0 ? 0 : rndn(XSIZE + XSIZE / 4);

		if (mp)
			err = kvfs_setattr(
				mp, x,
				&(struct kvfs_setattr){ .valid = KVFS_SET_SIZE,
							.size = sz },
				&cr, NULL);
		expect(r, err, "truncate");
		em_size(sz);
	} else {
		uint32_t so = rndn(SRCSIZE), n;

		len = 1 + rndn(SRCSIZE);
		if (rndn(2)) {
			so &= ~4095u;
			len = (len + 4095) & ~4095u;
		}
		n = so + len > SRCSIZE ? SRCSIZE - so : len;
		if (off + n > XMAX)
			n = XMAX - off;
		err = mp ? kvfs_copy_file_range(mp, src, so, x, off, n, 0) : n;
		expect(r,
		       err == (long long)n ? 0 :
		       err < 0		   ? err :
					     -EIO,
		       "copy_file_range");
		for (uint32_t i = 0; i < n; i++) {
			uint32_t s = so + i;

			em.cur[off + i] =
				s >= SRCSIZE / 4 && s < SRCSIZE * 3 / 8 ?
					0 :
					src_pat(s);
		}
		if (n && off + n > em.size)
			em.size = off + n;
	}
	/* an attribute is no data: fdatasync need not keep it */
	datasync = rndn(2) && !xstep;
	fsync_ino(r, x, datasync);
	if (rndn(8) == 0 && mp)
		kvj_log_push_ail(mp->log);
	return true;
}

/* ---- the workloads ---- */

struct workload {
	const char *name;
	void (*setup)(struct kvfs_mount *mp);
	void (*reset)(void);
	bool (*step)(struct run *r);
	int steps;
	bool data; /* the bytes checked against the model, not the tree */
};

static const struct workload wls[] = {
	{ "dir", dir_setup, dir_reset, dir_step, DIR_STEPS, false },
	{ "dirattr", dir_setup, dirattr_reset, dir_step, DIR_STEPS, false },
	{ "xattr", xattr_setup, xattr_reset, xattr_step, XATTR_STEPS, false },
	{ "rename", rename_setup, rename_reset, rename_step, RENAME_STEPS + 1,
	  false },
	{ "extents", ext_setup, ext_reset, ext_step, EXT_STEPS + 1, true },
	{ "extattr", ext_setup, extattr_reset, ext_step, EXT_STEPS + 1, true },
};

#define NWL (sizeof(wls) / sizeof(wls[0]))

static char *snaps[DIR_STEPS + 2];
static int nsnaps;
static uint64_t seed0;

static void fs_counts(struct kvfs_mount *mp, uint64_t *bfree, uint64_t *ffree)
{
	struct kvfs_statfs st;

	CHECK_EQ(kvfs_statfs(mp, &st), 0);
	*bfree = st.bfree;
	*ffree = st.ffree;
}

static void make_template(const struct workload *w)
{
	struct kvfs_mkfs_opts mo = {
		.target = tmpl, .size = IMG_SIZE, .agcount = 2, .force = true
	};
	struct kvfs_mount *mp;
	struct kvfs_geom g;

	unlink(tmpl);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	bsize = g.blocksize;
	mp = crash_open(tmpl, NULL);
	fs_counts(mp, &mkfs_bfree, &mkfs_ffree);
	w->setup(mp);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(tmpl);
}

/* fsck -n finds nothing (a dirty log replayed in memory) */
static void fsck_clean(const char *where, const char *when)
{
	int err;
	unsigned found = crash_fsck_dry(path, when, &err);

	if (err || found) {
		fprintf(stderr, "%s: fsck -n %s: %d, %u problems\n", where,
			when, err, found);
		exit(1);
	}
}

static void image_clean(const char *where)
{
	scrub_image_clean(path);
	fsck_clean(where, "after the clean close");
}

/*
 * Cut again inside the next mount (crashcamp's): its replay's writes, or
 * its close's, with any subset of the unflushed sectors kept.  A replay
 * cut short loses nothing the log held: the checks are the same after.
 */
static unsigned nrecut;

static void cut_in_replay(const char *where, uint64_t cutseed)
{
	uint64_t cut_at;
	bool recrashed;
	int err = crash_cut_in_replay(path, cutseed, &cut_at, &recrashed);

	if (err) {
		fprintf(stderr,
			"%s: the mount cut at write %" PRIu64 ": %d: %s\n",
			where, cut_at, err, kvfs_mount_error());
		exit(1);
	}
	nrecut += recrashed;
	fsck_clean(where, "after a cut in the replay");
}

/* Everything under dir removed (the root's lost+found kept). */
static void remove_all(struct kvfs_mount *mp, uint64_t dir, bool root)
{
	struct ns_ents e = { 0 };

	CHECK_EQ(kvfs_readdir(mp, dir, 0, ns_ents_fill, &e), 0);
	for (size_t i = 2; i < e.n; i++) {
		struct kvfs_stat st;

		if (root && !strcmp(e.v[i].name, "lost+found"))
			continue;
		CHECK_EQ(kvfs_getattr(mp, e.v[i].ino, &st), 0);
		if (S_ISDIR(st.mode)) {
			remove_all(mp, st.ino, false);
			CHECK_EQ(kvfs_rmdir(mp, dir, e.v[i].name), 0);
		} else {
			CHECK_EQ(kvfs_unlink(mp, dir, e.v[i].name), 0);
		}
	}
	free(e.v);
}

/* the model's file after step upto of the extents workload */
static void ext_model_at(const struct workload *w, int upto)
{
	struct run r = { .mp = NULL };

	rs = seed0;
	w->reset();
	for (r.step = 1; r.step <= upto; r.step++)
		CHECK(w->step(&r));
}

static void check_ext(struct kvfs_mount *mp, const struct workload *w, int k,
		      int last, const char *where)
{
	uint64_t x = lookup(mp, kvfs_root_ino(mp), "x");
	uint8_t *got = malloc(XMAX), *before = malloc(XMAX);
	uint32_t size_before;
	struct kvfs_stat st;

	CHECK(got && before);
	CHECK_EQ(kvfs_getattr(mp, x, &st), 0);
	ext_model_at(w, k);
	memcpy(before, em.cur, XMAX);
	size_before = em.size;
	if (last > k)
		ext_model_at(w, last);
	CHECK(st.size <= XMAX);
	if (st.size != size_before && st.size != em.size) {
		fprintf(stderr,
			"%s: x's size %" PRIu64 " is neither %u (step %d) "
			"nor %u (step %d)\n",
			where, st.size, size_before, k, em.size, last);
		exit(1);
	}
	CHECK_EQ(kvfs_read(mp, x, got, st.size, 0), (ssize_t)st.size);
	for (uint32_t i = 0; i < st.size; i++) {
		if (got[i] == before[i] || got[i] == em.cur[i])
			continue;
		fprintf(stderr,
			"%s: x's byte %u is %#x, step %d's %#x, step %d's "
			"%#x\n",
			where, i, got[i], k, before[i], last, em.cur[i]);
		exit(1);
	}
	free(got);
	free(before);
}

static unsigned nrecovered;

/* A run: clean (m < 0, the states recorded), or cut at write n. */
static uint64_t run(const struct workload *w, int m, uint64_t n,
		    uint64_t cutseed)
{
	struct run r = { .fault = m >= 0 };
	struct kvfs_open_info info;
	uint64_t w0, writes, bf, ff;
	char where[160];
	int last, j;
	char *now;

	snprintf(where, sizeof(where),
		 "%s: %s at write %" PRIu64 " (--seed %" PRIu64 ")", w->name,
		 m >= 0 ? crash_mode_name[m] : "no fault", n, seed0);
	crash_copy_image(tmpl, path);
	rs = seed0;
	w->reset();
	canon_data = !w->data;
	r.mp = crash_open(path, NULL);
	w0 = kv_dev_nr_writes(r.mp->dev);
	if (m < 0)
		snaps[0] = canon(r.mp);
	else
		crash_arm(r.mp, (enum crash_mode)m, n, cutseed);
	for (r.step = 1; r.step <= w->steps; r.step++) {
		if (!w->step(&r))
			break;
		if (m < 0)
			snaps[r.step] = canon(r.mp);
		else if (crash_crashed(r.mp))
			break;
	}
	last = r.step;
	if (m < 0) {
		nsnaps = r.step;
		last = r.step - 1;
	} else if (last >= nsnaps) {
		last = nsnaps - 1;
	}
	writes = kv_dev_nr_writes(r.mp->dev) - w0;
	if (m < 0) {
		CHECK_EQ(kvfs_close(r.mp), 0);
	} else {
		crash_power_cut(r.mp);
		kvfs_close(r.mp);
		fsck_clean(where, "after the cut");
		if ((cutseed >> 20) % 3 == 0)
			cut_in_replay(where, cutseed);
	}
	r.mp = crash_open(path, &info);
	nrecovered += info.recovered;
	now = canon(r.mp);
	for (j = last; j >= r.k; j--)
		if (!strcmp(now, snaps[j]))
			break;
	if (j < r.k) {
		fprintf(stderr,
			"%s: the tree is no state from step %d (last "
			"fsync'd) to %d:\n%s--- step %d was:\n%s--- step %d "
			"was:\n%s",
			where, r.k, last, now, r.k, snaps[r.k], last,
			snaps[last]);
		exit(1);
	}
	if (verbose)
		printf("%s: fsync'd step %d, last %d, recovered %d\n", where,
		       r.k, last, j);
	free(now);
	if (w->data)
		check_ext(r.mp, w, r.k, last, where);
	CHECK(ns_walk(r.mp, 0) > 0);
	CHECK_EQ(kvfs_close(r.mp), 0);
	image_clean(where);
	/* nothing leaked: everything removed, mkfs's counts */
	r.mp = crash_open(path, NULL);
	remove_all(r.mp, kvfs_root_ino(r.mp), true);
	CHECK_EQ(kvfs_close(r.mp), 0);
	r.mp = crash_open(path, NULL);
	fs_counts(r.mp, &bf, &ff);
	if (bf != mkfs_bfree || ff != mkfs_ffree) {
		fprintf(stderr,
			"%s: all removed: %" PRIu64 " blocks and %" PRIu64
			" inodes free, mkfs left %" PRIu64 " and %" PRIu64 "\n",
			where, bf, ff, mkfs_bfree, mkfs_ffree);
		exit(1);
	}
	CHECK_EQ(kvfs_close(r.mp), 0);
	return writes;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [--seed S] [--points N] [--workload "
		"dir|dirattr|xattr|rename|extents|extattr] [--mode M] [--at WRITE] "
		"[--errtags SPEC] [-v]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "points", required_argument, NULL, 'p' },
		{ "workload", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "at", required_argument, NULL, 'a' },
		{ "errtags", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned points = 3, total = 0;
	char errtags_why[128];
	const char *only = NULL;
	int mode = -1, c;
	uint64_t at = 0;

	seed0 = 1;
	while ((c = getopt_long(argc, argv, "s:p:w:m:a:e:v", lopts, NULL)) !=
	       -1) {
		switch (c) {
		case 's':
			seed0 = strtoull(optarg, NULL, 10);
			break;
		case 'p':
			points = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			only = optarg;
			break;
		case 'm':
			mode = crash_mode_parse(optarg);
			if (mode < 0)
				usage(argv[0]);
			break;
		case 'a':
			at = strtoull(optarg, NULL, 10);
			break;
		case 'e':
			if (kvj_errtag_parse(optarg, errtags_why,
					     sizeof(errtags_why))) {
				fprintf(stderr, "--errtags: %s\n", errtags_why);
				usage(argv[0]);
			}
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (!points || (at && mode < 0))
		usage(argv[0]);
	CHECK_EQ(kv_init(NULL), 0);
	crash_alarm(TIMEOUT, "test_crash_forms: hung\n");
	crash_paths("forms", path, tmpl);
	for (size_t wi = 0; wi < NWL; wi++) {
		const struct workload *w = &wls[wi];
		uint64_t writes, ps = seed0 * 2654435761u + wi;
		unsigned n = 0;

		if (only && strcmp(only, w->name))
			continue;
		make_template(w);
		writes = run(w, -1, 0, 0);
		CHECK(writes > 0);
		for (int m = 0; m < NMODES; m++) {
			if (mode >= 0 && m != mode)
				continue;
			for (unsigned p = 0; p < (at ? 1 : points); p++) {
				uint64_t wn =
					at ? at : 1 + crash_rnd(&ps) % writes;

				run(w, m, wn, crash_rnd(&ps));
				n++;
			}
		}
		for (int s = 0; s < nsnaps; s++)
			free(snaps[s]);
		printf("crash forms: %s: %d steps, %" PRIu64
		       " writes, %u points: recovered, one state, clean, "
		       "nothing leaked\n",
		       w->name, nsnaps - 1, writes, n);
		total += n;
	}
	unlink(path);
	unlink(tmpl);
	free(em.cur);
	CHECK_EQ(kv_fini(), 0);
	printf("crash forms: ok (%u points, %u recovered, %u cut again in the "
	       "replay)\n",
	       total, nrecovered, nrecut);
	return 0;
}
