// SPDX-License-Identifier: GPL-2.0
/*
 * The filesystem part of the public API (fs/kvfs.h): open, close, sync,
 * statfs, the root, getattr, open references and O_TMPFILE.
 *
 * Open references: kvfs_inode_open() counts one by inode number
 * (fs/inode/openref.h), without keeping the in-core inode; the last
 * kvfs_inode_close() of an inode with no links frees it.  An inode with no
 * links and no open reference cannot be opened again (-ENOENT): it is
 * being freed, or is about to be.  An open takes its count under the
 * inode lock (shared is enough: link counts change under the exclusive
 * lock), so it either sees the links before an unlink drops the last one,
 * and then keeps the inode alive, or sees none and fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/data/convert.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inodegc.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/iunlink.h"
#include "fs/inode/iflags.h"
#include "fs/kvfs_fs.h"
#include "fs/mount.h"
#include "fs/inode/openref.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

int kvfs_open(const char *path, const struct kvfs_open_opts *o,
	      struct kvfs_mount **mpp, struct kvfs_open_info *info)
{
	static const struct kvfs_open_opts defaults;
	struct kvfs_mount_opts mo = { 0 };
	struct kvfs_mount *mp;
	int err;

	if (!o)
		o = &defaults;
	if (o->atime > KVFS_ATIME_STRICT)
		return -EINVAL;
	mo.rdonly = o->rdonly;
	mo.cache_bytes = o->cache_bytes;
	mo.threads = o->threads;
	mo.push_interval_ms = o->commit_ms ? o->commit_ms : KVFS_COMMIT_MS;
	mo.direct_io = o->direct_io;
	mo.settle_ms = o->settle_ms;
	err = kvfs_mount_open(path, &mo, &mp);
	if (err)
		return err;
	mp->atime = o->atime;
	mp->wsync = o->sync;
	mp->wbblks = o->rdonly ? 0 : kvfs_wbblks(&mp->g, o->wb_reserve_bytes);
	/*
	 * A mount that met corruption left the error state (fs/mount.h
	 * errors_seen), and it stays until fsck.kvfs ran; this one leaves it
	 * too when an AG's unlinked lists did not read.
	 */
	mp->errors_seen = mp->state_at_open & KVFS_STATE_ERRORS;
	mp->corrupt_at_open = kv_bcache_reports(mp->bc);
	if (info) {
		info->recovered = !mp->ri.was_clean && !mp->ri.was_empty;
		info->orphans = mp->orphans;
		info->errors = mp->errors_seen;
		info->lists_unread = kvfs_iunlink_unread(
			mp, info->lists_why, sizeof(info->lists_why));
	}
	if (kvfs_iunlink_unread(mp, NULL, 0))
		mp->errors_seen = true;
	*mpp = mp;
	return 0;
}

const char *kvfs_open_error(void)
{
	return kvfs_mount_error();
}

int kvfs_close(struct kvfs_mount *mp)
{
	/* this filesystem's reports: a tool may have others open */
	if (kv_bcache_reports(mp->bc) != mp->corrupt_at_open)
		mp->errors_seen = true;
	return kvfs_mount_close(mp);
}

int kvfs_test_volatile(struct kvfs_mount *mp, bool sectors, uint64_t seed)
{
	/* after the cut, no reply may say done what never reached the media */
	struct kv_dev_fault f = { .modes = (sectors ? KV_FAULT_SECTORS :
						      KV_FAULT_VOLATILE) |
					   KV_FAULT_DEAD_EIO,
				  .seed = seed };

	return kv_dev_set_fault(mp->dev, &f);
}

void kvfs_test_power_fail(struct kvfs_mount *mp)
{
	kv_dev_power_fail(mp->dev);
}

int kvfs_sync(struct kvfs_mount *mp)
{
	int err;

	if (mp->rdonly)
		return 0;
	if (kvj_log_is_shutdown(mp->log))
		return -EIO;
	kvfs_inodegc_flush(mp);
	err = kvfs_conv_settle_all(mp);
	if (!err)
		err = kvj_log_force(mp->log, 0);
	return err ? err : kv_dev_flush(mp->dev);
}

int kvfs_writeback(struct kvfs_mount *mp)
{
	int err = kvfs_sync(mp);

	if (err || mp->rdonly)
		return err;
	return kvj_log_drain(mp->log);
}

