/* SPDX-License-Identifier: MIT */
/* loop.c - the event loop's life: creation (backends, pool, wake-up fd),
 * running it, the fd a server can wait on, what it reports of itself, and
 * teardown that completes every request exactly once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compat.h"
#include "internal.h"

/* Every loop of the process, so that a fork()ed child can mark its copies
 * as not its own: the short path then needs no check of its own for it. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static urio_loop *reg_head;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void before_fork(void)
{
	pthread_mutex_lock(&reg_lock);
}

static void after_fork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

static void after_fork_child(void)
{
	for (urio_loop *l = reg_head; l; l = l->reg_next)
		l->owner_tp = URIO_TP_FORKED;
	pthread_mutex_unlock(&reg_lock);
}

static void register_fork_hook(void)
{
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static void reg_add(urio_loop *loop)
{
	pthread_mutex_lock(&reg_lock);
	loop->reg_next = reg_head;
	if (reg_head)
		reg_head->reg_prev = loop;
	reg_head = loop;
	pthread_mutex_unlock(&reg_lock);
}

static void reg_del(urio_loop *loop)
{
	pthread_mutex_lock(&reg_lock);
	if (loop->reg_prev)
		loop->reg_prev->reg_next = loop->reg_next;
	else if (reg_head == loop)
		reg_head = loop->reg_next;
	if (loop->reg_next)
		loop->reg_next->reg_prev = loop->reg_prev;
	pthread_mutex_unlock(&reg_lock);
}

static void log_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "urio: %s\n", msg);
}

static void free_loop(urio_loop *loop, bool owner)
{
	if (loop->reqs)
		urio__groups_free(loop, owner);
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->destroy(loop->engines[i], owner);
	urio__targets_free(loop);
	urio__pipes_free(loop);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	urio__wait_fini(loop);
	if (loop->buf_base)
		munmap(loop->buf_base, loop->buf_len);
	free(loop->engines);
	free(loop->slot_free);
	urio__pool_free(loop);
	reg_del(loop);
	pthread_mutex_destroy(&loop->post_lock);
	free(loop);
}

/* The secondary engines signal an eventfd that the primary one polls, so a
 * wait on the primary wakes for completions anywhere. */
static int setup_wake(urio_loop *loop)
{
	int ret;

	loop->step = "wake-up eventfd";
	loop->wake_fd = URIO_FAULT("eventfd")
				? -1
				: eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->wake_fd < 0)
		return URIO_FAULT("eventfd") ? -EMFILE : -errno;
	for (unsigned i = 1; i < loop->nengines; i++) {
		ret = loop->engines[i]->ops->set_wake(loop->engines[i],
						      loop->wake_fd);
		if (ret < 0)
			return ret;
	}
	/* Other threads' posts signal it too: always waited on. */
	return loop->e0->ops->arm_wake(loop->e0, loop->wake_fd);
}

static int setup_pool(urio_loop *loop)
{
	loop->step = "request pool";
	if (URIO_FAULT("pool"))
		return -ENOMEM;
	return urio__pool_init(loop);
}

/* The in-flight bound: what the rings hold, or less when asked. */
static int set_cap(urio_loop *loop, const struct urio_loop_opts *o)
{
	uint64_t room = 0;

	for (unsigned i = 0; i < loop->nengines; i++)
		room += loop->engines[i]->cap;
	loop->cap = room > INT32_MAX - 1 ? INT32_MAX - 1 : (unsigned)room;
	if (!o->inflight_cap)
		return 0;
	if (o->inflight_cap <= loop->cap) {
		loop->cap = o->inflight_cap;
		return 0;
	}
	if (o->flags & URIO_LOOP_STRICT) {
		loop->step = "in-flight cap (strict)";
		return -ENOMEM;
	}
	urio__fallback(loop, "inflight_cap", 0,
		       "asked %u in flight, the rings hold %u", o->inflight_cap,
		       loop->cap);
	return 0;
}

