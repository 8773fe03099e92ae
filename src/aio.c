/* SPDX-License-Identifier: MIT */
/* aio.c - the libaio backend, for when io_uring cannot be had: the same ops
 * as a ring, on one Linux AIO context.  What AIO lacks is made here: NOPs
 * and cancels complete in user space, timeouts run on a timerfd whose
 * expiry an IOCB_CMD_POLL reports like any other completion. */
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#define UD_TIMER       (URIO_UD_INTERNAL | 0x10)
#define AIO_MIN_EVENTS 16

struct aio_timer {
	uint64_t deadline_ns;
	uint64_t ud;
};

struct urio_aio {
	struct urio_engine e;
	io_context_t ctx;
	unsigned nr;	    /* events the context holds */
	struct iocb *iocbs; /* nr + 1: the last polls the timerfd */
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
	unsigned in_kernel; /* iocbs submitted and not yet reaped */
	bool fetched;	    /* next() already asked the kernel this pass */
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

static void push_ready(struct urio_aio *a, uint64_t ud, int res)
{
	unsigned i = (a->ready_head + a->nready) % (a->e.cap + 1);

	a->ready[i].ud = ud;
	a->ready[i].res = res;
	a->ready[i].flags = 0;
	a->nready++;
}

static int flush_pending(struct urio_aio *a)
{
	while (a->npending) {
		int ret = io_submit(a->ctx, a->npending, a->pending);

		if (ret < 0) {
			if (ret == -EAGAIN || ret == -EINTR)
				return 0; /* retried on the next enter */
			/* The first iocb is bad: fail it alone, go on. */
			struct iocb *cb = a->pending[0];

			push_ready(a, (uint64_t)(uintptr_t)cb->data, ret);
			a->free_iocb[a->nfree++] = (uint32_t)(cb - a->iocbs);
			ret = 1;
		} else {
			a->in_kernel += (unsigned)ret;
		}
		a->npending -= (unsigned)ret;
		memmove(a->pending, a->pending + ret,
			a->npending * sizeof(*a->pending));
	}
	return 0;
}

/* Arms the timerfd for the earliest timeout, and keeps a poll on it. */
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
		if (a->wake_fd >= 0)
			io_set_eventfd(cb, a->wake_fd);
		a->pending[a->npending++] = cb;
		a->timer_polled = true;
	}
}

