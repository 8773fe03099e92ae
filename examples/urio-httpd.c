/* SPDX-License-Identifier: MIT */
/* urio-httpd - a small HTTP/1.1 static file server whose network and file
 * I/O go through urio, written to hold against hostile clients the way
 * nginx does.  GET and HEAD, keep-alive and pipelining, nothing outside the
 * root.  An example of embedding urio, not a web server product.
 *
 * Shape: one listening socket shared by the threads (SO_REUSEPORT would let
 * another process of the same user take half the connections), one urio
 * loop per thread.  Every connection has exactly one request in flight (a
 * receive, a send or a file read) and there are at most --max-conns of
 * them, so the loop's in-flight bound is never met and no callback waits.
 * Timeouts are queues of connections ordered by deadline, served by one
 * urio_timeout per thread; an expired connection's request is cancelled
 * (urio_cancel_fd).  Files open with O_NONBLOCK and are refused unless
 * fstat says they are regular: a FIFO or a device never blocks the loop.
 *   urio-httpd --root DIR [--port 8080] [--bind 127.0.0.1] [--threads 1]
 *              [--header-timeout 30] [--idle-timeout 60] [--max-conns N] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "httpd-parse.h"
#include "urio.h"

#define BODY_CHUNK 65536	 /* files are sent in chunks of this */
#define BODY_MAX   (1u << 20)	 /* request bodies we read and drop */
#define LINGER_NS  2000000000ull /* reading what follows a last reply */
#define BACKOFF_NS 100000000ull	 /* no accept for this long on EMFILE */
/* Requests a loop holds besides its connections' own: the accept, the
 * deadline timer, the accept back-off timer, the signal watch. */
#define LOOP_SPARE 4

/* Connections wait in one of these queues, each in deadline order because
 * each has one timeout: a connection joins at the tail. */
enum {
	Q_HEAD,	  /* a request head is due: --header-timeout */
	Q_IDLE,	  /* keep-alive, between requests: --idle-timeout */
	Q_BUSY,	  /* a reply or a dropped body under way: --idle-timeout */
	Q_LINGER, /* closing, reading what the client still sends */
	NQUEUES,
};

struct conn;

struct queue {
	struct conn *first, *last;
	uint64_t ns;
	/* At the connection cap, the oldest connection of such a queue is
	 * closed to make room: it is only waiting for its client. */
	bool evictable;
};

struct server {
	int root, lfd, sigfd;
	unsigned threads, max_conns;
	bool max_conns_asked; /* --max-conns, not the default */
	uint64_t header_ns, idle_ns;
	char where[80]; /* "127.0.0.1:8080" */
	pthread_barrier_t started;
};

struct worker {
	struct server *srv;
	unsigned idx;
	urio_loop *loop;
	pthread_t th;
	struct queue q[NQUEUES];
	uint64_t min_ns; /* the shortest queue timeout */
	unsigned nconns, cap;
	bool accepting, backing_off, timer_armed, stopping;
	int err; /* of starting up, with what failed */
	const char *what;
};

