// SPDX-License-Identifier: GPL-2.0
/*
 * Superblock encode/decode/verify and UUID helpers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "alloc/kvalloc.h"
#include "fs/io/blkhdr.h"
#include "fs/io/dev.h"
#include "fs/format/sb.h"
#include "fs/mem.h"

void kvfs_sb_to_disk(const struct kvfs_geom *g, uint32_t agno, void *blk)
{
	struct kvfs_dsb *sb = blk;

	memset(blk, 0, g->blocksize);
	kvfs_blkhdr_init(blk, KVFS_SB_MAGIC,
			 kvfs_agb_to_fsb(g, agno, KVFS_SB_AGBNO), agno,
			 g->meta_uuid);
	sb->version = kv_cpu_to_le32(KVFS_VERSION);
	sb->blocksize = kv_cpu_to_le32(g->blocksize);
	sb->dblocks = kv_cpu_to_le64(g->dblocks);
	sb->agblocks = kv_cpu_to_le32(g->agblocks);
	sb->agcount = kv_cpu_to_le32(g->agcount);
	sb->logstart = kv_cpu_to_le64(g->logstart);
	sb->logblocks = kv_cpu_to_le32(g->logblocks);
	sb->inodesize = kv_cpu_to_le16((uint16_t)g->inodesize);
	sb->blocklog = (uint8_t)g->blocklog;
	sb->inodelog = (uint8_t)g->inodelog;
	sb->dirblklog = (uint8_t)g->dirblklog;
	sb->agblklog = (uint8_t)g->agblklog;
	sb->inopblog = (uint8_t)g->inopblog;
	sb->state = kv_cpu_to_le16((uint16_t)g->state);
	sb->ialloc_blocks = kv_cpu_to_le32(g->ialloc_blocks);
	sb->feat_compat = kv_cpu_to_le32(g->feat_compat);
	sb->feat_ro_compat = kv_cpu_to_le32(g->feat_ro_compat);
	sb->feat_incompat = kv_cpu_to_le32(g->feat_incompat);
	sb->feat_log_incompat = kv_cpu_to_le32(g->feat_log_incompat);
	sb->rootino = kv_cpu_to_le64(g->rootino);
	sb->lpfino = kv_cpu_to_le64(g->lpfino);
	sb->icount = kv_cpu_to_le64(g->icount);
	sb->ifree = kv_cpu_to_le64(g->ifree);
	sb->fdblocks = kv_cpu_to_le64(g->fdblocks);
	sb->ctime_sec = kv_cpu_to_le64(g->ctime_sec);
	memcpy(sb->label, g->label, strnlen(g->label, KVFS_LABEL_MAX));
	memcpy(sb->uuid, g->uuid, KVFS_UUID_SIZE);
	kvfs_blkhdr_set_crc(blk, g->blocksize);
}

int kvfs_sb_from_disk(const void *blk, size_t len, uint32_t agno,
		      const uint8_t *meta_uuid, struct kvfs_geom *g)
{
	const struct kvfs_dsb *sb = blk;
	uint64_t blkno;
	char what[32], err[160];
	int ret;

	*g = (struct kvfs_geom){ 0 };
	snprintf(what, sizeof(what), "superblock of AG %u", agno);
	g->blocksize = kv_le32_to_cpu(sb->blocksize);
	g->agblocks = kv_le32_to_cpu(sb->agblocks);
	/* the block number of a copy depends on agblocks: verify it after */
	blkno = (uint64_t)agno * g->agblocks;
	if (len < sizeof(*sb) || g->blocksize != len)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "block size %u, read %zu bytes",
				    g->blocksize, len);
	ret = kvfs_blkhdr_verify(blk, len, KVFS_SB_MAGIC, blkno, agno,
				 meta_uuid ? meta_uuid : sb->hdr.uuid, what);
	if (ret)
		return ret;
	if (kv_le32_to_cpu(sb->version) != KVFS_VERSION)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "version %u, this code knows %u",
				    kv_le32_to_cpu(sb->version), KVFS_VERSION);
	if (!kvfs_mem_is_zero(sb->reserved, sizeof(sb->reserved)) ||
	    !kvfs_mem_is_zero(sb->pad1, sizeof(sb->pad1)) ||
	    !kvfs_mem_is_zero((const uint8_t *)blk + sizeof(*sb),
			      len - sizeof(*sb)))
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "reserved bytes are not zero");
	g->blocklog = sb->blocklog;
	g->dblocks = kv_le64_to_cpu(sb->dblocks);
	g->agcount = kv_le32_to_cpu(sb->agcount);
	g->agblklog = sb->agblklog;
	g->logstart = kv_le64_to_cpu(sb->logstart);
	g->logblocks = kv_le32_to_cpu(sb->logblocks);
	g->inodesize = kv_le16_to_cpu(sb->inodesize);
	g->inodelog = sb->inodelog;
	g->dirblklog = sb->dirblklog;
	g->dirblksize = g->dirblklog < 32 ? 1u << g->dirblklog : 0;
	g->inopblog = sb->inopblog;
	g->inopblock = g->inopblog < 32 ? 1u << g->inopblog : 0;
	g->ialloc_blocks = kv_le32_to_cpu(sb->ialloc_blocks);
	g->ialloc_inos = g->ialloc_blocks * g->inopblock;
	g->rootino = kv_le64_to_cpu(sb->rootino);
	g->lpfino = kv_le64_to_cpu(sb->lpfino);
	g->state = kv_le16_to_cpu(sb->state);
	g->feat_compat = kv_le32_to_cpu(sb->feat_compat);
	g->feat_ro_compat = kv_le32_to_cpu(sb->feat_ro_compat);
	g->feat_incompat = kv_le32_to_cpu(sb->feat_incompat);
	g->feat_log_incompat = kv_le32_to_cpu(sb->feat_log_incompat);
	g->icount = kv_le64_to_cpu(sb->icount);
	g->ifree = kv_le64_to_cpu(sb->ifree);
	g->fdblocks = kv_le64_to_cpu(sb->fdblocks);
	g->ctime_sec = kv_le64_to_cpu(sb->ctime_sec);
	memcpy(g->uuid, sb->uuid, KVFS_UUID_SIZE);
	memcpy(g->meta_uuid, sb->hdr.uuid, KVFS_UUID_SIZE);
	memcpy(g->label, sb->label, KVFS_LABEL_MAX);
	g->label[KVFS_LABEL_MAX] = '\0';
	kvfs_geom_derive(g);
	ret = kvfs_geom_validate(g, err, sizeof(err));
	if (ret)
		return kvfs_corrupt(ret, blkno, what, "%s", err);
	if (agno >= g->agcount)
		return kvfs_corrupt(-EUCLEAN, blkno, what,
				    "AG %u beyond the AG count %u", agno,
				    g->agcount);
	return 0;
}

