/* SPDX-License-Identifier: MIT */
/* test_timeout_cancel.c - timeouts fire after their time; a cancel finds a
 * pending request on its ring, which then completes with -ECANCELED. */
#include "helpers.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

START_TEST(timeout_fires_with_zero_after_its_time)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	uint64_t t0 = now_ns();

	ck_assert_int_gt(urio_timeout(loop, 30000000, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_ge(now_ns() - t0, 30000000);
	ck_assert_uint_eq(t.calls, 1);
	ck_assert_int_eq(t.last, 0);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(shorter_timeout_completes_first)
{
	int order[2], n = 0;
	struct tally a = { 0 }, b = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);

	ck_assert_int_gt(urio_timeout(loop, 60000000, 0, tally_cb, &a), 0);
	ck_assert_int_gt(urio_timeout(loop, 10000000, 0, tally_cb, &b), 0);
	while (n < 2) {
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
		order[n++] = b.calls && !a.calls ? 'b' : 'a';
	}
	ck_assert_int_eq(order[0], 'b');
	ck_assert_int_eq(order[1], 'a');
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(cancel_of_pending_timeout_gives_ecanceled_and_zero)
{
	struct tally tm = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_id id = urio_timeout(loop, 10ull * 1000000000u, 0, tally_cb, &tm);

	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, tally_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_uint_eq(tm.calls, 1);
	ck_assert_int_eq(tm.last, -ECANCELED);
	ck_assert_uint_eq(cn.calls, 1);
	ck_assert_int_eq(cn.last, 0);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(cancel_of_pending_pipe_read_gives_ecanceled)
{
	SKIP_ON_AIO();
	struct tally rd = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;
	char buf[8];
	int p[2];
	urio_id id;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], NULL), 0);
	id = urio_read(t, buf, sizeof(buf), 0, 0, tally_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, tally_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_int_eq(rd.last, -ECANCELED);
	ck_assert_int_eq(cn.last, 0);
	/* The pipe still works: the cancelled read took nothing. */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 0, 0, tally_cb, &rd),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(rd.last, 1);
	urio_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(cancel_finds_a_request_on_another_ring)
{
	SKIP_ON_AIO();
	struct urio_target_opts to = { .size = sizeof(to) };
	struct tally rd = { 0 }, cn = { 0 };
	urio_loop *loop = new_loop(8, 3, 0);
	urio_target *t;
	char buf[8];
	int p[2];
	urio_id id;

	ck_assert_int_eq(pipe(p), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = 2;
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], &to), 0);
	id = urio_read(t, buf, sizeof(buf), 0, 0, tally_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, tally_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_int_eq(rd.last, -ECANCELED);
	ck_assert_int_eq(cn.last, 0);
	urio_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(cancel_of_unknown_or_finished_id_is_enoent)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_id id = urio_nop(loop, 0, tally_cb, &t);

	ck_assert_int_gt(id, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(urio_cancel(loop, id, 0, tally_cb, &t), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, 0, 0, tally_cb, &t), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, -5, 0, tally_cb, &t), -ENOENT);
	ck_assert_int_eq(urio_cancel(loop, (urio_id)1 << 40, 0, tally_cb, &t),
			 -ENOENT);
	ck_assert_uint_eq(t.calls, 1);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(ids_of_reused_slots_differ)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 1);
	urio_id a = urio_nop(loop, 0, tally_cb, &t), b;

	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	b = urio_nop(loop, 0, tally_cb, &t);
	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	ck_assert_int_ne(a, b);
	/* Cut to int, an id stays positive. */
	ck_assert_int_gt((int)a, 0);
	ck_assert_int_eq(urio_cancel(loop, a, 0, tally_cb, &t), -ENOENT);
	/* A cancel is a request too: at the bound it waits its turn. */
	ck_assert_int_eq(urio_cancel(loop, b, 0, tally_cb, &t), -EBUSY);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(a_spinning_loop_still_sleeps_for_a_far_timeout)
{
	struct urio_loop_opts o = quiet_opts();
	struct tally t = { 0 };
	urio_loop *loop;
	uint64_t t0;

	o.spin_usec = 200;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	/* More than the loop holds: URIO_F_WAIT runs it (spinning) too. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_gt(urio_nop(loop, URIO_F_WAIT, tally_cb, &t), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(t.calls, 1000);
	/* 30 ms: spins 200 us, then sleeps until it fires. */
	t0 = now_ns();
	ck_assert_int_gt(urio_timeout(loop, 30000000, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_ge(now_ns() - t0, 30000000);
	ck_assert_uint_eq(t.calls, 1001);
	ck_assert_int_eq(t.last, 0);
	urio_loop_destroy(loop);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("timeout_cancel");
	TCase *tc = tcase_create("timeout_cancel");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, timeout_fires_with_zero_after_its_time);
	tcase_add_test(tc, shorter_timeout_completes_first);
	tcase_add_test(tc, cancel_of_pending_timeout_gives_ecanceled_and_zero);
	tcase_add_test(tc, cancel_of_pending_pipe_read_gives_ecanceled);
	tcase_add_test(tc, cancel_finds_a_request_on_another_ring);
	tcase_add_test(tc, cancel_of_unknown_or_finished_id_is_enoent);
	tcase_add_test(tc, ids_of_reused_slots_differ);
	tcase_add_test(tc, a_spinning_loop_still_sleeps_for_a_far_timeout);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
