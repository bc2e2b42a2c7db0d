// SPDX-License-Identifier: GPL-2.0
/*
 * On-disk inode build/verify, and inline short-form directories.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/blkhdr.h"
#include "fs/dinode.h"

static void set_ts(struct kvfs_timestamp *t, uint64_t sec, uint32_t nsec)
{
	t->sec = kv_cpu_to_le64(sec);
	t->nsec = kv_cpu_to_le32(nsec);
	t->pad = 0;
}

void kvfs_dinode_init(void *dip, const struct kvfs_geom *g, uint64_t ino,
		      uint16_t mode, uint32_t nlink, uint32_t uid, uint32_t gid,
		      uint64_t sec, uint32_t nsec, uint32_t gen)
{
	struct kvfs_dinode *d = dip;

	memset(dip, 0, g->inodesize);
	kvfs_blkhdr_init(dip, KVFS_DINODE_MAGIC, kvfs_ino_to_fsb(g, ino), ino,
			 g->uuid);
	d->mode = kv_cpu_to_le16(mode);
	d->version = 1;
	d->dformat = KVFS_DFORK_EXTENTS;
	d->nlink = kv_cpu_to_le32(nlink);
	d->uid = kv_cpu_to_le32(uid);
	d->gid = kv_cpu_to_le32(gid);
	set_ts(&d->atime, sec, nsec);
	set_ts(&d->mtime, sec, nsec);
	set_ts(&d->ctime, sec, nsec);
	set_ts(&d->crtime, sec, nsec);
	d->generation = kv_cpu_to_le32(gen);
	d->next_unlinked = kv_cpu_to_le64(KVFS_NULLINO);
}

void kvfs_dinode_set_crc(void *dip, const struct kvfs_geom *g)
{
	kvfs_blkhdr_set_crc(dip, g->inodesize);
}

uint8_t kvfs_mode_to_ftype(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return KVFS_FT_REG;
	case S_IFDIR:
		return KVFS_FT_DIR;
	case S_IFCHR:
		return KVFS_FT_CHR;
	case S_IFBLK:
		return KVFS_FT_BLK;
	case S_IFIFO:
		return KVFS_FT_FIFO;
	case S_IFSOCK:
		return KVFS_FT_SOCK;
	case S_IFLNK:
		return KVFS_FT_LNK;
	}
	return KVFS_FT_UNKNOWN;
}

static bool zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* NULL or what is wrong with the short-form directory of inode ino. */
static const char *dir_sf_check(const struct kvfs_geom *g, const void *dip,
				uint64_t ino, uint32_t forksize)
{
	const struct kvfs_dinode *d = dip;
	const uint8_t *fork = (const uint8_t *)dip + KVFS_DINODE_CORE_SIZE;
	const struct kvfs_dir_sf_hdr *h = (const void *)fork;
	uint64_t size = kv_le64_to_cpu(d->size);
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE, count, next_cookie;

	if (size < KVFS_DIR_SF_HDR_SIZE || size > forksize)
		return "directory size does not fit the inode";
	count = kv_le16_to_cpu(h->count);
	next_cookie = kv_le32_to_cpu(h->next_cookie);
	if (count < 2 || h->pad0)
		return "directory header invalid";
	for (uint32_t i = 0; i < count; i++) {
		const struct kvfs_dir_sf_ent *e = (const void *)(fork + pos);
		uint32_t esz;
		uint64_t eino;

		if (pos + KVFS_DIR_SF_ENT_SIZE > size)
			return "directory entry runs past the directory size";
		esz = KVFS_DIR_SF_ENTSIZE(e->namelen);
		if (!e->namelen || pos + esz > size || e->pad0)
			return "directory entry length invalid";
		if (memchr(e->name, '/', e->namelen) ||
		    memchr(e->name, '\0', e->namelen) ||
		    !zero(e->name + e->namelen,
			  esz - KVFS_DIR_SF_ENT_SIZE - e->namelen))
			return "directory entry name invalid";
		eino = kv_le64_to_cpu(e->ino);
		if (!kvfs_ino_in_range(g, eino))
			return "directory entry inode out of range";
		if (e->ftype == KVFS_FT_UNKNOWN || e->ftype >= KVFS_FT_MAX)
			return "directory entry file type invalid";
		if (kv_le32_to_cpu(e->cookie) >= next_cookie)
			return "directory entry cookie beyond next_cookie";
		if (i == 0 && (e->namelen != 1 || e->name[0] != '.' ||
			       eino != ino || e->ftype != KVFS_FT_DIR))
			return "first entry is not \".\" naming the directory";
		if (i == 1 && (e->namelen != 2 || memcmp(e->name, "..", 2) ||
			       e->ftype != KVFS_FT_DIR))
			return "second entry is not \"..\"";
		if (i > 1 && e->namelen <= 2 && e->name[0] == '.' &&
		    (e->namelen == 1 || e->name[1] == '.'))
			return "extra \".\" or \"..\" entry";
		pos += esz;
	}
	if (pos != size)
		return "directory size does not match its entries";
	if (!zero(fork + size, forksize - size))
		return "bytes after the directory entries are not zero";
	return NULL;
}

