// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-logprint: print the journal of a kvfs filesystem, like xfs_logprint.
 * The log is parsed by libkvjournal's walker (journal/logwalk.h), the same
 * code recovery runs; this file only prints.  Read-only: the device is
 * opened read-only.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/inode/icreate_item.h"
#include "fs/io/buf_item.h"
#include "fs/io/dev.h"
#include "fs/io/log_io.h"
#include "fs/format/sb.h"
#include "journal/bug.h"
#include "journal/logwalk.h"
#include "tools/report.h"

#define LP_DUMP_BYTES 64u

struct lp {
	const char *path;
	const struct kvfs_geom *g; /* what icreate items are checked against */
	int verbose;
	uint64_t records, checkpoints, items, intents, dones, bufs;
	uint64_t ulen, stored;
	bool corrupt;
};

/* "cycle/block (0xraw)" */
static const char *lsn_str(kvj_lsn_t lsn, char *buf, size_t len)
{
	snprintf(buf, len, "%u/%u (0x%" PRIx64 ")", KVJ_LSN_CYCLE(lsn),
		 KVJ_LSN_BLOCK(lsn), (uint64_t)lsn);
	return buf;
}

static const char *state_name(enum kvj_walk_state s)
{
	switch (s) {
	case KVJ_WALK_EMPTY:
		return "empty (never written)";
	case KVJ_WALK_CLEAN:
		return "clean (ends with an unmount record)";
	case KVJ_WALK_DIRTY:
		return "dirty (needs recovery)";
	}
	return "?";
}

static int lp_head(void *priv, const struct kvj_walk_head *h)
{
	char a[48];

	(void)priv;
	printf("log state: %s\n", state_name(h->state));
	printf("head: %s\n", lsn_str(h->head_lsn, a, sizeof(a)));
	printf("tail: %s\n", lsn_str(h->tail_lsn, a, sizeof(a)));
	if (h->state != KVJ_WALK_EMPTY)
		printf("last record: %s %s seq %" PRIu64 "\n",
		       lsn_str(h->last_lsn, a, sizeof(a)),
		       kvj_rec_type_name(h->last_type), h->last_seq);
	return 0;
}

static int lp_record(void *priv, const struct kvj_walk_rec *r)
{
	struct lp *lp = priv;
	char a[48];

	lp->records++;
	printf("record %s %s seq %" PRIu64 ", %u BB, payload %u bytes, "
	       "tail %u/%u",
	       lsn_str(r->lsn, a, sizeof(a)), kvj_rec_type_name(r->type),
	       r->seq, r->nr_bb, r->len, KVJ_LSN_CYCLE(r->tail_lsn),
	       KVJ_LSN_BLOCK(r->tail_lsn));
	if (r->type == KVJ_REC_CKPT)
		printf(", stream offset %" PRIu64 ", crc %s", r->part_off,
		       r->crc_ok ? "ok" : "BAD");
	printf("\n");
	return 0;
}

static int lp_ckpt(void *priv, const struct kvj_walk_ckpt *c)
{
	struct lp *lp = priv;
	char a[48];

	lp->checkpoints++;
	lp->ulen += c->ulen;
	lp->stored += c->stream_len;
	printf("checkpoint seq %" PRIu64 " at %s commit %u/%u: %u part%s, "
	       "%u item%s, %" PRIu64 " bytes -> %" PRIu64 " stored (%s, "
	       "ratio %.2f)\n",
	       c->seq, lsn_str(c->lsn, a, sizeof(a)),
	       KVJ_LSN_CYCLE(c->commit_lsn), KVJ_LSN_BLOCK(c->commit_lsn),
	       c->nr_parts, c->nr_parts == 1 ? "" : "s", c->nr_items,
	       c->nr_items == 1 ? "" : "s", c->ulen, c->stream_len,
	       c->comp == KVJ_COMP_ZSTD ? "zstd" : "uncompressed",
	       c->stream_len ? (double)c->ulen / (double)c->stream_len : 0.0);
	return 0;
}

/* Hex dump of the first bytes of a delta (all of it with -vv). */
static void dump(const uint8_t *p, uint32_t len, bool all)
{
	uint32_t n = all || len < LP_DUMP_BYTES ? len : LP_DUMP_BYTES;
	uint32_t o, i;

	for (o = 0; o < n; o += 16) {
		printf("      %04x:", o);
		for (i = o; i < o + 16; i++) {
			if (i < n)
				printf(" %02x", p[i]);
			else
				printf("   ");
		}
		printf("  |");
		for (i = o; i < o + 16 && i < n; i++)
			putchar(isprint(p[i]) ? p[i] : '.');
		printf("|\n");
	}
	if (n < len)
		printf("      ... %u more bytes (-vv dumps them all)\n",
		       len - n);
}

static const char *item_type_name(uint32_t type)
{
	switch (type) {
	case KVJ_ITEM_INTENT:
		return "intent";
	case KVJ_ITEM_DONE:
		return "done";
	case KVFS_ITEM_BUF:
		return "buf";
	case KVFS_ITEM_ICREATE:
		return "icreate";
	}
	return "unknown";
}

/* One line for the delta: the journal's or libkvfs's own decoder. */
static void describe(const struct lp *lp, const struct kvj_walk_item *it)
{
	const char *why = NULL;
	char desc[512];
	int ret;

	if (it->type == KVFS_ITEM_BUF) {
		ret = kvfs_bli_describe(it->delta, it->len, desc, sizeof(desc));
		printf("    %s\n", ret < 0 ? "malformed buffer delta" : desc);
	} else if (it->type == KVFS_ITEM_ICREATE) {
		ret = kvfs_icreate_describe(lp->g, it->delta, it->len, desc,
					    sizeof(desc), &why);
		if (ret < 0)
			printf("    malformed inode-chunk creation: %s\n", why);
		else
			printf("    %s\n", desc);
	} else if (!kvj_walk_item_describe(it, desc, sizeof(desc))) {
		printf("    %s\n", desc);
	}
}

