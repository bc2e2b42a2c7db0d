/* SPDX-License-Identifier: GPL-2.0 */
/* The one assertion macro of the test suite: prints where and what, exits 1. */
#ifndef KV_TESTS_CHECK_H
#define KV_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",      \
				__FILE__, __LINE__, #cond);                \
			exit(1);                                           \
		}                                                          \
	} while (0)

/* CHECK that an int expression equals an expected value, showing both. */
#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long _a = (long long)(a), _b = (long long)(b);        \
		if (_a != _b) {                                            \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, _a, #b, _b);       \
			exit(1);                                           \
		}                                                          \
	} while (0)

#endif
