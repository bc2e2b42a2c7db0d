// SPDX-License-Identifier: GPL-2.0
/*
 * The checker's namespace part (fs/check/scrub_namei.c): a tree made through
 * the public API is clean; each damage of tests/check/nsdamage.h, made by
 * direct writes, gives exactly its one finding, naming the inode.
 * "scale N": N files in directories of 1000 (block directories) and a
 * clean check of them, with its time and the process's peak memory.
 */
#include <inttypes.h>
#include <sys/resource.h>
#include <time.h>

#include "fs/check/scrub.h"
#include "tests/check/nsdamage.h"

static char base[256], work[256];
static struct kvfs_scrub_result res;

static int scrub(const char *path)
{
	struct kvfs_geom g;
	struct kv_dev *dev;
	int err;

	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	err = kvfs_scrub_dev(dev, &g, &res);
	kv_dev_close(dev);
	for (unsigned i = 0; i < res.nkept; i++)
		printf("  [%s] %s\n",
		       kvfs_scrub_kind_name(res.findings[i].kind),
		       res.findings[i].what);
	return err;
}

static const struct {
	enum kvfs_scrub_kind kind;
	const char *words;
} expect[NSD_N] = {
	[NSD_ENTRY_FREE] = { KVFS_SCRUB_DIRENT, "which is not in use" },
	[NSD_TYPE] = { KVFS_SCRUB_DIRENT, "says file type 7" },
	[NSD_BLK_TYPE] = { KVFS_SCRUB_DIRENT, "says file type 2" },
	[NSD_NLINK] = { KVFS_SCRUB_NLINK, "link count 5, 1 links found" },
	[NSD_DOTDOT] = { KVFS_SCRUB_DOTDOT, "its parent is" },
	[NSD_CYCLE] = { KVFS_SCRUB_CONNECT, "in a cycle" },
	[NSD_DISCONNECT] = { KVFS_SCRUB_CONNECT, "not reachable" },
	[NSD_TWO_PARENTS] = { KVFS_SCRUB_CONNECT, "also named" },
	[NSD_ORPHAN] = { KVFS_SCRUB_UNLINKED, "on no unlinked list" },
	[NSD_XATTR] = { KVFS_SCRUB_ATTR, "" },
	[NSD_DIR_HEAD] = { KVFS_SCRUB_DIR, "head's entry count is wrong" },
	[NSD_NO_LPF] = { KVFS_SCRUB_CONNECT, "not reachable" },
	/* its index blocks owned still: read from the head as it is */
	[NSD_HEAD_DBLK] = { KVFS_SCRUB_DIR, "data block 0 (block" },
};

/* the inode each finding names */
static uint64_t expect_ino(const struct nstree *t, enum ns_damage d)
{
	switch (d) {
	case NSD_ENTRY_FREE:
	case NSD_TYPE:
		return t->a;
	case NSD_BLK_TYPE:
		return t->big;
	case NSD_NLINK:
		return t->f1;
	case NSD_DOTDOT:
	case NSD_TWO_PARENTS:
		return t->b;
	case NSD_ORPHAN:
		return t->p;
	case NSD_XATTR:
		return t->x;
	case NSD_DIR_HEAD:
	case NSD_DIR_BLOCK:
	case NSD_HEAD_DBLK:
		return t->big;
	case NSD_NO_LPF:
		return t->lpf;
	case NSD_CYCLE:
	case NSD_DISCONNECT:
	default:
		return t->a;
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void scale(unsigned n)
{
	struct kvfs_mkfs_opts mo = { .target = base,
				     .size = 512ull << 20,
				     .blocksize = 4096,
				     .agcount = 4,
				     .force = true };
	struct kvfs_open_opts oo = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct rusage ru;
	struct kvfs_geom g;
	uint64_t d = 0;
	char name[32];
	double t0;
	long rss;

	CHECK_EQ(kvfs_mkfs(&mo, &g), 0);
	CHECK_EQ(kvfs_open(base, &oo, &mp, NULL), 0);
	for (unsigned i = 0; i < n; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof(name), "d%u", i / 1000);
			CHECK_EQ(kvfs_mkdir(mp, kvfs_root_ino(mp), name, 0755,
					    &ns_cr, &st),
				 0);
			d = st.ino;
		}
		snprintf(name, sizeof(name), "f%u", i);
		CHECK_EQ(kvfs_create(mp, d, name, S_IFREG | 0644, 0,
				     KVFS_CREATE_EXCL, &ns_cr, &st, NULL),
			 0);
	}
	CHECK_EQ(kvfs_close(mp), 0);
	getrusage(RUSAGE_SELF, &ru);
	rss = ru.ru_maxrss;
	t0 = now();
	CHECK_EQ(scrub(base), 0);
	getrusage(RUSAGE_SELF, &ru);
	printf("%" PRIu64 " inodes in use: checked in %.2f s; peak RSS %ld "
	       "MiB after making them, %ld MiB after the check\n",
	       res.inodes_used, now() - t0, rss / 1024, ru.ru_maxrss / 1024);
	CHECK_EQ(res.inodes_used, n + (n + 999) / 1000 + 2);
	unlink(base);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct nstree t;
	struct nsedit e;

	CHECK_EQ(kv_init(NULL), 0);
	snprintf(base, sizeof(base), "%s/kvnscheck-%d.img", dir, (int)getpid());
	snprintf(work, sizeof(work), "%s/kvnscheck-%d.work", dir,
		 (int)getpid());
	if (argc == 3 && !strcmp(argv[1], "scale")) {
		scale((unsigned)atoi(argv[2]));
		CHECK_EQ(kv_fini(), 0);
		return 0;
	}
	ns_make(base, &t);
	printf("populated tree:\n");
	CHECK_EQ(scrub(base), 0);
	/* root, lost+found, a, b, c, big, f1, f2, s, p, x and big's files */
	CHECK_EQ(res.inodes_used, 11 + NBIG);
	ns_dev_open(&e, base);
	CHECK_EQ(kv_le16_to_cpu(ns_iget(&e, t.freeino)->mode), 0);
	CHECK_EQ(ns_iget(&e, t.big)->dformat, KVFS_DFORK_EXTENTS);
	ns_dev_close(&e);

	/* a lost directory block: its finding and its disconnected files */
	for (int d = 0; d < NSD_N; d++) {
		/* a crc-damaged block's name: repair_ns_name_dup's */
		if (d == NSD_DIR_BLOCK || d == NSD_NAME_DUP)
			continue;
		const struct kvfs_scrub_finding *f = &res.findings[0];

		ns_copy(base, work);
		ns_damage(work, &t, (enum ns_damage)d);
		printf("%s:\n", ns_damage_names[d]);
		CHECK_EQ(scrub(work), -EUCLEAN);
		CHECK_EQ(res.nfindings, 1);
		CHECK_EQ(res.nkind[expect[d].kind], 1);
		CHECK_EQ(f->ino, expect_ino(&t, (enum ns_damage)d));
		CHECK(strstr(f->what, expect[d].words));
	}
	unlink(work);
	unlink(base);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
