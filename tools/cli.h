/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command-line values of the tools: a bounded unsigned integer, a list of
 * thread counts ("1,2,4"), a size with a K/M/G/T suffix, a duration in
 * seconds with a fraction.  Each prints one
 * line naming the program, the option and the bad value, and returns -1;
 * 0 when the value is good.
 */
#ifndef KV_TOOLS_CLI_H
#define KV_TOOLS_CLI_H

#include <stdint.h>

int cli_uint(const char *prog, const char *opt, const char *s, unsigned min,
	     unsigned max, unsigned *out);
/* Seconds, decimal with an optional fraction ("0.25"), min..max. */
int cli_seconds(const char *prog, const char *opt, const char *s, double min,
		double max, double *out);
/* A comma-separated list of 1..max_each, at most max_n of them. */
int cli_uint_list(const char *prog, const char *opt, const char *s,
		  unsigned max_each, unsigned *out, unsigned max_n,
		  unsigned *n);
/* A size (kvfs_parse_size()'s syntax), at least min bytes. */
int cli_size(const char *prog, const char *opt, const char *s, uint64_t min,
	     uint64_t *out);

#endif
