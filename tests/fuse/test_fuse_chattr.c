// SPDX-License-Identifier: GPL-2.0
/*
 * chattr(1)'s flags through a mount (fs/fuse/fileattr.c, the open checks
 * of fs/fuse/ops.c): FS_IOC_GETFLAGS / SETFLAGS and FS_IOC_FSGETXATTR /
 * FSSETXATTR reach the core and agree; on an immutable file every open
 * for writing, truncate, chmod, utimes, xattr change, unlink, rename and
 * link fails with EPERM and reads work; an append-only file opens for
 * writing with O_APPEND only and grows; an immutable directory takes no
 * name; uid 65534 (the owner) may set nodump but not immutable; an
 * unsupported flag is EOPNOTSUPP; bytes written before a chattr +i are
 * kept and no error is reported for them.  "check" after a remount: the flags
 * are still there and the immutable file's bytes unchanged.
 * usage: test_fuse_chattr prep|check DIR
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tests/fuse/fuse_check.h"

#define NOBODY 65534

static char p[4096];

static const char *at(const char *d, const char *name)
{
	snprintf(p, sizeof(p), "%s/%s", d, name);
	return p;
}

static int getflags(const char *path)
{
	int fd = open(path, O_RDONLY), fl = 0;

	CHECK_OK(fd);
	CHECK_OK(ioctl(fd, FS_IOC_GETFLAGS, &fl));
	close(fd);
	return fl;
}

static int setflags(const char *path, int fl)
{
	int fd = open(path, O_RDONLY), ret, e;

	CHECK_OK(fd);
	ret = ioctl(fd, FS_IOC_SETFLAGS, &fl);
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

static void make(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	CHECK_OK(fd);
	CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	CHECK_OK(close(fd));
}

static void immutable_file(const char *d)
{
	char f[1024], buf[16];
	struct fsxattr fa;
	int fd;

	snprintf(f, sizeof(f), "%.1000s", at(d, "imm"));
	make(f, "immutable");
	CHECK_OK(setflags(f, FS_IMMUTABLE_FL | FS_NODUMP_FL));
	CHECK_EQ(getflags(f), FS_IMMUTABLE_FL | FS_NODUMP_FL);
	fd = open(f, O_RDONLY);
	CHECK_OK(fd);
	CHECK_OK(ioctl(fd, FS_IOC_FSGETXATTR, &fa));
	CHECK_EQ(fa.fsx_xflags, FS_XFLAG_IMMUTABLE | FS_XFLAG_NODUMP);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 9);
	CHECK(!memcmp(buf, "immutable", 9));
	close(fd);
	CHECK_ERR(open(f, O_WRONLY), EPERM);
	CHECK_ERR(open(f, O_RDWR | O_APPEND), EPERM);
	CHECK_ERR(open(f, O_RDONLY | O_TRUNC), EPERM);
	CHECK_ERR(truncate(f, 0), EPERM);
	CHECK_ERR(chmod(f, 0600), EPERM);
	CHECK_ERR(chown(f, 1, 1), EPERM);
	CHECK_ERR(utimensat(AT_FDCWD, f, NULL, 0), EPERM);
	CHECK_ERR(setxattr(f, "user.x", "1", 1, 0), EPERM);
	CHECK_ERR(unlink(f), EPERM);
	CHECK_ERR(rename(f, at(d, "imm2")), EPERM);
	CHECK_ERR(link(f, at(d, "imm3")), EPERM);
	CHECK_ERR(access(at(d, "imm2"), F_OK), ENOENT);
	CHECK_ERR(access(at(d, "imm3"), F_OK), ENOENT);
	/* xfs_io's form of the same flags */
	fd = open(f, O_RDONLY);
	CHECK_OK(fd);
	fa.fsx_xflags = FS_XFLAG_IMMUTABLE;
	CHECK_OK(ioctl(fd, FS_IOC_FSSETXATTR, &fa));
	close(fd);
	CHECK_EQ(getflags(f), FS_IMMUTABLE_FL);
	/* a flag kvfs does not keep */
	CHECK_ERR(setflags(f, FS_IMMUTABLE_FL | FS_SYNC_FL), EOPNOTSUPP);
	printf("ok: immutable file\n");
}

static void append_file(const char *d)
{
	char f[1024];
	struct stat st;
	int fd;

	snprintf(f, sizeof(f), "%.1000s", at(d, "app"));
	make(f, "0123");
	CHECK_OK(setflags(f, FS_APPEND_FL));
	CHECK_ERR(open(f, O_WRONLY), EPERM);
	CHECK_ERR(open(f, O_WRONLY | O_APPEND | O_TRUNC), EPERM);
	CHECK_ERR(truncate(f, 0), EPERM);
	CHECK_ERR(unlink(f), EPERM);
	fd = open(f, O_WRONLY | O_APPEND);
	CHECK_OK(fd);
	CHECK_EQ(write(fd, "45", 2), 2);
	CHECK_OK(fsync(fd));
	CHECK_OK(close(fd));
	CHECK_OK(stat(f, &st));
	CHECK_EQ(st.st_size, 6);
	CHECK_OK(setflags(f, 0));
	CHECK_OK(unlink(f));
	printf("ok: append-only file\n");
}

