// SPDX-License-Identifier: GPL-2.0
/*
 * Compile-time pins on every on-disk structure of fs/format.h: a change of
 * size or layout breaks the build instead of the format.
 */
#include <stddef.h>
#include <stdint.h>

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
KVFS_OFF(struct kvfs_dsb, feat_log_incompat, 108);
KVFS_OFF(struct kvfs_dsb, rootino, 112);
KVFS_OFF(struct kvfs_dsb, label, 160);
KVFS_OFF(struct kvfs_dsb, uuid, 192);

KVFS_SIZE(struct kvfs_agf, 160);
KVFS_OFF(struct kvfs_agf, agno, 48);
KVFS_OFF(struct kvfs_agf, bno_level, 64);
KVFS_OFF(struct kvfs_agf, freeblks, 68);
KVFS_OFF(struct kvfs_agf, btreeblks, 80);
KVFS_OFF(struct kvfs_agf, flcount, 92);

KVFS_SIZE(struct kvfs_agi, 384);
KVFS_OFF(struct kvfs_agi, agno, 48);
KVFS_OFF(struct kvfs_agi, ino_level, 60);
KVFS_OFF(struct kvfs_agi, icount, 64);
KVFS_OFF(struct kvfs_agi, newino, 72);
KVFS_OFF(struct kvfs_agi, unlinked, 128);

KVFS_SIZE(struct kvfs_agfl, KVFS_BLK_HDR_SIZE);
KVFS_OFF(struct kvfs_agfl, bno, KVFS_BLK_HDR_SIZE);

KVFS_SIZE(struct kvfs_btree_block, KVFS_BTREE_HDR_SIZE);
KVFS_OFF(struct kvfs_btree_block, level, 48);
KVFS_OFF(struct kvfs_btree_block, leftsib, 56);
KVFS_SIZE(struct kvfs_alloc_rec, 8);
KVFS_SIZE(struct kvfs_inobt_rec, 16);
KVFS_OFF(struct kvfs_inobt_rec, holemask, 4);
KVFS_OFF(struct kvfs_inobt_rec, count, 6);
KVFS_OFF(struct kvfs_inobt_rec, freecount, 7);
KVFS_OFF(struct kvfs_inobt_rec, freemask, 8);
KVFS_SIZE(struct kvfs_inobt_key, 8);
KVFS_SIZE(struct kvfs_extent, 24);
KVFS_SIZE(struct kvfs_bmbt_key, 8);
KVFS_SIZE(struct kvfs_bmdr_block, KVFS_BMDR_HDR_SIZE);
KVFS_SIZE(struct kvfs_timestamp, 16);
KVFS_SIZE(kv_le16, 2);
KVFS_SIZE(kv_le32, 4);
KVFS_SIZE(kv_le64, 8);

KVFS_SIZE(struct kvfs_dinode, KVFS_DINODE_CORE_SIZE);
KVFS_OFF(struct kvfs_dinode, mode, 48);
KVFS_OFF(struct kvfs_dinode, size, 64);
KVFS_OFF(struct kvfs_dinode, atime, 80);
KVFS_OFF(struct kvfs_dinode, generation, 144);
KVFS_OFF(struct kvfs_dinode, next_unlinked, 160);
KVFS_OFF(struct kvfs_dinode, anextents, 164);
KVFS_OFF(struct kvfs_dinode, rdev, 168);

KVFS_SIZE(struct kvfs_inode_log_format, KVFS_INODE_LOG_FORMAT_SIZE);
KVFS_OFF(struct kvfs_inode_log_format, boffset, 16);
KVFS_OFF(struct kvfs_inode_log_format, fields, 20);
KVFS_OFF(struct kvfs_inode_log_format, dfork_len, 24);
KVFS_OFF(struct kvfs_inode_log_format, afork_len, 28);
KVFS_SIZE(struct kvfs_log_dinode, KVFS_LOG_DINODE_SIZE);
/* the logged core is the on-disk core's mode..rdev, byte for byte */
KVFS_OFF(struct kvfs_log_dinode, size,
	 offsetof(struct kvfs_dinode, size) -
		 offsetof(struct kvfs_dinode, mode));
KVFS_OFF(struct kvfs_log_dinode, generation,
	 offsetof(struct kvfs_dinode, generation) -
		 offsetof(struct kvfs_dinode, mode));
KVFS_OFF(struct kvfs_log_dinode, rdev,
	 offsetof(struct kvfs_dinode, rdev) -
		 offsetof(struct kvfs_dinode, mode));
