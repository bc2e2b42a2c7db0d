// SPDX-License-Identifier: GPL-2.0
/*
 * Bulk loading of a tree (xfs_repair's way of rebuilding one): the
 * records, already in key order, spread evenly over the leaves so that
 * every block holds at least the engine's minimum (fs/btree/btree.h), then
 * one level of nodes after another up to a single root (an AG tree), or up
 * to a level whose blocks an inode root can point to (an extent map: the
 * root written into the fork); siblings linked.
 * Written through the buffer cache (the tree's buffer type computes the
 * crc at write-back), no transaction: nothing else has the image open.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/btree.h"
#include "fs/repair/priv.h"

/*
 * Blocks of a tree of n records: leaves, then each level up to one block
 * (rootmax 0), or up to a level of at most rootmax blocks that an inode
 * root points to.
 */
static uint32_t nblocks(const struct kvfs_geom *g,
			const struct kvfs_btree_ops *fmt, size_t n,
			unsigned rootmax)
{
	uint32_t max0 = kvfs_btree_maxrecs(fmt, g->blocksize, 0);
	uint32_t max1 = kvfs_btree_maxrecs(fmt, g->blocksize, 1);
	size_t cnt = n ? (n + max0 - 1) / max0 : 1, total = cnt;

	while (cnt > (rootmax ? rootmax : 1)) {
		cnt = (cnt + max1 - 1) / max1;
		total += cnt;
	}
	return (uint32_t)total;
}

uint32_t rp_bulkload_blocks(const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *fmt, size_t n)
{
	return nblocks(g, fmt, n, 0);
}

uint32_t rp_bulkload_iroot_blocks(const struct kvfs_geom *g,
				  const struct kvfs_btree_ops *fmt, size_t n,
				  uint32_t forksize)
{
	return nblocks(g, fmt, n,
		       kvfs_btree_iroot_maxrecs(forksize, fmt->keysize));
}

/*
 * The levels of blocks of a tree owned by owner (an AG, an inode) holding
 * recs, up to one block (rootmax 0) or rootmax; the top level's first keys
 * (KVFS_BTREE_KEY_MAX apart) and blocks left in keys and ptrs (room for
 * the leaves' count), their number in *ntop, their level in *level.
 */
static int load(struct rp *rp, uint64_t owner,
		const struct kvfs_btree_tree_ops *ops, const void *recs,
		size_t n, const uint64_t *blks, unsigned rootmax, uint8_t *keys,
		uint64_t *ptrs, size_t *ntop, unsigned *level)
{
	const struct kvfs_geom *g = &rp->g;
	const struct kvfs_btree_ops *fmt = ops->fmt;
	size_t cnt = n ? (n + kvfs_btree_maxrecs(fmt, g->blocksize, 0) - 1) /
				     kvfs_btree_maxrecs(fmt, g->blocksize, 0) :
			 1;
	size_t below = n, k = 0;
	uint8_t *nkeys;
	int err = 0;

	nkeys = kvmalloc(cnt * KVFS_BTREE_KEY_MAX, 0);
	if (!nkeys)
		return -ENOMEM;
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
			kvfs_btree_init_block(bb, g, fmt, fsb, owner, lvl,
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
		if (cnt <= (rootmax ? rootmax : 1)) {
			*ntop = cnt;
			*level = lvl;
			break;
		}
		below = cnt;
		cnt = (cnt + kvfs_btree_maxrecs(fmt, g->blocksize, 1) - 1) /
		      kvfs_btree_maxrecs(fmt, g->blocksize, 1);
	}
out:
	kvfree(nkeys);
	return err;
}

/* Room for the first keys and blocks of the leaves of n records. */
static int top_alloc(const struct kvfs_geom *g,
		     const struct kvfs_btree_ops *fmt, size_t n, uint8_t **keys,
		     uint64_t **ptrs)
{
	uint32_t max0 = kvfs_btree_maxrecs(fmt, g->blocksize, 0);
	size_t cnt = n ? (n + max0 - 1) / max0 : 1;

	*keys = kvmalloc(cnt * KVFS_BTREE_KEY_MAX, 0);
	*ptrs = kvmalloc(cnt * sizeof(**ptrs), 0);
	if (*keys && *ptrs)
		return 0;
	kvfree(*keys);
	kvfree(*ptrs);
	return -ENOMEM;
}

int rp_bulkload(struct rp *rp, uint32_t agno,
		const struct kvfs_btree_tree_ops *ops, const void *recs,
		size_t n, const uint64_t *blks, uint32_t *root, unsigned *level)
{
	uint8_t *keys;
	uint64_t *ptrs;
	size_t ntop;
	int err;

	err = top_alloc(&rp->g, ops->fmt, n, &keys, &ptrs);
	if (err)
		return err;
	err = load(rp, agno, ops, recs, n, blks, 0, keys, ptrs, &ntop, level);
	if (!err)
		*root = kvfs_fsb_to_agbno(&rp->g, ptrs[0]);
	kvfree(keys);
	kvfree(ptrs);
	return err;
}

int rp_bulkload_iroot(struct rp *rp, uint64_t ino,
		      const struct kvfs_btree_tree_ops *ops, const void *recs,
		      size_t n, const uint64_t *blks, uint8_t *fork,
		      uint32_t forksize)
{
	const struct kvfs_btree_ops *fmt = ops->fmt;
	unsigned max = kvfs_btree_iroot_maxrecs(forksize, fmt->keysize), lvl;
	struct kvfs_bmdr_block *h = (struct kvfs_bmdr_block *)fork;
	uint8_t *keys;
	uint64_t *ptrs;
	size_t ntop;
	int err;

	err = top_alloc(&rp->g, fmt, n, &keys, &ptrs);
	if (err)
		return err;
	err = load(rp, ino, ops, recs, n, blks, max, keys, ptrs, &ntop, &lvl);
	if (!err) {
		kv_le64 *p = (kv_le64 *)(fork + KVFS_BMDR_HDR_SIZE +
					 (size_t)max * fmt->keysize);

		memset(fork, 0, forksize);
		h->level = kv_cpu_to_le16((uint16_t)(lvl + 1));
		h->numrecs = kv_cpu_to_le16((uint16_t)ntop);
		for (size_t i = 0; i < ntop; i++) {
			memcpy(fork + KVFS_BMDR_HDR_SIZE + i * fmt->keysize,
			       keys + i * KVFS_BTREE_KEY_MAX, fmt->keysize);
			p[i] = kv_cpu_to_le64(ptrs[i]);
		}
	}
	kvfree(keys);
	kvfree(ptrs);
	return err;
}