/*
 * A file made immutable while its writer still has bytes in the kernel's
 * cache: their write back and the times the kernel stamped for them are
 * not refused (they came before the flag, as on a local filesystem), so
 * fsync and the next fallocate of the file hear of no error; utimes of
 * the file's own caller are refused still.
 */
static void immutable_after_write(const char *d)
{
	const struct timespec omit_mtime[2] = { { 0, UTIME_OMIT }, { 1, 0 } };
	char f[1024], buf[16];
	struct stat st;
	int fd, fl = FS_IMMUTABLE_FL;

	snprintf(f, sizeof(f), "%.1000s", at(d, "immw"));
	fd = open(f, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK_OK(fd);
	CHECK_EQ(write(fd, "written", 7), 7);
	CHECK_OK(ioctl(fd, FS_IOC_SETFLAGS, &fl));
	CHECK_OK(fsync(fd));
	CHECK_ERR(utimensat(AT_FDCWD, f, omit_mtime, 0), EPERM);
	CHECK_OK(close(fd));
	CHECK_OK(stat(f, &st));
	CHECK(st.st_mtim.tv_sec > 1);
	CHECK_OK(setflags(f, 0));
	fd = open(f, O_RDWR);
	CHECK_OK(fd);
	CHECK_EQ(write(fd, "W", 1), 1);
	CHECK_OK(ioctl(fd, FS_IOC_SETFLAGS, &fl));
	CHECK_ERR(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096), EPERM);
	fl = 0;
	CHECK_OK(ioctl(fd, FS_IOC_SETFLAGS, &fl));
	CHECK_OK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			   1));
	CHECK_EQ(pread(fd, buf, 7, 0), 7);
	CHECK(!memcmp(buf, "\0ritten", 7));
	CHECK_OK(close(fd));
	CHECK_OK(unlink(f));
	printf("ok: immutable after a write\n");
}

static void immutable_dir(const char *d)
{
	char dir[1024];

	snprintf(dir, sizeof(dir), "%.1000s", at(d, "idir"));
	CHECK_OK(mkdir(dir, 0755));
	make(at(dir, "in"), "x");
	CHECK_OK(setflags(dir, FS_IMMUTABLE_FL));
	CHECK_ERR(open(at(dir, "new"), O_WRONLY | O_CREAT, 0644), EPERM);
	CHECK_ERR(mkdir(at(dir, "sub"), 0755), EPERM);
	CHECK_ERR(unlink(at(dir, "in")), EPERM);
	CHECK_ERR(rmdir(dir), EPERM);
	CHECK_OK(setflags(dir, 0));
	CHECK_OK(unlink(at(dir, "in")));
	CHECK_OK(rmdir(dir));
	printf("ok: immutable directory\n");
}

static void owner_child(const char *f)
{
	CHECK_OK(setflags(f, FS_NODUMP_FL));
	CHECK_ERR(setflags(f, FS_NODUMP_FL | FS_IMMUTABLE_FL), EPERM);
}

static void owner_flags(const char *d)
{
	char f[1024];
	pid_t pid;
	int status;

	snprintf(f, sizeof(f), "%.1000s", at(d, "owned"));
	make(f, "o");
	CHECK_OK(chown(f, NOBODY, NOBODY));
	fflush(stdout);
	pid = fork();
	CHECK_OK(pid);
	if (!pid) {
		CHECK_OK(setresgid(NOBODY, NOBODY, NOBODY));
		CHECK_OK(setresuid(NOBODY, NOBODY, NOBODY));
		owner_child(f);
		_exit(0);
	}
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && !WEXITSTATUS(status));
	CHECK_EQ(getflags(f), FS_NODUMP_FL);
	CHECK_OK(unlink(f));
	printf("ok: the owner's flags\n");
}

int main(int argc, char **argv)
{
	const char *d = argc == 3 ? argv[2] : NULL;
	char buf[16];
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!d) {
		fprintf(stderr, "usage: test_fuse_chattr prep|check DIR\n");
		return 2;
	}
	if (!strcmp(argv[1], "prep")) {
		immutable_file(d);
		append_file(d);
		immutable_after_write(d);
		immutable_dir(d);
		owner_flags(d);
		return 0;
	}
	CHECK(!strcmp(argv[1], "check"));
	CHECK_EQ(getflags(at(d, "imm")), FS_IMMUTABLE_FL);
	CHECK_ERR(unlink(at(d, "imm")), EPERM);
	fd = open(at(d, "imm"), O_RDONLY);
	CHECK_OK(fd);
	CHECK_EQ(read(fd, buf, sizeof(buf)), 9);
	CHECK(!memcmp(buf, "immutable", 9));
	close(fd);
	CHECK_OK(setflags(at(d, "imm"), 0));
	CHECK_OK(unlink(at(d, "imm")));
	printf("ok: the flags after a remount\n");
	return 0;
}
