// SPDX-License-Identifier: GPL-2.0
/*
 * The consistency checker: per AG the headers, the reserve list, both
 * free-space trees and the inode-chunk tree with every inode of every
 * chunk (and each inode's forks, wherever their blocks are), each owned
 * block recorded as a claim; then the claims sorted and swept for blocks
 * owned twice or by nobody.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/ns/attr.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/check/scrub.h"
#include "fs/check/scrub_dir.h"
#include "fs/check/scrub_namei.h"
#include "fs/check/scrub_priv.h"
#include "fs/format/sb.h"
#include "fs/ns/dir.h"
#include "fs/ns/symlink.h"

/* blocks [start, start + len) belong to owner (an AG or inode number) */
struct claim {
	uint64_t start;
	uint64_t owner;
	uint32_t len;
	uint8_t kind; /* enum kvfs_scrub_owner */
};

static const char *const kind_names[KVFS_SCRUB_NKINDS] = {
	[KVFS_SCRUB_SUPERBLOCK] = "superblock",
	[KVFS_SCRUB_AG_HEADER] = "AG header",
	[KVFS_SCRUB_RESERVE_LIST] = "reserve list",
	[KVFS_SCRUB_TREE] = "tree structure",
	[KVFS_SCRUB_FREE_COUNTERS] = "free-space counters",
	[KVFS_SCRUB_FREE_TREES] = "free-space trees disagree",
	[KVFS_SCRUB_INODE_COUNTERS] = "inode counters",
	[KVFS_SCRUB_INODE_MASK] = "inode free mask",
	[KVFS_SCRUB_INODE] = "inode",
	[KVFS_SCRUB_EXTENT] = "extent map",
	[KVFS_SCRUB_NBLOCKS] = "inode block count",
	[KVFS_SCRUB_MULTIPLY_OWNED] = "multiply-owned blocks",
	[KVFS_SCRUB_LEAKED] = "leaked blocks",
	[KVFS_SCRUB_SUMMARY] = "summary counters",
	[KVFS_SCRUB_UNLINKED] = "unlinked lists",
	[KVFS_SCRUB_ATTR] = "extended attributes",
	[KVFS_SCRUB_SYMLINK] = "symbolic link",
	[KVFS_SCRUB_DIR] = "directory",
	[KVFS_SCRUB_DIRENT] = "directory entry",
	[KVFS_SCRUB_DOTDOT] = "parent entry",
	[KVFS_SCRUB_NLINK] = "link count",
	[KVFS_SCRUB_CONNECT] = "connectivity",
};

static const char *const owner_names[KVFS_OWN_NR] = {
	[KVFS_OWN_SB] = "superblock",
	[KVFS_OWN_AG_HEADER] = "AG header",
	[KVFS_OWN_RESERVE] = "reserve list",
	[KVFS_OWN_FREE] = "free space",
	[KVFS_OWN_BNOBT] = "free-space by-block tree",
	[KVFS_OWN_CNTBT] = "free-space by-size tree",
	[KVFS_OWN_INOBT] = "inode-chunk tree",
	[KVFS_OWN_INODES] = "inode chunk",
	[KVFS_OWN_LOG] = "log",
	[KVFS_OWN_DATA] = "file data",
	[KVFS_OWN_BMBT] = "extent-map tree",
	[KVFS_OWN_ATTR] = "extended attributes",
	[KVFS_OWN_DIRIDX] = "directory index",
};

const char *kvfs_scrub_kind_name(enum kvfs_scrub_kind kind)
{
	return (unsigned)kind < KVFS_SCRUB_NKINDS ? kind_names[kind] : "?";
}

const char *kvfs_scrub_owner_name(enum kvfs_scrub_owner owner)
{
	return (unsigned)owner < KVFS_OWN_NR ? owner_names[owner] : "?";
}

void kvfs_scrub_find(struct scrub *s, enum kvfs_scrub_kind kind, uint32_t agno,
		     uint64_t blkno, uint64_t count, uint64_t ino,
		     const char *fmt, ...)
{
	struct kvfs_scrub_result *r = s->res;
	struct kvfs_scrub_finding f;
	va_list ap;

	r->nfindings++;
	r->nkind[kind]++;
	if (r->nkept >= KVFS_SCRUB_MAX_FINDINGS && !s->fn)
		return;
	f.kind = kind;
	f.agno = agno;
	f.blkno = blkno;
	f.count = count;
	f.ino = ino;
	va_start(ap, fmt);
	vsnprintf(f.what, sizeof(f.what), fmt, ap);
	va_end(ap);
	if (r->nkept < KVFS_SCRUB_MAX_FINDINGS)
		r->findings[r->nkept++] = f;
	if (s->fn)
		s->fn(s->fn_priv, &f, s->prob);
}

/* The caller has checked that the blocks lie inside one AG. */
int kvfs_scrub_claim(struct scrub *s, uint64_t start, uint32_t len,
		     enum kvfs_scrub_owner kind, uint64_t owner)
{
	int err;

	err = kvgrow((void **)&s->claims, &s->cap, s->nclaims,
		     sizeof(*s->claims), 0);
	if (err)
		return err;
	s->claims[s->nclaims++] = (struct claim){ .start = start,
						  .owner = owner,
						  .len = len,
						  .kind = (uint8_t)kind };
	s->res->owned[kind] += len;
	return s->claim_fn ?
		       s->claim_fn(s->claim_priv, start, len, kind, owner) :
		       0;
}

/* blocks [fsb, fsb + len) inside one AG, past its fixed headers */
static const char *range_check(const struct kvfs_geom *g, uint64_t fsb,
			       uint64_t len)
{
	uint32_t agno;

	if (!len)
		return "has no blocks";
	if (fsb >= g->dblocks || len > g->dblocks - fsb)
		return "runs past the end of the filesystem";
	agno = kvfs_fsb_to_agno(g, fsb);
	if (kvfs_fsb_to_agbno(g, fsb) < KVFS_AG_HDR_BLOCKS)
		return "covers the AG headers";
	if (kvfs_fsb_to_agbno(g, fsb) + len > kvfs_ag_length(g, agno))
		return "crosses the end of its AG";
	return NULL;
}

static bool inode_owned(uint8_t kind)
{
	return kind == KVFS_OWN_DATA || kind == KVFS_OWN_BMBT ||
	       kind == KVFS_OWN_ATTR;
}

static void owner_str(const struct claim *c, char *buf, size_t len)
{
	if (inode_owned(c->kind))
		snprintf(buf, len, "%s of inode %" PRIu64, owner_names[c->kind],
			 c->owner);
	else
		snprintf(buf, len, "%s of AG %" PRIu64, owner_names[c->kind],
			 c->owner);
}

static int claim_cmp(const void *a, const void *b)
{
	const struct claim *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len;
}

/* Report blocks [start, end) as leaked, one finding per AG. */
static void leaked(struct scrub *s, uint64_t start, uint64_t end)
{
	const struct kvfs_geom *g = s->g;

	while (start < end) {
		uint32_t agno = kvfs_fsb_to_agno(g, start);
		uint64_t agend =
			kvfs_agb_to_fsb(g, agno, 0) + kvfs_ag_length(g, agno);
		uint64_t e = end < agend ? end : agend;

		if (!s->ag_unknown[agno])
			kvfs_scrub_find(
				s, KVFS_SCRUB_LEAKED, agno, start, e - start,
				KVFS_NULLINO,
				"%" PRIu64 " blocks from %" PRIu64
				" (AG %u block %u) are owned by nothing",
				e - start, start, agno,
				kvfs_fsb_to_agbno(g, start));
		start = e;
	}
}

