// SPDX-License-Identifier: GPL-2.0
/*
 * Space of regular files (fs/data/file.h): fallocate, punch, zero range, and
 * the unmapping that truncate and the trimming of preallocation share
 * (XFS's xfs_bmap_util.c).
 */
#include <errno.h>
#include <linux/falloc.h>

#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/iflags.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

#define MAP_MAX 16

int kvfs_file_unmap(struct kvfs_inode *ip, uint64_t fb, uint64_t len)
{
	struct kvfs_mount *mp = ip->i_mount;
	uint64_t max = kvfs_max_fileoff_blocks(&mp->g), rem;
	int err = 0;

	if (fb >= max || !len)
		return 0;
	rem = len < max - fb ? len : max - fb;
	/*
	 * One extent per transaction: its commit logs the extent-free
	 * intent and finishes the free (fs/space/extfree_item.h), so the log
	 * space of a truncate is bounded whatever the file's size.
	 */
	while (rem && !err) {
		struct kvfs_trans *tp;

		err = kvfs_file_trans_res(ip, &mp->resv.itruncate, 0, &tp);
		/*
		 * An unmap frees: on a full filesystem its split (a punch
		 * cuts a record in two) from the blocks kept for removals,
		 * as XFS's xfs_unmap_extent() reserves with
		 * XFS_TRANS_RESERVE; else a punch failed with ENOSPC once
		 * the write back had taken its reserve (mount.kvfs).
		 */
		if (err == -ENOSPC)
			err = kvfs_file_trans_reserved(ip, &mp->resv.itruncate,
						       &tp);
		if (err)
			break;
		if (!ip->i_nextents) {
			kvfs_trans_cancel(tp);
			break;
		}
		if (kvj_errtag(KVJ_ERRTAG_FILE_UNMAP_NOSPC)) {
			kvfs_trans_cancel(tp);
			err = -ENOSPC;
			break;
		}
		err = kvfs_bunmapi(tp, ip, fb, rem, 1, &rem);
		if (err) {
			kvfs_trans_cancel(tp);
			break;
		}
		err = kvfs_file_commit(tp, ip, true);
	}
	return err;
}

int kvfs_file_drop_stale(struct kvfs_inode *ip, uint64_t size)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint64_t max = kvfs_max_fileoff_blocks(g);
	uint64_t cur = (size + g->blocksize - 1) >> g->blocklog;

	while (cur < max) {
		struct kvfs_bmap map[MAP_MAX];
		int nmap = MAP_MAX, err;

		err = kvfs_file_map(ip, cur, max - cur, map, &nmap);
		if (err)
			return err;
		for (int i = 0; i < nmap; i++) {
			if (map[i].startblock == KVFS_NULLBLOCK ||
			    map[i].flags & KVFS_BMAP_UNWRITTEN)
				continue;
			err = kvfs_file_unmap(ip, map[i].startoff,
					      map[i].blockcount);
			if (err)
				return err;
		}
		cur = map[nmap - 1].startoff + map[nmap - 1].blockcount;
	}
	return 0;
}

/* Holes among file blocks [fb, fb + len). */
static int count_holes(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
		       uint64_t *holes)
{
	uint64_t cur = fb, end = fb + len;

	*holes = 0;
	while (cur < end) {
		struct kvfs_bmap map[MAP_MAX];
		int nmap = MAP_MAX, err;

		err = kvfs_file_map(ip, cur, end - cur, map, &nmap);
		if (err)
			return err;
		for (int i = 0; i < nmap; i++)
			if (map[i].startblock == KVFS_NULLBLOCK)
				*holes += map[i].blockcount;
		cur = map[nmap - 1].startoff + map[nmap - 1].blockcount;
	}
	return 0;
}

int kvfs_file_alloc_unwritten(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
			      uint64_t size)
{
	struct kvfs_mount *mp = ip->i_mount;
	uint64_t holes, cur = fb, end = fb + len;
	struct kvfs_trans *tp;
	int err;

	err = count_holes(ip, fb, len, &holes);
	if (err)
		return err;
	/* every hole's blocks reserved up front: -ENOSPC changes nothing */
	err = kvfs_file_trans_res(ip, &mp->resv.write, holes, &tp);
	if (err)
		return err;
	while (holes && cur < end) {
		uint64_t start = cur;

		while (cur < end) {
			struct kvfs_bmap m;
			int nmap = 1;

			err = kvfs_bmapi_write(tp, ip, cur, end - cur,
					       KVFS_BMAPI_PREALLOC, &m, &nmap);
			if (err)
				break;
			cur = m.startoff + m.blockcount;
			if (cur < end)
				err = kvfs_trans_roll(tp, NULL);
			if (err)
				break;
		}
		/*
		 * The reservation holds one extent-tree change: once the
		 * tree changed, what is left of it may be kept back for the
		 * next change (fs/data/bmap.c).  Go on under a new one for the
		 * rest, as XFS's xfs_alloc_file_space takes a transaction
		 * per chunk; only a reservation that cannot be had, or one
		 * that made no progress, is out of space.
		 */
		if (err != -ENOSPC || cur == start || cur >= end)
			break;
		err = kvfs_file_commit(tp, ip, true);
		if (!err)
			err = count_holes(ip, cur, end - cur, &holes);
		if (!err)
			err = kvfs_file_trans_res(ip, &mp->resv.write, holes,
						  &tp);
		if (err)
			return err;
	}
	if (err && err != -EOPNOTSUPP && err != -ENOSPC) {
		kvfs_trans_cancel(tp);
		return err;
	}
	/* a full fork keeps what was allocated (no extent B+tree yet) */
	if (!err && size > ip->i_size) {
		ip->i_size = size;
		kvfs_conv_size_set(ip);
	}
	/* blocks past EOF on purpose: no close trims them */
	if (end > (ip->i_size + mp->g.blocksize - 1) >> mp->g.blocklog)
		__atomic_store_n(&ip->i_diflags,
				 ip->i_diflags | KVFS_DIFLAG_PREALLOC,
				 __ATOMIC_RELAXED);
	kvfs_inode_now(&ip->i_ctime);
	ip->i_mtime = ip->i_ctime;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	if (err) {
		kvfs_file_commit(tp, ip, true);
		return err;
	}
	return kvfs_file_commit(tp, ip, true);
}

