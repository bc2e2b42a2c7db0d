// SPDX-License-Identifier: GPL-2.0
/*
 * crc32c: hardware (SSE4.2) with a slicing-by-8 software fallback chosen
 * once, at first use.
 */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY 0x82f63b78u /* reflected Castagnoli */

static uint32_t crc32c_table[8][256];
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

#if defined(__x86_64__)
/*
 * The crc32 instruction takes 3 cycles and can start every cycle: three
 * lanes of CRC32C_LANE bytes run side by side and are joined by shifting
 * the first two past the bytes after them (the crc register is linear:
 * the register after A then B is the register after A moved past |B| zero
 * bytes, xor the register after B from 0).  A block's checksum was 6% of
 * fsck -n -f's CPU as one chain.
 */
#define CRC32C_LANE 128u

/* the register moved past CRC32C_LANE (0) and 2 * CRC32C_LANE (1) zero bytes */
static uint32_t crc32c_shift[2][4][256];

static uint32_t shift(const uint32_t t[4][256], uint32_t c)
{
	return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^
	       t[3][c >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;

	while (len && ((uintptr_t)p & 7)) {
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
		len--;
	}
	while (len >= 3 * CRC32C_LANE) {
		uint64_t b = 0, d = 0;

		for (size_t i = 0; i < CRC32C_LANE; i += 8) {
			uint64_t v0, v1, v2;

			memcpy(&v0, p + i, 8);
			memcpy(&v1, p + CRC32C_LANE + i, 8);
			memcpy(&v2, p + 2 * CRC32C_LANE + i, 8);
			c = __builtin_ia32_crc32di(c, v0);
			b = __builtin_ia32_crc32di(b, v1);
			d = __builtin_ia32_crc32di(d, v2);
		}
		c = shift(crc32c_shift[1], (uint32_t)c) ^
		    shift(crc32c_shift[0], (uint32_t)b) ^ (uint32_t)d;
		p += 3 * CRC32C_LANE;
		len -= 3 * CRC32C_LANE;
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

/* shift tables for n zero bytes, from the images of the 32 single bits */
static void shift_setup(uint32_t t[4][256], size_t n)
{
	uint32_t bit[32];

	for (unsigned k = 0; k < 32; k++) {
		uint32_t c = 1u << k;

		for (size_t i = 0; i < n; i++)
			c = crc32c_table[0][c & 0xff] ^ (c >> 8);
		bit[k] = c;
	}
	for (unsigned k = 0; k < 4; k++)
		for (unsigned i = 0; i < 256; i++) {
			uint32_t c = 0;

			for (unsigned j = 0; j < 8; j++)
				if (i >> j & 1)
					c ^= bit[8 * k + j];
			t[k][i] = c;
		}
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
	crc32c_impl = crc32c_sw;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2")) {
		shift_setup(crc32c_shift[0], CRC32C_LANE);
		shift_setup(crc32c_shift[1], 2 * CRC32C_LANE);
		crc32c_impl = crc32c_hw;
	}
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
