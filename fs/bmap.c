// SPDX-License-Identifier: GPL-2.0
/*
 * Extent maps of EXTENTS-format data forks (fs/bmap.h).
 *
 * Every change decodes the fork into an array of irecs, computes the new
 * array with set_range() (the range's old pieces cut out, at most one new
 * extent put in, then every mergeable pair of neighbours merged: this
 * covers all of XFS's xfs_bmap_add_extent_* left/right contiguity cases and
 * its unwritten-conversion splits in one place), and encodes it back only
 * if it fits the fork.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/alloc.h"
#include "fs/bmap.h"
#include "fs/extfree_item.h"
#include "fs/format.h"
#include "fs/inode.h"
#include "fs/inode_item.h"
#include "fs/mount.h"
#include "fs/trans.h"

/* A decoded extent. */
struct irec {
	uint64_t off;
	uint64_t bno;
	uint32_t len;
	uint32_t flags;
};

/* A decoded fork and the room to build its successor. */
struct emap {
	int whichfork; /* KVFS_DATA_FORK or KVFS_ATTR_FORK */
	struct irec *x; /* the current map: n records */
	struct irec *y; /* scratch */
	struct irec *mem; /* x and y, in one allocation */
	uint32_t n;
	uint32_t cap; /* records the fork holds */
};

static uint64_t irec_end(const struct irec *r)
{
	return r->off + r->len;
}

static const struct kvfs_geom *geom(const struct kvfs_inode *ip)
{
	return &ip->i_mount->g;
}

/* The fork whichfork of ip: its bytes, format, extent count and size. */
static uint8_t *fork_ptr(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? ip->i_afork : ip->i_dfork;
}

static uint8_t fork_format(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? ip->i_aformat : ip->i_dformat;
}

static uint32_t *fork_nextents(struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? &ip->i_anextents : &ip->i_nextents;
}

static uint32_t fork_size(const struct kvfs_inode *ip, int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? kvfs_inode_afork_size(ip) :
					     kvfs_inode_dfork_size(ip);
}

static unsigned fork_log_flag(int whichfork)
{
	return whichfork == KVFS_ATTR_FORK ? KVFS_ILOG_AFORK : KVFS_ILOG_DFORK;
}

static uint32_t fork_cap(const struct kvfs_inode *ip, int whichfork)
{
	return fork_size(ip, whichfork) / sizeof(struct kvfs_extent);
}

/*
 * Decode ip's fork.  The arrays have room for two more records than the
 * fork: set_range() may split one extent in three before merging.
 */
static int emap_load(struct kvfs_inode *ip, int whichfork, struct emap *m)
{
	const struct kvfs_extent *e = (const void *)fork_ptr(ip, whichfork);

	if (fork_format(ip, whichfork) != KVFS_DFORK_EXTENTS)
		return -EOPNOTSUPP; /* extent B+tree forks: issue 9 */
	m->whichfork = whichfork;
	m->cap = fork_cap(ip, whichfork);
	if (*fork_nextents(ip, whichfork) > m->cap)
		return -EUCLEAN;
	m->mem = kvcalloc(2 * ((size_t)m->cap + 2), sizeof(*m->mem), 0);
	if (!m->mem)
		return -ENOMEM;
	m->x = m->mem;
	m->y = m->x + m->cap + 2;
	m->n = *fork_nextents(ip, whichfork);
	for (uint32_t i = 0; i < m->n; i++) {
		m->x[i].off = kv_le64_to_cpu(e[i].startoff);
		m->x[i].bno = kv_le64_to_cpu(e[i].startblock);
		m->x[i].len = kv_le32_to_cpu(e[i].blockcount);
		m->x[i].flags = kv_le32_to_cpu(e[i].flags);
	}
	return 0;
}

static void emap_free(struct emap *m)
{
	kvfree(m->mem);
}

/* Write m back into ip's fork (zeros after the records) and count. */
static void emap_store(struct kvfs_inode *ip, const struct emap *m)
{
	struct kvfs_extent *e = (void *)fork_ptr(ip, m->whichfork);

	memset(e, 0, fork_size(ip, m->whichfork));
	for (uint32_t i = 0; i < m->n; i++) {
		e[i].startoff = kv_cpu_to_le64(m->x[i].off);
		e[i].startblock = kv_cpu_to_le64(m->x[i].bno);
		e[i].blockcount = kv_cpu_to_le32(m->x[i].len);
		e[i].flags = kv_cpu_to_le32(m->x[i].flags);
	}
	*fork_nextents(ip, m->whichfork) = m->n;
}

