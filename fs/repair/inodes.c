// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 4, the inodes: every inode of every chunk the inode-chunk trees
 * hold, in inode number order, and the block-ownership map built from
 * their forks.
 *
 * Per inode (a copy, written back into its cluster buffer when changed):
 * a free inode must be free in its chunk's mask and an in-use one in use
 * (the inode wins, as in xfs_repair); extents of an in-inode list that
 * are out of range (past the device end, over AG headers, across AGs,
 * out of order) are cut; an inode whose only fault is its checksum gets
 * it rewritten (xfs_repair's way); one that still fails its verifier is
 * cleared (freed).  Then its blocks are claimed: an extent whose blocks
 * are owned already is the later claimant's (inode number order) and is
 * cut (a hole; e2fsck would clone it: we cut, and say so).  An extent-map
 * tree with anything it cannot keep (a damaged node, a bad or cut extent)
 * is rebuilt from the extents that verify, as an extent list or a new
 * tree (fs/repair/fork.c).  Last, nblocks is set to what the forks map.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/repair/priv.h"
#include "fs/check/ira.h"
#include "fs/check/scrub.h"
#include "fs/ns/symlink.h"
#include "journal/crc32c.h"

/*
 * The copy becomes a free inode (mode 0), its generation moved on (a fix
 * taken: rp_take_fix()).
 */
static void clear_inode(struct ino_ctx *c)
{
	uint32_t gen = kv_le32_to_cpu(D(c)->generation) + 1;

	kvfs_dinode_init(c->dip, &c->rp->g, c->ino, 0, 0, 0, 0, 0, 0, gen);
	kvfs_dinode_set_crc(c->dip, &c->rp->g);
}

/*
 * An inode that cannot be kept (a fix taken: rp_take_fix()): cleared and
 * free, but for the root, which no other inode can stand for at its
 * number: made an empty directory in use (as xfs_repair reinitializes
 * it), what it named then linked into lost+found by phase 6.  *in_use,
 * the chunk's mask bit, follows (a dry run's too: its chunk records,
 * never written, count the inodes in use as -y leaves them).
 */
static void drop_inode(struct ino_ctx *c, bool *in_use)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint32_t gen = kv_le32_to_cpu(D(c)->generation) + 1;

	if (c->ino != g->rootino) {
		clear_inode(c);
		*in_use = false;
		return;
	}
	kvfs_dinode_init(c->dip, g, c->ino, S_IFDIR | 0755, 2, 0, 0, 0, 0, gen);
	kvfs_dir_sf_init(c->dip, g, c->ino);
	kvfs_dinode_set_crc(c->dip, g);
	*in_use = true;
}

/*
 * An inode number in range that no inode chunk of AG 0 holds (xfs_repair's
 * BADFSINO): an entry naming a number out of range (past the AGs, in
 * their headers) is made to name it, which every reader accepts, and the
 * namespace phases remove it as an entry to a free inode, that entry
 * alone: a directory failing its verifier would lose every entry of the
 * block (or the short form) holding it.  KVFS_NULLINO if there is none.
 */
static uint64_t placeholder_ino(struct rp *rp)
{
	const struct kvfs_geom *g = &rp->g;
	const struct rp_ag *a = &rp->ags[0];
	uint32_t end = kvfs_ag_length(g, 0) << g->inopblog;

	for (uint32_t agino = KVFS_AG_HDR_BLOCKS << g->inopblog; agino < end;
	     agino++) {
		bool held = false;

		for (size_t k = 0; k < a->nchunks && !held; k++) {
			uint32_t s = kv_le32_to_cpu(a->chunks[k].startino);

			held = agino >= s && agino - s < KVFS_INODES_PER_CHUNK;
		}
		if (!held)
			return kvfs_agino_to_ino(g, 0, agino);
	}
	return KVFS_NULLINO;
}

/* What fix_entry_ino() does with an entry naming an inode out of range. */
enum ino_pass {
	INO_FIND, /* nothing: whether there is one */
	INO_TRY, /* made to name the placeholder, unreported */
	INO_FIX, /* reported, made to name it when that is fixed */
	INO_LEFT, /* reported as left to the directory's rebuild */
};

/*
 * *inop, an entry's inode number (".." when name is NULL) of directory
 * c->ino held in blkno, when out of range: made the placeholder (INO_TRY,
 * INO_FIX), or reported as what the namespace phases' rebuild of the
 * directory does with it (INO_LEFT: the block holding it fails its
 * verifier for bad besides, and is not written).  Returns whether it was
 * out of range and a placeholder exists; INO_FIX, whether it was made to
 * name it (not with preen; in a dry run, for the trial: rp_take_fix()).
 */
static bool fix_entry_ino(struct ino_ctx *c, uint64_t blkno, kv_le64 *inop,
			  const uint8_t *name, unsigned namelen,
			  enum ino_pass pass, const char *bad)
{
	struct rp *rp = c->rp;
	uint64_t ino = kv_le64_to_cpu(*inop), to;
	char what[320];

	if (kvfs_ino_in_range(&rp->g, ino))
		return false;
	to = placeholder_ino(rp);
	if (to == KVFS_NULLINO)
		return false;
	if (pass == INO_FIND)
		return true;
	if (pass == INO_TRY) {
		*inop = kv_cpu_to_le64(to);
		return true;
	}
	snprintf(what, sizeof(what),
		 "directory %" PRIu64 ": %s%.*s%s names inode %" PRIu64
		 ", out of range",
		 c->ino, name ? "entry '" : "'..'", name ? (int)namelen : 0,
		 name ? (const char *)name : "", name ? "'" : "", ino);
	if (pass == INO_LEFT) {
		rp_problem(rp, false, c->ino, blkno,
			   "%s, in a block failing its verifier besides (%s): "
			   "%s by the directory's rebuild",
			   what, bad, name ? "dropped" : "set to the parent");
		return true;
	}
	if (!rp_problem(rp, false, c->ino, blkno,
			"%s: made to name free inode %" PRIu64 ", %s", what, to,
			name ? "for its removal" : "to be set to the parent") &&
	    !rp->o->dry_run)
		return false;
	*inop = kv_cpu_to_le64(to);
	return true;
}

/*
 * fix_entry_ino() on the entries (and "..") of short-form directory fork
 * bytes fork, the directory's size bytes: whether any entry was out of
 * range with a placeholder to name (INO_FIX: was made to name it).
 */
static bool sf_inos(struct ino_ctx *c, uint8_t *fork, uint64_t size,
		    enum ino_pass pass)
{
	struct kvfs_dir_sf_hdr *h = (void *)fork;
	uint64_t blkno = kvfs_ino_to_fsb(&c->rp->g, c->ino);
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE;
	bool any;

	any = fix_entry_ino(c, blkno, &h->parent, NULL, 0, pass, NULL);
	for (uint32_t i = 0; i < kv_le16_to_cpu(h->count); i++) {
		struct kvfs_dir_sf_ent *e = (void *)(fork + pos);

		if (pos + KVFS_DIR_SF_ENT_SIZE > size ||
		    pos + KVFS_DIR_SF_ENTSIZE(e->namelen) > size)
			break;
		any |= fix_entry_ino(c, blkno, &e->ino, e->name, e->namelen,
				     pass, NULL);
		pos += KVFS_DIR_SF_ENTSIZE(e->namelen);
	}
	return any;
}

/*
 * A short-form directory's entries (and "..") naming inode numbers out of
 * range, in the copy, before it is verified: made to name the placeholder
 * (placeholder_ino()), unsaid, the fork as read kept in c->sf_was, for
 * sf_inos_said() once the inode's fate is known.  Said here, they were
 * said made (and counted fixed) for an inode then cleared, and in a dry
 * run, which did not make them, the directory was then found failing its
 * verifier and its entries salvaged, which -y never does.
 */
