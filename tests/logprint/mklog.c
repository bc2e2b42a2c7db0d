// SPDX-License-Identifier: GPL-2.0
/*
 * Helper of the kvfs-logprint test: writes known logs on kvfs images with
 * the real mkfs, journal and log I/O code, and recovers them.
 *
 *   mklog dirty IMAGE    mkfs, then three forced checkpoints, then a crash
 *                        (no unmount record):
 *                          1: 4 test items, intents A and B
 *                          2: 4 test items, the done of A
 *                          3: a 100000-byte incompressible test item (two
 *                             records, stored uncompressed) and 3 more
 *   mklog clean IMAGE    mkfs, two forced checkpoints, clean close
 *   mklog buf IMAGE      mkfs, one forced checkpoint holding a filesystem
 *                        buffer item (AG 0's header, bytes 0-127 and
 *                        512-767 logged) and a test item, then a crash;
 *                        prints "bufblk BLOCK"
 *   mklog icreate IMAGE  mkfs, then files created through the filesystem
 *                        until one takes a new inode chunk, a sync, a
 *                        power cut: the log holds the chunk's creation
 *                        item; prints "ichunk AGNO AGBNO"
 *   mklog badulen IMAGE  mkfs, then a log of one hand-built checkpoint whose
 *                        commit record (crcs right) claims 3 GiB
 *                        uncompressed; prints "commit CYCLE/BLOCK"
 *   mklog recover IMAGE  recover the log (finishing intent B), print what
 *                        was replayed, close cleanly; exit 3 when
 *                        recovery fails
 *
 * A test item's delta is "LOGPRINT c<checkpoint> i<item>" padded with
 * letters to 48 bytes.  dirty and clean print the journal's own view:
 *   head CYCLE/BLOCK
 *   checkpoints N
 *   items N
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/io/log_io.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "fs/kvfs.h"
#include "fs/mount.h"
#include "journal/journal.h"
#include "tests/check.h"
#include "tests/journal/mkrec.h"

#define TI_TYPE (KVJ_ITEM_CLIENT + 0x100)
#define TI_LEN 48
#define TI_BIG 100000
#define TI_SUBTYPE 7
#define NR_TI 4

struct ti {
	struct kvj_item item;
	uint32_t len;
	uint8_t *data;
};

static struct kv_dev *dev;
static struct kvfs_geom geom;
static struct kvfs_log_io lio;
static struct kvj_log *log;
static struct ti items[NR_TI + 1];
static unsigned nr_ckpt, nr_items;
static unsigned replayed, finished;

static uint32_t ti_size(struct kvj_item *lip, bool fresh)
{
	(void)fresh;
	return ((struct ti *)lip)->len;
}

static uint32_t ti_format(struct kvj_item *lip, void *buf, bool fresh)
{
	struct ti *t = (struct ti *)lip;

	(void)fresh;
	memcpy(buf, t->data, t->len);
	return t->len;
}

static void ti_release(struct kvj_item *lip, bool aborted)
{
	(void)lip;
	(void)aborted;
}

/* Nothing to write back: the deltas only exist to be printed. */
static int ti_push(struct kvj_item *lip, kvj_lsn_t lsn)
{
	(void)lsn;
	return kvj_item_pinned(lip) ? KVJ_PUSH_PINNED : KVJ_PUSH_SUCCESS;
}

static const struct kvj_item_ops ti_ops = {
	.name = "logprint_test",
	.type = TI_TYPE,
	.size = ti_size,
	.format = ti_format,
	.release = ti_release,
	.push = ti_push,
};

static int ti_replay(void *priv, const void *delta, uint32_t len, kvj_lsn_t lsn)
{
	(void)priv;
	(void)lsn;
	CHECK(len == TI_LEN || len == TI_BIG);
	if (len == TI_LEN)
		CHECK(memcmp(delta, "LOGPRINT c", 10) == 0);
	replayed++;
	return 0;
}

static int op_recover(void *priv, struct kvj_log *l, uint64_t id,
		      const void *data, uint32_t len)
{
	struct kvj_trans *tp;

	(void)priv;
	CHECK(len == 4 && memcmp(data, "op-B", 4) == 0);
	CHECK(kvj_trans_alloc(l, 4096, 0, &tp) == 0);
	CHECK(kvj_intent_done_id(tp, id) == 0);
	finished++;
	return kvj_trans_commit(tp, NULL);
}

static void open_image(const char *path, bool make)
{
	struct kvfs_geom g;

	if (make) {
		struct kvfs_mkfs_opts o = {
			.target = path,
			.size = 64ull << 20,
			.force = true,
		};

		if (kvfs_mkfs(&o, &g)) {
			fprintf(stderr, "mklog: mkfs %s: %s\n", path, o.err);
			exit(1);
		}
	}
	CHECK(kv_dev_open(path, 0, &dev) == 0);
	CHECK(kvfs_sb_read(dev, &geom) == 0);
	kvfs_log_io_init(&lio, dev, &geom);
}

