// SPDX-License-Identifier: GPL-2.0
/*
 * The inode log item (see fs/inode/inode_item.h for the contract).
 *
 * Locks: the item's state (fields, bp) is the inode's, under its i_lock:
 * transactions hold it exclusively from kvfs_trans_ijoin() to their end
 * (the journal calls size/format/release then); the AIL's push trylocks it
 * shared and runs under the AIL lock, which serialises pushes with each
 * other.  Push trylocks the cluster buffer's lock too (it nests inside the
 * inode lock, as buffer locks do everywhere), and under it the locks of
 * the cluster's other inodes it writes with its own (trylocks only; an
 * inode whose item is in the AIL is not freed while the AIL lock is held,
 * so they are found in the cache without a reference).  The buffer
 * item's push of a new chunk's cluster (kvfs_icluster_write(), its
 * ordered write) takes the cluster's inodes so too, under the AIL lock
 * and the buffer lock its push trylocked.
 *
 * The item's own pin count, not the journal's (which drops before unpin()
 * is called), says whether a checkpoint still holds it: unpin() touches
 * nothing after dropping it, so the inode cache may free a clean inode as
 * soon as it reads zero there and the item is out of the AIL.
 *
 * Write-back stamps only the inode written with the item's LSN (the
 * cluster buffer's verify_write recomputes crcs and leaves each inode's
 * LSN alone): a neighbour's slot may hold older contents than that LSN
 * and must keep its own, or recovery would skip its deltas.
 */
#include <errno.h>
#include <string.h>

#include <urcu/compiler.h>

#include "alloc/kvalloc.h"
#include "fs/bug.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_item.h"
#include "fs/io/buf_ops.h"
#include "fs/io/rec_bufs.h"
#include "fs/format/dinode.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/crc32c.h"

/* the structure inode recovery reports name (fs/io/blkhdr.h) */
#define ILI_RECOVERY "inode log recovery"
/* the most inodes of one cluster: 64 KiB blocks of 512-byte inodes */
#define ILI_CLUSTER_MAX 128

static const struct kvj_item_ops ili_ops;

static inline struct kvfs_inode *item_to_inode(struct kvj_item *lip)
{
	return caa_container_of(lip, struct kvfs_inode, i_item.item);
}

void kvfs_inode_item_init(struct kvfs_inode *ip, struct kvj_log *log)
{
	kvj_item_init(&ip->i_item.item, log, &ili_ops);
	atomic_init(&ip->i_item.pincount, 0);
}

void kvfs_inode_item_teardown(struct kvfs_inode *ip)
{
	struct kvfs_inode_log_item *iip = &ip->i_item;

	if (iip->bp) {
		kv_buf_rele(iip->bp);
		iip->bp = NULL;
	}
}

bool kvfs_inode_item_clean(struct kvfs_inode *ip)
{
	struct kvfs_inode_log_item *iip = &ip->i_item;

	/* pin first: the AIL insertion happens before the unpin */
	return !atomic_load(&iip->pincount) &&
	       !__atomic_load_n(&iip->fields, __ATOMIC_RELAXED) &&
	       !kvj_item_in_ail(&iip->item);
}

/* ---- the journal's item ops ---- */

static uint32_t ili_size(struct kvj_item *lip, bool fresh)
{
	struct kvfs_inode *ip = item_to_inode(lip);
	uint32_t n = KVFS_INODE_LOG_FORMAT_SIZE + KVFS_LOG_DINODE_SIZE;

	(void)fresh;
	if (ip->i_item.fields & KVFS_ILOG_DFORK)
		n += kvfs_inode_dfork_size(ip);
	if (ip->i_item.fields & KVFS_ILOG_AFORK)
		n += kvfs_inode_afork_size(ip);
	return n;
}

