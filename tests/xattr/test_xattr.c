// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes (fs/ns/attr.h) and symlink targets (fs/ns/symlink.h) on a
 * mounted image, through the public API (fs/kvfs.h) where it exists:
 *   errnos:  every errno case of set/get/list/remove, the namespaces;
 *   model:   random set / create / replace / remove / get / list on one
 *            inode against an in-memory model, growing past the short
 *            form, one leaf and many leaves (with 64 KiB values in remote
 *            blocks), then removing everything: back to one leaf, the
 *            short form and no fork; each format must have been seen,
 *            every attribute compared at checkpoints, the free-space
 *            count equal to the blocks the inode holds, scrub clean;
 *   crash:   attributes set, the log forced, more changes, power cut
 *            (kvfs_mount_shutdown): after recovery the attributes are the
 *            forced state or one of the later committed states, and the
 *            image is scrub-clean;
 *   symlink: targets of 1..4095 bytes inline and in blocks, readlink
 *            exact, -ENAMETOOLONG at 4096, -ENOENT for empty; blocks of
 *            targets and attributes freed when the inode is freed (the
 *            free count back where it was), scrub clean;
 *   damage:  one byte flipped in an attribute leaf, a remote value block
 *            and a symlink block: scrub reports exactly that;
 *   fork grown: a data fork that is a B+tree only because the attribute
 *            fork took half the inode is a list again when it goes;
 *   btree:   free space fragmented to single blocks, 64 KiB values set on
 *            one file until its attribute fork is an extent-map B+tree
 *            whose root is two levels up (alone, and beside a B+tree data
 *            fork that grows meanwhile), every value read back, all
 *            removed: the fork back to a list and gone, the free space
 *            exactly back, scrub and fsck.kvfs -f -n clean at each step
 *            (before the attribute fork could be a tree: -ENOSPC); such a
 *            file unlinked: every block back; a power cut while the tree
 *            changes: recovered, clean.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/ns/attr.h"
#include "fs/io/dev.h"
#include "fs/data/bmap.h"
#include "fs/inode/ialloc.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode_item.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/ns/symlink.h"
#include "fs/trans/trans.h"
#include "journal/crc32c.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

static char path[256];
static const char *fsck_kvfs; /* argv[1]: tools/fsck.kvfs */

static void make_fs_bs(uint32_t blocksize)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64 << 20,
				    .blocksize = blocksize,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static void make_fs(void)
{
	make_fs_bs(0);
}

static struct kvfs_mount *mount_fs(void)
{
	struct kvfs_mount_opts o = { .no_log_threads = true };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

static uint64_t new_inode(struct kvfs_mount *mp, uint16_t mode)
{
	struct kvfs_icreate_args a = { .mode = mode, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_dialloc(tp, mp->g.rootino, &a, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	ino = ip->i_ino;
	kvfs_iput(ip);
	return ino;
}

/* Free ino with its attribute and symlink blocks, as inactivation will. */
static void free_inode(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.itruncate, 0, &tp), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_attr_inactive(&tp, ip), 0);
	CHECK_EQ(kvfs_symlink_inactive(&tp, ip), 0);
	CHECK_EQ(ip->i_nblocks, 0);
	CHECK_EQ(ip->i_forkoff, 0);
	CHECK_EQ(kvfs_difree(tp, ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
}

static void close_and_scrub(struct kvfs_mount *mp)
{
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
}

/* ---- errnos ---- */

static void test_errnos(void)
{
	struct kvfs_mount *mp;
	char name[300], buf[128], list[128];
	uint64_t ino;

	make_fs();
	mp = mount_fs();
	ino = new_inode(mp, 0100644);

	CHECK_EQ(kvfs_setxattr(mp, ino, "", "v", 1, 0), -ERANGE);
	memset(name, 'a', sizeof(name));
	memcpy(name, "user.", 5);
	name[256] = '\0';
	CHECK_EQ(kvfs_setxattr(mp, ino, name, "v", 1, 0), -ERANGE);
	CHECK_EQ(kvfs_getxattr(mp, ino, name, buf, sizeof(buf)), -ERANGE);
	name[255] = '\0'; /* 255 bytes: the longest name */
	CHECK_EQ(kvfs_setxattr(mp, ino, name, "v", 1, 0), 0);
	CHECK_EQ(kvfs_getxattr(mp, ino, name, buf, sizeof(buf)), 1);
	CHECK_EQ(kvfs_removexattr(mp, ino, name), 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "os2.x", "v", 1, 0), -EOPNOTSUPP);
	CHECK_EQ(kvfs_setxattr(mp, ino, "system.foo", "v", 1, 0), -EOPNOTSUPP);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.", "v", 1, 0), -EINVAL);
	CHECK_EQ(kvfs_getxattr(mp, ino, "os2.x", buf, 0), -EOPNOTSUPP);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.big", buf, 65537, 0), -E2BIG);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "v", 1, 0x4), -EINVAL);
	/* create / replace */
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "12", 2, KVFS_XATTR_REPLACE),
		 -ENODATA);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "12", 2, KVFS_XATTR_CREATE),
		 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "34", 2, KVFS_XATTR_CREATE),
		 -EEXIST);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "567", 3, KVFS_XATTR_REPLACE),
		 0);
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.a", buf, 0), 3);
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.a", buf, 2), -ERANGE);
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.a", buf, 3), 3);
	CHECK(!memcmp(buf, "567", 3));
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.b", buf, sizeof(buf)), -ENODATA);
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.b"), -ENODATA);
	/* an empty value is a value */
	CHECK_EQ(kvfs_setxattr(mp, ino, "trusted.empty", NULL, 0, 0), 0);
	CHECK_EQ(kvfs_getxattr(mp, ino, "trusted.empty", buf, sizeof(buf)), 0);
	/* ACLs, security labels: stored as given */
	CHECK_EQ(kvfs_setxattr(mp, ino, "system.posix_acl_access",
			       "\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff", 12, 0),
		 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "system.posix_acl_default", "\x02\0\0",
			       4, 0),
		 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "security.selinux",
			       "system_u:object_r:etc_t:s0", 27, 0),
		 0);
	CHECK_EQ(kvfs_getxattr(mp, ino, "system.posix_acl_access", buf,
			       sizeof(buf)),
		 12);
	CHECK(!memcmp(buf, "\x02\0\0\0\x01\0\x06\0\xff\xff\xff\xff", 12));
	/* list: sized query, too small, exact */
	{
		const char *want[] = { "user.a", "trusted.empty",
				       "system.posix_acl_access",
				       "system.posix_acl_default",
				       "security.selinux" };
		size_t total = 0;
		ssize_t n = kvfs_listxattr(mp, ino, NULL, 0);

		for (unsigned i = 0; i < 5; i++)
			total += strlen(want[i]) + 1;
		CHECK_EQ(n, (ssize_t)total);
		CHECK_EQ(kvfs_listxattr(mp, ino, list, total - 1), -ERANGE);
		CHECK_EQ(kvfs_listxattr(mp, ino, list, sizeof(list)), total);
		for (unsigned i = 0; i < 5; i++) {
			bool found = false;

			for (size_t p = 0; p < total; p += strlen(list + p) + 1)
				found |= !strcmp(list + p, want[i]);
			CHECK(found);
		}
	}
	/* a free inode */
	CHECK_EQ(kvfs_setxattr(mp, ino + 1, "user.a", "v", 1, 0), -ENOENT);
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.a"), 0);
	CHECK_EQ(kvfs_removexattr(mp, ino, "trusted.empty"), 0);
	CHECK_EQ(kvfs_removexattr(mp, ino, "system.posix_acl_access"), 0);
	CHECK_EQ(kvfs_removexattr(mp, ino, "system.posix_acl_default"), 0);
	CHECK_EQ(kvfs_removexattr(mp, ino, "security.selinux"), 0);
	CHECK_EQ(kvfs_listxattr(mp, ino, NULL, 0), 0);
	close_and_scrub(mp);
	printf("errnos: ok\n");
}

