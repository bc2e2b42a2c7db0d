// SPDX-License-Identifier: GPL-2.0
/*
 * Mount and unmount (fs/mount.h).
 *
 * The superblock's state field says whether the filesystem was unmounted
 * cleanly: a mount writes DIRTY (flushed) before its first transaction and
 * close writes CLEAN (flushed) after the journal wrote its unmount record,
 * so tools can tell a filesystem in use or crashed from a clean one without
 * reading the log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/data/convert.h"
#include "fs/data/iext.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/inode/iunlink.h"
#include "fs/inode/inodegc.h"
#include "fs/mount.h"
#include "fs/inode/openref.h"
#include "fs/format/sb.h"
#include "journal/logwalk.h"

static __thread char mount_err[256];

__attribute__((format(printf, 2, 3))) static int fail(int err, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(mount_err, sizeof(mount_err), fmt, ap);
	va_end(ap);
	return err;
}

const char *kvfs_mount_error(void)
{
	return mount_err;
}

/*
 * Inodes and free inodes of the AGs whose inode header reads, from the
 * headers, and in *unread how many do not: the first failed read's
 * error, or 0.
 */
static int sum_agi(struct kvfs_mount *mp, uint64_t *icount, uint64_t *ifree,
		   uint32_t *unread)
{
	const struct kvfs_agi *agi;
	struct kv_buf *bp;
	uint32_t i;
	int err, first = 0;

	*icount = *ifree = 0;
	*unread = 0;
	for (i = 0; i < mp->g.agcount; i++) {
		err = kv_buf_read(mp->bc,
				  kvfs_agb_to_fsb(&mp->g, i, KVFS_AGI_AGBNO), 1,
				  &kvfs_agi_buf_ops, &bp);
		if (err) {
			(*unread)++;
			first = first ?: err;
			continue;
		}
		agi = bp->b_addr;
		*icount += kv_le32_to_cpu(agi->icount);
		*ifree += kv_le32_to_cpu(agi->ifree);
		kv_buf_rele(bp);
	}
	return first;
}

/* Write the superblock's state (block 0, the primary copy), flushed. */
static int sb_write_state(struct kvfs_mount *mp, uint32_t state)
{
	uint64_t icount = 0, ifree = 0;
	struct kv_buf *bp;
	uint32_t unread;
	int err;

	/* new inode chunks move the inode counts: the summary follows */
	if (!(state & KVFS_STATE_DIRTY)) {
		err = sum_agi(mp, &icount, &ifree, &unread);
		/*
		 * A damaged header (reported; the mount ran without it): the
		 * summary stays as it was, for fsck.kvfs to set.
		 */
		if (err == -EUCLEAN || err == -EBADMSG) {
			state |= KVFS_STATE_ERRORS;
			icount = mp->g.icount;
			ifree = mp->g.ifree;
		} else if (err) {
			return err;
		}
	}
	err = kv_buf_read(mp->bc, 0, 1, &kvfs_sb_buf_ops, &bp);
	if (err)
		return err;
	kv_buf_lock(bp);
	mp->g.state = state;
	if (!(state & KVFS_STATE_DIRTY)) {
		/* the summary is exact at a clean unmount */
		uint64_t free = 0;
		uint32_t i;

		for (i = 0; i < mp->g.agcount; i++)
			free += mp->pag[i].freeblks;
		mp->g.fdblocks = free;
		mp->g.icount = icount;
		mp->g.ifree = ifree;
	}
	kvfs_sb_to_disk(&mp->g, 0, bp->b_addr);
	err = kv_buf_write(bp);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	return err ? err : kv_dev_flush(mp->dev);
}

static void perag_free(struct kvfs_mount *mp, uint32_t n)
{
	while (n--)
		kvfs_perag_destroy(&mp->pag[n]);
	kvfree(mp->pag);
	mp->pag = NULL;
}

static int perag_alloc(struct kvfs_mount *mp)
{
	uint32_t i;
	int err;

	mp->pag = kvcalloc(mp->g.agcount, sizeof(*mp->pag), 0);
	if (!mp->pag)
		return -ENOMEM;
	for (i = 0; i < mp->g.agcount; i++) {
		err = kvfs_perag_init(&mp->pag[i], i);
		if (err) {
			perag_free(mp, i);
			return err;
		}
	}
	return 0;
}

