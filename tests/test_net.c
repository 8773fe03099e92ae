/* SPDX-License-Identifier: MIT */
/* test_net.c - sockets on the loop: echo over loopback with hundreds of
 * connections, sends completed in full against a slow reader, a peer that
 * resets, a deadline on a stalled recv, cancellation by fd and on destroy,
 * poll, connect refused, and the epoll-embedding path. */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	ck_assert_int_eq(listen(fd, 1024), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- echo: every connection a small state machine on one loop ------- */

#define CONNS 300
#define MSG   64

struct echo {
	urio_loop *loop;
	int lfd;
	unsigned accepted, echoed, verified, errors;
};

struct conn {
	struct echo *e;
	int fd;
	bool server;
	char out[MSG], in[MSG];
};

static void client_got_echo(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res == MSG && !memcmp(c->in, c->out, MSG))
		c->e->verified++;
	else
		c->e->errors++;
	close(c->fd);
}

static void client_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	if (res != MSG ||
	    urio_recv(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      client_got_echo, c) < 0)
		c->e->errors++;
}

static void client_connected(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	if (res != 0 || urio_send(loop, c->fd, c->out, MSG, 0,
				  URIO_F_ALL | URIO_F_WAIT, client_sent, c) < 0)
		c->e->errors++;
}

static void server_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res == MSG)
		c->e->echoed++;
	else
		c->e->errors++;
	close(c->fd);
	free(c);
}

static void server_got(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	if (res != MSG ||
	    urio_send(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      server_sent, c) < 0)
		c->e->errors++;
}

static void accepted(urio_loop *loop, int res, void *data)
{
	struct echo *e = data;
	struct conn *c;

	if (res < 0) {
		e->errors++;
		return;
	}
	c = calloc(1, sizeof(*c));
	c->e = e;
	c->fd = res;
	c->server = true;
	if (urio_recv(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      server_got, c) < 0)
		e->errors++;
	if (++e->accepted < CONNS &&
	    urio_accept(loop, e->lfd, NULL, NULL, URIO_F_WAIT, accepted, e) < 0)
		e->errors++;
}

