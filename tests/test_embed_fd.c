/* SPDX-License-Identifier: MIT */
/* test_embed_fd.c - a server with its own epoll loop embeds urio through
 * urio_loop_fd(): the fd turns readable when completions wait, and a
 * non-blocking run dispatches them and quiets it again. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static void *write_after_50ms(void *arg)
{
	struct timespec ts = { 0, 50000000 };

	nanosleep(&ts, NULL);
	ck_assert_int_eq(write(*(int *)arg, "e", 1), 1);
	return NULL;
}

static void epoll_drives_loop(unsigned rings)
{
	SKIP_ON_AIO();
	struct urio_target_opts to = { .size = sizeof(to) };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct tally t = { 0 };
	urio_loop *loop = new_loop(16, rings, 0);
	urio_target *tg;
	pthread_t th;
	char buf[4];
	int p[2], ep, fd;

	ck_assert_int_eq(pipe(p), 0);
	fd = urio_loop_fd(loop);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(urio_loop_fd(loop), fd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = rings - 1;
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], &to), 0);
	ck_assert_int_gt(urio_read(tg, buf, 1, 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	/* Nothing done yet: the fd goes quiet.  The switch to fd mode may
	 * leave the loop's own internal completions for one more run. */
	for (int i = 0; i < 3 && epoll_wait(ep, &out, 1, 20) == 1; i++)
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 20), 0);
	ck_assert_uint_eq(t.calls, 0);
	pthread_create(&th, NULL, write_after_50ms, &p[1]);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 1);
	ck_assert_uint_eq(t.calls, 1);
	ck_assert_int_eq(t.last, 1);
	/* Level-triggered epoll does not spin after the run. */
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 20), 0);
	/* A blocking run still works in this mode. */
	ck_assert_int_gt(urio_timeout(loop, 10000000, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_uint_eq(t.calls, 2);
	close(ep);
	urio_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}

START_TEST(epoll_wakes_for_a_completion_on_the_only_ring)
{
	SKIP_ON_AIO();
	epoll_drives_loop(1);
}
END_TEST

START_TEST(epoll_wakes_for_a_completion_on_the_second_ring)
{
	SKIP_ON_AIO();
	epoll_drives_loop(2);
}
END_TEST

START_TEST(many_nops_through_epoll_all_complete)
{
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct tally t = { 0 };
	urio_loop *loop = new_loop(64, 2, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = urio_loop_fd(loop);
	unsigned sent = 0;

	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	while (t.calls < 5000) {
		while (sent < 5000 && urio_nop(loop, 0, tally_cb, &t) > 0)
			sent++;
		ck_assert_int_ge(urio_loop_submit(loop), 0);
		ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	}
	ck_assert_uint_eq(t.calls, 5000);
	close(ep);
	urio_loop_destroy(loop);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("embed_fd");
	TCase *tc = tcase_create("embed_fd");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, epoll_wakes_for_a_completion_on_the_only_ring);
	tcase_add_test(tc, epoll_wakes_for_a_completion_on_the_second_ring);
	tcase_add_test(tc, many_nops_through_epoll_all_complete);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
