// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's block-directory check (fs/check/scrub_dir.h): the data
 * blocks read in place through the directory's extent list
 * (kvfs_dir_xmap()), their live entries gathered as (hash, address)
 * pairs and both index trees walked, then each index compared with what
 * the blocks hold.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/btree/btree.h"
#include "fs/check/scrub_dir.h"
#include "fs/check/scrub_priv.h"
#include "fs/format/dinode.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/ns/dir.h"

struct dir_ctx {
	struct fork_ctx *f;
	uint64_t *recs; /* hash << 32 | ... as (hash, addr) pairs */
	size_t nrecs, cap;
	struct kvfs_dir_free_rec *frees;
	size_t nfrees, fcap;
	bool free_tree;
};

static int dir_blk(uint64_t fsb, unsigned level, void *priv)
{
	struct dir_ctx *c = priv;

	(void)level;
	c->f->blocks++;
	return kvfs_scrub_claim(c->f->s, fsb, 1, KVFS_OWN_DIRIDX, c->f->ino);
}

static int dir_rec(const void *rec, void *priv)
{
	struct dir_ctx *c = priv;
	int err;

	if (c->free_tree) {
		err = kvgrow((void **)&c->frees, &c->fcap, c->nfrees,
			     sizeof(*c->frees), 0);
		if (!err)
			c->frees[c->nfrees++] =
				*(const struct kvfs_dir_free_rec *)rec;
		return err;
	}
	err = kvgrow((void **)&c->recs, &c->cap, c->nrecs, 2 * sizeof(*c->recs),
		     0);
	if (err)
		return err;
	c->recs[2 * c->nrecs] =
		kv_le32_to_cpu(((const struct kvfs_dir_hash_rec *)rec)->hash);
	c->recs[2 * c->nrecs + 1] =
		kv_le32_to_cpu(((const struct kvfs_dir_hash_rec *)rec)->addr);
	c->nrecs++;
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/*
 * n (hash, address) pairs in pair_cmp()'s order by a radix sort (addresses'
 * bytes, then the hash's), as sort_claims() does; qsort when memory is
 * short.  Returns the sort's other buffer, room for n pairs, for the
 * caller to use or free (NULL after a qsort).
 */
static uint64_t *sort_pairs(uint64_t *ents, size_t n)
{
	uint64_t *a = ents, *b = kvmalloc(n * 2 * sizeof(*b), 0), *t;
	uint64_t max[2] = { 0, 0 };

	if (!b) {
		qsort(ents, n, 2 * sizeof(*ents), pair_cmp);
		return NULL;
	}
	kv_prefault(b, n * 2 * sizeof(*b)); /* the first pass fills it */
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < 2; k++)
			if (a[2 * i + k] > max[k])
				max[k] = a[2 * i + k];
	for (int k = 1; k >= 0; k--) {
		for (unsigned sh = 0; sh < 64 && max[k] >> sh; sh += 8) {
			size_t pos[257] = { 0 };

			for (size_t i = 0; i < n; i++)
				pos[(a[2 * i + k] >> sh & 0xffu) + 1]++;
			for (unsigned d = 1; d <= 256; d++)
				pos[d] += pos[d - 1];
			for (size_t i = 0; i < n; i++) {
				size_t j = pos[a[2 * i + k] >> sh & 0xffu]++;

				b[2 * j] = a[2 * i];
				b[2 * j + 1] = a[2 * i + 1];
			}
			t = a;
			a = b;
			b = t;
		}
	}
	if (a != ents) {
		memcpy(ents, a, n * 2 * sizeof(*a));
		b = a;
	}
	return b;
}

static void dir_find(struct fork_ctx *f, uint64_t fsb, const char *what)
{
	kvfs_scrub_find(f->s, KVFS_SCRUB_DIR, kvfs_ino_to_agno(f->s->g, f->ino),
			fsb, 0, f->ino, "directory %" PRIu64 ": %s", f->ino,
			what);
	f->bad = true;
}

/*
 * Walk one index tree of the directory whose block 0 is hbp; say: its
 * damage reported, its records gathered (else its blocks claimed alone).
 */
