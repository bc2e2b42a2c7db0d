/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Buffer types of the filesystem's metadata blocks (XFS's xfs_buf_ops):
 * read verification and the write-back stamp, on top of the format's own
 * verifiers.  They find the geometry through kv_bcache_private(), which the
 * owner of the cache sets to its struct kvfs_geom.
 */
#ifndef KV_FS_BUF_OPS_H
#define KV_FS_BUF_OPS_H

#include <stddef.h>

#include "fs/io/buf.h"

extern const struct kv_buf_ops kvfs_sb_buf_ops;
extern const struct kv_buf_ops kvfs_agf_buf_ops;
extern const struct kv_buf_ops kvfs_agi_buf_ops;
extern const struct kv_buf_ops kvfs_agfl_buf_ops;
extern const struct kv_buf_ops kvfs_bnobt_buf_ops;
extern const struct kv_buf_ops kvfs_cntbt_buf_ops;
extern const struct kv_buf_ops kvfs_inobt_buf_ops;
/* A file's extent-map tree block (owner: the header's, see buf_ops.c) */
extern const struct kv_buf_ops kvfs_bmbt_buf_ops;
/* directory blocks (fs/ns/dir.h): index trees and data blocks */
extern const struct kv_buf_ops kvfs_dir_hash_buf_ops;
extern const struct kv_buf_ops kvfs_dir_free_buf_ops;
extern const struct kv_buf_ops kvfs_dir_data_buf_ops;
/*
 * A cluster of inodes: each inode's magic checked on read (the full check
 * is kvfs_dinode_verify() when an inode is loaded), each stamped on write.
 */
extern const struct kv_buf_ops kvfs_inode_buf_ops;

/*
 * A read verifier's end: err (a failed verifier's) handed to the buffer's
 * error detail, or else the header's LSN checked against the log's head
 * (fs/io/blkhdr.h kvfs_blkhdr_check_lsn(), the head the cache's owner
 * gives, kv_bcache_set_lsn_head()); what names the block in the report.
 */
int kvfs_buf_check_lsn(struct kv_buf *bp, int err, const char *what);

/*
 * The buffer type of a metadata block by the magic in its header, NULL if
 * none (recovery's kvfs_bli_buf_type_fn).
 */
const struct kv_buf_ops *kvfs_buf_ops_by_magic(const void *blk, size_t len);

#endif
