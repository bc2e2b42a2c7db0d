/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Directories (XFS's xfs_dir2.c): the entries of one directory inode, in
 * short form in the inode while they fit, in directory blocks with a name
 * hash index and a free-space index past that (the format and the cookie
 * scheme are in fs/format.h).  These are the internal operations the
 * namespace operations (fs/ns/namei.c), symlinks and fsck build on; they
 * know nothing of link counts, timestamps or POSIX errno rules beyond
 * their own.
 *
 * Names: name/len, 1..KVFS_NAME_MAX bytes, never "." or "..", no '/' or
 * NUL (the caller checks: kvfs_dir_name_check()).
 *
 * Locking: the caller holds the directory's inode lock, shared for
 * kvfs_dir_lookup/isempty/readdir/parent, exclusive and joined to tp
 * (kvfs_trans_ijoin()) for the changes, which log the inode and the
 * blocks they touch in tp.  Blocks are read through the buffer cache;
 * changes go through tp's buffer items.
 *
 * Transactions: a change needs, in tp, mp->resv.dirop's log space and
 * blocks (a new data block, both index trees split at every level, the
 * extent-map change); it allocates and frees blocks of the directory
 * (frees through extent-free intents, so tp must be allowed to queue
 * deferred work).  A change that fails after changing something leaves tp
 * dirty: the caller cancels it (which shuts the filesystem down).  The
 * errors that change nothing: -EEXIST, -ENOENT, -ENOSPC from the
 * reservation, -EUCLEAN on a corrupt block found before the first change.
 *
 * Growth and shrink: a short-form directory becomes a block directory
 * when an entry does not fit the inode (or block 0's address range); a
 * data block other than 0 that becomes empty is freed (punched out of the
 * extent map; kept, empty, for later inserts when the in-inode extent
 * list cannot split one more extent); a block directory with only data
 * block 0 whose entries fit the inode goes back to short form.  Cookies
 * survive both conversions.  The data fork maps its blocks with the
 * in-inode extent list, or the extent B+tree once that list is full (the
 * blocks of a directory growing among new files' inodes are scattered).
 *
 * Errors: a block that is not what the directory expects is -EUCLEAN,
 * reported through kvfs_corrupt().
 */
#ifndef KV_FS_DIR_H
#define KV_FS_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/btree/btree.h"

struct kvfs_ihint;
struct kvfs_inode;
struct kvfs_trans;
struct kvfs_geom;
struct kv_buf_ops;
struct kv_bcache;
struct kv_buf;
struct kvfs_extent;

/* 0, -EINVAL (empty, ".", "..", contains '/' or NUL), -ENAMETOOLONG. */
int kvfs_dir_name_check(const char *name, size_t len);

/*
 * Make dp (a new directory inode, joined to tp) an empty short-form
 * directory whose ".." is parent.
 */
void kvfs_dir_init(struct kvfs_trans *tp, struct kvfs_inode *dp,
		   uint64_t parent);

/* The inode number of "..". */
int kvfs_dir_parent(struct kvfs_inode *dp, uint64_t *parent);
/* Point ".." at parent (rename across directories). */
int kvfs_dir_set_parent(struct kvfs_trans *tp, struct kvfs_inode *dp,
			uint64_t parent);

/* The entry's inode and file type (KVFS_FT_*); -ENOENT if none. */
int kvfs_dir_lookup(struct kvfs_inode *dp, const char *name, size_t len,
		    uint64_t *ino, uint8_t *ftype);

/*
 * kvfs_dir_lookup() under dp's exclusive lock in tp, before a change that
 * creates the name when it is absent: the blocks it searches stay joined
 * to tp, where the creation finds them again.
 */
int kvfs_dir_lookup_in(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len, uint64_t *ino,
		       uint8_t *ftype);

/*
 * kvfs_dir_lookup() without dp's lock, for a reader in an RCU read-side
 * section that reads dp as a seqcount reader of its i_lock_seq
 * (fs/inode/inode.h, kvfs_icache_read()): 0 (*ino, *ftype) or -ENOENT,
 * which count only once the seqcount validates; -EAGAIN when it cannot
 * tell so (a block not cached, an address not remembered, anything out
 * of place): look up under the lock then.  dp is a directory (the caller
 * checked its mode).  With hint, *hint is where the entry's inode is
 * remembered (fs/inode/icache.h struct kvfs_ihint; NULL: nowhere), for
 * kvfs_icache_read_then() in the same RCU read section; what it holds is
 * already being fetched.
 */
int kvfs_dir_lookup_rcu(const struct kvfs_inode *dp, const char *name,
			size_t len, uint64_t *ino, uint8_t *ftype,
			struct kvfs_ihint **hint);

/*
 * The data-block addresses dp remembers (struct kvfs_dir_map in
 * fs/ns/dir.c): forgotten, under dp's lock exclusive, when the inode is
 * reused (the memory stays: lock-free lookups may be reading it); freed
 * with the in-core inode, after the inode cache's grace period.
 */
void kvfs_dir_map_forget(struct kvfs_inode *dp);
void kvfs_dir_map_free(struct kvfs_inode *dp);

/*
 * A short-form directory dp (locked, joined to tp) becomes block form,
 * its entries and cookies unchanged: room in the inode for an attribute
 * fork (XFS's xfs_bmap_add_attrfork_local).  Allocates the directory's
 * first blocks from tp's reservation; then tp cannot back out.  0 and
 * nothing done for a directory already in block form.
 */
int kvfs_dir_sf_to_block(struct kvfs_trans *tp, struct kvfs_inode *dp);

/* The cursor context of the index trees: the head lives in hbp (block 0). */
struct kvfs_dir_tree_ctx {
	struct kvfs_trans *tp; /* NULL for a walk */
	struct kvfs_inode *dp; /* NULL for a walk */
	struct kv_buf *hbp; /* data block 0 */
	bool free_tree; /* which root of the head */
};

/* A cursor on one of a directory's index trees, with its context. */
struct kvfs_dir_cur {
	struct kvfs_btree_cur cur;
	struct kvfs_dir_tree_ctx c;
};

/*
 * Where kvfs_dir_canenter_at() found a block directory's room for a name,
 * joined to tp: the head, the free-space index's record of the data block
 * with room and that block, and the name-hash leaf the name's record goes
 * into (hash_at: no record of the name's hash there, so that the record's
 * place is known before its address).  kvfs_dir_createname_at() in the
 * same transaction starts from there instead of searching again (three
 * descents of a create's ~18,600 instructions); it holds only while
 * nothing changes dp's directory in between (dp locked exclusively
 * throughout).  set false: nothing found to keep (a short-form
 * directory, or no room but in a new block); the creation searches.
 * kvfs_dir_place_init() before the first of them.
 */
struct kvfs_dir_place {
	bool set, hash_at;
	bool hash_read; /* hash stands on (hash, 0): kvfs_dir_lookup_at() */
	uint32_t dblk;
	struct kv_buf *hbp, *bp;
	struct kvfs_dir_cur free, hash;
	/* the caller's: the new name's inode, remembered in its entry's hint */
	struct kvfs_inode *ip;
};

/*
 * Before a transaction's first change (XFS's xfs_dir_canenter): when a
 * name of len bytes may make dp grow, or extra blocks more are to be
 * allocated in tp after its first change (a symbolic link's), an AG able
 * to give them all is locked in tp (fs/space/alloc.h
 * kvfs_alloc_hold_space()), so that the allocations after the first
 * change cannot fail for room (an ENOSPC there cancels a dirty
 * transaction: the log shuts down).  -ENOSPC: no AG can, tp still clean.
 * A tp with no block reserved (a link or rename retried on a full
 * filesystem) takes the name only where it needs none: a data block with
 * room and index leaves that need not split; -ENOSPC otherwise.  dp
 * locked exclusively and joined to tp.
 */
int kvfs_dir_canenter(struct kvfs_trans *tp, struct kvfs_inode *dp,
		      const char *name, size_t len, uint32_t extra);
static inline void kvfs_dir_place_init(struct kvfs_dir_place *pl)
{
	pl->set = pl->hash_at = pl->hash_read = false;
	pl->ip = NULL;
}

/*
 * kvfs_dir_lookup_in() that, finding name absent, may keep in *pl where
 * its name-hash record would go, for kvfs_dir_canenter_at() (a create:
 * the lookup's descent is the insertion's).
 */
int kvfs_dir_lookup_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len, uint64_t *ino,
		       uint8_t *ftype, struct kvfs_dir_place *pl);

/* kvfs_dir_canenter(), keeping in *pl where the name goes. */
int kvfs_dir_canenter_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 const char *name, size_t len, uint32_t extra,
			 struct kvfs_dir_place *pl);

/* Add name -> ino; -EEXIST if name exists. */
int kvfs_dir_createname(struct kvfs_trans *tp, struct kvfs_inode *dp,
			const char *name, size_t len, uint64_t ino,
			uint8_t ftype);
/*
 * The same for a name the caller found absent (kvfs_dir_lookup()
 * -ENOENT) under dp's exclusive lock, held since: the name index is not
 * searched a second time (as kvfs_dir_removename_slot() after
 * kvfs_dir_lookup_slot()).
 */
int kvfs_dir_createname_absent(struct kvfs_trans *tp, struct kvfs_inode *dp,
			       const char *name, size_t len, uint64_t ino,
			       uint8_t ftype);
/*
 * kvfs_dir_createname_absent() at the place kvfs_dir_canenter_at() found
 * for name in the same transaction.
 */
int kvfs_dir_createname_at(struct kvfs_trans *tp, struct kvfs_inode *dp,
			   const char *name, size_t len, uint64_t ino,
			   uint8_t ftype, struct kvfs_dir_place *pl);

/* Remove name, which must point at ino (else -ENOENT). */
int kvfs_dir_removename(struct kvfs_trans *tp, struct kvfs_inode *dp,
			const char *name, size_t len, uint64_t ino);

/*
 * A removal in two steps, the name index searched once: where name is
 * (kvfs_dir_lookup_slot(), -ENOENT if absent), then its removal there
 * (kvfs_dir_removename_slot()), dp locked exclusively from the first
 * step to the second, so that the slot stays valid.
 */
struct kvfs_dir_slot {
	uint64_t ino; /* what name points at */
	uint64_t addr; /* the entry's address (block form) */
	uint8_t ftype; /* the entry's file type */
};
int kvfs_dir_lookup_slot(struct kvfs_inode *dp, const char *name, size_t len,
			 struct kvfs_dir_slot *slot);
/*
 * The same as kvfs_dir_lookup_rcu() reads it, under its rules (an answer
 * counts once dp's seqcount validates it; -EAGAIN: look under the lock);
 * addr 0 in the short form, as kvfs_dir_lookup_slot() gives it.  *hint
 * as kvfs_dir_lookup_rcu() gives it, but none is made where there is
 * none.
 */
int kvfs_dir_lookup_slot_rcu(const struct kvfs_inode *dp, const char *name,
			     size_t len, struct kvfs_dir_slot *slot,
			     struct kvfs_ihint **hint);
int kvfs_dir_removename_slot(struct kvfs_trans *tp, struct kvfs_inode *dp,
			     const char *name, size_t len,
			     const struct kvfs_dir_slot *slot);

/*
 * Before a transaction's first change: the blocks the removal of name
 * (at slot, if given) will change, read in tp, so that damage there fails
 * the call with tp still clean (a dirty transaction cancelled shuts the
 * log down); first (flen bytes), if not NULL: a name entered into dp
 * before the removal (a rename within dp), whose insertion may move the
 * records around name's.  dp locked exclusively and joined to tp.
 */
int kvfs_dir_canremove(struct kvfs_trans *tp, struct kvfs_inode *dp,
		       const char *name, size_t len,
		       const struct kvfs_dir_slot *slot, const char *first,
		       size_t flen);

/* Point the existing name at ino (cookie kept); -ENOENT if none. */
int kvfs_dir_replace(struct kvfs_trans *tp, struct kvfs_inode *dp,
		     const char *name, size_t len, uint64_t ino, uint8_t ftype);

/*
 * Where name's entry is stored (kvfs-db's dirent write): block form, *fsb
 * the first block of its data block and *off the entry's byte offset
 * there; short form, *fsb KVFS_NULLBLOCK and *off its byte offset in the
 * data fork.  *cookie is its address.  -ENOENT if there is none.
 */
int kvfs_dir_locate(struct kvfs_inode *dp, const char *name, size_t len,
		    uint64_t *cookie, uint64_t *fsb, uint32_t *off);

/* No entries but "." and "..". */
bool kvfs_dir_isempty(struct kvfs_inode *dp);

/*
 * Entries from cookie on, "." (cookie 0) and ".." (1) first, then by
 * address: fill gets each with the cookie that resumes after it and
 * returns non-zero to stop (that entry is not consumed).  Same signature
 * as kvfs_filldir_t of fs/kvfs.h.
 */
typedef int (*kvfs_dir_fill_t)(void *priv, const char *name, size_t namelen,
			       uint64_t ino, unsigned dtype, uint64_t next);
int kvfs_dir_readdir(struct kvfs_inode *dp, uint64_t cookie,
		     kvfs_dir_fill_t fill, void *priv);

/*
 * Read-only walk of a directory as stored, for the checker and fsck: no
 * mount, no inode cache, no lock (nothing may be changing it).  dip is
 * the on-disk inode of directory ino (a copy); its short form, or the
 * data blocks its extent list maps (read through bc, whose private
 * pointer is g, with the data block verifier), are decoded in place: the
 * name hash and free-space indexes and the head's data-block count are
 * not used, so that a damaged index or count does not hide an entry.
 * *parent gets "..".  fn gets every live entry and returns non-zero to
 * stop the walk (returned); damaged: the entry is from a block that
 * failed verification, read as far as its records hold (a flipped bit
 * may have made its name another entry's).  A data block that cannot be
 * read or is out of place is skipped; 0, or -EUCLEAN when the fork is bad
 * (nothing walked) or block 0 is (*parent left as it was, the other
 * blocks walked), -ENOMEM, -EIO.
 */
typedef int (*kvfs_dir_walk_fn)(void *priv, const char *name, size_t namelen,
				uint64_t ino, uint8_t ftype, bool damaged);
int kvfs_dir_walk_disk(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, const void *dip, uint64_t *parent,
		       kvfs_dir_walk_fn fn, void *priv);

/*
 * Data block 0 of a stored block directory (x, n: its extents, as
 * kvfs_dir_xmap() takes them), for the roots of its index trees: read
 * where the fork places it, as kvfs_dir_walk_disk() reads it, so that
 * the checker, phase 4's claims and the rebuild's frees find the same
 * index blocks.  A block failing verification is used (*damaged) when it
 * is the directory's (magic, address, uuid, owner): its roots may be
 * what is damaged, so a walk from them takes only the blocks that verify
 * as the directory's own (kvfs_btree_walk_check()'s blk_fn), not those
 * its findings name.  0 with *bpp held; -ENODATA (not mapped), -EUCLEAN
 * (not the directory's block), -EIO, -ENOMEM.
 */
int kvfs_dir_read_head(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, const struct kvfs_extent *x, uint32_t n,
		       struct kv_buf **bpp, bool *damaged);

/*
 * Mapping file blocks of a stored directory through its extent list, for
 * kvfs_dir_walk_disk() and the checker's block-directory check: x, n
 * records sorted by file block and disjoint (what the inode verifier and
 * the extent-map tree's walk prove; a list that is not maps wrongly,
 * never out of bounds), looked up at rising file blocks from a cursor, so
 * that a walk over a directory's blocks passes over the list once instead
 * of searching it for every block.
 */
struct kvfs_dir_xmap {
	const struct kvfs_extent *x;
	uint32_t n;
	uint32_t k; /* the extents before it end before any later lookup */
};

/*
 * The filesystem block of file block off, or KVFS_NULLBLOCK; *run: how
 * many of the len blocks from off on continue it on disk (through
 * adjacent extents), 0 for a hole.  off is at least the last lookup's off
 * plus its *run.
 */
uint64_t kvfs_dir_xmap(struct kvfs_dir_xmap *m, uint64_t off, uint32_t len,
		       uint32_t *run);

/* DT_* of a KVFS_FT_* */
unsigned kvfs_ftype_to_dtype(uint8_t ftype);

/* What a directory operation touched (tests, benchmarks). */
struct kvfs_dir_stats {
	uint64_t to_block; /* short form -> blocks */
	uint64_t to_sf; /* blocks -> short form */
	uint64_t blocks_added; /* data blocks allocated */
	uint64_t blocks_freed; /* data blocks freed */
};
void kvfs_dir_get_stats(struct kvfs_dir_stats *st);

/*
 * ---- the block format's pieces, for fs/io/buf_ops.c and fs/check/scrub.c ----
 */

extern const struct kvfs_btree_ops kvfs_dir_hash_ops;
extern const struct kvfs_btree_ops kvfs_dir_free_ops;
extern const struct kvfs_btree_tree_ops kvfs_dir_hash_tree_ops;
extern const struct kvfs_btree_tree_ops kvfs_dir_free_tree_ops;

/*
 * Check a data block of len bytes (its header verified by the caller):
 * records, counts, bestfree; block 0's head.  NULL or what is wrong.
 */
const char *kvfs_dir_data_check(const struct kvfs_geom *g, const void *blk,
				size_t len);

/*
 * Where the record at pos of a data block of len bytes, not verified yet,
 * ends by its length: 0 when that is not a record's (shorter than an
 * entry, not a multiple of 8, past the block's end).  For the readers of
 * unverified blocks (fs/ns/dir_walk.c, fs/repair/inodes.c).
 */
uint32_t kvfs_dir_rec_next(const void *blk, uint32_t len, uint32_t pos);

/* Index tree blocks (the trees' block source; nblocks follows). */
int kvfs_dir_alloc_tree_block(struct kvfs_trans *tp, struct kvfs_inode *dp,
			      uint64_t *fsb);
int kvfs_dir_free_tree_block(struct kvfs_trans *tp, struct kvfs_inode *dp,
			     uint64_t fsb);

#endif
