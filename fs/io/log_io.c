// SPDX-License-Identifier: GPL-2.0
/*
 * The journal's I/O over the device layer, restricted to the log region.
 */
#include <errno.h>
#include <string.h>

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
	atomic_init(&lio->log_gen, 0);
	atomic_init(&lio->log_flushed, 0);
	atomic_init(&lio->log_flushes, 0);
	lio->last_off = 0;
	lio->last_len = 0;
}

/* Raise *v to at least gen. */
static void advance_to(_Atomic uint64_t *v, uint64_t gen)
{
	uint64_t cur = atomic_load(v);

	while (cur < gen && !atomic_compare_exchange_weak(v, &cur, gen))
		;
}

void kvfs_log_io_data_written(struct kvfs_log_io *lio, bool ordered)
{
	uint64_t gen = atomic_fetch_add(&lio->data_gen, 1) + 1;

	/*
	 * Set before the caller commits what maps the data: a log write
	 * that could hold that commit starts after this.
	 */
	if (ordered)
		advance_to(&lio->data_ordered, gen);
}

void kvfs_log_io_order(struct kvfs_log_io *lio)
{
	advance_to(&lio->data_ordered, atomic_load(&lio->data_gen));
}

/* Flush the device, recording the data writes it covers. */
static int flush_all(struct kvfs_log_io *lio)
{
	uint64_t gen = atomic_load(&lio->data_gen);
	uint64_t log_gen = atomic_load(&lio->log_gen);
	int err = kv_dev_flush(lio->dev);

	atomic_fetch_add_explicit(&lio->flushes, 1, memory_order_relaxed);
	if (err)
		return err;
	/* another flush may have covered more meanwhile: keep the larger */
	advance_to(&lio->data_flushed, gen);
	advance_to(&lio->log_flushed, log_gen);
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
	if (!err)
		err = kv_dev_pwrite(lio->dev, buf, len, lio->start + off);
	if (err || !len)
		return err;
	lio->last_len = len < sizeof(lio->last) ? (uint32_t)len :
						  (uint32_t)sizeof(lio->last);
	lio->last_off = off + len - lio->last_len;
	memcpy(lio->last, (const uint8_t *)buf + len - lio->last_len,
	       lio->last_len);
	atomic_fetch_add(&lio->log_gen, 1);
	return 0;
}

/*
 * The flush after a force's log write covers the data before it too
 * (fsync's: one device flush, not two).
 */
static int log_io_flush(void *priv)
{
	return flush_all(priv);
}

/*
 * The log writes durable, and no more: the region written back and its
 * last bytes written again synchronously, which flushes the device cache.
 * File data the host holds dirty stays dirty (a timer's checkpoint of
 * timestamps does not write back the file being written).
 */
static int log_io_flush_log(void *priv)
{
	struct kvfs_log_io *lio = priv;
	uint64_t gen = atomic_load(&lio->log_gen);
	int err;

	if (atomic_load(&lio->log_flushed) >= gen)
		return 0;
	err = kv_dev_pwrite_durable(lio->dev, lio->last, lio->last_len,
				    lio->start + lio->last_off, lio->start,
				    lio->len);
	atomic_fetch_add_explicit(&lio->log_flushes, 1, memory_order_relaxed);
	if (err)
		return err;
	advance_to(&lio->log_flushed, gen);
	return 0;
}

const struct kvj_io_ops kvfs_log_io_ops = {
	.read = log_io_read,
	.write = log_io_write,
	.flush = log_io_flush,
	.flush_log = log_io_flush_log,
};