/* ---- the model ---- */

#define NNAMES 700

struct mattr {
	bool present;
	uint32_t len;
	uint32_t seed; /* value bytes come from it */
};

static char names[NNAMES][260];
static struct mattr model[NNAMES];
static uint8_t vbuf[65536], gbuf[65536 + 16];

static void value_of(uint32_t seed, uint32_t len, uint8_t *out)
{
	uint32_t x = seed * 2654435761u + 1;

	for (uint32_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		out[i] = (uint8_t)(x >> 16);
	}
}

static void make_names(void)
{
	static const char *const ns[] = { "user.", "trusted.", "security." };

	for (int i = 0; i < NNAMES; i++) {
		int n = snprintf(names[i], sizeof(names[i]), "%s%d.", ns[i % 3],
				 i);
		/* a few long names, up to 255 bytes */
		int extra = i % 97 == 5 ? 255 - n : i % 7;

		for (int j = 0; j < extra && n < 255; j++)
			names[i][n++] = (char)('a' + (i + j) % 26);
		names[i][n] = '\0';
	}
	strcpy(names[NNAMES - 1], "system.posix_acl_access");
	strcpy(names[NNAMES - 2], "system.posix_acl_default");
}

/* Value sizes: mostly small; with big, 4-9 KiB and 64 KiB ones too. */
static bool big;

static uint32_t pick_len(void)
{
	int r = rand() % 100;

	if (r < 60)
		return (uint32_t)(rand() % 40);
	if (r < 92 || !big)
		return (uint32_t)(rand() % (big ? 600 : 2400));
	if (r < 97)
		return (uint32_t)(4000 + rand() % 5000);
	return 65536 - (uint32_t)(rand() % 2);
}

static void compare_one(struct kvfs_mount *mp, uint64_t ino, int i)
{
	ssize_t n = kvfs_getxattr(mp, ino, names[i], gbuf, sizeof(gbuf));

	if (!model[i].present) {
		CHECK_EQ(n, -ENODATA);
		return;
	}
	CHECK_EQ(n, model[i].len);
	value_of(model[i].seed, model[i].len, vbuf);
	CHECK(!memcmp(gbuf, vbuf, model[i].len));
}

static void compare_all(struct kvfs_mount *mp, uint64_t ino)
{
	static char list[NNAMES * 260];
	size_t total = 0, seen = 0;
	ssize_t n;

	for (int i = 0; i < NNAMES; i++) {
		compare_one(mp, ino, i);
		if (model[i].present)
			total += strlen(names[i]) + 1;
	}
	n = kvfs_listxattr(mp, ino, NULL, 0);
	CHECK_EQ(n, (ssize_t)total);
	CHECK_EQ(kvfs_listxattr(mp, ino, list, sizeof(list)), (ssize_t)total);
	for (size_t p = 0; p < total; p += strlen(list + p) + 1) {
		int found = -1;

		for (int i = 0; i < NNAMES && found < 0; i++)
			if (model[i].present && !strcmp(list + p, names[i]))
				found = i;
		CHECK(found >= 0);
		seen++;
	}
	for (int i = 0; i < NNAMES; i++)
		seen -= model[i].present;
	CHECK_EQ(seen, 0);
}

/* formats seen: 0 none, 1 short form, 2 one leaf, 3 node */
static unsigned seen_fmt[4];
static unsigned nospc;

static unsigned fmt_of(struct kvfs_mount *mp, uint64_t ino, uint64_t *nblocks)
{
	struct kvfs_inode *ip;
	unsigned f;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	*nblocks = ip->i_nblocks;
	if (!ip->i_forkoff)
		f = 0;
	else if (ip->i_aformat == KVFS_DFORK_INLINE)
		f = 1;
	else {
		struct kvfs_bmap map;
		struct kv_buf *bp;
		int nmap = 1;

		/* attribute block 0: a leaf or the hash node */
		CHECK_EQ(kvfs_bmapi_read_fork(ip, KVFS_ATTR_FORK, 0, 1, &map,
					      &nmap),
			 0);
		CHECK(map.startblock != KVFS_NULLBLOCK);
		CHECK_EQ(kv_buf_read(mp->bc, map.startblock, 1,
				     &kvfs_attr_buf_ops, &bp),
			 0);
		kv_buf_lock(bp);
		f = kv_le32_to_cpu(
			    ((struct kvfs_blk_hdr *)bp->b_addr)->magic) ==
				    KVFS_ATTR_NODE_MAGIC ?
			    3 :
			    2;
		kv_buf_unlock(bp);
		kv_buf_rele(bp);
	}
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return f;
}

/* One random operation, checked against the model. */
/* ---- a full filesystem ---- */

/*
 * With no free block at all: a value replaced by one no larger and a new
 * one the short form still takes work (the transaction retried with no
 * block); one that would need a block is refused with -ENOSPC and the old
 * value stays.  A debug build's trans_short() stops any allocation the
 * retry was wrong to try.
 */
