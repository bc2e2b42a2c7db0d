// SPDX-License-Identifier: GPL-2.0
/*
 * mount.kvfs's command line (fs/fuse/opts.h).
 */
#include "fs/fuse/opts.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/kvfs.h"
#include "fs/format/mkfs.h"

static int fail(struct kvfs_fuse_opts *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A decimal number in [min, max], nothing after it. */
static int parse_uint(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Options a mount(8) or fstab line carries that mean nothing to kvfs. */
static bool ignored_opt(const char *name)
{
	static const char *const names[] = { "defaults", "auto",    "noauto",
					     "nofail",	 "_netdev", "user",
					     "nouser",	 "users",   "owner",
					     "group" };

	if (!strncmp(name, "x-", 2))
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static int parse_flag(struct kvfs_fuse_opts *o, const char *name)
{
	static const struct {
		const char *name;
		size_t off;
		bool val;
	} flags[] = {
#define F(n, field, v) { n, offsetof(struct kvfs_fuse_opts, field), v }
		F("ro", rdonly, true),
		F("rw", rdonly, false),
		F("sync", sync, true),
		F("async", sync, false),
		F("writeback_cache", writeback, true),
		F("nowriteback_cache", writeback, false),
		F("dio", direct_io, true),
		F("nodio", direct_io, false),
		F("prefault", prefault, true),
		F("noprefault", prefault, false),
		F("copy_file_range", copy_range, true),
		F("nocopy_file_range", copy_range, false),
		F("noexec", noexec, true),
		F("exec", noexec, false),
		F("nosuid", nosuid, true),
		F("suid", nosuid, false),
		F("nodev", nodev, true),
		F("dev", nodev, false),
#undef F
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!strcmp(name, flags[i].name)) {
			*(bool *)((char *)o + flags[i].off) = flags[i].val;
			return 0;
		}
	}
	if (!strcmp(name, "noatime"))
		o->atime = KVFS_ATIME_NOATIME;
	else if (!strcmp(name, "relatime"))
		o->atime = KVFS_ATIME_RELATIME;
	else if (!strcmp(name, "strictatime"))
		o->atime = KVFS_ATIME_STRICT;
	else if (!strcmp(name, "allow_other"))
		o->allow_other = 1;
	else if (!strcmp(name, "default_permissions"))
		o->default_permissions = 1;
	else if (!ignored_opt(name))
		return -ENOENT;
	return 0;
}

static int parse_value(struct kvfs_fuse_opts *o, const char *name,
		       const char *val)
{
	unsigned long v;
	uint64_t sz;

	if (!strcmp(name, "mem")) {
		/*
		 * What the filesystem needs depends on its geometry and the
		 * threads: the core checks that (kvfs_open()), this only
		 * what the allocator can be made of at all.
		 */
		if (kvfs_parse_size(val, &sz) || sz < (1u << 20) ||
		    sz > SIZE_MAX / 2)
			return fail(
				o,
				"bad value '%s' for option mem (a size, 1M or more, e.g. 512M)",
				val);
		o->mem = sz;
	} else if (!strcmp(name, "threads")) {
		if (parse_uint(val, 1, KVFS_FUSE_MAX_THREADS, &v))
			return fail(o,
				    "bad value '%s' for option threads (1..%u)",
				    val, KVFS_FUSE_MAX_THREADS);
		o->threads = v;
	} else if (!strcmp(name, "commit")) {
		if (parse_uint(val, 1, 3600, &v))
			return fail(
				o,
				"bad value '%s' for option commit (seconds, 1..3600)",
				val);
		o->commit_ms = v * 1000;
	} else if (!strcmp(name, "wbreserve")) {
		if (kvfs_parse_size(val, &sz) || sz > (1ull << 40))
			return fail(
				o,
				"bad value '%s' for option wbreserve (a size, 0 to 1T, e.g. 32M)",
				val);
		o->wbreserve = (int64_t)sz;
	} else if (!strcmp(name, "fsname")) {
		if (!*val || strlen(val) >= sizeof(o->fsname))
			return fail(o, "bad value '%s' for option fsname", val);
		strcpy(o->fsname, val);
	} else {
		if (parse_flag(o, name) == 0)
			return fail(o, "option %s takes no value", name);
		return fail(o, "unknown option '%s'", name);
	}
	return 0;
}

static const char *const valued[] = { "mem", "threads", "commit", "wbreserve",
				      "fsname" };

/* One comma-separated -o list; an empty item is allowed (",," from fstab). */
static int parse_list(struct kvfs_fuse_opts *o, const char *list)
{
	char *copy = strdup(list), *save = NULL, *item;
	int ret = 0;

	if (!copy)
		return fail(o, "out of memory");
	for (item = strtok_r(copy, ",", &save); item && !ret;
	     item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');

		if (eq) {
			*eq = '\0';
			ret = parse_value(o, item, eq + 1);
			continue;
		}
		if (parse_flag(o, item) == 0)
			continue;
		ret = fail(o, "unknown option '%s'", item);
		for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++)
			if (!strcmp(item, valued[i]))
				ret = fail(o, "option %s needs a value", item);
	}
	free(copy);
	return ret;
}

static const struct option longopts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int kvfs_fuse_parse(int argc, char **argv, struct kvfs_fuse_opts *o)
{
	const char *pos[2];
	int npos = 0, c, ret;

	memset(o, 0, sizeof(*o));
	o->writeback = true;
	o->allow_other = -1;
	o->default_permissions = -1;
	o->wbreserve = -1;
	opterr = 0;
	optind = 0; /* GNU: start over (the tests parse many times) */
	/*
	 * '-' keeps the operands in place, so that "IMAGE DIR -o opts" (how
	 * mount(8) calls a helper) and "-o opts IMAGE DIR" both parse; ':'
	 * tells a missing argument from an unknown option.  -n, -s, -v and
	 * -t TYPE are what mount(8) may add: accepted, ignored.
	 */
	while ((c = getopt_long(argc, argv, "-:o:fdhVnsvt:", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 1:
			if (npos == 2)
				return fail(o, "unexpected argument '%s'",
					    optarg);
			pos[npos++] = optarg;
			break;
		case 'o':
			ret = parse_list(o, optarg);
			if (ret)
				return ret;
			break;
		case 'd':
			o->debug = true;
			o->foreground = true;
			break;
		case 'f':
			o->foreground = true;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			o->version = true;
			break;
		case 'n':
		case 's':
		case 'v':
		case 't':
			break;
		case ':':
			return fail(o, "option -%c needs an argument", optopt);
		default:
			if (!optopt)
				return fail(o, "unknown option %s",
					    argv[optind - 1]);
			return fail(o, "unknown option -%c", optopt);
		}
	}
	if (o->help || o->version)
		return 0;
	if (npos < 2)
		return fail(o, npos ? "missing MOUNTPOINT" :
				      "missing IMAGE and MOUNTPOINT");
	o->image = pos[0];
	o->mountpoint = pos[1];
	return 0;
}

/*
 * Append ",opt" (or "opt" first), escaping ',' and '\' as libfuse reads them.
 */
static int add(char *buf, size_t size, size_t *len, const char *opt,
	       const char *val)
{
	const char *s;

	if (*len && *len + 1 < size)
		buf[(*len)++] = ',';
	for (s = opt; *s && *len + 1 < size; s++)
		buf[(*len)++] = *s;
	for (s = val; s && *s && *len + 2 < size; s++) {
		if (*s == ',' || *s == '\\')
			buf[(*len)++] = '\\';
		buf[(*len)++] = *s;
	}
	if ((s && *s) || *len + 1 >= size)
		return -ENAMETOOLONG;
	buf[*len] = '\0';
	return 0;
}

int kvfs_fuse_mount_opts(const struct kvfs_fuse_opts *o, bool root, char *buf,
			 size_t size)
{
	size_t len = 0;
	int ret;

	if (!size)
		return -ENAMETOOLONG;
	buf[0] = '\0';
	ret = add(buf, size, &len,
		  "fsname=", o->fsname[0] ? o->fsname : o->image);
	ret = ret ?: add(buf, size, &len, "subtype=kvfs", NULL);
	if (o->allow_other > 0 || (o->allow_other < 0 && root))
		ret = ret ?: add(buf, size, &len, "allow_other", NULL);
	if (o->default_permissions > 0 || (o->default_permissions < 0 && root))
		ret = ret ?: add(buf, size, &len, "default_permissions", NULL);
	ret = ret ?: add(buf, size, &len, o->rdonly ? "ro" : "rw", NULL);
	if (o->sync)
		ret = ret ?: add(buf, size, &len, "sync", NULL);
	/* for /proc/mounts (kvfs applies the rule); libfuse knows no other */
	if (o->atime == KVFS_ATIME_NOATIME)
		ret = ret ?: add(buf, size, &len, "noatime", NULL);
	if (o->noexec)
		ret = ret ?: add(buf, size, &len, "noexec", NULL);
	/* libfuse mounts nosuid,nodev unless told: root mounts as mount(8) */
	if (o->nosuid || root)
		ret = ret   ?:
			      add(buf, size, &len,
				  o->nosuid ? "nosuid" : "suid", NULL);
	if (o->nodev || root)
		ret = ret   ?:
			      add(buf, size, &len, o->nodev ? "nodev" : "dev",
				  NULL);
	return ret;
}
