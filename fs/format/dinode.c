// SPDX-License-Identifier: GPL-2.0
/*
 * On-disk inode build/verify, and inline short-form directories.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/mem.h"
#include "fs/ns/attr.h"
#include "fs/io/blkhdr.h"
#include "fs/format/dinode.h"

static void set_ts(struct kvfs_timestamp *t, int64_t sec, uint32_t nsec)
{
	t->sec = kv_cpu_to_le64((uint64_t)sec);
	t->nsec = kv_cpu_to_le32(nsec);
	t->pad = kv_cpu_to_le32(0);
}

void kvfs_dinode_init(void *dip, const struct kvfs_geom *g, uint64_t ino,
		      uint16_t mode, uint32_t nlink, uint32_t uid, uint32_t gid,
		      int64_t sec, uint32_t nsec, uint32_t gen)
{
	struct kvfs_dinode *d = dip;

	memset(dip, 0, g->inodesize);
	kvfs_blkhdr_init(dip, KVFS_DINODE_MAGIC, kvfs_ino_to_fsb(g, ino), ino,
			 g->meta_uuid);
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
	d->next_unlinked = kv_cpu_to_le32(KVFS_NULLAGINO);
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

/* The data-space range [start, end) of short-form entry e, in bytes. */
static void sf_range(const struct kvfs_dir_sf_ent *e, uint64_t *start,
		     uint64_t *end)
{
	*start = (uint64_t)kv_le32_to_cpu(e->cookie) * 8;
	*end = *start + KVFS_DIR_DATA_ENTSIZE(e->namelen);
}

/* NULL or what is wrong with the short-form directory of inode ino. */
static const char *dir_sf_check(const struct kvfs_geom *g, const void *dip,
				uint32_t forksize)
{
	const struct kvfs_dinode *d = dip;
	const uint8_t *fork = (const uint8_t *)dip + KVFS_DINODE_CORE_SIZE;
	const struct kvfs_dir_sf_hdr *h = (const void *)fork;
	uint64_t size = kv_le64_to_cpu(d->size);
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE, count;

	if (size < KVFS_DIR_SF_HDR_SIZE || size > forksize)
		return "directory size does not fit the inode";
	count = kv_le16_to_cpu(h->count);
	if (kv_le16_to_cpu(h->pad0) || kv_le32_to_cpu(h->pad1))
		return "directory header invalid";
	if (!kvfs_ino_in_range(g, kv_le64_to_cpu(h->parent)))
		return "directory parent out of range";
	for (uint32_t i = 0; i < count; i++) {
		const struct kvfs_dir_sf_ent *e = (const void *)(fork + pos);
		uint64_t s0, e0;
		uint32_t esz;

		if (pos + KVFS_DIR_SF_ENT_SIZE > size)
			return "directory entry runs past the directory size";
		esz = KVFS_DIR_SF_ENTSIZE(e->namelen);
		if (!e->namelen || pos + esz > size || kv_le16_to_cpu(e->pad0))
			return "directory entry length invalid";
		if (memchr(e->name, '/', e->namelen) ||
		    memchr(e->name, '\0', e->namelen) ||
		    !kvfs_mem_is_zero(e->name + e->namelen,
				      esz - KVFS_DIR_SF_ENT_SIZE - e->namelen))
			return "directory entry name invalid";
		if (e->namelen <= 2 && e->name[0] == '.' &&
		    (e->namelen == 1 || e->name[1] == '.'))
			return "\".\" or \"..\" stored as an entry";
		if (!kvfs_ino_in_range(g, kv_le64_to_cpu(e->ino)))
			return "directory entry inode out of range";
		if (e->ftype == KVFS_FT_UNKNOWN || e->ftype >= KVFS_FT_MAX)
			return "directory entry file type invalid";
		sf_range(e, &s0, &e0);
		if (s0 < KVFS_DIR_HEAD_SIZE || e0 > g->dirblksize)
			return "directory entry cookie outside data block 0";
		for (uint32_t q = KVFS_DIR_SF_HDR_SIZE; q < pos;) {
			const struct kvfs_dir_sf_ent *o =
				(const void *)(fork + q);
			uint64_t s1, e1;

			sf_range(o, &s1, &e1);
			if (s0 < e1 && s1 < e0)
				return "directory entry cookies overlap";
			q += KVFS_DIR_SF_ENTSIZE(o->namelen);
		}
		pos += esz;
	}
	if (pos != size)
		return "directory size does not match its entries";
	return NULL;
}

