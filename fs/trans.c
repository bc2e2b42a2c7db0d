// SPDX-License-Identifier: GPL-2.0
/*
 * Filesystem transactions: block reservations around the journal's
 * transactions (fs/trans.h).  mp->fdblocks is an atomic counter: a
 * reservation subtracts and adds back if that went below zero, so
 * concurrent reservations never take more than there is and never wait.
 */
#include <errno.h>

#include "alloc/kvalloc.h"
#include "fs/defer.h"
#include "fs/mount.h"
#include "fs/trans.h"
#include "fs/trans_resv.h"

static int reserve_blocks(struct kvfs_mount *mp, uint64_t n)
{
	if (!n)
		return 0;
	if (atomic_fetch_sub(&mp->fdblocks, (int64_t)n) < (int64_t)n) {
		atomic_fetch_add(&mp->fdblocks, (int64_t)n);
		return -ENOSPC;
	}
	return 0;
}

int kvfs_trans_alloc(struct kvfs_mount *mp, uint32_t log_bytes, unsigned rolls,
		     uint64_t blocks, struct kvfs_trans **tpp)
{
	struct kvfs_trans *tp;
	int err;

	if (mp->rdonly)
		return -EROFS;
	if (kvj_log_is_shutdown(mp->log))
		return -EIO;
	err = reserve_blocks(mp, blocks);
	if (err)
		return err;
	tp = kvzalloc(sizeof(*tp), 0);
	if (!tp) {
		atomic_fetch_add(&mp->fdblocks, (int64_t)blocks);
		return -ENOMEM;
	}
	err = kvj_trans_alloc(mp->log, log_bytes, rolls, &tp->jt);
	if (err) {
		atomic_fetch_add(&mp->fdblocks, (int64_t)blocks);
		kvfree(tp);
		return err;
	}
	tp->mp = mp;
	tp->log_res = log_bytes;
	tp->blk_res = blocks;
	*tpp = tp;
	return 0;
}

int kvfs_trans_alloc_res(struct kvfs_mount *mp,
			 const struct kvfs_trans_res *res, uint64_t blocks,
			 struct kvfs_trans **tpp)
{
	return kvfs_trans_alloc(mp, res->log_bytes, res->log_count,
				res->blocks + blocks, tpp);
}

/*
 * Give back the unused reservation and what was freed; a cancelled
 * transaction changed nothing (or shut the filesystem down): all of it.
 */
static void trans_settle(struct kvfs_trans *tp, bool committed)
{
	int64_t back = (int64_t)tp->blk_res;

	if (committed)
		back += (int64_t)tp->blk_freed - (int64_t)tp->blk_used;
	atomic_fetch_add(&tp->mp->fdblocks, back);
}

int kvfs_trans_commit(struct kvfs_trans *tp, uint64_t *seqp)
{
	int err = 0;

	if (tp->dfops_intake || tp->dfops)
		err = kvfs_defer_finish(tp);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	err = kvj_trans_commit(tp->jt, seqp);

	trans_settle(tp, !err);
	kvfree(tp);
	return err;
}

void kvfs_trans_cancel(struct kvfs_trans *tp)
{
	kvfs_defer_cancel(tp);
	kvj_trans_cancel(tp->jt);
	trans_settle(tp, false);
	kvfree(tp);
}

int kvfs_trans_roll(struct kvfs_trans *tp, uint64_t *seqp)
{
	int err = kvj_trans_roll(&tp->jt, seqp);

	if (!err) {
		atomic_fetch_add(&tp->mp->fdblocks, (int64_t)tp->blk_freed);
		tp->blk_freed = 0;
	}
	return err;
}

void kvfs_trans_set_nofail(struct kvfs_trans *tp)
{
	kvj_trans_set_nofail(tp->jt);
}

int kvfs_trans_use_blocks(struct kvfs_trans *tp, uint64_t n)
{
	if (tp->blk_used + n > tp->blk_res)
		return -ENOSPC;
	tp->blk_used += n;
	return 0;
}

void kvfs_trans_free_blocks(struct kvfs_trans *tp, uint64_t n)
{
	tp->blk_freed += n;
}
