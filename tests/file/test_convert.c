// SPDX-License-Identifier: GPL-2.0
/*
 * Deferred conversion (fs/data/convert.h): a write into unwritten blocks
 * of a large file leaves them unwritten and pending; reads, edge-block
 * writes, lseek and truncate's zeroing see the data; a background push
 * neither converts them nor flushes the data; a power cut before a settle
 * leaves the file as before the writes (old size, zeros), one after an
 * fsync, the settle thread's period or an unmount leaves all of it; a
 * punch settles first; a full set of ranges converts at once; reclaim
 * keeps an inode with ranges; a settle short of free blocks converts from
 * the reserve pool; inodes with ranges past an eighth of the memory budget
 * start a settle before the period.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/data/file.h"
#include "fs/format.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/errortag.h"
#include "journal/log_priv.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

#define HEAD (64u << 10) /* written and fsync'd first */
#define TAIL (1u << 20) /* written after: left pending */

static char path[256];
static const struct kvfs_cred cr = { 0 };
static uint8_t buf[HEAD + TAIL], got[HEAD + TAIL];

/*
 * No journal threads (the log written by the tests' pushes and forces
 * alone, so that no idle push's flush lands between two counts); the
 * settle thread runs every settle_ms.
 */
static struct kvfs_mount *open_fs(unsigned settle_ms)
{
	struct kvfs_mount_opts o = { .no_log_threads = true,
				     .settle_ms = settle_ms };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

static void fill(void)
{
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 1);
}

static void make_fs(void)
{
	struct kvfs_mkfs_opts o = {
		.target = path, .size = 64 << 20, .agcount = 2, .force = true
	};
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	fill();
}

static uint64_t create(struct kvfs_mount *mp, const char *name)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	return st.ino;
}

static uint64_t lookup(struct kvfs_mount *mp, const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), name, &st), 0);
	return st.ino;
}

static bool busy(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	bool b;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	b = kvfs_conv_busy(ip);
	kvfs_iput(ip);
	return b;
}

static uint64_t log_size(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	uint64_t sz;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	sz = kvfs_conv_log_size(ip);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return sz;
}

/* Blocks of [off, off + len) that are unwritten extents. */
static uint64_t unwritten_blocks(struct kvfs_mount *mp, uint64_t ino,
				 uint64_t off, uint64_t len)
{
	uint32_t bl = mp->g.blocklog;
	uint64_t cur = off >> bl, end = (off + len) >> bl, n = 0;
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	while (cur < end) {
		struct kvfs_bmap m;
		int nmap = 1;

		CHECK_EQ(kvfs_file_map(ip, cur, end - cur, &m, &nmap), 0);
		if (m.flags & KVFS_BMAP_UNWRITTEN)
			n += m.blockcount;
		cur = m.startoff + m.blockcount;
	}
	kvfs_iput(ip);
	return n;
}

static uint64_t size_of(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st.size;
}

/* The head written and fsync'd, then the tail written: pending. */
static uint64_t head_and_tail(struct kvfs_mount *mp, const char *name)
{
	uint64_t ino = create(mp, name);

	CHECK_EQ(kvfs_write(mp, ino, buf, HEAD, 0, 0), (ssize_t)HEAD);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK_EQ(kvfs_write(mp, ino, buf + HEAD, TAIL, HEAD, 0), (ssize_t)TAIL);
	CHECK(busy(mp, ino));
	return ino;
}

static void check_all(struct kvfs_mount *mp, uint64_t ino, uint64_t len)
{
	memset(got, 0xee, sizeof(got));
	CHECK_EQ(kvfs_read(mp, ino, got, sizeof(got), 0), (ssize_t)len);
	CHECK(!memcmp(got, buf, len));
}

/* Every byte before and after an fsync settles it; closed; checked. */
static void fsync_close(struct kvfs_mount *mp, uint64_t ino)
{
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK(!busy(mp, ino));
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
}

