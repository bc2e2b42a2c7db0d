// SPDX-License-Identifier: GPL-2.0
/*
 * The data path (fs/data/file.h) through the public API of fs/kvfs.h:
 *   fsx:      seeded random write / read / punch / zero range / fallocate /
 *             truncate up and down / seek data and hole / fsync against a
 *             model of the bytes, of which blocks hold data and of which
 *             are allocated; the whole file checked after every op, and
 *             after close + remount (scrub clean, block count exact);
 *   sparse:   a file at 16 TiB, seek data/hole across it, the last byte of
 *             the largest offset, EFBIG past it;
 *   enospc:   a small image filled: the exact error, the bytes written
 *             readable, scrub clean, a truncate gives back every block;
 *   wb_reserve: the write-back reserve: writes stop short of it, write
 *             backs take it (and say so), all of it read back;
 *   stale:    the data write of a write into freed blocks of another file
 *             fails, the allocation is forced, power cut: the file reads
 *             zeros, never the other file's bytes;
 *   crash:    every crash point of a write + fsync: the file shows its new
 *             bytes or zeros, all of them once fsync returned;
 *   preflush: a log write not from an fsync, the data still cached by a
 *             device whose unflushed sectors persist in any order: where
 *             the conversion persisted, all the data did;
 *   fsync:    durable after a power cut of a volatile write cache; forces
 *             only up to the inode's last change, fdatasync not at all
 *             after a timestamp-only change;
 *   stamps:   overwrites stamp mtime/ctime once per coarse clock tick,
 *             within the tick, and always when SUID must go or mtime
 *             is in the future; none with KVFS_WRITE_NOCMTIME;
 *   overwrite flush: a log write flushes first the data it orders
 *             (unwritten blocks, zeroed edges), not overwrites; an fsync
 *             flushes the device once;
 *   setattr:  the SUID/SGID and ctime rules (KVFS_SET_KEEP_CMTIME too),
 *             append, the errors;
 *   tmpfile:  an O_TMPFILE's blocks and inode freed at its last close;
 *   direct:   direct_io mounts: large writes O_DIRECT, all read back;
 *   threads:  4 threads appending their own files and rewriting their
 *             slots of a shared file (shared I/O lock) at once.
 * Named files are made with kvfs_dialloc() (links come with the namespace).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/dev.h"
#include "fs/data/file.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"
#include "journal/log_priv.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

static char path[256];

static void make_fs(uint64_t size)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = size,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static struct kvfs_mount *mount_fs(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = true };
	struct kvfs_mount *mp;
	/* flushes simulated (a fault that never fires): the image is scratch */
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE,
				  .fail_write = UINT64_MAX };

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
	return mp;
}

static uint64_t new_file(struct kvfs_mount *mp)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, mp->g.rootino, &a, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	ino = ip->i_ino;
	kvfs_iput(ip);
	return ino;
}

/*
 * The last close of ino (open once): its speculative blocks trimmed by
 * kvfs_inode_close(); opened again.
 */
static void file_close(struct kvfs_mount *mp, uint64_t ino)
{
	kvfs_inode_close(mp, ino);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
}

static struct kvfs_stat stat_of(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_setattr sa = { 0 };
	struct kvfs_stat st;

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, NULL, &st), 0);
	return st;
}

static uint64_t blocks_of(struct kvfs_mount *mp, uint64_t ino)
{
	return stat_of(mp, ino).blocks / (mp->g.blocksize / 512);
}

static void set_size(struct kvfs_mount *mp, uint64_t ino, uint64_t size)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, NULL, NULL), 0);
}

/* ino (0: none) is open before and after. */
static void remount_open(struct kvfs_mount **mpp, uint64_t ino)
{
	if (ino)
		kvfs_inode_close(*mpp, ino);
	CHECK_EQ(kvfs_mount_close(*mpp), 0);
	scrub_image_clean_unnamed(path);
	*mpp = mount_fs();
	if (ino)
		CHECK_EQ(kvfs_inode_open(*mpp, ino, 0), 0);
}

static void remount(struct kvfs_mount **mpp)
{
	CHECK_EQ(kvfs_mount_close(*mpp), 0);
	scrub_image_clean_unnamed(path);
	*mpp = mount_fs();
}

