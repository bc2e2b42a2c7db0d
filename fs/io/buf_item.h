/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The buffer log item: how metadata buffers (fs/io/buf.h) take part in
 * transactions (journal/journal.h), modelled on XFS's xfs_buf_item.c.
 *
 * A transaction gets a buffer with kvfs_trans_get_buf() or
 * kvfs_trans_read_buf(): the buffer comes back held and locked, with its
 * log item attached and joined to the transaction.  The caller changes
 * bytes and names them with kvfs_trans_log_buf(); the item remembers them
 * in a bitmap of 128-byte chunks.  Commit or cancel unlocks and releases
 * every buffer of the transaction.  Getting a buffer the transaction
 * already holds returns it again (it is released once, at the end).
 *
 * The delta an item logs holds every chunk changed since the buffer was
 * last written back, not only the last transaction's (relogged items move
 * forward in the AIL, so older checkpoints that logged the buffer are
 * passed by the tail).  The AIL writes the buffer back stamped with the LSN
 * of its last checkpoint and clears the map.  Logged buffers are written
 * back by the journal only: they are not marked KV_BUF_DIRTY, so
 * kv_bcache_flush() leaves them alone.
 *
 * An item stays attached to its buffer (which the cache then never
 * reclaims) while it has changes not yet written back, is pinned or is in
 * the AIL; idle items are detached and freed when the buffer leaves a
 * transaction unchanged, by a sweep each time the number of items has
 * doubled, and by a shrinker under memory pressure, so memory follows the
 * set of buffers with changes in flight.  (Buffers waiting in the AIL are
 * only written back when log space runs short: a log much larger than
 * memory can still fill the cache with them.)
 *
 * Recovery (kvfs_bli_recover_ops()) first scans the log for cancels (freed
 * blocks), then replays deltas onto the blocks read raw from the device,
 * skipping a delta whose block already carries an LSN at least as new or
 * is freed by a later checkpoint, and writes the replayed blocks back,
 * stamped, whenever it holds KVFS_BLI_RECOVER_LIMIT of them and at the end
 * (so a large log does not need memory for all its blocks at once).
 */
#ifndef KV_FS_BUF_ITEM_H
#define KV_FS_BUF_ITEM_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/io/buf.h"
#include "fs/format.h"
#include "journal/journal.h"

/* The journal item type of buffer deltas. */
#define KVFS_ITEM_BUF (KVJ_ITEM_CLIENT + 0)

/*
 * The buffer delta's format (struct kvfs_buf_log_hdr, KVFS_BLI_CHUNK,
 * KVFS_BLF_*) is in fs/format.h with every other log payload.
 */

/*
 * The buffer items of one log over one buffer cache.  Create it after
 * kvj_log_open() (recovery has its own ops, below) and destroy it after
 * kvj_log_close(): destroy detaches and frees every item left, and drops
 * pins a shut-down log never returned.
 */
struct kvfs_bli_log;

int kvfs_bli_log_create(struct kvj_log *log, struct kv_bcache *bc,
			struct kvfs_bli_log **blp);
/*
 * No more shrinker calls (they push the log's AIL): before kvj_log_close()
 * frees the log, since the background reclaim thread may run one at any
 * time.  kvfs_bli_log_destroy() does it too.
 */
void kvfs_bli_log_stop_reclaim(struct kvfs_bli_log *bl);
void kvfs_bli_log_destroy(struct kvfs_bli_log *bl);
/* Items attached to buffers now (tests: memory stays bounded). */
size_t kvfs_bli_log_nr_items(struct kvfs_bli_log *bl);
/*
 * Free every idle item now (e.g. after kvj_log_drain(), so the cache can
 * reclaim the buffers); returns how many were freed.
 */
size_t kvfs_bli_log_sweep(struct kvfs_bli_log *bl);

/*
 * The buffer of nblks blocks at blkno, locked, held, its item joined to tp:
 * get_buf for blocks about to be initialised whole (no read, see
 * kv_buf_get()), read_buf for existing blocks (read and verified with ops,
 * see kv_buf_read()).  Errors: those of the buffer cache, -EINVAL for a
 * buffer longer than KVFS_BLI_MAX_LEN, -ENOMEM.  The transaction releases
 * the buffer when it commits or is cancelled.  A buffer found freed
 * (kvfs_trans_binval()) once locked is looked up again.
 */
