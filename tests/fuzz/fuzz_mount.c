// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzz target: the core's read path (fs/kvfs.h) over the populated image
 * with one to four blocks replaced by the input (see fuzz_image() in fuzz.h): a
 * read-only open, then the whole tree walked as a user would: readdir and
 * lookup of every entry, getattr, readlink, every xattr listed and read,
 * the first bytes of every file.  Errors are expected; crashes, hangs and
 * sanitizer reports are the findings.
 */
#include <sys/stat.h>

#include "fs/kvfs.h"
#include "tests/fuzz/fuzz.h"

#define MAX_NODES 8192

struct walk {
	struct kvfs_mount *mp;
	uint64_t dirs[64];
	unsigned ndirs;
	uint64_t cur; /* the directory being read */
	unsigned nodes;
};

static uint8_t scratch[65536];
static volatile unsigned visits;

static void visit(struct walk *w, uint64_t ino)
{
	static char list[65536];
	struct kvfs_stat st;
	ssize_t n;

	if (kvfs_getattr(w->mp, ino, &st))
		return;
	visits++;
	if (S_ISLNK(st.mode))
		kvfs_readlink(w->mp, ino, (char *)scratch,
			      KVFS_SYMLINK_MAX + 1);
	if (S_ISREG(st.mode) && !kvfs_inode_open(w->mp, ino, st.generation)) {
		kvfs_read(w->mp, ino, scratch, sizeof(scratch), 0);
		kvfs_inode_close(w->mp, ino);
	}
	n = kvfs_listxattr(w->mp, ino, list, sizeof(list));
	for (ssize_t o = 0; n > 0 && o < n; o += (ssize_t)strlen(list + o) + 1)
		kvfs_getxattr(w->mp, ino, list + o, scratch, sizeof(scratch));
	if (S_ISDIR(st.mode) && w->ndirs < sizeof(w->dirs) / sizeof(w->dirs[0]))
		w->dirs[w->ndirs++] = ino;
}

/* A directory's entries, gathered by readdir and visited after it. */
static struct {
	char name[256];
	uint64_t ino;
} ents[MAX_NODES];
static unsigned nents;

/*
 * Only gathers: the directory is locked while readdir calls this, and the
 * API is not to be re-entered from the callback (a lookup would take the
 * directory's lock again: the debug build's lock-rank check aborts).
 */
static int fill(void *priv, const char *name, size_t namelen, uint64_t ino,
		unsigned dtype, uint64_t next)
{
	struct walk *w = priv;

	(void)dtype;
	(void)next;
	if (++w->nodes > MAX_NODES || nents >= MAX_NODES)
		return 1;
	if (namelen >= sizeof(ents[0].name) ||
	    (namelen == 1 && name[0] == '.') ||
	    (namelen == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	memcpy(ents[nents].name, name, namelen);
	ents[nents].name[namelen] = '\0';
	ents[nents++].ino = ino;
	return 0;
}

/* Look up and visit what readdir of w->cur gathered. */
static void visit_entries(struct walk *w)
{
	struct kvfs_stat st;

	for (unsigned i = 0; i < nents; i++)
		if (!kvfs_lookup(w->mp, w->cur, ents[i].name, &st) &&
		    st.ino == ents[i].ino)
			visit(w, ents[i].ino);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_image *im = fuzz_image();
	size_t bs = fuzz_geom()->blocksize;
	uint64_t blknos[FUZZ_IMAGE_MAX_BLOCKS];
	unsigned n;
	struct kvfs_open_opts o = { .rdonly = true };
	struct kvfs_open_info info;
	struct walk w = { .ndirs = 0 };

	n = fuzz_image_put(im, data, size, bs, blknos);
	if (!n)
		return 0;
	if (!kvfs_open(im->path, &o, &w.mp, &info)) {
		visit(&w, kvfs_root_ino(w.mp));
		for (unsigned d = 0; d < w.ndirs; d++) {
			w.cur = w.dirs[d];
			nents = 0;
			kvfs_readdir(w.mp, w.cur, 0, fill, &w);
			visit_entries(&w);
		}
		kvfs_close(w.mp);
	}
	fuzz_image_restore(im, blknos, n, bs);
	return 0;
}
