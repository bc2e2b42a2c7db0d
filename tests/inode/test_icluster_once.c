// SPDX-License-Identifier: GPL-2.0
/*
 * A new chunk's cluster blocks are written back once, with the inodes
 * made in them (fs/inode/inode_item.c kvfs_icluster_write(), the ordered
 * buffers' write hook, fs/io/buf_item.h): NFILES files, several whole
 * chunks, are made, the log forced and written back, and every inode
 * cluster block the write-back wrote was written exactly once, each
 * inode in use in it carrying an LSN of its own (its item's, not the
 * chunk's initial 0).  Before, the AIL wrote each block as the chunk was
 * made (the ordered buffer, at the chunk's checkpoint) and again for the
 * inodes made in it: twice.  Then one file in every other block is
 * changed: the next write-back writes those blocks once more and no
 * other.  The image checks clean.
 *
 * The device writes are counted here: every pwrite64() of the library
 * (linked statically into this program) goes through this file's.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "fs/format.h"
#include "fs/kvfs.h"
#include "tests/scrub_util.h"
#include "tests/inode/ino.h"

#define NFILES 640
/* 64 MiB of 4 KiB blocks */
#define MAX_BLOCKS (16384)

static _Atomic unsigned clus_writes[MAX_BLOCKS];
static unsigned blksize;

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off64_t);
	const struct kvfs_dinode *d = buf;

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off64_t))dlsym(
			RTLD_NEXT, "pwrite64");
	if (blksize && len == blksize && off % blksize == 0 &&
	    off / blksize < MAX_BLOCKS &&
	    kv_le32_to_cpu(d->hdr.magic) == KVFS_DINODE_MAGIC)
		clus_writes[off / blksize]++;
	return real(fd, buf, len, off);
}

static void reset_counts(void)
{
	for (unsigned b = 0; b < MAX_BLOCKS; b++)
		clus_writes[b] = 0;
}

/* Everything logged made durable, then written back. */
/* On the device, every inode of cluster block b has a good crc. */
static void check_block(struct kvfs_mount *mp, uint64_t b)
{
	const struct kvfs_geom *g = &mp->g;
	uint8_t *blk = malloc(g->blocksize);

	CHECK(blk != NULL);
	CHECK_EQ(kv_dev_pread(mp->dev, blk, g->blocksize,
			      kvfs_fsb_to_bytes(g, b)),
		 0);
	for (unsigned i = 0; i < g->inopblock; i++)
		CHECK_EQ(kv_le32_to_cpu(
				 ((struct kvfs_blk_hdr *)(blk +
							  ((size_t)i
							   << g->inodelog)))
					 ->crc),
			 kv_crc32c_block(blk + ((size_t)i << g->inodelog),
					 g->inodesize, KVFS_BLK_CRC_OFF));
	free(blk);
}

/*
 * On the device, inode ino has mode and carries an LSN of its own (its
 * item's: the chunk was made with 0).
 */
static void check_inode(struct kvfs_mount *mp, uint64_t ino, unsigned mode)
{
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_dinode d;

	CHECK_EQ(kv_dev_pread(mp->dev, &d, sizeof(d),
			      kvfs_fsb_to_bytes(g, kvfs_ino_to_fsb(g, ino)) +
				      kvfs_ino_to_offset(g, ino)),
		 0);
	CHECK_EQ(kv_le16_to_cpu(d.mode), mode);
	CHECK(kv_le64_to_cpu(d.hdr.lsn) != 0);
}

int main(void)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_setattr sa = { .valid = KVFS_SET_MODE, .mode = 0600 };
	static uint64_t inos[NFILES];
	static bool changed[MAX_BLOCKS], chmoded[NFILES];
	unsigned blocks = 0, once = 0, nchanged = 0;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[32];
	uint64_t d;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("icluster-once");
	make_fs();
	mp = mount_fs(false);
	CHECK(kvfs_fsb_to_bytes(&mp->g, MAX_BLOCKS) >= kv_dev_size(mp->dev));
	CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, "d", 040755, &cr, &st), 0);
	d = st.ino;
	CHECK_EQ(kvfs_writeback(mp), 0);

	reset_counts();
	blksize = mp->g.blocksize;
	for (int i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, NULL),
			 0);
		inos[i] = st.ino;
	}
	CHECK_EQ(kvfs_writeback(mp), 0);
	for (uint64_t b = 0; b < MAX_BLOCKS; b++) {
		if (!clus_writes[b])
			continue;
		blocks++;
		once += clus_writes[b] == 1;
		check_block(mp, b);
	}
	for (int i = 0; i < NFILES; i++)
		check_inode(mp, inos[i], S_IFREG | 0644);
	fprintf(stderr,
		"test_icluster_once: %u files: %u cluster blocks written, "
		"%u of them once\n",
		NFILES, blocks, once);
	CHECK(blocks >= NFILES / mp->g.inopblock);
	CHECK_EQ(once, blocks);

	/* one file in every other block changed */
	reset_counts();
	for (int i = 0; i < NFILES; i++) {
		uint64_t b = kvfs_ino_to_fsb(&mp->g, inos[i]);

		if (b % 2 || changed[b])
			continue;
		changed[b] = true;
		chmoded[i] = true;
		nchanged++;
		CHECK_EQ(kvfs_setattr(mp, inos[i], &sa, &cr, NULL), 0);
	}
	CHECK_EQ(kvfs_writeback(mp), 0);
	for (uint64_t b = 0; b < MAX_BLOCKS; b++) {
		CHECK_EQ(clus_writes[b], changed[b] ? 1u : 0u);
		if (changed[b])
			check_block(mp, b);
	}
	for (int i = 0; i < NFILES; i++)
		check_inode(mp, inos[i], S_IFREG | (chmoded[i] ? 0600 : 0644));
	CHECK(nchanged >= NFILES / mp->g.inopblock / 2 - 1);

	blksize = 0;
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	mp = mount_fs(false);
	for (int i = 0; i < NFILES; i++) {
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), 0);
		CHECK_EQ(st.mode & 07777, chmoded[i] ? 0600u : 0644u);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
