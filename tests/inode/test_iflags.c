// SPDX-License-Identifier: GPL-2.0
/*
 * chattr's flags (fs/inode/iflags.c, fs/inode/iflags.h) at the API level:
 *  - kvfs_getflags() / kvfs_setflags(): the flags kept, -EOPNOTSUPP for
 *    others, -EPERM for a caller neither root nor the owner and for a
 *    non-root owner changing immutable or append-only; ctime moves;
 *  - an immutable file: no size, mode, owner or times change, no xattr
 *    change, no unlink, rename (either side), link, fallocate nor
 *    copy_file_range into it; reads still work;
 *  - an append-only file: no truncate, times given, punch, unlink,
 *    link, xattr change; times set to now and allocations past EOF
 *    keeping the size are fine;
 *  - an immutable directory takes and loses no name (an existing name
 *    still answers -EEXIST first); an append-only one takes names and
 *    loses none;
 *  - every refused operation changed nothing; the flags outlive an
 *    unmount, and a power cut after the log was forced (recovery replays
 *    them), and the checker finds the image clean.
 */
#include <linux/falloc.h>

#include "journal/journal.h"
#include "tests/dir/dirtest.h"

static const struct kvfs_cred owner = { .uid = 1000, .gid = 1000 };
static const struct kvfs_cred other = { .uid = 1001, .gid = 1001 };
static const struct kvfs_cred root = { 0 };

static uint64_t mkfile(struct kvfs_mount *mp, uint64_t dir, const char *name)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_create(mp, dir, name, 0100644, 0, KVFS_CREATE_EXCL,
			     &owner, &st, NULL),
		 0);
	CHECK_EQ(kvfs_write(mp, st.ino, "abcdefgh", 8, 0, 0), 8);
	return st.ino;
}

static uint32_t flags_of(struct kvfs_mount *mp, uint64_t ino)
{
	uint32_t fl;

	CHECK_EQ(kvfs_getflags(mp, ino, &fl), 0);
	return fl;
}

static struct kvfs_stat attr_of(struct kvfs_mount *mp, uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st;
}

static bool same_stat(const struct kvfs_stat *a, const struct kvfs_stat *b)
{
	return a->mode == b->mode && a->nlink == b->nlink && a->uid == b->uid &&
	       a->gid == b->gid && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static int set_attr(struct kvfs_mount *mp, uint64_t ino, unsigned valid)
{
	struct kvfs_setattr sa = { .valid = valid,
				   .mode = 0600,
				   .uid = 7,
				   .gid = 7,
				   .size = 2,
				   .atime = { 1000, 0 },
				   .mtime = { 1000, 0 } };

	return kvfs_setattr(mp, ino, &sa, &root, NULL);
}

static void test_get_set(struct kvfs_mount *mp, uint64_t root_ino)
{
	uint64_t f = mkfile(mp, root_ino, "getset");
	struct kvfs_stat before, after;

	CHECK_EQ(flags_of(mp, f), 0);
	CHECK_EQ(kvfs_setflags(mp, f, 0x00000008u /* FS_SYNC_FL */, &root),
		 -EOPNOTSUPP);
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_NODUMP, &other), -EPERM);
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_IMMUTABLE, &owner), -EPERM);
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_APPEND, &owner), -EPERM);
	CHECK_EQ(flags_of(mp, f), 0);
	before = attr_of(mp, f);
	/* the owner may set what is not immutable nor append-only */
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_NODUMP | KVFS_FL_NOATIME, &owner),
		 0);
	CHECK_EQ(flags_of(mp, f), KVFS_FL_NODUMP | KVFS_FL_NOATIME);
	after = attr_of(mp, f);
	CHECK(after.ctime.tv_sec > before.ctime.tv_sec ||
	      (after.ctime.tv_sec == before.ctime.tv_sec &&
	       after.ctime.tv_nsec >= before.ctime.tv_nsec));
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_ALL, &root), 0);
	CHECK_EQ(flags_of(mp, f), KVFS_FL_ALL);
	/* nor may the owner take immutable away again */
	CHECK_EQ(kvfs_setflags(mp, f, 0, &owner), -EPERM);
	CHECK_EQ(kvfs_setflags(mp, f, 0, &root), 0);
	CHECK_EQ(flags_of(mp, f), 0);
	CHECK_EQ(kvfs_unlink(mp, root_ino, "getset"), 0);
}

