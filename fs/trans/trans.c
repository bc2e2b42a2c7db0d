// SPDX-License-Identifier: GPL-2.0
/*
 * Filesystem transactions: block reservations around the journal's
 * transactions (fs/trans/trans.h).  mp->fdblocks is an atomic counter: a
 * reservation subtracts and adds back if that went below zero, so
 * concurrent reservations never take more than there is and never wait.
 */
#include <errno.h>

#include "alloc/kvalloc.h"
#include "fs/bug.h"
#include "fs/trans/defer.h"
#include "fs/space/extent_busy.h"
#include "fs/data/file.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "fs/trans/trans_resv.h"
#include "journal/errortag.h"

/*
 * n blocks, leaving floor (the reserves nothing else may take: the
 * removals' and the write back's, the removals' alone for a write back,
 * none for a removal).  *below (when asked): whether they left less than
 * the write back's floor, i.e. came from its reserve.
 */
static int reserve_blocks(struct kvfs_mount *mp, uint64_t n, uint64_t floor,
			  bool *below)
{
	int64_t had;

	if (!n)
		return 0;
	had = atomic_fetch_sub(&mp->fdblocks, (int64_t)n);
	if (had < (int64_t)(n + floor)) {
		atomic_fetch_add(&mp->fdblocks, (int64_t)n);
		return -ENOSPC;
	}
	if (below)
		*below = had < (int64_t)(n + mp->resblks + mp->wbblks);
	return 0;
}

static int trans_alloc(struct kvfs_mount *mp, uint32_t log_bytes,
		       unsigned rolls, uint64_t blocks, uint64_t floor,
		       bool *below, struct kvfs_trans **tpp)
{
	struct kvfs_trans *tp;
	int err;

	if (mp->rdonly)
		return -EROFS;
	if (kvj_log_is_shutdown(mp->log))
		return -EIO;
	err = reserve_blocks(mp, blocks, floor, below);
	/* once, as XFS's xfs_trans_alloc(): speculative blocks first */
	if (err == -ENOSPC && !kvfs_file_trim_all_prealloc(mp, NULL))
		err = reserve_blocks(mp, blocks, floor, below);
	if (err)
		return err;
	/* as XFS's xfs_trans_alloc(): memory comes back, -ENOMEM never */
	tp = kvzalloc(sizeof(*tp), KV_NOFAIL);
	err = kvj_trans_alloc(mp->log, log_bytes, rolls, &tp->jt);
	if (err) {
		atomic_fetch_add(&mp->fdblocks, (int64_t)blocks);
		kvfree(tp);
		return err;
	}
	tp->mp = mp;
	tp->log_res = log_bytes;
	tp->blk_res = blocks;
#ifdef KV_DEBUG
	tp->kind = kvfs_trans_res_kind(&mp->resv, log_bytes, rolls);
#endif
	*tpp = tp;
	return 0;
}

int kvfs_trans_alloc(struct kvfs_mount *mp, uint32_t log_bytes, unsigned rolls,
		     uint64_t blocks, struct kvfs_trans **tpp)
{
	return trans_alloc(mp, log_bytes, rolls, blocks,
			   mp->resblks + kvfs_wbfloor(mp), NULL, tpp);
}

int kvfs_trans_alloc_cached(struct kvfs_mount *mp, uint32_t log_bytes,
			    unsigned rolls, uint64_t blocks, bool *reserve,
			    struct kvfs_trans **tpp)
{
	bool below = false;
	int err = trans_alloc(mp, log_bytes, rolls, blocks, mp->resblks, &below,
			      tpp);

	if (!err && below)
		*reserve = true;
	return err;
}

int kvfs_trans_alloc_res(struct kvfs_mount *mp,
			 const struct kvfs_trans_res *res, uint64_t blocks,
			 struct kvfs_trans **tpp)
{
	return kvfs_trans_alloc(mp, res->log_bytes, res->log_count,
				res->blocks + blocks, tpp);
}

int kvfs_trans_alloc_remove(struct kvfs_mount *mp,
			    const struct kvfs_trans_res *res,
			    struct kvfs_trans **tpp)
{
	return trans_alloc(mp, res->log_bytes, res->log_count, res->blocks, 0,
			   NULL, tpp);
}

/*
 * Give back the unused reservation and what was freed; a cancelled
 * transaction changed nothing (or shut the filesystem down): all of it.
 */
