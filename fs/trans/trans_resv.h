/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Transaction reservations (XFS's xfs_trans_resv.c): the one answer to "how
 * much can this operation need", computed once per mount from the geometry.
 * Each kind of operation gets its worst-case log bytes per commit, the
 * number of rolls it reserves up front and the worst-case blocks it may
 * allocate (tree splits included; the caller adds the blocks it asks for,
 * such as a data extent's length).
 *
 * The worst case is counted in whole-block buffer deltas (a split rewrites
 * whole blocks): kvfs_resv_buf_bytes() is what one buffer of a given
 * length costs in a checkpoint in the format of fs/io/buf_item.h, and a logged
 * inode costs a delta of inodesize bytes (its chunks in the cluster
 * buffer).  Tree heights are those of half-full trees holding the most
 * records the geometry allows, as XFS computes its maxlevels.
 *
 * Every reservation, with its rolls, must fit a quarter of the log, or an
 * operation could wait forever for log space the tail cannot free:
 * kvfs_trans_resv_check() refuses such a geometry at mount.
 */
#ifndef KV_FS_TRANS_RESV_H
#define KV_FS_TRANS_RESV_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

/* One kind of operation's reservation (XFS's xfs_trans_res + blocks). */
struct kvfs_trans_res {
	uint32_t log_bytes; /* log bytes of one commit */
	unsigned log_count; /* rolls reserved up front */
	uint64_t blocks; /* blocks it may allocate, tree splits included */
};

/* The reservations of struct kvfs_trans_resv (kvfs_trans_res_name()) */
#define KVFS_RESV_NR 14

/*
 * Debug builds (KV_DEBUG): what the transactions of one kind took of their
 * reservation (fs/trans/trans.c), to see how close to it they come.
 */
struct kvfs_resv_peak {
	_Atomic uint64_t n; /* transactions */
	_Atomic uint64_t most_used; /* most blocks one of them took */
	_Atomic uint64_t least_left; /* fewest blocks one had left */
};

struct kvfs_trans_resv {
	/* tree heights the reservations are computed from */
	uint32_t alloc_maxlevels; /* each free-space tree */
	uint32_t inobt_maxlevels; /* inode-chunk tree */
	uint32_t bmap_maxlevels; /* extent map, root in the inode included */
	/* an attribute fork's extent map (at most KVFS_ATTR_MAX_BYTES) */
	uint32_t attr_maxlevels;
	/* log bytes of building blocks */
	uint32_t buf_bytes; /* one whole block */
	uint32_t inode_bytes; /* one inode */
	/*
	 * Allocate one extent into a file: the inode, the extent map split at
	 * every level, the AG's free-space header and reserve list, both
	 * free-space trees split at every level for the extent and for the
	 * map's new blocks (reserve-list refills included).
	 */
	struct kvfs_trans_res write;
	/*
	 * Unmap one extent of a file and queue its free: the inode, the map
	 * split at every level (a punch splits a record), the map blocks it
	 * frees, the intent of the deferred free.
	 */
	struct kvfs_trans_res itruncate;
	/*
	 * The deferred free of one extent (kvfs_defer finish step): AG
	 * headers, both free-space trees, the done and a relogged intent.
	 */
	struct kvfs_trans_res extent_free;
	/*
	 * Create an unnamed file: an inode chunk allocated and initialised,
	 * the inode-chunk tree split at every level, the inode header, the
	 * new inode.
	 */
	struct kvfs_trans_res create;
	/* Change an inode's core (setattr, timestamps, size). */
	struct kvfs_trans_res ichange;
	uint32_t dir_maxlevels; /* a directory's hash index (fs/ns/dir.h) */
	/*
	 * Put an inode on or take it off its AG's unlinked list (the inode
	 * header, the inode and its predecessor on the list): what a link
	 * count reaching or leaving 0 adds to an operation (fs/inode/iunlink.h).
	 */
	struct kvfs_trans_res iunlink;
	/*
	 * Free an inode with no links (fs/inode/inactive.h): off its unlinked list
	 * and its chunk record marked free (the inode-chunk tree at every
	 * level).
	 */
	struct kvfs_trans_res ifree;
	/*
	 * Set or remove an extended attribute (fs/ns/attr.h): the inode, three
	 * attribute blocks, a largest value's remote blocks, two
	 * allocations and the intents of three frees; the caller adds the
	 * blocks to allocate.
	 */
	struct kvfs_trans_res attrset;
	/*
	 * Store a symbolic link's target in a new inode (fs/ns/symlink.h):
	 * the create reservation, the target's blocks and one allocation.
	 */
	struct kvfs_trans_res symlink;
	/*
	 * Namespace operations (fs/ns/dir.h, fs/ns/namei.c): one directory entry
	 * added, removed or replaced (link, unlink, rmdir; a directory's
	 * blocks added or freed, short form to blocks and back);
	 * create_name: a new inode and its entry (create, mknod, mkdir,
	 * symlink); rename: two directories changed, a whiteout created.
	 */
	struct kvfs_trans_res dirop;
	/*
	 * unlink, rmdir: dirop and, for the last link of an inode nobody
	 * holds, its freeing (ifree) in the same transaction.
	 */
	struct kvfs_trans_res remove;
	struct kvfs_trans_res create_name;
	/*
	 * symlink(2): create_name and the target's blocks (symlink) in one
	 * transaction; the caller adds kvfs_symlink_blocks() of the target.
	 */
	struct kvfs_trans_res symlink_name;
	struct kvfs_trans_res rename;
	/* by kind (kvfs_trans_res_name()), and one for the rest */
	struct kvfs_resv_peak peak[KVFS_RESV_NR + 1];
};

/*
 * Log bytes of one item delta of len bytes in a checkpoint (its header,
 * padding and share of record headers: the journal's charge).
 */
uint32_t kvfs_resv_item_bytes(uint32_t len);
/* Log bytes of a delta logging every byte of a buffer of len bytes. */
uint32_t kvfs_resv_buf_bytes(uint32_t len);
/* Log bytes of an intent with a payload of len bytes, and of a done. */
uint32_t kvfs_resv_intent_bytes(uint32_t len);
uint32_t kvfs_resv_done_bytes(void);

/* Height limits of the trees of geometry g. */
uint32_t kvfs_inobt_maxlevels(const struct kvfs_geom *g);
uint32_t kvfs_bmap_maxlevels(const struct kvfs_geom *g);
uint32_t kvfs_attr_maxlevels(const struct kvfs_geom *g);
uint32_t kvfs_dir_maxlevels(const struct kvfs_geom *g);

void kvfs_trans_resv_compute(const struct kvfs_geom *g,
			     struct kvfs_trans_resv *r);
/*
 * Kind i (0 .. KVFS_RESV_NR - 1) of r: its name and reservation; the name
 * of KVFS_RESV_NR is "other".
 */
const char *kvfs_trans_res_name(unsigned i);
const struct kvfs_trans_res *kvfs_trans_res_at(const struct kvfs_trans_resv *r,
					       unsigned i);
/*
 * The kind of r whose log bytes and rolls are these (a transaction sized
 * from it; the blocks vary with the caller's), else KVFS_RESV_NR.
 */
unsigned kvfs_trans_res_kind(const struct kvfs_trans_resv *r,
			     uint32_t log_bytes, unsigned log_count);
/*
 * Debug builds: one line per kind that ran, "NAME: N trans, reserved B,
 * most used U, least left L", into buf (truncated to len); returns the
 * length it wanted (as snprintf).
 */
int kvfs_trans_resv_peaks(struct kvfs_trans_resv *r, char *buf, size_t len);

/* Log bytes res takes from the log when allocated: every unit it holds. */
uint64_t kvfs_trans_res_grant(const struct kvfs_trans_res *res);
/* The largest grant of any reservation of r. */
uint64_t kvfs_trans_resv_max_grant(const struct kvfs_trans_resv *r);
/*
 * The smallest log geometry g may have: KVFS_LOG_MIN_BYTES, or four times
 * the largest grant (mkfs enforces it, as XFS's minimum log size).
 */
uint64_t kvfs_trans_resv_min_log_bytes(const struct kvfs_geom *g);
/*
 * 0 if every reservation fits a quarter of a log of log_bytes; else
 * -ENOSPC with the operation and the sizes in err.
 */
int kvfs_trans_resv_check(const struct kvfs_trans_resv *r, uint64_t log_bytes,
			  char *err, size_t errlen);

#endif
