/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The repair engine's shared state (fs/repair/repair.h), private to
 * fs/repair/: one struct rp per kvfs_repair() run, passed through the
 * phases.  Phases 1-4 and 7 work on rp->dev through rp->bc (the metadata
 * verifiers, and the crc computed at write-back); nothing else has the
 * image open while they run, so no transaction and no log: a repair that
 * is interrupted leaves the needs-repair bit set (rp_will_write()).
 */
#ifndef KV_FS_REPAIR_PRIV_H
#define KV_FS_REPAIR_PRIV_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/btree/btree.h"
#include "fs/format/ag.h"
#include "fs/format/geom.h"
#include "fs/repair/ownership.h"
#include "fs/repair/repair.h"

struct kv_buf;
struct kv_dev;
struct kv_bcache;

/* What phase 3 read of one AG, for phases 4 and 7. */
struct rp_ag {
	bool agf_ok, agfl_ok, agi_ok;
	bool bno_ok, cnt_ok, ino_ok; /* tree walked without a finding */
	struct kvfs_agf_info agf;
	struct kvfs_agi_info agi;
	/* free-space records as each tree holds them */
	struct kvfs_alloc_rec *bno, *cnt;
	size_t nbno, ncnt, bno_cap, cnt_cap;
	/* blocks of both free-space trees; reserve-list entries in use */
	uint64_t *fsbt;
	size_t nfsbt, fsbt_cap;
	uint32_t *agfl;
	size_t nagfl, agfl_cap;
	/* inode-chunk records (phase 4 changes free masks), leaf blocks */
	struct kvfs_inobt_rec *chunks;
	size_t nchunks, chunks_cap;
	uint64_t *inoleaf;
	size_t ninoleaf, ninoleaf_cap;
	bool chunks_changed;
	/*
	 * The inode-chunk records came from a scan (fs/repair/inobt.c):
	 * the tree is rebuilt in phase 7 unless ino_nofix (a problem -y
	 * leaves); the inode header is rewritten whole when agi_rewrite.
	 */
	bool inobt_rebuild, ino_nofix, agi_rewrite;
	/* the rebuilt tree's blocks (taken from free space by the repair) */
	uint64_t *inobt_new;
	uint32_t ninobt_new;
	/* blocks of rebuilt extent-map trees taken from its free space */
	uint64_t *bmbt_new;
	size_t nbmbt_new, bmbt_new_cap;
	/* a free-space structure damaged, and a problem -y leaves with it */
	bool fs_nofix;
	/* phase 7: the AG's true counters, for the superblock's */
	uint64_t true_free, true_icount, true_ifree;
};

struct rp {
	const struct kvfs_repair_opts *o;
	struct kvfs_repair_result *res;
	const char *path;
	struct kv_dev *dev;
	/*
	 * A dry run over a dirty log: the image opened with KV_DEV_OVERLAY,
	 * the log replayed into it (memory only); every later phase reads
	 * the filesystem through it, as a replay would leave it.  rp->dev
	 * is this device then.
	 */
	struct kv_dev *ovl;
	struct kv_bcache *bc;
	struct kvfs_geom g;
	enum kvfs_repair_phase phase;
	struct rp_ag *ags; /* g.agcount of them */
	struct kvfs_repair_bmap map;
	bool sb_bad; /* phase 1: the primary was rebuilt (or must be) */
	bool needsrepair; /* the bit is set on disk by this run */
	/*
	 * The highest LSN a watched read returned in a metadata header
	 * (rp_lsn_watch()), read and set atomically.
	 */
	uint64_t lsn_seen;
	/*
	 * An inode left as it is though it fails its verifier (dry run,
	 * preen): the blocks it may own are unknown, free space is not
	 * rebuilt.
	 */
	bool inodes_left;
	uint8_t *blk; /* scratch block */
	/*
	 * Phase 4: extent-map trees rebuilt from their good extents, too
	 * many for an extent list: built at its end, once every block is
	 * claimed, in the old tree's blocks that nobody else owns, then in
	 * free space.
	 */
	struct rp_fork_rebuild {
		uint64_t ino;
		bool attr; /* the attribute fork's, else the data fork's */
		struct kvfs_extent *recs; /* kvmalloc'ed, in order */
		uint32_t n;
		uint64_t *old; /* the old tree's blocks (kvmalloc'ed) */
		size_t nold;
		uint32_t forksize; /* bytes of the fork, as claimed */
	} * rebuilds;
	size_t nrebuilds, rebuilds_cap;
	/*
	 * A dry run's phase 4: per inode chunk (by first inode number, in
	 * order), the inodes that passed kvfs_dinode_verify().  Nothing is
	 * written in a dry run, so the namespace phase's checker, reading
	 * the same bytes, need not verify them again.
	 */
	struct rp_sound {
		uint64_t ino; /* the chunk's first inode */
		uint64_t mask; /* bit i: inode ino + i sound */
	} * sound;
	size_t nsound, sound_cap;
	/* rp_detect_early()'s detection and the geometry it checked with */
	struct nsr *early;
	struct kvfs_geom early_g;
	/*
	 * That detection reads through rp->bc (a dry run's: nothing in it
	 * is ever written): phase 4 reads the blocks the check reads after
	 * it (a directory's) through it too, and types no buffer it did not
	 * verify, so that the check's typed read verifies it.
	 */
	bool share_bc;
	/*
	 * A dry run's trial copies of directory blocks put into that cache
	 * (their entries made to name the placeholder), held there, never
	 * written, until phase 4 ends: the check reads them as -y leaves them.
	 */
	struct kv_buf **held;
	size_t nheld, held_cap;
};

