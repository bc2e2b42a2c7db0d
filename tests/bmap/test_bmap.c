// SPDX-License-Identifier: GPL-2.0
/*
 * Extent maps (fs/data/bmap.h) on a mounted image, one regular file:
 *   model:   random write / prealloc / convert / punch sequences in windows
 *            at 0, 16 TiB and the largest offset, against a model of every
 *            block's state (hole, unwritten, written -> physical block):
 *            the map, the invariants (kvfs_bmap_check) and the free count
 *            (blocks taken from free space = blocks mapped) after each,
 *            and the lock-free read's map the locked one's (refused for
 *            a tree, and while the inode lock is held exclusively);
 *   sparse:  EFBIG past the largest offset, seek data/hole;
 *            (the windows hold more extents than the fork: the files
 *            cross into the extent B+tree and back);
 *   align:   a large data extent at a MiB of the file starts on a MiB of
 *            the device, in the next AG too when the file filled its AG;
 *   boundary: a file crossing the in-inode -> B+tree boundary and back,
 *            the format, i_nblocks (tree blocks included) exact at each
 *            step, every block returned after a full unmap, scrub clean;
 *   split_refused: a punch whose split finds no block after all (tag
 *            map_tree_nospc) refuses with ENOSPC, nothing changed; one
 *            that changed the tree first shuts the filesystem down;
 *   convert_refused: the same for a conversion of the middle of an
 *            unwritten extent in a full leaf: refused before any change
 *            when no AG holds the split's blocks; its split finding none
 *            after the record was cut shuts the filesystem down, the
 *            forced map recovered;
 *   deep:    1 KiB blocks: one-block extents inserted in random order
 *            until the tree is 4 levels high (root in the inode), then
 *            deleted in random order back to an extent list, against a
 *            model, the map and the tree walked after every batch, every
 *            block returned, scrub clean;
 *   crash:   a forced change, an unforced one, power cut: after recovery
 *            the map is the forced or the later state, checked, and the
 *            free count agrees with it; and a power cut while a tree
 *            grows (forced, then unforced, levels added) recovers a
 *            consistent tree holding every forced extent (scrub clean).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/bmap.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

static char path[256];

static void make_fs_bs(uint64_t size, uint32_t blocksize)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = size,
				    .blocksize = blocksize,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static void make_fs(void)
{
	make_fs_bs(64 << 20, 0);
}

static struct kvfs_mount *mount_fs(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = true };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

/* A new empty regular file, referenced and unlocked. */
static struct kvfs_inode *new_file(struct kvfs_mount *mp)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, mp->g.rootino, &a, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return ip;
}

static void check_map(struct kvfs_inode *ip)
{
	char why[256];
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = kvfs_bmap_check(ip, why, sizeof(why));
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	if (err) {
		fprintf(stderr, "inode %llu: %s\n",
			(unsigned long long)ip->i_ino, why);
		exit(1);
	}
}

/* kvfs_bmapi_write() in a transaction of its own; *covered: blocks done. */
static int bwrite(struct kvfs_mount *mp, struct kvfs_inode *ip, uint64_t off,
		  uint64_t len, unsigned flags, struct kvfs_bmap *map,
		  int *nmap)
{
	struct kvfs_trans *tp;
	int err;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, len < 64 ? len : 64,
				      &tp),
		 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	err = kvfs_bmapi_write(tp, ip, off, len, flags, map, nmap);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return err;
}

/* kvfs_bunmapi() in one transaction; returns its error, *rem as it says. */
static int bunmap(struct kvfs_mount *mp, struct kvfs_inode *ip, uint64_t off,
		  uint64_t len, unsigned max, uint64_t *rem)
{
	struct kvfs_trans *tp;
	int err;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.itruncate, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	err = kvfs_bunmapi(tp, ip, off, len, max, rem);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return err;
}

/* Unmap [off, off + len) whole, call after call (one tree change each). */
static void unmap_all(struct kvfs_mount *mp, struct kvfs_inode *ip,
		      uint64_t off, uint64_t len)
{
	uint64_t rem = len, prev;

	do {
		prev = rem;
		CHECK_EQ(bunmap(mp, ip, off, prev, 1000, &rem), 0);
		CHECK(rem < prev);
	} while (rem);
}

/* Height of ip's map: 0 for an extent list, else the tree's. */
static unsigned height(struct kvfs_inode *ip)
{
	const struct kvfs_bmdr_block *rb = (const void *)ip->i_dfork;

	if (ip->i_dformat != KVFS_DFORK_BTREE)
		return 0;
	return kv_le16_to_cpu(rb->level) + 1u;
}

static int bread(struct kvfs_inode *ip, uint64_t off, uint64_t len,
		 struct kvfs_bmap *map, int *nmap)
{
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = kvfs_bmapi_read(ip, off, len, map, nmap);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return err;
}

/* outcomes over all model runs: each must have happened */
static struct {
	unsigned btree; /* steps that left a B+tree fork */
	unsigned partial; /* a write that covered less than its range */
	unsigned converted; /* unwritten blocks made written */
	unsigned split_punch; /* punches that split an extent */
	unsigned max_extents; /* most extents a file had */
	unsigned lastext; /* lock-free reads of a tree's last extent */
} seen;

#define WIN 128

/*
 * kvfs_bmapi_read_nolock() gives the locked read's map for a list, and
 * for a tree the extent the last locked read found (the end of the
 * window); with the inode lock held exclusively (a writer at work) it
 * never answers, a hold between the start and the end of a lock-free read
 * makes the read retry, and a hold after the locked read makes the tree's
 * last extent unusable.
 */
