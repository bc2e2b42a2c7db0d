/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kv_report(): the one way the libraries (alloc/, journal/, fs/) tell the
 * program running them something it should see (a leak at kv_fini(), an
 * invalid free, a lock-rank violation, a failed allocation).  The
 * libraries never print: the line is formatted and handed to the hook the
 * program installed; the daemon logs it, the tools write it to stderr
 * after their name.  With no hook the line goes to stderr, so that a test
 * or a program that installed nothing still shows what was wrong, and a
 * KV_REPORT_BUG (an abort() follows) always leaves its reason somewhere.
 * Same shape as journal/bug.h's kvj_bug_set_hook(), whose stderr hook
 * comes here.
 */
#ifndef KV_ALLOC_REPORT_H
#define KV_ALLOC_REPORT_H

#include <stdarg.h>

enum kv_report_level {
	KV_REPORT_WARN, /* something was wrong; the program goes on */
	KV_REPORT_BUG, /* a broken rule: the caller aborts after this */
};

/* msg: one line, no newline, prefixed by the layer ("kvalloc: ..."). */
typedef void (*kv_report_fn)(int level, const char *msg);

/* Install fn (NULL: back to stderr) before starting threads. */
void kv_report_set_hook(kv_report_fn fn);

__attribute__((format(printf, 2, 0))) void
kv_vreport(int level, const char *fmt, va_list ap);
__attribute__((format(printf, 2, 3))) void kv_report(int level, const char *fmt,
						     ...);

#endif
