// SPDX-License-Identifier: GPL-2.0
/*
 * kvj_bug(): stop on a broken code invariant (journal/bug.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "alloc/report.h"
#include "journal/bug.h"

char kvj_bug_msg[512];

#ifdef KV_DEBUG
static kvj_bug_fn bug_hook = kvj_bug_stderr;
#else
static kvj_bug_fn bug_hook;
#endif

void kvj_bug_set_hook(kvj_bug_fn fn)
{
#ifdef KV_DEBUG
	if (!fn)
		fn = kvj_bug_stderr;
#endif
	__atomic_store_n(&bug_hook, fn, __ATOMIC_RELEASE);
}

void kvj_bug_stderr(const char *msg)
{
	kv_report(KV_REPORT_BUG, "%s", msg);
}

void kvj_vbug(const char *who, const char *fmt, va_list ap)
{
	kvj_bug_fn fn = __atomic_load_n(&bug_hook, __ATOMIC_ACQUIRE);
	int n;

	n = snprintf(kvj_bug_msg, sizeof(kvj_bug_msg), "%s: BUG: ", who);
	if (n > 0 && (size_t)n < sizeof(kvj_bug_msg))
		vsnprintf(kvj_bug_msg + n, sizeof(kvj_bug_msg) - n, fmt, ap);
	if (fn)
		fn(kvj_bug_msg);
	abort();
}

void kvj_bug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvj_vbug("kvjournal", fmt, ap);
}
