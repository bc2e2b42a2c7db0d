// SPDX-License-Identifier: GPL-2.0
/*
 * A directory lookup without the directory's lock (fs/ns/dir.h:
 * kvfs_dir_lookup_rcu()), for the stat and lookup fast paths.
 */
#include "fs/ns/dir.h"

#include <stdatomic.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/format/dinode.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/io/buf_ops.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/ns/dir_priv.h"

/*
 * kvfs_dir_lookup_rcu() reads what the locked lookup reads, without dp's
 * lock: the caller reads under rcu_read_lock() and validates dp's
 * i_lock_seq afterwards (kvfs_icache_read()).  Why that is enough:
 *  - every change of a directory (its short form, head, data blocks and
 *    index trees, its format, its block map: blocks added and freed) is
 *    made holding dp's lock exclusively, and i_lock_seq is odd all that
 *    hold long: a read that overlapped a change is thrown away;
 *  - so a read that validates saw one state of the directory, but before
 *    validating it may read anything: a block mid-change, or a block
 *    freed and reused by another file when the pointer to it was read
 *    before the change.  Every value is loaded once (rd*()) and
 *    bounds-checked before it is used, every loop is bounded, and nothing
 *    found is reported as damage: the locked path the caller falls back
 *    to reports it;
 *  - the memory read stays allocated until rcu_read_unlock(): buffers come
 *    from kv_buf_peek() (fs/io/buf.c frees a buffer a grace period after
 *    unhashing it, and its b_addr with it), the inode and its forks are
 *    freed a grace period after the inode leaves the cache, and data
 *    block maps live as long as the inode (above).
 * -EAGAIN whenever it cannot answer so: a block not cached (a cold lookup
 * reads under the lock), an address not remembered, anything out of place.
 *
 * The stores: the head block's fields, read and validated here against
 * i_lock_seq, are kept in dp's map with that count (struct
 * kvfs_dir_map_head), and a later lookup at the same count uses them
 * without finding the head block (a tenth of a stat's instructions); so
 * are the buffers of the data and index blocks found (struct
 * kvfs_dir_map_buf), with the buffer cache's free epoch: a later lookup
 * at the same count reads neither the cache's index nor the blocks'
 * headers (in a directory of 50 000 names, a stat's buffer-cache index
 * walks, two, and two of its 17 L1 misses, callgrind), nor the buffers
 * (fs/io/buf.h kv_buf_peek_epoch(), read once a lookup: in directories
 * of 150 000 names, 1 689 -> 1 447 instructions a stat with the search
 * of hash_find_rcu(), and the misses of the leaf's and the data block's
 * buffers).
 */
