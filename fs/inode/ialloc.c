// SPDX-License-Identifier: GPL-2.0
/*
 * Inode allocation (see fs/inode/ialloc.h for the contract).
 */
#include <errno.h>
#include <sys/stat.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/space/alloc.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/format/dinode.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate_item.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "fs/ns/dir.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

/*
 * The chunk tree's block source: the AG allocator, in the kvfs
 * transaction passed as src (its AG lock is the one held already).
 */
static int chunk_tree_alloc(void *src, struct kvj_trans *jt, uint32_t agno,
			    uint64_t near, uint64_t *fsb)
{
	struct kvfs_trans *tp = src;
	const struct kvfs_geom *g = &tp->mp->g;
	struct kvfs_alloc_arg args = {
		.tp = tp,
		.goal = near,
		.minlen = 1,
		.maxlen = 1,
		.type = KVFS_ALLOC_NEAR_BNO,
		.owner = agno,
	};
	int err;

	(void)jt;
	/* the tree's blocks stay in its AG */
	if (near == KVFS_NULLBLOCK || kvfs_fsb_to_agno(g, near) != agno)
		args.goal = kvfs_agb_to_fsb(g, agno, KVFS_AG_HDR_BLOCKS);
	err = kvfs_alloc_vextent(&args);
	if (!err)
		*fsb = args.fsb;
	return err;
}

static int chunk_tree_free(void *src, struct kvj_trans *jt, uint64_t fsb)
{
	(void)jt;
	return kvfs_free_extent(src, fsb, 1);
}

/* The AG's inode header, in tp; the in-core counts loaded on first use. */
static int read_agi(struct kvfs_trans *tp, struct kvfs_perag *pag,
		    struct kv_buf **bpp)
{
	struct kvfs_mount *mp = tp->mp;
	struct kvfs_agi *agi;
	int err;

	err = kvfs_trans_read_buf(
		tp->jt, mp->bl,
		kvfs_agb_to_fsb(&mp->g, pag->agno, KVFS_AGI_AGBNO), 1,
		&kvfs_agi_buf_ops, bpp);
	if (err) /* a bad checksum is damage to the caller */
		return err == -EBADMSG ? -EUCLEAN : err;
	agi = (*bpp)->b_addr;
	if (!pag->agi_init) {
		pag->icount = kv_le32_to_cpu(agi->icount);
		pag->ifree = kv_le32_to_cpu(agi->ifree);
		pag->agi_init = true;
	}
	return 0;
}

int kvfs_ialloc_read_agi(struct kvfs_trans *tp, uint32_t agno,
			 struct kv_buf **bpp)
{
	bool newly;
	int err = kvfs_trans_lock_ag(tp, agno, false, &newly);

	return err ? err : read_agi(tp, kvfs_perag_get(tp->mp, agno), bpp);
}

int kvfs_ialloc_check_ino(struct kvfs_mount *mp, uint64_t ino)
{
	const struct kvfs_geom *g = &mp->g;
	uint32_t agno = kvfs_ino_to_agno(g, ino);
	uint32_t agino = kvfs_ino_to_agino(g, ino);
	struct kvfs_inobt_key k = {
		.startino =
			kv_cpu_to_le32(agino & ~(KVFS_INODES_PER_CHUNK - 1u))
	};
	struct kvfs_btree_ag ag = { .agno = agno };
	struct kvfs_btree_cur cur;
	struct kvfs_inobt_rec r;
	uint64_t holes;
	int stat, err;

	err = kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO), 1,
			  &kvfs_agi_buf_ops, &ag.agi_bp);
	if (err)
		return err;
	/* no transaction: the tree's blocks are read through the cache */
	kvfs_btree_cur_init(&cur, &kvfs_inobt_tree_ops, g, NULL, NULL, agno,
			    &ag);
	cur.bc = mp->bc;
	kv_buf_lock(ag.agi_bp);
	err = kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &k, &stat);
	kv_buf_unlock(ag.agi_bp);
	if (!err && stat)
		err = kvfs_btree_get_rec(&cur, &r, &stat);
	kvfs_btree_cur_del(&cur);
	kv_buf_rele(ag.agi_bp);
	if (err)
		return err;
	/* no record, or a hole of a sparse one: nothing there is an inode */
	if (!stat)
		return -EINVAL;
	holes = kvfs_inobt_holes(kv_le16_to_cpu(r.holemask));
	if (holes >> (agino % KVFS_INODES_PER_CHUNK) & 1)
		return -EINVAL;
	return 0;
}

/* Move the inode header's free count by delta (and the AG's in-core one). */
static void agi_mod_ifree(struct kvfs_trans *tp, struct kvfs_perag *pag,
			  struct kv_buf *bp, int delta)
{
	struct kvfs_agi *agi = bp->b_addr;

	agi->ifree =
		kv_cpu_to_le32(kv_le32_to_cpu(agi->ifree) + (uint32_t)delta);
	kvfs_trans_log_buf(tp->jt, bp, offsetof(struct kvfs_agi, ifree),
			   offsetof(struct kvfs_agi, ifree) + sizeof(kv_le32) -
				   1);
	pag->ifree += (uint32_t)delta;
	kvfs_trans_mod_icount(tp, 0, delta);
}

