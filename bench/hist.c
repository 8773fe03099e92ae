/* SPDX-License-Identifier: MIT */
/* hist.c - log-linear histogram: values below HIST_SUB are exact; above,
 * each power of two is cut into HIST_SUB equal buckets. */
#include "hist.h"

#include <string.h>

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static void bucket(uint64_t v, unsigned *g, unsigned *s)
{
	unsigned msb;

	if (v < HIST_SUB) {
		*g = 0;
		*s = (unsigned)v;
		return;
	}
	msb = 63u - (unsigned)__builtin_clzll(v);
	*g = msb - HIST_SUB_BITS + 1;
	*s = (unsigned)(v >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1);
}

static uint64_t bucket_low(unsigned g, unsigned s)
{
	if (g == 0)
		return s;
	return (uint64_t)(HIST_SUB | s) << (g - 1);
}

static uint64_t bucket_width(unsigned g)
{
	return g == 0 ? 1 : 1ull << (g - 1);
}

void hist_add(struct hist *h, uint64_t v)
{
	unsigned g, s;

	bucket(v, &g, &s);
	h->b[g][s]++;
	h->n++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned g = 0; g <= HIST_GROUPS; g++)
		for (unsigned s = 0; s < HIST_SUB; s++)
			dst->b[g][s] += src->b[g][s];
	dst->n += src->n;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (!h->n)
		return 0;
	rank = (uint64_t)(q * (double)h->n);
	if (rank >= h->n)
		rank = h->n - 1;
	for (unsigned g = 0; g <= HIST_GROUPS; g++) {
		for (unsigned s = 0; s < HIST_SUB; s++) {
			uint64_t v;

			seen += h->b[g][s];
			if (seen <= rank)
				continue;
			v = bucket_low(g, s) + bucket_width(g) / 2;
			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->n ? (double)h->sum / (double)h->n : 0.0;
}
