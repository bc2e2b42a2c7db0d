/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared harness of the B+tree engine tests: a fresh mkfs'd image (1 KiB
 * blocks, one AG, its internal log) opened with the buffer cache, the
 * journal (recovering) and the buffer log items; a block allocator over a
 * free range of AG 0 that hands a freed block out again only after the
 * transaction that freed it committed; transactions; cursors over the AG
 * trees with the AG header got in the transaction; the walk.
 */
#ifndef KV_TESTS_BTREE_BT_H
#define KV_TESTS_BTREE_BT_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_item.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/io/log_io.h"
#include "fs/format/mkfs.h"
#include "tests/check.h"

#define BT_BLK 1024
#define BT_RES (512u << 10) /* log bytes one test transaction may use */

struct bt {
	char path[256];
	struct kvfs_geom g;
	struct kv_dev *dev;
	struct kv_bcache *bc;
	struct kvj_log *log;
	struct kvfs_bli_log *bl;
	struct kvfs_log_io lio;
	struct kvj_recovery_info ri;
	/* the block allocator over fsb [lo, hi) */
	uint64_t lo, hi, next, nused;
	uint8_t *used;
	uint64_t *pending; /* freed in the open transaction */
	size_t npending, cap;
	/* the open transaction and its AG header */
	struct kvj_trans *tp;
	struct kvfs_btree_ag ag;
};

/* Recovery's type lookup: the metadata types by their magic. */
static inline const struct kv_buf_ops *bt_buf_type(const void *blk, size_t len)
{
	const struct kvfs_blk_hdr *h = blk;

	(void)len;
	switch (kv_le32_to_cpu(h->magic)) {
	case KVFS_AGF_MAGIC:
		return &kvfs_agf_buf_ops;
	case KVFS_AGI_MAGIC:
		return &kvfs_agi_buf_ops;
	case KVFS_BNOBT_MAGIC:
		return &kvfs_bnobt_buf_ops;
	case KVFS_CNTBT_MAGIC:
		return &kvfs_cntbt_buf_ops;
	case KVFS_INOBT_MAGIC:
		return &kvfs_inobt_buf_ops;
	}
	return NULL;
}

static inline int bt_alloc(void *src, struct kvj_trans *tp, uint32_t agno,
			   uint64_t near, uint64_t *fsb)
{
	struct bt *t = src;
	uint64_t n = t->hi - t->lo;

	(void)tp;
	(void)near;
	CHECK_EQ(agno, 0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t b = t->lo + (t->next + i) % n;

		if (!t->used[b - t->lo]) {
			t->used[b - t->lo] = 1;
			t->next = b - t->lo + 1;
			t->nused++;
			*fsb = b;
			return 0;
		}
	}
	return -ENOSPC;
}

static inline int bt_free(void *src, struct kvj_trans *tp, uint64_t fsb)
{
	struct bt *t = src;

	(void)tp;
	CHECK(fsb >= t->lo && fsb < t->hi && t->used[fsb - t->lo]);
	if (t->npending == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->pending = realloc(t->pending, t->cap * sizeof(uint64_t));
		CHECK(t->pending);
	}
	t->pending[t->npending++] = fsb;
	return 0;
}

static inline void bt_open(struct bt *t)
{
	struct kvj_log_params p = { 0 };
	struct kvj_recover_ops rops;

	CHECK_EQ(kv_dev_open(t->path, 0, &t->dev), 0);
	CHECK_EQ(kv_bcache_create(t->dev, t->g.blocksize, 0, &t->bc), 0);
	kv_bcache_set_private(t->bc, &t->g);
	kvfs_log_io_init(&t->lio, t->dev, &t->g);
	p.io = &kvfs_log_io_ops;
	p.io_priv = &t->lio;
	p.log_bytes = t->lio.len;
	CHECK_EQ(kvfs_bli_recover_ops(t->bc, bt_buf_type, NULL, &rops), 0);
	p.recover = &rops;
	p.nr_recover = 1;
	CHECK_EQ(kvj_log_open(&p, &t->log), 0);
	kvfs_bli_recover_free(&rops);
	kvj_log_recovery_info(t->log, &t->ri);
	CHECK_EQ(kvfs_bli_log_create(t->log, t->bc, &t->bl), 0);
}

/*
 * A fresh image of size bytes (one AG) at a temporary path; the allocator
 * gets nblocks blocks at the end of AG 0 (mkfs leaves them free).
 */
