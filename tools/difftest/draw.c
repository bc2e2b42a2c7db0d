// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's calls, drawn from a seed (difftest.h): how often each
 * kind, on which names (a few short ones, "." and "..", the longest and
 * one past it), with which flags, modes, offsets and sizes.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <linux/falloc.h>

#include "difftest.h"

const char *const kind_name[K_NKIND] = {
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

void draw_start(unsigned long seed)
{
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	nknown = 0;
}

static void known_add(const char *p)
{
	unsigned i = nknown < NKNOWN ? nknown++ : rn(NKNOWN);

	/* no drawn path is longer: the bound says so to gcc */
	snprintf(known[i], PATH_MAX, "%.*s", PATH_MAX - 1, p);
}

void op_draw_live(struct op *o)
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

void known_update(const struct op *o, long ret)
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
