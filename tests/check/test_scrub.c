// SPDX-License-Identifier: GPL-2.0
/*
 * The consistency checker (fs/check/scrub.h) on fresh mkfs'd images and on
 * damage made on purpose, each reported precisely:
 *   clean     fresh images of several geometries (1K/2K/4K blocks, 1 to
 *             4 AGs, a short last AG) are clean, every block owned once;
 *   damage    a free extent over a reserve-list block (owned twice), a
 *             leaked block, AGF freeblks/longest off by one, the two
 *             free-space trees disagreeing, an inobt free mask against an
 *             inode's mode, the root in no chunk, a file extent into
 *             the AG headers / past the end, a file whose nblocks is
 *             wrong (and right: clean);
 *   fuzz      [iterations] random byte flips in metadata blocks with the
 *             crcs recomputed (most of the time): the checker returns 0
 *             or -EUCLEAN, never crashes, hangs or reads out of bounds
 *             (the debug build runs it under ASan).
 * Each damage keeps every other counter consistent, so the finding
 * expected is the only one.
 *
 * Usage: test_scrub clean|damage|fuzz [iterations [seed]]
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "fs/check/scrub.h"
#include "tests/check.h"

static char path[256];
static struct kvfs_geom g;
static struct kv_dev *dev;
static struct kvfs_scrub_result res;

/* Blocks changed by the current damage, restored by undo(). */
#define MAX_UNDO 16
static struct {
	uint64_t fsb;
	uint8_t *data;
} undo_log[MAX_UNDO];
static unsigned nundo;

static void mkimage(uint32_t bs, uint32_t agcount, uint64_t size)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kvfs_mkfs_opts o = { 0 };

	snprintf(path, sizeof(path), "%s/kvscrub-%d.img", dir, (int)getpid());
	unlink(path);
	o.target = path;
	o.size = size;
	o.blocksize = bs;
	o.agcount = agcount;
	o.logsize = 4u << 20;
	if (kvfs_mkfs(&o, &g)) {
		fprintf(stderr, "mkfs: %s\n", o.err);
		exit(1);
	}
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
}

static void rmimage(void)
{
	kv_dev_close(dev);
	unlink(path);
}

static void show(void)
{
	for (unsigned i = 0; i < res.nkept; i++) {
		const struct kvfs_scrub_finding *f = &res.findings[i];

		fprintf(stderr,
			"  [%s] AG %d block %" PRId64 " inode %" PRIu64
			": %s\n",
			kvfs_scrub_kind_name(f->kind), (int)f->agno,
			(int64_t)f->blkno, f->ino, f->what);
	}
}

static int scrub(void)
{
	int err;

	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	err = kvfs_scrub_dev(dev, &g, &res);
	CHECK(err == 0 || err == -EUCLEAN);
	CHECK_EQ(err ? 1 : 0, res.nfindings ? 1 : 0);
	return err;
}

static uint8_t *rd(uint64_t fsb)
{
	uint8_t *b = malloc(g.blocksize);

	CHECK(b);
	CHECK_EQ(kv_dev_pread(dev, b, g.blocksize, kvfs_fsb_to_bytes(&g, fsb)),
		 0);
	return b;
}

/* Read block fsb for a change, saving it for undo(). */
static uint8_t *edit(uint64_t fsb)
{
	CHECK(nundo < MAX_UNDO);
	undo_log[nundo].fsb = fsb;
	undo_log[nundo].data = rd(fsb);
	nundo++;
	return rd(fsb);
}

/* Write a changed block back, crc recomputed (inode blocks: each inode). */
static void commit(uint64_t fsb, uint8_t *b, bool inodes)
{
	if (inodes)
		for (uint32_t i = 0; i < g.inopblock; i++)
			kvfs_dinode_set_crc(b + ((size_t)i << g.inodelog), &g);
	else
		kvfs_blkhdr_set_crc(b, g.blocksize);
	CHECK_EQ(kv_dev_pwrite(dev, b, g.blocksize, kvfs_fsb_to_bytes(&g, fsb)),
		 0);
	free(b);
}

static void undo(void)
{
	while (nundo) {
		nundo--;
		CHECK_EQ(kv_dev_pwrite(
				 dev, undo_log[nundo].data, g.blocksize,
				 kvfs_fsb_to_bytes(&g, undo_log[nundo].fsb)),
			 0);
		free(undo_log[nundo].data);
	}
	CHECK_EQ(scrub(), 0);
}

