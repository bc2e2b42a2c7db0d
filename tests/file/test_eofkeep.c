// SPDX-License-Identifier: GPL-2.0
/*
 * Blocks past EOF (fs/data/file.h, KVFS_DIFLAG_PREALLOC):
 *   keep:  fallocate(KEEP_SIZE) past EOF sets the flag; an extending write
 *          and a release after it, and a remount, leave those blocks;
 *          a truncate down frees them and clears the flag, and the
 *          file's next extending write preallocates speculatively again
 *          (trimmed at its release);
 *   crash: speculative blocks of a file never released (the in-memory
 *          mark lost, as in a crash or a daemon killed before its
 *          releases) are freed at the file's first release after the
 *          mount, once: the flag keeps a fallocated file's.
 * The image is scrubbed at the end: every block owned once.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/file.h"
#include "fs/format.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define KEEP (256u << 10)

static struct kvfs_mount *mp;
static char path[] = "/tmp/kvfs-test-eofkeep-XXXXXX";
static const struct kvfs_cred cr = { 0 };
static uint8_t buf[KVFS_PREALLOC_FROM];

static uint64_t blocks_of(uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st.blocks * 512 / mp->g.blocksize;
}

static uint64_t file_blocks(uint64_t bytes)
{
	return (bytes + mp->g.blocksize - 1) / mp->g.blocksize;
}

static uint32_t diflags_of(uint64_t ino)
{
	struct kvfs_inode *ip;
	uint32_t f;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	f = ip->i_diflags;
	kvfs_iput(ip);
	return f;
}

static void remount(void)
{
	struct kvfs_open_info info;

	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
}

/*
 * A file of KVFS_PREALLOC_FROM bytes, then one more block by an extending
 * write.
 */
static uint64_t grown_file(const char *name)
{
	const uint32_t bs = mp->g.blocksize;
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0,
			     0, &cr, &st, &created),
		 0);
	CHECK_EQ(kvfs_write(mp, st.ino, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_write(mp, st.ino, buf, bs, (off_t)sizeof(buf), 0),
		 (ssize_t)bs);
	return st.ino;
}

static void test_keep(void)
{
	const uint32_t bs = mp->g.blocksize;
	uint64_t size = sizeof(buf) + bs, ino = grown_file("keep");

	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(blocks_of(ino), file_blocks(size));
	CHECK_EQ(diflags_of(ino) & KVFS_DIFLAG_PREALLOC, 0u);
	CHECK_EQ(kvfs_fallocate(mp, ino, FALLOC_FL_KEEP_SIZE, (off_t)size,
				KEEP),
		 0);
	CHECK(diflags_of(ino) & KVFS_DIFLAG_PREALLOC);
	CHECK_EQ(blocks_of(ino), file_blocks(size + KEEP));
	/* an extending write into them: the rest is not speculative */
	CHECK_EQ(kvfs_write(mp, ino, buf, bs, (off_t)size, 0), (ssize_t)bs);
	size += bs;
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(blocks_of(ino), file_blocks(size - bs + KEEP));
	remount();
	CHECK(diflags_of(ino) & KVFS_DIFLAG_PREALLOC);
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(blocks_of(ino), file_blocks(size - bs + KEEP));
	/* a truncate down frees what was past EOF, and the flag goes */
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size - bs };

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	size -= bs;
	CHECK_EQ(diflags_of(ino) & KVFS_DIFLAG_PREALLOC, 0u);
	CHECK_EQ(blocks_of(ino), file_blocks(size));
	/* speculative again: allocated by the write, trimmed at release */
	CHECK_EQ(kvfs_write(mp, ino, buf, bs, (off_t)size, 0), (ssize_t)bs);
	size += bs;
	CHECK(blocks_of(ino) > file_blocks(size));
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(blocks_of(ino), file_blocks(size));
}

static void test_crash(void)
{
	const uint32_t bs = mp->g.blocksize;
	uint64_t size = sizeof(buf) + bs;
	uint64_t lost = grown_file("lost"), kept = grown_file("kept");

	/* the premise: the extending write preallocated */
	CHECK(blocks_of(lost) > file_blocks(size));
	CHECK_EQ(kvfs_release(mp, kept), 0);
	CHECK_EQ(kvfs_fallocate(mp, kept, FALLOC_FL_KEEP_SIZE, (off_t)size,
				KEEP),
		 0);
	/* never released: the mark goes with the mount */
	remount();
	CHECK(blocks_of(lost) > file_blocks(size));
	CHECK_EQ(kvfs_release(mp, lost), 0);
	CHECK_EQ(blocks_of(lost), file_blocks(size));
	CHECK_EQ(kvfs_release(mp, kept), 0);
	CHECK_EQ(blocks_of(kept), file_blocks(size + KEEP));
	/*
	 * Once per read of the inode: blocks past EOF put there after it
	 * (fallocate, flag cleared by hand) are not looked for again.
	 */
	CHECK_EQ(kvfs_fallocate(mp, lost, FALLOC_FL_KEEP_SIZE, (off_t)size,
				KEEP),
		 0);
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, lost, 0, &ip), 0);
	__atomic_and_fetch(&ip->i_diflags, ~KVFS_DIFLAG_PREALLOC,
			   __ATOMIC_RELAXED);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_release(mp, lost), 0);
	CHECK_EQ(blocks_of(lost), file_blocks(size + KEEP));
	/* a truncate to the size frees them: the scrub then sees no flag */
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = size };

	CHECK_EQ(kvfs_setattr(mp, lost, &sa, &cr, NULL), 0);
	CHECK_EQ(blocks_of(lost), file_blocks(size));
}

int main(void)
{
	struct kvfs_geom g;

	CHECK_EQ(kv_init(NULL), 0);
	memset(buf, 0x5d, sizeof(buf));
	mp = fresh_fs(path, 64 << 20, 0, &g);
	test_keep();
	test_crash();
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("eofkeep: fallocated blocks past EOF kept across writes, "
	       "releases and a remount; speculative blocks a lost mark left "
	       "freed at the first release\n");
	return 0;
}