struct conn {
	struct worker *w;
	struct conn *prev, *next; /* in *q */
	struct queue *q;
	uint64_t deadline;
	int fd;
	int file;	    /* the file being sent, or -1 */
	uint64_t off, left; /* of the file still to send */
	uint64_t discard;   /* body bytes still to read and drop */
	size_t have;	    /* bytes in req */
	size_t used;	    /* of them, the request being answered */
	size_t scanned;	    /* of them, searched for the head's end */
	bool closing;	    /* expired or evicted: free at the callback */
	bool lingering;
	bool keep_alive, head_only, error_close, blocking_file;
	struct iovec iov[2];
	struct msghdr msg;
	size_t hdr_len;
	char hdr[256]; /* a 200's head */
	/* Not cleared per connection: everything above is. */
	char req[HTTP_HEAD_MAX];
	char body[BODY_CHUNK];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- deadlines ---------------------------------------------------- */

static void on_timer(urio_loop *loop, int res, void *data);

/* One timer per thread, at the earliest deadline, but never further than
 * the shortest queue timeout from now: then no deadline set later can come
 * before it, and the timer never needs cancelling. */
static void timer_arm(struct worker *w)
{
	uint64_t at = UINT64_MAX, now;
	urio_id id;

	if (w->timer_armed || w->stopping)
		return;
	for (unsigned i = 0; i < NQUEUES; i++)
		if (w->q[i].first && w->q[i].first->deadline < at)
			at = w->q[i].first->deadline;
	if (at == UINT64_MAX)
		return;
	now = now_ns();
	if (at > now + w->min_ns)
		at = now + w->min_ns;
	id = urio_timeout(w->loop, at > now ? at - now : 1, 0, on_timer, w);
	if (id < 0)
		fprintf(stderr, "urio-httpd: thread %u: timer: %s\n", w->idx,
			urio_strerror((int)id));
	else
		w->timer_armed = true;
}

static void queue_remove(struct conn *c)
{
	struct queue *q = c->q;

	if (!q)
		return;
	*(c->prev ? &c->prev->next : &q->first) = c->next;
	*(c->next ? &c->next->prev : &q->last) = c->prev;
	c->q = NULL;
}

/* Moves c to the tail of queue i, due its timeout from now. */
static void queue_put(struct conn *c, unsigned i)
{
	struct queue *q = &c->w->q[i];

	queue_remove(c);
	c->deadline = now_ns() + q->ns;
	c->q = q;
	c->next = NULL;
	c->prev = q->last;
	*(q->last ? &q->last->next : &q->first) = c;
	q->last = c;
	timer_arm(c->w);
}

/* Ends c's request now: it completes (-ECANCELED) and its callback frees
 * c.  A request not yet handed to the kernel cannot be cancelled: the
 * shutdown makes it end at once when it is. */
static void conn_abort(struct conn *c)
{
	queue_remove(c);
	c->closing = true;
	if (urio_cancel_fd(c->w->loop, c->fd) <= 0)
		shutdown(c->fd, SHUT_RDWR);
}

static void on_timer(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;
	uint64_t now = now_ns();

	(void)loop;
	(void)res;
	w->timer_armed = false;
	if (w->stopping)
		return;
	for (unsigned i = 0; i < NQUEUES; i++)
		while (w->q[i].first && w->q[i].first->deadline <= now)
			conn_abort(w->q[i].first);
	timer_arm(w);
}

/* Closes up to n of the connections that have waited longest for their
 * client, as nginx reuses its idle connections when it runs short. */
static void evict(struct worker *w, unsigned n)
{
	while (n--) {
		struct conn *oldest = NULL;

		for (unsigned i = 0; i < NQUEUES; i++) {
			struct conn *c = w->q[i].first;

			if (c && w->q[i].evictable &&
			    (!oldest ||
			     c->deadline - w->q[i].ns <
				     oldest->deadline - oldest->q->ns))
				oldest = c;
		}
		if (!oldest)
			return;
		conn_abort(oldest);
	}
}

/* ---- accepting ---------------------------------------------------- */

static void on_accept(urio_loop *loop, int res, void *data);

static int accept_arm(struct worker *w)
{
	urio_id id;

	if (w->accepting || w->backing_off || w->stopping ||
	    w->nconns >= w->cap)
		return 0;
	id = urio_accept(w->loop, w->srv->lfd, NULL, NULL, 0, on_accept, w);
	if (id < 0)
		return (int)id;
	w->accepting = true;
	return 0;
}

/* After a slot freed or a pause: accept again (if there is room). */
static void accept_resume(struct worker *w)
{
	int ret = accept_arm(w);

	if (ret < 0)
		fprintf(stderr, "urio-httpd: thread %u stops accepting: %s\n",
			w->idx, urio_strerror(ret));
}

static void conn_free(struct conn *c)
{
	struct worker *w = c->w;

	queue_remove(c);
	if (c->file >= 0)
		close(c->file);
	close(c->fd);
	free(c);
	w->nconns--;
	accept_resume(w);
}

static void on_backoff(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;

	(void)loop;
	(void)res;
	w->backing_off = false;
	accept_resume(w);
}

/* Out of descriptors (or of kernel memory): re-arming the accept at once
 * would fail again at once, a busy loop.  The descriptors allow about this
 * many connections, each with a file open: that is the cap from now on,
 * said once.  Close idle connections down to it, and pause. */
static void out_of_fds(struct worker *w, int err)
{
	unsigned cap = w->nconns / 2 ? w->nconns / 2 : 1;

	if (cap < w->cap) {
		fprintf(stderr,
			"urio-httpd: thread %u: accept: %s: at most %u "
			"connections from now on (was %u)\n",
			w->idx, strerror(-err), cap, w->cap);
		w->cap = cap;
	}
	if (w->nconns >= w->cap)
		evict(w, w->nconns - w->cap + 1);
	if (urio_timeout(w->loop, BACKOFF_NS, 0, on_backoff, w) >= 0)
		w->backing_off = true;
}

/* accept(2): errors that belong to the one connection, not the socket. */
static bool accept_transient(int err)
{
	switch (-err) {
	case ECONNABORTED:
	case EAGAIN:
	case EINTR:
	case EPERM: /* a firewall rule */
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
	case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}

static void conn_new(struct worker *w, int fd);

static void on_accept(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;

	(void)loop;
	w->accepting = false;
	if (res == -ECANCELED || w->stopping) {
		if (res >= 0)
			close(res);
		return;
	}
	if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS ||
	    res == -ENOMEM) {
		out_of_fds(w, res);
		return;
	}
	if (res < 0 && !accept_transient(res)) {
		fprintf(stderr, "urio-httpd: thread %u: accept: %s\n", w->idx,
			urio_strerror(res));
		exit(1);
	}
	/* The last free slot goes now: make room for the next client, as
	 * nginx does once it runs short (the new one is not a candidate). */
	if (res >= 0 && w->nconns + 1 >= w->cap)
		evict(w, 1);
	if (res >= 0)
		conn_new(w, res);
	accept_resume(w);
}

/* ---- a connection ------------------------------------------------- */

static void on_recv(urio_loop *loop, int res, void *data);
static void on_sent(urio_loop *loop, int res, void *data);
static void on_file_read(urio_loop *loop, int res, void *data);
static void handle_input(struct conn *c);

static void conn_new(struct worker *w, int fd)
{
	struct conn *c = malloc(sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	memset(c, 0, offsetof(struct conn, req));
	c->w = w;
	c->fd = fd;
	c->file = -1;
	w->nconns++;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	queue_put(c, Q_HEAD);
	handle_input(c);
}

/* Receives into req after what it holds (a head), or over all of it (a
 * body to drop, or the bytes after a last reply). */
static void receive(struct conn *c, size_t at)
{
	if (urio_recv(c->w->loop, c->fd, c->req + at, sizeof(c->req) - at, 0, 0,
		      on_recv, c) < 0)
		conn_free(c);
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->req, c->req + n, c->have - n);
	c->have -= n;
}

/* The server closes: first its side only, then it reads what the client
 * still sends for a while, so the reply is not lost to the reset that
 * closing on unread bytes would send (nginx's lingering close). */
static void close_after_reply(struct conn *c)
{
	if (!c->error_close && !c->discard && !c->have) {
		conn_free(c); /* the client said close, and sent no more */
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	queue_put(c, Q_LINGER);
	receive(c, 0);
}

/* Drops what the buffer holds of a body; receives the rest. */
static bool drop_body(struct conn *c)
{
	size_t n = c->have < c->discard ? c->have : (size_t)c->discard;

	consume(c, n);
	c->discard -= n;
	if (!c->discard)
		return false;
	queue_put(c, Q_BUSY);
	receive(c, 0);
	return true;
}

/* The reply is out: on to the next request, which may be buffered. */
static void next_request(struct conn *c)
{
	consume(c, c->used);
	c->used = 0;
	c->scanned = 0;
	if (!c->keep_alive) {
		close_after_reply(c);
		return;
	}
	if (!drop_body(c))
		handle_input(c);
}

static void on_recv(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res <= 0 || c->closing || c->w->stopping) {
		conn_free(c); /* the peer left, reset, or ran out of time */
		return;
	}
	if (c->lingering) {
		receive(c, 0);
		return;
	}
	c->have += (size_t)res;
	if (c->discard && drop_body(c))
		return;
	handle_input(c);
}

static void send_parts(struct conn *c, const void *head, size_t head_len,
		       size_t body)
{
	c->msg.msg_iov = c->iov;
	c->msg.msg_iovlen = 0;
	if (head_len)
		c->iov[c->msg.msg_iovlen++] =
			(struct iovec){ (void *)head, head_len };
	if (body)
		c->iov[c->msg.msg_iovlen++] = (struct iovec){ c->body, body };
	if (urio_sendmsg(c->w->loop, c->fd, &c->msg, 0, URIO_F_ALL, on_sent,
			 c) < 0)
		conn_free(c);
}

static void read_file(struct conn *c)
{
	if (urio_pread(c->w->loop, c->file, c->body,
		       c->left < BODY_CHUNK ? c->left : BODY_CHUNK, c->off, 0,
		       on_file_read, c) < 0)
		conn_free(c);
}

static void on_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;
	size_t want = c->iov[0].iov_len +
		      (c->msg.msg_iovlen > 1 ? c->iov[1].iov_len : 0);