static void test_immutable_file(struct kvfs_mount *mp, uint64_t dir)
{
	uint64_t f = mkfile(mp, dir, "imm"), g = mkfile(mp, dir, "other");
	unsigned bits[] = { KVFS_SET_SIZE,
			    KVFS_SET_MODE,
			    KVFS_SET_UID,
			    KVFS_SET_GID,
			    KVFS_SET_MTIME,
			    KVFS_SET_ATIME | KVFS_SET_ATIME_NOW,
			    KVFS_SET_MTIME | KVFS_SET_MTIME_NOW,
			    KVFS_SET_MTIME | KVFS_SET_KEEP_CMTIME };
	int modes[] = { 0, FALLOC_FL_KEEP_SIZE,
			FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			FALLOC_FL_ZERO_RANGE };
	struct kvfs_stat before, after;
	char buf[8];

	CHECK_EQ(kvfs_setxattr(mp, f, "user.kept", "v", 1, 0), 0);
	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_IMMUTABLE, &root), 0);
	before = attr_of(mp, f);
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		CHECK_EQ(set_attr(mp, f, bits[i]), -EPERM);
	CHECK_EQ(kvfs_setxattr(mp, f, "user.new", "v", 1, 0), -EPERM);
	CHECK_EQ(kvfs_setxattr(mp, f, "user.kept", "w", 1, 0), -EPERM);
	CHECK_EQ(kvfs_removexattr(mp, f, "user.kept"), -EPERM);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		CHECK_EQ(kvfs_fallocate(mp, f, modes[i], 0, 4096), -EPERM);
	CHECK_EQ(kvfs_copy_file_range(mp, g, 0, f, 0, 4, 0), -EPERM);
	CHECK_EQ(kvfs_unlink(mp, dir, "imm"), -EPERM);
	CHECK_EQ(kvfs_rename(mp, dir, "imm", dir, "moved", 0, &root), -EPERM);
	CHECK_EQ(kvfs_rename(mp, dir, "other", dir, "imm", 0, &root), -EPERM);
	CHECK_EQ(kvfs_rename(mp, dir, "other", dir, "imm", KVFS_RENAME_EXCHANGE,
			     &root),
		 -EPERM);
	CHECK_EQ(kvfs_link(mp, f, dir, "imm2", NULL), -EPERM);
	/* reads, and the flags' own change, still work */
	CHECK_EQ(kvfs_read(mp, f, buf, sizeof(buf), 0), 8);
	CHECK(!memcmp(buf, "abcdefgh", 8));
	CHECK_EQ(kvfs_getxattr(mp, f, "user.kept", buf, sizeof(buf)), 1);
	after = attr_of(mp, f);
	CHECK(same_stat(&before, &after));
	CHECK_EQ(kvfs_lookup(mp, dir, "imm2", &after), -ENOENT);
	/* the stamps of writes taken before the flag, and nothing more */
	CHECK_EQ(set_attr(mp, f,
			  KVFS_SET_MTIME | KVFS_SET_ATIME |
				  KVFS_SET_KEEP_CMTIME |
				  KVFS_SET_WRITTEN_CMTIME),
		 -EPERM);
	CHECK_EQ(set_attr(mp, f,
			  KVFS_SET_MTIME | KVFS_SET_MODE |
				  KVFS_SET_KEEP_CMTIME |
				  KVFS_SET_WRITTEN_CMTIME),
		 -EPERM);
	CHECK_EQ(set_attr(mp, f,
			  KVFS_SET_MTIME | KVFS_SET_KEEP_CMTIME |
				  KVFS_SET_WRITTEN_CMTIME),
		 0);
	CHECK_EQ(attr_of(mp, f).mtime.tv_sec, 1000);
	CHECK_EQ(kvfs_lookup(mp, dir, "moved", &after), -ENOENT);
	CHECK_EQ(kvfs_lookup(mp, dir, "other", &after), 0);
	CHECK_EQ(after.ino, g);
	CHECK_EQ(kvfs_setflags(mp, f, 0, &root), 0);
	CHECK_EQ(set_attr(mp, f, KVFS_SET_SIZE), 0);
	CHECK_EQ(kvfs_link(mp, f, dir, "imm2", NULL), 0);
	CHECK_EQ(kvfs_unlink(mp, dir, "imm2"), 0);
	CHECK_EQ(kvfs_unlink(mp, dir, "imm"), 0);
	CHECK_EQ(kvfs_unlink(mp, dir, "other"), 0);
}

