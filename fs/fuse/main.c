// SPDX-License-Identifier: GPL-2.0
/*
 * mount.kvfs IMAGE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-h] [-V]: mount a
 * kvfs image through FUSE.
 *
 * The image is locked (flock) before anything is read, so a second mount
 * is refused.  In the background mode the process forks first (the core's
 * threads must be started in the process that keeps running), and the
 * parent exits only once the child's mount is live (the kernel's INIT
 * arrived): 0 then, or the child's exit status when it failed, after the
 * child printed the one-line reason.  Exit status 1: a bad command line;
 * 32 (mount(8)'s "mount failure"): the image, the mountpoint or the mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "alloc/report.h"
#include "fs/io/blkhdr.h"
#include "fs/fuse/kio.h"
#include "fs/fuse/nodes.h"
#include "fs/fuse/ops.h"
#include "fs/fuse/opts.h"
#include "fs/fuse/watchdog.h"
#include "fs/kvfs.h"
#include "journal/bug.h"
#include "journal/errortag.h"
#include "journal/journal.h"

#define EXIT_USAGE 1
#define EXIT_MOUNT 32
/* a daemon finishing an unmount releases its lock soon: wait that long */

static const char *prog = "mount.kvfs";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s IMAGE MOUNTPOINT [-o OPTIONS] [-f] [-d] [-h] [-V]\n"
		"  -f  foreground      -d  debug (libfuse's request trace; -f)\n"
		"  -h  this help       -V  version\n"
		"options (-o, comma-separated):\n"
		"  ro, rw                      read-only or read-write (rw)\n"
		"  sync                        every change durable at once\n"
		"  noatime, relatime, strictatime   atime rule (relatime)\n"
		"  mem=SIZE                    memory budget (e.g. 512M)\n"
		"  wbreserve=SIZE              space kept for the write back of\n"
		"                              cached data (default 32M, at most\n"
		"                              1/32 of the filesystem, or 2M\n"
		"                              under 64M; 0: none)\n"
		"  threads=N                   FUSE worker threads (1..%u;\n"
		"                              default: one per CPU, at least 2)\n"
		"  commit=SECONDS              log push interval (default 1)\n"
		"  writeback_cache, nowriteback_cache   kernel page cache mode\n"
		"  dio, nodio                  large writes to the image with\n"
		"                              O_DIRECT, past the host's page\n"
		"                              cache (nodio)\n"
		"  prefault, noprefault        write every page of mem= once\n"
		"                              at mount: no page fault later\n"
		"                              (noprefault)\n"
		"  copy_file_range, nocopy_file_range   copy_file_range(2)\n"
		"                              done by the daemon (faster, but a\n"
		"                              store through a shared mapping into\n"
		"                              a page the copy writes may be lost)\n"
		"                              or by the kernel through its page\n"
		"                              cache (nocopy_file_range)\n"
		"  allow_other, default_permissions     (on by default as root)\n"
		"  fsname=NAME                 source shown in mount tables\n"
		"  noexec, nosuid, nodev       mount flags passed to the kernel\n"
		"unmount with: fusermount3 -u MOUNTPOINT (or umount)\n",
		prog, KVFS_FUSE_MAX_THREADS);
}

/* The image locked against a second mount; the fd stays open (and locked). */
static int lock_image(const char *image, bool rdonly, int *fdp)
{
	int err = kvfs_image_lock(image, rdonly, KVFS_IMAGE_LOCK_WAIT_MS, fdp);

	if (err == -EBUSY)
		fprintf(stderr, "%s: %s: in use (locked by another mount)\n",
			prog, image);
	else if (err)
		fprintf(stderr, "%s: %s: %s\n", prog, image, strerror(-err));
	return err;
}

