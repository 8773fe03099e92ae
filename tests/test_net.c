/* SPDX-License-Identifier: MIT */
/* test_net.c - sockets on the loop: echo over loopback with hundreds of
 * connections, sends completed in full against a slow reader, a peer that
 * resets, a deadline on a stalled recv, cancellation by fd and on destroy,
 * poll, connect refused, and the epoll-embedding path. */
#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)addr, sizeof(*addr)), 0);
	ck_assert_int_eq(listen(fd, 1024), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

static int tcp_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* ---- echo: every connection a small state machine on one loop ------- */

#define CONNS 300
#define MSG   64

struct echo;

/* One side of a connection.  Each of its three requests has its own
 * count: callbacks only record, the case asserts after the run. */
struct conn {
	struct echo *e;
	int fd;
	unsigned calls[3]; /* connect or accept, send, recv */
	int res[3];
	bool refused; /* a follow-up request was not accepted */
	char out[MSG], in[MSG];
};

struct echo {
	int lfd;
	unsigned accepted;
	struct conn cl[CONNS], sv[CONNS];
};

static void record(struct conn *c, int step, int res)
{
	c->calls[step]++;
	c->res[step] = res;
}

static void client_got_echo(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	record(c, 2, res);
}

static void client_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	record(c, 1, res);
	if (res == MSG &&
	    urio_recv(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      client_got_echo, c) <= 0)
		c->refused = true;
}

static void client_connected(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	record(c, 0, res);
	if (res == 0 &&
	    urio_send(loop, c->fd, c->out, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      client_sent, c) <= 0)
		c->refused = true;
}

static void server_sent(urio_loop *loop, int res, void *data)
{
	(void)loop;
	record(data, 1, res);
}

static void server_got(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	record(c, 2, res);
	if (res == MSG &&
	    urio_send(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      server_sent, c) <= 0)
		c->refused = true;
}

/* Accept k completes on server side k, which then asks for the next. */
static void accepted(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;
	struct echo *e = c->e;

	record(c, 0, res);
	if (res < 0)
		return;
	c->fd = res;
	if (urio_recv(loop, c->fd, c->in, MSG, 0, URIO_F_ALL | URIO_F_WAIT,
		      server_got, c) <= 0)
		c->refused = true;
	if (++e->accepted < CONNS &&
	    urio_accept(loop, e->lfd, NULL, NULL, URIO_F_WAIT, accepted,
			&e->sv[e->accepted]) <= 0)
		c->refused = true;
}

/* Each request of one side ran once: connect 0 (accept: an fd), then the
 * send and the receive of the whole message. */
static void assert_side(const struct conn *c, const char *side, unsigned i,
			bool accept)
{
	ck_assert_msg(!c->refused, "%s %u: a request was refused", side, i);
	for (int k = 0; k < 3; k++) {
		bool ok = k == 0 && accept ? c->res[k] >= 0
					   : c->res[k] == (k ? MSG : 0);

		ck_assert_msg(c->calls[k] == 1 && ok,
			      "%s %u, request %d: %u callbacks, result %d",
			      side, i, k, c->calls[k], c->res[k]);
	}
}

