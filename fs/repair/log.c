// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 2, the log: one walk of it (journal/logwalk.h, the journal's own
 * parser) tells clean, dirty or damaged.  A dirty log is replayed by a
 * mount of the image and its clean unmount (the core's recovery, intents
 * included); a damaged one, or one recovery refuses, is replaced with
 * zap_log only, by a clean empty log whose cycle is past every LSN stamped
 * in metadata.  Metadata stamped past the log's head has its LSN reset
 * at the end of the run (rp_future_lsns()), against the head the log has
 * then.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/format.h"
#include "fs/io/log_io.h"
#include "fs/check/metablk.h"
#include "fs/mount.h"
#include "fs/repair/priv.h"
#include "fs/format/sb.h"
#include "journal/crc32c.h"
#include "journal/log_format.h"
#include "journal/logwalk.h"

static int head_fn(void *priv, const struct kvj_walk_head *h)
{
	*(enum kvj_walk_state *)priv = h->state;
	return 0;
}

int rp_log_clean(struct kv_dev *dev, const struct kvfs_geom *g)
{
	static const struct kvj_walk_ops ops = { .head = head_fn };
	enum kvj_walk_state state = KVJ_WALK_EMPTY;
	struct kvfs_log_io lio;
	int err;

	kvfs_log_io_init(&lio, dev, g);
	err = kvj_log_walk(&kvfs_log_io_ops, &lio, lio.len, &ops, &state);
	if (err)
		return err;
	return state != KVJ_WALK_DIRTY;
}

struct future_lsn;
static int future_new(struct rp *rp, uint64_t head, bool no_head,
		      struct future_lsn **fp);
static void future_free(struct future_lsn *f);
static int future_fn(void *priv, uint64_t fsb, uint32_t len,
		     enum kvfs_metablk_type type, uint64_t owner);

/*
 * The highest LSN stamped in metadata: every block's header and inode's,
 * once those past the old log's head are reset (future, unless NULL).
 */
struct max_lsn {
	struct kv_dev *dev;
	const struct kvfs_geom *g;
	void *blk;
	uint64_t lsn;
	uint64_t head; /* the old log's, 0 when its walk found none */
	struct future_lsn *future;
};

static void note_lsn(struct max_lsn *m, const void *p)
{
	const struct kvfs_blk_hdr *h = p;
	uint64_t lsn = kv_le64_to_cpu(h->lsn);

	/* another filesystem's leftovers are not stamped by this log */
	if (kv_le32_to_cpu(h->magic) &&
	    !memcmp(h->uuid, m->g->meta_uuid, KVFS_UUID_SIZE) && lsn > m->lsn)
		m->lsn = lsn;
}

static int max_lsn_fn(void *priv, uint64_t fsb, uint32_t len,
		      enum kvfs_metablk_type type, uint64_t owner)
{
	struct max_lsn *m = priv;
	uint32_t step =
		type == KVFS_MB_INODE ? m->g->inodesize : m->g->blocksize;
	int err;

	(void)owner;
	/*
	 * No log stamps a superblock: no transaction logs one, and every
	 * write of one (mkfs, the mount's, fsck's) encodes LSN 0.  A copy's
	 * LSN damaged to cycle 2^32 - 1 left -L unable to make a new log.
	 */
	if (type == KVFS_MB_LOG || type == KVFS_MB_SB)
		return 0;
	/* every block: a multi-block buffer's other blocks match no uuid */
	for (uint64_t b = fsb; b < fsb + len; b++) {
		err = kv_dev_pread(m->dev, m->blk, m->g->blocksize,
				   kvfs_fsb_to_bytes(m->g, b));
		if (err)
			return err;
		for (uint32_t off = 0; off < m->g->blocksize; off += step)
			note_lsn(m, (const uint8_t *)m->blk + off);
	}
	return 0;
}

/*
 * The old log's own records, where their headers verify: a block the
 * checker cannot reach (freed by the repair, later reused where recovery
 * finds it still verifying) was stamped at most at the old head.
 */
