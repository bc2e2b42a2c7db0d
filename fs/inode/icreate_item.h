/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The inode-chunk creation log item (XFS's xfs_icreate_item.c and
 * xlog_recover_icreate_commit_pass2()): new free inodes logged as what
 * made them, not as the blocks they fill.
 *
 * A new chunk's (or sparse piece's) cluster buffers are written whole in
 * memory with free inodes (kvfs_icluster_init()) and made ordered buffers
 * of the transaction (kvfs_trans_ordered_buf(), fs/io/buf_item.h): they
 * are pinned with its checkpoint and enter the AIL at its LSN, but
 * nothing of them is logged.  kvfs_trans_icreate() logs the 40 bytes of
 * struct kvfs_icreate_log (fs/format.h) instead of 8 buffer deltas of
 * 4 KiB.  The item itself never enters the AIL: the ordered buffers hold
 * the log tail at its checkpoint until the AIL has written them back and
 * flushed, so whenever recovery starts after this item the blocks are on
 * disk, and whenever it starts at or before it the item is replayed.
 *
 * Recovery (kvfs_icreate_recover_ops(), with the buffer deltas' phase:
 * before the inode deltas of the same checkpoint, which land on the new
 * inodes) writes the blocks again from the item, whatever they hold: every
 * change made to those inodes since was logged after the item, so the
 * inode deltas replayed after it rebuild them (re-initialised inodes
 * carry LSN 0 and take every delta).  A block that a checkpoint at or
 * after the item's frees (a buffer cancel: the chunk freed, the block
 * maybe file data since, fs/inode/ialloc.h) is left alone, as are the
 * inode deltas older than that cancel.  An item that describes no chunk
 * (outside its AG, over the AG headers or the log, counts that disagree
 * with the geometry) fails recovery with -EUCLEAN and a report.
 */
#ifndef KV_FS_ICREATE_ITEM_H
#define KV_FS_ICREATE_ITEM_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"
#include "fs/io/buf.h"
#include "journal/journal.h"

struct kvfs_trans;

/* The journal item type of inode-chunk creations. */
#define KVFS_ITEM_ICREATE (KVJ_ITEM_CLIENT + 2)

/*
 * Write block fsb (blocksize bytes at blk) as free inodes: each as
 * kvfs_dinode_init() makes one with mode 0, generation gen and every
 * timestamp sec/nsec, its crc set.  What a new chunk's blocks hold, at
 * allocation and at replay alike, byte for byte.
 */
void kvfs_icluster_init(const struct kvfs_geom *g, void *blk, uint64_t fsb,
			int64_t sec, uint32_t nsec, uint32_t gen);

/*
 * Log in tp that length blocks from fsb (one AG) were written by
 * kvfs_icluster_init() with sec/nsec/gen; tp holds them as ordered
 * buffers.  Never fails (tp is dirty: its allocation waits for memory).
 */
void kvfs_trans_icreate(struct kvfs_trans *tp, uint64_t fsb, uint32_t length,
			int64_t sec, uint32_t nsec, uint32_t gen);

/*
 * Recovery: fill ops (for struct kvj_log_params.recover) with the replay
 * of creation items over bc in geometry g; bops: the buffer replay of the
 * same recovery (kvfs_bli_recover_ops()), whose cancels say which blocks
 * were freed later.  Free with kvfs_icreate_recover_free() after
 * kvj_log_open() returned, whatever it returned.
 */
#define KVFS_ICREATE_RECOVER_LIMIT 4096
int kvfs_icreate_recover_ops(struct kv_bcache *bc, const struct kvfs_geom *g,
			     const struct kvj_recover_ops *bops,
			     struct kvj_recover_ops *ops);
void kvfs_icreate_recover_free(struct kvj_recover_ops *ops);
/* Blocks recovery holds before writing back what it replayed (tests). */
void kvfs_icreate_recover_set_limit(struct kvj_recover_ops *ops, size_t nbufs);

struct kvfs_icreate_recover_stats {
	uint64_t items; /* creation items seen */
	uint64_t blocks; /* blocks written again */
	uint64_t cancelled; /* blocks left alone: freed at or after the item */
};
void kvfs_icreate_recover_get_stats(const struct kvj_recover_ops *ops,
				    struct kvfs_icreate_recover_stats *st);

/*
 * Check one delta against geometry g (NULL: its framing only) and render
 * it as one line (no newline), e.g. "icreate ag 0 agbno 64 length 8 count
 * 64 isize 512 gen 0x1234abcd time 1700000000.5", NUL-terminated and
 * truncated to outlen like snprintf; the number of characters stored, or
 * -EUCLEAN for a malformed delta (*why, if not NULL, says what is wrong).
 * The recovery's check and kvfs-logprint's printer.
 */
int kvfs_icreate_describe(const struct kvfs_geom *g, const void *delta,
			  uint32_t len, char *out, size_t outlen,
			  const char **why);

#endif