int kvfs_trans_get_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
		       uint64_t blkno, unsigned nblks,
		       const struct kv_buf_ops *ops, struct kv_buf **bpp);
int kvfs_trans_read_buf(struct kvj_trans *tp, struct kvfs_bli_log *bl,
			uint64_t blkno, unsigned nblks,
			const struct kv_buf_ops *ops, struct kv_buf **bpp);
/*
 * get_buf for blocks tp just allocated and writes every byte of before it
 * lets them go: a new buffer is not zeroed first (kv_buf_get_raw()).
 */
int kvfs_trans_get_buf_raw(struct kvj_trans *tp, struct kvfs_bli_log *bl,
			   uint64_t blkno, unsigned nblks,
			   const struct kv_buf_ops *ops, struct kv_buf **bpp);
/*
 * Bytes [first, last] of bp (which tp got) were changed: log them, rounded
 * out to whole 128-byte chunks.
 */
void kvfs_trans_log_buf(struct kvj_trans *tp, struct kv_buf *bp, unsigned first,
			unsigned last);
/*
 * The block of bp (which tp got) is freed in tp: the buffer goes stale
 * (kv_buf_stale(): it leaves the cache, its changes are never written
 * back) and tp logs a cancel, so that recovery replays no older delta into
 * the block.  bp must not be changed or logged again.  The filesystem may
 * reuse the block as metadata once tp has committed, and for file data
 * only once tp is durable (kvj_log_force()), as XFS keeps freed extents
 * busy until then.
 */
void kvfs_trans_binval(struct kvj_trans *tp, struct kv_buf *bp);
/*
 * bp (which tp got) was initialised whole and is described in the log by
 * another item of tp (an inode chunk's creation, fs/inode/icreate_item.h):
 * an ordered buffer (XFS's xfs_trans_ordered_buf()).  Nothing of it is
 * logged, but its item is pinned and enters the AIL with tp's checkpoint
 * like a logged one, so the AIL writes it back (and flushes) before the
 * log tail passes that checkpoint: from then on the blocks no longer need
 * the other item.  Logged again before that write-back, it is logged
 * whole (the tail may then pass the other item).  A buffer with changes
 * already logged and not written back is logged whole at once.
 *
 * write (may be NULL: kv_buf_write()) is how the AIL writes the buffer
 * back, for an owner that keeps newer contents of the blocks elsewhere
 * (an inode cluster's in-core inodes, kvfs_icluster_write() in
 * fs/inode/inode_item.h), so that the blocks are written once with them
 * rather than once now and again for them.  It is called in place of
 * kv_buf_write() with priv, under the AIL lock, with bp locked, unpinned
 * and not stale (a freed buffer is never written), and must return
 * kv_buf_write(bp)'s result.  It may only trylock (the AIL lock is held,
 * below every lock but the log's).  What it copies into bp must be
 * stamped with the LSN of the log item that stands for it, an item in
 * the AIL and unpinned; once the write succeeded that item may report
 * itself written (KVJ_PUSH_CLEAN): the write counts as the AIL's
 * (KVJ_PUSH_SUCCESS), so a flush covers it before any item relying on it
 * leaves the AIL.  The hook is dropped with the first successful
 * write-back and when the block is freed.
 */
typedef int (*kvfs_bli_write_fn)(struct kv_buf *bp, void *priv);
void kvfs_trans_ordered_buf(struct kvj_trans *tp, struct kv_buf *bp,
			    kvfs_bli_write_fn write, void *priv);
/*
 * The other way round: bp, locked, unpinned and not stale, was just
 * written back whole by the owner of its contents (an inode push writing
 * its cluster with the inodes made in it), a write the owner's AIL push
 * counts (KVJ_PUSH_SUCCESS).  An ordered item of bp with nothing logged
 * then needs no write of its own: its push finds it clean, and it leaves
 * the AIL behind the flush that covers that write.  Nothing is done for
 * a buffer without an item, or whose item has changes logged.
 */
