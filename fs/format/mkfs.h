/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mkfs as a library: validate a target and the requested geometry without
 * touching anything, then create/extend the target and write a fresh
 * filesystem.  Used by mkfs.kvfs, the tests, the journal benchmark and
 * (later) fsck.
 */
#ifndef KV_FS_MKFS_H
#define KV_FS_MKFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

struct kv_dev;

struct kvfs_mkfs_opts {
	const char *target;
	/*
	 * Bytes for the filesystem.  0: the target's size (it must exist).
	 * A regular file is created or extended to this size (never shrunk;
	 * a larger file keeps its tail outside the filesystem).
	 */
	uint64_t size;
	uint32_t blocksize; /* 0 = 4 KiB */
	uint32_t agcount; /* 0 = default; exclusive with agsize */
	uint64_t agsize; /* bytes; 0 = default */
	uint64_t logsize; /* bytes; 0 = default */
	uint32_t dirblksize; /* directory block bytes; 0 = default */
	const char *label; /* NULL = none; at most 32 bytes */
	const uint8_t *uuid; /* NULL = random */
	bool force; /* overwrite an existing filesystem signature */
	bool dry_run; /* compute and validate, write nothing */
	char err[256]; /* out: one-line reason of a failure */
};

/*
 * Validate the target and options and compute the geometry into g; writes
 * nothing, creates nothing.  0 or -errno with o->err set.
 */
int kvfs_mkfs_plan(struct kvfs_mkfs_opts *o, struct kvfs_geom *g);

/*
 * kvfs_mkfs_plan(), then (unless o->dry_run) create/extend the target and
 * write the filesystem.  0 or -errno with o->err set.
 */
int kvfs_mkfs(struct kvfs_mkfs_opts *o, struct kvfs_geom *g);

/*
 * Write a filesystem of geometry g (from kvfs_geom_compute() plus uuid,
 * label and ctime) to an open device: every AG's headers and tree roots,
 * the root and lost+found inodes, and a zeroed log.  The primary
 * superblock is written last, after a flush.
 */
int kvfs_mkfs_write(struct kv_dev *dev, const struct kvfs_geom *g, char *err,
		    size_t errlen);

/*
 * Name of a filesystem or volume signature found in the first len bytes
 * of a device ("kvfs", "XFS", "ext4", ...), or NULL.
 */
const char *kvfs_probe_signature(const void *buf, size_t len);
/* Bytes kvfs_probe_signature() wants to see. */
#define KVFS_PROBE_BYTES (68u << 10)

/* Parse "123", "4K", "16M", "1G", "2T" (powers of 1024).  0 or -EINVAL. */
int kvfs_parse_size(const char *s, uint64_t *out);

#endif
