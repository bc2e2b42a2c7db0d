// SPDX-License-Identifier: GPL-2.0
/*
 * Generic B+tree block format: initialisation and the verifier shared by
 * every tree type.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"

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

/* Store what is wrong in why and return -EUCLEAN. */
static int __attribute__((format(printf, 3, 4)))
say(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

/* Everything after the common header: level, count, pointers, records. */
static int check_body(const void *blk, const struct kvfs_geom *g,
		      const struct kvfs_btree_ops *ops, uint64_t blkno,
		      uint64_t owner, int expect_level, char *why, size_t len)
{
	const struct kvfs_btree_block *bb = blk;
	unsigned level, numrecs, max;
	uint64_t sib[2];
	uint8_t prev[KVFS_BTREE_KEY_MAX], key[KVFS_BTREE_KEY_MAX];

	level = kv_le16_to_cpu(bb->level);
	numrecs = kv_le16_to_cpu(bb->numrecs);
	if (level >= KVFS_BTREE_MAXLEVELS ||
	    (expect_level >= 0 && level != (unsigned)expect_level))
		return say(why, len, "level %u, expected %d", level,
			   expect_level);
	max = kvfs_btree_maxrecs(ops, g->blocksize, level);
	if (numrecs > max)
		return say(why, len, "%u records, at most %u fit", numrecs,
			   max);
	if (kv_le32_to_cpu(bb->pad0))
		return say(why, len, "padding is not zero");
	sib[0] = kv_le64_to_cpu(bb->leftsib);
	sib[1] = kv_le64_to_cpu(bb->rightsib);
	for (int i = 0; i < 2; i++)
		if (sib[i] != KVFS_NULLBLOCK &&
		    (sib[i] == blkno || !ptr_ok(g, ops, owner, sib[i])))
			return say(why, len, "%s sibling %" PRIu64 " invalid",
				   i ? "right" : "left", sib[i]);
	for (unsigned i = 0; i < numrecs; i++) {
		void *b = (void *)blk;

		if (level == 0) {
			const void *rec = kvfs_btree_rec(b, ops, i);
			const char *bad = ops->check_rec(g, owner, rec);

			if (bad)
				return say(why, len, "record %u: %s", i, bad);
			ops->rec_key(rec, key);
		} else {
			uint64_t p = kv_le64_to_cpu(
				*kvfs_btree_ptr(b, ops, g->blocksize, i));

			if (!ptr_ok(g, ops, owner, p) || p == blkno)
				return say(why, len,
					   "child pointer %u (%" PRIu64
					   ") invalid",
					   i, p);
			memcpy(key, kvfs_btree_key(b, ops, i), ops->keysize);
		}
		if (i && ops->cmp_key(prev, key) >= 0)
			return say(why, len, "%s %u out of order",
				   level ? "key" : "record", i);
		if (i && !level && ops->check_next) {
			const char *bad =
				ops->check_next(kvfs_btree_rec(b, ops, i - 1),
						kvfs_btree_rec(b, ops, i));

			if (bad)
				return say(why, len, "record %u: %s", i, bad);
		}
		memcpy(prev, key, ops->keysize);
	}
	return 0;
}

int kvfs_btree_verify_block(const void *blk, const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *ops, uint64_t blkno,
			    uint64_t owner, int expect_level)
{
	char why[160];
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, ops->magic, blkno, owner,
				 g->meta_uuid, ops->name);
	if (ret)
		return ret;
	ret = check_body(blk, g, ops, blkno, owner, expect_level, why,
			 sizeof(why));
	if (ret)
		return kvfs_corrupt(ret, blkno, ops->name, "%s", why);
	return 0;
}

int kvfs_btree_check_block(const void *blk, const struct kvfs_geom *g,
			   const struct kvfs_btree_ops *ops, uint64_t blkno,
			   uint64_t owner, int expect_level, char *why,
			   size_t len)
{
	const struct kvfs_blk_hdr *h = blk;

	if (kv_le32_to_cpu(h->magic) != ops->magic)
		return say(why, len, "bad magic 0x%08x",
			   kv_le32_to_cpu(h->magic));
	if (kv_le64_to_cpu(h->blkno) != blkno)
		return say(why, len, "header names block %" PRIu64,
			   (uint64_t)kv_le64_to_cpu(h->blkno));
	if (kv_le64_to_cpu(h->owner) != owner)
		return say(why, len, "owner %" PRIu64 ", expected %" PRIu64,
			   (uint64_t)kv_le64_to_cpu(h->owner), owner);
	if (memcmp(h->uuid, g->meta_uuid, KVFS_UUID_SIZE))
		return say(why, len, "filesystem UUID does not match");
	return check_body(blk, g, ops, blkno, owner, expect_level, why, len);
}
