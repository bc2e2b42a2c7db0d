// SPDX-License-Identifier: GPL-2.0
/*
 * Speculative preallocation and ENOSPC (issue 9): files written through
 * kvfs_write() and never released.
 *
 * small: a 32 MiB filesystem filled with one-block files until ENOSPC: the
 *        count reaches what the free space allows less the inodes' and
 *        the directory's blocks (each file kept 16 blocks of speculative
 *        preallocation: 418 files filled it).
 * trim:  a few larger files written sequentially (they do get speculative
 *        blocks), then one-block files until ENOSPC: the larger files'
 *        speculative blocks were given back to the small ones (the first
 *        ENOSPC trims every cached file's and tries again).
 * full:  on the filled filesystem, a 1 MiB write that does not fit costs
 *        at most one trim and its log force, as XFS frees speculative
 *        space once per write: each of its retries with less (halving
 *        down to one block) trimmed and forced the log again, which made
 *        fsstress -p 8 on a full mount.kvfs crawl for minutes (every
 *        retry walks the whole inode cache).
 * punch_refused: a punch whose first unmap finds no room (tag
 *        file_unmap_nospc) returns ENOSPC with every byte as it was: the
 *        whole blocks are unmapped before the edges are zeroed (the edges
 *        were zeroed first, then the unmap failed).
 * shrink: with no free block at all (the blocks kept for removals gone
 *        too), a truncate down of a file whose map is a B+tree works: it
 *        only frees (XFS's truncates reserve no blocks).
 * grow_spec: with no free block at all, a truncate up of a file holding
 *        speculative blocks past EOF works: it trims them, cutting from
 *        the end as a truncate down does (it took a punch's split
 *        blocks and failed with ENOSPC: ftruncate() up on a full mount).
 * wb_spec: a write back into a hole below EOF, with nothing free but the
 *        file's own speculative blocks past EOF and the reserves, takes
 *        those blocks (trimmed first), not the write-back reserve: it took
 *        the reserve with them still allocated, and its writer heard a
 *        false ENOSPC (dd onto 32 MiB: at 19 of 26 MiB, 2 runs of 40).
 * prealloc: blocks fallocated (KEEP_SIZE) past EOF before the filesystem
 *        filled stay writable (xfstests generic/274): every other block
 *        written, one write each, splits the unwritten extent until the
 *        map leaves the inode; that conversion's block came from nowhere
 *        and the write failed with ENOSPC (mount.kvfs -o
 *        nowriteback_cache, and O_DIRECT: the 13th and 11th write).
 * punch_full: with the free space gone below the removals' blocks (what
 *        the write-back reserve held written back, as mount.kvfs fills
 *        it), a punch of every other block of a written file works: it
 *        frees, its split from the blocks kept for removals (XFS's unmap
 *        reserves with XFS_TRANS_RESERVE); every punch failed with
 *        ENOSPC, the first one too.
 * The checker finds nothing after each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define FS_SIZE (32u << 20)
#define NBIG 8
#define BIG_SIZE (512u << 10)
#define BIG_STEP (64u << 10)
#define DIR_FILES 64

static uint8_t buf[BIG_STEP];

/*
 * One-block files until ENOSPC, DIR_FILES to a directory (a directory whose
 * extents leave the inode is not supported yet); returns how many were
 * written.
 */
static unsigned fill_small(struct kvfs_mount *mp, const struct kvfs_geom *g,
			   const char *prefix)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	uint64_t dir = 0;
	unsigned n = 0;
	bool created;
	char name[32];
	ssize_t w;
	int err;

	for (;;) {
		if (n % DIR_FILES == 0) {
			snprintf(name, sizeof(name), "%s%u", prefix,
				 n / DIR_FILES);
			err = kvfs_mkdir(mp, kvfs_root_ino(mp), name,
					 S_IFDIR | 0755, &cr, &st);
			if (err == -ENOSPC)
				break;
			CHECK_EQ(err, 0);
			dir = st.ino;
		}
		snprintf(name, sizeof(name), "s%u", n);
		err = kvfs_create(mp, dir, name, S_IFREG | 0644, 0, 0, &cr, &st,
				  &created);
		if (err == -ENOSPC)
			break;
		CHECK_EQ(err, 0);
		w = kvfs_write(mp, st.ino, buf, g->blocksize, 0, 0);
		if (w == -ENOSPC)
			break;
		CHECK_EQ(w, (ssize_t)g->blocksize);
		n++;
	}
	return n;
}

/*
 * The files a free space of bfree blocks holds: one data block each, its
 * share of an inode chunk, and its directory entry (a generous 64 bytes,
 * which covers its directory's inode and block too).
 */
static uint64_t room_for(const struct kvfs_geom *g, uint64_t bfree)
{
	return bfree * g->blocksize / (g->blocksize + g->inodesize + 64);
}

