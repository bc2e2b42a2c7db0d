/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The mounted filesystem (XFS's xfs_mount): the one object every core
 * operation starts from.  kvfs_mount_open() opens an image or block device,
 * reads and checks the superblock, sets up the buffer cache, the journal
 * (replaying a dirty log: buffer deltas, then unfinished intents) with the
 * buffer log items over it, and the per-AG state; kvfs_mount_close() writes
 * everything back, writes the unmount record and marks the superblock
 * clean.  The daemon, fsck, kvfs-db's write mode and the tests all mount
 * through here.
 *
 * Lock order of the whole core, outermost first (each file that owns one
 * of these locks says what it protects):
 *   daemon node stripe  (fs/fuse/nodes.c: kvfs_inode_open() runs under it)
 *   inode I/O lock      (fs/inode/inode.h: data path; rwlock)
 *   inode lock          (fs/inode/inode.h: inode metadata; rwlock), several
 *                       only in ascending inode number order (a new
 *                       inode's is taken under its AG's inode header
 *                       buffer: see fs/inode/inode.h)
 *   AG locks            (fs/space/perag.h), several only in ascending AG order
 *   buffer locks        (fs/io/buf.h), taken through transactions; one AG's
 *                       may be held while a later AG's lock is taken
 *   open references     (fs/inode/openref.c: leaf)
 *   extent lists' mutex (fs/data/iext.h: leaf; its shrinker only trylocks
 *                       an inode lock under it)
 *   journal locks       (journal/log_priv.h)
 * The table of every rank, checked in debug builds, is alloc/lockrank.h.
 * A transaction (its log reservation) is taken before any of the locks it
 * changes things under, as in XFS: locks are never held while waiting for
 * log space.
 *
 * The library never prints: a failed mount returns a negative errno and
 * leaves one line saying why in kvfs_mount_error() (thread-local), for the
 * daemon or tool to print.
 */
#ifndef KV_FS_MOUNT_H
#define KV_FS_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/trans/defer.h"
#include "fs/format/geom.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate_item.h"
#include "fs/inode/inode_item.h"
#include "fs/io/log_io.h"
#include "fs/space/perag.h"
#include "fs/trans/trans_resv.h"
#include "journal/journal.h"

struct kv_dev;
struct kvfs_conv_ctl;
struct kvfs_iext_lru;
struct kvfs_iunlink;

struct kvfs_mount_opts {
	bool rdonly;
	/*
	 * The device to mount instead of opening path (the caller's: left
	 * open by kvfs_mount_close()); fsck -n mounts one with KV_DEV_OVERLAY
	 * to replay a dirty log in memory.
	 */
	struct kv_dev *dev;
	/* buffer cache memory limit in bytes; 0: the cache's default */
	size_t cache_bytes;
	/* journal tuning (journal/journal.h); 0: defaults */
	unsigned push_interval_ms;
	/* period of the deferred conversions' settle (fs/data/convert.h) */
	unsigned settle_ms;
	unsigned idle_push_ms;
	/*
	 * fsck's log replay: leave the unlinked lists to fsck's phases
	 * (freeing an orphan may meet the very damage fsck is to repair,
	 * and a mount refusing it would leave the image beyond repair).
	 */
	bool keep_orphans;
	/*
	 * fsck's mounts: metadata whose LSN is at or past the log's head
	 * is read as it is (fsck's phase 2 reports and resets it; a dry
	 * run's mount would otherwise refuse what it only reports), where a
	 * mount refuses it as damage (mount_lsn_head() in fs/mount.c).
	 */
	bool lsn_unchecked;
	/* tests: no background journal threads (they drive pushes) */
	bool no_log_threads;
	/* deferred-op types beyond the built-in ones (tests) */
	const struct kvfs_defer_type *const *defer_types;
	unsigned nr_defer_types;
	/* threads calling into the filesystem at once; 0: 1 */
	unsigned threads;
	/* the device opened KV_DEV_DIRECT (kvfs_open_opts.direct_io) */
	bool direct_io;
};

/*
 * Blocks per AG kept out of mp->fdblocks: the reserve list of an AG may be
 * refilled from its free space to g.agfl_min blocks without a
 * transaction's reservation (XFS's m_alloc_set_aside).
 */
#define KVFS_AG_SET_ASIDE(g) ((uint64_t)(g)->agfl_min + 4)

/*
 * Blocks of an AG free for reservations: its free space, reserve list and
 * free-space tree blocks past the roots, less what mkfs leaves on the
 * reserve list and the set-aside.  Blocks moving between free space, the
 * reserve list and the trees do not change it (as XFS counts its AGFL and
 * free-space btree blocks as free), so it changes exactly by what the
 * allocator hands out and takes back; on a fresh AG it is freeblks less
 * the set-aside.  May be negative.
 */