static void open_error(const char *image, int err)
{
	const char *why = kvfs_open_error();

	switch (err) {
	case -ENODATA:
		/*
		 * A zeroed or overwritten primary superblock looks like a
		 * foreign device; fsck.kvfs finds the copies the mount does
		 * not look for.
		 */
		fprintf(stderr,
			"%s: %s: not a kvfs filesystem (no superblock in "
			"block 0; if it held kvfs, run fsck.kvfs to rebuild the "
			"superblock from a copy)\n",
			prog, image);
		break;
	case -EUCLEAN:
	case -EBADMSG:
		/* the core's reason may already name the tool */
		fprintf(stderr, "%s: %s: damaged (%s)%s\n", prog, image,
			why && *why ? why : strerror(-err),
			why && strstr(why, "fsck.kvfs") ? "" :
							  ": run fsck.kvfs");
		break;
	case -EBUSY:
		fprintf(stderr, "%s: %s: in use\n", prog, image);
		break;
	default:
		fprintf(stderr, "%s: %s: %s%s%s\n", prog, image, strerror(-err),
			why && *why ? ": " : "", why ? why : "");
	}
}

struct daemon {
	struct kvfs_fuse fs;
	struct fuse_session *se;
	int status_fd; /* to the waiting parent; -1 in the foreground */
	bool detached; /* stdio is /dev/null: errors go to syslog */
	bool debug; /* -d: say which connection limits were set */
	pthread_t loop_thread; /* runs fuse_session_loop_mt() */
	const char *mountpoint; /* absolute */
};

/*
 * The limits the kernel puts on a FUSE connection, raised when run as
 * root: the bdi's share of the dirty-page limit (1% by default, with
 * strictlimit: writeback of a large file stalls long before memory is
 * short; half the limit leaves the other half to the other devices), its
 * read-ahead (1 MiB, the size of our reads), and the connection's
 * background requests (readahead and writeback pages in flight; INIT asks
 * for the same, which a kernel may cap).
 */
static void tune_one(const struct daemon *d, const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	/* best effort: a kernel without the file mounts all the same */
	if (fd < 0)
		return;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	if (d->debug)
		fprintf(stderr, "%s: %s: %s%s\n", prog, path,
			ok ? "set to " : "could not set ", val);
}

/* stderr is the pipe stderr_to_syslog() drains */
static bool stderr_to_log;

/*
 * Once detached, what the core and the journal write to stderr (a
 * shutdown's reason, recovery's findings) goes to syslog line by line:
 * stderr becomes a pipe this thread drains.
 */
static void *stderr_to_syslog(void *arg)
{
	FILE *in = fdopen((int)(intptr_t)arg, "r");
	char line[512];

	if (!in)
		return NULL;
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		syslog(LOG_ERR, "%s", line);
	}
	fclose(in);
	return NULL;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC), pfd[2];
	pthread_t t;

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (!pipe2(pfd, O_CLOEXEC) &&
	    !pthread_create(&t, NULL, stderr_to_syslog,
			    (void *)(intptr_t)pfd[0])) {
		pthread_detach(t);
		dup2(pfd[1], 2);
		close(pfd[1]);
		__atomic_store_n(&stderr_to_log, true, __ATOMIC_RELEASE);
	} else {
		dup2(fd, 2);
	}
	close(fd);
	setvbuf(stderr, NULL, _IOLBF, 0);
}

/*
 * The allocator's reports (a failed allocation, a leak at kv_fini(), an
 * invalid free), in the daemon's log.  A bug's line is followed by abort():
 * once stderr is the pipe to syslog, nothing might drain it in time.
 */
static void log_kvreport(int level, const char *msg)
{
	if (level == KV_REPORT_BUG &&
	    __atomic_load_n(&stderr_to_log, __ATOMIC_ACQUIRE))
		syslog(LOG_CRIT, "%s: %s", prog, msg);
	else
		fprintf(stderr, "%s: %s\n", prog, msg);
}

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

/* Every corruption the core meets, in the daemon's log. */
static void log_report(const struct kvfs_report *r, void *priv)
{
	char buf[320];

	kvfs_report_format(r, buf, sizeof(buf));
	fprintf(stderr, "%s: %s: %s\n", prog, (const char *)priv, buf);
}

/*
 * The connection is found from the mount's device: its bdi is named
 * MAJOR:MINOR, its fusectl directory (/sys/fs/fuse/connections, when
 * fusectl is mounted) by the kernel's dev_t (MAJOR << 20 | MINOR).
 * Under the writeback cache the bdi's max_bytes then follows the free
 * space (fs/fuse/dirty.h).
 */
