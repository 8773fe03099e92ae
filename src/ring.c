/* SPDX-License-Identifier: MIT */
/* ring.c - one io_uring as a urio backend: set-up with the flags the kernel
 * accepts, request preparation, submission and reaping. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"

#define UD_WAKE	       (URIO_UD_INTERNAL | 1)
#define UD_CANCEL_ALL  (URIO_UD_INTERNAL | 2)
#define UD_WAKE_REMOVE (URIO_UD_INTERNAL | 3)

struct urio_ring {
	struct urio_engine e;
	struct io_uring ring;
	unsigned flags;
	unsigned features;  /* IORING_FEAT_* */
	unsigned cqe_shift; /* 1 for 32-byte CQEs */
	bool fetched;	    /* next() already asked the kernel this pass */
	bool files;	    /* a sparse registered-file table exists */
	int wake_fd;	    /* eventfd polled by this ring, or -1 */
	bool wake_armed;    /* a poll on wake_fd is in flight */
};

static inline struct urio_ring *to_ring(struct urio_engine *e)
{
	return (struct urio_ring *)e;
}

static struct io_uring_sqe *ring_sqe(struct urio_ring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (URIO_LIKELY(sqe))
		return sqe;
	/* The SQ is full: submit it to make room (batching ends here). */
	if (io_uring_submit(&r->ring) < 0)
		return NULL;
	return io_uring_get_sqe(&r->ring);
}

