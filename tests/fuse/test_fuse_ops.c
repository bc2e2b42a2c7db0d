// SPDX-License-Identifier: GPL-2.0
/*
 * POSIX through a mounted kvfs (run by tests/fuse/mount.sh on a fresh
 * mount): every operation the daemon answers, through the kernel, with the
 * exact errno of each failure.  argv[1] is an empty directory on the mount.
 * "write DIR" and "verify DIR" write a tree of known contents and compare
 * it (the persistence check across an unmount).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/fuse/fuse_check.h"

static char path[4][4096];

static const char *P(int i, const char *fmt, const char *s)
{
	snprintf(path[i], sizeof(path[i]), fmt, s);
	return path[i];
}

/* A byte of the test pattern: position and a seed, never all zeros. */
static uint8_t pat(uint64_t off, unsigned seed)
{
	return (uint8_t)((off * 2654435761u + seed) >> 13) | 1;
}

static void fill(uint8_t *b, size_t len, uint64_t off, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		b[i] = pat(off + i, seed);
}

static void write_file(const char *p, size_t len, unsigned seed)
{
	uint8_t *b = malloc(len ? len : 1);
	int fd;

	CHECK(b);
	fill(b, len, 0, seed);
	CHECK_OK(fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0644));
	CHECK_EQ(write(fd, b, len), (long)len);
	CHECK_OK(close(fd));
	free(b);
}

static void check_file(const char *p, size_t len, unsigned seed)
{
	uint8_t *b = malloc(len + 1), *want = malloc(len + 1);
	struct stat st;
	int fd;

	CHECK(b && want);
	fill(want, len, 0, seed);
	CHECK_OK(fd = open(p, O_RDONLY));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, (long)len);
	CHECK_EQ(read(fd, b, len + 1), (long)len);
	if (memcmp(b, want, len)) {
		fprintf(stderr, "%s: contents differ\n", p);
		exit(1);
	}
	CHECK_OK(close(fd));
	free(b);
	free(want);
}