static void nolock_same(struct kvfs_inode *ip, uint64_t off, uint64_t len,
			const struct kvfs_bmap *map, int nmap)
{
	const struct kvfs_bmap *last = &map[nmap - 1];
	struct kvfs_bmap nl[WIN + 1];
	int n = WIN + 1, err = kvfs_bmapi_read_nolock(ip, off, len, nl, &n);
	uint64_t seq;

	if (ip->i_dformat == KVFS_DFORK_BTREE) {
		/* a tree: only what the last locked read found */
		CHECK(err == -EAGAIN ||
		      (!err && n == 1 && nl[0].startoff == off &&
		       nl[0].startblock == map[0].startblock &&
		       nl[0].blockcount <= map[0].blockcount &&
		       nl[0].flags == map[0].flags));
		n = 1;
		err = kvfs_bmapi_read_nolock(ip, last->startoff,
					     last->blockcount, nl, &n);
		if (last->startblock == KVFS_NULLBLOCK) {
			CHECK_EQ(err, -EAGAIN);
		} else {
			CHECK_EQ(err, 0);
			CHECK_EQ(n, 1);
			CHECK_EQ(nl[0].startoff, last->startoff);
			CHECK_EQ(nl[0].startblock, last->startblock);
			CHECK_EQ(nl[0].blockcount, last->blockcount);
			CHECK_EQ(nl[0].flags, last->flags);
			seen.lastext++;
		}
	} else {
		CHECK_EQ(err, 0);
		CHECK_EQ(n, nmap);
		for (int k = 0; k < n; k++) {
			CHECK_EQ(nl[k].startoff, map[k].startoff);
			CHECK_EQ(nl[k].startblock, map[k].startblock);
			CHECK_EQ(nl[k].blockcount, map[k].blockcount);
			CHECK_EQ(nl[k].flags, map[k].flags);
		}
	}
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	n = WIN + 1;
	CHECK_EQ(kvfs_bmapi_read_nolock(ip, off, len, nl, &n), -EAGAIN);
	CHECK_EQ(n, WIN + 1);
	kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	seq = kvfs_ilock_seq_begin(ip);
	CHECK(!kvfs_ilock_seq_retry(ip, seq));
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	CHECK(kvfs_ilock_seq_retry(ip, seq));
	/* and what the last locked read of a tree found is forgotten */
	n = 1;
	CHECK_EQ(kvfs_bmapi_read_nolock(ip, last->startoff, last->blockcount,
					nl, &n),
		 ip->i_dformat == KVFS_DFORK_BTREE ? -EAGAIN : 0);
}

/* ---- the model ---- */

enum { HOLE, UNWR, DATA };

struct blk {
	int state;
	uint64_t fsb;
};

struct model {
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint64_t base; /* file block of window block 0 */
	struct blk b[WIN];
	int64_t fd0; /* free blocks before the file had any */
};

/* The map of the window is the model's, block by block. */
static void compare(struct model *m)
{
	struct kvfs_bmap map[WIN + 1];
	int nmap = WIN + 1;
	uint64_t w = 0;

	CHECK_EQ(bread(m->ip, m->base, WIN, map, &nmap), 0);
	for (int k = 0; k < nmap; k++) {
		CHECK_EQ(map[k].startoff, m->base + w);
		CHECK(map[k].blockcount > 0);
		for (uint64_t j = 0; j < map[k].blockcount; j++, w++) {
			const struct blk *b = &m->b[w];
			int st = map[k].startblock == KVFS_NULLBLOCK ? HOLE :
				 map[k].flags & KVFS_BMAP_UNWRITTEN  ? UNWR :
								       DATA;

			if (st != b->state) {
				fprintf(stderr,
					"block %llu: state %d, model %d\n",
					(unsigned long long)(m->base + w), st,
					b->state);
				exit(1);
			}
			if (st != HOLE)
				CHECK_EQ(map[k].startblock + j, b->fsb);
		}
	}
	CHECK_EQ(w, WIN);
	nolock_same(m->ip, m->base, WIN, map, nmap);
	check_map(m->ip);
	/* BTREE exactly when the extents do not fit the fork */
	CHECK_EQ(m->ip->i_dformat == KVFS_DFORK_BTREE,
		 m->ip->i_nextents > kvfs_inode_dfork_size(m->ip) /
					     sizeof(struct kvfs_extent));
	seen.btree += m->ip->i_dformat == KVFS_DFORK_BTREE;
	/* blocks taken from free space are exactly the blocks mapped */
	CHECK_EQ(m->fd0 - atomic_load(&m->mp->fdblocks),
		 (int64_t)m->ip->i_nblocks);
}

/* Every mapped block of the model is a different physical block. */
static void unique(const struct model *m)
{
	for (int i = 0; i < WIN; i++)
		for (int j = i + 1; j < WIN && m->b[i].state != HOLE; j++)
			CHECK(m->b[j].state == HOLE ||
			      m->b[j].fsb != m->b[i].fsb);
}

static void model_write(struct model *m, uint64_t w, uint64_t len,
			unsigned flags)
{
	struct kvfs_bmap map[4];
	int nmap = 1 + rand() % 4, err;
	uint64_t x = w;
	uint32_t nx = m->ip->i_nextents;

	err = bwrite(m->mp, m->ip, m->base + w, len, flags, map, &nmap);
	CHECK_EQ(err, 0);
	(void)nx;
	CHECK(nmap >= 1);
	for (int k = 0; k < nmap; k++) {
		CHECK_EQ(map[k].startoff, m->base + x);
		CHECK(map[k].startblock != KVFS_NULLBLOCK);
		for (uint64_t j = 0; j < map[k].blockcount; j++, x++) {
			struct blk *b = &m->b[x];
			uint64_t fsb = map[k].startblock + j;
			int st = map[k].flags & KVFS_BMAP_UNWRITTEN ? UNWR :
								      DATA;

			CHECK(x < w + len);
			if (b->state == HOLE) {
				CHECK_EQ(st, flags & KVFS_BMAPI_PREALLOC ?
						     UNWR :
						     DATA);
			} else {
				CHECK_EQ(fsb, b->fsb);
				seen.converted +=
					b->state == UNWR && st == DATA;
				CHECK_EQ(st,
					 b->state == UNWR &&
							 !(flags &
							   KVFS_BMAPI_CONVERT) ?
						 UNWR :
						 DATA);
			}
			b->state = st;
			b->fsb = fsb;
		}
	}
	seen.partial += x < w + len;
	if (m->ip->i_nextents > seen.max_extents)
		seen.max_extents = m->ip->i_nextents;
	compare(m);
	unique(m);
}

