/* SPDX-License-Identifier: MIT */
/* test_inflight_bound.c - the in-flight bounds per loop, ring and target:
 * never exceeded, -EBUSY past them with nothing queued, URIO_F_WAIT runs the
 * loop instead, and every accepted request completes exactly once. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TOTAL 100000
#define CAP   64

struct bound {
	urio_loop *loop;
	unsigned *calls; /* per request index */
	unsigned done, max_seen, over;
	uint64_t cap;
};

struct ticket {
	struct bound *b;
	unsigned idx;
};

static void sample_cb(urio_loop *loop, int res, void *data)
{
	struct ticket *tk = data;
	struct bound *b = tk->b;
	struct urio_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(res, 0);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	/* The one completing still counts until its callback returns. */
	if (st.inflight > b->max_seen)
		b->max_seen = (unsigned)st.inflight;
	if (st.inflight > b->cap)
		b->over++;
	b->calls[tk->idx]++;
	b->done++;
}

START_TEST(never_more_than_cap_in_flight_over_100000_requests)
{
	struct bound b = { 0 };
	struct ticket *tk = calloc(TOTAL, sizeof(*tk));
	struct urio_stats st = { .size = sizeof(st) };
	unsigned next = 0, rejected = 0;

	b.loop = new_loop(256, 1, CAP);
	b.cap = CAP;
	b.calls = calloc(TOTAL, sizeof(*b.calls));
	while (next < TOTAL) {
		urio_id id;

		tk[next].b = &b;
		tk[next].idx = next;
		id = urio_nop(b.loop, 0, sample_cb, &tk[next]);
		if (id == -EBUSY) {
			rejected++;
			ck_assert_int_ge(urio_loop_run(b.loop, URIO_RUN_ONCE),
					 0);
			continue;
		}
		ck_assert_int_gt(id, 0);
		next++;
	}
	ck_assert_int_ge(urio_loop_run(b.loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(b.done, TOTAL);
	for (unsigned i = 0; i < TOTAL; i++)
		ck_assert_uint_eq(b.calls[i], 1);
	ck_assert_uint_eq(b.over, 0);
	ck_assert_uint_le(b.max_seen, CAP);
	ck_assert_int_eq(urio_loop_stats(b.loop, &st), 0);
	ck_assert_uint_eq(st.submitted, TOTAL);
	ck_assert_uint_eq(st.completed, TOTAL);
	ck_assert_uint_eq(st.inflight, 0);
	ck_assert_uint_eq(st.inflight_hwm, CAP);
	ck_assert_uint_eq(st.ebusy, rejected);
	ck_assert_uint_gt(rejected, 0);
	urio_loop_destroy(b.loop);
	free(b.calls);
	free(tk);
}
END_TEST

START_TEST(rejects_past_cap_with_ebusy_and_queues_nothing)
{
	struct tally t = { 0 };
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(64, 1, 16);

	for (int i = 0; i < 16; i++)
		ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_nop(loop, 0, tally_cb, &t), -EBUSY);
	ck_assert_int_eq(urio_timeout(loop, 1000, 0, tally_cb, &t), -EBUSY);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 16);
	ck_assert_uint_eq(st.inflight, 16);
	ck_assert_uint_eq(st.ebusy, 2);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 16);
	ck_assert_uint_eq(t.calls, 16);
	ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(target_cap_binds_one_target_not_the_others)
{
	char p1[256], p2[256], buf[4096];
	struct urio_target_opts to = { .size = sizeof(to), .inflight_cap = 4 };
	struct urio_stats st = { .size = sizeof(st) };
	struct tally t = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);
	urio_target *a, *b;

	make_path(disk_dir(), p1, sizeof(p1));
	make_path(disk_dir(), p2, sizeof(p2));
	ck_assert_int_eq(urio_target_open(loop, &a, p1, O_RDWR, 0, &to), 0);
	ck_assert_int_eq(urio_target_open(loop, &b, p2, O_RDWR, 0, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(
			urio_read(a, buf, sizeof(buf), 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_read(a, buf, sizeof(buf), 0, 0, tally_cb, &t),
			 -EBUSY);
	ck_assert_int_gt(urio_read(b, buf, sizeof(buf), 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_target_stats(a, &st), 0);
	ck_assert_uint_eq(st.ebusy, 1);
	ck_assert_uint_eq(st.cap, 4);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 5);
	ck_assert_uint_eq(t.calls, 5);
	ck_assert_int_eq(urio_target_stats(a, &st), 0);
	ck_assert_uint_eq(st.completed, 4);
	ck_assert_uint_eq(st.inflight_hwm, 4);
	urio_loop_destroy(loop);
	unlink(p1);
	unlink(p2);
}
END_TEST

START_TEST(wait_flag_runs_the_loop_until_a_slot_frees)
{
	struct tally t = { 0 };
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(64, 1, 4);

	for (int i = 0; i < 1000; i++)
		ck_assert_int_gt(urio_nop(loop, URIO_F_WAIT, tally_cb, &t), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(t.calls, 1000);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.inflight_hwm, 4);
	ck_assert_uint_eq(st.ebusy, 0);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(cap_never_exceeds_cq_capacity)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(16, 2, 1000000);
	uint64_t cq = 0;

	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	for (unsigned i = 0; i < lay.nrings; i++)
		cq += lay.rings[i].cq_entries;
	/* A ring keeps CQEs of its own aside; libaio's context does not. */
	if (backend_is_aio())
		ck_assert_uint_le(st.cap, cq);
	else
		ck_assert_uint_lt(st.cap, cq);
	/* Asking for more than fits is a cut, and is reported. */
	ck_assert_uint_ge(lay.nfallbacks, 1);
	ck_assert_str_eq(lay.fallbacks[lay.nfallbacks - 1].step,
			 "inflight_cap");
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(strict_loop_refuses_a_cap_it_cannot_hold)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop = NULL;

	o.entries = 16;
	o.inflight_cap = 1000000;
	o.flags |= URIO_LOOP_STRICT;
	ck_assert_int_eq(urio_loop_create(&loop, &o), -ENOMEM);
	ck_assert_ptr_null(loop);
}
END_TEST

START_TEST(ring_stats_add_up_to_loop_stats)
{
	if (backend_is_aio())
		SKIP("libaio serves one context, not several rings");
	struct tally t = { 0 };
	struct urio_stats st = { .size = sizeof(st) },
			  rs = { .size = sizeof(rs) };
	urio_loop *loop = new_loop(8, 3, 0);
	uint64_t sub = 0, done = 0;
	unsigned used = 0;

	/* More than one ring holds: the later rings take the rest. */
	for (int i = 0; i < 30; i++)
		ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 30);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_int_eq(urio_loop_ring_stats(loop, i, &rs), 0);
		sub += rs.submitted;
		done += rs.completed;
		used += rs.submitted > 0;
		ck_assert_uint_le(rs.inflight_hwm, rs.cap);
	}
	ck_assert_uint_eq(sub, st.submitted);
	ck_assert_uint_eq(done, st.completed);
	ck_assert_uint_ge(used, 3);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(ebusy_text_says_bound_not_memory)
{
	const char *s = urio_strerror(-EBUSY);

	ck_assert_ptr_nonnull(strstr(s, "in-flight bound"));
	ck_assert_ptr_nonnull(strstr(s, "not a memory shortage"));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("inflight_bound");
	TCase *tc = tcase_create("bound");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, never_more_than_cap_in_flight_over_100000_requests);
	tcase_add_test(tc, rejects_past_cap_with_ebusy_and_queues_nothing);
	tcase_add_test(tc, target_cap_binds_one_target_not_the_others);
	tcase_add_test(tc, wait_flag_runs_the_loop_until_a_slot_frees);
	tcase_add_test(tc, cap_never_exceeds_cq_capacity);
	tcase_add_test(tc, strict_loop_refuses_a_cap_it_cannot_hold);
	tcase_add_test(tc, ring_stats_add_up_to_loop_stats);
	tcase_add_test(tc, ebusy_text_says_bound_not_memory);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
