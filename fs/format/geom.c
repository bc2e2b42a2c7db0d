// SPDX-License-Identifier: GPL-2.0
/*
 * Geometry: mkfs's choice of block, AG, inode and log layout, and the
 * sanity rules a superblock read from disk must obey (the same rules, so
 * that every filesystem mkfs makes is one a reader accepts).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "fs/format/geom.h"
#include "fs/trans/trans_resv.h"
#include "fs/format/sb.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static int geom_err(int ret, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int geom_err(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static uint32_t log2_ceil(uint64_t v)
{
	uint32_t l = 0;

	while ((1ULL << l) < v)
		l++;
	return l;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

uint32_t kvfs_geom_first_chunk_agbno(const struct kvfs_geom *g)
{
	uint32_t a = g->ialloc_blocks;

	/* chunks are aligned to their size, like XFS's inode alignment */
	return (kvfs_geom_ag_overhead(g) + a - 1) / a * a;
}

/*
 * Height of a tree holding nrecs records with every block only half full
 * (XFS's xfs_btree_compute_maxlevels).
 */
static uint32_t btree_maxlevels(uint32_t leaf_min, uint32_t node_min,
				uint64_t nrecs)
{
	uint64_t blocks = (nrecs + leaf_min - 1) / leaf_min;
	uint32_t levels = 1;

	while (blocks > 1) {
		blocks = (blocks + node_min - 1) / node_min;
		levels++;
	}
	return levels;
}

void kvfs_geom_derive(struct kvfs_geom *g)
{
	uint32_t room = g->blocksize - KVFS_BTREE_HDR_SIZE;
	uint32_t leaf = room / sizeof(struct kvfs_alloc_rec);
	uint32_t node = room / (sizeof(struct kvfs_alloc_rec) + 8);

	/* at most one free extent per two blocks */
	g->alloc_maxlevels =
		btree_maxlevels(leaf / 2, node / 2, (g->agblocks + 1ULL) / 2);
	g->agfl_size = (g->blocksize - KVFS_BLK_HDR_SIZE) / sizeof(kv_le32);
	/*
	 * XFS's rule: enough for a split at every level of both free-space
	 * trees, plus a new root for each.
	 */
	g->agfl_min = 2 * (g->alloc_maxlevels + 1);
}

/* Default AG count: 4 for small images, ~4 GiB AGs up to 32 AGs, then 1 TiB. */
static uint64_t default_agcount(uint64_t bytes)
{
	uint64_t n;

	if (bytes < 4 * KVFS_AG_MIN_BYTES)
		return bytes / KVFS_AG_MIN_BYTES ? bytes / KVFS_AG_MIN_BYTES :
						   1;
	if (bytes <= 16 * GIB)
		return 4;
	n = bytes / (4 * GIB);
	if (n > 32)
		n = 32;
	if (bytes / n > KVFS_AG_MAX_BYTES)
		n = (bytes + KVFS_AG_MAX_BYTES - 1) / KVFS_AG_MAX_BYTES;
	return n;
}

static void derive_inodes(struct kvfs_geom *g)
{
	g->inodelog = KVFS_DEF_INODELOG;
	g->inodesize = 1u << g->inodelog;
	g->inopblog = g->blocklog - g->inodelog;
	g->inopblock = 1u << g->inopblog;
	g->ialloc_inos = g->inopblock > KVFS_INODES_PER_CHUNK ?
				 g->inopblock :
				 KVFS_INODES_PER_CHUNK;
	g->ialloc_blocks = g->ialloc_inos / g->inopblock;
}

/*
 * The AG size chosen from a count, rounded up to a multiple of
 * KVFS_DATA_ALIGN_BYTES when that keeps the count and a last AG of at
 * least the minimum (the last AG takes what the others gained).
 */
static uint64_t align_agblocks(const struct kvfs_geom *g, uint64_t agblocks,
			       uint64_t minb, uint64_t maxb)
{
	uint64_t a = KVFS_DATA_ALIGN_BYTES / g->blocksize;
	uint64_t up = (agblocks + a - 1) / a * a;
	uint64_t count = (g->dblocks + agblocks - 1) / agblocks;

	if (a < 2 || up == agblocks || up > maxb || count < 2 ||
	    (g->dblocks + up - 1) / up != count ||
	    g->dblocks - (count - 1) * up < minb)
		return agblocks;
	return up;
}

