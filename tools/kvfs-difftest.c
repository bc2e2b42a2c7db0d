// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest DIR REFDIR [--seed N] [--seeds N] [--ops N] [--check N]
 *               [--minimize] [--keep-going] [-v]
 *
 * Differential POSIX testing: the same random sequence of system calls,
 * drawn from a seed, on a tree under DIR (a kvfs mount) and one under
 * REFDIR (a tmpfs or an ext4: the kernel's own answers).  Every result
 * is compared (return value, errno, the bytes read); after each call the
 * attributes of the names it touched (type and mode, nlink, size, owner,
 * rdev; whether mtime and ctime moved), and every --check calls the
 * whole tree (names as sets, bytes, symlink targets, user xattrs).  A
 * discrepancy stops the seed (unless --keep-going); --minimize then
 * replays subsets of the calls on fresh trees until no call can be left
 * out, and prints that reproducer.  Calls run as root or, after a
 * "cred" call, with fsuid/fsgid 1000 or 1001 and no capability in
 * effect, as an ordinary user (all in group 1001 too).
 *
 * Not compared, each for its reason: st_blocks (tmpfs counts its pages,
 * kvfs its blocks), a directory's st_size (tmpfs counts 20 bytes an
 * entry), atime (relatime, and the page cache serves reads on FUSE),
 * st_ino/st_dev.  fallocate modes the reference lacks (tmpfs: ZERO_RANGE,
 * COLLAPSE_RANGE, INSERT_RANGE answer EOPNOTSUPP) are probed at start: a
 * ZERO_RANGE is done there as a punch (and a truncate up), the other two
 * are not drawn.  The limits of user xattrs differ by design (tmpfs
 * charges them to its inode space, ext4 to one block): a value of more
 * than XATTR_SMALL bytes the reference refuses (ENOSPC, E2BIG) is not
 * counted, and the name is then removed from both sides.  SEEK_END,
 * SEEK_DATA and SEEK_HOLE in a directory follow each filesystem's own
 * llseek, and tmpfs finds no data in a file ending within a page of
 * 2^63; where the answers to SEEK_DATA/SEEK_HOLE in a file differ, both
 * need only be true to its bytes (unwritten blocks are data to tmpfs,
 * holes to kvfs, ext4 and XFS).  The stamps of truncate() to the size
 * a file has: see same_size_truncate(); of a read or write of a FIFO:
 * the pipe's (the kernel stamps the inode; a FUSE daemon never hears of
 * it).  chown(f, -1, -1) of a SUID file open for writing, by another
 * user, without the writeback cache: see filtered_result().
 * Not drawn: O_TMPFILE (libfuse 3.14 has no tmpfile operation: kvfs says
 * EOPNOTSUPP), O_PATH, mmap.
 *
 * Exit status: 0 no discrepancy, 1 a discrepancy, 2 usage or setup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/falloc.h>

#define NSLOT 6
#define MAXFILE (1 << 20)
#define MAXIO (128 << 10)
#define XATTR_SMALL 1024
#define MAXPATHS 6
#define LONGNAME 255
#define FULLPATH (PATH_MAX + 256 + 2)

enum kind {
	K_OPEN,
	K_CLOSE,
	K_WRITE,
	K_READ,
	K_FTRUNC,
	K_TRUNC,
	K_FALLOC,
	K_MKDIR,
	K_RMDIR,
	K_UNLINK,
	K_LINK,
	K_SYMLINK,
	K_RENAME,
	K_CHMOD,
	K_FCHMOD,
	K_CHOWN,
	K_UTIMENS,
	K_SETXATTR,
	K_GETXATTR,
	K_LISTXATTR,
	K_RMXATTR,
	K_MKNOD,
	K_ACCESS,
	K_CRED,
	K_READLINK,
	K_LSEEK,
	K_FSYNC,
	K_FSTAT,
	K_FUTIMENS,
	K_FCHOWN,
	K_FSETXATTR,
	K_FLISTXATTR,
	K_NKIND
};

static const char *const kind_name[K_NKIND] = {
	"open",	       "close",	     "write",	 "read",     "ftruncate",
	"truncate",    "fallocate",  "mkdir",	 "rmdir",    "unlink",
	"link",	       "symlink",    "rename",	 "chmod",    "fchmod",
	"chown",       "utimensat",  "setxattr", "getxattr", "listxattr",
	"removexattr", "mknod",	     "access",	 "cred",     "readlink",
	"lseek",       "fsync",	     "fstat",	 "futimens", "fchown",
	"fsetxattr",   "flistxattr",
};

/* how often each kind is drawn */
static const unsigned weight[K_NKIND] = {
	[K_OPEN] = 14,	   [K_CLOSE] = 4,      [K_WRITE] = 12,
	[K_READ] = 6,	   [K_FTRUNC] = 4,     [K_TRUNC] = 3,
	[K_FALLOC] = 5,	   [K_MKDIR] = 6,      [K_RMDIR] = 3,
	[K_UNLINK] = 4,	   [K_LINK] = 4,       [K_SYMLINK] = 3,
	[K_RENAME] = 8,	   [K_CHMOD] = 4,      [K_FCHMOD] = 2,
	[K_CHOWN] = 3,	   [K_UTIMENS] = 3,    [K_SETXATTR] = 4,
	[K_GETXATTR] = 3,  [K_LISTXATTR] = 2,  [K_RMXATTR] = 2,
	[K_MKNOD] = 2,	   [K_ACCESS] = 2,     [K_CRED] = 3,
	[K_READLINK] = 2,  [K_LSEEK] = 2,      [K_FSYNC] = 1,
	[K_FSTAT] = 2,	   [K_FUTIMENS] = 2,   [K_FCHOWN] = 2,
	[K_FSETXATTR] = 2, [K_FLISTXATTR] = 1,
};

