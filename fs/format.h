/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvfs on-disk format, version 1.  Every on-disk structure lives in this
 * header; fs/ondisk.c pins their sizes with static asserts.
 *
 * All fields are fixed-width little-endian (kv_le16/32/64, converted with
 * the helpers below); padding is explicit.
 */
#ifndef KV_FS_FORMAT_H
#define KV_FS_FORMAT_H

#include <endian.h>
#include <stdint.h>

typedef uint16_t kv_le16;
typedef uint32_t kv_le32;
typedef uint64_t kv_le64;

static inline uint16_t kv_le16_to_cpu(kv_le16 v) { return le16toh(v); }
static inline uint32_t kv_le32_to_cpu(kv_le32 v) { return le32toh(v); }
static inline uint64_t kv_le64_to_cpu(kv_le64 v) { return le64toh(v); }
static inline kv_le16 kv_cpu_to_le16(uint16_t v) { return htole16(v); }
static inline kv_le32 kv_cpu_to_le32(uint32_t v) { return htole32(v); }
static inline kv_le64 kv_cpu_to_le64(uint64_t v) { return htole64(v); }

#define KVFS_UUID_SIZE 16

/*
 * The self-describing header that starts every metadata block (and every
 * multi-block metadata buffer).  crc is crc32c over the whole block or
 * buffer with the crc field read as zero (kv_crc32c_block(buf, len,
 * KVFS_BLK_CRC_OFF)); blkno is the block's own filesystem block number;
 * lsn is the log sequence number of its last write-back; owner is the AG
 * number or inode number that owns it (0 where none exists).
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
#define KVFS_MAGIC(a, b, c, d)                                              \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |         \
	 (uint32_t)(d) << 24)

#define KVFS_SB_MAGIC KVFS_MAGIC('K', 'V', 'S', 'B')    /* superblock */
#define KVFS_AGH_MAGIC KVFS_MAGIC('K', 'V', 'A', 'G')   /* AG header */
#define KVFS_BNOBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'B') /* free by block */
#define KVFS_CNTBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'C') /* free by size */
#define KVFS_INOBT_MAGIC KVFS_MAGIC('K', 'V', 'I', 'B') /* inode chunks */
#define KVFS_BMBT_MAGIC KVFS_MAGIC('K', 'V', 'B', 'M')  /* extent map */
#define KVFS_DINODE_MAGIC KVFS_MAGIC('K', 'V', 'I', 'N')

#define KVFS_VERSION 1

/*
 * Feature flags.  A reader refuses a filesystem with an incompat bit it does
 * not know, opens one with an unknown ro_compat bit read-only only, and
 * ignores unknown compat bits.  Version 1 defines none.
 */
#define KVFS_FEAT_COMPAT_SUPP 0u
#define KVFS_FEAT_RO_COMPAT_SUPP 0u
#define KVFS_FEAT_INCOMPAT_SUPP 0u

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

#define KVFS_NULLBLOCK ((uint64_t)-1)
#define KVFS_NULLAGBLOCK ((uint32_t)-1)
#define KVFS_NULLINO ((uint64_t)0)

/*
 * Fixed blocks at the start of every AG.  Blocks from KVFS_AG_FIRST_FREE
 * on belong to the free-space index, inode chunks, the log (AG 0) and data.
 */
#define KVFS_SB_AGBNO 0
#define KVFS_AGH_AGBNO 1
#define KVFS_BNO_AGBNO 2
#define KVFS_CNT_AGBNO 3
#define KVFS_INO_AGBNO 4
#define KVFS_AG_FIRST_FREE 5

/* Superblock state. */
#define KVFS_STATE_CLEAN 0 /* written back and unmounted cleanly */
#define KVFS_STATE_DIRTY 1 /* mounted, or not cleanly unmounted */

/*
 * Superblock: block 0 of the filesystem, copied at block 0 of every AG
 * (header owner = AG number, header uuid = filesystem UUID).  Counters are
 * exact in AG 0's copy at clean unmount; the AG headers hold the truth.
 */
struct kvfs_dsb {
	struct kvfs_blk_hdr hdr;
	kv_le32 version;	  /* KVFS_VERSION */
	kv_le32 blocksize;	  /* bytes */
	kv_le64 dblocks;	  /* filesystem size in blocks */
	kv_le32 agblocks;	  /* blocks per AG (the last may be shorter) */
	kv_le32 agcount;
	kv_le64 logstart;	  /* first block of the internal log */
	kv_le32 logblocks;	  /* log length in blocks */
	kv_le16 inodesize;	  /* bytes */
	uint8_t blocklog;	  /* log2(blocksize) */
	uint8_t inodelog;	  /* log2(inodesize) */
	uint8_t agblklog;	  /* ceil(log2(agblocks)) */
	uint8_t inopblog;	  /* log2(inodes per block) */
	kv_le16 state;		  /* KVFS_STATE_* */
	kv_le32 ialloc_blocks;	  /* blocks per inode allocation */
	kv_le32 feat_compat;
	kv_le32 feat_ro_compat;
	kv_le32 feat_incompat;
	kv_le32 pad1;
	kv_le64 rootino;
	kv_le64 lpfino;		  /* lost+found */
	kv_le64 icount;		  /* allocated inodes (summary) */
	kv_le64 ifree;		  /* free inodes in allocated chunks */
	kv_le64 fdblocks;	  /* free blocks (summary) */
	kv_le64 ctime_sec;	  /* mkfs time */
	char label[KVFS_LABEL_MAX]; /* NUL-padded, not NUL-terminated */
	uint8_t reserved[320];
};

