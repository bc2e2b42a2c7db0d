/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs on-disk format, version 1.  Every on-disk structure lives in this
 * header; fs/ondisk.c pins their sizes with static asserts.
 *
 * All fields are fixed-width little-endian (kv_le16/32/64, converted with
 * the helpers below); padding is explicit.  The little-endian types are
 * single-member structs, so the compiler refuses to mix them with host
 * integers: every access goes through a converter.
 */
#ifndef KV_FS_FORMAT_H
#define KV_FS_FORMAT_H

#include <endian.h>
#include <stdint.h>

typedef struct {
	uint16_t v;
} kv_le16;
typedef struct {
	uint32_t v;
} kv_le32;
typedef struct {
	uint64_t v;
} kv_le64;

static inline uint16_t kv_le16_to_cpu(kv_le16 x)
{
	return le16toh(x.v);
}
static inline uint32_t kv_le32_to_cpu(kv_le32 x)
{
	return le32toh(x.v);
}
static inline uint64_t kv_le64_to_cpu(kv_le64 x)
{
	return le64toh(x.v);
}
static inline kv_le16 kv_cpu_to_le16(uint16_t v)
{
	return (kv_le16){ htole16(v) };
}
static inline kv_le32 kv_cpu_to_le32(uint32_t v)
{
	return (kv_le32){ htole32(v) };
}
static inline kv_le64 kv_cpu_to_le64(uint64_t v)
{
	return (kv_le64){ htole64(v) };
}

#define KVFS_UUID_SIZE 16

/*
 * The self-describing header that starts every metadata block (and every
 * multi-block metadata buffer).  crc is crc32c over the whole block or
 * buffer with the crc field read as zero (kv_crc32c_block(buf, len,
 * KVFS_BLK_CRC_OFF)); blkno is the block's own filesystem block number;
 * lsn is the log sequence number of its last write-back; owner is the AG
 * number or inode number that owns it (0 where none exists); uuid is the
 * filesystem's metadata UUID (the superblock's meta_uuid, set once by mkfs),
 * never the user-visible one, so that changing the latter rewrites only the
 * superblocks.
 */
struct kvfs_blk_hdr {
	kv_le32 magic;
	kv_le32 crc;
	kv_le64 blkno;
	kv_le64 lsn;
	kv_le64 owner;
	uint8_t uuid[KVFS_UUID_SIZE];
};

#define KVFS_BLK_CRC_OFF 4
#define KVFS_BLK_LSN_OFF 16
#define KVFS_BLK_HDR_SIZE 48

/*
 * Magic numbers read as ASCII on disk: KVFS_MAGIC('K','V','S','B') is
 * stored as the bytes "KVSB".
 */
#define KVFS_MAGIC(a, b, c, d)                                      \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | \
	 (uint32_t)(d) << 24)

#define KVFS_SB_MAGIC KVFS_MAGIC('K', 'V', 'S', 'B') /* superblock */
#define KVFS_AGF_MAGIC KVFS_MAGIC('K', 'V', 'A', 'G') /* AG free space */
#define KVFS_AGI_MAGIC KVFS_MAGIC('K', 'V', 'A', 'I') /* AG inodes */
#define KVFS_AGFL_MAGIC KVFS_MAGIC('K', 'V', 'F', 'L') /* AG reserve list */
#define KVFS_BNOBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'B') /* free by block */
#define KVFS_CNTBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'C') /* free by size */
#define KVFS_INOBT_MAGIC KVFS_MAGIC('K', 'V', 'I', 'B') /* inode chunks */
#define KVFS_BMBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'M') /* extent map */
#define KVFS_DINODE_MAGIC KVFS_MAGIC('K', 'V', 'I', 'N')
#define KVFS_ATTR_LEAF_MAGIC KVFS_MAGIC('K', 'V', 'A', 'L') /* xattr leaf */
#define KVFS_ATTR_NODE_MAGIC KVFS_MAGIC('K', 'V', 'A', 'N') /* xattr hash */
#define KVFS_ATTR_RMT_MAGIC KVFS_MAGIC('K', 'V', 'A', 'R') /* xattr value */
#define KVFS_SYMLINK_MAGIC KVFS_MAGIC('K', 'V', 'S', 'L') /* symlink */
#define KVFS_DIR_DATA_MAGIC KVFS_MAGIC('K', 'V', 'D', 'D') /* dir entries */
#define KVFS_DIR_HASH_MAGIC KVFS_MAGIC('K', 'V', 'D', 'H') /* dir name hash */
#define KVFS_DIR_FREE_MAGIC KVFS_MAGIC('K', 'V', 'D', 'F') /* dir free space */

#define KVFS_VERSION 1

/*
 * Feature flags.  A reader refuses a filesystem with an incompat bit it does
 * not know, opens one with an unknown ro_compat bit read-only only, and
 * ignores unknown compat bits.  An unknown log_incompat bit only matters
 * when the log must be replayed: a dirty filesystem carrying one is refused
 * (the log holds records this code cannot read); a clean one is not.
 *
 * NEEDSREPAIR: set by fsck while it changes the filesystem and cleared when
 * it is done; a filesystem carrying it is not mounted (an interrupted
 * repair leaves it half-repaired), though inspectors still read it.
 */