static void test_full(void)
{
	struct kvfs_mount *mp;
	uint8_t big[3000];
	char buf[64];
	uint64_t ino, leaf, nblocks;
	int64_t hidden;

	memset(big, 'v', sizeof(big));
	make_fs();
	mp = mount_fs();
	ino = new_inode(mp, 0100644);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "0123456789", 10, 0), 0);
	leaf = new_inode(mp, 0100644);
	for (unsigned i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "user.n-%u", i);
		CHECK_EQ(kvfs_setxattr(mp, leaf, buf, big, 100, 0), 0);
	}
	CHECK(fmt_of(mp, leaf, &nblocks) >= 2);
	hidden = atomic_exchange(&mp->fdblocks, 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "abcdefghij", 10,
			       KVFS_XATTR_REPLACE),
		 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "xyz", 3, KVFS_XATTR_REPLACE),
		 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.b", "b", 1, KVFS_XATTR_CREATE),
		 0);
	memset(big, 'v', sizeof(big));
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", big, sizeof(big),
			       KVFS_XATTR_REPLACE),
		 -ENOSPC);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.c", big, sizeof(big), 0),
		 -ENOSPC);
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.a", buf, sizeof(buf)), 3);
	CHECK(!memcmp(buf, "xyz", 3));
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.c", buf, sizeof(buf)), -ENODATA);
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.b"), 0);
	/* a fork in blocks: the name's errnos first, then -ENOSPC */
	CHECK_EQ(kvfs_setxattr(mp, leaf, "user.none", "v", 1,
			       KVFS_XATTR_REPLACE),
		 -ENODATA);
	CHECK_EQ(kvfs_setxattr(mp, leaf, "user.n-1", "v", 1, KVFS_XATTR_CREATE),
		 -EEXIST);
	CHECK_EQ(
		kvfs_setxattr(mp, leaf, "user.n-1", "v", 1, KVFS_XATTR_REPLACE),
		-ENOSPC);
	CHECK_EQ(kvfs_removexattr(mp, leaf, "user.none"), -ENODATA);
	CHECK_EQ(atomic_load(&mp->fdblocks), 0);
	atomic_fetch_add(&mp->fdblocks, hidden);
	CHECK_EQ(
		kvfs_setxattr(mp, leaf, "user.n-1", "v", 1, KVFS_XATTR_REPLACE),
		0);
	close_and_scrub(mp);
}

static void model_op(struct kvfs_mount *mp, uint64_t ino, int grow)
{
	int i = rand() % NNAMES;
	int op = rand() % 100;
	bool present = model[i].present;

	if (op < grow) {
		int flags = rand() % 3; /* 0, CREATE, REPLACE */
		uint32_t len = pick_len();
		uint32_t seed = (uint32_t)rand();
		int want = flags == KVFS_XATTR_CREATE && present   ? -EEXIST :
			   flags == KVFS_XATTR_REPLACE && !present ? -ENODATA :
								     0;
		int err;

		value_of(seed, len, vbuf);
		err = kvfs_setxattr(mp, ino, names[i], vbuf, len, flags);
		if (err == -ENOSPC && !want) {
			nospc++;
			return; /* nothing changed: the model checks it */
		}
		CHECK_EQ(err, want);
		if (!err) {
			model[i].present = true;
			model[i].len = len;
			model[i].seed = seed;
		}
	} else if (op < 95) {
		int err = kvfs_removexattr(mp, ino, names[i]);

		if (err == -ENOSPC && present) {
			nospc++;
			return;
		}
		CHECK_EQ(err, present ? 0 : -ENODATA);
		model[i].present = false;
	} else {
		compare_one(mp, ino, i);
	}
}

static uint64_t model_count(void)
{
	uint64_t n = 0;

	for (int i = 0; i < NNAMES; i++)
		n += model[i].present;
	return n;
}

/*
 * grow: the share of sets while growing (then 10% while shrinking);
 * ops per phase.  Then everything is removed and the fork must be gone.
 */
static void model_run(struct kvfs_mount *mp, int ops)
{
	uint64_t ino, nb, most = 0;
	int64_t fd0;

	memset(model, 0, sizeof(model));
	memset(seen_fmt, 0, sizeof(seen_fmt));
	nospc = 0;
	ino = new_inode(mp, 0100644);
	fd0 = atomic_load(&mp->fdblocks);
	for (int phase = 0; phase < 2; phase++) {
		for (int k = 0; k < ops; k++) {
			model_op(mp, ino, phase ? 10 : 70);
			seen_fmt[fmt_of(mp, ino, &nb)]++;
			if (model_count() > most)
				most = model_count();
			/* blocks taken from free space are the inode's */
			CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)nb);
			if (k % 500 == 499)
				compare_all(mp, ino);
		}
		compare_all(mp, ino);
	}
	/* removing never fails, full fork or not */
	for (int i = 0; i < NNAMES; i++)
		if (model[i].present) {
			CHECK_EQ(kvfs_removexattr(mp, ino, names[i]), 0);
			model[i].present = false;
			seen_fmt[fmt_of(mp, ino, &nb)]++;
		}
	compare_all(mp, ino);
	CHECK_EQ(kvfs_listxattr(mp, ino, NULL, 0), 0);
	printf("model%s: most %llu attributes; ops in formats: none %u, "
	       "short %u, leaf %u, node %u; -ENOSPC (fork full) %u; %llu "
	       "blocks left\n",
	       big ? " (64 KiB values)" : "", (unsigned long long)most,
	       seen_fmt[0], seen_fmt[1], seen_fmt[2], seen_fmt[3], nospc,
	       (unsigned long long)nb);
	/*
	 * every format seen, and back to no fork at all; with free space
	 * left no change is refused (the fork's extents become a B+tree
	 * when they outgrow the inode)
	 */
	for (int f = 0; f < 4; f++)
		CHECK(seen_fmt[f] > 0);
	CHECK_EQ(fmt_of(mp, ino, &nb), 0);
	CHECK_EQ(nb, 0);
	CHECK_EQ(nospc, 0);
	free_inode(mp, ino);
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
}

static void test_model(void)
{
	struct kvfs_mount *mp;

	make_fs();
	mp = mount_fs();
	big = false;
	model_run(mp, 3000);
	big = true;
	model_run(mp, 1500);
	close_and_scrub(mp);
}

/* ---- crash ---- */

/* A digest of the model: which names, which values. */
static uint32_t digest(void)
{
	uint32_t c = 0;

	for (int i = 0; i < NNAMES; i++)
		if (model[i].present) {
			uint32_t v[3] = { (uint32_t)i, model[i].len,
					  model[i].seed };

			c = kv_crc32c(c, v, sizeof(v));
		}
	return c;
}

