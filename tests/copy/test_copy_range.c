// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_copy_file_range() (fs/data/copy_range.c) and kvfs_stats()
 * (fs/stats/stats.c) at the API: contents compared byte for byte at
 * aligned and unaligned offsets, holes kept (and punched over existing
 * data), the size moved by a trailing hole, the errno cases in Linux's
 * order; the figures move with what was done.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define MIB (1 << 20)

static struct kvfs_mount *mp;
static struct kvfs_cred cr;
static uint8_t a[5 * MIB], b[5 * MIB];

static uint64_t mkfile(const char *name, uint32_t mode)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, mode, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	return st.ino;
}

static void put(uint64_t ino, const uint8_t *buf, size_t len, off_t off)
{
	CHECK_EQ(kvfs_write(mp, ino, buf, len, off, 0), (ssize_t)len);
}

static struct kvfs_stat stat_of(uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st;
}

/* [off, off + len) of ino equals want */
static void same(uint64_t ino, off_t off, const uint8_t *want, size_t len)
{
	CHECK_EQ(kvfs_read(mp, ino, b, len, off), (ssize_t)len);
	CHECK(!memcmp(b, want, len));
}

/* the first hole of ino is [start, end) */
static void hole_at(uint64_t ino, off_t start, off_t end)
{
	off_t res;

	CHECK_EQ(kvfs_lseek(mp, ino, 0, SEEK_HOLE, &res), 0);
	CHECK_EQ(res, start);
	CHECK_EQ(kvfs_lseek(mp, ino, start, SEEK_DATA, &res), 0);
	CHECK_EQ(res, end);
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 131 + seed + (i >> 12));
}