static void cur_init(struct kvfs_btree_cur *cur, struct kvfs_btree_ag *ag,
		     struct kvfs_trans *tp, uint32_t agno, struct kv_buf *agibp)
{
	memset(ag, 0, sizeof(*ag));
	ag->agno = agno;
	ag->agi_bp = agibp;
	ag->alloc_block = chunk_tree_alloc;
	ag->free_block = chunk_tree_free;
	ag->src = tp;
	kvfs_btree_cur_init(cur, &kvfs_inobt_tree_ops, &tp->mp->g, tp->jt,
			    tp->mp->bl, agno, ag);
}

/* Free inodes were added to the AG (under its lock): chunks full may not be. */
static void ialloc_gained(struct kvfs_perag *pag)
{
	pag->ialloc_full = 0;
}

static uint64_t rec_free_inodes(const struct kvfs_inobt_rec *r)
{
	return kv_le64_to_cpu(r->freemask) &
	       ~kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
}

/* The chunk at or before agino: *stat 1 and *r if it has a free inode. */
static int free_rec_at(struct kvfs_btree_cur *cur, uint32_t agino,
		       struct kvfs_inobt_rec *r, int *stat)
{
	struct kvfs_inobt_key k = { .startino = kv_cpu_to_le32(agino) };
	int err;

	err = kvfs_btree_lookup(cur, KVFS_LOOKUP_LE, &k, stat);
	if (!err && *stat)
		err = kvfs_btree_get_rec(cur, r, stat);
	if (!err && *stat && !r->freecount)
		*stat = 0;
	return err;
}

/*
 * A chunk with a free inode: the one near the parent, else the one the
 * last allocation of the AG left free inodes in (without it, every create
 * in a directory whose parent's chunk is full walked all the AG's chunks
 * from the first: O(chunks) per create), else the first from the start.
 * The parent's chunk found full is remembered (pag->ialloc_full, under the
 * AG lock) until the AG gains free inodes (ialloc_gained()): the creates of
 * a directory past its first chunk did two tree lookups each, the first
 * always in vain.  A stale mark would cost locality only, never an inode.
 */
static int find_free_rec(struct kvfs_btree_cur *cur, struct kvfs_perag *pag,
			 uint32_t near, struct kvfs_inobt_rec *r, int *stat)
{
	uint32_t hint = pag->ialloc_hint;
	struct kvfs_inobt_key k;
	int err = 0;

	*stat = 0;
	if (pag->ialloc_full != near + 1) {
		err = free_rec_at(cur, near, r, stat);
		if (!err && !*stat)
			pag->ialloc_full = near + 1;
	}
	if (!err && !*stat && hint != near)
		err = free_rec_at(cur, hint, r, stat);
	if (err || *stat)
		return err;
	k.startino = kv_cpu_to_le32(0);
	err = kvfs_btree_lookup(cur, KVFS_LOOKUP_GE, &k, stat);
	while (!err && *stat) {
		err = kvfs_btree_get_rec(cur, r, stat);
		if (err || !*stat || r->freecount)
			break;
		err = kvfs_btree_increment(cur, stat);
	}
	return err;
}

/*
 * The first free inode of r that no other transaction holds (*bit), or
 * false.  An inode freed by a transaction still finishing stays locked
 * and joined to it to its end, and its deferred frees may wait for this
 * AG's lock: waiting for that inode's lock under the AG lock deadlocked
 * (tests/stress ichurn -l 200: an rmdir's freed directory, its emptied
 * parent's block freed after a roll, and a create in the directory's AG
 * handed that inode).  Such an inode is skipped, as XFS's xfs_iget()
 * refuses one being inactivated.
 */
static bool rec_pick(struct kvfs_trans *tp, struct kvfs_perag *pag,
		     const struct kvfs_inobt_rec *r, unsigned *bit)
{
	uint64_t free = rec_free_inodes(r);
	uint32_t start = kv_le32_to_cpu(r->startino);

	/*
	 * No free inode of the AG held (pag->ifree_held, raised under the
	 * AG lock held here): the cache lookups, each a miss for an inode
	 * rarely cached, were a tenth of a create's time.
	 */
	if (!atomic_load_explicit(&pag->ifree_held, memory_order_acquire)) {
		*bit = free ? (unsigned)__builtin_ctzll(free) : 0;
		return free != 0;
	}
	for (; free; free &= free - 1) {
		const struct kvfs_trans *tx;

		*bit = (unsigned)__builtin_ctzll(free);
		tx = kvfs_icache_joined_tx(
			tp->mp,
			kvfs_agino_to_ino(&tp->mp->g, pag->agno, start + *bit));
		if (!tx || tx == tp)
			return true;
	}
	return false;
}

/*
 * Past a record whose free inodes are all held (rec_pick()): the first of
 * the AG's records with one that is not; *stat 0 if none has.
 */
static int pick_any_rec(struct kvfs_btree_cur *cur, struct kvfs_trans *tp,
			struct kvfs_perag *pag, struct kvfs_inobt_rec *r,
			unsigned *bit, int *stat)
{
	struct kvfs_inobt_key k = { .startino = kv_cpu_to_le32(0) };
	int err = kvfs_btree_lookup(cur, KVFS_LOOKUP_GE, &k, stat);

	while (!err && *stat) {
		err = kvfs_btree_get_rec(cur, r, stat);
		if (err || !*stat ||
		    (r->freecount && rec_pick(tp, pag, r, bit)))
			break;
		err = kvfs_btree_increment(cur, stat);
	}
	return err;
}

