// SPDX-License-Identifier: GPL-2.0
/*
 * The attribute fork's check for the consistency checker (fs/ns/attr.h:
 * kvfs_attr_scrub()): every block it maps read and checked, the hash
 * order across the leaves, each remote value's blocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/ns/attr.h"
#include "fs/ns/attr_priv.h"

struct scrub_map {
	const struct kvfs_extent *x;
	uint32_t n;
	uint8_t *seen; /* one per mapped block, in extent order */
	uint64_t nblocks;
};

/* The block of lblk and its index among the mapped ones, or -1. */
static int64_t smap_find(const struct scrub_map *m, uint64_t lblk,
			 uint64_t *fsb)
{
	uint64_t idx = 0;

	for (uint32_t i = 0; i < m->n; i++) {
		uint64_t off = kv_le64_to_cpu(m->x[i].startoff);
		uint32_t len = kv_le32_to_cpu(m->x[i].blockcount);

		if (lblk >= off && lblk < off + len) {
			*fsb = kv_le64_to_cpu(m->x[i].startblock) + lblk - off;
			return (int64_t)(idx + lblk - off);
		}
		idx += len;
	}
	return -1;
}

/* Read, verify and mark attribute block lblk into buf. */
static int scrub_blk(struct kv_bcache *bc, const struct kvfs_geom *g,
		     uint64_t ino, struct scrub_map *m, uint64_t lblk,
		     uint32_t magic, uint8_t *buf, char *why, size_t whylen)
{
	struct kv_buf *bp;
	uint64_t fsb = 0;
	int64_t idx = smap_find(m, lblk, &fsb);
	const struct kvfs_blk_hdr *h = (const void *)buf;
	int err;

	if (idx < 0) {
		snprintf(why, whylen, "attribute block %" PRIu64 " not mapped",
			 lblk);
		return -EUCLEAN;
	}
	if (m->seen[idx]++) {
		snprintf(why, whylen, "attribute block %" PRIu64 " used twice",
			 lblk);
		return -EUCLEAN;
	}
	err = kv_buf_read(bc, fsb, 1, &kvfs_attr_buf_ops, &bp);
	if (err == -EUCLEAN || err == -EBADMSG) {
		snprintf(why, whylen, "attribute block %" PRIu64 ": %s", lblk,
			 kv_buf_last_error());
		return -EUCLEAN;
	}
	if (err)
		return err;
	kv_buf_lock(bp);
	memcpy(buf, bp->b_addr, g->blocksize);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	if (kv_le64_to_cpu(h->owner) != ino ||
	    (magic && kv_le32_to_cpu(h->magic) != magic)) {
		snprintf(why, whylen,
			 "attribute block %" PRIu64 " (block %" PRIu64
			 ") belongs to inode %" PRIu64
			 " or is of the wrong kind",
			 lblk, fsb, (uint64_t)kv_le64_to_cpu(h->owner));
		return -EUCLEAN;
	}
	return 0;
}

/* A leaf: hashes in [lo, hi), remote values' blocks in order. */
static int scrub_leaf(struct kv_bcache *bc, const struct kvfs_geom *g,
		      uint64_t ino, struct scrub_map *m, const uint8_t *leaf,
		      uint64_t lo, uint64_t hi, uint8_t *buf, char *why,
		      size_t whylen)
{
	uint32_t count = kv_le16_to_cpu(
		((const struct kvfs_attr_leaf_hdr *)leaf)->count);
	uint32_t per = rmt_per(g);
	int err;

	for (uint32_t i = 0; i < count; i++) {
		struct xent x;

		kvfs_attr_leaf_entry(leaf, i, &x);
		if (x.hash < lo || x.hash >= hi) {
			snprintf(why, whylen,
				 "attribute hash 0x%08x outside its leaf's "
				 "range",
				 x.hash);
			return -EUCLEAN;
		}
		if (x.local)
			continue;
		for (uint32_t j = 0; j < rmt_blocks(g, x.valuelen); j++) {
			const struct kvfs_attr_rmt_hdr *h = (const void *)buf;
			uint32_t want = x.valuelen - j * per < per ?
						x.valuelen - j * per :
						per;

			err = scrub_blk(bc, g, ino, m, (uint64_t)x.valueblk + j,
					KVFS_ATTR_RMT_MAGIC, buf, why, whylen);
			if (err)
				return err;
			if (kv_le32_to_cpu(h->offset) != j * per ||
			    kv_le32_to_cpu(h->bytes) != want) {
				snprintf(why, whylen,
					 "remote value block %" PRIu64
					 " holds the wrong piece",
					 (uint64_t)x.valueblk + j);
				return -EUCLEAN;
			}
		}
	}
	return 0;
}

int kvfs_attr_scrub(struct kv_bcache *bc, const struct kvfs_geom *g,
		    uint64_t ino, const void *xp, uint32_t n, char *why,
		    size_t whylen)
{
	struct scrub_map m = { .x = xp, .n = n };
	uint8_t *b0 = NULL, *leaf = NULL, *buf = NULL;
	int err;

	for (uint32_t i = 0; i < n; i++)
		m.nblocks += kv_le32_to_cpu(m.x[i].blockcount);
	if (!m.nblocks) {
		snprintf(why, whylen, "attribute fork maps no block");
		return -EUCLEAN;
	}
	m.seen = kvzalloc(m.nblocks, 0);
	b0 = kvmalloc(g->blocksize, 0);
	leaf = kvmalloc(g->blocksize, 0);
	buf = kvmalloc(g->blocksize, 0);
	if (!m.seen || !b0 || !leaf || !buf) {
		err = -ENOMEM;
		goto out;
	}
	err = scrub_blk(bc, g, ino, &m, 0, 0, b0, why, whylen);
	if (err)
		goto out;
	if (kv_le32_to_cpu(((struct kvfs_blk_hdr *)b0)->magic) ==
	    KVFS_ATTR_LEAF_MAGIC) {
		err = scrub_leaf(bc, g, ino, &m, b0, 0, 1ull << 32, buf, why,
				 whylen);
	} else if (kv_le32_to_cpu(((struct kvfs_blk_hdr *)b0)->magic) ==
		   KVFS_ATTR_NODE_MAGIC) {
		uint32_t cnt = kv_le16_to_cpu(
			((struct kvfs_attr_node_hdr *)b0)->count);

		for (uint32_t i = 0; i < cnt && !err; i++) {
			uint64_t hi =
				i + 1 < cnt ?
					kv_le32_to_cpu(
						NODE_ENT(b0, i + 1)->hashval) :
					1ull << 32;

			err = scrub_blk(bc, g, ino, &m,
					kv_le32_to_cpu(NODE_ENT(b0, i)->blkno),
					KVFS_ATTR_LEAF_MAGIC, leaf, why,
					whylen);
			if (!err)
				err = scrub_leaf(
					bc, g, ino, &m, leaf,
					kv_le32_to_cpu(
						NODE_ENT(b0, i)->hashval),
					hi, buf, why, whylen);
		}
	} else {
		snprintf(why, whylen, "attribute block 0 is a remote value");
		err = -EUCLEAN;
	}
	for (uint64_t i = 0; i < m.nblocks && !err; i++) {
		if (!m.seen[i]) {
			snprintf(why, whylen,
				 "attribute block %" PRIu64
				 " of the mapped ones is used by nothing",
				 i);
			err = -EUCLEAN;
		}
	}
out:
	kvfree(m.seen);
	kvfree(b0);
	kvfree(leaf);
	kvfree(buf);
	return err;
}
