// SPDX-License-Identifier: GPL-2.0
/*
 * The read-only walk of a directory as stored (fs/ns/dir.h:
 * kvfs_dir_walk_disk(), kvfs_dir_read_head(), kvfs_dir_xmap()), for the
 * checker and fsck: no inode, no lock, no transaction; every block
 * verified as it is read.
 */
#include "fs/ns/dir.h"

#include <stdatomic.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/format/dinode.h"
#include "fs/inode/inode.h"
#include "fs/io/buf_ops.h"
#include "fs/mount.h"
#include "fs/ns/dir_priv.h"

static int walk_sf(const struct kvfs_geom *g, const struct kvfs_dinode *d,
		   uint64_t *parent, kvfs_dir_walk_fn fn, void *priv)
{
	const uint8_t *fork = (const uint8_t *)d + KVFS_DINODE_CORE_SIZE;
	const struct kvfs_dir_sf_hdr *h = (const void *)fork;
	uint64_t size = kv_le64_to_cpu(d->size);
	unsigned n = kv_le16_to_cpu(h->count);
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE;

	if (size < KVFS_DIR_SF_HDR_SIZE || size > kvfs_dinode_dfork_size(g, d))
		return -EUCLEAN;
	*parent = kv_le64_to_cpu(h->parent);
	for (unsigned i = 0; i < n; i++) {
		const struct kvfs_dir_sf_ent *e = (const void *)(fork + pos);
		int stop;

		if (pos + KVFS_DIR_SF_ENT_SIZE > size || !e->namelen ||
		    pos + KVFS_DIR_SF_ENTSIZE(e->namelen) > size)
			return -EUCLEAN;
		stop = fn(priv, (const char *)e->name, e->namelen,
			  kv_le64_to_cpu(e->ino), e->ftype, false);
		if (stop)
			return stop;
		pos += KVFS_DIR_SF_ENTSIZE(e->namelen);
	}
	return 0;
}

uint64_t kvfs_dir_xmap(struct kvfs_dir_xmap *m, uint64_t off, uint32_t len,
		       uint32_t *run)
{
	uint64_t first = KVFS_NULLBLOCK, next = 0, need = off;

	for (uint32_t i = m->k; i < m->n && need < off + len; i++) {
		uint64_t o = kv_le64_to_cpu(m->x[i].startoff);
		uint64_t end = o + kv_le32_to_cpu(m->x[i].blockcount);
		uint64_t bno;

		if (end <= need) {
			m->k = i + 1;
			continue;
		}
		if (o > need)
			break;
		bno = kv_le64_to_cpu(m->x[i].startblock) + (need - o);
		if (first == KVFS_NULLBLOCK)
			first = bno;
		else if (bno != next)
			break;
		next = bno + (end - need);
		need = end;
	}
	*run = (uint32_t)((need < off + len ? need : off + len) - off);
	return first;
}

/* How a data block was read (walk_read()). */
enum { WALK_OK, WALK_CRC, WALK_BAD };

uint32_t kvfs_dir_rec_next(const void *blk, uint32_t len, uint32_t pos)
{
	const struct kvfs_dir_data_ent *e;
	uint32_t rl;

	if (pos > len || len - pos < KVFS_DIR_DATA_ENT_SIZE)
		return 0;
	e = (const void *)((const uint8_t *)blk + pos);
	rl = kv_le32_to_cpu(e->reclen);
	if (rl < KVFS_DIR_DATA_ENT_SIZE || rl % 8 || rl > len - pos)
		return 0;
	return pos + rl;
}

/* kvfs_dir_rec_next() in a directory block's buffer. */
static uint32_t rec_next(const struct kvfs_geom *g, struct kv_buf *bp,
			 uint32_t pos)
{
	return kvfs_dir_rec_next(bp->b_addr, g->dirblksize, pos);
}

/* Where the records from pos stop chaining (the block's end when they do). */
static uint32_t chain_end(const struct kvfs_geom *g, struct kv_buf *bp,
			  uint32_t pos)
{
	uint32_t next;

	while (pos < g->dirblksize && (next = rec_next(g, bp, pos)))
		pos = next;
	return pos;
}

/*
 * A live entry at pos whose length is broken: the end of its name's
 * record when the records from there chain to the block's end (the
 * length alone was damaged, as most often: one field cost every entry
 * past it), else 0.
 */
static uint32_t rec_resync(const struct kvfs_geom *g, struct kv_buf *bp,
			   uint32_t pos)
{
	const struct kvfs_dir_data_ent *e;
	uint32_t next;

	if (pos + KVFS_DIR_DATA_ENT_SIZE > g->dirblksize)
		return 0;
	e = ent_at(bp, pos);
	next = pos + KVFS_DIR_DATA_ENTSIZE(e->namelen);
	if (!kv_le64_to_cpu(e->ino) || !e->namelen || next > g->dirblksize ||
	    chain_end(g, bp, next) != g->dirblksize)
		return 0;
	return next;
}

