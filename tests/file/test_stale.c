// SPDX-License-Identifier: GPL-2.0
/*
 * Blocks a crash in the middle of a truncate leaves past the end of file
 * (the new size committed first, as XFS does, the blocks freed in the
 * transactions after it) must not show their old bytes when the file
 * grows again: by a truncate up, or by a write past the end.  The state
 * is built as the crash leaves it: the size cut in a transaction of its
 * own, the blocks still mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define NBLK 8

static struct kvfs_mount *mp;
static const struct kvfs_cred cr = { 0 };

/* A file of NBLK blocks of 0xab whose size a "crash" cut to one block. */
static uint64_t leftover(const char *name)
{
	const uint32_t bs = mp->g.blocksize;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct kvfs_stat st;
	uint8_t buf[NBLK * 4096];
	bool created;

	CHECK(bs * NBLK <= sizeof(buf));
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	memset(buf, 0xab, sizeof(buf));
	CHECK_EQ(kvfs_write(mp, st.ino, buf, bs * NBLK, 0, 0),
		 (ssize_t)(bs * NBLK));
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &ip), 0);
	CHECK_EQ(kvfs_file_trans(ip, mp->resv.ichange.log_bytes,
				 mp->resv.ichange.log_count, 0, &tp),
		 0);
	ip->i_size = bs;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_getattr(mp, st.ino, &st), 0);
	CHECK_EQ(st.size, bs);
	CHECK(st.blocks >= (uint64_t)NBLK * bs / 512);
	return st.ino;
}

/* Block 0 is the file's; everything after it up to the size reads 0. */
static void check_zeros(uint64_t ino, uint64_t size)
{
	const uint32_t bs = mp->g.blocksize;
	uint8_t buf[NBLK * 4096];

	CHECK_EQ(kvfs_read(mp, ino, buf, size, 0), (ssize_t)size);
	for (uint64_t i = 0; i < size; i++)
		CHECK_EQ(buf[i], i < bs ? 0xab : (i == size - 1 ? buf[i] : 0));
}

int main(void)
{
	static char path[] = "/tmp/kvfs-test-stale-XXXXXX";
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	struct kvfs_geom g;
	uint64_t ino;
	uint8_t one = 0x5c;

	CHECK_EQ(kv_init(NULL), 0);
	mp = fresh_fs(path, 64 << 20, 0, &g);
	/* truncate up over the leftover blocks */
	ino = leftover("up");
	sa.size = (uint64_t)NBLK * g.blocksize;
	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	check_zeros(ino, sa.size);
	/* a write past the end over them */
	ino = leftover("write");
	CHECK_EQ(kvfs_write(mp, ino, &one, 1, (off_t)NBLK * g.blocksize - 1, 0),
		 1);
	check_zeros(ino, (uint64_t)NBLK * g.blocksize);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("stale: blocks a crashed truncate left past the end read zeros "
	       "after a truncate up and a write past the end\n");
	return 0;
}
