/* SPDX-License-Identifier: MIT */
/* aio.c - the libaio backend, for when io_uring cannot be had: the same ops
 * as a ring, on one Linux AIO context.  What AIO lacks is made here: NOPs
 * and cancels complete in user space, timeouts run on a timerfd whose
 * expiry an IOCB_CMD_POLL reports like any other completion, and socket
 * requests are non-blocking syscalls driven by IOCB_CMD_POLL readiness.
 *
 * A socket request is tried at once (MSG_DONTWAIT; accept and connect need
 * the socket itself non-blocking, so they set O_NONBLOCK on it, as libuv
 * does).  When the socket is not ready its iocb polls for what it waits
 * on and the syscall is tried again when the poll fires; URIO_F_ALL
 * transfers go on until done, EOF or an error.  A socket request's
 * deadline is an entry on the timer list: its expiry cancels the poll and
 * posts the request's second completion (-ETIME), as io_uring's linked
 * timeout does; a request that finishes first posts -ECANCELED there.
 * A poll on a signalfd is the one the kernel cannot make for us: the loop
 * watches it itself (task_poll).
 *
 * Every request holds at most one iocb, from its start until its own
 * completion is posted, so nr iocbs serve the nr completions the context
 * is sized for, and nothing is left in the kernel once every request has
 * completed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <libaio.h>
#include <liburing.h> /* IORING_CQE_F_SOCK_NONEMPTY, as ring.c reports */
#include <linux/sockios.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define UD_TIMER       (URIO_UD_INTERNAL | 0x10)
#define UD_WAKE	       (URIO_UD_INTERNAL | 0x11)
#define AIO_MIN_EVENTS 16
#define NO_SLOT	       UINT32_MAX
#define EVENT_BATCH    64
/* iovecs of a msghdr passed per try once a transfer is partly done. */
#define MSG_IOV_STEP 64

struct aio_timer {
	uint64_t deadline_ns;
	uint64_t ud;  /* | URIO_UD_AUX for a socket request's deadline */
	uint32_t idx; /* that request's iocb, or NO_SLOT for a timeout */
};

/* IOCB_TASK: a poll watched from the task itself (see task_poll). */
enum { IOCB_FREE, IOCB_HELD, IOCB_QUEUED, IOCB_KERNEL, IOCB_TASK };

/* What goes with an iocb: where it is, and for a socket request what to
 * try again when its poll fires. */
struct aio_slot {
	uint64_t ud;
	uint8_t state; /* IOCB_* */
	uint8_t op;
	bool deadline;	 /* its timer is set and its aux completion owed */
	bool connecting; /* connect() said EINPROGRESS: SO_ERROR answers */
	bool all;	 /* MSG_WAITALL: on until done, EOF or error */
	int8_t stream;	 /* 1 a stream socket, 0 not, -1 not asked yet */
	int fd;
	int dead;	 /* cancelled: what its poll's end completes it with */
	int mflags;	 /* MSG_* for the syscall */
	unsigned events; /* what its poll waits for */
	void *buf;	 /* buffer, msghdr or sockaddr */
	void *addrlen;
	int in;		  /* SPLICE: the pipe it sends from */
	size_t len, done; /* bytes asked (for URIO_F_ALL), and moved */
	uint64_t deadline_ns;
};

struct urio_aio {
	struct urio_engine e;
	io_context_t ctx;
	unsigned nr; /* events the context holds */
	/* nr + 2: the last two poll the timerfd and the loop's wake-up fd */
	struct iocb *iocbs;
	struct aio_slot *slots;
	struct iocb **pending;
	unsigned npending;
	uint32_t *free_iocb; /* stack of free iocb indexes */
	unsigned nfree;
	struct urio_cqe *ready; /* completions made in user space */
	unsigned ready_head, nready;
	struct aio_timer *timers; /* sorted by deadline */
	unsigned ntimers;
	int timer_fd;
	bool timer_polled;
	int wake_fd;
	/* The loop's wake-up fd, polled so that another thread's
	 * urio_loop_post() ends a wait; -1 while the user waits on it. */
	int post_fd;
	bool post_polled;
	/* Every iocb signals it (unless the user's wake_fd): what a wait that
	 * must watch polls of the task's own as well sleeps on. */
	int evfd;
	/* A sendfile step whose file-to-pipe half came short: its send, the
	 * linked half, ends -ECANCELED as io_uring's link does. */
	uint64_t broken_link;
	unsigned ntask;	    /* polls in IOCB_TASK */
	struct pollfd *pfd; /* for watching them */
	unsigned in_kernel; /* iocbs submitted and not yet reaped */
	bool fetched;	    /* next() already asked the kernel this pass */
	unsigned pass_left; /* of the completions this pass began with */
};

