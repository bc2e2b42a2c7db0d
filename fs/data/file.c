// SPDX-License-Identifier: GPL-2.0
/*
 * Reads, writes, lseek and fsync of regular files (fs/data/file.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/bmap.h"
#include "fs/data/convert.h"
#include "fs/io/dev.h"
#include "fs/data/file.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/itruncate.h"
#include "fs/kvfs.h"
#include "fs/kvfs_fs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"

/* mappings looked up at once */
#define MAP_MAX 16
/* bytes written per step (one allocation, one conversion) */
#define WRITE_STEP_BYTES (16ull << 20)

static void atomic_max(_Atomic uint64_t *v, uint64_t x)
{
	uint64_t cur = atomic_load(v);

	while (cur < x && !atomic_compare_exchange_weak(v, &cur, x))
		;
}

int kvfs_file_get(struct kvfs_mount *mp, uint64_t ino, struct kvfs_inode **ipp)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	/* the type never changes while the inode is allocated */
	if (!S_ISREG(ip->i_mode)) {
		err = S_ISDIR(ip->i_mode) ? -EISDIR : -EINVAL;
		kvfs_iput(ip);
		return err;
	}
	*ipp = ip;
	return 0;
}

int kvfs_file_commit(struct kvfs_trans *tp, struct kvfs_inode *ip, bool dsync)
{
	uint64_t seq = 0;
	int err = kvfs_trans_commit(tp, &seq);

	if (err)
		return err;
	atomic_max(&ip->i_sync_seq, seq);
	if (dsync)
		atomic_max(&ip->i_dsync_seq, seq);
	/* a sync mount: durable now (the log write flushes the data first) */
	return kvfs_sync_commit(ip->i_mount, seq);
}

static uint64_t blk_bytes(const struct kvfs_mount *mp, uint64_t fsb)
{
	return kvfs_fsb_to_bytes(&mp->g, fsb);
}

static bool map_written(const struct kvfs_bmap *m)
{
	return m->startblock != KVFS_NULLBLOCK &&
	       !(m->flags & KVFS_BMAP_UNWRITTEN);
}

static uint64_t map_end(const struct kvfs_bmap *m)
{
	return m->startoff + m->blockcount;
}

int kvfs_file_map(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
		  struct kvfs_bmap *map, int *nmap)
{
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = kvfs_bmapi_read(ip, fb, len, map, nmap);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return err;
}

/*
 * kvfs_file_map() and the blocks written but not converted yet
 * (fs/data/convert.h), under one hold of the lock.
 */
static int file_map_snap(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
			 struct kvfs_bmap *map, int *nmap,
			 struct kvfs_conv_snap *snap)
{
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	err = kvfs_bmapi_read(ip, fb, len, map, nmap);
	kvfs_conv_snap(ip, snap);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return err;
}

/*
 * The pending blocks without the lock, as they were at one moment (a
 * seqcount read of i_lock_seq): taken before a map read, so that a block
 * the snapshot does not show pending is one the map read shows written
 * if a settle converted it meanwhile.
 */
static void snap_racy(struct kvfs_inode *ip, struct kvfs_conv_snap *snap)
{
	uint64_t seq;

	do {
		seq = kvfs_ilock_seq_begin(ip);
		kvfs_conv_snap(ip, snap);
	} while (kvfs_ilock_seq_retry(ip, seq));
}

/* Every block of [fb, fe) is pending in snap. */
static bool pending_all(const struct kvfs_conv_snap *snap, uint64_t fb,
			uint64_t fe)
{
	uint64_t end;

	return kvfs_conv_snap_pending(snap, fb, fe, &end) && end >= fe;
}

/* tp joined to ip, locked exclusively */
static int file_trans_join(struct kvfs_inode *ip, struct kvfs_trans *tp,
			   struct kvfs_trans **tpp)
{
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	err = kvfs_trans_ijoin(tp, ip);
	if (err) {
		kvfs_iunlock(ip, KVFS_ILOCK_EXCL);
		kvfs_trans_cancel(tp);
		return err;
	}
	*tpp = tp;
	return 0;
}

int kvfs_file_trans(struct kvfs_inode *ip, uint32_t log_bytes, unsigned rolls,
		    uint64_t blocks, struct kvfs_trans **tpp)
{
	struct kvfs_trans *tp;
	int err = kvfs_trans_alloc(ip->i_mount, log_bytes, rolls, blocks, &tp);

	return err ? err : file_trans_join(ip, tp, tpp);
}

/*
 * A write back's (reserve: kvfs_write_cached()) from the blocks kept for
 * it, a write's (reserve NULL) as kvfs_file_trans().
 */
static int file_trans_cached(struct kvfs_inode *ip,
			     const struct kvfs_trans_res *res, uint64_t blocks,
			     bool *reserve, struct kvfs_trans **tpp)
{
	struct kvfs_trans *tp;
	int err;

	if (!reserve)
		return kvfs_file_trans_res(ip, res, blocks, tpp);
	err = kvfs_trans_alloc_cached(ip->i_mount, res->log_bytes,
				      res->log_count, res->blocks + blocks,
				      reserve, &tp);
	return err ? err : file_trans_join(ip, tp, tpp);
}

int kvfs_file_trans_res(struct kvfs_inode *ip, const struct kvfs_trans_res *res,
			uint64_t blocks, struct kvfs_trans **tpp)
{
	return kvfs_file_trans(ip, res->log_bytes, res->log_count,
			       res->blocks + blocks, tpp);
}

int kvfs_file_trans_reserved(struct kvfs_inode *ip,
			     const struct kvfs_trans_res *res,
			     struct kvfs_trans **tpp)
{
	struct kvfs_trans *tp;
	int err = kvfs_trans_alloc_remove(ip->i_mount, res, &tp);

	return err ? err : file_trans_join(ip, tp, tpp);
}

