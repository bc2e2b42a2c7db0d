// SPDX-License-Identifier: GPL-2.0
/*
 * Writes left pending (fs/data/convert.h) in files whose extent map is a
 * list with room for their conversions' records, so that they keep no
 * block for them, then another change of each file takes that room: a
 * fallocate of single blocks apart (the list turned tree), an attribute
 * (its fork takes the list's room, or the list is made a tree for it),
 * and, with the filesystem full, an O_SYNC write into the middle of an
 * unwritten extent (converted at once: two records).  Each file's list
 * first filled as far as its pending ranges' records allow.  Every AG
 * filled by the allocator past the counters' reserves (the reserve pool
 * used up, as the writes converted at once of test_prealloc_full can use
 * it) but for the blocks the pending ranges keep; 32 MiB of 1 KiB blocks
 * in two AGs:
 *  - the O_SYNC write answers its length (and reads back) or ENOSPC
 *    (and reads zeros);
 *  - fsync of each file, sync and the unmount answer 0;
 *  - after the remount every pending write reads back; what was filled
 *    given back, the checker finds nothing.
 * Before (the changes left the ranges to the free blocks and the reserve
 * pool at the settle): the O_SYNC write 1024, fsync of each file, sync and
 * the unmount -ENOSPC, 7 of the 9 pending writes read zeros after the
 * remount.
 */
#include <errno.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/data/convert.h"
#include "fs/format/mkfs.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "tests/check.h"
#include "tests/file/raw_extents.h"
#include "tests/scrub_util.h"

#define BS 1024u
#define FS_SIZE (32u << 20)
#define AGS 2
/* each file's fallocation: large enough that writes into it are left pending */
#define NBLK 4096u
#define NFILES 3
/* the pending writes: one block each, apart, in the middle of the fallocation */
#define NPEND 3

enum { BY_FALLOC, BY_SYNC_WRITE, BY_XATTR };
static const char *const by_name[NFILES] = { "fallocate", "O_SYNC write",
					     "attribute" };

static char path[] = "/tmp/kvfs-test-prealloc-tree-XXXXXX";
static uint64_t ino[NFILES];
/* the blocks of each file's pending writes */
static uint64_t wrote[NFILES][NPEND];
static unsigned nwrote[NFILES];

/* block b's bytes in file f: never all zeros */
static void pattern(uint8_t *p, unsigned f, uint64_t b)
{
	for (uint32_t i = 0; i < BS; i++)
		p[i] = (uint8_t)(b * 7 + f * 31 + i / 16 + 1);
	memcpy(p, &b, sizeof(b));
}

static struct kvfs_mount *open_fs(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	return mp;
}

static void write_block(struct kvfs_mount *mp, unsigned f, uint64_t b)
{
	uint8_t buf[BS];

	pattern(buf, f, b);
	CHECK_EQ(kvfs_write(mp, ino[f], buf, BS, (off_t)(b * BS), 0),
		 (ssize_t)BS);
	CHECK(nwrote[f] < sizeof(wrote[f]) / sizeof(wrote[f][0]));
	wrote[f][nwrote[f]++] = b;
}

struct fork_state {
	uint32_t nextents, cap, nr;
	uint64_t held;
	bool tree;
};

static struct fork_state fork_state(struct kvfs_mount *mp, unsigned f)
{
	struct fork_state s;
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino[f], 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_SHARED);
	s.nextents = ip->i_nextents;
	s.cap = kvfs_inode_dfork_size(ip) / sizeof(struct kvfs_extent);
	s.tree = ip->i_dformat == KVFS_DFORK_BTREE;
	s.nr = ip->i_conv ? ip->i_conv->nr : 0;
	s.held = ip->i_conv ? ip->i_conv->held : 0;
	kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
	kvfs_iput(ip);
	return s;
}

/* A one-block fallocation past the end, apart from every other one. */
static void falloc_apart(struct kvfs_mount *mp, unsigned f, unsigned k)
{
	CHECK_EQ(kvfs_fallocate(mp, ino[f], FALLOC_FL_KEEP_SIZE,
				(off_t)(NBLK + 2 * k + 1) * BS, BS),
		 0);
}

/* The pending writes of file f; its list keeps them nothing. */
static void pending_writes(struct kvfs_mount *mp, unsigned f)
{
	struct fork_state s;

	for (unsigned i = 0; i < NPEND; i++)
		write_block(mp, f, (i + 1) * (NBLK / (NPEND + 1)) + 1);
	s = fork_state(mp, f);
	CHECK_EQ(s.nr, NPEND);
	CHECK(!s.tree && s.nextents + 2 * NPEND <= s.cap);
	CHECK_EQ(s.held, 0);
}

