// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-journal-bench: the journal's commit path under many committers.
 *
 * Makes a kvfs image with the mkfs code in a temporary directory (or takes
 * --image), opens the journal on the superblock's log region (fs/io/log_io.h)
 * and picks --buffers blocks out of the free space of the highest AG that
 * has a large enough free extent.  Those blocks become metadata buffers of
 * a bench type (common block header, crc32c verified on read, stamped on
 * write-back) in the buffer cache.  N threads then run transactions: get
 * the buffers through the filesystem's buffer log item (fs/io/buf_item.h:
 * cache lookup, lock in block order, join), change 64-byte ranges, log
 * them, commit; every --force-every transactions a thread forces the log
 * up to its commit (--fsync: after every transaction).
 *
 * Locks: the bench owns none.  Buffer locks (fs/io/buf.h) are taken by the
 * workers in ascending block order, before any journal lock; the journal's
 * AIL pusher only trylocks them.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/io/buf.h"
#include "fs/io/buf_item.h"
#include "fs/io/buf_ops.h"
#include "fs/io/dev.h"
#include "fs/io/log_io.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "journal/journal.h"
#include "tools/cli.h"
#include "tools/report.h"

#define PROG "kvfs-journal-bench"
#define JB_MAGIC KVFS_MAGIC('K', 'V', 'J', 'B')
#define JB_RANGE 64u
#define JB_MAX_ITEMS 16
#define JB_MAX_RUNS 16

/* ---- options ---- */
static unsigned opt_threads[JB_MAX_RUNS] = { 2 };
static unsigned opt_nthreads = 1;
static double opt_seconds = 5;
static unsigned opt_buffers = 1024;
static unsigned opt_items = 4;
static unsigned opt_ranges = 1;
/*
 * A force checkpoints every buffer relogged since the last one with its
 * whole dirty region (delayed logging), so the force rate, not the commit
 * path, sets the throughput when forces are frequent: the default is a
 * periodic force (tens a second per thread); --fsync is the force-bound
 * case.
 */
static unsigned opt_force_every = 10000;
static bool opt_single, opt_compare, opt_fsync, opt_csv, opt_no_compress;
/* each thread changes only its own share of the buffers (AG-sharded) */
static bool opt_private;
static const char *opt_image;
static uint64_t opt_size = 4ull << 30;
static uint64_t opt_logsize;

/* ---- the bench blocks ---- */
struct jb_buf {
	struct kv_buf *bp; /* held for the bench's life: stays cached */
	uint64_t blkno;
};

static struct kvfs_geom geom;
static struct kv_dev *dev;
static struct kv_bcache *bc;
static struct kvfs_log_io lio;
static struct jb_buf *blis;
static uint64_t first_blk;
static atomic_bool stop;

static int jb_verify_read(struct kv_buf *bp)
{
	return kvfs_blkhdr_verify(bp->b_addr, bp->b_len, JB_MAGIC, bp->b_blkno,
				  0, geom.uuid, "journal bench block");
}

static int jb_verify_write(struct kv_buf *bp)
{
	kvfs_blkhdr_stamp(bp->b_addr, bp->b_len, bp->b_lsn);
	return 0;
}

static const struct kv_buf_ops jb_buf_ops = {
	.name = "journal_bench",
	.verify_read = jb_verify_read,
	.verify_write = jb_verify_write,
};

/* ---- workers ---- */
/*
 * Workers live in one array and count every transaction: 128 bytes each,
 * so that two workers' counters never share a cache line.
 */
struct worker {
	pthread_t th;
	unsigned id;
	struct kvj_log *log;
	struct kvfs_bli_log *bl;
	uint64_t tx, forces;
	unsigned lo, span; /* the buffers it picks from */
	double cpu_secs;
	int err;
	const char *what;
	char pad[48];
};
_Static_assert(sizeof(struct worker) == 128, "worker: two cache lines");

