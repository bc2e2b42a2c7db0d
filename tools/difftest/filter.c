// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-difftest's filters (difftest.h's list): the differences between
 * kvfs and the reference that are each filesystem's right, passed and
 * counted, the sides put back in step where a filtered call left them
 * apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "difftest.h"

long filtered, filtered_seek, filtered_times, filtered_fifo;
long filtered_chown;

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
bool filtered_result(const struct op *o, const struct res r[2])
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
bool same_size_truncate(const struct op *o, int i, const struct snap pre[2])
{
	return o->kind == K_TRUNC && i == 0 && !pre[1].err &&
	       S_ISREG(pre[1].st.st_mode) && pre[1].st.st_size == o->a;
}

/* after a filtered setxattr: the name gone from both sides */
void filtered_undo(const struct op *o)
{
	for (int s = 0; s < 2; s++) {
		char p[FULLPATH];

		fullpath(&S[s], o->p1, p);
		lremovexattr(p, o->p2);
	}
}
