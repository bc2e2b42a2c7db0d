// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata buffer types over a real mkfs'd image: every block type mkfs
 * writes reads back through the buffer cache with its ops; a flipped byte
 * is -EBADMSG, a block read as the wrong type is -EUCLEAN; write-back
 * stamps the LSN so that a fresh cache reads the block back verified; an
 * LSN at or past the log's head fails the read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/format.h"
#include "fs/format/geom.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"

struct blk_type {
	uint32_t agbno;
	unsigned nblks;
	const struct kv_buf_ops *ops;
};

static struct kvfs_geom geom;
static char image[64];

static struct kv_bcache *open_cache(struct kv_dev **devp)
{
	struct kv_bcache *bc;

	CHECK_EQ(kv_dev_open(image, 0, devp), 0);
	CHECK_EQ(kv_bcache_create(*devp, geom.blocksize, 0, &bc), 0);
	kv_bcache_set_private(bc, &geom);
	return bc;
}

static void close_cache(struct kv_bcache *bc, struct kv_dev *dev)
{
	kv_bcache_destroy(bc);
	kv_dev_close(dev);
}

static int read_type(struct kv_bcache *bc, uint64_t fsb,
		     const struct blk_type *t)
{
	struct kv_buf *bp;
	int err;

	err = kv_buf_read(bc, fsb, t->nblks, t->ops, &bp);
	if (!err)
		kv_buf_rele(bp);
	return err;
}

/* The log's head the verifiers judge LSNs by (kv_bcache_set_lsn_head()). */
static uint64_t test_head;

static uint64_t head_fn(void *priv)
{
	(void)priv;
	return test_head;
}

/* Write the block at fsb back through t's ops stamped with lsn. */
static void stamp_lsn(uint64_t fsb, const struct blk_type *t, uint64_t lsn)
{
	struct kv_bcache *bc;
	struct kv_dev *dev;
	struct kv_buf *bp;

	bc = open_cache(&dev);
	CHECK_EQ(kv_buf_read(bc, fsb, t->nblks, t->ops, &bp), 0);
	kv_buf_lock(bp);
	bp->b_lsn = lsn;
	kv_buf_mark_dirty(bp);
	CHECK_EQ(kv_buf_write(bp), 0);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	close_cache(bc, dev);
}

/* Read the block at fsb through t's ops in a fresh cache judging by head. */
static int read_with_head(uint64_t fsb, const struct blk_type *t, uint64_t head)
{
	struct kv_bcache *bc;
	struct kv_dev *dev;
	int err;

	bc = open_cache(&dev);
	test_head = head;
	kv_bcache_set_lsn_head(bc, head_fn, NULL);
	err = read_type(bc, fsb, t);
	close_cache(bc, dev);
	return err;
}

/*
 * A header whose LSN is at or past the log's head fails its read verifier
 * (XFS's xfs_log_check_lsn()), naming both; below it, or with no head to
 * judge by (a cache without one: the tools'), it reads.  The superblock is
 * left to fsck's phase 1; an inode is judged when it is loaded.
 */
