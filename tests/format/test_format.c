// SPDX-License-Identifier: GPL-2.0
/*
 * Format unit tests: geometry choice and validation, ino/block arithmetic,
 * encode/decode round trips of every on-disk structure, verifier verdicts
 * on damaged structures, mkfs through the library for several geometries
 * followed by a full check, size/UUID parsing and signature probing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/check/check.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "tests/check.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static const uint8_t test_uuid[16] = { 1, 2,  3,  4,  5,  6,  7,  8,
				       9, 10, 11, 12, 13, 14, 15, 16 };

static void geom_for(uint64_t size, uint32_t bs, uint32_t agcount,
		     uint64_t agsize, uint64_t logsize, struct kvfs_geom *g)
{
	struct kvfs_geom_params p = { size, bs, agcount, agsize, logsize, 0 };
	char err[256] = "";
	int ret = kvfs_geom_compute(&p, g, err, sizeof(err));

	if (ret)
		fprintf(stderr, "geom_for(%llu, %u, %u): %s\n",
			(unsigned long long)size, bs, agcount, err);
	CHECK_EQ(ret, 0);
	memcpy(g->uuid, test_uuid, 16);
	memcpy(g->meta_uuid, test_uuid, 16);
}

static int geom_err(uint64_t size, uint32_t bs, uint32_t agcount,
		    uint64_t agsize, uint64_t logsize, const char *want)
{
	struct kvfs_geom_params p = { size, bs, agcount, agsize, logsize, 0 };
	struct kvfs_geom g;
	char err[256] = "";
	int ret = kvfs_geom_compute(&p, &g, err, sizeof(err));

	if (!strstr(err, want))
		fprintf(stderr, "expected \"%s\" in \"%s\"\n", want, err);
	CHECK(strstr(err, want));
	return ret;
}

/* Invariants every computed geometry must satisfy. */
static void check_invariants(const struct kvfs_geom *g, uint64_t size)
{
	char err[256];
	uint64_t last = kvfs_ag_length(g, g->agcount - 1);

	CHECK_EQ(kvfs_geom_validate(g, err, sizeof(err)), 0);
	CHECK(g->dblocks * g->blocksize <= size);
	CHECK((uint64_t)g->agblocks * g->blocksize >= 16 * MIB ||
	      g->agcount == 1);
	CHECK((uint64_t)g->agblocks * g->blocksize <= (1ULL << 40));
	CHECK(last * g->blocksize >= 16 * MIB);
	CHECK(last <= g->agblocks);
	CHECK((uint64_t)g->logblocks * g->blocksize >= 4 * MIB);
	CHECK(g->logstart + g->logblocks <= kvfs_ag_length(g, 0));
	CHECK(g->logstart >= kvfs_geom_first_chunk_agbno(g) + g->ialloc_blocks);
	CHECK_EQ(kvfs_ino_to_fsb(g, g->rootino),
		 kvfs_geom_first_chunk_agbno(g));
	CHECK_EQ(g->lpfino, g->rootino + 1);
	CHECK(g->ialloc_inos >= KVFS_INODES_PER_CHUNK);
	CHECK_EQ(g->ialloc_inos, g->ialloc_blocks * g->inopblock);
	/* the runt tail dropped is smaller than a minimum AG */
	CHECK((size / g->blocksize - g->dblocks) * g->blocksize < 16 * MIB);
}

static void test_geometry(void)
{
	static const uint64_t sizes[] = {
		16 * MIB, 17 * MIB, 40 * MIB, 64 * MIB,	  100 * MIB + 12345,
		1 * GIB,  16 * GIB, 64 * GIB, 1000 * GIB, 10000 * GIB
	};
	struct kvfs_geom g;

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		for (uint32_t bs = 1024; bs <= 65536; bs *= 2) {
			geom_for(sizes[i], bs, 0, 0, 0, &g);
			check_invariants(&g, sizes[i]);
		}
	/* defaults: 4 AGs when small, more when large; 4 KiB blocks */
	geom_for(1 * GIB, 0, 0, 0, 0, &g);
	CHECK_EQ(g.blocksize, 4096);
	CHECK_EQ(g.agcount, 4);
	CHECK_EQ((uint64_t)g.logblocks * 4096, 64 * MIB);
	geom_for(512 * MIB, 0, 0, 0, 0, &g);
	CHECK_EQ((uint64_t)g.logblocks * 4096, 4 * MIB);
	geom_for(64 * GIB, 0, 0, 0, 0, &g);
	CHECK_EQ(g.agcount, 16);
	CHECK_EQ((uint64_t)g.logblocks * 4096, 128 * MIB);
	geom_for(16 * MIB, 0, 0, 0, 0, &g);
	CHECK_EQ(g.agcount, 1);
	geom_for(10000 * GIB, 0, 0, 0, 0, &g);
	CHECK_EQ(g.agcount, 32);
	/* explicit AG count / size / log size */
	geom_for(1 * GIB, 4096, 7, 0, 0, &g);
	CHECK_EQ(g.agcount, 7);
	check_invariants(&g, 1 * GIB);
	geom_for(1 * GIB, 4096, 0, 100 * MIB, 0, &g);
	CHECK_EQ(g.agblocks, 100 * MIB / 4096);
	CHECK_EQ(g.agcount, 11); /* 10 x 100 MiB + a 24 MiB AG */
	check_invariants(&g, 1 * GIB);
	geom_for(1 * GIB, 4096, 0, 200 * MIB, 0, &g);
	CHECK_EQ(g.agcount, 6); /* 5 x 200 MiB + a 24 MiB AG */
	geom_for(1 * GIB + 8 * MIB, 4096, 0, 256 * MIB, 0, &g);
	CHECK_EQ(g.agcount, 4); /* the 8 MiB tail is dropped */
	CHECK_EQ(g.dblocks, GIB / 4096);
	/*
	 * An AG size mkfs chooses is a multiple of KVFS_DATA_ALIGN_BYTES
	 * (data aligned in an AG is aligned on the device), the last AG
	 * taking the rest; one asked for is kept as it is.
	 */
	geom_for(9572581376ULL, 4096, 0, 0, 0, &g);
	CHECK_EQ(g.agcount, 4);
	CHECK_EQ((uint64_t)g.agblocks * 4096 % KVFS_DATA_ALIGN_BYTES, 0);
	CHECK(kvfs_ag_length(&g, 3) < g.agblocks);
	check_invariants(&g, 9572581376ULL);
	geom_for(1 * GIB + 12345 * 4096, 4096, 7, 0, 0, &g);
	CHECK_EQ(g.agcount, 7);
	CHECK_EQ((uint64_t)g.agblocks * 4096 % KVFS_DATA_ALIGN_BYTES, 0);
	geom_for(1 * GIB, 4096, 0, 100 * MIB + 4096, 0, &g);
	CHECK_EQ(g.agblocks, 100 * MIB / 4096 + 1);
	/* rounding up would leave a last AG under the minimum: not rounded */
	geom_for(64 * MIB + 3 * 4096, 4096, 4, 0, 0, &g);
	CHECK_EQ(g.agcount, 4);
	CHECK_EQ(g.agblocks, (64 * MIB / 4096 + 3 + 3) / 4);
	geom_for(1 * GIB, 4096, 0, 0, 10 * MIB + 1, &g);
	CHECK_EQ(g.logblocks, 10 * MIB / 4096 + 1);
	/* errors */
	CHECK_EQ(geom_err(15 * MIB, 0, 0, 0, 0, "too small"), -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 3000, 0, 0, 0, "block size 3000"), -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 512, 0, 0, 0, "block size 512"), -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 131072, 0, 0, 0, "block size"), -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 100, 0, 0, "below the 16 MiB"), -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 0, 8 * MIB, 0, "16 MiB .. 1 TiB"),
		 -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 0, 2 * GIB, 0, "larger than the file"),
		 -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 0, 100 * MIB + 1, 0, "not a multiple"),
		 -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 4, 100 * MIB, 0, "mutually exclusive"),
		 -EINVAL);
	CHECK_EQ(geom_err(1 * GIB, 0, 0, 0, 1 * MIB, "below the 4 MiB"),
		 -EINVAL);
	CHECK_EQ(geom_err(64 * GIB, 0, 0, 0, 3 * GIB, "above the 2 GiB"),
		 -EINVAL);
	CHECK_EQ(geom_err(64 * MIB, 0, 4, 0, 16 * MIB, "does not fit in AG 0"),
		 -EINVAL);
	/* ceil(20481 / 5) = 4097-block AGs leave a 4093-block runt */
	CHECK_EQ(geom_err(20481 * 4096ULL, 0, 5, 0, 0, "into 5 AGs"), -EINVAL);
}