struct op {
	enum kind kind;
	char p1[PATH_MAX + 1]; /* a symlink target of 4096 bytes */
	char p2[PATH_MAX + 1];
	int slot;
	int flags;
	unsigned mode;
	int64_t a, b;
	unsigned seed;
};

struct side {
	const char *root;
	char base[256];
	int fd[NSLOT];
};

static struct side S[2];
static struct op *ops;
static long nops = 2000;
static long check_every = 16;
static int verbose;
static bool keep_going;
/* ZERO_RANGE (the reference), COLLAPSE_RANGE, INSERT_RANGE (both sides) */
static bool ref_falloc[3];
static uid_t cur_uid;
static long filtered, filtered_seek, filtered_times, filtered_fifo;
static long filtered_chown;
static char diff_msg[1024];
static long run_no;
/* per kind: calls that succeeded, calls that failed (alike) */
static long n_ok[K_NKIND], n_err[K_NKIND];

/* ---- the random draws ---- */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned rn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

/* dots: "..", once, after a first name (never above the tree) */
static void name_draw(char *buf, size_t room, bool dots)
{
	static const char *const short_names[] = { "a", "b", "c", "d" };
	unsigned r = rn(40);

	if (r == 0 || r == 1) {
		/* 255 bytes is the limit; 256 is ENAMETOOLONG */
		size_t n = LONGNAME + r;

		memset(buf, r ? 'M' : 'L', n);
		buf[n] = '\0';
	} else if (r == 2) {
		snprintf(buf, room, "%s", dots && rn(2) ? ".." : ".");
	} else {
		snprintf(buf, room, "%s", short_names[rn(4)]);
	}
}

static void path_draw(char *buf)
{
	unsigned depth = 1 + rn(3) / 2 + (rn(6) == 0);
	size_t len = 0;
	bool dots = false;

	buf[0] = '\0';
	for (unsigned i = 0; i < depth; i++) {
		char name[LONGNAME + 2];

		name_draw(name, sizeof(name), dots);
		dots = i == 0 && strcmp(name, ".") && strcmp(name, "..");
		len += (size_t)snprintf(buf + len, PATH_MAX - len, "%s%s",
					i ? "/" : "", name);
	}
}

static unsigned mode_draw(void)
{
	static const unsigned modes[] = { 0644,	 0600,	0755,  0777,  0000,
					  0444,	 04755, 02755, 06777, 02745,
					  01777, 0711,	0700,  0222 };
	return modes[rn(sizeof(modes) / sizeof(modes[0]))];
}

static int64_t off_draw(void)
{
	/* now and then far out: a sparse file, the largest offsets */
	if (!rn(60))
		return rn(2) ? (1ll << 32) + rn(8192) :
			       (rn(2) ? (1ll << 43) : INT64_MAX - rn(4096));
	switch (rn(4)) {
	case 0:
		return rn(4096);
	case 1:
		return rn(MAXFILE);
	case 2:
		return (int64_t)rn(256) * 4096;
	default:
		return rn(70000);
	}
}

static enum kind kind_draw(void)
{
	unsigned total = 0, r;

	for (int k = 0; k < K_NKIND; k++)
		total += weight[k];
	r = rn(total);
	for (int k = 0; k < K_NKIND; k++) {
		if (r < weight[k])
			return (enum kind)k;
		r -= weight[k];
	}
	return K_OPEN;
}