/*
 * One problem: counted, sent to the caller.  safe says whether -p may fix
 * it; the return says whether the caller fixes it now (not a dry run, and
 * preen only when safe).
 */
bool rp_problem(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The same, its arguments in a va_list. */
bool rp_vproblem(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		 const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));
/* The same for a problem this run cannot fix. */
void rp_unfixable(struct rp *rp, uint64_t ino, uint64_t blkno, const char *fmt,
		  ...) __attribute__((format(printf, 4, 5)));
void rp_notice(struct rp *rp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void rp_progress(struct rp *rp, uint64_t done, uint64_t total);

/*
 * Whether -y fixes a problem just said (fixed: rp_problem()'s answer): in
 * a dry run, yes (-n and -p never go together), so that what is judged
 * next is the filesystem as -y leaves it.
 */
static inline bool rp_would_fix(const struct rp *rp, bool fixed)
{
	return fixed || rp->o->dry_run;
}

/* rp_problem(), answered by rp_would_fix(): whether -y fixes it. */
bool rp_problem_y(struct rp *rp, bool safe, uint64_t ino, uint64_t blkno,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/*
 * Before the first change of phases 3-7: the needs-repair bit set in the
 * primary superblock and flushed, so that an interrupted repair is never
 * mounted.
 */
int rp_will_write(struct rp *rp);

/* Phases (fs/repair/sb.c, log.c, ag.c, inodes.c, space.c). */
int rp_phase_sb(struct rp *rp);
int rp_phase_log(struct rp *rp);
int rp_phase_ag(struct rp *rp);
int rp_phase_inodes(struct rp *rp);
/* Phase 4's end: unlinked lists that stop a mount emptied (unlinked.c). */
int rp_unlinked_lists(struct rp *rp);
int rp_phase_space(struct rp *rp);
/* The primary superblock written from rp->g (flushed). */
int rp_sb_write(struct rp *rp);
/*
 * Every read from dev noted for rp_future_lsns() (the LSNs of the headers
 * it returns); each device the run reads metadata from is so watched.
 */
void rp_lsn_watch(struct rp *rp, struct kv_dev *dev);
/*
 * Metadata stamped at or past the log's head reported and (-y) reset
 * (fs/repair/log.c), once the run's last whole check has read every
 * metadata block through watched devices: a walk of them only when one of
 * those reads returned such an LSN.  rp->dev is NULL after.
 */
int rp_future_lsns(struct rp *rp);
/* Whether the log on dev (geometry g) is clean: 1, 0 (dirty), -EUCLEAN. */
int rp_log_clean(struct kv_dev *dev, const struct kvfs_geom *g);

void rp_ags_free(struct rp *rp);

struct kvfs_mount;
struct nsr;
/*
 * kvfs_repair_namespace(), and the whole check's result of its last
 * detection (made after its last fix) in *last unless NULL; known, unless
 * NULL, names the inodes whose bytes phase 4 verified and nothing changed
 * since (a dry run), for the checker not to verify them again; early,
 * unless NULL, is its first detection made already (rp_detect_early(),
 * on the same bytes under the same geometry), taken over.
 */
int rp_namespace(struct kvfs_mount *mp, const struct kvfs_repair_opts *o,
		 struct kvfs_repair_result *res, struct kvfs_scrub_result *last,
		 bool (*known)(void *priv, uint64_t ino), void *known_priv,
		 struct nsr *early);
/*
 * A dry run's detection made during phase 4, its one walk of the inodes
 * serving both: the checker reads each inode cluster (and everything
 * else) from rp->dev through a cache of its own, and hands each cluster
 * to cluster(priv, ...) (phase 4's check of it on those bytes) before its
 * own, asking known(priv, ino) whether phase 4 verified the inode.
 * cluster() puts into the bytes the fixes phase 4 says of its inodes
 * (returning 1), so that the check, whose namespace findings are phases
 * 5 and 6's, judges the inodes as -y's phase 4 leaves them.  A dry run
 * changes nothing on the device.  Kept in rp->early, its geometry in
 * rp->early_g; a check that fails leaves rp->early NULL (the namespace
 * phases detect on the image as read); cluster()'s failure is returned.
 */
int rp_detect_early(struct rp *rp,
		    int (*cluster)(void *priv, uint64_t ino, uint64_t fsb,
				   uint8_t *blk),
		    bool (*known)(void *priv, uint64_t ino), void *priv);
void rp_detect_free(struct nsr *r);
/* Its whole check's result. */
const struct kvfs_scrub_result *rp_detect_result(const struct nsr *r);
/* Whether phase 4 of a dry run found inode ino sound (priv: the rp). */
bool rp_inode_sound(void *priv, uint64_t ino);

/*
 * The AG's inode chunks found by a scan; the tree rebuilt from them (a
 * dry run's: its blocks claimed, nothing written).
 */
int rp_inobt_scan(struct rp *rp, uint32_t agno, struct rp_ag *a);
int rp_inobt_rebuild(struct rp *rp, uint32_t agno, struct rp_ag *a);

struct kvfs_btree_ops;
struct kvfs_btree_tree_ops;
/* Blocks a bulk-loaded tree of n records takes (fs/repair/bulkload.c). */
uint32_t rp_bulkload_blocks(const struct kvfs_geom *g,
			    const struct kvfs_btree_ops *fmt, size_t n);
/*
 * Write a tree of type ops owned by AG agno holding the n records recs
 * (in key order) into the blocks blks (rp_bulkload_blocks() of them, any
 * order); its root (AG block) and level out.
 */
int rp_bulkload(struct rp *rp, uint32_t agno,
		const struct kvfs_btree_tree_ops *ops, const void *recs,
		size_t n, const uint64_t *blks, uint32_t *root,
		unsigned *level);
/*
 * The same for a tree rooted in an inode fork of forksize bytes (inode
 * ino's extent map): rp_bulkload_iroot_blocks() blocks, the root (struct
 * kvfs_bmdr_block) written over the fork.
 */
uint32_t rp_bulkload_iroot_blocks(const struct kvfs_geom *g,
				  const struct kvfs_btree_ops *fmt, size_t n,
				  uint32_t forksize);
int rp_bulkload_iroot(struct rp *rp, uint64_t ino,
		      const struct kvfs_btree_tree_ops *ops, const void *recs,
		      size_t n, const uint64_t *blks, uint8_t *fork,
		      uint32_t forksize);

/* ---- phase 4 (fs/repair/inodes.c, fs/repair/fork.c) ---- */

/* What became of one inode. */
struct ino_ctx {
	struct rp *rp;
	uint64_t ino;
	uint8_t *dip; /* the copy */
	uint64_t blocks; /* mapped by the forks */
	enum kvfs_scrub_owner kind; /* of the extents being claimed */
	bool changed; /* the copy must be written back */
	/*
	 * A dry run's copy holds a fix it only says (rp_take_fix()): never
	 * written, and not the inode as read.
	 */
	bool trial;
	bool tree_bad; /* a symlink's target blocks are damaged */
	char why[320]; /* what is wrong with it */
	/*
	 * A directory index damaged, for the namespace phases to rebuild:
	 * the rebuild takes the index blocks its walks read off the inode's
	 * count, so phase 4 sets that count to what it claimed less the
	 * blocks no walk read (index_unread).
	 */
	bool index_bad;
	uint64_t index_unread; /* claimed by rp_fork_claim_unwalked() */
	bool head_damaged; /* its index's roots from a head that failed */
	bool sound; /* it passed kvfs_dinode_verify() as read */
	bool rebuilt; /* a fork's tree rebuilt: nblocks set to what it maps */
	size_t data_rb; /* 1 + the data fork's entry in rp->rebuilds, or 0 */
	bool tree_left; /* a tree to rebuild left: what it maps is unknown */
	bool not_dir; /* a directory whose blocks hold no directory */
	/*
	 * A short-form directory's fork as read (sf_size bytes), its entries
	 * naming inode numbers out of range made to name the placeholder in
	 * the copy, unsaid until the inode is known to verify so
	 * (kvmalloc'ed, or NULL).
	 */
	uint8_t *sf_was;
	uint32_t sf_size;
	/* leaves the walk could not take records from, for salvage_leaf() */
	uint64_t salvage[KVFS_BTREE_WALK_MAX_FINDINGS];
	unsigned nsalvage;
	/*
	 * A directory index's blocks its walks could not read, claimed once
	 * both trees are walked: the other tree may own one (a damaged
	 * pointer into it)
	 */
	uint64_t unwalked[2 * KVFS_BTREE_WALK_MAX_FINDINGS];
	unsigned nunwalked;
	/* an extent-map tree's walk: its records and blocks, in order */
	struct kvfs_extent *recs;
	size_t nrecs, recs_cap;
	uint64_t *tblks;
	size_t ntblks, tblks_cap;
};

static inline struct kvfs_dinode *D(struct ino_ctx *c)
{
	return (struct kvfs_dinode *)c->dip;
}

/*
 * Whether the copy takes the fix of a problem just said (fixed:
 * rp_problem()'s answer): when fixed, to be written back (c->changed);
 * in a dry run too, never written (c->trial), so that what phase 4
 * judges next is the inode as -y leaves it and -n says what -y does.
 */
bool rp_take_fix(struct ino_ctx *c, bool fixed);
/*
 * A problem of inode c->ino said (rp_problem()) and its fix taken into
 * the copy (rp_take_fix()); the return is rp_take_fix()'s.
 */
bool rp_fix(struct ino_ctx *c, bool safe, uint64_t blkno, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Fork bytes and sizes of the copy, bounded even if forkoff is garbage. */
void rp_forks(const struct kvfs_geom *g, uint8_t *dip, uint8_t **df,
	      uint32_t *dsize, uint8_t **af, uint32_t *asize);
/*
 * Out-of-range extents of an in-inode list cut (nextents at *np).
 * Returns the number found.
 */
unsigned rp_cut_bad_extents(struct ino_ctx *c, uint8_t *fork, uint32_t size,
			    kv_le32 *np, const char *name);
/*
 * A tree of type ops with context tctx: its blocks (and records, if recs)
 * claimed; what is wrong in why.  A directory index's blocks it could not
 * walk are kept in c->unwalked for rp_fork_claim_unwalked().
 */
int rp_fork_walk_tree(struct ino_ctx *c, const struct kvfs_btree_tree_ops *ops,
		      void *tctx, bool recs, uint64_t *nrecs, char *why,
		      size_t len);
/* Claims c->unwalked's blocks that no tree claimed, once both are walked. */
int rp_fork_claim_unwalked(struct ino_ctx *c);
/* One fork of the copy: its extents or tree claimed. */
int rp_claim_fork(struct ino_ctx *c, uint8_t *fork, uint32_t size,
		  uint8_t *fmtp, kv_le32 *np, const char *name);
/* One queued tree built, its root written into the inode's fork. */
int rp_fork_rebuild(struct rp *rp, const struct rp_fork_rebuild *r);
/* The cluster buffer of fsb, read even if an inode in it is not one. */
int rp_read_cluster(struct rp *rp, uint64_t fsb, struct kv_buf **bpp);

#endif
