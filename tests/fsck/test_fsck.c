// SPDX-License-Identifier: GPL-2.0
/*
 * fsck.kvfs (tools/fsck.kvfs.c, fs/repair/) on a populated image: files
 * of several sizes (one mapped by an extent B+tree), a block directory,
 * symbolic links (inline and in a block), xattrs (inline and in blocks),
 * damaged by direct writes, one damage per run:
 *
 *   clean     exit 0 with -f -n, -f -y, and without -f ("clean, ...")
 *   sb        primary superblock garbage: -n exit 4 (image unchanged),
 *             -y exit 1, then clean
 *   bnobt     a free-space tree block with a bad crc
 *   agi       the inode header's crc wrong (rebuilt around its root)
 *   inobt     the inode-chunk tree's root zeroed (chunks found by a scan)
 *   agf       the AG's free-block counter off by one (-p fixes it)
 *   leak      a reserve-list entry dropped: a block owned by nothing (-p)
 *   freeused  a file's extent moved onto free space: free and used
 *   shared    two files mapping one block: the later one is cut
 *   inode     an inode with an impossible fork format: cleared
 *   garbage   a byte past an inode's extent list: zeroed, the file kept
 *   symlink   a symlink's target block damaged: the link cleared
 *   extent    an extent past the end of the device: cut
 *   bmbt      the one leaf of frag's extent-map tree with all but its
 *             first 10 extents past the end of the device (crc right): the
 *             10 kept, the fork rebuilt as an extent list, their blocks
 *             read back as written and the rest as holes
 *   log       a log that cannot be replayed: exit 4 naming -L, -L zeroes
 *   dirty     a dirty log: -n says so (exit 4), -y replays it.  The crash
 *             left the new file's inode block written back and nothing
 *             else (the image as it is holds an inode its chunk calls
 *             free): -n replays the log in memory and finds only the
 *             dirty log, the image unchanged
 *   badrec    a dirty log whose one buffer delta (crcs right) is too
 *             short to parse: replay refuses it, and buffer recovery's
 *             own words reach fsck's stderr (the report sink); -L zeroes
 *             the log
 *   zaplog    metadata stamped by an old log at cycle 7, that log damaged:
 *             -L must start the new log past cycle 7, or the next
 *             recovery skips every change to those blocks as older than
 *             them (a file created and fsync'd after the repair is lost)
 *   sbcount   the superblock's free-block count wrong (-p)
 *   direntino an entry of d's data block 0 naming an inode past the last
 *             AG (crc right): alone, -y makes it name a free inode, says
 *             so, and phase 5 removes it; with the block's bestfree also
 *             wrong the block is not written so, and -n and -y say that
 *             the directory's rebuild drops the entry, not that it was
 *             made to name a free inode: in both the entry's inode ends
 *             in lost+found
 *   dryrun    one given attribute fork fields with no fork offset, a
 *             fork offset with no attribute fork, a next unlinked pointer
 *             out of range, or its extent past the device (crc right):
 *             -n says what -y does (the field undone, the file kept; the
 *             extent cut and the block count set), not that the inode
 *             fails its verifier, or its extents do not fit, after that
 *   extentlist one's extent list given two extents past the device (each
 *             said cut by its place in the list as read), or an extent
 *             count past its fork (the list cut to the one it holds)
 *   sfino     an entry of s (a short-form directory) naming an inode
 *             past the last AG (crc right): alone, -n and -y say it is
 *             made to name a free inode, and -n no more (no salvage of
 *             the entries); with the inode's access time out of range
 *             too, neither says so: the directory is cleared, and its
 *             files end in lost+found
 *   reportonce d's data block 0 with a bad crc and mid's inode with an
 *             impossible fork format: each block's verifier report is on
 *             stderr once a run, with -n and with -y (every read of a
 *             block failing its verifier reports it: -n printed the
 *             directory block's 4 times, -y 6 times); then frag given a
 *             directory's type: -n judges it the regular file -y makes
 *             it, and reads none of its blocks as a directory's; then a
 *             directory of 1500 names whose longest run of data blocks
 *             ascending in file order (18 of its 24) is given an owner
 *             that is no inode: with -n and with -y their reports, alike
 *             but for their blocks, are 2 lines, the first and
 *             'corruption in 17 blocks, A to B' (18 lines without the
 *             folding)
 *   twins     each of several damages: -n's problem lines are -y's
 *             (t_twins() says which damages, and what differed)
 *   busy      an image locked as mount.kvfs locks it: exit 8
 *   usage     bad command lines: exit 16
 *
 * After each repair: a second run is clean (exit 0), the checker (fs/
 * scrub.h) finds nothing, the image mounts, and every file the damage did
 * not touch reads back byte-identical.
 *
 * Usage: test_fsck FSCK_PATH MODE
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_item.h"
#include "fs/io/dev.h"
#include "fs/io/log_io.h"
#include "fs/btree/btblock.h"
#include "fs/btree/btree.h"
#include "fs/format/dinode.h"
#include "fs/kvfs.h"
#include "fs/check/metablk.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "journal/log_format.h"
#include "tests/check.h"
#include "tests/journal/mkrec.h"
#include "tests/scrub_util.h"

#define BS 4096u
#define NFILES 8
#define NDIRENTS 120

static const char *fsck;
static char pristine[256], img[256], out[256], err_out[256];
static struct kvfs_geom g;
static const struct kvfs_cred cred = { 0 };

/* The files of the image, what they hold and their inode numbers. */
enum { F_SMALL, F_ONE, F_ONE2, F_MID, F_BIG, F_FRAG, F_SL, F_SLLONG };
static struct {
	const char *name;
	uint64_t size; /* files; symlinks: target length */
	uint64_t ino;
} files[NFILES] = {
	[F_SMALL] = { .name = "small", .size = 100 },
	[F_ONE] = { .name = "one", .size = BS },
	[F_ONE2] = { .name = "one2", .size = BS },
	[F_MID] = { .name = "mid", .size = 50000 },
	[F_BIG] = { .name = "big", .size = 1u << 20 },
	[F_FRAG] = { .name = "frag", .size = 80 * BS },
	[F_SL] = { .name = "sl", .size = 12 },
	[F_SLLONG] = { .name = "sllong", .size = 1000 },
};
static char target_long[1001];

static uint8_t pattern(unsigned f, uint64_t off)
{
	/* frag: only its even blocks were written */
	if (f == F_FRAG && (off / BS) % 2)
		return 0;
	return (uint8_t)(off * 31 + f * 7 + off / BS);
}

static void blk_rw_path(const char *path, uint64_t fsb, void *b)
{
	int fd = open(path, O_RDONLY);

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, b, BS, (off_t)(fsb * BS)), BS);
	close(fd);
}

/* The image holds the shapes the damage cases rely on. */
static uint64_t dir_ino; /* d, a block directory */
static uint64_t sf_ino, sf_files[2]; /* s, a short-form one, its files */

static void shapes(uint64_t dir)
{
	uint8_t b[BS];
	const struct kvfs_dinode *d;

#define INO(i)                                             \
	(blk_rw_path(pristine, kvfs_ino_to_fsb(&g, i), b), \
	 d = (const void *)(b + kvfs_ino_to_offset(&g, i)))
	INO(files[F_FRAG].ino);
	CHECK_EQ(d->dformat, KVFS_DFORK_BTREE);
	INO(files[F_MID].ino);
	CHECK_EQ(d->aformat, KVFS_DFORK_EXTENTS);
	INO(files[F_SMALL].ino);
	CHECK_EQ(d->aformat, KVFS_DFORK_INLINE);
	INO(files[F_SLLONG].ino);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	INO(files[F_SL].ino);
	CHECK_EQ(d->dformat, KVFS_DFORK_INLINE);
	INO(dir);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	dir_ino = dir;
	INO(sf_ino);
	CHECK_EQ(d->dformat, KVFS_DFORK_INLINE);
#undef INO
}

