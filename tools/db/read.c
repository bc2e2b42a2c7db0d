// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db's read commands: the headers, inodes and blocks decoded and
 * verified, and the directory, attribute and extent code through a
 * read-only mount.
 */
#include "tools/db/db.h"
#include "tools/db/tables.h"

int cmd_sb(struct db *db, const struct db_args *a)
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
int cmd_ag(struct db *db, const struct db_args *a)
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

int cmd_agi(struct db *db, const struct db_args *a)
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
int cmd_agfl(struct db *db, const struct db_args *args)
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

int cmd_freesp(struct db *db, const struct db_args *args)
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

int cmd_inode(struct db *db, const struct db_args *a)
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

static bool known_magic(uint32_t m)
{
	return m == KVFS_SB_MAGIC || m == KVFS_AGF_MAGIC ||
	       m == KVFS_AGI_MAGIC || m == KVFS_AGFL_MAGIC ||
	       m == KVFS_BNOBT_MAGIC || m == KVFS_CNTBT_MAGIC ||
	       m == KVFS_INOBT_MAGIC || m == KVFS_BMBT_MAGIC;
}

int cmd_block(struct db *db, const struct db_args *a)
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

int cmd_check_crc(struct db *db, const struct db_args *a)
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

int cmd_ls(struct db *db, const struct db_args *a)
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

int cmd_bmap(struct db *db, const struct db_args *a)
{
	int fork = a->opt ? KVFS_ATTR_FORK : KVFS_DATA_FORK;

	return db_with_inode(db, a->ino, bmap_fork, &fork);
}

int cmd_xattr(struct db *db, const struct db_args *a)
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
int cmd_btree(struct db *db, const struct db_args *a)
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
