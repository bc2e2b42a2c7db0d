/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The block-ownership map of a repair (phase 4 builds it, phase 7 rebuilds
 * free space from it): one bit per filesystem block, set once the block
 * has an owner, and the list of claims (first block, length, owner kind,
 * owner) for naming the owner of a block in a message.  A block is
 * claimed once: the caller asks first (kvfs_repair_bmap_first_used()) and
 * decides what a second claimant gets.
 */
#ifndef KV_FS_REPAIR_OWNERSHIP_H
#define KV_FS_REPAIR_OWNERSHIP_H

#include <stddef.h>
#include <stdint.h>

#include "fs/check/scrub.h"

struct kvfs_repair_claim {
	uint64_t start;
	uint64_t owner; /* AG number or inode number */
	uint32_t len;
	uint8_t kind; /* enum kvfs_scrub_owner */
};

struct kvfs_repair_bmap {
	uint64_t nblocks;
	uint64_t *bits;
	struct kvfs_repair_claim *claims;
	size_t nclaims, cap;
};

int kvfs_repair_bmap_init(struct kvfs_repair_bmap *m, uint64_t nblocks);
void kvfs_repair_bmap_destroy(struct kvfs_repair_bmap *m);
/*
 * Room for n claims up front (a hint: more still fit; short of memory, none).
 */
void kvfs_repair_bmap_reserve(struct kvfs_repair_bmap *m, uint64_t n);

/* Blocks [start, start + len) (inside the map) now belong to owner. */
int kvfs_repair_bmap_claim(struct kvfs_repair_bmap *m, uint64_t start,
			   uint32_t len, enum kvfs_scrub_owner kind,
			   uint64_t owner);

/*
 * Drop the claims made since there were n of them (an inode cleared after
 * its blocks were claimed: they were free before, they are again).
 */
void kvfs_repair_bmap_rollback(struct kvfs_repair_bmap *m, size_t n);

/*
 * Blocks [start, start + len), claimed, have no owner again (an extent
 * cut after its claim); the claim stays in the list, for messages only.
 */
void kvfs_repair_bmap_release(struct kvfs_repair_bmap *m, uint64_t start,
			      uint32_t len);

static inline bool kvfs_repair_bmap_test(const struct kvfs_repair_bmap *m,
					 uint64_t fsb)
{
	return m->bits[fsb / 64] >> (fsb % 64) & 1;
}

/* The owned bits of blocks [fsb, fsb + 64) (inside the map), fsb's lowest. */
static inline uint64_t kvfs_repair_bmap_word(const struct kvfs_repair_bmap *m,
					     uint64_t fsb)
{
	uint64_t lo = m->bits[fsb / 64] >> (fsb % 64);

	return fsb % 64 ? lo | m->bits[fsb / 64 + 1] << (64 - fsb % 64) : lo;
}

/* The first owned block of [start, start + len), or KVFS_NULLBLOCK. */
uint64_t kvfs_repair_bmap_first_used(const struct kvfs_repair_bmap *m,
				     uint64_t start, uint64_t len);

/* "file data of inode 131", "inode chunk of AG 0": who owns fsb. */
void kvfs_repair_bmap_owner(const struct kvfs_repair_bmap *m, uint64_t fsb,
			    char *buf, size_t len);

#endif
