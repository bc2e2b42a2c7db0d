// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_copy_file_range() (fs/kvfs.h), over the core's own calls.
 *
 * The format has no shared extents (no reflink), so "block-level copy"
 * means: the source's data extents are found with SEEK_DATA/SEEK_HOLE,
 * read from the device and written to the destination through a bounce
 * buffer of up to 1 MiB in the caller's process (a smaller one when memory
 * is short: a copy fails with ENOMEM only where one page cannot be had);
 * the FUSE daemon answers COPY_FILE_RANGE with it, so the bytes never
 * travel through the kernel and back.  A hole of the
 * source becomes a hole of the destination (punched where the
 * destination has blocks, skipped past its end).  The checks and their
 * order are those of Linux's generic_copy_file_checks().  Not atomic
 * against other writers of either range, as copy_file_range(2) is not.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/file.h"
#include "fs/format.h"
#include "fs/inode/icache.h"
#include "fs/inode/iflags.h"
#include "fs/kvfs.h"

#define COPY_CHUNK (1u << 20)
#define COPY_MIN (4u << 10)

/*
 * The bounce buffer: len rounded up to a page, at most COPY_CHUNK, halved
 * while the allocator refuses it, down to COPY_MIN.
 */
static char *copy_buf(uint64_t len, size_t *size)
{
	size_t n = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
	char *buf;

	n = (n + COPY_MIN - 1) & ~(size_t)(COPY_MIN - 1);
	for (; n > COPY_MIN; n /= 2) {
		buf = kvmalloc(n, KV_NOWARN);
		if (buf) {
			*size = n;
			return buf;
		}
	}
	*size = COPY_MIN;
	return kvmalloc(COPY_MIN, 0);
}

static int check_file(struct kvfs_mount *mp, uint64_t ino, struct kvfs_stat *st)
{
	int err = kvfs_getattr(mp, ino, st);

	if (err)
		return err;
	if (S_ISDIR(st->mode))
		return -EISDIR;
	if (!S_ISREG(st->mode))
		return -EINVAL;
	return 0;
}

/* Zeros over [off, off + len) of out, whose size is size: a hole. */
static int copy_hole(struct kvfs_mount *mp, uint64_t out, uint64_t off,
		     uint64_t len, uint64_t size)
{
	/* past the end it is a hole already: the size is set at the end */
	if (off >= size)
		return 0;
	if (len > size - off)
		len = size - off;
	return kvfs_fallocate(mp, out,
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)off, (off_t)len);
}

/* [off_in, off_in + len) of data: the bytes copied or a negative errno */
static ssize_t copy_data(struct kvfs_mount *mp, uint64_t in, uint64_t off_in,
			 uint64_t out, uint64_t off_out, uint64_t len,
			 char *buf, size_t bufsize)
{
	uint64_t done = 0;

	while (done < len) {
		size_t n = len - done < bufsize ? len - done : bufsize;
		ssize_t r, w;

		r = kvfs_read(mp, in, buf, n, (off_t)(off_in + done));
		if (r <= 0)
			return done ? (ssize_t)done : r;
		w = kvfs_write(mp, out, buf, r, (off_t)(off_out + done), 0);
		if (w < 0)
			return done ? (ssize_t)done : w;
		done += w;
		if (w < r)
			break; /* ENOSPC after some bytes */
	}
	return done;
}

/*
 * A hole of the source skipped past the destination's end was counted in
 * *done but never written: the size moves over it, whether the copy went
 * on or was cut after it (ENOSPC at the next data).  Where the size cannot
 * move, *done shrinks to what the size covers: a count past the end
 * promised bytes the file does not have (the kernel, under the writeback
 * cache, took that end as its size, and a copy from the file read 0
 * bytes there).
 */
