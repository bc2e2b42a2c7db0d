// SPDX-License-Identifier: GPL-2.0
/*
 * In-core inodes: locks and the conversions between the on-disk inode, the
 * logged core and the in-core inode (fs/inode/inode.h).
 */
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/kvalloc.h"
#include "fs/data/convert.h"
#include "fs/io/blkhdr.h"
#include "fs/format/dinode.h"
#include "fs/inode/inode.h"
#include "fs/mount.h"

/* The forks of every inode without fork memory of its own (inode.h). */
static const uint8_t
	zero_forks[2 * ((1u << KVFS_MAX_INODELOG) - KVFS_DINODE_CORE_SIZE)];

static uint32_t fork_room(const struct kvfs_inode *ip)
{
	return ip->i_mount->g.inodesize - KVFS_DINODE_CORE_SIZE;
}

void kvfs_inode_forks_init(struct kvfs_inode *ip)
{
	ip->i_dfork = (uint8_t *)zero_forks;
	ip->i_afork = ip->i_dfork + fork_room(ip);
}

bool kvfs_inode_owns_forks(const struct kvfs_inode *ip)
{
	return ip->i_dfork != zero_forks;
}

void kvfs_inode_own_forks(struct kvfs_inode *ip)
{
	uint32_t room = fork_room(ip);
	uint8_t *p;

	if (kvfs_inode_owns_forks(ip))
		return;
	/* never -ENOMEM, as the inode's own allocation (and XFS's forks) */
	p = kvmalloc(2 * (size_t)room, KV_ZERO | KV_NOFAIL);
	/* zeros, as the shared area: a lock-free reader may see either */
	__atomic_store_n(&ip->i_afork, p + room, __ATOMIC_RELEASE);
	__atomic_store_n(&ip->i_dfork, p, __ATOMIC_RELEASE);
}

bool kvfs_inode_forks_zero(const struct kvfs_inode *ip)
{
	return !kvfs_inode_owns_forks(ip) ||
	       !memcmp(ip->i_dfork, zero_forks, fork_room(ip));
}

void kvfs_inode_forks_clear(struct kvfs_inode *ip)
{
	if (kvfs_inode_owns_forks(ip))
		memset(ip->i_dfork, 0, 2 * (size_t)fork_room(ip));
}

void kvfs_inode_forks_free(struct kvfs_inode *ip)
{
	if (kvfs_inode_owns_forks(ip))
		kvfree(ip->i_dfork);
}

void kvfs_ilock_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL)
{
	if (flags & (KVFS_IOLOCK_EXCL | KVFS_IOLOCK_SHARED))
		kv_lockdep_acquire(&ip->i_iolock, KV_RANK_IOLOCK, ip->i_ino,
				   false KV_LD_FWD);
	if (flags & KVFS_IOLOCK_EXCL)
		pthread_rwlock_wrlock(&ip->i_iolock);
	else if (flags & KVFS_IOLOCK_SHARED)
		pthread_rwlock_rdlock(&ip->i_iolock);
	if (flags & (KVFS_ILOCK_EXCL | KVFS_ILOCK_SHARED))
		kv_lockdep_acquire(&ip->i_lock, KV_RANK_ILOCK, ip->i_ino,
				   flags & KVFS_ILOCK_ALLOC KV_LD_FWD);
	if (flags & KVFS_ILOCK_EXCL) {
		pthread_rwlock_wrlock(&ip->i_lock);
		kvfs_ilock_seq_excl(ip);
	} else if (flags & KVFS_ILOCK_SHARED) {
		pthread_rwlock_rdlock(&ip->i_lock);
	}
}

