// SPDX-License-Identifier: GPL-2.0
/*
 * kv_report(): a line to the program's hook, or to stderr (alloc/report.h).
 */
#include <stdio.h>

#include "alloc/report.h"

static kv_report_fn report_hook;

void kv_report_set_hook(kv_report_fn fn)
{
	__atomic_store_n(&report_hook, fn, __ATOMIC_RELEASE);
}

void kv_vreport(int level, const char *fmt, va_list ap)
{
	kv_report_fn fn = __atomic_load_n(&report_hook, __ATOMIC_ACQUIRE);
	/* on the stack: reports come from any thread, some with locks held */
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (fn)
		fn(level, msg);
	else
		fprintf(stderr, "%s\n", msg);
}

void kv_report(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kv_vreport(level, fmt, ap);
	va_end(ap);
}
