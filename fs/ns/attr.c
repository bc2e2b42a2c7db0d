// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes (fs/ns/attr.h; the format is in fs/format.h): the
 * names, reading and changing.  The formats are decoded and encoded in
 * fs/ns/attr_blk.c, the checker's walk is fs/ns/attr_scrub.c.
 *
 * Every change decodes the attributes it touches (the short-form fork, or
 * one leaf and perhaps its sibling) into arrays of struct xent, computes
 * the new arrays and re-encodes whole blocks, as fs/data/bmap.c does with
 * extents.  A change runs in two phases: the plan reads what it needs and
 * allocates every new block (undone, and the call refused with -ENOSPC,
 * when there is no space), then the change phase writes, frees and cannot
 * fail but on I/O errors (which cancel the transaction: a shutdown).
 *
 * The attribute fork maps its blocks as the data fork does (fs/data/bmap.h):
 * an extent list in the inode, turned into an extent-map B+tree rooted in
 * the fork when the extents outgrow it, and back when they fit again.  A
 * change touches at most KVFS_ATTR_TREE_RANGES ranges of the attribute
 * space, which is what its reservation holds tree changes for.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/ns/attr.h"
#include "fs/ns/attr_priv.h"
#include "fs/io/blkhdr.h"
#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/ns/dir.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_item.h"
#include "fs/inode/icache.h"
#include "fs/inode/iflags.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/crc32c.h"

/* ---- names ---- */

static const char *const ns_prefix[] = { "user.", "trusted.", "security." };
static const char *const ns_whole[] = { "system.posix_acl_access",
					"system.posix_acl_default" };

bool kvfs_attr_name_valid(const char *name, size_t len)
{
	if (!len || len > KVFS_XATTR_NAME_MAX || memchr(name, '\0', len))
		return false;
	for (size_t i = 0; i < sizeof(ns_prefix) / sizeof(ns_prefix[0]); i++) {
		size_t pl = strlen(ns_prefix[i]);

		if (len > pl && !memcmp(name, ns_prefix[i], pl))
			return true;
	}
	for (size_t i = 0; i < sizeof(ns_whole) / sizeof(ns_whole[0]); i++)
		if (len == strlen(ns_whole[i]) &&
		    !memcmp(name, ns_whole[i], len))
			return true;
	return false;
}

uint32_t kvfs_attr_hash(const char *name, size_t len)
{
	return kv_crc32c(0, name, len);
}

/* The errno of a name the caller gave: 0 if it is valid. */
static int name_errno(const char *name, size_t *lenp)
{
	size_t len = strnlen(name, KVFS_XATTR_NAME_MAX + 1);

	*lenp = len;
	if (!len || len > KVFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (kvfs_attr_name_valid(name, len))
		return 0;
	/* a known prefix with nothing after it, as Linux says */
	for (size_t i = 0; i < sizeof(ns_prefix) / sizeof(ns_prefix[0]); i++)
		if (!strcmp(name, ns_prefix[i]))
			return -EINVAL;
	return -EOPNOTSUPP;
}

/* ---- the attribute fork's blocks ---- */

/* The filesystem block of attribute block lblk (-EUCLEAN: unmapped). */
static int lblk_to_fsb(struct kvfs_inode *ip, uint64_t lblk, uint64_t *fsb)
{
	struct kvfs_bmap map;
	int nmap = 1, err;

	err = kvfs_bmapi_read_fork(ip, KVFS_ATTR_FORK, lblk, 1, &map, &nmap);
	if (err)
		return err;
	if (map.startblock == KVFS_NULLBLOCK)
		return kvfs_corrupt_inode(
			-EUCLEAN, kvfs_ino_to_fsb(&ip->i_mount->g, ip->i_ino),
			ip->i_ino, "attribute block %" PRIu64 " is not mapped",
			lblk);
	*fsb = map.startblock;
	return 0;
}

/* The block's header names ip and the magic is one of ours. */
static int blk_owned(struct kvfs_inode *ip, struct kv_buf *bp, uint32_t magic)
{
	const struct kvfs_blk_hdr *h = bp->b_addr;

	if (kv_le64_to_cpu(h->owner) == ip->i_ino &&
	    (!magic || kv_le32_to_cpu(h->magic) == magic))
		return 0;
	return kvfs_corrupt(-EUCLEAN, bp->b_blkno, "attribute block",
			    "owned by inode %" PRIu64 " (magic 0x%08x), not "
			    "inode %" PRIu64,
			    (uint64_t)kv_le64_to_cpu(h->owner),
			    kv_le32_to_cpu(h->magic), ip->i_ino);
}

/*
 * Copy attribute block lblk into buf (outside transactions: get, list).
 * magic 0: leaf or node.
 */
static int read_copy(struct kvfs_inode *ip, uint64_t lblk, uint32_t magic,
		     uint8_t *buf)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kv_buf *bp;
	uint64_t fsb = 0;
	int err;

	err = lblk_to_fsb(ip, lblk, &fsb);
	if (!err)
		err = kv_buf_read(mp->bc, fsb, 1, &kvfs_attr_buf_ops, &bp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err; /* damage to callers */
	kv_buf_lock(bp);
	err = blk_owned(ip, bp, magic);
	if (!err)
		memcpy(buf, bp->b_addr, mp->g.blocksize);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	return err;
}

/* The remote value of x into out (x->valuelen bytes). */
static int rmt_read(struct kvfs_inode *ip, const struct xent *x, uint8_t *out,
		    uint8_t *scratch)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint32_t per = rmt_per(g);

	for (uint32_t i = 0; i < rmt_blocks(g, x->valuelen); i++) {
		const struct kvfs_attr_rmt_hdr *h = (const void *)scratch;
		uint32_t want = x->valuelen - i * per < per ?
					x->valuelen - i * per :
					per;
		int err = read_copy(ip, (uint64_t)x->valueblk + i,
				    KVFS_ATTR_RMT_MAGIC, scratch);

		if (err)
			return err;
		if (kv_le32_to_cpu(h->offset) != i * per ||
		    kv_le32_to_cpu(h->bytes) != want)
			return kvfs_corrupt_inode(
				-EUCLEAN, kvfs_ino_to_fsb(g, ip->i_ino),
				ip->i_ino,
				"remote value block %u of attribute holds "
				"bytes %u+%u, not %u+%u",
				i, kv_le32_to_cpu(h->offset),
				kv_le32_to_cpu(h->bytes), i * per, want);
		memcpy(out + i * per, scratch + KVFS_ATTR_RMT_HDR_SIZE, want);
	}
	return 0;
}

/* ---- reading ---- */

/*
 * Call fn for each leaf's attributes (or the short form's), in order:
 * with the decoded set; fn returns non-zero to stop (returned).
 */
typedef int (*leaf_fn)(struct kvfs_inode *ip, struct xset *s, void *priv);