/* NULL or what is wrong with a short-form attribute fork. */
static const char *attr_sf_check(const uint8_t *fork, uint32_t forksize)
{
	const struct kvfs_attr_sf_hdr *h = (const void *)fork;
	uint32_t tot, pos = KVFS_ATTR_SF_HDR_SIZE;

	if (forksize < KVFS_ATTR_SF_HDR_SIZE)
		return "attribute fork too small for its header";
	tot = kv_le16_to_cpu(h->totsize);
	if (tot < KVFS_ATTR_SF_HDR_SIZE || tot > forksize || h->pad0)
		return "short-form attribute header invalid";
	for (unsigned i = 0; i < h->count; i++) {
		const struct kvfs_attr_sf_entry *e = (const void *)(fork + pos);

		if (pos + KVFS_ATTR_SF_ENTSIZE(0, 0) > tot)
			return "short-form attribute runs past totsize";
		if (pos + KVFS_ATTR_SF_ENTSIZE(e->namelen,
					       kv_le16_to_cpu(e->valuelen)) >
		    tot)
			return "short-form attribute runs past totsize";
		if (e->pad0 ||
		    !kvfs_attr_name_valid((const char *)e->nameval, e->namelen))
			return "short-form attribute name invalid";
		pos += KVFS_ATTR_SF_ENTSIZE(e->namelen,
					    kv_le16_to_cpu(e->valuelen));
	}
	if (pos != tot)
		return "short-form attributes do not add up to totsize";
	if (!kvfs_mem_is_zero(fork + tot, forksize - tot))
		return "bytes after the short-form attributes are not zero";
	return NULL;
}

/* NULL, or why fsb .. fsb + len - 1 cannot belong to a file. */
static const char *blocks_check(const struct kvfs_geom *g, uint64_t fsb,
				uint64_t len)
{
	if (fsb >= g->dblocks || len > g->dblocks - fsb)
		return "outside the filesystem";
	if (kvfs_fsb_to_agno(g, fsb) != kvfs_fsb_to_agno(g, fsb + len - 1))
		return "crosses an AG boundary";
	if (kvfs_fsb_to_agbno(g, fsb) < KVFS_AG_HDR_BLOCKS)
		return "covers the AG headers";
	if (fsb < g->logstart + g->logblocks && g->logstart < fsb + len)
		return "covers the log";
	return NULL;
}

/* An extent list of n records in a fork of forksize bytes. */
static void extents_check(const struct kvfs_geom *g, const uint8_t *fork,
			  uint32_t forksize, uint32_t n, char *why,
			  size_t whylen)
{
	const struct kvfs_extent *x = (const void *)fork;
	uint64_t next_off = 0, maxoff = kvfs_max_fileoff_blocks(g);
	const char *bad;

	if ((uint64_t)n * sizeof(*x) > forksize) {
		snprintf(why, whylen, "%u extents do not fit the fork", n);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t off = kv_le64_to_cpu(x[i].startoff);
		uint64_t bno = kv_le64_to_cpu(x[i].startblock);
		uint32_t len = kv_le32_to_cpu(x[i].blockcount);

		if (!len)
			bad = "has no blocks";
		else if (kv_le32_to_cpu(x[i].flags) & ~KVFS_EXT_FLAGS_ALL)
			bad = "flags invalid";
		else if (off >= maxoff || len > maxoff - off)
			bad = "ends past the largest file offset";
		else if (off < next_off)
			bad = "overlaps the previous one or is out of order";
		else
			bad = blocks_check(g, bno, len);
		if (bad) {
			snprintf(why, whylen,
				 "extent %u (file block %" PRIu64
				 ", block %" PRIu64 ", %u blocks) %s",
				 i, off, bno, len, bad);
			return;
		}
		next_off = off + len;
	}
	if (!kvfs_mem_is_zero(x + n, forksize - n * sizeof(*x)))
		snprintf(why, whylen, "bytes after the extents are not zero");
}

