// SPDX-License-Identifier: GPL-2.0
/*
 * fsck's phases 5-6 (fs/repair/repair.h: kvfs_repair_namespace()) on a
 * mount: detection is the checker's own walk (kvfs_scrub_cb(), whose
 * namespace part is fs/check/scrub_namei.c) read through the mount's buffer
 * cache once everything is written back in place (a dry run's one
 * detection is made during phase 4 instead, its walk of the inodes serving
 * both: rp_detect_early()); each fix is one transaction through the core
 * (fs/ns/dir.h, fs/inode/iunlink.h, fs/ns/attr.h).
 *
 * The repair goes in rounds: detect, then fix every problem of the first
 * class that has any, in this order, since each class's fixes change what
 * the next one sees:
 *   0 directories    a directory whose blocks, head or index are damaged
 *                    is rebuilt: the entries of its readable data blocks
 *                    (kvfs_dir_walk_disk(), not the index; a block whose
 *                    records still chain is read, its unusable entries
 *                    left out, a file type that is none taken from the
 *                    inode) kept, its data fork truncated, the index
 *                    blocks that still read freed (found from block 0 as
 *                    phase 4 found them, kvfs_dir_read_head(); those that
 *                    do not read were never claimed by phase 4, so phase
 *                    7 left them free),
 *                    the short form made again and every kept entry
 *                    inserted anew (cookies change); what only a lost
 *                    block named is disconnected now and goes to
 *                    lost+found below.
 *   1 entries        an entry to a free inode, naming the root, or a
 *                    directory's second entry: removed (the target's link
 *                    count untouched: the walk never counted it); a wrong
 *                    file type: set from the inode's mode; a wrong "..":
 *                    pointed at the parent; extended attributes failing
 *                    verification: the attribute fork removed.
 *   2 cycles         the entry naming one directory of the cycle (the one
 *                    the walk met) removed from its parent in the cycle,
 *                    whose link count drops by the subdirectory lost.
 *   3 disconnected   each top of what the root does not reach linked into
 *                    lost+found as "#INO" (e2fsck's naming; made in the
 *                    root, mode 0700, if missing), a directory's ".."
 *                    pointed there and lost+found's link count raised.
 *   4 counts         link counts set to the links found; an in-use inode
 *                    with no links on no unlinked list put on its list
 *                    and freed at once (nobody holds it open).
 * until a detection finds nothing fixable (at most MAX_ROUNDS).  A fix
 * that fails is reported as not fixed at once (with a directory's other
 * findings its rebuild stood for), and leaves its class for the rest of
 * the run.  What is left at the end is reported as not fixed (all of it
 * in a dry run, where the mount is read-only and only one detection
 * runs; with preen only the counts are fixed).
 *
 * Every inode a fix reads is read as an untrusted number
 * (KVFS_IGET_UNTRUSTED): the numbers come from a damaged namespace, and
 * one in a free chunk, whose blocks may hold a file's data since, is not
 * read as an inode.
 *
 * Locks: the caller is the mount's only user.  A fix locks at most two
 * inodes, in ascending inode number order (fs/mount.h), after its
 * transaction is allocated; detection holds none.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/ns/attr.h"
#include "fs/btree/btree.h"
#include "fs/io/buf_ops.h"
#include "fs/btree/bmap_btree.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/itruncate.h"
#include "fs/inode/iunlink.h"
#include "fs/io/buf.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "fs/repair/priv.h"
#include "fs/check/scrub_namei.h"
#include "fs/format/sb.h"
#include "fs/trans/trans.h"

#define MAX_ROUNDS 8

enum cls { C_DIRS, C_ENTRIES, C_CYCLES, C_DISCONNECTED, C_COUNTS, C_LEFT, C_N };

/* Beyond the walk's kinds: what other checker findings ask of us. */
enum {
	P_ATTR = KVFS_NS_CYCLE + 1, /* attribute structures fail to verify */
	P_ORPHAN, /* in use, no links, on no unlinked list */
	P_DIRBAD, /* a directory's blocks or index damaged */
};

struct prob {
	int kind; /* enum kvfs_ns_prob or P_* */
	uint64_t dir, ino, have, want;
	uint16_t mode;
	bool named;
	uint8_t namelen;
	char name[KVFS_NAME_MAX + 1];
	char what[224];
	int ferr; /* its fix's error, this round */
};

struct nsr {
	struct kvfs_mount *mp;
	const struct kvfs_repair_opts *o;
	struct kvfs_repair_result *res;
	struct kvfs_scrub_result *sr;
	struct prob *v;
	size_t n, cap;
	int err; /* of collecting */
	bool disabled[C_N];
	/*
	 * The findings whose fix failed, said at once: what the failed fix
	 * did change (a rebuild's emptied directory) may hide them from the
	 * detection after it.
	 */
	struct prob *failed;
	size_t nfailed, failed_cap;
	bool connectivity; /* phase 6 announced */
	uint64_t lpf;
	bool (*known)(void *priv, uint64_t ino); /* rp_namespace()'s */
	void *known_priv;
	/* rp_detect_early()'s: phase 4's walk, and what it failed with */
	int (*cluster)(void *priv, uint64_t ino, uint64_t fsb, uint8_t *blk);
	int cluster_err;
	const struct rp *rp; /* rp_detect_early()'s: phase 3's chunks */
};

