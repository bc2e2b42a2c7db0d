// SPDX-License-Identifier: GPL-2.0
/*
 * The power-cut campaign (CrashMonkey's and xfstests' dm-log-writes
 * shape): one long mixed workload per seed through the core API
 * (fs/kvfs.h), cut at random device writes where any subset of the
 * sectors written since the last flush persisted (KV_FAULT_SECTORS; a few
 * points use the other crash modes), then a dry-run fsck (the log replayed
 * into memory) that must find nothing, a mount (the replay), the checks
 * below, a clean close, and the checker again.
 *
 * The workload: creates, writes (a few bytes unaligned, up to 16 KiB, 64
 * to 256 KiB, appends, overwrites), truncates up and down, fallocate (0,
 * KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE), fsync and fdatasync of files,
 * fsync of directories, sync, renames (new name, across directories, over
 * a file, over an empty directory, NOREPLACE, EXCHANGE of files or of
 * directories, directories with their subtrees), hard links, unlinks
 * (of files held open too: orphans written and fsync'd after), xattrs
 * (set, replaced, removed; short and in blocks), symlinks (inline and in
 * blocks), mkdir, rmdir.
 *
 * The model (what must hold after the cut; the log is replayed in order,
 * and a force reaches everything committed before the inode's change):
 *   - the tree (names, types, inode numbers, symlink targets) is the
 *     model's after some step j from k to the last step started, k the
 *     last step made durable: an fsync of a file or directory that
 *     returned before the cut makes durable every change up to the last
 *     step that changed that inode's metadata (create, link, unlink,
 *     rename, truncate, fallocate, xattr), sync every change;
 *   - a file whose data and size were made durable (fsync, fdatasync,
 *     sync) and not changed since has exactly those bytes and that size,
 *     and its xattrs likewise (fsync, sync);
 *   - any other file reached has a size it had since (or inside an
 *     extending write), and each byte is 0, the durable one, or that of a
 *     write since: never another file's, never the garbage the image held
 *     before mkfs (data exposure);
 *   - link counts and the inodes in use agree with the names
 *     (tests/ns_util.h), and the checker finds nothing;
 *   - a third of the points are cut again inside the next mount (its
 *     replay's writes or its close's), the same checks after the mount
 *     that follows.
 * Besides, the AIL is pushed now and then (what the shrinkers do), some
 * seeds push the log every 3 ms and some have a 256 KiB buffer cache.
 *
 * `crashcamp --seeds N --seed S --points P --steps T [--mode M] -v`:
 * seeds S..S+N-1, P cut points each over a workload of T steps (the
 * clean run's write count varies a little with timing: a failure prints
 * its write and cut seed, which `--at W --cutseed X --mode M --points 1`
 * replays).  The suite runs two fixed seeds (meson.build); longer
 * campaigns by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
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
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/ns_util.h"
#include "tests/scrub_util.h"

#define IMG_SIZE (32u << 20)
#define GARBAGE 0xa5 /* the image's bytes before mkfs */
#define MAXO 1500 /* objects (inodes) made in a run */
#define MAXE 700 /* names in the model */
#define MAXSIZE (384u << 10) /* file offsets stay below */
#define DATA_LIMIT (10u << 20) /* bytes of all files together */
#define MAXOPEN 3 /* files held open */
#define NXATTR 2
#define PATHLEN 160

static const struct kvfs_cred cr = { 0 };
static char path[CRASH_PATH_MAX], tmpl[CRASH_PATH_MAX];
static bool verbose;
static unsigned nsteps = 600;

/* ---- the model ---- */

enum otype { O_FILE, O_DIR, O_LINK };

/* A write (or zeroing: gen 0) since the durable snapshot. */
struct wrec {
	uint32_t off, len, gen;
};

struct xval {
	int len; /* -1: absent */
	uint32_t gen;
};

struct obj {
	enum otype type;
	uint64_t ino;
	int created; /* step */
	int meta; /* the last step changing its metadata */
	bool live; /* has a name, or is held open */
	bool open;
	uint64_t lhash; /* O_LINK: the target's */
	/* O_FILE */
	uint8_t *cur, *snap; /* MAXSIZE bytes, 0 past the size */
	uint32_t size, snap_size;
	bool dirty; /* data or size changed since snap */
	struct wrec *w;
	unsigned nw, wcap;
	/* sizes since snap: [lo, hi] ranges */
	uint32_t (*sz)[2];
	unsigned nsz, szcap;
	uint32_t gen;
	struct xval x[NXATTR], xsnap[NXATTR];
	bool xdirty;
};

struct ent {
	char path[PATHLEN]; /* from the root, no leading '/' */
	int o;
};

static struct obj objs[MAXO];
static unsigned nobjs;
static struct ent ents[MAXE];
static unsigned nents;
static uint64_t data_bytes;

/* the tree after each step: an index into the distinct trees */
static char **trees;
static unsigned ntrees, trees_cap;
static unsigned *tree_at; /* [nsteps + 1] */

/*
 * A directory grown or emptied by many steps in a row (its short, block
 * and tree forms): each step one create or one unlink in it.
 */
static struct {
	unsigned left;
	bool unlink;
	char dir[PATHLEN];
} bulk;

static const char *const xname[NXATTR] = { "user.s", "user.big" };

static uint8_t pat(unsigned o, uint32_t gen, uint32_t off)
{
	uint32_t v = (uint32_t)o * 0x9e3779b1u ^ gen * 0x85ebca77u ^
		     off * 0xc2b2ae3du;

	v ^= v >> 15;
	v *= 0x2c1b3c6du;
	v ^= v >> 12;
	return (uint8_t)(1 + v % 255);
}

static uint64_t rs;

static uint64_t rnd(void)
{
	return crash_rnd(&rs);
}

