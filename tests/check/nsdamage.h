/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the namespace checker and repair tests (tests/check, tests/fsck): a
 * populated tree made through the public API, and each namespace damage
 * made by direct writes to the unmounted image (crcs recomputed, so only
 * the namespace is wrong).
 *
 *   /a/            directory
 *   /a/b/          directory
 *   /a/b/f1        file (4 blocks of data)
 *   /a/f2          file, also linked as /h2
 *   /c/            directory
 *   /big/          block directory of NBIG files
 *   /s             symbolic link
 *   /p             FIFO
 *   /x             file with 40 extended attributes (a leaf block)
 */
#ifndef KV_TESTS_CHECK_NSDAMAGE_H
#define KV_TESTS_CHECK_NSDAMAGE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "tests/check.h"

#define NBIG 300

struct nstree {
	uint64_t root, lpf, a, b, c, big, f1, f2, s, p, x, big0;
	uint64_t freeino; /* an inode of an allocated chunk, free */
	uint64_t bigino[NBIG]; /* /big/file-NNNN */
};

static const struct kvfs_cred ns_cr = { .uid = 0, .gid = 0 };

/* The content of file ino, for byte-identical comparisons. */
static inline void ns_fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((i * 131 + seed * 7) >> 3);
}

static inline uint64_t ns_ino(struct kvfs_mount *mp, uint64_t dir,
			      const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	return st.ino;
}

static inline uint64_t ns_file(struct kvfs_mount *mp, uint64_t dir,
			       const char *name, size_t bytes)
{
	struct kvfs_stat st;
	uint8_t *buf = malloc(bytes ? bytes : 1);

	CHECK(buf);
	CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			     &ns_cr, &st, NULL),
		 0);
	ns_fill(buf, bytes, st.ino);
	if (bytes)
		CHECK_EQ(kvfs_write(mp, st.ino, buf, bytes, 0, 0),
			 (ssize_t)bytes);
	free(buf);
	return st.ino;
}

