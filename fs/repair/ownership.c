// SPDX-License-Identifier: GPL-2.0
/*
 * The block-ownership map (fs/repair/ownership.h): a bitmap for the
 * questions asked per extent, the claims list only for messages.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/repair/ownership.h"

int kvfs_repair_bmap_init(struct kvfs_repair_bmap *m, uint64_t nblocks)
{
	memset(m, 0, sizeof(*m));
	m->nblocks = nblocks;
	m->bits = kvcalloc((nblocks + 63) / 64, sizeof(*m->bits), 0);
	return m->bits ? 0 : -ENOMEM;
}

void kvfs_repair_bmap_destroy(struct kvfs_repair_bmap *m)
{
	kvfree(m->bits);
	kvfree(m->claims);
	memset(m, 0, sizeof(*m));
}

void kvfs_repair_bmap_reserve(struct kvfs_repair_bmap *m, uint64_t n)
{
	struct kvfs_repair_claim *p;

	if (n <= m->cap || n > SIZE_MAX / sizeof(*p))
		return;
	p = kvmalloc(n * sizeof(*p), 0);
	if (!p)
		return;
	if (m->claims)
		memcpy(p, m->claims, m->nclaims * sizeof(*p));
	kvfree(m->claims);
	m->claims = p;
	m->cap = n;
}

int kvfs_repair_bmap_claim(struct kvfs_repair_bmap *m, uint64_t start,
			   uint32_t len, enum kvfs_scrub_owner kind,
			   uint64_t owner)
{
	if (m->nclaims == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 1024;
		struct kvfs_repair_claim *p = kvmalloc(ncap * sizeof(*p), 0);

		if (!p)
			return -ENOMEM;
		if (m->claims)
			memcpy(p, m->claims, m->nclaims * sizeof(*p));
		kvfree(m->claims);
		m->claims = p;
		m->cap = ncap;
	}
	m->claims[m->nclaims++] =
		(struct kvfs_repair_claim){ .start = start,
					    .owner = owner,
					    .len = len,
					    .kind = (uint8_t)kind };
	for (uint64_t b = start; b < start + len; b++)
		m->bits[b / 64] |= 1ull << (b % 64);
	return 0;
}

void kvfs_repair_bmap_rollback(struct kvfs_repair_bmap *m, size_t n)
{
	while (m->nclaims > n) {
		const struct kvfs_repair_claim *c = &m->claims[--m->nclaims];

		for (uint64_t b = c->start; b < c->start + c->len; b++)
			m->bits[b / 64] &= ~(1ull << (b % 64));
	}
}

void kvfs_repair_bmap_release(struct kvfs_repair_bmap *m, uint64_t start,
			      uint32_t len)
{
	for (uint64_t b = start; b < start + len; b++)
		m->bits[b / 64] &= ~(1ull << (b % 64));
}

uint64_t kvfs_repair_bmap_first_used(const struct kvfs_repair_bmap *m,
				     uint64_t start, uint64_t len)
{
	for (uint64_t b = start; b < start + len; b++) {
		/* whole free words at a time */
		if (!(b % 64) && b + 64 <= start + len && !m->bits[b / 64]) {
			b += 63;
			continue;
		}
		if (kvfs_repair_bmap_test(m, b))
			return b;
	}
	return KVFS_NULLBLOCK;
}

static bool inode_kind(uint8_t kind)
{
	return kind == KVFS_OWN_DATA || kind == KVFS_OWN_BMBT ||
	       kind == KVFS_OWN_ATTR || kind == KVFS_OWN_DIRIDX;
}

void kvfs_repair_bmap_owner(const struct kvfs_repair_bmap *m, uint64_t fsb,
			    char *buf, size_t len)
{
	for (size_t i = 0; i < m->nclaims; i++) {
		const struct kvfs_repair_claim *c = &m->claims[i];

		if (fsb < c->start || fsb - c->start >= c->len)
			continue;
		snprintf(buf, len, "%s of %s %" PRIu64,
			 kvfs_scrub_owner_name(c->kind),
			 inode_kind(c->kind) ? "inode" : "AG", c->owner);
		return;
	}
	snprintf(buf, len, "nothing");
}
