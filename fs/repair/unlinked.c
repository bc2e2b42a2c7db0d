// SPDX-License-Identifier: GPL-2.0
/*
 * The AGs' on-disk unlinked lists (phase 4, after the inodes): each
 * bucket's chain walked against the inode-chunk records phase 4 left.  A
 * chain that reaches an inode that is free, linked, in another bucket, or
 * that loops, would stop every mount (it loads the lists to free what they
 * hold): the bucket is emptied.  Its inodes, in use without links, are
 * orphans again, which phase 5 puts back on a list (as xfs_repair empties
 * the AGI buckets and settles the inodes later).
 */
#include <errno.h>
#include <inttypes.h>

#include "fs/btree/btblock.h"
#include "fs/io/buf.h"
#include "fs/repair/priv.h"

/* Whether agino is an inode in use by a's chunk records. */
static bool in_use(const struct rp_ag *a, uint32_t agino)
{
	for (size_t k = 0; k < a->nchunks; k++) {
		const struct kvfs_inobt_rec *r = &a->chunks[k];
		uint32_t start = kv_le32_to_cpu(r->startino);
		unsigned i = agino - start;

		if (agino < start || i >= KVFS_INODES_PER_CHUNK)
			continue;
		return !(kvfs_inobt_holes(kv_le16_to_cpu(r->holemask)) >> i &
			 1) &&
		       !(kv_le64_to_cpu(r->freemask) >> i & 1);
	}
	return false;
}

/*
 * Walk bucket b of AG agno; NULL if sound, else what is wrong with the
 * inode *bad.
 */
static int walk_bucket(struct rp *rp, uint32_t agno, const struct rp_ag *a,
		       unsigned b, uint32_t *bad, const char **why)
{
	const struct kvfs_geom *g = &rp->g;
	uint32_t agino = a->agi.unlinked[b];
	uint64_t steps = 0;
	int err;

	*why = NULL;
	while (agino != KVFS_NULLAGINO) {
		uint64_t ino = kvfs_agino_to_ino(g, agno, agino);
		const struct kvfs_dinode *dip;
		struct kv_buf *bp;

		*bad = agino;
		if (agino % KVFS_AGI_UNLINKED_BUCKETS != b)
			*why = "belongs to another bucket";
		else if (++steps > (uint64_t)a->nchunks * KVFS_INODES_PER_CHUNK)
			*why = "is reached again: the list loops";
		else if (!in_use(a, agino))
			*why = "is free or no inode";
		if (*why)
			return 0;
		err = kv_buf_read(rp->bc, kvfs_ino_to_fsb(g, ino), 1, NULL,
				  &bp);
		if (err)
			return err;
		kv_buf_lock(bp);
		dip = (const void *)((const uint8_t *)bp->b_addr +
				     kvfs_ino_to_offset(g, ino));
		if (kv_le32_to_cpu(dip->nlink))
			*why = "has links";
		agino = kv_le32_to_cpu(dip->next_unlinked);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
		if (*why)
			return 0;
	}
	return 0;
}

int rp_unlinked_lists(struct rp *rp)
{
	const struct kvfs_geom *g = &rp->g;
	int err = 0;

	for (uint32_t agno = 0; agno < g->agcount && !err; agno++) {
		struct rp_ag *a = &rp->ags[agno];

		/* a header rebuilt whole has its buckets empty already */
		if (!a->ino_ok || a->agi_rewrite)
			continue;
		for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS && !err;
		     b++) {
			const char *why;
			uint32_t bad;

			err = walk_bucket(rp, agno, a, b, &bad, &why);
			if (err || !why)
				continue;
			if (!rp_problem(
				    rp, true, kvfs_agino_to_ino(g, agno, bad),
				    kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
				    "unlinked list %u of AG %u: inode %" PRIu64
				    " on it %s: the list is emptied (its "
				    "inodes are orphans again)",
				    b, agno, kvfs_agino_to_ino(g, agno, bad),
				    why))
				continue;
			a->agi.unlinked[b] = KVFS_NULLAGINO;
			a->agi_rewrite = true;
		}
	}
	return err;
}
