/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mount.kvfs's command line: IMAGE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-h]
 * [-V], and the -o options (kvfs's own and the mount flags passed through
 * to the kernel).  kvfs_fuse_parse() never prints: a bad command line
 * leaves one line naming the cause in o->err.  Nothing here needs the
 * filesystem, so the tests check every message without a mount.
 */
#ifndef KV_FS_FUSE_OPTS_H
#define KV_FS_FUSE_OPTS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVFS_FUSE_MAX_THREADS 256

/*
 * The workers without threads=: one per CPU, at least two (one blocked
 * in an fsync or a cold read leaves another).  More only add wake-ups:
 * the kernel hands each request to the worker that waited longest, so
 * with idle workers to spare every request wakes a sleeping one instead
 * of going to the one that just replied (libfuse's 10 on 2 CPUs: 5.6
 * context switches and ~36 us of daemon system time per create of one
 * thread; 2 workers: 3.6 and ~27 us).
 */
static inline unsigned kvfs_fuse_default_threads(void)
{
	cpu_set_t set;
	int n = 0;

	/* the CPUs this process may run on (a container's, a taskset's) */
	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	if (n < 2)
		return 2;
	return n > KVFS_FUSE_MAX_THREADS ? KVFS_FUSE_MAX_THREADS : (unsigned)n;
}

struct kvfs_fuse_opts {
	const char *image;
	const char *mountpoint;
	bool foreground; /* -f */
	bool debug; /* -d: libfuse's request trace, implies -f */
	bool help; /* -h */
	bool version; /* -V */

	bool rdonly;
	bool sync;
	unsigned atime; /* KVFS_ATIME_* */
	size_t mem; /* kvalloc budget in bytes; 0: the default */
	unsigned threads; /* FUSE worker threads; 0: the default */
	unsigned commit_ms; /* log push interval; 0: the default */
	/* the core's write-back reserve (fs/fuse/dirty.h); -1: the default */
	int64_t wbreserve;
	bool writeback; /* the kernel's writeback cache */
	bool direct_io; /* dio: large writes bypass the host's page cache */
	bool prefault; /* every page of the mem= budget written at mount */
	/* copy_file_range: the daemon copies (else the kernel, fs/fuse/ops.c) */
	bool copy_range;
	int allow_other; /* -1: on when run as root */
	int default_permissions; /* -1: on when run as root */
	bool noexec, nosuid, nodev;
	char fsname[4096]; /* "": the image path */

	char err[512]; /* why kvfs_fuse_parse() failed */
};

/*
 * Parse argv (argv[0] is the program).  0, or -EINVAL with o->err set.
 * With -h or -V the image and mountpoint may be missing.
 */
int kvfs_fuse_parse(int argc, char **argv, struct kvfs_fuse_opts *o);

/*
 * The -o string handed to libfuse for the kernel mount (fsname, subtype,
 * the permission options and the mount flags), given whether the caller
 * is root.  0, or -ENAMETOOLONG when it does not fit in size.
 */
int kvfs_fuse_mount_opts(const struct kvfs_fuse_opts *o, bool root, char *buf,
			 size_t size);

#endif