/*
 * Where the records of a data block read unverified stop chaining from the
 * end of its headers: each length a multiple of 8 inside the block, or
 * one live entry's broken length passed over (rec_resync()); the block's
 * end when they all do.  What else the verifier checks (the header's
 * counts, block 0's head, an entry's name length, name, inode or file
 * type) concerns one field or one entry, not where the entries are.
 */
static uint32_t records_end(const struct kvfs_geom *g, struct kv_buf *bp,
			    uint32_t dblk)
{
	uint32_t pos = chain_end(g, bp, data_start(dblk));

	if (pos < g->dirblksize && rec_resync(g, bp, pos))
		return g->dirblksize;
	return pos;
}

/*
 * A block that fails verification (its crc, or anything else) but is the
 * directory's block (magic, address, uuid), read unverified: used, so
 * that the repair keeps its entries (all of them went to lost+found: the
 * root's top level for one bit, 126 names of a large directory for one
 * entry's file type).  *end is where its records stop chaining: the
 * entries before it are walked, those that are not valid left out
 * (salvaged: their inodes disconnected, like the entries past *end).
 * *bad is WALK_CRC, or WALK_BAD when more than the crc is wrong.  The
 * damage is still the checker's finding (its own read of the block).
 */
static int read_damaged(struct kv_bcache *bc, const struct kvfs_geom *g,
			uint64_t fsb, uint32_t dblk, struct kv_buf **bpp,
			int *bad, uint32_t *end)
{
	const struct kvfs_blk_hdr *h;
	int err = kv_buf_read(bc, fsb, fsbs(g), NULL, bpp);

	if (err)
		return err;
	h = (*bpp)->b_addr;
	if (kv_le32_to_cpu(h->magic) == KVFS_DIR_DATA_MAGIC &&
	    kv_le64_to_cpu(h->blkno) == fsb &&
	    !memcmp(h->uuid, g->meta_uuid, KVFS_UUID_SIZE)) {
		*bad = kvfs_dir_data_check(g, (*bpp)->b_addr, (*bpp)->b_len) ?
			       WALK_BAD :
			       WALK_CRC;
		if (*bad == WALK_BAD)
			*end = records_end(g, *bpp, dblk);
		return 0;
	}
	kv_buf_rele(*bpp);
	return -EUCLEAN;
}

/*
 * Data block dblk of directory ino, verified (or damaged in its crc
 * alone) and in its place: its first and last blocks mapped, the last
 * where the first puts it.
 */
static int walk_read(struct kv_bcache *bc, const struct kvfs_geom *g,
		     uint64_t ino, struct kvfs_dir_xmap *m, uint32_t dblk,
		     struct kv_buf **bpp, int *bad, uint32_t *end)
{
	uint64_t off = (uint64_t)dblk * fsbs(g), fsb, last;
	uint32_t run;
	int err;

	fsb = kvfs_dir_xmap(m, off, fsbs(g), &run);
	last = run == fsbs(g) ? fsb + fsbs(g) - 1 :
				kvfs_dir_xmap(m, off + fsbs(g) - 1, 1, &run);
	if (fsb == KVFS_NULLBLOCK && last == KVFS_NULLBLOCK)
		return -ENODATA;
	if (fsb == KVFS_NULLBLOCK || fsb + fsbs(g) > g->dblocks ||
	    last != fsb + fsbs(g) - 1)
		return -EUCLEAN;
	*bad = WALK_OK;
	*end = g->dirblksize;
	err = kv_buf_read(bc, fsb, fsbs(g), &kvfs_dir_data_buf_ops, bpp);
	if (err == -EBADMSG || err == -EUCLEAN)
		err = read_damaged(bc, g, fsb, dblk, bpp, bad, end);
	if (err)
		return err;
	if (kv_le64_to_cpu(dhdr(*bpp)->hdr.owner) != ino) {
		kv_buf_rele(*bpp);
		return -EUCLEAN;
	}
	/*
	 * The directory's block at its address but with another block
	 * number: that one field (or the fork's offset) is wrong, not the
	 * entries; read as the fork places it, as far as its records chain
	 * (skipped, one number cost all its names).
	 */
	if (kv_le32_to_cpu(dhdr(*bpp)->dblk) != dblk && *bad != WALK_BAD) {
		*bad = WALK_BAD;
		*end = records_end(g, *bpp, dblk);
	}
	return 0;
}

int kvfs_dir_read_head(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, const struct kvfs_extent *x, uint32_t n,
		       struct kv_buf **bpp, bool *damaged)
{
	struct kvfs_dir_xmap m = { .x = x, .n = n };
	uint32_t end;
	int bad, err = walk_read(bc, g, ino, &m, 0, bpp, &bad, &end);

	if (!err)
		*damaged = bad != WALK_OK;
	return err;
}

/*
 * An entry of a salvaged block that can be inserted again: a name inside
 * its record, an inode in range (a file type that is not one is passed
 * on: the repair sets it from the inode).
 */
