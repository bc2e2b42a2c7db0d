// SPDX-License-Identifier: GPL-2.0
/*
 * mkfs: plan (validate everything, write nothing), then write.
 *
 * Layout written (see fs/format.h): in every AG, block 0 superblock copy,
 * 1 free-space header, 2 inode header, 3 reserve list, 4/5/6 the by-block,
 * by-size and inode-chunk tree roots (one leaf each), then the reserve
 * list's agfl_min blocks; in AG 0 the first inode allocation (root
 * directory and lost+found, aligned to its size) and the internal log
 * right after it.
 * The log is left all zero, which the journal reads as a clean empty log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/kvalloc.h"
#include "fs/format/ag.h"
#include "fs/io/blkhdr.h"
#include "fs/btree/btblock.h"
#include "fs/io/dev.h"
#include "fs/format/dinode.h"
#include "fs/format/mkfs.h"
#include "fs/format/sb.h"
#include "fs/kvfs.h"
#include "fs/mem.h"

#define ZERO_CHUNK (1u << 20)

static int mkfs_err(int ret, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int mkfs_err(int ret, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return ret;
}

int kvfs_parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	uint64_t v;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

/* Existing target: writable, sized, and carrying no signature unless -f. */
static int plan_existing(struct kvfs_mkfs_opts *o, const struct stat *st,
			 uint64_t *size)
{
	const char *t = o->target, *sig;
	size_t len = KVFS_PROBE_BYTES;
	uint64_t devsize;
	uint8_t *buf;
	int fd, ret = 0;

	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode))
		return mkfs_err(-EINVAL, o->err, sizeof(o->err),
				"%s is not a regular file or block device", t);
	if (S_ISBLK(st->st_mode) && o->size)
		return mkfs_err(
			-EINVAL, o->err, sizeof(o->err),
			"%s is a block device: -s only sizes image files", t);
	/* O_RDWR proves writability; without O_TRUNC it changes nothing */
	fd = open(t, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return mkfs_err(-errno, o->err, sizeof(o->err),
				"cannot open %s for writing: %s", t,
				strerror(errno));
	if (S_ISBLK(st->st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		devsize = end < 0 ? 0 : (uint64_t)end;
	} else {
		devsize = (uint64_t)st->st_size;
	}
	*size = o->size ? o->size : devsize;
	if (len > devsize)
		len = (size_t)devsize;
	buf = kvzalloc(KVFS_PROBE_BYTES, 0);
	if (!buf) {
		ret = mkfs_err(-ENOMEM, o->err, sizeof(o->err),
			       "out of memory");
		goto out_close;
	}
	if (len && pread(fd, buf, len, 0) != (ssize_t)len) {
		ret = mkfs_err(-EIO, o->err, sizeof(o->err),
			       "cannot read %s: %s", t,
			       errno ? strerror(errno) : "short read");
		goto out_free;
	}
	sig = kvfs_probe_signature(buf, len);
	if (sig && !o->force)
		ret = mkfs_err(-EEXIST, o->err, sizeof(o->err),
			       "%s contains an existing %s signature "
			       "(use -f to overwrite it)",
			       t, sig);
out_free:
	kvfree(buf);
out_close:
	close(fd);
	return ret;
}

/* New target: -s given, and a directory we can create it in. */
static int plan_new(struct kvfs_mkfs_opts *o)
{
	char path[4096];
	const char *dir;
	struct stat st;

	if (!o->size)
		return mkfs_err(-ENOENT, o->err, sizeof(o->err),
				"%s does not exist (give -s SIZE to create it)",
				o->target);
	snprintf(path, sizeof(path), "%s", o->target);
	dir = dirname(path);
	if (stat(dir, &st) < 0)
		return mkfs_err(-errno, o->err, sizeof(o->err),
				"cannot create %s: directory %s: %s", o->target,
				dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return mkfs_err(-ENOTDIR, o->err, sizeof(o->err),
				"cannot create %s: %s is not a directory",
				o->target, dir);
	if (access(dir, W_OK | X_OK) < 0)
		return mkfs_err(-errno, o->err, sizeof(o->err),
				"cannot create %s: %s", o->target,
				strerror(errno));
	return 0;
}

int kvfs_mkfs_plan(struct kvfs_mkfs_opts *o, struct kvfs_geom *g)
{
	struct kvfs_geom_params p = {
		.blocksize = o->blocksize,
		.agcount = o->agcount,
		.agsize = o->agsize,
		.logsize = o->logsize,
		.dirblksize = o->dirblksize,
	};
	struct timespec now;
	struct stat st;
	int ret;

	o->err[0] = '\0';
	if (o->label && strlen(o->label) > KVFS_LABEL_MAX)
		return mkfs_err(-EINVAL, o->err, sizeof(o->err),
				"label \"%s\" is longer than %d bytes",
				o->label, KVFS_LABEL_MAX);
	if (!o->target || !*o->target)
		return mkfs_err(-EINVAL, o->err, sizeof(o->err),
				"no target given");
	if (stat(o->target, &st) == 0)
		ret = plan_existing(o, &st, &p.size);
	else if (errno == ENOENT)
		ret = plan_new(o), p.size = o->size;
	else
		ret = mkfs_err(-errno, o->err, sizeof(o->err), "%s: %s",
			       o->target, strerror(errno));
	if (ret)
		return ret;
	ret = kvfs_geom_compute(&p, g, o->err, sizeof(o->err));
	if (ret)
		return ret;
	if (o->uuid)
		memcpy(g->uuid, o->uuid, KVFS_UUID_SIZE);
	else if ((ret = kvfs_uuid_generate(g->uuid)))
		return mkfs_err(ret, o->err, sizeof(o->err),
				"cannot generate a UUID: %s", strerror(-ret));
	/* the metadata UUID starts equal to the user's and never changes */
	memcpy(g->meta_uuid, g->uuid, KVFS_UUID_SIZE);
	if (o->label)
		snprintf(g->label, sizeof(g->label), "%s", o->label);
	clock_gettime(CLOCK_REALTIME, &now);
	g->ctime_sec = (uint64_t)now.tv_sec;
	return 0;
}

/* Create or extend a regular file to size bytes. */
static int prepare_file(struct kvfs_mkfs_opts *o)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(o->target, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return mkfs_err(-errno, o->err, sizeof(o->err),
				"cannot create %s: %s", o->target,
				strerror(errno));
	if (fstat(fd, &st) < 0 ||
	    (S_ISREG(st.st_mode) && (uint64_t)st.st_size < o->size &&
	     ftruncate(fd, (off_t)o->size) < 0))
		ret = mkfs_err(-errno, o->err, sizeof(o->err),
			       "cannot size %s to %" PRIu64 " bytes: %s",
			       o->target, o->size, strerror(errno));
	close(fd);
	return ret;
}

/*
 * The lock of every writer of the image (kvfs_image_lock()): -f or not, a
 * filesystem mounted or being checked is never formatted (the daemon
 * would go on writing its metadata over the new one).
 */
static int lock_target(struct kvfs_mkfs_opts *o, int *fdp)
{
	int ret =
		kvfs_image_lock(o->target, false, KVFS_IMAGE_LOCK_WAIT_MS, fdp);

	if (ret == -EBUSY)
		return mkfs_err(ret, o->err, sizeof(o->err),
				"%s is in use (mounted, or being checked): "
				"not formatted",
				o->target);
	if (ret)
		return mkfs_err(ret, o->err, sizeof(o->err),
				"cannot open %s: %s", o->target,
				strerror(-ret));
	return 0;
}

int kvfs_mkfs(struct kvfs_mkfs_opts *o, struct kvfs_geom *g)
{
	struct kv_dev *dev;
	int ret, lock = -1;
	bool exists;

	ret = kvfs_mkfs_plan(o, g);
	if (ret || o->dry_run)
		return ret;
	/* an existing target is locked before it is extended */
	exists = !access(o->target, F_OK);
	if (exists) {
		ret = lock_target(o, &lock);
		if (ret)
			return ret;
	}
	if (o->size) {
		ret = prepare_file(o);
		if (ret)
			goto out_unlock;
	}
	if (!exists) {
		ret = lock_target(o, &lock);
		if (ret)
			return ret;
	}
	ret = kv_dev_open(o->target, 0, &dev);
	if (ret) {
		mkfs_err(ret, o->err, sizeof(o->err), "cannot open %s: %s",
			 o->target, strerror(-ret));
		goto out_unlock;
	}
	ret = kvfs_mkfs_write(dev, g, o->err, sizeof(o->err));
	kv_dev_close(dev);
out_unlock:
	if (lock >= 0)
		close(lock);
	return ret;
}

/*
 * Make [off, off + len) read as zeros.  Discard first (on an image file it
 * punches a hole, which is what makes a 64 GiB mkfs fast), but discard
 * contents are unspecified, so read back and write zeros where needed.
 */
static int zero_range(struct kv_dev *dev, uint64_t off, uint64_t len)
{
	uint8_t *buf;
	int ret = 0;

	kv_dev_discard(dev, off, len);
	buf = kvmalloc(ZERO_CHUNK, 0);
	if (!buf)
		return -ENOMEM;
	while (len && !ret) {
		size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;

		ret = kv_dev_pread(dev, buf, n, off);
		if (!ret && !kvfs_mem_is_zero(buf, n)) {
			memset(buf, 0, n);
			ret = kv_dev_pwrite(dev, buf, n, off);
		}
		off += n;
		len -= n;
	}
	kvfree(buf);
	return ret;
}

struct ag_free {
	uint32_t nr;
	struct {
		uint32_t start, len;
	} ext[3];
};

/* The free extents of an AG right after mkfs, by block number. */
static void ag_free_extents(const struct kvfs_geom *g, uint32_t agno,
			    struct ag_free *f)
{
	uint32_t len = kvfs_ag_length(g, agno);
	uint32_t chunk = kvfs_geom_first_chunk_agbno(g);
	uint32_t logend = (uint32_t)g->logstart + g->logblocks;
	uint32_t cuts[3][2] = { { kvfs_geom_ag_overhead(g), len } };
	unsigned n = 1;

	if (agno == 0) {
		cuts[0][1] = chunk;
		cuts[1][0] = chunk + g->ialloc_blocks;
		cuts[1][1] = (uint32_t)g->logstart;
		cuts[2][0] = logend;
		cuts[2][1] = len;
		n = 3;
	}
	f->nr = 0;
	for (unsigned i = 0; i < n; i++) {
		if (cuts[i][1] <= cuts[i][0])
			continue;
		f->ext[f->nr].start = cuts[i][0];
		f->ext[f->nr].len = cuts[i][1] - cuts[i][0];
		f->nr++;
	}
}

/* Fill the header and root blocks of AG agno (KVFS_AG_MKFS_BLOCKS). */
static void build_ag(const struct kvfs_geom *g, uint32_t agno, uint8_t *buf)
{
	uint32_t bs = g->blocksize, chunk = kvfs_geom_first_chunk_agbno(g);
	struct kvfs_agf_info agf = {
		.agno = agno,
		.length = kvfs_ag_length(g, agno),
		.bno_root = KVFS_BNO_AGBNO,
		.cnt_root = KVFS_CNT_AGBNO,
		.btreeblks = 2,
		.flfirst = 0,
		.fllast = g->agfl_min - 1,
		.flcount = g->agfl_min,
	};
	struct kvfs_agi_info agi = {
		.agno = agno,
		.length = agf.length,
		.ino_root = KVFS_INO_AGBNO,
		.newino = KVFS_NULLAGINO,
	};
	uint8_t *bno = buf + KVFS_BNO_AGBNO * bs;
	uint8_t *cnt = buf + KVFS_CNT_AGBNO * bs;
	uint8_t *ino = buf + KVFS_INO_AGBNO * bs;
	uint32_t agfl[KVFS_BTREE_MAXLEVELS * 2 + 2];
	struct ag_free f;
	unsigned order[3] = { 0, 1, 2 }, nrecs = 0;

	for (unsigned i = 0; i < KVFS_AGI_UNLINKED_BUCKETS; i++)
		agi.unlinked[i] = KVFS_NULLAGINO;
	for (uint32_t i = 0; i < g->agfl_min; i++)
		agfl[i] = KVFS_AG_MKFS_BLOCKS + i;
	ag_free_extents(g, agno, &f);
	for (unsigned i = 0; i < f.nr; i++) {
		agf.freeblks += f.ext[i].len;
		if (f.ext[i].len > agf.longest)
			agf.longest = f.ext[i].len;
	}
	agf.free_extents = f.nr;
	/* by size: (len, start) order, at most 3 records */
	for (unsigned i = 0; i < f.nr; i++)
		for (unsigned j = i + 1; j < f.nr; j++)
			if (f.ext[order[j]].len < f.ext[order[i]].len ||
			    (f.ext[order[j]].len == f.ext[order[i]].len &&
			     f.ext[order[j]].start < f.ext[order[i]].start)) {
				unsigned t = order[i];

				order[i] = order[j];
				order[j] = t;
			}
	kvfs_btree_init_block(bno, g, &kvfs_bnobt_ops,
			      kvfs_agb_to_fsb(g, agno, KVFS_BNO_AGBNO), agno, 0,
			      f.nr);
	kvfs_btree_init_block(cnt, g, &kvfs_cntbt_ops,
			      kvfs_agb_to_fsb(g, agno, KVFS_CNT_AGBNO), agno, 0,
			      f.nr);
	for (unsigned i = 0; i < f.nr; i++) {
		struct kvfs_alloc_rec *r =
			kvfs_btree_rec(bno, &kvfs_bnobt_ops, i);
		struct kvfs_alloc_rec *c =
			kvfs_btree_rec(cnt, &kvfs_cntbt_ops, i);

		r->startblock = kv_cpu_to_le32(f.ext[i].start);
		r->blockcount = kv_cpu_to_le32(f.ext[i].len);
		c->startblock = kv_cpu_to_le32(f.ext[order[i]].start);
		c->blockcount = kv_cpu_to_le32(f.ext[order[i]].len);
	}
	if (agno == 0) {
		nrecs = g->ialloc_inos / KVFS_INODES_PER_CHUNK;
		agi.icount = g->ialloc_inos;
		agi.ifree = g->ialloc_inos - 2;
		agi.newino = kvfs_agbno_to_agino(g, chunk);
	}
	kvfs_btree_init_block(ino, g, &kvfs_inobt_ops,
			      kvfs_agb_to_fsb(g, agno, KVFS_INO_AGBNO), agno, 0,
			      nrecs);
	for (unsigned i = 0; i < nrecs; i++) {
		struct kvfs_inobt_rec *r =
			kvfs_btree_rec(ino, &kvfs_inobt_ops, i);
		/* the first two inodes are root and lost+found */
		uint64_t mask = i ? ~0ULL : ~3ULL;

		r->startino =
			kv_cpu_to_le32(agi.newino + i * KVFS_INODES_PER_CHUNK);
		r->holemask = kv_cpu_to_le16(0);
		r->count = KVFS_INODES_PER_CHUNK;
		r->freecount = (uint8_t)__builtin_popcountll(mask);
		r->freemask = kv_cpu_to_le64(mask);
	}
	kvfs_blkhdr_set_crc(bno, bs);
	kvfs_blkhdr_set_crc(cnt, bs);
	kvfs_blkhdr_set_crc(ino, bs);
	kvfs_agfl_to_disk(g, agno, agfl, g->agfl_min,
			  buf + KVFS_AGFL_AGBNO * bs);
	kvfs_agi_to_disk(g, &agi, buf + KVFS_AGI_AGBNO * bs);
	kvfs_agf_to_disk(g, &agf, buf + KVFS_AGF_AGBNO * bs);
	kvfs_sb_to_disk(g, agno, buf + KVFS_SB_AGBNO * bs);
}

/* The first inode allocation: root, lost+found, the rest free. */
static int build_inodes(const struct kvfs_geom *g, uint8_t *buf)
{
	uint64_t first = g->rootino;
	uint32_t uid = getuid(), gid = getgid();
	int ret;

	for (uint32_t i = 0; i < g->ialloc_inos; i++)
		kvfs_dinode_init(buf + ((size_t)i << g->inodelog), g, first + i,
				 0, 0, 0, 0, g->ctime_sec, 0, 0);
	kvfs_dinode_init(buf, g, g->rootino, S_IFDIR | 0755, 3, uid, gid,
			 g->ctime_sec, 0, 0);
	ret = kvfs_dir_sf_init(buf, g, g->rootino);
	if (!ret)
		ret = kvfs_dir_sf_add(buf, g, "lost+found", g->lpfino,
				      KVFS_FT_DIR);
	kvfs_dinode_init(buf + g->inodesize, g, g->lpfino, S_IFDIR | 0700, 2,
			 uid, gid, g->ctime_sec, 0, 0);
	if (!ret)
		ret = kvfs_dir_sf_init(buf + g->inodesize, g, g->rootino);
	for (uint32_t i = 0; i < g->ialloc_inos; i++)
		kvfs_dinode_set_crc(buf + ((size_t)i << g->inodelog), g);
	return ret;
}

int kvfs_mkfs_write(struct kv_dev *dev, const struct kvfs_geom *g, char *err,
		    size_t errlen)
{
	uint32_t bs = g->blocksize;
	size_t hdrlen = (size_t)KVFS_AG_MKFS_BLOCKS * bs;
	size_t ilen = (size_t)g->ialloc_blocks * bs;
	uint64_t head;
	uint8_t *buf;
	int ret;

	if (kvfs_fsb_to_bytes(g, g->dblocks) > kv_dev_size(dev))
		return mkfs_err(-ENOSPC, err, errlen,
				"%s is smaller than the filesystem",
				kv_dev_path(dev));
	buf = kvmalloc(hdrlen > ilen ? hdrlen : ilen, 0);
	if (!buf)
		return mkfs_err(-ENOMEM, err, errlen, "out of memory");
	/* an all-zero log is a clean empty log */
	ret = zero_range(dev, kvfs_fsb_to_bytes(g, g->logstart),
			 kvfs_fsb_to_bytes(g, g->logblocks));
	if (ret)
		goto out_io;
	/* wipe old signatures (ext4 at 1 KiB, btrfs at 64 KiB, ...) */
	head = kvfs_fsb_to_bytes(g, g->logstart);
	ret = zero_range(dev, 0, head < ZERO_CHUNK ? head : ZERO_CHUNK);
	if (ret)
		goto out_io;
	for (uint32_t agno = g->agcount; agno-- > 0;) {
		build_ag(g, agno, buf);
		/* AG 0's superblock goes last: a torn mkfs is no filesystem */
		if (agno == 0)
			ret = kv_dev_pwrite(dev, buf + bs, hdrlen - bs,
					    (uint64_t)bs);
		else
			ret = kv_dev_pwrite(
				dev, buf, hdrlen,
				kvfs_fsb_to_bytes(g,
						  kvfs_agb_to_fsb(g, agno, 0)));
		if (ret)
			goto out_io;
	}
	ret = build_inodes(g, buf);
	if (ret) {
		ret = mkfs_err(ret, err, errlen,
			       "cannot build the root directory: %s",
			       strerror(-ret));
		goto out;
	}
	ret = kv_dev_pwrite(
		dev, buf, ilen,
		kvfs_fsb_to_bytes(g, kvfs_ino_to_fsb(g, g->rootino)));
	if (!ret)
		ret = kv_dev_flush(dev);
	if (ret)
		goto out_io;
	kvfs_sb_to_disk(g, 0, buf);
	ret = kv_dev_pwrite(dev, buf, bs, 0);
	if (!ret)
		ret = kv_dev_flush(dev);
	if (ret)
		goto out_io;
	kvfree(buf);
	return 0;
out_io:
	ret = mkfs_err(ret, err, errlen, "write to %s failed: %s",
		       kv_dev_path(dev), strerror(-ret));
out:
	kvfree(buf);
	return ret;
}
