// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's setup (bench.h): the image, made by the library's
 * mkfs or --image, opened (and again by remount()), its unnamed data file
 * and the raw file beside it; all removed at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/format/mkfs.h"
#include "bench.h"

struct kvfs_mount *mp;
struct target kv_file, raw_file;
static char raw_path[PATH_MAX + 64];
static char tmpdir[PATH_MAX], image[PATH_MAX + 64];

static uint64_t image_size(void)
{
	unsigned most = 1;

	for (unsigned i = 0; i < opt_nthreads; i++)
		if (opt_threads[i] > most)
			most = opt_threads[i];
	/* the data file, the 1 GiB files and spacers, and room to spare */
	/* the namespace: an inode and a directory entry per file */
	return opt_size + (uint64_t)most * (TRUNC_SIZE + (8 << 20)) +
	       (1ull << 30) + (uint64_t)opt_dir_entries * 2048 + (4ull << 30);
}

int setup(void)
{
	struct kvfs_open_opts oo = { .atime = KVFS_ATIME_NOATIME,
				     .commit_ms = opt_commit_ms,
				     .direct_io = opt_dio };
	struct kvfs_open_info info;
	const char *dir = getenv("TMPDIR");
	char *slash;
	int err;

	if (opt_image) {
		snprintf(image, sizeof(image), "%s", opt_image);
		snprintf(tmpdir, sizeof(tmpdir), "%s", opt_image);
		slash = strrchr(tmpdir, '/');
		if (slash)
			*slash = 0;
		else
			strcpy(tmpdir, ".");
		snprintf(raw_path, sizeof(raw_path), "%s/" PROG "-raw-%d",
			 tmpdir, (int)getpid());
	} else {
		struct kvfs_mkfs_opts mo = { .force = true };
		struct kvfs_geom g;

		snprintf(tmpdir, sizeof(tmpdir), "%s/" PROG "-XXXXXX",
			 dir ? dir : "/tmp");
		if (!mkdtemp(tmpdir)) {
			fprintf(stderr, PROG ": mkdtemp: %s\n",
				strerror(errno));
			return -1;
		}
		snprintf(image, sizeof(image), "%s/image", tmpdir);
		snprintf(raw_path, sizeof(raw_path), "%s/raw", tmpdir);
		mo.target = image;
		mo.size = image_size();
		err = kvfs_mkfs(&mo, &g);
		if (err) {
			fprintf(stderr, PROG ": mkfs: %s\n", mo.err);
			return -1;
		}
	}
	err = kvfs_open(image, &oo, &mp, &info);
	if (err) {
		fprintf(stderr, PROG ": %s: %s (%s)\n", image, strerror(-err),
			kvfs_open_error());
		return -1;
	}
	kv_file.mp = mp;
	err = tmpfile_ino(&kv_file.ino);
	if (err) {
		fprintf(stderr, PROG ": tmpfile: %s\n", strerror(-err));
		return -1;
	}
	raw_file.fd = open(raw_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (raw_file.fd < 0) {
		fprintf(stderr, PROG ": %s: %s\n", raw_path, strerror(errno));
		return -1;
	}
	return 0;
}

int teardown(void)
{
	int err = 0;

	if (raw_file.fd > 0) {
		close(raw_file.fd);
		unlink(raw_path);
	}
	if (mp) {
		if (big_teardown())
			err = -EUCLEAN;
		if (kv_file.ino)
			kvfs_inode_close(mp, kv_file.ino);
		err = kvfs_close(mp);
		if (err)
			fprintf(stderr, PROG ": close: %s\n", strerror(-err));
	}
	if (!opt_image && tmpdir[0]) {
		unlink(image);
		rmdir(tmpdir);
	}
	return err;
}

/*
 * Close and open the filesystem again: an empty buffer cache (a buffer
 * with a log item attached stays cached until written back, which a
 * purge of the cache cannot force).  The unnamed data file does not
 * survive: a new one, empty.
 */
int remount(void)
{
	struct kvfs_open_opts oo = { .atime = KVFS_ATIME_NOATIME,
				     .commit_ms = opt_commit_ms,
				     .direct_io = opt_dio };
	struct kvfs_open_info info;
	int err;

	if (kv_file.ino)
		kvfs_inode_close(mp, kv_file.ino);
	kv_file.ino = 0;
	err = kvfs_close(mp);
	mp = NULL;
	if (err)
		return err;
	err = kvfs_open(image, &oo, &mp, &info);
	if (err)
		return err;
	kv_file.mp = mp;
	kv_file.filled = false;
	return tmpfile_ino(&kv_file.ino);
}
