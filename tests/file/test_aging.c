// SPDX-License-Identifier: GPL-2.0
/*
 * An aged filesystem's new files: 300 files of 16 KiB - 1 MiB written in
 * 128 KiB writes (as the kernel sends them through a mount) and released,
 * every other one removed, then 40 files of 2 MiB written the same way
 * into the holes (256 MiB, 4 AGs, 4 KiB blocks).  The 40 files' data
 * extents are counted: an allocation that takes the short pieces near
 * its goal while other AGs hold pieces of the whole length cuts each
 * file up (XFS's xfs_bmap_btalloc_select_lengths() asks for the longest
 * piece any AG has).  The image is clean at the end.
 *
 * Usage: test_aging [seed]  (prints the extent count)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define WCHUNK (128u << 10)
#define NOLD 300
#define NNEW 40
#define NEWSIZE (2u << 20)
/*
 * Each file grows by its writes and their doubling speculative blocks,
 * about 4 allocations: 158-175 extents over seeds 1-10 with the length
 * selection, 233-249 without (seeds 1-4).
 */
#define MAX_EXTENTS 200

static uint64_t seed = 1;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static uint64_t write_file(struct kvfs_mount *mp, const char *name,
			   uint64_t size, const uint8_t *buf)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	uint64_t off;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	for (off = 0; off < size; off += WCHUNK) {
		size_t n = size - off < WCHUNK ? size - off : WCHUNK;

		CHECK_EQ(kvfs_write(mp, st.ino, buf, n, (off_t)off, 0),
			 (ssize_t)n);
	}
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	return st.ino;
}

int main(int argc, char **argv)
{
	static char path[] = "/tmp/kvfs-test-aging-XXXXXX";
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_geom g;
	uint64_t ino[NNEW], extents = 0;
	uint8_t *buf = malloc(WCHUNK);
	char name[32];
	unsigned i;

	if (argc > 1)
		seed = strtoull(argv[1], NULL, 0) | 1;
	CHECK(buf);
	memset(buf, 0x5a, WCHUNK);
	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 256 << 20, 4, &g);
	for (i = 0; i < NOLD; i++) {
		uint64_t size = (4 + rnd() % 253) << 12;

		snprintf(name, sizeof(name), "old-%03u", i);
		write_file(mp, name, size, buf);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	for (i = 0; i < NOLD; i += 2) {
		snprintf(name, sizeof(name), "old-%03u", i);
		CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), name), 0);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	for (i = 0; i < NNEW; i++) {
		snprintf(name, sizeof(name), "new-%02u", i);
		ino[i] = write_file(mp, name, NEWSIZE, buf);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	for (i = 0; i < NNEW; i++) {
		CHECK_EQ(kvfs_iget(mp, ino[i], 0, &ip), 0);
		extents += ip->i_nextents;
		kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	free(buf);
	CHECK_EQ(kv_fini(), 0);
	printf("aging: %u files of %u MiB in %llu extents (at most %u)\n", NNEW,
	       NEWSIZE >> 20, (unsigned long long)extents, MAX_EXTENTS);
	CHECK(extents <= MAX_EXTENTS);
	return 0;
}