bool kvfs_ilock_nowait_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL)
{
	if (flags & KVFS_IOLOCK_EXCL) {
		if (pthread_rwlock_trywrlock(&ip->i_iolock))
			return false;
	} else if (flags & KVFS_IOLOCK_SHARED) {
		if (pthread_rwlock_tryrdlock(&ip->i_iolock))
			return false;
	}
	if (flags & (KVFS_ILOCK_EXCL | KVFS_ILOCK_SHARED)) {
		int err = flags & KVFS_ILOCK_EXCL ?
				  pthread_rwlock_trywrlock(&ip->i_lock) :
				  pthread_rwlock_tryrdlock(&ip->i_lock);

		if (err) {
			if (flags & (KVFS_IOLOCK_EXCL | KVFS_IOLOCK_SHARED))
				pthread_rwlock_unlock(&ip->i_iolock);
			return false;
		}
		kv_lockdep_acquire(&ip->i_lock, KV_RANK_ILOCK, ip->i_ino,
				   true KV_LD_FWD);
		if (flags & KVFS_ILOCK_EXCL)
			kvfs_ilock_seq_excl(ip);
	}
	if (flags & (KVFS_IOLOCK_EXCL | KVFS_IOLOCK_SHARED))
		kv_lockdep_acquire(&ip->i_iolock, KV_RANK_IOLOCK, ip->i_ino,
				   true KV_LD_FWD);
	return true;
}

void kvfs_iunlock_(struct kvfs_inode *ip, unsigned flags KV_LD_DECL)
{
	if (flags & (KVFS_ILOCK_EXCL | KVFS_ILOCK_SHARED)) {
		if (flags & KVFS_ILOCK_EXCL)
			kvfs_ilock_seq_unexcl(ip);
		pthread_rwlock_unlock(&ip->i_lock);
		kv_lockdep_release(&ip->i_lock KV_LD_FWD);
	}
	if (flags & (KVFS_IOLOCK_EXCL | KVFS_IOLOCK_SHARED)) {
		pthread_rwlock_unlock(&ip->i_iolock);
		kv_lockdep_release(&ip->i_iolock KV_LD_FWD);
	}
}

uint32_t kvfs_inode_dfork_size(const struct kvfs_inode *ip)
{
	return ip->i_forkoff ? ip->i_forkoff * 8u :
			       ip->i_mount->g.inodesize - KVFS_DINODE_CORE_SIZE;
}

uint32_t kvfs_inode_afork_size(const struct kvfs_inode *ip)
{
	return ip->i_forkoff ?
		       ip->i_mount->g.inodesize - KVFS_DINODE_CORE_SIZE -
			       ip->i_forkoff * 8u :
		       0;
}

static void ts_from_disk(struct kvfs_ictime *t, const struct kvfs_timestamp *d)
{
	t->sec = (int64_t)kv_le64_to_cpu(d->sec);
	t->nsec = kv_le32_to_cpu(d->nsec);
}

static void ts_to_disk(struct kvfs_timestamp *d, const struct kvfs_ictime *t)
{
	d->sec = kv_cpu_to_le64((uint64_t)t->sec);
	d->nsec = kv_cpu_to_le32(t->nsec);
	d->pad = kv_cpu_to_le32(0);
}

void kvfs_inode_now(struct kvfs_ictime *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	t->sec = ts.tv_sec;
	t->nsec = (uint32_t)ts.tv_nsec;
}