static void copy_file(const char *from, const char *to)
{
	static char buf[1 << 20];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	CHECK(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK_EQ(write(out, buf, (size_t)n), n);
	CHECK_EQ(n, 0);
	close(in);
	close(out);
}

/* ---- fsx ---- */

/*
 * With 512-byte inodes a fork holds 12 extents.  Smaller than
 * KVFS_PREALLOC_FROM: no speculative blocks (tests/file/test_release.c
 * and test_enospc.c have them).
 */
#define FSX_BLOCKS 8
#define BS 4096
#define FSX_MAX (FSX_BLOCKS * BS)

static struct {
	uint8_t data[FSX_MAX];
	uint64_t size;
	bool dat[FSX_BLOCKS]; /* a written block */
	bool alloc[FSX_BLOCKS];
	bool spec; /* past EOF is trimmed at close */
} m;

static uint64_t ceil_blk(uint64_t b)
{
	return (b + BS - 1) / BS;
}

static void model_free_from(uint64_t b)
{
	for (; b < FSX_BLOCKS; b++)
		m.dat[b] = m.alloc[b] = false;
}

static void model_trim(void)
{
	if (m.spec)
		model_free_from(ceil_blk(m.size));
	m.spec = false;
}

static void check_file(struct kvfs_mount *mp, uint64_t ino)
{
	static uint8_t buf[FSX_MAX + BS];
	struct kvfs_stat st = stat_of(mp, ino);

	CHECK_EQ(st.size, m.size);
	CHECK_EQ(kvfs_read(mp, ino, buf, sizeof(buf), 0), (ssize_t)m.size);
	if (memcmp(buf, m.data, m.size)) {
		for (uint64_t i = 0; i < m.size; i++)
			if (buf[i] != m.data[i]) {
				fprintf(stderr, "byte %llu: %02x, model %02x\n",
					(unsigned long long)i, buf[i],
					m.data[i]);
				break;
			}
		CHECK(0);
	}
}

static uint64_t model_blocks(void)
{
	uint64_t n = 0;

	for (int b = 0; b < FSX_BLOCKS; b++)
		n += m.alloc[b];
	return n;
}

static void check_blocks(struct kvfs_mount *mp, uint64_t ino)
{
	CHECK_EQ(blocks_of(mp, ino), model_blocks());
}

static void rand_range(uint64_t *off, uint64_t *len, uint64_t maxlen)
{
	*off = (uint64_t)rand() % FSX_MAX;
	*len = 1 + (uint64_t)rand() % maxlen;
	if (*off + *len > FSX_MAX)
		*len = FSX_MAX - *off;
}

static void fsx_seek(struct kvfs_mount *mp, uint64_t ino)
{
	uint64_t off = (uint64_t)rand() % (FSX_MAX + BS), b;
	off_t r;
	int err;

	err = kvfs_lseek(mp, ino, (off_t)off, SEEK_DATA, &r);
	for (b = off / BS; b < FSX_BLOCKS && !m.dat[b]; b++)
		;
	if (off >= m.size || b >= FSX_BLOCKS ||
	    (b * BS > off ? b * BS : off) >= m.size) {
		CHECK_EQ(err, -ENXIO);
	} else {
		CHECK_EQ(err, 0);
		CHECK_EQ((uint64_t)r, b * BS > off ? b * BS : off);
	}
	err = kvfs_lseek(mp, ino, (off_t)off, SEEK_HOLE, &r);
	for (b = off / BS; b < FSX_BLOCKS && m.dat[b]; b++)
		;
	if (off >= m.size) {
		CHECK_EQ(err, -ENXIO);
	} else {
		uint64_t want = b * BS > off ? b * BS : off;

		CHECK_EQ(err, 0);
		CHECK_EQ((uint64_t)r, want < m.size ? want : m.size);
	}
}

static unsigned fsx_counts[9];
/* speculative blocks seen past EOF before a close; most extents */
static unsigned fsx_spec_seen, fsx_max_extents;

static void fsx_note_extents(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	if (ip->i_nextents > fsx_max_extents)
		fsx_max_extents = ip->i_nextents;
	kvfs_iput(ip);
}

static void fsx_op(struct kvfs_mount *mp, uint64_t ino)
{
	static uint8_t buf[FSX_MAX + BS];
	unsigned op = (unsigned)rand() % 9;
	uint64_t off, len, end, b, spec;
	int mode;

	fsx_counts[op]++;
	switch (op) {
	case 0:
	case 1: /* write */
		rand_range(&off, &len, 3 * BS);
		for (uint64_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(1 + rand() % 255);
		end = off + len;
		/*
		 * An extending write that allocates preallocates as many
		 * blocks again as the file has (16..2048) past its end,
		 * unless the file is smaller than KVFS_PREALLOC_FROM.
		 */
		spec = 0;
		for (b = off / BS; b < ceil_blk(end); b++)
			if (!m.alloc[b] && end > m.size &&
			    m.size >= KVFS_PREALLOC_FROM)
				spec = 1;
		if (spec) {
			spec = blocks_of(mp, ino);
			spec = spec < KVFS_PREALLOC_MIN ? KVFS_PREALLOC_MIN :
			       spec > KVFS_PREALLOC_MAX ? KVFS_PREALLOC_MAX :
							  spec;
		}
		CHECK_EQ(kvfs_write(mp, ino, buf, len, (off_t)off, 0),
			 (ssize_t)len);
		for (b = ceil_blk(end);
		     b < FSX_BLOCKS && b < ceil_blk(end) + spec; b++)
			m.alloc[b] = true;
		memcpy(m.data + off, buf, len);
		if (off + len > m.size) {
			m.size = off + len;
			m.spec = true;
		}
		for (b = off / BS; b < ceil_blk(off + len); b++)
			m.dat[b] = m.alloc[b] = true;
		break;
	case 2: /* read at random */
		rand_range(&off, &len, FSX_MAX);
		end = off + len < m.size ? off + len : m.size;
		CHECK_EQ(kvfs_read(mp, ino, buf, len, (off_t)off),
			 (ssize_t)(end > off ? end - off : 0));
		if (end > off)
			CHECK(!memcmp(buf, m.data + off, end - off));
		break;
	case 3: /* punch */
		rand_range(&off, &len, 3 * BS);
		CHECK_EQ(kvfs_fallocate(mp, ino,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len),
			 0);
		memset(m.data + off, 0, len);
		for (b = ceil_blk(off); b < (off + len) / BS; b++)
			m.dat[b] = m.alloc[b] = false;
		break;
	case 4: /* zero range, fallocate */
	case 5:
		rand_range(&off, &len, 3 * BS);
		mode = (op == 4 ? FALLOC_FL_ZERO_RANGE : 0) |
		       (rand() % 2 ? FALLOC_FL_KEEP_SIZE : 0);
		end = off + len;
		CHECK_EQ(kvfs_fallocate(mp, ino, mode, (off_t)off, (off_t)len),
			 0);
		if (mode & FALLOC_FL_KEEP_SIZE && end > m.size)
			model_trim();
		if (op == 4) {
			memset(m.data + off, 0, len);
			for (b = ceil_blk(off); b < end / BS; b++)
				m.dat[b] = false;
		}
		for (b = off / BS; b < ceil_blk(end); b++)
			m.alloc[b] = true;
		if (!(mode & FALLOC_FL_KEEP_SIZE) && end > m.size)
			m.size = end;
		break;
	case 6: /* truncate */
		len = (uint64_t)rand() % (FSX_MAX + 1);
		set_size(mp, ino, len);
		if (len < m.size)
			memset(m.data + len, 0, m.size - len);
		if (m.spec || len < m.size)
			model_free_from(ceil_blk(len));
		m.spec = false;
		m.size = len;
		break;
	case 7:
		fsx_seek(mp, ino);
		break;
	case 8:
		CHECK_EQ(kvfs_fsync(mp, ino, rand() % 2), 0);
		break;
	}
}

static void test_fsx(unsigned seed, unsigned ops)
{
	struct kvfs_mount *mp;
	uint64_t ino;

	srand(seed);
	memset(&m, 0, sizeof(m));
	make_fs(64 << 20);
	mp = mount_fs();
	CHECK_EQ(mp->g.blocksize, BS);
	ino = new_file(mp);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
	for (unsigned i = 0; i < ops; i++) {
		fsx_op(mp, ino);
		check_file(mp, ino);
		fsx_note_extents(mp, ino);
		if (i % 100 == 99) {
			if (m.spec && blocks_of(mp, ino) > model_blocks())
				fsx_spec_seen++;
			file_close(mp, ino);
			model_trim();
			check_blocks(mp, ino);
		}
		if (i % 500 == 499) {
			remount_open(&mp, ino);
			check_file(mp, ino);
			check_blocks(mp, ino);
		}
	}
	kvfs_inode_close(mp, ino);
	model_trim();
	check_blocks(mp, ino);
	set_size(mp, ino, 0);
	CHECK_EQ(blocks_of(mp, ino), 0);
	remount(&mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- setattr and the write flags ---- */

static uint32_t mode_of(struct kvfs_mount *mp, uint64_t ino)
{
	return stat_of(mp, ino).mode & 07777;
}

static void chmod_as(struct kvfs_mount *mp, uint64_t ino, uint32_t mode,
		     const struct kvfs_cred *cr)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_MODE, .mode = mode };

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, cr, NULL), 0);
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

static void test_setattr(void)
{
	const uint32_t groups[] = { 7, 50 };
	const struct kvfs_cred root = { 0 },
			       user = { .uid = 1000, .gid = 1000 };
	const struct kvfs_cred member = {
		.uid = 1000, .gid = 1000, .groups = groups, .ngroups = 2
	};
	struct kvfs_setattr sa = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st, st2;
	struct timespec before;
	uint8_t buf[100];
	uint64_t ino;
	off_t r;

	make_fs(64 << 20);
	mp = mount_fs();
	ino = new_file(mp);
	memset(buf, 0x77, sizeof(buf));

	/* chown by a user clears SUID, and SGID with group execute */
	chmod_as(mp, ino, 06755, &root);
	CHECK_EQ(mode_of(mp, ino), 06755);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_GID, .gid = 50 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &member, &st), 0);
	CHECK_EQ(st.gid, 50);
	CHECK_EQ(st.mode & 07777, 0755);
	chmod_as(mp, ino, 06745, &root);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_UID, .uid = 1000 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &member, NULL), 0);
	CHECK_EQ(mode_of(mp, ino), 02745);
	/* by root nothing is cleared */
	chmod_as(mp, ino, 06755, &root);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_UID | KVFS_SET_GID,
				    .uid = 5,
				    .gid = 7 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.uid, 5);
	CHECK_EQ(st.gid, 7);
	CHECK_EQ(st.mode & 07777, 06755);
	/* chown(2)'s -1 keeps the id: never stored (the kernel's invalid id) */
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_UID | KVFS_SET_GID,
				    .uid = KVFS_ID_NONE,
				    .gid = 9 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.uid, 5);
	CHECK_EQ(st.gid, 9);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_UID | KVFS_SET_GID,
				    .uid = 6,
				    .gid = KVFS_ID_NONE };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.uid, 6);
	CHECK_EQ(st.gid, 9);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_GID, .gid = 7 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_UID, .uid = 5 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.mode & 07777, 06755);
	/* chmod by a caller outside the file's group drops SGID */
	chmod_as(mp, ino, 02755, &user);
	CHECK_EQ(mode_of(mp, ino), 0755);
	chmod_as(mp, ino, 02755, &member);
	CHECK_EQ(mode_of(mp, ino), 02755);
	/* KILL_SUIDGID as a write by a non-root caller */
	chmod_as(mp, ino, 06745, &root);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_KILL_SUIDGID };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, NULL), 0);
	CHECK_EQ(mode_of(mp, ino), 02745);
	/* ... by a member of the file's group, and by an outsider */
	chmod_as(mp, ino, 06745, &root);
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &member, NULL), 0);
	CHECK_EQ(mode_of(mp, ino), 02745);
	chmod_as(mp, ino, 06745, &root);
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &user, NULL), 0);
	CHECK_EQ(mode_of(mp, ino), 0745);
	chmod_as(mp, ino, 06755, &root);
	CHECK_EQ(kvfs_write(mp, ino, buf, 10, 0, KVFS_WRITE_KILLPRIV), 10);
	CHECK_EQ(mode_of(mp, ino), 0755);
	chmod_as(mp, ino, 06755, &root);
	CHECK_EQ(kvfs_write(mp, ino, buf, 10, 0, 0), 10);
	CHECK_EQ(mode_of(mp, ino), 06755);

	/* times: given, now (the core's clock), ctime moved on any change */
	clock_gettime(CLOCK_REALTIME_COARSE, &before);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_ATIME | KVFS_SET_MTIME,
				    .atime = { 1000, 5 },
				    .mtime = { -2000, 7 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK(ts_eq(st.atime, sa.atime));
	CHECK(ts_eq(st.mtime, sa.mtime));
	CHECK(ts_le(before, st.ctime));
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_CTIME,
				    .ctime = { 3000, 9 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK(ts_eq(st.ctime, sa.ctime));
	sa = (struct kvfs_setattr){ 0 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st2), 0);
	CHECK(ts_eq(st2.ctime, st.ctime));
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_ATIME |
					     KVFS_SET_ATIME_NOW |
					     KVFS_SET_MTIME |
					     KVFS_SET_MTIME_NOW };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK(ts_le(before, st.atime));
	CHECK(ts_le(before, st.mtime));
	CHECK(ts_eq(st.mtime, st.ctime));
	/* a size change sets mtime; a write sets mtime and ctime */
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_MTIME,
				    .mtime = { 1, 0 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, NULL), 0);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_SIZE, .size = 5000 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.size, 5000);
	CHECK(ts_le(before, st.mtime));
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_MTIME,
				    .mtime = { 1, 0 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st2), 0);
	CHECK_EQ(kvfs_write(mp, ino, buf, 10, 4000, 0), 10);
	st = stat_of(mp, ino);
	CHECK(ts_le(before, st.mtime));
	CHECK(ts_le(st2.ctime, st.ctime));
	/*
	 * KEEP_CMTIME (the FUSE writeback cache): a regular file's size and
	 * mode change leave mtime and ctime, which only given values move;
	 * a directory's ctime moves as without it
	 */
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_MTIME | KVFS_SET_CTIME,
				    .mtime = { 10, 1 },
				    .ctime = { 20, 2 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, NULL), 0);
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_SIZE | KVFS_SET_MODE |
					     KVFS_SET_KEEP_CMTIME,
				    .size = 4010,
				    .mode = 0644 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK_EQ(st.size, 4010);
	CHECK_EQ(st.mode & 07777, 0644);
	CHECK(ts_eq(st.mtime, ((struct timespec){ 10, 1 })));
	CHECK(ts_eq(st.ctime, ((struct timespec){ 20, 2 })));
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_CTIME |
					     KVFS_SET_KEEP_CMTIME,
				    .ctime = { 30, 3 } };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, &st), 0);
	CHECK(ts_eq(st.ctime, sa.ctime));
	sa = (struct kvfs_setattr){
		.valid = KVFS_SET_MODE | KVFS_SET_KEEP_CMTIME, .mode = 0755
	};
	CHECK_EQ(kvfs_setattr(mp, mp->g.rootino, &sa, &root, &st), 0);
	CHECK(ts_le(before, st.ctime));
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_SIZE, .size = 5000 };
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &root, NULL), 0);
	chmod_as(mp, ino, 06755, &root);

	/* append: at the end whatever the offset */
	CHECK_EQ(kvfs_write(mp, ino, buf, 7, 0, KVFS_WRITE_APPEND), 7);
	CHECK_EQ(stat_of(mp, ino).size, 5007);
	CHECK_EQ(kvfs_read(mp, ino, buf, sizeof(buf), 4990), 17);
	for (int i = 0; i < 17; i++)
		CHECK_EQ(buf[i], i < 10 ? 0 : 0x77);

	/* errors */
	sa = (struct kvfs_setattr){ .valid = KVFS_SET_SIZE, .size = 0 };
	CHECK_EQ(kvfs_setattr(mp, mp->g.rootino, &sa, &root, NULL), -EISDIR);
	CHECK_EQ(kvfs_write(mp, mp->g.rootino, buf, 1, 0, 0), -EISDIR);
	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_SET, &r), -EINVAL);
	CHECK_EQ(kvfs_lseek(mp, ino, 6000, SEEK_DATA, &r), -ENXIO);
	CHECK_EQ(kvfs_lseek(mp, ino, 6000, SEEK_HOLE, &r), -ENXIO);
	CHECK_EQ(kvfs_fallocate(mp, ino, FALLOC_FL_COLLAPSE_RANGE, 0, 4096),
		 -EOPNOTSUPP);
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, 0, 0), -EINVAL);
	remount(&mp);
	CHECK_EQ(stat_of(mp, ino).size, 5007);
	CHECK_EQ(mode_of(mp, ino), 06755);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- sparse files, EFBIG ---- */