static int for_each_leaf(struct kvfs_inode *ip, const char *name, size_t len,
			 leaf_fn fn, void *priv)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint8_t *blk = NULL, *leaf = NULL;
	struct xnode x = { 0 };
	struct xset s = { 0 };
	int err;

	if (!ip->i_forkoff)
		return 0;
	if (ip->i_aformat == KVFS_DFORK_INLINE) {
		err = kvfs_attr_xset_init(&s, 256);
		if (err)
			return err;
		kvfs_attr_sf_decode(ip->i_afork, &s);
		err = fn(ip, &s, priv);
		kvfs_attr_xset_free(&s);
		return err;
	}
	if (ip->i_aformat != KVFS_DFORK_EXTENTS &&
	    ip->i_aformat != KVFS_DFORK_BTREE)
		return -EOPNOTSUPP;
	blk = kvmalloc(g->blocksize, 0);
	leaf = kvmalloc(g->blocksize, 0);
	err = blk && leaf ? kvfs_attr_xset_init(&s, g->blocksize / 8 + 2) :
			    -ENOMEM;
	if (!err)
		err = read_copy(ip, 0, 0, blk);
	if (err)
		goto out;
	if (kv_le32_to_cpu(((struct kvfs_blk_hdr *)blk)->magic) ==
	    KVFS_ATTR_LEAF_MAGIC) {
		kvfs_attr_leaf_decode(blk, &s);
		err = fn(ip, &s, priv);
		goto out;
	}
	err = kvfs_attr_xnode_init(&x, g);
	if (err)
		goto out;
	kvfs_attr_node_decode(blk, &x);
	for (uint32_t i = name ? kvfs_attr_node_lookup(
					 &x, kvfs_attr_hash(name, len)) :
				 0;
	     i < x.n; i++) {
		err = read_copy(ip, x.blk[i], KVFS_ATTR_LEAF_MAGIC, leaf);
		if (err)
			break;
		kvfs_attr_leaf_decode(leaf, &s);
		err = fn(ip, &s, priv);
		if (err || name)
			break;
	}
	kvfree(x.hash);
out:
	kvfs_attr_xset_free(&s);
	kvfree(leaf);
	kvfree(blk);
	return err;
}

struct get_ctx {
	const char *name;
	size_t len;
	void *value;
	size_t size;
	ssize_t ret;
};

static int get_fn(struct kvfs_inode *ip, struct xset *s, void *priv)
{
	struct get_ctx *c = priv;
	int i = kvfs_attr_xset_find(s, c->name, c->len,
				    ip->i_aformat != KVFS_DFORK_INLINE);
	const struct xent *x;
	uint8_t *scratch;
	int err;

	if (i < 0 || s->e[i].dead)
		return 0;
	x = &s->e[i];
	c->ret = x->valuelen;
	if (!c->size)
		return 1;
	if (c->size < x->valuelen) {
		c->ret = -ERANGE;
		return 1;
	}
	if (x->local) {
		memcpy(c->value, x->value, x->valuelen);
		return 1;
	}
	scratch = kvmalloc(ip->i_mount->g.blocksize, 0);
	if (!scratch)
		return -ENOMEM;
	err = rmt_read(ip, x, c->value, scratch);
	kvfree(scratch);
	return err ? err : 1;
}

ssize_t kvfs_attr_get(struct kvfs_inode *ip, const char *name, void *value,
		      size_t size)
{
	struct get_ctx c = {
		.name = name, .value = value, .size = size, .ret = -ENODATA
	};
	int err = name_errno(name, &c.len);

	if (err)
		return err;
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = for_each_leaf(ip, name, c.len, get_fn, &c);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return err < 0 ? err : c.ret;
}

struct list_ctx {
	char *list;
	size_t size;
	size_t total;
};

static int list_fn(struct kvfs_inode *ip, struct xset *s, void *priv)
{
	struct list_ctx *c = priv;

	(void)ip;
	for (uint32_t i = 0; i < s->n; i++) {
		size_t n = s->e[i].namelen + 1u;

		if (s->e[i].dead)
			continue;
		if (c->size && c->total + n <= c->size) {
			memcpy(c->list + c->total, s->e[i].name, n - 1);
			c->list[c->total + n - 1] = '\0';
		}
		c->total += n;
	}
	return 0;
}

ssize_t kvfs_attr_list(struct kvfs_inode *ip, char *list, size_t size)
{
	struct list_ctx c = { .list = list, .size = size };
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = for_each_leaf(ip, NULL, 0, list_fn, &c);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	if (err)
		return err;
	if (size && c.total > size)
		return -ERANGE;
	return (ssize_t)c.total;
}

/* ---- changing ---- */

struct range {
	uint64_t off;
	uint32_t len;
};

struct actx {
	struct kvfs_trans *tp;
	struct kvfs_inode *ip;
	struct kvfs_mount *mp;
	const struct kvfs_geom *g;
	struct range alloc[4]; /* allocated by the plan (undone on failure) */
	unsigned nalloc;
	struct range frees[8]; /* freed by the change phase */
	unsigned nfree;
	bool dirty; /* allocations tried: commit, do not cancel */
	bool changed; /* the change phase began: an error cancels */
};

typedef int (*map_fn)(const struct kvfs_bmap *m, void *priv);

/*
 * Call fn for every mapping (holes too) of the attribute space from block
 * from on, in order, a few at a time (a B+tree fork maps any number of
 * extents); fn returns non-zero to stop (returned).
 */
static int for_each_map(struct kvfs_inode *ip, uint64_t from, map_fn fn,
			void *priv)
{
	/* attribute blocks are numbered by 32-bit entries */
	const uint64_t end = (uint64_t)UINT32_MAX + 1;
	struct kvfs_bmap map[32];
	uint64_t off = from;
	int err = 0;

	while (!err && off < end) {
		int nmap = 32;

		err = kvfs_bmapi_read_fork(ip, KVFS_ATTR_FORK, off, end - off,
					   map, &nmap);
		if (err || !nmap)
			break;
		for (int i = 0; !err && i < nmap; i++)
			err = fn(&map[i], priv);
		off = map[nmap - 1].startoff + map[nmap - 1].blockcount;
	}
	return err;
}

struct free_ctx {
	uint32_t n;
	uint64_t off;
};

static int free_fn(const struct kvfs_bmap *m, void *priv)
{
	struct free_ctx *f = priv;

	if (m->startblock != KVFS_NULLBLOCK || m->blockcount < f->n)
		return 0;
	f->off = m->startoff;
	return 1;
}

/* The first n unmapped attribute blocks from block 1 on. */
static int find_free(struct actx *c, uint32_t n, uint64_t *off)
{
	struct free_ctx f = { .n = n, .off = 0 };
	int err = for_each_map(c->ip, 1, free_fn, &f);

	*off = f.off;
	if (err < 0)
		return err;
	return err ? 0 : -ENOSPC;
}

