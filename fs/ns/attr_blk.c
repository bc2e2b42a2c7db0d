// SPDX-License-Identifier: GPL-2.0
/*
 * The attribute formats decoded and encoded (fs/ns/attr_priv.h): the
 * decoded sets, the short form in the inode, the leaf, node and remote
 * value blocks with their checks and the attribute block verifier.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/mem.h"
#include "fs/ns/attr.h"
#include "fs/ns/attr_priv.h"

int kvfs_attr_xset_init(struct xset *s, uint32_t cap)
{
	s->n = 0;
	s->cap = cap;
	s->e = kvcalloc(cap, sizeof(*s->e), 0);
	return s->e ? 0 : -ENOMEM;
}

void kvfs_attr_xset_free(struct xset *s)
{
	kvfree(s->e);
	s->e = NULL;
}

uint32_t kvfs_attr_leaf_bytes(const struct xent *e, uint32_t n)
{
	uint32_t b = KVFS_ATTR_LEAF_HDR_SIZE;

	for (uint32_t i = 0; i < n; i++)
		b += xent_leaf_bytes(&e[i]);
	return b;
}

static int xent_cmp(const struct xent *a, const struct xent *b)
{
	int c;

	if (a->hash != b->hash)
		return a->hash < b->hash ? -1 : 1;
	c = memcmp(a->name, b->name,
		   a->namelen < b->namelen ? a->namelen : b->namelen);
	if (c)
		return c;
	return (int)a->namelen - (int)b->namelen;
}

int kvfs_attr_xent_qcmp(const void *a, const void *b)
{
	return xent_cmp(a, b);
}

/*
 * Index of name in s, or -1: a binary search by hash in a leaf's set
 * (sorted), a walk of the short form's (a fork holds a few).
 */