int main(void)
{
	static char path[] = "/tmp/kvfs-test-copy-XXXXXX";
	struct kvfs_stats s0, s1;
	struct kvfs_ag_stats ag[16];
	struct kvfs_mount *m;
	struct kvfs_geom g;
	const size_t asize = 3 * MIB + 123;
	uint64_t src, dst, over, odd, tail, dir, fifo;
	uint64_t free_sum = 0;
	struct kvfs_stat st;

	CHECK_EQ(kv_init(NULL), 0);
	m = mp = fresh_fs(path, 64 << 20, 4, &g);
	CHECK_EQ(kvfs_stats(mp, &s0, ag, 16), 0);
	CHECK_EQ(s0.agcount, 4);
	CHECK_EQ(s0.block_size, g.blocksize);
	CHECK(s0.log_bytes > 0 && s0.log_bytes_used <= s0.log_bytes);

	/* src: data, a 1 MiB hole, data to an unaligned end */
	fill(a, sizeof(a), 7);
	memset(a + MIB, 0, MIB);
	src = mkfile("src", S_IFREG | 0644);
	put(src, a, MIB, 0);
	put(src, a + 2 * MIB, asize - 2 * MIB, 2 * MIB);
	CHECK_EQ(stat_of(src).size, asize);

	/* the whole file into a new one, len past the end: cut to it */
	dst = mkfile("dst", S_IFREG | 0644);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, 0, 8 * MIB, 0),
		 (ssize_t)asize);
	st = stat_of(dst);
	CHECK_EQ(st.size, asize);
	same(dst, 0, a, asize);
	/* the hole stayed a hole */
	hole_at(dst, MIB, 2 * MIB);
	CHECK_EQ(kvfs_release(mp, dst), 0);
	/* (the core's speculative preallocation may sit in the hole) */
	CHECK(stat_of(dst).blocks * 512 < asize - MIB / 2);

	/* over existing data: the hole's range reads zeros afterwards */
	over = mkfile("over", S_IFREG | 0644);
	memset(b, 0xff, 4 * MIB);
	put(over, b, 4 * MIB, 0);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, over, 0, asize, 0),
		 (ssize_t)asize);
	same(over, 0, a, asize);
	hole_at(over, MIB, 2 * MIB);
	memset(a + 4 * MIB, 0xff, MIB);
	CHECK_EQ(kvfs_read(mp, over, b, 4 * MIB, 0), 4 * MIB);
	CHECK(!memcmp(b + asize, a + 4 * MIB, 4 * MIB - asize));
	CHECK_EQ(stat_of(over).size, 4 * MIB);

	/* unaligned on both sides, across the hole */
	odd = mkfile("odd", S_IFREG | 0644);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 100, odd, 7, MIB + MIB / 2, 0),
		 MIB + MIB / 2);
	CHECK_EQ(stat_of(odd).size, 7 + MIB + MIB / 2);
	memset(a + 4 * MIB, 0, 7);
	same(odd, 0, a + 4 * MIB, 7);
	same(odd, 7, a + 100, MIB + MIB / 2);

	/* a trailing hole moves the size all the same */
	tail = mkfile("tail", S_IFREG | 0644);
	CHECK_EQ(kvfs_copy_file_range(mp, src, MIB, tail, 0, MIB, 0), MIB);
	st = stat_of(tail);
	CHECK_EQ(st.size, MIB);
	CHECK_EQ(st.blocks, 0);
	memset(a + 4 * MIB, 0, MIB);
	same(tail, 0, a + 4 * MIB, MIB);

	/* the same file, ranges apart: fine; overlapping: EINVAL */
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, src, 4 * MIB, 1000, 0), 1000);
	same(src, 4 * MIB, a, 1000);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, src, 999, 1000, 0), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 1000, src, 1, 1000, 0), -EINVAL);
	/* the overlap is that of the ranges cut at the end of file */
	CHECK_EQ(kvfs_copy_file_range(mp, src, 4 * MIB, src, 4 * MIB + 500, MIB,
				      0),
		 -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 4 * MIB + 500, src,
				      4 * MIB + 1000, MIB, 0),
		 500);

	/* nothing past the end of file */
	CHECK_EQ(kvfs_copy_file_range(mp, src, 8 * MIB, dst, 0, MIB, 0), 0);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, 0, 0, 0), 0);

	/* the errno cases */
	dir = kvfs_root_ino(mp);
	fifo = mkfile("fifo", S_IFIFO | 0644);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, 0, 1, 1), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, -1, dst, 0, 1, 0), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, -1, 1, 0), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, dir, 0, dst, 0, 1, 0), -EISDIR);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dir, 0, 1, 0), -EISDIR);
	CHECK_EQ(kvfs_copy_file_range(mp, fifo, 0, dst, 0, 1, 0), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, fifo, 0, 1, 0), -EINVAL);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 1, dst, 0, SIZE_MAX, 0),
		 -EOVERFLOW);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, INT64_MAX, 0, 0),
		 -EFBIG);
	/* no such inode: as getattr says */
	CHECK(kvfs_getattr(mp, 123456789, &st) < 0);
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, 123456789, 0, 1, 0),
		 kvfs_getattr(mp, 123456789, &st));
	/* nothing changed by the failures */
	same(dst, 0, a, MIB);
	CHECK_EQ(stat_of(dst).size, asize);

	/* the figures moved with all this */
	CHECK_EQ(kvfs_stats(mp, &s1, ag, 16), 0);
	CHECK(s1.log_commits > s0.log_commits);
	CHECK(s1.inode_hits > s0.inode_hits);
	CHECK(s1.buf_hits + s1.buf_misses > s0.buf_hits + s0.buf_misses);
	CHECK(s1.free_blocks < s0.free_blocks);
	CHECK(s1.inode_cached >= 7);
	for (unsigned i = 0; i < s1.agcount; i++) {
		CHECK(ag[i].free_blocks > 0);
		CHECK(ag[i].longest <= ag[i].free_blocks);
		free_sum += ag[i].free_blocks;
	}
	/* the AGs hold the free blocks and some set aside */
	CHECK(free_sum >= s1.free_blocks);
	CHECK(ag[0].lock_acquired > 0);
	CHECK(ag[0].inodes >= 8 && ag[0].inodes_free < ag[0].inodes);

	CHECK_EQ(kvfs_close(m), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
