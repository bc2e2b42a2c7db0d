// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 3, the AG headers: every AG's free-space header, reserve list and
 * inode header verified, both free-space trees and the inode-chunk tree
 * walked (the engine's structure walk, fs/btree/btree.h), what they hold kept
 * for phases 4 and 7.  The fixed blocks (superblock copies, AG headers,
 * the log) and the inode-chunk tree's blocks are the first claims of the
 * ownership map.  Nothing is written here: a damaged free-space side is
 * rebuilt in phase 7; an AG whose inode header or inode-chunk tree is
 * damaged keeps its space as it is (its inode chunks are unknown).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/repair/priv.h"

struct walk_ctx {
	struct rp *rp;
	struct rp_ag *a;
	uint32_t agno;
	int which; /* 0 by-block, 1 by-size, 2 inode chunks */
};

static int blk_fn(uint64_t fsb, unsigned level, void *priv)
{
	struct walk_ctx *w = priv;
	struct rp_ag *a = w->a;
	int err;

	if (w->which == 2) {
		/* the inode-chunk tree's blocks: owned before any inode's */
		err = kvfs_repair_bmap_claim(&w->rp->map, fsb, 1,
					     KVFS_OWN_INOBT, w->agno);
		if (!err && !level) {
			err = kvgrow((void **)&a->inoleaf, &a->ninoleaf_cap,
				     a->ninoleaf, sizeof(*a->inoleaf), 0);
			if (err)
				return err;
			a->inoleaf[a->ninoleaf++] = fsb;
		}
		return err;
	}
	err = kvgrow((void **)&a->fsbt, &a->fsbt_cap, a->nfsbt,
		     sizeof(*a->fsbt), 0);
	if (err)
		return err;
	a->fsbt[a->nfsbt++] = fsb;
	return 0;
}

static int rec_fn(const void *rec, void *priv)
{
	struct walk_ctx *w = priv;
	struct rp_ag *a = w->a;
	int err;

	switch (w->which) {
	case 0:
		err = kvgrow((void **)&a->bno, &a->bno_cap, a->nbno,
			     sizeof(*a->bno), 0);
		if (!err)
			a->bno[a->nbno++] = *(const struct kvfs_alloc_rec *)rec;
		return err;
	case 1:
		err = kvgrow((void **)&a->cnt, &a->cnt_cap, a->ncnt,
			     sizeof(*a->cnt), 0);
		if (!err)
			a->cnt[a->ncnt++] = *(const struct kvfs_alloc_rec *)rec;
		return err;
	default:
		err = kvgrow((void **)&a->chunks, &a->chunks_cap, a->nchunks,
			     sizeof(*a->chunks), 0);
		if (!err)
			a->chunks[a->nchunks++] =
				*(const struct kvfs_inobt_rec *)rec;
		return err;
	}
}

/*
 * Walk one AG tree: 0 clean, 1 damaged (the first finding in why), or a
 * negative errno.
 */
static int walk(struct walk_ctx *w, const struct kvfs_btree_tree_ops *ops,
		struct kv_buf *agf_bp, struct kv_buf *agi_bp, char *why,
		size_t len)
{
	struct kvfs_btree_ag ag = { .agno = w->agno,
				    .agf_bp = agf_bp,
				    .agi_bp = agi_bp };
	struct kvfs_btree_walk *bw;
	struct kvfs_btree_cur cur;
	int err;

	bw = kvzalloc(sizeof(*bw), 0);
	if (!bw)
		return -ENOMEM;
	bw->rec_fn = rec_fn;
	bw->blk_fn = blk_fn;
	bw->priv = w;
	kvfs_btree_cur_init(&cur, ops, &w->rp->g, NULL, NULL, w->agno, &ag);
	err = kvfs_btree_walk_check(&cur, w->rp->bc, bw);
	if (err == -EUCLEAN) {
		snprintf(why, len, "block %" PRIu64 ": %s",
			 bw->findings[0].blkno, bw->findings[0].what);
		err = 1;
	}
	kvfree(bw);
	return err;
}

/* Read one header block: 0, 1 damaged (why set), or a negative errno. */
static int read_hdr(struct rp *rp, uint32_t agno, uint32_t agbno,
		    const struct kv_buf_ops *ops, struct kv_buf **bpp,
		    char *why, size_t len)
{
	int err = kv_buf_read(rp->bc, kvfs_agb_to_fsb(&rp->g, agno, agbno), 1,
			      ops, bpp);

	if (err == -EUCLEAN || err == -EBADMSG) {
		snprintf(why, len, "%s", kv_buf_last_error());
		*bpp = NULL;
		return 1;
	}
	return err;
}

/*
 * One free-space tree of AG w->agno (w->which: 0 by-block, 1 by-size),
 * header agf_bp: *ok, or a problem said (rebuilt from the ownership map).
 * 0, or a negative errno.
 */
static int free_tree(struct walk_ctx *w, struct kv_buf *agf_bp, uint32_t root,
		     const char *name, bool *ok)
{
	const struct kvfs_btree_tree_ops *ops =
		w->which ? &kvfs_cntbt_tree_ops : &kvfs_bnobt_tree_ops;
	char why[256];
	int err = walk(w, ops, agf_bp, NULL, why, sizeof(why));

	if (err < 0)
		return err;
	*ok = !err;
	if (err)
		w->a->fs_nofix |= !rp_problem_y(
			w->rp, false, KVFS_NULLINO,
			kvfs_agb_to_fsb(&w->rp->g, w->agno, root),
			"free-space %s tree of AG %u damaged (%s): "
			"rebuilt from the ownership map",
			name, w->agno, why);
	return 0;
}

static int free_side(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	uint64_t agf_fsb = kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGF_AGBNO);
	struct walk_ctx w = { .rp = rp, .a = a, .agno = agno };
	struct kv_buf *bp, *lbp;
	char why[256];
	int err;

	err = read_hdr(rp, agno, KVFS_AGF_AGBNO, &kvfs_agf_buf_ops, &bp, why,
		       sizeof(why));
	if (!err) {
		err = kvfs_agf_from_disk(&rp->g, agno, bp->b_addr, &a->agf);
		if (err) {
			snprintf(why, sizeof(why), "%s",
				 kvfs_report_last()->msg);
			kv_buf_rele(bp);
			err = 1;
		}
	}
	if (err < 0)
		return err;
	if (err) {
		a->fs_nofix |=
			!rp_problem_y(rp, false, KVFS_NULLINO, agf_fsb,
				      "free-space header of AG %u damaged "
				      "(%s): rebuilt from the ownership map",
				      agno, why);
		return 0;
	}
	a->agf_ok = true;
	err = read_hdr(rp, agno, KVFS_AGFL_AGBNO, &kvfs_agfl_buf_ops, &lbp, why,
		       sizeof(why));
	if (err < 0)
		goto out;
	a->agfl_ok = !err;
	for (uint32_t i = 0; a->agfl_ok && i < a->agf.flcount; i++) {
		uint32_t b = kvfs_agfl_entry(
			lbp->b_addr, (a->agf.flfirst + i) % rp->g.agfl_size);

		if (b < KVFS_AG_HDR_BLOCKS || b >= a->agf.length) {
			snprintf(why, sizeof(why),
				 "entry %u holds block %u, not one of the AG",
				 i, b);
			a->agfl_ok = false;
			break;
		}
		err = kvgrow((void **)&a->agfl, &a->agfl_cap, a->nagfl,
			     sizeof(*a->agfl), 0);
		if (err)
			goto out;
		a->agfl[a->nagfl++] = b;
	}
	if (lbp)
		kv_buf_rele(lbp);
	lbp = NULL;
	if (!a->agfl_ok)
		a->fs_nofix |= !rp_problem_y(
			rp, true, KVFS_NULLINO,
			kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGFL_AGBNO),
			"reserve list of AG %u damaged (%s): "
			"rebuilt",
			agno, why);
	w.which = 0;
	err = free_tree(&w, bp, a->agf.bno_root, "by-block", &a->bno_ok);
	if (err < 0)
		goto out;
	w.which = 1;
	err = free_tree(&w, bp, a->agf.cnt_root, "by-size", &a->cnt_ok);