static void expect_clean(const char *what)
{
	if (scrub()) {
		fprintf(stderr, "%s: not clean\n", what);
		show();
		exit(1);
	}
}

/* Exactly n findings, all of kind; returns the first. */
static const struct kvfs_scrub_finding *
expect_only(const char *what, enum kvfs_scrub_kind kind, unsigned n)
{
	CHECK_EQ(scrub(), -EUCLEAN);
	printf("%s:\n", what);
	for (unsigned i = 0; i < res.nkept; i++)
		printf("  [%s] %s\n",
		       kvfs_scrub_kind_name(res.findings[i].kind),
		       res.findings[i].what);
	if (res.nfindings != n || res.nkind[kind] != n) {
		fprintf(stderr, "%s: expected %u %s findings\n", what, n,
			kvfs_scrub_kind_name(kind));
		show();
		exit(1);
	}
	return &res.findings[0];
}

static void check_stats(void)
{
	uint64_t sum = 0;

	for (unsigned k = 0; k < KVFS_OWN_NR; k++)
		sum += res.owned[k];
	CHECK_EQ(sum, g.dblocks);
	CHECK_EQ(res.owned[KVFS_OWN_LOG], g.logblocks);
	CHECK_EQ(res.owned[KVFS_OWN_SB], g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_AG_HEADER], 3 * g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_RESERVE], g.agfl_min * g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_BNOBT], g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_CNTBT], g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_INOBT], g.agcount);
	CHECK_EQ(res.owned[KVFS_OWN_INODES], g.ialloc_blocks);
	CHECK_EQ(res.owned[KVFS_OWN_FREE], g.fdblocks);
	CHECK_EQ(res.inodes, g.ialloc_inos);
	CHECK_EQ(res.inodes_used, 2);
}

static void test_clean(void)
{
	static const struct {
		uint32_t bs, agcount;
		uint64_t size;
	} cfg[] = {
		{ 1024, 2, 40u << 20 },
		{ 4096, 4, 80u << 20 },
		{ 4096, 1, 24u << 20 },
		{ 2048, 2, 48u << 20 },
		/* a last AG shorter than the others */
		{ 1024, 3, (50u << 20) + 12345 },
	};

	for (unsigned i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		mkimage(cfg[i].bs, cfg[i].agcount, cfg[i].size);
		expect_clean("fresh image");
		check_stats();
		printf("%u-byte blocks, %u AGs, %" PRIu64
		       " blocks: clean, %" PRIu64 " free, %" PRIu64 " inodes\n",
		       g.blocksize, g.agcount, g.dblocks,
		       res.owned[KVFS_OWN_FREE], res.inodes);
		rmimage();
	}
}

/* ---- damage helpers (AG 1 is one free extent [overhead, length)) ---- */

static struct kvfs_alloc_rec *rec0(uint8_t *b)
{
	return kvfs_btree_rec(b, &kvfs_bnobt_ops, 0);
}

/* Move the start of AG 1's only free extent by dstart, its end by dend. */
static void move_free(int dstart, int dend)
{
	uint64_t bno = kvfs_agb_to_fsb(&g, 1, KVFS_BNO_AGBNO);
	uint64_t cnt = kvfs_agb_to_fsb(&g, 1, KVFS_CNT_AGBNO);
	uint64_t agf = kvfs_agb_to_fsb(&g, 1, KVFS_AGF_AGBNO);
	int dlen = dend - dstart;
	uint8_t *b;

	for (int t = 0; t < 2; t++) {
		uint64_t fsb = t ? cnt : bno;

		b = edit(fsb);
		CHECK_EQ(
			kv_le16_to_cpu(((struct kvfs_btree_block *)b)->numrecs),
			1);
		rec0(b)->startblock = kv_cpu_to_le32(
			kv_le32_to_cpu(rec0(b)->startblock) + dstart);
		rec0(b)->blockcount = kv_cpu_to_le32(
			kv_le32_to_cpu(rec0(b)->blockcount) + dlen);
		commit(fsb, b, false);
	}
	b = edit(agf);
	{
		struct kvfs_agf *h = (void *)b;

		h->freeblks =
			kv_cpu_to_le32(kv_le32_to_cpu(h->freeblks) + dlen);
		h->longest = kv_cpu_to_le32(kv_le32_to_cpu(h->longest) + dlen);
	}
	commit(agf, b, false);
	g.fdblocks += dlen;
	b = edit(0);
	kvfs_sb_to_disk(&g, 0, b);
	commit(0, b, false);
}