/* An extent-map B+tree root in a fork, for a fork of nextents extents. */
static void bmdr_check(const struct kvfs_geom *g, const uint8_t *fork,
		       uint32_t forksize, uint32_t nextents, char *why,
		       size_t whylen)
{
	const struct kvfs_bmdr_block *rb = (const void *)fork;
	uint32_t max = kvfs_bmdr_maxrecs(forksize);
	uint32_t level = kv_le16_to_cpu(rb->level);
	uint32_t n = kv_le16_to_cpu(rb->numrecs);
	const struct kvfs_bmbt_key *k = kvfs_bmdr_key(fork, 0);
	const kv_le64 *p = kvfs_bmdr_ptr(fork, forksize, 0);
	uint64_t prev = 0, maxoff = kvfs_max_fileoff_blocks(g);

	if (!max) {
		snprintf(why, whylen, "fork of %u bytes cannot hold a root",
			 forksize);
		return;
	}
	if (!level || level >= KVFS_BTREE_MAXLEVELS || !n || n > max ||
	    kv_le32_to_cpu(rb->pad0)) {
		snprintf(why, whylen,
			 "btree root invalid (level %u, %u of %u records)",
			 level, n, max);
		return;
	}
	if (nextents <= forksize / sizeof(struct kvfs_extent)) {
		snprintf(why, whylen,
			 "btree fork with %u extents, which fit the fork",
			 nextents);
		return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint64_t key = kv_le64_to_cpu(k[i].startoff);
		uint64_t ptr = kv_le64_to_cpu(p[i]);
		const char *bad;

		if (key >= maxoff)
			bad = "key past the largest file offset";
		else if (i && key <= prev)
			bad = "key out of order";
		else if (blocks_check(g, ptr, 1))
			bad = "child pointer invalid";
		else
			bad = NULL;
		if (bad) {
			snprintf(why, whylen,
				 "btree root record %u (key %" PRIu64
				 ", child %" PRIu64 "): %s",
				 i, key, ptr, bad);
			return;
		}
		prev = key;
	}
	if (!kvfs_mem_is_zero(k + n, (max - n) * sizeof(*k)) ||
	    !kvfs_mem_is_zero(p + n, (max - n) * sizeof(*p)) ||
	    !kvfs_mem_is_zero(fork + KVFS_BMDR_HDR_SIZE + max * 16,
			      forksize - KVFS_BMDR_HDR_SIZE - max * 16))
		snprintf(why, whylen, "unused btree root bytes are not zero");
}

/* The contents of a fork of format fmt (extents or btree). */
static void fork_check(const struct kvfs_geom *g, const uint8_t *fork,
		       uint32_t forksize, uint8_t fmt, uint32_t nextents,
		       char *why, size_t whylen)
{
	if (fmt == KVFS_DFORK_EXTENTS)
		extents_check(g, fork, forksize, nextents, why, whylen);
	else
		bmdr_check(g, fork, forksize, nextents, why, whylen);
}

static bool ts_ok(const struct kvfs_timestamp *t)
{
	return kv_le32_to_cpu(t->nsec) < 1000000000u && !kv_le32_to_cpu(t->pad);
}

/* Data fork formats a file type may have (bit per KVFS_DFORK_*). */
static unsigned dformats_of(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return 1u << KVFS_DFORK_EXTENTS | 1u << KVFS_DFORK_BTREE;
	case S_IFDIR:
	case S_IFLNK:
		return 1u << KVFS_DFORK_INLINE | 1u << KVFS_DFORK_EXTENTS |
		       1u << KVFS_DFORK_BTREE;
	}
	/* devices, FIFOs, sockets and free inodes: an empty extent list */
	return 1u << KVFS_DFORK_EXTENTS;
}