	(void)loop;
	if (res < 0 || (size_t)res != want || c->closing || c->w->stopping) {
		conn_free(c);
		return;
	}
	if (c->left) { /* more of a large file, due in its own time */
		queue_put(c, Q_BUSY);
		read_file(c);
		return;
	}
	if (c->file >= 0) {
		close(c->file);
		c->file = -1;
	}
	next_request(c);
}

static void on_file_read(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (res == -EAGAIN && !c->blocking_file && !c->closing) {
		/* The file was opened O_NONBLOCK (in case it was a FIFO), and
		 * on a file system that cannot read without blocking
		 * (no FMODE_NOWAIT) io_uring answers a page not in the cache
		 * with -EAGAIN: from now on let the read wait for it. */
		c->blocking_file = true;
		fcntl(c->file, F_SETFL, 0);
		read_file(c);
		return;
	}
	if (res <= 0 || c->closing || c->w->stopping) {
		conn_free(c);
		return;
	}
	c->off += (uint64_t)res;
	c->left -= (uint64_t)res;
	send_parts(c, c->hdr, c->hdr_len, (size_t)res);
	c->hdr_len = 0; /* the head goes with the first chunk only */
}

/* ---- answering ---------------------------------------------------- */

static const char *reason(int code)
{
	switch (code) {
	case 301:
		return "Moved Permanently";
	case 400:
		return "Bad Request";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Internal Server Error";
	}
}

