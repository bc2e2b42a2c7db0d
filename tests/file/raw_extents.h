/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file tests' extents taken straight from the allocator, past the
 * free counter's reserves (test_falloc_full, test_falloc_agfull,
 * test_nearfull), and given back: what fills an AG that a file's own
 * allocation may not.
 */
#ifndef KV_TESTS_FILE_RAW_EXTENTS_H
#define KV_TESTS_FILE_RAW_EXTENTS_H

#include <stdint.h>

#include "fs/mount.h"
#include "fs/space/alloc.h"
#include "fs/trans/trans.h"
#include "tests/check.h"

#define RAW_EXTENTS_MAX 64
/* the log reservation of one take or give-back */
#define RAW_EXTENTS_RES (256u << 10)

struct raw_extents {
	struct {
		uint64_t fsb;
		uint32_t len;
	} x[RAW_EXTENTS_MAX];
	unsigned n;
};

/*
 * One extent as *a asks (its tp set here), in a transaction of its own,
 * the free counter lifted by its maxlen and the reserves while it is
 * taken; kept in r when taken.  Returns kvfs_alloc_vextent()'s answer.
 */
static inline int raw_take(struct kvfs_mount *mp, struct raw_extents *r,
			   struct kvfs_alloc_arg *a)
{
	int64_t lift = (int64_t)a->maxlen + (int64_t)mp->resblks;
	int err;

	atomic_fetch_add(&mp->fdblocks, lift);
	CHECK_EQ(kvfs_trans_alloc(mp, RAW_EXTENTS_RES, 0, a->maxlen, &a->tp),
		 0);
	err = kvfs_alloc_vextent(a);
	CHECK_EQ(kvfs_trans_commit(a->tp, NULL), 0);
	atomic_fetch_sub(&mp->fdblocks, lift);
	if (!err) {
		CHECK(r->n < RAW_EXTENTS_MAX);
		r->x[r->n].fsb = a->fsb;
		r->x[r->n++].len = a->len;
	}
	return err;
}

/* What a file may still take of AG agno (fs/mount.h kvfs_ag_avail()). */
static inline int64_t raw_ag_avail(struct kvfs_mount *mp, uint32_t agno)
{
	const struct kvfs_perag *pag = &mp->pag[agno];

	return kvfs_ag_avail(&mp->g, pag->freeblks, pag->flcount,
			     pag->btreeblks);
}

/*
 * AG agno filled by the allocator, past the counters' reserves, until a
 * file may take only `left` more of it; the extents kept in r.
 */
static inline void raw_fill_ag(struct kvfs_mount *mp, struct raw_extents *r,
			       uint32_t agno, uint32_t left)
{
	while (raw_ag_avail(mp, agno) > left) {
		int64_t want = raw_ag_avail(mp, agno) - left;
		struct kvfs_alloc_arg a = {
			.minlen = 1,
			.maxlen = want < 4096 ? (uint32_t)want : 4096,
			.type = KVFS_ALLOC_THIS_AG,
			.goal = kvfs_agb_to_fsb(&mp->g, agno, 0),
		};

		CHECK_EQ(raw_take(mp, r, &a), 0);
	}
	CHECK_EQ(raw_ag_avail(mp, agno), left);
}

/* Blocks [fsb, fsb + len) freed in a transaction of their own. */
static inline void raw_free(struct kvfs_mount *mp, uint64_t fsb, uint32_t len)
{
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc(mp, RAW_EXTENTS_RES, 0, 0, &tp), 0);
	CHECK_EQ(kvfs_free_extent(tp, fsb, len), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
}

/* Every extent of r with blocks left freed, r emptied. */
static inline void raw_give_back(struct kvfs_mount *mp, struct raw_extents *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->x[i].len)
			raw_free(mp, r->x[i].fsb, r->x[i].len);
	r->n = 0;
}

#endif
