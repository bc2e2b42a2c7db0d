// SPDX-License-Identifier: GPL-2.0
/*
 * Mounting (fs/mount.h): a fresh filesystem mounts clean and unmounts
 * clean, with the superblock marked dirty while mounted; a change logged
 * and forced before a crash (forced shutdown) is replayed at the next
 * mount; read-only mounts write nothing and refuse a log that needs
 * replaying; what is not kvfs, a damaged superblock, a needs-repair
 * filesystem and a missing file are refused with one line saying why; a
 * mount that met corruption unmounts with the superblock left dirty, until
 * a tool's mount (fsck) ends it.  kvfs_writeback() leaves a live mount
 * with everything logged written in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/buf_ops.h"
#include "fs/io/blkhdr.h"
#include "fs/io/dev.h"
#include "fs/kvfs.h"
#include "fs/format/mkfs.h"
#include "fs/mount.h"
#include "fs/format/sb.h"
#include "fs/space/alloc.h"
#include "fs/trans/trans.h"
#include "journal/crc32c.h"
#include "tests/check.h"

static char path[256];

static void make_fs_at(const char *p)
{
	struct kvfs_mkfs_opts o = { .target = p,
				    .size = 64 << 20,
				    .force = true };
	struct kvfs_geom g;

	CHECK_EQ(kvfs_mkfs(&o, &g), 0);
}

static void make_fs(void)
{
	make_fs_at(path);
}

static uint32_t disk_state_at(const char *p)
{
	struct kvfs_geom g;
	struct kv_dev *dev;

	CHECK_EQ(kv_dev_open(p, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	kv_dev_close(dev);
	return g.state;
}

static uint32_t disk_state(void)
{
	return disk_state_at(path);
}

/* The image's bytes, to prove a read-only mount writes nothing. */
static uint8_t *slurp(size_t *len)
{
	struct stat st;
	uint8_t *b;
	int fd = open(path, O_RDONLY);

	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	b = malloc((size_t)st.st_size);
	CHECK(b && pread(fd, b, (size_t)st.st_size, 0) == st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void test_clean_cycle(void)
{
	struct kvfs_mount *mp;

	make_fs();
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	CHECK(mp->ri.was_empty && mp->ri.was_clean);
	CHECK(mp->g.agcount >= 1 &&
	      mp->pag[mp->g.agcount - 1].agno == mp->g.agcount - 1);
	CHECK_EQ(disk_state(), KVFS_STATE_DIRTY);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	CHECK(!mp->ri.was_empty && mp->ri.was_clean);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/* Log a change to AG 0's inode header (its reserved bytes), forced. */
static void log_agi_change(struct kvfs_mount *mp, uint8_t val)
{
	struct kvj_trans *tp;
	struct kvfs_agi *agi;
	struct kv_buf *bp;

	CHECK_EQ(kvj_trans_alloc(mp->log, 8192, 0, &tp), 0);
	CHECK_EQ(kvfs_trans_read_buf(tp, mp->bl, KVFS_AGI_AGBNO, 1,
				     &kvfs_agi_buf_ops, &bp),
		 0);
	agi = bp->b_addr;
	memset(agi->reserved, val, sizeof(agi->reserved));
	kvfs_trans_log_buf(tp, bp, offsetof(struct kvfs_agi, reserved),
			   offsetof(struct kvfs_agi, reserved) +
				   sizeof(agi->reserved) - 1);
	CHECK_EQ(kvj_trans_commit(tp, NULL), 0);
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
}

static uint8_t disk_agi_reserved(void)
{
	uint8_t blk[4096];
	struct kv_dev *dev;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kv_dev_pread(dev, blk, sizeof(blk),
			      (uint64_t)KVFS_AGI_AGBNO * 4096),
		 0);
	kv_dev_close(dev);
	return ((struct kvfs_agi *)blk)->reserved[0];
}

/*
 * kvfs_writeback(): a change forced to the log is in place afterwards,
 * nothing is left in the AIL, and the mount goes on.
 */
static void test_writeback(void)
{
	struct kvfs_stats st;
	struct kvfs_mount *mp;

	make_fs();
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	log_agi_change(mp, 0x5a);
	/* durable in the log only: the AIL writes back under pressure */
	CHECK(disk_agi_reserved() != 0x5a);
	CHECK_EQ(kvfs_writeback(mp), 0);
	CHECK_EQ(disk_agi_reserved(), 0x5a);
	CHECK_EQ(kvfs_stats(mp, &st, NULL, 0), 0);
	CHECK_EQ(st.ail_items, 0);
	log_agi_change(mp, 0x5b);
	CHECK_EQ(kvfs_writeback(mp), 0);
	CHECK_EQ(disk_agi_reserved(), 0x5b);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
}

static void test_crash_replay(void)
{
	struct kvfs_mount_opts ro = { .rdonly = true };
	struct kvfs_mount *mp;
	uint8_t *before, *after;
	size_t lb, la;

	make_fs();
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	log_agi_change(mp, 0x5a);
	kvfs_mount_shutdown(mp, "test crash");
	CHECK_EQ(kvfs_mount_close(mp), -EIO);
	CHECK_EQ(disk_state(), KVFS_STATE_DIRTY);
	/* not written in place before the crash: only the log has it */
	CHECK_EQ(disk_agi_reserved(), 0);

	/* read-only: refused, nothing written */
	before = slurp(&lb);
	CHECK_EQ(kvfs_mount_open(path, &ro, &mp), -EROFS);
	CHECK(strstr(kvfs_mount_error(), "read-only"));
	after = slurp(&la);
	CHECK(la == lb && !memcmp(before, after, la));
	free(before);
	free(after);

	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	CHECK(!mp->ri.was_clean && mp->ri.checkpoints_replayed == 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(disk_agi_reserved(), 0x5a);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);

	/* a clean filesystem mounts read-only and is left byte for byte */
	before = slurp(&lb);
	CHECK_EQ(kvfs_mount_open(path, &ro, &mp), 0);
	CHECK(mp->rdonly && mp->ri.was_clean);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	after = slurp(&la);
	CHECK(la == lb && !memcmp(before, after, la));
	free(before);
	free(after);
}

/* A directory of 300 files in the root: its blocks and inode chunks. */
static void populate(struct kvfs_mount *mp, uint64_t *dirp)
{
	static const struct kvfs_cred cr;
	struct kvfs_stat st;
	char name[48];
	bool created;

	CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), "d", 0755, &cr, &st), 0);
	*dirp = st.ino;
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-with-a-long-name-%d", i);
		CHECK_EQ(kvfs_create(mp, *dirp, name, 0100644, 0,
				     KVFS_CREATE_EXCL, &cr, &st, &created),
			 0);
	}
}