static void tune_limits(struct daemon *d)
{
	static const struct {
		const char *file, *val;
	} bdi[] = { { "max_ratio", KVFS_FUSE_BDI_MAX_RATIO },
		    { "read_ahead_kb", KVFS_FUSE_READ_AHEAD_KB } };
	char path[128], val[16];
	struct stat st;
	int ret;

	/* answered by the loop: the kernel has our INIT reply by now */
	if (stat(d->mountpoint, &st))
		return;
	for (size_t i = 0; i < sizeof(bdi) / sizeof(bdi[0]); i++) {
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/%s",
			 major(st.st_dev), minor(st.st_dev), bdi[i].file);
		tune_one(d, path, bdi[i].val);
	}
	/* both cache modes (shared mappings), read-write (a reserve) */
	if (kvfs_wb_reserve_bytes(d->fs.mp)) {
		snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/max_bytes",
			 major(st.st_dev), minor(st.st_dev));
		ret = kvfs_fuse_dirty_start(&d->fs.dirty, d->fs.mp, path);
		if (d->debug)
			fprintf(stderr, "%s: %s: %s%s\n", prog, path,
				ret ? "not followed: " :
				      "follows the free space",
				ret ? strerror(-ret) : "");
	}
	snprintf(path, sizeof(path),
		 "/sys/fs/fuse/connections/%u/max_background",
		 major(st.st_dev) << 20 | minor(st.st_dev));
	snprintf(val, sizeof(val), "%u", KVFS_FUSE_MAX_BACKGROUND);
	tune_one(d, path, val);
	snprintf(path, sizeof(path),
		 "/sys/fs/fuse/connections/%u/congestion_threshold",
		 major(st.st_dev) << 20 | minor(st.st_dev));
	snprintf(val, sizeof(val), "%u", KVFS_FUSE_CONGESTION_THRESHOLD);
	tune_one(d, path, val);
}

/* The mount is live: the waiting parent exits 0, stdio goes. */
static void release_parent(struct daemon *d)
{
	char ok = 0;

	if (d->status_fd < 0)
		return;
	if (write(d->status_fd, &ok, 1) != 1)
		errno = 0; /* the parent is gone: nothing to tell */
	close(d->status_fd);
	d->status_fd = -1;
	detach_stdio();
	d->detached = true;
}

/* The limits first, so that they are set once mount.kvfs returned. */
static void *tune_then_release(void *arg)
{
	struct daemon *d = arg;

	tune_limits(d);
	release_parent(d);
	return NULL;
}

/*
 * The kernel's INIT: the mount is live once our reply is sent.  The
 * tuning stats the mount, which needs that reply: it runs on its own
 * thread.
 */
static void live(struct kvfs_fuse *fs)
{
	struct daemon *d = fs->priv;
	pthread_t t;

	if (getuid() == 0 && !pthread_create(&t, NULL, tune_then_release, d)) {
		pthread_detach(t);
		return;
	}
	release_parent(d);
}

/* An error once the parent is gone: to syslog, stderr being /dev/null. */
static void late_error(const struct daemon *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (d->detached)
		vsyslog(LOG_ERR, fmt, ap);
	else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/*
 * SIGTERM, SIGINT, SIGHUP end the mount as an unmount does.  They are
 * blocked in every thread (from before the core starts its own) and taken
 * by one thread with sigwait(): it first has the kernel write its dirty
 * pages back (syncfs on the mount, served by the loop: with the writeback
 * cache they exist only in the kernel), then ends the loop (SIGUSR1, whose
 * handler does nothing, interrupts its wait); the unmount and the core's
 * close follow as after umount(8).
 */
static void wake(int sig)
{
	(void)sig;
}

static const int term_signals[] = { SIGTERM, SIGINT, SIGHUP };

static void term_sigset(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < sizeof(term_signals) / sizeof(term_signals[0]);
	     i++)
		sigaddset(set, term_signals[i]);
}

/*
 * Wait up to secs for the requests answered on threads of their own
 * (kf_lseek()) to end; the count left.
 */
static unsigned flights_wait(struct daemon *d, unsigned secs)
{
	unsigned i;

	for (i = 0; i < secs * 100 && atomic_load(&d->fs.flights); i++)
		usleep(10000);
	return atomic_load(&d->fs.flights);
}