static void test_ino_math(void)
{
	struct kvfs_geom g;

	geom_for(10 * GIB, 2048, 5, 0, 0, &g);
	for (uint32_t agno = 0; agno < g.agcount; agno++)
		for (uint32_t agbno = KVFS_AG_HDR_BLOCKS;
		     agbno < kvfs_ag_length(&g, agno); agbno += 9973)
			for (uint32_t i = 0; i < g.inopblock; i++) {
				uint32_t agino =
					kvfs_agbno_to_agino(&g, agbno) + i;
				uint64_t ino =
					kvfs_agino_to_ino(&g, agno, agino);

				CHECK(kvfs_ino_in_range(&g, ino));
				CHECK_EQ(kvfs_ino_to_agno(&g, ino), agno);
				CHECK_EQ(kvfs_ino_to_agino(&g, ino), agino);
				CHECK_EQ(kvfs_ino_to_fsb(&g, ino),
					 kvfs_agb_to_fsb(&g, agno, agbno));
				CHECK_EQ(kvfs_ino_to_offset(&g, ino),
					 i * g.inodesize);
			}
	CHECK(!kvfs_ino_in_range(&g, 0));
	CHECK(!kvfs_ino_in_range(&g, kvfs_agino_to_ino(&g, g.agcount, 64)));
	CHECK(!kvfs_ino_in_range(
		&g, kvfs_agino_to_ino(&g, 1, kvfs_agbno_to_agino(&g, 1))));
	CHECK_EQ(kvfs_fsb_to_agno(&g, kvfs_agb_to_fsb(&g, 3, 77)), 3);
	CHECK_EQ(kvfs_fsb_to_agbno(&g, kvfs_agb_to_fsb(&g, 3, 77)), 77);
}

/* Every flipped byte of a block must fail its verifier with -EBADMSG. */
static void flip_all(uint8_t *blk, size_t len, int (*verify)(const void *))
{
	unsigned long before = kvfs_corrupt_count();

	for (size_t off = 0; off<len; off += len> 4096 ? 61 : 7) {
		blk[off] ^= 0x10;
		CHECK_EQ(verify(blk), -EBADMSG);
		blk[off] ^= 0x10;
	}
	CHECK_EQ(verify(blk), 0);
	CHECK(kvfs_corrupt_count() > before);
}

static struct kvfs_geom cur;

static int verify_sb(const void *blk)
{
	struct kvfs_geom out;

	return kvfs_sb_from_disk(blk, cur.blocksize, 1, cur.meta_uuid, &out);
}

static int verify_agf(const void *blk)
{
	struct kvfs_agf_info a;

	return kvfs_agf_from_disk(&cur, 1, blk, &a);
}

static int verify_agi(const void *blk)
{
	struct kvfs_agi_info a;

	return kvfs_agi_from_disk(&cur, 1, blk, &a);
}

static int verify_bno(const void *blk)
{
	return kvfs_btree_verify_block(blk, &cur, &kvfs_bnobt_ops,
				       kvfs_agb_to_fsb(&cur, 1, 9), 1, 0);
}

static int verify_inobt(const void *blk)
{
	return kvfs_btree_verify_block(blk, &cur, &kvfs_inobt_ops,
				       kvfs_agb_to_fsb(&cur, 1, 9), 1, 0);
}

static int verify_ino(const void *blk)
{
	return kvfs_dinode_verify(blk, &cur, cur.rootino);
}

/* Redo the crc after a deliberate change, so the structure check runs. */
static int reseal_verify(uint8_t *blk, size_t len, int (*verify)(const void *))
{
	kvfs_blkhdr_set_crc(blk, len);
	return verify(blk);
}

