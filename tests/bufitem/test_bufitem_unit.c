// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the buffer log item: the dirty map's 128-byte rounding,
 * cumulative deltas until write-back, relogging in the same context, the
 * on-disk delta format (through what recovery hands to
 * kvfs_bli_describe()), replay skipping blocks already as new, replay onto
 * a block never written, a multi-block buffer whose map spans words,
 * malformed deltas, and items being freed so memory stays bounded.
 */
#include "tests/bufitem/bi.h"

#define BLK 1024
#define LOGB (256 * 1024)
#define BIG_NBLKS 64 /* one 64 KiB buffer of 1 KiB blocks */

static const uint8_t zero_uuid[KVFS_UUID_SIZE];

static struct kvj_log_params sync_params(void)
{
	struct kvj_log_params p = { .no_threads = true };

	return p;
}

/* One transaction setting block i's bytes [first, last] to val. */
static uint64_t tx_set(struct bi *t, unsigned i, unsigned first, unsigned last,
		       uint8_t val)
{
	struct kvj_trans *tp;
	struct kv_buf *bp;
	uint64_t seq;

	CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t->bl, bi_blk(t, i), 1, &bi_buf_ops,
				  &bp) == 0);
	memset((uint8_t *)bp->b_addr + first, val, last - first + 1);
	kvfs_trans_log_buf(tp, bp, first, last);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	return seq;
}

/* Recovery saw exactly this delta (deltas of one checkpoint: any order). */
static void check_line(struct bi *t, const char *want)
{
	unsigned i;

	for (i = 0; i < t->nr_lines; i++)
		if (!strcmp(t->lines[i], want))
			return;
	fprintf(stderr, "no delta '%s' among:\n", want);
	for (i = 0; i < t->nr_lines; i++)
		fprintf(stderr, "  '%s'\n", t->lines[i]);
	exit(1);
}

static void reopen(struct bi *t, bool capture)
{
	struct kvj_log_params p = sync_params();

	bi_dev_open(t);
	t->capture = capture;
	CHECK(bi_log_open(t, &p) == 0);
	t->capture = false;
}

