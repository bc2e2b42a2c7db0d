// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_bug(): report a broken code invariant and abort (fs/bug.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fs/bug.h"

void kvfs_bug(const char *fmt, ...)
{
	va_list ap;

	fputs("kvfs: BUG: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
