/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the libraries report (alloc/report.h: a leak, an invalid free, a
 * lock-rank violation, a journal or core bug) on stderr, after the tool's
 * name, like the tools' own messages.
 */
#ifndef KV_TOOLS_REPORT_H
#define KV_TOOLS_REPORT_H

/*
 * Install the hook; prog must outlive the program's use of the libraries.
 * A malformed KVFS_ERRTAGS (journal/errortag.h) is said here, once.
 */
void tool_report_init(const char *prog);

#endif
