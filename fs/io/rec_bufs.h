/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The buffers a log recovery pass holds, found by block number: an
 * open-addressed table (linear probing, at most half full) shared by the
 * buffer and inode item replays, which each hold the blocks they replay
 * into until a batch is written back.
 *
 * Single-threaded: recovery replays in one thread.  The table owns no
 * buffer reference: its users read, write back and release the buffers.
 */
#ifndef KV_FS_REC_BUFS_H
#define KV_FS_REC_BUFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/io/buf.h"
#include "journal/log_format.h"

struct kvfs_rec_buf {
	struct kv_buf *bp; /* NULL: an empty slot */
	kvj_lsn_t lsn; /* of the block's contents now */
	bool changed; /* replay wrote into it: write it back */
};

struct kvfs_rec_bufs {
	struct kvfs_rec_buf *slots;
	size_t cap, nr;
};

/*
 * The entry of blkno, or the empty slot where it goes (fill it with
 * kvfs_rec_bufs_fill()); NULL only when the table has no slots yet.
 */
struct kvfs_rec_buf *kvfs_rec_bufs_find(struct kvfs_rec_bufs *t,
					uint64_t blkno);
/*
 * The entry of blkno or its empty slot, with room made for one more
 * entry; NULL when the table cannot grow (ENOMEM).
 */
struct kvfs_rec_buf *kvfs_rec_bufs_get(struct kvfs_rec_bufs *t, uint64_t blkno);
/* Put bp (its b_blkno the slot's key) into the empty slot rb. */
void kvfs_rec_bufs_fill(struct kvfs_rec_bufs *t, struct kvfs_rec_buf *rb,
			struct kv_buf *bp);
/* Take the entry rb out (its buffer stays the caller's). */
void kvfs_rec_bufs_remove(struct kvfs_rec_bufs *t, struct kvfs_rec_buf *rb);
/* Free the table; the caller has released every buffer in it. */
void kvfs_rec_bufs_reset(struct kvfs_rec_bufs *t);

#endif