/* The delta is small (at most an inode): rewritten whole on a relog too. */
static uint32_t ili_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct kvfs_inode *ip = item_to_inode(lip);
	const struct kvfs_geom *g = &ip->i_mount->g;
	struct kvfs_inode_log_format f = { 0 };
	struct kvfs_log_dinode ld;
	uint8_t *p = buf;
	uint32_t dlen = 0, alen = 0;

	(void)fresh;
	if (ip->i_item.fields & KVFS_ILOG_DFORK)
		dlen = kvfs_inode_dfork_size(ip);
	if (ip->i_item.fields & KVFS_ILOG_AFORK)
		alen = kvfs_inode_afork_size(ip);
	f.ino = kv_cpu_to_le64(ip->i_ino);
	f.blkno = kv_cpu_to_le64(kvfs_ino_to_fsb(g, ip->i_ino));
	f.boffset = kv_cpu_to_le32(kvfs_ino_to_offset(g, ip->i_ino));
	f.fields = kv_cpu_to_le16((uint16_t)(KVFS_ILOG_CORE |
					     (dlen ? KVFS_ILOG_DFORK : 0) |
					     (alen ? KVFS_ILOG_AFORK : 0)));
	f.dfork_len = kv_cpu_to_le32(dlen);
	f.afork_len = kv_cpu_to_le32(alen);
	kvfs_inode_to_log(ip, &ld);
	memcpy(p, &f, sizeof(f));
	memcpy(p + sizeof(f), &ld, sizeof(ld));
	memcpy(p + sizeof(f) + sizeof(ld), ip->i_dfork, dlen);
	memcpy(p + sizeof(f) + sizeof(ld) + dlen, ip->i_afork, alen);
	return (uint32_t)(sizeof(f) + sizeof(ld) + dlen + alen);
}

/* The transaction is over: unlock the inode. */
static void ili_release(struct kvj_item *lip, bool aborted)
{
	struct kvfs_inode *ip = item_to_inode(lip);
	struct kvfs_inode_log_item *iip = &ip->i_item;

	(void)aborted;
	iip->joined = false;
	atomic_store(&iip->tx, NULL);
	/* after the store: a count of 0 means no free inode is held */
	if (iip->ifree_held) {
		struct kvfs_mount *mp = ip->i_mount;

		iip->ifree_held = false;
		atomic_fetch_sub_explicit(
			&kvfs_perag_get(mp, kvfs_ino_to_agno(&mp->g, ip->i_ino))
				 ->ifree_held,
			1, memory_order_release);
	}
	/* joined but never changed: the cluster buffer is not needed */
	if (!iip->fields && iip->bp) {
		kv_buf_rele(iip->bp);
		iip->bp = NULL;
	}
	/* joined exclusively locked (kvfs_trans_ijoin()) */
	kvfs_ilock_seq_unexcl(ip);
	pthread_rwlock_unlock(&ip->i_lock);
	kv_lockdep_unlock(&ip->i_lock);
}

static void ili_pin(struct kvj_item *lip)
{
	atomic_fetch_add(&item_to_inode(lip)->i_item.pincount, 1);
}

/* Nothing of the inode may be touched once the count is dropped. */
static void ili_unpin(struct kvj_item *lip)
{
	atomic_fetch_sub(&item_to_inode(lip)->i_item.pincount, 1);
}

static void ili_unlock(struct kvfs_inode *ip)
{
	pthread_rwlock_unlock(&ip->i_lock);
	kv_lockdep_unlock(&ip->i_lock);
}

/* The AIL lock is held: an item in the AIL keeps its inode cached. */
static bool ili_in_ail(struct kvfs_inode *ip)
{
	return ip->i_mount->log && ip->i_item.item.in_ail;
}

/*
 * The inodes of bp (locked, unpinned; the cluster from inode first) but
 * skip (KVFS_NULLINO: none) that an AIL push may write with it, as XFS's
 * xfs_iflush_cluster(): in the AIL (their AIL LSN is then their newest
 * logged state, inserted before the unpin), unpinned, changed since their
 * last write-back, attached to bp and not held by a transaction.  Each is
 * copied into its slot, stamped with its own LSN, and left read-locked in
 * nb[] for ili_cluster_written(); their own pushes find nothing left to
 * write.  Without this a cluster was written (and all its crcs
 * recomputed) once per dirty inode: 8 times for 8 creates.
 */
static unsigned ili_cluster_gather(struct kvfs_mount *mp, uint64_t first,
				   uint64_t skip, struct kv_buf *bp,
				   struct kvfs_inode **nb, unsigned max)
{
	const struct kvfs_geom *g = &mp->g;
	unsigned n = 0;