static void swap_claims(struct claim **a, struct claim **b)
{
	struct claim *t = *a;

	*a = *b;
	*b = t;
}

/* One pass of sort_claims(): src into dst by the byte at shift (inverted). */
static void radix_pass(const struct claim *src, struct claim *dst, size_t n,
		       bool by_len, unsigned shift)
{
	size_t pos[257] = { 0 };

	for (size_t i = 0; i < n; i++) {
		uint64_t k = by_len ? 0xffu - (src[i].len >> shift & 0xffu) :
				      src[i].start >> shift & 0xffu;

		pos[k + 1]++;
	}
	for (unsigned d = 1; d <= 256; d++)
		pos[d] += pos[d - 1];
	for (size_t i = 0; i < n; i++) {
		uint64_t k = by_len ? 0xffu - (src[i].len >> shift & 0xffu) :
				      src[i].start >> shift & 0xffu;

		dst[pos[k]++] = src[i];
	}
}

/*
 * The claims in claim_cmp()'s order, as the stable sort qsort was: a radix
 * sort, least significant byte first, over the bytes the largest length
 * and start use (qsort's comparisons were a fifth of fsck -n's
 * instructions on a tree of 100 000 files).  qsort when memory is short.
 */
static void sort_claims(struct scrub *s)
{
	struct claim *a = s->claims, *b;
	uint64_t maxstart = 0;
	uint32_t maxlen = 0;

	b = kvmalloc(s->nclaims * sizeof(*b), 0);
	if (!b) {
		qsort(s->claims, s->nclaims, sizeof(*s->claims), claim_cmp);
		return;
	}
	for (size_t i = 0; i < s->nclaims; i++) {
		if (a[i].start > maxstart)
			maxstart = a[i].start;
		if (a[i].len > maxlen)
			maxlen = a[i].len;
	}
	for (unsigned sh = 0; sh < 32 && maxlen >> sh; sh += 8) {
		radix_pass(a, b, s->nclaims, true, sh);
		swap_claims(&a, &b);
	}
	for (unsigned sh = 0; sh < 64 && maxstart >> sh; sh += 8) {
		radix_pass(a, b, s->nclaims, false, sh);
		swap_claims(&a, &b);
	}
	if (a != s->claims) {
		memcpy(s->claims, a, s->nclaims * sizeof(*a));
		b = a;
	}
	kvfree(b);
}

/* Set blocks [start, start + len) in bits: whether any was set already. */
static bool bits_claim(uint64_t *bits, uint64_t start, uint64_t len)
{
	uint64_t twice = 0;

	while (len) {
		unsigned o = start % 64;
		uint64_t n = len < 64 - o ? len : 64 - o;
		uint64_t m = (n == 64 ? ~0ull : (1ull << n) - 1) << o;

		twice |= bits[start / 64] & m;
		bits[start / 64] |= m;
		start += n;
		len -= n;
	}
	return twice;
}

/* The first block from fsb (below end) whose bit is set (or clear), or end. */
static uint64_t bits_next(const uint64_t *bits, uint64_t fsb, uint64_t end,
			  bool set)
{
	while (fsb < end) {
		uint64_t w =
			(set ? bits[fsb / 64] : ~bits[fsb / 64]) >> (fsb % 64);

		if (w) {
			fsb += (uint64_t)__builtin_ctzll(w);
			return fsb < end ? fsb : end;
		}
		fsb = (fsb / 64 + 1) * 64;
	}
	return end;
}

/*
 * sweep() for the common case, every block owned at most once, without
 * sorting the claims: each claim's blocks set in a bitmap of the device,
 * none of them set already; the runs never set are reported leaked, as
 * sweep() reports the gaps between the sorted claims.  Returns false,
 * having reported nothing, when a block is claimed twice (sweep() names
 * both owners), a claim has no blocks (sweep() splits a leaked run there)
 * or memory is short.
 */
static bool sweep_bits(struct scrub *s)
{
	uint64_t dblocks = s->g->dblocks, fsb = 0;
	uint64_t *bits = kvzalloc((dblocks + 63) / 64 * sizeof(*bits), 0);

	if (!bits)
		return false;
	for (size_t i = 0; i < s->nclaims; i++) {
		const struct claim *c = &s->claims[i];

		if (!c->len || c->start >= dblocks ||
		    c->len > dblocks - c->start ||
		    bits_claim(bits, c->start, c->len)) {
			kvfree(bits);
			return false;
		}
	}
	while ((fsb = bits_next(bits, fsb, dblocks, false)) < dblocks) {
		uint64_t end = bits_next(bits, fsb, dblocks, true);

		leaked(s, fsb, end);
		fsb = end;
	}
	kvfree(bits);
	return true;
}

/* Every block owned exactly once: sort the claims, sweep them. */
static void sweep(struct scrub *s)
{
	const struct claim *cover = NULL;
	uint64_t end = 0;
	char a[96], b[96];

	if (sweep_bits(s))
		return;
	if (s->nclaims > 1)
		sort_claims(s);
	for (size_t i = 0; i < s->nclaims; i++) {
		const struct claim *c = &s->claims[i];
		uint64_t cend = c->start + c->len;

		if (c->start > end)
			leaked(s, end, c->start);
		if (cover && c->start < end) {
			uint64_t oend = cend < end ? cend : end;

			owner_str(cover, a, sizeof(a));
			owner_str(c, b, sizeof(b));
			kvfs_scrub_find(s, KVFS_SCRUB_MULTIPLY_OWNED,
					kvfs_fsb_to_agno(s->g, c->start),
					c->start, oend - c->start,
					inode_owned(c->kind) ? c->owner :
							       KVFS_NULLINO,
					"%" PRIu64 " blocks from %" PRIu64
					" are owned by the %s and by the %s",
					oend - c->start, c->start, a, b);
		}
		if (cend > end) {
			end = cend;
			cover = c;
		}
	}
	if (end < s->g->dblocks)
		leaked(s, end, s->g->dblocks);
}

/* ---- free space ---- */

struct tree_ctx {
	struct scrub *s;
	enum kvfs_scrub_owner kind;
	int err;
};

static int tree_blk(uint64_t fsb, unsigned level, void *priv)
{
	struct tree_ctx *t = priv;

	(void)level;
	return kvfs_scrub_claim(t->s, fsb, 1, t->kind, t->s->agno);
}

static int bno_rec(const void *rec, void *priv)
{
	struct tree_ctx *t = priv;
	struct scrub *s = t->s;
	const struct kvfs_alloc_rec *r = rec;
	int err;

	/* records reach here only from blocks that passed their checks */
	err = kvgrow((void **)&s->bno, &s->bno_cap, s->nbno, sizeof(*r), 0);
	if (err)
		return err;
	s->bno[s->nbno++] = *r;
	return kvfs_scrub_claim(
		s,
		kvfs_agb_to_fsb(s->g, s->agno, kv_le32_to_cpu(r->startblock)),
		kv_le32_to_cpu(r->blockcount), KVFS_OWN_FREE, s->agno);
}

static int cnt_rec(const void *rec, void *priv)
{
	struct scrub *s = ((struct tree_ctx *)priv)->s;
	const struct kvfs_alloc_rec *r = rec;
	int err;

	err = kvgrow((void **)&s->cnt, &s->cnt_cap, s->ncnt, sizeof(*r), 0);
	if (err)
		return err;
	s->cnt[s->ncnt++] = *r;
	return 0;
}

