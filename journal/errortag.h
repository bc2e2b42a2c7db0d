/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Named error-injection points (XFS's xfs_errortag.h): the one place where
 * every point of kvfs (the journal and the filesystem above it) that can
 * be made to fail, stall or crash is declared, instead of test hooks
 * scattered through the code.  It lives in the journal, the lowest library
 * with points, so that both libraries share one set of tags.
 *
 * A point is evaluated where the failure would happen:
 *
 *	if (kvj_errtag(KVJ_ERRTAG_META_READ_IO))
 *		return -EIO;
 *
 * Each tag is off until armed, by a test (kvj_errtag_set()) or by the
 * environment variable KVFS_ERRTAGS, read once at the first evaluation:
 *
 *	KVFS_ERRTAGS="meta_read_io,meta_write_io:after=100:every=3:count=2"
 *
 * A point armed with (after, every, count) lets its first `after`
 * evaluations pass, then fires on one evaluation in `every` (1: each),
 * at most `count` times (0: no limit).  A tag may carry a value (a delay
 * in microseconds, say: "ail_push_delay:value=2000") that the point reads
 * with kvj_errtag_value().  Disarmed, a point costs one relaxed atomic
 * load.  The state is process-wide (one filesystem per daemon); a
 * malformed KVFS_ERRTAGS arms nothing and is reported by
 * kvj_errtag_env_error() for the daemon or tool to print.
 *
 * Thread-safe: tags may be armed and evaluated from any thread.
 */
#ifndef KV_JOURNAL_ERRORTAG_H
#define KV_JOURNAL_ERRORTAG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum kvj_errtag {
	/* journal */
	/*
	 * The AIL pusher sleeps value microseconds between its flush and
	 * taking the AIL lock back (the window in which another pusher or an
	 * item's owner can take the items it pushed out of the AIL).
	 */
	KVJ_ERRTAG_AIL_PUSH_DELAY,
	/*
	 * A commit sleeps value microseconds inside its read-side section,
	 * between reading the CIL context and adding its items to it (the
	 * window a push must wait out before collecting the context).
	 */
	KVJ_ERRTAG_CIL_INSERT_DELAY,
	/*
	 * A write to the log region (a checkpoint's records, a tail or
	 * unmount record) fails: -ENOMEM, or minus the tag's value if set.
	 */
	KVJ_ERRTAG_LOG_WRITE_FAIL,
	/*
	 * A flush of the log's device (after a checkpoint, or after an AIL
	 * write-back pass) fails: -ENOMEM, or minus the tag's value if set.
	 */
	KVJ_ERRTAG_LOG_FLUSH_FAIL,
	/* filesystem */
	KVJ_ERRTAG_META_READ_IO, /* a metadata buffer read: -EIO */
	/* a metadata buffer write: -EIO, or minus the tag's value if set */
	KVJ_ERRTAG_META_WRITE_IO,
	/* a deferred item's finish (fs/trans/defer.c) fails: -EIO, a shutdown */
	KVJ_ERRTAG_DEFER_ITEM_FAIL,
	/*
	 * The put that drops an inode's last reference sleeps value
	 * microseconds before it decides whether to free it
	 * (fs/inode/icache.c kvfs_iput()).
	 */
	KVJ_ERRTAG_IPUT_DELAY,
	/* The inode worker sleeps value microseconds before each put. */
	KVJ_ERRTAG_INODEGC_DELAY,
	/*
	 * An unlinked inode's freeing fails after its blocks were freed,
	 * before the transaction that frees the inode: -EIO, the inode left
	 * on its unlinked list (fs/inode/inactive.c), as a crash between
	 * the two would leave it.
	 */
	KVJ_ERRTAG_IFREE_FAIL,
	/*
	 * An inode allocation finds no room: -ENOSPC from kvfs_dialloc()
	 * with nothing changed (fs/inode/ialloc.c), as on a filesystem with
	 * no free inode and no space for a chunk.
	 */
	KVJ_ERRTAG_IALLOC_NOSPC,
	/*
	 * No AG has room for an extent map's tree blocks: -ENOSPC from
	 * kvfs_alloc_hold_space() and from the allocations of an extent-map
	 * B+tree's blocks (fs/data/bmap.c, fs/btree/bmap_btree.c), as on a
	 * filesystem whose free blocks are all in AGs a transaction cannot
	 * lock.
	 */
	KVJ_ERRTAG_MAP_TREE_NOSPC,
	/*
	 * An unmap of a file's blocks (fs/data/file_space.c
	 * kvfs_file_unmap(): a punch, a truncate) finds no room before its
	 * next extent: -ENOSPC, what it unmapped before staying unmapped, as
	 * a bmap btree split on a full filesystem would leave it.
	 */
	KVJ_ERRTAG_FILE_UNMAP_NOSPC,
	/*
	 * A removal (unlink, rmdir, a rename over a name) finds no block
	 * free, not even among those kept for removals, and goes on with
	 * none (fs/ns/namei.c alloc_removal()): directories leave free-space
	 * index records behind (fs/format.h idxlag), as on a full filesystem.
	 */
	KVJ_ERRTAG_REMOVE_NORESV,
	/*
	 * A lock-free read of file data (fs/data/file.c read_rcu()) sleeps
	 * value microseconds between reading the file's map and reading
	 * its data, inside its RCU read-side section.
	 */
	KVJ_ERRTAG_READ_RCU_DELAY,
	/*
	 * A write into unwritten blocks converts them in its own transaction
	 * instead of leaving them pending (fs/data/convert.h): the path taken
	 * when a range cannot be recorded.
	 */
	KVJ_ERRTAG_CONV_NODEFER,
	/*
	 * A directory's data space ends after value data blocks instead of
	 * KVFS_DIR_SPACE_BYTES (fs/ns/dir.c): a full data space's -ENOSPC
	 * without 32 GiB of directory.
	 */
	KVJ_ERRTAG_DIR_SPACE_SMALL,
	/*
	 * mount.kvfs sleeps value microseconds before it serves a WRITE
	 * (fs/fuse/ops.c): a request held while the kernel waits for it.
	 */
	KVJ_ERRTAG_FUSE_WRITE_DELAY,
	/*
	 * A push finds no memory for the array it sorts its entries into
	 * (journal/push.c): it sorts and walks their list instead.
	 */
	KVJ_ERRTAG_PUSH_SORT_NOMEM,
	/*
	 * An AG lock a transaction may only try (fs/trans/trans.c
	 * kvfs_trans_lock_ag(): an AG numbered below one it holds, or on a
	 * search's first pass an AG other than its goal's) is found taken:
	 * -EAGAIN, as when other transactions hold those AGs.
	 */
	KVJ_ERRTAG_AG_LOCK_BUSY,
	/*
	 * A drain of the log (an unmount's, kvj_log_drain()) gives up on
	 * write-back stuck for want of device space after value
	 * milliseconds instead of KVJ_NOSPACE_DRAIN_MS (journal/log.c
	 * log_drain()): a full host's give-up without its 10 s wait.
	 */
	KVJ_ERRTAG_NOSPACE_DRAIN,
	/*
	 * The image lock (fs/kvfs_fs.c kvfs_image_lock()) is waited for
	 * value milliseconds instead of the caller's wait_ms (the tools'
	 * KVFS_IMAGE_LOCK_WAIT_MS, 5 s): a refusal of a locked image
	 * without its wait.
	 */
	KVJ_ERRTAG_IMAGE_LOCK_WAIT,
	KVJ_ERRTAG_NR,
};