/* Map n new blocks at off (in pieces if need be), recorded for undo. */
static int alloc_at(struct actx *c, uint64_t off, uint32_t n)
{
	struct range *r;
	int err = 0;

	if (off + n > KVFS_ATTR_MAX_BYTES >> c->g->blocklog)
		return -ENOSPC;
	r = &c->alloc[c->nalloc++];
	r->off = off;
	r->len = 0;
	c->dirty = true;
	while (r->len < n && !err) {
		struct kvfs_bmap map[4];
		int nmap = 4;

		err = kvfs_bmapi_write_fork(c->tp, c->ip, KVFS_ATTR_FORK,
					    off + r->len, n - r->len, 0, map,
					    &nmap);
		for (int i = 0; i < nmap && !err; i++)
			r->len += (uint32_t)map[i].blockcount;
	}
	return err;
}

static int alloc_free_range(struct actx *c, uint32_t n, uint64_t *off)
{
	int err = find_free(c, n, off);

	return err ? err : alloc_at(c, *off, n);
}

/* Unmap [off, off + len) and free its blocks (through intents). */
static int unmap(struct actx *c, uint64_t off, uint32_t len)
{
	uint64_t rem = len;
	int err = 0;

	while (rem && !err)
		err = kvfs_bunmapi_fork(c->tp, c->ip, KVFS_ATTR_FORK, off, rem,
					len, &rem);
	return err;
}

/* Give back what the plan allocated (each range was a hole before). */
static int undo(struct actx *c)
{
	int err = 0;

	while (c->nalloc && !err) {
		struct range *r = &c->alloc[--c->nalloc];

		if (r->len)
			err = unmap(c, r->off, r->len);
	}
	return err;
}

/*
 * Room in this change for the frees and more ranges (allocated or freed):
 * at most KVFS_ATTR_TREE_RANGES in all (the log space of the fork's tree
 * changes, fs/trans/trans_resv.c) and 8 frees; -ENOSPC otherwise.
 */
static int frees_fit_more(struct actx *c, unsigned more)
{
	return c->nalloc + c->nfree + more <= KVFS_ATTR_TREE_RANGES &&
			       c->nfree + more <= 8 ?
		       0 :
		       -ENOSPC;
}

static int frees_fit(struct actx *c)
{
	return frees_fit_more(c, 0);
}

static void add_free(struct actx *c, uint64_t off, uint32_t len)
{
	c->frees[c->nfree].off = off;
	c->frees[c->nfree++].len = len;
}

static int tread(struct actx *c, uint64_t lblk, uint32_t magic,
		 struct kv_buf **bpp)
{
	uint64_t fsb = 0;
	int err = lblk_to_fsb(c->ip, lblk, &fsb);

	if (!err)
		err = kvfs_trans_read_buf(c->tp->jt, c->mp->bl, fsb, 1,
					  &kvfs_attr_buf_ops, bpp);
	if (err)
		return err == -EBADMSG ? -EUCLEAN : err; /* damage to callers */
	return blk_owned(c->ip, *bpp, magic);
}

/* A block just mapped at lblk, header filled for magic. */
static int tnew(struct actx *c, uint64_t lblk, uint32_t magic,
		struct kv_buf **bpp)
{
	uint64_t fsb = 0;
	int err = lblk_to_fsb(c->ip, lblk, &fsb);

	if (!err)
		err = kvfs_trans_get_buf(c->tp->jt, c->mp->bl, fsb, 1,
					 &kvfs_attr_buf_ops, bpp);
	if (!err)
		kvfs_blkhdr_init((*bpp)->b_addr, magic, fsb, c->ip->i_ino,
				 c->g->meta_uuid);
	return err;
}

static void tlog(struct actx *c, struct kv_buf *bp)
{
	kvfs_trans_log_buf(c->tp->jt, bp, 0, c->g->blocksize - 1);
}

/* Write value into the remote blocks from valueblk. */
static int rmt_write(struct actx *c, uint32_t valueblk, const uint8_t *value,
		     uint32_t len)
{
	uint32_t per = rmt_per(c->g);

	for (uint32_t i = 0; i < rmt_blocks(c->g, len); i++) {
		uint32_t n = len - i * per < per ? len - i * per : per;
		struct kvfs_attr_rmt_hdr *h;
		struct kv_buf *bp;
		int err = tnew(c, (uint64_t)valueblk + i, KVFS_ATTR_RMT_MAGIC,
			       &bp);

		if (err)
			return err;
		h = bp->b_addr;
		memset((uint8_t *)bp->b_addr + KVFS_BLK_HDR_SIZE, 0,
		       c->g->blocksize - KVFS_BLK_HDR_SIZE);
		h->offset = kv_cpu_to_le32(i * per);
		h->bytes = kv_cpu_to_le32(n);
		memcpy((uint8_t *)bp->b_addr + KVFS_ATTR_RMT_HDR_SIZE,
		       value + i * per, n);
		tlog(c, bp);
	}
	return 0;
}

/* Invalidate and unmap the frees (the change phase). */
static int do_frees(struct actx *c)
{
	for (unsigned i = 0; i < c->nfree; i++) {
		for (uint32_t j = 0; j < c->frees[i].len; j++) {
			struct kv_buf *bp;
			uint64_t fsb = 0;
			int err = lblk_to_fsb(c->ip, c->frees[i].off + j, &fsb);

			if (!err)
				err = kvfs_trans_get_buf(
					c->tp->jt, c->mp->bl, fsb, 1,
					&kvfs_attr_buf_ops, &bp);
			if (err)
				return err;
			kvfs_trans_binval(c->tp->jt, bp);
		}
		int err = unmap(c, c->frees[i].off, c->frees[i].len);

		if (err)
			return err;
	}
	return 0;
}

/*
 * Move the fork boundary.  A B+tree fork's root is laid out for its fork's
 * size: each is laid out again (-ENOSPC, nothing changed, when a root's
 * entries do not fit its smaller fork).  The caller logs both forks with
 * the core when the boundary moved (forks_moved()): recovery lays the
 * logged fork offset over the inode on disk, whose unlogged fork keeps
 * the old layout there (a B+tree root's pointers then read from the wrong
 * place).
 */