int kvfs_attr_xset_find(const struct xset *s, const char *name, size_t len,
			bool sorted)
{
	uint32_t h = kvfs_attr_hash(name, len), lo = 0, hi = s->n;

	while (sorted && lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (s->e[mid].hash < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (uint32_t i = lo; i < s->n; i++) {
		if (sorted && s->e[i].hash != h)
			break;
		if (s->e[i].namelen == len && !memcmp(s->e[i].name, name, len))
			return (int)i;
	}
	return -1;
}

void kvfs_attr_xset_del(struct xset *s, uint32_t i)
{
	memmove(&s->e[i], &s->e[i + 1], (s->n - i - 1) * sizeof(*s->e));
	s->n--;
}

/* Insert e in (hash, name) order; returns its index. */
uint32_t kvfs_attr_xset_insert(struct xset *s, const struct xent *e)
{
	uint32_t i = 0;

	while (i < s->n && xent_cmp(&s->e[i], e) < 0)
		i++;
	memmove(&s->e[i + 1], &s->e[i], (s->n - i) * sizeof(*s->e));
	s->e[i] = *e;
	s->n++;
	return i;
}

/* ---- short form ---- */

/* Decode the short-form fork at fork (verified when the inode loaded). */
void kvfs_attr_sf_decode(const uint8_t *fork, struct xset *s)
{
	const struct kvfs_attr_sf_hdr *h = (const void *)fork;
	uint32_t pos = KVFS_ATTR_SF_HDR_SIZE;

	s->n = 0;
	for (unsigned i = 0; i < h->count && s->n < s->cap; i++) {
		const struct kvfs_attr_sf_entry *e = (const void *)(fork + pos);
		struct xent *x = &s->e[s->n++];

		x->namelen = e->namelen;
		x->name = (const char *)e->nameval;
		x->valuelen = kv_le16_to_cpu(e->valuelen);
		x->value = e->nameval + e->namelen;
		x->local = true;
		x->hash = kvfs_attr_hash(x->name, x->namelen);
		pos += KVFS_ATTR_SF_ENTSIZE(e->namelen, x->valuelen);
	}
}

static uint32_t sf_bytes(const struct xset *s)
{
	uint32_t b = KVFS_ATTR_SF_HDR_SIZE;

	for (uint32_t i = 0; i < s->n; i++)
		b += KVFS_ATTR_SF_ENTSIZE(s->e[i].namelen, s->e[i].valuelen);
	return b;
}

/* s can be the short form of a fork of asize bytes. */
bool kvfs_attr_sf_fits(const struct kvfs_geom *g, const struct xset *s,
		       uint32_t asize)
{
	if (s->n > 255 || sf_bytes(s) > asize)
		return false;
	for (uint32_t i = 0; i < s->n; i++)
		if (!s->e[i].local ||
		    !fits_local(g, s->e[i].namelen, s->e[i].valuelen))
			return false;
	return true;
}

/* Encode s as the short-form fork (asize bytes at fork, zeros after). */
void kvfs_attr_sf_encode(uint8_t *fork, uint32_t asize, const struct xset *s)
{
	struct kvfs_attr_sf_hdr *h = (void *)fork;
	uint32_t pos = KVFS_ATTR_SF_HDR_SIZE;

	/* callers' entries point into copies, never into the fork */
	memset(fork, 0, asize);
	for (uint32_t i = 0; i < s->n; i++) {
		struct kvfs_attr_sf_entry *e = (void *)(fork + pos);

		e->namelen = s->e[i].namelen;
		e->valuelen = kv_cpu_to_le16((uint16_t)s->e[i].valuelen);
		memcpy(e->nameval, s->e[i].name, s->e[i].namelen);
		memcpy(e->nameval + s->e[i].namelen, s->e[i].value,
		       s->e[i].valuelen);
		pos += KVFS_ATTR_SF_ENTSIZE(s->e[i].namelen, s->e[i].valuelen);
	}
	h->totsize = kv_cpu_to_le16((uint16_t)pos);
	h->count = (uint8_t)s->n;
}

/* ---- blocks: checks, decode, encode ---- */

/* Decode one leaf entry's record (the block is checked). */
void kvfs_attr_leaf_entry(const uint8_t *blk, uint32_t i, struct xent *x)
{
	const struct kvfs_attr_leaf_entry *e = LEAF_ENT(blk, i);
	const uint8_t *rec = blk + kv_le16_to_cpu(e->nameidx);

	x->hash = kv_le32_to_cpu(e->hashval);
	x->local = e->flags & KVFS_ATTR_LOCAL;
	x->dead = e->flags & KVFS_ATTR_DEAD;
	if (x->local) {
		const struct kvfs_attr_leaf_local *l = (const void *)rec;

		x->namelen = l->namelen;
		x->valuelen = kv_le16_to_cpu(l->valuelen);
		x->name = (const char *)l->nameval;
		x->value = l->nameval + l->namelen;
		x->valueblk = 0;
	} else {
		const struct kvfs_attr_leaf_remote *r = (const void *)rec;

		x->namelen = r->namelen;
		x->valuelen = kv_le32_to_cpu(r->valuelen);
		x->name = (const char *)r->name;
		x->value = NULL;
		x->valueblk = kv_le32_to_cpu(r->valueblk);
	}
}

/* NULL, or what is wrong with the leaf at blk (bs bytes, header aside). */
static const char *leaf_check(const uint8_t *blk, uint32_t bs)
{
	const struct kvfs_attr_leaf_hdr *h = (const void *)blk;
	uint32_t count = kv_le16_to_cpu(h->count);
	uint32_t used = kv_le16_to_cpu(h->usedbytes), pos;
	struct xent prev = { 0 }, x;

	if (h->pad0.v)
		return "leaf header padding is not zero";
	if ((uint64_t)KVFS_ATTR_LEAF_HDR_SIZE +
		    (uint64_t)count * KVFS_ATTR_LEAF_ENTRY_SIZE + used >
	    bs)
		return "leaf entries and names overlap";
	/* records are 4-byte aligned: decoding one reads 16- and 32-bit fields */
	if (used & 3)
		return "leaf name bytes are not a multiple of 4";
	pos = bs - used;
	if (!kvfs_mem_is_zero(blk + KVFS_ATTR_LEAF_HDR_SIZE +
				      count * KVFS_ATTR_LEAF_ENTRY_SIZE,
			      pos - KVFS_ATTR_LEAF_HDR_SIZE -
				      count * KVFS_ATTR_LEAF_ENTRY_SIZE))
		return "leaf free space is not zero";
	for (uint32_t i = 0; i < count; i++) {
		const struct kvfs_attr_leaf_entry *e = LEAF_ENT(blk, i);
		const uint8_t *tail;
		uint32_t sz;

		if (kv_le16_to_cpu(e->nameidx) != pos)
			return "leaf names are not packed in entry order";
		if ((e->flags & ~(KVFS_ATTR_LOCAL | KVFS_ATTR_DEAD)) ||
		    e->flags == (KVFS_ATTR_LOCAL | KVFS_ATTR_DEAD) || e->pad0)
			return "leaf entry flags invalid";
		if (pos + KVFS_ATTR_REMOTE_SIZE(0) > bs)
			return "leaf entry runs past the block";
		kvfs_attr_leaf_entry(blk, i, &x);
		sz = x.local ? KVFS_ATTR_LOCAL_SIZE(x.namelen, x.valuelen) :
			       KVFS_ATTR_REMOTE_SIZE(x.namelen);
		if (pos + sz > bs)
			return "leaf entry runs past the block";
		tail = x.local ? (const uint8_t *)x.value + x.valuelen :
				 (const uint8_t *)x.name + x.namelen;
		if (!kvfs_mem_is_zero(tail, (size_t)(blk + pos + sz - tail)))
			return "leaf entry padding is not zero";
		if (!x.local &&
		    (!x.valuelen || x.valuelen > KVFS_XATTR_SIZE_MAX ||
		     !x.valueblk))
			return "remote value length or block invalid";
		if (!kvfs_attr_name_valid(x.name, x.namelen))
			return "attribute name invalid";
		if (kvfs_attr_hash(x.name, x.namelen) != x.hash)
			return "hash does not match the name";
		if (i && xent_cmp(&prev, &x) >= 0)
			return "entries out of hash order or repeated";
		prev = x;
		pos += sz;
	}
	if (pos != bs)
		return "used bytes do not match the entries";
	return NULL;
}

static const char *node_check(const uint8_t *blk, uint32_t bs)
{
	const struct kvfs_attr_node_hdr *h = (const void *)blk;
	uint32_t count = kv_le16_to_cpu(h->count);
	uint32_t max = (bs - KVFS_ATTR_NODE_HDR_SIZE) /
		       sizeof(struct kvfs_attr_node_entry);

	if (h->pad0.v || h->pad1.v)
		return "node header padding is not zero";
	if (count < 2 || count > max)
		return "node entry count out of range";
	for (uint32_t i = 0; i < count; i++) {
		const struct kvfs_attr_node_entry *e = NODE_ENT(blk, i);
		uint32_t hash = kv_le32_to_cpu(e->hashval);

		if (!kv_le32_to_cpu(e->blkno))
			return "node entry names block 0";
		if (i ? hash <= kv_le32_to_cpu(NODE_ENT(blk, i - 1)->hashval) :
			hash)
			return "node hashes do not rise from 0";
	}
	if (!kvfs_mem_is_zero(
		    (const uint8_t *)NODE_ENT(blk, count),
		    bs - KVFS_ATTR_NODE_HDR_SIZE -
			    count * sizeof(struct kvfs_attr_node_entry)))
		return "node bytes after the entries are not zero";
	return NULL;
}

static const char *rmt_check(const uint8_t *blk, uint32_t bs)
{
	const struct kvfs_attr_rmt_hdr *h = (const void *)blk;
	uint32_t off = kv_le32_to_cpu(h->offset);
	uint32_t bytes = kv_le32_to_cpu(h->bytes);
	uint32_t per = bs - KVFS_ATTR_RMT_HDR_SIZE;

	if (!bytes || bytes > per || off % per ||
	    (uint64_t)off + bytes > KVFS_XATTR_SIZE_MAX)
		return "remote value piece out of range";
	if (!kvfs_mem_is_zero(blk + KVFS_ATTR_RMT_HDR_SIZE + bytes,
			      per - bytes))
		return "bytes after the remote value piece are not zero";
	return NULL;
}

static const char *attr_blk_what(uint32_t magic)
{
	return magic == KVFS_ATTR_NODE_MAGIC ? "attribute hash node" :
	       magic == KVFS_ATTR_RMT_MAGIC  ? "attribute remote value" :
					       "attribute leaf";
}

/* Header (owner: an inode) and structure of any attribute block. */
static int attr_blk_verify(const void *blk, size_t len,
			   const struct kvfs_geom *g, uint64_t blkno)
{
	const struct kvfs_blk_hdr *h = blk;
	uint32_t magic = kv_le32_to_cpu(h->magic);
	uint64_t owner = kv_le64_to_cpu(h->owner);
	const char *what = attr_blk_what(magic), *bad;
	int err;

	if (magic != KVFS_ATTR_NODE_MAGIC && magic != KVFS_ATTR_RMT_MAGIC)
		magic = KVFS_ATTR_LEAF_MAGIC;
	err = kvfs_blkhdr_verify(blk, len, magic, blkno, owner, g->meta_uuid,
				 what);
	if (err)
		return err;
	if (!kvfs_ino_in_range(g, owner))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "owner %" PRIu64 " is not an inode", owner);
	bad = magic == KVFS_ATTR_NODE_MAGIC ? node_check(blk, (uint32_t)len) :
	      magic == KVFS_ATTR_RMT_MAGIC  ? rmt_check(blk, (uint32_t)len) :
					      leaf_check(blk, (uint32_t)len);
	if (bad)
		return kvfs_corrupt(-EUCLEAN, blkno, what, "%s", bad);
	return 0;
}

static int attr_verify_read(struct kv_buf *bp)
{
	int err = attr_blk_verify(bp->b_addr, bp->b_len,
				  kv_bcache_private(bp->b_cache), bp->b_blkno);

	return kvfs_buf_check_lsn(bp, err, kvfs_attr_buf_ops.name);
}

static int attr_verify_write(struct kv_buf *bp)
{
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

const struct kv_buf_ops kvfs_attr_buf_ops = {
	.name = "attribute block",
	.verify_read = attr_verify_read,
	.verify_write = attr_verify_write,
};

/* Decode a checked leaf (a private copy: the entries point into it). */
void kvfs_attr_leaf_decode(const uint8_t *blk, struct xset *s)
{
	const struct kvfs_attr_leaf_hdr *h = (const void *)blk;

	s->n = kv_le16_to_cpu(h->count);
	for (uint32_t i = 0; i < s->n; i++)
		kvfs_attr_leaf_entry(blk, i, &s->e[i]);
}

/* Write e[0..n) as the body of the leaf at blk (header kept but magic). */
void kvfs_attr_leaf_encode(uint8_t *blk, uint32_t bs, const struct xent *e,
			   uint32_t n)
{
	struct kvfs_attr_leaf_hdr *h = (void *)blk;
	uint32_t used = kvfs_attr_leaf_bytes(e, n) - KVFS_ATTR_LEAF_HDR_SIZE -
			n * KVFS_ATTR_LEAF_ENTRY_SIZE;
	uint32_t pos = bs - used;

	h->hdr.magic = kv_cpu_to_le32(KVFS_ATTR_LEAF_MAGIC);
	memset(blk + KVFS_BLK_HDR_SIZE, 0, bs - KVFS_BLK_HDR_SIZE);
	h->count = kv_cpu_to_le16((uint16_t)n);
	h->usedbytes = kv_cpu_to_le16((uint16_t)used);
	for (uint32_t i = 0; i < n; i++) {
		struct kvfs_attr_leaf_entry *le = LEAF_ENT(blk, i);

		le->hashval = kv_cpu_to_le32(e[i].hash);
		le->nameidx = kv_cpu_to_le16((uint16_t)pos);
		le->flags = (e[i].local ? KVFS_ATTR_LOCAL : 0) |
			    (e[i].dead ? KVFS_ATTR_DEAD : 0);
		if (e[i].local) {
			struct kvfs_attr_leaf_local *l = (void *)(blk + pos);

			l->valuelen = kv_cpu_to_le16((uint16_t)e[i].valuelen);
			l->namelen = e[i].namelen;
			memcpy(l->nameval, e[i].name, e[i].namelen);
			memcpy(l->nameval + e[i].namelen, e[i].value,
			       e[i].valuelen);
			pos += KVFS_ATTR_LOCAL_SIZE(e[i].namelen,
						    e[i].valuelen);
		} else {
			struct kvfs_attr_leaf_remote *r = (void *)(blk + pos);

			r->valueblk = kv_cpu_to_le32(e[i].valueblk);
			r->valuelen = kv_cpu_to_le32(e[i].valuelen);
			r->namelen = e[i].namelen;
			memcpy(r->name, e[i].name, e[i].namelen);
			pos += KVFS_ATTR_REMOTE_SIZE(e[i].namelen);
		}
	}
}

int kvfs_attr_xnode_init(struct xnode *x, const struct kvfs_geom *g)
{
	x->n = 0;
	x->hash = kvcalloc(2 * ((size_t)node_max(g) + 1), sizeof(uint32_t), 0);
	x->blk = x->hash ? x->hash + node_max(g) + 1 : NULL;
	return x->hash ? 0 : -ENOMEM;
}

void kvfs_attr_node_decode(const uint8_t *blk, struct xnode *x)
{
	x->n = kv_le16_to_cpu(((const struct kvfs_attr_node_hdr *)blk)->count);
	for (uint32_t i = 0; i < x->n; i++) {
		x->hash[i] = kv_le32_to_cpu(NODE_ENT(blk, i)->hashval);
		x->blk[i] = kv_le32_to_cpu(NODE_ENT(blk, i)->blkno);
	}
}

void kvfs_attr_node_encode(uint8_t *blk, uint32_t bs, const struct xnode *x)
{
	struct kvfs_attr_node_hdr *h = (void *)blk;

	h->hdr.magic = kv_cpu_to_le32(KVFS_ATTR_NODE_MAGIC);
	memset(blk + KVFS_BLK_HDR_SIZE, 0, bs - KVFS_BLK_HDR_SIZE);
	h->count = kv_cpu_to_le16((uint16_t)x->n);
	for (uint32_t i = 0; i < x->n; i++) {
		NODE_ENT(blk, i)->hashval = kv_cpu_to_le32(x->hash[i]);
		NODE_ENT(blk, i)->blkno = kv_cpu_to_le32(x->blk[i]);
	}
}

/* The entry of the leaf that holds hash h: the last with hash <= h. */
uint32_t kvfs_attr_node_lookup(const struct xnode *x, uint32_t h)
{
	uint32_t lo = 0, hi = x->n;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (x->hash[mid] <= h)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}