static void test_pending(void)
{
	struct kvfs_mount *mp;
	struct kvfs_log_io *lio;
	uint64_t ino, f0;
	uint8_t small[4096];
	off_t at;

	make_fs();
	mp = open_fs(3600 * 1000);
	lio = &mp->lio;
	ino = head_and_tail(mp, "a");
	/* on disk: unwritten, and the log's size the old one */
	CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL), TAIL >> mp->g.blocklog);
	CHECK_EQ(size_of(mp, ino), HEAD + TAIL);
	CHECK_EQ(log_size(mp, ino), HEAD);
	/* in memory, data: a large read (locked) and a small one (RCU) */
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_read(mp, ino, small, sizeof(small), HEAD + 8192),
		 (ssize_t)sizeof(small));
	CHECK(!memcmp(small, buf + HEAD + 8192, sizeof(small)));
	/* an edge block's read-modify-write keeps what is pending around it */
	memset(buf + HEAD + 4096 + 100, 0x77, 50);
	CHECK_EQ(kvfs_write(mp, ino, buf + HEAD + 4096 + 100, 50,
			    HEAD + 4096 + 100, 0),
		 50);
	check_all(mp, ino, HEAD + TAIL);
	/* lseek: pending is data, the hole is at the end */
	CHECK_EQ(kvfs_lseek(mp, ino, HEAD, SEEK_DATA, &at), 0);
	CHECK_EQ(at, (off_t)HEAD);
	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_HOLE, &at), 0);
	CHECK_EQ(at, (off_t)(HEAD + TAIL));
	/* a background push: no data flush, nothing converted */
	f0 = atomic_load(&lio->flushes);
	CHECK_EQ(kvj_cil_push(mp->log, 0, false), 0);
	CHECK_EQ(atomic_load(&lio->flushes), f0);
	CHECK(atomic_load(&lio->data_flushed) < atomic_load(&lio->data_gen));
	CHECK(busy(mp, ino));
	/* fsync: durable, converted, the full size logged */
	CHECK_EQ(kvfs_fsync(mp, ino, true), 0);
	CHECK(!busy(mp, ino));
	CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL), 0);
	CHECK_EQ(log_size(mp, ino), HEAD + TAIL);
	CHECK_EQ(atomic_load(&lio->data_flushed), atomic_load(&lio->data_gen));
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
}

/*
 * Power cuts where unflushed sectors persist in any order: before a
 * settle, the file is its fsync'd head (the pending tail's blocks
 * unwritten, the size the head's); after an fsync, all of it.
 */
static void test_crash(void)
{
	unsigned seed;

	for (seed = 1; seed <= 8; seed++) {
		bool synced = seed & 1;
		struct kvfs_mount *mp;
		uint64_t ino;

		make_fs();
		mp = open_fs(3600 * 1000);
		ino = head_and_tail(mp, "c");
		CHECK_EQ(kvfs_test_volatile(mp, true, seed), 0);
		/* the timer's push, and another file's fsync */
		CHECK_EQ(kvj_cil_push(mp->log, 0, false), 0);
		CHECK_EQ(kvfs_fsync(mp, create(mp, "other"), false), 0);
		if (synced)
			CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
		kvfs_test_power_fail(mp);
		kvfs_close(mp);
		mp = open_fs(3600 * 1000);
		ino = lookup(mp, "c");
		if (synced) {
			CHECK_EQ(size_of(mp, ino), HEAD + TAIL);
			check_all(mp, ino, HEAD + TAIL);
		} else {
			CHECK_EQ(size_of(mp, ino), HEAD);
			check_all(mp, ino, HEAD);
			CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL),
				 TAIL >> mp->g.blocklog);
		}
		CHECK_EQ(kvfs_close(mp), 0);
		scrub_image_clean(path);
	}
}

/* The settle thread converts within its period; unmount converts too. */
static void test_settle_thread_and_unmount(void)
{
	struct kvfs_mount *mp;
	uint64_t ino;
	int i;

	make_fs();
	mp = open_fs(50);
	ino = head_and_tail(mp, "t");
	for (i = 0; i < 400 && busy(mp, ino); i++)
		usleep(10000);
	CHECK(!busy(mp, ino));
	CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL), 0);
	CHECK_EQ(log_size(mp, ino), HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = head_and_tail(mp, "u");
	CHECK_EQ(kvfs_close(mp), 0);
	mp = open_fs(3600 * 1000);
	ino = lookup(mp, "u");
	CHECK_EQ(size_of(mp, ino), HEAD + TAIL);
	CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL), 0);
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
}

/*
 * A truncate into the pending tail keeps what is below it and zeroes the
 * rest of its last block (read back after growing again); a punch in the
 * middle settles first and keeps every byte outside it.
 */
static void test_truncate_punch(void)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	uint64_t cut = HEAD + 3 * 4096 + 123;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t ino;

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = head_and_tail(mp, "p");
	sa.size = cut;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, &st), 0);
	CHECK(busy(mp, ino));
	sa.size = cut + 8192;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, &st), 0);
	memset(buf + cut, 0, 8192);
	check_all(mp, ino, cut + 8192);
	/* the data below the cut is still to be made durable */
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK(!busy(mp, ino));
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = head_and_tail(mp, "q");
	CHECK_EQ(kvfs_fallocate(mp, ino,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				HEAD + 10000, 50000),
		 0);
	CHECK(!busy(mp, ino));
	memset(buf + HEAD + 10000, 0, 50000);
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
}

/*
 * Writes into a preallocated file at more places than an inode keeps
 * ranges: the rest convert at once (ordered before the next log write);
 * every byte reads back, before and after the settle.
 */