static void model_punch(struct model *m, uint64_t w, uint64_t len)
{
	uint64_t rem = len, prev;
	int err;

	do {
		uint32_t nx = m->ip->i_nextents;

		prev = rem;
		err = bunmap(m->mp, m->ip, m->base + w, prev, 1 + rand() % 3,
			     &rem);
		CHECK(rem <= prev);
		for (uint64_t x = w + rem; x < w + prev; x++)
			m->b[x].state = HOLE;
		compare(m);
		CHECK_EQ(err, 0);
		CHECK(rem < prev);
		seen.split_punch += m->ip->i_nextents > nx;
	} while (rem);
}

static void model_run(struct kvfs_mount *mp, uint64_t base, int steps)
{
	struct model m = { .mp = mp, .base = base };
	uint32_t cap;

	m.ip = new_file(mp);
	m.fd0 = atomic_load(&mp->fdblocks);
	cap = kvfs_inode_dfork_size(m.ip) / sizeof(struct kvfs_extent);
	compare(&m);
	for (int s = 0; s < steps; s++) {
		/* one rand() per statement: the same sequence in every build */
		uint64_t w = (uint64_t)rand() % WIN;
		uint64_t lmax = rand() % 4 ? 8 : 48;
		uint64_t len = 1 + (uint64_t)rand() % lmax;

		int op = rand() % 6;

		/* a nearly full fork: often punch a large range */
		if (m.ip->i_nextents + 2 >= cap && rand() % 2) {
			op = 5;
			len = 16 + (uint64_t)rand() % 64;
		}
		if (len > WIN - w)
			len = WIN - w;
		switch (op) {
		case 0:
		case 1:
			model_write(&m, w, len, 0);
			break;
		case 2:
			model_write(&m, w, len, KVFS_BMAPI_PREALLOC);
			break;
		case 3:
		case 4:
			model_write(&m, w, len, KVFS_BMAPI_CONVERT);
			break;
		default:
			model_punch(&m, w, len);
			break;
		}
	}
	/* truncate everything: the free count is back where it was */
	unmap_all(mp, m.ip, base, WIN);
	memset(m.b, 0, sizeof(m.b));
	compare(&m);
	CHECK_EQ(m.ip->i_nextents, 0);
	CHECK_EQ(atomic_load(&mp->fdblocks), m.fd0);
	kvfs_iput(m.ip);
}

/* ---- alignment of large data extents ---- */

/* kvfs_bmapi_write() of [off, off + len) in one transaction holding len. */
static void bwrite_big(struct kvfs_mount *mp, struct kvfs_inode *ip,
		       uint64_t off, uint64_t len, struct kvfs_bmap *m)
{
	struct kvfs_trans *tp;
	int n = 1;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, len, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_bmapi_write(tp, ip, off, len, 0, m, &n), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
}

/*
 * A new data extent of a MiB or more at a file offset on a MiB starts on a
 * MiB of the device, when the free space nearest its goal does not (one
 * block of another file taken there first): the host's page cache then
 * holds the file's aligned I/O in whole large folios.  The aligned search
 * asks for a MiB at least (kvfs_alloc_file_extent()): the aligned piece
 * nearest the goal may hold only that, and the rest of the write goes on
 * in another extent.
 */
static void test_align(struct kvfs_mount *mp)
{
	uint32_t a = (1u << 20) >> mp->g.blocklog;
	struct kvfs_inode *x = new_file(mp), *y = new_file(mp);
	struct kvfs_bmap m;

	for (int i = 0; i < 2; i++) {
		/* the next free block is not on a MiB */
		bwrite_big(mp, x, (uint64_t)i, 1, &m);
		if ((m.startblock + 1) % a == 0)
			bwrite_big(mp, x, (uint64_t)i + 2, 1, &m);
		bwrite_big(mp, y, (uint64_t)i * 2 * a, 2 * a, &m);
		CHECK_EQ(m.startoff, (uint64_t)i * 2 * a);
		CHECK_EQ(m.startblock % a, 0);
		CHECK(m.blockcount >= a);
		check_map(y);
	}
	unmap_all(mp, x, 0, 4);
	unmap_all(mp, y, 0, 4 * a);
	kvfs_iput(x);
	kvfs_iput(y);
	printf("align: 2 extents of at least %u blocks on a MiB\n", a);
}

/*
 * A file whose extent ends its AG goes on in the next AG on a MiB of the
 * device, not at that AG's first free block just past its headers: the
 * aligned search goes on past the goal's AG (kvfs_alloc_file_extent()).
 * Another file takes what else the AG holds first.
 */