/* 0: nothing armed; 1: KVFS_ERRTAGS not read yet; 2: something armed */
extern atomic_int kvj_errtag_state;

bool kvj_errtag_eval(enum kvj_errtag tag);

/* Does the point fire now?  Counts the evaluation when armed. */
static inline bool kvj_errtag(enum kvj_errtag tag)
{
	if (__builtin_expect(atomic_load_explicit(&kvj_errtag_state,
						  memory_order_relaxed) == 0,
			     1))
		return false;
	return kvj_errtag_eval(tag);
}

/* Arm a tag; every 0 disarms it.  -EINVAL for an unknown tag. */
int kvj_errtag_set(enum kvj_errtag tag, uint64_t after, uint32_t every,
		   uint64_t count);
void kvj_errtag_clear_all(void);
/* Set the value a point reads when it fires (default 0). */
int kvj_errtag_set_value(enum kvj_errtag tag, uint64_t value);
uint64_t kvj_errtag_value(enum kvj_errtag tag);
/* The errno a failure point returns: minus the tag's value, or -dflt. */
static inline int kvj_errtag_errno(enum kvj_errtag tag, int dflt)
{
	uint64_t v = kvj_errtag_value(tag);

	return v ? -(int)v : -dflt;
}
/* Times the tag fired since it was last armed. */
uint64_t kvj_errtag_hits(enum kvj_errtag tag);

/* "meta_read_io"; NULL for an unknown tag. */
const char *kvj_errtag_name(enum kvj_errtag tag);
/* The tag of a name, or -ENOENT. */
int kvj_errtag_lookup(const char *name);
/*
 * Arm tags from a spec in the KVFS_ERRTAGS syntax (keys after, every,
 * count, value).  0, or -EINVAL with
 * nothing armed and a description in err.
 */
int kvj_errtag_parse(const char *spec, char *err, unsigned errlen);
/* What was wrong with KVFS_ERRTAGS, or NULL. */
const char *kvj_errtag_env_error(void);

#endif