static void test_structures(void)
{
	struct kvfs_geom out;
	struct kvfs_agf_info a = {
		.agno = 1,
		.bno_root = 4,
		.cnt_root = 5,
		.freeblks = 100,
		.longest = 60,
		.free_extents = 2,
		.btreeblks = 2,
		.fllast = 3,
		.flcount = 8,
	};
	struct kvfs_agi_info ai = {
		.agno = 1,
		.ino_root = 6,
		.icount = 128,
		.ifree = 7,
		.newino = 64,
	};
	struct kvfs_btree_block *bb;
	struct kvfs_alloc_rec *r;
	struct kvfs_dinode *d;
	uint8_t *blk;

	geom_for(1 * GIB, 4096, 4, 0, 0, &cur);
	/* a user UUID changed after mkfs: headers keep the metadata UUID */
	cur.uuid[0] ^= 0xff;
	snprintf(cur.label, sizeof(cur.label), "unit-label");
	cur.ctime_sec = 1234567;
	blk = kvmalloc(cur.blocksize, 0);
	CHECK(blk);

	/* superblock: round trip of every field */
	kvfs_sb_to_disk(&cur, 1, blk);
	CHECK_EQ(verify_sb(blk), 0);
	CHECK_EQ(kvfs_sb_from_disk(blk, cur.blocksize, 1, cur.meta_uuid, &out),
		 0);
	CHECK(!memcmp(&out, &cur, sizeof(out)));
	flip_all(blk, cur.blocksize, verify_sb);
	kvfs_sb_to_disk(&cur, 1, blk);
	CHECK_EQ(kvfs_sb_from_disk(blk, cur.blocksize, 2, cur.meta_uuid, &out),
		 -EUCLEAN); /* copy read from the wrong AG */
	((struct kvfs_dsb *)blk)->agcount = kv_cpu_to_le32(0);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_sb), -EUCLEAN);
	kvfs_sb_to_disk(&cur, 1, blk);
	((struct kvfs_dsb *)blk)->logblocks = kv_cpu_to_le32(1);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_sb), -EUCLEAN);
	kvfs_sb_to_disk(&cur, 1, blk);
	((struct kvfs_dsb *)blk)->hdr.magic = kv_cpu_to_le32(KVFS_AGF_MAGIC);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_sb), -EUCLEAN);
	kvfs_sb_to_disk(&cur, 1, blk);
	blk[cur.blocksize - 1] = 1;
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_sb), -EUCLEAN);

	/* a write-back stamp keeps the block valid and records the LSN */
	kvfs_sb_to_disk(&cur, 1, blk);
	kvfs_blkhdr_stamp(blk, cur.blocksize, 0x123456789aULL);
	CHECK_EQ(verify_sb(blk), 0);
	CHECK_EQ(kv_le64_to_cpu(((struct kvfs_blk_hdr *)blk)->lsn),
		 0x123456789aULL);

	/* features */
	out = cur;
	CHECK_EQ(kvfs_sb_check_features(&out, false), 0);
	out.feat_compat = 0x80;
	CHECK_EQ(kvfs_sb_check_features(&out, false), 0);
	out.feat_ro_compat = 0x1;
	CHECK_EQ(kvfs_sb_check_features(&out, false), -EROFS);
	CHECK_EQ(kvfs_sb_check_features(&out, true), 0);
	out.feat_incompat = 0x2;
	CHECK_EQ(kvfs_sb_check_features(&out, true), -EOPNOTSUPP);
	CHECK(strstr(kvfs_report_last()->msg, "0x2"));
	/* needs-repair: readable by inspectors, never mounted */
	out = cur;
	out.feat_incompat = KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
	CHECK_EQ(kvfs_sb_check_features(&out, false), 0);
	CHECK_EQ(kvfs_sb_check_mount(&out, true), -EUCLEAN);
	out.feat_incompat = 0;
	CHECK_EQ(kvfs_sb_check_mount(&out, false), 0);
	/* an unknown log-incompat bit refuses only a log to replay */
	out.feat_log_incompat = 0x4;
	CHECK_EQ(kvfs_sb_check_mount(&out, false), 0);
	out.state = KVFS_STATE_DIRTY;
	CHECK_EQ(kvfs_sb_check_mount(&out, true), -EOPNOTSUPP);
	/* the error state is no log to replay; it goes with either state */
	out.state = KVFS_STATE_ERRORS;
	CHECK_EQ(kvfs_sb_check_mount(&out, false), 0);
	{
		char err[128];
		struct kvfs_geom st = cur;

		st.state = KVFS_STATE_DIRTY | KVFS_STATE_ERRORS;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), 0);
		st.state = 4;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), -EUCLEAN);
		/*
		 * a log start whose sum with the length wraps past 2^64
		 * (trash-campaign fuzz seed 7014: logstart 2^64 - 1 was
		 * taken, and the mount failed opening the log with EINVAL)
		 */
		st = cur;
		st.logstart = UINT64_MAX;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), -EUCLEAN);
		st.logstart = UINT64_MAX - st.logblocks + 1;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), -EUCLEAN);
		st.logstart = kvfs_ag_length(&st, 0) - st.logblocks + 1;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), -EUCLEAN);
		st.logstart = kvfs_ag_length(&st, 0) - st.logblocks;
		CHECK_EQ(kvfs_geom_validate(&st, err, sizeof(err)), 0);
	}
	out.state = KVFS_STATE_DIRTY;
	/* both survive a round trip */
	out.feat_incompat = KVFS_FEAT_INCOMPAT_NEEDSREPAIR;
	kvfs_sb_to_disk(&out, 1, blk);
	{
		struct kvfs_geom back;

		CHECK_EQ(kvfs_sb_from_disk(blk, cur.blocksize, 1, cur.meta_uuid,
					   &back),
			 0);
		CHECK_EQ(back.feat_log_incompat, 0x4);
		CHECK_EQ(back.feat_incompat, KVFS_FEAT_INCOMPAT_NEEDSREPAIR);
		CHECK(memcmp(back.uuid, back.meta_uuid, 16));
	}
	/* a block of another filesystem (other metadata UUID) is refused */
	kvfs_sb_to_disk(&cur, 1, blk);
	((struct kvfs_dsb *)blk)->hdr.uuid[3] ^= 1;
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_sb), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "metadata UUID"));

	/* AG free-space header */
	a.length = kvfs_ag_length(&cur, 1);
	a.flfirst = cur.agfl_size - 4;
	kvfs_agf_to_disk(&cur, &a, blk);
	{
		struct kvfs_agf_info b;

		CHECK_EQ(kvfs_agf_from_disk(&cur, 1, blk, &b), 0);
		CHECK(!memcmp(&a, &b, sizeof(a)));
	}
	flip_all(blk, cur.blocksize, verify_agf);
	((struct kvfs_agf *)blk)->longest = kv_cpu_to_le32(200);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);
	kvfs_agf_to_disk(&cur, &a, blk);
	((struct kvfs_agf *)blk)->length = kv_cpu_to_le32(a.length + 1);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);
	kvfs_agf_to_disk(&cur, &a, blk);
	((struct kvfs_agf *)blk)->hdr.blkno = kv_cpu_to_le64(5);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);
	/* the reserve list window: 8 entries wrapping to entry 3 */
	kvfs_agf_to_disk(&cur, &a, blk);
	((struct kvfs_agf *)blk)->flcount = kv_cpu_to_le32(7);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);
	((struct kvfs_agf *)blk)->flcount = kv_cpu_to_le32(8);
	((struct kvfs_agf *)blk)->flfirst = kv_cpu_to_le32(cur.agfl_size);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);
	kvfs_agf_to_disk(&cur, &a, blk);
	((struct kvfs_agf *)blk)->bno_root = kv_cpu_to_le32(KVFS_AGFL_AGBNO);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agf), -EUCLEAN);

	/* AG inode header, with its unlinked buckets */
	ai.length = a.length;
	for (unsigned i = 0; i < KVFS_AGI_UNLINKED_BUCKETS; i++)
		ai.unlinked[i] = KVFS_NULLAGINO;
	ai.unlinked[5] = 64 * 7 + 5;
	kvfs_agi_to_disk(&cur, &ai, blk);
	{
		struct kvfs_agi_info b;

		CHECK_EQ(kvfs_agi_from_disk(&cur, 1, blk, &b), 0);
		CHECK(!memcmp(&ai, &b, sizeof(ai)));
	}
	flip_all(blk, cur.blocksize, verify_agi);
	((struct kvfs_agi *)blk)->ifree = kv_cpu_to_le32(200);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agi), -EUCLEAN);
	kvfs_agi_to_disk(&cur, &ai, blk);
	/* an inode in the wrong bucket */
	((struct kvfs_agi *)blk)->unlinked[6] = kv_cpu_to_le32(64 * 7 + 5);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agi), -EUCLEAN);
	kvfs_agi_to_disk(&cur, &ai, blk);
	/* an unlinked inode in the AG headers */
	((struct kvfs_agi *)blk)->unlinked[1] = kv_cpu_to_le32(1);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_agi), -EUCLEAN);

	/* reserve list: entries in the AG past its headers, or null */
	{
		uint32_t bno[3] = { 7, 8, 9 };

		kvfs_agfl_to_disk(&cur, 1, bno, 3, blk);
		CHECK_EQ(kvfs_agfl_verify(&cur, 1, blk), 0);
		CHECK_EQ(kvfs_agfl_entry(blk, 2), 9);
		CHECK_EQ(kvfs_agfl_entry(blk, 3), KVFS_NULLAGBLOCK);
		bno[1] = KVFS_AGI_AGBNO;
		kvfs_agfl_to_disk(&cur, 1, bno, 3, blk);
		CHECK_EQ(kvfs_agfl_verify(&cur, 1, blk), -EUCLEAN);
		bno[1] = a.length;
		kvfs_agfl_to_disk(&cur, 1, bno, 3, blk);
		CHECK_EQ(kvfs_agfl_verify(&cur, 1, blk), -EUCLEAN);
		CHECK_EQ(kvfs_report_last()->blkno,
			 kvfs_agb_to_fsb(&cur, 1, KVFS_AGFL_AGBNO));
		CHECK(strstr(kvfs_report_last()->msg, "entry 1"));
	}

	/* B+tree leaf: order, overlap, range */
	kvfs_btree_init_block(blk, &cur, &kvfs_bnobt_ops,
			      kvfs_agb_to_fsb(&cur, 1, 9), 1, 0, 2);
	bb = (void *)blk;
	r = kvfs_btree_rec(blk, &kvfs_bnobt_ops, 0);
	r[0].startblock = kv_cpu_to_le32(10);
	r[0].blockcount = kv_cpu_to_le32(5);
	r[1].startblock = kv_cpu_to_le32(20);
	r[1].blockcount = kv_cpu_to_le32(5);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), 0);
	flip_all(blk, cur.blocksize, verify_bno);
	r[1].startblock = kv_cpu_to_le32(12);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	r[1].startblock = kv_cpu_to_le32(8);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	r[1].startblock = kv_cpu_to_le32(a.length - 2);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	r[1].startblock = kv_cpu_to_le32(20);
	r[0].startblock = kv_cpu_to_le32(2);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	r[0].startblock = kv_cpu_to_le32(10);
	r[0].blockcount = kv_cpu_to_le32(0);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	r[0].blockcount = kv_cpu_to_le32(5);
	bb->numrecs = kv_cpu_to_le16(1000);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	bb->numrecs = kv_cpu_to_le16(2);
	bb->leftsib = kv_cpu_to_le64(kvfs_agb_to_fsb(&cur, 2, 9));
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	bb->leftsib = kv_cpu_to_le64(KVFS_NULLBLOCK);
	bb->level = kv_cpu_to_le16(1);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), -EUCLEAN);
	bb->level = kv_cpu_to_le16(0);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_bno), 0);

	/* inodes and the short-form directory */
	kvfree(blk);
	blk = kvmalloc(cur.inodesize, 0);
	CHECK(blk);
	kvfs_dinode_init(blk, &cur, cur.rootino, S_IFDIR | 0755, 3, 1, 2, 99, 5,
			 7);
	CHECK_EQ(kvfs_dir_sf_init(blk, &cur, cur.rootino), 0);
	CHECK_EQ(kvfs_dir_sf_add(blk, &cur, "lost+found", cur.lpfino,
				 KVFS_FT_DIR),
		 0);
	kvfs_dinode_set_crc(blk, &cur);
	CHECK_EQ(verify_ino(blk), 0);
	flip_all(blk, cur.inodesize, verify_ino);
	{
		const struct kvfs_dir_sf_ent *e;
		uint32_t pos = 0;
		unsigned n = 0;

		/* the first entry's cookie: the first address of block 0 */
		while ((e = kvfs_dir_sf_next(blk, &pos))) {
			CHECK_EQ(kv_le32_to_cpu(e->cookie),
				 KVFS_DIR_HEAD_SIZE / 8);
			n++;
		}
		CHECK_EQ(n, 1);
	}
	/* fill the fork: ENOSPC, then still valid */
	{
		char name[16];
		int ret = 0;

		for (int i = 0; !ret; i++) {
			snprintf(name, sizeof(name), "f%d", i);
			ret = kvfs_dir_sf_add(blk, &cur, name, cur.lpfino,
					      KVFS_FT_REG);
		}
		CHECK_EQ(ret, -ENOSPC);
		CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), 0);
	}
	d = (void *)blk;
	d->size = kv_cpu_to_le64(kv_le64_to_cpu(d->size) - 8);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	kvfs_dir_sf_init(blk, &cur, cur.rootino);
	CHECK_EQ(kvfs_dir_sf_add(blk, &cur, "x", cur.lpfino, KVFS_FT_REG), 0);
	kvfs_dinode_dfork(blk)[KVFS_DIR_SF_HDR_SIZE + 16] = '.'; /* "." */
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	kvfs_dir_sf_init(blk, &cur, cur.rootino);
	CHECK_EQ(kvfs_dir_sf_add(blk, &cur, "a/b", cur.lpfino, KVFS_FT_REG), 0);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	kvfs_dir_sf_init(blk, &cur, cur.rootino);
	d->mode = kv_cpu_to_le16(0170755);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	d->mode = kv_cpu_to_le16(S_IFDIR | 0755);
	d->mtime.nsec = kv_cpu_to_le32(1000000000);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	d->mtime.nsec = kv_cpu_to_le32(0);
	d->hdr.owner = kv_cpu_to_le64(cur.lpfino);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	d->hdr.owner = kv_cpu_to_le64(cur.rootino);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), 0);
	/* a free inode with links is nonsense */
	kvfs_dinode_init(blk, &cur, cur.rootino, 0, 1, 0, 0, 0, 0, 0);
	CHECK_EQ(reseal_verify(blk, cur.inodesize, verify_ino), -EUCLEAN);
	kvfree(blk);
}