static void check_lsn_types(const struct blk_type *types, size_t nt)
{
	const uint64_t lsn = (7ull << 32) | 300, head = (7ull << 32) | 301;
	unsigned long reports;

	for (size_t i = 0; i < nt; i++) {
		const struct blk_type *t = &types[i];
		uint64_t fsb = kvfs_agb_to_fsb(&geom, 3, t->agbno);
		bool judged = t->ops != &kvfs_sb_buf_ops &&
			      t->ops != &kvfs_inode_buf_ops;

		if (t->ops == &kvfs_inode_buf_ops)
			continue;
		stamp_lsn(fsb, t, lsn);
		CHECK_EQ(read_with_head(fsb, t, 0), 0);
		CHECK_EQ(read_with_head(fsb, t, head), 0);
		reports = kvfs_corrupt_count();
		CHECK_EQ(read_with_head(fsb, t, lsn), judged ? -EUCLEAN : 0);
		CHECK_EQ(read_with_head(fsb, t, lsn - 5),
			 judged ? -EUCLEAN : 0);
		if (!judged) {
			CHECK_EQ(kvfs_corrupt_count(), reports);
			continue;
		}
		CHECK_EQ(kvfs_corrupt_count(), reports + 2);
		CHECK_EQ(kvfs_report_last()->err, -EUCLEAN);
		CHECK_EQ(kvfs_report_last()->blkno, fsb);
		/* the structure as its verifier names it */
		CHECK(kvfs_report_last()->what[0]);
		CHECK(!strcmp(kvfs_report_last()->msg,
			      "LSN 7/300 ahead of the log (head 7/295)"));
		CHECK(strstr(kv_buf_last_error(),
			     "LSN 7/300 ahead of the log"));
		/* a cycle past the head's, its block lower */
		stamp_lsn(fsb, t, (8ull << 32) | 1);
		CHECK_EQ(read_with_head(fsb, t, head), -EUCLEAN);
		CHECK(!strcmp(kvfs_report_last()->msg,
			      "LSN 8/1 ahead of the log (head 7/301)"));
		stamp_lsn(fsb, t, 0);
		CHECK_EQ(read_with_head(fsb, t, head), 0);
	}

	/* an inode: reported as such, in its block */
	{
		uint8_t dip[KVFS_BLK_HDR_SIZE] = { 0 };
		struct kvfs_blk_hdr *h = (void *)dip;

		h->lsn = kv_cpu_to_le64(head);
		CHECK_EQ(kvfs_blkhdr_check_lsn(dip, 16, 131, NULL, head),
			 -EUCLEAN);
		CHECK_EQ(kvfs_report_last()->ino, 131);
		CHECK_EQ(kvfs_report_last()->blkno, 16);
		CHECK(!strcmp(kvfs_report_last()->msg,
			      "LSN 7/301 ahead of the log (head 7/301)"));
		CHECK_EQ(kvfs_blkhdr_check_lsn(dip, 16, 131, NULL, head + 1),
			 0);
		CHECK_EQ(kvfs_blkhdr_check_lsn(dip, 16, 131, NULL, 0), 0);
	}
}

static void flip_byte(uint64_t off)
{
	struct kv_dev *dev;
	uint8_t b;

	CHECK_EQ(kv_dev_open(image, 0, &dev), 0);
	CHECK_EQ(kv_dev_pread(dev, &b, 1, off), 0);
	b ^= 0x40;
	CHECK_EQ(kv_dev_pwrite(dev, &b, 1, off), 0);
	kv_dev_close(dev);
}