static int dir_walk(struct dir_ctx *c, struct kv_buf *hbp, bool free_tree,
		    bool say)
{
	struct kvfs_dir_tree_ctx tc = { .hbp = hbp, .free_tree = free_tree };
	struct kvfs_btree_walk *w;
	struct kvfs_btree_cur cur;
	int err;

	w = kvzalloc(sizeof(*w), 0);
	if (!w)
		return -ENOMEM;
	c->free_tree = free_tree;
	w->rec_fn = say ? dir_rec : NULL;
	w->blk_fn = dir_blk;
	w->priv = c;
	kvfs_btree_cur_init(&cur,
			    free_tree ? &kvfs_dir_free_tree_ops :
					&kvfs_dir_hash_tree_ops,
			    c->f->s->g, NULL, NULL, c->f->ino, &tc);
	err = kvfs_btree_walk_check(&cur, c->f->s->bc, w);
	if (err == -EUCLEAN) {
		for (unsigned i = 0; say && i < w->nfindings &&
				     i < KVFS_BTREE_WALK_MAX_FINDINGS;
		     i++)
			kvfs_scrub_find(
				c->f->s, KVFS_SCRUB_TREE,
				kvfs_ino_to_agno(c->f->s->g, c->f->ino),
				w->findings[i].blkno, 0, c->f->ino,
				"directory %" PRIu64 " %s, level %d: %s",
				c->f->ino, cur.fmt->name, w->findings[i].level,
				w->findings[i].what);
		c->f->bad = true;
		err = 0;
	}
	kvfree(w);
	return err;
}

/* A mapped data block, as the check found it. */
struct dblk_seen {
	uint32_t dblk;
	uint32_t best; /* its header's bestfree less idxlag */
	uint64_t fsb;
	bool indexed; /* a free-space index record names it */
};

static int seen_cmp(const void *key, const void *elem)
{
	uint32_t d = *(const uint32_t *)key;
	uint32_t e = ((const struct dblk_seen *)elem)->dblk;

	return d < e ? -1 : d > e;
}

/* The mapped data blocks of one directory, in order; ndata the head's. */
struct dblks {
	struct dblk_seen *v;
	size_t n, cap;
	uint32_t ndata;
};

static struct dblk_seen *dblk_get(const struct dblks *b, uint64_t dblk)
{
	uint32_t d = (uint32_t)dblk;

	if (dblk >= b->ndata)
		return NULL;
	return bsearch(&d, b->v, b->n, sizeof(*b->v), seen_cmp);
}

/* Where data block dblk is, in words: "data block 3 (block 3440)". */
static const char *dblk_where(char *buf, size_t len, const struct dblks *b,
			      uint64_t dblk)
{
	const struct dblk_seen *s = dblk_get(b, dblk);

	if (s)
		snprintf(buf, len, "data block %" PRIu64 " (block %" PRIu64 ")",
			 dblk, s->fsb);
	else if (dblk >= b->ndata)
		snprintf(buf, len, "data block %" PRIu64 ", past the head's %u",
			 dblk, b->ndata);
	else
		snprintf(buf, len, "data block %" PRIu64 ", a hole", dblk);
	return buf;
}

/*
 * The name hash index's records (recs, nrecs (hash, address) pairs)
 * against the live entries of the data blocks (ents, nents), both sorted:
 * the first record naming no entry of its hash and the first entry with
 * no record are named, with how many of each.
 */
static void compare_hash_index(struct fork_ctx *f, uint64_t hblk,
			       const struct dblks *b, const uint64_t *recs,
			       size_t nrecs, const uint64_t *ents, size_t nents)
{
	uint32_t dlog = f->s->g->dirblklog;
	size_t i = 0, j = 0, stray = 0, missing = 0;
	const uint64_t *first_stray = NULL, *first_missing = NULL;
	char where[96], what[200];

	while (i < nrecs || j < nents) {
		int c = i == nrecs ? 1 :
			j == nents ? -1 :
				     pair_cmp(&recs[2 * i], &ents[2 * j]);

		if (!c) {
			i++;
			j++;
		} else if (c < 0) {
			if (!stray++)
				first_stray = &recs[2 * i];
			i++;
		} else {
			if (!missing++)
				first_missing = &ents[2 * j];
			j++;
		}
	}
	if (first_stray) {
		snprintf(what, sizeof(what),
			 "name hash index holds %zu records for %zu entries: "
			 "%zu name no entry of their hash, the first (hash "
			 "0x%08" PRIx64 ", address %" PRIu64 ") in %s",
			 nrecs, nents, stray, first_stray[0], first_stray[1],
			 dblk_where(where, sizeof(where), b,
				    first_stray[1] * 8 >> dlog));
		dir_find(f, hblk, what);
	}
	if (first_missing) {
		uint64_t dblk = first_missing[1] * 8 >> dlog;

		snprintf(what, sizeof(what),
			 "name hash index holds %zu records for %zu entries: "
			 "%zu entries have none, the first at address %" PRIu64
			 " in %s",
			 nrecs, nents, missing, first_missing[1],
			 dblk_where(where, sizeof(where), b, dblk));
		dir_find(f, dblk_get(b, dblk)->fsb, what);
	}
}

