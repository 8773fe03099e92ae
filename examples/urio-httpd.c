/* SPDX-License-Identifier: MIT */
/* urio-httpd - a small HTTP/1.1 static file server whose network and file
 * I/O all go through urio, written to hold against hostile clients the way
 * nginx does.  GET and HEAD, keep-alive and pipelining, nothing outside the
 * root.  An example of embedding urio, not a web server product.
 *
 * Shape: one listening socket shared by the threads (SO_REUSEPORT would let
 * another process of the same user take half the connections), one urio
 * loop per thread, which keeps one accept armed (urio_accept_multi).  Each
 * connection has one multishot receive into the thread's buffer group
 * (urio_recv_multi): an idle connection holds a slot of the loop's bound
 * and no buffer, so 10,000 of them cost a slot and a few hundred bytes
 * each.  Bytes are parsed where they land; what a request needs is copied
 * out (its path, its flags), and only bytes that wait (a head split across
 * receives, pipelined requests) are kept, in a buffer of the connection's
 * that exists while it has some.  A request being answered holds a job
 * (its path, stat and reply buffers) and has one more request in flight at
 * a time: the open beneath the root (urio_openat), the stat of the open
 * file (urio_statx, or statx(2) where that cannot wait: see stat_inline),
 * then the reply: pread + send for a small file, urio_sendfile (spliced,
 * no copy) for a large one.  Nothing blocks the loop's thread: a FIFO's
 * open is non-blocking and anything that is not a regular file is refused
 * before it is read.  With --open-file-cache N, each thread keeps up to N
 * regular files open under their paths, with their sizes, for
 * --open-file-valid seconds (nginx's open_file_cache and
 * open_file_cache_valid): a request for one of them is a read and a send.
 *
 * Timeouts are queues of connections ordered by deadline, served by one
 * urio_timeout per thread; an expired connection's requests are cancelled
 * (urio_cancel_fd).  Every request is submitted with URIO_F_WAIT: the loop
 * is sized for what --max-conns needs (see worker_start), and if it is ever
 * full a request waits in the loop for room rather than fail.
 *   urio-httpd --root DIR [--port 8080] [--bind 127.0.0.1] [--threads 1]
 *              [--header-timeout 30] [--idle-timeout 60] [--max-conns N]
 *              [--sendfile-from 65536] [--open-file-cache 0]
 *              [--open-file-valid 60] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
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
#include <strings.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "httpd-parse.h"
#include "urio.h"

/* A file's body below --sendfile-from (default SENDFILE_FROM) is read
 * into the job behind its head and sent with it in one send, BODY_CHUNK at a
 * time; from there on it goes by urio_sendfile.  COMPARE_ROWS=sizes
 * bench/compare-httpd measured where splicing starts to pay (README). */
#define BODY_CHUNK 65536
/* A body past --sendfile-from copied all the same (every sendfile of the
 * thread taken) goes this much at a time: a client that stops reading pins
 * its chunk, and thousands of them must not pin 64 KiB each. */
#define SPILL_CHUNK   16384
#define HDR_ROOM      256 /* a 200's head */
#define SENDFILE_FROM 65536
/* A sendfile step: the idle timeout applies to each (a slow but steady
 * client of a large file is not cut off). */
#define SENDFILE_STEP (1u << 20)
/* Sendfiles in flight per thread at most (urio's limit is 64 a loop: each
 * holds a pipe, two descriptors, that the loop keeps for the next). */
#define SENDFILE_MAX 64
#define BODY_MAX     (1u << 20)	   /* request bodies we read and drop */
#define LINGER_NS    2000000000ull /* reading what follows a last reply */
#define BACKOFF_NS   100000000ull  /* no accept for this long on EMFILE */
/* The receive buffers a thread's connections share, and the bytes a
 * connection may hold unparsed while its reply is under way: past that,
 * its receive is paused until the reply went out.  Many small buffers
 * rather than a few large: a request head is rarely past 2 KiB (nginx
 * starts with 1), and when the kernel finds none free the receive ends
 * and waits for one, a connection that can lose that race again and
 * again (with 256 of 8 KiB, wrk -c 3000 saw 1 % of its requests wait
 * over a second; with 2,048 of 2 KiB, 99 % came within 80 ms). */
#define GROUP_BUF_SIZE 2048
#define GROUP_BUFS_MAX 2048
#define IN_PAUSE       HTTP_HEAD_MAX
/* Jobs a thread keeps for the next requests instead of freeing them. */
#define JOBS_KEPT 64
/* Requests a loop holds besides its connections' own: the accept, the
 * deadline timer, the accept back-off timer, the signal watch, a cancel of
 * the accept, and some to spare. */
#define LOOP_SPARE 8
/* Connections with a reply under way at once that the loop is sized for:
 * each has a request in flight (and perhaps a close); past this many, a
 * request waits in the loop for room. */
#define BUSY_SLOTS 1024

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
	unsigned threads, max_conns, sendfile_max;
	unsigned ofiles;	/* --open-file-cache: entries per thread */
	uint64_t valid_ns;	/* --open-file-valid */
	uint64_t sendfile_from; /* bodies this large are spliced */
	bool max_conns_asked;	/* --max-conns, not the default */
	bool stat_inline;	/* see stat_inline() */
	uint64_t header_ns, idle_ns;
	char where[80]; /* "127.0.0.1:8080" */
	pthread_barrier_t started;
};

/* A regular file kept open under its path by the open-file cache: the
 * next request for it neither opens, stats nor closes (nginx's
 * open_file_cache).  Kept --open-file-valid seconds from its open, at
 * most --open-file-cache of them, the least recently used going first; a
 * file replaced or removed meanwhile is still served as it was opened. */
struct ofile {
	struct ofile *hnext;	   /* in its hash chain */
	struct ofile *prev, *next; /* in use order, most recent first */
	uint64_t opened;	   /* now_ns() of its open */
	uint64_t size;
	unsigned refs; /* replies sending it */
	int fd;
	bool gone; /* out of the cache: closed once refs reach 0 */
	uint32_t hash;
	char path[];
};

/* What a request being answered needs, and only it: a connection holds
 * one from the head's arrival to the reply's end. */
