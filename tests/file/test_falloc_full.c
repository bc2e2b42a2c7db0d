// SPDX-License-Identifier: GPL-2.0
/*
 * fallocate(2) in every mode on a full filesystem whose free space is all
 * busy (freed, its free not durable yet) and whose one AG's reserve list
 * is short of what a split may take.  Each case on a filesystem of its
 * own, 16 MiB of 1 KiB blocks, one AG, mounted without log threads
 * (nothing forces the log behind the test's back): a file made, the AG
 * filled by the allocator, then every other block of a run freed in one
 * transaction until a free finds the list below agfl_min and nothing to
 * refill it with (the frees' own tree splits took the list and the AG's
 * set-aside).  On a file whose extent list is full and on one whose tree
 * leaf is full (a split needs a new tree block), each mode over the middle
 * of the last extent or the hole before it: PUNCH_HOLE, ZERO_RANGE with
 * and without KEEP_SIZE, 0 and KEEP_SIZE succeed (the room is there once
 * the log is forced) with the bytes POSIX says; COLLAPSE_RANGE and
 * INSERT_RANGE, which kvfs does not do, fail with EOPNOTSUPP and change
 * nothing.  The log stays up; what the test took from the allocator given
 * back, the image checks clean.  The punch and the zeroings failed with
 * EIO, the log up (the split's block refused: the fsstress --enospc EIO
 * of mount.kvfs).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/btree/bmap_btree.h"
#include "fs/btree/btree.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/space/alloc.h"
#include "fs/trans/trans.h"
#include "tests/check.h"
#include "tests/file/raw_extents.h"
#include "tests/file/sparse_file.h"
#include "tests/scrub_util.h"

#define BS 1024
#define FS_SIZE (16u << 20)
#define RES (256u << 10)
#define MAX_BLOCKS 128

static char path[] = "/tmp/kvfs-test-falloc-full-XXXXXX";
static struct kvfs_mount *mp;

/*
 * What the test took straight from the allocator: whole extents, and the
 * odd blocks of comb_fsb's first 2 * comb_n (its even ones were freed).
 */
static struct raw_extents raw;
static uint64_t comb_fsb;
static uint32_t comb_n;

/*
 * The AG full, then its free space only busy blocks and its list short:
 * the longest extent taken is given back one block in two, in one
 * transaction, until a free finds the list below agfl_min and leaves it
 * as it was, no split in it: its refill found no block to take, so every
 * free block is busy (the set-aside went to earlier refills).
 */
static void busy_full(void)
{
	struct kvfs_perag *pag = &mp->pag[0];
	uint32_t i, fl = UINT32_MAX, bt = 0;
	struct kvfs_trans *tp;
	unsigned best = 0;

	raw.n = 0;
	for (;;) {
		struct kvfs_alloc_arg a = { .minlen = 1,
					    .maxlen = 4096,
					    .type = KVFS_ALLOC_FIRST_AG };

		if (raw_take(mp, &raw, &a))
			break;
		if (a.len > raw.x[best].len)
			best = raw.n - 1;
	}
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	CHECK_EQ(kvfs_trans_alloc(mp, RES, 0, 0, &tp), 0);
	for (i = 0; 2 * i < raw.x[best].len; i++) {
		CHECK_EQ(kvfs_free_extent(tp, raw.x[best].fsb + 2 * i, 1), 0);
		if (fl < mp->g.agfl_min && pag->flcount == fl &&
		    pag->btreeblks == bt)
			break;
		fl = pag->flcount;
		bt = pag->btreeblks;
	}
	CHECK(2 * i + 1 < raw.x[best].len);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	comb_fsb = raw.x[best].fsb;
	comb_n = i + 1;
	raw.x[best].fsb += 2 * comb_n;
	raw.x[best].len -= 2 * comb_n;
}

/* Everything busy_full() kept, given back, and made allocatable. */
static void give_back(void)
{
	for (uint32_t i = 0; i < comb_n; i++)
		raw_free(mp, comb_fsb + 2 * i + 1, 1);
	raw_give_back(mp, &raw);
	comb_n = 0;
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
}

/* block b of a file: every byte b + 1 */
static uint8_t pat(uint64_t b)
{
	return (uint8_t)(b + 1);
}

/* The file reads as the model: block b pat(b) where want[b], else zeros. */
static void check_bytes(uint64_t ino, const bool *want, uint64_t nblk)
{
	uint8_t buf[BS];
	struct kvfs_stat st;

	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.size, nblk * BS);
	for (uint64_t b = 0; b < nblk; b++) {
		CHECK_EQ(kvfs_read(mp, ino, buf, BS, (off_t)b * BS), BS);
		for (uint32_t k = 0; k < BS; k++)
			CHECK_EQ(buf[k], want[b] ? pat(b) : 0);
	}
}

struct mode {
	const char *name;
	int mode;
	bool hole; /* over the hole before the last extent, not inside it */
	int err; /* what it must answer */
};

static const struct mode modes[] = {
	{ "punch", FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, false, 0 },
	{ "zero", FALLOC_FL_ZERO_RANGE, false, 0 },
	{ "zero keep", FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, false, 0 },
	{ "alloc", 0, true, 0 },
	{ "alloc keep", FALLOC_FL_KEEP_SIZE, true, 0 },
	{ "collapse", FALLOC_FL_COLLAPSE_RANGE, false, -EOPNOTSUPP },
	{ "insert", FALLOC_FL_INSERT_RANGE, false, -EOPNOTSUPP },
};

/*
 * One mode on a file of n extents in a busy_full() AG, on a filesystem of
 * its own (the same start for every mode).
 */
static void one(const struct mode *m, uint32_t n, const char *kind)
{
	struct kvfs_mkfs_opts mo = {
		.target = path, .size = FS_SIZE, .blocksize = BS, .force = true
	};
	struct kvfs_mount_opts o = { .no_log_threads = true };
	static bool want[MAX_BLOCKS];
	uint64_t nblk, ino, at;
	struct kvfs_geom g;
	int err;

	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(g.agcount, 1);
	CHECK_EQ(kvfs_mount_open(path, &o, &mp), 0);
	ino = sparse_file(mp, kvfs_root_ino(mp), pat, &n, &nblk);
	CHECK(nblk <= MAX_BLOCKS);
	for (uint64_t b = 0; b < nblk; b++)
		want[b] = b % 2 == 0 || b >= nblk - 4;
	/* the last extent's second block, or the hole before the extent */
	at = m->hole ? nblk - 5 : nblk - 3;
	busy_full();
	err = kvfs_fallocate(mp, ino, m->mode, (off_t)at * BS, BS);
	printf("falloc_full: %s over block %llu of a %s of %u extents, "
	       "%u blocks free and busy: %d\n",
	       m->name, (unsigned long long)at, kind, n, comb_n, err);
	CHECK_EQ(err, m->err);
	CHECK(!kvj_log_is_shutdown(mp->log));
	if (!err)
		want[at] = false;
	check_bytes(ino, want, nblk);
	give_back();
	CHECK_EQ(kvfs_release(mp, ino), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean(path);
}

int main(void)
{
	uint32_t leaf = kvfs_btree_maxrecs(&kvfs_bmbt_ops, BS, 0);
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		one(&modes[i], 0, "full extent list");
		one(&modes[i], leaf, "full tree leaf");
	}
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("falloc_full: ok\n");
	return 0;
}
