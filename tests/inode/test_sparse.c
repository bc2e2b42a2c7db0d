// SPDX-License-Identifier: GPL-2.0
/*
 * Sparse inode chunks (fs/inode/ialloc.h): on free space fragmented below a
 * chunk's size, files are still created, from pieces of sparse chunks.
 *
 * The image: the mkfs chunk's free inodes used up by files, the space
 * filled by one file, then every other block of a stretch of it punched
 * out, so that no free extent is as long as a chunk (checked: the AGs'
 * longest free extents).  Files are then created until ENOSPC: every
 * inode comes from a piece (a whole-chunk allocator gets none: ENOSPC at
 * the first create), the pieces' blocks and the directory's account for
 * the free space used, what is left is less than a create reserves; the
 * checker and fsck.kvfs -f -n find nothing; every file removed, the
 * free space and the inode counts are back to their figures before.
 * Created again at once, the files take the freed pieces back while the
 * old in-core inodes still hold the old chunks' invalidated buffers; the
 * tree's root then zeroed, fsck.kvfs rebuilds it from a scan of the AG
 * with the sparse records; all removed again, the tree zeroed again: the
 * scan leaves out the freed pieces (they still hold the inodes last
 * written there) and the free space is the figure before.
 *
 * Recovery: the files of pieces created and synced, then a crash: they
 * are all there after recovery.  Then they are removed (the sparse
 * records freed), a data file written over the freed pieces and synced,
 * and a crash: recovery must not replay the inodes logged before the
 * free into what are now the file's blocks (the file reads back whole)
 * and the image is clean.
 *
 * Usage: test_sparse FSCK_PATH
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/io/blkhdr.h"
#include "fs/mount.h"
#include "fs/format/sb.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

#define NPUNCH 128 /* runs punched out of the filler, one in two */
#define MAXFILES 4096

static const char *fsck;
/*
 * The image's block size (0: mkfs's default, 4 KiB) and the runs punched
 * out of the filler: one block where a piece is one block, two pieces'
 * worth where it is more (their alignment on disk is not the file's)
 */
static uint32_t blocksize, run;
static char path[256], out[300];
static const struct kvfs_cred cr = { 0 };

static struct kvfs_mount *open_fs(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	return mp;
}

static uint64_t create(struct kvfs_mount *mp, const char *name, int *err)
{
	struct kvfs_stat st;
	bool created;

	*err = kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0,
			   KVFS_CREATE_EXCL, &cr, &st, &created);
	return *err ? 0 : st.ino;
}

/* Free blocks, the longest free extent, the inodes of all chunks. */
struct figures {
	uint64_t free, longest, inodes, ifree;
};

static struct figures figures(struct kvfs_mount *mp)
{
	struct kvfs_ag_stats ag[8];
	struct kvfs_stats st;
	struct figures f = { 0 };

	CHECK_EQ(kvfs_stats(mp, &st, ag, 8), 0);
	CHECK(st.agcount <= 8);
	f.free = st.free_blocks;
	for (uint32_t i = 0; i < st.agcount; i++) {
		if (ag[i].longest > f.longest)
			f.longest = ag[i].longest;
		f.inodes += ag[i].inodes;
		f.ifree += ag[i].inodes_free;
	}
	return f;
}

/* fallocate ino from *size on until ENOSPC, in ever smaller steps. */
static void fill(struct kvfs_mount *mp, uint64_t ino, uint64_t *size)
{
	/* under a MiB: no aligned allocation (fs/data/bmap.c data_align()) */
	uint64_t step = 1 << 18;
	int err;

	while (step >= mp->g.blocksize) {
		err = kvfs_fallocate(mp, ino, 0, (off_t)*size, (off_t)step);
		if (err == -ENOSPC) {
			step /= 2;
			continue;
		}
		CHECK_EQ(err, 0);
		*size += step;
	}
}

/* Punch out n runs of ino, one in two from block first. */
static void punch(struct kvfs_mount *mp, uint64_t ino, uint64_t first,
		  unsigned n)
{
	const uint32_t bs = mp->g.blocksize;

	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(kvfs_fallocate(
				 mp, ino,
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 (off_t)((first + (2 * i + 1) * run) * bs),
				 (off_t)run * bs),
			 0);
}