static int set_forkoff(struct kvfs_inode *ip, uint16_t forkoff)
{
	uint32_t old_d = kvfs_inode_dfork_size(ip), new_d;
	uint32_t old_a = kvfs_inode_afork_size(ip), new_a;
	uint16_t save = ip->i_forkoff;
	bool dtree = ip->i_dformat == KVFS_DFORK_BTREE;
	bool atree = ip->i_aformat == KVFS_DFORK_BTREE;
	int err = 0;

	ip->i_forkoff = forkoff;
	new_d = kvfs_inode_dfork_size(ip);
	new_a = kvfs_inode_afork_size(ip);
	/*
	 * The shrinking fork's root first: only it may refuse, and then
	 * nothing changed; a growing root always fits.
	 */
	if (new_d < old_d && dtree)
		err = kvfs_btree_iroot_resize(ip->i_dfork, old_d, new_d,
					      sizeof(struct kvfs_bmbt_key));
	if (new_a < old_a && atree)
		err = kvfs_btree_iroot_resize(ip->i_afork, old_a, new_a,
					      sizeof(struct kvfs_bmbt_key));
	if (err) {
		ip->i_forkoff = save;
		return err;
	}
	/*
	 * Past its size a fork's buffer may hold anything (a shrunk root's
	 * old pointers): what a list or inline fork gains must be zeros, as
	 * the on-disk format wants after its records; a root is laid out
	 * again with zeros.
	 */
	if (new_d > old_d && dtree)
		kvfs_btree_iroot_resize(ip->i_dfork, old_d, new_d,
					sizeof(struct kvfs_bmbt_key));
	else if (new_d > old_d)
		memset(ip->i_dfork + old_d, 0, new_d - old_d);
	if (new_a > old_a && atree)
		kvfs_btree_iroot_resize(ip->i_afork, old_a, new_a,
					sizeof(struct kvfs_bmbt_key));
	else if (new_a > old_a)
		memset(ip->i_afork + old_a, 0, new_a - old_a);
	return 0;
}

/* The fields to log of a change that moved the boundary from old, or not. */
static unsigned forks_moved(const struct kvfs_inode *ip, uint16_t old)
{
	return ip->i_forkoff != old ? KVFS_ILOG_DFORK : 0;
}

/*
 * No attribute fork any more: the data fork has the inode's room again,
 * and a B+tree data fork whose extents now fit it as a list becomes one.
 */
static int fork_remove(struct actx *c)
{
	struct kvfs_inode *ip = c->ip;
	int err;

	/* a larger fork always holds the root */
	err = set_forkoff(ip, 0);
	if (err)
		return err;
	ip->i_aformat = 0;
	ip->i_anextents = 0;
	memset(ip->i_afork, 0, c->g->inodesize - KVFS_DINODE_CORE_SIZE);
	kvfs_trans_log_inode(c->tp, ip, KVFS_ILOG_CORE | KVFS_ILOG_DFORK);
	return kvfs_bmap_fork_grown(c->tp, ip, KVFS_DATA_FORK);
}

/*
 * The attribute fork offset for a new fork: half the room, or just past
 * what the data fork uses (a B+tree root: its entries) when that is more;
 * 0 when less than one extent would be left.
 */
static uint16_t new_forkoff(const struct kvfs_inode *ip)
{
	uint32_t room = ip->i_mount->g.inodesize - KVFS_DINODE_CORE_SIZE;
	uint32_t used, off = room / 2 & ~7u;

	switch (ip->i_dformat) {
	case KVFS_DFORK_INLINE:
		used = (uint32_t)ip->i_size;
		break;
	case KVFS_DFORK_EXTENTS:
		used = ip->i_nextents * (uint32_t)sizeof(struct kvfs_extent);
		break;
	case KVFS_DFORK_BTREE:
		used = kvfs_btree_iroot_bytes(ip->i_dfork,
					      sizeof(struct kvfs_bmbt_key));
		break;
	default:
		return 0;
	}
	used = (used + 7) & ~7u;
	if (used > off)
		off = used;
	if (room - off < sizeof(struct kvfs_extent))
		return 0;
	return (uint16_t)(off / 8);
}

/*
 * The data fork leaves no room for an attribute fork: give it the form
 * that does, as XFS's xfs_bmap_add_attrfork does.  A short-form directory
 * becomes block form, an extent list a B+tree (its root fits any fork).
 * The change stands on its own (c->dirty: committed even if the attribute
 * then fails).  Inline symbolic links and data are left as they are
 * (new_forkoff() then finds no room: -ENOSPC).
 */
static int make_room(struct actx *c)
{
	struct kvfs_inode *ip = c->ip;
	int err = 0;

	if (ip->i_dformat == KVFS_DFORK_INLINE && S_ISDIR(ip->i_mode))
		err = kvfs_dir_sf_to_block(c->tp, ip);
	else if (ip->i_dformat == KVFS_DFORK_EXTENTS)
		err = kvfs_bmap_to_btree(c->tp, ip, KVFS_DATA_FORK);
	else
		return 0;
	c->dirty = true;
	return err;
}

/* The new attribute, its value where the caller has it. */
static struct xent new_xent(const struct kvfs_geom *g, const char *name,
			    size_t len, const void *value, size_t size)
{
	struct xent x = { .hash = kvfs_attr_hash(name, len),
			  .namelen = (uint8_t)len,
			  .name = name,
			  .valuelen = (uint32_t)size,
			  .value = value };

	x.local = fits_local(g, (uint32_t)len, (uint32_t)size);
	return x;
}

/* Short form (or no fork) becomes one leaf holding s (sorted here). */
static int sf_to_leaf(struct actx *c, struct xset *s, uint16_t forkoff)
{
	struct kvfs_inode *ip = c->ip;
	uint32_t room = c->g->inodesize - KVFS_DINODE_CORE_SIZE;
	uint8_t save_fmt = ip->i_aformat;
	uint16_t save_off = ip->i_forkoff;
	uint8_t *save = kvmalloc(room, 0);
	struct kv_buf *bp;
	uint64_t off;
	int err;

	if (!save)
		return -ENOMEM;
	memcpy(save, ip->i_afork, room);
	qsort(s->e, s->n, sizeof(*s->e), kvfs_attr_xent_qcmp);
	err = set_forkoff(ip, forkoff);
	if (err) {
		kvfree(save);
		return err;
	}
	ip->i_aformat = KVFS_DFORK_EXTENTS;
	ip->i_anextents = 0;
	memset(ip->i_afork, 0, room);
	err = kvfs_attr_leaf_bytes(s->e, s->n) > c->g->blocksize ? -ENOSPC : 0;
	if (!err)
		err = alloc_at(c, 0, 1);
	for (uint32_t i = 0; i < s->n && !err; i++) {
		if (s->e[i].local)
			continue;
		err = alloc_free_range(c, rmt_blocks(c->g, s->e[i].valuelen),
				       &off);
		s->e[i].valueblk = (uint32_t)off;
	}
	if (err) {
		int uerr = undo(c);

		set_forkoff(ip, save_off);
		ip->i_aformat = save_fmt;
		ip->i_anextents = 0;
		memcpy(ip->i_afork, save, room);
		/* the allocations logged the inode: log it as it is again */
		if (c->dirty)
			kvfs_trans_log_inode(c->tp, ip, KVFS_ILOG_ALL);
		kvfree(save);
		return uerr ? uerr : err;
	}
	kvfree(save);
	c->changed = true;
	for (uint32_t i = 0; i < s->n && !err; i++)
		if (!s->e[i].local)
			err = rmt_write(c, s->e[i].valueblk, s->e[i].value,
					s->e[i].valuelen);
	if (!err)
		err = tnew(c, 0, KVFS_ATTR_LEAF_MAGIC, &bp);
	if (err)
		return err;
	kvfs_attr_leaf_encode(bp->b_addr, c->g->blocksize, s->e, s->n);
	tlog(c, bp);
	kvfs_trans_log_inode(c->tp, ip,
			     KVFS_ILOG_CORE | KVFS_ILOG_AFORK |
				     forks_moved(ip, save_off));
	return 0;
}