int kvfs_file_trans_shrink(struct kvfs_inode *ip, struct kvfs_trans **tpp)
{
	const struct kvfs_trans_res *res = &ip->i_mount->resv.itruncate;

	return kvfs_file_trans(ip, res->log_bytes, res->log_count, 0, tpp);
}

/* SUID always, SGID when group-executable (a write by a non-root user). */
static void kill_suidgid(struct kvfs_inode *ip)
{
	ip->i_mode &= (uint16_t)~S_ISUID;
	if (ip->i_mode & S_IXGRP)
		ip->i_mode &= (uint16_t)~S_ISGID;
}

/*
 * ordered: the zeros past a size that a later commit sets; the log's next
 * write flushes it first (fs/io/log_io.h).  Writes into unwritten blocks
 * are ordered by the conversion that makes them readable
 * (kvfs_log_io_order() in write_done(), or a settle's flush:
 * fs/data/convert.h).  Overwrites wait for fsync's flush.
 */
static int data_write(struct kvfs_mount *mp, const void *buf, size_t len,
		      uint64_t off, bool ordered)
{
	int err = kv_dev_pwrite(mp->dev, buf, len, off);

	if (!err)
		kvfs_log_io_data_written(&mp->lio, ordered);
	return err;
}

/*
 * Write len bytes of src (zeros when NULL) at boff of block fsb; the rest
 * of the block is read from disk when it holds data (written, or written
 * and pending conversion), else zeros.
 */
static int write_partial(struct kvfs_mount *mp, uint64_t fsb, bool written,
			 uint32_t boff, const void *src, uint32_t len)
{
	uint32_t bs = mp->g.blocksize;
	/* as the kernel's page cache would: a write waits for memory */
	uint8_t *blk = kvmalloc(bs, KV_NOFAIL);
	int err = 0;

	if (written)
		err = kv_dev_pread(mp->dev, blk, bs, blk_bytes(mp, fsb));
	else
		memset(blk, 0, bs);
	if (!err) {
		if (src)
			memcpy(blk + boff, src, len);
		else
			memset(blk + boff, 0, len);
		err = data_write(mp, blk, bs, blk_bytes(mp, fsb), !src);
	}
	kvfree(blk);
	return err;
}

/*
 * Write src to bytes [ps, pe) of the file, inside mapping m: edge blocks
 * read-modify-written, the whole blocks between in one pwrite.  snap: the
 * blocks pending conversion, which hold data as written ones do.
 */
static int write_piece(struct kvfs_mount *mp, const struct kvfs_bmap *m,
		       const struct kvfs_conv_snap *snap, const uint8_t *src,
		       uint64_t ps, uint64_t pe)
{
	uint32_t bl = mp->g.blocklog, bs = mp->g.blocksize;
	bool written = map_written(m);
	int err = 0;

	while (ps < pe && !err) {
		uint64_t fsb = m->startblock + ((ps >> bl) - m->startoff);
		uint32_t boff = (uint32_t)(ps & (bs - 1));
		uint64_t n;

		if (boff || pe - ps < bs) {
			bool data = written ||
				    pending_all(snap, ps >> bl, (ps >> bl) + 1);

			n = pe - ps < bs - boff ? pe - ps : bs - boff;
			err = write_partial(mp, fsb, data, boff, src,
					    (uint32_t)n);
		} else {
			n = (pe - ps) & ~(uint64_t)(bs - 1);
			err = data_write(mp, src, n, blk_bytes(mp, fsb), false);
		}
		ps += n;
		src += n;
	}
	return err;
}

int kvfs_file_zero_partial(struct kvfs_inode *ip, uint64_t off, uint64_t len)
{
	struct kvfs_mount *mp = ip->i_mount;
	uint32_t bl = mp->g.blocklog;
	struct kvfs_conv_snap snap;
	struct kvfs_bmap m;
	int nmap = 1, err;

	err = file_map_snap(ip, off >> bl, 1, &m, &nmap, &snap);
	if (err || m.startblock == KVFS_NULLBLOCK ||
	    (!map_written(&m) &&
	     !pending_all(&snap, off >> bl, (off >> bl) + 1)))
		return err;
	return write_partial(mp, m.startblock, true,
			     (uint32_t)(off & (mp->g.blocksize - 1)), NULL,
			     (uint32_t)len);
}

/*
 * Back blocks [fb, *fe) with unwritten extents where they are holes (holes
 * of them), and spec blocks past *fe when they can be had.  When the fork
 * or the space runs out part way, *fe comes back to what is backed.
 */
static int alloc_step(struct kvfs_inode *ip, uint64_t fb, uint64_t *fe,
		      uint64_t holes, uint64_t spec, bool *reserve)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_trans *tp;
	uint64_t cur = fb, end;
	int err, cerr;

	for (;;) {
		err = kvfs_file_trans_res(ip, &mp->resv.write, holes + spec,
					  &tp);
		if (err != -ENOSPC || !spec)
			break;
		spec = 0; /* the write itself may still fit */
	}
	/* a write back's blocks, none speculative, from its reserve */
	if (err == -ENOSPC && reserve)
		err = file_trans_cached(ip, &mp->resv.write, holes, reserve,
					&tp);
	if (err)
		return err;
	end = *fe + spec;
	while (cur < end) {
		struct kvfs_bmap m;
		int nmap = 1;

		err = kvfs_bmapi_write(tp, ip, cur, end - cur,
				       KVFS_BMAPI_PREALLOC, &m, &nmap);
		if (err)
			break;
		cur = map_end(&m);
		if (cur < end)
			err = kvfs_trans_roll(tp, NULL);
		if (err)
			break;
	}
	if (err && err != -EOPNOTSUPP && err != -ENOSPC) {
		kvfs_trans_cancel(tp);
		return err;
	}
	/* the fork or the space ran out: keep what was done */
	cerr = kvfs_file_commit(tp, ip, true);
	if (cerr)
		return cerr;
	if (cur >= *fe)
		return 0;
	if (cur == fb)
		return err;
	*fe = cur;
	return 0;
}