static void test_sparse(void)
{
	const uint64_t tib16 = 16ull << 40, max = KVFS_MAX_FILE_OFFSET;
	static uint8_t buf[1 << 20], got[1 << 20];
	struct kvfs_mount *mp;
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = max + 1 };
	uint64_t ino;
	off_t r;

	make_fs(64 << 20);
	mp = mount_fs();
	ino = new_file(mp);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	/* across 16 TiB, unaligned */
	CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf), (off_t)(tib16 - 100000),
			    0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(stat_of(mp, ino).size, tib16 - 100000 + sizeof(buf));
	CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), (off_t)(tib16 - 100000)),
		 (ssize_t)sizeof(got));
	CHECK(!memcmp(buf, got, sizeof(buf)));
	CHECK_EQ(kvfs_read(mp, ino, got, 4096, (off_t)(tib16 / 2)), 4096);
	for (int i = 0; i < 4096; i++)
		CHECK_EQ(got[i], 0);
	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_DATA, &r), 0);
	CHECK_EQ((uint64_t)r, (tib16 - 100000) & ~4095ull);
	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_HOLE, &r), 0);
	CHECK_EQ(r, 0);
	CHECK_EQ(kvfs_lseek(mp, ino, (off_t)tib16, SEEK_HOLE, &r), 0);
	CHECK_EQ((uint64_t)r, tib16 - 100000 + sizeof(buf));
	CHECK(blocks_of(mp, ino) > 257);
	kvfs_inode_close(mp, ino);
	/* 256 blocks and the block before 16 TiB - 100000 */
	CHECK_EQ(blocks_of(mp, ino), 257);

	/* the largest offset: its last byte, and nothing past it */
	CHECK_EQ(kvfs_write(mp, ino, buf, 1, (off_t)(max - 1), 0), 1);
	CHECK_EQ(kvfs_write(mp, ino, buf, 100, (off_t)(max - 10), 0), 10);
	CHECK_EQ(kvfs_write(mp, ino, buf, 1, (off_t)max, 0), -EFBIG);
	CHECK_EQ(stat_of(mp, ino).size, max);
	CHECK_EQ(kvfs_read(mp, ino, got, 100, (off_t)(max - 10)), 10);
	CHECK(!memcmp(got, buf, 10));
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, NULL, NULL), -EFBIG);
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, (off_t)(max - 5), 10), -EFBIG);
	CHECK_EQ(kvfs_read(mp, ino, got, 10, -1), -EINVAL);
	CHECK_EQ(kvfs_write(mp, ino, buf, 10, -1, 0), -EINVAL);
	CHECK_EQ(kvfs_fallocate(mp, ino, FALLOC_FL_PUNCH_HOLE, 0, 10),
		 -EOPNOTSUPP);
	CHECK_EQ(kvfs_read(mp, mp->g.rootino, got, 10, 0), -EISDIR);
	remount(&mp);
	CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), (off_t)(tib16 - 100000)),
		 (ssize_t)sizeof(got));
	CHECK(!memcmp(buf, got, sizeof(buf)));
	set_size(mp, ino, 0);
	CHECK_EQ(blocks_of(mp, ino), 0);
	remount(&mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- ENOSPC ---- */

static void test_enospc(void)
{
	static uint8_t buf[256 << 10], got[256 << 10];
	struct kvfs_mount *mp;
	uint64_t ino, total = 0;
	int64_t free0;
	ssize_t n;

	make_fs(16 << 20);
	mp = mount_fs();
	ino = new_file(mp);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
	free0 = atomic_load(&mp->fdblocks);
	memset(buf, 0x5a, sizeof(buf));
	for (;;) {
		n = kvfs_write(mp, ino, buf, sizeof(buf), (off_t)total, 0);
		if (n < 0)
			break;
		CHECK(n > 0);
		total += (uint64_t)n;
		if ((size_t)n < sizeof(buf))
			break;
	}
	if (n > 0)
		n = kvfs_write(mp, ino, buf, sizeof(buf), (off_t)total, 0);
	CHECK_EQ(n, -ENOSPC);
	/*
	 * every block but the reserve for tree splits and the removals'
	 * went to the file
	 */
	CHECK(atomic_load(&mp->fdblocks) <=
	      (int64_t)(mp->resv.write.blocks + mp->resblks));
	CHECK(total >
	      (uint64_t)(free0 - 64 - (int64_t)mp->resblks) * mp->g.blocksize);
	CHECK_EQ(stat_of(mp, ino).size, total);
	/* a hole is not filled either, and changes nothing */
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, (off_t)total + (1 << 20), 1 << 20),
		 -ENOSPC);
	CHECK_EQ(stat_of(mp, ino).size, total);
	kvfs_inode_close(mp, ino);
	remount(&mp);
	for (uint64_t off = 0; off < total; off += sizeof(got)) {
		n = kvfs_read(mp, ino, got, sizeof(got), (off_t)off);
		CHECK_EQ(n, (ssize_t)(total - off < sizeof(got) ? total - off :
								  sizeof(got)));
		CHECK(!memcmp(got, buf, (size_t)n));
	}
	set_size(mp, ino, 0);
	CHECK_EQ(blocks_of(mp, ino), 0);
	remount(&mp);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0);
	printf("enospc: %llu bytes written of %lld blocks free\n",
	       (unsigned long long)total, (long long)free0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * The write-back reserve (kvfs_write_cached(), mp->wbblks): a write stops
 * short of it, statfs does not count it, a write back takes it (and says
 * so, which an overwrite does not), with no speculative blocks, up to the
 * removals' reserve; all of it reads back after a remount.
 */
static void test_wb_reserve(void)
{
	static uint8_t buf[256 << 10], got[256 << 10];
	const size_t piece = 64 << 10;
	struct kvfs_mount *mp;
	uint64_t a, b, c, total = 0, wb = 0;
	struct kvfs_statfs sf;
	bool reserve;
	ssize_t n;

	make_fs(16 << 20);
	mp = mount_fs();
	mp->wbblks = 64;
	a = new_file(mp);
	b = new_file(mp);
	c = new_file(mp);
	CHECK_EQ(kvfs_fallocate(mp, c, 0, 0, (off_t)piece), 0);
	memset(buf, 0x3c, sizeof(buf));
	while ((n = kvfs_write(mp, a, buf, sizeof(buf), (off_t)total, 0)) > 0)
		total += (uint64_t)n;
	CHECK_EQ(n, -ENOSPC);
	/* the reserves are whole: a reservation never passes them */
	CHECK(atomic_load(&mp->fdblocks) >= (int64_t)(mp->resblks + 64));
	CHECK_EQ(kvfs_statfs(mp, &sf), 0);
	CHECK(sf.bavail <= mp->resv.write.blocks);
	CHECK_EQ(kvfs_free_bytes(mp), sf.bfree << mp->g.blocklog);
	/* a write back finds room where a write does not */
	CHECK_EQ(kvfs_write(mp, b, buf, piece, 0, 0), -ENOSPC);
	n = kvfs_write_cached(mp, b, buf, piece, 0, 0, &reserve);
	CHECK_EQ(n, (ssize_t)piece);
	CHECK(reserve);
	wb = piece;
	/* an overwrite takes no block: no news; nor one of fallocated blocks */
	n = kvfs_write_cached(mp, b, buf, piece, 0, 0, &reserve);
	CHECK_EQ(n, (ssize_t)piece);
	CHECK(!reserve);
	n = kvfs_write_cached(mp, c, buf, piece, 0, 0, &reserve);
	CHECK_EQ(n, (ssize_t)piece);
	CHECK(!reserve);
	/* down to the removals' reserve, never into it */
	while ((n = kvfs_write_cached(mp, b, buf, piece, (off_t)wb, 0,
				      &reserve)) > 0) {
		CHECK(reserve);
		wb += (uint64_t)n;
	}
	CHECK_EQ(n, -ENOSPC);
	CHECK(wb >= piece * 2);
	CHECK(atomic_load(&mp->fdblocks) >= (int64_t)mp->resblks);
	/* no block past the data: none speculative came from the reserve */
	CHECK_EQ(blocks_of(mp, b), wb >> mp->g.blocklog);
	remount(&mp);
	CHECK_EQ(stat_of(mp, b).size, wb);
	for (uint64_t off = 0; off < wb; off += sizeof(got)) {
		size_t want = wb - off < sizeof(got) ? wb - off : sizeof(got);

		CHECK_EQ(kvfs_read(mp, b, got, sizeof(got), (off_t)off),
			 (ssize_t)want);
		CHECK(!memcmp(got, buf, want));
	}
	printf("wb_reserve: %llu bytes written, then %llu written back into "
	       "the reserve\n",
	       (unsigned long long)total, (unsigned long long)wb);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- ordering ---- */

static char tmpl[300];

/*
 * A 16 MiB image whose free space held another file's secret bytes (0xAA)
 * and a file ino of 1 MiB of holes: saved as tmpl.
 */
static uint64_t make_stale_image(void)
{
	static uint8_t buf[256 << 10];
	struct kvfs_mount *mp;
	uint64_t a, b, total = 0;
	ssize_t n;

	make_fs(16 << 20);
	mp = mount_fs();
	a = new_file(mp);
	b = new_file(mp);
	set_size(mp, b, 1 << 20);
	memset(buf, 0xaa, sizeof(buf));
	while ((n = kvfs_write(mp, a, buf, sizeof(buf), (off_t)total, 0)) > 0)
		total += (uint64_t)n;
	CHECK_EQ(n, -ENOSPC);
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	set_size(mp, a, 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	copy_file(path, tmpl);
	return b;
}

/* ino's first MiB: each byte pat or 0 (all pat when all is set). */
static void check_no_stale(struct kvfs_mount *mp, uint64_t ino, uint8_t pat,
			   bool all)
{
	static uint8_t got[1 << 20];

	CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), 0), (ssize_t)sizeof(got));
	for (size_t i = 0; i < sizeof(got); i++) {
		if (got[i] == pat || (!all && !got[i]))
			continue;
		fprintf(stderr, "byte %zu: %02x, not %02x%s\n", i, got[i], pat,
			all ? "" : " or 0");
		CHECK(0);
	}
}

