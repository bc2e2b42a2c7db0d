// SPDX-License-Identifier: GPL-2.0
/* crc32c against the standard check value and against itself in pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/crc32c.h"
#include "tests/check.h"

/* The definition, a bit at a time (reflected Castagnoli, inverted). */
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t len)
{
	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return ~crc;
}

int main(void)
{
	unsigned char buf[4099];
	uint32_t whole, parts;

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

	/* every length and alignment against the definition (lanes, tails) */
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof(buf);
		     len += 1 + len / 8)
			CHECK(kv_crc32c(0x1234u, buf + off, len) ==
			      crc_bitwise(0x1234u, buf + off, len));

	/* the crc field is read as zero, whatever it holds */
	memset(buf + 16, 0, 4);
	whole = kv_crc32c(0, buf, sizeof(buf));
	memset(buf + 16, 0xa5, 4);
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) == whole);
	buf[100] ^= 1;
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) != whole);
	return 0;
}
