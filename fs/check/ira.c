// SPDX-License-Identifier: GPL-2.0
/*
 * Inode cluster readahead for the walks of inode chunks in record order
 * (the checker's and fsck's phase 4): the contract is in fs/check/ira.h.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/check/ira.h"
#include "fs/check/scrub_priv.h"
#include "fs/format/dinode.h"
#include "fs/io/buf.h"
#include "fs/io/dev.h"
#include "fs/ns/dir.h"

/* The blocks a chunk's inodes span, in bytes (one block when it holds more). */
static size_t ira_chunk_bytes(const struct kvfs_geom *g)
{
	size_t b = (size_t)KVFS_INODES_PER_CHUNK << g->inodelog;

	return b > g->blocksize ? b : g->blocksize;
}

int kvfs_ira_init(struct kvfs_ira *ra, struct kv_bcache *bc,
		  const struct kvfs_geom *g)
{
	memset(ra, 0, sizeof(*ra));
	ra->ahead_agno = KVFS_SCRUB_NOAG;
	ra->bc = bc;
	ra->g = g;
	ra->scan_agno = KVFS_SCRUB_NOAG;
	ra->buf = kvmalloc((size_t)KVFS_IRA_BLOCKS << g->blocklog, 0);
	ra->scan = kvmalloc(ira_chunk_bytes(g), 0);
	if (!ra->buf || !ra->scan) {
		kvfs_ira_destroy(ra);
		return -ENOMEM;
	}
	return 0;
}

void kvfs_ira_destroy(struct kvfs_ira *ra)
{
	kvfree(ra->buf);
	kvfree(ra->scan);
	kvfree(ra->heads.v);
	kvfree(ra->roots.v);
	ra->buf = NULL;
	ra->scan = NULL;
	memset(&ra->heads, 0, sizeof(ra->heads));
	memset(&ra->roots, 0, sizeof(ra->roots));
	ra->len = 0;
}

static bool ira_cached(struct kvfs_ira *ra, uint64_t fsb)
{
	struct kv_buf *bp;
	int err = kv_buf_incore(ra->bc, fsb, 1, &bp);

	if (!err)
		kv_buf_rele(bp);
	return err != -ENOENT;
}

/*
 * The clusters of recs[k] and the chunks after it, up to KVFS_IRA_AHEAD
 * of them past k, not asked for yet: each run of blocks that follow on
 * asked of the host in one hint.
 */
static void ira_ahead(struct kvfs_ira *ra, uint32_t agno,
		      const struct kvfs_inobt_rec *recs, size_t n, size_t k)
{
	const struct kvfs_geom *g = ra->g;
	uint32_t per = g->inopblock < KVFS_INODES_PER_CHUNK ?
			       g->inopblock :
			       KVFS_INODES_PER_CHUNK;
	uint64_t start = 0, end = 0; /* the run being gathered */
	size_t stop = n - k > KVFS_IRA_AHEAD ? k + KVFS_IRA_AHEAD : n;
	struct kv_dev *dev = kv_bcache_dev(ra->bc);

	if (agno != ra->ahead_agno || ra->ahead_k < k || ra->ahead_k > stop) {
		ra->ahead_agno = agno;
		ra->ahead_k = k;
	}
	/* in steps of a quarter of the distance: a hint per few chunks */
	if (ra->ahead_k > k + KVFS_IRA_AHEAD * 3 / 4 || ra->ahead_k >= stop)
		return;
	for (; ra->ahead_k < stop; ra->ahead_k++) {
		const struct kvfs_inobt_rec *r = &recs[ra->ahead_k];
		uint32_t first = kv_le32_to_cpu(r->startino);
		uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));

		for (uint32_t i = 0; i < KVFS_INODES_PER_CHUNK; i += per) {
			uint64_t b = kvfs_agb_to_fsb(
				g, agno, kvfs_agino_to_agbno(g, first + i));

			if (holes >> i & 1 || (b >= start && b < end))
				continue;
			if (b != end) {
				if (end > start)
					kv_dev_willneed(
						dev,
						kvfs_fsb_to_bytes(g, start),
						kvfs_fsb_to_bytes(g,
								  end - start));
				start = b;
				end = b;
			}
			end++;
		}
	}
	if (end > start)
		kv_dev_willneed(dev, kvfs_fsb_to_bytes(g, start),
				kvfs_fsb_to_bytes(g, end - start));
}

