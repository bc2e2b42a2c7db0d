// SPDX-License-Identifier: GPL-2.0
/*
 * Phase 1, the superblock: the primary verified (or found again from the
 * copies when it is damaged, or when its layout is not the one most of
 * them share: the first copy on the device whose geometry most of the
 * copies that verify share), then every AG's copy against it.
 * Direct device I/O: the geometry, and so the buffer cache, exist only after
 * this phase.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/dev.h"
#include "fs/repair/priv.h"
#include "fs/format/sb.h"

#define SCAN_CHUNK (1u << 20)
#define SCAN_STEP (1u << KVFS_MIN_BLOCKLOG)

int rp_sb_write(struct rp *rp)
{
	uint8_t *blk = kvmalloc(rp->g.blocksize, 0);
	int err;

	if (!blk)
		return -ENOMEM;
	kvfs_sb_to_disk(&rp->g, 0, blk);
	err = kv_dev_pwrite(rp->dev, blk, rp->g.blocksize, 0);
	if (!err)
		err = kv_dev_flush(rp->dev);
	kvfree(blk);
	return err;
}

/*
 * Where things are: what a primary that verifies can still have wrong
 * (a field damaged with its crc right) and the copies outvote.  The name
 * of the first field that differs, NULL if none.
 */
static const char *layout_diff(const struct kvfs_geom *a,
			       const struct kvfs_geom *b)
{
	if (a->blocksize != b->blocksize)
		return "blocksize";
	if (a->dblocks != b->dblocks)
		return "dblocks";
	if (a->agblocks != b->agblocks)
		return "agblocks";
	if (a->agcount != b->agcount)
		return "agcount";
	if (a->logstart != b->logstart)
		return "logstart";
	if (a->logblocks != b->logblocks)
		return "logblocks";
	if (a->inodesize != b->inodesize)
		return "inodesize";
	if (a->rootino != b->rootino)
		return "rootino";
	if (a->lpfino != b->lpfino)
		return "lpfino";
	return NULL;
}

/*
 * Same geometry: what scrub compares between a copy and the primary (the
 * layout, the features and the UUID).
 */
static bool same_geom(const struct kvfs_geom *a, const struct kvfs_geom *b)
{
	return !layout_diff(a, b) && a->feat_incompat == b->feat_incompat &&
	       a->feat_ro_compat == b->feat_ro_compat &&
	       a->feat_compat == b->feat_compat &&
	       !memcmp(a->uuid, b->uuid, KVFS_UUID_SIZE);
}

/*
 * AG agno's copy where g puts it, read and decoded against metadata UUID
 * meta_uuid (NULL: its own header's): 0 or error.
 */
static int read_copy(struct kv_dev *dev, const struct kvfs_geom *g,
		     uint32_t agno, const uint8_t *meta_uuid, uint8_t *blk,
		     struct kvfs_geom *c)
{
	int err = kv_dev_pread(
		dev, blk, g->blocksize,
		kvfs_fsb_to_bytes(g, kvfs_agb_to_fsb(g, agno, KVFS_SB_AGBNO)));

	return err ? err :
		     kvfs_sb_from_disk(blk, g->blocksize, agno, meta_uuid, c);
}

/*
 * Of the copies of AGs 1.. where c puts them, those that verify (*good)
 * and, of these, those sharing c's geometry (the return; with
 * layout_only, its layout alone).
 */
static uint32_t votes(struct kv_dev *dev, const struct kvfs_geom *c,
		      uint8_t *blk, bool layout_only, uint32_t *good)
{
	struct kvfs_geom o;
	uint32_t n = 0;

	*good = 0;
	for (uint32_t agno = 1; agno < c->agcount; agno++) {
		if (read_copy(dev, c, agno, c->meta_uuid, blk, &o))
			continue;
		(*good)++;
		if (layout_only ? !layout_diff(&o, c) : same_geom(&o, c))
			n++;
	}
	return n;
}

/*
 * The superblock copy at byte off, if one is there and sits where its
 * own geometry puts it: 0, else -ENOENT.
 */