/* The core's fields alone; NULL or what is wrong. */
static const char *core_check(const struct kvfs_dinode *d,
			      const struct kvfs_geom *g, uint64_t ino)
{
	uint16_t mode = kv_le16_to_cpu(d->mode);
	uint32_t forkoff = kv_le16_to_cpu(d->forkoff);
	uint32_t next = kv_le32_to_cpu(d->next_unlinked);
	uint32_t agno = kvfs_ino_to_agno(g, ino);
	uint64_t rdev = kv_le64_to_cpu(d->rdev);
	uint64_t size = kv_le64_to_cpu(d->size);
	uint32_t flags = kv_le32_to_cpu(d->flags);
	uint32_t nextents = kv_le32_to_cpu(d->nextents);
	uint32_t anextents = kv_le32_to_cpu(d->anextents);

	if (d->version != 1)
		return "inode version is not 1";
	if (flags & ~KVFS_DIFLAG_ALL)
		return "unknown inode flags";
	if (!ts_ok(&d->atime) || !ts_ok(&d->mtime) || !ts_ok(&d->ctime) ||
	    !ts_ok(&d->crtime))
		return "timestamp nanoseconds out of range";
	if (d->pad0 || !kvfs_mem_is_zero(d->reserved, sizeof(d->reserved)))
		return "reserved bytes are not zero";
	if (mode && kvfs_mode_to_ftype(mode) == KVFS_FT_UNKNOWN)
		return "file type invalid";
	if (next != KVFS_NULLAGINO &&
	    (!kvfs_ino_in_range(g, kvfs_agino_to_ino(g, agno, next)) ||
	     next == kvfs_ino_to_agino(g, ino)))
		return "next unlinked inode invalid";
	if (!mode &&
	    (kv_le32_to_cpu(d->nlink) || size || kv_le64_to_cpu(d->nblocks) ||
	     nextents || anextents || forkoff || d->aformat || rdev || flags ||
	     next != KVFS_NULLAGINO))
		return "free inode has links, size, extents or flags";
	if (size > KVFS_MAX_FILE_OFFSET)
		return "size past the largest file offset";
	if (rdev && !S_ISCHR(mode) && !S_ISBLK(mode))
		return "device number on a file that is not a device";
	if (d->dformat > KVFS_DFORK_BTREE ||
	    !(dformats_of(mode) >> d->dformat & 1))
		return "data fork format invalid for the file type";
	if (!S_ISREG(mode) && !S_ISDIR(mode) && !S_ISLNK(mode) &&
	    (size || nextents))
		return "special file has a size or extents";
	/* an inline fork holds its bytes, no extent (xfs_dinode_verify_fork) */
	if (d->dformat == KVFS_DFORK_INLINE && nextents)
		return "inline data fork has extents";
	if (forkoff && KVFS_DINODE_CORE_SIZE + forkoff * 8u >= g->inodesize)
		return "attribute fork offset past the inode";
	if (forkoff ? d->aformat < KVFS_DFORK_INLINE ||
			      d->aformat > KVFS_DFORK_BTREE ||
			      (d->aformat == KVFS_DFORK_INLINE && anextents) :
		      d->aformat || anextents)
		return "attribute fork format invalid";
	if (S_ISLNK(mode) && (!size || size > KVFS_SYMLINK_MAXLEN))
		return "symbolic link target length out of range";
	return NULL;
}

static bool unwritten(const uint8_t *fork, uint32_t n)
{
	const struct kvfs_extent *x = (const void *)fork;

	for (uint32_t i = 0; i < n; i++)
		if (kv_le32_to_cpu(x[i].flags) & KVFS_EXT_UNWRITTEN)
			return true;
	return false;
}