#ifdef KV_DEBUG
/* The most and the fewest left of the transactions of tp's kind. */
static void trans_peak(struct kvfs_trans *tp)
{
	struct kvfs_resv_peak *p = &tp->mp->resv.peak[tp->kind];
	uint64_t left = tp->blk_res - tp->blk_used;
	uint64_t v = atomic_load_explicit(&p->most_used, memory_order_relaxed);

	atomic_fetch_add_explicit(&p->n, 1, memory_order_relaxed);
	while (v < tp->blk_used &&
	       !atomic_compare_exchange_weak_explicit(
		       &p->most_used, &v, tp->blk_used, memory_order_relaxed,
		       memory_order_relaxed))
		;
	v = atomic_load_explicit(&p->least_left, memory_order_relaxed);
	while (v > left && !atomic_compare_exchange_weak_explicit(
				   &p->least_left, &v, left,
				   memory_order_relaxed, memory_order_relaxed))
		;
}

/* A reservation computed too small: say which, with its figures. */
static void __attribute__((noreturn))
trans_short(const struct kvfs_trans *tp, uint64_t n)
{
	const struct kvfs_trans_resv *r = &tp->mp->resv;

	kvfs_bug("transaction of kind %s (%u log bytes, %llu blocks reserved, "
		 "the kind's own %llu) needs %llu blocks at once with %llu "
		 "used, %llu left: its reservation is short "
		 "(fs/trans/trans_resv.c)",
		 kvfs_trans_res_name(tp->kind), tp->log_res,
		 (unsigned long long)tp->blk_res,
		 (unsigned long long)(tp->kind < KVFS_RESV_NR ?
					      kvfs_trans_res_at(r, tp->kind)
						      ->blocks :
					      0),
		 (unsigned long long)n, (unsigned long long)tp->blk_used,
		 (unsigned long long)kvfs_trans_blocks_left(tp));
}
#endif

/* The inode counts' changes tp committed, into statfs's. */
static void icount_settle(struct kvfs_trans *tp)
{
	if (tp->icount_delta)
		atomic_fetch_add(&tp->mp->icount, tp->icount_delta);
	if (tp->ifree_delta)
		atomic_fetch_add(&tp->mp->ifree, tp->ifree_delta);
	tp->icount_delta = tp->ifree_delta = 0;
}

static void trans_settle(struct kvfs_trans *tp, bool committed)
{
	int64_t back = (int64_t)tp->blk_res;

#ifdef KV_DEBUG
	trans_peak(tp);
#endif
	if (committed) {
		back += (int64_t)tp->blk_freed - (int64_t)tp->blk_used;
		icount_settle(tp);
	}
	atomic_fetch_add(&tp->mp->fdblocks, back);
}

static void trans_unlock_ags(struct kvfs_trans *tp)
{
	while (tp->nr_ag_locked)
		kvfs_perag_unlock(
			&tp->mp->pag[tp->ag_locked[--tp->nr_ag_locked]]);
}

int kvfs_trans_commit(struct kvfs_trans *tp, uint64_t *seqp)
{
	uint64_t seq = 0;
	int err = 0;

	if (tp->dfops_intake || tp->dfops)
		err = kvfs_defer_finish(tp);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	err = kvj_trans_commit(tp->jt, &seq);

	/* under the AG locks still: nobody allocates the freed extents yet */
	kvfs_extent_busy_trans_done(tp, err ? 0 : seq);
	trans_unlock_ags(tp);
	trans_settle(tp, !err);
	kvfree(tp);
	if (seqp)
		*seqp = seq;
	return err;
}

void kvfs_trans_cancel(struct kvfs_trans *tp)
{
	kvfs_defer_cancel(tp);
	kvj_trans_cancel(tp->jt);
	kvfs_extent_busy_trans_done(tp, 0);
	trans_unlock_ags(tp);
	trans_settle(tp, false);
	kvfree(tp);
}

int kvfs_trans_end_nospc(struct kvfs_trans *tp, int err)
{
	int cerr;

	if (!kvj_trans_dirty(tp->jt)) {
		kvfs_trans_cancel(tp);
		return err;
	}
	cerr = kvfs_trans_commit(tp, NULL);
	return cerr ? cerr : err;
}

/*
 * The AG locks not held across rolls go with their buffers, which the
 * journal's roll released: a deferred free that must lock a lower AG
 * than one an earlier step locked gets it after the roll, where keeping
 * every lock to the end could wait forever on a thread blocked on ours.
 */
static void trans_roll_unlock_ags(struct kvfs_trans *tp)
{
	unsigned i = 0;

	while (i < tp->nr_ag_locked) {
		if (tp->ag_held[i]) {
			i++;
			continue;
		}
		kvfs_perag_unlock(&tp->mp->pag[tp->ag_locked[i]]);
		tp->nr_ag_locked--;
		tp->ag_locked[i] = tp->ag_locked[tp->nr_ag_locked];
		tp->ag_held[i] = tp->ag_held[tp->nr_ag_locked];
	}
}