static int copy_at(struct kv_dev *dev, uint64_t off, const uint8_t *head,
		   uint8_t *blk, struct kvfs_geom *c)
{
	const struct kvfs_dsb *sb = (const void *)head;
	uint32_t bs = kv_le32_to_cpu(sb->blocksize);
	uint64_t agno = kv_le64_to_cpu(sb->hdr.owner);

	if (kv_le32_to_cpu(sb->hdr.magic) != KVFS_SB_MAGIC || !agno ||
	    agno >= KVFS_AG_MAX_COUNT || bs < (1u << KVFS_MIN_BLOCKLOG) ||
	    bs > (1u << KVFS_MAX_BLOCKLOG) || (bs & (bs - 1)) || off % bs ||
	    off + bs > kv_dev_size(dev))
		return -ENOENT;
	if (kv_dev_pread(dev, blk, bs, off) ||
	    kvfs_sb_from_disk(blk, bs, (uint32_t)agno, NULL, c) ||
	    kvfs_fsb_to_bytes(c, kvfs_agb_to_fsb(c, (uint32_t)agno, 0)) !=
		    off ||
	    kvfs_fsb_to_bytes(c, c->dblocks) > kv_dev_size(dev))
		return -ENOENT;
	return 0;
}

/*
 * Scan the device for the first copy whose geometry more than half of the
 * copies share; *agnop says which AG's copy it was.  Copies that do not
 * verify (damaged as the primary is) have no vote: failing that, the copy
 * shared by more than half of those that verify, the most of them (a
 * primary and one copy of three AGs bad leave one good copy to decide,
 * and a leftover copy of an older filesystem met first never outvotes the
 * real ones).
 */
static int find_copy(struct rp *rp, struct kvfs_geom *g, uint32_t *agnop)
{
	uint64_t size = kv_dev_size(rp->dev);
	uint8_t *chunk = kvmalloc(SCAN_CHUNK, 0);
	uint8_t *blk = kvmalloc(1u << KVFS_MAX_BLOCKLOG, 0);
	uint32_t best = 0;
	int err = -ENOENT;

	if (!chunk || !blk) {
		err = -ENOMEM;
		goto out;
	}
	/* AG 1 starts at least KVFS_AG_MIN_BYTES in */
	for (uint64_t base = KVFS_AG_MIN_BYTES; base < size && err == -ENOENT;
	     base += SCAN_CHUNK) {
		size_t len =
			size - base < SCAN_CHUNK ? size - base : SCAN_CHUNK;

		rp_progress(rp, base, size);
		if (kv_dev_pread(rp->dev, chunk, len, base))
			break;
		for (size_t off = 0; off + sizeof(struct kvfs_dsb) <= len;
		     off += SCAN_STEP) {
			struct kvfs_geom c;
			uint32_t agree, good;

			if (copy_at(rp->dev, base + off, chunk + off, blk, &c))
				continue;
			/* votes() counts this copy too */
			agree = votes(rp->dev, &c, blk, false, &good);
			if (2 * agree <= good || agree <= best)
				continue;
			best = agree;
			*g = c;
			*agnop = kvfs_fsb_to_agno(&c,
						  (base + off) >> c.blocklog);
			if (2 * agree > c.agcount - 1) {
				err = 0;
				break;
			}
		}
	}
	if (err == -ENOENT && best)
		err = 0;
out:
	kvfree(chunk);
	kvfree(blk);
	return err;
}

/*
 * A primary that verifies but whose layout the copies outvote
 * (xfs_repair's verify_set_primary_sb()): of the copies where it puts
 * them, fewer than half of those that verify share its layout (none
 * verifying counts so), and the scan of the device finds a layout more
 * than half of its copies share, another.  With one copy (two AGs) it
 * is one word against another: the primary's stands.  -ENOENT if not
 * outvoted; 0 with that copy's geometry in *c and its AG in *agnop.
 */