static void test_files(const char *d)
{
	struct stat st, st2;
	struct timespec ts[2], ctime0;
	uint8_t buf[8192];
	int fd;

	write_file(P(0, "%s/f", d), 3 << 20, 1);
	check_file(P(0, "%s/f", d), 3 << 20, 1);
	CHECK_ERR(open(P(0, "%s/f", d), O_CREAT | O_EXCL | O_WRONLY, 0644),
		  EEXIST);
	CHECK_ERR(open(P(0, "%s/missing", d), O_RDONLY), ENOENT);
	CHECK_ERR(open(P(0, "%s/f/x", d), O_RDONLY), ENOTDIR);
	CHECK_ERR(open(P(0, "%s/f/x", d), O_CREAT | O_WRONLY, 0644), ENOTDIR);

	/* a write then stat sees the new size and mtime */
	CHECK_OK(stat(P(0, "%s/f", d), &st));
	ts[0].tv_sec = ts[1].tv_sec = 1000000000;
	ts[0].tv_nsec = 123456789;
	ts[1].tv_nsec = 987654321;
	CHECK_OK(utimensat(AT_FDCWD, P(0, "%s/f", d), ts, 0));
	CHECK_OK(stat(P(0, "%s/f", d), &st));
	CHECK_EQ(st.st_atim.tv_sec, 1000000000);
	CHECK_EQ(st.st_atim.tv_nsec, 123456789);
	CHECK_EQ(st.st_mtim.tv_nsec, 987654321);
	CHECK_OK(fd = open(P(0, "%s/f", d), O_WRONLY | O_APPEND));
	CHECK_EQ(write(fd, "tail", 4), 4);
	CHECK_OK(fstat(fd, &st2));
	CHECK_EQ(st2.st_size, (3 << 20) + 4);
	CHECK(st2.st_mtim.tv_sec > 1000000000);
	/* a truncate then read sees zeros past the old data */
	CHECK_OK(ftruncate(fd, 100));
	CHECK_OK(ftruncate(fd, 8192));
	CHECK_OK(close(fd));
	CHECK_OK(fd = open(P(0, "%s/f", d), O_RDONLY));
	CHECK_EQ(pread(fd, buf, sizeof(buf), 0), 8192);
	for (int i = 0; i < 8192; i++)
		CHECK_EQ(buf[i], i < 100 ? pat(i, 1) : 0);
	/* SEEK_DATA / SEEK_HOLE: data at 0, the end is a hole, past it ENXIO */
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 0);
	CHECK(lseek(fd, 0, SEEK_HOLE) > 0);
	CHECK_ERR(lseek(fd, 9000, SEEK_DATA), ENXIO);
	CHECK_OK(close(fd));
	/* data still in the writeback cache is data */
	CHECK_OK(fd = open(P(0, "%s/sparse", d), O_CREAT | O_RDWR, 0600));
	CHECK_EQ(pwrite(fd, "data", 4, 1 << 20), 4);
	CHECK_EQ(lseek(fd, 1 << 20, SEEK_DATA), 1 << 20);
	/* the hole before it: exact from the core, or none from the kernel */
	off_t hole = lseek(fd, 0, SEEK_HOLE);

	CHECK(hole == 0 || hole == (1 << 20) + 4);
	CHECK_OK(close(fd));
	/*
	 * so is a page written through a shared mapping and not written back
	 * yet, its descriptor closed (the mapping keeps the file open), with
	 * or without the writeback cache: without, SEEK_DATA had answered
	 * ENXIO, the whole file a hole
	 */
	CHECK_OK(fd = open(P(0, "%s/mapped", d), O_CREAT | O_RDWR, 0600));
	CHECK_OK(ftruncate(fd, 1 << 20));
	char *map =
		mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	CHECK(map != MAP_FAILED);
	CHECK_OK(close(fd));
	memset(map + (512 << 10), 'm', 4096);
	CHECK_OK(fd = open(P(0, "%s/mapped", d), O_RDONLY));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 512 << 10);
	CHECK(lseek(fd, 512 << 10, SEEK_HOLE) >= (512 << 10) + 4096);
	CHECK_OK(munmap(map, 1 << 20));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 512 << 10);
	CHECK_OK(close(fd));

	/* fallocate extends; the blocks read as zeros */
	CHECK_OK(fd = open(P(0, "%s/fa", d), O_CREAT | O_RDWR, 0600));
	CHECK_OK(fallocate(fd, 0, 0, 1 << 20));
	CHECK_OK(fstat(fd, &st));
	CHECK_EQ(st.st_size, 1 << 20);
	CHECK_EQ(pread(fd, buf, 4096, 4096), 4096);
	for (int i = 0; i < 4096; i++)
		CHECK_EQ(buf[i], 0);
	CHECK_OK(fsync(fd));
	CHECK_OK(fdatasync(fd));
	CHECK_OK(close(fd));

	/* an unlinked open file lives until it is closed */
	CHECK_OK(fd = open(P(0, "%s/gone", d), O_CREAT | O_RDWR, 0600));
	CHECK_OK(fstat(fd, &st));
	ctime0 = st.st_ctim;
	CHECK_OK(unlink(P(0, "%s/gone", d)));
	CHECK_ERR(stat(P(0, "%s/gone", d), &st), ENOENT);
	CHECK_EQ(pwrite(fd, "still here", 10, 1 << 20), 10);
	CHECK_OK(fsync(fd));
	CHECK_OK(fstat(fd, &st));
	/*
	 * the kernel stamped the unlink's ctime, the daemon the create's:
	 * one clock, so never backwards
	 */
	CHECK(st.st_ctim.tv_sec > ctime0.tv_sec ||
	      (st.st_ctim.tv_sec == ctime0.tv_sec &&
	       st.st_ctim.tv_nsec >= ctime0.tv_nsec));
	CHECK_EQ(st.st_nlink, 0);
	CHECK_EQ(st.st_size, (1 << 20) + 10);
	CHECK_EQ(st.st_mode, S_IFREG | 0600);
	/* the mtime of a file without a name can still be set */
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1234567890;
	ts[1].tv_nsec = 5;
	CHECK_OK(futimens(fd, ts));
	/* as the setattr's answer left them, then as the core has them */
	for (int i = 0; i < 2; i++) {
		CHECK_OK(fstat(fd, &st));
		CHECK_EQ(st.st_mtim.tv_sec, 1234567890);
		CHECK_EQ(st.st_mtim.tv_nsec, 5);
		CHECK_EQ(st.st_nlink, 0);
		CHECK_EQ(st.st_mode, S_IFREG | 0600);
		CHECK_EQ(st.st_size, (1 << 20) + 10);
		CHECK_OK(fsync(fd));
	}
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(pread(fd, buf, 10, 1 << 20), 10);
	CHECK(!memcmp(buf, "still here", 10));
	CHECK_OK(close(fd));

	/* hard links */
	CHECK_OK(link(P(0, "%s/f", d), P(1, "%s/f2", d)));
	CHECK_OK(stat(P(0, "%s/f", d), &st));
	CHECK_EQ(st.st_nlink, 2);
	CHECK_ERR(link(P(0, "%s/f", d), P(1, "%s/f2", d)), EEXIST);
	CHECK_OK(unlink(P(0, "%s/f2", d)));
	CHECK_OK(stat(P(0, "%s/f", d), &st));
	CHECK_EQ(st.st_nlink, 1);
	CHECK_ERR(unlink(P(0, "%s/f2", d)), ENOENT);
}

