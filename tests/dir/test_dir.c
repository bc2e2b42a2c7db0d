// SPDX-License-Identifier: GPL-2.0
/*
 * The directory layer (fs/ns/dir.h) against an in-memory model:
 *  - random creates and removes of names of every length, with lookups of
 *    present and absent names and full readdirs (whole, and in pages of a
 *    few entries) after every batch: each present name exactly once, no
 *    other, the cookies increasing and below 2^63; the directory goes
 *    short form -> blocks -> many blocks -> short form on the way;
 *  - readdir in pages with inserts and removes between the pages: every
 *    name present throughout is returned exactly once, nothing twice
 *    but a name removed and added again (a new entry), nothing that was
 *    never there;
 *  - growth to N entries (100 000; 30 000 under the sanitizers) and back:
 *    every lookup answers, one readdir returns them all once, the blocks
 *    read by a cold lookup (after a remount) and a warm one, every entry
 *    removed and the directory short form again with no blocks left;
 *  - names whose hashes collide (found by a birthday search): all found,
 *    each removable on its own;
 *  - 16 KiB directory blocks (multi-block buffers) for the model too;
 *  - a directory whose blocks are scattered (its fork an extent B+tree)
 *    grown, looked up, read and emptied back to short form;
 *  - a data block freed out of the middle of the directory and mapped
 *    again elsewhere (the directory's remembered block addresses must not
 *    send a lookup to where it was): the names that left are gone, the
 *    new ones found;
 *  - removals with no block at all (a full filesystem, the blocks kept
 *    for removals gone too) succeed, leaving free-space index records
 *    behind that the blocks' next changes move;
 *  - the image passes the checker (fs/check/scrub.h, which verifies the blocks,
 *    both indexes against the entries and claims the blocks) after each.
 */
#include <sys/stat.h>

#include "fs/data/bmap.h"
#include "fs/data/file.h"
#include "fs/ns/dir.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/io/buf_ops.h"
#include "fs/trans/trans.h"
#include "journal/errortag.h"
#include "tests/dir/dirtest.h"

#if defined(__SANITIZE_ADDRESS__)
#define BIG_N 30000
#else
#define BIG_N 100000
#endif

static unsigned seed = 12345;

static unsigned rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 8;
}

/* One entry change in its own transaction. */
static int dir_op(struct kvfs_mount *mp, struct kvfs_inode *dp, bool add,
		  const char *name, uint64_t ino)
{
	struct kvfs_trans *tp;
	int err;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.dirop, 0, &tp), 0);
	kvfs_ilock(dp, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, dp), 0);
	err = add ? kvfs_dir_createname(tp, dp, name, strlen(name), ino,
					KVFS_FT_REG) :
		    kvfs_dir_removename(tp, dp, name, strlen(name), ino);
	if (err)
		kvfs_trans_cancel(tp);
	else
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return err;
}

static int dir_lookup(struct kvfs_inode *dp, const char *name, uint64_t *ino)
{
	uint8_t ft;
	int err;

	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = kvfs_dir_lookup(dp, name, strlen(name), ino, &ft);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	return err;
}

/* readdir from cookie in pages of page entries (0: one call). */
static void read_all(struct kvfs_mount *mp, uint64_t dir, size_t page,
		     struct dlist *out)
{
	uint64_t cookie = 0;

	out->n = 0;
	for (;;) {
		struct dlist l = { .limit = page };

		CHECK_EQ(kvfs_readdir(mp, dir, cookie, dlist_fill, &l), 0);
		for (size_t i = 0; i < l.n; i++) {
			CHECK(l.v[i].next > cookie);
			cookie = l.v[i].next;
			dlist_fill(out, l.v[i].name, strlen(l.v[i].name),
				   l.v[i].ino, l.v[i].dtype, l.v[i].next);
		}
		free(l.v);
		if (!page || l.n < page)
			break;
	}
}

#define POOL 3000

static char *pool[POOL];

static void make_pool(void)
{
	for (int i = 0; i < POOL; i++) {
		/* lengths 6 .. 255, most short */
		size_t len = 6 + (rnd() % 8 ? rnd() % 20 : rnd() % 250);
		char *s = malloc(len + 1);

		CHECK(s);
		snprintf(s, len + 1, "n%05d", i);
		for (size_t j = 6; j < len; j++)
			s[j] = (char)('a' + rnd() % 26);
		s[len] = '\0';
		pool[i] = s;
	}
}

static int pool_index(const char *name)
{
	return atoi(name + 1);
}

/* readdir returns exactly the present names, once each */
static void check_listing(struct kvfs_mount *mp, uint64_t dir,
			  const bool *present, size_t page)
{
	static unsigned char seen[POOL];
	struct dlist l = { 0 };
	unsigned npresent = 0;

	memset(seen, 0, sizeof(seen));
	read_all(mp, dir, page, &l);
	CHECK(l.n >= 2);
	CHECK(!strcmp(l.v[0].name, ".") && l.v[0].ino == dir);
	CHECK(!strcmp(l.v[1].name, ".."));
	for (size_t i = 2; i < l.n; i++) {
		int k = pool_index(l.v[i].name);

		CHECK(k >= 0 && k < POOL && !strcmp(l.v[i].name, pool[k]));
		CHECK(present[k]);
		CHECK(!seen[k]);
		seen[k] = 1;
		CHECK(i == 2 || l.v[i].next > l.v[i - 1].next);
	}
	for (int k = 0; k < POOL; k++)
		npresent += present[k];
	CHECK_EQ(l.n - 2, npresent);
	free(l.v);
}

static struct kvfs_inode *new_dir(struct kvfs_mount *mp, const char *name)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_inode *dp;
	struct kvfs_stat st;

	CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, name, 0755, &cr, &st), 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &dp), 0);
	return dp;
}