static int max_rec_fn(void *priv, const struct kvj_walk_rec *r)
{
	struct max_lsn *m = priv;

	if (r->lsn > m->lsn)
		m->lsn = r->lsn;
	return 0;
}

static int old_head_fn(void *priv, const struct kvj_walk_head *h)
{
	((struct max_lsn *)priv)->head = h->head_lsn;
	return 0;
}

/* A run of metadata blocks: LSNs past the old head reset, then noted. */
static int zero_walk_fn(void *priv, uint64_t fsb, uint32_t len,
			enum kvfs_metablk_type type, uint64_t owner)
{
	struct max_lsn *m = priv;
	int err = 0;

	if (m->future)
		err = future_fn(m->future, fsb, len, type, owner);
	return err ?: max_lsn_fn(m, fsb, len, type, owner);
}

/*
 * Throw the log away for a clean empty one whose cycle is past every LSN
 * in metadata and in the old log's readable records (xfs_repair's max_lsn
 * and log head): with the mkfs cycle 1, recovery
 * after the next crash would skip every change to a block stamped by the
 * old log, as older than the block.  Metadata stamped at or past the old
 * log's head, where its walk found one, is damage (rp_future_lsns()): its
 * LSN is reset first, so that it does not size the new cycle (one at cycle
 * 2^32 - 1 left no cycle to follow it).
 */
static int zero_log(struct rp *rp)
{
	static const struct kvj_walk_ops rec_ops = { .head = old_head_fn,
						     .record = max_rec_fn };
	struct max_lsn m = { .dev = rp->dev, .g = &rp->g };
	struct kvfs_log_io lio;
	uint32_t cycle;
	int err;

	kvfs_log_io_init(&lio, rp->dev, &rp->g);
	/* damaged: the walk ends in -EUCLEAN after what it could read */
	err = kvj_log_walk(&kvfs_log_io_ops, &lio, lio.len, &rec_ops, &m);
	if (err && err != -EUCLEAN)
		return err;
	m.blk = kvmalloc(rp->g.blocksize, 0);
	if (!m.blk)
		return -ENOMEM;
	/*
	 * A log whose head is not found (its blocks' cycle stamps damaged)
	 * bounds no LSN: only the last cycle, which none can follow, is
	 * taken for damage then.
	 */
	err = future_new(rp, m.head ?: KVJ_LSN(UINT32_MAX, 0), !m.head,
			 &m.future);
	if (!err)
		err = kvfs_metablk_walk(rp->dev, &rp->g, zero_walk_fn, &m);
	future_free(m.future);
	kvfree(m.blk);
	if (err)
		return err;
	cycle = KVJ_LSN_CYCLE(m.lsn);
	if (cycle == UINT32_MAX) {
		rp_unfixable(rp, KVFS_NULLINO, rp->g.logstart,
			     "LSN cycle %u in metadata or the old log: no "
			     "log cycle can follow it",
			     cycle);
		return -EUCLEAN;
	}
	err = kvj_log_format(&kvfs_log_io_ops, &lio, lio.len, cycle + 1);
	if (!err && !rp->ovl)
		rp_notice(rp, "new log at cycle %u (highest LSN %u/%u)",
			  cycle + 1, cycle, KVJ_LSN_BLOCK(m.lsn));
	return err;
}

static int zap(struct rp *rp, const char *why)
{
	int err;

	/* asked for by name: also under preen */
	rp_problem(rp, true, KVFS_NULLINO, rp->g.logstart,
		   "the log %s: zeroed (-L)", why);
	err = zero_log(rp);
	if (err)
		return err;
	rp->res->log_zeroed = true;
	rp_notice(rp, "WARNING: the log was zeroed: the most recent changes "
		      "it held are lost");
	return 0;
}

/*
 * Whether metadata block blkno, as it is on rp->dev, is damaged: its
 * verifier (its type by its magic) refuses it, or its magic is none
 * (recovery replays into blocks that were written back or that the log
 * initialises, header included: one it changes that has no header lost
 * it on the device).
 */