static void test_many_ranges(void)
{
	struct kvfs_mount *mp;
	struct kvfs_log_io *lio;
	uint64_t ino;
	unsigned i;

	make_fs();
	mp = open_fs(3600 * 1000);
	lio = &mp->lio;
	ino = create(mp, "m");
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, 0, HEAD + TAIL), 0);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	for (i = 0; i < 2 * KVFS_CONV_RANGES; i++) {
		uint64_t off = HEAD + i * 3 * 4096;

		memset(buf + off, 0x40 + i, 4096);
		CHECK_EQ(kvfs_write(mp, ino, buf + off, 4096, off, 0), 4096);
	}
	CHECK(busy(mp, ino));
	CHECK(atomic_load(&lio->data_ordered) >
	      atomic_load(&lio->data_flushed));
	fsync_close(mp, ino);
}

/*
 * A file mapped by an extent B+tree (every other block written): a large
 * write into its holes is left pending too, and the settle's conversion
 * changes the tree.
 */
static void test_btree_fork(void)
{
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	uint64_t ino;
	uint8_t fmt;

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = create(mp, "b");
	for (uint64_t off = 0; off < HEAD + TAIL; off += 2 * 4096)
		CHECK_EQ(kvfs_write(mp, ino, buf + off, 4096, off, 0), 4096);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	fmt = ip->i_dformat;
	kvfs_iput(ip);
	CHECK_EQ(fmt, KVFS_DFORK_BTREE);
	/* its second half, holes and all, in one write */
	CHECK_EQ(kvfs_write(mp, ino, buf + HEAD, TAIL, HEAD, 0), (ssize_t)TAIL);
	for (uint64_t off = 4096; off < HEAD; off += 2 * 4096)
		memset(buf + off, 0, 4096);
	CHECK(busy(mp, ino));
	fsync_close(mp, ino);
}

/* Reclaim passes over an inode with ranges: it is the only record. */
static void test_reclaim(void)
{
	struct kvfs_mount *mp;
	uint64_t ino;

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = head_and_tail(mp, "r");
	CHECK_EQ(kvfs_release(mp, ino), 0);
	/* every inode clean: what reclaim may free, it frees */
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	CHECK(kvfs_icache_shrink(mp->ic, SIZE_MAX) > 0);
	CHECK(busy(mp, ino));
	check_all(mp, ino, HEAD + TAIL);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
}

/*
 * The settle's conversion short of free blocks: its transaction trims the
 * speculative blocks first, and that trim's sync settled every file under
 * the settle lock this thread held: the fsync hung for good (fsstress -p 8
 * filling a mem=16M mount: copy_file_range, punch, settle).  Now the trim
 * is refused there and the conversion takes the reserve pool.
 */
static void test_settle_short(void)
{
	struct kvfs_mount *mp;
	uint64_t ino;
	int64_t free;

	make_fs();
	mp = open_fs(3600 * 1000);
	ino = head_and_tail(mp, "s");
	free = atomic_exchange(&mp->fdblocks, 0);
	alarm(60);
	CHECK_EQ(kvfs_fsync(mp, ino, true), 0);
	alarm(0);
	atomic_fetch_add(&mp->fdblocks, free);
	CHECK(!busy(mp, ino));
	CHECK_EQ(unwritten_blocks(mp, ino, HEAD, TAIL), 0);
	fsync_close(mp, ino);
}

/*
 * Under a 4 MiB budget the settle starts at 256 inodes with ranges (2 KiB
 * each of an eighth of it), not at the period: 300 files written, most
 * are settled soon.  Without it all 300 stayed pinned until the period
 * (fsstress -p 16 on a mem=3M mount: ~1100, half the budget, and every
 * thread waiting for memory for good).
 */
static void test_kick(void)
{
	struct kv_config cfg = { .budget_bytes = 4u << 20 };
	struct kvfs_mount_opts o = { .settle_ms = 3600 * 1000 };
	static uint64_t ino[300];
	struct kvfs_mount *mp;
	unsigned i, n = 0;
	char name[16];

	CHECK_EQ(kv_init(&cfg), 0);
	make_fs();
	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "k%u", i);
		ino[i] = create(mp, name);
		CHECK_EQ(kvfs_write(mp, ino[i], buf, HEAD + 4096, 0, 0),
			 (ssize_t)(HEAD + 4096));
		CHECK_EQ(kvfs_release(mp, ino[i]), 0);
	}
	for (int t = 0; t < 500; t++) {
		for (i = n = 0; i < 300; i++)
			n += busy(mp, ino[i]);
		if (n < 256)
			break;
		usleep(20000);
	}
	CHECK(n < 256);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	CHECK_EQ(kv_fini(), 0);
}

int main(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	snprintf(path, sizeof(path), "%s/kvfs-convert-%d.img", dir, getpid());
	CHECK_EQ(kv_init(NULL), 0);
	test_pending();
	test_crash();
	test_settle_thread_and_unmount();
	test_truncate_punch();
	test_many_ranges();
	test_btree_fork();
	test_reclaim();
	test_settle_short();
	CHECK_EQ(kv_fini(), 0);
	test_kick();
	unlink(path);
	printf("convert: all passed\n");
	return 0;
}
