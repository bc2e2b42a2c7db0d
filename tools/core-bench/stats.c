// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench --stats (bench.h): what the core did per operation in
 * a measurement, on stderr.
 */
#include <inttypes.h>

#include "alloc/kvalloc.h"
#include "bench.h"

/* --stats: the arena's and the lock classes' counts at a measurement's start */
static uint64_t lock_acq0[KV_LOCK_CLASSES_MAX], lock_cont0[KV_LOCK_CLASSES_MAX];

static uint64_t arena_used0, reclaim0;

void stats_start(void)
{
	struct kv_stats ks;

	kv_stats(&ks);
	arena_used0 = ks.pages_total - ks.pages_free;
	reclaim0 = ks.reclaim_passes;
	for (int c = 0; c < kv_lock_classes(); c++) {
		lock_acq0[c] = kv_lock_class_acquired(c);
		lock_cont0[c] = kv_lock_class_contended(c);
	}
}

/*
 * The lock classes contended in the measurement, on one line: contended
 * and all acquisitions per op.
 */
static void print_lock_counts(enum wl wl, unsigned nthreads, double n)
{
	bool any = false;

	for (int c = 0; c < kv_lock_classes(); c++) {
		uint64_t cont = kv_lock_class_contended(c) - lock_cont0[c];

		if (!cont)
			continue;
		if (!any)
			fprintf(stderr,
				"%s, %u threads, per op, locks contended:",
				wls[wl].name, nthreads);
		fprintf(stderr, "%s %s %.4f of %.4f acquired", any ? "," : "",
			kv_lock_class_name(c), cont / n,
			(kv_lock_class_acquired(c) - lock_acq0[c]) / n);
		any = true;
	}
	if (any)
		fputc('\n', stderr);
}

/*
 * --stats: what the core did per operation during one measurement (the
 * log's and the caches' counters), on stderr beside the CPU figures.
 */
void print_stats(enum wl wl, unsigned nthreads, const struct kvfs_stats *a,
		 uint64_t ops)
{
	struct kvfs_stats b;
	struct kv_stats ks;
	double n = (double)ops;

	kv_stats(&ks);
	fprintf(stderr,
		"%s, %u threads, per op: %+.0f bytes of the arena; %" PRIu64
		" reclaim passes\n",
		wls[wl].name, nthreads,
		((double)(ks.pages_total - ks.pages_free) -
		 (double)arena_used0) *
			KV_PAGE_SIZE / n,
		ks.reclaim_passes - reclaim0);
	kvfs_stats(mp, &b, NULL, 0);
	fprintf(stderr,
		"%s, %u threads, per op: %.3f commits, %.1f log bytes in, "
		"%.1f out (%.1fx), %.1f written; %.4f checkpoints, %.4f "
		"grant waits, %.3f items written back, %.3f block writes, "
		"%.3f block reads\n",
		wls[wl].name, nthreads, (b.log_commits - a->log_commits) / n,
		(b.zstd_in - a->zstd_in) / n, (b.zstd_out - a->zstd_out) / n,
		b.zstd_out > a->zstd_out ? (double)(b.zstd_in - a->zstd_in) /
						   (b.zstd_out - a->zstd_out) :
					   0.0,
		(b.log_bytes_written - a->log_bytes_written) / n,
		(b.log_checkpoints - a->log_checkpoints) / n,
		(b.log_grant_waits - a->log_grant_waits) / n,
		(b.ail_pushed - a->ail_pushed) / n,
		(b.buf_writes - a->buf_writes) / n,
		(b.buf_reads - a->buf_reads) / n);
	print_lock_counts(wl, nthreads, n);
}
