/* SPDX-License-Identifier: MIT */
/* test_destroy.c - tearing a loop down with requests in flight: every
 * callback runs exactly once, with a result the case names, nothing is left
 * behind, and a target cannot be closed under its requests. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

START_TEST(destroy_with_thousands_in_flight_runs_each_callback_once)
{
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(1024, 2, 0);
	unsigned n;
	struct req *r;
	urio_target *t;
	char *buf;
	int p[2];

	/* 3000, or what a small RLIMIT_MEMLOCK left the rings. */
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	n = st.cap < 3000 ? (unsigned)st.cap : 3000;
	ck_assert_uint_ge(n, 100);
	r = calloc(n, sizeof(*r));
	buf = malloc(n);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &t, p[0], NULL), 0);
	for (unsigned i = 0; i < n; i++) {
		/* Half wait on an empty pipe, half on long timeouts. */
		if (i % 2)
			ck_assert_int_gt(
				urio_read(t, buf + i, 1, 0, 0, req_cb, &r[i]),
				0);
		else
			ck_assert_int_gt(urio_timeout(loop,
						      3600ull * 1000000000u, 0,
						      req_cb, &r[i]),
					 0);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	/* Nothing could finish: an empty pipe, an hour's timeout. */
	ck_assert_reqs(r, n, -ECANCELED);
	close(p[0]);
	close(p[1]);
	free(r);
	free(buf);
}
END_TEST

START_TEST(destroy_with_unsubmitted_requests_runs_each_callback_once)
{
	struct req r[50] = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);

	/* Prepared, never submitted: destroy submits or cancels them. */
	for (int i = 0; i < 50; i++)
		ck_assert_int_gt(urio_timeout(loop, 3600ull * 1000000000u, 0,
					      req_cb, &r[i]),
				 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_reqs(r, 50, -ECANCELED);
}
END_TEST

START_TEST(destroy_with_file_io_in_flight_keeps_real_results)
{
	enum { N = 400 };
	char path[256];
	struct req *r = calloc(N, sizeof(*r));
	urio_loop *loop = new_loop(512, 1, 0);
	urio_target *tg;
	char *buf = calloc(N, 4096);

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &tg, path, O_RDWR, 0, NULL), 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_write(tg, buf + (size_t)i * 4096, 4096,
					    (uint64_t)i * 4096, 0, req_cb,
					    &r[i]),
				 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	/* A write finished first (all of it) or was cancelled: nothing
	 * between, no other error. */
	ck_assert_reqs_in(r, N, 4096, -ECANCELED);
	free(r);
	free(buf);
	unlink(path);
}
END_TEST

static urio_loop *inner;
static int inner_ret;

static void destroy_from_cb(urio_loop *loop, int res, void *data)
{
	req_cb(loop, res, data);
	inner = loop;
	inner_ret = urio_loop_destroy(loop);
}

START_TEST(destroy_inside_a_callback_is_refused_with_edeadlk)
{
	struct req r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);

	ck_assert_int_gt(urio_nop(loop, 0, destroy_from_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 0);
	ck_assert_ptr_eq(inner, loop);
	ck_assert_int_eq(inner_ret, -EDEADLK);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(destroy_of_idle_loop_and_of_null)
{
	urio_loop *loop = new_loop(8, 4, 0);

	DESTROY_CLEAN(loop);
	ck_assert_int_eq(urio_loop_destroy(NULL), -EINVAL);
}
END_TEST

START_TEST(close_target_with_requests_in_flight_is_ebusy)
{
	struct req r = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *tg;
	char buf[4];
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], NULL), 0);
	ck_assert_int_gt(urio_read(tg, buf, 4, 0, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_target_close(tg), -EBUSY);
	ck_assert_int_eq(write(p[1], "abcd", 4), 4);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 4);
	ck_assert_int_eq(urio_target_close(tg), 0);
	ck_assert_int_eq(urio_read(tg, buf, 4, 0, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_target_close(tg), -EBADF);
	/* An adopted fd stays the caller's. */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(read(p[0], buf, 1), 1);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	close(p[0]);
	close(p[1]);
}
END_TEST

static struct req chain[1000];

static void chain_next(urio_loop *loop, int res, void *data)
{
	struct req *r = data;
	long next = r - chain + 1;

	req_cb(loop, res, data);
	/* Recorded, not asserted: a failed assertion would leave the run. */
	if (next < 1000 && urio_nop(loop, 0, chain_next, &chain[next]) <= 0)
		r->res = -EIO;
}

START_TEST(callbacks_may_submit_during_a_run)
{
	urio_loop *loop = new_loop(8, 1, 0);

	/* Each callback submits the next: 1000 in a chain, one run. */
	ck_assert_int_gt(urio_nop(loop, 0, chain_next, &chain[0]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1000);
	ck_assert_reqs(chain, 1000, 0);
	DESTROY_CLEAN(loop);
}
END_TEST
