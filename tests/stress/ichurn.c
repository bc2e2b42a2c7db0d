// SPDX-License-Identifier: GPL-2.0
/*
 * Inode churn on a nearly full filesystem, through the core API: threads
 * create, write, unlink, mkdir/rmdir and set xattrs in their own
 * directories while the space stays within a few percent of full, so
 * inode chunks are allocated sparse and freed piece by piece, and the
 * inode-chunk tree splits and joins under concurrent allocators.  Every
 * call's errno is checked: ENOSPC (and EEXIST/ENOENT/ENOTEMPTY where the
 * thread's own bookkeeping allows it) are expected, anything else fails
 * the run at once.  At the end the filesystem is closed, to be checked
 * by fsck.kvfs -f -n when -f names it (and the image removed if clean).
 * -l NAMELEN pads every name to NAMELEN bytes: a directory block holds a
 * few names only, so the directories grow and shrink all the time, their
 * new blocks needed after the new inode's (maybe of another AG) was
 * taken; -d NDIRS spreads a thread's files over NDIRS directories (the
 * renames and links then cross them); -F KIB fills the space first but
 * KIB (in holes along the filler, every AG some): the run starts full.
 * Debug builds print, per kind of transaction, the most blocks one used
 * and the fewest one had left of its reservation.
 *
 * Usage: ichurn [-s SEED] [-t THREADS] [-n OPS] [-m MIB] [-a AGCOUNT]
 *	  [-w WRITE_KIB] [-l NAMELEN] [-d NDIRS] [-F KIB] [-f FSCK] IMAGE
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/io/blkhdr.h"
#include "fs/kvfs.h"
#ifdef KV_DEBUG
#include "fs/mount.h"
#endif

#define MAXF 4096
#define MAXSUB 16

struct worker {
	struct kvfs_mount *mp;
	unsigned id;
	uint64_t seed;
	uint64_t dir;
	uint64_t sub[MAXSUB]; /* -d: the files' directories, in dir */
	unsigned long ops;
	unsigned nfiles;
	uint64_t files[MAXF]; /* 0: slot free */
	unsigned nheld;
	uint64_t held[16]; /* open references, as a kernel's lookups */
	pthread_t thr;
	int failed;
};

static atomic_int stop;
static size_t maxwrite = 256 << 10;
static size_t namelen; /* 0: names as short as they come */
static unsigned nsub; /* -d: directories of a thread's files (0: its own) */

#define NAMEBUF 256