static void test_append_file(struct kvfs_mount *mp, uint64_t dir)
{
	uint64_t f = mkfile(mp, dir, "app");
	struct kvfs_stat st;

	CHECK_EQ(kvfs_setflags(mp, f, KVFS_FL_APPEND, &root), 0);
	CHECK_EQ(set_attr(mp, f, KVFS_SET_SIZE), -EPERM);
	CHECK_EQ(set_attr(mp, f, KVFS_SET_MODE), -EPERM);
	CHECK_EQ(set_attr(mp, f, KVFS_SET_MTIME), -EPERM);
	CHECK_EQ(kvfs_fallocate(mp, f,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				4096),
		 -EPERM);
	CHECK_EQ(kvfs_fallocate(mp, f, FALLOC_FL_ZERO_RANGE, 0, 4096), -EPERM);
	CHECK_EQ(kvfs_setxattr(mp, f, "user.a", "v", 1, 0), -EPERM);
	CHECK_EQ(kvfs_unlink(mp, dir, "app"), -EPERM);
	CHECK_EQ(kvfs_link(mp, f, dir, "app2", NULL), -EPERM);
	/* what only adds */
	CHECK_EQ(set_attr(mp, f, KVFS_SET_MTIME | KVFS_SET_MTIME_NOW), 0);
	CHECK_EQ(set_attr(mp, f, KVFS_SET_MTIME | KVFS_SET_KEEP_CMTIME), 0);
	CHECK_EQ(kvfs_fallocate(mp, f, FALLOC_FL_KEEP_SIZE, 0, 65536), 0);
	CHECK_EQ(kvfs_write(mp, f, "ij", 2, 8, KVFS_WRITE_APPEND), 2);
	st = attr_of(mp, f);
	CHECK_EQ(st.size, 10);
	CHECK_EQ(kvfs_setflags(mp, f, 0, &root), 0);
	CHECK_EQ(kvfs_unlink(mp, dir, "app"), 0);
}

static void test_immutable_dir(struct kvfs_mount *mp, uint64_t root_ino)
{
	uint64_t d = dir_mkdir(mp, root_ino, "idir", &owner);
	uint64_t f = mkfile(mp, d, "inside"), out = mkfile(mp, root_ino, "out");
	struct kvfs_stat st, before, after;
	bool created;

	dir_mkdir(mp, d, "sub", &owner);
	CHECK_EQ(kvfs_setflags(mp, d, KVFS_FL_IMMUTABLE, &root), 0);
	before = attr_of(mp, d);
	/* an existing name answers as it would */
	CHECK_EQ(kvfs_create(mp, d, "inside", 0100644, 0, KVFS_CREATE_EXCL,
			     &owner, &st, &created),
		 -EEXIST);
	CHECK_EQ(kvfs_mkdir(mp, d, "sub", 0755, &owner, &st), -EEXIST);
	CHECK_EQ(kvfs_create(mp, d, "new", 0100644, 0, KVFS_CREATE_EXCL, &owner,
			     &st, &created),
		 -EPERM);
	CHECK_EQ(
		kvfs_create(mp, d, "fifo", 010644, 0, 0, &owner, &st, &created),
		-EPERM);
	CHECK_EQ(kvfs_mkdir(mp, d, "newdir", 0755, &owner, &st), -EPERM);
	CHECK_EQ(kvfs_symlink(mp, d, "sym", "target", &owner, &st), -EPERM);
	CHECK_EQ(kvfs_link(mp, out, d, "linked", NULL), -EPERM);
	CHECK_EQ(kvfs_tmpfile(mp, d, 0644, &owner, &st), -EPERM);
	CHECK_EQ(kvfs_unlink(mp, d, "inside"), -EPERM);
	/* the flag before the type and the emptiness */
	CHECK_EQ(kvfs_rmdir(mp, d, "inside"), -EPERM);
	CHECK_EQ(kvfs_unlink(mp, d, "sub"), -EPERM);
	CHECK_EQ(kvfs_rename(mp, d, "inside", root_ino, "moved", 0, &root),
		 -EPERM);
	CHECK_EQ(kvfs_rename(mp, root_ino, "out", d, "in", 0, &root), -EPERM);
	CHECK_EQ(kvfs_rename(mp, root_ino, "out", d, "inside", 0, &root),
		 -EPERM);
	/* an immutable directory itself cannot go, even empty of names */
	CHECK_EQ(kvfs_rmdir(mp, root_ino, "idir"), -EPERM);
	CHECK_EQ(kvfs_rename(mp, root_ino, "idir", root_ino, "idir2", 0, &root),
		 -EPERM);
	after = attr_of(mp, d);
	CHECK(same_stat(&before, &after));
	CHECK_EQ(kvfs_lookup(mp, d, "inside", &st), 0);
	CHECK_EQ(st.ino, f);
	/* names inside an immutable directory's files still change */
	CHECK_EQ(kvfs_write(mp, f, "z", 1, 0, 0), 1);
	CHECK_EQ(kvfs_setflags(mp, d, 0, &root), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "inside"), 0);
	CHECK_EQ(kvfs_rmdir(mp, d, "sub"), 0);
	CHECK_EQ(kvfs_rmdir(mp, root_ino, "idir"), 0);
	CHECK_EQ(kvfs_unlink(mp, root_ino, "out"), 0);
}

