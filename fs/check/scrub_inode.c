// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's inode half, per AG: the inode-chunk tree, every inode of
 * every chunk with its forks (each block a fork maps claimed for the
 * inode), the unlinked lists, and the inode header's counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/check/scrub.h"
#include "fs/check/scrub_dir.h"
#include "fs/check/scrub_priv.h"
#include "fs/format/ag.h"
#include "fs/format/dinode.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/ns/attr.h"
#include "fs/ns/symlink.h"

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
		const char *bad = kvfs_scrub_range_check(g, bno, len);

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
	s->root_used |= ino == g->rootino;
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

/*
 * The cluster at fsb (bytes *blkp) handed to s->cluster() in s->blk, which
 * it may change: then *blkp is s->blk, and the cache's buffer of fsb holds
 * the change, held until the check ends (the namespace walk reads it).
 */
static int offer_cluster(struct scrub *s, uint64_t ino, uint64_t fsb,
			 const uint8_t **blkp)
{
	const struct kvfs_geom *g = s->g;
	struct kv_buf *bp;
	int ret;

	if (*blkp != s->blk)
		memcpy(s->blk, *blkp, g->blocksize);
	ret = s->cluster(s->fn_priv, ino, fsb, s->blk);
	if (ret <= 0)
		return ret;
	*blkp = s->blk;
	ret = kvgrow((void **)&s->held, &s->held_cap, s->nheld,
		     sizeof(*s->held), 0);
	if (!ret)
		ret = kv_buf_get(s->bc, fsb, 1, &kvfs_inode_buf_ops, &bp);
	if (ret)
		return ret;
	kv_buf_lock(bp);
	memcpy(bp->b_addr, s->blk, g->blocksize);
	kv_buf_unlock(bp);
	s->held[s->nheld++] = bp;
	return 0;
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
			err = offer_cluster(
				s, kvfs_agino_to_ino(g, s->agno, agino), fsb,
				&blk);
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

/* The hooks' records of the AG's chunks, if it has them, for the tree's. */
static int hooked_chunks(struct scrub *s)
{
	const struct kvfs_inobt_rec *recs;
	size_t n;
	int err = 0;

	if (!s->hook_chunks || !s->hook_chunks(s->fn_priv, s->agno, &recs, &n))
		return 0;
	s->nchunks = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = kvgrow((void **)&s->chunks, &s->chunk_cap, s->nchunks,
			     sizeof(*s->chunks), 0);
		if (!err)
			s->chunks[s->nchunks++] = recs[i];
	}
	return err;
}

/* fs/check/scrub_priv.h */
int kvfs_scrub_agi(struct scrub *s, struct kv_buf *agi_bp)
{
	const struct kvfs_geom *g = s->g;
	uint64_t agi_blkno = kvfs_agb_to_fsb(g, s->agno, KVFS_AGI_AGBNO);
	uint64_t icount = 0, ifree = 0;
	struct kvfs_agi_info a;
	bool hdr = agi_bp != NULL;
	int err = 0;

	s->nchunks = 0;
	if (hdr) {
		kv_buf_lock(agi_bp);
		err = kvfs_agi_from_disk(g, s->agno, agi_bp->b_addr, &a);
		kv_buf_unlock(agi_bp);
	}
	if (err) {
		kvfs_scrub_find(s, KVFS_SCRUB_AG_HEADER, s->agno, agi_blkno, 0,
				KVFS_NULLINO, "inode header: %s",
				kvfs_report_last()->msg);
		s->ag_unknown[s->agno] = 1;
		hdr = false;
	}
	if (hdr)
		err = kvfs_scrub_walk_tree(s, &kvfs_inobt_tree_ops, NULL,
					   agi_bp, KVFS_OWN_INOBT, ino_rec,
					   NULL);
	if (err >= 0)
		err = hooked_chunks(s);
	if (!err && hdr)
		err = check_unlinked(s, &a);
	if (err < 0)
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
	if (hdr && (icount != a.icount || ifree != a.ifree))
		kvfs_scrub_find(
			s, KVFS_SCRUB_INODE_COUNTERS, s->agno, agi_blkno, 0,
			KVFS_NULLINO,
			"inode header says %u inodes, %u free; the inode-chunk "
			"tree holds %" PRIu64 ", %" PRIu64 " free",
			a.icount, a.ifree, icount, ifree);
	return 0;
}