static void test_stale(void)
{
	static uint8_t buf[512 << 10];
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE };
	struct kvfs_mount *mp;
	uint64_t ino = make_stale_image();

	mp = mount_fs();
	memset(buf, 0x55, sizeof(buf));
	/* with no log threads the next device write is the data's */
	f.fail_write = kv_dev_nr_writes(mp->dev) + 1;
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
	CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf), 4096, 0), -EIO);
	/* the allocation is durable, the blocks are the other file's */
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK(blocks_of(mp, ino) >= sizeof(buf) / 4096);
	check_no_stale(mp, ino, 0, true);
	kvfs_mount_shutdown(mp, "power cut");
	kvfs_mount_close(mp);
	mp = mount_fs();
	check_no_stale(mp, ino, 0, true);
	remount(&mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static void test_crash_points(void)
{
	static uint8_t buf[512 << 10];
	unsigned crashed = 0, k;
	uint64_t ino = make_stale_image();

	memset(buf, 0x55, sizeof(buf));
	for (k = 0;; k++) {
		struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };
		struct kvfs_mount *mp;
		bool synced;
		ssize_t n;

		copy_file(tmpl, path);
		mp = mount_fs();
		f.crash_after = kv_dev_nr_writes(mp->dev) + k;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		n = kvfs_write(mp, ino, buf, sizeof(buf), 1000, 0);
		synced = n == (ssize_t)sizeof(buf) &&
			 kvfs_fsync(mp, ino, false) == 0 &&
			 !kv_dev_crashed(mp->dev);
		crashed += kv_dev_crashed(mp->dev);
		kvfs_mount_shutdown(mp, "crash test");
		kvfs_mount_close(mp);
		mp = mount_fs();
		{
			static uint8_t got[1 << 20];

			CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), 0),
				 (ssize_t)sizeof(got));
			for (size_t i = 0; i < sizeof(got); i++) {
				bool in = i >= 1000 && i < 1000 + sizeof(buf);

				CHECK(got[i] == 0 || (in && got[i] == 0x55));
				if (synced && in)
					CHECK_EQ(got[i], 0x55);
			}
		}
		CHECK_EQ(kvfs_mount_close(mp), 0);
		scrub_image_clean_unnamed(path);
		if (synced)
			break;
	}
	CHECK(crashed > 0);
	printf("crash: %u crash points, the last one past the fsync\n", k + 1);
}

