// SPDX-License-Identifier: GPL-2.0
/*
 * The unlinked lists and link counts (see fs/inode/iunlink.h for the contract).
 *
 * When the lists are read: every read-write mount reads every AG's lists
 * (kvfs_iunlink_recover()), after a clean unmount too, because a clean
 * unmount does not leave them empty: an inode still open at the close
 * (a library user's kvfs_close() with open references held; mount.kvfs
 * drops every one it holds first), one whose freeing failed without
 * shutting the log down (inactive.c: "left on its unlinked list for the
 * next mount"), and the lists fsck's replay keeps for its later phases
 * (keep_orphans) all stay on them past the unmount record.
 * A read-only mount changes no list (it needs a clean log and writes
 * nothing); a crash during an unmount leaves the log dirty unless the
 * unmount record was written, and then the lists are what they were at
 * it.  So an empty list cannot be told from the log alone, and the reads
 * are kept (the mount reads every AG's free-space header as well).  Loading
 * an AG's lists on its first use instead would read inodes inside the
 * transaction that needs them, which may hold those inodes' cluster
 * buffers locked (a new inode's: O_TMPFILE, a rename's whiteout).
 *
 * An AG whose lists cannot be read for damage (its inode header, or an
 * inode on a list) does not refuse the mount: that AG's lists are left as
 * they are, and what would change them (an unlink of the AG's last link,
 * the freeing of one of its inodes) fails with -EUCLEAN until fsck.kvfs
 * repairs it; every other AG works.
 *
 * The predecessor map of an AG is a chained hash of struct iul_node, one
 * per inode on the AG's lists, under the AG's lock; it grows by doubling
 * when it holds more nodes than buckets (a failed growth only leaves the
 * chains longer).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/io/buf_item.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inactive.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/iunlink.h"
#include "fs/mount.h"
#include "fs/space/perag.h"
#include "fs/trans/trans.h"

struct iul_node {
	uint32_t agino;
	uint32_t prev; /* KVFS_NULLAGINO: first of its bucket */
	struct iul_node *next;
};

struct iul_ag {
	struct iul_node **tab;
	unsigned bits;
	size_t n;
	/* the lists could not be read (damage): set at mount, never again */
	int err;
};

struct kvfs_iunlink {
	struct iul_ag *ags; /* g.agcount of them */
	bool ready; /* the lists are all in the maps (set once at mount) */
	uint32_t unread; /* AGs whose lists did not read (iul_ag.err) */
	struct kvfs_report why; /* the first one's damage, as reported */
};

#define IUL_MIN_BITS 6

static size_t iul_hash(uint32_t agino, unsigned bits)
{
	return (uint32_t)(agino * 0x9e3779b1u) >> (32 - bits);
}

static struct iul_node *iul_find(struct iul_ag *a, uint32_t agino)
{
	struct iul_node *n;

	for (n = a->tab[iul_hash(agino, a->bits)]; n; n = n->next)
		if (n->agino == agino)
			return n;
	return NULL;
}

static void iul_grow(struct iul_ag *a)
{
	unsigned bits = a->bits + 1;
	struct iul_node **tab = kvzalloc(sizeof(*tab) << bits, KV_NOWARN);
	size_t i;

	if (!tab)
		return;
	for (i = 0; i < (size_t)1 << a->bits; i++) {
		struct iul_node *n, *next;

		for (n = a->tab[i]; n; n = next) {
			size_t h = iul_hash(n->agino, bits);

			next = n->next;
			n->next = tab[h];
			tab[h] = n;
		}
	}
	kvfree(a->tab);
	a->tab = tab;
	a->bits = bits;
}

static void iul_insert(struct iul_ag *a, struct iul_node *n)
{
	size_t h = iul_hash(n->agino, a->bits);

	n->next = a->tab[h];
	a->tab[h] = n;
	if (++a->n > (size_t)1 << a->bits)
		iul_grow(a);
}

static void iul_delete(struct iul_ag *a, struct iul_node *n)
{
	struct iul_node **pp = &a->tab[iul_hash(n->agino, a->bits)];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	a->n--;
	kvfree(n);
}

