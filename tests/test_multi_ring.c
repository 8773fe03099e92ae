/* SPDX-License-Identifier: MIT */
/* test_multi_ring.c - a loop with several rings waits on all of them in one
 * blocking run, and reports what each ring holds. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct late_writer {
	int fd;
	unsigned delay_ms;
};

static void *write_later(void *arg)
{
	struct late_writer *w = arg;
	struct timespec ts = { 0, (long)w->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	ck_assert_int_eq(write(w->fd, "ring", 4), 4);
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A pipe read pinned to ring `ring`; another thread writes later, so the
 * completion arrives on that ring only while the loop blocks. */
static void blocking_run_sees_ring(unsigned rings, unsigned ring)
{
	SKIP_ON_AIO();
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_stats rs = { .size = sizeof(rs) };
	struct late_writer w;
	struct tally t = { 0 };
	urio_loop *loop = new_loop(16, rings, 0);
	urio_target *tg;
	pthread_t th;
	char buf[16] = { 0 };
	int p[2];
	uint64_t t0;

	ck_assert_int_eq(pipe(p), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = ring;
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], &to), 0);
	ck_assert_int_gt(urio_read(tg, buf, sizeof(buf), 0, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(urio_loop_submit(loop), 0);
	w.fd = p[1];
	w.delay_ms = 100;
	t0 = now_ms();
	pthread_create(&th, NULL, write_later, &w);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_uint_ge(now_ms() - t0, 90);
	pthread_join(th, NULL);
	ck_assert_uint_eq(t.calls, 1);
	ck_assert_int_eq(t.last, 4);
	ck_assert_str_eq(buf, "ring");
	for (unsigned i = 0; i < rings; i++) {
		ck_assert_int_eq(urio_loop_ring_stats(loop, i, &rs), 0);
		ck_assert_uint_eq(rs.completed, i == ring ? 1 : 0);
	}
	urio_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}

START_TEST(one_blocking_run_returns_completions_of_the_second_ring)
{
	SKIP_ON_AIO();
	blocking_run_sees_ring(2, 1);
}
END_TEST

START_TEST(one_blocking_run_returns_completions_of_the_fourth_ring)
{
	SKIP_ON_AIO();
	blocking_run_sees_ring(4, 3);
}
END_TEST

START_TEST(single_ring_blocking_run_waits_for_the_kernel)
{
	SKIP_ON_AIO();
	blocking_run_sees_ring(1, 0);
}
END_TEST

START_TEST(layout_lists_every_ring)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	char desc[512];
	urio_loop *loop = new_loop(32, 3, 0);

	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_str_eq(lay.backend, "io_uring");
	ck_assert_uint_eq(lay.nrings, 3);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(lay.rings[i].entries, 32);
		ck_assert_uint_eq(lay.rings[i].cq_entries, 64);
		ck_assert_uint_eq(lay.rings[i].kind, URIO_RING_PLAIN);
	}
	ck_assert_int_gt(urio_loop_describe(loop, desc, sizeof(desc)), 0);
	ck_assert_ptr_nonnull(strstr(desc, "3 x 32/64"));
	ck_assert_int_eq(urio_loop_describe(loop, desc, 4), -ENOSPC);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(second_ring_takes_over_when_the_first_is_full)
{
	struct urio_stats r0 = { .size = sizeof(r0) },
			  r1 = { .size = sizeof(r1) };
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);

	/* 8 entries: 16 CQEs, 12 of them for requests. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &r0), 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &r1), 0);
	ck_assert_uint_eq(r0.inflight, 12);
	ck_assert_uint_eq(r1.inflight, 8);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 20);
	ck_assert_uint_eq(t.calls, 20);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(pinned_ring_full_means_ebusy_even_if_others_have_room)
{
	SKIP_ON_AIO();
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_stats r1 = { .size = sizeof(r1) };
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	urio_target *tg;
	char buf[8];
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = 1;
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], &to), 0);
	for (int i = 0; i < 12; i++)
		ck_assert_int_gt(urio_read(tg, buf, 1, 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_read(tg, buf, 1, 0, 0, tally_cb, &t), -EBUSY);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &r1), 0);
	ck_assert_uint_eq(r1.ebusy, 1);
	ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(t.calls, 13);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("multi_ring");
	TCase *tc = tcase_create("rings");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc,
		       one_blocking_run_returns_completions_of_the_second_ring);
	tcase_add_test(tc,
		       one_blocking_run_returns_completions_of_the_fourth_ring);
	tcase_add_test(tc, single_ring_blocking_run_waits_for_the_kernel);
	tcase_add_test(tc, layout_lists_every_ring);
	tcase_add_test(tc, second_ring_takes_over_when_the_first_is_full);
	tcase_add_test(tc,
		       pinned_ring_full_means_ebusy_even_if_others_have_room);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
