// SPDX-License-Identifier: GPL-2.0
/*
 * Transaction reservations (fs/trans/trans_resv.h) for every block size from
 * 1 KiB to 64 KiB and inode size from 512 bytes to 2 KiB: each covers its
 * named parts, fits the smallest log mkfs allows four times, grows with
 * the height of the trees; a log too small for them is refused by mkfs
 * and, when a superblock says otherwise, by the mount with a clear error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/format/sb.h"
#include "fs/trans/trans_resv.h"
#include "tests/check.h"

static void geom(uint32_t blocklog, uint32_t inodelog, uint32_t agblocks,
		 struct kvfs_geom *g)
{
	memset(g, 0, sizeof(*g));
	g->blocklog = blocklog;
	g->blocksize = 1u << blocklog;
	g->inodelog = inodelog;
	g->inodesize = 1u << inodelog;
	g->inopblog = blocklog - inodelog;
	g->inopblock = 1u << g->inopblog;
	g->ialloc_inos = g->inopblock > KVFS_INODES_PER_CHUNK ?
				 g->inopblock :
				 KVFS_INODES_PER_CHUNK;
	g->ialloc_blocks = g->ialloc_inos / g->inopblock;
	g->agblocks = agblocks;
	kvfs_geom_derive(g);
}

static void check_parts(const struct kvfs_geom *g,
			const struct kvfs_trans_resv *r)
{
	uint32_t buf = r->buf_bytes, ino = r->inode_bytes;
	/* one allocation or free in both free-space trees, every level */
	uint32_t allocfree = 2 * (2 * r->alloc_maxlevels - 1) * buf;
	uint32_t bmap_split = 2 * (r->bmap_maxlevels - 1) * buf;

	CHECK(buf > g->blocksize && ino > g->inodesize);
	CHECK(r->write.log_bytes >= ino + bmap_split + 2 * buf + 2 * allocfree);
	CHECK(r->itruncate.log_bytes >= ino + bmap_split + 2 * buf + allocfree +
						kvfs_resv_intent_bytes(1));
	CHECK(r->extent_free.log_bytes >= 2 * buf + allocfree +
						  kvfs_resv_done_bytes() +
						  kvfs_resv_intent_bytes(1));
	CHECK(r->create.log_bytes >=
	      ino + buf * (1 + g->ialloc_blocks + 2 * r->inobt_maxlevels - 1) +
		      2 * buf + allocfree);
	CHECK(r->ichange.log_bytes >= ino);
	CHECK(r->write.blocks >= r->bmap_maxlevels - 1);
	CHECK(r->create.blocks >= g->ialloc_blocks + r->inobt_maxlevels - 1);
	CHECK(r->write.log_count >= 1 && r->itruncate.log_count >= 1);
}

static void test_geometries(void)
{
	uint32_t bl, il;

	for (bl = KVFS_MIN_BLOCKLOG; bl <= KVFS_MAX_BLOCKLOG; bl++) {
		for (il = KVFS_MIN_INODELOG;
		     il <= KVFS_MAX_INODELOG && il <= bl; il++) {
			struct kvfs_trans_resv small, big;
			struct kvfs_geom gs, gb;
			uint64_t min;
			char err[256];

			/* a 16 MiB AG and the largest AG (1 TiB) */
			geom(bl, il, (16u << 20) >> bl, &gs);
			geom(bl, il,
			     (uint32_t)(((1ull << 40) >> bl) < UINT32_MAX ?
						((1ull << 40) >> bl) :
						UINT32_MAX),
			     &gb);
			kvfs_trans_resv_compute(&gs, &small);
			kvfs_trans_resv_compute(&gb, &big);
			check_parts(&gs, &small);
			check_parts(&gb, &big);
			/* taller trees, larger reservations */
			CHECK(big.alloc_maxlevels > small.alloc_maxlevels);
			CHECK(big.inobt_maxlevels >= small.inobt_maxlevels);
			CHECK(big.write.log_bytes > small.write.log_bytes);
			CHECK(big.extent_free.log_bytes >
			      small.extent_free.log_bytes);
			CHECK(big.create.log_bytes > small.create.log_bytes);
			/* the smallest log holds the largest grant 4 times */
			min = kvfs_trans_resv_min_log_bytes(&gb);
			CHECK(min >= KVFS_LOG_MIN_BYTES);
			CHECK(min >= 4 * kvfs_trans_resv_max_grant(&big));
			CHECK_EQ(kvfs_trans_resv_check(&big, min, err,
						       sizeof(err)),
				 0);
			CHECK_EQ(kvfs_trans_resv_check(
					 &big,
					 4 * kvfs_trans_resv_max_grant(&big) -
						 512,
					 err, sizeof(err)),
				 -ENOSPC);
			CHECK(strstr(err, "quarter of the"));
			/*
			 * up to 4 KiB blocks the 4 MiB log is enough (8 KiB
			 * blocks with 2 KiB inodes need a little more since
			 * a 64 KiB attribute value and an extent-tree split
			 * share one transaction)
			 */
			if (bl <= 12)
				CHECK_EQ(min, KVFS_LOG_MIN_BYTES);
			printf("bs %5u inode %4u levels %u/%u/%u write %u "
			       "itruncate %u extent_free %u create %u: min log "
			       "%llu\n",
			       gb.blocksize, gb.inodesize, big.alloc_maxlevels,
			       big.inobt_maxlevels, big.bmap_maxlevels,
			       big.write.log_bytes, big.itruncate.log_bytes,
			       big.extent_free.log_bytes, big.create.log_bytes,
			       (unsigned long long)min);
		}
	}
}

/* mkfs refuses a small log; a superblock claiming one is refused at mount */
static void test_refused(void)
{
	char path[] = "/tmp/kvfs-test-resv-XXXXXX";
	int fd = mkstemp(path);
	struct kvfs_mkfs_opts o = { .size = 256 << 20,
				    .blocksize = 65536,
				    .logsize = 8 << 20,
				    .force = true };
	struct kvfs_mount *mp;
	struct kv_bcache *bc;
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kv_buf *bp;

	CHECK(fd >= 0);
	close(fd);
	o.target = path;
	CHECK_EQ(kvfs_mkfs(&o, &g), -EINVAL);
	CHECK(strstr(o.err, "minimum of this block and inode size"));
	o.logsize = 16 << 20;
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	/* shrink the log in the superblock to 8 MiB */
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	CHECK_EQ(kv_bcache_create(dev, g.blocksize, 0, &bc), 0);
	kv_bcache_set_private(bc, &g);
	CHECK_EQ(kv_buf_read(bc, 0, 1, &kvfs_sb_buf_ops, &bp), 0);
	kv_buf_lock(bp);
	g.logblocks = (8u << 20) / g.blocksize;
	kvfs_sb_to_disk(&g, 0, bp->b_addr);
	CHECK_EQ(kv_buf_write(bp), 0);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	kv_bcache_destroy(bc);
	CHECK_EQ(kv_dev_flush(dev), 0);
	kv_dev_close(dev);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), -ENOSPC);
	printf("mount: %s\n", kvfs_mount_error());
	CHECK(strstr(kvfs_mount_error(), "reservation"));
	CHECK(strstr(kvfs_mount_error(), "quarter of the 8388608-byte log"));
	unlink(path);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	test_geometries();
	test_refused();
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