static void populate(void)
{
	struct kvfs_mkfs_opts o = {
		.size = 64u << 20, .agcount = 2, .blocksize = BS, .force = true
	};
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE };
	struct kvfs_stat st, d;
	static uint8_t buf[1u << 20];
	char name[32], xv[3000];
	uint64_t root;
	bool created;

	o.target = pristine;
	if (kvfs_mkfs(&o, &g)) {
		fprintf(stderr, "mkfs: %s\n", o.err);
		exit(1);
	}
	CHECK_EQ(kvfs_open(pristine, NULL, &mp, &info), 0);
	root = kvfs_root_ino(mp);
	for (unsigned f = F_SMALL; f <= F_FRAG; f++) {
		CHECK_EQ(kvfs_create(mp, root, files[f].name, S_IFREG | 0644, 0,
				     0, &cred, &st, &created),
			 0);
		files[f].ino = st.ino;
		for (uint64_t i = 0; i < files[f].size; i++)
			buf[i] = pattern(f, i);
		if (f == F_FRAG) {
			/* 40 one-block extents: past the inode's list */
			for (uint64_t b = 0; b < files[f].size / BS; b += 2)
				CHECK_EQ(kvfs_write(mp, st.ino, buf + b * BS,
						    BS, (off_t)(b * BS), 0),
					 BS);
			sa.size = files[f].size;
			CHECK_EQ(kvfs_setattr(mp, st.ino, &sa, &cred, NULL), 0);
		} else {
			CHECK_EQ(kvfs_write(mp, st.ino, buf, files[f].size, 0,
					    0),
				 (ssize_t)files[f].size);
		}
		CHECK_EQ(kvfs_release(mp, st.ino), 0);
	}
	CHECK_EQ(kvfs_setxattr(mp, files[F_SMALL].ino, "user.a", "hello", 5, 0),
		 0);
	memset(xv, 'x', sizeof(xv));
	CHECK_EQ(kvfs_setxattr(mp, files[F_MID].ino, "user.big", xv, sizeof(xv),
			       0),
		 0);
	CHECK_EQ(kvfs_symlink(mp, root, files[F_SL].name, "short/target", &cred,
			      &st),
		 0);
	files[F_SL].ino = st.ino;
	memset(target_long, 't', 1000);
	CHECK_EQ(kvfs_symlink(mp, root, files[F_SLLONG].name, target_long,
			      &cred, &st),
		 0);
	files[F_SLLONG].ino = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, root, "d", 0755, &cred, &d), 0);
	for (unsigned i = 0; i < NDIRENTS; i++) {
		snprintf(name, sizeof(name), "entry-with-a-long-name-%04u", i);
		CHECK_EQ(kvfs_create(mp, d.ino, name, S_IFREG | 0644, 0, 0,
				     &cred, &st, &created),
			 0);
	}
	CHECK_EQ(kvfs_mkdir(mp, root, "s", 0755, &cred, &st), 0);
	sf_ino = st.ino;
	for (unsigned i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		CHECK_EQ(kvfs_create(mp, sf_ino, name, S_IFREG | 0644, 0, 0,
				     &cred, &st, &created),
			 0);
		sf_files[i] = st.ino;
	}
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(pristine);
	shapes(d.ino);
}

/* How many of f's blocks read back as written; the others must be zeros. */
static unsigned blocks_intact(unsigned f)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	static uint8_t buf[80 * BS];
	unsigned n = 0;

	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_read(mp, files[f].ino, buf, files[f].size, 0),
		 (ssize_t)files[f].size);
	CHECK_EQ(kvfs_close(mp), 0);
	for (uint64_t b = 0; b < files[f].size / BS; b++) {
		bool same = true, zero = true;

		for (uint64_t i = b * BS; i < (b + 1) * BS; i++) {
			same &= buf[i] == pattern(f, i);
			zero &= !buf[i];
		}
		CHECK(same || zero);
		n += same && !zero;
	}
	return n;
}

/* Every file not in skip reads back as written. */
static void verify_files(unsigned skip)
{
	static uint8_t buf[1u << 20];
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char t[1100], v[3000];
	uint64_t root;

	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	root = kvfs_root_ino(mp);
	for (unsigned f = 0; f < NFILES; f++) {
		if (skip >> f & 1)
			continue;
		CHECK_EQ(kvfs_lookup(mp, root, files[f].name, &st), 0);
		CHECK_EQ(st.ino, files[f].ino);
		if (f >= F_SL) {
			CHECK_EQ(kvfs_readlink(mp, st.ino, t, sizeof(t)),
				 (int)files[f].size);
			CHECK(!memcmp(t,
				      f == F_SL ? "short/target" : target_long,
				      files[f].size));
			continue;
		}
		CHECK_EQ(st.size, files[f].size);
		CHECK_EQ(kvfs_read(mp, st.ino, buf, files[f].size, 0),
			 (ssize_t)files[f].size);
		for (uint64_t i = 0; i < files[f].size; i++)
			if (buf[i] != pattern(f, i)) {
				fprintf(stderr,
					"%s: byte %" PRIu64 " differs\n",
					files[f].name, i);
				exit(1);
			}
	}
	if (!(skip >> F_SMALL & 1)) {
		CHECK_EQ(kvfs_getxattr(mp, files[F_SMALL].ino, "user.a", v,
				       sizeof(v)),
			 5);
		CHECK(!memcmp(v, "hello", 5));
	}
	if (!(skip >> F_MID & 1))
		CHECK_EQ(kvfs_getxattr(mp, files[F_MID].ino, "user.big", v,
				       sizeof(v)),
			 3000);
	CHECK_EQ(kvfs_lookup(mp, root, "d", &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

static void copy_file(const char *from, const char *to)
{
	static uint8_t buf[1u << 20];
	int in = open(from, O_RDONLY), o;
	ssize_t n;

	CHECK(in >= 0);
	o = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(o >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		CHECK_EQ(write(o, buf, (size_t)n), n);
	CHECK_EQ(n, 0);
	close(in);
	close(o);
}

static uint64_t hash_image(void)
{
	static uint8_t buf[1u << 20];
	uint64_t h = 14695981039346656037ull;
	int fd = open(img, O_RDONLY);
	ssize_t n;

	CHECK(fd >= 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 1099511628211ull;
	close(fd);
	return h;
}

/* Run fsck.kvfs with args on the image; its exit status. */
static int run(const char *args)
{
	char cmd[1024];
	int st;

	snprintf(cmd, sizeof(cmd), "%s %s %s >%s 2>%s", fsck, args, img, out,
		 err_out);
	st = system(cmd);
	CHECK(WIFEXITED(st));
	snprintf(cmd, sizeof(cmd),
		 "echo '--- fsck.kvfs %s (exit %d)' >&2; "
		 "cat %s >&2; echo '--- its stderr' >&2; cat %s >&2",
		 args, WEXITSTATUS(st), out, err_out);
	CHECK_EQ(system(cmd), 0);
	return WEXITSTATUS(st);
}

/* File f holds s. */
static bool holds(const char *f, const char *s)
{
	static char buf[65536];
	int fd = open(f, O_RDONLY);
	ssize_t n;

	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(n >= 0);
	buf[n] = 0;
	return strstr(buf, s) != NULL;
}

/* The last run's output (stdout or stderr) holds s. */
static bool said(const char *s)
{
	return holds(out, s) || holds(err_out, s);
}

static void blk_rw(uint64_t fsb, void *b, bool wr)
{
	int fd = open(img, O_RDWR);

	CHECK(fd >= 0);
	if (wr)
		CHECK_EQ(pwrite(fd, b, BS, (off_t)(fsb * BS)), BS);
	else
		CHECK_EQ(pread(fd, b, BS, (off_t)(fsb * BS)), BS);
	close(fd);
}

/* Inode ino's block read into b; the inode in it returned. */
static struct kvfs_dinode *inode_in(uint64_t ino, uint8_t *b)
{
	blk_rw(kvfs_ino_to_fsb(&g, ino), b, false);
	return (struct kvfs_dinode *)(b + kvfs_ino_to_offset(&g, ino));
}

static void inode_out(uint64_t ino, uint8_t *b, bool crc)
{
	if (crc)
		kvfs_dinode_set_crc(b + kvfs_ino_to_offset(&g, ino), &g);
	blk_rw(kvfs_ino_to_fsb(&g, ino), b, true);
}

static struct kvfs_extent *ext0(struct kvfs_dinode *d)
{
	return (struct kvfs_extent *)kvfs_dinode_dfork(d);
}

static void agf_edit(uint32_t agno, void (*fn)(struct kvfs_agf_info *a))
{
	uint8_t b[BS];
	struct kvfs_agf_info a;

	blk_rw(kvfs_agb_to_fsb(&g, agno, KVFS_AGF_AGBNO), b, false);
	CHECK_EQ(kvfs_agf_from_disk(&g, agno, b, &a), 0);
	fn(&a);
	kvfs_agf_to_disk(&g, &a, b);
	blk_rw(kvfs_agb_to_fsb(&g, agno, KVFS_AGF_AGBNO), b, true);
}

/*
 * The damage done, then: -n finds it (exit 4, the image unchanged, the
 * output holds msg), repair_args repairs it (exit 1), a second run is
 * clean, the checker too, and the files not in skip are intact.
 */
static void expect_repair(void (*damage)(void), const char *msg,
			  const char *repair_args, unsigned skip)
{
	uint64_t h;

	copy_file(pristine, img);
	damage();
	h = hash_image();
	CHECK_EQ(run("-f -n"), 4);
	CHECK(said(msg));
	CHECK_EQ(hash_image(), h);
	/* preen leaves what is not safe: exit 4, and says -y */
	if (!strstr(repair_args, "-p")) {
		CHECK_EQ(run("-f -p"), 4);
		CHECK(said("run with -y"));
	}
	CHECK_EQ(run(repair_args), 1);
	CHECK_EQ(run("-f -n"), 0);
	CHECK_EQ(run(""), 0);
	CHECK(said("clean"));
	scrub_image_clean(img);
	verify_files(skip);
}

static void d_sb(void)
{
	uint8_t b[BS];

	blk_rw(0, b, false);
	memset(b + 48, 0x5a, 200);
	blk_rw(0, b, true);
}

static void d_bnobt(void)
{
	uint8_t b[BS];
	struct kvfs_agf_info a;

	blk_rw(KVFS_AGF_AGBNO, b, false);
	CHECK_EQ(kvfs_agf_from_disk(&g, 0, b, &a), 0);
	blk_rw(a.bno_root, b, false);
	b[KVFS_BTREE_HDR_SIZE + 3] ^= 0x10;
	blk_rw(a.bno_root, b, true);
}

/* The inode header's counters changed, its crc not: the root is good. */
static void d_agi(void)
{
	uint8_t b[BS];

	blk_rw(KVFS_AGI_AGBNO, b, false);
	((struct kvfs_agi *)b)->icount.v ^= 1;
	blk_rw(KVFS_AGI_AGBNO, b, true);
}

/* The inode-chunk tree's root gone: the chunks are found by a scan. */
static void d_inobt(void)
{
	uint8_t b[BS];
	struct kvfs_agi_info a;

	blk_rw(KVFS_AGI_AGBNO, b, false);
	CHECK_EQ(kvfs_agi_from_disk(&g, 0, b, &a), 0);
	memset(b, 0, sizeof(b));
	blk_rw(a.ino_root, b, true);
}

static void agf_freeblks(struct kvfs_agf_info *a)
{
	a->freeblks++;
}

static void d_agf(void)
{
	agf_edit(1, agf_freeblks);
}

static void agfl_drop(struct kvfs_agf_info *a)
{
	CHECK(a->flcount > 1);
	a->flcount--;
	a->fllast = (a->fllast + g.agfl_size - 1) % g.agfl_size;
}

static void d_leak(void)
{
	agf_edit(1, agfl_drop);
}

/* The first free extent of AG 0 by the by-block tree's root leaf. */
static uint64_t free_block(void)
{
	uint8_t b[BS];
	struct kvfs_agf_info a;
	struct kvfs_alloc_rec *r;

	blk_rw(KVFS_AGF_AGBNO, b, false);
	CHECK_EQ(kvfs_agf_from_disk(&g, 0, b, &a), 0);
	CHECK_EQ(a.bno_level, 0);
	blk_rw(a.bno_root, b, false);
	r = (struct kvfs_alloc_rec *)(b + KVFS_BTREE_HDR_SIZE);
	return kv_le32_to_cpu(r->startblock);
}

static void d_freeused(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);

	CHECK_EQ(kv_le32_to_cpu(d->nextents), 1);
	ext0(d)->startblock = kv_cpu_to_le64(free_block());
	inode_out(files[F_ONE].ino, b, true);
}

static void d_shared(void)
{
	uint8_t b[BS], b2[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);
	struct kvfs_dinode *d2 = inode_in(files[F_ONE2].ino, b2);

	CHECK(files[F_ONE].ino < files[F_ONE2].ino);
	ext0(d2)->startblock = ext0(d)->startblock;
	inode_out(files[F_ONE2].ino, b2, true);
}

static void d_inode(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_MID].ino, b);

	d->dformat = 9;
	inode_out(files[F_MID].ino, b, true);
}

/* A byte set past the extent list: nothing lost when it is zeroed. */
static void d_garbage(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);

	ext0(d)[3].blockcount = kv_cpu_to_le32(7);
	inode_out(files[F_ONE].ino, b, true);
}

/* The long symlink's target block with a bad crc: the link is cleared. */
static void d_symlink(void)
{
	uint8_t b[BS], blk[BS];
	struct kvfs_dinode *d = inode_in(files[F_SLLONG].ino, b);
	uint64_t fsb = kv_le64_to_cpu(ext0(d)->startblock);

	blk_rw(fsb, blk, false);
	blk[100] ^= 1;
	blk_rw(fsb, blk, true);
}

static void d_extent(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_SMALL].ino, b);

	ext0(d)->startblock = kv_cpu_to_le64(g.dblocks + 100);
	inode_out(files[F_SMALL].ino, b, true);
}

