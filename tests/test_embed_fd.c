/* SPDX-License-Identifier: MIT */
/* test_embed_fd.c - a server with its own epoll loop embeds urio through
 * urio_loop_fd(): the fd turns readable when completions wait, and a
 * non-blocking run dispatches them and quiets it again. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

struct late_write {
	int fd;
	ssize_t ret; /* the thread records, the case asserts */
};

static void *write_after_50ms(void *arg)
{
	struct late_write *w = arg;
	struct timespec ts = { 0, 50000000 };

	nanosleep(&ts, NULL);
	w->ret = write(w->fd, "e", 1);
	return NULL;
}

static void epoll_drives_loop(unsigned rings)
{
	struct urio_target_opts to = { .size = sizeof(to) };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct req rd = { 0 }, tm = { 0 };
	struct late_write lw;
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
	ck_assert_int_ge(ep, 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = rings - 1;
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], &to), 0);
	ck_assert_int_gt(urio_read(tg, buf, 1, 0, 0, req_cb, &rd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	/* Nothing done yet: the fd goes quiet.  The switch to fd mode may
	 * leave the loop's own internal completions for one more run. */
	for (int i = 0; i < 3 && epoll_wait(ep, &out, 1, 20) == 1; i++)
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 20), 0);
	ck_assert_uint_eq(rd.calls, 0);
	lw.fd = p[1];
	ck_assert_int_eq(pthread_create(&th, NULL, write_after_50ms, &lw), 0);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(lw.ret, 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 1);
	ck_assert_req(rd, 1);
	ck_assert_int_eq(buf[0], 'e');
	/* Level-triggered epoll does not spin after the run. */
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 20), 0);
	/* A blocking run still works in this mode. */
	ck_assert_int_gt(urio_timeout(loop, 10000000, 0, req_cb, &tm), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(tm, 0);
	ck_assert_req(rd, 1);
	close(ep);
	DESTROY_CLEAN(loop);
	close(p[0]);
	close(p[1]);
}

START_TEST(epoll_wakes_for_a_completion_on_the_only_ring)
{
	epoll_drives_loop(1);
}
END_TEST

START_TEST(epoll_wakes_for_a_completion_on_the_second_ring)
{
	epoll_drives_loop(2);
}
END_TEST

START_TEST(many_nops_through_epoll_all_complete)
{
	enum { N = 5000 };
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct req *r = calloc(N, sizeof(*r));
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(64, 2, 0);
	int ep = epoll_create1(EPOLL_CLOEXEC), fd = urio_loop_fd(loop);
	unsigned sent = 0;
	urio_id id = 0;

	ck_assert_int_ge(ep, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev), 0);
	for (;;) {
		/* Submit until the loop is full: the only refusal allowed
		 * is the in-flight bound. */
		while (sent < N &&
		       (id = urio_nop(loop, 0, req_cb, &r[sent])) > 0)
			sent++;
		if (sent < N)
			ck_assert_int_eq(id, -EBUSY);
		ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
		if (sent == N && st.inflight == 0)
			break;
		ck_assert_int_ge(urio_loop_submit(loop), 0);
		ck_assert_int_eq(epoll_wait(ep, &out, 1, 5000), 1);
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	}
	ck_assert_reqs(r, N, 0);
	close(ep);
	DESTROY_CLEAN(loop);
	ck_assert_reqs(r, N, 0);
	free(r);
}
END_TEST