static int ino_rec(const void *rec, void *priv)
{
	struct scrub *s = ((struct tree_ctx *)priv)->s;
	int err;

	err = kvgrow((void **)&s->chunks, &s->chunk_cap, s->nchunks,
		     sizeof(*s->chunks), 0);
	if (err)
		return err;
	s->chunks[s->nchunks++] = *(const struct kvfs_inobt_rec *)rec;
	return 0;
}

/*
 * Walk one AG tree with the engine's structure walk; its findings become
 * ours.  Returns 0 if the walk was clean, 1 if it found something, or a
 * negative errno.
 */
static int walk_tree(struct scrub *s, const struct kvfs_btree_tree_ops *ops,
		     struct kv_buf *agf_bp, struct kv_buf *agi_bp,
		     enum kvfs_scrub_owner kind,
		     int (*rec_fn)(const void *rec, void *priv),
		     uint64_t *nblocks)
{
	struct kvfs_btree_ag ag = { .agno = s->agno,
				    .agf_bp = agf_bp,
				    .agi_bp = agi_bp };
	struct tree_ctx t = { .s = s, .kind = kind };
	struct kvfs_btree_walk *w;
	struct kvfs_btree_cur cur;
	int err;

	w = kvzalloc(sizeof(*w), 0);
	if (!w)
		return -ENOMEM;
	w->rec_fn = rec_fn;
	w->blk_fn = tree_blk;
	w->priv = &t;
	kvfs_btree_cur_init(&cur, ops, s->g, NULL, NULL, s->agno, &ag);
	err = kvfs_btree_walk_check(&cur, s->bc, w);
	if (err == -EUCLEAN) {
		for (unsigned i = 0;
		     i < w->nfindings && i < KVFS_BTREE_WALK_MAX_FINDINGS; i++)
			kvfs_scrub_find(s, KVFS_SCRUB_TREE, s->agno,
					w->findings[i].blkno, 0, KVFS_NULLINO,
					"%s, level %d: %s", ops->fmt->name,
					w->findings[i].level,
					w->findings[i].what);
		if (w->nfindings > KVFS_BTREE_WALK_MAX_FINDINGS)
			kvfs_scrub_find(s, KVFS_SCRUB_TREE, s->agno,
					KVFS_NULLBLOCK, 0, KVFS_NULLINO,
					"%s: %u more findings", ops->fmt->name,
					w->nfindings -
						KVFS_BTREE_WALK_MAX_FINDINGS);
		err = 1;
	}
	if (nblocks) {
		*nblocks = 0;
		for (unsigned l = 0; l < KVFS_BTREE_MAXLEVELS; l++)
			*nblocks += w->nblocks[l];
	}
	kvfree(w);
	return err;
}

static int alloc_start_cmp(const void *a, const void *b)
{
	uint32_t x =
		kv_le32_to_cpu(((const struct kvfs_alloc_rec *)a)->startblock);
	uint32_t y =
		kv_le32_to_cpu(((const struct kvfs_alloc_rec *)b)->startblock);

	return x < y ? -1 : x > y;
}

/* Both trees hold the same extents: a merge of both sorted by start. */
static void compare_free_trees(struct scrub *s, uint64_t cnt_root)
{
	size_t i = 0, j = 0;

	if (s->ncnt > 1)
		qsort(s->cnt, s->ncnt, sizeof(*s->cnt), alloc_start_cmp);
	while (i < s->nbno || j < s->ncnt) {
		const struct kvfs_alloc_rec *a =
			i < s->nbno ? &s->bno[i] : NULL;
		const struct kvfs_alloc_rec *b =
			j < s->ncnt ? &s->cnt[j] : NULL;
		int c = !a ? 1 : !b ? -1 : alloc_start_cmp(a, b);

		if (!c && a->blockcount.v == b->blockcount.v) {
			i++, j++;
			continue;
		}
		if (c <= 0) {
			kvfs_scrub_find(
				s, KVFS_SCRUB_FREE_TREES, s->agno, cnt_root, 0,
				KVFS_NULLINO,
				"free extent at AG block %u (%u blocks) of the "
				"by-block tree is not in the by-size tree",
				kv_le32_to_cpu(a->startblock),
				kv_le32_to_cpu(a->blockcount));
			i++;
		}
		if (c >= 0) {
			kvfs_scrub_find(
				s, KVFS_SCRUB_FREE_TREES, s->agno, cnt_root, 0,
				KVFS_NULLINO,
				"free extent at AG block %u (%u blocks) of the "
				"by-size tree is not in the by-block tree",
				kv_le32_to_cpu(b->startblock),
				kv_le32_to_cpu(b->blockcount));
			j++;
		}
	}
}

/* The reserve list: flcount entries from flfirst, each a block of the AG. */
static int check_agfl(struct scrub *s, const struct kvfs_agf_info *a)
{
	const struct kvfs_geom *g = s->g;
	uint64_t blkno = kvfs_agb_to_fsb(g, s->agno, KVFS_AGFL_AGBNO);
	uint32_t len = kvfs_ag_length(g, s->agno);
	struct kv_buf *bp;
	int err;

	err = kv_buf_read(s->bc, blkno, 1, &kvfs_agfl_buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG) {
		kvfs_scrub_find(s, KVFS_SCRUB_AG_HEADER, s->agno, blkno, 0,
				KVFS_NULLINO, "reserve list unreadable: %s",
				kv_buf_last_error());
		s->ag_unknown[s->agno] = 1;
		return 0;
	}
	if (err)
		return err;
	kv_buf_lock(bp);
	memcpy(s->blk, bp->b_addr, g->blocksize);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	/* the AGF verifier bounded the window by agfl_size */
	for (uint32_t i = 0; i < a->flcount && !err; i++) {
		uint32_t slot = (a->flfirst + i) % g->agfl_size;
		uint32_t agbno = kvfs_agfl_entry(s->blk, slot);

		if (agbno < KVFS_AG_HDR_BLOCKS || agbno >= len)
			kvfs_scrub_find(
				s, KVFS_SCRUB_RESERVE_LIST, s->agno, blkno, 0,
				KVFS_NULLINO,
				"entry %u in use holds block %u, not a block "
				"of the AG past its headers",
				slot, agbno);
		else
			err = kvfs_scrub_claim(
				s, kvfs_agb_to_fsb(g, s->agno, agbno), 1,
				KVFS_OWN_RESERVE, s->agno);
	}
	return err;
}

/*
 * Free-space header, reserve list, both trees.  btreeblks counts every
 * block of both trees, roots included: mkfs writes 2 for its two root
 * leaves and the AGF verifier wants at least levels + 2 (unlike XFS,
 * whose agf_btreeblks leaves the roots out).
 */