int main(void)
{
	struct kvfs_mkfs_opts mo = { .target = path,
				     .size = FS_SIZE,
				     .blocksize = BS,
				     .agcount = AGS,
				     .force = true };
	struct raw_extents raw = { .n = 0 };
	static const char names[NFILES][2] = { "a", "b", "c" };
	uint8_t want[BS], got[BS], value[160];
	int serr[NFILES], sync_err, close_err;
	ssize_t sync_w;
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp;
	struct fork_state s;
	struct kvfs_geom g;
	struct kvfs_stat st;
	uint64_t kept = 0, sync_b;
	unsigned lost = 0, k;
	bool created;
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(kv_init(NULL), 0);
	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(g.agcount, AGS);
	mp = open_fs();
	for (unsigned f = 0; f < NFILES; f++) {
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), names[f],
				     S_IFREG | 0644, 0, 0, &cr, &st, &created),
			 0);
		ino[f] = st.ino;
		CHECK_EQ(kvfs_fallocate(mp, ino[f], 0, 0, (off_t)NBLK * BS), 0);
	}

	/* a fallocate of blocks apart makes the list a tree */
	pending_writes(mp, BY_FALLOC);
	for (k = 0; !fork_state(mp, BY_FALLOC).tree; k++)
		falloc_apart(mp, BY_FALLOC, k);

	/*
	 * The others' lists as full as the pending ranges' records allow:
	 * an attribute fork takes the room, and an O_SYNC write into the
	 * middle of an unwritten extent (two records) turns it into a tree.
	 */
	for (unsigned f = BY_SYNC_WRITE; f <= BY_XATTR; f++) {
		s = fork_state(mp, f);
		for (k = 0; s.nextents + 2 * NPEND < s.cap; k++) {
			falloc_apart(mp, f, k);
			s = fork_state(mp, f);
		}
		pending_writes(mp, f);
	}
	memset(value, 0x77, sizeof(value));
	CHECK_EQ(kvfs_setxattr(mp, ino[BY_XATTR], "user.x", value,
			       sizeof(value), 0),
		 0);

	/*
	 * Every AG full but for the blocks the pending ranges keep (the
	 * reserve pool too: the O_SYNC write's conversion has none)
	 */
	for (unsigned f = 0; f < NFILES; f++)
		kept += fork_state(mp, f).held;
	for (uint32_t agno = 0; agno < AGS; agno++)
		raw_fill_ag(mp, &raw, agno,
			    agno == AGS - 1 ? (uint32_t)kept : 0);
	/* into the middle of an unwritten extent: two records more */
	sync_b = NBLK / 8;
	pattern(want, BY_SYNC_WRITE, sync_b);
	sync_w = kvfs_write(mp, ino[BY_SYNC_WRITE], want, BS,
			    (off_t)sync_b * BS, KVFS_WRITE_SYNC);

	for (unsigned f = 0; f < NFILES; f++) {
		s = fork_state(mp, f);
		printf("prealloc_tree: by %s: %u extents (%s, %u in the "
		       "inode), %u ranges pending keeping %llu blocks\n",
		       by_name[f], s.nextents, s.tree ? "tree" : "list", s.cap,
		       s.nr, (unsigned long long)s.held);
		CHECK(s.tree || s.nextents + 2 * NPEND > s.cap);
	}
	for (unsigned f = 0; f < NFILES; f++)
		serr[f] = kvfs_fsync(mp, ino[f], false);
	sync_err = kvfs_sync(mp);
	close_err = kvfs_close(mp);
	printf("prealloc_tree: O_SYNC write %zd, fsync %d %d %d, sync %d, "
	       "unmount %d\n",
	       sync_w, serr[0], serr[1], serr[2], sync_err, close_err);

	mp = open_fs();
	raw_give_back(mp, &raw);
	for (unsigned f = 0; f < NFILES; f++) {
		for (unsigned i = 0; i < nwrote[f]; i++) {
			uint64_t b = wrote[f][i];

			pattern(want, f, b);
			CHECK_EQ(
				kvfs_read(mp, ino[f], got, BS, (off_t)(b * BS)),
				(ssize_t)BS);
			if (memcmp(got, want, BS)) {
				fprintf(stderr,
					"prealloc_tree: by %s: block %llu "
					"lost\n",
					by_name[f], (unsigned long long)b);
				lost++;
			}
		}
	}
	/* the O_SYNC write: accepted and there, or refused and not */
	if (sync_w != (ssize_t)BS)
		memset(want, 0, BS);
	else
		pattern(want, BY_SYNC_WRITE, sync_b);
	CHECK_EQ(kvfs_read(mp, ino[BY_SYNC_WRITE], got, BS, (off_t)sync_b * BS),
		 (ssize_t)BS);
	CHECK(!memcmp(got, want, BS));
	printf("prealloc_tree: %u of the accepted writes lost\n", lost);
	for (unsigned f = 0; f < NFILES; f++)
		CHECK_EQ(serr[f], 0);
	CHECK(sync_w == (ssize_t)BS || sync_w == -ENOSPC);
	CHECK_EQ(sync_err, 0);
	CHECK_EQ(close_err, 0);
	CHECK_EQ(lost, 0);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("prealloc_tree: ok\n");
	return 0;
}