/*
 * The free-space index's records against the mapped data blocks: one
 * record each, carrying its bestfree.  The first record that is not one
 * and the first block with none are named.
 */
static void compare_free_index(struct fork_ctx *f, uint64_t hblk,
			       const struct dblks *b,
			       const struct kvfs_dir_free_rec *frees,
			       size_t nfrees)
{
	size_t bad = 0, unindexed = 0;
	char where[96], what[200];

	for (size_t i = 0; i < nfrees; i++) {
		uint32_t dblk = kv_le32_to_cpu(frees[i].dblk);
		uint32_t best = kv_le32_to_cpu(frees[i].best);
		struct dblk_seen *s = dblk_get(b, dblk);
		const char *why = NULL;

		if (!s)
			why = "names no mapped data block";
		else if (s->indexed)
			why = "is the block's second";
		else if (s->best != best)
			why = "differs from the block's bestfree";
		if (s)
			s->indexed = true;
		if (!why || bad++)
			continue;
		snprintf(what, sizeof(what),
			 "free-space index record (bestfree %u, %s) %s", best,
			 dblk_where(where, sizeof(where), b, dblk), why);
		if (s && s->best != best)
			snprintf(what + strlen(what),
				 sizeof(what) - strlen(what), " %u", s->best);
		dir_find(f, s ? s->fsb : hblk, what);
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i].indexed || unindexed++)
			continue;
		snprintf(what, sizeof(what),
			 "%s has no free-space index record",
			 dblk_where(where, sizeof(where), b, b->v[i].dblk));
		dir_find(f, b->v[i].fsb, what);
	}
}

/*
 * Data block dblk at fsb: read, in its place, its live entries appended
 * to ents as (hash, address) pairs.  Returns 1 when it could not be used
 * (said), 0, or a negative errno.  *bpp: the buffer, held for block 0.
 */
static int read_dir_dblk(struct fork_ctx *f, uint32_t dblk, uint64_t fsb,
			 struct dblks *b, uint64_t **ents, size_t *ecap,
			 size_t *nents, struct kv_buf **bpp)
{
	const struct kvfs_geom *g = f->s->g;
	const struct kvfs_dir_data_hdr *h;
	struct kv_buf *bp;
	char where[224];
	uint32_t pos;
	int err;

	err = kv_buf_read(f->s->bc, fsb, g->dirblksize >> g->blocklog,
			  &kvfs_dir_data_buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG) {
		snprintf(where, sizeof(where),
			 "data block %u (block %" PRIu64 "): %.150s", dblk, fsb,
			 kvfs_report_last()->msg);
		dir_find(f, fsb, where);
		return 1;
	}
	if (err)
		return err;
	h = bp->b_addr;
	if (kv_le64_to_cpu(h->hdr.owner) != f->ino ||
	    kv_le32_to_cpu(h->dblk) != dblk) {
		snprintf(where, sizeof(where),
			 "data block %u (block %" PRIu64 ") holds data block "
			 "%u of inode %" PRIu64,
			 dblk, fsb, kv_le32_to_cpu(h->dblk),
			 (uint64_t)kv_le64_to_cpu(h->hdr.owner));
		kv_buf_rele(bp);
		dir_find(f, fsb, where);
		return 1;
	}
	err = kvgrow((void **)&b->v, &b->cap, b->n, sizeof(*b->v), 0);
	if (err) {
		kv_buf_rele(bp);
		return err;
	}
	b->v[b->n++] = (struct dblk_seen){
		.dblk = dblk,
		.fsb = fsb,
		.best = kv_le32_to_cpu(h->bestfree) - kv_le32_to_cpu(h->idxlag)
	};
	/* the verifier walked the records: their lengths hold */
	for (pos = dblk ? KVFS_DIR_DATA_HDR_SIZE : KVFS_DIR_HEAD_SIZE;
	     pos < g->dirblksize;) {
		const struct kvfs_dir_data_ent *e =
			(const void *)((char *)bp->b_addr + pos);

		if (kv_le64_to_cpu(e->ino)) {
			err = kvgrow((void **)ents, ecap, *nents,
				     2 * sizeof(**ents), 0);
			if (err)
				break;
			(*ents)[2 * *nents] =
				kvfs_dir_hashname(e->name, e->namelen);
			(*ents)[2 * *nents + 1] =
				(((uint64_t)dblk << g->dirblklog) + pos) / 8;
			(*nents)++;
		}
		pos += kv_le32_to_cpu(e->reclen);
	}
	if (err || dblk)
		kv_buf_rele(bp);
	else
		*bpp = bp;
	return err;
}