static uint32_t rndn(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

/*
 * The object has no name and nobody holds it: its model stays (until the
 * next run) for a cut that recovers a tree from before its last name went.
 */
static void obj_dead(struct obj *ob)
{
	if (ob->type == O_FILE)
		data_bytes -= ob->size;
	ob->live = false;
}

static void model_reset(uint64_t seed)
{
	for (unsigned i = 0; i < nobjs; i++) {
		free(objs[i].cur);
		free(objs[i].snap);
		free(objs[i].w);
		free(objs[i].sz);
	}
	memset(objs, 0, sizeof(objs));
	nobjs = nents = 0;
	data_bytes = 0;
	for (unsigned i = 0; i < ntrees; i++)
		free(trees[i]);
	ntrees = 0;
	bulk.left = 0;
	rs = seed;
}

static void sz_add(struct obj *ob, uint32_t lo, uint32_t hi)
{
	if (ob->nsz == ob->szcap) {
		ob->szcap = ob->szcap ? 2 * ob->szcap : 16;
		ob->sz = realloc(ob->sz, ob->szcap * sizeof(*ob->sz));
		CHECK(ob->sz);
	}
	ob->sz[ob->nsz][0] = lo;
	ob->sz[ob->nsz++][1] = hi;
}

static void w_add(struct obj *ob, uint32_t off, uint32_t len, uint32_t gen)
{
	if (ob->nw == ob->wcap) {
		ob->wcap = ob->wcap ? 2 * ob->wcap : 16;
		ob->w = realloc(ob->w, ob->wcap * sizeof(*ob->w));
		CHECK(ob->w);
	}
	ob->w[ob->nw++] = (struct wrec){ off, len, gen };
}

static const uint8_t zeros[MAXSIZE];

/* A file's data, made at its first data operation (most stay empty). */
static void bufs(struct obj *ob)
{
	if (ob->cur)
		return;
	ob->cur = calloc(1, MAXSIZE);
	ob->snap = calloc(1, MAXSIZE);
	CHECK(ob->cur && ob->snap);
}

/* the data and size as they are now: durable */
static void data_synced(struct obj *ob)
{
	if (ob->cur)
		memcpy(ob->snap, ob->cur, MAXSIZE);
	ob->snap_size = ob->size;
	ob->dirty = false;
	ob->nw = ob->nsz = 0;
}

static void xattr_synced(struct obj *ob)
{
	memcpy(ob->xsnap, ob->x, sizeof(ob->x));
	ob->xdirty = false;
}

/* the size becomes sz (growing bytes read as zeros) */
static void set_size(struct obj *ob, uint32_t sz, bool range)
{
	uint32_t old = ob->size;

	if (sz < old)
		memset(ob->cur + sz, 0, old - sz);
	data_bytes += sz;
	data_bytes -= old;
	ob->size = sz;
	ob->dirty = true;
	if (range && sz > old)
		sz_add(ob, old, sz);
	else
		sz_add(ob, sz, sz);
}

static int new_obj(enum otype t, uint64_t ino, int step)
{
	struct obj *ob;

	CHECK(nobjs < MAXO);
	ob = &objs[nobjs];
	*ob = (struct obj){ .type = t,
			    .ino = ino,
			    .created = step,
			    .meta = step,
			    .live = true };
	for (int i = 0; i < NXATTR; i++)
		ob->x[i].len = ob->xsnap[i].len = -1;
	return (int)nobjs++;
}

static int find_ent(const char *p)
{
	for (unsigned i = 0; i < nents; i++)
		if (!strcmp(ents[i].path, p))
			return (int)i;
	return -1;
}

static void add_ent(const char *p, int o)
{
	CHECK(nents < MAXE);
	snprintf(ents[nents].path, PATHLEN, "%s", p);
	ents[nents++].o = o;
}

static int find_obj_name(int o)
{
	for (unsigned i = 0; i < nents; i++)
		if (ents[i].o == o)
			return (int)i;
	return -1;
}

static unsigned names_of(int o)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nents; i++)
		n += ents[i].o == o;
	return n;
}

/* The object of the parent directory of p (-1: the root). */
static int parent_obj(const char *p)
{
	char dir[PATHLEN];
	const char *slash = strrchr(p, '/');
	int i;

	if (!slash)
		return -1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
	i = find_ent(dir);
	CHECK(i >= 0);
	return ents[i].o;
}

static int root_meta;

static void touch(int o, int step)
{
	if (o < 0)
		root_meta = step;
	else
		objs[o].meta = step;
}

static void touch_parent(const char *p, int step)
{
	touch(parent_obj(p), step);
}

/* A name went: the object goes with its last one unless held open. */
static void del_ent(unsigned i)
{
	int o = ents[i].o;

	ents[i] = ents[--nents];
	if (!names_of(o) && !objs[o].open)
		obj_dead(&objs[o]);
}

static bool is_under(const char *p, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(p, dir, n) && p[n] == '/';
}

static bool dir_empty(const char *p)
{
	for (unsigned i = 0; i < nents; i++)
		if (is_under(ents[i].path, p))
			return false;
	return true;
}

static unsigned depth(const char *p)
{
	unsigned d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int pick_type(enum otype t)
{
	unsigned n = 0, k;

	for (unsigned i = 0; i < nents; i++)
		n += objs[ents[i].o].type == t;
	if (!n)
		return -1;
	k = rndn(n);
	for (unsigned i = 0; i < nents; i++)
		if (objs[ents[i].o].type == t && !k--)
			return (int)i;
	return -1;
}

/* a directory's path: "" for the root */
static const char *pick_dir(void)
{
	int i;

	if (rndn(4) == 0)
		return "";
	i = pick_type(O_DIR);
	if (i < 0 || depth(ents[i].path) > 3)
		return "";
	return ents[i].path;
}

/* a file: by a name, or one held open (maybe with no name) */
static int pick_file(void)
{
	int i;

	if (rndn(6) == 0) {
		unsigned n = 0, k;

		for (unsigned o = 0; o < nobjs; o++)
			n += objs[o].live && objs[o].open;
		if (n) {
			k = rndn(n);
			for (unsigned o = 0; o < nobjs; o++)
				if (objs[o].live && objs[o].open && !k--)
					return (int)o;
		}
	}
	i = pick_type(O_FILE);
	return i < 0 ? -1 : ents[i].o;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *p, char t, uint64_t ino,
		      uint64_t h)
{
	char buf[PATHLEN + 64];

	CHECK(snprintf(buf, sizeof(buf), "%s %c %" PRIu64 " %016" PRIx64 "\n",
		       p, t, ino, h) < (int)sizeof(buf));
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		CHECK(l->v);
	}
	l->v[l->n] = strdup(buf);
	CHECK(l->v[l->n++]);
}

static char *lines_join(struct lines *l)
{
	size_t len = 1, at = 0;
	char *s;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), line_cmp);
	for (size_t i = 0; i < l->n; i++)
		len += strlen(l->v[i]);
	s = malloc(len);
	CHECK(s);
	for (size_t i = 0; i < l->n; i++) {
		size_t n = strlen(l->v[i]);

		memcpy(s + at, l->v[i], n);
		at += n;
		free(l->v[i]);
	}
	s[at] = '\0';
	free(l->v);
	return s;
}

static const char type_char[] = { 'F', 'D', 'L' };