void kvfs_bli_written(struct kv_buf *bp);
/*
 * Hand back bp, which tp got but did not log, before the commit: unlocked
 * and unjoined (kvj_trans_brelse(), as XFS's xfs_trans_brelse()); false,
 * and nothing done, if tp logged or held it.  bp must not be used after.
 */
bool kvfs_trans_brelse(struct kvj_trans *tp, struct kv_buf *bp);
/*
 * The same for every buffer tp got since mark (kvfs_trans_buf_mark()), as
 * a failed search does with what it read.  All or nothing: false, and
 * nothing released, when tp logged one of them.
 */
unsigned kvfs_trans_buf_mark(struct kvj_trans *tp);
bool kvfs_trans_brelse_since(struct kvj_trans *tp, unsigned mark);

/*
 * Recovery.  buf_type (may be NULL) names the buffer ops of a block from
 * its contents (its magic number), as XFS recovery picks verifiers:
 * replay trusts the LSN in the header of a block only when its type is
 * known and it passes that type's verify_read (with buf_type NULL: when
 * the crc of one header over the whole buffer matches), so a write-back
 * torn by the crash is rebuilt from the log; write-back stamps the LSN and
 * crc through the type's verify_write (with no type: one kvfs_blk_hdr
 * covering the whole buffer, kvfs_blkhdr_stamp()).  A block replayed into
 * contents of no known type fails recovery with -EUCLEAN.
 */
typedef const struct kv_buf_ops *(*kvfs_bli_buf_type_fn)(const void *blk,
							 size_t len);

/*
 * Fill ops (a struct kvj_recover_ops for struct kvj_log_params.recover)
 * with buffer replay over bc.  meta_uuid: the filesystem's metadata UUID;
 * a block whose header carries another one is older than any delta (NULL
 * for blocks without struct kvfs_blk_hdr, in tests).  Replayed buffers
 * stay held until finish() writes them back.  Free with
 * kvfs_bli_recover_free() after kvj_log_open() returned, whatever it
 * returned.
 */
int kvfs_bli_recover_ops(struct kv_bcache *bc, kvfs_bli_buf_type_fn buf_type,
			 const uint8_t *meta_uuid, struct kvj_recover_ops *ops);
void kvfs_bli_recover_free(struct kvj_recover_ops *ops);
/*
 * Is blkno freed (a cancel) in the checkpoint at lsn or a later one?  For
 * the replay of other items over blocks (fs/inode/inode_item.h), after the scan
 * pass has seen every cancel.
 */
bool kvfs_bli_recover_freed_since(const struct kvj_recover_ops *ops,
				  uint64_t blkno, kvj_lsn_t lsn);
/* Buffers recovery holds before writing back what it replayed (tests). */
#define KVFS_BLI_RECOVER_LIMIT 8192
void kvfs_bli_recover_set_limit(struct kvj_recover_ops *ops, size_t nbufs);

/* What the last recovery over ops did (tests and tools). */
struct kvfs_bli_recover_stats {
	uint64_t deltas; /* deltas seen */
	uint64_t applied; /* applied to their block */
	uint64_t skipped; /* the block was already as new */
	uint64_t cancelled; /* the block was freed */
	uint64_t freed_later; /* skipped: a later checkpoint frees the block */
	uint64_t written; /* blocks written back */
	uint64_t batches; /* write-backs before the end (the limit was hit) */
};
void kvfs_bli_recover_get_stats(const struct kvj_recover_ops *ops,
				struct kvfs_bli_recover_stats *st);

/*
 * Render one delta as one line (no newline) into out, e.g.
 * "buf block 4096 nblks 1 map_words 1 logged 3 chunks: bytes 0-127,
 * 512-767" or "buf block 4096 nblks 1 map_words 1 cancel", NUL-terminated
 * and truncated to outlen like snprintf.
 * Returns the number of characters stored (without the NUL), or -EUCLEAN
 * if the delta is malformed.
 */
int kvfs_bli_describe(const void *delta, uint32_t len, char *out,
		      size_t outlen);

#endif