#define KVFS_FEAT_INCOMPAT_NEEDSREPAIR (1u << 0)

#define KVFS_FEAT_COMPAT_SUPP 0u
#define KVFS_FEAT_RO_COMPAT_SUPP 0u
#define KVFS_FEAT_INCOMPAT_SUPP KVFS_FEAT_INCOMPAT_NEEDSREPAIR
#define KVFS_FEAT_LOG_INCOMPAT_SUPP 0u

/* Geometry limits (bytes unless stated). */
#define KVFS_MIN_BLOCKLOG 10 /* 1 KiB */
#define KVFS_MAX_BLOCKLOG 16 /* 64 KiB */
#define KVFS_DEF_BLOCKLOG 12 /* 4 KiB */
#define KVFS_AG_MIN_BYTES (16ULL << 20)
#define KVFS_AG_MAX_BYTES (1ULL << 40)
#define KVFS_AG_MAX_COUNT 65536
#define KVFS_LOG_MIN_BYTES (4ULL << 20)
#define KVFS_LOG_MAX_BYTES (2ULL << 30)
#define KVFS_LABEL_MAX 32
#define KVFS_DEF_INODELOG 9 /* 512-byte inodes */
#define KVFS_MIN_INODELOG 9
#define KVFS_MAX_INODELOG 11
#define KVFS_INODES_PER_CHUNK 64 /* one inode-btree record */
#define KVFS_INODES_PER_HOLEMASK_BIT 4 /* 16 bits x 4 = 64 inodes */
#define KVFS_MIN_DIRBLKLOG 12 /* 4 KiB, or the block size if larger */
#define KVFS_MAX_DIRBLKLOG 16 /* 64 KiB */
#define KVFS_DEF_DIRBLKLOG 12

/*
 * Largest file size in bytes, and the end of the largest byte range a file
 * can map: 2^63 - 1, the largest off_t.  The extent record's 64-bit startoff
 * (in blocks) could name more, but a byte offset past this cannot reach the
 * filesystem through any POSIX call, and keeping every extent's end below
 * 2^63 bytes means offset arithmetic in bytes never overflows.  An extent
 * must end at or before file block KVFS_MAX_FILE_OFFSET >> blocklog (see
 * kvfs_max_fileoff_blocks()): 2^51 blocks of 4 KiB.
 */
#define KVFS_MAX_FILE_OFFSET ((uint64_t)INT64_MAX)

#define KVFS_NULLBLOCK ((uint64_t)-1)
#define KVFS_NULLAGBLOCK ((uint32_t)-1)
#define KVFS_NULLAGINO ((uint32_t)-1)
#define KVFS_NULLINO ((uint64_t)0)

/*
 * Fixed blocks at the start of every AG, as in XFS: block allocation (free-
 * space header, reserve list, free-space trees) and inode allocation (inode
 * header, inode tree) each have their own header block, so the two never
 * serialise on one buffer.  The first KVFS_AG_HDR_BLOCKS blocks are nothing
 * else, ever: no tree block, free extent, inode or file extent lies there.
 * mkfs puts the three tree roots right after them (the roots move when the
 * trees grow, and those blocks become ordinary space), then the reserve
 * list's blocks, then free space, inode chunks and the log (AG 0).
 */
#define KVFS_SB_AGBNO 0 /* superblock copy */
#define KVFS_AGF_AGBNO 1 /* free-space header, struct kvfs_agf */
#define KVFS_AGI_AGBNO 2 /* inode header, struct kvfs_agi */
#define KVFS_AGFL_AGBNO 3 /* reserve list, struct kvfs_agfl */
#define KVFS_AG_HDR_BLOCKS 4
#define KVFS_BNO_AGBNO 4 /* mkfs: root of the by-block free-space tree */
#define KVFS_CNT_AGBNO 5 /* mkfs: root of the by-size free-space tree */
#define KVFS_INO_AGBNO 6 /* mkfs: root of the inode-chunk tree */
#define KVFS_AG_MKFS_BLOCKS 7 /* headers and roots; the reserve list next */

/* Superblock state: CLEAN or DIRTY, and the flag ERRORS beside either. */
#define KVFS_STATE_CLEAN 0 /* written back and unmounted cleanly */
#define KVFS_STATE_DIRTY 1 /* mounted, or not cleanly unmounted */
/*
 * A mount met corrupt metadata and no fsck.kvfs ran since (ext4's error
 * state): fsck.kvfs checks it without -f.  A bit of its own, since a dirty
 * superblock over a clean log is also what a crash of a mount that logged
 * nothing leaves.
 */
#define KVFS_STATE_ERRORS 2

/*
 * Superblock: block 0 of the filesystem, copied at block 0 of every AG
 * (header owner = AG number, header uuid = the metadata UUID).  uuid is the
 * user-visible UUID (blkid, mount by UUID); mkfs makes both the same, and
 * only uuid may change later.  Counters are exact in AG 0's copy at clean
 * unmount; the AG headers hold the truth.
 */
