// SPDX-License-Identifier: GPL-2.0
/*
 * The inode lifecycle through the public API (fs/kvfs_fs.c,
 * fs/inode/inactive.c):
 *  - 3000 tmpfiles made and closed one by one, then 2000 held open at
 *    once (new inode chunks) and closed: getattr exact while open (no links,
 *    the caller's owner), -ENOENT once closed, statfs back to its figures
 *    (used inodes, free blocks: the new chunks freed), scrub clean;
 *  - an open unlinked file holding blocks survives a second open's close
 *    and goes (blocks back) at its last; a stale generation is -ESTALE;
 *  - an S_ISGID directory gives a tmpfile its group;
 *  - a power cut with 60 open unlinked files holding blocks: the next
 *    kvfs_open() reports them as orphans, every block and inode is back,
 *    scrub clean;
 *  - 4 threads making tmpfiles and closing them out of order (inodes
 *    leaving list middles while their neighbours go): counts back, scrub
 *    clean;
 *  - kvfs_open() of something that is not kvfs: -ENODATA and a reason.
 */
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/data/bmap.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inode_item.h"
#include "fs/ns/dir.h"
#include "fs/kvfs.h"
#include "fs/trans/trans.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define NSEQ 3000
#define NOPEN 2000
#define NCRASH 60

static const struct kvfs_cred user = { .uid = 1000, .gid = 100 };
static uint64_t inos[NOPEN];

static struct kvfs_mount *open_fs(struct kvfs_open_info *info)
{
	struct kvfs_open_opts o = { 0 };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, &o, &mp, info), 0);
	return mp;
}

static uint64_t used_inodes(struct kvfs_mount *mp, struct kvfs_statfs *st)
{
	CHECK_EQ(kvfs_statfs(mp, st), 0);
	CHECK(st->files >= st->ffree);
	return st->files - st->ffree;
}

static uint64_t new_tmpfile(struct kvfs_mount *mp, uint64_t dir)
{
	struct kvfs_stat st, st2;

	CHECK_EQ(kvfs_tmpfile(mp, dir, 0640, &user, &st), 0);
	CHECK_EQ(st.mode, S_IFREG | 0640);
	CHECK_EQ(st.nlink, 0);
	CHECK_EQ(st.uid, user.uid);
	CHECK_EQ(st.size, 0);
	CHECK_EQ(kvfs_getattr(mp, st.ino, &st2), 0);
	CHECK_EQ(st2.generation, st.generation);
	CHECK_EQ(st2.nlink, 0);
	return st.ino;
}

/* A directory (nlink 2) of mode and group, made below the API. */
static uint64_t make_dir(struct kvfs_mount *mp, uint64_t near, uint32_t mode,
			 uint32_t gid)
{
	const struct kvfs_cred root = { .uid = 0, .gid = gid };
	struct kvfs_inode *dp, *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_iget(mp, near, 0, &dp), 0);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, dp, S_IFDIR | mode, 0, 2, &root, &ip), 0);
	kvfs_dir_init(tp, ip, dp->i_ino);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	ino = ip->i_ino;
	kvfs_iput(ip);
	kvfs_iput(dp);
	return ino;
}

/* nblk blocks into ino as 2-block extents on alternate ranges. */
static void give_blocks(struct kvfs_mount *mp, uint64_t ino, uint32_t nblk)
{
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	for (uint32_t b = 0; b < nblk; b += 2) {
		struct kvfs_bmap map[2];
		struct kvfs_trans *tp;
		int nmap = 2;

		CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.write, 2, &tp), 0);
		kvfs_ilock(ip, KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
		CHECK_EQ(kvfs_bmapi_write(tp, ip, 3ull * b / 2, 2, 0, map,
					  &nmap),
			 0);
		ip->i_size = (3ull * b / 2 + 2) << mp->g.blocklog;
		kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	}
	CHECK_EQ(ip->i_nblocks, nblk);
	kvfs_iput(ip);
}