static char *model_tree(void)
{
	struct lines l = { 0 };

	for (unsigned i = 0; i < nents; i++) {
		const struct obj *ob = &objs[ents[i].o];

		lines_add(&l, ents[i].path, type_char[ob->type], ob->ino,
			  ob->lhash);
	}
	return lines_join(&l);
}

static void fs_tree_dir(struct kvfs_mount *mp, uint64_t dir, const char *pre,
			struct lines *l)
{
	static char buf[KVFS_SYMLINK_MAX + 1];
	struct ns_ents e = { 0 };

	CHECK_EQ(kvfs_readdir(mp, dir, 0, ns_ents_fill, &e), 0);
	for (size_t i = 2; i < e.n; i++) {
		char sub[PATHLEN];
		struct kvfs_stat st;

		if (!*pre && !strcmp(e.v[i].name, "lost+found"))
			continue;
		CHECK(snprintf(sub, sizeof(sub), "%s%s%s", pre, *pre ? "/" : "",
			       e.v[i].name) < (int)sizeof(sub));
		CHECK_EQ(kvfs_getattr(mp, e.v[i].ino, &st), 0);
		if (S_ISDIR(st.mode)) {
			lines_add(l, sub, 'D', st.ino, 0);
			fs_tree_dir(mp, st.ino, sub, l);
		} else if (S_ISLNK(st.mode)) {
			CHECK(kvfs_readlink(mp, st.ino, buf, sizeof(buf)) >= 0);
			lines_add(l, sub, 'L', st.ino,
				  crash_fnv(buf, strlen(buf)));
		} else {
			lines_add(l, sub, S_ISREG(st.mode) ? 'F' : '?', st.ino,
				  0);
		}
	}
	free(e.v);
}

static char *fs_tree(struct kvfs_mount *mp)
{
	struct lines l = { 0 };

	fs_tree_dir(mp, kvfs_root_ino(mp), "", &l);
	return lines_join(&l);
}

static void record_tree(int step)
{
	char *t = model_tree();

	if (ntrees && !strcmp(trees[ntrees - 1], t)) {
		free(t);
	} else {
		if (ntrees == trees_cap) {
			trees_cap = trees_cap ? 2 * trees_cap : 64;
			trees = realloc(trees, trees_cap * sizeof(*trees));
			CHECK(trees);
		}
		trees[ntrees++] = t;
	}
	tree_at[step] = ntrees - 1;
}

/* ---- the workload ---- */

struct run {
	struct kvfs_mount *mp;
	int step;
	int k; /* the last step made durable */
	bool fault;
	struct {
		unsigned ops, fsyncs, enospc;
	} n;
};

static bool crashed(struct run *r)
{
	return r->fault && crash_crashed(r->mp);
}

static void expect(struct run *r, long long err, const char *what)
{
	if (!err || crashed(r))
		return;
	fprintf(stderr, "step %d: %s: %lld before the crash\n", r->step, what,
		err);
	exit(1);
}

static void durable_to(struct run *r, int err, int step)
{
	if (!err && !crashed(r) && step > r->k)
		r->k = step;
}

static uint64_t lookup_dir(struct kvfs_mount *mp, const char *d)
{
	int i;

	if (!*d)
		return kvfs_root_ino(mp);
	i = find_ent(d);
	CHECK(i >= 0);
	return objs[ents[i].o].ino;
}

/* p's parent directory's inode and p's last component */
static uint64_t split(struct kvfs_mount *mp, const char *p, const char **leaf)
{
	char dir[PATHLEN];
	const char *slash = strrchr(p, '/');

	if (!slash) {
		*leaf = p;
		return kvfs_root_ino(mp);
	}
	*leaf = slash + 1;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - p), p);
	return lookup_dir(mp, dir);
}

static void join(char *out, const char *dir, const char *leaf)
{
	CHECK(snprintf(out, PATHLEN, "%s%s%s", dir, *dir ? "/" : "", leaf) <
	      PATHLEN);
}

static uint8_t wbuf[MAXSIZE];

static void op_write(struct run *r, int o)
{
	struct obj *ob = &objs[o];
	uint32_t off, len, kind = rndn(6);
	unsigned flags = 0;
	ssize_t n;

	bufs(ob);
	switch (kind) {
	case 0: /* a few bytes, unaligned */
		len = 1 + rndn(100);
		off = rndn(ob->size + 8192);
		break;
	case 1:
	case 2:
		len = 1 + rndn(16384);
		off = rndn(ob->size + 16384);
		break;
	case 3: /* large */
		len = 65536 + rndn(196608);
		off = rndn(2) ? rndn(MAXSIZE / 2) & ~4095u : rndn(MAXSIZE / 2);
		break;
	case 4: /* append */
		len = 1 + rndn(rndn(2) ? 5000 : 70000);
		off = ob->size;
		flags = KVFS_WRITE_APPEND;
		break;
	default: /* overwrite inside */
		if (!ob->size)
			return;
		off = rndn(ob->size);
		len = 1 + rndn(ob->size - off);
		if (len > 65536)
			len = 65536;
	}
	if (off + len > MAXSIZE) {
		flags = 0; /* an append goes where the model says */
		if (off >= MAXSIZE)
			off = rndn(MAXSIZE / 2);
		len = MAXSIZE - off;
		if (len > 65536)
			len = 65536;
	}
	if (off + len > ob->size &&
	    data_bytes + off + len - ob->size > DATA_LIMIT)
		return;
	ob->gen++;
	for (uint32_t i = 0; i < len; i++)
		wbuf[i] = pat((unsigned)o, ob->gen, off + i);
	n = kvfs_write(r->mp, ob->ino, wbuf, len, off,
		       flags | (rndn(20) == 0 ? KVFS_WRITE_DSYNC : 0));
	expect(r, n == (ssize_t)len ? 0 : n < 0 ? n : -EIO, "write");
	memcpy(ob->cur + off, wbuf, len);
	w_add(ob, off, len, ob->gen);
	if (off + len > ob->size)
		set_size(ob, off + len, true);
	ob->dirty = true;
	if (!crashed(r) && n == (ssize_t)len && rndn(20) == 0) {
		/* an O_DSYNC write now and then: the data durable */
		n = kvfs_fsync(r->mp, ob->ino, true);
		expect(r, n, "fdatasync after write");
		if (!n && !crashed(r))
			data_synced(ob);
	}
}

