// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db: read-only inspector of a kvfs filesystem, like xfs_db.  Every
 * decoder is a libkvfs verifier (fs/); this file only prints.  Commands
 * live in one table: add a row to add a command.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/kvalloc.h"
#include "fs/ag.h"
#include "fs/blkhdr.h"
#include "fs/btblock.h"
#include "fs/check.h"
#include "fs/dev.h"
#include "fs/dinode.h"
#include "fs/sb.h"
#include "journal/crc32c.h"

struct db {
	struct kv_dev *dev;
	struct kvfs_geom g;
	bool sb_ok; /* false: only raw block access is possible */
};

struct db_cmd {
	const char *name;
	const char *args;
	const char *help;
	int min_args, max_args;
	bool raw_ok; /* usable when the superblock is damaged */
	int (*fn)(struct db *db, int argc, char **argv);
};

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static int parse_agno(struct db *db, const char *s, uint32_t *agno)
{
	uint64_t v;

	if (parse_u64(s, &v) || v >= db->g.agcount) {
		fprintf(stderr, "kvfs-db: invalid AG \"%s\" (AGs 0..%u)\n", s,
			db->g.agcount - 1);
		return -EINVAL;
	}
	*agno = (uint32_t)v;
	return 0;
}

static void print_hdr(const void *blk, size_t len)
{
	const struct kvfs_blk_hdr *h = blk;
	uint32_t stored = kv_le32_to_cpu(h->crc);
	uint32_t crc = kv_crc32c_block(blk, len, KVFS_BLK_CRC_OFF);
	char m[5], uuid[37];

	kvfs_magic_str(kv_le32_to_cpu(h->magic), m);
	kvfs_uuid_format(h->uuid, uuid);
	printf("magic = 0x%08x (\"%s\")\n", kv_le32_to_cpu(h->magic), m);
	printf("crc = 0x%08x (%s)\n", stored,
	       stored == crc ? "correct" : "bad");
	printf("blkno = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(h->blkno));
	printf("lsn = 0x%" PRIx64 "\n", (uint64_t)kv_le64_to_cpu(h->lsn));
	printf("owner = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(h->owner));
	printf("uuid = %s\n", uuid);
}

static int read_blk(struct db *db, uint64_t fsb, void *blk)
{
	int ret = kvfs_read_blocks(db->dev, &db->g, fsb, 1, blk);

	if (ret)
		fprintf(stderr, "kvfs-db: cannot read block %" PRIu64 ": %s\n",
			fsb, strerror(-ret));
	return ret;
}

static int cmd_sb(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	struct kvfs_geom s;
	uint32_t agno = 0;
	char uuid[37];
	void *blk;
	int ret;

	if (argc > 0 && parse_agno(db, argv[0], &agno))
		return -EINVAL;
	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = read_blk(db, kvfs_agb_to_fsb(g, agno, KVFS_SB_AGBNO), blk);
	if (!ret)
		ret = kvfs_sb_from_disk(blk, g->blocksize, agno, g->uuid, &s);
	if (ret)
		goto out;
	kvfs_uuid_format(s.uuid, uuid);
	print_hdr(blk, g->blocksize);
	printf("version = %d\n", KVFS_VERSION);
	printf("blocksize = %u\n", s.blocksize);
	printf("blocklog = %u\n", s.blocklog);
	printf("dblocks = %" PRIu64 "\n", s.dblocks);
	printf("agblocks = %u\n", s.agblocks);
	printf("agcount = %u\n", s.agcount);
	printf("agblklog = %u\n", s.agblklog);
	printf("logstart = %" PRIu64 "\n", s.logstart);
	printf("logblocks = %u\n", s.logblocks);
	printf("inodesize = %u\n", s.inodesize);
	printf("inodelog = %u\n", s.inodelog);
	printf("inopblog = %u\n", s.inopblog);
	printf("ialloc_blocks = %u\n", s.ialloc_blocks);
	printf("state = %s\n", s.state == KVFS_STATE_CLEAN ? "clean" : "dirty");
	printf("features_compat = 0x%x\n", s.feat_compat);
	printf("features_ro_compat = 0x%x\n", s.feat_ro_compat);
	printf("features_incompat = 0x%x\n", s.feat_incompat);
	printf("rootino = %" PRIu64 "\n", s.rootino);
	printf("lpfino = %" PRIu64 "\n", s.lpfino);
	printf("icount = %" PRIu64 "\n", s.icount);
	printf("ifree = %" PRIu64 "\n", s.ifree);
	printf("fdblocks = %" PRIu64 "\n", s.fdblocks);
	printf("ctime = %" PRIu64 "\n", s.ctime_sec);
	printf("fsuuid = %s\n", uuid);
	printf("label = \"%s\"\n", s.label);
out:
	kvfree(blk);
	return ret;
}

static int load_agh(struct db *db, uint32_t agno, struct kvfs_ag_info *a,
		    void *blk)
{
	int ret = read_blk(db, kvfs_agb_to_fsb(&db->g, agno, KVFS_AGH_AGBNO),
			   blk);

	return ret ? ret : kvfs_agh_from_disk(&db->g, agno, blk, a);
}

static int cmd_ag(struct db *db, int argc, char **argv)
{
	struct kvfs_ag_info a;
	uint32_t agno;
	void *blk;
	int ret;

	(void)argc;
	if (parse_agno(db, argv[0], &agno))
		return -EINVAL;
	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_agh(db, agno, &a, blk);
	if (!ret) {
		print_hdr(blk, db->g.blocksize);
		printf("agno = %u\n", a.agno);
		printf("length = %u\n", a.length);
		printf("bno_root = %u\n", a.bno_root);
		printf("bno_level = %u\n", a.bno_level);
		printf("cnt_root = %u\n", a.cnt_root);
		printf("cnt_level = %u\n", a.cnt_level);
		printf("ino_root = %u\n", a.ino_root);
		printf("ino_level = %u\n", a.ino_level);
		printf("freeblks = %u\n", a.freeblks);
		printf("longest = %u\n", a.longest);
		printf("free_extents = %u\n", a.free_extents);
		printf("icount = %u\n", a.icount);
		printf("ifree = %u\n", a.ifree);
		if (a.newino == KVFS_NULLAGBLOCK)
			printf("newino = null\n");
		else
			printf("newino = %u\n", a.newino);
	}
	kvfree(blk);
	return ret;
}

struct freesp {
	bool verbose;
	uint64_t nr, blocks;
	uint64_t hist_nr[33], hist_blocks[33];
};

static int freesp_rec(const void *rec, void *priv)
{
	const struct kvfs_alloc_rec *r = rec;
	struct freesp *f = priv;
	uint32_t len = kv_le32_to_cpu(r->blockcount);
	unsigned b = 31 - (unsigned)__builtin_clz(len);

	if (f->verbose)
		printf("extent %u %u\n", kv_le32_to_cpu(r->startblock), len);
	f->nr++;
	f->blocks += len;
	f->hist_nr[b]++;
	f->hist_blocks[b] += len;
	return 0;
}

static int cmd_freesp(struct db *db, int argc, char **argv)
{
	struct freesp f = { .verbose = argc > 1 && !strcmp(argv[1], "-v") };
	struct kvfs_ag_info a;
	uint32_t agno;
	void *blk;
	int ret;

	if (argc > 1 && !f.verbose) {
		fprintf(stderr, "kvfs-db: freesp: unknown option \"%s\"\n",
			argv[1]);
		return -EINVAL;
	}
	if (parse_agno(db, argv[0], &agno))
		return -EINVAL;
	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_agh(db, agno, &a, blk);
	if (!ret)
		ret = kvfs_btree_walk(db->dev, &db->g, &kvfs_bnobt_ops, agno,
				      kvfs_agb_to_fsb(&db->g, agno, a.bno_root),
				      a.bno_level, freesp_rec, &f, NULL);
	kvfree(blk);
	if (ret)
		return ret;
	printf("%10s %10s %10s %12s %7s\n", "from", "to", "extents", "blocks",
	       "pct");
	for (unsigned b = 0; b < 33; b++)
		if (f.hist_nr[b])
			printf("%10llu %10llu %10" PRIu64 " %12" PRIu64
			       " %7.2f\n",
			       1ULL << b, (2ULL << b) - 1, f.hist_nr[b],
			       f.hist_blocks[b],
			       100.0 * (double)f.hist_blocks[b] /
				       (double)f.blocks);
	printf("total free extents %" PRIu64 "\n", f.nr);
	printf("total free blocks %" PRIu64 "\n", f.blocks);
	printf("average free extent size %g\n",
	       f.nr ? (double)f.blocks / (double)f.nr : 0.0);
	return 0;
}

static void print_ts(const char *name, const struct kvfs_timestamp *t)
{
	printf("%s = %" PRIu64 ".%09u\n", name,
	       (uint64_t)kv_le64_to_cpu(t->sec), kv_le32_to_cpu(t->nsec));
}

static int cmd_inode(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	const struct kvfs_dinode *d;
	uint64_t ino, fsb;
	uint8_t *blk;
	int ret;

	(void)argc;
	if (parse_u64(argv[0], &ino) || !kvfs_ino_in_range(g, ino)) {
		fprintf(stderr, "kvfs-db: invalid inode number \"%s\"\n",
			argv[0]);
		return -EINVAL;
	}
	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	fsb = kvfs_ino_to_fsb(g, ino);
	d = (const void *)(blk + kvfs_ino_to_offset(g, ino));
	ret = read_blk(db, fsb, blk);
	if (!ret)
		ret = kvfs_dinode_verify(d, g, ino);
	if (ret)
		goto out;
	print_hdr(d, g->inodesize);
	printf("ino = %" PRIu64 "\n", ino);
	printf("mode = 0%o\n", kv_le16_to_cpu(d->mode));
	printf("version = %u\n", d->version);
	printf("format = %s\n", d->dformat == KVFS_DFORK_INLINE	 ? "inline" :
				d->dformat == KVFS_DFORK_EXTENTS ? "extents" :
								   "btree");
	printf("nlink = %u\n", kv_le32_to_cpu(d->nlink));
	printf("uid = %u\n", kv_le32_to_cpu(d->uid));
	printf("gid = %u\n", kv_le32_to_cpu(d->gid));
	printf("size = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(d->size));
	printf("nblocks = %" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(d->nblocks));
	print_ts("atime", &d->atime);
	print_ts("mtime", &d->mtime);
	print_ts("ctime", &d->ctime);
	print_ts("crtime", &d->crtime);
	printf("generation = %u\n", kv_le32_to_cpu(d->generation));
	printf("flags = 0x%x\n", kv_le32_to_cpu(d->flags));
	printf("nextents = %u\n", kv_le32_to_cpu(d->nextents));
	printf("forkoff = %u\n", kv_le16_to_cpu(d->forkoff));
	printf("next_unlinked = %" PRIu64 "\n",
	       (uint64_t)kv_le64_to_cpu(d->next_unlinked));
	if (d->dformat == KVFS_DFORK_INLINE &&
	    S_ISDIR(kv_le16_to_cpu(d->mode))) {
		const struct kvfs_dir_sf_ent *e;
		uint32_t pos = 0;

		for (unsigned i = 0; (e = kvfs_dir_sf_next(d, &pos)); i++)
			printf("entry[%u] = cookie %u ino %" PRIu64
			       " ftype %u name \"%.*s\"\n",
			       i, kv_le32_to_cpu(e->cookie),
			       (uint64_t)kv_le64_to_cpu(e->ino), e->ftype,
			       e->namelen, (const char *)e->name);
	} else if (d->dformat == KVFS_DFORK_EXTENTS) {
		const struct kvfs_extent *x =
			(const void *)((const uint8_t *)d +
				       KVFS_DINODE_CORE_SIZE);

		for (uint32_t i = 0; i < kv_le32_to_cpu(d->nextents); i++)
			printf("extent[%u] = off %" PRIu64 " block %" PRIu64
			       " len %u%s\n",
			       i, (uint64_t)kv_le64_to_cpu(x[i].startoff),
			       (uint64_t)kv_le64_to_cpu(x[i].startblock),
			       kv_le32_to_cpu(x[i].blockcount),
			       kv_le32_to_cpu(x[i].flags) & KVFS_EXT_UNWRITTEN ?
				       " unwritten" :
				       "");
	}
out:
	kvfree(blk);
	return ret;
}

static void hexdump(const uint8_t *p, size_t len)
{
	bool starred = false;

	for (size_t off = 0; off < len; off += 16) {
		if (off && off + 16 <= len &&
		    !memcmp(p + off, p + off - 16, 16)) {
			if (!starred)
				printf("*\n");
			starred = true;
			continue;
		}
		starred = false;
		printf("%06zx:", off);
		for (size_t i = 0; i < 16 && off + i < len; i++)
			printf("%s%02x", i == 8 ? "  " : " ", p[off + i]);
		printf("  ");
		for (size_t i = 0; i < 16 && off + i < len; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		putchar('\n');
	}
	printf("%06zx\n", len);
}

static bool known_magic(uint32_t m)
{
	return m == KVFS_SB_MAGIC || m == KVFS_AGH_MAGIC ||
	       m == KVFS_BNOBT_MAGIC || m == KVFS_CNTBT_MAGIC ||
	       m == KVFS_INOBT_MAGIC || m == KVFS_BMBT_MAGIC;
}

static int cmd_block(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	const struct kvfs_blk_hdr *h;
	uint64_t fsb, nblocks = kv_dev_size(db->dev) >> g->blocklog;
	uint8_t *blk;
	int ret;

	(void)argc;
	if (db->sb_ok)
		nblocks = g->dblocks;
	if (parse_u64(argv[0], &fsb) || fsb >= nblocks) {
		fprintf(stderr,
			"kvfs-db: invalid block \"%s\" (0..%" PRIu64 ")\n",
			argv[0], nblocks - 1);
		return -EINVAL;
	}
	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = kv_dev_pread(db->dev, blk, g->blocksize,
			   kvfs_fsb_to_bytes(g, fsb));
	if (ret) {
		fprintf(stderr, "kvfs-db: cannot read block %" PRIu64 ": %s\n",
			fsb, strerror(-ret));
		goto out;
	}
	h = (const void *)blk;
	printf("block %" PRIu64 " (%u bytes)\n", fsb, g->blocksize);
	if (known_magic(kv_le32_to_cpu(h->magic)))
		print_hdr(blk, g->blocksize);
	else
		printf("no kvfs block header\n");
	hexdump(blk, g->blocksize);
	if (known_magic(kv_le32_to_cpu(h->magic)))
		ret = kvfs_blkhdr_verify(blk, g->blocksize,
					 kv_le32_to_cpu(h->magic), fsb,
					 kv_le64_to_cpu(h->owner),
					 db->sb_ok ? g->uuid : NULL, "block");
out:
	kvfree(blk);
	return ret;
}

static int cmd_check_crc(struct db *db, int argc, char **argv)
{
	struct kvfs_check_stats st;
	int ret;

	(void)argc;
	(void)argv;
	ret = kvfs_check_fs(db->dev, &db->g, &st);
	printf("checked %" PRIu64 " superblocks, %" PRIu64
	       " AG headers, %" PRIu64 " tree blocks, %" PRIu64 " inodes\n",
	       st.sbs, st.aghs, st.tree_blocks, st.inodes);
	printf("%" PRIu64 " checksum errors, %" PRIu64 " other errors\n",
	       st.crc_errors, st.other_errors);
	if (ret && ret != -EBADMSG && ret != -EUCLEAN)
		fprintf(stderr, "kvfs-db: check-crc: %s\n", strerror(-ret));
	return ret;
}

static int cmd_help(struct db *db, int argc, char **argv);

static const struct db_cmd db_cmds[] = {
	{ "sb", "[AG]", "decode and verify a superblock (default AG 0)", 0, 1,
	  false, cmd_sb },
	{ "ag", "AG", "decode and verify an AG header and its counters", 1, 1,
	  false, cmd_ag },
	{ "freesp", "AG [-v]",
	  "free extents of an AG (-v: list them), from its by-block tree", 1, 2,
	  false, cmd_freesp },
	{ "inode", "INO", "decode and verify an inode", 1, 1, false,
	  cmd_inode },
	{ "block", "N", "hex dump of block N with its decoded header", 1, 1,
	  true, cmd_block },
	{ "check-crc", "",
	  "verify every metadata block (checksums and structure)", 0, 0, false,
	  cmd_check_crc },
	{ "help", "", "list the commands", 0, 0, true, cmd_help },
	{ NULL, NULL, NULL, 0, 0, false, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: kvfs-db TARGET COMMAND [ARGS...]\n"
		   "Read-only inspector of a kvfs filesystem.\n\nCommands:\n");
	for (const struct db_cmd *c = db_cmds; c->name; c++)
		fprintf(f, "  %-10s %-8s %s\n", c->name, c->args, c->help);
	fprintf(f, "\nExit status: 0 ok, 1 corruption or error, 2 usage.\n");
}

static int cmd_help(struct db *db, int argc, char **argv)
{
	(void)db;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* Open the target and read its superblock (or fall back to raw access). */
static int db_open(struct db *db, const char *path, bool raw_ok)
{
	int ret = kv_dev_open(path, KV_DEV_RDONLY, &db->dev);

	if (ret) {
		fprintf(stderr, "kvfs-db: cannot open %s: %s\n", path,
			strerror(-ret));
		return ret;
	}
	ret = kvfs_sb_read(db->dev, &db->g);
	if (ret == -ENODATA)
		fprintf(stderr, "kvfs-db: %s: no kvfs superblock\n", path);
	else if (ret && ret != -EBADMSG && ret != -EUCLEAN)
		fprintf(stderr, "kvfs-db: %s: cannot read the superblock: %s\n",
			path, strerror(-ret));
	if (!ret)
		ret = kvfs_sb_check_features(&db->g, true);
	db->sb_ok = !ret;
	if (ret && raw_ok) {
		/* still dump raw blocks, at the default block size */
		db->g = (struct kvfs_geom){
			.blocksize = 1u << KVFS_DEF_BLOCKLOG,
			.blocklog = KVFS_DEF_BLOCKLOG,
		};
		fprintf(stderr,
			"kvfs-db: warning: no valid superblock, "
			"using %u-byte blocks\n",
			db->g.blocksize);
		ret = 0;
	}
	if (ret)
		kv_dev_close(db->dev);
	return ret;
}

int main(int argc, char **argv)
{
	const struct db_cmd *c;
	struct db db = { 0 };
	int nargs, ret;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 3) {
		usage(stderr);
		return 2;
	}
	for (c = db_cmds; c->name && strcmp(c->name, argv[2]); c++)
		;
	nargs = argc - 3;
	if (!c->name) {
		fprintf(stderr, "kvfs-db: unknown command \"%s\"\n", argv[2]);
		return 2;
	}
	if (nargs < c->min_args || nargs > c->max_args) {
		fprintf(stderr, "kvfs-db: usage: %s %s\n", c->name, c->args);
		return 2;
	}
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "kvfs-db: cannot initialise memory: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = db_open(&db, argv[1], c->raw_ok);
	if (!ret) {
		ret = c->fn(&db, nargs, argv + 3);
		kv_dev_close(db.dev);
	}
	kv_fini();
	if (ret == -EINVAL)
		return 2;
	return ret ? 1 : 0;
}