static enum cls cls_of(int kind)
{
	switch (kind) {
	case KVFS_NS_ENT_FREE:
	case KVFS_NS_ENT_TYPE:
	case KVFS_NS_ENT_ROOT:
	case KVFS_NS_ENT_EXTRA:
	case KVFS_NS_DOTDOT:
	case P_ATTR:
		return C_ENTRIES;
	case KVFS_NS_CYCLE:
		return C_CYCLES;
	case KVFS_NS_DISCONNECTED:
		return C_DISCONNECTED;
	case KVFS_NS_NLINK:
	case P_ORPHAN:
		return C_COUNTS;
	case P_DIRBAD:
		return C_DIRS;
	default:
		return C_LEFT;
	}
}

static enum kvfs_repair_phase phase_of(int kind)
{
	return cls_of(kind) <= C_ENTRIES ? KVFS_RP_DIRECTORIES :
					   KVFS_RP_CONNECTIVITY;
}

static void collect(void *priv, const struct kvfs_scrub_finding *f,
		    const struct kvfs_ns_problem *p)
{
	struct nsr *r = priv;
	struct prob *q;
	int kind;

	if (p)
		kind = (int)p->kind;
	else if (f->kind == KVFS_SCRUB_ATTR && f->ino != KVFS_NULLINO)
		kind = P_ATTR;
	else if (f->kind == KVFS_SCRUB_UNLINKED && f->ino != KVFS_NULLINO &&
		 strstr(f->what, "has no links and is on no unlinked list"))
		kind = P_ORPHAN;
	else if ((f->kind == KVFS_SCRUB_DIR ||
		  (f->kind == KVFS_SCRUB_TREE &&
		   strstr(f->what, "directory"))) &&
		 f->ino != KVFS_NULLINO)
		kind = P_DIRBAD;
	else
		return; /* not the namespace's: phases 1-4 and 7 */
	if (r->err)
		return;
	if (r->n == r->cap) {
		size_t ncap = r->cap ? 2 * r->cap : 64;
		struct prob *nv = kvrealloc(r->v, ncap * sizeof(*nv), 0);

		if (!nv) {
			r->err = -ENOMEM;
			return;
		}
		r->v = nv;
		r->cap = ncap;
	}
	q = &r->v[r->n++];
	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->ino = f->ino;
	q->dir = KVFS_NULLINO;
	if (p) {
		q->dir = p->dir;
		q->ino = p->ino;
		q->have = p->have;
		q->want = p->want;
		q->mode = p->mode;
		if (p->name && p->namelen && p->namelen <= KVFS_NAME_MAX) {
			q->named = true;
			q->namelen = (uint8_t)p->namelen;
			memcpy(q->name, p->name, p->namelen);
		}
	}
	snprintf(q->what, sizeof(q->what), "%s", f->what);
}

static void detect_progress(void *priv, uint64_t done, uint64_t total)
{
	struct nsr *r = priv;

	if (r->o->ops && r->o->ops->progress)
		r->o->ops->progress(r->o->arg, done, total);
}

static bool detect_known(void *priv, uint64_t ino)
{
	struct nsr *r = priv;

	return r->known(r->known_priv, ino);
}

static int detect_cluster(void *priv, uint64_t ino, uint64_t fsb, uint8_t *blk)
{
	struct nsr *r = priv;
	int ret = r->cluster(r->known_priv, ino, fsb, blk);

	r->cluster_err = ret < 0 ? ret : 0;
	return ret;
}

/*
 * The chunks phase 3 found (from the tree, or a scan where it failed: the
 * records -y's rebuilt tree holds), for the check to walk their inodes.
 */
static bool detect_chunks(void *priv, uint32_t agno,
			  const struct kvfs_inobt_rec **recs, size_t *n)
{
	const struct rp_ag *a = &((struct nsr *)priv)->rp->ags[agno];

	if (!a->ino_ok)
		return false;
	*recs = a->chunks;
	*n = a->nchunks;
	return true;
}

void rp_detect_free(struct nsr *r)
{
	if (!r)
		return;
	kvfree(r->v);
	kvfree(r->sr);
	kvfree(r);
}