static uint8_t rd8(const uint8_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint16_t rd16(const kv_le16 *p)
{
	return le16toh(__atomic_load_n(&p->v, __ATOMIC_RELAXED));
}

static uint32_t rd32(const kv_le32 *p)
{
	return le32toh(__atomic_load_n(&p->v, __ATOMIC_RELAXED));
}

static uint64_t rd64(const kv_le64 *p)
{
	return le64toh(__atomic_load_n(&p->v, __ATOMIC_RELAXED));
}

/* A sibling chain of equal hashes longer than this: the locked walk. */
#define RCU_MAX_HOPS 8

struct rctx {
	const struct kvfs_inode *dp;
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	const struct kvfs_dir_map *m;
	uint32_t ndata;
	const char *name;
	uint32_t len;
	uint64_t seq; /* dp's i_lock_seq, as the caller validates it */
	uint64_t epoch; /* the buffer cache's free epoch, read first */
	uint64_t ino;
	uint64_t addr; /* the entry's, in block form (0 in the short form) */
	uint8_t ftype;
	bool want_hint; /* the caller's: hints made where there are none */
	struct kvfs_ihint *hint; /* where ino's inode is remembered, or NULL */
};

static int sf_lookup_rcu(struct rctx *r)
{
	const uint8_t *f = r->dp->i_dfork;
	/* what i_dfork has room for, whatever the fork offset read */
	uint32_t room = r->g->inodesize - KVFS_DINODE_CORE_SIZE, off;
	unsigned n = rd16(&((const struct kvfs_dir_sf_hdr *)f)->count);

	off = KVFS_DIR_SF_HDR_SIZE;
	for (unsigned i = 0; i < n; i++) {
		const struct kvfs_dir_sf_ent *e = (const void *)(f + off);
		uint32_t nl;

		if (off + KVFS_DIR_SF_ENT_SIZE > room)
			return -EAGAIN;
		nl = rd8(&e->namelen);
		if (off + KVFS_DIR_SF_ENTSIZE(nl) > room)
			return -EAGAIN;
		if (nl == r->len && !memcmp(e->name, r->name, nl)) {
			r->ino = rd64(&e->ino);
			r->ftype = rd8(&e->ftype);
			return 0;
		}
		off += KVFS_DIR_SF_ENTSIZE(nl);
	}
	return -ENOENT;
}

/*
 * The contents of the buffer kept in slot k for the block key names
 * (struct kvfs_dir_map_buf) at this lookup's seq, or NULL; its record
 * count in *n.  The buffer itself is not read (a line a lookup would
 * miss): dp was not changed since the block was kept (the stamp), so the
 * block is still dp's, neither freed (made stale) nor retyped; and the
 * buffer cache's free epoch, the same when the buffer was found and when
 * this lookup began, says that it is not freed (nor will be before the
 * caller's rcu_read_unlock()) and still marked used for reclaim
 * (fs/io/buf.h kv_buf_peek_epoch()).
 */
static inline __attribute__((always_inline)) const uint8_t *
kept(struct rctx *r, const struct kvfs_dir_map_buf *k, uint64_t key,
     unsigned *n)
{
	unsigned s = atomic_load_explicit(&r->m->bseq, memory_order_acquire);
	const uint8_t *addr;
	uint64_t epoch;

	if (s & 1 ||
	    atomic_load_explicit(&k->stamp, memory_order_relaxed) !=
		    r->seq + 1 ||
	    atomic_load_explicit(&k->key, memory_order_relaxed) != key)
		return NULL;
	addr = atomic_load_explicit(&k->addr, memory_order_relaxed);
	epoch = atomic_load_explicit(&k->epoch, memory_order_relaxed);
	*n = atomic_load_explicit(&k->n, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&r->m->bseq, memory_order_relaxed) != s)
		return NULL;
	return epoch == r->epoch ? addr : NULL;
}

/*
 * Keep bp, found at epoch, its record count n, in slot k for the block
 * key names, when dp was not changed since its header was checked
 * (i_lock_seq still seq: the block was that one of dp then) and no other
 * reader is storing.
 */
static void keep(struct rctx *r, const struct kvfs_dir_map_buf *slot,
		 uint64_t key, struct kv_buf *bp, uint64_t epoch, unsigned n)
{
	struct kvfs_dir_map *m = (struct kvfs_dir_map *)r->m;
	struct kvfs_dir_map_buf *k = (struct kvfs_dir_map_buf *)slot;
	unsigned s;

	if (!k)
		return;
	/* kvfs_ilock_seq_retry(), of a const dp */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&r->dp->i_lock_seq, memory_order_relaxed) !=
	    r->seq)
		return;
	s = atomic_load_explicit(&m->bseq, memory_order_relaxed);
	if (s & 1 || !atomic_compare_exchange_strong_explicit(
			     &m->bseq, &s, s + 1, memory_order_relaxed,
			     memory_order_relaxed))
		return;
	/* the odd count is seen before the slot changes */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&k->key, key, memory_order_relaxed);
	atomic_store_explicit(&k->addr, bp->b_addr, memory_order_relaxed);
	atomic_store_explicit(&k->epoch, epoch, memory_order_relaxed);
	atomic_store_explicit(&k->n, n, memory_order_relaxed);
	atomic_store_explicit(&k->stamp, r->seq + 1, memory_order_relaxed);
	atomic_store_explicit(&m->bseq, s + 2, memory_order_release);
}