int kvfs_sync_commit(struct kvfs_mount *mp, uint64_t seq)
{
	return mp->wsync ? kvj_log_force(mp->log, seq) : 0;
}

/*
 * Free blocks less the removals' and the write back's reserves, which
 * nothing else may take.
 */
static uint64_t free_blocks(struct kvfs_mount *mp)
{
	int64_t free = atomic_load(&mp->fdblocks) -
		       (int64_t)(mp->resblks + mp->wbblks);

	return free > 0 ? (uint64_t)free : 0;
}

uint64_t kvfs_free_bytes(struct kvfs_mount *mp)
{
	return free_blocks(mp) << mp->g.blocklog;
}

void kvfs_set_wb_pending(struct kvfs_mount *mp, uint64_t bytes)
{
	uint64_t blocks = (bytes + mp->g.blocksize - 1) >> mp->g.blocklog;

	atomic_store(&mp->wbpend, mp->rdonly ? 0 : blocks);
}

uint64_t kvfs_wb_reserve_bytes(struct kvfs_mount *mp)
{
	return mp->wbblks << mp->g.blocklog;
}

int kvfs_statfs(struct kvfs_mount *mp, struct kvfs_statfs *st)
{
	const struct kvfs_geom *g = &mp->g;
	int64_t icount, ifree;
	uint64_t newinos, free;

	/* inodes whose last close has returned are free in the counts */
	kvfs_inodegc_flush(mp);
	free = free_blocks(mp);
	/* committed changes only: no AG lock, no header read (XFS's statfs) */
	icount = atomic_load(&mp->icount);
	ifree = atomic_load(&mp->ifree);
	if (icount < 0)
		icount = 0;
	if (ifree < 0)
		ifree = 0;
	if (ifree > icount)
		ifree = icount;
	/* every free block could become part of a new inode chunk */
	newinos = free / g->ialloc_blocks * g->ialloc_inos;
	memset(st, 0, sizeof(*st));
	st->bsize = g->blocksize;
	st->blocks = g->dblocks - g->logblocks -
		     (uint64_t)g->agcount * KVFS_AG_HDR_BLOCKS;
	st->bfree = free;
	st->bavail = free;
	st->files = (uint64_t)icount + newinos;
	st->ffree = (uint64_t)ifree + newinos;
	st->namemax = KVFS_NAME_MAX;
	for (unsigned i = 0; i < KVFS_UUID_SIZE; i++)
		st->fsid ^= (uint64_t)g->uuid[i] << (8 * (i % 8));
	return 0;
}

uint64_t kvfs_root_ino(struct kvfs_mount *mp)
{
	return mp->g.rootino;
}

/* Relaxed atomic loads: kvfs_inode_stat() serves seqcount reads too. */
#define ILOAD(ip, f) __atomic_load_n(&(ip)->f, __ATOMIC_RELAXED)

static struct timespec ts_of(const struct kvfs_ictime *t)
{
	struct timespec ts = { .tv_sec = ILOAD(t, sec),
			       .tv_nsec = ILOAD(t, nsec) };

	return ts;
}

void kvfs_inode_stat(const struct kvfs_inode *ip, struct kvfs_stat *st)
{
	const struct kvfs_geom *g = &ip->i_mount->g;

	/* one initialiser, not memset() then stores: a stat's 2nd-largest cost */
	*st = (struct kvfs_stat){
		.ino = ip->i_ino,
		.generation = ILOAD(ip, i_generation),
		.mode = ILOAD(ip, i_mode),
		.nlink = ILOAD(ip, i_nlink),
		.uid = ILOAD(ip, i_uid),
		.gid = ILOAD(ip, i_gid),
		.rdev = ILOAD(ip, i_rdev),
		.size = ILOAD(ip, i_size),
		.blocks = ILOAD(ip, i_nblocks) << (g->blocklog - 9),
		.blksize = g->blocksize,
		.atime = ts_of(&ip->i_atime),
		.mtime = ts_of(&ip->i_mtime),
		.ctime = ts_of(&ip->i_ctime),
		.crtime = ts_of(&ip->i_crtime),
	};
}

void kvfs_inode_stat_read(const struct kvfs_inode *ip, void *st)
{
	kvfs_inode_stat(ip, st);
}

int kvfs_getattr(struct kvfs_mount *mp, uint64_t ino, struct kvfs_stat *st)
{
	struct kvfs_inode *ip;
	int err;

	/* cached: read without a reference or a lock; free: iget says so */
	if (!kvfs_icache_read(mp, ino, kvfs_inode_stat_read, st) && st->mode)
		return 0;
	err = kvfs_iget(mp, ino, 0, &ip);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	kvfs_inode_stat(ip, st);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return 0;
}