/* The digest of what the inode holds (values checked by seed). */
static uint32_t digest_of(struct kvfs_mount *mp, uint64_t ino,
			  const struct mattr *cand, size_t ncand)
{
	uint32_t c = 0;

	for (int i = 0; i < NNAMES; i++) {
		ssize_t n =
			kvfs_getxattr(mp, ino, names[i], gbuf, sizeof(gbuf));
		uint32_t seed = 0;
		bool ok = false;

		if (n == -ENODATA)
			continue;
		CHECK(n >= 0);
		/* the value is one that was set under this name */
		for (size_t k = 0; k < ncand && !ok; k++) {
			if (cand[k].seed >> 16 != (uint32_t)i ||
			    cand[k].len != (uint32_t)n)
				continue;
			value_of(cand[k].seed, (uint32_t)n, vbuf);
			if (!memcmp(vbuf, gbuf, (size_t)n)) {
				ok = true;
				seed = cand[k].seed;
			}
		}
		CHECK(ok);
		{
			uint32_t v[3] = { (uint32_t)i, (uint32_t)n, seed };

			c = kv_crc32c(c, v, sizeof(v));
		}
	}
	return c;
}

static void test_crash(void)
{
	static struct mattr sets[4000];
	uint32_t ok[400];
	size_t nsets = 0, nok = 0;
	struct kvfs_mount *mp;
	uint64_t ino;
	uint32_t got;

	make_fs();
	mp = mount_fs();
	memset(model, 0, sizeof(model));
	ino = new_inode(mp, 0100644);
	for (int round = 0; round < 2; round++) {
		int n = round ? 150 : 600;

		for (int k = 0; k < n; k++) {
			int i = rand() % 200;
			uint32_t len = pick_len();
			/* the seed names its attribute, for digest_of() */
			uint32_t seed =
				(uint32_t)i << 16 | (uint32_t)(rand() & 0xffff);

			if (rand() % 4 == 0) {
				int err = kvfs_removexattr(mp, ino, names[i]);

				CHECK(err == 0 || err == -ENODATA);
				model[i].present = false;
			} else {
				value_of(seed, len, vbuf);
				int err = kvfs_setxattr(mp, ino, names[i], vbuf,
							len, 0);

				if (err == -ENOSPC)
					continue;
				CHECK_EQ(err, 0);
				model[i] = (struct mattr){ true, len, seed };
				sets[nsets++] = model[i];
			}
			/* after the force: every later state may survive */
			if (round)
				ok[nok++] = digest();
		}
		if (!round) {
			CHECK_EQ(kvj_log_force(mp->log, 0), 0);
			ok[nok++] = digest();
		}
	}
	kvfs_mount_shutdown(mp, "power cut");
	kvfs_mount_close(mp);
	mp = mount_fs();
	/* the log was dirty: checkpoints were replayed */
	CHECK(!mp->ri.was_clean && mp->ri.checkpoints_replayed > 0);
	got = digest_of(mp, ino, sets, nsets);
	{
		bool found = false;

		for (size_t k = 0; k < nok; k++)
			found |= ok[k] == got;
		CHECK(found);
	}
	close_and_scrub(mp);
	printf("crash: recovered to one of %zu committed states\n", nok);
}

/* ---- symlinks ---- */

static uint64_t make_symlink(struct kvfs_mount *mp, const char *t, size_t len,
			     int *err)
{
	struct kvfs_icreate_args a = { .mode = S_IFLNK | 0777, .nlink = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;
	uint64_t ino;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.symlink,
				      kvfs_symlink_blocks(&mp->g, len), &tp),
		 0);
	CHECK_EQ(kvfs_dialloc(tp, mp->g.rootino, &a, &ip), 0);
	*err = kvfs_symlink_write(tp, ip, t, len);
	if (*err) {
		/* refused before any change: make it a valid free inode */
		CHECK_EQ(kvfs_difree(tp, ip), 0);
	}
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	ino = ip->i_ino;
	kvfs_iput(ip);
	return ino;
}

static void test_symlink(void)
{
	static const size_t lens[] = { 1,   2,	  100,	239,  240, 241,
				       300, 1000, 4040, 4041, 4095 };
	static char target[4200], buf[4200];
	uint64_t inos[sizeof(lens) / sizeof(lens[0])];
	struct kvfs_mount *mp;
	int64_t fd0;
	int err;

	make_fs();
	mp = mount_fs();
	for (size_t i = 0; i < sizeof(target); i++)
		target[i] = (char)('!' + (i * 7 + i / 13) % 90);
	fd0 = atomic_load(&mp->fdblocks);
	make_symlink(mp, target, 4096, &err);
	CHECK_EQ(err, -ENAMETOOLONG);
	make_symlink(mp, target, 0, &err);
	CHECK_EQ(err, -ENOENT);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		struct kvfs_inode *ip;

		inos[k] = make_symlink(mp, target, lens[k], &err);
		CHECK_EQ(err, 0);
		CHECK_EQ(kvfs_iget(mp, inos[k], 0, &ip), 0);
		CHECK_EQ(ip->i_dformat, lens[k] <= 240 ? KVFS_DFORK_INLINE :
							 KVFS_DFORK_EXTENTS);
		CHECK_EQ(ip->i_nblocks,
			 lens[k] <= 240 ? 0 :
					  kvfs_symlink_blocks(&mp->g, lens[k]));
		kvfs_iput(ip);
		/* an attribute on it too (short form, then a leaf) */
		CHECK_EQ(kvfs_setxattr(mp, inos[k], "security.selinux",
				       "system_u:object_r:lnk_t:s0", 26, 0),
			 0);
		if (k % 2)
			CHECK_EQ(kvfs_setxattr(mp, inos[k], "trusted.big", vbuf,
					       3000, 0),
				 0);
	}
	close_and_scrub(mp);
	mp = mount_fs();
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		memset(buf, 'x', sizeof(buf));
		CHECK_EQ(kvfs_readlink(mp, inos[k], buf, lens[k]), -ERANGE);
		CHECK_EQ(kvfs_readlink(mp, inos[k], buf, sizeof(buf)),
			 (int)lens[k]);
		CHECK(!memcmp(buf, target, lens[k]));
		CHECK_EQ(buf[lens[k]], '\0');
	}
	CHECK_EQ(kvfs_readlink(mp, new_inode(mp, 0100644), buf, sizeof(buf)),
		 -EINVAL);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++)
		free_inode(mp, inos[k]);
	/* every block back: symlink blocks and attribute blocks */
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	close_and_scrub(mp);
	printf("symlink: %zu targets up to 4095 bytes, freed\n",
	       sizeof(lens) / sizeof(lens[0]));
}