int urio_loop_create(urio_loop **out, const struct urio_loop_opts *user)
{
	struct urio_loop_opts opts = { .size = sizeof(opts) };
	urio_loop *loop;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (user) {
		ret = urio__copy_opts(&opts, sizeof(opts), user,
				      offsetof(struct urio_loop_opts, entries));
		if (ret < 0)
			return ret;
	}
	if (opts.backend > URIO_BACKEND_AIO ||
	    (opts.flags &
	     ~(URIO_LOOP_STRICT | URIO_LOOP_NO_DEFER | URIO_LOOP_SQPOLL |
	       URIO_LOOP_QUIET | URIO_LOOP_IOPOLL | URIO_LOOP_SLEEP)) ||
	    (opts.spin_usec && (opts.flags & URIO_LOOP_SLEEP)) ||
	    opts.spin_usec > 1000000)
		return -EINVAL;
	if (opts.rings > URIO_MAX_RINGS || opts.max_rings > URIO_MAX_RINGS ||
	    opts.entries > 32768)
		return -EINVAL;

	pthread_once(&fork_once, register_fork_hook);
	loop = URIO_FAULT("loop") ? NULL : calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->owner_tp = urio__self();
	pthread_mutex_init(&loop->post_lock, NULL);
	reg_add(loop);
	loop->flags = opts.flags;
	loop->wake_fd = -1;
	loop->w.stat_fd = loop->w.load_fd = -1;
	loop->pt_idx = -1;
	loop->log =
		opts.log ? opts.log
			 : (opts.flags & URIO_LOOP_QUIET ? NULL : log_stderr);
	loop->log_arg = opts.log_arg;
	loop->layout.size = sizeof(loop->layout);

	ret = urio__setup_engines(loop, &opts);
	if (ret < 0)
		goto fail;
	loop->e0 = loop->engines[0];
	loop->nplain = loop->nengines;
	urio__wait_init(loop, opts.spin_usec);
	urio__wait_describe(loop, loop->layout.wait, sizeof(loop->layout.wait));
	ret = set_cap(loop, &opts);
	if (ret < 0)
		goto fail;
	loop->nreqs = loop->cap;
	ret = setup_pool(loop);
	if (ret < 0)
		goto fail;
	ret = setup_wake(loop);
	if (ret < 0)
		goto fail;
	/* One plain ring that takes SQEs straight: the short path. */
	if (loop->nplain == 1 && !(opts.flags & URIO_LOOP_SQPOLL))
		loop->ring0 = urio__ring_uring(loop->e0);
	urio__sq_refresh(loop);
	loop->step = NULL;
	*out = loop;
	return 0;
fail:
	/* The partial loop goes whole; the error names the step. */
	urio__log(loop, "urio_loop_create: %s failed: %s",
		  loop->step ? loop->step : "set-up", strerror(-ret));
	free_loop(loop, true);
	return ret;
}

bool urio__any_ready(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->nengines; i++)
		if (loop->engines[i]->ops->has_ready(loop->engines[i]))
			return true;
	return loop->local_n != 0;
}

/* Leaves the user's fd unreadable unless there is work: reaping itself
 * signals it (the kernel signals on every CQE it posts), so reset it and
 * signal again only if an engine has completions waiting.  A completion
 * that lands after the reset signals by itself: no wake-up is lost. */
static int quiet_wake_fd(urio_loop *loop)
{
	uint64_t v = 1;

	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	if (urio__any_ready(loop) ||
	    __atomic_load_n(&loop->posted, __ATOMIC_ACQUIRE)) {
		v = 1;
		if (write(loop->wake_fd, &v, sizeof(v)) < 0)
			return -errno;
	}
	return 0;
}

static bool busy(const urio_loop *loop)
{
	return loop->c.submitted != loop->c.completed ||
	       __atomic_load_n(&loop->posted, __ATOMIC_ACQUIRE);
}