static bool entry_usable(const struct kvfs_geom *g,
			 const struct kvfs_dir_data_ent *e)
{
	return KVFS_DIR_DATA_ENTSIZE(e->namelen) <= kv_le32_to_cpu(e->reclen) &&
	       !kvfs_dir_name_check((const char *)e->name, e->namelen) &&
	       kvfs_ino_in_range(g, kv_le64_to_cpu(e->ino));
}

/*
 * fn on every live entry of data block dblk before end (lengths hold:
 * verified, or checked by records_end(); WALK_BAD: the entries that are
 * not usable left out), said damaged unless the block verified.
 */
static int walk_entries(struct kv_buf *bp, uint32_t dblk, uint32_t end,
			const struct kvfs_geom *g, kvfs_dir_walk_fn fn,
			void *priv, int bad)
{
	int stop = 0;

	for (uint32_t pos = data_start(dblk); pos < end && !stop;) {
		struct kvfs_dir_data_ent *e = ent_at(bp, pos);
		uint32_t next = rec_next(g, bp, pos);

		/* records_end() checked where a broken length's entry ends */
		if (!next)
			next = rec_resync(g, bp, pos);
		if (!next)
			break;
		if (kv_le64_to_cpu(e->ino) &&
		    (bad != WALK_BAD || entry_usable(g, e)))
			stop = fn(priv, (const char *)e->name, e->namelen,
				  kv_le64_to_cpu(e->ino), e->ftype,
				  bad != WALK_OK);
		pos = next;
	}
	return stop;
}

/* Block 0's ".." into *parent: a salvaged head's only when it can be one. */
static bool walk_head(const struct kvfs_geom *g, struct kv_buf *bp, int bad,
		      uint64_t *parent)
{
	uint64_t p = kv_le64_to_cpu(head(bp)->parent);

	if (bad == WALK_BAD && !kvfs_ino_in_range(g, p))
		return false;
	*parent = p;
	return true;
}

int kvfs_dir_walk_disk(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, const void *dip, uint64_t *parent,
		       kvfs_dir_walk_fn fn, void *priv)
{
	const struct kvfs_dinode *d = dip;
	const struct kvfs_extent *x =
		(const void *)((const uint8_t *)dip + KVFS_DINODE_CORE_SIZE);
	uint32_t nx = kv_le32_to_cpu(d->nextents);
	struct kvfs_extent *tx = NULL;
	struct kvfs_dir_xmap m = { 0 };
	bool have_head = false;
	uint32_t rend;
	int bad, err = 0, stop = 0;

	/* the inode may not have been verified: its fork stays inside it */
	if (kvfs_dinode_dfork_size(g, d) > g->inodesize - KVFS_DINODE_CORE_SIZE)
		return -EUCLEAN;
	if (d->dformat == KVFS_DFORK_INLINE)
		return walk_sf(g, d, parent, fn, priv);
	if (d->dformat == KVFS_DFORK_BTREE) {
		/* a large directory's extents live in its extent-map tree */
		err = kvfs_bmbt_read_extents(bc, g, ino, (const uint8_t *)x,
					     kvfs_dinode_dfork_size(g, d), &tx,
					     &nx);
		if (err)
			return err;
		x = tx;
	} else if (d->dformat != KVFS_DFORK_EXTENTS ||
		   nx > kvfs_dinode_dfork_size(g, d) / sizeof(*x)) {
		return -EUCLEAN;
	}
	m.x = x;
	m.n = nx;
	/*
	 * Every data block the fork maps, in order, the head's count not
	 * trusted: a damaged one hid the blocks past it or walked 2^32
	 * holes.  A block that cannot be read is skipped, block 0 too: its
	 * ".." is then unknown, but the other blocks hold their own entries
	 * (a repair that stopped at block 0 emptied a directory of 5000
	 * names for one bad block).
	 */
	for (uint32_t i = 0, next = 0; i < nx && !stop && !err; i++) {
		uint64_t end = kv_le64_to_cpu(x[i].startoff) +
			       kv_le32_to_cpu(x[i].blockcount);

		for (uint64_t dblk = kv_le64_to_cpu(x[i].startoff) / fsbs(g);
		     dblk * fsbs(g) < end && dblk <= UINT32_MAX && !stop;
		     dblk++) {
			struct kv_buf *bp;

			/* a directory block over several extents */
			if (dblk < next)
				continue;
			next = (uint32_t)dblk + 1;
			err = walk_read(bc, g, ino, &m, (uint32_t)dblk, &bp,
					&bad, &rend);
			if (err == -ENODATA || err == -EUCLEAN) {
				err = 0;
				continue;
			}
			if (err)
				break;
			if (dblk == 0)
				have_head = walk_head(g, bp, bad, parent);
			stop = walk_entries(bp, (uint32_t)dblk, rend, g, fn,
					    priv, bad);
			kv_buf_rele(bp);
		}
	}
	kvfree(tx);
	if (err || stop)
		return err ? err : stop;
	return have_head ? 0 : -EUCLEAN;
}
