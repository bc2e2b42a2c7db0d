// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's comparisons (difftest.h): a call's results on both
 * sides, the attributes of the names it touched and of its descriptor,
 * whether their stamps moved alike, and the whole trees (names, bytes,
 * symlink targets, user xattrs).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "difftest.h"

char diff_msg[1024];

static bool differ(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(diff_msg, sizeof(diff_msg), fmt, ap);
	va_end(ap);
	return true;
}

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static bool ts_le(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec);
}

void snap_take(const struct side *s, const char *rel, struct snap *sn)
{
	char p[FULLPATH];

	fullpath(s, rel, p);
	sn->err = lstat(p, &sn->st) ? errno : 0;
}

/* What must agree of two lstat()s of one name. */
static bool stat_differ(const char *what, const struct stat *a,
			const struct stat *b)
{
	if (a->st_mode != b->st_mode)
		return differ("%s: mode %#o vs %#o", what, a->st_mode,
			      b->st_mode);
	if (a->st_nlink != b->st_nlink)
		return differ("%s: nlink %ld vs %ld", what, (long)a->st_nlink,
			      (long)b->st_nlink);
	if (a->st_uid != b->st_uid || a->st_gid != b->st_gid)
		return differ("%s: owner %u:%u vs %u:%u", what, a->st_uid,
			      a->st_gid, b->st_uid, b->st_gid);
	if (!S_ISDIR(a->st_mode) && a->st_size != b->st_size)
		return differ("%s: size %jd vs %jd", what, (intmax_t)a->st_size,
			      (intmax_t)b->st_size);
	if ((S_ISCHR(a->st_mode) || S_ISBLK(a->st_mode)) &&
	    a->st_rdev != b->st_rdev)
		return differ("%s: rdev %#jx vs %#jx", what,
			      (uintmax_t)a->st_rdev, (uintmax_t)b->st_rdev);
	return false;
}

bool snap_differ(const char *rel, const struct snap *a, const struct snap *b)
{
	if (a->err != b->err)
		return differ("lstat %s: %s vs %s", rel, strerror(a->err),
			      strerror(b->err));
	return !a->err && stat_differ(rel, &a->st, &b->st);
}

/* mtime and ctime moved, or not, alike on both sides. */
bool times_differ(const char *rel, const struct snap pre[2],
		  const struct snap post[2])
{
	bool m[2], c[2];

	for (int i = 0; i < 2; i++) {
		if (pre[i].err || post[i].err ||
		    pre[i].st.st_ino != post[i].st.st_ino)
			return false;
		m[i] = !ts_eq(pre[i].st.st_mtim, post[i].st.st_mtim);
		c[i] = !ts_eq(pre[i].st.st_ctim, post[i].st.st_ctim);
	}
	if (m[0] != m[1])
		return differ("%s: mtime %s vs %s", rel,
			      m[0] ? "changed" : "kept",
			      m[1] ? "changed" : "kept");
	if (c[0] != c[1])
		return differ("%s: ctime %s vs %s", rel,
			      c[0] ? "changed" : "kept",
			      c[1] ? "changed" : "kept");
	/* the same explicit times set, or a change later than them */
	if (m[0] && !ts_eq(post[0].st.st_mtim, post[1].st.st_mtim) &&
	    post[0].st.st_mtim.tv_sec < 2000000000 &&
	    (post[0].st.st_mtim.tv_sec < 1700000000 ||
	     post[1].st.st_mtim.tv_sec < 1700000000))
		return differ("%s: mtime set %ld.%09ld vs %ld.%09ld", rel,
			      (long)post[0].st.st_mtim.tv_sec,
			      post[0].st.st_mtim.tv_nsec,
			      (long)post[1].st.st_mtim.tv_sec,
			      post[1].st.st_mtim.tv_nsec);
	return false;
}

/*
 * A file's bytes as far as they are compared: the first MAXFILE * 2 and
 * the last MAXIO (a sparse file may end terabytes out), after its size.
 */