/* A sparse chunk's smallest piece in blocks, as fs/inode/ialloc.h gives it. */
static uint32_t piece_blocks(const struct kvfs_geom *g)
{
	uint32_t bit = g->inopblock >= 4 ? 1 : 4 / g->inopblock;

	return bit > g->ialloc_blocks / 8 ? bit : g->ialloc_blocks / 8;
}

/*
 * A new image whose mkfs chunk is full and whose free space is runs one
 * in two.  A filled filesystem keeps a run free (the blocks
 * only removals may take, the AG's set-aside and a write's
 * reservation): blocks punched out of the filler near the start let the
 * filler grow again into that run, exactly after its last block, until
 * it is used up; then NPUNCH more punched out give the free space.
 */
static struct kvfs_mount *fragmented(void)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 32 << 20,
				    .blocksize = blocksize,
				    .agcount = 1,
				    .force = true };
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct figures f;
	uint64_t filler, size = 0, second;
	unsigned first;
	char name[32];
	int err, i;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	mp = open_fs();
	filler = create(mp, "fill", &err);
	CHECK_EQ(err, 0);
	for (i = 0; figures(mp).ifree; i++) {
		snprintf(name, sizeof(name), "pre%d", i);
		create(mp, name, &err);
		CHECK_EQ(err, 0);
	}
	fill(mp, filler, &size);
	f = figures(mp);
	/* more than the run left free */
	first = ((unsigned)f.free + 2 * g.ialloc_blocks) / run + 1;
	punch(mp, filler, 0, first);
	CHECK_EQ(kvfs_sync(mp), 0);
	fill(mp, filler, &size);
	second = 2 * (first + 1) * run > 1024 ? 2 * (first + 1) * run : 1024;
	punch(mp, filler, second, NPUNCH / run);
	CHECK_EQ(kvfs_sync(mp), 0);
	f = figures(mp);
	CHECK_EQ(f.ifree, 0);
	/* no extent a whole chunk fits in */
	CHECK(f.longest < mp->g.ialloc_blocks);
	CHECK(f.free >= mp->resblks + NPUNCH / 2);
	return mp;
}

/* Create f0, f1, ... until ENOSPC; how many were. */
static int create_all(struct kvfs_mount *mp, uint64_t *inos)
{
	char name[32];
	int n, err = 0;

	for (n = 0; n < MAXFILES; n++) {
		snprintf(name, sizeof(name), "f%d", n);
		inos[n] = create(mp, name, &err);
		if (err)
			break;
	}
	if (err != -ENOSPC)
		fprintf(stderr, "create %d: %s\n", n, strerror(-err));
	CHECK_EQ(err, -ENOSPC);
	return n;
}

static void remove_all(struct kvfs_mount *mp, int n)
{
	char name[32];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), name), 0);
	}
}

/* fsck.kvfs -f with opt on the image: its exit status. */
static int run_fsck(const char *opt)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "%s -f %s %s >%s 2>&1", fsck, opt, path,
		 out);
	st = system(cmd);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void fsck_clean(void)
{
	char cmd[1024];
	int st = run_fsck("-n");

	if (st) {
		snprintf(cmd, sizeof(cmd),
			 "echo '--- fsck.kvfs -f -n (exit %d)' >&2; cat %s >&2",
			 st, out);
		CHECK_EQ(system(cmd), 0);
	}
	CHECK_EQ(st, 0);
}

/*
 * The inode-chunk tree's root block zeroed: fsck.kvfs finds the chunks,
 * sparse ones with their holes, by a scan of the AG and rebuilds the tree.
 */
