/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-disk inodes (struct kvfs_dinode) and the short-form directory kept
 * inline in their data fork: building, verifying and walking them.
 */
#ifndef KV_FS_DINODE_H
#define KV_FS_DINODE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/geom.h"

/* The data fork: after the core, up to the attr fork or the inode's end. */
static inline uint8_t *kvfs_dinode_dfork(void *dip)
{
	return (uint8_t *)dip + KVFS_DINODE_CORE_SIZE;
}

static inline uint32_t kvfs_dinode_dfork_size(const struct kvfs_geom *g,
					      const struct kvfs_dinode *dip)
{
	uint32_t off = kv_le16_to_cpu(dip->forkoff);

	return off ? off * 8u : g->inodesize - KVFS_DINODE_CORE_SIZE;
}

/*
 * Initialise an inode: mode 0 makes a free inode (format extents, no
 * extents).  Timestamps all set to sec/nsec.  The crc is set by
 * kvfs_dinode_set_crc() once the data fork is filled.
 */
void kvfs_dinode_init(void *dip, const struct kvfs_geom *g, uint64_t ino,
		      uint16_t mode, uint32_t nlink, uint32_t uid, uint32_t gid,
		      uint64_t sec, uint32_t nsec, uint32_t gen);
void kvfs_dinode_set_crc(void *dip, const struct kvfs_geom *g);

/* Verify inode ino (inodesize bytes at dip).  -EBADMSG / -EUCLEAN. */
int kvfs_dinode_verify(const void *dip, const struct kvfs_geom *g,
		       uint64_t ino);

/* Directory entry file type of a mode (KVFS_FT_*). */
uint8_t kvfs_mode_to_ftype(uint16_t mode);

/*
 * Short-form directories.  init writes "." (self) and ".." (parent) and
 * sets the inode size; add appends an entry (-ENOSPC when the fork is
 * full, -ENAMETOOLONG for names over 255 bytes).
 */
int kvfs_dir_sf_init(void *dip, const struct kvfs_geom *g, uint64_t self,
		     uint64_t parent);
int kvfs_dir_sf_add(void *dip, const struct kvfs_geom *g, const char *name,
		    uint64_t ino, uint8_t ftype);

/*
 * Walk the entries: *pos starts at 0; returns the next entry and advances
 * *pos, or NULL at the end.  Only for an inode that passed verification.
 */
const struct kvfs_dir_sf_ent *kvfs_dir_sf_next(const void *dip, uint32_t *pos);

#endif
