// SPDX-License-Identifier: GPL-2.0
/*
 * AG headers (free-space header, inode header, reserve list): encode,
 * decode, verify.
 */
#include <errno.h>
#include <string.h>

#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/mem.h"

/* A tree root: past the fixed headers, inside the AG. */
static bool root_ok(uint32_t root, uint32_t length)
{
	return root >= KVFS_AG_HDR_BLOCKS && root < length;
}

void kvfs_agf_to_disk(const struct kvfs_geom *g, const struct kvfs_agf_info *a,
		      void *blk)
{
	struct kvfs_agf *h = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, KVFS_AGF_MAGIC,
			 kvfs_agb_to_fsb(g, a->agno, KVFS_AGF_AGBNO), a->agno,
			 g->meta_uuid);
	h->agno = kv_cpu_to_le32(a->agno);
	h->length = kv_cpu_to_le32(a->length);
	h->bno_root = kv_cpu_to_le32(a->bno_root);
	h->cnt_root = kv_cpu_to_le32(a->cnt_root);
	h->bno_level = (uint8_t)a->bno_level;
	h->cnt_level = (uint8_t)a->cnt_level;
	h->freeblks = kv_cpu_to_le32(a->freeblks);
	h->longest = kv_cpu_to_le32(a->longest);
	h->free_extents = kv_cpu_to_le32(a->free_extents);
	h->btreeblks = kv_cpu_to_le32(a->btreeblks);
	h->flfirst = kv_cpu_to_le32(a->flfirst);
	h->fllast = kv_cpu_to_le32(a->fllast);
	h->flcount = kv_cpu_to_le32(a->flcount);
	kvfs_blkhdr_set_crc(blk, g->blocksize);
}

/* The fields common to AGF and AGI: AG number and length. */
static int ag_ident_check(const struct kvfs_geom *g, uint32_t agno,
			  uint64_t blkno, const char *what, uint32_t got_agno,
			  uint32_t length)
{
	if (got_agno != agno)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "AG number %u, expected %u", got_agno,
				    agno);
	if (length != kvfs_ag_length(g, agno))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "length %u, the superblock says %u", length,
				    kvfs_ag_length(g, agno));
	return 0;
}

int kvfs_agf_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_agf_info *a)
{
	const struct kvfs_agf *h = blk;
	uint64_t blkno = kvfs_agb_to_fsb(g, agno, KVFS_AGF_AGBNO);
	const char *what = "AG free-space header";
	uint32_t span;
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, KVFS_AGF_MAGIC, blkno, agno,
				 g->meta_uuid, what);
	if (ret)
		return ret;
	a->agno = kv_le32_to_cpu(h->agno);
	a->length = kv_le32_to_cpu(h->length);
	a->bno_root = kv_le32_to_cpu(h->bno_root);
	a->cnt_root = kv_le32_to_cpu(h->cnt_root);
	a->bno_level = h->bno_level;
	a->cnt_level = h->cnt_level;
	a->freeblks = kv_le32_to_cpu(h->freeblks);
	a->longest = kv_le32_to_cpu(h->longest);
	a->free_extents = kv_le32_to_cpu(h->free_extents);
	a->btreeblks = kv_le32_to_cpu(h->btreeblks);
	a->flfirst = kv_le32_to_cpu(h->flfirst);
	a->fllast = kv_le32_to_cpu(h->fllast);
	a->flcount = kv_le32_to_cpu(h->flcount);
	ret = ag_ident_check(g, agno, blkno, what, a->agno, a->length);
	if (ret)
		return ret;
	if (!root_ok(a->bno_root, a->length) ||
	    !root_ok(a->cnt_root, a->length) || a->bno_root == a->cnt_root)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree root outside the AG (%u/%u)",
				    a->bno_root, a->cnt_root);
	if (a->bno_level >= g->alloc_maxlevels ||
	    a->cnt_level >= g->alloc_maxlevels || kv_le16_to_cpu(h->pad0))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree level too high (%u/%u, at most %u)",
				    a->bno_level, a->cnt_level,
				    g->alloc_maxlevels - 1);
	if (a->freeblks > a->length || a->longest > a->freeblks ||
	    a->free_extents > a->freeblks || (a->freeblks && !a->longest) ||
	    (!a->free_extents) != (!a->freeblks))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "free counters inconsistent (free %u, "
				    "longest %u, extents %u)",
				    a->freeblks, a->longest, a->free_extents);
	if (a->btreeblks < a->bno_level + a->cnt_level + 2u ||
	    a->btreeblks > a->length)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "%u tree blocks for trees of %u and %u "
				    "levels",
				    a->btreeblks, a->bno_level + 1,
				    a->cnt_level + 1);
	/* the list's window: flcount entries from flfirst to fllast */
	span = a->flcount ?
		       (a->fllast + g->agfl_size - a->flfirst) % g->agfl_size +
			       1 :
		       0;
	if (a->flfirst >= g->agfl_size || a->fllast >= g->agfl_size ||
	    a->flcount > g->agfl_size || span != a->flcount)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "reserve list window invalid (first %u, "
				    "last %u, count %u of %u)",
				    a->flfirst, a->fllast, a->flcount,
				    g->agfl_size);
	if (!kvfs_mem_is_zero(h->reserved, sizeof(h->reserved)) ||
	    !kvfs_mem_is_zero((const uint8_t *)blk + sizeof(*h),
			      g->blocksize - sizeof(*h)))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "reserved bytes are not zero");
	return 0;
}