static void inobt_lost(void)
{
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kvfs_agi *agi;
	uint8_t *b;
	int fd;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	kv_dev_close(dev);
	b = calloc(1, g.blocksize);
	CHECK(b);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, b, g.blocksize, (off_t)KVFS_AGI_AGBNO * g.blocksize),
		 (ssize_t)g.blocksize);
	agi = (struct kvfs_agi *)b;
	CHECK_EQ(agi->ino_level, 0);
	off_t root = (off_t)kv_le32_to_cpu(agi->ino_root) * g.blocksize;
	memset(b, 0, g.blocksize);
	CHECK_EQ(pwrite(fd, b, g.blocksize, root), (ssize_t)g.blocksize);
	close(fd);
	free(b);
	CHECK_EQ(run_fsck("-y"), 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_fill_pieces(uint32_t bs)
{
	static uint64_t inos[MAXFILES], inos2[MAXFILES];
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;
	uint64_t resv, unit;
	uint64_t pieces, dirblocks;
	struct figures f0, f1, f2;
	struct kvfs_stat st;
	int n;

	blocksize = bs;
	run = 1;
	mp = fragmented();
	g = &mp->g;
	unit = piece_blocks(g);
	if (unit > 1) {
		run = 2 * (uint32_t)unit;
		CHECK_EQ(kvfs_close(mp), 0);
		mp = fragmented();
		g = &mp->g;
	}
	resv = mp->resv.create_name.blocks;
	f0 = figures(mp);
	CHECK_EQ(kvfs_getattr(mp, kvfs_root_ino(mp), &st), 0);
	dirblocks = st.blocks;
	n = create_all(mp, inos);
	f1 = figures(mp);
	CHECK_EQ(kvfs_getattr(mp, kvfs_root_ino(mp), &st), 0);
	dirblocks = (st.blocks - dirblocks) * 512 / g->blocksize;
	/*
	 * The new inodes are pieces' (one block each), all used but what
	 * the last one has left when the reservation ran out
	 */
	CHECK_EQ((f1.inodes - f0.inodes) % (unit * g->inopblock), 0);
	pieces = (f1.inodes - f0.inodes) / (unit * g->inopblock);
	CHECK_EQ(f1.inodes - f0.inodes - f1.ifree, (uint64_t)n);
	CHECK(f1.ifree < unit * g->inopblock);
	printf("sparse: %u-byte blocks: %" PRIu64
	       " free blocks (longest %" PRIu64 "): %d inodes in %" PRIu64
	       " pieces of %" PRIu64 " blocks, directory +%" PRIu64
	       " blocks, %" PRIu64 " blocks left (a create reserves %" PRIu64
	       ")\n",
	       g->blocksize, f0.free, f0.longest, n, pieces, unit, dirblocks,
	       f1.free, resv);
	/* a whole-chunk allocator: none; here one per piece of free space */
	CHECK(n > 0);
	/* the chunk tree's records fit the one leaf it has */
	CHECK_EQ(f0.free - f1.free, pieces * unit + dirblocks);
	/* a run not aligned to the pieces' size leaves part of it */
	CHECK(f1.free < mp->resblks + resv + (run > 1 ? NPUNCH / 2 : 0));
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	fsck_clean();

	mp = open_fs();
	remove_all(mp, n);
	CHECK_EQ(kvfs_sync(mp), 0);
	f2 = figures(mp);
	printf("sparse: all removed: %" PRIu64 " free blocks, %" PRIu64
	       " inodes (%" PRIu64 " free)\n",
	       f2.free, f2.inodes, f2.ifree);
	CHECK_EQ(f2.free, f0.free);
	CHECK_EQ(f2.inodes, f0.inodes);
	CHECK_EQ(f2.ifree, 0);
	/*
	 * At once again: the freed pieces are the free space, so the same
	 * inodes come back while their in-core inodes still wait to be
	 * written back into the old chunks' invalidated buffers
	 */
	CHECK_EQ(create_all(mp, inos2), n);
	CHECK_EQ(figures(mp).free, f1.free);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	fsck_clean();
	inobt_lost();
	scrub_image_clean(path);
	fsck_clean();

	mp = open_fs();
	remove_all(mp, n);
	CHECK_EQ(kvfs_sync(mp), 0);
	f2 = figures(mp);
	CHECK_EQ(f2.free, f0.free);
	CHECK_EQ(f2.inodes, f0.inodes);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	fsck_clean();
	/* the freed pieces still look like inodes: the scan leaves them */
	inobt_lost();
	scrub_image_clean(path);
	fsck_clean();
	mp = open_fs();
	CHECK_EQ(figures(mp).free, f0.free);
	CHECK_EQ(kvfs_close(mp), 0);
	qsort(inos, (size_t)n, sizeof(inos[0]), cmp_u64);
	qsort(inos2, (size_t)n, sizeof(inos2[0]), cmp_u64);
	printf("sparse: created again at once: %d inodes, %s numbers\n", n,
	       memcmp(inos, inos2, (size_t)n * sizeof(inos[0])) ? "other" :
								  "the same");
}

static void crash(struct kvfs_mount *mp)
{
	kvfs_mount_shutdown(mp, "test: power cut");
	kvfs_mount_close(mp);
}

static void test_recovery(void)
{
	static uint64_t inos[MAXFILES];
	static uint8_t buf[4096], got[4096];
	struct kvfs_mount *mp;
	uint64_t data, off;
	unsigned long reports;
	struct kvfs_stat st;
	struct figures f;
	char name[32];
	int n, err;

	blocksize = 0;
	run = 1;
	mp = fragmented();
	n = create_all(mp, inos);
	CHECK(n > 0);
	CHECK_EQ(kvfs_sync(mp), 0);
	crash(mp);

	mp = open_fs();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), name, &st), 0);
		CHECK_EQ(st.ino, inos[i]);
	}
	remove_all(mp, n);
	CHECK_EQ(kvfs_sync(mp), 0);
	/* the freed pieces are most of the free space: the data takes them */
	data = create(mp, "data", &err);
	CHECK_EQ(err, 0);
	for (off = 0;; off += sizeof(buf)) {
		ssize_t w;

		memset(buf, (int)(0x11 + off / sizeof(buf) % 200), sizeof(buf));
		w = kvfs_write(mp, data, buf, sizeof(buf), (off_t)off, 0);
		if (w == -ENOSPC)
			break;
		CHECK_EQ(w, (ssize_t)sizeof(buf));
	}
	CHECK_EQ(kvfs_fsync(mp, data, false), 0);
	f = figures(mp);
	printf("sparse: recovery: %d inodes synced, removed, %" PRIu64
	       " KiB of data over their blocks (%" PRIu64 " blocks left)\n",
	       n, off >> 10, f.free);
	CHECK(off / mp->g.blocksize >= (uint64_t)n / mp->g.inopblock / 2);
	crash(mp);

	mp = open_fs();
	/*
	 * The freed pieces hold the data now: handles of the inodes that
	 * were there are stale (-ESTALE from the inode-chunk tree), and
	 * nothing is read there as an inode (no report: a read would find
	 * the file's bytes, or free space, and call them corrupt).
	 */
	reports = kvfs_corrupt_count();
	for (int i = 0; i < n; i++)
		if (inos[i] != data)
			CHECK_EQ(kvfs_inode_open(mp, inos[i], 1), -ESTALE);
	CHECK_EQ(kvfs_corrupt_count(), reports);
	for (uint64_t o = 0; o < off; o += sizeof(got)) {
		CHECK_EQ(kvfs_read(mp, data, got, sizeof(got), (off_t)o),
			 (ssize_t)sizeof(got));
		memset(buf, (int)(0x11 + o / sizeof(buf) % 200), sizeof(buf));
		if (memcmp(got, buf, sizeof(got))) {
			fprintf(stderr, "data at %" PRIu64 " overwritten\n", o);
			CHECK(0);
		}
	}
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	fsck_clean();
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR");

	if (argc != 2) {
		fprintf(stderr, "usage: test_sparse FSCK_PATH\n");
		return 2;
	}
	fsck = argv[1];
	snprintf(path, sizeof(path), "%s/kvfs-sparse-%d.img",
		 dir ? dir : "/tmp", (int)getpid());
	snprintf(out, sizeof(out), "%s.fsck", path);
	CHECK_EQ(kv_init(NULL), 0);
	test_fill_pieces(0);
	test_fill_pieces(1024);
	test_recovery();
	unlink(path);
	unlink(out);
	CHECK_EQ(kv_fini(), 0);
	printf("sparse: ok\n");
	return 0;
}