static int lp_item(void *priv, const struct kvj_walk_ckpt *c,
		   const struct kvj_walk_item *it)
{
	struct lp *lp = priv;

	(void)c;
	lp->items++;
	lp->intents += it->type == KVJ_ITEM_INTENT;
	lp->dones += it->type == KVJ_ITEM_DONE;
	lp->bufs += it->type == KVFS_ITEM_BUF;
	printf("  item %u: type %u (%s) len %u\n", it->index, it->type,
	       item_type_name(it->type), it->len);
	if (!lp->verbose)
		return 0;
	describe(lp, it);
	dump(it->delta, it->len, lp->verbose > 1);
	return 0;
}

static int lp_problem(void *priv, enum kvj_walk_problem what, kvj_lsn_t lsn,
		      const char *msg)
{
	struct lp *lp = priv;

	(void)lsn;
	if (what == KVJ_WALK_TORN) {
		printf("torn tail: %s\n", msg);
		return 0;
	}
	/* keep printing what is readable before the damage */
	fflush(stdout);
	fprintf(stderr, "kvfs-logprint: %s: %s\n", lp->path, msg);
	lp->corrupt = true;
	return 0;
}

static const struct kvj_walk_ops lp_ops = {
	.head = lp_head,
	.record = lp_record,
	.ckpt = lp_ckpt,
	.item = lp_item,
	.problem = lp_problem,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvfs-logprint [-v] [-h] TARGET\n"
		"Print the journal of the kvfs filesystem on TARGET (an image "
		"file or a\nblock device), read-only: its head and tail, every "
		"record and checkpoint\nwith its LSN, checkpoint sizes before "
		"and after compression, and the\nitems each checkpoint holds.  "
		"LSNs print as CYCLE/BLOCK (512-byte\nblocks within the log) "
		"with the raw number in hex.\n\n"
		"  -v, --verbose  also show every item's delta: decoded where "
		"the type is\n                 known, and a hex dump of its "
		"first %u bytes (-vv: all)\n"
		"  -h, --help     print this help\n\n"
		"Exit status: 0 the log is readable (empty, clean, or dirty "
		"with at most\na torn tail, which recovery discards), 1 the log "
		"cannot be recovered\nor an error, 2 usage.\n",
		LP_DUMP_BYTES);
}

/* The library records what its verifiers find; the tool prints it. */
static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	(void)priv;
	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "kvfs: %s\n", line);
}

static int logprint(struct lp *lp)
{
	struct kvfs_log_io lio;
	struct kvfs_geom g;
	struct kv_dev *dev;
	int ret;

	ret = kv_dev_open(lp->path, KV_DEV_RDONLY, &dev);
	if (ret) {
		fprintf(stderr, "kvfs-logprint: cannot open %s: %s\n", lp->path,
			strerror(-ret));
		return ret;
	}
	kvfs_report_set_sink(print_report, NULL);
	ret = kvfs_sb_read(dev, &g);
	if (ret == -ENODATA)
		fprintf(stderr, "kvfs-logprint: %s: no kvfs superblock\n",
			lp->path);
	else if (ret)
		fprintf(stderr,
			"kvfs-logprint: %s: cannot read the superblock: %s\n",
			lp->path, strerror(-ret));
	if (!ret) {
		ret = kvfs_sb_check_features(&g, true);
		if (ret)
			fprintf(stderr, "kvfs-logprint: %s: %s\n", lp->path,
				strerror(-ret));
	}
	if (ret)
		goto out;
	kvfs_log_io_init(&lio, dev, &g);
	lp->g = &g;
	printf("log of %s: %u blocks of %u bytes at block %" PRIu64 " (%" PRIu64
	       " basic blocks); superblock state %s\n",
	       lp->path, g.logblocks, g.blocksize, g.logstart,
	       lio.len >> KVJ_BB_SHIFT,
	       kvfs_sb_state_name(g.state));
	ret = kvj_log_walk(&kvfs_log_io_ops, &lio, lio.len, &lp_ops, lp);
	if (!ret || ret == -EUCLEAN)
		printf("%" PRIu64 " records, %" PRIu64 " checkpoints, %" PRIu64
		       " items (intents %" PRIu64 ", dones %" PRIu64
		       ", bufs %" PRIu64 "), %" PRIu64 " bytes -> %" PRIu64
		       " stored\n",
		       lp->records, lp->checkpoints, lp->items, lp->intents,
		       lp->dones, lp->bufs, lp->ulen, lp->stored);
	if (ret && !lp->corrupt)
		fprintf(stderr, "kvfs-logprint: %s: cannot read the log: %s\n",
			lp->path, strerror(-ret));
out:
	kv_dev_close(dev);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct lp lp = { 0 };
	int c, ret;

	tool_report_init("kvfs-logprint");
	kvj_bug_set_hook(kvj_bug_stderr);
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'v':
			lp.verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "kvfs-logprint: %s\n",
			optind == argc ? "no TARGET given" :
					 "only one TARGET is allowed");
		usage(stderr);
		return 2;
	}
	lp.path = argv[optind];
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "kvfs-logprint: cannot initialise memory: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = logprint(&lp);
	kv_fini();
	return ret ? 1 : 0;
}
