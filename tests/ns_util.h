/* SPDX-License-Identifier: GPL-2.0 */
/*
 * For the namespace tests: walk the tree from the root through the public
 * API (fs/kvfs.h) of a filesystem nothing is changing, and check what the
 * checker (fs/check/scrub.h) does not yet know of the namespace:
 *   - "." of every directory is itself and ".." its parent (the root's
 *     is the root);
 *   - every entry's d_type agrees with its inode's mode;
 *   - a directory is reached by exactly one name (no cycle, no second
 *     link), and its link count is 2 plus its subdirectories;
 *   - a non-directory's link count equals the entries naming it;
 *   - the inodes in use (statfs: files - ffree) are exactly those reached,
 *     plus extra (inodes the caller holds open with no name): none is
 *     leaked.
 * ns_walk() prints what is wrong and returns -1, else the inodes reached
 * (the root included).  ns_lookup_path() resolves "a/b/c" from the root.
 */
#ifndef KV_TESTS_NS_UTIL_H
#define KV_TESTS_NS_UTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/kvfs.h"
#include "tests/check.h"

struct ns_node {
	uint64_t ino; /* 0: empty slot */
	uint32_t refs, subdirs, nlink;
	bool isdir;
};

struct ns_map {
	struct ns_node *v;
	size_t cap, n;
};

static inline struct ns_node *ns_map_get(struct ns_map *m, uint64_t ino)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap) {
		struct ns_map bigger = { .cap = m->cap ? 2 * m->cap : 1024 };

		bigger.v = calloc(bigger.cap, sizeof(*bigger.v));
		CHECK(bigger.v);
		for (i = 0; i < m->cap; i++)
			if (m->v[i].ino)
				*ns_map_get(&bigger, m->v[i].ino) = m->v[i];
		free(m->v);
		*m = bigger;
	}
	for (i = (ino * 0x9e3779b97f4a7c15ull) % m->cap; m->v[i].ino;
	     i = (i + 1) % m->cap)
		if (m->v[i].ino == ino)
			return &m->v[i];
	m->v[i].ino = ino;
	m->n++;
	return &m->v[i];
}

struct ns_ent {
	char name[KVFS_NAME_MAX + 1];
	uint64_t ino;
	unsigned dtype;
};

struct ns_ents {
	struct ns_ent *v;
	size_t n, cap;
};

static inline int ns_ents_fill(void *priv, const char *name, size_t namelen,
			       uint64_t ino, unsigned dtype, uint64_t next)
{
	struct ns_ents *l = priv;

	(void)next;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		CHECK(l->v);
	}
	CHECK(namelen <= KVFS_NAME_MAX);
	memcpy(l->v[l->n].name, name, namelen);
	l->v[l->n].name[namelen] = '\0';
	l->v[l->n].ino = ino;
	l->v[l->n].dtype = dtype;
	l->n++;
	return 0;
}

static inline unsigned ns_mode_dtype(uint32_t mode)
{
	return (mode & S_IFMT) >> 12; /* DT_* == S_IFMT >> 12 on Linux */
}

