// SPDX-License-Identifier: GPL-2.0
/*
 * Symbolic link targets (fs/ns/symlink.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/btree/bmap_btree.h"
#include "fs/data/bmap.h"
#include "fs/data/file.h"
#include "fs/io/buf_item.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/mem.h"
#include "fs/mount.h"
#include "fs/ns/symlink.h"
#include "fs/trans/trans.h"

static uint32_t per_block(const struct kvfs_geom *g)
{
	return g->blocksize - KVFS_SYMLINK_HDR_SIZE;
}

uint32_t kvfs_symlink_blocks(const struct kvfs_geom *g, size_t len)
{
	return (uint32_t)((len + per_block(g) - 1) / per_block(g));
}

static int symlink_blk_verify(const void *blk, size_t len,
			      const struct kvfs_geom *g, uint64_t blkno)
{
	const struct kvfs_symlink_hdr *h = blk;
	uint64_t owner = kv_le64_to_cpu(h->hdr.owner);
	uint32_t off = kv_le32_to_cpu(h->offset);
	uint32_t bytes = kv_le32_to_cpu(h->bytes);
	uint32_t per = per_block(g);
	const uint8_t *data = (const uint8_t *)blk + KVFS_SYMLINK_HDR_SIZE;
	int err;

	err = kvfs_blkhdr_verify(blk, len, KVFS_SYMLINK_MAGIC, blkno, owner,
				 g->meta_uuid, "symlink block");
	if (err)
		return err;
	if (!kvfs_ino_in_range(g, owner))
		return kvfs_corrupt(-EUCLEAN, blkno, "symlink block",
				    "owner %" PRIu64 " is not an inode", owner);
	if (!bytes || bytes > per || off % per ||
	    off + bytes > KVFS_SYMLINK_MAXLEN)
		return kvfs_corrupt(-EUCLEAN, blkno, "symlink block",
				    "holds bytes %u+%u of a target", off,
				    bytes);
	if (memchr(data, '\0', bytes) ||
	    !kvfs_mem_is_zero(data + bytes, per - bytes))
		return kvfs_corrupt(-EUCLEAN, blkno, "symlink block",
				    "target holds a NUL or is not followed "
				    "by zeros");
	return 0;
}

static int symlink_verify_read(struct kv_buf *bp)
{
	int err =
		symlink_blk_verify(bp->b_addr, bp->b_len,
				   kv_bcache_private(bp->b_cache), bp->b_blkno);

	return kvfs_buf_check_lsn(bp, err, "symlink block");
}

static int symlink_verify_write(struct kv_buf *bp)
{
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

const struct kv_buf_ops kvfs_symlink_buf_ops = {
	.name = "symlink block",
	.verify_read = symlink_verify_read,
	.verify_write = symlink_verify_write,
};

int kvfs_symlink_write(struct kvfs_trans *tp, struct kvfs_inode *ip,
		       const char *target, size_t len)
{
	struct kvfs_mount *mp = ip->i_mount;
	const struct kvfs_geom *g = &mp->g;
	uint32_t nblks = kvfs_symlink_blocks(g, len), per = per_block(g);
	uint32_t done = 0;

	if (!len)
		return -ENOENT;
	if (len > KVFS_SYMLINK_MAXLEN)
		return -ENAMETOOLONG;
	if (memchr(target, '\0', len))
		return -EINVAL;
	if (len + KVFS_SYMLINK_INLINE_SLACK <= kvfs_inode_dfork_size(ip)) {
		ip->i_dformat = KVFS_DFORK_INLINE;
		kvfs_inode_own_forks(ip);
		memset(ip->i_dfork, 0, kvfs_inode_dfork_size(ip));
		memcpy(ip->i_dfork, target, len);
		ip->i_size = len;
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE | KVFS_ILOG_DFORK);
		return 0;
	}
	while (done < nblks) {
		struct kvfs_bmap map[4];
		int nmap = 4;
		int err = kvfs_bmapi_write(tp, ip, done, nblks - done, 0, map,
					   &nmap);

		if (!err && !nmap)
			err = -ENOSPC;
		for (int i = 0; i < nmap && !err; i++) {
			for (uint64_t j = 0; j < map[i].blockcount; j++) {
				uint64_t fsb = map[i].startblock + j;
				uint32_t off = (done + (uint32_t)j) * per;
				uint32_t n = len - off < per ?
						     (uint32_t)len - off :
						     per;
				struct kvfs_symlink_hdr *h;
				struct kv_buf *bp;

				err = kvfs_trans_get_buf(tp->jt, mp->bl, fsb, 1,
							 &kvfs_symlink_buf_ops,
							 &bp);
				if (err)
					break;
				kvfs_blkhdr_init(bp->b_addr, KVFS_SYMLINK_MAGIC,
						 fsb, ip->i_ino, g->meta_uuid);
				h = bp->b_addr;
				memset((uint8_t *)bp->b_addr +
					       KVFS_BLK_HDR_SIZE,
				       0, g->blocksize - KVFS_BLK_HDR_SIZE);
				h->offset = kv_cpu_to_le32(off);
				h->bytes = kv_cpu_to_le32(n);
				memcpy((uint8_t *)bp->b_addr +
					       KVFS_SYMLINK_HDR_SIZE,
				       target + off, n);
				kvfs_trans_log_buf(tp->jt, bp, 0,
						   g->blocksize - 1);
			}
			done += (uint32_t)map[i].blockcount;
		}
		if (err)
			return err == -EOPNOTSUPP ? -ENOSPC : err;
	}
	ip->i_size = len;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE | KVFS_ILOG_DFORK);
	return 0;
}

int kvfs_symlink_read(struct kvfs_inode *ip, char *buf, size_t size)
{
	struct kvfs_mount *mp = ip->i_mount;
	const struct kvfs_geom *g = &mp->g;
	uint32_t per = per_block(g);
	uint64_t len;
	int err = 0;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	len = ip->i_size;
	if (!S_ISLNK(ip->i_mode)) {
		err = -EINVAL;
		goto out;
	}
	if (size < len + 1) {
		err = -ERANGE;
		goto out;
	}
	if (ip->i_dformat == KVFS_DFORK_INLINE) {
		memcpy(buf, ip->i_dfork, len);
		goto out;
	}
	for (uint32_t i = 0; i < kvfs_symlink_blocks(g, len) && !err; i++) {
		uint32_t want =
			len - i * per < per ? (uint32_t)len - i * per : per;
		const struct kvfs_symlink_hdr *h;
		struct kvfs_bmap map;
		struct kv_buf *bp;
		int nmap = 1;

		err = kvfs_bmapi_read(ip, i, 1, &map, &nmap);
		if (!err && map.startblock == KVFS_NULLBLOCK)
			err = kvfs_corrupt_inode(
				-EUCLEAN, kvfs_ino_to_fsb(g, ip->i_ino),
				ip->i_ino, "symlink block %u not mapped", i);
		if (!err)
			err = kv_buf_read(mp->bc, map.startblock, 1,
					  &kvfs_symlink_buf_ops, &bp);
		if (err) {
			/* a bad checksum is damage to the caller too */
			err = err == -EBADMSG ? -EUCLEAN : err;
			break;
		}
		kv_buf_lock(bp);
		h = bp->b_addr;
		if (kv_le64_to_cpu(h->hdr.owner) != ip->i_ino ||
		    kv_le32_to_cpu(h->offset) != i * per ||
		    kv_le32_to_cpu(h->bytes) != want)
			err = kvfs_corrupt(
				-EUCLEAN, bp->b_blkno, "symlink block",
				"not piece %u of inode %" PRIu64 "'s target", i,
				ip->i_ino);
		else
			memcpy(buf + i * per,
			       (const uint8_t *)bp->b_addr +
				       KVFS_SYMLINK_HDR_SIZE,
			       want);
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
out:
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	if (err)
		return err;
	buf[len] = '\0';
	return (int)len;
}