/* A change to the short form (or to an inode with no attribute fork). */
static int sf_change(struct actx *c, const struct xent *nx, bool set, int flags)
{
	struct kvfs_inode *ip = c->ip;
	uint32_t room = c->g->inodesize - KVFS_DINODE_CORE_SIZE;
	uint16_t forkoff = ip->i_forkoff;
	/* the entries point into a copy: the fork is rewritten under them */
	uint8_t *copy = kvmalloc(room, 0);
	struct xset s = { 0 };
	int i, err;

	err = copy ? kvfs_attr_xset_init(&s, 257) : -ENOMEM;
	if (err)
		goto out;
	memcpy(copy, ip->i_afork, room);
	if (ip->i_aformat == KVFS_DFORK_INLINE)
		kvfs_attr_sf_decode(copy, &s);
	i = kvfs_attr_xset_find(&s, nx->name, nx->namelen, false);
	if (set && i >= 0 && (flags & KVFS_XATTR_CREATE))
		err = -EEXIST;
	else if (i < 0 && (!set || (flags & KVFS_XATTR_REPLACE)))
		err = -ENODATA;
	if (err)
		goto out;
	if (i >= 0)
		kvfs_attr_xset_del(&s, (uint32_t)i);
	if (set)
		s.e[s.n++] = *nx;
	if (!s.n) {
		c->changed = true;
		err = fork_remove(c);
		goto out;
	}
	if (!forkoff) {
		forkoff = new_forkoff(ip);
		if (!forkoff) {
			err = kvfs_trans_blocks_left(c->tp) ? make_room(c) :
							      -ENOSPC;
			forkoff = err ? 0 : new_forkoff(ip);
		}
		if (!forkoff) {
			err = err ? err : -ENOSPC;
			goto out;
		}
	}
	if (kvfs_attr_sf_fits(c->g, &s, room - forkoff * 8u)) {
		uint16_t old = ip->i_forkoff;

		err = set_forkoff(ip, forkoff);
		if (err)
			goto out;
		c->changed = true;
		ip->i_aformat = KVFS_DFORK_INLINE;
		kvfs_attr_sf_encode(ip->i_afork, room - forkoff * 8u, &s);
		kvfs_trans_log_inode(c->tp, ip,
				     KVFS_ILOG_CORE | KVFS_ILOG_AFORK |
					     forks_moved(ip, old));
		goto out;
	}
	/* none reserved (attr_change()): the short form only */
	err = kvfs_trans_blocks_left(c->tp) ? sf_to_leaf(c, &s, forkoff) :
					      -ENOSPC;
out:
	kvfs_attr_xset_free(&s);
	kvfree(copy);
	return err;
}

/*
 * Split e[0..n) in two leaves at the most even point where both fit and
 * the hashes differ across: the index, or 0 if there is none.
 */
static uint32_t split_point(const struct kvfs_geom *g, const struct xent *e,
			    uint32_t n)
{
	uint32_t total = kvfs_attr_leaf_bytes(e, n) - KVFS_ATTR_LEAF_HDR_SIZE;
	uint32_t left = 0, best = 0, bestd = UINT32_MAX;

	for (uint32_t k = 1; k < n; k++) {
		uint32_t d;

		left += xent_leaf_bytes(&e[k - 1]);
		if (e[k - 1].hash == e[k].hash ||
		    left + KVFS_ATTR_LEAF_HDR_SIZE > g->blocksize ||
		    total - left + KVFS_ATTR_LEAF_HDR_SIZE > g->blocksize)
			continue;
		d = left > total - left ? left - (total - left) :
					  total - left - left;
		if (d < bestd) {
			bestd = d;
			best = k;
		}
	}
	return best;
}

/*
 * The most blocks a removal frees at once when it drops the whole fork
 * (a transaction holds every buffer it invalidates, 256 at most): a
 * larger fork keeps its dead entries and empty leaves until the inode
 * goes.
 */
#define KVFS_ATTR_DROP_MAX 128

/* The state of a change to the leaf forms, between plan and change. */
struct lplan {
	struct kv_buf *b0; /* attribute block 0 */
	struct xnode x; /* its node, if it is one */
	bool node;
	uint32_t li; /* the leaf's index in the node */
	struct kv_buf *lbp; /* the leaf */
	uint8_t *lcopy, *scopy; /* copies the entries point into */
	struct xset e; /* the leaf's attributes after the change */
	/* what the change phase does */
	enum { P_WRITE, P_SPLIT, P_TO_NODE, P_MERGE, P_TO_SF, P_DROP } what;
	uint32_t k; /* split point */
	uint64_t nb[2]; /* new leaf blocks */
	struct kv_buf *sbp; /* the sibling merged with */
	uint32_t si;
	struct xset s; /* the sibling's attributes */
};

static void lplan_free(struct lplan *p)
{
	kvfree(p->x.hash);
	kvfree(p->lcopy);
	kvfree(p->scopy);
	kvfs_attr_xset_free(&p->e);
	kvfs_attr_xset_free(&p->s);
}

/* Plan the merge of leaf p->li after a removal, if it is worth it. */
static int plan_merge(struct actx *c, struct lplan *p)
{
	uint32_t bs = c->g->blocksize;
	struct xset m;
	int err;

	p->si = p->li + 1 < p->x.n ? p->li + 1 : p->li - 1;
	err = tread(c, p->x.blk[p->si], KVFS_ATTR_LEAF_MAGIC, &p->sbp);
	if (err)
		return err;
	memcpy(p->scopy, p->sbp->b_addr, bs);
	kvfs_attr_leaf_decode(p->scopy, &p->s);
	if (p->e.n && kvfs_attr_leaf_bytes(p->e.e, p->e.n) +
				      kvfs_attr_leaf_bytes(p->s.e, p->s.n) -
				      KVFS_ATTR_LEAF_HDR_SIZE >
			      bs * 3 / 4)
		return 0;
	/* the pair in order, into p->e */
	err = kvfs_attr_xset_init(&m, p->e.n + p->s.n + 1);
	if (err)
		return err;
	if (p->si < p->li) {
		memcpy(m.e, p->s.e, p->s.n * sizeof(*m.e));
		memcpy(m.e + p->s.n, p->e.e, p->e.n * sizeof(*m.e));
	} else {
		memcpy(m.e, p->e.e, p->e.n * sizeof(*m.e));
		memcpy(m.e + p->e.n, p->s.e, p->s.n * sizeof(*m.e));
	}
	m.n = p->e.n + p->s.n;
	kvfs_attr_xset_free(&p->e);
	p->e = m;
	p->what = P_MERGE;
	/* the right one of the pair goes; the node may go with it */
	add_free(c, p->x.blk[p->li > p->si ? p->li : p->si], 1);
	if (p->x.n == 2)
		add_free(c, p->x.blk[p->li < p->si ? p->li : p->si], 1);
	return 0;
}

