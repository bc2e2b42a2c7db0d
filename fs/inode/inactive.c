// SPDX-License-Identifier: GPL-2.0
/*
 * Inactivation (see fs/inode/inactive.h for the contract).
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/inode/ialloc.h"
#include "fs/io/blkhdr.h"
#include "fs/ns/attr.h"
#include "fs/inode/inactive.h"
#include "fs/ns/symlink.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/itruncate.h"
#include "fs/inode/iunlink.h"
#include "fs/mount.h"
#include "fs/inode/openref.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

bool kvfs_inode_needs_inactive(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;

	/*
	 * Nothing stands for the root at its number, and a sick inode's
	 * names are still there: a link count of 0 on either is damage for
	 * fsck.kvfs, not a file to free.
	 */
	return __atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&ip->i_nlink, __ATOMIC_RELAXED) &&
	       ip->i_ino != mp->g.rootino &&
	       !(atomic_load(&ip->i_flags) & KVFS_ISICK) &&
	       kvfs_iunlink_ready(mp, ip->i_ino) &&
	       !kvfs_openref_held_hint(mp->openrefs, ip->i_ino,
				       &ip->i_openref_hint) &&
	       !kvj_log_is_shutdown(mp->log);
}

/* Blocks, an attribute fork or a size: inactive_truncate() has work. */
static bool inactive_has_blocks(const struct kvfs_inode *ip)
{
	return ip->i_nextents || ip->i_nblocks || ip->i_forkoff ||
	       (S_ISREG(ip->i_mode) && ip->i_size);
}

bool kvfs_inode_free_at_unlink(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;

	/*
	 * Ours the only reference (the remover's): another holder is in
	 * the middle of something with it, and its put frees it as before.
	 * An open count is taken under the inode lock, which we hold
	 * exclusive: the answer holds to the commit.
	 */
	return ip->i_nlink == 1 && !inactive_has_blocks(ip) &&
	       atomic_load(&ip->i_count) == 1 &&
	       ip->i_ino != mp->g.rootino &&
	       !(atomic_load(&ip->i_flags) & KVFS_ISICK) &&
	       !kvfs_openref_held(mp->openrefs, ip->i_ino);
}

/* Every block of ip's data fork freed and its size 0, in bounded steps. */
static int inactive_truncate(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_trans *tp;
	int err;

	/*
	 * No blocks: unmapping from the end never allocates, and freeing a
	 * file must work on a full filesystem (XFS's xfs_inactive_truncate).
	 */
	err = kvfs_trans_alloc(mp, mp->resv.itruncate.log_bytes,
			       mp->resv.itruncate.log_count, 0, &tp);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_IOLOCK_EXCL | KVFS_ILOCK_EXCL);
	err = kvfs_trans_ijoin(tp, ip);
	if (err) {
		kvfs_iunlock(ip, KVFS_IOLOCK_EXCL | KVFS_ILOCK_EXCL);
		kvfs_trans_cancel(tp);
		return err;
	}
	/* attribute and symlink blocks first (symlink blocks invalidated) */
	err = kvfs_attr_inactive(&tp, ip);
	if (!err)
		err = kvfs_symlink_inactive(&tp, ip);
	if (!err)
		err = kvfs_itruncate_extents(&tp, ip, 0);
	if (err) {
		/* no transaction left: the inode lock went with it */
		if (tp)
			kvfs_trans_cancel(tp);
		kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
		return err;
	}
	/*
	 * A symbolic link or a directory keeps its size: the verifier
	 * refuses one of size 0, and a crash before the inode's own freeing
	 * leaves this inode on its list for the next mount, whose read of it
	 * then failed (EUCLEAN: "cannot free the unlinked inodes a crash
	 * left", tests/life orphans half_freed).  Without its blocks it is
	 * never read but to be freed.
	 */
	if (S_ISREG(ip->i_mode))
		ip->i_size = 0;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	err = kvfs_trans_commit(tp, NULL);
	kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
	return err;
}

/*
 * Off the unlinked list and freed, in one transaction.  A busy
 * predecessor on the list (-EAGAIN, nothing changed) is waited out by
 * cancelling and starting again: its holder needs nothing this thread
 * holds once the transaction is gone.
 */
static int inactive_ifree(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_trans *tp;
	int err;

	if (kvj_errtag(KVJ_ERRTAG_IFREE_FAIL))
		return -EIO;
	for (;;) {
		err = kvfs_trans_alloc_res(mp, &mp->resv.ifree, 0, &tp);
		if (err)
			return err;
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		err = kvfs_trans_ijoin(tp, ip);
		if (err) {
			kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
			kvfs_trans_cancel(tp);
			return err;
		}
		err = kvfs_iunlink_remove(tp, ip);
		if (err != -EAGAIN)
			break;
		kvfs_trans_cancel(tp);
		sched_yield();
	}
	if (!err)
		err = kvfs_difree(tp, ip);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	return kvfs_trans_commit(tp, NULL);
}

/*
 * A failure is recorded through the report path (fs/io/blkhdr.h), since
 * the put that called us returns nothing: the daemon logs it, tests see
 * it (kvfs_corrupt_count(), kvfs_stats()'s inode_inactive_failed).
 */
static int inactive_failed(struct kvfs_inode *ip, int err)
{
	struct kvfs_report r = {
		.err = err,
		.blkno = kvfs_ino_to_fsb(&ip->i_mount->g, ip->i_ino),
		.ino = ip->i_ino,
		.what = "unlinked inode",
	};

	snprintf(r.msg, sizeof(r.msg),
		 "freeing it failed (%s): left on its unlinked list for the "
		 "next mount",
		 strerror(-err));
	return kvfs_report(&r);
}

int kvfs_inactive(struct kvfs_inode *ip)
{
	int err = kvfs_iunlink_check(ip);

	if (err)
		return err;
	/* inline data (a short symbolic link or directory) has nothing to free */
	if (inactive_has_blocks(ip))
		err = inactive_truncate(ip);
	if (!err)
		err = inactive_ifree(ip);
	return err ? inactive_failed(ip, err) : 0;
}