static int ring_prep(struct urio_engine *e, const struct urio_io *io)
{
	struct urio_ring *r = to_ring(e);
	struct io_uring_sqe *sqe;

	/* A request with a deadline is two SQEs, submitted together, as is
	 * a linked pair: a link never spans a submit. */
	if ((io->deadline || io->link) &&
	    io_uring_sq_space_left(&r->ring) < 2 &&
	    io_uring_submit(&r->ring) < 0)
		return -EAGAIN;
	sqe = ring_sqe(r);

	if (URIO_UNLIKELY(!sqe))
		return -EAGAIN;
	switch (io->op) {
	case URIO_OP_NOP:
		io_uring_prep_nop(sqe);
		break;
	case URIO_OP_READ:
		if (io->fixed)
			io_uring_prep_read_fixed(sqe, io->fd, io->buf, io->len,
						 io->off, io->buf_index);
		else
			io_uring_prep_read(sqe, io->fd, io->buf, io->len,
					   io->off);
		break;
	case URIO_OP_WRITE:
		if (io->fixed)
			io_uring_prep_write_fixed(sqe, io->fd, io->buf, io->len,
						  io->off, io->buf_index);
		else
			io_uring_prep_write(sqe, io->fd, io->buf, io->len,
					    io->off);
		break;
	case URIO_OP_READV:
		io_uring_prep_readv(sqe, io->fd, io->buf, io->len, io->off);
		break;
	case URIO_OP_WRITEV:
		io_uring_prep_writev(sqe, io->fd, io->buf, io->len, io->off);
		break;
	case URIO_OP_FSYNC:
		io_uring_prep_fsync(sqe, io->fd, 0);
		break;
	case URIO_OP_FDATASYNC:
		io_uring_prep_fsync(sqe, io->fd, IORING_FSYNC_DATASYNC);
		break;
	case URIO_OP_TIMEOUT:
		io_uring_prep_timeout(sqe, io->ts, 0, 0);
		break;
	case URIO_OP_CANCEL: /* len: IORING_ASYNC_CANCEL_* flags */
		io_uring_prep_cancel64(sqe, io->arg, (int)io->len);
		break;
	case URIO_OP_URING_CMD:
		urio_nvme_prep_sqe_op(
			sqe, io->file_slot >= 0 ? io->file_slot : io->fd,
			io->file_slot >= 0,
			io->len ? io->len : NVME_URING_CMD_IO, io->cmd,
			io->fixed, io->buf_index);
		io_uring_sqe_set_data64(sqe, io->ud);
		return 0;
	case URIO_OP_ACCEPT:
		io_uring_prep_accept(sqe, io->fd, io->addr, io->addrlen,
				     SOCK_CLOEXEC);
		break;
	case URIO_OP_CONNECT:
		io_uring_prep_connect(sqe, io->fd, io->addr, io->len);
		break;
	case URIO_OP_RECV:
		io_uring_prep_recv(sqe, io->fd, io->buf, io->len, (int)io->arg);
		break;
	case URIO_OP_SEND:
		io_uring_prep_send(sqe, io->fd, io->buf, io->len, (int)io->arg);
		break;
	case URIO_OP_RECVMSG:
		io_uring_prep_recvmsg(sqe, io->fd, io->addr, (unsigned)io->arg);
		break;
	case URIO_OP_SENDMSG:
		io_uring_prep_sendmsg(sqe, io->fd, io->addr, (unsigned)io->arg);
		break;
	case URIO_OP_SHUTDOWN:
		io_uring_prep_shutdown(sqe, io->fd, (int)io->arg);
		break;
	case URIO_OP_CLOSE:
		io_uring_prep_close(sqe, io->fd);
		break;
	case URIO_OP_POLL:
		io_uring_prep_poll_add(sqe, io->fd, (unsigned)io->arg);
		break;
	case URIO_OP_OPENAT:
		io_uring_prep_openat2(sqe, io->fd, io->addr, io->addrlen);
		break;
	case URIO_OP_STATX:
		io_uring_prep_statx(sqe, io->fd, io->addr, (int)io->arg,
				    io->len, io->buf);
		break;
	case URIO_OP_SPLICE:
		io_uring_prep_splice(sqe, (int)io->arg, (int64_t)io->off,
				     io->fd, -1, io->len, (unsigned)io->len64);
		if (io->link)
			sqe->flags |= IOSQE_IO_LINK;
		break;
	case URIO_OP_RECV_MULTI:
		io_uring_prep_recv_multishot(sqe, io->fd, NULL, 0,
					     (int)io->arg);
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = (uint16_t)io->group;
		break;
	case URIO_OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, io->fd, (int)io->arg, io->off,
					io->len64);
		break;
	default:
		/* Give the slot back as a NOP nobody waits for. */
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, URIO_UD_INTERNAL);
		return -EINVAL;
	}
	if (io->file_slot >= 0) {
		sqe->fd = io->file_slot;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
	io_uring_sqe_set_data64(sqe, io->ud);
	if (io->deadline) {
		/* ring_prep kept room for both: a link never spans a submit. */
		struct io_uring_sqe *lt = io_uring_get_sqe(&r->ring);

		sqe->flags |= IOSQE_IO_LINK;
		io_uring_prep_link_timeout(lt, io->deadline, 0);
		io_uring_sqe_set_data64(lt, io->ud | URIO_UD_AUX);
	}
	return 0;
}

static int ring_enter(struct urio_engine *e, bool wait)
{
	struct urio_ring *r = to_ring(e);
	int ret;

	if (!wait) {
		ret = io_uring_sq_ready(&r->ring) ? io_uring_submit(&r->ring)
						  : 0;
		return ret < 0 && ret != -EINTR ? ret : 0;
	}
	ret = io_uring_submit_and_wait(&r->ring, 1);
	if (ret < 0 && ret != -ETIME)
		return ret;
	/* A wait returns once a CQE is there, or for a signal: but when the
	 * same call submitted SQEs the kernel answers with their count, not
	 * -EINTR.  Woken with nothing to take, it was a signal. */
	if (!io_uring_cq_ready(&r->ring) &&
	    !(IO_URING_READ_ONCE(*r->ring.sq.kflags) & IORING_SQ_TASKRUN))
		return -EINTR;
	return 0;
}

/* Hands the SQEs prepared so far to the kernel's side of the SQ (what
 * liburing does before each io_uring_enter); how many wait there. */
static unsigned ring_flush_sq(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;

	if (sq->sqe_head != sq->sqe_tail) {
		sq->sqe_head = sq->sqe_tail;
		io_uring_smp_store_release(sq->ktail, sq->sqe_tail);
	}
	return sq->sqe_tail - IO_URING_READ_ONCE(*sq->khead);
}