struct job {
	struct job *next; /* on the thread's free list */
	struct statx stx;
	size_t target_len;
	char target[HTTP_LINE_MAX]; /* as the client wrote it (a 301) */
	char path[HTTP_LINE_MAX + sizeof("/index.html")];
	/* What goes out: a reply of our own, or a 200's head (hdr_len bytes)
	 * with the first chunk of its body read in right behind it, so that
	 * both go in one send; then the next chunks. */
	size_t hdr_len, sending;
	char out[HDR_ROOM + BODY_CHUNK];
};

struct worker {
	struct server *srv;
	unsigned idx;
	urio_loop *loop;
	int group; /* the connections' receive buffers */
	pthread_t th;
	struct queue q[NQUEUES];
	uint64_t min_ns; /* the shortest queue timeout */
	urio_id accept_id;
	struct job *jobs; /* free ones */
	unsigned njobs;
	unsigned nconns, cap, sendfiles;
	/* Files open or being opened; connections whose open found no
	 * descriptor, waiting for one of those to close (see on_open). */
	unsigned files;
	struct conn *fd_wait, *fd_wait_last;
	/* The open-file cache: a hash of nbuckets chains, and its entries
	 * in use order. */
	struct ofile **buckets, *newest, *oldest;
	unsigned nbuckets, nofiles;
	bool accepting, backing_off, timer_armed, stopping;
	uint64_t said[64]; /* errnos logged already */
	time_t date_sec;   /* the second date[] says */
	char date[48];	   /* "Date: ...\r\n", see date_header() */
	size_t date_len;
	int err; /* of starting up, with what failed */
	const char *what;
};

struct conn {
	struct worker *w;
	struct conn *prev, *next; /* in *q */
	struct conn *fd_next;	  /* in w->fd_wait */
	struct queue *q;
	uint64_t deadline;
	urio_id recv_id;
	int fd;
	int file;	    /* the file being sent, or -1 */
	struct ofile *of;   /* file's entry in the open-file cache, if any */
	uint64_t off, left; /* of the file still to send */
	uint64_t discard;   /* body bytes still to read and drop */
	struct job *job;    /* while a request is answered */
	char *in;	    /* bytes received and not yet used */
	size_t in_len, in_cap;
	size_t scanned; /* of in, searched for the head's end */
	size_t step;	/* bytes of the sendfile under way */
	/* The multishot receive is in flight; its cancel was asked. */
	bool recv_live, recv_paused;
	bool busy;	/* a request of the reply is in flight */
	bool feeding;	/* in feed(): not to be freed under it */
	bool closing;	/* ended: freed once nothing is in flight */
	bool peer_eof;	/* the client sent all it will */
	bool lingering; /* after a last reply, reading what still comes */
	bool keep_alive, head_only, error_close, blocking_file;
	bool dir;      /* the path ends in a slash */
	bool index;    /* the open is of a directory's index.html */
	bool other_fs; /* the path crosses a mount point under the root */
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
	id = urio_timeout(w->loop, at > now ? at - now : 1, URIO_F_WAIT,
			  on_timer, w);
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

static void conn_end(struct conn *c);

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
			conn_end(w->q[i].first);
	timer_arm(w);
}

/* Closes up to n of the connections that have waited longest for their
 * client, as nginx reuses its idle connections when it runs short; none
 * that has waited less than grace ns.  Returns how many it closed. */
static unsigned evict(struct worker *w, unsigned n, uint64_t grace)
{
	uint64_t since = now_ns() - grace;
	unsigned done = 0;

	for (; done < n; done++) {
		struct conn *oldest = NULL;

		for (unsigned i = 0; i < NQUEUES; i++) {
			struct conn *c = w->q[i].first;

			if (c && w->q[i].evictable &&
			    c->deadline - w->q[i].ns <= since &&
			    (!oldest ||
			     c->deadline - w->q[i].ns <
				     oldest->deadline - oldest->q->ns))
				oldest = c;
		}
		if (!oldest)
			break;
		conn_end(oldest);
	}
	return done;
}

/* ---- descriptors and jobs ----------------------------------------- */

static void on_closed(urio_loop *loop, int res, void *data)
{
	(void)loop;
	(void)res;
	(void)data;
}

/* Closes fd on the loop: a file's last close may have work to do (a
 * network file system flushes), and the loop's thread must not wait for
 * it.  Nothing waits for the close; with the loop going away, now. */
static void close_fd(struct worker *w, int fd)
{
	if (urio_close(w->loop, fd, URIO_F_WAIT, on_closed, NULL) < 0)
		close(fd);
}

static void open_path(struct conn *c);
static void reply_failed(struct conn *c);

/* One of this thread's files is closed, or an open of one ended without
 * a descriptor: the connection that has waited longest for one opens
 * again (one that ended meanwhile is freed). */
static void fd_freed(struct worker *w)
{
	struct conn *c;

	w->files--;
	while ((c = w->fd_wait) && !w->stopping) {
		w->fd_wait = c->fd_next;
		if (!w->fd_wait)
			w->fd_wait_last = NULL;
		if (!c->closing) {
			open_path(c);
			return;
		}
		reply_failed(c);
	}
}

static void on_file_closed(urio_loop *loop, int res, void *data)
{
	(void)loop;
	(void)res;
	fd_freed(data);
}

/* Closes one of this thread's files, as close_fd, and a connection
 * waiting for a descriptor gets it. */
static void close_file(struct worker *w, int fd)
{
	if (urio_close(w->loop, fd, URIO_F_WAIT, on_file_closed, w) < 0) {
		close(fd);
		fd_freed(w);
	}
}

/* ---- the open-file cache ------------------------------------------ */

static uint32_t path_hash(const char *p)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static struct ofile *ofile_find(struct worker *w, const char *path,
				uint32_t hash)
{
	struct ofile *e = w->buckets[hash & (w->nbuckets - 1)];

	while (e && (e->hash != hash || strcmp(e->path, path)))
		e = e->hnext;
	return e;
}

static void ofile_unlist(struct worker *w, struct ofile *e)
{
	*(e->prev ? &e->prev->next : &w->newest) = e->next;
	*(e->next ? &e->next->prev : &w->oldest) = e->prev;
}

static void ofile_first(struct worker *w, struct ofile *e)
{
	e->prev = NULL;
	e->next = w->newest;
	*(w->newest ? &w->newest->prev : &w->oldest) = e;
	w->newest = e;
}

/* Takes e out of the cache; its descriptor closes now, or when the last
 * reply that sends it ends. */