static void test_append_dir(struct kvfs_mount *mp, uint64_t root_ino)
{
	uint64_t d = dir_mkdir(mp, root_ino, "adir", &owner);
	struct kvfs_stat st;

	mkfile(mp, d, "first");
	mkfile(mp, root_ino, "mover");
	CHECK_EQ(kvfs_setflags(mp, d, KVFS_FL_APPEND, &root), 0);
	mkfile(mp, d, "second");
	CHECK_EQ(kvfs_rename(mp, root_ino, "mover", d, "moved", 0, &root), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "first"), -EPERM);
	CHECK_EQ(kvfs_rename(mp, d, "second", d, "third", 0, &root), -EPERM);
	CHECK_EQ(kvfs_rename(mp, root_ino, "adir", root_ino, "bdir", 0, &root),
		 -EPERM);
	CHECK_EQ(kvfs_lookup(mp, d, "second", &st), 0);
	CHECK_EQ(kvfs_setflags(mp, d, 0, &root), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "first"), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "second"), 0);
	CHECK_EQ(kvfs_unlink(mp, d, "moved"), 0);
	CHECK_EQ(kvfs_rmdir(mp, root_ino, "adir"), 0);
}

int main(void)
{
	struct kvfs_mount *mp;
	uint64_t root_ino, kept;
	struct kvfs_stat st;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("iflags");
	make_fs(64 << 20, 0);
	mp = mount_fs();
	root_ino = kvfs_root_ino(mp);
	test_get_set(mp, root_ino);
	test_immutable_file(mp, root_ino);
	test_append_file(mp, root_ino);
	test_immutable_dir(mp, root_ino);
	test_append_dir(mp, root_ino);
	/* the flags are on disk */
	kept = mkfile(mp, root_ino, "kept");
	CHECK_EQ(kvfs_setflags(mp, kept, KVFS_FL_IMMUTABLE | KVFS_FL_NODUMP,
			       &root),
		 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	mp = mount_fs();
	CHECK_EQ(kvfs_lookup(mp, root_ino, "kept", &st), 0);
	CHECK_EQ(flags_of(mp, st.ino), KVFS_FL_IMMUTABLE | KVFS_FL_NODUMP);
	CHECK_EQ(kvfs_unlink(mp, root_ino, "kept"), -EPERM);
	/* logged, then a power cut: recovery gives the change back */
	CHECK_EQ(kvfs_setflags(mp, st.ino, KVFS_FL_APPEND, &root), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	kvfs_mount_shutdown(mp, "power cut");
	kvfs_mount_close(mp);
	mp = mount_fs();
	CHECK_EQ(flags_of(mp, st.ino), KVFS_FL_APPEND);
	CHECK_EQ(kvfs_unlink(mp, root_ino, "kept"), -EPERM);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("iflags: ok\n");
	return 0;
}
