// SPDX-License-Identifier: GPL-2.0
/*
 * A block directory's two index trees (fs/format.h): the name hash index,
 * searched by kvfs_dir_hash_find()'s own walk and changed through the generic
 * B+tree engine, and the free-space index of the data blocks' bestfree.
 * Locks: the directory's inode lock, as fs/ns/dir.c holds it (shared for
 * a search without a transaction, exclusive in one).
 */
#include <errno.h>
#include <string.h>

#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/kvfs.h"
#include "fs/ns/dir.h"
#include "fs/ns/dir_priv.h"
#include "fs/trans/trans.h"

/* ---- the name hash index, read ---- */

/*
 * join: locked in d->tp (the path from the root to the first leaf, which
 * an insertion in the same transaction descends again), else held.
 */
static int read_tree_blk(struct kvfs_dir_ctx *d, uint64_t fsb, unsigned level,
			 bool join, struct kv_buf **bpp)
{
	const struct kvfs_btree_block *bb;
	struct kv_buf *bp = NULL;
	int err;

	if (fsb >= d->g->dblocks)
		return kvfs_dir_ctx_corrupt(d, fsb,
					    "hash index pointer out of range");
	err = join ? kvfs_trans_read_buf(d->tp->jt, d->mp->bl, fsb, 1,
					 &kvfs_dir_hash_buf_ops, &bp) :
		     kv_buf_read(d->mp->bc, fsb, 1, &kvfs_dir_hash_buf_ops,
				 &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err;
	bb = bp->b_addr;
	if (kv_le32_to_cpu(bb->hdr.magic) != KVFS_DIR_HASH_MAGIC ||
	    kv_le64_to_cpu(bb->hdr.owner) != d->dp->i_ino ||
	    kv_le16_to_cpu(bb->level) != level) {
		if (!join)
			kv_buf_rele(bp);
		return kvfs_dir_ctx_corrupt(d, fsb,
					    "hash index block out of place");
	}
	*bpp = bp;
	return 0;
}

static void tree_blk_rele(struct kv_buf *bp, bool joined)
{
	if (!joined)
		kv_buf_rele(bp);
}

static int hkey_cmp(uint32_t h1, uint64_t a1, uint32_t h2, uint64_t a2)
{
	if (h1 != h2)
		return h1 < h2 ? -1 : 1;
	return a1 < a2 ? -1 : a1 > a2;
}

/* Does the entry at address addr carry m's name? */
static int entry_matches(struct kvfs_dir_ctx *d, uint64_t addr,
			 struct kvfs_dir_hmatch *m, bool *hit)
{
	uint64_t byte = addr * 8;
	uint32_t dblk = (uint32_t)(byte >> d->g->dirblklog);
	uint32_t off = (uint32_t)(byte & (d->g->dirblksize - 1));
	struct kvfs_dir_data_ent *e;
	struct kv_buf *bp = NULL;
	int err;

	if (dblk >= kv_le32_to_cpu(head(d->hbp)->ndata) ||
	    off < data_start(dblk) ||
	    off + KVFS_DIR_DATA_ENT_SIZE > d->g->dirblksize)
		return kvfs_dir_ctx_corrupt(
			d, d->hbp->b_blkno,
			"hash index names an address outside the data");
	err = kvfs_dir_ctx_read_dblk(d, dblk, &bp);
	if (err == -ENODATA)
		return kvfs_dir_ctx_corrupt(
			d, d->hbp->b_blkno,
			"hash index names a freed data block");
	if (err)
		return err;
	e = ent_at(bp, off);
	*hit = false;
	/*
	 * The data block's verifier walks its records from the start; an
	 * address from the index may point inside one (an unused record's
	 * bytes are not checked): the record must hold the name it claims.
	 */
	if (!kv_le64_to_cpu(e->ino) ||
	    kv_le32_to_cpu(e->reclen) < KVFS_DIR_DATA_ENTSIZE(e->namelen) ||
	    off + kv_le32_to_cpu(e->reclen) > d->g->dirblksize) {
		kvfs_dir_ctx_rele(d, bp);
		return kvfs_dir_ctx_corrupt(d, bp->b_blkno,
					    "hash index names no entry");
	}
	if (e->namelen == m->len && !memcmp(e->name, m->name, m->len)) {
		*hit = true;
		m->addr = addr;
		m->ino = kv_le64_to_cpu(e->ino);
		m->ftype = e->ftype;
	}
	kvfs_dir_ctx_rele(d, bp);
	return 0;
}

/*
 * Binary searches of one hash index block (the linear scans of a 4 KiB
 * block's few hundred keys were a fifth of the instructions of a warm
 * lookup).  In a node of n >= 1 keys: the last child whose first key is
 * <= (hash, 0), child 0 if none.
 */
static unsigned hash_node_child(struct kvfs_btree_block *bb,
				const struct kvfs_btree_ops *ops, unsigned n,
				uint32_t hash)
{
	unsigned lo = 0, hi = n - 1;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo + 1) / 2;
		struct kvfs_dir_hash_rec *k = kvfs_btree_key(bb, ops, mid);

		if (hkey_cmp(kv_le32_to_cpu(k->hash), kv_le32_to_cpu(k->addr),
			     hash, 0) > 0)
			hi = mid - 1;
		else
			lo = mid;
	}
	return lo;
}

