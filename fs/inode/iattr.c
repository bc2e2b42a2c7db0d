// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_setattr() (fs/kvfs.h; XFS's xfs_iops.c xfs_setattr_nonsize() and
 * xfs_setattr_size()): every attribute in one transaction; a size change
 * then frees the blocks past the new size.
 *
 * Truncate down: the tail of the new last block is zeroed on disk first
 * (the invariant of fs/data/file.h), then the transaction sets the size and
 * goes on, rolling, to unmap the blocks past it (kvfs_itruncate_extents(),
 * as xfs_setattr_size()).  A crash after the first commit leaves the new
 * size with blocks past EOF still mapped, which is consistent (the next
 * truncate or trim frees them).
 */
#include <errno.h>
#include <sys/stat.h>

#include "fs/data/convert.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/iflags.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/itruncate.h"
#include "fs/kvfs.h"
#include "fs/kvfs_fs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

#define SET_ALL                                                        \
	(KVFS_SET_MODE | KVFS_SET_UID | KVFS_SET_GID | KVFS_SET_SIZE | \
	 KVFS_SET_ATIME | KVFS_SET_MTIME | KVFS_SET_ATIME_NOW |        \
	 KVFS_SET_MTIME_NOW | KVFS_SET_CTIME | KVFS_SET_KILL_SUIDGID | \
	 KVFS_SET_KEEP_CMTIME | KVFS_SET_WRITTEN_CMTIME)