/* Rounding, cumulative deltas, relog in one context, replay. */
static void test_deltas(void)
{
	struct kvj_log_params p = sync_params();
	struct kvj_log_stats st;
	struct bi t;
	uint8_t blk[BLK];
	char want[256];
	uint64_t b0, b1, seq;
	unsigned i;

	bi_create(&t, "deltas", BLK, LOGB, 4);
	bi_dev_open(&t);
	bi_format_blocks(&t, 4);
	CHECK(bi_log_open(&t, &p) == 0);
	b0 = bi_blk(&t, 0);
	b1 = bi_blk(&t, 1);

	/*
	 * One byte logs its whole chunk; later deltas keep earlier chunks.
	 * Block 3 keeps the tail at the first checkpoint (block 0 moves on
	 * in the AIL when relogged), so recovery sees both deltas of block 0.
	 */
	tx_set(&t, 3, 64, 64, 0x33);
	seq = tx_set(&t, 0, 130, 130, 0xaa);
	CHECK(kvj_log_force(t.log, seq) == 0);
	seq = tx_set(&t, 0, 600, 700, 0xbb);
	CHECK(kvj_log_force(t.log, seq) == 0);
	/* two commits in one context: one delta, rewritten in place */
	tx_set(&t, 1, 200, 210, 0xcc);
	seq = tx_set(&t, 1, 900, 1000, 0xdd);
	kvj_log_get_stats(t.log, &st);
	CHECK(st.relogs >= 1);
	CHECK(kvj_log_force(t.log, seq) == 0);
	bi_crash(&t);

	reopen(&t, true);
	CHECK_EQ(t.nr_lines, 4);
	snprintf(
		want, sizeof(want),
		"buf block %llu nblks 1 map_words 1 logged 1 chunks: bytes 128-255",
		(unsigned long long)b0);
	check_line(&t, want);
	snprintf(
		want, sizeof(want),
		"buf block %llu nblks 1 map_words 1 logged 3 chunks: bytes 128-255,512-767",
		(unsigned long long)b0);
	check_line(&t, want);
	snprintf(
		want, sizeof(want),
		"buf block %llu nblks 1 map_words 1 logged 2 chunks: bytes 128-255,896-1023",
		(unsigned long long)b1);
	check_line(&t, want);
	CHECK_EQ(t.rst.applied, 4);
	CHECK_EQ(t.rst.skipped, 0);
	CHECK_EQ(t.rst.written, 3);
	bi_read_verified(&t, 0, blk);
	for (i = KVFS_BLK_HDR_SIZE; i < BLK; i++)
		CHECK(blk[i] == (i == 130	      ? 0xaa :
				 i >= 600 && i <= 700 ? 0xbb :
							0));
	CHECK(kv_le64_to_cpu(((struct kvfs_blk_hdr *)blk)->lsn) != 0);
	bi_read_verified(&t, 1, blk);
	for (i = KVFS_BLK_HDR_SIZE; i < BLK; i++)
		CHECK(blk[i] == (i >= 200 && i <= 210  ? 0xcc :
				 i >= 900 && i <= 1000 ? 0xdd :
							 0));

	/* written back at its checkpoint's LSN: replay skips the delta */
	seq = tx_set(&t, 2, 300, 300, 0xee);
	CHECK(kvj_log_force(t.log, seq) == 0);
	CHECK(kvj_log_drain(t.log) == 0);
	bi_crash(&t);
	reopen(&t, true);
	CHECK_EQ(t.nr_lines, 1);
	CHECK_EQ(t.rst.skipped, 1);
	CHECK_EQ(t.rst.applied, 0);
	CHECK_EQ(t.rst.written, 0);

	/* the write-back cleared the map: the next delta is only new bytes */
	seq = tx_set(&t, 2, 1000, 1000, 0x11);
	CHECK(kvj_log_force(t.log, seq) == 0);
	bi_crash(&t);
	reopen(&t, true);
	CHECK_EQ(t.nr_lines, 1);
	snprintf(
		want, sizeof(want),
		"buf block %llu nblks 1 map_words 1 logged 1 chunks: bytes 896-1023",
		(unsigned long long)bi_blk(&t, 2));
	check_line(&t, want);
	bi_read_verified(&t, 2, blk);
	CHECK(blk[300] == 0xee && blk[1000] == 0x11 && blk[299] == 0);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

/* A new 64 KiB buffer over never-written blocks, map across words. */
static void test_new_big_buffer(void)
{
	struct kvj_log_params p = sync_params();
	struct kvj_trans *tp;
	struct kv_buf *bp;
	struct bi t;
	char want[256];
	uint64_t seq, blkno;
	const uint8_t *b;
	unsigned i;

	bi_create(&t, "big", BLK, LOGB, BIG_NBLKS);
	bi_dev_open(&t);
	CHECK(bi_log_open(&t, &p) == 0);
	blkno = bi_blk(&t, 0);
	CHECK(kvj_trans_alloc(t.log, 8192, 0, &tp) == 0);
	CHECK(kvfs_trans_get_buf(tp, t.bl, blkno, BIG_NBLKS, &bi_buf_ops,
				 &bp) == 0);
	CHECK(bp->b_len == BIG_NBLKS * BLK);
	kvfs_blkhdr_init(bp->b_addr, BI_MAGIC, blkno, 0, zero_uuid);
	kvfs_trans_log_buf(tp, bp, 0, KVFS_BLK_HDR_SIZE - 1);
	memset((uint8_t *)bp->b_addr + 8190, 0x5a, 11);
	kvfs_trans_log_buf(tp, bp, 8190, 8200);
	memset((uint8_t *)bp->b_addr + 65535, 0x77, 1);
	kvfs_trans_log_buf(tp, bp, 65535, 65535);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	CHECK(kvj_log_force(t.log, seq) == 0);
	bi_crash(&t);

	reopen(&t, true);
	CHECK_EQ(t.nr_lines, 1);
	snprintf(want, sizeof(want),
		 "buf block %llu nblks 64 map_words 8 logged 4 chunks: bytes "
		 "0-127,8064-8319,65408-65535",
		 (unsigned long long)blkno);
	check_line(&t, want);
	CHECK_EQ(t.rst.written, 1);
	bi_log_close(&t);
	/* a fresh cache reads it back through the verifier */
	kv_bcache_destroy(t.bc);
	CHECK(kv_bcache_create(t.dev, BLK, 0, &t.bc) == 0);
	CHECK(kv_buf_read(t.bc, blkno, BIG_NBLKS, &bi_buf_ops, &bp) == 0);
	b = bp->b_addr;
	/* stamped with the LSN of the checkpoint replayed */
	CHECK(kv_le64_to_cpu(((const struct kvfs_blk_hdr *)b)->lsn) != 0);
	for (i = KVFS_BLK_HDR_SIZE; i < BIG_NBLKS * BLK; i++)
		CHECK(b[i] == (i >= 8190 && i <= 8200 ? 0x5a :
			       i == 65535	      ? 0x77 :
							0));
	kv_buf_rele(bp);
	bi_dev_close(&t);
	bi_remove(&t);
}

/* kvfs_bli_describe() on hand-made deltas. */
static void test_describe(void)
{
	uint8_t d[16 + 8 + 2 * KVFS_BLI_CHUNK];
	struct kvfs_buf_log_hdr *h = (struct kvfs_buf_log_hdr *)d;
	kv_le64 map = kv_cpu_to_le64(0x8000000000000005ull);
	uint8_t d3[16 + 8 + 3 * KVFS_BLI_CHUNK];
	char out[128];
	int n;

	memset(d, 0, sizeof(d));
	h->blkno = kv_cpu_to_le64(77);
	h->nblks = kv_cpu_to_le32(8);
	h->map_words = kv_cpu_to_le16(1);
	map = kv_cpu_to_le64(0x5ull);
	memcpy(d + 16, &map, 8);
	n = kvfs_bli_describe(d, sizeof(d), out, sizeof(out));
	CHECK(n > 0 && (size_t)n == strlen(out));
	CHECK(!strcmp(out, "buf block 77 nblks 8 map_words 1 logged 2 chunks: "
			   "bytes 0-127,256-383"));
	/* truncated like snprintf */
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, 10), 9);
	CHECK_EQ(strlen(out), 9);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, 0), 0);

	/* a run of chunks becomes one range */
	memset(d3, 0, sizeof(d3));
	memcpy(d3, d, 16);
	map = kv_cpu_to_le64(0x70ull);
	memcpy(d3 + 16, &map, 8);
	CHECK(kvfs_bli_describe(d3, sizeof(d3), out, sizeof(out)) > 0);
	CHECK(!strcmp(out, "buf block 77 nblks 8 map_words 1 logged 3 chunks: "
			   "bytes 512-895"));

	/* a cancel: no map bits, no chunks */
	{
		uint8_t c[16 + 8] = { 0 };
		struct kvfs_buf_log_hdr *ch = (struct kvfs_buf_log_hdr *)c;

		memcpy(c, d, 16);
		ch->flags = kv_cpu_to_le16(KVFS_BLF_CANCEL);
		CHECK(kvfs_bli_describe(c, sizeof(c), out, sizeof(out)) > 0);
		CHECK(!strcmp(out, "buf block 77 nblks 8 map_words 1 cancel"));
		/* a cancel with chunks is malformed */
		h->flags = kv_cpu_to_le16(KVFS_BLF_CANCEL);
		CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, sizeof(out)),
			 -EUCLEAN);
		h->flags = kv_cpu_to_le16(0);
	}

	/* malformed */
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d) - 1, out, sizeof(out)),
		 -EUCLEAN);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d) + 1, out, sizeof(out)),
		 -EUCLEAN);
	CHECK_EQ(kvfs_bli_describe(d, 8, out, sizeof(out)), -EUCLEAN);
	h->flags = kv_cpu_to_le16(2);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, sizeof(out)), -EUCLEAN);
	h->flags = kv_cpu_to_le16(0);
	h->map_words = kv_cpu_to_le16(0);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, sizeof(out)), -EUCLEAN);
	h->map_words = kv_cpu_to_le16(KVFS_BLI_MAP_WORDS + 1);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, sizeof(out)), -EUCLEAN);
	h->map_words = kv_cpu_to_le16(1);
	h->nblks = kv_cpu_to_le32(0);
	CHECK_EQ(kvfs_bli_describe(d, sizeof(d), out, sizeof(out)), -EUCLEAN);
}

