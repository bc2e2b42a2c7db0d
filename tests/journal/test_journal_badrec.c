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
 * 2. Inode deltas whose data and attribute forks together overrun the
 *    inode's literal area, or do not fit where forkoff puts them: replay
 *    refuses them (they were written over each other and sealed).
 * 3. Buffer deltas naming more blocks than a logged buffer can have (a
 *    buffer of up to 16 TiB was read): replay refuses them first.
 * 4. What buffer recovery refuses reaches the report sink (fs/io/blkhdr.h),
 *    and the library prints nothing.
 */
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/format.h"
#include "fs/format/geom.h"
#include "fs/inode/inode_item.h"
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

/* ---- 2: inode deltas ---- */

struct idelta {
	struct kvfs_inode_log_format f;
	struct kvfs_log_dinode ld;
	uint8_t forks[2 * 4096];
};

/* Replay one inode delta of ino with the given forks; replay's return. */
static int replay_inode(struct kvj_recover_ops *ops, const struct kvfs_geom *g,
			uint64_t ino, unsigned forkoff, uint32_t dlen,
			uint32_t alen)
{
	static struct idelta d;
	static uint32_t bb = 8; /* each delta newer than the last */
	uint32_t len = sizeof(d.f) + sizeof(d.ld) + dlen + alen;

	CHECK(dlen + alen <= sizeof(d.forks));
	memset(&d, 0, sizeof(d));
	d.f.ino = kv_cpu_to_le64(ino);
	d.f.blkno = kv_cpu_to_le64(kvfs_ino_to_fsb(g, ino));
	d.f.boffset = kv_cpu_to_le32(kvfs_ino_to_offset(g, ino));
	d.f.fields = kv_cpu_to_le16((uint16_t)(KVFS_ILOG_CORE |
					       (dlen ? KVFS_ILOG_DFORK : 0) |
					       (alen ? KVFS_ILOG_AFORK : 0)));
	d.f.dfork_len = kv_cpu_to_le32(dlen);
	d.f.afork_len = kv_cpu_to_le32(alen);
	d.ld.mode = kv_cpu_to_le16(0100644);
	d.ld.forkoff = kv_cpu_to_le16((uint16_t)forkoff);
	memset(d.forks, 'd', dlen);
	memset(d.forks + dlen, 'a', alen);
	return ops->replay(ops->priv, &d, len, KVJ_LSN(1, bb++));
}

/* A scratch device of the fuzz targets' geometry and a buffer cache on it. */
struct fsdev {
	char path[256];
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kv_bcache *bc;
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
	snprintf(d->path, sizeof(d->path), "%s/kvj-badrec-fs-%d.img", dir,
		 (int)getpid());
	fd = open(d->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)p.size) == 0);
	close(fd);
	CHECK(kv_dev_open(d->path, 0, &d->dev) == 0);
	CHECK(kv_bcache_create(d->dev, d->g.blocksize, 1 << 20, &d->bc) == 0);
	kv_bcache_set_private(d->bc, &d->g);
}

static void fsdev_close(struct fsdev *d)
{
	kv_bcache_destroy(d->bc);
	kv_dev_close(d->dev);
	unlink(d->path);
}

static void test_inode(void)
{
	struct kvfs_inode_recover_stats st;
	struct kvj_recover_ops ops, bops;
	struct fsdev d;
	uint32_t room;
	uint64_t ino;

	fsdev_open(&d);
	room = d.g.inodesize - KVFS_DINODE_CORE_SIZE;
	CHECK(kvfs_bli_recover_ops(d.bc, NULL, d.g.meta_uuid, &bops) == 0);
	CHECK(kvfs_inode_recover_ops(d.bc, &d.g, &bops, &ops) == 0);
	ino = kvfs_agino_to_ino(&d.g, 0, 64 << d.g.inopblog) + 3;
	CHECK(kvfs_ino_in_range(&d.g, ino));

	/* controls: forks that fit are replayed */
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 0, room, 0), 0);
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, 64, room - 64), 0);
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, 0, room - 64), 0);

	/* the forks together overrun the literal area */
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 0, room, 8), -EUCLEAN);
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, room, room), -EUCLEAN);
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, room - 64, 128), -EUCLEAN);
	/* each fits alone, not where forkoff puts it */
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, 128, 0), -EUCLEAN);
	CHECK_EQ(replay_inode(&ops, &d.g, ino, 8, 0, room - 56), -EUCLEAN);
	/* forkoff past the literal area */
	CHECK_EQ(replay_inode(&ops, &d.g, ino, room / 8 + 1, 8, 0), -EUCLEAN);

	kvfs_inode_recover_get_stats(&ops, &st);
	CHECK_EQ(st.applied, 3);
	CHECK_EQ(ops.finish(ops.priv), 0);
	kvfs_inode_recover_free(&ops);
	kvfs_bli_recover_free(&bops);
	fsdev_close(&d);
}

/* ---- 3: buffer deltas ---- */