static int fix_sf_inos(struct ino_ctx *c, uint8_t *fork, uint32_t dsize)
{
	uint64_t size = kv_le64_to_cpu(D(c)->size);

	if (size < KVFS_DIR_SF_HDR_SIZE || size > dsize ||
	    !sf_inos(c, fork, size, INO_FIND))
		return 0;
	c->sf_was = kvmalloc(size, 0);
	if (!c->sf_was)
		return -ENOMEM;
	memcpy(c->sf_was, fork, size);
	c->sf_size = (uint32_t)size;
	sf_inos(c, fork, size, INO_TRY);
	return 0;
}

/*
 * fix_sf_inos()'s changes, now that verr says whether the inode verifies
 * with them (and what sanitize() and salvage_sf_dir() made of it): each
 * said then, made to name the placeholder, and kept when that is fixed;
 * else (a dry run, preen, or an inode still failing its verifier: it is
 * cleared, or left, and said so) the entries as read are put back: only
 * a repair that verifies (-y) changed the fork since.
 */
static void sf_inos_said(struct ino_ctx *c, int verr)
{
	uint32_t dsize, asize;
	uint8_t *df, *af;

	if (!c->sf_was)
		return;
	if (!verr && sf_inos(c, c->sf_was, c->sf_size, INO_FIX)) {
		rp_take_fix(c, !c->rp->o->dry_run);
		return;
	}
	rp_forks(&c->rp->g, c->dip, &df, &dsize, &af, &asize);
	memcpy(df, c->sf_was, c->sf_size);
}

/*
 * The entries (and "..") of a directory data block copy t of block fsb
 * naming inode numbers out of range: whether there are any (INO_FIND), or
 * fix_entry_ino() on each (bad: INO_LEFT's), whether any was out of range
 * with a placeholder to name (INO_FIX: was made to name it, which preen
 * does not).  head: the fork places it as data block 0,
 * whatever block number its header gives (one damaged there hid the
 * head's ".." and entries, read from the head as records).
 */
static bool dir_block_inos(struct ino_ctx *c, uint64_t fsb, uint8_t *t,
			   uint32_t len, bool head, enum ino_pass pass,
			   const char *bad)
{
	kv_le64 *parent =
		&((struct kvfs_dir_head *)(t + KVFS_DIR_DATA_HDR_SIZE))->parent;
	uint32_t pos = head ? KVFS_DIR_HEAD_SIZE : KVFS_DIR_DATA_HDR_SIZE;
	const struct kvfs_geom *g = &c->rp->g;
	uint32_t next;
	bool any = false;

	if (head && pass == INO_FIND)
		any = !kvfs_ino_in_range(g, kv_le64_to_cpu(*parent));
	else if (head)
		any = fix_entry_ino(c, fsb, parent, NULL, 0, pass, bad);
	/* the block is not verified yet: a record's own checks */
	for (; (next = kvfs_dir_rec_next(t, len, pos)); pos = next) {
		struct kvfs_dir_data_ent *e = (void *)(t + pos);
		uint64_t ino = kv_le64_to_cpu(e->ino);

		if (KVFS_DIR_DATA_ENT_SIZE + (uint32_t)e->namelen > next - pos)
			break;
		if (ino && pass == INO_FIND)
			any |= !kvfs_ino_in_range(g, ino);
		else if (ino)
			any |= fix_entry_ino(c, fsb, &e->ino, e->name,
					     e->namelen, pass, bad);
	}
	return any;
}

/* A directory data block's magic and crc hold. */
static bool dir_block_sound(const uint8_t *t, uint32_t len)
{
	const struct kvfs_dir_data_hdr *h = (const void *)t;

	return kv_le32_to_cpu(h->hdr.magic) == KVFS_DIR_DATA_MAGIC &&
	       kv_le32_to_cpu(h->hdr.crc) ==
		       kv_crc32c_block(t, len, KVFS_BLK_CRC_OFF);
}

/*
 * What the verifier finds wrong with directory data block copy t of block
 * fsb besides its magic and crc: NULL or the fault.
 */
static const char *dir_block_fault(const struct kvfs_geom *g, uint64_t fsb,
				   const uint8_t *t, uint32_t len)
{
	const struct kvfs_blk_hdr *h = (const void *)t;

	if (kv_le64_to_cpu(h->blkno) != fsb)
		return "its header names another block";
	if (!kvfs_ino_in_range(g, kv_le64_to_cpu(h->owner)))
		return "its owner is not an inode";
	if (memcmp(h->uuid, g->meta_uuid, KVFS_UUID_SIZE))
		return "metadata UUID does not match the filesystem's";
	return kvfs_dir_data_check(g, t, len);
}

/*
 * Block fsb of a directory into t: a dry run's from the cache (which the
 * check then reads; phase 4 writes nothing back from it), else from the
 * device.
 */
static int read_dir_block(struct rp *rp, uint64_t fsb, uint32_t fsbs,
			  uint8_t *t, uint32_t len)
{
	const struct kvfs_geom *g = &rp->g;
	struct kv_buf *bp;
	int err;

	if (rp->share_bc) {
		err = kv_buf_read(rp->bc, fsb, fsbs, NULL, &bp);
		if (!err) {
			kv_buf_lock(bp);
			memcpy(t, bp->b_addr, len);
			kv_buf_unlock(bp);
			kv_buf_rele(bp);
		}
		/* cached as another size: read on its own below */
		if (err != -EINVAL)
			return err;
	}
	return kv_dev_pread(rp->dev, t, len, kvfs_fsb_to_bytes(g, fsb));
}

/*
 * A dry run's trial t of directory block fsb, into the cache the check
 * reads (rp->share_bc: it reads the block after this, typed, and
 * verifies it), its crc set as a write-back sets it, held (rp->held).
 */
static int offer_dir_block(struct rp *rp, uint64_t fsb, uint32_t fsbs,
			   const uint8_t *t, uint32_t len)
{
	struct kv_buf *bp;
	int err;

	err = kvgrow((void **)&rp->held, &rp->held_cap, rp->nheld,
		     sizeof(*rp->held), 0);
	if (!err)
		err = kv_buf_read(rp->bc, fsb, fsbs, NULL, &bp);
	/* cached as another size: the check reads the block as it is */
	if (err == -EINVAL)
		return 0;
	if (err)
		return err;
	kv_buf_lock(bp);
	memcpy(bp->b_addr, t, len);
	kvfs_blkhdr_set_crc(bp->b_addr, len);
	kv_buf_unlock(bp);
	rp->held[rp->nheld++] = bp;
	return 0;
}

/*
 * A block directory's data block at fsb (head: data block 0) whose crc
 * holds and whose only fault is entries naming inode numbers out of
 * range: those made to name the placeholder (placeholder_ino()), the
 * block written back.  A block that would still fail its verifier is
 * left as it is, its entries out of range said to be left to the
 * directory's rebuild (the namespace phases), which drops them (said to
 * name the placeholder before, and counted fixed, for a change never
 * made).
 */