static int outvoted(struct rp *rp, struct kvfs_geom *c, uint32_t *agnop)
{
	uint8_t *blk;
	uint32_t agree, good;
	int err;

	if (rp->g.agcount < 3)
		return -ENOENT;
	blk = kvmalloc(rp->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	agree = votes(rp->dev, &rp->g, blk, true, &good);
	kvfree(blk);
	if (2 * agree > good)
		return -ENOENT;
	err = find_copy(rp, c, agnop);
	if (!err && !layout_diff(c, &rp->g))
		err = -ENOENT;
	return err;
}

/*
 * The copy's geometry (its layout, with all that derives from it) with
 * what is the primary's own: state, features, counters, UUIDs, label.
 */
static void take_layout(struct kvfs_geom *g, const struct kvfs_geom *c)
{
	struct kvfs_geom p = *g;

	*g = *c;
	g->state = p.state;
	g->feat_compat = p.feat_compat;
	g->feat_ro_compat = p.feat_ro_compat;
	g->feat_incompat = p.feat_incompat;
	g->feat_log_incompat = p.feat_log_incompat;
	g->icount = p.icount;
	g->ifree = p.ifree;
	g->fdblocks = p.fdblocks;
	g->ctime_sec = p.ctime_sec;
	memcpy(g->uuid, p.uuid, sizeof(g->uuid));
	memcpy(g->meta_uuid, p.meta_uuid, sizeof(g->meta_uuid));
	memcpy(g->label, p.label, sizeof(g->label));
}

/*
 * A primary its copies outvote (outvoted()) is rebuilt with their layout,
 * as a damaged one is from a copy; a dry run goes on with that layout.
 * 0 (also when not outvoted), -EUCLEAN when preen may not fix it, or an
 * error.
 */
static int vote_primary(struct rp *rp)
{
	struct kvfs_geom c;
	uint32_t agno;
	bool fix;
	int err = outvoted(rp, &c, &agno);

	if (err)
		return err == -ENOENT ? 0 : err;
	rp->sb_bad = true;
	rp->g.state = KVFS_STATE_DIRTY;
	fix = rp_problem(rp, false, KVFS_NULLINO, 0,
			 "primary superblock's %s differs from most copies': "
			 "rebuilt from the copy in AG %u",
			 layout_diff(&c, &rp->g), agno);
	take_layout(&rp->g, &c);
	if (!fix)
		return rp->o->dry_run ? 0 : -EUCLEAN;
	return rp_sb_write(rp);
}

/* The identity a superblock gives the filesystem: its UUIDs. */
static bool same_identity(const struct kvfs_geom *a, const struct kvfs_geom *b)
{
	return !memcmp(a->uuid, b->uuid, KVFS_UUID_SIZE) &&
	       !memcmp(a->meta_uuid, b->meta_uuid, KVFS_UUID_SIZE);
}

/*
 * AG agno's copy where the primary's layout puts it, verified against the
 * metadata UUID of its own header, with the primary's layout: 0, else an
 * error.
 */
static int read_copy_own(struct rp *rp, uint32_t agno, uint8_t *blk,
			 struct kvfs_geom *c)
{
	int err = read_copy(rp->dev, &rp->g, agno, NULL, blk, c);

	return err ? err : layout_diff(c, &rp->g) ? -EUCLEAN : 0;
}

/*
 * Of AG 0's free-space and inode headers and the root inode, those whose
 * header is otherwise sound: how many carry metadata UUID uuid (*with),
 * how many the other one, other (*against).
 */
static void witnesses(struct rp *rp, const uint8_t *uuid, const uint8_t *other,
		      uint8_t *blk, unsigned *with, unsigned *against)
{
	static const uint32_t magic[] = { KVFS_AGF_MAGIC, KVFS_AGI_MAGIC };
	static const char *const what[] = { "AG free-space header",
					    "AG inode header" };
	const struct kvfs_geom *g = &rp->g;
	const struct kvfs_blk_hdr *h = (const void *)blk;
	uint64_t root = kvfs_ino_to_fsb(g, g->rootino);

	*with = *against = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t fsb =
			i < 2 ? kvfs_agb_to_fsb(g, 0, KVFS_AGF_AGBNO + i) :
				root;
		uint64_t off = kvfs_fsb_to_bytes(g, fsb);
		size_t len = g->blocksize;

		if (i == 2) {
			off += kvfs_ino_to_offset(g, g->rootino);
			len = g->inodesize;
		}
		if (kv_dev_pread(rp->dev, blk, len, off) ||
		    (i < 2 ? kvfs_blkhdr_verify(blk, len, magic[i], fsb, 0,
						NULL, what[i]) :
			     kvfs_blkhdr_verify_inode(blk, len, fsb, g->rootino,
						      NULL)))
			continue;
		if (!memcmp(h->uuid, uuid, KVFS_UUID_SIZE))
			(*with)++;
		else if (!memcmp(h->uuid, other, KVFS_UUID_SIZE))
			(*against)++;
	}
}

