/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers of the inode tests: images, transactions, on-disk peeks. */
#ifndef KV_TESTS_INODE_INO_H
#define KV_TESTS_INODE_INO_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/trans/trans.h"
#include "journal/crc32c.h"
#include "tests/check.h"

static char path[256];

static inline void set_path(const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/kvfs-%s-%d.img", dir ? dir : "/tmp",
		 name, (int)getpid());
}

static inline void make_fs(void)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64 << 20,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static inline struct kvfs_mount *mount_fs(bool threads)
{
	struct kvfs_mount_opts o = { .no_log_threads = !threads };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

static inline struct kvfs_trans *trans(struct kvfs_mount *mp)
{
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc(mp, 64 << 10, 0, 0, &tp), 0);
	return tp;
}

static inline struct kvfs_inode *alloc_reg(struct kvfs_trans *tp, uint64_t size)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_dialloc(tp, tp->mp->g.rootino, &a, &ip), 0);
	ip->i_size = size;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return ip;
}

/* Free ip (referenced, unlocked) in its own transaction. */
static inline void free_ino(struct kvfs_mount *mp, struct kvfs_inode *ip)
{
	struct kvfs_trans *tp = trans(mp);

	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_difree(tp, ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
}

/* AG agno's first inode-chunk record and its inode header, as cached. */
static inline void read_chunk(struct kvfs_mount *mp, uint32_t agno,
			      struct kvfs_inobt_rec *r, struct kvfs_agi *agi)
{
	const struct kvfs_geom *g = &mp->g;
	struct kv_buf *bp;
	uint32_t root;

	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
			     1, &kvfs_agi_buf_ops, &bp),
		 0);
	memcpy(agi, bp->b_addr, sizeof(*agi));
	kv_buf_rele(bp);
	CHECK_EQ(agi->ino_level, 0);
	root = kv_le32_to_cpu(agi->ino_root);
	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, agno, root), 1,
			     &kvfs_inobt_buf_ops, &bp),
		 0);
	memcpy(r, kvfs_btree_rec(bp->b_addr, &kvfs_inobt_ops, 0), sizeof(*r));
	kv_buf_rele(bp);
}

/*
 * The first chunk agrees with its inodes: every inode marked free has
 * mode 0 and every other one a mode, the header's and the AG's free
 * counts are the mask's.  Returns the free mask.
 */
static inline uint64_t check_chunk(struct kvfs_mount *mp)
{
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_inobt_rec r;
	struct kvfs_agi agi;
	uint64_t mask;

	read_chunk(mp, 0, &r, &agi);
	mask = kv_le64_to_cpu(r.freemask);
	CHECK_EQ(r.freecount, __builtin_popcountll(mask));
	CHECK_EQ(kv_le32_to_cpu(agi.ifree), __builtin_popcountll(mask));
	CHECK_EQ(kv_le32_to_cpu(agi.icount), KVFS_INODES_PER_CHUNK);
	if (mp->pag[0].agi_init)
		CHECK_EQ(mp->pag[0].ifree, __builtin_popcountll(mask));
	for (unsigned i = 0; i < KVFS_INODES_PER_CHUNK; i++) {
		struct kvfs_inode *ip;
		uint64_t ino =
			kvfs_agino_to_ino(g, 0, kv_le32_to_cpu(r.startino) + i);

		CHECK_EQ(kvfs_iget(mp, ino, KVFS_IGET_FREE, &ip), 0);
		if (!!ip->i_mode == !!(mask >> i & 1)) {
			fprintf(stderr, "inode %llu mode 0%o, free bit %d\n",
				(unsigned long long)ino, ip->i_mode,
				(int)(mask >> i & 1));
			exit(1);
		}
		kvfs_iput(ip);
	}
	return mask;
}

#endif
