// SPDX-License-Identifier: GPL-2.0
/*
 * The inode-chunk creation item's replay (fs/inode/icreate_item.h), on a
 * bare device and buffer cache:
 *
 * 1. A valid item writes its blocks byte for byte as kvfs_icluster_init()
 *    does (what the allocation wrote), every inode verifying as a free one;
 *    a block cancelled in a later checkpoint (or its own) is left as it
 *    was, one cancelled before the item is written; written back in
 *    batches when the replay holds its limit of blocks.
 * 2. Items that describe no chunk (wrong length, AG past the last, over
 *    the AG headers, past the AG's end, over the log, another inode size,
 *    a count or length the geometry cannot give, misaligned, padding or
 *    nanoseconds out of range) fail with -EUCLEAN, write nothing, and
 *    the report names the item and why.
 * 3. The describer prints a valid item as one line and refuses the rest.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/dinode.h"
#include "fs/format/geom.h"
#include "fs/inode/icreate_item.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/io/dev.h"
#include "tests/check.h"

#define LSN_ITEM KVJ_LSN(1, 100)
#define SEC 1700000000
#define NSEC 123456789u
#define GEN 0x5eed1234u

struct fsdev {
	char path[256];
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kv_bcache *bc;
	struct kvj_recover_ops bops, ops;
};

static void fsdev_open(struct fsdev *d)
{
	struct kvfs_geom_params p = {
		.size = 40ull << 20,
		.agcount = 2,
		.logsize = 4ull << 20,
	};
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char err[256];
	int fd;

	CHECK(kvfs_geom_compute(&p, &d->g, err, sizeof(err)) == 0);
	snprintf(d->path, sizeof(d->path), "%s/kvfs-icreate-item-%d.img", dir,
		 (int)getpid());
	fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)p.size) == 0);
	close(fd);
	CHECK_EQ(kv_dev_open(d->path, 0, &d->dev), 0);
	CHECK_EQ(kv_bcache_create(d->dev, d->g.blocksize, 1 << 20, &d->bc), 0);
	kv_bcache_set_private(d->bc, &d->g);
	CHECK_EQ(kvfs_bli_recover_ops(d->bc, NULL, d->g.meta_uuid, &d->bops),
		 0);
	CHECK_EQ(kvfs_icreate_recover_ops(d->bc, &d->g, &d->bops, &d->ops), 0);
}

static void fsdev_close(struct fsdev *d)
{
	kvfs_icreate_recover_free(&d->ops);
	kvfs_bli_recover_free(&d->bops);
	kv_bcache_destroy(d->bc);
	kv_dev_close(d->dev);
	unlink(d->path);
}

static struct kvfs_icreate_log item(const struct kvfs_geom *g, uint32_t agno,
				    uint32_t agbno, uint32_t length)
{
	struct kvfs_icreate_log f = {
		.agno = kv_cpu_to_le32(agno),
		.agbno = kv_cpu_to_le32(agbno),
		.length = kv_cpu_to_le32(length),
		.count = kv_cpu_to_le32(length * g->inopblock),
		.isize = kv_cpu_to_le32(g->inodesize),
		.gen = kv_cpu_to_le32(GEN),
		.sec = kv_cpu_to_le64(SEC),
		.nsec = kv_cpu_to_le32(NSEC),
	};

	return f;
}

/* A buffer cancel of blkno in the checkpoint at lsn, for the scan pass. */
static void scan_cancel(struct fsdev *d, uint64_t blkno, kvj_lsn_t lsn)
{
	struct {
		struct kvfs_buf_log_hdr h;
		kv_le64 map;
	} c = {
		.h = { .blkno = kv_cpu_to_le64(blkno),
		       .nblks = kv_cpu_to_le32(1),
		       .map_words = kv_cpu_to_le16(
			       (uint16_t)((d->g.blocksize / KVFS_BLI_CHUNK +
					   63) /
					  64)),
		       .flags = kv_cpu_to_le16(KVFS_BLF_CANCEL) },
	};
	uint32_t len = sizeof(c.h) + kv_le16_to_cpu(c.h.map_words) * 8u;
	static uint8_t
		buf[sizeof(struct kvfs_buf_log_hdr) + KVFS_BLI_MAP_WORDS * 8];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &c.h, sizeof(c.h));
	CHECK_EQ(d->bops.scan(d->bops.priv, buf, len, lsn), 0);
}