int kvfs_symlink_inactive(struct kvfs_trans **tpp, struct kvfs_inode *ip)
{
	struct kvfs_trans *tp = *tpp;
	struct kvfs_mount *mp = ip->i_mount;

	if (!S_ISLNK(ip->i_mode) || ip->i_dformat != KVFS_DFORK_EXTENTS)
		return 0;
	while (ip->i_nextents) {
		const struct kvfs_extent *x = (const void *)ip->i_dfork;
		uint64_t off = kv_le64_to_cpu(x->startoff);
		uint64_t fsb = kv_le64_to_cpu(x->startblock);
		uint32_t len = kv_le32_to_cpu(x->blockcount);
		uint64_t rem = len;
		int err = 0;

		for (uint32_t i = 0; i < len && !err; i++) {
			struct kv_buf *bp;

			err = kvfs_trans_get_buf(tp->jt, mp->bl, fsb + i, 1,
						 &kvfs_symlink_buf_ops, &bp);
			if (!err)
				kvfs_trans_binval(tp->jt, bp);
		}
		while (rem && !err)
			err = kvfs_bunmapi(tp, ip, off, rem, 1, &rem);
		if (!err)
			err = kvfs_trans_roll(tp, NULL);
		if (err)
			return err;
	}
	return 0;
}