/* The filesystem block of file block off of ino's fork whichfork. */
static uint64_t fork_block(struct kvfs_mount *mp, uint64_t ino, int whichfork,
			   uint64_t off)
{
	struct kvfs_inode *ip;
	struct kvfs_bmap map;
	int nmap = 1;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_bmapi_read_fork(ip, whichfork, off, 1, &map, &nmap), 0);
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	CHECK(map.startblock != KVFS_NULLBLOCK);
	return map.startblock;
}

/* Flip one byte of block fsb on the image; scrub finds kind, once. */
static void damage_found(uint64_t fsb, uint32_t bs, unsigned at,
			 enum kvfs_scrub_kind kind)
{
	static struct kvfs_scrub_result res;
	struct kvfs_geom g;
	struct kv_dev *dev;
	FILE *f = fopen(path, "r+b");
	int c;

	CHECK(f);
	CHECK_EQ(fseek(f, (long)(fsb * bs + at), SEEK_SET), 0);
	c = fgetc(f);
	CHECK_EQ(fseek(f, (long)(fsb * bs + at), SEEK_SET), 0);
	CHECK(fputc(c ^ 0x40, f) != EOF);
	CHECK_EQ(fclose(f), 0);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	CHECK_EQ(kvfs_scrub_dev(dev, &g, &res), -EUCLEAN);
	CHECK_EQ(res.nkind[kind], 1);
	/* the files here have no names: the namespace findings aside */
	CHECK_EQ(res.nfindings - res.nkind[KVFS_SCRUB_DIRENT] -
			 res.nkind[KVFS_SCRUB_DOTDOT] -
			 res.nkind[KVFS_SCRUB_NLINK] -
			 res.nkind[KVFS_SCRUB_CONNECT],
		 1);
	kv_dev_close(dev);
	/* put it back: clean again */
	f = fopen(path, "r+b");
	CHECK(f);
	CHECK_EQ(fseek(f, (long)(fsb * bs + at), SEEK_SET), 0);
	CHECK(fputc(c, f) != EOF);
	CHECK_EQ(fclose(f), 0);
	scrub_image_clean_unnamed(path);
}

/* A damaged attribute leaf, remote value and symlink block are found. */
static void test_damage(void)
{
	static char target[3000];
	struct kvfs_mount *mp;
	uint64_t ino, lnk, leaf, rmt, sblk;
	uint32_t bs;
	int err;

	make_fs();
	mp = mount_fs();
	bs = mp->g.blocksize;
	ino = new_inode(mp, 0100644);
	value_of(1, 3000, vbuf);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.v", vbuf, 3000, 0), 0);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.w", "x", 1, 0), 0);
	memset(target, 'T', sizeof(target));
	lnk = make_symlink(mp, target, sizeof(target), &err);
	CHECK_EQ(err, 0);
	leaf = fork_block(mp, ino, KVFS_ATTR_FORK, 0);
	rmt = fork_block(mp, ino, KVFS_ATTR_FORK, 1);
	sblk = fork_block(mp, lnk, KVFS_DATA_FORK, 0);
	close_and_scrub(mp);
	damage_found(leaf, bs, bs - 2, KVFS_SCRUB_ATTR);
	damage_found(rmt, bs, 100, KVFS_SCRUB_ATTR);
	damage_found(sblk, bs, 60, KVFS_SCRUB_SYMLINK);
	printf("damage: attribute leaf, remote value, symlink block found\n");
}

/*
 * An attribute fork beside a B+tree data fork, both ways round: the
 * fork boundary moves while the data fork's root lives in the inode (its
 * pointers laid out for the fork's size).  Before the fix, adding the
 * fork was -ENOSPC, and removing it left the root's pointers where the
 * larger fork does not look: the next map read block 0.
 */
static void btree_fork_case(bool attrs_first)
{
	static char blk[4096], back[4096];
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint64_t ino;
	char name[24];
	uint32_t bs;
	int i, nx = 300;

	make_fs();
	mp = mount_fs();
	bs = mp->g.blocksize;
	ino = new_inode(mp, 0100644);
	for (int pass = 0; pass < 2; pass++) {
		if ((pass == 0) == attrs_first) {
			for (i = 0; i < 12; i++) {
				snprintf(name, sizeof(name), "user.a%d", i);
				value_of(i, 2000, vbuf);
				CHECK_EQ(kvfs_setxattr(mp, ino, name, vbuf,
						       2000, 0),
					 0);
			}
			continue;
		}
		/* every other block: one extent each, past the fork */
		for (i = 0; i < nx; i++) {
			memset(blk, 'a' + i % 26, bs);
			CHECK_EQ(kvfs_write(mp, ino, blk, bs, (off_t)2 * i * bs,
					    0),
				 (ssize_t)bs);
		}
	}
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	CHECK(ip->i_forkoff != 0);
	kvfs_iput(ip);
	for (i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "user.a%d", i);
		CHECK_EQ(kvfs_removexattr(mp, ino, name), 0);
	}
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_forkoff, 0);
	kvfs_iput(ip);
	for (i = 0; i < nx; i++) {
		memset(blk, 'a' + i % 26, bs);
		CHECK_EQ(kvfs_read(mp, ino, back, bs, (off_t)2 * i * bs),
			 (ssize_t)bs);
		CHECK(!memcmp(back, blk, bs));
	}
	CHECK_EQ(kvfs_setattr(mp, ino,
			      &(struct kvfs_setattr){ .valid = KVFS_SET_SIZE,
						      .size = 3 * bs },
			      NULL, NULL),
		 0);
	close_and_scrub(mp);
}

/*
 * A data fork that is a B+tree only because the attribute fork took half
 * the inode: when the attribute fork goes, its extents fit the whole
 * inode again and it must be a list (the inode verifier rejects a tree
 * that fits).
 */