/*
 * A log write that is not an fsync's (a background push) with the data
 * still in a volatile cache whose sectors persist in any order: the crash
 * comes right after the checkpoint's write.  The conversion may persist;
 * the data must then have persisted before it (the log write's flush).
 * The write converts in its own transaction (errortag conv_nodefer: the
 * path of a write whose range cannot be left pending); a deferred one,
 * which such a push never converts, is tests/file/test_convert.c's.
 */
static void test_preflush(void)
{
	static uint8_t buf[512 << 10], got[1 << 20];
	unsigned converted = 0, seed;
	uint64_t ino = make_stale_image();

	memset(buf, 0x55, sizeof(buf));
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_CONV_NODEFER, 0, 1, 0), 0);
	for (seed = 1; seed <= 32; seed++) {
		struct kv_dev_fault f = {
			.modes = KV_FAULT_SECTORS | KV_FAULT_CRASH, .seed = seed
		};
		struct kvfs_mount *mp;
		bool any = false;

		copy_file(tmpl, path);
		mp = mount_fs();
		/* the data in the cache, then a crash after the next write */
		f.crash_after = UINT64_MAX;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf), 0, 0),
			 (ssize_t)sizeof(buf));
		f.crash_after = kv_dev_nr_writes(mp->dev) + 1;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		kvj_log_force(mp->log, 0);
		CHECK(kv_dev_crashed(mp->dev));
		kvfs_mount_shutdown(mp, "crash test");
		kvfs_mount_close(mp);
		mp = mount_fs();
		CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
		for (size_t i = 0; i < sizeof(got); i++) {
			if (got[i] != 0 && got[i] != 0x55) {
				fprintf(stderr, "seed %u byte %zu: %02x\n",
					seed, i, got[i]);
				CHECK(0);
			}
			any |= got[i] == 0x55;
		}
		/* the conversion persisted: all of the data did */
		if (any) {
			converted++;
			CHECK(!memcmp(got, buf, sizeof(buf)));
		}
		CHECK_EQ(kvfs_mount_close(mp), 0);
		scrub_image_clean_unnamed(path);
	}
	kvj_errtag_clear_all();
	CHECK(converted > 0 && converted < seed - 1);
	printf("preflush: the conversion persisted in %u of %u crashes\n",
	       converted, seed - 1);
}

