// SPDX-License-Identifier: GPL-2.0
/*
 * The in-core extent list (fs/data/iext.h).
 *
 * Two levels: leaves of up to LEAF_RECS records (one slab object of 4 KiB)
 * and an index of (first offset, leaf) slots, both sorted.  A lookup
 * binary-searches the index, then the leaf; a change moves at most one
 * leaf's records, splits a full leaf in two (one slot inserted) and folds
 * a leaf a quarter full into a neighbour when both fit one.  The load fills
 * leaves three quarters, so that the inserts of random writes split few.
 *
 * The mount's lists hang on a circular list under lru->lock for the
 * shrinker: a lookup sets its list's referenced mark (only when clear: a
 * store per lookup would bounce the line between readers), the shrinker
 * clears marks and drops lists it finds unmarked.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/data/bmap.h"
#include "fs/data/iext.h"
#include "fs/format.h"
#include "fs/inode/inode.h"
#include "fs/mount.h"

#define LEAF_RECS ((4096 - 8) / sizeof(struct kvfs_irec))
#define LOAD_FILL (LEAF_RECS * 3 / 4)

struct leaf {
	uint32_t n;
	uint32_t pad;
	struct kvfs_irec r[LEAF_RECS];
};

struct slot {
	uint64_t first; /* r[0].off of the leaf */
	struct leaf *leaf;
};

struct kvfs_iext {
	struct slot *s;
	uint32_t nl; /* leaves */
	uint32_t cap; /* slots */
	uint64_t nrecs;
	/* the mount's list of lists, under lru->lock */
	struct kvfs_inode *ip;
	struct kvfs_iext *prev, *next;
	atomic_bool ref;
};

struct kvfs_iext_lru {
	pthread_mutex_t lock;
	struct kvfs_iext head; /* only prev and next */
	atomic_size_t nleaves; /* the shrinker's count */
	struct kv_shrinker shrinker;
};

static uint64_t rec_end(const struct kvfs_irec *r)
{
	return r->off + r->len;
}

static struct kvfs_iext_lru *lru_of(const struct kvfs_inode *ip)
{
	return ip->i_mount->iext_lru;
}

/* ---- the list ---- */

static void iext_free(struct kvfs_iext *x)
{
	for (uint32_t i = 0; i < x->nl; i++)
		kvfree(x->s[i].leaf);
	kvfree(x->s);
	kvfree(x);
}

/* Room for one more slot. */
static int slot_room(struct kvfs_iext *x)
{
	size_t cap = x->cap;
	int err;

	if (x->nl < x->cap)
		return 0;
	err = kvgrow((void **)&x->s, &cap, x->nl, sizeof(*x->s), KV_NOWARN);
	if (!err)
		x->cap = (uint32_t)cap;
	return err;
}

