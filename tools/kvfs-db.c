// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db: read-only inspector of a kvfs filesystem, like xfs_db.  Every
 * decoder is a libkvfs verifier (fs/); this file only prints.  Commands
 * live in one table: add a row to add a command.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
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

/*
 * Field printing is driven by tables of {name, offset, type} over the
 * on-disk structures (verified first), so a new field is one row.
 */
enum ftype {
	F_U8,
	F_U16,
	F_U32,
	F_U64,
	F_HEX32,
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

static void print_fields(const void *base, const struct field *f, size_t n)
{
	const uint8_t *b = base;

	for (size_t i = 0; i < n; i++) {
		const void *p = b + f[i].off;
		kv_le16 v16;
		kv_le32 v32;
		kv_le64 v64;
		char uuid[37];

		memcpy(&v16, p, sizeof(v16));
		memcpy(&v32, p, sizeof(v32));
		memcpy(&v64, p, sizeof(v64));
		printf("%s = ", f[i].name);
		switch (f[i].type) {
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
		case F_HEX32:
			printf("0x%x\n", kv_le32_to_cpu(v32));
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
			printf("%s\n", kv_le16_to_cpu(v16) == KVFS_STATE_CLEAN ?
					       "clean" :
					       "dirty");
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

			printf("%" PRId64 ".%09u\n",
			       (int64_t)kv_le64_to_cpu(t->sec),
			       kv_le32_to_cpu(t->nsec));
			break;
		}
		case F_FORMAT:
			printf("%s\n", fork_format_name(*(const uint8_t *)p));
			break;
		}
	}
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

static int cmd_sb(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	struct kvfs_geom s;
	uint32_t agno = 0;
	void *blk;
	int ret;

	if (argc > 0 && parse_agno(db, argv[0], &agno))
		return -EINVAL;
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
static int cmd_ag(struct db *db, int argc, char **argv)
{
	uint8_t *blk, *iblk;
	uint32_t agno;
	int ret;

	(void)argc;
	if (parse_agno(db, argv[0], &agno))
		return -EINVAL;
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

static int cmd_agi(struct db *db, int argc, char **argv)
{
	uint32_t agno;
	void *blk;
	int ret;

	(void)argc;
	if (parse_agno(db, argv[0], &agno))
		return -EINVAL;
	blk = kvmalloc(db->g.blocksize, 0);
	if (!blk)
		return -ENOMEM;
	ret = load_ag_hdr(db, agno, false, blk);
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
static int cmd_agfl(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	struct kvfs_agf_info a;
	uint8_t *blk;
	uint32_t agno;
	int ret;

	(void)argc;
	if (parse_agno(db, argv[0], &agno))
		return -EINVAL;
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

static int cmd_freesp(struct db *db, int argc, char **argv)
{
	struct freesp f = { .verbose = argc > 1 && !strcmp(argv[1], "-v") };
	struct kvfs_agf_info a;
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

static int cmd_inode(struct db *db, int argc, char **argv)
{
	const struct kvfs_geom *g = &db->g;
	const struct kvfs_dinode *d;
	const uint8_t *fork;
	uint64_t ino, fsb;
	uint32_t dsize;
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
		ret = kvfs_blkhdr_verify(
			blk, g->blocksize, kv_le32_to_cpu(h->magic), fsb,
			kv_le64_to_cpu(h->owner),
			db->sb_ok ? g->meta_uuid : NULL, "block");
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
	{ "ag", "AG", "decode and verify an AG's free-space and inode headers",
	  1, 1, false, cmd_ag },
	{ "agi", "AG", "decode and verify an AG's inode header", 1, 1, false,
	  cmd_agi },
	{ "agfl", "AG", "decode and verify an AG's reserve list", 1, 1, false,
	  cmd_agfl },
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

/* The library records what its verifiers find; kvfs-db prints it. */
static void print_report(const struct kvfs_report *r, void *priv)
{
	char line[320];

	(void)priv;
	kvfs_report_format(r, line, sizeof(line));
	fprintf(stderr, "kvfs: %s\n", line);
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
	kvfs_report_set_sink(print_report, NULL);
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