static const char *extents_check(const struct kvfs_geom *g, const void *dip,
				 uint32_t forksize)
{
	const struct kvfs_dinode *d = dip;
	const struct kvfs_extent *x =
		(const void *)((const uint8_t *)dip + KVFS_DINODE_CORE_SIZE);
	uint32_t n = kv_le32_to_cpu(d->nextents);
	uint64_t next_off = 0;

	if ((uint64_t)n * sizeof(*x) > forksize)
		return "extent count does not fit the inode";
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = kv_le64_to_cpu(x[i].startoff);
		uint64_t bno = kv_le64_to_cpu(x[i].startblock);
		uint32_t len = kv_le32_to_cpu(x[i].blockcount);

		if (!len || bno >= g->dblocks || len > g->dblocks - bno)
			return "extent outside the filesystem";
		if (off < next_off)
			return "extents overlap or are out of order";
		if (kv_le32_to_cpu(x[i].flags) & ~KVFS_EXT_UNWRITTEN)
			return "extent flags invalid";
		next_off = off + len;
	}
	if (!zero(x + n, forksize - n * sizeof(*x)))
		return "bytes after the extents are not zero";
	return NULL;
}

static bool ts_ok(const struct kvfs_timestamp *t)
{
	return kv_le32_to_cpu(t->nsec) < 1000000000u && !t->pad;
}

int kvfs_dinode_verify(const void *dip, const struct kvfs_geom *g, uint64_t ino)
{
	const struct kvfs_dinode *d = dip;
	uint64_t blkno = kvfs_ino_to_fsb(g, ino);
	uint16_t mode = kv_le16_to_cpu(d->mode);
	uint32_t forksize, forkoff = kv_le16_to_cpu(d->forkoff);
	const char *why = NULL;
	char what[40];
	int ret;

	snprintf(what, sizeof(what), "inode %" PRIu64, ino);
	ret = kvfs_blkhdr_verify(dip, g->inodesize, KVFS_DINODE_MAGIC, blkno,
				 ino, g->uuid, what);
	if (ret)
		return ret;
	if (d->version != 1)
		why = "inode version is not 1";
	else if (forkoff &&
		 KVFS_DINODE_CORE_SIZE + forkoff * 8u >= g->inodesize)
		why = "attribute fork offset past the inode";
	else if (!ts_ok(&d->atime) || !ts_ok(&d->mtime) || !ts_ok(&d->ctime) ||
		 !ts_ok(&d->crtime))
		why = "timestamp nanoseconds out of range";
	else if (d->pad0 || !zero(d->reserved, sizeof(d->reserved)))
		why = "reserved bytes are not zero";
	else if (mode && kvfs_mode_to_ftype(mode) == KVFS_FT_UNKNOWN)
		why = "file type invalid";
	else if (!mode && (d->nlink || d->size || d->nblocks || d->nextents))
		why = "free inode has links, size or extents";
	else if (d->dformat < KVFS_DFORK_INLINE ||
		 d->dformat > KVFS_DFORK_BTREE)
		why = "data fork format invalid";
	if (why)
		return kvfs_corrupt(-EUCLEAN, blkno, what, "%s", why);
	forksize = kvfs_dinode_dfork_size(g, d);
	if (d->dformat == KVFS_DFORK_INLINE) {
		if (S_ISDIR(mode))
			why = dir_sf_check(g, dip, ino, forksize);
		else if (!S_ISLNK(mode))
			why = "inline data fork on a file that cannot have one";
		else if (kv_le64_to_cpu(d->size) > forksize)
			why = "inline data larger than the fork";
	} else if (d->dformat == KVFS_DFORK_EXTENTS) {
		why = extents_check(g, dip, forksize);
	}
	if (why)
		return kvfs_corrupt(-EUCLEAN, blkno, what, "%s", why);
	return 0;
}