int kvfs_iunlink_init(struct kvfs_mount *mp)
{
	struct kvfs_iunlink *iu = kvzalloc(sizeof(*iu), 0);
	uint32_t i;

	if (!iu)
		return -ENOMEM;
	mp->iunlink = iu;
	iu->ags = kvzalloc(sizeof(*iu->ags) * mp->g.agcount, 0);
	if (!iu->ags)
		goto nomem;
	for (i = 0; i < mp->g.agcount; i++) {
		iu->ags[i].bits = IUL_MIN_BITS;
		iu->ags[i].tab =
			kvzalloc(sizeof(struct iul_node *) << IUL_MIN_BITS, 0);
		if (!iu->ags[i].tab)
			goto nomem;
	}
	return 0;
nomem:
	kvfs_iunlink_destroy(mp);
	return -ENOMEM;
}

void kvfs_iunlink_destroy(struct kvfs_mount *mp)
{
	struct kvfs_iunlink *iu = mp->iunlink;
	uint32_t i;

	if (!iu)
		return;
	for (i = 0; iu->ags && i < mp->g.agcount; i++) {
		struct iul_ag *a = &iu->ags[i];

		for (size_t h = 0; a->tab && h < (size_t)1 << a->bits; h++) {
			struct iul_node *n, *next;

			for (n = a->tab[h]; n; n = next) {
				next = n->next;
				kvfree(n);
			}
		}
		kvfree(a->tab);
	}
	kvfree(iu->ags);
	kvfree(iu);
	mp->iunlink = NULL;
}

static void log_bucket(struct kvfs_trans *tp, struct kv_buf *agibp, unsigned b)
{
	unsigned off = (unsigned)offsetof(struct kvfs_agi, unlinked) +
		       b * (unsigned)sizeof(kv_le32);

	kvfs_trans_log_buf(tp->jt, agibp, off, off + sizeof(kv_le32) - 1);
}

static int list_corrupt(struct kv_buf *agibp, uint32_t agino, const char *why)
{
	return kvfs_corrupt(-EUCLEAN, agibp->b_blkno, "AG inode header",
			    "unlinked lists: inode %u %s", agino, why);
}

/* The AG's lists were left unread at mount (damage): nothing changes them. */
static int ag_unread(struct kvfs_mount *mp, uint32_t agno, int err)
{
	return kvfs_corrupt(err, kvfs_agb_to_fsb(&mp->g, agno, KVFS_AGI_AGBNO),
			    "AG inode header",
			    "AG %u's unlinked lists were not read at mount "
			    "(damaged): run fsck.kvfs",
			    agno);
}

int kvfs_iunlink_usable(struct kvfs_mount *mp, uint64_t ino)
{
	uint32_t agno = kvfs_ino_to_agno(&mp->g, ino);
	int err = mp->iunlink->ags[agno].err;

	return err ? ag_unread(mp, agno, err) : 0;
}

int kvfs_iunlink(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	uint32_t agno = kvfs_ino_to_agno(g, ip->i_ino);
	uint32_t agino = kvfs_ino_to_agino(g, ip->i_ino);
	unsigned b = agino % KVFS_AGI_UNLINKED_BUCKETS;
	struct iul_ag *a = &mp->iunlink->ags[agno];
	struct iul_node *n, *hn = NULL;
	struct kvfs_agi *agi;
	struct kv_buf *agibp;
	uint32_t head;
	int err;

	n = kvmalloc(sizeof(*n), 0);
	if (!n)
		return -ENOMEM;
	err = kvfs_ialloc_read_agi(tp, agno, &agibp);
	if (err)
		goto out_free;
	if (a->err) {
		err = ag_unread(mp, agno, a->err);
		goto out_free;
	}
	if (iul_find(a, agino)) {
		err = -EEXIST;
		goto out_free;
	}
	agi = agibp->b_addr;
	head = kv_le32_to_cpu(agi->unlinked[b]);
	if (head != KVFS_NULLAGINO) {
		hn = iul_find(a, head);
		if (!hn) {
			err = list_corrupt(agibp, head,
					   "heads a bucket but is not known "
					   "to be on it");
			goto out_free;
		}
		hn->prev = agino;
	}
	n->agino = agino;
	n->prev = KVFS_NULLAGINO;
	iul_insert(a, n);
	ip->i_next_unlinked = head;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	agi->unlinked[b] = kv_cpu_to_le32(agino);
	log_bucket(tp, agibp, b);
	return 0;
out_free:
	kvfree(n);
	return err;
}