/*
 * I/O completion of a write: convert [fb, fe) when it had unwritten
 * blocks (or leave them pending: fs/data/convert.h), raise the size to
 * size, set mtime and ctime.
 */
static int write_done(struct kvfs_inode *ip, uint64_t fb, uint64_t fe,
		      bool convert, uint64_t size, unsigned flags,
		      bool *reserve)
{
	struct kvfs_mount *mp = ip->i_mount;
	const struct kvfs_trans_res *res =
		convert ? &mp->resv.write : &mp->resv.ichange;
	const bool may_defer = convert && !mp->wsync &&
			       !(flags & (KVFS_WRITE_SYNC | KVFS_WRITE_DSYNC));
	bool defer = may_defer;
	struct kvfs_trans *tp;
	uint64_t cur = fb;
	bool grow, split, own;
	int err;

	for (;;) {
		uint64_t start = cur;

		/*
		 * The blocks of one extent-tree change when they are there
		 * (a conversion on a B+tree fork may split it); with none, a
		 * conversion of an in-inode map still completes, so a full
		 * filesystem finishes the writes it took.
		 */
		err = kvfs_file_trans(ip, res->log_bytes, res->log_count,
				      res->blocks, &tp);
		/* free blocks: a range left pending may keep them */
		own = !err;
		/*
		 * A write back's conversion may split the tree with the
		 * reserve's blocks; it stores no data there, which is what
		 * the caller hears of (a write into blocks fallocated on a
		 * full filesystem is no news).
		 */
		if (err == -ENOSPC && reserve)
			err = file_trans_cached(ip, res, 0, &split, &tp);
		/*
		 * Any other write into fallocated blocks (no writeback
		 * cache, O_DIRECT): its split from the reserve pool, as
		 * convert_sealed() (fs/data/convert.c) and XFS's unwritten
		 * conversion; with none, the map leaving the inode failed
		 * the write with ENOSPC (xfstests generic/274).
		 */
		if (err == -ENOSPC && convert)
			err = kvfs_file_trans_reserved(ip, res, &tp);
		if (err == -ENOSPC)
			err = kvfs_file_trans(ip, res->log_bytes,
					      res->log_count, 0, &tp);
		if (err)
			return err;
		if (defer) {
			defer = false;
			if (kvfs_conv_defer(ip, own ? tp : NULL, fb, fe))
				convert = false;
		}
		/*
		 * Converted at once (O_SYNC, or not recorded), this write's
		 * two records may take the room the file's list has for the
		 * records of ranges that keep no blocks, or the map outgrew
		 * what they keep (a list turned tree by writes converted at
		 * once): they go first, while the list's room or the reserve
		 * pool has their blocks (converted at once, this write would
		 * take them), then this one is recorded with its own or
		 * converted.  Not while the list has room for both: a write
		 * into a range a settle sealed waits for no settle.  tp is
		 * clean.  Again when a write under the shared I/O lock
		 * recorded another meanwhile.
		 */
		if (convert && kvfs_conv_unkept(ip, false)) {
			kvfs_trans_cancel(tp);
			defer = may_defer && cur == fb;
			err = kvfs_conv_settle(ip);
			if (err)
				return err;
			continue;
		}
		/* the data on the media before the blocks are readable */
		if (convert && cur == fb)
			kvfs_log_io_order(&mp->lio);
		while (convert && cur < fe) {
			struct kvfs_bmap m[MAP_MAX];
			int nmap = MAP_MAX;

			err = kvfs_bmapi_write(tp, ip, cur, fe - cur,
					       KVFS_BMAPI_CONVERT, m, &nmap);
			if (err)
				break;
			cur = map_end(&m[nmap - 1]);
		}
		/* one tree change per transaction: go on in the next */
		if (err != -ENOSPC || cur == start || cur >= fe)
			break;
		err = kvfs_file_commit(tp, ip, true);
		if (err)
			return err;
	}
	if (err && err != -EOPNOTSUPP) {
		kvfs_trans_cancel(tp);
		return err;
	}
	grow = !err && size > ip->i_size;
	if (grow)
		ip->i_size = size;
	if (!(flags & KVFS_WRITE_NOCMTIME)) {
		kvfs_inode_now(&ip->i_mtime);
		ip->i_ctime = ip->i_mtime;
	}
	if (flags & KVFS_WRITE_KILLPRIV)
		kill_suidgid(ip);
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	if (!err)
		return kvfs_file_commit(tp, ip, convert || grow);
	kvfs_file_commit(tp, ip, true);
	return err;
}

/* t read from the clock in [from, to] */
static bool ictime_within(const struct kvfs_ictime *t,
			  const struct timespec *from,
			  const struct timespec *to)
{
	if (t->sec < from->tv_sec ||
	    (t->sec == from->tv_sec && t->nsec < from->tv_nsec))
		return false;
	return t->sec < to->tv_sec ||
	       (t->sec == to->tv_sec && t->nsec <= to->tv_nsec);
}

/*
 * Whether an overwrite (no conversion, no size change) must stamp mtime
 * and ctime: not when both were set since the start of the clock's
 * current tick (CLOCK_REALTIME_COARSE), as the kernel's file_update_time()
 * skips a stamp equal to current_time(); always when one is in the future
 * (set by utimes) or a privilege bit must go.  A write stream then
 * commits one transaction per tick, not one per write, and leaves the
 * inode lock shared.
 */
static bool stamp_due(struct kvfs_inode *ip, unsigned flags)
{
	struct timespec tick, now;
	bool due;

	clock_gettime(CLOCK_REALTIME_COARSE, &tick);
	clock_gettime(CLOCK_REALTIME, &now);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	due = (!(flags & KVFS_WRITE_NOCMTIME) &&
	       (!ictime_within(&ip->i_mtime, &tick, &now) ||
		!ictime_within(&ip->i_ctime, &tick, &now))) ||
	      (flags & KVFS_WRITE_KILLPRIV &&
	       (ip->i_mode & S_ISUID ||
		(ip->i_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)));
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	return due;
}

