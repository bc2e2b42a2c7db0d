/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of the directory code share (fs/ns/dir.c: the locked
 * operations; fs/ns/dir_index.c: the name hash and free-space indexes;
 * fs/ns/dir_data.c: a data block's records; fs/ns/dir_map.c: the
 * remembered addresses of the data blocks; fs/ns/dir_rcu.c: the lookup
 * without the directory's lock; fs/ns/dir_walk.c: the read-only walk of a
 * stored directory): the layout of a data block, the map of its data
 * blocks, an operation's context.  Not for other modules: fs/ns/dir.h is
 * the contract.
 */
#ifndef KV_FS_NS_DIR_PRIV_H
#define KV_FS_NS_DIR_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/btree/btree.h"
#include "fs/format.h"
#include "fs/inode/icache.h"
#include "fs/io/buf.h"
#include "fs/mount.h"
#include "fs/ns/dir.h"

struct kvfs_ihint;
struct kvfs_inode;
struct kvfs_trans;

static inline uint32_t fsbs(const struct kvfs_geom *g)
{
	return g->dirblksize >> g->blocklog;
}

static inline struct kvfs_dir_head *head(struct kv_buf *bp)
{
	return (void *)((char *)bp->b_addr + KVFS_DIR_DATA_HDR_SIZE);
}

static inline struct kvfs_dir_data_hdr *dhdr(struct kv_buf *bp)
{
	return bp->b_addr;
}

static inline struct kvfs_dir_data_ent *ent_at(struct kv_buf *bp, uint32_t off)
{
	return (void *)((char *)bp->b_addr + off);
}

static inline uint32_t data_start(uint32_t dblk)
{
	return dblk ? KVFS_DIR_DATA_HDR_SIZE : KVFS_DIR_HEAD_SIZE;
}

/*
 * What the lock-free lookup reads of the head block (the index root and
 * height, the data blocks' count), kept by it in the directory's map
 * (fs/ns/dir_rcu.c) so that a lookup in an unchanged directory does not
 * find and read the head block: as read at dp's i_lock_seq stamp - 1
 * (0: nothing kept), which holds while i_lock_seq keeps that value (every
 * change of a directory is made under its lock exclusive, which moves
 * it).  Stored by lock-free readers, several at once, so under a seqcount
 * of its own, seq, odd while one stores.  Zero (nothing) in a new map.
 * Not forgotten with the addresses: a map is reset after a change, which
 * moved i_lock_seq past the stamp.
 */
struct kvfs_dir_map_head {
	atomic_uint seq;
	_Atomic uint32_t ndata;
	_Atomic uint64_t stamp, root;
	_Atomic uint32_t level;
};

/*
 * A block's buffer as a lock-free lookup found it (fs/ns/dir_rcu.c), so
 * that the next lookup in the same block reads neither the buffer
 * cache's index, nor the buffer, nor the block's header: the buffer's
 * contents at addr, found at the buffer cache's free epoch epoch
 * (fs/io/buf.h kv_buf_peek_epoch()), the block key names (a data block's
 * number; an index block's address and level) with its header checked,
 * as at dp's i_lock_seq stamp - 1 (0: nothing kept; as struct
 * kvfs_dir_map_head's stamp, any change of dp moves i_lock_seq past it,
 * so nothing has to forget them).  Stored by lock-free readers, several
 * at once: under the map's bseq, odd while one stores.  With them, of an
 * index block, its record count, so that its header's line is not read
 * (the block does not change while i_lock_seq holds).  A line, so that
 * reading one reads one line; two a data block (128 bytes beside the
 * 4 KiB or more of the blocks they keep).
 *
 * A data block's slot also holds where the lock-free lookup remembers
 * the inodes of the block's entries (fs/inode/icache.h struct
 * kvfs_ihint), one hint per HINT_GRAIN bytes of the block (entries are
 * at least that far apart: each has its own), so that a stat fetches the
 * child's inode while it reads the entry, not after: NULL until a lookup
 * in the block wants them (installed once, never changed, freed with the
 * map, or with the last map holding them: a bigger map takes over the
 * smaller one's).  A hint is trusted for no entry in particular (its
 * inode's number is checked), so a change of the directory leaves them.
 */
struct kvfs_dir_map_buf {
	_Atomic uint64_t key;
	const uint8_t *_Atomic addr;
	_Atomic uint64_t epoch, stamp;
	_Atomic uint32_t n;
	struct kvfs_ihint *_Atomic hints;
} __attribute__((aligned(64)));

#define HINT_GRAIN KVFS_DIR_DATA_ENTSIZE(1)

/* Hints of a data block (dirblksize bytes), HINT_GRAIN bytes each. */
static inline uint32_t hints_per_block(const struct kvfs_geom *g)
{
	return g->dirblksize / HINT_GRAIN + 1;
}