/*
 * A primary whose identity, its UUID or metadata UUID, was damaged with
 * its crc right verifies, and its layout may be the copies': then
 * check_copies() stamped that identity on every copy, and phase 3 its
 * metadata UUID on every AG header it rebuilt for the UUID alone, every
 * inode left foreign to the mount.  Outvoted when more than half of the
 * copies that verify (each against its own header's metadata UUID, where
 * the primary's layout puts it) share another identity and AG 0's headers
 * and the root inode bear it out: one of them at least carries the
 * copies' metadata UUID, none the primary's; and a UUID differing alone
 * is the copies' only if theirs is their metadata UUID, which the headers
 * carry (mkfs gives both the same).  0 with the copies' identity in *c
 * and the first such copy's AG in *agnop; -ENOENT if not outvoted.
 */
static int identity_outvoted(struct rp *rp, struct kvfs_geom *c,
			     uint32_t *agnop)
{
	const struct kvfs_geom *g = &rp->g;
	uint8_t *blk = kvmalloc(g->blocksize, 0);
	struct kvfs_geom o;
	uint32_t good = 0, agree = 0, lead = 0;
	unsigned with, against;
	int err = -ENOENT;

	if (!blk)
		return -ENOMEM;
	/* Boyer-Moore's majority vote: the one identity that may hold it */
	for (uint32_t agno = 1; agno < g->agcount; agno++) {
		if (read_copy_own(rp, agno, blk, &o))
			continue;
		good++;
		if (!lead) {
			*c = o;
			*agnop = agno;
		}
		lead += !lead || same_identity(&o, c) ? 1 : -1u;
	}
	if (!lead || same_identity(c, g))
		goto out;
	for (uint32_t agno = 1; agno < g->agcount; agno++)
		if (!read_copy_own(rp, agno, blk, &o) && same_identity(&o, c) &&
		    !agree++)
			*agnop = agno;
	if (2 * agree <= good)
		goto out;
	witnesses(rp, c->meta_uuid, g->meta_uuid, blk, &with, &against);
	if (!with || against)
		goto out;
	if (!memcmp(c->meta_uuid, g->meta_uuid, KVFS_UUID_SIZE) &&
	    memcmp(c->uuid, c->meta_uuid, KVFS_UUID_SIZE))
		goto out;
	err = 0;
out:
	kvfree(blk);
	return err;
}

/*
 * A primary whose identity its copies and AG 0's headers outvote
 * (identity_outvoted()) takes theirs, the rest of it its own; a dry run
 * goes on with it.  0 (also when not outvoted), -EUCLEAN when preen may
 * not fix it, or an error.
 */
static int vote_identity(struct rp *rp)
{
	struct kvfs_geom c;
	uint32_t agno;
	bool meta, fix;
	int err = identity_outvoted(rp, &c, &agno);

	if (err)
		return err == -ENOENT ? 0 : err;
	meta = memcmp(c.meta_uuid, rp->g.meta_uuid, KVFS_UUID_SIZE);
	rp->sb_bad = true;
	rp->g.state = KVFS_STATE_DIRTY;
	fix = rp_problem(rp, false, KVFS_NULLINO, 0,
			 "primary superblock's %s differs from most copies' "
			 "and from the metadata UUID AG 0's headers carry: "
			 "rebuilt from the copy in AG %u",
			 meta ? "meta_uuid" : "uuid", agno);
	memcpy(rp->g.uuid, c.uuid, KVFS_UUID_SIZE);
	memcpy(rp->g.meta_uuid, c.meta_uuid, KVFS_UUID_SIZE);
	if (!fix)
		return rp->o->dry_run ? 0 : -EUCLEAN;
	return rp_sb_write(rp);
}