static double thread_cpu_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double proc_cpu_secs(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static inline uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* opt_items distinct buffer indices in ascending order (the lock order) */
static void pick_buffers(uint64_t *rng, unsigned lo, unsigned span,
			 unsigned *idx)
{
	unsigned i, j, n = 0;

	while (n < opt_items) {
		unsigned v = lo + (unsigned)(xorshift(rng) % span);

		for (i = 0; i < n && idx[i] < v; i++)
			;
		if (i < n && idx[i] == v)
			continue;
		for (j = n; j > i; j--)
			idx[j] = idx[j - 1];
		idx[i] = v;
		n++;
	}
}

/*
 * Change one 64-byte range past the header: eight words as a metadata
 * record would hold (counters, owners), so the deltas compress like
 * metadata rather than like noise.
 */
static void change_range(struct kvj_trans *tp, struct kv_buf *bp, uint64_t *rng,
			 unsigned id, uint64_t tx)
{
	unsigned nr = (unsigned)(bp->b_len / JB_RANGE) - 1;
	unsigned r = 1 + (unsigned)(xorshift(rng) % nr);
	uint64_t *w = (uint64_t *)((uint8_t *)bp->b_addr + r * JB_RANGE);
	unsigned i;

	for (i = 0; i < JB_RANGE / 8; i++)
		w[i] = tx << 8 | (uint64_t)id << 4 | i;
	kvfs_trans_log_buf(tp, bp, r * JB_RANGE, (r + 1) * JB_RANGE - 1);
}

/* The most one commit charges: every item's whole block, plus headers. */
static uint32_t trans_res(void)
{
	uint32_t len = sizeof(struct kvfs_buf_log_hdr) +
		       KVFS_BLI_MAP_WORDS * sizeof(kv_le64) + geom.blocksize;

	return opt_items * (len + len / 64 + 64);
}

/* Each buffer is found through the cache, as a filesystem operation does. */
static int one_trans(struct worker *w, uint64_t *rng, uint64_t *seqp)
{
	unsigned idx[JB_MAX_ITEMS], i, r;
	struct kvj_trans *tp;
	int err;

	pick_buffers(rng, w->lo, w->span, idx);
	err = kvj_trans_alloc(w->log, trans_res(), 0, &tp);
	if (err) {
		w->what = "kvj_trans_alloc";
		return err;
	}
	for (i = 0; i < opt_items; i++) {
		struct kv_buf *bp;

		err = kvfs_trans_read_buf(tp, w->bl, blis[idx[i]].blkno, 1,
					  &jb_buf_ops, &bp);
		if (err) {
			kvj_trans_cancel(tp);
			w->what = "kvfs_trans_read_buf";
			return err;
		}
		for (r = 0; r < opt_ranges; r++)
			change_range(tp, bp, rng, w->id, w->tx);
	}
	err = kvj_trans_commit(tp, seqp);
	if (err)
		w->what = "kvj_trans_commit";
	return err;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (w->id + 1), seq;
	double cpu0 = thread_cpu_secs();
	int err = 0;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		err = one_trans(w, &rng, &seq);
		if (err)
			break;
		w->tx++;
		if (opt_fsync ||
		    (opt_force_every && w->tx % opt_force_every == 0)) {
			err = kvj_log_force(w->log, seq);
			if (err) {
				w->what = "kvj_log_force";
				break;
			}
			w->forces++;
		}
	}
	w->err = err;
	w->cpu_secs = thread_cpu_secs() - cpu0;
	if (err)
		atomic_store(&stop, true);
	return NULL;
}

/* ---- setup ---- */
static int kv_err(const char *what, int err)
{
	fprintf(stderr, PROG ": %s: %s\n", what, strerror(-err));
	return err;
}

/*
 * The last opt_buffers blocks of a free extent, searched from the highest
 * AG down (leaf-level free-space trees only, as mkfs leaves them).
 */
