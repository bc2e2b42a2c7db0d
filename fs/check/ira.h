/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KV_FS_CHECK_IRA_H
#define KV_FS_CHECK_IRA_H

#include <stddef.h>
#include <stdint.h>

struct kv_bcache;
struct kvfs_geom;

/*
 * Inode cluster readahead for a walk of an AG's inode chunks in record
 * order (the checker's, fsck's phase 4): the blocks of consecutive chunks
 * that lie back to back are read with one pread of up to KVFS_IRA_BLOCKS
 * blocks into a private window, past the buffer cache, instead of one
 * 4 KiB buffer read per cluster.  A block the cache holds is never read
 * this way (the cache's copy may be newer): kvfs_ira_block() returns NULL
 * for it, and for any block it could not read, and the caller reads that
 * one through the cache as before (its verifier's findings unchanged).
 * The bytes returned are unverified.  The clusters of the next
 * KVFS_IRA_AHEAD chunks are asked of the host ahead (kv_dev_willneed(),
 * topped up a quarter at a time; 32 MiB of 512-byte inodes), so that a
 * cold page cache is filled while the walk checks inodes.  The clusters
 * of the chunk KVFS_IRA_SCAN ahead, asked a quarter of the distance
 * before at least, are read (from that page cache) and the blocks of
 * the directories they hold asked of the host too (an extent list's
 * blocks, a tree root's children): a directory's check, which reads its
 * blocks one after another, then finds them read.  The bytes only guide
 * hints: a damaged inode costs a useless one, nothing else.  At half
 * that distance the head blocks of those directories are read (asked
 * with the rest) and the roots of their index trees asked in turn, and
 * at a quarter those roots are read and their children asked.  Not
 * thread-safe: one per walker.
 */
#define KVFS_IRA_BLOCKS 64u
#define KVFS_IRA_AHEAD 1024u
#define KVFS_IRA_SCAN (KVFS_IRA_AHEAD / 2)

struct kvfs_inobt_rec;

/* A block of the directory of chunk k, to read at its distance. */
struct kvfs_ira_blk {
	size_t k;
	uint64_t fsb;
};

struct kvfs_ira_q {
	struct kvfs_ira_blk *v;
	size_t n, cap, done;
};

struct kvfs_ira {
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	uint8_t *buf; /* KVFS_IRA_BLOCKS blocks */
	uint64_t start; /* first block of the window */
	uint32_t len; /* blocks held */
	/* the chunks asked ahead: of AG ahead_agno, those before ahead_k */
	uint32_t ahead_agno;
	size_t ahead_k;
	/* the chunks scanned for directories: of AG scan_agno, before scan_k */
	uint8_t *scan; /* one chunk's clusters */
	uint32_t scan_agno;
	size_t scan_k;
	/* the directories' heads, then their index roots, to read in turn */
	struct kvfs_ira_q heads, roots;
};

int kvfs_ira_init(struct kvfs_ira *ra, struct kv_bcache *bc,
		  const struct kvfs_geom *g);
void kvfs_ira_destroy(struct kvfs_ira *ra);
/*
 * Block fsb, an inode cluster of chunk recs[k] of AG agno (recs sorted,
 * n of them): its bytes, read with the blocks of the chunks after it that
 * follow on disk, or NULL (read it through the cache).
 */
const uint8_t *kvfs_ira_block(struct kvfs_ira *ra, uint32_t agno,
			      const struct kvfs_inobt_rec *recs, size_t n,
			      size_t k, uint64_t fsb);

#endif
