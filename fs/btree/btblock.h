/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Generic B+tree blocks (struct kvfs_btree_block): one header and one
 * verifier for every tree, with a small ops table per tree type giving the
 * record/key sizes, the record check and the ordering.  The tree engine
 * proper (lookup, insert, split) builds on the same ops.
 */
#ifndef KV_FS_BTBLOCK_H
#define KV_FS_BTBLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kvfs_btree_ops {
	const char *name; /* "free-space by-block tree" */
	uint32_t magic;
	uint32_t recsize;
	uint32_t keysize;
	/* owner is an AG number and every block of the tree lies in that AG */
	bool ag_tree;
	/* key of a record (keysize bytes) */
	void (*rec_key)(const void *rec, void *key);
	/*
	 * <0, 0, >0: keys must be strictly increasing along a level.  Either
	 * argument may be a leaf record in place of its key: every record
	 * begins with the fields its key compares, at the same offsets (each
	 * tree type asserts it), so a search compares records where they lie
	 * instead of copying each probe's key out first.
	 */
	int (*cmp_key)(const void *a, const void *b);
	/*
	 * Check one record of a tree owned by owner; return NULL or a static
	 * description of what is wrong.
	 */
	const char *(*check_rec)(const struct kvfs_geom *g, uint64_t owner,
				 const void *rec);
	/* optional: check a record against its left neighbour (overlaps) */
	const char *(*check_next)(const void *prev, const void *rec);
};

/* Largest key of any tree type (the verifier's scratch space). */
#define KVFS_BTREE_KEY_MAX 32

extern const struct kvfs_btree_ops kvfs_bnobt_ops;
extern const struct kvfs_btree_ops kvfs_cntbt_ops;
extern const struct kvfs_btree_ops kvfs_inobt_ops;
extern const struct kvfs_btree_ops kvfs_bmbt_ops;

/*
 * Inodes of an inode-chunk record's holes: bit i set when inode startino
 * + i is a hole (the record's 16-bit hole mask widened, 4 inodes a bit).
 */
uint64_t kvfs_inobt_holes(uint16_t holemask);

/* Records per leaf / keys per node of a block of blocksize bytes. */
static inline uint32_t kvfs_btree_maxrecs(const struct kvfs_btree_ops *ops,
					  uint32_t blocksize, unsigned level)
{
	uint32_t room = blocksize - KVFS_BTREE_HDR_SIZE;

	return level ? room / (ops->keysize + 8) : room / ops->recsize;
}

static inline void *kvfs_btree_rec(void *blk, const struct kvfs_btree_ops *ops,
				   unsigned i)
{
	return (uint8_t *)blk + KVFS_BTREE_HDR_SIZE + (size_t)i * ops->recsize;
}

static inline void *kvfs_btree_key(void *blk, const struct kvfs_btree_ops *ops,
				   unsigned i)
{
	return (uint8_t *)blk + KVFS_BTREE_HDR_SIZE + (size_t)i * ops->keysize;
}

static inline kv_le64 *kvfs_btree_ptr(void *blk,
				      const struct kvfs_btree_ops *ops,
				      uint32_t blocksize, unsigned i)
{
	return (kv_le64 *)((uint8_t *)blk + KVFS_BTREE_HDR_SIZE +
			   (size_t)kvfs_btree_maxrecs(ops, blocksize, 1) *
				   ops->keysize) +
	       i;
}

/* Start an empty block of a tree (records are filled in by the caller). */
void kvfs_btree_init_block(void *blk, const struct kvfs_geom *g,
			   const struct kvfs_btree_ops *ops, uint64_t blkno,
			   uint64_t owner, unsigned level, unsigned numrecs);

/*
 * Verify a block: header, level (expect_level < 0: any), numrecs, sibling
 * and child pointers, each record (leaves), and key order.  -EBADMSG /
 * -EUCLEAN, reported via kvfs_corrupt().
 */
int kvfs_btree_verify_block(const void *blk, const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *ops, uint64_t blkno,
			    uint64_t owner, int expect_level);

/*
 * The same checks but the crc (set only at write-back, so a cached block
 * changed since has none), without reporting: 0, or -EUCLEAN with what is
 * wrong in why (len bytes).  For structure walks that collect findings.
 */
int kvfs_btree_check_block(const void *blk, const struct kvfs_geom *g,
			   const struct kvfs_btree_ops *ops, uint64_t blkno,
			   uint64_t owner, int expect_level, char *why,
			   size_t len);

#endif