/* Submits and sleeps in one io_uring_enter, with what liburing 2.3 cannot
 * pass: min_wait_usec.  Without IORING_FEAT_EXT_ARG (before 5.11) the
 * timeout and min_wait are ignored. */
static int ring_wait(struct urio_engine *e, const struct urio_wait_args *a)
{
	struct urio_ring *r = to_ring(e);
	struct io_uring *ring = &r->ring;
	struct __kernel_timespec ts;
	struct urio_getevents_arg arg = { .sigmask_sz = _NSIG / 8 };
	unsigned flags = IORING_ENTER_GETEVENTS, submit;
	bool quiet = a->quiet && r->ring.cq.kflags;
	bool sqpoll = r->flags & IORING_SETUP_SQPOLL;
	/* polled by this thread in io_uring_enter, not by an SQ thread */
	bool iopoll = (r->flags & IORING_SETUP_IOPOLL) && !sqpoll;
	unsigned reg = ring->int_flags & 1 /* liburing's INT_FLAG_REG_RING */
			       ? IORING_ENTER_REGISTERED_RING
			       : 0;
	uint64_t t0 = a->timeout_ns ? urio__mono_ns() : 0;
	int ret;

	if (!(r->features & IORING_FEAT_EXT_ARG))
		return ring_enter(e, true);
	/* Eventfd signals would only wake the primary for nothing. */
	if (quiet)
		io_uring_cq_eventfd_toggle(ring, false);
	submit = ring_flush_sq(ring);
	if (a->min_wait_usec && (r->features & IORING_FEAT_MIN_TIMEOUT))
		arg.min_wait_usec = a->min_wait_usec;
	/* Past min_wait the kernel waits for the first completion only
	 * when there is an overall timeout: one long enough not to count. */
	ts.tv_sec = a->timeout_ns ? (long long)(a->timeout_ns / 1000000000u)
				  : 86400;
	ts.tv_nsec =
		a->timeout_ns ? (long long)(a->timeout_ns % 1000000000u) : 0;
	if (a->timeout_ns || arg.min_wait_usec)
		arg.ts = (uintptr_t)&ts;
	flags |= IORING_ENTER_EXT_ARG;
	/* An SQ thread that went to sleep must be woken for new SQEs; the
	 * barrier orders the tail store before the flag load, as the SQ
	 * thread orders its flag store before its last look at the tail. */
	if (sqpoll) {
		io_uring_smp_mb();
		if (IO_URING_READ_ONCE(*ring->sq.kflags) &
		    IORING_SQ_NEED_WAKEUP)
			flags |= IORING_ENTER_SQ_WAKEUP;
	}
	flags |= reg;
	/* A call that submits answers with its count, in place of the
	 * wait's own answer.  Where a wait can end with nothing to take for
	 * more than a signal, that answer is needed: the SQ thread submits on
	 * an SQPOLL ring; an IOPOLL ring's poll also stops when its CPU is
	 * wanted elsewhere (need_resched), so its SQEs go in a call of their
	 * own first.  A signal in that call lands while the loop works, not
	 * while it waits, as one in a callback does. */
	if (iopoll && submit) {
		ret = (int)syscall(__NR_io_uring_enter, ring->enter_ring_fd,
				   submit, 0, reg, NULL, 0);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			goto out;
		}
		submit = 0;
	}
	ret = (int)syscall(__NR_io_uring_enter, ring->enter_ring_fd,
			   sqpoll ? 0 : submit, a->nr ? a->nr : 1, flags, &arg,
			   sizeof(arg));
	if (ret < 0)
		ret = -errno;