static int check_agf(struct scrub *s, struct kv_buf *agf_bp)
{
	const struct kvfs_geom *g = s->g;
	uint64_t agf_blkno = kvfs_agb_to_fsb(g, s->agno, KVFS_AGF_AGBNO);
	uint64_t sum = 0, longest = 0, bno_blocks, cnt_blocks;
	struct kvfs_agf_info a;
	int err, bno_bad, cnt_bad;

	kv_buf_lock(agf_bp);
	err = kvfs_agf_from_disk(g, s->agno, agf_bp->b_addr, &a);
	kv_buf_unlock(agf_bp);
	if (err) {
		kvfs_scrub_find(s, KVFS_SCRUB_AG_HEADER, s->agno, agf_blkno, 0,
				KVFS_NULLINO, "free-space header: %s",
				kvfs_report_last()->msg);
		s->ag_unknown[s->agno] = 1;
		return 0;
	}
	err = check_agfl(s, &a);
	if (err)
		return err;
	s->nbno = s->ncnt = 0;
	bno_bad = walk_tree(s, &kvfs_bnobt_tree_ops, agf_bp, NULL,
			    KVFS_OWN_BNOBT, bno_rec, &bno_blocks);
	if (bno_bad < 0)
		return bno_bad;
	cnt_bad = walk_tree(s, &kvfs_cntbt_tree_ops, agf_bp, NULL,
			    KVFS_OWN_CNTBT, cnt_rec, &cnt_blocks);
	if (cnt_bad < 0)
		return cnt_bad;
	for (size_t i = 0; i < s->nbno; i++) {
		uint32_t l = kv_le32_to_cpu(s->bno[i].blockcount);

		sum += l;
		if (l > longest)
			longest = l;
	}
	s->fdblocks += sum;
	if (sum != a.freeblks || longest != a.longest ||
	    s->nbno != a.free_extents)
		kvfs_scrub_find(
			s, KVFS_SCRUB_FREE_COUNTERS, s->agno, agf_blkno, 0,
			KVFS_NULLINO,
			"free-space header says %u free blocks, longest %u, %u "
			"extents; the by-block tree holds %" PRIu64
			", longest %" PRIu64 ", %zu extents",
			a.freeblks, a.longest, a.free_extents, sum, longest,
			s->nbno);
	if (!bno_bad && !cnt_bad && bno_blocks + cnt_blocks != a.btreeblks)
		kvfs_scrub_find(
			s, KVFS_SCRUB_FREE_COUNTERS, s->agno, agf_blkno, 0,
			KVFS_NULLINO,
			"free-space header says %u tree blocks, the trees have "
			"%" PRIu64 " (%" PRIu64 " by block, %" PRIu64
			" by size)",
			a.btreeblks, bno_blocks + cnt_blocks, bno_blocks,
			cnt_blocks);
	compare_free_trees(s, kvfs_agb_to_fsb(g, s->agno, a.cnt_root));
	return 0;
}

/* ---- inodes ---- */

/* n extents at x, from a fork or a leaf; next_off orders across leaves. */
static int walk_extents(struct fork_ctx *f, const struct kvfs_extent *x,
			uint32_t n, uint64_t *next_off, const char *where)
{
	const struct kvfs_geom *g = f->s->g;
	uint64_t maxoff = kvfs_max_fileoff_blocks(g);
	int err;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = kv_le64_to_cpu(x[i].startoff);
		uint64_t bno = kv_le64_to_cpu(x[i].startblock);
		uint32_t len = kv_le32_to_cpu(x[i].blockcount);
		const char *bad = range_check(g, bno, len);

		if (!bad && (off >= maxoff || len > maxoff - off))
			bad = "ends past the largest file offset";
		if (!bad && off < *next_off)
			bad = "overlaps the previous extent or is out of order";
		if (bad) {
			kvfs_scrub_find(
				f->s, KVFS_SCRUB_EXTENT,
				kvfs_ino_to_agno(g, f->ino), bno, len, f->ino,
				"inode %" PRIu64 " %s extent %u (file block "
				"%" PRIu64 ", block %" PRIu64 ", %u blocks) %s",
				f->ino, where, i, off, bno, len, bad);
			f->bad = true;
			continue;
		}
		*next_off = off + len;
		f->blocks += len;
		err = kvfs_scrub_claim(f->s, bno, len, f->kind, f->ino);
		if (err)
			return err;
	}
	return 0;
}

/* The extent-map tree walk's callbacks (fs/btree/btree.h), priv a bmbt_walk. */
struct bmbt_walk {
	struct fork_ctx *f;
	uint64_t next_off;
};

static int bmbt_rec(const void *rec, void *priv)
{
	struct bmbt_walk *bw = priv;
	struct fork_ctx *f = bw->f;

	if (f->collect) {
		if (f->nx == f->xcap) {
			uint32_t cap = f->xcap ? 2 * f->xcap : 64;
			struct kvfs_extent *x =
				kvrealloc(f->x, cap * sizeof(*x), 0);

			if (!x)
				return -ENOMEM;
			f->x = x;
			f->xcap = cap;
		}
		memcpy(&f->x[f->nx++], rec, sizeof(*f->x));
	}
	return walk_extents(f, rec, 1, &bw->next_off, "extent-map leaf");
}

static int bmbt_blk(uint64_t fsb, unsigned level, void *priv)
{
	struct bmbt_walk *bw = priv;

	(void)level;
	bw->f->blocks++;
	return kvfs_scrub_claim(bw->f->s, fsb, 1, KVFS_OWN_BMBT, bw->f->ino);
}

/*
 * An extent-map tree rooted in a fork of size bytes with n extents: the
 * engine's structure walk (every block owned by the inode), each block
 * claimed, each record's extent claimed.
 */
static int walk_bmbt(struct fork_ctx *f, const uint8_t *fork, uint32_t size,
		     uint32_t n, const char *name)
{
	struct scrub *s = f->s;
	uint32_t agno = kvfs_ino_to_agno(s->g, f->ino);
	struct kvfs_bmbt_ctx ctx = { .fork = (uint8_t *)fork,
				     .forksize = size };
	struct bmbt_walk bw = { .f = f };
	struct kvfs_btree_walk *w;
	struct kvfs_btree_cur *cur;
	int err;

	w = kvzalloc(sizeof(*w), 0);
	cur = kvmalloc(sizeof(*cur), 0);
	if (!w || !cur) {
		kvfree(w);
		kvfree(cur);
		return -ENOMEM;
	}
	w->rec_fn = bmbt_rec;
	w->blk_fn = bmbt_blk;
	w->priv = &bw;
	kvfs_btree_cur_init(cur, &kvfs_bmbt_tree_ops, s->g, NULL, NULL, f->ino,
			    &ctx);
	cur->bc = s->bc;
	err = kvfs_btree_walk_check(cur, s->bc, w);
	if (err == -EUCLEAN) {
		for (unsigned i = 0;
		     i < w->nfindings && i < KVFS_BTREE_WALK_MAX_FINDINGS; i++)
			kvfs_scrub_find(s, KVFS_SCRUB_EXTENT, agno,
					w->findings[i].blkno, 1, f->ino,
					"inode %" PRIu64
					" %s fork extent-map tree, "
					"level %d: %s",
					f->ino, name, w->findings[i].level,
					w->findings[i].what);
		f->bad = true;
		err = 0;
	} else if (!err && w->nrecs != n) {
		kvfs_scrub_find(
			s, KVFS_SCRUB_EXTENT, agno, KVFS_NULLBLOCK, 0, f->ino,
			"inode %" PRIu64 " %s fork says %u extents, its tree "
			"holds %" PRIu64,
			f->ino, name, n, w->nrecs);
		f->bad = true;
	}
	kvfree(w);
	kvfree(cur);
	return err;
}

/* One fork (data or attribute) of format fmt with n extents. */
static int walk_fork(struct fork_ctx *f, const uint8_t *fork, uint32_t size,
		     uint8_t fmt, uint32_t n, const char *name)
{
	uint64_t next_off = 0;

	if (fmt == KVFS_DFORK_EXTENTS) {
		if ((uint64_t)n * sizeof(struct kvfs_extent) > size) {
			kvfs_scrub_find(f->s, KVFS_SCRUB_EXTENT,
					kvfs_ino_to_agno(f->s->g, f->ino),
					KVFS_NULLBLOCK, 0, f->ino,
					"inode %" PRIu64
					" %s fork: %u extents do not "
					"fit its %u bytes",
					f->ino, name, n, size);
			f->bad = true;
			return 0;
		}
		return walk_extents(f, (const void *)fork, n, &next_off, name);
	}
	if (fmt == KVFS_DFORK_BTREE)
		return walk_bmbt(f, fork, size, n, name);
	return 0;
}