/* Change the primary superblock's inode counters. */
static void sb_ifree(int d)
{
	uint8_t *b = edit(0);

	g.ifree += d;
	kvfs_sb_to_disk(&g, 0, b);
	commit(0, b, false);
}

/* Mark inode rootino + i in use (d -1) or free (d +1) in inobt and AGI. */
static void inobt_mark(unsigned i, int d)
{
	uint64_t ino = kvfs_agb_to_fsb(&g, 0, KVFS_INO_AGBNO);
	uint64_t agi = kvfs_agb_to_fsb(&g, 0, KVFS_AGI_AGBNO);
	uint8_t *b = edit(ino);
	struct kvfs_inobt_rec *r = kvfs_btree_rec(b, &kvfs_inobt_ops, 0);
	struct kvfs_agi *h;

	CHECK_EQ(kvfs_ino_to_agino(&g, g.rootino), kv_le32_to_cpu(r->startino));
	r->freemask = kv_cpu_to_le64(kv_le64_to_cpu(r->freemask) ^ 1ULL << i);
	r->freecount = (uint8_t)(r->freecount + d);
	commit(ino, b, false);
	b = edit(agi);
	h = (void *)b;
	h->ifree = kv_cpu_to_le32(kv_le32_to_cpu(h->ifree) + d);
	commit(agi, b, false);
	sb_ifree(d);
}

/* An entry "f<ino>" in the root for regular file ino (the namespace check). */
static void name_in_root(uint64_t ino)
{
	uint64_t fsb = kvfs_ino_to_fsb(&g, g.rootino);
	uint8_t *b = edit(fsb);
	char name[32];

	snprintf(name, sizeof(name), "f%" PRIu64, ino);
	CHECK_EQ(kvfs_dir_sf_add(b + kvfs_ino_to_offset(&g, g.rootino), &g,
				 name, ino, KVFS_FT_REG),
		 0);
	commit(fsb, b, true);
}

/* Inode rootino + i becomes a regular file mapping ext (nblocks nb). */
static uint64_t make_file(unsigned i, uint64_t startblock, uint32_t len,
			  uint64_t nb)
{
	uint64_t ino = g.rootino + i;
	uint64_t fsb = kvfs_ino_to_fsb(&g, ino);
	uint8_t *b = edit(fsb);
	uint8_t *dip = b + kvfs_ino_to_offset(&g, ino);
	struct kvfs_dinode *d = (void *)dip;
	struct kvfs_extent *x = (void *)kvfs_dinode_dfork(dip);

	kvfs_dinode_init(dip, &g, ino, S_IFREG | 0644, 1, 0, 0, 1, 0, 1);
	d->nextents = kv_cpu_to_le32(1);
	d->size = kv_cpu_to_le64((uint64_t)len * g.blocksize);
	d->nblocks = kv_cpu_to_le64(nb);
	x->startoff = kv_cpu_to_le64(0);
	x->startblock = kv_cpu_to_le64(startblock);
	x->blockcount = kv_cpu_to_le32(len);
	commit(fsb, b, true);
	name_in_root(ino);
	inobt_mark(i, -1);
	return ino;
}

