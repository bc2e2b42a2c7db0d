/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness shared by the libFuzzer targets of tests/fuzz/ and their
 * seed generator (gen_seeds.c): one fixed geometry (the generator makes
 * its image with it, so its blocks verify against it), and the turning of
 * a fuzzer's input into a block.
 *
 * A block target copies the input into a block of the geometry's size
 * (cut or zero-padded) and recomputes its crc before handing it to the
 * parser: a mutation would otherwise never get past the checksum.  The
 * block number and owner the parser expects are taken from the block's own
 * header, so seeds need no framing.
 */
#ifndef KV_TESTS_FUZZ_FUZZ_H
#define KV_TESTS_FUZZ_FUZZ_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/io/dev.h"
#include "fs/inode/icreate_item.h"
#include "journal/logwalk.h"
#include "fs/format/geom.h"

/* The seed image's mkfs parameters. */
#define FUZZ_FS_SIZE (40ull << 20)
#define FUZZ_FS_AGCOUNT 2
#define FUZZ_FS_LOGSIZE (4ull << 20)
static const uint8_t fuzz_uuid[KVFS_UUID_SIZE] = {
	0x6b, 0x76, 0x66, 0x73, 0x2d, 0x66, 0x75, 0x7a,
	0x7a, 0x2d, 0x73, 0x65, 0x65, 0x64, 0x73, 0x21,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The geometry of the seed image (computed once). */
static inline const struct kvfs_geom *fuzz_geom(void)
{
	static struct kvfs_geom g;
	static int done;
	struct kvfs_geom_params p = {
		.size = FUZZ_FS_SIZE,
		.agcount = FUZZ_FS_AGCOUNT,
		.logsize = FUZZ_FS_LOGSIZE,
	};
	char err[256];

	if (done)
		return &g;
	if (kv_init(NULL) || kvfs_geom_compute(&p, &g, err, sizeof(err)))
		abort();
	memcpy(g.uuid, fuzz_uuid, KVFS_UUID_SIZE);
	memcpy(g.meta_uuid, fuzz_uuid, KVFS_UUID_SIZE);
	done = 1;
	return &g;
}

/*
 * The input as a block of len bytes (a static buffer, 8-byte aligned),
 * its crc recomputed.
 */
static inline void *fuzz_block(const uint8_t *data, size_t size, size_t len)
{
	static uint64_t buf[65536 / 8];

	if (len > sizeof(buf))
		abort();
	memset(buf, 0, len);
	memcpy(buf, data, size < len ? size : len);
	if (len >= KVFS_BLK_HDR_SIZE)
		kvfs_blkhdr_set_crc(buf, len);
	return buf;
}

static inline uint64_t fuzz_hdr_blkno(const void *blk)
{
	return kv_le64_to_cpu(((const struct kvfs_blk_hdr *)blk)->blkno);
}

static inline uint64_t fuzz_hdr_owner(const void *blk)
{
	return kv_le64_to_cpu(((const struct kvfs_blk_hdr *)blk)->owner);
}

/*
 * A buffer cache over an empty scratch file, whose private data is the
 * geometry: what the buffer types' verify_read() find through a buffer.
 * Freed at exit, before LeakSanitizer looks (the cache lives in kvalloc's
 * arena, where it would not see the allocations it points to).
 */
static struct kv_dev *fuzz_dev;
static struct kv_bcache *fuzz_bc;

static inline void fuzz_bcache_free(void)
{
	kv_bcache_destroy(fuzz_bc);
	kv_dev_close(fuzz_dev);
}

static inline struct kv_bcache *fuzz_bcache(void)
{
	char path[] = "/tmp/kvfs-fuzz-XXXXXX";
	int fd;

	if (fuzz_bc)
		return fuzz_bc;
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	if (kv_dev_open(path, 0, &fuzz_dev))
		abort();
	unlink(path);
	if (kv_bcache_create(fuzz_dev, fuzz_geom()->blocksize, 1 << 20,
			     &fuzz_bc))
		abort();
	kv_bcache_set_private(fuzz_bc, (void *)fuzz_geom());
	atexit(fuzz_bcache_free);
	return fuzz_bc;
}

/* Run a buffer type's read verifier over blk (len bytes) at blkno. */
static inline int fuzz_verify_buf(const struct kv_buf_ops *ops, void *blk,
				  size_t len, uint64_t blkno)
{
	struct kv_buf b;

	memset(&b, 0, sizeof(b));
	b.b_blkno = blkno;
	b.b_len = len;
	b.b_nblks = (unsigned)(len / fuzz_geom()->blocksize);
	b.b_addr = blk;
	b.b_cache = fuzz_bcache();
	b.b_ops = ops;
	return ops->verify_read(&b);
}

/*
 * Walk a log region of bytes bytes at log (journal/recover.c's parser),
 * handing every item to its decoder as kvfs-logprint -v does: the
 * journal's own intents and done items, buffer-item deltas (fs/io/buf_item.c),
 * inode-chunk creations (fs/inode/icreate_item.c, framing only).
 * Aborts when the walk runs out of memory.
 */
struct fuzz_log {
	const uint8_t *log;
	size_t bytes;
};

static inline int fuzz_log_read(void *priv, void *buf, size_t len, uint64_t off)
{
	const struct fuzz_log *f = priv;

	if (off > f->bytes || len > f->bytes - off)
		abort();
	memcpy(buf, f->log + off, len);
	return 0;
}

static inline int fuzz_log_item(void *priv, const struct kvj_walk_ckpt *c,
				const struct kvj_walk_item *it)
{
	char desc[512];

	(void)priv;
	(void)c;
	if (it->type == KVFS_ITEM_BUF)
		kvfs_bli_describe(it->delta, it->len, desc, sizeof(desc));
	else if (it->type == KVFS_ITEM_ICREATE)
		kvfs_icreate_describe(NULL, it->delta, it->len, desc,
				      sizeof(desc), NULL);
	else
		kvj_walk_item_describe(it, desc, sizeof(desc));
	return 0;
}

static inline int fuzz_log_problem(void *priv, enum kvj_walk_problem what,
				   kvj_lsn_t lsn, const char *msg)
{
	(void)priv;
	(void)what;
	(void)lsn;
	(void)msg;
	return 0;
}

static inline int fuzz_walk_log(const uint8_t *log, size_t bytes)
{
	static const struct kvj_io_ops io = { .read = fuzz_log_read };
	static const struct kvj_walk_ops ops = {
		.item = fuzz_log_item,
		.problem = fuzz_log_problem,
	};
	struct fuzz_log f = { .log = log, .bytes = bytes };
	int err = kvj_log_walk(&io, &f, bytes, &ops, NULL);

	/*
	 * Nothing the walk allocates may exceed the log: out of memory over
	 * a small log is a length taken from the log without a bound.
	 */
	if (err == -ENOMEM)
		abort();
	return err;
}

/*
 * The image targets (fuzz_image, fuzz_mount) work on a private copy of
 * the populated image gen_seeds leaves in its OUTDIR, named by
 * $KVFS_FUZZ_IMAGE (tests/fuzz/run.sh sets it): the input, one to
 * FUZZ_IMAGE_MAX_BLOCKS blocks, is written over the image, each block at
 * the block number its header names; the image is read, then the blocks
 * are put back.  Several blocks make inconsistencies between structures
 * (an index naming what its data block does not hold).
 */
struct fuzz_image {
	char path[4096];
	int fd;
	uint8_t *pristine;
	size_t size;
};

static struct fuzz_image fuzz_im;

static inline void fuzz_image_cleanup(void)
{
	unlink(fuzz_im.path);
}

static inline struct fuzz_image *fuzz_image(void)
{
	struct fuzz_image *const imp = &fuzz_im;
	const char *src = getenv("KVFS_FUZZ_IMAGE");
	FILE *f;

	if (imp->pristine)
		return imp;
	if (!src) {
		fprintf(stderr, "KVFS_FUZZ_IMAGE: the image gen_seeds made "
				"(tests/fuzz/run.sh sets it)\n");
		abort();
	}
	f = fopen(src, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (imp->size = (size_t)ftell(f)) == 0)
		abort();
	imp->pristine = malloc(imp->size);
	if (!imp->pristine || fseek(f, 0, SEEK_SET) ||
	    fread(imp->pristine, 1, imp->size, f) != imp->size)
		abort();
	fclose(f);
	snprintf(imp->path, sizeof(imp->path), "%s/kvfs-fuzz-image-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	imp->fd = mkstemp(imp->path);
	if (imp->fd < 0 ||
	    pwrite(imp->fd, imp->pristine, imp->size, 0) != (ssize_t)imp->size)
		abort();
	/* removed at exit: libFuzzer ends by exit() */
	atexit(fuzz_image_cleanup);
	return imp;
}

/* Blocks an image target's input may replace at once. */
#define FUZZ_IMAGE_MAX_BLOCKS 4

/*
 * Write the input's blocks (each len bytes, the last zero-padded, crcs
 * recomputed) over the image, each at the block number its header names;
 * those numbers into blknos.  Returns how many were written (a block
 * naming a number past the image is left out).
 */
static inline unsigned fuzz_image_put(struct fuzz_image *im,
				      const uint8_t *data, size_t size,
				      size_t len, uint64_t *blknos)
{
	unsigned n = 0;

	for (size_t o = 0; o < size && n < FUZZ_IMAGE_MAX_BLOCKS; o += len) {
		const void *blk = fuzz_block(data + o, size - o, len);
		uint64_t b = fuzz_hdr_blkno(blk);

		if (b >= im->size / len)
			continue;
		if (pwrite(im->fd, blk, len, (off_t)(b * len)) != (ssize_t)len)
			abort();
		blknos[n++] = b;
	}
	return n;
}

/* Put the pristine contents back in the n blocks written. */
static inline void fuzz_image_restore(struct fuzz_image *im,
				      const uint64_t *blknos, unsigned n,
				      size_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (pwrite(im->fd, im->pristine + blknos[i] * len, len,
			   (off_t)(blknos[i] * len)) != (ssize_t)len)
			abort();
}

#endif