static int open_log(void)
{
	static const struct kvj_recover_ops rops = {
		.type = TI_TYPE,
		.replay = ti_replay,
	};
	static const struct kvj_intent_ops iops = {
		.subtype = TI_SUBTYPE,
		.recover = op_recover,
	};
	struct kvj_log_params p = {
		.io = &kvfs_log_io_ops,
		.io_priv = &lio,
		.log_bytes = lio.len,
		.recover = &rops,
		.nr_recover = 1,
		.intents = &iops,
		.nr_intents = 1,
		.no_threads = true,
	};
	unsigned i;
	int err = kvj_log_open(&p, &log);

	if (err)
		return err;
	for (i = 0; i <= NR_TI; i++)
		kvj_item_init(&items[i].item, log, &ti_ops);
	return 0;
}

static void set_delta(struct ti *t, unsigned c, unsigned i)
{
	unsigned k;

	t->len = TI_LEN;
	t->data = realloc(t->data, TI_LEN);
	CHECK(t->data);
	k = snprintf((char *)t->data, TI_LEN, "LOGPRINT c%u i%u", c, i);
	for (; k < TI_LEN; k++)
		t->data[k] = 'a' + k % 26;
}

/* One checkpoint: n test items (item NR_TI, if big, is the big one). */
static void checkpoint(unsigned n, bool big, struct kvj_intent **ia,
		       struct kvj_intent **ib, struct kvj_intent *done)
{
	struct kvj_trans *tp;
	uint64_t seq;
	unsigned i;

	nr_ckpt++;
	CHECK(kvj_trans_alloc(log, 256 * 1024, 0, &tp) == 0);
	for (i = 0; i < n; i++) {
		set_delta(&items[i], nr_ckpt, i);
		kvj_trans_join(tp, &items[i].item);
		kvj_trans_log(tp, &items[i].item);
		nr_items++;
	}
	if (big) {
		struct ti *t = &items[NR_TI];

		t->len = TI_BIG;
		t->data = realloc(t->data, TI_BIG);
		CHECK(t->data);
		srandom(42);
		for (i = 0; i < TI_BIG; i++)
			t->data[i] = (uint8_t)random();
		kvj_trans_join(tp, &t->item);
		kvj_trans_log(tp, &t->item);
		nr_items++;
	}
	if (ia) {
		CHECK(kvj_intent_log(tp, TI_SUBTYPE, "op-A", 4, ia) == 0);
		CHECK(kvj_intent_log(tp, TI_SUBTYPE, "op-B", 4, ib) == 0);
		nr_items += 2;
	}
	if (done) {
		CHECK(kvj_intent_done(tp, done) == 0);
		nr_items++;
	}
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	CHECK(kvj_log_force(log, seq) == 0);
}

static void print_view(void)
{
	struct kvj_log_stats st;

	kvj_log_get_stats(log, &st);
	CHECK(st.checkpoints == nr_ckpt);
	printf("head %u/%u\n", KVJ_LSN_CYCLE(st.head_lsn),
	       KVJ_LSN_BLOCK(st.head_lsn));
	printf("checkpoints %u\nitems %u\n", nr_ckpt, nr_items);
}

/* A buffer item of the filesystem's own code, then a crash. */
static void buf_checkpoint(void)
{
	struct kvfs_bli_log *bl;
	struct kv_bcache *bc;
	struct kvj_trans *tp;
	struct kv_buf *bp;
	uint64_t seq, blk = kvfs_agb_to_fsb(&geom, 0, KVFS_AGF_AGBNO);

	CHECK(kv_bcache_create(dev, geom.blocksize, 0, &bc) == 0);
	kv_bcache_set_private(bc, &geom);
	CHECK(kvfs_bli_log_create(log, bc, &bl) == 0);
	nr_ckpt++;
	CHECK(kvj_trans_alloc(log, 64 * 1024, 0, &tp) == 0);
	CHECK(kvfs_trans_read_buf(tp, bl, blk, 1, &kvfs_agf_buf_ops, &bp) == 0);
	kvfs_trans_log_buf(tp, bp, 0, 127);
	kvfs_trans_log_buf(tp, bp, 600, 700);
	set_delta(&items[0], nr_ckpt, 0);
	kvj_trans_join(tp, &items[0].item);
	kvj_trans_log(tp, &items[0].item);
	nr_items += 2;
	CHECK(kvj_trans_commit(tp, &seq) == 0);
	CHECK(kvj_log_force(log, seq) == 0);
	printf("bufblk %" PRIu64 "\n", blk);
	print_view();
	kvj_log_shutdown(log, "test crash");
	CHECK(kvj_log_close(log) == 0);
	kvfs_bli_log_destroy(bl);
	kv_bcache_destroy(bc);
}

