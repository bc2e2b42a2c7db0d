// SPDX-License-Identifier: GPL-2.0
/*
 * The AIL's write-back of files made and removed (fs/inode/inode_item.c
 * ili_push(), journal/ail.c): NFILES empty files, ten whole inode chunks,
 * are made and written back; then all are removed, which frees their
 * chunks, and the log is forced.  The write-back that follows writes none
 * of the freed clusters (stale: their inodes' items and the clusters'
 * cancels have nothing to write), only the directory and the AG's
 * headers and trees, and both write-backs flush the device once (one
 * pass; a flush after every 256 items made three).  Before, two threads
 * unlinking the files they had made wrote back every cluster, to be
 * freed a moment later, and flushed after every 256 items.
 */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/io/buf.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "tests/check.h"

#define NFILES 640

static const struct kvfs_cred cr = { 0 };

struct counts {
	uint64_t writes, flushes;
};

static struct counts counts(struct kvfs_mount *mp)
{
	struct kv_bcache_stats bs;

	kv_bcache_get_stats(mp->bc, &bs);
	return (struct counts){ bs.writes, atomic_load(&mp->lio.flushes) };
}

/* Everything logged made durable, then written back: what it took. */
static struct counts write_back(struct kvfs_mount *mp)
{
	struct counts a, b;

	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	a = counts(mp);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	b = counts(mp);
	return (struct counts){ b.writes - a.writes, b.flushes - a.flushes };
}

int main(void)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kvfs_open_opts oo = { .commit_ms = 3600 * 1000 };
	struct kvfs_mkfs_opts o = { .size = 64 << 20,
				    .agcount = 2,
				    .force = true };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct counts made, freed;
	struct kvfs_geom g;
	char path[256], name[32];
	uint64_t d;
	bool created;
	int i;

	CHECK_EQ(kv_init(NULL), 0);
	snprintf(path, sizeof(path), "%s/kvfs-ifree-wb-%d.img", dir,
		 (int)getpid());
	o.target = path;
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, &info), 0);
	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 040755, &cr, &st), 0);
	d = st.ino;
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
	}
	made = write_back(mp);
	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_unlink(mp, d, name), 0);
	}
	freed = write_back(mp);
	fprintf(stderr,
		"test_ifree_writeback: made: %llu writes, %llu flushes; "
		"freed: %llu writes, %llu flushes\n",
		(unsigned long long)made.writes,
		(unsigned long long)made.flushes,
		(unsigned long long)freed.writes,
		(unsigned long long)freed.flushes);
	/* the clusters: NFILES / 8 inodes a 4 KiB block, written once */
	CHECK(made.writes >= NFILES / 8);
	CHECK(freed.writes < NFILES / 8 / 2);
	CHECK_EQ(made.flushes, 1);
	CHECK_EQ(freed.flushes, 1);
	CHECK_EQ(kvfs_close(mp), 0);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