static void test_many(void)
{
	struct kvfs_statfs s0, s1, s2;
	struct kvfs_stat st;
	struct kvfs_mount *mp = open_fs(NULL);
	uint64_t used0, root = kvfs_root_ino(mp), dir1;

	CHECK_EQ(kvfs_getattr(mp, root, &st), 0);
	CHECK(S_ISDIR(st.mode));
	used0 = used_inodes(mp, &s0);
	CHECK_EQ(s0.bsize, mp->g.blocksize);
	CHECK_EQ(s0.namemax, 255);
	CHECK(s0.bfree > 0 && s0.bfree <= s0.blocks);

	/* one at a time: the same free inode again and again */
	for (int i = 0; i < NSEQ; i++) {
		uint64_t ino = new_tmpfile(mp, root);

		CHECK_EQ(used_inodes(mp, &s1), used0 + 1);
		kvfs_inode_close(mp, ino);
		CHECK_EQ(kvfs_getattr(mp, ino, &st), -ENOENT);
	}
	CHECK_EQ(used_inodes(mp, &s1), used0);
	CHECK_EQ(s1.bfree, s0.bfree);
	CHECK_EQ(s1.ffree, s0.ffree);
	CHECK_EQ(s1.files, s0.files);

	/* all open at once, from two directories: new chunks */
	dir1 = make_dir(mp, root, 0755, 0);
	used0++;
	used_inodes(mp, &s0);
	for (int i = 0; i < NOPEN; i++)
		inos[i] = new_tmpfile(mp, i % 2 ? dir1 : root);
	CHECK_EQ(used_inodes(mp, &s1), used0 + NOPEN);
	CHECK(s1.bfree < s0.bfree);
	for (int i = 0; i < NOPEN; i++)
		kvfs_inode_close(mp, inos[i]);
	for (int i = 0; i < NOPEN; i += 97)
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), -ENOENT);
	/*
	 * The new chunks go with their last inodes (fs/inode/ialloc.h):
	 * used inodes, free blocks and inodes back to their figures before
	 */
	CHECK_EQ(used_inodes(mp, &s2), used0);
	CHECK_EQ(s2.bfree, s0.bfree);
	CHECK_EQ(s2.files, s0.files);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean_unnamed(path);

	/* the counts survive a remount exactly */
	mp = open_fs(NULL);
	CHECK_EQ(used_inodes(mp, &s1), used0);
	CHECK_EQ(s1.bfree, s2.bfree);
	CHECK_EQ(s1.ffree, s2.ffree);
	CHECK_EQ(kvfs_close(mp), 0);
	printf("tmpfile: %d one by one, %d open at once: counts exact\n", NSEQ,
	       NOPEN);
}