/* A checkpoint no writer makes: more uncompressed than the log holds. */
static void badulen(void)
{
	static uint8_t buf[64 * 1024];
	uint8_t junk[600];
	kvj_lsn_t at;

	memset(junk, 0x5a, sizeof(junk));
	at = mkrec_ckpt(buf, sizeof(buf), junk, sizeof(junk), KVJ_COMP_ZSTD,
			3ull << 30, 1);
	CHECK(at);
	CHECK(kvfs_log_io_ops.write(&lio, buf, sizeof(buf), 0) == 0);
	CHECK(kvfs_log_io_ops.flush(&lio) == 0);
	printf("commit %u/%u\n", KVJ_LSN_CYCLE(at), KVJ_LSN_BLOCK(at));
}

/* Create files until one lands in a new chunk; sync; cut the power. */
static void icreate_log(const char *path)
{
	struct kvfs_mkfs_opts o = { .target = path,
				    .size = 64ull << 20,
				    .force = true };
	static const struct kvfs_cred cr = { 0 };
	struct kvfs_open_opts oo = { 0 };
	struct kvfs_open_info info;
	struct kvfs_mount *mp;
	struct kvfs_stat st;
	struct kvfs_geom g;
	uint64_t first = 0;
	char name[32];
	bool created;

	CHECK(kvfs_mkfs(&o, &g) == 0);
	CHECK(kvfs_open(path, &oo, &mp, &info) == 0);
	for (unsigned i = 0; i < 2 * KVFS_INODES_PER_CHUNK; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		CHECK(kvfs_create(mp, kvfs_root_ino(mp), name, S_IFREG | 0644,
				  0, KVFS_CREATE_EXCL, &cr, &st,
				  &created) == 0);
		if (!i)
			first = st.ino & ~(uint64_t)(KVFS_INODES_PER_CHUNK - 1);
		if ((st.ino & ~(uint64_t)(KVFS_INODES_PER_CHUNK - 1)) != first)
			break;
	}
	CHECK(kvfs_sync(mp) == 0);
	printf("ichunk %u %u\n", kvfs_ino_to_agno(&g, st.ino),
	       kvfs_agino_to_agbno(&g, kvfs_ino_to_agino(&g, st.ino)) /
		       g.ialloc_blocks * g.ialloc_blocks);
	kv_dev_power_fail(mp->dev);
	kvfs_mount_shutdown(mp, "test: power cut");
	kvfs_close(mp);
}

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

int main(int argc, char **argv)
{
	struct kvj_intent *ia, *ib;
	unsigned i;

	if (argc != 3) {
		fprintf(stderr,
			"usage: mklog dirty|clean|buf|icreate|badulen|recover "
			"IMAGE\n");
		return 2;
	}
	CHECK(kv_init(NULL) == 0);
	kvj_report_set_sink(print_jreport, NULL);
	if (!strcmp(argv[1], "dirty")) {
		open_image(argv[2], true);
		CHECK(open_log() == 0);
		checkpoint(NR_TI, false, &ia, &ib, NULL);
		checkpoint(NR_TI, false, NULL, NULL, ia);
		checkpoint(NR_TI - 1, true, NULL, NULL, NULL);
		print_view();
		kvj_log_shutdown(log, "test crash");
		CHECK(kvj_log_close(log) == 0);
	} else if (!strcmp(argv[1], "clean")) {
		open_image(argv[2], true);
		CHECK(open_log() == 0);
		checkpoint(NR_TI, false, NULL, NULL, NULL);
		checkpoint(2, false, NULL, NULL, NULL);
		print_view();
		CHECK(kvj_log_close(log) == 0);
	} else if (!strcmp(argv[1], "buf")) {
		open_image(argv[2], true);
		CHECK(open_log() == 0);
		buf_checkpoint();
	} else if (!strcmp(argv[1], "icreate")) {
		icreate_log(argv[2]);
	} else if (!strcmp(argv[1], "badulen")) {
		open_image(argv[2], true);
		badulen();
	} else if (!strcmp(argv[1], "recover")) {
		struct kvj_recovery_info ri;
		int err;

		open_image(argv[2], false);
		err = open_log();
		if (err) {
			printf("recovery failed: %s\n", strerror(-err));
			kv_dev_close(dev);
			kv_fini();
			return 3;
		}
		kvj_log_recovery_info(log, &ri);
		CHECK(ri.items_replayed >= replayed);
		printf("replayed %u checkpoints %u items torn %d intents finished %u\n",
		       ri.checkpoints_replayed, ri.items_replayed,
		       (int)ri.torn_tail_discarded, finished);
		CHECK(kvj_log_close(log) == 0);
	} else {
		fprintf(stderr, "mklog: unknown mode %s\n", argv[1]);
		return 2;
	}
	kv_dev_close(dev);
	for (i = 0; i <= NR_TI; i++)
		free(items[i].data);
	kv_fini();
	return 0;
}
