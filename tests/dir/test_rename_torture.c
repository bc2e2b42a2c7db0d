// SPDX-License-Identifier: GPL-2.0
/*
 * Rename torture (issue 10): THREADS threads rename at random across a
 * tree of directories and files, with every flag (none, NOREPLACE,
 * EXCHANGE, WHITEOUT), files and directories alike, sources and targets
 * in any directory of the tree (so directories move into their own
 * subtrees: -EINVAL, which must happen), over names that exist or not.
 * Every result must be one POSIX allows for some state of the tree (an
 * -EUCLEAN, -EIO, -ENOSPC or a shutdown fails the test).  After each
 * batch the threads stop, the filesystem is closed and checked
 * (fs/check/scrub.h) and reopened, and the tree is walked (tests/ns_util.h:
 * "." and "..", d_type, link counts against the names, no directory
 * reached twice, no inode in use unreached).  The whole test runs under
 * an alarm: a deadlock between renames (fs/ns/namei.c's lock order) fails it
 * instead of hanging.
 */
#include <pthread.h>
#include <signal.h>

#include "tests/dir/dirtest.h"
#include "tests/ns_util.h"

#define THREADS 4
#define BATCHES 16
#define OPS 1000 /* per thread and batch */
#define NAMES 8 /* names n0..n7 in every directory */
#define TOP 6 /* directories in the root */
#define SUB 2 /* directories in each of those */
#define TIMEOUT 120

static const struct kvfs_cred cr = { 0 };
static struct kvfs_mount *mp;
/* every directory made (some later replaced by a rename, so stale) */
static uint64_t dirs[1 + TOP + TOP * SUB];
static unsigned ndirs;

enum {
	RS_OK,
	RS_ENOENT,
	RS_EEXIST,
	RS_ENOTEMPTY,
	RS_EISDIR,
	RS_ENOTDIR,
	RS_EINVAL,
	NRES
};
static const char *const res_name[NRES] = { "ok",	 "ENOENT", "EEXIST",
					    "ENOTEMPTY", "EISDIR", "ENOTDIR",
					    "EINVAL" };
static const unsigned flag_set[4] = { 0, KVFS_RENAME_NOREPLACE,
				      KVFS_RENAME_EXCHANGE,
				      KVFS_RENAME_WHITEOUT };

