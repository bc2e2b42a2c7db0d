// SPDX-License-Identifier: GPL-2.0
/*
 * KV_FAULT_SECTORS, the volatile write cache that persists any subset of
 * its sectors at a crash: the outcome is reproducible from the seed; what a
 * flush covered always survives; each unflushed sector persists or not
 * independently of the others (both happen, over many seeds); a sector
 * written several times ends in one of its states, never in a mix the
 * writes did not produce; a crash or tear point resolves the cache there.
 */
#include <errno.h>

#include "fs/io/dev.h"
#include "tests/dev/dev_util.h"

#define IMG_SIZE (1u << 20)
#define SEC 512u
#define NSEC 64
#define BASE (64u * 1024)
#define REGION (NSEC * SEC)
#define SEEDS 200

static char path[256];

static uint64_t sec_off(unsigned s)
{
	return BASE + (uint64_t)s * SEC;
}

/* Reboot with no faults, write the region with pattern pat, flush. */
static void baseline(struct kv_dev *dev, unsigned pat)
{
	static uint8_t buf[REGION];
	struct kv_dev_fault none = { 0 };

	CHECK_EQ(kv_dev_set_fault(dev, &none), 0);
	fill(buf, REGION, BASE, pat);
	CHECK_EQ(kv_dev_pwrite(dev, buf, REGION, BASE), 0);
	CHECK_EQ(kv_dev_flush(dev), 0);
}

static void arm(struct kv_dev *dev, unsigned modes, uint64_t seed,
		uint64_t crash_after, uint64_t tear_write)
{
	struct kv_dev_fault f = { .modes = KV_FAULT_SECTORS | modes,
				  .crash_after = crash_after,
				  .tear_write = tear_write,
				  .seed = seed };

	CHECK_EQ(kv_dev_set_fault(dev, &f), 0);
}

/* Write sector s with pattern pat. */
static void put_sec(struct kv_dev *dev, unsigned s, unsigned pat)
{
	uint8_t buf[SEC];

	fill(buf, SEC, sec_off(s), pat);
	CHECK_EQ(kv_dev_pwrite(dev, buf, SEC, sec_off(s)), 0);
}

static int sec_is(const uint8_t *region, unsigned s, unsigned pat)
{
	return matches(region + (size_t)s * SEC, SEC, sec_off(s), pat);
}

/*
 * A scripted run of unaligned, overlapping writes with a flush in the
 * middle, ended by a power failure under seed.  The region as the media
 * holds it goes to out; allowed[s] collects every state sector s may be
 * in (the state at the flush, then one per write to it since).
 */
struct states {
	unsigned nr;
	uint8_t (*v)[SEC];
};

static void scripted(struct kv_dev *dev, uint64_t seed, uint8_t *out,
		     struct states *allowed)
{
	static uint8_t shadow[REGION];
	unsigned lcg = 99, i, s;

	baseline(dev, 1);
	fill(shadow, REGION, BASE, 1);
	if (allowed)
		for (s = 0; s < NSEC; s++) {
			allowed[s].nr = 1;
			memcpy(allowed[s].v[0], shadow + (size_t)s * SEC, SEC);
		}
	arm(dev, 0, seed, 0, 0);
	for (i = 0; i < 60; i++) {
		uint64_t off, len;

		lcg = lcg * 1103515245u + 12345u;
		off = (lcg >> 8) % (REGION - 100);
		len = 1 + (lcg >> 3) % 2000;
		if (off + len > REGION)
			len = REGION - off;
		fill(shadow + off, len, BASE + off, 10 + i);
		CHECK_EQ(kv_dev_pwrite(dev, shadow + off, len, BASE + off), 0);
		if (i == 25) {
			CHECK_EQ(kv_dev_flush(dev), 0);
			for (s = 0; allowed && s < NSEC; s++) {
				allowed[s].nr = 1;
				memcpy(allowed[s].v[0],
				       shadow + (size_t)s * SEC, SEC);
			}
			continue;
		}
		for (s = off / SEC; allowed && s <= (off + len - 1) / SEC;
		     s++) {
			CHECK(allowed[s].nr < 64);
			memcpy(allowed[s].v[allowed[s].nr++],
			       shadow + (size_t)s * SEC, SEC);
		}
	}
	/* before the crash, reads see the newest writes */
	CHECK_EQ(kv_dev_pread(dev, out, REGION, BASE), 0);
	CHECK(memcmp(out, shadow, REGION) == 0);
	kv_dev_power_fail(dev);
	CHECK(kv_dev_crashed(dev));
	CHECK_EQ(kv_dev_pread(dev, out, REGION, BASE), 0);
}