out:
	if (quiet)
		io_uring_cq_eventfd_toggle(ring, true);
	if (ret == -ETIME)
		return 0;
	if (ret < 0 && ret != -EINTR)
		return ret;
	/* The wait's own answer, 0 or -EINTR.  An SQPOLL ring can also wake
	 * its waiter before the completion is there: a timeout that fires
	 * counts as one at once, and the SQ thread posts its CQE later. */
	if (sqpoll || iopoll)
		return ret;
	/* Woken with nothing to take: a signal, unless the timeout passed
	 * (a call that submitted answers with the count either way). */
	if (!io_uring_cq_ready(ring) &&
	    !(IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN) &&
	    (!a->timeout_ns || urio__mono_ns() - t0 < a->timeout_ns))
		return -EINTR;
	return 0;
}

static void ring_arm(struct urio_ring *r)
{
	struct io_uring_sqe *sqe;

	if (r->wake_fd < 0 || r->wake_armed)
		return;
	sqe = ring_sqe(r);
	if (!sqe)
		return; /* retried on the next reap */
	/* One-shot, re-armed after each wake: at most one internal CQE. */
	io_uring_prep_poll_add(sqe, r->wake_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD_WAKE);
	r->wake_armed = true;
}

static void ring_wake_cqe(struct urio_ring *r)
{
	uint64_t v;

	r->wake_armed = false;
	if (r->wake_fd < 0)
		return; /* the poll's own end after disarm_wake */
	/* Reset the counter so the next poll sleeps until a new signal. */
	if (read(r->wake_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: somebody drained it first; nothing to do. */
	}
	ring_arm(r);
}

static bool ring_has_ready(struct urio_engine *e)
{
	struct urio_ring *r = to_ring(e);

	/* A polled ring completes only when asked: always ask. */
	if ((r->flags & IORING_SETUP_IOPOLL) && e->c.inflight)
		return true;
	return io_uring_cq_ready(&r->ring) ||
	       (IO_URING_READ_ONCE(*r->ring.sq.kflags) &
		(IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW));
}

/* Takes the next CQE, the head moved past it before the caller acts on
 * it.  An empty CQ is asked to the kernel once a pass: completions wait
 * there as task work (DEFER_TASKRUN), or must be polled (IOPOLL), and what
 * callbacks prepared goes out in the same call. */
static bool ring_next(struct urio_engine *e, struct urio_cqe *out)
{
	struct urio_ring *r = to_ring(e);
	struct io_uring_cq *cq = &r->ring.cq;

	for (;;) {
		unsigned head = *cq->khead;
		const struct io_uring_cqe *cqe;

		if (head == io_uring_smp_load_acquire(cq->ktail)) {
			if (URIO_UNLIKELY(
				    IO_URING_READ_ONCE(*r->ring.sq.kflags) &
				    IORING_SQ_CQ_OVERFLOW))
				e->c.overflows++;
			if (r->fetched || !ring_has_ready(e)) {
				r->fetched = false;
				return false;
			}
			r->fetched = true;
			if (io_uring_sq_ready(&r->ring))
				io_uring_submit_and_get_events(&r->ring);
			else
				io_uring_get_events(&r->ring);
			continue;
		}
		cqe = &cq->cqes[(head & cq->ring_mask) << r->cqe_shift];
		out->ud = cqe->user_data;
		out->res = cqe->res;
		out->flags = cqe->flags;
		io_uring_smp_store_release(cq->khead, head + 1);
		if (URIO_UNLIKELY(out->ud & URIO_UD_INTERNAL)) {
			urio__ring_internal(e, out->ud);
			continue;
		}
		return true;
	}
}

void urio__ring_internal(struct urio_engine *e, uint64_t ud)
{
	if (ud == UD_WAKE)
		ring_wake_cqe(to_ring(e));
}

int urio__ring_pbuf(struct urio_engine *e, unsigned bgid,
		    struct io_uring_buf_ring *br, unsigned entries)
{
	struct io_uring_buf_reg reg = {
		.ring_addr = (uintptr_t)br,
		.ring_entries = entries,
		.bgid = (uint16_t)bgid,
	};

	if (e->ops->next != ring_next)
		return -EOPNOTSUPP;
	if (!br)
		return io_uring_unregister_buf_ring(&to_ring(e)->ring,
						    (int)bgid);
	return io_uring_register_buf_ring(&to_ring(e)->ring, &reg, 0);
}

struct io_uring *urio__ring_uring(struct urio_engine *e)
{
	return e->ops->next == ring_next ? &to_ring(e)->ring : NULL;
}

static int ring_cancel_all(struct urio_engine *e)
{
	struct urio_ring *r = to_ring(e);
	struct io_uring_sqe *sqe = ring_sqe(r);

	if (!sqe)
		return -EAGAIN;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data64(sqe, UD_CANCEL_ALL);
	return ring_enter(e, false);
}

static int ring_cancel_fd(struct urio_engine *e, int fd)
{
	struct io_uring_sync_cancel_reg reg = {
		.fd = fd,
		.flags = IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL,
		.timeout = { -1, -1 },
	};

	return io_uring_register_sync_cancel(&to_ring(e)->ring, &reg);
}

static int ring_set_wake(struct urio_engine *e, int evfd)
{
	return io_uring_register_eventfd(&to_ring(e)->ring, evfd);
}

static int ring_arm_wake(struct urio_engine *e, int evfd)
{
	struct urio_ring *r = to_ring(e);

	r->wake_fd = evfd;
	ring_arm(r);
	return r->wake_armed ? 0 : -EAGAIN;
}

static int ring_disarm_wake(struct urio_engine *e)
{
	struct urio_ring *r = to_ring(e);
	struct io_uring_sqe *sqe;

	if (r->wake_fd < 0)
		return 0;
	r->wake_fd = -1;
	if (!r->wake_armed)
		return 0;
	sqe = ring_sqe(r);
	if (!sqe)
		return -EAGAIN;
	io_uring_prep_poll_remove(sqe, UD_WAKE);
	io_uring_sqe_set_data64(sqe, UD_WAKE_REMOVE);
	r->wake_armed = false;
	return ring_enter(e, false);
}

static int ring_register_buf(struct urio_engine *e, void *base, size_t len)
{
	size_t n = (len + URIO_BUF_CHUNK - 1) / URIO_BUF_CHUNK;
	struct iovec *iov;
	int ret;

	if (!base)
		return io_uring_unregister_buffers(&to_ring(e)->ring);
	iov = calloc(n, sizeof(*iov));
	if (!iov)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		iov[i].iov_base = (char *)base + i * URIO_BUF_CHUNK;
		iov[i].iov_len = len - i * URIO_BUF_CHUNK < URIO_BUF_CHUNK
					 ? len - i * URIO_BUF_CHUNK
					 : URIO_BUF_CHUNK;
	}
	ret = io_uring_register_buffers(&to_ring(e)->ring, iov, (unsigned)n);
	free(iov);
	return ret;
}