static int fix_dir_block_inos(struct ino_ctx *c, uint64_t fsb, uint32_t fsbs,
			      bool head)
{
	struct rp *rp = c->rp;
	const struct kvfs_geom *g = &rp->g;
	uint32_t len = g->dirblksize;
	/* the block, then the trial copy */
	uint8_t *t = kvmalloc(2 * (size_t)len, 0);
	struct kv_buf *bp;
	const char *bad;
	int err;

	if (!t)
		return -ENOMEM;
	/* the cheap scan first: the checks below are for the rare block */
	err = read_dir_block(rp, fsb, fsbs, t, len);
	if (err || !dir_block_inos(c, fsb, t, len, head, INO_FIND, NULL) ||
	    !dir_block_sound(t, len))
		goto out;
	memcpy(t + len, t, len);
	if (!dir_block_inos(c, fsb, t + len, len, head, INO_TRY, NULL))
		goto out;
	bad = dir_block_fault(g, fsb, t + len, len);
	if (bad) {
		dir_block_inos(c, fsb, t, len, head, INO_LEFT, bad);
		goto out;
	}
	if (!dir_block_inos(c, fsb, t, len, head, INO_FIX, NULL))
		goto out;
	/* a dry run's trial of the block is not written: offered the check */
	if (rp->o->dry_run) {
		if (rp->share_bc)
			err = offer_dir_block(rp, fsb, fsbs, t, len);
		goto out;
	}
	err = rp_will_write(rp);
	if (!err)
		err = kv_buf_read(rp->bc, fsb, fsbs, NULL, &bp);
	if (err)
		goto out;
	kv_buf_lock(bp);
	memcpy(bp->b_addr, t, len);
	bp->b_ops = &kvfs_dir_data_buf_ops;
	kv_buf_mark_dirty(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
out:
	kvfree(t);
	return err;
}

/* Every data block of a block directory's n extents x: fix_dir_block_inos(). */
static int fix_dir_inos(struct ino_ctx *c, const struct kvfs_extent *x,
			uint32_t n)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint32_t fsbs = g->dirblksize >> g->blocklog;
	int err = 0;

	for (uint32_t i = 0; i < n && !err; i++) {
		uint64_t off = kv_le64_to_cpu(x[i].startoff);
		uint64_t start = kv_le64_to_cpu(x[i].startblock);
		uint32_t len = kv_le32_to_cpu(x[i].blockcount);

		/* a directory block is one contiguous, aligned piece */
		if (kvfs_extent_check(g, &x[i]) || off % fsbs)
			continue;
		for (uint32_t b = 0; b + fsbs <= len && !err; b += fsbs)
			err = fix_dir_block_inos(c, start + b, fsbs,
						 off + b == 0);
	}
	return err;
}

/* A directory block's magic, or at least this filesystem's UUID. */
static bool is_dir_block(const struct kvfs_geom *g, const void *blk)
{
	const struct kvfs_blk_hdr *h = blk;

	return kv_le32_to_cpu(h->magic) == KVFS_DIR_DATA_MAGIC ||
	       !memcmp(h->uuid, g->meta_uuid, KVFS_UUID_SIZE);
}

/*
 * Whether a block directory's n extents x map a directory at all: its
 * head block (else its first mapped block) carries a directory block's
 * magic or this filesystem's UUID, as even a damaged directory block
 * does.  A regular file whose mode's type bits were damaged holds only
 * data there, or nothing.  With no extent (every linked block directory
 * has its head; an unlinked one may have lost its blocks to
 * inactivation) the link count tells: a directory has at least two ("."
 * and its entry), so one of two or more with its fork zeroed or its
 * extent count lost is a damaged directory, rebuilt empty by the
 * namespace phases (what it named to lost+found), not a file.
 */
static int holds_dir(struct ino_ctx *c, const struct kvfs_extent *x, uint32_t n,
		     bool *yes)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint32_t fsbs = g->dirblksize >> g->blocklog;
	const struct kvfs_blk_hdr *h = (const void *)c->rp->blk;
	struct kv_buf *bp;
	uint64_t fsb;
	int err;

	*yes = !n && kv_le32_to_cpu(D(c)->nlink) != 1;
	if (!n)
		return 0;
	fsb = kvfs_extent_list_map(x, n, 0);
	/* the head, read next as a directory block: from the cache then */
	if (c->rp->share_bc && fsb != KVFS_NULLBLOCK && fsb < g->dblocks &&
	    fsbs <= g->dblocks - fsb) {
		err = kv_buf_read(c->rp->bc, fsb, fsbs, NULL, &bp);
		if (!err) {
			kv_buf_lock(bp);
			*yes = is_dir_block(g, bp->b_addr);
			kv_buf_unlock(bp);
			kv_buf_rele(bp);
		}
		if (err != -EINVAL)
			return err;
	}
	if (fsb == KVFS_NULLBLOCK)
		fsb = kv_le64_to_cpu(x[0].startblock);
	/* out of range: the namespace phases' to judge */
	*yes = true;
	if (fsb >= g->dblocks)
		return 0;
	err = kv_dev_pread(c->rp->dev, c->rp->blk, g->blocksize,
			   kvfs_fsb_to_bytes(g, fsb));
	if (err)
		return err;
	*yes = is_dir_block(g, h);
	return 0;
}

/*
 * A block directory's two index trees (rooted in data block 0's head, not
 * mapped by the fork): their blocks are the directory's.  A head failing
 * its verifier but read as the rebuild reads it (kvfs_dir_read_head())
 * has its trees' blocks that verify claimed, as the rebuild frees them
 * (unclaimed, 13 blocks of /big were reported leaked and its block count
 * wrong for one damaged field of its block 0, which -y then rebuilt).
 * A directory whose head cannot be read is the namespace phases' to
 * rebuild; one whose blocks hold no directory is c->not_dir.
 */
static int claim_dir_index(struct ino_ctx *c, uint8_t *fork, uint32_t n)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint64_t fsb = kvfs_extent_list_map((const void *)fork, n, 0);
	struct kv_buf *hbp;
	char why[224];
	bool dir, damaged;
	int err;

	err = holds_dir(c, (const void *)fork, n, &dir);
	if (err)
		return err;
	c->not_dir = !dir;
	if (fsb == KVFS_NULLBLOCK || c->not_dir)
		return 0;
	err = fix_dir_inos(c, (const void *)fork, n);
	if (err)
		return err;
	err = kvfs_dir_read_head(c->rp->bc, g, c->ino, (const void *)fork, n,
				 &hbp, &damaged);
	if (err == -EUCLEAN || err == -ENODATA || err == -EINVAL)
		return 0;
	if (err)
		return err;
	c->kind = KVFS_OWN_DIRIDX;
	c->head_damaged = damaged;
	c->nunwalked = 0;
	for (int t = 0; t < 2 && !err; t++) {
		struct kvfs_dir_tree_ctx tc = { .hbp = hbp, .free_tree = t };

		err = rp_fork_walk_tree(c,
					t ? &kvfs_dir_free_tree_ops :
					    &kvfs_dir_hash_tree_ops,
					&tc, false, NULL, why, sizeof(why));
		/* a damaged index is the namespace phases' */
		if (err > 0) {
			c->index_bad = true;
			err = 0;
		}
	}
	if (!err)
		err = rp_fork_claim_unwalked(c);
	kv_buf_rele(hbp);
	return err;
}

/*
 * The inode's blocks.  Returns a negative errno, else 0; c->tree_bad
 * when a symlink's target blocks are damaged (the caller clears it).
 */