/*
 * Damage (err) met in AG agno's inode header, inode-chunk tree or the free
 * inode picked, before dialloc_ag() changed anything: the AG is marked so
 * that inode allocations (new chunks too) pass it by until fsck.kvfs
 * repaired it, what was read goes back (and the lock, if this attempt
 * took it), and the allocation goes on in the other AGs (0, no inode),
 * as fs/space/alloc.c ag_damaged() does for free space.
 */
static int ialloc_damaged(struct kvfs_trans *tp, struct kvfs_perag *pag,
			  bool newly, unsigned mark, int err)
{
	return kvfs_trans_ag_damaged(tp, pag->agno, &pag->ialloc_sick, newly,
				     mark, err) ?
		       0 :
		       err;
}

/*
 * The in-core inode of free inode ino that tp takes (its AG locked in tp),
 * referenced.  One still as its chunk's initialisation by this mount wrote
 * it is made from that image, its cluster not read (the read and the
 * verification of the free inode were a twentieth of a create's
 * instructions).  The generation rule holds as with the read: the image
 * is what the read would find, and a cached inode (of the last life of a
 * chunk freed at the same place) is the one returned.
 */
static int ialloc_iget(struct kvfs_trans *tp, uint64_t ino, unsigned flags,
		       struct kvfs_inode **ipp)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_perag *pag = kvfs_perag_get(mp, kvfs_ino_to_agno(g, ino));
	uint32_t off = kvfs_ino_to_agino(g, ino) - pag->ifresh_ino;
	uint8_t dip[1u << KVFS_MAX_INODELOG] __attribute__((aligned(8)));

	if (off >= KVFS_INODES_PER_CHUNK || !(pag->ifresh_mask >> off & 1))
		return kvfs_iget(mp, ino, flags, ipp);
	pag->ifresh_mask &= ~(1ull << off);
	kvfs_dinode_init(dip, g, ino, 0, 0, 0, 0, pag->ifresh_sec,
			 pag->ifresh_nsec, pag->ifresh_gen);
	return kvfs_iget_fresh(mp, ino, flags, dip, ipp);
}

/*
 * Take a free inode of AG agno: *ino = KVFS_NULLINO if the AG has none
 * that another transaction does not hold (or its inode allocation is
 * sick).  The AG lock covers the search and the change.  ipp (NULL for a
 * new chunk's inode, which tp itself initialised): the in-core inode,
 * referenced, got before anything changes.
 */
static int dialloc_ag(struct kvfs_trans *tp, uint32_t agno, uint32_t near,
		      uint64_t *ino, struct kvfs_inode **ipp)
{
	struct kvfs_mount *mp = tp->mp;
	struct kvfs_perag *pag = kvfs_perag_get(mp, agno);
	struct kvfs_btree_cur cur;
	struct kvfs_btree_ag ag;
	struct kvfs_inobt_rec r;
	struct kv_buf *agibp;
	unsigned bit = 0, mark;
	uint64_t pick;
	bool newly;
	int stat, err;

	*ino = KVFS_NULLINO;
	err = kvfs_trans_lock_ag(tp, agno, false, &newly);
	/* out of AG order (tp holds a higher one): the other AGs first */
	if (err == -EAGAIN)
		return 0;
	if (err)
		return err;
	if ((pag->agi_init && !pag->ifree) ||
	    __atomic_load_n(&pag->ialloc_sick, __ATOMIC_RELAXED)) {
		if (newly)
			kvfs_trans_unlock_ag(tp, agno);
		return 0;
	}
	mark = kvfs_trans_buf_mark(tp->jt);
	/* from here tp holds the inode header: the lock stays to commit */
	err = read_agi(tp, pag, &agibp);
	if (err)
		return ialloc_damaged(tp, pag, newly, mark, err);
	if (!pag->ifree)
		return 0;
	cur_init(&cur, &ag, tp, agno, agibp);
	err = find_free_rec(&cur, pag, near & ~(KVFS_INODES_PER_CHUNK - 1u), &r,
			    &stat);
	if (!err && (!stat || !rec_free_inodes(&r)))
		err = kvfs_corrupt(-EUCLEAN, agibp->b_blkno, "AG inode header",
				   "%u free inodes counted, none in the "
				   "inode-chunk tree",
				   pag->ifree);
	if (!err && !rec_pick(tp, pag, &r, &bit)) {
		err = pick_any_rec(&cur, tp, pag, &r, &bit, &stat);
		if (!err && !stat)
			return 0;
	}
	if (err)
		return ialloc_damaged(tp, pag, newly, mark, err);
	/*
	 * The inode read before the record changes: damage there fails the
	 * allocation with nothing dirty (a dirty transaction cancelled shuts
	 * the log down: one damaged free inode stopped the filesystem).
	 */
	pick = kvfs_agino_to_ino(&mp->g, agno,
				 kv_le32_to_cpu(r.startino) + bit);
	if (ipp) {
		err = ialloc_iget(tp, pick, KVFS_IGET_FREE, ipp);
		if (err)
			return ialloc_damaged(tp, pag, newly, mark, err);
	}
	r.freemask =
		kv_cpu_to_le64(kv_le64_to_cpu(r.freemask) & ~(1ull << bit));
	r.freecount--;
	err = kvfs_btree_update(&cur, &r);
	if (err) {
		if (ipp) {
			kvfs_iput(*ipp);
			*ipp = NULL;
		}
		return err;
	}
	agi_mod_ifree(tp, pag, agibp, -1);
	pag->ialloc_hint = kv_le32_to_cpu(r.startino);
	*ino = pick;
	return 0;
}

