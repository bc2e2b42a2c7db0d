/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The common self-describing header of metadata blocks (struct
 * kvfs_blk_hdr): filling it, checksumming it, verifying it, and the one
 * place corruption is recorded.
 *
 * Error convention of every kvfs verifier: -EBADMSG when a checksum does
 * not match, -EUCLEAN when the structure makes no sense; both are recorded
 * by kvfs_corrupt() as a struct kvfs_report (block, inode, structure, what
 * was wrong).  The library never prints a report: the caller reads the
 * last one of its thread (kvfs_report_last()) or installs a sink that sees
 * every report (the tools print them, the daemon logs them, fsck collects
 * them).
 */
#ifndef KV_FS_BLKHDR_H
#define KV_FS_BLKHDR_H

#include <stdbool.h>
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
 * free-space header"); uuid (the metadata UUID) NULL skips its check.
 */
int kvfs_blkhdr_verify(const void *blk, size_t len, uint32_t magic,
		       uint64_t blkno, uint64_t owner, const uint8_t *uuid,
		       const char *what);
/* The same for inode ino (owner ino), in block blkno, reported as such. */
int kvfs_blkhdr_verify_inode(const void *dip, size_t len, uint64_t blkno,
			     uint64_t ino, const uint8_t *uuid);

/*
 * The header's LSN against the log's head (XFS's xfs_log_check_lsn()): a
 * block is written back stamped with the LSN of a checkpoint that was
 * durable, so below the head; one at or past it is damage, which would
 * have recovery skip every later change to the block (-EUCLEAN, "LSN C/B
 * ahead of the log (head C/B)").  head 0: no log to judge by, 0 returned.
 * Call after the header verified (its crc holds).  ino KVFS_NULLINO for a
 * block, reported as what; else the inode's header, in block blkno.
 */
int kvfs_blkhdr_check_lsn(const void *blk, uint64_t blkno, uint64_t ino,
			  const char *what, uint64_t head);

/* What a verifier (or a feature check) found wrong. */
struct kvfs_report {
	int err; /* -EBADMSG, -EUCLEAN, -EOPNOTSUPP, ... */
	uint64_t blkno; /* filesystem block, KVFS_NULLBLOCK if none */
	uint64_t ino; /* inode number, KVFS_NULLINO if none */
	char what[48]; /* the structure: "AG free-space header" */
	char msg[208]; /* what was wrong with it */
};

/*
 * Record corruption of block blkno (in structure what) and return err, so
 * a verifier can `return kvfs_corrupt(-EUCLEAN, ...)`.
 */
int kvfs_corrupt(int err, uint64_t blkno, const char *what, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));
/* The same for inode ino, held in block blkno. */
int kvfs_corrupt_inode(int err, uint64_t blkno, uint64_t ino, const char *fmt,
		       ...) __attribute__((format(printf, 4, 5)));
/* Record a report made by hand (feature checks); returns r->err. */
int kvfs_report(const struct kvfs_report *r);

/* The last report made on the calling thread (zeroed before any). */
const struct kvfs_report *kvfs_report_last(void);

/*
 * Install fn as the process-wide sink: called with every report, on the
 * thread that made it, before the verifier returns.  NULL removes it.  Set
 * it before starting threads that read metadata.
 */
void kvfs_report_set_sink(void (*fn)(const struct kvfs_report *r, void *priv),
			  void *priv);
/*
 * The calling thread's reports kept from the sink while muted (calls nest;
 * kvfs_report_last() still sees them): a walk that reads metadata for
 * another purpose than checking it, whose damage the check reports.
 */
void kvfs_report_mute(bool mute);

/*
 * One line for a report, "checksum error in block 12 (AG free-space
 * header): bad crc32c ...", for the tools' stderr and the daemon's log.
 */
void kvfs_report_format(const struct kvfs_report *r, char *buf, size_t len);
/*
 * One line for n reports alike but for their blocks, r's the first and
 * last the last (a structure damaged throughout, read block by block):
 * "corruption in 1803 blocks, 1594 to 3396 (directory data block): ...".
 */
void kvfs_report_format_run(const struct kvfs_report *r, uint64_t n,
			    uint64_t last, char *buf, size_t len);

/* Number of reports made so far (tests; a verifier that fails says so). */
unsigned long kvfs_corrupt_count(void);

/* The magic as 4 printable characters plus NUL, for messages. */
void kvfs_magic_str(uint32_t magic, char out[5]);

#endif
