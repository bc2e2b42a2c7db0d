/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The journal's I/O over the device layer: struct kvj_io_ops for the
 * internal log region named by the superblock.  Offsets from the journal
 * are bytes from the start of the region; anything reaching outside it is
 * refused with -EINVAL rather than written over other metadata.
 */
#ifndef KV_FS_LOG_IO_H
#define KV_FS_LOG_IO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/format/geom.h"
#include "journal/journal.h"

struct kv_dev;

struct kvfs_log_io {
	struct kv_dev *dev;
	uint64_t start; /* byte offset of the log region on dev */
	uint64_t len; /* bytes */
	/*
	 * File data writes issued (fs/data/file.c), the count at the last one that
	 * a checkpoint may make reachable (ordered: blocks a write converts in
	 * its own transaction, kvfs_log_io_order(), or zeroing), and the count
	 * covered by the last device flush: every
	 * log write is preceded by a flush when ordered data was written
	 * since, so that a checkpoint making blocks reachable never reaches
	 * the media before their data (XFS's REQ_PREFLUSH on its log
	 * writes).  Overwrites of written blocks are ordered with nothing
	 * (in XFS they never meet the log) and wait for an fsync's flush:
	 * a checkpoint of timestamps alone does not write back the data.
	 */
	_Atomic uint64_t data_gen;
	_Atomic uint64_t data_ordered;
	_Atomic uint64_t data_flushed;
	_Atomic uint64_t flushes; /* device flushes issued, for the tests */
	/*
	 * Log writes issued and the count covered by the last flush of the
	 * whole device or of the log region: a background checkpoint makes
	 * only the log durable (kvj_io_ops.flush_log), so that it writes
	 * back none of the file data the host holds dirty.  The log's tail
	 * bytes, as last written, are what that flush writes again
	 * synchronously (kv_dev_pwrite_durable()).  Log writes and
	 * flush_log are serialised by the journal (its push lock).
	 */
	_Atomic uint64_t log_gen;
	_Atomic uint64_t log_flushed;
	_Atomic uint64_t log_flushes; /* log-only flushes, for the tests */
	uint64_t last_off; /* from the start of the region */
	uint32_t last_len;
	uint8_t last[512];
};

/* The ops; their priv is a struct kvfs_log_io. */
extern const struct kvj_io_ops kvfs_log_io_ops;

/* The log region of geometry g (from kvfs_sb_read() or mkfs) on dev. */
void kvfs_log_io_init(struct kvfs_log_io *lio, struct kv_dev *dev,
		      const struct kvfs_geom *g);

/*
 * A file data write to the device has completed; ordered: the next log
 * write must not reach the media before it.
 */
void kvfs_log_io_data_written(struct kvfs_log_io *lio, bool ordered);
/*
 * Every data write completed so far is ordered: the next log write flushes
 * first (a conversion of blocks written earlier, fs/data/convert.h).
 */
void kvfs_log_io_order(struct kvfs_log_io *lio);
/*
 * Flush the device if file data was written since the last flush: the
 * data written before the call is then durable.  0 or -errno.
 */
int kvfs_log_io_flush_data(struct kvfs_log_io *lio);

#endif
