// SPDX-License-Identifier: GPL-2.0
/*
 * Busy extents (fs/space/extent_busy.h).  Every function is called with the
 * AG's lock held (kvfs_perag_destroy(): with nothing else running).
 */
#include "alloc/kvalloc.h"
#include "fs/space/extent_busy.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"

void kvfs_extent_busy_insert(struct kvfs_trans *tp, struct kvfs_perag *pag,
			     uint32_t bno, uint32_t len)
{
	/* a free that cannot be recorded cannot be made safe: never fail */
	struct kvfs_busy_ext *b = kvmalloc(sizeof(*b), KV_NOFAIL);
	struct kvfs_busy_ext **pp = &pag->busy;

	b->agno = pag->agno;
	b->bno = bno;
	b->len = len;
	b->seq = 0;
	while (*pp && (*pp)->bno < bno)
		pp = &(*pp)->next;
	b->next = *pp;
	*pp = b;
	b->tp_next = tp->busy;
	tp->busy = b;
}

static void busy_unlink(struct kvfs_perag *pag, struct kvfs_busy_ext *b)
{
	struct kvfs_busy_ext **pp = &pag->busy;

	while (*pp != b)
		pp = &(*pp)->next;
	*pp = b->next;
}

void kvfs_extent_busy_trans_done(struct kvfs_trans *tp, uint64_t seq)
{
	struct kvfs_busy_ext *b, *next;

	for (b = tp->busy; b; b = next) {
		next = b->tp_next;
		b->tp_next = NULL;
		if (seq) {
			b->seq = seq;
		} else {
			busy_unlink(&tp->mp->pag[b->agno], b);
			kvfree(b);
		}
	}
	tp->busy = NULL;
}

void kvfs_extent_busy_prune(struct kvfs_perag *pag, uint64_t durable)
{
	struct kvfs_busy_ext **pp = &pag->busy, *b;

	while ((b = *pp)) {
		if (b->seq && b->seq <= durable) {
			*pp = b->next;
			kvfree(b);
		} else {
			pp = &b->next;
		}
	}
}

bool kvfs_extent_busy_overlaps(const struct kvfs_perag *pag, uint32_t bno,
			       uint32_t len)
{
	return kvfs_extent_busy_free_prefix(pag, bno, len) < len;
}

bool kvfs_extent_busy_uncommitted(const struct kvfs_perag *pag, uint32_t bno)
{
	const struct kvfs_busy_ext *b;

	for (b = pag->busy; b && b->bno <= bno; b = b->next)
		if (!b->seq && bno < b->bno + b->len)
			return true;
	return false;
}

bool kvfs_extent_busy_committed(const struct kvfs_perag *pag)
{
	const struct kvfs_busy_ext *b;

	for (b = pag->busy; b; b = b->next)
		if (b->seq)
			return true;
	return false;
}

bool kvfs_extent_busy_trim(const struct kvfs_perag *pag, uint32_t bno,
			   uint32_t len, bool metadata, uint32_t *tbno,
			   uint32_t *tlen)
{
	const struct kvfs_busy_ext *b;
	uint64_t end = (uint64_t)bno + len, s = bno;

	*tlen = 0;
	/* sorted by start: sweep the gaps between the busy ranges */
	for (b = pag->busy; b && b->bno < end; b = b->next) {
		uint64_t bend = (uint64_t)b->bno + b->len;

		if (bend <= s || (metadata && b->seq))
			continue;
		if (b->bno > s && b->bno - s > *tlen) {
			*tbno = (uint32_t)s;
			*tlen = (uint32_t)(b->bno - s);
		}
		s = bend;
	}
	if (s < end && end - s > *tlen) {
		*tbno = (uint32_t)s;
		*tlen = (uint32_t)(end - s);
	}
	return *tlen > 0;
}

uint32_t kvfs_extent_busy_free_prefix(const struct kvfs_perag *pag,
				      uint32_t bno, uint32_t len)
{
	const struct kvfs_busy_ext *b;
	uint64_t end = (uint64_t)bno + len;

	for (b = pag->busy; b && b->bno < end; b = b->next) {
		if ((uint64_t)b->bno + b->len <= bno)
			continue;
		return b->bno <= bno ? 0 : b->bno - bno;
	}
	return len;
}

size_t kvfs_extent_busy_count(const struct kvfs_perag *pag)
{
	const struct kvfs_busy_ext *b;
	size_t n = 0;

	for (b = pag->busy; b; b = b->next)
		n++;
	return n;
}

void kvfs_extent_busy_destroy(struct kvfs_perag *pag)
{
	struct kvfs_busy_ext *b;

	while ((b = pag->busy)) {
		pag->busy = b->next;
		kvfree(b);
	}
}
