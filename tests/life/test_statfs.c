// SPDX-License-Identifier: GPL-2.0
/*
 * statfs's inode counts (fs/kvfs_fs.c kvfs_statfs(), mp->icount and
 * ifree) against what the AG inode headers say, on a 2-AG filesystem:
 *
 * counts: after creates in both AGs (new chunks), unlinks (chunks freed)
 * and across a remount read-write, read-only and keeping the orphans:
 * files and ffree less the inodes new chunks could hold equal the
 * headers' icount and ifree.
 *
 * cancelled: a new chunk's first inode allocated in AG 1 and the
 * transaction cancelled (dirty: the log shuts down): statfs says what it
 * said before, as the headers on the image do after recovery.  Before,
 * statfs counted the AGs' in-core counts, which the allocation had moved
 * (files 64 more).
 *
 * damaged: AG 1's inode header damaged (crc): the mount goes on without
 * its unlinked lists (fs/inode/iunlink.c), statfs answers the same
 * figures (the superblock's summary counts AG 1), read-write and
 * read-only.  Before, it failed with -EUCLEAN.
 */
#include <fcntl.h>
#include <stddef.h>
#include <sys/stat.h>

#include "fs/format/ag.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/io/buf_ops.h"
#include "fs/kvfs.h"
#include "fs/trans/trans.h"
#include "tests/agi_util.h"
#include "tests/life/life.h"

#define NFILES 400

static const struct kvfs_cred cr = { 0 };

static struct kvfs_mount *open_fs(bool rdonly)
{
	struct kvfs_open_opts o = { .rdonly = rdonly };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	return mp;
}

/* statfs's counts less what new chunks could hold. */
static void statfs_counts(struct kvfs_mount *mp, struct kvfs_statfs *st,
			  uint64_t *icount, uint64_t *ifree)
{
	uint64_t newinos;

	CHECK_EQ(kvfs_statfs(mp, st), 0);
	newinos = st->bfree / mp->g.ialloc_blocks * mp->g.ialloc_inos;
	CHECK(st->files >= newinos && st->ffree >= newinos);
	*icount = st->files - newinos;
	*ifree = st->ffree - newinos;
}

static void check_counts(struct kvfs_mount *mp)
{
	uint64_t ai, af, si, sf;
	struct kvfs_statfs st;

	agi_counts(mp, &ai, &af);
	statfs_counts(mp, &st, &si, &sf);
	CHECK_EQ(si, ai);
	CHECK_EQ(sf, af);
}

static void name_of(char *buf, size_t len, int i)
{
	snprintf(buf, len, "f%d", i);
}

/* A new directory of AG 1 (they go round the AGs): its files are there. */
static uint64_t mkdir_ag1(struct kvfs_mount *mp)
{
	struct kvfs_stat dst;
	char name[32];

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), name, 0755, &cr,
				    &dst),
			 0);
		if (kvfs_ino_to_agno(&mp->g, dst.ino) == 1)
			return dst.ino;
	}
	CHECK(!"no directory in AG 1");
	return 0;
}

