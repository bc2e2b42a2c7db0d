// SPDX-License-Identifier: GPL-2.0
/* The harness of the crash tests (tests/crash/harness.h). */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/io/dev.h"
#include "fs/repair/repair.h"
#include "tests/check.h"
#include "tests/crash/harness.h"
#include "tests/scrub_util.h"

const char *const crash_mode_name[NMODES] = { "crash", "volatile", "tear",
					      "sectors" };

int crash_mode_parse(const char *name)
{
	for (int m = 0; m < NMODES; m++)
		if (!strcmp(name, crash_mode_name[m]))
			return m;
	return -1;
}

void crash_arm(struct kvfs_mount *mp, enum crash_mode m, uint64_t n,
	       uint64_t seed)
{
	struct kv_dev_fault f = { 0 };
	uint64_t at = kv_dev_nr_writes(mp->dev) + n;

	switch (m) {
	case M_CRASH:
		f.modes = KV_FAULT_CRASH;
		f.crash_after = at;
		break;
	case M_VOLATILE:
		f.modes = KV_FAULT_VOLATILE | KV_FAULT_CRASH;
		f.crash_after = at;
		break;
	case M_TEAR:
		f.modes = KV_FAULT_TEAR;
		f.tear_write = at;
		break;
	default:
		f.modes = KV_FAULT_SECTORS | KV_FAULT_CRASH;
		f.crash_after = at;
		f.seed = seed;
	}
	CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
}

bool crash_crashed(struct kvfs_mount *mp)
{
	return kv_dev_crashed(mp->dev);
}

void crash_power_cut(struct kvfs_mount *mp)
{
	kv_dev_power_fail(mp->dev);
	kvfs_mount_shutdown(mp, "test: power cut");
}

void crash_paths(const char *name, char img[CRASH_PATH_MAX],
		 char tmpl[CRASH_PATH_MAX])
{
	const char *dir = getenv("TMPDIR");

	if (!dir && access("/dev/shm", W_OK) == 0)
		dir = "/dev/shm";
	if (!dir)
		dir = "/tmp";
	snprintf(img, CRASH_PATH_MAX, "%s/kvfs-%s-%d.img", dir, name,
		 (int)getpid());
	snprintf(tmpl, CRASH_PATH_MAX, "%s/kvfs-%s-%d.tmpl", dir, name,
		 (int)getpid());
}

void crash_copy_image(const char *from, const char *to)
{
	int in = open(from, O_RDONLY), out;
	struct stat st;
	off_t pos = 0;

	CHECK(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(out >= 0);
	CHECK_EQ(fstat(in, &st), 0);
	CHECK_EQ(ftruncate(out, st.st_size), 0);
	for (;;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole, off;

		if (data < 0)
			break;
		hole = lseek(in, data, SEEK_HOLE);
		CHECK(hole > data);
		for (off = data; off < hole;) {
			loff_t i_off = off, o_off = off;
			ssize_t n = copy_file_range(in, &i_off, out, &o_off,
						    (size_t)(hole - off), 0);

			CHECK(n > 0);
			off += n;
		}
		pos = hole;
	}
	close(in);
	CHECK_EQ(close(out), 0);
}

/*
 * KVFS_COMMIT_MS in the environment sets the log push interval (0 or
 * unset: the core's default), to run the tests as a commit= mount would.
 */
struct kvfs_mount *crash_open(const char *p, struct kvfs_open_info *info)
{
	struct kvfs_open_opts o = { .atime = KVFS_ATIME_NOATIME };
	const char *commit = getenv("KVFS_COMMIT_MS");
	struct kvfs_open_info dummy;
	struct kvfs_mount *mp;
	int err;

	if (commit)
		o.commit_ms = (unsigned)strtoul(commit, NULL, 10);
	err = kvfs_open(p, &o, &mp, info ? info : &dummy);

	if (err)
		fprintf(stderr, "kvfs_open: %d: %s\n", err, kvfs_open_error());
	CHECK_EQ(err, 0);
	return mp;
}

int crash_cut_in_replay(const char *p, uint64_t cutseed, uint64_t *cut_at,
			bool *recrashed)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_SECTORS | KV_FAULT_CRASH,
				  .crash_after = 1 + (cutseed >> 8) % 24,
				  .seed = cutseed ^ 0x5bd1e995 };
	struct kvfs_mount_opts mo = { 0 };
	struct kvfs_mount *mp;
	struct kv_dev *dev;
	int err;

	CHECK_EQ(kv_dev_open(p, 0, &dev), 0);
	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
	mo.dev = dev;
	*cut_at = f.crash_after;
	*recrashed = false;
	err = kvfs_mount_open(p, &mo, &mp);
	if (!err) {
		kvfs_mount_close(mp);
		*recrashed = kv_dev_crashed(dev);
	}
	kv_dev_power_fail(dev);
	kv_dev_close(dev);
	return err;
}

/* What fsck_dry() hands its problem callback. */
struct fsck_count {
	const char *when;
	bool dirty_log_ok; /* a dirty log is not a finding */
	unsigned found;
};

static void fsck_problem(void *arg, enum kvfs_repair_phase ph, uint64_t ino,
			 uint64_t blkno, const char *what, bool fixed)
{
	struct fsck_count *c = arg;

	(void)fixed;
	if (c->dirty_log_ok && ph == KVFS_RP_LOG &&
	    strstr(what, "log is dirty"))
		return;
	c->found++;
	fprintf(stderr,
		"fsck -n %s: phase %s: inode %" PRIu64 ", block %" PRIu64
		": %s\n",
		c->when, kvfs_repair_phase_name(ph), ino, blkno, what);
}

static unsigned fsck_dry(const char *p, const char *when, bool dirty_log_ok,
			 int *err)
{
	static const struct kvfs_repair_ops ops = { .problem = fsck_problem };
	struct fsck_count c = { when, dirty_log_ok, 0 };
	struct kvfs_repair_opts o = { .dry_run = true, .ops = &ops, .arg = &c };
	struct kvfs_repair_result res;

	*err = kvfs_repair(p, &o, &res);
	return c.found;
}

unsigned crash_fsck_dry(const char *p, const char *when, int *err)
{
	/* -n never replays into the image: a dirty log is said, not wrong */
	return fsck_dry(p, when, true, err);
}

void crash_image_clean(const char *p, const char *when)
{
	int err;

	scrub_image_clean(p);
	/* after a clean close: a log left dirty is a finding too */
	CHECK_EQ(fsck_dry(p, when, false, &err), 0);
	CHECK_EQ(err, 0);
}

uint64_t crash_rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *alarm_msg;

static void alarm_fired(int sig)
{
	(void)sig;
	if (write(2, alarm_msg, strlen(alarm_msg)) < 0)
		_exit(2);
	_exit(1);
}

void crash_alarm(unsigned seconds, const char *msg)
{
	alarm_msg = msg;
	signal(SIGALRM, alarm_fired);
	alarm(seconds);
}

uint64_t crash_fnv(const void *p, size_t n)
{
	const uint8_t *c = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *c++) * 0x100000001b3ull;
	return h;
}

void crash_sb_add(struct crash_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		CHECK(n >= 0);
		if (b->n + (size_t)n < b->cap)
			break;
		b->cap = b->cap ? 2 * b->cap + (size_t)n : 4096;
		b->s = realloc(b->s, b->cap);
		CHECK(b->s);
	}
	b->n += (size_t)n;
}