	for (uint64_t ino = first; ino < first + g->inopblock && n < max;
	     ino++) {
		struct kvfs_inode *np;
		struct kvfs_inode_log_item *nip;

		if (ino == skip)
			continue;
		np = kvfs_icache_peek(mp, ino, ili_in_ail);
		if (!np || pthread_rwlock_tryrdlock(&np->i_lock))
			continue;
		kv_lockdep_trylocked(&np->i_lock, KV_RANK_ILOCK, np->i_ino);
		nip = &np->i_item;
		if (atomic_load(&nip->pincount) || !nip->fields ||
		    nip->bp != bp) {
			ili_unlock(np);
			continue;
		}
		kvfs_inode_to_disk(np,
				   (uint8_t *)bp->b_addr +
					   kvfs_ino_to_offset(g, np->i_ino),
				   nip->item.lsn);
		nb[n++] = np;
	}
	return n;
}

/*
 * bp's write of the n inodes ili_cluster_gather() took ended with err:
 * written, each gives up its reference (else they stay dirty); unlocked.
 */
static void ili_cluster_written(struct kv_buf *bp, struct kvfs_inode **nb,
				unsigned n, int err)
{
	for (unsigned i = 0; i < n; i++) {
		if (!err) {
			nb[i]->i_item.fields = 0;
			nb[i]->i_item.bp = NULL;
			kv_buf_rele(bp);
		}
		ili_unlock(nb[i]);
	}
}

int kvfs_icluster_write(struct kv_buf *bp, void *priv)
{
	struct kvfs_mount *mp = priv;
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_inode *nb[ILI_CLUSTER_MAX];
	uint64_t first = kvfs_agino_to_ino(
		g, kvfs_fsb_to_agno(g, bp->b_blkno),
		kvfs_agbno_to_agino(g, kvfs_fsb_to_agbno(g, bp->b_blkno)));
	unsigned n;
	int err;

	n = ili_cluster_gather(mp, first, KVFS_NULLINO, bp, nb,
			       ILI_CLUSTER_MAX);
	err = kv_buf_write(bp);
	ili_cluster_written(bp, nb, n, err);
	return err;
}

/* AIL write-back: never waits for a lock. */
static int ili_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	struct kvfs_inode *ip = item_to_inode(lip);
	struct kvfs_inode_log_item *iip = &ip->i_item;
	const struct kvfs_geom *g = &ip->i_mount->g;
	struct kvfs_inode *nb[ILI_CLUSTER_MAX];
	struct kv_buf *bp;
	unsigned nr_nb;
	int ret = KVJ_PUSH_SUCCESS, err;

	if (pthread_rwlock_tryrdlock(&ip->i_lock))
		return KVJ_PUSH_LOCKED;
	kv_lockdep_trylocked(&ip->i_lock, KV_RANK_ILOCK, ip->i_ino);
	if (atomic_load(&iip->pincount)) {
		ret = KVJ_PUSH_PINNED;
		goto out;
	}
	bp = iip->bp;
	/* written back by an earlier push: nothing left to write */
	if (!iip->fields || !bp) {
		ret = KVJ_PUSH_CLEAN;
		goto out;
	}
	if (!kv_buf_trylock(bp)) {
		ret = KVJ_PUSH_LOCKED;
		goto out;
	}
	if (kv_buf_is_pinned(bp)) {
		kv_buf_unlock(bp);
		ret = KVJ_PUSH_PINNED;
		goto out;
	}
	kvfs_inode_to_disk(
		ip, (uint8_t *)bp->b_addr + kvfs_ino_to_offset(g, ip->i_ino),
		lsn);
	/*
	 * A freed cluster is not written (kv_buf_write() skips it): its
	 * inodes' own pushes are cheap, and need no flush, the cancel being
	 * durable once the buffer is unpinned.
	 */
	if (atomic_load(&bp->b_flags) & KV_BUF_STALE) {
		nr_nb = 0;
		ret = KVJ_PUSH_CLEAN;
	} else {
		nr_nb = ili_cluster_gather(
			ip->i_mount, ip->i_ino & ~(uint64_t)(g->inopblock - 1),
			ip->i_ino, bp, nb, ILI_CLUSTER_MAX);
	}
	err = kv_buf_write(bp);
	/* a new chunk's cluster: its ordered write is this one */
	if (!err && ret == KVJ_PUSH_SUCCESS)
		kvfs_bli_written(bp);
	kv_buf_unlock(bp);
	ili_cluster_written(bp, nb, nr_nb, err);
	if (!err) {
		iip->fields = 0;
		iip->bp = NULL;
		kv_buf_rele(bp);
		goto out;
	}
	/*
	 * The tail cannot pass an inode that cannot be written: stop, as
	 * the buffer item does (and retry, as it does, when memory was short
	 * or the device had no room).
	 */
	ret = kv_buf_write_nospace(err) ? KVJ_PUSH_NOSPACE : KVJ_PUSH_LOCKED;
	if (ret == KVJ_PUSH_LOCKED && !kv_buf_write_transient(err)) {
		kvfs_corrupt_inode(err, bp->b_blkno, ip->i_ino,
				   "write-back: %s", strerror(-err));
		kvj_log_shutdown(lip->log, "inode write-back failed");
	}