static void test_small(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	uint64_t room;
	unsigned n;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	n = fill_small(mp, &g, "d");
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	room = room_for(&g, s0.bfree);
	printf("enospc small: %u one-block files in %llu free blocks (room "
	       "for %llu), %llu left\n",
	       n, (unsigned long long)s0.bfree, (unsigned long long)room,
	       (unsigned long long)s1.bfree);
	CHECK(n >= room * 95 / 100);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
}

static void test_trim(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	struct kvfs_cred cr = { 0 };
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t big[NBIG], room, spec = 0;
	bool created;
	unsigned n, i;
	char name[32];

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	for (i = 0; i < NBIG; i++) {
		snprintf(name, sizeof(name), "big%u", i);
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name,
				     S_IFREG | 0644, 0, 0, &cr, &st, &created),
			 0);
		big[i] = st.ino;
		for (uint64_t off = 0; off < BIG_SIZE; off += BIG_STEP)
			CHECK_EQ(kvfs_write(mp, big[i], buf, BIG_STEP,
					    (off_t)off, 0),
				 (ssize_t)BIG_STEP);
		CHECK_EQ(kvfs_getattr(mp, big[i], &st), 0);
		spec += st.blocks * 512 - BIG_SIZE;
	}
	/* the premise: sequential writes past 64 KiB do preallocate */
	CHECK(spec > 0);
	n = fill_small(mp, &g, "d");
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	room = room_for(&g, s0.bfree - NBIG * (BIG_SIZE / g.blocksize));
	printf("enospc trim: %llu KiB speculative in %u files, then %u "
	       "one-block files (room for %llu), %llu blocks left\n",
	       (unsigned long long)spec >> 10, NBIG, n,
	       (unsigned long long)room, (unsigned long long)s1.bfree);
	for (i = 0; i < NBIG; i++) {
		CHECK_EQ(kvfs_getattr(mp, big[i], &st), 0);
		CHECK_EQ(st.size, BIG_SIZE);
		/* no block past the end: the trim took them */
		CHECK_EQ(st.blocks * 512, BIG_SIZE);
	}
	CHECK(n >= room * 95 / 100);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
}

static void test_full(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	static uint8_t mib[1 << 20];
	struct kvfs_cred cr = { 0 };
	struct kvfs_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	bool created;
	ssize_t w;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "w", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	fill_small(mp, &g, "d");
	CHECK_EQ(kvfs_stats(mp, &s0, NULL, 0), 0);
	w = kvfs_write(mp, st.ino, mib, sizeof(mib), 1 << 20, 0);
	CHECK_EQ(kvfs_stats(mp, &s1, NULL, 0), 0);
	printf("enospc full: a 1 MiB write gave %zd, %llu log forces\n", w,
	       (unsigned long long)(s1.log_forces - s0.log_forces));
	CHECK(w == -ENOSPC || (w > 0 && w < (ssize_t)sizeof(mib)));
	CHECK(s1.log_forces - s0.log_forces <= 1);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
}

static void test_punch_refused(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	static uint8_t pat[3 * 4096], rd[3 * 4096];
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	bool created;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(g.blocksize, 4096);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "p", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	CHECK_EQ(kvfs_write(mp, st.ino, pat, sizeof(pat), 0, 0),
		 (ssize_t)sizeof(pat));
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_FILE_UNMAP_NOSPC, 0, 1, 1), 0);
	CHECK_EQ(kvfs_fallocate(mp, st.ino,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				1000, 2 * 4096),
		 -ENOSPC);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_FILE_UNMAP_NOSPC), 1);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_FILE_UNMAP_NOSPC, 0, 0, 0), 0);
	CHECK_EQ(kvfs_read(mp, st.ino, rd, sizeof(rd), 0), (ssize_t)sizeof(rd));
	CHECK(!memcmp(rd, pat, sizeof(pat)));
	/* and done when there is room */
	CHECK_EQ(kvfs_fallocate(mp, st.ino,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				1000, 2 * 4096),
		 0);
	CHECK_EQ(kvfs_read(mp, st.ino, rd, sizeof(rd), 0), (ssize_t)sizeof(rd));
	for (size_t i = 0; i < sizeof(rd); i++)
		CHECK_EQ(rd[i], i >= 1000 && i < 1000 + 2 * 4096 ? 0 : pat[i]);
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	printf("enospc punch_refused: a refused punch changed no byte\n");
}

