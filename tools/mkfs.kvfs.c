// SPDX-License-Identifier: GPL-2.0
/*
 * mkfs.kvfs: make a kvfs filesystem.  A thin front end over kvfs_mkfs()
 * (fs/format/mkfs.c): parse options, print the geometry, report errors.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/kvalloc.h"
#include "fs/format/mkfs.h"
#include "fs/io/blkhdr.h"
#include "fs/format/sb.h"
#include "journal/bug.h"
#include "tools/report.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: mkfs.kvfs [options] TARGET\n"
		"Make a kvfs filesystem (format v%d) on an image file or block device.\n"
		"\n"
		"  -s SIZE       create or extend the image file to SIZE bytes\n"
		"                (suffixes K, M, G, T: powers of 1024)\n"
		"  -b BLOCKSIZE  block size: 1K, 2K, 4K (default), 8K .. 64K\n"
		"  -a AGCOUNT    number of allocation groups\n"
		"  -A AGSIZE     size of each allocation group (16M .. 1T)\n"
		"  -l LOGSIZE    internal log size (at least 4M)\n"
		"  -L LABEL      filesystem label (up to %d bytes)\n"
		"  -U UUID       filesystem UUID (default: random)\n"
		"  -f            overwrite an existing filesystem signature\n"
		"  -n            print the geometry, write nothing\n"
		"  -n size=SIZE  directory block size: 4K (default, or the\n"
		"                block size if larger) .. 64K\n"
		"  -q            quiet: do not print the geometry\n"
		"  -V            print the version and exit\n"
		"  -h            this help\n",
		KVFS_VERSION, KVFS_LABEL_MAX);
}

static int parse_size_opt(int opt, const char *arg, uint64_t *out)
{
	if (kvfs_parse_size(arg, out) || !*out) {
		fprintf(stderr, "mkfs.kvfs: invalid size \"%s\" for -%c\n", arg,
			opt);
		return -1;
	}
	return 0;
}

/*
 * What the core reports while it reads the target (an old filesystem's
 * superblock, the blocks it verifies after writing them): the library
 * never prints.
 */
static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "mkfs.kvfs: %s: %s\n", (const char *)priv, line);
}

/* The geometry, the way mkfs.xfs prints it. */
static void print_geom(const struct kvfs_geom *g, const char *target, FILE *f)
{
	char uuid[37];

	kvfs_uuid_format(g->uuid, uuid);
	fprintf(f, "meta-data=%-22s isize=%-6u agcount=%u, agsize=%u blks\n",
		target, g->inodesize, g->agcount, g->agblocks);
	fprintf(f, "         =%-22s lastag=%-5u uuid=%s\n", "",
		kvfs_ag_length(g, g->agcount - 1), uuid);
	fprintf(f, "         =%-22s label=\"%s\"\n", "", g->label);
	fprintf(f, "data     =%-22s bsize=%-6u blocks=%" PRIu64 "\n", "",
		g->blocksize, g->dblocks);
	fprintf(f,
		"inodes   =%-22s chunk=%-6u blks=%u, root=%" PRIu64
		", lost+found=%" PRIu64 "\n",
		"", g->ialloc_inos, g->ialloc_blocks, g->rootino, g->lpfino);
	fprintf(f, "naming   =%-22s bsize=%-6u\n", "", g->dirblksize);
	fprintf(f, "log      =%-22s bsize=%-6u blocks=%u, start=%" PRIu64 "\n",
		"internal log", g->blocksize, g->logblocks, g->logstart);
	fprintf(f,
		"free     =%-22s blocks=%" PRIu64 ", inodes=%" PRIu64
		"/%" PRIu64 "\n",
		"", g->fdblocks, g->ifree, g->icount);
}

int main(int argc, char **argv)
{
	struct kvfs_mkfs_opts o = { 0 };
	uint8_t uuid[KVFS_UUID_SIZE];
	bool quiet = false;
	struct kvfs_geom g;
	uint64_t v;
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, ret;

	tool_report_init("mkfs.kvfs");
	kvj_bug_set_hook(kvj_bug_stderr);
	while ((opt = getopt_long(argc, argv, "s:b:a:A:l:L:U:fnqVh", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_size_opt(opt, optarg, &o.size))
				return 1;
			break;
		case 'b':
			if (parse_size_opt(opt, optarg, &v))
				return 1;
			if (v > UINT32_MAX) {
				fprintf(stderr,
					"mkfs.kvfs: block size %s is too large\n",
					optarg);
				return 1;
			}
			o.blocksize = (uint32_t)v;
			break;
		case 'a':
			if (kvfs_parse_size(optarg, &v) || !v ||
			    v > UINT32_MAX) {
				fprintf(stderr,
					"mkfs.kvfs: invalid AG count \"%s\"\n",
					optarg);
				return 1;
			}
			o.agcount = (uint32_t)v;
			break;
		case 'A':
			if (parse_size_opt(opt, optarg, &o.agsize))
				return 1;
			break;
		case 'l':
			if (parse_size_opt(opt, optarg, &o.logsize))
				return 1;
			break;
		case 'L':
			o.label = optarg;
			break;
		case 'U':
			if (kvfs_uuid_parse(optarg, uuid)) {
				fprintf(stderr,
					"mkfs.kvfs: invalid UUID \"%s\"\n",
					optarg);
				return 1;
			}
			o.uuid = uuid;
			break;
		case 'f':
			o.force = true;
			break;
		case 'n':
			/* -n size=SIZE (as XFS's naming option), else a dry run */
			if (optind < argc &&
			    !strncmp(argv[optind], "size=", 5)) {
				if (parse_size_opt(opt, argv[optind] + 5, &v))
					return 1;
				if (v > UINT32_MAX) {
					fprintf(stderr,
						"mkfs.kvfs: directory block "
						"size %s is too large\n",
						argv[optind] + 5);
					return 1;
				}
				o.dirblksize = (uint32_t)v;
				optind++;
				break;
			}
			o.dry_run = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'V':
			printf("mkfs.kvfs %s (on-disk format v%d)\n",
			       KV_VERSION, KVFS_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "mkfs.kvfs: %s\n",
			optind == argc ? "no target given" :
					 "too many arguments");
		usage(stderr);
		return 1;
	}
	o.target = argv[optind];
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "mkfs.kvfs: cannot initialise memory: %s\n",
			strerror(-ret));
		return 1;
	}
	kvfs_report_set_sink(print_report, (void *)o.target);
	ret = kvfs_mkfs(&o, &g);
	if (ret)
		fprintf(stderr, "mkfs.kvfs: %s\n", o.err);
	else if (!quiet || o.dry_run)
		print_geom(&g, o.target, stdout);
	kv_fini();
	return ret ? 1 : 0;
}
