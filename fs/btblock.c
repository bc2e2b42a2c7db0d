// SPDX-License-Identifier: GPL-2.0
/*
 * Generic B+tree block format: initialisation and the verifier shared by
 * every tree type.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs/blkhdr.h"
#include "fs/btblock.h"

void kvfs_btree_init_block(void *blk, const struct kvfs_geom *g,
			   const struct kvfs_btree_ops *ops, uint64_t blkno,
			   uint64_t owner, unsigned level, unsigned numrecs)
{
	struct kvfs_btree_block *bb = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, ops->magic, blkno, owner, g->meta_uuid);
	bb->level = kv_cpu_to_le16((uint16_t)level);
	bb->numrecs = kv_cpu_to_le16((uint16_t)numrecs);
	bb->leftsib = kv_cpu_to_le64(KVFS_NULLBLOCK);
	bb->rightsib = kv_cpu_to_le64(KVFS_NULLBLOCK);
}

/* A sibling or child pointer: a block of this tree's AG (or the fs). */
static bool ptr_ok(const struct kvfs_geom *g, const struct kvfs_btree_ops *ops,
		   uint64_t owner, uint64_t fsb)
{
	uint32_t agbno;

	if (fsb >= g->dblocks)
		return false;
	if (!ops->ag_tree)
		return true;
	/* never one of the fixed AG headers */
	agbno = kvfs_fsb_to_agbno(g, fsb);
	return kvfs_fsb_to_agno(g, fsb) == owner && agbno >= KVFS_AG_HDR_BLOCKS;
}

int kvfs_btree_verify_block(const void *blk, const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *ops, uint64_t blkno,
			    uint64_t owner, int expect_level)
{
	const struct kvfs_btree_block *bb = blk;
	unsigned level, numrecs, max;
	uint64_t sib[2];
	uint8_t prev[KVFS_BTREE_KEY_MAX], key[KVFS_BTREE_KEY_MAX];
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, ops->magic, blkno, owner,
				 g->meta_uuid, ops->name);
	if (ret)
		return ret;
	level = kv_le16_to_cpu(bb->level);
	numrecs = kv_le16_to_cpu(bb->numrecs);
	if (level >= KVFS_BTREE_MAXLEVELS ||
	    (expect_level >= 0 && level != (unsigned)expect_level))
		return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
				    "level %u, expected %d", level,
				    expect_level);
	max = kvfs_btree_maxrecs(ops, g->blocksize, level);
	if (numrecs > max)
		return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
				    "%u records, at most %u fit", numrecs, max);
	if (kv_le32_to_cpu(bb->pad0))
		return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
				    "padding is not zero");
	sib[0] = kv_le64_to_cpu(bb->leftsib);
	sib[1] = kv_le64_to_cpu(bb->rightsib);
	for (int i = 0; i < 2; i++)
		if (sib[i] != KVFS_NULLBLOCK &&
		    (sib[i] == blkno || !ptr_ok(g, ops, owner, sib[i])))
			return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
					    "%s sibling %" PRIu64 " invalid",
					    i ? "right" : "left", sib[i]);
	for (unsigned i = 0; i < numrecs; i++) {
		void *b = (void *)blk;

		if (level == 0) {
			const void *rec = kvfs_btree_rec(b, ops, i);
			const char *why = ops->check_rec(g, owner, rec);

			if (why)
				return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
						    "record %u: %s", i, why);
			ops->rec_key(rec, key);
		} else {
			uint64_t p = kv_le64_to_cpu(
				*kvfs_btree_ptr(b, ops, g->blocksize, i));

			if (!ptr_ok(g, ops, owner, p) || p == blkno)
				return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
						    "child pointer %u (%" PRIu64
						    ") invalid",
						    i, p);
			memcpy(key, kvfs_btree_key(b, ops, i), ops->keysize);
		}
		if (i && ops->cmp_key(prev, key) >= 0)
			return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
					    "%s %u out of order",
					    level ? "key" : "record", i);
		if (i && !level && ops->check_next) {
			const char *why =
				ops->check_next(kvfs_btree_rec(b, ops, i - 1),
						kvfs_btree_rec(b, ops, i));

			if (why)
				return kvfs_corrupt(-EUCLEAN, blkno, ops->name,
						    "record %u: %s", i, why);
		}
		memcpy(prev, key, ops->keysize);
	}
	return 0;
}