/* Block fsb of the directory of chunk k, queued (no room: no hint). */
static void ira_q_push(struct kvfs_ira_q *q, size_t k, uint64_t fsb)
{
	if (!kvgrow((void **)&q->v, &q->cap, q->n, sizeof(*q->v), 0))
		q->v[q->n++] = (struct kvfs_ira_blk){ .k = k, .fsb = fsb };
}

/* The next block queued for a chunk before stop, or NULL. */
static const struct kvfs_ira_blk *ira_q_pop(struct kvfs_ira_q *q, size_t stop)
{
	if (q->done == q->n || q->v[q->done].k >= stop) {
		/* drop the blocks done once they are half the queue */
		if (q->done && q->done * 2 >= q->n) {
			memmove(q->v, q->v + q->done,
				(q->n - q->done) * sizeof(*q->v));
			q->n -= q->done;
			q->done = 0;
		}
		return NULL;
	}
	return &q->v[q->done++];
}

/* fs/check/scrub_priv.h */
void kvfs_scrub_hint_extents(struct kv_bcache *bc, const struct kvfs_geom *g,
			     const struct kvfs_extent *x, uint32_t nx)
{
	struct kv_dev *dev = kv_bcache_dev(bc);
	uint64_t left = KVFS_SCRUB_HINT_MAX >> g->blocklog, start = 0, end = 0;

	for (uint32_t i = 0; i < nx && left; i++) {
		uint64_t b = kv_le64_to_cpu(x[i].startblock);
		uint64_t len = kv_le32_to_cpu(x[i].blockcount);

		if (b >= g->dblocks)
			continue;
		len = len < left ? len : left;
		left -= len;
		if (b != end) {
			if (end > start)
				kv_dev_willneed(
					dev, kvfs_fsb_to_bytes(g, start),
					kvfs_fsb_to_bytes(g, end - start));
			start = b;
		}
		end = b + len;
	}
	if (end > start)
		kv_dev_willneed(dev, kvfs_fsb_to_bytes(g, start),
				kvfs_fsb_to_bytes(g, end - start));
}

/*
 * The blocks a directory inode's data fork maps, asked of the host: its
 * extent list (its head queued), or the child blocks of its extent
 * tree's root.  The inode is unverified: any nonsense is bounded here and
 * by kv_dev_willneed().
 */
static void ira_hint_dir(struct kvfs_ira *ra, const struct kvfs_dinode *d,
			 size_t k)
{
	const struct kvfs_geom *g = ra->g;
	const uint8_t *fork = (const uint8_t *)d + KVFS_DINODE_CORE_SIZE;
	const struct kvfs_extent *x = (const void *)fork;
	uint32_t forkoff = kv_le16_to_cpu(d->forkoff);
	uint32_t size, nx;

	if (forkoff && KVFS_DINODE_CORE_SIZE + forkoff * 8u >= g->inodesize)
		forkoff = 0;
	size = forkoff ? forkoff * 8u : g->inodesize - KVFS_DINODE_CORE_SIZE;
	if (d->dformat == KVFS_DFORK_BTREE) {
		const struct kvfs_bmdr_block *r = (const void *)fork;
		uint32_t nr = kv_le16_to_cpu(r->numrecs);

		if (nr > kvfs_bmdr_maxrecs(size))
			return;
		for (uint32_t i = 0; i < nr; i++) {
			uint64_t c =
				kv_le64_to_cpu(*kvfs_bmdr_ptr(fork, size, i));

			if (c < g->dblocks)
				kv_dev_willneed(kv_bcache_dev(ra->bc),
						kvfs_fsb_to_bytes(g, c),
						g->blocksize);
		}
		return;
	}
	nx = kv_le32_to_cpu(d->nextents);
	if (d->dformat != KVFS_DFORK_EXTENTS || !nx ||
	    nx > size / sizeof(struct kvfs_extent))
		return;
	kvfs_scrub_hint_extents(ra->bc, g, x, nx);
	/* data block 0, the head, for the index roots */
	if (!kv_le64_to_cpu(x[0].startoff))
		ira_q_push(&ra->heads, k, kv_le64_to_cpu(x[0].startblock));
}