static void test_align_next_ag(struct kvfs_mount *mp)
{
	const struct kvfs_geom *g = &mp->g;
	uint32_t a = (1u << 20) >> g->blocklog, ag;
	struct kvfs_inode *x = new_file(mp), *y = new_file(mp);
	uint64_t s, agend, fill, xoff = 0;
	struct kvfs_bmap m;

	bwrite_big(mp, y, 0, a, &m);
	s = m.startblock;
	ag = kvfs_fsb_to_agno(g, s);
	CHECK(ag + 1 < g->agcount);
	agend = kvfs_agb_to_fsb(g, ag + 1, 0);
	fill = agend - (s + a);
	CHECK(fill > 0 && fill % a == 0);
	/* the rest of the AG after the first MiB, in as many writes as it takes */
	for (uint64_t off = a; off < a + fill; off += m.blockcount) {
		bwrite_big(mp, y, off, a + fill - off, &m);
		CHECK_EQ(m.startoff, off);
		CHECK_EQ(m.startblock, s + off);
	}
	/* x takes every other block AG ag can give a file */
	for (int i = 0; i < 1000; i++) {
		uint32_t len =
			__atomic_load_n(&mp->pag[ag].longest, __ATOMIC_RELAXED);

		if (!len)
			break;
		bwrite_big(mp, x, xoff, len, &m);
		xoff += m.blockcount;
		if (kvfs_fsb_to_agno(g, m.startblock) != ag)
			break;
	}
	CHECK(mp->pag[ag].longest < a);
	bwrite_big(mp, y, a + fill, 2 * a, &m);
	CHECK_EQ(m.startoff, a + fill);
	CHECK_EQ(kvfs_fsb_to_agno(g, m.startblock), ag + 1);
	CHECK_EQ(m.startblock % a, 0);
	CHECK(m.blockcount >= a);
	check_map(y);
	unmap_all(mp, y, 0, 3 * a + fill);
	unmap_all(mp, x, 0, xoff);
	kvfs_iput(x);
	kvfs_iput(y);
	printf("align: past the end of AG %u, the next extent at AG %u "
	       "block %llu\n",
	       ag, ag + 1,
	       (unsigned long long)kvfs_fsb_to_agbno(g, m.startblock));
}

/* ---- sparse offsets and EFBIG ---- */

static void test_sparse(struct kvfs_mount *mp)
{
	uint64_t max = kvfs_max_fileoff_blocks(&mp->g);
	uint64_t tib16 = (16ull << 40) >> mp->g.blocklog, res, rem;
	struct kvfs_inode *ip = new_file(mp);
	struct kvfs_bmap map[4];
	int nmap;

	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, max - 1, 2, 0, map, &nmap), -EFBIG);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, max, 1, 0, map, &nmap), -EFBIG);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 5, UINT64_MAX - 2, 0, map, &nmap), -EFBIG);
	CHECK_EQ(ip->i_nextents, 0);

	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, tib16, 3, 0, map, &nmap), 0);
	CHECK_EQ(nmap, 1);
	CHECK_EQ(map[0].startoff, tib16);
	CHECK_EQ(map[0].blockcount, 3);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, max - 2, 2, KVFS_BMAPI_PREALLOC, map, &nmap),
		 0);
	CHECK_EQ(nmap, 1);
	CHECK_EQ(map[0].flags, KVFS_BMAP_UNWRITTEN);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, max - 1, 1, KVFS_BMAPI_CONVERT, map, &nmap), 0);
	CHECK_EQ(ip->i_nextents, 3);
	CHECK_EQ(ip->i_nblocks, 5);
	check_map(ip);

	/* read: hole, 3 written, hole up to the unwritten block, written */
	nmap = 4;
	CHECK_EQ(bread(ip, 0, max, map, &nmap), 0);
	CHECK_EQ(nmap, 4);
	CHECK_EQ(map[0].startblock, KVFS_NULLBLOCK);
	CHECK_EQ(map[0].blockcount, tib16);
	CHECK_EQ(map[1].blockcount, 3);
	CHECK_EQ(map[2].startblock, KVFS_NULLBLOCK);
	CHECK_EQ(map[2].blockcount, max - 2 - tib16 - 3);
	CHECK_EQ(map[3].flags, KVFS_BMAP_UNWRITTEN);
	nmap = 1;
	CHECK_EQ(bread(ip, max - 1, 1, map, &nmap), 0);
	CHECK_EQ(map[0].flags, 0);
	CHECK_EQ(bread(ip, max, 1, map, &nmap), -EFBIG);

	/* seek: unwritten is a hole */
	CHECK_EQ(kvfs_bmap_seek_data(ip, 0, &res), 0);
	CHECK_EQ(res, tib16);
	CHECK_EQ(kvfs_bmap_seek_data(ip, tib16 + 2, &res), 0);
	CHECK_EQ(res, tib16 + 2);
	CHECK_EQ(kvfs_bmap_seek_data(ip, tib16 + 3, &res), 0);
	CHECK_EQ(res, max - 1);
	CHECK_EQ(kvfs_bmap_seek_data(ip, max, &res), -ENXIO);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, 0, &res), 0);
	CHECK_EQ(res, 0);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, tib16 + 1, &res), 0);
	CHECK_EQ(res, tib16 + 3);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, max - 2, &res), 0);
	CHECK_EQ(res, max - 2);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, max - 1, &res), 0);
	CHECK_EQ(res, max);

	/* punch the middle of the 16 TiB extent, then everything */
	CHECK_EQ(bunmap(mp, ip, tib16 + 1, 1, 8, &rem), 0);
	CHECK_EQ(rem, 0);
	CHECK_EQ(ip->i_nextents, 4);
	CHECK_EQ(ip->i_nblocks, 4);
	check_map(ip);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, tib16, &res), 0);
	CHECK_EQ(res, tib16 + 1);
	CHECK_EQ(bunmap(mp, ip, 0, max, 2, &rem), 0);
	CHECK_EQ(rem, tib16 + 3); /* two extents from the end, then stopped */
	CHECK_EQ(bunmap(mp, ip, 0, max, 2, &rem), 0);
	CHECK_EQ(rem, 0);
	CHECK_EQ(ip->i_nextents, 0);
	CHECK_EQ(ip->i_nblocks, 0);
	CHECK_EQ(kvfs_bmap_seek_data(ip, 0, &res), -ENXIO);
	check_map(ip);
	kvfs_iput(ip);
}

/* ---- the in-inode -> B+tree boundary ---- */

