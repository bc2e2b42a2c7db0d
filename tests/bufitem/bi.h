/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared harness of the buffer log item tests: an image file on the device
 * layer (fs/io/dev.h, with its crash modes) holding a log region at offset 0
 * followed by test metadata blocks, a buffer cache over it with a test
 * block type (common header, crc32c checked on read, LSN stamped on
 * write-back), libkvjournal on the log region and fs/io/buf_item.c's items.
 */
#ifndef KV_TESTS_BUFITEM_BI_H
#define KV_TESTS_BUFITEM_BI_H

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/io/dev.h"
#include "journal/journal.h"
#include "tests/check.h"

#define BI_MAGIC KVFS_MAGIC('T', 'B', 'I', 'T')
#define BI_MAX_LINES 16

struct bi {
	char path[256];
	unsigned blksize;
	uint64_t log_bytes;
	uint64_t first_blk; /* first block after the log */
	unsigned nb; /* blocks after the log */
	struct kv_dev *dev;
	struct kv_bcache *bc;
	struct kvj_log *log;
	struct kvfs_bli_log *bl;
	struct kvj_recovery_info ri;
	struct kvfs_bli_recover_stats rst;
	size_t rec_limit; /* buffers recovery holds at once; 0: the default */
	/* capture: recovery records each delta's kvfs_bli_describe() line */
	bool capture;
	unsigned nr_lines;
	char lines[BI_MAX_LINES][256];
	struct kvj_recover_ops inner;
};

static int bi_verify_read(struct kv_buf *bp)
{
	return kvfs_blkhdr_verify(bp->b_addr, bp->b_len, BI_MAGIC, bp->b_blkno,
				  0, NULL, "bufitem test block");
}

static int bi_verify_write(struct kv_buf *bp)
{
	const struct kvfs_blk_hdr *h = bp->b_addr;

	if (kv_le32_to_cpu(h->magic) != BI_MAGIC ||
	    kv_le64_to_cpu(h->blkno) != bp->b_blkno)
		return -EUCLEAN;
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

static const struct kv_buf_ops bi_buf_ops = {
	.name = "bufitem_test",
	.verify_read = bi_verify_read,
	.verify_write = bi_verify_write,
};

/* Recovery's type lookup: the test type by its magic. */
static inline const struct kv_buf_ops *bi_buf_type(const void *blk, size_t len)
{
	const struct kvfs_blk_hdr *h = blk;

	(void)len;
	return kv_le32_to_cpu(h->magic) == BI_MAGIC ? &bi_buf_ops : NULL;
}

/* ---- an FS shrinker that asserts it never runs under NOFS ---- */
static struct kv_shrinker bi_fs_shrinker;
static size_t bi_shrink_count(void *priv)
{
	(void)priv;
	return 1;
}
static atomic_ulong bi_fs_scans;
static size_t bi_shrink_scan(void *priv, size_t nr)
{
	(void)priv;
	(void)nr;
	CHECK(!(kv_current_gfp(0) & KV_NOFS));
	atomic_fetch_add(&bi_fs_scans, 1);
	return 0;
}

static inline void bi_init(size_t budget)
{
	struct kv_config cfg = { .budget_bytes = budget };

	CHECK(kv_init(&cfg) == 0);
	bi_fs_shrinker.name = "bi_fs";
	bi_fs_shrinker.flags = KV_SHRINK_FS | KV_SHRINK_IO;
	bi_fs_shrinker.count = bi_shrink_count;
	bi_fs_shrinker.scan = bi_shrink_scan;
	CHECK(kv_register_shrinker(&bi_fs_shrinker) == 0);
}

static inline void bi_fini(void)
{
	kv_unregister_shrinker(&bi_fs_shrinker);
	kv_fini();
}

/* ---- the journal's I/O: the log region is the start of the device ---- */
static int bi_io_read(void *priv, void *buf, size_t len, uint64_t off)
{
	return kv_dev_pread(((struct bi *)priv)->dev, buf, len, off);
}
static int bi_io_write(void *priv, const void *buf, size_t len, uint64_t off)
{
	return kv_dev_pwrite(((struct bi *)priv)->dev, buf, len, off);
}
static int bi_io_flush(void *priv)
{
	return kv_dev_flush(((struct bi *)priv)->dev);
}
static const struct kvj_io_ops bi_io = {
	.read = bi_io_read,
	.write = bi_io_write,
	.flush = bi_io_flush,
};

static inline uint64_t bi_blk(const struct bi *t, unsigned i)
{
	return t->first_blk + i;
}

/* A scratch image: the log, then nb blocks (not initialised). */
static inline void bi_create(struct bi *t, const char *name, unsigned blksize,
			     uint64_t log_bytes, unsigned nb)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s/kvbi-%s-%d.img", dir, name,
		 (int)getpid());
	t->blksize = blksize;
	t->log_bytes = log_bytes;
	t->first_blk = log_bytes / blksize;
	t->nb = nb;
	fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, log_bytes + (uint64_t)nb * blksize) == 0);
	close(fd);
}