int kvfs_dir_sf_init(void *dip, const struct kvfs_geom *g, uint64_t self,
		     uint64_t parent)
{
	struct kvfs_dinode *d = dip;
	struct kvfs_dir_sf_hdr *h = (void *)kvfs_dinode_dfork(dip);
	int ret;

	d->dformat = KVFS_DFORK_INLINE;
	d->nextents = 0;
	memset(h, 0, kvfs_dinode_dfork_size(g, d));
	d->size = kv_cpu_to_le64(KVFS_DIR_SF_HDR_SIZE);
	ret = kvfs_dir_sf_add(dip, g, ".", self, KVFS_FT_DIR);
	if (!ret)
		ret = kvfs_dir_sf_add(dip, g, "..", parent, KVFS_FT_DIR);
	return ret;
}

int kvfs_dir_sf_add(void *dip, const struct kvfs_geom *g, const char *name,
		    uint64_t ino, uint8_t ftype)
{
	struct kvfs_dinode *d = dip;
	uint8_t *fork = kvfs_dinode_dfork(dip);
	struct kvfs_dir_sf_hdr *h = (void *)fork;
	struct kvfs_dir_sf_ent *e;
	size_t len = strlen(name);
	uint64_t size = kv_le64_to_cpu(d->size);
	uint32_t cookie;

	if (!len || len > 255)
		return -ENAMETOOLONG;
	if (size + KVFS_DIR_SF_ENTSIZE(len) > kvfs_dinode_dfork_size(g, d))
		return -ENOSPC;
	e = (void *)(fork + size);
	cookie = kv_le32_to_cpu(h->next_cookie);
	e->ino = kv_cpu_to_le64(ino);
	e->cookie = kv_cpu_to_le32(cookie);
	e->namelen = (uint8_t)len;
	e->ftype = ftype;
	memcpy(e->name, name, len);
	h->next_cookie = kv_cpu_to_le32(cookie + 1);
	h->count = kv_cpu_to_le16((uint16_t)(kv_le16_to_cpu(h->count) + 1));
	d->size = kv_cpu_to_le64(size + KVFS_DIR_SF_ENTSIZE(len));
	return 0;
}

const struct kvfs_dir_sf_ent *kvfs_dir_sf_next(const void *dip, uint32_t *pos)
{
	const struct kvfs_dinode *d = dip;
	const uint8_t *fork = (const uint8_t *)dip + KVFS_DINODE_CORE_SIZE;
	const struct kvfs_dir_sf_ent *e;

	if (!*pos)
		*pos = KVFS_DIR_SF_HDR_SIZE;
	if (*pos >= kv_le64_to_cpu(d->size))
		return NULL;
	e = (const void *)(fork + *pos);
	*pos += KVFS_DIR_SF_ENTSIZE(e->namelen);
	return e;
}