/*
 * The data blocks' addresses, remembered per directory: every lookup
 * walked the extent B+tree for its data block (a fifth of a stat in a
 * directory of 20 000 names).  An address is stored by whoever mapped the
 * block, under the inode lock shared or exclusive (racing readers store
 * the same one); every change of the block map fs/ns/dir.c makes forgets
 * the whole map (dmap_drop()) under the lock exclusive.  A map is trusted only
 * while the fork's format, its extent count and the inode's generation
 * are those it was made with: a change from outside this file (a
 * truncation by repair or by the inode's inactivation, a reuse of the
 * inode) moves one of them.  One that is not trusted is zeroed and
 * stamped again by the next reader that holds the lock (several may at
 * once: under the lock the block map holds still, so every address any
 * of them stores is right).  0: not known (block 0 is the superblock's,
 * never a directory's).
 *
 * The lock-free lookup (kvfs_dir_lookup_rcu()) reads maps too, without
 * the lock: so a map is never freed while its inode lives.  A directory
 * that outgrows its map gets a bigger one, which keeps the one it
 * replaced on its retired list; the inode's end frees them all
 * (kvfs_dir_map_free(), after the inode cache's grace period).  The
 * stamp is atomics for those readers (and for resets racing under the
 * shared lock): dformat is stored last, with release, after the zeroing.
 */
struct kvfs_dir_map {
	_Atomic uint32_t nextents, generation;
	atomic_uint dformat; /* DMAP_STALE: forgotten */
	uint32_t nr;
	/*
	 * ibuf[] has imask + 1 slots, a power of two >= nr: the slot of
	 * an index block is its address masked (a division by nr was in
	 * the path of every level of a lookup's walk)
	 */
	uint32_t imask;
	struct kvfs_dir_map *retired;
	struct kvfs_dir_map_head head;
	atomic_uint bseq; /* odd while a reader stores into dbuf[], ibuf[] */
	/*
	 * after fsb[]: nr by data block, imask + 1 by index block address;
	 * NULL if memory was short (nothing is kept)
	 */
	struct kvfs_dir_map_buf *dbuf, *ibuf;
	_Atomic uint64_t fsb[];
};

/* Past this many data blocks (a 16 GiB directory) nothing is remembered. */
#define DMAP_MAX (1u << 22)
#define DMAP_STALE 0xffffffffu

/*
 * Data block dblk's hints in map m (dblk < m->nr, m->dbuf set, none seen
 * there: kvfs_dir_map_hint()), made: NULL if memory is short at once
 * (this runs under RCU, where reclaim may not, and in transactions).
 */
struct kvfs_ihint *kvfs_dir_map_hints_make(const struct kvfs_dir_map *m,
					   const struct kvfs_geom *g,
					   uint32_t dblk);

/*
 * The hint of the entry at offset off of data block dblk in map m (dblk <
 * m->nr), NULL if the block has none; with make, the block's hints made
 * if it has none.
 */
static inline struct kvfs_ihint *kvfs_dir_map_hint(const struct kvfs_dir_map *m,
						   const struct kvfs_geom *g,
						   uint32_t dblk, uint32_t off,
						   bool make)
{
	struct kvfs_ihint *h;

	if (!m->dbuf)
		return NULL;
	h = atomic_load_explicit(&m->dbuf[dblk].hints, memory_order_acquire);
	if (!h && make)
		h = kvfs_dir_map_hints_make(m, g, dblk);
	return h ? &h[off / HINT_GRAIN] : NULL;
}

/*
 * fs/ns/dir_map.c, dp locked (shared or exclusive): the filesystem block
 * of data block dblk, one contiguous extent, remembered in dp's map
 * (-ENODATA: a hole, a data block freed below the end of the data); the
 * first data block past dblk that may be mapped, ndata if none (a run of
 * holes stepped over in one walk).  Changes of the block map forget the
 * map (kvfs_dir_map_forget(), dp locked exclusively).
 */
int kvfs_dir_map_dblk(struct kvfs_inode *dp, uint32_t dblk, uint64_t *fsb);
/*
 * dp locked exclusively: the hint of the entry just made at offset off of
 * data block dblk remembers ip, its inode (a create's: the first stat of
 * the name then fetches the inode as it reads the entry, not after a
 * search of the inode cache's index); nothing without a map holding
 * dblk, or memory at once.
 */
void kvfs_dir_map_hint_new(struct kvfs_inode *dp, uint32_t dblk, uint32_t off,
			   struct kvfs_inode *ip);
int kvfs_dir_next_dblk(struct kvfs_inode *dp, uint32_t dblk, uint32_t ndata,
		       uint32_t *next);

/*
 * fs/ns/dir_data.c, the records of a data block bp of dp (locked
 * exclusively, joined to tp where tp is given, which logs what changed):
 * a new empty block dblk (its caller logs it whole); an entry put into
 * the first unused record that holds it, its offset in *off (-ENOSPC if
 * none: the free index said otherwise, the caller reports damage); the
 * entry at off turned into unused space merged with its neighbours
 * (-EUCLEAN when off is not a record's); and, for a block built whole
 * (short form to blocks), a record of either kind put at off and the
 * bestfree computed over the records up to len.
 */
