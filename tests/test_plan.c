/* SPDX-License-Identifier: MIT */
/* test_plan.c - the ring planner, table-driven: its charge model against
 * the charges measured on this kernel, and the layouts it picks for
 * budgets from nothing to unlimited, for plain and passthrough rings and
 * for buffer pools. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "../src/plan.h"

#include "runner.h"

#define KiB 1024ull
#define MiB (1024ull * 1024)

START_TEST(charge_model_matches_the_kernel_measurements)
{
	/* uid 65534 on 6.18: entries, CQ entries (0: 2x), charged KiB */
	static const struct {
		unsigned e, cq;
		uint64_t kib;
	} m[] = {
		{ 64, 0, 8 },	    { 256, 0, 28 },   { 512, 0, 52 },
		{ 1024, 0, 104 },   { 4096, 0, 404 }, { 4096, 65536, 1300 },
		{ 32768, 0, 3204 },
	};
	struct urio_plan_in in = { 0 };

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		ck_assert_msg(
			urio_plan_ring_bytes(&in, m[i].e, m[i].cq) ==
				m[i].kib * KiB,
			"%u entries: model %llu KiB, kernel %llu KiB", m[i].e,
			(unsigned long long)(urio_plan_ring_bytes(&in, m[i].e,
								  m[i].cq) /
					     KiB),
			(unsigned long long)m[i].kib);
}
END_TEST

START_TEST(entries_round_up_to_powers_of_two_like_the_kernel)
{
	struct urio_plan_in in = { 0 };

	ck_assert_uint_eq(urio_plan_ring_bytes(&in, 300, 0),
			  urio_plan_ring_bytes(&in, 512, 0));
}
END_TEST

START_TEST(passthrough_rings_cost_more)
{
	struct urio_plan_in plain = { 0 },
			    big = { .sqe_size = 128, .cqe_size = 32 };

	ck_assert_uint_gt(urio_plan_ring_bytes(&big, 256, 0),
			  urio_plan_ring_bytes(&plain, 256, 0));
	/* 256 SQE128: 32 KiB of SQEs; 512 CQE32 + header + index: 20 KiB */
	ck_assert_uint_eq(urio_plan_ring_bytes(&big, 256, 0), 52 * KiB);
}
END_TEST

/* Each row bounds the plan from both sides: a planner that returned tiny
 * rings where the budget allows big ones fails as surely as one that
 * overspends.  cq: the CQEs of all rings together, at least. */
struct row {
	const char *name;
	uint64_t limit, locked;
	int unlimited;
	unsigned entries, rings;
	int ret;
	unsigned min_entries, max_entries;
	unsigned min_rings, max_rings_out;
	unsigned cq;
	int cut;
};

static const struct row rows[] = {
	/* 512 entries (52 KiB) is the largest ring under 64 KiB. */
	{ "64KiB wants 4096: one 512 ring", 64 * KiB, 0, 0, 4096, 1, 0, 512,
	  512, 1, 1, 1024, 1 },
	/* One 2048 ring (204 KiB) holds 4096 CQEs: nothing may hold less. */
	{ "256KiB wants 4096", 256 * KiB, 0, 0, 4096, 1, 0, 256, 2048, 1, 16,
	  4096, 1 },
	{ "1MiB wants 4096: fits", 1 * MiB, 0, 0, 4096, 1, 0, 4096, 4096, 1, 1,
	  8192, 0 },
	{ "8MiB wants 4096: fits", 8 * MiB, 0, 0, 4096, 1, 0, 4096, 4096, 1, 1,
	  8192, 0 },
	{ "8MiB wants 20x4096: fits", 8 * MiB, 0, 0, 4096, 20, 0, 4096, 4096,
	  20, 20, 20 * 8192, 0 },
	/* 20 rings of 404 KiB fit in 8 MiB, a 21st does not. */
	{ "8MiB wants 21x4096: cut", 8 * MiB, 0, 0, 4096, 21, 0, 4096, 4096, 20,
	  20, 20 * 8192, 1 },
	{ "unlimited wants 32768", UINT64_MAX, 0, 0, 32768, 2, 0, 32768, 32768,
	  2, 2, 2 * 65536, 0 },
	{ "CAP_IPC_LOCK ignores a 0 limit", 0, 0, 1, 4096, 4, 0, 4096, 4096, 4,
	  4, 4 * 8192, 0 },
	{ "0 bytes: nothing fits", 0, 0, 0, 256, 1, -ENOMEM, 0, 0, 0, 0, 0, 0 },
	{ "4KiB: nothing fits", 4 * KiB, 0, 0, 256, 1, -ENOMEM, 0, 0, 0, 0, 0,
	  0 },
	{ "64KiB all locked already", 64 * KiB, 64 * KiB, 0, 256, 1, -ENOMEM, 0,
	  0, 0, 0, 0, 0 },
	/* 24 KiB left: three 64-entry rings (8 KiB each) beat one of 128. */
	{ "64KiB, 40KiB locked: 3 x 64", 64 * KiB, 40 * KiB, 0, 256, 1, 0, 64,
	  64, 3, 3, 384, 1 },
	{ "8KiB: one 64-entry ring", 8 * KiB, 0, 0, 256, 1, 0, 64, 64, 1, 1,
	  128, 1 },
};

