// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-stat MOUNTPOINT [-w SECONDS] [--json]: live figures of a mounted
 * kvfs, asked of its daemon (mount.kvfs answers getxattr "kvfs.stats" on
 * its mount with "name value" lines: fs/fuse/stats.h), never read from
 * the image.
 *
 * Without options: every figure, grouped.  --json: one JSON object, the
 * dotted names as nested objects, with each FUSE request type's mean_ns
 * and the journal's zstd_ratio added.  -w N: like vmstat, a line every N
 * seconds with what changed over the interval (the first line: since the
 * mount) and the gauges of now, the header again every 20 lines, until
 * interrupted.  Exit status 1: a bad command line or a directory that is
 * not a kvfs mount; 2: the mount went away while watched.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h" /* KV_PAGE_SIZE: alloc.pages_* are its pages */
#include "fs/kvfs.h" /* KVFS_AG_SICK_* */

#define STATS_XATTR "kvfs.stats"
#define STATS_MAX 65536
#define STATS_VERSION "kvfs-stats 1"
#define HEADER_EVERY 20

static const char *prog = "kvfs-stat";

struct fig {
	char name[96];
	uint64_t v;
	double d; /* a derived figure (is_float) */
	bool is_float;
};

struct snap {
	struct fig *f;
	unsigned n, max;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s MOUNTPOINT [-w SECONDS] [--json]\n"
		"  -w N    a line of what changed every N seconds (vmstat-like)\n"
		"  --json  every figure as one JSON object\n"
		"  -h      this help\n",
		prog);
}

static int add(struct snap *s, const char *name, uint64_t v)
{
	if (s->n == s->max) {
		unsigned max = s->max ? 2 * s->max : 256;
		struct fig *f = realloc(s->f, max * sizeof(*f));

		if (!f)
			return -ENOMEM;
		s->f = f;
		s->max = max;
	}
	memset(&s->f[s->n], 0, sizeof(s->f[0]));
	snprintf(s->f[s->n].name, sizeof(s->f[0].name), "%s", name);
	s->f[s->n++].v = v;
	return 0;
}

static const struct fig *find(const struct snap *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].name, name))
			return &s->f[i];
	return NULL;
}

static uint64_t val(const struct snap *s, const char *name)
{
	const struct fig *f = find(s, name);

	return f ? f->v : 0;
}

/*
 * Ask the daemon.  0; -ENOTTY: not a kvfs mount (the message printed
 * names why); another -errno (printed).
 */
static int fetch(const char *mnt, struct snap *s)
{
	char *buf = malloc(STATS_MAX + 1), *line, *save = NULL;
	ssize_t n;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	s->n = 0;
	n = getxattr(mnt, STATS_XATTR, buf, STATS_MAX);
	if (n < 0) {
		err = -errno;
		if (err == -ENOTSUP || err == -ENODATA || err == -ENOSYS) {
			fprintf(stderr, "%s: %s: not a kvfs mount\n", prog,
				mnt);
			err = -ENOTTY;
		} else {
			fprintf(stderr, "%s: %s: %s\n", prog, mnt,
				strerror(-err));
		}
		goto out;
	}
	buf[n] = '\0';
	line = strtok_r(buf, "\n", &save);
	if (!line || strcmp(line, STATS_VERSION)) {
		fprintf(stderr, "%s: %s: not a kvfs mount (or a newer one)\n",
			prog, mnt);
		err = -ENOTTY;
		goto out;
	}
	while (!err && (line = strtok_r(NULL, "\n", &save))) {
		char *sp = strrchr(line, ' ');

		if (!sp)
			continue;
		*sp = '\0';
		err = add(s, line, strtoull(sp + 1, NULL, 10));
	}
	if (err)
		fprintf(stderr, "%s: %s\n", prog, strerror(-err));
out:
	free(buf);
	return err;
}

static double mean_us(uint64_t ns, uint64_t count)
{
	return count ? (double)ns / count / 1000.0 : 0.0;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / b : 0.0;
}

/* ---- the full listing ---- */

