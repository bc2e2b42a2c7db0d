/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The on-disk unlinked lists (XFS's xfs_iunlink() / xfs_iunlink_remove()):
 * an inode whose link count is zero but which is still allocated (open,
 * or being freed) is on its AG's list, so that a crash leaves a way to
 * find and free it.  Each AG's inode header has KVFS_AGI_UNLINKED_BUCKETS
 * bucket heads; inode agino goes on bucket agino % 64, at the head, and
 * the inodes of a bucket are chained by their next_unlinked.
 *
 * Every change is logged in the caller's transaction: the bucket head in
 * the inode header's buffer (buffer item), next_unlinked in the inode's
 * core (inode item).  Taking an inode off the middle of a bucket changes
 * its predecessor's next_unlinked, so the predecessor must be found
 * without walking the bucket from its head: each AG keeps, in memory, the
 * predecessor of every inode on its lists (a hash of agino to agino,
 * maintained with the lists).  The lists are empty after a read-write
 * mount (kvfs_iunlink_recover() frees what a crash or an earlier mount
 * left), so the map is built from nothing but those walks.
 *
 * Locking: the lists of an AG, its map and every next_unlinked of its
 * inodes on the lists are under the AG's lock, taken through the
 * transaction with the inode header (kvfs_ialloc_read_agi()) and held to
 * its commit; next_unlinked is also changed only under the inode's own
 * lock (it is logged with the core).  The inode moved is the caller's,
 * locked and joined.  Its predecessor's lock would be taken after the AG
 * lock, against the order (fs/mount.h): it is only trylocked, and when
 * busy kvfs_iunlink_remove() returns -EAGAIN having changed nothing (the
 * caller cancels its transaction, still clean as far as this goes, and
 * retries).  An inode on a list is always referenced by whoever holds it
 * open or is freeing it, so the predecessor is in the inode cache and the
 * reference taken on it here is never the last.
 */
#ifndef KV_FS_IUNLINK_H
#define KV_FS_IUNLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most links an inode may have (kvfs_bumplink(): -EMLINK). */
#define KVFS_MAX_LINK 0x7fffffffu

struct kvfs_inode;
struct kvfs_mount;
struct kvfs_trans;

/* The in-memory side of the lists: set up before the mount's first use. */
int kvfs_iunlink_init(struct kvfs_mount *mp);
void kvfs_iunlink_destroy(struct kvfs_mount *mp);

/*
 * Put ip (locked, joined to tp, link count 0) on its AG's list.  -EEXIST
 * if it is on it already; -EUCLEAN when the list's head is unknown to the
 * map, or the AG's lists were left unread at mount (reported); -EAGAIN
 * (AG order), -ENOMEM, -EIO: nothing changed.
 */
int kvfs_iunlink(struct kvfs_trans *tp, struct kvfs_inode *ip);
/*
 * Take ip (locked, joined to tp) off its AG's list.  -EAGAIN: its
 * predecessor is locked by somebody else, or the AG lock is out of
 * order; nothing changed.  -ENOENT: ip is not on a list.  -EUCLEAN: the
 * list on disk and the map disagree, or the AG's lists were left unread
 * at mount (reported).
 */
int kvfs_iunlink_remove(struct kvfs_trans *tp, struct kvfs_inode *ip);

/*
 * 0 if the lists of ino's AG can change; -EUCLEAN (reported) if they were
 * left unread at mount, which kvfs_iunlink() would say: for a transaction
 * that has to ask before it changes anything else.
 */
int kvfs_iunlink_usable(struct kvfs_mount *mp, uint64_t ino);

/*
 * Link counts of ip (locked, joined to tp): one more or one less, the core
 * logged, ctime now.  A count leaving zero takes ip off its list and one
 * reaching zero puts it on (errors as above; nothing changed on error).
 * -EMLINK at KVFS_MAX_LINK (bump); -EUCLEAN when dropping a count of
 * zero (reported).
 */
int kvfs_bumplink(struct kvfs_trans *tp, struct kvfs_inode *ip);
int kvfs_droplink(struct kvfs_trans *tp, struct kvfs_inode *ip);

/*
 * Before freeing ip (no links, referenced, nothing locked): 0 if it is on
 * its AG's list.  An inode with no links that no list holds was not
 * unlinked by this filesystem (a damaged link count, e.g. of a file a
 * directory still names, reached by its number): -EUCLEAN, reported, and
 * ip marked sick so that nothing frees it (XFS's
 * xfs_inode_unlinked_incomplete()).
 */
int kvfs_iunlink_check(struct kvfs_inode *ip);

/*
 * Mount (read-write, after log recovery, clean log or not: iunlink.c says
 * why): free every inode left on the unlinked lists (kvfs_inactive():
 * blocks, then the inode); *freed counts them.  The lists are read into
 * the predecessor maps first, every inode on them checked (allocated, no
 * links, in its bucket, at most the AG's inode count per list).  An AG
 * whose lists do not read (-EUCLEAN or -EBADMSG: its inode header or an
 * inode on them damaged) is reported and left unread, its inodes not
 * freed (kvfs_iunlink_unread() counts such AGs); the other AGs' are.
 * Other read errors; the errors of kvfs_inactive().
 */
int kvfs_iunlink_recover(struct kvfs_mount *mp, uint64_t *freed);
/*
 * AGs whose lists kvfs_iunlink_recover() left unread for damage; the
 * first one's, as reported, formatted into why (if any).
 */
uint32_t kvfs_iunlink_unread(struct kvfs_mount *mp, char *why, size_t len);
/*
 * The maps hold the lists of ino's AG (after kvfs_iunlink_recover() read
 * them, and the AG's read): until then nothing may change that AG's lists,
 * nor free an inode on them.
 */
bool kvfs_iunlink_ready(struct kvfs_mount *mp, uint64_t ino);

#endif
