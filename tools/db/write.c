// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db's expert writes (-x): a named field of a structure, found by
 * its field tables, set and its checksum fixed (or not, with -c).
 */
#include "tools/db/db.h"
#include "tools/db/tables.h"

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
int view_find(const struct view *v, const char *spec, size_t *off,
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
	else if (t == F_STATE &&
		 !parse_word(val, kvfs_sb_state_names, KVFS_SB_STATE_NAMES, &v))
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

int bt_open(struct db *db, const char *owner, const char *tree, struct bt *bt)
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
int bt_read(struct db *db, const struct bt *bt, uint64_t fsb, unsigned level,
	    uint8_t *blk)
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
int bt_find(struct db *db, const struct bt *bt, const char *addr, uint8_t *blk,
	    uint64_t *fsbp, unsigned *levelp)
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
void view_btblock(struct view *v, const struct tree_desc *td,
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

int db_mount(struct db *db, struct kvfs_mount **mpp)
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
int db_with_inode(struct db *db, uint64_t ino,
		  int (*fn)(struct kvfs_inode *ip, void *priv), void *priv)
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

/*
 * STRUCT ADDR... FIELD (argv, argc words): the structure read into t,
 * the field's offset in it and its kind.  cmd names the command in the
 * messages.  t->buf is the caller's to free, whatever the result.
 */
int field_open(struct db *db, const char *cmd, int argc, char **argv,
	       struct target *t, size_t *off, enum ftype *type)
{
	const struct wstruct *ws = NULL;
	const char *name = argv[argc - 1];
	struct db_args addr;
	int naddr = argc - 2, ret;

	for (size_t i = 0; argc && i < NFIELDS(wstructs); i++)
		if (!strcmp(wstructs[i].name, argv[0]))
			ws = &wstructs[i];
	if (!ws || naddr < ws->min_addr || naddr > ws->max_addr) {
		fprintf(stderr,
			"kvfs-db: %s: see --help for what can be "
			"written and how it is addressed\n",
			cmd);
		return -EINVAL;
	}
	ret = parse_args(db, ws->name, ws->spec, NULL, argv + 1, naddr, &addr);
	if (ret)
		return ret;
	ret = ws->load(db, &addr, t);
	if (ret)
		return ret;
	t->name = name;
	ret = view_find(&t->v, name, off, type);
	if (ret) {
		fprintf(stderr, "kvfs-db: %s: %s has no field \"%s\"%s\n", cmd,
			ws->name, name,
			ret == -ERANGE ? " (index out of range)" : "");
		return -EINVAL;
	}
	if (t->base + *off + ftype_size(*type) > (size_t)t->nblocks
							 << db->g.blocklog) {
		fprintf(stderr, "kvfs-db: %s: %s is past the block\n", cmd,
			name);
		return -EINVAL;
	}
	return 0;
}

/*
 * Write t back, its crc recomputed unless keep_crc or the field written
 * is the crc itself (a crc written by hand is meant to stay).
 */
int field_store(struct db *db, struct target *t, bool keep_crc)
{
	const struct kvfs_geom *g = &db->g;
	int ret;

	if (!keep_crc && strcmp(t->name, "crc")) {
		if (t->crc == CRC_INODE)
			kvfs_dinode_set_crc(t->buf + t->ino_off, g);
		else
			kvfs_blkhdr_set_crc(t->buf, t->crc_len);
	}
	ret = kv_dev_pwrite(db->dev, t->buf, (size_t)t->nblocks << g->blocklog,
			    kvfs_fsb_to_bytes(g, t->fsb));
	if (!ret)
		ret = kv_dev_flush(db->dev);
	if (ret)
		fprintf(stderr, "kvfs-db: cannot write block %" PRIu64 ": %s\n",
			t->fsb, strerror(-ret));
	return ret;
}

/* write [-c] STRUCT ADDR... FIELD VALUE */
int cmd_write(struct db *db, const struct db_args *args)
{
	int argc = args->argc;
	char **argv = args->argv;
	struct target t = { 0 };
	uint8_t val[KVFS_LABEL_MAX];
	const char *name, *value;
	bool keep_crc = false;
	enum ftype type;
	size_t off;
	int ret;

	if (argc && !strcmp(argv[0], "-c")) {
		keep_crc = true;
		argc--;
		argv++;
	}
	if (argc < 3) {
		fprintf(stderr, "kvfs-db: write: see --help for what can be "
				"written and how it is addressed\n");
		return -EINVAL;
	}
	name = argv[argc - 2];
	value = argv[argc - 1];
	ret = field_open(db, "write", argc - 1, argv, &t, &off, &type);
	if (ret)
		goto out;
	ret = parse_value(type, value, val);
	if (ret) {
		fprintf(stderr, "kvfs-db: write: invalid value \"%s\" for %s\n",
			value, name);
		ret = -EINVAL;
		goto out;
	}
	memcpy(t.buf + t.base + off, val, ftype_size(type));
	ret = field_store(db, &t, keep_crc);
	if (!ret)
		print_field(t.buf + t.base + off, NULL, name, type);
out:
	kvfree(t.buf);
	return ret;
}