static void test_counts(void)
{
	struct kvfs_mount_opts mo = { .no_log_threads = true,
				      .keep_orphans = true };
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	uint64_t dir, i0, f0;
	char name[32];
	bool created;
	int i;

	make_fs_ags(2);
	mp = open_fs(false);
	check_counts(mp);
	dir = mkdir_ag1(mp);
	for (i = 0; i < NFILES; i++) {
		name_of(name, sizeof(name), i);
		CHECK_EQ(kvfs_create(mp, i % 2 ? dir : kvfs_root_ino(mp), name,
				     0100644, 0, KVFS_CREATE_EXCL, &cr, &st,
				     &created),
			 0);
	}
	check_counts(mp);
	statfs_counts(mp, &s0, &i0, &f0);
	CHECK(i0 >= NFILES + 3);
	for (i = 0; i < NFILES; i += 1 + (i % 7 == 0))
		CHECK_EQ(kvfs_unlink(mp, i % 2 ? dir : kvfs_root_ino(mp),
				     (name_of(name, sizeof(name), i), name)),
			 0);
	check_counts(mp);
	statfs_counts(mp, &s1, &i0, &f0);
	/* chunks were freed with their last inode */
	CHECK(s1.files - s1.ffree < s0.files - s0.ffree);
	CHECK_EQ(kvfs_close(mp), 0);

	mp = open_fs(false);
	check_counts(mp);
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	CHECK_EQ(s0.files, s1.files);
	CHECK_EQ(s0.ffree, s1.ffree);
	CHECK_EQ(kvfs_close(mp), 0);

	mp = open_fs(true);
	check_counts(mp);
	CHECK_EQ(kvfs_close(mp), 0);

	CHECK_EQ(kvfs_mount_open(path, &mo, &mp), 0);
	check_counts(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

static void test_cancelled(void)
{
	struct kvfs_icreate_args a = { .mode = 0100644, .nlink = 1 };
	uint64_t i0, f0, i1, f1, parent;
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	make_fs_ags(2);
	mp = open_fs(false);
	statfs_counts(mp, &s0, &i0, &f0);
	/* AG 1 has no chunk: the allocation makes one there */
	parent = kvfs_agino_to_ino(
		&mp->g, 1, kvfs_agbno_to_agino(&mp->g, KVFS_AG_HDR_BLOCKS));
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, parent, &a, &ip), 0);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, ip->i_ino), 1);
	CHECK_EQ(mp->pag[1].icount, KVFS_INODES_PER_CHUNK);
	kvfs_trans_cancel(tp);
	kvfs_iput(ip);
	statfs_counts(mp, &s1, &i1, &f1);
	CHECK_EQ(i1, i0);
	CHECK_EQ(f1, f0);
	CHECK_EQ(s1.files, s0.files);
	CHECK_EQ(s1.ffree, s0.ffree);
	CHECK(kvfs_close(mp) != 0);

	mp = open_fs(false);
	check_counts(mp);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.files, s0.files);
	CHECK_EQ(s1.ffree, s0.ffree);
	CHECK_EQ(kvfs_close(mp), 0);
}

/* Add one to AG 1's inode header's icount on the image: its crc fails. */
static void damage_agi1(const struct kvfs_geom *g)
{
	off_t off =
		(off_t)kvfs_agb_to_fsb(g, 1, KVFS_AGI_AGBNO) * g->blocksize +
		offsetof(struct kvfs_agi, icount);
	int fd = open(path, O_RDWR);
	uint8_t b;

	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, &b, 1, off), 1);
	b++;
	CHECK_EQ(pwrite(fd, &b, 1, off), 1);
	CHECK_EQ(close(fd), 0);
}

static void test_damaged(void)
{
	struct kvfs_open_info info;
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t dir;
	bool created;
	char name[32];

	make_fs_ags(2);
	mp = open_fs(false);
	dir = mkdir_ag1(mp);
	for (int i = 0; i < 100; i++) {
		name_of(name, sizeof(name), i);
		CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
	}
	CHECK_EQ(kvfs_statfs(mp, &s0), 0);
	g = mp->g;
	CHECK_EQ(kvfs_close(mp), 0);
	damage_agi1(&g);

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(info.lists_unread, 1);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.files, s0.files);
	CHECK_EQ(s1.ffree, s0.ffree);
	/* a new file lands in AG 0, and is counted */
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "new", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, st.ino), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.files - s1.ffree, s0.files - s0.ffree + 1);
	CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "new"), 0);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.files - s1.ffree, s0.files - s0.ffree);
	kvfs_close(mp);

	mp = open_fs(true);
	CHECK_EQ(kvfs_statfs(mp, &s1), 0);
	CHECK_EQ(s1.files, s0.files);
	CHECK_EQ(s1.ffree, s0.ffree);
	CHECK_EQ(kvfs_close(mp), 0);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("statfs");
	test_counts();
	test_cancelled();
	test_damaged();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
