/* SPDX-License-Identifier: MIT */
/* test_destroy.c - tearing a loop down with requests in flight: every
 * callback runs exactly once, nothing is left behind, and a target cannot
 * be closed under its requests. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

struct once {
	unsigned *calls;
	int *res;
};

struct slot_ref {
	struct once *o;
	unsigned idx;
};

static void once_cb(urio_loop *loop, int res, void *data)
{
	struct slot_ref *s = data;

	(void)loop;
	s->o->calls[s->idx]++;
	s->o->res[s->idx] = res;
}

START_TEST(destroy_with_thousands_in_flight_runs_each_callback_once)
{
	SKIP_ON_AIO();
	enum { N = 3000 };
	struct once o = { calloc(N, sizeof(unsigned)), calloc(N, sizeof(int)) };
	struct slot_ref *refs = calloc(N, sizeof(*refs));
	urio_loop *loop = new_loop(1024, 2, 0);
	urio_target *t;
	char *buf = malloc(N);
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], NULL), 0);
	for (unsigned i = 0; i < N; i++) {
		refs[i].o = &o;
		refs[i].idx = i;
		/* Half wait on an empty pipe, half on long timeouts. */
		if (i % 2)
			ck_assert_int_gt(urio_read(t, buf + i, 1, 0, 0, once_cb,
						   &refs[i]),
					 0);
		else
			ck_assert_int_gt(urio_timeout(loop,
						      3600ull * 1000000000u, 0,
						      once_cb, &refs[i]),
					 0);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	for (unsigned i = 0; i < N; i++) {
		ck_assert_uint_eq(o.calls[i], 1);
		ck_assert_int_eq(o.res[i], -ECANCELED);
	}
	close(p[0]);
	close(p[1]);
	free(o.calls);
	free(o.res);
	free(refs);
	free(buf);
}
END_TEST

START_TEST(destroy_with_unsubmitted_requests_runs_each_callback_once)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);

	/* Prepared, never submitted: destroy submits or cancels them. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_gt(urio_timeout(loop, 3600ull * 1000000000u, 0,
					      tally_cb, &t),
				 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(t.calls, 50);
	ck_assert_uint_eq(t.errors, 50);
	ck_assert_int_eq(t.last, -ECANCELED);
}
END_TEST

START_TEST(destroy_with_file_io_in_flight_keeps_real_results)
{
	enum { N = 400 };
	char path[256];
	struct tally t = { 0 };
	urio_loop *loop = new_loop(512, 1, 0);
	urio_target *tg;
	char *buf = malloc((size_t)N * 4096);

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &tg, path, O_RDWR, 0, NULL), 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_write(tg, buf + (size_t)i * 4096, 4096,
					    (uint64_t)i * 4096, 0, tally_cb,
					    &t),
				 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	/* Each once: either written (4096) or cancelled. */
	ck_assert_uint_eq(t.calls, N);
	ck_assert_int_eq(t.sum % 4096, 0);
	ck_assert_uint_eq(t.sum / 4096 + t.errors, N);
	free(buf);
	unlink(path);
}
END_TEST

static urio_loop *inner;
static int inner_ret;

static void destroy_from_cb(urio_loop *loop, int res, void *data)
{
	(void)res;
	(void)data;
	inner = loop;
	inner_ret = urio_loop_destroy(loop);
}

START_TEST(destroy_inside_a_callback_is_refused_with_edeadlk)
{
	urio_loop *loop = new_loop(8, 1, 0);

	ck_assert_int_gt(urio_nop(loop, 0, destroy_from_cb, NULL), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_ptr_eq(inner, loop);
	ck_assert_int_eq(inner_ret, -EDEADLK);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
}
END_TEST

START_TEST(destroy_of_idle_loop_and_of_null)
{
	urio_loop *loop = new_loop(8, 4, 0);

	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_int_eq(urio_loop_destroy(NULL), -EINVAL);
}
END_TEST

START_TEST(close_target_with_requests_in_flight_is_ebusy)
{
	SKIP_ON_AIO();
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *tg;
	char buf[4];
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], NULL), 0);
	ck_assert_int_gt(urio_read(tg, buf, 4, 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_target_close(tg), -EBUSY);
	ck_assert_int_eq(write(p[1], "abcd", 4), 4);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(urio_target_close(tg), 0);
	ck_assert_int_eq(urio_read(tg, buf, 4, 0, 0, tally_cb, &t), -EBADF);
	ck_assert_int_eq(urio_target_close(tg), -EBADF);
	/* An adopted fd stays the caller's. */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(read(p[0], buf, 1), 1);
	urio_loop_destroy(loop);
	close(p[0]);
	close(p[1]);
}
END_TEST

static unsigned chain;

static void chain_next(urio_loop *loop, int res, void *data)
{
	(void)res;
	(void)data;
	if (++chain < 1000)
		ck_assert_int_gt(urio_nop(loop, 0, chain_next, NULL), 0);
}

START_TEST(callbacks_may_submit_during_a_run)
{
	urio_loop *loop = new_loop(8, 1, 0);

	/* Each callback submits the next: 1000 in a chain, one run. */
	ck_assert_int_gt(urio_nop(loop, 0, chain_next, NULL), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1000);
	ck_assert_uint_eq(chain, 1000);
	urio_loop_destroy(loop);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("destroy");
	TCase *tc = tcase_create("destroy");

	tcase_set_timeout(tc, 60);
	tcase_add_test(
		tc, destroy_with_thousands_in_flight_runs_each_callback_once);
	tcase_add_test(
		tc, destroy_with_unsubmitted_requests_runs_each_callback_once);
	tcase_add_test(tc, destroy_with_file_io_in_flight_keeps_real_results);
	tcase_add_test(tc, destroy_inside_a_callback_is_refused_with_edeadlk);
	tcase_add_test(tc, destroy_of_idle_loop_and_of_null);
	tcase_add_test(tc, close_target_with_requests_in_flight_is_ebusy);
	tcase_add_test(tc, callbacks_may_submit_during_a_run);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
