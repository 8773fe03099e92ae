/* SPDX-License-Identifier: MIT */
/* nop-loop - the smallest loop that keeps QD NOPs in flight, through urio
 * or through bare liburing on a ring with the same setup flags, for a
 * given count or time: what bench/nop-cost measures urio's own cost with.
 *   nop-loop urio|raw [QD] [COUNT|SECONDSs] */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h" /* the setup flags urio asks for */
#include "urio.h"

struct run {
	unsigned long long done, want;
	double deadline;
	urio_loop *loop;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* As little as a callback can do, as the raw loop below: always another
 * NOP.  The run stops by count or time; destroying the loop cancels what
 * is left in flight (those callbacks' resubmissions are refused). */
static void on_nop(urio_loop *loop, int res, void *data)
{
	(void)res;
	urio_nop(loop, 0, on_nop, data);
}

static int run_urio(unsigned qd, struct run *r)
{
	struct urio_loop_opts o = { .size = sizeof(o), .entries = 256 };
	int ret = urio_loop_create(&r->loop, &o);

	if (ret < 0)
		return ret;
	for (unsigned i = 0; i < qd; i++)
		urio_nop(r->loop, 0, on_nop, r);
	while (r->done < r->want) {
		ret = urio_loop_run(r->loop, URIO_RUN_ONCE);
		if (ret < 0)
			return ret;
		r->done += (unsigned)ret;
		if (r->deadline && (r->done & 0xffff) < qd &&
		    now() > r->deadline)
			break;
	}
	return urio_loop_destroy(r->loop);
}

static int run_raw(unsigned qd, struct run *r)
{
	struct io_uring_params p = { 0 };
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int ret;

	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_TASKRUN_FLAG |
		  IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	ret = io_uring_queue_init_params(256, &ring, &p);
	if (ret < 0)
		return ret;
	io_uring_register_ring_fd(&ring);
	for (unsigned i = 0; i < qd; i++)
		io_uring_prep_nop(io_uring_get_sqe(&ring));
	while (r->done < r->want) {
		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0)
			return ret;
		n = 0;
		io_uring_for_each_cqe (&ring, head, cqe) {
			n++;
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		}
		io_uring_cq_advance(&ring, n);
		r->done += n;
		if (r->deadline && (r->done & 0xffff) < qd &&
		    now() > r->deadline)
			break;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { 0 };
	unsigned qd = argc > 2 ? (unsigned)atoi(argv[2]) : 32;
	const char *amount = argc > 3 ? argv[3] : "1000000";
	bool urio = argc > 1 && !strcmp(argv[1], "urio");
	double t0;
	int ret;

	if (argc < 2 || (!urio && strcmp(argv[1], "raw")) || !qd || qd > 256) {
		fprintf(stderr, "usage: nop-loop urio|raw [QD 1..256] "
				"[COUNT | SECONDSs]\n");
		return 2;
	}
	t0 = now();
	r.want = ~0ull;
	if (amount[strlen(amount) - 1] == 's')
		r.deadline = t0 + atof(amount);
	else
		r.want = strtoull(amount, NULL, 10);
	ret = urio ? run_urio(qd, &r) : run_raw(qd, &r);
	if (ret < 0) {
		fprintf(stderr, "nop-loop: %s\n", urio_strerror(ret));
		return 1;
	}
	printf("{\"engine\": \"%s\", \"qd\": %u, \"nops\": %llu, "
	       "\"iops\": %.0f}\n",
	       urio ? "urio" : "raw-liburing", qd, r.done,
	       r.done / (now() - t0));
	return 0;
}