START_LOOP_TEST(table_of_budgets, sizeof(rows) / sizeof(rows[0]))
{
	const struct row *r = &rows[_i];
	struct urio_plan_in in = {
		.memlock_limit = r->limit,
		.locked = r->locked,
		.unlimited = r->unlimited,
		.entries = r->entries,
		.rings = r->rings,
		.max_rings = 32,
	};
	struct urio_plan_out out;
	int ret = urio_plan(&in, &out);

	ck_assert_msg(ret == r->ret, "%s: ret %d", r->name, ret);
	if (ret < 0) {
		ck_assert_ptr_nonnull(strstr(out.why, "RLIMIT_MEMLOCK"));
		ck_assert_ptr_nonnull(strstr(out.why, "ulimit -l"));
		ck_assert_ptr_nonnull(strstr(out.why, "limits.conf"));
		ck_assert_ptr_nonnull(strstr(out.why, "CAP_IPC_LOCK"));
		ck_assert_uint_gt(out.need_bytes, 0);
		return;
	}
	ck_assert_msg(out.entries >= r->min_entries &&
			      out.entries <= r->max_entries,
		      "%s: %u entries, want %u to %u", r->name, out.entries,
		      r->min_entries, r->max_entries);
	ck_assert_msg(out.rings >= r->min_rings &&
			      out.rings <= r->max_rings_out,
		      "%s: %u rings, want %u to %u", r->name, out.rings,
		      r->min_rings, r->max_rings_out);
	ck_assert_msg((uint64_t)out.cq_entries * out.rings >= r->cq,
		      "%s: %u x %u CQEs, want at least %u", r->name, out.rings,
		      out.cq_entries, r->cq);
	ck_assert_msg(!!(out.cut & URIO_PLAN_CUT_RINGS) == r->cut, "%s: cut %u",
		      r->name, out.cut);
	if (!r->unlimited && r->limit != UINT64_MAX)
		ck_assert_msg(out.total <= r->limit - r->locked,
			      "%s: %llu bytes planned", r->name,
			      (unsigned long long)out.total);
	ck_assert_uint_eq(out.ring_total, out.ring_bytes * out.rings);
}
END_TEST

START_TEST(largest_ring_under_64KiB_is_512_entries)
{
	struct urio_plan_in in = { .memlock_limit = 64 * KiB, .entries = 4096 };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.entries, 512);
	ck_assert_uint_eq(out.rings, 1);
	ck_assert_uint_eq(out.ring_bytes, 52 * KiB);
}
END_TEST

START_TEST(cut_keeps_capacity_with_more_smaller_rings_when_it_can)
{
	/* 400 KiB: no 4096 ring (404 KiB); one 2048 ring (204 KiB) holds
	 * 4096 CQEs, three 1024 rings (312 KiB) 6144, seven 512 rings
	 * (364 KiB) 7168: the most, and 256-entry rings only tie. */
	struct urio_plan_in in = { .memlock_limit = 400 * KiB,
				   .entries = 4096 };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.entries, 512);
	ck_assert_uint_eq(out.rings, 7);
	ck_assert_uint_eq(out.total, 364 * KiB);
}
END_TEST

START_TEST(max_rings_bounds_the_split)
{
	struct urio_plan_in in = { .memlock_limit = 64 * KiB,
				   .entries = 4096,
				   .max_rings = 1 };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.rings, 1);
}
END_TEST

START_TEST(buffers_take_what_the_rings_leave)
{
	struct urio_plan_in in = { .memlock_limit = 64 * KiB,
				   .entries = 64,
				   .buf_bytes = 64 * KiB };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.ring_bytes, 8 * KiB);
	ck_assert_uint_eq(out.buf_bytes, 56 * KiB);
	ck_assert(out.cut & URIO_PLAN_CUT_BUFS);
	ck_assert_uint_le(out.total, 64 * KiB);
}
END_TEST

START_TEST(buffers_that_fit_are_not_cut)
{
	struct urio_plan_in in = { .memlock_limit = 8 * MiB,
				   .entries = 256,
				   .rings = 2,
				   .buf_bytes = 1 * MiB + 1 };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.buf_bytes, 1 * MiB + 4096);
	ck_assert_uint_eq(out.cut, 0);
	/* registered once per ring */
	ck_assert_uint_eq(out.total, out.ring_total + 2 * out.buf_bytes);
}
END_TEST

START_TEST(no_room_for_buffers_means_none)
{
	struct urio_plan_in in = { .memlock_limit = 52 * KiB,
				   .entries = 512,
				   .buf_bytes = 1 * MiB };
	struct urio_plan_out out;

	ck_assert_int_eq(urio_plan(&in, &out), 0);
	ck_assert_uint_eq(out.entries, 512);
	ck_assert_uint_eq(out.buf_bytes, 0);
	ck_assert(out.cut & URIO_PLAN_CUT_BUFS);
}
END_TEST