static int choose_ags(const struct kvfs_geom_params *p, struct kvfs_geom *g,
		      char *err, size_t errlen)
{
	uint64_t bs = g->blocksize, agblocks, agcount, last;
	uint64_t minb = KVFS_AG_MIN_BYTES / bs, maxb = KVFS_AG_MAX_BYTES / bs;

	if (p->agcount && p->agsize)
		return geom_err(-EINVAL, err, errlen,
				"AG count and AG size are mutually exclusive");
	if (p->agsize) {
		if (p->agsize % bs)
			return geom_err(
				-EINVAL, err, errlen,
				"AG size %" PRIu64
				" is not a multiple of the block size %u",
				p->agsize, g->blocksize);
		agblocks = p->agsize / bs;
		if (agblocks < minb || agblocks > maxb)
			return geom_err(-EINVAL, err, errlen,
					"AG size %" PRIu64
					" is outside 16 MiB .. 1 TiB",
					p->agsize);
		if (agblocks > g->dblocks)
			return geom_err(
				-EINVAL, err, errlen,
				"AG size %" PRIu64
				" is larger than the filesystem (%" PRIu64
				" bytes)",
				p->agsize, g->dblocks * bs);
	} else {
		agcount = p->agcount ? p->agcount :
				       default_agcount(g->dblocks * bs);
		if (agcount > KVFS_AG_MAX_COUNT)
			return geom_err(-EINVAL, err, errlen,
					"AG count %" PRIu64 " exceeds %u",
					agcount, KVFS_AG_MAX_COUNT);
		agblocks = (g->dblocks + agcount - 1) / agcount;
		if (agblocks < minb)
			return geom_err(-EINVAL, err, errlen,
					"AG count %" PRIu64
					" gives AGs of %" PRIu64
					" bytes, below the 16 MiB minimum",
					agcount, agblocks * bs);
		if (agblocks > maxb)
			return geom_err(-EINVAL, err, errlen,
					"AG count %" PRIu64
					" gives AGs of %" PRIu64
					" bytes, above the 1 TiB maximum",
					agcount, agblocks * bs);
	}
	if (!p->agsize)
		agblocks = align_agblocks(g, agblocks, minb, maxb);
	agcount = (g->dblocks + agblocks - 1) / agblocks;
	last = g->dblocks - (agcount - 1) * agblocks;
	if (agcount > 1 && last < minb) {
		/* a runt last AG is not worth its headers: drop it */
		agcount--;
		g->dblocks -= last;
	}
	if (p->agcount && agcount != p->agcount)
		return geom_err(-EINVAL, err, errlen,
				"cannot cut %" PRIu64
				" bytes into %u AGs of at least 16 MiB",
				g->dblocks * bs, p->agcount);
	if (agcount > KVFS_AG_MAX_COUNT)
		return geom_err(-EINVAL, err, errlen,
				"AG count %" PRIu64 " exceeds %u", agcount,
				KVFS_AG_MAX_COUNT);
	g->agblocks = (uint32_t)agblocks;
	g->agcount = (uint32_t)agcount;
	g->agblklog = log2_ceil(agblocks);
	return 0;
}

static int choose_log(const struct kvfs_geom_params *p, struct kvfs_geom *g,
		      char *err, size_t errlen)
{
	uint64_t bs = g->blocksize;
	uint32_t start = kvfs_geom_first_chunk_agbno(g) + g->ialloc_blocks;
	uint64_t avail = kvfs_ag_length(g, 0) - start, want;
	uint64_t min = kvfs_trans_resv_min_log_bytes(g);

	if (p->logsize) {
		want = (p->logsize + bs - 1) / bs;
		if (want * bs < KVFS_LOG_MIN_BYTES)
			return geom_err(-EINVAL, err, errlen,
					"log size %" PRIu64
					" is below the 4 MiB minimum",
					p->logsize);
		if (want * bs < min)
			return geom_err(-EINVAL, err, errlen,
					"log size %" PRIu64
					" is below the %" PRIu64
					"-byte minimum of this block and "
					"inode size",
					p->logsize, min);
		if (want * bs > KVFS_LOG_MAX_BYTES)
			return geom_err(-EINVAL, err, errlen,
					"log size %" PRIu64
					" is above the 2 GiB maximum",
					p->logsize);
		if (want > avail)
			return geom_err(-EINVAL, err, errlen,
					"log size %" PRIu64
					" does not fit in AG 0 (%" PRIu64
					" bytes free)",
					p->logsize, avail * bs);
	} else {
		/*
		 * 1/512 of the filesystem, 4 MiB .. 1 GiB, at most half of AG
		 * 0; from 1 GiB up at least 64 MiB: relogged buffers carry
		 * their whole dirty region into every checkpoint, and a small
		 * log makes committers wait for write-back (8 MiB costs the
		 * journal bench most of its throughput).
		 */
		uint64_t bytes = g->dblocks * bs / 512;

		if (g->dblocks * bs >= GIB && bytes < 64 * MIB)
			bytes = 64 * MIB;
		if (bytes > GIB)
			bytes = GIB;
		if (bytes > avail / 2 * bs)
			bytes = avail / 2 * bs;
		if (bytes < min)
			bytes = min;
		want = (bytes + bs - 1) / bs;
		if (want > avail)
			return geom_err(-EINVAL, err, errlen,
					"AG 0 is too small for a %" PRIu64
					"-byte log",
					want * bs);
	}
	g->logstart = start;
	g->logblocks = (uint32_t)want;
	return 0;
}

