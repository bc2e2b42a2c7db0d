/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file tests' file of many one-block extents (test_falloc_full,
 * test_falloc_agfull): made through the public API, its blocks' bytes
 * known to the caller's pat().
 */
#ifndef KV_TESTS_FILE_SPARSE_FILE_H
#define KV_TESTS_FILE_SPARSE_FILE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "tests/check.h"

/*
 * A new file "f" in dir of *n extents (0: as many as its fork's extent
 * list holds, *n then set): one block at every other offset, the last
 * extent four blocks (written first, its speculative blocks trimmed, so
 * that the others, inside the size, take exactly their block); block b
 * all bytes pat(b).  Its size in blocks in *nblk.
 */
static inline uint64_t sparse_file(struct kvfs_mount *mp, uint64_t dir,
				   uint8_t (*pat)(uint64_t), uint32_t *n,
				   uint64_t *nblk)
{
	const uint32_t bs = mp->g.blocksize;
	struct kvfs_cred cr = { 0 };
	struct kvfs_inode *ip;
	struct kvfs_stat st;
	uint8_t *buf = malloc(4 * (size_t)bs);
	uint64_t last;
	bool created;

	CHECK(buf != NULL);
	CHECK_EQ(kvfs_create(mp, dir, "f", S_IFREG | 0644, 0, 0, &cr, &st,
			     &created),
		 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &ip), 0);
	if (!*n)
		*n = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	last = 2 * (uint64_t)(*n - 1);
	for (uint32_t k = 0; k < 4; k++)
		memset(buf + (size_t)k * bs, pat(last + k), bs);
	CHECK_EQ(kvfs_write(mp, st.ino, buf, 4 * (size_t)bs,
			    (off_t)(last * bs), 0),
		 (ssize_t)(4 * (size_t)bs));
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	for (uint64_t b = last; b;) {
		b -= 2;
		memset(buf, pat(b), bs);
		CHECK_EQ(kvfs_write(mp, st.ino, buf, bs, (off_t)(b * bs), 0),
			 (ssize_t)bs);
	}
	CHECK_EQ(ip->i_nextents, *n);
	kvfs_iput(ip);
	free(buf);
	*nblk = last + 4;
	return st.ino;
}

#endif