static int agino_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * An in-use inode with no links is on a list; one with links is not.
 * Returns whether it is on one.
 */
static bool check_inode_unlinked(struct scrub *s, const struct kvfs_dinode *d,
				 uint64_t ino, uint64_t fsb)
{
	uint32_t agino = kvfs_ino_to_agino(s->g, ino);
	bool listed = s->nunl && bsearch(&agino, s->unl, s->nunl,
					 sizeof(*s->unl), agino_cmp);

	if (!kv_le32_to_cpu(d->nlink) && !listed)
		kvfs_scrub_find(s, KVFS_SCRUB_UNLINKED, s->agno, fsb, 0, ino,
				"inode %" PRIu64
				" has no links and is on no unlinked "
				"list",
				ino);
	else if (!listed && kv_le32_to_cpu(d->next_unlinked) != KVFS_NULLAGINO)
		kvfs_scrub_find(s, KVFS_SCRUB_UNLINKED, s->agno, fsb, 0, ino,
				"inode %" PRIu64
				" is on no unlinked list but points to "
				"a next one",
				ino);
	return listed;
}

/*
 * The attribute blocks of a sound attribute fork (its list, or the
 * records of its tree, walked clean already): their contents.
 */
static int check_attr_blocks(struct scrub *s, const uint8_t *dip, uint64_t ino,
			     uint64_t fsb, uint32_t dsize, uint32_t asize)
{
	const struct kvfs_dinode *d = (const void *)dip;
	const uint8_t *af = dip + KVFS_DINODE_CORE_SIZE + dsize;
	struct kvfs_extent *x = NULL;
	uint32_t n = kv_le32_to_cpu(d->anextents);
	char why[160];
	int err = 0;

	if (d->aformat == KVFS_DFORK_BTREE)
		err = kvfs_bmbt_read_extents(s->bc, s->g, ino, af, asize, &x,
					     &n);
	if (!err)
		err = kvfs_attr_scrub(s->bc, s->g, ino, x ? (void *)x : af, n,
				      why, sizeof(why));
	kvfree(x);
	if (err == -EUCLEAN)
		kvfs_scrub_find(s, KVFS_SCRUB_ATTR, s->agno, fsb, 0, ino,
				"inode %" PRIu64 ": %s", ino, why);
	return err == -EUCLEAN ? 0 : err;
}

static int check_inode(struct scrub *s, const uint8_t *dip, uint64_t ino,
		       uint64_t fsb, bool mask_free)
{
	const struct kvfs_geom *g = s->g;
	const struct kvfs_dinode *d = (const void *)dip;
	uint16_t mode = kv_le16_to_cpu(d->mode);
	struct fork_ctx f = { .s = s, .ino = ino, .kind = KVFS_OWN_DATA };
	char why[160];
	uint32_t forkoff = kv_le16_to_cpu(d->forkoff);
	uint32_t dsize, asize;
	int err;

	s->res->inodes++;
	if (kv_le32_to_cpu(d->hdr.magic) == KVFS_DINODE_MAGIC &&
	    !mode != mask_free)
		kvfs_scrub_find(s, KVFS_SCRUB_INODE_MASK, s->agno, fsb, 0, ino,
				"inode %" PRIu64
				" is %s but the free mask says %s",
				ino, mode ? "in use" : "free",
				mode ? "free" : "in use");
	if (!(s->known && s->known(s->fn_priv, ino)) &&
	    kvfs_dinode_verify(dip, g, ino)) {
		kvfs_scrub_find(s, KVFS_SCRUB_INODE, s->agno, fsb, 0, ino,
				"inode %" PRIu64 ": %s", ino,
				kvfs_report_last()->msg);
		if (kv_le32_to_cpu(d->hdr.magic) != KVFS_DINODE_MAGIC)
			return 0;
	}
	if (!mode)
		return 0;
	s->res->inodes_used++;
	err = kvfs_ns_add(s->ns, ino, d, check_inode_unlinked(s, d, ino, fsb));
	if (err)
		return err;
	/* the verifier may have failed: bound the forks ourselves */
	if (forkoff && KVFS_DINODE_CORE_SIZE + forkoff * 8u >= g->inodesize)
		forkoff = 0;
	dsize = forkoff ? forkoff * 8u : g->inodesize - KVFS_DINODE_CORE_SIZE;
	asize = forkoff ? g->inodesize - KVFS_DINODE_CORE_SIZE - dsize : 0;
	f.collect = S_ISDIR(mode) && d->dformat == KVFS_DFORK_BTREE;
	err = walk_fork(&f, dip + KVFS_DINODE_CORE_SIZE, dsize, d->dformat,
			kv_le32_to_cpu(d->nextents), "data");
	f.collect = false;
	/* unlinked and truncated, not yet freed: fs/inode/inactive.c */
	if (!err && !f.bad && S_ISLNK(mode) &&
	    d->dformat == KVFS_DFORK_EXTENTS &&
	    (kv_le32_to_cpu(d->nlink) || kv_le32_to_cpu(d->nextents))) {
		err = kvfs_symlink_scrub(s->bc, g, ino, kv_le64_to_cpu(d->size),
					 dip + KVFS_DINODE_CORE_SIZE,
					 kv_le32_to_cpu(d->nextents), why,
					 sizeof(why));
		if (err == -EUCLEAN)
			kvfs_scrub_find(s, KVFS_SCRUB_SYMLINK, s->agno, fsb, 0,
					ino, "inode %" PRIu64 ": %s", ino, why);
		err = err == -EUCLEAN ? 0 : err;
	}
	if (!err && asize) {
		bool bad = f.bad;

		f.bad = false;
		f.kind = KVFS_OWN_ATTR;
		err = walk_fork(&f, dip + KVFS_DINODE_CORE_SIZE + dsize, asize,
				d->aformat, kv_le32_to_cpu(d->anextents),
				"attribute");
		if (!err && !f.bad &&
		    (d->aformat == KVFS_DFORK_EXTENTS ||
		     d->aformat == KVFS_DFORK_BTREE))
			err = check_attr_blocks(s, dip, ino, fsb, dsize, asize);
		f.bad |= bad;
	}
	if (err) {
		kvfree(f.x);
		return err;
	}
	/*
	 * A directory is made short-form and shrinks back to it: a block
	 * one has its head (an unlinked one may have lost its blocks to
	 * inactivation); a file whose type bits a flip made a directory
	 * may have none.
	 */
	if (!f.bad && S_ISDIR(mode) && d->dformat == KVFS_DFORK_EXTENTS &&
	    !kv_le32_to_cpu(d->nextents) && kv_le32_to_cpu(d->nlink))
		kvfs_scrub_find(s, KVFS_SCRUB_DIR, s->agno, fsb, 0, ino,
				"directory %" PRIu64
				" is a block directory with no "
				"block",
				ino);
	if (!f.bad && S_ISDIR(mode) && d->dformat == KVFS_DFORK_EXTENTS &&
	    kv_le32_to_cpu(d->nextents))
		err = kvfs_scrub_dir_blocks(
			&f, d, (const void *)(dip + KVFS_DINODE_CORE_SIZE),
			kv_le32_to_cpu(d->nextents));
	/*
	 * past the in-inode list: the extents its tree holds, which the
	 * readahead (kvfs_ira) could not see: asked of the host here
	 */
	if (!err && !f.bad && S_ISDIR(mode) && d->dformat == KVFS_DFORK_BTREE &&
	    f.nx) {
		kvfs_scrub_hint_extents(s->bc, g, f.x, f.nx);
		err = kvfs_scrub_dir_blocks(&f, d, f.x, f.nx);
	}
	kvfree(f.x);
	if (err)
		return err;
	if (!f.bad && f.blocks != kv_le64_to_cpu(d->nblocks))
		kvfs_scrub_find(s, KVFS_SCRUB_NBLOCKS, s->agno, fsb, 0, ino,
				"inode %" PRIu64 " says %" PRIu64
				" blocks, its forks map %" PRIu64,
				ino, (uint64_t)kv_le64_to_cpu(d->nblocks),
				f.blocks);
	return 0;
}