static int claim_blocks(struct ino_ctx *c)
{
	struct kvfs_dinode *d = D(c);
	uint16_t mode = kv_le16_to_cpu(d->mode);
	uint32_t dsize, asize;
	uint8_t *df, *af;
	int err;

	rp_forks(&c->rp->g, c->dip, &df, &dsize, &af, &asize);
	c->kind = KVFS_OWN_DATA;
	err = rp_claim_fork(c, df, dsize, &d->dformat, &d->nextents, "data");
	if (!err && asize) {
		c->kind = KVFS_OWN_ATTR;
		err = rp_claim_fork(c, af, asize, &d->aformat, &d->anextents,
				    "attribute");
	}
	/*
	 * An unlinked symlink with no blocks is one whose freeing stopped
	 * after its truncate (fs/inode/inactive.c: it keeps its size): the
	 * next mount frees it, nothing is damaged.
	 */
	if (!err && !c->tree_bad && S_ISLNK(mode) &&
	    d->dformat == KVFS_DFORK_EXTENTS &&
	    (kv_le32_to_cpu(d->nlink) || kv_le32_to_cpu(d->nextents))) {
		char why[224];

		err = kvfs_symlink_scrub(
			c->rp->bc, &c->rp->g, c->ino, kv_le64_to_cpu(d->size),
			df, kv_le32_to_cpu(d->nextents), why, sizeof(why));
		if (err == -EUCLEAN) {
			c->tree_bad = true;
			snprintf(c->why, sizeof(c->why),
				 "its target's blocks are damaged (%s)", why);
			err = 0;
		}
	}
	if (!err && !c->tree_bad && S_ISDIR(mode) &&
	    d->dformat == KVFS_DFORK_EXTENTS) {
		uint32_t n = kv_le32_to_cpu(d->nextents);

		/* a count the fork cannot hold is cut, but not in a dry run */
		if (n > dsize / sizeof(struct kvfs_extent))
			n = dsize / sizeof(struct kvfs_extent);
		err = claim_dir_index(c, df, n);
	}
	/* a large directory: its extents from its (walked, sound) tree */
	if (!err && !c->tree_bad && S_ISDIR(mode) &&
	    d->dformat == KVFS_DFORK_BTREE && c->data_rb) {
		struct rp_fork_rebuild *r = &c->rp->rebuilds[c->data_rb - 1];

		err = claim_dir_index(c, (uint8_t *)r->recs, r->n);
	} else if (!err && !c->tree_bad && S_ISDIR(mode) &&
		   d->dformat == KVFS_DFORK_BTREE) {
		struct kvfs_extent *x;
		uint32_t n;

		err = kvfs_bmbt_read_extents(c->rp->bc, &c->rp->g, c->ino, df,
					     dsize, &x, &n);
		if (!err) {
			err = claim_dir_index(c, (uint8_t *)x, n);
			kvfree(x);
		} else if (err == -EUCLEAN) {
			err = 0;
		}
	}
	return err;
}

/*
 * A dry run takes into the copy the fixes it says (priv.h): -n, judging
 * the copy as read after saying a fix, said that an inode whose stray
 * attribute fork fields, fork offset, unwritten flag or unused bytes -y
 * undoes (keeping it) fails its verifier and is cleared (catalogue
 * attr-fields, dir-unwritten, symlink-unwritten), that a fork offset -y
 * clears cuts the data fork's extents (root-forkoff), or that a next
 * unlinked pointer sanitize() clears is still to clear
 * (next-unlinked-invalid); and after cuts of extents out of range it
 * missed the block count -y sets (extent-past-end, root-extent) and the
 * symlink -y clears (symlink-past-end), and said their blocks leaked
 * "unless by the damaged inode left".
 */
bool rp_take_fix(struct ino_ctx *c, bool fixed)
{
	if (fixed)
		c->changed = true;
	else if (c->rp->o->dry_run)
		c->trial = true;
	return fixed || c->rp->o->dry_run;
}

bool rp_fix(struct ino_ctx *c, bool safe, uint64_t blkno, const char *fmt, ...)
{
	va_list ap;
	bool fixed;

	va_start(ap, fmt);
	fixed = rp_vproblem(c->rp, safe, c->ino, blkno, fmt, ap);
	va_end(ap);
	return rp_take_fix(c, fixed);
}

/*
 * A directory's or symbolic link's extent marked unwritten: its blocks
 * were written when mapped (neither preallocates), so the flag is the
 * fault, cleared.
 */
static void clear_unwritten(struct ino_ctx *c)
{
	struct kvfs_dinode *d = D(c);
	uint32_t dsize, asize, n = kv_le32_to_cpu(d->nextents);
	struct kvfs_extent *x;
	uint8_t *df, *af;

	rp_forks(&c->rp->g, c->dip, &df, &dsize, &af, &asize);
	x = (struct kvfs_extent *)df;
	n = n < dsize / sizeof(*x) ? n : dsize / sizeof(*x);
	for (uint32_t i = 0; i < n; i++) {
		if (!(kv_le32_to_cpu(x[i].flags) & KVFS_EXT_UNWRITTEN) ||
		    !rp_fix(c, false, kvfs_ino_to_fsb(&c->rp->g, c->ino),
			    "inode %" PRIu64
			    " data extent %u is unwritten in a "
			    "directory or symbolic link: flag "
			    "cleared",
			    c->ino, i))
			continue;
		x[i].flags = kv_cpu_to_le32(kv_le32_to_cpu(x[i].flags) &
					    ~KVFS_EXT_UNWRITTEN);
		kvfs_dinode_set_crc(c->dip, &c->rp->g);
	}
}

/*
 * A timestamp's nanoseconds out of range: set to 0, its seconds kept (as
 * xfs_repair does).  The inode failed its verifier and was cleared, a
 * file lost for a field only stat() reads.
 */
static void fix_times(struct ino_ctx *c)
{
	static const char *const names[] = { "access", "modification", "change",
					     "creation" };
	const struct kvfs_geom *g = &c->rp->g;
	struct kvfs_dinode *d = D(c);
	struct kvfs_timestamp *t[] = { &d->atime, &d->mtime, &d->ctime,
				       &d->crtime };

	for (unsigned i = 0; i < 4; i++) {
		uint32_t ns = kv_le32_to_cpu(t[i]->nsec);

		if (ns < 1000000000u ||
		    !rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			    "inode %" PRIu64 "'s %s time "
			    "has %u nanoseconds: set to 0",
			    c->ino, names[i], ns))
			continue;
		t[i]->nsec = kv_cpu_to_le32(0);
		kvfs_dinode_set_crc(c->dip, g);
	}
}

/*
 * A uid or gid of (uint32_t)-1: chown(2)'s "unchanged", which no system
 * call stores and Linux reads as INVALID_UID (appends to the file refused,
 * renames EOVERFLOW, the root directory unwritable even for root).  Set
 * to 0, root, file or directory alike; a non-directory's set-id bits go
 * as a chown clears them, so that the fix makes no set-id root program.
 */
static void fix_ids(struct ino_ctx *c)
{
	static const char *const names[] = { "uid", "gid" };
	const struct kvfs_geom *g = &c->rp->g;
	struct kvfs_dinode *d = D(c);
	kv_le32 *ids[] = { &d->uid, &d->gid };

	for (unsigned i = 0; i < 2; i++) {
		uint16_t mode = kv_le16_to_cpu(d->mode), kill = 0;

		if (kv_le32_to_cpu(*ids[i]) != KVFS_ID_NONE)
			continue;
		if (!S_ISDIR(mode))
			kill = mode &
			       (S_ISUID | (mode & S_IXGRP ? S_ISGID : 0));
		if (!rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			    "inode %" PRIu64 " has %s %u, which no system "
			    "call can set: set to 0 (root)%s",
			    c->ino, names[i], KVFS_ID_NONE,
			    kill ? ", its set-id bits cleared" : ""))
			continue;
		*ids[i] = kv_cpu_to_le32(0);
		d->mode = kv_cpu_to_le16((uint16_t)(mode & ~kill));
		kvfs_dinode_set_crc(c->dip, g);
	}
}

/* Bytes [from, to) of the copy zeroed. */
static void zero_tail(uint8_t *p, uint32_t from, uint32_t to)
{
	memset(p + from, 0, to - from);
}

