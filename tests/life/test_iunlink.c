// SPDX-License-Identifier: GPL-2.0
/*
 * The unlinked lists and link counts (fs/inode/iunlink.c): 400 inodes dropped
 * to no links land at the head of their bucket (all 64 buckets, several
 * deep); taking half of them off again in a shuffled order (heads,
 * middles, tails) leaves every bucket holding exactly the others, in
 * order, on disk and in the checker's eyes; a busy predecessor is
 * -EAGAIN with nothing changed; -EMLINK, a dropped count of zero; a crash
 * with inodes on the lists leaves an image the checker accepts, and the
 * next mount frees exactly those inodes; an inode with no links on no
 * list, and a listed inode with a link, are each the checker's one
 * finding (the latter also refused by the mount); the former, with data
 * and reached by its number, keeps its data (never freed, only reported).
 */
#include <sys/stat.h>

#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/io/buf_ops.h"
#include "fs/inode/icache.h"
#include "fs/inode/icreate.h"
#include "fs/inode/inode_item.h"
#include "fs/inode/iunlink.h"
#include "fs/trans/trans.h"
#include "tests/life/life.h"
#include "tests/scrub_util.h"

#define N 400

static struct kvfs_inode *ips[N];
static bool listed[N];
static uint64_t ips_ino[N];

static struct kvfs_trans *trans(struct kvfs_mount *mp)
{
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc(mp, 64 << 10, 0, 0, &tp), 0);
	return tp;
}

static struct kvfs_inode *create(struct kvfs_mount *mp)
{
	const struct kvfs_cred cr = { .uid = 1, .gid = 1 };
	struct kvfs_inode *ip;
	struct kvfs_trans *tp;

	CHECK_EQ(kvfs_trans_alloc_res(mp, &mp->resv.create, 0, &tp), 0);
	CHECK_EQ(kvfs_icreate(tp, NULL, S_IFREG | 0644, 0, 1, &cr, &ip), 0);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return ip;
}

/* Change ip's link count in a transaction of its own; the result. */
static int link_op(struct kvfs_mount *mp, struct kvfs_inode *ip, bool drop)
{
	struct kvfs_trans *tp = trans(mp);
	int err;

	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	err = drop ? kvfs_droplink(tp, ip) : kvfs_bumplink(tp, ip);
	if (err)
		kvfs_trans_cancel(tp);
	else
		CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	return err;
}

static int index_of(uint64_t ino)
{
	for (int i = 0; i < N; i++)
		if (ips[i]->i_ino == ino)
			return i;
	return -1;
}

/*
 * Every bucket of AG 0, as the committed inode header and the inodes say:
 * exactly the listed inodes, each on its own bucket, newest first.
 */
static void check_lists(struct kvfs_mount *mp)
{
	const struct kvfs_geom *g = &mp->g;
	int seen = 0, want = 0;
	struct kvfs_agi agi;
	struct kv_buf *bp;

	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, 0, KVFS_AGI_AGBNO), 1,
			     &kvfs_agi_buf_ops, &bp),
		 0);
	kv_buf_lock(bp);
	memcpy(&agi, bp->b_addr, sizeof(agi));
	kv_buf_unlock(bp);
	kv_buf_rele(bp);
	for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++) {
		uint32_t agino = kv_le32_to_cpu(agi.unlinked[b]);
		int last = N;

		while (agino != KVFS_NULLAGINO) {
			int i = index_of(kvfs_agino_to_ino(g, 0, agino));

			CHECK(i >= 0);
			CHECK(listed[i]);
			CHECK_EQ(agino % KVFS_AGI_UNLINKED_BUCKETS, b);
			CHECK_EQ(ips[i]->i_nlink, 0);
			/* pushed at the head: newest (highest index) first */
			CHECK(i < last);
			last = i;
			seen++;
			agino = ips[i]->i_next_unlinked;
		}
	}
	for (int i = 0; i < N; i++) {
		want += listed[i];
		if (!listed[i])
			CHECK_EQ(ips[i]->i_next_unlinked, KVFS_NULLAGINO);
	}
	CHECK_EQ(seen, want);
}