static void test_boundary(struct kvfs_mount *mp)
{
	struct kvfs_inode *ip = new_file(mp);
	uint32_t cap = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	int64_t fd0 = atomic_load(&mp->fdblocks);
	struct kvfs_bmap map[4];
	uint64_t rem, n;
	int nmap;

	/* one block at every other offset: cap extents fit the fork */
	for (uint32_t i = 0; i < cap; i++) {
		nmap = 4;
		CHECK_EQ(bwrite(mp, ip, 2 * i, 1, 0, map, &nmap), 0);
	}
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, cap);
	CHECK_EQ(ip->i_nblocks, cap);
	/* one more: a leaf under a root in the fork, counted in nblocks */
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 2 * cap, 1, 0, map, &nmap), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK_EQ(height(ip), 2);
	CHECK_EQ(ip->i_nextents, cap + 1);
	CHECK_EQ(ip->i_nblocks, cap + 1 + 1);
	CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)ip->i_nblocks);
	check_map(ip);
	/* a punch inside an unwritten extent of the tree: 3 records */
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 1000, 5, KVFS_BMAPI_PREALLOC, map, &nmap), 0);
	CHECK_EQ(bunmap(mp, ip, 1002, 1, 4, &rem), 0);
	CHECK_EQ(rem, 0);
	CHECK_EQ(ip->i_nextents, cap + 3);
	/* converting the middle of one: both sides stay unwritten */
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 1000, 1, KVFS_BMAPI_CONVERT, map, &nmap), 0);
	CHECK_EQ(ip->i_nextents, cap + 4);
	CHECK_EQ(ip->i_nblocks, cap + 1 + 4 + 1);
	check_map(ip);
	/* seek over the tree */
	CHECK_EQ(kvfs_bmap_seek_hole(ip, 0, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(kvfs_bmap_seek_data(ip, 2 * cap + 1, &n), 0);
	CHECK_EQ(n, 1000);
	CHECK_EQ(kvfs_bmap_seek_hole(ip, 1000, &n), 0);
	CHECK_EQ(n, 1001);
	CHECK_EQ(kvfs_bmap_seek_data(ip, 1001, &n), -ENXIO);
	/* back down to what the fork holds: an extent list again */
	unmap_all(mp, ip, 1000, 5);
	CHECK_EQ(ip->i_nextents, cap + 1);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK_EQ(bunmap(mp, ip, 2 * cap, 1, 4, &rem), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, cap);
	CHECK_EQ(ip->i_nblocks, cap);
	check_map(ip);
	/* and across it again, then everything unmapped */
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 1, 1, KVFS_BMAPI_PREALLOC, map, &nmap), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	unmap_all(mp, ip, 0, 4 * cap);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, 0);
	CHECK_EQ(ip->i_nblocks, 0);
	check_map(ip);
	/* the frees are done at commit: every block is back */
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	kvfs_iput(ip);
}

/*
 * A one-block punch at bno of ip, locked and joined to a new transaction,
 * whose extent split is refused a tree block (tag map_tree_nospc past its
 * first evaluation, the hold's): the unmap answers want, having met the
 * tag once.  The transaction, ip still joined, for the caller to look at
 * and cancel.
 */
static struct kvfs_trans *punch_split_refused(struct kvfs_mount *mp,
					      struct kvfs_inode *ip,
					      uint64_t bno, int want)
{
	struct kvfs_trans *tp;
	uint64_t rem;

	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 1, 1, 1), 0);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.itruncate, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_bunmapi(tp, ip, bno, 1, 1, &rem), want);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_MAP_TREE_NOSPC), 1);
	return tp;
}

/*
 * A punch inside an extent of a full extent list whose split then finds
 * no block for the tree's leaf though split_room() held an AG for it (tag
 * map_tree_nospc past its first evaluation, the hold's): nothing was
 * changed yet, so the unmap refuses with ENOSPC and the transaction
 * cancels clean, the map as it was (it was EIO: fsstress --enospc on
 * mount.kvfs, a punch's EIO with the log up); with room the same punch
 * works.
 */
static void test_split_refused(struct kvfs_mount *mp)
{
	struct kvfs_inode *ip = new_file(mp);
	uint32_t cap = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	int64_t fd0 = atomic_load(&mp->fdblocks);
	struct kvfs_bmap before[32], after[32], map[4];
	int nb = 32, na = 32, nmap;
	struct kvfs_trans *tp;
	uint64_t rem, last = 2 * (cap - 1);

	CHECK(cap < 16);
	for (uint32_t i = 0; i < cap; i++) {
		nmap = 4;
		CHECK_EQ(bwrite(mp, ip, 2 * i, i == cap - 1 ? 4 : 1, 0, map,
				&nmap),
			 0);
	}
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, cap);
	CHECK_EQ(bread(ip, 0, last + 4, before, &nb), 0);
	tp = punch_split_refused(mp, ip, last + 1, -ENOSPC);
	kvfs_trans_cancel(tp);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 0, 0, 0), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, cap);
	CHECK_EQ(bread(ip, 0, last + 4, after, &na), 0);
	CHECK_EQ(na, nb);
	for (int i = 0; i < nb; i++) {
		CHECK_EQ(after[i].startoff, before[i].startoff);
		CHECK_EQ(after[i].startblock, before[i].startblock);
		CHECK_EQ(after[i].blockcount, before[i].blockcount);
		CHECK_EQ(after[i].flags, before[i].flags);
	}
	check_map(ip);
	CHECK_EQ(bunmap(mp, ip, last + 1, 1, 1, &rem), 0);
	CHECK_EQ(rem, 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK_EQ(ip->i_nextents, cap + 1);
	check_map(ip);
	unmap_all(mp, ip, 0, last + 4);
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	kvfs_iput(ip);
}

/* ---- a 4-level tree ---- */

#define DEEP_SLOTS 40000
#define DEEP_BATCH 2000

