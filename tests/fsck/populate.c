// SPDX-License-Identifier: GPL-2.0
/*
 * populate: the populated image of the fsck corruption catalogue, built on
 * the core API (fs/kvfs.h), and its reader.
 *
 *   populate build IMG       files of several sizes (one mapped by an
 *                            extent B+tree), a directory of 5000 entries,
 *                            short and long symlinks, short-form and block
 *                            xattrs (one with a remote value), hard links,
 *                            nested directories
 *   populate orphan IMG      an unlinked file left open, then a simulated
 *                            crash (the log is shut down): it stays on
 *                            the unlinked list, the log dirty
 *   populate orphan-wb IMG   the same with /frag the orphan, all written
 *                            back in place but one more file's creation:
 *                            damage to the orphan's blocks on disk is
 *                            what the replaying mount meets
 *   populate xattr-tree IMG  /xattr-tree added: 64 xattrs of remote
 *                            values, each made between two appends to
 *                            /xattr-filler, so that its attribute fork's
 *                            extents outgrow the inode: an extent B+tree
 *   populate bench IMG FILES ENTRIES NFRAG FRAGSIZE
 *                            tools/fsck-bench's tree on the core API
 *                            (not the mount, which is far slower):
 *                            files/dNNNN/fNNN, FILES files of 4 KiB,
 *                            1000 to a directory; big/eNNNNNNN, ENTRIES
 *                            empty files in one directory; frag/fragN,
 *                            NFRAG files of FRAGSIZE bytes written in
 *                            interleaved 64 KiB pieces, each fdatasync'd
 *   populate dump IMG OUT    every reachable file through a read-only
 *                            open: regular files' bytes to OUT/tree/PATH,
 *                            symlinks as symlinks, xattr values to
 *                            OUT/xattr/INO/NAME, one line per path in
 *                            OUT/manifest ("ino type nlink size path")
 *                            and in OUT/sums ("./PATH hash" of a file's
 *                            contents as walk's, "./PATH TARGET" of a
 *                            symlink, "xattr/INO/NAME hash" of a value)
 *   populate dump-sums IMG OUT
 *                            the same, only OUT/manifest and OUT/sums
 *   populate walk IMG [rw|write]
 *                            the corruption campaign's walk (campaign.sh):
 *                            every object reachable from the root, read
 *                            through a read-only open (rw: a read-write
 *                            one; write: then changes, scribble()), past
 *                            errors.  One line per object on
 *                            stdout: "A PATH ino mode nlink size",
 *                            "F PATH hash" (a file's bytes), "L PATH
 *                            hash" (a symlink's target), "R PATH n" (a
 *                            directory's entries), "X PATH NAME hash" (an
 *                            xattr's value), or "E PATH WHAT ERRNO" for
 *                            a call that failed.  Each entry readdir
 *                            gives is also looked up by name: "N PATH
 *                            INO" when that finds another inode (INO)
 *                            or none (0), damage that looks valid when
 *                            a crc was recomputed (the campaign finds it
 *                            by comparing with the undamaged walk).
 *                            Exit 1 if a call failed with an errno
 *                            other than EIO or EUCLEAN (damage must be
 *                            reported as such) or the open failed
 *                            otherwise than with one of them or
 *                            EBADMSG, else 0.
 *
 * Exit 0 on success, 1 on any failure (with the errno), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/kvfs.h"
#include "fs/mount.h"

static const struct kvfs_cred root_cred;

#define TRY(call)                                                              \
	do {                                                                   \
		long long r_ = (long long)(call);                              \
		if (r_ < 0) {                                                  \
			fprintf(stderr, "populate: %s:%d: %s: %s\n", __FILE__, \
				__LINE__, #call, strerror((int)-r_));          \
			return (int)r_;                                        \
		}                                                              \
	} while (0)

/* A byte pattern that differs per file and per offset. */
static void fill(uint8_t *buf, size_t len, uint64_t seed, uint64_t off)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((off + i) * 131 + seed * 7 +
				   ((off + i) >> 9));
}