/*
 * fallocate(KEEP_SIZE) put blocks past EOF on purpose: none is speculative
 * (a write's speculative blocks would be trimmed with them).
 */
static bool kept_prealloc(const struct kvfs_inode *ip)
{
	return __atomic_load_n(&ip->i_diflags, __ATOMIC_RELAXED) &
	       KVFS_DIFLAG_PREALLOC;
}

/* Speculative blocks for a write extending the file to block fe. */
static uint64_t spec_blocks(const struct kvfs_inode *ip, uint64_t fe)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint64_t max = kvfs_max_fileoff_blocks(g);
	uint64_t n = ip->i_nblocks;

	/*
	 * None for a small file (XFS: below its allocsize): most files
	 * stay small, and each would hold KVFS_PREALLOC_MIN blocks until
	 * closed, or for ever when never opened (kvfs_write() by number).
	 */
	if (ip->i_size < KVFS_PREALLOC_FROM || kept_prealloc(ip))
		return 0;
	/*
	 * Doubling: as many blocks again as the file has (not its size: a
	 * sparse file's size says nothing of how it is written).
	 */
	if (n < KVFS_PREALLOC_MIN)
		n = KVFS_PREALLOC_MIN;
	if (n > KVFS_PREALLOC_MAX)
		n = KVFS_PREALLOC_MAX;
	return fe + n <= max ? n : max - fe;
}

/*
 * One step of a write: *np bytes of src at pos (possibly fewer when the
 * map or the space allows fewer; *np says how many were written).
 */
static int write_step(struct kvfs_inode *ip, const uint8_t *src, uint64_t pos,
		      uint64_t *np, unsigned flags, bool *stamped,
		      bool *reserve)
{
	struct kvfs_mount *mp = ip->i_mount;
	uint32_t bl = mp->g.blocklog, bs = mp->g.blocksize;
	uint64_t n = *np, fb = pos >> bl, fe = (pos + n + bs - 1) >> bl;
	uint64_t holes = 0, cur, covered;
	struct kvfs_bmap map[MAP_MAX];
	struct kvfs_conv_snap snap;
	bool unwritten = false, extending = pos + n > ip->i_size;
	int nmap = MAP_MAX, err, i;

	err = file_map_snap(ip, fb, fe - fb, map, &nmap, &snap);
	if (err)
		return err;
	covered = map_end(&map[nmap - 1]);
	for (i = 0; i < nmap; i++)
		if (map[i].startblock == KVFS_NULLBLOCK)
			holes += map[i].blockcount;
	if (covered < fe)
		fe = covered;
	/* whatever lies past EOF after an extending write is trimmed */
	if (extending && !kept_prealloc(ip))
		kvfs_file_spec_mark(ip);
	if (holes) {
		err = alloc_step(ip, fb, &fe, holes,
				 extending ? spec_blocks(ip, fe) : 0, reserve);
		if (err)
			return err;
		nmap = MAP_MAX;
		err = file_map_snap(ip, fb, fe - fb, map, &nmap, &snap);
		if (err)
			return err;
		fe = map_end(&map[nmap - 1]);
	}
	if (fe << bl < pos + n)
		n = (fe << bl) - pos;
	cur = pos;
	for (i = 0; i < nmap && cur < pos + n; i++) {
		uint64_t pe = map_end(&map[i]) << bl;

		if (pe > pos + n)
			pe = pos + n;
		/* the I/O lock keeps the blocks: a hole here is damage */
		if (map[i].startblock == KVFS_NULLBLOCK)
			return -EUCLEAN;
		/* blocks pending conversion already are data */
		if (!map_written(&map[i]))
			unwritten |= !pending_all(&snap, cur >> bl,
						  (pe + bs - 1) >> bl);
		err = write_piece(mp, &map[i], &snap, src + (cur - pos), cur,
				  pe);
		if (err)
			return err;
		cur = pe;
	}
	if (unwritten || pos + n > ip->i_size ||
	    (!*stamped && stamp_due(ip, flags))) {
		err = write_done(ip, fb, (pos + n + bs - 1) >> bl, unwritten,
				 pos + n, flags, reserve);
		if (err)
			return err;
	}
	*stamped = true;
	*np = n;
	return 0;
}

/*
 * Exclusive unless an aligned overwrite inside the size: those cannot
 * lose each other's edge blocks or change the size.
 */
static unsigned write_lock(struct kvfs_inode *ip, off_t off, size_t len,
			   unsigned flags)
{
	uint32_t mask = ip->i_mount->g.blocksize - 1;

	if (flags & KVFS_WRITE_APPEND || ((uint64_t)off | len) & mask ||
	    (uint64_t)off + len > ip->i_size)
		return KVFS_IOLOCK_EXCL;
	return KVFS_IOLOCK_SHARED;
}

static bool has_spec(struct kvfs_inode *ip)
{
	return atomic_load(&ip->i_spec_prealloc);
}

void kvfs_file_spec_mark(struct kvfs_inode *ip)
{
	if (!atomic_exchange(&ip->i_spec_prealloc, true))
		atomic_fetch_add(&ip->i_mount->spec_files, 1);
}

bool kvfs_file_spec_take(struct kvfs_inode *ip)
{
	if (!atomic_exchange(&ip->i_spec_prealloc, false))
		return false;
	atomic_fetch_sub(&ip->i_mount->spec_files, 1);
	return true;
}

/*
 * Another file's speculative blocks, when its I/O lock is free: only a
 * trylock, as the caller holds its own file's (two writers trimming each
 * other's files would deadlock).
 */
static int trim_other(struct kvfs_inode *ip, void *self)
{
	int err = 0;

	if (ip == self || !kvfs_ilock_nowait(ip, KVFS_IOLOCK_EXCL))
		return 0;
	if (kvfs_file_spec_take(ip))
		err = kvfs_file_trim_eof(ip);
	kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
	return err;
}