static void test_determinism_and_states(struct kv_dev *dev)
{
	static uint8_t a[REGION], b[REGION], c[REGION];
	static uint8_t vers[NSEC][64][SEC];
	struct states allowed[NSEC];
	unsigned s, k, differ = 0, changed = 0;

	for (s = 0; s < NSEC; s++)
		allowed[s].v = vers[s];
	scripted(dev, 7, a, allowed);
	/* every sector holds one of its states */
	for (s = 0; s < NSEC; s++) {
		for (k = 0; k < allowed[s].nr; k++)
			if (!memcmp(a + (size_t)s * SEC, allowed[s].v[k], SEC))
				break;
		if (k == allowed[s].nr)
			fprintf(stderr, "sector %u: none of its %u states\n", s,
				allowed[s].nr);
		CHECK(k < allowed[s].nr);
		changed += k > 0;
	}
	CHECK(changed > 0);
	/* the same writes under the same seed: the same media, reopened */
	scripted(dev, 7, b, NULL);
	CHECK(memcmp(a, b, REGION) == 0);
	kv_dev_close(dev);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	CHECK_EQ(kv_dev_pread(dev, b, REGION, BASE), 0);
	CHECK(memcmp(a, b, REGION) == 0);
	/* other seeds: other media */
	for (s = 8; s < 12; s++) {
		scripted(dev, s, c, NULL);
		differ += memcmp(a, c, REGION) != 0;
	}
	CHECK(differ >= 3);
	kv_dev_close(dev);
}

/*
 * Half the sectors written one by one, half by one large write, after a
 * flushed write of sectors that are not touched again: each unflushed
 * sector persists in some seeds and not in others, every pair in all four
 * combinations, about half of them overall; the flushed ones always.
 */
static void test_independent(struct kv_dev *dev)
{
	static uint8_t got[REGION], big[REGION / 2];
	unsigned kept[NSEC] = { 0 }, pairs[4] = { 0 }, total = 0;
	unsigned seed, s;

	for (seed = 1; seed <= SEEDS; seed++) {
		baseline(dev, 1);
		arm(dev, 0, seed * 7919, 0, 0);
		for (s = 0; s < 4; s++)
			put_sec(dev, s, 3);
		CHECK_EQ(kv_dev_flush(dev), 0);
		for (s = 4; s < NSEC / 2; s++)
			put_sec(dev, s, 2);
		fill(big, sizeof(big), sec_off(NSEC / 2), 2);
		CHECK_EQ(
			kv_dev_pwrite(dev, big, sizeof(big), sec_off(NSEC / 2)),
			0);
		kv_dev_power_fail(dev);
		CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
		for (s = 0; s < 4; s++)
			CHECK(sec_is(got, s, 3));
		for (s = 4; s < NSEC; s++) {
			bool n = sec_is(got, s, 2);

			CHECK(n || sec_is(got, s, 1));
			kept[s] += n;
			total += n;
		}
		pairs[sec_is(got, 5, 2) * 2 + sec_is(got, 40, 2)]++;
	}
	for (s = 4; s < NSEC; s++) {
		if (!kept[s] || kept[s] == SEEDS)
			fprintf(stderr, "sector %u persisted in %u/%u seeds\n",
				s, kept[s], SEEDS);
		CHECK(kept[s] > 0 && kept[s] < SEEDS);
	}
	for (s = 0; s < 4; s++)
		CHECK(pairs[s] > 0);
	/* 12000 fair draws: far inside 40..60% */
	CHECK(total * 10 > (NSEC - 4) * SEEDS * 4);
	CHECK(total * 10 < (NSEC - 4) * SEEDS * 6);
}