static char *put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

#define LIT(p, s) put(p, s, sizeof(s) - 1)

static char *put_u64(char *p, uint64_t v)
{
	char digits[20];
	size_t i = sizeof(digits);

	do
		digits[--i] = (char)('0' + v % 10);
	while (v /= 10);
	return put(p, digits + i, sizeof(digits) - i);
}

/* A reply of our own: status, headers (extra, if any, ends in CRLF) and a
 * line of text, composed in body.  After a request we could not read, the
 * connection closes, as nginx does: what follows cannot be trusted. */
static void reply(struct conn *c, int code, const char *extra)
{
	const char *text = reason(code);
	int n;

	if (code == 400 || code == 413 || code == 414 || code == 431 ||
	    code == 505) {
		c->keep_alive = false;
		c->error_close = true;
	}
	n = snprintf(c->body, sizeof(c->body),
		     "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n",
		     code, text, strlen(text) + 5, extra ? extra : "",
		     c->keep_alive ? "keep-alive" : "close");
	if (!c->head_only)
		n += snprintf(c->body + n, sizeof(c->body) - (size_t)n,
			      "%d %s\n", code, text);
	send_parts(c, NULL, 0, (size_t)n);
}

/* Opens path beneath the root and nowhere else (symlinks included);
 * O_NONBLOCK so that a FIFO's open does not wait for a writer, O_NOCTTY so
 * that a terminal does not become ours. */
