// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db's blocktrash (-x): random bits of random metadata blocks
 * flipped, for the repair tests.
 */
#include "tools/db/db.h"

struct trash_run {
	uint64_t fsb;
	uint32_t len;
	uint8_t type;
};

struct trash {
	unsigned types; /* bit per enum kvfs_metablk_type */
	struct trash_run *runs;
	size_t n, cap;
	uint64_t total;
};

static int trash_collect(void *priv, uint64_t fsb, uint32_t len,
			 enum kvfs_metablk_type type, uint64_t owner)
{
	struct trash *tr = priv;
	int err;

	(void)owner;
	if (!(tr->types & (1u << type)))
		return 0;
	err = kvgrow((void **)&tr->runs, &tr->cap, tr->n, sizeof(*tr->runs), 0);
	if (err)
		return err;
	tr->runs[tr->n++] = (struct trash_run){ fsb, len, (uint8_t)type };
	tr->total += len;
	return 0;
}

/* splitmix64: a fixed generator, so that a seed means the same flips */
static uint64_t trash_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int trash_types(const char *s, unsigned *types)
{
	*types = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		int t = kvfs_metablk_type_parse(s, len);

		if (t < 0) {
			fprintf(stderr,
				"kvfs-db: blocktrash: unknown type "
				"\"%.*s\"\n",
				(int)len, s);
			return -EINVAL;
		}
		*types |= 1u << t;
		s += len + (s[len] == ',');
	}
	return *types ? 0 : -EINVAL;
}

/* blocktrash -s SEED -n COUNT [-t TYPE[,TYPE...]] [-b BITS] */
int cmd_blocktrash(struct db *db, const struct db_args *a)
{
	const struct kvfs_geom *g = &db->g;
	int argc = a->argc;
	char **argv = a->argv;
	struct trash tr = { .types = ((1u << KVFS_MB_NTYPES) - 1) &
				     ~(1u << KVFS_MB_LOG) };
	uint64_t seed = 0, count = 0, bits = 1, state;
	bool have_seed = false, have_count = false;
	uint8_t *blk = NULL;
	int ret;

	for (int i = 0; i < argc; i += 2) {
		uint64_t *v = NULL;

		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "-t")) {
			if (trash_types(argv[i + 1], &tr.types))
				return -EINVAL;
			continue;
		}
		if (!strcmp(argv[i], "-s")) {
			v = &seed;
			have_seed = true;
		} else if (!strcmp(argv[i], "-n")) {
			v = &count;
			have_count = true;
		} else if (!strcmp(argv[i], "-b")) {
			v = &bits;
		}
		if (!v || parse_u64(argv[i + 1], v))
			goto usage;
	}
	if (!have_seed || !have_count || !bits ||
	    bits > (uint64_t)g->blocksize * 8)
		goto usage;
	ret = kvfs_metablk_walk(db->dev, g, trash_collect, &tr);
	if (ret) {
		fprintf(stderr,
			"kvfs-db: blocktrash: cannot walk the "
			"metadata: %s\n",
			strerror(-ret));
		goto out;
	}
	if (!tr.total) {
		fprintf(stderr, "kvfs-db: blocktrash: no metadata blocks of "
				"the types asked\n");
		ret = -ENOENT;
		goto out;
	}
	printf("blocktrash: seed %" PRIu64 ", %" PRIu64
	       " metadata blocks to choose from\n",
	       seed, tr.total);
	blk = kvmalloc(g->blocksize, 0);
	if (!blk) {
		ret = -ENOMEM;
		goto out;
	}
	state = seed;
	for (uint64_t c = 0; c < count && !ret; c++) {
		uint64_t pick = trash_rand(&state) % tr.total, fsb;
		size_t r = 0;

		while (pick >= tr.runs[r].len)
			pick -= tr.runs[r++].len;
		fsb = tr.runs[r].fsb + pick;
		ret = read_blk(db, fsb, blk);
		for (uint64_t b = 0; b < bits && !ret; b++) {
			uint64_t bit = trash_rand(&state) %
				       ((uint64_t)g->blocksize * 8);

			blk[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			printf("blocktrash: block %" PRIu64 " (%s) bit %" PRIu64
			       "\n",
			       fsb, kvfs_metablk_type_name(tr.runs[r].type),
			       bit);
		}
		if (!ret)
			ret = kv_dev_pwrite(db->dev, blk, g->blocksize,
					    kvfs_fsb_to_bytes(g, fsb));
	}
	if (!ret)
		ret = kv_dev_flush(db->dev);
	if (ret)
		fprintf(stderr, "kvfs-db: blocktrash: %s\n", strerror(-ret));
out:
	kvfree(blk);
	kvfree(tr.runs);
	return ret;
usage:
	fprintf(stderr, "kvfs-db: usage: blocktrash -s SEED -n COUNT "
			"[-t TYPE[,TYPE...]] [-b BITS]\n");
	return -EINVAL;
}
