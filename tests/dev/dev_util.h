/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the device-layer tests: scratch images and patterns. */
#ifndef KV_TESTS_DEV_UTIL_H
#define KV_TESTS_DEV_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/check.h"

/* A new zero-filled image of size bytes; its path is written to path. */
static inline void make_image(char *path, size_t pathlen, uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, pathlen, "%s/kvfs-dev-XXXXXX", dir ? dir : "/tmp");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
}

/* Deterministic bytes depending on the byte offset and a seed. */
static inline void fill(void *buf, size_t len, uint64_t off, unsigned seed)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 2654435761u + seed * 40503u;

		p[i] = (uint8_t)(x ^ (x >> 13) ^ seed);
	}
}

static inline int matches(const void *buf, size_t len, uint64_t off,
			  unsigned seed)
{
	const uint8_t *p = buf;
	uint8_t *want = malloc(len ? len : 1);
	int ok;

	CHECK(want);
	fill(want, len, off, seed);
	ok = memcmp(p, want, len) == 0;
	free(want);
	return ok;
}

static inline int all_zero(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

#endif
