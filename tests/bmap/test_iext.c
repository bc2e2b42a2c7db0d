// SPDX-License-Identifier: GPL-2.0
/*
 * The in-core extent list of a B+tree data fork (fs/data/iext.h) against
 * a model, through the public data path (fs/kvfs.h), 1 KiB blocks so that
 * the file's tree holds thousands of extents and its list many leaves:
 *
 *   model:    random writes, punches, zero ranges (with and without
 *             KEEP_SIZE), fallocates, truncates down and up and
 *             copy_file_range from a second fragmented file; after each,
 *             the list (loaded by a lookup) is compared record by record
 *             with the tree (kvfs_bmap_check(), which also fails on a list
 *             left over by a fork that is no tree); every few steps the
 *             file is read whole against the model, its list dropped by
 *             the shrinker's pass (then reloaded by the next read), the
 *             inode evicted from the cache, or the filesystem remounted;
 *   pressure: the kvalloc budget exhausted: the shrinker ("kvfs_iext")
 *             frees lists, and the files read back right, lists reloaded;
 *   race:     readers of both files while the main thread changes one
 *             and another thread runs the shrinker's pass and the inode
 *             cache's reclaim in a loop (a pass holds the lock of an
 *             inode whose list it drops while reclaim may free it: ASan
 *             builds see any use after free); every read succeeds, and
 *             afterwards both files read back as their models.
 *
 * The debug build also compares list and tree after every change of a
 * tree of up to 1024 extents (fs/data/bmap.c), aborting on a difference.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <linux/falloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/bmap.h"
#include "fs/data/iext.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "tests/check.h"

#define REGION (6u << 20) /* the file's offsets in play */
#define MAXIO (24u << 10)
#define STEPS 700

static char path[] = "/tmp/kvfs-test-iext-XXXXXX";
static struct kvfs_mount *mp;
static uint64_t ino_a, ino_b;
static uint8_t *model_a, *model_b; /* REGION + MAXIO bytes, 0 past size */
static uint64_t size_a, size_b;
static uint64_t seed = 0x2545f4914f6cdd1dull;

static struct {
	unsigned btree_checks, drops, evictions, remounts;
	uint32_t max_extents;
} seen;

static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

static void mount_fs(void)
{
	struct kvfs_open_info info;

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
}

static uint64_t create(const char *name)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st;
	bool created;

	CHECK_EQ(kvfs_create(mp, mp->g.rootino, name, 0100644, 0,
			     KVFS_CREATE_EXCL, &cr, &st, &created),
		 0);
	return st.ino;
}

static void m_zero(uint8_t *m, uint64_t size, uint64_t off, uint64_t end)
{
	if (end > size)
		end = size;
	if (off < end)
		memset(m + off, 0, end - off);
}

static void do_write(uint64_t ino, uint8_t *m, uint64_t *size, uint64_t off,
		     uint64_t len, uint8_t v)
{
	uint8_t *buf = malloc(len);

	CHECK(buf);
	memset(buf, v, len);
	CHECK_EQ(kvfs_write(mp, ino, buf, len, (off_t)off, 0), (ssize_t)len);
	memcpy(m + off, buf, len);
	if (off + len > *size)
		*size = off + len;
	free(buf);
}

static void do_truncate(uint64_t ino, uint8_t *m, uint64_t *size, uint64_t to)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE, .size = to };
	struct kvfs_cred cr = { 0 };

	CHECK_EQ(kvfs_setattr(mp, ino, &sa, &cr, NULL), 0);
	m_zero(m, *size, to, *size);
	*size = to;
}

/* The list of ino, loaded by a lookup, is the tree's record for record. */
static void check_list(uint64_t ino)
{
	struct kvfs_inode *ip;
	struct kvfs_bmap map[1];
	char why[256];
	int nmap = 1, err;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	if (ip->i_dformat == KVFS_DFORK_BTREE) {
		CHECK_EQ(kvfs_bmapi_read(ip, rnd() % (REGION >> 10), 1, map,
					 &nmap),
			 0);
		CHECK(atomic_load(&ip->i_iext) != NULL);
		seen.btree_checks++;
		if (ip->i_nextents > seen.max_extents)
			seen.max_extents = ip->i_nextents;
	}
	err = kvfs_bmap_check(ip, why, sizeof(why));
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	if (err) {
		fprintf(stderr, "inode %llu: %s\n", (unsigned long long)ino,
			why);
		exit(1);
	}
}

/* The whole file against its model, in reads of random sizes. */
static void check_data(uint64_t ino, const uint8_t *m, uint64_t size)
{
	uint8_t *buf = malloc(REGION + MAXIO);
	struct kvfs_stat st;
	uint64_t off = 0;

	CHECK(buf);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, size);
	while (off < size) {
		uint64_t len = 1 + rnd() % (64u << 10);
		ssize_t n = kvfs_read(mp, ino, buf + off, len, (off_t)off);

		CHECK(n > 0);
		off += (uint64_t)n;
	}
	CHECK_EQ(off, size);
	CHECK(!memcmp(buf, m, size));
	free(buf);
}

