/* SPDX-License-Identifier: MIT */
/* urio-httpd - a small HTTP/1.1 static file server whose network and file
 * I/O go through urio: one loop per thread, each with its own SO_REUSEPORT
 * listener.  GET and HEAD, keep-alive, Content-Length, 404 for a missing
 * file, 400 for a malformed request, nothing outside the root.  A
 * benchmark and an example of embedding, not a web server product.
 *   urio-httpd --root DIR [--port 8080] [--threads 1] [--bind 127.0.0.1] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "urio.h"

#define REQ_MAX	   8192	 /* a request head larger than this: 400 */
#define BODY_CHUNK 65536 /* files are sent in chunks of this */

struct server {
	int root;
	const char *bind;
	unsigned port;
};

struct worker {
	const struct server *srv;
	unsigned idx;
	int lfd;
	urio_loop *loop;
	pthread_t th;
};

struct conn {
	struct worker *w;
	int fd;
	int file;	    /* the file being sent, or -1 */
	uint64_t off, left; /* of the file still to send */
	bool keep_alive, head_only;
	size_t have; /* bytes in req */
	size_t used; /* of them, the request being answered */
	char req[REQ_MAX];
	char hdr[256];
	size_t hdr_len;
	char body[BODY_CHUNK];
	struct iovec iov[2];
	struct msghdr msg;
};

static void on_recv(urio_loop *loop, int res, void *data);
static void serve(struct conn *c);

static void conn_close(struct conn *c)
{
	if (c->file >= 0)
		close(c->file);
	close(c->fd);
	free(c);
}

static void want_more(struct conn *c)
{
	if (c->have == REQ_MAX ||
	    urio_recv(c->w->loop, c->fd, c->req + c->have, REQ_MAX - c->have, 0,
		      URIO_F_WAIT, on_recv, c) < 0)
		conn_close(c);
}

/* The request is answered: the next may already be in the buffer. */
static void next_request(struct conn *c)
{
	if (!c->keep_alive) {
		conn_close(c);
		return;
	}
	memmove(c->req, c->req + c->used, c->have - c->used);
	c->have -= c->used;
	c->used = 0;
	if (memmem(c->req, c->have, "\r\n\r\n", 4))
		serve(c);
	else
		want_more(c);
}

static void on_body_read(urio_loop *loop, int res, void *data);

static void on_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	if (res < 0 ||
	    (size_t)res != c->msg.msg_iov[0].iov_len +
				   (c->msg.msg_iovlen > 1
					    ? c->msg.msg_iov[1].iov_len
					    : 0)) {
		conn_close(c);
		return;
	}
	if (c->left) { /* more of a large file */
		if (urio_pread(loop, c->file, c->body,
			       c->left < BODY_CHUNK ? c->left : BODY_CHUNK,
			       c->off, URIO_F_WAIT, on_body_read, c) < 0)
			conn_close(c);
		return;
	}
	if (c->file >= 0) {
		close(c->file);
		c->file = -1;
	}
	next_request(c);
}

static void send_parts(struct conn *c, size_t body)
{
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = 0;
	if (c->hdr_len) {
		c->iov[c->msg.msg_iovlen++] =
			(struct iovec){ c->hdr, c->hdr_len };
		c->hdr_len = 0;
	}
	if (body)
		c->iov[c->msg.msg_iovlen++] = (struct iovec){ c->body, body };
	if (urio_sendmsg(c->w->loop, c->fd, &c->msg, 0,
			 URIO_F_ALL | URIO_F_WAIT, on_sent, c) < 0)
		conn_close(c);
}

static void on_body_read(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res <= 0) {
		conn_close(c);
		return;
	}
	c->off += (uint64_t)res;
	c->left -= (uint64_t)res;
	send_parts(c, (size_t)res);
}