static int ro_head(void *priv, const struct kvj_walk_head *h)
{
	struct kvfs_mount *mp = priv;

	mp->ri.was_empty = h->state == KVJ_WALK_EMPTY;
	mp->ri.was_clean = h->state != KVJ_WALK_DIRTY;
	mp->ri.head_lsn = h->head_lsn;
	mp->ri.tail_lsn = h->tail_lsn;
	return h->state == KVJ_WALK_DIRTY ? -EAGAIN : 0;
}

/*
 * Read-only: the journal is not opened (it would write); the log must be
 * clean, which one walk of it tells.
 */
static int log_check_clean(struct kvfs_mount *mp)
{
	static const struct kvj_walk_ops ops = { .head = ro_head };
	int err;

	kvfs_log_io_init(&mp->lio, mp->dev, &mp->g);
	err = kvj_log_walk(&kvfs_log_io_ops, &mp->lio, mp->lio.len, &ops, mp);
	/* not damage: the last mount did not unmount cleanly */
	if (err == -EAGAIN)
		return fail(-EROFS,
			    "the log needs recovery, which a read-only mount "
			    "cannot do: mount read-write or run fsck.kvfs");
	if (err == -EUCLEAN)
		return fail(err, "the log is damaged: run fsck.kvfs");
	if (err)
		return fail(err, "cannot read the log: %s", strerror(-err));
	return 0;
}

/*
 * Read every AG's free-space header (after recovery): the per-AG counts and
 * the free blocks for reservations, exact whatever the superblock's
 * summary says after a crash.
 */
static int read_agfs(struct kvfs_mount *mp)
{
	int64_t free = 0;
	uint32_t agno;

	if (mp->agfs_read)
		return 0;
	for (agno = 0; agno < mp->g.agcount; agno++) {
		struct kvfs_perag *pag = &mp->pag[agno];
		struct kvfs_agf_info a;
		struct kv_buf *bp;
		int err;

		err = kv_buf_read(mp->bc,
				  (uint64_t)agno * mp->g.agblocks +
					  KVFS_AGF_AGBNO,
				  1, &kvfs_agf_buf_ops, &bp);
		if (!err) {
			err = kvfs_agf_from_disk(&mp->g, agno, bp->b_addr, &a);
			kv_buf_rele(bp);
		}
		if (err)
			return fail(
				err,
				"AG %u's free-space header is damaged (%s): "
				"run fsck.kvfs",
				agno, strerror(-err));
		pag->freeblks = a.freeblks;
		pag->longest = a.longest;
		pag->flcount = a.flcount;
		pag->btreeblks = a.btreeblks;
		pag->free_extents = a.free_extents;
		pag->bno_level = a.bno_level;
		pag->cnt_level = a.cnt_level;
		pag->agf_init = true;
		free += kvfs_ag_avail(&mp->g, a.freeblks, a.flcount,
				      a.btreeblks);
	}
	atomic_store(&mp->fdblocks, free > 0 ? free : 0);
	mp->resblks = KVFS_RESBLKS(&mp->g);
	mp->agfs_read = true;
	return 0;
}

void kvfs_mount_set_icounts(struct kvfs_mount *mp, uint64_t icount,
			    uint64_t ifree, uint32_t unread)
{
	uint64_t ui = 0, uf = 0;

	/* a stale summary (after a crash) may say less: none then */
	if (unread && mp->g.icount > icount)
		ui = mp->g.icount - icount;
	if (unread && mp->g.ifree > ifree)
		uf = mp->g.ifree - ifree;
	atomic_store(&mp->icount, (int64_t)(icount + ui));
	atomic_store(&mp->ifree, (int64_t)(ifree + (uf < ui ? uf : ui)));
}

/*
 * statfs's inode counts where kvfs_iunlink_recover() does not read the
 * headers (read-only mounts, keep_orphans).  Muted: a damaged header is
 * reported where it is used, and statfs counts the summary's share for it.
 */
static void read_icounts(struct kvfs_mount *mp)
{
	uint64_t icount, ifree;
	uint32_t unread;

	kvfs_report_mute(true);
	sum_agi(mp, &icount, &ifree, &unread);
	kvfs_report_mute(false);
	kvfs_mount_set_icounts(mp, icount, ifree, unread);
}