int urio_loop_run(urio_loop *loop, enum urio_run_mode mode)
{
	int ret = urio__check_loop(loop), total = 0;
	uint32_t cflags;
	uint16_t cstatus;

	if (ret < 0)
		return ret;
	if ((unsigned)mode > URIO_RUN_NOWAIT)
		return -EINVAL;
	if (loop->destroying)
		return -EDEADLK;
	/* Run from a callback, the callbacks it runs must not change what
	 * urio_loop_completion() tells that callback afterwards. */
	cflags = loop->cflags;
	cstatus = loop->cstatus;
	switch (mode) {
	case URIO_RUN_NOWAIT:
		total = urio__iterate(loop, false);
		break;
	case URIO_RUN_ONCE:
		do {
			total = urio__iterate(loop, true);
		} while (total == 0 && busy(loop));
		break;
	default:
		while (busy(loop)) {
			ret = urio__iterate(loop, true);
			if (ret < 0) {
				total = ret;
				break;
			}
			total += ret;
		}
	}
	loop->cflags = cflags;
	loop->cstatus = cstatus;
	if (total < 0)
		return total;
	/* What callbacks prepared goes out before the user gets control:
	 * a caller that now waits on the loop fd must not wait on it. */
	ret = urio__flush(loop);
	if (ret == 0 && loop->fd_mode) {
		/* Work the kernel left as task work (internal completions,
		 * say) is taken now, or the fd would wake its waiter for
		 * nothing. */
		if (urio__any_ready(loop)) {
			ret = urio__iterate(loop, false);
			total += ret > 0 ? ret : 0;
			if (ret >= 0)
				ret = urio__flush(loop);
		}
		if (ret >= 0)
			ret = quiet_wake_fd(loop);
	}
	return ret < 0 ? ret : total;
}

/* A polled ring completes only when the loop polls it, and then signals
 * nothing: while one has requests in flight, the user's fd is kept
 * readable, so that a caller waiting on it comes back to run the loop (as
 * urio_loop_run's own end does, see urio__any_ready). */
static int signal_polled(urio_loop *loop)
{
	uint64_t one = 1;

	for (unsigned i = 0; i < loop->nengines; i++) {
		const struct urio_engine *e = loop->engines[i];

		if (e->polled && e->c.inflight) {
			if (write(loop->wake_fd, &one, sizeof(one)) < 0 &&
			    errno != EAGAIN)
				return -errno;
			break;
		}
	}
	return 0;
}

int urio_loop_submit(urio_loop *loop)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	ret = urio__flush(loop);
	if (ret == 0 && loop->fd_mode)
		ret = signal_polled(loop);
	return ret;
}

int urio_loop_fd(urio_loop *loop)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (loop->fd_mode)
		return loop->wake_fd;
	/* Every engine, the primary too, now signals the fd; the primary
	 * stops polling it (it would wake itself forever). */
	ret = loop->e0->ops->disarm_wake(loop->e0);
	if (ret < 0)
		return ret;
	ret = loop->e0->ops->set_wake(loop->e0, loop->wake_fd);
	urio__sq_refresh(loop); /* the disarm took an SQE */
	if (ret < 0)
		return ret;
	loop->fd_mode = true;
	return loop->wake_fd;
}

/* Cancels what is in flight and waits until every request has completed
 * once; requests that finished first keep their own result. */
static void drain(urio_loop *loop)
{
	int ret;

	urio__cancel_backlog(loop);
	if (urio__flush(loop) < 0) {
		/* Nothing can reach the kernel: fall through to cancel. */
	}
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->cancel_all(loop->engines[i]);
	while (loop->c.submitted != loop->c.completed) {
		ret = urio__iterate(loop, true);
		if (ret < 0 && ret != -EINTR)
			break;
	}
}

int urio_loop_destroy(urio_loop *loop)
{
	int ret;

	if (!loop)
		return -EINVAL;
	ret = urio__check_loop(loop);
	if (ret == -EOWNERDEAD) {
		/* A forked child: the requests are the parent's. */
		free_loop(loop, false);
		return 0;
	}
	if (ret < 0)
		return ret;
	if (loop->depth || loop->destroying)
		return -EDEADLK;
	/* From here every submission fails (the short path is closed). */
	loop->destroying = true;
	urio__sq_refresh(loop);
	pthread_mutex_lock(&loop->post_lock);
	loop->post_closed = true;
	pthread_mutex_unlock(&loop->post_lock);
	drain(loop);
	loop->depth++;
	urio__run_posts(loop, -ECANCELED);
	loop->depth--;
	urio__complete_leftovers(loop);
	free_loop(loop, true);
	return 0;
}

