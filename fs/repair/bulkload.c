// SPDX-License-Identifier: GPL-2.0
/*
 * Bulk loading of an AG tree (xfs_repair's way of rebuilding one): the
 * records, already in key order, spread evenly over the leaves so that
 * every block holds at least the engine's minimum (fs/btree/btree.h), then one
 * level of nodes after another up to a single root; siblings linked.
 * Written through the buffer cache (the tree's buffer type computes the
 * crc at write-back), no transaction: nothing else has the image open.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/btree.h"
#include "fs/repair/priv.h"

/* Blocks of a tree of n records: leaves, then each level up to a root. */
uint32_t rp_bulkload_blocks(const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *fmt, size_t n)
{
	uint32_t max0 = kvfs_btree_maxrecs(fmt, g->blocksize, 0);
	uint32_t max1 = kvfs_btree_maxrecs(fmt, g->blocksize, 1);
	size_t cnt = n ? (n + max0 - 1) / max0 : 1, total = cnt;

	while (cnt > 1) {
		cnt = (cnt + max1 - 1) / max1;
		total += cnt;
	}
	return (uint32_t)total;
}

int rp_bulkload(struct rp *rp, uint32_t agno,
		const struct kvfs_btree_tree_ops *ops, const void *recs,
		size_t n, const uint64_t *blks, uint32_t *root, unsigned *level)
{
	const struct kvfs_geom *g = &rp->g;
	const struct kvfs_btree_ops *fmt = ops->fmt;
	size_t cnt = n ? (n + kvfs_btree_maxrecs(fmt, g->blocksize, 0) - 1) /
				     kvfs_btree_maxrecs(fmt, g->blocksize, 0) :
			 1;
	size_t below = n, k = 0;
	uint8_t *keys, *nkeys;
	uint64_t *ptrs;
	int err = 0;

	keys = kvmalloc(2 * cnt * KVFS_BTREE_KEY_MAX, 0);
	ptrs = kvmalloc(cnt * sizeof(*ptrs), 0);
	if (!keys || !ptrs) {
		err = -ENOMEM;
		goto out;
	}
	nkeys = keys + cnt * KVFS_BTREE_KEY_MAX;
	for (unsigned lvl = 0;; lvl++) {
		size_t done = 0;

		for (size_t i = 0; i < cnt; i++) {
			/* spread evenly: every block at least half full */
			size_t nr = below / cnt + (i < below % cnt);
			uint64_t fsb = blks[k++];
			struct kvfs_btree_block *bb;
			struct kv_buf *bp;

			err = kv_buf_get(rp->bc, fsb, 1, ops->buf_ops, &bp);
			if (err)
				goto out;
			kv_buf_lock(bp);
			bb = bp->b_addr;
			kvfs_btree_init_block(bb, g, fmt, fsb, agno, lvl,
					      (unsigned)nr);
			if (i)
				bb->leftsib = kv_cpu_to_le64(blks[k - 2]);
			if (i + 1 < cnt)
				bb->rightsib = kv_cpu_to_le64(blks[k]);
			for (size_t j = 0; j < nr; j++, done++) {
				if (!lvl) {
					memcpy(kvfs_btree_rec(bb, fmt, j),
					       (const uint8_t *)recs +
						       done * fmt->recsize,
					       fmt->recsize);
					continue;
				}
				memcpy(kvfs_btree_key(bb, fmt, j),
				       keys + done * KVFS_BTREE_KEY_MAX,
				       fmt->keysize);
				*kvfs_btree_ptr(bb, fmt, g->blocksize, j) =
					kv_cpu_to_le64(ptrs[done]);
			}
			/* the block's first key, for its parent */
			if (nr && !lvl)
				fmt->rec_key(kvfs_btree_rec(bb, fmt, 0),
					     nkeys + i * KVFS_BTREE_KEY_MAX);
			else if (nr)
				memcpy(nkeys + i * KVFS_BTREE_KEY_MAX,
				       kvfs_btree_key(bb, fmt, 0),
				       fmt->keysize);
			kv_buf_mark_dirty(bp);
			kv_buf_unlock(bp);
			kv_buf_rele(bp);
		}
		for (size_t i = 0; i < cnt; i++)
			ptrs[i] = blks[k - cnt + i];
		memcpy(keys, nkeys, cnt * KVFS_BTREE_KEY_MAX);
		if (cnt == 1) {
			*root = kvfs_fsb_to_agbno(g, blks[k - 1]);
			*level = lvl;
			break;
		}
		below = cnt;
		cnt = (cnt + kvfs_btree_maxrecs(fmt, g->blocksize, 1) - 1) /
		      kvfs_btree_maxrecs(fmt, g->blocksize, 1);
	}
out:
	kvfree(keys);
	kvfree(ptrs);
	return err;
}