static void expire_timers(struct urio_aio *a)
{
	uint64_t now = mono_ns(), v;
	unsigned n = 0;

	if (read(a->timer_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: not expired yet, or already read */
	}
	while (n < a->ntimers && a->timers[n].deadline_ns <= now) {
		push_ready(a, a->timers[n].ud, -ETIME);
		n++;
	}
	a->ntimers -= n;
	memmove(a->timers, a->timers + n, a->ntimers * sizeof(*a->timers));
	arm_timer(a);
}

static int add_timer(struct urio_aio *a, const struct urio_io *io)
{
	uint64_t d = mono_ns() + (uint64_t)io->ts->tv_sec * 1000000000u +
		     (uint64_t)io->ts->tv_nsec;
	unsigned i = a->ntimers;

	while (i && a->timers[i - 1].deadline_ns > d) {
		a->timers[i] = a->timers[i - 1];
		i--;
	}
	a->timers[i].deadline_ns = d;
	a->timers[i].ud = io->ud;
	a->ntimers++;
	if (i == 0)
		arm_timer(a);
	return 0;
}

/* Cancels request ud: a timeout here, or an iocb in the kernel (which
 * Linux AIO can cancel only for a few file types). */
static int cancel_one(struct urio_aio *a, uint64_t ud)
{
	struct io_event ev;
	int ret;

	for (unsigned i = 0; i < a->ntimers; i++) {
		if (a->timers[i].ud != ud)
			continue;
		push_ready(a, ud, -ECANCELED);
		a->ntimers--;
		memmove(a->timers + i, a->timers + i + 1,
			(a->ntimers - i) * sizeof(*a->timers));
		arm_timer(a);
		return 0;
	}
	for (unsigned i = 0; i < a->nr; i++) {
		if ((uint64_t)(uintptr_t)a->iocbs[i].data != ud)
			continue;
		for (unsigned k = 0; k < a->npending; k++) {
			if (a->pending[k] != &a->iocbs[i])
				continue;
			/* Never reached the kernel: complete it here. */
			push_ready(a, ud, -ECANCELED);
			a->npending--;
			memmove(a->pending + k, a->pending + k + 1,
				(a->npending - k) * sizeof(*a->pending));
			a->iocbs[i].data = NULL;
			a->free_iocb[a->nfree++] = i;
			return 0;
		}
		ret = io_cancel(a->ctx, &a->iocbs[i], &ev);
		return ret == 0 || ret == -EINPROGRESS ? 0 : -EALREADY;
	}
	return -ENOENT;
}

/* A completion made here, not by the kernel: an fd the user waits on
 * must hear of it all the same. */
static int complete_here(struct urio_aio *a, uint64_t ud, int res)
{
	uint64_t one = 1;

	push_ready(a, ud, res);
	if (a->wake_fd >= 0 && write(a->wake_fd, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int aio_prep(struct urio_engine *e, const struct urio_io *io)
{
	struct urio_aio *a = to_aio(e);
	struct iocb *cb;
	uint32_t idx;

	switch (io->op) {
	case URIO_OP_NOP:
		return complete_here(a, io->ud, 0);
	case URIO_OP_TIMEOUT:
		return add_timer(a, io);
	case URIO_OP_CANCEL:
		return complete_here(a, io->ud, cancel_one(a, io->arg));
	case URIO_OP_FALLOCATE:
		/* AIO has no fallocate: a metadata call, done here. */
		return complete_here(a, io->ud,
				     fallocate(io->fd, (int)io->arg,
					       (off_t)io->off, (off_t)io->len64)
					     ? -errno
					     : 0);
	default:
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
	cb->data = (void *)(uintptr_t)io->ud;
	if (a->wake_fd >= 0)
		io_set_eventfd(cb, a->wake_fd);
	a->pending[a->npending++] = cb;
	return 0;
}

#define EVENT_BATCH 64

/* Turns kernel events into ready completions (the timer's poll into
 * expired timeouts). */
static void take_events(struct urio_aio *a, struct io_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		struct iocb *cb = ev[i].obj;

		a->in_kernel--;
		if ((uint64_t)(uintptr_t)cb->data == UD_TIMER) {
			a->timer_polled = false;
			expire_timers(a);
			continue;
		}
		push_ready(a, (uint64_t)(uintptr_t)cb->data,
			   (int)(long)ev[i].res);
		cb->data = NULL;
		a->free_iocb[a->nfree++] = (uint32_t)(cb - a->iocbs);
	}
}

static int aio_enter(struct urio_engine *e, bool wait)
{
	struct urio_aio *a = to_aio(e);
	struct io_event ev[EVENT_BATCH];
	int ret = flush_pending(a);

	if (ret < 0 || !wait || a->nready || !a->in_kernel)
		return ret;
	/* Block for one event and take every other one ready with it: AIO
	 * cannot peek, so they become ready completions for next(). */
	ret = io_getevents(a->ctx, 1, EVENT_BATCH, ev, NULL);
	if (ret < 0)
		return ret; /* -EINTR too: a signal ends the wait */
	take_events(a, ev, ret);
	return flush_pending(a); /* a fired timer may have re-armed its poll */
}

/* Takes the next ready completion; when none is, asks the kernel (without
 * waiting) once a pass. */
static bool aio_next(struct urio_engine *e, struct urio_cqe *out)
{
	struct urio_aio *a = to_aio(e);

	if (!a->nready && !a->fetched) {
		struct io_event ev[EVENT_BATCH];
		struct timespec zero = { 0, 0 };
		int got = a->in_kernel ? io_getevents(a->ctx, 0, EVENT_BATCH,
						      ev, &zero)
				       : 0;

		if (got > 0)
			take_events(a, ev, got);
		if (a->ntimers && a->timers[0].deadline_ns <= mono_ns())
			expire_timers(a);
		a->fetched = true;
	}
	if (!a->nready) {
		a->fetched = false;
		return false;
	}
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

	while (a->ntimers)
		cancel_one(a, a->timers[0].ud);
	/* Nothing queued goes to the kernel any more. */
	for (unsigned k = 0; k < a->npending; k++) {
		struct iocb *cb = a->pending[k];

		if (cb == &a->iocbs[a->nr]) {
			a->timer_polled = false;
			continue;
		}
		push_ready(a, (uint64_t)(uintptr_t)cb->data, -ECANCELED);
		cb->data = NULL;
		a->free_iocb[a->nfree++] = (uint32_t)(cb - a->iocbs);
	}
	a->npending = 0;
	for (unsigned i = 0; i < a->nr; i++)
		if (a->iocbs[i].data)
			cancel_one(a, (uint64_t)(uintptr_t)a->iocbs[i].data);
	/* The timer poll is internal: stop it so nothing waits on it. */
	if (a->timer_polled) {
		struct io_event ev;

		int ret = io_cancel(a->ctx, &a->iocbs[a->nr], &ev);

		if (ret == 0) {
			a->timer_polled = false;
			a->in_kernel--;
		}
	}
	return 0;
}

static int aio_cancel_fd(struct urio_engine *e, int fd)
{
	(void)e;
	(void)fd;
	return -ENOENT; /* no socket requests on libaio */
}

static int aio_set_wake(struct urio_engine *e, int evfd)
{
	to_aio(e)->wake_fd = evfd;
	return 0;
}

static int aio_arm_wake(struct urio_engine *e, int evfd)
{
	(void)e;
	(void)evfd;
	return 0; /* one context: nothing else to wait for */
}

static int aio_disarm_wake(struct urio_engine *e)
{
	(void)e;
	return 0;
}

static int aio_register_buf(struct urio_engine *e, void *base, size_t len)
{
	(void)e;
	(void)base;
	(void)len;
	return 0; /* AIO pins pages per request; nothing to register */
}

static int aio_register_file(struct urio_engine *e, unsigned slot, int fd)
{
	(void)e;
	(void)slot;
	(void)fd;
	return -ENOTSUP; /* AIO has no registered-file table */
}

static void aio_free(struct urio_aio *a)
{
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	free(a->iocbs);
	free(a->pending);
	free(a->free_iocb);
	free(a->ready);
	free(a->timers);
	free(a);
}

static void aio_destroy(struct urio_engine *e, bool owner)
{
	struct urio_aio *a = to_aio(e);

	/* io_destroy waits for what is still in the kernel.  A forked child
	 * has no AIO context (its mapping is not inherited). */
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
	a->wake_fd = -1;
	/* fs.aio-max-nr exhausted answers EAGAIN: take a smaller context. */
	for (;;) {
		ret = io_setup((int)nr + 1, &a->ctx);
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
	a->iocbs = calloc(nr + 1, sizeof(*a->iocbs));
	a->pending = calloc(nr + 1, sizeof(*a->pending));
	a->free_iocb = calloc(nr, sizeof(*a->free_iocb));
	a->ready = calloc(nr + 1, sizeof(*a->ready));
	a->timers = calloc(nr, sizeof(*a->timers));
	a->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!a->iocbs || !a->pending || !a->free_iocb || !a->ready ||
	    !a->timers || a->timer_fd < 0) {
		ret = a->timer_fd < 0 ? -errno : -ENOMEM;
		aio_destroy(&a->e, true);
		return ret;
	}
	for (unsigned i = 0; i < nr; i++)
		a->free_iocb[a->nfree++] = nr - 1 - i;
	*got_nr = nr;
	*out = &a->e;
	return 0;
}
