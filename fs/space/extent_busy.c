// SPDX-License-Identifier: GPL-2.0
/*
 * Busy extents (fs/space/extent_busy.h).  Every function is called with the
 * AG's lock held (kvfs_perag_destroy(): with nothing else running).
 *
 * The tree is a treap keyed by (bno, address): duplicates and overlaps
 * are allowed, the address orders equal starts.  A node's priority is a
 * hash of its address, so the shape is random whatever the order of the
 * frees (expected depth O(log n); recursion follows it).
 */
#include <stdint.h>

#include "alloc/kvalloc.h"
#include "fs/space/extent_busy.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

static uint64_t ext_end(const struct kvfs_busy_ext *b)
{
	return (uint64_t)b->bno + b->len;
}

static uint64_t maxend(const struct kvfs_busy_ext *b)
{
	return b ? b->maxend : 0;
}

static void fix(struct kvfs_busy_ext *b)
{
	uint64_t m = ext_end(b);

	if (maxend(b->left) > m)
		m = maxend(b->left);
	if (maxend(b->right) > m)
		m = maxend(b->right);
	b->maxend = m;
}

static bool key_less(const struct kvfs_busy_ext *a,
		     const struct kvfs_busy_ext *b)
{
	return a->bno < b->bno ||
	       (a->bno == b->bno && (uintptr_t)a < (uintptr_t)b);
}

static struct kvfs_busy_ext *rotate_right(struct kvfs_busy_ext *p)
{
	struct kvfs_busy_ext *l = p->left;

	p->left = l->right;
	l->right = p;
	fix(p);
	fix(l);
	return l;
}

static struct kvfs_busy_ext *rotate_left(struct kvfs_busy_ext *p)
{
	struct kvfs_busy_ext *r = p->right;

	p->right = r->left;
	r->left = p;
	fix(p);
	fix(r);
	return r;
}

static struct kvfs_busy_ext *tree_insert(struct kvfs_busy_ext *t,
					 struct kvfs_busy_ext *n)
{
	if (!t)
		return n;
	if (key_less(n, t)) {
		t->left = tree_insert(t->left, n);
		if (t->left->prio > t->prio)
			return rotate_right(t);
	} else {
		t->right = tree_insert(t->right, n);
		if (t->right->prio > t->prio)
			return rotate_left(t);
	}
	fix(t);
	return t;
}

/* Every key of a below every key of b. */
static struct kvfs_busy_ext *tree_join(struct kvfs_busy_ext *a,
				       struct kvfs_busy_ext *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (a->prio > b->prio) {
		a->right = tree_join(a->right, b);
		fix(a);
		return a;
	}
	b->left = tree_join(a, b->left);
	fix(b);
	return b;
}

/* n, which is in t, taken out. */
static struct kvfs_busy_ext *tree_remove(struct kvfs_busy_ext *t,
					 struct kvfs_busy_ext *n)
{
	if (t == n)
		return tree_join(n->left, n->right);
	if (key_less(n, t))
		t->left = tree_remove(t->left, n);
	else
		t->right = tree_remove(t->right, n);
	fix(t);
	return t;
}

/*
 * fn for each entry that ends after s and starts before end, by start,
 * until fn returns false; false if it did.
 */
typedef bool (*busy_fn)(const struct kvfs_busy_ext *b, void *arg);

static bool tree_walk(const struct kvfs_busy_ext *t, uint64_t s, uint64_t end,
		      busy_fn fn, void *arg)
{
	if (!t || t->maxend <= s)
		return true;
	if (!tree_walk(t->left, s, end, fn, arg))
		return false;
	/* t and all after it start at end or later */
	if (t->bno >= end)
		return false;
	if (ext_end(t) > s && !fn(t, arg))
		return false;
	return tree_walk(t->right, s, end, fn, arg);
}

static void tree_free(struct kvfs_busy_ext *t)
{
	if (!t)
		return;
	tree_free(t->left);
	tree_free(t->right);
	kvfree(t);
}

void kvfs_extent_busy_insert(struct kvfs_trans *tp, struct kvfs_perag *pag,
			     uint32_t bno, uint32_t len)
{
	/* a free that cannot be recorded cannot be made safe: never fail */
	struct kvfs_busy_ext *b = kvmalloc(sizeof(*b), KV_NOFAIL | KV_ZERO);
	uint64_t h = (uintptr_t)b * 0x9e3779b97f4a7c15ull;

	b->agno = pag->agno;
	b->bno = bno;
	b->len = len;
	b->prio = (uint32_t)(h >> 32);
	b->maxend = ext_end(b);
	pag->busy.root = tree_insert(pag->busy.root, b);
	pag->busy.count++;
	b->tp_next = tp->busy;
	tp->busy = b;
}