/*
 * Faults that lose nothing when undone: a header naming another place
 * (owner, block, UUID), non-zero reserved bytes (a timestamp's padding
 * among them), bytes past an extent
 * list, a next unlinked pointer that cannot be one (out of range, to
 * itself: the list ends there, what followed is found an orphan, as
 * xfs_repair resets it), and in an inode in use flags no kvfs knows (as
 * xfs_repair clears bad flags) or a device number on a file that is not a
 * device (each cleared the inode: a file lost for a field it does not
 * use).  The copy takes the undoing if the inode then verifies; returns
 * the verifier's verdict on the result.
 */
static int sanitize(struct ino_ctx *c, int verr)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint8_t *t = kvmalloc(g->inodesize, 0);
	uint32_t agno = kvfs_ino_to_agno(g, c->ino);
	struct kvfs_dinode *d;
	uint32_t dsize, asize, n, next;
	uint8_t *df, *af;
	int err;

	if (!t)
		return verr;
	memcpy(t, c->dip, g->inodesize);
	d = (struct kvfs_dinode *)t;
	d->hdr.owner = kv_cpu_to_le64(c->ino);
	d->hdr.blkno = kv_cpu_to_le64(kvfs_ino_to_fsb(g, c->ino));
	memcpy(d->hdr.uuid, g->meta_uuid, KVFS_UUID_SIZE);
	d->pad0 = 0;
	memset(d->reserved, 0, sizeof(d->reserved));
	d->atime.pad = d->mtime.pad = kv_cpu_to_le32(0);
	d->ctime.pad = d->crtime.pad = kv_cpu_to_le32(0);
	if (kv_le16_to_cpu(d->mode)) {
		uint16_t mode = kv_le16_to_cpu(d->mode);

		d->flags = kv_cpu_to_le32(kv_le32_to_cpu(d->flags) &
					  KVFS_DIFLAG_ALL);
		if (!S_ISCHR(mode) && !S_ISBLK(mode))
			d->rdev = kv_cpu_to_le64(0);
	}
	next = kv_le32_to_cpu(d->next_unlinked);
	if (next != KVFS_NULLAGINO &&
	    (!kvfs_ino_in_range(g, kvfs_agino_to_ino(g, agno, next)) ||
	     next == kvfs_ino_to_agino(g, c->ino)))
		d->next_unlinked = kv_cpu_to_le32(KVFS_NULLAGINO);
	rp_forks(g, t, &df, &dsize, &af, &asize);
	/* an inline fork's extent count is a field it does not use */
	if (d->dformat == KVFS_DFORK_INLINE)
		d->nextents = kv_cpu_to_le32(0);
	n = kv_le32_to_cpu(d->nextents);
	if (d->dformat == KVFS_DFORK_EXTENTS &&
	    n <= dsize / sizeof(struct kvfs_extent))
		zero_tail(df, n * sizeof(struct kvfs_extent), dsize);
	n = kv_le32_to_cpu(d->anextents);
	if (asize && d->aformat == KVFS_DFORK_EXTENTS &&
	    n <= asize / sizeof(struct kvfs_extent))
		zero_tail(af, n * sizeof(struct kvfs_extent), asize);
	kvfs_dinode_set_crc(t, g);
	err = kvfs_dinode_verify(t, g, c->ino);
	if (!err && rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "inode %" PRIu64 ": %s: the bytes it does "
			   "not use zeroed, its header set to its place",
			   c->ino, c->why))
		memcpy(c->dip, t, g->inodesize);
	kvfree(t);
	return err ? verr : 0;
}

/*
 * A short-form directory still failing its verifier (its size, count or
 * an entry damaged): the entries of its fork that verify are kept, in
 * order, a bad one skipped by its name's length, its count and size set
 * to theirs and the rest of the fork zeroed, as xfs_repair junks a
 * short-form directory's bad entries; what only a dropped entry named is
 * found disconnected and goes to lost+found.  Clearing it lost the
 * directory and cut every entry from its path.  Returns the verifier's
 * verdict on the result.
 */
static int salvage_sf_dir(struct ino_ctx *c, int verr)
{
	const struct kvfs_geom *g = &c->rp->g;
	uint8_t *t = kvmalloc(2 * (size_t)g->inodesize, 0);
	struct kvfs_dinode *d = (struct kvfs_dinode *)t;
	const struct kvfs_dir_sf_hdr *oh;
	struct kvfs_dir_sf_hdr *h;
	uint32_t dsize, asize, pos = KVFS_DIR_SF_HDR_SIZE, n = 0;
	uint8_t *df, *af, *src;
	int err;

	if (!t)
		return verr;
	memcpy(t, c->dip, g->inodesize);
	rp_forks(g, t, &df, &dsize, &af, &asize);
	src = t + g->inodesize;
	memcpy(src, df, dsize);
	oh = (const void *)src;
	h = (void *)df;
	h->pad0 = kv_cpu_to_le16(0);
	h->pad1 = kv_cpu_to_le32(0);
	/* one more entry at a time, kept if the directory verifies with it */
	for (uint32_t spos = KVFS_DIR_SF_HDR_SIZE;;) {
		const struct kvfs_dir_sf_ent *e = (const void *)(src + spos);
		uint32_t esz;

		if (spos + KVFS_DIR_SF_ENT_SIZE > dsize || !e->namelen)
			break;
		esz = KVFS_DIR_SF_ENTSIZE(e->namelen);
		if (spos + esz > dsize)
			break;
		memcpy(df + pos, e, esz);
		h->count = kv_cpu_to_le16((uint16_t)(n + 1));
		d->size = kv_cpu_to_le64(pos + esz);
		kvfs_dinode_set_crc(t, g);
		if (!kvfs_dinode_verify(t, g, c->ino)) {
			n++;
			pos += esz;
		}
		spos += esz;
	}
	h->count = kv_cpu_to_le16((uint16_t)n);
	d->size = kv_cpu_to_le64(pos);
	zero_tail(df, pos, dsize);
	kvfs_dinode_set_crc(t, g);
	err = kvfs_dinode_verify(t, g, c->ino);
	if (!err && rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "directory %" PRIu64 ": %s: the %u "
			   "entries that check out kept (it said "
			   "%u, size %" PRIu64 "), size set to "
			   "%u, the rest zeroed",
			   c->ino, c->why, n, kv_le16_to_cpu(oh->count),
			   (uint64_t)kv_le64_to_cpu(D(c)->size), pos))
		memcpy(c->dip, t, g->inodesize);
	kvfree(t);
	return err ? verr : 0;
}

/* The trees of inode ino queued for rp_fork_rebuild() dropped. */
static void drop_rebuilds(struct rp *rp, uint64_t ino)
{
	while (rp->nrebuilds && rp->rebuilds[rp->nrebuilds - 1].ino == ino) {
		rp->nrebuilds--;
		kvfree(rp->rebuilds[rp->nrebuilds].recs);
		kvfree(rp->rebuilds[rp->nrebuilds].old);
	}
}

/*
 * Repair one inode's copy.  *in_use says what its mask bit should say
 * (in: what it says).
 */