static int block_damaged(struct rp *rp, uint64_t blkno, bool *bad)
{
	const struct kvfs_geom *g = &rp->g;
	struct kvfs_blk_hdr h;
	const struct kv_buf_ops *ops;
	struct kv_bcache *bc;
	struct kv_buf *bp;
	unsigned nblks = 1;
	int err;

	*bad = false;
	err = kv_dev_pread(rp->dev, &h, sizeof(h), kvfs_fsb_to_bytes(g, blkno));
	if (err)
		return err;
	if (kv_le32_to_cpu(h.magic) == KVFS_DIR_DATA_MAGIC)
		nblks = g->dirblksize >> g->blocklog;
	if (blkno + nblks > g->dblocks)
		return 0;
	err = kv_bcache_create(rp->dev, g->blocksize, 1u << 20, &bc);
	if (err)
		return err;
	/* the verifiers of AG headers and others take the geometry from it */
	kv_bcache_set_private(bc, &rp->g);
	err = kv_buf_read(bc, blkno, nblks, NULL, &bp);
	if (!err) {
		kv_buf_lock(bp);
		ops = kvfs_buf_ops_by_magic(bp->b_addr, bp->b_len);
		*bad = !ops || (ops->verify_read && ops->verify_read(bp));
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	kv_bcache_destroy(bc);
	return err;
}

/*
 * Whether a replay that failed with err (r: the last report made on the
 * way, if it is new) failed for the log's own fault.  Not when the device
 * or memory failed (err not a corruption), nor when the block recovery
 * refused is damaged on the device as it is (its verifier refuses it
 * there): its changes cannot be put back, but the log that holds them is
 * sound.  A record whose contents recovery refuses (a malformed delta, no
 * block named), or a block that verifies until the log's changes are
 * applied, is the log's.
 */
static int log_at_fault(struct rp *rp, int err, const struct kvfs_report *r,
			bool *fault)
{
	bool bad;

	*fault = false;
	if (err != -EUCLEAN && err != -EBADMSG)
		return 0;
	*fault = true;
	if (!r || r->blkno == KVFS_NULLBLOCK || r->blkno >= rp->g.dblocks)
		return 0;
	err = block_damaged(rp, r->blkno, &bad);
	if (err)
		return err;
	*fault = !bad;
	return 0;
}

/*
 * Replay by a mount and unmount; rp->dev is closed meanwhile (a dry run's
 * overlay is mounted instead).  A log that walks clean but that recovery
 * refuses (a record whose crcs hold and whose contents do not: the report
 * sink has recovery's words) is zeroed with zap_log, as a damaged one is.
 * A sound log blocked by a damaged block it changes is kept unless zap_log
 * (-L, the user's override, as xfs_repair's: the block cannot be repaired
 * under a log that would replay over it, nor the log replayed): -EUCLEAN.
 * A replay that failed for no corruption (the device, memory) leaves the
 * log as it is, zap_log or not: the error itself, for a later run.
 */
static int replay(struct rp *rp)
{
	struct kvfs_mount_opts mo = { .dev = rp->ovl,
				      .keep_orphans = true,
				      .lsn_unchecked = true };
	struct kvfs_report before = *kvfs_report_last(), r;
	struct kvfs_mount *mp;
	char why[256];
	bool fault;
	int err, err2;

	/* a mount refuses the bit an earlier interrupted repair left */
	if (rp->g.feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR) {
		rp->g.feat_incompat &= ~KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
		err = rp_sb_write(rp);
		if (err)
			return err;
	}
	if (!rp->ovl) {
		kv_dev_close(rp->dev);
		rp->dev = NULL;
	}
	err = kvfs_mount_open(rp->path, &mo, &mp);
	if (!err)
		err = kvfs_mount_close(mp);
	r = *kvfs_report_last();
	snprintf(why, sizeof(why), "%s",
		 *kvfs_mount_error() ? kvfs_mount_error() : strerror(-err));
	if (!rp->ovl) {
		err2 = kv_dev_open(rp->path, 0, &rp->dev);
		if (err2)
			return err2;
		rp_lsn_watch(rp, rp->dev);
	}
	if (!err)
		goto replayed;
	/*
	 * Recovery ends with the log clean, its changes written back; a
	 * mount that fails after it (an AG header it reads, damaged where
	 * the log never reached) leaves a replayed log, and the damage to
	 * the later phases.
	 */
	err2 = rp_log_clean(rp->dev, &rp->g);
	if (err2 == 1)
		goto replayed;
	if (err2 < 0 && err2 != -EUCLEAN)
		return err2;
	err2 = log_at_fault(rp, err, memcmp(&r, &before, sizeof(r)) ? &r : NULL,
			    &fault);
	if (err2)
		return err2;
	if (!fault && (err == -EUCLEAN || err == -EBADMSG)) {
		if (rp->o->zap_log && !rp->o->dry_run) {
			err = kvfs_sb_read(rp->dev, &rp->g);
			snprintf(why, sizeof(why),
				 "could not be replayed over damaged block "
				 "%" PRIu64,
				 r.blkno);
			return err ? err : zap(rp, why);
		}
		rp_unfixable(rp, KVFS_NULLINO, r.blkno,
			     "the log could not be replayed: block %" PRIu64
			     ", which it changes, is damaged (%s); the log is "
			     "sound and is kept: -L zeroes it so that the "
			     "block can be repaired (the changes it holds are "
			     "lost)",
			     r.blkno, r.msg);
		return -EUCLEAN;
	}
	if (!fault) {
		rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
			     "the log could not be replayed: %s; it is kept "
			     "for a later run (-L does not zero a sound log "
			     "for this)",
			     strerror(-err));
		return err;
	}
	if (rp->o->zap_log && !rp->o->dry_run) {
		err = kvfs_sb_read(rp->dev, &rp->g);
		return err ? err : zap(rp, "could not be replayed");
	}
	rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
		     "the log could not be replayed: %s; -L zeroes it "
		     "(the changes it holds are lost)",
		     why);
	return -EUCLEAN;
