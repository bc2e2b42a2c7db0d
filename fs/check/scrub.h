/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The consistency checker (xfs_repair phases 2-4, xfs_scrub; fsck's check
 * phase): reads a filesystem that nothing is changing (an unmounted image,
 * or a mounted one after everything was written back) through a buffer
 * cache with the metadata verifiers, and proves
 *   - every block owned exactly once: superblock and AG headers, the
 *     reserve list's blocks, free space, the blocks of every tree, inode
 *     chunks (not their sparse holes), the log, file data and extent-map
 *     blocks.  Ownership is a list of claims (first block, length, owner)
 *     sorted and swept once, so a block owned twice names both owners and
 *     a run owned by nobody is reported as leaked;
 *   - the AG counters exact (free blocks, longest extent, extent count,
 *     free-space tree blocks, reserve-list window; inode counts), both
 *     free-space trees holding the same extents, the superblock's summary
 *     counters when the filesystem is clean;
 *   - every allocated inode verified, its free-mask bit agreeing with its
 *     mode, its extents in range, sorted and disjoint, its nblocks equal
 *     to the blocks its forks map; its attribute blocks (fs/ns/attr.h) and
 *     symlink blocks (fs/ns/symlink.h) verified and each used once;
 *   - the unlinked lists (fs/inode/iunlink.h): every inode on them allocated,
 *     in its AG, on its own bucket, with no links, on one list once; every
 *     allocated inode with no links on a list;
 *   - every tree's structure walk (fs/btree/btree.h) clean;
 *   - every block directory (fs/check/scrub_dir.h): its data blocks
 *     (fs/format.h) verified, the head's counts and size against them,
 *     the name hash index holding exactly one (hash, address) per entry
 *     and the free-space index one (bestfree, block) per data block, both
 *     trees walked and their blocks claimed (and counted in the
 *     directory's nblocks);
 *   - the namespace (fs/check/scrub_namei.h): entries, "..", link counts, the
 *     tree connected from the root without cycles.
 * Extent-map tree blocks have no buffer type yet: they are read from the
 * device and checked here (header, level, record count, records).
 * Nothing on disk is trusted before it is bounds-checked: a bad record,
 * pointer, count or extent is a finding, never a crash or a read out of
 * bounds.  The checker never prints and never writes: findings are
 * returned (the first KVFS_SCRUB_MAX_FINDINGS kept, all counted).
 * Verifier failures also reach the kvfs_corrupt() report sink.
 */
#ifndef KV_FS_SCRUB_H
#define KV_FS_SCRUB_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kv_dev;
struct kv_bcache;

/* What a finding is about. */
enum kvfs_scrub_kind {
	KVFS_SCRUB_SUPERBLOCK, /* a superblock copy unreadable or different */
	KVFS_SCRUB_AG_HEADER, /* AGF/AGI/AGFL unreadable */
	KVFS_SCRUB_RESERVE_LIST, /* a reserve-list entry in the window bad */
	KVFS_SCRUB_TREE, /* a tree's structure walk found something */
	KVFS_SCRUB_FREE_COUNTERS, /* AGF counters differ from the trees */
	KVFS_SCRUB_FREE_TREES, /* by-block and by-size trees differ */
	KVFS_SCRUB_INODE_COUNTERS, /* AGI counters differ from the tree */
	KVFS_SCRUB_INODE_MASK, /* free mask bit differs from the mode */
	KVFS_SCRUB_INODE, /* an inode fails its verifier or is unreadable */
	KVFS_SCRUB_EXTENT, /* a fork's extent or extent-tree block bad */
	KVFS_SCRUB_NBLOCKS, /* nblocks differs from the blocks mapped */
	KVFS_SCRUB_MULTIPLY_OWNED, /* blocks with two owners */
	KVFS_SCRUB_LEAKED, /* blocks with no owner */
	KVFS_SCRUB_SUMMARY, /* superblock summary counters (clean fs) */
	KVFS_SCRUB_UNLINKED, /* unlinked lists vs the inodes with no links */
	KVFS_SCRUB_ATTR, /* extended attribute blocks */
	KVFS_SCRUB_SYMLINK, /* symbolic link blocks */
	KVFS_SCRUB_DIR, /* a directory's blocks, head or indexes */
	KVFS_SCRUB_DIRENT, /* an entry to a free inode, of the wrong type */
	KVFS_SCRUB_DOTDOT, /* a directory's ".." not its parent */
	KVFS_SCRUB_NLINK, /* a link count not the links found */
	KVFS_SCRUB_CONNECT, /* unreachable, a cycle, a directory named twice */
	KVFS_SCRUB_NKINDS
};

/* Who owns blocks (the ownership statistics). */
enum kvfs_scrub_owner {
	KVFS_OWN_SB, /* superblock copies */
	KVFS_OWN_AG_HEADER, /* AGF, AGI, AGFL blocks */
	KVFS_OWN_RESERVE, /* blocks on the reserve list */
	KVFS_OWN_FREE, /* free space (by-block tree records) */
	KVFS_OWN_BNOBT,
	KVFS_OWN_CNTBT,
	KVFS_OWN_INOBT,
	KVFS_OWN_INODES, /* inode chunks, holes excluded */
	KVFS_OWN_LOG,
	KVFS_OWN_DATA, /* file data (both forks) */
	KVFS_OWN_BMBT, /* extent-map tree blocks */
	KVFS_OWN_ATTR, /* extended attribute blocks (the attribute fork) */
	KVFS_OWN_DIRIDX, /* directory hash and free-space index blocks */
	KVFS_OWN_NR
};

#define KVFS_SCRUB_NOAG ((uint32_t)-1)
#define KVFS_SCRUB_MAX_FINDINGS 64

struct kvfs_scrub_finding {
	enum kvfs_scrub_kind kind;
	uint32_t agno; /* the structure's AG (an inode's own), or NOAG */
	uint64_t blkno; /* first block concerned, KVFS_NULLBLOCK if none */
	uint64_t count; /* blocks concerned (ownership findings), else 0 */
	uint64_t ino; /* KVFS_NULLINO if none */
	char what[224]; /* what is wrong, in words */
};

struct kvfs_scrub_result {
	uint64_t nfindings; /* all findings */
	uint64_t nkind[KVFS_SCRUB_NKINDS]; /* all findings by kind */
	unsigned nkept;
	struct kvfs_scrub_finding findings[KVFS_SCRUB_MAX_FINDINGS];
	/* statistics */
	uint64_t owned[KVFS_OWN_NR]; /* blocks claimed per owner kind */
	uint64_t inodes; /* inodes read (allocated chunks) */
	uint64_t inodes_used; /* of which in use */
};

/*
 * Check the filesystem of geometry g (kvfs_sb_read(), or the mount's)
 * read through bc, whose private pointer is g (kv_bcache_set_private()).
 * No transaction may hold any of its blocks.  Returns 0 if clean,
 * -EUCLEAN if anything was found (res says what), or a negative errno
 * (-ENOMEM, -EIO) if the check could not be completed.
 */
int kvfs_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
	       struct kvfs_scrub_result *res);

/* The same for an unmounted device, through a private buffer cache. */
int kvfs_scrub_dev(struct kv_dev *dev, const struct kvfs_geom *g,
		   struct kvfs_scrub_result *res);

/*
 * kvfs_scrub_dev() that also hands every ownership claim to fn as it is
 * made: blocks [fsb, fsb + len) belong to kind of owner (an AG number, or
 * an inode number for data, extent-map and attribute blocks).  The claims
 * are the check's map of every owned block (fs/check/metablk.h builds on it);
 * fn returning non-zero stops the check with that value.
 */
typedef int (*kvfs_scrub_claim_fn)(void *priv, uint64_t fsb, uint32_t len,
				   enum kvfs_scrub_owner kind, uint64_t owner);
int kvfs_scrub_dev_claims(struct kv_dev *dev, const struct kvfs_geom *g,
			  struct kvfs_scrub_result *res, kvfs_scrub_claim_fn fn,
			  void *priv);

const char *kvfs_scrub_kind_name(enum kvfs_scrub_kind kind);
const char *kvfs_scrub_owner_name(enum kvfs_scrub_owner owner);

#endif