int kvfs_dinode_verify(const void *dip, const struct kvfs_geom *g, uint64_t ino)
{
	const struct kvfs_dinode *d = dip;
	const uint8_t *fork = (const uint8_t *)dip + KVFS_DINODE_CORE_SIZE;
	uint64_t blkno = kvfs_ino_to_fsb(g, ino);
	uint16_t mode = kv_le16_to_cpu(d->mode);
	uint32_t dsize, forkoff = kv_le16_to_cpu(d->forkoff);
	const char *bad;
	char why[160] = "";
	int ret;

	ret = kvfs_blkhdr_verify_inode(dip, g->inodesize, blkno, ino,
				       g->meta_uuid);
	if (ret)
		return ret;
	bad = core_check(d, g, ino);
	if (bad)
		return kvfs_corrupt_inode(-EUCLEAN, blkno, ino, "%s", bad);
	dsize = kvfs_dinode_dfork_size(g, d);
	if (d->dformat == KVFS_DFORK_INLINE) {
		if (S_ISDIR(mode))
			bad = dir_sf_check(g, dip, dsize);
		else if (kv_le64_to_cpu(d->size) > dsize)
			bad = "inline data larger than the fork";
		else if (memchr(fork, '\0', kv_le64_to_cpu(d->size)) ||
			 !kvfs_mem_is_zero(fork + kv_le64_to_cpu(d->size),
					   dsize - kv_le64_to_cpu(d->size)))
			bad = "inline symbolic link holds a NUL or is not "
			      "followed by zeros";
		if (bad)
			snprintf(why, sizeof(why), "%s", bad);
	} else {
		fork_check(g, fork, dsize, d->dformat,
			   kv_le32_to_cpu(d->nextents), why, sizeof(why));
		/* their readers take every block as written */
		if (!why[0] && (S_ISDIR(mode) || S_ISLNK(mode)) &&
		    d->dformat == KVFS_DFORK_EXTENTS &&
		    unwritten(fork, kv_le32_to_cpu(d->nextents)))
			snprintf(why, sizeof(why),
				 "unwritten extent in a "
				 "directory or symbolic link");
	}
	if (!why[0] && forkoff && d->aformat == KVFS_DFORK_INLINE) {
		bad = attr_sf_check(fork + dsize,
				    g->inodesize - KVFS_DINODE_CORE_SIZE -
					    dsize);
		if (bad)
			snprintf(why, sizeof(why), "%s", bad);
	} else if (!why[0] && forkoff) {
		fork_check(g, fork + dsize,
			   g->inodesize - KVFS_DINODE_CORE_SIZE - dsize,
			   d->aformat, kv_le32_to_cpu(d->anextents), why,
			   sizeof(why));
	}
	if (why[0])
		return kvfs_corrupt_inode(-EUCLEAN, blkno, ino, "%s", why);
	return 0;
}

int kvfs_dir_sf_pick(const uint8_t *fork, uint32_t size, unsigned namelen,
		     uint32_t dirblksize, uint32_t *cookie)
{
	uint64_t need = KVFS_DIR_DATA_ENTSIZE(namelen);
	uint64_t start = KVFS_DIR_HEAD_SIZE;

	/*
	 * First fit in address order: try the start of the data area and
	 * the end of every entry; a candidate is taken when no entry
	 * overlaps it.
	 */
	for (uint32_t p = KVFS_DIR_SF_HDR_SIZE;;) {
		bool clash = false;

		if (start + need <= dirblksize) {
			for (uint32_t q = KVFS_DIR_SF_HDR_SIZE; q < size;) {
				const struct kvfs_dir_sf_ent *o =
					(const void *)(fork + q);
				uint64_t s1, e1;

				sf_range(o, &s1, &e1);
				if (start < e1 && s1 < start + need) {
					clash = true;
					break;
				}
				q += KVFS_DIR_SF_ENTSIZE(o->namelen);
			}
			if (!clash) {
				*cookie = (uint32_t)(start / 8);
				return 0;
			}
		}
		if (p >= size)
			return -ENOSPC;
		{
			const struct kvfs_dir_sf_ent *e =
				(const void *)(fork + p);
			uint64_t s0;

			sf_range(e, &s0, &start);
			p += KVFS_DIR_SF_ENTSIZE(e->namelen);
		}
	}
}

int kvfs_dir_sf_init(void *dip, const struct kvfs_geom *g, uint64_t parent)
{
	struct kvfs_dinode *d = dip;
	struct kvfs_dir_sf_hdr *h = (void *)kvfs_dinode_dfork(dip);

	d->dformat = KVFS_DFORK_INLINE;
	d->nextents = kv_cpu_to_le32(0);
	memset(h, 0, kvfs_dinode_dfork_size(g, d));
	h->parent = kv_cpu_to_le64(parent);
	d->size = kv_cpu_to_le64(KVFS_DIR_SF_HDR_SIZE);
	return 0;
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
	int ret;

	if (!len || len > 255)
		return -ENAMETOOLONG;
	if (size + KVFS_DIR_SF_ENTSIZE(len) > kvfs_dinode_dfork_size(g, d))
		return -ENOSPC;
	ret = kvfs_dir_sf_pick(fork, (uint32_t)size, (unsigned)len,
			       g->dirblksize, &cookie);
	if (ret)
		return ret;
	e = (void *)(fork + size);
	memset(e, 0, KVFS_DIR_SF_ENTSIZE(len));
	e->ino = kv_cpu_to_le64(ino);
	e->cookie = kv_cpu_to_le32(cookie);
	e->namelen = (uint8_t)len;
	e->ftype = ftype;
	memcpy(e->name, name, len);
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