replayed:
	if (!rp->ovl) {
		rp->res->log_replayed = true;
		rp_notice(rp, "log replayed");
	}
	return kvfs_sb_read(rp->dev, &rp->g);
}

/*
 * Metadata stamped with an LSN at or past the log's head, as no write-back
 * stamps it (a block's LSN is that of the checkpoint that last logged it).
 * Recovery skips every change to a block or inode whose LSN is not older
 * than the change's record (rec_replay() in fs/io/buf_item.c, the inode
 * items' in fs/inode/inode_item.c), as XFS's does: changes logged to it
 * after the next mount are lost in a crash before its next write-back.
 * XFS's verifiers refuse such metadata (xfs_log_check_lsn()) and
 * xfs_repair reports it.  The LSN is set to 0, which recovery takes for a
 * block that cannot vouch for its contents: every change since the tail
 * is replayed into it (rec_block_lsn()); the head itself would still skip
 * the record written there.  Only a header whose checksum holds is judged
 * (one that fails is the later phases' damage, and recovery does not
 * trust its LSN either).
 *
 * Judged once, at the end (rp_future_lsns()), against the head the log has
 * then: a dirty log's replay needs no reset first, since recovery takes an
 * LSN past the log's newest checkpoint for none and replays every change
 * since the tail over it (rec_block_lsn(), the inode items' rec_replay()),
 * stamping its records' LSNs, older than the head; a new log's cycle
 * follows every LSN in metadata (zero_log()).  The walk of every metadata
 * block costs what phase 4 does: it is made only when a read of the run
 * returned a header at or past the head (rp_lsn_watch()), and every run
 * reads all the metadata in its whole check.
 */
