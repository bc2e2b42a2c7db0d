// SPDX-License-Identifier: GPL-2.0
/*
 * Crash at every write of an allocate + log + free sequence (the device's
 * KV_FAULT_CRASH at write N, for every N the sequence makes): after
 * recovery the first chunk agrees with its inodes and the header's counts,
 * and every transaction whose force returned before the crash is there,
 * with the generation of a reused inode moved on.
 *
 *   tx1: allocate A, B, C (sizes 1, 2, 3); force
 *   tx2: free B; allocate D (the lowest free inode: B's, generation 2),
 *        size 4; force
 *   tx3: A's size 5 (core only); force
 *   write everything back; unmount cleanly
 */
#include "tests/inode/ino.h"

struct seq {
	uint64_t a, b, c, d;
	bool durable[3]; /* each force returned before the crash */
};

static void set_size(struct kvfs_mount *mp, uint64_t ino, uint64_t size)
{
	struct kvfs_trans *tp = trans(mp);
	struct kvfs_inode *ip;

	CHECK_EQ(kvfs_iget(mp, ino, 0, &ip), 0);
	kvfs_ilock(ip, KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip), 0);
	ip->i_size = size;
	kvfs_trans_log_inode(tp, ip, KVFS_ILOG_CORE);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	kvfs_iput(ip);
}

static void force(struct kvfs_mount *mp, struct seq *s, int i)
{
	CHECK_EQ(kvj_log_force(mp->log, 0), 0);
	s->durable[i] = !kv_dev_crashed(mp->dev);
}

/* Returns the number of device writes the sequence made. */
static uint64_t run(struct kvfs_mount *mp, struct seq *s)
{
	uint64_t w0 = kv_dev_nr_writes(mp->dev);
	struct kvfs_inode *ip[3];
	struct kvfs_trans *tp;

	tp = trans(mp);
	for (int i = 0; i < 3; i++)
		ip[i] = alloc_reg(tp, (uint64_t)i + 1);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	s->a = ip[0]->i_ino;
	s->b = ip[1]->i_ino;
	s->c = ip[2]->i_ino;
	force(mp, s, 0);

	tp = trans(mp);
	kvfs_ilock(ip[1], KVFS_ILOCK_EXCL);
	CHECK_EQ(kvfs_trans_ijoin(tp, ip[1]), 0);
	CHECK_EQ(kvfs_difree(tp, ip[1]), 0);
	kvfs_iput(ip[1]);
	ip[1] = alloc_reg(tp, 4);
	CHECK_EQ(kvfs_trans_commit(tp, NULL), 0);
	s->d = ip[1]->i_ino;
	CHECK_EQ(s->d, s->b);
	CHECK_EQ(ip[1]->i_generation, 2);
	force(mp, s, 1);

	set_size(mp, s->a, 5);
	force(mp, s, 2);
	for (int i = 0; i < 3; i++)
		kvfs_iput(ip[i]);
	CHECK_EQ(kvj_log_drain(mp->log), 0);
	return kv_dev_nr_writes(mp->dev) - w0;
}

/* Size and generation of ino, or -1 for a free inode. */
static int64_t ino_state(struct kvfs_mount *mp, uint64_t ino, uint32_t *gen)
{
	struct kvfs_inode *ip;
	int64_t size;

	CHECK_EQ(kvfs_iget(mp, ino, KVFS_IGET_FREE, &ip), 0);
	size = ip->i_mode ? (int64_t)ip->i_size : -1;
	*gen = ip->i_generation;
	kvfs_iput(ip);
	return size;
}

/*
 * What recovery left is exactly the state after some prefix of the
 * transactions, at least as long as the ones known durable.
 */
static void verify(const struct seq *s)
{
	static const int64_t want[4][3] = {
		{ -1, -1, -1 }, { 1, 2, 3 }, { 1, 4, 3 }, { 5, 4, 3 }
	};
	static const uint32_t bgen[4] = { 0, 1, 2, 2 };
	struct kvfs_mount *mp = mount_fs(false);
	uint64_t mask = check_chunk(mp), ino[3] = { s->a, s->b, s->c };
	int used = 62 - __builtin_popcountll(mask), durable = 0, k;
	int64_t got[3];
	uint32_t gen[3];

	for (k = 0; k < 3; k++)
		if (s->durable[k])
			durable = k + 1;
	for (k = 0; k < 3; k++)
		got[k] = ino_state(mp, ino[k], &gen[k]);
	for (k = 3; k >= 0; k--)
		if (!memcmp(got, want[k], sizeof(got)) &&
		    (k == 0 || gen[1] == bgen[k]))
			break;
	if (k < durable) {
		fprintf(stderr,
			"recovered sizes %lld %lld %lld (B gen %u): no state "
			"at or after transaction %d\n",
			(long long)got[0], (long long)got[1], (long long)got[2],
			gen[1], durable);
		exit(1);
	}
	CHECK_EQ(used, k ? 3 : 0);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	/* and it mounts clean after that */
	mp = mount_fs(false);
	CHECK(mp->ri.was_clean);
	CHECK_EQ(kvfs_mount_close(mp), 0);
}

int main(void)
{
	struct kvfs_mount *mp;
	struct seq s;
	uint64_t total, n;
	unsigned crashed = 0;

	CHECK_EQ(kv_init(NULL), 0);
	set_path("inode-crash");
	make_fs();
	mp = mount_fs(false);
	memset(&s, 0, sizeof(s));
	total = run(mp, &s);
	CHECK(s.durable[0] && s.durable[1] && s.durable[2]);
	CHECK_EQ(kvfs_mount_close(mp), 0);
	verify(&s);
	CHECK(total >= 6);

	for (n = 0; n <= total; n++) {
		struct kv_dev_fault f = { .modes = KV_FAULT_CRASH };

		make_fs();
		mp = mount_fs(false);
		f.crash_after = kv_dev_nr_writes(mp->dev) + n;
		CHECK_EQ(kv_dev_set_fault(mp->dev, &f), 0);
		memset(&s, 0, sizeof(s));
		run(mp, &s);
		crashed += kv_dev_crashed(mp->dev);
		kvfs_mount_shutdown(mp, "crash test");
		kvfs_mount_close(mp);
		verify(&s);
	}
	CHECK(crashed >= total);
	unlink(path);
	CHECK_EQ(kv_fini(), 0);
	printf("inode crash: %llu crash points, ok\n",
	       (unsigned long long)total + 1);
	return 0;
}