void kvfs_inode_from_disk(struct kvfs_inode *ip, const void *dip)
{
	const struct kvfs_dinode *d = dip;
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint32_t afork = kvfs_dinode_afork_size(g, d);

	ip->i_mode = kv_le16_to_cpu(d->mode);
	ip->i_dformat = d->dformat;
	ip->i_aformat = d->aformat;
	ip->i_nlink = kv_le32_to_cpu(d->nlink);
	ip->i_uid = kv_le32_to_cpu(d->uid);
	ip->i_gid = kv_le32_to_cpu(d->gid);
	ip->i_size = kv_le64_to_cpu(d->size);
	ip->i_nblocks = kv_le64_to_cpu(d->nblocks);
	ts_from_disk(&ip->i_atime, &d->atime);
	ts_from_disk(&ip->i_mtime, &d->mtime);
	ts_from_disk(&ip->i_ctime, &d->ctime);
	ts_from_disk(&ip->i_crtime, &d->crtime);
	ip->i_generation = kv_le32_to_cpu(d->generation);
	ip->i_diflags = kv_le32_to_cpu(d->flags);
	atomic_store(&ip->i_eof_checked, false);
	ip->i_nextents = kv_le32_to_cpu(d->nextents);
	ip->i_anextents = kv_le32_to_cpu(d->anextents);
	ip->i_forkoff = kv_le16_to_cpu(d->forkoff);
	ip->i_next_unlinked = kv_le32_to_cpu(d->next_unlinked);
	ip->i_rdev = kv_le64_to_cpu(d->rdev);
	/*
	 * Forks all zero (a free inode, an empty file) stay shared;
	 * directories and symbolic links always hold theirs, so that their
	 * code never meets shared forks.
	 */
	if (kvfs_inode_owns_forks(ip))
		kvfs_inode_forks_clear(ip);
	else if (!S_ISDIR(ip->i_mode) && !S_ISLNK(ip->i_mode) &&
		 !memcmp((const uint8_t *)dip + KVFS_DINODE_CORE_SIZE,
			 zero_forks, fork_room(ip)))
		return;
	else
		kvfs_inode_own_forks(ip); /* zeroed */
	memcpy(ip->i_dfork, (const uint8_t *)dip + KVFS_DINODE_CORE_SIZE,
	       kvfs_dinode_dfork_size(g, d));
	if (afork)
		memcpy(ip->i_afork, (const uint8_t *)dip + g->inodesize - afork,
		       afork);
}

void kvfs_inode_to_log(const struct kvfs_inode *ip, struct kvfs_log_dinode *ld)
{
	memset(ld, 0, sizeof(*ld));
	ld->mode = kv_cpu_to_le16(ip->i_mode);
	ld->version = 1;
	ld->dformat = ip->i_dformat;
	ld->nlink = kv_cpu_to_le32(ip->i_nlink);
	ld->uid = kv_cpu_to_le32(ip->i_uid);
	ld->gid = kv_cpu_to_le32(ip->i_gid);
	ld->size = kv_cpu_to_le64(kvfs_conv_log_size(ip));
	ld->nblocks = kv_cpu_to_le64(ip->i_nblocks);
	ts_to_disk(&ld->atime, &ip->i_atime);
	ts_to_disk(&ld->mtime, &ip->i_mtime);
	ts_to_disk(&ld->ctime, &ip->i_ctime);
	ts_to_disk(&ld->crtime, &ip->i_crtime);
	ld->generation = kv_cpu_to_le32(ip->i_generation);
	ld->flags = kv_cpu_to_le32(ip->i_diflags);
	ld->nextents = kv_cpu_to_le32(ip->i_nextents);
	ld->forkoff = kv_cpu_to_le16(ip->i_forkoff);
	ld->aformat = ip->i_aformat;
	ld->next_unlinked = kv_cpu_to_le32(ip->i_next_unlinked);
	ld->anextents = kv_cpu_to_le32(ip->i_anextents);
	ld->rdev = kv_cpu_to_le64(ip->i_rdev);
}

/* fs/ondisk.c pins the logged core to the on-disk mode..rdev layout. */
void kvfs_log_dinode_to_disk(const struct kvfs_log_dinode *ld, void *dip)
{
	memcpy((uint8_t *)dip + offsetof(struct kvfs_dinode, mode), ld,
	       sizeof(*ld));
}

void kvfs_inode_to_disk(const struct kvfs_inode *ip, void *dip, uint64_t lsn)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	struct kvfs_log_dinode ld;
	uint32_t dsize = kvfs_inode_dfork_size(ip);
	uint32_t room = g->inodesize - KVFS_DINODE_CORE_SIZE;

	kvfs_inode_to_log(ip, &ld);
	kvfs_log_dinode_to_disk(&ld, dip);
	memcpy(kvfs_dinode_dfork(dip), ip->i_dfork, dsize);
	if (ip->i_forkoff)
		memcpy(kvfs_dinode_dfork(dip) + dsize, ip->i_afork,
		       room - dsize);
	kvfs_blkhdr_stamp(dip, g->inodesize, lsn);
}