static void op_draw(struct op *o)
{
	static const int falloc_modes[] = {
		0,
		FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_ZERO_RANGE,
		FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_COLLAPSE_RANGE,
		FALLOC_FL_INSERT_RANGE,
		FALLOC_FL_PUNCH_HOLE,
	};
	static const char *const xnames[] = {
		"user.a", "user.b", "user.c", "trusted.t", "user.", "bogus.x"
	};

	memset(o, 0, sizeof(*o));
	o->kind = kind_draw();
	path_draw(o->p1);
	path_draw(o->p2);
	o->slot = (int)rn(NSLOT);
	o->seed = (unsigned)rnd();
	switch (o->kind) {
	case K_OPEN: {
		static const int accm[] = { O_RDONLY, O_WRONLY, O_RDWR };
		static const int extra[] = { O_CREAT,  O_EXCL,	    O_TRUNC,
					     O_APPEND, O_DIRECTORY, O_NOFOLLOW,
					     O_NOATIME };
		static const unsigned prob[] = { 2, 8, 5, 5, 20, 8, 16 };

		o->flags = accm[rn(3)];
		for (unsigned i = 0; i < 7; i++)
			if (!rn(prob[i]))
				o->flags |= extra[i];
		o->mode = mode_draw();
		break;
	}
	case K_WRITE:
	case K_READ:
		o->a = rn(4) ? off_draw() : -1; /* -1: write()/read() */
		o->b = rn(8) ? rn(9000) : rn(MAXIO);
		break;
	case K_FTRUNC:
	case K_TRUNC:
		o->a = rn(5) ? off_draw() : (rn(2) ? 0 : -1);
		break;
	case K_FALLOC: {
		int m = falloc_modes[rn(8)];

		if (m & FALLOC_FL_ZERO_RANGE && !ref_falloc[0] && rn(2))
			m = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		if ((m == FALLOC_FL_COLLAPSE_RANGE && !ref_falloc[1]) ||
		    (m == FALLOC_FL_INSERT_RANGE && !ref_falloc[2]))
			m = 0;
		o->flags = m;
		o->a = rn(3) ? off_draw() : (int64_t)rn(64) * 4096;
		o->b = rn(3) ? 1 + rn(70000) : (int64_t)(1 + rn(16)) * 4096;
		if (!rn(20))
			o->b = 0;
		break;
	}
	case K_MKDIR:
	case K_CHMOD:
	case K_FCHMOD:
		o->mode = mode_draw();
		break;
	case K_LINK:
	case K_RENAME:
		if (o->kind == K_RENAME) {
			static const int rf[] = { 0,
						  0,
						  0,
						  RENAME_NOREPLACE,
						  RENAME_EXCHANGE,
						  RENAME_WHITEOUT };
			o->flags = rf[rn(6)];
		}
		/* into its own subtree, now and then */
		if (!rn(8))
			snprintf(o->p2, PATH_MAX, "%.*s/%s", PATH_MAX - 8,
				 o->p1, rn(2) ? "a" : "b/c");
		break;
	case K_SYMLINK:
		/* no "." or ".." in a target: "l/.." would leave the tree */
		for (char *c = o->p1; *c; c++)
			if (*c == '.')
				*c = 'a';
		if (!rn(10)) {
			/* 4095 is the longest target, 4096 ENAMETOOLONG */
			size_t n = rn(2) ? 4095 : 4096;

			memset(o->p1, 't', n);
			o->p1[n] = '\0';
		}
		break;
	case K_FCHOWN:
	case K_CHOWN: {
		static const int ids[] = { -1, 0, 1000, 1001 };

		o->a = ids[rn(4)];
		o->b = ids[rn(4)];
		o->flags = rn(2) ? AT_SYMLINK_NOFOLLOW : 0;
		break;
	}
	case K_FUTIMENS:
	case K_UTIMENS:
		o->a = rn(4); /* atime: now, omit, a value, 1e9 ns (EINVAL) */
		o->b = rn(4);
		o->flags = rn(3) ? 0 : AT_SYMLINK_NOFOLLOW;
		if (!rn(5))
			o->a = o->b = 4; /* times == NULL */
		break;
	case K_FSETXATTR:
	case K_SETXATTR:
	case K_GETXATTR:
	case K_RMXATTR:
		snprintf(o->p2, PATH_MAX, "%s", xnames[rn(6) ? rn(3) : rn(6)]);
		if (!rn(30))
			snprintf(o->p2, PATH_MAX, "user.%0255d", 0);
		o->flags = (int)rn(3); /* 0, XATTR_CREATE, XATTR_REPLACE */
		o->a = rn(4) ? rn(64) : (rn(3) ? rn(8000) : 65536 + rn(2));
		o->b = rn(3) ? 65536 : rn(80); /* getxattr's buffer */
		break;
	case K_FLISTXATTR:
	case K_LISTXATTR:
		o->b = rn(3) ? 65536 : rn(40);
		break;
	case K_MKNOD: {
		static const unsigned types[] = { S_IFIFO, S_IFCHR, S_IFREG,
						  S_IFSOCK };

		o->mode = types[rn(4)] | (mode_draw() & 07777);
		o->a = makedev(1, 3 + rn(3));
		break;
	}
	case K_ACCESS:
		o->mode = rn(8);
		o->flags = rn(3) ? 0 : AT_EACCESS;
		break;
	case K_CRED: {
		static const uid_t uids[] = { 0, 0, 1000, 1001 };

		o->a = uids[rn(4)];
		o->b = rn(3) ? o->a : 1000;
		break;
	}
	case K_READLINK:
		o->b = rn(3) ? PATH_MAX : rn(8);
		break;
	case K_LSEEK: {
		static const int wh[] = { SEEK_SET, SEEK_CUR, SEEK_END,
					  SEEK_DATA, SEEK_HOLE };

		o->flags = wh[rn(5)];
		o->a = off_draw();
		break;
	}
	default:
		break;
	}
}

/*
 * Names known to have been made, for the next draws: calls on names that
 * exist more often than not.  The calls are drawn as the first run goes
 * (ops[] keeps them for the replays of --minimize).
 */
#define NKNOWN 48
static char known[NKNOWN][PATH_MAX];
static unsigned nknown;

static void known_add(const char *p)
{
	unsigned i = nknown < NKNOWN ? nknown++ : rn(NKNOWN);

	snprintf(known[i], PATH_MAX, "%s", p);
}

static void op_draw_live(struct op *o)
{
	unsigned open_slots[NSLOT], n = 0;

	op_draw(o);
	if (nknown && rn(10) < 8 && o->kind != K_SYMLINK)
		memcpy(o->p1, known[rn(nknown)], PATH_MAX);
	if (nknown && rn(10) < 3)
		memcpy(o->p2, known[rn(nknown)], PATH_MAX);
	for (unsigned i = 0; i < NSLOT; i++)
		if (S[1].fd[i] >= 0)
			open_slots[n++] = i;
	if (n && o->kind != K_OPEN && rn(10) < 9)
		o->slot = (int)open_slots[rn(n)];
}

static void known_update(const struct op *o, long ret)
{
	if (ret < 0)
		return;
	if ((o->kind == K_OPEN && o->flags & O_CREAT) || o->kind == K_MKDIR ||
	    o->kind == K_MKNOD)
		known_add(o->p1);
	else if (o->kind == K_SYMLINK || o->kind == K_LINK ||
		 o->kind == K_RENAME)
		known_add(o->p2);
}

/* ---- the calls, on one side ---- */

struct res {
	long ret;
	int err;
	size_t n; /* bytes of data, compared */
	char *data;
};

