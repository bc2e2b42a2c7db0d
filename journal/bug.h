/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvj_bug(): the one way the libraries (journal/, fs/) stop on a broken
 * code invariant.  The libraries never print: the message is formatted
 * into kvj_bug_msg (kept for the core dump: `p kvj_bug_msg`) and handed
 * to the hook the program installed, then abort().  The daemon and the
 * tools install kvj_bug_stderr(), which hands the line to kv_report()
 * (alloc/report.h): their report hook, or stderr when they installed
 * none.  With no bug hook, a debug build (KV_DEBUG) uses kvj_bug_stderr()
 * so that an aborting test says why, and a release build writes nothing.
 */
#ifndef KV_JOURNAL_BUG_H
#define KV_JOURNAL_BUG_H

#include <stdarg.h>

typedef void (*kvj_bug_fn)(const char *msg);

/* The last message, "kvjournal: BUG: ...": read it in a core dump. */
extern char kvj_bug_msg[512];

/* Install fn (NULL: the build's default) before starting threads. */
void kvj_bug_set_hook(kvj_bug_fn fn);
/* A hook that passes msg to kv_report(): the report hook, or stderr. */
void kvj_bug_stderr(const char *msg);

/* Format "<who>: BUG: <fmt...>", pass it to the hook, abort(). */
__attribute__((noreturn, format(printf, 2, 0))) void
kvj_vbug(const char *who, const char *fmt, va_list ap);
__attribute__((noreturn, format(printf, 1, 2))) void kvj_bug(const char *fmt,
							     ...);

#endif