static void sb_edit(uint64_t dfree)
{
	uint8_t b[BS];
	struct kvfs_geom sg;

	blk_rw(0, b, false);
	CHECK_EQ(kvfs_sb_from_disk(b, BS, 0, NULL, &sg), 0);
	sg.fdblocks += dfree;
	kvfs_sb_to_disk(&sg, 0, b);
	blk_rw(0, b, true);
}

static void d_sbcount(void)
{
	sb_edit(5);
}

/* frag's written blocks the first 10 records of its leaf map */
static unsigned frag_kept;

/*
 * frag's one leaf: records past the 10th past the device's end (all but
 * the last with last).
 */
static void bmbt_cut(bool last)
{
	uint8_t b[BS], lb[BS];
	struct kvfs_dinode *d = inode_in(files[F_FRAG].ino, b);
	uint8_t *root = kvfs_dinode_dfork(d);
	uint32_t max = kvfs_btree_iroot_maxrecs(kvfs_dinode_dfork_size(&g, d),
						kvfs_bmbt_ops.keysize);
	kv_le64 ptr;
	uint64_t leaf;
	unsigned n;

	CHECK_EQ(kv_le16_to_cpu(((struct kvfs_bmdr_block *)root)->level), 1);
	CHECK_EQ(kv_le16_to_cpu(((struct kvfs_bmdr_block *)root)->numrecs), 1);
	memcpy(&ptr,
	       root + KVFS_BMDR_HDR_SIZE + (size_t)max * kvfs_bmbt_ops.keysize,
	       sizeof(ptr));
	leaf = kv_le64_to_cpu(ptr);
	blk_rw(leaf, lb, false);
	n = kv_le16_to_cpu(((struct kvfs_btree_block *)lb)->numrecs);
	CHECK(n > 20);
	frag_kept = 0;
	for (unsigned i = 0; i < n; i++) {
		struct kvfs_extent *x = kvfs_btree_rec(lb, &kvfs_bmbt_ops, i);
		uint64_t off = kv_le64_to_cpu(x->startoff);

		for (uint64_t b = off; i < 10 && !kv_le32_to_cpu(x->flags) &&
				       b < off + kv_le32_to_cpu(x->blockcount);
		     b++)
			frag_kept += b % 2 == 0 && b < files[F_FRAG].size / BS;
		if (i >= (last ? n - 1 : 10))
			x->startblock = kv_cpu_to_le64(g.dblocks + i);
	}
	CHECK(frag_kept > 0);
	kvfs_blkhdr_set_crc(lb, BS);
	blk_rw(leaf, lb, true);
}

static void d_bmbt(void)
{
	bmbt_cut(false);
}

static void d_bmbt_last(void)
{
	bmbt_cut(true);
}

/* Garbage in a log block never written: recovery refuses the log. */
static void d_log(void)
{
	uint8_t b[BS];

	memset(b, 0xa5, sizeof(b));
	blk_rw(g.logstart + g.logblocks - 1, b, true);
}

/* A read of a file whose data the repair cut: a hole, zeros. */
static void expect_zeros(unsigned f)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	uint8_t buf[BS];

	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_read(mp, files[f].ino, buf, files[f].size, 0),
		 (ssize_t)files[f].size);
	for (uint64_t i = 0; i < files[f].size; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

/* A crash after changes: the log holds what the image does not. */
static void d_dirty(void)
{
	struct kvfs_mount_opts mo = { .no_log_threads = true };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_mount_open(img, &mo, &mp), 0);
	CHECK_EQ(kvfs_create(mp, g.rootino, "new", S_IFREG | 0644, 0, 0, &cred,
			     &st, &created),
		 0);
	CHECK_EQ(kvfs_fsync(mp, g.rootino, false), 0);
	kvfs_mount_shutdown(mp, "test crash");
	kvfs_mount_close(mp);
}