static void reply_status(struct conn *c, int code, const char *text)
{
	size_t blen = strlen(text) + 1;

	if (code == 400)
		c->keep_alive = false;
	c->hdr_len = (size_t)snprintf(
		c->hdr, sizeof(c->hdr),
		"HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
		"Content-Type: text/plain\r\nConnection: %s\r\n\r\n",
		code, text, c->head_only ? 0 : blen,
		c->keep_alive ? "keep-alive" : "close");
	if (!c->head_only) {
		memcpy(c->body, text, blen - 1);
		c->body[blen - 1] = '\n';
	}
	send_parts(c, c->head_only ? 0 : blen);
}

static int unhex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch |= 0x20;
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decodes a request path into a root-relative one; false if it is
 * malformed or would leave the root ("..", absolute, NUL). */
static bool safe_path(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	if (!len || in[0] != '/')
		return false;
	for (size_t i = 1; i < len; i++) {
		char ch = in[i];

		if (ch == '?' || ch == '#')
			break;
		if (ch == '%') {
			int h, l;

			if (i + 2 >= len || (h = unhex(in[i + 1])) < 0 ||
			    (l = unhex(in[i + 2])) < 0)
				return false;
			ch = (char)(h << 4 | l);
			i += 2;
		}
		if (!ch || o + 1 >= cap)
			return false;
		out[o++] = ch;
	}
	out[o] = '\0';
	if (o == 0 || out[0] == '/')
		return false; /* the root itself, or an absolute path */
	for (char *p = out; p;) {
		char *slash = strchr(p, '/');
		size_t seg = slash ? (size_t)(slash - p) : strlen(p);

		if ((seg == 2 && p[0] == '.' && p[1] == '.') || seg == 0)
			return false;
		p = slash ? slash + 1 : NULL;
	}
	return true;
}