/* The directories of chunk r = recs[k]: their blocks asked of the host. */
static void ira_scan_chunk(struct kvfs_ira *ra, uint32_t agno,
			   const struct kvfs_inobt_rec *r, size_t k)
{
	const struct kvfs_geom *g = ra->g;
	uint32_t first = kv_le32_to_cpu(r->startino);
	uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
	uint64_t used = ~kv_le64_to_cpu(r->freemask) & ~holes;
	uint32_t lo, hi, b0, b1;

	if (!used)
		return;
	lo = (uint32_t)__builtin_ctzll(used);
	hi = 63 - (uint32_t)__builtin_clzll(used);
	b0 = kvfs_agino_to_agbno(g, first + lo);
	b1 = kvfs_agino_to_agbno(g, first + hi);
	if (((size_t)(b1 - b0 + 1) << g->blocklog) > ira_chunk_bytes(g) ||
	    kvfs_agb_to_fsb(g, agno, b1) >= g->dblocks ||
	    kv_dev_pread(kv_bcache_dev(ra->bc), ra->scan,
			 (size_t)(b1 - b0 + 1) << g->blocklog,
			 kvfs_fsb_to_bytes(g, kvfs_agb_to_fsb(g, agno, b0))))
		return;
	for (uint32_t i = lo; i <= hi; i++) {
		uint32_t agino = first + i;
		const struct kvfs_dinode *d;

		if (!(used >> i & 1))
			continue;
		d = (const void *)(ra->scan +
				   ((size_t)(kvfs_agino_to_agbno(g, agino) - b0)
				    << g->blocklog) +
				   ((size_t)(agino & (g->inopblock - 1))
				    << g->inodelog));
		if (kv_le32_to_cpu(d->hdr.magic) == KVFS_DINODE_MAGIC &&
		    S_ISDIR(kv_le16_to_cpu(d->mode)))
			ira_hint_dir(ra, d, k);
	}
}

/* Block fsb into ra->scan: its magic, or 0 if it could not be read. */
static uint32_t ira_read_blk(struct kvfs_ira *ra, uint64_t fsb)
{
	const struct kvfs_geom *g = ra->g;

	if (fsb >= g->dblocks ||
	    kv_dev_pread(kv_bcache_dev(ra->bc), ra->scan, g->blocksize,
			 kvfs_fsb_to_bytes(g, fsb)))
		return 0;
	return kv_le32_to_cpu(((const struct kvfs_blk_hdr *)ra->scan)->magic);
}

/* A directory head's index roots: asked of the host, queued if nodes. */
static void ira_hint_roots(struct kvfs_ira *ra, size_t k, uint64_t fsb)
{
	const struct kvfs_geom *g = ra->g;
	const struct kvfs_dir_head *h =
		(const void *)(ra->scan + KVFS_DIR_DATA_HDR_SIZE);
	uint64_t root[2];
	uint8_t level[2];

	if (ira_read_blk(ra, fsb) != KVFS_DIR_DATA_MAGIC)
		return;
	root[0] = kv_le64_to_cpu(h->hash_root);
	root[1] = kv_le64_to_cpu(h->free_root);
	level[0] = h->hash_level;
	level[1] = h->free_level;
	for (int i = 0; i < 2; i++) {
		if (!root[i] || root[i] >= g->dblocks)
			continue;
		kv_dev_willneed(kv_bcache_dev(ra->bc),
				kvfs_fsb_to_bytes(g, root[i]), g->blocksize);
		if (level[i])
			ira_q_push(&ra->roots, k, root[i]);
	}
}

