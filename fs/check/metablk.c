// SPDX-License-Identifier: GPL-2.0
/*
 * Metadata blocks by type, from the checker's ownership claims.  Data-fork
 * claims are metadata only for directories and symlinks: the owning
 * inode's mode (read raw, the last one remembered, since a file's
 * extents arrive together) tells.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/check/check.h"
#include "fs/check/metablk.h"
#include "fs/check/scrub.h"

static const char *const type_names[KVFS_MB_NTYPES] = {
	[KVFS_MB_SB] = "sb",	       [KVFS_MB_AGF] = "agf",
	[KVFS_MB_AGI] = "agi",	       [KVFS_MB_AGFL] = "agfl",
	[KVFS_MB_BNOBT] = "bnobt",     [KVFS_MB_CNTBT] = "cntbt",
	[KVFS_MB_INOBT] = "inobt",     [KVFS_MB_INODE] = "inode",
	[KVFS_MB_BMBT] = "bmbt",       [KVFS_MB_DIR] = "dir",
	[KVFS_MB_DIRIDX] = "diridx",   [KVFS_MB_ATTR] = "attr",
	[KVFS_MB_SYMLINK] = "symlink", [KVFS_MB_LOG] = "log",
};

const char *kvfs_metablk_type_name(enum kvfs_metablk_type t)
{
	return t < KVFS_MB_NTYPES ? type_names[t] : "?";
}

int kvfs_metablk_type_parse(const char *name, size_t len)
{
	for (int t = 0; t < KVFS_MB_NTYPES; t++)
		if (strlen(type_names[t]) == len &&
		    !memcmp(type_names[t], name, len))
			return t;
	return -EINVAL;
}

struct walk {
	struct kv_dev *dev;
	const struct kvfs_geom *g;
	kvfs_metablk_fn fn;
	void *priv;
	uint8_t *blk; /* scratch block for inode reads */
	uint64_t last_ino;
	uint16_t last_mode;
};

/* The mode of inode ino, 0 if unreadable (then its data is skipped). */
static uint16_t inode_mode(struct walk *w, uint64_t ino)
{
	const struct kvfs_geom *g = w->g;
	const struct kvfs_dinode *d;

	if (ino == w->last_ino)
		return w->last_mode;
	w->last_ino = ino;
	w->last_mode = 0;
	if (!kvfs_ino_in_range(g, ino) ||
	    kvfs_read_blocks(w->dev, g, kvfs_ino_to_fsb(g, ino), 1, w->blk))
		return 0;
	d = (const void *)(w->blk + kvfs_ino_to_offset(g, ino));
	w->last_mode = kv_le16_to_cpu(d->mode);
	return w->last_mode;
}

static int on_claim(void *priv, uint64_t fsb, uint32_t len,
		    enum kvfs_scrub_owner kind, uint64_t owner)
{
	static const int8_t by_kind[KVFS_OWN_NR] = {
		[KVFS_OWN_SB] = KVFS_MB_SB,
		[KVFS_OWN_AG_HEADER] = -1, /* by position below */
		[KVFS_OWN_RESERVE] = -1, /* not metadata yet */
		[KVFS_OWN_FREE] = -1,
		[KVFS_OWN_BNOBT] = KVFS_MB_BNOBT,
		[KVFS_OWN_CNTBT] = KVFS_MB_CNTBT,
		[KVFS_OWN_INOBT] = KVFS_MB_INOBT,
		[KVFS_OWN_INODES] = KVFS_MB_INODE,
		[KVFS_OWN_LOG] = KVFS_MB_LOG,
		[KVFS_OWN_DATA] = -1, /* by the owner's mode below */
		[KVFS_OWN_BMBT] = KVFS_MB_BMBT,
		[KVFS_OWN_ATTR] = KVFS_MB_ATTR,
		[KVFS_OWN_DIRIDX] = KVFS_MB_DIRIDX,
	};
	struct walk *w = priv;
	uint16_t mode;
	int err = 0;

	if (kind == KVFS_OWN_AG_HEADER) {
		/* the claim covers the AGF, AGI and reserve-list blocks */
		for (uint32_t i = 0; i < len && !err; i++)
			err = w->fn(w->priv, fsb + i, 1, KVFS_MB_AGF + i,
				    owner);
		return err;
	}
	if (kind == KVFS_OWN_DATA) {
		mode = inode_mode(w, owner);
		if (S_ISDIR(mode))
			return w->fn(w->priv, fsb, len, KVFS_MB_DIR, owner);
		if (S_ISLNK(mode))
			return w->fn(w->priv, fsb, len, KVFS_MB_SYMLINK, owner);
		return 0;
	}
	if (kind >= KVFS_OWN_NR || by_kind[kind] < 0)
		return 0;
	return w->fn(w->priv, fsb, len, (enum kvfs_metablk_type)by_kind[kind],
		     owner);
}

int kvfs_metablk_walk(struct kv_dev *dev, const struct kvfs_geom *g,
		      kvfs_metablk_fn fn, void *priv)
{
	struct walk w = { .dev = dev,
			  .g = g,
			  .fn = fn,
			  .priv = priv,
			  .last_ino = KVFS_NULLINO };
	struct kvfs_scrub_result *res;
	int err;

	res = kvmalloc(sizeof(*res), 0);
	w.blk = kvmalloc(g->blocksize, 0);
	if (!res || !w.blk) {
		err = -ENOMEM;
		goto out;
	}
	err = kvfs_scrub_dev_claims(dev, g, res, on_claim, &w);
	if (err == -EUCLEAN)
		err = 0;
out:
	kvfree(w.blk);
	kvfree(res);
	return err;
}