static int mkfile(struct kvfs_mount *mp, uint64_t dir, const char *name,
		  size_t size, uint64_t *ino)
{
	struct kvfs_stat st;
	static uint8_t buf[1 << 16];
	bool created;

	TRY(kvfs_create(mp, dir, name, S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			&root_cred, &st, &created));
	for (size_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		fill(buf, n, st.ino, off);
		TRY(kvfs_write(mp, st.ino, buf, n, (off_t)off, 0));
		off += n;
	}
	TRY(kvfs_release(mp, st.ino));
	if (ino)
		*ino = st.ino;
	return 0;
}

static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	(void)priv;
	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "populate: kvfs: %s\n", line);
}

static int build_tree(struct kvfs_mount *mp);

static int build(const char *img)
{
	struct kvfs_mount *mp;
	int err;

	TRY(kvfs_open(img, NULL, &mp, NULL));
	err = build_tree(mp);
	if (err)
		kvfs_mount_shutdown(mp, "populate failed");
	if (kvfs_close(mp) && !err)
		err = -EIO;
	return err;
}

static int build_tree(struct kvfs_mount *mp)
{
	static const size_t sizes[] = { 0, 1, 100, 4095, 4096, 65537, 1 << 20 };
	struct kvfs_stat st;
	uint64_t root, big, sub, ino, frag, deep;
	static uint8_t blk[4096], val[10000];
	char name[64];

	root = kvfs_root_ino(mp);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "file%zu", sizes[i]);
		TRY(mkfile(mp, root, name, sizes[i], NULL));
	}
	/*
	 * xattrs: a few small ones (short form), many (leaf blocks), remote;
	 * before /frag, whose holes (freed when its speculative blocks are
	 * trimmed, busy until a push that may or may not have come) would
	 * otherwise take the leaf blocks one by one: an attribute fork of
	 * extents every time, not a B+tree some of the time
	 */
	TRY(mkfile(mp, root, "xattr-small", 10, &ino));
	TRY(kvfs_setxattr(mp, ino, "user.a", "1", 1, 0));
	TRY(kvfs_setxattr(mp, ino, "user.mime", "text/plain", 10, 0));
	TRY(mkfile(mp, root, "xattr-block", 10, &ino));
	for (unsigned i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "user.attr-%03u", i);
		fill(val, 100, ino + i, 0);
		TRY(kvfs_setxattr(mp, ino, name, val, 100, 0));
	}
	fill(val, sizeof(val), ino, 1);
	TRY(kvfs_setxattr(mp, ino, "user.remote", val, sizeof(val), 0));
	/* every other block written: more extents than the inode holds */
	TRY(mkfile(mp, root, "frag", 0, &frag));
	for (unsigned i = 0; i < 600; i++) {
		fill(blk, sizeof(blk), frag, i);
		TRY(kvfs_write(mp, frag, blk, sizeof(blk), (off_t)i * 8192, 0));
	}
	TRY(kvfs_mkdir(mp, root, "big", 0755, &root_cred, &st));
	big = st.ino;
	for (unsigned i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "entry-%05u", i);
		TRY(mkfile(mp, big, name, 0, NULL));
	}
	TRY(kvfs_mkdir(mp, root, "sub", 0755, &root_cred, &st));
	sub = st.ino;
	TRY(kvfs_mkdir(mp, sub, "d2", 0700, &root_cred, &st));
	TRY(kvfs_mkdir(mp, st.ino, "d3", 0755, &root_cred, &st));
	deep = st.ino;
	TRY(mkfile(mp, deep, "deepfile", 12345, NULL));
	/* hard links: one file under three names in two directories */
	TRY(mkfile(mp, root, "linked", 5000, &ino));
	TRY(kvfs_link(mp, ino, sub, "linked2", NULL));
	TRY(kvfs_link(mp, ino, deep, "linked3", NULL));
	TRY(kvfs_symlink(mp, root, "short-link", "file4096", &root_cred, NULL));
	{
		char target[3001];

		for (size_t i = 0; i < sizeof(target) - 1; i++)
			target[i] = (char)('a' + i % 26);
		target[sizeof(target) - 1] = 0;
		TRY(kvfs_symlink(mp, sub, "long-link", target, &root_cred,
				 NULL));
	}
	TRY(kvfs_mkdir(mp, root, "xattr-dir", 0755, &root_cred, &st));
	TRY(kvfs_setxattr(mp, st.ino, "trusted.dirattr", "dir", 3, 0));
	return 0;
}