int rp_detect_early(struct rp *rp,
		    int (*cluster)(void *priv, uint64_t ino, uint64_t fsb,
				   uint8_t *blk),
		    bool (*known)(void *priv, uint64_t ino), void *priv)
{
	struct kvfs_scrub_hooks h = {
		.fn = collect,
		.known = detect_known,
		.cluster = detect_cluster,
	};
	struct kv_bcache *bc;
	struct nsr *r;
	int err;

	r = kvzalloc(sizeof(*r), 0);
	if (!r)
		return -ENOMEM;
	h.priv = r;
	r->o = rp->o;
	r->res = rp->res;
	r->known = known;
	r->known_priv = priv;
	r->cluster = cluster;
	r->sr = kvmalloc(sizeof(*r->sr), 0);
	err = r->sr ? kvfs_sb_read(rp->dev, &rp->early_g) : -ENOMEM;
	/*
	 * Phase 4's cache under the same geometry: what phases 3 and 4 read
	 * (trees, directory blocks) is not read again.  Else a bounded cache
	 * of its own, as the whole check's: each block read about once.
	 */
	rp->share_bc = !err && !memcmp(&rp->early_g, &rp->g, sizeof(rp->g));
	/* under the same geometry: the AGs are phase 3's */
	if (rp->share_bc) {
		r->rp = rp;
		h.chunks = detect_chunks;
	}
	bc = rp->bc;
	if (!err && !rp->share_bc)
		err = kv_bcache_create(rp->dev, rp->early_g.blocksize,
				       64u << 20, &bc);
	if (!err) {
		if (!rp->share_bc)
			kv_bcache_set_private(bc, &rp->early_g);
		err = kvfs_scrub_hooked(bc, &rp->early_g, r->sr, &h);
		if (!rp->share_bc)
			kv_bcache_destroy(bc);
		if (err == -EUCLEAN)
			err = 0;
	}
	/* phase 4's own failure is the phase's; the check's is retried later */
	if (r->cluster_err)
		err = r->cluster_err;
	else if (!err)
		rp->early = r;
	else
		err = 0;
	if (!rp->early)
		rp_detect_free(r);
	return err;
}

const struct kvfs_scrub_result *rp_detect_result(const struct nsr *r)
{
	return r->sr;
}

/* The first detection is the one made early (rp_detect_early()). */
static int detect_taken(struct nsr *r, struct nsr *e)
{
	r->v = e->v;
	r->n = e->n;
	r->cap = e->cap;
	e->v = NULL;
	e->n = e->cap = 0;
	*r->sr = *e->sr;
	return e->err;
}

static int detect(struct nsr *r)
{
	struct kvfs_scrub_hooks h = {
		.fn = collect,
		.progress = detect_progress,
		.known = r->known ? detect_known : NULL,
		.priv = r,
	};
	/* everything written back in place, so that the walk reads it */
	int err = kvfs_writeback(r->mp);

	if (err)
		return err;
	r->n = 0;
	r->err = 0;
	err = kvfs_scrub_hooked(r->mp->bc, &r->mp->g, r->sr, &h);
	if (err == -EUCLEAN)
		err = 0;
	return err ? err : r->err;
}

static void report(struct nsr *r, const struct prob *q, const char *done,
		   bool fixed)
{
	char what[320];
	enum kvfs_repair_phase ph = phase_of(q->kind);

	r->res->found++;
	if (fixed)
		r->res->fixed++;
	else
		r->res->left++;
	snprintf(what, sizeof(what), "%s%s%s", q->what, done ? ": " : "",
		 done ? done : "");
	if (r->o->ops && r->o->ops->problem)
		r->o->ops->problem(r->o->arg, ph, q->ino, KVFS_NULLBLOCK, what,
				   fixed);
}

/* ---- the fixes, each one transaction ---- */

struct tx {
	struct kvfs_trans *tp;
	struct kvfs_inode *ip[2];
	unsigned n;
};

/* A transaction of res with ip[0..n) (referenced) locked and joined. */
static int tx_begin(struct nsr *r, struct tx *t,
		    const struct kvfs_trans_res *res)
{
	int err = kvfs_trans_alloc_res(r->mp, res, 0, &t->tp);
	unsigned i;

	if (err)
		return err;
	if (t->n == 2 && t->ip[0] == t->ip[1])
		t->n = 1;
	if (t->n == 2 && t->ip[0]->i_ino > t->ip[1]->i_ino) {
		struct kvfs_inode *x = t->ip[0];

		t->ip[0] = t->ip[1];
		t->ip[1] = x;
	}
	for (i = 0; i < t->n; i++)
		kvfs_ilock(t->ip[i], KVFS_ILOCK_EXCL);
	for (i = 0; i < t->n && !err; i++)
		err = kvfs_trans_ijoin(t->tp, t->ip[i]);
	if (err) {
		/* the one that failed and those after it are not joined */
		for (unsigned j = i - 1; j < t->n; j++)
			kvfs_iunlock(t->ip[j], KVFS_ILOCK_EXCL);
		kvfs_trans_cancel(t->tp);
	}
	return err;
}