/* out: FULLPATH bytes (a long path is the kernel's ENAMETOOLONG) */
static void fullpath(const struct side *s, const char *rel, char *out)
{
	size_t b = strlen(s->base), r = strnlen(rel, PATH_MAX - 1);

	memcpy(out, s->base, b);
	out[b] = '/';
	memcpy(out + b + 1, rel, r);
	out[b + 1 + r] = '\0';
}

static void fill(char *buf, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('A' + (seed + i * 7 + i / 4093) % 53);
}

/*
 * fsuid/fsgid uid and gid; not root: no capability in effect either (an
 * fsuid drops the fs ones only: CAP_SYS_ADMIN would still show trusted.*
 * xattrs).  They stay permitted, to be raised again for root.
 */
static void set_cred(uid_t uid, gid_t gid)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	syscall(SYS_capget, &h, d);
	for (int i = 0; i < 2; i++)
		d[i].effective = uid ? 0 : d[i].permitted;
	if (!uid)
		syscall(SYS_capset, &h, d);
	setfsuid(0);
	setfsgid(gid);
	setfsuid(uid);
	if (uid)
		syscall(SYS_capset, &h, d);
	cur_uid = uid;
}

static void times_draw(int64_t how, struct timespec *t, unsigned seed)
{
	switch (how) {
	case 0:
		t->tv_sec = 0;
		t->tv_nsec = UTIME_NOW;
		break;
	case 1:
		t->tv_sec = 0;
		t->tv_nsec = UTIME_OMIT;
		break;
	case 2:
		t->tv_sec = 1000000000 + seed % 100000;
		t->tv_nsec = seed % 1000000000;
		break;
	default:
		t->tv_sec = 5;
		t->tv_nsec = 1000000000;
		break;
	}
}

/* The reference lacks ZERO_RANGE: the same bytes by a punch and a size. */
static int zero_range_emulated(int fd, int mode, off_t off, off_t len)
{
	struct stat st;

	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		return -1;
	if (mode & FALLOC_FL_KEEP_SIZE || fstat(fd, &st))
		return 0;
	if (off + len > st.st_size)
		return ftruncate(fd, off + len);
	return 0;
}

/*
 * The calls drawn in a path form and an fd form: on path, or on fd when
 * path is NULL.
 */
static int set_times(const struct op *o, const char *path, int fd)
{
	struct timespec t[2], *tp = o->a == 4 ? NULL : t;

	times_draw(o->a, &t[0], o->seed);
	times_draw(o->b, &t[1], o->seed / 3);
	return path ? utimensat(AT_FDCWD, path, tp, o->flags) :
		      futimens(fd, tp);
}

static int set_xattr(const struct op *o, const char *path, int fd)
{
	int flags = o->flags == 1 ? XATTR_CREATE :
		    o->flags == 2 ? XATTR_REPLACE :
				    0;
	char *buf = malloc((size_t)o->a + 1);
	int ret;

	fill(buf, (size_t)o->a, o->seed);
	ret = path ? lsetxattr(path, o->p2, buf, (size_t)o->a, flags) :
		     fsetxattr(fd, o->p2, buf, (size_t)o->a, flags);
	free(buf);
	return ret;
}

static ssize_t list_xattr(const struct op *o, const char *path, int fd,
			  struct res *r)
{
	char *list;
	ssize_t ret;

	r->data = malloc((size_t)o->b + 1);
	list = o->b ? r->data : NULL;
	ret = path ? llistxattr(path, list, (size_t)o->b) :
		     flistxattr(fd, list, (size_t)o->b);
	r->n = ret > 0 && o->b ? (size_t)ret : 0;
	return ret;
}