static void test_fork_grown(void)
{
	static char blk[4096], back[4096];
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	uint32_t bs, cap, half, n1;
	uint64_t ino, nb1;
	int i, nx;

	make_fs();
	mp = mount_fs();
	bs = mp->g.blocksize;
	ino = new_inode(mp, 0100644);
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.a", "x", 1, 0), 0);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	half = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	cap = (mp->g.inodesize - KVFS_DINODE_CORE_SIZE) /
	      sizeof(struct kvfs_extent);
	kvfs_iput(ip);
	/* (a preallocation past the end of file may be one more extent) */
	nx = (int)(half + cap) / 2;
	for (i = 0; i < nx; i++) {
		memset(blk, 'a' + i % 26, bs);
		CHECK_EQ(kvfs_write(mp, ino, blk, bs, (off_t)2 * i * bs, 0),
			 (ssize_t)bs);
	}
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	n1 = ip->i_nextents;
	nb1 = ip->i_nblocks;
	CHECK(n1 > half && n1 <= cap);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.a"), 0);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_forkoff, 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_EXTENTS);
	CHECK_EQ(ip->i_nextents, n1);
	/* the tree's block went back (the attribute was in the inode) */
	CHECK_EQ(ip->i_nblocks, nb1 - 1);
	kvfs_iput(ip);
	for (i = 0; i < nx; i++) {
		memset(blk, 'a' + i % 26, bs);
		CHECK_EQ(kvfs_read(mp, ino, back, bs, (off_t)2 * i * bs),
			 (ssize_t)bs);
		CHECK(!memcmp(back, blk, bs));
	}
	close_and_scrub(mp);
	printf("fork grown: a B+tree data fork of %u extents back to a list "
	       "when the attribute fork went\n",
	       n1);
}

static void test_btree_fork(void)
{
	btree_fork_case(true);
	btree_fork_case(false);
	printf("btree fork: attribute fork added to and removed from a "
	       "B+tree data fork, both orders\n");
}

/*
 * The last attribute of a file whose data fork is a B+tree that would fit
 * the whole inode as a list (8 extents beside 3 short attributes) goes: the
 * inode must stay valid.  Removing the fork made the data fork a B+tree
 * that fits the larger fork, which the verifier refuses: after a remount
 * the file was EUCLEAN (found by tests/stress fsstress on a mount).
 */
static void test_last_attr_btree(void)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	char name[24], buf[4096];
	uint64_t ino;
	struct kvfs_stat st;

	make_fs();
	mp = mount_fs();
	ino = new_inode(mp, S_IFREG | 0644);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "user.a%d", i);
		CHECK_EQ(kvfs_setxattr(mp, ino, name, "vvvvvvvvvvvvvvvvvvvv",
				       20, 0),
			 0);
	}
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 8; i++)
		CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf),
				    (off_t)i * 2 * sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_fsync(mp, ino, false), 0);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_dformat, KVFS_DFORK_BTREE);
	kvfs_iput(ip);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "user.a%d", i);
		CHECK_EQ(kvfs_removexattr(mp, ino, name), 0);
	}
	CHECK_EQ(kvfs_listxattr(mp, ino, buf, sizeof(buf)), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);
	mp = mount_fs();
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, 15 * sizeof(buf));
	CHECK_EQ(kvfs_read(mp, ino, buf, sizeof(buf), 14 * sizeof(buf)),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(buf[0], 'x');
	/* and an attribute again */
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.b", "w", 1, 0), 0);
	close_and_scrub(mp);
	printf("last attribute beside a B+tree data fork: inode valid\n");
}

/*
 * An attribute on an inode whose data fork fills it: a short-form
 * directory of 39 entries and a file of 59 extents (each past the point
 * where its fork left no room; -ENOSPC before).  The directory becomes
 * block form, the extent list a B+tree (XFS's xfs_bmap_add_attrfork);
 * entries and data intact, scrub clean after a remount.
 */
static void test_full_data_fork(void)
{
	const struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	char name[32], buf[4096], v[16];
	uint64_t dir, file;

	make_fs();
	mp = mount_fs();
	CHECK_EQ(kvfs_mkdir(mp, mp->g.rootino, "d", 0755, &cr, &st), 0);
	dir = st.ino;
	for (int i = 0; i < 39; i++) {
		snprintf(name, sizeof(name), "entry-%02d", i);
		CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, NULL),
			 0);
		CHECK_EQ(kvfs_setxattr(mp, dir, "user.x", "dirvalue", 8, 0), 0);
		CHECK_EQ(kvfs_removexattr(mp, dir, "user.x"), 0);
	}
	CHECK_EQ(kvfs_setxattr(mp, dir, "user.x", "dirvalue", 8, 0), 0);
	CHECK_EQ(kvfs_create(mp, mp->g.rootino, "f", S_IFREG | 0644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, NULL),
		 0);
	file = st.ino;
	memset(buf, 'y', sizeof(buf));
	for (int i = 0; i < 59; i++) {
		CHECK_EQ(kvfs_write(mp, file, buf, sizeof(buf),
				    (off_t)(2 * i + 1) * sizeof(buf), 0),
			 (ssize_t)sizeof(buf));
		CHECK_EQ(kvfs_fsync(mp, file, false), 0);
		CHECK_EQ(kvfs_setxattr(mp, file, "user.y", "filevalue", 9, 0),
			 0);
		CHECK_EQ(kvfs_removexattr(mp, file, "user.y"), 0);
	}
	CHECK_EQ(kvfs_setxattr(mp, file, "user.y", "filevalue", 9, 0), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	mp = mount_fs();
	CHECK_EQ(kvfs_getxattr(mp, dir, "user.x", v, sizeof(v)), 8);
	CHECK(!memcmp(v, "dirvalue", 8));
	CHECK_EQ(kvfs_getxattr(mp, file, "user.y", v, sizeof(v)), 9);
	CHECK(!memcmp(v, "filevalue", 9));
	for (int i = 0; i < 39; i++) {
		snprintf(name, sizeof(name), "entry-%02d", i);
		CHECK_EQ(kvfs_lookup(mp, dir, name, &st), 0);
	}
	for (int i = 0; i < 59; i++) {
		CHECK_EQ(kvfs_read(mp, file, buf, sizeof(buf),
				   (off_t)(2 * i + 1) * sizeof(buf)),
			 (ssize_t)sizeof(buf));
		CHECK(buf[0] == 'y' && buf[sizeof(buf) - 1] == 'y');
	}
	CHECK_EQ(kvfs_removexattr(mp, dir, "user.x"), 0);
	CHECK_EQ(kvfs_removexattr(mp, file, "user.y"), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	printf("attribute beside a full data fork: directory to blocks, "
	       "extents to a B+tree\n");
}

/* ---- an attribute fork past the inode: an extent-map B+tree ---- */

static const struct kvfs_cred root_cred;

/* A named regular file in the root directory (fsck wants names). */
static uint64_t new_file(struct kvfs_mount *mp, const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_create(mp, mp->g.rootino, name, 0100644, 0, 0, &root_cred,
			     &st, NULL),
		 0);
	return st.ino;
}