static int tx_end(struct tx *t, int err)
{
	if (err)
		kvfs_trans_cancel(t->tp);
	else
		err = kvfs_trans_commit(t->tp, NULL);
	return err;
}

struct findname {
	uint64_t ino;
	bool found;
	uint8_t len;
	char name[KVFS_NAME_MAX + 1];
};

static int findname_fill(void *priv, const char *name, size_t len, uint64_t ino,
			 unsigned dtype, uint64_t next)
{
	struct findname *f = priv;

	(void)dtype;
	(void)next;
	if (ino != f->ino || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	f->found = true;
	f->len = (uint8_t)len;
	memcpy(f->name, name, len);
	return 1;
}

/* The name of an entry of dp naming ino (readdir walks the data blocks). */
static int name_of(struct kvfs_inode *dp, uint64_t ino, struct prob *q)
{
	struct findname f = { .ino = ino };
	int err;

	if (q->named)
		return 0;
	kvfs_ilock(dp, KVFS_ILOCK_SHARED);
	err = kvfs_dir_readdir(dp, 0, findname_fill, &f);
	kvfs_iunlock(dp, KVFS_ILOCK_SHARED);
	if (err)
		return err;
	if (!f.found)
		return -ENOENT;
	q->named = true;
	q->namelen = f.len;
	memcpy(q->name, f.name, f.len);
	return 0;
}

/* Link count of ip (joined) to want; the unlinked list follows 0. */
static int set_nlink(struct kvfs_trans *tp, struct kvfs_inode *ip,
		     uint32_t want)
{
	if (ip->i_nlink == want)
		return 0;
	if (!ip->i_nlink)
		/* off its list if it is on one (-ENOENT: it was not) */
		return -EAGAIN;
	if (!want) {
		ip->i_nlink = 1;
		return kvfs_droplink(tp, ip);
	}
	ip->i_nlink = want;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	return 0;
}

static int fix_nlink(struct nsr *r, struct kvfs_inode *ip, uint32_t want)
{
	struct tx t = { .ip = { ip }, .n = 1 };
	int err = tx_begin(r, &t, &r->mp->resv.dirop);

	if (err)
		return err;
	err = set_nlink(t.tp, ip, want);
	if (err == -EAGAIN) {
		/* from zero: bumplink takes it off its list if on one */
		err = kvfs_bumplink(t.tp, ip);
		if (err == -ENOENT) {
			ip->i_nlink = 1;
			kvfs_trans_log_inode(t.tp, ip, KVFS_ILOG_CORE);
			err = 0;
		}
		if (!err)
			err = set_nlink(t.tp, ip, want);
	}
	return tx_end(&t, err);
}

/* lost+found: looked up in the root, made if missing. */
static int get_lpf(struct nsr *r)
{
	static const struct kvfs_cred root_cred = { 0 };
	struct kvfs_stat st;
	int err;

	if (r->lpf != KVFS_NULLINO)
		return 0;
	err = kvfs_lookup(r->mp, kvfs_root_ino(r->mp), "lost+found", &st);
	if (err == -ENOENT) {
		err = kvfs_mkdir(r->mp, kvfs_root_ino(r->mp), "lost+found",
				 0700, &root_cred, &st);
		if (!err && r->o->ops && r->o->ops->notice)
			r->o->ops->notice(r->o->arg, "lost+found made");
	}
	if (err)
		return err;
	if (!S_ISDIR(st.mode))
		return -ENOTDIR;
	r->lpf = st.ino;
	return 0;
}

static int fix_disconnected(struct nsr *r, struct kvfs_inode *ip, char *done,
			    size_t donelen)
{
	struct kvfs_inode *lp;
	struct tx t = { .n = 2 };
	char name[32];
	int err = get_lpf(r);

	if (err)
		return err;
	err = kvfs_iget(r->mp, r->lpf, KVFS_IGET_UNTRUSTED, &lp);
	if (err)
		return err;
	t.ip[0] = lp;
	t.ip[1] = ip;
	snprintf(name, sizeof(name), "#%" PRIu64, ip->i_ino);
	err = tx_begin(r, &t, &r->mp->resv.dirop);
	if (!err) {
		if (S_ISDIR(ip->i_mode))
			err = kvfs_bumplink(t.tp, lp);
		if (!err)
			err = kvfs_dir_createname(
				t.tp, lp, name, strlen(name), ip->i_ino,
				kvfs_mode_to_ftype(ip->i_mode));
		if (!err && S_ISDIR(ip->i_mode))
			err = kvfs_dir_set_parent(t.tp, ip, lp->i_ino);
		err = tx_end(&t, err);
	}
	kvfs_iput(lp);
	if (!err)
		snprintf(done, donelen, "moved to lost+found as %s", name);
	return err;
}

/* Break a cycle: the entry naming ip removed from its parent dp. */
static int fix_cycle(struct nsr *r, struct prob *q, struct kvfs_inode *ip)
{
	struct kvfs_inode *dp;
	struct tx t = { .n = 2 };
	int err = kvfs_iget(r->mp, q->dir, KVFS_IGET_UNTRUSTED, &dp);

	if (err)
		return err;
	err = name_of(dp, ip->i_ino, q);
	if (!err) {
		t.ip[0] = dp;
		t.ip[1] = ip;
		err = tx_begin(r, &t, &r->mp->resv.dirop);
		if (!err) {
			err = kvfs_droplink(t.tp, dp);
			if (!err)
				err = kvfs_dir_removename(t.tp, dp, q->name,
							  q->namelen,
							  ip->i_ino);
			err = tx_end(&t, err);
		}
	}
	kvfs_iput(dp);
	return err;
}

/* An entry of q->dir: removed, or its file type set. */
static int fix_entry(struct nsr *r, struct prob *q)
{
	struct kvfs_inode *dp;
	struct tx t = { .n = 1 };
	int err = kvfs_iget(r->mp, q->dir, KVFS_IGET_UNTRUSTED, &dp);

	if (err)
		return err;
	err = name_of(dp, q->ino, q);
	if (!err) {
		t.ip[0] = dp;
		err = tx_begin(r, &t, &r->mp->resv.dirop);
		if (!err) {
			if (q->kind == KVFS_NS_ENT_TYPE)
				err = kvfs_dir_replace(t.tp, dp, q->name,
						       q->namelen, q->ino,
						       (uint8_t)q->want);
			else
				err = kvfs_dir_removename(t.tp, dp, q->name,
							  q->namelen, q->ino);
			err = tx_end(&t, err);
		}
	}
	kvfs_iput(dp);
	return err;
}

static int fix_dotdot(struct nsr *r, struct kvfs_inode *ip, uint64_t parent)
{
	struct tx t = { .ip = { ip }, .n = 1 };
	int err = tx_begin(r, &t, &r->mp->resv.dirop);

	if (err)
		return err;
	return tx_end(&t, kvfs_dir_set_parent(t.tp, ip, parent));
}

static int fix_attr(struct nsr *r, struct kvfs_inode *ip)
{
	struct tx t = { .ip = { ip }, .n = 1 };
	int err = tx_begin(r, &t, &r->mp->resv.itruncate);

	if (err)
		return err;
	err = kvfs_attr_inactive(&t.tp, ip);
	if (err) {
		if (t.tp)
			kvfs_trans_cancel(t.tp);
		return err;
	}
	return kvfs_trans_commit(t.tp, NULL);
}

/* In use with no links, on no list: on its list, then freed by the put. */
static int fix_orphan(struct nsr *r, struct kvfs_inode *ip)
{
	struct tx t = { .ip = { ip }, .n = 1 };
	int err = tx_begin(r, &t, &r->mp->resv.iunlink);

	if (err)
		return err;
	return tx_end(&t, ip->i_nlink ? -EUCLEAN : kvfs_iunlink(t.tp, ip));
}

/* ---- a damaged directory rebuilt ---- */

struct dent {
	uint64_t ino;
	uint8_t ftype, len;
	bool damaged; /* from a block that failed verification */
	char name[KVFS_NAME_MAX];
};

struct rebuild {
	struct dent *e;
	size_t n, cap;
	uint64_t *blk; /* index tree blocks */
	size_t nblk, blkcap;
};

static int rb_entry(void *priv, const char *name, size_t len, uint64_t ino,
		    uint8_t ftype, bool damaged)
{
	struct rebuild *b = priv;
	int err = kvgrow((void **)&b->e, &b->cap, b->n, sizeof(*b->e), 0);

	if (err)
		return err;
	b->e[b->n].ino = ino;
	b->e[b->n].ftype = ftype;
	b->e[b->n].damaged = damaged;
	b->e[b->n].len = (uint8_t)len;
	memcpy(b->e[b->n].name, name, len);
	b->n++;
	return 0;
}

static int rb_blk(uint64_t fsb, unsigned level, void *priv)
{
	struct rebuild *b = priv;
	int err = kvgrow((void **)&b->blk, &b->blkcap, b->nblk, sizeof(*b->blk),
			 0);

	(void)level;
	if (!err)
		b->blk[b->nblk++] = fsb;
	return err;
}

/* The index tree blocks of directory ino that read (block 0 is hbp). */
static int rb_index(struct nsr *r, uint64_t ino, struct kv_buf *hbp,
		    struct rebuild *b)
{
	struct kvfs_btree_walk *w = kvzalloc(sizeof(*w), 0);
	int err = 0;

	if (!w)
		return -ENOMEM;
	w->blk_fn = rb_blk;
	w->priv = b;
	for (int t = 0; t < 2 && !err; t++) {
		struct kvfs_dir_tree_ctx tc = { .hbp = hbp, .free_tree = t };
		struct kvfs_btree_cur cur;

		kvfs_btree_cur_init(&cur,
				    t ? &kvfs_dir_free_tree_ops :
					&kvfs_dir_hash_tree_ops,
				    &r->mp->g, NULL, NULL, ino, &tc);
		err = kvfs_btree_walk_check(&cur, r->mp->bc, w);
		if (err == -EUCLEAN)
			err = 0;
	}
	kvfree(w);
	return err;
}

/* What the directory holds, as stored (everything written back). */
static int rb_read(struct nsr *r, uint64_t ino, struct rebuild *b,
		   uint64_t *parent)
{
	const struct kvfs_geom *g = &r->mp->g;
	uint8_t *dip = kvmalloc(g->inodesize, 0);
	const struct kvfs_extent *x;
	struct kvfs_extent *tx = NULL;
	struct kv_buf *bp;
	bool damaged;
	uint32_t nx;
	int err;

	if (!dip)
		return -ENOMEM;
	err = kv_buf_read(r->mp->bc, kvfs_ino_to_fsb(g, ino), 1,
			  &kvfs_inode_buf_ops, &bp);
	if (err)
		goto out;
	kv_buf_lock(bp);
	memcpy(dip, (uint8_t *)bp->b_addr + kvfs_ino_to_offset(g, ino),
	       g->inodesize);
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	err = kvfs_dir_walk_disk(r->mp->bc, g, ino, dip, parent, rb_entry, b);
	/* nothing readable: no entries kept, ".." from the walk */
	if (err == -EUCLEAN)
		err = 0;
	x = (const void *)(dip + KVFS_DINODE_CORE_SIZE);
	nx = kv_le32_to_cpu(((struct kvfs_dinode *)dip)->nextents);
	/* a large directory: its extents from its extent-map tree */
	if (!err && ((struct kvfs_dinode *)dip)->dformat == KVFS_DFORK_BTREE) {
		err = kvfs_bmbt_read_extents(
			r->mp->bc, g, ino, dip + KVFS_DINODE_CORE_SIZE,
			kvfs_dinode_dfork_size(g, (struct kvfs_dinode *)dip),
			&tx, &nx);
		if (err == -EUCLEAN)
			err = 0;
		else if (!err)
			x = tx;
	}
	/* the index blocks phase 4 claimed: found from the same head */
	if (!err &&
	    (((struct kvfs_dinode *)dip)->dformat == KVFS_DFORK_EXTENTS ||
	     x == tx)) {
		err = kvfs_dir_read_head(r->mp->bc, g, ino, x, nx, &bp,
					 &damaged);
		if (!err) {
			err = rb_index(r, ino, bp, b);
			kv_buf_rele(bp);
		} else if (err == -EUCLEAN || err == -ENODATA) {
			err = 0;
		}
	}
out:
	kvfree(tx);
	kvfree(dip);
	return err;
}

/* Empty dp (short form, ".." parent), its blocks freed. */
static int rb_empty(struct nsr *r, struct kvfs_inode *dp,
		    const struct rebuild *b, uint64_t parent)
{
	struct tx t = { .ip = { dp }, .n = 1 };
	int err = tx_begin(r, &t, &r->mp->resv.itruncate);

	if (err)
		return err;
	err = dp->i_dformat != KVFS_DFORK_INLINE ?
		      kvfs_itruncate_extents(&t.tp, dp, 0) :
		      0;
	for (size_t i = 0; !err && i < b->nblk; i++)
		err = kvfs_dir_free_tree_block(t.tp, dp, b->blk[i]);
	if (!err)
		kvfs_dir_init(t.tp, dp, parent);
	return tx_end(&t, err);
}

static int fix_dir(struct nsr *r, struct kvfs_inode *dp)
{
	struct rebuild b = { 0 };
	uint64_t parent = kvfs_root_ino(r->mp);
	int err = rb_read(r, dp->i_ino, &b, &parent);

	if (!err)
		err = rb_empty(r, dp, &b, parent);
	/*
	 * The entries of the blocks that verified first, then those of the
	 * damaged ones: a name stored twice is the first's, and a bit flipped
	 * in a damaged block's name may have made it an intact entry's (whose
	 * inode went to lost+found instead of the damaged one's).
	 */
	for (size_t k = 0; !err && k < 2 * b.n; k++) {
		struct tx t = { .ip = { dp }, .n = 1 };
		size_t i = k % b.n;

		if (b.e[i].damaged != (k >= b.n))
			continue;

		/*
		 * A salvaged block's entry whose file type is none: the
		 * inode's (one that does not read is left disconnected).
		 */
		if (b.e[i].ftype == KVFS_FT_UNKNOWN ||
		    b.e[i].ftype >= KVFS_FT_MAX) {
			struct kvfs_inode *ip;

			if (kvfs_iget(r->mp, b.e[i].ino, KVFS_IGET_UNTRUSTED,
				      &ip))
				continue;
			b.e[i].ftype = kvfs_mode_to_ftype(ip->i_mode);
			kvfs_iput(ip);
			if (b.e[i].ftype == KVFS_FT_UNKNOWN)
				continue;
		}
		err = tx_begin(r, &t, &r->mp->resv.dirop);
		if (err)
			break;
		err = kvfs_dir_createname(t.tp, dp, b.e[i].name, b.e[i].len,
					  b.e[i].ino, b.e[i].ftype);
		/* a name stored twice: the first kept */
		if (err == -EEXIST) {
			kvfs_trans_cancel(t.tp);
			err = 0;
			continue;
		}
		err = tx_end(&t, err);
	}
	kvfree(b.e);
	kvfree(b.blk);
	return err;
}

static int fix(struct nsr *r, struct prob *q, char *done, size_t donelen)
{
	struct kvfs_inode *ip = NULL;
	int err;

	if (q->kind == KVFS_NS_ENT_FREE || q->kind == KVFS_NS_ENT_ROOT ||
	    q->kind == KVFS_NS_ENT_EXTRA || q->kind == KVFS_NS_ENT_TYPE) {
		err = fix_entry(r, q);
		snprintf(done, donelen, "%s",
			 q->kind == KVFS_NS_ENT_TYPE ? "file type set" :
						       "entry removed");
		return err;
	}
	err = kvfs_iget(r->mp, q->ino, KVFS_IGET_UNTRUSTED, &ip);
	if (err)
		return err;
	switch (q->kind) {
	case KVFS_NS_DOTDOT:
		err = fix_dotdot(r, ip, q->want);
		snprintf(done, donelen, "'..' set to %" PRIu64, q->want);
		break;
	case KVFS_NS_NLINK:
		err = fix_nlink(r, ip, (uint32_t)q->want);
		snprintf(done, donelen, "link count set to %" PRIu64, q->want);
		break;
	case KVFS_NS_CYCLE:
		err = fix_cycle(r, q, ip);
		snprintf(done, donelen, "cycle broken at its entry in %" PRIu64,
			 q->dir);
		break;
	case KVFS_NS_DISCONNECTED:
		err = fix_disconnected(r, ip, done, donelen);
		break;
	case P_ATTR:
		err = fix_attr(r, ip);
		snprintf(done, donelen, "extended attributes removed");
		break;
	case P_ORPHAN:
		err = fix_orphan(r, ip);
		snprintf(done, donelen, "freed");
		break;
	case P_DIRBAD:
		err = S_ISDIR(ip->i_mode) ? fix_dir(r, ip) : -EUCLEAN;
		snprintf(done, donelen, "directory rebuilt");
		break;
	default:
		err = -EOPNOTSUPP;
		break;
	}
	kvfs_iput(ip);
	return err;
}

/* Phase 6 begins (phase 5 was announced by the caller). */
static void connectivity(struct nsr *r)
{
	if (r->connectivity)
		return;
	r->connectivity = true;
	if (r->o->ops && r->o->ops->phase)
		r->o->ops->phase(r->o->arg, KVFS_RP_CONNECTIVITY);
}

static bool allowed(const struct nsr *r, enum cls c)
{
	if (c == C_LEFT || r->disabled[c] || r->o->dry_run)
		return false;
	return !r->o->preen || c == C_COUNTS;
}

/*
 * The first finding this round of the directory finding i says is
 * damaged, whose fix (a rebuild) stands for them all; i itself when none
 * is before it.
 */
static size_t first_of_dir(const struct nsr *r, size_t i)
{
	if (r->v[i].kind != P_DIRBAD)
		return i;
	for (size_t j = 0; j < i; j++)
		if (r->v[j].kind == P_DIRBAD && r->v[j].ino == r->v[i].ino)
			return j;
	return i;
}

/* A finding whose fix failed with ferr: said, as left, and kept. */
static int fix_failed(struct nsr *r, const struct prob *q, int ferr)
{
	char why[96];
	int err;

	err = kvgrow((void **)&r->failed, &r->failed_cap, r->nfailed,
		     sizeof(*r->failed), 0);
	if (err)
		return err;
	r->failed[r->nfailed++] = *q;
	snprintf(why, sizeof(why), "could not be fixed (%s)", strerror(-ferr));
	report(r, q, why, false);
	return 0;
}

/* Whether q was said already, its fix failed. */
static bool said_failed(const struct nsr *r, const struct prob *q)
{
	for (size_t j = 0; j < r->nfailed; j++)
		if (r->failed[j].kind == q->kind &&
		    r->failed[j].ino == q->ino && r->failed[j].dir == q->dir &&
		    !strcmp(r->failed[j].what, q->what))
			return true;
	return false;
}

/*
 * An inode with no links on no list, which the namespace walk finds
 * linked: its link count, set in the same round, is the repair, not
 * freeing it with the names that lead to it (a zeroed nlink).
 */
static bool linked(const struct nsr *r, size_t i)
{
	if (r->v[i].kind != P_ORPHAN)
		return false;
	for (size_t j = 0; j < r->n; j++)
		if (r->v[j].kind == KVFS_NS_NLINK &&
		    r->v[j].ino == r->v[i].ino && r->v[j].want)
			return true;
	return false;
}

/*
 * A dry run's finding i that -y never says, the fix of another finding
 * of the same detection making it go: an orphan's link count (linked()),
 * or an entry's file type that is no type at all, in a directory that is
 * rebuilt (its entries' types then taken from their inodes: fix_dir()).
 */
static bool covered(const struct nsr *r, size_t i)
{
	const struct prob *q = &r->v[i];

	if (linked(r, i))
		return true;
	if (q->kind != KVFS_NS_ENT_TYPE ||
	    (q->have != KVFS_FT_UNKNOWN && q->have < KVFS_FT_MAX))
		return false;
	for (size_t j = 0; j < r->n; j++)
		if (r->v[j].kind == P_DIRBAD && r->v[j].ino == q->dir)
			return true;
	return false;
}

static const char *left_why(const struct nsr *r, const struct prob *q)
{
	if (r->o->dry_run)
		return NULL;
	if (r->o->preen && cls_of(q->kind) != C_COUNTS)
		return "left (preen)";
	return "could not be fixed";
}

int kvfs_repair_namespace(struct kvfs_mount *mp,
			  const struct kvfs_repair_opts *o,
			  struct kvfs_repair_result *res)
{
	return rp_namespace(mp, o, res, NULL, NULL, NULL, NULL);
}

int rp_namespace(struct kvfs_mount *mp, const struct kvfs_repair_opts *o,
		 struct kvfs_repair_result *res, struct kvfs_scrub_result *last,
		 bool (*known)(void *priv, uint64_t ino), void *known_priv,
		 struct nsr *early)
{
	struct nsr r = { .mp = mp,
			 .o = o,
			 .res = res,
			 .lpf = KVFS_NULLINO,
			 .known = known,
			 .known_priv = known_priv };
	bool fresh = false; /* r holds a detection made after the last fix */
	char done[96];
	int err = 0;

	if (o->dry_run != mp->rdonly)
		return -EINVAL;
	r.sr = kvmalloc(sizeof(*r.sr), 0);
	if (!r.sr)
		return -ENOMEM;
	for (unsigned round = 0; round < MAX_ROUNDS; round++) {
		enum cls c = C_N;

		err = early && !round ? detect_taken(&r, early) : detect(&r);
		if (err)
			goto out;
		for (size_t i = 0; i < r.n; i++) {
			enum cls k = cls_of(r.v[i].kind);

			if (allowed(&r, k) && k < c)
				c = k;
		}
		if (c == C_N) {
			fresh = true;
			break;
		}
		if (c > C_ENTRIES)
			connectivity(&r);
		for (size_t i = 0; i < r.n; i++) {
			size_t j;
			int ferr;

			if (cls_of(r.v[i].kind) != c || linked(&r, i))
				continue;
			/*
			 * A directory is rebuilt once, said at its first
			 * finding; its others are fixed by that rebuild, or
			 * left with it.
			 */
			done[0] = '\0';
			j = first_of_dir(&r, i);
			if (j < i) {
				ferr = r.v[j].ferr;
				snprintf(done, sizeof(done),
					 "fixed by directory %" PRIu64
					 "'s rebuild above",
					 r.v[i].ino);
			} else {
				ferr = fix(&r, &r.v[i], done, sizeof(done));
			}
			if (ferr == -ENOMEM || ferr == -EIO) {
				err = ferr;
				goto out;
			}
			r.v[i].ferr = ferr;
			if (!ferr) {
				report(&r, &r.v[i], done, true);
				continue;
			}
			r.disabled[c] = true;
			err = fix_failed(&r, &r.v[i], ferr);
			if (err)
				goto out;
		}
	}
	/*
	 * What is left (all of it in a dry run), phase 5's first: a
	 * detection after the last fix already says it (the whole walk
	 * again would find the same).
	 */
	if (!fresh)
		err = detect(&r);
	for (int pass = 0; !err && pass < 2; pass++) {
		if (pass)
			connectivity(&r);
		for (size_t i = 0; i < r.n; i++)
			if ((phase_of(r.v[i].kind) == KVFS_RP_CONNECTIVITY) ==
				    pass &&
			    !said_failed(&r, &r.v[i]) &&
			    !(o->dry_run && covered(&r, i)))
				report(&r, &r.v[i], left_why(&r, &r.v[i]),
				       false);
	}
	if (!err && last)
		*last = *r.sr;
out:
	kvfree(r.v);
	kvfree(r.failed);
	kvfree(r.sr);
	return err;
}
