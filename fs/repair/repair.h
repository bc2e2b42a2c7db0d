/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Check and repair (fsck.kvfs's engine; xfs_repair's shape).  The library
 * never prints: every problem, phase change and progress step goes to the
 * caller's callbacks (struct kvfs_repair_ops), and fsck.kvfs words them.
 *
 * How a repair runs (kvfs_repair()), in phases, each announced:
 *
 *   1 superblock      primary and the copy in every AG; a damaged primary
 *                     is rebuilt from the first good copy (the geometry
 *                     that most of the copies that verify share: damaged
 *                     copies have no vote).
 *   2 log             a dirty log is replayed (dry run: reported, and
 *                     replayed into a memory overlay of the image,
 *                     KV_DEV_OVERLAY, which every later phase reads: the
 *                     check sees what a replay will leave, never the
 *                     log's pending changes as damage); a log that cannot
 *                     be replayed is zeroed only with zap_log (-L), with
 *                     the warning that recent changes are lost; otherwise
 *                     the repair stops (exit 4).  A dry run goes on over
 *                     the image as it is, and says its findings may be
 *                     stale.
 *   3 AG headers      free-space, inode and reserve-list headers verified;
 *                     what cannot be read is rebuilt in phase 7.
 *   4 inodes          inode chunks and every inode: an inode that fails its
 *                     verifier, or whose forks are garbage, is cleared
 *                     (freed); bad extents are cut; the block-ownership
 *                     map is built (struct kvfs_repair_bmap).  Blocks
 *                     claimed by two files: the later claimant (in inode
 *                     number order) is cut at that extent (e2fsck clones;
 *                     we cut, and say so: its data there is lost, the first
 *                     owner's is intact).
 *   5 directories     every directory's blocks and hash index; entries to
 *                     free or cleared inodes removed; a damaged index is
 *                     rebuilt from the data blocks; `..` checked.
 *   6 connectivity    the tree walked from the root: disconnected inodes
 *                     and subtrees to lost+found named by inode number
 *                     (lost+found made if missing), cycles broken;
 *                     link counts set to the entries found; xattr
 *                     structures; the unlinked lists rebuilt.
 *   7 space           free-space trees, inode trees, reserve lists and AG
 *                     counters rebuilt from the ownership map (only when
 *                     they differ); superblock summary counters.  It runs
 *                     (and is announced) right after phase 4: the
 *                     namespace phases' transactions need consistent
 *                     free space.
 *
 * Phases 1-4 and 7 write buffers directly (xfs_repair's way: the log is
 * clean or zeroed first, nothing else has the image open); phases 5-6
 * change the namespace through the core's transactions on a mount made
 * after phase 4 (kvfs_repair_namespace()), so each fix is atomic.
 *
 * With dry_run nothing is written, ever (fsck -n: the image's hash is the
 * same after the run; the image is opened read-only, and a replay's
 * writes stay in memory), and every problem is reported as not fixed.
 */
#ifndef KV_FS_REPAIR_REPAIR_H
#define KV_FS_REPAIR_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kv_dev;
struct kv_bcache;
struct kvfs_mount;

enum kvfs_repair_phase {
	KVFS_RP_SUPERBLOCK = 1,
	KVFS_RP_LOG,
	KVFS_RP_AG_HEADERS,
	KVFS_RP_INODES,
	KVFS_RP_DIRECTORIES,
	KVFS_RP_CONNECTIVITY,
	KVFS_RP_SPACE,
	KVFS_RP_NPHASES
};

/* Words for a phase: "superblock", "log", "AG headers", ... */
const char *kvfs_repair_phase_name(enum kvfs_repair_phase ph);

struct kvfs_repair_ops {
	/* a phase begins */
	void (*phase)(void *arg, enum kvfs_repair_phase ph);
	/* done of total units of the current phase (AGs, inodes, ...) */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	/*
	 * One problem: where (ino or blkno, KVFS_NULLINO/KVFS_NULLBLOCK when
	 * not about one), what is wrong and what was done, in words; fixed
	 * is false in a dry run or when it could not be fixed.
	 */
	void (*problem)(void *arg, enum kvfs_repair_phase ph, uint64_t ino,
			uint64_t blkno, const char *what, bool fixed);
	/* a notice that is not a problem ("log replayed", "log zeroed") */
	void (*notice)(void *arg, const char *what);
};

struct kvfs_repair_opts {
	bool dry_run; /* -n: write nothing */
	bool zap_log; /* -L: zero a log that cannot be replayed */
	/*
	 * -p: fix only what is safe without a human (counters, the unlinked
	 * lists, link counts, leaked blocks); anything else is left and
	 * counted in res->left.
	 */
	bool preen;
	const struct kvfs_repair_ops *ops;
	void *arg;
};

struct kvfs_repair_result {
	uint64_t found; /* problems found */
	uint64_t fixed; /* of which fixed */
	uint64_t left; /* of which left (dry run, preen, or unfixable) */
	bool log_replayed;
	bool log_zeroed;
	bool was_clean; /* the superblock said clean before the run */
};

/*
 * Check (and, unless dry_run, repair) the filesystem on path, which no
 * one else may have open (the caller holds the image lock).  Returns 0
 * when the check ran to its end (res says what it found and did),
 * -EUCLEAN when it had to stop (a log that cannot be replayed without
 * zap_log, no readable superblock at all), -ENODATA not kvfs, or another
 * negative errno (-ENOMEM, -EIO) when it could not run.
 */
int kvfs_repair(const char *path, const struct kvfs_repair_opts *o,
		struct kvfs_repair_result *res);

/*
 * The kvalloc budget (struct kv_config budget_bytes) a repair of dev may
 * need, called before kv_init(): the default arena, plus the block maps
 * of the repair and of its checker (a bit per block each: the whole
 * default arena at 8 TiB with 4 KiB blocks) at the smallest block size,
 * which the device's size bounds, plus a share per inode in use as the
 * primary superblock counts them (none when it does not verify).  The
 * arena is reserved, not filled: what is not allocated costs no memory.
 */
size_t kvfs_repair_budget(struct kv_dev *dev);

/*
 * Whether fsck may skip the filesystem on path without -f: its superblock
 * says clean (no unfinished repair either) and its log is clean.  Returns
 * 1 (the geometry, counters included, in g), 0 not clean, -ENODATA not
 * kvfs, or another negative errno (a damaged superblock: -EUCLEAN).
 */
int kvfs_repair_clean(const char *path, struct kvfs_geom *g);

/*
 * Phases 5-6 over a mount made after phase 4 (space consistent):
 * directories, connectivity, lost+found, link counts, xattrs, unlinked
 * lists.  Each fix is its own transaction.  In a dry run mp is read-only
 * and nothing is changed.  Counts go into res.
 */
int kvfs_repair_namespace(struct kvfs_mount *mp,
			  const struct kvfs_repair_opts *o,
			  struct kvfs_repair_result *res);

#endif
