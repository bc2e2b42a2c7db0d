// SPDX-License-Identifier: GPL-2.0
/*
 * Seed corpora of the fuzz targets, taken from a real filesystem: mkfs
 * with the harness's geometry (tests/fuzz/fuzz.h), a populated tree
 * (files of several sizes, a fragmented file with an extent B+tree, a
 * large directory with its index trees, short-form directories, inline
 * and block symlinks, short-form, leaf, node and remote xattrs, hard
 * links), then:
 *   log/   the first 64 KiB of the log region, dirty (after a sync, before
 *          the close) and clean (after it)
 *   ckpt/  each checkpoint of the dirty log as fuzz_ckpt takes it, stored
 *          plain and zstd-compressed
 *   the others: the image's metadata blocks by type (a few of each),
 *          inodes one by one for dinode/.
 *
 *   image/ and mount/: one metadata block of each type (for mount, of
 *          the types its walk reads) of a second, smaller image (300
 *          entries in the large directory), which those targets write
 *          their input over: it stays in OUTDIR/fs.img
 *
 *   gen_seeds OUTDIR     (OUTDIR/<target>/ are created)
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <zstd.h>

#include "fs/format/dinode.h"
#include "fs/kvfs.h"
#include "journal/log_format.h"
#include "tests/check.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/populate.h"

#define PER_TYPE 12
/* the image targets run a few inputs a second: one block of each type */
#define PER_TYPE_IMAGE 1
#define LOG_SEED (64u << 10)

static const char *outdir;

static void put(const char *target, const char *name, const void *buf,
		size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) && errno != EEXIST)
		CHECK(0);
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	f = fopen(path, "wb");
	CHECK(f != NULL);
	CHECK_EQ(fwrite(buf, 1, len, f), len);
	CHECK_EQ(fclose(f), 0);
}

static void put_log(int fd, const struct kvfs_geom *g, const char *name)
{
	static uint8_t log[LOG_SEED];

	CHECK_EQ(pread(fd, log, sizeof(log),
		       (off_t)(g->logstart * g->blocksize)),
		 (ssize_t)sizeof(log));
	put("log", name, log, sizeof(log));
}

/* Rebuilding each checkpoint's stream from the walk of the whole log. */
struct ck {
	int fd;
	off_t base;
	uint8_t *s;
	size_t len;
	unsigned n;
};

static int ck_read(void *priv, void *buf, size_t len, uint64_t off)
{
	struct ck *c = priv;

	return pread(c->fd, buf, len, c->base + (off_t)off) == (ssize_t)len ?
		       0 :
		       -EIO;
}

static void ck_flush(struct ck *c)
{
	static uint8_t out[1 << 17];
	size_t z;
	char name[32];

	if (!c->len || c->n >= PER_TYPE)
		return;
	out[0] = 0;
	memcpy(out + 1, c->s, c->len);
	snprintf(name, sizeof(name), "plain-%u", c->n);
	put("ckpt", name, out, c->len + 1);
	out[0] = 1;
	memcpy(out + 1, &(uint32_t){ htole32((uint32_t)c->len) }, 4);
	memcpy(out + 5,
	       &(uint32_t){
		       htole32(((const struct kvj_ckpt_hdr *)c->s)->nr_items) },
	       4);
	z = ZSTD_compress(out + 9, sizeof(out) - 9, c->s, c->len, 3);
	CHECK(!ZSTD_isError(z));
	snprintf(name, sizeof(name), "zstd-%u", c->n);
	put("ckpt", name, out, z + 9);
	c->n++;
	c->len = 0;
}