static void ofile_drop(struct worker *w, struct ofile *e)
{
	struct ofile **pp = &w->buckets[e->hash & (w->nbuckets - 1)];
	int fd = e->fd;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	ofile_unlist(w, e);
	w->nofiles--;
	e->gone = true;
	if (!e->refs) {
		free(e);
		close_file(w, fd);
	}
}

/* A reply is done with e.  While a connection waits for a descriptor,
 * a cached file nobody sends is closed for it. */
static void ofile_put(struct worker *w, struct ofile *e)
{
	int fd = e->fd;

	if (--e->refs)
		return;
	if (!e->gone) {
		if (w->fd_wait)
			ofile_drop(w, e);
		return;
	}
	free(e);
	close_file(w, fd);
}

/* Out of descriptors: the least recently used cached file that no reply
 * sends is closed. */
static void ofile_spare(struct worker *w)
{
	for (struct ofile *e = w->oldest; e; e = e->prev) {
		if (!e->refs) {
			ofile_drop(w, e);
			return;
		}
	}
}

/* At exit, with the loop gone: every cached file closes. */
static void ofile_end(struct worker *w)
{
	while (w->newest) {
		struct ofile *e = w->newest;

		w->newest = e->next;
		close(e->fd);
		free(e);
	}
	free(w->buckets);
	w->buckets = NULL;
}

static void send_file(struct conn *c, uint64_t size);

/* The job's path is in the cache and still valid: c sends it from there. */
static bool ofile_hit(struct conn *c)
{
	struct worker *w = c->w;
	struct ofile *e;

	/* A file named with a slash after it is a 404 (see on_stat). */
	if (!w->nbuckets || c->dir)
		return false;
	e = ofile_find(w, c->job->path, path_hash(c->job->path));
	if (!e)
		return false;
	if (now_ns() - e->opened >= w->srv->valid_ns) {
		ofile_drop(w, e);
		return false;
	}
	e->refs++;
	ofile_unlist(w, e);
	ofile_first(w, e);
	c->of = e;
	c->file = e->fd;
	send_file(c, e->size);
	return true;
}

/* c's file, just opened and found regular, joins the cache (unless
 * another reply put its path there meanwhile), the least recently used
 * one leaving when full, and those past their time at the old end. */
static void ofile_add(struct conn *c, uint64_t size)
{
	struct worker *w = c->w;
	size_t len = strlen(c->job->path);
	uint64_t now = now_ns();
	struct ofile *e;
	uint32_t hash;

	if (!w->nbuckets)
		return;
	hash = path_hash(c->job->path);
	if (ofile_find(w, c->job->path, hash))
		return;
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return;
	while (w->oldest && (w->nofiles >= w->srv->ofiles ||
			     now - w->oldest->opened >= w->srv->valid_ns))
		ofile_drop(w, w->oldest);
	*e = (struct ofile){ .opened = now,
			     .size = size,
			     .refs = 1,
			     .fd = c->file,
			     .hash = hash };
	memcpy(e->path, c->job->path, len + 1);
	e->hnext = w->buckets[hash & (w->nbuckets - 1)];
	w->buckets[hash & (w->nbuckets - 1)] = e;
	ofile_first(w, e);
	w->nofiles++;
	c->of = e;
}

/* The reply is done with its file: closed, or given back to the cache. */
static void file_close(struct conn *c)
{
	int fd = c->file;

	if (fd < 0)
		return;
	c->file = -1;
	if (c->of) {
		ofile_put(c->w, c->of);
		c->of = NULL;
		return;
	}
	/* On a file system we stat inline, a file opened for reading has
	 * nothing to flush at its last close: closed here, without a request
	 * and its completion (1 % of a 4 KiB request's CPU). */
	if (c->w->srv->stat_inline && !c->other_fs) {
		close(fd);
		fd_freed(c->w);
		return;
	}
	close_file(c->w, fd);
}

static struct job *job_get(struct worker *w)
{
	struct job *j = w->jobs;

	if (!j)
		return malloc(sizeof(*j));
	w->jobs = j->next;
	w->njobs--;
	return j;
}

static void job_put(struct worker *w, struct job *j)
{
	if (!j)
		return;
	if (w->njobs >= JOBS_KEPT) {
		free(j);
		return;
	}
	j->next = w->jobs;
	w->jobs = j;
	w->njobs++;
}

/* ---- accepting ---------------------------------------------------- */

static void on_accept(urio_loop *loop, int res, void *data);