static bool any_live(const struct xset *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		if (!s->e[i].dead)
			return true;
	return false;
}

/*
 * After a removal that left the leaf with no live attribute: if no leaf
 * has one, the whole fork goes, extent by extent (which never needs room
 * in the extent list: dead entries and empty leaves of a full fork go
 * with it).
 */
static int plan_drop(struct actx *c, struct lplan *p)
{
	const struct kvfs_extent *x = (const void *)c->ip->i_afork;
	uint64_t mapped = 0;
	int err;

	/*
	 * An extent list of at most 8 extents (the frees' room; whole extents
	 * go, the list never becomes a tree); a larger fork shrinks by
	 * removals and merges first.
	 */
	if (c->ip->i_aformat != KVFS_DFORK_EXTENTS || c->ip->i_anextents > 8)
		return 0;
	for (uint32_t i = 0; i < c->ip->i_anextents; i++)
		mapped += kv_le32_to_cpu(x[i].blockcount);
	/* one transaction holds every block it invalidates: keep it small */
	if (any_live(&p->e) || mapped > KVFS_ATTR_DROP_MAX)
		return 0;
	for (uint32_t i = 0; p->node && i < p->x.n; i++) {
		struct kv_buf *bp;

		if (i == p->li)
			continue;
		err = tread(c, p->x.blk[i], KVFS_ATTR_LEAF_MAGIC, &bp);
		if (err)
			return err;
		memcpy(p->scopy, bp->b_addr, c->g->blocksize);
		kvfs_attr_leaf_decode(p->scopy, &p->s);
		if (any_live(&p->s))
			return 0;
	}
	c->nfree = 0;
	for (uint32_t i = 0; i < c->ip->i_anextents; i++)
		add_free(c, kv_le64_to_cpu(x[i].startoff),
			 kv_le32_to_cpu(x[i].blockcount));
	p->what = P_DROP;
	return 0;
}

static int leaf_plan(struct actx *c, struct lplan *p, const struct xent *nx,
		     bool set, int flags)
{
	const struct kvfs_geom *g = c->g;
	uint32_t bs = g->blocksize;
	uint64_t off;
	bool present;
	int i, err;

	p->lcopy = kvmalloc(bs, 0);
	p->scopy = kvmalloc(bs, 0);
	if (!p->lcopy || !p->scopy)
		return -ENOMEM;
	err = kvfs_attr_xset_init(&p->e, bs / 8 + 2);
	if (!err)
		err = kvfs_attr_xset_init(&p->s, bs / 8 + 2);
	if (!err)
		err = tread(c, 0, 0, &p->b0);
	if (err)
		return err;
	p->lbp = p->b0;
	if (kv_le32_to_cpu(((struct kvfs_blk_hdr *)p->b0->b_addr)->magic) ==
	    KVFS_ATTR_NODE_MAGIC) {
		err = kvfs_attr_xnode_init(&p->x, g);
		if (err)
			return err;
		p->node = true;
		kvfs_attr_node_decode(p->b0->b_addr, &p->x);
		p->li = kvfs_attr_node_lookup(&p->x, nx->hash);
		err = tread(c, p->x.blk[p->li], KVFS_ATTR_LEAF_MAGIC, &p->lbp);
		if (err)
			return err;
	}
	memcpy(p->lcopy, p->lbp->b_addr, bs);
	kvfs_attr_leaf_decode(p->lcopy, &p->e);
	i = kvfs_attr_xset_find(&p->e, nx->name, nx->namelen, true);
	present = i >= 0 && !p->e.e[i].dead;
	if (set && present && (flags & KVFS_XATTR_CREATE))
		return -EEXIST;
	if (!present && (!set || (flags & KVFS_XATTR_REPLACE)))
		return -ENODATA;
	p->what = P_WRITE;
	if (i >= 0 && !p->e.e[i].local) {
		/* the first range: it always fits */
		add_free(c, p->e.e[i].valueblk,
			 rmt_blocks(g, p->e.e[i].valuelen));
	}
	if (i >= 0)
		kvfs_attr_xset_del(&p->e, (uint32_t)i);
	/*
	 * The blocks of dead entries (left by removals when the fork's
	 * extent list had no room, before it could become a tree) go
	 * whenever there is room, leaving room for this change's own ranges
	 * (a value and two leaves, or a merge).
	 */
	for (uint32_t j = 0; j < p->e.n;) {
		if (p->e.e[j].dead && c->nfree < 6) {
			add_free(c, p->e.e[j].valueblk,
				 rmt_blocks(g, p->e.e[j].valuelen));
			if (!frees_fit_more(c, set ? 3 : 2)) {
				kvfs_attr_xset_del(&p->e, j);
				continue;
			}
			c->nfree--;
		}
		j++;
	}
	if (set) {
		struct xent x = *nx;

		if (!x.local) {
			err = alloc_free_range(c, rmt_blocks(g, x.valuelen),
					       &off);
			if (err)
				return err;
			x.valueblk = (uint32_t)off;
		}
		kvfs_attr_xset_insert(&p->e, &x);
		if (kvfs_attr_leaf_bytes(p->e.e, p->e.n) <= bs)
			return frees_fit(c);
		p->k = split_point(g, p->e.e, p->e.n);
		if (!p->k || (p->node && p->x.n >= node_max(g)))
			return -ENOSPC;
		p->what = p->node ? P_SPLIT : P_TO_NODE;
		for (int j = 0; j < (p->node ? 1 : 2); j++) {
			err = alloc_free_range(c, 1, &p->nb[j]);
			if (err)
				return err;
		}
		return frees_fit(c);
	}
	err = plan_drop(c, p);
	if (err || p->what == P_DROP)
		return err;
	/* merging and shrinking back are skipped when the fork is full */
	if (frees_fit_more(c, 2))
		return frees_fit(c);
	if (p->node)
		err = plan_merge(c, p);
	else if (kvfs_attr_sf_fits(g, &p->e, kvfs_inode_afork_size(c->ip))) {
		p->what = P_TO_SF;
		add_free(c, 0, 1);
	}
	return err ? err : frees_fit(c);
}

