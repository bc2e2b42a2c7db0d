/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Assertions of the real-mount test programs: a system call that must
 * fail with exactly one errno, or must succeed.  Both print where, what
 * and the errno, and exit 1.
 */
#ifndef KV_TESTS_FUSE_CHECK_H
#define KV_TESTS_FUSE_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

/* expr fails (-1) with exactly errno e */
#define CHECK_ERR(expr, e)                                               \
	do {                                                             \
		errno = 0;                                               \
		long _r = (long)(expr);                                  \
		if (_r != -1 || errno != (e)) {                          \
			fprintf(stderr,                                  \
				"%s:%d: %s returned %ld errno %d (%s), " \
				"expected errno %d (%s)\n",              \
				__FILE__, __LINE__, #expr, _r, errno,    \
				strerror(errno), e, strerror(e));        \
			exit(1);                                         \
		}                                                        \
	} while (0)

#define CHECK_OK(expr)                                                      \
	do {                                                                \
		errno = 0;                                                  \
		if ((long)(expr) < 0) {                                     \
			fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, \
				__LINE__, #expr, strerror(errno));          \
			exit(1);                                            \
		}                                                           \
	} while (0)

#endif