/*
 * The head a metadata block's LSN must be below (kv_bcache_set_lsn_head()):
 * the open log's, or the clean log's a read-only mount found, which does
 * not move; none while the log is replayed (recovery takes a block's LSN
 * past the log's newest checkpoint for none, fs/io/buf_item.c
 * rec_block_lsn(), and its verifier runs then).
 */
static uint64_t mount_lsn_head(void *priv)
{
	struct kvfs_mount *mp = priv;
	struct kvj_log *log;

	if (mp->rdonly)
		return mp->ri.head_lsn;
	log = __atomic_load_n(&mp->lsn_log, __ATOMIC_ACQUIRE);
	return log ? kvj_log_head_lsn(log) : 0;
}

static void mount_lsn_log(struct kvfs_mount *mp, struct kvj_log *log)
{
	__atomic_store_n(&mp->lsn_log, log, __ATOMIC_RELEASE);
}

int kvfs_mount_recovery_ready(struct kvfs_mount *mp, struct kvj_log *log)
{
	int err;

	if (mp->bl)
		return 0;
	err = kvfs_bli_log_create(log, mp->bc, &mp->bl);
	if (err)
		return err;
	mp->log = log;
	/* the replay is over: its head is the log's */
	mount_lsn_log(mp, log);
	return read_agfs(mp);
}

static int log_open(struct kvfs_mount *mp, const struct kvfs_mount_opts *o)
{
	struct kvj_recover_ops rops[3];
	struct kvj_log_params p = {
		.io = &kvfs_log_io_ops,
		.io_priv = &mp->lio,
		.log_bytes = mp->lio.len,
		.recover = rops,
		.nr_recover = 3,
		.intents = mp->defer_iops,
		.nr_intents = mp->nr_defer_types,
		.push_interval_ms = o->push_interval_ms,
		/*
		 * A checkpoint per quarter of the log as written, not the
		 * journal's eighth: a directory's name-hash leaves are
		 * relogged whole in each (and barely compress), so fewer,
		 * larger checkpoints carry each leaf once for more names.
		 */
		.push_fraction = 4,
		.idle_push_ms = o->idle_push_ms,
		.no_threads = o->no_log_threads,
	};
	int err;

	kvfs_log_io_init(&mp->lio, mp->dev, &mp->g);
	p.log_bytes = mp->lio.len;
	/*
	 * A sparse image's log region allocated on the host: on a full host
	 * filesystem a log write into a hole failed and shut the mount down
	 * (every call EIO), where a data write's ENOSPC is only the writer's.
	 * Best effort: a host that cannot, or is full already, leaves it.
	 */
	(void)kv_dev_reserve(mp->dev, mp->lio.start, mp->lio.len);
	err = kvfs_bli_recover_ops(mp->bc, kvfs_buf_ops_by_magic,
				   mp->g.meta_uuid, &mp->bli_rops);
	if (!err) {
		err = kvfs_inode_recover_ops(mp->bc, &mp->g, &mp->bli_rops,
					     &mp->ino_rops);
		if (err)
			kvfs_bli_recover_free(&mp->bli_rops);
	}
	if (!err) {
		err = kvfs_icreate_recover_ops(mp->bc, &mp->g, &mp->bli_rops,
					       &mp->icr_rops);
		if (err) {
			kvfs_inode_recover_free(&mp->ino_rops);
			kvfs_bli_recover_free(&mp->bli_rops);
		}
	}
	if (err)
		return fail(err, "cannot set up log recovery: %s",
			    strerror(-err));
	/* buffers first: their finish writes back before the inodes' */
	rops[0] = mp->bli_rops;
	rops[1] = mp->icr_rops;
	rops[2] = mp->ino_rops;
	err = kvj_log_open(&p, &mp->log);
	kvfs_bli_recover_free(&mp->bli_rops);
	kvfs_icreate_recover_get_stats(&mp->icr_rops, &mp->icr_rstats);
	kvfs_icreate_recover_free(&mp->icr_rops);
	kvfs_inode_recover_get_stats(&mp->ino_rops, &mp->ino_rstats);
	kvfs_inode_recover_free(&mp->ino_rops);
	if (err && mp->bl) {
		/* intent recovery set these up over the log that failed */
		kvfs_bli_log_destroy(mp->bl);
		mp->bl = NULL;
		mp->log = NULL;
		mount_lsn_log(mp, NULL);
	}
	if (err == -EUCLEAN)
		return fail(err, "the log is damaged and cannot be replayed: "
				 "run fsck.kvfs");
	if (err)
		return fail(err, "cannot open the log: %s", strerror(-err));
	kvj_log_recovery_info(mp->log, &mp->ri);
	mount_lsn_log(mp, mp->log);
	if (mp->bl)
		return 0;
	err = kvfs_bli_log_create(mp->log, mp->bc, &mp->bl);
	if (err) {
		mount_lsn_log(mp, NULL);
		kvj_log_shutdown(mp->log, "mount failed");
		kvj_log_close(mp->log);
		mp->log = NULL;
		return fail(err, "cannot set up buffer items: %s",
			    strerror(-err));
	}
	return 0;
}