static int accept_arm(struct worker *w)
{
	urio_id id;

	if (w->accepting || w->backing_off || w->stopping ||
	    w->nconns >= w->cap)
		return 0;
	id = urio_accept_multi(w->loop, w->srv->lfd, URIO_F_WAIT, on_accept, w);
	if (id < 0)
		return (int)id;
	w->accept_id = id;
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

/* At the cap: no connection is taken until one goes (the accept is armed
 * again then). */
static void accept_pause(struct worker *w)
{
	if (w->accepting && !w->stopping)
		urio_cancel(w->loop, w->accept_id, URIO_F_WAIT, on_closed,
			    NULL);
}

/* Frees c once nothing of it is in flight: its multishot receive has run
 * its last callback and no request of a reply is left. */
static void conn_release(struct conn *c)
{
	struct worker *w = c->w;

	if (!c->closing || c->recv_live || c->busy || c->feeding)
		return;
	queue_remove(c);
	file_close(c);
	job_put(w, c->job);
	free(c->in);
	close_fd(w, c->fd);
	free(c);
	w->nconns--;
	accept_resume(w);
}

/* Ends c now: its socket's requests are cancelled (one not yet in the
 * kernel meets a socket shut down both ways), a file request ends on its
 * own, and the last callback frees c. */
static void conn_end(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	queue_remove(c);
	if (!c->w->stopping)
		urio_cancel_fd(c->w->loop, c->fd);
	shutdown(c->fd, SHUT_RDWR);
	conn_release(c);
}

/* A request of c's reply failed or was cut short: c ends. */
static void reply_failed(struct conn *c)
{
	c->busy = false;
	if (c->closing)
		conn_release(c);
	else
		conn_end(c);
}

static void backoff(struct worker *w);

/* Out of descriptors, accepting waits until a connection can make room:
 * one that has waited BACKOFF_NS for its client at least (a connection
 * just accepted, with its request on the way, is not closed for the next
 * one: that would serve no one). */
static void on_backoff(urio_loop *loop, int res, void *data)
{
	struct worker *w = data;

	(void)loop;
	(void)res;
	w->backing_off = false;
	if (w->stopping)
		return;
	if (w->nconns >= w->cap &&
	    !evict(w, w->nconns - w->cap + 1, BACKOFF_NS)) {
		backoff(w);
		return;
	}
	accept_resume(w);
}

static void backoff(struct worker *w)
{
	if (urio_timeout(w->loop, BACKOFF_NS, URIO_F_WAIT, on_backoff, w) >= 0)
		w->backing_off = true;
}

/* Out of descriptors (or of kernel memory): re-arming the accept at once
 * would fail again at once, a busy loop.  The descriptors allow about this
 * many connections, each with a file open: that is the cap from now on,
 * said once.  Close idle connections down to it (not those just
 * accepted: see on_backoff), and pause. */
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
		evict(w, w->nconns - w->cap + 1, BACKOFF_NS);
	backoff(w);
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

/* A connection (res, with URIO_C_MORE: the accept goes on), or the end of
 * the multishot accept: cancelled at the cap, or an error. */
static void on_accept(urio_loop *loop, int res, void *data)
{
	struct urio_completion cc = { .size = sizeof(cc) };
	struct worker *w = data;

	urio_loop_completion(loop, &cc);
	if (!(cc.flags & URIO_C_MORE))
		w->accepting = false;
	if (res >= 0) {
		if (w->stopping) {
			close(res);
			return;
		}
		/* The last free slot goes now: make room for the next
		 * client, as nginx does once it runs short (the new one is
		 * not a candidate). */
		if (w->nconns + 1 >= w->cap)
			evict(w, 1, 0);
		conn_new(w, res);
		if (w->nconns >= w->cap)
			accept_pause(w);
		else if (!w->accepting)
			accept_resume(w);
		return;
	}
	if (res == -ECANCELED || w->stopping) {
		accept_resume(w); /* a slot may have freed meanwhile */
		return;
	}
	if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS ||
	    res == -ENOMEM) {
		out_of_fds(w, res);
		return;
	}
	if (!accept_transient(res)) {
		fprintf(stderr, "urio-httpd: thread %u: accept: %s\n", w->idx,
			urio_strerror(res));
		exit(1);
	}
	accept_resume(w);
}

/* ---- receiving ---------------------------------------------------- */

static void on_recv(urio_loop *loop, int res, void *data);
static void feed(struct conn *c, const char *p, size_t n);

static void recv_arm(struct conn *c)
{
	urio_id id = urio_recv_multi(c->w->loop, c->fd, c->w->group, 0,
				     URIO_F_WAIT, on_recv, c);

	if (id < 0) {
		conn_end(c);
		return;
	}
	c->recv_id = id;
	c->recv_live = true;
}

/* Receiving stops while a reply is under way and the bytes that wait
 * behind it reach IN_PAUSE: a client that pipelines without reading its
 * replies is held back by TCP, not by our memory. */
static bool recv_wanted(const struct conn *c)
{
	return !c->closing && !c->peer_eof &&
	       !(c->busy && c->in_len >= IN_PAUSE);
}

static void recv_update(struct conn *c)
{
	if (c->recv_live && !c->recv_paused && !recv_wanted(c)) {
		c->recv_paused = urio_cancel(c->w->loop, c->recv_id,
					     URIO_F_WAIT, on_closed, NULL) > 0;
		return;
	}
	/* Paused: its last callback comes, and re-arms it if wanted. */
	if (!c->recv_live && recv_wanted(c))
		recv_arm(c);
}

static void conn_new(struct worker *w, int fd)
{
	struct conn *c = calloc(1, sizeof(*c));
	int one = 1;

	if (!c) {
		close(fd);
		return;
	}
	c->w = w;
	c->fd = fd;
	c->file = -1;
	w->nconns++;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	queue_put(c, Q_HEAD);
	recv_arm(c);
}

/* Each callback with URIO_C_MORE brings res bytes in a buffer of the
 * group, ours until we return; the last one (without) says why the
 * receive ended. */
static void on_recv(urio_loop *loop, int res, void *data)
{
	struct urio_completion cc = { .size = sizeof(cc) };
	struct conn *c = data;

	urio_loop_completion(loop, &cc);
	if (cc.flags & URIO_C_MORE) {
		if (!c->closing && !c->lingering && !c->w->stopping)
			feed(c, cc.buf, (size_t)res);
		return;
	}
	c->recv_live = false;
	if (c->w->stopping)
		c->closing = true;
	if (c->closing) {
		conn_release(c);
		return;
	}
	if (res == -ECANCELED && c->recv_paused) {
		c->recv_paused = false;
		recv_update(c);
		return;
	}
	if (res == 0 && !c->lingering) {
		/* The client has sent all it will: what it sent is still
		 * answered (when it reads). */
		c->peer_eof = true;
		if (!c->busy)
			conn_end(c);
		return;
	}
	conn_end(c); /* a reset, an error, or the end of lingering */
}

/* Keeps n bytes after what the connection holds. */
static bool keep(struct conn *c, const char *p, size_t n)
{
	if (!n)
		return true;
	if (c->in_len + n > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 1024;
		char *in;

		while (cap < c->in_len + n)
			cap *= 2;
		in = realloc(c->in, cap);
		if (!in)
			return false;
		c->in = in;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, p, n);
	c->in_len += n;
	return true;
}

static void serve(struct conn *c, const char *head, long head_len);

/* Uses what buf holds: a body's bytes are dropped, never parsed; a
 * complete head is served (what it needs is copied out).  Returns the
 * bytes used; the rest must be kept for later. */
static size_t use_input(struct conn *c, const char *buf, size_t len)
{
	size_t used = 0, skip;
	long end;

	for (;;) {
		if (c->discard) {
			size_t n = len - used < c->discard ? len - used
							   : (size_t)c->discard;

			c->discard -= n;
			used += n;
		}
		if (c->busy || c->closing || used == len)
			return used;
		skip = http_skip_empty_lines(buf + used, len - used);
		if (skip) {
			used += skip;
			c->scanned = 0;
			continue;
		}
		end = http_head_end(buf + used, len - used, &c->scanned);
		if (!end)
			return used;
		c->scanned = 0;
		/* Too long (-414, -431): answered, and nothing after it is
		 * read as a request. */
		serve(c, buf + used, end);
		used = end < 0 ? len : used + (size_t)end;
	}
}

/* Where a connection waits when nothing of it is in flight but its
 * receive: for the rest of a head, of a body, or for the next request. */