void kvfs_agi_to_disk(const struct kvfs_geom *g, const struct kvfs_agi_info *a,
		      void *blk)
{
	struct kvfs_agi *h = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, KVFS_AGI_MAGIC,
			 kvfs_agb_to_fsb(g, a->agno, KVFS_AGI_AGBNO), a->agno,
			 g->meta_uuid);
	h->agno = kv_cpu_to_le32(a->agno);
	h->length = kv_cpu_to_le32(a->length);
	h->ino_root = kv_cpu_to_le32(a->ino_root);
	h->ino_level = (uint8_t)a->ino_level;
	h->icount = kv_cpu_to_le32(a->icount);
	h->ifree = kv_cpu_to_le32(a->ifree);
	h->newino = kv_cpu_to_le32(a->newino);
	for (unsigned i = 0; i < KVFS_AGI_UNLINKED_BUCKETS; i++)
		h->unlinked[i] = kv_cpu_to_le32(a->unlinked[i]);
	kvfs_blkhdr_set_crc(blk, g->blocksize);
}

/* An agino that names an inode of this AG past its fixed headers. */
static bool agino_ok(const struct kvfs_geom *g, uint32_t length, uint32_t agino)
{
	uint32_t agbno = kvfs_agino_to_agbno(g, agino);

	return agino < (1ULL << kvfs_agino_bits(g)) &&
	       agbno >= KVFS_AG_HDR_BLOCKS && agbno < length;
}

int kvfs_agi_from_disk(const struct kvfs_geom *g, uint32_t agno,
		       const void *blk, struct kvfs_agi_info *a)
{
	const struct kvfs_agi *h = blk;
	uint64_t blkno = kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO);
	const char *what = "AG inode header";
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, KVFS_AGI_MAGIC, blkno, agno,
				 g->meta_uuid, what);
	if (ret)
		return ret;
	a->agno = kv_le32_to_cpu(h->agno);
	a->length = kv_le32_to_cpu(h->length);
	a->ino_root = kv_le32_to_cpu(h->ino_root);
	a->ino_level = h->ino_level;
	a->icount = kv_le32_to_cpu(h->icount);
	a->ifree = kv_le32_to_cpu(h->ifree);
	a->newino = kv_le32_to_cpu(h->newino);
	for (unsigned i = 0; i < KVFS_AGI_UNLINKED_BUCKETS; i++)
		a->unlinked[i] = kv_le32_to_cpu(h->unlinked[i]);
	ret = ag_ident_check(g, agno, blkno, what, a->agno, a->length);
	if (ret)
		return ret;
	if (!root_ok(a->ino_root, a->length))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree root %u outside the AG", a->ino_root);
	if (a->ino_level >= KVFS_BTREE_MAXLEVELS)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "tree level %u too high", a->ino_level);
	if (a->ifree > a->icount ||
	    (uint64_t)a->icount > (uint64_t)a->length << g->inopblog)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "inode counters inconsistent (count %u, "
				    "free %u)",
				    a->icount, a->ifree);
	if (a->newino != KVFS_NULLAGINO &&
	    (!agino_ok(g, a->length, a->newino) ||
	     a->newino % KVFS_INODES_PER_CHUNK))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "last chunk %u invalid", a->newino);
	for (unsigned i = 0; i < KVFS_AGI_UNLINKED_BUCKETS; i++)
		if (a->unlinked[i] != KVFS_NULLAGINO &&
		    (!agino_ok(g, a->length, a->unlinked[i]) ||
		     a->unlinked[i] % KVFS_AGI_UNLINKED_BUCKETS != i))
			return kvfs_corrupt(-EUCLEAN, blkno, what,
					    "unlinked bucket %u heads inode "
					    "%u",
					    i, a->unlinked[i]);
	if (!kvfs_mem_is_zero(h->pad0, sizeof(h->pad0)) ||
	    kv_le32_to_cpu(h->pad1) ||
	    !kvfs_mem_is_zero(h->reserved, sizeof(h->reserved)) ||
	    !kvfs_mem_is_zero((const uint8_t *)blk + sizeof(*h),
			      g->blocksize - sizeof(*h)))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "reserved bytes are not zero");
	return 0;
}

void kvfs_agfl_to_disk(const struct kvfs_geom *g, uint32_t agno,
		       const uint32_t *bno, uint32_t n, void *blk)
{
	struct kvfs_agfl *h = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, KVFS_AGFL_MAGIC,
			 kvfs_agb_to_fsb(g, agno, KVFS_AGFL_AGBNO), agno,
			 g->meta_uuid);
	for (uint32_t i = 0; i < g->agfl_size; i++)
		h->bno[i] = kv_cpu_to_le32(i < n ? bno[i] : KVFS_NULLAGBLOCK);
	kvfs_blkhdr_set_crc(blk, g->blocksize);
}

int kvfs_agfl_verify(const struct kvfs_geom *g, uint32_t agno, const void *blk)
{
	uint64_t blkno = kvfs_agb_to_fsb(g, agno, KVFS_AGFL_AGBNO);
	uint32_t length = kvfs_ag_length(g, agno);
	const char *what = "AG reserve list";
	int ret;

	ret = kvfs_blkhdr_verify(blk, g->blocksize, KVFS_AGFL_MAGIC, blkno,
				 agno, g->meta_uuid, what);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < g->agfl_size; i++) {
		uint32_t b = kvfs_agfl_entry(blk, i);

		if (b != KVFS_NULLAGBLOCK &&
		    (b < KVFS_AG_HDR_BLOCKS || b >= length))
			return kvfs_corrupt(-EUCLEAN, blkno, what,
					    "entry %u names block %u, outside "
					    "the AG",
					    i, b);
	}
	return 0;
}