/*
 * The predecessor pino of an inode on the list, locked and joined to tp
 * (referenced: the caller puts it).  -EAGAIN if its lock is busy.
 */
static int join_prev(struct kvfs_trans *tp, uint64_t pino,
		     struct kvfs_inode **pipp)
{
	struct kvfs_inode *pip;
	int err = kvfs_iget(tp->mp, pino, 0, &pip);

	if (err)
		return err;
	if (!kvfs_trans_ijoined(tp, pip)) {
		/* after the AG lock: against the lock order, so never wait */
		if (!kvfs_ilock_nowait(pip, KVFS_ILOCK_EXCL)) {
			kvfs_iput(pip);
			return -EAGAIN;
		}
		err = kvfs_trans_ijoin(tp, pip);
		if (err) {
			kvfs_iunlock(pip, KVFS_ILOCK_EXCL);
			kvfs_iput(pip);
			return err;
		}
	}
	*pipp = pip;
	return 0;
}

int kvfs_iunlink_remove(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = tp->mp;
	const struct kvfs_geom *g = &mp->g;
	uint32_t agno = kvfs_ino_to_agno(g, ip->i_ino);
	uint32_t agino = kvfs_ino_to_agino(g, ip->i_ino);
	unsigned b = agino % KVFS_AGI_UNLINKED_BUCKETS;
	struct iul_ag *a = &mp->iunlink->ags[agno];
	uint32_t next = ip->i_next_unlinked;
	struct kvfs_inode *pip = NULL;
	struct iul_node *n, *nn = NULL;
	struct kvfs_agi *agi;
	struct kv_buf *agibp;
	int err;

	err = kvfs_ialloc_read_agi(tp, agno, &agibp);
	if (err)
		return err;
	if (a->err)
		return ag_unread(mp, agno, a->err);
	agi = agibp->b_addr;
	n = iul_find(a, agino);
	if (!n)
		return -ENOENT;
	if (next != KVFS_NULLAGINO) {
		nn = iul_find(a, next);
		if (!nn || nn->prev != agino)
			return list_corrupt(agibp, next,
					    "follows an inode on the list "
					    "but is not known to");
	}
	if (n->prev == KVFS_NULLAGINO) {
		if (kv_le32_to_cpu(agi->unlinked[b]) != agino)
			return list_corrupt(agibp, agino,
					    "should head its bucket");
	} else {
		err = join_prev(tp, kvfs_agino_to_ino(g, agno, n->prev), &pip);
		if (err)
			return err;
		if (pip->i_next_unlinked != agino) {
			kvfs_iput(pip);
			return list_corrupt(agibp, n->prev,
					    "precedes an inode on the list "
					    "but does not point to it");
		}
	}
	/* nothing changed before here */
	if (pip) {
		pip->i_next_unlinked = next;
		kvfs_trans_log_inode(tp, pip, KVFS_ILOG_CORE);
		kvfs_iput(pip);
	} else {
		agi->unlinked[b] = kv_cpu_to_le32(next);
		log_bucket(tp, agibp, b);
	}
	if (nn)
		nn->prev = n->prev;
	iul_delete(a, n);
	ip->i_next_unlinked = KVFS_NULLAGINO;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return 0;
}

static void ctime_now(struct kvfs_inode *ip)
{
	kvfs_inode_now(&ip->i_ctime);
}

int kvfs_bumplink(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	int err;

	if (ip->i_nlink >= KVFS_MAX_LINK)
		return -EMLINK;
	if (!ip->i_nlink) {
		err = kvfs_iunlink_remove(tp, ip);
		if (err)
			return err;
	}
	ip->i_nlink++;
	ctime_now(ip);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return 0;
}

int kvfs_droplink(struct kvfs_trans *tp, struct kvfs_inode *ip)
{
	int err;

	if (!ip->i_nlink)
		return kvfs_corrupt_inode(
			-EUCLEAN, kvfs_ino_to_fsb(&tp->mp->g, ip->i_ino),
			ip->i_ino, "link count dropped below zero");
	if (ip->i_nlink == 1) {
		err = kvfs_iunlink(tp, ip);
		if (err)
			return err;
	}
	ip->i_nlink--;
	ctime_now(ip);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return 0;
}