/* The trims' own transactions must not trim again when they are short. */
static __thread bool trimming_spec;
/*
 * Nor the transactions of a write's steps: the write trims once itself
 * (every trim walks the whole inode cache and forces the log).
 */
static __thread bool write_stepping;

int kvfs_file_trim_all_prealloc(struct kvfs_mount *mp, struct kvfs_inode *self)
{
	int err = 0;

	if (trimming_spec || write_stepping || kvfs_conv_settling())
		return -ENOSPC;
	trimming_spec = true;
	if (self && kvfs_file_spec_take(self))
		err = kvfs_file_trim_eof(self);
	/*
	 * The walk is the cost on a full filesystem: only when it may help.
	 * Its puts may be the last of an unlinked inode, whose inactivation
	 * takes that inode's I/O lock: under the NOFS scope they go to the
	 * inode GC, as a writer here holds its own file's (out of order:
	 * lockdep's report, tests/stress ichurn -F, debug).
	 */
	if (!err && atomic_load(&mp->spec_files) > 0) {
		unsigned nofs = kv_nofs_save();

		err = kvfs_icache_walk(mp, has_spec, trim_other, self);
		kv_nofs_restore(nofs);
	}
	/* the frees are busy until the log has them: make them usable */
	if (!err)
		err = kvfs_sync(mp);
	trimming_spec = false;
	return err;
}

/* kvfs_write(), or with reserve kvfs_write_cached() */
static ssize_t write_common(struct kvfs_mount *mp, uint64_t ino,
			    const void *buf, size_t len, off_t off,
			    unsigned flags, bool *reserve)
{
	const uint8_t *src = buf;
	uint32_t bl = mp->g.blocklog;
	struct kvfs_inode *ip;
	uint64_t pos, done = 0;
	bool stamped = false, trimmed = false;
	unsigned lock;
	int err;

	if (off < 0 && !(flags & KVFS_WRITE_APPEND))
		return -EINVAL;
	if (mp->rdonly)
		return -EROFS;
	if (mp->wsync)
		flags |= KVFS_WRITE_SYNC;
	err = kvfs_file_get(mp, ino, &ip);
	if (err)
		return err;
	lock = write_lock(ip, off, len, flags);
	kvfs_ilock(ip, lock);
	if (lock == KVFS_IOLOCK_SHARED && (uint64_t)off + len > ip->i_size) {
		kvfs_iunlock(ip, lock);
		lock = KVFS_IOLOCK_EXCL;
		kvfs_ilock(ip, lock);
	}
	pos = flags & KVFS_WRITE_APPEND ? ip->i_size : (uint64_t)off;
	if (len && pos >= KVFS_MAX_FILE_OFFSET) {
		err = -EFBIG;
		goto out;
	}
	/* as Linux: a write crossing the limit is cut to it */
	if (len > KVFS_MAX_FILE_OFFSET - pos)
		len = KVFS_MAX_FILE_OFFSET - pos;
	/*
	 * Its allocation may take the room the list has for the records of
	 * ranges that keep no blocks (write_done() looks again for the
	 * conversion): they go first, as the sync after the write would.
	 */
	if (flags & (KVFS_WRITE_SYNC | KVFS_WRITE_DSYNC)) {
		err = kvfs_conv_settle_unkept(ip);
		if (err)
			goto out;
	}
	/* growing: nothing stale past the old end shows in the new size */
	if (len && pos + len > ip->i_size && lock == KVFS_IOLOCK_EXCL) {
		err = kvfs_file_drop_stale(ip, ip->i_size);
		if (err)
			goto out;
	}
	while (done < len) {
		uint64_t at = pos + done;
		uint64_t n = WRITE_STEP_BYTES - at % WRITE_STEP_BYTES;

		if (n > len - done)
			n = len - done;
		for (;;) {
			uint64_t half;

			write_stepping = true;
			err = write_step(ip, src + done, at, &n, flags,
					 &stamped, trimmed ? reserve : NULL);
			write_stepping = false;
			if (err != -ENOSPC || ((at + n - 1) >> bl) == at >> bl)
				break;
			/* less may fit: down to the first block */
			half = ((at + n / 2) >> bl) << bl;
			if (half <= at)
				half = ((at >> bl) + 1) << bl;
			n = half - at;
		}
		/*
		 * Once per write, as XFS: free what is speculative, retry.  A
		 * write back takes its reserve only then: this file's own
		 * speculative blocks past a later write back's were left, and
		 * dd onto 32 MiB heard ENOSPC at 19 MiB (2 runs of 40).  They
		 * need the I/O lock exclusive.
		 */
		if (err == -ENOSPC && !trimmed) {
			trimmed = true;
			if (lock == KVFS_IOLOCK_SHARED) {
				kvfs_iunlock(ip, lock);
				lock = KVFS_IOLOCK_EXCL;
				kvfs_ilock(ip, lock);
			}
			err = kvfs_file_trim_all_prealloc(mp, ip);
			if (!err || (err == -ENOSPC && reserve))
				continue;
		}
		if (err)
			break;
		done += n;
	}
	if (done && !stamped)
		err = write_done(ip, 0, 0, false, 0, flags, reserve);
	if (done && !err && flags & (KVFS_WRITE_SYNC | KVFS_WRITE_DSYNC))
		err = kvfs_file_sync(ip, !(flags & KVFS_WRITE_SYNC));
	/* bytes written stay written: only a failed sync fails them */
	if (done && (err == -ENOSPC || err == -EOPNOTSUPP))
		err = 0;
out:
	kvfs_iunlock(ip, lock);
	kvfs_iput(ip);
	return err ? err : (ssize_t)done;
}

ssize_t kvfs_write(struct kvfs_mount *mp, uint64_t ino, const void *buf,
		   size_t len, off_t off, unsigned flags)
{
	return write_common(mp, ino, buf, len, off, flags, NULL);
}

