/* SPDX-License-Identifier: MIT */
/* hist.h - a log-linear latency histogram (HDR-style): bounded memory,
 * values kept to within 1/SUB (under 1 %), mergeable across threads. */
#ifndef URIO_BENCH_HIST_H
#define URIO_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7 /* 128 linear sub-buckets per power of two */
#define HIST_SUB      (1u << HIST_SUB_BITS)
#define HIST_GROUPS   (64 - HIST_SUB_BITS)

struct hist {
	uint64_t n, sum, min, max;
	uint64_t b[HIST_GROUPS + 1][HIST_SUB];
};

void hist_init(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1): the midpoint of its bucket. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

#endif