/*
 * The log replaced by one checkpoint, sealed, whose only item is a buffer
 * delta of 4 bytes: the log walks clean to a dirty head, and buffer
 * recovery's scan refuses the delta.
 */
static void d_badrec(void)
{
	static uint8_t log[64 * 1024], zero[64 * 1024];
	struct {
		struct kvj_ckpt_hdr ck;
		struct kvj_item_hdr ih;
		uint8_t delta[8];
	} st = {
		.ck = { .magic = kvj_cpu_to_le32(KVJ_CKPT_MAGIC),
			.nr_items = kvj_cpu_to_le32(1),
			.seq = kvj_cpu_to_le64(1) },
		.ih = { .type = kvj_cpu_to_le32(KVFS_ITEM_BUF),
			.len = kvj_cpu_to_le32(4) },
	};
	struct kvfs_log_io lio;
	struct kv_dev *dev;

	CHECK(mkrec_ckpt(log, sizeof(log), &st, sizeof(st), KVJ_COMP_NONE,
			 sizeof(st), 1));
	CHECK_EQ(kv_dev_open(img, 0, &dev), 0);
	kvfs_log_io_init(&lio, dev, &g);
	/* no record of the old log may be taken for the head */
	for (uint64_t off = 0; off < lio.len; off += sizeof(zero))
		CHECK_EQ(kvfs_log_io_ops.write(&lio, zero, sizeof(zero), off),
			 0);
	CHECK_EQ(kvfs_log_io_ops.write(&lio, log, sizeof(log), 0), 0);
	CHECK_EQ(kvfs_log_io_ops.flush(&lio), 0);
	kv_dev_close(dev);
}

/* What the checker finds in the image as it is. */
static uint64_t scrub_findings(void)
{
	static struct kvfs_scrub_result res;
	struct kvfs_geom sg;
	struct kv_dev *dev;

	CHECK_EQ(kv_dev_open(img, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &sg), 0);
	kvfs_scrub_dev(dev, &sg, &res);
	kv_dev_close(dev);
	return res.nfindings;
}

static void t_dirty(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char saved[300];
	uint8_t b[BS];
	uint64_t fsb, h;

	copy_file(pristine, img);
	d_dirty();
	snprintf(saved, sizeof(saved), "%s.dirty", img);
	copy_file(img, saved);
	/* the new file's inode block as the replay writes it */
	CHECK_EQ(run("-y"), 1);
	CHECK(said("log replayed"));
	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_lookup(mp, g.rootino, "new", &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	fsb = kvfs_ino_to_fsb(&g, st.ino);
	blk_rw(fsb, b, false);
	/* the crash came after that block's write-back, before the rest */
	copy_file(saved, img);
	unlink(saved);
	blk_rw(fsb, b, true);
	CHECK(scrub_findings() > 0);
	h = hash_image();
	CHECK_EQ(run("-n"), 4);
	/* "(-n)" once: fsck.kvfs's, not the engine's too */
	CHECK(said("log is dirty; not replayed -- NOT FIXED (-n)\n"));
	CHECK(said("log replayed in memory only"));
	CHECK(said("Phase 6 - connectivity"));
	CHECK(said(": 1 problems found, 0 fixed, 1 left"));
	CHECK_EQ(hash_image(), h);
	CHECK_EQ(run("-y"), 1);
	CHECK(said("log replayed"));
	CHECK_EQ(run("-f -n"), 0);
	scrub_image_clean(img);
	verify_files(0);
	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_lookup(mp, g.rootino, "new", &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

#define OLD_CYCLE 7u

/* Every header of a run of metadata blocks restamped at OLD_CYCLE. */
static int stamp_fn(void *priv, uint64_t fsb, uint32_t len,
		    enum kvfs_metablk_type type, uint64_t owner)
{
	uint32_t step = type == KVFS_MB_INODE ? g.inodesize : BS;
	unsigned *n = priv;
	uint8_t b[BS];

	(void)owner;
	if (type == KVFS_MB_LOG)
		return 0;
	for (uint64_t f = fsb; f < fsb + len; f++) {
		blk_rw(f, b, false);
		for (uint32_t off = 0; off < BS; off += step) {
			struct kvfs_blk_hdr *h = (void *)(b + off);

			if (!kv_le32_to_cpu(h->magic) ||
			    memcmp(h->uuid, g.meta_uuid, KVFS_UUID_SIZE))
				continue;
			kvfs_blkhdr_stamp(h, step, KVJ_LSN(OLD_CYCLE, 1000));
			(*n)++;
		}
		blk_rw(f, b, true);
	}
	return 0;
}

/*
 * The image as an old log at cycle OLD_CYCLE left it (as many passes over
 * the log would), then that log damaged beyond replay.
 */
static void d_zaplog(void)
{
	struct kv_dev *dev;
	unsigned n = 0;

	CHECK_EQ(kv_dev_open(img, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_metablk_walk(dev, &g, stamp_fn, &n), 0);
	kv_dev_close(dev);
	/* the root, its directory blocks, the inode chunks, AG headers... */
	CHECK(n > 20);
	scrub_image_clean(img);
	d_log();
}

/* After fsck -L: a change made, fsync'd, crashed over, and found again. */
static void t_zaplog(void)
{
	struct kvfs_mount_opts mo = { .no_log_threads = true };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint8_t buf[BS], rd[BS];
	bool created;

	copy_file(pristine, img);
	d_zaplog();
	CHECK_EQ(run("-f -y -L"), 1);
	CHECK(said("zeroed"));
	CHECK(said("new log at cycle 8"));
	CHECK_EQ(run("-f -n"), 0);

	memset(buf, 0x3c, sizeof(buf));
	CHECK_EQ(kvfs_mount_open(img, &mo, &mp), 0);
	CHECK_EQ(kvfs_create(mp, g.rootino, "after", S_IFREG | 0644, 0, 0,
			     &cred, &st, &created),
		 0);
	CHECK_EQ(kvfs_write(mp, st.ino, buf, BS, 0, 0), BS);
	CHECK_EQ(kvfs_fsync(mp, st.ino, false), 0);
	CHECK_EQ(kvfs_fsync(mp, g.rootino, false), 0);
	kvfs_mount_shutdown(mp, "test crash");
	kvfs_mount_close(mp);

	/* recovery replays the changes over blocks stamped at cycle 7 */
	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_lookup(mp, g.rootino, "after", &st), 0);
	CHECK_EQ(st.size, BS);
	CHECK_EQ(kvfs_read(mp, st.ino, rd, BS, 0), BS);
	CHECK_EQ(memcmp(rd, buf, BS), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(img);
	CHECK_EQ(run("-f -n"), 0);
	verify_files(0);
}

/*
 * d's data block 0: its first entry made to name an inode past the last
 * AG, and with bestfree its longest free record misstated, the crc
 * recomputed.  The entry's inode number.
 */
static uint64_t d_dirent_ino(bool bestfree)
{
	uint8_t b[BS], ib[BS];
	struct kvfs_dir_data_ent *e;
	uint64_t fsb, ino;

	fsb = kv_le64_to_cpu(ext0(inode_in(dir_ino, ib))->startblock);
	blk_rw(fsb, b, false);
	e = (void *)(b + KVFS_DIR_HEAD_SIZE);
	while (!kv_le64_to_cpu(e->ino))
		e = (void *)((uint8_t *)e + kv_le32_to_cpu(e->reclen));
	ino = kv_le64_to_cpu(e->ino);
	e->ino = kv_cpu_to_le64(kvfs_agino_to_ino(&g, g.agcount, 5));
	if (bestfree)
		((struct kvfs_dir_data_hdr *)b)->bestfree = kv_cpu_to_le32(BS);
	kvfs_blkhdr_set_crc(b, BS);
	blk_rw(fsb, b, true);
	return ino;
}

static void t_direntino(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[32];
	uint64_t ino;

	for (int bestfree = 0; bestfree < 2; bestfree++) {
		copy_file(pristine, img);
		ino = d_dirent_ino(bestfree);
		CHECK_EQ(run("-f -n"), 4);
		CHECK(said("out of range"));
		CHECK_EQ(said("made to name free inode"), !bestfree);
		CHECK_EQ(said("dropped by the directory's rebuild"), bestfree);
		CHECK_EQ(run("-f -y"), 1);
		/* said only when done: the block alone verifies so */
		CHECK_EQ(said("made to name free inode"), !bestfree);
		CHECK_EQ(said("dropped by the directory's rebuild"), bestfree);
		CHECK(said(bestfree ? "directory rebuilt" : "entry removed"));
		CHECK(said(" 0 left"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
		CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
		CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "lost+found", &st),
			 0);
		snprintf(name, sizeof(name), "#%" PRIu64, ino);
		CHECK_EQ(kvfs_lookup(mp, st.ino, name, &st), 0);
		CHECK_EQ(st.ino, ino);
		CHECK_EQ(kvfs_close(mp), 0);
	}
}

/*
 * one's extent list (one extent) with two more past the end of the
 * device, or with huge an extent count past what its fork holds, the crc
 * recomputed.
 */
static void d_extent_list(bool huge)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);
	struct kvfs_extent *x = ext0(d);

	CHECK_EQ(kv_le32_to_cpu(d->nextents), 1);
	if (huge) {
		d->nextents = kv_cpu_to_le32(231047);
	} else {
		for (unsigned i = 1; i < 3; i++) {
			x[i].startoff = kv_cpu_to_le64(10 * i);
			x[i].startblock = kv_cpu_to_le64(g.dblocks + 10 * i);
			x[i].blockcount = kv_cpu_to_le32(1);
		}
		d->nextents = kv_cpu_to_le32(3);
	}
	inode_out(files[F_ONE].ino, b, true);
}

/*
 * Each cut extent is named by its place in the list as read (the second
 * of two was named by the place the first left: 'extent 1' twice), and a
 * count past the fork cuts the list to the extents it holds, its empty
 * slots not said to be extents with no blocks (one line each).
 */
static void t_extentlist(void)
{
	for (int huge = 0; huge < 2; huge++) {
		copy_file(pristine, img);
		d_extent_list(huge);
		CHECK_EQ(run("-f -n"), 4);
		CHECK_EQ(run("-f -y"), 1);
		if (huge) {
			CHECK(said("231047 extents do not fit"));
			CHECK(said("the list cut to 1\n"));
			CHECK(!said("has no blocks"));
		} else {
			CHECK(said("data extent 1 (file block 10,"));
			CHECK(said("data extent 2 (file block 20,"));
		}
		CHECK(said(" 0 left"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
	}
}

/*
 * one given attribute fork fields with no fork offset (0), a fork offset
 * with no attribute fork (1), a next unlinked pointer out of range (2),
 * or its extent past the end of the device (3), the crc recomputed: each
 * a field -y undoes, keeping the file (3: its data lost).
 */
static void d_dry(int which)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);

	CHECK(!kv_le16_to_cpu(d->forkoff) && !d->aformat);
	if (which == 0)
		d->anextents = kv_cpu_to_le32(5);
	else if (which == 1)
		d->forkoff = kv_cpu_to_le16(1);
	else if (which == 2)
		d->next_unlinked = kv_cpu_to_le32(5);
	else
		ext0(d)->startblock = kv_cpu_to_le64(g.dblocks + 100);
	inode_out(files[F_ONE].ino, b, true);
}

/*
 * -n says what -y does to an inode whose field -y undoes: it judged the
 * inode as read after saying the fix, and said it fails its verifier and
 * is cleared (0), its extents cut to fit a fork the offset shrank, their
 * blocks leaked (1), its pointer cleared a second time (2), or (3) it
 * missed the block count -y sets and hedged the leak of the block the
 * extent held before it was moved ("unless by the damaged inode left").
 */
static void t_dryrun(void)
{
	static const struct {
		const char *says, *then, *never, *count;
	} c[] = {
		{ "has no attribute fork but its format 0 and 5 extents",
		  "cleared", "fails its verifier", " 1 problems found" },
		{ "has a fork offset of 1 but no attribute fork",
		  "offset cleared", "do not fit", " 1 problems found" },
		{ "next unlinked inode invalid: the bytes it does not use "
		  "zeroed",
		  "its header set to its place",
		  "has links but points to a next unlinked inode",
		  " 1 problems found" },
		{ "says 1 blocks, its forks map 0: set",
		  "owned by nothing (leaked): returned to free space",
		  "unless by the damaged inode left", " 4 problems found" },
	};

	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		copy_file(pristine, img);
		d_dry((int)i);
		CHECK_EQ(run("-f -n"), 4);
		CHECK(said(c[i].says));
		CHECK(said(c[i].then));
		CHECK(!said(c[i].never));
		CHECK_EQ(run("-f -y"), 1);
		CHECK(said(c[i].says));
		CHECK(said(c[i].then));
		CHECK(!said(c[i].never));
		CHECK(said(c[i].count));
		CHECK(said(" 0 left"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(i == 3 ? 1u << F_ONE : 0);
	}
}

/* Lines of file f holding s. */
static unsigned count_lines(const char *f, const char *s)
{
	char line[1024];
	unsigned n = 0;
	FILE *fp = fopen(f, "r");

	CHECK(fp != NULL);
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, s) != NULL;
	fclose(fp);
	return n;
}

/*
 * A directory "many" made in img, of NMANY long names linked to one empty
 * file (no inode chunks among its blocks): its data blocks' filesystem
 * blocks, in file order, in blks (up to max); their count returned.
 */
#define NMANY 1500
static unsigned many_dir(uint64_t *blks, unsigned max)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat dst, st;
	uint8_t ib[BS];
	struct kvfs_dinode *d;
	char name[80];
	unsigned n = 0;
	bool created;

	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "many", 0755, &cred, &dst),
		 0);
	CHECK_EQ(kvfs_create(mp, dst.ino, "t", S_IFREG | 0644, 0, 0, &cred, &st,
			     &created),
		 0);
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	for (unsigned i = 0; i < NMANY; i++) {
		snprintf(name, sizeof(name),
			 "a-name-long-enough-that-few-fit-a-block-%04u", i);
		CHECK_EQ(kvfs_link(mp, st.ino, dst.ino, name, &st), 0);
	}
	CHECK_EQ(kvfs_close(mp), 0);
	d = inode_in(dst.ino, ib);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	for (unsigned i = 0; i < kv_le32_to_cpu(d->nextents); i++) {
		struct kvfs_extent *x = &ext0(d)[i];
		uint64_t off = kv_le64_to_cpu(x->startoff);

		if (off >= KVFS_DIR_SPACE_BYTES / BS)
			continue;
		for (uint32_t j = 0; j < kv_le32_to_cpu(x->blockcount); j++) {
			CHECK(n < max);
			CHECK_EQ(off + j, n);
			blks[n++] = kv_le64_to_cpu(x->startblock) + j;
		}
	}
	return n;
}

