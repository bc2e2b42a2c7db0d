// SPDX-License-Identifier: GPL-2.0
/*
 * chattr's ioctls for mount.kvfs (fs/fuse/fileattr.h).
 */
#include "fs/fuse/fileattr.h"

#include <errno.h>
#include <linux/fs.h>
#include <string.h>

#include "fs/kvfs.h"

/* fsxattr's xflags for the flags kvfs keeps (XFS's xfs_flags2diflags()) */
static const struct {
	uint32_t fl, xflag;
} xflag_map[] = {
	{ KVFS_FL_IMMUTABLE, FS_XFLAG_IMMUTABLE },
	{ KVFS_FL_APPEND, FS_XFLAG_APPEND },
	{ KVFS_FL_NODUMP, FS_XFLAG_NODUMP },
	{ KVFS_FL_NOATIME, FS_XFLAG_NOATIME },
};

#define NR_XFLAGS (sizeof(xflag_map) / sizeof(xflag_map[0]))

static uint32_t xflags_of(uint32_t fl)
{
	uint32_t x = 0;

	for (size_t i = 0; i < NR_XFLAGS; i++)
		if (fl & xflag_map[i].fl)
			x |= xflag_map[i].xflag;
	return x;
}

/* -EOPNOTSUPP for an xflag kvfs has no flag for */
static int fl_of_xflags(uint32_t x, uint32_t *fl)
{
	*fl = 0;
	for (size_t i = 0; i < NR_XFLAGS; i++)
		if (x & xflag_map[i].xflag) {
			*fl |= xflag_map[i].fl;
			x &= ~xflag_map[i].xflag;
		}
	return x ? -EOPNOTSUPP : 0;
}

int kvfs_fuse_fileattr(struct kvfs_mount *mp, uint64_t ino, unsigned cmd,
		       const struct kvfs_cred *cr, const void *in,
		       size_t in_size, void *out, size_t *out_size)
{
	struct fsxattr fa;
	uint32_t fl;
	int flags, err;

	switch (cmd) {
	case FS_IOC_GETFLAGS:
		if (*out_size < sizeof(flags))
			return -EINVAL;
		err = kvfs_getflags(mp, ino, &fl);
		if (err)
			return err;
		flags = (int)fl;
		memcpy(out, &flags, sizeof(flags));
		*out_size = sizeof(flags);
		return 0;
	case FS_IOC_SETFLAGS:
		if (in_size < sizeof(flags))
			return -EINVAL;
		memcpy(&flags, in, sizeof(flags));
		*out_size = 0;
		return kvfs_setflags(mp, ino, (uint32_t)flags, cr);
	case FS_IOC_FSGETXATTR:
		if (*out_size < sizeof(fa))
			return -EINVAL;
		err = kvfs_getflags(mp, ino, &fl);
		if (err)
			return err;
		memset(&fa, 0, sizeof(fa));
		fa.fsx_xflags = xflags_of(fl);
		memcpy(out, &fa, sizeof(fa));
		*out_size = sizeof(fa);
		return 0;
	case FS_IOC_FSSETXATTR:
		if (in_size < sizeof(fa))
			return -EINVAL;
		memcpy(&fa, in, sizeof(fa));
		*out_size = 0;
		/* no extent size hints nor projects: only what GET gave */
		if (fa.fsx_extsize || fa.fsx_projid || fa.fsx_cowextsize)
			return -EOPNOTSUPP;
		err = fl_of_xflags(fa.fsx_xflags, &fl);
		return err ? err : kvfs_setflags(mp, ino, fl, cr);
	default:
		return -ENOTTY;
	}
}
