/* SPDX-License-Identifier: MIT */
/* test_post.c - other threads hand work to a loop (urio_loop_post): every
 * post runs once, on the loop's thread, in each poster's order; a loop
 * asleep wakes for it, in its own run or in a server's epoll; posts left
 * at teardown run with -ECANCELED. */
#include "helpers.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRODUCERS 4
#define PER	  25000

struct sink {
	urio_loop *loop;
	pthread_t owner;
	unsigned got, wrong_thread, out_of_order, canceled;
	unsigned next[PRODUCERS];
	unsigned char *seen; /* by post number */
};

struct post {
	struct sink *s;
	unsigned producer, seq;
};

static void on_post(urio_loop *loop, int res, void *data)
{
	struct post *p = data;
	struct sink *s = p->s;

	(void)loop;
	if (res == -ECANCELED) {
		s->canceled++;
		return;
	}
	if (!pthread_equal(pthread_self(), s->owner))
		s->wrong_thread++;
	if (p->seq != s->next[p->producer]++)
		s->out_of_order++;
	s->seen[p->producer * PER + p->seq]++;
	s->got++;
}

struct producer {
	struct sink *s;
	struct post *posts;
	unsigned id;
	int err;
};

static void *produce(void *arg)
{
	struct producer *pr = arg;

	for (unsigned i = 0; i < PER; i++) {
		struct post *p = &pr->posts[pr->id * PER + i];
		int ret;

		*p = (struct post){ pr->s, pr->id, i };
		ret = urio_loop_post(pr->s->loop, on_post, p);
		if (ret < 0) {
			pr->err = ret;
			break;
		}
	}
	return NULL;
}

START_TEST(posts_from_four_threads_run_once_in_order_on_the_loop_thread)
{
	struct sink s = { 0 };
	struct producer pr[PRODUCERS];
	struct post *posts = calloc(PRODUCERS * PER, sizeof(*posts));
	struct tally far = { 0 };
	pthread_t th[PRODUCERS];

	s.seen = calloc(PRODUCERS * PER, 1);
	s.owner = pthread_self();
	s.loop = new_loop(8, 1, 0);
	/* Something in flight: the loop sleeps between posts. */
	ck_assert_int_gt(
		urio_timeout(s.loop, 60ull * 1000000000u, 0, tally_cb, &far),
		0);
	for (unsigned i = 0; i < PRODUCERS; i++) {
		pr[i] = (struct producer){ &s, posts, i, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &pr[i]),
				 0);
	}
	while (s.got < PRODUCERS * PER) {
		int ret = urio_loop_run(s.loop, URIO_RUN_ONCE);

		if (ret < 0)
			ck_abort_msg("run: %s", urio_strerror(ret));
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(pr[i].err == 0, "post: %s",
			      urio_strerror(pr[i].err));
	}
	ck_assert_uint_eq(s.got, PRODUCERS * PER);
	ck_assert_uint_eq(s.wrong_thread, 0);
	ck_assert_uint_eq(s.out_of_order, 0);
	for (unsigned i = 0; i < PRODUCERS * PER; i++)
		ck_assert_uint_eq(s.seen[i], 1);
	ck_assert_int_eq(urio_loop_destroy(s.loop), 0);
	ck_assert_int_eq(far.last, -ECANCELED);
	free(posts);
	free(s.seen);
}
END_TEST

struct later {
	urio_loop *loop;
	struct post *p;
	int delay_ms, err;
};

static void *post_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, l->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	l->err = urio_loop_post(l->loop, on_post, l->p);
	return NULL;
}

START_TEST(a_post_wakes_a_loop_asleep)
{
	struct sink s = { 0 };
	struct post p;
	struct later l;
	struct tally far = { 0 };
	pthread_t th;
	uint64_t t0;

	s.seen = calloc(PRODUCERS * PER, 1);
	s.owner = pthread_self();
	s.loop = new_loop(8, 1, 0);
	l = (struct later){ s.loop, &p, 50, 0 };
	p = (struct post){ &s, 0, 0 };
	ck_assert_int_gt(
		urio_timeout(s.loop, 10ull * 1000000000u, 0, tally_cb, &far),
		0);
	t0 = now_ms();
	ck_assert_int_eq(pthread_create(&th, NULL, post_later, &l), 0);
	ck_assert_int_eq(urio_loop_run(s.loop, URIO_RUN_ONCE), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(l.err, 0);
	ck_assert_uint_eq(s.got, 1);
	ck_assert_uint_lt(now_ms() - t0, 5000);
	ck_assert_uint_eq(far.calls, 0);
	ck_assert_int_eq(urio_loop_destroy(s.loop), 0);
	free(s.seen);
}
END_TEST

START_TEST(a_post_makes_the_loop_fd_readable)
{
	struct sink s = { 0 };
	struct post p;
	struct later l;
	struct pollfd pfd;
	pthread_t th;

	s.seen = calloc(PRODUCERS * PER, 1);
	s.owner = pthread_self();
	s.loop = new_loop(8, 1, 0);
	pfd.fd = urio_loop_fd(s.loop);
	pfd.events = POLLIN;
	ck_assert_int_ge(pfd.fd, 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	l = (struct later){ s.loop, &p, 20, 0 };
	p = (struct post){ &s, 0, 0 };
	ck_assert_int_eq(pthread_create(&th, NULL, post_later, &l), 0);
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(urio_loop_run(s.loop, URIO_RUN_NOWAIT), 1);
	ck_assert_uint_eq(s.got, 1);
	/* Run, the fd is quiet again. */
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(urio_loop_destroy(s.loop), 0);
	free(s.seen);
}
END_TEST

struct at_teardown {
	urio_loop *loop;
	struct sink *s;
	struct post *p;
	int post_ret;
	unsigned calls;
};

/* A request cancelled by destroy: the loop takes no more posts. */
static void post_while_destroyed(urio_loop *loop, int res, void *data)
{
	struct at_teardown *a = data;

	(void)res;
	a->calls++;
	a->post_ret = urio_loop_post(loop, on_post, a->p);
}

START_TEST(posts_left_at_teardown_run_with_ecanceled)
{
	struct sink s = { 0 };
	struct post p[3];
	struct at_teardown a = { 0 };

	s.seen = calloc(PRODUCERS * PER, 1);
	s.owner = pthread_self();
	s.loop = new_loop(8, 1, 0);
	for (unsigned i = 0; i < 3; i++) {
		p[i] = (struct post){ &s, 0, i };
		ck_assert_int_eq(urio_loop_post(s.loop, on_post, &p[i]), 0);
	}
	a.p = &p[0];
	ck_assert_int_gt(urio_timeout(s.loop, 10ull * 1000000000u, 0,
				      post_while_destroyed, &a),
			 0);
	ck_assert_int_eq(urio_loop_destroy(s.loop), 0);
	ck_assert_uint_eq(a.calls, 1);
	ck_assert_int_eq(a.post_ret, -ESHUTDOWN);
	ck_assert_uint_eq(s.got, 0);
	ck_assert_uint_eq(s.canceled, 3);
	free(s.seen);
}
END_TEST

START_TEST(bad_posts_are_refused)
{
	urio_loop *loop = new_loop(8, 1, 0);
	int x;

	ck_assert_int_eq(urio_loop_post(NULL, tally_cb, &x), -EINVAL);
	ck_assert_int_eq(urio_loop_post(loop, NULL, &x), -EINVAL);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
}
END_TEST