START_TEST(echo_over_loopback_with_hundreds_of_connections)
{
	struct sockaddr_in addr;
	struct echo *e = calloc(1, sizeof(*e));
	urio_loop *loop = new_loop(1024, 1, 0);

	e->lfd = listener(&addr);
	for (unsigned i = 0; i < CONNS; i++)
		e->sv[i].e = e->cl[i].e = e;
	ck_assert_int_gt(
		urio_accept(loop, e->lfd, NULL, NULL, 0, accepted, &e->sv[0]),
		0);
	for (unsigned i = 0; i < CONNS; i++) {
		e->cl[i].fd = tcp_socket();
		fill_pattern(e->cl[i].out, MSG, 77, i);
		ck_assert_int_gt(urio_connect(loop, e->cl[i].fd,
					      (struct sockaddr *)&addr,
					      sizeof(addr), URIO_F_WAIT,
					      client_connected, &e->cl[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(e->accepted, CONNS);
	for (unsigned i = 0; i < CONNS; i++) {
		assert_side(&e->cl[i], "client", i, false);
		ck_assert_msg(!memcmp(e->cl[i].in, e->cl[i].out, MSG),
			      "client %u: echo differs", i);
		assert_side(&e->sv[i], "server", i, true);
	}
	DESTROY_CLEAN(loop);
	for (unsigned i = 0; i < CONNS; i++) {
		close(e->cl[i].fd);
		close(e->sv[i].fd);
	}
	close(e->lfd);
	free(e);
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

/* Sends 8 MiB to a slow reader in one URIO_F_ALL request: a send, or a
 * sendmsg of 128 iovecs (more than one try of libaio's passes on), and
 * checks every byte. */
static void send_all_to_a_slow_reader(bool as_msg)
{
	enum { NIOV = 128, PART = 65536 };
	size_t len = (size_t)NIOV * PART;
	char *out = malloc(len);
	struct iovec *iov = calloc(NIOV, sizeof(*iov));
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = NIOV };
	struct slow_reader r = { .got = malloc(len) };
	struct req sd = { 0 };
	urio_loop *loop = new_loop(16, 1, 0);
	pthread_t th;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fill_pattern(out, len, 5, as_msg ? 3 : 8);
	for (int i = 0; i < NIOV; i++)
		iov[i] = (struct iovec){ out + (size_t)i * PART, PART };
	r.fd = sv[1];
	ck_assert_int_eq(pthread_create(&th, NULL, read_slowly, &r), 0);
	if (as_msg)
		ck_assert_int_gt(urio_sendmsg(loop, sv[0], &m, 0, URIO_F_ALL,
					      req_cb, &sd),
				 0);
	else
		ck_assert_int_gt(urio_send(loop, sv[0], out, len, 0, URIO_F_ALL,
					   req_cb, &sd),
				 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_req(sd, (int)len);
	ck_assert_uint_eq(r.total, len);
	ck_assert(memcmp(out, r.got, len) == 0);
	DESTROY_CLEAN(loop);
	close(sv[0]);
	close(sv[1]);
	free(out);
	free(iov);
	free(r.got);
}

START_TEST(send_of_8_mib_to_a_slow_reader_completes_in_full)
{
	send_all_to_a_slow_reader(false);
}
END_TEST

/* ---- a peer that resets ------------------------------------------------ */

START_TEST(peer_reset_mid_transfer_fails_its_requests_and_the_loop_goes_on)
{
	struct sockaddr_in addr;
	struct linger lg = { 1, 0 };
	struct req a = { 0 }, rv = { 0 }, more = { 0 }, a2 = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);
	int lfd = listener(&addr), c, s;
	char buf[4096];

	c = tcp_socket();
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, req_cb, &a), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(a.calls, 1);
	s = a.res;
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(write(c, "partial", 7), 7);
	/* Waits for 4096 bytes; gets 7, then the reset. */
	ck_assert_int_gt(urio_recv(loop, s, buf, sizeof(buf), 0, URIO_F_ALL,
				   req_cb, &rv),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
			 0);
	close(c); /* RST */
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	/* The reset, or the 7 bytes that came before it. */
	ck_assert_msg(rv.calls == 1 && (rv.res == -ECONNRESET || rv.res == 7),
		      "recv after reset: %u callbacks, %d", rv.calls, rv.res);
	ck_assert_int_gt(
		urio_send(loop, s, buf, sizeof(buf), 0, 0, req_cb, &more), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(more.calls == 1 &&
			      (more.res == -EPIPE || more.res == -ECONNRESET),
		      "send after reset: %u callbacks, %d", more.calls,
		      more.res);
	/* The loop serves the next connection. */
	c = tcp_socket();
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, req_cb, &a2), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(a2.calls, 1);
	ck_assert_int_ge(a2.res, 0);
	ck_assert_uint_eq(a.calls, 1);
	close(a2.res);
	close(c);
	close(s);
	close(lfd);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(pending_accept_is_cancelled_on_destroy)
{
	struct sockaddr_in addr;
	struct req a = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	int lfd = listener(&addr);

	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, req_cb, &a), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	/* Nobody connected: nothing but a cancel is possible. */
	ck_assert_req(a, -ECANCELED);
	close(lfd);
}
END_TEST

START_TEST(deadline_fires_on_a_stalled_recv)
{
	struct req r[3] = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	char buf[16];
	uint64_t t0;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 50000000), 0);
	t0 = now_ms();
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r[0]),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[0], -ETIMEDOUT);
	ck_assert_uint_ge(now_ms() - t0, 45);
	/* Data in time: the bytes, not a timeout. */
	ck_assert_int_eq(write(sv[1], "hi", 2), 2);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r[1]),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[1], 2);
	/* A user cancel stays a cancel. */
	ck_assert_int_eq(urio_loop_set_deadline(loop, 10ull * 1000000000u), 0);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r[2]),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[2], -ECANCELED);
	DESTROY_CLEAN(loop);
	ck_assert_req(r[0], -ETIMEDOUT);
	ck_assert_req(r[1], 2);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(cancel_by_fd_cancels_every_request_on_it)
{
	struct req r[3] = { 0 }, other = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	char b[3][8], o[8];
	int sv[2], sv2[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_gt(
			urio_recv(loop, sv[0], b[i], 8, 0, 0, req_cb, &r[i]),
			0);
	ck_assert_int_gt(urio_recv(loop, sv2[0], o, 8, 0, 0, req_cb, &other),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 3);
	ck_assert_int_eq(urio_cancel_fd(loop, -1), -EBADF);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 3);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 0);
	ck_assert_reqs(r, 3, -ECANCELED);
	ck_assert_uint_eq(other.calls, 0);
	ck_assert_int_eq(write(sv2[1], "x", 1), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(other, 1);
	DESTROY_CLEAN(loop);
	ck_assert_reqs(r, 3, -ECANCELED);
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}
END_TEST