#define MANY 1200

/* Idle items are freed: memory follows the buffers with changes. */
static void test_items_freed(void)
{
	struct kvj_log_params p = sync_params();
	struct kvj_trans *tp;
	struct kv_buf *bp;
	struct bi t;
	size_t before;
	unsigned i;

	bi_create(&t, "many", BLK, LOGB, MANY);
	bi_dev_open(&t);
	bi_format_blocks(&t, MANY);
	CHECK(bi_log_open(&t, &p) == 0);

	/* joined but unchanged: freed when the transaction ends */
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 0), 1, &bi_buf_ops,
				  &bp) == 0);
	CHECK_EQ(kvfs_bli_log_nr_items(t.bl), 1);
	CHECK(bp->b_log_item != NULL);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK_EQ(kvfs_bli_log_nr_items(t.bl), 0);

	for (i = 0; i < MANY; i++) {
		tx_set(&t, i, 100, 100, (uint8_t)i);
		if (i % 64 == 63) {
			CHECK(kvj_log_force(t.log, 0) == 0);
			CHECK(kvj_log_drain(t.log) == 0);
		}
	}
	/* swept as the count doubled: far fewer items than buffers */
	CHECK(kvfs_bli_log_nr_items(t.bl) < MANY * 3 / 4);
	CHECK(kvj_log_force(t.log, 0) == 0);
	CHECK(kvj_log_drain(t.log) == 0);
	/* a clean join of a written-back buffer frees its idle item */
	before = kvfs_bli_log_nr_items(t.bl);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, MANY - 1), 1,
				  &bi_buf_ops, &bp) == 0);
	CHECK(kvj_trans_commit(tp, NULL) == 0);
	CHECK(kvfs_bli_log_nr_items(t.bl) == before - 1);
	/* detached buffers are reclaimable again */
	CHECK(kv_bcache_shrink(t.bc, SIZE_MAX) > MANY / 4);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