struct kvfs_dsb {
	struct kvfs_blk_hdr hdr;
	kv_le32 version; /* KVFS_VERSION */
	kv_le32 blocksize; /* bytes */
	kv_le64 dblocks; /* filesystem size in blocks */
	kv_le32 agblocks; /* blocks per AG (the last may be shorter) */
	kv_le32 agcount;
	kv_le64 logstart; /* first block of the internal log */
	kv_le32 logblocks; /* log length in blocks */
	kv_le16 inodesize; /* bytes */
	uint8_t blocklog; /* log2(blocksize) */
	uint8_t inodelog; /* log2(inodesize) */
	uint8_t agblklog; /* ceil(log2(agblocks)) */
	uint8_t inopblog; /* log2(inodes per block) */
	kv_le16 state; /* KVFS_STATE_* */
	kv_le32 ialloc_blocks; /* blocks per inode allocation */
	kv_le32 feat_compat;
	kv_le32 feat_ro_compat;
	kv_le32 feat_incompat;
	kv_le32 feat_log_incompat;
	kv_le64 rootino;
	kv_le64 lpfino; /* lost+found */
	kv_le64 icount; /* allocated inodes (summary) */
	kv_le64 ifree; /* free inodes in allocated chunks */
	kv_le64 fdblocks; /* free blocks (summary) */
	kv_le64 ctime_sec; /* mkfs time */
	char label[KVFS_LABEL_MAX]; /* NUL-padded, not NUL-terminated */
	uint8_t uuid[KVFS_UUID_SIZE]; /* user-visible UUID */
	uint8_t dirblklog; /* log2(directory block size), >= blocklog */
	uint8_t pad1[7];
	uint8_t reserved[296];
};

/*
 * AG free-space header (XFS's AGF): block 1 of every AG, owner = AG number.
 * The roots of both free-space trees, the AG's free-space counters, and the
 * reserve list's window: flcount entries of the reserve-list block from
 * flfirst to fllast, wrapping at the end of its array.
 */
struct kvfs_agf {
	struct kvfs_blk_hdr hdr;
	kv_le32 agno;
	kv_le32 length; /* blocks in this AG */
	kv_le32 bno_root; /* AG block of the by-block free-space root */
	kv_le32 cnt_root; /* AG block of the by-size free-space root */
	uint8_t bno_level; /* tree height - 1 */
	uint8_t cnt_level;
	kv_le16 pad0;
	kv_le32 freeblks; /* free blocks in the free-space index */
	kv_le32 longest; /* longest free extent */
	kv_le32 free_extents; /* records in the by-block tree */
	kv_le32 btreeblks; /* blocks of both free-space trees */
	kv_le32 flfirst; /* first reserve-list entry in use */
	kv_le32 fllast; /* last reserve-list entry in use */
	kv_le32 flcount; /* entries in use */
	uint8_t reserved[64];
};

/*
 * Buckets of the on-disk unlinked lists (XFS's AGI hash): an inode unlinked
 * while still open goes on bucket agino % 64, so that adding and removing
 * one touches a short list.
 */
#define KVFS_AGI_UNLINKED_BUCKETS 64

/*
 * AG inode header (XFS's AGI): block 2 of every AG, owner = AG number.  The
 * inode-chunk tree's root, the AG's inode counters, and the heads of the
 * unlinked lists (aginos chained through the inodes' next_unlinked,
 * KVFS_NULLAGINO when empty).  reserved leaves room for a free-inode tree.
 */
struct kvfs_agi {
	struct kvfs_blk_hdr hdr;
	kv_le32 agno;
	kv_le32 length; /* blocks in this AG */
	kv_le32 ino_root; /* AG block of the inode-chunk root */
	uint8_t ino_level; /* tree height - 1 */
	uint8_t pad0[3];
	kv_le32 icount; /* inodes in allocated chunks */
	kv_le32 ifree; /* free inodes among them */
	kv_le32 newino; /* agino of the last chunk allocated */
	kv_le32 pad1;
	uint8_t reserved[48];
	kv_le32 unlinked[KVFS_AGI_UNLINKED_BUCKETS];
};

/*
 * AG reserve list (XFS's AGFL): block 3 of every AG, owner = AG number.
 * Blocks set aside for the free-space trees' own growth, so that a split
 * never has to allocate from the trees it is changing: the entries from
 * the AGF's flfirst to fllast (circular) are in use, the others are
 * KVFS_NULLAGBLOCK.  The array fills the block: (blocksize - 48) / 4.
 * Blocks on the list are not free space: they count as used.
 */
struct kvfs_agfl {
	struct kvfs_blk_hdr hdr;
	kv_le32 bno[]; /* AG block numbers */
};

/*
 * Generic B+tree block: the same header for every tree (free space by
 * block and by size, inode chunks, extent maps, directory hash index).
 * Sibling and child pointers are filesystem block numbers.  Owner is the AG
 * number for AG trees, the inode number for inode-rooted trees.
 *
 * Leaf (level 0): numrecs records from KVFS_BTREE_HDR_SIZE.
 * Node (level > 0): numrecs keys from KVFS_BTREE_HDR_SIZE, then numrecs
 * child pointers (kv_le64) starting at KVFS_BTREE_HDR_SIZE + maxrecs *
 * keysize, where maxrecs = (blocksize - hdr) / (keysize + 8).
 */