static void op_trunc(struct run *r, int o)
{
	struct obj *ob = &objs[o];
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	uint32_t sz;
	int err;

	bufs(ob);
	switch (rndn(4)) {
	case 0:
		sz = 0;
		break;
	case 1: /* up */
		sz = ob->size + rndn(100000);
		break;
	default:
		sz = rndn(ob->size + 1);
	}
	if (sz > MAXSIZE)
		sz = MAXSIZE;
	if (sz > ob->size && data_bytes + sz - ob->size > DATA_LIMIT)
		return;
	sa.size = sz;
	err = kvfs_setattr(r->mp, ob->ino, &sa, &cr, NULL);
	expect(r, err, "truncate");
	set_size(ob, sz, false);
	ob->meta = r->step;
}

static void op_falloc(struct run *r, int o)
{
	struct obj *ob = &objs[o];
	uint32_t off = rndn(ob->size + 65536), len = 1 + rndn(131072);
	int mode, err, kind = (int)rndn(5);

	bufs(ob);
	if (off >= MAXSIZE)
		off = MAXSIZE / 2;
	if (off + len > MAXSIZE)
		len = MAXSIZE - off;
	switch (kind) {
	case 0:
		mode = 0;
		break;
	case 1:
		mode = FALLOC_FL_KEEP_SIZE;
		break;
	case 2:
	case 3:
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		break;
	default:
		mode = FALLOC_FL_ZERO_RANGE |
		       (rndn(2) ? FALLOC_FL_KEEP_SIZE : 0);
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > ob->size &&
	    data_bytes + off + len - ob->size > DATA_LIMIT)
		return;
	if (data_bytes + len > DATA_LIMIT + (4u << 20))
		return; /* preallocated blocks count too */
	err = kvfs_fallocate(r->mp, ob->ino, mode, off, len);
	if (err == -ENOSPC && !crashed(r)) {
		r->n.enospc++;
		return;
	}
	expect(r, err, "fallocate");
	ob->meta = r->step;
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
		uint32_t end = off + len < ob->size ? off + len : ob->size;

		if (off < end)
			memset(ob->cur + off, 0, end - off);
		ob->dirty = true;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > ob->size)
		set_size(ob, off + len, false);
}

static void op_fsync(struct run *r, int o, bool datasync)
{
	struct obj *ob = &objs[o];
	int err = kvfs_fsync(r->mp, ob->ino, datasync);

	expect(r, err, datasync ? "fdatasync" : "fsync");
	if (err || crashed(r))
		return;
	r->n.fsyncs++;
	if (ob->type == O_FILE)
		data_synced(ob);
	if (!datasync) {
		if (ob->type == O_FILE)
			xattr_synced(ob);
		durable_to(r, 0, ob->meta);
	}
}

static void op_fsync_dir(struct run *r)
{
	const char *d = pick_dir();
	int err, o = -1;

	if (*d)
		o = ents[find_ent(d)].o;
	err = kvfs_fsync(r->mp, lookup_dir(r->mp, d), false);
	expect(r, err, "fsync of a directory");
	durable_to(r, err, o < 0 ? root_meta : objs[o].meta);
}

static void op_sync(struct run *r)
{
	int err = kvfs_sync(r->mp);

	expect(r, err, "sync");
	if (err || crashed(r))
		return;
	for (unsigned o = 0; o < nobjs; o++)
		if (objs[o].live && objs[o].type == O_FILE) {
			data_synced(&objs[o]);
			xattr_synced(&objs[o]);
		}
	durable_to(r, 0, r->step);
}

static void op_create(struct run *r)
{
	char np[PATHLEN], leaf[32];
	struct kvfs_stat st;
	const char *d = pick_dir(), *l = NULL;
	uint64_t dir;
	bool created;
	int err;

	if (nents >= MAXE - 4 || nobjs >= MAXO - 4)
		return;
	snprintf(leaf, sizeof(leaf), "f%d", r->step);
	join(np, d, leaf);
	dir = split(r->mp, np, &l);
	err = kvfs_create(r->mp, dir, l, 0100644, 0, KVFS_CREATE_EXCL, &cr, &st,
			  &created);
	expect(r, err, "create");
	add_ent(np, new_obj(O_FILE, st.ino, r->step));
	touch_parent(np, r->step);
}

static void op_mkdir(struct run *r)
{
	char np[PATHLEN], leaf[32];
	struct kvfs_stat st;
	const char *d = pick_dir(), *l = NULL;
	uint64_t dir;
	int err;

	if (nents >= MAXE - 4 || nobjs >= MAXO - 4)
		return;
	snprintf(leaf, sizeof(leaf), "d%d", r->step);
	join(np, d, leaf);
	dir = split(r->mp, np, &l);
	err = kvfs_mkdir(r->mp, dir, l, 040755, &cr, &st);
	expect(r, err, "mkdir");
	add_ent(np, new_obj(O_DIR, st.ino, r->step));
	touch_parent(np, r->step);
}

static void op_symlink(struct run *r)
{
	static char target[KVFS_SYMLINK_MAX + 1];
	char np[PATHLEN], leaf[32];
	struct kvfs_stat st;
	const char *d = pick_dir(), *l = NULL;
	uint64_t dir;
	size_t tl = rndn(2) ? 1 + rndn(60) : 200 + rndn(3800);
	int err, o;

	if (nents >= MAXE - 4 || nobjs >= MAXO - 4)
		return;
	for (size_t i = 0; i < tl; i++)
		target[i] = (char)('a' + (i * 7 + (size_t)r->step) % 26);
	target[tl] = '\0';
	snprintf(leaf, sizeof(leaf), "l%d", r->step);
	join(np, d, leaf);
	dir = split(r->mp, np, &l);
	err = kvfs_symlink(r->mp, dir, l, target, &cr, &st);
	expect(r, err, "symlink");
	o = new_obj(O_LINK, st.ino, r->step);
	objs[o].lhash = crash_fnv(target, tl);
	add_ent(np, o);
	touch_parent(np, r->step);
}

/* An open file with no name (a tmpfile, an unlinked file), or -1. */
static int pick_nameless(void)
{
	for (unsigned o = 0; o < nobjs; o++)
		if (objs[o].live && objs[o].open && !names_of((int)o))
			return (int)o;
	return -1;
}