/* ---- fsync ---- */

static void test_fsync_volatile(void)
{
	static uint8_t buf[300 << 10];
	struct kv_dev_fault f = { .modes = KV_FAULT_VOLATILE };
	struct kvfs_mount *mp;
	uint64_t a, b;

	make_fs(64 << 20);
	mp = mount_fs();
	a = new_file(mp);
	b = new_file(mp);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
	memset(buf, 0x11, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 123, 0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	memset(buf, 0x22, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, b, buf, sizeof(buf), 0, KVFS_WRITE_DSYNC),
		 (ssize_t)sizeof(buf));
	/* an overwrite after the fsync: either version may survive */
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 4096, 0), 4096);
	kv_dev_power_fail(mp->dev);
	kvfs_mount_shutdown(mp, "power cut");
	kvfs_mount_close(mp);
	mp = mount_fs();
	CHECK_EQ(stat_of(mp, a).size, sizeof(buf) + 123);
	CHECK_EQ(stat_of(mp, b).size, sizeof(buf));
	{
		static uint8_t got[sizeof(buf) + 123];

		CHECK_EQ(kvfs_read(mp, a, got, sizeof(got), 0),
			 (ssize_t)sizeof(got));
		for (size_t i = 0; i < sizeof(got); i++) {
			if (i >= 4096 && i < 8192)
				CHECK(got[i] == 0x11 || got[i] == 0x22);
			else
				CHECK_EQ(got[i], i < 123 ? 0 : 0x11);
		}
		CHECK_EQ(kvfs_read(mp, b, got, sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
		for (size_t i = 0; i < sizeof(buf); i++)
			CHECK_EQ(got[i], 0x22);
	}
	remount(&mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static uint64_t forces(struct kvfs_mount *mp)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(mp->log, &st);
	return st.forces;
}

static uint64_t commits(struct kvfs_mount *mp)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(mp->log, &st);
	return st.commits;
}

static uint64_t last_seq(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	uint64_t seq;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	seq = atomic_load(&ip->i_sync_seq);
	kvfs_iput(ip);
	return seq;
}

/*
 * Sleep past the coarse clock's current tick: an overwrite after it stamps
 * mtime and ctime (one in the same tick as the last stamp does not).  The
 * clock is read until it moves: a sleep of its resolution was not always
 * enough on a loaded virtual machine, whose ticks come late (test_timer_
 * push_flush's overwrite then stamped nothing, committed nothing, and
 * "last_seq(mp, a) > kvj_log_durable_seq(mp->log)" failed, once in a
 * tools/check).
 */
static void next_tick(void)
{
	struct timespec t0, t, ms = { .tv_nsec = 1000000 };

	CHECK_EQ(clock_gettime(CLOCK_REALTIME_COARSE, &t0), 0);
	for (int i = 0; i < 10000; i++) {
		nanosleep(&ms, NULL);
		CHECK_EQ(clock_gettime(CLOCK_REALTIME_COARSE, &t), 0);
		if (t.tv_sec != t0.tv_sec || t.tv_nsec != t0.tv_nsec)
			return;
	}
	CHECK(!"the coarse clock did not move in 10 s");
}

/*
 * Overwrites stamp mtime and ctime at most once per tick of the coarse
 * clock (the kernel's current_time() granularity): the stamp of an
 * overwrite is never older than the tick it began in nor newer than its
 * return, and of two overwrites back to back in one tick the second
 * commits nothing (tried until a pair falls in one tick).  A stamp that
 * must drop SUID is never skipped.
 */
static void test_stamp_tick(void)
{
	static uint8_t buf[8192];
	const struct kvfs_cred root = { 0 };
	struct kvfs_setattr sa = { .valid = KVFS_SET_MODE };
	struct timespec t0, t1, tick;
	struct kvfs_stat st;
	struct kvfs_mount *mp;
	unsigned skipped = 0, tries;
	uint64_t a, c0;

	make_fs(64 << 20);
	mp = mount_fs();
	a = new_file(mp);
	memset(buf, 0x44, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	next_tick();
	clock_gettime(CLOCK_REALTIME_COARSE, &tick);
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, 0), 4096);
	clock_gettime(CLOCK_REALTIME, &t1);
	st = stat_of(mp, a);
	CHECK(ts_le(tick, st.mtime) && ts_le(st.mtime, t1));
	CHECK(ts_le(tick, st.ctime) && ts_le(st.ctime, t1));
	for (tries = 0; tries < 100 && !skipped; tries++) {
		clock_gettime(CLOCK_REALTIME_COARSE, &t0);
		CHECK_EQ(kvfs_write(mp, a, buf, 4096, 4096, 0), 4096);
		c0 = commits(mp);
		CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, 0), 4096);
		clock_gettime(CLOCK_REALTIME_COARSE, &tick);
		if (t0.tv_sec == tick.tv_sec && t0.tv_nsec == tick.tv_nsec) {
			CHECK_EQ(commits(mp), c0);
			skipped++;
		}
	}
	CHECK(skipped > 0);
	/* a future mtime (utimes) is replaced by the next overwrite's */
	sa.valid = KVFS_SET_MTIME;
	clock_gettime(CLOCK_REALTIME, &sa.mtime);
	sa.mtime.tv_sec += 3600;
	CHECK_EQ(kvfs_setattr(mp, a, &sa, &root, NULL), 0);
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, 0), 4096);
	clock_gettime(CLOCK_REALTIME, &t1);
	CHECK(ts_le(stat_of(mp, a).mtime, t1));
	sa.valid = KVFS_SET_MODE;
	/* SUID goes at the first overwrite by a non-root writer, same tick */
	sa.mode = 04755;
	CHECK_EQ(kvfs_setattr(mp, a, &sa, &root, NULL), 0);
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, KVFS_WRITE_KILLPRIV), 4096);
	CHECK_EQ(stat_of(mp, a).mode & 07777, 0755);
	/*
	 * KVFS_WRITE_NOCMTIME (the FUSE writeback cache): an overwrite, an
	 * extending write and a write into a hole keep the times the caller
	 * set, in a later tick too; SUID still goes
	 */
	sa.valid = KVFS_SET_MTIME | KVFS_SET_CTIME | KVFS_SET_MODE;
	sa.mtime = (struct timespec){ 1000, 1 };
	sa.ctime = (struct timespec){ 2000, 2 };
	sa.mode = 04755;
	CHECK_EQ(kvfs_setattr(mp, a, &sa, &root, NULL), 0);
	next_tick();
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0,
			    KVFS_WRITE_NOCMTIME | KVFS_WRITE_KILLPRIV),
		 4096);
	CHECK_EQ(kvfs_write(mp, a, buf, 100, 1 << 20, KVFS_WRITE_NOCMTIME),
		 100);
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 1 << 19, KVFS_WRITE_NOCMTIME),
		 4096);
	st = stat_of(mp, a);
	CHECK(ts_eq(st.mtime, sa.mtime));
	CHECK(ts_eq(st.ctime, sa.ctime));
	CHECK_EQ(st.size, (1 << 20) + 100);
	CHECK_EQ(st.mode & 07777, 0755);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * Device flushes (fs/io/log_io.h): a log write flushes first only for the
 * data it orders (unwritten blocks, zeroed edges), not for overwrites; the
 * flush after it covers every write before it, so an fsync that forces
 * the log flushes once, and one that does not flushes only if data was
 * written since the last flush.
 */
