/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's state, shared by its own files only (fs/check/scrub.c
 * drives the check and checks free space, fs/check/scrub_inode.c the
 * inodes, fs/check/scrub_dir.c block directories, fs/check/ira.c reads
 * inode clusters ahead): one struct scrub per check, one struct fork_ctx
 * per fork walked, and the two ways anything is recorded, a finding and
 * an ownership claim.  A check runs in one thread: nothing here is
 * locked.
 */
#ifndef KV_FS_SCRUB_PRIV_H
#define KV_FS_SCRUB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/check/ira.h"
#include "fs/check/scrub.h"
#include "fs/check/scrub_namei.h"

struct claim;
struct kv_buf;
struct kvfs_btree_tree_ops;
struct kvfs_alloc_rec;
struct kvfs_extent;
struct kvfs_ns;

/* One check. */
struct scrub {
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	struct kvfs_scrub_result *res;
	struct claim *claims;
	size_t nclaims, cap;
	/* per AG: headers unreadable, so its free space cannot be known */
	uint8_t *ag_unknown;
	uint32_t agno;
	/* free-space records of the AG, as each tree holds them */
	struct kvfs_alloc_rec *bno, *cnt;
	size_t nbno, ncnt, bno_cap, cnt_cap;
	/* inode-chunk records of the AG */
	struct kvfs_inobt_rec *chunks;
	size_t nchunks, chunk_cap;
	/* inodes on the AG's unlinked lists (aginos, sorted once walked) */
	uint32_t *unl;
	size_t nunl, unl_cap;
	/* totals over the AGs for the summary counters */
	uint64_t fdblocks, icount, ifree;
	uint8_t *blk; /* scratch block */
	struct kvfs_ns *ns; /* the namespace walk's inode records */
	bool root_used; /* the root directory met in use in a chunk */
	kvfs_scrub_fn fn; /* kvfs_scrub_hooked()'s caller */
	void (*progress)(void *priv, uint64_t done, uint64_t total);
	bool (*known)(void *priv, uint64_t ino);
	int (*cluster)(void *priv, uint64_t ino, uint64_t fsb, uint8_t *blk);
	bool (*hook_chunks)(void *priv, uint32_t agno,
			    const struct kvfs_inobt_rec **recs, size_t *n);
	void *fn_priv;
	/*
	 * The inode clusters cluster() changed, their cache buffers holding
	 * the change (never written) until the check ends: the namespace
	 * walk reads them again.
	 */
	struct kv_buf **held;
	size_t nheld, held_cap;
	const struct kvfs_ns_problem *prob; /* of the finding being made */
	kvfs_scrub_claim_fn claim_fn; /* optional observer of the claims */
	void *claim_priv;
	struct kvfs_ira ira; /* the inode clusters, read in runs */
};

/* One fork of inode ino being walked. */
struct fork_ctx {
	struct scrub *s;
	uint64_t ino;
	uint64_t blocks; /* mapped by the fork: data and tree blocks */
	enum kvfs_scrub_owner kind; /* of the blocks the fork maps */
	bool bad;
	/* a directory's extent-map tree records, for its block check */
	bool collect;
	struct kvfs_extent *x;
	uint32_t nx, xcap;
};

/*
 * Record a finding (fs/check/scrub.h): counted always, kept among the
 * first KVFS_SCRUB_MAX_FINDINGS, handed to the hooks' fn if any.
 */
void kvfs_scrub_find(struct scrub *s, enum kvfs_scrub_kind kind, uint32_t agno,
		     uint64_t blkno, uint64_t count, uint64_t ino,
		     const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/*
 * Blocks [start, start + len), inside one AG (the caller checked), owned
 * by owner (an AG or inode number) as kind.  0, -ENOMEM, or what the
 * claim observer returned.
 */
int kvfs_scrub_claim(struct scrub *s, uint64_t start, uint32_t len,
		     enum kvfs_scrub_owner kind, uint64_t owner);

/*
 * The blocks extents x[0..nx) map, asked of the host ahead of their reads
 * (kv_dev_willneed(), runs that follow on in one hint), the first
 * KVFS_SCRUB_HINT_MAX bytes of them: a directory's, whose check would
 * otherwise wait for each block in turn on a cold page cache.  The
 * extents may be unverified.
 */
#define KVFS_SCRUB_HINT_MAX (8u << 20)
void kvfs_scrub_hint_extents(struct kv_bcache *bc, const struct kvfs_geom *g,
			     const struct kvfs_extent *x, uint32_t nx);

/* A tree walk's context: the check, and the owner of the tree's blocks. */
struct tree_ctx {
	struct scrub *s;
	enum kvfs_scrub_owner kind;
	int err;
};

/*
 * Blocks [fsb, fsb + len) inside one AG, past its fixed headers: NULL, or
 * what is wrong, in words.
 */
const char *kvfs_scrub_range_check(const struct kvfs_geom *g, uint64_t fsb,
				   uint64_t len);

/*
 * Walk one AG tree with the engine's structure walk (rec_fn gets each
 * record, priv a struct tree_ctx), claiming its blocks as kind; its
 * findings become ours.  Returns 0 if the walk was clean, 1 if it found
 * something, or a negative errno; *nblocks (if asked) the tree's blocks.
 */
int kvfs_scrub_walk_tree(struct scrub *s, const struct kvfs_btree_tree_ops *ops,
			 struct kv_buf *agf_bp, struct kv_buf *agi_bp,
			 enum kvfs_scrub_owner kind,
			 int (*rec_fn)(const void *rec, void *priv),
			 uint64_t *nblocks);

/*
 * The inode half of AG s->agno (fs/check/scrub_inode.c): its inode
 * header agi_bp, chunk tree, chunks, inodes and unlinked lists (agi_bp
 * NULL, the header unreadable: the inodes of the hooks' chunks alone).
 * 0 or a negative errno; what is wrong becomes findings.
 */
int kvfs_scrub_agi(struct scrub *s, struct kv_buf *agi_bp);

#endif