static int find_free_blocks(void)
{
	uint32_t agno;
	int err;

	for (agno = geom.agcount; agno-- > 0;) {
		struct kvfs_agf_info agi;
		struct kv_buf *bp;
		unsigned i, n;

		err = kv_buf_read(bc,
				  kvfs_agb_to_fsb(&geom, agno, KVFS_AGF_AGBNO),
				  1, &kvfs_agf_buf_ops, &bp);
		if (err)
			return kv_err("read AG header", err);
		err = kvfs_agf_from_disk(&geom, agno, bp->b_addr, &agi);
		kv_buf_rele(bp);
		if (err)
			return kv_err("decode AG header", err);
		if (agi.bno_level != 0)
			continue;
		err = kv_buf_read(bc,
				  kvfs_agb_to_fsb(&geom, agno, agi.bno_root), 1,
				  &kvfs_bnobt_buf_ops, &bp);
		if (err)
			return kv_err("read free-space tree", err);
		n = kv_le16_to_cpu(
			((struct kvfs_btree_block *)bp->b_addr)->numrecs);
		for (i = n; i-- > 0;) {
			const struct kvfs_alloc_rec *rec =
				kvfs_btree_rec(bp->b_addr, &kvfs_bnobt_ops, i);
			uint32_t start = kv_le32_to_cpu(rec->startblock);
			uint32_t len = kv_le32_to_cpu(rec->blockcount);

			if (len >= opt_buffers) {
				first_blk = kvfs_agb_to_fsb(
					&geom, agno, start + len - opt_buffers);
				kv_buf_rele(bp);
				return 0;
			}
		}
		kv_buf_rele(bp);
	}
	fprintf(stderr, PROG ": no free extent of %u blocks in any AG\n",
		opt_buffers);
	return -ENOSPC;
}

/* Initialise the bench blocks in place, write them and keep them held. */
static int setup_buffers(void)
{
	unsigned i;
	int err;

	blis = calloc(opt_buffers, sizeof(*blis));
	if (!blis)
		return kv_err("bench buffers", -ENOMEM);
	for (i = 0; i < opt_buffers; i++) {
		struct jb_buf *b = &blis[i];

		b->blkno = first_blk + i;
		err = kv_buf_get(bc, b->blkno, 1, &jb_buf_ops, &b->bp);
		if (err)
			return kv_err("kv_buf_get", err);
		kv_buf_lock(b->bp);
		memset(b->bp->b_addr, 0, b->bp->b_len);
		kvfs_blkhdr_init(b->bp->b_addr, JB_MAGIC, b->blkno, 0,
				 geom.uuid);
		b->bp->b_lsn = 0;
		kv_buf_mark_dirty(b->bp);
		err = kv_buf_write(b->bp);
		kv_buf_unlock(b->bp);
		if (err)
			return kv_err("write bench block", err);
	}
	err = kv_dev_flush(dev);
	return err ? kv_err("flush", err) : 0;
}

static void free_buffers(void)
{
	unsigned i;

	if (!blis)
		return;
	for (i = 0; i < opt_buffers; i++)
		if (blis[i].bp)
			kv_buf_rele(blis[i].bp);
	free(blis);
	blis = NULL;
}

/* ---- one run ---- */
struct result {
	const char *mode;
	unsigned threads;
	double secs, tx_s, deltas_s, ckpt_s, bytes_per_delta, zratio;
	double ail_pushed_s, grant_waits_s;
	double worker_cpu, proc_cpu;
	uint64_t tx, deltas, relogs, forces, force_writes, grant_waits;
	uint64_t ail_pushed, cil_contended, pcp_acquired, pcp_contended;
	uint64_t buf_contended;
	uint64_t highorder, failfast, vmap_fallbacks;
};

static void lock_class(const struct kv_stats *st, const char *name,
		       uint64_t *acq, uint64_t *cont)
{
	unsigned i;

	*acq = *cont = 0;
	for (i = 0; i < st->nr_lock_classes; i++) {
		if (strcmp(st->lock[i].name, name) == 0) {
			*acq = st->lock[i].acquired;
			*cont = st->lock[i].contended;
		}
	}
}

