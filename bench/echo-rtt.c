/* SPDX-License-Identifier: MIT */
/* echo-rtt - echo round trips per second over loopback TCP, both ends on
 * one urio loop: what a socket request costs on a backend.
 *   echo-rtt uring|aio [CONNS] [SECONDS] [MSG_BYTES] [DEADLINE_MS]
 * Each connection's client sends MSG_BYTES (URIO_F_ALL), the server end
 * receives them and sends them back, the client receives them: one round
 * trip, then the next.  DEADLINE_MS > 0 puts the loop's deadline on every
 * request.  Prints one JSON line. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "urio.h"

struct end {
	struct bench *b;
	int fd;
	bool server;
	char buf[4096];
};

struct bench {
	size_t msg;
	uint64_t trips, errors;
	bool stop;
};

static void got(urio_loop *loop, int res, void *data);

static void sent(urio_loop *loop, int res, void *data)
{
	struct end *e = data;

	if (res != (int)e->b->msg) {
		e->b->errors++;
		return;
	}
	if (e->server || !e->b->stop)
		if (urio_recv(loop, e->fd, e->buf, e->b->msg, 0, URIO_F_ALL,
			      got, e) < 0)
			e->b->errors++;
}

static void got(urio_loop *loop, int res, void *data)
{
	struct end *e = data;

	if (res != (int)e->b->msg) {
		/* The other end went away at the end of the run: 0 (EOF). */
		if (res != 0)
			e->b->errors++;
		return;
	}
	if (!e->server) {
		e->b->trips++;
		if (e->b->stop)
			return;
	}
	if (urio_send(loop, e->fd, e->buf, e->b->msg, 0, URIO_F_ALL, sent, e) <
	    0)
		e->b->errors++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connected TCP pair over 127.0.0.1. */
static int tcp_pair(int lfd, const struct sockaddr_in *addr, int *c, int *s)
{
	int one = 1;

	*c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*c < 0 || connect(*c, (const struct sockaddr *)addr, sizeof(*addr)))
		return -1;
	*s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*s < 0)
		return -1;
	setsockopt(*c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int main(int argc, char **argv)
{
	struct urio_loop_opts o = { .size = sizeof(o), .entries = 256 };
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct bench b = { 0 };
	unsigned conns = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
	double secs = argc > 3 ? atof(argv[3]) : 2, t0, t1;
	uint64_t trips;
	long deadline_ms = argc > 5 ? atol(argv[5]) : 0;
	struct end *ends;
	urio_loop *loop;
	int lfd, ret;

	b.msg = argc > 4 ? (size_t)atol(argv[4]) : 64;
	if (argc < 2 || (strcmp(argv[1], "uring") && strcmp(argv[1], "aio")) ||
	    !conns || conns > 4096 || !b.msg || b.msg > sizeof(ends->buf)) {
		fprintf(stderr, "usage: echo-rtt uring|aio [CONNS] [SECONDS] "
				"[MSG_BYTES<=4096] [DEADLINE_MS]\n");
		return 2;
	}
	o.backend =
		strcmp(argv[1], "aio") ? URIO_BACKEND_URING : URIO_BACKEND_AIO;
	o.flags = URIO_LOOP_QUIET;
	if (conns * 4 > o.entries)
		o.entries = conns * 4;
	ret = urio_loop_create(&loop, &o);
	if (ret < 0) {
		fprintf(stderr, "echo-rtt: %s\n", urio_strerror(ret));
		return 1;
	}
	if (deadline_ms)
		urio_loop_set_deadline(loop, (uint64_t)deadline_ms * 1000000u);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) ||
	    listen(lfd, 4096) ||
	    getsockname(lfd, (struct sockaddr *)&addr, &alen)) {
		perror("echo-rtt: listen");
		return 1;
	}
	ends = calloc(2 * (size_t)conns, sizeof(*ends));
	for (unsigned i = 0; i < conns; i++) {
		struct end *c = &ends[2 * i], *s = c + 1;

		if (tcp_pair(lfd, &addr, &c->fd, &s->fd)) {
			perror("echo-rtt: connect");
			return 1;
		}
		c->b = s->b = &b;
		s->server = true;
		memset(c->buf, 'x', b.msg);
		urio_recv(loop, s->fd, s->buf, b.msg, 0, URIO_F_ALL, got, s);
		urio_send(loop, c->fd, c->buf, b.msg, 0, URIO_F_ALL, sent, c);
	}
	t0 = now();
	do {
		ret = urio_loop_run(loop, URIO_RUN_ONCE);
	} while (ret >= 0 && now() - t0 < secs);
	t1 = now();
	trips = b.trips;
	b.stop = true;
	/* The clients stop; their last round trips finish, then the
	 * servers see EOF. */
	for (unsigned i = 0; i < conns; i++)
		shutdown(ends[2 * i].fd, SHUT_WR);
	urio_loop_run(loop, URIO_RUN_DEFAULT);
	printf("{\"backend\": \"%s\", \"conns\": %u, \"msg\": %zu, "
	       "\"deadline_ms\": %ld, \"rtt_per_sec\": %.0f, \"errors\": "
	       "%llu}\n",
	       argv[1], conns, b.msg, deadline_ms, (double)trips / (t1 - t0),
	       (unsigned long long)b.errors);
	urio_loop_destroy(loop);
	for (unsigned i = 0; i < 2 * conns; i++)
		close(ends[i].fd);
	close(lfd);
	free(ends);
	return b.errors ? 1 : 0;
}