int main(void)
{
	struct kvfs_mkfs_opts o = { 0 };
	struct kv_bcache *bc;
	struct kv_dev *dev;
	struct kv_buf *bp;
	struct blk_type types[8];
	size_t nt = 0;
	int fd;

	CHECK_EQ(kv_init(NULL), 0);
	snprintf(image, sizeof(image), "/tmp/kvfs-bufops-XXXXXX");
	fd = mkstemp(image);
	CHECK(fd >= 0);
	close(fd);
	o.target = image;
	o.size = 256ull << 20;
	o.agcount = 4;
	o.force = true;
	CHECK_EQ(kvfs_mkfs(&o, &geom), 0);

	types[nt++] = (struct blk_type){ KVFS_SB_AGBNO, 1, &kvfs_sb_buf_ops };
	types[nt++] = (struct blk_type){ KVFS_AGF_AGBNO, 1, &kvfs_agf_buf_ops };
	types[nt++] = (struct blk_type){ KVFS_AGI_AGBNO, 1, &kvfs_agi_buf_ops };
	types[nt++] =
		(struct blk_type){ KVFS_AGFL_AGBNO, 1, &kvfs_agfl_buf_ops };
	types[nt++] =
		(struct blk_type){ KVFS_BNO_AGBNO, 1, &kvfs_bnobt_buf_ops };
	types[nt++] =
		(struct blk_type){ KVFS_CNT_AGBNO, 1, &kvfs_cntbt_buf_ops };
	types[nt++] =
		(struct blk_type){ KVFS_INO_AGBNO, 1, &kvfs_inobt_buf_ops };
	/* the whole first inode chunk of AG 0 as one multi-block buffer */
	types[nt++] =
		(struct blk_type){ kvfs_geom_first_chunk_agbno(&geom),
				   geom.ialloc_blocks, &kvfs_inode_buf_ops };

	/* every type reads back verified, in every AG where it exists */
	bc = open_cache(&dev);
	for (uint32_t agno = 0; agno < geom.agcount; agno++)
		for (size_t i = 0; i < nt; i++) {
			if (types[i].ops == &kvfs_inode_buf_ops && agno)
				continue;
			CHECK_EQ(read_type(bc,
					   kvfs_agb_to_fsb(&geom, agno,
							   types[i].agbno),
					   &types[i]),
				 0);
		}
	/* a block read as another type is a structure error */
	CHECK_EQ(read_type(bc, kvfs_agb_to_fsb(&geom, 1, KVFS_BNO_AGBNO),
			   &types[1]),
		 -EUCLEAN);

	/* write-back stamps the LSN; a fresh cache verifies it */
	CHECK_EQ(kv_buf_read(bc, kvfs_agb_to_fsb(&geom, 2, KVFS_AGF_AGBNO), 1,
			     &kvfs_agf_buf_ops, &bp),
		 0);
	kv_buf_lock(bp);
	bp->b_lsn = 0x1234567;
	kv_buf_mark_dirty(bp);
	CHECK_EQ(kv_buf_write(bp), 0);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	close_cache(bc, dev);

	bc = open_cache(&dev);
	CHECK_EQ(kv_buf_read(bc, kvfs_agb_to_fsb(&geom, 2, KVFS_AGF_AGBNO), 1,
			     &kvfs_agf_buf_ops, &bp),
		 0);
	CHECK_EQ(kv_le64_to_cpu(((struct kvfs_blk_hdr *)bp->b_addr)->lsn),
		 0x1234567);
	kv_buf_rele(bp);
	close_cache(bc, dev);

	check_lsn_types(types, nt);

	/* a flipped payload byte of each type is a checksum error */
	for (size_t i = 0; i < nt; i++) {
		uint64_t fsb = kvfs_agb_to_fsb(&geom, 0, types[i].agbno);
		uint64_t off =
			kvfs_fsb_to_bytes(&geom, fsb) + KVFS_BLK_HDR_SIZE + 40;
		bool cluster = types[i].ops == &kvfs_inode_buf_ops;

		flip_byte(off);
		bc = open_cache(&dev);
		/* an inode cluster is checked lightly: see below */
		CHECK_EQ(read_type(bc, fsb, &types[i]), cluster ? 0 : -EBADMSG);
		close_cache(bc, dev);
		flip_byte(off);
		bc = open_cache(&dev);
		CHECK_EQ(read_type(bc, fsb, &types[i]), 0);
		close_cache(bc, dev);
	}

	/*
	 * One damaged inode leaves its cluster readable: the buffer verifier
	 * checks magics only, the full verifier finds the bad crc of that
	 * inode alone.  A bad magic fails the cluster.
	 */
	{
		uint64_t fsb = kvfs_ino_to_fsb(&geom, geom.rootino);
		uint64_t off = kvfs_fsb_to_bytes(&geom, fsb) + geom.inodesize;
		struct kvfs_geom *g = &geom;

		flip_byte(off + 100);
		bc = open_cache(&dev);
		CHECK_EQ(kv_buf_read(bc, fsb, g->ialloc_blocks,
				     &kvfs_inode_buf_ops, &bp),
			 0);
		CHECK_EQ(kvfs_dinode_verify(bp->b_addr, g, g->rootino), 0);
		CHECK_EQ(
			kvfs_dinode_verify((uint8_t *)bp->b_addr + g->inodesize,
					   g, g->rootino + 1),
			-EBADMSG);
		CHECK_EQ(kvfs_report_last()->ino, g->rootino + 1);
		CHECK_EQ(kvfs_dinode_verify((uint8_t *)bp->b_addr +
						    2 * g->inodesize,
					    g, g->rootino + 2),
			 0);
		kv_buf_rele(bp);
		close_cache(bc, dev);
		flip_byte(off + 100);
		flip_byte(off + 1);
		bc = open_cache(&dev);
		CHECK_EQ(kv_buf_read(bc, fsb, g->ialloc_blocks,
				     &kvfs_inode_buf_ops, &bp),
			 -EUCLEAN);
		CHECK(strstr(kv_buf_last_error(), "bad magic"));
		close_cache(bc, dev);
		flip_byte(off + 1);
	}

	unlink(image);
	kv_fini();
	return 0;
}
