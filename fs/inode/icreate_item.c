// SPDX-License-Identifier: GPL-2.0
/*
 * The inode-chunk creation log item (see fs/inode/icreate_item.h for the
 * contract).
 *
 * Locks: none of its own.  An item belongs to the transaction that made
 * it, then to the checkpoint context that holds it; a reference count
 * (one for the transaction, one per pin) frees it after whichever of
 * release() and unpin() comes last: a push may make its checkpoint durable
 * and unpin it before the committing thread releases it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/format/dinode.h"
#include "fs/format.h"
#include "fs/inode/icreate_item.h"
#include "fs/inode/inode_item.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_item.h"
#include "fs/io/buf_ops.h"
#include "fs/io/rec_bufs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

/* the structure recovery's reports name (fs/io/blkhdr.h) */
#define ICR_RECOVERY "inode-chunk creation log recovery"

struct icr_item {
	struct kvj_item item; /* first: the journal hands us &item */
	struct kvfs_icreate_log fmt;
	atomic_int refs;
};

static inline struct icr_item *to_icr(struct kvj_item *lip)
{
	return (struct icr_item *)lip;
}

void kvfs_icluster_init(const struct kvfs_geom *g, void *blk, uint64_t fsb,
			int64_t sec, uint32_t nsec, uint32_t gen)
{
	uint32_t agno = kvfs_fsb_to_agno(g, fsb);
	uint32_t agino = kvfs_agbno_to_agino(g, kvfs_fsb_to_agbno(g, fsb));
	uint32_t i;

	for (i = 0; i < g->inopblock; i++) {
		uint8_t *dip = (uint8_t *)blk + ((size_t)i << g->inodelog);

		kvfs_dinode_init(dip, g, kvfs_agino_to_ino(g, agno, agino + i),
				 0, 0, 0, 0, sec, nsec, gen);
		kvfs_dinode_set_crc(dip, g);
	}
}

/* ---- the journal's item ops ---- */

static void icr_put(struct icr_item *icr)
{
	if (atomic_fetch_sub(&icr->refs, 1) == 1)
		kvfree(icr);
}

static uint32_t icr_size(struct kvj_item *lip, bool fresh)
{
	(void)lip;
	(void)fresh;
	return sizeof(struct kvfs_icreate_log);
}

static uint32_t icr_format(struct kvj_item *lip, void *buf, bool fresh)
{
	(void)fresh;
	memcpy(buf, &to_icr(lip)->fmt, sizeof(struct kvfs_icreate_log));
	return sizeof(struct kvfs_icreate_log);
}

static void icr_release(struct kvj_item *lip, bool aborted)
{
	(void)aborted;
	icr_put(to_icr(lip));
}

static void icr_pin(struct kvj_item *lip)
{
	atomic_fetch_add(&to_icr(lip)->refs, 1);
}

/* The ordered buffers hold the tail: the item itself is done. */
static bool icr_committed(struct kvj_item *lip, kvj_lsn_t lsn)
{
	(void)lip;
	(void)lsn;
	return false;
}

static void icr_unpin(struct kvj_item *lip)
{
	icr_put(to_icr(lip));
}

static const struct kvj_item_ops icr_ops = {
	.name = "icreate",
	.type = KVFS_ITEM_ICREATE,
	.size = icr_size,
	.format = icr_format,
	.release = icr_release,
	.pin = icr_pin,
	.committed = icr_committed,
	.unpin = icr_unpin,
};