ssize_t kvfs_write_cached(struct kvfs_mount *mp, uint64_t ino, const void *buf,
			  size_t len, off_t off, unsigned flags, bool *reserve)
{
	*reserve = false;
	return write_common(mp, ino, buf, len, off, flags, reserve);
}

/* relatime: atime moves when not newer than mtime or ctime, or a day old. */
static bool atime_due(const struct kvfs_inode *ip,
		      const struct kvfs_ictime *now)
{
	const struct kvfs_ictime *a = &ip->i_atime;

	if (a->sec < ip->i_mtime.sec ||
	    (a->sec == ip->i_mtime.sec && a->nsec <= ip->i_mtime.nsec))
		return true;
	if (a->sec < ip->i_ctime.sec ||
	    (a->sec == ip->i_ctime.sec && a->nsec <= ip->i_ctime.nsec))
		return true;
	return now->sec - a->sec >= 24 * 3600;
}

void kvfs_file_touch_atime(struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_trans *tp;
	struct kvfs_ictime now;

	if (mp->rdonly || mp->atime == KVFS_ATIME_NOATIME ||
	    ip->i_diflags & KVFS_DIFLAG_NOATIME)
		return;
	kvfs_inode_now(&now);
	if (mp->atime == KVFS_ATIME_RELATIME && !atime_due(ip, &now))
		return;
	/* atime is best effort: a full log or a shutdown skips it */
	if (kvfs_file_trans_res(ip, &mp->resv.ichange, 0, &tp))
		return;
	ip->i_atime = now;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	kvfs_file_commit(tp, ip, false);
}

/*
 * The mappings of a read, the I/O lock held shared (so that no block of
 * them is freed before the read of it is done): without the inode lock
 * when the extent list can be read so, with it when not.
 */
static int read_map(struct kvfs_inode *ip, uint64_t fb, uint64_t len,
		    struct kvfs_bmap *map, int *nmap)
{
	int err = kvfs_bmapi_read_nolock(ip, fb, len, map, nmap);

	return err == -EAGAIN ? kvfs_file_map(ip, fb, len, map, nmap) : err;
}

/*
 * Bytes [cur, pe) of mapping m into dst: from the device where its blocks
 * are written or pending conversion (data the map does not show yet,
 * fs/data/convert.h), zeros elsewhere (a hole, unwritten blocks).
 */
static int read_piece(struct kvfs_mount *mp, const struct kvfs_bmap *m,
		      const struct kvfs_conv_snap *snap, uint8_t *dst,
		      uint64_t cur, uint64_t pe)
{
	uint32_t bl = mp->g.blocklog;
	uint64_t last = ((pe - 1) >> bl) + 1;

	if (m->startblock == KVFS_NULLBLOCK) {
		memset(dst, 0, pe - cur);
		return 0;
	}
	while (cur < pe) {
		uint64_t run = last, e;
		bool data = map_written(m) ||
			    kvfs_conv_snap_pending(snap, cur >> bl, last, &run);
		int err = 0;

		e = run << bl < pe ? run << bl : pe;
		if (data)
			err = kv_dev_pread(mp->dev, dst, e - cur,
					   blk_bytes(mp, m->startblock) + cur -
						   (m->startoff << bl));
		else
			memset(dst, 0, e - cur);
		if (err)
			return err;
		dst += e - cur;
		cur = e;
	}
	return 0;
}

/* The largest read made inside an RCU read-side section (see read_rcu()). */
#define RCU_READ_MAX (128u << 10)

struct rcu_read {
	struct kvfs_mount *mp;
	uint8_t *dst;
	uint64_t off, len;
	bool noatime; /* KVFS_READ_NOATIME */
	ssize_t ret; /* the byte count, or -EAGAIN: the referenced way */
};

static bool ictime_le_racy(const struct kvfs_ictime *a,
			   const struct kvfs_ictime *b)
{
	int64_t as = __atomic_load_n(&a->sec, __ATOMIC_RELAXED),
		bs = __atomic_load_n(&b->sec, __ATOMIC_RELAXED);

	return as < bs || (as == bs &&
			   __atomic_load_n(&a->nsec, __ATOMIC_RELAXED) <=
				   __atomic_load_n(&b->nsec, __ATOMIC_RELAXED));
}

/* kvfs_file_touch_atime() would change nothing (read without the lock). */
static bool atime_quiet(const struct kvfs_inode *ip)
{
	struct kvfs_mount *mp = ip->i_mount;
	struct kvfs_ictime now;

	if (mp->rdonly || mp->atime == KVFS_ATIME_NOATIME ||
	    __atomic_load_n(&ip->i_diflags, __ATOMIC_RELAXED) &
		    KVFS_DIFLAG_NOATIME)
		return true;
	if (mp->atime != KVFS_ATIME_RELATIME ||
	    ictime_le_racy(&ip->i_atime, &ip->i_mtime) ||
	    ictime_le_racy(&ip->i_atime, &ip->i_ctime))
		return false;
	kvfs_inode_now(&now);
	return now.sec - __atomic_load_n(&ip->i_atime.sec, __ATOMIC_RELAXED) <
	       24 * 3600;
}

