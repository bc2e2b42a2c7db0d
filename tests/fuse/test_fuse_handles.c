// SPDX-License-Identifier: GPL-2.0
/*
 * File handles through a mount (name_to_handle_at/open_by_handle_at, as an
 * NFS server or a backup tool uses them), run by handles.sh.
 *
 *   test_fuse_handles save MNT STATE   make the files, take their handles,
 *                                      then unlink, rmdir, rename, reuse
 *   test_fuse_handles check MNT STATE  (after a remount: nothing cached)
 *   test_fuse_handles cached MNT STATE (same mount: the kernel's cache)
 *
 * check: a handle of a linked file or directory opens that very inode
 * (its content, its xattr), wherever it was renamed to; one of an unlinked
 * file, a removed directory or a reused inode number fails with ESTALE,
 * as do forged handles (wrong generation, numbers out of range, free
 * inode slots, random numbers): never another file, never another error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#define MAX_FH 64

struct fh {
	struct file_handle h;
	unsigned char b[MAX_FH];
};

enum {
	F_LIVE,
	F_DIR,
	F_RENAMED,
	F_LINKED,
	F_UNLINKED,
	F_RMDIR,
	F_REUSED,
	F_ROOT,
	NFH
};

struct state {
	struct fh fh[NFH];
	ino_t ino[NFH];
	int reused; /* F_REUSED's number named another file at save */
};

static const char *const what[NFH] = { "live file",	"directory",
				       "renamed file",	"second link",
				       "unlinked file", "removed directory",
				       "reused number", "root" };

static int failed;

#define FAIL(...)                                                    \
	do {                                                         \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
		fprintf(stderr, __VA_ARGS__);                        \
		fputc('\n', stderr);                                 \
		failed = 1;                                          \
	} while (0)

static void die(const char *msg)
{
	perror(msg);
	exit(1);
}

static void take(int dfd, const char *name, struct fh *fh, ino_t *ino)
{
	struct stat st;
	int mid;

	fh->h.handle_bytes = MAX_FH;
	if (name_to_handle_at(dfd, name, &fh->h, &mid,
			      *name ? 0 : AT_EMPTY_PATH))
		die(name);
	if (fstatat(dfd, name, &st,
		    *name ? AT_SYMLINK_NOFOLLOW : AT_EMPTY_PATH))
		die(name);
	*ino = st.st_ino;
}

/* a file whose content and user.tag are tag */
static void make(int dfd, const char *name, const char *tag)
{
	int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0 || write(fd, tag, strlen(tag)) != (ssize_t)strlen(tag) ||
	    fsetxattr(fd, "user.tag", tag, strlen(tag), 0) || close(fd))
		die(name);
}

static void save(int mfd, const char *path)
{
	struct state s;
	struct stat st;
	FILE *f;
	int d;

	memset(&s, 0, sizeof(s));
	make(mfd, "live", "live");
	if (mkdirat(mfd, "dir", 0755))
		die("mkdir dir");
	d = openat(mfd, "dir", O_RDONLY | O_DIRECTORY);
	if (d < 0 || fsetxattr(d, "user.tag", "dir", 3, 0) || close(d))
		die("dir tag");
	make(mfd, "ren", "renamed");
	make(mfd, "lnk", "linked");
	make(mfd, "gone", "gone");
	if (mkdirat(mfd, "rmd", 0755))
		die("mkdir rmd");
	make(mfd, "reuse", "reuse");
	take(mfd, "live", &s.fh[F_LIVE], &s.ino[F_LIVE]);
	take(mfd, "dir", &s.fh[F_DIR], &s.ino[F_DIR]);
	take(mfd, "ren", &s.fh[F_RENAMED], &s.ino[F_RENAMED]);
	take(mfd, "lnk", &s.fh[F_LINKED], &s.ino[F_LINKED]);
	take(mfd, "gone", &s.fh[F_UNLINKED], &s.ino[F_UNLINKED]);
	take(mfd, "rmd", &s.fh[F_RMDIR], &s.ino[F_RMDIR]);
	take(mfd, "reuse", &s.fh[F_REUSED], &s.ino[F_REUSED]);
	take(mfd, "", &s.fh[F_ROOT], &s.ino[F_ROOT]);
	if (renameat(mfd, "ren", mfd, "dir/ren") ||
	    linkat(mfd, "lnk", mfd, "dir/lnk2", 0) || unlinkat(mfd, "lnk", 0) ||
	    unlinkat(mfd, "gone", 0) || unlinkat(mfd, "rmd", AT_REMOVEDIR) ||
	    unlinkat(mfd, "reuse", 0))
		die("namespace changes");
	/* the freed number again, as another file (a new generation) */
	for (int i = 0; i < 256 && !s.reused; i++) {
		char name[32];

		snprintf(name, sizeof(name), "new%d", i);
		make(mfd, name, "new");
		if (fstatat(mfd, name, &st, 0))
			die(name);
		s.reused = st.st_ino == s.ino[F_REUSED];
	}
	f = fopen(path, "w");
	if (!f || fwrite(&s, sizeof(s), 1, f) != 1 || fclose(f))
		die(path);
}

/* fd is the inode named tag (content and xattr) */
static void expect_tag(int fd, const char *who, const char *tag, bool dir)
{
	char buf[64];
	ssize_t n = fgetxattr(fd, "user.tag", buf, sizeof(buf));

	if (n != (ssize_t)strlen(tag) || memcmp(buf, tag, n))
		FAIL("%s: user.tag %.*s, not %s", who, (int)(n > 0 ? n : 0),
		     buf, tag);
	if (dir)
		return;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n != (ssize_t)strlen(tag) || memcmp(buf, tag, n))
		FAIL("%s: content %.*s, not %s", who, (int)(n > 0 ? n : 0), buf,
		     tag);
}