/*
 * Block 0 could not be used (said): the index blocks its head still leads
 * to, read as the repair reads it (kvfs_dir_read_head()), claimed as the
 * repair claims and frees them (else reported leaked: 13 blocks of a
 * directory whose block 0 had one field wrong).  Neither their records
 * nor their damage (their roots are a damaged block's) are looked at: the
 * directory is rebuilt.
 */
static int claim_damaged_index(struct dir_ctx *c, const struct kvfs_extent *x,
			       uint32_t nx)
{
	struct kv_buf *hbp;
	bool damaged;
	int err = kvfs_dir_read_head(c->f->s->bc, c->f->s->g, c->f->ino, x, nx,
				     &hbp, &damaged);

	if (err == -EUCLEAN || err == -ENODATA || err == -EINVAL)
		return 0;
	if (err)
		return err;
	for (int t = 0; t < 2 && !err; t++)
		err = dir_walk(c, hbp, t, false);
	kv_buf_rele(hbp);
	return err;
}

/*
 * Room in *ents for the entries the head counts (nentries), when the data
 * blocks could hold them (ndata blocks of the smallest records): made once
 * rather than by doubling, each growth copied into memory faulted in anew
 * (a million-entry directory's 16 MiB), and mapped in one call.  Short of
 * memory, nothing.
 */
static void reserve_ents(const struct kvfs_geom *g, const struct dblks *b,
			 uint64_t nentries, uint64_t **ents, size_t *ecap)
{
	uint64_t most =
		(uint64_t)b->ndata * (g->dirblksize / KVFS_DIR_DATA_ENT_SIZE);
	uint64_t *p;

	if (nentries > most)
		nentries = most;
	if (nentries <= *ecap || nentries > SIZE_MAX / (2 * sizeof(*p)))
		return;
	p = kvrealloc(*ents, (size_t)nentries * 2 * sizeof(*p),
		      KV_NORETRY | KV_NOWARN);
	if (!p)
		return;
	kv_prefault(p, (size_t)nentries * 2 * sizeof(*p));
	*ents = p;
	*ecap = (size_t)nentries;
}