/*
 * The inode's literal area is all zeros, in memory and so as last logged
 * or written back (every change to a fork is logged with it, and a free
 * inode's came zeroed from its chunk's initialisation or kvfs_difree()).
 */
static bool literal_zero(const struct kvfs_inode *ip)
{
	return !ip->i_forkoff && kvfs_inode_forks_zero(ip);
}

static void inode_init(struct kvfs_inode *ip, const struct kvfs_icreate_args *a)
{
	ip->i_mode = a->mode;
	ip->i_nlink = a->nlink;
	ip->i_uid = a->uid;
	ip->i_gid = a->gid;
	ip->i_rdev = a->rdev;
	ip->i_size = 0;
	ip->i_nblocks = 0;
	kvfs_inode_now(&ip->i_atime);
	ip->i_mtime = ip->i_ctime = ip->i_crtime = ip->i_atime;
	/* the inode's last life ended at its old generation */
	ip->i_generation++;
	ip->i_diflags = 0;
	/* no block past EOF to look for */
	atomic_store(&ip->i_eof_checked, true);
	ip->i_dformat = KVFS_DFORK_EXTENTS;
	ip->i_nextents = 0;
	ip->i_aformat = 0;
	ip->i_anextents = 0;
	ip->i_forkoff = 0;
	ip->i_next_unlinked = KVFS_NULLAGINO;
	/* a directory's block addresses from the inode's last life */
	kvfs_dir_map_forget(ip);
	kvfs_inode_forks_clear(ip);
}

/* splitmix64's finaliser: a bijection that spreads every bit of z */
static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/*
 * The generation a new chunk's free inodes start at, random (XFS's
 * xfs_ialloc_inode_init): chunks are freed with their last inode, so a
 * chunk made again at the same inode numbers knows nothing of their last
 * lives, and a fixed start made a removed file's handle (inode number,
 * generation) open the new file there.  A sequence per AG (splitmix64,
 * under the AG lock), its start drawn from getrandom() at the AG's first
 * chunk of the mount (else the clock and the place, mixed): one system
 * call per chunk was one per 64 creates, and handles need generations
 * that differ from a chunk's last lives, not secret ones.  Never the
 * last value: the first allocation moves it on, and generation 0 is
 * "unchecked" to kvfs_inode_open().
 */
static uint32_t chunk_generation(struct kvfs_perag *pag,
				 const struct kvfs_ictime *now, uint64_t fsb)
{
	uint32_t gen;

	if (!pag->igen_seq) {
		uint64_t seed;

		if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) !=
		    sizeof(seed))
			seed = mix64((uint64_t)now->sec * 1000000000ull +
				     now->nsec + fsb * 0x9e3779b97f4a7c15ull);
		/* 0 is "not drawn yet" */
		pag->igen_seq = seed | 1;
	}
	pag->igen_seq += 0x9e3779b97f4a7c15ull;
	gen = (uint32_t)mix64(pag->igen_seq);
	return gen == UINT32_MAX ? 0 : gen;
}

/*
 * Write every inode of nblocks blocks from fsb (in pag's AG, locked in tp)
 * free (mode 0): the blocks are ordered buffers of tp and the log holds
 * only what made them (fs/inode/icreate_item.h), 40 bytes instead of the
 * blocks.
 */
static int chunk_init_inodes(struct kvfs_trans *tp, struct kvfs_perag *pag,
			     uint64_t fsb, uint32_t nblocks,
			     struct kvfs_ictime *now, uint32_t *gen)
{
	struct kvfs_mount *mp = tp->mp;
	struct kv_buf *bp;
	uint32_t b;
	int err;

	kvfs_inode_now(now);
	*gen = chunk_generation(pag, now, fsb);
	for (b = 0; b < nblocks; b++) {
		/* every inode written whole: the buffer is not zeroed first */
		err = kvfs_trans_get_buf_raw(tp->jt, mp->bl, fsb + b, 1,
					     &kvfs_inode_buf_ops, &bp);
		if (err)
			return err;
		kvfs_icluster_init(&mp->g, bp->b_addr, fsb + b, now->sec,
				   now->nsec, *gen);
		kvfs_trans_ordered_buf(tp->jt, bp, kvfs_icluster_write, mp);
	}
	kvfs_trans_icreate(tp, fsb, nblocks, now->sec, now->nsec, *gen);
	return 0;
}

/*
 * The n inodes from agino, of the record at startino, were just written
 * free by chunk_init_inodes() (pag locked): ialloc_iget() takes them from
 * memory.  A block of more than a record's inodes is left to the reads.
 */
static void fresh_set(struct kvfs_perag *pag, uint32_t startino, uint32_t agino,
		      uint32_t n, const struct kvfs_ictime *now, uint32_t gen)
{
	pag->ifresh_mask = 0;
	if (n > KVFS_INODES_PER_CHUNK)
		return;
	pag->ifresh_ino = startino;
	pag->ifresh_sec = now->sec;
	pag->ifresh_nsec = now->nsec;
	pag->ifresh_gen = gen;
	pag->ifresh_mask = (n == 64 ? ~0ull : (1ull << n) - 1)
			   << (agino - startino);
}

