/* SPDX-License-Identifier: MIT */
/* test_multishot.c - multishot receives into a buffer group and multishot
 * accepts: every byte arrives once and in order, every request ends with
 * exactly one last callback, and floods that overflow a naive design's
 * completion queue (shown here with bare liburing) never overflow urio's. */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* One stream's receiving end. */
struct stream {
	unsigned char *got;
	size_t have, cap;
	unsigned more, last, bad_buf;
	int last_res;
};

static void on_recv(urio_loop *loop, int res, void *data)
{
	struct stream *s = data;
	struct urio_completion c = { .size = sizeof(c) };

	urio_loop_completion(loop, &c);
	if (c.flags & URIO_C_MORE) {
		s->more++;
		if (res <= 0 || !c.buf || s->have + (size_t)res > s->cap) {
			s->bad_buf++;
			return;
		}
		memcpy(s->got + s->have, c.buf, (size_t)res);
		s->have += (size_t)res;
		return;
	}
	s->last++;
	s->last_res = res;
}

static void fill_stream(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed);
}

static uint64_t overflows(urio_loop *loop)
{
	struct urio_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	return st.cq_overflows;
}

START_TEST(recv_multi_delivers_every_byte_in_order_then_one_last)
{
	enum { BYTES = 200000 };
	struct stream s = { 0 };
	unsigned char *out = malloc(BYTES);
	urio_loop *loop;
	int sv[2], g;
	size_t sent = 0;

	loop = new_loop(64, 1, 0);
	s.cap = BYTES;
	s.got = malloc(BYTES);
	fill_stream(out, BYTES, 7);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	g = urio_bufgroup_create(loop, 8, 1024);
	ck_assert_int_ge(g, 0);
	ck_assert_int_gt(urio_recv_multi(loop, sv[0], g, 0, 0, on_recv, &s), 0);
	/* The group is in use: it cannot go. */
	ck_assert_int_eq(urio_bufgroup_destroy(loop, g), -EBUSY);
	while (sent < BYTES) {
		ssize_t n = write(sv[1], out + sent,
				  BYTES - sent < 7000 ? BYTES - sent : 7000);

		ck_assert_int_gt(n, 0);
		sent += (size_t)n;
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	}
	close(sv[1]);
	while (!s.last)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
	ck_assert_uint_eq(s.bad_buf, 0);
	ck_assert_uint_eq(s.have, BYTES);
	ck_assert_mem_eq(s.got, out, BYTES);
	ck_assert_uint_gt(s.more, BYTES / 1024 - 1);
	ck_assert_uint_eq(s.last, 1);
	ck_assert_int_eq(s.last_res, 0); /* the peer closed */
	ck_assert_uint_eq(overflows(loop), 0);
	ck_assert_int_eq(urio_bufgroup_destroy(loop, g), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	close(sv[0]);
	free(out);
	free(s.got);
}
END_TEST

/* Bare liburing, a naive server: multishot receives on a small CQ, its
 * buffer ring larger than the CQ.  Data on every socket before the ring is
 * entered: the kernel posts more completions than the CQ holds. */
static bool naive_recv_overflows(int nsock, int (*sv)[2])
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
				     .cq_entries = 16 };
	struct io_uring_buf_reg reg = { .ring_entries = 256, .bgid = 1 };
	struct io_uring_buf_ring *br;
	static char bufs[256][64];
	struct io_uring ring;
	bool over;

	ck_assert_int_eq(io_uring_queue_init_params(8, &ring, &p), 0);
	ck_assert_int_eq(posix_memalign((void **)&br, 4096,
					256 * sizeof(struct io_uring_buf)),
			 0);
	io_uring_buf_ring_init(br);
	reg.ring_addr = (uintptr_t)br;
	ck_assert_int_eq(io_uring_register_buf_ring(&ring, &reg, 0), 0);
	for (int b = 0; b < 256; b++)
		io_uring_buf_ring_add(br, bufs[b], 64, (unsigned short)b,
				      io_uring_buf_ring_mask(256), b);
	io_uring_buf_ring_advance(br, 256);
	for (int i = 0; i < nsock; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		if (!sqe) {
			io_uring_submit(&ring);
			sqe = io_uring_get_sqe(&ring);
		}
		io_uring_prep_recv_multishot(sqe, sv[i][0], NULL, 0, 0);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = 1;
	}
	io_uring_submit(&ring);
	for (int i = 0; i < nsock; i++)
		for (int k = 0; k < 8; k++)
			ck_assert_int_eq(write(sv[i][1], bufs[0], 64), 64);
	io_uring_get_events(&ring);
	over = (*ring.sq.kflags & IORING_SQ_CQ_OVERFLOW) != 0;
	io_uring_queue_exit(&ring);
	free(br);
	return over;
}