static inline void bt_create(struct bt *t, const char *name, uint64_t size,
			     uint64_t nblocks)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kvfs_mkfs_opts o = { 0 };

	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "%s/kvbt-%s-%d.img", dir, name,
		 (int)getpid());
	unlink(t->path);
	o.target = t->path;
	o.size = size;
	o.blocksize = BT_BLK;
	o.agcount = 1;
	o.logsize = 16u << 20;
	if (kvfs_mkfs(&o, &t->g)) {
		fprintf(stderr, "mkfs: %s\n", o.err);
		exit(1);
	}
	t->hi = kvfs_ag_length(&t->g, 0);
	t->lo = t->hi - nblocks;
	CHECK(t->lo > t->g.logstart + t->g.logblocks);
	t->used = calloc(nblocks, 1);
	CHECK(t->used);
	bt_open(t);
}

/* Crash: the log stops where it is, the cache is dropped unwritten. */
static inline void bt_crash(struct bt *t)
{
	CHECK(!t->tp);
	kvj_log_shutdown(t->log, "test crash");
	CHECK_EQ(kvj_log_close(t->log), 0);
	kvfs_bli_log_destroy(t->bl);
	kv_bcache_destroy(t->bc);
	kv_dev_close(t->dev);
	t->npending = 0;
}

static inline void bt_close(struct bt *t)
{
	CHECK(!t->tp);
	CHECK_EQ(kvj_log_close(t->log), 0);
	kvfs_bli_log_destroy(t->bl);
	CHECK_EQ(kv_bcache_flush(t->bc), 0);
	kv_bcache_destroy(t->bc);
	kv_dev_close(t->dev);
	unlink(t->path);
	free(t->used);
	free(t->pending);
}

/* Open a transaction with AG 0's header in it. */
static inline void bt_begin(struct bt *t)
{
	CHECK(!t->tp);
	CHECK_EQ(kvj_trans_alloc(t->log, BT_RES, 0, &t->tp), 0);
	CHECK_EQ(kvfs_trans_read_buf(t->tp, t->bl,
				     kvfs_agb_to_fsb(&t->g, 0, KVFS_AGF_AGBNO),
				     1, &kvfs_agf_buf_ops, &t->ag.agf_bp),
		 0);
	CHECK_EQ(kvfs_trans_read_buf(t->tp, t->bl,
				     kvfs_agb_to_fsb(&t->g, 0, KVFS_AGI_AGBNO),
				     1, &kvfs_agi_buf_ops, &t->ag.agi_bp),
		 0);
	t->ag.agno = 0;
	t->ag.alloc_block = bt_alloc;
	t->ag.free_block = bt_free;
	t->ag.src = t;
}

/* Commit; blocks freed in it become free. Returns the commit sequence. */
static inline uint64_t bt_commit(struct bt *t)
{
	uint64_t seq;

	CHECK_EQ(kvj_trans_commit(t->tp, &seq), 0);
	t->tp = NULL;
	for (size_t i = 0; i < t->npending; i++) {
		t->used[t->pending[i] - t->lo] = 0;
		t->nused--;
	}
	t->npending = 0;
	return seq;
}

static inline void bt_cur(struct bt *t, struct kvfs_btree_cur *cur,
			  const struct kvfs_btree_tree_ops *ops)
{
	kvfs_btree_cur_init(cur, ops, &t->g, t->tp, t->bl, 0, &t->ag);
}

static inline void bt_print_findings(const struct kvfs_btree_walk *w)
{
	for (unsigned i = 0;
	     i < w->nfindings && i < KVFS_BTREE_WALK_MAX_FINDINGS; i++)
		fprintf(stderr, "  finding: block %" PRIu64 " level %d: %s\n",
			w->findings[i].blkno, w->findings[i].level,
			w->findings[i].what);
}

/*
 * Walk an AG tree between transactions (the AG header read through the
 * cache); returns the walk's result, w filled.
 */
static inline int bt_walk_ag(struct bt *t,
			     const struct kvfs_btree_tree_ops *ops,
			     struct kvfs_btree_walk *w)
{
	struct kvfs_btree_ag ag = { .agno = 0 };
	struct kvfs_btree_cur cur;
	int err;

	CHECK(!t->tp);
	CHECK_EQ(kv_buf_read(t->bc, kvfs_agb_to_fsb(&t->g, 0, KVFS_AGF_AGBNO),
			     1, &kvfs_agf_buf_ops, &ag.agf_bp),
		 0);
	CHECK_EQ(kv_buf_read(t->bc, kvfs_agb_to_fsb(&t->g, 0, KVFS_AGI_AGBNO),
			     1, &kvfs_agi_buf_ops, &ag.agi_bp),
		 0);
	kvfs_btree_cur_init(&cur, ops, &t->g, NULL, t->bl, 0, &ag);
	err = kvfs_btree_walk_check(&cur, t->bc, w);
	kv_buf_rele(ag.agf_bp);
	kv_buf_rele(ag.agi_bp);
	return err;
}

static inline uint64_t bt_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