/* Opens path beneath the root, and nowhere else (symlinks included). */
static int open_beneath(int root, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

static void serve(struct conn *c)
{
	char *end = memmem(c->req, c->have, "\r\n\r\n", 4);
	char *sp1, *sp2, *eol, path[1024];
	bool http10;
	struct stat st;
	size_t plen;

	c->used = (size_t)(end - c->req) + 4;
	eol = memchr(c->req, '\r', c->used);
	sp1 = memchr(c->req, ' ', (size_t)(eol - c->req));
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
	c->head_only = false;
	c->keep_alive = true;
	if (!sp2 || (size_t)(eol - sp2 - 1) != 8 ||
	    (memcmp(sp2 + 1, "HTTP/1.1", 8) &&
	     memcmp(sp2 + 1, "HTTP/1.0", 8))) {
		reply_status(c, 400, "Bad Request");
		return;
	}
	http10 = !memcmp(sp2 + 1, "HTTP/1.0", 8);
	c->keep_alive = !http10;
	if (memmem(c->req, c->used, "\r\nConnection: close", 19))
		c->keep_alive = false;
	if (http10 && memmem(c->req, c->used, "\r\nConnection: keep-alive", 24))
		c->keep_alive = true;
	if (sp1 - c->req == 4 && !memcmp(c->req, "HEAD", 4))
		c->head_only = true;
	else if (sp1 - c->req != 3 || memcmp(c->req, "GET", 3)) {
		reply_status(c, 400, "Bad Request");
		return;
	}
	plen = (size_t)(sp2 - sp1 - 1);
	if (!safe_path(sp1 + 1, plen, path, sizeof(path))) {
		reply_status(c, 400, "Bad Request");
		return;
	}
	c->file = open_beneath(c->w->srv->root, path);
	if (c->file < 0) {
		reply_status(c, errno == EXDEV ? 400 : 404,
			     errno == EXDEV ? "Bad Request" : "Not Found");
		return;
	}
	if (fstat(c->file, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(c->file);
		c->file = -1;
		reply_status(c, 404, "Not Found");
		return;
	}
	c->hdr_len = (size_t)snprintf(
		c->hdr, sizeof(c->hdr),
		"HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
		"Content-Type: application/octet-stream\r\nConnection: "
		"%s\r\n\r\n",
		(long long)st.st_size, c->keep_alive ? "keep-alive" : "close");
	c->off = 0;
	c->left = c->head_only ? 0 : (uint64_t)st.st_size;
	if (!c->left) {
		send_parts(c, 0);
		return;
	}
	if (urio_pread(c->w->loop, c->file, c->body,
		       c->left < BODY_CHUNK ? c->left : BODY_CHUNK, 0,
		       URIO_F_WAIT, on_body_read, c) < 0)
		conn_close(c);
}

static void on_recv(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res <= 0) { /* the peer left, or reset */
		conn_close(c);
		return;
	}
	c->have += (size_t)res;
	if (memmem(c->req, c->have, "\r\n\r\n", 4))
		serve(c);
	else if (c->have == REQ_MAX)
		reply_status(c, 400, "Bad Request");
	else
		want_more(c);
}

static void on_accept(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;
	struct conn *c;
	int one = 1;

	if (res >= 0) {
		c = malloc(sizeof(*c));
		if (!c) {
			close(res);
		} else {
			c->w = w;
			c->fd = res;
			c->file = -1;
			c->have = c->used = c->hdr_len = 0;
			memset(&c->msg, 0, sizeof(c->msg));
			setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			want_more(c);
		}
	}
	if (res != -ECANCELED && urio_accept(loop, w->lfd, NULL, NULL,
					     URIO_F_WAIT, on_accept, w) < 0)
		fprintf(stderr, "urio-httpd: thread %u stops accepting\n",
			w->idx);
}

static int listen_on(const struct server *s)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)s->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, s->bind, &a.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 4096) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct urio_loop_opts o = { .size = sizeof(o), .entries = 1024 };
	cpu_set_t set;
	int ret;

	CPU_ZERO(&set);
	CPU_SET((int)(w->idx % (unsigned)sysconf(_SC_NPROCESSORS_ONLN)), &set);
	sched_setaffinity(0, sizeof(set), &set);
	ret = urio_loop_create(&w->loop, &o);
	if (ret < 0) {
		fprintf(stderr, "urio-httpd: loop: %s\n", urio_strerror(ret));
		exit(1);
	}
	if (urio_accept(w->loop, w->lfd, NULL, NULL, 0, on_accept, w) < 0)
		exit(1);
	for (;;) {
		ret = urio_loop_run(w->loop, URIO_RUN_ONCE);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "urio-httpd: run: %s\n",
				urio_strerror(ret));
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "bind", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct server s = { .root = -1, .bind = "127.0.0.1", .port = 8080 };
	unsigned threads = 1;
	struct worker *w;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'r':
			s.root = open(optarg,
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (s.root < 0) {
				fprintf(stderr, "urio-httpd: --root %s: %s\n",
					optarg, strerror(errno));
				return 1;
			}
			break;
		case 'p':
			s.port = (unsigned)atoi(optarg);
			break;
		case 't':
			threads = (unsigned)atoi(optarg);
			break;
		case 'b':
			s.bind = optarg;
			break;
		default:
			fprintf(o == 'h' ? stdout : stderr,
				"usage: urio-httpd --root DIR [--port 8080] "
				"[--threads 1] [--bind 127.0.0.1]\n");
			return o == 'h' ? 0 : 2;
		}
	}
	if (s.root < 0 || !s.port || s.port > 65535 || !threads ||
	    threads > 64) {
		fprintf(stderr,
			"urio-httpd: need --root, a port and 1-64 threads\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	w = calloc(threads, sizeof(*w));
	for (unsigned i = 0; i < threads; i++) {
		w[i].srv = &s;
		w[i].idx = i;
		w[i].lfd = listen_on(&s);
		if (w[i].lfd < 0) {
			fprintf(stderr,
				"urio-httpd: cannot listen on %s:%u: %s\n",
				s.bind, s.port, strerror(errno));
			return 1;
		}
	}
	fprintf(stderr, "urio-httpd: serving on %s:%u with %u thread%s\n",
		s.bind, s.port, threads, threads > 1 ? "s" : "");
	for (unsigned i = 1; i < threads; i++)
		pthread_create(&w[i].th, NULL, worker_main, &w[i]);
	worker_main(&w[0]);
	return 0;
}
