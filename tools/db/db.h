/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs-db's shared pieces (tools/db/): the filesystem a command works on,
 * the command table's row and its parsed words, the field tables' kinds,
 * the views and trees a write or the btree command addresses.  main.c
 * holds the command table and the dispatcher, fields.c the block reads
 * and the field printing, read.c the read commands, write.c the expert
 * writes, fuzz.c the field fuzzer, blocktrash.c the bit flipper.
 */
#ifndef KV_TOOLS_DB_DB_H
#define KV_TOOLS_DB_DB_H

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

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

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

/* A tree's root and height, from its header or inode (not verified). */
struct bt {
	const struct tree_desc *td;
	uint64_t owner;
	uint64_t root; /* fsb of the top block (the inode root's first child) */
	unsigned top; /* level of that block */
};

/* What a write or a fuzz changes: the blocks of one structure. */
enum crc_kind { CRC_BLOCK, CRC_INODE };

struct target {
	uint64_t fsb; /* first block of buf */
	uint32_t nblocks;
	uint8_t *buf;
	size_t base; /* the structure's offset in buf */
	enum crc_kind crc;
	size_t crc_len; /* CRC_BLOCK: bytes the header's crc covers */
	size_t ino_off; /* CRC_INODE: the inode's offset in buf */
	const char *name; /* the field changed */
	struct view v;
};

/* main.c: the words of a command */
int parse_u64(const char *s, uint64_t *v);
int parse_ino(struct db *db, const char *s, uint64_t *ino);
int parse_agno(struct db *db, const char *s, uint32_t *agno);
int parse_args(struct db *db, const char *name, const enum arg *spec,
	       const char *opt, char **w, int n, struct db_args *a);

/* fields.c: blocks and fields */
int read_blk_n(struct db *db, uint64_t fsb, uint32_t n, void *blk);
int read_blk(struct db *db, uint64_t fsb, void *blk);
void print_hdr(const void *blk, size_t len);
const char *fork_format_name(uint8_t f);
void print_field(const void *p, const char *prefix, const char *name,
		 enum ftype type);
void print_fields(const void *base, const struct field *f, size_t n);
void hexdump(const uint8_t *p, size_t len);
size_t ftype_size(enum ftype t);

/* read.c: the read commands */
int cmd_sb(struct db *db, const struct db_args *a);
int cmd_ag(struct db *db, const struct db_args *a);
int cmd_agi(struct db *db, const struct db_args *a);
int cmd_agfl(struct db *db, const struct db_args *args);
int cmd_freesp(struct db *db, const struct db_args *args);
int cmd_inode(struct db *db, const struct db_args *a);
int cmd_block(struct db *db, const struct db_args *a);
int cmd_check_crc(struct db *db, const struct db_args *a);
int cmd_ls(struct db *db, const struct db_args *a);
int cmd_bmap(struct db *db, const struct db_args *a);
int cmd_xattr(struct db *db, const struct db_args *a);
int cmd_btree(struct db *db, const struct db_args *a);

/* write.c: what a write or the btree command addresses; write */
int view_find(const struct view *v, const char *spec, size_t *off,
	      enum ftype *type);
int bt_open(struct db *db, const char *owner, const char *tree, struct bt *bt);
int bt_read(struct db *db, const struct bt *bt, uint64_t fsb, unsigned level,
	    uint8_t *blk);
int bt_find(struct db *db, const struct bt *bt, const char *addr, uint8_t *blk,
	    uint64_t *fsbp, unsigned *levelp);
void view_btblock(struct view *v, const struct tree_desc *td,
		  uint32_t blocksize);
int db_mount(struct db *db, struct kvfs_mount **mpp);
int db_with_inode(struct db *db, uint64_t ino,
		  int (*fn)(struct kvfs_inode *ip, void *priv), void *priv);
int field_open(struct db *db, const char *cmd, int argc, char **argv,
	       struct target *t, size_t *off, enum ftype *type);
int field_store(struct db *db, struct target *t, bool keep_crc);
int cmd_write(struct db *db, const struct db_args *args);

/* fuzz.c */
int cmd_fuzz(struct db *db, const struct db_args *a);

/* blocktrash.c */
int cmd_blocktrash(struct db *db, const struct db_args *a);

#endif
