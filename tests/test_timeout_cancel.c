/* SPDX-License-Identifier: MIT */
/* test_timeout_cancel.c - timeouts fire after their time; a cancel finds a
 * pending request on its ring, which then completes with -ECANCELED. */
#include "helpers.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

START_TEST(timeout_fires_with_zero_after_its_time)
{
	struct req r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	uint64_t t0 = now_ns();

	ck_assert_int_gt(urio_timeout(loop, 30000000, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_ge(now_ns() - t0, 30000000);
	ck_assert_req(r, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(shorter_timeout_completes_first)
{
	struct req a = { 0 }, b = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);

	ck_assert_int_gt(urio_timeout(loop, 60000000, 0, req_cb, &a), 0);
	ck_assert_int_gt(urio_timeout(loop, 10000000, 0, req_cb, &b), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(b, 0);
	ck_assert_uint_eq(a.calls, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(a, 0);
	ck_assert_req(b, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(cancel_of_pending_timeout_gives_ecanceled_and_zero)
{
	struct req tm = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_id id = urio_timeout(loop, 10ull * 1000000000u, 0, req_cb, &tm);

	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(tm, -ECANCELED);
	ck_assert_req(cn, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

/* The longest timeout there is must not wrap round on either backend (the
 * libaio one added it to the clock and fired at once with 0): it is still
 * pending when a short one fires, and a cancel ends it. */
START_TEST(longest_timeout_does_not_wrap_round_and_fire_at_once)
{
	struct req far = { 0 }, near = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_id id = urio_timeout(loop, UINT64_MAX, 0, req_cb, &far);

	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(urio_timeout(loop, 10000000, 0, req_cb, &near), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(near, 0);
	ck_assert_uint_eq(far.calls, 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(far, -ECANCELED);
	ck_assert_req(cn, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(cancel_of_pending_pipe_read_gives_ecanceled)
{
	struct req rd = { 0 }, cn = { 0 }, again = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;
	char buf[8];
	int p[2];
	urio_id id;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], NULL), 0);
	id = urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(rd, -ECANCELED);
	ck_assert_req(cn, 0);
	/* The pipe still works: the cancelled read took nothing. */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &again),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(again, 1);
	ck_assert_int_eq(buf[0], 'x');
	DESTROY_CLEAN(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(cancel_finds_a_request_on_another_ring)
{
	struct urio_target_opts to = { .size = sizeof(to) };
	struct req rd = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 3, 0);
	urio_target *t;
	char buf[8];
	int p[2];
	urio_id id;

	ck_assert_int_eq(pipe(p), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = 2;
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], &to), 0);
	id = urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(rd, -ECANCELED);
	ck_assert_req(cn, 0);
	DESTROY_CLEAN(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(cancel_of_unknown_or_finished_id_is_enoent)
{
	struct req r = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_id id = urio_nop(loop, 0, req_cb, &r);

	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(urio_cancel(loop, id, 0, req_cb, &never), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, 0, 0, req_cb, &never), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, -5, 0, req_cb, &never), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, (urio_id)1 << 40, 0, req_cb, &never),
			 -ENOENT);
	ck_assert_req(r, 0);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
}
END_TEST

START_TEST(ids_of_reused_slots_differ)
{
	struct req ra = { 0 }, rb = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 1);
	urio_id a = urio_nop(loop, 0, req_cb, &ra), b;

	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	b = urio_nop(loop, 0, req_cb, &rb);
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	ck_assert_int_ne(a, b);
	/* Cut to int, an id stays positive. */
	ck_assert_int_gt((int)a, 0);
	ck_assert_int_eq(urio_cancel(loop, a, 0, req_cb, &never), -ENOENT);
	/* A cancel is a request too: at the bound it waits its turn. */
	ck_assert_int_eq(urio_cancel(loop, b, 0, req_cb, &never), -EBUSY);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(ra, 0);
	ck_assert_req(rb, 0);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
}
END_TEST

START_TEST(a_spinning_loop_still_sleeps_for_a_far_timeout)
{
	struct urio_loop_opts o = quiet_opts();
	struct req *r = calloc(1000, sizeof(*r)), tm = { 0 };
	urio_loop *loop;
	uint64_t t0;

	o.spin_usec = 200;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	/* More than the loop holds: URIO_F_WAIT runs it (spinning) too. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_gt(urio_nop(loop, URIO_F_WAIT, req_cb, &r[i]), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(r, 1000, 0);
	/* 30 ms: spins 200 us, then sleeps until it fires. */
	t0 = now_ns();
	ck_assert_int_gt(urio_timeout(loop, 30000000, 0, req_cb, &tm), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_ge(now_ns() - t0, 30000000);
	ck_assert_req(tm, 0);
	DESTROY_CLEAN(loop);
	ck_assert_reqs(r, 1000, 0);
	free(r);
}
END_TEST