static void op_link(struct run *r)
{
	char np[PATHLEN], leaf[32];
	struct kvfs_stat st;
	int i = pick_type(rndn(4) ? O_FILE : O_LINK), err, o;
	const char *d = pick_dir(), *l = NULL;
	uint64_t dir;

	/* now and then a nameless open file gets a name back */
	o = rndn(3) ? -1 : pick_nameless();
	if (o < 0 && i >= 0)
		o = ents[i].o;
	if (o < 0 || nents >= MAXE - 4)
		return;
	snprintf(leaf, sizeof(leaf), "h%d", r->step);
	join(np, d, leaf);
	dir = split(r->mp, np, &l);
	err = kvfs_link(r->mp, objs[o].ino, dir, l, &st);
	expect(r, err, "link");
	touch(o, r->step);
	touch_parent(np, r->step);
	add_ent(np, o);
}

/* O_TMPFILE: a file born open with no name (on the unlinked list) */
static void op_tmpfile(struct run *r)
{
	struct kvfs_stat st;
	unsigned nopen = 0;
	int err, o;

	for (o = 0; o < (int)nobjs; o++)
		nopen += objs[o].live && objs[o].open;
	if (nopen >= MAXOPEN || nobjs >= MAXO - 4)
		return;
	err = kvfs_tmpfile(r->mp, lookup_dir(r->mp, pick_dir()), 0100600, &cr,
			   &st);
	expect(r, err, "tmpfile");
	o = new_obj(O_FILE, st.ino, r->step);
	objs[o].open = true;
}

static void op_unlink(struct run *r)
{
	int i = pick_type(rndn(4) ? O_FILE : O_LINK), err;
	const char *l = NULL;
	uint64_t dir;

	if (i < 0)
		return;
	dir = split(r->mp, ents[i].path, &l);
	err = kvfs_unlink(r->mp, dir, l);
	expect(r, err, "unlink");
	touch(ents[i].o, r->step);
	touch_parent(ents[i].path, r->step);
	del_ent((unsigned)i);
}

static void op_rmdir(struct run *r)
{
	int i = pick_type(O_DIR), err;
	const char *l = NULL;
	uint64_t dir;

	if (i < 0 || !dir_empty(ents[i].path))
		return;
	dir = split(r->mp, ents[i].path, &l);
	err = kvfs_rmdir(r->mp, dir, l);
	expect(r, err, "rmdir");
	touch_parent(ents[i].path, r->step);
	del_ent((unsigned)i);
}

/* the names under from/ move under to/ */
static void move_subtree(const char *from, const char *to)
{
	size_t n = strlen(from);

	for (unsigned i = 0; i < nents; i++) {
		char np[PATHLEN];

		if (!is_under(ents[i].path, from))
			continue;
		CHECK(snprintf(np, sizeof(np), "%s%s", to, ents[i].path + n) <
		      (int)sizeof(np));
		memcpy(ents[i].path, np, sizeof(np));
	}
}

static void op_rename(struct run *r)
{
	char np[PATHLEN], old[PATHLEN], tmp[PATHLEN], leaf[32];
	const char *d, *l1 = NULL, *l2 = NULL;
	unsigned flags = 0;
	int i, j = -1, err;
	uint64_t d1, d2;
	bool isdir;

	i = pick_type(rndn(3) == 0 ? O_DIR : rndn(5) ? O_FILE : O_LINK);
	if (i < 0)
		return;
	isdir = objs[ents[i].o].type == O_DIR;
	snprintf(old, sizeof(old), "%s", ents[i].path);
	switch (rndn(4)) {
	case 0: /* over another of its kind, or exchanged with it */
	case 1:
		j = pick_type(objs[ents[i].o].type);
		if (j < 0 || j == i || ents[j].o == ents[i].o) {
			j = -1;
			break;
		}
		if (isdir && (is_under(ents[j].path, old) ||
			      is_under(old, ents[j].path)))
			j = -1; /* one inside the other */
		else if (rndn(2))
			flags = KVFS_RENAME_EXCHANGE;
		else if (isdir && !dir_empty(ents[j].path))
			j = -1;
		break;
	default:
		break;
	}
	if (j >= 0) {
		snprintf(np, sizeof(np), "%s", ents[j].path);
	} else {
		d = pick_dir();
		if (isdir && (!strcmp(d, old) || is_under(d, old)))
			return; /* not into itself */
		if (isdir && depth(d) > 2)
			return;
		snprintf(leaf, sizeof(leaf), "r%d", r->step);
		join(np, d, leaf);
		flags = rndn(2) ? KVFS_RENAME_NOREPLACE : 0;
	}
	d1 = split(r->mp, old, &l1);
	d2 = split(r->mp, np, &l2);
	err = kvfs_rename(r->mp, d1, l1, d2, l2, flags, &cr);
	expect(r, err, "rename");
	touch_parent(old, r->step);
	touch_parent(np, r->step);
	touch(ents[i].o, r->step);
	if (j >= 0)
		touch(ents[j].o, r->step);
	if (flags & KVFS_RENAME_EXCHANGE) {
		int o = ents[i].o;

		ents[i].o = ents[j].o;
		ents[j].o = o;
		if (isdir) {
			/* the subtrees swap too */
			CHECK(snprintf(tmp, sizeof(tmp), "%s.x", np) <
			      (int)sizeof(tmp));
			move_subtree(old, tmp);
			move_subtree(np, old);
			move_subtree(tmp, np);
		}
		return;
	}
	if (j >= 0) {
		int o = ents[i].o;

		del_ent((unsigned)j);
		i = find_ent(old);
		CHECK(i >= 0 && ents[i].o == o);
	}
	snprintf(ents[i].path, PATHLEN, "%s", np);
	if (isdir)
		move_subtree(old, np);
}

static void op_xattr(struct run *r, int o)
{
	static uint8_t v[4000];
	struct obj *ob = &objs[o];
	unsigned x = rndn(NXATTR);
	int err, len;

	if (ob->x[x].len >= 0 && rndn(4) == 0) {
		err = kvfs_removexattr(r->mp, ob->ino, xname[x]);
		expect(r, err, "removexattr");
		ob->x[x].len = -1;
	} else {
		len = x ? 300 + (int)rndn(3500) : 1 + (int)rndn(60);
		ob->gen++;
		for (int b = 0; b < len; b++)
			v[b] = pat((unsigned)o, ob->gen, (uint32_t)b);
		err = kvfs_setxattr(r->mp, ob->ino, xname[x], v, (size_t)len,
				    0);
		expect(r, err, "setxattr");
		ob->x[x] = (struct xval){ len, ob->gen };
	}
	ob->xdirty = true;
	ob->meta = r->step;
}