static int ring_register_file(struct urio_engine *e, unsigned slot, int fd,
			      unsigned nslots)
{
	struct urio_ring *r = to_ring(e);
	int ret;

	if (!r->files) {
		ret = io_uring_register_files_sparse(&r->ring, nslots);
		if (ret < 0)
			return ret;
		r->files = true;
	}
	ret = io_uring_register_files_update(&r->ring, slot, &fd, 1);
	return ret < 0 ? ret : 0;
}

static void ring_destroy(struct urio_engine *e, bool owner)
{
	struct urio_ring *r = to_ring(e);

	if (owner) {
		io_uring_queue_exit(&r->ring);
	} else {
		/* A forked child: the mappings are shared with the parent's
		 * ring, so unmap and close without touching them. */
		size_t sqsz = r->ring.sq.ring_sz, cqsz = r->ring.cq.ring_sz;
		size_t sqesz = (size_t)r->ring.sq.ring_entries *
			       ((r->flags & IORING_SETUP_SQE128) ? 128 : 64);

		munmap(r->ring.sq.sqes, sqesz);
		if (r->ring.cq.ring_ptr &&
		    r->ring.cq.ring_ptr != r->ring.sq.ring_ptr)
			munmap(r->ring.cq.ring_ptr, cqsz);
		munmap(r->ring.sq.ring_ptr, sqsz);
		close(r->ring.ring_fd);
	}
	free(r);
}