/* mkfs at path (4 KiB blocks, 2 AGs) and the tree above; t its inodes. */
static inline void ns_make(const char *path, struct nstree *t)
{
	struct kvfs_mkfs_opts mo = { .target = path,
				     .size = 32u << 20,
				     .blocksize = 4096,
				     .agcount = 2,
				     .force = true };
	struct kvfs_open_opts oo = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	char name[32];

	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, NULL), 0);
	t->root = kvfs_root_ino(mp);
	t->lpf = ns_ino(mp, t->root, "lost+found");
	CHECK_EQ(kvfs_mkdir(mp, t->root, "a", 0755, &ns_cr, &st), 0);
	t->a = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, t->a, "b", 0755, &ns_cr, &st), 0);
	t->b = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, t->root, "c", 0755, &ns_cr, &st), 0);
	t->c = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, t->root, "big", 0755, &ns_cr, &st), 0);
	t->big = st.ino;
	t->f1 = ns_file(mp, t->b, "f1", 4 * 4096);
	t->f2 = ns_file(mp, t->a, "f2", 5000);
	CHECK_EQ(kvfs_link(mp, t->f2, t->root, "h2", NULL), 0);
	CHECK_EQ(kvfs_symlink(mp, t->root, "s", "a/b/f1", &ns_cr, &st), 0);
	t->s = st.ino;
	CHECK_EQ(kvfs_create(mp, t->root, "p", S_IFIFO | 0644, 0,
			     KVFS_CREATE_EXCL, &ns_cr, &st, NULL),
		 0);
	t->p = st.ino;
	for (unsigned i = 0; i < NBIG; i++) {
		snprintf(name, sizeof(name), "file-%04u", i);
		t->bigino[i] = ns_file(mp, t->big, name, i % 3 ? 100 : 0);
	}
	t->big0 = ns_ino(mp, t->big, "file-0000");
	t->x = ns_file(mp, t->root, "x", 100);
	for (unsigned i = 0; i < 40; i++) {
		char v[64];

		snprintf(name, sizeof(name), "user.attr-%02u", i);
		memset(v, 'a' + (int)(i % 26), sizeof(v));
		CHECK_EQ(kvfs_setxattr(mp, t->x, name, v, sizeof(v), 0), 0);
	}
	/* an inode of an allocated chunk that is free */
	t->freeino = ns_file(mp, t->root, "gone", 0);
	CHECK_EQ(kvfs_unlink(mp, t->root, "gone"), 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

static inline void ns_copy(const char *from, const char *to)
{
	FILE *f = fopen(from, "rb"), *o = fopen(to, "wb");
	static char buf[1 << 16];
	size_t n;

	CHECK(f && o);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		CHECK_EQ(fwrite(buf, 1, n, o), n);
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(fclose(o), 0);
}

/* ---- direct writes ---- */

struct nsedit {
	struct kv_dev *dev;
	struct kvfs_geom g;
	uint64_t fsb;
	uint8_t *blk;
	uint8_t *dip; /* the inode being edited, in blk */
};

static inline void ns_dev_open(struct nsedit *e, const char *path)
{
	CHECK_EQ(kv_dev_open(path, 0, &e->dev), 0);
	CHECK_EQ(kvfs_sb_read(e->dev, &e->g), 0);
	e->blk = malloc(e->g.blocksize);
	CHECK(e->blk);
}

static inline void ns_dev_close(struct nsedit *e)
{
	CHECK_EQ(kv_dev_flush(e->dev), 0);
	kv_dev_close(e->dev);
	free(e->blk);
}

static inline struct kvfs_dinode *ns_iget(struct nsedit *e, uint64_t ino)
{
	e->fsb = kvfs_ino_to_fsb(&e->g, ino);
	CHECK_EQ(kv_dev_pread(e->dev, e->blk, e->g.blocksize,
			      kvfs_fsb_to_bytes(&e->g, e->fsb)),
		 0);
	e->dip = e->blk + kvfs_ino_to_offset(&e->g, ino);
	return (struct kvfs_dinode *)e->dip;
}

static inline void ns_iput(struct nsedit *e)
{
	kvfs_dinode_set_crc(e->dip, &e->g);
	CHECK_EQ(kv_dev_pwrite(e->dev, e->blk, e->g.blocksize,
			       kvfs_fsb_to_bytes(&e->g, e->fsb)),
		 0);
}

static inline void ns_set_nlink(const char *path, uint64_t ino, int delta)
{
	struct nsedit e;
	struct kvfs_dinode *d;

	ns_dev_open(&e, path);
	d = ns_iget(&e, ino);
	d->nlink = kv_cpu_to_le32(
		(uint32_t)((int)kv_le32_to_cpu(d->nlink) + delta));
	ns_iput(&e);
	ns_dev_close(&e);
}

/* The short-form entry name of directory dip, or NULL. */
static inline struct kvfs_dir_sf_ent *ns_sf_find(uint8_t *dip, const char *name)
{
	struct kvfs_dinode *d = (void *)dip;
	uint8_t *fork = kvfs_dinode_dfork(dip);
	unsigned n = kv_le16_to_cpu(((struct kvfs_dir_sf_hdr *)fork)->count);
	uint32_t pos = KVFS_DIR_SF_HDR_SIZE;

	CHECK_EQ(d->dformat, KVFS_DFORK_INLINE);
	for (unsigned i = 0; i < n; i++) {
		struct kvfs_dir_sf_ent *s = (void *)(fork + pos);

		if (s->namelen == strlen(name) &&
		    !memcmp(s->name, name, s->namelen))
			return s;
		pos += KVFS_DIR_SF_ENTSIZE(s->namelen);
	}
	return NULL;
}

/* Short-form directory dir: add name -> ino of ftype. */
static inline void ns_sf_add(const char *path, uint64_t dir, const char *name,
			     uint64_t ino, uint8_t ftype)
{
	struct nsedit e;

	ns_dev_open(&e, path);
	ns_iget(&e, dir);
	CHECK_EQ(kvfs_dir_sf_add(e.dip, &e.g, name, ino, ftype), 0);
	ns_iput(&e);
	ns_dev_close(&e);
}

/* Short-form directory dir: remove name. */
static inline void ns_sf_remove(const char *path, uint64_t dir,
				const char *name)
{
	struct nsedit e;
	struct kvfs_dinode *d;
	struct kvfs_dir_sf_ent *s;
	struct kvfs_dir_sf_hdr *h;
	uint64_t size;
	uint32_t at, esz;

	ns_dev_open(&e, path);
	d = ns_iget(&e, dir);
	s = ns_sf_find(e.dip, name);
	CHECK(s);
	h = (void *)kvfs_dinode_dfork(e.dip);
	size = kv_le64_to_cpu(d->size);
	esz = KVFS_DIR_SF_ENTSIZE(s->namelen);
	at = (uint32_t)((uint8_t *)s - kvfs_dinode_dfork(e.dip));
	memmove(s, (uint8_t *)s + esz, size - at - esz);
	memset(kvfs_dinode_dfork(e.dip) + size - esz, 0, esz);
	d->size = kv_cpu_to_le64(size - esz);
	h->count = kv_cpu_to_le16((uint16_t)(kv_le16_to_cpu(h->count) - 1));
	ns_iput(&e);
	ns_dev_close(&e);
}

/* Short-form directory dir: entry name's file type becomes ftype. */
static inline void ns_sf_set_ftype(const char *path, uint64_t dir,
				   const char *name, uint8_t ftype)
{
	struct nsedit e;
	struct kvfs_dir_sf_ent *s;

	ns_dev_open(&e, path);
	ns_iget(&e, dir);
	s = ns_sf_find(e.dip, name);
	CHECK(s);
	s->ftype = ftype;
	ns_iput(&e);
	ns_dev_close(&e);
}

/* Short-form directory dir: ".." becomes parent. */
static inline void ns_sf_set_parent(const char *path, uint64_t dir,
				    uint64_t parent)
{
	struct nsedit e;

	ns_dev_open(&e, path);
	ns_iget(&e, dir);
	((struct kvfs_dir_sf_hdr *)kvfs_dinode_dfork(e.dip))->parent =
		kv_cpu_to_le64(parent);
	ns_iput(&e);
	ns_dev_close(&e);
}

/* Block directory dir: the first live entry of data block 0 gets ftype. */
static inline uint64_t ns_blk_set_ftype(const char *path, uint64_t dir,
					uint8_t ftype)
{
	struct nsedit e;
	struct kvfs_dinode *d;
	struct kvfs_dir_data_ent *de;
	uint64_t fsb, ino;
	uint8_t *b;

	ns_dev_open(&e, path);
	d = ns_iget(&e, dir);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(e.g.dirblksize, e.g.blocksize);
	fsb = kv_le64_to_cpu(
		((struct kvfs_extent *)kvfs_dinode_dfork(e.dip))->startblock);
	b = malloc(e.g.blocksize);
	CHECK(b);
	CHECK_EQ(kv_dev_pread(e.dev, b, e.g.blocksize,
			      kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	de = (void *)(b + KVFS_DIR_HEAD_SIZE);
	while (!kv_le64_to_cpu(de->ino))
		de = (void *)((uint8_t *)de + kv_le32_to_cpu(de->reclen));
	de->ftype = ftype;
	ino = kv_le64_to_cpu(de->ino);
	kvfs_blkhdr_set_crc(b, e.g.blocksize);
	CHECK_EQ(kv_dev_pwrite(e.dev, b, e.g.blocksize,
			       kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	free(b);
	ns_dev_close(&e);
	return ino;
}

/*
 * Block directory dir: data block 0's header says it is data block dblk
 * (crc recomputed), its head and entries intact.
 */
static inline void ns_blk_set_dblk(const char *path, uint64_t dir,
				   uint32_t dblk)
{
	struct nsedit e;
	struct kvfs_extent *x;
	uint64_t fsb;
	uint8_t *b;

	ns_dev_open(&e, path);
	CHECK_EQ(ns_iget(&e, dir)->dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(e.g.dirblksize, e.g.blocksize);
	x = (void *)kvfs_dinode_dfork(e.dip);
	CHECK_EQ(kv_le64_to_cpu(x->startoff), 0);
	fsb = kv_le64_to_cpu(x->startblock);
	b = malloc(e.g.blocksize);
	CHECK(b);
	CHECK_EQ(kv_dev_pread(e.dev, b, e.g.blocksize,
			      kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	((struct kvfs_dir_data_hdr *)b)->dblk = kv_cpu_to_le32(dblk);
	kvfs_blkhdr_set_crc(b, e.g.blocksize);
	CHECK_EQ(kv_dev_pwrite(e.dev, b, e.g.blocksize,
			       kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	free(b);
	ns_dev_close(&e);
}

/* The first block of ino's attribute fork (EXTENTS): a byte flipped. */
static inline void ns_attr_trash(const char *path, uint64_t ino)
{
	struct nsedit e;
	struct kvfs_dinode *d;
	struct kvfs_extent *x;
	uint64_t fsb;
	uint8_t *b;

	ns_dev_open(&e, path);
	d = ns_iget(&e, ino);
	CHECK_EQ(d->aformat, KVFS_DFORK_EXTENTS);
	x = (void *)(kvfs_dinode_dfork(e.dip) +
		     kv_le16_to_cpu(d->forkoff) * 8u);
	fsb = kv_le64_to_cpu(x->startblock);
	b = malloc(e.g.blocksize);
	CHECK(b);
	CHECK_EQ(kv_dev_pread(e.dev, b, e.g.blocksize,
			      kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	b[e.g.blocksize / 2] ^= 0x5a;
	CHECK_EQ(kv_dev_pwrite(e.dev, b, e.g.blocksize,
			       kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	free(b);
	ns_dev_close(&e);
}

/*
 * Block directory dir: data block dblk (dirblksize == blocksize) changed:
 * head's nentries + 1 (crc recomputed), or a byte flipped (crc left).
 */
static inline void ns_blk_trash(const char *path, uint64_t dir, uint32_t dblk,
				bool head)
{
	struct nsedit e;
	struct kvfs_dinode *d;
	struct kvfs_extent *x;
	uint64_t fsb = KVFS_NULLBLOCK;
	uint8_t *b;

	ns_dev_open(&e, path);
	d = ns_iget(&e, dir);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(e.g.dirblksize, e.g.blocksize);
	x = (void *)kvfs_dinode_dfork(e.dip);
	for (uint32_t i = 0; i < kv_le32_to_cpu(d->nextents); i++)
		if (dblk >= kv_le64_to_cpu(x[i].startoff) &&
		    dblk < kv_le64_to_cpu(x[i].startoff) +
				    kv_le32_to_cpu(x[i].blockcount))
			fsb = kv_le64_to_cpu(x[i].startblock) + dblk -
			      kv_le64_to_cpu(x[i].startoff);
	CHECK(fsb != KVFS_NULLBLOCK);
	b = malloc(e.g.blocksize);
	CHECK(b);
	CHECK_EQ(kv_dev_pread(e.dev, b, e.g.blocksize,
			      kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	if (head) {
		struct kvfs_dir_head *h = (void *)(b + KVFS_DIR_DATA_HDR_SIZE);

		h->nentries = kv_cpu_to_le64(kv_le64_to_cpu(h->nentries) + 1);
		kvfs_blkhdr_set_crc(b, e.g.blocksize);
	} else {
		b[e.g.blocksize / 2] ^= 0x5a;
	}
	CHECK_EQ(kv_dev_pwrite(e.dev, b, e.g.blocksize,
			       kvfs_fsb_to_bytes(&e.g, fsb)),
		 0);
	free(b);
	ns_dev_close(&e);
}

/*
 * /big's data block 1, its crc left wrong: its first entry's name made
 * that of data block 2's first entry (a flipped bit in a name of a block
 * that still verifies but for its crc).
 */
static inline void ns_blk_name_dup(const char *path, uint64_t dir)
{
	struct nsedit e;
	struct kvfs_dinode *d;
	struct kvfs_extent *x;
	struct kvfs_dir_data_ent *d0, *d1;
	uint64_t fsb[3] = { 0, KVFS_NULLBLOCK, KVFS_NULLBLOCK };
	uint8_t *b[3];

	ns_dev_open(&e, path);
	d = ns_iget(&e, dir);
	CHECK_EQ(d->dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(e.g.dirblksize, e.g.blocksize);
	x = (void *)kvfs_dinode_dfork(e.dip);
	for (uint32_t k = 1; k < 3; k++) {
		for (uint32_t i = 0; i < kv_le32_to_cpu(d->nextents); i++)
			if (k >= kv_le64_to_cpu(x[i].startoff) &&
			    k < kv_le64_to_cpu(x[i].startoff) +
					    kv_le32_to_cpu(x[i].blockcount))
				fsb[k] = kv_le64_to_cpu(x[i].startblock) + k -
					 kv_le64_to_cpu(x[i].startoff);
		CHECK(fsb[k] != KVFS_NULLBLOCK);
		b[k] = malloc(e.g.blocksize);
		CHECK(b[k]);
		CHECK_EQ(kv_dev_pread(e.dev, b[k], e.g.blocksize,
				      kvfs_fsb_to_bytes(&e.g, fsb[k])),
			 0);
	}
	d0 = (void *)(b[1] + KVFS_DIR_DATA_HDR_SIZE);
	while (!kv_le64_to_cpu(d0->ino))
		d0 = (void *)((uint8_t *)d0 + kv_le32_to_cpu(d0->reclen));
	d1 = (void *)(b[2] + KVFS_DIR_DATA_HDR_SIZE);
	while (!kv_le64_to_cpu(d1->ino))
		d1 = (void *)((uint8_t *)d1 + kv_le32_to_cpu(d1->reclen));
	CHECK_EQ(d0->namelen, d1->namelen);
	memcpy(d0->name, d1->name, d1->namelen);
	CHECK_EQ(kv_dev_pwrite(e.dev, b[1], e.g.blocksize,
			       kvfs_fsb_to_bytes(&e.g, fsb[1])),
		 0);
	free(b[1]);
	free(b[2]);
	ns_dev_close(&e);
}

/* ---- the damages of the catalogue, each on its own copy ---- */

enum ns_damage {
	NSD_ENTRY_FREE, /* /a/ghost names a free inode */
	NSD_TYPE, /* /a/f2 says symlink */
	NSD_BLK_TYPE, /* the first entry of /big says directory */
	NSD_NLINK, /* f1's link count 5 */
	NSD_DOTDOT, /* b's ".." names c */
	NSD_CYCLE, /* a out of the root, /a/b/loop names a, a's ".." b */
	NSD_DISCONNECT, /* a out of the root */
	NSD_TWO_PARENTS, /* /c/b2 names b too */
	NSD_ORPHAN, /* /p out of the root, link count 0, on no list */
	NSD_XATTR, /* x's attribute leaf fails its verifier */
	NSD_DIR_HEAD, /* /big's head counts one entry too many */
	NSD_DIR_BLOCK, /* /big's data block 1 fails its verifier */
	NSD_NO_LPF, /* lost+found out of the root */
	NSD_NAME_DUP, /* /big's block 1 (crc wrong) names block 2's first */
	NSD_HEAD_DBLK, /* /big's data block 0 says it is data block 155 */
	NSD_N
};

static const char *const ns_damage_names[NSD_N] = {
	"entry to a free inode",
	"wrong file type",
	"wrong type (block dir)",
	"wrong link count",
	"wrong ..",
	"cycle",
	"disconnected subtree",
	"two parents",
	"orphan on no list",
	"bad xattr block",
	"directory head",
	"directory block lost",
	"lost+found missing",
	"name made another's (crc)",
	"head's block number",
};

static inline void ns_damage(const char *path, const struct nstree *t,
			     enum ns_damage d)
{
	switch (d) {
	case NSD_ENTRY_FREE:
		ns_sf_add(path, t->a, "ghost", t->freeino, KVFS_FT_REG);
		break;
	case NSD_TYPE:
		ns_sf_set_ftype(path, t->a, "f2", KVFS_FT_LNK);
		break;
	case NSD_BLK_TYPE:
		ns_blk_set_ftype(path, t->big, KVFS_FT_DIR);
		break;
	case NSD_NLINK:
		ns_set_nlink(path, t->f1, 4);
		break;
	case NSD_DOTDOT:
		ns_sf_set_parent(path, t->b, t->c);
		break;
	case NSD_CYCLE:
		/* link counts kept right: the cycle is the only damage */
		ns_sf_remove(path, t->root, "a");
		ns_set_nlink(path, t->root, -1);
		ns_sf_add(path, t->b, "loop", t->a, KVFS_FT_DIR);
		ns_set_nlink(path, t->b, 1);
		ns_sf_set_parent(path, t->a, t->b);
		break;
	case NSD_DISCONNECT:
		ns_sf_remove(path, t->root, "a");
		ns_set_nlink(path, t->root, -1);
		break;
	case NSD_TWO_PARENTS:
		ns_sf_add(path, t->c, "b2", t->b, KVFS_FT_DIR);
		break;
	case NSD_ORPHAN:
		ns_sf_remove(path, t->root, "p");
		ns_set_nlink(path, t->p, -1);
		break;
	case NSD_XATTR:
		ns_attr_trash(path, t->x);
		break;
	case NSD_DIR_HEAD:
		ns_blk_trash(path, t->big, 0, true);
		break;
	case NSD_DIR_BLOCK:
		ns_blk_trash(path, t->big, 1, false);
		break;
	case NSD_NO_LPF:
		ns_sf_remove(path, t->root, "lost+found");
		ns_set_nlink(path, t->root, -1);
		break;
	case NSD_NAME_DUP:
		ns_blk_name_dup(path, t->big);
		break;
	case NSD_HEAD_DBLK:
		ns_blk_set_dblk(path, t->big, 155);
		break;
	case NSD_N:
		break;
	}
}

#endif
