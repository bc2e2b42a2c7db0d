// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db: inspector of a kvfs filesystem, like xfs_db.  Every decoder is
 * libkvfs's (fs/: verifiers, the directory, attribute and extent-map
 * code through a read-only mount); this file only prints, and in expert
 * mode (-x) writes named fields and flips bits.  Structures are described
 * by field tables (name, offset, kind; the kind gives the size) that both
 * printing and writing use.  Commands live in one table: add a row to add
 * a command.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/data/bmap.h"
#include "fs/btree/btblock.h"
#include "fs/check/check.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/ns/dir.h"
#include "fs/inode/icache.h"
#include "fs/inode/inode.h"
#include "fs/kvfs.h"
#include "fs/check/metablk.h"
#include "fs/mount.h"
#include "fs/format/sb.h"
#include "journal/bug.h"
#include "journal/crc32c.h"
#include "journal/journal.h"
#include "tools/report.h"

struct db {
	const char *path;
	bool expert; /* -x: the device is open read-write */
	struct kv_dev *dev;
	struct kvfs_geom g;
	bool sb_ok; /* false: only raw block access is possible */
};

/*
 * The kinds of a command's words.  The dispatcher checks them all (after
 * the filesystem is open: an AG or inode number is checked against its
 * geometry) before the command runs, which finds them in struct db_args.
 */
enum arg {
	A_NONE,
	A_AG, /* an AG of the filesystem */
	A_INO, /* an inode number within the geometry */
	A_BLOCK, /* a block of the filesystem (of the device, raw) */
	A_WORD, /* taken as it is */
};

#define MAX_SPEC 3

struct db_args {
	uint32_t agno; /* A_AG (0 when an optional AG is left out) */
	uint64_t ino; /* A_INO */
	uint64_t fsb; /* A_BLOCK */
	const char *word[MAX_SPEC]; /* every word of the spec, as given */
	bool opt; /* the command's option was given */
	/* all the words, for commands with a grammar of their own */
	int argc;
	char **argv;
};

