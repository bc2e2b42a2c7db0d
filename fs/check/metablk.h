/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every metadata block of a filesystem with its type (kvfs-db's
 * blocktrash, tests that damage metadata on purpose): the checker's
 * ownership claims (fs/check/scrub.h) sorted into block types, file data left
 * out.  Read-only; nothing on disk is trusted beyond what the checker
 * bounds-checks, so a damaged filesystem yields the blocks the checker
 * could reach.
 */
#ifndef KV_FS_METABLK_H
#define KV_FS_METABLK_H

#include <stdint.h>

#include "fs/format/geom.h"

struct kv_dev;

enum kvfs_metablk_type {
	KVFS_MB_SB, /* superblock copies */
	KVFS_MB_AGF,
	KVFS_MB_AGI,
	KVFS_MB_AGFL,
	KVFS_MB_BNOBT,
	KVFS_MB_CNTBT,
	KVFS_MB_INOBT,
	KVFS_MB_INODE, /* inode chunk blocks */
	KVFS_MB_BMBT, /* extent-map tree blocks */
	KVFS_MB_DIR, /* directory data blocks */
	KVFS_MB_DIRIDX, /* directory hash and free-space index blocks */
	KVFS_MB_ATTR, /* attribute leaf, node and remote value blocks */
	KVFS_MB_SYMLINK, /* symlink target blocks */
	KVFS_MB_LOG,
	KVFS_MB_NTYPES
};

/* "sb", "agf", ... "log" (the kvfs-db blocktrash -t names) */
const char *kvfs_metablk_type_name(enum kvfs_metablk_type t);
/* The type named name (len bytes), or -EINVAL. */
int kvfs_metablk_type_parse(const char *name, size_t len);

/*
 * Call fn for every run of metadata blocks [fsb, fsb + len) of one type
 * and owner (an AG number, or an inode number for inode-owned blocks), in
 * the checker's walk order.  fn returning non-zero stops the walk with
 * that value.  0 whether or not the checker found damage; -ENOMEM, -EIO.
 */
typedef int (*kvfs_metablk_fn)(void *priv, uint64_t fsb, uint32_t len,
			       enum kvfs_metablk_type type, uint64_t owner);
int kvfs_metablk_walk(struct kv_dev *dev, const struct kvfs_geom *g,
		      kvfs_metablk_fn fn, void *priv);

#endif
