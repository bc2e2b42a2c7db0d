/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-core extent list of a regular file whose data fork is an extent
 * B+tree (XFS's xfs_iext_tree.c): every extent of the tree, decoded, in
 * a two-level sorted list (leaves of about a page, an index of their
 * first offsets), so that a lookup is two binary searches in memory
 * instead of a cursor's descent through the tree's buffers.
 *
 * It is a cache of the tree, never the truth: loaded from the tree on the
 * first lookup that wants it (kvfs_iext_get()), changed by fs/data/bmap.c
 * in step with every change of the tree (each record deleted, updated or
 * inserted there is deleted, updated or inserted here, once the tree's
 * change succeeded), dropped when the fork stops being a tree, when a
 * change of it cannot get memory or fails half-way, when the inode is
 * freed, and by the shrinker under memory pressure; a lookup after a drop
 * loads it again.  So it never disagrees with the tree: where it could, it
 * is not there (kvfs_bmap_check() compares the two; debug builds compare
 * them after every change of a small tree).
 *
 * Memory: droppable, not bounded.  A list costs about 24 bytes per extent,
 * what the tree's leaves cost in the buffer cache, and like them it goes
 * under pressure: a per-mount shrinker ("kvfs_iext", counted in leaves)
 * drops the lists not looked up since its last pass (a second chance),
 * each under its inode lock taken exclusively without waiting (a list in
 * use is skipped).  A bound would have to choose which file's random
 * reads walk the tree; dropping lets the allocator choose, with the same
 * knowledge it uses for every other cache.
 *
 * Locks: the list of ip is ip->i_iext, read and changed under ip's inode
 * lock (fs/inode/inode.h): lookups and the load with it held shared (two
 * readers of one file never wait for each other: a second loader's list
 * loses the publishing exchange and is freed), changes and drops with it
 * held exclusively.  The mount's list of lists (for the shrinker) has a
 * mutex of its own, taken after any inode lock and never held while
 * waiting for one or allocating.
 */
#ifndef KV_FS_IEXT_H
#define KV_FS_IEXT_H

#include <stdbool.h>
#include <stdint.h>

struct kvfs_inode;
struct kvfs_mount;

/* A decoded extent (struct kvfs_extent in CPU order). */
struct kvfs_irec {
	uint64_t off; /* file block */
	uint64_t bno; /* filesystem block */
	uint32_t len;
	uint32_t flags; /* KVFS_EXT_* */
};

struct kvfs_iext;
struct kvfs_iext_lru;

/* A position in a list, valid until the list changes. */
struct kvfs_iext_pos {
	uint32_t leaf;
	uint32_t idx;
};

/*
 * The mount's list of lists and its shrinker: made before the inode cache
 * (mp->iext_lru), destroyed after it (every inode freed: no list left).
 * -ENOMEM.
 */
int kvfs_iext_lru_create(struct kvfs_mount *mp);
void kvfs_iext_lru_destroy(struct kvfs_mount *mp);
/* The shrinker's pass, now: leaves freed (tests). */
size_t kvfs_iext_shrink(struct kvfs_mount *mp, size_t nr);

/*
 * The list of ip (a regular file's BTREE data fork), loaded from the tree
 * if it is not there; ip's inode lock held, shared at least, and no
 * transaction of the caller holding the tree's buffers.  0 and *xp; or
 * -ENOMEM (walk the tree instead), -EUCLEAN, -EIO from the tree.
 */
int kvfs_iext_get(struct kvfs_inode *ip, struct kvfs_iext **xp);
/* The list of ip if it is loaded, else NULL (the inode lock held). */
struct kvfs_iext *kvfs_iext_peek(struct kvfs_inode *ip);
/* Drop ip's list: the inode lock held exclusively. */
void kvfs_iext_drop(struct kvfs_inode *ip);
/*
 * ip is being freed (no reference, no lock held): its list is freed, and
 * a shrinker pass that holds ip's lock is waited for.
 */
void kvfs_iext_inode_free(struct kvfs_inode *ip);

/* Records in the list. */
uint64_t kvfs_iext_count(const struct kvfs_iext *x);

/*
 * The first extent that ends after off: true, *r and its position; false
 * if none.
 */
bool kvfs_iext_find(const struct kvfs_iext *x, uint64_t off,
		    struct kvfs_iext_pos *pos, struct kvfs_irec *r);
/* The extent after the one at *pos (moved to it): false if none. */
bool kvfs_iext_next(const struct kvfs_iext *x, struct kvfs_iext_pos *pos,
		    struct kvfs_irec *r);
/* The last extent that starts before end (end > 0): false if none. */
bool kvfs_iext_last_before(const struct kvfs_iext *x, uint64_t end,
			   struct kvfs_irec *r);

/*
 * Changes, mirroring the tree's (the inode lock held exclusively): insert
 * r (-EEXIST if its offset is there), delete the extent at off, replace
 * the extent at r->off by r (-ENOENT if none).  -ENOMEM: the caller drops
 * the list, as on any error.
 */
int kvfs_iext_insert(struct kvfs_iext *x, const struct kvfs_irec *r);
int kvfs_iext_delete(struct kvfs_iext *x, uint64_t off);
int kvfs_iext_update(struct kvfs_iext *x, const struct kvfs_irec *r);

#endif