/* Free block i in one transaction (kvfs_trans_binval). */
static uint64_t tx_free(struct bi *t, unsigned i)
{
	struct kvj_trans *tp;
	struct kv_buf *bp;
	uint64_t seq;

	CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t->bl, bi_blk(t, i), 1, &bi_buf_ops,
				  &bp) == 0);
	kvfs_trans_binval(tp, bp);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	return seq;
}

/* Block i reused as new metadata, every byte val past the header. */
static uint64_t tx_reuse(struct bi *t, unsigned i, uint8_t val)
{
	struct kvj_trans *tp;
	struct kv_buf *bp;
	uint64_t seq;

	CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_get_buf(tp, t->bl, bi_blk(t, i), 1, &bi_buf_ops,
				 &bp) == 0);
	memset(bp->b_addr, val, BLK);
	kvfs_blkhdr_init(bp->b_addr, BI_MAGIC, bi_blk(t, i), 0, zero_uuid);
	kvfs_trans_log_buf(tp, bp, 0, BLK - 1);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	return seq;
}

/*
 * A freed block: recovery drops the deltas before the cancel (the block
 * holds file data now) and replays the ones after (reused as metadata).
 */
static void test_cancel(void)
{
	struct kvj_log_params p = sync_params();
	uint8_t blk[BLK], data[BLK];
	struct bi t;
	char want[256];
	unsigned i;

	bi_create(&t, "cancel", BLK, LOGB, 4);
	bi_dev_open(&t);
	bi_format_blocks(&t, 4);
	CHECK(bi_log_open(&t, &p) == 0);
	/* block 3 holds the tail before block 0's first delta */
	tx_set(&t, 3, 64, 64, 0x33);
	tx_set(&t, 0, 200, 300, 0x77);
	CHECK(kvj_log_force(t.log, 0) == 0);
	CHECK(kvj_log_force(t.log, tx_free(&t, 0)) == 0);
	/* durable: block 0 is file data now */
	memset(data, 0xd5, sizeof(data));
	CHECK(kv_dev_pwrite(t.dev, data, BLK, bi_blk(&t, 0) * BLK) == 0);
	/* block 1: changed, freed, reused as metadata, all in the log */
	tx_set(&t, 1, 500, 600, 0x55);
	CHECK(kvj_log_force(t.log, 0) == 0);
	tx_free(&t, 1);
	CHECK(kvj_log_force(t.log, tx_reuse(&t, 1, 0x99)) == 0);
	bi_crash(&t);

	reopen(&t, true);
	CHECK_EQ(t.rst.cancelled, 2);
	/* the scan pass saw both cancels: the deltas before them are skipped */
	CHECK_EQ(t.rst.freed_later, 2);
	snprintf(want, sizeof(want),
		 "buf block %llu nblks 1 map_words 1 cancel",
		 (unsigned long long)bi_blk(&t, 0));
	check_line(&t, want);
	snprintf(
		want, sizeof(want),
		"buf block %llu nblks 1 map_words 1 logged 2 chunks: bytes 128-383",
		(unsigned long long)bi_blk(&t, 0));
	check_line(&t, want);
	CHECK(kv_dev_pread(t.dev, blk, BLK, bi_blk(&t, 0) * BLK) == 0);
	CHECK(!memcmp(blk, data, BLK));
	bi_read_verified(&t, 1, blk);
	for (i = KVFS_BLK_HDR_SIZE; i < BLK; i++)
		CHECK(blk[i] == 0x99);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

/* A buffer got twice in one transaction is the same, locked once. */
static void test_recursion(void)
{
	struct kvj_log_params p = sync_params();
	struct kv_buf *bp, *bp2, *bp3;
	struct kvj_trans *tp;
	struct bi t;
	uint8_t blk[BLK];
	uint64_t seq;

	bi_create(&t, "recur", BLK, LOGB, 2);
	bi_dev_open(&t);
	bi_format_blocks(&t, 2);
	CHECK(bi_log_open(&t, &p) == 0);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 0), 1, &bi_buf_ops,
				  &bp) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 1), 1, &bi_buf_ops,
				  &bp3) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 0), 1, &bi_buf_ops,
				  &bp2) == 0);
	CHECK(bp2 == bp);
	CHECK(kvfs_trans_get_buf(tp, t.bl, bi_blk(&t, 0), 1, &bi_buf_ops,
				 &bp2) == 0);
	CHECK(bp2 == bp);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 0), 2, &bi_buf_ops,
				  &bp2) == -EINVAL);
	((uint8_t *)bp->b_addr)[700] = 0x70;
	kvfs_trans_log_buf(tp, bp, 700, 700);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	/* both released: another transaction locks them again */
	seq = tx_set(&t, 0, 701, 701, 0x71);
	CHECK(kvj_log_force(t.log, tx_set(&t, 1, 64, 64, 0x11)) == 0);
	bi_crash(&t);
	reopen(&t, false);
	bi_read_verified(&t, 0, blk);
	CHECK(blk[700] == 0x70 && blk[701] == 0x71);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