/* kvfs_icache_read()'s callback: the read of struct rcu_read. */
static void read_rcu_fn(const struct kvfs_inode *cip, void *arg)
{
	/* nothing here stores to it: the map is read by loads (and a trylock) */
	struct kvfs_inode *ip = (struct kvfs_inode *)cip;
	struct rcu_read *r = arg;
	struct kvfs_mount *mp = r->mp;
	uint32_t bl = mp->g.blocklog;
	uint64_t size = __atomic_load_n(&ip->i_size, __ATOMIC_RELAXED);
	uint64_t cur = r->off, end;
	struct kvfs_conv_snap snap;

	r->ret = -EAGAIN;
	if (!S_ISREG(__atomic_load_n(&ip->i_mode, __ATOMIC_RELAXED)) ||
	    (!r->noatime && !atime_quiet(ip)))
		return;
	kvfs_conv_snap(ip, &snap);
	end = cur >= size ? cur : r->len < size - cur ? cur + r->len : size;
	while (cur < end) {
		struct kvfs_bmap map[MAP_MAX];
		int nmap = MAP_MAX;

		if (kvfs_bmapi_read_rcu(ip, cur >> bl,
					((end - 1) >> bl) - (cur >> bl) + 1,
					map, &nmap))
			return;
		if (kvj_errtag(KVJ_ERRTAG_READ_RCU_DELAY))
			usleep((useconds_t)kvj_errtag_value(
				KVJ_ERRTAG_READ_RCU_DELAY));
		for (int i = 0; i < nmap; i++) {
			uint64_t pe = map_end(&map[i]) << bl;

			if (pe > end)
				pe = end;
			if (pe <= cur)
				return;
			if (read_piece(mp, &map[i], &snap,
				       r->dst + (cur - r->off), cur, pe))
				return;
			cur = pe;
		}
	}
	r->ret = (ssize_t)(end - r->off);
}

/*
 * kvfs_read() of a cached file with no reference, no lock and no store to
 * any shared line (two threads reading one file bounced its count and its
 * I/O lock between them: rand_read 0.76x raw with 2 threads): the inode
 * found and read under RCU, its size and map as a seqcount reader of
 * i_lock_seq (kvfs_icache_read()), the data read, and all of it counted
 * only if i_lock_seq has not moved and the inode is not dying by then.
 * Why the data is the file's: a block leaves the map only under the inode
 * lock held exclusively (i_lock_seq odd), and is freed, reused and
 * written by another file only after that; a reclaimed inode's successor
 * (which could truncate with a seqcount of its own) is made only after
 * this one is marked dying.  What a read racing a change of the map gets
 * is thrown away, and the referenced way reads again.  A read racing a
 * truncate's zeroing of its last block (done under the I/O lock alone)
 * may see some of those zeros, as one racing an overwrite sees some of
 * its bytes.  -EAGAIN when it cannot be done so (not cached, the file
 * being changed, a B+tree's list not loaded, atime due, an error: the
 * referenced way says which).  Inside the read-side section nothing
 * allocates or waits for a lock (the B+tree's list is read under a
 * trylock).  Every grace period waits for the read: the caches' reclaim
 * and each log push (journal/push.c), so a block freed meanwhile is not
 * reused before the read is done either (busy until its free's
 * checkpoint is durable): reads past RCU_READ_MAX are not made so.
 */
static ssize_t read_rcu(struct kvfs_mount *mp, uint64_t ino, void *buf,
			size_t len, uint64_t off, unsigned flags)
{
	struct rcu_read r = { .mp = mp,
			      .dst = buf,
			      .off = off,
			      .len = len,
			      .noatime = flags & KVFS_READ_NOATIME };

	if (len > RCU_READ_MAX || kvfs_icache_read(mp, ino, read_rcu_fn, &r))
		return -EAGAIN;
	return r.ret;
}

ssize_t kvfs_read(struct kvfs_mount *mp, uint64_t ino, void *buf, size_t len,
		  off_t off)
{
	return kvfs_read_flags(mp, ino, buf, len, off, 0);
}

ssize_t kvfs_read_flags(struct kvfs_mount *mp, uint64_t ino, void *buf,
			size_t len, off_t off, unsigned flags)
{
	uint32_t bl = mp->g.blocklog;
	struct kvfs_conv_snap snap;
	struct kvfs_inode *ip;
	uint8_t *dst = buf;
	uint64_t cur, end;
	ssize_t n;
	int err = 0;

	if (off < 0)
		return -EINVAL;
	n = read_rcu(mp, ino, buf, len, (uint64_t)off, flags);
	if (n != -EAGAIN)
		return n;
	err = kvfs_file_get(mp, ino, &ip);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_IOLOCK_SHARED);
	snap_racy(ip, &snap);
	cur = (uint64_t)off;
	end = cur >= ip->i_size	     ? cur :
	      len < ip->i_size - cur ? cur + len :
				       ip->i_size;
	while (cur < end && !err) {
		struct kvfs_bmap map[MAP_MAX];
		int nmap = MAP_MAX;

		err = read_map(ip, cur >> bl,
			       ((end - 1) >> bl) - (cur >> bl) + 1, map, &nmap);
		for (int i = 0; i < nmap && !err; i++) {
			uint64_t pe = map_end(&map[i]) << bl;

			if (pe > end)
				pe = end;
			err = read_piece(mp, &map[i], &snap,
					 dst + (cur - (uint64_t)off), cur, pe);
			cur = pe;
		}
	}
	if (!err && !(flags & KVFS_READ_NOATIME))
		kvfs_file_touch_atime(ip);
	kvfs_iunlock(ip, KVFS_IOLOCK_SHARED);
	kvfs_iput(ip);
	return err ? err : (ssize_t)(end - (uint64_t)off);
}

/*
 * SEEK_DATA / SEEK_HOLE in blocks from ob, i_lock held: the map's answer
 * (unwritten blocks are holes), where blocks pending conversion are data.
 */
static int seek_blocks(struct kvfs_inode *ip, uint64_t ob, bool data,
		       uint64_t *res)
{
	uint64_t max = kvfs_max_fileoff_blocks(&ip->i_mount->g), b, run;
	struct kvfs_conv_snap snap;
	int err;

	kvfs_conv_snap(ip, &snap);
	if (data) {
		err = kvfs_bmap_seek_data(ip, ob, &b);
		if (err == -ENXIO)
			b = max;
		else if (err)
			return err;
		for (uint32_t i = 0; i < snap.nr; i++) {
			uint64_t s = snap.start[i] > ob ? snap.start[i] : ob;

			if (snap.end[i] > ob && s < b)
				b = s;
		}
		if (b >= max)
			return -ENXIO;
		*res = b;
		return 0;
	}
	err = kvfs_bmap_seek_hole(ip, ob, &b);
	while (!err && kvfs_conv_snap_pending(&snap, b, max, &run)) {
		if (run >= max) {
			b = max;
			break;
		}
		err = kvfs_bmap_seek_hole(ip, run, &b);
	}
	if (!err)
		*res = b;
	return err;
}