struct kvfs_btree_block {
	struct kvfs_blk_hdr hdr;
	kv_le16 level;
	kv_le16 numrecs;
	kv_le32 pad0;
	kv_le64 leftsib; /* KVFS_NULLBLOCK at the left edge */
	kv_le64 rightsib; /* KVFS_NULLBLOCK at the right edge */
};

#define KVFS_BTREE_HDR_SIZE 72
#define KVFS_BTREE_MAXLEVELS 8

/* Free-space record and key (both trees; by-size sorts by count, start). */
struct kvfs_alloc_rec {
	kv_le32 startblock; /* AG block */
	kv_le32 blockcount;
};

/*
 * Inode-chunk record (XFS's sparse inode record): 64 inodes from startino,
 * of which the holes are not allocated (their blocks may belong to anything
 * else), so that inodes can be allocated where free space is fragmented.
 * Bit i of holemask set: inodes startino + 4i .. + 4i + 3 are a hole; a
 * hole covers whole blocks.  count = allocated inodes = 64 - 4 *
 * popcount(holemask); freemask has a bit set for every free inode and for
 * every inode of a hole; freecount = free allocated inodes.
 */
struct kvfs_inobt_rec {
	kv_le32 startino; /* agino of the chunk's first inode */
	kv_le16 holemask;
	uint8_t count;
	uint8_t freecount;
	kv_le64 freemask; /* bit i set: inode startino + i is free */
};

/* Node keys are 8-byte multiples so that the child pointers stay aligned. */
struct kvfs_inobt_key {
	kv_le32 startino;
	kv_le32 pad;
};

/*
 * Extent record (extent map leaves and in-inode extent lists).  An extent
 * lies inside one AG, never over an AG's fixed header blocks, and ends at
 * or before KVFS_MAX_FILE_OFFSET.
 */
struct kvfs_extent {
	kv_le64 startoff; /* file block */
	kv_le64 startblock; /* filesystem block */
	kv_le32 blockcount;
	kv_le32 flags; /* KVFS_EXT_* */
};

#define KVFS_EXT_UNWRITTEN (1u << 0)
#define KVFS_EXT_FLAGS_ALL KVFS_EXT_UNWRITTEN

/* Extent-map node key: the first file block under the child. */
struct kvfs_bmbt_key {
	kv_le64 startoff;
};

/*
 * Root of an extent-map B+tree kept in an inode fork (XFS's bmdr block):
 * this header, then maxrecs keys (struct kvfs_bmbt_key), then maxrecs
 * child pointers (kv_le64 filesystem blocks), where maxrecs = (fork size -
 * 8) / 16; numrecs of each are in use.  The root is never a leaf: level
 * >= 1, and the fork holds it only when the extents no longer fit the fork
 * as a list.
 */
struct kvfs_bmdr_block {
	kv_le16 level;
	kv_le16 numrecs;
	kv_le32 pad0;
};

#define KVFS_BMDR_HDR_SIZE 8

/*
 * Seconds since 1970 as a signed 64-bit count (two's complement; times
 * before 1970 are negative), and nanoseconds below 10^9.
 */
struct kvfs_timestamp {
	kv_le64 sec;
	kv_le32 nsec;
	kv_le32 pad;
};

/*
 * Fork formats.  Data fork: regular files extents or btree; directories and
 * symlinks any of the three; device files, FIFOs and sockets extents with
 * no extents; free inodes extents.  Attribute fork: inline (short-form
 * attributes, struct kvfs_attr_sf_hdr), extents or btree.
 */
#define KVFS_DFORK_INLINE 1 /* data (short dir, symlink) in the inode */
#define KVFS_DFORK_EXTENTS 2 /* kvfs_extent array in the inode */
#define KVFS_DFORK_BTREE 3 /* extent B+tree root in the inode */

/*
 * On-disk inode: inodesize bytes, the core then the data fork, and, when
 * forkoff != 0, the attribute fork from data fork + forkoff * 8 to the end
 * of the inode.  The header's crc covers inodesize bytes; blkno is the
 * block holding the inode; owner is the inode number.  Free inodes in an
 * allocated chunk have mode 0 and a valid header.
 */
struct kvfs_dinode {
	struct kvfs_blk_hdr hdr;
	kv_le16 mode; /* S_IF* | permissions; 0 = free */
	uint8_t version; /* 1 */
	uint8_t dformat; /* KVFS_DFORK_* */
	kv_le32 nlink;
	kv_le32 uid;
	kv_le32 gid;
	kv_le64 size; /* bytes (directories: bytes of entries) */
	kv_le64 nblocks; /* blocks used, data and metadata */
	struct kvfs_timestamp atime;
	struct kvfs_timestamp mtime;
	struct kvfs_timestamp ctime;
	struct kvfs_timestamp crtime;
	kv_le32 generation;
	kv_le32 flags; /* KVFS_DIFLAG_* */
	kv_le32 nextents; /* data fork extents */
	kv_le16 forkoff; /* attr fork offset in 8-byte units, 0 = none */
	uint8_t aformat; /* attr fork format, 0 without one */
	uint8_t pad0;
	kv_le32 next_unlinked; /* agino of the next unlinked inode */
	kv_le32 anextents; /* attr fork extents */
	kv_le64 rdev; /* device files: major << 32 | minor */
	uint8_t reserved[32];
};