static void expect_open(int mfd, const struct state *s, int i, const char *tag)
{
	struct fh fh = s->fh[i];
	struct stat st;
	int fd = open_by_handle_at(mfd, &fh.h, O_RDONLY);

	if (fd < 0) {
		FAIL("%s: open_by_handle_at: %s", what[i], strerror(errno));
		return;
	}
	if (fstat(fd, &st) || st.st_ino != s->ino[i])
		FAIL("%s: inode %lu, not %lu", what[i],
		     (unsigned long)st.st_ino, (unsigned long)s->ino[i]);
	if (tag)
		expect_tag(fd, what[i], tag, S_ISDIR(st.st_mode));
	close(fd);
}

static void expect_stale(int mfd, const struct fh *fh, const char *who)
{
	struct fh copy = *fh;
	int fd = open_by_handle_at(mfd, &copy.h, O_RDONLY);

	if (fd >= 0) {
		struct stat st;

		fstat(fd, &st);
		FAIL("%s: opened (inode %lu), not ESTALE", who,
		     (unsigned long)st.st_ino);
		close(fd);
	} else if (errno != ESTALE) {
		FAIL("%s: %s, not ESTALE", who, strerror(errno));
	}
}

/* fuse's handle: node id high and low 32 bits, generation */
static struct fh forge(const struct fh *like, uint64_t id, uint32_t gen)
{
	struct fh fh = *like;
	uint32_t w[3] = { id >> 32, (uint32_t)id, gen };

	memcpy(fh.h.f_handle, w, sizeof(w));
	return fh;
}

/* a forged handle opens the inode it names, or fails with ESTALE */
static void expect_named(int mfd, const struct fh *fh, uint64_t id)
{
	struct fh copy = *fh;
	struct stat st;
	int fd = open_by_handle_at(mfd, &copy.h, O_RDONLY);

	if (fd < 0) {
		if (errno != ESTALE)
			FAIL("inode %llu: %s, not ESTALE",
			     (unsigned long long)id, strerror(errno));
		return;
	}
	if (fstat(fd, &st) || st.st_ino != id)
		FAIL("handle of inode %llu opened inode %lu",
		     (unsigned long long)id, (unsigned long)st.st_ino);
	close(fd);
}

static void forged(int mfd, const struct state *s)
{
	const struct fh *live = &s->fh[F_LIVE];
	uint64_t ino = s->ino[F_LIVE];
	unsigned seed = 1;
	uint32_t w[3];
	struct fh fh;

	if (live->h.handle_bytes < sizeof(w)) {
		FAIL("handle of %u bytes", live->h.handle_bytes);
		return;
	}
	memcpy(w, live->h.f_handle, sizeof(w));
	if (((uint64_t)w[0] << 32 | w[1]) != ino) {
		FAIL("handle names node %llx, not inode %llx",
		     (unsigned long long)((uint64_t)w[0] << 32 | w[1]),
		     (unsigned long long)ino);
		return;
	}
	fh = forge(live, ino, w[2] + 1);
	expect_stale(mfd, &fh, "live file, next generation");
	for (int i = 0; i < 3; i++) {
		static const uint64_t far[] = { 0, 1ull << 40, ~0ull };

		fh = forge(live, far[i], w[2]);
		expect_stale(mfd, &fh, "a number out of range");
	}
	/*
	 * Numbers near the files' (free slots, allocated ones) and random
	 * ones, with the live file's generation and random ones; node 1 and
	 * the root's number swap places (fs/fuse/ops.c), left out.
	 */
	for (int i = 0; i < 400; i++) {
		uint64_t id = i < 200 ?
				      ino - 8 + i :
				      (uint64_t)rand_r(&seed) % (ino * 64) + 2;

		if (id <= 1 || id == s->ino[F_ROOT])
			continue;
		fh = forge(live, id, i % 2 ? w[2] : (uint32_t)rand_r(&seed));
		expect_named(mfd, &fh, id);
	}
}

static void check(int mfd, const char *path, bool cached)
{
	struct state s;
	FILE *f = fopen(path, "r");

	if (!f || fread(&s, sizeof(s), 1, f) != 1)
		die(path);
	fclose(f);
	expect_open(mfd, &s, F_LIVE, "live");
	expect_open(mfd, &s, F_DIR, "dir");
	expect_open(mfd, &s, F_RENAMED, "renamed");
	expect_open(mfd, &s, F_LINKED, "linked");
	expect_open(mfd, &s, F_ROOT, NULL);
	/* the kernel may still hold a freed inode it knew: only uncached */
	if (!cached) {
		expect_stale(mfd, &s.fh[F_UNLINKED], what[F_UNLINKED]);
		expect_stale(mfd, &s.fh[F_RMDIR], what[F_RMDIR]);
		expect_stale(mfd, &s.fh[F_REUSED], what[F_REUSED]);
		if (!s.reused)
			FAIL("the freed number was not reused in 256 creates");
	}
	forged(mfd, &s);
}

int main(int argc, char **argv)
{
	int mfd;

	if (argc != 4) {
		fprintf(stderr, "usage: %s save|check|cached MNT STATE\n",
			argv[0]);
		return 2;
	}
	mfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (mfd < 0)
		die(argv[2]);
	if (!strcmp(argv[1], "save"))
		save(mfd, argv[3]);
	else
		check(mfd, argv[3], !strcmp(argv[1], "cached"));
	close(mfd);
	return failed;
}