/* Reseal inode blk and run the full inode verifier on it. */
static int ino_verdict(uint8_t *blk)
{
	return reseal_verify(blk, cur.inodesize, verify_ino);
}

static void set_ext(struct kvfs_extent *x, uint64_t off, uint64_t bno,
		    uint32_t len)
{
	x->startoff = kv_cpu_to_le64(off);
	x->startblock = kv_cpu_to_le64(bno);
	x->blockcount = kv_cpu_to_le32(len);
	x->flags = kv_cpu_to_le32(0);
}

/* A regular file with two extents in AG 1. */
static void reg_inode(uint8_t *blk, struct kvfs_extent **x)
{
	struct kvfs_dinode *d = (void *)blk;
	uint64_t ag1 = kvfs_agb_to_fsb(&cur, 1, 0);

	kvfs_dinode_init(blk, &cur, cur.rootino, S_IFREG | 0644, 1, 0, 0, 1, 0,
			 0);
	*x = (void *)kvfs_dinode_dfork(blk);
	set_ext(&(*x)[0], 0, ag1 + 100, 10);
	set_ext(&(*x)[1], 20, ag1 + 200, 10);
	d->nextents = kv_cpu_to_le32(2);
}

/*
 * The full inode verifier refuses each kind of damage it used to accept:
 * unknown flags and fork formats, a garbage btree fork, extents crossing an
 * AG or covering its headers, offsets wrapping 2^64; and accepts what the
 * new format allows (times before 1970, device numbers, an attr fork).
 */