/* populate xattr-tree: see the top of the file. */
static int xattr_tree(const char *img)
{
	static uint8_t blk[4096], val[5000];
	uint64_t root, ino, filler;
	struct kvfs_mount *mp;
	char name[64];
	int err = 0;

	TRY(kvfs_open(img, NULL, &mp, NULL));
	root = kvfs_root_ino(mp);
	TRY(mkfile(mp, root, "xattr-filler", 0, &filler));
	TRY(mkfile(mp, root, "xattr-tree", 10, &ino));
	for (unsigned i = 0; i < 64 && !err; i++) {
		snprintf(name, sizeof(name), "user.big-%02u", i);
		fill(val, sizeof(val), ino + i, 2);
		err = kvfs_setxattr(mp, ino, name, val, sizeof(val), 0);
		fill(blk, sizeof(blk), filler, i);
		if (!err)
			err = (int)kvfs_write(mp, filler, blk, sizeof(blk),
					      (off_t)i * sizeof(blk), 0);
		if (err > 0)
			err = 0;
	}
	if (err) {
		fprintf(stderr, "populate: xattr-tree: %s\n", strerror(-err));
		kvfs_mount_shutdown(mp, "populate failed");
	}
	if (kvfs_close(mp) && !err)
		err = -EIO;
	return err;
}

/*
 * An open file unlinked, then a power cut: nothing more reaches the disk,
 * so the last close cannot free the inode and it stays on its unlinked
 * list.  written_back: the orphan is /frag (an extent B+tree), everything
 * is written back in place, and one more file's creation is left in the
 * log, so that the next mount replays something and then meets the
 * orphan as it is on disk.
 */
static int orphan(const char *img, bool written_back)
{
	/*
	 * No journal threads: the log is written by the forces below alone,
	 * so what it holds at the cut does not depend on whether an idle
	 * push (the AIL's write-back, then a tail record) came first on a
	 * slow machine, which left the log empty some of the time.
	 */
	const struct kvfs_mount_opts mo = { .no_log_threads = true };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t ino, after;

	TRY(kvfs_mount_open(img, &mo, &mp));
	if (written_back) {
		TRY(kvfs_lookup(mp, kvfs_root_ino(mp), "frag", &st));
		ino = st.ino;
	} else {
		TRY(mkfile(mp, kvfs_root_ino(mp), "orphan", 20000, &ino));
	}
	TRY(kvfs_inode_open(mp, ino, 0));
	TRY(kvfs_unlink(mp, kvfs_root_ino(mp),
			written_back ? "frag" : "orphan"));
	TRY(kvfs_sync(mp));
	if (written_back) {
		TRY(kvj_log_drain(mp->log));
		TRY(mkfile(mp, kvfs_root_ino(mp), "after", 4096, &after));
		TRY(kvfs_sync(mp));
	}
	kvfs_mount_shutdown(mp, "populate: simulated crash");
	kvfs_inode_close(mp, ino);
	kvfs_close(mp);
	return 0;
}

/* FNV-1a: the hashes of dump's sums and of walk's lines */
static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

struct dump {
	struct kvfs_mount *mp;
	FILE *manifest;
	FILE *sums;
	bool files; /* the bytes to OUT/tree and OUT/xattr, not only sums */
	char out[1024];
	int err;
};

struct dent {
	char name[256];
	uint64_t ino;
	unsigned dtype;
};

struct dlist {
	struct dent *v;
	size_t n, cap;
};