struct future_lsn {
	struct rp *rp;
	void *blk;
	uint64_t head;
	bool wrote;
	bool overlay; /* a dry run's overlay: reset there whatever -n says */
	bool no_head; /* head: the last cycle (zero_log(), a log unread) */
};

/*
 * The reset of LSNs at or past head (no_head: the last cycle, no head
 * known); none (*fp NULL) when head is 0.
 */
static int future_new(struct rp *rp, uint64_t head, bool no_head,
		      struct future_lsn **fp)
{
	struct future_lsn *f;

	*fp = NULL;
	if (!head)
		return 0;
	f = kvzalloc(sizeof(*f), 0);
	if (!f)
		return -ENOMEM;
	f->blk =
		kvmalloc(rp->g.dirblksize > rp->g.blocksize ? rp->g.dirblksize :
							      rp->g.blocksize,
			 0);
	if (!f->blk) {
		kvfree(f);
		return -ENOMEM;
	}
	f->rp = rp;
	f->head = head;
	f->no_head = no_head;
	f->overlay = rp->ovl != NULL;
	*fp = f;
	return 0;
}

static void future_free(struct future_lsn *f)
{
	if (!f)
		return;
	kvfree(f->blk);
	kvfree(f);
}

static int future_head_fn(void *priv, const struct kvj_walk_head *h)
{
	*(uint64_t *)priv = h->head_lsn;
	return 0;
}

/* The header at p, len bytes its checksum covers, in block fsb. */
static bool future_one(struct future_lsn *f, void *p, size_t len, uint64_t fsb,
		       enum kvfs_metablk_type type)
{
	const struct kvfs_geom *g = &f->rp->g;
	struct kvfs_blk_hdr *h = p;
	uint64_t lsn = kv_le64_to_cpu(h->lsn);
	char why[48];
	bool fix;

	if (!kv_le32_to_cpu(h->magic) ||
	    memcmp(h->uuid, g->meta_uuid, KVFS_UUID_SIZE) || lsn < f->head ||
	    kv_le32_to_cpu(h->crc) != kv_crc32c_block(p, len, KVFS_BLK_CRC_OFF))
		return false;
	/* the same words with a head or without one (zero_log()) */
	if (f->no_head)
		snprintf(why, sizeof(why), ", a cycle no log cycle can follow");
	else
		snprintf(why, sizeof(why), " ahead of the log (head %u/%u)",
			 KVJ_LSN_CYCLE(f->head), KVJ_LSN_BLOCK(f->head));
	if (type == KVFS_MB_INODE)
		fix = rp_problem(f->rp, true, kv_le64_to_cpu(h->owner), fsb,
				 "inode %" PRIu64 " (block %" PRIu64
				 ") has LSN %u/%u%s: set to 0",
				 (uint64_t)kv_le64_to_cpu(h->owner), fsb,
				 KVJ_LSN_CYCLE(lsn), KVJ_LSN_BLOCK(lsn), why);
	else
		fix = rp_problem(f->rp, true, KVFS_NULLINO, fsb,
				 "block %" PRIu64 " has LSN %u/%u%s: set to 0",
				 fsb, KVJ_LSN_CYCLE(lsn), KVJ_LSN_BLOCK(lsn),
				 why);
	fix |= f->overlay;
	if (fix)
		kvfs_blkhdr_stamp(p, len, 0);
	return fix;
}

static int future_fn(void *priv, uint64_t fsb, uint32_t len,
		     enum kvfs_metablk_type type, uint64_t owner)
{
	struct future_lsn *f = priv;
	const struct kvfs_geom *g = &f->rp->g;
	uint32_t nb = 1, step = g->blocksize;
	int err;

