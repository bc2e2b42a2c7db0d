// SPDX-License-Identifier: GPL-2.0
/*
 * The records of one directory data block (fs/format.h): entries and
 * unused records laid end to end from the block's data start, and the
 * block's bestfree.  Locks: the directory's inode lock, exclusive, as
 * fs/ns/dir.c holds it for every change.
 */
#include <errno.h>
#include <string.h>

#include "fs/io/blkhdr.h"
#include "fs/kvfs.h"
#include "fs/ns/dir.h"
#include "fs/ns/dir_priv.h"
#include "fs/trans/trans.h"

static void log_range(struct kvfs_trans *tp, struct kv_buf *bp, uint32_t first,
		      uint32_t len)
{
	kvfs_trans_log_buf(tp->jt, bp, first, first + len - 1);
}

/* bestfree of an empty data block */
static uint32_t empty_best(const struct kvfs_geom *g, uint32_t dblk)
{
	return g->dirblksize - data_start(dblk);
}

/* The largest of best and the unused records from pos to len. */
static uint32_t best_from(struct kv_buf *bp, uint32_t pos, uint32_t len,
			  uint32_t best)
{
	while (pos < len) {
		struct kvfs_dir_data_ent *e = ent_at(bp, pos);
		uint32_t rl = kv_le32_to_cpu(e->reclen);

		if (!kv_le64_to_cpu(e->ino) && rl > best)
			best = rl;
		pos += rl;
	}
	return best;
}

void kvfs_dir_data_recompute_best(struct kv_buf *bp, uint32_t len)
{
	dhdr(bp)->bestfree = kv_cpu_to_le32(best_from(
		bp, data_start(kv_le32_to_cpu(dhdr(bp)->dblk)), len, 0));
}

void kvfs_dir_data_put_unused(struct kv_buf *bp, uint32_t off, uint32_t len)
{
	struct kvfs_dir_data_ent *e = ent_at(bp, off);

	memset(e, 0, KVFS_DIR_DATA_ENT_SIZE);
	e->reclen = kv_cpu_to_le32(len);
}

void kvfs_dir_data_put_entry(struct kv_buf *bp, uint32_t off, uint32_t reclen,
			     const char *name, size_t len, uint64_t ino,
			     uint8_t ftype)
{
	struct kvfs_dir_data_ent *e = ent_at(bp, off);

	memset(e, 0, KVFS_DIR_DATA_ENTSIZE(len));
	e->ino = kv_cpu_to_le64(ino);
	e->reclen = kv_cpu_to_le32(reclen);
	e->namelen = (uint8_t)len;
	e->ftype = ftype;
	memcpy(e->name, name, len);
}

void kvfs_dir_data_init(struct kvfs_inode *dp, struct kv_buf *bp, uint32_t dblk)
{
	const struct kvfs_geom *g = &dp->i_mount->g;

	memset(bp->b_addr, 0, g->dirblksize);
	kvfs_blkhdr_init(bp->b_addr, KVFS_DIR_DATA_MAGIC, bp->b_blkno,
			 dp->i_ino, g->meta_uuid);
	dhdr(bp)->dblk = kv_cpu_to_le32(dblk);
	kvfs_dir_data_put_unused(bp, data_start(dblk), empty_best(g, dblk));
	dhdr(bp)->bestfree = kv_cpu_to_le32(empty_best(g, dblk));
}

int kvfs_dir_data_insert(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 struct kv_buf *bp, const char *name, size_t len,
			 uint64_t ino, uint8_t ftype, uint32_t *off)
{
	uint32_t need = KVFS_DIR_DATA_ENTSIZE(len);
	uint32_t bl = dp->i_mount->g.dirblksize;
	uint32_t pos = data_start(kv_le32_to_cpu(dhdr(bp)->dblk));
	uint32_t old = kv_le32_to_cpu(dhdr(bp)->bestfree), best = 0;

	while (pos < bl) {
		struct kvfs_dir_data_ent *e = ent_at(bp, pos);
		uint32_t rl = kv_le32_to_cpu(e->reclen);

		if (kv_le64_to_cpu(e->ino) || rl < need) {
			if (!kv_le64_to_cpu(e->ino) && rl > best)
				best = rl;
			pos += rl;
			continue;
		}
		if (rl - need >= KVFS_DIR_DATA_ENT_SIZE) {
			kvfs_dir_data_put_entry(bp, pos, need, name, len, ino,
						ftype);
			kvfs_dir_data_put_unused(bp, pos + need, rl - need);
			log_range(tp, bp, pos, need + KVFS_DIR_DATA_ENT_SIZE);
			if (rl - need > best)
				best = rl - need;
		} else {
			kvfs_dir_data_put_entry(bp, pos, rl, name, len, ino,
						ftype);
			log_range(tp, bp, pos, need);
		}
		dhdr(bp)->nents =
			kv_cpu_to_le32(kv_le32_to_cpu(dhdr(bp)->nents) + 1);
		/*
		 * Only the record taken changed: a smaller one than the best
		 * leaves the best where it was; else one pass, those before
		 * it seen already (a full rescan per insert was half of its
		 * cost).
		 */
		best = rl < old ? old : best_from(bp, pos + rl, bl, best);
		dhdr(bp)->bestfree = kv_cpu_to_le32(best);
		log_range(tp, bp, 0, KVFS_DIR_DATA_HDR_SIZE);
		*off = pos;
		return 0;
	}
	return -ENOSPC;
}

int kvfs_dir_data_remove(struct kvfs_trans *tp, struct kvfs_inode *dp,
			 struct kv_buf *bp, uint32_t off)
{
	uint32_t bl = dp->i_mount->g.dirblksize;
	uint32_t pos = data_start(kv_le32_to_cpu(dhdr(bp)->dblk)), prev = 0;
	uint32_t start, len;
	struct kvfs_dir_data_ent *e;
	bool prev_unused = false;

	while (pos < off) {
		e = ent_at(bp, pos);
		prev = pos;
		prev_unused = !kv_le64_to_cpu(e->ino);
		pos += kv_le32_to_cpu(e->reclen);
	}
	if (pos != off)
		return kvfs_dir_corrupt(dp, bp->b_blkno,
					"entry not on a record boundary");
	start = off;
	len = kv_le32_to_cpu(ent_at(bp, off)->reclen);
	if (prev_unused) {
		start = prev;
		len += kv_le32_to_cpu(ent_at(bp, prev)->reclen);
	}
	if (off + kv_le32_to_cpu(ent_at(bp, off)->reclen) < bl) {
		e = ent_at(bp, off + kv_le32_to_cpu(ent_at(bp, off)->reclen));
		if (!kv_le64_to_cpu(e->ino))
			len += kv_le32_to_cpu(e->reclen);
	}
	kvfs_dir_data_put_unused(bp, start, len);
	/* the removed entry's name bytes stay behind, as unused space */
	log_range(tp, bp, start, KVFS_DIR_DATA_ENT_SIZE);
	if (off != start)
		log_range(tp, bp, off, KVFS_DIR_DATA_ENT_SIZE);
	dhdr(bp)->nents = kv_cpu_to_le32(kv_le32_to_cpu(dhdr(bp)->nents) - 1);
	/* the one record that grew is the new unused one: no rescan */
	if (len > kv_le32_to_cpu(dhdr(bp)->bestfree))
		dhdr(bp)->bestfree = kv_cpu_to_le32(len);
	log_range(tp, bp, 0, KVFS_DIR_DATA_HDR_SIZE);
	return 0;
}