static void test_inode_verifier(void)
{
	uint64_t agb = cur.agblocks, maxoff;
	struct kvfs_extent *x;
	struct kvfs_dinode *d;
	uint8_t *blk, *fork;

	geom_for(1 * GIB, 4096, 4, 0, 0, &cur);
	maxoff = kvfs_max_fileoff_blocks(&cur);
	CHECK_EQ(maxoff, 1ULL << 51);
	CHECK(maxoff << cur.blocklog >= 16ULL << 40); /* at least 16 TiB */
	agb = cur.agblocks;
	blk = kvmalloc(cur.inodesize, 0);
	CHECK(blk);
	d = (void *)blk;
	fork = kvfs_dinode_dfork(blk);

	reg_inode(blk, &x);
	CHECK_EQ(ino_verdict(blk), 0);
	/* unknown flag bits */
	d->flags = kv_cpu_to_le32(KVFS_DIFLAG_ALL + 1);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "flags"));
	CHECK_EQ(kvfs_report_last()->ino, cur.rootino);
	CHECK_EQ(kvfs_report_last()->blkno, kvfs_ino_to_fsb(&cur, cur.rootino));
	d->flags = kv_cpu_to_le32(KVFS_DIFLAG_APPEND);
	CHECK_EQ(ino_verdict(blk), 0);
	/* unknown data fork formats, and inline data on a regular file */
	d->dformat = 4;
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "data fork format"));
	d->dformat = 0;
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	d->dformat = KVFS_DFORK_INLINE;
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	d->dformat = KVFS_DFORK_EXTENTS;
	/* attribute fork: format must be known, and absent without a fork */
	d->forkoff = kv_cpu_to_le16(16);
	d->aformat = KVFS_DFORK_EXTENTS;
	CHECK_EQ(ino_verdict(blk), 0);
	d->aformat = 9;
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "attribute fork format"));
	/* short-form attributes: an all-zero fork has no valid header */
	d->aformat = KVFS_DFORK_INLINE;
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "short-form attribute header"));
	d->aformat = KVFS_DFORK_EXTENTS;
	d->anextents = kv_cpu_to_le32(1);
	set_ext((void *)(fork + 128), 0, agb + 300, 1);
	CHECK_EQ(ino_verdict(blk), 0);
	d->forkoff = kv_cpu_to_le16(0);
	memset(fork + 128, 0, sizeof(*x));
	CHECK_EQ(ino_verdict(blk), -EUCLEAN); /* aformat without a fork */
	d->aformat = 0;
	d->anextents = kv_cpu_to_le32(0);
	CHECK_EQ(ino_verdict(blk), 0);

	/* an extent crossing from AG 1 into AG 2 */
	set_ext(&x[1], 20, 2 * agb - 2, 5);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "crosses an AG"));
	set_ext(&x[1], 20, 2 * agb - 5, 5);
	CHECK_EQ(ino_verdict(blk), 0);
	/* an extent over AG 2's headers (its reserve list block) */
	set_ext(&x[1], 20, 2 * agb + KVFS_AGFL_AGBNO, 2);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "AG headers"));
	/* an extent over the log */
	set_ext(&x[1], 20, cur.logstart + 3, 2);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	/* offset + length wrapping 2^64, and past the largest offset */
	set_ext(&x[1], UINT64_MAX - 1, agb + 200, 4);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	set_ext(&x[1], maxoff - 1, agb + 200, 2);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "largest file offset"));
	set_ext(&x[1], maxoff - 1, agb + 200, 1);
	CHECK_EQ(ino_verdict(blk), 0);
	d->size = kv_cpu_to_le64(KVFS_MAX_FILE_OFFSET);
	CHECK_EQ(ino_verdict(blk), 0);
	d->size = kv_cpu_to_le64(KVFS_MAX_FILE_OFFSET + 1);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	d->size = kv_cpu_to_le64(0);

	/* btree fork: a valid root, then garbage */
	{
		uint32_t fsz = kvfs_dinode_dfork_size(&cur, d);
		struct kvfs_bmdr_block *rb = (void *)fork;
		struct kvfs_bmbt_key *k = (void *)(fork + KVFS_BMDR_HDR_SIZE);
		kv_le64 *p = (kv_le64 *)(fork + KVFS_BMDR_HDR_SIZE +
					 kvfs_bmdr_maxrecs(fsz) * sizeof(*k));
		unsigned seed = 7, refused = 0;

		memset(fork, 0, fsz);
		d->dformat = KVFS_DFORK_BTREE;
		d->nextents = kv_cpu_to_le32(1000);
		rb->level = kv_cpu_to_le16(1);
		rb->numrecs = kv_cpu_to_le16(2);
		k[0].startoff = kv_cpu_to_le64(0);
		k[1].startoff = kv_cpu_to_le64(5000);
		p[0] = kv_cpu_to_le64(agb + 400);
		p[1] = kv_cpu_to_le64(3 * agb + 400);
		CHECK_EQ(ino_verdict(blk), 0);
		CHECK_EQ(kv_le64_to_cpu(*kvfs_bmdr_ptr(fork, fsz, 1)),
			 3 * agb + 400);
		p[1] = kv_cpu_to_le64(3 * agb + KVFS_AGI_AGBNO);
		CHECK_EQ(ino_verdict(blk), -EUCLEAN);
		p[1] = kv_cpu_to_le64(cur.dblocks);
		CHECK_EQ(ino_verdict(blk), -EUCLEAN);
		p[1] = kv_cpu_to_le64(3 * agb + 400);
		k[1].startoff = kv_cpu_to_le64(0);
		CHECK_EQ(ino_verdict(blk), -EUCLEAN);
		k[1].startoff = kv_cpu_to_le64(5000);
		rb->level = kv_cpu_to_le16(0);
		CHECK_EQ(ino_verdict(blk), -EUCLEAN);
		rb->level = kv_cpu_to_le16(1);
		d->nextents = kv_cpu_to_le32(3); /* would fit as a list */
		CHECK_EQ(ino_verdict(blk), -EUCLEAN);
		d->nextents = kv_cpu_to_le32(1000);
		CHECK_EQ(ino_verdict(blk), 0);
		/* random forks: refused, and never a crash */
		for (int i = 0; i < 200; i++) {
			for (uint32_t j = 0; j < fsz; j++)
				fork[j] = (uint8_t)rand_r(&seed);
			refused += ino_verdict(blk) == -EUCLEAN;
		}
		CHECK_EQ(refused, 200);
	}

	/* times before 1970; device numbers only on devices */
	reg_inode(blk, &x);
	d->mtime.sec = kv_cpu_to_le64((uint64_t)-86400);
	CHECK_EQ(ino_verdict(blk), 0);
	CHECK_EQ((int64_t)kv_le64_to_cpu(d->mtime.sec), -86400);
	d->rdev = kv_cpu_to_le64(8ULL << 32 | 1);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	kvfs_dinode_init(blk, &cur, cur.rootino, S_IFBLK | 0600, 1, 0, 0, -1, 0,
			 0);
	d->rdev = kv_cpu_to_le64(8ULL << 32 | 1);
	CHECK_EQ(ino_verdict(blk), 0);
	d->nextents = kv_cpu_to_le32(1);
	set_ext((void *)fork, 0, agb + 100, 1);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN); /* a device has no extents */

	/* next_unlinked: an agino of this AG, never the inode itself */
	reg_inode(blk, &x);
	d->next_unlinked =
		kv_cpu_to_le32(kvfs_ino_to_agino(&cur, cur.rootino) + 9);
	CHECK_EQ(ino_verdict(blk), 0);
	d->next_unlinked = kv_cpu_to_le32(kvfs_ino_to_agino(&cur, cur.rootino));
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	d->next_unlinked = kv_cpu_to_le32(1); /* in the AG headers */
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);

	/* an inline fork counts no extents (tools/fuzz-campaign's find) */
	kvfs_dinode_init(blk, &cur, cur.rootino, S_IFDIR | 0755, 2, 0, 0, 1, 0,
			 0);
	CHECK_EQ(kvfs_dir_sf_init(blk, &cur, cur.rootino), 0);
	CHECK_EQ(ino_verdict(blk), 0);
	d->nextents = kv_cpu_to_le32(2000);
	CHECK_EQ(ino_verdict(blk), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "inline data fork has extents"));
	kvfree(blk);
}