/*
 * mkfs over an old filesystem, a crash, the replay: the blocks the log
 * rebuilds still hold the old filesystem's metadata (its UUID, valid
 * checksums) and are replayed over in silence, not reported as damage
 * (they were: one "metadata UUID does not match" per block).
 */
static void test_crash_over_old_fs(void)
{
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	unsigned long reports;
	uint64_t dir;

	make_fs();
	CHECK_EQ(kvfs_open(path, NULL, &mp, NULL), 0);
	populate(mp, &dir);
	CHECK_EQ(kvfs_close(mp), 0);
	make_fs();
	CHECK_EQ(kvfs_open(path, NULL, &mp, NULL), 0);
	populate(mp, &dir);
	CHECK_EQ(kvfs_fsync(mp, dir, false), 0);
	kvfs_mount_shutdown(mp, "test crash");
	kvfs_close(mp);
	reports = kvfs_corrupt_count();
	CHECK_EQ(kvfs_open(path, NULL, &mp, NULL), 0);
	CHECK(!mp->ri.was_clean && mp->ri.checkpoints_replayed > 0);
	CHECK_EQ(kvfs_corrupt_count(), reports);
	CHECK_EQ(kvfs_lookup(mp, dir, "file-with-a-long-name-299", &st), 0);
	CHECK_EQ(kvfs_close(mp), 0);
}

static void poke_sb(size_t off, uint8_t val, bool fix_crc)
{
	uint8_t blk[4096];
	int fd = open(path, O_RDWR);

	CHECK(fd >= 0 && pread(fd, blk, sizeof(blk), 0) == sizeof(blk));
	blk[off] = val;
	if (fix_crc) {
		struct kvfs_blk_hdr *h = (void *)blk;

		h->crc = kv_cpu_to_le32(
			kv_crc32c_block(blk, sizeof(blk), KVFS_BLK_CRC_OFF));
	}
	CHECK(pwrite(fd, blk, sizeof(blk), 0) == sizeof(blk));
	close(fd);
}

/*
 * n blocks past tp's reservation, in a child (via_alloc: an allocation of
 * at least n blocks, else the charge alone): -ENOSPC in a release build,
 * in a debug build an abort naming the short reservation.
 */
