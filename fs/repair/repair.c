// SPDX-License-Identifier: GPL-2.0
/*
 * The repair driver (fs/repair/repair.h): the phases in order, the
 * problem accounting they share, the namespace phases on a mount, and the
 * whole check at the end.
 *
 * Phase 7 (space) runs right after phase 4, before the namespace phases:
 * they change the namespace through the core's transactions, whose
 * allocator must find free-space trees that agree with the ownership map.
 * The announcements follow the order the phases run in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf.h"
#include "fs/io/dev.h"
#include "fs/mount.h"
#include "fs/repair/priv.h"
#include "fs/format/sb.h"
#include "fs/check/scrub.h"

static const char *const phase_names[KVFS_RP_NPHASES] = {
	[KVFS_RP_SUPERBLOCK] = "superblock",
	[KVFS_RP_LOG] = "log",
	[KVFS_RP_AG_HEADERS] = "AG headers",
	[KVFS_RP_INODES] = "inodes",
	[KVFS_RP_DIRECTORIES] = "directories",
	[KVFS_RP_CONNECTIVITY] = "connectivity",
	[KVFS_RP_SPACE] = "space",
};

const char *kvfs_repair_phase_name(enum kvfs_repair_phase ph)
{
	if (ph < KVFS_RP_SUPERBLOCK || ph >= KVFS_RP_NPHASES)
		return "?";
	return phase_names[ph];
}

static void report(struct rp *rp, uint64_t ino, uint64_t blkno, bool fixed,
		   const char *fmt, va_list ap)
{
	char what[320];

	vsnprintf(what, sizeof(what), fmt, ap);
	rp->res->found++;
	if (fixed)
		rp->res->fixed++;
	else
		rp->res->left++;
	if (rp->o->ops && rp->o->ops->problem)
		rp->o->ops->problem(rp->o->arg, rp->phase, ino, blkno, what,
				    fixed);
}

bool rp_vproblem(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		 const char *fmt, va_list ap)
{
	bool fix = !rp->o->dry_run && (!rp->o->preen || safe);

	report(rp, ino, blkno, fix, fmt, ap);
	return fix;
}

bool rp_problem(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		const char *fmt, ...)
{
	va_list ap;
	bool fix;

	va_start(ap, fmt);
	fix = rp_vproblem(rp, safe, ino, blkno, fmt, ap);
	va_end(ap);
	return fix;
}

bool rp_problem_y(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		  const char *fmt, ...)
{
	va_list ap;
	bool fix;

	va_start(ap, fmt);
	fix = rp_vproblem(rp, safe, ino, blkno, fmt, ap);
	va_end(ap);
	return rp_would_fix(rp, fix);
}

void rp_unfixable(struct rp *rp, uint64_t ino, uint64_t blkno, const char *fmt,
		  ...)
{
	va_list ap;

	va_start(ap, fmt);
	report(rp, ino, blkno, false, fmt, ap);
	va_end(ap);
}

void rp_notice(struct rp *rp, const char *fmt, ...)
{
	char what[320];
	va_list ap;

	if (!rp->o->ops || !rp->o->ops->notice)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	rp->o->ops->notice(rp->o->arg, what);
}

void rp_progress(struct rp *rp, uint64_t done, uint64_t total)
{
	if (rp->o->ops && rp->o->ops->progress)
		rp->o->ops->progress(rp->o->arg, done, total);
}

int rp_will_write(struct rp *rp)
{
	if (rp->needsrepair)
		return 0;
	rp->needsrepair = true;
	rp->g.feat_incompat |= KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
	return rp_sb_write(rp);
}

void rp_ags_free(struct rp *rp)
{
	if (!rp->ags)
		return;
	for (uint32_t i = 0; i < rp->g.agcount; i++) {
		struct rp_ag *a = &rp->ags[i];

		kvfree(a->bno);
		kvfree(a->cnt);
		kvfree(a->fsbt);
		kvfree(a->agfl);
		kvfree(a->chunks);
		kvfree(a->inoleaf);
		kvfree(a->inobt_new);
		kvfree(a->bmbt_new);
	}
	kvfree(rp->ags);
	rp->ags = NULL;
}

static void begin(struct rp *rp, enum kvfs_repair_phase ph)
{
	rp->phase = ph;
	if (rp->o->ops && rp->o->ops->phase)
		rp->o->ops->phase(rp->o->arg, ph);
}

/* Phases 3, 4 and 7 over the device, through one buffer cache. */
static int space_phases(struct rp *rp)
{
	uint64_t used;
	int err;

	err = kv_bcache_create(rp->dev, rp->g.blocksize, 256u << 20, &rp->bc);
	if (err)
		return err;
	kv_bcache_set_private(rp->bc, &rp->g);
	rp->blk = kvmalloc(rp->g.blocksize, 0);
	rp->ags = kvcalloc(rp->g.agcount, sizeof(*rp->ags), 0);
	err = rp->blk && rp->ags ?
		      kvfs_repair_bmap_init(&rp->map, rp->g.dblocks) :
		      -ENOMEM;
	/*
	 * About a claim and a half for each inode in use, as the superblock
	 * counts them (at most one a block): the claims not grown by
	 * doubling copies, each into memory faulted in anew.
	 */
	if (!err) {
		used = rp->g.icount > rp->g.ifree ? rp->g.icount - rp->g.ifree :
						    0;
		used = used < rp->g.dblocks ? used : rp->g.dblocks;
		kvfs_repair_bmap_reserve(&rp->map, used + used / 2);
	}
	if (!err) {
		begin(rp, KVFS_RP_AG_HEADERS);
		err = rp_phase_ag(rp);
	}
	if (!err) {
		begin(rp, KVFS_RP_INODES);
		err = rp_phase_inodes(rp);
	}
	if (!err)
		err = rp_unlinked_lists(rp);
	if (!err) {
		begin(rp, KVFS_RP_SPACE);
		err = rp_phase_space(rp);
	}
	if (!err && !rp->o->dry_run)
		err = kv_bcache_flush(rp->bc);
	kvfs_repair_bmap_destroy(&rp->map);
	rp_ags_free(rp);
	kvfree(rp->blk);
	rp->blk = NULL;
	kv_bcache_destroy(rp->bc);
	rp->bc = NULL;
	return err;
}