static int check_inode(struct ino_ctx *c, bool *in_use)
{
	struct rp *rp = c->rp;
	const struct kvfs_geom *g = &rp->g;
	struct kvfs_dinode *d = D(c);
	uint16_t mode = kv_le16_to_cpu(d->mode);
	size_t nclaims = rp->map.nclaims;
	uint32_t dsize, asize;
	uint8_t *df, *af;
	unsigned nbad = 0;
	int err, verr;

	if (kv_le32_to_cpu(d->hdr.magic) != KVFS_DINODE_MAGIC) {
		if (rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "inode %" PRIu64 " is not an "
			   "inode (bad magic): cleared",
			   c->ino))
			drop_inode(c, in_use);
		return 0;
	}
	if (!mode && c->ino == g->rootino) {
		if (rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "root inode %" PRIu64 " is free: "
			   "made an empty directory",
			   c->ino))
			drop_inode(c, in_use);
		return 0;
	}
	if (!mode) {
		c->sound = !kvfs_dinode_verify(c->dip, g, c->ino);
		if (!c->sound && rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
					"free inode %" PRIu64 " damaged "
					"(%s): rewritten",
					c->ino, kvfs_report_last()->msg))
			clear_inode(c);
		if (*in_use && rp_problem_y(rp, true, c->ino, KVFS_NULLBLOCK,
					    "inode %" PRIu64 " is free but "
					    "its chunk says in use: marked "
					    "free",
					    c->ino))
			*in_use = false;
		return 0;
	}
	if (!*in_use && rp_problem_y(rp, true, c->ino, KVFS_NULLBLOCK,
				     "inode %" PRIu64 " is in use but its "
				     "chunk says free: marked in use",
				     c->ino))
		*in_use = true;
	/*
	 * A fork offset with no attribute fork cuts the data fork short
	 * (its extents would be cut to fit): the offset is the fault; and
	 * the reverse, attribute fork fields with no offset.
	 */
	if (kv_le16_to_cpu(d->forkoff) && !d->aformat &&
	    !kv_le32_to_cpu(d->anextents) &&
	    rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
		   "inode %" PRIu64 " has a fork offset of %u "
		   "but no attribute fork: offset cleared",
		   c->ino, kv_le16_to_cpu(d->forkoff))) {
		d->forkoff = kv_cpu_to_le16(0);
		kvfs_dinode_set_crc(c->dip, g);
	} else if (!kv_le16_to_cpu(d->forkoff) &&
		   (d->aformat || kv_le32_to_cpu(d->anextents)) &&
		   rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			  "inode %" PRIu64 " has no attribute "
			  "fork but its format %u and %u "
			  "extents: cleared",
			  c->ino, d->aformat, kv_le32_to_cpu(d->anextents))) {
		/* without an offset no fork can be found: nothing lost */
		d->aformat = 0;
		d->anextents = kv_cpu_to_le32(0);
		kvfs_dinode_set_crc(c->dip, g);
	}
	if ((S_ISDIR(mode) || S_ISLNK(mode)) &&
	    d->dformat == KVFS_DFORK_EXTENTS)
		clear_unwritten(c);
	fix_times(c);
	fix_ids(c);
	verr = kvfs_dinode_verify(c->dip, g, c->ino);
	c->sound = !verr && !c->trial;
	if (verr)
		snprintf(c->why, sizeof(c->why), "%s", kvfs_report_last()->msg);
	rp_forks(g, c->dip, &df, &dsize, &af, &asize);
	if (d->dformat == KVFS_DFORK_EXTENTS)
		nbad = rp_cut_bad_extents(c, df, dsize, &d->nextents, "data");
	if (asize && d->aformat == KVFS_DFORK_EXTENTS)
		nbad += rp_cut_bad_extents(c, af, asize, &d->anextents,
					   "attribute");
	if (S_ISDIR(mode) && d->dformat == KVFS_DFORK_INLINE) {
		err = fix_sf_inos(c, df, dsize);
		if (err)
			return err;
	}
	if (c->changed || c->trial || c->sf_was || verr == -EBADMSG) {
		/* what is left of the fault once the cuts are made */
		uint32_t crc = kv_le32_to_cpu(d->hdr.crc);

		kvfs_dinode_set_crc(c->dip, g);
		if (!kvfs_dinode_verify(c->dip, g, c->ino)) {
			if (verr == -EBADMSG && !c->changed && !c->trial &&
			    !c->sf_was &&
			    rp_problem(rp, false, c->ino,
				       kvfs_ino_to_fsb(g, c->ino),
				       "inode %" PRIu64 " checksum wrong, the "
				       "inode otherwise sound: rewritten",
				       c->ino))
				c->changed = true;
			verr = 0;
		} else {
			snprintf(c->why, sizeof(c->why), "%s",
				 kvfs_report_last()->msg);
		}
		if (!c->changed)
			d->hdr.crc = kv_cpu_to_le32(crc);
	}
	if (verr)
		verr = sanitize(c, verr);
	if (verr && S_ISDIR(mode) && d->dformat == KVFS_DFORK_INLINE)
		verr = salvage_sf_dir(c, verr);
	sf_inos_said(c, verr);
	/* bounded whatever the inode holds; undone if it is cleared */
	err = claim_blocks(c);
	if (err)
		return err;
	if (c->tree_bad)
		verr = -EUCLEAN;
	if (verr) {
		/* the bad extents, reported and left, are the fault */
		if (nbad && !c->changed && !c->trial) {
			rp->inodes_left = true;
			return 0;
		}
		if (rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "inode %" PRIu64 " fails its "
			   "verifier (%s): cleared",
			   c->ino, c->why)) {
			kvfs_repair_bmap_rollback(&rp->map, nclaims);
			drop_rebuilds(rp, c->ino);
			drop_inode(c, in_use);
		} else {
			rp->inodes_left = true;
		}
		return 0;
	}
	/* the root stays a directory: an empty one (drop_inode()) */
	if (c->not_dir && c->ino == g->rootino) {
		if (rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
			   "root inode %" PRIu64 "'s blocks "
			   "hold no directory: made an "
			   "empty directory",
			   c->ino)) {
			kvfs_repair_bmap_rollback(&rp->map, nclaims);
			drop_rebuilds(rp, c->ino);
			drop_inode(c, in_use);
		}
		return 0;
	}
	/*
	 * A file is not cleared for its type bits: its data is kept, and
	 * the namespace phases then find its entry's file type right.
	 */
	if (c->not_dir && rp_fix(c, false, kvfs_ino_to_fsb(g, c->ino),
				 "inode %" PRIu64 " is a directory whose "
				 "blocks hold no directory: made a "
				 "regular file (its type damaged), its "
				 "data kept",
				 c->ino))
		d->mode =
			kv_cpu_to_le16((uint16_t)((mode & ~S_IFMT) | S_IFREG));
	/*
	 * Only an inode with no links is on an unlinked list: a linked one
	 * pointing to a next one would be reported by every later check
	 * (the lists phase empties a bucket that reaches it).
	 */
	if (kv_le32_to_cpu(d->nlink) &&
	    kv_le32_to_cpu(d->next_unlinked) != KVFS_NULLAGINO &&
	    rp_fix(c, true, kvfs_ino_to_fsb(g, c->ino),
		   "inode %" PRIu64 " has links but "
		   "points to a next unlinked inode: "
		   "pointer cleared",
		   c->ino))
		d->next_unlinked = kv_cpu_to_le32(KVFS_NULLAGINO);
	/* a rebuilt fork's count is part of its rebuild */
	if (c->rebuilt) {
		d->nblocks = kv_cpu_to_le64(c->blocks);
		kvfs_dinode_set_crc(c->dip, g);
		return 0;
	}
	/*
	 * A damaged index's count, set unsaid as part of the rebuild the
	 * namespace phases make: what the forks map less the blocks no walk
	 * of the index read, which the rebuild does not free.  Left as it
	 * was, a block the index lost (a damaged pointer), freed by phase 7
	 * as leaked, stayed counted past the rebuild, set by -y's second
	 * pass.
	 */
	if (c->index_bad && !c->tree_left && !rp->o->dry_run && !rp->o->preen &&
	    c->blocks - c->index_unread != kv_le64_to_cpu(d->nblocks)) {
		d->nblocks = kv_cpu_to_le64(c->blocks - c->index_unread);
		kvfs_dinode_set_crc(c->dip, g);
		c->changed = true;
		return 0;
	}
	if (!c->index_bad && !c->tree_left &&
	    c->blocks != kv_le64_to_cpu(d->nblocks) &&
	    rp_fix(c, true, KVFS_NULLBLOCK,
		   "inode %" PRIu64 " says %" PRIu64
		   " blocks, its forks map %" PRIu64 ": set",
		   c->ino, (uint64_t)kv_le64_to_cpu(d->nblocks), c->blocks))
		d->nblocks = kv_cpu_to_le64(c->blocks);
	return 0;
}

