/* SPDX-License-Identifier: MIT */
/* net.c - socket requests on the same loop and under the same in-flight
 * bounds as file I/O: accept, connect, recv, send, sendmsg, recvmsg,
 * shutdown, close, poll; a per-loop deadline (a linked timeout) for them;
 * and cancellation of everything on an fd. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "req.h"

#define NET_FLAGS (URIO_F_WAIT | URIO_F_ALL)

static int check(urio_loop *loop, int fd, unsigned flags, urio_cb cb)
{
	int ret = urio__check_loop(loop);

	if (URIO_UNLIKELY(ret < 0))
		return ret;
	if (URIO_UNLIKELY(fd < 0))
		return -EBADF;
	if (URIO_UNLIKELY(!cb || (flags & ~NET_FLAGS)))
		return -EINVAL;
	return 0;
}

static urio_id net(urio_loop *loop, struct urio_io *io, unsigned flags,
		   urio_cb cb, void *data)
{
	struct __kernel_timespec ts;

	io->file_slot = -1;
	if (loop->deadline_ns) {
		ts.tv_sec = (long long)(loop->deadline_ns / 1000000000u);
		ts.tv_nsec = (long long)(loop->deadline_ns % 1000000000u);
		io->deadline = &ts; /* copied into the request's record */
	}
	return urio__submit(loop, NULL, -1, io, NULL, flags & URIO_F_WAIT, cb,
			    data);
}

/* The short path for a socket request: no deadline to link, and the loop
 * has room on its only plain ring. */
static inline bool net_fast(urio_loop *loop, int fd, unsigned flags, urio_cb cb,
			    struct io_uring_sqe **sqe)
{
	return urio__loop_ok(loop) && fd >= 0 && cb && !(flags & ~NET_FLAGS) &&
	       !loop->deadline_ns && urio__fast_sqe(loop, NULL, sqe);
}

urio_id urio_accept(urio_loop *loop, int fd, struct sockaddr *addr,
		    socklen_t *addrlen, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = URIO_OP_ACCEPT, .fd = fd, .addr = addr, .addrlen = addrlen
	};
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (!addr != !addrlen)
		return -EINVAL;
	return net(loop, &io, flags, cb, data);
}

urio_id urio_connect(urio_loop *loop, int fd, const struct sockaddr *addr,
		     socklen_t addrlen, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = { .op = URIO_OP_CONNECT,
			      .fd = fd,
			      .addr = (void *)addr,
			      .len = addrlen };
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (!addr || !addrlen)
		return -EINVAL;
	return net(loop, &io, flags, cb, data);
}

/* MSG_* flags a request may pass on to the kernel. */
#define RECV_MSG_FLAGS \
	(MSG_PEEK | MSG_TRUNC | MSG_OOB | MSG_WAITALL | MSG_ERRQUEUE)
#define SEND_MSG_FLAGS                                                \
	(MSG_MORE | MSG_EOR | MSG_OOB | MSG_DONTROUTE | MSG_WAITALL | \
	 MSG_NOSIGNAL)

/* The kernel's flags for a transfer: the caller's, checked, with no
 * SIGPIPE from a peer that went away (-EPIPE instead); URIO_F_ALL has the
 * kernel retry partial transfers itself. */
static int msg_flags_for(uint8_t op, int msg_flags, unsigned flags)
{
	bool rx = op == URIO_OP_RECV || op == URIO_OP_RECVMSG;
	int allowed = rx ? RECV_MSG_FLAGS : SEND_MSG_FLAGS;

	if (msg_flags & ~allowed)
		return -1;
	return msg_flags | (rx ? 0 : MSG_NOSIGNAL) |
	       (flags & URIO_F_ALL ? MSG_WAITALL : 0);
}

static urio_id xfer(urio_loop *loop, uint8_t op, int fd, void *buf, size_t len,
		    int msg_flags, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = op, .fd = fd, .buf = buf, .len = (uint32_t)len
	};
	int mf = msg_flags_for(op, msg_flags, flags), ret;
	struct io_uring_sqe *sqe;

	if (URIO_LIKELY(buf && len - 1 < URIO_MAX_IO && mf >= 0 &&
			net_fast(loop, fd, flags, cb, &sqe))) {
		io_uring_prep_rw(op == URIO_OP_RECV ? IORING_OP_RECV
						    : IORING_OP_SEND,
				 sqe, fd, buf, (unsigned)len, 0);
		sqe->msg_flags = (unsigned)mf;
		return urio__fast_commit(loop, NULL, sqe, cb, data);
	}
	ret = check(loop, fd, flags, cb);
	if (ret < 0)
		return ret;
	if (!buf || !len || len > URIO_MAX_IO || mf < 0)
		return -EINVAL;
	io.arg = (unsigned)mf;
	return net(loop, &io, flags, cb, data);
}

urio_id urio_recv(urio_loop *loop, int fd, void *buf, size_t len, int msg_flags,
		  unsigned flags, urio_cb cb, void *data)
{
	return xfer(loop, URIO_OP_RECV, fd, buf, len, msg_flags, flags, cb,
		    data);
}

urio_id urio_send(urio_loop *loop, int fd, const void *buf, size_t len,
		  int msg_flags, unsigned flags, urio_cb cb, void *data)
{
	return xfer(loop, URIO_OP_SEND, fd, (void *)buf, len, msg_flags, flags,
		    cb, data);
}