static int open_beneath(int root, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));

	return fd < 0 ? -errno : fd;
}

/* The status nginx answers an open's error with. */
static int open_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
	case ENXIO:
		return 404;
	case EACCES:
	case EPERM:
	case ELOOP:
	case EMLINK:
	case EXDEV: /* a symlink out of the root */
		return 403;
	default:
		return 500;
	}
}

/* A regular file the target names (a directory's index.html if it ends in
 * a slash), or minus the status to answer: 301 for a directory named
 * without its slash, 403 for one without an index, 404 for anything that
 * is not a regular file (a FIFO, a device, a socket), as nginx answers. */
static int open_file(int root, const struct http_request *req, struct stat *st)
{
	char path[HTTP_LINE_MAX + sizeof("/index.html")];
	bool dir;
	int fd;

	if (http_decode_path(req->target, req->target_len, path, HTTP_LINE_MAX,
			     &dir))
		return -400;
	fd = open_beneath(root, path[0] ? path : ".");
	if (fd < 0)
		return -open_status(-fd);
	if (fstat(fd, st) == 0 && S_ISDIR(st->st_mode)) {
		close(fd);
		if (!dir)
			return -301;
		strcat(path, path[0] ? "/index.html" : "index.html");
		dir = false;
		fd = open_beneath(root, path);
		if (fd < 0)
			return fd == -ENOENT ? -403 : -open_status(-fd);
		if (fstat(fd, st) < 0)
			st->st_mode = 0;
	}
	/* Not a regular file, or one named with a slash after it (nginx:
	 * ENOTDIR). */
	if (!S_ISREG(st->st_mode) || dir) {
		close(fd);
		return -404;
	}
	return fd;
}

static void serve_file(struct conn *c, const struct http_request *req)
{
	struct stat st = { 0 };
	int fd = open_file(c->w->srv->root, req, &st);
	char *p;

	if (fd == -301) {
		/* The same target with a slash after its path. */
		char loc[HTTP_LINE_MAX + 32];
		const char *q = memchr(req->target, '?', req->target_len);
		int plen =
			(int)(q ? (size_t)(q - req->target) : req->target_len);

		snprintf(loc, sizeof(loc), "Location: %.*s/%.*s\r\n", plen,
			 req->target, (int)req->target_len - plen,
			 req->target + plen);
		reply(c, 301, loc);
		return;
	}
	if (fd < 0) {
		reply(c, -fd, NULL);
		return;
	}
	c->file = fd;
	/* Not snprintf: it would cost more than the rest of our own work on
	 * the request. */
	p = LIT(c->hdr, "HTTP/1.1 200 OK\r\nContent-Length: ");
	p = put_u64(p, (uint64_t)st.st_size);
	p = LIT(p, "\r\nContent-Type: application/octet-stream\r\n"
		   "Connection: ");
	p = c->keep_alive ? LIT(p, "keep-alive\r\n\r\n")
			  : LIT(p, "close\r\n\r\n");
	c->hdr_len = (size_t)(p - c->hdr);
	c->left = c->head_only ? 0 : (uint64_t)st.st_size;
	if (c->left) {
		read_file(c);
		return;
	}
	send_parts(c, c->hdr, c->hdr_len, 0);
	c->hdr_len = 0;
}

/* A head is complete (or too long: -414, -431).  Nothing of the last
 * request carries over to this one. */