static void test_model(uint32_t dirblksize, unsigned nops)
{
	static bool present[POOL];
	struct kvfs_dir_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	uint64_t ino, target;
	unsigned adds = 0, removes = 0;

	memset(present, 0, sizeof(present));
	make_fs(256 << 20, dirblksize);
	mp = mount_fs();
	kvfs_dir_get_stats(&s0);
	dp = new_dir(mp, "model");
	target = mp->g.lpfino;
	for (unsigned op = 0; op < nops; op++) {
		/* phases: grow to most of the pool, then shrink to nothing */
		unsigned phase = op / (nops / 4) % 2;
		int k = (int)(rnd() % POOL);
		bool add = phase == 0 ? rnd() % 4 != 0 : rnd() % 4 == 0;
		int err = dir_op(mp, dp, add, pool[k], target);

		if (add) {
			CHECK_EQ(err, present[k] ? -EEXIST : 0);
			adds += !present[k];
			present[k] = true;
		} else {
			CHECK_EQ(err, present[k] ? 0 : -ENOENT);
			removes += present[k];
			present[k] = false;
		}
		if (op % 97 == 0) {
			int j = (int)(rnd() % POOL);

			CHECK_EQ(dir_lookup(dp, pool[j], &ino),
				 present[j] ? 0 : -ENOENT);
			if (present[j])
				CHECK_EQ(ino, target);
		}
		if (op % 1500 == 0) {
			check_listing(mp, dp->i_ino, present, 0);
			check_listing(mp, dp->i_ino, present, 1 + rnd() % 9);
		}
		if (op % (nops / 8) == nops / 8 - 1) {
			/* the checker on the blocks, holes, indexes as they are */
			uint64_t dino = dp->i_ino;

			kvfs_iput(dp);
			CHECK_EQ(kvfs_mount_close(mp), 0);
			scrub_image_clean_unnamed(path);
			mp = mount_fs();
			CHECK_EQ(kvfs_iget(mp, dino, 0, &dp), 0);
		}
	}
	/* every name out: back to short form, no blocks */
	for (int k = 0; k < POOL; k++)
		if (present[k]) {
			CHECK_EQ(dir_op(mp, dp, false, pool[k], target), 0);
			present[k] = false;
		}
	check_listing(mp, dp->i_ino, present, 0);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(dp->i_nblocks, 0);
	CHECK(kvfs_dir_isempty(dp));
	kvfs_dir_get_stats(&s1);
	CHECK(s1.to_block > s0.to_block);
	CHECK(s1.to_sf > s0.to_sf);
	CHECK(s1.blocks_added - s0.blocks_added > 4);
	CHECK_EQ(s1.blocks_added - s0.blocks_added,
		 s1.blocks_freed - s0.blocks_freed);
	printf("dir model (%u-byte blocks): %u ops, %u adds, %u removes, "
	       "%llu to blocks, %llu back, %llu blocks added and freed\n",
	       mp->g.dirblksize, nops, adds, removes,
	       (unsigned long long)(s1.to_block - s0.to_block),
	       (unsigned long long)(s1.to_sf - s0.to_sf),
	       (unsigned long long)(s1.blocks_added - s0.blocks_added));
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/* Pages of readdir with inserts and removes between them. */
static void test_interleave(void)
{
	static bool present[POOL], always[POOL];
	static unsigned char seen[POOL], ever[POOL];
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	uint64_t target;
	unsigned rounds = 0, changed = 0;

	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "inter");
	target = mp->g.lpfino;
	memset(present, 0, sizeof(present));
	for (int k = 0; k < POOL; k += 2) {
		CHECK_EQ(dir_op(mp, dp, true, pool[k], target), 0);
		present[k] = true;
	}
	for (int round = 0; round < 6; round++) {
		uint64_t cookie = 0;

		memcpy(always, present, sizeof(present));
		memcpy(ever, present, sizeof(present));
		memset(seen, 0, sizeof(seen));
		for (;;) {
			struct dlist l = { .limit = 5 + rnd() % 40 };

			CHECK_EQ(kvfs_readdir(mp, dp->i_ino, cookie, dlist_fill,
					      &l),
				 0);
			for (size_t i = 0; i < l.n; i++) {
				int k;

				cookie = l.v[i].next;
				if (!strcmp(l.v[i].name, ".") ||
				    !strcmp(l.v[i].name, ".."))
					continue;
				k = pool_index(l.v[i].name);
				CHECK(ever[k]);
				/* twice only if removed and added again */
				CHECK(!seen[k] || !always[k]);
				seen[k] = 1;
			}
			if (l.n < l.limit) {
				free(l.v);
				break;
			}
			free(l.v);
			/* changes around the cursor */
			for (int c = 0; c < 20; c++) {
				int k = (int)(rnd() % POOL);
				bool add = !present[k];

				CHECK_EQ(dir_op(mp, dp, add, pool[k], target),
					 0);
				present[k] = add;
				if (add)
					ever[k] = 1;
				else
					always[k] = false;
				changed++;
			}
		}
		for (int k = 0; k < POOL; k++)
			if (always[k])
				CHECK(seen[k]);
		rounds++;
	}
	printf("dir interleave: %u readdir passes with %u changes between "
	       "pages: every entry present throughout returned once\n",
	       rounds, changed);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

static void big_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "file-%07u-%s", i,
		 i % 3 ? "x" : "with-a-longer-tail");
}

static uint64_t reads(struct kvfs_mount *mp)
{
	struct kv_bcache_stats st;

	kv_bcache_get_stats(mp->bc, &st);
	return st.reads;
}