/*
 * What a mount needs of the kvalloc budget, whatever it is asked to do.
 * An operation holds the blocks on its path locked until it commits: the
 * AG headers (free space, inodes, reserve list), an inode allocation's
 * blocks, one path down the inode-chunk tree, down a directory's tree and
 * its extent map, and down both free-space trees (for a new directory or
 * map block).  Its commit copies their changes into the CIL while it
 * still holds them: twice the path for the committing operation.  Memory
 * relief (journal/relief.c) checkpoints the CIL and has the AIL write
 * back when memory runs short, but what operations in flight hold stays:
 * one path for each calling thread and for the inode worker.  Besides:
 * the log's record buffer (and, while it opens, recovery's scan buffer
 * instead of the operations), the AGs' in-memory state, and the
 * allocator's own (slabs, per-thread caches: MIN_BUDGET_SLACK).  Below this a
 * commit's NOFAIL allocation could wait forever (64 KiB blocks, a 1.6 MiB
 * budget: a create waited in kvj_cil_insert() for memory held by its own
 * blocks).  Read-only mounts log nothing.
 */
#define MIN_BUDGET_SLACK (512u << 10)

uint64_t kvfs_mount_min_budget(const struct kvfs_geom *g, bool rdonly,
			       unsigned threads)
{
	struct kvfs_trans_resv r;
	uint64_t path, need, open, mib = 1u << 20;

	kvfs_trans_resv_compute(g, &r);
	path = (uint64_t)(3 + g->ialloc_blocks + r.inobt_maxlevels +
			  r.bmap_maxlevels + 2 * r.alloc_maxlevels)
	       << g->blocklog;
	path += (uint64_t)kvfs_dir_maxlevels(g) * g->dirblksize;
	need = ((threads ? threads : 1) + 1) * path;
	if (!rdonly) {
		need += path + kvj_log_fixed_bytes(false);
		open = kvj_log_fixed_bytes(true);
		if (need < open)
			need = open;
	}
	need += MIN_BUDGET_SLACK +
		(uint64_t)g->agcount * sizeof(struct kvfs_perag);
	return (need + mib - 1) / mib * mib;
}

/* 0 if kvalloc's budget holds the mount, or -EINVAL naming the minimum. */
static int check_budget(struct kvfs_mount *mp, unsigned threads)
{
	uint64_t min = kvfs_mount_min_budget(&mp->g, mp->rdonly, threads);
	struct kv_stats ks;

	kv_stats(&ks);
	if (ks.pages_total * KV_PAGE_SIZE >= min)
		return 0;
	return fail(-EINVAL,
		    "a memory budget of %llu KiB is too small: this filesystem "
		    "needs at least %llu MiB (%u-byte blocks, %u threads)",
		    (unsigned long long)(ks.pages_total * KV_PAGE_SIZE >> 10),
		    (unsigned long long)(min >> 20), mp->g.blocksize,
		    threads ? threads : 1);
}

/*
 * The unlinked inodes a crash or an earlier mount left (fs/inode/iunlink.c
 * says how), freed; a failure says the damage it met, if any (the one line
 * a refused mount prints is all its user sees), and blames a crash only
 * when the log was replayed.  An AG whose lists are damaged does not
 * refuse the mount (reported; the rest of the filesystem works).
 */
