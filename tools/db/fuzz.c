// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-db's field fuzzer (-x), xfs_db's fuzz: one field, addressed as
 * write addresses it, changed by a verb acting on its width, the old and
 * the new value printed.  The bits are numbered as xfs_db numbers them,
 * from the most significant: firstbit flips the top bit of the field's
 * value, lastbit the lowest, middlebit the one half-way down.
 */
#include <time.h>

#include "tools/db/db.h"

/* A field is at most KVFS_LABEL_MAX bytes (the widest kind). */
#define FUZZ_MAX KVFS_LABEL_MAX

/* Flip bit n from the top of a little-endian field of sz bytes. */
static void fuzz_flip(uint8_t *p, size_t sz, size_t n)
{
	size_t bit = sz * 8 - 1 - n;

	p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

static uint64_t fuzz_get(const uint8_t *p, size_t sz)
{
	uint64_t v = 0;

	for (size_t i = sz; i--;)
		v = v << 8 | p[i];
	return v;
}

static void fuzz_set(uint8_t *p, size_t sz, uint64_t v)
{
	for (size_t i = 0; i < sz; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

/* splitmix64: the same seed gives the same bytes on every host */
static uint64_t fuzz_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *const fuzz_verbs[] = {
	"zeroes",  "ones", "firstbit", "middlebit",
	"lastbit", "add",  "sub",      "random",
};

enum { V_ZEROES, V_ONES, V_FIRST, V_MIDDLE, V_LAST, V_ADD, V_SUB, V_RANDOM };

/*
 * Apply verb to the sz bytes at p.  add and sub, as xfs_db's, move the
 * value by 2000 (by 2 for a byte), modulo the width; they want a field
 * of 64 bits at most.
 */
static int fuzz_apply(int verb, uint8_t *p, size_t sz, uint64_t seed)
{
	uint64_t v = 0, d = sz > 1 ? 2000 : 2, s = seed;

	switch (verb) {
	case V_ZEROES:
		memset(p, 0, sz);
		return 0;
	case V_ONES:
		memset(p, 0xff, sz);
		return 0;
	case V_FIRST:
		fuzz_flip(p, sz, 0);
		return 0;
	case V_MIDDLE:
		fuzz_flip(p, sz, sz * 8 / 2);
		return 0;
	case V_LAST:
		fuzz_flip(p, sz, sz * 8 - 1);
		return 0;
	case V_ADD:
	case V_SUB:
		if (sz > 8)
			return -EINVAL;
		v = fuzz_get(p, sz);
		fuzz_set(p, sz, verb == V_ADD ? v + d : v - d);
		return 0;
	case V_RANDOM:
		for (size_t i = 0; i < sz; i++) {
			if (!(i % 8))
				v = fuzz_next(&s);
			p[i] = (uint8_t)(v >> (i % 8 * 8));
		}
		return 0;
	}
	return -EINVAL;
}

/* fuzz [-c] [-s SEED] STRUCT ADDR... FIELD VERB */
int cmd_fuzz(struct db *db, const struct db_args *args)
{
	int argc = args->argc, verb = -1, ret;
	char **argv = args->argv;
	struct target t = { 0 };
	bool keep_crc = false, seeded = false;
	uint64_t seed = 0;
	enum ftype type;
	uint8_t *p;
	size_t off, sz;

	while (argc && argv[0][0] == '-') {
		if (!strcmp(argv[0], "-c")) {
			keep_crc = true;
		} else if (!strcmp(argv[0], "-s") && argc > 1 &&
			   !parse_u64(argv[1], &seed)) {
			seeded = true;
			argc--;
			argv++;
		} else {
			fprintf(stderr, "kvfs-db: fuzz: bad option \"%s\"\n",
				argv[0]);
			return -EINVAL;
		}
		argc--;
		argv++;
	}
	for (int i = 0; argc && i < (int)NFIELDS(fuzz_verbs); i++)
		if (!strcmp(argv[argc - 1], fuzz_verbs[i]))
			verb = i;
	if (argc < 3 || verb < 0) {
		fprintf(stderr,
			"kvfs-db: fuzz: VERB is one of zeroes ones firstbit "
			"middlebit lastbit add sub random\n");
		return -EINVAL;
	}
	if (verb == V_RANDOM && !seeded) {
		struct timespec ts;

		/* unseeded: the clock's, printed so that the run can be redone */
		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	ret = field_open(db, "fuzz", argc - 1, argv, &t, &off, &type);
	if (ret)
		goto out;
	p = t.buf + t.base + off;
	/* a timestamp's verbs act on its seconds, as xfs_db's on sec */
	sz = type == F_TS ? sizeof(kv_le64) : ftype_size(type);
	printf("old ");
	print_field(p, NULL, t.name, type);
	ret = fuzz_apply(verb, p, sz, seed);
	if (ret) {
		fprintf(stderr,
			"kvfs-db: fuzz: %s works on fields of 64 bits at most; "
			"%s has %zu\n",
			fuzz_verbs[verb], t.name, sz * 8);
		goto out;
	}
	ret = field_store(db, &t, keep_crc);
	if (ret)
		goto out;
	printf("new ");
	print_field(p, NULL, t.name, type);
	if (verb == V_RANDOM)
		printf("seed = %" PRIu64 "\n", seed);
out:
	kvfree(t.buf);
	return ret;
}