int kvfs_lseek(struct kvfs_mount *mp, uint64_t ino, off_t off, int whence,
	       off_t *res)
{
	uint32_t bl = mp->g.blocklog;
	struct kvfs_inode *ip;
	uint64_t b, r;
	int err;

	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (off < 0)
		return -ENXIO;
	err = kvfs_file_get(mp, ino, &ip);
	if (err)
		return err;
	kvfs_ilock(ip, KVFS_IOLOCK_SHARED | KVFS_ILOCK_SHARED);
	if ((uint64_t)off >= ip->i_size) {
		err = -ENXIO;
		goto out;
	}
	err = seek_blocks(ip, (uint64_t)off >> bl, whence == SEEK_DATA, &b);
	if (err)
		goto out;
	r = b << bl > (uint64_t)off ? b << bl : (uint64_t)off;
	if (r >= ip->i_size) {
		/* past the size: no more data; the hole at the end */
		if (whence == SEEK_DATA) {
			err = -ENXIO;
			goto out;
		}
		r = ip->i_size;
	}
	*res = (off_t)r;
out:
	kvfs_iunlock(ip, KVFS_IOLOCK_SHARED | KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return err;
}

int kvfs_file_sync(struct kvfs_inode *ip, bool datasync)
{
	struct kvfs_mount *mp = ip->i_mount;
	uint64_t seq;
	int err;

	if (!mp->log)
		return 0;
	/* blocks written but not converted: durable, then converted */
	err = kvfs_conv_settle(ip);
	if (err)
		return err;
	if (datasync) {
		seq = atomic_load(&ip->i_dsync_seq);
	} else {
		seq = atomic_load(&ip->i_sync_seq);
		/* changes made outside the data path (links, owner) too */
		kvfs_ilock(ip, KVFS_ILOCK_SHARED);
		if (ip->i_item.item.ctx_seq > seq)
			seq = ip->i_item.item.ctx_seq;
		kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	}
	/*
	 * The force's log write flushes the data it orders first and the
	 * device after it: the data written before this call is then
	 * durable, and the flush below has nothing left (one flush, not two,
	 * for an overwrite's fsync).
	 */
	if (seq && kvj_log_durable_seq(mp->log) < seq) {
		err = kvj_log_force(mp->log, seq);
		if (err)
			return err;
	}
	return kvfs_log_io_flush_data(&mp->lio);
}

int kvfs_fsync(struct kvfs_mount *mp, uint64_t ino, bool datasync)
{
	struct kvfs_inode *ip;
	int err = kvfs_iget(mp, ino, 0, &ip);

	if (err)
		return err;
	err = kvfs_file_sync(ip, datasync);
	kvfs_iput(ip);
	return err;
}

int kvfs_file_stamp(struct kvfs_inode *ip)
{
	struct kvfs_trans *tp;
	int err = kvfs_file_trans_res(ip, &ip->i_mount->resv.ichange, 0, &tp);

	if (err)
		return err;
	kvfs_inode_now(&ip->i_mtime);
	ip->i_ctime = ip->i_mtime;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return kvfs_file_commit(tp, ip, false);
}

int kvfs_file_trim_eof(struct kvfs_inode *ip)
{
	struct kvfs_trans *tp;
	int err;

	/*
	 * A removal (XFS's xfs_free_eofblocks() reserves no blocks): on a
	 * full filesystem the reservation failed, and the speculative
	 * blocks stayed allocated past every close.
	 */
	err = kvfs_file_trans_shrink(ip, &tp);
	if (err)
		return err;
	err = kvfs_itruncate_extents(&tp, ip, ip->i_size);
	if (err) {
		kvfs_trans_cancel(tp);
		return err;
	}
	return kvfs_file_commit(tp, ip, true);
}

/*
 * Blocks past EOF that nothing marked, in a file not preallocated on
 * purpose: what a crash left (speculative blocks, or blocks of a deferred
 * conversion whose size never reached the log).  I/O lock held.
 */
static int eof_leftover(struct kvfs_inode *ip, bool *found)
{
	const struct kvfs_geom *g = &ip->i_mount->g;
	uint64_t max = kvfs_max_fileoff_blocks(g);
	uint64_t fb = (ip->i_size + g->blocksize - 1) >> g->blocklog;
	struct kvfs_bmap map[MAP_MAX];
	int nmap = MAP_MAX, err;

	*found = false;
	if (kept_prealloc(ip) || fb >= max || !ip->i_nextents)
		return 0;
	err = kvfs_file_map(ip, fb, max - fb, map, &nmap);
	for (int i = 0; !err && i < nmap; i++)
		*found |= map[i].startblock != KVFS_NULLBLOCK;
	return err;
}

int kvfs_file_trim_prealloc(struct kvfs_inode *ip)
{
	bool trim;
	int err = 0;

	if (!atomic_load(&ip->i_spec_prealloc) &&
	    atomic_load(&ip->i_eof_checked))
		return 0;
	kvfs_ilock(ip, KVFS_IOLOCK_EXCL);
	trim = kvfs_file_spec_take(ip);
	if (!atomic_exchange(&ip->i_eof_checked, true) && !trim)
		err = eof_leftover(ip, &trim);
	if (!err && trim)
		err = kvfs_file_trim_eof(ip);
	kvfs_iunlock(ip, KVFS_IOLOCK_EXCL);
	return err;
}

int kvfs_release(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	int err = kvfs_file_get(mp, ino, &ip);

	/* nothing speculative but in regular files */
	if (err)
		return err == -EISDIR || err == -EINVAL ? 0 : err;
	if (!mp->rdonly)
		err = kvfs_file_trim_prealloc(ip);
	kvfs_iput(ip);
	return err;
}
