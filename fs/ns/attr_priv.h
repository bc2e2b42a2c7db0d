/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the files of the attribute code share (fs/ns/attr.c: reading and
 * changing; fs/ns/attr_blk.c: the formats decoded and encoded;
 * fs/ns/attr_scrub.c: the checker): attributes decoded into sets of
 * struct xent, which point into the block or fork they came from.  Not for
 * other modules: fs/ns/attr.h is the contract.
 */
#ifndef KV_FS_NS_ATTR_PRIV_H
#define KV_FS_NS_ATTR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format.h"
#include "fs/mount.h"

struct xent {
	uint32_t hash;
	uint8_t namelen;
	bool local;
	bool dead; /* KVFS_ATTR_DEAD */
	const char *name;
	uint32_t valuelen;
	const uint8_t *value; /* local values */
	uint32_t valueblk; /* remote values */
};

struct xset {
	struct xent *e;
	uint32_t n, cap;
};

/* The hash index node, decoded. */
struct xnode {
	uint32_t n;
	uint32_t *hash, *blk; /* node_max() + 1 each */
};

#define LEAF_ENT(blk, i)                                            \
	((struct kvfs_attr_leaf_entry *)((uint8_t *)(blk) +         \
					 KVFS_ATTR_LEAF_HDR_SIZE) + \
	 (i))
#define NODE_ENT(blk, i)                                            \
	((struct kvfs_attr_node_entry *)((uint8_t *)(blk) +         \
					 KVFS_ATTR_NODE_HDR_SIZE) + \
	 (i))

/* Value bytes per remote block, and the blocks of a value. */
static inline uint32_t rmt_per(const struct kvfs_geom *g)
{
	return g->blocksize - KVFS_ATTR_RMT_HDR_SIZE;
}

static inline uint32_t rmt_blocks(const struct kvfs_geom *g, uint32_t valuelen)
{
	return (valuelen + rmt_per(g) - 1) / rmt_per(g);
}

/*
 * A value stays in its leaf when its record takes at most half a leaf, so
 * that any two entries fit one leaf and a split always finds room.
 */
static inline bool fits_local(const struct kvfs_geom *g, uint32_t namelen,
			      uint32_t valuelen)
{
	return KVFS_ATTR_LOCAL_SIZE(namelen, valuelen) <=
	       (g->blocksize - KVFS_ATTR_LEAF_HDR_SIZE) / 2 -
		       KVFS_ATTR_LEAF_ENTRY_SIZE;
}

static inline uint32_t xent_leaf_bytes(const struct xent *e)
{
	return KVFS_ATTR_LEAF_ENTRY_SIZE +
	       (e->local ? KVFS_ATTR_LOCAL_SIZE(e->namelen, e->valuelen) :
			   KVFS_ATTR_REMOTE_SIZE(e->namelen));
}

static inline uint32_t node_max(const struct kvfs_geom *g)
{
	return (g->blocksize - KVFS_ATTR_NODE_HDR_SIZE) /
	       sizeof(struct kvfs_attr_node_entry);
}

uint32_t kvfs_attr_leaf_bytes(const struct xent *e, uint32_t n);
void kvfs_attr_leaf_decode(const uint8_t *blk, struct xset *s);
void kvfs_attr_leaf_encode(uint8_t *blk, uint32_t bs, const struct xent *e,
			   uint32_t n);
void kvfs_attr_leaf_entry(const uint8_t *blk, uint32_t i, struct xent *x);
void kvfs_attr_node_decode(const uint8_t *blk, struct xnode *x);
void kvfs_attr_node_encode(uint8_t *blk, uint32_t bs, const struct xnode *x);
uint32_t kvfs_attr_node_lookup(const struct xnode *x, uint32_t h);
void kvfs_attr_sf_decode(const uint8_t *fork, struct xset *s);
void kvfs_attr_sf_encode(uint8_t *fork, uint32_t asize, const struct xset *s);
bool kvfs_attr_sf_fits(const struct kvfs_geom *g, const struct xset *s,
		       uint32_t asize);
int kvfs_attr_xnode_init(struct xnode *x, const struct kvfs_geom *g);
void kvfs_attr_xset_del(struct xset *s, uint32_t i);
int kvfs_attr_xset_find(const struct xset *s, const char *name, size_t len,
			bool sorted);
void kvfs_attr_xset_free(struct xset *s);
int kvfs_attr_xset_init(struct xset *s, uint32_t cap);
uint32_t kvfs_attr_xset_insert(struct xset *s, const struct xent *e);
int kvfs_attr_xent_qcmp(const void *a, const void *b);

#endif