/* In a leaf of n records: the first whose hash is >= hash (n if none). */
static unsigned hash_leaf_first(struct kvfs_btree_block *bb,
				const struct kvfs_btree_ops *ops, unsigned n,
				uint32_t hash)
{
	unsigned lo = 0, hi = n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		struct kvfs_dir_hash_rec *r = kvfs_btree_rec(bb, ops, mid);

		if (kv_le32_to_cpu(r->hash) < hash)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Find m->name through the hash index: descend to the first record with
 * key >= (hash, 0), then follow records (and right siblings) while the
 * hash matches.  *found false if none carries the name.  In a
 * transaction the descent's blocks are joined to it, where the name's
 * insertion finds them again; right siblings, as many as the hash's
 * collisions span, are only read.
 */
int kvfs_dir_hash_find(struct kvfs_dir_ctx *d, struct kvfs_dir_hmatch *m,
		       bool *found)
{
	const struct kvfs_geom *g = d->g;
	uint32_t hash =
		kvfs_dir_hashname((const uint8_t *)m->name, (unsigned)m->len);
	const struct kvfs_dir_head *hd = head(d->hbp);
	uint64_t fsb = kv_le64_to_cpu(hd->hash_root);
	unsigned level = hd->hash_level;
	const struct kvfs_btree_ops *ops = &kvfs_dir_hash_ops;
	struct kv_buf *bp = NULL;
	bool joined = d->tp != NULL;
	int err, hops = 0;
	unsigned i, n;

	*found = false;
	for (;;) {
		struct kvfs_btree_block *bb;

		err = read_tree_blk(d, fsb, level, joined, &bp);
		if (err)
			return err;
		bb = bp->b_addr;
		n = kv_le16_to_cpu(bb->numrecs);
		if (!level)
			break;
		if (!n) {
			tree_blk_rele(bp, joined);
			return kvfs_dir_ctx_corrupt(d, fsb,
						    "empty hash index node");
		}
		i = hash_node_child(bb, ops, n, hash);
		fsb = kv_le64_to_cpu(*kvfs_btree_ptr(bb, ops, g->blocksize, i));
		tree_blk_rele(bp, joined);
		level--;
	}
	/* at the leaf: records from the first >= (hash, 0) */
	for (i = hash_leaf_first(bp->b_addr, ops, n, hash);;) {
		struct kvfs_btree_block *bb = bp->b_addr;
		uint64_t next;

		n = kv_le16_to_cpu(bb->numrecs);
		for (; i < n; i++) {
			struct kvfs_dir_hash_rec *r =
				kvfs_btree_rec(bb, ops, i);
			uint32_t rh = kv_le32_to_cpu(r->hash);
			bool hit = false;

			if (rh < hash)
				continue;
			if (rh > hash) {
				tree_blk_rele(bp, joined);
				return 0;
			}
			err = entry_matches(d, kv_le32_to_cpu(r->addr), m,
					    &hit);
			if (err || hit) {
				tree_blk_rele(bp, joined);
				*found = !err;
				return err;
			}
		}
		next = kv_le64_to_cpu(bb->rightsib);
		tree_blk_rele(bp, joined);
		if (next == KVFS_NULLBLOCK)
			return 0;
		if (++hops > 1 << 20)
			return kvfs_dir_ctx_corrupt(d, next,
						    "hash index sibling loop");
		joined = false;
		err = read_tree_blk(d, next, 0, false, &bp);
		if (err)
			return err;
		i = 0;
	}
}

/* ---- the index trees, in d->tp ---- */

/*
 * Insert rec into the free-space index (free_tree) or the name-hash index;
 * a record already there is corruption, reported as dup.  The insertion's
 * own descent finds it (-EEXIST): no lookup first, which walked the tree
 * twice per record.
 */
static int idx_insert(struct kvfs_dir_ctx *d, bool free_tree, const void *rec,
		      const char *dup)
{
	struct kvfs_btree_cur cur;
	struct kvfs_dir_tree_ctx c;
	int err;

	kvfs_dir_ctx_tree_cur(d, &cur, &c, free_tree);
	err = kvfs_btree_insert(&cur, rec);
	return err == -EEXIST ? kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno, dup) :
				err;
}