static void *terminator(void *arg)
{
	struct daemon *d = arg;
	sigset_t set;
	int sig, fd;

	term_sigset(&set);
	if (sigwait(&set, &sig))
		return NULL;
	fd = open(d->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (syncfs(fd))
			late_error(d, "%s: %s: syncfs at signal %d: %s", prog,
				   d->mountpoint, sig, strerror(errno));
		close(fd);
	}
	/*
	 * An lseek answered on a thread of its own (kf_lseek()) may wait on
	 * the kernel for write backs that only the request threads answer:
	 * they go on serving until it is done (none starts after closing),
	 * else it waited for good and the daemon never exited.
	 */
	atomic_store(&d->fs.closing, true);
	flights_wait(d, 60);
	/* the loop's thread waits in sem_wait(): a signal wakes it to exit */
	fuse_session_exit(d->se);
	pthread_kill(d->loop_thread, SIGUSR1);
	return NULL;
}

/*
 * Tests only (tests/fuse/powercut.sh): KVFS_DEV_FAULT=volatile or
 * sectors:SEED holds the image's writes in a volatile cache
 * (kvfs_test_volatile()), and SIGUSR2 is a power cut: what a real one
 * would leave is left on the image (kvfs_test_power_fail()) and the daemon
 * dies at once, as the machine would.  -EINVAL for another value.
 */
static int dev_fault_env(bool *on, bool *sectors, uint64_t *seed)
{
	const char *v = getenv("KVFS_DEV_FAULT");
	char *end;

	*on = v && *v;
	*sectors = false;
	if (!*on || !strcmp(v, "volatile"))
		return 0;
	if (strncmp(v, "sectors:", 8))
		return -EINVAL;
	errno = 0;
	*seed = strtoull(v + 8, &end, 0);
	*sectors = true;
	return errno || end == v + 8 || *end ? -EINVAL : 0;
}

static void *power_cutter(void *arg)
{
	struct daemon *d = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	if (sigwait(&set, &sig))
		return NULL;
	kvfs_test_power_fail(d->fs.mp);
	_exit(128 + SIGKILL);
}

/* Open the filesystem, mount it, serve until unmounted; the exit status. */
static int run(const struct kvfs_fuse_opts *o, const char *image,
	       struct daemon *d)
{
	/* the core's smallest memory budget depends on them */
	unsigned threads =
		o->threads ? o->threads : kvfs_fuse_default_threads();
	struct kvfs_open_opts oo = { .rdonly = o->rdonly,
				     .sync = o->sync,
				     .atime = o->atime,
				     .cache_bytes = o->mem / 2,
				     .commit_ms = o->commit_ms,
				     .threads = threads,
				     .direct_io = o->direct_io,
				     .wb_reserve_bytes =
					     o->wbreserve < 0 ?
						     KVFS_FUSE_WB_RESERVE :
						     (uint64_t)o->wbreserve };
	struct kv_config kc = { .budget_bytes = o->mem,
				.prefault = o->prefault };
	struct kvfs_open_info info = { 0 };
	struct fuse_loop_config *lc = NULL;
	pthread_t term;
	sigset_t sigs;
	struct kvfs_mount *mp = NULL;
	char mopts[2 * PATH_MAX + 256];
	char *argv[4];
	int argc = 0, ret, status = EXIT_MOUNT;
	unsigned left;
	bool fault, sectors;
	uint64_t seed = 0;
	int watchdog;