static int collect(void *priv, const char *name, size_t len, uint64_t ino,
		   unsigned dtype, uint64_t next)
{
	struct dlist *l = priv;

	(void)next;
	if ((len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct dent *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	memcpy(l->v[l->n].name, name, len);
	l->v[l->n].name[len] = 0;
	l->v[l->n].ino = ino;
	l->v[l->n++].dtype = dtype;
	return 0;
}

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

static int dump_xattrs(struct dump *d, uint64_t ino)
{
	static char list[65536], path[1400];
	static uint8_t val[65536];
	ssize_t len = kvfs_listxattr(d->mp, ino, list, sizeof(list));

	TRY(len);
	for (ssize_t p = 0; p < len; p += (ssize_t)strlen(list + p) + 1) {
		ssize_t n =
			kvfs_getxattr(d->mp, ino, list + p, val, sizeof(val));
		FILE *f;

		TRY(n);
		fprintf(d->sums, "xattr/%" PRIu64 "/%s %016" PRIx64 "\n", ino,
			list + p, fnv(0xcbf29ce484222325ull, val, (size_t)n));
		if (!d->files)
			continue;
		snprintf(path, sizeof(path), "%s/xattr/%" PRIu64, d->out, ino);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/xattr/%" PRIu64 "/%s", d->out,
			 ino, list + p);
		f = fopen(path, "w");
		if (!f || fwrite(val, 1, (size_t)n, f) != (size_t)n) {
			if (f)
				fclose(f);
			return -EIO;
		}
		if (fclose(f))
			return -EIO;
	}
	return 0;
}

/*
 * A file's bytes, for walk's "F" lines and dump's sums: its data segments
 * (SEEK_DATA/SEEK_HOLE: a size made huge by damage, a legal sparse file of
 * terabytes, is not read through), by aligned 64 KiB chunk, each non-zero
 * one hashed with its offset, so that *hash is the contents' whatever the
 * layout (a hole and a written zero chunk alike), and written to fd at its
 * offset when fd >= 0.  0, or the errno of the call *what names.
 */
static int hash_data(struct kvfs_mount *mp, uint64_t ino, int fd,
		     uint64_t *hash, const char **what)
{
	static uint8_t buf[1 << 16], zero[1 << 16];
	uint64_t h = 0xcbf29ce484222325ull;
	off_t off = 0, data, hole;
	ssize_t n = 0;
	int err;

	for (;;) {
		*what = "lseek";
		err = kvfs_lseek(mp, ino, off, SEEK_DATA, &data);
		if (!err)
			err = kvfs_lseek(mp, ino, data, SEEK_HOLE, &hole);
		if (err)
			break;
		for (off = data & ~(off_t)(sizeof(buf) - 1); off < hole;
		     off += n) {
			n = kvfs_read(mp, ino, buf, sizeof(buf), off);
			if (n <= 0)
				break;
			if (!memcmp(buf, zero, (size_t)n))
				continue;
			h = fnv(h, &off, sizeof(off));
			h = fnv(h, buf, (size_t)n);
			if (fd >= 0 && pwrite(fd, buf, (size_t)n, off) != n) {
				*what = "pwrite";
				return -EIO;
			}
		}
		if (n <= 0)
			break;
	}
	if (err && err != -ENXIO)
		return err;
	*what = "read";
	if (n < 0)
		return (int)n;
	*hash = h;
	return 0;
}

/*
 * A regular file to host (sparse: a repaired image may keep a size of
 * terabytes, which read whole would fill the host's tmpfs) when the dump
 * writes files; *hash is hash_data()'s with the size folded in.
 */
static int dump_file(struct dump *d, uint64_t ino, const char *host,
		     uint64_t *hash)
{
	struct kvfs_stat st = { 0 };
	const char *what;
	uint64_t h = 0;
	int fd = -1;
	int err;

	if (d->files) {
		fd = open(host, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return -errno;
	}
	err = kvfs_getattr(d->mp, ino, &st);
	if (!err)
		err = hash_data(d->mp, ino, fd, &h, &what);
	if (!err && fd >= 0 && ftruncate(fd, (off_t)st.size))
		err = -errno;
	if (fd >= 0)
		close(fd);
	*hash = fnv(h, &st.size, sizeof(st.size));
	return err;
}

static int dump_dir(struct dump *d, uint64_t dir, const char *rel)
{
	struct dlist l = { 0 };
	char host[3200], path[2048];
	static char target[KVFS_SYMLINK_MAX + 1];
	int err;

	err = kvfs_readdir(d->mp, dir, 0, collect, &l);
	if (!err && l.n)
		qsort(l.v, l.n, sizeof(*l.v), dent_cmp);
	for (size_t i = 0; i < l.n && !err; i++) {
		struct kvfs_stat st;

		snprintf(path, sizeof(path), "%s/%s", rel, l.v[i].name);
		snprintf(host, sizeof(host), "%s/tree%s", d->out, path);
		err = kvfs_getattr(d->mp, l.v[i].ino, &st);
		if (err)
			break;
		fprintf(d->manifest, "%" PRIu64 " %o %u %" PRIu64 " %s\n",
			st.ino, st.mode, st.nlink, st.size, path);
		err = dump_xattrs(d, st.ino);
		if (err)
			break;
		if (S_ISDIR(st.mode)) {
			if (d->files && mkdir(host, 0755))
				err = -errno;
			else
				err = dump_dir(d, st.ino, path);
		} else if (S_ISLNK(st.mode)) {
			err = kvfs_readlink(d->mp, st.ino, target,
					    sizeof(target));
			err = err < 0 ? err : 0;
			if (!err && d->files && symlink(target, host))
				err = -errno;
			if (!err)
				fprintf(d->sums, ".%s %s\n", path, target);
		} else if (S_ISREG(st.mode)) {
			uint64_t h = 0;

			err = dump_file(d, st.ino, host, &h);
			if (!err)
				fprintf(d->sums, ".%s %016" PRIx64 "\n", path,
					h);
		}
	}
	free(l.v);
	if (err)
		fprintf(stderr, "populate: dump %s: %s\n", rel[0] ? rel : "/",
			strerror(-err));
	return err;
}

static int dump(const char *img, const char *out, bool files)
{
	struct kvfs_open_opts o = { .rdonly = true,
				    .atime = KVFS_ATIME_NOATIME };
	struct dump d = { .files = files };
	char path[1100];
	int err;

	snprintf(d.out, sizeof(d.out), "%s", out);
	snprintf(path, sizeof(path), "%s/tree", out);
	if (mkdir(out, 0755) || (files && mkdir(path, 0755)))
		return -errno;
	snprintf(path, sizeof(path), "%s/xattr", out);
	if (files && mkdir(path, 0755))
		return -errno;
	snprintf(path, sizeof(path), "%s/manifest", out);
	d.manifest = fopen(path, "w");
	if (!d.manifest)
		return -errno;
	snprintf(path, sizeof(path), "%s/sums", out);
	d.sums = fopen(path, "w");
	if (!d.sums) {
		err = -errno;
		fclose(d.manifest);
		return err;
	}
	err = kvfs_open(img, &o, &d.mp, NULL);
	if (err) {
		fprintf(stderr, "populate: cannot open %s: %s\n", img,
			kvfs_open_error());
	} else {
		err = dump_xattrs(&d, kvfs_root_ino(d.mp));
		if (!err)
			err = dump_dir(&d, kvfs_root_ino(d.mp), "");
		kvfs_close(d.mp);
	}
	if (fclose(d.manifest) && !err)
		err = -EIO;
	if (fclose(d.sums) && !err)
		err = -EIO;
	return err;
}

/* ---- walk: every object past errors (the corruption campaign) ---- */

#define WALK_DIRS 20000

struct walk {
	struct kvfs_mount *mp;
	uint64_t dirs[WALK_DIRS]; /* visited: a damaged tree may loop */
	size_t ndirs;
	unsigned bad; /* errors other than EIO and EUCLEAN */
	bool writing; /* scribble(): ENOSPC allowed too */
};

/* A call on path failed with err: a line, and whether it is allowed. */
static void walk_err(struct walk *w, const char *path, const char *what,
		     long long err)
{
	printf("E %s %s %s\n", path, what, strerror((int)-err));
	if (err != -EIO && err != -EUCLEAN && !(w->writing && err == -ENOSPC)) {
		fprintf(stderr, "populate: walk %s: %s: %s\n", path, what,
			strerror((int)-err));
		w->bad++;
	}
}

static void walk_xattrs(struct walk *w, uint64_t ino, const char *path)
{
	static char list[65536];
	static uint8_t val[65536];
	ssize_t len = kvfs_listxattr(w->mp, ino, list, sizeof(list));

	if (len < 0) {
		walk_err(w, path, "listxattr", len);
		return;
	}
	for (ssize_t p = 0; p < len; p += (ssize_t)strlen(list + p) + 1) {
		ssize_t n =
			kvfs_getxattr(w->mp, ino, list + p, val, sizeof(val));

		if (n < 0)
			walk_err(w, path, list + p, n);
		else
			printf("X %s %s %016" PRIx64 "\n", path, list + p,
			       fnv(0xcbf29ce484222325ull, val, (size_t)n));
	}
}

static void walk_file(struct walk *w, uint64_t ino, const char *path)
{
	const char *what;
	uint64_t h = 0;
	int err = hash_data(w->mp, ino, -1, &h, &what);

	if (err)
		walk_err(w, path, what, err);
	else
		printf("F %s %016" PRIx64 "\n", path, h);
}

static void walk_dir(struct walk *w, uint64_t dir, const char *rel)
{
	static char target[KVFS_SYMLINK_MAX + 1];
	struct dlist l = { 0 };
	char path[2048];
	int err;

	for (size_t i = 0; i < w->ndirs; i++)
		if (w->dirs[i] == dir)
			return;
	if (w->ndirs == WALK_DIRS)
		return;
	w->dirs[w->ndirs++] = dir;
	err = kvfs_readdir(w->mp, dir, 0, collect, &l);
	if (err)
		walk_err(w, rel[0] ? rel : "/", "readdir", err);
	else
		printf("R %s %zu\n", rel[0] ? rel : "/", l.n);
	/* what a failed readdir gave before failing is walked too */
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), dent_cmp);
	for (size_t i = 0; i < l.n; i++) {
		struct kvfs_stat st;
		ssize_t n;

		snprintf(path, sizeof(path), "%s/%s", rel, l.v[i].name);
		/* by name too: through the name hash index, which readdir
		 * does not read */
		err = kvfs_lookup(w->mp, dir, l.v[i].name, &st);
		if (err == -ENOENT || (!err && st.ino != l.v[i].ino))
			printf("N %s %" PRIu64 "\n", path, err ? 0 : st.ino);
		else if (err)
			walk_err(w, path, "lookup", err);
		err = kvfs_getattr(w->mp, l.v[i].ino, &st);
		if (err) {
			walk_err(w, path, "getattr", err);
			continue;
		}
		printf("A %s %" PRIu64 " %o %u %" PRIu64 "\n", path, st.ino,
		       st.mode, st.nlink, st.size);
		walk_xattrs(w, st.ino, path);
		if (S_ISDIR(st.mode)) {
			walk_dir(w, st.ino, path);
		} else if (S_ISLNK(st.mode)) {
			n = kvfs_readlink(w->mp, st.ino, target,
					  sizeof(target));
			if (n < 0)
				walk_err(w, path, "readlink", n);
			else
				printf("L %s %016" PRIx64 "\n", path,
				       fnv(0xcbf29ce484222325ull, target,
					   strlen(target)));
		} else if (S_ISREG(st.mode)) {
			walk_file(w, st.ino, path);
		}
	}
	free(l.v);
}