/* Sparse inode-chunk records: hole mask, count and free mask agree. */
static void test_sparse_inobt(void)
{
	struct kvfs_inobt_rec *r;
	uint8_t *blk;
	uint64_t holes;

	geom_for(1 * GIB, 4096, 4, 0, 0, &cur); /* 8 inodes a block */
	blk = kvmalloc(cur.blocksize, 0);
	CHECK(blk);
	kvfs_btree_init_block(blk, &cur, &kvfs_inobt_ops,
			      kvfs_agb_to_fsb(&cur, 1, 9), 1, 0, 1);
	r = kvfs_btree_rec(blk, &kvfs_inobt_ops, 0);
	/* blocks 2, 3 and 6 of the chunk are holes: 2 mask bits each */
	holes = kvfs_inobt_holes(0x0cf0);
	CHECK_EQ(holes, 0x0000ff00ffff0000ULL);
	r->startino = kv_cpu_to_le32(kvfs_agbno_to_agino(&cur, 64));
	r->holemask = kv_cpu_to_le16(0x30f0);
	r->count = 40;
	r->freemask = kv_cpu_to_le64(kvfs_inobt_holes(0x30f0) | 0x3);
	r->freecount = 2;
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), 0);
	r->count = 64;
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	r->count = 40;
	r->freecount = 26; /* counted the holes as free inodes */
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	r->freecount = 2;
	r->freemask = kv_cpu_to_le64(0x3); /* holes not marked free */
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	/* half a block as a hole */
	r->holemask = kv_cpu_to_le16(0x10f0);
	r->count = 44;
	r->freemask = kv_cpu_to_le64(kvfs_inobt_holes(0x10f0) | 0x3);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "part of a block"));
	/* the allocated inodes lie inside the AG */
	r->startino = kv_cpu_to_le32(
		kvfs_agbno_to_agino(&cur, kvfs_ag_length(&cur, 1) - 8));
	r->holemask = kv_cpu_to_le16(0xff00);
	r->count = 32;
	r->freemask = kv_cpu_to_le64(~0ULL); /* all allocated inodes free */
	r->freecount = 32;
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), 0);
	r->startino = kv_cpu_to_le32(
		kvfs_agbno_to_agino(&cur, kvfs_ag_length(&cur, 1)));
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "past the end"));
	r->holemask = kv_cpu_to_le16(0xffff);
	r->count = 0;
	r->freecount = 0;
	r->freemask = kv_cpu_to_le64(~0ULL);
	CHECK_EQ(reseal_verify(blk, cur.blocksize, verify_inobt), -EUCLEAN);
	kvfree(blk);
}

