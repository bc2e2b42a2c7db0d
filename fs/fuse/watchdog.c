// SPDX-License-Identifier: GPL-2.0
/*
 * The mount's watchdog process (fs/fuse/watchdog.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fuse/watchdog.h"

#define FUSECTL "/sys/fs/fuse/connections"

struct watchdog {
	const char *mountpoint;
	pid_t daemon;
	bool to_syslog;
};

static void say(const struct watchdog *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (w->to_syslog) {
		vsyslog(LOG_ERR, fmt, ap);
	} else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/*
 * The daemon's thread-group leader has exited while another of its
 * threads has not: the process is dying, and a thread of it is held.
 */
static bool leader_dead(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* gone: the pipe's end tells */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	/* "pid (comm) S ...": the name may hold anything but not the last ')' */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static int write_abort(const char *path)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

static void abort_conn(const struct watchdog *w, uint32_t conn)
{
	char path[96];
	int err;

	snprintf(path, sizeof(path), FUSECTL "/%u/abort", conn);
	err = write_abort(path);
	/* fusectl not mounted: root mounts it, as fusermount's users do */
	if (err == -ENOENT && !mount("fusectl", FUSECTL, "fusectl", 0, NULL))
		err = write_abort(path);
	if (err)
		say(w,
		    "mount.kvfs: %s: the daemon (pid %d) died with a thread "
		    "held in the kernel, and its connection could not be "
		    "aborted (%s: %s): umount -f %s ends it",
		    w->mountpoint, (int)w->daemon, path, strerror(-err),
		    w->mountpoint);
	else
		say(w,
		    "mount.kvfs: %s: the daemon (pid %d) died with a thread "
		    "held in the kernel: its connection aborted",
		    w->mountpoint, (int)w->daemon);
}

/* The watchdog's life: until the daemon's end of the pipe closes. */
static void __attribute__((noreturn)) watch(const struct watchdog *w, int fd)
{
	unsigned dead = 0;
	uint32_t conn = 0;
	bool armed = false;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = poll(&p, 1, KVFS_FUSE_WATCHDOG_MS);

		if (n > 0) {
			ssize_t r = read(fd, &conn, sizeof(conn));

			if (r == 0 || (r < 0 && errno != EINTR))
				_exit(0);
			armed |= r == sizeof(conn);
			continue;
		}
		if (n < 0 || !armed)
			continue;
		dead = leader_dead(w->daemon) ? dead + 1 : 0;
		if (dead == 2) {
			abort_conn(w, conn);
			_exit(0);
		}
	}
}

int kvfs_fuse_watchdog_start(const char *mountpoint, bool to_syslog, int *fdp)
{
	struct watchdog w = { mountpoint, getpid(), to_syslog };
	int pfd[2], null;
	pid_t pid;

	*fdp = -1;
	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return err;
	}
	if (pid) {
		close(pfd[0]);
		*fdp = pfd[1];
		return 0;
	}
	/*
	 * Nothing of the daemon's kept: its /dev/fuse would keep the
	 * connection up, its image descriptor the image's lock, the
	 * caller's stderr (a pipe in the background mode) its reader
	 * waiting.
	 */
	if (pfd[0] != 3 && (dup2(pfd[0], 3) < 0))
		_exit(1);
	close_range(4, ~0u, 0);
	if (to_syslog) {
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			if (null > 3)
				close(null);
		}
	}
	/* SIGINT at a terminal, SIGTERM to the group: the daemon's to take */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	prctl(PR_SET_NAME, "kvfs-watchdog");
	watch(&w, 3);
}

/* mountinfo's escapes (\040 for a space, \134 for a backslash), in place */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = 0;
}

/*
 * The device of the last mount of mountpoint of a "fuse" type (the one on
 * top): "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [FIELDS...] - TYPE ...".
 */
static int mount_dev(const char *mountpoint, unsigned *maj, unsigned *min)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, mnt[4096], type[64];
	unsigned a, b;
	size_t cap = 0;
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		sep = strstr(line, " - ");
		if (!sep ||
		    sscanf(line, "%*u %*u %u:%u %*s %4095s", &a, &b, mnt) !=
			    3 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		unescape(mnt);
		if (strcmp(mnt, mountpoint) || strncmp(type, "fuse", 4))
			continue;
		*maj = a;
		*min = b;
		err = 0;
	}
	free(line);
	fclose(f);
	return err;
}

int kvfs_fuse_watchdog_arm(int fd, const char *mountpoint)
{
	unsigned maj, min;
	uint32_t conn;
	int err = mount_dev(mountpoint, &maj, &min);

	if (err)
		return err;
	/* fusectl names a connection by the kernel's dev_t */
	conn = maj << 20 | min;
	if (write(fd, &conn, sizeof(conn)) != sizeof(conn))
		return -EIO;
	return 0;
}