/*
 * The smallest piece of a sparse chunk, in blocks (XFS's sb_spino_align):
 * what one hole-mask bit covers (4 inodes) rounded up to whole blocks,
 * since a hole never covers part of a block (fs/format.h), and at least
 * an eighth of the chunk, so that a record's pieces are freed in at most
 * four extents (the ifree reservation, fs/trans/trans_resv.c, stays within a
 * quarter of the smallest log).  One block of 8 inodes with the default
 * 512-byte inodes in 4 KiB blocks; 2 blocks with 2 KiB inodes in 8 KiB
 * blocks or 512-byte inodes in 1 KiB blocks.  Not stored: every geometry
 * gives it.
 */
static uint32_t sparse_blocks(const struct kvfs_geom *g)
{
	uint32_t bit = g->inopblock >= KVFS_INODES_PER_HOLEMASK_BIT ?
			       1 :
			       KVFS_INODES_PER_HOLEMASK_BIT / g->inopblock;
	uint32_t eighth = g->ialloc_blocks / 8;

	return bit > eighth ? bit : eighth;
}

/* The hole-mask bits of n inodes from the chunk's inode off. */
static uint16_t holemask_bits(uint32_t off, uint32_t n)
{
	uint32_t first = off / KVFS_INODES_PER_HOLEMASK_BIT;
	uint32_t nbits = n / KVFS_INODES_PER_HOLEMASK_BIT;

	return (uint16_t)(((1u << nbits) - 1) << first);
}

/*
 * An extent of ialloc_blocks blocks aligned to their count near goal,
 * else (any_ag) anywhere; failing that, when a chunk spans more blocks
 * than its smallest piece, one piece aligned to its size (XFS's sparse
 * path of xfs_ialloc_ag_alloc, which also takes the smallest piece): on
 * free space fragmented below a chunk's size inodes can still be created.
 */
static int alloc_chunk_blocks(struct kvfs_trans *tp, uint64_t goal, bool any_ag,
			      struct kvfs_alloc_arg *args)
{
	const struct kvfs_geom *g = &tp->mp->g;
	uint32_t len = g->ialloc_blocks;
	uint64_t rest = tp->blk_res - tp->blk_used;
	uint32_t minleft = tp->mp->resv.inobt_maxlevels +
			   (uint32_t)tp->mp->resv.dirop.blocks;
	int err;

	/*
	 * The record's insertion may split the tree; the name that follows
	 * may grow its directory, a symbolic link take its target's blocks:
	 * what the reservation holds past a whole chunk (XFS's args->total),
	 * and at least a directory change's, stays in the chunk's AG, which
	 * may be the one kvfs_dir_canenter() locked for them (the AG order
	 * keeps this transaction from lower AGs once it holds this one).
	 */
	if (rest > g->ialloc_blocks && rest - g->ialloc_blocks > minleft)
		minleft = (uint32_t)(rest - g->ialloc_blocks);
	for (;;) {
		/*
		 * Only with room in the reservation for the piece and its
		 * record's split (XFS's okalloc): a transaction reserved
		 * without a chunk's blocks finds no room for one, nothing
		 * changed, where the split would fail half-way.
		 */
		if (kvfs_trans_blocks_left(tp) <
		    (uint64_t)len + tp->mp->resv.inobt_maxlevels) {
			if (len == sparse_blocks(g))
				return -ENOSPC;
			len = sparse_blocks(g);
			continue;
		}
		*args = (struct kvfs_alloc_arg){
			.tp = tp,
			.goal = goal,
			.minlen = len,
			.maxlen = len,
			.alignment = len,
			.type = KVFS_ALLOC_NEAR_BNO,
			.owner = kvfs_fsb_to_agno(g, goal),
			.minleft = minleft,
			.inode_chunk = true,
		};
		err = kvfs_alloc_vextent(args);
		if (any_ag && (err == -ENOSPC || err == -EAGAIN)) {
			args->type = KVFS_ALLOC_START_AG;
			err = kvfs_alloc_vextent(args);
		}
		/* goal's AG out of the transaction's AG order: none there */
		if (err == -EAGAIN)
			err = -ENOSPC;
		if (!err && args->fsb != KVFS_NULLBLOCK && args->len != len)
			return -ENOSPC;
		if (!err && args->fsb == KVFS_NULLBLOCK)
			err = -ENOSPC;
		if (err != -ENOSPC || len == sparse_blocks(g))
			return err;
		len = sparse_blocks(g);
	}
}

/*
 * Insert the record of new inodes [agino, agino + n) of the chunk at
 * startino, or merge them into the sparse record there (their hole bits
 * cleared, the count and free count grown; the free mask marks holes
 * free already).
 */