static int free_orphans(struct kvfs_mount *mp)
{
	struct kvfs_report before = *kvfs_report_last();
	char what[320] = "";
	int err;

	err = kvfs_iunlink_recover(mp, &mp->orphans);
	if (!err)
		return 0;
	if ((err == -EUCLEAN || err == -EBADMSG) &&
	    memcmp(&before, kvfs_report_last(), sizeof(before)))
		kvfs_report_format(kvfs_report_last(), what, sizeof(what));
	return fail(err,
		    "cannot free the unlinked inodes %s left (%s%s%s): "
		    "run fsck.kvfs",
		    mp->ri.was_clean ? "the last mount" : "a crash",
		    strerror(-err), *what ? ": " : "", what);
}

int kvfs_mount_open(const char *path, const struct kvfs_mount_opts *o,
		    struct kvfs_mount **mpp)
{
	static const struct kvfs_mount_opts defaults;
	struct kvfs_mount *mp;
	int err;

	mount_err[0] = 0;
	/* what this open reports is no other mount's, even before its cache */
	kv_bcache_forget();
	if (!o)
		o = &defaults;
	mp = kvzalloc(sizeof(*mp), 0);
	if (!mp)
		return fail(-ENOMEM, "out of memory");
	mp->rdonly = o->rdonly;
	mp->dev = o->dev;
	mp->dev_borrowed = o->dev;
	err = 0;
	if (!o->dev)
		err = kv_dev_open(path,
				  (o->rdonly ? KV_DEV_RDONLY : 0) |
					  KV_DEV_EXCL |
					  (o->direct_io ? KV_DEV_DIRECT : 0),
				  &mp->dev);
	if (err) {
		fail(err, "cannot open %s: %s", path, strerror(-err));
		goto out_free;
	}
	err = kvfs_sb_read(mp->dev, &mp->g);
	if (err == -ENODATA) {
		fail(err, "%s is not a kvfs filesystem", path);
		goto out_dev;
	}
	if (err) {
		fail(err, "the superblock of %s is damaged (%s): run fsck.kvfs",
		     path, strerror(-err));
		goto out_dev;
	}
	err = kvfs_sb_check_mount(&mp->g, o->rdonly);
	if (err) {
		fail(err, "%s cannot be mounted%s: %s", path,
		     o->rdonly ? " read-only" : "", strerror(-err));
		goto out_dev;
	}
	kvfs_trans_resv_compute(&mp->g, &mp->resv);
	err = check_budget(mp, o->threads);
	if (err)
		goto out_dev;
	if (!o->rdonly) {
		char why[200];

		err = kvfs_trans_resv_check(
			&mp->resv, (uint64_t)mp->g.logblocks << mp->g.blocklog,
			why, sizeof(why));
		if (err) {
			fail(err, "%s cannot be mounted: %s", path, why);
			goto out_dev;
		}
	}
	err = kvfs_defer_mount_init(mp, o->defer_types, o->nr_defer_types);
	if (err) {
		fail(err, "bad deferred operation types");
		goto out_dev;
	}
	err = kv_bcache_create(mp->dev, mp->g.blocksize, o->cache_bytes,
			       &mp->bc);
	if (err) {
		fail(err, "cannot create the buffer cache: %s", strerror(-err));
		goto out_dev;
	}
	kv_bcache_set_private(mp->bc, &mp->g);
	if (!o->lsn_unchecked)
		kv_bcache_set_lsn_head(mp->bc, mount_lsn_head, mp);
	err = perag_alloc(mp);
	if (err) {
		fail(err, "out of memory for %u AGs", mp->g.agcount);
		goto out_bc;
	}
	err = kvfs_openrefs_create(&mp->openrefs);
	if (err) {
		fail(err, "out of memory for the open references");
		goto out_perag;
	}
	err = kvfs_iunlink_init(mp);
	if (err) {
		fail(err, "out of memory for the unlinked lists");
		goto out_pag;
	}
	err = mp->rdonly ? log_check_clean(mp) : log_open(mp, o);
	if (err)
		goto out_pag;
	err = read_agfs(mp);
	if (err)
		goto out_log;
	err = kvfs_iext_lru_create(mp);
	if (!err)
		err = kvfs_icache_create(mp, &mp->ic);
	if (err) {
		fail(err, "cannot create the inode cache: %s", strerror(-err));
		goto out_log;
	}
	mp->state_at_open = mp->g.state;
	if (!mp->rdonly) {
		/* an error state stays while mounted: a crash keeps it */
		err = sb_write_state(mp,
				     KVFS_STATE_DIRTY |
					     (mp->g.state & KVFS_STATE_ERRORS));
		if (err) {
			fail(err, "cannot write the superblock: %s",
			     strerror(-err));
			goto out_ic;
		}
		err = kvfs_inodegc_start(mp);
		if (err) {
			fail(err, "cannot start the inode worker: %s",
			     strerror(-err));
			goto out_ic;
		}
		err = kvfs_conv_start(mp, o->settle_ms);
		if (err) {
			fail(err, "cannot start the settle thread: %s",
			     strerror(-err));
			kvfs_inodegc_stop(mp);
			goto out_ic;
		}
		err = o->keep_orphans ? 0 : free_orphans(mp);
		if (err) {
			kvfs_mount_shutdown(mp, "mount failed");
			kvfs_mount_close(mp);
			return err;
		}
	}
	/* last: a failure after it would find its muted reports */
	if (mp->rdonly || o->keep_orphans)
		read_icounts(mp);
	*mpp = mp;
	return 0;
out_ic:
	kvfs_icache_destroy(mp->ic);
out_log:
	kvfs_iext_lru_destroy(mp);
	if (mp->log) {
		mount_lsn_log(mp, NULL);
		kvj_log_shutdown(mp->log, "mount failed");
		kvj_log_close(mp->log);
		kvfs_bli_log_destroy(mp->bl);
	}
out_pag:
	kvfs_iunlink_destroy(mp);
	kvfs_openrefs_destroy(mp->openrefs);
out_perag:
	perag_free(mp, mp->g.agcount);
out_bc:
	kv_bcache_destroy(mp->bc);
out_dev:
	kvfs_defer_mount_fini(mp);
	if (!mp->dev_borrowed)
		kv_dev_close(mp->dev);
out_free:
	kvfree(mp);
	return err;
}