/* The shrinker's pass twice (the first clears the marks): a list is gone. */
static void drop_lists(void)
{
	struct kvfs_inode *ip;

	kvfs_iext_shrink(mp, SIZE_MAX);
	kvfs_iext_shrink(mp, SIZE_MAX);
	CHECK_EQ(kvfs_iget(mp, ino_a, 0, &ip), 0);
	CHECK(atomic_load(&ip->i_iext) == NULL);
	kvfs_iput(ip);
	seen.drops++;
}

/* Written back and out of the cache: the next lookup reads it anew. */
static void evict(void)
{
	struct kvfs_inode *ip;

	/* forced, then written back by the AIL: clean, so reclaimable */
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	kvfs_icache_shrink(mp->ic, SIZE_MAX);
	CHECK_EQ(kvfs_iget(mp, ino_a, 0, &ip), 0);
	if (!atomic_load(&ip->i_iext))
		seen.evictions++;
	kvfs_iput(ip);
}

static void remount(void)
{
	CHECK_EQ(kvfs_close(mp), 0);
	mount_fs();
	seen.remounts++;
}

static void step(unsigned i)
{
	uint64_t off = rnd() % REGION, len = 1 + rnd() % MAXIO;
	uint8_t v = (uint8_t)(i % 250 + 1);
	unsigned op = rnd() % 100;
	int mode;

	if (op < 45) {
		do_write(ino_a, model_a, &size_a, off, len, v);
	} else if (op < 60) {
		CHECK_EQ(kvfs_fallocate(mp, ino_a,
					FALLOC_FL_PUNCH_HOLE |
						FALLOC_FL_KEEP_SIZE,
					(off_t)off, (off_t)len),
			 0);
		m_zero(model_a, size_a, off, off + len);
	} else if (op < 70) {
		mode = FALLOC_FL_ZERO_RANGE |
		       (rnd() % 2 ? FALLOC_FL_KEEP_SIZE : 0);
		CHECK_EQ(
			kvfs_fallocate(mp, ino_a, mode, (off_t)off, (off_t)len),
			0);
		m_zero(model_a, size_a, off, off + len);
		if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > size_a)
			size_a = off + len;
	} else if (op < 80) {
		mode = rnd() % 2 ? FALLOC_FL_KEEP_SIZE : 0;
		CHECK_EQ(
			kvfs_fallocate(mp, ino_a, mode, (off_t)off, (off_t)len),
			0);
		if (!mode && off + len > size_a)
			size_a = off + len;
	} else if (op < 83) {
		/* down to somewhere in the second half, or up */
		do_truncate(ino_a, model_a, &size_a,
			    REGION / 2 + rnd() % (REGION / 2));
	} else {
		uint64_t from = rnd() % size_b;
		ssize_t n = kvfs_copy_file_range(mp, ino_b, (off_t)from, ino_a,
						 (off_t)off, len, 0);

		CHECK(n > 0 && (uint64_t)n <= len);
		memcpy(model_a + off, model_b + from, (size_t)n);
		if (off + (uint64_t)n > size_a)
			size_a = off + (uint64_t)n;
	}
	check_list(ino_a);
	if (i % 10 == 9)
		check_data(ino_a, model_a, size_a);
	if (i % 50 == 17) {
		drop_lists();
		check_data(ino_a, model_a, size_a);
		check_list(ino_a);
	}
	if (i % 80 == 41) {
		evict();
		check_list(ino_a);
		check_data(ino_a, model_a, size_a);
	}
	if (i % 150 == 99) {
		remount();
		check_data(ino_a, model_a, size_a);
		check_list(ino_a);
	}
}

/* "shrinker.kvfs_iext.freed N" of kv_stats_format() */
static uint64_t shrinker_freed(void)
{
	static char buf[1 << 16];
	const char *p;

	CHECK(kv_stats_format(buf, sizeof(buf)) > 0);
	p = strstr(buf, "shrinker.kvfs_iext.freed ");
	CHECK(p);
	return strtoull(p + strlen("shrinker.kvfs_iext.freed "), NULL, 10);
}

/*
 * Exhaust the budget (every failing allocation runs a reclaim pass over
 * the shrinkers) until a's list is dropped, then give it back.
 */