static int run(bool single, unsigned nthreads, struct result *res)
{
	struct kvj_log_params p = {
		.io = &kvfs_log_io_ops,
		.io_priv = &lio,
		.log_bytes = lio.len,
		.single_cil = single,
		.no_compress = opt_no_compress,
		/* never replay an interrupted run into a user's image */
		.no_recovery = true,
	};
	struct kvj_log_stats s0, s1, s2;
	struct kv_stats k0, k1;
	struct worker *w;
	struct kvj_log *log;
	struct kvfs_bli_log *bl;
	uint64_t a0, c0, a1, c1, b0, b1, x;
	double t0, t1, cpu0;
	unsigned i, started;
	int err, err2;

	memset(res, 0, sizeof(*res));

	err = kvj_log_open(&p, &log);
	if (err == -EUCLEAN) {
		fprintf(stderr, PROG ": the log is dirty (an interrupted "
				     "run?): make a fresh image\n");
		return err;
	}
	if (err)
		return kv_err("kvj_log_open", err);
	err = kvfs_bli_log_create(log, bc, &bl);
	if (err) {
		kvj_log_close(log);
		return kv_err("kvfs_bli_log_create", err);
	}
	w = calloc(nthreads, sizeof(*w));
	if (!w) {
		kvj_log_close(log);
		kvfs_bli_log_destroy(bl);
		return kv_err("workers", -ENOMEM);
	}
	atomic_store(&stop, false);
	kvj_log_get_stats(log, &s0);
	kv_stats(&k0);
	cpu0 = proc_cpu_secs();
	t0 = now_secs();
	for (started = 0; started < nthreads; started++) {
		w[started].id = started;
		w[started].lo =
			opt_private ? started * (opt_buffers / nthreads) : 0;
		w[started].span =
			opt_private ? opt_buffers / nthreads : opt_buffers;
		w[started].log = log;
		w[started].bl = bl;
		if (pthread_create(&w[started].th, NULL, work, &w[started])) {
			fprintf(stderr, PROG ": pthread_create failed\n");
			atomic_store(&stop, true);
			err = -EAGAIN;
			break;
		}
	}
	for (i = 0; i < opt_seconds * 100 && !atomic_load(&stop); i++)
		usleep(10 * 1000);
	atomic_store(&stop, true);
	for (i = 0; i < started; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].err && !err) {
			fprintf(stderr, PROG ": thread %u: %s: %s\n", i,
				w[i].what, strerror(-w[i].err));
			err = w[i].err;
		}
	}
	t1 = now_secs();
	kvj_log_get_stats(log, &s1);
	kv_stats(&k1);
	/* what the commits formatted, written out: bytes per delta */
	err2 = kvj_log_force(log, 0);
	if (err2 && !err)
		err = kv_err("kvj_log_force", err2);
	kvj_log_get_stats(log, &s2);

	res->mode = opt_fsync ? (single ? "fsync-single" : "fsync-percpu") :
				(single ? "single" : "percpu");
	res->threads = nthreads;
	res->secs = t1 - t0;
	res->proc_cpu = proc_cpu_secs() - cpu0;
	for (i = 0; i < started; i++) {
		res->worker_cpu += w[i].cpu_secs;
		res->forces += w[i].forces;
	}
	res->tx = s1.commits - s0.commits;
	res->deltas = s1.deltas - s0.deltas;
	res->relogs = s1.relogs - s0.relogs;
	res->tx_s = res->tx / res->secs;
	res->deltas_s = res->deltas / res->secs;
	res->ckpt_s = (s1.checkpoints - s0.checkpoints) / res->secs;
	x = s2.deltas - s0.deltas;
	res->bytes_per_delta =
		x ? (double)(s2.log_bytes_written - s0.log_bytes_written) / x :
		    0;
	x = s2.stream_len - s0.stream_len;
	res->zratio = x ? (double)(s2.stream_ulen - s0.stream_ulen) / x : 0;
	res->force_writes = s1.force_writes - s0.force_writes;
	res->grant_waits = s1.grant_waits - s0.grant_waits;
	res->ail_pushed = s1.ail_pushed - s0.ail_pushed;
	res->ail_pushed_s = res->ail_pushed / res->secs;
	res->grant_waits_s = res->grant_waits / res->secs;
	res->cil_contended = s1.cil_lock_contended - s0.cil_lock_contended;
	lock_class(&k0, "cil_pcp", &a0, &c0);
	lock_class(&k1, "cil_pcp", &a1, &c1);
	res->pcp_acquired = a1 - a0;
	res->pcp_contended = c1 - c0;
	lock_class(&k0, "kvfs_buf", &a0, &b0);
	lock_class(&k1, "kvfs_buf", &a1, &b1);
	res->buf_contended = b1 - b0;
	res->highorder = k1.highorder_attempts - k0.highorder_attempts;
	res->failfast = k1.highorder_failfast - k0.highorder_failfast;
	res->vmap_fallbacks = k1.vmap_fallbacks - k0.vmap_fallbacks;
	free(w);

	err2 = kvj_log_close(log);
	if (err2 && !err)
		err = kv_err("kvj_log_close", err2);
	kvfs_bli_log_destroy(bl);
	return err;
}

