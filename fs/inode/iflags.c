// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_getflags() and kvfs_setflags() (fs/kvfs.h): chattr's flags, kept
 * in the inode core's flags field (KVFS_DIFLAG_*; XFS's
 * xfs_fileattr_get()/xfs_fileattr_set() with xfs_flags2diflags()).
 */
#include "fs/inode/iflags.h"

#include <linux/fs.h>

#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

_Static_assert(KVFS_FL_IMMUTABLE == FS_IMMUTABLE_FL, "FS_IMMUTABLE_FL");
_Static_assert(KVFS_FL_APPEND == FS_APPEND_FL, "FS_APPEND_FL");
_Static_assert(KVFS_FL_NODUMP == FS_NODUMP_FL, "FS_NODUMP_FL");
_Static_assert(KVFS_FL_NOATIME == FS_NOATIME_FL, "FS_NOATIME_FL");

static const struct {
	uint32_t fl, diflag;
} flag_map[] = {
	{ KVFS_FL_IMMUTABLE, KVFS_DIFLAG_IMMUTABLE },
	{ KVFS_FL_APPEND, KVFS_DIFLAG_APPEND },
	{ KVFS_FL_NODUMP, KVFS_DIFLAG_NODUMP },
	{ KVFS_FL_NOATIME, KVFS_DIFLAG_NOATIME },
};

#define FLAG_DIFLAGS                                                       \
	(KVFS_DIFLAG_IMMUTABLE | KVFS_DIFLAG_APPEND | KVFS_DIFLAG_NODUMP | \
	 KVFS_DIFLAG_NOATIME)

/* diflags into FS_*_FL (to_fl), or FS_*_FL into diflags, by flag_map */
static uint32_t map_flags(uint32_t in, bool to_fl)
{
	uint32_t out = 0;

	for (size_t i = 0; i < sizeof(flag_map) / sizeof(flag_map[0]); i++)
		if (in & (to_fl ? flag_map[i].diflag : flag_map[i].fl))
			out |= to_fl ? flag_map[i].fl : flag_map[i].diflag;
	return out;
}

int kvfs_getflags(struct kvfs_mount *mp, uint64_t ino, uint32_t *flags)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	*flags = map_flags(kvfs_iflags(ip), true);
	kvfs_iput(ip);
	return 0;
}

int kvfs_setflags(struct kvfs_mount *mp, uint64_t ino, uint32_t flags,
		  const struct kvfs_cred *cr)
{
	bool root = !cr || cr->uid == 0;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint32_t old, want;
	int err;

	if (flags & ~KVFS_FL_ALL)
		return -EOPNOTSUPP;
	if (mp->rdonly)
		return -EROFS;
	err = kvfs_iget(mp, ino, 0, &ip);
	if (err)
		return err;
	err = kvfs_file_trans_res(ip, &mp->resv.ichange, 0, &tp);
	if (err)
		goto out;
	old = ip->i_diflags;
	want = (old & ~FLAG_DIFLAGS) | map_flags(flags, false);
	if (!root && cr->uid != ip->i_uid)
		err = -EPERM;
	else if (!root &&
		 (old ^ want) & (KVFS_DIFLAG_IMMUTABLE | KVFS_DIFLAG_APPEND))
		err = -EPERM;
	if (err || old == want) {
		kvfs_trans_cancel(tp);
		goto out;
	}
	__atomic_store_n(&ip->i_diflags, want, __ATOMIC_RELAXED);
	kvfs_inode_now(&ip->i_ctime);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	err = kvfs_file_commit(tp, ip, false);
out:
	kvfs_iput(ip);
	return err;
}