	if (kvfs_fuse_mount_opts(o, getuid() == 0, mopts, sizeof(mopts))) {
		fprintf(stderr, "%s: options too long\n", prog);
		return EXIT_USAGE;
	}
	if (dev_fault_env(&fault, &sectors, &seed)) {
		fprintf(stderr,
			"%s: KVFS_DEV_FAULT: 'volatile' or 'sectors:SEED' "
			"expected\n",
			prog);
		return EXIT_USAGE;
	}
	/* before any thread starts: they all inherit the mask */
	term_sigset(&sigs);
	if (fault)
		sigaddset(&sigs, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = wake }, NULL);
	d->loop_thread = pthread_self();
	/* forked while no thread runs yet; without it, the mount goes on */
	ret = kvfs_fuse_watchdog_start(d->mountpoint, d->status_fd >= 0,
				       &watchdog);
	if (ret)
		fprintf(stderr, "%s: no watchdog process: %s\n", prog,
			strerror(-ret));
	kvj_report_set_sink(print_jreport, NULL);
	ret = kv_init(&kc);
	if (ret) {
		fprintf(stderr, "%s: memory budget: %s\n", prog,
			strerror(-ret));
		goto out_watchdog;
	}
	ret = kvfs_open(image, &oo, &mp, &info);
	if (ret) {
		open_error(image, ret);
		goto out_kv;
	}
	/* before: a refused image is one line (open_error()) */
	kvfs_report_set_sink(log_report, (void *)image);
	if (info.recovered || info.orphans)
		fprintf(stderr,
			"%s: %s: was not cleanly unmounted: %s, %llu orphan inodes freed\n",
			prog, image,
			info.recovered ? "log replayed" : "log clean",
			(unsigned long long)info.orphans);
	if (info.errors)
		fprintf(stderr,
			"%s: %s: an earlier mount met corrupt metadata: run "
			"fsck.kvfs on it once unmounted\n",
			prog, image);
	if (info.lists_unread)
		fprintf(stderr,
			"%s: %s: the unlinked lists of %u AG(s) did not read "
			"(%s): removing the last link of a file there fails; "
			"run fsck.kvfs on it once unmounted\n",
			prog, image, info.lists_unread, info.lists_why);
	d->fs.mp = mp;
	d->fs.root = kvfs_root_ino(mp);
	if (fault) {
		pthread_t cut;

		ret = kvfs_test_volatile(mp, sectors, seed);
		if (ret || pthread_create(&cut, NULL, power_cutter, d)) {
			fprintf(stderr, "%s: KVFS_DEV_FAULT: %s\n", prog,
				strerror(ret ? -ret : EAGAIN));
			goto out_close;
		}
		pthread_detach(cut);
	}
	ret = kvfs_fuse_nodes_new(mp, &d->fs.nodes);
	if (ret) {
		fprintf(stderr, "%s: %s\n", prog, strerror(-ret));
		goto out_close;
	}
	/* the kernel knows the root from the start */
	ret = kvfs_fuse_node_get(d->fs.nodes, d->fs.root, 0);
	if (ret) {
		/* a damaged root inode refuses the mount: say what mends it */
		fprintf(stderr, "%s: %s: root directory: %s%s\n", prog, image,
			strerror(-ret),
			ret == -EUCLEAN || ret == -EBADMSG ? ": run fsck.kvfs" :
							     "");
		goto out_nodes;
	}

	argv[argc++] = (char *)prog;
	argv[argc++] = "-o";
	argv[argc++] = mopts;
	if (o->debug)
		argv[argc++] = "-d";
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);

	d->se = fuse_session_new(&args, &kvfs_fuse_ops, sizeof(kvfs_fuse_ops),
				 &d->fs);
	fuse_opt_free_args(&args); /* the session keeps what it needs */
	if (!d->se)
		goto out_nodes; /* libfuse said why */
	d->fs.se = d->se;
	if (fuse_session_mount(d->se, d->mountpoint))
		goto out_session;
	if (watchdog >= 0) {
		ret = kvfs_fuse_watchdog_arm(watchdog, d->mountpoint);
		if (ret)
			fprintf(stderr,
				"%s: %s: the watchdog has no "
				"connection: %s\n",
				prog, d->mountpoint, strerror(-ret));
	}
	if (kvfs_fuse_kio_attach(d->se))
		goto out_unmount; /* libfuse said why */
	if (pthread_create(&term, NULL, terminator, d)) {
		fprintf(stderr, "%s: cannot start a thread\n", prog);
		goto out_unmount;
	}
	pthread_detach(term);
	lc = fuse_loop_cfg_create();
	if (!lc) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out_unmount;
	}
	fuse_loop_cfg_set_clone_fd(lc, 1);
	fuse_loop_cfg_set_max_threads(lc, threads);
	fuse_loop_cfg_set_idle_threads(lc, threads);
	if (chdir("/"))
		errno = 0; /* "/" is always there */
	ret = fuse_session_loop_mt(d->se, lc);
	if (ret) {
		late_error(d, "%s: %s: the FUSE session failed: %s", prog,
			   image, strerror(ret < 0 ? -ret : ret));
		status = EXIT_MOUNT;
	} else {
		status = 0;
	}
	fuse_loop_cfg_destroy(lc);
	/*
	 * Requests answered on threads of their own (kf_lseek()) read the
	 * core: done before it closes.  The connection is gone, so their
	 * waits on the kernel end at once.
	 */
	left = flights_wait(d, 10);
	if (left)
		late_error(d, "%s: %s: %u requests still answering at unmount",
			   prog, image, left);