/*
 * Every free block taken by one file, then every other one of its first
 * blocks punched out (enough for the test, each punch a transaction): the
 * free space is single blocks.  The blocks kept for removals, which a set
 * cannot take, are lent to the filler while it fills (mp->resblks 0) and
 * given back as single blocks too: left as one free piece, they drew the
 * values there (a file extent takes the longest piece of any AG, XFS's
 * length selection), and the values, in fewer extents, ran out of space
 * before their fork's tree was two levels deep.  Only the AGs' set-asides
 * stay as they were (pieces of agfl_min + 4 blocks at most).
 */
#define FRAGMENTS 1600

static void fragment(struct kvfs_mount *mp)
{
	uint64_t ino = new_file(mp, "filler"), resblks = mp->resblks;
	off_t bs = mp->g.blocksize, end = 0, punched;

	mp->resblks = 0;
	for (off_t len = 256 * bs; len >= bs; len /= 2)
		while (kvfs_fallocate(mp, ino, 0, end, len) == 0)
			end += len;
	punched = 2 * (FRAGMENTS + (off_t)resblks) * bs;
	CHECK(end >= punched + 64 * bs);
	/* a punch may split the filler's tree: room for that first */
	CHECK_EQ(kvfs_fallocate(mp, ino,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				end - 64 * bs, 64 * bs),
		 0);
	for (off_t off = 0; off < punched; off += 2 * bs) {
		CHECK_EQ(kvfs_fallocate(mp, ino,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					off, bs),
			 0);
		/*
		 * the freed blocks stay busy until their frees are on disk
		 * (there is no log thread): the tree's splits want some
		 */
		if (off / bs % 512 == 510)
			CHECK_EQ(kvfs_sync(mp), 0);
	}
	/* the room left for the splits is the filler's again */
	CHECK_EQ(kvfs_sync(mp), 0);
	CHECK_EQ(kvfs_fallocate(mp, ino, 0, end - 64 * bs, 64 * bs), 0);
	mp->resblks = resblks;
}

/* Unmount, check with the checker and fsck.kvfs -f -n, mount again. */
static struct kvfs_mount *check_step(struct kvfs_mount *mp, const char *step)
{
	char cmd[600];
	int st;

	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	snprintf(cmd, sizeof(cmd), "'%s' -f -n '%s' >/dev/null", fsck_kvfs,
		 path);
	st = system(cmd);
	if (st)
		fprintf(stderr, "fsck.kvfs -f -n after %s: status %d\n", step,
			st);
	CHECK_EQ(st, 0);
	return mount_fs();
}

struct fork_state {
	uint8_t aformat; /* 0: no attribute fork */
	unsigned alevel; /* the root's level of a B+tree attribute fork */
	uint8_t dformat;
	uint64_t nblocks;
};

static struct fork_state fork_state(struct kvfs_mount *mp, uint64_t ino)
{
	struct fork_state f = { 0 };
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	f.aformat = ip->i_forkoff ? ip->i_aformat : 0;
	if (f.aformat == KVFS_DFORK_BTREE)
		f.alevel = kv_le16_to_cpu(
			((const struct kvfs_bmdr_block *)ip->i_afork)->level);
	f.dformat = ip->i_dformat;
	f.nblocks = ip->i_nblocks;
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return f;
}

/* One more data block of ino, every other file block: an extent each. */
static void grow_data(struct kvfs_mount *mp, uint64_t ino, unsigned *nd)
{
	uint32_t bs = mp->g.blocksize;

	memset(vbuf, 'a' + (int)(*nd % 26), bs);
	CHECK_EQ(kvfs_write(mp, ino, vbuf, bs, (off_t)2 * *nd * bs, 0),
		 (ssize_t)bs);
	(*nd)++;
}

static void check_data(struct kvfs_mount *mp, uint64_t ino, unsigned nd)
{
	static char back[1 << 16];
	uint32_t bs = mp->g.blocksize;

	for (unsigned i = 0; i < nd; i++) {
		CHECK_EQ(kvfs_read(mp, ino, back, bs, (off_t)2 * i * bs),
			 (ssize_t)bs);
		for (uint32_t k = 0; k < bs; k++)
			CHECK_EQ(back[k], 'a' + (int)(i % 26));
	}
}

static struct kvfs_mount *attr_btree_case(struct kvfs_mount *mp, bool data_tree)
{
	static char back[KVFS_XATTR_SIZE_MAX];
	const uint32_t vlen = KVFS_XATTR_SIZE_MAX;
	struct fork_state f;
	bool listed = false;
	uint8_t listed_fmt;
	unsigned n = 0, nd = 0;
	char name[32];
	uint64_t ino, nb0;
	int64_t fd0;

	ino = new_file(mp, data_tree ? "target-data" : "target");
	/* a B+tree data fork first: its root moves with the boundary */
	while (data_tree && fork_state(mp, ino).dformat != KVFS_DFORK_BTREE)
		grow_data(mp, ino, &nd);
	mp = check_step(mp, "a new file");
	fd0 = atomic_load(&mp->fdblocks);
	nb0 = fork_state(mp, ino).nblocks;
	/* one small attribute stays to the end: the fork outlives the tree */
	CHECK_EQ(kvfs_setxattr(mp, ino, "user.small", "s", 1, 0), 0);
	/* until the attribute fork's root is two levels above its leaves */
	for (f = fork_state(mp, ino); f.alevel < 2; f = fork_state(mp, ino)) {
		CHECK(n < 400);
		snprintf(name, sizeof(name), "user.big%04u", n);
		value_of(n, vlen, vbuf);
		CHECK_EQ(kvfs_setxattr(mp, ino, name, vbuf, vlen, 0), 0);
		n++;
		if (data_tree) {
			grow_data(mp, ino, &nd);
			CHECK_EQ(fork_state(mp, ino).dformat, KVFS_DFORK_BTREE);
		}
	}
	mp = check_step(mp, "setting");
	for (unsigned i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "user.big%04u", i);
		value_of(i, vlen, vbuf);
		CHECK_EQ(kvfs_getxattr(mp, ino, name, back, vlen),
			 (ssize_t)vlen);
		CHECK(!memcmp(back, vbuf, vlen));
	}
	check_data(mp, ino, nd);
	/* every other one first, then the rest: leaves merge, extents go */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = pass; i < n; i += 2) {
			snprintf(name, sizeof(name), "user.big%04u", i);
			CHECK_EQ(kvfs_removexattr(mp, ino, name), 0);
			f = fork_state(mp, ino);
			listed |= f.aformat != KVFS_DFORK_BTREE;
			CHECK(!listed || f.aformat != KVFS_DFORK_BTREE);
			if (data_tree && i % 8 == 0)
				grow_data(mp, ino, &nd);
		}
		if (!pass)
			mp = check_step(mp, "removing half");
	}
	/* the tree went back to a list (or the short form) in the inode */
	CHECK(listed);
	f = fork_state(mp, ino);
	CHECK(f.aformat == KVFS_DFORK_EXTENTS ||
	      f.aformat == KVFS_DFORK_INLINE);
	listed_fmt = f.aformat;
	CHECK_EQ(kvfs_getxattr(mp, ino, "user.small", back, 1), 1);
	CHECK_EQ(kvfs_removexattr(mp, ino, "user.small"), 0);
	f = fork_state(mp, ino);
	CHECK_EQ(f.aformat, 0);
	/* the attribute blocks and their tree's all back */
	CHECK_EQ(fd0 - atomic_load(&mp->fdblocks), (int64_t)(f.nblocks - nb0));
	if (!data_tree)
		CHECK_EQ(f.nblocks, 0);
	check_data(mp, ino, nd);
	mp = check_step(mp, "removing all");
	printf("attr btree%s: %u values of %u bytes in single free blocks, "
	       "attribute fork root level 2, back to %s and gone%s\n",
	       data_tree ? " (beside a B+tree data fork)" : "", n, vlen,
	       listed_fmt == KVFS_DFORK_EXTENTS ? "a list" : "the short form",
	       data_tree ? ", the data fork grown meanwhile" : "");
	return mp;
}