static void print_result(const struct result *r)
{
	if (opt_csv) {
		printf("%s,%u,%.0f,%.0f,%.1f,%.2f\n", r->mode, r->threads,
		       r->tx_s, r->deltas_s, r->bytes_per_delta, r->zratio);
		fflush(stdout);
		return;
	}
	printf("%-12s threads %-2u %.2f s\n", r->mode, r->threads, r->secs);
	printf("  committed transactions/s %12.0f%s\n", r->tx_s,
	       opt_fsync ? "  (= fsyncs/s)" : "");
	printf("  item deltas/s            %12.0f  (%.1f%% relogs)\n",
	       r->deltas_s, r->deltas ? 100.0 * r->relogs / r->deltas : 0);
	printf("  checkpoints/s            %12.1f\n", r->ckpt_s);
	printf("  log bytes per delta      %12.1f\n", r->bytes_per_delta);
	printf("  zstd ratio               %12.2f\n", r->zratio);
	printf("  CIL lock contended       %12" PRIu64
	       "  (class cil_pcp: %" PRIu64 " acquired, %" PRIu64
	       " contended)\n",
	       r->cil_contended, r->pcp_acquired, r->pcp_contended);
	printf("  buffer lock contended    %12" PRIu64 "\n", r->buf_contended);
	printf("  forces %" PRIu64 ", checkpoints written for forces %" PRIu64
	       ", grant waits %" PRIu64 ", AIL write-backs %" PRIu64 "\n",
	       r->forces, r->force_writes, r->grant_waits, r->ail_pushed);
	printf("  AIL write-backs/s        %12.0f  (grant waits/s %.0f)\n",
	       r->ail_pushed_s, r->grant_waits_s);
	printf("  kvmalloc: high-order attempts %" PRIu64 ", fail-fast %" PRIu64
	       ", vmap fallbacks %" PRIu64 "\n",
	       r->highorder, r->failfast, r->vmap_fallbacks);
	printf("  CPU: workers %.2f s, process %.2f s; deltas per worker "
	       "CPU-second %.0f\n",
	       r->worker_cpu, r->proc_cpu,
	       r->worker_cpu > 0 ? r->deltas / r->worker_cpu : 0);
	fflush(stdout);
}