static void test_shrink_nothing_free(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	struct kvfs_cred cr = { 0 };
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	uint64_t ino[2], fsize;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	int64_t hidden;
	bool created;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	for (int f = 0; f < 2; f++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", f);
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name,
				     S_IFREG | 0644, 0, 0, &cr, &st, &created),
			 0);
		ino[f] = st.ino;
	}
	/* interleaved blocks: f0's map is a B+tree of hundreds of extents */
	for (uint64_t b = 0; b < 600; b++)
		for (int f = 0; f < 2; f++)
			CHECK_EQ(kvfs_write(mp, ino[f], buf, g.blocksize,
					    (off_t)(b * g.blocksize), 0),
				 (ssize_t)g.blocksize);
	CHECK_EQ(kvfs_getattr(mp, ino[0], &st), 0);
	fsize = st.size;
	/* every free block hidden from the counter, given back below */
	hidden = atomic_exchange(&mp->fdblocks, 0);
	sa.size = fsize / 3 + 100;
	CHECK_EQ(kvfs_setattr(mp, ino[0], &sa, &cr, &st), 0);
	hidden += atomic_exchange(&mp->fdblocks, 0);
	sa.size = 0;
	CHECK_EQ(kvfs_setattr(mp, ino[0], &sa, &cr, &st), 0);
	CHECK_EQ(st.blocks, 0);
	hidden += atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_release(mp, ino[1]), 0);
	atomic_fetch_add(&mp->fdblocks, hidden);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	printf("enospc shrink: a %llu-byte file of 600 extents truncated with "
	       "no free block\n",
	       (unsigned long long)fsize);
}

static void test_grow_spec(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	struct kvfs_cred cr = { 0 };
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t ino, spec;
	int64_t hidden;
	uint8_t *rd;
	bool created;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "g", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	for (uint32_t off = 0; off < BIG_SIZE; off += BIG_STEP)
		CHECK_EQ(kvfs_write(mp, ino, buf, BIG_STEP, off, 0),
			 (ssize_t)BIG_STEP);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	spec = st.blocks * 512 - BIG_SIZE;
	CHECK(spec > 0);
	/* every free block hidden from the counter, given back below */
	hidden = atomic_exchange(&mp->fdblocks, 0);
	sa.size = BIG_SIZE + g.blocksize + 100;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, &st), 0);
	CHECK_EQ(st.size, sa.size);
	hidden += atomic_exchange(&mp->fdblocks, 0);
	rd = malloc(g.blocksize);
	CHECK(rd != NULL);
	CHECK_EQ(kvfs_read(mp, ino, rd, g.blocksize, BIG_SIZE),
		 (ssize_t)g.blocksize);
	for (uint32_t b = 0; b < g.blocksize; b++)
		CHECK_EQ(rd[b], 0);
	free(rd);
	CHECK_EQ(kvfs_release(mp, ino), 0);
	atomic_fetch_add(&mp->fdblocks, hidden);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	printf("enospc grow_spec: a file with %llu KiB speculative grown with "
	       "no free block\n",
	       (unsigned long long)spec >> 10);
}

static void test_wb_spec(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	struct kvfs_open_opts oo = { .wb_reserve_bytes = 32u << 20 };
	struct kvfs_open_info info;
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t ino, spec;
	int64_t hidden;
	bool created, reserve = true;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, &info), 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "w", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	/* sequential writes (speculative blocks), then [0, BIG_STEP) a hole */
	for (uint32_t off = 0; off < BIG_SIZE; off += BIG_STEP)
		CHECK_EQ(kvfs_write(mp, ino, buf, BIG_STEP, off, 0),
			 (ssize_t)BIG_STEP);
	CHECK_EQ(kvfs_fallocate(mp, ino,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				BIG_STEP),
		 0);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	spec = st.blocks * 512 - (BIG_SIZE - BIG_STEP);
	CHECK(spec >= BIG_STEP);
	/* free: the reserves alone, given back below */
	hidden = atomic_exchange(&mp->fdblocks,
				 (int64_t)(mp->resblks + mp->wbblks));
	hidden -= (int64_t)(mp->resblks + mp->wbblks);
	CHECK_EQ(kvfs_write_cached(mp, ino, buf, BIG_STEP, 0, 0, &reserve),
		 (ssize_t)BIG_STEP);
	CHECK(!reserve);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.blocks * 512, (uint64_t)BIG_SIZE);
	CHECK_EQ(kvfs_release(mp, ino), 0);
	atomic_fetch_add(&mp->fdblocks, hidden);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	printf("enospc wb_spec: a write back into a hole took %llu KiB of "
	       "its file's speculative blocks, not the reserve\n",
	       (unsigned long long)spec >> 10);
}