static inline int64_t kvfs_ag_avail(const struct kvfs_geom *g,
				    uint32_t freeblks, uint32_t flcount,
				    uint32_t btreeblks)
{
	return (int64_t)freeblks + flcount + btreeblks - 2 - g->agfl_min -
	       (int64_t)KVFS_AG_SET_ASIDE(g);
}

/* Blocks kept for removals (struct kvfs_mount.resblks): 1/64, at most 1024. */
#define KVFS_RESBLKS(g) \
	((g)->dblocks / 64 < 1024 ? (g)->dblocks / 64 : (uint64_t)1024)

/*
 * The most blocks a write-back reserve of bytes may keep: 1/32 of the
 * filesystem, or KVFS_WB_RESERVE_SMALL when that is more (under 64 MiB).
 * What a page cache holds when the space runs out does not shrink with
 * the filesystem (fs/fuse/dirty.h): the dirty limit's floor and the rest
 * of each write() under way (1 MiB for dd bs=1M); 1/32 of 32 MiB held
 * less, and dd onto it lost up to 0.8 MiB that write() had accepted.
 */
#define KVFS_WB_RESERVE_SMALL (2ull << 20)

static inline uint64_t kvfs_wbblks(const struct kvfs_geom *g, uint64_t bytes)
{
	uint64_t n = bytes >> g->blocklog, cap = g->dblocks / 32;

	if (cap < KVFS_WB_RESERVE_SMALL >> g->blocklog)
		cap = KVFS_WB_RESERVE_SMALL >> g->blocklog;
	return n < cap ? n : cap;
}

struct kvfs_mount {
	struct kv_dev *dev;
	bool dev_borrowed; /* the opener's (opts.dev): not closed here */
	struct kvfs_geom g;
	bool rdonly;
	/* the superblock's state before this mount marked it dirty */
	uint32_t state_at_open;
	/*
	 * Corruption was met while mounted (or by an earlier mount, not
	 * repaired since): the unmount leaves the superblock in the error
	 * state (KVFS_STATE_ERRORS, kept while mounted), so that fsck.kvfs
	 * checks it without -f (ext4's error state).  Set by
	 * kvfs_open() and kvfs_close() (fs/kvfs.h), not by the mounts of the
	 * tools (fsck's own, which meets the damage it repairs).
	 */
	bool errors_seen;
	unsigned long corrupt_at_open; /* kv_bcache_reports(bc) then */
	struct kv_bcache *bc;
	struct kvfs_log_io lio;
	struct kvj_recover_ops bli_rops;
	struct kvj_recover_ops ino_rops;
	struct kvfs_inode_recover_stats ino_rstats; /* what replay did */
	struct kvj_recover_ops icr_rops;
	struct kvfs_icreate_recover_stats icr_rstats; /* what replay did */
	struct kvfs_icache *ic; /* the inode cache */
	/* extent lists of B+tree data forks (fs/data/iext.h) */
	struct kvfs_iext_lru *iext_lru;
	struct kvfs_openrefs *openrefs; /* fs/inode/openref.h */
	struct kvfs_inodegc *inodegc; /* fs/inode/inodegc.h; NULL read-only */
	/* settles of deferred conversions (fs/data/convert.h); NULL read-only */
	struct kvfs_conv_ctl *conv;
	struct kvj_log *log; /* NULL when read-only */
	/*
	 * The log the read verifiers judge LSNs by (mount_lsn_head()), set
	 * once its head is past replay (for intent recovery, then the open
	 * log), cleared before it is closed; atomic: read by every thread
	 * that reads metadata.
	 */
	struct kvj_log *lsn_log;
	struct kvfs_bli_log *bl; /* NULL when read-only */
	struct kvj_recovery_info ri;
	struct kvfs_perag *pag; /* g.agcount of them */
	/* blocks free for reservations (fs/trans/trans.h); may read below 0 briefly */
	_Atomic int64_t fdblocks;
	/*
	 * statfs's inodes and free inodes (XFS's m_icount, m_ifree): the AG
	 * inode headers' at mount, moved by each transaction's changes to
	 * them at its commit (kvfs_trans_mod_icount()), so that a cancel
	 * leaves them; an AG whose header did not read counts what the
	 * superblock's summary has past the others'.  statfs reads them
	 * without the AG locks or the headers.
	 */
	_Atomic int64_t icount, ifree;
	/* files marked with speculative blocks (kvfs_file_spec_mark()) */
	_Atomic int64_t spec_files;
	/*
	 * Of those, what only removals may take (XFS's m_resblks): a full
	 * filesystem can always be emptied, since an unlink may need a
	 * directory-index block or two.  statfs does not count them.
	 */
	uint64_t resblks;
	/*
	 * Of the rest, what only the write back of data a page cache in
	 * front of the core accepted may take (struct kvfs_open_opts
	 * .wb_reserve_bytes; 0 without one): that data's write(2) returned
	 * before the core saw it, so that its blocks must be there when it
	 * comes (fs/trans/trans.h: kvfs_trans_alloc_cached()).  statfs does
	 * not count them either.
	 */
	uint64_t wbblks;
	/*
	 * Beside it, what that page cache may hold dirty now, in blocks (its
	 * keeper's bound: kvfs_set_wb_pending()): kept like wbblks, so that
	 * what takes space behind the cache's back (O_DIRECT, fallocate,
	 * speculative blocks, new inodes) cannot take the room of data
	 * write(2) accepted already.  statfs counts them free.
	 */
	_Atomic uint64_t wbpend;
	bool agfs_read; /* pag counts and fdblocks are set */
	struct kvfs_trans_resv resv; /* fs/trans/trans_resv.h */
	/* deferred operations (fs/trans/defer.h): types, their intent recovery */
	const struct kvfs_defer_type **defer_types;
	unsigned nr_defer_types;
	struct kvj_intent_ops *defer_iops;
	void *defer_rctx;
	struct kvfs_defer_counters defer_ctr;
	/* the AG of the next new directory (fs/space/alloc.h) */
	_Atomic uint32_t agrotor;
	/* the unlinked lists' in-memory side (fs/inode/iunlink.h) */
	struct kvfs_iunlink *iunlink;
	uint64_t orphans; /* unlinked inodes this mount freed at open */
	/* kvfs_open_opts (fs/kvfs.h), for the data path */
	unsigned atime; /* KVFS_ATIME_* */
	bool wsync; /* every change durable before it returns */
};