static void op_open_unlink(struct run *r)
{
	unsigned nopen = 0;
	int i, o, err;

	for (o = 0; o < (int)nobjs; o++)
		nopen += objs[o].live && objs[o].open;
	if (nopen >= MAXOPEN || rndn(2)) {
		/* close one */
		for (o = 0; o < (int)nobjs; o++)
			if (objs[o].live && objs[o].open)
				break;
		if (o == (int)nobjs)
			return;
		kvfs_inode_close(r->mp, objs[o].ino);
		objs[o].open = false;
		if (!names_of(o))
			obj_dead(&objs[o]);
		return;
	}
	i = pick_type(O_FILE);
	if (i < 0)
		return;
	o = ents[i].o;
	if (objs[o].open)
		return;
	err = kvfs_inode_open(r->mp, objs[o].ino, 0);
	expect(r, err, "open");
	objs[o].open = true;
	/* every name goes now and then: an orphan, still written */
	while (rndn(2) && (i = find_obj_name(o)) >= 0) {
		const char *l = NULL;
		uint64_t dir;

		dir = split(r->mp, ents[i].path, &l);
		err = kvfs_unlink(r->mp, dir, l);
		expect(r, err, "unlink of an open file");
		touch(o, r->step);
		touch_parent(ents[i].path, r->step);
		del_ent((unsigned)i);
	}
}

static void verify_file(struct run *r, int o)
{
	static uint8_t buf[MAXSIZE + 1];
	struct obj *ob = &objs[o];
	ssize_t n;

	if (crashed(r))
		return;
	n = kvfs_read(r->mp, ob->ino, buf, sizeof(buf), 0);
	if (crashed(r))
		return;
	if (n != (ssize_t)ob->size ||
	    memcmp(buf, ob->cur ? ob->cur : zeros, ob->size)) {
		fprintf(stderr,
			"step %d: file %d (ino %" PRIu64 ") reads %zd bytes, "
			"%u expected, or other bytes\n",
			r->step, o, ob->ino, n, ob->size);
		exit(1);
	}
}

static void bulk_step(struct run *r)
{
	char np[PATHLEN], leaf[32];
	const char *l = NULL;
	struct kvfs_stat st;
	uint64_t dir;
	bool created;
	int err;

	bulk.left--;
	if (bulk.unlink) {
		for (unsigned i = 0; i < nents; i++) {
			if (objs[ents[i].o].type != O_FILE ||
			    parent_obj(ents[i].path) !=
				    (*bulk.dir ? ents[find_ent(bulk.dir)].o :
						 -1))
				continue;
			dir = split(r->mp, ents[i].path, &l);
			err = kvfs_unlink(r->mp, dir, l);
			expect(r, err, "unlink (bulk)");
			touch(ents[i].o, r->step);
			touch_parent(ents[i].path, r->step);
			del_ent(i);
			return;
		}
		bulk.left = 0;
		return;
	}
	if (nents >= MAXE - 4 || nobjs >= MAXO - 4) {
		bulk.left = 0;
		return;
	}
	snprintf(leaf, sizeof(leaf), "b%d-%u", r->step, bulk.left);
	join(np, bulk.dir, leaf);
	dir = split(r->mp, np, &l);
	err = kvfs_create(r->mp, dir, l, 0100644, 0, KVFS_CREATE_EXCL, &cr, &st,
			  &created);
	expect(r, err, "create (bulk)");
	add_ent(np, new_obj(O_FILE, st.ino, r->step));
	touch_parent(np, r->step);
}

static void step(struct run *r)
{
	unsigned kind = rndn(100);
	int o;

	r->n.ops++;
	if (bulk.left) {
		bulk_step(r);
		return;
	}
	if (rndn(60) == 0) {
		snprintf(bulk.dir, sizeof(bulk.dir), "%s", pick_dir());
		bulk.unlink = rndn(3) == 0;
		bulk.left = 20 + rndn(bulk.unlink ? 200 : 150);
		bulk_step(r);
		return;
	}
	if (kind < 8) {
		op_create(r);
	} else if (kind < 11) {
		op_mkdir(r);
	} else if (kind < 14) {
		op_symlink(r);
	} else if (kind < 18) {
		op_link(r);
	} else if (kind < 23) {
		op_unlink(r);
	} else if (kind < 25) {
		op_rmdir(r);
	} else if (kind < 33) {
		op_rename(r);
	} else if (kind < 35) {
		op_open_unlink(r);
	} else if (kind < 36) {
		op_tmpfile(r);
	} else if (kind < 85) {
		o = pick_file();
		if (o < 0) {
			op_create(r);
			return;
		}
		kind = rndn(100);
		if (kind < 45)
			op_write(r, o);
		else if (kind < 55)
			op_trunc(r, o);
		else if (kind < 65)
			op_falloc(r, o);
		else if (kind < 78)
			op_fsync(r, o, false);
		else if (kind < 85)
			op_fsync(r, o, true);
		else if (kind < 93)
			op_xattr(r, o);
		else
			verify_file(r, o);
	} else if (kind < 90) {
		/* fsync of a directory or a symlink: its metadata */
		int i = pick_type(O_DIR);

		if (i >= 0 && rndn(3))
			op_fsync(r, ents[i].o, false);
		else
			op_fsync_dir(r);
	} else if (kind < 92) {
		op_sync(r);
	} else if (kind < 95) {
		/*
		 * what memory pressure does (the shrinkers): the AIL writes
		 * the logged metadata back in place while the work goes on
		 */
		kvj_log_push_ail(r->mp->log);
	} else {
		int i = pick_type(O_LINK);

		if (i >= 0 && rndn(4) == 0)
			op_fsync(r, ents[i].o, false);
		else if ((o = pick_file()) >= 0)
			op_write(r, o);
	}
}

/* ---- the checks after the cut ---- */

static bool size_ok(const struct obj *ob, uint64_t size)
{
	if (size == ob->snap_size)
		return true;
	for (unsigned i = 0; i < ob->nsz; i++)
		if (size >= ob->sz[i][0] && size <= ob->sz[i][1])
			return true;
	return false;
}

static bool byte_ok(const struct obj *ob, unsigned o, uint32_t off, uint8_t b)
{
	if (!b || (ob->snap && b == ob->snap[off]))
		return true;
	for (unsigned i = ob->nw; i-- > 0;) {
		const struct wrec *w = &ob->w[i];

		if (w->gen && off >= w->off && off - w->off < w->len &&
		    b == pat(o, w->gen, off))
			return true;
	}
	return false;
}

static int failed_point;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	failed_point = 1;
}