void kvfs_trans_icreate(struct kvfs_trans *tp, uint64_t fsb, uint32_t length,
			int64_t sec, uint32_t nsec, uint32_t gen)
{
	const struct kvfs_geom *g = &tp->mp->g;
	struct icr_item *icr;

	/* dirty already (its ordered buffers): no allocation may fail */
	kvj_trans_set_nofail(tp->jt);
	icr = kvmalloc(sizeof(*icr), KV_NOFAIL | KV_ZERO);
	kvj_item_init(&icr->item, kvj_trans_log_of(tp->jt), &icr_ops);
	atomic_init(&icr->refs, 1);
	icr->fmt.agno = kv_cpu_to_le32(kvfs_fsb_to_agno(g, fsb));
	icr->fmt.agbno = kv_cpu_to_le32(kvfs_fsb_to_agbno(g, fsb));
	icr->fmt.length = kv_cpu_to_le32(length);
	icr->fmt.count = kv_cpu_to_le32(length * g->inopblock);
	icr->fmt.isize = kv_cpu_to_le32(g->inodesize);
	icr->fmt.gen = kv_cpu_to_le32(gen);
	icr->fmt.sec = kv_cpu_to_le64((uint64_t)sec);
	icr->fmt.nsec = kv_cpu_to_le32(nsec);
	kvj_trans_join(tp->jt, &icr->item);
	kvj_trans_log(tp->jt, &icr->item);
}

/* ---- checking and printing ---- */

/* What is wrong with f in geometry g, or NULL. */
static const char *icr_check(const struct kvfs_geom *g,
			     const struct kvfs_icreate_log *f)
{
	uint32_t agno = kv_le32_to_cpu(f->agno);
	uint32_t agbno = kv_le32_to_cpu(f->agbno);
	uint32_t length = kv_le32_to_cpu(f->length);
	uint64_t fsb, end;

	if (kv_le32_to_cpu(f->pad0) || kv_le32_to_cpu(f->nsec) >= 1000000000u)
		return "padding or nanoseconds out of range";
	if (!g)
		return NULL;
	if (agno >= g->agcount)
		return "AG past the last one";
	if (kv_le32_to_cpu(f->isize) != g->inodesize)
		return "inode size is not the filesystem's";
	if (!length || length > g->ialloc_blocks || agbno % length)
		return "length is no chunk's nor piece's, or misaligned";
	if ((uint64_t)length * g->inopblock != kv_le32_to_cpu(f->count))
		return "inode count disagrees with the length";
	if (agbno < KVFS_AG_HDR_BLOCKS)
		return "over the AG's headers";
	if ((uint64_t)agbno + length > kvfs_ag_length(g, agno))
		return "past the end of its AG";
	fsb = kvfs_agb_to_fsb(g, agno, agbno);
	end = fsb + length;
	if (g->logblocks && fsb < g->logstart + g->logblocks &&
	    g->logstart < end)
		return "over the log";
	return NULL;
}

int kvfs_icreate_describe(const struct kvfs_geom *g, const void *delta,
			  uint32_t len, char *out, size_t outlen,
			  const char **why)
{
	struct kvfs_icreate_log f;
	const char *bad;
	int n;

	if (len != sizeof(f)) {
		if (why)
			*why = "length is not an item's";
		return -EUCLEAN;
	}
	memcpy(&f, delta, sizeof(f));
	bad = icr_check(g, &f);
	if (bad) {
		if (why)
			*why = bad;
		return -EUCLEAN;
	}
	n = snprintf(out, outlen,
		     "icreate ag %" PRIu32 " agbno %" PRIu32 " length %" PRIu32
		     " count %" PRIu32 " isize %" PRIu32 " gen 0x%08" PRIx32
		     " time %" PRId64 ".%09" PRIu32,
		     kv_le32_to_cpu(f.agno), kv_le32_to_cpu(f.agbno),
		     kv_le32_to_cpu(f.length), kv_le32_to_cpu(f.count),
		     kv_le32_to_cpu(f.isize), kv_le32_to_cpu(f.gen),
		     (int64_t)kv_le64_to_cpu(f.sec), kv_le32_to_cpu(f.nsec));
	if (n < 0 || !outlen)
		return 0;
	return (size_t)n < outlen ? n : (int)outlen - 1;
}

/* ---- recovery ---- */

struct icr_recovery {
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	const struct kvj_recover_ops *bops; /* the buffers' cancels */
	struct kvfs_rec_bufs bufs; /* the blocks written again */
	size_t limit;
	struct kvfs_icreate_recover_stats st;
};

/* Every block held was written again: all are written back. */
static int rec_write_all(struct icr_recovery *r, bool stale)
{
	return kvfs_icluster_rec_write_all(&r->bufs, stale, ICR_RECOVERY, NULL);
}