/*
 * Data block dblk's contents, or NULL: its buffer kept in m (its header
 * checked when kept), else found in the buffer cache and kept.
 */
static inline __attribute__((always_inline)) const uint8_t *
dblk_rcu(struct rctx *r, uint32_t dblk)
{
	const struct kvfs_dir_map_buf *k;
	const struct kvfs_dir_data_hdr *h;
	const uint8_t *blk;
	struct kv_buf *bp;
	uint64_t fsb;
	unsigned n;

	if (dblk >= r->m->nr)
		return NULL;
	k = r->m->dbuf ? &r->m->dbuf[dblk] : NULL;
	blk = k ? kept(r, k, dblk, &n) : NULL;
	if (blk)
		return blk;
	fsb = atomic_load_explicit(&r->m->fsb[dblk], memory_order_relaxed);
	if (!fsb || fsb >= r->g->dblocks)
		return NULL;
	bp = kv_buf_peek(r->bc, fsb, fsbs(r->g), &kvfs_dir_data_buf_ops);
	if (!bp)
		return NULL;
	h = bp->b_addr;
	if (rd64(&h->hdr.owner) != r->dp->i_ino || rd32(&h->dblk) != dblk)
		return NULL;
	keep(r, k, dblk, bp, r->epoch, 0);
	return bp->b_addr;
}

/* Where a block's search for a hash starts: see hash_find_rcu(). */
struct leaf_guess {
	uint32_t hash;
	uint64_t hlo, hhi;
};

static unsigned leaf_start(const struct leaf_guess *g, unsigned n)
{
	if (g->hash > g->hlo && g->hhi > g->hlo)
		return (unsigned)((g->hash - g->hlo) * n / (g->hhi - g->hlo));
	return 0;
}

/*
 * A hash index block at fsb of the given level, or NULL, its record count
 * in *n (not checked): kept in m by address (direct-mapped, key: fsb and
 * level), else found and kept.
 */
static inline __attribute__((always_inline)) struct kvfs_btree_block *
tree_blk_rcu(struct rctx *r, uint64_t fsb, unsigned level, unsigned *n)
{
	const struct kvfs_dir_map_buf *k;
	uint64_t key = fsb | (uint64_t)level << 56;
	struct kvfs_btree_block *bb;
	struct kv_buf *bp;

	if (fsb >= r->g->dblocks)
		return NULL;
	k = r->m->ibuf ? &r->m->ibuf[fsb & r->m->imask] : NULL;
	bb = k ? (void *)kept(r, k, key, n) : NULL;
	if (bb)
		return bb;
	bp = kv_buf_peek(r->bc, fsb, 1, &kvfs_dir_hash_buf_ops);
	if (!bp)
		return NULL;
	bb = bp->b_addr;
	if (rd32(&bb->hdr.magic) != KVFS_DIR_HASH_MAGIC ||
	    rd64(&bb->hdr.owner) != r->dp->i_ino || rd16(&bb->level) != level)
		return NULL;
	*n = rd16(&bb->numrecs);
	keep(r, k, key, bp, r->epoch, *n);
	return bb;
}

/*
 * Does the entry at address addr carry the name?  0, -ENOENT, -EAGAIN.
 * Its inode, if a hint has it, is fetched meanwhile: the stat that
 * follows reads it.
 */
