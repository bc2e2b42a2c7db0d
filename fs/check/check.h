/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Read-only walks over the metadata of a filesystem through the same
 * verifiers the daemon uses: B+tree traversal, and a whole-filesystem
 * check of every metadata block (kvfs-db check-crc; later fsck's first
 * pass).  Every problem is recorded via kvfs_corrupt() (the caller's
 * report sink sees each one).
 */
#ifndef KV_FS_CHECK_H
#define KV_FS_CHECK_H

#include <stdint.h>

#include "fs/btree/btblock.h"
#include "fs/format/geom.h"

struct kv_dev;

/* Read count blocks from fsb into buf (count * blocksize bytes). */
int kvfs_read_blocks(struct kv_dev *dev, const struct kvfs_geom *g,
		     uint64_t fsb, uint32_t count, void *buf);

/*
 * Visit every leaf record of the tree rooted at root (fsb) of height
 * level + 1 in key order, verifying every block on the way (levels, key
 * order across blocks, sibling links).  rec_fn returning non-zero stops
 * the walk with that value.  *nblocks (if not NULL) counts the blocks.
 */
int kvfs_btree_walk(struct kv_dev *dev, const struct kvfs_geom *g,
		    const struct kvfs_btree_ops *ops, uint64_t owner,
		    uint64_t root, unsigned level,
		    int (*rec_fn)(const void *rec, void *priv), void *priv,
		    uint64_t *nblocks);

struct kvfs_check_stats {
	/* aghs: AG header blocks (free-space, inode header, reserve list) */
	uint64_t sbs, aghs, tree_blocks, inodes;
	uint64_t crc_errors, other_errors;
};

/*
 * Verify every metadata block: the superblock copies (against the
 * primary g), AG headers and reserve lists, the free-space and inode trees
 * (against the AG counters and each other), every inode of every allocated
 * chunk (against the free masks), and the summary counters.  Continues past
 * errors.  Returns 0, -EBADMSG if any checksum failed, else -EUCLEAN if
 * anything else was wrong, or -errno on I/O errors.
 */
int kvfs_check_fs(struct kv_dev *dev, const struct kvfs_geom *g,
		  struct kvfs_check_stats *st);

#endif
