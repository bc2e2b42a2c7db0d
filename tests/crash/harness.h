/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness of the crash tests (test_crash, test_crash_ns, crashcamp,
 * test_crash_forms, ...): the device layer's crash modes (fs/io/dev.h) by
 * name, armed a number of writes ahead; the image and template paths;
 * copies of an image; opens that must succeed; the power cut; a cut again
 * inside the next mount's replay; fsck -n through the library; a
 * splitmix64 stream, FNV-1a fingerprints and a growing string; an alarm
 * that fails a hung test.  Every failure prints where and exits 1
 * (tests/check.h).
 */
#ifndef KV_TESTS_CRASH_HARNESS_H
#define KV_TESTS_CRASH_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/kvfs.h"
#include "fs/mount.h"

/* how the machine dies */
enum crash_mode {
	M_CRASH, /* after write N */
	M_VOLATILE, /* after write N, unflushed writes lost */
	M_TEAR, /* write N torn */
	M_SECTORS, /* after write N, unflushed sectors kept in any subset */
	NMODES
};

extern const char *const crash_mode_name[NMODES];

/* The mode called name, -1 for none. */
int crash_mode_parse(const char *name);

/* The fault of mode m at the n-th write from now (seed: SECTORS' subset). */
void crash_arm(struct kvfs_mount *mp, enum crash_mode m, uint64_t n,
	       uint64_t seed);

/* The device has crashed: anything may fail from now on. */
bool crash_crashed(struct kvfs_mount *mp);

/*
 * The power cut: the media as the mode leaves it, the mount shut down.
 * The caller closes the mount (after dropping what it still holds).
 */
void crash_power_cut(struct kvfs_mount *mp);

#define CRASH_PATH_MAX 256

/*
 * A test's image and template paths, kvfs-NAME-PID.img and .tmpl in
 * $TMPDIR, else /dev/shm where there is one (every point opens and closes
 * the image without a fault mode, whose flushes are real fdatasync()s),
 * else /tmp.
 */
void crash_paths(const char *name, char img[CRASH_PATH_MAX],
		 char tmpl[CRASH_PATH_MAX]);

/* to: a copy of the image from, by its data ranges (a sparse image). */
void crash_copy_image(const char *from, const char *to);

/* The filesystem at p, opened (noatime); info may be NULL. */
struct kvfs_mount *crash_open(const char *p, struct kvfs_open_info *info);

/*
 * Cut again inside the next mount: the image at p mounted on a device that
 * crashes at its write 1 to 24 (from cutseed: the replay's writes, or its
 * close's write-back and unmount record), keeping any subset of the
 * unflushed sectors, then powered off.  A replay cut short loses nothing
 * the log held: the checks after the mount that follows are the same.
 * 0 (*recrashed: the cut came before the close ended), or the mount's
 * -errno (why: kvfs_mount_error()); *cut_at: the write armed.
 */
int crash_cut_in_replay(const char *p, uint64_t cutseed, uint64_t *cut_at,
			bool *recrashed);

/*
 * fsck.kvfs -n of the image at p through the library (kvfs_repair(), a dry
 * run): every problem printed, with when; the dirty log that -n reports
 * without replaying it is not one.  The number of problems, kvfs_repair()'s
 * error in *err.
 */
unsigned crash_fsck_dry(const char *p, const char *when, int *err);

/*
 * The image at p, unmounted after a clean close, passes the independent
 * checker (tests/scrub_util.h) and fsck -n with no finding, a dirty log
 * included; what either found is printed before the check fails.
 */
void crash_image_clean(const char *p, const char *when);

/* splitmix64: the next number of the stream *s */
uint64_t crash_rnd(uint64_t *s);

/* FNV-1a (64 bits) of n bytes: fingerprints of contents and targets. */
uint64_t crash_fnv(const void *p, size_t n);

/* A string grown by printf-like appends (canonical listings of a tree). */
struct crash_sbuf {
	char *s;
	size_t n, cap;
};

void crash_sb_add(struct crash_sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* In seconds, msg on stderr and exit 1: a deadlock fails the test. */
void crash_alarm(unsigned seconds, const char *msg);

#endif