static void test_damage(void)
{
	const struct kvfs_scrub_finding *f;
	uint32_t ov = kvfs_geom_ag_overhead(&g);
	uint32_t len1 = kvfs_ag_length(&g, 1);
	uint64_t agf1 = kvfs_agb_to_fsb(&g, 1, KVFS_AGF_AGBNO);
	uint64_t ino;
	uint8_t *b;

	expect_clean("fresh image");

	/* the free extent takes in the last reserve-list block */
	move_free(-1, 0);
	f = expect_only("free extent over a reserve-list block",
			KVFS_SCRUB_MULTIPLY_OWNED, 1);
	CHECK_EQ(f->blkno, kvfs_agb_to_fsb(&g, 1, ov - 1));
	CHECK_EQ(f->count, 1);
	CHECK(strstr(f->what, "reserve list of AG 1"));
	CHECK(strstr(f->what, "free space of AG 1"));
	undo();

	/* further down: over the inode-chunk tree's root too */
	move_free(-(int)g.agfl_min - 1, 0);
	f = expect_only("free extent over the inode-chunk root",
			KVFS_SCRUB_MULTIPLY_OWNED, g.agfl_min + 1);
	CHECK_EQ(f->blkno, kvfs_agb_to_fsb(&g, 1, KVFS_INO_AGBNO));
	CHECK(strstr(f->what, "free space of AG 1 and by the inode-chunk tree "
			      "of AG 1"));
	undo();

	/* a block neither free nor used */
	move_free(1, 0);
	f = expect_only("leaked block", KVFS_SCRUB_LEAKED, 1);
	CHECK_EQ(f->blkno, kvfs_agb_to_fsb(&g, 1, ov));
	CHECK_EQ(f->count, 1);
	CHECK_EQ(f->agno, 1);
	undo();

	/* a block leaked at each end of the free extent: two runs, in order */
	move_free(1, -1);
	expect_only("leaked blocks at both ends", KVFS_SCRUB_LEAKED, 2);
	CHECK_EQ(res.findings[0].blkno, kvfs_agb_to_fsb(&g, 1, ov));
	CHECK_EQ(res.findings[0].count, 1);
	CHECK_EQ(res.findings[1].blkno, kvfs_agb_to_fsb(&g, 1, len1 - 1));
	CHECK_EQ(res.findings[1].count, 1);
	undo();

	/* AGF counters off by one */
	for (int t = 0; t < 2; t++) {
		struct kvfs_agf *h;

		b = edit(agf1);
		h = (void *)b;
		if (t)
			h->longest =
				kv_cpu_to_le32(kv_le32_to_cpu(h->longest) - 1);
		else
			h->freeblks =
				kv_cpu_to_le32(kv_le32_to_cpu(h->freeblks) + 1);
		commit(agf1, b, false);
		f = expect_only(t ? "AGF longest - 1" : "AGF freeblks + 1",
				KVFS_SCRUB_FREE_COUNTERS, 1);
		CHECK_EQ(f->blkno, agf1);
		CHECK_EQ(f->agno, 1);
		undo();
	}

	/* the by-size tree's record one block shorter */
	b = edit(kvfs_agb_to_fsb(&g, 1, KVFS_CNT_AGBNO));
	rec0(b)->blockcount =
		kv_cpu_to_le32(kv_le32_to_cpu(rec0(b)->blockcount) - 1);
	commit(kvfs_agb_to_fsb(&g, 1, KVFS_CNT_AGBNO), b, false);
	f = expect_only("free-space trees disagree", KVFS_SCRUB_FREE_TREES, 2);
	CHECK(strstr(res.findings[0].what, "not in the by-size tree"));
	CHECK(strstr(res.findings[1].what, "not in the by-block tree"));
	undo();

	/* inode rootino + 5 free, the mask says in use */
	inobt_mark(5, -1);
	f = expect_only("free mask against mode", KVFS_SCRUB_INODE_MASK, 1);
	CHECK_EQ(f->ino, g.rootino + 5);
	CHECK(strstr(f->what, "is free but the free mask says in use"));
	undo();

	/*
	 * AG 0's chunk record gone, its inode header's counts to match: the
	 * root in no chunk, and the namespace walk, which starts there, found
	 * nothing to say (the chunk's blocks leaked, the summary counters)
	 */
	b = edit(kvfs_agb_to_fsb(&g, 0, KVFS_INO_AGBNO));
	((struct kvfs_btree_block *)b)->numrecs = kv_cpu_to_le16(0);
	commit(kvfs_agb_to_fsb(&g, 0, KVFS_INO_AGBNO), b, false);
	b = edit(kvfs_agb_to_fsb(&g, 0, KVFS_AGI_AGBNO));
	((struct kvfs_agi *)b)->icount = kv_cpu_to_le32(0);
	((struct kvfs_agi *)b)->ifree = kv_cpu_to_le32(0);
	commit(kvfs_agb_to_fsb(&g, 0, KVFS_AGI_AGBNO), b, false);
	CHECK_EQ(scrub(), -EUCLEAN);
	show();
	CHECK_EQ(res.nkind[KVFS_SCRUB_INODE], 1);
	for (unsigned i = 0; i < res.nkept; i++)
		if (res.findings[i].kind == KVFS_SCRUB_INODE)
			f = &res.findings[i];
	CHECK_EQ(f->ino, g.rootino);
	CHECK(strstr(f->what, "root directory inode") &&
	      strstr(f->what, "is not in use in any inode chunk"));
	undo();

	/* a file with the last 4 blocks of AG 1: clean, then nblocks wrong */
	move_free(0, -4);
	ino = make_file(2, kvfs_agb_to_fsb(&g, 1, len1 - 4), 4, 4);
	expect_clean("a file of 4 blocks");
	CHECK_EQ(res.owned[KVFS_OWN_DATA], 4);
	CHECK_EQ(res.inodes_used, 3);
	undo();
	move_free(0, -4);
	ino = make_file(2, kvfs_agb_to_fsb(&g, 1, len1 - 4), 4, 5);
	f = expect_only("nblocks wrong", KVFS_SCRUB_NBLOCKS, 1);
	CHECK_EQ(f->ino, ino);
	CHECK(strstr(f->what, "says 5 blocks, its forks map 4"));
	undo();

	/* extents into the AG headers and past the end of the filesystem */
	for (int t = 0; t < 2; t++) {
		ino = make_file(3,
				t ? g.dblocks - 2 :
				    kvfs_agb_to_fsb(&g, 1, KVFS_AGI_AGBNO),
				t ? 5 : 1, t ? 5 : 1);
		CHECK_EQ(scrub(), -EUCLEAN);
		show();
		/* the inode verifier and the extent walk both say so */
		CHECK_EQ(res.nkind[KVFS_SCRUB_EXTENT], 1);
		CHECK_EQ(res.nkind[KVFS_SCRUB_INODE], 1);
		CHECK_EQ(res.nfindings, 2);
		for (unsigned i = 0; i < res.nkept; i++)
			CHECK_EQ(res.findings[i].ino, ino);
		f = res.findings[0].kind == KVFS_SCRUB_EXTENT ?
			    &res.findings[0] :
			    &res.findings[1];
		CHECK(strstr(f->what,
			     t ? "runs past the end of the filesystem" :
				 "covers the AG headers"));
		undo();
	}
}

