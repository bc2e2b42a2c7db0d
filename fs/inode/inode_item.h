/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The inode log item (XFS's xfs_inode_item.c and xfs_inode_item_recover.c):
 * how in-core inodes (fs/inode/inode.h) take part in transactions.
 *
 * A transaction locks an inode exclusively (kvfs_ilock(ip,
 * KVFS_ILOCK_EXCL)), joins it (kvfs_trans_ijoin()), changes its in-core
 * fields and names what it changed with kvfs_trans_log_inode(); commit or
 * cancel unlocks the inode.  The delta (fs/format.h: struct
 * kvfs_inode_log_format, struct kvfs_log_dinode, then the data fork) holds
 * the core, encoded from the in-core inode, and the data fork if it
 * changed since the inode was last written back: never the cluster
 * buffer.  An inode relogged in the same checkpoint context rewrites its
 * delta in place.
 *
 * The item holds a reference on the inode's cluster buffer from the first
 * change until the AIL writes the inode back, so that write-back reads
 * nothing: the AIL's push copies the in-core inode into its slot of the
 * cluster buffer (core and forks), stamps that inode alone with the
 * checkpoint's LSN, recomputes its crc and writes the buffer; the AIL then
 * flushes the device before the log tail passes the item.  An inode whose
 * item is pinned (its checkpoint not yet durable) or whose cluster buffer
 * is pinned by a buffer item is not written back (the AIL forces the
 * log).
 *
 * Recovery replays each delta into the inode's slot of its cluster
 * buffer, in log order with the buffer deltas, unless the inode there
 * verifies (magic, owner, crc) and carries an LSN at least as new, or the
 * cluster block was freed (a buffer cancel: a freed chunk, fs/inode/ialloc.h)
 * in the delta's checkpoint or a later one; replayed
 * clusters are written back at the end, or whenever
 * KVFS_ILI_RECOVER_LIMIT of them are held.
 */
#ifndef KV_FS_INODE_ITEM_H
#define KV_FS_INODE_ITEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/io/buf.h"
#include "fs/format/geom.h"
#include "fs/inode/inode.h"
#include "journal/journal.h"

struct kvfs_rec_bufs;
struct kvfs_trans;

/* The journal item type of inode deltas. */
#define KVFS_ITEM_INODE (KVJ_ITEM_CLIENT + 1)

/* Set up / tear down ip's item (the inode cache calls these). */
void kvfs_inode_item_init(struct kvfs_inode *ip, struct kvj_log *log);
/*
 * Drop what the item holds (its cluster buffer reference) when the inode
 * is freed: the journal no longer reaches it.
 */
void kvfs_inode_item_teardown(struct kvfs_inode *ip);
/* Nothing logged since the last write-back, not pinned, not in the AIL. */
bool kvfs_inode_item_clean(struct kvfs_inode *ip);

/*
 * Join ip, which the caller holds locked KVFS_ILOCK_EXCL and referenced,
 * to tp: commit or cancel unlocks it (the reference stays the caller's);
 * it stays joined across rolls, logged again in each (kvj_trans_roll()).
 * Takes a reference on its cluster buffer if the item holds none (read
 * and checked if not cached).  On error the inode is not joined and still
 * locked.  Joining it again in the same transaction does nothing.
 */
int kvfs_trans_ijoin(struct kvfs_trans *tp, struct kvfs_inode *ip);
/*
 * ip is joined to tp (locked by it): callable without the inode lock,
 * since only tp's own thread can make it true or, by ending tp, false.
 */
bool kvfs_trans_ijoined(struct kvfs_trans *tp, struct kvfs_inode *ip);
/* The fields of joined ip named by KVFS_ILOG_* were changed in tp. */
void kvfs_trans_log_inode(struct kvfs_trans *tp, struct kvfs_inode *ip,
			  unsigned fields);

/*
 * The AIL's write-back of a new chunk's cluster buffer bp (an ordered
 * buffer, kvfs_trans_ordered_buf()'s write hook; priv: the mount): the
 * cluster's inodes that an inode push would write with its own (in the
 * AIL, unpinned, changed, not held: trylocks only) are copied into bp
 * first, each stamped with its own item's LSN, and once bp is written
 * their items hold no change and no buffer reference, so their pushes
 * find nothing to write.  Otherwise the blocks were written as the chunk
 * was made, then again for the inodes made in them since: twice a block
 * in a stream of creates.  Returns kv_buf_write()'s result.
 */
int kvfs_icluster_write(struct kv_buf *bp, void *priv);

/*
 * Recovery: fill ops (for struct kvj_log_params.recover) with inode replay
 * over bc in geometry g; bops: the buffer replay of the same recovery
 * (kvfs_bli_recover_ops()), whose cancels say which clusters were freed.
 * Free with kvfs_inode_recover_free() after kvj_log_open() returned,
 * whatever it returned.
 *
 * A delta is skipped when a cancel of its block is in its checkpoint too:
 * a freed block is busy until the checkpoint of its free is durable
 * (fs/space/extent_busy.h), so whatever uses it again, a new chunk's inode
 * included, is logged in a later checkpoint: a delta beside a cancel is
 * older than the free.
 */
#define KVFS_ILI_RECOVER_LIMIT 4096
int kvfs_inode_recover_ops(struct kv_bcache *bc, const struct kvfs_geom *g,
			   const struct kvj_recover_ops *bops,
			   struct kvj_recover_ops *ops);
void kvfs_inode_recover_free(struct kvj_recover_ops *ops);

/*
 * For the recoveries that replay into inode clusters (this one and the
 * icreate item's): write back, as inode buffers, the clusters of t that
 * replay changed, release every buffer and empty t.  stale (recovery
 * failed), or after a failed write, what replay left in them is not
 * cached.  A failed write is reported as in structure what; *written
 * (when not NULL) counts the writes.  0 or the first write's -errno.
 */
int kvfs_icluster_rec_write_all(struct kvfs_rec_bufs *t, bool stale,
				const char *what, uint64_t *written);

struct kvfs_inode_recover_stats {
	uint64_t deltas; /* inode deltas seen */
	uint64_t applied; /* written into their inode */
	uint64_t skipped; /* the inode on disk was already as new */
	uint64_t written; /* cluster buffers written back */
};
void kvfs_inode_recover_get_stats(const struct kvj_recover_ops *ops,
				  struct kvfs_inode_recover_stats *st);

#endif
