/* SPDX-License-Identifier: GPL-2.0 */
/*
 * crc32c (Castagnoli), the checksum of every log record and metadata block.
 * Uses the SSE4.2 crc32 instruction when the CPU has it.
 */
#ifndef KV_JOURNAL_CRC32C_H
#define KV_JOURNAL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Standard crc32c: kv_crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t kv_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Checksum of a block whose 4-byte crc field at crc_off is treated as zero
 * (the field itself is not read), as XFS's xfs_start_cksum_update().
 */
uint32_t kv_crc32c_block(const void *buf, size_t len, size_t crc_off);

#endif