static void wait_input(struct conn *c)
{
	struct queue *q = c->w->q;

	if (c->discard)
		queue_put(c, Q_BUSY);
	else if (c->in_len && c->q != &q[Q_HEAD])
		queue_put(c, Q_HEAD); /* a head has begun: due in full */
	else if (!c->in_len && c->q != &q[Q_HEAD] && c->q != &q[Q_IDLE])
		queue_put(c, Q_IDLE); /* a new connection keeps Q_HEAD */
}

/* n new bytes at p (none: what is kept is to be used now). */
static void feed(struct conn *c, const char *p, size_t n)
{
	bool ok = true;
	size_t used;

	c->feeding = true;
	if (c->in_len || !n) {
		ok = keep(c, p, n);
		used = use_input(c, c->in, c->in_len);
		c->in_len -= used;
		if (c->in_len)
			memmove(c->in, c->in + used, c->in_len);
	} else {
		/* The common case: parsed where it landed. */
		used = use_input(c, p, n);
		ok = keep(c, p + used, n - used);
	}
	if (!c->in_len && c->in) {
		free(c->in); /* an idle connection holds no buffer */
		c->in = NULL;
		c->in_cap = 0;
	}
	c->feeding = false;
	if (!ok)
		conn_end(c);
	if (c->closing) {
		conn_release(c);
		return;
	}
	if (!c->busy && c->peer_eof) {
		conn_end(c); /* nothing more will come to complete it */
		return;
	}
	if (!c->busy)
		wait_input(c);
	recv_update(c);
}

/* ---- replying ----------------------------------------------------- */

/* The server closes: first its side only, then it reads what the client
 * still sends for a while, so the reply is not lost to the reset that
 * closing on unread bytes would send (nginx's lingering close). */
static void close_after_reply(struct conn *c)
{
	if (c->peer_eof || (!c->error_close && !c->discard && !c->in_len)) {
		conn_end(c); /* the client said close, and sent no more */
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->lingering = true;
	c->discard = 0;
	free(c->in); /* what comes now is read and dropped */
	c->in = NULL;
	c->in_len = c->in_cap = 0;
	queue_put(c, Q_LINGER);
	recv_update(c);
}

/* The reply is out: on to the next request, which may be buffered. */
static void reply_done(struct conn *c)
{
	c->busy = false;
	file_close(c);
	job_put(c->w, c->job);
	c->job = NULL;
	if (c->closing || c->w->stopping) {
		c->closing = true;
		conn_release(c);
		return;
	}
	if (!c->keep_alive) {
		close_after_reply(c);
		return;
	}
	feed(c, NULL, 0);
}

static void on_sent(urio_loop *loop, int res, void *data);
static void on_file_read(urio_loop *loop, int res, void *data);
static void on_head_sent(urio_loop *loop, int res, void *data);
static void on_sendfile(urio_loop *loop, int res, void *data);

/* Sends the first len bytes of the job's out buffer, all of them. */
static void send_out(struct conn *c, size_t len)
{
	c->job->sending = len;
	if (urio_send(c->w->loop, c->fd, c->job->out, len, 0,
		      URIO_F_ALL | URIO_F_WAIT, on_sent, c) < 0)
		reply_failed(c);
}

/* The next chunk of the body, behind the head if that is still to go. */
static void read_file(struct conn *c)
{
	struct job *j = c->job;
	size_t chunk = c->off + c->left >= c->w->srv->sendfile_from
			       ? SPILL_CHUNK
			       : BODY_CHUNK;

	if (urio_pread(c->w->loop, c->file, j->out + j->hdr_len,
		       c->left < chunk ? c->left : chunk, c->off, URIO_F_WAIT,
		       on_file_read, c) < 0)
		reply_failed(c);
}

/* The next step of a large file, without copying it: its own deadline. */
static void sendfile_next(struct conn *c)
{
	struct worker *w = c->w;
	urio_id id;

	c->step = c->left < SENDFILE_STEP ? c->left : SENDFILE_STEP;
	id = urio_sendfile(w->loop, c->fd, c->file, c->off, c->step,
			   URIO_F_WAIT, on_sendfile, c);
	if (id == -EMFILE) {
		read_file(c); /* no pipe to be had: the copying way */
		return;
	}
	if (id < 0) {
		reply_failed(c);
		return;
	}
	w->sendfiles++;
}

/* Whether a step of c's reply moved all it was given (want bytes) and c
 * goes on; if not, c ends.  Fewer bytes than asked: the peer went, or a
 * file shrank under us, and the Content-Length sent cannot be kept. */
static bool step_done(struct conn *c, int res, size_t want)
{
	if (res >= 0 && (size_t)res == want && !c->closing && !c->w->stopping)
		return true;
	reply_failed(c);
	return false;
}

static void on_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (!step_done(c, res, c->job->sending))
		return;
	if (c->left) { /* more of a large file, due in its own time */
		queue_put(c, Q_BUSY);
		read_file(c);
		return;
	}
	reply_done(c);
}

static void on_file_read(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;
	struct job *j = c->job;

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
		reply_failed(c);
		return;
	}
	c->off += (uint64_t)res;
	c->left -= (uint64_t)res;
	send_out(c, j->hdr_len + (size_t)res);
	j->hdr_len = 0; /* the head goes with the first chunk only */
}

static void on_head_sent(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	if (!step_done(c, res, c->job->hdr_len))
		return;
	c->job->hdr_len = 0;
	sendfile_next(c);
}

