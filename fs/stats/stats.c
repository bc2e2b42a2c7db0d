// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_stats() (fs/kvfs.h): the figures of the journal, the buffer and
 * inode caches and the allocation groups, gathered from their own stats
 * calls.  The AGs' in-core counts are read without their locks (relaxed
 * loads of values changed under them): taking the locks would show up in
 * the very contention counts reported, and a figure a moment old is what
 * a live view shows anyway.
 */
#include <stddef.h>
#include <string.h>

#include "fs/kvfs.h"
#include "fs/mount.h"

#define RELAXED(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/*
 * Most figures are a module's own, renamed: a table of the offsets of
 * each in struct kvfs_stats and in the module's stats.  Both are uint64_t
 * (a field of another size does not compile: char[-1]).
 */
struct stat_copy {
	size_t to, from;
};

#define U64_AT(type, f)      \
	(offsetof(type, f) + \
	 sizeof(char[sizeof(((type *)0)->f) == sizeof(uint64_t) ? 0 : -1]))
#define COPY(to, type, from)                                      \
	{                                                         \
		U64_AT(struct kvfs_stats, to), U64_AT(type, from) \
	}

static const struct stat_copy log_copy[] = {
	COPY(log_commits, struct kvj_log_stats, commits),
	COPY(log_checkpoints, struct kvj_log_stats, checkpoints),
	COPY(log_forces, struct kvj_log_stats, forces),
	COPY(log_force_writes, struct kvj_log_stats, force_writes),
	COPY(log_bytes, struct kvj_log_stats, log_bytes),
	COPY(log_bytes_used, struct kvj_log_stats, log_bytes_used),
	COPY(log_bytes_written, struct kvj_log_stats, log_bytes_written),
	COPY(log_grant_waits, struct kvj_log_stats, grant_waits),
	COPY(ail_items, struct kvj_log_stats, ail_items),
	COPY(ail_pushed, struct kvj_log_stats, ail_pushed),
	COPY(zstd_in, struct kvj_log_stats, stream_ulen),
	COPY(zstd_out, struct kvj_log_stats, stream_len),
};

static const struct stat_copy buf_copy[] = {
	COPY(buf_hits, struct kv_bcache_stats, hits),
	COPY(buf_misses, struct kv_bcache_stats, misses),
	COPY(buf_reads, struct kv_bcache_stats, reads),
	COPY(buf_writes, struct kv_bcache_stats, writes),
	COPY(buf_reclaimed, struct kv_bcache_stats, reclaimed),
	COPY(buf_cached, struct kv_bcache_stats, nr_cached),
	COPY(buf_bytes, struct kv_bcache_stats, bytes_cached),
};

static const struct stat_copy icache_copy[] = {
	COPY(inode_hits, struct kvfs_icache_stats, hits),
	COPY(inode_misses, struct kvfs_icache_stats, misses),
	COPY(inode_reclaimed, struct kvfs_icache_stats, reclaimed),
	COPY(inode_cached, struct kvfs_icache_stats, nr_cached),
	COPY(inode_inactive_failed, struct kvfs_icache_stats, inactive_failed),
};

static void copy_figures(struct kvfs_stats *st, const void *from,
			 const struct stat_copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		memcpy((char *)st + c[i].to, (const char *)from + c[i].from,
		       sizeof(uint64_t));
}

#define COPY_ALL(st, from, table) \
	copy_figures(st, from, table, sizeof(table) / sizeof((table)[0]))

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
	as->sick = (RELAXED(pag->alloc_sick) ? KVFS_AG_SICK_SPACE : 0) |
		   (RELAXED(pag->ialloc_sick) ? KVFS_AG_SICK_INODES : 0);
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
		COPY_ALL(st, &ls, log_copy);
	}
	kv_bcache_get_stats(mp->bc, &bs);
	COPY_ALL(st, &bs, buf_copy);
	kvfs_icache_get_stats(mp->ic, &is);
	COPY_ALL(st, &is, icache_copy);
	st->block_size = mp->g.blocksize;
	free = atomic_load(&mp->fdblocks);
	st->free_blocks = free < 0 ? 0 : (uint64_t)free;
	st->wb_pending_blocks = atomic_load(&mp->wbpend);
	st->agcount = mp->g.agcount;
	for (uint32_t agno = 0; agno < nag && agno < mp->g.agcount; agno++)
		ag_stats(kvfs_perag_get(mp, agno), &ag[agno]);
	return 0;
}