static void test_parse(void)
{
	uint8_t u[16];
	char s[37];
	uint64_t v;

	CHECK_EQ(kvfs_parse_size("123", &v), 0);
	CHECK_EQ(v, 123);
	CHECK_EQ(kvfs_parse_size("4K", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(kvfs_parse_size("16m", &v), 0);
	CHECK_EQ(v, 16 * MIB);
	CHECK_EQ(kvfs_parse_size("64G", &v), 0);
	CHECK_EQ(v, 64 * GIB);
	CHECK_EQ(kvfs_parse_size("2T", &v), 0);
	CHECK_EQ(v, 2ULL << 40);
	CHECK_EQ(kvfs_parse_size("12X", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("1GG", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("-1", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("G", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("99999999999999999999", &v), -EINVAL);
	CHECK_EQ(kvfs_parse_size("16777216T", &v), -EINVAL);

	CHECK_EQ(kvfs_uuid_parse("01020304-0506-0708-090a-0B0C0D0E0F10", u), 0);
	CHECK(!memcmp(u, test_uuid, 16));
	kvfs_uuid_format(u, s);
	CHECK(!strcmp(s, "01020304-0506-0708-090a-0b0c0d0e0f10"));
	CHECK_EQ(kvfs_uuid_parse("01020304-0506-0708-090a-0b0c0d0e0f1", u),
		 -EINVAL);
	CHECK_EQ(kvfs_uuid_parse("01020304-0506-0708-090a-0b0c0d0e0f100", u),
		 -EINVAL);
	CHECK_EQ(kvfs_uuid_parse("0102030405-06-0708-090a-0b0c0d0e0f10", u),
		 -EINVAL);
	CHECK_EQ(kvfs_uuid_parse("g1020304-0506-0708-090a-0b0c0d0e0f10", u),
		 -EINVAL);
	CHECK_EQ(kvfs_uuid_generate(u), 0);
	CHECK_EQ(u[6] >> 4, 4);
}

static void test_probe(void)
{
	uint8_t *b = kvzalloc(KVFS_PROBE_BYTES, 0);
	kv_le32 m = kv_cpu_to_le32(KVFS_SB_MAGIC);

	CHECK(b);
	CHECK(!kvfs_probe_signature(b, KVFS_PROBE_BYTES));
	memcpy(b, &m, 4);
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "kvfs"));
	memcpy(b, "XFSB", 4);
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "XFS"));
	memset(b, 0, 4);
	b[1080] = 0x53;
	b[1081] = 0xef;
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "ext2"));
	b[1024 + 0x5c] = 0x4;
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "ext3"));
	b[1024 + 0x60] = 0x40;
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "ext4"));
	CHECK(!kvfs_probe_signature(b, 1000)); /* too short to see it */
	memset(b, 0, KVFS_PROBE_BYTES);
	memcpy(b + 65536 + 64, "_BHRfS_M", 8);
	CHECK(!strcmp(kvfs_probe_signature(b, KVFS_PROBE_BYTES), "btrfs"));
	kvfree(b);
}

/* mkfs through the library on a temp file, then the whole-fs check. */
static void test_mkfs_lib(void)
{
	static const struct {
		uint64_t size;
		uint32_t bs, agcount;
		uint64_t agsize, logsize;
	} cases[] = {
		{ 16 * MIB, 1024, 0, 0, 0 },
		{ 64 * MIB, 2048, 3, 0, 0 },
		{ 200 * MIB, 4096, 0, 32 * MIB, 6 * MIB },
		{ 300 * MIB, 8192, 0, 0, 0 },
		{ 300 * MIB, 65536, 2, 0, 16 * MIB },
		{ 64 * GIB, 0, 0, 0, 0 },
	};
	char path[] = "/tmp/kvfs-test-format-XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvfs_mkfs_opts o = {
			.target = path,
			.size = cases[i].size,
			.blocksize = cases[i].bs,
			.agcount = cases[i].agcount,
			.agsize = cases[i].agsize,
			.logsize = cases[i].logsize,
			.label = "lib",
			.uuid = test_uuid,
			.force = true,
		};
		struct kvfs_check_stats st;
		struct kvfs_geom g, rd;
		struct kv_dev *dev;
		uint8_t *log;

		CHECK_EQ(truncate(path, 0), 0);
		CHECK_EQ(kvfs_mkfs(&o, &g), 0);
		CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
		CHECK_EQ(kvfs_sb_read(dev, &rd), 0);
		CHECK(!memcmp(&g, &rd, sizeof(g)));
		CHECK_EQ(kvfs_check_fs(dev, &rd, &st), 0);
		CHECK_EQ(st.sbs, g.agcount);
		CHECK_EQ(st.aghs, 3 * g.agcount);
		CHECK_EQ(st.tree_blocks, 3 * g.agcount);
		CHECK_EQ(st.inodes, g.ialloc_inos);
		/* the log is all zero */
		log = kvmalloc(1 << 20, 0);
		CHECK(log);
		for (uint64_t off = 0;
		     off < (uint64_t)g.logblocks * g.blocksize;
		     off += 1 << 20) {
			CHECK_EQ(
				kv_dev_pread(dev, log, 1 << 20,
					     kvfs_fsb_to_bytes(&g, g.logstart) +
						     off),
				0);
			for (unsigned j = 0; j < (1 << 20); j++)
				if (log[j])
					CHECK(!"log not zero");
		}
		kvfree(log);
		kv_dev_close(dev);
	}
	/* without force an existing kvfs is refused, with the reason */
	{
		struct kvfs_mkfs_opts o = { .target = path };
		struct kvfs_geom g;

		CHECK_EQ(kvfs_mkfs(&o, &g), -EEXIST);
		CHECK(strstr(o.err, "existing kvfs signature"));
	}
	/* a dirty log region is zeroed again by the next mkfs */
	{
		struct kvfs_mkfs_opts o = { .target = path, .force = true };
		struct kvfs_geom g;
		struct kv_dev *dev;
		uint8_t junk[4096], back[4096];

		memset(junk, 0xa5, sizeof(junk));
		CHECK_EQ(kvfs_mkfs(&o, &g), 0);
		CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
		CHECK_EQ(kv_dev_pwrite(dev, junk, sizeof(junk),
				       kvfs_fsb_to_bytes(&g, g.logstart + 3)),
			 0);
		CHECK_EQ(kvfs_mkfs_write(dev, &g, o.err, sizeof(o.err)), 0);
		CHECK_EQ(kv_dev_pread(dev, back, sizeof(back),
				      kvfs_fsb_to_bytes(&g, g.logstart + 3)),
			 0);
		for (unsigned j = 0; j < sizeof(back); j++)
			CHECK_EQ(back[j], 0);
		kv_dev_close(dev);
	}
	unlink(path);
}