struct db_cmd {
	const char *name;
	const char *args;
	const char *help;
	int min_args, max_args;
	/* the words' kinds in order (A_NONE: the command parses argv) */
	enum arg spec[MAX_SPEC];
	const char *opt; /* an option after the words ("-v"), or NULL */
	bool raw_ok; /* usable when the superblock is damaged */
	bool writes; /* needs expert mode */
	int (*fn)(struct db *db, const struct db_args *a);
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

static int parse_ino(struct db *db, const char *s, uint64_t *ino)
{
	if (parse_u64(s, ino) || !kvfs_ino_in_range(&db->g, *ino)) {
		fprintf(stderr, "kvfs-db: invalid inode number \"%s\"\n", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_block(struct db *db, const char *s, uint64_t *fsb)
{
	uint64_t nblocks = db->sb_ok ? db->g.dblocks :
				       kv_dev_size(db->dev) >> db->g.blocklog;

	if (parse_u64(s, fsb) || *fsb >= nblocks) {
		fprintf(stderr,
			"kvfs-db: invalid block \"%s\" (0..%" PRIu64 ")\n", s,
			nblocks - 1);
		return -EINVAL;
	}
	return 0;
}

/*
 * The n words w of a command or write target named name, by spec (the
 * words up to MAX_SPEC, then opt if the command takes one) into a.
 * -EINVAL, said on stderr, when one is not what its kind wants.
 */
static int parse_args(struct db *db, const char *name, const enum arg *spec,
		      const char *opt, char **w, int n, struct db_args *a)
{
	memset(a, 0, sizeof(*a));
	a->argc = n;
	a->argv = w;
	if (opt && n > 0 && (n > MAX_SPEC || spec[n - 1] == A_NONE)) {
		if (strcmp(w[n - 1], opt)) {
			fprintf(stderr, "kvfs-db: %s: unknown option \"%s\"\n",
				name, w[n - 1]);
			return -EINVAL;
		}
		a->opt = true;
		n--;
	}
	for (int i = 0; i < n && i < MAX_SPEC && spec[i] != A_NONE; i++) {
		int ret = 0;

		a->word[i] = w[i];
		if (spec[i] == A_AG)
			ret = parse_agno(db, w[i], &a->agno);
		else if (spec[i] == A_INO)
			ret = parse_ino(db, w[i], &a->ino);
		else if (spec[i] == A_BLOCK)
			ret = parse_block(db, w[i], &a->fsb);
		if (ret)
			return ret;
	}
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

static int read_blk_n(struct db *db, uint64_t fsb, uint32_t n, void *blk)
{
	int ret = kvfs_read_blocks(db->dev, &db->g, fsb, n, blk);

	if (ret)
		fprintf(stderr, "kvfs-db: cannot read block %" PRIu64 ": %s\n",
			fsb, strerror(-ret));
	return ret;
}

static int read_blk(struct db *db, uint64_t fsb, void *blk)
{
	return read_blk_n(db, fsb, 1, blk);
}

/*
 * Field printing is driven by tables of {name, offset, type} over the
 * on-disk structures (verified first), so a new field is one row.
 */
enum ftype {
	F_U8,
	F_U16,
	F_U32,
	F_U64,
	F_HEX16,
	F_HEX32,
	F_HEX64,
	F_OCT16, /* file mode */
	F_NULLAG, /* u32, "null" for KVFS_NULLAGBLOCK / KVFS_NULLAGINO */
	F_STATE, /* u16 superblock state */
	F_UUID,
	F_LABEL,
	F_TS, /* struct kvfs_timestamp, signed seconds */
	F_FORMAT, /* u8 fork format */
};

struct field {
	const char *name;
	size_t off;
	enum ftype type;
};

#define FLD(s, name, f, t)                     \
	{                                      \
		name, offsetof(struct s, f), t \
	}

static const char *fork_format_name(uint8_t f)
{
	switch (f) {
	case 0:
		return "none";
	case KVFS_DFORK_INLINE:
		return "inline";
	case KVFS_DFORK_EXTENTS:
		return "extents";
	case KVFS_DFORK_BTREE:
		return "btree";
	}
	return "unknown";
}

/* One field at p, "prefix.name = value" (no prefix: "name = value"). */
static void print_field(const void *p, const char *prefix, const char *name,
			enum ftype type)
{
	kv_le16 v16;
	kv_le32 v32;
	kv_le64 v64;
	char uuid[37];

	memcpy(&v16, p, sizeof(v16));
	memcpy(&v32, p, sizeof(v32));
	memcpy(&v64, p, sizeof(v64));
	printf("%s%s%s = ", prefix ? prefix : "", prefix && *name ? "." : "",
	       name);
	switch (type) {
	case F_U8:
		printf("%u\n", *(const uint8_t *)p);
		break;
	case F_U16:
		printf("%u\n", kv_le16_to_cpu(v16));
		break;
	case F_U32:
		printf("%u\n", kv_le32_to_cpu(v32));
		break;
	case F_U64:
		printf("%" PRIu64 "\n", (uint64_t)kv_le64_to_cpu(v64));
		break;
	case F_HEX16:
		printf("0x%x\n", kv_le16_to_cpu(v16));
		break;
	case F_HEX32:
		printf("0x%x\n", kv_le32_to_cpu(v32));
		break;
	case F_HEX64:
		printf("0x%" PRIx64 "\n", (uint64_t)kv_le64_to_cpu(v64));
		break;
	case F_OCT16:
		printf("0%o\n", kv_le16_to_cpu(v16));
		break;
	case F_NULLAG:
		if (kv_le32_to_cpu(v32) == KVFS_NULLAGBLOCK)
			printf("null\n");
		else
			printf("%u\n", kv_le32_to_cpu(v32));
		break;
	case F_STATE:
		printf("%s\n", kvfs_sb_state_name(kv_le16_to_cpu(v16)));
		break;
	case F_UUID:
		kvfs_uuid_format(p, uuid);
		printf("%s\n", uuid);
		break;
	case F_LABEL:
		printf("\"%.*s\"\n", KVFS_LABEL_MAX, (const char *)p);
		break;
	case F_TS: {
		const struct kvfs_timestamp *t = p;

		printf("%" PRId64 ".%09u\n", (int64_t)kv_le64_to_cpu(t->sec),
		       kv_le32_to_cpu(t->nsec));
		break;
	}
	case F_FORMAT:
		printf("%s\n", fork_format_name(*(const uint8_t *)p));
		break;
	}
}

static void print_fields_pfx(const void *base, const char *prefix,
			     const struct field *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		print_field((const uint8_t *)base + f[i].off, prefix, f[i].name,
			    f[i].type);
}

static void print_fields(const void *base, const struct field *f, size_t n)
{
	print_fields_pfx(base, NULL, f, n);
}

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

static const struct field sb_fields[] = {
	FLD(kvfs_dsb, "version", version, F_U32),
	FLD(kvfs_dsb, "blocksize", blocksize, F_U32),
	FLD(kvfs_dsb, "blocklog", blocklog, F_U8),
	FLD(kvfs_dsb, "dblocks", dblocks, F_U64),
	FLD(kvfs_dsb, "agblocks", agblocks, F_U32),
	FLD(kvfs_dsb, "agcount", agcount, F_U32),
	FLD(kvfs_dsb, "agblklog", agblklog, F_U8),
	FLD(kvfs_dsb, "logstart", logstart, F_U64),
	FLD(kvfs_dsb, "logblocks", logblocks, F_U32),
	FLD(kvfs_dsb, "inodesize", inodesize, F_U16),
	FLD(kvfs_dsb, "inodelog", inodelog, F_U8),
	FLD(kvfs_dsb, "inopblog", inopblog, F_U8),
	FLD(kvfs_dsb, "ialloc_blocks", ialloc_blocks, F_U32),
	FLD(kvfs_dsb, "state", state, F_STATE),
	FLD(kvfs_dsb, "features_compat", feat_compat, F_HEX32),
	FLD(kvfs_dsb, "features_ro_compat", feat_ro_compat, F_HEX32),
	FLD(kvfs_dsb, "features_incompat", feat_incompat, F_HEX32),
	FLD(kvfs_dsb, "features_log_incompat", feat_log_incompat, F_HEX32),
	FLD(kvfs_dsb, "rootino", rootino, F_U64),
	FLD(kvfs_dsb, "lpfino", lpfino, F_U64),
	FLD(kvfs_dsb, "icount", icount, F_U64),
	FLD(kvfs_dsb, "ifree", ifree, F_U64),
	FLD(kvfs_dsb, "fdblocks", fdblocks, F_U64),
	FLD(kvfs_dsb, "ctime", ctime_sec, F_U64),
	FLD(kvfs_dsb, "fsuuid", uuid, F_UUID),
	FLD(kvfs_dsb, "meta_uuid", hdr.uuid, F_UUID),
	FLD(kvfs_dsb, "label", label, F_LABEL),
};

static int cmd_sb(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	const uint32_t agno = a->agno;
	struct kvfs_geom s;
	void *blk;
	int ret;

	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = read_blk(db, kvfs_agb_to_fsb(g, agno, KVFS_SB_AGBNO), blk);
	if (!ret)
		ret = kvfs_sb_from_disk(blk, g->blocksize, agno, g->meta_uuid,
					&s);
	if (!ret) {
		print_hdr(blk, g->blocksize);
		print_fields(blk, sb_fields, NFIELDS(sb_fields));
		printf("agfl_min = %u\n", s.agfl_min);
	}
	kvfree(blk);
	return ret;
}

static const struct field agf_fields[] = {
	FLD(kvfs_agf, "agno", agno, F_U32),
	FLD(kvfs_agf, "length", length, F_U32),
	FLD(kvfs_agf, "bno_root", bno_root, F_U32),
	FLD(kvfs_agf, "bno_level", bno_level, F_U8),
	FLD(kvfs_agf, "cnt_root", cnt_root, F_U32),
	FLD(kvfs_agf, "cnt_level", cnt_level, F_U8),
	FLD(kvfs_agf, "freeblks", freeblks, F_U32),
	FLD(kvfs_agf, "longest", longest, F_U32),
	FLD(kvfs_agf, "free_extents", free_extents, F_U32),
	FLD(kvfs_agf, "btreeblks", btreeblks, F_U32),
	FLD(kvfs_agf, "flfirst", flfirst, F_U32),
	FLD(kvfs_agf, "fllast", fllast, F_U32),
	FLD(kvfs_agf, "flcount", flcount, F_U32),
};

/* The AGI's fields "ag" prints (it printed them when one header held all) */
static const struct field agi_fields[] = {
	FLD(kvfs_agi, "ino_root", ino_root, F_U32),
	FLD(kvfs_agi, "ino_level", ino_level, F_U8),
	FLD(kvfs_agi, "icount", icount, F_U32),
	FLD(kvfs_agi, "ifree", ifree, F_U32),
	FLD(kvfs_agi, "newino", newino, F_NULLAG),
};

static const struct field agi_id_fields[] = {
	FLD(kvfs_agi, "agno", agno, F_U32),
	FLD(kvfs_agi, "length", length, F_U32),
};

/* Read and verify AG agno's AGF (which) or AGI (!which) into blk. */
static int load_ag_hdr(struct db *db, uint32_t agno, bool agf, void *blk)
{
	struct kvfs_agf_info a;
	struct kvfs_agi_info i;
	int ret;

	ret = read_blk(db,
		       kvfs_agb_to_fsb(&db->g, agno,
				       agf ? KVFS_AGF_AGBNO : KVFS_AGI_AGBNO),
		       blk);
	if (ret)
		return ret;
	return agf ? kvfs_agf_from_disk(&db->g, agno, blk, &a) :
		     kvfs_agi_from_disk(&db->g, agno, blk, &i);
}

static void print_unlinked(const struct kvfs_agi *h)
{
	for (unsigned b = 0; b < KVFS_AGI_UNLINKED_BUCKETS; b++)
		if (kv_le32_to_cpu(h->unlinked[b]) != KVFS_NULLAGINO)
			printf("unlinked[%u] = %u\n", b,
			       kv_le32_to_cpu(h->unlinked[b]));
}

/* "ag": the free-space header with its own block header, then the AGI's. */
static int cmd_ag(struct db *db, const struct db_args *a)
{
	const uint32_t agno = a->agno;
	uint8_t *blk, *iblk;
	int ret;

	blk = kvmalloc(2 * (size_t)db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	iblk = blk + db->g.blocksize;
	ret = load_ag_hdr(db, agno, true, blk);
	if (!ret)
		ret = load_ag_hdr(db, agno, false, iblk);
	if (!ret) {
		print_hdr(blk, db->g.blocksize);
		print_fields(blk, agf_fields, NFIELDS(agf_fields));
		print_fields(iblk, agi_fields, NFIELDS(agi_fields));
		print_unlinked((const void *)iblk);
	}
	kvfree(blk);
	return ret;
}

static int cmd_agi(struct db *db, const struct db_args *a)
{
	void *blk;
	int ret;

	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_ag_hdr(db, a->agno, false, blk);
	if (!ret) {
		print_hdr(blk, db->g.blocksize);
		print_fields(blk, agi_id_fields, NFIELDS(agi_id_fields));
		print_fields(blk, agi_fields, NFIELDS(agi_fields));
		print_unlinked(blk);
	}
	kvfree(blk);
	return ret;
}

/* The reserve list: its header and the entries in use, per the AGF. */
static int cmd_agfl(struct db *db, const struct db_args *args)
{
	const struct kvfs_geom *g = &db->g;
	const uint32_t agno = args->agno;
	struct kvfs_agf_info a;
	uint8_t *blk;
	int ret;

	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_ag_hdr(db, agno, true, blk);
	if (!ret)
		ret = kvfs_agf_from_disk(g, agno, blk, &a);
	if (!ret)
		ret = read_blk(db, kvfs_agb_to_fsb(g, agno, KVFS_AGFL_AGBNO),
			       blk);
	if (!ret)
		ret = kvfs_agfl_verify(g, agno, blk);
	if (!ret) {
		print_hdr(blk, g->blocksize);
		printf("flcount = %u\n", a.flcount);
		for (uint32_t i = 0; i < a.flcount; i++) {
			uint32_t slot = (a.flfirst + i) % g->agfl_size;

			printf("bno[%u] = %u\n", slot,
			       kvfs_agfl_entry(blk, slot));
		}
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

static int cmd_freesp(struct db *db, const struct db_args *args)
{
	struct freesp f = { .verbose = args->opt };
	const uint32_t agno = args->agno;
	struct kvfs_agf_info a;
	void *blk;
	int ret;

	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_ag_hdr(db, agno, true, blk);
	if (!ret)
		ret = kvfs_agf_from_disk(&db->g, agno, blk, &a);
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

static const struct field inode_fields[] = {
	FLD(kvfs_dinode, "mode", mode, F_OCT16),
	FLD(kvfs_dinode, "version", version, F_U8),
	FLD(kvfs_dinode, "format", dformat, F_FORMAT),
	FLD(kvfs_dinode, "nlink", nlink, F_U32),
	FLD(kvfs_dinode, "uid", uid, F_U32),
	FLD(kvfs_dinode, "gid", gid, F_U32),
	FLD(kvfs_dinode, "size", size, F_U64),
	FLD(kvfs_dinode, "nblocks", nblocks, F_U64),
	FLD(kvfs_dinode, "atime", atime, F_TS),
	FLD(kvfs_dinode, "mtime", mtime, F_TS),
	FLD(kvfs_dinode, "ctime", ctime, F_TS),
	FLD(kvfs_dinode, "crtime", crtime, F_TS),
	FLD(kvfs_dinode, "generation", generation, F_U32),
	FLD(kvfs_dinode, "flags", flags, F_HEX32),
	FLD(kvfs_dinode, "nextents", nextents, F_U32),
	FLD(kvfs_dinode, "forkoff", forkoff, F_U16),
	FLD(kvfs_dinode, "aformat", aformat, F_FORMAT),
	FLD(kvfs_dinode, "anextents", anextents, F_U32),
	FLD(kvfs_dinode, "next_unlinked", next_unlinked, F_NULLAG),
	FLD(kvfs_dinode, "rdev", rdev, F_U64),
};

/* An extent list or btree root of a fork; prefix names its lines. */
static void print_fork(const uint8_t *fork, uint32_t size, uint8_t fmt,
		       uint32_t nextents, const char *prefix)
{
	if (fmt == KVFS_DFORK_EXTENTS) {
		const struct kvfs_extent *x = (const void *)fork;

		for (uint32_t i = 0; i < nextents; i++)
			printf("%s[%u] = off %" PRIu64 " block %" PRIu64
			       " len %u%s\n",
			       prefix, i,
			       (uint64_t)kv_le64_to_cpu(x[i].startoff),
			       (uint64_t)kv_le64_to_cpu(x[i].startblock),
			       kv_le32_to_cpu(x[i].blockcount),
			       kv_le32_to_cpu(x[i].flags) & KVFS_EXT_UNWRITTEN ?
				       " unwritten" :
				       "");
	} else if (fmt == KVFS_DFORK_BTREE) {
		const struct kvfs_bmdr_block *rb = (const void *)fork;
		uint32_t n = kv_le16_to_cpu(rb->numrecs);

		printf("%s_root = level %u numrecs %u\n", prefix,
		       kv_le16_to_cpu(rb->level), n);
		for (uint32_t i = 0; i < n; i++)
			printf("%s_key[%u] = off %" PRIu64 " child %" PRIu64
			       "\n",
			       prefix, i,
			       (uint64_t)kv_le64_to_cpu(
				       kvfs_bmdr_key(fork, i)->startoff),
			       (uint64_t)kv_le64_to_cpu(
				       *kvfs_bmdr_ptr(fork, size, i)));
	}
}

static int cmd_inode(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	const uint64_t ino = a->ino;
	const struct kvfs_dinode *d;
	const uint8_t *fork;
	uint32_t dsize;
	uint64_t fsb;
	uint8_t *blk;
	int ret;

	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	fsb = kvfs_ino_to_fsb(g, ino);
	d = (const void *)(blk + kvfs_ino_to_offset(g, ino));
	fork = (const uint8_t *)d + KVFS_DINODE_CORE_SIZE;
	ret = read_blk(db, fsb, blk);
	if (!ret)
		ret = kvfs_dinode_verify(d, g, ino);
	if (ret)
		goto out;
	print_hdr(d, g->inodesize);
	printf("ino = %" PRIu64 "\n", ino);
	print_fields(d, inode_fields, NFIELDS(inode_fields));
	dsize = kvfs_dinode_dfork_size(g, d);
	if (d->dformat == KVFS_DFORK_INLINE &&
	    S_ISDIR(kv_le16_to_cpu(d->mode))) {
		const struct kvfs_dir_sf_hdr *h = (const void *)fork;
		const struct kvfs_dir_sf_ent *e;
		uint32_t pos = 0;

		printf("parent = %" PRIu64 "\n",
		       (uint64_t)kv_le64_to_cpu(h->parent));
		for (unsigned i = 0; (e = kvfs_dir_sf_next(d, &pos)); i++)
			printf("entry[%u] = cookie %u ino %" PRIu64
			       " ftype %u name \"%.*s\"\n",
			       i, kv_le32_to_cpu(e->cookie),
			       (uint64_t)kv_le64_to_cpu(e->ino), e->ftype,
			       e->namelen, (const char *)e->name);
	} else {
		print_fork(fork, dsize, d->dformat, kv_le32_to_cpu(d->nextents),
			   "extent");
	}
	if (kv_le16_to_cpu(d->forkoff))
		print_fork(fork + dsize, kvfs_dinode_afork_size(g, d),
			   d->aformat, kv_le32_to_cpu(d->anextents), "aextent");
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
	return m == KVFS_SB_MAGIC || m == KVFS_AGF_MAGIC ||
	       m == KVFS_AGI_MAGIC || m == KVFS_AGFL_MAGIC ||
	       m == KVFS_BNOBT_MAGIC || m == KVFS_CNTBT_MAGIC ||
	       m == KVFS_INOBT_MAGIC || m == KVFS_BMBT_MAGIC;
}

static int cmd_block(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	const uint64_t fsb = a->fsb;
	const struct kvfs_blk_hdr *h;
	uint8_t *blk;
	int ret;

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
		ret = kvfs_blkhdr_verify(
			blk, g->blocksize, kv_le32_to_cpu(h->magic), fsb,
			kv_le64_to_cpu(h->owner),
			db->sb_ok ? g->meta_uuid : NULL, "block");
out:
	kvfree(blk);
	return ret;
}

static int cmd_check_crc(struct db *db, const struct db_args *a)
{
	struct kvfs_check_stats st;
	int ret;

	(void)a;
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

/* ---- field tables shared by the read commands and expert writes ---- */

static const struct field hdr_fields[] = {
	FLD(kvfs_blk_hdr, "magic", magic, F_HEX32),
	FLD(kvfs_blk_hdr, "crc", crc, F_HEX32),
	FLD(kvfs_blk_hdr, "blkno", blkno, F_U64),
	FLD(kvfs_blk_hdr, "lsn", lsn, F_U64),
	FLD(kvfs_blk_hdr, "owner", owner, F_U64),
	FLD(kvfs_blk_hdr, "uuid", uuid, F_UUID),
};

static const struct field btblock_fields[] = {
	FLD(kvfs_btree_block, "level", level, F_U16),
	FLD(kvfs_btree_block, "numrecs", numrecs, F_U16),
	FLD(kvfs_btree_block, "leftsib", leftsib, F_U64),
	FLD(kvfs_btree_block, "rightsib", rightsib, F_U64),
};

static const struct field alloc_rec_fields[] = {
	FLD(kvfs_alloc_rec, "startblock", startblock, F_U32),
	FLD(kvfs_alloc_rec, "blockcount", blockcount, F_U32),
};

static const struct field inobt_rec_fields[] = {
	FLD(kvfs_inobt_rec, "startino", startino, F_U32),
	FLD(kvfs_inobt_rec, "holemask", holemask, F_HEX16),
	FLD(kvfs_inobt_rec, "count", count, F_U8),
	FLD(kvfs_inobt_rec, "freecount", freecount, F_U8),
	FLD(kvfs_inobt_rec, "freemask", freemask, F_HEX64),
};

static const struct field inobt_key_fields[] = {
	FLD(kvfs_inobt_key, "startino", startino, F_U32),
};

static const struct field extent_fields[] = {
	FLD(kvfs_extent, "startoff", startoff, F_U64),
	FLD(kvfs_extent, "startblock", startblock, F_U64),
	FLD(kvfs_extent, "blockcount", blockcount, F_U32),
	FLD(kvfs_extent, "flags", flags, F_HEX32),
};

static const struct field bmbt_key_fields[] = {
	FLD(kvfs_bmbt_key, "startoff", startoff, F_U64),
};

/* The in-inode extent-tree root, at the start of the data fork. */
static const struct field bmdr_fields[] = {
	FLD(kvfs_bmdr_block, "u.bmdr.level", level, F_U16),
	FLD(kvfs_bmdr_block, "u.bmdr.numrecs", numrecs, F_U16),
};

/* A short-form directory's header, at the start of the data fork. */
static const struct field sfdir_fields[] = {
	FLD(kvfs_dir_sf_hdr, "u.sfdir.parent", parent, F_U64),
	FLD(kvfs_dir_sf_hdr, "u.sfdir.count", count, F_U16),
};

static const struct field sf_ent_fields[] = {
	FLD(kvfs_dir_sf_ent, "inumber", ino, F_U64),
	FLD(kvfs_dir_sf_ent, "namelen", namelen, F_U8),
	FLD(kvfs_dir_sf_ent, "type", ftype, F_U8),
	FLD(kvfs_dir_sf_ent, "cookie", cookie, F_U32),
};

static const struct field data_ent_fields[] = {
	FLD(kvfs_dir_data_ent, "inumber", ino, F_U64),
	FLD(kvfs_dir_data_ent, "namelen", namelen, F_U8),
	FLD(kvfs_dir_data_ent, "type", ftype, F_U8),
	FLD(kvfs_dir_data_ent, "reclen", reclen, F_U32),
};

/* A directory data block's header, and block 0's head after it. */
static const struct field dir_data_fields[] = {
	FLD(kvfs_dir_data_hdr, "dblk", dblk, F_U32),
	FLD(kvfs_dir_data_hdr, "bestfree", bestfree, F_U32),
	FLD(kvfs_dir_data_hdr, "nents", nents, F_U32),
	FLD(kvfs_dir_data_hdr, "idxlag", idxlag, F_U32),
};

static const struct field dir_head_fields[] = {
	FLD(kvfs_dir_head, "parent", parent, F_U64),
	FLD(kvfs_dir_head, "hash_root", hash_root, F_U64),
	FLD(kvfs_dir_head, "free_root", free_root, F_U64),
	FLD(kvfs_dir_head, "hash_level", hash_level, F_U8),
	FLD(kvfs_dir_head, "free_level", free_level, F_U8),
	FLD(kvfs_dir_head, "ndata", ndata, F_U32),
	FLD(kvfs_dir_head, "nentries", nentries, F_U64),
};

static const struct field dir_hash_rec_fields[] = {
	FLD(kvfs_dir_hash_rec, "hash", hash, F_HEX32),
	FLD(kvfs_dir_hash_rec, "addr", addr, F_U64),
};

static const struct field dir_free_rec_fields[] = {
	FLD(kvfs_dir_free_rec, "best", best, F_U32),
	FLD(kvfs_dir_free_rec, "dblk", dblk, F_U32),
};

/* Elements of arrays of plain numbers: "bno[3]", "ptr[0]". */
static const struct field u64_elem[] = { { "", 0, F_U64 } };
static const struct field nullag_elem[] = { { "", 0, F_NULLAG } };

/*
 * The B+trees kvfs-db addresses: AG trees by AG, the extent trees and a
 * block directory's two indexes by inode.
 */
struct tree_desc {
	const char *name;
	const struct kvfs_btree_ops *ops;
	const struct field *rec, *key;
	size_t nrec, nkey;
};

static const struct tree_desc trees[] = {
	{ "bno", &kvfs_bnobt_ops, alloc_rec_fields, alloc_rec_fields,
	  NFIELDS(alloc_rec_fields), NFIELDS(alloc_rec_fields) },
	{ "cnt", &kvfs_cntbt_ops, alloc_rec_fields, alloc_rec_fields,
	  NFIELDS(alloc_rec_fields), NFIELDS(alloc_rec_fields) },
	{ "ino", &kvfs_inobt_ops, inobt_rec_fields, inobt_key_fields,
	  NFIELDS(inobt_rec_fields), NFIELDS(inobt_key_fields) },
	{ "bmbt", &kvfs_bmbt_ops, extent_fields, bmbt_key_fields,
	  NFIELDS(extent_fields), NFIELDS(bmbt_key_fields) },
	{ "abmbt", &kvfs_bmbt_ops, extent_fields, bmbt_key_fields,
	  NFIELDS(extent_fields), NFIELDS(bmbt_key_fields) },
	{ "dirhash", &kvfs_dir_hash_ops, dir_hash_rec_fields,
	  dir_hash_rec_fields, NFIELDS(dir_hash_rec_fields),
	  NFIELDS(dir_hash_rec_fields) },
	{ "dirfree", &kvfs_dir_free_ops, dir_free_rec_fields,
	  dir_free_rec_fields, NFIELDS(dir_free_rec_fields),
	  NFIELDS(dir_free_rec_fields) },
};

static size_t ftype_size(enum ftype t)
{
	switch (t) {
	case F_U8:
	case F_FORMAT:
		return 1;
	case F_U16:
	case F_HEX16:
	case F_OCT16:
	case F_STATE:
		return 2;
	case F_U32:
	case F_HEX32:
	case F_NULLAG:
		return 4;
	case F_U64:
	case F_HEX64:
		return 8;
	case F_UUID:
		return KVFS_UUID_SIZE;
	case F_LABEL:
		return KVFS_LABEL_MAX;
	case F_TS:
		return sizeof(struct kvfs_timestamp);
	}
	return 0;
}

/* An array of fields: name[N] or name[N].sub, N below max. */
struct farray {
	const char *name;
	size_t off, stride; /* from the structure's start */
	uint32_t max;
	const struct field *f; /* the element's fields ("" for a number) */
	size_t nf;
};

#define VIEW_MAX 5

/* What one structure's field names mean. */
struct view {
	const struct field *tab[VIEW_MAX];
	size_t ntab[VIEW_MAX], tab_off[VIEW_MAX];
	unsigned ntabs;
	struct farray arr[VIEW_MAX];
	unsigned narr;
};

static void view_tab(struct view *v, const struct field *f, size_t n,
		     size_t off)
{
	v->tab[v->ntabs] = f;
	v->ntab[v->ntabs] = n;
	v->tab_off[v->ntabs++] = off;
}

static void view_arr(struct view *v, const char *name, size_t off,
		     size_t stride, uint32_t max, const struct field *f,
		     size_t nf)
{
	v->arr[v->narr++] = (struct farray){ name, off, stride, max, f, nf };
}

/* Resolve spec to an offset from the structure's start and a kind. */
static int view_find(const struct view *v, const char *spec, size_t *off,
		     enum ftype *type)
{
	const char *br = strchr(spec, '['), *sub;
	unsigned long idx;
	char *end;

	if (!br) {
		for (unsigned t = 0; t < v->ntabs; t++)
			for (size_t i = 0; i < v->ntab[t]; i++)
				if (!strcmp(v->tab[t][i].name, spec)) {
					*off = v->tab_off[t] + v->tab[t][i].off;
					*type = v->tab[t][i].type;
					return 0;
				}
		return -ENOENT;
	}
	if (!isdigit((unsigned char)br[1]))
		return -ENOENT;
	errno = 0;
	idx = strtoul(br + 1, &end, 10);
	if (errno || *end != ']')
		return -ENOENT;
	sub = end + 1;
	if (*sub == '.')
		sub++;
	else if (*sub)
		return -ENOENT;
	for (unsigned a = 0; a < v->narr; a++) {
		const struct farray *fa = &v->arr[a];

		if (strlen(fa->name) != (size_t)(br - spec) ||
		    memcmp(fa->name, spec, (size_t)(br - spec)))
			continue;
		if (idx >= fa->max)
			return -ERANGE;
		for (size_t i = 0; i < fa->nf; i++)
			if (!strcmp(fa->f[i].name, sub)) {
				*off = fa->off + idx * fa->stride +
				       fa->f[i].off;
				*type = fa->f[i].type;
				return 0;
			}
	}
	return -ENOENT;
}

static int parse_word(const char *s, const char *const *words, unsigned n,
		      uint64_t *v)
{
	for (unsigned i = 0; i < n; i++)
		if (words[i] && !strcmp(s, words[i])) {
			*v = i;
			return 0;
		}
	return -EINVAL;
}

/* val as a field of kind t, little-endian into out (ftype_size() bytes). */
static int parse_value(enum ftype t, const char *val, uint8_t *out)
{
	static const char *const formats[] = { "none", "inline", "extents",
					       "btree" };
	size_t sz = ftype_size(t);
	uint64_t v;

	switch (t) {
	case F_UUID:
		return kvfs_uuid_parse(val, out) ? -EINVAL : 0;
	case F_LABEL:
		if (strlen(val) > KVFS_LABEL_MAX)
			return -EINVAL;
		memset(out, 0, sz);
		memcpy(out, val, strlen(val));
		return 0;
	case F_TS: {
		struct kvfs_timestamp ts = { 0 };
		long long sec;
		unsigned long ns = 0;
		char *end;

		errno = 0;
		sec = strtoll(val, &end, 10);
		if (errno || end == val)
			return -EINVAL;
		if (*end == '.') {
			const char *p = end + 1;

			ns = strtoul(p, &end, 10);
			if (end == p || end - p > 9)
				return -EINVAL;
			for (long d = end - p; d < 9; d++)
				ns *= 10;
		}
		if (*end)
			return -EINVAL;
		ts.sec = kv_cpu_to_le64((uint64_t)sec);
		ts.nsec = kv_cpu_to_le32((uint32_t)ns);
		memcpy(out, &ts, sizeof(ts));
		return 0;
	}
	default:
		break;
	}
	if (t == F_NULLAG && !strcmp(val, "null"))
		v = KVFS_NULLAGBLOCK;
	else if (t == F_STATE && !parse_word(val, kvfs_sb_state_names,
					     KVFS_SB_STATE_NAMES, &v))
		;
	else if (t == F_FORMAT && !parse_word(val, formats, 4, &v))
		;
	else if (parse_u64(val, &v))
		return -EINVAL;
	if (sz < 8 && v >> (sz * 8))
		return -ERANGE;
	v = htole64(v);
	memcpy(out, &v, sz);
	return 0;
}

/* ---- what a write or a read addresses ---- */

enum crc_kind { CRC_BLOCK, CRC_INODE };

struct target {
	uint64_t fsb; /* first block of buf */
	uint32_t nblocks;
	uint8_t *buf;
	size_t base; /* the structure's offset in buf */
	enum crc_kind crc;
	size_t crc_len; /* CRC_BLOCK: bytes the header's crc covers */
	size_t ino_off; /* CRC_INODE: the inode's offset in buf */
	struct view v;
};

static int target_read(struct db *db, struct target *t, uint64_t fsb,
		       uint32_t nblocks)
{
	const struct kvfs_geom *g = &db->g;

	if (fsb >= g->dblocks || nblocks > g->dblocks - fsb) {
		fprintf(stderr,
			"kvfs-db: block %" PRIu64 " is past the filesystem\n",
			fsb);
		return -EUCLEAN;
	}
	t->buf = kvzalloc((size_t)nblocks << g->blocklog, 0);
	if (!t->buf)
		return -ENOMEM;
	t->fsb = fsb;
	t->nblocks = nblocks;
	t->crc = CRC_BLOCK;
	t->crc_len = (size_t)nblocks << g->blocklog;
	return read_blk_n(db, fsb, nblocks, t->buf);
}

static int load_sb(struct db *db, const struct db_args *a, struct target *t)
{
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(&t->v, sb_fields, NFIELDS(sb_fields), 0);
	return target_read(db, t,
			   kvfs_agb_to_fsb(&db->g, a->agno, KVFS_SB_AGBNO), 1);
}

static int load_agf(struct db *db, const struct db_args *a, struct target *t)
{
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(&t->v, agf_fields, NFIELDS(agf_fields), 0);
	return target_read(db, t,
			   kvfs_agb_to_fsb(&db->g, a->agno, KVFS_AGF_AGBNO), 1);
}

static int load_agi(struct db *db, const struct db_args *a, struct target *t)
{
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(&t->v, agi_id_fields, NFIELDS(agi_id_fields), 0);
	view_tab(&t->v, agi_fields, NFIELDS(agi_fields), 0);
	view_arr(&t->v, "unlinked", offsetof(struct kvfs_agi, unlinked), 4,
		 KVFS_AGI_UNLINKED_BUCKETS, nullag_elem, 1);
	return target_read(db, t,
			   kvfs_agb_to_fsb(&db->g, a->agno, KVFS_AGI_AGBNO), 1);
}

static int load_agfl(struct db *db, const struct db_args *a, struct target *t)
{
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_arr(&t->v, "bno", sizeof(struct kvfs_agfl), 4, db->g.agfl_size,
		 nullag_elem, 1);
	return target_read(
		db, t, kvfs_agb_to_fsb(&db->g, a->agno, KVFS_AGFL_AGBNO), 1);
}

/* Data fork size of a raw inode, trusting forkoff only when it fits. */
static uint32_t raw_dfork_size(const struct kvfs_geom *g,
			       const struct kvfs_dinode *d)
{
	uint32_t room = g->inodesize - KVFS_DINODE_CORE_SIZE;
	uint32_t off = kv_le16_to_cpu(d->forkoff) * 8u;

	return off && off < room ? off : room;
}

static int load_inode(struct db *db, const struct db_args *a, struct target *t)
{
	const struct kvfs_geom *g = &db->g;
	const size_t core = KVFS_DINODE_CORE_SIZE;
	const uint64_t ino = a->ino;
	const struct kvfs_dinode *d;
	uint32_t dsize, asize, bmax;
	int ret;

	ret = target_read(db, t, kvfs_ino_to_fsb(g, ino), 1);
	if (ret)
		return ret;
	t->base = t->ino_off = kvfs_ino_to_offset(g, ino);
	t->crc = CRC_INODE;
	d = (const void *)(t->buf + t->base);
	dsize = raw_dfork_size(g, d);
	asize = g->inodesize - (uint32_t)core - dsize;
	bmax = kvfs_bmdr_maxrecs(dsize);
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(&t->v, inode_fields, NFIELDS(inode_fields), 0);
	view_tab(&t->v, bmdr_fields, NFIELDS(bmdr_fields), core);
	view_tab(&t->v, sfdir_fields, NFIELDS(sfdir_fields), core);
	view_arr(&t->v, "u.extent", core, sizeof(struct kvfs_extent),
		 dsize / sizeof(struct kvfs_extent), extent_fields,
		 NFIELDS(extent_fields));
	view_arr(&t->v, "a.extent", core + dsize, sizeof(struct kvfs_extent),
		 asize / sizeof(struct kvfs_extent), extent_fields,
		 NFIELDS(extent_fields));
	view_arr(&t->v, "u.bmdr.key", core + KVFS_BMDR_HDR_SIZE,
		 sizeof(struct kvfs_bmbt_key), bmax, bmbt_key_fields,
		 NFIELDS(bmbt_key_fields));
	view_arr(&t->v, "u.bmdr.ptr",
		 core + KVFS_BMDR_HDR_SIZE +
			 (size_t)bmax * sizeof(struct kvfs_bmbt_key),
		 8, bmax, u64_elem, 1);
	return 0;
}

/* A tree's root and height, from its header or inode (not verified). */
struct bt {
	const struct tree_desc *td;
	uint64_t owner;
	uint64_t root; /* fsb of the top block (the inode root's first child) */
	unsigned top; /* level of that block */
};

static int dirhead_fsb(struct db *db, uint64_t ino, uint64_t *fsb);

/* A block directory's index: its root and height from data block 0's head. */
static int bt_open_dir(struct db *db, const char *owner, struct bt *bt,
		       uint8_t *blk)
{
	const struct kvfs_dir_head *h =
		(const void *)(blk + KVFS_DIR_DATA_HDR_SIZE);
	bool free_tree = bt->td->ops == &kvfs_dir_free_ops;
	uint64_t fsb;
	int ret = parse_ino(db, owner, &bt->owner);

	if (!ret)
		ret = dirhead_fsb(db, bt->owner, &fsb);
	if (!ret)
		ret = read_blk(db, fsb, blk);
	if (ret)
		return ret;
	bt->root = kv_le64_to_cpu(free_tree ? h->free_root : h->hash_root);
	bt->top = free_tree ? h->free_level : h->hash_level;
	return 0;
}

static int bt_open(struct db *db, const char *owner, const char *tree,
		   struct bt *bt)
{
	const struct kvfs_geom *g = &db->g;
	uint8_t *blk;
	uint32_t agno, agroot = 0;
	uint64_t ino;
	int ret;

	bt->td = NULL;
	for (size_t i = 0; i < NFIELDS(trees); i++)
		if (!strcmp(trees[i].name, tree))
			bt->td = &trees[i];
	if (!bt->td) {
		fprintf(stderr,
			"kvfs-db: unknown tree \"%s\" (bno, cnt, ino, "
			"bmbt, abmbt, dirhash, dirfree)\n",
			tree);
		return -EINVAL;
	}
	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	if (bt->td->ops == &kvfs_dir_hash_ops ||
	    bt->td->ops == &kvfs_dir_free_ops) {
		ret = bt_open_dir(db, owner, bt, blk);
	} else if (bt->td->ops != &kvfs_bmbt_ops) {
		ret = parse_agno(db, owner, &agno);
		if (ret)
			goto out;
		bt->owner = agno;
		if (bt->td->ops == &kvfs_inobt_ops) {
			const struct kvfs_agi *h = (const void *)blk;

			ret = read_blk(db,
				       kvfs_agb_to_fsb(g, agno, KVFS_AGI_AGBNO),
				       blk);
			agroot = kv_le32_to_cpu(h->ino_root);
			bt->top = h->ino_level;
		} else {
			const struct kvfs_agf *h = (const void *)blk;
			bool bno = bt->td->ops == &kvfs_bnobt_ops;

			ret = read_blk(db,
				       kvfs_agb_to_fsb(g, agno, KVFS_AGF_AGBNO),
				       blk);
			agroot =
				kv_le32_to_cpu(bno ? h->bno_root : h->cnt_root);
			bt->top = bno ? h->bno_level : h->cnt_level;
		}
		if (!ret && agroot >= kvfs_ag_length(g, agno)) {
			fprintf(stderr,
				"kvfs-db: AG %u's %s root %u is "
				"outside the AG\n",
				agno, tree, agroot);
			ret = -EUCLEAN;
		}
		bt->root = kvfs_agb_to_fsb(g, agno, agroot);
	} else {
		bool attr = !strcmp(tree, "abmbt");
		const struct kvfs_dinode *d;
		const uint8_t *fork;
		uint32_t dsize;

		ret = parse_ino(db, owner, &ino);
		if (ret)
			goto out;
		bt->owner = ino;
		ret = read_blk(db, kvfs_ino_to_fsb(g, ino), blk);
		if (ret)
			goto out;
		d = (const void *)(blk + kvfs_ino_to_offset(g, ino));
		fork = (const uint8_t *)d + KVFS_DINODE_CORE_SIZE;
		dsize = raw_dfork_size(g, d);
		if (attr) {
			/* the attribute fork: the inode's bytes past the data's */
			fork += dsize;
			dsize = g->inodesize - KVFS_DINODE_CORE_SIZE - dsize;
		}
		if ((attr ? d->aformat : d->dformat) != KVFS_DFORK_BTREE ||
		    (attr && !kv_le16_to_cpu(d->forkoff))) {
			fprintf(stderr,
				"kvfs-db: inode %" PRIu64
				"'s %s fork is not a B+tree\n",
				ino, attr ? "attribute" : "data");
			ret = -EINVAL;
			goto out;
		}
		bt->top = kv_le16_to_cpu(
			((const struct kvfs_bmdr_block *)fork)->level);
		if (!bt->top ||
		    !kv_le16_to_cpu(
			    ((const struct kvfs_bmdr_block *)fork)->numrecs) ||
		    !kvfs_bmdr_maxrecs(dsize)) {
			fprintf(stderr,
				"kvfs-db: inode %" PRIu64
				"'s extent-tree root is damaged\n",
				ino);
			ret = -EUCLEAN;
			goto out;
		}
		bt->top--;
		bt->root = kv_le64_to_cpu(*kvfs_bmdr_ptr(fork, dsize, 0));
	}
	if (!ret && bt->top >= KVFS_BTREE_MAXLEVELS) {
		fprintf(stderr, "kvfs-db: %s tree of height %u\n", tree,
			bt->top + 1);
		ret = -EUCLEAN;
	}
out:
	kvfree(blk);
	return ret;
}

/* Read fsb, which must be a block of bt's tree at level. */
static int bt_read(struct db *db, const struct bt *bt, uint64_t fsb,
		   unsigned level, uint8_t *blk)
{
	const struct kvfs_btree_block *h = (const void *)blk;
	int ret;

	if (fsb >= db->g.dblocks) {
		fprintf(stderr,
			"kvfs-db: %s tree pointer %" PRIu64
			" is past the filesystem\n",
			bt->td->name, fsb);
		return -EUCLEAN;
	}
	ret = read_blk(db, fsb, blk);
	if (ret)
		return ret;
	if (kv_le32_to_cpu(h->hdr.magic) != bt->td->ops->magic ||
	    kv_le16_to_cpu(h->level) != level) {
		fprintf(stderr,
			"kvfs-db: block %" PRIu64
			" is not a level-%u %s tree block\n",
			fsb, level, bt->td->name);
		return -EUCLEAN;
	}
	return 0;
}

/*
 * Block LEVEL:N of a tree: the N-th block from the left at that level,
 * reached from the root through the leftmost pointers, then N right
 * sibling links.
 */
static int bt_find(struct db *db, const struct bt *bt, const char *addr,
		   uint8_t *blk, uint64_t *fsbp, unsigned *levelp)
{
	const struct kvfs_btree_ops *ops = bt->td->ops;
	const struct kvfs_btree_block *h = (const void *)blk;
	unsigned long level, nth;
	uint64_t fsb = bt->root;
	char *end;
	int ret;

	errno = 0;
	level = strtoul(addr, &end, 10);
	if (!isdigit((unsigned char)*addr) || *end != ':' ||
	    !isdigit((unsigned char)end[1]))
		goto bad;
	nth = strtoul(end + 1, &end, 10);
	if (errno || *end)
		goto bad;
	if (level > bt->top) {
		fprintf(stderr, "kvfs-db: the %s tree has levels 0..%u\n",
			bt->td->name, bt->top);
		return -EINVAL;
	}
	for (unsigned cur = bt->top;; cur--) {
		uint16_t nr;

		ret = bt_read(db, bt, fsb, cur, blk);
		if (ret)
			return ret;
		if (cur == level)
			break;
		nr = kv_le16_to_cpu(h->numrecs);
		if (!nr || nr > kvfs_btree_maxrecs(ops, db->g.blocksize, cur)) {
			fprintf(stderr,
				"kvfs-db: block %" PRIu64 " has %u keys\n", fsb,
				nr);
			return -EUCLEAN;
		}
		fsb = kv_le64_to_cpu(
			*kvfs_btree_ptr(blk, ops, db->g.blocksize, 0));
	}
	for (unsigned long i = 0; i < nth; i++) {
		fsb = kv_le64_to_cpu(h->rightsib);
		if (fsb == KVFS_NULLBLOCK) {
			fprintf(stderr,
				"kvfs-db: level %lu of the %s tree has %lu "
				"blocks\n",
				level, bt->td->name, i + 1);
			return -EINVAL;
		}
		ret = bt_read(db, bt, fsb, (unsigned)level, blk);
		if (ret)
			return ret;
	}
	*fsbp = fsb;
	*levelp = (unsigned)level;
	return 0;
bad:
	fprintf(stderr, "kvfs-db: invalid block address \"%s\" (LEVEL:N)\n",
		addr);
	return -EINVAL;
}

/* The records, keys and pointers of a tree block of ops at level. */
static void view_btblock(struct view *v, const struct tree_desc *td,
			 uint32_t blocksize)
{
	const struct kvfs_btree_ops *ops = td->ops;
	uint32_t leaf = kvfs_btree_maxrecs(ops, blocksize, 0);
	uint32_t node = kvfs_btree_maxrecs(ops, blocksize, 1);

	view_tab(v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(v, btblock_fields, NFIELDS(btblock_fields), 0);
	view_arr(v, "rec", KVFS_BTREE_HDR_SIZE, ops->recsize, leaf, td->rec,
		 td->nrec);
	view_arr(v, "key", KVFS_BTREE_HDR_SIZE, ops->keysize, node, td->key,
		 td->nkey);
	view_arr(v, "ptr", KVFS_BTREE_HDR_SIZE + (size_t)node * ops->keysize, 8,
		 node, u64_elem, 1);
}

static int load_btree(struct db *db, const struct db_args *a, struct target *t)
{
	struct bt bt;
	uint64_t fsb;
	unsigned level;
	uint8_t *blk;
	int ret;

	ret = bt_open(db, a->word[0], a->word[1], &bt);
	if (ret)
		return ret;
	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = bt_find(db, &bt, a->word[2], blk, &fsb, &level);
	kvfree(blk);
	if (ret)
		return ret;
	view_btblock(&t->v, bt.td, db->g.blocksize);
	return target_read(db, t, fsb, 1);
}

static int db_mount(struct db *db, struct kvfs_mount **mpp)
{
	struct kvfs_open_opts o = { .rdonly = true,
				    .atime = KVFS_ATIME_NOATIME };
	int ret = kvfs_open(db->path, &o, mpp, NULL);

	if (ret)
		fprintf(stderr, "kvfs-db: cannot open %s read-only: %s\n",
			db->path, kvfs_open_error());
	return ret;
}

/* The referenced in-core inode ino of a read-only mount. */
static int db_iget(struct kvfs_mount *mp, uint64_t ino, struct kvfs_inode **ipp)
{
	int ret = kvfs_iget(mp, ino, KVFS_IGET_UNTRUSTED, ipp);

	if (ret)
		fprintf(stderr, "kvfs-db: inode %" PRIu64 ": %s\n", ino,
			strerror(-ret));
	return ret;
}

/*
 * Run fn over inode ino of a read-only mount, its lock held shared: what
 * reads through the core share.  fn says what it found wrong itself.
 */
static int db_with_inode(struct db *db, uint64_t ino,
			 int (*fn)(struct kvfs_inode *ip, void *priv),
			 void *priv)
{
	struct kvfs_mount *mp;
	struct kvfs_inode *ip;
	int ret = db_mount(db, &mp);

	if (ret)
		return ret;
	ret = db_iget(mp, ino, &ip);
	if (!ret) {
		kvfs_ilock(ip, KVFS_ILOCK_SHARED);
		ret = fn(ip, priv);
		kvfs_iunlock(ip, KVFS_ILOCK_SHARED);
		kvfs_iput(ip);
	}
	kvfs_close(mp);
	return ret;
}

struct dirent_at {
	const char *name;
	uint64_t cookie, fsb;
	uint32_t off;
};

static int dirent_locate(struct kvfs_inode *dp, void *priv)
{
	struct dirent_at *d = priv;
	int ret = kvfs_dir_locate(dp, d->name, strlen(d->name), &d->cookie,
				  &d->fsb, &d->off);

	if (ret)
		fprintf(stderr, "kvfs-db: directory %" PRIu64 ": \"%s\": %s\n",
			dp->i_ino, d->name, strerror(-ret));
	return ret;
}

/* DIR_INO NAME: located by the directory code, written raw. */
static int load_dirent(struct db *db, const struct db_args *a, struct target *t)
{
	const struct kvfs_geom *g = &db->g;
	const uint64_t ino = a->ino;
	struct dirent_at d = { .name = a->word[1] };
	int ret = db_with_inode(db, ino, dirent_locate, &d);

	if (ret)
		return ret == -ENOENT ? -EINVAL : ret;
	if (d.fsb == KVFS_NULLBLOCK) {
		ret = target_read(db, t, kvfs_ino_to_fsb(g, ino), 1);
		t->crc = CRC_INODE;
		t->ino_off = kvfs_ino_to_offset(g, ino);
		t->base = t->ino_off + KVFS_DINODE_CORE_SIZE + d.off;
		view_tab(&t->v, sf_ent_fields, NFIELDS(sf_ent_fields), 0);
	} else {
		ret = target_read(db, t, d.fsb, g->dirblksize >> g->blocklog);
		t->base = d.off;
		view_tab(&t->v, data_ent_fields, NFIELDS(data_ent_fields), 0);
	}
	return ret;
}

static int dirhead_map(struct kvfs_inode *dp, void *priv)
{
	const struct kvfs_geom *g = &dp->i_mount->g;
	struct kvfs_bmap *map = priv;
	int nmap = 1, ret;

	if (!S_ISDIR(dp->i_mode) || dp->i_dformat == KVFS_DFORK_INLINE)
		ret = -ENOTDIR;
	else
		ret = kvfs_bmapi_read(dp, 0, g->dirblksize >> g->blocklog, map,
				      &nmap);
	if (!ret && map->startblock == KVFS_NULLBLOCK)
		ret = -ENODATA;
	if (ret)
		fprintf(stderr,
			"kvfs-db: inode %" PRIu64
			" is not a block directory: %s\n",
			dp->i_ino, strerror(-ret));
	return ret;
}

/* The first block of directory ino's data block 0. */
static int dirhead_fsb(struct db *db, uint64_t ino, uint64_t *fsb)
{
	struct kvfs_bmap map;

	if (db_with_inode(db, ino, dirhead_map, &map))
		return -EINVAL;
	*fsb = map.startblock;
	return 0;
}

/* DIR_INO: data block 0 of a block directory, mapped by the extent code. */
static int load_dirhead(struct db *db, const struct db_args *a,
			struct target *t)
{
	const struct kvfs_geom *g = &db->g;
	uint64_t fsb;

	if (dirhead_fsb(db, a->ino, &fsb))
		return -EINVAL;
	view_tab(&t->v, hdr_fields, NFIELDS(hdr_fields), 0);
	view_tab(&t->v, dir_data_fields, NFIELDS(dir_data_fields), 0);
	view_tab(&t->v, dir_head_fields, NFIELDS(dir_head_fields),
		 KVFS_DIR_DATA_HDR_SIZE);
	return target_read(db, t, fsb, g->dirblksize >> g->blocklog);
}

/* What write can change: its address words, parsed as a command's are. */
struct wstruct {
	const char *name;
	int min_addr, max_addr;
	enum arg spec[MAX_SPEC];
	int (*load)(struct db *db, const struct db_args *a, struct target *t);
};

static const struct wstruct wstructs[] = {
	{ "sb", 0, 1, { A_AG }, load_sb },
	{ "agf", 1, 1, { A_AG }, load_agf },
	{ "agi", 1, 1, { A_AG }, load_agi },
	{ "agfl", 1, 1, { A_AG }, load_agfl },
	{ "inode", 1, 1, { A_INO }, load_inode },
	{ "btree", 3, 3, { A_WORD, A_WORD, A_WORD }, load_btree },
	{ "dirent", 2, 2, { A_INO, A_WORD }, load_dirent },
	{ "dirhead", 1, 1, { A_INO }, load_dirhead },
};

/* write [-c] STRUCT ADDR... FIELD VALUE */
static int cmd_write(struct db *db, const struct db_args *args)
{
	const struct kvfs_geom *g = &db->g;
	const struct wstruct *ws = NULL;
	int argc = args->argc;
	char **argv = args->argv;
	struct db_args addr;
	struct target t = { 0 };
	uint8_t val[KVFS_LABEL_MAX];
	const char *name, *value;
	bool keep_crc = false;
	enum ftype type;
	size_t off;
	int naddr, ret;

	if (argc && !strcmp(argv[0], "-c")) {
		keep_crc = true;
		argc--;
		argv++;
	}
	for (size_t i = 0; argc && i < NFIELDS(wstructs); i++)
		if (!strcmp(wstructs[i].name, argv[0]))
			ws = &wstructs[i];
	naddr = argc - 3;
	if (!ws || naddr < ws->min_addr || naddr > ws->max_addr) {
		fprintf(stderr, "kvfs-db: write: see --help for what can be "
				"written and how it is addressed\n");
		return -EINVAL;
	}
	name = argv[argc - 2];
	value = argv[argc - 1];
	ret = parse_args(db, ws->name, ws->spec, NULL, argv + 1, naddr, &addr);
	if (ret)
		return ret;
	ret = ws->load(db, &addr, &t);
	if (ret)
		goto out;
	ret = view_find(&t.v, name, &off, &type);
	if (ret) {
		fprintf(stderr, "kvfs-db: write: %s has no field \"%s\"%s\n",
			ws->name, name,
			ret == -ERANGE ? " (index out of range)" : "");
		ret = -EINVAL;
		goto out;
	}
	if (t.base + off + ftype_size(type) > (size_t)t.nblocks
						      << g->blocklog) {
		fprintf(stderr, "kvfs-db: write: %s is past the block\n", name);
		ret = -EINVAL;
		goto out;
	}
	ret = parse_value(type, value, val);
	if (ret) {
		fprintf(stderr, "kvfs-db: write: invalid value \"%s\" for %s\n",
			value, name);
		ret = -EINVAL;
		goto out;
	}
	memcpy(t.buf + t.base + off, val, ftype_size(type));
	/* a crc written by hand is meant to stay */
	if (!keep_crc && strcmp(name, "crc")) {
		if (t.crc == CRC_INODE)
			kvfs_dinode_set_crc(t.buf + t.ino_off, g);
		else
			kvfs_blkhdr_set_crc(t.buf, t.crc_len);
	}
	ret = kv_dev_pwrite(db->dev, t.buf, (size_t)t.nblocks << g->blocklog,
			    kvfs_fsb_to_bytes(g, t.fsb));
	if (!ret)
		ret = kv_dev_flush(db->dev);
	if (ret)
		fprintf(stderr, "kvfs-db: cannot write block %" PRIu64 ": %s\n",
			t.fsb, strerror(-ret));
	else
		print_field(t.buf + t.base + off, NULL, name, type);
out:
	kvfree(t.buf);
	return ret;
}

/* ---- blocktrash ---- */

struct trash_run {
	uint64_t fsb;
	uint32_t len;
	uint8_t type;
};

struct trash {
	unsigned types; /* bit per enum kvfs_metablk_type */
	struct trash_run *runs;
	size_t n, cap;
	uint64_t total;
};

static int trash_collect(void *priv, uint64_t fsb, uint32_t len,
			 enum kvfs_metablk_type type, uint64_t owner)
{
	struct trash *tr = priv;
	int err;

	(void)owner;
	if (!(tr->types & (1u << type)))
		return 0;
	err = kvgrow((void **)&tr->runs, &tr->cap, tr->n, sizeof(*tr->runs), 0);
	if (err)
		return err;
	tr->runs[tr->n++] = (struct trash_run){ fsb, len, (uint8_t)type };
	tr->total += len;
	return 0;
}

/* splitmix64: a fixed generator, so that a seed means the same flips */
static uint64_t trash_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int trash_types(const char *s, unsigned *types)
{
	*types = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		int t = kvfs_metablk_type_parse(s, len);

		if (t < 0) {
			fprintf(stderr,
				"kvfs-db: blocktrash: unknown type "
				"\"%.*s\"\n",
				(int)len, s);
			return -EINVAL;
		}
		*types |= 1u << t;
		s += len + (s[len] == ',');
	}
	return *types ? 0 : -EINVAL;
}

/* blocktrash -s SEED -n COUNT [-t TYPE[,TYPE...]] [-b BITS] */
static int cmd_blocktrash(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	int argc = a->argc;
	char **argv = a->argv;
	struct trash tr = { .types = ((1u << KVFS_MB_NTYPES) - 1) &
				     ~(1u << KVFS_MB_LOG) };
	uint64_t seed = 0, count = 0, bits = 1, state;
	bool have_seed = false, have_count = false;
	uint8_t *blk = NULL;
	int ret;

	for (int i = 0; i < argc; i += 2) {
		uint64_t *v = NULL;

		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "-t")) {
			if (trash_types(argv[i + 1], &tr.types))
				return -EINVAL;
			continue;
		}
		if (!strcmp(argv[i], "-s")) {
			v = &seed;
			have_seed = true;
		} else if (!strcmp(argv[i], "-n")) {
			v = &count;
			have_count = true;
		} else if (!strcmp(argv[i], "-b")) {
			v = &bits;
		}
		if (!v || parse_u64(argv[i + 1], v))
			goto usage;
	}
	if (!have_seed || !have_count || !bits ||
	    bits > (uint64_t)g->blocksize * 8)
		goto usage;
	ret = kvfs_metablk_walk(db->dev, g, trash_collect, &tr);
	if (ret) {
		fprintf(stderr,
			"kvfs-db: blocktrash: cannot walk the "
			"metadata: %s\n",
			strerror(-ret));
		goto out;
	}
	if (!tr.total) {
		fprintf(stderr, "kvfs-db: blocktrash: no metadata blocks of "
				"the types asked\n");
		ret = -ENOENT;
		goto out;
	}
	printf("blocktrash: seed %" PRIu64 ", %" PRIu64
	       " metadata blocks to choose from\n",
	       seed, tr.total);
	blk = kvmalloc(g->blocksize, 0);
	if (!blk) {
		ret = -ENOMEM;
		goto out;
	}
	state = seed;
	for (uint64_t c = 0; c < count && !ret; c++) {
		uint64_t pick = trash_rand(&state) % tr.total, fsb;
		size_t r = 0;

		while (pick >= tr.runs[r].len)
			pick -= tr.runs[r++].len;
		fsb = tr.runs[r].fsb + pick;
		ret = read_blk(db, fsb, blk);
		for (uint64_t b = 0; b < bits && !ret; b++) {
			uint64_t bit = trash_rand(&state) %
				       ((uint64_t)g->blocksize * 8);

			blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			printf("blocktrash: block %" PRIu64 " (%s) bit %" PRIu64
			       "\n",
			       fsb, kvfs_metablk_type_name(tr.runs[r].type),
			       bit);
		}
		if (!ret)
			ret = kv_dev_pwrite(db->dev, blk, g->blocksize,
					    kvfs_fsb_to_bytes(g, fsb));
	}
	if (!ret)
		ret = kv_dev_flush(db->dev);
	if (ret)
		fprintf(stderr, "kvfs-db: blocktrash: %s\n", strerror(-ret));
out:
	kvfree(blk);
	kvfree(tr.runs);
	return ret;
usage:
	fprintf(stderr, "kvfs-db: usage: blocktrash -s SEED -n COUNT "
			"[-t TYPE[,TYPE...]] [-b BITS]\n");
	return -EINVAL;
}

/* ---- read commands over the directory, attribute and extent code ---- */

struct ls_ctx {
	uint64_t cookie; /* the entry's own: where readdir returns it first */
};

static const char *dtype_name(unsigned dt)
{
	switch (dt) {
	case DT_REG:
		return "reg";
	case DT_DIR:
		return "dir";
	case DT_LNK:
		return "lnk";
	case DT_CHR:
		return "chr";
	case DT_BLK:
		return "blk";
	case DT_FIFO:
		return "fifo";
	case DT_SOCK:
		return "sock";
	}
	return "unknown";
}

static int ls_fill(void *priv, const char *name, size_t namelen, uint64_t ino,
		   unsigned dtype, uint64_t next)
{
	struct ls_ctx *c = priv;

	printf("%" PRIu64 " %" PRIu64 " %s %.*s\n", c->cookie, ino,
	       dtype_name(dtype), (int)namelen, name);
	c->cookie = next;
	return 0;
}

static int cmd_ls(struct db *db, const struct db_args *a)
{
	const uint64_t ino = a->ino;
	struct ls_ctx c = { 0 };
	struct kvfs_mount *mp;
	int ret;

	ret = db_mount(db, &mp);
	if (ret)
		return ret;
	printf("cookie ino type name\n");
	ret = kvfs_readdir(mp, ino, 0, ls_fill, &c);
	if (ret)
		fprintf(stderr, "kvfs-db: ls %" PRIu64 ": %s\n", ino,
			strerror(-ret));
	kvfs_close(mp);
	return ret;
}

static int bmap_fork(struct kvfs_inode *ip, void *priv)
{
	const int fork = *(const int *)priv;
	const uint64_t maxoff = kvfs_max_fileoff_blocks(&ip->i_mount->g);
	const uint8_t fmt =
		fork == KVFS_DATA_FORK ? ip->i_dformat : ip->i_aformat;
	struct kvfs_bmap map[32];
	uint64_t off = 0, n = 0;
	int ret = 0;

	printf("%s fork: %s\n", fork == KVFS_DATA_FORK ? "data" : "attribute",
	       fork_format_name(fmt));
	while (fmt == KVFS_DFORK_EXTENTS || fmt == KVFS_DFORK_BTREE) {
		int nmap = 32;

		ret = kvfs_bmapi_read_fork(ip, fork, off, maxoff - off, map,
					   &nmap);
		if (ret || !nmap)
			break;
		for (int i = 0; i < nmap; i++)
			if (map[i].startblock != KVFS_NULLBLOCK)
				printf("extent[%" PRIu64 "] = off %" PRIu64
				       " block %" PRIu64 " len %" PRIu64 "%s\n",
				       n++, map[i].startoff, map[i].startblock,
				       map[i].blockcount,
				       map[i].flags & KVFS_BMAP_UNWRITTEN ?
					       " unwritten" :
					       "");
		off = map[nmap - 1].startoff + map[nmap - 1].blockcount;
		if (off >= maxoff)
			break;
	}
	if (ret)
		fprintf(stderr, "kvfs-db: bmap %" PRIu64 ": %s\n", ip->i_ino,
			strerror(-ret));
	return ret;
}

static int cmd_bmap(struct db *db, const struct db_args *a)
{
	int fork = a->opt ? KVFS_ATTR_FORK : KVFS_DATA_FORK;

	return db_with_inode(db, a->ino, bmap_fork, &fork);
}

static int cmd_xattr(struct db *db, const struct db_args *a)
{
	const uint64_t ino = a->ino;
	struct kvfs_mount *mp;
	char *list = NULL;
	ssize_t len;
	int ret;

	ret = db_mount(db, &mp);
	if (ret)
		return ret;
	len = kvfs_listxattr(mp, ino, NULL, 0);
	if (len > 0) {
		list = kvmalloc((size_t)len, 0);
		if (!list)
			len = -ENOMEM;
		else
			len = kvfs_listxattr(mp, ino, list, (size_t)len);
	}
	for (ssize_t p = 0; len > 0 && p < len; p += strlen(list + p) + 1) {
		ssize_t vlen = kvfs_getxattr(mp, ino, list + p, NULL, 0);

		if (vlen < 0) {
			len = vlen;
			break;
		}
		printf("%s %zd\n", list + p, vlen);
	}
	if (len < 0) {
		ret = (int)len;
		fprintf(stderr, "kvfs-db: xattr %" PRIu64 ": %s\n", ino,
			strerror(-ret));
	}
	kvfree(list);
	kvfs_close(mp);
	return ret;
}

/* Every block of a tree, level by level from the top, as LEVEL:N. */
static int cmd_btree(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	struct view v = { 0 };
	uint8_t *blk;
	struct bt bt;
	int ret, bad = 0;

	ret = bt_open(db, a->word[0], a->word[1], &bt);
	if (ret)
		return ret;
	blk = kvmalloc(g->blocksize, 0);
	if (!blk)
		return -ENOMEM;
	view_btblock(&v, bt.td, g->blocksize);
	for (int level = (int)bt.top; level >= 0 && !ret; level--) {
		const struct kvfs_btree_block *h = (const void *)blk;
		uint64_t fsb = bt.root;
		char addr[32];
		unsigned nr;

		snprintf(addr, sizeof(addr), "%d:0", level);
		ret = bt_find(db, &bt, addr, blk, &fsb, &(unsigned){ 0 });
		for (uint64_t n = 0; !ret && n < g->dblocks; n++) {
			nr = kv_le16_to_cpu(h->numrecs);
			printf("block %d:%" PRIu64 " = fsb %" PRIu64
			       " numrecs %u\n",
			       level, n, fsb, nr);
			if (kvfs_btree_verify_block(blk, g, bt.td->ops, fsb,
						    bt.owner, level))
				bad = -EUCLEAN;
			if (nr > kvfs_btree_maxrecs(bt.td->ops, g->blocksize,
						    (unsigned)level))
				nr = 0;
			for (unsigned i = 0; i < nr; i++) {
				char pfx[32];
				size_t off;
				enum ftype t;

				snprintf(pfx, sizeof(pfx), "%s[%u]",
					 level ? "key" : "rec", i);
				for (size_t f = 0;
				     f < (level ? bt.td->nkey : bt.td->nrec);
				     f++) {
					const struct field *fd =
						level ? &bt.td->key[f] :
							&bt.td->rec[f];
					char spec[64];

					snprintf(spec, sizeof(spec), "%s.%s",
						 pfx, fd->name);
					if (!view_find(&v, spec, &off, &t))
						print_field(blk + off, NULL,
							    spec, t);
				}
				snprintf(pfx, sizeof(pfx), "ptr[%u]", i);
				if (level && !view_find(&v, pfx, &off, &t))
					print_field(blk + off, NULL, pfx, t);
			}
			fsb = kv_le64_to_cpu(h->rightsib);
			if (fsb == KVFS_NULLBLOCK)
				break;
			ret = bt_read(db, &bt, fsb, (unsigned)level, blk);
		}
	}
	kvfree(blk);
	return ret ? ret : bad;
}

static int cmd_help(struct db *db, const struct db_args *a);

/* The words on a line: marks where each command's output begins. */
static int cmd_echo(struct db *db, const struct db_args *a)
{
	(void)db;
	for (int i = 0; i < a->argc; i++)
		printf("%s%s", i ? " " : "", a->argv[i]);
	printf("\n");
	return 0;
}

static const struct db_cmd db_cmds[] = {
	{ "sb",
	  "[AG]",
	  "decode and verify a superblock (default AG 0)",
	  0,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_sb },
	{ "ag",
	  "AG",
	  "decode and verify an AG's free-space and inode headers",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_ag },
	{ "agi",
	  "AG",
	  "decode and verify an AG's inode header",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_agi },
	{ "agfl",
	  "AG",
	  "decode and verify an AG's reserve list",
	  1,
	  1,
	  { A_AG },
	  NULL,
	  false,
	  false,
	  cmd_agfl },
	{ "freesp",
	  "AG [-v]",
	  "free extents of an AG (-v: list them), from its by-block tree",
	  1,
	  2,
	  { A_AG },
	  "-v",
	  false,
	  false,
	  cmd_freesp },
	{ "inode",
	  "INO",
	  "decode and verify an inode",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_inode },
	{ "btree",
	  "OWNER TREE",
	  "every block of a tree, top level first, as LEVEL:N (below)",
	  2,
	  2,
	  { A_WORD, A_WORD },
	  NULL,
	  false,
	  false,
	  cmd_btree },
	{ "ls",
	  "DIR_INO",
	  "a directory's entries: cookie, inode, type, name",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_ls },
	{ "bmap",
	  "INO [-a]",
	  "the extents of the data (-a: attribute) fork, through the tree",
	  1,
	  2,
	  { A_INO },
	  "-a",
	  false,
	  false,
	  cmd_bmap },
	{ "xattr",
	  "INO",
	  "extended attribute names and value sizes",
	  1,
	  1,
	  { A_INO },
	  NULL,
	  false,
	  false,
	  cmd_xattr },
	{ "block",
	  "N",
	  "hex dump of block N with its decoded header",
	  1,
	  1,
	  { A_BLOCK },
	  NULL,
	  true,
	  false,
	  cmd_block },
	{ "check-crc",
	  "",
	  "verify every metadata block (checksums and structure)",
	  0,
	  0,
	  { A_NONE },
	  NULL,
	  false,
	  false,
	  cmd_check_crc },
	{ "write",
	  "[-c] STRUCT ADDR... FIELD VALUE",
	  "(-x) set a field, crc recomputed unless -c (below)",
	  3,
	  7,
	  { A_NONE },
	  NULL,
	  true,
	  true,
	  cmd_write },
	{ "blocktrash",
	  "-s SEED -n COUNT [-t TYPES] [-b BITS]",
	  "(-x) flip BITS random bits (default 1) in COUNT metadata blocks",
	  4,
	  8,
	  { A_NONE },
	  NULL,
	  false,
	  true,
	  cmd_blocktrash },
	{ "echo",
	  "[WORD...]",
	  "print the words (in a -c batch, to mark where an output begins)",
	  0,
	  8,
	  { A_NONE },
	  NULL,
	  true,
	  false,
	  cmd_echo },
	{ "help",
	  "",
	  "list the commands",
	  0,
	  0,
	  { A_NONE },
	  NULL,
	  true,
	  false,
	  cmd_help },
	{ NULL, NULL, NULL, 0, 0, { A_NONE }, NULL, false, false, NULL },
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: kvfs-db [-x] TARGET COMMAND [ARGS...]\n"
		"       kvfs-db [-x] [-k] -c COMMAND [-c COMMAND]... TARGET\n"
		"Inspector of a kvfs filesystem; -x (expert mode) opens it "
		"read-write\nfor the commands marked (-x), which are refused "
		"without it.\n\n"
		"-c COMMAND (repeatable, like xfs_db's) runs the commands in "
		"order on one open\nof TARGET, each COMMAND its words split "
		"at blanks (no quoting); the output\nis theirs run one at a "
		"time.  Every command is checked (name, word count,\n-x) "
		"before TARGET is opened: a bad one runs none (exit 2).  The "
		"first command\nthat fails ends the batch with its error and "
		"exit status, the later ones not\nrun.  -k (keep going) runs "
		"them all, each failing one followed on stderr by\n"
		"\"kvfs-db: COMMAND: exit S\" (its status alone); the exit "
		"status is the first\nfailure's.  A damaged superblock falls "
		"back to raw blocks only when every\ncommand can use them "
		"(block, write, echo, help); else the open fails for all.  "
		"The geometry is\nthe superblock's at the open (a write to "
		"it counts from the next run).\n\n"
		"Commands:\n");
	for (const struct db_cmd *c = db_cmds; c->name; c++)
		fprintf(f, "  %s%s%s\n      %s\n", c->name, *c->args ? " " : "",
			c->args, c->help);
	fprintf(f,
		"\nTrees: OWNER TREE is AG bno|cnt|ino, or INO bmbt|abmbt (an "
		"inode's data or\nattribute fork's extent tree), or DIR_INO "
		"dirhash|dirfree (a block directory's\nname hash or free-space "
		"index).  A tree block "
		"is LEVEL:N, the N-th block from the\nleft at that level (0:0 "
		"the leftmost leaf), reached from the root by leftmost\n"
		"pointers and right siblings.\n\n"
		"write STRUCT ADDR... FIELD VALUE, the fields as the read "
		"commands print them:\n"
		"  sb [AG] FIELD         superblock fields, header fields "
		"(magic crc blkno lsn owner uuid)\n"
		"  agf AG FIELD          AGF fields and header fields\n"
		"  agi AG FIELD          AGI fields, unlinked[N]\n"
		"  agfl AG FIELD         bno[N] and header fields\n"
		"  inode INO FIELD       core fields, u.extent[N].startoff|"
		"startblock|blockcount|flags,\n"
		"                        a.extent[N].*, u.bmdr.level|numrecs, "
		"u.bmdr.key[N].startoff,\n"
		"                        u.bmdr.ptr[N], u.sfdir.parent|count "
		"(short-form directory)\n"
		"  btree OWNER TREE LEVEL:N FIELD   level numrecs leftsib "
		"rightsib, rec[N].*, key[N].*,\n"
		"                        ptr[N] (record fields as \"btree\" "
		"prints them)\n"
		"  dirent DIR_INO NAME FIELD   inumber namelen type (and "
		"cookie or reclen)\n"
		"  dirhead DIR_INO FIELD block 0 of a block directory: dblk "
		"bestfree nents idxlag, parent\n"
		"                        hash_root free_root hash_level "
		"free_level ndata nentries\n"
		"VALUE: a number (0x.. hex, 0.. octal), \"null\" for AG "
		"pointers, clean|dirty|clean,errors|dirty,errors,\n"
		"none|inline|extents|btree, SEC[.NSEC] "
		"for times.  -c leaves the crc as it was\n(then wrong); writing "
		"the crc field itself always keeps it.\n\n"
		"blocktrash TYPES (comma-separated; default all but log): ");
	for (int t = 0; t < KVFS_MB_NTYPES; t++)
		fprintf(f, "%s%s", t ? "," : "", kvfs_metablk_type_name(t));
	fprintf(f, "\n  a block is chosen with probability by size among the "
		   "blocks of those types the\n  checker's walk reaches; the "
		   "same SEED on the same image flips the same bits.\n\n"
		   "ls, bmap and xattr read through a read-only mount (a clean "
		   "log is needed).\n\n"
		   "Exit status: 0 ok, 1 corruption or error, 2 usage.\n");
}

static int cmd_help(struct db *db, const struct db_args *a)
{
	(void)db;
	(void)a;
	usage(stdout);
	return 0;
}

/* The library records what its verifiers find; kvfs-db prints it. */
static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	(void)priv;
	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "kvfs: %s\n", line);
}

/*
 * Expert mode takes the lock mount.kvfs and fsck.kvfs hold (the fd keeps
 * it until exit): writing under a mounted filesystem would be undone or
 * worse.
 */
static int lock_image(const char *path, int *fdp)
{
	int err = kvfs_image_lock(path, false, KVFS_IMAGE_LOCK_WAIT_MS, fdp);

	if (err == -EBUSY)
		fprintf(stderr,
			"kvfs-db: %s: in use (mounted, or being checked): "
			"expert mode refused\n",
			path);
	else if (err)
		fprintf(stderr, "kvfs-db: cannot open %s: %s\n", path,
			strerror(-err));
	return err;
}

/* Open the target and read its superblock (or fall back to raw access). */
static int db_open(struct db *db, const char *path, bool raw_ok)
{
	int ret = kv_dev_open(path, db->expert ? 0 : KV_DEV_RDONLY, &db->dev);

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

/* The journal's reports (recovery, a shutdown), as it printed them. */
static void print_jreport(const char *line, void *priv)
{
	(void)priv;
	fprintf(stderr, "kvjournal: %s\n", line);
}

/*
 * One command of a run: the table's row and its words.  A batch (-c CMD,
 * repeated) is a list of them, run in order on one open of the target.
 */
struct db_call {
	const struct db_cmd *c;
	int argc;
	char **argv;
};

/*
 * Check a command's name, word count and mode before the target is
 * opened, as a run of it alone does: 0, or the exit status (2).
 */
static int check_call(const struct db *db, char **argv, int argc,
		      struct db_call *call)
{
	const struct db_cmd *c;

	for (c = db_cmds; c->name && strcmp(c->name, argv[0]); c++)
		;
	if (!c->name) {
		fprintf(stderr, "kvfs-db: unknown command \"%s\"\n", argv[0]);
		return 2;
	}
	if (argc - 1 < c->min_args || argc - 1 > c->max_args) {
		fprintf(stderr, "kvfs-db: usage: %s %s\n", c->name, c->args);
		return 2;
	}
	if (c->writes && !db->expert) {
		fprintf(stderr,
			"kvfs-db: %s writes to the filesystem: refused without "
			"-x (expert mode)\n",
			c->name);
		return 2;
	}
	*call = (struct db_call){ c, argc - 1, argv + 1 };
	return 0;
}

/*
 * Split a -c string into words at blanks (no quoting, as xfs_db's -c):
 * the words point into the string, which is kept for the run.
 */
static int split_words(char *s, char ***wordsp, int *np)
{
	char **w = calloc(strlen(s) / 2 + 1, sizeof(*w));
	int n = 0;

	if (!w)
		return -ENOMEM;
	for (char *t = strtok(s, " \t\n"); t; t = strtok(NULL, " \t\n"))
		w[n++] = t;
	*wordsp = w;
	*np = n;
	return 0;
}

/* The exit status of a command's error, as a run of it alone gives. */
static int exit_status(int ret)
{
	if (ret == -EINVAL)
		return 2;
	return ret ? 1 : 0;
}

/*
 * Run the calls in order.  The first to fail ends the run with its
 * status (the later ones are not run), as `kvfs-db T C1 && kvfs-db T C2
 * && ...` would.  With keep_going (-k) every call runs and each failing
 * one is followed on stderr by "kvfs-db: CMD: exit S", its status alone
 * (as make -k names each failed target); the run's status is the
 * first failure's.  stdout is flushed after each call so that its
 * lines and stderr's keep their order, as in separate runs.
 */
static int run_calls(struct db *db, const struct db_call *calls, int n,
		     bool keep_going)
{
	struct db_args args;
	int first = 0;

	for (int i = 0; i < n && (keep_going || !first); i++) {
		const struct db_call *k = &calls[i];
		int ret;

		ret = parse_args(db, k->c->name, k->c->spec, k->c->opt, k->argv,
				 k->argc, &args);
		if (!ret)
			ret = k->c->fn(db, &args);
		fflush(stdout);
		if (ret && keep_going) {
			fprintf(stderr, "kvfs-db: %s", k->c->name);
			for (int w = 0; w < k->argc; w++)
				fprintf(stderr, " %s", k->argv[w]);
			fprintf(stderr, ": exit %d\n", exit_status(ret));
		}
		if (!first)
			first = ret;
	}
	return first;
}

/* Options before the target: -x, -k, and -c CMD any number of times. */
static int parse_opts(struct db *db, int *argcp, char ***argvp, char ***batchp,
		      int *nbatchp, bool *keep_going)
{
	int argc = *argcp;
	char **argv = *argvp, **batch;
	int n = 0;

	batch = calloc(argc, sizeof(*batch));
	if (!batch)
		return -ENOMEM;
	while (argc >= 2) {
		if (!strcmp(argv[1], "-x")) {
			db->expert = true;
		} else if (!strcmp(argv[1], "-k")) {
			*keep_going = true;
		} else if (!strcmp(argv[1], "-c") && argc >= 3) {
			batch[n++] = argv[2];
			argv++;
			argc--;
		} else {
			break;
		}
		argv++;
		argc--;
	}
	*argcp = argc;
	*argvp = argv;
	*batchp = batch;
	*nbatchp = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct db db = { 0 };
	struct db_call *calls = NULL;
	char **batch = NULL, **words = NULL;
	int ncalls = 0, nbatch = 0, ret, lock_fd = -1;
	bool raw_ok = true, keep_going = false;

	tool_report_init("kvfs-db");
	kvj_bug_set_hook(kvj_bug_stderr);
	if (argc >= 2 &&
	    (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (parse_opts(&db, &argc, &argv, &batch, &nbatch, &keep_going))
		goto nomem;
	/* TARGET COMMAND [ARGS...], or TARGET alone after -c */
	if (nbatch ? argc != 2 : argc < 3) {
		usage(stderr);
		ret = 2;
		goto out;
	}
	calls = calloc(nbatch ? nbatch : 1, sizeof(*calls));
	if (!calls)
		goto nomem;
	if (!nbatch) {
		ret = check_call(&db, argv + 2, argc - 2, &calls[0]);
		if (ret)
			goto out;
		ncalls = 1;
	}
	for (int i = 0; i < nbatch; i++, ncalls++) {
		int n;

		if (split_words(batch[i], &words, &n))
			goto nomem;
		if (!n) {
			fprintf(stderr, "kvfs-db: -c: an empty command\n");
			ret = 2;
			goto out;
		}
		ret = check_call(&db, words, n, &calls[i]);
		if (ret)
			goto out;
		/* the call keeps the words: a fresh array for the next */
		words = NULL;
	}
	/*
	 * One open for all: with the superblock damaged, the raw fallback
	 * only when every command can use it (else the open fails as a run
	 * of the first command that needs the superblock does).
	 */
	for (int i = 0; i < ncalls; i++)
		raw_ok = raw_ok && calls[i].c->raw_ok;
	db.path = argv[1];
	ret = kv_init(NULL);
	if (ret) {
		fprintf(stderr, "kvfs-db: cannot initialise memory: %s\n",
			strerror(-ret));
		ret = 1;
		goto out;
	}
	kvfs_report_set_sink(print_report, NULL);
	kvj_report_set_sink(print_jreport, NULL);
	ret = db.expert ? lock_image(argv[1], &lock_fd) : 0;
	if (!ret)
		ret = db_open(&db, argv[1], raw_ok);
	if (!ret) {
		ret = run_calls(&db, calls, ncalls, keep_going);
		kv_dev_close(db.dev);
	}
	kv_fini();
	if (lock_fd >= 0)
		close(lock_fd);
	ret = exit_status(ret);
out:
	for (int i = 0; nbatch && i < ncalls; i++)
		free(calls[i].argv - 1);
	free(words);
	free(calls);
	free(batch);
	return ret;
nomem:
	fprintf(stderr, "kvfs-db: out of memory\n");
	ret = 1;
	goto out;
}
