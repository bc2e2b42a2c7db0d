/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs on-disk format, version 1.  Every on-disk structure lives in this
 * header; fs/ondisk.c pins their sizes with static asserts.
 *
 * All fields are fixed-width little-endian (kv_le16/32/64, converted with
 * the helpers below); padding is explicit.
 */
#ifndef KV_FS_FORMAT_H
#define KV_FS_FORMAT_H

#include <endian.h>
#include <stdint.h>

typedef uint16_t kv_le16;
typedef uint32_t kv_le32;
typedef uint64_t kv_le64;

static inline uint16_t kv_le16_to_cpu(kv_le16 v) { return le16toh(v); }
static inline uint32_t kv_le32_to_cpu(kv_le32 v) { return le32toh(v); }
static inline uint64_t kv_le64_to_cpu(kv_le64 v) { return le64toh(v); }
static inline kv_le16 kv_cpu_to_le16(uint16_t v) { return htole16(v); }
static inline kv_le32 kv_cpu_to_le32(uint32_t v) { return htole32(v); }
static inline kv_le64 kv_cpu_to_le64(uint64_t v) { return htole64(v); }

#define KVFS_UUID_SIZE 16

/*
 * The self-describing header that starts every metadata block (and every
 * multi-block metadata buffer).  crc is crc32c over the whole block or
 * buffer with the crc field read as zero (kv_crc32c_block(buf, len,
 * KVFS_BLK_CRC_OFF)); blkno is the block's own filesystem block number;
 * lsn is the log sequence number of its last write-back; owner is the AG
 * number or inode number that owns it (0 where none exists).
 */
struct kvfs_blk_hdr {
	kv_le32 magic;
	kv_le32 crc;
	kv_le64 blkno;
	kv_le64 lsn;
	kv_le64 owner;
	uint8_t uuid[KVFS_UUID_SIZE];
};

#define KVFS_BLK_CRC_OFF 4
#define KVFS_BLK_LSN_OFF 16
#define KVFS_BLK_HDR_SIZE 48

#endif
