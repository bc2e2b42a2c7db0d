// SPDX-License-Identifier: GPL-2.0
/*
 * fsck's namespace phases (fs/repair/namespace.c), one damage of
 * tests/check/nsdamage.h per run (argv[1]), on a mount as fsck.kvfs's
 * driver makes it after phase 4: the dry run finds it and changes no byte
 * of the image; the repair fixes every problem it finds; then the checker
 * is clean, kvfs_open() works, every file's data is byte-identical (found
 * by inode number, wherever it now is), what was moved is in lost+found
 * under "#INO", and a second repair finds nothing.  "preen": only the
 * counts are fixed, the rest is left and counted.
 */
#include <inttypes.h>

#include "fs/mount.h"
#include "fs/repair/repair.h"
#include "fs/check/scrub.h"
#include "tests/check/nsdamage.h"
#include "tests/scrub_util.h"

static char base[256], work[256];

static void on_problem(void *arg, enum kvfs_repair_phase ph, uint64_t ino,
		       uint64_t blkno, const char *what, bool fixed)
{
	(void)arg;
	(void)blkno;
	printf("  phase %d, inode %" PRIu64 ": %s (%s)\n", (int)ph, ino, what,
	       fixed ? "fixed" : "not fixed");
}

static unsigned nnotices;

static void on_notice(void *arg, const char *what)
{
	(void)arg;
	printf("  notice: %s\n", what);
	nnotices++;
}

static const struct kvfs_repair_ops ops = { .problem = on_problem,
					    .notice = on_notice };

static uint64_t image_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint64_t h = 1469598103934665603ull;
	int c;

	CHECK(f);
	while ((c = getc(f)) != EOF)
		h = (h ^ (uint8_t)c) * 1099511628211ull;
	CHECK_EQ(fclose(f), 0);
	return h;
}

static bool preen;