/*
 * A file whose forks are both B+trees unlinked: inactivation frees the
 * attribute fork's tree and blocks (kvfs_attr_inactive), then the data.
 */
static struct kvfs_mount *attr_btree_unlink(struct kvfs_mount *mp)
{
	const uint32_t vlen = KVFS_XATTR_SIZE_MAX;
	unsigned n = 0, nd = 0;
	char name[32];
	uint64_t ino;
	int64_t fd0;

	fd0 = atomic_load(&mp->fdblocks);
	ino = new_file(mp, "doomed");
	while (fork_state(mp, ino).dformat != KVFS_DFORK_BTREE)
		grow_data(mp, ino, &nd);
	while (fork_state(mp, ino).alevel < 2) {
		CHECK(n < 400);
		snprintf(name, sizeof(name), "user.big%04u", n);
		value_of(n, vlen, vbuf);
		CHECK_EQ(kvfs_setxattr(mp, ino, name, vbuf, vlen, 0), 0);
		n++;
	}
	CHECK_EQ(kvfs_unlink(mp, mp->g.rootino, "doomed"), 0);
	/* the unmount finishes the inactivation */
	mp = check_step(mp, "unlinking");
	CHECK_EQ(atomic_load(&mp->fdblocks), fd0);
	printf("attr btree: a file with %u values (root level 2) and a "
	       "B+tree data fork unlinked: every block back\n",
	       n);
	return mp;
}

static void set_big(struct kvfs_mount *mp, uint64_t ino, unsigned i)
{
	char name[32];

	snprintf(name, sizeof(name), "user.big%04u", i);
	value_of(i, KVFS_XATTR_SIZE_MAX, vbuf);
	CHECK_EQ(kvfs_setxattr(mp, ino, name, vbuf, KVFS_XATTR_SIZE_MAX, 0), 0);
}

/*
 * A power cut while a B+tree attribute fork grows and shrinks: recovery
 * replays the tree's blocks and its root in the inode.  Every value
 * forced before is there (but those removed after), each later one whole
 * or absent; the image is clean.
 */
static struct kvfs_mount *attr_btree_crash(struct kvfs_mount *mp)
{
	static char back[KVFS_XATTR_SIZE_MAX];
	const uint32_t vlen = KVFS_XATTR_SIZE_MAX;
	unsigned n = 0, forced, whole = 0;
	uint64_t ino = new_file(mp, "crashy");
	char name[32];

	while (fork_state(mp, ino).alevel < 2)
		set_big(mp, ino, n++);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	forced = n;
	for (unsigned k = 0; k < 4; k++)
		set_big(mp, ino, n++);
	for (unsigned i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "user.big%04u", i);
		CHECK_EQ(kvfs_removexattr(mp, ino, name), 0);
	}
	kvfs_mount_shutdown(mp, "power cut");
	kvfs_mount_close(mp);
	mp = mount_fs();
	CHECK(!mp->ri.was_clean && mp->ri.checkpoints_replayed > 0);
	for (unsigned i = 0; i < n; i++) {
		ssize_t got;

		snprintf(name, sizeof(name), "user.big%04u", i);
		got = kvfs_getxattr(mp, ino, name, back, vlen);
		if (got == -ENODATA) {
			CHECK(i < 8 || i >= forced);
			continue;
		}
		CHECK_EQ(got, (ssize_t)vlen);
		value_of(i, vlen, vbuf);
		CHECK(!memcmp(back, vbuf, vlen));
		whole++;
	}
	mp = check_step(mp, "a power cut");
	printf("attr btree: power cut with %u values, %u forced: %u whole "
	       "after recovery, the rest absent\n",
	       n, forced, whole);
	return mp;
}

/*
 * 2 KiB blocks: a 64 KiB value is 34 extents in single free blocks, and
 * the attribute fork's root is two levels up after a few hundred.  The
 * blocks freed by the first case are single blocks again for the second.
 */
static void test_attr_btree(void)
{
	struct kvfs_mount *mp;

	make_fs_bs(2048);
	mp = mount_fs();
	fragment(mp);
	mp = check_step(mp, "fragmenting");
	mp = attr_btree_case(mp, false);
	mp = attr_btree_case(mp, true);
	mp = attr_btree_unlink(mp);
	mp = attr_btree_crash(mp);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR");

	CHECK(argc == 2);
	fsck_kvfs = argv[1];

	snprintf(path, sizeof(path), "%s/kvfs-xattr-%d.img", dir ? dir : "/tmp",
		 (int)getpid());
	srand(7);
	CHECK_EQ(kv_init(NULL), 0);
	make_names();
	test_errnos();
	test_full();
	test_symlink();
	test_model();
	test_crash();
	test_damage();
	test_btree_fork();
	test_last_attr_btree();
	test_full_data_fork();
	test_fork_grown();
	test_attr_btree();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
