/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The common self-describing header of metadata blocks (struct
 * kvfs_blk_hdr): filling it, checksumming it, verifying it, and the one
 * place corruption is reported.
 *
 * Error convention of every kvfs verifier: -EBADMSG when a checksum does
 * not match, -EUCLEAN when the structure makes no sense; both are reported
 * on stderr by kvfs_corrupt() with the block number and what was wrong.
 */
#ifndef KV_FS_BLKHDR_H
#define KV_FS_BLKHDR_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

/* Fill the header (lsn 0); the crc is set later by kvfs_blkhdr_set_crc(). */
void kvfs_blkhdr_init(void *blk, uint32_t magic, uint64_t blkno, uint64_t owner,
		      const uint8_t *uuid);
/* Compute and store the crc over len bytes (call after the last change). */
void kvfs_blkhdr_set_crc(void *blk, size_t len);
/*
 * Write-back stamp (a buffer's verify_write): record the LSN of the last
 * change, then recompute the crc over len bytes.
 */
void kvfs_blkhdr_stamp(void *blk, size_t len, uint64_t lsn);

/*
 * Verify a header over len bytes: crc (-EBADMSG), then magic, blkno, owner
 * and uuid (-EUCLEAN).  what names the structure in the report ("AG
 * header", "inode 131"); uuid NULL skips the uuid check.
 */
int kvfs_blkhdr_verify(const void *blk, size_t len, uint32_t magic,
		       uint64_t blkno, uint64_t owner, const uint8_t *uuid,
		       const char *what);

/*
 * Report corruption of block blkno (in structure what) on stderr and
 * return err, so a verifier can `return kvfs_corrupt(-EUCLEAN, ...)`.
 */
int kvfs_corrupt(int err, uint64_t blkno, const char *what, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

/* Number of reports made so far (tests; a verifier that fails says so). */
unsigned long kvfs_corrupt_count(void);

/* The magic as 4 printable characters plus NUL, for messages. */
void kvfs_magic_str(uint32_t magic, char out[5]);

#endif