/* The map of [0, 2 * DEEP_SLOTS) is the model, chunk by chunk. */
static void deep_compare(struct kvfs_inode *ip, const uint64_t *fsb)
{
	static struct kvfs_bmap map[512];
	uint64_t off = 0, end = 2 * DEEP_SLOTS;

	while (off < end) {
		int nmap = 512;

		CHECK_EQ(bread(ip, off, end - off, map, &nmap), 0);
		CHECK(nmap > 0);
		for (int k = 0; k < nmap; k++) {
			CHECK_EQ(map[k].startoff, off);
			for (uint64_t j = 0; j < map[k].blockcount; j++) {
				uint64_t b = off + j, want;

				want = b % 2 ? 0 : fsb[b / 2];
				CHECK_EQ(map[k].startblock == KVFS_NULLBLOCK ?
						 0 :
						 map[k].startblock + j,
					 want);
			}
			off += map[k].blockcount;
		}
	}
	check_map(ip);
}

static void test_deep(void)
{
	uint64_t *fsb = calloc(DEEP_SLOTS, sizeof(*fsb));
	uint32_t *order = calloc(DEEP_SLOTS, sizeof(*order));
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_bmap map[2];
	unsigned top = 0, n = 0;
	uint64_t rem;
	int64_t fd0;
	int nmap;

	CHECK(fsb && order);
	/* AGs large enough that the file fills none (see the report) */
	make_fs_bs(256 << 20, 1024);
	mp = mount_fs();
	ip = new_file(mp);
	fd0 = atomic_load(&mp->fdblocks);
	for (uint32_t i = 0; i < DEEP_SLOTS; i++)
		order[i] = i;
	for (uint32_t i = DEEP_SLOTS - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	/* inserts in random order until 4 levels, and a batch more */
	while (n < DEEP_SLOTS) {
		uint32_t slot = order[n++];

		nmap = 2;
		CHECK_EQ(bwrite(mp, ip, 2 * (uint64_t)slot, 1, 0, map, &nmap),
			 0);
		CHECK_EQ(nmap, 1);
		fsb[slot] = map[0].startblock;
		if (height(ip) > top)
			top = height(ip);
		if (n % DEEP_BATCH)
			continue;
		deep_compare(ip, fsb);
		if (top >= 4 && n % (2 * DEEP_BATCH) == 0)
			break;
	}
	printf("deep: %u extents, tree height %u, %" PRIu64 " blocks\n", n, top,
	       ip->i_nblocks - n);
	CHECK(top >= 4);
	CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)ip->i_nblocks);
	/* deletes in another random order, back to a list and to nothing */
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t slot = order[i];

		CHECK_EQ(bunmap(mp, ip, 2 * (uint64_t)slot, 1, 1, &rem), 0);
		CHECK_EQ(rem, 0);
		fsb[slot] = 0;
		if ((i + 1) % DEEP_BATCH)
			continue;
		/* freed extents stop being busy once durable */
		CHECK_EQ(kvj_log_force(mp->log, 0), 0);
		deep_compare(ip, fsb);
	}
	deep_compare(ip, fsb);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, 0);
	CHECK_EQ(ip->i_nblocks, 0);
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	free(fsb);
	free(order);
}

/* ---- crash ---- */

static void read_all(struct kvfs_inode *ip, struct kvfs_bmap *map, int *nmap)
{
	memset(map, 0, 64 * sizeof(*map));
	*nmap = 64;
	CHECK_EQ(bread(ip, 0, 1024, map, nmap), 0);
}

static bool same(const struct kvfs_bmap *a, int na, const struct kvfs_bmap *b,
		 int nb)
{
	return na == nb && !memcmp(a, b, (size_t)na * sizeof(*a));
}

static void test_crash(void)
{
	struct kvfs_bmap forced[64], later[64], got[64], map[4];
	int nf, nl, ng, nmap;
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint64_t ino, rem, nb_forced, nb_later;
	int64_t fd0;

	make_fs();
	mp = mount_fs();
	fd0 = atomic_load(&mp->fdblocks);
	ip = new_file(mp);
	ino = ip->i_ino;
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 10, 40, 0, map, &nmap), 0);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 100, 20, KVFS_BMAPI_PREALLOC, map, &nmap), 0);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 105, 5, KVFS_BMAPI_CONVERT, map, &nmap), 0);
	CHECK_EQ(bunmap(mp, ip, 20, 5, 4, &rem), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	read_all(ip, forced, &nf);
	nb_forced = ip->i_nblocks;
	/* not forced: recovery may or may not see it */
	CHECK_EQ(bunmap(mp, ip, 0, 1024, 100, &rem), 0);
	nmap = 4;
	CHECK_EQ(bwrite(mp, ip, 500, 7, 0, map, &nmap), 0);
	read_all(ip, later, &nl);
	nb_later = ip->i_nblocks;
	kvfs_iput(ip);
	kvfs_mount_shutdown(mp, "bmap crash test");
	kvfs_mount_close(mp);

	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	read_all(ip, got, &ng);
	check_map(ip);
	CHECK(same(got, ng, forced, nf) || same(got, ng, later, nl));
	printf("crash: recovered the %s state\n",
	       same(got, ng, forced, nf) ? "forced" : "later");
	CHECK(ip->i_nblocks ==
	      (same(got, ng, forced, nf) ? nb_forced : nb_later));
	/* blocks allocated on disk = blocks mapped */
	CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)ip->i_nblocks);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A tree grows a level after the last log force; power cut.  Checkpoints
 * commit in order, so recovery gives the file's first k extents for some
 * k at least the forced count, each where it was, in a tree that walks
 * clean, with the free count and the image (scrub) agreeing.
 */
#define GROW_FORCED 300
#define GROW_ALL 1000