static void test_big(unsigned n)
{
	struct kvfs_dir_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct dlist l = { 0 };
	uint64_t target, dino, ino, r0, cold, warm;
	unsigned char *seen = calloc(n, 1);
	char name[64];

	CHECK(seen);
	make_fs(512 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "big");
	dino = dp->i_ino;
	target = mp->g.lpfino;
	kvfs_dir_get_stats(&s0);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
	}
	kvfs_dir_get_stats(&s1);
	for (unsigned i = 0; i < n; i += 7) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_lookup(dp, name, &ino), 0);
		CHECK_EQ(ino, target);
	}
	CHECK_EQ(dir_lookup(dp, "file-absent", &ino), -ENOENT);
	read_all(mp, dino, 0, &l);
	CHECK_EQ(l.n, (size_t)n + 2);
	for (size_t i = 2; i < l.n; i++) {
		unsigned k = (unsigned)atoi(l.v[i].name + 5);

		CHECK(k < n && !seen[k]);
		seen[k] = 1;
	}
	free(l.v);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);

	/* cold and warm lookups: blocks read */
	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, dino, 0, &dp), 0);
	big_name(name, sizeof(name), n / 2);
	r0 = reads(mp);
	CHECK_EQ(dir_lookup(dp, name, &ino), 0);
	cold = reads(mp) - r0;
	r0 = reads(mp);
	CHECK_EQ(dir_lookup(dp, name, &ino), 0);
	warm = reads(mp) - r0;
	/* head + one block per hash level + data block; warm: none */
	CHECK(cold >= 3 && cold <= 1 + mp->resv.dir_maxlevels + 1);
	CHECK_EQ(warm, 0);
	printf("dir big: %u entries in %llu data blocks (%u-byte), cold lookup "
	       "%llu block reads, warm %llu\n",
	       n, (unsigned long long)(s1.blocks_added - s0.blocks_added),
	       mp->g.dirblksize, (unsigned long long)cold,
	       (unsigned long long)warm);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_op(mp, dp, false, name, target), 0);
	}
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(dp->i_nblocks, 0);
	CHECK_EQ(dp->i_size, KVFS_DIR_SF_HDR_SIZE);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	free(seen);
}

/*
 * A directory whose blocks are scattered (a spacer file takes the block
 * after each new one, as new inodes' chunks do when files are created in
 * it) outgrows the in-inode extent list: its data fork becomes an extent
 * B+tree, and it stays a directory (it once failed every operation with
 * EUCLEAN there), shrinking back to short form.
 */
static void test_scattered(void)
{
	struct kvfs_dir_stats s0, s1;
	const struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	struct dlist l = { 0 };
	uint64_t target, ino, spacer, off = 0;
	unsigned n = 0;
	char name[64];

	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "scattered");
	target = mp->g.lpfino;
	CHECK_EQ(kvfs_tmpfile(mp, mp->g.rootino, 0100600, &cr, &st), 0);
	spacer = st.ino;
	while (dp->i_dformat != KVFS_DFORK_BTREE || n % 64) {
		kvfs_dir_get_stats(&s0);
		big_name(name, sizeof(name), n++);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
		kvfs_dir_get_stats(&s1);
		if (s1.blocks_added != s0.blocks_added || n % 16 == 0) {
			CHECK_EQ(
				kvfs_fallocate(mp, spacer, 0, (off_t)off, 4096),
				0);
			off += 8192;
		}
		CHECK(n < 200000);
	}
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_lookup(dp, name, &ino), 0);
		CHECK_EQ(ino, target);
	}
	read_all(mp, dp->i_ino, 7, &l);
	CHECK_EQ(l.n, (size_t)n + 2);
	free(l.v);
	kvfs_iput(dp);
	kvfs_inode_close(mp, spacer);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	/* the raw entries all name lost+found: not a namespace */
	scrub_image_clean_unnamed(path);
	mp = mount_fs();
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "scattered", &st), 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &dp), 0);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_BTREE);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_op(mp, dp, false, name, target), 0);
	}
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(dp->i_nblocks, 0);
	printf("dir scattered: %u entries in an extent B+tree fork and back "
	       "to short form\n",
	       n);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

/* Data block of name's entry in dp (block form). */
static uint32_t dblk_of(struct kvfs_inode *dp, const char *name)
{
	uint64_t cookie, fsb;
	uint32_t off;

	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name), &cookie, &fsb, &off),
		 0);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	return (uint32_t)(cookie * 8 >> dp->i_mount->g.dirblklog);
}