/* Whether every slot of an inode cluster carries the inode magic. */
static bool cluster_magic_ok(const struct kvfs_geom *g, const uint8_t *blk)
{
	for (uint32_t i = 0; i < g->inopblock; i++) {
		const struct kvfs_dinode *d =
			(const void *)(blk + ((size_t)i << g->inodelog));

		if (kv_le32_to_cpu(d->hdr.magic) != KVFS_DINODE_MAGIC)
			return false;
	}
	return true;
}

/*
 * The inode cluster at fsb, of chunk s->chunks[k]: from the readahead
 * window when it passes the cluster buffer's verifier (every slot an
 * inode), else through the cache, whose verifier words the finding.
 * Returns the block's bytes (the window's or s->blk) or NULL with *errp.
 */
static const uint8_t *read_cluster(struct scrub *s, size_t k, uint64_t fsb,
				   int *errp)
{
	const struct kvfs_geom *g = s->g;
	const uint8_t *src =
		kvfs_ira_block(&s->ira, s->agno, s->chunks, s->nchunks, k, fsb);
	struct kv_buf *bp;
	int err;

	*errp = 0;
	if (src && cluster_magic_ok(g, src))
		return src;
	err = kv_buf_read(s->bc, fsb, 1, &kvfs_inode_buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG) {
		kvfs_scrub_find(s, KVFS_SCRUB_INODE, s->agno, fsb, 0,
				KVFS_NULLINO, "inode cluster unreadable: %s",
				kv_buf_last_error());
		/* each inode on its own, outside the cache */
		err = kv_dev_pread(kv_bcache_dev(s->bc), s->blk, g->blocksize,
				   kvfs_fsb_to_bytes(g, fsb));
	} else if (!err) {
		kv_buf_lock(bp);
		memcpy(s->blk, bp->b_addr, g->blocksize);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	*errp = err;
	return err ? NULL : s->blk;
}

/* Every allocated inode of chunk s->chunks[k], block by block. */
static int check_chunk(struct scrub *s, size_t k)
{
	const struct kvfs_geom *g = s->g;
	const struct kvfs_inobt_rec *r = &s->chunks[k];
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
	uint64_t mask = kv_le64_to_cpu(r->freemask);
	int err = 0;
	uint32_t per = g->inopblock < KVFS_INODES_PER_CHUNK ?
			       g->inopblock :
			       KVFS_INODES_PER_CHUNK;

	/* the inode-chunk record checks keep every inode inside the AG */
	for (uint32_t i = 0; i < KVFS_INODES_PER_CHUNK; i += per) {
		uint32_t agino = start + i;
		uint64_t fsb = kvfs_agb_to_fsb(g, s->agno,
					       kvfs_agino_to_agbno(g, agino));
		uint32_t first = agino & (g->inopblock - 1);
		const uint8_t *blk;

		if ((holes >> i & 1))
			continue;
		/* blocks of more than 64 inodes: claimed by their first chunk */
		if (!first)
			err = kvfs_scrub_claim(s, fsb, 1, KVFS_OWN_INODES,
					       s->agno);
		if (err)
			return err;
		blk = read_cluster(s, k, fsb, &err);
		if (!blk)
			return err;
		if (s->cluster)
			err = s->cluster(s->fn_priv,
					 kvfs_agino_to_ino(g, s->agno, agino),
					 fsb, blk);
		if (err)
			return err;
		for (uint32_t j = 0; j < per; j++) {
			uint64_t ino = kvfs_agino_to_ino(g, s->agno, agino + j);

			err = check_inode(
				s, blk + ((size_t)(first + j) << g->inodelog),
				ino, fsb, mask >> (i + j) & 1);
			if (err)
				return err;
		}
	}
	return 0;
}

/* Is agino an inode of one of the AG's chunks (not in a sparse hole)? */
static bool in_chunk(const struct scrub *s, uint32_t agino)
{
	for (size_t i = 0; i < s->nchunks; i++) {
		uint32_t start = kv_le32_to_cpu(s->chunks[i].startino);

		if (agino >= start && agino - start < KVFS_INODES_PER_CHUNK)
			return !(kvfs_inobt_holes(kv_le16_to_cpu(
					 s->chunks[i].holemask)) >>
					 (agino - start) &
				 1);
	}
	return false;
}

/*
 * One bucket's list, from its head: each inode in a chunk of the AG, on
 * this bucket, allocated with no links; at most icount of them (else the
 * list loops).  The inodes are recorded in s->unl.
 */
static int walk_bucket(struct scrub *s, unsigned b, uint32_t head,
		       uint32_t icount)
{
	const struct kvfs_geom *g = s->g;
	uint32_t agino = head, steps = 0;
	int err;

	while (agino != KVFS_NULLAGINO) {
		uint64_t ino = kvfs_agino_to_ino(g, s->agno, agino);
		uint64_t fsb = kvfs_agb_to_fsb(g, s->agno,
					       kvfs_agino_to_agbno(g, agino));
		const struct kvfs_dinode *d;
		struct kv_buf *bp;

		if (++steps > icount) {
			kvfs_scrub_find(
				s, KVFS_SCRUB_UNLINKED, s->agno, KVFS_NULLBLOCK,
				0, KVFS_NULLINO,
				"unlinked bucket %u holds more inodes than the "
				"AG has: it loops",
				b);
			return 0;
		}
		if (!in_chunk(s, agino)) {
			kvfs_scrub_find(
				s, KVFS_SCRUB_UNLINKED, s->agno, KVFS_NULLBLOCK,
				0, KVFS_NULLINO,
				"unlinked bucket %u holds agino %u, in no inode "
				"chunk",
				b, agino);
			return 0;
		}
		if (agino % KVFS_AGI_UNLINKED_BUCKETS != b)
			kvfs_scrub_find(
				s, KVFS_SCRUB_UNLINKED, s->agno, fsb, 0, ino,
				"inode %" PRIu64
				" is on unlinked bucket %u, not "
				"its own %u",
				ino, b, agino % KVFS_AGI_UNLINKED_BUCKETS);
		err = kv_buf_read(s->bc, fsb, 1, &kvfs_inode_buf_ops, &bp);
		if (err == -EUCLEAN || err == -EBADMSG) {
			/* check_chunk() reports the cluster */
			return 0;
		}
		if (err)
			return err;
		kv_buf_lock(bp);
		memcpy(s->blk, bp->b_addr, g->blocksize);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
		d = (const void *)(s->blk + kvfs_ino_to_offset(g, ino));
		if (!kv_le16_to_cpu(d->mode) || kv_le32_to_cpu(d->nlink))
			kvfs_scrub_find(
				s, KVFS_SCRUB_UNLINKED, s->agno, fsb, 0, ino,
				"inode %" PRIu64 " is on an unlinked list but "
				"%s",
				ino,
				kv_le16_to_cpu(d->mode) ? "has links" : "free");
		err = kvgrow((void **)&s->unl, &s->unl_cap, s->nunl,
			     sizeof(*s->unl), 0);
		if (err)
			return err;
		s->unl[s->nunl++] = agino;
		agino = kv_le32_to_cpu(d->next_unlinked);
	}
	return 0;
}

/* Every bucket of the AG; then no inode may be on the lists twice. */
static int check_unlinked(struct scrub *s, const struct kvfs_agi_info *a)
{
	int err;

	s->nunl = 0;
	for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++) {
		err = walk_bucket(s, b, a->unlinked[b], a->icount);
		if (err)
			return err;
	}
	if (s->nunl)
		qsort(s->unl, s->nunl, sizeof(*s->unl), agino_cmp);
	for (size_t i = 1; i < s->nunl; i++)
		if (s->unl[i] == s->unl[i - 1])
			kvfs_scrub_find(
				s, KVFS_SCRUB_UNLINKED, s->agno, KVFS_NULLBLOCK,
				0, kvfs_agino_to_ino(s->g, s->agno, s->unl[i]),
				"inode %" PRIu64 " is on the unlinked lists "
				"twice",
				kvfs_agino_to_ino(s->g, s->agno, s->unl[i]));
	return 0;
}