/*
 * The copies of AGs 1.. against the primary; rewritten when they differ.
 * Needs-repair is the primary's state alone (cleared there when this
 * repair is done): a copy never has it.  Rewritten with it, from a
 * primary that had it, the copies differed from the primary the repair
 * left (-y exit 4, "copy ... differs from the primary -- NOT FIXED").
 */
static int check_copies(struct rp *rp)
{
	struct kvfs_geom cg = rp->g;
	const struct kvfs_geom *g = &cg;
	uint8_t *blk = kvmalloc(g->blocksize, 0);
	int err = 0;

	if (!blk)
		return -ENOMEM;
	cg.feat_incompat &= ~KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
	for (uint32_t agno = 1; agno < g->agcount && !err; agno++) {
		uint64_t fsb = kvfs_agb_to_fsb(g, agno, 0);
		struct kvfs_geom c;
		int bad = read_copy(rp->dev, g, agno, g->meta_uuid, blk, &c);

		if (bad == -EIO || bad == -ENOMEM) {
			err = bad;
			break;
		}
		if (!bad && same_geom(&c, g))
			continue;
		if (!rp_problem(rp, false, KVFS_NULLINO, fsb,
				"superblock copy of AG %u %s: rewritten from "
				"the primary",
				agno,
				bad ? kvfs_report_last()->msg :
				      "differs from the primary"))
			continue;
		kvfs_sb_to_disk(g, agno, blk);
		err = kv_dev_pwrite(rp->dev, blk, g->blocksize,
				    kvfs_fsb_to_bytes(g, fsb));
	}
	kvfree(blk);
	return err;
}

int rp_phase_sb(struct rp *rp)
{
	char why[sizeof(kvfs_report_last()->msg)];
	uint32_t agno;
	int err, ferr;
	bool fix;

	err = kvfs_sb_read(rp->dev, &rp->g);
	if (err && err != -ENODATA && err != -EUCLEAN && err != -EBADMSG)
		return err;
	if (err) {
		snprintf(why, sizeof(why), "%s",
			 err == -ENODATA ? "not a superblock" :
					   kvfs_report_last()->msg);
		ferr = find_copy(rp, &rp->g, &agno);
		if (ferr == -ENOENT && err == -ENODATA)
			return -ENODATA;
		if (ferr == -ENOENT) {
			rp_unfixable(rp, KVFS_NULLINO, 0,
				     "primary superblock damaged (%s) and no "
				     "good copy found",
				     why);
			return -EUCLEAN;
		}
		if (ferr)
			return ferr;
		rp->sb_bad = true;
		/* the copy's counters are mkfs's: phase 7 sets them */
		rp->g.state = KVFS_STATE_DIRTY;
		fix = rp_problem(rp, false, KVFS_NULLINO, 0,
				 "primary superblock damaged (%s): rebuilt "
				 "from the copy in AG %u",
				 why, agno);
		/*
		 * Preen stops here: any later write would rewrite the
		 * primary; a dry run goes on with the copy, to the copies'
		 * checks -y makes after it.
		 */
		if (!rp_would_fix(rp, fix))
			return -EUCLEAN;
		/*
		 * Written without the needs-repair bit: a dirty log is
		 * replayed by a mount, next.
		 */
		err = fix ? rp_sb_write(rp) : 0;
		if (err)
			return err;
	}
	if (!rp->sb_bad) {
		err = vote_primary(rp);
		if (err)
			return err;
		err = vote_identity(rp);
		if (err)
			return err;
	}
	err = kvfs_sb_check_features(&rp->g, rp->o->dry_run);
	if (err)
		return err;
	rp->res->was_clean =
		rp->g.state == KVFS_STATE_CLEAN &&
		!(rp->g.feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR);
	if ((rp->g.feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR) &&
	    !rp->needsrepair &&
	    rp_problem(rp, true, KVFS_NULLINO, 0,
		       "an earlier repair did not finish (needs-repair set): "
		       "this one clears it when done"))
		rp->needsrepair = true;
	return check_copies(rp);
}