int kvfs_sb_blocksize(struct kv_dev *dev, uint32_t *bsp)
{
	struct kvfs_dsb head;
	uint32_t bs;
	int ret;

	if (kv_dev_size(dev) < sizeof(head))
		return -ENODATA;
	ret = kv_dev_pread(dev, &head, sizeof(head), 0);
	if (ret)
		return ret;
	bs = kv_le32_to_cpu(head.blocksize);
	/*
	 * A damaged magic on what is otherwise plainly a kvfs superblock is
	 * corruption to report, not a foreign device.
	 */
	if (kv_le32_to_cpu(head.hdr.magic) != KVFS_SB_MAGIC &&
	    (kv_le32_to_cpu(head.version) != KVFS_VERSION ||
	     kv_le64_to_cpu(head.hdr.blkno) || kv_le64_to_cpu(head.hdr.owner) ||
	     head.blocklog >= 32 || bs != 1u << head.blocklog))
		return -ENODATA;
	if (bs < (1u << KVFS_MIN_BLOCKLOG) || bs > (1u << KVFS_MAX_BLOCKLOG) ||
	    (bs & (bs - 1)))
		return kvfs_corrupt(-EUCLEAN, 0, "superblock of AG 0",
				    "block size %u invalid", bs);
	if (bs > kv_dev_size(dev))
		return kvfs_corrupt(-EUCLEAN, 0, "superblock of AG 0",
				    "block size %u larger than the device", bs);
	*bsp = bs;
	return 0;
}

