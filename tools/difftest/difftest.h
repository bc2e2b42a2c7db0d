/* SPDX-License-Identifier: GPL-2.0 */
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
 *
 * The pieces (tools/difftest/): draw.c draws the calls from the seed,
 * calls.c makes one call on one side, compare.c compares the two sides
 * (results, attributes, stamps, whole trees), filter.c passes the
 * differences listed above, run.c runs a seed's calls on fresh trees and
 * minimises a difference, main.c reads the command line and runs the
 * seeds.  The state they share is declared here, each with the file that
 * defines it; all other state is its file's own.
 */
#ifndef KV_TOOLS_DIFFTEST_DIFFTEST_H
#define KV_TOOLS_DIFFTEST_DIFFTEST_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NSLOT 6 /* descriptors a side holds, by slot */
#define MAXFILE (1 << 20) /* most offsets drawn are below it */
#define MAXIO (128 << 10) /* the largest read or write drawn */
#define XATTR_SMALL 1024 /* a larger value the reference may refuse */
#define MAXPATHS 6 /* room for the names a call touches */
#define LONGNAME 255 /* the longest name */
#define FULLPATH (PATH_MAX + 256 + 2) /* a side's base, '/', a path */

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

/* the result of one call on one side */
struct res {
	long ret;
	int err;
	size_t n; /* bytes of data, compared */
	char *data;
};

/* an lstat() of a name, or the errno it gave */
struct snap {
	int err;
	struct stat st;
};

/* the command line (main.c); minimize() clears keep_going for its replay */
extern long check_every;
extern int verbose;
extern bool keep_going;
/* ZERO_RANGE (the reference), COLLAPSE_RANGE, INSERT_RANGE (both sides) */
extern bool ref_falloc[3];

/* the two trees, [0] under DIR and [1] under REFDIR (run.c) */
extern struct side S[2];
/* a seed's calls: drawn by its first run, kept for --minimize (run.c) */
extern struct op *ops;
/* per kind: calls that succeeded, calls that failed (alike) (run.c) */
extern long n_ok[K_NKIND], n_err[K_NKIND];

/* the user of the calls (calls.c, set_cred()) */
extern uid_t cur_uid;
/* how the sides last differed (compare.c) */
extern char diff_msg[1024];
/* the differences passed, by reason (filter.c; run.c counts two) */
extern long filtered, filtered_seek, filtered_times, filtered_fifo;
extern long filtered_chown;

/* draw.c: the calls, from a seed */
extern const char *const kind_name[K_NKIND];
/* The draws of a new seed: its sequence, no names known yet. */
void draw_start(unsigned long seed);
/* The next call: on a name known to exist or a descriptor open, mostly. */
void op_draw_live(struct op *o);
/* The names a call made (ret >= 0), for the next draws. */
void known_update(const struct op *o, long ret);

/* calls.c: one call on one side */
void fullpath(const struct side *s, const char *rel, char *out);
void set_cred(uid_t uid, gid_t gid);
/* which: 0 the kvfs side, 1 the reference (its emulated ZERO_RANGE) */
void op_run(struct side *s, const struct op *o, int which, struct res *r);
void op_print(FILE *f, long i, const struct op *o);

/*
 * compare.c: the two sides.  Each *_differ() returns true at a
 * difference, said in diff_msg.
 */
void snap_take(const struct side *s, const char *rel, struct snap *sn);
bool snap_differ(const char *rel, const struct snap *a, const struct snap *b);
bool times_differ(const char *rel, const struct snap pre[2],
		  const struct snap post[2]);
bool tree_differ(const char *rel);
int touched(const struct op *o, char names[MAXPATHS][PATH_MAX]);
bool fd_differ(const struct op *o);
void clock_past(char names[MAXPATHS][PATH_MAX], int n,
		const struct snap fdpre[2]);
bool res_differ(const struct op *o, const struct res r[2]);

/* filter.c: the differences listed above, each counted */
bool filtered_result(const struct op *o, const struct res r[2]);
bool same_size_truncate(const struct op *o, int i, const struct snap pre[2]);
void filtered_undo(const struct op *o);

/* run.c: a seed's calls on fresh trees */
long run(const long *idx, long n, int kind_only, bool quiet, bool draw);
void minimize(long *idx, long n, long bad);

#endif
