/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared harness of the journal tests: an image file on the device layer
 * (fs/io/dev.h, with its crash modes) holding a log region followed by NB test
 * blocks, and "tblk", a test log item type that logs dirty 128-byte chunks
 * of a block, like the filesystem's buffer items.
 *
 * Block layout: bytes 0..7 hold the LSN of the block's last write-back,
 * bytes 8..11 its crc32c; the test changes bytes >= 64 only.  The crc
 * makes a torn write-back (some of its sectors persisted, not all) visible
 * to replay, which then trusts no LSN of the block and applies every
 * delta: the log still holds all changes since its last complete
 * write-back, since the tail moves only past flushed write-backs.
 */
#ifndef KV_TESTS_JOURNAL_JT_H
#define KV_TESTS_JOURNAL_JT_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/dev.h"
#include "journal/crc32c.h"
#include "journal/journal.h"
#include "tests/check.h"

#define JT_BLK 1024
#define JT_CHUNK 128
#define JT_MAX_NB 64
#define JT_CRC_OFF 8

struct jt_hist {
	uint64_t seq;
	uint8_t data[JT_BLK];
};

struct jt;

struct tblk {
	struct kvj_item item;
	pthread_mutex_t lock;
	unsigned idx;
	uint32_t dirty_map; /* chunks changed since the last write-back */
	bool tx_dirty;
	struct jt *t;
	uint8_t data[JT_BLK];
	/* history of committed states (crash test) */
	struct jt_hist *hist;
	unsigned nr_hist, cap_hist;
};

struct jt {
	char path[256];
	struct kv_dev *dev;
	uint64_t log_bytes;
	unsigned nb;
	struct tblk blk[JT_MAX_NB];
	struct kvj_log *log;
	bool keep_hist;
	struct kvj_recover_ops rops;
	struct kvj_intent_ops iops;
	unsigned replayed;
	unsigned flush_delay_us; /* a slow disk cache flush */
};

static struct kv_shrinker jt_fs_shrinker;
/* the scans made by this thread (not by the allocator's reclaim thread) */
static __thread unsigned jt_fs_scans_here;
static size_t jt_shrink_count(void *priv)
{
	(void)priv;
	return 1;
}
static size_t jt_shrink_scan(void *priv, size_t nr)
{
	(void)priv;
	(void)nr;
	/* an FS shrinker: never legal under NOFS */
	CHECK(!(kv_current_gfp(0) & KV_NOFS));
	jt_fs_scans_here++;
	return 0;
}

/* kv_init plus an FS shrinker, as every journal test must have. */
static inline void jt_init(size_t budget)
{
	struct kv_config cfg = { .budget_bytes = budget };

	CHECK(kv_init(&cfg) == 0);
	jt_fs_shrinker.name = "jt_fs";
	jt_fs_shrinker.flags = KV_SHRINK_FS | KV_SHRINK_IO;
	jt_fs_shrinker.count = jt_shrink_count;
	jt_fs_shrinker.scan = jt_shrink_scan;
	CHECK(kv_register_shrinker(&jt_fs_shrinker) == 0);
}

static inline void jt_fini(void)
{
	kv_unregister_shrinker(&jt_fs_shrinker);
	kv_fini();
}

/* ---- log region I/O over the device ---- */
static int jt_io_read(void *priv, void *buf, size_t len, uint64_t off)
{
	return kv_dev_pread(((struct jt *)priv)->dev, buf, len, off);
}
static int jt_io_write(void *priv, const void *buf, size_t len, uint64_t off)
{
	return kv_dev_pwrite(((struct jt *)priv)->dev, buf, len, off);
}
static int jt_io_flush(void *priv)
{
	struct jt *t = priv;

	if (t->flush_delay_us)
		usleep(t->flush_delay_us);
	return kv_dev_flush(t->dev);
}
static const struct kvj_io_ops jt_io = {
	.read = jt_io_read,
	.write = jt_io_write,
	.flush = jt_io_flush,
};

static inline uint64_t jt_blk_off(struct jt *t, unsigned i)
{
	return t->log_bytes + (uint64_t)i * JT_BLK;
}

/* ---- the tblk item type ---- */
#define JT_ITEM_TYPE (KVJ_ITEM_CLIENT + 1)

struct jt_delta {
	uint32_t idx;
	uint32_t map;
};

static uint32_t tblk_size(struct kvj_item *lip, bool fresh)
{
	struct tblk *b = (struct tblk *)lip;

	(void)fresh;
	return sizeof(struct jt_delta) +
	       __builtin_popcount(b->dirty_map) * JT_CHUNK;
}

