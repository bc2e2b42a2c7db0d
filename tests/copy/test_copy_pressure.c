// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_copy_file_range() under a small memory budget: a copy of a few
 * blocks succeeds while the allocator has no megabyte left, as the
 * write(2) of the same bytes would (fsx's copy_range op on a mount.kvfs
 * -o mem=16M failed with ENOMEM: the core asked for a 1 MiB bounce buffer
 * whatever the length).  Also a copy larger than the buffer that the
 * allocator can give still moves every byte.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/kvfs.h"
#include "tests/check.h"
#include "tests/file/fresh_fs.h"

#define KIB 1024
#define HOG_CHUNK (64 * KIB)
#define MAX_HOG 1024

static struct kvfs_mount *mp;
static struct kvfs_cred cr;
static uint8_t a[512 * KIB], b[512 * KIB];
static void *hog[MAX_HOG];
static unsigned nhog;

static uint64_t mkfile(const char *name)
{
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	return st.ino;
}

/* [off, off + len) of ino equals want */
static void same(uint64_t ino, off_t off, const uint8_t *want, size_t len)
{
	CHECK_EQ(kvfs_read(mp, ino, b, len, off), (ssize_t)len);
	CHECK(!memcmp(b, want, len));
}

/*
 * Takes the budget in 64 KiB pieces, reclaim allowed, until the allocator
 * refuses one; then gives back keep of them: what is left free is less
 * than a megabyte.
 */
static void hog_memory(unsigned keep)
{
	void *p;

	while ((p = kvmalloc(HOG_CHUNK, KV_NOWARN)) != NULL) {
		CHECK(nhog < MAX_HOG);
		hog[nhog++] = p;
	}
	CHECK(nhog > keep);
	for (unsigned i = 0; i < keep; i++)
		kvfree(hog[--nhog]);
}

static void unhog(void)
{
	while (nhog)
		kvfree(hog[--nhog]);
}

int main(void)
{
	static char path[] = "/tmp/kvfs-test-copyp-XXXXXX";
	struct kv_config cfg = { .budget_bytes = 16u << 20 };
	uint64_t src, dst;
	struct kvfs_geom g;
	struct kvfs_stat st;
	void *big;

	CHECK_EQ(kv_init(&cfg), 0);
	mp = fresh_fs(path, 64 << 20, 4, &g);
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 131 + 7 + (i >> 12));
	src = mkfile("src");
	dst = mkfile("dst");
	CHECK_EQ(kvfs_write(mp, src, a, sizeof(a), 0, 0), (ssize_t)sizeof(a));
	CHECK_EQ(kvfs_sync(mp), 0);

	/*
	 * 768 KiB left: no megabyte, yet room for what the log's threads
	 * take meanwhile (with 256 KiB an extent-map allocation that
	 * cannot fail waited forever once they had taken it)
	 */
	hog_memory(12);
	/* the premise: no megabyte to be had */
	big = kvmalloc(1u << 20, KV_NOWARN);
	CHECK(big == NULL);

	/* fsx's case: 45426 bytes at unaligned offsets */
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0x8101, dst, 0x4e8e, 45426, 0),
		 45426);
	same(dst, 0x4e8e, a + 0x8101, 45426);
	/* more than the buffer it could get: every byte all the same */
	CHECK_EQ(kvfs_copy_file_range(mp, src, 0, dst, 0, sizeof(a), 0),
		 (ssize_t)sizeof(a));
	same(dst, 0, a, sizeof(a));
	CHECK_EQ(kvfs_getattr(mp, dst, &st), 0);
	CHECK_EQ(st.size, sizeof(a));

	unhog();
	CHECK_EQ(kvfs_release(mp, src), 0);
	CHECK_EQ(kvfs_release(mp, dst), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("copy_pressure: ok\n");
	return 0;
}
