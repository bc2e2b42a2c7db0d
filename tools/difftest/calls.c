// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's calls on one side (difftest.h): a drawn call made under
 * one tree, as the user set_cred() last set, its result and errno kept
 * with the bytes it returned.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/falloc.h>

#include "difftest.h"

uid_t cur_uid;

/* out: FULLPATH bytes (a long path is the kernel's ENAMETOOLONG) */
void fullpath(const struct side *s, const char *rel, char *out)
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
void set_cred(uid_t uid, gid_t gid)
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

void op_run(struct side *s, const struct op *o, int which, struct res *r)
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

void op_print(FILE *f, long i, const struct op *o)
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