static void t_reportonce(void)
{
	const char *args[] = { "-f -n", "-f -y" };
	uint8_t b[BS], ib[BS];
	char dline[64], dsaid[64], iline[64], rline[80];
	struct kvfs_dinode *d;
	uint64_t fsb, blks[64];
	unsigned nblk, first = 1, last = 1;

	copy_file(pristine, img);
	fsb = kv_le64_to_cpu(ext0(inode_in(dir_ino, ib))->startblock);
	blk_rw(fsb, b, false);
	b[BS - 1] ^= 0x40;
	blk_rw(fsb, b, true);
	d_inode();
	snprintf(dline, sizeof(dline), "in block %" PRIu64 " (directory data",
		 fsb);
	snprintf(dsaid, sizeof(dsaid), "(block %" PRIu64 "): bad crc32c", fsb);
	snprintf(iline, sizeof(iline),
		 "(inode %" PRIu64 "): ", files[F_MID].ino);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(run(args[i]), i ? 1 : 4);
		CHECK_EQ(count_lines(err_out, dline), 1);
		CHECK_EQ(count_lines(err_out, iline), 1);
		/* and what fsck makes of each, on stdout */
		CHECK(holds(out, dsaid));
		CHECK(holds(out, "fails its verifier"));
	}
	CHECK_EQ(run("-f -n"), 0);
	scrub_image_clean(img);
	verify_files(1u << F_MID);

	/*
	 * frag given a directory's type (crc right): -n's check read each
	 * of its blocks as a directory block, each failing alike but for
	 * its block (70 lines, then 2: the first said, the rest in one);
	 * it judges frag as the regular file -y makes it now, and reads
	 * none of them so
	 */
	copy_file(pristine, img);
	d = inode_in(files[F_FRAG].ino, ib);
	d->mode = kv_cpu_to_le16(S_IFDIR | 0644);
	inode_out(files[F_FRAG].ino, ib, true);
	CHECK_EQ(run("-f -n"), 4);
	CHECK(said("made a regular file"));
	CHECK_EQ(count_lines(err_out, "(directory data block): "), 0);
	CHECK_EQ(run("-f -y"), 1);
	CHECK(said("made a regular file"));
	CHECK_EQ(run("-f -n"), 0);
	verify_files(0);

	/*
	 * many's data blocks past block 0 whose blocks ascend in file order
	 * (the longest such run: the first blocks the allocator gave it
	 * descend), each header's owner made no inode: each block's report
	 * is alike but for its block, the first said, the rest in one line
	 */
	copy_file(pristine, img);
	nblk = many_dir(blks, 64);
	for (unsigned i = 1, j = 1; i < nblk; i++) {
		if (blks[i] < blks[i - 1])
			j = i;
		if (i - j > last - first) {
			first = j;
			last = i;
		}
	}
	CHECK(last - first >= 8);
	for (unsigned i = first; i <= last; i++) {
		blk_rw(blks[i], b, false);
		((struct kvfs_blk_hdr *)b)->owner = kv_cpu_to_le64(~0ull);
		blk_rw(blks[i], b, true);
	}
	snprintf(dline, sizeof(dline), "corruption in block %" PRIu64 " (",
		 blks[first]);
	snprintf(rline, sizeof(rline),
		 "corruption in %u blocks, %" PRIu64 " to %" PRIu64 " (",
		 last - first, blks[first + 1], blks[last]);
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(run(args[i]), i ? 1 : 4);
		CHECK(said(i ? "owner is not an inode: directory rebuilt" :
			       "owner is not an inode -- NOT FIXED (-n)"));
		CHECK_EQ(count_lines(err_out, "(directory data block): owner "
					      "is not an inode\n"),
			 2);
		CHECK_EQ(count_lines(err_out, dline), 1);
		CHECK_EQ(count_lines(err_out, rline), 1);
	}
	CHECK_EQ(run("-f -n"), 0);
	scrub_image_clean(img);
	verify_files(0);
}