/*
 * A sector written three times whole ends old or in any of the three; a
 * sector written as two halves ends old, with the first half new, or with
 * both: never with only the second half, a state no write left it in.
 */
static void test_versions(struct kv_dev *dev)
{
	unsigned whole[4] = { 0 }, halves[3] = { 0 };
	uint8_t buf[SEC], got[SEC];
	unsigned seed, v;

	for (seed = 1; seed <= SEEDS; seed++) {
		baseline(dev, 1);
		arm(dev, 0, seed, 0, 0);
		for (v = 2; v <= 4; v++)
			put_sec(dev, 10, v);
		fill(buf, SEC, sec_off(11), 5);
		CHECK_EQ(kv_dev_pwrite(dev, buf, SEC / 2, sec_off(11)), 0);
		fill(buf, SEC, sec_off(11), 6);
		CHECK_EQ(kv_dev_pwrite(dev, buf + SEC / 2, SEC / 2,
				       sec_off(11) + SEC / 2),
			 0);
		kv_dev_power_fail(dev);

		CHECK_EQ(kv_dev_pread(dev, got, SEC, sec_off(10)), 0);
		for (v = 1; v <= 4; v++)
			if (matches(got, SEC, sec_off(10), v))
				break;
		CHECK(v <= 4);
		whole[v - 1]++;

		CHECK_EQ(kv_dev_pread(dev, got, SEC, sec_off(11)), 0);
		if (matches(got, SEC / 2, sec_off(11), 1)) {
			/* the first half old: so must the second be */
			CHECK(matches(got + SEC / 2, SEC / 2,
				      sec_off(11) + SEC / 2, 1));
			halves[0]++;
		} else {
			CHECK(matches(got, SEC / 2, sec_off(11), 5));
			if (matches(got + SEC / 2, SEC / 2,
				    sec_off(11) + SEC / 2, 1)) {
				halves[1]++;
			} else {
				CHECK(matches(got + SEC / 2, SEC / 2,
					      sec_off(11) + SEC / 2, 6));
				halves[2]++;
			}
		}
	}
	for (v = 0; v < 4; v++)
		CHECK(whole[v] > SEEDS / 10);
	for (v = 0; v < 3; v++)
		CHECK(halves[v] > SEEDS / 10);
}

/*
 * With CRASH, the crash point resolves the cache: writes up to it may
 * persist, later ones never; what a flush before it covered survives; until
 * the power fails the dead machine reads its cache.  With TEAR, the torn
 * write's second half never persists.
 */