static int chunk_insert(struct kvfs_btree_cur *cur, uint32_t startino,
			uint32_t agino, uint32_t n, uint64_t fsb)
{
	uint16_t bits = n >= KVFS_INODES_PER_CHUNK ?
				0xffff :
				holemask_bits(agino - startino, n);
	struct kvfs_inobt_key k = { .startino = kv_cpu_to_le32(startino) };
	struct kvfs_inobt_rec r = {
		.startino = kv_cpu_to_le32(startino),
		.holemask = kv_cpu_to_le16((uint16_t)~bits),
		.count = (uint8_t)n,
		.freecount = (uint8_t)n,
		.freemask = kv_cpu_to_le64(~0ull),
	};
	uint16_t holemask;
	int stat, err;

	if (bits == 0xffff)
		return kvfs_btree_insert(cur, &r);
	err = kvfs_btree_lookup(cur, KVFS_LOOKUP_EQ, &k, &stat);
	if (!err && stat)
		err = kvfs_btree_get_rec(cur, &r, &stat);
	if (err)
		return err;
	if (!stat)
		return kvfs_btree_insert(cur, &r);
	holemask = kv_le16_to_cpu(r.holemask);
	if ((holemask & bits) != bits)
		return kvfs_corrupt(-EUCLEAN, fsb, "inode-chunk tree",
				    "free blocks given for inodes %u.. of "
				    "chunk %u, allocated there (hole mask "
				    "0x%04x)",
				    agino, startino, holemask);
	r.holemask = kv_cpu_to_le16(holemask & (uint16_t)~bits);
	r.count = (uint8_t)(r.count + n);
	r.freecount = (uint8_t)(r.freecount + n);
	return kvfs_btree_update(cur, &r);
}

/*
 * New free inodes (XFS's xfs_ialloc_ag_alloc): a whole chunk, or a piece
 * of a sparse one when free space is too fragmented for a chunk
 * (alloc_chunk_blocks()), near the parent's inode block, else (any_ag)
 * anywhere.
 * A chunk is aligned to its ialloc_blocks blocks, so that its first inode
 * number is a multiple of the chunk's inodes; a piece lies in the chunk
 * of that alignment around it.  The inodes are written free, the record
 * inserted or merged, the inode header's counts and the AG's in-core
 * ones moved.  The allocator keeps the AG locked in tp to its commit.
 * *agnop, *aginop: where the chunk (the record) starts.
 */
static int dialloc_new_chunk(struct kvfs_trans *tp, uint64_t goal, bool any_ag,
			     uint32_t *agnop, uint32_t *aginop)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_alloc_arg args;
	struct kvfs_btree_cur cur;
	struct kvfs_btree_ag ag;
	struct kvfs_perag *pag;
	struct kvfs_agi *agi;
	struct kvfs_ictime now;
	struct kv_buf *agibp;
	uint32_t agno, agbno, agino, startino, n, i, gen;
	int err;

	err = alloc_chunk_blocks(tp, goal, any_ag, &args);
	if (err)
		return err;
	agno = kvfs_fsb_to_agno(g, args.fsb);
	agbno = kvfs_fsb_to_agbno(g, args.fsb);
	agino = kvfs_agbno_to_agino(g, agbno);
	startino = kvfs_agbno_to_agino(g, agbno - agbno % g->ialloc_blocks);
	n = args.len * g->inopblock;
	pag = kvfs_perag_get(mp, agno);

	err = read_agi(tp, pag, &agibp);
	if (err)
		return err;
	err = chunk_init_inodes(tp, pag, args.fsb, args.len, &now, &gen);
	if (err)
		return err;
	cur_init(&cur, &ag, tp, agno, agibp);
	/* a block of more than 64 inodes holds several whole chunks */
	for (i = 0; i < n && !err; i += KVFS_INODES_PER_CHUNK)
		err = chunk_insert(&cur, startino + i, agino + i,
				   n - i < KVFS_INODES_PER_CHUNK ?
					   n - i :
					   KVFS_INODES_PER_CHUNK,
				   args.fsb);
	/*
	 * The chunk was allocated leaving the tree's split its blocks
	 * (minleft): no room now is a broken invariant, and must not pass
	 * for "no room for a chunk, nothing changed" (kvfs_dialloc() goes
	 * on then, and would commit the chunk's blocks without a record).
	 */
	if (err == -ENOSPC)
		err = kvfs_corrupt(-EUCLEAN, args.fsb, "inode-chunk tree",
				   "no block left in AG %u for its split after "
				   "a chunk was allocated there",
				   agno);
	if (err)
		return err;
	agi = agibp->b_addr;
	agi->icount = kv_cpu_to_le32(kv_le32_to_cpu(agi->icount) + n);
	agi->ifree = kv_cpu_to_le32(kv_le32_to_cpu(agi->ifree) + n);
	agi->newino = kv_cpu_to_le32(startino);
	kvfs_trans_log_buf(tp->jt, agibp, offsetof(struct kvfs_agi, icount),
			   offsetof(struct kvfs_agi, newino) + sizeof(kv_le32) -
				   1);
	pag->icount += n;
	pag->ifree += n;
	kvfs_trans_mod_icount(tp, n, n);
	ialloc_gained(pag);
	fresh_set(pag, startino, agino, n, &now, gen);
	*agnop = agno;
	*aginop = startino;
	return 0;
}

/*
 * A new chunk (near goal; any_ag: else anywhere) and its first inode taken,
 * *ino.  In this transaction, with the inode's core logged after the
 * chunk's initialisation: recovery replays the inode deltas of a
 * checkpoint after its buffer deltas (XFS's ordering), so the core lands
 * over the free inode.  The AG stays locked to the commit: nobody takes
 * the new inodes.  -ENOSPC with nothing changed when no chunk fits.
 */
static int dialloc_chunk(struct kvfs_trans *tp, uint64_t goal, bool any_ag,
			 uint64_t *ino)
{
	uint32_t agno, agino;
	int err = dialloc_new_chunk(tp, goal, any_ag, &agno, &agino);

	if (err)
		return err;
	err = dialloc_ag(tp, agno, agino, ino, NULL);
	if (!err && *ino == KVFS_NULLINO)
		err = -ENOSPC;
	return err;
}