/* ---- command line ---- */
static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [options]\n"
		"Commit small buffer deltas from N threads through libkvjournal on a\n"
		"kvfs image and report the commit path's throughput.\n"
		"\n"
		"  --threads N[,N...]  committing threads, one run per value (2)\n"
		"  --seconds S         length of each run, fractions allowed (5)\n"
		"  --buffers N         metadata blocks the threads change (1024)\n"
		"  --items N           buffers per transaction, 1..16 (4)\n"
		"  --ranges N          64-byte ranges changed per buffer (1)\n"
		"  --force-every N     each thread forces the log every N\n"
		"                      transactions, 0 = never (10000)\n"
		"  --fsync             group-commit mode: force after every\n"
		"                      transaction; tx/s are fsyncs/s\n"
		"  --single-cil        one global CIL list and lock (the ablation)\n"
		"  --compare           run per-CPU and --single-cil alternately\n"
		"  --no-compress       checkpoints without zstd\n"
		"  --private           each thread changes only its own share\n"
		"                      of the buffers (as threads working in\n"
		"                      different AGs): no buffer is shared, the\n"
		"                      CIL is the only common structure\n"
		"  --image PATH        use this existing scratch kvfs image: its log\n"
		"                      is overwritten and free blocks of its highest\n"
		"                      AG are written (without allocating them)\n"
		"  --size SIZE         size of the temporary image (4G, sparse)\n"
		"  --log-size SIZE     log size of the temporary image (mkfs default);\n"
		"                      with more --buffers than it holds dirty (e.g.\n"
		"                      --log-size 4M --buffers 4096) the AIL writes\n"
		"                      buffers back and committers wait for log\n"
		"                      space: see AIL write-backs/s and grant waits\n"
		"  --csv               print mode,threads,tx_per_sec,deltas_per_sec,\n"
		"                      log_bytes_per_delta,zstd_ratio per run\n"
		"  -h, --help          this text\n"
		"\n"
		"The buffer log item is the filesystem's (fs/io/buf_item.c: dirty 128-byte\n"
		"chunks since the last write-back).\n"
		"Deltas/s count committed items (a relog counts again).\n");
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "threads", required_argument, NULL, 't' },
		{ "seconds", required_argument, NULL, 's' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "items", required_argument, NULL, 'i' },
		{ "ranges", required_argument, NULL, 'r' },
		{ "force-every", required_argument, NULL, 'f' },
		{ "fsync", no_argument, NULL, 'F' },
		{ "single-cil", no_argument, NULL, 'S' },
		{ "compare", no_argument, NULL, 'C' },
		{ "no-compress", no_argument, NULL, 'N' },
		{ "private", no_argument, NULL, 'P' },
		{ "image", required_argument, NULL, 'I' },
		{ "size", required_argument, NULL, 'z' },
		{ "log-size", required_argument, NULL, 'l' },
		{ "csv", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned i;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 't':
			bad = cli_uint_list(PROG, "--threads", optarg, 256,
					    opt_threads, JB_MAX_RUNS,
					    &opt_nthreads);
			break;
		case 's':
			bad = cli_seconds(PROG, "--seconds", optarg, 0.01,
					  3600, &opt_seconds);
			break;
		case 'b':
			bad = cli_uint(PROG, "--buffers", optarg, 1, 16384,
				       &opt_buffers);
			break;
		case 'i':
			bad = cli_uint(PROG, "--items", optarg, 1, JB_MAX_ITEMS,
				       &opt_items);
			break;
		case 'r':
			bad = cli_uint(PROG, "--ranges", optarg, 1, 64,
				       &opt_ranges);
			break;
		case 'f':
			bad = cli_uint(PROG, "--force-every", optarg, 0,
				       1u << 30, &opt_force_every);
			break;
		case 'F':
			opt_fsync = true;
			break;
		case 'S':
			opt_single = true;
			break;
		case 'C':
			opt_compare = true;
			break;
		case 'N':
			opt_no_compress = true;
			break;
		case 'P':
			opt_private = true;
			break;
		case 'I':
			opt_image = optarg;
			break;
		case 'z':
			bad = cli_size(PROG, "--size", optarg, 1, &opt_size);
			break;
		case 'l':
			bad = cli_size(PROG, "--log-size", optarg, 1,
				       &opt_logsize);
			break;
		case 'c':
			opt_csv = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad)
			return -1;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (opt_image && opt_logsize) {
		fprintf(stderr, PROG ": --log-size applies to the temporary "
				     "image only, not to --image\n");
		return -1;
	}
	if (opt_items > opt_buffers) {
		fprintf(stderr, PROG ": --items %u exceeds --buffers %u\n",
			opt_items, opt_buffers);
		return -1;
	}
	for (i = 0; opt_private && i < opt_nthreads; i++) {
		if (opt_items > opt_buffers / opt_threads[i]) {
			fprintf(stderr,
				PROG ": --private: %u threads leave fewer than "
				     "--items %u buffers each\n",
				opt_threads[i], opt_items);
			return -1;
		}
	}
	return 0;
}