static int check_agi(struct scrub *s, struct kv_buf *agi_bp)
{
	const struct kvfs_geom *g = s->g;
	uint64_t agi_blkno = kvfs_agb_to_fsb(g, s->agno, KVFS_AGI_AGBNO);
	uint64_t icount = 0, ifree = 0;
	struct kvfs_agi_info a;
	int err;

	kv_buf_lock(agi_bp);
	err = kvfs_agi_from_disk(g, s->agno, agi_bp->b_addr, &a);
	kv_buf_unlock(agi_bp);
	if (err) {
		kvfs_scrub_find(s, KVFS_SCRUB_AG_HEADER, s->agno, agi_blkno, 0,
				KVFS_NULLINO, "inode header: %s",
				kvfs_report_last()->msg);
		s->ag_unknown[s->agno] = 1;
		return 0;
	}
	s->nchunks = 0;
	err = walk_tree(s, &kvfs_inobt_tree_ops, NULL, agi_bp, KVFS_OWN_INOBT,
			ino_rec, NULL);
	if (err < 0)
		return err;
	err = check_unlinked(s, &a);
	if (err)
		return err;
	for (size_t i = 0; i < s->nchunks; i++) {
		icount += s->chunks[i].count;
		ifree += s->chunks[i].freecount;
		err = check_chunk(s, i);
		if (err)
			return err;
		if (s->progress)
			s->progress(s->fn_priv, s->res->inodes,
				    g->icount > s->res->inodes ?
					    g->icount :
					    s->res->inodes);
	}
	s->icount += icount;
	s->ifree += ifree;
	if (icount != a.icount || ifree != a.ifree)
		kvfs_scrub_find(
			s, KVFS_SCRUB_INODE_COUNTERS, s->agno, agi_blkno, 0,
			KVFS_NULLINO,
			"inode header says %u inodes, %u free; the inode-chunk "
			"tree holds %" PRIu64 ", %" PRIu64 " free",
			a.icount, a.ifree, icount, ifree);
	return 0;
}

/* ---- inode cluster readahead (fs/check/scrub.h) ---- */

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

/* ---- per AG ---- */

static int read_hdr(struct scrub *s, uint32_t agbno,
		    const struct kv_buf_ops *ops, const char *what,
		    struct kv_buf **bpp)
{
	uint64_t blkno = kvfs_agb_to_fsb(s->g, s->agno, agbno);
	int err = kv_buf_read(s->bc, blkno, 1, ops, bpp);

	if (err == -EUCLEAN || err == -EBADMSG) {
		kvfs_scrub_find(s,
				agbno == KVFS_SB_AGBNO ? KVFS_SCRUB_SUPERBLOCK :
							 KVFS_SCRUB_AG_HEADER,
				s->agno, blkno, 0, KVFS_NULLINO,
				"%s unreadable: %s", what, kv_buf_last_error());
		*bpp = NULL;
		return 0;
	}
	return err;
}

static void check_sb_copy(struct scrub *s, struct kv_buf *bp)
{
	const struct kvfs_geom *g = s->g;
	struct kvfs_geom c;
	int err;

	kv_buf_lock(bp);
	err = kvfs_sb_from_disk(bp->b_addr, g->blocksize, s->agno, g->meta_uuid,
				&c);
	kv_buf_unlock(bp);
	if (err)
		return; /* the read verifier passed it: cannot happen */
	if (c.blocksize != g->blocksize || c.dblocks != g->dblocks ||
	    c.agblocks != g->agblocks || c.agcount != g->agcount ||
	    c.logstart != g->logstart || c.logblocks != g->logblocks ||
	    c.inodesize != g->inodesize || c.rootino != g->rootino ||
	    c.lpfino != g->lpfino || c.feat_incompat != g->feat_incompat ||
	    c.feat_ro_compat != g->feat_ro_compat ||
	    c.feat_compat != g->feat_compat ||
	    memcmp(c.uuid, g->uuid, KVFS_UUID_SIZE))
		kvfs_scrub_find(
			s, KVFS_SCRUB_SUPERBLOCK, s->agno, bp->b_blkno, 0,
			KVFS_NULLINO,
			"superblock copy of AG %u differs from the primary",
			s->agno);
}

static int check_ag(struct scrub *s)
{
	const struct kvfs_geom *g = s->g;
	struct kv_buf *sb_bp, *agf_bp = NULL, *agi_bp = NULL;
	int err;

	err = kvfs_scrub_claim(s, kvfs_agb_to_fsb(g, s->agno, KVFS_SB_AGBNO), 1,
			       KVFS_OWN_SB, s->agno);
	if (!err)
		err = kvfs_scrub_claim(
			s, kvfs_agb_to_fsb(g, s->agno, KVFS_AGF_AGBNO),
			KVFS_AG_HDR_BLOCKS - 1, KVFS_OWN_AG_HEADER, s->agno);
	if (!err)
		err = read_hdr(s, KVFS_SB_AGBNO, &kvfs_sb_buf_ops,
			       "superblock copy", &sb_bp);
	if (err)
		return err;
	if (sb_bp) {
		check_sb_copy(s, sb_bp);
		kv_buf_rele(sb_bp);
	}
	err = read_hdr(s, KVFS_AGF_AGBNO, &kvfs_agf_buf_ops,
		       "free-space header", &agf_bp);
	if (err)
		return err;
	if (agf_bp) {
		err = check_agf(s, agf_bp);
		kv_buf_rele(agf_bp);
		if (err)
			return err;
	} else {
		s->ag_unknown[s->agno] = 1;
	}
	err = read_hdr(s, KVFS_AGI_AGBNO, &kvfs_agi_buf_ops, "inode header",
		       &agi_bp);
	if (err)
		return err;
	if (agi_bp) {
		err = check_agi(s, agi_bp);
		kv_buf_rele(agi_bp);
	} else {
		s->ag_unknown[s->agno] = 1;
	}
	return err;
}

/* ---- the namespace (fs/check/scrub_namei.c) ---- */