/* at: a cursor a lookup left where the record goes, or NULL. */
int kvfs_dir_hash_insert(struct kvfs_dir_ctx *d, uint32_t hash, uint64_t addr,
			 struct kvfs_dir_cur *at)
{
	struct kvfs_dir_hash_rec r = { .hash = kv_cpu_to_le32(hash),
				       .addr = kv_cpu_to_le32((uint32_t)addr) };
	int err;

	if (!at)
		return idx_insert(d, false, &r, "hash record exists");
	err = kvfs_btree_insert_at(&at->cur, &r);
	return err == -EEXIST ? kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno,
						     "hash record exists") :
				err;
}

/* Delete rec from one index; *found false (and nothing done) if absent. */
static int idx_delete(struct kvfs_dir_ctx *d, bool free_tree, const void *rec,
		      bool *found)
{
	struct kvfs_btree_cur cur;
	struct kvfs_dir_tree_ctx c;
	int stat, err;

	kvfs_dir_ctx_tree_cur(d, &cur, &c, free_tree);
	err = kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, rec, &stat);
	if (err)
		return err;
	*found = stat;
	return stat ? kvfs_btree_delete(&cur, &stat) : 0;
}

int kvfs_dir_hash_delete(struct kvfs_dir_ctx *d, uint32_t hash, uint64_t addr)
{
	struct kvfs_dir_hash_rec r = { .hash = kv_cpu_to_le32(hash),
				       .addr = kv_cpu_to_le32((uint32_t)addr) };
	bool found;
	int err = idx_delete(d, false, &r, &found);

	if (!err && !found)
		return kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno,
					    "hash record missing");
	return err;
}

int kvfs_dir_free_insert(struct kvfs_dir_ctx *d, uint32_t best, uint32_t dblk)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(best),
				       .dblk = kv_cpu_to_le32(dblk) };

	return idx_insert(d, true, &r, "free record exists");
}

/* Delete (best, dblk); *found false (and nothing done) if absent. */
int kvfs_dir_free_delete(struct kvfs_dir_ctx *d, uint32_t best, uint32_t dblk,
			 bool *found)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(best),
				       .dblk = kv_cpu_to_le32(dblk) };

	return idx_delete(d, true, &r, found);
}