static int cover_count(struct kvfs_mount *mp, uint64_t out, uint64_t off,
		       uint64_t *done)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE,
				   .size = off + *done };
	struct kvfs_cred root = { 0 };
	struct kvfs_stat now;
	int err;

	err = kvfs_getattr(mp, out, &now);
	if (err) {
		*done = 0;
		return err;
	}
	if (now.size >= off + *done)
		return 0;
	err = kvfs_setattr(mp, out, &sa, &root, NULL);
	if (err)
		*done = now.size > off ? now.size - off : 0;
	return err;
}

ssize_t kvfs_copy_file_range(struct kvfs_mount *mp, uint64_t in, off_t off_in,
			     uint64_t out, off_t off_out, size_t len,
			     unsigned flags)
{
	struct kvfs_stat si, so;
	struct kvfs_inode *ip;
	uint64_t pos, end, done = 0;
	size_t bufsize;
	char *buf;
	int err;

	if (flags || off_in < 0 || off_out < 0)
		return -EINVAL;
	err = check_file(mp, in, &si);
	if (!err)
		err = check_file(mp, out, &so);
	/* an append-only file is written only at its end (O_APPEND) */
	if (!err)
		err = kvfs_file_get(mp, out, &ip);
	if (err)
		return err;
	err = kvfs_iflags_may_change(ip);
	kvfs_iput(ip);
	if (err)
		return err;
	if (len > (uint64_t)INT64_MAX - off_in ||
	    len > (uint64_t)INT64_MAX - off_out)
		return -EOVERFLOW;
	/* shortened to the source's end of file */
	len = (uint64_t)off_in >= si.size ? 0 :
	      len < si.size - off_in	  ? len :
					    si.size - off_in;
	if ((uint64_t)off_out >= KVFS_MAX_FILE_OFFSET)
		return -EFBIG;
	if (len > KVFS_MAX_FILE_OFFSET - off_out)
		len = KVFS_MAX_FILE_OFFSET - off_out;
	if (in == out && (uint64_t)off_out + len > (uint64_t)off_in &&
	    (uint64_t)off_out < (uint64_t)off_in + len)
		return -EINVAL;
	if (!len)
		return 0;
	buf = copy_buf(len, &bufsize);
	if (!buf)
		return -ENOMEM;
	pos = off_in;
	end = off_in + len;
	while (pos < end) {
		off_t data, hole;
		uint64_t want;
		ssize_t n;

		err = kvfs_lseek(mp, in, (off_t)pos, SEEK_DATA, &data);
		if (err == -ENXIO)
			data = (off_t)end; /* a hole up to the end */
		else if (err)
			break;
		if ((uint64_t)data > end)
			data = (off_t)end;
		if ((uint64_t)data > pos) {
			err = copy_hole(mp, out, off_out + done, data - pos,
					so.size);
			if (err)
				break;
			done += data - pos;
			pos = data;
			continue;
		}
		err = kvfs_lseek(mp, in, (off_t)pos, SEEK_HOLE, &hole);
		if (err)
			break;
		if ((uint64_t)hole > end || hole <= data)
			hole = (off_t)end;
		want = hole - pos;
		n = copy_data(mp, in, pos, out, off_out + done, want, buf,
			      bufsize);
		if (n < 0) {
			err = (int)n;
			break;
		}
		done += n;
		pos += n;
		if ((uint64_t)n < want)
			break; /* short: ENOSPC, or the source shrank */
	}
	kvfree(buf);
	if (done && off_out + done > so.size) {
		int e = cover_count(mp, out, (uint64_t)off_out, &done);

		if (!err)
			err = e;
	}
	/*
	 * The source was read, its holes too (which kvfs_read() never saw):
	 * its atime moves as a read's, as splice moves it on ext4 and tmpfs.
	 */
	if (done && !kvfs_file_get(mp, in, &ip)) {
		kvfs_file_touch_atime(ip);
		kvfs_iput(ip);
	}
	/* as write(2): what was copied counts, the error is for next time */
	if (done)
		return (ssize_t)done;
	return err;
}