static void test_crash_grow(void)
{
	static uint64_t fsb[GROW_ALL];
	static struct kvfs_bmap got[2 * GROW_ALL + 1];
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_bmap map[2];
	unsigned h_forced = 0, k = 0;
	uint64_t ino, off = 0;
	int64_t fd0;
	int nmap;

	make_fs_bs(64 << 20, 1024);
	mp = mount_fs();
	fd0 = atomic_load(&mp->fdblocks);
	ip = new_file(mp);
	ino = ip->i_ino;
	for (unsigned i = 0; i < GROW_ALL; i++) {
		if (i == GROW_FORCED) {
			CHECK_EQ(kvj_log_force(mp->log, 0), 0);
			h_forced = height(ip);
		}
		nmap = 2;
		CHECK_EQ(bwrite(mp, ip, 2 * (uint64_t)i, 1, 0, map, &nmap), 0);
		fsb[i] = map[0].startblock;
	}
	CHECK(height(ip) > h_forced);
	printf("crash_grow: height %u forced, %u at the power cut\n", h_forced,
	       height(ip));
	kvfs_iput(ip);
	kvfs_mount_shutdown(mp, "bmap tree growth crash test");
	kvfs_mount_close(mp);

	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	check_map(ip);
	nmap = 2 * GROW_ALL + 1;
	CHECK_EQ(bread(ip, 0, 2 * GROW_ALL, got, &nmap), 0);
	for (int j = 0; j < nmap; j++) {
		CHECK_EQ(got[j].startoff, off);
		if (got[j].startblock != KVFS_NULLBLOCK) {
			CHECK_EQ(got[j].startoff, 2 * (uint64_t)k);
			CHECK_EQ(got[j].blockcount, 1);
			CHECK_EQ(got[j].startblock, fsb[k]);
			k++;
		}
		off += got[j].blockcount;
	}
	printf("crash_grow: %u of %u extents recovered, height %u\n", k,
	       GROW_ALL, height(ip));
	CHECK(k >= GROW_FORCED);
	CHECK_EQ(ip->i_nextents, k);
	CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)ip->i_nblocks);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static char split_report[256];

static void split_sink(const char *line, void *priv)
{
	(void)priv;
	if (!split_report[0])
		snprintf(split_report, sizeof(split_report), "%s", line);
}

/*
 * As split_refused with the file's tree leaf full: the split's block is
 * refused after the record it cuts was updated in the tree (tp dirty), so
 * the unmap itself shuts the filesystem down, saying why, before any
 * caller could commit half a change (it returned EIO to a caller whose
 * cancel shut it down, "dirty transaction cancelled"); the next mount
 * recovers the forced map.
 */
static void test_split_shutdown(void)
{
	static struct kvfs_bmap forced[2 * 200], got[2 * 200];
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	struct kvfs_bmap map[4];
	uint32_t leaf;
	uint64_t ino, last;
	int nf = 2 * 200, ng = 2 * 200, nmap;

	make_fs();
	mp = mount_fs();
	leaf = kvfs_btree_maxrecs(&kvfs_bmbt_ops, mp->g.blocksize, 0);
	CHECK(leaf < 200);
	last = 2 * (uint64_t)(leaf - 1);
	ip = new_file(mp);
	ino = ip->i_ino;
	for (uint32_t i = 0; i < leaf; i++) {
		nmap = 4;
		CHECK_EQ(bwrite(mp, ip, 2 * i, i == leaf - 1 ? 4 : 1, 0, map,
				&nmap),
			 0);
	}
	CHECK_EQ(height(ip), 2);
	CHECK_EQ(ip->i_nextents, leaf);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(bread(ip, 0, last + 4, forced, &nf), 0);
	kvj_report_set_sink(split_sink, NULL);
	tp = punch_split_refused(mp, ip, last + 1, -EIO);
	CHECK(kvj_log_is_shutdown(mp->log));
	kvfs_trans_cancel(tp);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 0, 0, 0), 0);
	kvj_report_set_sink(NULL, NULL);
	printf("split_shutdown: %s\n", split_report);
	CHECK(strstr(split_report, "extent map split") != NULL);
	kvfs_iput(ip);
	kvfs_mount_close(mp);

	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(bread(ip, 0, last + 4, got, &ng), 0);
	check_map(ip);
	CHECK_EQ(ng, nf);
	for (int i = 0; i < nf; i++) {
		CHECK_EQ(got[i].startoff, forced[i].startoff);
		CHECK_EQ(got[i].startblock, forced[i].startblock);
		CHECK_EQ(got[i].blockcount, forced[i].blockcount);
	}
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * A new file whose map is a tree of one full leaf (height 2) of unwritten
 * extents of 3 blocks, one every 4 blocks: the conversion of an extent's
 * middle block adds two records, which split the leaf.  *n extents.
 */
static struct kvfs_inode *full_leaf_unwritten(struct kvfs_mount *mp,
					      uint32_t *n)
{
	struct kvfs_inode *ip = new_file(mp);
	struct kvfs_bmap map[4];
	int nmap;

	*n = kvfs_btree_maxrecs(&kvfs_bmbt_ops, mp->g.blocksize, 0);
	for (uint32_t i = 0; i < *n; i++) {
		nmap = 4;
		CHECK_EQ(bwrite(mp, ip, 4 * (uint64_t)i, 3, KVFS_BMAPI_PREALLOC,
				map, &nmap),
			 0);
	}
	CHECK_EQ(height(ip), 2);
	CHECK_EQ(ip->i_nextents, *n);
	return ip;
}

/*
 * The conversion of block bno with tag map_tree_nospc armed past its
 * first `after` evaluations, once: its result want, one hit; tp returned
 * for the caller to end.
 */