static void test_remap(void)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_dir_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	uint64_t target, ino, spacer, fsb0, fsb1, cookie, foff = 0;
	unsigned n = 0, extra = 0, gone = 0, nextents;
	uint32_t off;
	char name[64];

	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "remap");
	target = mp->g.lpfino;
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "remap-spacer", 0100600, 0,
			     KVFS_CREATE_EXCL, &cr, &st, NULL),
		 0);
	spacer = st.ino;
	/* each data block its own extent: a file's block after each */
	while (dp->i_size < 4ull * mp->g.dirblksize) {
		kvfs_dir_get_stats(&s0);
		big_name(name, sizeof(name), n++);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
		kvfs_dir_get_stats(&s1);
		if (s1.blocks_added != s0.blocks_added) {
			CHECK_EQ(kvfs_fallocate(mp, spacer, 0, (off_t)foff,
						4096),
				 0);
			foff += 8192;
		}
	}
	nextents = dp->i_nextents;
	/* a cold directory: its blocks' addresses remembered by lookups */
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	mp = mount_fs();
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "remap", &st), 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(dir_lookup(dp, name, &ino), 0);
	}
	big_name(name, sizeof(name), 0);
	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name), &cookie, &fsb0, &off),
		 0);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	/* empty data block 1: freed, a hole */
	kvfs_dir_get_stats(&s0);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		if (dblk_of(dp, name) != 1)
			continue;
		if (!gone++) {
			kvfs_ilock(dp, KVFS_ILOCK_SHARED);
			CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name),
						 &cookie, &fsb1, &off),
				 0);
			kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
		}
		CHECK_EQ(dir_op(mp, dp, false, name, target), 0);
	}
	kvfs_dir_get_stats(&s1);
	CHECK(gone > 0);
	CHECK_EQ(s1.blocks_freed - s0.blocks_freed, 1);
	CHECK(fsb1 != fsb0);
	/*
	 * Its block taken by a file, then the hole mapped again elsewhere.
	 * The file's hole after its first block (placed right after data
	 * block 0, before data block 1) has the freed block as its goal,
	 * once the free is committed (not busy): under load a log push in
	 * between left it free, and the directory mapped it again at the
	 * same address.
	 */
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_fallocate(mp, spacer, 0, 4096, 4096), 0);
	{
		struct kvfs_inode *sp;
		struct kvfs_bmap m;
		int nm = 1;

		CHECK_EQ(kvfs_iget(mp, spacer, 0, &sp), 0);
		CHECK_EQ(kvfs_file_map(sp, 1, 1, &m, &nm), 0);
		CHECK_EQ(m.startblock, fsb1);
		kvfs_iput(sp);
	}
	while (s1.blocks_added == s0.blocks_added || extra % 8) {
		big_name(name, sizeof(name), n + extra++);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
		kvfs_dir_get_stats(&s1);
		CHECK(extra < 10000);
	}
	CHECK_EQ(dblk_of(dp, name), 1);
	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name), &cookie, &fsb0, &off),
		 0);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	CHECK(fsb0 != fsb1);
	/* the extent count is back where it was: only a drop tells */
	CHECK_EQ(dp->i_nextents, nextents);
	for (unsigned i = 0; i < n + extra; i++) {
		int err;

		big_name(name, sizeof(name), i);
		err = dir_lookup(dp, name, &ino);
		if (i >= n || err != -ENOENT)
			CHECK_EQ(err, 0);
		else
			gone--;
	}
	CHECK_EQ(gone, 0);
	printf("dir remap: data block 1 freed from %llu and mapped again at "
	       "%llu, %u names found\n",
	       (unsigned long long)fsb1, (unsigned long long)fsb0, extra);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * A data block emptied out of the middle of an extent when the extent map
 * has no room for the record the split adds (its list full, and no AG able
 * to give a tree block: tag map_tree_nospc): the removal is whole, the
 * block stays mapped and empty (XFS's xfs_dir2_shrink_inode()), the image
 * is clean, and the directory still shrinks back to short form.  Before,
 * the removal failed with ENOSPC in a dirty transaction: the log shut
 * down.
 */
static void test_split_nospc(void)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_dir_stats s0, s1;
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	uint64_t target, spacer, foff = 0, cookie, fsb[3];
	unsigned n = 0, cap, gone = 0, blk0;
	uint32_t off;
	char name[64];

	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "split");
	target = mp->g.lpfino;
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "split-spacer", 0100600, 0,
			     KVFS_CREATE_EXCL, &cr, &st, NULL),
		 0);
	spacer = st.ino;
	cap = kvfs_inode_dfork_size(dp) / sizeof(struct kvfs_extent);
	/* one extent per data block (a file's block after each), cap - 1 */
	while (dp->i_dformat != KVFS_DFORK_EXTENTS ||
	       dp->i_nextents < cap - 1) {
		kvfs_dir_get_stats(&s0);
		big_name(name, sizeof(name), n++);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
		kvfs_dir_get_stats(&s1);
		if (s1.blocks_added != s0.blocks_added)
			CHECK_EQ(kvfs_fallocate(mp, spacer, 0, (off_t)foff,
						4096),
				 0);
		foff += s1.blocks_added != s0.blocks_added ? 8192 : 0;
		CHECK(n < 100000);
	}
	/* then three blocks in a row: the list's last extent, the cap-th */
	blk0 = (unsigned)(dp->i_size / mp->g.dirblksize);
	while (dp->i_size < (blk0 + 3ull) * mp->g.dirblksize) {
		big_name(name, sizeof(name), n++);
		CHECK_EQ(dir_op(mp, dp, true, name, target), 0);
	}
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(dp->i_nextents, cap);
	for (unsigned k = 0; k < 3; k++) {
		for (unsigned i = n; i-- > 0;) {
			big_name(name, sizeof(name), i);
			if (dblk_of(dp, name) != blk0 + k)
				continue;
			kvfs_ilock(dp, KVFS_ILOCK_SHARED);
			CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name),
						 &cookie, &fsb[k], &off),
				 0);
			kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
			break;
		}
	}
	CHECK_EQ(fsb[1], fsb[0] + mp->g.dirblksize / mp->g.blocksize);
	CHECK_EQ(fsb[2], fsb[1] + mp->g.dirblksize / mp->g.blocksize);
	/* the middle block emptied with no room for the split */
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 0, 1, 0), 0);
	kvfs_dir_get_stats(&s0);
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		if (dblk_of(dp, name) != blk0 + 1)
			continue;
		CHECK_EQ(dir_op(mp, dp, false, name, target), 0);
		gone++;
	}
	kvfs_dir_get_stats(&s1);
	CHECK(kvj_errtag_hits(KVJ_ERRTAG_MAP_TREE_NOSPC) > 0);
	CHECK_EQ(kvj_errtag_set(KVJ_ERRTAG_MAP_TREE_NOSPC, 0, 0, 0), 0);
	CHECK(gone > 0);
	CHECK_EQ(s1.blocks_freed, s0.blocks_freed);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(dp->i_nextents, cap);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	/* the rest removed: the kept block goes too, back to short form */
	mp = mount_fs();
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "split", &st), 0);
	CHECK_EQ(kvfs_iget(mp, st.ino, 0, &dp), 0);
	for (unsigned i = 0; i < n; i++) {
		int err;

		big_name(name, sizeof(name), i);
		err = dir_op(mp, dp, false, name, target);
		CHECK(err == 0 || err == -ENOENT);
	}
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(dp->i_nblocks, 0);
	printf("dir split_nospc: %u names out of the middle of a %u-extent "
	       "list, its block kept, then back to short form\n",
	       gone, cap);
	kvfs_iput(dp);
	kvfs_inode_close(mp, spacer);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * The idxlag of the data block holding name; its address in *fsb, the best
 * its free-space index record carries in *rec (if not NULL).
 */