START_TEST(a_flood_that_overflows_a_naive_cq_does_not_overflow_urio)
{
	enum { NSOCK = 32, MSGS = 64, MSG = 100 };
	static struct stream s[NSOCK];
	static unsigned char got[NSOCK][MSGS * MSG], out[MSGS * MSG];
	int sv[NSOCK][2], g, done;
	urio_loop *loop;

	for (int i = 0; i < NSOCK; i++)
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
	/* The flood is real: it overflows a naive design. */
	ck_assert_msg(naive_recv_overflows(NSOCK, sv),
		      "control: the naive ring did not overflow");
	for (int i = 0; i < NSOCK; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
	}
	/* urio: a loop with a small ring, 16 buffers for 32 streams. */
	loop = new_loop(32, 1, 0);
	g = urio_bufgroup_create(loop, 16, 64);
	ck_assert_int_ge(g, 0);
	fill_stream(out, sizeof(out), 3);
	for (int i = 0; i < NSOCK; i++) {
		s[i] = (struct stream){ .got = got[i], .cap = sizeof(got[i]) };
		ck_assert_int_gt(urio_recv_multi(loop, sv[i][0], g, 0, 0,
						 on_recv, &s[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	/* Everything written while the loop does not run. */
	for (int i = 0; i < NSOCK; i++) {
		for (int k = 0; k < MSGS; k++)
			ck_assert_int_eq(write(sv[i][1], out + k * MSG, MSG),
					 MSG);
		close(sv[i][1]);
	}
	do {
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
		done = 0;
		for (int i = 0; i < NSOCK; i++)
			done += s[i].last;
	} while (done < NSOCK);
	for (int i = 0; i < NSOCK; i++) {
		ck_assert_uint_eq(s[i].bad_buf, 0);
		ck_assert_uint_eq(s[i].have, sizeof(out));
		ck_assert_mem_eq(s[i].got, out, sizeof(out));
		ck_assert_uint_eq(s[i].last, 1);
		ck_assert_int_eq(s[i].last_res, 0);
	}
	ck_assert_uint_eq(overflows(loop), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	for (int i = 0; i < NSOCK; i++)
		close(sv[i][0]);
}
END_TEST

static int listener(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 1024), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

struct acceptor {
	unsigned more, last, bad;
	int last_res;
	int fds[1024];
	unsigned nfds;
};

static void on_accept(urio_loop *loop, int res, void *data)
{
	struct acceptor *a = data;
	struct urio_completion c = { .size = sizeof(c) };

	urio_loop_completion(loop, &c);
	if (c.flags & URIO_C_MORE) {
		a->more++;
		if (res < 0 || a->nfds == 1024)
			a->bad++;
		else
			a->fds[a->nfds++] = res;
		return;
	}
	a->last++;
	a->last_res = res;
}

/* Bare liburing's multishot accept on a 16-entry CQ, 200 connections
 * waiting: the completion that ends it overflows. */
static bool naive_accept_overflows(void)
{
	struct io_uring_params p = { .flags = IORING_SETUP_CQSIZE,
				     .cq_entries = 16 };
	struct io_uring ring;
	int cl[200], fd;
	uint16_t port;
	bool over;

	fd = listener(&port);
	ck_assert_int_eq(io_uring_queue_init_params(8, &ring, &p), 0);
	io_uring_prep_multishot_accept(io_uring_get_sqe(&ring), fd, NULL, NULL,
				       0);
	io_uring_submit(&ring);
	for (int i = 0; i < 200; i++)
		cl[i] = connect_to(port);
	usleep(50000);
	io_uring_get_events(&ring);
	over = (*ring.sq.kflags & IORING_SQ_CQ_OVERFLOW) != 0;
	io_uring_queue_exit(&ring);
	for (int i = 0; i < 200; i++)
		close(cl[i]);
	close(fd);
	return over;
}

START_TEST(accept_multi_takes_a_flood_of_connections_on_a_small_loop)
{
	static struct acceptor a;
	struct tally cancel = { 0 };
	int cl[500], lfd;
	urio_loop *loop;
	uint16_t port;
	urio_id id;

	ck_assert_msg(naive_accept_overflows(),
		      "control: the naive ring did not overflow");
	memset(&a, 0, sizeof(a));
	lfd = listener(&port);
	loop = new_loop(8, 1, 0);
	id = urio_accept_multi(loop, lfd, 0, on_accept, &a);
	ck_assert_int_gt(id, 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	for (int i = 0; i < 500; i++)
		cl[i] = connect_to(port);
	while (a.more < 500)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
	ck_assert_uint_eq(a.bad, 0);
	ck_assert_uint_eq(a.last, 0);
	ck_assert_uint_eq(overflows(loop), 0);
	/* Cancelled: one last callback. */
	ck_assert_int_gt(urio_cancel(loop, id, 0, tally_cb, &cancel), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(a.last, 1);
	ck_assert_int_eq(a.last_res, -ECANCELED);
	ck_assert_uint_eq(cancel.calls, 1);
	ck_assert_int_eq(cancel.last, 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	for (unsigned i = 0; i < a.nfds; i++)
		close(a.fds[i]);
	for (int i = 0; i < 500; i++)
		close(cl[i]);
	close(lfd);
}
END_TEST

/* Two buffers for ten streams: receives wait for a buffer, none fails. */
START_TEST(receives_wait_for_a_buffer_and_lose_nothing)
{
	enum { NSOCK = 10, BYTES = 20000 };
	static struct stream s[NSOCK];
	static unsigned char got[NSOCK][BYTES], out[BYTES];
	int sv[NSOCK][2], g, done;
	urio_loop *loop;

	loop = new_loop(32, 1, 0);
	g = urio_bufgroup_create(loop, 2, 256);
	ck_assert_int_ge(g, 0);
	fill_stream(out, BYTES, 11);
	for (int i = 0; i < NSOCK; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		s[i] = (struct stream){ .got = got[i], .cap = BYTES };
		ck_assert_int_gt(urio_recv_multi(loop, sv[i][0], g, 0, 0,
						 on_recv, &s[i]),
				 0);
		ck_assert_int_eq(write(sv[i][1], out, BYTES), BYTES);
		close(sv[i][1]);
	}
	do {
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
		done = 0;
		for (int i = 0; i < NSOCK; i++)
			done += s[i].last;
	} while (done < NSOCK);
	for (int i = 0; i < NSOCK; i++) {
		ck_assert_uint_eq(s[i].have, BYTES);
		ck_assert_mem_eq(s[i].got, out, BYTES);
		ck_assert_uint_eq(s[i].last, 1);
		ck_assert_int_eq(s[i].last_res, 0);
	}
	ck_assert_uint_eq(overflows(loop), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	for (int i = 0; i < NSOCK; i++)
		close(sv[i][0]);
}
END_TEST

START_TEST(cancel_by_fd_and_destroy_end_each_multishot_once)
{
	struct stream a = { 0 }, b = { 0 }, c = { 0 };
	unsigned char buf[64];
	urio_loop *loop;
	int sv[3][2], g;

	loop = new_loop(16, 1, 0);
	a.got = buf;
	b.got = buf;
	c.got = buf;
	g = urio_bufgroup_create(loop, 4, 64);
	ck_assert_int_ge(g, 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
	ck_assert_int_gt(urio_recv_multi(loop, sv[0][0], g, 0, 0, on_recv, &a),
			 0);
	ck_assert_int_gt(urio_recv_multi(loop, sv[1][0], g, 0, 0, on_recv, &b),
			 0);
	ck_assert_int_gt(urio_recv_multi(loop, sv[2][0], g, 0, 0, on_recv, &c),
			 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0][0]), 1);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 1);
	ck_assert_uint_eq(a.last, 1);
	ck_assert_int_eq(a.last_res, -ECANCELED);
	/* The rest end with the loop. */
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(b.last, 1);
	ck_assert_int_eq(b.last_res, -ECANCELED);
	ck_assert_uint_eq(c.last, 1);
	ck_assert_uint_eq(a.last, 1);
	for (int i = 0; i < 3; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
}
END_TEST

START_TEST(buffer_groups_refuse_what_cannot_be)
{
	urio_loop *loop = new_loop(8, 1, 0); /* 12 in flight at most */
	int g[16], n = 0;

	ck_assert_int_eq(urio_bufgroup_create(NULL, 4, 64), -EINVAL);
	ck_assert_int_eq(urio_bufgroup_create(loop, 3, 64), -EINVAL);
	ck_assert_int_eq(urio_bufgroup_create(loop, 0, 64), -EINVAL);
	ck_assert_int_eq(urio_bufgroup_create(loop, 4, 0), -EINVAL);
	ck_assert_int_eq(urio_bufgroup_create(loop, 4, (1u << 20) + 1),
			 -EINVAL);
	/* More buffers than the loop's bound holds. */
	ck_assert_int_eq(urio_bufgroup_create(loop, 64, 64), -ENOSPC);
	ck_assert_int_eq(urio_bufgroup_destroy(loop, 3), -ENOENT);
	ck_assert_int_eq(urio_recv_multi(loop, 0, 3, 0, 0, tally_cb, NULL),
			 -ENOENT);
	/* Sixteen groups a loop (of one buffer each: 12 fit the bound). */
	for (; n < 12; n++)
		ck_assert_int_eq(g[n] = urio_bufgroup_create(loop, 1, 64), n);
	ck_assert_int_eq(urio_bufgroup_create(loop, 1, 64), -ENOSPC);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(urio_bufgroup_destroy(loop, g[i]), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
}
END_TEST