#define KVFS_DINODE_CORE_SIZE 208

/* Inode flags: any other bit is refused. */
#define KVFS_DIFLAG_IMMUTABLE (1u << 0)
#define KVFS_DIFLAG_APPEND (1u << 1)
#define KVFS_DIFLAG_NODUMP (1u << 2)
#define KVFS_DIFLAG_NOATIME (1u << 3)
/*
 * Blocks past EOF were allocated on purpose (fallocate with KEEP_SIZE):
 * kept at close.  Without it, blocks past EOF are speculative or what a
 * crash left, and the file's last close after a mount frees them (XFS's
 * XFS_DIFLAG_PREALLOC).  Cleared when a truncate frees everything past
 * EOF.
 */
#define KVFS_DIFLAG_PREALLOC (1u << 4)
#define KVFS_DIFLAG_ALL                                                    \
	(KVFS_DIFLAG_IMMUTABLE | KVFS_DIFLAG_APPEND | KVFS_DIFLAG_NODUMP | \
	 KVFS_DIFLAG_NOATIME | KVFS_DIFLAG_PREALLOC)

/*
 * Directories.
 *
 * A directory's entries live in its data space, a byte range addressed in
 * 8-byte units: the address of an entry is its readdir cookie.  Entries
 * never move once written (a removed entry becomes unused space, an insert
 * takes unused space), so a cookie stays valid across inserts and removes
 * and a reader walking addresses upwards sees every entry that stays
 * present exactly once.  Cookies 0 and 1 are "." and ".." (never stored);
 * every stored entry's address is at least KVFS_DIR_HEAD_SIZE / 8.  The
 * data space is at most KVFS_DIR_SPACE_BYTES (32 GiB, XFS's figure), so
 * an address fits the name hash index's 32 bits and a cookie stays below
 * 2^32, far below the 2^63 that FUSE and NFS allow; an insert that needs
 * a data block past it is -ENOSPC.
 *
 * Short form (dformat INLINE): struct kvfs_dir_sf_hdr then count entries,
 * 8-byte aligned, in any order.  Each entry's cookie is the address it
 * will have in data block 0 when the directory grows to block form, so
 * the conversion keeps every cookie: the entries occupy disjoint
 * [cookie * 8, cookie * 8 + KVFS_DIR_DATA_ENTSIZE(namelen)) ranges inside
 * [KVFS_DIR_HEAD_SIZE, directory block size).  The inode's size is the
 * bytes of the short form.
 *
 * Block form (dformat EXTENTS): data block n (of the directory block size,
 * dirblksize = 1 << sb dirblklog) is at file block n * dirblksize /
 * blocksize of the data fork, one contiguous extent, read as one buffer.
 * Data blocks 0 and ndata - 1 are mapped, none beyond; one in between
 * that became empty is freed (a hole: readdir skips it, a new block goes
 * there first).  Block 0 carries
 * the directory head after its header.  Each block holds records from the
 * end of its headers to its end, each 8-byte aligned: a live entry
 * (ino != 0, reclen = KVFS_DIR_DATA_ENTSIZE(namelen) or 8 more, the
 * slack a gap too small for an unused record leaves) or unused space (ino
 * = 0, namelen = ftype = 0, reclen >= 16); two unused records are never
 * neighbours.  bestfree is the longest unused record, nents the live ones.
 *
 * Two indexes in the generic B+tree engine (struct kvfs_btree_block
 * blocks of one filesystem block, owner = the directory's inode), rooted
 * in the head: the name hash index, one record (hash, address) per entry,
 * so that a lookup reads one block per level and the data block; and the
 * free-space index, one record (bestfree, data block) per data block, so
 * that an insert finds a block with room (best fit) in O(log n).  Their
 * blocks are not in the data fork (its extent list has few slots until the
 * extent B+tree exists, and the tree pointers are block numbers anyway):
 * like extent-map tree blocks they are found by walking the trees, and
 * the inode's nblocks counts them.  The inode's size is ndata *
 * dirblksize.
 */
struct kvfs_dir_sf_hdr {
	kv_le64 parent; /* ".." */
	kv_le16 count;
	kv_le16 pad0;
	kv_le32 pad1;
};

struct kvfs_dir_sf_ent {
	kv_le64 ino;
	kv_le32 cookie; /* address in data block 0, 8-byte units */
	uint8_t namelen;
	uint8_t ftype; /* KVFS_FT_* */
	kv_le16 pad0;
	uint8_t name[]; /* namelen bytes, zero-padded to 8 */
};

#define KVFS_DIR_SF_HDR_SIZE 16
#define KVFS_DIR_SF_ENT_SIZE 16
#define KVFS_DIR_SF_ENTSIZE(namelen) \
	((KVFS_DIR_SF_ENT_SIZE + (namelen) + 7u) & ~7u)

