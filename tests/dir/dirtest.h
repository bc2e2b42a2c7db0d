/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers of the directory tests: images, mounts, readdir into arrays. */
#ifndef KV_TESTS_DIR_DIRTEST_H
#define KV_TESTS_DIR_DIRTEST_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

static char path[256];

static inline void set_path(const char *name)
{
	const char *dir = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/kvfs-dir-%s-%d.img",
		 dir ? dir : "/tmp", name, (int)getpid());
}

static inline void make_fs(uint64_t size, uint32_t dirblksize)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = size,
				    .agcount = 2,
				    .dirblksize = dirblksize,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static inline struct kvfs_mount *mount_fs(void)
{
	struct kvfs_mount_opts o = { 0 };
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	return mp;
}

/* A new directory (0755) name in dir, made as cr: its inode number. */
static inline uint64_t dir_mkdir(struct kvfs_mount *mp, uint64_t dir,
				 const char *name, const struct kvfs_cred *cr)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_mkdir(mp, dir, name, 0755, cr, &st), 0);
	CHECK(S_ISDIR(st.mode));
	CHECK_EQ(st.nlink, 2);
	return st.ino;
}

/* A new empty regular file (0644, exclusive) name in dir: its number. */
static inline uint64_t dir_creat(struct kvfs_mount *mp, uint64_t dir,
				 const char *name, const struct kvfs_cred *cr)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, dir, name, S_IFREG | 0644, 0, KVFS_CREATE_EXCL,
			     cr, &st, &created),
		 0);
	CHECK(created);
	return st.ino;
}

/* One readdir result. */
struct dent {
	char name[256];
	uint64_t ino;
	unsigned dtype;
	uint64_t next;
};

struct dlist {
	struct dent *v;
	size_t n, cap;
	size_t limit; /* stop after this many (0: no limit) */
};

static inline int dlist_fill(void *priv, const char *name, size_t namelen,
			     uint64_t ino, unsigned dtype, uint64_t next)
{
	struct dlist *l = priv;

	if (l->limit && l->n >= l->limit)
		return 1;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		CHECK(l->v);
	}
	CHECK(namelen <= 255);
	memcpy(l->v[l->n].name, name, namelen);
	l->v[l->n].name[namelen] = '\0';
	l->v[l->n].ino = ino;
	l->v[l->n].dtype = dtype;
	l->v[l->n].next = next;
	CHECK(next < 1ull << 63);
	l->n++;
	return 0;
}

#endif