out_unmount:
	kvfs_fuse_dirty_stop(&d->fs.dirty);
	fuse_session_unmount(d->se);
out_session:
	fuse_session_destroy(d->se);
out_nodes:
	kvfs_fuse_nodes_free(d->fs.nodes);
out_close:
	/* writes everything back: the image is clean once this returns */
	ret = kvfs_close(mp);
	if (ret) {
		late_error(d, "%s: %s: writing back at unmount: %s", prog,
			   image, strerror(-ret));
		status = EXIT_MOUNT;
	}
out_kv:
	kv_fini();
out_watchdog:
	if (watchdog >= 0)
		close(watchdog); /* it exits */
	return status;
}

int main(int argc, char **argv)
{
	struct kvfs_fuse_opts o;
	struct daemon d = { .status_fd = -1 };
	char image[PATH_MAX], mnt[PATH_MAX];
	const char *bad;
	struct stat st;
	int lock_fd = -1, pfd[2], wstatus;
	pid_t pid;
	char ok;

	kv_report_set_hook(log_kvreport);
	kvj_bug_set_hook(kvj_bug_stderr);
	if (kvfs_fuse_parse(argc, argv, &o)) {
		fprintf(stderr, "%s: %s\n", prog, o.err);
		return EXIT_USAGE;
	}
	if (o.help) {
		usage(stdout);
		return 0;
	}
	if (o.version) {
		printf("%s (kvfs) %s, libfuse %s\n", prog, KV_VERSION,
		       fuse_pkgversion());
		return 0;
	}
	bad = kvj_errtag_env_error();
	if (bad)
		fprintf(stderr, "%s: KVFS_ERRTAGS: %s: nothing armed\n", prog,
			bad);
	if (!realpath(o.image, image)) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.image, strerror(errno));
		return EXIT_MOUNT;
	}
	if (!realpath(o.mountpoint, mnt) || stat(mnt, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.mountpoint,
			strerror(errno));
		return EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: %s\n", prog, o.mountpoint,
			strerror(ENOTDIR));
		return EXIT_MOUNT;
	}
	if (!o.fsname[0])
		memcpy(o.fsname, image, strlen(image) + 1);
	if (lock_image(image, o.rdonly, &lock_fd))
		return EXIT_MOUNT;
	d.mountpoint = mnt;
	d.debug = o.debug;
	d.fs.timeout = 86400.0;
	d.fs.writeback = o.writeback;
	d.fs.copy_range = o.copy_range;
	d.fs.live = live;
	d.fs.priv = &d;
	kvfs_fuse_dirty_init(&d.fs.dirty);
	if (o.foreground)
		return run(&o, image, &d);

	if (pipe2(pfd, O_CLOEXEC)) {
		fprintf(stderr, "%s: pipe: %s\n", prog, strerror(errno));
		return EXIT_MOUNT;
	}
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", prog, strerror(errno));
		return EXIT_MOUNT;
	}
	if (pid == 0) {
		close(pfd[0]);
		d.status_fd = pfd[1];
		setsid();
		_exit(run(&o, image, &d));
	}
	close(pfd[1]);
	close(lock_fd); /* the child holds the lock */
	if (read(pfd[0], &ok, 1) == 1)
		return 0;
	/* the child failed and said why: its status is ours */
	if (waitpid(pid, &wstatus, 0) == pid && WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus) ?: EXIT_MOUNT;
	fprintf(stderr, "%s: the daemon died while mounting\n", prog);
	return EXIT_MOUNT;
}
