// SPDX-License-Identifier: GPL-2.0
/*
 * The inode-chunk tree when its records cannot be read (a damaged inode
 * header or tree): the AG's inode chunks found again by a scan of the
 * blocks where chunks can be (ialloc_blocks-aligned, as the allocator
 * places them; a sparse chunk's pieces may lie beside the AG headers, the
 * log or the AG's end, whose blocks read as holes), a block being an
 * inode block when most of its slots hold an inode header naming that
 * very slot (inode number, block; a metadata UUID not the filesystem's
 * is a fault of the inode, which phase 4's verifier finds and mends, as
 * the mount's would find it), a chunk being one when most of its inodes
 * carry the filesystem's metadata UUID (one whose inodes carry another,
 * left by an older filesystem the image was made over, is no chunk: its
 * inodes were taken in, in lost+found); then, in phase 7, the
 * tree bulk-loaded from the records into blocks taken from the end of
 * the AG's free space.  A chunk, whole or sparse, is freed with its last
 * inode (fs/inode/ialloc.h) and its blocks keep the inodes last written
 * there: a block the by-block free-space tree (when it walked clean)
 * calls free or the reserve list holds is a hole, and a chunk found with
 * every inode free is left out (a live one has an inode in use; one of an
 * image of a kvfs that kept chunks has none in use, and leaving it out
 * frees blocks no inode uses), but where a block holds several records,
 * which are kept as the allocator keeps them.
 */
#include <errno.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/btree.h"
#include "fs/io/dev.h"
#include "fs/repair/priv.h"

/* Slot j of block agbno of AG agno holds that inode's header. */
static bool slot_ok(const struct kvfs_geom *g, uint32_t agno, uint32_t agbno,
		    uint32_t j, const uint8_t *blk)
{
	const struct kvfs_dinode *d =
		(const void *)(blk + ((size_t)j << g->inodelog));
	uint64_t ino =
		kvfs_agino_to_ino(g, agno, kvfs_agbno_to_agino(g, agbno) + j);

	return kv_le32_to_cpu(d->hdr.magic) == KVFS_DINODE_MAGIC &&
	       kv_le64_to_cpu(d->hdr.owner) == ino &&
	       kv_le64_to_cpu(d->hdr.blkno) == kvfs_agb_to_fsb(g, agno, agbno);
}

static bool inode_block(const struct kvfs_geom *g, uint32_t agno,
			uint32_t agbno, const uint8_t *blk)
{
	uint32_t n = 0;

	for (uint32_t j = 0; j < g->inopblock; j++)
		n += slot_ok(g, agno, agbno, j, blk);
	return n && 2 * n >= g->inopblock;
}

/* The records of the chunk at agbno whose blocks are in buf. */
static int chunk_recs(struct rp *rp, uint32_t agno, struct rp_ag *a,
		      uint32_t agbno, const uint8_t *buf)
{
	const struct kvfs_geom *g = &rp->g;
	int err;

	for (uint32_t r = 0; r < g->ialloc_inos; r += KVFS_INODES_PER_CHUNK) {
		uint64_t holes = 0, freem = 0;
		uint16_t hm = 0;
		unsigned nfree = 0, inos = 0, ours = 0;

		for (uint32_t i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
			uint32_t k = (r + i) / g->inopblock;
			uint32_t j = (r + i) % g->inopblock;
			const uint8_t *blk = buf + (size_t)k * g->blocksize;
			const struct kvfs_dinode *d =
				(const void *)(blk +
					       ((size_t)j << g->inodelog));

			if (!inode_block(g, agno, agbno + k, blk)) {
				holes |= 1ull << i;
				continue;
			}
			if (!slot_ok(g, agno, agbno + k, j, blk))
				continue;
			inos++;
			ours += !memcmp(d->hdr.uuid, g->meta_uuid,
					KVFS_UUID_SIZE);
			if (!kv_le16_to_cpu(d->mode))
				freem |= 1ull << i;
		}
		/* a hole bit only where all four of its inodes are missing */
		for (unsigned h = 0; h < 16; h++)
			if ((holes >> (4 * h) & 0xf) == 0xf)
				hm |= (uint16_t)(1u << h);
		holes = kvfs_inobt_holes(hm);
		/* most not ours: an older filesystem's (mkfs over its image) */
		if (hm == 0xffff || 2 * ours <= inos)
			continue;
		freem |= holes;
		for (unsigned i = 0; i < KVFS_INODES_PER_CHUNK; i++)
			nfree += (freem >> i & 1) && !(holes >> i & 1);
		if ((hm || g->inopblock <= KVFS_INODES_PER_CHUNK) &&
		    nfree == KVFS_INODES_PER_CHUNK -
				     4 * (unsigned)__builtin_popcount(hm))
			continue;
		err = kvgrow((void **)&a->chunks, &a->chunks_cap, a->nchunks,
			     sizeof(*a->chunks), 0);
		if (err)
			return err;
		a->chunks[a->nchunks++] = (struct kvfs_inobt_rec){
			.startino = kv_cpu_to_le32(
				kvfs_agbno_to_agino(g, agbno) + r),
			.holemask = kv_cpu_to_le16(hm),
			.count = (uint8_t)(KVFS_INODES_PER_CHUNK -
					   4 * __builtin_popcount(hm)),
			.freecount = (uint8_t)nfree,
			.freemask = kv_cpu_to_le64(freem),
		};
	}
	return 0;
}

