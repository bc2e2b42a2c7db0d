/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness of the crash tests (test_crash, test_crash_ns): the device
 * layer's crash modes (fs/io/dev.h) by name, armed a number of writes ahead;
 * the image and template paths; copies of an image; opens that must
 * succeed; the power cut; a splitmix64 stream; an alarm that fails a hung
 * test.  Every failure prints where and exits 1 (tests/check.h).
 */
#ifndef KV_TESTS_CRASH_HARNESS_H
#define KV_TESTS_CRASH_HARNESS_H

#include <stdbool.h>
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

/* splitmix64: the next number of the stream *s */
uint64_t crash_rnd(uint64_t *s);

/* In seconds, msg on stderr and exit 1: a deadlock fails the test. */
void crash_alarm(unsigned seconds, const char *msg);

#endif