/*
 * A mkfs cut short at any write leaves either no superblock or a complete
 * filesystem: the primary superblock is written last, after a flush.
 */
/* mkfs onto path (zeroed first), crashing after write crash_after (0: none). */
static uint64_t mkfs_crashing(const char *path, const struct kvfs_geom *g,
			      uint64_t size, uint64_t crash_after)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_CRASH,
				  .crash_after = crash_after };
	struct kv_dev *dev;
	char err[256];
	uint64_t n;

	CHECK_EQ(truncate(path, 0), 0);
	CHECK_EQ(truncate(path, (off_t)size), 0);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	if (crash_after)
		CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	CHECK_EQ(kvfs_mkfs_write(dev, g, err, sizeof(err)), 0);
	n = kv_dev_nr_writes(dev);
	kv_dev_close(dev);
	return n;
}

/* 0 if path holds a filesystem that checks clean, else kvfs_sb_read's. */
static int sb_state(const char *path)
{
	struct kvfs_check_stats st;
	struct kvfs_geom rd;
	struct kv_dev *dev;
	int ret;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	ret = kvfs_sb_read(dev, &rd);
	if (!ret)
		CHECK_EQ(kvfs_check_fs(dev, &rd, &st), 0);
	kv_dev_close(dev);
	return ret;
}

/*
 * A mkfs cut short at any write leaves either no superblock or a complete
 * filesystem: the primary superblock is written last, after a flush.
 */
static void test_mkfs_crash(void)
{
	char path[] = "/tmp/kvfs-test-crash-XXXXXX";
	struct kvfs_mkfs_opts o = { .size = 64 * MIB, .agcount = 4 };
	struct kvfs_geom g;
	uint64_t total;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	o.target = path;
	o.force = true;
	CHECK_EQ(kvfs_mkfs_plan(&o, &g), 0);
	total = mkfs_crashing(path, &g, o.size, 0);
	CHECK(total >= 6); /* 4 AGs, the inode chunk, the superblock */
	CHECK_EQ(sb_state(path), 0);
	for (uint64_t n = 1; n < total; n++) {
		mkfs_crashing(path, &g, o.size, n);
		CHECK_EQ(sb_state(path), -ENODATA);
	}
	mkfs_crashing(path, &g, o.size, total);
	CHECK_EQ(sb_state(path), 0);
	unlink(path);
}

/*
 * Structure fuzzing: random bytes in a valid block, crc resealed so the
 * structure checks run.  Every verdict is 0 or -EUCLEAN, never a crash
 * (the debug build runs this under ASan/UBSan).
 */
static void test_fuzz(void)
{
	struct kvfs_agf_info a = {
		.agno = 1, .bno_root = 4, .cnt_root = 5, .btreeblks = 2
	};
	int (*verify[4])(const void *) = { verify_sb, verify_agf, verify_bno,
					   verify_ino };
	unsigned seed = 12345, hits[4] = { 0 }, ok[4] = { 0 };
	uint8_t *blk;

	geom_for(1 * GIB, 4096, 4, 0, 0, &cur);
	a.length = kvfs_ag_length(&cur, 1);
	blk = kvmalloc(cur.blocksize, 0);
	CHECK(blk);
	for (int iter = 0; iter < 4000; iter++) {
		unsigned type = (unsigned)iter % 4, nflip;
		size_t len = type == 3 ? cur.inodesize : cur.blocksize;
		int ret;

		if (type == 0) {
			kvfs_sb_to_disk(&cur, 1, blk);
		} else if (type == 1) {
			kvfs_agf_to_disk(&cur, &a, blk);
		} else if (type == 2) {
			struct kvfs_alloc_rec *r;

			kvfs_btree_init_block(blk, &cur, &kvfs_bnobt_ops,
					      kvfs_agb_to_fsb(&cur, 1, 9), 1, 0,
					      2);
			r = kvfs_btree_rec(blk, &kvfs_bnobt_ops, 0);
			r[0].startblock = kv_cpu_to_le32(10);
			r[0].blockcount = kv_cpu_to_le32(5);
			r[1].startblock = kv_cpu_to_le32(20);
			r[1].blockcount = kv_cpu_to_le32(5);
		} else {
			kvfs_dinode_init(blk, &cur, cur.rootino, S_IFDIR | 0755,
					 3, 0, 0, 1, 0, 0);
			kvfs_dir_sf_init(blk, &cur, cur.rootino);
			kvfs_dir_sf_add(blk, &cur, "lost+found", cur.lpfino,
					KVFS_FT_DIR);
		}
		/* one to four random bytes among the first 300 (the fields) */
		nflip = 1 + (unsigned)rand_r(&seed) % 4;
		for (unsigned i = 0; i < nflip; i++)
			blk[(unsigned)rand_r(&seed) % 300] =
				(uint8_t)rand_r(&seed);
		ret = reseal_verify(blk, len, verify[type]);
		CHECK(ret == 0 || ret == -EUCLEAN);
		hits[type] += ret == -EUCLEAN;
		ok[type] += ret == 0;
	}
	for (int t = 0; t < 4; t++)
		CHECK(hits[t] > 100 && ok[t] > 0); /* both verdicts occur */
	kvfree(blk);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	test_geometry();
	test_ino_math();
	test_structures();
	test_inode_verifier();
	test_sparse_inobt();
	test_parse();
	test_probe();
	test_mkfs_lib();
	test_mkfs_crash();
	test_fuzz();
	kv_fini();
	printf("format: ok\n");
	return 0;
}
