// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_copy_file_range() (fs/data/copy_range.c) cut by ENOSPC after a hole
 * of the source that lies past the destination's end: the count returned
 * and the destination's size agree.  The hole was counted but skipped,
 * the data after it found no room, and the size was moved only when
 * nothing failed: 1 MiB reported copied into a file left at 4 KiB
 * (fsstress.py on a near-full mount: under the writeback cache the kernel
 * took the count's end as the size, and a copy from the file then gave
 * 0 bytes; without it, the file was short of the count).  The checker
 * finds nothing after.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"
#include "tests/scrub_util.h"

#define KIB (1u << 10)
#define MIB (1u << 20)
#define HOLE_END MIB
#define TAIL (64 * KIB)

static struct kvfs_mount *mp;
static struct kvfs_cred cr;
static uint8_t a[TAIL], b[MIB + TAIL];

static uint64_t mkfile(const char *name)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	return st.ino;
}

static uint64_t size_of(uint64_t ino)
{
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	return st.size;
}

/* files of blocks written one by one until the space is gone */
static void fill(const struct kvfs_geom *g)
{
	char name[32];
	unsigned n = 0;

	for (;;) {
		struct kvfs_stat st;
		bool created;
		uint64_t ino;
		off_t off = 0;
		ssize_t w;
		int err;

		snprintf(name, sizeof(name), "fill%u", n++);
		err = kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644,
				  0, 0, &cr, &st, &created);
		if (err == -ENOSPC)
			return;
		CHECK_EQ(err, 0);
		ino = st.ino;
		while ((w = kvfs_write(mp, ino, a, g->blocksize, off, 0)) ==
		       (ssize_t)g->blocksize)
			off += w;
		CHECK_EQ(w, -ENOSPC);
		/* a file that got no block: the space is gone */
		if (!off)
			return;
	}
}

int main(void)
{
	static char path[] = "/tmp/kvfs-test-copy-enospc-XXXXXX";
	struct kvfs_mount *m;
	struct kvfs_geom g;
	uint64_t src, dst, size;
	ssize_t n;

	CHECK_EQ(kv_init(NULL), 0);
	m = mp = fresh_fs(path, 32 << 20, 2, &g);

	/* src: 4 KiB of data, a hole to 1 MiB, 64 KiB of data */
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 131 + 7);
	src = mkfile("src");
	CHECK_EQ(kvfs_write(mp, src, a, 4 * KIB, 0, 0), 4 * KIB);
	CHECK_EQ(kvfs_write(mp, src, a, TAIL, HOLE_END, 0), TAIL);
	/* dst: 4 KiB of its own, overwritten in place by the copy */
	dst = mkfile("dst");
	memset(b, 0xee, 4 * KIB);
	CHECK_EQ(kvfs_write(mp, dst, b, 4 * KIB, 0, 0), 4 * KIB);
	CHECK_EQ(kvfs_release(mp, src), 0);
	CHECK_EQ(kvfs_release(mp, dst), 0);
	fill(&g);

	n = kvfs_copy_file_range(mp, src, 0, dst, 0, 2 * MIB, 0);
	size = size_of(dst);
	printf("copy_enospc: %zd bytes copied of %u, destination %llu bytes\n",
	       n, HOLE_END + TAIL, (unsigned long long)size);
	/* the premise: the first 4 KiB went, the tail found no room */
	CHECK(n >= 4 * (ssize_t)KIB);
	CHECK(n < (ssize_t)(HOLE_END + TAIL));
	/* what was counted is there: the data, then the hole's zeros */
	CHECK_EQ(size, (uint64_t)n);
	CHECK_EQ(kvfs_read(mp, dst, b, sizeof(b), 0), n);
	CHECK(!memcmp(b, a, 4 * KIB));
	for (ssize_t i = 4 * KIB; i < n; i++)
		CHECK_EQ(b[i], 0);

	CHECK_EQ(kvfs_close(m), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