/*
 * The record's key changed from old to new: rewritten in place where the
 * order allows (the block filling up or emptying usually stays between
 * the same neighbours), else deleted and inserted again.
 */
static int free_move(struct kvfs_dir_ctx *d, struct kvfs_dir_cur *fc,
		     uint32_t old, uint32_t new, uint32_t dblk)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(old),
				       .dblk = kv_cpu_to_le32(dblk) };
	struct kvfs_dir_free_rec at;
	struct kvfs_dir_cur own;
	bool done;
	int stat, err;

	if (old == new)
		return 0;
	/*
	 * kvfs_dir_free_find()'s cursor still on the record (nothing changed the
	 * index since, in this transaction): no second descent
	 */
	if (fc && !kvfs_btree_get_rec(&fc->cur, &at, &stat) && stat &&
	    !memcmp(&at, &r, sizeof(r))) {
		err = 0;
	} else {
		fc = &own;
		kvfs_dir_ctx_tree_cur(d, &fc->cur, &fc->c, true);
		err = kvfs_btree_lookup(&fc->cur, KVFS_LOOKUP_EQ, &r, &stat);
		if (!err && !stat)
			return kvfs_dir_ctx_corrupt(d, d->hbp->b_blkno,
						    "free record missing");
	}
	r.best = kv_cpu_to_le32(new);
	if (!err)
		err = kvfs_btree_update_moved(&fc->cur, &r, &done);
	if (err || done)
		return err;
	err = kvfs_btree_delete(&fc->cur, &stat);
	return err ? err : kvfs_dir_free_insert(d, new, dblk);
}

/* The best bp's free-space index record carries (fs/format.h: idxlag). */
uint32_t kvfs_dir_idx_best(struct kv_buf *bp)
{
	return kv_le32_to_cpu(dhdr(bp)->bestfree) -
	       kv_le32_to_cpu(dhdr(bp)->idxlag);
}

/*
 * Data block dblk's bestfree changed; old is the best its record carries.
 * The record moves, unless it can stay, promising less room than there
 * is: in a transaction without the blocks a split of the index may take
 * (a removal on a full filesystem, XFS's xfs_remove() with resblks 0,
 * then changes nothing that could need a block), or when it already
 * promises room for the longest name, which every search for room then
 * finds as it would the exact figure (the removals emptying a block
 * each moved its record, a descent and a logged leaf per unlink).
 */
int kvfs_dir_free_reindex(struct kvfs_dir_ctx *d, struct kvfs_dir_cur *fc,
			  struct kv_buf *bp, uint32_t old, uint32_t dblk)
{
	uint32_t best = kv_le32_to_cpu(dhdr(bp)->bestfree);
	uint32_t split = head(d->hbp)->free_level + 2u;
	int err;

	if (best < old || (old < KVFS_DIR_DATA_ENTSIZE(KVFS_NAME_MAX) &&
			   kvfs_trans_blocks_left(d->tp) >= split)) {
		err = free_move(d, fc, old, best, dblk);
		if (err)
			return err;
		old = best;
	}
	if (kv_le32_to_cpu(dhdr(bp)->idxlag) != best - old) {
		dhdr(bp)->idxlag = kv_cpu_to_le32(best - old);
		kvfs_dir_ctx_log(d, bp, 0, KVFS_DIR_DATA_HDR_SIZE);
	}
	return 0;
}

/* A data block with room for need bytes: *dblk, or *found false. */
int kvfs_dir_free_find(struct kvfs_dir_ctx *d, struct kvfs_dir_cur *fc,
		       uint32_t need, uint32_t *dblk, bool *found)
{
	struct kvfs_dir_free_rec r = { .best = kv_cpu_to_le32(need) };
	int stat, err;

	kvfs_dir_ctx_tree_cur(d, &fc->cur, &fc->c, true);
	err = kvfs_btree_lookup(&fc->cur, KVFS_LOOKUP_GE, &r, &stat);
	if (!err && stat)
		err = kvfs_btree_get_rec(&fc->cur, &r, &stat);
	if (err)
		return err;
	*found = stat;
	if (stat)
		*dblk = kv_le32_to_cpu(r.dblk);
	return 0;
}