static void test_prealloc_full(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	const unsigned nblk = 1024;
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st, fst;
	uint64_t ino;
	uint8_t *rd;
	bool created;
	unsigned i, pass;
	off_t off = 0;
	ssize_t w;

	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "p", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	CHECK_EQ(kvfs_write(mp, ino, buf, g.blocksize, 0, 0),
		 (ssize_t)g.blocksize);
	CHECK_EQ(kvfs_fallocate(mp, ino, FALLOC_FL_KEEP_SIZE, g.blocksize,
				(off_t)nblk * g.blocksize),
		 0);
	/* everything else taken: big writes, then block by block */
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "fill", S_IFREG | 0644, 0,
			     0, &cr, &fst, &created),
		 0);
	while ((w = kvfs_write(mp, fst.ino, buf, BIG_STEP, off, 0)) > 0)
		off += w;
	while ((w = kvfs_write(mp, fst.ino, buf, g.blocksize, off, 0)) > 0)
		off += w;
	CHECK_EQ(w, -ENOSPC);
	/* odd blocks first (each splits the unwritten extent), then even */
	for (pass = 1; pass <= 2; pass++) {
		for (i = pass; i <= nblk; i += 2) {
			memset(buf, (int)(i & 0xff), g.blocksize);
			w = kvfs_write(mp, ino, buf, g.blocksize,
				       (off_t)i * g.blocksize, 0);
			if (w != (ssize_t)g.blocksize)
				printf("enospc prealloc: block %u: %zd\n", i,
				       w);
			CHECK_EQ(w, (ssize_t)g.blocksize);
		}
		CHECK_EQ(kvfs_sync(mp), 0);
	}
	rd = malloc(g.blocksize);
	CHECK(rd != NULL);
	for (i = 1; i <= nblk; i++) {
		memset(buf, (int)(i & 0xff), g.blocksize);
		CHECK_EQ(kvfs_read(mp, ino, rd, g.blocksize,
				   (off_t)i * g.blocksize),
			 (ssize_t)g.blocksize);
		CHECK(memcmp(rd, buf, g.blocksize) == 0);
	}
	free(rd);
	memset(buf, 0x5a, sizeof(buf));
	printf("enospc prealloc: %u blocks written into fallocated space on "
	       "a full filesystem\n",
	       nblk);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
}

static void test_punch_full(void)
{
	static char path[] = "/tmp/kvfs-test-enospc-XXXXXX";
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	const unsigned nblk = 1024;
	struct kvfs_open_opts oo = { .wb_reserve_bytes = 32u << 20 };
	struct kvfs_open_info info;
	struct kvfs_cred cr = { 0 };
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st, fst;
	uint64_t ino;
	uint8_t *rd;
	bool created, reserve;
	unsigned i;
	off_t off = 0;
	ssize_t w;

	/* opened as mount.kvfs opens it: with a write-back reserve */
	mp = fresh_fs(path, FS_SIZE, 2, &g);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, &info), 0);
	CHECK(kvfs_wb_reserve_bytes(mp) > 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "p", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	for (i = 0; i < nblk * g.blocksize / BIG_STEP; i++)
		CHECK_EQ(kvfs_write(mp, ino, buf, BIG_STEP, (off_t)i * BIG_STEP,
				    0),
			 (ssize_t)BIG_STEP);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "fill", S_IFREG | 0644, 0,
			     0, &cr, &fst, &created),
		 0);
	while ((w = kvfs_write(mp, fst.ino, buf, g.blocksize, off, 0)) > 0)
		off += w;
	CHECK_EQ(w, -ENOSPC);
	/* the write-back reserve taken too, as the kernel's cache does */
	while ((w = kvfs_write_cached(mp, fst.ino, buf, g.blocksize, off, 0,
				      &reserve)) > 0)
		off += w;
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	for (i = 1; i < nblk; i += 2) {
		int err = kvfs_fallocate(mp, ino, punch, (off_t)i * g.blocksize,
					 g.blocksize);

		if (err)
			printf("enospc punch_full: block %u: %d\n", i, err);
		CHECK_EQ(err, 0);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	rd = malloc(g.blocksize);
	CHECK(rd != NULL);
	for (i = 0; i < nblk; i++) {
		CHECK_EQ(kvfs_read(mp, ino, rd, g.blocksize,
				   (off_t)i * g.blocksize),
			 (ssize_t)g.blocksize);
		for (uint32_t b = 0; b < g.blocksize; b++)
			CHECK_EQ(rd[b], i % 2 ? 0 : 0x5a);
	}
	free(rd);
	printf("enospc punch_full: %u blocks punched on a full filesystem, "
	       "%llu -> %llu free\n",
	       nblk / 2, (unsigned long long)s0.bfree,
	       (unsigned long long)s1.bfree);
	CHECK(s1.bfree > s0.bfree);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
}

int main(void)
{
	memset(buf, 0x5a, sizeof(buf));
	CHECK_EQ(kv_init(NULL), 0);
	test_small();
	test_trim();
	test_full();
	test_punch_refused();
	test_shrink_nothing_free();
	test_grow_spec();
	test_wb_spec();
	test_prealloc_full();
	test_punch_full();
	CHECK_EQ(kv_fini(), 0);
	printf("enospc: ok\n");
	return 0;
}