static void check_xattrs(struct kvfs_mount *mp, unsigned o, const char *p)
{
	static uint8_t v[4096];
	const struct obj *ob = &objs[o];

	if (ob->xdirty)
		return;
	for (int x = 0; x < NXATTR; x++) {
		ssize_t n = kvfs_getxattr(mp, ob->ino, xname[x], v, sizeof(v));
		bool ok = ob->xsnap[x].len < 0 ? n == -ENODATA :
						 n == ob->xsnap[x].len;

		for (ssize_t b = 0; ok && b < n; b++)
			ok = v[b] == pat(o, ob->xsnap[x].gen, (uint32_t)b);
		if (!ok)
			fail("%s: xattr %s: %zd bytes or other bytes, %d "
			     "made durable\n",
			     p, xname[x], n, ob->xsnap[x].len);
	}
}

static void check_file(struct kvfs_mount *mp, unsigned o, const char *p)
{
	static uint8_t buf[MAXSIZE + 1];
	const struct obj *ob = &objs[o];
	const uint8_t *snap = ob->snap ? ob->snap : zeros;
	struct kvfs_stat st;
	ssize_t n;

	CHECK_EQ(kvfs_getattr(mp, ob->ino, &st), 0);
	n = kvfs_read(mp, ob->ino, buf, sizeof(buf), 0);
	if (n < 0 || (uint64_t)n != st.size) {
		fail("%s: read %zd of size %" PRIu64 "\n", p, n, st.size);
		return;
	}
	if (!ob->dirty) {
		if (st.size != ob->snap_size ||
		    memcmp(buf, snap, ob->snap_size)) {
			size_t b = 0;

			while (b < ob->snap_size && b < st.size &&
			       buf[b] == snap[b])
				b++;
			fail("%s (ino %" PRIu64 ", made durable): size %" PRIu64
			     ", %u made durable; first bad byte %zu\n",
			     p, ob->ino, st.size, ob->snap_size, b);
		}
	} else if (!size_ok(ob, st.size)) {
		fail("%s (ino %" PRIu64 "): size %" PRIu64 " it never had "
		     "since its durable %u\n",
		     p, ob->ino, st.size, ob->snap_size);
	}
	for (ssize_t b = 0; ob->dirty && b < n; b++) {
		if (byte_ok(ob, o, (uint32_t)b, buf[b]))
			continue;
		fail("%s (ino %" PRIu64 "): byte %zd is %#x: neither 0, its "
		     "durable %#x nor a write's since (%s)\n",
		     p, ob->ino, b, buf[b], snap[b],
		     buf[b] == GARBAGE ? "the image's garbage" : "stale data");
		break;
	}
	check_xattrs(mp, o, p);
}

/* The objects of tree t, by inode number (the newest made by step j). */
static int obj_at(uint64_t ino, int j)
{
	int best = -1;

	for (unsigned o = 0; o < nobjs; o++)
		if (objs[o].ino == ino && objs[o].created <= j &&
		    (best < 0 || objs[o].created > objs[best].created))
			best = (int)o;
	return best;
}

static void dry_fsck(const char *what)
{
	int err;
	unsigned found = crash_fsck_dry(path, what, &err);

	if (err || found)
		fail("fsck -n %s: %d, %u problems\n", what, err, found);
}

static struct {
	unsigned points, by_mode[NMODES], crashed, recovered, exact, weak;
	unsigned recrashed; /* cut again in the replay or its close */
	uint64_t writes;
} seen;

/* Cut again inside the next mount (tests/crash/harness.h), then check. */
static void cut_in_replay(uint64_t cutseed)
{
	uint64_t cut_at;
	bool recrashed;
	int err = crash_cut_in_replay(path, cutseed, &cut_at, &recrashed);

	if (err)
		fail("the mount cut at write %" PRIu64 ": %d: %s\n", cut_at,
		     err, kvfs_mount_error());
	seen.recrashed += recrashed;
	dry_fsck("after a cut in the replay");
}

static struct kvfs_mount *open_fs(unsigned commit_ms, size_t cache_bytes,
				  struct kvfs_open_info *info)
{
	struct kvfs_open_opts oo = { .atime = KVFS_ATIME_NOATIME,
				     .commit_ms = commit_ms,
				     .cache_bytes = cache_bytes };
	struct kvfs_mount *mp;
	int err = kvfs_open(path, &oo, &mp, info);

	if (err) {
		fail("kvfs_open: %d: %s\n", err, kvfs_open_error());
		return NULL;
	}
	return mp;
}

/*
 * One run of seed's workload: m < 0 without a fault (returns the writes),
 * else cut at write n.  0 or 1 (a check failed: the image is kept).
 */