/*
 * Changes on a damaged filesystem (walk ... write): files made, written,
 * given an xattr, renamed, truncated and removed in a new directory, and
 * populated files removed, so that damaged space and inode trees are
 * allocated from and freed to.  Stops at the first error (the mount may
 * have shut down); ENOSPC is allowed (damaged counters).
 */
#define SCRIBBLE_FILES 40

static int scribble(struct walk *w)
{
	static const char *const gone[] = { "file65537", "frag", "linked",
					    "short-link" };
	static uint8_t buf[16384];
	uint64_t root = kvfs_root_ino(w->mp), dir, big;
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	struct kvfs_stat st;
	char name[64], name2[64];
	bool created;
	ssize_t n;
	int err;

	w->writing = true;
	err = kvfs_mkdir(w->mp, root, "scribble", 0755, &root_cred, &st);
	if (err)
		return err;
	dir = st.ino;
	for (unsigned i = 0; i < SCRIBBLE_FILES; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		err = kvfs_create(w->mp, dir, name, S_IFREG | 0644, 0,
				  KVFS_CREATE_EXCL, &root_cred, &st, &created);
		if (err)
			return err;
		fill(buf, sizeof(buf), st.ino, i);
		for (unsigned k = 0; k < 3; k++) {
			n = kvfs_write(w->mp, st.ino, buf, sizeof(buf),
				       (off_t)(k * 2 + i % 2) * sizeof(buf), 0);
			if (n < 0)
				return (int)n;
		}
		err = kvfs_setxattr(w->mp, st.ino, "user.s", name, strlen(name),
				    0);
		if (!err && i % 5 == 0) {
			sa.size = i * 100;
			err = kvfs_setattr(w->mp, st.ino, &sa, &root_cred,
					   NULL);
		}
		if (!err)
			err = kvfs_release(w->mp, st.ino);
		if (!err && i % 3 == 0) {
			snprintf(name2, sizeof(name2), "g%u", i);
			err = kvfs_rename(w->mp, dir, name, root, name2, 0,
					  &root_cred);
		} else if (!err && i % 2) {
			err = kvfs_unlink(w->mp, dir, name);
		}
		if (err)
			return err;
	}
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		err = kvfs_unlink(w->mp, root, gone[i]);
		if (err && err != -ENOENT)
			return err;
	}
	err = kvfs_lookup(w->mp, root, "big", &st);
	big = st.ino;
	for (unsigned i = 0; !err && i < 200; i += 7) {
		snprintf(name, sizeof(name), "entry-%05u", i);
		err = kvfs_unlink(w->mp, big, name);
		if (err == -ENOENT)
			err = 0;
	}
	return err == -ENOENT ? 0 : err;
}