	(void)owner;
	/*
	 * Recovery compares no superblock's LSN: none is logged
	 * (max_lsn_fn()).  The log has no block headers.
	 */
	if (type == KVFS_MB_SB || type == KVFS_MB_LOG)
		return 0;
	if (type == KVFS_MB_DIR) {
		nb = g->dirblksize >> g->blocklog;
		step = g->dirblksize;
	} else if (type == KVFS_MB_INODE) {
		step = g->inodesize;
	}
	for (uint64_t b = fsb; b + nb <= fsb + len; b += nb) {
		size_t bytes = (size_t)nb << g->blocklog;
		bool dirty = false;

		err = kv_dev_pread(f->rp->dev, f->blk, bytes,
				   kvfs_fsb_to_bytes(g, b));
		if (err)
			return err;
		for (size_t off = 0; off < bytes; off += step)
			dirty |= future_one(f, (uint8_t *)f->blk + off, step, b,
					    type);
		if (!dirty)
			continue;
		err = kv_dev_pwrite(f->rp->dev, f->blk, bytes,
				    kvfs_fsb_to_bytes(g, b));
		if (err)
			return err;
		f->wrote = true;
	}
	return 0;
}

/*
 * A header of the filesystem's (its metadata UUID) at every inode-sized
 * step of a read: blocks and inodes (the log and the superblocks, which
 * no log stamps, left out), its LSN kept in rp->lsn_seen if the highest.
 * Bytes that only look like a header make the walk happen for nothing.
 */
static void lsn_watch(void *priv, const void *buf, size_t len, uint64_t off)
{
	struct rp *rp = priv;
	const struct kvfs_geom *g = &rp->g;
	uint64_t logoff = kvfs_fsb_to_bytes(g, g->logstart);
	uint64_t logend = kvfs_fsb_to_bytes(g, g->logstart + g->logblocks);
	uint64_t step = g->inodesize, p, lsn, seen;
	struct kvfs_blk_hdr h;

	for (p = (off + step - 1) / step * step; p + sizeof(h) <= off + len;
	     p += step) {
		if (p >= logoff && p < logend) {
			p = logend - step;
			continue;
		}
		if (kvfs_fsb_to_agbno(g, p >> g->blocklog) == 0)
			continue;
		memcpy(&h, (const uint8_t *)buf + (p - off), sizeof(h));
		lsn = kv_le64_to_cpu(h.lsn);
		if (!kv_le32_to_cpu(h.magic) ||
		    memcmp(h.uuid, g->meta_uuid, KVFS_UUID_SIZE))
			continue;
		seen = __atomic_load_n(&rp->lsn_seen, __ATOMIC_RELAXED);
		/* the namespace phases' mount may read from its threads */
		while (lsn > seen &&
		       !__atomic_compare_exchange_n(&rp->lsn_seen, &seen, lsn,
						    true, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))
			;
	}
}

void rp_lsn_watch(struct rp *rp, struct kv_dev *dev)
{
	kv_dev_set_read_watch(dev, lsn_watch, rp);
}

int rp_future_lsns(struct rp *rp)
{
	static const struct kvj_walk_ops ops = { .head = future_head_fn };
	enum kvfs_repair_phase phase = rp->phase;
	struct kv_dev *dev = rp->ovl;
	struct future_lsn *f = NULL;
	struct kvfs_log_io lio;
	uint64_t head = 0;
	int err = 0;

	if (!dev)
		err = kv_dev_open(rp->path, rp->o->dry_run ? KV_DEV_RDONLY : 0,
				  &dev);
	if (err)
		return err;
	rp->dev = dev;
	kvfs_log_io_init(&lio, dev, &rp->g);
	err = kvj_log_walk(&kvfs_log_io_ops, &lio, lio.len, &ops, &head);
	if (err || __atomic_load_n(&rp->lsn_seen, __ATOMIC_RELAXED) < head) {
		/* a log left damaged (-n) has no head to trust */
		err = err == -EUCLEAN ? 0 : err;
		goto out;
	}
	err = future_new(rp, head, false, &f);
	if (err)
		goto out;
	/* phase 2's problems, whenever they are found */
	rp->phase = KVFS_RP_LOG;
	/* the checker's walk: what it meets damaged was reported already */
	kvfs_report_mute(true);
	err = kvfs_metablk_walk(dev, &rp->g, future_fn, f);
	kvfs_report_mute(false);
	/* the run's last writes: durable before it says they are made */
	if (!err && f->wrote && dev != rp->ovl)
		err = kv_dev_flush(dev);
	future_free(f);
	rp->phase = phase;
out:
	if (dev != rp->ovl)
		kv_dev_close(dev);
	rp->dev = NULL;
	return err;
}