/* The change phase of a leaf-form change. */
static int leaf_apply(struct actx *c, struct lplan *p, const struct xent *nx)
{
	const struct kvfs_geom *g = c->g;
	uint32_t bs = g->blocksize;
	struct kv_buf *a, *b;
	int err = 0;

	c->changed = true;
	/* the new attribute's entry is the one naming the caller's string */
	for (uint32_t i = 0; i < p->e.n; i++)
		if (!p->e.e[i].local && p->e.e[i].name == nx->name)
			err = rmt_write(c, p->e.e[i].valueblk, nx->value,
					nx->valuelen);
	if (err)
		return err;
	switch (p->what) {
	case P_WRITE:
		kvfs_attr_leaf_encode(p->lbp->b_addr, bs, p->e.e, p->e.n);
		tlog(c, p->lbp);
		break;
	case P_SPLIT:
		err = tnew(c, p->nb[0], KVFS_ATTR_LEAF_MAGIC, &b);
		if (err)
			return err;
		kvfs_attr_leaf_encode(p->lbp->b_addr, bs, p->e.e, p->k);
		kvfs_attr_leaf_encode(b->b_addr, bs, p->e.e + p->k,
				      p->e.n - p->k);
		memmove(&p->x.hash[p->li + 2], &p->x.hash[p->li + 1],
			(p->x.n - p->li - 1) * sizeof(uint32_t));
		memmove(&p->x.blk[p->li + 2], &p->x.blk[p->li + 1],
			(p->x.n - p->li - 1) * sizeof(uint32_t));
		p->x.hash[p->li + 1] = p->e.e[p->k].hash;
		p->x.blk[p->li + 1] = (uint32_t)p->nb[0];
		p->x.n++;
		kvfs_attr_node_encode(p->b0->b_addr, bs, &p->x);
		tlog(c, p->lbp);
		tlog(c, b);
		tlog(c, p->b0);
		break;
	case P_TO_NODE:
		err = tnew(c, p->nb[0], KVFS_ATTR_LEAF_MAGIC, &a);
		if (!err)
			err = tnew(c, p->nb[1], KVFS_ATTR_LEAF_MAGIC, &b);
		if (err)
			return err;
		kvfs_attr_leaf_encode(a->b_addr, bs, p->e.e, p->k);
		kvfs_attr_leaf_encode(b->b_addr, bs, p->e.e + p->k,
				      p->e.n - p->k);
		p->x.hash = kvcalloc(4, sizeof(uint32_t), 0);
		if (!p->x.hash)
			return -ENOMEM;
		p->x.blk = p->x.hash + 2;
		p->x.n = 2;
		p->x.hash[0] = 0;
		p->x.blk[0] = (uint32_t)p->nb[0];
		p->x.hash[1] = p->e.e[p->k].hash;
		p->x.blk[1] = (uint32_t)p->nb[1];
		kvfs_attr_node_encode(p->b0->b_addr, bs, &p->x);
		tlog(c, a);
		tlog(c, b);
		tlog(c, p->b0);
		break;
	case P_MERGE: {
		uint32_t keep = p->li < p->si ? p->li : p->si;
		uint32_t gone = keep + 1;

		if (p->x.n == 2) {
			/* one leaf left: it becomes block 0 */
			kvfs_attr_leaf_encode(p->b0->b_addr, bs, p->e.e,
					      p->e.n);
			tlog(c, p->b0);
			break;
		}
		kvfs_attr_leaf_encode((keep == p->li ? p->lbp : p->sbp)->b_addr,
				      bs, p->e.e, p->e.n);
		tlog(c, keep == p->li ? p->lbp : p->sbp);
		memmove(&p->x.hash[gone], &p->x.hash[gone + 1],
			(p->x.n - gone - 1) * sizeof(uint32_t));
		memmove(&p->x.blk[gone], &p->x.blk[gone + 1],
			(p->x.n - gone - 1) * sizeof(uint32_t));
		p->x.n--;
		kvfs_attr_node_encode(p->b0->b_addr, bs, &p->x);
		tlog(c, p->b0);
		break;
	}
	case P_TO_SF:
	case P_DROP:
		break;
	}
	err = do_frees(c);
	if (err)
		return err;
	if (p->what == P_DROP)
		return fork_remove(c);
	if (p->what == P_TO_SF) {
		if (!p->e.n)
			return fork_remove(c);
		c->ip->i_aformat = KVFS_DFORK_INLINE;
		kvfs_attr_sf_encode(c->ip->i_afork,
				    kvfs_inode_afork_size(c->ip), &p->e);
		kvfs_trans_log_inode(c->tp, c->ip,
				     KVFS_ILOG_CORE | KVFS_ILOG_AFORK);
	}
	return 0;
}

static int leaf_change(struct actx *c, const struct xent *nx, bool set,
		       int flags)
{
	struct lplan p = { 0 };
	int err;

	err = leaf_plan(c, &p, nx, set, flags);
	if (err) {
		int uerr = undo(c);

		lplan_free(&p);
		return uerr ? uerr : err;
	}
	/* the leaves' copies are what the entries point into: keep them */
	err = leaf_apply(c, &p, nx);
	lplan_free(&p);
	return err;
}

/*
 * A change of a fork in blocks with no block reserved (attr_change()):
 * -ENOSPC, after the errnos the name's presence gives.
 */
static int leaf_nospace(struct kvfs_inode *ip, const struct xent *nx, bool set,
			int flags)
{
	struct get_ctx g = { .name = nx->name,
			     .len = nx->namelen,
			     .ret = -ENODATA };
	int err = for_each_leaf(ip, nx->name, nx->namelen, get_fn, &g);
	bool present = g.ret >= 0;

	if (err < 0)
		return err;
	if (set && present && (flags & KVFS_XATTR_CREATE))
		return -EEXIST;
	if (!present && (!set || (flags & KVFS_XATTR_REPLACE)))
		return -ENODATA;
	return -ENOSPC;
}

