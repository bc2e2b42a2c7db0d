/* SPDX-License-Identifier: GPL-2.0 */
/*
 * On-disk inodes (struct kvfs_dinode) and the short-form directory kept
 * inline in their data fork: building, verifying and walking them.
 */
#ifndef KV_FS_DINODE_H
#define KV_FS_DINODE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"

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

/* Size of the attribute fork (0 without one). */
static inline uint32_t kvfs_dinode_afork_size(const struct kvfs_geom *g,
					      const struct kvfs_dinode *dip)
{
	uint32_t off = kv_le16_to_cpu(dip->forkoff);

	return off ? g->inodesize - KVFS_DINODE_CORE_SIZE - off * 8u : 0;
}

/*
 * Keys (and child pointers) an extent-map root in a fork of size bytes holds.
 */
static inline uint32_t kvfs_bmdr_maxrecs(uint32_t size)
{
	if (size < KVFS_BMDR_HDR_SIZE)
		return 0;
	return (size - KVFS_BMDR_HDR_SIZE) /
	       (sizeof(struct kvfs_bmbt_key) + sizeof(kv_le64));
}

static inline const struct kvfs_bmbt_key *kvfs_bmdr_key(const void *fork,
							unsigned i)
{
	return (const struct kvfs_bmbt_key *)((const uint8_t *)fork +
					      KVFS_BMDR_HDR_SIZE) +
	       i;
}

static inline const kv_le64 *kvfs_bmdr_ptr(const void *fork, uint32_t size,
					   unsigned i)
{
	return (const kv_le64 *)((const uint8_t *)fork + KVFS_BMDR_HDR_SIZE +
				 (size_t)kvfs_bmdr_maxrecs(size) *
					 sizeof(struct kvfs_bmbt_key)) +
	       i;
}

/*
 * Initialise an inode: mode 0 makes a free inode (format extents, no
 * extents).  Timestamps all set to sec/nsec.  The crc is set by
 * kvfs_dinode_set_crc() once the data fork is filled.
 */
void kvfs_dinode_init(void *dip, const struct kvfs_geom *g, uint64_t ino,
		      uint16_t mode, uint32_t nlink, uint32_t uid, uint32_t gid,
		      int64_t sec, uint32_t nsec, uint32_t gen);
void kvfs_dinode_set_crc(void *dip, const struct kvfs_geom *g);

/*
 * Verify inode ino (inodesize bytes at dip) fully: header and crc, the
 * core's fields, and both forks' contents (extents in order, inside one AG
 * each, clear of the AG headers and the log, below the largest file
 * offset; a btree root's level, records, keys and pointers; short-form
 * directories).  What loading an inode calls (XFS's xfs_dinode_verify at
 * iget); the cluster buffer's own verifier only checks each inode's magic,
 * so that one bad inode leaves its neighbours readable.  -EBADMSG /
 * -EUCLEAN, recorded with the inode number via kvfs_corrupt_inode().
 */
int kvfs_dinode_verify(const void *dip, const struct kvfs_geom *g,
		       uint64_t ino);

/* Directory entry file type of a mode (KVFS_FT_*). */
uint8_t kvfs_mode_to_ftype(uint16_t mode);

/*
 * Short-form directories (fs/format.h).  init makes an empty one naming
 * parent as ".." and sets the inode size; add appends an entry at the
 * lowest free cookie (-ENOSPC when the fork is full or block 0's data area
 * has no room for it, -ENAMETOOLONG for names over 255 bytes).
 */
int kvfs_dir_sf_init(void *dip, const struct kvfs_geom *g, uint64_t parent);
int kvfs_dir_sf_add(void *dip, const struct kvfs_geom *g, const char *name,
		    uint64_t ino, uint8_t ftype);
/*
 * The lowest cookie where an entry of namelen bytes fits among the
 * size bytes of short form at fork without overlapping any entry's data
 * address range, inside data block 0 of dirblksize bytes; -ENOSPC if none.
 */
int kvfs_dir_sf_pick(const uint8_t *fork, uint32_t size, unsigned namelen,
		     uint32_t dirblksize, uint32_t *cookie);

/*
 * Walk the entries: *pos starts at 0; returns the next entry and advances
 * *pos, or NULL at the end.  Only for an inode that passed verification.
 */
const struct kvfs_dir_sf_ent *kvfs_dir_sf_next(const void *dip, uint32_t *pos);

#endif