/*
 * Is agbno free: in a free extent of the by-block tree (sorted by start)
 * or on the reserve list (whose blocks keep what they held)?
 */
static bool blk_free(const struct rp_ag *a, uint32_t agbno)
{
	size_t lo = 0, hi = a->nbno;

	for (size_t i = 0; a->agfl_ok && i < a->nagfl; i++)
		if (a->agfl[i] == agbno)
			return true;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (kv_le32_to_cpu(a->bno[mid].startblock) <= agbno)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && agbno - kv_le32_to_cpu(a->bno[lo - 1].startblock) <
			     kv_le32_to_cpu(a->bno[lo - 1].blockcount);
}

int rp_inobt_scan(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	const struct kvfs_geom *g = &rp->g;
	uint32_t nb = g->ialloc_blocks, len = kvfs_ag_length(g, agno);
	uint64_t base = kvfs_agb_to_fsb(g, agno, 0);
	uint64_t log0 = g->logstart, log1 = g->logstart + g->logblocks;
	size_t bytes = (size_t)nb * g->blocksize;
	uint8_t *buf = kvmalloc(bytes, 0);
	int err = 0;

	if (!buf)
		return -ENOMEM;
	a->nchunks = 0;
	for (uint32_t b = 0; b < len && !err; b += nb) {
		/* the blocks of [b, b + nb) that can be inodes: one run */
		uint64_t lo = base +
			      (b > KVFS_AG_HDR_BLOCKS ? b : KVFS_AG_HDR_BLOCKS);
		uint64_t hi = base + (len - b > nb ? b + nb : len);

		rp_progress(rp, b, len);
		if (lo >= log0 && lo < log1)
			lo = log1;
		if (log0 > lo && log0 < hi)
			hi = log0;
		if (lo >= hi)
			continue;
		if (lo != base + b || hi != base + b + nb)
			memset(buf, 0, bytes);
		err = kv_dev_pread(rp->dev,
				   buf + (lo - base - b) * g->blocksize,
				   (size_t)(hi - lo) * g->blocksize,
				   kvfs_fsb_to_bytes(g, lo));
		for (uint32_t k = 0; a->bno_ok && k < nb && b + k < len; k++)
			if (blk_free(a, b + k))
				memset(buf + (size_t)k * g->blocksize, 0,
				       g->blocksize);
		if (!err)
			err = chunk_recs(rp, agno, a, b, buf);
	}
	kvfree(buf);
	return err;
}

int rp_inobt_rebuild(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	const struct kvfs_geom *g = &rp->g;
	uint32_t nb =
		rp_bulkload_blocks(g, kvfs_inobt_tree_ops.fmt, a->nchunks);
	uint64_t base = kvfs_agb_to_fsb(g, agno, 0);
	uint64_t *blks = kvmalloc(nb * sizeof(*blks), 0);
	uint32_t got = 0;
	unsigned level = a->agi.ino_level;
	int err = 0;

	if (!blks)
		return -ENOMEM;
	for (uint32_t b = kvfs_ag_length(g, agno);
	     b-- > KVFS_AG_HDR_BLOCKS && got < nb && !err;) {
		if (kvfs_repair_bmap_test(&rp->map, base + b))
			continue;
		blks[got++] = base + b;
		err = kvfs_repair_bmap_claim(&rp->map, base + b, 1,
					     KVFS_OWN_INOBT, agno);
	}
	if (!err && got < nb) {
		rp_unfixable(rp, KVFS_NULLINO, base,
			     "AG %u has no room left for its inode-chunk tree: "
			     "not rebuilt",
			     agno);
		err = 1;
	}
	/* a dry run's tree is not written: its blocks claimed, for phase 7 */
	if (!err && !rp->o->dry_run)
		err = rp_bulkload(rp, agno, &kvfs_inobt_tree_ops, a->chunks,
				  a->nchunks, blks, &a->agi.ino_root, &level);
	if (err) {
		kvfree(blks);
		return err;
	}
	a->agi.ino_level = level;
	a->agi_rewrite = true;
	a->inobt_new = blks;
	a->ninobt_new = nb;
	return 0;
}