static void serve(struct conn *c, long head_len)
{
	struct http_request req;
	int code;

	c->keep_alive = c->head_only = c->error_close = false;
	c->blocking_file = false;
	c->discard = c->off = c->left = 0;
	c->hdr_len = 0;
	queue_put(c, Q_BUSY);
	if (head_len < 0) {
		c->used = c->have;
		reply(c, (int)-head_len, NULL);
		return;
	}
	c->used = (size_t)head_len;
	code = http_parse_request(c->req, (size_t)head_len, &req);
	if (code) {
		reply(c, code, NULL);
		return;
	}
	c->head_only = req.method == HTTP_HEAD;
	c->keep_alive = req.keep_alive;
	if (req.body_bytes > BODY_MAX) {
		reply(c, 413, NULL);
		return;
	}
	/* A body is read and dropped after the reply, never parsed. */
	c->discard = req.body_bytes;
	if (req.method == HTTP_OTHER)
		reply(c, 405, "Allow: GET, HEAD\r\n");
	else
		serve_file(c, &req);
}

/* Bytes came (or a reply went out): serve a complete head, or wait for
 * the rest of one, or for the next request. */
static void handle_input(struct conn *c)
{
	struct queue *q = c->w->q;
	size_t skip = http_skip_empty_lines(c->req, c->have);
	long end;

	if (skip) {
		consume(c, skip);
		c->scanned = 0;
	}
	if (!c->have) {
		/* Between requests: keep-alive's timeout; a new connection
		 * stays on the header timeout it started with. */
		if (c->q != &q[Q_HEAD] && c->q != &q[Q_IDLE])
			queue_put(c, Q_IDLE);
		receive(c, 0);
		return;
	}
	end = http_head_end(c->req, c->have, &c->scanned);
	if (end) {
		serve(c, end);
		return;
	}
	/* A request has begun: its head is due within the header timeout,
	 * however slowly it trickles in. */
	if (c->q != &q[Q_HEAD])
		queue_put(c, Q_HEAD);
	receive(c, c->have);
}

/* ---- threads ------------------------------------------------------ */

static void on_signal(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;

	(void)loop;
	if (res >= 0)
		w->stopping = true;
	else if (res != -ECANCELED)
		fprintf(stderr, "urio-httpd: thread %u: signal wait: %s\n",
			w->idx, urio_strerror(res));
}

/* The loop, its first accept and its signal watch; on failure w->what
 * says which. */
static int worker_start(struct worker *w)
{
	struct urio_loop_opts o = { .size = sizeof(o), .entries = 256 };
	struct urio_stats st = { .size = sizeof(st) };
	unsigned want = w->cap + LOOP_SPARE;
	int ret;

	/* Each connection holds one request: the rings must hold them all
	 * (a ring completes twice as many as its entries). */
	while (o.entries * 2 < want && o.entries < 4096)
		o.entries *= 2;
	w->what = "create its loop";
	ret = urio_loop_create(&w->loop, &o);
	if (ret < 0)
		return ret;
	urio_loop_stats(w->loop, &st);
	if (st.cap < want) {
		w->cap =
			st.cap > LOOP_SPARE ? (unsigned)st.cap - LOOP_SPARE : 1;
		if (w->srv->max_conns_asked)
			fprintf(stderr,
				"urio-httpd: thread %u: at most %u "
				"connections: its "
				"loop holds %llu requests\n",
				w->idx, w->cap, (unsigned long long)st.cap);
	}
	w->what = "accept connections";
	ret = accept_arm(w);
	if (ret < 0)
		return ret;
	w->what = "watch for signals";
	ret = (int)urio_poll(w->loop, w->srv->sigfd, POLLIN, 0, on_signal, w);
	return ret < 0 ? ret : 0;
}

/* Until SIGTERM or SIGINT; then every request is cancelled and every
 * connection freed by its own callback, in urio_loop_destroy. */