/* Header of every directory data block. */
struct kvfs_dir_data_hdr {
	struct kvfs_blk_hdr hdr; /* owner: the directory; blkno: first fsb */
	kv_le32 dblk; /* data block number */
	kv_le32 bestfree; /* bytes of the longest unused record */
	kv_le32 nents; /* live entries */
	/*
	 * bestfree less the best its free-space index record carries: 0 but
	 * after a removal that had no blocks to move the record (a full
	 * filesystem, XFS's removals with resblks 0) or whose record already
	 * promised room for the longest name; the record, never promising
	 * more room than there is, moves at the block's next change that
	 * needs it to.
	 */
	kv_le32 idxlag;
};

/* After the header of data block 0. */
struct kvfs_dir_head {
	kv_le64 parent; /* ".." */
	kv_le64 hash_root; /* fsb of the name hash index root */
	kv_le64 free_root; /* fsb of the free-space index root */
	uint8_t hash_level; /* tree height - 1 */
	uint8_t free_level;
	kv_le16 pad0;
	kv_le32 ndata; /* end of the data space, in data blocks */
	kv_le64 nentries; /* live entries in all data blocks */
};

#define KVFS_DIR_DATA_HDR_SIZE 64
#define KVFS_DIR_HEAD_SIZE (KVFS_DIR_DATA_HDR_SIZE + 40)

/* A record of a data block: a live entry or unused space. */
struct kvfs_dir_data_ent {
	kv_le64 ino; /* 0: unused */
	kv_le32 reclen; /* bytes of the record, multiple of 8 */
	uint8_t namelen;
	uint8_t ftype;
	kv_le16 pad0;
	uint8_t name[]; /* namelen bytes, zero-padded to 8 */
};

#define KVFS_DIR_DATA_ENT_SIZE 16
#define KVFS_DIR_DATA_ENTSIZE(namelen) \
	((KVFS_DIR_DATA_ENT_SIZE + (namelen) + 7u) & ~7u)

/* Above the entries of a directory (its data space holds fewer). */
#define KVFS_DIR_MAX_ENTRIES (1ull << 32)

/*
 * Name hash index record and key: (hash, address) is unique.  Eight bytes,
 * as XFS's leaf entry: an insert shifts the records after it, so a leaf
 * is soon relogged whole at every checkpoint, and the index's share of the
 * log follows its size.
 */
struct kvfs_dir_hash_rec {
	kv_le32 hash;
	kv_le32 addr; /* the entry's address (its cookie) */
};

/* The largest directory data space; addresses are below it / 8. */
#define KVFS_DIR_SPACE_BYTES (32ull << 30)

/* Free-space index record and key: sorted by bestfree, then block. */
struct kvfs_dir_free_rec {
	kv_le32 best;
	kv_le32 dblk;
};

/*
 * The name hash: 32-bit FNV-1a over the name's bytes.  Collisions are
 * expected (the index keys on hash and address).
 */
static inline uint32_t kvfs_dir_hashname(const uint8_t *name, unsigned len)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < len; i++)
		h = (h ^ name[i]) * 16777619u;
	return h;
}

/* Directory entry file types. */
#define KVFS_FT_UNKNOWN 0
#define KVFS_FT_REG 1
#define KVFS_FT_DIR 2
#define KVFS_FT_CHR 3
#define KVFS_FT_BLK 4
#define KVFS_FT_FIFO 5
#define KVFS_FT_SOCK 6
#define KVFS_FT_LNK 7
#define KVFS_FT_MAX 8

/*
 * ---- Extended attributes (XFS's attr fork) ----
 *
 * Names are stored whole, namespace prefix included ("user.mime"), 1..255
 * bytes; values 0..KVFS_XATTR_SIZE_MAX bytes.  The hash of a name is
 * kv_crc32c(0, name, namelen).
 *
 * Short form (aformat KVFS_DFORK_INLINE): the attribute fork holds a
 * header then count entries, each 2-byte aligned (struct kvfs_attr_sf_entry,
 * name, then value); totsize counts the header and the entries; the fork's
 * bytes after totsize are zero.  No hash order: the fork is small.
 *
 * Past that (aformat KVFS_DFORK_EXTENTS or BTREE) the attribute fork maps
 * blocks of the attribute space (file blocks of the fork), each
 * self-describing (owner the inode):
 *   - block 0 is a leaf (one leaf holds every attribute) or the hash
 *     index node (struct kvfs_attr_node_hdr): count entries sorted by
 *     hash, entry i sending hashes from its hashval (entry 0: 0) below
 *     entry i + 1's to the leaf at attribute block blkno.  One hash value
 *     lives in one leaf only.
 *   - a leaf (struct kvfs_attr_leaf_hdr): count entries (struct
 *     kvfs_attr_leaf_entry) sorted by (hash, name) after the header; the
 *     names and values are packed at the end of the block, from the
 *     lowest nameidx to the block's end, usedbytes in all.  A local entry
 *     points at struct kvfs_attr_leaf_local (value in the leaf), a remote
 *     one at struct kvfs_attr_leaf_remote (value in remote blocks).
 *   - remote value blocks (struct kvfs_attr_rmt_hdr): a value of n bytes
 *     starting at attribute block valueblk takes
 *     ceil(n / (blocksize - 56)) consecutive attribute blocks, each saying
 *     which bytes of the value it holds.
 */
