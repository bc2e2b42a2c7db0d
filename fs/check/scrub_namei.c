// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's namespace walk (fs/check/scrub_namei.h has the contract): a
 * sorted array of inode records, directories read breadth first from the
 * root, then the ones the root does not reach, then the parent chains of
 * those followed for cycles.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf.h"
#include "fs/io/buf_ops.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/check/scrub_namei.h"

#define NS_LISTED 0x01 /* on an unlinked list */
#define NS_READ 0x02 /* directory walked */
#define NS_REACHED 0x04 /* reached from the root */
#define NS_SEEN 0x08 /* cycle search: chain followed */
#define NS_ONPATH 0x10 /* cycle search: on the chain being followed */

/*
 * One per inode, 24 bytes (a million-entry directory makes a million of
 * them, each page of them faulted in anew): what only directories need is
 * in a record of their own, ns->dirs[dir].
 */
struct ns_ino {
	uint64_t ino;
	uint32_t nlink; /* as stored */
	uint32_t links; /* entries naming it */
	uint32_t dir; /* directories: index into ns->dirs */
	uint16_t mode;
	uint8_t flags;
};

_Static_assert(sizeof(struct ns_ino) == 24, "ns_ino grew");

struct ns_dir {
	uint64_t dotdot; /* ".." as stored */
	uint64_t parent; /* the entry that wins; NULLINO */
	uint32_t subdirs; /* those whose parent it is */
};

struct kvfs_ns {
	struct ns_ino *v;
	size_t n, cap;
	struct ns_dir *dirs;
	size_t ndirs, dcap;
	size_t last; /* the record get() found last */
	/* the walk */
	struct kv_bcache *bc;
	const struct kvfs_geom *g;
	kvfs_ns_fn fn;
	void *priv;
	struct ns_ino *dir; /* the directory being read */
	uint32_t *queue; /* breadth first: indexes into v */
	size_t qtail;
	uint8_t *dip; /* one inode, copied */
};

int kvfs_ns_create(struct kvfs_ns **nsp)
{
	*nsp = kvzalloc(sizeof(**nsp), 0);
	return *nsp ? 0 : -ENOMEM;
}

void kvfs_ns_destroy(struct kvfs_ns *ns)
{
	if (!ns)
		return;
	kvfree(ns->v);
	kvfree(ns->dirs);
	kvfree(ns->queue);
	kvfree(ns->dip);
	kvfree(ns);
}

void kvfs_ns_reserve(struct kvfs_ns *ns, size_t n)
{
	struct ns_ino *p;

	if (n <= ns->cap || n > SIZE_MAX / sizeof(*p))
		return;
	p = kvrealloc(ns->v, n * sizeof(*p), 0);
	if (!p)
		return;
	/* the room is filled: mapped in one call, not a fault a page */
	kv_prefault(p, n * sizeof(*p));
	ns->v = p;
	ns->cap = n;
}

int kvfs_ns_add(struct kvfs_ns *ns, uint64_t ino, const struct kvfs_dinode *d,
		bool listed)
{
	uint16_t mode = kv_le16_to_cpu(d->mode);
	uint32_t dir = 0;

	if (S_ISDIR(mode)) {
		if (ns->ndirs > UINT32_MAX ||
		    kvgrow((void **)&ns->dirs, &ns->dcap, ns->ndirs,
			   sizeof(*ns->dirs), 0))
			return -ENOMEM;
		dir = (uint32_t)ns->ndirs++;
		ns->dirs[dir] = (struct ns_dir){ .dotdot = KVFS_NULLINO,
						 .parent = KVFS_NULLINO };
	}
	if (ns->n == ns->cap) {
		size_t ncap = ns->cap ? ns->cap * 2 : 1024;
		struct ns_ino *p = kvrealloc(ns->v, ncap * sizeof(*p), 0);

		if (!p)
			return -ENOMEM;
		ns->v = p;
		ns->cap = ncap;
	}
	ns->v[ns->n++] = (struct ns_ino){
		.ino = ino,
		.nlink = kv_le32_to_cpu(d->nlink),
		.dir = dir,
		.mode = mode,
		.flags = listed ? NS_LISTED : 0,
	};
	return 0;
}

