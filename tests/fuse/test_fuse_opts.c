// SPDX-License-Identifier: GPL-2.0
/*
 * mount.kvfs's command line (fs/fuse/opts.h): every option's effect, every
 * malformed option's one-line message, and the options the kernel mount
 * gets (as root and not).
 */
#include <errno.h>
#include <string.h>

#include "fs/fuse/opts.h"
#include "fs/kvfs.h"
#include "tests/check.h"

static int parse(struct kvfs_fuse_opts *o, const char *a1, const char *a2,
		 const char *a3, const char *a4)
{
	char *argv[] = { "mount.kvfs", (char *)a1, (char *)a2,
			 (char *)a3,   (char *)a4, NULL };
	int argc = 1;

	while (argv[argc])
		argc++;
	return kvfs_fuse_parse(argc, argv, o);
}

/* -o opts fails with exactly msg. */
static void bad(const char *opts, const char *msg)
{
	struct kvfs_fuse_opts o;

	CHECK_EQ(parse(&o, "img", "mnt", "-o", opts), -EINVAL);
	if (strcmp(o.err, msg)) {
		fprintf(stderr, "-o %s: '%s', expected '%s'\n", opts, o.err,
			msg);
		exit(1);
	}
}

static void test_defaults(void)
{
	struct kvfs_fuse_opts o;

	/* mount(8)'s order: IMAGE DIR -o OPTS, plus flags it may add */
	CHECK_EQ(parse(&o, "img", "mnt", "-n", NULL), 0);
	CHECK(!strcmp(o.image, "img") && !strcmp(o.mountpoint, "mnt"));
	CHECK(!o.rdonly && !o.sync && o.writeback && !o.foreground);
	CHECK_EQ(o.atime, KVFS_ATIME_RELATIME);
	CHECK_EQ(o.mem, 0);
	CHECK_EQ(o.threads, 0);
	CHECK_EQ(o.allow_other, -1);
	CHECK_EQ(o.default_permissions, -1);
	CHECK_EQ(parse(&o, "-o", "ro", "img", "mnt"), 0);
	CHECK(o.rdonly && !strcmp(o.image, "img"));
}

static void test_options(void)
{
	struct kvfs_fuse_opts o;

	CHECK_EQ(
		parse(&o, "img", "mnt", "-o",
		      "ro,sync,noatime,mem=64M,threads=4,commit=5,wbreserve=8M,"
		      "nowriteback_cache,dio,allow_other,default_permissions,"
		      "fsname=disk,noexec,nosuid,nodev,defaults,x-systemd.foo"),
		0);
	CHECK(o.rdonly && o.sync && !o.writeback && o.direct_io && o.noexec &&
	      o.nosuid && o.nodev);
	CHECK_EQ(o.atime, KVFS_ATIME_NOATIME);
	CHECK_EQ(o.mem, 64u << 20);
	CHECK_EQ(o.threads, 4);
	CHECK_EQ(o.commit_ms, 5000);
	CHECK_EQ(o.wbreserve, 8 << 20);
	CHECK_EQ(o.allow_other, 1);
	CHECK_EQ(o.default_permissions, 1);
	CHECK(!strcmp(o.fsname, "disk"));
	/* later wins, as mount(8) reads a list */
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "ro,rw,strictatime,,relatime"),
		 0);
	CHECK(!o.rdonly);
	CHECK_EQ(o.atime, KVFS_ATIME_RELATIME);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "strictatime,writeback_cache"),
		 0);
	CHECK_EQ(o.atime, KVFS_ATIME_STRICT);
	CHECK(o.writeback);
	CHECK(!o.direct_io);
	CHECK_EQ(o.wbreserve, -1);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "wbreserve=0"), 0);
	CHECK_EQ(o.wbreserve, 0);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "dio,nodio"), 0);
	CHECK(!o.direct_io);
	CHECK(!o.prefault);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "mem=64M,prefault"), 0);
	CHECK(o.prefault);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "prefault,noprefault"), 0);
	CHECK(!o.prefault);
	CHECK(parse(&o, "img", "mnt", "-o", "prefault=1") < 0);
	CHECK(!o.copy_range);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "copy_file_range"), 0);
	CHECK(o.copy_range);
	CHECK_EQ(parse(&o, "img", "mnt", "-o",
		       "copy_file_range,nocopy_file_range"),
		 0);
	CHECK(!o.copy_range);
	CHECK(parse(&o, "img", "mnt", "-o", "copy_file_range=1") < 0);
	CHECK_EQ(parse(&o, "-d", "img", "mnt", NULL), 0);
	CHECK(o.debug && o.foreground);
	CHECK_EQ(parse(&o, "-h", NULL, NULL, NULL), 0);
	CHECK(o.help);
	CHECK_EQ(parse(&o, "-V", NULL, NULL, NULL), 0);
	CHECK(o.version);
	CHECK_EQ(parse(&o, "--help", NULL, NULL, NULL), 0);
	CHECK(o.help && !o.version);
	CHECK_EQ(parse(&o, "--version", NULL, NULL, NULL), 0);
	CHECK(o.version && !o.help);
}

