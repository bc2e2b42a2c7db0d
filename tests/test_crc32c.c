// SPDX-License-Identifier: GPL-2.0
/* crc32c against the standard check value and against itself in pieces. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal/crc32c.h"
#include "tests/check.h"

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

	/* the crc field is read as zero, whatever it holds */
	memset(buf + 16, 0, 4);
	whole = kv_crc32c(0, buf, sizeof(buf));
	memset(buf + 16, 0xa5, 4);
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) == whole);
	buf[100] ^= 1;
	CHECK(kv_crc32c_block(buf, sizeof(buf), 16) != whole);
	return 0;
}
