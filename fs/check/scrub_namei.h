/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The checker's namespace walk (xfs_repair phases 6-7): the in-use inodes
 * the checker met (fs/check/scrub.c feeds each one to kvfs_ns_add()), then
 * every directory's entries read as stored (kvfs_dir_walk_disk(), never
 * through the hash index), from the root breadth first and then the
 * directories the root does not reach.  It proves
 *   - every entry names an in-use inode, not the root, with the inode's
 *     file type;
 *   - every directory named by exactly one entry (its parent's), its ".."
 *     naming that parent; the root's ".." the root itself;
 *   - every link count equal to the entries naming the inode; for a
 *     directory, the convention of fs/ns/namei.c: 1 for its parent's entry
 *     (the root's own ".." for the root), 1 for its own ".", 1 for the ".."
 *     of each subdirectory;
 *   - every in-use inode reachable from the root or on an unlinked list,
 *     and no cycle of directories.
 * Memory: one record per inode (24 bytes, and 24 more for a directory),
 * sorted by inode number, and a queue of directories; never per entry.
 * Problems go to the caller's callback with what a repair needs
 * (fs/repair/namespace.c uses the same walk); the checker words them as
 * findings.
 *
 * Which entry wins for a directory named twice: one in a directory
 * reached from the root before one that is not; among those, the one in
 * the directory its ".." names; then the first met.  A disconnected
 * subtree is reported once, at its top (an inode no entry names); the
 * link count of such a top is not checked (it has no parent yet).
 */
#ifndef KV_FS_SCRUB_NAMEI_H
#define KV_FS_SCRUB_NAMEI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/geom.h"
#include "fs/check/scrub.h"

struct kv_bcache;
struct kvfs_dinode;
struct kvfs_inobt_rec;

enum kvfs_ns_prob {
	KVFS_NS_ENT_FREE, /* entry name in dir names ino, not an inode in use */
	KVFS_NS_ENT_TYPE, /* its file type is have, ino's is want */
	KVFS_NS_ENT_ROOT, /* an entry names the root */
	/*
	 * directory ino has a second entry, in dir (its name, or NULL when
	 * the walk no longer has it at hand: the one in dir naming ino)
	 */
	KVFS_NS_ENT_EXTRA,
	KVFS_NS_DOTDOT, /* directory ino's ".." is have, its parent want */
	KVFS_NS_NLINK, /* ino's link count is have, want links found */
	KVFS_NS_DISCONNECTED, /* ino and what is under it: not reachable */
	KVFS_NS_CYCLE, /* directory ino in a cycle; dir: its parent in it */
};

struct kvfs_ns_problem {
	enum kvfs_ns_prob kind;
	uint64_t dir; /* the directory of the entry, or KVFS_NULLINO */
	uint64_t ino;
	const char *name; /* the entry's name (ENT_*), else NULL */
	size_t namelen;
	uint64_t have, want;
	uint16_t mode; /* ino's mode (0 for ENT_FREE) */
};

typedef void (*kvfs_ns_fn)(void *priv, const struct kvfs_ns_problem *p);

struct kvfs_ns;

int kvfs_ns_create(struct kvfs_ns **nsp);
void kvfs_ns_destroy(struct kvfs_ns *ns);
/*
 * Room for n inodes up front (a hint: more still fit; short of memory, none).
 */
void kvfs_ns_reserve(struct kvfs_ns *ns, size_t n);
/* Inode ino (in use: mode != 0) as stored; listed: on an unlinked list. */
int kvfs_ns_add(struct kvfs_ns *ns, uint64_t ino, const struct kvfs_dinode *d,
		bool listed);
/*
 * Walk the namespace of the inodes added (bc as for kvfs_scrub()); each
 * problem to fn.  0, -ENOMEM or -EIO (directories that cannot be read
 * are skipped: what only they name shows up as disconnected).
 */
int kvfs_ns_check(struct kvfs_ns *ns, struct kv_bcache *bc,
		  const struct kvfs_geom *g, kvfs_ns_fn fn, void *priv);

/*
 * kvfs_scrub() with every finding also handed to fn as it is made (all of
 * them, not only the first KVFS_SCRUB_MAX_FINDINGS), with its namespace
 * problem for the namespace kinds (else NULL): fsck's detection.
 */
typedef void (*kvfs_scrub_fn)(void *priv, const struct kvfs_scrub_finding *f,
			      const struct kvfs_ns_problem *p);
int kvfs_scrub_cb(struct kv_bcache *bc, const struct kvfs_geom *g,
		  struct kvfs_scrub_result *res, kvfs_scrub_fn fn, void *priv);

/*
 * kvfs_scrub_cb() with more of its caller (fsck's detection): progress is
 * told the inodes read so far of about total (the superblock's count)
 * after each inode chunk; known(priv, ino) true says that a walk of the
 * very same bytes under the same geometry verified the inode already
 * (fsck -n's phase 4), so its kvfs_dinode_verify() is not repeated;
 * cluster(priv, ino, fsb, blk) is handed each inode cluster as the walk
 * read it (blk: block fsb's bytes, unverified), ino the first inode of it
 * the walk checks next, before it checks them (fsck -n's phase 4 checks
 * them on these bytes rather than reading them again; known() is asked
 * after); it may change the bytes and return 1: the walk checks them as
 * changed, and they stand for the block in bc (never written) until the
 * check ends, for the namespace walk's reads (fsck -n: the inodes as
 * -y's phase 4 leaves them); negative from it stops the check with that
 * value; chunks(priv, agno, &recs, &n) true hands in the AG's inode-chunk
 * records (n of them, in order) whose inodes the walk checks, instead of
 * those its inode-chunk tree holds, which is still walked and judged
 * (fsck -n: the records phase 3 found, as -y's rebuilt tree holds them).
 * Any of them may be NULL.
 */
struct kvfs_scrub_hooks {
	kvfs_scrub_fn fn;
	void (*progress)(void *priv, uint64_t done, uint64_t total);
	bool (*known)(void *priv, uint64_t ino);
	int (*cluster)(void *priv, uint64_t ino, uint64_t fsb, uint8_t *blk);
	bool (*chunks)(void *priv, uint32_t agno,
		       const struct kvfs_inobt_rec **recs, size_t *n);
	void *priv;
};
int kvfs_scrub_hooked(struct kv_bcache *bc, const struct kvfs_geom *g,
		      struct kvfs_scrub_result *res,
		      const struct kvfs_scrub_hooks *h);

#endif