static void past_reservation(struct kvfs_trans *tp, uint32_t n, bool via_alloc)
{
	char msg[512] = "";
	int fds[2], status;
	ssize_t got = 0;
	size_t len = 0;
	pid_t pid;

	CHECK_EQ(pipe(fds), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct kvfs_alloc_arg a = { .tp = tp,
					    .minlen = n,
					    .maxlen = n,
					    .type = KVFS_ALLOC_FIRST_AG };
		int err;

		dup2(fds[1], 2);
		err = via_alloc ? kvfs_alloc_vextent(&a) :
				  kvfs_trans_use_blocks(tp, n);
		_exit(err == -ENOSPC ? 0 : 2);
	}
	close(fds[1]);
	/* to the end: stderr is unbuffered, the line comes in pieces */
	while (len < sizeof(msg) - 1 &&
	       (got = read(fds[0], msg + len, sizeof(msg) - 1 - len)) > 0)
		len += (size_t)got;
	CHECK(got >= 0);
	close(fds[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
#ifdef KV_DEBUG
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	CHECK(strstr(msg, "its reservation is short"));
#else
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(len, 0);
#endif
}

/*
 * Block reservations: all of the free count but the removals' reserve,
 * not one more; a removal may take the reserve too.  Past a reservation
 * is ENOSPC before any change, and a bug in debug builds.
 */
static void test_reservations(void)
{
	struct kvfs_trans *a, *b, *c;
	struct kvfs_mount *mp;
	int64_t free;

	make_fs();
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	free = atomic_load(&mp->fdblocks);
	/* every AG's free blocks less its set-aside */
	CHECK(free > 0 && (uint64_t)free < mp->g.dblocks);
	CHECK(mp->resblks > 0 && mp->resblks < (uint64_t)free);
	CHECK_EQ(
		kvfs_trans_alloc(mp, 4096, 0, (uint64_t)free - mp->resblks, &a),
		0);
	CHECK_EQ(kvfs_trans_alloc(mp, 4096, 0, 1, &b), -ENOSPC);
	CHECK_EQ(kvfs_trans_alloc_remove(
			 mp,
			 &(struct kvfs_trans_res){ .log_bytes = 4096,
						   .blocks = mp->resblks },
			 &b),
		 0);
	CHECK_EQ(kvfs_trans_alloc_remove(
			 mp,
			 &(struct kvfs_trans_res){ .log_bytes = 4096,
						   .blocks = 1 },
			 &c),
		 -ENOSPC);
	kvfs_trans_cancel(b);
	CHECK_EQ(kvfs_trans_use_blocks(a, (uint64_t)free - mp->resblks - 1), 0);
	past_reservation(a, 2, true);
	past_reservation(a, 2, false);
	CHECK_EQ(kvfs_trans_use_blocks(a, 1), 0);
	kvfs_trans_cancel(a);
	CHECK_EQ(atomic_load(&mp->fdblocks), free);
	CHECK_EQ(kvfs_trans_alloc(mp, 4096, 0, 10, &a), 0);
	CHECK_EQ(atomic_load(&mp->fdblocks), free - 10);
	CHECK_EQ(kvfs_trans_use_blocks(a, 3), 0);
	kvfs_trans_free_blocks(a, 2);
	CHECK_EQ(kvfs_trans_commit(a, NULL), 0);
	/* 3 used, 2 freed: one block less than before */
	CHECK_EQ(atomic_load(&mp->fdblocks), free - 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * Corruption met while mounted (a verifier's report) leaves the
 * superblock in the error state at a clean unmount, so that fsck.kvfs
 * checks it without -f; the next open says so (info.errors) and keeps it; a
 * tool's mount (fsck's repair) ends it.  A mount that met nothing unmounts
 * clean.
 */
static void test_errors_state(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	make_fs();
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(!info.errors);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_corrupt(-EUCLEAN, 7, "test", "a verifier's finding"),
		 -EUCLEAN);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_ERRORS);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(info.errors && !info.recovered);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_ERRORS);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(!info.errors);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
}

/*
 * Two filesystems open in one process (a tool's case), corruption met on
 * one and a third refused for its damaged superblock: only the first is
 * left marked.  The count was the process's before, which marked both.
 */
static void test_errors_per_mount(void)
{
	struct kvfs_cred cr = { 0 };
	struct kvfs_mount *a, *b, *c;
	struct kvfs_stat st;
	struct kvfs_geom g;
	char pathb[sizeof(path) + 4], pathc[sizeof(path) + 4], name[16];
	uint8_t zero[512] = { 0 };
	uint64_t ino = 0;
	int fd;

	snprintf(pathb, sizeof(pathb), "%s.b", path);
	make_fs();
	make_fs_at(pathb);
	/* a file whose inode is outside the clusters an open reads */
	CHECK_EQ(kvfs_open(path, NULL, &a, NULL), 0);
	g = a->g;
	ino = g.rootino;
	for (int i = 0;
	     kvfs_ino_to_fsb(&g, ino) == kvfs_ino_to_fsb(&g, g.rootino); i++) {
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_EQ(kvfs_create(a, kvfs_root_ino(a), name, S_IFREG | 0644,
				     0, KVFS_CREATE_EXCL, &cr, &st, NULL),
			 0);
		ino = st.ino;
	}
	CHECK_EQ(kvfs_close(a), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, zero, sizeof(zero),
			(off_t)(kvfs_ino_to_fsb(&g, ino) * g.blocksize +
				kvfs_ino_to_offset(&g, ino))),
		 (ssize_t)sizeof(zero));
	close(fd);

	/* a third image whose superblock is damaged: refused, its own */
	snprintf(pathc, sizeof(pathc), "%s.c", path);
	make_fs_at(pathc);
	fd = open(pathc, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, "\x77", 1, 200), 1);
	close(fd);

	CHECK_EQ(kvfs_open(path, NULL, &a, NULL), 0);
	CHECK_EQ(kvfs_open(pathb, NULL, &b, NULL), 0);
	CHECK_EQ(kvfs_getattr(a, ino, &st), -EUCLEAN);
	CHECK_EQ(kvfs_getattr(b, kvfs_root_ino(b), &st), 0);
	CHECK(kvfs_open(pathc, NULL, &c, NULL) < 0);
	CHECK_EQ(kvfs_close(b), 0);
	CHECK_EQ(kvfs_close(a), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_ERRORS);
	CHECK_EQ(disk_state_at(pathb), KVFS_STATE_CLEAN);
	unlink(pathb);
	unlink(pathc);
}