/* The inodes on AG 0's lists after a remount, each with no links. */
static int count_listed(struct kvfs_mount *mp)
{
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_agi agi;
	struct kv_buf *bp;
	int n = 0;

	CHECK_EQ(kv_buf_read(mp->bc, kvfs_agb_to_fsb(g, 0, KVFS_AGI_AGBNO), 1,
			     &kvfs_agi_buf_ops, &bp),
		 0);
	memcpy(&agi, bp->b_addr, sizeof(agi));
	kv_buf_rele(bp);
	for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++) {
		uint32_t agino = kv_le32_to_cpu(agi.unlinked[b]);

		while (agino != KVFS_NULLAGINO) {
			struct kvfs_inode *ip;

			CHECK_EQ(kvfs_iget(mp, kvfs_agino_to_ino(g, 0, agino),
					   0, &ip),
				 0);
			CHECK_EQ(ip->i_nlink, 0);
			agino = ip->i_next_unlinked;
			kvfs_iput(ip);
			n++;
		}
	}
	return n;
}

/* A busy predecessor: -EAGAIN, nothing changed; then it goes. */
static void busy_prev(struct kvfs_mount *mp)
{
	const struct kvfs_geom *g = &mp->g;
	struct kvfs_inode *ip = NULL, *prev = NULL;
	struct kvfs_trans *tp;

	/* an inode whose predecessor (the newer one on its bucket) is listed */
	for (int i = 0; i < N && !prev; i++) {
		if (!listed[i])
			continue;
		for (int j = i + 1; j < N; j++)
			if (listed[j] &&
			    ips[j]->i_next_unlinked ==
				    kvfs_ino_to_agino(g, ips[i]->i_ino)) {
				ip = ips[i];
				prev = ips[j];
				break;
			}
	}
	CHECK(prev != NULL);
	tp = trans(mp);
	/* both inode locks in inode number order (fs/inode/inode.h) */
	if (prev->i_ino < ip->i_ino)
		kvfs_ilock(prev, KVFS_ILOCK_SHARED);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	if (prev->i_ino > ip->i_ino)
		kvfs_ilock(prev, KVFS_ILOCK_SHARED);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_bumplink(tp, ip), -EAGAIN);
	CHECK_EQ(ip->i_nlink, 0);
	kvfs_trans_cancel(tp);
	kvfs_iunlock(prev, KVFS_ILOCK_SHARED);
	check_lists(mp);
	CHECK_EQ(link_op(mp, ip, false), 0);
	listed[index_of(ip->i_ino)] = false;
	check_lists(mp);
}

static void errors(struct kvfs_mount *mp)
{
	struct kvfs_inode *ip = NULL, *linked = NULL;
	struct kvfs_trans *tp;

	for (int i = 0; i < N; i++) {
		if (listed[i] && !ip)
			ip = ips[i];
		if (!listed[i] && !linked)
			linked = ips[i];
	}
	CHECK(ip && linked);
	/* a count of zero cannot drop */
	CHECK_EQ(link_op(mp, ip, true), -EUCLEAN);
	/* the limit */
	tp = trans(mp);
	kvfs_ilock(linked, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, linked), 0);
	linked->i_nlink = KVFS_MAX_LINK;
	CHECK_EQ(kvfs_bumplink(tp, linked), -EMLINK);
	linked->i_nlink = 1;
	kvfs_trans_log_inode(tp, linked, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	/* on the list twice */
	tp = trans(mp);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	CHECK_EQ(kvfs_iunlink(tp, ip), -EEXIST);
	kvfs_trans_cancel(tp);
	check_lists(mp);
}

/* The inode with no links and no list: the checker's one finding. */
static void unlisted_found(void)
{
	static struct kvfs_scrub_result res;
	struct kvfs_mount *mp = mount_fs();
	struct kvfs_inode *ip = create(mp);
	struct kvfs_trans *tp = trans(mp);
	struct kvfs_geom g;
	struct kv_dev *dev;

	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	ip->i_nlink = 0;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	CHECK_EQ(kvfs_scrub_dev(dev, &g, &res), -EUCLEAN);
	CHECK_EQ(res.nfindings, 1);
	CHECK_EQ(res.findings[0].kind, KVFS_SCRUB_UNLINKED);
	kv_dev_close(dev);
}

/*
 * The same damage on a file with data, reached by its number on the next
 * read-write mount (nothing names it for a lookup to find): its last put
 * must not free it.  It keeps its blocks and bytes for fsck.kvfs, one
 * report says why, and the next put reports nothing new (marked sick).
 */
