// SPDX-License-Identifier: GPL-2.0
/*
 * The smallest memory budget a mount accepts (kvfs_mount_min_budget()):
 * with 64 KiB blocks a create once waited forever in a NOFAIL allocation
 * of its commit under a 1.6 MiB budget.  Such a budget is now refused up
 * front (-EINVAL, the minimum named in kvfs_open_error(), the image left
 * as it was); a budget of exactly the minimum mounts, and creates, writes,
 * syncs and unlinks from as many threads as it was computed for.  A 4 KiB
 * filesystem's minimum stays within the 2 MiB that tests/crash
 * crash_memory runs under.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "tests/check.h"

#define THREADS 2
#define FILES 60

static char path[256];

static void make_fs(uint32_t blocksize, struct kvfs_geom *g)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 256 << 20,
				    .blocksize = blocksize,
				    .force = true };

	CHECK_EQ(kv_init(NULL), 0);
	CHECK_EQ(kvfs_mkfs(&o, g), 0);
	CHECK_EQ(kv_fini(), 0);
}

static uint8_t *slurp(size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;

	CHECK(f && fseek(f, 0, SEEK_END) == 0);
	n = ftell(f);
	CHECK(n > 0 && fseek(f, 0, SEEK_SET) == 0);
	b = malloc((size_t)n);
	CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
	fclose(f);
	*lenp = (size_t)n;
	return b;
}

struct worker {
	struct kvfs_mount *mp;
	unsigned idx;
};

/* Create, write 64 KiB into, sync and unlink every other of FILES files. */
static void *work(void *arg)
{
	static const struct kvfs_cred cr = { 0 };
	struct worker *w = arg;
	uint64_t root = kvfs_root_ino(w->mp);
	static uint8_t buf[64 << 10];
	struct kvfs_stat st;
	char name[32];
	bool created;
	unsigned i;

	for (i = 0; i < FILES; i++) {
		snprintf(name, sizeof(name), "t%u-%u", w->idx, i);
		CHECK_EQ(kvfs_create(w->mp, root, name, 0100644, 0, 0, &cr, &st,
				     &created),
			 0);
		CHECK_EQ(kvfs_write(w->mp, st.ino, buf, sizeof(buf), 0, 0),
			 sizeof(buf));
		if (i % 16 == 0)
			CHECK_EQ(kvfs_fsync(w->mp, st.ino, false), 0);
		CHECK_EQ(kvfs_release(w->mp, st.ino), 0);
	}
	for (i = 0; i < FILES; i += 2) {
		snprintf(name, sizeof(name), "t%u-%u", w->idx, i);
		CHECK_EQ(kvfs_unlink(w->mp, root, name), 0);
	}
	return NULL;
}

static void run_at(size_t budget, unsigned threads)
{
	struct kv_config kc = { .budget_bytes = budget };
	struct kvfs_open_opts oo = { .cache_bytes = budget / 2,
				     .threads = threads };
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct kvfs_mount *mp;
	unsigned i;

	CHECK_EQ(kv_init(&kc), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, NULL), 0);
	for (i = 0; i < threads; i++) {
		w[i].mp = mp;
		w[i].idx = i;
		CHECK(pthread_create(&th[i], NULL, work, &w[i]) == 0);
	}
	for (i = 0; i < threads; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kv_fini(), 0);
}

static void test_large_blocks(void)
{
	struct kvfs_geom g;
	struct kv_config kc;
	struct kvfs_open_opts oo = { .threads = THREADS };
	struct kvfs_mount *mp = NULL;
	uint64_t min;
	uint8_t *before, *after;
	size_t blen, alen;
	char want[64];

	make_fs(64 << 10, &g);
	min = kvfs_mount_min_budget(&g, false, THREADS);
	/* the budget a create hung in, and one per thread more than one */
	CHECK(min > (1600u << 10));
	CHECK(min > kvfs_mount_min_budget(&g, false, 1));
	CHECK(kvfs_mount_min_budget(&g, true, THREADS) < min);
	CHECK_EQ(min % (1u << 20), 0);

	before = slurp(&blen);
	kc = (struct kv_config){ .budget_bytes = min - (1u << 20) };
	CHECK_EQ(kv_init(&kc), 0);
	CHECK_EQ(kvfs_open(path, &oo, &mp, NULL), -EINVAL);
	CHECK(mp == NULL);
	snprintf(want, sizeof(want), "needs at least %llu MiB",
		 (unsigned long long)(min >> 20));
	CHECK(strstr(kvfs_open_error(), want));
	CHECK(strstr(kvfs_open_error(), "too small"));
	CHECK_EQ(kv_fini(), 0);
	after = slurp(&alen);
	CHECK(blen == alen && !memcmp(before, after, blen));
	free(before);
	free(after);

	run_at(min, THREADS);
}

static void test_small_blocks(void)
{
	struct kvfs_geom g;
	uint64_t min;

	make_fs(4096, &g);
	min = kvfs_mount_min_budget(&g, false, 1);
	CHECK(min <= (2u << 20));
	run_at(min, 1);
}

int main(void)
{
	const char *dir = getenv("TMPDIR");

	/* a mount waiting for memory forever fails the test */
	alarm(120);
	snprintf(path, sizeof(path), "%s/kvfs-budget-%d.img",
		 dir ? dir : "/tmp", (int)getpid());
	test_large_blocks();
	test_small_blocks();
	unlink(path);
	printf("mount budget: ok\n");
	return 0;
}