/* fs/check/scrub_dir.h */
int kvfs_scrub_dir_blocks(struct fork_ctx *f, const struct kvfs_dinode *d,
			  const struct kvfs_extent *x, uint32_t nx)
{
	const struct kvfs_geom *g = f->s->g;
	uint32_t fsbs = g->dirblksize >> g->blocklog, run;
	struct kvfs_dir_xmap m = { .x = x, .n = nx };
	const struct kvfs_dir_head *head;
	struct dir_ctx c = { .f = f };
	struct dblks b = { .ndata = 1 };
	uint64_t *ents = NULL, mapped_end, fsb, nentries, size;
	size_t nents = 0, ecap = 0;
	struct kv_buf *hbp = NULL;
	char what[200];
	int err;

	mapped_end = kv_le64_to_cpu(x[nx - 1].startoff) +
		     kv_le32_to_cpu(x[nx - 1].blockcount);
	fsb = kvfs_dir_xmap(&m, 0, fsbs, &run);
	if (run < fsbs) {
		dir_find(f, kv_le64_to_cpu(x[0].startblock),
			 "data block 0 (the head) is not mapped in one piece");
		return 0;
	}
	err = read_dir_dblk(f, 0, fsb, &b, &ents, &ecap, &nents, &hbp);
	if (err == 1)
		err = claim_damaged_index(&c, x, nx);
	if (err || !hbp)
		goto out;
	head = (const void *)((char *)hbp->b_addr + KVFS_DIR_DATA_HDR_SIZE);
	b.ndata = kv_le32_to_cpu(head->ndata);
	/* the last data block is mapped (a freed last one moves the end) */
	if (mapped_end != (uint64_t)b.ndata * fsbs) {
		snprintf(what, sizeof(what),
			 "head (block %" PRIu64
			 ") says %u data blocks (%" PRIu64
			 " file blocks), the data fork maps %" PRIu64,
			 fsb, b.ndata, (uint64_t)b.ndata * fsbs, mapped_end);
		dir_find(f, fsb, what);
		goto out;
	}
	size = kv_le64_to_cpu(d->size);
	if (size != (uint64_t)b.ndata * g->dirblksize) {
		snprintf(what, sizeof(what),
			 "size %" PRIu64 " is not its %u data blocks' (%" PRIu64
			 " bytes, head block %" PRIu64 ")",
			 size, b.ndata, (uint64_t)b.ndata * g->dirblksize, fsb);
		dir_find(f, fsb, what);
	}
	reserve_ents(g, &b, kv_le64_to_cpu(head->nentries), &ents, &ecap);
	/* every data block the extents map; the others are holes */
	for (uint32_t i = 0; i < nx; i++) {
		uint64_t o = kv_le64_to_cpu(x[i].startoff);
		uint64_t end = o + kv_le32_to_cpu(x[i].blockcount);

		for (uint64_t dblk = o / fsbs; dblk * fsbs < end; dblk++) {
			if (dblk <= b.v[b.n - 1].dblk)
				continue;
			fsb = kvfs_dir_xmap(&m, dblk * fsbs, fsbs, &run);
			if (run < fsbs) {
				snprintf(what, sizeof(what),
					 "data block %" PRIu64
					 " (file block %" PRIu64
					 ") is not mapped in one piece",
					 dblk, dblk * fsbs);
				dir_find(f, kv_le64_to_cpu(x[i].startblock),
					 what);
				goto out;
			}
			err = read_dir_dblk(f, (uint32_t)dblk, fsb, &b, &ents,
					    &ecap, &nents, NULL);
			if (err)
				goto out;
		}
	}
	nentries = kv_le64_to_cpu(head->nentries);
	if (nentries != nents) {
		snprintf(what, sizeof(what),
			 "head's entry count is wrong: block %" PRIu64
			 " says %" PRIu64 ", its data blocks hold %zu",
			 hbp->b_blkno, nentries, nents);
		dir_find(f, hbp->b_blkno, what);
	}
	/*
	 * Sorted before the index is walked: the sort's spare buffer holds
	 * the index's records, as many as the entries when it is sound
	 * (memory faulted in once, not grown into by doubling).
	 */
	if (nents > 1) {
		c.recs = sort_pairs(ents, nents);
		c.cap = c.recs ? nents : 0;
	}
	err = dir_walk(&c, hbp, false, true);
	if (!err)
		err = dir_walk(&c, hbp, true, true);
	if (err)
		goto out;
	/* in the tree's order unless the walk found it out of order */
	for (size_t i = 1; i < c.nrecs; i++) {
		if (pair_cmp(&c.recs[2 * (i - 1)], &c.recs[2 * i]) > 0) {
			kvfree(sort_pairs(c.recs, c.nrecs));
			break;
		}
	}
	compare_hash_index(f, hbp->b_blkno, &b, c.recs, c.nrecs, ents, nents);
	compare_free_index(f, hbp->b_blkno, &b, c.frees, c.nfrees);
out:
	if (hbp)
		kv_buf_rele(hbp);
	kvfree(ents);
	kvfree(b.v);
	kvfree(c.recs);
	kvfree(c.frees);
	return err < 0 ? err : 0;
}