static void test_names(const char *d)
{
	char name[300];
	struct stat st;
	int fd;

	memset(name, 'n', 255);
	name[255] = '\0';
	snprintf(path[0], sizeof(path[0]), "%s/%s", d, name);
	CHECK_OK(fd = open(path[0], O_CREAT | O_WRONLY, 0644));
	CHECK_OK(close(fd));
	CHECK_OK(unlink(path[0]));
	name[255] = 'n';
	name[256] = '\0';
	snprintf(path[0], sizeof(path[0]), "%s/%s", d, name);
	CHECK_ERR(open(path[0], O_CREAT | O_WRONLY, 0644), ENAMETOOLONG);
	CHECK_ERR(mkdir(path[0], 0755), ENAMETOOLONG);

	/* directories */
	CHECK_OK(mkdir(P(0, "%s/a", d), 0755));
	CHECK_ERR(mkdir(P(0, "%s/a", d), 0755), EEXIST);
	CHECK_OK(mkdir(P(0, "%s/a/b", d), 0700));
	CHECK_OK(stat(P(0, "%s/a", d), &st));
	CHECK(S_ISDIR(st.st_mode));
	CHECK_EQ(st.st_nlink, 3);
	CHECK_ERR(rmdir(P(0, "%s/a", d)), ENOTEMPTY);
	CHECK_ERR(rename(P(0, "%s/a", d), P(1, "%s/a/b/c", d)), EINVAL);
	write_file(P(0, "%s/a/file", d), 10, 2);
	CHECK_ERR(rmdir(P(0, "%s/a/file", d)), ENOTDIR);
	CHECK_ERR(unlink(P(0, "%s/a/b", d)), EISDIR);
	CHECK_ERR(link(P(0, "%s/a/b", d), P(1, "%s/a/b2", d)), EPERM);
	CHECK_ERR(rename(P(0, "%s/a/file", d), P(1, "%s/a/b", d)), EISDIR);

	/* rename: plain, over a file, NOREPLACE, EXCHANGE */
	CHECK_OK(rename(P(0, "%s/a/file", d), P(1, "%s/moved", d)));
	CHECK_ERR(stat(P(0, "%s/a/file", d), &st), ENOENT);
	check_file(P(0, "%s/moved", d), 10, 2);
	write_file(P(0, "%s/other", d), 20, 3);
	CHECK_ERR(syscall(SYS_renameat2, AT_FDCWD, P(0, "%s/moved", d),
			  AT_FDCWD, P(1, "%s/other", d), RENAME_NOREPLACE),
		  EEXIST);
	CHECK_OK(syscall(SYS_renameat2, AT_FDCWD, P(0, "%s/moved", d), AT_FDCWD,
			 P(1, "%s/other", d), RENAME_EXCHANGE));
	check_file(P(0, "%s/moved", d), 20, 3);
	check_file(P(0, "%s/other", d), 10, 2);
	CHECK_OK(rename(P(0, "%s/moved", d), P(1, "%s/other", d)));
	check_file(P(0, "%s/other", d), 20, 3);
	CHECK_ERR(stat(P(0, "%s/moved", d), &st), ENOENT);
	CHECK_OK(rmdir(P(0, "%s/a/b", d)));
	CHECK_OK(rmdir(P(0, "%s/a", d)));
	CHECK_ERR(rmdir(P(0, "%s/a", d)), ENOENT);
}