static void test_open_unlinked(void)
{
	struct kvfs_mount *mp = open_fs(NULL);
	uint64_t root = kvfs_root_ino(mp), ino, sgid, used0;
	struct kvfs_statfs s0, s1;
	struct kvfs_stat st;

	used0 = used_inodes(mp, &s0);
	ino = new_tmpfile(mp, root);
	give_blocks(mp, ino, 8);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.blocks, 8ull * mp->g.blocksize / 512);
	used_inodes(mp, &s1);
	CHECK_EQ(s1.bfree, s0.bfree - 8);

	/* a second open; a wrong generation is stale */
	CHECK_EQ(kvfs_inode_open(mp, ino, st.generation + 1), -ESTALE);
	CHECK_EQ(kvfs_inode_open(mp, ino, st.generation), 0);
	kvfs_inode_close(mp, ino);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.nlink, 0);
	CHECK_EQ(used_inodes(mp, &s1), used0 + 1);
	/* the last close frees it and its blocks */
	kvfs_inode_close(mp, ino);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), -ENOENT);
	CHECK_EQ(kvfs_inode_open(mp, ino, 0), -ENOENT);
	CHECK_EQ(kvfs_inode_open(mp, ino, st.generation), -ESTALE);
	CHECK_EQ(used_inodes(mp, &s1), used0);
	CHECK_EQ(s1.bfree, s0.bfree);

	/* an S_ISGID directory's group; a tmpfile in a file: -ENOTDIR */
	sgid = make_dir(mp, root, 02775, 4242);
	CHECK_EQ(kvfs_tmpfile(mp, sgid, 0644, &user, &st), 0);
	CHECK_EQ(st.gid, 4242);
	CHECK_EQ(kvfs_tmpfile(mp, st.ino, 0644, &user, &st), -ENOTDIR);
	CHECK_EQ(kvfs_tmpfile(mp, root, S_IFDIR | 0755, &user, &st), -EINVAL);
	kvfs_inode_close(mp, st.ino);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static void test_crash(void)
{
	struct kvfs_open_info info;
	struct kvfs_statfs s0, s1;
	struct kvfs_mount *mp = open_fs(&info);
	uint64_t root = kvfs_root_ino(mp), used0;
	struct kvfs_stat st;

	CHECK(!info.recovered);
	CHECK_EQ(info.orphans, 0);
	used0 = used_inodes(mp, &s0);
	for (int i = 0; i < NCRASH; i++) {
		inos[i] = new_tmpfile(mp, root);
		give_blocks(mp, inos[i], 2 + 2 * (i % 3));
	}
	CHECK_EQ(used_inodes(mp, &s1), used0 + NCRASH);
	CHECK(s1.bfree < s0.bfree);
	CHECK_EQ(kvfs_sync(mp), 0);
	kvfs_mount_shutdown(mp, "test: power cut");
	CHECK_EQ(kvfs_sync(mp), -EIO);
	for (int i = 0; i < NCRASH; i++)
		kvfs_inode_close(mp, inos[i]);
	CHECK_EQ(kvfs_close(mp), -EIO);

	mp = open_fs(&info);
	CHECK(info.recovered);
	CHECK_EQ(info.orphans, NCRASH);
	CHECK_EQ(used_inodes(mp, &s1), used0);
	CHECK_EQ(s1.bfree, s0.bfree);
	CHECK_EQ(s1.ffree, s0.ffree);
	for (int i = 0; i < NCRASH; i++)
		CHECK_EQ(kvfs_getattr(mp, inos[i], &st), -ENOENT);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean_unnamed(path);
	printf("tmpfile: a crash with %d open unlinked files: %d orphans "
	       "freed, every block back\n",
	       NCRASH, NCRASH);
}

#define NTHREADS 4
#define PER_THREAD 400

static struct kvfs_mount *conc_mp;

/*
 * Each thread keeps up to 8 tmpfiles open and closes them out of order,
 * so that inodes leave the middles of lists whose neighbours other
 * threads are freeing at the same time.
 */
static void *conc_worker(void *arg)
{
	uint64_t held[8] = { 0 };
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < PER_THREAD; i++) {
		unsigned slot = (unsigned)rand_r(&seed) % 8;
		struct kvfs_stat st;

		if (held[slot])
			kvfs_inode_close(conc_mp, held[slot]);
		CHECK_EQ(kvfs_tmpfile(conc_mp, kvfs_root_ino(conc_mp), 0600,
				      &user, &st),
			 0);
		held[slot] = st.ino;
	}
	for (int i = 0; i < 8; i++)
		if (held[i])
			kvfs_inode_close(conc_mp, held[i]);
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t t[NTHREADS];
	struct kvfs_statfs s0, s1;
	uint64_t used0;

	conc_mp = open_fs(NULL);
	used0 = used_inodes(conc_mp, &s0);
	for (uintptr_t i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, conc_worker,
					(void *)(i + 1)),
			 0);
	for (int i = 0; i < NTHREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	CHECK_EQ(used_inodes(conc_mp, &s1), used0);
	/* new chunks may have come from free space; nothing else */
	CHECK(s1.bfree <= s0.bfree);
	CHECK_EQ(kvfs_close(conc_mp), 0);
	scrub_image_clean_unnamed(path);
	printf("tmpfile: %d threads, %d tmpfiles each closed out of order: "
	       "counts exact, scrub clean\n",
	       NTHREADS, PER_THREAD);
}

static void test_not_kvfs(void)
{
	struct kvfs_mount *mp;
	char junk[sizeof(path) + 8];
	FILE *f;

	snprintf(junk, sizeof(junk), "%s.junk", path);
	f = fopen(junk, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 1 << 16; i++)
		fputc(i & 0xff, f);
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(kvfs_open(junk, NULL, &mp, NULL), -ENODATA);
	CHECK(kvfs_open_error()[0] != 0);
	unlink(junk);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("tmpfile");
	make_fs_ags(2);
	test_many();
	test_open_unlinked();
	test_crash();
	test_concurrent();
	test_not_kvfs();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