/*
 * Blocks 64 apart share the thread's hint of held blocks: releasing one
 * (kvfs_trans_brelse(), kvfs_trans_brelse_since()) must leave the other
 * found, not got again (which would deadlock on its lock); blocks of an
 * empty hint are got from the cache and joined.
 */
static void test_recursion_aliased(void)
{
	struct kvj_log_params p = sync_params();
	struct kv_buf *bp[4], *again;
	struct kvj_trans *tp;
	unsigned mark, i;
	struct bi t;
	uint64_t seq;

	bi_create(&t, "recur_alias", BLK, LOGB, 130);
	bi_dev_open(&t);
	bi_format_blocks(&t, 130);
	CHECK(bi_log_open(&t, &p) == 0);
	CHECK(kvj_trans_alloc(t.log, 4096, 0, &tp) == 0);
	for (i = 0; i < 3; i++)
		CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, i * 64), 1,
					  &bi_buf_ops, &bp[i]) == 0);
	CHECK(kvfs_trans_brelse(tp, bp[1]));
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 0), 1, &bi_buf_ops,
				  &again) == 0);
	CHECK(again == bp[0]);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 128), 1, &bi_buf_ops,
				  &again) == 0);
	CHECK(again == bp[2]);
	/* got again after its release: a buffer of its own, locked again */
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 64), 1, &bi_buf_ops,
				  &bp[1]) == 0);
	mark = kvfs_trans_buf_mark(tp);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 65), 1, &bi_buf_ops,
				  &bp[3]) == 0);
	CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, 129), 1, &bi_buf_ops,
				  &again) == 0);
	CHECK(kvfs_trans_brelse_since(tp, mark));
	for (i = 0; i < 3; i++) {
		CHECK(kvfs_trans_read_buf(tp, t.bl, bi_blk(&t, i * 64), 1,
					  &bi_buf_ops, &again) == 0);
		CHECK(again == bp[i]);
	}
	((uint8_t *)bp[1]->b_addr)[700] = 0x64;
	kvfs_trans_log_buf(tp, bp[1], 700, 700);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	/* all released: another transaction locks them again */
	CHECK(kvj_log_force(t.log, tx_set(&t, 65, 64, 64, 0x65)) == 0);
	CHECK(kvj_log_force(t.log, tx_set(&t, 128, 64, 64, 0x80)) == 0);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

