/* SPDX-License-Identifier: MIT */
/* plan.c - the ring planner: from the memlock budget a process can see and
 * the rings and buffers it wants, a layout that fits, or the reason none
 * does.  Pure: no syscalls, so it is table-tested.
 *
 * The charge model is the kernel's (measured on 6.18 as uid 65534): a ring
 * costs its SQE array plus its "rings" region (a 320-byte header, the CQEs,
 * the SQ index array), each rounded up to whole pages; registered buffers
 * cost their pages, once per ring they are registered with. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

#define RINGS_HDR 320 /* struct io_rings up to cqes[], cacheline aligned */
#define CACHELINE 64

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

static unsigned pow2_ceil(unsigned v)
{
	unsigned p = 1;

	while (p < v && p < (1u << 31))
		p <<= 1;
	return p;
}

uint64_t urio_plan_ring_bytes(const struct urio_plan_in *in, unsigned entries,
			      unsigned cq_entries)
{
	uint64_t page = in->page_size ? in->page_size : 4096;
	uint64_t sqe = in->sqe_size ? in->sqe_size : 64;
	uint64_t cqe = in->cqe_size ? in->cqe_size : 16;
	uint64_t rings;

	entries = pow2_ceil(entries);
	cq_entries = pow2_ceil(cq_entries ? cq_entries : 2 * entries);
	rings = round_up(RINGS_HDR + cq_entries * cqe, CACHELINE) +
		(uint64_t)entries * 4;
	return round_up(rings, page) + round_up(entries * sqe, page);
}

static uint64_t budget_of(const struct urio_plan_in *in)
{
	if (in->unlimited || in->memlock_limit == UINT64_MAX)
		return UINT64_MAX;
	return in->memlock_limit > in->locked ? in->memlock_limit - in->locked
					      : 0;
}

static unsigned cq_of(const struct urio_plan_in *in, unsigned entries)
{
	/* The CQ keeps the ratio asked for (2x by default). */
	unsigned ratio = in->cq_entries && in->entries
				 ? in->cq_entries / pow2_ceil(in->entries)
				 : 2;

	return pow2_ceil(entries) * (ratio ? ratio : 1);
}

int urio_plan(const struct urio_plan_in *in, struct urio_plan_out *out)
{
	uint64_t budget = budget_of(in), page;
	unsigned want_e = pow2_ceil(in->entries ? in->entries : 256);
	unsigned want_r = in->rings ? in->rings : 1;
	unsigned floor_e = pow2_ceil(in->min_entries ? in->min_entries : 8);
	unsigned max_r = in->max_rings ? in->max_rings : 16;
	uint64_t want_cap, best_cap = 0, rb;

	memset(out, 0, sizeof(*out));
	page = in->page_size ? in->page_size : 4096;
	if (max_r < want_r)
		max_r = want_r;
	if (floor_e > want_e)
		floor_e = want_e;
	want_cap = (uint64_t)want_r * cq_of(in, want_e);
	/* From the entries asked for down to the floor: as many rings of that
	 * size as the budget and the ring bound allow, up to the capacity
	 * asked for.  The largest capacity wins; on a tie, bigger rings. */
	for (unsigned e = want_e; e >= floor_e && e; e >>= 1) {
		unsigned cq = cq_of(in, e);
		uint64_t need_r = (want_cap + cq - 1) / cq, fit_r;

		rb = urio_plan_ring_bytes(in, e, cq);
		fit_r = budget == UINT64_MAX ? need_r : budget / rb;
		if (fit_r > need_r)
			fit_r = need_r;
		if (fit_r > max_r)
			fit_r = max_r;
		if (fit_r && fit_r * cq > best_cap) {
			best_cap = fit_r * cq;
			out->entries = e;
			out->cq_entries = cq;
			out->rings = (unsigned)fit_r;
			out->ring_bytes = rb;
		}
		if (best_cap >= want_cap)
			break;
	}
	if (!out->rings) {
		rb = urio_plan_ring_bytes(in, floor_e, cq_of(in, floor_e));
		out->need_bytes = rb;
		snprintf(out->why, sizeof(out->why),
			 "RLIMIT_MEMLOCK is %llu KiB with %llu KiB already "
			 "locked; one ring of %u entries needs %llu KiB. Raise "
			 "it with " URIO_MEMLOCK_FIX,
			 (unsigned long long)(in->memlock_limit >> 10),
			 (unsigned long long)(in->locked >> 10), floor_e,
			 (unsigned long long)(rb >> 10));
		return -ENOMEM;
	}
	out->ring_total = out->ring_bytes * out->rings;
	if (out->entries != want_e || out->rings != want_r)
		out->cut |= URIO_PLAN_CUT_RINGS;
	if (in->buf_bytes) {
		uint64_t per = round_up(in->buf_bytes, page), left;

		/* Buffers take what the rings leave. */
		left = budget == UINT64_MAX
			       ? UINT64_MAX
			       : (budget - out->ring_total) / out->rings;
		out->buf_bytes = per <= left ? per : left / page * page;
		if (out->buf_bytes < page)
			out->buf_bytes = 0;
		if (out->buf_bytes != per)
			out->cut |= URIO_PLAN_CUT_BUFS;
	}
	out->total = out->ring_total + out->buf_bytes * out->rings;
	return 0;
}