#define KVFS_XATTR_NAME_MAX 255
#define KVFS_XATTR_SIZE_MAX 65536

struct kvfs_attr_sf_hdr {
	kv_le16 totsize; /* bytes: this header and the entries */
	uint8_t count;
	uint8_t pad0;
};

struct kvfs_attr_sf_entry {
	uint8_t namelen;
	uint8_t pad0;
	kv_le16 valuelen;
	uint8_t nameval[]; /* name, then value */
};

#define KVFS_ATTR_SF_HDR_SIZE 4
/* Entries are 2-byte aligned (zero padding after the value). */
#define KVFS_ATTR_SF_ENTSIZE(namelen, valuelen) \
	((4u + (namelen) + (valuelen) + 1u) & ~1u)

struct kvfs_attr_leaf_hdr {
	struct kvfs_blk_hdr hdr; /* KVFS_ATTR_LEAF_MAGIC */
	kv_le16 count; /* entries */
	kv_le16 usedbytes; /* bytes of names and values at the block's end */
	kv_le32 pad0;
};

#define KVFS_ATTR_LEAF_HDR_SIZE 56

/*
 * kvfs_attr_leaf_entry.flags.  DEAD: a removed attribute whose remote
 * blocks could not be unmapped yet (the fork's extent list was full): it
 * is invisible, keeps its name's place, and its blocks are freed by a
 * later change of its leaf that has room, by a set of its name, or with
 * the inode.
 */
#define KVFS_ATTR_LOCAL (1u << 0) /* the value is in the leaf */
#define KVFS_ATTR_DEAD (1u << 1) /* removed, remote blocks not freed yet */

struct kvfs_attr_leaf_entry {
	kv_le32 hashval;
	kv_le16 nameidx; /* byte offset in the block of its name/value */
	uint8_t flags; /* KVFS_ATTR_* */
	uint8_t pad0;
};

#define KVFS_ATTR_LEAF_ENTRY_SIZE 8

struct kvfs_attr_leaf_local {
	kv_le16 valuelen;
	uint8_t namelen;
	uint8_t nameval[]; /* name, then value */
};

struct kvfs_attr_leaf_remote {
	kv_le32 valueblk; /* first attribute block of the value */
	kv_le32 valuelen;
	uint8_t namelen;
	uint8_t name[];
};

/* Name/value records are 4-byte aligned (zero padding at their end). */
#define KVFS_ATTR_LOCAL_SIZE(namelen, valuelen) \
	((3u + (namelen) + (valuelen) + 3u) & ~3u)
#define KVFS_ATTR_REMOTE_SIZE(namelen) ((9u + (namelen) + 3u) & ~3u)

struct kvfs_attr_node_entry {
	kv_le32 hashval; /* the lowest hash sent to blkno */
	kv_le32 blkno; /* attribute block of the leaf */
};

struct kvfs_attr_node_hdr {
	struct kvfs_blk_hdr hdr; /* KVFS_ATTR_NODE_MAGIC */
	kv_le16 count;
	kv_le16 pad0;
	kv_le32 pad1;
};

#define KVFS_ATTR_NODE_HDR_SIZE 56

struct kvfs_attr_rmt_hdr {
	struct kvfs_blk_hdr hdr; /* KVFS_ATTR_RMT_MAGIC */
	kv_le32 offset; /* byte of the value this block starts at */
	kv_le32 bytes; /* bytes of the value in this block */
};

#define KVFS_ATTR_RMT_HDR_SIZE 56

/*
 * ---- Symbolic links ----
 *
 * A target of size bytes (1..KVFS_SYMLINK_MAXLEN, no NUL) is kept in the
 * data fork (KVFS_DFORK_INLINE, zeros after it) when it fits, else in
 * symlink blocks mapped by the data fork (file blocks 0..n-1), each
 * holding the bytes from offset on.
 */
#define KVFS_SYMLINK_MAXLEN 4095

struct kvfs_symlink_hdr {
	struct kvfs_blk_hdr hdr; /* KVFS_SYMLINK_MAGIC */
	kv_le32 offset; /* byte of the target this block starts at */
	kv_le32 bytes; /* bytes of the target in this block */
};

#define KVFS_SYMLINK_HDR_SIZE 56

/*
 * ---- Log payloads: what the filesystem's log items put in checkpoints
 * (the journal's own records, intents and dones are in
 * journal/log_format.h). ----
 */

/* Buffer deltas log changes in whole chunks of this many bytes. */
#define KVFS_BLI_CHUNK 128u
#define KVFS_BLI_CHUNK_SHIFT 7
/* The largest buffer that can be logged (a 64 KiB directory block). */
#define KVFS_BLI_MAX_LEN 65536u
#define KVFS_BLI_MAP_WORDS (KVFS_BLI_MAX_LEN / KVFS_BLI_CHUNK / 64)

/*
 * One buffer delta (the payload of a buffer item in a checkpoint):
 *
 *   struct kvfs_buf_log_hdr
 *   kv_le64 map[map_words]   bit c (word c / 64, bit c % 64) set: bytes
 *                            [128c, 128c + 127] of the buffer are logged;
 *                            map_words = buffer length / 128 / 64, rounded
 *                            up
 *   the logged chunks, 128 bytes each, in ascending chunk order
 */