/* Symbolic links: inline and in blocks, the length limits, lstat. */
static void test_symlinks(const char *d)
{
	static char target[4097], buf[4097];
	static const size_t lens[] = { 1, 100, 300, 3000, 4095 };
	struct stat st;

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memset(target, 'a' + (int)i, lens[i]);
		target[lens[i]] = '\0';
		snprintf(path[0], sizeof(path[0]), "%s/sl%zu", d, i);
		CHECK_OK(symlink(target, path[0]));
		CHECK_EQ(readlink(path[0], buf, sizeof(buf)), (ssize_t)lens[i]);
		CHECK(!memcmp(buf, target, lens[i]));
		CHECK_OK(lstat(path[0], &st));
		CHECK(S_ISLNK(st.st_mode));
		CHECK_EQ((size_t)st.st_size, lens[i]);
		CHECK_ERR(symlink(target, path[0]), EEXIST);
	}
	memset(target, 'z', 4096);
	target[4096] = '\0';
	snprintf(path[1], sizeof(path[1]), "%s/sl-long", d);
	CHECK_ERR(symlink(target, path[1]), ENAMETOOLONG);
	/* a link to itself: the kernel's lookup loops */
	snprintf(path[1], sizeof(path[1]), "%s/loop", d);
	CHECK_OK(symlink("loop", path[1]));
	CHECK_ERR(open(path[1], O_RDONLY), ELOOP);
	CHECK_OK(unlink(path[1]));
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		snprintf(path[0], sizeof(path[0]), "%s/sl%zu", d, i);
		CHECK_OK(unlink(path[0]));
	}
}

static void test_readdir(const char *d)
{
	enum { N = 300 };
	unsigned char seen[N] = { 0 };
	struct dirent *de;
	int dots = 0, n = 0;
	DIR *dir;

	CHECK_OK(mkdir(P(0, "%s/many", d), 0755));
	for (int i = 0; i < N; i++) {
		char nm[4096];

		snprintf(nm, sizeof(nm), "%s/many/entry-%04d", d, i);
		if (i % 3 == 0)
			CHECK_OK(mkdir(nm, 0755));
		else
			write_file(nm, i, 4);
	}
	CHECK(dir = opendir(P(0, "%s/many", d)));
	while ((de = readdir(dir))) {
		int i;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		CHECK_EQ(sscanf(de->d_name, "entry-%d", &i), 1);
		CHECK(i >= 0 && i < N && !seen[i]);
		seen[i] = 1;
		CHECK_EQ(de->d_type, i % 3 == 0 ? DT_DIR : DT_REG);
		n++;
	}
	CHECK_OK(closedir(dir));
	CHECK_EQ(dots, 2);
	CHECK_EQ(n, N);
	/* every entry's attributes (readdirplus filled them) */
	for (int i = 1; i < N; i += 3) {
		char nm[4096];
		struct stat st;

		snprintf(nm, sizeof(nm), "%s/many/entry-%04d", d, i);
		CHECK_OK(stat(nm, &st));
		CHECK_EQ(st.st_size, i);
	}
}