static uint32_t tblk_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct tblk *b = (struct tblk *)lip;
	struct jt_delta *d = buf;
	uint8_t *p = (uint8_t *)(d + 1);
	unsigned c;

	(void)fresh;
	d->idx = b->idx;
	d->map = b->dirty_map;
	for (c = 0; c < JT_BLK / JT_CHUNK; c++) {
		if (!(b->dirty_map & (1u << c)))
			continue;
		memcpy(p, b->data + c * JT_CHUNK, JT_CHUNK);
		p += JT_CHUNK;
	}
	return p - (uint8_t *)buf;
}

static void tblk_release(struct kvj_item *lip, bool aborted)
{
	struct tblk *b = (struct tblk *)lip;

	if (b->tx_dirty && !aborted && b->t->keep_hist) {
		if (b->nr_hist == b->cap_hist) {
			b->cap_hist = b->cap_hist ? b->cap_hist * 2 : 16;
			b->hist = realloc(b->hist,
					  b->cap_hist * sizeof(*b->hist));
			CHECK(b->hist);
		}
		b->hist[b->nr_hist].seq = lip->ctx_seq;
		memcpy(b->hist[b->nr_hist].data, b->data, JT_BLK);
		b->nr_hist++;
	}
	b->tx_dirty = false;
	pthread_mutex_unlock(&b->lock);
}

/* Stamp a block about to be written in place with lsn and its crc. */
static void jt_stamp(uint8_t *blk, kvj_lsn_t lsn)
{
	uint32_t crc;

	memcpy(blk, &lsn, sizeof(lsn));
	crc = kv_crc32c_block(blk, JT_BLK, JT_CRC_OFF);
	memcpy(blk + JT_CRC_OFF, &crc, sizeof(crc));
}

static int tblk_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct tblk *b = (struct tblk *)lip;
	struct jt *t = b->t;
	int err;

	if (pthread_mutex_trylock(&b->lock))
		return KVJ_PUSH_LOCKED;
	if (kvj_item_pinned(lip)) {
		pthread_mutex_unlock(&b->lock);
		return KVJ_PUSH_PINNED;
	}
	/*
	 * what a read verifier relies on (kvj_log_head_lsn()): a write-back
	 * is stamped below the head
	 */
	CHECK(lsn < kvj_log_head_lsn(lip->log));
	jt_stamp(b->data, lsn);
	err = kv_dev_pwrite(t->dev, b->data, JT_BLK, jt_blk_off(t, b->idx));
	if (!err)
		b->dirty_map = 0;
	pthread_mutex_unlock(&b->lock);
	return err ? KVJ_PUSH_LOCKED : KVJ_PUSH_SUCCESS;
}

static const struct kvj_item_ops tblk_ops = {
	.name = "tblk",
	.type = JT_ITEM_TYPE,
	.size = tblk_size,
	.format = tblk_format,
	.release = tblk_release,
	.push = tblk_push,
};

/* Replay: apply a delta unless the block is already newer. */
static int tblk_replay(void *priv, const void *delta, uint32_t len,
		       kvj_lsn_t lsn)
{
	struct jt *t = priv;
	const struct jt_delta *d = delta;
	const uint8_t *p = (const uint8_t *)(d + 1);
	uint8_t blk[JT_BLK];
	uint64_t stamped;
	uint32_t crc;
	unsigned c;

	CHECK(len >= sizeof(*d) && d->idx < t->nb);
	CHECK(len == sizeof(*d) + __builtin_popcount(d->map) * JT_CHUNK);
	CHECK(kv_dev_pread(t->dev, blk, JT_BLK, jt_blk_off(t, d->idx)) == 0);
	memcpy(&stamped, blk, sizeof(stamped));
	memcpy(&crc, blk + JT_CRC_OFF, sizeof(crc));
	if (crc != kv_crc32c_block(blk, JT_BLK, JT_CRC_OFF))
		stamped = 0; /* torn (or never written back): replay all */
	if (stamped >= lsn)
		return 0;
	for (c = 0; c < JT_BLK / JT_CHUNK; c++) {
		if (!(d->map & (1u << c)))
			continue;
		memcpy(blk + c * JT_CHUNK, p, JT_CHUNK);
		p += JT_CHUNK;
	}
	jt_stamp(blk, lsn);
	t->replayed++;
	return kv_dev_pwrite(t->dev, blk, JT_BLK, jt_blk_off(t, d->idx));
}

/* ---- setup ---- */
static inline void jt_create(struct jt *t, const char *name, unsigned nb,
			     uint64_t log_bytes)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s/kvj-%s-%d.img", dir, name,
		 (int)getpid());
	t->nb = nb;
	t->log_bytes = log_bytes;
	fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, log_bytes + (uint64_t)nb * JT_BLK) == 0);
	close(fd);
	t->rops.type = JT_ITEM_TYPE;
	t->rops.replay = tblk_replay;
	t->rops.priv = t;
}

static inline void jt_dev_open(struct jt *t)
{
	CHECK(kv_dev_open(t->path, 0, &t->dev) == 0);
}