out:
	if (lbp)
		kv_buf_rele(lbp);
	kv_buf_rele(bp);
	return err;
}

/* The AG's inode header, fresh: the tree's root is found below. */
static void agi_fresh(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	a->agi = (struct kvfs_agi_info){
		.agno = agno,
		.length = kvfs_ag_length(&rp->g, agno),
		.newino = KVFS_NULLAGINO,
	};
	for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++)
		a->agi.unlinked[b] = KVFS_NULLAGINO;
	a->agi_rewrite = true;
}

/* Whether a chunk record of the AG holds inode agino (not a hole). */
static bool has_inode(const struct rp_ag *a, uint32_t agino)
{
	for (size_t k = 0; k < a->nchunks; k++) {
		uint32_t start = kv_le32_to_cpu(a->chunks[k].startino);
		uint64_t holes;

		if (agino < start || agino - start >= KVFS_INODES_PER_CHUNK)
			continue;
		holes = kvfs_inobt_holes(kv_le16_to_cpu(a->chunks[k].holemask));
		return !(holes >> (agino - start) & 1);
	}
	return false;
}

static int inode_side(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	uint64_t agi_fsb = kvfs_agb_to_fsb(&rp->g, agno, KVFS_AGI_AGBNO);
	struct walk_ctx w = { .rp = rp, .a = a, .agno = agno, .which = 2 };
	size_t nclaims = rp->map.nclaims;
	const struct kvfs_agi *raw;
	struct kv_buf *bp;
	char why[256];
	int err;

	err = read_hdr(rp, agno, KVFS_AGI_AGBNO, &kvfs_agi_buf_ops, &bp, why,
		       sizeof(why));
	if (!err) {
		err = kvfs_agi_from_disk(&rp->g, agno, bp->b_addr, &a->agi);
		if (err) {
			snprintf(why, sizeof(why), "%s",
				 kvfs_report_last()->msg);
			kv_buf_rele(bp);
			err = 1;
		}
	}
	if (err < 0)
		return err;
	if (err) {
		a->ino_nofix |=
			!rp_problem_y(rp, false, KVFS_NULLINO, agi_fsb,
				      "inode header of AG %u damaged (%s): "
				      "rebuilt",
				      agno, why);
		agi_fresh(rp, agno, a);
		/* its root may still lead to a sound tree */
		err = kv_buf_read(rp->bc, agi_fsb, 1, NULL, &bp);
		if (err)
			return err;
		raw = bp->b_addr;
		a->agi.ino_root = kv_le32_to_cpu(raw->ino_root);
		a->agi.ino_level = raw->ino_level;
		if (a->agi.ino_root < KVFS_AG_HDR_BLOCKS ||
		    a->agi.ino_root >= a->agi.length ||
		    a->agi.ino_level >= KVFS_BTREE_MAXLEVELS) {
			kv_buf_rele(bp);
			snprintf(why, sizeof(why), "its root is lost");
			goto scan;
		}
	}
	a->agi_ok = !a->agi_rewrite;
	err = walk(&w, &kvfs_inobt_tree_ops, NULL, bp, why, sizeof(why));
	kv_buf_rele(bp);
	if (err < 0)
		return err;
	/*
	 * A tree that lost records (a leaf's count zeroed, crc right) walks
	 * clean: the header's inode count, when it could be read, says so,
	 * and a scan finds the chunks again rather than every inode and
	 * block of the lost ones being freed.
	 */
	if (!err && a->agi_ok) {
		uint64_t n = 0;

		for (size_t k = 0; k < a->nchunks; k++)
			n += KVFS_INODES_PER_CHUNK -
			     (unsigned)__builtin_popcountll(kvfs_inobt_holes(
				     kv_le16_to_cpu(a->chunks[k].holemask)));
		if (n != a->agi.icount) {
			snprintf(why, sizeof(why),
				 "it holds %" PRIu64 " inodes, the inode "
				 "header counts %u",
				 n, a->agi.icount);
			err = 1;
		}
	}
	/*
	 * The root's chunk missing from a tree that walks clean, its count
	 * agreeing (xfs_repair's "root inode chunk not found"): a scan finds
	 * it again, not the root made anew and every file cut from it.
	 */
	if (!err && agno == kvfs_ino_to_agno(&rp->g, rp->g.rootino) &&
	    !has_inode(a, kvfs_ino_to_agino(&rp->g, rp->g.rootino))) {
		snprintf(why, sizeof(why),
			 "no chunk holds the root inode %" PRIu64,
			 rp->g.rootino);
		err = 1;
	}
	if (!err) {
		a->ino_ok = true;
		return 0;
	}
scan:
	/* the blocks the walk reached are free unless a chunk says not */
	kvfs_repair_bmap_rollback(&rp->map, nclaims);
	a->nchunks = 0;
	a->ninoleaf = 0;
	a->ino_nofix |=
		!rp_problem_y(rp, false, KVFS_NULLINO,
			      kvfs_agb_to_fsb(&rp->g, agno, a->agi.ino_root),
			      "inode-chunk tree of AG %u damaged (%s): rebuilt "
			      "from a scan of the AG's inode blocks",
			      agno, why);
	err = rp_inobt_scan(rp, agno, a);
	if (err)
		return err;
	a->inobt_rebuild = true;
	a->ino_ok = true;
	return 0;
}

int rp_phase_ag(struct rp *rp)
{
	const struct kvfs_geom *g = &rp->g;
	int err;

	err = kvfs_repair_bmap_claim(&rp->map, g->logstart, g->logblocks,
				     KVFS_OWN_LOG, 0);
	for (uint32_t agno = 0; agno < g->agcount && !err; agno++) {
		struct rp_ag *a = &rp->ags[agno];

		rp_progress(rp, agno, g->agcount);
		err = kvfs_repair_bmap_claim(&rp->map,
					     kvfs_agb_to_fsb(g, agno, 0), 1,
					     KVFS_OWN_SB, agno);
		if (!err)
			err = kvfs_repair_bmap_claim(
				&rp->map, kvfs_agb_to_fsb(g, agno, 1),
				KVFS_AG_HDR_BLOCKS - 1, KVFS_OWN_AG_HEADER,
				agno);
		if (!err)
			err = free_side(rp, agno, a);
		if (!err)
			err = inode_side(rp, agno, a);
	}
	return err;
}