static void test_overwrite_flush(void)
{
	static uint8_t buf[64 << 10];
	struct kvfs_mount *mp;
	struct kvfs_log_io *lio;
	uint64_t a, f0;

	make_fs(64 << 20);
	mp = mount_fs();
	lio = &mp->lio;
	a = new_file(mp);
	memset(buf, 0x66, sizeof(buf));
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	/*
	 * An allocating write converting at once (not left pending,
	 * fs/data/convert.h): its conversion's log write flushes it first.
	 */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_CONV_NODEFER, 0, 1, 0), 0);
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	kvj_errtag_clear_all();
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 2);
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	/* overwrites, whole and partial blocks, with a stamp: no flush first */
	next_tick();
	CHECK_EQ(kvfs_write(mp, a, buf, 8192, 4096, 0), 8192);
	CHECK_EQ(kvfs_write(mp, a, buf, 100, 20000, 0), 100);
	CHECK(last_seq(mp, a) > kvj_log_durable_seq(mp->log));
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 1);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, a));
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	/* fsync of a stamped overwrite: the force's flush covers the data */
	next_tick();
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, 0), 4096);
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 1);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, a));
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	/* fdatasync of an overwrite: no force, one flush, then none */
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 8192, 0), 4096);
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 1);
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 1);
	/* a punch's zeroed edges are ordered before its map change */
	CHECK_EQ(kvfs_fallocate(mp, a,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100,
				10000),
		 0);
	CHECK(atomic_load(&lio->data_ordered) >
	      atomic_load(&lio->data_flushed));
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 2);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A checkpoint no force waits for (the timer's) makes the log durable and
 * writes back no file data: after an overwrite it flushes the log region
 * only, the data stays unflushed until an fsync.
 */
static void test_timer_push_flush(void)
{
	static uint8_t buf[64 << 10];
	struct kvfs_mount *mp;
	struct kvfs_log_io *lio;
	uint64_t a, f0, l0;

	make_fs(64 << 20);
	mp = mount_fs();
	lio = &mp->lio;
	a = new_file(mp);
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	/* converted and durable (a write this large is left pending) */
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	next_tick();
	CHECK_EQ(kvfs_write(mp, a, buf, 8192, 4096, 0), 8192);
	CHECK(last_seq(mp, a) > kvj_log_durable_seq(mp->log));
	f0 = atomic_load(&lio->flushes);
	l0 = atomic_load(&lio->log_flushes);
	CHECK_EQ(kvj_cil_push(mp->log, 0, false), 0);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, a));
	CHECK_EQ(atomic_load(&lio->flushes), f0);
	CHECK_EQ(atomic_load(&lio->log_flushes), l0 + 1);
	CHECK(atomic_load(&lio->data_flushed) < atomic_load(&lio->data_gen));
	/* nothing logged since: a second flush of the log does nothing */
	CHECK_EQ(kvj_cil_push(mp->log, 0, false), 0);
	CHECK_EQ(atomic_load(&lio->log_flushes), l0 + 1);
	/* the fdatasync that follows flushes the data, once */
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 1);
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	/*
	 * A write converting its blocks at once (one that cannot leave them
	 * pending, fs/data/convert.h): the timer's push flushes its data
	 * first.
	 */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_CONV_NODEFER, 0, 1, 0), 0);
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 1 << 20, 0),
		 (ssize_t)sizeof(buf));
	kvj_errtag_clear_all();
	CHECK(atomic_load(&lio->data_ordered) >
	      atomic_load(&lio->data_flushed));
	CHECK_EQ(kvj_cil_push(mp->log, 0, false), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0 + 2);
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static void test_fsync_scope(void)
{
	static uint8_t buf[64 << 10];
	struct kvfs_mount *mp;
	uint64_t a, b, f0;

	make_fs(64 << 20);
	mp = mount_fs();
	a = new_file(mp);
	b = new_file(mp);
	memset(buf, 0x33, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, a, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, a));
	/* b changes after: a's fsync must not force it */
	CHECK_EQ(kvfs_write(mp, b, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	CHECK(last_seq(mp, b) > kvj_log_durable_seq(mp->log));
	f0 = forces(mp);
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(forces(mp), f0);
	CHECK(last_seq(mp, b) > kvj_log_durable_seq(mp->log));
	/* an overwrite changes timestamps only: fdatasync forces nothing */
	next_tick();
	CHECK_EQ(kvfs_write(mp, a, buf, 4096, 0, 0), 4096);
	CHECK(last_seq(mp, a) > kvj_log_durable_seq(mp->log));
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(forces(mp), f0);
	CHECK_EQ(kvfs_fsync(mp, a, false), 0);
	CHECK_EQ(forces(mp), f0 + 1);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, a));
	CHECK_EQ(kvfs_fsync(mp, b, false), 0);
	CHECK(kvj_log_durable_seq(mp->log) >= last_seq(mp, b));
	/* an extending write moves the size: fdatasync forces it */
	CHECK_EQ(kvfs_write(mp, a, buf, 10, sizeof(buf), 0), 10);
	f0 = forces(mp);
	CHECK_EQ(kvfs_fsync(mp, a, true), 0);
	CHECK_EQ(forces(mp), f0 + 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* An unnamed file: its blocks and itself freed at its last close. */
static void test_tmpfile(void)
{
	static uint8_t buf[1 << 20], got[1 << 20];
	const struct kvfs_cred cr = { .uid = 1000, .gid = 1000 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	int64_t free0;

	make_fs(64 << 20);
	mp = mount_fs();
	/* an inode chunk for it first, so that the free count is its data's */
	CHECK_EQ(kvfs_tmpfile(mp, mp->g.rootino, 0600, &cr, &st), 0);
	kvfs_inode_close(mp, st.ino);
	free0 = atomic_load(&mp->fdblocks);
	CHECK_EQ(kvfs_tmpfile(mp, mp->g.rootino, 0600, &cr, &st), 0);
	memset(buf, 0x6b, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, st.ino, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_write(mp, st.ino, buf, sizeof(buf), sizeof(buf),
			    KVFS_WRITE_SYNC),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_read(mp, st.ino, got, sizeof(got), sizeof(buf)),
		 (ssize_t)sizeof(got));
	CHECK(!memcmp(buf, got, sizeof(buf)));
	CHECK(atomic_load(&mp->fdblocks) < free0 - 512);
	kvfs_inode_close(mp, st.ino);
	CHECK_EQ(atomic_load(&mp->fdblocks), free0);
	CHECK_EQ(kvfs_read(mp, st.ino, got, 1, 0), -ENOENT);
	remount(&mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- direct I/O ---- */

#define DIO_MIB 8

static uint8_t dio_want[(DIO_MIB + 1) << 20];

static void dio_check(struct kvfs_mount *mp, uint64_t ino, uint64_t size)
{
	static uint8_t got[(DIO_MIB + 1) << 20];

	CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), 0), (ssize_t)size);
	CHECK(!memcmp(got, dio_want, size));
}

/*
 * kvfs_open_opts.direct_io through the mount (no fault mode, so that the
 * device's fast path runs): 1 MiB appends from an unaligned buffer,
 * aligned and partial overwrites, an unaligned tail, fsync; what is read
 * back, then after a remount without it, is what was written, and the
 * large writes went O_DIRECT exactly when the host has it.
 */
static void test_direct_io(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = true,
				     .direct_io = true };
	static uint8_t src[(1 << 20) + 1];
	uint64_t ino, size = 0, nd;
	struct kvfs_mount *mp;
	bool host;
	int fd;

	make_fs(64 << 20);
	fd = open(path, O_RDWR | O_DIRECT);
	host = fd >= 0;
	if (fd >= 0)
		close(fd);
	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	ino = new_file(mp);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), 0);
	for (unsigned i = 0; i < DIO_MIB; i++) {
		memset(src + 1, (int)(i + 1), 1 << 20);
		CHECK_EQ(kvfs_write(mp, ino, src + 1, 1 << 20, (off_t)size, 0),
			 1 << 20);
		memset(dio_want + size, (int)(i + 1), 1 << 20);
		size += 1 << 20;
	}
	nd = kv_dev_nr_direct(mp->dev);
	CHECK(host ? nd >= DIO_MIB : nd == 0);
	/* an aligned overwrite of written blocks, and one inside it */
	memset(src, 0x5a, 256 << 10);
	CHECK_EQ(kvfs_write(mp, ino, src, 256 << 10, 3 << 20, 0), 256 << 10);
	memset(dio_want + (3 << 20), 0x5a, 256 << 10);
	memset(src, 0xa5, 4096);
	CHECK_EQ(kvfs_write(mp, ino, src, 1000, (3 << 20) + 4097, 0), 1000);
	memset(dio_want + (3 << 20) + 4097, 0xa5, 1000);
	/* a tail past a block edge, and a hole before it */
	memset(src, 0x33, 3000);
	CHECK_EQ(kvfs_write(mp, ino, src, 3000, (off_t)size + 70000, 0), 3000);
	memset(dio_want + size + 70000, 0x33, 3000);
	size += 73000;
	CHECK(host ? kv_dev_nr_direct(mp->dev) > nd :
		     !kv_dev_nr_direct(mp->dev));
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	dio_check(mp, ino, size);
	kvfs_inode_close(mp, ino);
	remount(&mp);
	dio_check(mp, ino, size);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* ---- threads ---- */