/*
 * A dry run's view of the image with the log dealt with: an overlay of it
 * in memory (KV_DEV_OVERLAY), becoming rp->dev, a damaged primary
 * superblock replaced there by the copy phase 1 chose.
 */
static int overlay_open(struct rp *rp)
{
	int err;

	err = kv_dev_open(rp->path, KV_DEV_RDONLY | KV_DEV_OVERLAY, &rp->ovl);
	if (err)
		return err;
	rp->dev = rp->ovl;
	rp_lsn_watch(rp, rp->ovl);
	return rp->sb_bad ? rp_sb_write(rp) : 0;
}

/* The overlay dropped: rp->dev the plain device again, geometry g. */
static void overlay_drop(struct rp *rp, struct kv_dev *plain,
			 const struct kvfs_geom *g)
{
	kv_dev_close(rp->ovl);
	rp->ovl = NULL;
	rp->dev = plain;
	rp->g = *g;
}

/*
 * fsck -n over a log that cannot be replayed: the later phases check the
 * filesystem as -L would leave it, the log zeroed in memory.  What they
 * find is what -y -L repairs; without -L, -y stops at the log.
 */
static int zap_in_memory(struct rp *rp)
{
	struct kv_dev *plain = rp->dev;
	struct kvfs_geom g = rp->g;
	int err;

	err = overlay_open(rp);
	if (!err)
		err = zero_log(rp);
	if (err) {
		overlay_drop(rp, plain, &g);
		/* a dry run goes on over the image as it is */
		return err == -EUCLEAN ? 0 : err;
	}
	kv_dev_close(plain);
	rp_notice(rp, "the checks below read the filesystem as -L would leave "
		      "it (the log zeroed in memory only)");
	return 0;
}

/*
 * fsck -n over a dirty log: the image as it is would show what the log
 * holds and its blocks do not yet as damage.  The log is replayed into an
 * overlay of the image in memory, and the later phases check that.  A log
 * that recovery refuses is zeroed there instead.
 */
static int replay_in_memory(struct rp *rp)
{
	struct kv_dev *plain = rp->dev;
	struct kvfs_geom g = rp->g;
	int err;

	err = overlay_open(rp);
	if (!err)
		err = replay(rp);
	if (err) {
		overlay_drop(rp, plain, &g);
		return err == -EUCLEAN ? zap_in_memory(rp) : err;
	}
	kv_dev_close(plain);
	rp_notice(rp, "log replayed in memory only (-n): the checks below "
		      "read the filesystem as the replay will leave it");
	return 0;
}

int rp_phase_log(struct rp *rp)
{
	int st = rp_log_clean(rp->dev, &rp->g);

	/* LSNs past the head: judged at the end (rp_future_lsns()) */
	if (st == 1)
		return 0;
	if (st == 0) {
		if (!rp->o->dry_run)
			return replay(rp);
		/* "-- NOT FIXED (-n)" is the caller's to add */
		rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
			     "log is dirty; not replayed");
		return replay_in_memory(rp);
	}
	if (st != -EUCLEAN)
		return st;
	if (!rp->o->zap_log || rp->o->dry_run) {
		rp_unfixable(rp, KVFS_NULLINO, rp->g.logstart,
			     "the log is damaged and cannot be replayed; -L "
			     "zeroes it (the changes it holds are lost)");
		return rp->o->dry_run ? zap_in_memory(rp) : -EUCLEAN;
	}
	return zap(rp, "is damaged and cannot be replayed");
}
