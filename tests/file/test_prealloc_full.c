// SPDX-License-Identifier: GPL-2.0
/*
 * Writes into a file's preallocated blocks on a full filesystem, each one
 * block in the middle of an unwritten extent: a conversion that splits it
 * in three, two records more for the file's extent-map tree, whose blocks
 * come from nowhere but the reserves.  32 MiB of 1 KiB blocks in two AGs,
 * a file fallocated over 27 MiB (mode 0: large enough that its writes'
 * conversions are left pending, fs/data/convert.h), the rest of the
 * space filled by another file until ENOSPC, then every other block of
 * the fallocation written, 1 KiB each:
 *  - each write answers its length or ENOSPC, nothing else, and the
 *    filesystem never shuts down;
 *  - a refused write changed nothing (its block reads zeros), an accepted
 *    one reads back;
 *  - fsync and the unmount answer 0, and the remount's free count, summed
 *    from the AGs, is the one the mount kept (no block kept for a pending
 *    conversion lost);
 *  - after the remount every accepted write reads back, every refused one
 *    zeros; the filler removed, the refused writes all succeed, and read
 *    back after another remount; the checker finds nothing.
 * Before (pending conversions kept no blocks, the reserve pool their only
 * source at the settle, which the writes converted at once had used up):
 * 9816 writes accepted, 4008 refused, fsync and the unmount -ENOSPC, and
 * 8 of the accepted writes read zeros after the remount.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "tests/check.h"
#include "tests/scrub_util.h"

#define BS 1024u
#define FS_SIZE (32u << 20)
#define NBLK (27u * 1024)
#define FILL_STEP (64u << 10)

static char path[] = "/tmp/kvfs-test-prealloc-full-XXXXXX";
/* write i (block 2i + 1) was accepted */
static bool stored[NBLK / 2];

/* block b's bytes: its number's low bytes, never all zeros */
static void pattern(uint8_t *p, uint64_t b)
{
	for (uint32_t i = 0; i < BS; i++)
		p[i] = (uint8_t)(b * 7 + i / 16 + 1);
	memcpy(p, &b, sizeof(b));
}

static struct kvfs_mount *open_fs(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(!info.recovered);
	return mp;
}

/*
 * Every write i, or with only_refused those refused so far:
 * returns how many were accepted now (*refused: how many refused).
 */
static unsigned write_odd(struct kvfs_mount *mp, uint64_t ino,
			  bool only_refused, unsigned *refused)
{
	uint8_t buf[BS];
	unsigned ok = 0;

	*refused = 0;
	for (unsigned i = 0; i < NBLK / 2; i++) {
		uint64_t b = 2 * (uint64_t)i + 1;
		ssize_t w;

		if (only_refused && stored[i])
			continue;
		pattern(buf, b);
		w = kvfs_write(mp, ino, buf, BS, (off_t)(b * BS), 0);
		if (w != (ssize_t)BS && w != -ENOSPC)
			fprintf(stderr, "prealloc_full: block %llu: %zd\n",
				(unsigned long long)b, w);
		CHECK(w == (ssize_t)BS || w == -ENOSPC);
		CHECK(!kvj_log_is_shutdown(mp->log));
		stored[i] = w == (ssize_t)BS;
		ok += stored[i];
		*refused += !stored[i];
	}
	return ok;
}

/* Every odd block reads its bytes if its write was accepted, else zeros. */
static void verify(struct kvfs_mount *mp, uint64_t ino)
{
	uint8_t want[BS], got[BS];

	for (unsigned i = 0; i < NBLK / 2; i++) {
		uint64_t b = 2 * (uint64_t)i + 1;

		if (stored[i])
			pattern(want, b);
		else
			memset(want, 0, BS);
		CHECK_EQ(kvfs_read(mp, ino, got, BS, (off_t)(b * BS)),
			 (ssize_t)BS);
		if (memcmp(got, want, BS))
			fprintf(stderr, "prealloc_full: block %llu (%s)\n",
				(unsigned long long)b,
				stored[i] ? "accepted" : "refused");
		CHECK(!memcmp(got, want, BS));
	}
}

/* Sync, unmount (0), and the free count a remount sums is the kept one. */
static struct kvfs_mount *remount(struct kvfs_mount *mp)
{
	int64_t kept;

	CHECK_EQ(kvfs_sync(mp), 0);
	kept = atomic_load(&mp->fdblocks);
	CHECK_EQ(kvfs_close(mp), 0);
	mp = open_fs();
	CHECK_EQ(atomic_load(&mp->fdblocks), kept);
	return mp;
}

int main(void)
{
	struct kvfs_mkfs_opts mo = { .target = path,
				     .size = FS_SIZE,
				     .blocksize = BS,
				     .agcount = 2,
				     .force = true };
	static uint8_t fill[FILL_STEP];
	struct kvfs_cred cr = { 0 };
	struct kvfs_stat st, fst;
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	unsigned ok, refused, again;
	off_t off = 0;
	ssize_t w;
	bool created;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	mp = open_fs();
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "p", S_IFREG | 0644, 0, 0,
			     &cr, &st, &created),
		 0);
	CHECK_EQ(kvfs_fallocate(mp, st.ino, 0, 0, (off_t)NBLK * BS), 0);
	CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), "fill", S_IFREG | 0644, 0,
			     0, &cr, &fst, &created),
		 0);
	memset(fill, 0x5a, sizeof(fill));
	while ((w = kvfs_write(mp, fst.ino, fill, FILL_STEP, off, 0)) > 0)
		off += w;
	while ((w = kvfs_write(mp, fst.ino, fill, BS, off, 0)) > 0)
		off += w;
	CHECK_EQ(w, -ENOSPC);

	ok = write_odd(mp, st.ino, false, &refused);
	printf("prealloc_full: %u of %u writes into a fallocation of %u "
	       "blocks on a full filesystem accepted, %u refused (ENOSPC)\n",
	       ok, NBLK / 2, NBLK, refused);
	/* the reserves hold many splits, not all of these */
	CHECK(ok > 0 && refused > 0);
	verify(mp, st.ino);
	CHECK_EQ(kvfs_fsync(mp, st.ino, false), 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	mp = remount(mp);
	verify(mp, st.ino);

	/* room again: what was refused now fits */
	CHECK_EQ(kvfs_unlink(mp, kvfs_root_ino(mp), "fill"), 0);
	again = write_odd(mp, st.ino, true, &refused);
	printf("prealloc_full: the filler removed, %u of the refused writes "
	       "accepted\n",
	       again);
	CHECK_EQ(refused, 0);
	CHECK_EQ(kvfs_fsync(mp, st.ino, false), 0);
	mp = remount(mp);
	verify(mp, st.ino);
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("prealloc_full: ok\n");
	return 0;
}