int kvfs_getattr_handle(struct kvfs_mount *mp, uint64_t ino,
			struct kvfs_stat *st)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget_untrusted(mp, ino, &ip);

	if (err)
		return err;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	if (!ip->i_nlink && !kvfs_openref_held(mp->openrefs, ino))
		err = -ESTALE;
	else
		kvfs_inode_stat(ip, st);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return err;
}

int kvfs_inode_open(struct kvfs_mount *mp, uint64_t ino, uint32_t gen)
{
	struct kvfs_inode *ip;
	int err;

	err = gen ? kvfs_iget_handle(mp, ino, gen, &ip) :
		    kvfs_iget(mp, ino, 0, &ip);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	if (!ip->i_nlink && !kvfs_openref_held(mp->openrefs, ino))
		err = gen ? -ESTALE : -ENOENT;
	else
		kvfs_openref_get(mp->openrefs, ino);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return err;
}

void kvfs_inode_close(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	bool linked;

	/* still open, or a close without an open */
	if (kvfs_openref_put(mp->openrefs, ino) != 0)
		return;
	/*
	 * Not cached: it has links (an open inode without any stays cached,
	 * fs/inode/icache.c) and no speculative blocks (nor does one with them
	 * leave the cache): nothing to do.
	 */
	if (kvfs_icache_lookup(mp, ino, &ip))
		return;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	linked = ip->i_nlink != 0;
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	/* the last close trims speculative blocks (best effort: consistent) */
	if (linked && S_ISREG(ip->i_mode))
		kvfs_file_trim_prealloc(ip);
	/* the last put of an inode with no links that nobody opens frees it */
	kvfs_iput(ip);
}

int kvfs_tmpfile(struct kvfs_mount *mp, uint64_t dir, uint32_t mode,
		 const struct kvfs_cred *cr, struct kvfs_stat *st)
{
	struct kvfs_inode *dp, *ip;
	struct kvfs_trans *tp;
	uint64_t seq;
	int err;

	if ((mode & S_IFMT) && !S_ISREG(mode))
		return -EINVAL;
	if (mp->rdonly)
		return -EROFS;
	err = kvfs_iget(mp, dir, 0, &dp);
	if (err)
		return err;
	if (!S_ISDIR(dp->i_mode)) {
		err = -ENOTDIR;
		goto out_dp;
	}
	err = kvfs_iflags_may_add(dp);
	if (err)
		goto out_dp;
	err = kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp);
	if (err)
		goto out_dp;
	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = kvfs_icreate(tp, dp, S_IFREG | (mode & 07777), 0, 0, cr, &ip);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	if (err == -ENOSPC) {
		/* its first change: only the allocator's refills are logged */
		err = kvfs_trans_end_nospc(tp, err);
		goto out_dp;
	}
	if (err) {
		kvfs_trans_cancel(tp);
		goto out_dp;
	}
	err = kvfs_iunlink(tp, ip);
	if (err) {
		kvfs_trans_cancel(tp);
		kvfs_iput(ip);
		goto out_dp;
	}
	/* returned open */
	kvfs_openref_get(mp->openrefs, ip->i_ino);
	if (st)
		kvfs_inode_stat(ip, st);
	err = kvfs_trans_commit(tp, &seq);
	if (!err)
		err = kvfs_sync_commit(mp, seq);
	if (err)
		kvfs_openref_put(mp->openrefs, ip->i_ino);
	kvfs_iput(ip);
out_dp:
	kvfs_iput(dp);
	return err;
}

int kvfs_image_lock(const char *path, bool rdonly, unsigned wait_ms, int *fdp)
{
	int fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	unsigned waited = 0;

	if (fd < 0)
		return -errno;
	if (kvj_errtag(KVJ_ERRTAG_IMAGE_LOCK_WAIT))
		wait_ms = kvj_errtag_value(KVJ_ERRTAG_IMAGE_LOCK_WAIT);
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = errno == EWOULDBLOCK ? -EBUSY : -errno;

		if (err != -EBUSY || waited >= wait_ms) {
			close(fd);
			return err;
		}
		usleep(20 * 1000);
		waited += 20;
	}
	*fdp = fd;
	return 0;
}