out:
	ili_unlock(ip);
	return ret;
}

/* Written back and leaving the AIL: reclaim may want it (see icache.c). */
static void ili_written(struct kvj_item *lip)
{
	kvfs_icache_note_written(item_to_inode(lip));
}

static const struct kvj_item_ops ili_ops = {
	.name = "inode",
	.type = KVFS_ITEM_INODE,
	.size = ili_size,
	.format = ili_format,
	.release = ili_release,
	.pin = ili_pin,
	.unpin = ili_unpin,
	.push = ili_push,
	.written = ili_written,
};

/* ---- transactions ---- */

int kvfs_trans_ijoin(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	struct kvfs_inode_log_item *iip = &ip->i_item;
	struct kvfs_mount *mp = ip->i_mount;
	int err;

	if (iip->joined)
		return 0;
	/*
	 * Its chunk was freed (the buffer invalidated) and allocated
	 * again since the inode was last written back: write it back into
	 * the new chunk's buffer, never into the stale one.
	 */
	if (iip->bp && (atomic_load(&iip->bp->b_flags) & KV_BUF_STALE)) {
		kv_buf_rele(iip->bp);
		iip->bp = NULL;
	}
	if (!iip->bp) {
		err = kv_buf_read(mp->bc, kvfs_ino_to_fsb(&mp->g, ip->i_ino), 1,
				  &kvfs_inode_buf_ops, &iip->bp);
		if (err) {
			iip->bp = NULL;
			return err;
		}
	}
	iip->joined = true;
	atomic_store(&iip->tx, tp);
	kvj_trans_join(tp->jt, &iip->item);
	kvj_trans_hold(tp->jt, &iip->item);
	return 0;
}

bool kvfs_trans_ijoined(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	return atomic_load(&ip->i_item.tx) == tp;
}

void kvfs_trans_log_inode(struct kvfs_trans *tp, struct kvfs_inode *ip,
			  unsigned fields)
{
	struct kvfs_inode_log_item *iip = &ip->i_item;

	if (!iip->joined || (fields & ~KVFS_ILOG_ALL)) {
		kvfs_bug("kvfs_trans_log_inode: inode %llu fields 0x%x%s",
			 (unsigned long long)ip->i_ino, fields,
			 iip->joined ? "" : " not in a transaction");
	}
	__atomic_store_n(&iip->fields, iip->fields | fields | KVFS_ILOG_CORE,
			 __ATOMIC_RELAXED);
	/* dirty: no allocation may fail from here (fs/io/buf_item.c) */
	kvj_trans_set_nofail(tp->jt);
	kvj_trans_log(tp->jt, &iip->item);
}

/* ---- recovery ---- */

struct ili_recovery {
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	const struct kvj_recover_ops *bops; /* the buffers' cancels */
	struct kvfs_rec_bufs clus; /* the inode cluster buffers */
	size_t limit;
	kvj_lsn_t max_lsn; /* the newest checkpoint holding an inode delta */
	struct kvfs_inode_recover_stats st;
};

