/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs-db's field tables (tools/db/db.h's struct field) over the on-disk
 * structures, and the B+trees it addresses: the read commands print with
 * them, the expert writes find fields in them.  Static: NFIELDS() needs
 * each table's size where it is used.
 */
#ifndef KV_TOOLS_DB_TABLES_H
#define KV_TOOLS_DB_TABLES_H

#include "tools/db/db.h"

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
	FLD(kvfs_dir_hash_rec, "addr", addr, F_U32),
};

static const struct field dir_free_rec_fields[] = {
	FLD(kvfs_dir_free_rec, "best", best, F_U32),
	FLD(kvfs_dir_free_rec, "dblk", dblk, F_U32),
};

/* Elements of arrays of plain numbers: "bno[3]", "ptr[0]". */
static const struct field u64_elem[] = { { "", 0, F_U64 } };
static const struct field nullag_elem[] = { { "", 0, F_NULLAG } };

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

#endif
