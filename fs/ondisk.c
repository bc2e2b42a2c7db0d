// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-time pins on every on-disk structure of fs/format.h: a change of
 * size or layout breaks the build instead of the format.
 */
#include <stddef.h>

#include "fs/format.h"

#define KVFS_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " size")
#define KVFS_OFF(type, field, off) \
	_Static_assert(offsetof(type, field) == (off), #type "." #field)

KVFS_SIZE(struct kvfs_blk_hdr, KVFS_BLK_HDR_SIZE);
KVFS_OFF(struct kvfs_blk_hdr, crc, KVFS_BLK_CRC_OFF);
KVFS_OFF(struct kvfs_blk_hdr, blkno, 8);
KVFS_OFF(struct kvfs_blk_hdr, lsn, KVFS_BLK_LSN_OFF);
KVFS_OFF(struct kvfs_blk_hdr, owner, 24);
KVFS_OFF(struct kvfs_blk_hdr, uuid, 32);

KVFS_SIZE(struct kvfs_dsb, 512);
KVFS_OFF(struct kvfs_dsb, version, 48);
KVFS_OFF(struct kvfs_dsb, blocksize, 52);
KVFS_OFF(struct kvfs_dsb, dblocks, 56);
KVFS_OFF(struct kvfs_dsb, logstart, 72);
KVFS_OFF(struct kvfs_dsb, inodesize, 84);
KVFS_OFF(struct kvfs_dsb, state, 90);
KVFS_OFF(struct kvfs_dsb, feat_compat, 96);
KVFS_OFF(struct kvfs_dsb, rootino, 112);
KVFS_OFF(struct kvfs_dsb, label, 160);

KVFS_SIZE(struct kvfs_agh, 160);
KVFS_OFF(struct kvfs_agh, agno, 48);
KVFS_OFF(struct kvfs_agh, bno_level, 68);
KVFS_OFF(struct kvfs_agh, freeblks, 72);
KVFS_OFF(struct kvfs_agh, newino, 92);

KVFS_SIZE(struct kvfs_btree_block, KVFS_BTREE_HDR_SIZE);
KVFS_OFF(struct kvfs_btree_block, level, 48);
KVFS_OFF(struct kvfs_btree_block, leftsib, 56);
KVFS_SIZE(struct kvfs_alloc_rec, 8);
KVFS_SIZE(struct kvfs_inobt_rec, 16);
KVFS_SIZE(struct kvfs_inobt_key, 8);
KVFS_SIZE(struct kvfs_extent, 24);
KVFS_SIZE(struct kvfs_timestamp, 16);

KVFS_SIZE(struct kvfs_dinode, KVFS_DINODE_CORE_SIZE);
KVFS_OFF(struct kvfs_dinode, mode, 48);
KVFS_OFF(struct kvfs_dinode, size, 64);
KVFS_OFF(struct kvfs_dinode, atime, 80);
KVFS_OFF(struct kvfs_dinode, generation, 144);
KVFS_OFF(struct kvfs_dinode, next_unlinked, 160);

KVFS_SIZE(struct kvfs_dir_sf_hdr, KVFS_DIR_SF_HDR_SIZE);
KVFS_SIZE(struct kvfs_dir_sf_ent, KVFS_DIR_SF_ENT_SIZE);

/* the smallest inode must hold the core and a useful data fork */
_Static_assert((1 << KVFS_MIN_INODELOG) - KVFS_DINODE_CORE_SIZE >= 256,
	       "inode data fork too small");
/* an AG's inode numbers (agblklog + inopblog bits) fit an le32 agino */
_Static_assert(KVFS_AG_MAX_BYTES >> KVFS_MIN_INODELOG <= (1ULL << 32),
	       "agino overflows 32 bits");
