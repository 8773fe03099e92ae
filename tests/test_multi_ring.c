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
	ssize_t ret; /* the thread records, the case asserts */
};

static void *write_later(void *arg)
{
	struct late_writer *w = arg;
	struct timespec ts = { 0, (long)w->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	w->ret = write(w->fd, "ring", 4);
	return NULL;
}

/* A pipe read pinned to ring `ring`; another thread writes later, so the
 * completion arrives on that ring only while the loop blocks. */
static void blocking_run_sees_ring(unsigned rings, unsigned ring)
{
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_stats rs = { .size = sizeof(rs) };
	struct late_writer w;
	struct req r = { 0 };
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
	ck_assert_int_gt(urio_read(tg, buf, sizeof(buf), 0, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_submit(loop), 0);
	w.fd = p[1];
	w.delay_ms = 100;
	t0 = now_ms();
	ck_assert_int_eq(pthread_create(&th, NULL, write_later, &w), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_uint_ge(now_ms() - t0, 90);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(w.ret, 4);
	ck_assert_req(r, 4);
	ck_assert_str_eq(buf, "ring");
	for (unsigned i = 0; i < rings; i++) {
		ck_assert_int_eq(urio_loop_ring_stats(loop, i, &rs), 0);
		ck_assert_uint_eq(rs.completed, i == ring ? 1 : 0);
	}
	DESTROY_CLEAN(loop);
	close(p[0]);
	close(p[1]);
}

START_TEST(one_blocking_run_returns_completions_of_the_second_ring)
{
	blocking_run_sees_ring(2, 1);
}
END_TEST

START_TEST(one_blocking_run_returns_completions_of_the_fourth_ring)
{
	blocking_run_sees_ring(4, 3);
}
END_TEST

START_TEST(single_ring_blocking_run_waits_for_the_kernel)
{
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
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(second_ring_takes_over_when_the_first_is_full)
{
	struct urio_stats r0 = { .size = sizeof(r0) },
			  r1 = { .size = sizeof(r1) };
	struct req r[20] = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);

	/* 8 entries: 16 CQEs, 12 of them for requests. */
	for (int i = 0; i < 20; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r[i]), 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &r0), 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &r1), 0);
	ck_assert_uint_eq(r0.inflight, 12);
	ck_assert_uint_eq(r1.inflight, 8);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 20);
	ck_assert_reqs(r, 20, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(pinned_ring_full_means_ebusy_even_if_others_have_room)
{
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_stats r1 = { .size = sizeof(r1) };
	struct req rd[12] = { 0 }, nop = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	urio_target *tg;
	char buf[8];
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	to.flags = URIO_TARGET_RING;
	to.ring = 1;
	ck_assert_int_eq(urio_target_adopt(loop, &tg, p[0], &to), 0);
	for (int i = 0; i < 12; i++)
		ck_assert_int_gt(urio_read(tg, buf, 1, 0, 0, req_cb, &rd[i]),
				 0);
	ck_assert_int_eq(urio_read(tg, buf, 1, 0, 0, req_cb, &never), -EBUSY);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &r1), 0);
	ck_assert_uint_eq(r1.ebusy, 1);
	ck_assert_int_gt(urio_nop(loop, 0, req_cb, &nop), 0);
	/* The reads wait on an empty pipe; the nop may finish first. */
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_reqs(rd, 12, -ECANCELED);
	ck_assert_reqs_in(&nop, 1, 0, -ECANCELED);
	ck_assert_no_callback(never);
	close(p[0]);
	close(p[1]);
}
END_TEST