/*
 * s's entry f0 made to name an inode past the last AG, and with ts its
 * inode's version made 3 (a fault nothing in it can be spared for; a
 * timestamp's nanoseconds out of range, once one, are set to 0 now), the
 * crc recomputed.
 */
static void d_sf_ino(bool ts)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(sf_ino, b);
	uint8_t *fork = kvfs_dinode_dfork(d);
	struct kvfs_dir_sf_hdr *h = (void *)fork;
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE;

	for (unsigned i = 0; i < kv_le16_to_cpu(h->count); i++) {
		struct kvfs_dir_sf_ent *e = (void *)(fork + pos);

		if (kv_le64_to_cpu(e->ino) == sf_files[0])
			e->ino = kv_cpu_to_le64(
				kvfs_agino_to_ino(&g, g.agcount, 5));
		pos += KVFS_DIR_SF_ENTSIZE(e->namelen);
	}
	if (ts)
		d->version = 3;
	inode_out(sf_ino, b, true);
}

/* Inode ino is in lost+found as "#ino". */
static void in_lost_found(uint64_t ino)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[32];

	CHECK_EQ(kvfs_open(img, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "lost+found", &st), 0);
	snprintf(name, sizeof(name), "#%" PRIu64, ino);
	CHECK_EQ(kvfs_lookup(mp, st.ino, name, &st), 0);
	CHECK_EQ(st.ino, ino);
	CHECK_EQ(kvfs_close(mp), 0);
}

/*
 * A short-form directory's entry out of range is said to name the free
 * placeholder only when the inode so changed verifies: alone, -n says
 * what -y does (before, -n went on to salvage the entries, '1 entries
 * that check out kept', which -y never does); beside a fault that clears
 * the directory, neither says it (before, -y said so and counted it
 * fixed, for an inode it then cleared).
 */