/* Replay a buffer delta of blkno naming nblks blocks, chunk 0 logged. */
static int replay_buf(struct kvj_recover_ops *ops, uint64_t blkno,
		      uint32_t nblks, uint16_t map_words)
{
	static uint8_t d[sizeof(struct kvfs_buf_log_hdr) +
			 KVFS_BLI_MAP_WORDS * 8 + KVFS_BLI_CHUNK];
	struct kvfs_buf_log_hdr h = {
		.blkno = kv_cpu_to_le64(blkno),
		.nblks = kv_cpu_to_le32(nblks),
		.map_words = kv_cpu_to_le16(map_words),
	};
	kv_le64 bit0 = kv_cpu_to_le64(1);
	uint32_t len = sizeof(h) + map_words * 8u + KVFS_BLI_CHUNK;
	int err;

	CHECK(map_words >= 1 && map_words <= KVFS_BLI_MAP_WORDS);
	memset(d, 0, sizeof(d));
	memcpy(d, &h, sizeof(h));
	memcpy(d + sizeof(h), &bit0, sizeof(bit0));
	memset(d + sizeof(h) + map_words * 8u, 'b', KVFS_BLI_CHUNK);
	err = ops->scan(ops->priv, d, len, KVJ_LSN(1, 8));
	return err ? err : ops->replay(ops->priv, d, len, KVJ_LSN(1, 8));
}

static void test_buf(void)
{
	struct kvfs_bli_recover_stats st;
	struct kvj_recover_ops ops;
	struct fsdev d;

	fsdev_open(&d);
	CHECK(kvfs_bli_recover_ops(d.bc, NULL, NULL, &ops) == 0);
	/* control: one block, one chunk */
	CHECK_EQ(replay_buf(&ops, 100, 1, 1), 0);
	/* nblks far beyond any logged buffer: refused before it is read */
	CHECK_EQ(replay_buf(&ops, 200, 1u << 28, 1), -EUCLEAN);
	CHECK_EQ(replay_buf(&ops, 300, UINT32_MAX, KVFS_BLI_MAP_WORDS),
		 -EUCLEAN);
	/* a size the map does not describe */
	CHECK_EQ(replay_buf(&ops, 400, 3, 1), -EUCLEAN);
	kvfs_bli_recover_get_stats(&ops, &st);
	CHECK_EQ(st.applied, 1);
	CHECK_EQ(ops.finish(ops.priv), 0);
	kvfs_bli_recover_get_stats(&ops, &st);
	CHECK_EQ(st.written, 1);
	kvfs_bli_recover_free(&ops);
	fsdev_close(&d);
}

/* ---- 4: what buffer recovery finds goes to the report sink ---- */

struct sink {
	unsigned n;
	struct kvfs_report r[8];
};

static void on_report(const struct kvfs_report *r, void *priv)
{
	struct sink *s = priv;

	if (s->n < 8)
		s->r[s->n] = *r;
	s->n++;
}

static const struct kv_buf_ops *no_type(const void *blk, size_t len)
{
	(void)blk;
	(void)len;
	return NULL;
}

static void test_buf_reports(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kvj_recover_ops ops;
	struct sink s = { 0 };
	uint8_t junk[4] = { 0 }, printed[512];
	int e_scan, e_fit, e_ok, e_fin, fd, saved;
	struct fsdev d;
	char path[256];
	ssize_t n;

	fsdev_open(&d);
	/* no block type is known: replayed blocks cannot be written back */
	CHECK(kvfs_bli_recover_ops(d.bc, no_type, NULL, &ops) == 0);
	kvfs_report_set_sink(on_report, &s);
	snprintf(path, sizeof(path), "%s/kvj-badrec-stderr-%d", dir,
		 (int)getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	fflush(stderr);
	saved = dup(2);
	CHECK(saved >= 0 && dup2(fd, 2) == 2);
	e_scan = ops.scan(ops.priv, junk, sizeof(junk), KVJ_LSN(1, 8));
	e_fit = replay_buf(&ops, 200, 1u << 28, 1);
	e_ok = replay_buf(&ops, 100, 1, 1);
	e_fin = ops.finish(ops.priv);
	fflush(stderr);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	kvfs_report_set_sink(NULL, NULL);
	n = pread(fd, printed, sizeof(printed) - 1, 0);
	close(fd);
	unlink(path);
	CHECK(n >= 0);
	printed[n] = 0;
	if (n)
		fprintf(stderr, "the library printed: %s", printed);
	CHECK_EQ(n, 0);

	CHECK_EQ(e_scan, -EUCLEAN);
	CHECK_EQ(e_fit, -EUCLEAN);
	CHECK_EQ(e_ok, 0);
	CHECK_EQ(e_fin, -EUCLEAN);
	CHECK_EQ(s.n, 4);
	CHECK_EQ(s.r[0].err, -EUCLEAN);
	CHECK_EQ(s.r[0].blkno, KVFS_NULLBLOCK);
	CHECK(!strcmp(s.r[0].what, "log recovery"));
	CHECK(!strcmp(s.r[0].msg, "malformed buffer delta (4 bytes)"));
	CHECK_EQ(s.r[1].blkno, 200);
	CHECK(!strcmp(s.r[1].msg, "buffer delta of block 200 does not fit "
				  "its 268435456-block buffer"));
	CHECK_EQ(s.r[2].blkno, 100);
	CHECK(!strcmp(s.r[2].msg,
		      "block 100 replayed into contents of no known type"));
	CHECK_EQ(s.r[3].err, -EUCLEAN);
	CHECK(!strncmp(s.r[3].msg, "write back block 100: ", 22));
	kvfs_bli_recover_free(&ops);
	fsdev_close(&d);
}

int main(void)
{
	jt_init(64 << 20);
	test_ulen();
	test_inode();
	test_buf();
	test_buf_reports();
	jt_fini();
	printf("journal_badrec: ok\n");
	return 0;
}