static void on_sendfile(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;

	(void)loop;
	c->w->sendfiles--;
	if (!step_done(c, res, c->step))
		return;
	c->off += (uint64_t)res;
	c->left -= (uint64_t)res;
	if (!c->left) {
		reply_done(c);
		return;
	}
	queue_put(c, Q_BUSY);
	sendfile_next(c);
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

/* The Date header, which RFC 9110 6.6.1 asks of an origin server with a
 * clock on every 2xx, 3xx and 4xx: formatted once a second per thread. */
static const char *date_header(struct worker *w)
{
	time_t now = time(NULL);

	if (now != w->date_sec || !w->date_len) {
		static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
						 "Thu", "Fri", "Sat" };
		static const char months[12][4] = {
			"Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
		};
		struct tm tm;

		gmtime_r(&now, &tm);
		/* IMF-fixdate, spelled out: strftime's names follow the
		 * locale. */
		w->date_len = (size_t)snprintf(
			w->date, sizeof(w->date),
			"Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
			days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
			tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		w->date_sec = now;
	}
	return w->date;
}

/* The media type of a file by its name's extension: the common part of
 * nginx's mime.types (the extension's case aside, as nginx does); any
 * other is application/octet-stream, nginx's default_type. */
static const char *media_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "html", "text/html" },
		{ "htm", "text/html" },
		{ "css", "text/css" },
		{ "txt", "text/plain" },
		{ "xml", "text/xml" },
		{ "js", "application/javascript" },
		{ "mjs", "application/javascript" },
		{ "json", "application/json" },
		{ "wasm", "application/wasm" },
		{ "pdf", "application/pdf" },
		{ "zip", "application/zip" },
		{ "png", "image/png" },
		{ "jpg", "image/jpeg" },
		{ "jpeg", "image/jpeg" },
		{ "gif", "image/gif" },
		{ "webp", "image/webp" },
		{ "svg", "image/svg+xml" },
		{ "ico", "image/x-icon" },
		{ "woff", "font/woff" },
		{ "woff2", "font/woff2" },
		{ "mp3", "audio/mpeg" },
		{ "mp4", "video/mp4" },
		{ "webm", "video/webm" },
	};
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');

	if (dot && dot[1] && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (!strcasecmp(dot + 1, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* A reply of our own: status, headers (extra, if any, ends in CRLF) and a
 * line of text, composed in the job's body.  After a request we could not
 * read, the connection closes, as nginx does: what follows cannot be
 * trusted. */
static void reply(struct conn *c, int code, const char *extra)
{
	const char *text = reason(code);
	struct job *j = c->job;
	int n;

	if (code == 400 || code == 413 || code == 414 || code == 431 ||
	    code == 505) {
		c->keep_alive = false;
		c->error_close = true;
	}
	n = snprintf(j->out, sizeof(j->out),
		     "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n",
		     code, text, date_header(c->w), strlen(text) + 5,
		     extra ? extra : "",
		     c->keep_alive ? "keep-alive" : "close");
	if (!c->head_only)
		n += snprintf(j->out + n, sizeof(j->out) - (size_t)n, "%d %s\n",
			      code, text);
	send_out(c, (size_t)n);
}

/* A 500: the file system failed us (out of descriptors, of memory, an
 * I/O error).  Said once per thread and error, as nginx logs it. */
static int failed(struct conn *c, const char *what, int err)
{
	static const unsigned bits = 8 * sizeof(c->w->said[0]);
	struct worker *w = c->w;
	unsigned e = (unsigned)err < 64 * bits ? (unsigned)err : 0;

	if (!(w->said[e / bits] & (1ull << (e % bits)))) {
		w->said[e / bits] |= 1ull << (e % bits);
		fprintf(stderr, "urio-httpd: thread %u: %s %s: %s\n", w->idx,
			what, c->job->path, strerror(err));
	}
	return 500;
}

/* The status nginx answers an open's error with. */
static int open_status(struct conn *c, int err)
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
		return failed(c, "open", err);
	}
}

static void on_open(urio_loop *loop, int res, void *data);
static void on_stat(urio_loop *loop, int res, void *data);

/* Opens the job's path beneath the root and nowhere else (symlinks
 * included); O_NONBLOCK so that a FIFO's open does not wait for a writer,
 * O_NOCTTY so that a terminal does not become ours.  On a root whose file
 * system we stat inline (see stat_inline), not across a mount point
 * either, at first: past one, the file may be anywhere. */
static void open_path(struct conn *c)
{
	const char *path = c->job->path[0] ? c->job->path : ".";
	uint64_t resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;

	if (ofile_hit(c))
		return;
	if (c->w->srv->stat_inline && !c->other_fs)
		resolve |= RESOLVE_NO_XDEV;
	if (urio_openat(c->w->loop, c->w->srv->root, path,
			O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, resolve,
			URIO_F_WAIT, on_open, c) < 0) {
		reply_failed(c);
		return;
	}
	c->w->files++;
}

/* Out of descriptors: the connections hold them (more of them than
 * RLIMIT_NOFILE leaves a file each, as --max-conns may ask), or files do.
 * While another of this thread's files is open (or opening), c waits for
 * one to close, as a request waits for room in the loop; else, a 500. */
static bool fd_wait(struct conn *c, int res)
{
	struct worker *w = c->w;

	if ((res != -EMFILE && res != -ENFILE) || w->files < 2 || c->closing ||
	    w->stopping)
		return false;
	w->files--;
	c->fd_next = NULL;
	*(w->fd_wait_last ? &w->fd_wait_last->fd_next : &w->fd_wait) = c;
	w->fd_wait_last = c;
	ofile_spare(w);
	return true;
}

/* At exit: the connections still waiting end. */
static void fd_wait_end(struct worker *w)
{
	while (w->fd_wait) {
		struct conn *c = w->fd_wait;

		w->fd_wait = c->fd_next;
		reply_failed(c);
	}
	w->fd_wait_last = NULL;
}

static void on_open(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;
	int ret;

	if (res >= 0)
		c->file = res; /* closed by whoever ends the reply */
	else if (fd_wait(c, res))
		return;
	else
		fd_freed(c->w);
	if (c->closing || c->w->stopping) {
		reply_failed(c);
		return;
	}
	if (res == -EXDEV && c->w->srv->stat_inline && !c->other_fs) {
		/* A mount point, or a way out of the root: once more
		 * without RESOLVE_NO_XDEV tells which. */
		c->other_fs = true;
		open_path(c);
		return;
	}
	if (res < 0) {
		/* No index.html in a directory: nginx's 403. */
		reply(c,
		      c->index && res == -ENOENT ? 403 : open_status(c, -res),
		      NULL);
		return;
	}
	/* What was opened, not what the path names now. */
	if (c->w->srv->stat_inline && !c->other_fs) {
		ret = statx(res, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE,
			    &c->job->stx);
		on_stat(loop, ret < 0 ? -errno : 0, c);
		return;
	}
	if (urio_statx(loop, res, "", AT_EMPTY_PATH, STATX_TYPE | STATX_SIZE,
		       &c->job->stx, URIO_F_WAIT, on_stat, c) < 0)
		reply_failed(c);
}

/* 301 to the same target with a slash after its path. */
static void redirect(struct conn *c)
{
	struct job *j = c->job;
	char loc[HTTP_LINE_MAX + 32];
	const char *q = memchr(j->target, '?', j->target_len);
	int plen = (int)(q ? (size_t)(q - j->target) : j->target_len);

	snprintf(loc, sizeof(loc), "Location: %.*s/%.*s\r\n", plen, j->target,
		 (int)j->target_len - plen, j->target + plen);
	reply(c, 301, loc);
}

/* The head of a 200, then the body: read and sent with it, or spliced. */
static void send_file(struct conn *c, uint64_t size)
{
	struct worker *w = c->w;
	struct job *j = c->job;
	const char *type = media_type(j->path);
	char *p;

	/* Not snprintf: it would cost more than the rest of our own work on
	 * the request. */
	p = LIT(j->out, "HTTP/1.1 200 OK\r\n");
	date_header(w);
	p = put(p, w->date, w->date_len);
	p = LIT(p, "Content-Length: ");
	p = put_u64(p, size);
	p = LIT(p, "\r\nContent-Type: ");
	p = put(p, type, strlen(type));
	p = LIT(p, "\r\nConnection: ");
	p = c->keep_alive ? LIT(p, "keep-alive\r\n\r\n")
			  : LIT(p, "close\r\n\r\n");
	j->hdr_len = (size_t)(p - j->out);
	c->left = c->head_only ? 0 : size;
	if (c->left && c->left >= w->srv->sendfile_from &&
	    w->sendfiles < w->srv->sendfile_max) {
		/* MSG_MORE: the head waits for the body's first bytes. */
		if (urio_send(w->loop, c->fd, j->out, j->hdr_len, MSG_MORE,
			      URIO_F_ALL | URIO_F_WAIT, on_head_sent, c) < 0)
			reply_failed(c);
		return;
	}
	if (c->left) {
		read_file(c);
		return;
	}
	send_out(c, j->hdr_len);
	j->hdr_len = 0;
}

/* A regular file is sent; a directory named without its slash is a 301,
 * with it its index.html (403 without one); anything else that is not a
 * regular file (a FIFO, a device, a socket) is a 404, as nginx answers. */
static void on_stat(urio_loop *loop, int res, void *data)
{
	struct conn *c = data;
	struct job *j = c->job;
	unsigned mode = res < 0 ? 0 : j->stx.stx_mode;

	(void)loop;
	if (c->closing || c->w->stopping) {
		reply_failed(c);
		return;
	}
	if (S_ISDIR(mode) && !c->index) {
		file_close(c);
		if (!c->dir) {
			redirect(c);
			return;
		}
		strcat(j->path, j->path[0] ? "/index.html" : "index.html");
		c->index = true;
		c->dir = false;
		open_path(c);
		return;
	}
	/* Not a regular file, or one named with a slash after it (nginx:
	 * ENOTDIR). */
	if (!S_ISREG(mode) || c->dir) {
		file_close(c);
		reply(c, res < 0 ? failed(c, "stat", -res) : 404, NULL);
		return;
	}
	ofile_add(c, j->stx.stx_size);
	send_file(c, j->stx.stx_size);
}

/* A complete head (or too long a one: -414, -431), at head in a buffer
 * that is ours only during this call.  Nothing of the last request
 * carries over to this one. */
static void serve(struct conn *c, const char *head, long head_len)
{
	struct http_request req;
	struct job *j = job_get(c->w);
	int code;

	if (!j) {
		conn_end(c);
		return;
	}
	c->job = j;
	c->busy = true;
	c->keep_alive = c->head_only = c->error_close = false;
	c->blocking_file = c->dir = c->index = c->other_fs = false;
	c->off = c->left = 0;
	j->hdr_len = 0;
	queue_put(c, Q_BUSY);
	if (head_len < 0) {
		reply(c, (int)-head_len, NULL);
		return;
	}
	code = http_parse_request(head, (size_t)head_len, &req);
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
	/* A body is read and dropped, never parsed. */
	c->discard = req.body_bytes;
	if (req.method == HTTP_OTHER) {
		reply(c, 405, "Allow: GET, HEAD\r\n");
		return;
	}
	if (http_decode_path(req.target, req.target_len, j->path, HTTP_LINE_MAX,
			     &c->dir)) {
		reply(c, 400, NULL);
		return;
	}
	if (req.target_len > sizeof(j->target)) {
		reply(c, 414, NULL);
		return;
	}
	memcpy(j->target, req.target, req.target_len);
	j->target_len = req.target_len;
	open_path(c);
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

/* The receive buffers a thread's loop needs.  On io_uring the kernel
 * hands a buffer to data as it arrives (a buffer ring): a few thousand
 * serve any number of connections.  On libaio urio hands them out itself,
 * one to each receive as it is armed, so that a waiting receive holds one:
 * a connection without one would never be read, and each gets its own. */
static unsigned group_bufs(const struct worker *w, bool own)
{
	unsigned n = 16, want = own ? w->cap + LOOP_SPARE : w->cap;

	while (n < want && n < (own ? 32768u : GROUP_BUFS_MAX))
		n *= 2;
	return n;
}

/* The loop for w->cap connections: held for good, every connection's
 * receive, every buffer of the group (room for the completion that
 * carries it), the sendfiles' pairs, our own few; then a request for each
 * connection with a reply under way, and its file's close.  An io_uring
 * ring completes twice as many as its entries, a libaio context as many. */
static int loop_create(struct worker *w, bool aio, unsigned *bufs)
{
	struct urio_loop_opts o = { .size = sizeof(o), .entries = 64 };
	unsigned busy = w->cap < BUSY_SLOTS ? w->cap : BUSY_SLOTS, want;

	*bufs = group_bufs(w, aio);
	want = w->cap + *bufs + 2 * w->srv->sendfile_max + LOOP_SPARE +
	       2 * busy;
	while (o.entries * (aio ? 1 : 2) < want && o.entries < 32768)
		o.entries *= 2;
	if (aio)
		o.backend = URIO_BACKEND_AIO;
	return urio_loop_create(&w->loop, &o);
}

/* The loop, its receive buffers, its first accept and its signal watch;
 * on failure w->what says which. */
static int worker_start(struct worker *w)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_stats st = { .size = sizeof(st) };
	unsigned bufs, fixed, busy;
	bool aio;
	int ret;

	w->what = "create its loop";
	ret = loop_create(w, false, &bufs);
	if (ret < 0)
		return ret;
	/* Fell back to libaio (the reason is logged): sized for it. */
	urio_loop_layout(w->loop, &lay);
	aio = !strcmp(lay.backend, "libaio");
	if (aio) {
		urio_loop_destroy(w->loop);
		w->loop = NULL;
		ret = loop_create(w, true, &bufs);
		if (ret < 0)
			return ret;
	}
	/* Multishot requests live on the loop's first ring: what it cannot
	 * hold besides a few replies (and on libaio, past its buffers), we
	 * do not take. */
	fixed = bufs + 2 * w->srv->sendfile_max + LOOP_SPARE;
	busy = w->cap < BUSY_SLOTS ? w->cap : BUSY_SLOTS;
	urio_loop_ring_stats(w->loop, 0, &st);
	if (st.cap < w->cap + fixed + busy / 16 ||
	    (aio && w->cap > bufs - LOOP_SPARE)) {
		uint64_t room = st.cap > fixed ? st.cap - fixed : 0;

		room -= room / 16;
		if (aio && room > bufs - LOOP_SPARE)
			room = bufs - LOOP_SPARE;
		w->cap = room ? (unsigned)room : 1;
		if (w->srv->max_conns_asked)
			fprintf(stderr,
				"urio-httpd: thread %u: at most %u "
				"connections: its loop holds %llu requests\n",
				w->idx, w->cap, (unsigned long long)st.cap);
	}
	w->what = "make its open-file cache";
	if (w->srv->ofiles) {
		w->nbuckets = 16;
		while (w->nbuckets < 2 * w->srv->ofiles)
			w->nbuckets *= 2;
		w->buckets = calloc(w->nbuckets, sizeof(*w->buckets));
		if (!w->buckets)
			return -ENOMEM;
	}
	w->what = "make its receive buffers";
	ret = urio_bufgroup_create(w->loop, bufs, GROUP_BUF_SIZE);
	if (ret < 0)
		return ret;
	w->group = ret;
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

/* Every request is cancelled and every connection freed by its own
 * callback, in urio_loop_destroy; then the jobs they gave back. */
static void worker_stop(struct worker *w)
{
	fd_wait_end(w);
	if (w->loop)
		urio_loop_destroy(w->loop);
	ofile_end(w);
	while (w->jobs) {
		struct job *j = w->jobs;

		w->jobs = j->next;
		free(j);
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
	worker_stop(w);
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

/* Whether the root's file system answers a stat of an open file from the
 * inode in memory, never waiting for a disk or a server: then that stat
 * is a plain statx(2) in the loop's thread.  io_uring runs every
 * IORING_OP_STATX in a worker thread (the kernel forces it async), which
 * cost 2.5 us of CPU a request and 15 % of the requests a second here
 * (bench/compare-httpd, 4 KiB files).  Elsewhere (NFS, FUSE, CIFS, an
 * overlay over any of them: whatever is not listed) and past a mount
 * point under the root, urio_statx. */
static bool stat_inline(int root)
{
	struct statfs fs;

	if (fstatfs(root, &fs) < 0)
		return false;
	switch ((unsigned long)fs.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2 and ext3 too */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case F2FS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
		return true;
	default:
		return false;
	}
}

static uint64_t nofile_limit(void)
{
	struct rlimit rl = { 0 };

	getrlimit(RLIMIT_NOFILE, &rl);
	return rl.rlim_cur == RLIM_INFINITY ? 1u << 20 : rl.rlim_cur;
}

/* Sendfiles a thread may have in flight: each holds a pipe (two
 * descriptors) that its loop keeps for the next, so a small RLIMIT_NOFILE
 * allows fewer. */
static unsigned sendfile_max(uint64_t nofile, unsigned threads)
{
	uint64_t n = nofile / threads / 16;

	return n < SENDFILE_MAX ? (unsigned)n : SENDFILE_MAX;
}

/* Each connection may hold two descriptors (its socket and the file it
 * sends); the process keeps some for itself (stdio, the root, the
 * listener, the signalfd, each loop's rings and sendfile pipes). */
static unsigned default_max_conns(unsigned threads, unsigned sendfiles,
				  unsigned ofiles)
{
	uint64_t n = nofile_limit(),
		 spare = 16 + (8 + 2 * (uint64_t)sendfiles + ofiles) * threads;

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
		   "[--idle-timeout 60] [--max-conns N]\n"
		   "       [--sendfile-from 65536 (bytes)] "
		   "[--open-file-cache 0 (files)] [--open-file-valid 60]\n");
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
		{ "sendfile-from", required_argument, NULL, 's' },
		{ "open-file-cache", required_argument, NULL, 'c' },
		{ "open-file-valid", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static const char *const what[] = {
		['p'] = "--port: a number from 0 to 65535",
		['t'] = "--threads: a number from 1 to 64",
		['H'] = "--header-timeout: seconds, 1 to 86400",
		['I'] = "--idle-timeout: seconds, 1 to 86400",
		['m'] = "--max-conns: a number from 1 to 1000000",
		['s'] = "--sendfile-from: bytes, 0 to 2^62",
		['c'] = "--open-file-cache: files, 0 to 65536",
		['v'] = "--open-file-valid: seconds, 1 to 86400",
	};
	struct server s = { .root = -1,
			    .lfd = -1,
			    .threads = 1,
			    .sendfile_from = SENDFILE_FROM };
	unsigned long port = 8080, header = 30, idle = 60, max_conns = 0, v;
	unsigned long valid = 60;
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
		case 's':
			ok = parse_num(optarg, 0, 1ul << 62, &v);
			s.sendfile_from = v;
			break;
		case 'c':
			ok = parse_num(optarg, 0, 65536, &v);
			s.ofiles = (unsigned)v;
			break;
		case 'v':
			ok = parse_num(optarg, 1, 86400, &valid);
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
	s.valid_ns = valid * 1000000000ull;
	s.stat_inline = stat_inline(s.root);
	s.sendfile_max = sendfile_max(nofile_limit(), s.threads);
	s.max_conns = max_conns ? (unsigned)max_conns
				: default_max_conns(s.threads, s.sendfile_max,
						    s.ofiles);
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
	worker_stop(&w[0]);
	for (unsigned i = 1; i < s.threads; i++)
		pthread_join(w[i].th, NULL);
	pthread_barrier_destroy(&s.started);
	free(w);
	close(s.sigfd);
	close(s.lfd);
	close(s.root);
	return 0;
}