static inline void jt_dev_close(struct jt *t)
{
	kv_dev_close(t->dev);
	t->dev = NULL;
}

/* Reset the in-memory blocks to what the device holds. */
static inline void jt_blocks_load(struct jt *t)
{
	unsigned i;

	for (i = 0; i < t->nb; i++) {
		struct tblk *b = &t->blk[i];

		free(b->hist);
		memset(b, 0, sizeof(*b));
		pthread_mutex_init(&b->lock, NULL);
		b->idx = i;
		b->t = t;
		CHECK(kv_dev_pread(t->dev, b->data, JT_BLK, jt_blk_off(t, i)) ==
		      0);
	}
}

static inline void jt_blocks_free(struct jt *t)
{
	unsigned i;

	for (i = 0; i < t->nb; i++) {
		free(t->blk[i].hist);
		t->blk[i].hist = NULL;
		t->blk[i].nr_hist = t->blk[i].cap_hist = 0;
	}
}

static inline int jt_log_open_p(struct jt *t, struct kvj_log_params *p)
{
	unsigned i;
	int err;

	p->io = &jt_io;
	p->io_priv = t;
	p->log_bytes = t->log_bytes;
	p->recover = &t->rops;
	p->nr_recover = 1;
	if (t->iops.recover) {
		p->intents = &t->iops;
		p->nr_intents = 1;
	}
	t->replayed = 0;
	/* recovery may need the blocks (intents): load them first */
	jt_blocks_load(t);
	err = kvj_log_open(p, &t->log);
	if (err)
		return err;
	/* recovery rewrote blocks in place: reload (nothing is in the AIL) */
	for (i = 0; i < t->nb; i++) {
		struct tblk *b = &t->blk[i];

		CHECK(!b->item.in_ail && !kvj_item_pinned(&b->item));
		CHECK(kv_dev_pread(t->dev, b->data, JT_BLK, jt_blk_off(t, i)) ==
		      0);
		kvj_item_init(&b->item, t->log, &tblk_ops);
	}
	return 0;
}

static inline int jt_log_open(struct jt *t)
{
	struct kvj_log_params p = { 0 };

	return jt_log_open_p(t, &p);
}

/* Lock, change and log block i's bytes [off, off + len) to val. */
static inline void jt_modify(struct kvj_trans *tp, struct tblk *b, unsigned off,
			     unsigned len, uint8_t val, bool lock)
{
	unsigned c;

	if (lock)
		pthread_mutex_lock(&b->lock);
	kvj_trans_join(tp, &b->item);
	memset(b->data + off, val, len);
	for (c = off / JT_CHUNK; c <= (off + len - 1) / JT_CHUNK; c++)
		b->dirty_map |= 1u << c;
	b->tx_dirty = true;
	kvj_trans_log(tp, &b->item);
}

/* One transaction setting block i's bytes [off, off+len) to val. */
static inline uint64_t jt_tx1(struct jt *t, unsigned i, unsigned off,
			      unsigned len, uint8_t val)
{
	struct kvj_trans *tp;
	uint64_t seq;

	CHECK(kvj_trans_alloc(t->log, 4096, 0, &tp) == 0);
	jt_modify(tp, &t->blk[i], off, len, val, true);
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	return seq;
}

/* Crash: stop the log without writing anything more. */
static inline void jt_log_crash(struct jt *t)
{
	kvj_log_shutdown(t->log, "test crash");
	CHECK(kvj_log_close(t->log) == 0);
	t->log = NULL;
}

static inline void jt_read_block(struct jt *t, unsigned i, uint8_t *buf)
{
	CHECK(kv_dev_pread(t->dev, buf, JT_BLK, jt_blk_off(t, i)) == 0);
}

/* Block i's bytes [off, off + 64) on the device all equal val. */
static inline void jt_check_range(struct jt *t, unsigned i, unsigned off,
				  uint8_t val)
{
	uint8_t buf[JT_BLK];
	unsigned k;

	jt_read_block(t, i, buf);
	for (k = 0; k < 64; k++)
		CHECK_EQ(buf[off + k], val);
}

/* The whole file at path, in memory the caller free()s. */
static inline uint8_t *jt_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	CHECK(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(n);
	CHECK(b && fread(b, 1, n, f) == (size_t)n);
	fclose(f);
	*lenp = n;
	return b;
}

/* Copy the file at from to to (an image, to recover it again). */
static inline void jt_file_copy(const char *from, const char *to)
{
	size_t len;
	uint8_t *b = jt_slurp(from, &len);
	FILE *f = fopen(to, "wb");

	CHECK(f && fwrite(b, 1, len, f) == len);
	CHECK(fclose(f) == 0);
	free(b);
}

static inline void jt_remove(struct jt *t)
{
	jt_blocks_free(t);
	unlink(t->path);
}

#endif
