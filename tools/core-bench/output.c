// SPDX-License-Identifier: GPL-2.0
/*
 * kvfs-core-bench's figures (bench.h): each measurement's median kept
 * (a --csv row at once), the table at the end.
 */
#include <stdlib.h>

#include "bench.h"

double results[MAX_RUNS][NWL];
bool have[MAX_RUNS][NWL];

void print_table(void)
{
	printf("%-15s %7s %14s %-12s %14s %7s\n", "workload", "threads",
	       "value", "unit", "raw", "ratio");
	for (unsigned r = 0; r < opt_nthreads; r++) {
		for (int k = 0; k < NWL; k++) {
			int wl = order[k], twin = wls[wl].raw_twin;

			if (!have[r][wl])
				continue;
			printf("%-15s %7u %14.1f %-12s", wls[wl].name,
			       opt_threads[r], results[r][wl], wls[wl].unit);
			if (twin >= 0 && have[r][twin] && results[r][twin] > 0)
				printf(" %14.1f %6.2fx\n", results[r][twin],
				       results[r][wl] / results[r][twin]);
			else
				printf(" %14s %7s\n", "-", "-");
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void record(int wl, unsigned r, double *v, unsigned n)
{
	if (n > 1) {
		fprintf(stderr, "%s, %u threads, %u rounds:", wls[wl].name,
			opt_threads[r], n);
		for (unsigned i = 0; i < n; i++)
			fprintf(stderr, " %.1f", v[i]);
		fprintf(stderr, "\n");
	}
	qsort(v, n, sizeof(*v), cmp_double);
	results[r][wl] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	have[r][wl] = true;
	if (opt_csv) {
		printf("%s,%u,%.1f,%s\n", wls[wl].name, opt_threads[r],
		       results[r][wl], wls[wl].unit);
		fflush(stdout);
	}
}
