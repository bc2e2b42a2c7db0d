/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Open references by inode number (kvfs_inode_open() of fs/kvfs.h).
 *
 * An open reference keeps an inode allocated after its last link goes: a
 * file the FUSE kernel still knows, an O_TMPFILE.  It must not keep the
 * in-core inode: the kernel may know millions of inodes, and pinning every
 * one of them in the inode cache once made a mount wait forever for memory
 * (mount.kvfs after ~220 000 creates under a 256 MiB budget).  So the counts
 * live here, a small entry per open inode apart from the cache, and the
 * in-core inode of an open file with links stays reclaimable; only an open
 * inode without links (on its unlinked list) is kept cached
 * (fs/inode/icache.c).
 *
 * The inode lock orders opens against unlinks: an open takes its count
 * under the inode lock (shared is enough), link counts move under the
 * exclusive one, so the "no links and not open" test that decides an
 * inode's freeing (kvfs_inode_needs_inactive()) sees either both or
 * neither.  A close drops its count without the lock: the inode it may
 * leave unreferenced has no links and stays cached (fs/inode/icache.c),
 * and the close's own kvfs_iput() runs that test again.
 *
 * Locks: one mutex per stripe, protecting its chains and counts; a leaf
 * lock (nothing is taken under it; it is taken under inode locks).
 */
#ifndef KV_FS_OPENREF_H
#define KV_FS_OPENREF_H

#include <stdbool.h>
#include <stdint.h>

struct kvfs_openrefs;

int kvfs_openrefs_create(struct kvfs_openrefs **refsp);
/* Frees the table; references still held are dropped with it. */
void kvfs_openrefs_destroy(struct kvfs_openrefs *refs);

/* One more open reference to ino (waits for memory: never fails). */
void kvfs_openref_get(struct kvfs_openrefs *refs, uint64_t ino);
/*
 * One less: the count left, or -ENOENT when ino held none (a close
 * without an open).
 */
int64_t kvfs_openref_put(struct kvfs_openrefs *refs, uint64_t ino);
/* ino holds at least one open reference. */
bool kvfs_openref_held(struct kvfs_openrefs *refs, uint64_t ino);
/*
 * kvfs_openref_held(), remembering a "held" in *hint (the in-core inode's
 * i_openref_hint, 0 at first) and answering from it without a lock while
 * no entry of ino's stripe has been removed since.  As exact as
 * kvfs_openref_held(): a "held" was true at some point during the call.
 */
bool kvfs_openref_held_hint(struct kvfs_openrefs *refs, uint64_t ino,
			    _Atomic uint64_t *hint);
/* Inodes holding open references (for statistics and tests). */
uint64_t kvfs_openrefs_count(struct kvfs_openrefs *refs);

#endif