static int ino_cmp(const void *a, const void *b)
{
	const struct ns_ino *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * The record after the last one found is tried first: a directory's
 * entries, made one after another, mostly name inodes allocated one after
 * another (a bsearch for every entry was 4% of fsck -n -f's CPU).
 */
static struct ns_ino *get(struct kvfs_ns *ns, uint64_t ino)
{
	struct ns_ino key = { .ino = ino }, *r;
	size_t i = ns->last + 1;

	if (i < ns->n && ns->v[i].ino == ino) {
		ns->last = i;
		return &ns->v[i];
	}
	r = ns->n ? bsearch(&key, ns->v, ns->n, sizeof(*ns->v), ino_cmp) : NULL;
	if (r)
		ns->last = (size_t)(r - ns->v);
	return r;
}

/* Directory r's own record. */
static struct ns_dir *dir_of(const struct kvfs_ns *ns, const struct ns_ino *r)
{
	return &ns->dirs[r->dir];
}

static void problem(struct kvfs_ns *ns, enum kvfs_ns_prob kind, uint64_t dir,
		    const struct ns_ino *r, uint64_t ino, const char *name,
		    size_t namelen, uint64_t have, uint64_t want)
{
	struct kvfs_ns_problem p = { .kind = kind,
				     .dir = dir,
				     .ino = r ? r->ino : ino,
				     .name = name,
				     .namelen = namelen,
				     .have = have,
				     .want = want,
				     .mode = r ? r->mode : 0 };

	ns->fn(ns->priv, &p);
}

static void enqueue(struct kvfs_ns *ns, struct ns_ino *r)
{
	r->flags |= NS_REACHED;
	if (S_ISDIR(r->mode))
		ns->queue[ns->qtail++] = (uint32_t)(r - ns->v);
}

/* One entry of ns->dir. */
static int entry(void *priv, const char *name, size_t namelen, uint64_t ino,
		 uint8_t ftype, bool damaged)
{
	struct kvfs_ns *ns = priv;
	struct ns_ino *d = ns->dir, *t = get(ns, ino);
	bool reached = d->flags & NS_REACHED;
	struct ns_dir *td;

	(void)damaged; /* the checker reports the block itself */
	if (!t) {
		problem(ns, KVFS_NS_ENT_FREE, d->ino, NULL, ino, name, namelen,
			ftype, 0);
		return 0;
	}
	if (t->ino == ns->g->rootino) {
		problem(ns, KVFS_NS_ENT_ROOT, d->ino, t, 0, name, namelen, 0,
			0);
		return 0;
	}
	if (ftype != kvfs_mode_to_ftype(t->mode))
		problem(ns, KVFS_NS_ENT_TYPE, d->ino, t, 0, name, namelen,
			ftype, kvfs_mode_to_ftype(t->mode));
	t->links++;
	if (!S_ISDIR(t->mode)) {
		if (reached && !(t->flags & NS_REACHED))
			t->flags |= NS_REACHED;
		return 0;
	}
	td = dir_of(ns, t);
	if (td->parent == KVFS_NULLINO) {
		td->parent = d->ino;
		if (reached)
			enqueue(ns, t);
		return 0;
	}
	/* named twice: which entry wins (fs/check/scrub_namei.h) */
	if (d->ino == td->dotdot && td->parent != td->dotdot &&
	    (reached || !(t->flags & NS_REACHED))) {
		problem(ns, KVFS_NS_ENT_EXTRA, td->parent, t, 0, NULL, 0, 0, 0);
		td->parent = d->ino;
		if (reached && !(t->flags & NS_REACHED))
			enqueue(ns, t);
		return 0;
	}
	problem(ns, KVFS_NS_ENT_EXTRA, d->ino, t, 0, name, namelen, 0, 0);
	return 0;
}

/* Read directory r's entries (its ".." set); unreadable: none. */
static int read_dir(struct kvfs_ns *ns, struct ns_ino *r)
{
	const struct kvfs_geom *g = ns->g;
	uint64_t parent = KVFS_NULLINO;
	struct kv_buf *bp;
	int err;

	r->flags |= NS_READ;
	err = kv_buf_read(ns->bc, kvfs_ino_to_fsb(g, r->ino), 1,
			  &kvfs_inode_buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG)
		return 0; /* the checker reports the cluster */
	if (err)
		return err;
	kv_buf_lock(bp);
	memcpy(ns->dip, (uint8_t *)bp->b_addr + kvfs_ino_to_offset(g, r->ino),
	       g->inodesize);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	if (kvfs_dinode_verify(ns->dip, g, r->ino))
		return 0;
	ns->dir = r;
	err = kvfs_dir_walk_disk(ns->bc, g, r->ino, ns->dip, &parent, entry,
				 ns);
	/* a damaged directory is the checker's finding: keep what was read */
	if (err == -EUCLEAN)
		err = 0;
	dir_of(ns, r)->dotdot = parent;
	return err;
}

/* Breadth first from the root, then every directory not reached. */
static int read_all(struct kvfs_ns *ns)
{
	struct ns_ino *root = get(ns, ns->g->rootino);
	int err = 0;

	if (root && S_ISDIR(root->mode)) {
		dir_of(ns, root)->parent = root->ino;
		enqueue(ns, root);
		for (size_t q = 0; q < ns->qtail && !err; q++) {
			struct ns_ino *r = &ns->v[ns->queue[q]];

			/*
			 * The ".." preference needs it before the entries
			 * of the other parents are met: read it first.
			 */
			err = read_dir(ns, r);
		}
	}
	for (size_t i = 0; i < ns->n && !err; i++)
		if (S_ISDIR(ns->v[i].mode) && !(ns->v[i].flags & NS_READ))
			err = read_dir(ns, &ns->v[i]);
	return err;
}

/* Directory c's winning parent's record, or NULL. */
static struct ns_ino *parent_of(struct kvfs_ns *ns, const struct ns_ino *c)
{
	uint64_t p = dir_of(ns, c)->parent;

	return p == KVFS_NULLINO ? NULL : get(ns, p);
}

/* Unreached directories: chains of parents that loop are cycles. */
static void find_cycles(struct kvfs_ns *ns)
{
	for (size_t i = 0; i < ns->n; i++) {
		struct ns_ino *r = &ns->v[i], *c;

		if (!S_ISDIR(r->mode) || (r->flags & (NS_REACHED | NS_SEEN)))
			continue;
		for (c = r; c && S_ISDIR(c->mode) &&
			    !(c->flags & (NS_REACHED | NS_SEEN));
		     c = parent_of(ns, c))
			c->flags |= NS_SEEN | NS_ONPATH;
		if (c && (c->flags & NS_ONPATH))
			problem(ns, KVFS_NS_CYCLE, dir_of(ns, c)->parent, c, 0,
				NULL, 0, 0, 0);
		for (c = r; c && (c->flags & NS_ONPATH); c = parent_of(ns, c))
			c->flags &= (uint8_t)~NS_ONPATH;
	}
}

static void check_counts(struct kvfs_ns *ns)
{
	uint64_t rootino = ns->g->rootino;

	for (size_t i = 0; i < ns->n; i++) {
		struct ns_ino *r = &ns->v[i], *p;

		/* a parent is a directory: only those are read */
		if (S_ISDIR(r->mode) && r->ino != rootino) {
			p = parent_of(ns, r);
			if (p && S_ISDIR(p->mode))
				dir_of(ns, p)->subdirs++;
		}
	}
	for (size_t i = 0; i < ns->n; i++) {
		struct ns_ino *r = &ns->v[i];
		const struct ns_dir *rd;
		uint64_t want;

		if (S_ISDIR(r->mode)) {
			rd = dir_of(ns, r);
			if (rd->parent == KVFS_NULLINO)
				continue; /* a top, or on a list */
			if (rd->dotdot != rd->parent &&
			    rd->dotdot != KVFS_NULLINO)
				problem(ns, KVFS_NS_DOTDOT, KVFS_NULLINO, r, 0,
					NULL, 0, rd->dotdot, rd->parent);
			want = 2ull + rd->subdirs;
		} else {
			if (!r->links)
				continue; /* a top, or on a list */
			want = r->links;
		}
		if (r->nlink != want)
			problem(ns, KVFS_NS_NLINK, KVFS_NULLINO, r, 0, NULL, 0,
				r->nlink, want);
	}
}

int kvfs_ns_check(struct kvfs_ns *ns, struct kv_bcache *bc,
		  const struct kvfs_geom *g, kvfs_ns_fn fn, void *priv)
{
	int err;

	ns->bc = bc;
	ns->g = g;
	ns->fn = fn;
	ns->priv = priv;
	for (size_t i = 1; i < ns->n; i++)
		if (ns->v[i].ino <= ns->v[i - 1].ino) {
			qsort(ns->v, ns->n, sizeof(*ns->v), ino_cmp);
			break;
		}
	ns->queue = kvmalloc((ns->n ? ns->n : 1) * sizeof(*ns->queue), 0);
	ns->dip = kvmalloc(g->inodesize, 0);
	if (!ns->queue || !ns->dip)
		return -ENOMEM;
	err = read_all(ns);
	if (err)
		return err;
	find_cycles(ns);
	check_counts(ns);
	for (size_t i = 0; i < ns->n; i++) {
		struct ns_ino *r = &ns->v[i];

		/* a top: no entry (or no winning one) names it */
		if (!(r->flags & (NS_REACHED | NS_LISTED)) &&
		    (S_ISDIR(r->mode) ? dir_of(ns, r)->parent == KVFS_NULLINO :
					!r->links) &&
		    r->nlink)
			problem(ns, KVFS_NS_DISCONNECTED, KVFS_NULLINO, r, 0,
				NULL, 0, 0, 0);
	}
	return 0;
}
