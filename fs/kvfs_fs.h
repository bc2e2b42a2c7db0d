/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the implementations of fs/kvfs.h (the filesystem
 * part is fs/kvfs_fs.c: open, close, sync, statfs, getattr, open
 * references, O_TMPFILE).
 */
#ifndef KV_FS_KVFS_FS_H
#define KV_FS_KVFS_FS_H

#include <stdint.h>

#include "fs/kvfs.h"

struct kvfs_inode;
struct kvfs_mount;

/*
 * ip's attributes into st; the caller holds ip's inode lock (shared), or
 * reads under kvfs_icache_read() (_read: its callback, st a struct
 * kvfs_stat).
 */
void kvfs_inode_stat(const struct kvfs_inode *ip, struct kvfs_stat *st);
void kvfs_inode_stat_read(const struct kvfs_inode *ip, void *st);

/*
 * What a sync mount (kvfs_open_opts.sync) asks after a commit of sequence
 * seq: the log forced up to it; 0 otherwise or when done.
 */
int kvfs_sync_commit(struct kvfs_mount *mp, uint64_t seq);

#endif