/* An index tree's node: its children asked of the host. */
static void ira_hint_children(struct kvfs_ira *ra, uint64_t fsb)
{
	const struct kvfs_geom *g = ra->g;
	const struct kvfs_btree_ops *fmt[2] = {
		kvfs_dir_hash_tree_ops.fmt,
		kvfs_dir_free_tree_ops.fmt,
	};
	const struct kvfs_btree_block *bb = (const void *)ra->scan;
	uint32_t magic = ira_read_blk(ra, fsb);
	unsigned level, n;
	int t;

	for (t = 0; t < 2 && magic != fmt[t]->magic; t++)
		;
	if (!magic || t == 2)
		return;
	level = kv_le16_to_cpu(bb->level);
	n = kv_le16_to_cpu(bb->numrecs);
	if (!level || n > kvfs_btree_maxrecs(fmt[t], g->blocksize, level))
		return;
	for (unsigned i = 0; i < n; i++) {
		uint64_t c = kv_le64_to_cpu(
			*kvfs_btree_ptr(ra->scan, fmt[t], g->blocksize, i));

		if (c < g->dblocks)
			kv_dev_willneed(kv_bcache_dev(ra->bc),
					kvfs_fsb_to_bytes(g, c), g->blocksize);
	}
}

/*
 * The chunks up to KVFS_IRA_SCAN past recs[k] not scanned yet, the heads
 * of the directories found up to half that distance, their index roots
 * up to a quarter.
 */
static void ira_scan(struct kvfs_ira *ra, uint32_t agno,
		     const struct kvfs_inobt_rec *recs, size_t n, size_t k)
{
	size_t stop = n - k > KVFS_IRA_SCAN ? k + KVFS_IRA_SCAN : n;
	const struct kvfs_ira_blk *b;

	if (agno != ra->scan_agno || ra->scan_k < k || ra->scan_k > stop) {
		ra->scan_agno = agno;
		ra->scan_k = k;
		ra->heads.n = ra->heads.done = 0;
		ra->roots.n = ra->roots.done = 0;
	}
	for (; ra->scan_k < stop; ra->scan_k++)
		ira_scan_chunk(ra, agno, &recs[ra->scan_k], ra->scan_k);
	while ((b = ira_q_pop(&ra->heads, k + KVFS_IRA_SCAN / 2)))
		ira_hint_roots(ra, b->k, b->fsb);
	while ((b = ira_q_pop(&ra->roots, k + KVFS_IRA_SCAN / 4)))
		ira_hint_children(ra, b->fsb);
}

const uint8_t *kvfs_ira_block(struct kvfs_ira *ra, uint32_t agno,
			      const struct kvfs_inobt_rec *recs, size_t n,
			      size_t k, uint64_t fsb)
{
	const struct kvfs_geom *g = ra->g;
	uint32_t per = g->inopblock < KVFS_INODES_PER_CHUNK ?
			       g->inopblock :
			       KVFS_INODES_PER_CHUNK;
	uint64_t end = fsb + 1; /* past the run's last block */
	bool gap = false;

	if (fsb >= ra->start && fsb - ra->start < ra->len)
		return ra->buf + ((fsb - ra->start) << g->blocklog);
	if (fsb >= g->dblocks || ira_cached(ra, fsb))
		return NULL;
	/* the clusters of recs[k], recs[k + 1], ... while they follow on */
	for (size_t j = k; j < n && !gap; j++) {
		uint32_t start = kv_le32_to_cpu(recs[j].startino);
		uint64_t holes =
			kvfs_inobt_holes(kv_le16_to_cpu(recs[j].holemask));

		for (uint32_t i = 0; i < KVFS_INODES_PER_CHUNK && !gap;
		     i += per) {
			uint64_t b = kvfs_agb_to_fsb(
				g, agno, kvfs_agino_to_agbno(g, start + i));

			if ((holes >> i & 1) || b < end)
				continue;
			gap = b != end || end - fsb >= KVFS_IRA_BLOCKS ||
			      end >= g->dblocks || ira_cached(ra, b);
			if (!gap)
				end++;
		}
	}
	ra->len = 0;
	ira_ahead(ra, agno, recs, n, k);
	ira_scan(ra, agno, recs, n, k);
	if (kv_dev_pread(kv_bcache_dev(ra->bc), ra->buf,
			 (size_t)(end - fsb) << g->blocklog,
			 kvfs_fsb_to_bytes(g, fsb)))
		return NULL;
	ra->start = fsb;
	ra->len = (uint32_t)(end - fsb);
	return ra->buf;
}