int kvfs_geom_compute(const struct kvfs_geom_params *p, struct kvfs_geom *g,
		      char *err, size_t errlen)
{
	uint32_t bs = p->blocksize ? p->blocksize : 1u << KVFS_DEF_BLOCKLOG;
	uint64_t used;
	int ret;

	*g = (struct kvfs_geom){ 0 };
	if (!is_pow2(bs) || bs < (1u << KVFS_MIN_BLOCKLOG) ||
	    bs > (1u << KVFS_MAX_BLOCKLOG))
		return geom_err(
			-EINVAL, err, errlen,
			"block size %u is not a power of two from 1024 to 65536",
			bs);
	g->blocksize = bs;
	g->blocklog = log2_ceil(bs);
	if (p->size < KVFS_AG_MIN_BYTES)
		return geom_err(
			-EINVAL, err, errlen,
			"%" PRIu64
			" bytes is too small for a filesystem (minimum 16 MiB)",
			p->size);
	g->dblocks = p->size / bs;
	derive_inodes(g);
	if (p->dirblksize && (!is_pow2(p->dirblksize) || p->dirblksize < bs ||
			      p->dirblksize < (1u << KVFS_MIN_DIRBLKLOG) ||
			      p->dirblksize > (1u << KVFS_MAX_DIRBLKLOG)))
		return geom_err(-EINVAL, err, errlen,
				"directory block size %u is not a power of two "
				"from 4096 (and the block size) to 65536",
				p->dirblksize);
	g->dirblksize = p->dirblksize ? p->dirblksize :
			bs > (1u << KVFS_DEF_DIRBLKLOG) ?
					bs :
					1u << KVFS_DEF_DIRBLKLOG;
	g->dirblklog = log2_ceil(g->dirblksize);
	ret = choose_ags(p, g, err, errlen);
	if (ret)
		return ret;
	kvfs_geom_derive(g);
	ret = choose_log(p, g, err, errlen);
	if (ret)
		return ret;
	g->rootino = kvfs_agino_to_ino(
		g, 0, kvfs_agbno_to_agino(g, kvfs_geom_first_chunk_agbno(g)));
	g->lpfino = g->rootino + 1;
	g->state = KVFS_STATE_CLEAN;
	g->icount = g->ialloc_inos;
	g->ifree = g->ialloc_inos - 2;
	used = (uint64_t)g->agcount * kvfs_geom_ag_overhead(g) +
	       g->ialloc_blocks + g->logblocks;
	g->fdblocks = g->dblocks - used;
	return 0;
}