int kvfs_icluster_rec_write_all(struct kvfs_rec_bufs *t, bool stale,
				const char *what, uint64_t *written)
{
	size_t i;
	int err = 0;

	for (i = 0; i < t->cap; i++) {
		struct kv_buf *bp = t->slots[i].bp;

		if (!bp)
			continue;
		kv_buf_lock(bp);
		if (!stale && !err && t->slots[i].changed) {
			bp->b_ops = &kvfs_inode_buf_ops;
			err = kv_buf_write(bp);
			if (err)
				kvfs_corrupt(err, bp->b_blkno, what,
					     "write-back of the cluster: %s",
					     strerror(-err));
			else if (written)
				(*written)++;
		}
		if (stale || err)
			kv_buf_stale(bp);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	kvfs_rec_bufs_reset(t);
	return err;
}

static int rec_write_all(struct ili_recovery *r, bool stale)
{
	return kvfs_icluster_rec_write_all(&r->clus, stale, ILI_RECOVERY,
					   &r->st.written);
}

/* Does the inode in its slot vouch for its LSN (magic, owner, crc)? */
static bool rec_inode_valid(const struct ili_recovery *r, const void *dip,
			    uint64_t ino)
{
	const struct kvfs_blk_hdr *h = dip;

	/* another filesystem's inode (mkfs over an old image): replay over it */
	return kv_le32_to_cpu(h->magic) == KVFS_DINODE_MAGIC &&
	       kv_le64_to_cpu(h->owner) == ino &&
	       !memcmp(h->uuid, r->g->meta_uuid, KVFS_UUID_SIZE) &&
	       kv_le32_to_cpu(h->crc) ==
		       kv_crc32c_block(dip, r->g->inodesize, KVFS_BLK_CRC_OFF);
}

/*
 * Pass 1: the newest checkpoint with an inode delta.  An inode newer than
 * it vouches for nothing (fs/io/buf_item.c rec_block_lsn() says why): every
 * delta since the tail is replayed over it, each a whole core.
 */
static int rec_scan(void *priv, const void *delta, uint32_t len, kvj_lsn_t lsn)
{
	struct ili_recovery *r = priv;

	(void)delta;
	(void)len;
	if (lsn > r->max_lsn)
		r->max_lsn = lsn;
	return 0;
}

static int rec_malformed(uint32_t len, const char *why)
{
	return kvfs_corrupt(-EUCLEAN, KVFS_NULLBLOCK, ILI_RECOVERY,
			    "malformed inode delta (%u bytes): %s", len, why);
}

static int rec_replay(void *priv, const void *delta, uint32_t len,
		      kvj_lsn_t lsn)
{
	struct ili_recovery *r = priv;
	const struct kvfs_geom *g = r->g;
	struct kvfs_inode_log_format f;
	struct kvfs_log_dinode ld;
	const uint8_t *p = delta;
	uint64_t ino, blkno;
	uint32_t dlen, alen, fields, forkoff;
	uint32_t room = g->inodesize - KVFS_DINODE_CORE_SIZE;
	struct kvfs_rec_buf *rc;
	struct kv_buf *bp;
	kvj_lsn_t dlsn;
	uint8_t *dip;
	int err;

	r->st.deltas++;
	if (len < sizeof(f) + sizeof(ld))
		return rec_malformed(len, "too short");
	memcpy(&f, p, sizeof(f));
	memcpy(&ld, p + sizeof(f), sizeof(ld));
	ino = kv_le64_to_cpu(f.ino);
	blkno = kv_le64_to_cpu(f.blkno);
	fields = kv_le16_to_cpu(f.fields);
	dlen = kv_le32_to_cpu(f.dfork_len);
	alen = kv_le32_to_cpu(f.afork_len);
	forkoff = kv_le16_to_cpu(ld.forkoff) * 8u;
	if (!kvfs_ino_in_range(g, ino) || blkno != kvfs_ino_to_fsb(g, ino) ||
	    kv_le32_to_cpu(f.boffset) != kvfs_ino_to_offset(g, ino))
		return rec_malformed(len, "inode number and place disagree");
	if (!(fields & KVFS_ILOG_CORE) || (fields & ~KVFS_ILOG_ALL) ||
	    !(fields & KVFS_ILOG_DFORK) != !dlen ||
	    !(fields & KVFS_ILOG_AFORK) != !alen || dlen > room ||
	    alen > room || len != sizeof(f) + sizeof(ld) + dlen + alen)
		return rec_malformed(len, "fields and length disagree");
	/*
	 * Each fork within its part of the literal area, as forkoff splits
	 * it: forks that overlap would be written over each other and
	 * sealed with a good crc.
	 */
	if (forkoff > room || dlen > (forkoff ? forkoff : room) ||
	    alen > (forkoff ? room - forkoff : 0))
		return rec_malformed(
			len, "forks do not fit the inode's literal area");
	/* the chunk was freed since: the block may be anything now */
	if (kvfs_bli_recover_freed_since(r->bops, blkno, lsn)) {
		r->st.skipped++;
		return 0;
	}

	if (r->clus.nr >= r->limit) {
		err = rec_write_all(r, false);
		if (err)
			return err;
	}
	rc = kvfs_rec_bufs_get(&r->clus, blkno);
	if (!rc)
		return -ENOMEM;
	if (!rc->bp) {
		/* raw: the buffer deltas may have replayed into it already */
		err = kv_buf_read(r->bc, blkno, 1, NULL, &bp);
		if (err)
			return kvfs_corrupt(err, blkno, ILI_RECOVERY, "%s",
					    kv_buf_last_error());
		kvfs_rec_bufs_fill(&r->clus, rc, bp);
	}
	dip = (uint8_t *)rc->bp->b_addr + kvfs_ino_to_offset(g, ino);
	kv_buf_lock(rc->bp);
	dlsn = kv_le64_to_cpu(((struct kvfs_blk_hdr *)dip)->lsn);
	if (rec_inode_valid(r, dip, ino) && dlsn >= lsn && dlsn <= r->max_lsn) {
		kv_buf_unlock(rc->bp);
		r->st.skipped++;
		return 0;
	}
	/* the header is rebuilt whole: the slot may be torn or never written */
	kvfs_blkhdr_init(dip, KVFS_DINODE_MAGIC, blkno, ino, g->meta_uuid);
	kvfs_log_dinode_to_disk(&ld, dip);
	if (dlen)
		memcpy(dip + KVFS_DINODE_CORE_SIZE, p + sizeof(f) + sizeof(ld),
		       dlen);
	if (alen)
		memcpy(dip + g->inodesize - alen,
		       p + sizeof(f) + sizeof(ld) + dlen, alen);
	kvfs_blkhdr_stamp(dip, g->inodesize, lsn);
	kv_buf_unlock(rc->bp);
	rc->changed = true;
	r->st.applied++;
	return 0;
}

static int rec_finish(void *priv)
{
	return rec_write_all(priv, false);
}

int kvfs_inode_recover_ops(struct kv_bcache *bc, const struct kvfs_geom *g,
			   const struct kvj_recover_ops *bops,
			   struct kvj_recover_ops *ops)
{
	struct ili_recovery *r = kvzalloc(sizeof(*r), 0);

	memset(ops, 0, sizeof(*ops));
	if (!r)
		return -ENOMEM;
	r->bc = bc;
	r->g = g;
	r->bops = bops;
	r->limit = KVFS_ILI_RECOVER_LIMIT;
	ops->type = KVFS_ITEM_INODE;
	/*
	 * After the checkpoint's buffers: a new inode's core is logged in
	 * the checkpoint that initialises its chunk's clusters (fs/inode/ialloc.h)
	 * and must land over them.
	 */
	ops->phase = 1;
	ops->scan = rec_scan;
	ops->replay = rec_replay;
	ops->finish = rec_finish;
	ops->priv = r;
	return 0;
}

void kvfs_inode_recover_free(struct kvj_recover_ops *ops)
{
	struct ili_recovery *r = ops->priv;

	if (!r)
		return;
	rec_write_all(r, true);
	kvfree(r);
	ops->priv = NULL;
}

void kvfs_inode_recover_get_stats(const struct kvj_recover_ops *ops,
				  struct kvfs_inode_recover_stats *st)
{
	const struct ili_recovery *r = ops->priv;

	*st = r->st;
}