static void print_all(const char *mnt, const struct snap *s)
{
	uint64_t bs = val(s, "space.block_size");
	unsigned agcount = val(s, "space.agcount");
	char name[128];

	printf("%s: %s\n\n", mnt, STATS_VERSION);
	printf("FUSE requests        count     mean_us\n");
	for (unsigned i = 0; i < s->n; i++) {
		const char *nm = s->f[i].name, *dot;

		if (strncmp(nm, "fuse.", 5) || !(dot = strrchr(nm, '.')) ||
		    strcmp(dot, ".count") || !s->f[i].v)
			continue;
		snprintf(name, sizeof(name), "%.*s.ns", (int)(dot - nm), nm);
		printf("  %-16.*s %10" PRIu64 " %11.1f\n", (int)(dot - nm - 5),
		       nm + 5, s->f[i].v, mean_us(val(s, name), s->f[i].v));
	}
	printf("\njournal: %" PRIu64 " commits, %" PRIu64
	       " checkpoints, %" PRIu64 " forces (%" PRIu64
	       " checkpoints written for them), %" PRIu64 " grant waits\n",
	       val(s, "journal.commits"), val(s, "journal.checkpoints"),
	       val(s, "journal.forces"), val(s, "journal.force_writes"),
	       val(s, "journal.grant_waits"));
	printf("  log: %" PRIu64 " of %" PRIu64 " KiB used (%.1f%%), %" PRIu64
	       " KiB written; AIL: %" PRIu64 " items, %" PRIu64
	       " pushed; zstd ratio %.2f\n",
	       val(s, "journal.log_bytes_used") >> 10,
	       val(s, "journal.log_bytes") >> 10,
	       100.0 * ratio(val(s, "journal.log_bytes_used"),
			     val(s, "journal.log_bytes")),
	       val(s, "journal.log_bytes_written") >> 10,
	       val(s, "journal.ail_items"), val(s, "journal.ail_pushed"),
	       ratio(val(s, "journal.zstd_in"), val(s, "journal.zstd_out")));
	printf("buffer cache: %" PRIu64 " hits, %" PRIu64
	       " misses (%.1f%% hits), %" PRIu64 " buffers (%" PRIu64
	       " KiB), %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64
	       " reclaimed\n",
	       val(s, "bcache.hits"), val(s, "bcache.misses"),
	       100.0 * ratio(val(s, "bcache.hits"),
			     val(s, "bcache.hits") + val(s, "bcache.misses")),
	       val(s, "bcache.cached"), val(s, "bcache.bytes") >> 10,
	       val(s, "bcache.reads"), val(s, "bcache.writes"),
	       val(s, "bcache.reclaimed"));
	printf("inode cache: %" PRIu64 " hits, %" PRIu64
	       " misses (%.1f%% hits), %" PRIu64 " inodes, %" PRIu64
	       " reclaimed\n",
	       val(s, "icache.hits"), val(s, "icache.misses"),
	       100.0 * ratio(val(s, "icache.hits"),
			     val(s, "icache.hits") + val(s, "icache.misses")),
	       val(s, "icache.cached"), val(s, "icache.reclaimed"));
	printf("free space: %" PRIu64 " blocks of %" PRIu64 " bytes (%" PRIu64
	       " MiB), %u AGs\n",
	       val(s, "space.free_blocks"), bs,
	       val(s, "space.free_blocks") * bs >> 20, agcount);
	printf("  AG  free_blocks    longest  extents   inodes  ifree"
	       "   lock_acq  lock_cont\n");
	for (unsigned ag = 0; ag < agcount; ag++) {
		uint64_t v[7];
		static const char *const f[7] = {
			"free_blocks",	 "longest",	"free_extents",
			"inodes",	 "inodes_free", "lock_acquired",
			"lock_contended"
		};

		snprintf(name, sizeof(name), "ag.%u.free_blocks", ag);
		if (!find(s, name))
			break; /* left out by the daemon: space.ag_omitted */
		for (int i = 0; i < 7; i++) {
			snprintf(name, sizeof(name), "ag.%u.%s", ag, f[i]);
			v[i] = val(s, name);
		}
		printf("  %2u %12" PRIu64 " %10" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %6" PRIu64 " %10" PRIu64 " %10" PRIu64
		       "\n",
		       ag, v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
	}
	if (val(s, "space.ag_omitted"))
		printf("  (%" PRIu64 " more AGs left out)\n",
		       val(s, "space.ag_omitted"));
	for (unsigned ag = 0; ag < agcount; ag++) {
		uint64_t sick;

		snprintf(name, sizeof(name), "ag.%u.sick", ag);
		sick = val(s, name);
		if (sick)
			printf("  AG %u damaged:%s%s (allocations pass it by: "
			       "run fsck.kvfs)\n",
			       ag,
			       sick & KVFS_AG_SICK_SPACE ? " free space" : "",
			       sick & KVFS_AG_SICK_INODES ?
				       " inode allocation" :
				       "");
	}
	printf("allocator:\n");
	for (unsigned i = 0; i < s->n; i++)
		if (!strncmp(s->f[i].name, "alloc.", 6))
			printf("  %-36s %" PRIu64 "\n", s->f[i].name + 6,
			       s->f[i].v);
}

/* ---- JSON: the dotted names as nested objects ---- */

struct node {
	char *key;
	const struct fig *fig; /* a leaf */
	struct node *kids, *next, *last;
};

static struct node *child(struct node *parent, const char *key, size_t len)
{
	struct node *n;

	for (n = parent->kids; n; n = n->next)
		if (strlen(n->key) == len && !memcmp(n->key, key, len))
			return n;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->key = strndup(key, len);
	if (!n->key) {
		free(n);
		return NULL;
	}
	if (parent->last)
		parent->last->next = n;
	else
		parent->kids = n;
	parent->last = n;
	return n;
}

static int tree_add(struct node *root, const struct fig *f)
{
	struct node *n = root;
	const char *p = f->name;

	for (;;) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		n = child(n, p, len);
		if (!n)
			return -ENOMEM;
		if (!dot)
			break;
		p = dot + 1;
	}
	n->fig = f;
	return 0;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_node(const struct node *n, int depth)
{
	const struct node *k;

	if (!n->kids) {
		if (!n->fig)
			printf("null");
		else if (n->fig->is_float)
			printf("%.3f", n->fig->d);
		else
			printf("%" PRIu64, n->fig->v);
		return;
	}
	printf("{");
	for (k = n->kids; k; k = k->next) {
		printf("%s\n%*s", k == n->kids ? "" : ",", 2 * (depth + 1), "");
		json_str(k->key);
		printf(": ");
		json_node(k, depth + 1);
	}
	printf("\n%*s}", 2 * depth, "");
}

static void tree_free(struct node *n)
{
	struct node *k, *next;

	for (k = n->kids; k; k = next) {
		next = k->next;
		tree_free(k);
		free(k->key);
		free(k);
	}
}

/* The derived figures: each request type's mean, the zstd ratio. */
static int derive(struct snap *s)
{
	unsigned n = s->n;
	char name[128];
	int err = 0;

	for (unsigned i = 0; i < n && !err; i++) {
		const char *nm = s->f[i].name, *dot = strrchr(nm, '.');
		uint64_t count = s->f[i].v;

		if (strncmp(nm, "fuse.", 5) || strcmp(dot, ".count"))
			continue;
		snprintf(name, sizeof(name), "%.*s.ns", (int)(dot - nm), nm);
		double mean = count ? (double)val(s, name) / count : 0.0;
		snprintf(name, sizeof(name), "%.*s.mean_ns", (int)(dot - nm),
			 nm);
		err = add(s, name, 0);
		if (!err) {
			s->f[s->n - 1].is_float = true;
			s->f[s->n - 1].d = mean;
		}
	}
	if (!err)
		err = add(s, "journal.zstd_ratio", 0);
	if (!err) {
		s->f[s->n - 1].is_float = true;
		s->f[s->n - 1].d = ratio(val(s, "journal.zstd_in"),
					 val(s, "journal.zstd_out"));
	}
	return err;
}

static int print_json(struct snap *s)
{
	struct node root = { 0 };
	int err = derive(s);

	for (unsigned i = 0; i < s->n && !err; i++)
		err = tree_add(&root, &s->f[i]);
	if (!err) {
		json_node(&root, 0);
		putchar('\n');
	} else {
		fprintf(stderr, "%s: %s\n", prog, strerror(-err));
	}
	tree_free(&root);
	return err;
}

/* ---- -w: one line per interval ---- */

/* The sum over names starting with prefix and ending with suffix. */
static uint64_t sum(const struct snap *s, const char *prefix,
		    const char *suffix)
{
	size_t pl = strlen(prefix), sl = strlen(suffix);
	uint64_t t = 0;

	for (unsigned i = 0; i < s->n; i++) {
		size_t l = strlen(s->f[i].name);

		if (l >= pl + sl && !strncmp(s->f[i].name, prefix, pl) &&
		    !strcmp(s->f[i].name + l - sl, suffix))
			t += s->f[i].v;
	}
	return t;
}

/* what changed in name since prev (all of it without prev) */
static uint64_t delta(const struct snap *cur, const struct snap *prev,
		      const char *name)
{
	return val(cur, name) - (prev ? val(prev, name) : 0);
}

static void print_header(void)
{
	printf("%s\n%s\n",
	       "-------------fuse------------- ----------journal----------- "
	       "---bcache--- ---icache--- ----space---- -mem-",
	       "   req  read write  meta lat_us commit ckpt force log% "
	       "  ail zstd  hit%  miss  hit%  miss free_MB agcont  MiB");
}

static void print_line(const struct snap *cur, const struct snap *prev)
{
	uint64_t req = sum(cur, "fuse.", ".count") -
		       (prev ? sum(prev, "fuse.", ".count") : 0);
	uint64_t ns = sum(cur, "fuse.", ".ns") -
		      (prev ? sum(prev, "fuse.", ".ns") : 0);
	uint64_t rd = delta(cur, prev, "fuse.read.count");
	uint64_t wr = delta(cur, prev, "fuse.write.count");
	uint64_t bh = delta(cur, prev, "bcache.hits");
	uint64_t bm = delta(cur, prev, "bcache.misses");
	uint64_t ih = delta(cur, prev, "icache.hits");
	uint64_t im = delta(cur, prev, "icache.misses");
	uint64_t cont = sum(cur, "ag.", ".lock_contended") -
			(prev ? sum(prev, "ag.", ".lock_contended") : 0);

	printf("%6" PRIu64 " %5" PRIu64 " %5" PRIu64 " %5" PRIu64
	       " %6.0f %6" PRIu64 " %4" PRIu64 " %5" PRIu64 " %4.0f %5" PRIu64
	       " %4.1f %5.1f %5" PRIu64 " %5.1f %5" PRIu64 " %7" PRIu64
	       " %6" PRIu64 " %4" PRIu64 "\n",
	       req, rd, wr, req - rd - wr, mean_us(ns, req),
	       delta(cur, prev, "journal.commits"),
	       delta(cur, prev, "journal.checkpoints"),
	       delta(cur, prev, "journal.forces"),
	       100.0 * ratio(val(cur, "journal.log_bytes_used"),
			     val(cur, "journal.log_bytes")),
	       val(cur, "journal.ail_items"),
	       ratio(delta(cur, prev, "journal.zstd_in"),
		     delta(cur, prev, "journal.zstd_out")),
	       100.0 * ratio(bh, bh + bm), bm, 100.0 * ratio(ih, ih + im), im,
	       val(cur, "space.free_blocks") * val(cur, "space.block_size") >>
		       20,
	       cont, val(cur, "alloc.pages_used") * KV_PAGE_SIZE >> 20);
	fflush(stdout);
}

static int watch(const char *mnt, unsigned secs, struct snap *cur)
{
	struct snap prev = { 0 }, t;
	unsigned lines = 0;
	int err = 0;

	print_line(cur, NULL);
	lines++;
	for (;;) {
		struct timespec ts = { .tv_sec = secs };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		t = prev;
		prev = *cur;
		*cur = t;
		err = fetch(mnt, cur);
		if (err)
			break;
		if (lines % HEADER_EVERY == 0)
			print_header();
		print_line(cur, &prev);
		lines++;
	}
	free(prev.f);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snap s = { 0 };
	unsigned long secs = 0;
	bool json = false;
	char *end;
	int c, err;

	while ((c = getopt_long(argc, argv, "w:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			errno = 0;
			secs = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || !secs ||
			    secs > 86400) {
				fprintf(stderr,
					"%s: bad interval '%s' (1..86400 seconds)\n",
					prog, optarg);
				return 1;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	if (json && secs) {
		fprintf(stderr, "%s: -w and --json do not go together\n", prog);
		return 1;
	}
	err = fetch(argv[optind], &s);
	if (err) {
		free(s.f);
		return 1;
	}
	if (secs) {
		print_header();
		err = watch(argv[optind], secs, &s);
		free(s.f);
		return err ? 2 : 0;
	}
	if (json)
		err = print_json(&s);
	else
		print_all(argv[optind], &s);
	free(s.f);
	return err ? 1 : 0;
}