/* iolocked: the caller holds ip's I/O lock exclusive (its ranges settled) */
static int attr_change(struct kvfs_inode *ip, const char *name, size_t len,
		       const void *value, size_t size, int flags, bool set,
		       bool iolocked)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct actx c = { .ip = ip, .mp = mp, .g = &mp->g };
	struct xent nx = new_xent(&mp->g, name, len, value, size);
	struct kvfs_trans_res res = mp->resv.attrset;
	/* a removal allocates attribute blocks for nothing */
	uint64_t blocks =
		set ? (nx.local ? 0 : rmt_blocks(&mp->g, nx.valuelen)) + 2 : 0;
	int err;

	/*
	 * The fork may be (or become) an extent-map tree: each new block
	 * may be an extent of its own, a tree change each, and each range
	 * freed may split an extent (res.blocks: one tree change's).
	 */
	res.blocks = blocks + (blocks + KVFS_ATTR_TREE_RANGES) * res.blocks;
	/*
	 * A first attribute may need room made in the data fork (make_room(),
	 * XFS's XFS_ADDAFORK_SPACE_RES): a short-form directory goes to
	 * block form, a directory change's blocks (its first data block, 64
	 * KiB on 1 KiB blocks, past everything above: ENOSPC on an empty
	 * filesystem, its entries cleared), an extent list one tree block.
	 * The type never changes: read unlocked.
	 */
	if (set)
		res.blocks += S_ISDIR(ip->i_mode) ? mp->resv.dirop.blocks : 1;
	/* a removal must work on a full filesystem: the kept blocks */
	err = set ? kvfs_trans_alloc_res(mp, &res, 0, &c.tp) :
		    kvfs_trans_alloc_remove(mp, &res, &c.tp);
	/*
	 * A full filesystem, the kept blocks gone too: with no block at
	 * all, a change the short form takes as it is (a value replaced by
	 * one no larger, a name removed); -ENOSPC for one that would need a
	 * block (sf_change()) or a fork in blocks.
	 */
	if (err == -ENOSPC)
		err = kvfs_trans_alloc(mp, res.log_bytes, res.log_count, 0,
				       &c.tp);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	/*
	 * A new or larger fork takes room from the data fork's extent list
	 * (or makes it a tree): ranges pending on it that keep no blocks
	 * for their conversions' records go first, while the list has
	 * room (fs/data/convert.h), under the I/O lock so that no write
	 * records another meanwhile.
	 */
	if (set && !iolocked && kvfs_conv_unkept(ip, true)) {
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
		kvfs_trans_cancel(c.tp);
		kvfs_ilock(ip, KVFS_IOLOCK_EXCL);
		err = kvfs_conv_settle_unkept(ip);
		if (err) {
			kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
			return err;
		}
		err = attr_change(ip, name, len, value, size, flags, set, true);
		kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
		return err;
	}
	err = kvfs_trans_ijoin(c.tp, ip);
	if (err) {
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
		kvfs_trans_cancel(c.tp);
		return err;
	}
	/* both forks may change (their boundary moves): fs/inode/inode.h */
	kvfs_inode_own_forks(ip);
	if (!ip->i_mode)
		err = -ENOENT;
	else if (!ip->i_forkoff || ip->i_aformat == KVFS_DFORK_INLINE)
		err = sf_change(&c, &nx, set, flags);
	else if (!kvfs_trans_blocks_left(c.tp))
		err = leaf_nospace(ip, &nx, set, flags);
	else
		err = leaf_change(&c, &nx, set, flags);
	if (!err) {
		kvfs_inode_now(&ip->i_ctime);
		kvfs_trans_log_inode(c.tp, ip, KVFS_ILOG_CORE);
	}
	if (!err || (c.dirty && !c.changed)) {
		int cerr = kvfs_trans_commit(c.tp, NULL);

		return err ? err : cerr;
	}
	kvfs_trans_cancel(c.tp);
	return err;
}

int kvfs_attr_set(struct kvfs_inode *ip, const char *name, const void *value,
		  size_t size, int flags)
{
	size_t len;
	int err = name_errno(name, &len);

	if (err)
		return err;
	if (size > KVFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (flags & ~(KVFS_XATTR_CREATE | KVFS_XATTR_REPLACE))
		return -EINVAL;
	if (size && !value)
		return -EFAULT;
	return attr_change(ip, name, len, size ? value : "", size, flags, true,
			   false);
}

int kvfs_attr_remove(struct kvfs_inode *ip, const char *name)
{
	size_t len;
	int err = name_errno(name, &len);

	if (err)
		return err;
	return attr_change(ip, name, len, "", 0, 0, false, false);
}

static int first_fn(const struct kvfs_bmap *m, void *priv)
{
	if (m->startblock == KVFS_NULLBLOCK)
		return 0;
	*(struct kvfs_bmap *)priv = *m;
	return 1;
}

int kvfs_attr_inactive(struct kvfs_trans **tpp, struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct actx c = { .tp = *tpp, .ip = ip, .mp = mp, .g = &mp->g };
	int err = 0;

	if (!ip->i_forkoff)
		return 0;
	kvfs_inode_own_forks(ip);
	while (ip->i_aformat != KVFS_DFORK_INLINE && ip->i_anextents) {
		struct kvfs_bmap m = { 0 };
		uint64_t rem;
		uint32_t len;

		err = for_each_map(ip, 0, first_fn, &m);
		if (err < 0)
			return err;
		if (!err)
			return kvfs_corrupt_inode(
				-EUCLEAN, kvfs_ino_to_fsb(c.g, ip->i_ino),
				ip->i_ino,
				"attribute fork of %u extents "
				"maps no block",
				ip->i_anextents);
		/*
		 * One extent (one tree change: the log space of
		 * mp->resv.itruncate) from the front of the first
		 * mapping: never a split.
		 */
		len = m.blockcount < KVFS_ATTR_DROP_MAX ?
			      (uint32_t)m.blockcount :
			      KVFS_ATTR_DROP_MAX;
		err = kvfs_bunmapi_fork(c.tp, ip, KVFS_ATTR_FORK, m.startoff,
					len, 1, &rem);
		for (uint64_t i = rem; !err && i < len; i++) {
			struct kv_buf *bp;

			err = kvfs_trans_get_buf(c.tp->jt, mp->bl,
						 m.startblock + i, 1,
						 &kvfs_attr_buf_ops, &bp);
			if (!err)
				kvfs_trans_binval(c.tp->jt, bp);
		}
		if (err)
			return err;
		/* a new transaction: the invalidated buffers are let go */
		err = kvfs_trans_commit(c.tp, NULL);
		c.tp = *tpp = NULL;
		/* no blocks: freeing must work on a full filesystem */
		if (!err)
			err = kvfs_trans_alloc(mp, mp->resv.itruncate.log_bytes,
					       mp->resv.itruncate.log_count, 0,
					       &c.tp);
		if (err)
			return err;
		*tpp = c.tp;
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		err = kvfs_trans_ijoin(c.tp, ip);
		if (err) {
			kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
			return err;
		}
	}
	return fork_remove(&c);
}

/* ---- the public API (fs/kvfs.h) ---- */

int kvfs_setxattr(struct kvfs_mount *mp, uint64_t ino, const char *name,
		  const void *value, size_t size, int flags)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	err = kvfs_iflags_may_change(ip);
	if (!err)
		err = kvfs_attr_set(ip, name, value, size, flags);
	kvfs_iput(ip);
	return err;
}

ssize_t kvfs_getxattr(struct kvfs_mount *mp, uint64_t ino, const char *name,
		      void *value, size_t size)
{
	struct kvfs_inode *ip;
	ssize_t ret = kvfs_iget(mp, ino, 0, &ip);

	if (ret)
		return ret;
	ret = kvfs_attr_get(ip, name, value, size);
	kvfs_iput(ip);
	return ret;
}

ssize_t kvfs_listxattr(struct kvfs_mount *mp, uint64_t ino, char *list,
		       size_t size)
{
	struct kvfs_inode *ip;
	ssize_t ret = kvfs_iget(mp, ino, 0, &ip);

	if (ret)
		return ret;
	ret = kvfs_attr_list(ip, list, size);
	kvfs_iput(ip);
	return ret;
}

int kvfs_removexattr(struct kvfs_mount *mp, uint64_t ino, const char *name)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	err = kvfs_iflags_may_change(ip);
	if (!err)
		err = kvfs_attr_remove(ip, name);
	kvfs_iput(ip);
	return err;
}