static void pressure(void)
{
	enum { CHUNK = 256 << 10, MAXCHUNKS = 1024 };
	static void *chunk[MAXCHUNKS];
	uint64_t before = shrinker_freed();
	struct kvfs_inode *ip;
	unsigned n = 0, fails = 0;

	CHECK_EQ(kvfs_sync(mp), 0);
	check_list(ino_a); /* loaded */
	CHECK_EQ(kvfs_iget(mp, ino_a, 0, &ip), 0);
	while (n < MAXCHUNKS && fails < 100 && atomic_load(&ip->i_iext)) {
		chunk[n] = kvmalloc(CHUNK, KV_NOWARN);
		if (chunk[n])
			n++;
		else
			fails++;
	}
	CHECK(atomic_load(&ip->i_iext) == NULL);
	kvfs_iput(ip);
	for (unsigned i = 0; i < n; i++)
		kvfree(chunk[i]);
	printf("pressure: %u chunks of 256 KiB, %u failed allocations, "
	       "kvfs_iext shrinker freed %llu leaves\n",
	       n, fails, (unsigned long long)(shrinker_freed() - before));
	CHECK(shrinker_freed() > before);
	check_data(ino_a, model_a, size_a);
	check_data(ino_b, model_b, size_b);
	check_list(ino_a);
}

static atomic_bool race_done;

static void *race_reader(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	uint8_t *buf = malloc(MAXIO);

	CHECK(buf);
	while (!atomic_load(&race_done)) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		CHECK(kvfs_read(mp, s % 2 ? ino_a : ino_b, buf, MAXIO,
				(off_t)(s % REGION)) >= 0);
	}
	free(buf);
	return NULL;
}

static unsigned race_drops, race_reclaims;

static void *race_shrinker(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_done)) {
		race_drops += kvfs_iext_shrink(mp, SIZE_MAX) > 0;
		race_reclaims += kvfs_icache_shrink(mp->ic, SIZE_MAX) > 0;
	}
	return NULL;
}

static void race(void)
{
	pthread_t th[3];
	struct timespec t0, t;
	unsigned i = 0;

	/* b clean (written back): reclaim may free it between reads */
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	for (uintptr_t k = 0; k < 2; k++)
		CHECK_EQ(pthread_create(&th[k], NULL, race_reader, (void *)k),
			 0);
	CHECK_EQ(pthread_create(&th[2], NULL, race_shrinker, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		uint64_t off = rnd() % REGION, len = 1 + rnd() % MAXIO;

		if (++i % 2) {
			do_write(ino_a, model_a, &size_a, off, len,
				 (uint8_t)(i % 250 + 1));
		} else {
			CHECK_EQ(kvfs_fallocate(mp, ino_a,
						FALLOC_FL_PUNCH_HOLE |
							FALLOC_FL_KEEP_SIZE,
						(off_t)off, (off_t)len),
				 0);
			m_zero(model_a, size_a, off, off + len);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 2 && i < 4000);
	atomic_store(&race_done, true);
	for (int k = 0; k < 3; k++)
		pthread_join(th[k], NULL);
	printf("race: %u changes, %u passes dropped lists, %u reclaimed "
	       "inodes\n",
	       i, race_drops, race_reclaims);
	CHECK(race_drops > 0 && race_reclaims > 0);
	check_data(ino_a, model_a, size_a);
	check_data(ino_b, model_b, size_b);
	check_list(ino_a);
	check_list(ino_b);
}

int main(void)
{
	struct kv_config cfg = { .budget_bytes = 48u << 20 };
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 96u << 20,
				    .blocksize = 1024,
				    .force = true };
	struct kvfs_geom g;
	int fd;

	CHECK_EQ(kv_init(&cfg), 0);
	fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
	model_a = calloc(1, REGION + MAXIO);
	model_b = calloc(1, REGION + MAXIO);
	CHECK(model_a && model_b);
	mount_fs();
	ino_a = create("a");
	ino_b = create("b");
	/* b: a fragmented source for copies, one run of 2-4 blocks in two */
	for (uint64_t off = 0; off < REGION; off += 8192)
		do_write(ino_b, model_b, &size_b, off, 2048 + rnd() % 2048,
			 (uint8_t)(off / 8192 % 200 + 3));
	/* a: a tree from the start, then the model's steps */
	for (uint64_t off = 0; off < REGION; off += 4096)
		do_write(ino_a, model_a, &size_a, off, 1024, 0xa5);
	for (unsigned i = 0; i < STEPS; i++)
		step(i);
	check_data(ino_a, model_a, size_a);
	check_data(ino_b, model_b, size_b);
	pressure();
	race();
	printf("%u tree checks (up to %u extents), %u list drops, "
	       "%u evictions, %u remounts\n",
	       seen.btree_checks, seen.max_extents, seen.drops, seen.evictions,
	       seen.remounts);
	/* lists of many leaves (170 records each) */
	CHECK(seen.btree_checks > STEPS / 2 && seen.max_extents > 1000 &&
	      seen.drops > 0 && seen.evictions > 0 && seen.remounts > 0);
	CHECK_EQ(kvfs_close(mp), 0);
	unlink(path);
	free(model_a);
	free(model_b);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