int urio_loop_stats(const urio_loop *loop, struct urio_stats *st)
{
	int ret = urio__check_loop(loop);
	struct urio_counters c;

	if (ret < 0)
		return ret;
	/* The pool is a stack: the records ever used are the most in use at
	 * once (a request with a deadline holds two). */
	c = loop->c;
	c.inflight = urio__loop_inflight(&loop->c);
	c.hwm = loop->pool_hwm;
	for (unsigned i = 0; i < loop->nengines; i++)
		c.overflows += loop->engines[i]->c.overflows;
	return urio__export_stats(&c, loop->cap, &loop->w, st);
}

int urio_loop_ring_stats(const urio_loop *loop, unsigned idx,
			 struct urio_stats *st)
{
	int ret = urio__check_loop(loop);
	struct urio_counters c;

	if (ret < 0)
		return ret;
	if (idx >= loop->nengines)
		return -ERANGE;
	c = loop->engines[idx]->c;
	if (idx == 0) {
		/* The short path counts its requests once, in the loop: the
		 * loop's counts less the general path's are ring 0's. */
		c.submitted += loop->c.submitted - loop->slow.submitted;
		c.inflight += urio__loop_inflight(&loop->c) -
			      urio__loop_inflight(&loop->slow);
		if (loop->pool_hwm > c.hwm && loop->ring0 &&
		    loop->c.submitted != loop->slow.submitted)
			c.hwm = loop->pool_hwm;
	}
	return urio__export_stats(&c, loop->engines[idx]->cap, NULL, st);
}

int urio_loop_buffers(const urio_loop *loop, void **base, size_t *len)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!base || !len)
		return -EINVAL;
	*base = loop->buf_base;
	*len = loop->buf_len;
	return 0;
}

int urio_loop_nvme_status(const urio_loop *loop)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	return loop->depth ? loop->cstatus : loop->last_nvme_status;
}

int urio_loop_completion(const urio_loop *loop, struct urio_completion *c)
{
	int ret = urio__check_loop(loop);
	struct urio_completion tmp = { .size = sizeof(tmp) };
	uint32_t f;

	if (ret < 0)
		return ret;
	f = loop->cflags;
	if (!c || c->size < offsetof(struct urio_completion, flags) +
				    sizeof(c->flags))
		return -EINVAL;
	if (loop->depth) {
		tmp.flags =
			(f & IORING_CQE_F_MORE ? URIO_C_MORE : 0) |
			(f & IORING_CQE_F_SOCK_NONEMPTY ? URIO_C_SOCK_NONEMPTY
							: 0);
		tmp.nvme_status = loop->cstatus;
		tmp.buf = loop->cbuf;
	}
	urio__copy_out(c, &tmp, sizeof(tmp));
	return 0;
}

int urio_loop_post(urio_loop *loop, urio_cb cb, void *data)
{
	struct urio_post *p;
	uint64_t one = 1;

	/* Any thread: only what never changes after creation is read
	 * unlocked. */
	if (!loop || !cb)
		return -EINVAL;
	if (__atomic_load_n(&loop->owner_tp, __ATOMIC_RELAXED) ==
	    URIO_TP_FORKED)
		return -EOWNERDEAD;
	p = malloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cb = cb;
	p->data = data;
	p->next = NULL;
	pthread_mutex_lock(&loop->post_lock);
	if (loop->post_closed) {
		pthread_mutex_unlock(&loop->post_lock);
		free(p);
		return -ESHUTDOWN;
	}
	if (loop->post_tail)
		loop->post_tail->next = p;
	else
		loop->post_head = p;
	loop->post_tail = p;
	__atomic_add_fetch(&loop->posted, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&loop->post_lock);
	/* Wakes a loop asleep in the kernel (its ring polls the fd) or a
	 * server waiting on urio_loop_fd(). */
	if (write(loop->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int urio_loop_set_deadline(urio_loop *loop, uint64_t ns)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	loop->deadline_ns = ns;
	return 0;
}