/* The cluster buffer of fsb, read even if an inode in it is not one. */
int rp_read_cluster(struct rp *rp, uint64_t fsb, struct kv_buf **bpp)
{
	int err = kv_buf_read(rp->bc, fsb, 1, &kvfs_inode_buf_ops, bpp);

	if (err != -EUCLEAN && err != -EBADMSG)
		return err;
	/*
	 * Each inode is judged on its own below; written back with crcs.
	 * A dry run writes nothing back: the buffer stays untyped, for
	 * the check that may share the cache to verify it.
	 */
	err = kv_buf_read(rp->bc, fsb, 1, NULL, bpp);
	if (!err && !rp->o->dry_run) {
		kv_buf_lock(*bpp);
		(*bpp)->b_ops = &kvfs_inode_buf_ops;
		kv_buf_unlock(*bpp);
	}
	return err;
}

/*
 * Phase 4's walk: the inode clusters of every chunk of every AG whose
 * chunks are known, in order, one at a time (rp_iwalk_next(),
 * rp_iwalk_cluster()); a chunk's free mask is settled after its last
 * cluster, an AG's records written after its last chunk.
 */
struct rp_iwalk {
	struct rp *rp;
	struct kvfs_ira ra;
	uint8_t *dip; /* the inode being checked (a copy) */
	uint32_t agno;
	size_t k; /* the chunk of rp->ags[agno] */
	uint32_t i; /* its next cluster's first inode, from the chunk's */
	bool open; /* chunk k begun: mask and sound are its */
	uint64_t mask, sound;
	uint64_t done, total; /* chunks, for the progress */
	/* the cluster last checked on bytes handed in: its sound inodes */
	uint64_t kino, kbits;
	uint32_t kn;
};

static uint32_t cluster_inodes(const struct kvfs_geom *g)
{
	return g->inopblock < KVFS_INODES_PER_CHUNK ? g->inopblock :
						      KVFS_INODES_PER_CHUNK;
}

/* Chunk w->k's last cluster checked: its sound inodes, its free mask. */
static int chunk_end(struct rp_iwalk *w)
{
	struct rp *rp = w->rp;
	struct rp_ag *a = &rp->ags[w->agno];
	struct kvfs_inobt_rec *r = &a->chunks[w->k];
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
	unsigned nfree = 0;
	int err = 0;

	w->open = false;
	if (rp->o->dry_run && w->sound) {
		err = kvgrow((void **)&rp->sound, &rp->sound_cap, rp->nsound,
			     sizeof(*rp->sound), 0);
		if (!err)
			rp->sound[rp->nsound++] = (struct rp_sound){
				.ino = kvfs_agino_to_ino(&rp->g, w->agno,
							 start),
				.mask = w->sound,
			};
	}
	if (err || w->mask == kv_le64_to_cpu(r->freemask))
		return err;
	for (unsigned i = 0; i < KVFS_INODES_PER_CHUNK; i++)
		nfree += (w->mask >> i & 1) && !(holes >> i & 1);
	r->freemask = kv_cpu_to_le64(w->mask);
	r->freecount = (uint8_t)nfree;
	a->chunks_changed = true;
	return 0;
}

static int write_chunks(struct rp *rp, uint32_t agno, struct rp_ag *a);

/*
 * The next cluster to check: 1 and its first inode and block, else 0 when
 * the walk is over; chunks and AGs passed are settled on the way.
 */
static int rp_iwalk_next(struct rp_iwalk *w, uint64_t *ino, uint64_t *fsb)
{
	struct rp *rp = w->rp;
	const struct kvfs_geom *g = &rp->g;
	uint32_t per = cluster_inodes(g);
	int err;

	while (w->agno < g->agcount) {
		struct rp_ag *a = &rp->ags[w->agno];
		uint32_t start;
		uint64_t holes;

		if (!a->ino_ok || w->k >= a->nchunks) {
			/*
			 * a tree rebuilt in phase 7 takes the records there;
			 * a dry run's stay in memory, for phase 7's counts
			 */
			if (a->ino_ok && a->chunks_changed &&
			    !a->inobt_rebuild && !rp->o->dry_run) {
				err = rp_will_write(rp);
				if (!err)
					err = write_chunks(rp, w->agno, a);
				if (err)
					return err;
			}
			w->agno++;
			w->k = 0;
			w->i = 0;
			continue;
		}
		start = kv_le32_to_cpu(a->chunks[w->k].startino);
		holes = kvfs_inobt_holes(
			kv_le16_to_cpu(a->chunks[w->k].holemask));
		if (!w->open) {
			rp_progress(rp, w->done++, w->total);
			w->open = true;
			w->mask = kv_le64_to_cpu(a->chunks[w->k].freemask);
			w->sound = 0;
		}
		while (w->i < KVFS_INODES_PER_CHUNK && (holes >> w->i & 1))
			w->i += per;
		if (w->i >= KVFS_INODES_PER_CHUNK) {
			err = chunk_end(w);
			if (err)
				return err;
			w->k++;
			w->i = 0;
			continue;
		}
		*ino = kvfs_agino_to_ino(g, w->agno, start + w->i);
		*fsb = kvfs_agb_to_fsb(g, w->agno,
				       kvfs_agino_to_agbno(g, start + w->i));
		return 1;
	}
	return 0;
}

/*
 * The cluster rp_iwalk_next() named: each inode copied from src (its
 * block's bytes, the check's, NULL: read in runs by w->ra, or through the
 * cache when that cannot), checked, and written back into the cluster's
 * cache buffer when changed; a dry run's trial copy (rp_take_fix()) goes
 * into src, its crc set as a write-back sets it, for the check to judge
 * (*tookp set).  *soundp: bit j, its j-th inode sound and unchanged.
 */
static int rp_iwalk_cluster(struct rp_iwalk *w, uint64_t fsb, uint8_t *src,
			    uint64_t *soundp, bool *tookp)
{
	struct rp *rp = w->rp;
	const struct kvfs_geom *g = &rp->g;
	struct rp_ag *a = &rp->ags[w->agno];
	uint32_t agino = kv_le32_to_cpu(a->chunks[w->k].startino) + w->i;
	uint32_t first = agino & (g->inopblock - 1);
	uint32_t per = cluster_inodes(g), i = w->i;
	struct kv_buf *bp = NULL;
	int err = 0;

	const uint8_t *from = src;

	*soundp = 0;
	*tookp = false;
	w->i += per;
	if (!from)
		from = kvfs_ira_block(&w->ra, w->agno, a->chunks, a->nchunks,
				      w->k, fsb);
	if (!from) {
		err = rp_read_cluster(rp, fsb, &bp);
		if (err)
			return err;
	}
	for (uint32_t j = 0; j < per && !err; j++) {
		size_t off = (size_t)(first + j) << g->inodelog;
		struct ino_ctx c = {
			.rp = rp,
			.ino = kvfs_agino_to_ino(g, w->agno, agino + j),
			.dip = w->dip,
		};
		bool in_use = !(w->mask >> (i + j) & 1);

		if (bp)
			kv_buf_lock(bp);
		memcpy(w->dip, bp ? (uint8_t *)bp->b_addr + off : from + off,
		       g->inodesize);
		if (bp)
			kv_buf_unlock(bp);
		err = check_inode(&c, &in_use);
		kvfree(c.recs);
		kvfree(c.tblks);
		kvfree(c.sf_was);
		if (err)
			break;
		if (c.sound && !c.changed) {
			w->sound |= 1ull << (i + j);
			*soundp |= 1ull << j;
		}
		if (c.trial && src) {
			kvfs_dinode_set_crc(w->dip, g);
			memcpy(src + off, w->dip, g->inodesize);
			*tookp = true;
		}
		if (in_use)
			w->mask &= ~(1ull << (i + j));
		else
			w->mask |= 1ull << (i + j);
		if (c.changed)
			err = rp_will_write(rp);
		/* the window's copy of the cluster is not changed */
		if (c.changed && !err && !bp)
			err = rp_read_cluster(rp, fsb, &bp);
		if (c.changed && !err) {
			kv_buf_lock(bp);
			memcpy((uint8_t *)bp->b_addr + off, w->dip,
			       g->inodesize);
			kv_buf_mark_dirty(bp);
			kv_buf_unlock(bp);
		}
	}
	if (bp)
		kv_buf_rele(bp);
	return err;
}