static void repair(bool dry, struct kvfs_repair_result *res)
{
	struct kvfs_mount_opts mo = { .rdonly = dry };
	struct kvfs_repair_opts o = { .dry_run = dry,
				      .preen = preen,
				      .ops = &ops };
	struct kvfs_mount *mp;

	memset(res, 0, sizeof(*res));
	CHECK_EQ(kvfs_mount_open(work, &mo, &mp), 0);
	CHECK_EQ(kvfs_repair_namespace(mp, &o, res), 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	printf("  %s: found %" PRIu64 ", fixed %" PRIu64 ", left %" PRIu64 "\n",
	       dry ? "dry run" : "repair", res->found, res->fixed, res->left);
}

/* ino's data as made (ns_fill), its size given. */
static void same_data(struct kvfs_mount *mp, uint64_t ino, size_t bytes)
{
	uint8_t *want = malloc(bytes + 1), *got = malloc(bytes + 1);

	CHECK(want && got);
	ns_fill(want, bytes, ino);
	CHECK_EQ(kvfs_read(mp, ino, got, bytes + 1, 0), (ssize_t)bytes);
	CHECK(!memcmp(want, got, bytes));
	free(want);
	free(got);
}

static void check_after(const struct nstree *t, enum ns_damage d)
{
	struct kvfs_open_opts oo = { 0 };
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	unsigned nlost = 0;
	uint64_t lpf;
	char name[32];
	uint8_t v[64];

	scrub_image_clean(work);
	CHECK_EQ(kvfs_open(work, &oo, &mp, NULL), 0);
	same_data(mp, t->f1, 4 * 4096);
	same_data(mp, t->f2, 5000);
	same_data(mp, t->x, 100);
	CHECK_EQ(kvfs_lookup(mp, t->root, "lost+found", &st), 0);
	lpf = st.ino;
	/*
	 * each in /big, or in lost+found when its block was lost or its
	 * damaged block's entry named another (the intact entry keeps the
	 * name)
	 */
	for (unsigned i = 0; i < NBIG; i++) {
		snprintf(name, sizeof(name), "file-%04u", i);
		if (kvfs_lookup(mp, t->big, name, &st)) {
			CHECK(d == NSD_DIR_BLOCK || d == NSD_NAME_DUP);
			snprintf(name, sizeof(name), "#%" PRIu64, t->bigino[i]);
			CHECK_EQ(kvfs_lookup(mp, lpf, name, &st), 0);
			nlost++;
		}
		CHECK_EQ(st.ino, t->bigino[i]);
		same_data(mp, st.ino, i % 3 ? 100 : 0);
	}
	if (d == NSD_DIR_BLOCK) {
		printf("  %u of /big's files in lost+found\n", nlost);
		CHECK(nlost > 0 && nlost < NBIG);
	}
	if (d == NSD_NAME_DUP)
		CHECK_EQ(nlost, 1);
	switch (d) {
	case NSD_ENTRY_FREE:
		CHECK_EQ(kvfs_lookup(mp, t->a, "ghost", &st), -ENOENT);
		break;
	case NSD_TYPE:
	case NSD_BLK_TYPE:
		CHECK_EQ(kvfs_lookup(mp, t->a, "f2", &st), 0);
		CHECK_EQ(st.ino, t->f2);
		break;
	case NSD_NLINK:
		CHECK_EQ(kvfs_getattr(mp, t->f1, &st), 0);
		CHECK_EQ(st.nlink, 1);
		break;
	case NSD_DOTDOT:
		CHECK_EQ(kvfs_lookup(mp, t->b, "..", &st), 0);
		CHECK_EQ(st.ino, t->a);
		break;
	case NSD_CYCLE:
	case NSD_DISCONNECT:
		snprintf(name, sizeof(name), "#%" PRIu64, t->a);
		CHECK_EQ(kvfs_lookup(mp, kvfs_root_ino(mp), "lost+found", &st),
			 0);
		CHECK_EQ(kvfs_lookup(mp, st.ino, name, &st), 0);
		CHECK_EQ(st.ino, t->a);
		CHECK_EQ(kvfs_lookup(mp, t->a, "..", &st), 0);
		CHECK_EQ(kvfs_lookup(mp, t->b, "f1", &st), 0);
		CHECK_EQ(kvfs_lookup(mp, t->b, "loop", &st), -ENOENT);
		break;
	case NSD_TWO_PARENTS:
		CHECK_EQ(kvfs_lookup(mp, t->c, "b2", &st), -ENOENT);
		CHECK_EQ(kvfs_lookup(mp, t->a, "b", &st), 0);
		CHECK_EQ(st.ino, t->b);
		break;
	case NSD_ORPHAN:
		CHECK_EQ(kvfs_getattr(mp, t->p, &st), -ENOENT);
		break;
	case NSD_XATTR:
		CHECK_EQ(kvfs_getxattr(mp, t->x, "user.attr-00", v, sizeof(v)),
			 -ENODATA);
		CHECK_EQ(kvfs_setxattr(mp, t->x, "user.new", v, 8, 0), 0);
		break;
	case NSD_DIR_HEAD:
	case NSD_DIR_BLOCK:
	case NSD_NAME_DUP:
	case NSD_HEAD_DBLK:
		CHECK_EQ(kvfs_lookup(mp, t->big, "..", &st), 0);
		CHECK_EQ(st.ino, t->root);
		break;
	case NSD_NO_LPF:
		/* a new lost+found, said so, the old one in it */
		CHECK_EQ(nnotices, 1);
		CHECK(lpf != t->lpf);
		snprintf(name, sizeof(name), "#%" PRIu64, t->lpf);
		CHECK_EQ(kvfs_lookup(mp, lpf, name, &st), 0);
		CHECK_EQ(st.ino, t->lpf);
		break;
	case NSD_N:
		break;
	}
	CHECK_EQ(kvfs_close(mp), 0);
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct kvfs_repair_result res;
	struct nstree t;
	uint64_t h;
	int d;

	if (argc != 2) {
		fprintf(stderr,
			"usage: test_repair_ns clean|preen|DAMAGE-NUMBER\n");
		return 2;
	}
	CHECK_EQ(kv_init(NULL), 0);
	snprintf(base, sizeof(base), "%s/kvnsrepair-%d.img", dir,
		 (int)getpid());
	snprintf(work, sizeof(work), "%s/kvnsrepair-%d.work", dir,
		 (int)getpid());
	ns_make(base, &t);
	ns_copy(base, work);
	if (!strcmp(argv[1], "clean")) {
		printf("populated tree:\n");
		repair(true, &res);
		CHECK_EQ(res.found, 0);
		repair(false, &res);
		CHECK_EQ(res.found, 0);
		scrub_image_clean(work);
		goto out;
	}
	if (!strcmp(argv[1], "preen")) {
		/* the link count is fixed, the '..' left and counted */
		ns_damage(work, &t, NSD_NLINK);
		ns_damage(work, &t, NSD_DOTDOT);
		preen = true;
		repair(false, &res);
		CHECK_EQ(res.found, 2);
		CHECK_EQ(res.fixed, 1);
		CHECK_EQ(res.left, 1);
		preen = false;
		repair(false, &res);
		CHECK_EQ(res.found, 1);
		CHECK_EQ(res.fixed, 1);
		check_after(&t, NSD_DOTDOT);
		goto out;
	}
	d = atoi(argv[1]);
	CHECK(d >= 0 && d < NSD_N);
	ns_damage(work, &t, (enum ns_damage)d);
	printf("%s:\n", ns_damage_names[d]);
	h = image_hash(work);
	repair(true, &res);
	CHECK(res.found >= 1);
	CHECK_EQ(res.fixed, 0);
	CHECK_EQ(res.left, res.found);
	CHECK_EQ(image_hash(work), h);
	repair(false, &res);
	CHECK(res.found >= 1);
	CHECK_EQ(res.fixed, res.found);
	CHECK_EQ(res.left, 0);
	check_after(&t, (enum ns_damage)d);
	repair(false, &res);
	CHECK_EQ(res.found, 0);
out:
	unlink(work);
	unlink(base);
	CHECK_EQ(kv_fini(), 0);
	return 0;
}