struct kvfs_buf_log_hdr {
	kv_le64 blkno; /* first filesystem block of the buffer */
	kv_le32 nblks; /* blocks in the buffer */
	kv_le16 map_words; /* 64-bit words of the chunk map that follow */
	kv_le16 flags; /* KVFS_BLF_* */
};

/*
 * The block was freed: recovery drops what earlier deltas replayed into it
 * and writes nothing (it may hold file data now).  The map is all zero and
 * no chunks follow.
 */
#define KVFS_BLF_CANCEL (1u << 0)
#define KVFS_BLF_ALL KVFS_BLF_CANCEL

/*
 * Log payloads of the inode log item (fs/inode/inode_item.h): one delta per
 * logged inode, little-endian, in this order:
 *
 *   struct kvfs_inode_log_format   which inode, where, what follows
 *   struct kvfs_log_dinode         the core (always)
 *   dfork_len bytes                the data fork (KVFS_ILOG_DFORK only)
 *   afork_len bytes                the attribute fork (KVFS_ILOG_AFORK
 *                                  only), replayed at the inode's end
 *
 * The core is logged logically, field by field from the in-core inode,
 * not as a copy of the cluster buffer; recovery writes it into the inode
 * (header rebuilt, LSN stamped, crc recomputed) unless the inode on disk
 * verifies and carries an LSN at least as new.  Each fork is logged whole
 * (its size is set by forkoff) whenever it changed since the inode was
 * last written back.
 */
#define KVFS_ILOG_CORE (1u << 0)
#define KVFS_ILOG_DFORK (1u << 1)
#define KVFS_ILOG_AFORK (1u << 2)
#define KVFS_ILOG_ALL (KVFS_ILOG_CORE | KVFS_ILOG_DFORK | KVFS_ILOG_AFORK)

struct kvfs_inode_log_format {
	kv_le64 ino;
	kv_le64 blkno; /* filesystem block holding the inode */
	kv_le32 boffset; /* byte offset of the inode in that block */
	kv_le16 fields; /* KVFS_ILOG_*: CORE always set */
	kv_le16 pad0;
	kv_le32 dfork_len; /* bytes of data fork after the core, or 0 */
	kv_le32 afork_len; /* bytes of attribute fork, or 0 */
};

/*
 * The inode core as logged: struct kvfs_dinode from mode to rdev, the
 * same fields in the same layout (the header is rebuilt at replay, the
 * reserved bytes are not logged).
 */
struct kvfs_log_dinode {
	kv_le16 mode;
	uint8_t version;
	uint8_t dformat;
	kv_le32 nlink;
	kv_le32 uid;
	kv_le32 gid;
	kv_le64 size;
	kv_le64 nblocks;
	struct kvfs_timestamp atime;
	struct kvfs_timestamp mtime;
	struct kvfs_timestamp ctime;
	struct kvfs_timestamp crtime;
	kv_le32 generation;
	kv_le32 flags;
	kv_le32 nextents;
	kv_le16 forkoff;
	uint8_t aformat;
	uint8_t pad0;
	kv_le32 next_unlinked;
	kv_le32 anextents;
	kv_le64 rdev;
};

#define KVFS_INODE_LOG_FORMAT_SIZE 32
#define KVFS_LOG_DINODE_SIZE 128

/*
 * Log payload of the inode-chunk creation item (fs/inode/icreate_item.h,
 * XFS's xfs_icl): new free inodes were written into length blocks from
 * agbno of AG agno, count inodes of isize bytes, every one as
 * kvfs_dinode_init() makes a free inode (mode 0) with its inode number,
 * the generation gen and every timestamp sec/nsec, crc set, LSN 0.  The
 * cluster buffers themselves are not logged: they are ordered buffers
 * (fs/io/buf_item.h), written in place before the log tail passes this
 * item.  Recovery writes the blocks again from it unless a later
 * checkpoint (or its own) freed them (a buffer cancel); a chunk lies past
 * the AG's headers, inside its AG, clear of the log, and count is
 * length blocks of inodes.
 */
struct kvfs_icreate_log {
	kv_le32 agno;
	kv_le32 agbno;
	kv_le32 length; /* blocks */
	kv_le32 count; /* inodes: length * inodes a block */
	kv_le32 isize; /* bytes an inode */
	kv_le32 gen; /* every new inode's generation */
	kv_le64 sec; /* every new inode's timestamps */
	kv_le32 nsec;
	kv_le32 pad0; /* zero */
};

#define KVFS_ICREATE_LOG_SIZE 40

/*
 * Intent subtypes of the filesystem's deferred operations (fs/trans/defer.h):
 * the journal's intent records carry one of these and the items' records.
 */
#define KVFS_INTENT_EFI 1 /* free extents (fs/space/extfree_item.h) */

/* One extent of an extent-free intent: free [fsb, fsb + len). */
struct kvfs_efi_rec {
	kv_le64 fsb;
	kv_le32 len;
	kv_le32 pad0; /* zero */
};

#define KVFS_EFI_REC_SIZE 16

#endif
