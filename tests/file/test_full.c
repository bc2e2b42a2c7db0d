// SPDX-License-Identifier: GPL-2.0
/*
 * A completely full filesystem: a file written until ENOSPC between the
 * blocks of a spacer file, truncated to nothing in one call (a chain of
 * deferred frees into full AGs), then the whole space fallocated back in
 * one call: a piece per gap of the spacer, each a change of the file's
 * extent tree.  The spacer is staged, not left to the allocator's order:
 * it takes every free block, then all but the first block of each chunk
 * of it is punched out, so that the gaps are its to make (written in
 * turns with the file, its blocks went wherever the allocator put the
 * file's next extent, and a file that takes the longest free pieces
 * fitted its inline extent list).  The call's reservation holds one tree
 * change: it must go on under a new one rather than fail with ENOSPC at
 * the first piece after the tree changed (as it did).  Then full again
 * beside a directory in blocks: every file and the directory removed
 * (removals may use the blocks kept for them).  Free counts exact at
 * each step.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define CHUNK (64u << 10)
#define NFILES 600

/*
 * Every free block the spacer's: then every chunk of it but its first
 * block punched out (each punch a transaction), room for the splits of
 * its extent tree punched first and taken back last.
 */
static void stage_spacer(struct kvfs_mount *mp, uint64_t sp, uint32_t bs)
{
	const int punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	off_t end = 0, len, off;

	for (len = CHUNK; len >= bs; len /= 2)
		while (kvfs_fallocate(mp, sp, 0, end, len) == 0)
			end += len;
	end -= end % CHUNK;
	CHECK(end >= 64 * CHUNK);
	CHECK_EQ(kvfs_fallocate(mp, sp, punch, end - CHUNK, CHUNK), 0);
	for (off = 0; off < end - CHUNK; off += CHUNK) {
		CHECK_EQ(kvfs_fallocate(mp, sp, punch, off + bs, CHUNK - bs),
			 0);
		/* the freed blocks are busy until the log has their frees */
		if (off / CHUNK % 256 == 255)
			CHECK_EQ(kvfs_sync(mp), 0);
	}
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_fallocate(mp, sp, 0, end - CHUNK, CHUNK), 0);
}

int main(void)
{
	static char path[] = "/tmp/kvfs-test-full-XXXXXX";
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = 0 };
	struct kvfs_cred cr = { 0 };
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	struct kvfs_inode *ip;
	uint64_t ino, sp, dir, off = 0, first;
	char name[32];
	unsigned i;
	uint8_t *buf = malloc(CHUNK);
	bool created;
	ssize_t n;

	CHECK(buf);
	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 40 << 20, 2, &g);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "f", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	ino = st.ino;
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "spacer", S_IFREG | 0644, 0,
			     0, &cr, &st, &created),
		 0);
	sp = st.ino;
	stage_spacer(mp, sp, g.blocksize);
	memset(buf, 0x77, CHUNK);
	do {
		n = kvfs_write(mp, ino, buf, CHUNK, (off_t)off, 0);
		off += n > 0 ? (uint64_t)n : 0;
	} while (n == (ssize_t)CHUNK);
	off -= off % CHUNK;
	CHECK(n >= 0 || n == -ENOSPC);
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(kvfs_release(mp, sp), 0);
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	/* full: what is left is the reserve of a write's tree changes */
	CHECK(s1.bfree * g.blocksize < 4 * CHUNK);
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.blocks, 0);
	/* all of it back in one fallocate, a piece per gap of the spacer */
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, 0, (off_t)off), 0);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, off);
	/* every block, and the extent tree's own: a piece per gap */
	CHECK(st.blocks > off / 512 && st.blocks < off / 512 + 64);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK(ip->i_nextents >= off / CHUNK);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	CHECK_EQ(kvfs_setattr(mp, sp, &sa, &cr, NULL), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.bfree, s0.bfree);
	first = off;
	/*
	 * Full again, beside a directory in blocks: every name can still
	 * be removed (a removal may take the blocks kept for removals; it
	 * was ENOSPC, so a full filesystem could not be emptied).
	 */
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &cr, &st), 0);
	dir = st.ino;
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "file-%04u", i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0, 0, &cr,
				     &st, &created),
			 0);
	}
	for (off = 0;; off += CHUNK) {
		n = kvfs_write(mp, ino, buf, CHUNK, (off_t)off, 0);
		if (n < (ssize_t)CHUNK)
			break;
	}
	CHECK(n >= 0 || n == -ENOSPC);
	/* to the last block a write can get */
	while (kvfs_write(mp, ino, buf, g.blocksize, (off_t)off, 0) ==
	       (ssize_t)g.blocksize)
		off += g.blocksize;
	CHECK_EQ(kvfs_release(mp, ino), 0);
	/* a shrinking truncate frees space: it works when full */
	sa.size = off / 2;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	sa.size = 0;
	for (;; off += CHUNK) {
		n = kvfs_write(mp, ino, buf, CHUNK, (off_t)off, 0);
		if (n < (ssize_t)CHUNK)
			break;
	}
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(kvfs_create(mp, dir, "one-more", S_IFREG | 0644, 0, 0, &cr,
			     &st, &created),
		 -ENOSPC);
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "file-%04u", i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	CHECK_EQ(kvfs_rmdir(mp, kvfs_root_ino(mp), "d"), 0);
	CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "f"), 0);
	CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "spacer"), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	/* all back but the new inode chunks, which stay (the checker
	 * proves at close that nothing leaked) */
	CHECK(s1.bfree <= s0.bfree);
	CHECK_EQ((s0.bfree - s1.bfree) % g.ialloc_blocks, 0);
	CHECK((s0.bfree - s1.bfree) / g.ialloc_blocks <=
	      NFILES / g.ialloc_inos + 2);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	free(buf);
	CHECK_EQ(kv_fini(), 0);
	printf("full: %llu MiB written to ENOSPC, truncated, fallocated back "
	       "in one call, free count exact\n",
	       (unsigned long long)(first >> 20));
	return 0;
}