static struct kvfs_trans *convert_refused(struct kvfs_mount *mp,
					  struct kvfs_inode *ip, uint64_t bno,
					  uint64_t after, int want)
{
	struct kvfs_bmap map[4];
	struct kvfs_trans *tp;
	int nmap = 4;

	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, after, 1, 1), 0);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_bmapi_write(tp, ip, bno, 1, KVFS_BMAPI_CONVERT, map,
				  &nmap),
		 want);
	CHECK_EQ(kvj_errtag_hits(KVJ_ERRTAG_MAP_TREE_NOSPC), 1);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 0, 0, 0), 0);
	return tp;
}

/*
 * The conversion of the middle block of an unwritten extent in a full
 * leaf when no AG can hold the split's blocks (tag map_tree_nospc at its
 * first evaluation, split_room()'s hold): refused with ENOSPC before
 * anything changed (the transaction clean, cancelled without a
 * shutdown), the map as it was; then done with room, the leaf split.
 * Before, a conversion checked only the reservation's count: the split
 * found no block after the extent was cut in the tree, and the caller
 * heard ENOSPC with tp dirty (a write's cancel shut the filesystem down;
 * a settle committed it: 3507 blocks of the file leaked).
 */
static void test_convert_refused(struct kvfs_mount *mp)
{
	int64_t fd0 = atomic_load(&mp->fdblocks);
	struct kvfs_bmap before[4], after[4], map[4];
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint32_t n;
	int nb = 4, na = 4, nmap = 4;

	ip = full_leaf_unwritten(mp, &n);
	CHECK_EQ(bread(ip, 4, 3, before, &nb), 0);
	tp = convert_refused(mp, ip, 5, 0, -ENOSPC);
	CHECK(!kvj_trans_dirty(tp->jt));
	kvfs_trans_cancel(tp);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(ip->i_nextents, n);
	CHECK_EQ(height(ip), 2);
	CHECK_EQ(bread(ip, 4, 3, after, &na), 0);
	CHECK_EQ(na, nb);
	CHECK_EQ(na, 1);
	CHECK_EQ(after[0].startblock, before[0].startblock);
	CHECK_EQ(after[0].flags, KVFS_BMAP_UNWRITTEN);
	check_map(ip);
	CHECK_EQ(bwrite(mp, ip, 5, 1, KVFS_BMAPI_CONVERT, map, &nmap), 0);
	CHECK_EQ(ip->i_nextents, n + 2);
	CHECK_EQ(height(ip), 2);
	check_map(ip);
	printf("convert_refused: the middle of an extent in a full leaf of "
	       "%u: refused clean, then converted (%u extents)\n",
	       n, ip->i_nextents);
	unmap_all(mp, ip, 0, 4 * (uint64_t)n);
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	kvfs_iput(ip);
}

/*
 * As convert_refused with the hold granted and the split's own block
 * refused (the tag's second evaluation) after the extent was cut in the
 * tree: the conversion shuts the filesystem down, saying why, and answers
 * EIO (it answered ENOSPC, which a settle committed); the next mount
 * recovers the map as it was forced before.
 */
static void test_convert_shutdown(void)
{
	static struct kvfs_bmap forced[512], got[512];
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;
	uint32_t n;
	int nf = 512, ng = 512;

	make_fs();
	mp = mount_fs();
	ip = full_leaf_unwritten(mp, &n);
	CHECK(n <= 256);
	ino = ip->i_ino;
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(bread(ip, 0, 4 * (uint64_t)n, forced, &nf), 0);
	split_report[0] = 0;
	kvj_report_set_sink(split_sink, NULL);
	tp = convert_refused(mp, ip, 5, 1, -EIO);
	CHECK(kvj_log_is_shutdown(mp->log));
	kvfs_trans_cancel(tp);
	kvj_report_set_sink(NULL, NULL);
	printf("convert_shutdown: %s\n", split_report);
	CHECK(strstr(split_report, "extent map split") != NULL);
	kvfs_iput(ip);
	kvfs_mount_close(mp);

	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(bread(ip, 0, 4 * (uint64_t)n, got, &ng), 0);
	check_map(ip);
	CHECK_EQ(ng, nf);
	for (int i = 0; i < nf; i++) {
		CHECK_EQ(got[i].startoff, forced[i].startoff);
		CHECK_EQ(got[i].startblock, forced[i].startblock);
		CHECK_EQ(got[i].blockcount, forced[i].blockcount);
		CHECK_EQ(got[i].flags, forced[i].flags);
	}
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

int main(void)
{
	const char *dir = getenv("TMPDIR");
	struct kvfs_mount *mp;
	uint64_t max;

	snprintf(path, sizeof(path), "%s/kvfs-bmap-%d.img", dir ? dir : "/tmp",
		 (int)getpid());
	srand(1234);
	CHECK_EQ(kv_init(NULL), 0);
	make_fs();
	mp = mount_fs();
	max = kvfs_max_fileoff_blocks(&mp->g);
	model_run(mp, 0, 1500);
	model_run(mp, (16ull << 40) >> mp->g.blocklog, 1500);
	model_run(mp, max - WIN, 1500);
	printf("model: %u steps left a tree, %u partial, %u blocks "
	       "converted, %u splitting punches, up to %u extents, %u "
	       "lock-free reads of a tree's last extent\n",
	       seen.btree, seen.partial, seen.converted, seen.split_punch,
	       seen.max_extents, seen.lastext);
	CHECK(seen.btree > 0 && seen.partial > 0 && seen.converted > 0 &&
	      seen.split_punch > 0 && seen.lastext > 0);
	/* the files went past the fork's capacity (no attribute fork) */
	CHECK(seen.max_extents > (mp->g.inodesize - KVFS_DINODE_CORE_SIZE) /
					 sizeof(struct kvfs_extent));
	test_sparse(mp);
	test_boundary(mp);
	test_split_refused(mp);
	test_convert_refused(mp);
	test_align(mp);
	test_align_next_ag(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	test_deep();
	test_crash();
	test_crash_grow();
	test_split_shutdown();
	test_convert_shutdown();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("bmap: ok\n");
	return 0;
}