static void op_run(struct side *s, const struct op *o, int which, struct res *r)
{
	char p1[FULLPATH], p2[FULLPATH];
	int fd = s->fd[o->slot];
	long ret = 0;

	fullpath(s, o->p1, p1);
	fullpath(s, o->p2, p2);
	r->n = 0;
	errno = 0;
	switch (o->kind) {
	case K_OPEN:
		ret = open(p1, o->flags | O_NONBLOCK, o->mode);
		if (ret >= 0) {
			if (s->fd[o->slot] >= 0)
				close(s->fd[o->slot]);
			s->fd[o->slot] = (int)ret;
			ret = 0;
		}
		break;
	case K_CLOSE:
		ret = fd < 0 ? 0 : close(fd);
		s->fd[o->slot] = -1;
		break;
	case K_WRITE: {
		char *buf = malloc((size_t)o->b + 1);

		fill(buf, (size_t)o->b, o->seed);
		if (o->a < 0)
			ret = write(fd, buf, (size_t)o->b);
		else
			ret = pwrite(fd, buf, (size_t)o->b, o->a);
		free(buf);
		break;
	}
	case K_READ:
		r->data = malloc((size_t)o->b + 1);
		if (o->a < 0)
			ret = read(fd, r->data, (size_t)o->b);
		else
			ret = pread(fd, r->data, (size_t)o->b, o->a);
		r->n = ret > 0 ? (size_t)ret : 0;
		break;
	case K_FTRUNC:
		ret = ftruncate(fd, o->a);
		break;
	case K_TRUNC:
		ret = truncate(p1, o->a);
		break;
	case K_FALLOC:
		ret = fallocate(fd, o->flags, o->a, o->b);
		if (ret && errno == EOPNOTSUPP && which == 1 &&
		    o->flags & FALLOC_FL_ZERO_RANGE)
			ret = zero_range_emulated(fd, o->flags, o->a, o->b);
		break;
	case K_MKDIR:
		ret = mkdir(p1, o->mode);
		break;
	case K_RMDIR:
		ret = rmdir(p1);
		break;
	case K_UNLINK:
		ret = unlink(p1);
		break;
	case K_LINK:
		ret = link(p1, p2);
		break;
	case K_SYMLINK:
		ret = symlink(o->p1, p2);
		break;
	case K_RENAME:
		ret = renameat2(AT_FDCWD, p1, AT_FDCWD, p2, (unsigned)o->flags);
		break;
	case K_CHMOD:
		ret = chmod(p1, o->mode);
		break;
	case K_FCHMOD:
		ret = fchmod(fd, o->mode);
		break;
	case K_CHOWN:
		ret = fchownat(AT_FDCWD, p1, (uid_t)o->a, (gid_t)o->b,
			       o->flags);
		break;
	case K_UTIMENS:
		ret = set_times(o, p1, -1);
		break;
	case K_SETXATTR:
		ret = set_xattr(o, p1, -1);
		break;
	case K_GETXATTR:
		r->data = malloc((size_t)o->b + 1);
		ret = lgetxattr(p1, o->p2, o->b ? r->data : NULL, (size_t)o->b);
		r->n = ret > 0 && o->b ? (size_t)ret : 0;
		break;
	case K_LISTXATTR:
		ret = list_xattr(o, p1, -1, r);
		break;
	case K_RMXATTR:
		ret = lremovexattr(p1, o->p2);
		break;
	case K_MKNOD:
		ret = mknod(p1, o->mode, (dev_t)o->a);
		break;
	case K_ACCESS:
		ret = faccessat(AT_FDCWD, p1, (int)o->mode, o->flags);
		break;
	case K_CRED:
		break;
	case K_READLINK:
		r->data = malloc((size_t)o->b + 1);
		ret = readlink(p1, r->data, (size_t)o->b);
		r->n = ret > 0 ? (size_t)ret : 0;
		break;
	case K_LSEEK:
		ret = lseek(fd, o->a, o->flags);
		break;
	case K_FSYNC:
		ret = fsync(fd);
		break;
	case K_FUTIMENS:
		ret = set_times(o, NULL, fd);
		break;
	case K_FCHOWN:
		ret = fchown(fd, (uid_t)o->a, (gid_t)o->b);
		break;
	case K_FSETXATTR:
		ret = set_xattr(o, NULL, fd);
		break;
	case K_FLISTXATTR:
		ret = list_xattr(o, NULL, fd, r);
		break;
	case K_FSTAT: {
		struct stat st;

		ret = fstat(fd, &st);
		if (!ret) {
			/* the size of an open file, even an unlinked one */
			r->data = malloc(64);
			r->n = (size_t)snprintf(r->data, 64, "%o %ld %jd",
						st.st_mode, (long)st.st_nlink,
						(intmax_t)(S_ISDIR(st.st_mode) ?
								   0 :
								   st.st_size));
		}
		break;
	}
	default:
		break;
	}
	r->ret = ret;
	r->err = ret < 0 ? errno : 0;
}

static void op_print(FILE *f, long i, const struct op *o)
{
	size_t l1 = strlen(o->p1), l2 = strlen(o->p2);

	/* a long path as its first 40 bytes and its length */
	fprintf(f,
		"  #%ld %s p1=%.40s%s p2=%.40s%s slot=%d flags=%#x mode=%#o a=%" PRId64
		" b=%" PRId64 " seed=%u\n",
		i, kind_name[o->kind], o->p1, l1 > 40 ? "...(long)" : "", o->p2,
		l2 > 40 ? "...(long)" : "", o->slot, (unsigned)o->flags,
		o->mode, o->a, o->b, o->seed);
}

/* ---- the comparisons ---- */

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

struct snap {
	int err;
	struct stat st;
};

static void snap_take(const struct side *s, const char *rel, struct snap *sn)
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

static bool snap_differ(const char *rel, const struct snap *a,
			const struct snap *b)
{
	if (a->err != b->err)
		return differ("lstat %s: %s vs %s", rel, strerror(a->err),
			      strerror(b->err));
	return !a->err && stat_differ(rel, &a->st, &b->st);
}

