/* SPDX-License-Identifier: MIT */
/* raw-nop - the reference urio's --nop is measured against: a bare liburing
 * NOP loop at a queue depth, batched io_uring_submit_and_wait plus
 * io_uring_peek_batch_cqe, on a ring with the setup flags urio asks for.
 *   raw-nop [QD] [SECONDS] [--no-defer] */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h" /* the same setup flags urio asks for */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned qd = argc > 1 ? (unsigned)atoi(argv[1]) : 32;
	double secs = argc > 2 ? atof(argv[2]) : 5, t0, t1;
	bool defer = !(argc > 3 && !strcmp(argv[3], "--no-defer"));
	struct io_uring_params p = { 0 };
	struct io_uring ring;
	struct io_uring_cqe *cqes[256];
	unsigned long long done = 0;
	int ret;

	if (!qd || qd > 256 || !(secs > 0)) {
		fprintf(stderr,
			"usage: raw-nop [QD 1..256] [SECONDS] [--no-defer]\n");
		return 2;
	}
	p.flags = IORING_SETUP_SUBMIT_ALL | IORING_SETUP_TASKRUN_FLAG;
	p.flags |=
		defer ? IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN
		      : IORING_SETUP_COOP_TASKRUN;
	ret = io_uring_queue_init_params(256, &ring, &p);
	if (ret < 0) {
		fprintf(stderr, "raw-nop: io_uring_queue_init: %s\n",
			strerror(-ret));
		return 1;
	}
	io_uring_register_ring_fd(&ring);
	for (unsigned i = 0; i < qd; i++)
		io_uring_prep_nop(io_uring_get_sqe(&ring));
	t0 = now();
	t1 = t0;
	while (t1 - t0 < secs) {
		unsigned n;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0) {
			fprintf(stderr, "raw-nop: submit: %s\n",
				strerror(-ret));
			return 1;
		}
		n = io_uring_peek_batch_cqe(&ring, cqes, qd);
		io_uring_cq_advance(&ring, n);
		done += n;
		for (unsigned i = 0; i < n; i++)
			io_uring_prep_nop(io_uring_get_sqe(&ring));
		if ((done & 0xffff) < n)
			t1 = now();
	}
	t1 = now();
	printf("{\"engine\": \"raw-liburing-nop\", \"qd\": %u, \"iops\": %.1f, "
	       "\"ios\": %llu, \"runtime_s\": %.3f}\n",
	       qd, done / (t1 - t0), done, t1 - t0);
	io_uring_queue_exit(&ring);
	return 0;
}