static void ck_add(struct ck *c, const void *p, size_t len)
{
	if (c->len + len > (KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE) {
		c->len = (KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE + 1;
		return;
	}
	memcpy(c->s + c->len, p, len);
	c->len += len;
}

static int ck_ckpt(void *priv, const struct kvj_walk_ckpt *w)
{
	struct ck *c = priv;
	struct kvj_ckpt_hdr h = {
		.magic = htole32(KVJ_CKPT_MAGIC),
		.nr_items = htole32(w->nr_items),
		.seq = htole64(w->seq),
	};

	ck_add(c, &h, sizeof(h));
	return 0;
}

static int ck_item(void *priv, const struct kvj_walk_ckpt *w,
		   const struct kvj_walk_item *it)
{
	static const uint8_t zero[8];
	struct ck *c = priv;
	struct kvj_item_hdr h = {
		.type = htole32(it->type),
		.len = htole32(it->len),
	};

	ck_add(c, &h, sizeof(h));
	ck_add(c, it->delta, it->len);
	ck_add(c, zero, (8 - it->len % 8) % 8);
	if (it->index + 1 == w->nr_items) {
		if (c->len <= (KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE)
			ck_flush(c);
		c->len = 0;
	}
	return 0;
}

static void put_ckpts(int fd, const struct kvfs_geom *g)
{
	static const struct kvj_io_ops io = { .read = ck_read };
	static const struct kvj_walk_ops ops = {
		.ckpt = ck_ckpt,
		.item = ck_item,
	};
	struct ck c = { .fd = fd, .base = (off_t)(g->logstart * g->blocksize) };

	c.s = malloc((KVJ_REC_MAX_BB - 1) * KVJ_BB_SIZE);
	CHECK(c.s != NULL);
	CHECK_EQ(kvj_log_walk(&io, &c, (uint64_t)g->logblocks * g->blocksize,
			      &ops, &c),
		 0);
	CHECK(c.n > 0);
	free(c.s);
}

static const char *target_of(uint32_t magic)
{
	switch (magic) {
	case KVFS_SB_MAGIC:
		return "sb";
	case KVFS_AGF_MAGIC:
		return "agf";
	case KVFS_AGI_MAGIC:
		return "agi";
	case KVFS_AGFL_MAGIC:
		return "agfl";
	case KVFS_BNOBT_MAGIC:
	case KVFS_CNTBT_MAGIC:
	case KVFS_INOBT_MAGIC:
	case KVFS_BMBT_MAGIC:
	case KVFS_DIR_HASH_MAGIC:
	case KVFS_DIR_FREE_MAGIC:
		return "btree";
	case KVFS_ATTR_LEAF_MAGIC:
	case KVFS_ATTR_NODE_MAGIC:
	case KVFS_ATTR_RMT_MAGIC:
		return "attr";
	case KVFS_SYMLINK_MAGIC:
		return "symlink";
	case KVFS_DIR_DATA_MAGIC:
		return "dir_data";
	}
	return NULL;
}

/*
 * The mount target opens the filesystem for each input (about a second
 * under ASan): its seeds are the blocks its walk reads past the mount.
 */
static bool mount_seed(uint32_t magic)
{
	return magic == KVFS_DIR_DATA_MAGIC || magic == KVFS_DIR_HASH_MAGIC ||
	       magic == KVFS_ATTR_LEAF_MAGIC || magic == KVFS_ATTR_NODE_MAGIC ||
	       magic == KVFS_BMBT_MAGIC || magic == KVFS_SYMLINK_MAGIC;
}

/*
 * A few blocks of each type (per magic), and inodes one by one; or, for
 * the image targets (image true), a few blocks of each type whole.
 */
static void put_blocks(int fd, const struct kvfs_geom *g, bool image)
{
	static uint8_t blk[65536];
	uint32_t magics[32];
	unsigned per_magic[32] = { 0 }, nmagics = 0;
	unsigned inodes = 0, iblocks = 0;
	char name[64];

	for (uint64_t b = 0; b < g->dblocks; b++) {
		uint32_t magic;
		const char *t;
		unsigned m;

		CHECK_EQ(
			pread(fd, blk, g->blocksize, (off_t)(b * g->blocksize)),
			(ssize_t)g->blocksize);
		magic = le32toh(*(uint32_t *)blk);
		if (magic == KVFS_DINODE_MAGIC && image) {
			if (iblocks++ < PER_TYPE_IMAGE) {
				snprintf(name, sizeof(name), "blk-%" PRIu64, b);
				put("image", name, blk, g->blocksize);
				put("mount", name, blk, g->blocksize);
			}
			continue;
		}
		if (magic == KVFS_DINODE_MAGIC) {
			for (uint32_t o = 0; o < g->blocksize;
			     o += g->inodesize) {
				const struct kvfs_dinode *d =
					(const void *)(blk + o);

				if (!kv_le16_to_cpu(d->mode) || inodes >= 64)
					continue;
				snprintf(name, sizeof(name), "ino-%" PRIu64,
					 fuzz_hdr_owner(d));
				put("dinode", name, d, g->inodesize);
				inodes++;
			}
			continue;
		}
		t = target_of(magic);
		if (!t)
			continue;
		for (m = 0; m < nmagics && magics[m] != magic; m++)
			;
		if (m == nmagics) {
			CHECK(nmagics < 32);
			magics[nmagics++] = magic;
		}
		if (per_magic[m]++ >= (image ? PER_TYPE_IMAGE : PER_TYPE))
			continue;
		if (magic == KVFS_DIR_DATA_MAGIC &&
		    g->dirblksize > g->blocksize)
			CHECK_EQ(pread(fd, blk, g->dirblksize,
				       (off_t)(b * g->blocksize)),
				 (ssize_t)g->dirblksize);
		snprintf(name, sizeof(name), "blk-%" PRIu64, b);
		if (image) {
			put("image", name, blk, g->blocksize);
			if (mount_seed(magic))
				put("mount", name, blk, g->blocksize);
			continue;
		}
		put(t, name, blk,
		    magic == KVFS_DIR_DATA_MAGIC ? g->dirblksize :
						   g->blocksize);
	}
	CHECK(inodes > 0 || image);
}

/* mkfs with the harness's geometry and populate with nbig entries. */
static struct kvfs_mount *make(const char *path, int nbig, struct kvfs_geom *g)
{
	const struct kvfs_geom *fg = fuzz_geom();
	struct kvfs_open_info info;
	struct kvfs_mount *mp;

	unlink(path);
	fuzz_mkfs(path, g);
	/* the targets verify against the harness's geometry */
	CHECK_EQ(g->dblocks, fg->dblocks);
	CHECK_EQ(g->inodesize, fg->inodesize);
	CHECK_EQ(g->logstart, fg->logstart);
	CHECK_EQ(kvfs_open(path, NULL, &mp, &info), 0);
	fuzz_populate(mp, nbig);
	return mp;
}

int main(int argc, char **argv)
{
	char path[4096];
	struct kvfs_mount *mp;
	struct kvfs_geom g;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	if (mkdir(outdir, 0755) && errno != EEXIST)
		CHECK(0);
	/* a directory large enough for index tree blocks */
	snprintf(path, sizeof(path), "%s/seeds.img", outdir);
	mp = make(path, 3000, &g);
	CHECK_EQ(kvfs_sync(mp), 0);
	/*
	 * a few checkpoints small enough for one record, whatever sizes the
	 * push thread's timing gave the others (all could be larger)
	 */
	for (int i = 0; i < 4; i++) {
		const struct kvfs_cred cr = { 0 };
		char name[32];

		snprintf(name, sizeof(name), "small-%d", i);
		CHECK_EQ(kvfs_create(mp, kvfs_root_ino(mp), name, 0100644, 0, 0,
				     &cr, NULL, NULL),
			 0);
		CHECK_EQ(kvfs_sync(mp), 0);
	}
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	put_log(fd, &g, "dirty");
	put_ckpts(fd, &g);
	CHECK_EQ(kvfs_close(mp), 0);
	put_log(fd, &g, "clean");
	put_blocks(fd, &g, false);
	close(fd);
	unlink(path);

	/* the image targets' image: smaller, each of their runs reads it all */
	snprintf(path, sizeof(path), "%s/fs.img", outdir);
	mp = make(path, 300, &g);
	CHECK_EQ(kvfs_close(mp), 0);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	put_blocks(fd, &g, true);
	close(fd);
	return 0;
}