/* One bucket's list into the map, each inode checked. */
static int load_bucket(struct kvfs_mount *mp, uint32_t agno, unsigned b,
		       uint32_t head, uint32_t icount, uint64_t agi_blkno)
{
	struct iul_ag *a = &mp->iunlink->ags[agno];
	uint32_t agino = head, prev = KVFS_NULLAGINO, steps = 0;
	struct kvfs_inode *ip;
	int err;

	while (agino != KVFS_NULLAGINO) {
		uint64_t ino = kvfs_agino_to_ino(&mp->g, agno, agino);
		struct iul_node *n;

		if (++steps > icount ||
		    agino % KVFS_AGI_UNLINKED_BUCKETS != b ||
		    iul_find(a, agino))
			return kvfs_corrupt(-EUCLEAN, agi_blkno,
					    "AG inode header",
					    "unlinked bucket %u: inode %u "
					    "misplaced, or the list loops",
					    b, agino);
		err = kvfs_iget(mp, ino, 0, &ip);
		if (err == -EINVAL)
			return kvfs_corrupt(-EUCLEAN, agi_blkno,
					    "AG inode header",
					    "unlinked bucket %u: agino %u is "
					    "no inode",
					    b, agino);
		if (err == -ENOENT)
			return kvfs_corrupt_inode(
				-EUCLEAN, kvfs_ino_to_fsb(&mp->g, ino), ino,
				"on an unlinked list but free");
		if (err)
			return err;
		if (ip->i_nlink) {
			kvfs_iput(ip);
			return kvfs_corrupt_inode(
				-EUCLEAN, kvfs_ino_to_fsb(&mp->g, ino), ino,
				"on an unlinked list but linked");
		}
		n = kvmalloc(sizeof(*n), 0);
		if (!n) {
			kvfs_iput(ip);
			return -ENOMEM;
		}
		n->agino = agino;
		n->prev = prev;
		iul_insert(a, n);
		prev = agino;
		agino = ip->i_next_unlinked;
		kvfs_iput(ip);
	}
	return 0;
}

/* Free the inodes of one bucket, from its head. */
static int free_bucket(struct kvfs_mount *mp, uint32_t agno, uint32_t head,
		       uint64_t *freed)
{
	uint32_t agino = head;
	struct kvfs_inode *ip;
	int err;

	while (agino != KVFS_NULLAGINO) {
		err = kvfs_iget(mp, kvfs_agino_to_ino(&mp->g, agno, agino), 0,
				&ip);
		if (err)
			return err;
		agino = ip->i_next_unlinked;
		err = kvfs_inactive(ip);
		kvfs_iput(ip);
		if (err)
			return err;
		(*freed)++;
	}
	return 0;
}

/* Forget what a failed load put in an AG's map. */
static void iul_clear(struct iul_ag *a)
{
	for (size_t h = 0; h < (size_t)1 << a->bits; h++) {
		struct iul_node *n, *next;

		for (n = a->tab[h]; n; n = next) {
			next = n->next;
			kvfree(n);
		}
		a->tab[h] = NULL;
	}
	a->n = 0;
}

/* AG agno's lists into its map, their heads into *info. */
static int load_ag(struct kvfs_mount *mp, uint32_t agno,
		   struct kvfs_agi_info *info)
{
	uint64_t blkno = kvfs_agb_to_fsb(&mp->g, agno, KVFS_AGI_AGBNO);
	struct kvfs_agi *agi;
	struct kv_buf *bp;
	unsigned b;
	int err;

	err = kv_buf_read(mp->bc, blkno, 1, &kvfs_agi_buf_ops, &bp);
	if (err)
		return err;
	/* the header's buffer verifier passed: only what we use */
	kv_buf_lock(bp);
	agi = bp->b_addr;
	info->agno = agno;
	info->icount = kv_le32_to_cpu(agi->icount);
	info->ifree = kv_le32_to_cpu(agi->ifree);
	for (b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++)
		info->unlinked[b] = kv_le32_to_cpu(agi->unlinked[b]);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	for (b = 0; b < KVFS_AGI_UNLINKED_BUCKETS && !err; b++)
		err = load_bucket(mp, agno, b, info->unlinked[b], info->icount,
				  blkno);
	return err;
}