/*
 * Phases 5-6 on a mount of the image, space now consistent.  A dry run's
 * read-only mount changes nothing and reads the image as the final check
 * would (the same superblock, the log clean): the whole check its last
 * detection made is kept in *sr for final_check(), *have_sr set.
 */
static int namespace_phases(struct rp *rp, struct kvfs_scrub_result *sr,
			    bool *have_sr)
{
	struct kvfs_mount_opts mo = { .rdonly = rp->o->dry_run,
				      .dev = rp->ovl,
				      .lsn_unchecked = true };
	struct kv_dev *dev = NULL;
	struct kvfs_mount *mp;
	int err;

	begin(rp, KVFS_RP_DIRECTORIES);
	/*
	 * Its whole check may be the run's last: read through a watch.  An
	 * open that fails is the mount's to say; what it reads then is not
	 * watched, and the future-LSN walk is made whatever the reads met.
	 */
	if (rp->o->dry_run && !rp->ovl) {
		if (!kv_dev_open(rp->path, KV_DEV_RDONLY | KV_DEV_EXCL, &dev)) {
			rp_lsn_watch(rp, dev);
			mo.dev = dev;
		} else {
			rp->lsn_seen = UINT64_MAX;
		}
	}
	err = kvfs_mount_open(rp->path, &mo, &mp);
	if (err) {
		kv_dev_close(dev);
		if (rp->o->dry_run) {
			rp_notice(rp,
				  "directories and connectivity: not checked "
				  "(%s)",
				  kvfs_mount_error());
			return 0;
		}
		rp_unfixable(rp, KVFS_NULLINO, KVFS_NULLBLOCK,
			     "the filesystem does not mount after the space "
			     "repair (%s): directories not checked",
			     kvfs_mount_error());
		return 0;
	}
	/* the early detection stands for the mount's if it reads the same */
	if (rp->early && memcmp(&rp->early_g, &mp->g, sizeof(mp->g))) {
		rp_detect_free(rp->early);
		rp->early = NULL;
	}
	err = rp_namespace(
		mp, rp->o, rp->res, rp->o->dry_run && !rp->sb_bad ? sr : NULL,
		rp->o->dry_run && !rp->sb_bad ? rp_inode_sound : NULL, rp,
		rp->early);
	*have_sr = !err && rp->o->dry_run && !rp->sb_bad;
	if (err)
		kvfs_mount_shutdown(mp, "namespace repair failed");
	kvfs_mount_close(mp);
	kv_dev_close(dev);
	return err;
}

/*
 * The whole check (fs/check/scrub.h) of the image as the repair leaves it; sr
 * holds it already when have_sr.
 */
static int final_check(struct rp *rp, struct kvfs_scrub_result *sr,
		       bool have_sr)
{
	bool had = rp->res->found != 0;
	struct kvfs_geom g;
	struct kv_dev *dev;
	int err = 0;

	if (have_sr)
		goto report;
	/*
	 * The early detection checked the same device under the geometry
	 * read here (a dry run over a sound primary) when the mount failed.
	 */
	if (rp->early) {
		*sr = *rp_detect_result(rp->early);
		goto report;
	}
	dev = rp->ovl;
	if (!dev)
		err = kv_dev_open(rp->path, KV_DEV_RDONLY, &dev);
	if (err)
		return err;
	rp_lsn_watch(rp, dev);
	/* a dry run over a damaged primary checks with the copy's geometry */
	if (rp->o->dry_run && rp->sb_bad)
		g = rp->g;
	else
		err = kvfs_sb_read(dev, &g);
	if (!err)
		err = kvfs_scrub_dev(dev, &g, sr);
	if (dev != rp->ovl)
		kv_dev_close(dev);
	if (err == -EUCLEAN)
		err = 0;
	if (err)
		return err;
report:
	err = rp_future_lsns(rp);
	if (err)
		return err;
	rp->phase = KVFS_RP_SPACE;
	/*
	 * What the run left (a dry run: found) was said, in its words: the
	 * checker counts the same faults its own way (a run of leaked blocks
	 * one finding or several, an inode's faults one a field), so its
	 * count is said as its own, not as the lines above.
	 */
	if (sr->nfindings && (rp->res->left || (rp->o->dry_run && had))) {
		rp_notice(rp,
			  "the whole check counts %llu findings (the "
			  "problems above, as the checker counts them)",
			  (unsigned long long)sr->nfindings);
		return 0;
	}
	for (unsigned i = 0; i < sr->nkept; i++)
		rp_unfixable(rp, sr->findings[i].ino, sr->findings[i].blkno,
			     "%s%s: %s", rp->o->dry_run ? "" : "still wrong: ",
			     kvfs_scrub_kind_name(sr->findings[i].kind),
			     sr->findings[i].what);
	return 0;
}