static int read_all(const char *p, char **buf, size_t *n)
{
	int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
	size_t head = MAXFILE * 2, cap = head + MAXIO + 32;
	struct stat st;
	ssize_t r = 0;

	if (fd < 0)
		return -errno;
	*buf = malloc(cap);
	*n = 0;
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	*n = (size_t)snprintf(*buf, 32, "%jd:", (intmax_t)st.st_size);
	while (*n < head && (r = read(fd, *buf + *n, head - *n)) > 0)
		*n += (size_t)r;
	if (r >= 0 && st.st_size > (off_t)head) {
		off_t from = st.st_size - MAXIO;

		from = from > (off_t)head ? from : (off_t)head;
		r = pread(fd, *buf + *n, MAXIO, from);
		*n += r > 0 ? (size_t)r : 0;
	}
	close(fd);
	return r < 0 ? -errno : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* sorted names of a list (xattr names, directory entries) in one string */
static char *names_sorted(char *list, size_t n)
{
	char *v[4096], *out;
	size_t cnt = 0, len = 0;

	for (size_t i = 0; i < n && cnt < 4096; i += strlen(list + i) + 1)
		v[cnt++] = list + i;
	qsort(v, cnt, sizeof(v[0]), cmp_str);
	out = malloc(n + 2);
	out[0] = '\0';
	for (size_t i = 0; i < cnt; i++) {
		memcpy(out + len, v[i], strlen(v[i]));
		len += strlen(v[i]);
		out[len++] = '\n';
	}
	out[len] = '\0';
	return out;
}

static bool xattrs_differ(const char *rel, const char *pa, const char *pb)
{
	char la[65536], lb[65536], *sa, *sb;
	ssize_t na = llistxattr(pa, la, sizeof(la));
	ssize_t nb = llistxattr(pb, lb, sizeof(lb));
	bool d = false;

	if ((na < 0) != (nb < 0))
		return differ("%s: listxattr %zd vs %zd", rel, na, nb);
	if (na < 0)
		return false;
	sa = names_sorted(la, (size_t)na);
	sb = names_sorted(lb, (size_t)nb);
	if (strcmp(sa, sb))
		d = differ("%s: xattr names {%.200s} vs {%.200s}", rel, sa, sb);
	for (ssize_t i = 0; !d && i < na; i += (ssize_t)strlen(la + i) + 1) {
		static char va[65536], vb[65536];
		ssize_t xa = lgetxattr(pa, la + i, va, sizeof(va));
		ssize_t xb = lgetxattr(pb, la + i, vb, sizeof(vb));

		if (xa != xb || (xa > 0 && memcmp(va, vb, (size_t)xa)))
			d = differ("%s: xattr %s value (%zd vs %zd bytes)", rel,
				   la + i, xa, xb);
	}
	free(sa);
	free(sb);
	return d;
}

static bool entry_differ(const char *rel)
{
	char pa[FULLPATH], pb[FULLPATH];
	struct snap a, b;
	bool d = false;

	snap_take(&S[0], rel, &a);
	snap_take(&S[1], rel, &b);
	if (snap_differ(rel, &a, &b))
		return true;
	if (a.err)
		return false;
	fullpath(&S[0], rel, pa);
	fullpath(&S[1], rel, pb);
	if (xattrs_differ(rel, pa, pb))
		return true;
	if (S_ISREG(a.st.st_mode)) {
		char *ba = NULL, *bb = NULL;
		size_t na = 0, nb = 0;
		int ea = read_all(pa, &ba, &na), eb = read_all(pb, &bb, &nb);

		if (ea != eb || na != nb || memcmp(ba, bb, na)) {
			size_t at = 0;

			while (at < na && at < nb && ba[at] == bb[at])
				at++;
			d = differ("%s: contents differ (%d/%zu vs %d/%zu "
				   "bytes, first at %zu)",
				   rel, ea, na, eb, nb, at);
		}
		free(ba);
		free(bb);
	} else if (S_ISLNK(a.st.st_mode)) {
		char ta[PATH_MAX + 1], tb[PATH_MAX + 1];
		ssize_t na = readlink(pa, ta, sizeof(ta));
		ssize_t nb = readlink(pb, tb, sizeof(tb));

		if (na != nb || (na > 0 && memcmp(ta, tb, (size_t)na)))
			d = differ("%s: readlink %zd vs %zd", rel, na, nb);
	} else if (S_ISDIR(a.st.st_mode)) {
		d = tree_differ(rel);
	}
	return d;
}

/* a directory's names, sorted, "\n" after each; NULL if unreadable */
static char *dir_names(const char *p, size_t *cnt)
{
	DIR *d = opendir(p);
	struct dirent *de;
	char *list = NULL, *sorted;
	size_t n = 0;

	*cnt = 0;
	if (!d)
		return NULL;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name) + 1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		list = realloc(list, n + l);
		memcpy(list + n, de->d_name, l);
		n += l;
		(*cnt)++;
	}
	closedir(d);
	sorted = names_sorted(list ? list : "", n);
	free(list);
	return sorted;
}

bool tree_differ(const char *rel)
{
	char pa[FULLPATH], pb[FULLPATH], *la, *lb, *name;
	size_t ca, cb;
	bool d = false;

	fullpath(&S[0], rel, pa);
	fullpath(&S[1], rel, pb);
	la = dir_names(pa, &ca);
	lb = dir_names(pb, &cb);
	if (!la || !lb || strcmp(la, lb)) {
		d = differ("%s: readdir {%.200s} vs {%.200s}", rel,
			   la ? la : "(error)", lb ? lb : "(error)");
		goto out;
	}
	for (name = la; !d && *name;) {
		char *nl = strchr(name, '\n'), sub[PATH_MAX];

		*nl = '\0';
		snprintf(sub, sizeof(sub), "%s/%s", rel, name);
		d = entry_differ(sub);
		name = nl + 1;
	}
out:
	free(la);
	free(lb);
	return d;
}