START_TEST(echo_over_loopback_with_hundreds_of_connections)
{
	struct sockaddr_in addr;
	struct echo e = { 0 };
	struct conn *cl = calloc(CONNS, sizeof(*cl));

	e.loop = new_loop(1024, 1, 0);
	e.lfd = listener(&addr);
	ck_assert_int_gt(
		urio_accept(e.loop, e.lfd, NULL, NULL, 0, accepted, &e), 0);
	for (unsigned i = 0; i < CONNS; i++) {
		cl[i].e = &e;
		cl[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		fill_pattern(cl[i].out, MSG, 77, i);
		ck_assert_int_gt(urio_connect(e.loop, cl[i].fd,
					      (struct sockaddr *)&addr,
					      sizeof(addr), URIO_F_WAIT,
					      client_connected, &cl[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(e.loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(e.errors, 0);
	ck_assert_uint_eq(e.accepted, CONNS);
	ck_assert_uint_eq(e.echoed, CONNS);
	ck_assert_uint_eq(e.verified, CONNS);
	urio_loop_destroy(e.loop);
	close(e.lfd);
	free(cl);
}
END_TEST

/* ---- partial sends ---------------------------------------------------- */

struct slow_reader {
	int fd;
	size_t total;
	char *got;
};

static void *read_slowly(void *arg)
{
	struct slow_reader *r = arg;
	struct timespec pause = { 0, 2000000 };
	ssize_t n;

	while (r->total < (8u << 20) &&
	       (n = read(r->fd, r->got + r->total, 65536)) > 0) {
		r->total += (size_t)n;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

START_TEST(send_of_8_mib_to_a_slow_reader_completes_in_full)
{
	size_t len = 8u << 20;
	char *out = malloc(len);
	struct slow_reader r = { .got = malloc(len) };
	struct tally t = { 0 };
	urio_loop *loop = new_loop(16, 1, 0);
	pthread_t th;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fill_pattern(out, len, 5, 8);
	r.fd = sv[1];
	pthread_create(&th, NULL, read_slowly, &r);
	ck_assert_int_gt(
		urio_send(loop, sv[0], out, len, 0, URIO_F_ALL, tally_cb, &t),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(t.last, (int)len);
	ck_assert_uint_eq(r.total, len);
	ck_assert(memcmp(out, r.got, len) == 0);
	urio_loop_destroy(loop);
	close(sv[0]);
	close(sv[1]);
	free(out);
	free(r.got);
}
END_TEST

/* ---- a peer that resets ------------------------------------------------ */

START_TEST(peer_reset_mid_transfer_fails_its_requests_and_the_loop_goes_on)
{
	struct sockaddr_in addr;
	struct linger lg = { 1, 0 };
	struct tally a = { 0 }, rv = { 0 }, more = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);
	int lfd = listener(&addr), c, s;
	char buf[4096];

	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, tally_cb, &a),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	s = a.last;
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(write(c, "partial", 7), 7);
	/* Waits for 4096 bytes; gets 7, then the reset. */
	ck_assert_int_gt(urio_recv(loop, s, buf, sizeof(buf), 0, URIO_F_ALL,
				   tally_cb, &rv),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c); /* RST */
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(rv.last == -ECONNRESET || rv.last == 7,
		      "recv after reset: %d", rv.last);
	ck_assert_int_gt(
		urio_send(loop, s, buf, sizeof(buf), 0, 0, tally_cb, &more), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(more.last == -EPIPE || more.last == -ECONNRESET,
		      "send after reset: %d", more.last);
	/* The loop serves the next connection. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, tally_cb, &a),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_ge(a.last, 0);
	close(a.last);
	close(c);
	close(s);
	close(lfd);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(pending_accept_is_cancelled_on_destroy)
{
	struct sockaddr_in addr;
	struct tally a = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	int lfd = listener(&addr);

	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, tally_cb, &a),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(a.calls, 1);
	ck_assert_int_eq(a.last, -ECANCELED);
	close(lfd);
}
END_TEST

START_TEST(deadline_fires_on_a_stalled_recv)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	char buf[16];
	uint64_t t0;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 50000000), 0);
	t0 = now_ms();
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, tally_cb, &t),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, -ETIMEDOUT);
	ck_assert_uint_ge(now_ms() - t0, 45);
	/* Data in time: the bytes, not a timeout. */
	ck_assert_int_eq(write(sv[1], "hi", 2), 2);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, tally_cb, &t),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, 2);
	/* A user cancel stays a cancel. */
	ck_assert_int_eq(urio_loop_set_deadline(loop, 10ull * 1000000000u), 0);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, tally_cb, &t),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, -ECANCELED);
	ck_assert_uint_eq(t.calls, 3);
	urio_loop_destroy(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(cancel_by_fd_cancels_every_request_on_it)
{
	struct tally t = { 0 }, other = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	char b[3][8], o[8];
	int sv[2], sv2[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_gt(
			urio_recv(loop, sv[0], b[i], 8, 0, 0, tally_cb, &t), 0);
	ck_assert_int_gt(urio_recv(loop, sv2[0], o, 8, 0, 0, tally_cb, &other),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 3);
	ck_assert_int_eq(urio_cancel_fd(loop, -1), -EBADF);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 3);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 0);
	ck_assert_uint_eq(t.calls, 3);
	ck_assert_uint_eq(t.errors, 3);
	ck_assert_uint_eq(other.calls, 0);
	ck_assert_int_eq(write(sv2[1], "x", 1), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(other.last, 1);
	urio_loop_destroy(loop);
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}
END_TEST

START_TEST(poll_shutdown_close_and_refused_connect)
{
	struct sockaddr_in addr;
	struct tally p = { 0 }, s = { 0 }, c = { 0 }, r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	int sv[2], lfd, fd;
	char buf[4];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_gt(urio_poll(loop, sv[0], POLLIN, 0, tally_cb, &p), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(write(sv[1], "ab", 2), 2);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert(p.last & POLLIN);
	ck_assert_int_gt(urio_shutdown(loop, sv[1], SHUT_WR, 0, tally_cb, &s),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(s.last, 0);
	ck_assert_int_eq(read(sv[0], buf, sizeof(buf)), 2);
	ck_assert_int_eq(read(sv[0], buf, sizeof(buf)), 0); /* EOF */
	ck_assert_int_gt(urio_close(loop, sv[1], 0, tally_cb, &c), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(c.last, 0);
	ck_assert_int_eq(urio_shutdown(loop, sv[0], 99, 0, tally_cb, &s),
			 -EINVAL);
	ck_assert_int_eq(urio_poll(loop, sv[0], 0, 0, tally_cb, &p), -EINVAL);
	ck_assert_int_eq(urio_recv(loop, -1, buf, 4, 0, 0, tally_cb, &r),
			 -EBADF);
	ck_assert_int_eq(urio_send(loop, sv[0], NULL, 4, 0, 0, tally_cb, &r),
			 -EINVAL);
	/* Nobody listens on a port just closed: refused. */
	lfd = listener(&addr);
	close(lfd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_gt(urio_connect(loop, fd, (struct sockaddr *)&addr,
				      sizeof(addr), 0, tally_cb, &r),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(r.last, -ECONNREFUSED);
	close(fd);
	close(sv[0]);
	urio_loop_destroy(loop);
}
END_TEST

/* ---- urio inside a server's own epoll loop ----------------------------- */

START_TEST(epoll_server_embeds_urio_for_its_sockets)
{
	struct sockaddr_in addr;
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	struct tally rv = { 0 }, sd = { 0 };
	urio_loop *loop = new_loop(16, 2, 0);
	int lfd = listener(&addr), ep = epoll_create1(0), ufd, c, s = -1;
	char buf[5] = { 0 }, got[6] = { 0 };
	bool echoed = false;
	uint64_t t0 = now_ms();

	ufd = urio_loop_fd(loop);
	ev.data.fd = ufd;
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev), 0);
	ev.data.fd = lfd; /* the server's own accept path */
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(write(c, "hello", 5), 5);
	while (!echoed && now_ms() - t0 < 5000) {
		int n = epoll_wait(ep, out, 4, 1000);

		for (int i = 0; i < n; i++) {
			if (out[i].data.fd == lfd && s < 0) {
				s = accept(lfd, NULL, NULL);
				ck_assert_int_gt(urio_recv(loop, s, buf, 5, 0,
							   URIO_F_ALL, tally_cb,
							   &rv),
						 0);
				urio_loop_submit(loop);
			} else if (out[i].data.fd == ufd) {
				urio_loop_run(loop, URIO_RUN_NOWAIT);
				if (rv.calls == 1 && !sd.calls) {
					ck_assert_int_gt(
						urio_send(loop, s, buf, 5, 0,
							  URIO_F_ALL, tally_cb,
							  &sd),
						0);
					urio_loop_submit(loop);
				}
				echoed = sd.calls == 1;
			}
		}
	}
	ck_assert(echoed);
	ck_assert_int_eq(rv.last, 5);
	ck_assert_int_eq(sd.last, 5);
	ck_assert_int_eq(read(c, got, 5), 5);
	ck_assert_str_eq(got, "hello");
	close(c);
	close(s);
	close(lfd);
	close(ep);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(msg_flags_are_not_urio_flags)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	char buf[16] = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "peekaboo", 8), 8);
	/* MSG_PEEK (2, as URIO_F_ALL is) looks without consuming. */
	ck_assert_int_gt(urio_recv(loop, sv[0], buf, sizeof(buf), MSG_PEEK, 0,
				   tally_cb, &t),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, 8);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, 4, 0, URIO_F_ALL, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, 4);
	ck_assert_mem_eq(buf, "peek", 4);
	/* Flags that are neither: refused before anything is queued. */
	ck_assert_int_eq(
		urio_recv(loop, sv[0], buf, 4, MSG_MORE, 0, tally_cb, &t),
		-EINVAL);
	ck_assert_int_eq(
		urio_send(loop, sv[0], buf, 4, MSG_PEEK, 0, tally_cb, &t),
		-EINVAL);
	ck_assert_uint_eq(t.calls, 2);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static Suite *suite(void)
{
	Suite *su = suite_create("net");
	TCase *tc = tcase_create("net");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, echo_over_loopback_with_hundreds_of_connections);
	tcase_add_test(tc, send_of_8_mib_to_a_slow_reader_completes_in_full);
	tcase_add_test(
		tc,
		peer_reset_mid_transfer_fails_its_requests_and_the_loop_goes_on);
	tcase_add_test(tc, pending_accept_is_cancelled_on_destroy);
	tcase_add_test(tc, deadline_fires_on_a_stalled_recv);
	tcase_add_test(tc, cancel_by_fd_cancels_every_request_on_it);
	tcase_add_test(tc, poll_shutdown_close_and_refused_connect);
	tcase_add_test(tc, epoll_server_embeds_urio_for_its_sockets);
	tcase_add_test(tc, msg_flags_are_not_urio_flags);
	suite_add_tcase(su, tc);
	return su;
}

URIO_TEST_MAIN(suite)