/*
 * The checker's walk hands in the cluster of inode ino (block fsb's bytes
 * blk): the clusters before it that it skipped are checked as read here,
 * then this one on blk when it is the walk's next, the fixes said of its
 * inodes put into blk (returns 1 then: the check judges the inodes as
 * -y's phase 4 leaves them).  A dry run's device changes under neither
 * walk.
 */
static int rp_iwalk_offer(void *priv, uint64_t ino, uint64_t fsb, uint8_t *blk)
{
	struct rp_iwalk *w = priv;
	uint64_t next, nfsb, sound;
	bool took;
	int err;

	w->kn = 0;
	for (;;) {
		err = rp_iwalk_next(w, &next, &nfsb);
		if (err <= 0 || next >= ino)
			break;
		err = rp_iwalk_cluster(w, nfsb, NULL, &sound, &took);
		if (err)
			return err;
	}
	if (err < 0)
		return err;
	if (!err || next != ino || nfsb != fsb)
		return 0;
	err = rp_iwalk_cluster(w, fsb, blk, &sound, &took);
	if (err)
		return err;
	w->kino = ino;
	w->kn = cluster_inodes(&w->rp->g);
	w->kbits = sound;
	return took;
}

/* Whether inode ino, of the cluster last handed in, passed phase 4. */
static bool rp_iwalk_known(void *priv, uint64_t ino)
{
	const struct rp_iwalk *w = priv;

	return ino >= w->kino && ino - w->kino < w->kn &&
	       (w->kbits >> (ino - w->kino) & 1);
}

/* The AG's inode-chunk tree leaves take the changed free masks. */
static int write_chunks(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	const struct kvfs_btree_ops *ops = &kvfs_inobt_ops;
	size_t k = 0;
	int err = 0;

	(void)agno;
	for (size_t l = 0; l < a->ninoleaf && !err; l++) {
		struct kv_buf *bp;
		struct kvfs_btree_block *b;

		err = kv_buf_read(rp->bc, a->inoleaf[l], 1, &kvfs_inobt_buf_ops,
				  &bp);
		if (err)
			break;
		kv_buf_lock(bp);
		b = bp->b_addr;
		/* the walk gave leaves and records in the same key order */
		for (unsigned i = 0;
		     i < kv_le16_to_cpu(b->numrecs) && k < a->nchunks; i++, k++)
			memcpy(kvfs_btree_rec(b, ops, i), &a->chunks[k],
			       sizeof(a->chunks[k]));
		kv_buf_mark_dirty(bp);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	return err;
}

/* Every chunk's blocks, before any inode claims anything. */
static int claim_chunks(struct rp *rp, uint32_t agno, struct rp_ag *a)
{
	const struct kvfs_geom *g = &rp->g;
	uint32_t per = g->inopblock < KVFS_INODES_PER_CHUNK ?
			       g->inopblock :
			       KVFS_INODES_PER_CHUNK;
	int err = 0;

	for (size_t k = 0; k < a->nchunks && !err; k++) {
		uint32_t start = kv_le32_to_cpu(a->chunks[k].startino);
		uint64_t holes =
			kvfs_inobt_holes(kv_le16_to_cpu(a->chunks[k].holemask));

		for (uint32_t i = 0; i < KVFS_INODES_PER_CHUNK && !err;
		     i += per) {
			uint64_t fsb = kvfs_agb_to_fsb(
				g, agno, kvfs_agino_to_agbno(g, start + i));

			/* blocks of more than 64 inodes: their first chunk */
			if ((holes >> i & 1) ||
			    ((start + i) & (g->inopblock - 1)) ||
			    kvfs_repair_bmap_test(&rp->map, fsb))
				continue;
			err = kvfs_repair_bmap_claim(&rp->map, fsb, 1,
						     KVFS_OWN_INODES, agno);
		}
	}
	return err;
}

static int sound_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct rp_sound *)a)->ino;
	uint64_t y = ((const struct rp_sound *)b)->ino;

	return x < y ? -1 : x > y;
}

bool rp_inode_sound(void *priv, uint64_t ino)
{
	const struct rp *rp = priv;
	size_t lo = 0, hi = rp->nsound;

	/* the last chunk starting at or before ino */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rp->sound[mid].ino <= ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && ino - rp->sound[lo - 1].ino < KVFS_INODES_PER_CHUNK &&
	       (rp->sound[lo - 1].mask >> (ino - rp->sound[lo - 1].ino) & 1);
}

int rp_phase_inodes(struct rp *rp)
{
	struct rp_iwalk w = { .rp = rp };
	uint64_t ino, fsb, sound;
	bool took;
	int err = 0;

	rp->nsound = 0;
	for (uint32_t agno = 0; agno < rp->g.agcount && !err; agno++) {
		w.total += rp->ags[agno].nchunks;
		if (rp->ags[agno].ino_ok)
			err = claim_chunks(rp, agno, &rp->ags[agno]);
	}
	if (err)
		return err;
	w.dip = kvmalloc(rp->g.inodesize, 0);
	if (!w.dip)
		return -ENOMEM;
	err = kvfs_ira_init(&w.ra, rp->bc, &rp->g);
	/* a dry run's detection walks the inodes with us (rp_detect_early()) */
	if (!err && rp->o->dry_run && !rp->sb_bad)
		err = rp_detect_early(rp, rp_iwalk_offer, rp_iwalk_known, &w);
	while (!err && (err = rp_iwalk_next(&w, &ino, &fsb)) > 0)
		err = rp_iwalk_cluster(&w, fsb, NULL, &sound, &took);
	kvfs_ira_destroy(&w.ra);
	kvfree(w.dip);
	for (size_t i = 0; i < rp->nheld; i++)
		kv_buf_rele(rp->held[i]);
	kvfree(rp->held);
	rp->held = NULL;
	rp->nheld = rp->held_cap = 0;
	for (size_t i = 0; i < rp->nrebuilds; i++) {
		if (!err)
			err = rp_fork_rebuild(rp, &rp->rebuilds[i]);
		kvfree(rp->rebuilds[i].recs);
		kvfree(rp->rebuilds[i].old);
	}
	kvfree(rp->rebuilds);
	rp->rebuilds = NULL;
	rp->nrebuilds = rp->rebuilds_cap = 0;
	/* a scan's chunks may come in any order: sorted for the lookups */
	if (!err && rp->nsound)
		qsort(rp->sound, rp->nsound, sizeof(*rp->sound), sound_cmp);
	return err;
}