static uint32_t name_lag(struct kvfs_mount *mp, struct kvfs_inode *dp,
			 const char *name, uint64_t *fsb, uint32_t *rec)
{
	const struct kvfs_dir_data_hdr *h;
	struct kv_buf *bp;
	uint64_t cookie;
	uint32_t off, lag;

	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_dir_locate(dp, name, strlen(name), &cookie, fsb, &off),
		 0);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	CHECK_EQ(kv_buf_read(mp->bc, *fsb, mp->g.dirblksize >> mp->g.blocklog,
			     &kvfs_dir_data_buf_ops, &bp),
		 0);
	h = bp->b_addr;
	lag = kv_le32_to_cpu(h->idxlag);
	if (rec)
		*rec = kv_le32_to_cpu(h->bestfree) - lag;
	kv_buf_rele(bp);
	return lag;
}

/* A new directory of the root holding n empty files of big_name()s. */
static uint64_t files_dir(struct kvfs_mount *mp, const char *dname, unsigned n)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	uint64_t dir;
	char name[64];

	CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, dname, 0755, &cr, &st), 0);
	dir = st.ino;
	for (unsigned i = 0; i < n; i++) {
		big_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, NULL),
			 0);
	}
	return dir;
}

/*
 * Removals with no block at all, the blocks kept for removals gone too
 * (XFS's xfs_remove() retries with resblks 0): unlink, rmdir and a rename
 * over a name succeed; the free-space index records they could not move
 * stay behind, promising less room than there is (idxlag); the checker
 * accepts that, and the blocks' next changes move the records.
 */
static void test_remove_full(void)
{
	const struct kvfs_cred cr = { 0 };
	enum { N = 600 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	int64_t hidden = 0;
	uint64_t dir;
	unsigned lagged = 0, moved = 0;
	char name[64], other[64];
	int err;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	dir = files_dir(mp, "full", N);
	CHECK_EQ(kvfs_mkdir(mp, dir, "sub", 0755, &cr, &st), 0);
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK(dp->i_size >= 4ull * mp->g.dirblksize);
	/* every free block hidden from the counter, given back at the end */
	hidden += atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_create(mp, dir, "one-more", 0100644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, NULL),
		 -ENOSPC);
	for (unsigned i = 0; i + 2 < N; i += 2) {
		hidden += atomic_exchange(&mp->fdblocks, 0);
		big_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	hidden += atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_rmdir(mp, dir, "sub"), 0);
	/* the last even name goes by a rename of the last odd one over it */
	big_name(name, sizeof(name), N - 2);
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "mover", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, NULL),
		 -ENOSPC);
	/* a new name where a data block has room needs no block */
	CHECK_EQ(kvfs_rename(mp, dir, name, dir, "file-9999999-x", 0, &cr), 0);
	CHECK_EQ(kvfs_rename(mp, dir, "file-9999999-x", dir, name, 0, &cr), 0);
	big_name(other, sizeof(other), N - 1);
	hidden += atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_rename(mp, dir, other, dir, name, 0, &cr), 0);
	for (unsigned i = 1, last = 0; i + 1 < N; i += 2) {
		uint64_t fsb;

		if (name_lag(mp, dp, (big_name(name, sizeof(name), i), name),
			     &fsb, NULL) &&
		    fsb != last) {
			lagged++;
			last = fsb;
		}
	}
	CHECK(lagged > 0);
	atomic_fetch_add(&mp->fdblocks, hidden);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	/*
	 * a lagged block's record moves at its next removal, with blocks,
	 * unless it promises room for the longest name already
	 */
	mp = mount_fs();
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	for (unsigned i = 1; i + 3 < N; i += 2) {
		uint64_t fsb, fsb2;
		uint32_t rec, rec2;

		big_name(name, sizeof(name), i);
		big_name(other, sizeof(other), i + 2);
		if (!name_lag(mp, dp, name, &fsb, &rec) ||
		    (name_lag(mp, dp, other, &fsb2, NULL), fsb != fsb2))
			continue;
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		if (rec < KVFS_DIR_DATA_ENTSIZE(KVFS_NAME_MAX)) {
			CHECK_EQ(name_lag(mp, dp, other, &fsb2, NULL), 0);
			moved++;
		} else {
			CHECK(name_lag(mp, dp, other, &fsb2, &rec2) > 0);
			CHECK_EQ(rec2, rec);
		}
	}
	CHECK(moved > 0);
	for (unsigned i = 0; i < N; i++) {
		big_name(name, sizeof(name), i);
		err = kvfs_unlink(mp, dir, name);
		CHECK(err == 0 || err == -ENOENT);
	}
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	printf("dir remove_full: %u names removed with no block at all, %u "
	       "data blocks' index records left behind, %u moved again\n",
	       N / 2, lagged, moved);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * New names with no block at all (XFS's xfs_link() and xfs_rename() retry
 * with resblks 0): a link, a rename to a new name in the same directory
 * and across directories (a directory's too: its ".." and both parents'
 * link counts), into the short form and into a data block with room,
 * work on a full filesystem; a name that needs a block is refused with
 * -ENOSPC and nothing changes (a debug build's trans_short() stops any
 * allocation the prediction missed).
 */