/* Make the temporary image; its path goes to path. */
static int make_image(char *dir, char *path, size_t len)
{
	struct kvfs_mkfs_opts o = { 0 };
	struct kvfs_geom g;
	int err;

	if (!mkdtemp(dir)) {
		fprintf(stderr, PROG ": temporary directory %s: %s\n", dir,
			strerror(errno));
		return -errno;
	}
	snprintf(path, len, "%s/image", dir);
	o.target = path;
	o.size = opt_size;
	o.logsize = opt_logsize;
	err = kvfs_mkfs(&o, &g);
	if (err)
		fprintf(stderr, PROG ": mkfs %s: %s\n", path, o.err);
	return err;
}

static int bench(void)
{
	struct result r;
	unsigned i, m;
	int err;

	if (opt_csv)
		printf("mode,threads,tx_per_sec,deltas_per_sec,"
		       "log_bytes_per_delta,zstd_ratio\n");
	else
		printf("image %s: log %" PRIu64 " KiB at block %" PRIu64
		       ", %u bench blocks of %u bytes at block %" PRIu64
		       ", %u buffers x %u ranges per transaction\n",
		       kv_dev_path(dev), lio.len >> 10, geom.logstart,
		       opt_buffers, geom.blocksize, first_blk, opt_items,
		       opt_ranges);
	for (i = 0; i < opt_nthreads; i++) {
		for (m = 0; m < (opt_compare ? 2u : 1u); m++) {
			bool single = opt_compare ? m == 1 : opt_single;

			err = run(single, opt_threads[i], &r);
			if (err)
				return err;
			print_result(&r);
		}
	}
	return 0;
}

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

int main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	char tdir[4096], path[4200];
	struct kv_config cfg = { 0 };
	const char *img;
	int err, ret = 1;

	if (parse_args(argc, argv))
		return 1;
	/* buffers, two contexts of deltas, checkpoint buffers, slack */
	cfg.budget_bytes = ((size_t)opt_buffers * 65536 * 3 + (512u << 20)) &
			   ~(size_t)(KV_PAGE_SIZE - 1);
	kvj_report_set_sink(print_jreport, NULL);
	tool_report_init(PROG);
	err = kv_init(&cfg);
	if (err) {
		kv_err("kv_init", err);
		return 1;
	}
	tdir[0] = 0;
	if (!opt_image) {
		snprintf(tdir, sizeof(tdir), "%s/" PROG "-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (make_image(tdir, path, sizeof(path)))
			goto out_fini;
		img = path;
	} else {
		img = opt_image;
	}
	err = kv_dev_open(img, 0, &dev);
	if (err) {
		fprintf(stderr, PROG ": %s: %s\n", img, strerror(-err));
		goto out_rm;
	}
	err = kvfs_sb_read(dev, &geom);
	if (err) {
		fprintf(stderr, PROG ": %s: %s\n", img,
			err == -ENODATA ? "not a kvfs image" : strerror(-err));
		goto out_dev;
	}
	err = kv_bcache_create(dev, geom.blocksize, 0, &bc);
	if (err) {
		kv_err("kv_bcache_create", err);
		goto out_dev;
	}
	kv_bcache_set_private(bc, &geom);
	kvfs_log_io_init(&lio, dev, &geom);
	if (!find_free_blocks() && !setup_buffers() && !bench())
		ret = 0;
	free_buffers();
	if (kv_bcache_flush(bc) && !ret) {
		fprintf(stderr, PROG ": final write-back failed\n");
		ret = 1;
	}
	kv_bcache_destroy(bc);
out_dev:
	kv_dev_close(dev);
out_rm:
	if (!opt_image) {
		unlink(path);
		rmdir(tdir);
	}
out_fini:
	kv_fini();
	return ret;
}