START_TEST(poll_shutdown_close_and_refused_connect)
{
	struct sockaddr_in addr;
	struct req p = { 0 }, s = { 0 }, c = { 0 }, r = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	int sv[2], lfd, fd;
	char buf[4];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_gt(urio_poll(loop, sv[0], POLLIN, 0, req_cb, &p), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(write(sv[1], "ab", 2), 2);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	/* revents, not an errno (whose bits would pass a bit test). */
	ck_assert_uint_eq(p.calls, 1);
	ck_assert_int_gt(p.res, 0);
	ck_assert(p.res & POLLIN);
	ck_assert_int_gt(urio_shutdown(loop, sv[1], SHUT_WR, 0, req_cb, &s), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(s, 0);
	ck_assert_int_eq(read(sv[0], buf, sizeof(buf)), 2);
	ck_assert_int_eq(read(sv[0], buf, sizeof(buf)), 0); /* EOF */
	ck_assert_int_gt(urio_close(loop, sv[1], 0, req_cb, &c), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(c, 0);
	ck_assert_int_eq(urio_shutdown(loop, sv[0], 99, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_poll(loop, sv[0], 0, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_recv(loop, -1, buf, 4, 0, 0, req_cb, &never),
			 -EBADF);
	ck_assert_int_eq(urio_send(loop, sv[0], NULL, 4, 0, 0, req_cb, &never),
			 -EINVAL);
	/* Nobody listens on a port just closed: refused. */
	lfd = listener(&addr);
	close(lfd);
	fd = tcp_socket();
	ck_assert_int_gt(urio_connect(loop, fd, (struct sockaddr *)&addr,
				      sizeof(addr), 0, req_cb, &r),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, -ECONNREFUSED);
	close(fd);
	close(sv[0]);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	ck_assert_uint_eq(p.calls, 1);
}
END_TEST

/* ---- urio inside a server's own epoll loop ----------------------------- */

START_TEST(epoll_server_embeds_urio_for_its_sockets)
{
	struct sockaddr_in addr;
	struct epoll_event ev = { .events = EPOLLIN }, out[4];
	struct req rv = { 0 }, sd = { 0 };
	urio_loop *loop = new_loop(16, 2, 0);
	int lfd = listener(&addr), ep = epoll_create1(0), ufd, c, s = -1;
	char buf[5] = { 0 }, got[6] = { 0 };
	bool echoed = false;
	uint64_t t0 = now_ms();

	ck_assert_int_ge(ep, 0);
	ufd = urio_loop_fd(loop);
	ck_assert_int_ge(ufd, 0);
	ev.data.fd = ufd;
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, ufd, &ev), 0);
	ev.data.fd = lfd; /* the server's own accept path */
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev), 0);
	c = tcp_socket();
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_eq(write(c, "hello", 5), 5);
	while (!echoed && now_ms() - t0 < 5000) {
		int n = epoll_wait(ep, out, 4, 1000);

		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n; i++) {
			if (out[i].data.fd == lfd && s < 0) {
				s = accept(lfd, NULL, NULL);
				ck_assert_int_ge(s, 0);
				ck_assert_int_gt(urio_recv(loop, s, buf, 5, 0,
							   URIO_F_ALL, req_cb,
							   &rv),
						 0);
				ck_assert_int_ge(urio_loop_submit(loop), 0);
			} else if (out[i].data.fd == ufd) {
				ck_assert_int_ge(
					urio_loop_run(loop, URIO_RUN_NOWAIT),
					0);
				if (rv.calls == 1 && !sd.calls) {
					ck_assert_int_gt(urio_send(loop, s, buf,
								   5, 0,
								   URIO_F_ALL,
								   req_cb, &sd),
							 0);
					ck_assert_int_ge(urio_loop_submit(loop),
							 0);
				}
				echoed = sd.calls == 1;
			}
		}
	}
	ck_assert(echoed);
	ck_assert_req(rv, 5);
	ck_assert_req(sd, 5);
	ck_assert_int_eq(read(c, got, 5), 5);
	ck_assert_str_eq(got, "hello");
	close(c);
	close(s);
	close(lfd);
	close(ep);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(msg_flags_are_not_urio_flags)
{
	struct req peek = { 0 }, rd = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	char buf[16] = { 0 };
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "peekaboo", 8), 8);
	/* MSG_PEEK (2, as URIO_F_ALL is) looks without consuming. */
	ck_assert_int_gt(urio_recv(loop, sv[0], buf, sizeof(buf), MSG_PEEK, 0,
				   req_cb, &peek),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(peek, 8);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, 4, 0, URIO_F_ALL, req_cb, &rd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rd, 4);
	ck_assert_mem_eq(buf, "peek", 4);
	/* Flags that are neither: refused before anything is queued. */
	ck_assert_int_eq(
		urio_recv(loop, sv[0], buf, 4, MSG_MORE, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(
		urio_send(loop, sv[0], buf, 4, MSG_PEEK, 0, req_cb, &never),
		-EINVAL);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	ck_assert_req(peek, 8);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- what a backend without socket ops must build (libaio) ----------- */

/* Writes data a piece at a time, pausing between pieces, so that the
 * reader's URIO_F_ALL request sees it arrive in several parts. */
struct dribble {
	int fd;
	const char *data;
	size_t len, piece;
};

static void *dribble(void *arg)
{
	struct dribble *d = arg;
	struct timespec pause = { 0, 3000000 };

	for (size_t at = 0; at < d->len; at += d->piece) {
		size_t n = d->len - at < d->piece ? d->len - at : d->piece;

		if (write(d->fd, d->data + at, n) != (ssize_t)n)
			break;
		nanosleep(&pause, NULL);
	}
	return NULL;
}

START_TEST(recv_all_that_arrives_in_pieces_completes_once_in_full)
{
	char out[4096], in[4096] = { 0 }, a[1000], b[1], c[3095];
	struct iovec iov[3] = { { a, sizeof(a) }, { b, 1 }, { c, sizeof(c) } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };
	struct dribble d = { .data = out, .len = sizeof(out), .piece = 700 };
	struct req r[3] = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	pthread_t th;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fill_pattern(out, sizeof(out), 9, 1);
	d.fd = sv[1];
	ck_assert_int_gt(urio_recv(loop, sv[0], in, sizeof(in), 0, URIO_F_ALL,
				   req_cb, &r[0]),
			 0);
	ck_assert_int_eq(pthread_create(&th, NULL, dribble, &d), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_req(r[0], (int)sizeof(in));
	ck_assert(memcmp(in, out, sizeof(out)) == 0);
	/* The same through recvmsg, pieces ending inside and across iovecs. */
	ck_assert_int_gt(
		urio_recvmsg(loop, sv[0], &m, 0, URIO_F_ALL, req_cb, &r[1]), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, dribble, &d), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_req(r[1], (int)sizeof(out));
	ck_assert(memcmp(a, out, sizeof(a)) == 0);
	ck_assert(memcmp(b, out + sizeof(a), 1) == 0);
	ck_assert(memcmp(c, out + sizeof(a) + 1, sizeof(c)) == 0);
	/* EOF part-way: the bytes that came. */
	ck_assert_int_eq(write(sv[1], out, 100), 100);
	ck_assert_int_gt(urio_recv(loop, sv[0], in, sizeof(in), 0, URIO_F_ALL,
				   req_cb, &r[2]),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(shutdown(sv[1], SHUT_WR), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[2], 100);
	DESTROY_CLEAN(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(sendmsg_all_of_many_iovecs_to_a_slow_reader_arrives_in_order)
{
	send_all_to_a_slow_reader(true);
}
END_TEST

START_TEST(deadline_ends_idle_accept_and_poll_and_keeps_partial_bytes)
{
	struct sockaddr_in addr, peer;
	socklen_t plen = sizeof(peer);
	struct req a = { 0 }, p = { 0 }, rv = { 0 }, a2 = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	int lfd = listener(&addr), sv[2], c;
	char buf[4096];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 30000000), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, req_cb, &a), 0);
	ck_assert_int_gt(urio_poll(loop, sv[0], POLLIN, 0, req_cb, &p), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(a, -ETIMEDOUT);
	ck_assert_req(p, -ETIMEDOUT);
	/* A URIO_F_ALL recv that got 7 of 4096 bytes when its deadline
	 * fired returns those 7 (io_uring does the same): nothing read is
	 * lost. */
	ck_assert_int_eq(write(sv[1], "partial", 7), 7);
	ck_assert_int_gt(urio_recv(loop, sv[0], buf, sizeof(buf), 0, URIO_F_ALL,
				   req_cb, &rv),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rv, 7);
	ck_assert_mem_eq(buf, "partial", 7);
	/* The listener still serves, and says who connected. */
	c = tcp_socket();
	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, (struct sockaddr *)&peer, &plen,
				     0, req_cb, &a2),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(a2.calls, 1);
	ck_assert_int_ge(a2.res, 0);
	ck_assert_uint_eq(plen, sizeof(peer));
	ck_assert_uint_eq(peer.sin_family, AF_INET);
	ck_assert_uint_eq(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	close(a2.res);
	close(c);
	DESTROY_CLEAN(loop);
	close(lfd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Fills fd's send buffer: a send on it now waits for the peer. */
static void fill_socket(int fd)
{
	static char junk[65536];

	while (send(fd, junk, sizeof(junk), MSG_DONTWAIT) > 0)
		;
	ck_assert_int_eq(errno, EAGAIN);
}

static unsigned calls_of(const struct req *r, unsigned n)
{
	unsigned calls = 0;

	for (unsigned i = 0; i < n; i++)
		calls += r[i].calls;
	return calls;
}

START_TEST(cancel_fd_with_polls_outstanding_takes_no_data)
{
	struct req r[5] = { 0 }, late = { 0 }, first = { 0 }, second = { 0 },
		   cn = { 0 };
	urio_loop *loop = new_loop(16, 1, 0);
	char b[3][8], big[4096] = { 0 }, z[4];
	urio_id id;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fill_socket(sv[0]);
	/* Three recvs (two with a deadline), a poll and a send that waits
	 * for room, all on sv[0]. */
	ck_assert_int_gt(urio_recv(loop, sv[0], b[0], 8, 0, 0, req_cb, &r[0]),
			 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 10ull * 1000000000u), 0);
	for (int i = 1; i < 3; i++)
		ck_assert_int_gt(
			urio_recv(loop, sv[0], b[i], 8, 0, 0, req_cb, &r[i]),
			0);
	ck_assert_int_gt(urio_poll(loop, sv[0], POLLIN, 0, req_cb, &r[3]), 0);
	ck_assert_int_gt(urio_send(loop, sv[0], big, sizeof(big), 0, URIO_F_ALL,
				   req_cb, &r[4]),
			 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 0), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 5);
	while (calls_of(r, 5) < 5)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_reqs(r, 5, -ECANCELED);
	ck_assert_int_eq(urio_cancel_fd(loop, sv[0]), 0);
	/* The cancelled requests took nothing from the socket. */
	ck_assert_int_eq(write(sv[1], "zyx", 3), 3);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], z, sizeof(z), 0, 0, req_cb, &late), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(late, 3);
	ck_assert_mem_eq(z, "zyx", 3);
	/* Cancelling one request leaves the other on its fd. */
	id = urio_recv(loop, sv[0], b[0], 8, 0, 0, req_cb, &first);
	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(urio_recv(loop, sv[0], b[1], 8, 0, 0, req_cb, &second),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	while (cn.calls + first.calls < 2)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_req(cn, 0);
	ck_assert_req(first, -ECANCELED);
	ck_assert_uint_eq(second.calls, 0);
	ck_assert_int_eq(write(sv[1], "q", 1), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(second, 1);
	DESTROY_CLEAN(loop);
	ck_assert_reqs(r, 5, -ECANCELED);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(peer_reset_during_a_send_all_returns_what_was_sent)
{
	struct sockaddr_in addr;
	struct linger lg = { 1, 0 };
	struct req a = { 0 }, sd = { 0 };
	size_t len = 16u << 20;
	char *out = calloc(1, len), got[65536];
	urio_loop *loop = new_loop(8, 1, 0);
	int lfd = listener(&addr), c = tcp_socket(), s;
	ssize_t n;

	ck_assert_int_eq(connect(c, (struct sockaddr *)&addr, sizeof(addr)), 0);
	ck_assert_int_gt(urio_accept(loop, lfd, NULL, NULL, 0, req_cb, &a), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(a.calls, 1);
	s = a.res;
	ck_assert_int_ge(s, 0);
	ck_assert_int_gt(
		urio_send(loop, s, out, len, 0, URIO_F_ALL, req_cb, &sd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	n = read(c, got, sizeof(got));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)),
			 0);
	close(c); /* RST, with most of 16 MiB still to send */
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	/* What went out before the reset, as io_uring reports it. */
	ck_assert_msg(sd.calls == 1 && sd.res >= n && (size_t)sd.res < len,
		      "send after reset: %u callbacks, %d", sd.calls, sd.res);
	close(s);
	close(lfd);
	DESTROY_CLEAN(loop);
	free(out);
}
END_TEST

START_TEST(destroy_with_polls_outstanding_cancels_each_once_and_keeps_fds)
{
	struct sockaddr_in addr;
	struct req r[10] = { 0 };
	urio_loop *loop = new_loop(32, 1, 0);
	int lfd = listener(&addr), sv[2], sv2[2];
	char b[4][16], big[4096] = { 0 };
	struct req *next = r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv2), 0);
	fill_socket(sv2[0]);
	for (int d = 0; d < 2; d++) {
		/* Without, then with, a deadline far away. */
		ck_assert_int_eq(urio_loop_set_deadline(
					 loop, d ? 60ull * 1000000000u : 0),
				 0);
		ck_assert_int_gt(
			urio_accept(loop, lfd, NULL, NULL, 0, req_cb, next++),
			0);
		ck_assert_int_gt(urio_recv(loop, sv[0], b[2 * d], 16, 0,
					   URIO_F_ALL, req_cb, next++),
				 0);
		ck_assert_int_gt(urio_recv(loop, sv[1], b[2 * d + 1], 16, 0, 0,
					   req_cb, next++),
				 0);
		ck_assert_int_gt(
			urio_poll(loop, sv[0], POLLIN, 0, req_cb, next++), 0);
		ck_assert_int_gt(urio_send(loop, sv2[0], big, sizeof(big), 0, 0,
					   req_cb, next++),
				 0);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_reqs(r, 10, -ECANCELED);
	/* The sockets are the caller's: still open. */
	ck_assert_int_ge(fcntl(lfd, F_GETFD), 0);
	ck_assert_int_ge(fcntl(sv[0], F_GETFD), 0);
	ck_assert_int_ge(fcntl(sv2[0], F_GETFD), 0);
	close(lfd);
	close(sv[0]);
	close(sv[1]);
	close(sv2[0]);
	close(sv2[1]);
}
END_TEST

struct kicker {
	pthread_t target;
	int sig;
};

static void *kick(void *arg)
{
	struct kicker *k = arg;
	struct timespec pause = { 0, 30000000 };

	nanosleep(&pause, NULL);
	pthread_kill(k->target, k->sig);
	return NULL;
}

/* urio-httpd stops on SIGTERM through a poll on a signalfd.  A signalfd is
 * readable for the task that polls it, which libaio's kernel-side poll is
 * not: there the loop watches it itself. */
START_TEST(poll_on_a_signalfd_sees_the_signal)
{
	struct kicker k = { pthread_self(), SIGUSR2 };
	struct req p[3] = { 0 }, q = { 0 };
	struct signalfd_siginfo si;
	sigset_t set, old;
	urio_loop *loop = new_loop(8, 1, 0);
	pthread_t th;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	ck_assert_int_ge(sfd, 0);
	/* With a deadline that does not fire first. */
	ck_assert_int_eq(urio_loop_set_deadline(loop, 5ull * 1000000000u), 0);
	ck_assert_int_gt(urio_poll(loop, sfd, POLLIN, 0, req_cb, &p[0]), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, kick, &k), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_req(p[0], POLLIN);
	/* Still pending: the next poll sees it at once. */
	ck_assert_int_gt(urio_poll(loop, sfd, POLLIN, 0, req_cb, &p[1]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(p[1], POLLIN);
	ck_assert_int_eq(read(sfd, &si, sizeof(si)), (ssize_t)sizeof(si));
	ck_assert_uint_eq(si.ssi_signo, SIGUSR2);
	/* Read: a poll waits again, until its deadline or a cancel. */
	ck_assert_int_eq(urio_loop_set_deadline(loop, 20000000), 0);
	ck_assert_int_gt(urio_poll(loop, sfd, POLLIN, 0, req_cb, &p[2]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(p[2], -ETIMEDOUT);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 0), 0);
	ck_assert_int_gt(urio_poll(loop, sfd, POLLIN, 0, req_cb, &q), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_int_eq(urio_cancel_fd(loop, sfd), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(q, -ECANCELED);
	DESTROY_CLEAN(loop);
	close(sfd);
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
}
END_TEST