/* the names a call touches, and their parents */
int touched(const struct op *o, char names[MAXPATHS][PATH_MAX])
{
	const char *p[2] = { o->p1, o->p2 };
	bool two = o->kind == K_LINK || o->kind == K_RENAME ||
		   o->kind == K_SYMLINK;
	int n = 0;

	if (o->slot >= 0 &&
	    (o->kind == K_WRITE || o->kind == K_READ || o->kind == K_FTRUNC ||
	     o->kind == K_FALLOC || o->kind == K_FCHMOD || o->kind == K_CLOSE ||
	     o->kind == K_FSYNC || o->kind == K_LSEEK || o->kind == K_FSTAT ||
	     o->kind == K_CRED || o->kind == K_FUTIMENS ||
	     o->kind == K_FCHOWN || o->kind == K_FSETXATTR ||
	     o->kind == K_FLISTXATTR))
		return 0;
	for (int i = o->kind == K_SYMLINK; i < (two ? 2 : 1); i++) {
		char *slash;

		snprintf(names[n++], PATH_MAX, "%s", p[i]);
		snprintf(names[n], PATH_MAX, "%s", p[i]);
		slash = strrchr(names[n], '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(names[n], PATH_MAX, ".");
		n++;
	}
	return n;
}

/* the fds of a slot: the same file's attributes on both sides */
bool fd_differ(const struct op *o)
{
	int a = S[0].fd[o->slot], b = S[1].fd[o->slot];
	struct stat sa, sb;
	char what[32];

	if ((a < 0) != (b < 0))
		return differ("slot %d open on one side only", o->slot);
	if (a < 0 || fstat(a, &sa) || fstat(b, &sb))
		return false;
	snprintf(what, sizeof(what), "fstat slot %d", o->slot);
	return stat_differ(what, &sa, &sb);
}

/*
 * The coarse clock (tmpfs's) past the stamps of the names a call touches:
 * a change by the call then shows as a new stamp on both sides.
 */
void clock_past(char names[MAXPATHS][PATH_MAX], int n,
		const struct snap fdpre[2])
{
	struct timespec newest = { 0, 0 }, now;

	for (int s = 0; s < 2; s++)
		if (!fdpre[s].err && !ts_le(fdpre[s].st.st_ctim, newest))
			newest = fdpre[s].st.st_ctim;

	for (int i = 0; i < n; i++) {
		for (int s = 0; s < 2; s++) {
			struct snap sn;

			snap_take(&S[s], names[i], &sn);
			if (sn.err)
				continue;
			if (sn.st.st_ctim.tv_sec > newest.tv_sec ||
			    (sn.st.st_ctim.tv_sec == newest.tv_sec &&
			     sn.st.st_ctim.tv_nsec > newest.tv_nsec))
				newest = sn.st.st_ctim;
		}
	}
	for (int tries = 0; tries < 1000; tries++) {
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (now.tv_sec > newest.tv_sec ||
		    (now.tv_sec == newest.tv_sec &&
		     now.tv_nsec > newest.tv_nsec))
			return;
		usleep(500);
	}
}

bool res_differ(const struct op *o, const struct res r[2])
{
	if (r[0].ret != r[1].ret || r[0].err != r[1].err)
		return differ("%s: %ld (%s) vs %ld (%s)", kind_name[o->kind],
			      r[0].ret, r[0].err ? strerror(r[0].err) : "ok",
			      r[1].ret, r[1].err ? strerror(r[1].err) : "ok");
	if ((o->kind == K_LISTXATTR || o->kind == K_FLISTXATTR) && r[0].n &&
	    r[0].n == r[1].n) {
		char *a = names_sorted(r[0].data, r[0].n);
		char *b = names_sorted(r[1].data, r[1].n);
		bool d = strcmp(a, b);

		if (d)
			differ("listxattr: {%.200s} vs {%.200s}", a, b);
		free(a);
		free(b);
		return d;
	}
	if (r[0].n != r[1].n ||
	    (r[0].n && memcmp(r[0].data, r[1].data, r[0].n)))
		return differ(
			"%s: data differ (%zu vs %zu bytes: %.40s / %.40s)",
			kind_name[o->kind], r[0].n, r[1].n,
			r[0].n ? r[0].data : "", r[1].n ? r[1].data : "");
	return false;
}