static int entry_rcu(struct rctx *r, uint64_t addr)
{
	const struct kvfs_geom *g = r->g;
	const struct kvfs_dir_data_ent *e;
	struct kvfs_ihint *h;
	const uint8_t *blk;
	uint32_t dblk, off, reclen, nl;
	uint64_t ino;

	if (addr >= ((uint64_t)r->ndata << g->dirblklog) / 8)
		return -EAGAIN;
	dblk = (uint32_t)(addr * 8 >> g->dirblklog);
	off = (uint32_t)(addr * 8 & (g->dirblksize - 1));
	if (off < data_start(dblk) ||
	    off + KVFS_DIR_DATA_ENT_SIZE > g->dirblksize)
		return -EAGAIN;
	blk = dblk_rcu(r, dblk);
	if (!blk)
		return -EAGAIN;
	h = kvfs_dir_map_hint(r->m, r->g, dblk, off, false);
	if (h)
		kvfs_ihint_prefetch(h);
	e = (const void *)(blk + off);
	ino = rd64(&e->ino);
	reclen = rd32(&e->reclen);
	nl = rd8(&e->namelen);
	if (!ino || reclen < KVFS_DIR_DATA_ENTSIZE(nl) ||
	    reclen > g->dirblksize - off)
		return -EAGAIN;
	if (nl != r->len || memcmp(e->name, r->name, nl))
		return -ENOENT;
	r->ino = ino;
	r->addr = addr;
	r->ftype = rd8(&e->ftype);
	r->hint =
		h ? h : kvfs_dir_map_hint(r->m, r->g, dblk, off, r->want_hint);
	return 0;
}

/*
 * kvfs_dir_hash_find()'s walk, over kv_buf_peek() and bounds-checked.
 * The block layout is computed from the record size here rather than
 * through the tree's ops (divisions by a size the compiler cannot see).
 */
#define HREC sizeof(struct kvfs_dir_hash_rec)
_Static_assert(sizeof(struct kvfs_dir_hash_rec) == 8, "hash index record");

static const struct kvfs_dir_hash_rec *hrec(const struct kvfs_btree_block *bb,
					    unsigned i)
{
	return (const void *)((const uint8_t *)bb + KVFS_BTREE_HDR_SIZE +
			      (size_t)i * HREC);
}

/*
 * Is record i of bb before the search's answer: in a leaf, a hash below
 * hash; in a node, a key <= (hash, 0) (its child may hold hash)?
 */
static inline __attribute__((always_inline)) bool
before(const struct kvfs_btree_block *bb, unsigned i, uint32_t hash, bool node)
{
	const struct kvfs_dir_hash_rec *k = hrec(bb, i);
	uint32_t kh = rd32(&k->hash);

	return kh < hash || (node && kh == hash && !rd32(&k->addr));
}

/*
 * The first of a block's n records not before() the answer, or n,
 * searched from the guess p: galloping away from it, then halving what
 * is left.  Bounded and in range whatever the records say (they may be
 * mid-change).
 */