static void unlisted_kept(void)
{
	static char buf[3 * 4096], back[sizeof(buf)];
	struct kvfs_mount *mp = mount_fs();
	struct kvfs_inode *ip = create(mp);
	uint64_t ino = ip->i_ino, nblocks;
	struct kvfs_trans *tp;
	unsigned long reports;
	struct kvfs_stat st;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 7 + 3);
	CHECK_EQ(kvfs_write(mp, ino, buf, sizeof(buf), 0, 0),
		 (ssize_t)sizeof(buf));
	CHECK_EQ(kvfs_release(mp, ino), 0);
	tp = trans(mp);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	ip->i_nlink = 0;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	nblocks = ip->i_nblocks;
	CHECK(nblocks >= 3);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);

	mp = mount_fs();
	reports = kvfs_corrupt_count();
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(kvfs_corrupt_count(), reports + 1);
	CHECK_EQ(kvfs_getattr(mp, ino, &st), 0);
	CHECK_EQ(st.nlink, 0);
	CHECK_EQ(st.size, sizeof(buf));
	CHECK_EQ(kvfs_read(mp, ino, back, sizeof(back), 0),
		 (ssize_t)sizeof(back));
	CHECK(!memcmp(buf, back, sizeof(buf)));
	CHECK_EQ(kvfs_corrupt_count(), reports + 1);
	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	CHECK_EQ(ip->i_nblocks, nblocks);
	kvfs_iput(ip);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

/*
 * A listed inode given a link behind the lists' back: the checker's one
 * finding.  The next mount (the log clean) leaves that AG's lists unread,
 * its one report naming the inode, where it refused the whole mount
 * ("cannot free the unlinked inodes a crash left", with no crash): the
 * AG's unlinks fail with -EUCLEAN, a rename's over one of its files with
 * a whiteout too, before its whiteout is allocated (a dirty cancel shut
 * the log down); new inodes, an O_TMPFILE's too, go to the other AG
 * (AG 0's tmpfile failed, after its allocation); the other AG's orphan,
 * a file still open at the clean close, is freed, and its files come
 * and go.
 */
