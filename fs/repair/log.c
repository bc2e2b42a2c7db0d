// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 2, the log: one walk of it (journal/logwalk.h, the journal's own
 * parser) tells clean, dirty or damaged.  A dirty log is replayed by a
 * mount of the image and its clean unmount (the core's recovery, intents
 * included); a damaged one is zeroed with zap_log only: mkfs's all-zero
 * log is a clean empty one.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/dev.h"
#include "fs/log_io.h"
#include "fs/mount.h"
#include "fs/repair/priv.h"
#include "fs/sb.h"
#include "journal/logwalk.h"

#define ZERO_CHUNK (1u << 20)

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

static int zero_log(struct rp *rp)
{
	uint64_t off = kvfs_fsb_to_bytes(&rp->g, rp->g.logstart);
	uint64_t end = off + kvfs_fsb_to_bytes(&rp->g, rp->g.logblocks);
	void *z = kvzalloc(ZERO_CHUNK, 0);
	int err = 0;

	if (!z)
		return -ENOMEM;
	for (; off < end && !err; off += ZERO_CHUNK)
		err = kv_dev_pwrite(
			rp->dev, z,
			end - off < ZERO_CHUNK ? end - off : ZERO_CHUNK, off);
	kvfree(z);
	return err ? err : kv_dev_flush(rp->dev);
}

/* Replay by a mount and unmount; rp->dev is closed meanwhile. */
static int replay(struct rp *rp)
{
	struct kvfs_mount *mp;
	int err, err2;

	/* a mount refuses the bit an earlier interrupted repair left */
	if (rp->g.feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR) {
		rp->g.feat_incompat &= ~KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
		err = rp_sb_write(rp);
		if (err)
			return err;
	}
	kv_dev_close(rp->dev);
	rp->dev = NULL;
	err = kvfs_mount_open(rp->path, NULL, &mp);
	if (!err)
		err = kvfs_mount_close(mp);
	err2 = kv_dev_open(rp->path, 0, &rp->dev);
	if (err2)
		return err2;
	if (err) {
		rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
			     "the log could not be replayed: %s",
			     *kvfs_mount_error() ? kvfs_mount_error() :
						   strerror(-err));
		return -EUCLEAN;
	}
	rp->res->log_replayed = true;
	rp_notice(rp, "log replayed");
	return kvfs_sb_read(rp->dev, &rp->g);
}

int rp_phase_log(struct rp *rp)
{
	int st = rp_log_clean(rp->dev, &rp->g);
	int err;

	if (st == 1)
		return 0;
	if (st == 0) {
		if (!rp->o->dry_run)
			return replay(rp);
		rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
			     "log is dirty; not replayed (-n)");
		return 0;
	}
	if (st != -EUCLEAN)
		return st;
	if (!rp->o->zap_log || rp->o->dry_run) {
		rp_unfixable(rp, KVFS_NULLINO, rp->g.logstart,
			     "the log is damaged and cannot be replayed; -L "
			     "zeroes it (the changes it holds are lost)");
		/* a dry run goes on over the image as it is */
		return rp->o->dry_run ? 0 : -EUCLEAN;
	}
	/* asked for by name: also under preen */
	rp_problem(rp, true, KVFS_NULLINO, rp->g.logstart,
		   "the log is damaged and cannot be replayed: zeroed (-L)");
	err = zero_log(rp);
	if (err)
		return err;
	rp->res->log_zeroed = true;
	rp_notice(rp, "WARNING: the log was zeroed: the most recent changes "
		      "it held are lost");
	return 0;
}