static const struct urio_engine_ops ring_ops = {
	.name = "io_uring",
	.prep = ring_prep,
	.enter = ring_enter,
	.wait = ring_wait,
	.next = ring_next,
	.has_ready = ring_has_ready,
	.cancel_all = ring_cancel_all,
	.cancel_fd = ring_cancel_fd,
	.set_wake = ring_set_wake,
	.arm_wake = ring_arm_wake,
	.disarm_wake = ring_disarm_wake,
	.register_file = ring_register_file,
	.register_buf = ring_register_buf,
	.destroy = ring_destroy,
};

/* Flags the kernel may not know, dropped one by one on EINVAL (as fio does):
 * each entry is what to drop next. */
static const unsigned optional_flags[] = {
	IORING_SETUP_HYBRID_IOPOLL,
	IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER,
	IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_COOP_TASKRUN,
	IORING_SETUP_SUBMIT_ALL,
};

/* Internal CQEs a ring may post besides user requests: the wake poll, a
 * cancel-all, a poll removal, and one to spare. */
#define RING_RESERVE 4

int urio_ring_create(struct urio_engine **out, const struct urio_ring_params *p,
		     unsigned *got_flags)
{
	struct urio_ring *r = URIO_FAULT("ring") ? NULL : calloc(1, sizeof(*r));
	struct io_uring_params ip;
	unsigned flags = p->flags;
	size_t i = 0;
	int ret;

	if (!r)
		return -ENOMEM;
	for (;;) {
		memset(&ip, 0, sizeof(ip));
		ip.flags = flags;
		if (p->cq_entries) {
			ip.flags |= IORING_SETUP_CQSIZE;
			ip.cq_entries = p->cq_entries;
		}
		/* DEFER_TASKRUN cannot go with the COOP fallback flag. */
		if (ip.flags & IORING_SETUP_DEFER_TASKRUN)
			ip.flags &= ~IORING_SETUP_COOP_TASKRUN;
		ret = io_uring_queue_init_params(p->entries, &r->ring, &ip);
		if (ret != -EINVAL)
			break;
		while (i < sizeof(optional_flags) / sizeof(optional_flags[0]) &&
		       !(flags & optional_flags[i]))
			i++;
		if (i == sizeof(optional_flags) / sizeof(optional_flags[0]))
			break;
		flags &= ~optional_flags[i];
		/* Without DEFER_TASKRUN, COOP_TASKRUN still saves IPIs. */
		if (optional_flags[i] == IORING_SETUP_DEFER_TASKRUN &&
		    (flags & IORING_SETUP_TASKRUN_FLAG))
			flags |= IORING_SETUP_COOP_TASKRUN;
	}
	if (ret < 0) {
		free(r);
		return ret;
	}
	/* Saves the fd lookup on every io_uring_enter; optional. */
	io_uring_register_ring_fd(&r->ring);
	r->flags = ip.flags;
	r->features = ip.features;
	r->e.min_wait = (ip.features & IORING_FEAT_MIN_TIMEOUT) &&
			(ip.features & IORING_FEAT_EXT_ARG);
	r->cqe_shift = (ip.flags & IORING_SETUP_CQE32) ? 1 : 0;
	r->wake_fd = -1;
	r->e.ops = &ring_ops;
	r->e.desc.entries = r->ring.sq.ring_entries;
	r->e.desc.cq_entries = r->ring.cq.ring_entries;
	r->e.desc.kind = (ip.flags & IORING_SETUP_SQE128) ? URIO_RING_PASSTHRU
							  : URIO_RING_PLAIN;
	r->e.polled = (ip.flags & IORING_SETUP_IOPOLL) != 0;
	r->e.desc.setup_flags = ip.flags;
	r->e.cap = r->ring.cq.ring_entries > RING_RESERVE
			   ? r->ring.cq.ring_entries - RING_RESERVE
			   : 1;
	*got_flags = ip.flags;
	*out = &r->e;
	return 0;
}