/* tag and n, padded to namelen bytes ("-" ends the number: unique) */
static void mkname(char *name, char tag, unsigned n)
{
	int len = snprintf(name, NAMEBUF, "%c%u", tag, n);

	if (namelen > (size_t)len + 1) {
		name[len] = '-';
		memset(name + len + 1, 'x', namelen - (size_t)len - 1);
		name[namelen] = '\0';
	}
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The directory of file slot's name. */
static uint64_t dir_of(const struct worker *w, unsigned slot)
{
	return nsub ? w->sub[slot % nsub] : w->dir;
}

static int bad(struct worker *w, const char *what, long err)
{
	const struct kvfs_report *r = kvfs_report_last();

	fprintf(stderr, "ichurn: thread %u op %lu: %s: %s\n", w->id, w->ops,
		what, strerror((int)-err));
	/* the library's record of what it found damaged */
	if (err == -EUCLEAN && r && r->err)
		fprintf(stderr, "ichurn: %s (block %" PRIu64 "): %s\n", r->what,
			r->blkno, r->msg);
	w->failed = 1;
	atomic_store(&stop, 1);
	return -1;
}

static const struct kvfs_cred root_cred;

/* Hold ino open (its last close may free it), dropping the oldest. */
static void hold(struct worker *w, uint64_t ino)
{
	if (w->nheld == 16) {
		kvfs_inode_close(w->mp, w->held[0]);
		memmove(w->held, w->held + 1, 15 * sizeof(w->held[0]));
		w->nheld--;
	}
	if (!kvfs_inode_open(w->mp, ino, 0))
		w->held[w->nheld++] = ino;
}

static void drop_all(struct worker *w)
{
	while (w->nheld)
		kvfs_inode_close(w->mp, w->held[--w->nheld]);
}

static int op_create(struct worker *w, unsigned slot)
{
	static const uint32_t modes[] = { 0100644, 0100600, 020444, 010644,
					  0140755 };
	struct kvfs_stat st;
	char name[NAMEBUF];
	bool created;
	uint32_t mode = modes[rnd(&w->seed) % 5];
	int err;

	mkname(name, 'f', slot);
	err = kvfs_create(w->mp, dir_of(w, slot), name, mode,
			  (mode & 0170000) == 020000 ? (1ull << 32 | 3) : 0,
			  KVFS_CREATE_EXCL, &root_cred, &st, &created);
	if (err == -ENOSPC)
		return 0;
	if (err)
		return bad(w, "create", err);
	w->files[slot] = st.ino;
	w->nfiles++;
	if (rnd(&w->seed) % 2)
		hold(w, st.ino);
	if ((mode & 0170000) == 0100000 && rnd(&w->seed) % 2) {
		static char buf[256 << 10];
		size_t len = rnd(&w->seed) % maxwrite + 1;
		ssize_t n = kvfs_write(w->mp, st.ino, buf, len,
				       (off_t)(rnd(&w->seed) % (1 << 20)), 0);

		if (n < 0 && n != -ENOSPC)
			return bad(w, "write", n);
		/* trimming the preallocation may need a block it lacks */
		err = kvfs_release(w->mp, st.ino);
		if (err && err != -ENOSPC)
			return bad(w, "release", err);
	}
	if (rnd(&w->seed) % 8 == 0) {
		char v[600];

		memset(v, 'x', sizeof(v));
		err = kvfs_setxattr(w->mp, st.ino, "user.churn", v,
				    rnd(&w->seed) % sizeof(v), 0);
		if (err && err != -ENOSPC)
			return bad(w, "setxattr", err);
	}
	return 0;
}

static int op_rename_link(struct worker *w, unsigned from, bool link)
{
	unsigned to = (unsigned)(rnd(&w->seed) % MAXF);
	char a[NAMEBUF], b[NAMEBUF];
	struct kvfs_stat st;
	unsigned flags, r;
	uint64_t ino;
	int err;

	/* two links of one inode: rename(2) does nothing */
	if (to == from || w->files[to] == w->files[from])
		return 0;
	mkname(a, 'f', from);
	mkname(b, 'f', to);
	if (link) {
		if (w->files[to])
			return 0;
		err = kvfs_link(w->mp, w->files[from], dir_of(w, to), b, &st);
		if (err == -ENOSPC || err == -EMLINK)
			return 0;
		if (err)
			return bad(w, "link", err);
		w->files[to] = w->files[from];
		w->nfiles++;
		return 0;
	}
	r = (unsigned)(rnd(&w->seed) % 4);
	if (r == 1 && w->files[to]) { /* both names swap their inodes */
		err = kvfs_rename(w->mp, dir_of(w, from), a, dir_of(w, to), b,
				  KVFS_RENAME_EXCHANGE, &root_cred);
		if (err == -ENOSPC)
			return 0;
		if (err)
			return bad(w, "rename exchange", err);
		ino = w->files[to];
		w->files[to] = w->files[from];
		w->files[from] = ino;
		return 0;
	}
	/* a whiteout (a new 0/0 device inode) is left at the old name */
	flags = r == 2 ? KVFS_RENAME_WHITEOUT : 0;
	err = kvfs_rename(w->mp, dir_of(w, from), a, dir_of(w, to), b, flags,
			  &root_cred);
	if (err == -ENOSPC)
		return 0;
	if (err)
		return bad(w, "rename", err);
	if (!w->files[to])
		w->nfiles++;
	w->files[to] = w->files[from];
	w->files[from] = 0;
	w->nfiles--;
	if (flags) {
		err = kvfs_lookup(w->mp, dir_of(w, from), a, &st);
		if (err)
			return bad(w, "lookup of a whiteout", err);
		w->files[from] = st.ino;
		w->nfiles++;
	}
	return 0;
}

static int op_truncate(struct worker *w, unsigned slot)
{
	struct kvfs_setattr sa = { .valid = KVFS_SET_SIZE,
				   .size = rnd(&w->seed) % (512 << 10) };
	int err = kvfs_setattr(w->mp, w->files[slot], &sa, &root_cred, NULL);

	/* not a regular file (a device, a fifo or a socket) */
	if (err == -ENOSPC || err == -EINVAL || err == -EISDIR)
		return 0;
	if (err)
		return bad(w, "truncate", err);
	return 0;
}

static int op_punch(struct worker *w, unsigned slot)
{
	off_t off = (off_t)(rnd(&w->seed) % (256 << 10));
	int err = kvfs_fallocate(w->mp, w->files[slot],
				 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 off, (off_t)(rnd(&w->seed) % (64 << 10)) + 1);

	/* not a regular file */
	if (err == -ENOSPC || err == -EINVAL || err == -ENODEV)
		return 0;
	if (err)
		return bad(w, "punch", err);
	return 0;
}

/* An unnamed file, written, then linked in or dropped at its close. */
static int op_tmpfile(struct worker *w, unsigned slot)
{
	static const char buf[8192];
	struct kvfs_stat st;
	char name[NAMEBUF];
	ssize_t n;
	int err;

	err = kvfs_tmpfile(w->mp, w->dir, 0100600, &root_cred, &st);
	if (err == -ENOSPC)
		return 0;
	if (err)
		return bad(w, "tmpfile", err);
	n = kvfs_write(w->mp, st.ino, buf, sizeof(buf), 0, 0);
	if (n < 0 && n != -ENOSPC)
		return bad(w, "tmpfile write", n);
	if (!w->files[slot] && rnd(&w->seed) % 2) {
		mkname(name, 'f', slot);
		err = kvfs_link(w->mp, st.ino, dir_of(w, slot), name, &st);
		if (err && err != -ENOSPC)
			return bad(w, "tmpfile link", err);
		if (!err) {
			w->files[slot] = st.ino;
			w->nfiles++;
		}
	}
	kvfs_inode_close(w->mp, st.ino);
	return 0;
}

static int op_unlink(struct worker *w, unsigned slot)
{
	char name[NAMEBUF];
	int err;

	mkname(name, 'f', slot);
	err = kvfs_unlink(w->mp, dir_of(w, slot), name);
	if (err)
		return bad(w, "unlink", err);
	w->files[slot] = 0;
	w->nfiles--;
	return 0;
}

static int op_dir(struct worker *w)
{
	struct kvfs_stat st;
	char name[NAMEBUF];
	int err;

	mkname(name, 'd', (unsigned)(rnd(&w->seed) % 16));
	err = kvfs_mkdir(w->mp, w->dir, name, 0755, &root_cred, &st);
	if (err == -EEXIST) {
		err = kvfs_rmdir(w->mp, w->dir, name);
		if (err)
			return bad(w, "rmdir", err);
		return 0;
	}
	if (err && err != -ENOSPC)
		return bad(w, "mkdir", err);
	return 0;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	unsigned long n = w->ops;

	for (w->ops = 0; w->ops < n && !atomic_load(&stop); w->ops++) {
		unsigned slot = (unsigned)(rnd(&w->seed) % MAXF);
		unsigned r = (unsigned)(rnd(&w->seed) % 100);
		int err;

		if (r < 4)
			err = op_dir(w);
		else if (r < 6)
			err = op_tmpfile(w, slot);
		else if (w->files[slot] && r < 60)
			err = op_unlink(w, slot);
		else if (w->files[slot] && r < 70)
			err = op_rename_link(w, slot, r < 65);
		else if (w->files[slot] && r < 75)
			err = r < 73 ? op_truncate(w, slot) : op_punch(w, slot);
		else if (w->files[slot])
			err = 0;
		else
			err = op_create(w, slot);
		if (err)
			break;
	}
	drop_all(w);
	return NULL;
}

/*
 * -F: a file fills the space (every AG, in the allocator's order), then
 * leave bytes are punched out of it in 64 holes along it, so that every
 * AG keeps a little room and the run starts at the edge of full.
 */
static int prefill(struct kvfs_mount *mp, uint64_t leave)
{
	struct kvfs_statfs sf;
	struct kvfs_stat st;
	uint64_t size = 0, step = 1 << 20, hole;
	bool created;
	int err;

	err = kvfs_create(mp, kvfs_root_ino(mp), "filler", 0100600, 0,
			  KVFS_CREATE_EXCL, &root_cred, &st, &created);
	if (!err)
		err = kvfs_statfs(mp, &sf);
	if (err) {
		fprintf(stderr, "ichurn: prefill: %s\n", strerror(-err));
		return err;
	}
	while (!err && step >= sf.bsize) {
		err = kvfs_fallocate(mp, st.ino, 0, (off_t)size, (off_t)step);
		if (!err)
			size += step;
		else if (err == -ENOSPC)
			step /= 2;
		if (err == -ENOSPC)
			err = 0;
	}
	hole = (leave / 64 + sf.bsize - 1) / sf.bsize * sf.bsize;
	for (unsigned i = 0; !err && i < 64 && size > 64 * hole; i++)
		err = kvfs_fallocate(mp, st.ino,
				     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				     (off_t)(size / 64 * i), (off_t)hole);
	if (err)
		fprintf(stderr, "ichurn: prefill: %s\n", strerror(-err));
	return err;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	unsigned threads = 8, i, mib = 256, agcount = 0;
	unsigned long ops = 50000;
	uint64_t leave = 0;
	const char *fsck = NULL;
	struct worker *ws;
	struct kvfs_mount *mp;
	struct kvfs_open_info info;
	struct kvfs_open_opts oo = { .commit_ms = 50 };
	struct kvfs_stat st;
	int c, err, failed = 0;

	while ((c = getopt(argc, argv, "s:t:n:m:a:w:l:d:F:f:")) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			break;
		case 't':
			threads = (unsigned)atoi(optarg);
			break;
		case 'n':
			ops = strtoul(optarg, NULL, 0);
			break;
		case 'm':
			mib = (unsigned)atoi(optarg);
			break;
		case 'f':
			fsck = optarg;
			break;
		case 'a':
			agcount = (unsigned)atoi(optarg);
			break;
		case 'd':
			nsub = (unsigned)atoi(optarg);
			if (nsub > MAXSUB)
				return 2;
			break;
		case 'F':
			leave = strtoull(optarg, NULL, 0) << 10;
			break;
		case 'l':
			namelen = strtoul(optarg, NULL, 0);
			if (namelen > 255)
				return 2;
			break;
		case 'w':
			maxwrite = strtoul(optarg, NULL, 0) << 10;
			if (!maxwrite || maxwrite > 256 << 10)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind != argc - 1 || !threads)
		return 2;

	if (kv_init(NULL)) {
		fprintf(stderr, "ichurn: kv_init failed\n");
		return 1;
	}
	struct kvfs_mkfs_opts mo = { .target = argv[optind],
				     .size = (uint64_t)mib << 20,
				     .agcount = agcount,
				     .force = true };
	struct kvfs_geom g;

	err = kvfs_mkfs(&mo, &g);
	if (err) {
		fprintf(stderr, "ichurn: mkfs: %s\n", mo.err);
		return 1;
	}
	err = kvfs_open(argv[optind], &oo, &mp, &info);
	if (err) {
		fprintf(stderr, "ichurn: open: %s\n", kvfs_open_error());
		return 1;
	}
	ws = calloc(threads, sizeof(*ws));
	for (i = 0; i < threads; i++) {
		char name[16];

		snprintf(name, sizeof(name), "w%u", i);
		err = kvfs_mkdir(mp, kvfs_root_ino(mp), name, 0755, &root_cred,
				 &st);
		if (err) {
			fprintf(stderr, "ichurn: mkdir: %s\n", strerror(-err));
			return 1;
		}
		ws[i].mp = mp;
		ws[i].id = i;
		ws[i].seed = seed * 0x9e3779b97f4a7c15ull + i + 1;
		ws[i].dir = st.ino;
		for (unsigned j = 0; j < nsub; j++) {
			snprintf(name, sizeof(name), "s%u", j);
			err = kvfs_mkdir(mp, ws[i].dir, name, 0755, &root_cred,
					 &st);
			if (err) {
				fprintf(stderr, "ichurn: mkdir: %s\n",
					strerror(-err));
				return 1;
			}
			ws[i].sub[j] = st.ino;
		}
		ws[i].ops = ops;
	}
	/* the directories made first: the run's creates meet the full space */
	if (leave && prefill(mp, leave))
		return 1;
	for (i = 0; i < threads; i++)
		pthread_create(&ws[i].thr, NULL, worker_run, &ws[i]);
	for (i = 0; i < threads; i++) {
		pthread_join(ws[i].thr, NULL);
		failed |= ws[i].failed;
	}
	free(ws);
#ifdef KV_DEBUG
	{
		/* how close each kind of transaction came to its blocks */
		char peaks[4096];

		kvfs_trans_resv_peaks(&mp->resv, peaks, sizeof(peaks));
		fputs(peaks, stdout);
	}
#endif
	err = kvfs_close(mp);
	if (err) {
		fprintf(stderr, "ichurn: close: %s\n", strerror(-err));
		return 1;
	}
	if (kv_fini())
		failed = 1;
	if (!failed && fsck) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s -f -n '%s'", fsck, argv[optind]);
		if (system(cmd)) {
			fprintf(stderr, "ichurn: %s: not clean\n", cmd);
			failed = 1;
		} else {
			unlink(argv[optind]);
		}
	}
	printf("ichurn: seed %" PRIu64 ": %s\n", seed,
	       failed ? "FAILED" : "ok");
	return failed;
}
