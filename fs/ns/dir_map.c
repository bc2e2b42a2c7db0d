// SPDX-License-Identifier: GPL-2.0
/*
 * The data blocks' addresses a directory remembers (struct kvfs_dir_map,
 * fs/ns/dir_priv.h says when it is trusted), and the walk of the data
 * fork that fills it.  Locks: dp's inode lock, shared or exclusive, as
 * fs/ns/dir.c holds it; the lock-free lookup (fs/ns/dir_rcu.c) reads the
 * maps without it, so a map lives as long as its inode.
 */
#include <errno.h>
#include <stdatomic.h>

#include "alloc/kvalloc.h"
#include "fs/data/bmap.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/ns/dir.h"
#include "fs/ns/dir_priv.h"

static bool dmap_valid(const struct kvfs_inode *dp,
		       const struct kvfs_dir_map *m)
{
	return atomic_load_explicit(&m->dformat, memory_order_acquire) ==
		       dp->i_dformat &&
	       atomic_load_explicit(&m->nextents, memory_order_relaxed) ==
		       dp->i_nextents &&
	       atomic_load_explicit(&m->generation, memory_order_relaxed) ==
		       dp->i_generation;
}

/* Forget m's addresses and trust it for dp as it is now (dp locked). */
static void dmap_reset(struct kvfs_inode *dp, struct kvfs_dir_map *m)
{
	atomic_store_explicit(&m->dformat, DMAP_STALE, memory_order_relaxed);
	for (uint32_t i = 0; i < m->nr; i++)
		atomic_store_explicit(&m->fsb[i], 0, memory_order_relaxed);
	atomic_store_explicit(&m->nextents, dp->i_nextents,
			      memory_order_relaxed);
	atomic_store_explicit(&m->generation, dp->i_generation,
			      memory_order_relaxed);
	atomic_store_explicit(&m->dformat, dp->i_dformat, memory_order_release);
}

/*
 * n, not yet published, takes over the entries' hints of m, the map it
 * replaces, so that a directory that grows keeps one set of them: hints
 * installed in m after this stay m's (kvfs_dir_map_free() frees each
 * with the newest map that holds it).
 */
static void dmap_take_hints(struct kvfs_dir_map *n,
			    const struct kvfs_dir_map *m)
{
	if (!m || !m->dbuf || !n->dbuf)
		return;
	for (uint32_t i = 0; i < m->nr; i++)
		atomic_init(&n->dbuf[i].hints,
			    atomic_load_explicit(&m->dbuf[i].hints,
						 memory_order_acquire));
}

/* Is hint array h of data block i also newer's (freed with it)? */
static bool dmap_hints_shared(const struct kvfs_dir_map *newer, uint32_t i,
			      const struct kvfs_ihint *h)
{
	return newer && newer->dbuf && i < newer->nr &&
	       atomic_load(&newer->dbuf[i].hints) == h;
}

/*
 * dp's map, a bigger one made if it has none or too small a one for its
 * data blocks (sized for half as many more); NULL if none can be made
 * (the walk is then done as before).  dp locked, shared or exclusive.
 */
static struct kvfs_dir_map *dmap_get(struct kvfs_inode *dp)
{
	const struct kvfs_geom *g = &dp->i_mount->g;
	struct kvfs_dir_map *m =
		atomic_load_explicit(&dp->i_dirmap, memory_order_acquire);
	struct kvfs_dir_map *n;
	uint64_t nr = dp->i_size >> g->dirblklog;

	if (nr && nr <= DMAP_MAX && (!m || nr > m->nr)) {
		size_t fsbs_size;
		uint64_t ni;

		nr += nr / 2 + 8;
		ni = 1ull << (64 - __builtin_clzll(nr - 1));
		fsbs_size = sizeof(*n) + nr * sizeof(n->fsb[0]);
		/*
		 * No waiting for memory (this may run in a transaction).
		 * The kept buffers' slots (and room to align them) are 17
		 * to 25 times the addresses: without them if they do not
		 * fit.
		 */
		n = kvzalloc(fsbs_size + (nr + ni + 1) * sizeof(n->dbuf[0]), 0);
		if (n) {
			n->dbuf =
				(void *)(((uintptr_t)&n->fsb[nr] +
					  sizeof(n->dbuf[0]) - 1) &
					 ~(uintptr_t)(sizeof(n->dbuf[0]) - 1));
			n->ibuf = n->dbuf + nr;
			n->imask = (uint32_t)(ni - 1);
		} else {
			n = kvzalloc(fsbs_size, 0);
		}
		if (n) {
			n->nr = (uint32_t)nr;
			n->retired = m;
			dmap_take_hints(n, m);
			atomic_init(&n->dformat, DMAP_STALE);
			/* a loser's map was never seen: freed alone */
			if (atomic_compare_exchange_strong(&dp->i_dirmap, &m,
							   n))
				m = n;
			else
				kvfree(n);
		}
	}
	if (m && !dmap_valid(dp, m))
		dmap_reset(dp, m);
	return m;
}