static void read_block(struct fsdev *d, uint64_t fsb, void *out)
{
	CHECK_EQ(
		kv_dev_pread(d->dev, out, d->g.blocksize, fsb << d->g.blocklog),
		0);
}

static void test_replay(void)
{
	struct kvfs_icreate_recover_stats st;
	struct fsdev d;
	struct kvfs_icreate_log f;
	uint32_t agbno, b, i;
	uint64_t fsb;
	uint8_t *want, *got, *zero;

	fsdev_open(&d);
	want = malloc(d.g.blocksize);
	got = malloc(d.g.blocksize);
	zero = calloc(1, d.g.blocksize);
	CHECK(want && got && zero);
	/* written back two blocks at a time: the batches lose nothing */
	kvfs_icreate_recover_set_limit(&d.ops, 2);
	agbno = 2 * d.g.ialloc_blocks;
	fsb = kvfs_agb_to_fsb(&d.g, 1, agbno);
	/* block 1 freed later, block 2 in the item's own checkpoint, 3 before */
	scan_cancel(&d, fsb + 1, LSN_ITEM + 8);
	scan_cancel(&d, fsb + 2, LSN_ITEM);
	scan_cancel(&d, fsb + 3, LSN_ITEM - 8);
	f = item(&d.g, 1, agbno, d.g.ialloc_blocks);
	CHECK_EQ(d.ops.replay(d.ops.priv, &f, sizeof(f), LSN_ITEM), 0);
	CHECK_EQ(d.ops.finish(d.ops.priv), 0);
	kvfs_icreate_recover_get_stats(&d.ops, &st);
	CHECK_EQ(st.items, 1);
	CHECK_EQ(st.cancelled, 2);
	CHECK_EQ(st.blocks, d.g.ialloc_blocks - 2);
	for (b = 0; b < d.g.ialloc_blocks; b++) {
		read_block(&d, fsb + b, got);
		if (b == 1 || b == 2) {
			CHECK(!memcmp(got, zero, d.g.blocksize));
			continue;
		}
		kvfs_icluster_init(&d.g, want, fsb + b, SEC, NSEC, GEN);
		CHECK(!memcmp(got, want, d.g.blocksize));
		for (i = 0; i < d.g.inopblock; i++) {
			uint64_t ino = kvfs_agino_to_ino(
				&d.g, 1,
				kvfs_agbno_to_agino(&d.g, agbno + b) + i);
			const struct kvfs_dinode *dip =
				(const void *)(got +
					       kvfs_ino_to_offset(&d.g, ino));

			CHECK_EQ(kvfs_dinode_verify(dip, &d.g, ino), 0);
			CHECK_EQ(kv_le16_to_cpu(dip->mode), 0);
			CHECK_EQ(kv_le32_to_cpu(dip->generation), GEN);
		}
	}
	free(want);
	free(got);
	free(zero);
	fsdev_close(&d);
}

/* The item f refused, with a report naming it and saying why. */
static void refused(struct fsdev *d, struct kvfs_icreate_log f, uint32_t len,
		    const char *why)
{
	const struct kvfs_report *r;

	CHECK_EQ(d->ops.replay(d->ops.priv, &f, len, LSN_ITEM), -EUCLEAN);
	r = kvfs_report_last();
	CHECK_EQ(r->err, -EUCLEAN);
	if (!strstr(r->msg, "malformed inode-chunk creation") ||
	    !strstr(r->msg, why)) {
		fprintf(stderr, "report \"%s\" does not say \"%s\"\n", r->msg,
			why);
		CHECK(0);
	}
}