static void worker_run(struct worker *w)
{
	while (!w->stopping) {
		int ret = urio_loop_run(w->loop, URIO_RUN_ONCE);

		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "urio-httpd: thread %u: run: %s\n",
				w->idx, urio_strerror(ret));
			exit(1);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)(w->idx % (unsigned)sysconf(_SC_NPROCESSORS_ONLN)), &set);
	sched_setaffinity(0, sizeof(set), &set);
	w->err = worker_start(w);
	pthread_barrier_wait(&w->srv->started);
	if (!w->err)
		worker_run(w);
	if (w->loop)
		urio_loop_destroy(w->loop);
	return NULL;
}

static void worker_init(struct worker *w, struct server *s, unsigned i)
{
	w->srv = s;
	w->idx = i;
	w->cap = s->max_conns;
	w->q[Q_HEAD] = (struct queue){ .ns = s->header_ns, .evictable = true };
	w->q[Q_IDLE] = (struct queue){ .ns = s->idle_ns, .evictable = true };
	w->q[Q_BUSY] = (struct queue){ .ns = s->idle_ns };
	w->q[Q_LINGER] = (struct queue){ .ns = LINGER_NS, .evictable = true };
	w->min_ns = LINGER_NS;
	for (unsigned q = 0; q < NQUEUES; q++)
		if (w->q[q].ns < w->min_ns)
			w->min_ns = w->q[q].ns;
}

/* ---- start-up ----------------------------------------------------- */

/* The listening socket all threads accept on.  No SO_REUSEPORT: a second
 * server on the port must fail, not share it. */
static int listen_on(struct server *s, const char *bind_addr, unsigned port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;
	char host[INET6_ADDRSTRLEN];

	if (inet_pton(AF_INET, bind_addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, bind_addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		len = sizeof(*a6);
	} else {
		fprintf(stderr,
			"urio-httpd: --bind %s: not an IPv4 or IPv6 address\n",
			bind_addr);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "urio-httpd: socket: %s\n", strerror(errno));
		return -1;
	}
	/* SO_REUSEADDR: restart over TIME_WAIT connections (Linux still
	 * refuses a second listener on the port). */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		fprintf(stderr, "urio-httpd: cannot listen on %s port %u: %s\n",
			bind_addr, port, strerror(errno));
		close(fd);
		return -1;
	}
	inet_ntop(ss.ss_family,
		  ss.ss_family == AF_INET ? (void *)&a4->sin_addr
					  : (void *)&a6->sin6_addr,
		  host, sizeof(host));
	snprintf(s->where, sizeof(s->where),
		 ss.ss_family == AF_INET ? "%s:%u" : "[%s]:%u", host,
		 ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port));
	s->lfd = fd;
	return 0;
}

/* Each connection may hold two descriptors (its socket and the file it
 * sends); the process keeps some for itself (stdio, the root, the
 * listener, the signalfd, each loop's rings). */
static unsigned default_max_conns(unsigned threads)
{
	struct rlimit rl = { 0 };
	uint64_t n, spare = 16 + 8 * (uint64_t)threads;

	getrlimit(RLIMIT_NOFILE, &rl);
	n = rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
	n = n > spare ? (n - spare) / (2 * threads) : 1;
	return n < 1 ? 1 : n > 1000000 ? 1000000 : (unsigned)n;
}