static int walk(const char *img, bool rw, bool write)
{
	struct kvfs_open_opts o = { .rdonly = !rw,
				    .atime = KVFS_ATIME_NOATIME };
	static struct walk w;
	int err;

	err = kvfs_open(img, &o, &w.mp, NULL);
	if (err) {
		printf("E / open %s\n", strerror(-err));
		fprintf(stderr, "populate: cannot open %s: %s\n", img,
			kvfs_open_error());
		/* kvfs_open() names a bad crc (fs/kvfs.h) */
		return err == -EIO || err == -EUCLEAN || err == -EBADMSG ? 0 :
									   err;
	}
	walk_xattrs(&w, kvfs_root_ino(w.mp), "/");
	walk_dir(&w, kvfs_root_ino(w.mp), "");
	err = write ? scribble(&w) : 0;
	if (err)
		walk_err(&w, "/scribble", "change", err);
	err = kvfs_close(w.mp);
	if (err)
		walk_err(&w, "/", "close", err);
	return w.bad ? -EINVAL : 0;
}

/* tools/fsck-bench's tree (its build_tree()), on the core API. */
static int bench_tree(struct kvfs_mount *mp, unsigned long files,
		      unsigned long entries, unsigned nfrag,
		      unsigned long long fragsize)
{
	static uint8_t data[4096], piece[64 << 10];
	uint64_t root = kvfs_root_ino(mp), top, d = 0, frag[64];
	struct kvfs_stat st;
	char name[64];
	bool created;

	memset(data, 'k', sizeof(data));
	memset(piece, 'f', sizeof(piece));
	TRY(kvfs_mkdir(mp, root, "files", 0755, &root_cred, &st));
	top = st.ino;
	for (unsigned long i = 0; i < files; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof(name), "d%04lu", i / 1000);
			TRY(kvfs_mkdir(mp, top, name, 0755, &root_cred, &st));
			d = st.ino;
		}
		snprintf(name, sizeof(name), "f%03lu", i % 1000);
		TRY(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				KVFS_CREATE_EXCL, &root_cred, &st, &created));
		TRY(kvfs_write(mp, st.ino, data, sizeof(data), 0, 0));
		TRY(kvfs_release(mp, st.ino));
	}
	TRY(kvfs_mkdir(mp, root, "big", 0755, &root_cred, &st));
	d = st.ino;
	for (unsigned long i = 0; i < entries; i++) {
		snprintf(name, sizeof(name), "e%07lu", i);
		TRY(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				KVFS_CREATE_EXCL, &root_cred, &st, &created));
		TRY(kvfs_release(mp, st.ino));
	}
	TRY(kvfs_mkdir(mp, root, "frag", 0755, &root_cred, &st));
	d = st.ino;
	for (unsigned i = 0; i < nfrag; i++) {
		snprintf(name, sizeof(name), "frag%u", i);
		TRY(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				KVFS_CREATE_EXCL, &root_cred, &st, &created));
		frag[i] = st.ino;
	}
	for (unsigned long long off = 0; off < fragsize; off += sizeof(piece))
		for (unsigned i = 0; i < nfrag; i++) {
			TRY(kvfs_write(mp, frag[i], piece, sizeof(piece),
				       (off_t)off, 0));
			TRY(kvfs_fsync(mp, frag[i], true));
		}
	for (unsigned i = 0; i < nfrag; i++)
		TRY(kvfs_release(mp, frag[i]));
	return 0;
}