static void test_malformed(void)
{
	struct kvfs_icreate_recover_stats st;
	struct kvfs_icreate_log f, ok;
	struct fsdev d;
	const struct kvfs_geom *g;
	uint32_t chunk, last, logag;

	fsdev_open(&d);
	g = &d.g;
	chunk = g->ialloc_blocks;
	ok = item(g, 0, 2 * chunk, chunk);
	refused(&d, ok, sizeof(ok) - 1, "length");
	refused(&d, ok, sizeof(ok) + 8, "length");
	f = ok;
	f.agno = kv_cpu_to_le32(g->agcount);
	refused(&d, f, sizeof(f), "AG past");
	f = item(g, 0, 0, chunk);
	refused(&d, f, sizeof(f), "headers");
	last = kvfs_ag_length(g, g->agcount - 1);
	f = item(g, g->agcount - 1, (last / chunk + 1) * chunk, chunk);
	refused(&d, f, sizeof(f), "end of its AG");
	logag = kvfs_fsb_to_agno(g, g->logstart);
	f = item(g, logag,
		 kvfs_fsb_to_agbno(g, g->logstart) / chunk * chunk + chunk,
		 chunk);
	refused(&d, f, sizeof(f), "log");
	f = ok;
	f.isize = kv_cpu_to_le32(g->inodesize * 2);
	refused(&d, f, sizeof(f), "inode size");
	f = ok;
	f.count = kv_cpu_to_le32(chunk * g->inopblock + 1);
	refused(&d, f, sizeof(f), "count");
	f = item(g, 0, 2 * chunk, 0);
	refused(&d, f, sizeof(f), "length");
	f = item(g, 0, 2 * chunk, chunk + 1);
	refused(&d, f, sizeof(f), "length");
	f = item(g, 0, 2 * chunk + 1, chunk);
	refused(&d, f, sizeof(f), "misaligned");
	f = ok;
	f.pad0 = kv_cpu_to_le32(1);
	refused(&d, f, sizeof(f), "padding");
	f = ok;
	f.nsec = kv_cpu_to_le32(1000000000u);
	refused(&d, f, sizeof(f), "nanoseconds");
	kvfs_icreate_recover_get_stats(&d.ops, &st);
	CHECK_EQ(st.blocks, 0);
	/* the control: the same item, valid, is replayed */
	CHECK_EQ(d.ops.replay(d.ops.priv, &ok, sizeof(ok), LSN_ITEM), 0);
	kvfs_icreate_recover_get_stats(&d.ops, &st);
	CHECK_EQ(st.blocks, chunk);
	CHECK_EQ(d.ops.finish(d.ops.priv), 0);
	fsdev_close(&d);
}

static void test_describe(void)
{
	struct kvfs_geom_params p = { .size = 40ull << 20, .agcount = 2 };
	struct kvfs_icreate_log f;
	struct kvfs_geom g;
	const char *why = NULL;
	char out[160], err[256];
	int n;

	CHECK(kvfs_geom_compute(&p, &g, err, sizeof(err)) == 0);
	f = item(&g, 1, 64, 8);
	n = kvfs_icreate_describe(&g, &f, sizeof(f), out, sizeof(out), &why);
	CHECK_EQ(n, (int)strlen(out));
	CHECK(!strcmp(out, "icreate ag 1 agbno 64 length 8 count 64 isize 512 "
			   "gen 0x5eed1234 time 1700000000.123456789"));
	/* truncated like snprintf */
	n = kvfs_icreate_describe(&g, &f, sizeof(f), out, 8, NULL);
	CHECK_EQ(n, 7);
	CHECK(!strcmp(out, "icreate"));
	/* without a geometry only the framing is checked */
	f.agno = kv_cpu_to_le32(g.agcount);
	CHECK(kvfs_icreate_describe(NULL, &f, sizeof(f), out, sizeof(out),
				    NULL) > 0);
	CHECK_EQ(kvfs_icreate_describe(&g, &f, sizeof(f), out, sizeof(out),
				       &why),
		 -EUCLEAN);
	CHECK(why && strstr(why, "AG"));
	CHECK_EQ(kvfs_icreate_describe(&g, &f, 12, out, sizeof(out), NULL),
		 -EUCLEAN);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	test_replay();
	test_malformed();
	test_describe();
	CHECK_EQ(kv_fini(), 0);
	printf("icreate item: replay byte for byte, cancels honoured, "
	       "13 malformed items refused with their reason\n");
	return 0;
}