static inline long ns_walk(struct kvfs_mount *mp, uint64_t extra)
{
	struct ns_map m = { 0 };
	uint64_t root = kvfs_root_ino(mp), *queue, *parents;
	size_t qn = 1, qcap = 1024, qi;
	struct kvfs_statfs sfs;
	struct kvfs_stat st;
	long bad = 0, reached;

	queue = malloc(qcap * sizeof(*queue));
	parents = malloc(qcap * sizeof(*parents));
	CHECK(queue && parents);
	queue[0] = parents[0] = root;
	CHECK_EQ(kvfs_getattr(mp, root, &st), 0);
	*ns_map_get(&m, root) = (struct ns_node){ .ino = root,
						  .isdir = true,
						  .nlink = st.nlink };
	for (qi = 0; qi < qn; qi++) {
		uint64_t dir = queue[qi];
		struct ns_ents l = { 0 };

		CHECK_EQ(kvfs_readdir(mp, dir, 0, ns_ents_fill, &l), 0);
		if (l.n < 2 || strcmp(l.v[0].name, ".") || l.v[0].ino != dir ||
		    strcmp(l.v[1].name, "..") || l.v[1].ino != parents[qi]) {
			fprintf(stderr,
				"ns_walk: directory %" PRIu64 ": bad . or .. "
				"(parent %" PRIu64 ")\n",
				dir, parents[qi]);
			bad++;
		}
		for (size_t i = 2; i < l.n; i++) {
			struct ns_node *c;

			if (kvfs_getattr(mp, l.v[i].ino, &st)) {
				fprintf(stderr,
					"ns_walk: %" PRIu64 "/%s: inode "
					"%" PRIu64 " not there\n",
					dir, l.v[i].name, l.v[i].ino);
				bad++;
				continue;
			}
			if (ns_mode_dtype(st.mode) != l.v[i].dtype) {
				fprintf(stderr,
					"ns_walk: %" PRIu64 "/%s: d_type %u, "
					"mode 0%o\n",
					dir, l.v[i].name, l.v[i].dtype,
					st.mode);
				bad++;
			}
			c = ns_map_get(&m, l.v[i].ino);
			c->nlink = st.nlink;
			c->isdir = S_ISDIR(st.mode);
			c->refs++;
			if (!c->isdir)
				continue;
			ns_map_get(&m, dir)->subdirs++;
			if (c->refs > 1) {
				fprintf(stderr,
					"ns_walk: directory %" PRIu64
					" reached "
					"twice (%" PRIu64 "/%s)\n",
					l.v[i].ino, dir, l.v[i].name);
				bad++;
				continue;
			}
			if (qn == qcap) {
				qcap *= 2;
				queue = realloc(queue, qcap * sizeof(*queue));
				parents = realloc(parents,
						  qcap * sizeof(*parents));
				CHECK(queue && parents);
			}
			parents[qn] = dir;
			queue[qn++] = l.v[i].ino;
		}
		free(l.v);
	}
	for (size_t i = 0; i < m.cap; i++) {
		const struct ns_node *c = &m.v[i];
		uint32_t want;

		if (!c->ino)
			continue;
		want = c->isdir ? 2 + c->subdirs : c->refs;
		if (c->nlink != want) {
			fprintf(stderr,
				"ns_walk: inode %" PRIu64 ": %u links, %u "
				"expected (%u names, %u subdirectories)\n",
				c->ino, c->nlink, want, c->refs, c->subdirs);
			bad++;
		}
	}
	reached = (long)m.n;
	CHECK_EQ(kvfs_statfs(mp, &sfs), 0);
	if (sfs.files - sfs.ffree != (uint64_t)reached + extra) {
		fprintf(stderr,
			"ns_walk: %" PRIu64 " inodes in use, %ld reached "
			"(+%" PRIu64 " held open)\n",
			sfs.files - sfs.ffree, reached, extra);
		bad++;
	}
	free(m.v);
	free(queue);
	free(parents);
	return bad ? -1 : reached;
}

/* The inode of path ("a/b", from the root): 0 and *st, or -errno. */
static inline int ns_lookup_path(struct kvfs_mount *mp, const char *path,
				 struct kvfs_stat *st)
{
	char buf[4096], *tok, *save = NULL;
	uint64_t dir = kvfs_root_ino(mp);
	int err;

	snprintf(buf, sizeof(buf), "%s", path);
	err = kvfs_getattr(mp, dir, st);
	for (tok = strtok_r(buf, "/", &save); tok && !err;
	     tok = strtok_r(NULL, "/", &save)) {
		err = kvfs_lookup(mp, dir, tok, st);
		dir = st->ino;
	}
	return err;
}

#endif