_Static_assert(offsetof(struct kvfs_dinode, rdev) + 8 -
			       offsetof(struct kvfs_dinode, mode) ==
		       KVFS_LOG_DINODE_SIZE,
	       "logged core covers mode..rdev");

KVFS_SIZE(struct kvfs_dir_sf_hdr, KVFS_DIR_SF_HDR_SIZE);
KVFS_SIZE(struct kvfs_dir_sf_ent, KVFS_DIR_SF_ENT_SIZE);
KVFS_SIZE(struct kvfs_dir_data_hdr, KVFS_DIR_DATA_HDR_SIZE);
KVFS_SIZE(struct kvfs_dir_head, KVFS_DIR_HEAD_SIZE - KVFS_DIR_DATA_HDR_SIZE);
KVFS_SIZE(struct kvfs_dir_data_ent, KVFS_DIR_DATA_ENT_SIZE);
KVFS_SIZE(struct kvfs_dir_hash_rec, 8);
KVFS_SIZE(struct kvfs_dir_free_rec, 8);
KVFS_OFF(struct kvfs_dsb, dirblklog, 208);

KVFS_SIZE(struct kvfs_attr_sf_hdr, KVFS_ATTR_SF_HDR_SIZE);
KVFS_SIZE(struct kvfs_attr_sf_entry, 4);
KVFS_SIZE(struct kvfs_attr_leaf_hdr, KVFS_ATTR_LEAF_HDR_SIZE);
KVFS_OFF(struct kvfs_attr_leaf_hdr, count, 48);
KVFS_OFF(struct kvfs_attr_leaf_hdr, usedbytes, 50);
KVFS_SIZE(struct kvfs_attr_leaf_entry, KVFS_ATTR_LEAF_ENTRY_SIZE);
KVFS_OFF(struct kvfs_attr_leaf_entry, nameidx, 4);
KVFS_OFF(struct kvfs_attr_leaf_local, nameval, 3);
KVFS_OFF(struct kvfs_attr_leaf_remote, name, 9);
KVFS_SIZE(struct kvfs_attr_node_entry, 8);
KVFS_SIZE(struct kvfs_attr_node_hdr, KVFS_ATTR_NODE_HDR_SIZE);
KVFS_OFF(struct kvfs_attr_node_hdr, count, 48);
KVFS_SIZE(struct kvfs_attr_rmt_hdr, KVFS_ATTR_RMT_HDR_SIZE);
KVFS_OFF(struct kvfs_attr_rmt_hdr, offset, 48);
KVFS_SIZE(struct kvfs_symlink_hdr, KVFS_SYMLINK_HDR_SIZE);
KVFS_OFF(struct kvfs_symlink_hdr, offset, 48);
/* a leaf's name offsets fit an le16: blocks are at most 64 KiB */
_Static_assert((1 << KVFS_MAX_BLOCKLOG) - 1 <= UINT16_MAX,
	       "leaf nameidx overflows 16 bits");

/* the smallest inode must hold the core and a useful data fork */
_Static_assert((1 << KVFS_MIN_INODELOG) - KVFS_DINODE_CORE_SIZE >= 256,
	       "inode data fork too small");
/* an AG's inode numbers (agblklog + inopblog bits) fit an le32 agino */
_Static_assert(KVFS_AG_MAX_BYTES >> KVFS_MIN_INODELOG <= (1ULL << 32),
	       "agino overflows 32 bits");
/* 16 hole-mask bits of 4 inodes each cover one chunk */
_Static_assert(16 * KVFS_INODES_PER_HOLEMASK_BIT == KVFS_INODES_PER_CHUNK,
	       "hole mask does not cover a chunk");
/* the AGI's unlinked buckets fit the smallest block */
_Static_assert(sizeof(struct kvfs_agi) <= (1 << KVFS_MIN_BLOCKLOG),
	       "AGI larger than a block");

/* log payloads */
KVFS_SIZE(struct kvfs_buf_log_hdr, 16);
KVFS_SIZE(struct kvfs_efi_rec, KVFS_EFI_REC_SIZE);
KVFS_SIZE(struct kvfs_icreate_log, KVFS_ICREATE_LOG_SIZE);
KVFS_OFF(struct kvfs_icreate_log, sec, 24);
KVFS_OFF(struct kvfs_buf_log_hdr, nblks, 8);
KVFS_OFF(struct kvfs_buf_log_hdr, map_words, 12);
KVFS_OFF(struct kvfs_buf_log_hdr, flags, 14);