static urio_id msg(urio_loop *loop, uint8_t op, int fd, const struct msghdr *m,
		   int msg_flags, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = { .op = op, .fd = fd, .addr = (void *)m };
	int mf = msg_flags_for(op, msg_flags, flags), ret;
	bool ok = m && (!m->msg_iovlen || m->msg_iov) &&
		  m->msg_iovlen <= URIO_MAX_IOV && mf >= 0;
	struct io_uring_sqe *sqe;

	if (URIO_LIKELY(ok && net_fast(loop, fd, flags, cb, &sqe))) {
		io_uring_prep_rw(op == URIO_OP_RECVMSG ? IORING_OP_RECVMSG
						       : IORING_OP_SENDMSG,
				 sqe, fd, m, 1, 0);
		sqe->msg_flags = (unsigned)mf;
		return urio__fast_commit(loop, NULL, sqe, cb, data);
	}
	ret = check(loop, fd, flags, cb);
	if (ret < 0)
		return ret;
	if (!ok)
		return -EINVAL;
	io.arg = (unsigned)mf;
	return net(loop, &io, flags, cb, data);
}

urio_id urio_sendmsg(urio_loop *loop, int fd, const struct msghdr *m,
		     int msg_flags, unsigned flags, urio_cb cb, void *data)
{
	return msg(loop, URIO_OP_SENDMSG, fd, m, msg_flags, flags, cb, data);
}

urio_id urio_recvmsg(urio_loop *loop, int fd, struct msghdr *m, int msg_flags,
		     unsigned flags, urio_cb cb, void *data)
{
	return msg(loop, URIO_OP_RECVMSG, fd, m, msg_flags, flags, cb, data);
}

urio_id urio_shutdown(urio_loop *loop, int fd, int how, unsigned flags,
		      urio_cb cb, void *data)
{
	struct urio_io io = { .op = URIO_OP_SHUTDOWN,
			      .fd = fd,
			      .arg = (uint64_t)how };
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR)
		return -EINVAL;
	return net(loop, &io, flags, cb, data);
}

urio_id urio_close(urio_loop *loop, int fd, unsigned flags, urio_cb cb,
		   void *data)
{
	struct urio_io io = { .op = URIO_OP_CLOSE, .fd = fd, .file_slot = -1 };
	int ret = check(loop, fd, flags, cb);

	/* No deadline: a close is not something to give up on. */
	return ret < 0 ? ret
		       : urio__submit(loop, NULL, -1, &io, NULL,
				      flags & URIO_F_WAIT, cb, data);
}

urio_id urio_poll(urio_loop *loop, int fd, unsigned events, unsigned flags,
		  urio_cb cb, void *data)
{
	struct urio_io io = { .op = URIO_OP_POLL, .fd = fd, .arg = events };
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (!events || (events & ~(unsigned)(POLLIN | POLLOUT | POLLPRI |
					     POLLRDHUP | POLLERR | POLLHUP)))
		return -EINVAL;
	return net(loop, &io, flags, cb, data);
}

int urio_cancel_fd(urio_loop *loop, int fd)
{
	int ret = urio__check_loop(loop), total = 0, n;

	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EBADF;
	total = urio__cancel_parked_fd(loop, fd);
	/* Synchronous, on every ring: a socket's requests may sit on any
	 * plain ring.  Each cancelled request completes with -ECANCELED. */
	for (unsigned i = 0; i < loop->nengines; i++) {
		n = loop->engines[i]->ops->cancel_fd(loop->engines[i], fd);
		if (n > 0)
			total += n;
		else if (n < 0 && n != -ENOENT)
			return n;
	}
	return total;
}

urio_id urio_accept_multi(urio_loop *loop, int fd, unsigned flags, urio_cb cb,
			  void *data)
{
	struct urio_io io = { .op = URIO_OP_ACCEPT,
			      .fd = fd,
			      .file_slot = -1,
			      .multi = true,
			      .group = -1 };
	int ret = check(loop, fd, flags & ~URIO_F_ALL, cb);

	if (ret < 0)
		return ret;
	if (flags & URIO_F_ALL)
		return -EINVAL;
	/* One accept at a time, armed again by the loop: see urio.h. */
	return urio__submit(loop, NULL, 0, &io, NULL, flags, cb, data);
}

urio_id urio_recv_multi(urio_loop *loop, int fd, int group, int msg_flags,
			unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = { .fd = fd,
			      .file_slot = -1,
			      .multi = true,
			      .group = (int16_t)group };
	int ret = check(loop, fd, flags & ~URIO_F_ALL, cb), mf;

	if (ret < 0)
		return ret;
	mf = msg_flags_for(URIO_OP_RECV, msg_flags, 0);
	/* Each receive is what arrived: MSG_WAITALL has no meaning here. */
	if ((flags & URIO_F_ALL) || mf < 0 || (mf & (MSG_WAITALL | MSG_PEEK)))
		return -EINVAL;
	if (group < 0 || group >= URIO_MAX_GROUPS || !loop->groups[group].used)
		return -ENOENT;
	io.arg = (unsigned)mf;
	io.op = loop->groups[group].br ? URIO_OP_RECV_MULTI : URIO_OP_RECV;
	return urio__submit(loop, NULL, 0, &io, NULL, flags, cb, data);
}