static void linked_listed_found(void)
{
	static struct kvfs_scrub_result res;
	const struct kvfs_cred cr = { 0 };
	struct kvfs_mount *mp = mount_fs();
	struct kvfs_inode *ip = create(mp), *ip2;
	uint64_t root = kvfs_root_ino(mp), dir, orphan;
	struct kvfs_stat st;
	struct kvfs_trans *tp;
	struct kvfs_geom g;
	struct kv_dev *dev;
	bool created;
	char why[320] = "";

	CHECK_EQ(kvfs_ino_to_agno(&mp->g, ip->i_ino), 0);
	CHECK_EQ(link_op(mp, ip, true), 0);
	tp = trans(mp);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	ip->i_nlink = 1;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
	/* AG 0: a file of the root; AG 1: an open file with no links */
	CHECK_EQ(kvfs_create(mp, root, "a", 0100644, 0, KVFS_CREATE_EXCL, &cr,
			     &st, &created),
		 0);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, st.ino), 0);
	/* with data: its unlink puts it on the list (not freed at once) */
	CHECK_EQ(kvfs_write(mp, st.ino, why, sizeof(why), 0, 0),
		 (ssize_t)sizeof(why));
	CHECK_EQ(kvfs_release(mp, st.ino), 0);
	CHECK_EQ(kvfs_create(mp, root, "a2", 0100644, 0, KVFS_CREATE_EXCL, &cr,
			     &st, &created),
		 0);
	/* new directories go round the AGs */
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "d%d", i);
		CHECK_EQ(kvfs_mkdir(mp, root, name, 040755, &cr, &st), 0);
		dir = st.ino;
		if (kvfs_ino_to_agno(&mp->g, dir) == 1)
			break;
	}
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, dir), 1);
	CHECK_EQ(kvfs_create(mp, dir, "b", 0100644, 0, KVFS_CREATE_EXCL, &cr,
			     &st, &created),
		 0);
	CHECK_EQ(kvfs_tmpfile(mp, dir, 0600, &cr, &st), 0);
	orphan = st.ino;
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, orphan), 1);
	/* a clean close with it open: on AG 1's list past the unmount */
	CHECK_EQ(kvfs_mount_close(mp), 0);
	CHECK_EQ(kv_dev_open(path, KV_DEV_RDONLY, &dev), 0);
	CHECK_EQ(kvfs_sb_read(dev, &g), 0);
	CHECK_EQ(kvfs_scrub_dev(dev, &g, &res), -EUCLEAN);
	CHECK_EQ(res.nfindings, 1);
	CHECK_EQ(res.findings[0].kind, KVFS_SCRUB_UNLINKED);
	kv_dev_close(dev);

	mp = mount_fs();
	CHECK(mp->ri.was_clean);
	CHECK_EQ(kvfs_iunlink_unread(mp, why, sizeof(why)), 1);
	CHECK(strstr(why, "on an unlinked list but linked") != NULL);
	CHECK_EQ(mp->orphans, 1);
	CHECK_EQ(kvfs_iget(mp, orphan, 0, &ip2), -ENOENT);
	CHECK_EQ(kvfs_unlink(mp, root, "a"), -EUCLEAN);
	CHECK(strstr(kvfs_report_last()->msg, "not read at mount") != NULL);
	/* its whiteout allocated first: refused before, not cancelled dirty */
	CHECK_EQ(kvfs_rename(mp, root, "a2", root, "a", KVFS_RENAME_WHITEOUT,
			     &cr),
		 -EUCLEAN);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_unlink(mp, dir, "b"), 0);
	CHECK_EQ(kvfs_create(mp, dir, "c", 0100644, 0, KVFS_CREATE_EXCL, &cr,
			     &st, &created),
		 0);
	CHECK_EQ(kvfs_unlink(mp, dir, "c"), 0);
	/*
	 * New inodes keep out of AG 0: an O_TMPFILE's goes on its list in
	 * the transaction that allocated it, whose cancel would shut the
	 * log down
	 */
	CHECK_EQ(kvfs_tmpfile(mp, root, 0600, &cr, &st), 0);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, st.ino), 1);
	kvfs_inode_close(mp, st.ino);
	CHECK(!kvj_log_is_shutdown(mp->log));
	CHECK_EQ(kvfs_create(mp, root, "e", 0100644, 0, KVFS_CREATE_EXCL, &cr,
			     &st, &created),
		 0);
	CHECK_EQ(kvfs_ino_to_agno(&mp->g, st.ino), 1);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(void)
{
	struct kvfs_mount *mp;
	uint64_t seq = 0;
	int i, removed = 0;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("iunlink");
	make_fs_ags(1);
	mp = mount_fs();
	for (i = 0; i < N; i++)
		ips[i] = create(mp);
	for (i = 0; i < N; i++) {
		CHECK_EQ(link_op(mp, ips[i], true), 0);
		listed[i] = true;
	}
	check_lists(mp);
	/* off again in a shuffled order: heads, middles and tails */
	srand(7);
	while (removed < N / 2) {
		i = rand() % N;
		if (!listed[i])
			continue;
		CHECK_EQ(link_op(mp, ips[i], false), 0);
		CHECK_EQ(ips[i]->i_nlink, 1);
		listed[i] = false;
		removed++;
		if (removed % 20 == 0)
			check_lists(mp);
	}
	check_lists(mp);
	busy_prev(mp);
	errors(mp);

	/* a crash with inodes on the lists: the image is consistent */
	{
		struct kvfs_trans *tp = trans(mp);

		kvfs_ilock(ips[N - 1], KVFS_ILOCK_EXCL);
		CHECK_EQ(kvfs_trans_ijoin(tp, ips[N - 1]), 0);
		kvfs_trans_log_inode(tp, ips[N - 1], KVFS_ILOG_CORE);
		CHECK_EQ(kvfs_trans_commit(tp, &seq), 0);
		CHECK_EQ(kvj_log_force(mp->log, seq), 0);
	}
	kvfs_mount_shutdown(mp, "test: power cut");
	for (i = 0; i < N; i++) {
		ips_ino[i] = ips[i]->i_ino;
		kvfs_iput(ips[i]);
	}
	CHECK_EQ(kvfs_mount_close(mp), -EIO);
	/* the mount frees every inode the crash left on the lists */
	mp = mount_fs();
	CHECK(!mp->ri.was_clean);
	CHECK_EQ(mp->orphans, N - removed - 1);
	CHECK_EQ(count_listed(mp), 0);
	for (i = 0; i < N; i++) {
		struct kvfs_inode *ip;
		int err = kvfs_iget(mp, ips_ino[i], 0, &ip);

		CHECK_EQ(err, listed[i] ? -ENOENT : 0);
		if (!err)
			kvfs_iput(ip);
	}
	CHECK_EQ(kvfs_mount_close(mp), 0);
	scrub_image_clean_unnamed(path);

	make_fs_ags(1);
	unlisted_found();
	make_fs_ags(1);
	unlisted_kept();
	make_fs_ags(2);
	linked_listed_found();
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("iunlink: %d inodes through the lists, %d taken off in a "
	       "shuffled order\n",
	       N, removed + 1);
	return 0;
}
