// SPDX-License-Identifier: GPL-2.0
/*
 * crc32c: hardware (SSE4.2) with a slicing-by-8 software fallback chosen
 * once, at first use.
 *
 * The crc32 instruction takes 3 cycles and can start one a cycle, so one
 * chain of them runs at a third of its speed: the hardware path runs three
 * lanes of LANE bytes at once and joins them (the register is linear: the
 * crc of A then B is A's shifted over |B| zero bytes xor B's from 0; the
 * shift over LANE bytes is a table made at setup), as Linux's
 * crc32c-pcl-intel and Mark Adler's crc32c.c do.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli */
/* bytes per lane: a 512-byte inode is one round, a 4 KiB block ten */
#define LANE 128

static uint32_t crc32c_table[8][256];
/* the crc register moved over LANE zero bytes, a byte of it at a time */
static uint32_t lane_shift[4][256];
static uint32_t (*crc32c_impl)(uint32_t crc, const unsigned char *p,
			       size_t len);
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static uint32_t crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		v ^= crc;
		crc = crc32c_table[7][v & 0xff] ^
		      crc32c_table[6][(v >> 8) & 0xff] ^
		      crc32c_table[5][(v >> 16) & 0xff] ^
		      crc32c_table[4][(v >> 24) & 0xff] ^
		      crc32c_table[3][(v >> 32) & 0xff] ^
		      crc32c_table[2][(v >> 40) & 0xff] ^
		      crc32c_table[1][(v >> 48) & 0xff] ^
		      crc32c_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

static uint32_t shift_lane(uint32_t c)
{
	return lane_shift[0][c & 0xff] ^ lane_shift[1][(c >> 8) & 0xff] ^
	       lane_shift[2][(c >> 16) & 0xff] ^ lane_shift[3][c >> 24];
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * LANE) {
		const unsigned char *end = p + LANE;
		uint64_t c1 = 0, c2 = 0;

		do {
			uint64_t v0, v1, v2;

			memcpy(&v0, p, 8);
			memcpy(&v1, p + LANE, 8);
			memcpy(&v2, p + 2 * LANE, 8);
			c = __builtin_ia32_crc32di(c, v0);
			c1 = __builtin_ia32_crc32di(c1, v1);
			c2 = __builtin_ia32_crc32di(c2, v2);
			p += 8;
		} while (p < end);
		c = shift_lane((uint32_t)c) ^ c1;
		c = shift_lane((uint32_t)c) ^ c2;
		p += 2 * LANE;
		len -= 3 * LANE;
	}
	while (len >= 8) {
		uint64_t v;

		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

static void crc32c_setup(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & -(c & 1));
		crc32c_table[0][i] = c;
	}
	for (unsigned i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc32c_table[t][i] =
				(crc32c_table[t - 1][i] >> 8) ^
				crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
	for (unsigned b = 0; b < 32; b++) {
		uint32_t c = 1u << b;

		for (unsigned i = 0; i < LANE; i++)
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
		/* linear: each byte value's image is its bits' images xored */
		for (unsigned v = 0; v < 256; v++)
			if (v & (1u << (b & 7)))
				lane_shift[b / 8][v] ^= c;
	}
	crc32c_impl = crc32c_sw;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		crc32c_impl = crc32c_hw;
#endif
}

uint32_t kv_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc32c_once, crc32c_setup);
	return ~crc32c_impl(~crc, buf, len);
}

uint32_t kv_crc32c_block(const void *buf, size_t len, size_t crc_off)
{
	static const unsigned char zero[4];
	const unsigned char *p = buf;
	uint32_t crc;

	crc = kv_crc32c(0, p, crc_off);
	crc = kv_crc32c(crc, zero, sizeof(zero));
	return kv_crc32c(crc, p + crc_off + 4, len - crc_off - 4);
}