static void busy_free(struct kvfs_perag *pag, struct kvfs_busy_ext *b)
{
	pag->busy.root = tree_remove(pag->busy.root, b);
	pag->busy.count--;
	kvfree(b);
}

void kvfs_extent_busy_trans_done(struct kvfs_trans *tp, uint64_t seq)
{
	struct kvfs_busy_ext *b, *next;

	for (b = tp->busy; b; b = next) {
		struct kvfs_perag *pag = &tp->mp->pag[b->agno];
		struct kvfs_busy_tree *bt = &pag->busy;

		next = b->tp_next;
		b->tp_next = NULL;
		if (!seq) {
			busy_free(pag, b);
			continue;
		}
		/*
		 * The AG's commits come in sequence order (each held its
		 * lock to commit): the list stays sorted by sequence
		 */
		b->seq = seq;
		if (bt->tail)
			bt->tail->newer = b;
		else
			bt->head = b;
		bt->tail = b;
	}
	tp->busy = NULL;
}

void kvfs_extent_busy_prune(struct kvfs_perag *pag, uint64_t durable)
{
	struct kvfs_busy_ext *b;

	while ((b = pag->busy.head) && b->seq <= durable) {
		pag->busy.head = b->newer;
		if (!b->newer)
			pag->busy.tail = NULL;
		busy_free(pag, b);
	}
}

static bool stop_at_first(const struct kvfs_busy_ext *b, void *arg)
{
	*(const struct kvfs_busy_ext **)arg = b;
	return false;
}

bool kvfs_extent_busy_overlaps(const struct kvfs_perag *pag, uint32_t bno,
			       uint32_t len)
{
	return kvfs_extent_busy_free_prefix(pag, bno, len) < len;
}

static bool find_uncommitted(const struct kvfs_busy_ext *b, void *arg)
{
	if (b->seq)
		return true;
	*(bool *)arg = true;
	return false;
}

bool kvfs_extent_busy_uncommitted(const struct kvfs_perag *pag, uint32_t bno)
{
	bool found = false;

	tree_walk(pag->busy.root, bno, (uint64_t)bno + 1, find_uncommitted,
		  &found);
	return found;
}

bool kvfs_extent_busy_committed(const struct kvfs_perag *pag)
{
	return pag->busy.head != NULL;
}

struct trim_state {
	bool metadata;
	uint64_t s; /* the end of the busy ranges swept so far */
	uint32_t *tbno, *tlen;
};

/* Sorted by start: sweep the gaps between the busy ranges. */
static bool trim_sweep(const struct kvfs_busy_ext *b, void *arg)
{
	struct trim_state *t = arg;

	if (ext_end(b) <= t->s || (t->metadata && b->seq))
		return true;
	if (b->bno > t->s && b->bno - t->s > *t->tlen) {
		*t->tbno = (uint32_t)t->s;
		*t->tlen = (uint32_t)(b->bno - t->s);
	}
	t->s = ext_end(b);
	return true;
}

bool kvfs_extent_busy_trim(const struct kvfs_perag *pag, uint32_t bno,
			   uint32_t len, bool metadata, uint32_t *tbno,
			   uint32_t *tlen)
{
	uint64_t end = (uint64_t)bno + len;
	struct trim_state t = {
		.metadata = metadata, .s = bno, .tbno = tbno, .tlen = tlen
	};

	*tlen = 0;
	tree_walk(pag->busy.root, bno, end, trim_sweep, &t);
	if (t.s < end && end - t.s > *tlen) {
		*tbno = (uint32_t)t.s;
		*tlen = (uint32_t)(end - t.s);
	}
	return *tlen > 0;
}

uint32_t kvfs_extent_busy_free_prefix(const struct kvfs_perag *pag,
				      uint32_t bno, uint32_t len)
{
	const struct kvfs_busy_ext *b = NULL;

	tree_walk(pag->busy.root, bno, (uint64_t)bno + len, stop_at_first, &b);
	if (!b)
		return len;
	return b->bno <= bno ? 0 : b->bno - bno;
}

size_t kvfs_extent_busy_count(const struct kvfs_perag *pag)
{
	return pag->busy.count;
}

void kvfs_extent_busy_destroy(struct kvfs_perag *pag)
{
	tree_free(pag->busy.root);
	pag->busy = (struct kvfs_busy_tree){ 0 };
}
