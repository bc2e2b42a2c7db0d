// SPDX-License-Identifier: GPL-2.0
/*
 * Read-only metadata walks: generic B+tree traversal and the whole-
 * filesystem check.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/check/check.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/format/sb.h"

int kvfs_read_blocks(struct kv_dev *dev, const struct kvfs_geom *g,
		     uint64_t fsb, uint32_t count, void *buf)
{
	if (fsb >= g->dblocks || count > g->dblocks - fsb)
		return -ERANGE;
	return kv_dev_pread(dev, buf, (size_t)count << g->blocklog,
			    kvfs_fsb_to_bytes(g, fsb));
}

struct walk {
	struct kv_dev *dev;
	const struct kvfs_geom *g;
	const struct kvfs_btree_ops *ops;
	uint64_t owner;
	int (*rec_fn)(const void *rec, void *priv);
	void *priv;
	uint64_t nblocks;
	/* per level: the last block visited, to check sibling links */
	uint64_t last[KVFS_BTREE_MAXLEVELS];
	/* the last key seen in any leaf, for order across blocks */
	uint8_t prev_key[KVFS_BTREE_KEY_MAX];
	bool have_key;
	uint8_t *blk[KVFS_BTREE_MAXLEVELS];
};

static int walk_block(struct walk *w, uint64_t fsb, unsigned level)
{
	const struct kvfs_btree_ops *ops = w->ops;
	uint8_t *blk = w->blk[level], key[KVFS_BTREE_KEY_MAX];
	struct kvfs_btree_block *bb = (void *)blk;
	unsigned n;
	int ret;

	ret = kvfs_read_blocks(w->dev, w->g, fsb, 1, blk);
	if (ret)
		return ret;
	w->nblocks++;
	ret = kvfs_btree_verify_block(blk, w->g, ops, fsb, w->owner,
				      (int)level);
	if (ret)
		return ret;
	if (kv_le64_to_cpu(bb->leftsib) != w->last[level])
		return kvfs_corrupt(
			-EUCLEAN, fsb, ops->name,
			"left sibling %" PRIu64 ", expected %" PRIu64,
			(uint64_t)kv_le64_to_cpu(bb->leftsib), w->last[level]);
	w->last[level] = fsb;
	n = kv_le16_to_cpu(bb->numrecs);
	for (unsigned i = 0; i < n; i++) {
		if (level) {
			uint64_t child = kv_le64_to_cpu(
				*kvfs_btree_ptr(blk, ops, w->g->blocksize, i));

			ret = walk_block(w, child, level - 1);
		} else {
			const void *rec = kvfs_btree_rec(blk, ops, i);

			ops->rec_key(rec, key);
			if (w->have_key && ops->cmp_key(w->prev_key, key) >= 0)
				return kvfs_corrupt(-EUCLEAN, fsb, ops->name,
						    "record %u out of order "
						    "with the previous leaf",
						    i);
			memcpy(w->prev_key, key, ops->keysize);
			w->have_key = true;
			ret = w->rec_fn(rec, w->priv);
		}
		if (ret)
			return ret;
	}
	return 0;
}

int kvfs_btree_walk(struct kv_dev *dev, const struct kvfs_geom *g,
		    const struct kvfs_btree_ops *ops, uint64_t owner,
		    uint64_t root, unsigned level,
		    int (*rec_fn)(const void *rec, void *priv), void *priv,
		    uint64_t *nblocks)
{
	struct walk w = {
		.dev = dev,
		.g = g,
		.ops = ops,
		.owner = owner,
		.rec_fn = rec_fn,
		.priv = priv,
	};
	unsigned l;
	int ret = 0;

	if (level >= KVFS_BTREE_MAXLEVELS)
		return -EUCLEAN;
	for (l = 0; l <= level; l++) {
		w.last[l] = KVFS_NULLBLOCK;
		w.blk[l] = kvmalloc(g->blocksize, 0);
		if (!w.blk[l]) {
			ret = -ENOMEM;
			break;
		}
	}
	if (!ret)
		ret = walk_block(&w, root, level);
	/* the right edge of every level ends the sibling chain */
	for (l = 0; !ret && l <= level; l++) {
		struct kvfs_btree_block *bb = (void *)w.blk[l];

		if (kvfs_read_blocks(dev, g, w.last[l], 1, w.blk[l]) == 0 &&
		    kv_le64_to_cpu(bb->rightsib) != KVFS_NULLBLOCK)
			ret = kvfs_corrupt(
				-EUCLEAN, w.last[l], ops->name,
				"right sibling %" PRIu64
				" at the right edge of level %u",
				(uint64_t)kv_le64_to_cpu(bb->rightsib), l);
	}
	for (l = 0; l <= level; l++)
		kvfree(w.blk[l]);
	if (nblocks)
		*nblocks = w.nblocks;
	return ret;
}