static void t_sfino(void)
{
	for (int ts = 0; ts < 2; ts++) {
		copy_file(pristine, img);
		d_sf_ino(ts);
		CHECK_EQ(run("-f -n"), 4);
		CHECK_EQ(said("made to name free inode"), !ts);
		CHECK(!said("entries that check out"));
		CHECK_EQ(said("inode version is not 1): cleared"), ts);
		CHECK_EQ(run("-f -y"), 1);
		CHECK_EQ(said("made to name free inode"), !ts);
		CHECK(!said("entries that check out"));
		CHECK(said(ts ? "inode version is not 1): cleared" :
				"entry removed"));
		/* the space phases after phase 6, announced as such */
		CHECK(said("second pass over the space"));
		CHECK(said(" 0 left"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
		in_lost_found(sf_files[0]);
		if (ts)
			in_lost_found(sf_files[1]);
	}
}

/* A line of fsck's output says a problem (not a notice). */
static bool problem_line(const char *line)
{
	return !strncmp(line, "        ", 8) &&
	       !strstr(line, "the whole check counts") &&
	       !strstr(line, "second pass over the space") &&
	       !strstr(line, "lost+found made") &&
	       !strstr(line, "directories and connectivity: not checked");
}

/* The problem lines of the last run, " -- NOT FIXED..." cut: how many. */
static unsigned found_lines(void)
{
	unsigned n = 0;
	char line[1024];
	FILE *fp = fopen(out, "r");

	CHECK(fp != NULL);
	while (fgets(line, sizeof(line), fp))
		n += problem_line(line);
	fclose(fp);
	return n;
}

/* The last run's "N problems found". */
static unsigned found_said(void)
{
	char line[1024];
	unsigned n = ~0u;
	const char *p;
	FILE *fp = fopen(out, "r");

	CHECK(fp != NULL);
	while (fgets(line, sizeof(line), fp))
		if ((p = strstr(line, ": ")) && strstr(line, " problems found"))
			CHECK_EQ(sscanf(p, ": %u problems found", &n), 1);
	fclose(fp);
	return n;
}

/*
 * -n judges the namespace as -y's phase 4 leaves it: d's extent count
 * made 231047 (crc right; -y cuts the list to the extents its fork
 * holds), or mid given a directory's type (-y makes it a regular file
 * again).  -n read the namespace as on disk: d's entries 'not reachable'
 * (120 of them), mid's entry's file type and link counts wrong, none of
 * which -y says.  -n's problems are -y's, as many, and as many as its
 * lines.
 */
static void d_dryns(int which)
{
	uint8_t b[BS];
	uint64_t ino = which ? files[F_MID].ino : dir_ino;
	struct kvfs_dinode *d = inode_in(ino, b);

	if (which)
		d->mode = kv_cpu_to_le16(
			(uint16_t)((kv_le16_to_cpu(d->mode) & ~S_IFMT) |
				   S_IFDIR));
	else
		d->nextents = kv_cpu_to_le32(231047);
	inode_out(ino, b, true);
}

static void t_dryns(void)
{
	static const char *const says[] = { "231047 extents do not fit",
					    "made a regular file" };
	unsigned n;

	for (int i = 0; i < 2; i++) {
		copy_file(pristine, img);
		d_dryns(i);
		CHECK_EQ(run("-f -n"), 4);
		CHECK(said(says[i]));
		CHECK(!said("not reachable"));
		CHECK(!said("links found"));
		CHECK(!said("says file type"));
		n = found_said();
		CHECK_EQ(n, found_lines());
		CHECK_EQ(run("-f -y"), 1);
		CHECK(said(says[i]));
		CHECK_EQ(found_said(), n);
		CHECK_EQ(found_lines(), n);
		CHECK(said(" 0 left"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
	}
}

/*
 * d with two faults its rebuild fixes (its size 0, crc right, and a bit
 * flipped in its data block 1): "directory rebuilt" once, the other
 * finding fixed by that rebuild (both said "directory rebuilt" before).
 * First with d's data space cut to one block (tag dir_space_small): the
 * rebuild fails (-ENOSPC at its second data block), and both findings are
 * said not fixed at once (the first was said nowhere, the detection after
 * the failed rebuild finding d itself sound, and the second "fixed by
 * directory N's rebuild above").
 */
static void d_rebuildonce(void)
{
	uint8_t b[BS], ib[BS];
	struct kvfs_dinode *d;
	const struct kvfs_extent *x;
	uint64_t fsb;
	uint32_t i;

	d = inode_in(dir_ino, ib);
	/* data block 1, in whichever extent the allocator made hold it */
	x = ext0(d);
	for (i = 0; i < kv_le32_to_cpu(d->nextents); i++)
		if (kv_le64_to_cpu(x[i].startoff) <= 1 &&
		    kv_le64_to_cpu(x[i].startoff) +
				    kv_le32_to_cpu(x[i].blockcount) >
			    1)
			break;
	CHECK(i < kv_le32_to_cpu(d->nextents));
	fsb = kv_le64_to_cpu(x[i].startblock) + 1 -
	      kv_le64_to_cpu(x[i].startoff);
	d->size = kv_cpu_to_le64(0);
	inode_out(dir_ino, ib, true);
	blk_rw(fsb, b, false);
	b[BS - 1] ^= 0x40;
	blk_rw(fsb, b, true);
}

static void t_rebuildonce(void)
{
	copy_file(pristine, img);
	d_rebuildonce();
	CHECK_EQ(setenv("KVFS_ERRTAGS", "dir_space_small:value=1", 1), 0);
	CHECK_EQ(run("-f -y"), 4);
	CHECK_EQ(unsetenv("KVFS_ERRTAGS"), 0);
	CHECK_EQ(count_lines(out, ": directory rebuilt"), 0);
	CHECK_EQ(count_lines(out, "'s rebuild above"), 0);
	CHECK_EQ(count_lines(out, ": could not be fixed (No space left on "
				  "device) -- NOT FIXED"),
		 2);
	CHECK_EQ(found_said(), found_lines());

	copy_file(pristine, img);
	d_rebuildonce();
	CHECK_EQ(run("-f -n"), 4);
	CHECK_EQ(run("-f -y"), 1);
	CHECK_EQ(count_lines(out, ": directory rebuilt"), 1);
	CHECK(count_lines(out, "'s rebuild above") >= 1);
	CHECK_EQ(found_said(), found_lines());
	CHECK(said(" 0 left"));
	CHECK_EQ(run("-f -n"), 0);
	scrub_image_clean(img);
}

/*
 * one's access time given 2000000000 nanoseconds, its change time's
 * padding made non-zero (crc right): the fields are set, the file kept
 * (it was cleared, its data and entry lost).
 */
static void t_times(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d;

	copy_file(pristine, img);
	d = inode_in(files[F_ONE].ino, b);
	d->atime.nsec = kv_cpu_to_le32(2000000000u);
	d->ctime.pad = kv_cpu_to_le32(1);
	inode_out(files[F_ONE].ino, b, true);
	for (int y = 0; y < 2; y++) {
		CHECK_EQ(run(y ? "-f -y" : "-f -n"), y ? 1 : 4);
		CHECK(said("'s access time has 2000000000 nanoseconds: set to "
			   "0"));
		CHECK(said("the bytes it does not use zeroed"));
		CHECK(!said("cleared"));
		CHECK(!said("not in use"));
		CHECK_EQ(found_said(), 2);
	}
	CHECK_EQ(run("-f -n"), 0);
	/* before verify_files(), whose reads move the access time */
	d = inode_in(files[F_ONE].ino, b);
	CHECK_EQ(kv_le32_to_cpu(d->atime.nsec), 0);
	scrub_image_clean(img);
	verify_files(0);
}

#define TWIN_LINES 64

/* The last run's problem lines (-y's before its second pass). */
struct twin_lines {
	char l[TWIN_LINES][512];
	bool used[TWIN_LINES];
	unsigned n;
};

static void twin_lines(struct twin_lines *v)
{
	char line[sizeof(v->l[0])], *p;
	FILE *fp = fopen(out, "r");

	CHECK(fp != NULL);
	v->n = 0;
	while (fgets(line, sizeof(line), fp) &&
	       !strstr(line, "second pass over the space")) {
		if (!problem_line(line))
			continue;
		line[strcspn(line, "\n")] = '\0';
		p = strstr(line, " -- NOT FIXED (-n)");
		if (p)
			*p = '\0';
		CHECK(v->n < TWIN_LINES);
		memcpy(v->l[v->n], line, sizeof(line));
		v->used[v->n++] = false;
	}
	fclose(fp);
}

/*
 * The lines of n (-n's) not matched one for one by y's (-y's), and y's
 * not matched, said on stderr: how many.  A line of phases 5-6 is
 * followed in -y's by what was done (": entry removed").
 */
static unsigned twins_odd(const char *name, const struct twin_lines *n,
			  struct twin_lines *y)
{
	unsigned odd = 0;

	for (unsigned a = 0; a < n->n; a++) {
		size_t len = strlen(n->l[a]);
		unsigned b;

		for (b = 0; b < y->n; b++)
			if (!y->used[b] && !strncmp(y->l[b], n->l[a], len) &&
			    (!y->l[b][len] || !strncmp(y->l[b] + len, ": ", 2)))
				break;
		if (b < y->n) {
			y->used[b] = true;
			continue;
		}
		fprintf(stderr, "%s: -n only: %s\n", name, n->l[a]);
		odd++;
	}
	for (unsigned b = 0; b < y->n; b++)
		if (!y->used[b]) {
			fprintf(stderr, "%s: -y only: %s\n", name, y->l[b]);
			odd++;
		}
	return odd;
}

/* one's link count 0 (crc right). */
static void d_nlink0(void)
{
	uint8_t b[BS];
	struct kvfs_dinode *d = inode_in(files[F_ONE].ino, b);

	d->nlink = kv_cpu_to_le32(0);
	inode_out(files[F_ONE].ino, b, true);
}

static void d_direntino(void)
{
	d_dirent_ino(false);
}

/*
 * img made anew with 4 AGs (the primary is rebuilt from a copy other than
 * AG 1's), its primary superblock garbage and AG 1's copy's crc wrong.
 */
static void d_sbcopy(void)
{
	struct kvfs_mkfs_opts o = { .target = img,
				    .size = 64u << 20,
				    .agcount = 4,
				    .blocksize = BS,
				    .force = true };
	struct kvfs_geom g4;
	uint8_t b[BS];

	CHECK_EQ(kvfs_mkfs(&o, &g4), 0);
	d_sb();
	blk_rw(kvfs_agb_to_fsb(&g4, 1, 0), b, false);
	b[BS - 1] ^= 1;
	blk_rw(kvfs_agb_to_fsb(&g4, 1, 0), b, true);
}

/* The file type of d's first entry in data block 0 made 64 (crc right). */
static void d_dirtype(void)
{
	uint8_t b[BS], ib[BS];
	struct kvfs_dir_data_ent *e;
	uint64_t fsb;

	fsb = kv_le64_to_cpu(ext0(inode_in(dir_ino, ib))->startblock);
	blk_rw(fsb, b, false);
	e = (void *)(b + KVFS_DIR_HEAD_SIZE);
	while (!kv_le64_to_cpu(e->ino))
		e = (void *)((uint8_t *)e + kv_le32_to_cpu(e->reclen));
	e->ftype = 64;
	kvfs_blkhdr_set_crc(b, BS);
	blk_rw(fsb, b, true);
}

/*
 * -n says what -y fixes: each damage's problem lines from -n (" -- NOT
 * FIXED (-n)" cut) are -y's first pass's, one for one.  What -n said
 * before that -y did not, or the reverse:
 *   extent    an extent past the device: -y's cut leaves a block leaked,
 *             returned to free space, and the superblock's free count
 *             wrong; -n, its leaks never returned, did not judge the
 *             summary counters at all (no line for -y's "superblock
 *             summary counters wrong")
 *   nlink0    one's link count 0: -n said "has no links and is on no
 *             unlinked list" besides its link count, which -y sets
 *             instead of freeing it
 *   direntino an entry of d naming an inode past the last AG (crc
 *             right): -y's phase 4 makes it name a free inode, phase 5
 *             removes it ("names inode N, which is not in use"); -n's
 *             check read the block as on disk, failing its verifier
 *             ("entry inode out of range")
 *   bmbt      frag's leaf with its records past the 10th past the device
 *             (bmbtlast: its last one only): -y rebuilds the fork from
 *             the extents that verify (an extent list; a new tree), the
 *             old tree's blocks and the cut extents' leaked, returned to
 *             free space, and the summary counters set; -n, the fork
 *             left, said those blocks leaked "unless by the damaged
 *             inode left: kept", and the counters nothing
 *   symlink   the long symlink's block damaged, or mid's fork format
 *   inode     invalid: -y clears the inode, and its chunk's free count
 *             then says one more free than the inode header: "inode
 *             counters of AG 0 wrong", and the summary's free inodes;
 *             -n's chunk records kept the inode in use
 *   inobt     the inode-chunk tree's root zeroed, or the inode header's
 *   agi       crc wrong: -n's check walked the chunks of the tree on
 *             disk, and said "inode 65664 is in use but not reachable"
 *             where -y's rebuilt tree holds its chunk (and, with the
 *             tree rebuilt from a scan, the summary counters wrong by
 *             the new tree's block, which -n did not take)
 *   sbcopy    the primary superblock garbage and AG 1's copy's crc
 *             wrong: -n went on with the copy's geometry straight after
 *             the primary's line, and never checked the copies, where -y
 *             says "superblock copy of AG 1 bad crc32c ...: rewritten from
 *             the primary" (-n's "directories and connectivity: not
 *             checked", a notice, is not a problem line)
 *   dirtype   an entry of d of file type 64 (crc right): the block fails
 *             its verifier, the directory is rebuilt, the entry given its
 *             inode's type; -n said its type wrong besides
 */
static void t_twins(void)
{
	static const struct {
		const char *name;
		void (*damage)(void);
	} dm[] = {
		{ "extent", d_extent },	      { "nlink0", d_nlink0 },
		{ "direntino", d_direntino }, { "bmbt", d_bmbt },
		{ "bmbtlast", d_bmbt_last },  { "dirtype", d_dirtype },
		{ "symlink", d_symlink },     { "inode", d_inode },
		{ "inobt", d_inobt },	      { "agi", d_agi },
		{ "sbcopy", d_sbcopy },
	};
	static struct twin_lines n, y;
	unsigned odd = 0;

	/* every damage's differences said before the check fails */
	for (size_t i = 0; i < sizeof(dm) / sizeof(dm[0]); i++) {
		copy_file(pristine, img);
		dm[i].damage();
		CHECK_EQ(run("-f -n"), 4);
		twin_lines(&n);
		CHECK(n.n > 0);
		CHECK_EQ(run("-f -y"), 1);
		twin_lines(&y);
		odd += twins_odd(dm[i].name, &n, &y);
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
	}
	CHECK_EQ(odd, 0);
}

static void t_busy(void)
{
	int fd;

	copy_file(pristine, img);
	fd = open(img, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(flock(fd, LOCK_EX | LOCK_NB), 0);
	/* each refusal after 100 ms of waiting, not the tools' 5 s */
	CHECK_EQ(setenv("KVFS_ERRTAGS", "image_lock_wait:value=100", 1), 0);
	CHECK_EQ(run("-f -n"), 8);
	CHECK(said("in use"));
	CHECK(!said("KVFS_ERRTAGS"));
	CHECK_EQ(run("-y"), 8);
	CHECK_EQ(unsetenv("KVFS_ERRTAGS"), 0);
	close(fd);
	CHECK_EQ(run("-f -n"), 0);
}

static void t_usage(void)
{
	copy_file(pristine, img);
	CHECK_EQ(run("-n -y"), 16);
	CHECK_EQ(run("-q"), 16);
	CHECK_EQ(run("-n extra"), 16);
	CHECK_EQ(run("-h"), 0);
	CHECK(said("Usage"));
}

int main(int argc, char **argv)
{
	/* in memory where there is some: the runs fsync a lot */
	const char *dir = getenv("TMPDIR")	    ? getenv("TMPDIR") :
			  !access("/dev/shm", W_OK) ? "/dev/shm" :
						      "/tmp";
	const char *mode;
	uint64_t h;

	if (argc != 3) {
		fprintf(stderr, "usage: test_fsck FSCK_PATH MODE\n");
		return 2;
	}
	fsck = argv[1];
	mode = argv[2];
	snprintf(pristine, sizeof(pristine), "%s/kvfsck-%d-p.img", dir,
		 (int)getpid());
	snprintf(img, sizeof(img), "%s/kvfsck-%d.img", dir, (int)getpid());
	snprintf(out, sizeof(out), "%s/kvfsck-%d.out", dir, (int)getpid());
	snprintf(err_out, sizeof(err_out), "%s/kvfsck-%d.err", dir,
		 (int)getpid());
	CHECK_EQ(kv_init(NULL), 0);
	populate();
	if (!strcmp(mode, "clean")) {
		copy_file(pristine, img);
		CHECK_EQ(run(""), 0);
		CHECK(said("clean, "));
		CHECK_EQ(run("-f -n"), 0);
		CHECK_EQ(run("-f -y"), 0);
		CHECK_EQ(run("-f -p"), 0);
		verify_files(0);
	} else if (!strcmp(mode, "sb")) {
		expect_repair(d_sb, "primary superblock damaged", "-f -y", 0);
	} else if (!strcmp(mode, "bnobt")) {
		expect_repair(d_bnobt, "free-space by-block tree of AG 0",
			      "-f -y", 0);
	} else if (!strcmp(mode, "agi")) {
		expect_repair(d_agi, "inode header of AG 0 damaged", "-f -y",
			      0);
	} else if (!strcmp(mode, "inobt")) {
		expect_repair(d_inobt, "rebuilt from a scan", "-f -y", 0);
	} else if (!strcmp(mode, "agf")) {
		expect_repair(d_agf, "free-space counters of AG 1 wrong",
			      "-f -p", 0);
	} else if (!strcmp(mode, "leak")) {
		expect_repair(d_leak, "owned by nothing", "-f -p", 0);
	} else if (!strcmp(mode, "freeused")) {
		expect_repair(d_freeused,
			      "free in the free-space tree but used", "-f -y",
			      1u << F_ONE);
	} else if (!strcmp(mode, "shared")) {
		expect_repair(d_shared, "shares block", "-f -y", 1u << F_ONE2);
		expect_zeros(F_ONE2);
	} else if (!strcmp(mode, "inode")) {
		expect_repair(d_inode, "fails its verifier", "-f -y",
			      1u << F_MID);
	} else if (!strcmp(mode, "garbage")) {
		expect_repair(d_garbage, "the bytes it does not use zeroed",
			      "-f -y", 0);
	} else if (!strcmp(mode, "symlink")) {
		expect_repair(d_symlink, "target's blocks are damaged", "-f -y",
			      1u << F_SLLONG);
	} else if (!strcmp(mode, "extent")) {
		expect_repair(d_extent, "outside the filesystem", "-f -y",
			      1u << F_SMALL);
		expect_zeros(F_SMALL);
	} else if (!strcmp(mode, "bmbt")) {
		uint8_t b[BS];
		struct kvfs_dinode *d;

		expect_repair(d_bmbt, "rebuilt from the 10 extents that verify",
			      "-f -y", 1u << F_FRAG);
		d = inode_in(files[F_FRAG].ino, b);
		CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
		CHECK_EQ(kv_le32_to_cpu(d->nextents), 10);
		CHECK_EQ(blocks_intact(F_FRAG), frag_kept);
	} else if (!strcmp(mode, "log")) {
		copy_file(pristine, img);
		d_log();
		h = hash_image();
		CHECK_EQ(run("-f -n"), 4);
		CHECK(said("-L"));
		CHECK(said("as -L would leave it"));
		CHECK(said("Phase 6 - connectivity"));
		CHECK_EQ(hash_image(), h);
		CHECK_EQ(run("-f -y"), 4);
		CHECK(said("-L"));
		CHECK_EQ(run("-f -y -L"), 1);
		CHECK(said("zeroed"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
	} else if (!strcmp(mode, "dirty")) {
		t_dirty();
	} else if (!strcmp(mode, "badrec")) {
		copy_file(pristine, img);
		d_badrec();
		h = hash_image();
		CHECK_EQ(run("-n"), 4);
		CHECK(said("log is dirty"));
		CHECK(said("as -L would leave it"));
		CHECK(said("Phase 6 - connectivity"));
		CHECK_EQ(hash_image(), h);
		CHECK_EQ(run("-y"), 4);
		CHECK(said("the log could not be replayed"));
		CHECK(holds(err_out, "corruption (log recovery): malformed "
				     "buffer delta (4 bytes)"));
		CHECK(said("-L"));
		CHECK_EQ(run("-y -L"), 1);
		CHECK(said("zeroed"));
		CHECK_EQ(run("-f -n"), 0);
		scrub_image_clean(img);
		verify_files(0);
	} else if (!strcmp(mode, "zaplog")) {
		t_zaplog();
	} else if (!strcmp(mode, "sbcount")) {
		expect_repair(d_sbcount, "superblock summary counters wrong",
			      "-f -p", 0);
	} else if (!strcmp(mode, "direntino")) {
		t_direntino();
	} else if (!strcmp(mode, "dryrun")) {
		t_dryrun();
	} else if (!strcmp(mode, "extentlist")) {
		t_extentlist();
	} else if (!strcmp(mode, "sfino")) {
		t_sfino();
	} else if (!strcmp(mode, "dryns")) {
		t_dryns();
	} else if (!strcmp(mode, "rebuildonce")) {
		t_rebuildonce();
	} else if (!strcmp(mode, "times")) {
		t_times();
	} else if (!strcmp(mode, "twins")) {
		t_twins();
	} else if (!strcmp(mode, "reportonce")) {
		t_reportonce();
	} else if (!strcmp(mode, "busy")) {
		t_busy();
	} else if (!strcmp(mode, "usage")) {
		t_usage();
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	unlink(pristine);
	unlink(img);
	unlink(out);
	unlink(err_out);
	kv_fini();
	return 0;
}
