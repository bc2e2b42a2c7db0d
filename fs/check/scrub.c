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

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/check/scrub.h"
#include "fs/check/scrub_namei.h"
#include "fs/check/scrub_priv.h"
#include "fs/format/ag.h"
#include "fs/format/sb.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"

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

/* fs/check/scrub_priv.h */
const char *kvfs_scrub_range_check(const struct kvfs_geom *g, uint64_t fsb,
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

/* fs/check/scrub_priv.h */
int kvfs_scrub_walk_tree(struct scrub *s, const struct kvfs_btree_tree_ops *ops,
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
	bno_bad = kvfs_scrub_walk_tree(s, &kvfs_bnobt_tree_ops, agf_bp, NULL,
				       KVFS_OWN_BNOBT, bno_rec, &bno_blocks);
	if (bno_bad < 0)
		return bno_bad;
	cnt_bad = kvfs_scrub_walk_tree(s, &kvfs_cntbt_tree_ops, agf_bp, NULL,
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
	    c.lpfino != g->lpfino ||
	    /* needs-repair is the primary's state alone */
	    ((c.feat_incompat ^ g->feat_incompat) &
	     ~KVFS_FEAT_INCOMPAT_NEEDSREPAIR) ||
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
	if (!agi_bp)
		s->ag_unknown[s->agno] = 1;
	if (agi_bp || s->hook_chunks)
		err = kvfs_scrub_agi(s, agi_bp);
	if (agi_bp)
		kv_buf_rele(agi_bp);
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
		s.hook_chunks = h->chunks;
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
	/* the namespace walk starts there: without it, it finds nothing */
	if (!err && !s.root_used &&
	    !s.ag_unknown[kvfs_ino_to_agno(g, g->rootino)])
		kvfs_scrub_find(&s, KVFS_SCRUB_INODE,
				kvfs_ino_to_agno(g, g->rootino),
				kvfs_ino_to_fsb(g, g->rootino), 0, g->rootino,
				"root directory inode %" PRIu64
				" is not in use in any inode chunk",
				g->rootino);
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
	for (size_t i = 0; i < s.nheld; i++)
		kv_buf_rele(s.held[i]);
	kvfree(s.held);
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
