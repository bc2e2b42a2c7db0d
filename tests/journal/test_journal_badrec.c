// SPDX-License-Identifier: GPL-2.0
/*
 * Records whose checksums hold but whose lengths do not (issue 12): the
 * parser must check every length read from the log before it allocates
 * or copies by it, and refuse the log with -EUCLEAN, naming the record.
 *
 * 1. A checkpoint whose commit record claims more bytes uncompressed than
 *    the log can hold (up to 4 GiB was allocated): the walk and recovery
 *    refuse it at the commit record's LSN and write nothing.  A claim of
 *    exactly the log's size still reaches the decompressor (and fails
 *    there, a torn tail as before).
 */
#include "journal/log_format.h"
#include "journal/logwalk.h"
#include "tests/journal/jt.h"
#include "tests/journal/mkrec.h"

#define LOGB (64 * 1024)

/* ---- 1: hand-built checkpoints ---- */

struct seen {
	unsigned ckpts, corrupt, torn;
	kvj_lsn_t lsn;
	char msg[320];
};

static int dev_read(void *priv, void *buf, size_t len, uint64_t off)
{
	return kv_dev_pread(((struct jt *)priv)->dev, buf, len, off);
}

static const struct kvj_io_ops ro_io = { .read = dev_read };

static int on_ckpt(void *priv, const struct kvj_walk_ckpt *c)
{
	(void)c;
	((struct seen *)priv)->ckpts++;
	return 0;
}

static int on_problem(void *priv, enum kvj_walk_problem what, kvj_lsn_t lsn,
		      const char *msg)
{
	struct seen *s = priv;

	printf("problem %d at %u/%u: %s\n", (int)what, KVJ_LSN_CYCLE(lsn),
	       KVJ_LSN_BLOCK(lsn), msg);
	if (what == KVJ_WALK_CORRUPT) {
		s->corrupt++;
		s->lsn = lsn;
		snprintf(s->msg, sizeof(s->msg), "%s", msg);
	} else {
		s->torn++;
	}
	return 0;
}

static const struct kvj_walk_ops walk_ops = {
	.ckpt = on_ckpt,
	.problem = on_problem,
};

/* The checkpoint at the start of t's log; the commit record's LSN. */
static kvj_lsn_t put_ckpt(struct jt *t, const void *stream, uint32_t len,
			  uint32_t comp, uint64_t ulen, uint32_t nr_items)
{
	static uint64_t log[LOGB / 8];
	kvj_lsn_t at = mkrec_ckpt((uint8_t *)log, sizeof(log), stream, len,
				  comp, ulen, nr_items);

	CHECK(at);
	CHECK(kv_dev_pwrite(t->dev, log, sizeof(log), 0) == 0);
	return at;
}

static uint32_t log_crc(struct jt *t)
{
	static uint8_t buf[LOGB];

	CHECK(kv_dev_pread(t->dev, buf, sizeof(buf), 0) == 0);
	return kv_crc32c(0, buf, sizeof(buf));
}

/* ulen too large for the log: refused at the commit record, log intact */
static void refused_ulen(struct jt *t, uint64_t ulen)
{
	uint8_t junk[600];
	char want[64];
	struct seen s = { 0 };
	kvj_lsn_t at;
	uint32_t crc;

	memset(junk, 0x5a, sizeof(junk));
	at = put_ckpt(t, junk, sizeof(junk), KVJ_COMP_ZSTD, ulen, 1);
	crc = log_crc(t);
	CHECK_EQ(kvj_log_walk(&ro_io, t, t->log_bytes, &walk_ops, &s),
		 -EUCLEAN);
	CHECK_EQ(s.corrupt, 1);
	CHECK_EQ(s.torn, 0);
	CHECK_EQ(s.ckpts, 0);
	CHECK_EQ(s.lsn, at);
	snprintf(want, sizeof(want),
		 "log record at lsn %u/%u: ", KVJ_LSN_CYCLE(at),
		 KVJ_LSN_BLOCK(at));
	CHECK(!strncmp(s.msg, want, strlen(want)));
	snprintf(want, sizeof(want), "claims %llu bytes uncompressed",
		 (unsigned long long)ulen);
	CHECK(strstr(s.msg, want));
	/* recovery: the same refusal, nothing written */
	CHECK_EQ(jt_log_open(t), -EUCLEAN);
	CHECK_EQ(log_crc(t), crc);
}

static void test_ulen(void)
{
	struct kvj_ckpt_hdr ch = {
		.magic = kvj_cpu_to_le32(KVJ_CKPT_MAGIC),
		.seq = kvj_cpu_to_le64(1),
	};
	uint8_t junk[600];
	struct seen s = { 0 };
	struct jt t;

	jt_create(&t, "badrec", 4, LOGB);
	jt_dev_open(&t);

	/* control: an empty uncompressed checkpoint is read */
	put_ckpt(&t, &ch, sizeof(ch), KVJ_COMP_NONE, sizeof(ch), 0);
	CHECK_EQ(kvj_log_walk(&ro_io, &t, t.log_bytes, &walk_ops, &s), 0);
	CHECK(s.ckpts == 1 && s.corrupt == 0 && s.torn == 0);

	refused_ulen(&t, 3ull << 30);
	refused_ulen(&t, (4ull << 30) - 1);
	refused_ulen(&t, LOGB + 1);

	/* the log's size is the limit: decompression decides (torn tail) */
	memset(junk, 0x5a, sizeof(junk));
	memset(&s, 0, sizeof(s));
	put_ckpt(&t, junk, sizeof(junk), KVJ_COMP_ZSTD, LOGB, 1);
	CHECK_EQ(kvj_log_walk(&ro_io, &t, t.log_bytes, &walk_ops, &s), 0);
	CHECK(s.ckpts == 0 && s.corrupt == 0 && s.torn == 1);

	jt_dev_close(&t);
	jt_remove(&t);
}

int main(void)
{
	jt_init(64 << 20);
	test_ulen();
	jt_fini();
	printf("journal_badrec: ok\n");
	return 0;
}