/* What only write backs may take: the reserve and the cache's dirty data. */
static inline uint64_t kvfs_wbfloor(struct kvfs_mount *mp)
{
	return mp->wbblks + atomic_load(&mp->wbpend);
}

/*
 * Open and mount the filesystem on path.  -ENODATA: not kvfs;
 * -ENOSPC: the log is too small for the transactions of this geometry;
 * -EUCLEAN/-EBADMSG: damaged (superblock or log; run fsck.kvfs);
 * -EOPNOTSUPP/-EROFS: features this code cannot write; -EBUSY: in use
 * (a block device opened exclusively elsewhere); -errno otherwise.
 */
int kvfs_mount_open(const char *path, const struct kvfs_mount_opts *o,
		    struct kvfs_mount **mpp);
/*
 * Write everything back, write the unmount record, mark the superblock
 * clean, free the mount.  The first error is returned; the mount is
 * freed either way.
 */
int kvfs_mount_close(struct kvfs_mount *mp);
/*
 * Forced shutdown (XFS's xfs_force_shutdown): the journal stops writing,
 * every later transaction fails with -EIO, and kvfs_mount_close() writes
 * nothing more (what is durable is what the next mount recovers).  Crash
 * tests use it as a power cut.
 */
void kvfs_mount_shutdown(struct kvfs_mount *mp, const char *why);
/*
 * Recovery finishes intents inside the journal's open, before it returns
 * the log: the first intent's recovery calls this to set up what
 * transactions need (mp->log, the buffer items, the AG counts).
 */
int kvfs_mount_recovery_ready(struct kvfs_mount *mp, struct kvj_log *log);

/*
 * statfs's inode counts (mp->icount, ifree) set at mount from the AG
 * inode headers: icount and ifree those of the headers that read, unread
 * the number that did not (damaged), which count what the superblock's
 * summary has past them.  With no transaction running: the headers hold
 * every commit before it, the counters every one after.
 */
void kvfs_mount_set_icounts(struct kvfs_mount *mp, uint64_t icount,
			    uint64_t ifree, uint32_t unread);
/* Why the last kvfs_mount_open() of this thread failed ("" if it did not). */
const char *kvfs_mount_error(void);
/*
 * The smallest kvalloc budget, in bytes (a whole number of MiB), in which
 * a mount of geometry g with threads callers (0: 1) never waits for memory
 * nobody can free; kvfs_mount_open() refuses a smaller one (-EINVAL).
 */
uint64_t kvfs_mount_min_budget(const struct kvfs_geom *g, bool rdonly,
			       unsigned threads);

static inline struct kvfs_perag *kvfs_perag_get(struct kvfs_mount *mp,
						uint32_t agno)
{
	return &mp->pag[agno];
}

#endif
