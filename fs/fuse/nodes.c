// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel's inode references (fs/fuse/nodes.h).
 *
 * Locks: one mutex per stripe, protecting that stripe's hash chains and
 * every field of its nodes; never two at once.  kvfs_inode_open() runs
 * under it (so that the first reference and the core's open reference are
 * taken together); kvfs_inode_close() runs after the node left the table,
 * outside it (the core counts references, so a new first reference racing
 * with it opens again and stays balanced).
 */
#include "fs/fuse/nodes.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "alloc/lockrank.h"
#include "fs/kvfs.h"

#define NODE_STRIPES 64

struct node {
	struct node *next;
	uint64_t ino;
	uint64_t nlookup;
	enum kvfs_fuse_caps caps;
	int werr; /* a writeback write's error, not reported yet */
	uint32_t writers; /* the kernel's open files that may write */
};

struct stripe {
	pthread_mutex_t lock;
	struct node **slots;
	size_t nslots; /* a power of two, or 0 */
	size_t count;
} __attribute__((aligned(64)));

struct kvfs_fuse_nodes {
	struct kvfs_mount *mp;
	struct stripe st[NODE_STRIPES];
};

static uint64_t hash(uint64_t ino)
{
	return ino * 0x9e3779b97f4a7c15ull;
}

static struct stripe *stripe_of(struct kvfs_fuse_nodes *nt, uint64_t ino)
{
	return &nt->st[(hash(ino) >> 58) % NODE_STRIPES];
}

static struct node **slot_of(struct stripe *s, uint64_t ino)
{
	return &s->slots[hash(ino) & (s->nslots - 1)];
}

static struct node *find(struct stripe *s, uint64_t ino)
{
	struct node *n;

	if (!s->nslots)
		return NULL;
	for (n = *slot_of(s, ino); n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

/* Keep the chains short: double the slots when the count passes them. */
static int grow(struct stripe *s)
{
	size_t old = s->nslots, nslots = old ? old * 2 : 16;
	struct node **slots = calloc(nslots, sizeof(*slots));
	struct node **oslots = s->slots;

	if (!slots)
		return -ENOMEM;
	s->slots = slots;
	s->nslots = nslots;
	for (size_t i = 0; i < old; i++) {
		struct node *n = oslots[i], *next;

		for (; n; n = next) {
			struct node **sl = slot_of(s, n->ino);

			next = n->next;
			n->next = *sl;
			*sl = n;
		}
	}
	free(oslots);
	return 0;
}

int kvfs_fuse_nodes_new(struct kvfs_mount *mp, struct kvfs_fuse_nodes **np)
{
	struct kvfs_fuse_nodes *nt = calloc(1, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	nt->mp = mp;
	for (int i = 0; i < NODE_STRIPES; i++)
		pthread_mutex_init(&nt->st[i].lock, NULL);
	*np = nt;
	return 0;
}

void kvfs_fuse_nodes_free(struct kvfs_fuse_nodes *nt)
{
	for (int i = 0; i < NODE_STRIPES; i++) {
		struct stripe *s = &nt->st[i];

		for (size_t j = 0; j < s->nslots; j++) {
			struct node *n = s->slots[j], *next;

			for (; n; n = next) {
				next = n->next;
				kvfs_inode_close(nt->mp, n->ino);
				free(n);
			}
		}
		free(s->slots);
		pthread_mutex_destroy(&s->lock);
	}
	free(nt);
}

int kvfs_fuse_node_get(struct kvfs_fuse_nodes *nt, uint64_t ino, uint32_t gen)
{
	struct stripe *s = stripe_of(nt, ino);
	struct node *n;
	int ret = 0;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n) {
		n->nlookup++;
		goto out;
	}
	if (s->count >= s->nslots) {
		ret = grow(s);
		if (ret)
			goto out;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		ret = -ENOMEM;
		goto out;
	}
	ret = kvfs_inode_open(nt->mp, ino, gen);
	if (ret) {
		free(n);
		goto out;
	}
	n->ino = ino;
	n->nlookup = 1;
	n->next = *slot_of(s, ino);
	*slot_of(s, ino) = n;
	s->count++;
out:
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	return ret;
}

void kvfs_fuse_node_forget(struct kvfs_fuse_nodes *nt, uint64_t ino,
			   uint64_t count)
{
	struct stripe *s = stripe_of(nt, ino);
	struct node **pp, *n = NULL;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	for (pp = s->nslots ? slot_of(s, ino) : NULL; pp && *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->ino != ino)
			continue;
		n = *pp;
		/* the kernel never forgets more than it took */
		if (n->nlookup > count) {
			n->nlookup -= count;
			n = NULL;
		} else {
			*pp = n->next;
			s->count--;
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	if (n) {
		kvfs_inode_close(nt->mp, ino);
		free(n);
	}
}

enum kvfs_fuse_caps kvfs_fuse_node_caps(struct kvfs_fuse_nodes *nt,
					uint64_t ino)
{
	struct stripe *s = stripe_of(nt, ino);
	enum kvfs_fuse_caps caps = KVFS_CAPS_UNKNOWN;
	struct node *n;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n)
		caps = n->caps;
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	return caps;
}

void kvfs_fuse_node_set_caps(struct kvfs_fuse_nodes *nt, uint64_t ino,
			     enum kvfs_fuse_caps caps, bool learned)
{
	struct stripe *s = stripe_of(nt, ino);
	struct node *n;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n && (!learned || n->caps == KVFS_CAPS_UNKNOWN))
		n->caps = caps;
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
}

void kvfs_fuse_node_set_werr(struct kvfs_fuse_nodes *nt, uint64_t ino, int err)
{
	struct stripe *s = stripe_of(nt, ino);
	struct node *n;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n)
		n->werr = err;
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
}

