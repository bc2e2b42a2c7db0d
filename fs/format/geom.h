/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filesystem geometry: the in-core superblock (struct kvfs_geom), how mkfs
 * chooses it, how a superblock read from disk is validated, and the
 * arithmetic between filesystem blocks, AG blocks and inode numbers.
 *
 * Block numbers: a filesystem block number (fsb) is linear from the start
 * of the device; AG n starts at fsb n * agblocks.  An inode number is
 * agno << (agblklog + inopblog) | agbno << inopblog | index in its block.
 */
#ifndef KV_FS_GEOM_H
#define KV_FS_GEOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"

struct kvfs_geom {
	uint32_t blocksize;
	uint32_t blocklog;
	uint64_t dblocks;
	uint32_t agblocks;
	uint32_t agcount;
	uint32_t agblklog;
	uint64_t logstart; /* fsb */
	uint32_t logblocks;
	uint32_t inodesize;
	uint32_t inodelog;
	uint32_t inopblog;
	uint32_t inopblock;
	uint32_t ialloc_blocks; /* blocks of one inode allocation */
	uint32_t ialloc_inos; /* inodes of one inode allocation */
	uint32_t dirblksize; /* directory block, bytes (fs/format.h) */
	uint32_t dirblklog;
	/* derived: see kvfs_geom_derive() */
	uint32_t alloc_maxlevels; /* height limit of a free-space tree */
	uint32_t agfl_size; /* entries of a reserve-list block */
	uint32_t agfl_min; /* reserve-list blocks mkfs sets aside */
	uint64_t rootino;
	uint64_t lpfino;
	uint32_t state; /* KVFS_STATE_* */
	uint32_t feat_compat;
	uint32_t feat_ro_compat;
	uint32_t feat_incompat;
	uint32_t feat_log_incompat;
	uint64_t icount;
	uint64_t ifree;
	uint64_t fdblocks;
	uint64_t ctime_sec;
	uint8_t uuid[KVFS_UUID_SIZE]; /* user-visible */
	uint8_t meta_uuid[KVFS_UUID_SIZE]; /* in every metadata header */
	char label[KVFS_LABEL_MAX + 1];
};

/*
 * Large data extents start on a multiple of this many bytes of the device
 * (fs/data/bmap.c), and mkfs makes the AG size a multiple of it when it
 * chooses the AG size itself, so that an AG-relative alignment is one on
 * the device: the host page cache of an image keeps a file's data in
 * folios aligned on the image, and misaligned data costs the host several
 * folios per MiB (reads of it ran at 0.8x those of a raw file).
 */
#define KVFS_DATA_ALIGN_BYTES (1u << 20)

/* What mkfs was asked for; zero fields take defaults. */
struct kvfs_geom_params {
	uint64_t size; /* bytes available for the filesystem */
	uint32_t blocksize;
	uint32_t agcount;
	uint64_t agsize; /* bytes; exclusive with agcount */
	uint64_t logsize; /* bytes */
	uint32_t dirblksize; /* 0: 4 KiB or the block size if larger */
};

/*
 * Fill the fields derived from blocksize and agblocks (alloc_maxlevels,
 * agfl_size, agfl_min): the same answer for mkfs and for every reader.
 */
void kvfs_geom_derive(struct kvfs_geom *g);

/*
 * Choose a geometry (every field but the UUIDs, label, ctime_sec) for p.
 * Returns 0, or -EINVAL with a one-line reason in err.
 */
int kvfs_geom_compute(const struct kvfs_geom_params *p, struct kvfs_geom *g,
		      char *err, size_t errlen);

/*
 * Check that a geometry read from a superblock makes sense (derived fields
 * agree, everything fits).  Returns 0, or -EUCLEAN with the reason in err.
 */
int kvfs_geom_validate(const struct kvfs_geom *g, char *err, size_t errlen);

/* AG 0 layout chosen by mkfs: where the first inode allocation goes. */
uint32_t kvfs_geom_first_chunk_agbno(const struct kvfs_geom *g);

/*
 * Blocks of every AG mkfs leaves used: the fixed headers, the tree roots
 * and the reserve list's blocks (AG blocks KVFS_AG_MKFS_BLOCKS .. +
 * agfl_min - 1).
 */
static inline uint32_t kvfs_geom_ag_overhead(const struct kvfs_geom *g)
{
	return KVFS_AG_MKFS_BLOCKS + g->agfl_min;
}

/* File blocks an extent may reach: it ends at or before this block. */
static inline uint64_t kvfs_max_fileoff_blocks(const struct kvfs_geom *g)
{
	return (KVFS_MAX_FILE_OFFSET >> g->blocklog) + 1;
}

static inline uint32_t kvfs_ag_length(const struct kvfs_geom *g, uint32_t agno)
{
	if (agno + 1 < g->agcount)
		return g->agblocks;
	return (uint32_t)(g->dblocks - (uint64_t)agno * g->agblocks);
}

static inline uint64_t kvfs_agb_to_fsb(const struct kvfs_geom *g, uint32_t agno,
				       uint32_t agbno)
{
	return (uint64_t)agno * g->agblocks + agbno;
}

static inline uint32_t kvfs_fsb_to_agno(const struct kvfs_geom *g, uint64_t fsb)
{
	return (uint32_t)(fsb / g->agblocks);
}

static inline uint32_t kvfs_fsb_to_agbno(const struct kvfs_geom *g,
					 uint64_t fsb)
{
	return (uint32_t)(fsb % g->agblocks);
}

static inline uint64_t kvfs_fsb_to_bytes(const struct kvfs_geom *g,
					 uint64_t fsb)
{
	return fsb << g->blocklog;
}

static inline uint32_t kvfs_agino_bits(const struct kvfs_geom *g)
{
	return g->agblklog + g->inopblog;
}

static inline uint64_t kvfs_agino_to_ino(const struct kvfs_geom *g,
					 uint32_t agno, uint32_t agino)
{
	return (uint64_t)agno << kvfs_agino_bits(g) | agino;
}

static inline uint32_t kvfs_ino_to_agno(const struct kvfs_geom *g, uint64_t ino)
{
	return (uint32_t)(ino >> kvfs_agino_bits(g));
}

static inline uint32_t kvfs_ino_to_agino(const struct kvfs_geom *g,
					 uint64_t ino)
{
	return (uint32_t)(ino & ((1ULL << kvfs_agino_bits(g)) - 1));
}

static inline uint32_t kvfs_agino_to_agbno(const struct kvfs_geom *g,
					   uint32_t agino)
{
	return agino >> g->inopblog;
}

static inline uint32_t kvfs_agbno_to_agino(const struct kvfs_geom *g,
					   uint32_t agbno)
{
	return agbno << g->inopblog;
}

static inline uint64_t kvfs_ino_to_fsb(const struct kvfs_geom *g, uint64_t ino)
{
	return kvfs_agb_to_fsb(
		g, kvfs_ino_to_agno(g, ino),
		kvfs_agino_to_agbno(g, kvfs_ino_to_agino(g, ino)));
}

/* Byte offset of the inode within its block. */
static inline uint32_t kvfs_ino_to_offset(const struct kvfs_geom *g,
					  uint64_t ino)
{
	return (uint32_t)(ino & (g->inopblock - 1)) << g->inodelog;
}

/* An inode number that could exist in this geometry (not that it does). */
bool kvfs_ino_in_range(const struct kvfs_geom *g, uint64_t ino);

#endif