static void ns_find(void *priv, const struct kvfs_ns_problem *p)
{
	struct scrub *s = priv;
	uint32_t agno = kvfs_ino_to_agno(s->g, p->ino);
	int nl = (int)p->namelen;

	s->prob = p;
	switch (p->kind) {
	case KVFS_NS_ENT_FREE:
		kvfs_scrub_find(s, KVFS_SCRUB_DIRENT,
				kvfs_ino_to_agno(s->g, p->dir), KVFS_NULLBLOCK,
				0, p->dir,
				"directory %" PRIu64
				": entry '%.*s' names inode %" PRIu64
				", which is not in use",
				p->dir, nl, p->name, p->ino);
		break;
	case KVFS_NS_ENT_TYPE:
		kvfs_scrub_find(s, KVFS_SCRUB_DIRENT,
				kvfs_ino_to_agno(s->g, p->dir), KVFS_NULLBLOCK,
				0, p->dir,
				"directory %" PRIu64
				": entry '%.*s' says file type %" PRIu64
				", inode %" PRIu64 " is of type %" PRIu64,
				p->dir, nl, p->name, p->have, p->ino, p->want);
		break;
	case KVFS_NS_ENT_ROOT:
		kvfs_scrub_find(
			s, KVFS_SCRUB_DIRENT, kvfs_ino_to_agno(s->g, p->dir),
			KVFS_NULLBLOCK, 0, p->dir,
			"directory %" PRIu64 ": entry '%.*s' names the root",
			p->dir, nl, p->name);
		break;
	case KVFS_NS_ENT_EXTRA:
		kvfs_scrub_find(s, KVFS_SCRUB_CONNECT, agno, KVFS_NULLBLOCK, 0,
				p->ino,
				"directory %" PRIu64
				" is also named in directory %" PRIu64
				" ('%.*s'): a directory has one parent",
				p->ino, p->dir, nl, p->name ? p->name : "?");
		break;
	case KVFS_NS_DOTDOT:
		kvfs_scrub_find(s, KVFS_SCRUB_DOTDOT, agno, KVFS_NULLBLOCK, 0,
				p->ino,
				"directory %" PRIu64 ": '..' names %" PRIu64
				", its parent is %" PRIu64,
				p->ino, p->have, p->want);
		break;
	case KVFS_NS_NLINK:
		kvfs_scrub_find(s, KVFS_SCRUB_NLINK, agno, KVFS_NULLBLOCK, 0,
				p->ino,
				"inode %" PRIu64 " has link count %" PRIu64
				", %" PRIu64 " links found",
				p->ino, p->have, p->want);
		break;
	case KVFS_NS_DISCONNECTED:
		kvfs_scrub_find(s, KVFS_SCRUB_CONNECT, agno, KVFS_NULLBLOCK, 0,
				p->ino,
				"inode %" PRIu64
				" is in use but not reachable from the "
				"root (nor on an unlinked list)",
				p->ino);
		break;
	case KVFS_NS_CYCLE:
		kvfs_scrub_find(s, KVFS_SCRUB_CONNECT, agno, KVFS_NULLBLOCK, 0,
				p->ino,
				"directory %" PRIu64
				" is in a cycle of directories not "
				"reachable from the root",
				p->ino);
		break;
	}
	s->prob = NULL;
}

/*
 * Room up front for the inodes in use as the superblock counts them (a
 * hint, at most one a block; the arrays still grow past it) and a claim
 * and a half for each: grown by doubling, every growth copied the
 * records and claims into memory faulted in anew (a tenth of fsck -n's
 * CPU on a tree of 100 000 files).  Short of memory, no room is made.
 */
static void reserve(struct scrub *s)
{
	const struct kvfs_geom *g = s->g;
	uint64_t n = g->icount > g->ifree ? g->icount - g->ifree : 0;
	struct claim *c;

	n = n < g->dblocks ? n : g->dblocks;
	if (n > SIZE_MAX / (2 * sizeof(*c)))
		return;
	kvfs_ns_reserve(s->ns, n);
	c = kvmalloc((n + n / 2) * sizeof(*c), 0);
	if (!c)
		return;
	s->claims = c;
	s->cap = n + n / 2;
}

static int scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
		 struct kvfs_scrub_result *res,
		 const struct kvfs_scrub_hooks *h, kvfs_scrub_claim_fn claim_fn,
		 void *claim_priv)
{
	struct scrub s = { .bc = bc,
			   .g = g,
			   .res = res,
			   .claim_fn = claim_fn,
			   .claim_priv = claim_priv };
	int err = 0;

	memset(res, 0, sizeof(*res));
	if (h) {
		s.fn = h->fn;
		s.progress = h->progress;
		s.known = h->known;
		s.cluster = h->cluster;
		s.fn_priv = h->priv;
	}
	s.ag_unknown = kvzalloc(g->agcount, 0);
	s.blk = kvmalloc(g->blocksize, 0);
	if (!s.ag_unknown || !s.blk || kvfs_ira_init(&s.ira, bc, g) ||
	    kvfs_ns_create(&s.ns)) {
		err = -ENOMEM;
		goto out;
	}
	reserve(&s);
	/* geometry from kvfs_sb_read() was validated: the log fits AG 0 */
	err = kvfs_scrub_claim(&s, g->logstart, g->logblocks, KVFS_OWN_LOG, 0);
	for (s.agno = 0; s.agno < g->agcount && !err; s.agno++)
		err = check_ag(&s);
	if (!err)
		err = kvfs_ns_check(s.ns, bc, g, ns_find, &s);
	if (err)
		goto out;
	sweep(&s);
	if (!(g->state & KVFS_STATE_DIRTY) &&
	    (s.fdblocks != g->fdblocks || s.icount != g->icount ||
	     s.ifree != g->ifree))
		kvfs_scrub_find(&s, KVFS_SCRUB_SUMMARY, 0, 0, 0, KVFS_NULLINO,
				"superblock says %" PRIu64
				" free blocks, %" PRIu64 " inodes, %" PRIu64
				" free; the AGs' trees hold %" PRIu64
				", %" PRIu64 ", %" PRIu64,
				g->fdblocks, g->icount, g->ifree, s.fdblocks,
				s.icount, s.ifree);
	err = res->nfindings ? -EUCLEAN : 0;
out:
	kvfree(s.claims);
	kvfree(s.bno);
	kvfree(s.cnt);
	kvfree(s.chunks);
	kvfree(s.unl);
	kvfree(s.blk);
	kvfree(s.ag_unknown);
	kvfs_ira_destroy(&s.ira);
	kvfs_ns_destroy(s.ns);
	return err;
}

int kvfs_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
	       struct kvfs_scrub_result *res)
{
	return scrub(bc, g, res, NULL, NULL, NULL);
}

int kvfs_scrub_cb(struct kv_bcache *bc, const struct kvfs_geom *g,
		  struct kvfs_scrub_result *res, kvfs_scrub_fn fn, void *priv)
{
	struct kvfs_scrub_hooks h = { .fn = fn, .priv = priv };

	return scrub(bc, g, res, &h, NULL, NULL);
}

int kvfs_scrub_hooked(struct kv_bcache *bc, const struct kvfs_geom *g,
		      struct kvfs_scrub_result *res,
		      const struct kvfs_scrub_hooks *h)
{
	return scrub(bc, g, res, h, NULL, NULL);
}

int kvfs_scrub_dev_claims(struct kv_dev *dev, const struct kvfs_geom *g,
			  struct kvfs_scrub_result *res, kvfs_scrub_claim_fn fn,
			  void *priv)
{
	struct kv_bcache *bc;
	int err;

	/* a bounded cache: the check reads each block about once */
	err = kv_bcache_create(dev, g->blocksize, 64u << 20, &bc);
	if (err)
		return err;
	kv_bcache_set_private(bc, (void *)g);
	err = scrub(bc, g, res, NULL, fn, priv);
	kv_bcache_destroy(bc);
	return err;
}

int kvfs_scrub_dev(struct kv_dev *dev, const struct kvfs_geom *g,
		   struct kvfs_scrub_result *res)
{
	return kvfs_scrub_dev_claims(dev, g, res, NULL, NULL);
}