static uint64_t run(uint64_t seed, int m, uint64_t n, uint64_t cutseed)
{
	struct run r = { .fault = m >= 0 };
	struct kvfs_open_info info;
	/* some seeds push the log often, some have a small buffer cache */
	unsigned commit_ms = seed % 3 == 0 ? 3 : 0;
	size_t cache_bytes = seed % 4 == 1 ? 256u << 10 : 0;
	uint64_t w0, writes;
	char *now;
	int last, j;

	crash_copy_image(tmpl, path);
	model_reset(seed);
	root_meta = 0;
	failed_point = 0;
	r.mp = open_fs(commit_ms, cache_bytes, &info);
	CHECK(r.mp);
	w0 = kv_dev_nr_writes(r.mp->dev);
	record_tree(0);
	if (m >= 0)
		crash_arm(r.mp, (enum crash_mode)m, n, cutseed);
	for (r.step = 1; r.step <= (int)nsteps; r.step++) {
		step(&r);
		record_tree(r.step);
		if (crashed(&r))
			break;
	}
	last = r.step > (int)nsteps ? (int)nsteps : r.step;
	writes = kv_dev_nr_writes(r.mp->dev) - w0;
	if (m < 0) {
		now = fs_tree(r.mp);
		if (strcmp(now, trees[tree_at[last]])) {
			fail("seed %" PRIu64 ": the tree is not the model's "
			     "at the end:\n%s\nmodel:\n%s",
			     seed, now, trees[tree_at[last]]);
			exit(1);
		}
		free(now);
		for (unsigned o = 0; o < nobjs; o++)
			if (objs[o].live && objs[o].type == O_FILE)
				verify_file(&r, (int)o);
		r.step = last;
		op_sync(&r);
		if (verbose) {
			struct kvfs_stats ks;

			CHECK_EQ(kvfs_stats(r.mp, &ks, NULL, 0), 0);
			printf("seed %" PRIu64 ": %" PRIu64
			       " writes, log %" PRIu64 " of %" PRIu64
			       " bytes written, %" PRIu64
			       " checkpoints, %" PRIu64 " items pushed\n",
			       seed, writes, ks.log_bytes_written, ks.log_bytes,
			       ks.log_checkpoints, ks.ail_pushed);
		}
	} else {
		seen.crashed += crash_crashed(r.mp);
		crash_power_cut(r.mp);
	}
	for (unsigned o = 0; o < nobjs; o++)
		if (objs[o].live && objs[o].open)
			kvfs_inode_close(r.mp, objs[o].ino);
	if (m < 0)
		CHECK_EQ(kvfs_close(r.mp), 0);
	else
		kvfs_close(r.mp);

	dry_fsck("after the cut");
	if (m >= 0 && (cutseed >> 20) % 3 == 0)
		cut_in_replay(cutseed);
	r.mp = open_fs(0, 0, &info);
	if (!r.mp)
		return 1;
	seen.recovered += info.recovered;
	now = fs_tree(r.mp);
	for (j = last; j >= r.k; j--)
		if (!strcmp(now, trees[tree_at[j]]))
			break;
	if (j < r.k) {
		fail("the tree is no state from step %d (last made durable) "
		     "to %d:\n%s--- step %d was:\n%s",
		     r.k, last, now, r.k, trees[tree_at[r.k]]);
	} else {
		/* each file reached, by the name it has in tree j */
		char *s = now, *nl;

		for (; *s; s = nl + 1) {
			char p[PATHLEN], t;
			uint64_t ino, h;
			int o;

			nl = strchr(s, '\n');
			CHECK(nl);
			CHECK_EQ(sscanf(s, "%159s %c %" SCNu64 " %" SCNx64, p,
					&t, &ino, &h),
				 4);
			if (t != 'F')
				continue;
			o = obj_at(ino, j);
			CHECK(o >= 0);
			check_file(r.mp, (unsigned)o, p);
			if (objs[o].dirty)
				seen.weak++;
			else
				seen.exact++;
		}
	}
	if (verbose)
		printf("  durable step %d, last %d, recovered at %d\n", r.k,
		       last, j);
	free(now);
	if (ns_walk(r.mp, 0) < 0)
		fail("the namespace walk failed\n");
	CHECK_EQ(kvfs_close(r.mp), 0);
	dry_fsck("after the replay");
	scrub_image_clean(path);
	r.mp = open_fs(0, 0, &info);
	CHECK(r.mp);
	CHECK(!info.recovered);
	CHECK_EQ(info.orphans, 0);
	CHECK_EQ(kvfs_close(r.mp), 0);
	return m < 0 ? writes : (uint64_t)failed_point;
}

static void make_template(void)
{
	struct kvfs_mkfs_opts o = {
		.target = tmpl, .size = IMG_SIZE, .agcount = 2, .force = true
	};
	static uint8_t junk[1 << 20];
	struct kvfs_geom g;
	int fd;

	memset(junk, GARBAGE, sizeof(junk));
	fd = open(tmpl, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	for (unsigned i = 0; i < IMG_SIZE / sizeof(junk); i++)
		CHECK_EQ(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	CHECK_EQ(close(fd), 0);
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	scrub_image_clean(tmpl);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seeds", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "points", required_argument, NULL, 'p' },
		{ "steps", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "at", required_argument, NULL, 'a' },
		{ "cutseed", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned seeds = 1, points = 4, timeout = 120, fails = 0;
	uint64_t seed0 = 1, at = 0, cutseed = 0;
	int only = -1, c;

	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			seeds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 's':
			seed0 = strtoull(optarg, NULL, 0);
			break;
		case 'p':
			points = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 't':
			nsteps = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'T':
			timeout = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'm':
			only = crash_mode_parse(optarg);
			if (only < 0) {
				fprintf(stderr, "unknown mode %s\n", optarg);
				return 2;
			}
			break;
		case 'a':
			at = strtoull(optarg, NULL, 0);
			break;
		case 'c':
			cutseed = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [--seeds N] [--seed S] [--points P] "
				"[--steps T] [--mode M] [--timeout SECONDS] "
				"[--at WRITE --cutseed X] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK_EQ(kv_init(NULL), 0);
	tree_at = calloc(nsteps + 1, sizeof(*tree_at));
	CHECK(tree_at);
	crash_paths("crashcamp", path, tmpl);
	make_template();
	for (uint64_t seed = seed0; seed < seed0 + seeds; seed++) {
		uint64_t total, x = seed;

		/* per seed: a hang fails the campaign */
		crash_alarm(timeout, "crashcamp: timed out\n");
		total = run(seed, -1, 0, 0);

		CHECK(!failed_point);
		CHECK(total > 20);
		seen.writes += total;
		for (unsigned p = 1; p <= points; p++) {
			uint64_t n;
			int m;

			x = crash_rnd(&x) ^ p;
			n = 1 + x % (total + total / 16);
			if (at) {
				/* one point given: a failure's reproducer */
				n = at;
				x = cutseed;
			}
			m = only >= 0	      ? only :
			    (x >> 40) % 8 < 5 ? M_SECTORS :
						(int)((x >> 40) % 3);
			if (verbose)
				printf("seed %" PRIu64 " point %u: %s at "
				       "write %" PRIu64 "/%" PRIu64 "\n",
				       seed, p, crash_mode_name[m], n, total);
			seen.points++;
			seen.by_mode[m]++;
			if (!run(seed, m, n, x))
				continue;
			fprintf(stderr,
				"FAIL: --seed %" PRIu64 " point %u: %s at "
				"write %" PRIu64 " (cut seed %" PRIu64 ")\n",
				seed, p, crash_mode_name[m], n, x);
			fails++;
			break;
		}
	}
	model_reset(0);
	free(trees);
	free(tree_at);
	if (!fails)
		unlink(path);
	unlink(tmpl);
	CHECK_EQ(kv_fini(), 0);
	printf("crashcamp: %u seeds from %" PRIu64 ", %u points (crash %u, "
	       "volatile %u, tear %u, sectors %u), %" PRIu64 " writes per "
	       "run on average: %u crashed, %u recovered, %u cut again "
	       "in the next mount; files checked exactly %u, as changed since "
	       "%u; %u failed\n",
	       seeds, seed0, seen.points, seen.by_mode[M_CRASH],
	       seen.by_mode[M_VOLATILE], seen.by_mode[M_TEAR],
	       seen.by_mode[M_SECTORS], seeds ? seen.writes / seeds : 0,
	       seen.crashed, seen.recovered, seen.recrashed, seen.exact,
	       seen.weak, fails);
	return fails ? 1 : 0;
}
