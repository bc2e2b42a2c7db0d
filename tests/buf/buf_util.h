/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the buffer-cache tests: a test block type whose verifiers
 * check the common header (crc, magic, block number) and stamp the LSN, and
 * scratch images.
 */
#ifndef KV_TESTS_BUF_UTIL_H
#define KV_TESTS_BUF_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf.h"
#include "fs/io/dev.h"
#include "fs/format.h"
#include "journal/crc32c.h"
#include "tests/check.h"

#define TB_MAGIC 0x54425546u /* "TBUF" */

static inline struct kvfs_blk_hdr *tb_hdr(struct kv_buf *bp)
{
	return bp->b_addr;
}

static inline int tb_verify_read(struct kv_buf *bp)
{
	struct kvfs_blk_hdr *h = tb_hdr(bp);
	uint32_t crc = kv_crc32c_block(bp->b_addr, bp->b_len, KVFS_BLK_CRC_OFF);

	if (kv_le32_to_cpu(h->crc) != crc)
		return kv_buf_corrupt(bp, -EBADMSG,
				      "crc 0x%08x, computed 0x%08x",
				      kv_le32_to_cpu(h->crc), crc);
	if (kv_le32_to_cpu(h->magic) != TB_MAGIC)
		return kv_buf_corrupt(bp, -EUCLEAN, "magic 0x%08x",
				      kv_le32_to_cpu(h->magic));
	if (kv_le64_to_cpu(h->blkno) != bp->b_blkno)
		return kv_buf_corrupt(
			bp, -EUCLEAN, "header says block %llu",
			(unsigned long long)kv_le64_to_cpu(h->blkno));
	return 0;
}

static inline int tb_verify_write(struct kv_buf *bp)
{
	struct kvfs_blk_hdr *h = tb_hdr(bp);

	if (kv_le32_to_cpu(h->magic) != TB_MAGIC ||
	    kv_le64_to_cpu(h->blkno) != bp->b_blkno)
		return -EUCLEAN;
	h->lsn = kv_cpu_to_le64(bp->b_lsn);
	h->crc = kv_cpu_to_le32(
		kv_crc32c_block(bp->b_addr, bp->b_len, KVFS_BLK_CRC_OFF));
	return 0;
}

static const struct kv_buf_ops tb_ops = {
	.name = "test_block",
	.verify_read = tb_verify_read,
	.verify_write = tb_verify_write,
};

/* The payload of block blkno (after the header) for generation gen. */
static inline void tb_fill(void *blk, size_t len, uint64_t blkno, unsigned gen)
{
	struct kvfs_blk_hdr *h = blk;
	uint8_t *p = blk;

	memset(h, 0, sizeof(*h));
	h->magic = kv_cpu_to_le32(TB_MAGIC);
	h->blkno = kv_cpu_to_le64(blkno);
	for (size_t i = KVFS_BLK_HDR_SIZE; i < len; i++)
		p[i] = (uint8_t)(blkno * 31 + i * 7 + gen);
}

static inline int tb_payload_ok(const void *blk, size_t len, uint64_t blkno,
				unsigned gen)
{
	const uint8_t *p = blk;

	for (size_t i = KVFS_BLK_HDR_SIZE; i < len; i++)
		if (p[i] != (uint8_t)(blkno * 31 + i * 7 + gen))
			return 0;
	return 1;
}

/* Write a valid test block straight to the device (crc, lsn 0). */
static inline void tb_put_raw(struct kv_dev *dev, unsigned blksize,
			      uint64_t blkno, unsigned nblks, unsigned gen)
{
	size_t len = (size_t)blksize * nblks;
	uint8_t *b = malloc(len);
	struct kvfs_blk_hdr *h = (void *)b;

	CHECK(b);
	tb_fill(b, len, blkno, gen);
	h->crc = kv_cpu_to_le32(kv_crc32c_block(b, len, KVFS_BLK_CRC_OFF));
	CHECK_EQ(kv_dev_pwrite(dev, b, len, blkno * blksize), 0);
	free(b);
}

static inline void tb_make_image(char *path, size_t pathlen, uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, pathlen, "%s/kvfs-buf-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

#endif
