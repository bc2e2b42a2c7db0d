// SPDX-License-Identifier: GPL-2.0
/*
 * crc32c against the standard check value, against itself in pieces, and
 * against a bit-at-a-time reference at every length to 4 KiB and a bit
 * past, from every alignment (the hardware path's lanes and their join).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/crc32c.h"
#include "tests/check.h"

static uint32_t crc32c_ref(const unsigned char *p, size_t len)
{
	uint32_t c = ~0u;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & -(c & 1));
	}
	return ~c;
}

int main(void)
{
	static unsigned char rnd[4200 + 8];
	unsigned char buf[4099];
	uint32_t whole, parts;
	uint64_t z = 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < sizeof(rnd); i++) {
		z ^= z << 13;
		z ^= z >> 7;
		z ^= z << 17;
		rnd[i] = (unsigned char)z;
	}
	for (size_t align = 0; align < 8; align++)
		for (size_t len = 0; len <= 4200; len++)
			CHECK(kv_crc32c(0, rnd + align, len) ==
			      crc32c_ref(rnd + align, len));

	CHECK(kv_crc32c(0, "123456789", 9) == 0xe3069283u);
	CHECK(kv_crc32c(0, "", 0) == 0);

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	whole = kv_crc32c(0, buf, sizeof(buf));
	for (size_t split = 0; split < 64; split++) {
		parts = kv_crc32c(kv_crc32c(0, buf, split), buf + split,
				  sizeof(buf) - split);
		CHECK(parts == whole);
	}

	/* the crc field is read as zero, whatever it holds */
	memset(buf + 16, 0, 4);
	whole = kv_crc32c(0, buf, sizeof(buf));
	memset(buf + 16, 0xa5, 4);
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) == whole);
	buf[100] ^= 1;
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) != whole);
	return 0;
}