int kvfs_iunlink_recover(struct kvfs_mount *mp, uint64_t *freed)
{
	const struct kvfs_geom *g = &mp->g;
	uint64_t icount = 0, ifree = 0;
	struct kvfs_agi_info *info;
	uint32_t agno, unread = 0;
	unsigned b;
	int err = 0;

	*freed = 0;
	info = kvmalloc(sizeof(*info) * g->agcount, 0);
	if (!info)
		return -ENOMEM;
	for (agno = 0; agno < g->agcount && !err; agno++) {
		struct iul_ag *a = &mp->iunlink->ags[agno];
		struct kvfs_report before = *kvfs_report_last();

		/* load_ag() sets it once the header read */
		info[agno].agno = g->agcount;
		err = load_ag(mp, agno, &info[agno]);
		if (info[agno].agno == agno) {
			icount += info[agno].icount;
			ifree += info[agno].ifree;
		} else {
			unread++;
		}
		if (err != -EUCLEAN && err != -EBADMSG)
			continue;
		/* reported where it was met; what it costs, here */
		if (!mp->iunlink->unread++ &&
		    memcmp(&before, kvfs_report_last(), sizeof(before)))
			mp->iunlink->why = *kvfs_report_last();
		else if (mp->iunlink->unread == 1)
			mp->iunlink->why.err = err;
		iul_clear(a);
		a->err = -EUCLEAN;
		/*
		 * New inodes keep out: an O_TMPFILE's transaction puts its
		 * inode on the list after allocating it, and its cancel would
		 * shut the log down.
		 */
		__atomic_store_n(&mp->pag[agno].ialloc_sick, true,
				 __ATOMIC_RELAXED);
		err = 0;
		kvfs_corrupt(a->err, kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
			     "AG inode header",
			     "AG %u's unlinked lists not read: its unlinked "
			     "inodes stay allocated, and unlinks of its files' "
			     "last links fail, until fsck.kvfs repairs it",
			     agno);
	}
	/* the maps are whole: from here a last put may free an inode */
	if (!err) {
		kvfs_mount_set_icounts(mp, icount, ifree, unread);
		mp->iunlink->ready = true;
	}
	for (agno = 0; agno < g->agcount && !err; agno++)
		for (b = 0; b < KVFS_AGI_UNLINKED_BUCKETS && !err &&
			    !mp->iunlink->ags[agno].err;
		     b++)
			err = free_bucket(mp, agno, info[agno].unlinked[b],
					  freed);
	kvfree(info);
	return err;
}

uint32_t kvfs_iunlink_unread(struct kvfs_mount *mp, char *why, size_t len)
{
	const struct kvfs_report *r = &mp->iunlink->why;

	if (!mp->iunlink->unread || !len)
		return mp->iunlink->unread;
	if (r->what[0])
		kvfs_report_format(r, why, len);
	else
		snprintf(why, len, "%s", strerror(-r->err));
	return mp->iunlink->unread;
}

int kvfs_iunlink_check(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_perag *pag = &mp->pag[kvfs_ino_to_agno(g, ip->i_ino)];
	bool on;

	/* the map is under the AG's lock, which nothing here holds yet */
	kvfs_perag_lock(pag);
	on = iul_find(&mp->iunlink->ags[kvfs_ino_to_agno(g, ip->i_ino)],
		      kvfs_ino_to_agino(g, ip->i_ino)) != NULL;
	kvfs_perag_unlock(pag);
	if (on)
		return 0;
	atomic_fetch_or(&ip->i_flags, KVFS_ISICK);
	return kvfs_corrupt_inode(-EUCLEAN, kvfs_ino_to_fsb(g, ip->i_ino),
				  ip->i_ino,
				  "no links, but on no unlinked list: left "
				  "allocated for fsck.kvfs");
}

bool kvfs_iunlink_ready(struct kvfs_mount *mp, uint64_t ino)
{
	return mp->iunlink && mp->iunlink->ready &&
	       !mp->iunlink->ags[kvfs_ino_to_agno(&mp->g, ino)].err;
}