static inline void bi_dev_open(struct bi *t)
{
	CHECK(kv_dev_open(t->path, 0, &t->dev) == 0);
	CHECK(kv_bcache_create(t->dev, t->blksize, 0, &t->bc) == 0);
}

static inline void bi_dev_close(struct bi *t)
{
	kv_bcache_destroy(t->bc);
	t->bc = NULL;
	kv_dev_close(t->dev);
	t->dev = NULL;
}

/* Write blocks [0, n) as empty test blocks (header only), flushed. */
static inline void bi_format_blocks(struct bi *t, unsigned n)
{
	static const uint8_t uuid[KVFS_UUID_SIZE];
	struct kv_buf *bp;
	unsigned i;

	for (i = 0; i < n; i++) {
		CHECK(kv_buf_get(t->bc, bi_blk(t, i), 1, &bi_buf_ops, &bp) ==
		      0);
		kv_buf_lock(bp);
		memset(bp->b_addr, 0, bp->b_len);
		kvfs_blkhdr_init(bp->b_addr, BI_MAGIC, bi_blk(t, i), 0, uuid);
		bp->b_lsn = 0;
		CHECK(kv_buf_write(bp) == 0);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	CHECK(kv_dev_flush(t->dev) == 0);
}

static int bi_capture_replay(void *priv, const void *delta, uint32_t len,
			     kvj_lsn_t lsn)
{
	struct bi *t = priv;

	CHECK(t->nr_lines < BI_MAX_LINES);
	CHECK(kvfs_bli_describe(delta, len, t->lines[t->nr_lines],
				sizeof(t->lines[0])) > 0);
	t->nr_lines++;
	return t->inner.replay(t->inner.priv, delta, len, lsn);
}

static int bi_capture_scan(void *priv, const void *delta, uint32_t len,
			   kvj_lsn_t lsn)
{
	struct bi *t = priv;

	return t->inner.scan(t->inner.priv, delta, len, lsn);
}

static int bi_capture_finish(void *priv)
{
	struct bi *t = priv;

	return t->inner.finish(t->inner.priv);
}

/*
 * Open (recovering) the log with params p (may be NULL) over the cache,
 * then the buffer items.  Recovery statistics land in t->ri and t->rst.
 */
static inline int bi_log_open(struct bi *t, struct kvj_log_params *p)
{
	struct kvj_log_params def = { 0 };
	struct kvj_recover_ops rops;
	int err;

	if (!p)
		p = &def;
	p->io = &bi_io;
	p->io_priv = t;
	p->log_bytes = t->log_bytes;
	CHECK(kvfs_bli_recover_ops(t->bc, bi_buf_type, NULL, &rops) == 0);
	if (t->rec_limit)
		kvfs_bli_recover_set_limit(&rops, t->rec_limit);
	p->recover = &rops;
	t->nr_lines = 0;
	if (t->capture) {
		t->inner = rops;
		rops.scan = bi_capture_scan;
		rops.replay = bi_capture_replay;
		rops.finish = bi_capture_finish;
		rops.priv = t;
	}
	p->nr_recover = 1;
	err = kvj_log_open(p, &t->log);
	if (t->capture)
		rops = t->inner;
	kvfs_bli_recover_get_stats(&rops, &t->rst);
	kvfs_bli_recover_free(&rops);
	if (err)
		return err;
	kvj_log_recovery_info(t->log, &t->ri);
	CHECK(kvfs_bli_log_create(t->log, t->bc, &t->bl) == 0);
	return 0;
}

/* Clean close: everything written back. */
static inline void bi_log_close(struct bi *t)
{
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
	kvfs_bli_log_destroy(t->bl);
	t->bl = NULL;
}

/* Crash: stop the log without writing anything more, drop the cache. */
static inline void bi_crash(struct bi *t)
{
	kvj_log_shutdown(t->log, "test crash");
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
	kvfs_bli_log_destroy(t->bl);
	t->bl = NULL;
	bi_dev_close(t);
}

/* Block i as the device holds it, verified through a fresh cache. */
static inline void bi_read_verified(struct bi *t, unsigned i, void *out)
{
	struct kv_bcache *bc;
	struct kv_buf *bp;
	int err;

	CHECK(kv_bcache_create(t->dev, t->blksize, 0, &bc) == 0);
	err = kv_buf_read(bc, bi_blk(t, i), 1, &bi_buf_ops, &bp);
	if (err)
		fprintf(stderr, "%s\n", kv_buf_last_error());
	CHECK(err == 0);
	memcpy(out, bp->b_addr, t->blksize);
	kv_buf_rele(bp);
	kv_bcache_destroy(bc);
}

static inline void bi_remove(struct bi *t)
{
	unlink(t->path);
}

#endif
