/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's block-directory check (part of fs/check/scrub.h's check,
 * for its own files): of a directory whose data fork walked clean, every
 * data block its extents map read and verified in its place (its header
 * naming the directory and the data block), the head's data-block count
 * against the mapping and the size, its entry count against the live
 * entries, the name hash index holding exactly one (hash, address) per
 * live entry and the free-space index one (bestfree, data block) per
 * data block; both index trees walked (findings of kind
 * KVFS_SCRUB_TREE), their blocks claimed as KVFS_OWN_DIRIDX and counted
 * in the fork's blocks.  Everything else is a KVFS_SCRUB_DIR finding;
 * a check that cannot go on stops at its first finding.
 */
#ifndef KV_FS_SCRUB_DIR_H
#define KV_FS_SCRUB_DIR_H

#include <stdint.h>

struct fork_ctx;
struct kvfs_dinode;
struct kvfs_extent;

/*
 * The directory of fork f, dinode d, whose data fork maps nx (at least
 * one) extents x, sorted and disjoint (the inode's list, or the records
 * of its extent-map tree).  0, or -ENOMEM / -EIO when the check could not
 * be made.
 */
int kvfs_scrub_dir_blocks(struct fork_ctx *f, const struct kvfs_dinode *d,
			  const struct kvfs_extent *x, uint32_t nx);

#endif