/* Running state of the check. */
struct fscheck {
	struct kv_dev *dev;
	const struct kvfs_geom *g;
	struct kvfs_check_stats *st;
	uint32_t agno;
	/* free space summary of one tree */
	uint64_t free_sum, free_nr, free_longest, free_hash;
	/* inode summary of one AG */
	uint64_t icount, ifree;
	uint8_t *ibuf;
	int io_err;
};

static void count_err(struct fscheck *c, int err)
{
	if (err == -EBADMSG)
		c->st->crc_errors++;
	else if (err == -EUCLEAN)
		c->st->other_errors++;
	else if (err && !c->io_err)
		c->io_err = err;
}

static int free_rec(const void *rec, void *priv)
{
	const struct kvfs_alloc_rec *r = rec;
	struct fscheck *c = priv;
	uint64_t s = kv_le32_to_cpu(r->startblock);
	uint64_t l = kv_le32_to_cpu(r->blockcount);

	c->free_sum += l;
	c->free_nr++;
	if (l > c->free_longest)
		c->free_longest = l;
	/* order-independent fingerprint: both trees must hold one set */
	c->free_hash +=
		(s * 0x9e3779b97f4a7c15ULL) ^ (l * 0xc2b2ae3d27d4eb4fULL);
	return 0;
}

static int check_chunk(struct fscheck *c, const struct kvfs_inobt_rec *r)
{
	const struct kvfs_geom *g = c->g;
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint64_t mask = kv_le64_to_cpu(r->freemask);
	uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
	uint64_t ino0 = kvfs_agino_to_ino(g, c->agno, start);
	const struct kvfs_dinode *d = (const void *)c->ibuf;
	int ret;

	/* one inode at a time: the holes' blocks are not inodes */
	for (unsigned i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		uint64_t ino = ino0 + i;
		bool is_free;

		if (holes >> i & 1)
			continue;
		ret = kv_dev_pread(
			c->dev, c->ibuf, g->inodesize,
			kvfs_fsb_to_bytes(g, kvfs_ino_to_fsb(g, ino)) +
				kvfs_ino_to_offset(g, ino));
		if (ret)
			return ret;
		c->st->inodes++;
		is_free = !kv_le16_to_cpu(d->mode);
		ret = kvfs_dinode_verify(d, g, ino);
		if (!ret && is_free != !!(mask >> i & 1))
			ret = kvfs_corrupt(-EUCLEAN, kvfs_ino_to_fsb(g, ino),
					   "inode-chunk tree",
					   "inode %" PRIu64 " is %s but the "
					   "free mask says %s",
					   ino, is_free ? "free" : "in use",
					   is_free ? "in use" : "free");
		count_err(c, ret);
	}
	return 0;
}

static int ino_rec(const void *rec, void *priv)
{
	const struct kvfs_inobt_rec *r = rec;
	struct fscheck *c = priv;

	c->icount += r->count;
	c->ifree += r->freecount;
	return check_chunk(c, r);
}

static int sb_copy_check(struct fscheck *c, const struct kvfs_geom *copy)
{
	const struct kvfs_geom *g = c->g;
	uint64_t blkno = kvfs_agb_to_fsb(g, c->agno, KVFS_SB_AGBNO);

	if (copy->blocksize != g->blocksize || copy->dblocks != g->dblocks ||
	    copy->agblocks != g->agblocks || copy->agcount != g->agcount ||
	    copy->logstart != g->logstart || copy->logblocks != g->logblocks ||
	    copy->inodesize != g->inodesize || copy->rootino != g->rootino ||
	    copy->lpfino != g->lpfino ||
	    copy->feat_incompat != g->feat_incompat ||
	    copy->feat_ro_compat != g->feat_ro_compat ||
	    copy->feat_compat != g->feat_compat ||
	    copy->feat_log_incompat != g->feat_log_incompat ||
	    memcmp(copy->uuid, g->uuid, KVFS_UUID_SIZE) ||
	    strcmp(copy->label, g->label))
		return kvfs_corrupt(-EUCLEAN, blkno, "superblock copy",
				    "geometry differs from the primary");
	return 0;
}