int kvfs_sb_read(struct kv_dev *dev, struct kvfs_geom *g)
{
	uint32_t bs;
	void *blk;
	int ret = kvfs_sb_blocksize(dev, &bs);

	if (ret)
		return ret;
	blk = kvmalloc(bs, 0);
	if (!blk)
		return -ENOMEM;
	ret = kv_dev_pread(dev, blk, bs, 0);
	if (!ret)
		ret = kvfs_sb_from_disk(blk, bs, 0, NULL, g);
	if (!ret && kvfs_fsb_to_bytes(g, g->dblocks) > kv_dev_size(dev))
		ret = kvfs_corrupt(-EUCLEAN, 0, "superblock of AG 0",
				   "filesystem of %llu blocks is larger than "
				   "the device (%llu bytes)",
				   (unsigned long long)g->dblocks,
				   (unsigned long long)kv_dev_size(dev));
	kvfree(blk);
	return ret;
}

static int feature_refused(int err, const char *fmt, uint32_t bits)
{
	struct kvfs_report r = {
		.err = err,
		.blkno = 0,
		.ino = KVFS_NULLINO,
		.what = "superblock of AG 0",
	};

	snprintf(r.msg, sizeof(r.msg), fmt, bits);
	return kvfs_report(&r);
}

int kvfs_sb_check_features(const struct kvfs_geom *g, bool rdonly)
{
	uint32_t inc = g->feat_incompat & ~KVFS_FEAT_INCOMPAT_SUPP;
	uint32_t ro = g->feat_ro_compat & ~KVFS_FEAT_RO_COMPAT_SUPP;
	uint32_t log = g->feat_log_incompat & ~KVFS_FEAT_LOG_INCOMPAT_SUPP;

	if (inc)
		return feature_refused(
			-EOPNOTSUPP, "unknown incompatible features 0x%x", inc);
	if (log && (g->state & KVFS_STATE_DIRTY))
		return feature_refused(-EOPNOTSUPP,
				       "unknown log-incompatible features "
				       "0x%x in a log to replay",
				       log);
	if (ro && !rdonly)
		return feature_refused(-EROFS,
				       "unknown read-only-compatible features "
				       "0x%x: read-only access only",
				       ro);
	return 0;
}

int kvfs_sb_check_mount(const struct kvfs_geom *g, bool rdonly)
{
	int ret = kvfs_sb_check_features(g, rdonly);

	if (!ret && (g->feat_incompat & KVFS_FEAT_INCOMPAT_NEEDSREPAIR))
		ret = feature_refused(-EUCLEAN,
				      "needs repair (incompat 0x%x): run fsck",
				      KVFS_FEAT_INCOMPAT_NEEDSREPAIR);
	return ret;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

const char *const kvfs_sb_state_names[KVFS_SB_STATE_NAMES] = {
	[KVFS_STATE_CLEAN] = "clean",
	[KVFS_STATE_DIRTY] = "dirty",
	[KVFS_STATE_ERRORS] = "clean,errors",
	[KVFS_STATE_DIRTY | KVFS_STATE_ERRORS] = "dirty,errors",
};

const char *kvfs_sb_state_name(uint32_t state)
{
	return state < KVFS_SB_STATE_NAMES ? kvfs_sb_state_names[state] :
					     "invalid";
}

int kvfs_uuid_parse(const char *s, uint8_t uuid[KVFS_UUID_SIZE])
{
	int n = 0;

	for (int i = 0; i < 36; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		hi = hexval((unsigned char)s[i]);
		lo = hi < 0 ? -1 : hexval((unsigned char)s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		uuid[n++] = (uint8_t)(hi << 4 | lo);
		i++;
	}
	return s[36] ? -EINVAL : 0;
}

void kvfs_uuid_format(const uint8_t uuid[KVFS_UUID_SIZE], char out[37])
{
	char *p = out;

	for (int i = 0; i < KVFS_UUID_SIZE; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		p += sprintf(p, "%02x", uuid[i]);
	}
}

int kvfs_uuid_generate(uint8_t uuid[KVFS_UUID_SIZE])
{
	if (getrandom(uuid, KVFS_UUID_SIZE, 0) != KVFS_UUID_SIZE)
		return -errno;
	uuid[6] = (uuid[6] & 0x0f) | 0x40; /* version 4 */
	uuid[8] = (uuid[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	return 0;
}
