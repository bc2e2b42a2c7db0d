// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs_bug(): report a broken code invariant and abort (fs/bug.h), through
 * the libraries' one bug hook (journal/bug.h).
 */
#include <stdarg.h>

#include "fs/bug.h"
#include "journal/bug.h"

void kvfs_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvj_vbug("kvfs", fmt, ap);
}