struct kvfs_ihint *kvfs_dir_map_hints_make(const struct kvfs_dir_map *m,
					   const struct kvfs_geom *g,
					   uint32_t dblk)
{
	struct kvfs_dir_map_buf *k = (struct kvfs_dir_map_buf *)&m->dbuf[dblk];
	struct kvfs_ihint *h, *none = NULL;

	h = kvzalloc(hints_per_block(g) * sizeof(*h), KV_NORETRY | KV_NOWARN);
	/* a racing maker's, installed first, is the block's */
	if (h && !atomic_compare_exchange_strong(&k->hints, &none, h)) {
		kvfree(h);
		h = none;
	}
	return h;
}

void kvfs_dir_map_hint_new(struct kvfs_inode *dp, uint32_t dblk, uint32_t off,
			   struct kvfs_inode *ip)
{
	const struct kvfs_dir_map *m =
		atomic_load_explicit(&dp->i_dirmap, memory_order_acquire);
	struct kvfs_ihint *h;

	if (!m || dblk >= m->nr)
		return;
	h = kvfs_dir_map_hint(m, &dp->i_mount->g, dblk, off, true);
	if (h)
		kvfs_ihint_remember(dp->i_mount, h, ip);
}

void kvfs_dir_map_forget(struct kvfs_inode *dp)
{
	struct kvfs_dir_map *m = atomic_load(&dp->i_dirmap);

	if (m)
		atomic_store(&m->dformat, DMAP_STALE);
}

void kvfs_dir_map_free(struct kvfs_inode *dp)
{
	struct kvfs_dir_map *m = atomic_exchange(&dp->i_dirmap, NULL);
	struct kvfs_dir_map *newer = NULL;

	while (m) {
		struct kvfs_dir_map *next = m->retired;

		for (uint32_t i = 0; m->dbuf && i < m->nr; i++) {
			struct kvfs_ihint *h = atomic_load(&m->dbuf[i].hints);

			if (h && !dmap_hints_shared(newer, i, h))
				kvfree(h);
		}
		kvfree(newer);
		newer = m;
		m = next;
	}
	kvfree(newer);
}

/*
 * The filesystem block of data block dblk: one contiguous extent;
 * -ENODATA for a hole (a data block freed below the end of the data).
 */
static int map_dblk_walk(struct kvfs_inode *dp, uint32_t dblk, uint64_t *fsb)
{
	const struct kvfs_geom *g = &dp->i_mount->g;
	struct kvfs_bmap map[4];
	int n = 4, err;
	uint64_t off = (uint64_t)dblk * fsbs(g), next;

	err = kvfs_bmapi_read(dp, off, fsbs(g), map, &n);
	if (err)
		return err == -EOPNOTSUPP ? kvfs_dir_corrupt(dp, KVFS_NULLBLOCK,
							     "fork format") :
					    err;
	if (n == 1 && map[0].startblock == KVFS_NULLBLOCK &&
	    map[0].blockcount >= fsbs(g))
		return -ENODATA;
	next = map[0].startblock;
	for (int i = 0; i < n; i++) {
		if (map[i].startblock == KVFS_NULLBLOCK ||
		    map[i].startblock != next ||
		    (map[i].flags & KVFS_BMAP_UNWRITTEN))
			return kvfs_dir_corrupt(
				dp, KVFS_NULLBLOCK,
				"data block not mapped contiguously");
		next += map[i].blockcount;
	}
	if (next - map[0].startblock < fsbs(g))
		return kvfs_dir_corrupt(dp, KVFS_NULLBLOCK, "data block short");
	*fsb = map[0].startblock;
	return 0;
}

int kvfs_dir_map_dblk(struct kvfs_inode *dp, uint32_t dblk, uint64_t *fsb)
{
	struct kvfs_dir_map *m = dmap_get(dp);
	int err;

	if (m && dblk < m->nr) {
		*fsb = atomic_load_explicit(&m->fsb[dblk],
					    memory_order_relaxed);
		if (*fsb)
			return 0;
	}
	err = map_dblk_walk(dp, dblk, fsb);
	if (!err && m && dblk < m->nr)
		atomic_store_explicit(&m->fsb[dblk], *fsb,
				      memory_order_relaxed);
	return err;
}

/*
 * The first data block past dblk, a hole, that may be mapped (ndata if
 * none): a walk steps over a run of holes in one bmap call, not one a
 * block (a damaged head's ndata can be 2^32).
 */
int kvfs_dir_next_dblk(struct kvfs_inode *dp, uint32_t dblk, uint32_t ndata,
		       uint32_t *next)
{
	const struct kvfs_geom *g = &dp->i_mount->g;
	struct kvfs_bmap map;
	uint64_t off = (uint64_t)dblk * fsbs(g), end;
	int n = 1, err;

	err = kvfs_bmapi_read(dp, off, (uint64_t)(ndata - dblk) * fsbs(g), &map,
			      &n);
	if (err == -EFBIG)
		return kvfs_dir_corrupt(
			dp, KVFS_NULLBLOCK,
			"data space past the largest file offset");
	if (err)
		return err;
	end = map.startblock == KVFS_NULLBLOCK ? off + map.blockcount : off;
	end /= fsbs(g);
	*next = end > dblk ? (end < ndata ? (uint32_t)end : ndata) : dblk + 1;
	return 0;
}