void kvfs_dir_data_init(struct kvfs_inode *dp, struct kv_buf *bp,
			uint32_t dblk);
int kvfs_dir_data_insert(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 struct kv_buf *bp, const char *name, size_t len,
			 uint64_t ino, uint8_t ftype, uint32_t *off);
int kvfs_dir_data_remove(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 struct kv_buf *bp, uint32_t off);
void kvfs_dir_data_put_entry(struct kv_buf *bp, uint32_t off, uint32_t reclen,
			     const char *name, size_t len, uint64_t ino,
			     uint8_t ftype);
void kvfs_dir_data_put_unused(struct kv_buf *bp, uint32_t off, uint32_t len);
void kvfs_dir_data_recompute_best(struct kv_buf *bp, uint32_t len);

/*
 * The context of one directory operation in fs/ns/dir.c and
 * fs/ns/dir_index.c: dp (locked), the transaction it changes dp in (NULL:
 * read only, its blocks held, released with kvfs_dir_ctx_rele()), the
 * head block once read.
 */
struct kvfs_dir_ctx {
	struct kvfs_trans *tp; /* NULL: read only */
	struct kvfs_inode *dp;
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;
	struct kv_buf *hbp; /* data block 0 */
};

/* fs/ns/dir.c: damage of dp at blkno (-EUCLEAN, recorded); of d->dp. */
int kvfs_dir_corrupt(const struct kvfs_inode *dp, uint64_t blkno,
		     const char *what);
int kvfs_dir_ctx_corrupt(struct kvfs_dir_ctx *d, uint64_t blkno,
			 const char *what);
/* Release what a read-only context's read held (no-op in a transaction). */
void kvfs_dir_ctx_rele(struct kvfs_dir_ctx *d, struct kv_buf *bp);
/* Data block dblk, held (read only) or locked in d->tp. */
int kvfs_dir_ctx_read_dblk(struct kvfs_dir_ctx *d, uint32_t dblk,
			   struct kv_buf **bpp);
/* Log len bytes of bp from first in d->tp. */
void kvfs_dir_ctx_log(struct kvfs_dir_ctx *d, struct kv_buf *bp, uint32_t first,
		      uint32_t len);
/* A cursor on the free-space index (free_tree) or the name hash index. */
void kvfs_dir_ctx_tree_cur(struct kvfs_dir_ctx *d, struct kvfs_btree_cur *cur,
			   struct kvfs_dir_tree_ctx *c, bool free_tree);

/* A match found by the hash walk. */
struct kvfs_dir_hmatch {
	const char *name;
	size_t len;
	uint64_t addr;
	uint64_t ino;
	uint8_t ftype;
};

/*
 * fs/ns/dir_index.c, d's head read (their comments say each one's rule):
 * m's name through the hash index (*found); a hash record inserted (at a
 * lookup's cursor, or NULL) or deleted; a free-space record inserted or
 * deleted (*found false if absent); the best a data block's free record
 * carries; the record moved after the block's bestfree changed from old;
 * a data block with room for need bytes (*found); the blocks a name's
 * hash record's insertion reads, read before a change.
 */
int kvfs_dir_hash_find(struct kvfs_dir_ctx *d, struct kvfs_dir_hmatch *m,
		       bool *found);
int kvfs_dir_hash_insert(struct kvfs_dir_ctx *d, uint32_t hash, uint64_t addr,
			 struct kvfs_dir_cur *at);
int kvfs_dir_hash_delete(struct kvfs_dir_ctx *d, uint32_t hash, uint64_t addr);
int kvfs_dir_free_insert(struct kvfs_dir_ctx *d, uint32_t best, uint32_t dblk);
int kvfs_dir_free_delete(struct kvfs_dir_ctx *d, uint32_t best, uint32_t dblk,
			 bool *found);
uint32_t kvfs_dir_idx_best(struct kv_buf *bp);
int kvfs_dir_free_reindex(struct kvfs_dir_ctx *d, struct kvfs_dir_cur *fc,
			  struct kv_buf *bp, uint32_t old, uint32_t dblk);
int kvfs_dir_free_find(struct kvfs_dir_ctx *d, struct kvfs_dir_cur *fc,
		       uint32_t need, uint32_t *dblk, bool *found);
int kvfs_dir_hash_ins_reads(struct kvfs_dir_ctx *d, const char *name,
			    size_t len, struct kvfs_dir_cur *hc,
			    bool positioned, bool *room, bool *at);
/*
 * A name-hash cursor from a (hash, 0) lookup stands on a record of
 * another hash: no entry has a name of that hash, and the hash's record
 * would go where the cursor stands.  At the leaf's end it cannot say.
 */
bool kvfs_dir_hash_cur_past(const struct kvfs_btree_cur *cur, uint32_t hash);

#endif