static void test_crash_points(struct kv_dev *dev)
{
	static uint8_t got[REGION], buf[4 * SEC];
	unsigned kept[3] = { 0 }, torn[2] = { 0 };
	unsigned seed, s;
	uint64_t n;

	for (seed = 1; seed <= SEEDS; seed++) {
		baseline(dev, 1);
		n = kv_dev_nr_writes(dev);
		arm(dev, KV_FAULT_CRASH, seed, n + 4, 0);
		put_sec(dev, 5, 2);
		CHECK_EQ(kv_dev_flush(dev), 0);
		for (s = 0; s < 3; s++)
			put_sec(dev, s, 2);
		CHECK(kv_dev_crashed(dev));
		put_sec(dev, 3, 2);
		CHECK_EQ(kv_dev_flush(dev), 0);
		/* the dead machine still reads its cache */
		CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
		for (s = 0; s < 6; s++)
			CHECK(sec_is(got, s, s == 3 || s == 4 ? 1 : 2));
		kv_dev_power_fail(dev);
		CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
		CHECK(sec_is(got, 5, 2));
		CHECK(sec_is(got, 3, 1));
		for (s = 0; s < 3; s++) {
			CHECK(sec_is(got, s, 1) || sec_is(got, s, 2));
			kept[s] += sec_is(got, s, 2);
		}
		/* chosen at the crash point: the same after a reboot */
		CHECK_EQ(kv_dev_set_fault(dev, &(struct kv_dev_fault){ 0 }), 0);
		CHECK_EQ(kv_dev_pread(dev, buf, 3 * SEC, sec_off(0)), 0);
		CHECK(!memcmp(buf, got, 3 * SEC));

		/* a torn write of sectors 8..11 */
		baseline(dev, 1);
		n = kv_dev_nr_writes(dev);
		arm(dev, KV_FAULT_TEAR, seed, 0, n + 1);
		fill(buf, sizeof(buf), sec_off(8), 2);
		CHECK_EQ(kv_dev_pwrite(dev, buf, sizeof(buf), sec_off(8)), 0);
		CHECK(kv_dev_crashed(dev));
		kv_dev_power_fail(dev);
		CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
		for (s = 8; s < 10; s++) {
			CHECK(sec_is(got, s, 1) || sec_is(got, s, 2));
			torn[s - 8] += sec_is(got, s, 2);
		}
		CHECK(sec_is(got, 10, 1) && sec_is(got, 11, 1));
	}
	for (s = 0; s < 3; s++)
		CHECK(kept[s] > 0 && kept[s] < SEEDS);
	for (s = 0; s < 2; s++)
		CHECK(torn[s] > 0 && torn[s] < SEEDS);
}

/* Leaving SECTORS mode writes the cache back whole; flushes empty it. */
static void test_mode_change(struct kv_dev *dev)
{
	static uint8_t got[REGION];
	struct kv_dev_fault none = { 0 };
	unsigned s;

	baseline(dev, 1);
	arm(dev, 0, 1, 0, 0);
	for (s = 0; s < NSEC; s++)
		put_sec(dev, s, 2);
	CHECK_EQ(kv_dev_set_fault(dev, &none), 0);
	kv_dev_power_fail(dev);
	CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
	for (s = 0; s < NSEC; s++)
		CHECK(sec_is(got, s, 2));

	/* a flush, then nothing new: a power failure changes nothing */
	baseline(dev, 1);
	arm(dev, 0, 1, 0, 0);
	for (s = 0; s < NSEC; s++)
		put_sec(dev, s, 3);
	CHECK_EQ(kv_dev_flush(dev), 0);
	kv_dev_power_fail(dev);
	CHECK_EQ(kv_dev_pread(dev, got, REGION, BASE), 0);
	for (s = 0; s < NSEC; s++)
		CHECK(sec_is(got, s, 3));

	/* the last sector of the device, and writes beyond it */
	arm(dev, 0, 1, 0, 0);
	CHECK_EQ(kv_dev_pwrite(dev, got, SEC, IMG_SIZE - SEC), 0);
	CHECK_EQ(kv_dev_pwrite(dev, got, SEC, IMG_SIZE - SEC / 2), -EINVAL);
	kv_dev_power_fail(dev);
}

int main(void)
{
	struct kv_dev *dev;

	make_image(path, sizeof(path), IMG_SIZE);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	test_determinism_and_states(dev);
	CHECK_EQ(kv_dev_open(path, 0, &dev), 0);
	test_independent(dev);
	test_versions(dev);
	test_crash_points(dev);
	test_mode_change(dev);
	kv_dev_close(dev);
	unlink(path);
	printf("dev sectors: %u seeds per property, ok\n", SEEDS);
	return 0;
}