static int tree_check(struct fscheck *c, const struct kvfs_btree_ops *ops,
		      uint32_t root, uint32_t level, uint64_t *nblocks)
{
	uint64_t n = 0;
	int ret;

	ret = kvfs_btree_walk(c->dev, c->g, ops, c->agno,
			      kvfs_agb_to_fsb(c->g, c->agno, root), level,
			      ops == &kvfs_inobt_ops ? ino_rec : free_rec, c,
			      &n);
	c->st->tree_blocks += n;
	if (nblocks)
		*nblocks = n;
	return ret;
}

/* The reserve list: every entry of the AGF's window names a block. */
static int check_agfl(struct fscheck *c, const struct kvfs_agf_info *a,
		      uint8_t *blk)
{
	const struct kvfs_geom *g = c->g;
	uint64_t blkno = kvfs_agb_to_fsb(g, c->agno, KVFS_AGFL_AGBNO);
	int ret;

	ret = kvfs_read_blocks(c->dev, g, blkno, 1, blk);
	if (ret)
		return ret;
	c->st->aghs++;
	ret = kvfs_agfl_verify(g, c->agno, blk);
	for (uint32_t i = 0; !ret && i < a->flcount; i++) {
		uint32_t slot = (a->flfirst + i) % g->agfl_size;

		if (kvfs_agfl_entry(blk, slot) == KVFS_NULLAGBLOCK)
			ret = kvfs_corrupt(-EUCLEAN, blkno, "AG reserve list",
					   "entry %u is in use but empty",
					   slot);
	}
	count_err(c, ret);
	return 0;
}

/* Free-space header, reserve list and both free-space trees of one AG. */
static int check_agf(struct fscheck *c, uint8_t *blk, uint64_t *fdblocks)
{
	const struct kvfs_geom *g = c->g;
	uint64_t agf_blkno = kvfs_agb_to_fsb(g, c->agno, KVFS_AGF_AGBNO);
	uint64_t sum, nr, longest, hash, bno_blocks = 0, cnt_blocks = 0;
	struct kvfs_agf_info a;
	int ret, bno_ret;

	ret = kvfs_read_blocks(c->dev, g, agf_blkno, 1, blk);
	if (ret)
		return ret;
	c->st->aghs++;
	ret = kvfs_agf_from_disk(g, c->agno, blk, &a);
	count_err(c, ret);
	if (ret)
		return 0; /* without a header its trees cannot be found */
	ret = check_agfl(c, &a, blk);
	if (ret)
		return ret;

	c->free_sum = c->free_nr = c->free_longest = c->free_hash = 0;
	bno_ret = tree_check(c, &kvfs_bnobt_ops, a.bno_root, a.bno_level,
			     &bno_blocks);
	count_err(c, bno_ret);
	if (!bno_ret &&
	    (c->free_sum != a.freeblks || c->free_nr != a.free_extents ||
	     c->free_longest != a.longest))
		count_err(c, kvfs_corrupt(-EUCLEAN, agf_blkno,
					  "AG free-space header",
					  "free counters (%u blocks, %u "
					  "extents, longest %u) do not match "
					  "the by-block tree (%" PRIu64
					  ", %" PRIu64 ", %" PRIu64 ")",
					  a.freeblks, a.free_extents, a.longest,
					  c->free_sum, c->free_nr,
					  c->free_longest));
	sum = c->free_sum, nr = c->free_nr, longest = c->free_longest;
	hash = c->free_hash;
	c->free_sum = c->free_nr = c->free_longest = c->free_hash = 0;
	ret = tree_check(c, &kvfs_cntbt_ops, a.cnt_root, a.cnt_level,
			 &cnt_blocks);
	count_err(c, ret);
	if (!ret && (c->free_sum != sum || c->free_nr != nr ||
		     c->free_longest != longest || c->free_hash != hash))
		count_err(c,
			  kvfs_corrupt(-EUCLEAN,
				       kvfs_agb_to_fsb(g, c->agno, a.cnt_root),
				       kvfs_cntbt_ops.name,
				       "holds other extents than the by-block "
				       "tree"));
	if (!ret && !bno_ret && bno_blocks + cnt_blocks != a.btreeblks)
		count_err(c,
			  kvfs_corrupt(-EUCLEAN, agf_blkno,
				       "AG free-space header",
				       "%u tree blocks, the trees have "
				       "%" PRIu64,
				       a.btreeblks, bno_blocks + cnt_blocks));
	*fdblocks += a.freeblks;
	return 0;
}