int kvfs_dialloc(struct kvfs_trans *tp, uint64_t parent,
		 const struct kvfs_icreate_args *a, struct kvfs_inode **ipp)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	uint64_t goal = kvfs_agb_to_fsb(g, 0, KVFS_AG_HDR_BLOCKS);
	uint32_t start = 0, near = 0, i;
	struct kvfs_inode *ip = NULL;
	uint64_t ino = KVFS_NULLINO;
	unsigned iget_flags = KVFS_IGET_FREE;
	bool owned = false, zero;
	int err;

	if (!a->mode)
		return -EINVAL;
	if (kvj_errtag(KVJ_ERRTAG_IALLOC_NOSPC))
		return -ENOSPC;
	if (S_ISDIR(a->mode) && parent != KVFS_NULLINO) {
		/*
		 * New directories go round the AGs (XFS's m_agirotor), their
		 * files then near them: an AG's lock is held from an inode's
		 * allocation to the commit, so threads creating in different
		 * directories of one AG take turns.
		 */
		goal = kvfs_alloc_goal_new_dir(mp);
		start = kvfs_fsb_to_agno(g, goal);
	} else if (parent != KVFS_NULLINO && kvfs_ino_in_range(g, parent)) {
		start = kvfs_ino_to_agno(g, parent);
		near = kvfs_ino_to_agino(g, parent);
		goal = kvfs_alloc_goal_near_parent(mp, parent);
	}
	/*
	 * The parent's AG first: a free inode there, else a new chunk there
	 * (XFS's xfs_dialloc: chunks on demand in the parent's AG, so that
	 * a directory's inodes stay near it); then a free inode of the next
	 * AGs; then a new chunk anywhere.
	 */
	err = dialloc_ag(tp, start, near, &ino, &ip);
	if (!err && ino == KVFS_NULLINO) {
		err = dialloc_chunk(tp, goal, false, &ino);
		if (!err)
			iget_flags |= KVFS_IGET_CREATE;
		else if (err == -ENOSPC)
			err = 0; /* no room for one there: nothing changed */
	}
	for (i = 1; i < g->agcount && !err && ino == KVFS_NULLINO; i++)
		err = dialloc_ag(tp, (start + i) % g->agcount, 0, &ino, &ip);
	if (!err && ino == KVFS_NULLINO) {
		err = dialloc_chunk(tp, goal, true, &ino);
		iget_flags |= KVFS_IGET_CREATE;
	}
	if (err)
		return err;

	if (!ip) {
		err = ialloc_iget(tp, ino, iget_flags, &ip);
		if (err)
			return err;
	}
	/*
	 * An inode this transaction freed is free in the tree already and
	 * still locked and joined by it: locking it again would deadlock
	 * (the transaction's end unlocks it once).
	 */
	owned = kvfs_trans_ijoined(tp, ip);
	if (!owned)
		kvfs_ilock(ip, KVFS_ILOCK_EXCL | KVFS_ILOCK_ALLOC);
	if (ip->i_mode) {
		err = kvfs_corrupt_inode(-EUCLEAN, kvfs_ino_to_fsb(g, ino), ino,
					 "marked free in the inode-chunk tree "
					 "but in use (mode 0%o)",
					 ip->i_mode);
		goto out_unlock;
	}
	if (!owned) {
		err = kvfs_trans_ijoin(tp, ip);
		if (err)
			goto out_unlock;
	}
	/*
	 * The core only when the literal area is zero already (XFS logs a
	 * new inode's core alone): recovery leaves the forks' bytes in place
	 * and the empty fork of a new file took a third of a create's log
	 * stream (and of its compression).
	 */
	zero = literal_zero(ip);
	inode_init(ip, a);
	kvfs_trans_log_inode(tp, ip,
			     KVFS_ILOG_CORE | (zero ? 0 : KVFS_ILOG_DFORK));
	*ipp = ip;
	return 0;

out_unlock:
	if (!owned)
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
	kvfs_iput(ip);
	return err;
}

/*
 * The last allocated inode of record r (the cursor's) is free: the record
 * leaves the tree and its blocks, a whole chunk's or a sparse one's
 * pieces, return to free space (XFS's xfs_difree_inode_chunk; its ikeep,
 * whole chunks kept, is not kvfs's: 5000 files created and removed kept
 * 624 blocks for good).  Each block's cluster buffer is invalidated first
 * (a cancel in the log: recovery replays neither its older buffer deltas
 * nor the inode deltas of its inodes logged in the cancel's checkpoint or
 * before, fs/inode/inode_item.h).  The blocks are freed in tp itself, not
 * as an intent (XFS's xfs_free_extent_later): the rolls that finish
 * intents log the joined inode again, after the cancel, and recovery
 * would replay it over what the block holds next (tests/inode sparse: a
 * file's data).  One transaction holds the record's delete, the counts
 * and the free: a crash leaves all or none, and no intent is left to
 * replay (the AG's one lock covers the inode header and the free space,
 * so the order XFS's deferral keeps between its AGI and AGF does not
 * arise).  The in-core inodes still cached for the chunk are mode 0 and
 * write back into the stale buffers, which nothing writes (kv_buf_write()
 * skips a stale buffer); one allocated again from a new chunk at the same
 * place drops its stale buffer at its join (kvfs_trans_ijoin()).
 */