static void test_newname_full(void)
{
	const struct kvfs_cred cr = { 0 };
	enum { N = 300 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	uint64_t dir, small, file, sub, size;
	int64_t hidden;
	unsigned links = 0, sf_links;
	char name[KVFS_NAME_MAX + 1], other[64];
	int err;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	dir = files_dir(mp, "big", N);
	CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, "small", 0755, &cr, &st), 0);
	small = st.ino;
	CHECK_EQ(kvfs_mkdir(mp, dir, "sub", 0755, &cr, &st), 0);
	sub = st.ino;
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "file", 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, NULL),
		 0);
	file = st.ino;
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK(dp->i_size >= 2ull * mp->g.dirblksize);
	hidden = atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_create(mp, dir, "one-more", 0100644, 0, KVFS_CREATE_EXCL,
			     &cr, &st, NULL),
		 -ENOSPC);
	/*
	 * room in the data blocks, made by removals (which need no block):
	 * single holes, and a run of 20 neighbours, room for longest names
	 */
	for (unsigned i = 0; i < N; i++) {
		if (i % 10 && (i < 100 || i >= 120))
			continue;
		big_name(name, sizeof(name), i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
		hidden += atomic_exchange(&mp->fdblocks, 0);
	}
	size = dp->i_size;
	CHECK_EQ(kvfs_link(mp, file, dir, "linked", &st), 0);
	CHECK_EQ(st.nlink, 2u);
	CHECK_EQ(kvfs_link(mp, file, small, "linked", &st), 0);
	CHECK_EQ(st.nlink, 3u);
	big_name(name, sizeof(name), 1);
	CHECK_EQ(kvfs_rename(mp, dir, name, dir, "renamed-here", 0, &cr), 0);
	big_name(name, sizeof(name), 2);
	CHECK_EQ(kvfs_rename(mp, dir, name, small, "moved-out", 0, &cr), 0);
	CHECK_EQ(kvfs_rename(mp, small, "moved-out", dir, "moved-back", 0, &cr),
		 0);
	CHECK_EQ(kvfs_rename(mp, dir, "sub", small, "sub-moved", 0, &cr), 0);
	CHECK_EQ(kvfs_lookup(mp, sub, "..", &st), 0);
	CHECK_EQ(st.ino, small);
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "small", &st), 0);
	CHECK_EQ(st.nlink, 3u);
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "big", &st), 0);
	CHECK_EQ(st.nlink, 2u);
	/* the short form full: refused, nothing changed */
	memset(name, 'n', KVFS_NAME_MAX);
	name[KVFS_NAME_MAX] = '\0';
	for (unsigned i = 0;; i++) {
		name[0] = (char)('a' + i % 26);
		name[1] = (char)('a' + i / 26);
		err = kvfs_link(mp, file, small, name, &st);
		if (err)
			break;
		links++;
		CHECK(links < 64);
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK_EQ(kvfs_lookup(mp, small, name, &st), -ENOENT);
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "file", &st), 0);
	CHECK_EQ(st.nlink, 3u + links);
	sf_links = links;
	/* longest names into the data blocks until none has room */
	for (unsigned i = 0;; i++) {
		snprintf(other, sizeof(other), "long-%u-", i);
		memcpy(name, other, strlen(other));
		err = kvfs_link(mp, file, dir, name, &st);
		if (err)
			break;
		links++;
		CHECK(i < N);
	}
	CHECK_EQ(err, -ENOSPC);
	CHECK(links - sf_links >= 2);
	CHECK_EQ(atomic_load(&mp->fdblocks), 0);
	CHECK_EQ(kvfs_lookup(mp, dir, name, &st), -ENOENT);
	CHECK_EQ(kvfs_rename(mp, mp->g.rootino, "file", dir, name, 0, &cr),
		 -ENOSPC);
	CHECK_EQ(dp->i_size, size);
	CHECK_EQ(kvfs_lookup(mp, mp->g.rootino, "file", &st), 0);
	CHECK_EQ(st.nlink, 3u + links);
	atomic_fetch_add(&mp->fdblocks, hidden);
	printf("dir newname_full: with no block at all, %u links into the "
	       "short form and %u into data blocks; refused once a name "
	       "needed one\n",
	       sf_links + 1, links - sf_links + 1);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * Removals emptying a data block move its free-space index record until
 * it promises room for the longest name; past that the record stays
 * (idxlag grows), the checker accepts it, and a name of the longest
 * length still finds the room without a new data block.
 */
static void test_roomy_record(void)
{
	enum { N = 400 };
	const uint32_t roomy = KVFS_DIR_DATA_ENTSIZE(KVFS_NAME_MAX);
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	unsigned moved = 0, kept = 0, i;
	uint64_t fsb0, fsb, size, ino;
	uint32_t rec, rec2, lag;
	char name[KVFS_NAME_MAX + 1], next[32];

	make_fs(64 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "roomy");
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "r-%u", i);
		CHECK_EQ(dir_op(mp, dp, true, name, mp->g.lpfino), 0);
	}
	size = dp->i_size;
	CHECK(size >= 2ull * mp->g.dirblksize);
	snprintf(name, sizeof(name), "r-0");
	CHECK_EQ(name_lag(mp, dp, name, &fsb0, NULL), 0);
	for (i = 0; i + 1 < N; i++) {
		snprintf(name, sizeof(name), "r-%u", i);
		snprintf(next, sizeof(next), "r-%u", i + 1);
		name_lag(mp, dp, next, &fsb, NULL);
		if (fsb != fsb0)
			break;
		name_lag(mp, dp, name, &fsb, &rec);
		CHECK_EQ(dir_op(mp, dp, false, name, mp->g.lpfino), 0);
		lag = name_lag(mp, dp, next, &fsb, &rec2);
		if (rec < roomy) {
			CHECK_EQ(lag, 0);
			moved++;
		} else {
			CHECK(lag > 0);
			CHECK_EQ(rec2, rec);
			kept++;
		}
	}
	CHECK(moved > 0 && kept > 0);
	memset(name, 'L', KVFS_NAME_MAX);
	name[KVFS_NAME_MAX] = 0;
	CHECK_EQ(dir_op(mp, dp, true, name, mp->g.rootino), 0);
	CHECK_EQ(dir_lookup(dp, name, &ino), 0);
	CHECK_EQ(ino, mp->g.rootino);
	CHECK_EQ(dp->i_size, size);
	printf("dir roomy_record: %u removals moved the record, %u left it\n",
	       moved, kept);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

