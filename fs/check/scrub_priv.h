/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's state, shared by its own files only (fs/check/scrub.c
 * drives the check, fs/check/scrub_dir.c checks block directories): one
 * struct scrub per check, one struct fork_ctx per fork walked, and the
 * two ways anything is recorded, a finding and an ownership claim.  A
 * check runs in one thread: nothing here is locked.
 */
#ifndef KV_FS_SCRUB_PRIV_H
#define KV_FS_SCRUB_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/check/scrub.h"
#include "fs/check/scrub_namei.h"

struct claim;
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
	kvfs_scrub_fn fn; /* kvfs_scrub_hooked()'s caller */
	void (*progress)(void *priv, uint64_t done, uint64_t total);
	bool (*known)(void *priv, uint64_t ino);
	int (*cluster)(void *priv, uint64_t ino, uint64_t fsb,
		       const uint8_t *blk);
	void *fn_priv;
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

#endif