/* ---- fuzz ---- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_fuzz(unsigned iters)
{
	uint64_t targets[64];
	unsigned nt = 0, found = 0;

	for (uint32_t agno = 0; agno < g.agcount; agno++)
		for (uint32_t b = 0; b < KVFS_AG_MKFS_BLOCKS; b++)
			targets[nt++] = kvfs_agb_to_fsb(&g, agno, b);
	for (uint32_t b = 0; b < g.ialloc_blocks && b < 8; b++)
		targets[nt++] = kvfs_ino_to_fsb(&g, g.rootino) + b;
	expect_clean("fresh image");
	for (unsigned it = 0; it < iters; it++) {
		uint64_t fsb = targets[rnd() % nt];
		bool inodes =
			fsb >= kvfs_ino_to_fsb(&g, g.rootino) &&
			fsb < kvfs_ino_to_fsb(&g, g.rootino) + g.ialloc_blocks;
		unsigned flips = 1 + rnd() % 16;
		uint8_t *b = edit(fsb);
		int err;

		for (unsigned i = 0; i < flips; i++)
			b[rnd() % g.blocksize] ^= (uint8_t)(1 + rnd() % 255);
		if (rnd() % 8) {
			commit(fsb, b, inodes);
		} else {
			CHECK_EQ(kv_dev_pwrite(dev, b, g.blocksize,
					       kvfs_fsb_to_bytes(&g, fsb)),
				 0);
			free(b);
		}
		/* the primary superblock is the geometry: its copy only */
		if (fsb == 0) {
			undo();
			continue;
		}
		err = kvfs_scrub_dev(dev, &g, &res);
		CHECK(err == 0 || err == -EUCLEAN);
		CHECK(res.nkept <= KVFS_SCRUB_MAX_FINDINGS);
		CHECK(res.nkept == res.nfindings ||
		      res.nkept == KVFS_SCRUB_MAX_FINDINGS);
		found += err != 0;
		undo();
	}
	printf("fuzz: %u iterations, %u with findings\n", iters, found);
	/* byte flips in headers and roots are nearly always found */
	CHECK(found > iters / 2);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";

	CHECK_EQ(kv_init(NULL), 0);
	if (!strcmp(mode, "clean")) {
		test_clean();
	} else if (!strcmp(mode, "damage")) {
		mkimage(1024, 2, 40u << 20);
		test_damage();
		rmimage();
	} else if (!strcmp(mode, "fuzz")) {
		if (argc > 3)
			rng = strtoull(argv[3], NULL, 0) | 1;
		mkimage(1024, 2, 40u << 20);
		test_fuzz(argc > 2 ? (unsigned)atoi(argv[2]) : 300);
		rmimage();
		mkimage(4096, 3, 60u << 20);
		test_fuzz(argc > 2 ? (unsigned)atoi(argv[2]) : 300);
		rmimage();
	} else {
		fprintf(stderr, "usage: test_scrub clean|damage|fuzz [n]\n");
		return 2;
	}
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