struct hname {
	uint32_t h;
	uint32_t i;
};

static int hname_cmp(const void *a, const void *b)
{
	const struct hname *x = a, *y = b;

	return x->h < y->h ? -1 : x->h > y->h;
}

/* Names whose hashes look random (FNV-1a spreads "c%08x" too evenly). */
static void coll_name(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "c%u-%08x", i, i * 2654435761u);
}

static void test_collisions(void)
{
	enum { N = 1 << 18, MAXP = 16 };
	struct hname *v = malloc(N * sizeof(*v));
	unsigned pa[MAXP], pb[MAXP], np = 0;
	struct kvfs_inode *dp, *dp2;
	struct kvfs_mount *mp;
	uint64_t target, ino;
	char a[32], b[32];

	CHECK(v);
	for (unsigned i = 0; i < N; i++) {
		coll_name(a, sizeof(a), i);
		v[i].h = kvfs_dir_hashname((const uint8_t *)a,
					   (unsigned)strlen(a));
		v[i].i = i;
	}
	qsort(v, N, sizeof(*v), hname_cmp);
	for (unsigned i = 1; i < N && np < MAXP; i++)
		if (v[i].h == v[i - 1].h) {
			pa[np] = v[i - 1].i;
			pb[np] = v[i].i;
			np++;
		}
	free(v);
	CHECK(np >= 2);
	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "coll");
	target = mp->g.lpfino;
	/* enough others to be in block form */
	for (unsigned i = 0; i < 300; i++) {
		snprintf(a, sizeof(a), "filler-%u", i);
		CHECK_EQ(dir_op(mp, dp, true, a, target), 0);
	}
	for (unsigned p = 0; p < np; p++) {
		coll_name(a, sizeof(a), pa[p]);
		coll_name(b, sizeof(b), pb[p]);
		CHECK_EQ(dir_op(mp, dp, true, a, target), 0);
		CHECK_EQ(dir_lookup(dp, b, &ino), -ENOENT);
		CHECK_EQ(dir_op(mp, dp, true, b, mp->g.rootino), 0);
		CHECK_EQ(dir_op(mp, dp, true, b, target), -EEXIST);
	}
	for (unsigned p = 0; p < np; p++) {
		coll_name(a, sizeof(a), pa[p]);
		coll_name(b, sizeof(b), pb[p]);
		CHECK_EQ(dir_lookup(dp, a, &ino), 0);
		CHECK_EQ(ino, target);
		CHECK_EQ(dir_lookup(dp, b, &ino), 0);
		CHECK_EQ(ino, mp->g.rootino);
		/* removing one leaves the other; the wrong inode is refused */
		CHECK_EQ(dir_op(mp, dp, false, a, mp->g.rootino), -ENOENT);
		CHECK_EQ(dir_op(mp, dp, false, a, target), 0);
		CHECK_EQ(dir_lookup(dp, a, &ino), -ENOENT);
		CHECK_EQ(dir_lookup(dp, b, &ino), 0);
	}
	/*
	 * The same through kvfs_create() and kvfs_link(), which carry the
	 * lookup's and the room check's places into the insertion
	 * (kvfs_dir_place): a name whose hash is already there takes the
	 * searches; every name found again with its own inode.
	 */
	{
		const struct kvfs_cred cr = { 0 };
		struct kvfs_stat st;
		uint64_t d2, ia, ib;
		bool created;

		d2 = files_dir(mp, "coll2", 300);
		for (unsigned p = 0; p < np; p++) {
			coll_name(a, sizeof(a), pa[p]);
			coll_name(b, sizeof(b), pb[p]);
			CHECK_EQ(kvfs_create(mp, d2, a, 0100644, 0,
					     KVFS_CREATE_EXCL, &cr, &st, NULL),
				 0);
			ia = st.ino;
			CHECK_EQ(kvfs_create(mp, d2, b, 0100644, 0,
					     KVFS_CREATE_EXCL, &cr, &st, NULL),
				 0);
			ib = st.ino;
			CHECK_EQ(kvfs_create(mp, d2, b, 0100644, 0,
					     KVFS_CREATE_EXCL, &cr, &st, NULL),
				 -EEXIST);
			CHECK_EQ(kvfs_create(mp, d2, a, 0100644, 0, 0, &cr, &st,
					     &created),
				 0);
			CHECK(!created && st.ino == ia);
			snprintf(a + strlen(a), sizeof(a) - strlen(a), "-l");
			CHECK_EQ(kvfs_link(mp, ib, d2, a, &st), 0);
		}
		CHECK_EQ(kvfs_iget(mp, d2, 0, &dp2), 0);
		CHECK(dp2->i_dformat != KVFS_DFORK_INLINE);
		for (unsigned p = 0; p < np; p++) {
			coll_name(a, sizeof(a), pa[p]);
			coll_name(b, sizeof(b), pb[p]);
			CHECK_EQ(dir_lookup(dp2, a, &ia), 0);
			CHECK_EQ(dir_lookup(dp2, b, &ib), 0);
			CHECK(ia != ib);
			snprintf(a + strlen(a), sizeof(a) - strlen(a), "-l");
			CHECK_EQ(dir_lookup(dp2, a, &ino), 0);
			CHECK_EQ(ino, ib);
		}
		kvfs_iput(dp2);
	}
	printf("dir collisions: %u pairs of names with one hash\n", np);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * kvfs_dir_lookup_in(): the answer of kvfs_dir_lookup() (absent, present,
 * and absent beside a name of the same hash), with the head and the hash
 * index's path joined to the transaction, where the creation that follows
 * finds them; a cancel releases them all.
 */