int kvfs_fuse_node_werr(struct kvfs_fuse_nodes *nt, uint64_t ino, bool take)
{
	struct stripe *s = stripe_of(nt, ino);
	struct node *n;
	int err = 0;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n) {
		err = n->werr;
		if (take)
			n->werr = 0;
	}
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	return err;
}

int kvfs_fuse_nodes_writing(struct kvfs_fuse_nodes *nt, uint64_t **inos,
			    size_t *count)
{
	uint64_t *v = NULL, *nv;
	size_t have = 0, cap = 0;
	int err = 0;

	for (int i = 0; i < NODE_STRIPES && !err; i++) {
		struct stripe *s = &nt->st[i];

		kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
		pthread_mutex_lock(&s->lock);
		for (size_t j = 0; j < s->nslots && !err; j++) {
			for (struct node *n = s->slots[j]; n; n = n->next) {
				if (!n->writers)
					continue;
				if (have == cap) {
					cap = cap ? cap * 2 : 64;
					nv = realloc(v, cap * sizeof(*v));
					if (!nv) {
						err = -ENOMEM;
						break;
					}
					v = nv;
				}
				v[have++] = n->ino;
			}
		}
		pthread_mutex_unlock(&s->lock);
		kv_lockdep_unlock(&s->lock);
	}
	if (err) {
		free(v);
		return err;
	}
	*inos = v;
	*count = have;
	return 0;
}

uint32_t kvfs_fuse_node_writers(struct kvfs_fuse_nodes *nt, uint64_t ino,
				int delta)
{
	struct stripe *s = stripe_of(nt, ino);
	uint32_t w = 0;
	struct node *n;

	kv_lockdep_lock(&s->lock, KV_RANK_FUSE_NODE, 0);
	pthread_mutex_lock(&s->lock);
	n = find(s, ino);
	if (n) {
		if (delta > 0 || n->writers)
			n->writers += delta;
		w = n->writers;
	}
	pthread_mutex_unlock(&s->lock);
	kv_lockdep_unlock(&s->lock);
	return w;
}

uint64_t kvfs_fuse_nodes_count(struct kvfs_fuse_nodes *nt)
{
	uint64_t total = 0;

	for (int i = 0; i < NODE_STRIPES; i++) {
		kv_lockdep_lock(&nt->st[i].lock, KV_RANK_FUSE_NODE, 0);
		pthread_mutex_lock(&nt->st[i].lock);
		total += nt->st[i].count;
		pthread_mutex_unlock(&nt->st[i].lock);
		kv_lockdep_unlock(&nt->st[i].lock);
	}
	return total;
}
