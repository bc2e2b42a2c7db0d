// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_stats() (fs/kvfs.h): the figures of the journal, the buffer and
 * inode caches and the allocation groups, gathered from their own stats
 * calls.  The AGs' in-core counts are read without their locks (relaxed
 * loads of values changed under them): taking the locks would show up in
 * the very contention counts reported, and a figure a moment old is what
 * a live view shows anyway.
 */
#include <string.h>

#include "fs/kvfs.h"
#include "fs/mount.h"

#define RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void ag_stats(struct kvfs_perag *pag, struct kvfs_ag_stats *as)
{
	memset(as, 0, sizeof(*as));
	/* 0 until the AG's headers were read (a read-only mount reads lazily) */
	if (RELAXED(pag->agf_init)) {
		as->free_blocks = RELAXED(pag->freeblks);
		as->longest = RELAXED(pag->longest);
		as->free_extents = RELAXED(pag->free_extents);
	}
	if (RELAXED(pag->agi_init)) {
		as->inodes = RELAXED(pag->icount);
		as->inodes_free = RELAXED(pag->ifree);
	}
	as->lock_acquired =
		atomic_load_explicit(&pag->lock_acquired, memory_order_relaxed);
	as->lock_contended = atomic_load_explicit(&pag->lock_contended,
						  memory_order_relaxed);
}

int kvfs_stats(struct kvfs_mount *mp, struct kvfs_stats *st,
	       struct kvfs_ag_stats *ag, uint32_t nag)
{
	struct kv_bcache_stats bs;
	struct kvfs_icache_stats is;
	int64_t free;

	memset(st, 0, sizeof(*st));
	if (mp->log) {
		struct kvj_log_stats ls;

		kvj_log_get_stats(mp->log, &ls);
		st->log_commits = ls.commits;
		st->log_checkpoints = ls.checkpoints;
		st->log_forces = ls.forces;
		st->log_force_writes = ls.force_writes;
		st->log_bytes = ls.log_bytes;
		st->log_bytes_used = ls.log_bytes_used;
		st->log_bytes_written = ls.log_bytes_written;
		st->log_grant_waits = ls.grant_waits;
		st->ail_items = ls.ail_items;
		st->ail_pushed = ls.ail_pushed;
		st->zstd_in = ls.stream_ulen;
		st->zstd_out = ls.stream_len;
	}
	kv_bcache_get_stats(mp->bc, &bs);
	st->buf_hits = bs.hits;
	st->buf_misses = bs.misses;
	st->buf_reads = bs.reads;
	st->buf_writes = bs.writes;
	st->buf_reclaimed = bs.reclaimed;
	st->buf_cached = bs.nr_cached;
	st->buf_bytes = bs.bytes_cached;
	kvfs_icache_get_stats(mp->ic, &is);
	st->inode_hits = is.hits;
	st->inode_misses = is.misses;
	st->inode_reclaimed = is.reclaimed;
	st->inode_cached = is.nr_cached;
	st->block_size = mp->g.blocksize;
	free = atomic_load(&mp->fdblocks);
	st->free_blocks = free < 0 ? 0 : (uint64_t)free;
	st->agcount = mp->g.agcount;
	for (uint32_t agno = 0; agno < nag && agno < mp->g.agcount; agno++)
		ag_stats(kvfs_perag_get(mp, agno), &ag[agno]);
	return 0;
}