/*
 * A repair's memory per inode in use, at most: its record in the checker's
 * inode and name tables and its claims, with the copies their growth
 * makes (~52 bytes measured at 3.9M inodes, whose run failed in 288 MiB).
 */
#define REPAIR_INODE_BYTES 128

size_t kvfs_repair_budget(struct kv_dev *dev)
{
	/* bytes of one map: a bit per block of the smallest size */
	uint64_t map = (kv_dev_size(dev) >> KVFS_MIN_BLOCKLOG) / 8 + 8, n;
	size_t budget = KV_DEFAULT_BUDGET + 2 * (size_t)map;
	struct kvfs_geom g;
	uint32_t bs;
	void *blk;

	/* the primary's count of inodes in use: a hint, none if damaged */
	if (kvfs_sb_blocksize(dev, &bs))
		return budget;
	/* malloc(): kvalloc is not up yet, its budget is what this sizes */
	blk = malloc(bs);
	if (blk && !kv_dev_pread(dev, blk, bs, 0) &&
	    !kvfs_sb_from_disk(blk, bs, 0, NULL, &g) && g.icount > g.ifree) {
		n = g.icount - g.ifree;
		if (n <= g.dblocks << g.inopblog)
			budget += (size_t)n * REPAIR_INODE_BYTES;
	}
	free(blk);
	return budget;
}

int kvfs_repair_clean(const char *path, struct kvfs_geom *g)
{
	struct kv_dev *dev;
	int err;

	err = kv_dev_open(path, KV_DEV_RDONLY, &dev);
	if (err)
		return err;
	err = kvfs_sb_read(dev, g);
	if (!err && (g->state != KVFS_STATE_CLEAN ||
		     (g->feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR)))
		err = 1;
	else if (!err)
		err = rp_log_clean(dev, g) == 1 ? 0 : 1;
	kv_dev_close(dev);
	return err < 0 ? err : !err;
}

int kvfs_repair(const char *path, const struct kvfs_repair_opts *o,
		struct kvfs_repair_result *res)
{
	struct rp rp = { .o = o, .res = res, .path = path };
	struct kvfs_scrub_result *sr;
	bool have_sr = false;
	uint64_t fixed;
	int err;

	memset(res, 0, sizeof(*res));
	sr = kvmalloc(sizeof(*sr), 0);
	if (!sr)
		return -ENOMEM;
	err = kv_dev_open(path, o->dry_run ? KV_DEV_RDONLY : 0, &rp.dev);
	if (err)
		goto out;
	begin(&rp, KVFS_RP_SUPERBLOCK);
	err = rp_phase_sb(&rp);
	/* from here rp.g is the filesystem's */
	if (!err)
		rp_lsn_watch(&rp, rp.dev);
	if (!err) {
		begin(&rp, KVFS_RP_LOG);
		err = rp_phase_log(&rp);
	}
	if (!err)
		err = space_phases(&rp);
	if (rp.dev != rp.ovl)
		kv_dev_close(rp.dev);
	rp.dev = NULL;
	fixed = res->fixed;
	if (!err)
		err = namespace_phases(&rp, sr, &have_sr);
	/*
	 * What the namespace repair let go of without freeing it (the
	 * unreadable blocks of a rebuilt directory index) is settled by a
	 * second pass over the space, as xfs_repair's later phases do.  Its
	 * superblock is the one the mount left: the summary counters the
	 * first pass set were moved by the namespace repair (a rebuilt
	 * directory's blocks), and were found "wrong" against the mount's.
	 * Said, or its phases, announced again after phase 6, read as a run
	 * gone back.
	 */
	if (!err && !o->dry_run && res->fixed > fixed) {
		rp_notice(&rp, "second pass over the space (phases 3, 4, 7): "
			       "the namespace repair changed it");
		err = kv_dev_open(path, 0, &rp.dev);
		if (!err) {
			rp_lsn_watch(&rp, rp.dev);
			err = kvfs_sb_read(rp.dev, &rp.g);
			if (!err)
				err = space_phases(&rp);
			kv_dev_close(rp.dev);
			rp.dev = NULL;
		}
	}
	if (!err)
		err = final_check(&rp, sr, have_sr);
	kv_dev_close(rp.ovl);
out:
	rp_detect_free(rp.early);
	kvfree(rp.sound);
	kvfree(sr);
	return err;
}