/* A failed write-back shuts the log down; the log still has the change. */
static void test_writeback_error(void)
{
	struct kvj_log_params p = sync_params();
	struct kv_dev_fault f = { .modes = KV_FAULT_FAIL_WRITE };
	struct bi t;
	uint8_t blk[BLK];
	uint64_t seq;

	bi_create(&t, "wberr", BLK, LOGB, 2);
	bi_dev_open(&t);
	bi_format_blocks(&t, 2);
	CHECK(bi_log_open(&t, &p) == 0);
	seq = tx_set(&t, 1, 500, 520, 0x42);
	CHECK(kvj_log_force(t.log, seq) == 0);
	/* the next write is the AIL's write-back of block 1 */
	f.fail_write = kv_dev_nr_writes(t.dev) + 1;
	CHECK(kv_dev_set_fault(t.dev, &f) == 0);
	CHECK(kvj_log_drain(t.log) == -EIO);
	CHECK(kvj_log_is_shutdown(t.log));
	bi_crash(&t);
	reopen(&t, false);
	CHECK_EQ(t.rst.applied, 1);
	bi_read_verified(&t, 1, blk);
	CHECK(blk[500] == 0x42 && blk[520] == 0x42 && blk[521] == 0);
	bi_log_close(&t);
	bi_dev_close(&t);
	bi_remove(&t);
}

int main(void)
{
	bi_init(256 << 20);
	test_describe();
	test_deltas();
	test_new_big_buffer();
	test_items_freed();
	test_writeback_error();
	test_cancel();
	test_recursion();
	test_recursion_aliased();
	bi_fini();
	printf("bufitem unit: ok\n");
	return 0;
}