/* The cursor's leaf takes one more record without a split. */
static bool leaf_room(const struct kvfs_btree_cur *cur)
{
	const struct kvfs_btree_block *bb = cur->bp[0]->b_addr;

	return kv_le16_to_cpu(bb->numrecs) < kvfs_btree_cur_maxrecs(cur, 0);
}

bool kvfs_dir_hash_cur_past(const struct kvfs_btree_cur *cur, uint32_t hash)
{
	struct kvfs_btree_block *bb = cur->bp[0]->b_addr;
	const struct kvfs_dir_hash_rec *r;

	if (cur->ptr[0] >= kv_le16_to_cpu(bb->numrecs))
		return false;
	r = kvfs_btree_rec(bb, &kvfs_dir_hash_ops, (unsigned)cur->ptr[0]);
	return kv_le32_to_cpu(r->hash) != hash;
}

/*
 * The blocks the insertion of name's hash record reads, read; *hc left
 * on where it goes.  Its address is not known before the entry is
 * placed: (hash, 0) finds the leaf, unless records of the same hash (or
 * the leaf's end) follow, where a larger address may go one leaf on and
 * kvfs_dir_hash_find() (a create not known absent) reads the next leaf.
 * *room (when asked): whichever of those leaves it goes into takes it
 * without a split.  *at (when asked): no record of the hash follows in
 * the leaf, so that *hc stands where the record goes, whatever its
 * address.  positioned: *hc is already on (hash, 0) in d->tp
 * (kvfs_dir_lookup_at()).
 */
int kvfs_dir_hash_ins_reads(struct kvfs_dir_ctx *d, const char *name,
			    size_t len, struct kvfs_dir_cur *hc,
			    bool positioned, bool *room, bool *at)
{
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)name, (unsigned)len);
	struct kvfs_dir_hash_rec h = { .hash = kv_cpu_to_le32(hash) };
	struct kvfs_btree_block *bb;
	struct kv_buf *bp = NULL;
	struct kvfs_dir_cur last;
	uint64_t rightsib;
	bool here;
	int stat, err;

	if (!positioned) {
		kvfs_dir_ctx_tree_cur(d, &hc->cur, &hc->c, false);
		err = kvfs_btree_lookup(&hc->cur, KVFS_LOOKUP_EQ, &h, &stat);
		if (err)
			return err;
	}
	err = kvfs_btree_insert_reads(&hc->cur);
	if (err)
		return err;
	bb = hc->cur.bp[0]->b_addr;
	if (room)
		*room = leaf_room(&hc->cur);
	here = kvfs_dir_hash_cur_past(&hc->cur, hash);
	if (at)
		*at = here;
	if (here)
		return 0;
	rightsib = kv_le64_to_cpu(bb->rightsib);
	if (rightsib != KVFS_NULLBLOCK) {
		err = read_tree_blk(d, rightsib, 0, true, &bp);
		if (err)
			return err;
	}
	h.addr = kv_cpu_to_le32(UINT32_MAX);
	kvfs_dir_ctx_tree_cur(d, &last.cur, &last.c, false);
	err = kvfs_btree_lookup(&last.cur, KVFS_LOOKUP_EQ, &h, &stat);
	if (!err)
		err = kvfs_btree_insert_reads(&last.cur);
	/* records of the same hash may end one leaf and begin the next */
	if (!err && room)
		*room = *room && leaf_room(&last.cur) &&
			(last.cur.bp[0]->b_blkno == hc->cur.bp[0]->b_blkno ||
			 last.cur.bp[0]->b_blkno == rightsib);
	return err;
}