/*
 * AG header: block 1 of every AG.  Owner = AG number.  Free-space and inode
 * counters of this AG and the roots of its three B+trees.
 */
struct kvfs_agh {
	struct kvfs_blk_hdr hdr;
	kv_le32 agno;
	kv_le32 length;		/* blocks in this AG */
	kv_le32 bno_root;	/* AG block of the by-block free-space root */
	kv_le32 cnt_root;	/* AG block of the by-size free-space root */
	kv_le32 ino_root;	/* AG block of the inode-chunk root */
	uint8_t bno_level;	/* tree height - 1 */
	uint8_t cnt_level;
	uint8_t ino_level;
	uint8_t pad0;
	kv_le32 freeblks;	/* free blocks in the free-space index */
	kv_le32 longest;	/* longest free extent */
	kv_le32 free_extents;	/* records in the by-block tree */
	kv_le32 icount;		/* inodes in allocated chunks */
	kv_le32 ifree;		/* free inodes among them */
	kv_le32 newino;		/* agino of the last chunk allocated */
	uint8_t reserved[64];
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
	kv_le64 leftsib;	/* KVFS_NULLBLOCK at the left edge */
	kv_le64 rightsib;	/* KVFS_NULLBLOCK at the right edge */
};

#define KVFS_BTREE_HDR_SIZE 72
#define KVFS_BTREE_MAXLEVELS 8

/* Free-space record and key (both trees; by-size sorts by count, start). */
struct kvfs_alloc_rec {
	kv_le32 startblock; /* AG block */
	kv_le32 blockcount;
};

/* Inode-chunk record and key (key = startino). */
struct kvfs_inobt_rec {
	kv_le32 startino;   /* agino of the chunk's first inode */
	kv_le32 freecount;  /* set bits in freemask */
	kv_le64 freemask;   /* bit i set: inode startino + i is free */
};

/* Node keys are 8-byte multiples so that the child pointers stay aligned. */
struct kvfs_inobt_key {
	kv_le32 startino;
	kv_le32 pad;
};

/* Extent record (extent map leaves and in-inode extent lists). */
struct kvfs_extent {
	kv_le64 startoff;   /* file block */
	kv_le64 startblock; /* filesystem block */
	kv_le32 blockcount;
	kv_le32 flags;	    /* KVFS_EXT_* */
};

#define KVFS_EXT_UNWRITTEN (1u << 0)

struct kvfs_timestamp {
	kv_le64 sec;
	kv_le32 nsec;
	kv_le32 pad;
};

/* Data fork formats. */
#define KVFS_DFORK_INLINE 1  /* data (short dir, symlink) in the inode */
#define KVFS_DFORK_EXTENTS 2 /* kvfs_extent array in the inode */
#define KVFS_DFORK_BTREE 3   /* extent B+tree root in the inode */

/*
 * On-disk inode: inodesize bytes, the core then the data fork (and, when
 * forkoff != 0, the attribute fork at core + forkoff * 8).  The header's
 * crc covers inodesize bytes; blkno is the block holding the inode; owner
 * is the inode number.  Free inodes in an allocated chunk have mode 0 and a
 * valid header.
 */
struct kvfs_dinode {
	struct kvfs_blk_hdr hdr;
	kv_le16 mode;	     /* S_IF* | permissions; 0 = free */
	uint8_t version;     /* 1 */
	uint8_t dformat;     /* KVFS_DFORK_* */
	kv_le32 nlink;
	kv_le32 uid;
	kv_le32 gid;
	kv_le64 size;	     /* bytes (directories: bytes of entries) */
	kv_le64 nblocks;     /* blocks used, data and metadata */
	struct kvfs_timestamp atime;
	struct kvfs_timestamp mtime;
	struct kvfs_timestamp ctime;
	struct kvfs_timestamp crtime;
	kv_le32 generation;
	kv_le32 flags;	     /* KVFS_DIFLAG_* */
	kv_le32 nextents;    /* data fork extents */
	kv_le16 forkoff;     /* attr fork offset in 8-byte units, 0 = none */
	uint8_t aformat;
	uint8_t pad0;
	kv_le64 next_unlinked; /* orphan list; KVFS_NULLINO at the end */
	uint8_t reserved[40];
};

#define KVFS_DINODE_CORE_SIZE 208

/* Inode flags. */
#define KVFS_DIFLAG_IMMUTABLE (1u << 0)
#define KVFS_DIFLAG_APPEND (1u << 1)
#define KVFS_DIFLAG_NODUMP (1u << 2)
#define KVFS_DIFLAG_NOATIME (1u << 3)

/*
 * Short-form (inline) directory in the data fork: a header, then count
 * entries, each 8-byte aligned.  The first entry is "." (the directory
 * itself), the second ".." (its parent).  cookie is the entry's stable
 * readdir offset; next_cookie is the next one to hand out.
 */
struct kvfs_dir_sf_hdr {
	kv_le16 count;
	kv_le16 pad0;
	kv_le32 next_cookie;
};

struct kvfs_dir_sf_ent {
	kv_le64 ino;
	kv_le32 cookie;
	uint8_t namelen;
	uint8_t ftype;	/* KVFS_FT_* */
	kv_le16 pad0;
	uint8_t name[];	/* namelen bytes, zero-padded to 8 */
};

#define KVFS_DIR_SF_HDR_SIZE 8
#define KVFS_DIR_SF_ENT_SIZE 16
#define KVFS_DIR_SF_ENTSIZE(namelen)                                        \
	((KVFS_DIR_SF_ENT_SIZE + (namelen) + 7u) & ~7u)

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

#endif