/*
 * Zero bytes [off, end) of ip: the whole blocks unmapped, then the partial
 * blocks at the edges rewritten (as XFS's xfs_free_file_space()), so that
 * a punch refused for room at its first unmap (a split, fs/data/bmap.h)
 * has changed no byte.
 */
static int punch_range(struct kvfs_inode *ip, uint64_t off, uint64_t end)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint64_t mask = g->blocksize - 1, eb = end & ~mask;
	uint64_t fb = (off + mask) >> g->blocklog, fe = end >> g->blocklog;
	int err;

	/* written blocks pending conversion lose no byte outside the range */
	err = kvfs_conv_settle_range(ip, off >> g->blocklog,
				     (end + mask) >> g->blocklog);
	if (!err && fe > fb)
		err = kvfs_file_unmap(ip, fb, fe - fb);
	if (!err && off & mask)
		err = kvfs_file_zero_partial(
			ip, off,
			(end < ((off | mask) + 1) ? end : (off | mask) + 1) -
				off);
	/* the last block, unless the first one covered it */
	if (!err && end & mask && eb >= off)
		err = kvfs_file_zero_partial(ip, eb, end - eb);
	return err;
}

int kvfs_fallocate(struct kvfs_mount *mp, uint64_t ino, int mode, off_t off,
		   off_t len)
{
	const struct kvfs_geom *g = &mp->g;
	uint64_t end, fb, fe, holes;
	struct kvfs_inode *ip;
	int err;

	switch (mode) {
	case 0:
	case FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE:
	case FALLOC_FL_ZERO_RANGE:
	case FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE:
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (off < 0 || len <= 0)
		return -EINVAL;
	if ((uint64_t)len > KVFS_MAX_FILE_OFFSET - (uint64_t)off)
		return -EFBIG;
	if (mp->rdonly)
		return -EROFS;
	err = kvfs_file_get(mp, ino, &ip);
	if (err)
		return err;
	/* an allocation past EOF only adds (Linux's vfs_fallocate()) */
	err = mode & ~FALLOC_FL_KEEP_SIZE ? kvfs_iflags_may_change(ip) :
					    kvfs_iflags_may_add(ip);
	if (err) {
		kvfs_iput(ip);
		return err;
	}
	end = (uint64_t)off + (uint64_t)len;
	fb = (uint64_t)off >> g->blocklog;
	fe = (end + g->blocksize - 1) >> g->blocklog;
	kvfs_ilock(ip, KVFS_IOLOCK_EXCL);
	/*
	 * Every mode may take the room the extent list has for the records
	 * of pending ranges that keep no blocks (a new extent, a punch's
	 * split): they go first, while the list has it (fs/data/convert.h).
	 */
	err = kvfs_conv_settle_unkept(ip);
	if (err)
		goto out;
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		err = punch_range(ip, (uint64_t)off, end);
		if (!err)
			err = kvfs_file_stamp(ip);
		goto out;
	}
	if (mode & FALLOC_FL_ZERO_RANGE) {
		/*
		 * The blocks the range will need once punched are its holes
		 * now (what is punched is given back first): refuse before
		 * punching anything when they are not free.
		 */
		err = count_holes(ip, fb, fe - fb, &holes);
		if (!err &&
		    (int64_t)(holes + mp->resv.write.blocks + mp->resblks +
			      kvfs_wbfloor(mp)) > atomic_load(&mp->fdblocks))
			err = -ENOSPC;
		if (!err)
			err = punch_range(ip, (uint64_t)off, end);
		if (err)
			goto out;
	}
	/*
	 * Blocks kept past EOF on purpose are not trimmed at close: the
	 * speculative ones are trimmed now, and the trim is off.
	 */
	if (mode & FALLOC_FL_KEEP_SIZE && end > ip->i_size &&
	    kvfs_file_spec_take(ip)) {
		err = kvfs_file_trim_eof(ip);
		if (err)
			goto out;
	}
	err = kvfs_file_alloc_unwritten(ip, fb, fe - fb,
					mode & FALLOC_FL_KEEP_SIZE ? 0 : end);
out:
	kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
	kvfs_iput(ip);
	return err;
}