static int chunk_free(struct kvfs_trans *tp, struct kvfs_btree_cur *cur,
		      struct kvfs_perag *pag, struct kv_buf *agibp,
		      const struct kvfs_inobt_rec *r)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	uint64_t holes = kvfs_inobt_holes(kv_le16_to_cpu(r->holemask));
	uint32_t start = kv_le32_to_cpu(r->startino);
	uint64_t fsb0 =
		kvfs_agb_to_fsb(g, pag->agno, kvfs_agino_to_agbno(g, start));
	struct kvfs_agi *agi = agibp->b_addr;
	uint32_t b, run = 0;
	struct kv_buf *bp;
	int stat, err;

	err = kvfs_btree_delete(cur, &stat);
	/* one past the last block: the last run ends there */
	for (b = 0; b <= g->ialloc_blocks && !err; b++) {
		bool hole = b == g->ialloc_blocks ||
			    holes >> (b * g->inopblock) & 1;

		if (!hole) {
			err = kvfs_trans_get_buf(tp->jt, mp->bl, fsb0 + b, 1,
						 &kvfs_inode_buf_ops, &bp);
			if (!err)
				kvfs_trans_binval(tp->jt, bp);
			run++;
		} else if (run) {
			err = kvfs_free_extent(tp, fsb0 + b - run, run);
			run = 0;
		}
	}
	if (err)
		return err;
	agi->icount = kv_cpu_to_le32(kv_le32_to_cpu(agi->icount) - r->count);
	agi->ifree = kv_cpu_to_le32(kv_le32_to_cpu(agi->ifree) - r->count);
	kvfs_trans_log_buf(tp->jt, agibp, offsetof(struct kvfs_agi, icount),
			   offsetof(struct kvfs_agi, ifree) + sizeof(kv_le32) -
				   1);
	pag->icount -= r->count;
	pag->ifree -= r->count;
	kvfs_trans_mod_icount(tp, -(int64_t)r->count, -(int64_t)r->count);
	/* a chunk made here again is initialised (fresh_set()) anew */
	if (pag->ifresh_ino == start)
		pag->ifresh_mask = 0;
	return 0;
}

int kvfs_difree(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	uint32_t agno = kvfs_ino_to_agno(g, ip->i_ino);
	uint32_t agino = kvfs_ino_to_agino(g, ip->i_ino);
	struct kvfs_perag *pag = kvfs_perag_get(mp, agno);
	struct kvfs_inobt_key k = {
		.startino =
			kv_cpu_to_le32(agino & ~(KVFS_INODES_PER_CHUNK - 1u))
	};
	struct kvfs_btree_cur cur;
	struct kvfs_btree_ag ag;
	struct kvfs_inobt_rec r;
	struct kv_buf *agibp;
	unsigned bit = agino % KVFS_INODES_PER_CHUNK;
	bool newly, zero;
	int stat, err;

	if (ip->i_nextents || ip->i_nblocks)
		return -EBUSY;
	err = kvfs_trans_lock_ag(tp, agno, false, &newly);
	if (!err)
		err = read_agi(tp, pag, &agibp);
	if (err)
		return err;
	cur_init(&cur, &ag, tp, agno, agibp);
	err = kvfs_btree_lookup(&cur, KVFS_LOOKUP_EQ, &k, &stat);
	if (!err && stat)
		err = kvfs_btree_get_rec(&cur, &r, &stat);
	if (err)
		return err;
	if (!stat || kv_le64_to_cpu(r.freemask) >> bit & 1)
		return kvfs_corrupt_inode(
			-EUCLEAN, kvfs_ino_to_fsb(g, ip->i_ino), ip->i_ino,
			"freed but %s in the inode-chunk tree",
			stat ? "already free" : "not");
	/*
	 * Locked and joined to tp to its end: no other transaction may
	 * take it before (rec_pick()).
	 */
	if (!ip->i_item.ifree_held && kvfs_trans_ijoined(tp, ip)) {
		ip->i_item.ifree_held = true;
		atomic_fetch_add_explicit(&pag->ifree_held, 1,
					  memory_order_relaxed);
	}
	r.freemask = kv_cpu_to_le64(kv_le64_to_cpu(r.freemask) | 1ull << bit);
	r.freecount++;
	agi_mod_ifree(tp, pag, agibp, 1);
	ialloc_gained(pag);
	/*
	 * Blocks of more than a chunk's inodes hold several records: the
	 * block stays while any of them is allocated, so those records stay
	 * (XFS frees chunks only where sb_inopblock <= XFS_INODES_PER_CHUNK).
	 */
	if (r.freecount == r.count && g->inopblock <= KVFS_INODES_PER_CHUNK)
		err = chunk_free(tp, &cur, pag, agibp, &r);
	else
		err = kvfs_btree_update(&cur, &r);
	if (err)
		return err;

	/* a fork already zero stays so: only the core changes (kvfs_dialloc()) */
	zero = literal_zero(ip);
	ip->i_mode = 0;
	ip->i_nlink = 0;
	ip->i_size = 0;
	ip->i_diflags = 0;
	ip->i_rdev = 0;
	ip->i_dformat = KVFS_DFORK_EXTENTS;
	ip->i_aformat = 0;
	ip->i_anextents = 0;
	ip->i_forkoff = 0;
	kvfs_inode_forks_clear(ip);
	kvfs_trans_log_inode(tp, ip,
			     KVFS_ILOG_CORE | (zero ? 0 : KVFS_ILOG_DFORK));
	return 0;
}
