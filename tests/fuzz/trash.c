// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of tools_trash.sh:
 *   trash make IMAGE           mkfs (the fuzz geometry) and populate it
 *                              (tests/fuzz/populate.h), closed cleanly
 *   trash inos IMAGE           the inode numbers in use, one a line
 *   trash flip IMAGE SEED N    N random bytes of random metadata blocks
 *                              (found by their magic; and the log's
 *                              written blocks) xored with a
 *                              non-zero byte, written in place; with an
 *                              odd SEED each damaged block's crc is
 *                              recomputed (each inode's in an inode
 *                              block), so readers get past the checksum
 *                              to the parsers.  Prints the blocks.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/io/buf_ops.h"
#include "fs/format/dinode.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/populate.h"

static void make(const char *path)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_geom g;

	fuzz_mkfs(path, &g);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	fuzz_populate(mp, 600);
	CHECK_EQ(kvfs_close(mp), 0);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * Block numbers of the metadata blocks (by magic) and of the log's blocks
 * holding anything into *list.
 */
static size_t meta_blocks(int fd, const struct kvfs_geom *g, uint64_t **list)
{
	uint8_t *blk = malloc(g->blocksize);
	size_t n = 0;

	CHECK(blk != NULL);
	*list = malloc(g->dblocks * sizeof(**list));
	CHECK(*list != NULL);
	for (uint64_t b = 0; b < g->dblocks; b++) {
		CHECK_EQ(
			pread(fd, blk, g->blocksize, (off_t)(b * g->blocksize)),
			(ssize_t)g->blocksize);
		if (kvfs_buf_ops_by_magic(blk, g->blocksize) ||
		    (b >= g->logstart && b < g->logstart + g->logblocks &&
		     !all_zero(blk, g->blocksize)))
			(*list)[n++] = b;
	}
	free(blk);
	return n;
}

static void inos(int fd, const struct kvfs_geom *g)
{
	uint8_t *blk = malloc(g->blocksize);

	CHECK(blk != NULL);
	for (uint64_t b = 0; b < g->dblocks; b++) {
		CHECK_EQ(
			pread(fd, blk, g->blocksize, (off_t)(b * g->blocksize)),
			(ssize_t)g->blocksize);
		if (le32toh(*(uint32_t *)blk) != KVFS_DINODE_MAGIC)
			continue;
		for (uint32_t o = 0; o < g->blocksize; o += g->inodesize) {
			const struct kvfs_dinode *d = (const void *)(blk + o);

			if (kv_le16_to_cpu(d->mode))
				printf("%" PRIu64 "\n", fuzz_hdr_owner(d));
		}
	}
	free(blk);
}

static void flip(int fd, const struct kvfs_geom *g, unsigned seed,
		 unsigned count)
{
	uint8_t *blk = malloc(g->blocksize);
	uint64_t *list;
	size_t n = meta_blocks(fd, g, &list);

	CHECK(blk != NULL && n > 0);
	srand(seed);
	for (unsigned i = 0; i < count; i++) {
		uint64_t b = list[(size_t)rand() % n];
		uint32_t off = (uint32_t)rand() % g->blocksize;
		uint8_t x = (uint8_t)(1 + rand() % 255);
		off_t pos = (off_t)(b * g->blocksize);

		CHECK_EQ(pread(fd, blk, g->blocksize, pos),
			 (ssize_t)g->blocksize);
		blk[off] ^= x;
		/* log blocks carry no block header: their crcs stay */
		if ((seed & 1) && kvfs_buf_ops_by_magic(blk, g->blocksize)) {
			if (le32toh(*(uint32_t *)blk) == KVFS_DINODE_MAGIC)
				kvfs_blkhdr_set_crc(
					blk + (off & ~(g->inodesize - 1)),
					g->inodesize);
			else
				kvfs_blkhdr_set_crc(blk, g->blocksize);
		}
		CHECK_EQ(pwrite(fd, blk, g->blocksize, pos),
			 (ssize_t)g->blocksize);
		printf("block %" PRIu64 " byte %u ^= 0x%02x\n", b, off, x);
	}
	free(list);
	free(blk);
}

int main(int argc, char **argv)
{
	const struct kvfs_geom *g;
	int fd;

	if (argc == 3 && !strcmp(argv[1], "make")) {
		fuzz_geom();
		make(argv[2]);
		return 0;
	}
	if (!(argc == 3 && !strcmp(argv[1], "inos")) &&
	    !(argc == 5 && !strcmp(argv[1], "flip"))) {
		fprintf(stderr, "usage: trash make|inos IMAGE, "
				"trash flip IMAGE SEED N\n");
		return 2;
	}
	g = fuzz_geom();
	fd = open(argv[2], argc == 5 ? O_RDWR : O_RDONLY);
	CHECK(fd >= 0);
	if (argc == 3)
		inos(fd, g);
	else
		flip(fd, g, (unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	CHECK_EQ(close(fd), 0);
	return 0;
}