int kvfs_geom_validate(const struct kvfs_geom *g, char *err, size_t errlen)
{
	uint64_t minb, maxb, last;
	uint32_t ialloc_inos;

	if (g->blocklog < KVFS_MIN_BLOCKLOG ||
	    g->blocklog > KVFS_MAX_BLOCKLOG ||
	    g->blocksize != 1u << g->blocklog)
		return geom_err(-EUCLEAN, err, errlen,
				"block size %u / log %u invalid", g->blocksize,
				g->blocklog);
	if (g->inodelog < KVFS_MIN_INODELOG ||
	    g->inodelog > KVFS_MAX_INODELOG ||
	    g->inodesize != 1u << g->inodelog || g->inodelog > g->blocklog ||
	    g->inopblog != g->blocklog - g->inodelog)
		return geom_err(
			-EUCLEAN, err, errlen,
			"inode size %u / log %u / per-block log %u invalid",
			g->inodesize, g->inodelog, g->inopblog);
	if (g->dirblklog < KVFS_MIN_DIRBLKLOG ||
	    g->dirblklog > KVFS_MAX_DIRBLKLOG || g->dirblklog < g->blocklog ||
	    g->dirblksize != 1u << g->dirblklog)
		return geom_err(-EUCLEAN, err, errlen,
				"directory block log %u invalid", g->dirblklog);
	ialloc_inos = g->inopblock > KVFS_INODES_PER_CHUNK ?
			      g->inopblock :
			      KVFS_INODES_PER_CHUNK;
	if (g->ialloc_blocks != ialloc_inos >> g->inopblog)
		return geom_err(-EUCLEAN, err, errlen,
				"inode allocation of %u blocks, expected %u",
				g->ialloc_blocks, ialloc_inos >> g->inopblog);
	minb = KVFS_AG_MIN_BYTES >> g->blocklog;
	maxb = KVFS_AG_MAX_BYTES >> g->blocklog;
	if (g->agcount < 1 || g->agcount > KVFS_AG_MAX_COUNT)
		return geom_err(-EUCLEAN, err, errlen, "AG count %u invalid",
				g->agcount);
	if (g->agblocks > maxb ||
	    (g->agblocks < minb &&
	     !(g->agcount == 1 && g->agblocks >= g->dblocks)))
		return geom_err(-EUCLEAN, err, errlen,
				"AG size %u blocks outside the limits",
				g->agblocks);
	if (g->agblklog != log2_ceil(g->agblocks))
		return geom_err(-EUCLEAN, err, errlen,
				"AG block log %u, expected %u", g->agblklog,
				log2_ceil(g->agblocks));
	if (g->dblocks <= (uint64_t)(g->agcount - 1) * g->agblocks ||
	    g->dblocks > (uint64_t)g->agcount * g->agblocks)
		return geom_err(-EUCLEAN, err, errlen,
				"%" PRIu64 " blocks do not make %u AGs of %u",
				g->dblocks, g->agcount, g->agblocks);
	last = g->dblocks - (uint64_t)(g->agcount - 1) * g->agblocks;
	if (last < minb)
		return geom_err(-EUCLEAN, err, errlen,
				"last AG of %" PRIu64 " blocks is too small",
				last);
	if (g->alloc_maxlevels > KVFS_BTREE_MAXLEVELS ||
	    g->agfl_min > g->agfl_size)
		return geom_err(-EUCLEAN, err, errlen,
				"free-space trees of %u levels need more "
				"reserve blocks (%u) than a list holds (%u)",
				g->alloc_maxlevels, g->agfl_min, g->agfl_size);
	/* the end by subtraction: a logstart near 2^64 wraps a sum */
	if (g->logstart < KVFS_AG_HDR_BLOCKS ||
	    (uint64_t)g->logblocks << g->blocklog < KVFS_LOG_MIN_BYTES ||
	    (uint64_t)g->logblocks << g->blocklog > KVFS_LOG_MAX_BYTES ||
	    g->logstart > kvfs_ag_length(g, 0) ||
	    g->logblocks > kvfs_ag_length(g, 0) - g->logstart)
		return geom_err(-EUCLEAN, err, errlen,
				"log at block %" PRIu64
				" of %u blocks does not fit AG 0",
				g->logstart, g->logblocks);
	if (!kvfs_ino_in_range(g, g->rootino) ||
	    !kvfs_ino_in_range(g, g->lpfino))
		return geom_err(-EUCLEAN, err, errlen,
				"root inode %" PRIu64 " or lost+found %" PRIu64
				" out of range",
				g->rootino, g->lpfino);
	if (g->state & ~(uint32_t)(KVFS_STATE_DIRTY | KVFS_STATE_ERRORS))
		return geom_err(-EUCLEAN, err, errlen, "state %u invalid",
				g->state);
	if (g->fdblocks > g->dblocks || g->ifree > g->icount)
		return geom_err(-EUCLEAN, err, errlen,
				"summary counters exceed the filesystem");
	return 0;
}

bool kvfs_ino_in_range(const struct kvfs_geom *g, uint64_t ino)
{
	uint32_t agno = kvfs_ino_to_agno(g, ino), agbno;

	if (agno >= g->agcount)
		return false;
	agbno = kvfs_agino_to_agbno(g, kvfs_ino_to_agino(g, ino));
	return agbno >= KVFS_AG_HDR_BLOCKS && agbno < kvfs_ag_length(g, agno);
}
