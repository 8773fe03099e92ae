/* SPDX-License-Identifier: MIT */
/* epoll-echo.c - urio inside a program that already has its own event loop.
 *
 * The program owns an epoll set: a signalfd (SIGINT or SIGTERM ends it) and
 * the fd urio_loop_fd() hands out.  urio does the socket I/O of a TCP echo
 * server (accept, recv, send); when its fd turns readable, one
 * urio_loop_run(URIO_RUN_NOWAIT) runs the callbacks that are ready.
 *
 *   epoll-echo [PORT]    (none or 0: any free port; the port is printed) */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <urio.h>

struct conn {
	int fd;
	char buf[4096];
};

static bool stopping;
static int listen_fd;

static void on_recv(urio_loop *loop, int res, void *data);

static void conn_end(struct conn *c)
{
	close(c->fd); /* plain close(2): nothing is in flight on c->fd now */
	free(c);
}

/* Every callback checks res first: urio_loop_destroy() runs the callbacks
 * of what is still in flight with -ECANCELED, and those must not submit. */
static void on_send(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	if (res < 0 || stopping ||
	    urio_recv(loop, c->fd, c->buf, sizeof(c->buf), 0, 0, on_recv, c) <
		    0)
		conn_end(c);
}

static void on_recv(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	/* 0: the peer closed; URIO_F_ALL: the kernel sends all res bytes. */
	if (res <= 0 || stopping ||
	    urio_send(loop, c->fd, c->buf, (size_t)res, 0, URIO_F_ALL, on_send,
		      c) < 0)
		conn_end(c);
}

static void on_accept(urio_loop *loop, int res, void *data)
{
	struct conn *c;
	urio_id id;

	(void)data;
	if (res >= 0 && (stopping || !(c = malloc(sizeof(*c))))) {
		close(res);
	} else if (res >= 0) {
		c->fd = res;
		on_send(loop, 0, c); /* as if a send finished: receive */
	} else if (res != -ECANCELED) {
		fprintf(stderr, "accept: %s\n", urio_strerror(res));
	}
	if (stopping)
		return;
	/* One accept in flight at a time: the next one now. */
	id = urio_accept(loop, listen_fd, NULL, NULL, 0, on_accept, NULL);
	if (id < 0)
		fprintf(stderr, "accept: %s\n", urio_strerror((int)id));
}

static int listen_on(unsigned port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("listen");
		exit(1);
	}
	printf("listening on 127.0.0.1:%u\n", ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

/* The foreign loop: whatever the program waited on before urio came. */
static int serve(urio_loop *loop, int sig_fd, int urio_fd)
{
	struct epoll_event ev[8], add = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC), n, ret;

	add.data.fd = sig_fd;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sig_fd, &add) < 0)
		return -errno;
	add.data.fd = urio_fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, urio_fd, &add) < 0)
		return -errno;
	while (!stopping) {
		/* Requests made outside urio_loop_run() are only prepared:
		 * hand them to the kernel before sleeping. */
		ret = urio_loop_submit(loop);
		if (ret < 0)
			return ret;
		n = epoll_wait(ep, ev, 8, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == sig_fd) {
				stopping = true;
			} else {
				ret = urio_loop_run(loop, URIO_RUN_NOWAIT);
				if (ret < 0)
					return ret;
			}
		}
	}
	close(ep);
	return 0;
}

int main(int argc, char **argv)
{
	struct urio_loop_opts opts = { .size = sizeof(opts) };
	urio_loop *loop;
	sigset_t sigs;
	int sig_fd, urio_fd, ret;
	urio_id id;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	listen_fd = listen_on(argc > 1 ? (unsigned)atoi(argv[1]) : 0);

	ret = urio_loop_create(&loop, &opts);
	if (ret < 0) {
		fprintf(stderr, "urio_loop_create: %s\n", urio_strerror(ret));
		return 1;
	}
	urio_fd = urio_loop_fd(loop);
	id = urio_accept(loop, listen_fd, NULL, NULL, 0, on_accept, NULL);
	ret = urio_fd < 0 ? urio_fd : id < 0 ? (int)id : 0;
	if (ret == 0)
		ret = serve(loop, sig_fd, urio_fd);
	if (ret < 0)
		fprintf(stderr, "epoll-echo: %s\n", urio_strerror(ret));
	/* Cancels the accept and the receives; their callbacks clean up. */
	stopping = true;
	urio_loop_destroy(loop);
	close(listen_fd);
	return ret < 0;
}