#define THR 4
#define THR_CHUNK (64 << 10)
#define THR_STEPS 48

struct thr {
	struct kvfs_mount *mp;
	uint64_t own, shared;
	unsigned id;
};

/*
 * Each thread appends its own file in chunks (the I/O lock exclusive,
 * allocation, conversion) and rewrites its own block-aligned slots of a
 * shared file (the I/O lock shared, beside the others), reading both back.
 */
static void *thr_main(void *arg)
{
	static _Thread_local uint8_t buf[THR_CHUNK], got[THR_CHUNK];
	struct thr *t = arg;

	for (unsigned i = 0; i < THR_STEPS; i++) {
		uint64_t slot = ((uint64_t)i * THR + t->id) * 4096;

		memset(buf, (int)(t->id * 50 + i % 50 + 1), sizeof(buf));
		CHECK_EQ(kvfs_write(t->mp, t->own, buf, sizeof(buf),
				    (off_t)i * THR_CHUNK, 0),
			 (ssize_t)sizeof(buf));
		CHECK_EQ(kvfs_read(t->mp, t->own, got, sizeof(got),
				   (off_t)i * THR_CHUNK),
			 (ssize_t)sizeof(got));
		CHECK(!memcmp(buf, got, sizeof(buf)));
		CHECK_EQ(
			kvfs_write(t->mp, t->shared, buf, 4096, (off_t)slot, 0),
			4096);
		CHECK_EQ(kvfs_read(t->mp, t->shared, got, 4096, (off_t)slot),
			 4096);
		CHECK(!memcmp(buf, got, 4096));
		if (i % 16 == 15)
			CHECK_EQ(kvfs_fsync(t->mp, t->own, i % 32 == 15), 0);
	}
	return NULL;
}

static void test_threads(void)
{
	static uint8_t got[THR_CHUNK];
	struct thr t[THR];
	pthread_t th[THR];
	struct kvfs_mount *mp;
	uint64_t shared;

	make_fs(64 << 20);
	mp = mount_fs();
	shared = new_file(mp);
	/* written once: the threads' rewrites are overwrites inside the size */
	memset(got, 0, sizeof(got));
	for (unsigned i = 0; i < THR_STEPS * THR * 4096; i += sizeof(got))
		CHECK_EQ(kvfs_write(mp, shared, got, sizeof(got), i, 0),
			 (ssize_t)sizeof(got));
	for (unsigned i = 0; i < THR; i++) {
		t[i] = (struct thr){ mp, new_file(mp), shared, i };
		CHECK_EQ(pthread_create(&th[i], NULL, thr_main, &t[i]), 0);
	}
	for (unsigned i = 0; i < THR; i++)
		CHECK_EQ(pthread_join(th[i], NULL), 0);
	remount(&mp);
	for (unsigned id = 0; id < THR; id++) {
		for (unsigned i = 0; i < THR_STEPS; i++) {
			uint8_t want = (uint8_t)(id * 50 + i % 50 + 1);

			CHECK_EQ(kvfs_read(mp, t[id].own, got, sizeof(got),
					   (off_t)i * THR_CHUNK),
				 (ssize_t)sizeof(got));
			for (size_t k = 0; k < sizeof(got); k++)
				CHECK_EQ(got[k], want);
			CHECK_EQ(kvfs_read(mp, shared, got, 4096,
					   ((off_t)i * THR + id) * 4096),
				 4096);
			for (size_t k = 0; k < 4096; k++)
				CHECK_EQ(got[k], want);
		}
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	unsigned ops = argc > 1 ? (unsigned)atoi(argv[1]) : 3000;

	snprintf(path, sizeof(path), "%s/kvfs-file-%d.img", dir, getpid());
	snprintf(tmpl, sizeof(tmpl), "%s.tmpl", path);
	CHECK_EQ(kv_init(NULL), 0);
	for (unsigned seed = 1; seed <= 3; seed++)
		test_fsx(seed, ops);
	for (unsigned i = 0; i < 9; i++)
		CHECK(fsx_counts[i] > 0);
	CHECK_EQ(fsx_spec_seen, 0);
	printf("fsx: 3 seeds x %u ops, speculative blocks at %u of "
	       "%u closes, at most %u extents\n",
	       ops, fsx_spec_seen, 3 * (ops / 100), fsx_max_extents);
	test_setattr();
	test_sparse();
	test_tmpfile();
	test_direct_io();
	test_threads();
	test_enospc();
	test_wb_reserve();
	test_stale();
	test_crash_points();
	test_preflush();
	test_fsync_volatile();
	test_fsync_scope();
	test_stamp_tick();
	test_overwrite_flush();
	test_timer_push_flush();
	unlink(path);
	unlink(tmpl);
	CHECK_EQ(kv_fini(), 0);
	printf("file: all passed\n");
	return 0;
}