static void test_errors(void)
{
	struct kvfs_fuse_opts o;

	bad("bogus", "unknown option 'bogus'");
	bad("ro,bogus=1", "unknown option 'bogus'");
	bad("mem", "option mem needs a value");
	bad("threads", "option threads needs a value");
	bad("ro=1", "option ro takes no value");
	bad("mem=lots",
	    "bad value 'lots' for option mem (a size, 1M or more, e.g. 512M)");
	bad("mem=1000K",
	    "bad value '1000K' for option mem (a size, 1M or more, e.g. 512M)");
	bad("threads=0", "bad value '0' for option threads (1..256)");
	bad("threads=257", "bad value '257' for option threads (1..256)");
	bad("threads=4x", "bad value '4x' for option threads (1..256)");
	bad("commit=-1", "bad value '-1' for option commit (seconds, 1..3600)");
	bad("commit=", "bad value '' for option commit (seconds, 1..3600)");
	bad("fsname=", "bad value '' for option fsname");
	bad("wbreserve=2T", "bad value '2T' for option wbreserve (a size, 0 to "
			    "1T, e.g. 32M)");
	bad("wbreserve", "option wbreserve needs a value");
	CHECK_EQ(parse(&o, "img", NULL, NULL, NULL), -EINVAL);
	CHECK(!strcmp(o.err, "missing MOUNTPOINT"));
	CHECK_EQ(parse(&o, NULL, NULL, NULL, NULL), -EINVAL);
	CHECK(!strcmp(o.err, "missing IMAGE and MOUNTPOINT"));
	CHECK_EQ(parse(&o, "img", "mnt", "extra", NULL), -EINVAL);
	CHECK(!strcmp(o.err, "unexpected argument 'extra'"));
	CHECK_EQ(parse(&o, "img", "mnt", "-x", NULL), -EINVAL);
	CHECK(!strcmp(o.err, "unknown option -x"));
	CHECK_EQ(parse(&o, "img", "mnt", "--bogus", NULL), -EINVAL);
	CHECK(!strcmp(o.err, "unknown option --bogus"));
	CHECK_EQ(parse(&o, "img", "mnt", "-o", NULL), -EINVAL);
	CHECK(!strcmp(o.err, "option -o needs an argument"));
}

static void test_mount_opts(void)
{
	struct kvfs_fuse_opts o;
	char buf[256];

	CHECK_EQ(parse(&o, "img", "mnt", "-o", "fsname=a\\b,c,noexec"),
		 -EINVAL);
	CHECK_EQ(parse(&o, "img", "mnt", "-o", "noexec,sync"), 0);
	CHECK_EQ(kvfs_fuse_mount_opts(&o, true, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "fsname=img,subtype=kvfs,allow_other,"
			   "default_permissions,rw,sync,noexec,suid,"
			   "dev"));
	CHECK_EQ(kvfs_fuse_mount_opts(&o, false, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "fsname=img,subtype=kvfs,rw,sync,noexec"));
	o.nosuid = o.nodev = true;
	o.atime = KVFS_ATIME_NOATIME;
	CHECK_EQ(kvfs_fuse_mount_opts(&o, true, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "fsname=img,subtype=kvfs,allow_other,"
			   "default_permissions,rw,sync,noatime,noexec,nosuid,"
			   "nodev"));
	o.nosuid = o.nodev = false;
	o.atime = KVFS_ATIME_RELATIME;
	/* a comma or backslash in the source is escaped for libfuse */
	strcpy(o.fsname, "/a,b\\c");
	o.rdonly = true;
	o.sync = false;
	o.noexec = false;
	CHECK_EQ(kvfs_fuse_mount_opts(&o, false, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, "fsname=/a\\,b\\\\c,subtype=kvfs,ro"));
	CHECK_EQ(kvfs_fuse_mount_opts(&o, false, buf, 20), -ENAMETOOLONG);
}

int main(void)
{
	test_defaults();
	test_options();
	test_errors();
	test_mount_opts();
	printf("fuse opts: ok\n");
	return 0;
}
