// SPDX-License-Identifier: GPL-2.0
/*
 * Inode creation and link counts (see fs/inode/icreate.h for the contract).
 */
#include <errno.h>
#include <sys/stat.h>

#include "fs/format/dinode.h"
#include "fs/format.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inode.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

bool kvfs_cred_in_group(const struct kvfs_cred *cr, uint32_t gid)
{
	unsigned i;

	if (cr->gid == gid)
		return true;
	for (i = 0; i < cr->ngroups; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

int kvfs_icreate(struct kvfs_trans *tp, struct kvfs_inode *dp, uint32_t mode,
		 uint64_t rdev, uint32_t nlink, const struct kvfs_cred *cr,
		 struct kvfs_inode **ipp)
{
	struct kvfs_mount *mp = tp->mp;
	struct kvfs_icreate_args a = {
		.nlink = nlink,
		.uid = cr->uid,
		.gid = cr->gid,
		.rdev = rdev,
	};

	/* an owner no system call could give it: Linux's may_o_create() */
	if (cr->uid == KVFS_ID_NONE || cr->gid == KVFS_ID_NONE)
		return -EOVERFLOW;
	if ((mode & ~(uint32_t)(S_IFMT | 07777)) ||
	    kvfs_mode_to_ftype((uint16_t)mode) == KVFS_FT_UNKNOWN)
		return -EINVAL;
	if (rdev && !S_ISCHR(mode) && !S_ISBLK(mode))
		return -EINVAL;
	if (dp && (dp->i_mode & S_ISGID)) {
		a.gid = dp->i_gid;
		if (S_ISDIR(mode))
			mode |= S_ISGID;
	}
	/* mode_strip_sgid(): S_ISGID without S_IXGRP is no privilege */
	if (!S_ISDIR(mode) &&
	    (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
	    cr->uid != 0 && !kvfs_cred_in_group(cr, a.gid))
		mode &= ~(uint32_t)S_ISGID;
	a.mode = (uint16_t)mode;
	return kvfs_dialloc(tp, dp ? dp->i_ino : mp->g.rootino, &a, ipp);
}