static int bench(const char *img, char **argv)
{
	unsigned long files = strtoul(argv[0], NULL, 0);
	unsigned long entries = strtoul(argv[1], NULL, 0);
	unsigned long nfrag = strtoul(argv[2], NULL, 0);
	unsigned long long fragsize = strtoull(argv[3], NULL, 0);
	struct kvfs_mount *mp;
	int err;

	if (nfrag > 64 || fragsize % (64 << 10))
		return -EINVAL;
	TRY(kvfs_open(img, NULL, &mp, NULL));
	err = bench_tree(mp, files, entries, (unsigned)nfrag, fragsize);
	if (err)
		kvfs_mount_shutdown(mp, "populate failed");
	if (kvfs_close(mp) && !err)
		err = -EIO;
	return err;
}

int main(int argc, char **argv)
{
	int err;

	bool is_dump = argc > 1 && (!strcmp(argv[1], "dump") ||
				    !strcmp(argv[1], "dump-sums"));
	bool is_bench = argc > 1 && !strcmp(argv[1], "bench");
	bool is_walk = argc > 1 && !strcmp(argv[1], "walk");

	if (argc < 3 || (!is_dump && !is_bench && !is_walk && argc != 3) ||
	    (is_dump && argc != 4) || (is_bench && argc != 7) ||
	    (is_walk && argc > 4) ||
	    (is_walk && argc == 4 && strcmp(argv[3], "rw") &&
	     strcmp(argv[3], "write"))) {
		fprintf(stderr,
			"usage: populate build|orphan|orphan-wb|xattr-tree IMG | "
			"populate dump|dump-sums IMG OUTDIR | populate walk IMG "
			"[rw|write] | populate bench IMG FILES ENTRIES NFRAG "
			"FRAGSIZE\n");
		return 2;
	}
	/*
	 * A bench tree of a million entries outgrows the default 256 MiB
	 * arena (creates wait forever for memory under NOFAIL); pages of
	 * the arena are only taken when touched.
	 */
	err = kv_init(
		is_bench ? &(struct kv_config){ .budget_bytes = 4ull << 30 } :
			   NULL);
	if (err)
		return 1;
	kvfs_report_set_sink(print_report, NULL);
	if (!strcmp(argv[1], "build"))
		err = build(argv[2]);
	else if (!strcmp(argv[1], "orphan"))
		err = orphan(argv[2], false);
	else if (!strcmp(argv[1], "orphan-wb"))
		err = orphan(argv[2], true);
	else if (!strcmp(argv[1], "xattr-tree"))
		err = xattr_tree(argv[2]);
	else if (is_dump)
		err = dump(argv[2], argv[3], !strcmp(argv[1], "dump"));
	else if (is_bench)
		err = bench(argv[2], argv + 3);
	else if (is_walk)
		err = walk(argv[2], argc == 4,
			   argc == 4 && !strcmp(argv[3], "write"));
	else
		err = -EINVAL;
	if (kv_fini() && !err)
		err = -EIO;
	return err ? 1 : 0;
}