/* mtime and ctime moved, or not, alike on both sides. */
static bool times_differ(const char *rel, const struct snap pre[2],
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

static bool tree_differ(const char *rel);

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

static bool tree_differ(const char *rel)
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
static int touched(const struct op *o, char names[MAXPATHS][PATH_MAX])
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
static bool fd_differ(const struct op *o)
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
static void clock_past(char names[MAXPATHS][PATH_MAX], int n,
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

/* fd's bytes [from, to) all zeros (a range too long to read: yes) */
static bool zeros(int fd, off_t from, off_t to)
{
	static char buf[1 << 16];

	if (to - from > 4 * MAXFILE)
		return true;
	while (from < to) {
		size_t n = (size_t)(to - from < (off_t)sizeof(buf) ?
					    to - from :
					    (off_t)sizeof(buf));
		ssize_t got = pread(fd, buf, n, from);

		if (got <= 0)
			return got == 0;
		for (ssize_t i = 0; i < got; i++)
			if (buf[i])
				return false;
		from += got;
	}
	return true;
}

/*
 * A SEEK_DATA/SEEK_HOLE answer true to the bytes: no data skipped, a hole
 * of zeros.  Where unwritten (fallocated) blocks are, filesystems differ
 * and may: tmpfs counts them as data, ext4, XFS and kvfs as holes.
 */
static bool seek_true(int wfd, int whence, off_t off, const struct res *r)
{
	char p[64];
	struct stat st;
	bool ok;
	int fd;

	/* the call's descriptor may be write-only: a reader of the file */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", wfd);
	fd = open(p, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || off < 0)
		ok = false;
	else if (off >= st.st_size)
		ok = r->ret < 0 && r->err == ENXIO;
	else if (whence == SEEK_DATA && r->ret < 0)
		ok = r->err == ENXIO && zeros(fd, off, st.st_size);
	else if (whence == SEEK_DATA)
		ok = r->ret >= off && r->ret < st.st_size &&
		     zeros(fd, off, r->ret);
	else
		ok = r->ret >= off && r->ret <= st.st_size &&
		     (r->ret == st.st_size || zeros(fd, r->ret, r->ret + 1));
	close(fd);
	return ok;
}

/*
 * A result the reference gives for its own limits: the xattr space of
 * tmpfs (or ext4's one block) for a large value.
 */
static bool filtered_result(const struct op *o, const struct res r[2])
{
	struct stat st;

	/*
	 * SEEK_END/DATA/HOLE in a directory: each filesystem's own llseek
	 * (tmpfs EINVAL; FUSE's and ext4's by the directory's size)
	 */
	if (o->kind == K_LSEEK && o->flags != SEEK_SET &&
	    o->flags != SEEK_CUR && S[0].fd[o->slot] >= 0 &&
	    !fstat(S[0].fd[o->slot], &st) && S_ISDIR(st.st_mode)) {
		filtered_seek++;
		/* the two positions may differ now: both back at 0 */
		lseek(S[0].fd[o->slot], 0, SEEK_SET);
		lseek(S[1].fd[o->slot], 0, SEEK_SET);
		return true;
	}
	/*
	 * SEEK_DATA/SEEK_HOLE in a file ending in the last page below
	 * 2^63: the kernel's mapping_seek_hole_data() (tmpfs) rounds its end
	 * up past LLONG_MAX and finds no data there (kvfs does)
	 */
	if (o->kind == K_LSEEK &&
	    (o->flags == SEEK_DATA || o->flags == SEEK_HOLE) &&
	    S[1].fd[o->slot] >= 0 && !fstat(S[1].fd[o->slot], &st) &&
	    st.st_size > INT64_MAX - 4096) {
		filtered_seek++;
		lseek(S[0].fd[o->slot], 0, SEEK_SET);
		lseek(S[1].fd[o->slot], 0, SEEK_SET);
		return true;
	}
	if (o->kind == K_LSEEK &&
	    (o->flags == SEEK_DATA || o->flags == SEEK_HOLE) &&
	    (r[0].ret != r[1].ret || r[0].err != r[1].err) &&
	    S[1].fd[o->slot] >= 0 &&
	    seek_true(S[1].fd[o->slot], o->flags, o->a, &r[0]) &&
	    seek_true(S[1].fd[o->slot], o->flags, o->a, &r[1])) {
		filtered_seek++;
		lseek(S[0].fd[o->slot], 0, SEEK_SET);
		lseek(S[1].fd[o->slot], 0, SEEK_SET);
		return true;
	}
	/*
	 * chown(f, -1, -1) by a non-owner of a SUID file held open for
	 * writing, without the writeback cache: FUSE sends it as the bare
	 * SUID kill of a write (HANDLE_KILLPRIV_V2), which kvfs then must
	 * allow (fs/fuse/ops.c bare_kill_denied()); Linux refuses the chown
	 * (EPERM).  The reference takes kvfs's mode after it.
	 */
	if ((o->kind == K_CHOWN || o->kind == K_FCHOWN) && o->a == -1 &&
	    o->b == -1 && r[0].ret == 0 && r[1].err == EPERM) {
		char pa[FULLPATH], pb[FULLPATH];

		filtered_chown++;
		fullpath(&S[0], o->p1, pa);
		fullpath(&S[1], o->p1, pb);
		if (o->kind == K_FCHOWN && !fstat(S[0].fd[o->slot], &st))
			fchmod(S[1].fd[o->slot], st.st_mode & 07777);
		else if (o->kind == K_CHOWN && !stat(pa, &st))
			chmod(pb, st.st_mode & 07777);
		return true;
	}
	if ((o->kind == K_SETXATTR || o->kind == K_FSETXATTR) &&
	    o->a > XATTR_SMALL && (r[1].err == ENOSPC || r[1].err == E2BIG)) {
		filtered++;
		return true;
	}
	return false;
}

/*
 * truncate() to the size the file has: Linux stamps nothing, kvfs without
 * the writeback cache stamps mtime and ctime.  FUSE sends it as the same
 * SETATTR as open(O_TRUNC)'s (no file, no times: fuse's update_mtime()),
 * which must stamp them; the daemon cannot tell them apart.
 */
static bool same_size_truncate(const struct op *o, int i,
			       const struct snap pre[2])
{
	return o->kind == K_TRUNC && i == 0 && !pre[1].err &&
	       S_ISREG(pre[1].st.st_mode) && pre[1].st.st_size == o->a;
}

/* after a filtered setxattr: the name gone from both sides */
static void filtered_undo(const struct op *o)
{
	for (int s = 0; s < 2; s++) {
		char p[FULLPATH];

		fullpath(&S[s], o->p1, p);
		lremovexattr(p, o->p2);
	}
}

static bool res_differ(const struct op *o, const struct res r[2])
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

/* ---- a run ---- */

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* what cannot be removed shows in the next run's trees */
	if (flag == FTW_DP)
		rmdir(p);
	else
		unlink(p);
	return 0;
}

static void side_reset(struct side *s)
{
	for (int i = 0; i < NSLOT; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
}

static int side_start(struct side *s)
{
	snprintf(s->base, sizeof(s->base), "%s/difftest.%d.%ld", s->root,
		 (int)getpid(), run_no);
	nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(s->base, 0777) || chmod(s->base, 0777))
		return -errno;
	side_reset(s);
	return 0;
}

static void side_end(struct side *s)
{
	side_reset(s);
	/* a tree changed by fsuid 1000 may hold 0000 dirs: root removes */
	nftw(s->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Run ops[idx[0..n-1]] on fresh trees; the index of the call where the
 * sides first differed (diff_msg says how), or -1.  kind_only >= 0: a
 * difference at another kind of call does not count (minimising).
 */
static long run(const long *idx, long n, int kind_only, bool quiet, bool draw)
{
	long bad = -1;

	run_no++;
	set_cred(0, 0);
	if (side_start(&S[0]) || side_start(&S[1])) {
		fprintf(stderr, "kvfs-difftest: cannot make the trees: %s\n",
			strerror(errno));
		exit(2);
	}
	for (long j = 0; j < n; j++) {
		const struct op *o = &ops[idx[j]];
		char names[MAXPATHS][PATH_MAX];
		struct snap pre[MAXPATHS][2], post[2], fdpre[2];
		struct res r[2] = { { 0 } };
		uid_t uid = cur_uid;
		bool d = false, skip_times;
		int nn;

		if (draw)
			op_draw_live(&ops[idx[j]]);
		if (o->kind == K_CRED) {
			set_cred((uid_t)o->a, (gid_t)o->b);
			continue;
		}
		nn = touched(o, names);
		set_cred(0, 0);
		/* a call on an open file: its stamps, by fstat */
		for (int s = 0; s < 2; s++) {
			int fd = S[s].fd[o->slot];

			fdpre[s].err = nn || o->kind == K_CLOSE || fd < 0 ||
				       fstat(fd, &fdpre[s].st);
		}
		clock_past(names, nn, fdpre);
		for (int i = 0; i < nn; i++)
			for (int s = 0; s < 2; s++)
				snap_take(&S[s], names[i], &pre[i][s]);
		set_cred(uid, uid == 0 ? 0 : (gid_t)uid);
		for (int s = 0; s < 2; s++)
			op_run(&S[s], o, s, &r[s]);
		set_cred(0, 0);
		skip_times = filtered_result(o, r);
		if (skip_times) {
			if (o->kind == K_SETXATTR || o->kind == K_FSETXATTR)
				filtered_undo(o);
		} else
			d = res_differ(o, r);
		free(r[0].data);
		free(r[1].data);
		known_update(o, r[1].ret);
		if (r[1].err)
			n_err[o->kind]++;
		else
			n_ok[o->kind]++;
		for (int i = 0; !d && i < nn; i++) {
			for (int s = 0; s < 2; s++)
				snap_take(&S[s], names[i], &post[s]);
			d = snap_differ(names[i], &post[0], &post[1]);
			if (!d && same_size_truncate(o, i, pre[i]))
				filtered_times++;
			/* a filtered call changed one side only */
			else if (!d && !skip_times)
				d = times_differ(names[i], pre[i], post);
		}
		if (!d && o->slot >= 0 && nn == 0)
			d = fd_differ(o);
		/*
		 * A FIFO's data never reaches a FUSE daemon: the kernel's
		 * pipe stamps the inode, a local filesystem keeps the stamp
		 */
		if (!d && !skip_times && !fdpre[1].err &&
		    S_ISFIFO(fdpre[1].st.st_mode) &&
		    (o->kind == K_WRITE || o->kind == K_READ))
			filtered_fifo++;
		else if (!d && !skip_times && !fdpre[0].err && !fdpre[1].err) {
			char what[32];

			for (int s = 0; s < 2; s++)
				post[s].err =
					fstat(S[s].fd[o->slot], &post[s].st);
			snprintf(what, sizeof(what), "slot %d", o->slot);
			d = times_differ(what, fdpre, post);
		}
		if (!d && (check_every && (j + 1) % check_every == 0))
			d = tree_differ(".");
		set_cred(uid, uid == 0 ? 0 : (gid_t)uid);
		if (verbose > 1) {
			fprintf(stderr, "uid %u -> %s ", uid,
				r[1].err ? strerror(r[1].err) : "ok");
			op_print(stderr, idx[j], o);
		}
		if (d && (kind_only < 0 || (int)o->kind == kind_only)) {
			bad = j;
			if (!quiet) {
				fprintf(stderr,
					"DIFF at call %ld (uid %u): %s\n",
					idx[j], uid, diff_msg);
				op_print(stderr, idx[j], o);
			}
			if (!keep_going || quiet)
				break;
		} else if (d) {
			break;
		}
	}
	set_cred(0, 0);
	if (bad < 0 && tree_differ(".")) {
		bad = n;
		if (!quiet)
			fprintf(stderr, "DIFF at the end: %s\n", diff_msg);
	}
	side_end(&S[0]);
	side_end(&S[1]);
	return bad;
}

/* Leave out calls while the difference (at the same kind of call) stays. */
static void minimize(long *idx, long n, long bad)
{
	int kind = bad < n ? (int)ops[idx[bad]].kind : -1;
	long trials = 0, chunk;
	long *try = malloc(sizeof(*try) * (size_t)n);

	n = bad < n ? bad + 1 : n;
	for (chunk = n / 2; chunk >= 1 && trials < 600; chunk /= 2) {
		for (long start = 0; start < n && trials < 600;) {
			long m = 0, b;

			for (long j = 0; j < n; j++)
				if (j < start || j >= start + chunk)
					try[m++] = idx[j];
			trials++;
			b = m ? run(try, m, kind, true, false) : -1;
			if (b >= 0) {
				n = b + 1;
				memcpy(idx, try, sizeof(*idx) * (size_t)n);
			} else {
				start += chunk;
			}
		}
	}
	keep_going = false;
	printf("minimal reproducer (%ld calls, %ld trials):\n", n, trials);
	for (long j = 0; j < n; j++)
		op_print(stdout, idx[j], &ops[idx[j]]);
	if (run(idx, n, kind, false, false) >= 0)
		printf("  -> %s\n", diff_msg);
	free(try);
}

/*
 * The fallocate modes root's filesystem has; COLLAPSE_RANGE and
 * INSERT_RANGE are drawn only when both sides have them (kvfs has not).
 */
static int probe_falloc(const char *root, bool has[3])
{
	static const int modes[] = { FALLOC_FL_ZERO_RANGE,
				     FALLOC_FL_COLLAPSE_RANGE,
				     FALLOC_FL_INSERT_RANGE };
	char p[PATH_MAX];
	char buf[8192] = { 0 };
	int fd;

	snprintf(p, sizeof(p), "%s/difftest-probe.%d", root, (int)getpid());
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	unlink(p);
	for (int i = 0; i < 3; i++) {
		if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf))
			break;
		has[i] = !fallocate(fd, modes[i], 0, 4096) ||
			 errno != EOPNOTSUPP;
	}
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvfs-difftest DIR REFDIR [options]\n"
		"  the same random system calls under DIR (kvfs) and REFDIR\n"
		"  (tmpfs or ext4), every result and attribute compared\n"
		"  --seed N      first seed (1)\n"
		"  --seeds N     seeds to run, N in a row from --seed (1)\n"
		"  --ops N       calls per seed (2000)\n"
		"  --check N     compare the whole trees every N calls (16;\n"
		"                0: at the end only)\n"
		"  --minimize    a difference: print a minimal reproducer\n"
		"  --keep-going  report every difference of a seed\n"
		"  -v            print the calls (twice: every call)\n"
		"  -h, --help    this help\n"
		"exit status: 0 the same, 1 a difference, 2 usage/setup\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seeds", required_argument, NULL, 'n' },
		{ "ops", required_argument, NULL, 'o' },
		{ "check", required_argument, NULL, 'c' },
		{ "minimize", no_argument, NULL, 'm' },
		{ "keep-going", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long seed = 1, seeds = 1, bad_seeds = 0;
	bool min = false;
	long *idx;
	int c;

	while ((c = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			seeds = strtoul(optarg, NULL, 0);
			break;
		case 'o':
			nops = strtol(optarg, NULL, 0);
			break;
		case 'c':
			check_every = strtol(optarg, NULL, 0);
			break;
		case 'm':
			min = true;
			break;
		case 'k':
			keep_going = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || nops <= 0 || check_every < 0) {
		usage(stderr);
		return 2;
	}
	if (geteuid()) {
		fprintf(stderr, "kvfs-difftest: needs root (setfsuid)\n");
		return 2;
	}
	S[0].root = argv[optind];
	S[1].root = argv[optind + 1];
	for (int s = 0; s < 2; s++)
		for (int i = 0; i < NSLOT; i++)
			S[s].fd[i] = -1;
	for (int s = 0; s < 2; s++) {
		bool has[3];

		if (probe_falloc(S[s].root, has)) {
			fprintf(stderr, "kvfs-difftest: %s: %s\n", S[s].root,
				strerror(errno));
			return 2;
		}
		/* [0]: the reference's (a ZERO_RANGE is emulated there) */
		for (int i = 0; i < 3; i++)
			ref_falloc[i] =
				s ? has[i] && (i == 0 || ref_falloc[i]) :
				    has[i];
	}
	umask(022);
	/* a write to a FIFO whose reader closed: EPIPE, compared */
	signal(SIGPIPE, SIG_IGN);
	/* the callers all in group 1001 too: the SGID and chgrp rules */
	if (setgroups(1, &(gid_t){ 1001 })) {
		perror("kvfs-difftest: setgroups");
		return 2;
	}
	ops = calloc((size_t)nops, sizeof(*ops));
	idx = malloc(sizeof(*idx) * (size_t)nops);
	for (unsigned long k = 0; k < seeds; k++, seed++) {
		long bad;

		rng = seed * 0x9e3779b97f4a7c15ull + 1;
		nknown = 0;
		for (long i = 0; i < nops; i++)
			idx[i] = i;
		bad = run(idx, nops, -1, false, true);
		printf("seed %lu: %ld calls, %s\n", seed, nops,
		       bad < 0 ? "same" : "DIFFERENT");
		fflush(stdout);
		if (bad >= 0) {
			bad_seeds++;
			if (min)
				minimize(idx, nops, bad);
		}
	}
	printf("filtered: %ld setxattr results (the xattr limits), %ld lseek "
	       "results (in a directory, near 2^63, unwritten blocks), %ld "
	       "stamps of truncate() to the same size, %ld FIFO stamps, %ld "
	       "chown(-1, -1) kills\n",
	       filtered, filtered_seek, filtered_times, filtered_fifo,
	       filtered_chown);
	if (verbose)
		for (int k = 0; k < K_NKIND; k++)
			printf("  %-12s %6ld ok %6ld failed\n", kind_name[k],
			       n_ok[k], n_err[k]);
	free(ops);
	free(idx);
	return bad_seeds ? 1 : 0;
}