static int rec_replay(void *priv, const void *delta, uint32_t len,
		      kvj_lsn_t lsn)
{
	struct icr_recovery *r = priv;
	const struct kvfs_geom *g = r->g;
	struct kvfs_icreate_log f;
	struct kvfs_rec_buf *rb;
	struct kv_buf *bp;
	const char *why = NULL;
	char desc[160];
	uint64_t fsb;
	uint32_t b, length;
	int err;

	r->st.items++;
	if (kvfs_icreate_describe(g, delta, len, desc, sizeof(desc), &why) < 0)
		return kvfs_corrupt(
			-EUCLEAN, KVFS_NULLBLOCK, ICR_RECOVERY,
			"malformed inode-chunk creation (%u bytes) "
			"in the checkpoint at lsn %" PRIu32 "/%" PRIu32 ": %s",
			len, KVJ_LSN_CYCLE(lsn), KVJ_LSN_BLOCK(lsn), why);
	memcpy(&f, delta, sizeof(f));
	fsb = kvfs_agb_to_fsb(g, kv_le32_to_cpu(f.agno),
			      kv_le32_to_cpu(f.agbno));
	length = kv_le32_to_cpu(f.length);
	for (b = 0; b < length; b++) {
		/* freed since (maybe file data now): not ours to write */
		if (kvfs_bli_recover_freed_since(r->bops, fsb + b, lsn)) {
			r->st.cancelled++;
			continue;
		}
		if (r->bufs.nr >= r->limit) {
			err = rec_write_all(r, false);
			if (err)
				return err;
		}
		rb = kvfs_rec_bufs_get(&r->bufs, fsb + b);
		if (!rb)
			return -ENOMEM;
		if (!rb->bp) {
			/*
			 * Through the cache the other replays use: the inode
			 * deltas that follow land on these contents.
			 */
			err = kv_buf_get(r->bc, fsb + b, 1, NULL, &bp);
			if (err)
				return kvfs_corrupt(err, fsb + b, ICR_RECOVERY,
						    "%s", kv_buf_last_error());
			kvfs_rec_bufs_fill(&r->bufs, rb, bp);
		}
		bp = rb->bp;
		kv_buf_lock(bp);
		kvfs_icluster_init(
			g, bp->b_addr, fsb + b, (int64_t)kv_le64_to_cpu(f.sec),
			kv_le32_to_cpu(f.nsec), kv_le32_to_cpu(f.gen));
		kv_buf_unlock(bp);
		rb->lsn = lsn;
		rb->changed = true;
		r->st.blocks++;
	}
	return 0;
}

static int rec_finish(void *priv)
{
	return rec_write_all(priv, false);
}

int kvfs_icreate_recover_ops(struct kv_bcache *bc, const struct kvfs_geom *g,
			     const struct kvj_recover_ops *bops,
			     struct kvj_recover_ops *ops)
{
	struct icr_recovery *r = kvzalloc(sizeof(*r), 0);

	memset(ops, 0, sizeof(*ops));
	if (!r)
		return -ENOMEM;
	r->bc = bc;
	r->g = g;
	r->bops = bops;
	r->limit = KVFS_ICREATE_RECOVER_LIMIT;
	ops->type = KVFS_ITEM_ICREATE;
	/* with the buffers: before the inode deltas of its checkpoint */
	ops->phase = 0;
	ops->replay = rec_replay;
	ops->finish = rec_finish;
	ops->priv = r;
	return 0;
}

void kvfs_icreate_recover_free(struct kvj_recover_ops *ops)
{
	struct icr_recovery *r = ops->priv;

	if (!r)
		return;
	rec_write_all(r, true);
	kvfree(r);
	ops->priv = NULL;
}

void kvfs_icreate_recover_set_limit(struct kvj_recover_ops *ops, size_t nbufs)
{
	struct icr_recovery *r = ops->priv;

	r->limit = nbufs ? nbufs : 1;
}

void kvfs_icreate_recover_get_stats(const struct kvj_recover_ops *ops,
				    struct kvfs_icreate_recover_stats *st)
{
	const struct icr_recovery *r = ops->priv;

	*st = r->st;
}