void kvfs_mount_shutdown(struct kvfs_mount *mp, const char *why)
{
	if (mp->log)
		kvj_log_shutdown(mp->log, why);
}

int kvfs_mount_close(struct kvfs_mount *mp)
{
	bool shut;
	int err = 0, err2 = 0, err_conv;

	/*
	 * Written blocks converted, then the last inodes freed, while the
	 * log still takes transactions (after a shutdown the settle fails:
	 * what is durable is what the next mount finds).
	 */
	err_conv = kvfs_conv_stop(mp);
	kvfs_inodegc_stop(mp);
	shut = mp->log && kvj_log_is_shutdown(mp->log);

	/*
	 * The background reclaim thread may run a shrinker pass at any time:
	 * the inode cache's and the buffer items' reach the log, which the
	 * close frees (an ASan use-after-poison in tests/life pressure).
	 */
	kvfs_icache_stop_reclaim(mp->ic);
	if (mp->log)
		kvfs_bli_log_stop_reclaim(mp->bl);
	if (mp->log) {
		/* the close frees the log */
		mount_lsn_log(mp, NULL);
		/* drains the AIL, then writes the unmount record */
		err = kvj_log_close(mp->log);
	}
	/* after the log: nothing reaches the inode items any more */
	kvfs_icache_destroy(mp->ic);
	kvfs_iext_lru_destroy(mp);
	if (mp->log)
		kvfs_bli_log_destroy(mp->bl);
	if (shut) {
		/* nothing more reaches the device: the next mount recovers */
		err = -EIO;
	} else {
		err2 = kv_bcache_flush(mp->bc);
		if (!err)
			err = err2;
		if (!err)
			err = err_conv;
		if (!err && !mp->rdonly)
			err = sb_write_state(mp, mp->errors_seen ?
							 KVFS_STATE_ERRORS :
							 KVFS_STATE_CLEAN);
	}
	kvfs_iunlink_destroy(mp);
	kvfs_openrefs_destroy(mp->openrefs);
	perag_free(mp, mp->g.agcount);
	kv_bcache_destroy(mp->bc);
	kvfs_defer_mount_fini(mp);
	if (!mp->dev_borrowed)
		kv_dev_close(mp->dev);
	kvfree(mp);
	return err;
}
