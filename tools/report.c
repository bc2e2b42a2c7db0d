// SPDX-License-Identifier: GPL-2.0
/*
 * The tools' report hook (tools/report.h).
 */
#include <stdio.h>

#include "alloc/report.h"
#include "journal/errortag.h"
#include "tools/report.h"

static const char *tool_prog;

static void tool_report(int level, const char *msg)
{
	(void)level;
	fprintf(stderr, "%s: %s\n", tool_prog, msg);
}

void tool_report_init(const char *prog)
{
	const char *bad = kvj_errtag_env_error();

	tool_prog = prog;
	kv_report_set_hook(tool_report);
	if (bad)
		fprintf(stderr, "%s: KVFS_ERRTAGS: %s: nothing armed\n", prog,
			bad);
}