static inline struct urio_aio *to_aio(struct urio_engine *e)
{
	return (struct urio_aio *)e;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void push_ready(struct urio_aio *a, uint64_t ud, int res, uint32_t flags)
{
	unsigned i = (a->ready_head + a->nready) % (a->e.cap + 1);

	a->ready[i].ud = ud;
	a->ready[i].res = res;
	a->ready[i].flags = flags;
	a->nready++;
}

/* A completion made here, not by the kernel: an fd the user waits on
 * must hear of it all the same. */
static void wake(struct urio_aio *a)
{
	uint64_t one = 1;

	if (a->wake_fd >= 0 && write(a->wake_fd, &one, sizeof(one)) < 0) {
		/* a full counter is readable: enough */
	}
}

static void complete_here(struct urio_aio *a, uint64_t ud, int res)
{
	push_ready(a, ud, res, 0);
	wake(a);
}

/* Completions of an iocb signal the fd the loop's waits watch. */
static void set_evfd(struct urio_aio *a, struct iocb *cb)
{
	io_set_eventfd(cb, a->wake_fd >= 0 ? a->wake_fd : a->evfd);
}

/* Requests driven by a socket's readiness (a sendfile's send is one). */
static bool is_sock(uint8_t op)
{
	return (op >= URIO_OP_ACCEPT && op <= URIO_OP_POLL) ||
	       op == URIO_OP_SPLICE;
}

/* ---- iocbs ---- */

static void release(struct urio_aio *a, uint32_t idx)
{
	a->iocbs[idx].data = NULL;
	a->slots[idx].state = IOCB_FREE;
	a->free_iocb[a->nfree++] = idx;
}

static void queue(struct urio_aio *a, uint32_t idx)
{
	a->slots[idx].state = IOCB_QUEUED;
	a->pending[a->npending++] = &a->iocbs[idx];
}

static void unqueue(struct urio_aio *a, uint32_t idx)
{
	for (unsigned k = 0; k < a->npending; k++) {
		if (a->pending[k] != &a->iocbs[idx])
			continue;
		a->npending--;
		memmove(a->pending + k, a->pending + k + 1,
			(a->npending - k) * sizeof(*a->pending));
		break;
	}
	a->slots[idx].state = IOCB_HELD;
}

/* ---- timers ---- */

/* Arms the timerfd for the earliest timer, and keeps a poll on it. */
static void arm_timer(struct urio_aio *a)
{
	struct itimerspec its = { 0 };
	struct iocb *cb = &a->iocbs[a->nr];

	if (a->ntimers) {
		uint64_t d = a->timers[0].deadline_ns;

		its.it_value.tv_sec = (time_t)(d / 1000000000u);
		its.it_value.tv_nsec = (long)(d % 1000000000u);
		if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
			its.it_value.tv_nsec = 1;
	}
	timerfd_settime(a->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
	if (a->ntimers && !a->timer_polled) {
		io_prep_poll(cb, a->timer_fd, POLLIN);
		cb->data = (void *)(uintptr_t)UD_TIMER;
		set_evfd(a, cb);
		queue(a, a->nr);
		a->timer_polled = true;
	}
}

static void add_timer(struct urio_aio *a, uint64_t d, uint64_t ud, uint32_t idx)
{
	unsigned i = a->ntimers;

	while (i && a->timers[i - 1].deadline_ns > d) {
		a->timers[i] = a->timers[i - 1];
		i--;
	}
	a->timers[i] = (struct aio_timer){ d, ud, idx };
	a->ntimers++;
	if (i == 0)
		arm_timer(a);
}

static void remove_timer(struct urio_aio *a, unsigned i)
{
	a->ntimers--;
	memmove(a->timers + i, a->timers + i + 1,
		(a->ntimers - i) * sizeof(*a->timers));
}

/* Saturates: a timeout of UINT64_MAX ns (never, in effect) must not wrap
 * round to a deadline in the past and fire at once, as io_uring's does not. */
static uint64_t deadline_of(const struct __kernel_timespec *ts)
{
	uint64_t rel =
		(uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
	uint64_t d;

	return __builtin_add_overflow(mono_ns(), rel, &d) ? UINT64_MAX : d;
}

/* A request finished before its deadline: the timer goes (the timerfd
 * may fire early for it: that only re-arms it) and the aux completion
 * says the deadline did not fire. */
static void drop_deadline(struct urio_aio *a, uint32_t idx)
{
	struct aio_slot *s = &a->slots[idx];
	unsigned lo = 0, hi = a->ntimers;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (a->timers[mid].deadline_ns < s->deadline_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < a->ntimers && a->timers[lo].deadline_ns == s->deadline_ns;
	     lo++) {
		if (a->timers[lo].idx == idx) {
			remove_timer(a, lo);
			break;
		}
	}
	s->deadline = false;
	push_ready(a, s->ud | URIO_UD_AUX, -ECANCELED, 0);
}

/* The request of iocb idx is done: its completion (and its deadline's)
 * is posted and the iocb is free.  It is not on the pending list. */
static void finish(struct urio_aio *a, uint32_t idx, int res, uint32_t flags)
{
	struct aio_slot *s = &a->slots[idx];

	push_ready(a, s->ud, res, flags);
	if (s->deadline)
		drop_deadline(a, idx);
	release(a, idx);
}

/* What a socket request that ends early returns: the bytes it moved, if
 * any (io_uring does the same), else err. */
static int partial_or(const struct aio_slot *s, int err)
{
	return s->done ? (int)s->done : err;
}

/* Ends request idx with res: now when it has not reached the kernel,
 * else by cancelling its poll (its end brings the completion).  A file
 * request in the kernel runs to its end: AIO cannot stop it. */
static void stop(struct urio_aio *a, uint32_t idx, int res)
{
	struct aio_slot *s = &a->slots[idx];
	struct io_event ev;

	if (s->state == IOCB_QUEUED) {
		unqueue(a, idx);
		finish(a, idx, partial_or(s, res), 0);
		return;
	}
	if (s->state == IOCB_TASK) {
		a->ntask--;
		finish(a, idx, res, 0);
		return;
	}
	if (s->state != IOCB_KERNEL)
		return;
	if (is_sock(s->op)) {
		if (s->dead)
			return;
		s->dead = res;
	}
	/* -EINPROGRESS: the poll ends soon; -EINVAL: it already ended.
	 * Either way its event comes. */
	io_cancel(a->ctx, &a->iocbs[idx], &ev);
}

/* Polls the loop's wake-up fd (after resetting it: what woke the loop
 * is about to be looked at). */
static void arm_post(struct urio_aio *a)
{
	struct iocb *cb = &a->iocbs[a->nr + 1];
	uint64_t v;

	if (a->post_fd < 0 || a->post_polled)
		return;
	if (read(a->post_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to reset */
	}
	io_prep_poll(cb, a->post_fd, POLLIN);
	cb->data = (void *)(uintptr_t)UD_WAKE;
	set_evfd(a, cb);
	queue(a, a->nr + 1);
	a->post_polled = true;
}

/* Stops internal poll idx: at once if it never reached the kernel, else
 * by a cancel (its event, when it comes, arms nothing). */
static void stop_internal(struct urio_aio *a, uint32_t idx, bool *polled)
{
	struct io_event ev;

	if (a->slots[idx].state == IOCB_QUEUED) {
		unqueue(a, idx);
		a->slots[idx].state = IOCB_FREE;
		*polled = false;
	} else if (*polled) {
		io_cancel(a->ctx, &a->iocbs[idx], &ev);
	}
}

/* Expired timers: a timeout completes; a deadline posts its aux
 * completion and cancels its request. */
static void expire_timers(struct urio_aio *a)
{
	uint64_t now = mono_ns(), v;
	unsigned n = 0;

	if (read(a->timer_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: not expired yet, or already read */
	}
	while (n < a->ntimers && a->timers[n].deadline_ns <= now) {
		struct aio_timer *t = &a->timers[n++];

		push_ready(a, t->ud, -ETIME, 0);
		if (t->idx != NO_SLOT) {
			a->slots[t->idx].deadline = false;
			stop(a, t->idx, -ECANCELED);
		}
	}
	a->ntimers -= n;
	memmove(a->timers, a->timers + n, a->ntimers * sizeof(*a->timers));
	arm_timer(a);
}

static void arm_poll(struct urio_aio *a, uint32_t idx)
{
	struct aio_slot *s = &a->slots[idx];
	struct iocb *cb = &a->iocbs[idx];

	io_prep_poll(cb, s->fd, (int)s->events);
	cb->data = (void *)(uintptr_t)s->ud;
	set_evfd(a, cb);
	queue(a, idx);
}

static int flush_pending(struct urio_aio *a)
{
	while (a->npending) {
		int ret = io_submit(a->ctx, a->npending, a->pending);

		if (ret < 0) {
			if (ret == -EAGAIN || ret == -EINTR)
				return 0; /* retried on the next enter */
			/* The first iocb is bad: fail it alone, go on. */
			uint32_t idx = (uint32_t)(a->pending[0] - a->iocbs);

			unqueue(a, idx);
			if (idx >= a->nr) {
				/* An internal poll: it goes unarmed. */
				a->slots[idx].state = IOCB_FREE;
				*(idx == a->nr ? &a->timer_polled
					       : &a->post_polled) = false;
			} else {
				finish(a, idx, partial_or(&a->slots[idx], ret),
				       0);
			}
			continue;
		}
		for (int i = 0; i < ret; i++)
			a->slots[a->pending[i] - a->iocbs].state = IOCB_KERNEL;
		a->in_kernel += (unsigned)ret;
		a->npending -= (unsigned)ret;
		memmove(a->pending, a->pending + ret,
			a->npending * sizeof(*a->pending));
	}
	return 0;
}

/* Cancels request ud: a timeout here, a request not yet in the kernel
 * here, a socket request's poll; a file iocb in the kernel only where
 * Linux AIO can (a few file types). */
static int cancel_one(struct urio_aio *a, uint64_t ud)
{
	struct io_event ev;

	for (unsigned i = 0; i < a->ntimers; i++) {
		if (a->timers[i].ud != ud)
			continue;
		push_ready(a, ud, -ECANCELED, 0);
		remove_timer(a, i);
		arm_timer(a);
		return 0;
	}
	for (uint32_t i = 0; i < a->nr; i++) {
		struct aio_slot *s = &a->slots[i];

		if (s->state == IOCB_FREE || s->ud != ud)
			continue;
		if (s->state == IOCB_QUEUED || s->state == IOCB_TASK ||
		    is_sock(s->op)) {
			if (s->dead)
				return -EALREADY;
			stop(a, i, -ECANCELED);
			return 0;
		}
		return io_cancel(a->ctx, &a->iocbs[i], &ev) == -EINPROGRESS
			       ? 0
			       : -EALREADY;
	}
	return -ENOENT;
}

/* ---- sockets ---- */

/* io_uring goes on with a partial URIO_F_ALL transfer only on stream
 * sockets; so does this. */
static bool is_stream(struct aio_slot *s)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (s->stream < 0)
		s->stream = getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &type,
				       &len) == 0 &&
			    (type == SOCK_STREAM || type == SOCK_SEQPACKET);
	return s->stream;
}

/* recvmsg/sendmsg of what is left of the msghdr: its first s->done bytes
 * went with the first tries, and so did its name and control data. */
static ssize_t msg_rest(struct aio_slot *s, int fl)
{
	struct msghdr *m = s->buf, part = { 0 };
	struct iovec iov[MSG_IOV_STEP];
	size_t skip = s->done, k = 0, n = 0;
	ssize_t ret;

	if (!skip)
		return s->op == URIO_OP_RECVMSG ? recvmsg(s->fd, m, fl)
						: sendmsg(s->fd, m, fl);
	while (k < m->msg_iovlen && skip >= m->msg_iov[k].iov_len)
		skip -= m->msg_iov[k++].iov_len;
	for (; k < m->msg_iovlen && n < MSG_IOV_STEP; k++)
		iov[n++] = m->msg_iov[k];
	iov[0].iov_base = (char *)iov[0].iov_base + skip;
	iov[0].iov_len -= skip;
	part.msg_iov = iov;
	part.msg_iovlen = n;
	if (s->op == URIO_OP_SENDMSG)
		return sendmsg(s->fd, &part, fl);
	ret = recvmsg(s->fd, &part, fl);
	if (ret >= 0)
		m->msg_flags |= part.msg_flags;
	return ret;
}

/* A receive that filled its buffer may have left more behind: say so, as
 * io_uring's IORING_CQE_F_SOCK_NONEMPTY does.  (One that did not fill it
 * emptied a stream socket; a datagram socket may still hold more, which
 * goes unreported here.) */
static uint32_t rx_flags(const struct aio_slot *s, ssize_t n)
{
	int inq = 0;

	if ((size_t)n < s->len || ioctl(s->fd, SIOCINQ, &inq) < 0 || inq <= 0)
		return 0;
	return IORING_CQE_F_SOCK_NONEMPTY;
}

/* A sendfile's send: splice from its pipe to the socket (non-blocking: the
 * socket is made so, as for accept).  splice(2) raises SIGPIPE when the
 * peer is gone (it has no MSG_NOSIGNAL; io_uring's splice runs in a worker,
 * where the signal is lost): it is blocked for the call, and taken back if
 * the call raised it. */
static ssize_t splice_out(int pipe_rd, int sock, size_t len)
{
	struct timespec zero = { 0, 0 };
	sigset_t pipe_sig, old;
	ssize_t n;
	int err;

	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
	n = splice(pipe_rd, NULL, sock, NULL, len, SPLICE_F_NONBLOCK);
	err = errno;
	if (n < 0 && err == EPIPE && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe_sig, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = err;
	return n;
}

/* One try of a socket request, without blocking: its result, or -EAGAIN
 * when it waits for its poll. */
static int sock_try(struct aio_slot *s, uint32_t *cflags)
{
	int fl = s->mflags | MSG_DONTWAIT, err;
	socklen_t len = sizeof(err);
	ssize_t n;

	switch (s->op) {
	case URIO_OP_ACCEPT:
		n = accept4(s->fd, s->buf, s->addrlen, SOCK_CLOEXEC);
		break;
	case URIO_OP_CONNECT:
		/* The poll fired for POLLOUT, POLLERR or POLLHUP: it is
		 * over, and SO_ERROR says how. */
		if (s->connecting)
			return getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err,
					  &len) < 0
				       ? -errno
				       : -err;
		if (connect(s->fd, s->buf, (socklen_t)s->len) == 0)
			return 0;
		if (errno == EINPROGRESS || errno == EINTR) {
			s->connecting = true;
			return -EAGAIN;
		}
		return -errno; /* EAGAIN: a full AF_UNIX backlog, wait */
	case URIO_OP_RECV:
		n = recv(s->fd, (char *)s->buf + s->done, s->len - s->done, fl);
		break;
	case URIO_OP_SEND:
		n = send(s->fd, (char *)s->buf + s->done, s->len - s->done, fl);
		break;
	case URIO_OP_SPLICE:
		n = splice_out(s->in, s->fd, s->len);
		break;
	default:
		n = msg_rest(s, fl);
		break;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return -EAGAIN;
		return partial_or(s, -errno);
	}
	if (s->op == URIO_OP_ACCEPT)
		return (int)n;
	s->done += (size_t)n;
	/* Partly done: the socket is drained (or full), so wait. */
	if (n && s->all && s->done < s->len && is_stream(s))
		return -EAGAIN;
	if (n && (s->op == URIO_OP_RECV || s->op == URIO_OP_RECVMSG))
		*cflags = rx_flags(s, (ssize_t)s->done);
	return (int)s->done;
}

static size_t msg_len(const struct msghdr *m)
{
	size_t total = 0;

	for (size_t i = 0; i < m->msg_iovlen; i++)
		total += m->msg_iov[i].iov_len;
	return total;
}

/* Whether a poll of fd must run in the task itself: a signalfd answers
 * for the task that polls it, and AIO evaluates polls in a kernel worker,
 * where a signalfd never becomes readable.  Such polls are watched here:
 * each pass looks (poll, without waiting), and a blocking wait sleeps in
 * ppoll on them and on the eventfd every iocb signals. */
static bool task_poll(int fd)
{
	char path[32], link[32];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return !strcmp(link, "anon_inode:[signalfd]");
}

/* A task poll's look: its revents, or -EAGAIN. */
static int poll_now(const struct aio_slot *s)
{
	struct pollfd p = { .fd = s->fd, .events = (short)s->events };

	if (poll(&p, 1, 0) <= 0)
		return -EAGAIN;
	return p.revents;
}

/* Looks at the task polls (EVENT_BATCH of them at most: a signalfd or
 * two is what they are for); with wait, sleeps until one is ready or an
 * iocb completes (its eventfd).  0, or -EINTR. */
static int check_tasks(struct urio_aio *a, bool wait)
{
	struct timespec zero = { 0, 0 };
	uint32_t idx[EVENT_BATCH];
	unsigned n = 0;
	uint64_t v;

	for (uint32_t i = 0; i < a->nr && n < a->ntask && n < EVENT_BATCH;
	     i++) {
		if (a->slots[i].state != IOCB_TASK)
			continue;
		a->pfd[n] =
			(struct pollfd){ .fd = a->slots[i].fd,
					 .events = (short)a->slots[i].events };
		idx[n++] = i;
	}
	a->pfd[n] = (struct pollfd){ .fd = a->evfd, .events = POLLIN };
	if (ppoll(a->pfd, n + wait, wait ? NULL : &zero, NULL) < 0)
		return errno == EINTR ? -EINTR : 0;
	for (unsigned k = 0; k < n; k++) {
		if (!a->pfd[k].revents)
			continue;
		a->ntask--;
		finish(a, idx[k], a->pfd[k].revents, 0);
	}
	if (wait && a->pfd[n].revents && read(a->evfd, &v, sizeof(v)) < 0) {
		/* EAGAIN: read already */
	}
	return 0;
}

/* A socket request: tried at once; if the socket is not ready, its iocb
 * polls for it, and its deadline (if any) starts. */
static int sock_prep(struct urio_aio *a, const struct urio_io *io)
{
	uint32_t idx, cflags = 0;
	struct aio_slot *s;
	bool in_task;
	int res;

	if (!a->nfree)
		return -EAGAIN;
	idx = a->free_iocb[--a->nfree];
	s = &a->slots[idx];
	*s = (struct aio_slot){
		.ud = io->ud,
		.state = IOCB_HELD,
		.op = io->op,
		.stream = -1,
		.fd = io->fd,
		.buf = io->op == URIO_OP_RECV || io->op == URIO_OP_SEND
			       ? io->buf
			       : io->addr,
		.addrlen = io->addrlen,
		.len = io->len,
	};
	switch (io->op) {
	case URIO_OP_ACCEPT:
	case URIO_OP_RECV:
	case URIO_OP_RECVMSG:
		s->events = io->arg & MSG_OOB ? POLLPRI : POLLIN;
		break;
	case URIO_OP_POLL:
		s->events = (unsigned)io->arg;
		break;
	default:
		s->events = POLLOUT;
		break;
	}
	if (io->op == URIO_OP_SPLICE)
		s->in = (int)io->arg;
	if (io->op == URIO_OP_ACCEPT || io->op == URIO_OP_CONNECT ||
	    io->op == URIO_OP_SPLICE) {
		res = urio__set_nonblock(io->fd);
		if (res < 0)
			goto done;
	} else if (io->op != URIO_OP_POLL) {
		/* MSG_WAITALL is done here (a non-blocking call cannot
		 * wait), except with MSG_PEEK, which moves nothing. */
		s->mflags = (int)io->arg & ~MSG_WAITALL;
		s->all = (io->arg & MSG_WAITALL) && !(io->arg & MSG_PEEK);
		if (io->op == URIO_OP_RECVMSG || io->op == URIO_OP_SENDMSG)
			s->len = msg_len(io->addr);
	}
	/* A poll's first look is the kernel's, at submission, or its own
	 * for a poll the kernel cannot make. */
	in_task = io->op == URIO_OP_POLL && task_poll(io->fd);
	if (io->op == URIO_OP_POLL)
		res = in_task ? poll_now(s) : -EAGAIN;
	else
		res = sock_try(s, &cflags);
	if (res == -EAGAIN) {
		if (io->deadline) {
			s->deadline = true;
			s->deadline_ns = deadline_of(io->deadline);
			add_timer(a, s->deadline_ns, io->ud | URIO_UD_AUX, idx);
		}
		if (in_task) {
			s->state = IOCB_TASK;
			a->ntask++;
		} else {
			arm_poll(a, idx);
		}
		return 0;
	}
done:
	push_ready(a, io->ud, res, cflags);
	if (io->deadline)
		push_ready(a, io->ud | URIO_UD_AUX, -ECANCELED, 0);
	release(a, idx);
	wake(a);
	return 0;
}

/* Shutdown and close do not wait: done at once. */
static void sock_now(struct urio_aio *a, const struct urio_io *io)
{
	int ret = io->op == URIO_OP_CLOSE ? close(io->fd)
					  : shutdown(io->fd, (int)io->arg);

	push_ready(a, io->ud, ret < 0 ? -errno : 0, 0);
	if (io->deadline)
		push_ready(a, io->ud | URIO_UD_AUX, -ECANCELED, 0);
	wake(a);
}

/* openat2 or statx, at once. */
static int path_call(const struct urio_io *io)
{
	long ret;

	if (io->op == URIO_OP_OPENAT)
		ret = syscall(SYS_openat2, io->fd, io->addr, io->addrlen,
			      sizeof(struct open_how));
	else
		ret = statx(io->fd, io->addr, (int)io->arg, io->len, io->buf);
	return ret < 0 ? -errno : (int)ret;
}

/* A sendfile step's first half, file to pipe, at once (a file read
 * through AIO's splice-less interface would be synchronous anyway); a
 * short one breaks the link to its send. */
static int splice_in(struct urio_aio *a, const struct urio_io *io)
{
	loff_t off = (loff_t)io->off;
	ssize_t n = splice((int)io->arg, &off, io->fd, NULL, io->len,
			   SPLICE_F_NONBLOCK);

	if (n != (ssize_t)io->len)
		a->broken_link = io->ud;
	return n < 0 ? -errno : (int)n;
}

/* ---- the ops ---- */

static int aio_prep(struct urio_engine *e, const struct urio_io *io)
{
	struct urio_aio *a = to_aio(e);
	struct iocb *cb;
	uint32_t idx;

	switch (io->op) {
	case URIO_OP_NOP:
		complete_here(a, io->ud, 0);
		return 0;
	case URIO_OP_TIMEOUT:
		add_timer(a, deadline_of(io->ts), io->ud, NO_SLOT);
		return 0;
	case URIO_OP_CANCEL:
		complete_here(a, io->ud, cancel_one(a, io->arg));
		return 0;
	case URIO_OP_FALLOCATE:
		/* AIO has no fallocate: a metadata call, done here. */
		complete_here(a, io->ud,
			      fallocate(io->fd, (int)io->arg, (off_t)io->off,
					(off_t)io->len64)
				      ? -errno
				      : 0);
		return 0;
	case URIO_OP_SHUTDOWN:
	case URIO_OP_CLOSE:
		sock_now(a, io);
		return 0;
	case URIO_OP_OPENAT:
	case URIO_OP_STATX:
		/* AIO has neither: done here, like fallocate. */
		complete_here(a, io->ud, path_call(io));
		return 0;
	case URIO_OP_SPLICE:
		if (io->link) {
			complete_here(a, io->ud, splice_in(a, io));
			return 0;
		}
		if (a->broken_link == io->ud) {
			a->broken_link = 0;
			complete_here(a, io->ud, -ECANCELED);
			return 0;
		}
		return sock_prep(a, io);
	default:
		if (is_sock(io->op))
			return sock_prep(a, io);
		break;
	}
	if (!a->nfree)
		return -EAGAIN;
	idx = a->free_iocb[a->nfree - 1];
	cb = &a->iocbs[idx];
	switch (io->op) {
	case URIO_OP_READ:
		io_prep_pread(cb, io->fd, io->buf, io->len, (long long)io->off);
		break;
	case URIO_OP_WRITE:
		io_prep_pwrite(cb, io->fd, io->buf, io->len,
			       (long long)io->off);
		break;
	case URIO_OP_READV:
		io_prep_preadv(cb, io->fd, io->buf, (int)io->len,
			       (long long)io->off);
		break;
	case URIO_OP_WRITEV:
		io_prep_pwritev(cb, io->fd, io->buf, (int)io->len,
				(long long)io->off);
		break;
	case URIO_OP_FSYNC:
		io_prep_fsync(cb, io->fd);
		break;
	case URIO_OP_FDATASYNC:
		io_prep_fdsync(cb, io->fd);
		break;
	default:
		return -EINVAL;
	}
	a->nfree--;
	a->slots[idx] = (struct aio_slot){ .ud = io->ud, .op = io->op };
	cb->data = (void *)(uintptr_t)io->ud;
	set_evfd(a, cb);
	queue(a, idx);
	return 0;
}

/* A socket request's poll fired: try again, or wait again. */
static void sock_ready(struct urio_aio *a, uint32_t idx, int res)
{
	struct aio_slot *s = &a->slots[idx];
	uint32_t cflags = 0;

	if (s->dead)
		res = partial_or(s, s->dead);
	else if (res < 0) /* the poll itself failed */
		res = partial_or(s, res);
	else if (s->op != URIO_OP_POLL)
		res = sock_try(s, &cflags);
	if (res == -EAGAIN)
		arm_poll(a, idx);
	else
		finish(a, idx, res, cflags);
}

/* Turns kernel events into ready completions (the timer's poll into
 * expired timeouts, a socket's poll into another try). */
static void take_events(struct urio_aio *a, struct io_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t idx = (uint32_t)((struct iocb *)ev[i].obj - a->iocbs);

		a->in_kernel--;
		a->slots[idx].state = IOCB_HELD;
		if (idx == a->nr) {
			a->slots[idx].state = IOCB_FREE;
			a->timer_polled = false;
			expire_timers(a);
		} else if (idx == a->nr + 1) {
			a->slots[idx].state = IOCB_FREE;
			a->post_polled = false;
			arm_post(a);
		} else if (is_sock(a->slots[idx].op)) {
			sock_ready(a, idx, (int)(long)ev[i].res);
		} else {
			finish(a, idx, (int)(long)ev[i].res, 0);
		}
	}
}

static int aio_enter(struct urio_engine *e, bool wait)
{
	struct urio_aio *a = to_aio(e);
	struct io_event ev[EVENT_BATCH];
	struct timespec zero = { 0, 0 };
	int ret = flush_pending(a);

	if (ret < 0 || !wait || a->nready)
		return ret;
	if (a->ntask) {
		/* Task polls to watch as well: sleep in ppoll, then take
		 * what the kernel has. */
		ret = check_tasks(a, true);
		if (ret < 0)
			return ret;
		ret = a->in_kernel
			      ? io_getevents(a->ctx, 0, EVENT_BATCH, ev, &zero)
			      : 0;
		if (ret > 0)
			take_events(a, ev, ret);
		return flush_pending(a);
	}
	if (!a->in_kernel)
		return 0;
	/* Block for one event and take every other one ready with it: AIO
	 * cannot peek, so they become ready completions for next(). */
	ret = io_getevents(a->ctx, 1, EVENT_BATCH, ev, NULL);
	if (ret < 0)
		return ret; /* -EINTR too: a signal ends the wait */
	take_events(a, ev, ret);
	/* A fired timer may have re-armed its poll, a socket its own. */
	return flush_pending(a);
}

/* Takes the next ready completion; when none is, asks the kernel (without
 * waiting) once a pass. */
static bool aio_next(struct urio_engine *e, struct urio_cqe *out)
{
	struct urio_aio *a = to_aio(e);

	if (!a->fetched) {
		if (!a->nready) {
			struct io_event ev[EVENT_BATCH];
			struct timespec zero = { 0, 0 };
			int got = a->in_kernel
					  ? io_getevents(a->ctx, 0, EVENT_BATCH,
							 ev, &zero)
					  : 0;

			if (got > 0)
				take_events(a, ev, got);
			if (a->ntask)
				check_tasks(a, false);
			if (a->ntimers && a->timers[0].deadline_ns <= mono_ns())
				expire_timers(a);
		}
		a->fetched = true;
		/* A pass takes what was ready when it began: what callbacks
		 * complete at once (NOPs) waits for the next one, or a
		 * callback that always submits another would hold it. */
		a->pass_left = a->nready;
	}
	if (!a->nready || !a->pass_left) {
		a->fetched = false;
		return false;
	}
	a->pass_left--;
	*out = a->ready[a->ready_head];
	a->ready_head = (a->ready_head + 1) % (a->e.cap + 1);
	a->nready--;
	return true;
}

/* The AIO ring's header, mapped at the context's address. */
struct aio_ring_hdr {
	unsigned id, nr, head, tail, magic;
};
#define AIO_RING_MAGIC 0xa10a10a1

static bool aio_has_ready(struct urio_engine *e)
{
	struct urio_aio *a = to_aio(e);
	const struct aio_ring_hdr *r = (const void *)a->ctx;

	if (a->nready)
		return true;
	if (r && r->magic == AIO_RING_MAGIC)
		return __atomic_load_n(&r->head, __ATOMIC_ACQUIRE) !=
		       __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	return a->in_kernel != 0;
}

static int aio_cancel_all(struct urio_engine *e)
{
	struct urio_aio *a = to_aio(e);

	/* Timeouts end, deadlines post their aux completion now. */
	while (a->ntimers) {
		struct aio_timer *t = &a->timers[0];

		push_ready(a, t->ud, -ECANCELED, 0);
		if (t->idx != NO_SLOT)
			a->slots[t->idx].deadline = false;
		remove_timer(a, 0);
	}
	for (uint32_t i = 0; i < a->nr; i++)
		stop(a, i, -ECANCELED);
	/* The internal polls: stopped, so nothing waits on them. */
	stop_internal(a, a->nr, &a->timer_polled);
	a->post_fd = -1;
	stop_internal(a, a->nr + 1, &a->post_polled);
	return 0;
}

/* Socket requests on fd in the kernel, being cancelled. */
static bool dying_on(const struct urio_aio *a, int fd)
{
	for (uint32_t i = 0; i < a->nr; i++) {
		const struct aio_slot *s = &a->slots[i];

		if (s->state == IOCB_KERNEL && s->dead && s->fd == fd &&
		    is_sock(s->op))
			return true;
	}
	return false;
}

/* Synchronous, as io_uring's: every request on fd has posted its
 * completion when this returns, so the poll iocbs cancelled are waited
 * for here (the kernel ends a cancelled poll from a work item, at once). */
static int aio_cancel_fd(struct urio_engine *e, int fd)
{
	struct urio_aio *a = to_aio(e);
	struct io_event ev[EVENT_BATCH];
	struct timespec limit = { 1, 0 };
	int n = 0, got;

	for (uint32_t i = 0; i < a->nr; i++) {
		struct aio_slot *s = &a->slots[i];

		if (s->state == IOCB_FREE || !is_sock(s->op) || s->fd != fd ||
		    s->dead)
			continue;
		stop(a, i, -ECANCELED);
		n++;
	}
	while (dying_on(a, fd)) {
		got = io_getevents(a->ctx, 1, EVENT_BATCH, ev, &limit);
		if (got > 0)
			take_events(a, ev, got);
		else if (got != -EINTR)
			break; /* they complete later, from the loop */
	}
	if (!n)
		return -ENOENT;
	wake(a);
	return n;
}

static int aio_set_wake(struct urio_engine *e, int evfd)
{
	to_aio(e)->wake_fd = evfd;
	return 0;
}

static int aio_arm_wake(struct urio_engine *e, int evfd)
{
	struct urio_aio *a = to_aio(e);

	a->post_fd = evfd;
	arm_post(a);
	return 0;
}

static int aio_disarm_wake(struct urio_engine *e)
{
	struct urio_aio *a = to_aio(e);

	a->post_fd = -1;
	stop_internal(a, a->nr + 1, &a->post_polled);
	return 0;
}

static int aio_register_buf(struct urio_engine *e, void *base, size_t len)
{
	(void)e;
	(void)base;
	(void)len;
	return 0; /* AIO pins pages per request; nothing to register */
}

static int aio_register_file(struct urio_engine *e, unsigned slot, int fd,
			     unsigned nslots)
{
	(void)e;
	(void)slot;
	(void)fd;
	(void)nslots;
	return -ENOTSUP; /* AIO has no registered-file table */
}

static void aio_free(struct urio_aio *a)
{
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	if (a->evfd >= 0)
		close(a->evfd);
	free(a->pfd);
	free(a->iocbs);
	free(a->slots);
	free(a->pending);
	free(a->free_iocb);
	free(a->ready);
	free(a->timers);
	free(a);
}

static void aio_destroy(struct urio_engine *e, bool owner)
{
	struct urio_aio *a = to_aio(e);

	/* io_destroy cancels what is still in the kernel and waits for it.
	 * A forked child has no AIO context (its mapping is not
	 * inherited). */
	if (owner && a->ctx)
		io_destroy(a->ctx);
	aio_free(a);
}

static const struct urio_engine_ops aio_ops = {
	.name = "libaio",
	.prep = aio_prep,
	.enter = aio_enter,
	.next = aio_next,
	.has_ready = aio_has_ready,
	.cancel_all = aio_cancel_all,
	.cancel_fd = aio_cancel_fd,
	.set_wake = aio_set_wake,
	.arm_wake = aio_arm_wake,
	.disarm_wake = aio_disarm_wake,
	.register_file = aio_register_file,
	.register_buf = aio_register_buf,
	.destroy = aio_destroy,
};

int urio_aio_create(struct urio_engine **out, unsigned nr, unsigned *got_nr)
{
	struct urio_aio *a = calloc(1, sizeof(*a));
	int ret = -ENOMEM;

	if (!a)
		return -ENOMEM;
	a->timer_fd = -1;
	a->evfd = -1;
	a->wake_fd = -1;
	a->post_fd = -1;
	/* fs.aio-max-nr exhausted answers EAGAIN: take a smaller context. */
	for (;;) {
		ret = io_setup((int)nr + 2, &a->ctx);
		if (ret != -EAGAIN || nr <= AIO_MIN_EVENTS)
			break;
		nr /= 2;
	}
	if (ret < 0) {
		a->ctx = 0;
		aio_free(a);
		return ret;
	}
	a->nr = nr;
	a->e.ops = &aio_ops;
	a->e.cap = nr;
	a->e.desc.entries = nr;
	a->e.desc.cq_entries = nr;
	a->e.desc.kind = URIO_RING_AIO;
	a->iocbs = calloc(nr + 2, sizeof(*a->iocbs));
	a->slots = calloc(nr + 2, sizeof(*a->slots));
	a->pending = calloc(nr + 2, sizeof(*a->pending));
	a->free_iocb = calloc(nr, sizeof(*a->free_iocb));
	a->ready = calloc(nr + 1, sizeof(*a->ready));
	a->timers = calloc(nr, sizeof(*a->timers));
	a->pfd = calloc(EVENT_BATCH + 1, sizeof(*a->pfd));
	a->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!a->iocbs || !a->slots || !a->pending || !a->free_iocb ||
	    !a->ready || !a->timers || !a->pfd || a->timer_fd < 0 ||
	    a->evfd < 0) {
		ret = a->timer_fd < 0 || a->evfd < 0 ? -errno : -ENOMEM;
		aio_destroy(&a->e, true);
		return ret;
	}
	for (unsigned i = 0; i < nr; i++)
		a->free_iocb[a->nfree++] = nr - 1 - i;
	*got_nr = nr;
	*out = &a->e;
	return 0;
}
