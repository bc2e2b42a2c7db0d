// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's I/O workloads (bench.h): 1 MiB sequential and 4 KiB
 * random reads and writes on a target, a kvfs file or the raw file, that
 * fill() writes whole first; and truncate_1g.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static ssize_t t_write(struct target *t, const void *buf, size_t len,
		       uint64_t off)
{
	if (t->mp)
		return kvfs_write(t->mp, t->ino, buf, len, (off_t)off, 0);
	return pwrite(t->fd, buf, len, (off_t)off) < 0 ? -errno : (ssize_t)len;
}

static ssize_t t_read(struct target *t, void *buf, size_t len, uint64_t off)
{
	ssize_t n;

	if (t->mp)
		return kvfs_read(t->mp, t->ino, buf, len, (off_t)off);
	n = pread(t->fd, buf, len, (off_t)off);
	return n < 0 ? -errno : n;
}

int t_truncate(struct target *t, uint64_t size)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };
	struct kvfs_cred cr = { 0 };

	if (t->mp)
		return kvfs_setattr(t->mp, t->ino, &sa, &cr, NULL);
	return ftruncate(t->fd, (off_t)size) ? -errno : 0;
}

int tmpfile_ino(uint64_t *ino)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	int err = kvfs_tmpfile(mp, kvfs_root_ino(mp), 0100600, &cr, &st);

	if (!err)
		*ino = st.ino;
	return err;
}

/*
 * --fill random: the FILL_CHUNK pieces of the target in a random order,
 * so that no two neighbours in the file are neighbours on the device: a
 * kvfs file of one extent per piece, its map a B+tree (fs/data/iext.c),
 * which a sequential fill (one extent per AG, kept in the inode) never
 * makes rand_read walk.
 */
static int fill_random(struct target *t, void *buf)
{
	uint64_t n = opt_size / FILL_CHUNK, rs = 0x2545f4914f6cdd1dull;
	uint32_t *order = malloc(n * sizeof(*order));
	int err = 0;

	if (!order)
		return -ENOMEM;
	for (uint64_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = xorshift(&rs) % (i + 1);
		uint32_t x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (uint64_t i = 0; i < n && !err; i++) {
		ssize_t w = t_write(t, buf, FILL_CHUNK,
				    (uint64_t)order[i] * FILL_CHUNK);

		if (w < 0)
			err = (int)w;
	}
	free(order);
	return err;
}

/*
 * Write every byte of the target once (untimed), from empty: 1 MiB at a
 * time in one sequential stream, whatever a failed run left, or with
 * --fill random in pieces in a random order.
 */
int fill(struct target *t)
{
	void *buf;
	int err;

	if (t->filled)
		return 0;
	err = t_truncate(t, 0);
	if (err)
		return err;
	buf = aligned_alloc(4096, SEQ_IO);
	if (!buf)
		return -ENOMEM;
	memset(buf, 0x6b, SEQ_IO);
	if (opt_fill_random)
		err = fill_random(t, buf);
	for (uint64_t off = 0; off < opt_size && !err && !opt_fill_random;
	     off += SEQ_IO) {
		ssize_t n = t_write(t, buf, SEQ_IO, off);

		if (n < 0)
			err = (int)n;
	}
	free(buf);
	t->filled = !err;
	return err;
}

void io_loop(struct worker *w, bool seq, bool write)
{
	size_t io = seq ? SEQ_IO : RAND_IO;
	uint64_t slice = opt_size / w->nthreads / SEQ_IO * SEQ_IO;
	uint64_t base = slice * w->idx, pos = 0;
	uint64_t rs = 0x9e3779b97f4a7c15ull * (w->idx + 1);
	uint64_t blocks = opt_size / RAND_IO;
	void *buf = aligned_alloc(4096, io);
	unsigned calls = 0;

	if (!buf) {
		w->err = -ENOMEM;
		return;
	}
	memset(buf, 0x5a + w->idx, io);
	while (!bench_stopped(&calls, 15)) {
		uint64_t off;
		ssize_t n;

		if (seq) {
			off = base + pos;
			pos = pos + io >= slice ? 0 : pos + io;
		} else {
			off = xorshift(&rs) % blocks * RAND_IO;
		}
		n = write ? t_write(w->t, buf, io, off) :
			    t_read(w->t, buf, io, off);
		if (n != (ssize_t)io) {
			w->err = n < 0 ? (int)n : -EIO;
			break;
		}
		w->ops++;
	}
	free(buf);
}

/*
 * Build a 1 GiB file of 1 MiB extents: fallocate each MiB, then 4 KiB of
 * a spacer file right after it, so the next MiB cannot extend the extent.
 */
static int build_1g(uint64_t ino, uint64_t spacer)
{
	int err = 0;

	for (uint64_t off = 0; off < TRUNC_SIZE && !err; off += TRUNC_EXTENT) {
		err = kvfs_fallocate(mp, ino, 0, (off_t)off, TRUNC_EXTENT);
		if (!err)
			err = kvfs_fallocate(
				mp, spacer, 0,
				(off_t)(off / TRUNC_EXTENT * RAND_IO), RAND_IO);
	}
	return err;
}

void truncate_loop(struct worker *w)
{
	struct target t = { .mp = mp };
	uint64_t spacer;
	unsigned calls = 0;

	w->err = tmpfile_ino(&t.ino);
	if (w->err)
		return;
	w->err = tmpfile_ino(&spacer);
	if (w->err) {
		kvfs_inode_close(mp, t.ino);
		return;
	}
	/* at least one truncate, however short the run */
	do {
		struct target sp = { .mp = mp, .ino = spacer };
		double t0;

		w->err = build_1g(t.ino, spacer);
		if (w->err)
			break;
		t0 = now();
		w->err = t_truncate(&t, 0);
		w->busy += now() - t0;
		if (!w->err)
			w->err = t_truncate(&sp, 0);
		if (w->err)
			break;
		w->ops++;
	} while (!bench_stopped(&calls, 0));
	kvfs_inode_close(mp, t.ino);
	kvfs_inode_close(mp, spacer);
}
