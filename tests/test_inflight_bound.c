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
	unsigned done, max_seen, over, bad;
	uint64_t cap;
};

struct ticket {
	struct bound *b;
	struct req r;
};

/* Records; the case asserts after the run. */
static void sample_cb(urio_loop *loop, int res, void *data)
{
	struct ticket *tk = data;
	struct bound *b = tk->b;
	struct urio_stats st = { .size = sizeof(st) };

	req_cb(loop, res, &tk->r);
	if (urio_loop_stats(loop, &st) != 0)
		b->bad++;
	/* The one completing still counts until its callback returns. */
	if (st.inflight > b->max_seen)
		b->max_seen = (unsigned)st.inflight;
	if (st.inflight > b->cap)
		b->over++;
	b->done++;
}

START_TEST(never_more_than_cap_in_flight_over_100000_requests)
{
	struct bound b = { .cap = CAP };
	struct ticket *tk = calloc(TOTAL, sizeof(*tk));
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(256, 1, CAP);
	unsigned next = 0, rejected = 0;

	while (next < TOTAL) {
		urio_id id;

		tk[next].b = &b;
		id = urio_nop(loop, 0, sample_cb, &tk[next]);
		if (id == -EBUSY) {
			rejected++;
			ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 1);
			continue;
		}
		ck_assert_int_gt(id, 0);
		next++;
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(b.done, TOTAL);
	for (unsigned i = 0; i < TOTAL; i++)
		ck_assert_req(tk[i].r, 0);
	ck_assert_uint_eq(b.bad, 0);
	ck_assert_uint_eq(b.over, 0);
	ck_assert_uint_le(b.max_seen, CAP);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, TOTAL);
	ck_assert_uint_eq(st.completed, TOTAL);
	ck_assert_uint_eq(st.inflight, 0);
	ck_assert_uint_eq(st.inflight_hwm, CAP);
	ck_assert_uint_eq(st.ebusy, rejected);
	ck_assert_uint_gt(rejected, 0);
	DESTROY_CLEAN(loop);
	free(tk);
}
END_TEST

START_TEST(rejects_past_cap_with_ebusy_and_queues_nothing)
{
	struct req r[17] = { 0 }, never = { 0 };
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(64, 1, 16);

	for (int i = 0; i < 16; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r[i]), 0);
	ck_assert_int_eq(urio_nop(loop, 0, req_cb, &never), -EBUSY);
	ck_assert_int_eq(urio_timeout(loop, 1000, 0, req_cb, &never), -EBUSY);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 16);
	ck_assert_uint_eq(st.inflight, 16);
	ck_assert_uint_eq(st.ebusy, 2);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 16);
	ck_assert_reqs(r, 16, 0);
	ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r[16]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_reqs(r, 17, 0);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
}
END_TEST

START_TEST(target_cap_binds_one_target_not_the_others)
{
	char p1[256], p2[256], buf[5][4096];
	struct urio_target_opts to = { .size = sizeof(to), .inflight_cap = 4 };
	struct urio_stats st = { .size = sizeof(st) };
	struct req r[5] = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);
	urio_target *a, *b;

	make_path(disk_dir(), p1, sizeof(p1));
	make_path(disk_dir(), p2, sizeof(p2));
	ck_assert_int_eq(urio_target_open(loop, &a, p1, O_RDWR, 0, &to), 0);
	ck_assert_int_eq(urio_target_open(loop, &b, p2, O_RDWR, 0, NULL), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(urio_read(a, buf[i], sizeof(buf[i]), 0, 0,
					   req_cb, &r[i]),
				 0);
	ck_assert_int_eq(
		urio_read(a, buf[4], sizeof(buf[4]), 0, 0, req_cb, &never),
		-EBUSY);
	ck_assert_int_gt(
		urio_read(b, buf[4], sizeof(buf[4]), 0, 0, req_cb, &r[4]), 0);
	ck_assert_int_eq(urio_target_stats(a, &st), 0);
	ck_assert_uint_eq(st.ebusy, 1);
	ck_assert_uint_eq(st.cap, 4);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 5);
	ck_assert_reqs(r, 5, 0); /* empty files: 0 bytes each */
	ck_assert_int_eq(urio_target_stats(a, &st), 0);
	ck_assert_uint_eq(st.completed, 4);
	ck_assert_uint_eq(st.inflight_hwm, 4);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	unlink(p1);
	unlink(p2);
}
END_TEST

START_TEST(wait_flag_runs_the_loop_until_a_slot_frees)
{
	struct req *r = calloc(1000, sizeof(*r));
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(64, 1, 4);

	for (int i = 0; i < 1000; i++)
		ck_assert_int_gt(urio_nop(loop, URIO_F_WAIT, req_cb, &r[i]), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(r, 1000, 0);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.inflight_hwm, 4);
	ck_assert_uint_eq(st.ebusy, 0);
	DESTROY_CLEAN(loop);
	free(r);
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
	DESTROY_CLEAN(loop);
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
	struct req r[30] = { 0 };
	struct urio_stats st = { .size = sizeof(st) },
			  rs = { .size = sizeof(rs) };
	urio_loop *loop = new_loop(8, 3, 0);
	uint64_t sub = 0, done = 0;
	unsigned used = 0;

	/* More than one ring holds: the later rings take the rest. */
	for (int i = 0; i < 30; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r[i]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 30);
	ck_assert_reqs(r, 30, 0);
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
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(ebusy_text_says_bound_not_memory)
{
	const char *s = urio_strerror(-EBUSY);

	ck_assert_ptr_nonnull(strstr(s, "in-flight bound"));
	ck_assert_ptr_nonnull(strstr(s, "not a memory shortage"));
}
END_TEST