/* The image as a crash now would leave it: its bytes as written so far. */
static void crash_now(uint8_t **b, size_t *len)
{
	*b = slurp(len);
}

static void crash_restore(uint8_t *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	CHECK(fd >= 0 && pwrite(fd, b, len, 0) == (ssize_t)len);
	close(fd);
	free(b);
}

/*
 * A crash of a mount that logged nothing (an idle mount: its superblock
 * dirty over the last unmount's clean log) is no error state: the next
 * open says no errors and unmounts clean.  The error state survives a
 * crash of a mount of an image that has it.
 */
static void test_errors_crash(void)
{
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	uint8_t *b;
	size_t len;

	make_fs();
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	crash_now(&b, &len);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_restore(b, len);
	CHECK_EQ(disk_state() & KVFS_STATE_DIRTY, KVFS_STATE_DIRTY);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(!info.errors);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_CLEAN);

	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK_EQ(kvfs_corrupt(-EUCLEAN, 7, "test", "a verifier's finding"),
		 -EUCLEAN);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(info.errors);
	crash_now(&b, &len);
	CHECK_EQ(kvfs_close(mp), 0);
	crash_restore(b, len);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	CHECK(info.errors);
	CHECK_EQ(kvfs_close(mp), 0);
	CHECK_EQ(disk_state(), KVFS_STATE_ERRORS);
}

static void test_refusals(void)
{
	struct kvfs_mount *mp = NULL;
	int fd;

	CHECK_EQ(kvfs_mount_open("/nonexistent/kvfs.img", NULL, &mp), -ENOENT);
	CHECK(strstr(kvfs_mount_error(), "cannot open /nonexistent/kvfs.img"));

	fd = open(path, O_RDWR | O_TRUNC);
	CHECK(fd >= 0 && ftruncate(fd, 8 << 20) == 0);
	close(fd);
	CHECK_EQ(kvfs_mount_open(path, NULL, &mp), -ENODATA);
	CHECK(strstr(kvfs_mount_error(), "is not a kvfs filesystem"));

	make_fs();
	poke_sb(200, 0x77, false);
	CHECK(kvfs_mount_open(path, NULL, &mp) < 0);
	CHECK(strstr(kvfs_mount_error(), "run fsck.kvfs"));

	make_fs();
	poke_sb(offsetof(struct kvfs_dsb, feat_incompat),
		(uint8_t)KVFS_FEAT_INCOMPAT_NEEDSREPAIR, true);
	CHECK(kvfs_mount_open(path, NULL, &mp) < 0);
	CHECK(strstr(kvfs_mount_error(), "cannot be mounted"));
}

int main(void)
{
	const char *dir = getenv("TMPDIR");

	CHECK_EQ(kv_init(NULL), 0);
	snprintf(path, sizeof(path), "%s/kvfs-mount-%d.img", dir ? dir : "/tmp",
		 (int)getpid());
	test_clean_cycle();
	test_crash_replay();
	test_writeback();
	test_crash_over_old_fs();
	test_reservations();
	test_refusals();
	test_errors_state();
	test_errors_per_mount();
	test_errors_crash();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("mount: ok\n");
	return 0;
}