/* A whole decimal number in [min, max], or false. */
static bool parse_num(const char *s, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return !errno && !*end && *out >= min && *out <= max;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: urio-httpd --root DIR [--port 8080 (0: any)] "
		   "[--bind 127.0.0.1 | ::1 | ...]\n"
		   "       [--threads 1] [--header-timeout 30] "
		   "[--idle-timeout 60] [--max-conns N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "bind", required_argument, NULL, 'b' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "max-conns", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const what[] = {
		['p'] = "--port: a number from 0 to 65535",
		['t'] = "--threads: a number from 1 to 64",
		['H'] = "--header-timeout: seconds, 1 to 86400",
		['I'] = "--idle-timeout: seconds, 1 to 86400",
		['m'] = "--max-conns: a number from 1 to 1000000",
	};
	struct server s = { .root = -1, .lfd = -1, .threads = 1 };
	unsigned long port = 8080, header = 30, idle = 60, max_conns = 0, v;
	const char *bind_addr = "127.0.0.1";
	struct urio_layout lay = { .size = sizeof(lay) };
	struct worker *w;
	sigset_t sigs;
	bool failed = false;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		bool ok = true;

		switch (o) {
		case 'r':
			if (s.root >= 0)
				close(s.root);
			s.root = open(optarg,
				      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (s.root < 0) {
				fprintf(stderr, "urio-httpd: --root %s: %s\n",
					optarg, strerror(errno));
				return 2;
			}
			break;
		case 'p':
			ok = parse_num(optarg, 0, 65535, &port);
			break;
		case 't':
			ok = parse_num(optarg, 1, 64, &v);
			s.threads = (unsigned)v;
			break;
		case 'b':
			bind_addr = optarg;
			break;
		case 'H':
			ok = parse_num(optarg, 1, 86400, &header);
			break;
		case 'I':
			ok = parse_num(optarg, 1, 86400, &idle);
			break;
		case 'm':
			ok = parse_num(optarg, 1, 1000000, &max_conns);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "urio-httpd: %s, not \"%s\"\n", what[o],
				optarg);
			return 2;
		}
	}
	if (s.root < 0 || optind < argc) {
		usage(stderr);
		return 2;
	}
	s.header_ns = header * 1000000000ull;
	s.idle_ns = idle * 1000000000ull;
	s.max_conns =
		max_conns ? (unsigned)max_conns : default_max_conns(s.threads);
	s.max_conns_asked = max_conns != 0;
	if (listen_on(&s, bind_addr, (unsigned)port) < 0)
		return 1;
	/* SIGTERM and SIGINT end the loops through a signalfd each polls;
	 * blocked here, they stay blocked in every thread. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	s.sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	w = calloc(s.threads, sizeof(*w));
	if (s.sigfd < 0 || !w ||
	    pthread_barrier_init(&s.started, NULL, s.threads)) {
		fprintf(stderr, "urio-httpd: cannot start: %s\n",
			strerror(errno ? errno : ENOMEM));
		return 1;
	}
	for (unsigned i = 0; i < s.threads; i++)
		worker_init(&w[i], &s, i);
	for (unsigned i = 1; i < s.threads; i++) {
		int ret = pthread_create(&w[i].th, NULL, worker_main, &w[i]);

		if (ret) {
			fprintf(stderr, "urio-httpd: thread %u: %s\n", i,
				strerror(ret));
			return 1;
		}
	}
	/* Thread 0 is this one: start it, and hear how the others did. */
	w[0].err = worker_start(&w[0]);
	pthread_barrier_wait(&s.started);
	for (unsigned i = 0; i < s.threads; i++) {
		if (!w[i].err)
			continue;
		failed = true;
		if (!w[i].loop || urio_loop_layout(w[i].loop, &lay) < 0)
			snprintf(lay.backend, sizeof(lay.backend), "no");
		fprintf(stderr,
			"urio-httpd: thread %u cannot %s on its %s loop: %s\n",
			i, w[i].what, lay.backend, urio_strerror(w[i].err));
	}
	if (failed)
		return 1;
	urio_loop_layout(w[0].loop, &lay);
	fprintf(stderr,
		"urio-httpd: serving on %s with %u thread%s (%s), "
		"%u connections each\n",
		s.where, s.threads, s.threads > 1 ? "s" : "", lay.backend,
		w[0].cap);
	worker_run(&w[0]);
	urio_loop_destroy(w[0].loop);
	for (unsigned i = 1; i < s.threads; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&s.started);
	free(w);
	close(s.sigfd);
	close(s.lfd);
	close(s.root);
	return 0;
}