/* Index of the first record of x[0..n) ending after off (n if none). */
static uint32_t find_after(const struct irec *x, uint32_t n, uint64_t off)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (irec_end(&x[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* a then b could be one extent. */
static bool mergeable(const struct kvfs_geom *g, const struct irec *a,
		      const struct irec *b)
{
	return irec_end(a) == b->off && a->bno + a->len == b->bno &&
	       a->flags == b->flags &&
	       kvfs_fsb_to_agno(g, a->bno) ==
		       kvfs_fsb_to_agno(g, b->bno + b->len - 1) &&
	       (uint64_t)a->len + b->len <= UINT32_MAX;
}

/*
 * Build in m->y the map m->x with [off, off + len) replaced by nr (NULL:
 * a hole; else nr covers exactly that range), neighbours merged.  Returns
 * the new count, which may exceed m->cap (then nothing is to be stored).
 */
static uint32_t set_range(const struct kvfs_geom *g, struct emap *m,
			  uint64_t off, uint64_t len, const struct irec *nr)
{
	uint64_t end = off + len;
	uint32_t k = 0, at = 0, i;

	for (i = 0; i < m->n; i++) {
		struct irec r = m->x[i];

		if (irec_end(&r) <= off || r.off >= end) {
			m->y[k++] = r;
			if (r.off < off)
				at = k;
			continue;
		}
		if (r.off < off) {
			m->y[k] = r;
			m->y[k++].len = (uint32_t)(off - r.off);
			at = k;
		}
		if (irec_end(&r) > end) {
			m->y[k] = r;
			m->y[k].off = end;
			m->y[k].bno = r.bno + (end - r.off);
			m->y[k++].len = (uint32_t)(irec_end(&r) - end);
		}
	}
	if (nr) {
		memmove(&m->y[at + 1], &m->y[at], (k - at) * sizeof(*m->y));
		m->y[at] = *nr;
		k++;
	}
	if (!k)
		return 0;
	/* merge every pair of neighbours that can be one extent */
	i = 0;
	for (uint32_t j = 1; j < k; j++) {
		if (mergeable(g, &m->y[i], &m->y[j]))
			m->y[i].len += m->y[j].len;
		else
			m->y[++i] = m->y[j];
	}
	return i + 1;
}

/* Make the map built by set_range() the current one. */
static void emap_commit(struct emap *m, uint32_t n)
{
	struct irec *t = m->x;

	m->x = m->y;
	m->y = t;
	m->n = n;
}

static int range_check(const struct kvfs_inode *ip, uint64_t off, uint64_t len)
{
	uint64_t max = kvfs_max_fileoff_blocks(geom(ip));

	if (!len)
		return -EINVAL;
	if (off >= max || len > max - off)
		return -EFBIG;
	return 0;
}

static void put_map(struct kvfs_bmap *map, int *k, uint64_t off, uint64_t bno,
		    uint64_t len, uint32_t flags)
{
	struct kvfs_bmap *p = &map[*k];

	/* a step that continues the previous mapping extends it */
	if (*k && bno != KVFS_NULLBLOCK && p[-1].startblock != KVFS_NULLBLOCK &&
	    p[-1].startoff + p[-1].blockcount == off &&
	    p[-1].startblock + p[-1].blockcount == bno &&
	    p[-1].flags == flags) {
		p[-1].blockcount += len;
		return;
	}
	p->startoff = off;
	p->startblock = bno;
	p->blockcount = len;
	p->flags = flags;
	(*k)++;
}

static uint32_t bmap_flags(uint32_t ext_flags)
{
	return ext_flags & KVFS_EXT_UNWRITTEN ? KVFS_BMAP_UNWRITTEN : 0;
}

int kvfs_bmapi_read_fork(struct kvfs_inode *ip, int whichfork, uint64_t off,
			 uint64_t len, struct kvfs_bmap *map, int *nmap)
{
	uint64_t cur = off, end = off + len;
	struct emap m;
	int k = 0, err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (*nmap < 1)
		return -EINVAL;
	err = emap_load(ip, whichfork, &m);
	if (err)
		return err;
	for (uint32_t i = find_after(m.x, m.n, off); cur < end && k < *nmap;
	     i++) {
		const struct irec *r = i < m.n ? &m.x[i] : NULL;
		uint64_t pend;

		if (!r || r->off >= end) {
			put_map(map, &k, cur, KVFS_NULLBLOCK, end - cur, 0);
			break;
		}
		if (r->off > cur) {
			put_map(map, &k, cur, KVFS_NULLBLOCK, r->off - cur, 0);
			cur = r->off;
			if (k == *nmap)
				break;
		}
		pend = irec_end(r) < end ? irec_end(r) : end;
		put_map(map, &k, cur, r->bno + (cur - r->off), pend - cur,
			bmap_flags(r->flags));
		cur = pend;
	}
	emap_free(&m);
	*nmap = k;
	return 0;
}

int kvfs_bmapi_read(struct kvfs_inode *ip, uint64_t off, uint64_t len,
		    struct kvfs_bmap *map, int *nmap)
{
	return kvfs_bmapi_read_fork(ip, KVFS_DATA_FORK, off, len, map, nmap);
}

/*
 * Allocate up to want blocks for the hole at cur (m->x[i] is the first
 * extent after it, if i < m->n) into *nr.  When the fork has no room for
 * one more extent, only an allocation that extends the left neighbour is
 * taken (nothing else could be stored): -EOPNOTSUPP if there is none.
 */
static int alloc_hole(struct kvfs_trans *tp, struct kvfs_inode *ip,
		      struct emap *m, uint32_t i, uint64_t cur, uint64_t want,
		      uint32_t ext_flags, bool contig, struct irec *nr)
{
	const struct irec *left = i ? &m->x[i - 1] : NULL;
	uint32_t maxlen = want < UINT32_MAX ? (uint32_t)want : UINT32_MAX;
	uint32_t minlen = contig ? maxlen : 1;
	uint64_t fsb;
	uint32_t got;
	int err;

	if (m->n + 1 > m->cap) {
		struct kvfs_alloc_arg a = { .tp = tp,
					    .minlen = minlen,
					    .type = KVFS_ALLOC_THIS_BNO,
					    .owner = ip->i_ino };

		if (!left || irec_end(left) != cur ||
		    left->flags != ext_flags || left->len == UINT32_MAX)
			return -EOPNOTSUPP;
		a.goal = left->bno + left->len;
		a.maxlen = maxlen < UINT32_MAX - left->len ?
				   maxlen :
				   UINT32_MAX - left->len;
		if (a.goal >= geom(ip)->dblocks ||
		    kvfs_fsb_to_agno(geom(ip), a.goal) !=
			    kvfs_fsb_to_agno(geom(ip), left->bno))
			return -EOPNOTSUPP;
		err = kvfs_alloc_vextent(&a);
		if (err)
			return err == -ENOSPC ? -EOPNOTSUPP : err;
		fsb = a.fsb;
		got = a.len;
	} else {
		err = kvfs_alloc_file_extent(tp, ip->i_ino,
					     left ? left->bno + left->len :
						    KVFS_NULLBLOCK,
					     minlen, maxlen, &fsb, &got);
		if (err)
			return err;
	}
	nr->off = cur;
	nr->bno = fsb;
	nr->len = got;
	nr->flags = ext_flags;
	return 0;
}

int kvfs_bmapi_write_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
			  int whichfork, uint64_t off, uint64_t len,
			  unsigned flags, struct kvfs_bmap *map, int *nmap)
{
	const struct kvfs_geom *g = geom(ip);
	uint32_t new_flags =
		flags & KVFS_BMAPI_PREALLOC ? KVFS_EXT_UNWRITTEN : 0;
	uint64_t cur = off, end = off + len;
	bool changed = false;
	struct emap m;
	int k = 0, err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (*nmap < 1 ||
	    flags & ~(KVFS_BMAPI_PREALLOC | KVFS_BMAPI_CONVERT |
		      KVFS_BMAPI_CONTIG) ||
	    (flags & KVFS_BMAPI_PREALLOC && flags & KVFS_BMAPI_CONVERT))
		return -EINVAL;
	err = emap_load(ip, whichfork, &m);
	if (err)
		return err;
	while (cur < end && k < *nmap) {
		uint32_t i = find_after(m.x, m.n, cur);
		struct irec nr;
		uint32_t n;

		if (i < m.n && m.x[i].off <= cur) {
			const struct irec *r = &m.x[i];
			uint64_t pend = irec_end(r) < end ? irec_end(r) : end;
			uint64_t bno = r->bno + (cur - r->off);
			uint32_t fl = r->flags;

			if (fl & KVFS_EXT_UNWRITTEN &&
			    flags & KVFS_BMAPI_CONVERT) {
				fl = 0;
				nr = (struct irec){ cur, bno,
						    (uint32_t)(pend - cur), 0 };
				n = set_range(g, &m, cur, pend - cur, &nr);
				if (n > m.cap) {
					err = -EOPNOTSUPP;
					break;
				}
				emap_commit(&m, n);
				changed = true;
			}
			put_map(map, &k, cur, bno, pend - cur, bmap_flags(fl));
			cur = pend;
			continue;
		}
		err = alloc_hole(
			tp, ip, &m, i, cur,
			(i < m.n && m.x[i].off < end ? m.x[i].off : end) - cur,
			new_flags, flags & KVFS_BMAPI_CONTIG, &nr);
		if (err)
			break;
		/* the allocator changed the AG: no backing out from here */
		kvfs_trans_set_nofail(tp);
		n = set_range(g, &m, cur, nr.len, &nr);
		if (n > m.cap) {
			/* alloc_hole() only extends the left neighbour then */
			err = -EUCLEAN;
			break;
		}
		emap_commit(&m, n);
		ip->i_nblocks += nr.len;
		changed = true;
		put_map(map, &k, cur, nr.bno, nr.len, bmap_flags(nr.flags));
		cur += nr.len;
	}
	if (changed) {
		emap_store(ip, &m);
		kvfs_trans_log_inode(tp, ip,
				     KVFS_ILOG_CORE | fork_log_flag(whichfork));
	}
	emap_free(&m);
	/* a later step's lack of room or space: report what was done */
	if (k && (err == -EOPNOTSUPP || err == -ENOSPC))
		err = 0;
	*nmap = k;
	return err;
}

int kvfs_bmapi_write(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		     uint64_t len, unsigned flags, struct kvfs_bmap *map,
		     int *nmap)
{
	return kvfs_bmapi_write_fork(tp, ip, KVFS_DATA_FORK, off, len, flags,
				     map, nmap);
}

int kvfs_bunmapi_fork(struct kvfs_trans *tp, struct kvfs_inode *ip,
		      int whichfork, uint64_t off, uint64_t len,
		      unsigned max_extents, uint64_t *remaining)
{
	const struct kvfs_geom *g = geom(ip);
	uint64_t end;
	unsigned done = 0;
	struct emap m;
	int err;

	err = range_check(ip, off, len);
	if (err)
		return err;
	if (!max_extents)
		return -EINVAL;
	err = emap_load(ip, whichfork, &m);
	if (err)
		return err;
	end = off + len;
	for (;;) {
		/* the last extent starting before end */
		uint32_t i = find_after(m.x, m.n, end);
		uint64_t ps, pe, fsb;
		uint32_t n;

		if (i < m.n && m.x[i].off < end)
			i++;
		if (!i || irec_end(&m.x[i - 1]) <= off) {
			end = off; /* nothing mapped is left in the range */
			break;
		}
		i--;
		if (done == max_extents) {
			/* what follows the extent is unmapped already */
			if (irec_end(&m.x[i]) < end)
				end = irec_end(&m.x[i]);
			break;
		}
		ps = m.x[i].off > off ? m.x[i].off : off;
		pe = irec_end(&m.x[i]) < end ? irec_end(&m.x[i]) : end;
		fsb = m.x[i].bno + (ps - m.x[i].off);
		n = set_range(g, &m, ps, pe - ps, NULL);
		if (n > m.cap) {
			err = -EOPNOTSUPP;
			break;
		}
		/*
		 * Freed by an extent-free intent logged in tp and finished
		 * after it (XFS's EFI): a crash in between still frees it,
		 * once.  Queued before the map changes, so that a refusal
		 * leaves the map as it was.
		 */
		err = kvfs_free_extent_later(tp, fsb, (uint32_t)(pe - ps));
		if (err)
			break;
		kvfs_trans_set_nofail(tp);
		emap_commit(&m, n);
		ip->i_nblocks -= pe - ps;
		done++;
		end = ps;
	}
	if (done) {
		emap_store(ip, &m);
		kvfs_trans_log_inode(tp, ip,
				     KVFS_ILOG_CORE | fork_log_flag(whichfork));
		if (err == -EOPNOTSUPP)
			err = 0;
	}
	emap_free(&m);
	*remaining = end - off;
	return err;
}

int kvfs_bunmapi(struct kvfs_trans *tp, struct kvfs_inode *ip, uint64_t off,
		 uint64_t len, unsigned max_extents, uint64_t *remaining)
{
	return kvfs_bunmapi_fork(tp, ip, KVFS_DATA_FORK, off, len, max_extents,
				 remaining);
}

/* First block at or after off whose state is data (want_data) or not. */
static int seek(struct kvfs_inode *ip, uint64_t off, bool want_data,
		uint64_t *res)
{
	uint64_t max = kvfs_max_fileoff_blocks(geom(ip)), cur = off;
	struct emap m;
	int err;

	if (off >= max)
		return -ENXIO;
	err = emap_load(ip, KVFS_DATA_FORK, &m);
	if (err)
		return err;
	err = want_data ? -ENXIO : 0;
	for (uint32_t i = find_after(m.x, m.n, off); i < m.n; i++) {
		const struct irec *r = &m.x[i];
		bool data = !(r->flags & KVFS_EXT_UNWRITTEN);

		if (want_data && data) {
			cur = r->off > cur ? r->off : cur;
			err = 0;
			break;
		}
		if (!want_data) {
			if (r->off > cur || !data)
				break; /* a hole at cur */
			cur = irec_end(r);
		}
	}
	emap_free(&m);
	if (!err)
		*res = cur;
	return err;
}

int kvfs_bmap_seek_data(struct kvfs_inode *ip, uint64_t off, uint64_t *res)
{
	return seek(ip, off, true, res);
}

int kvfs_bmap_seek_hole(struct kvfs_inode *ip, uint64_t off, uint64_t *res)
{
	return seek(ip, off, false, res);
}

static bool zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

int kvfs_bmap_check(struct kvfs_inode *ip, char *why, size_t whylen)
{
	const struct kvfs_geom *g = geom(ip);
	const struct kvfs_extent *e = (const void *)ip->i_dfork;
	uint64_t max = kvfs_max_fileoff_blocks(g), sum = 0;
	uint32_t cap = fork_cap(ip, KVFS_DATA_FORK), n = ip->i_nextents;

	if (ip->i_dformat != KVFS_DFORK_EXTENTS) {
		snprintf(why, whylen, "data fork format %u is not extents",
			 ip->i_dformat);
		return -EUCLEAN;
	}
	if (n > cap) {
		snprintf(why, whylen, "%u extents in a fork of %u", n, cap);
		return -EUCLEAN;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct irec r = { kv_le64_to_cpu(e[i].startoff),
				  kv_le64_to_cpu(e[i].startblock),
				  kv_le32_to_cpu(e[i].blockcount),
				  kv_le32_to_cpu(e[i].flags) };
		const char *bad = NULL;

		if (!r.len)
			bad = "has no blocks";
		else if (r.flags & ~KVFS_EXT_FLAGS_ALL)
			bad = "has unknown flags";
		else if (r.off >= max || r.len > max - r.off)
			bad = "ends past the largest file offset";
		else if (r.bno >= g->dblocks || r.len > g->dblocks - r.bno)
			bad = "is outside the filesystem";
		else if (kvfs_fsb_to_agno(g, r.bno) !=
			 kvfs_fsb_to_agno(g, r.bno + r.len - 1))
			bad = "crosses an AG";
		else if (kvfs_fsb_to_agbno(g, r.bno) < KVFS_AG_HDR_BLOCKS)
			bad = "covers AG headers";
		else if (i) {
			struct irec p = { kv_le64_to_cpu(e[i - 1].startoff),
					  kv_le64_to_cpu(e[i - 1].startblock),
					  kv_le32_to_cpu(e[i - 1].blockcount),
					  kv_le32_to_cpu(e[i - 1].flags) };

			if (r.off < irec_end(&p))
				bad = "overlaps or precedes the previous one";
			else if (mergeable(g, &p, &r))
				bad = "could be merged with the previous one";
		}
		if (bad) {
			snprintf(why, whylen,
				 "extent %u (file block %" PRIu64
				 ", block %" PRIu64 ", %u blocks) %s",
				 i, r.off, r.bno, r.len, bad);
			return -EUCLEAN;
		}
		sum += r.len;
	}
	if (!zero(ip->i_dfork + (size_t)n * sizeof(*e),
		  kvfs_inode_dfork_size(ip) - (size_t)n * sizeof(*e))) {
		snprintf(why, whylen, "fork bytes after %u extents not zero",
			 n);
		return -EUCLEAN;
	}
	if (sum != ip->i_nblocks) {
		snprintf(why, whylen,
			 "nblocks %" PRIu64 ", extents hold %" PRIu64,
			 ip->i_nblocks, sum);
		return -EUCLEAN;
	}
	return 0;
}