int kvfs_symlink_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
		       uint64_t ino, uint64_t size, const void *xp, uint32_t n,
		       char *why, size_t whylen)
{
	const struct kvfs_extent *x = xp;
	uint32_t per = per_block(g), nblks = kvfs_symlink_blocks(g, size);
	uint64_t mapped = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = kv_le64_to_cpu(x[i].startoff);
		uint64_t fsb = kv_le64_to_cpu(x[i].startblock);
		uint32_t len = kv_le32_to_cpu(x[i].blockcount);
		/* a dry run of fsck keeps the extents it would cut */
		const char *bad = kvfs_extent_check(g, &x[i]);

		if (bad) {
			snprintf(why, whylen, "symlink extent %u %s", i, bad);
			return -EUCLEAN;
		}
		mapped += len;
		for (uint32_t j = 0; j < len; j++) {
			const struct kvfs_symlink_hdr *h;
			uint64_t lblk = off + j;
			uint32_t want;
			struct kv_buf *bp;
			int err;

			if (lblk >= nblks) {
				snprintf(why, whylen,
					 "symlink maps block %" PRIu64
					 " past its %u blocks",
					 lblk, nblks);
				return -EUCLEAN;
			}
			want = size - lblk * per < per ?
				       (uint32_t)(size - lblk * per) :
				       per;
			err = kv_buf_read(bc, fsb + j, 1, &kvfs_symlink_buf_ops,
					  &bp);
			if (err == -EUCLEAN || err == -EBADMSG) {
				snprintf(why, whylen,
					 "symlink block %" PRIu64 ": %s", lblk,
					 kv_buf_last_error());
				return -EUCLEAN;
			}
			if (err)
				return err;
			kv_buf_lock(bp);
			h = bp->b_addr;
			if (kv_le64_to_cpu(h->hdr.owner) != ino ||
			    kv_le32_to_cpu(h->offset) != lblk * per ||
			    kv_le32_to_cpu(h->bytes) != want)
				err = -EUCLEAN;
			kv_buf_unlock(bp);
			kv_buf_rele(bp);
			if (err) {
				snprintf(why, whylen,
					 "symlink block %" PRIu64
					 " is not its piece of the target",
					 lblk);
				return err;
			}
		}
	}
	if (mapped != nblks) {
		snprintf(why, whylen,
			 "symlink of %" PRIu64 " bytes maps %" PRIu64
			 " blocks, not %u",
			 size, mapped, nblks);
		return -EUCLEAN;
	}
	return 0;
}

int kvfs_readlink(struct kvfs_mount *mp, uint64_t ino, char *buf, size_t size)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	err = kvfs_symlink_read(ip, buf, size);
	/*
	 * readlink(2) and a walk through the link read it: atime per the
	 * mount's rule, as on a local filesystem (the kernel keeps no atime
	 * of a FUSE inode itself)
	 */
	if (err >= 0)
		kvfs_file_touch_atime(ip);
	kvfs_iput(ip);
	return err;
}