/* The last leaf whose first offset is <= off (0 if none is). */
static uint32_t leaf_le(const struct kvfs_iext *x, uint64_t off)
{
	uint32_t lo = 0, hi = x->nl;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (x->s[mid].first <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first record of l ending after off (l->n if none). */
static uint32_t idx_end_after(const struct leaf *l, uint64_t off)
{
	uint32_t lo = 0, hi = l->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rec_end(&l->r[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first record of l starting after off (l->n if none). */
static uint32_t idx_start_after(const struct leaf *l, uint64_t off)
{
	uint32_t lo = 0, hi = l->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (l->r[mid].off <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint64_t kvfs_iext_count(const struct kvfs_iext *x)
{
	return x->nrecs;
}

bool kvfs_iext_find(const struct kvfs_iext *x, uint64_t off,
		    struct kvfs_iext_pos *pos, struct kvfs_irec *r)
{
	uint32_t li, i;

	if (!x->nl)
		return false;
	li = leaf_le(x, off);
	i = idx_end_after(x->s[li].leaf, off);
	if (i == x->s[li].leaf->n) {
		if (++li == x->nl)
			return false;
		i = 0;
	}
	pos->leaf = li;
	pos->idx = i;
	*r = x->s[li].leaf->r[i];
	return true;
}

bool kvfs_iext_next(const struct kvfs_iext *x, struct kvfs_iext_pos *pos,
		    struct kvfs_irec *r)
{
	if (++pos->idx == x->s[pos->leaf].leaf->n) {
		if (pos->leaf + 1 == x->nl)
			return false;
		pos->leaf++;
		pos->idx = 0;
	}
	*r = x->s[pos->leaf].leaf->r[pos->idx];
	return true;
}

bool kvfs_iext_last_before(const struct kvfs_iext *x, uint64_t end,
			   struct kvfs_irec *r)
{
	const struct leaf *l;
	uint32_t li, i;

	if (!x->nl || x->s[0].first >= end)
		return false;
	li = leaf_le(x, end - 1);
	l = x->s[li].leaf;
	i = idx_start_after(l, end - 1);
	*r = l->r[i - 1]; /* i > 0: the leaf's first record starts before end */
	return true;
}

/* Split leaf li in two halves (a new slot after it). */
static int leaf_split(struct kvfs_iext *x, uint32_t li)
{
	struct leaf *l = x->s[li].leaf, *nl;
	uint32_t keep = l->n / 2;
	int err = slot_room(x);

	if (err)
		return err;
	nl = kvmalloc(sizeof(*nl), KV_NOWARN);
	if (!nl)
		return -ENOMEM;
	nl->n = l->n - keep;
	memcpy(nl->r, &l->r[keep], nl->n * sizeof(*nl->r));
	l->n = keep;
	memmove(&x->s[li + 2], &x->s[li + 1], (x->nl - li - 1) * sizeof(*x->s));
	x->s[li + 1] = (struct slot){ nl->r[0].off, nl };
	x->nl++;
	atomic_fetch_add(&lru_of(x->ip)->nleaves, 1);
	return 0;
}

int kvfs_iext_insert(struct kvfs_iext *x, const struct kvfs_irec *r)
{
	struct leaf *l;
	uint32_t li, i;
	int err;

	if (!x->nl) {
		err = slot_room(x);
		if (err)
			return err;
		l = kvmalloc(sizeof(*l), KV_NOWARN);
		if (!l)
			return -ENOMEM;
		l->n = 0;
		x->s[0] = (struct slot){ r->off, l };
		x->nl = 1;
		atomic_fetch_add(&lru_of(x->ip)->nleaves, 1);
	}
	li = leaf_le(x, r->off);
	l = x->s[li].leaf;
	i = idx_start_after(l, r->off);
	if (i && l->r[i - 1].off == r->off)
		return -EEXIST;
	if (l->n == LEAF_RECS) {
		err = leaf_split(x, li);
		if (err)
			return err;
		if (i > l->n) {
			i -= l->n;
			l = x->s[++li].leaf;
		}
	}
	memmove(&l->r[i + 1], &l->r[i], (l->n - i) * sizeof(*l->r));
	l->r[i] = *r;
	l->n++;
	x->s[li].first = l->r[0].off;
	x->nrecs++;
	return 0;
}

/* The position of the record at off: false if none. */
static bool find_eq(const struct kvfs_iext *x, uint64_t off, uint32_t *lip,
		    uint32_t *ip)
{
	const struct leaf *l;
	uint32_t li, i;

	if (!x->nl)
		return false;
	li = leaf_le(x, off);
	l = x->s[li].leaf;
	i = idx_start_after(l, off);
	if (!i || l->r[i - 1].off != off)
		return false;
	*lip = li;
	*ip = i - 1;
	return true;
}

/* Leaf li lost its last record, or may fold into its left neighbour. */
static void leaf_remove_slot(struct kvfs_iext *x, uint32_t li)
{
	kvfree(x->s[li].leaf);
	memmove(&x->s[li], &x->s[li + 1], (x->nl - li - 1) * sizeof(*x->s));
	x->nl--;
	atomic_fetch_sub(&lru_of(x->ip)->nleaves, 1);
}

/* Fold a sparse leaf li into a neighbour when both fit one leaf. */
static void leaf_fold(struct kvfs_iext *x, uint32_t li)
{
	struct leaf *a, *b;

	if (x->s[li].leaf->n >= LEAF_RECS / 4)
		return;
	if (li + 1 < x->nl &&
	    x->s[li].leaf->n + x->s[li + 1].leaf->n <= LEAF_RECS)
		;
	else if (li > 0 && x->s[li - 1].leaf->n + x->s[li].leaf->n <= LEAF_RECS)
		li--;
	else
		return;
	a = x->s[li].leaf;
	b = x->s[li + 1].leaf;
	memcpy(&a->r[a->n], b->r, b->n * sizeof(*b->r));
	a->n += b->n;
	leaf_remove_slot(x, li + 1);
}

int kvfs_iext_delete(struct kvfs_iext *x, uint64_t off)
{
	struct leaf *l;
	uint32_t li, i;

	if (!find_eq(x, off, &li, &i))
		return -ENOENT;
	l = x->s[li].leaf;
	memmove(&l->r[i], &l->r[i + 1], (l->n - i - 1) * sizeof(*l->r));
	l->n--;
	x->nrecs--;
	if (!l->n) {
		leaf_remove_slot(x, li);
		return 0;
	}
	x->s[li].first = l->r[0].off;
	leaf_fold(x, li);
	return 0;
}

int kvfs_iext_update(struct kvfs_iext *x, const struct kvfs_irec *r)
{
	uint32_t li, i;

	if (!find_eq(x, r->off, &li, &i))
		return -ENOENT;
	x->s[li].leaf->r[i] = *r;
	return 0;
}

/* ---- load, drop and the mount's list of lists ---- */

static void lru_add(struct kvfs_iext_lru *lru, struct kvfs_iext *x)
{
	pthread_mutex_lock(&lru->lock);
	x->next = lru->head.next;
	x->prev = &lru->head;
	x->next->prev = x;
	lru->head.next = x;
	pthread_mutex_unlock(&lru->lock);
}

static void lru_del_locked(struct kvfs_iext_lru *lru, struct kvfs_iext *x)
{
	x->prev->next = x->next;
	x->next->prev = x->prev;
	atomic_fetch_sub(&lru->nleaves, x->nl);
}

/* Every extent of ip's tree, in order, into x. */
static int load(struct kvfs_inode *ip, struct kvfs_iext *x)
{
	struct kvfs_bmbt_key k = { kv_cpu_to_le64(0) };
	struct kvfs_btree_cur *cur = kvmalloc(sizeof(*cur), KV_NOWARN);
	struct kvfs_bmbt_ctx ctx;
	struct leaf *l = NULL;
	int stat, err;

	if (!cur)
		return -ENOMEM;
	kvfs_bmbt_cur_init(cur, &ctx, ip, KVFS_DATA_FORK, NULL);
	err = kvfs_btree_lookup(cur, KVFS_LOOKUP_GE, &k, &stat);
	while (!err && stat) {
		struct kvfs_extent e;

		err = kvfs_btree_get_rec(cur, &e, &stat);
		if (err || !stat)
			break;
		if (!l || l->n == LOAD_FILL) {
			err = slot_room(x);
			l = err ? NULL : kvmalloc(sizeof(*l), KV_NOWARN);
			if (!l) {
				err = -ENOMEM;
				break;
			}
			l->n = 0;
			x->s[x->nl++] =
				(struct slot){ kv_le64_to_cpu(e.startoff), l };
		}
		l->r[l->n++] = (struct kvfs_irec){ kv_le64_to_cpu(e.startoff),
						   kv_le64_to_cpu(e.startblock),
						   kv_le32_to_cpu(e.blockcount),
						   kv_le32_to_cpu(e.flags) };
		x->nrecs++;
		err = kvfs_btree_increment(cur, &stat);
	}
	kvfs_btree_cur_del(cur);
	kvfree(cur);
	if (!err && x->nrecs != ip->i_nextents)
		err = -EUCLEAN;
	return err;
}

static bool wants_list(const struct kvfs_inode *ip)
{
	return ip->i_dformat == KVFS_DFORK_BTREE && S_ISREG(ip->i_mode) &&
	       lru_of(ip);
}

struct kvfs_iext *kvfs_iext_peek(struct kvfs_inode *ip)
{
	struct kvfs_iext *x =
		atomic_load_explicit(&ip->i_iext, memory_order_acquire);

	if (x && !atomic_load_explicit(&x->ref, memory_order_relaxed))
		atomic_store_explicit(&x->ref, true, memory_order_relaxed);
	return x;
}

int kvfs_iext_get(struct kvfs_inode *ip, struct kvfs_iext **xp)
{
	struct kvfs_iext *x = kvfs_iext_peek(ip), *none = NULL;
	int err;

	if (x) {
		*xp = x;
		return 0;
	}
	if (!wants_list(ip))
		return -ENOMEM;
	x = kvzalloc(sizeof(*x), KV_NOWARN);
	if (!x)
		return -ENOMEM;
	x->ip = ip;
	err = load(ip, x);
	if (err) {
		iext_free(x);
		return err;
	}
	/* under the shared lock: another reader may have loaded the same */
	if (!atomic_compare_exchange_strong(&ip->i_iext, &none, x)) {
		iext_free(x);
		*xp = none;
		return 0;
	}
	atomic_fetch_add(&lru_of(ip)->nleaves, x->nl);
	lru_add(lru_of(ip), x);
	*xp = x;
	return 0;
}

void kvfs_iext_drop(struct kvfs_inode *ip)
{
	struct kvfs_iext *x = atomic_exchange(&ip->i_iext, NULL);
	struct kvfs_iext_lru *lru;

	if (!x)
		return;
	lru = lru_of(ip);
	pthread_mutex_lock(&lru->lock);
	lru_del_locked(lru, x);
	pthread_mutex_unlock(&lru->lock);
	iext_free(x);
}

void kvfs_iext_inode_free(struct kvfs_inode *ip)
{
	struct kvfs_iext_lru *lru = lru_of(ip);
	struct kvfs_iext *x;

	if (!lru)
		return;
	/*
	 * Under lru->lock even without a list: a shrinker pass that took
	 * ip's list holds ip's lock until it drops it, and ip must outlive
	 * that (reclaim frees inodes without their locks).  An uncontended
	 * mutex per inode freed; a pass holds it only while it drops lists.
	 */
	pthread_mutex_lock(&lru->lock);
	x = atomic_exchange(&ip->i_iext, NULL);
	if (x)
		lru_del_locked(lru, x);
	pthread_mutex_unlock(&lru->lock);
	if (x)
		iext_free(x);
}

static size_t shrink_count(void *priv)
{
	struct kvfs_iext_lru *lru = priv;

	return atomic_load(&lru->nleaves);
}

/*
 * Drop lists not looked up since the last pass until nr leaves are freed,
 * from the oldest; a list in use (its inode lock held) is skipped, its lock
 * never waited for.  The inode cannot be freed while lru->lock is held
 * (its free takes lru->lock first: kvfs_iext_inode_free()); whoever takes
 * a list out of ip->i_iext frees it.
 */
static size_t shrink_scan(void *priv, size_t nr)
{
	struct kvfs_iext_lru *lru = priv;
	struct kvfs_iext *x, *prev;
	size_t freed = 0;

	pthread_mutex_lock(&lru->lock);
	for (x = lru->head.prev; x != &lru->head && freed < nr; x = prev) {
		struct kvfs_inode *ip = x->ip;
		bool mine;

		prev = x->prev;
		if (atomic_exchange(&x->ref, false) ||
		    !kvfs_ilock_nowait(ip, KVFS_ILOCK_EXCL))
			continue;
		/* the inode's free may have taken it first: then it frees it */
		mine = atomic_exchange(&ip->i_iext, NULL) == x;
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
		if (!mine)
			continue;
		freed += x->nl;
		lru_del_locked(lru, x);
		iext_free(x);
	}
	pthread_mutex_unlock(&lru->lock);
	return freed;
}

size_t kvfs_iext_shrink(struct kvfs_mount *mp, size_t nr)
{
	return shrink_scan(mp->iext_lru, nr);
}

int kvfs_iext_lru_create(struct kvfs_mount *mp)
{
	struct kvfs_iext_lru *lru = kvzalloc(sizeof(*lru), 0);
	int err;

	if (!lru)
		return -ENOMEM;
	pthread_mutex_init(&lru->lock, NULL);
	lru->head.next = lru->head.prev = &lru->head;
	lru->shrinker.name = "kvfs_iext";
	/* only trylocks and frees: safe in any context, NOFS included */
	lru->shrinker.flags = 0;
	lru->shrinker.count = shrink_count;
	lru->shrinker.scan = shrink_scan;
	lru->shrinker.priv = lru;
	err = kv_register_shrinker(&lru->shrinker);
	if (err) {
		pthread_mutex_destroy(&lru->lock);
		kvfree(lru);
		return err;
	}
	mp->iext_lru = lru;
	return 0;
}

void kvfs_iext_lru_destroy(struct kvfs_mount *mp)
{
	struct kvfs_iext_lru *lru = mp->iext_lru;

	if (!lru)
		return;
	kv_unregister_shrinker(&lru->shrinker);
	pthread_mutex_destroy(&lru->lock);
	kvfree(lru);
	mp->iext_lru = NULL;
}