static inline __attribute__((always_inline)) unsigned
seek(const struct kvfs_btree_block *bb, unsigned n, uint32_t hash, unsigned p,
     bool node)
{
	unsigned lo = 0, hi = n, q, step = 1;

	if (!n)
		return 0;
	if (p >= n)
		p = n - 1;
	if (!before(bb, p, hash, node)) {
		/* the answer is at or before p */
		hi = p;
		while (hi > 0) {
			q = hi > step ? hi - step : 0;
			if (before(bb, q, hash, node)) {
				lo = q + 1;
				break;
			}
			hi = q;
			step *= 2;
		}
	} else {
		/* after p */
		lo = p + 1;
		while (lo < n) {
			q = n - lo > step ? lo + step - 1 : n - 1;
			if (!before(bb, q, hash, node)) {
				hi = q;
				break;
			}
			lo = q + 1;
			step *= 2;
		}
	}
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (before(bb, mid, hash, node))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int hash_find_rcu(struct rctx *r, uint64_t fsb, unsigned level)
{
	uint32_t room = r->g->blocksize - KVFS_BTREE_HDR_SIZE;
	uint32_t leafmax = room / HREC, nodemax = room / (HREC + 8);
	uint32_t hash = kvfs_dir_hashname((const uint8_t *)r->name, r->len);
	/* the hashes under fsb, as its parents' keys say: [hlo, hhi) */
	struct leaf_guess lg = { .hash = hash, .hhi = (uint64_t)1 << 32 };
	unsigned n, i, lo;
	const struct kvfs_btree_block *bb;
	int err;

	if (level >= KVFS_BTREE_MAXLEVELS)
		return -EAGAIN;
	for (;;) {
		const kv_le64 *ptrs;

		bb = tree_blk_rcu(r, fsb, level, &n);
		if (!bb)
			return -EAGAIN;
		if (n > (level ? nodemax : leafmax))
			return -EAGAIN;
		if (!level)
			break;
		if (!n)
			return -EAGAIN;
		/*
		 * The last child whose first key is <= (hash, 0) (the first
		 * if none is), sought as in a leaf below: from where hash
		 * falls in the node's range (a binary search read seven
		 * lines of each node, one after the other)
		 */
		lo = seek(bb, n, hash, leaf_start(&lg, n), true);
		if (lo)
			lo--;
		if (lo)
			lg.hlo = rd32(&hrec(bb, lo)->hash);
		/* equal hashes may run on into the next child */
		if (lo + 1 < n)
			lg.hhi = (uint64_t)rd32(&hrec(bb, lo + 1)->hash) + 1;
		ptrs = (const void *)hrec(bb, nodemax);
		fsb = rd64(&ptrs[lo]);
		level--;
	}
	/*
	 * The leaf's first record whose hash is >= hash.  Name hashes
	 * spread evenly over the leaf's range, which the parent's keys
	 * (read already, hot) bound: the search starts where hash falls in
	 * that range, and reads one or two of the leaf's cache lines where
	 * a binary search from the middle read five (callgrind).
	 */
	lo = seek(bb, n, hash, leaf_start(&lg, n), false);
	for (unsigned hops = 0;;) {
		for (i = lo; i < n; i++) {
			const struct kvfs_dir_hash_rec *rec = hrec(bb, i);
			uint32_t rh = rd32(&rec->hash);

			if (rh < hash)
				continue;
			if (rh > hash)
				return -ENOENT;
			err = entry_rcu(r, rd32(&rec->addr));
			if (err != -ENOENT)
				return err;
		}
		fsb = rd64(&bb->rightsib);
		if (fsb == KVFS_NULLBLOCK)
			return -ENOENT;
		if (++hops > RCU_MAX_HOPS)
			return -EAGAIN;
		lg.hlo = lg.hhi = 0;
		bb = tree_blk_rcu(r, fsb, 0, &n);
		if (!bb)
			return -EAGAIN;
		if (n > leafmax)
			return -EAGAIN;
		lo = 0;
	}
}

/*
 * The head's fields kept in m (struct kvfs_dir_map_head) if they are of
 * dp as at i_lock_seq seq: true with them in r and *root, *level.
 */
static bool head_kept(struct rctx *r, uint64_t seq, uint64_t *root,
		      unsigned *level)
{
	const struct kvfs_dir_map_head *h = &r->m->head;
	unsigned s = atomic_load_explicit(&h->seq, memory_order_acquire);

	if (s & 1 ||
	    atomic_load_explicit(&h->stamp, memory_order_relaxed) != seq + 1)
		return false;
	r->ndata = atomic_load_explicit(&h->ndata, memory_order_relaxed);
	*root = atomic_load_explicit(&h->root, memory_order_relaxed);
	*level = atomic_load_explicit(&h->level, memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&h->seq, memory_order_relaxed) == s;
}

/*
 * The head read (dblk_rcu(0)), into r and *root, *level; kept in m when
 * dp was not changed during the read (i_lock_seq still seq: the read saw
 * one state of dp) and no other reader is storing.  false: not read.
 */
static bool head_read(struct rctx *r, uint64_t seq, uint64_t *root,
		      unsigned *level)
{
	struct kvfs_dir_map_head *h = (struct kvfs_dir_map_head *)&r->m->head;
	const struct kvfs_dir_head *hd;
	const uint8_t *hb = dblk_rcu(r, 0);
	unsigned s;

	if (!hb)
		return false;
	hd = (const void *)(hb + KVFS_DIR_DATA_HDR_SIZE);
	r->ndata = rd32(&hd->ndata);
	*root = rd64(&hd->hash_root);
	*level = rd8(&hd->hash_level);
	/* kvfs_ilock_seq_retry(), of a const dp */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&r->dp->i_lock_seq, memory_order_relaxed) !=
	    seq)
		return true;
	s = atomic_load_explicit(&h->seq, memory_order_relaxed);
	if (s & 1 || !atomic_compare_exchange_strong_explicit(
			     &h->seq, &s, s + 1, memory_order_relaxed,
			     memory_order_relaxed))
		return true;
	/* the odd count is seen before the fields change */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&h->ndata, r->ndata, memory_order_relaxed);
	atomic_store_explicit(&h->root, *root, memory_order_relaxed);
	atomic_store_explicit(&h->level, *level, memory_order_relaxed);
	atomic_store_explicit(&h->stamp, seq + 1, memory_order_relaxed);
	atomic_store_explicit(&h->seq, s + 2, memory_order_release);
	return true;
}