static void test_lookup_in(void)
{
	enum { N = 2000 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_trans *tp;
	unsigned mark, joined = 0;
	uint64_t ino;
	uint8_t ft;
	char a[32];

	make_fs(128 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "in");
	for (unsigned i = 0; i < N; i++) {
		snprintf(a, sizeof(a), "in-%u", i);
		CHECK_EQ(dir_op(mp, dp, true, a, mp->g.lpfino), 0);
	}
	for (unsigned i = 0; i < N; i += 97) {
		CHECK_EQ(
			kvfs_trans_alloc_res(mp, &mp->resv.create_name, 0, &tp),
			0);
		kvfs_ilock(dp, KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, dp), 0);
		mark = kvfs_trans_buf_mark(tp->jt);
		snprintf(a, sizeof(a), "in-%u", i);
		CHECK_EQ(kvfs_dir_lookup_in(tp, dp, a, strlen(a), &ino, &ft),
			 0);
		CHECK_EQ(ino, mp->g.lpfino);
		CHECK_EQ(ft, KVFS_FT_REG);
		snprintf(a, sizeof(a), "new-%u", i);
		CHECK_EQ(kvfs_dir_lookup_in(tp, dp, a, strlen(a), &ino, &ft),
			 -ENOENT);
		/* the head, the root node and a leaf at least */
		joined = kvfs_trans_buf_mark(tp->jt) - mark;
		CHECK(joined >= 3);
		if (i % 2) {
			kvfs_trans_cancel(tp);
			CHECK_EQ(kvfs_trans_buf_mark(NULL), mark);
			continue;
		}
		CHECK_EQ(kvfs_dir_createname_absent(tp, dp, a, strlen(a),
						    mp->g.rootino, KVFS_FT_DIR),
			 0);
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
		CHECK_EQ(kvfs_trans_buf_mark(NULL), mark);
		CHECK_EQ(dir_lookup(dp, a, &ino), 0);
		CHECK_EQ(ino, mp->g.rootino);
	}
	printf("dir lookup_in: %u buffers joined by a lookup of %u names\n",
	       joined, N);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/*
 * A directory with an attribute fork in blocks goes to blocks and back to
 * the short form: the blocks left then are the attribute fork's (before
 * the fix the shrink called them corruption and the filesystem shut
 * down), and the attributes survive both conversions.
 */
static void test_attr_fork(void)
{
	static char val[2000], back[2000];
	const struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	char name[32];
	uint64_t dir;
	unsigned i, n = 600;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "withattrs");
	dir = dp->i_ino;
	kvfs_iput(dp);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "user.x%u", i);
		memset(val, 'A' + (int)i, sizeof(val));
		CHECK_EQ(kvfs_setxattr(mp, dir, name, val, sizeof(val), 0), 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "entry-%05u", i);
		CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0, 0, &cr, &st,
				     NULL),
			 0);
	}
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK(dp->i_dformat != KVFS_DFORK_INLINE);
	kvfs_iput(dp);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "entry-%05u", i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	kvfs_iput(dp);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "user.x%u", i);
		memset(val, 'A' + (int)i, sizeof(val));
		CHECK_EQ(kvfs_getxattr(mp, dir, name, back, sizeof(back)),
			 (ssize_t)sizeof(back));
		CHECK(!memcmp(val, back, sizeof(val)));
	}
	CHECK_EQ(kvfs_rmdir(mp, mp->g.rootino, "withattrs"), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	printf("attr fork: a directory with attribute blocks to blocks and "
	       "back\n");
}

/*
 * Real files (created through the API, each named only here) in a
 * directory whose blocks interleave with a file's, so that its data fork
 * becomes a B+tree: the checker's namespace walk must read the blocks the
 * tree maps to reach them (it called every such file unreachable, and
 * fsck -y would have moved them all to lost+found).
 */
static void test_btree_fork(void)
{
	static char blk[4096];
	const struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_inode *dp;
	struct kvfs_stat st;
	struct dlist dl = { 0 };
	char name[256];
	uint64_t dir, sp;
	unsigned i, n = 2400;
	bool created;

	make_fs(64 << 20, 0);
	mp = mount_fs();
	dp = new_dir(mp, "frag");
	dir = dp->i_ino;
	kvfs_iput(dp);
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "spacer", 0100644, 0, 0, &cr,
			     &st, &created),
		 0);
	sp = st.ino;
	memset(blk, 's', sizeof(blk));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%0190u-x", i);
		CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0, 0, &cr, &st,
				     &created),
			 0);
		if (i % 8 == 0)
			CHECK_EQ(kvfs_write(mp, sp, blk, mp->g.blocksize,
					    (off_t)(i / 8) * mp->g.blocksize,
					    0),
				 (ssize_t)mp->g.blocksize);
	}
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_BTREE);
	kvfs_iput(dp);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%0190u-x", i);
		CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	}
	read_all(mp, dir, 0, &dl);
	CHECK_EQ(dl.n, n + 2);
	free(dl.v);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	mp = mount_fs();
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%0190u-x", i);
		CHECK_EQ(kvfs_unlink(mp, dir, name), 0);
	}
	CHECK_EQ(kvfs_iget(mp, dir, 0, &dp), 0);
	CHECK_EQ(dp->i_dformat, KVFS_DFORK_INLINE);
	CHECK_EQ(dp->i_nblocks, 0);
	kvfs_iput(dp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	printf("btree fork: %u entries in a directory whose data fork is a "
	       "B+tree, and back\n",
	       n);
}

int main(void)
{
	CHECK_EQ(kv_init(NULL), 0);
	set_path("dir");
	make_pool();
	test_model(0, 24000);
	test_model(16384, 12000);
	test_interleave();
	test_collisions();
	test_lookup_in();
	test_attr_fork();
	test_scattered();
	test_btree_fork();
	test_remap();
	test_split_nospc();
	test_remove_full();
	test_newname_full();
	test_roomy_record();
	test_big(BIG_N);
	for (int i = 0; i < POOL; i++)
		free(pool[i]);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("dir: ok\n");
	return 0;
}
