// SPDX-License-Identifier: GPL-2.0
/*
 * fs/space/extent_busy.c against a model: random frees in open
 * transactions, commits (with sequences rising as the journal's) and
 * cancels, prunes at a rising durable sequence, and after every step each
 * query (overlaps, uncommitted, committed, trim with and without
 * metadata, free prefix, count) answered as a plain scan of every live
 * entry answers it.  Overlapping and duplicate extents included (a
 * committed busy block reused as metadata and freed again).  No mount:
 * the busy extents need only the transaction's list and the AGs.
 */
#include <stdint.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/mount.h"
#include "fs/space/extent_busy.h"
#include "fs/space/perag.h"
#include "fs/trans/trans.h"
#include "tests/check.h"

#define AGS 2
#define TXS 3
#define MAXE 6000
#define SPAN 20000u

struct model {
	uint32_t agno, bno, len;
	uint64_t seq; /* 0: open in tx */
	int tx; /* the open transaction, -1 once committed */
	bool live;
};

static struct model m[MAXE];
static unsigned nm;
static uint64_t seed = 7;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static bool m_overlaps(uint32_t ag, uint32_t bno, uint32_t len)
{
	for (unsigned i = 0; i < nm; i++)
		if (m[i].live && m[i].agno == ag &&
		    m[i].bno < (uint64_t)bno + len &&
		    (uint64_t)m[i].bno + m[i].len > bno)
			return true;
	return false;
}

static bool m_busy_block(uint32_t ag, uint64_t b, bool metadata)
{
	for (unsigned i = 0; i < nm; i++)
		if (m[i].live && m[i].agno == ag && m[i].bno <= b &&
		    b < (uint64_t)m[i].bno + m[i].len &&
		    !(metadata && m[i].seq))
			return true;
	return false;
}

/* The longest run of free blocks in [bno, bno+len), the first if tied. */
static void m_trim(uint32_t ag, uint32_t bno, uint32_t len, bool metadata,
		   uint32_t *tbno, uint32_t *tlen)
{
	uint64_t end = (uint64_t)bno + len, run = bno;

	*tlen = 0;
	for (uint64_t b = bno; b <= end; b++) {
		if (b < end && !m_busy_block(ag, b, metadata))
			continue;
		if (b - run > *tlen) {
			*tbno = (uint32_t)run;
			*tlen = (uint32_t)(b - run);
		}
		run = b + 1;
	}
}

static uint32_t m_prefix(uint32_t ag, uint32_t bno, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (m_busy_block(ag, (uint64_t)bno + i, false))
			return i;
	return len;
}

static size_t m_count(uint32_t ag)
{
	size_t n = 0;

	for (unsigned i = 0; i < nm; i++)
		n += m[i].live && m[i].agno == ag;
	return n;
}

static void check_queries(struct kvfs_perag *pag)
{
	for (uint32_t ag = 0; ag < AGS; ag++) {
		bool committed = false;

		CHECK_EQ(kvfs_extent_busy_count(&pag[ag]), m_count(ag));
		for (unsigned i = 0; i < nm; i++)
			committed |= m[i].live && m[i].agno == ag && m[i].seq;
		CHECK_EQ(kvfs_extent_busy_committed(&pag[ag]), committed);
		for (int q = 0; q < 8; q++) {
			uint32_t bno = (uint32_t)(rnd() % SPAN);
			uint32_t len = 1 + (uint32_t)(rnd() % 300);
			bool md = rnd() & 1;
			uint32_t tb = 0, tl = 0, mb = 0, ml = 0;
			bool uc = false;

			CHECK_EQ(kvfs_extent_busy_overlaps(&pag[ag], bno, len),
				 m_overlaps(ag, bno, len));
			CHECK_EQ(kvfs_extent_busy_free_prefix(&pag[ag], bno,
							      len),
				 m_prefix(ag, bno, len));
			m_trim(ag, bno, len, md, &mb, &ml);
			CHECK_EQ(kvfs_extent_busy_trim(&pag[ag], bno, len, md,
						       &tb, &tl),
				 ml > 0);
			CHECK_EQ(tl, ml);
			if (tl)
				CHECK_EQ(tb, mb);
			for (unsigned i = 0; i < nm; i++)
				uc |= m[i].live && m[i].agno == ag &&
				      !m[i].seq && m[i].bno <= bno &&
				      bno < (uint64_t)m[i].bno + m[i].len;
			CHECK_EQ(kvfs_extent_busy_uncommitted(&pag[ag], bno),
				 uc);
		}
	}
}

int main(void)
{
	static struct kvfs_mount mnt;
	static struct kvfs_perag pag[AGS];
	static struct kvfs_trans tx[TXS];
	uint64_t seq = 1, durable = 0;

	CHECK_EQ(kv_init(NULL), 0);
	for (uint32_t ag = 0; ag < AGS; ag++)
		CHECK_EQ(kvfs_perag_init(&pag[ag], ag), 0);
	mnt.pag = pag;
	for (int t = 0; t < TXS; t++)
		tx[t].mp = &mnt;
	for (int step = 0; step < 20000; step++) {
		unsigned op = (unsigned)(rnd() % 100);
		int t = (int)(rnd() % TXS);

		if (op < 70 && nm < MAXE) {
			uint32_t ag = (uint32_t)(rnd() % AGS);
			/* short extents, some long, often at equal starts */
			uint32_t len = rnd() % 10 ? 1 + (uint32_t)(rnd() % 16) :
						    1 + (uint32_t)(rnd() % 900);
			uint32_t bno = (uint32_t)(rnd() % (SPAN - len));

			if (rnd() % 8 == 0 && nm)
				bno = m[rnd() % nm].bno;
			kvfs_extent_busy_insert(&tx[t], &pag[ag], bno, len);
			m[nm++] = (struct model){ ag, bno, len, 0, t, true };
		} else if (op < 88) {
			/* commit; the journal's sequence moves on sometimes */
			seq += rnd() % 3 == 0;
			kvfs_extent_busy_trans_done(&tx[t], seq);
			for (unsigned i = 0; i < nm; i++)
				if (m[i].live && m[i].tx == t) {
					m[i].seq = seq;
					m[i].tx = -1;
				}
		} else if (op < 93) {
			kvfs_extent_busy_trans_done(&tx[t], 0);
			for (unsigned i = 0; i < nm; i++)
				if (m[i].live && m[i].tx == t)
					m[i].live = false;
		} else {
			uint32_t ag = (uint32_t)(rnd() % AGS);

			if (durable < seq && rnd() & 1)
				durable += 1 + rnd() % (seq - durable);
			kvfs_extent_busy_prune(&pag[ag], durable);
			for (unsigned i = 0; i < nm; i++)
				if (m[i].live && m[i].agno == ag && m[i].seq &&
				    m[i].seq <= durable)
					m[i].live = false;
		}
		if (step % 97 == 0)
			check_queries(pag);
		/* compact the model's dead entries */
		if (nm == MAXE) {
			unsigned j = 0;

			for (unsigned i = 0; i < nm; i++)
				if (m[i].live)
					m[j++] = m[i];
			nm = j;
		}
	}
	check_queries(pag);
	for (int t = 0; t < TXS; t++)
		kvfs_extent_busy_trans_done(&tx[t], 0);
	for (uint32_t ag = 0; ag < AGS; ag++)
		kvfs_perag_destroy(&pag[ag]);
	kv_fini();
	return 0;
}