/* The lookup of r->name in r->dp: into r->ino, r->ftype, r->addr, r->hint. */
static int lookup_rcu(struct rctx *r)
{
	const struct kvfs_inode *dp = r->dp;
	uint8_t fmt = __atomic_load_n(&dp->i_dformat, __ATOMIC_RELAXED);
	/* the caller's validation of the whole read: seq is dp's then */
	uint64_t seq =
		atomic_load_explicit(&dp->i_lock_seq, memory_order_acquire);
	const struct kvfs_dir_map *m;
	uint64_t root;
	unsigned level;

	if (seq & 1)
		return -EAGAIN;
	r->seq = seq;
	if (fmt == KVFS_DFORK_INLINE)
		return sf_lookup_rcu(r);
	if (fmt != KVFS_DFORK_EXTENTS && fmt != KVFS_DFORK_BTREE)
		return -EAGAIN;
	m = atomic_load_explicit(&dp->i_dirmap, memory_order_acquire);
	if (!m ||
	    atomic_load_explicit(&m->dformat, memory_order_acquire) != fmt ||
	    atomic_load_explicit(&m->nextents, memory_order_relaxed) !=
		    __atomic_load_n(&dp->i_nextents, __ATOMIC_RELAXED) ||
	    atomic_load_explicit(&m->generation, memory_order_relaxed) !=
		    __atomic_load_n(&dp->i_generation, __ATOMIC_RELAXED))
		return -EAGAIN;
	r->m = m;
	r->epoch = kv_buf_peek_epoch(r->bc);
	if (!head_kept(r, seq, &root, &level) &&
	    !head_read(r, seq, &root, &level))
		return -EAGAIN;
	/* read_head()'s check: the size is the head's data blocks' */
	if (!r->ndata || __atomic_load_n(&dp->i_size, __ATOMIC_RELAXED) !=
				 (uint64_t)r->ndata * r->g->dirblksize)
		return -EAGAIN;
	return hash_find_rcu(r, root, level);
}

int kvfs_dir_lookup_rcu(const struct kvfs_inode *dp, const char *name,
			size_t len, uint64_t *ino, uint8_t *ftype,
			struct kvfs_ihint **hint)
{
	struct rctx r = { .dp = dp,
			  .bc = dp->i_mount->bc,
			  .g = &dp->i_mount->g,
			  .name = name,
			  .len = (uint32_t)len,
			  .want_hint = hint != NULL };
	int err = len > KVFS_NAME_MAX ? -EAGAIN : lookup_rcu(&r);

	if (!err) {
		*ino = r.ino;
		*ftype = r.ftype;
		if (hint)
			*hint = r.hint;
	}
	return err;
}

int kvfs_dir_lookup_slot_rcu(const struct kvfs_inode *dp, const char *name,
			     size_t len, struct kvfs_dir_slot *slot,
			     struct kvfs_ihint **hint)
{
	struct rctx r = { .dp = dp,
			  .bc = dp->i_mount->bc,
			  .g = &dp->i_mount->g,
			  .name = name,
			  .len = (uint32_t)len };
	int err = len > KVFS_NAME_MAX ? -EAGAIN : lookup_rcu(&r);

	if (!err) {
		slot->ino = r.ino;
		slot->ftype = r.ftype;
		slot->addr = r.addr;
		*hint = r.hint;
	}
	return err;
}