static bool cred_in_group(const struct kvfs_cred *cr, uint32_t gid)
{
	if (cr->gid == gid)
		return true;
	for (unsigned i = 0; i < cr->ngroups; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

static struct kvfs_ictime ictime_of(const struct timespec *ts)
{
	return (struct kvfs_ictime){ .sec = ts->tv_sec,
				     .nsec = (uint32_t)ts->tv_nsec };
}

/*
 * The changes v may make to ip, by its flags (fs/inode/iflags.h; Linux's
 * notify_change(), vfs_truncate() and vfs_utimes()): a size, a mode, an
 * owner or times given refuse on an immutable or append-only inode,
 * times set to now on an immutable one.  Times given that the kernel
 * keeps for the caller (KVFS_SET_KEEP_CMTIME: FUSE's writeback cache,
 * which sends the times of its own writes so) count as set to now: an
 * append-only file's writer sends them.  The stamps of writes the cache
 * took before an immutable flag (KVFS_SET_WRITTEN_CMTIME) pass as their
 * pages do.
 */
static int setattr_flags_ok(const struct kvfs_inode *ip, unsigned v)
{
	bool given = (v & KVFS_SET_ATIME && !(v & KVFS_SET_ATIME_NOW)) ||
		     (v & KVFS_SET_MTIME && !(v & KVFS_SET_MTIME_NOW));

	if (v & (KVFS_SET_MODE | KVFS_SET_UID | KVFS_SET_GID | KVFS_SET_SIZE) ||
	    (given && !(v & KVFS_SET_KEEP_CMTIME)))
		return kvfs_iflags_may_change(ip);
	if (v & KVFS_SET_WRITTEN_CMTIME && !(v & KVFS_SET_ATIME))
		return 0;
	if (v & (KVFS_SET_ATIME | KVFS_SET_MTIME))
		return kvfs_iflags_may_add(ip);
	return 0;
}

/* The changes other than the size, into ip (locked, joined). */
static void set_nonsize(struct kvfs_inode *ip, const struct kvfs_setattr *sa,
			const struct kvfs_cred *cr,
			const struct kvfs_ictime *now)
{
	unsigned v = sa->valid;
	bool root = !cr || cr->uid == 0;
	bool set_uid = v & KVFS_SET_UID && sa->uid != KVFS_ID_NONE;
	bool set_gid = v & KVFS_SET_GID && sa->gid != KVFS_ID_NONE;
	uint32_t gid = set_gid ? sa->gid : ip->i_gid;
	/* the group before a chown, as Linux's chown_common() judges it */
	bool outsider = !root && !cred_in_group(cr, ip->i_gid);

	if (v & (KVFS_SET_UID | KVFS_SET_GID) && !(v & KVFS_SET_MODE) &&
	    !root && !S_ISDIR(ip->i_mode)) {
		ip->i_mode &= (uint16_t)~S_ISUID;
		if (ip->i_mode & S_IXGRP)
			ip->i_mode &= (uint16_t)~S_ISGID;
	}
	/* chown(2)'s -1: the id kept, the rest of the chown done */
	if (set_uid)
		ip->i_uid = sa->uid;
	if (set_gid)
		ip->i_gid = sa->gid;
	if (v & KVFS_SET_MODE) {
		uint16_t mode = (uint16_t)(sa->mode & 07777);

		if (!root && !cred_in_group(cr, gid))
			mode &= (uint16_t)~S_ISGID;
		ip->i_mode = (uint16_t)((ip->i_mode & S_IFMT) | mode);
	}
	/* Linux's should_remove_suid(): SGID of a group-executable file, or
	 * of any file when the caller could not have set it; never of a
	 * directory (a chown(dir, -1, -1) keeps its SGID) */
	if (v & KVFS_SET_KILL_SUIDGID && !S_ISDIR(ip->i_mode)) {
		ip->i_mode &= (uint16_t)~S_ISUID;
		if (ip->i_mode & S_IXGRP || outsider)
			ip->i_mode &= (uint16_t)~S_ISGID;
	}
	if (v & KVFS_SET_ATIME)
		ip->i_atime =
			v & KVFS_SET_ATIME_NOW ? *now : ictime_of(&sa->atime);
	if (v & KVFS_SET_MTIME)
		ip->i_mtime =
			v & KVFS_SET_MTIME_NOW ? *now : ictime_of(&sa->mtime);
}

int kvfs_setattr(struct kvfs_mount *mp, uint64_t ino,
		 const struct kvfs_setattr *sa, const struct kvfs_cred *cr,
		 struct kvfs_stat *st)
{
	const struct kvfs_geom *g = &mp->g;
	unsigned v = sa->valid, iolock = 0;
	bool trunc = false;
	uint64_t old = 0;
	struct kvfs_inode *ip;
	struct kvfs_ictime now;
	struct kvfs_trans *tp;
	int err;

	if (v & ~SET_ALL)
		return -EINVAL;
	if (v && mp->rdonly)
		return -EROFS;
	err = kvfs_iget(mp, ino, 0, &ip);
	if (err)
		return err;
	err = setattr_flags_ok(ip, v);
	if (err)
		goto out;
	if (v & KVFS_SET_SIZE) {
		if (S_ISDIR(ip->i_mode))
			err = -EISDIR;
		else if (!S_ISREG(ip->i_mode))
			err = -EINVAL;
		else if (sa->size > KVFS_MAX_FILE_OFFSET)
			err = -EFBIG;
		if (err)
			goto out;
		iolock = KVFS_IOLOCK_EXCL;
		kvfs_ilock(ip, iolock);
		old = ip->i_size;
		/* growing: nothing stale past the old end in the new size */
		if (sa->size > old)
			err = kvfs_file_drop_stale(ip, old);
		if (err)
			goto out;
		/* the bytes past the new size in its last block read zeros */
		if (sa->size < old && sa->size & (g->blocksize - 1))
			err = kvfs_file_zero_partial(
				ip, sa->size,
				g->blocksize - (sa->size & (g->blocksize - 1)));
		if (err)
			goto out;
	}
	if (v & KVFS_SET_SIZE)
		/*
		 * Down, or to the same size: everything past the new last
		 * block goes, speculative or not (a crash in the middle of a
		 * truncate leaves blocks past the size it set: truncating
		 * again frees them, as in XFS).  Up: only speculative blocks
		 * are trimmed.
		 */
		trunc = kvfs_file_spec_take(ip) || sa->size <= old;
	if (v) {
		bool keep = (v & KVFS_SET_KEEP_CMTIME) && S_ISREG(ip->i_mode);

		/*
		 * A truncate only cuts from the end, down or up (the
		 * speculative blocks past the new size): it frees space and
		 * works on a full filesystem.  A growing one took itruncate's
		 * split blocks, and ftruncate() up got ENOSPC there (fsx on a
		 * full image under the writeback cache, 9 to 16 times in
		 * 3000 operations).
		 */
		if (trunc)
			err = kvfs_file_trans_shrink(ip, &tp);
		else
			err = kvfs_file_trans_res(ip,
						  trunc ? &mp->resv.itruncate :
							  &mp->resv.ichange,
						  0, &tp);
		if (err)
			goto out;
		kvfs_inode_now(&now);
		set_nonsize(ip, sa, cr, &now);
		if (v & KVFS_SET_SIZE) {
			ip->i_size = sa->size;
			kvfs_conv_size_set(ip);
			if (!(v & KVFS_SET_MTIME) && !keep)
				ip->i_mtime = now;
		}
		if (v & KVFS_SET_CTIME)
			ip->i_ctime = ictime_of(&sa->ctime);
		else if (!keep)
			ip->i_ctime = now;
		/* nothing is left past EOF to keep */
		if (trunc)
			__atomic_store_n(&ip->i_diflags,
					 ip->i_diflags & ~KVFS_DIFLAG_PREALLOC,
					 __ATOMIC_RELAXED);
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
		/* the size commits first: a crash leaves blocks past EOF */
		if (trunc)
			err = kvfs_itruncate_extents(&tp, ip, sa->size);
		if (err) {
			kvfs_trans_cancel(tp);
			goto out;
		}
		err = kvfs_file_commit(tp, ip, v & KVFS_SET_SIZE);
		if (err)
			goto out;
	}
	if (st) {
		kvfs_ilock(ip, KVFS_ILOCK_SHARED);
		kvfs_inode_stat(ip, st);
		kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	}
out:
	if (iolock)
		kvfs_iunlock(ip, iolock);
	kvfs_iput(ip);
	return err;
}