struct worker {
	unsigned t;
	uint64_t rs;
	unsigned res[4][NRES]; /* by flag, by result */
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int res_index(int err)
{
	switch (err) {
	case 0:
		return RS_OK;
	case -ENOENT:
		return RS_ENOENT;
	case -EEXIST:
		return RS_EEXIST;
	case -ENOTEMPTY:
		return RS_ENOTEMPTY;
	case -EISDIR:
		return RS_EISDIR;
	case -ENOTDIR:
		return RS_ENOTDIR;
	case -EINVAL:
		return RS_EINVAL;
	default:
		return -1;
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < OPS; i++) {
		unsigned fi = (unsigned)(rnd(&w->rs) % 4);
		uint64_t sd = dirs[rnd(&w->rs) % ndirs];
		uint64_t td = dirs[rnd(&w->rs) % ndirs];
		char sn[8], tn[8];
		int err, k;

		snprintf(sn, sizeof(sn), "n%u",
			 (unsigned)(rnd(&w->rs) % NAMES));
		snprintf(tn, sizeof(tn), "n%u",
			 (unsigned)(rnd(&w->rs) % NAMES));
		err = kvfs_rename(mp, sd, sn, td, tn, flag_set[fi], &cr);
		k = res_index(err);
		if (k < 0) {
			fprintf(stderr,
				"rename %" PRIu64 "/%s -> %" PRIu64 "/%s flags "
				"%u: %d (%s)\n",
				sd, sn, td, tn, flag_set[fi], err,
				strerror(-err));
			exit(1);
		}
		w->res[fi][k]++;
	}
	return NULL;
}

/*
 * The root's n0..n5 are directories holding directories n0, n1 and files
 * n2..n5 (and a second link n6 of their n2 in the next one); theirs hold
 * files n2..n4.
 */
static void make_tree(void)
{
	struct kvfs_stat st;
	char n[8];

	dirs[ndirs++] = kvfs_root_ino(mp);
	for (unsigned i = 0; i < TOP; i++) {
		uint64_t d;

		snprintf(n, sizeof(n), "n%u", i);
		d = dirs[ndirs++] = dir_mkdir(mp, kvfs_root_ino(mp), n, &cr);
		for (unsigned j = 0; j < SUB; j++) {
			uint64_t s;

			snprintf(n, sizeof(n), "n%u", j);
			s = dirs[ndirs++] = dir_mkdir(mp, d, n, &cr);
			for (unsigned k = 2; k < 5; k++) {
				snprintf(n, sizeof(n), "n%u", k);
				dir_creat(mp, s, n, &cr);
			}
		}
		for (unsigned k = 2; k < 6; k++) {
			snprintf(n, sizeof(n), "n%u", k);
			dir_creat(mp, d, n, &cr);
		}
	}
	for (unsigned i = 0; i < TOP; i++) {
		uint64_t d = dirs[1 + i * (SUB + 1)];
		uint64_t next = dirs[1 + ((i + 1) % TOP) * (SUB + 1)];

		CHECK_EQ(kvfs_lookup(mp, d, "n2", &st), 0);
		CHECK_EQ(kvfs_link(mp, st.ino, next, "n6", &st), 0);
	}
}

static void open_fs(void)
{
	struct kvfs_open_opts o = { .atime = KVFS_ATIME_NOATIME };
	struct kvfs_open_info info;

	CHECK_EQ(kvfs_open(path, &o, &mp, &info), 0);
	CHECK_EQ(info.orphans, 0);
}

static void timed_out(int sig)
{
	(void)sig;
	static const char msg[] = "rename torture: timed out (a deadlock?)\n";

	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(2);
	_exit(1);
}

int main(void)
{
	static struct worker w[THREADS];
	unsigned total[4][NRES] = { { 0 } };
	pthread_t th[THREADS];
	struct kvfs_stat st;
	long reached = 0;

	signal(SIGALRM, timed_out);
	alarm(TIMEOUT);
	CHECK_EQ(kv_init(NULL), 0);
	set_path("rntort");
	make_fs(128 << 20, 0);
	open_fs();
	make_tree();
	/* the two refusals the random part must also meet */
	CHECK_EQ(kvfs_rename(mp, kvfs_root_ino(mp), "n0", dirs[2], "x", 0, &cr),
		 -EINVAL);
	CHECK_EQ(kvfs_rename(mp, kvfs_root_ino(mp), "n0", dirs[2], "x",
			     KVFS_RENAME_EXCHANGE, &cr),
		 -ENOENT);
	CHECK(ns_walk(mp, 0) > 0);
	for (unsigned b = 0; b < BATCHES; b++) {
		for (unsigned t = 0; t < THREADS; t++) {
			w[t].t = t;
			w[t].rs = 1000 * b + t + 1;
			CHECK_EQ(pthread_create(&th[t], NULL, work, &w[t]), 0);
		}
		for (unsigned t = 0; t < THREADS; t++)
			CHECK_EQ(pthread_join(th[t], NULL), 0);
		CHECK_EQ(kvfs_close(mp), 0);
		scrub_image_clean(path);
		open_fs();
		reached = ns_walk(mp, 0);
		CHECK(reached > 0);
	}
	for (unsigned t = 0; t < THREADS; t++)
		for (unsigned f = 0; f < 4; f++)
			for (unsigned k = 0; k < NRES; k++)
				total[f][k] += w[t].res[f][k];
	for (unsigned f = 0; f < 4; f++) {
		printf("rename torture: flags %u:", flag_set[f]);
		for (unsigned k = 0; k < NRES; k++)
			printf(" %s %u", res_name[k], total[f][k]);
		printf("\n");
		/* every flag did something, and met refusals */
		CHECK(total[f][RS_OK] > 0);
	}
	CHECK(total[0][RS_EINVAL] + total[1][RS_EINVAL] + total[2][RS_EINVAL] +
		      total[3][RS_EINVAL] >
	      0);
	CHECK(total[1][RS_EEXIST] > 0);
	CHECK(total[0][RS_ENOTEMPTY] + total[3][RS_ENOTEMPTY] > 0);
	/* the tree still answers lookups from the root */
	CHECK_EQ(ns_lookup_path(mp, "", &st), 0);
	CHECK(S_ISDIR(st.mode));
	CHECK_EQ(kvfs_close(mp), 0);
	scrub_image_clean(path);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("rename torture: %u batches of %u renames by %u threads, %ld "
	       "inodes in the tree: checker and walk clean after each\n",
	       BATCHES, OPS * THREADS, THREADS, reached);
	return 0;
}