/* Inode header and inode-chunk tree (with every inode) of one AG. */
static int check_agi(struct fscheck *c, uint8_t *blk, uint64_t *icount,
		     uint64_t *ifree)
{
	const struct kvfs_geom *g = c->g;
	uint64_t agi_blkno = kvfs_agb_to_fsb(g, c->agno, KVFS_AGI_AGBNO);
	struct kvfs_agi_info a;
	int ret;

	ret = kvfs_read_blocks(c->dev, g, agi_blkno, 1, blk);
	if (ret)
		return ret;
	c->st->aghs++;
	ret = kvfs_agi_from_disk(g, c->agno, blk, &a);
	count_err(c, ret);
	if (ret)
		return 0;
	c->icount = c->ifree = 0;
	ret = tree_check(c, &kvfs_inobt_ops, a.ino_root, a.ino_level, NULL);
	count_err(c, ret);
	if (!ret && (c->icount != a.icount || c->ifree != a.ifree))
		count_err(c,
			  kvfs_corrupt(-EUCLEAN, agi_blkno, "AG inode header",
				       "inode counters (%u, %u free) do not "
				       "match the inode-chunk tree (%" PRIu64
				       ", %" PRIu64 " free)",
				       a.icount, a.ifree, c->icount, c->ifree));
	*icount += a.icount;
	*ifree += a.ifree;
	return 0;
}

static int check_ag(struct fscheck *c, uint8_t *blk, uint64_t *fdblocks,
		    uint64_t *icount, uint64_t *ifree)
{
	const struct kvfs_geom *g = c->g;
	struct kvfs_geom copy;
	int ret;

	ret = kvfs_read_blocks(c->dev, g, kvfs_agb_to_fsb(g, c->agno, 0), 1,
			       blk);
	if (ret)
		return ret;
	c->st->sbs++;
	ret = kvfs_sb_from_disk(blk, g->blocksize, c->agno, g->meta_uuid,
				&copy);
	if (!ret)
		ret = sb_copy_check(c, &copy);
	count_err(c, ret);
	ret = check_agf(c, blk, fdblocks);
	if (!ret)
		ret = check_agi(c, blk, icount, ifree);
	return ret;
}

/* The root directory and lost+found: allocated directories. */
static void check_dirs(struct fscheck *c)
{
	const struct kvfs_geom *g = c->g;
	uint64_t inos[2] = { g->rootino, g->lpfino };

	for (int i = 0; i < 2; i++) {
		uint64_t fsb = kvfs_ino_to_fsb(g, inos[i]);
		const struct kvfs_dinode *d = (const void *)c->ibuf;
		int ret;

		ret = kv_dev_pread(c->dev, c->ibuf, g->inodesize,
				   kvfs_fsb_to_bytes(g, fsb) +
					   kvfs_ino_to_offset(g, inos[i]));
		if (!ret)
			ret = kvfs_dinode_verify(c->ibuf, g, inos[i]);
		if (!ret && !S_ISDIR(kv_le16_to_cpu(d->mode)))
			ret = kvfs_corrupt(-EUCLEAN, fsb,
					   i ? "lost+found" : "root directory",
					   "inode %" PRIu64
					   " is not a directory",
					   inos[i]);
		count_err(c, ret);
	}
}

int kvfs_check_fs(struct kv_dev *dev, const struct kvfs_geom *g,
		  struct kvfs_check_stats *st)
{
	struct fscheck c = { .dev = dev, .g = g, .st = st };
	uint64_t fdblocks = 0, icount = 0, ifree = 0;
	uint8_t *blk;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	blk = kvmalloc(g->blocksize, 0);
	c.ibuf = kvmalloc(g->inodesize, 0);
	if (!blk || !c.ibuf) {
		ret = -ENOMEM;
		goto out;
	}
	for (c.agno = 0; c.agno < g->agcount && !ret; c.agno++)
		ret = check_ag(&c, blk, &fdblocks, &icount, &ifree);
	if (ret)
		goto out;
	check_dirs(&c);
	if (!st->crc_errors && !st->other_errors &&
	    !(g->state & KVFS_STATE_DIRTY) &&
	    (fdblocks != g->fdblocks || icount != g->icount ||
	     ifree != g->ifree))
		count_err(&c, kvfs_corrupt(-EUCLEAN, 0, "superblock of AG 0",
					   "summary counters (%" PRIu64
					   " free blocks, %" PRIu64
					   " inodes, %" PRIu64
					   " free) do not match the AGs "
					   "(%" PRIu64 ", %" PRIu64 ", %" PRIu64
					   ")",
					   g->fdblocks, g->icount, g->ifree,
					   fdblocks, icount, ifree));
	if (c.io_err)
		ret = c.io_err;
	else if (st->crc_errors)
		ret = -EBADMSG;
	else if (st->other_errors)
		ret = -EUCLEAN;
out:
	kvfree(c.ibuf);
	kvfree(blk);
	return ret;
}
