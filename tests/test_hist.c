/* SPDX-License-Identifier: MIT */
/* test_hist.c - urio-bench's latency histogram: percentiles within 1% of
 * the exact ones, bounded memory, merging equal to one histogram. */
#include <check.h>
#include <stdlib.h>

#include "../bench/hist.h"

#include "runner.h"
#include "util.h"

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

START_TEST(percentiles_within_one_percent_of_exact)
{
	enum { N = 200000 };
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	uint64_t *v = malloc(N * sizeof(*v)), s = 88172645463325252ull;
	struct hist *h = malloc(sizeof(*h));

	hist_init(h);
	for (int i = 0; i < N; i++) {
		/* latencies from 1 us to ~10 ms, long-tailed */
		v[i] = 1000 + xorshift(&s) % 50000 +
		       (xorshift(&s) % 100 == 0 ? xorshift(&s) % 10000000 : 0);
		hist_add(h, v[i]);
	}
	qsort(v, N, sizeof(*v), cmp);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t exact = v[(size_t)(qs[k] * N)],
			 got = hist_quantile(h, qs[k]);
		double err = (double)(got > exact ? got - exact : exact - got) /
			     (double)exact;

		ck_assert_msg(err <= 0.01, "q%.3f: %llu vs exact %llu", qs[k],
			      (unsigned long long)got,
			      (unsigned long long)exact);
	}
	ck_assert_uint_eq(h->n, N);
	ck_assert_uint_eq(h->min, v[0]);
	ck_assert_uint_eq(h->max, v[N - 1]);
	free(v);
	free(h);
}
END_TEST

START_TEST(merge_equals_one_histogram_of_everything)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)),
		    *all = malloc(sizeof(*all));

	hist_init(a);
	hist_init(b);
	hist_init(all);
	for (uint64_t i = 1; i < 100000; i += 7) {
		hist_add(i % 2 ? a : b, i * 13);
		hist_add(all, i * 13);
	}
	hist_merge(a, b);
	ck_assert_uint_eq(a->n, all->n);
	ck_assert_uint_eq(a->sum, all->sum);
	ck_assert_uint_eq(hist_quantile(a, 0.99), hist_quantile(all, 0.99));
	ck_assert_uint_eq(hist_quantile(a, 0.5), hist_quantile(all, 0.5));
	free(a);
	free(b);
	free(all);
}
END_TEST

START_TEST(small_values_are_exact_and_empty_is_zero)
{
	struct hist *h = malloc(sizeof(*h));

	hist_init(h);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 0);
	for (uint64_t i = 0; i < 100; i++)
		hist_add(h, i);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 50);
	ck_assert_uint_eq(hist_quantile(h, 1.0), 99);
	ck_assert(hist_mean(h) == 49.5);
	free(h);
}
END_TEST