static void test_xattrs(const char *d)
{
	char buf[256];
	const char *f = P(0, "%s/x", d);

	write_file(f, 1, 5);
	CHECK_ERR(getxattr(f, "user.none", buf, sizeof(buf)), ENODATA);
	CHECK_OK(setxattr(f, "user.a", "value-a", 7, 0));
	CHECK_OK(setxattr(f, "user.b", "bb", 2, XATTR_CREATE));
	CHECK_ERR(setxattr(f, "user.b", "bb", 2, XATTR_CREATE), EEXIST);
	CHECK_ERR(setxattr(f, "user.c", "c", 1, XATTR_REPLACE), ENODATA);
	CHECK_EQ(getxattr(f, "user.a", NULL, 0), 7);
	CHECK_EQ(getxattr(f, "user.a", buf, sizeof(buf)), 7);
	CHECK(!memcmp(buf, "value-a", 7));
	CHECK_ERR(getxattr(f, "user.a", buf, 3), ERANGE);
	CHECK_EQ(listxattr(f, buf, sizeof(buf)), 14);
	CHECK(!memcmp(buf, "user.a\0user.b", 14) ||
	      !memcmp(buf, "user.b\0user.a", 14));
	CHECK_ERR(listxattr(f, buf, 5), ERANGE);
	CHECK_OK(removexattr(f, "user.a"));
	CHECK_ERR(removexattr(f, "user.a"), ENODATA);
	CHECK_EQ(listxattr(f, buf, sizeof(buf)), 7);
	/*
	 * security.capability (the daemon answers it from memory once
	 * known): none, then set, then removed by the kernel at a write.
	 */
	uint32_t caps[5] = { VFS_CAP_REVISION_2, 1u << 10, 0, 0, 0 };
	int fd;

	CHECK_ERR(getxattr(f, "security.capability", buf, sizeof(buf)),
		  ENODATA);
	CHECK_OK(setxattr(f, "security.capability", caps, sizeof(caps), 0));
	CHECK_EQ(getxattr(f, "security.capability", buf, sizeof(buf)),
		 sizeof(caps));
	CHECK(!memcmp(buf, caps, sizeof(caps)));
	CHECK_OK(fd = open(f, O_WRONLY));
	CHECK_EQ(write(fd, "w", 1), 1);
	CHECK_OK(close(fd));
	CHECK_ERR(getxattr(f, "security.capability", buf, sizeof(buf)),
		  ENODATA);
	CHECK_OK(setxattr(f, "security.capability", caps, sizeof(caps), 0));
	CHECK_EQ(getxattr(f, "security.capability", buf, sizeof(buf)),
		 sizeof(caps));
}

/* As an unprivileged user (uid/gid 65534): permissions and SUID clearing. */
static void test_user(const char *d)
{
	struct stat st;
	pid_t pid;
	int fd, status;

	write_file(P(0, "%s/suid", d), 10, 6);
	CHECK_OK(chmod(path[0], 06777));
	CHECK_OK(stat(path[0], &st));
	CHECK_EQ(st.st_mode & 07777, 06777);
	CHECK_OK(chmod(d, 0755));
	pid = fork();
	CHECK_OK(pid);
	if (pid == 0) {
		CHECK_OK(setgid(65534));
		CHECK_OK(setuid(65534));
		CHECK_ERR(open(P(1, "%s/nope", d), O_CREAT | O_WRONLY, 0644),
			  EACCES);
		CHECK_ERR(mkdir(P(1, "%s/nope", d), 0755), EACCES);
		CHECK_ERR(chmod(P(1, "%s/suid", d), 0644), EPERM);
		CHECK_OK(fd = open(P(1, "%s/suid", d), O_WRONLY));
		CHECK_EQ(write(fd, "x", 1), 1);
		CHECK_OK(close(fd));
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* a write by a non-owner without CAP_FSETID clears SUID and SGID */
	CHECK_OK(stat(P(0, "%s/suid", d), &st));
	CHECK_EQ(st.st_mode & 07777, 0777);
}

static void test_statfs(const char *d)
{
	struct statvfs sv;

	CHECK_OK(statvfs(d, &sv));
	CHECK_EQ(sv.f_namemax, 255);
	CHECK(sv.f_blocks > 0 && sv.f_bfree <= sv.f_blocks);
	CHECK(sv.f_files > 0);
}

/* The persistence tree: files of several sizes, a subdirectory, a link. */
static void tree(const char *d, bool write)
{
	static const size_t sizes[] = { 0,     1,	4095,	      4096,
					65537, 1 << 20, (5 << 20) + 3 };

	if (write) {
		CHECK_OK(mkdir(P(0, "%s/sub", d), 0750));
	}
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char nm[4096];

		snprintf(nm, sizeof(nm), "%s/%sfile%u", d, i % 2 ? "sub/" : "",
			 i);
		if (write)
			write_file(nm, sizes[i], 10 + i);
		else
			check_file(nm, sizes[i], 10 + i);
	}
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "write")) {
		tree(argv[2], true);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "verify")) {
		tree(argv[2], false);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR | write DIR | verify DIR\n",
			argv[0]);
		return 2;
	}
	test_files(argv[1]);
	test_names(argv[1]);
	test_symlinks(argv[1]);
	test_readdir(argv[1]);
	test_xattrs(argv[1]);
	test_statfs(argv[1]);
	test_user(argv[1]);
	printf("fuse ops: ok\n");
	return 0;
}
