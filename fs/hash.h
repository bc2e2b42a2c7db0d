/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The hash of the 64-bit keys (block and inode numbers) of the core's
 * rculfhash tables: the buffer cache (fs/io/buf.c) and the inode cache
 * (fs/inode/icache.c).  rculfhash splits its buckets on the reversed hash
 * bits, so every bit must depend on the whole key: murmur3's finaliser.
 */
#ifndef KV_FS_HASH_H
#define KV_FS_HASH_H

#include <stdint.h>

static inline unsigned long kvfs_hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return (unsigned long)k;
}

#endif
