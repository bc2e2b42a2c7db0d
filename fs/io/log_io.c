// SPDX-License-Identifier: GPL-2.0
/*
 * The journal's I/O over the device layer, restricted to the log region.
 */
#include <errno.h>

#include "fs/io/dev.h"
#include "fs/io/log_io.h"

void kvfs_log_io_init(struct kvfs_log_io *lio, struct kv_dev *dev,
		      const struct kvfs_geom *g)
{
	lio->dev = dev;
	lio->start = kvfs_fsb_to_bytes(g, g->logstart);
	lio->len = (uint64_t)g->logblocks << g->blocklog;
	atomic_init(&lio->data_gen, 0);
	atomic_init(&lio->data_ordered, 0);
	atomic_init(&lio->data_flushed, 0);
	atomic_init(&lio->flushes, 0);
}

void kvfs_log_io_data_written(struct kvfs_log_io *lio, bool ordered)
{
	uint64_t gen = atomic_fetch_add(&lio->data_gen, 1) + 1;
	uint64_t cur = atomic_load(&lio->data_ordered);

	/*
	 * Set before the caller commits what maps the data: a log write
	 * that could hold that commit starts after this.
	 */
	while (ordered && cur < gen &&
	       !atomic_compare_exchange_weak(&lio->data_ordered, &cur, gen))
		;
}

/* Flush the device, recording the data writes it covers. */
static int flush_all(struct kvfs_log_io *lio)
{
	uint64_t gen = atomic_load(&lio->data_gen);
	uint64_t done = atomic_load(&lio->data_flushed);
	int err = kv_dev_flush(lio->dev);

	atomic_fetch_add_explicit(&lio->flushes, 1, memory_order_relaxed);
	if (err)
		return err;
	/* another flush may have covered more meanwhile: keep the larger */
	while (done < gen &&
	       !atomic_compare_exchange_weak(&lio->data_flushed, &done, gen))
		;
	return 0;
}

/* Flush if data past data_flushed up to upto was written. */
static int flush_upto(struct kvfs_log_io *lio, uint64_t upto)
{
	if (atomic_load(&lio->data_flushed) >= upto)
		return 0;
	return flush_all(lio);
}

int kvfs_log_io_flush_data(struct kvfs_log_io *lio)
{
	return flush_upto(lio, atomic_load(&lio->data_gen));
}

static int log_io_check(const struct kvfs_log_io *lio, size_t len, uint64_t off)
{
	if (off > lio->len || len > lio->len - off)
		return -EINVAL;
	return 0;
}

static int log_io_read(void *priv, void *buf, size_t len, uint64_t off)
{
	struct kvfs_log_io *lio = priv;
	int err = log_io_check(lio, len, off);

	return err ? err : kv_dev_pread(lio->dev, buf, len, lio->start + off);
}

static int log_io_write(void *priv, const void *buf, size_t len, uint64_t off)
{
	struct kvfs_log_io *lio = priv;
	int err = log_io_check(lio, len, off);

	/* file data reaches the media before any checkpoint that maps it */
	if (!err)
		err = flush_upto(lio, atomic_load(&lio->data_ordered));
	return err ? err : kv_dev_pwrite(lio->dev, buf, len, lio->start + off);
}

/* The flush after a log write covers the data before it too (fsync's). */
static int log_io_flush(void *priv)
{
	return flush_all(priv);
}

const struct kvj_io_ops kvfs_log_io_ops = {
	.read = log_io_read,
	.write = log_io_write,
	.flush = log_io_flush,
};