int kvfs_trans_roll(struct kvfs_trans *tp, uint64_t *seqp)
{
	uint64_t seq = 0;
	int err = kvj_trans_roll_commit(&tp->jt, &seq);

	if (seqp)
		*seqp = seq;
	if (err)
		return err;
	/* under the AG locks still: nobody allocates the freed extents yet */
	kvfs_extent_busy_trans_done(tp, seq);
	atomic_fetch_add(&tp->mp->fdblocks, (int64_t)tp->blk_freed);
	tp->blk_freed = 0;
	icount_settle(tp);
	trans_roll_unlock_ags(tp);
	/*
	 * Log space for the next step only now: waiting for it under an AG
	 * lock deadlocked against the transactions queued on that lock,
	 * whose reservations are the space it waits for (tests/stress
	 * ichurn, one AG, 8 threads: a write's allocation rolled past its
	 * reserved units while seven others waited for the AG).
	 */
	return kvj_trans_regrant(tp->jt);
}

void kvfs_trans_set_nofail(struct kvfs_trans *tp)
{
	kvj_trans_set_nofail(tp->jt);
}

uint64_t kvfs_trans_blocks_left(const struct kvfs_trans *tp)
{
	return tp->blk_res - tp->blk_used;
}

int kvfs_trans_need_blocks(struct kvfs_trans *tp, uint64_t minlen)
{
	if (kvfs_trans_blocks_left(tp) >= minlen)
		return 0;
#ifdef KV_DEBUG
	trans_short(tp, minlen);
#endif
	return -ENOSPC;
}

int kvfs_trans_use_blocks(struct kvfs_trans *tp, uint64_t n)
{
	if (tp->blk_used + n > tp->blk_res) {
#ifdef KV_DEBUG
		trans_short(tp, n);
#endif
		return -ENOSPC;
	}
	tp->blk_used += n;
	return 0;
}

void kvfs_trans_free_blocks(struct kvfs_trans *tp, uint64_t n)
{
	tp->blk_freed += n;
}

void kvfs_trans_mod_icount(struct kvfs_trans *tp, int64_t dicount,
			   int64_t difree)
{
	tp->icount_delta += dicount;
	tp->ifree_delta += difree;
}

int kvfs_trans_keep_blocks(struct kvfs_trans *tp, uint64_t n)
{
	if (kvfs_trans_blocks_left(tp) < n)
		return -ENOSPC;
	tp->blk_res -= n;
	return 0;
}

void kvfs_trans_add_kept(struct kvfs_trans *tp, uint64_t n)
{
	tp->blk_res += n;
}

void kvfs_trans_unkeep(struct kvfs_mount *mp, uint64_t n)
{
	atomic_fetch_add(&mp->fdblocks, (int64_t)n);
}

int kvfs_trans_lock_ag(struct kvfs_trans *tp, uint32_t agno, bool trylock,
		       bool *newly)
{
	struct kvfs_perag *pag = &tp->mp->pag[agno];
	bool higher = false;
	unsigned i;

	*newly = false;
	for (i = 0; i < tp->nr_ag_locked; i++) {
		if (tp->ag_locked[i] == agno)
			return 0;
		if (tp->ag_locked[i] > agno)
			higher = true;
	}
	if (tp->nr_ag_locked == KVFS_TRANS_MAX_AGS)
		return -EAGAIN;
	if (trylock || higher) {
		if (kvj_errtag(KVJ_ERRTAG_AG_LOCK_BUSY) ||
		    !kvfs_perag_trylock(pag))
			return -EAGAIN;
	} else {
		kvfs_perag_lock(pag);
	}
	tp->ag_held[tp->nr_ag_locked] = false;
	tp->ag_locked[tp->nr_ag_locked++] = agno;
	*newly = true;
	return 0;
}

void kvfs_trans_hold_ag(struct kvfs_trans *tp, uint32_t agno)
{
	unsigned i;

	for (i = 0; i < tp->nr_ag_locked; i++)
		if (tp->ag_locked[i] == agno)
			tp->ag_held[i] = true;
}

void kvfs_trans_unlock_ag(struct kvfs_trans *tp, uint32_t agno)
{
	unsigned i;

	for (i = 0; i < tp->nr_ag_locked; i++) {
		if (tp->ag_locked[i] != agno)
			continue;
		tp->nr_ag_locked--;
		tp->ag_locked[i] = tp->ag_locked[tp->nr_ag_locked];
		tp->ag_held[i] = tp->ag_held[tp->nr_ag_locked];
		kvfs_perag_unlock(&tp->mp->pag[agno]);
		return;
	}
}

bool kvfs_trans_ag_damaged(struct kvfs_trans *tp, uint32_t agno, bool *sick,
			   bool newly, unsigned mark, int err)
{
	if ((err != -EUCLEAN && err != -EBADMSG) ||
	    !kvfs_trans_brelse_since(tp->jt, mark))
		return false;
	__atomic_store_n(sick, true, __ATOMIC_RELAXED);
	if (newly)
		kvfs_trans_unlock_ag(tp, agno);
	return true;
}
