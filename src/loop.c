/* SPDX-License-Identifier: MIT */
/* loop.c - the event loop: owns the backends (rings), the request pool and
 * the in-flight bounds; submits, waits on every ring at once, and runs the
 * callbacks, each exactly once. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

unsigned urio__fork_gen;

#ifdef URIO_FAULT_INJECTION
bool urio__fault(const char *site)
{
	const char *f = getenv("URIO_FAULT");

	return f && !strcmp(f, site);
}
#endif
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
	__atomic_add_fetch(&urio__fork_gen, 1, __ATOMIC_RELAXED);
}

static void register_fork_hook(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

/* Like the kernel's copy_struct_from_user: a caller built against an older
 * header passes a smaller struct (the rest is zero), a newer one a larger
 * struct whose extra bytes must all be zero. */
int urio__copy_opts(void *dst, size_t dst_size, const void *src,
		    size_t min_size)
{
	size_t size = *(const size_t *)src;
	const unsigned char *p = src;

	if (size < min_size)
		return -EINVAL;
	for (size_t i = dst_size; i < size; i++)
		if (p[i])
			return -E2BIG;
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	return 0;
}

int urio__check_loop(const urio_loop *loop)
{
	if (URIO_UNLIKELY(!loop))
		return -EINVAL;
	if (URIO_UNLIKELY(loop->fork_gen !=
			  __atomic_load_n(&urio__fork_gen, __ATOMIC_RELAXED)))
		return -EOWNERDEAD;
	if (URIO_UNLIKELY(!pthread_equal(loop->owner, pthread_self())))
		return -EPERM;
	return 0;
}

static void log_stderr(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "urio: %s\n", msg);
}

void urio__fallback(urio_loop *loop, const char *step, int err, const char *fmt,
		    ...)
{
	struct urio_layout *l = &loop->layout;
	struct urio_fallback fb = { .err = err };
	char msg[sizeof(fb.reason) + sizeof(fb.step) + 8];
	va_list ap;

	snprintf(fb.step, sizeof(fb.step), "%s", step);
	va_start(ap, fmt);
	vsnprintf(fb.reason, sizeof(fb.reason), fmt, ap);
	va_end(ap);
	if (l->nfallbacks < URIO_MAX_FALLBACKS)
		l->fallbacks[l->nfallbacks++] = fb;
	snprintf(msg, sizeof(msg), "%s: %s", fb.step, fb.reason);
	if (loop->log)
		loop->log(loop->log_arg, msg);
}

static void destroy_engines(urio_loop *loop, bool owner)
{
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->destroy(loop->engines[i], owner);
	loop->nengines = 0;
}

static void free_loop(urio_loop *loop, bool owner)
{
	struct urio_target *t, *next;

	destroy_engines(loop, owner);
	for (t = loop->targets; t; t = next) {
		next = t->next;
		if (t->owns_fd && t->fd >= 0)
			close(t->fd);
		free(t);
	}
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->buf_base)
		munmap(loop->buf_base, loop->buf_len);
	free(loop->engines);
	free(loop->reqs);
	free(loop->local);
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
	if (loop->nengines > 1)
		return loop->engines[0]->ops->arm_wake(loop->engines[0],
						       loop->wake_fd);
	return 0;
}

static int setup_pool(urio_loop *loop)
{
	loop->step = "request pool";
	if (URIO_FAULT("pool"))
		return -ENOMEM;
	loop->nreqs = loop->cap;
	loop->reqs = calloc(loop->nreqs, sizeof(*loop->reqs));
	loop->local = calloc(loop->nreqs, sizeof(*loop->local));
	if (!loop->reqs || !loop->local)
		return -ENOMEM;
	for (uint32_t i = 0; i < loop->nreqs; i++) {
		loop->reqs[i].next_free =
			i + 1 < loop->nreqs ? i + 1 : URIO_POOL_END;
		loop->reqs[i].gen = 1;
	}
	loop->free_head = 0;
	return 0;
}

int urio_loop_create(urio_loop **out, const struct urio_loop_opts *user)
{
	struct urio_loop_opts opts = { .size = sizeof(opts) };
	urio_loop *loop;
	uint64_t room = 0;
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
	       URIO_LOOP_QUIET | URIO_LOOP_IOPOLL)))
		return -EINVAL;
	if (opts.rings > URIO_MAX_RINGS || opts.max_rings > URIO_MAX_RINGS ||
	    opts.entries > 32768)
		return -EINVAL;

	pthread_once(&fork_once, register_fork_hook);
	loop = URIO_FAULT("loop") ? NULL : calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->owner = pthread_self();
	loop->fork_gen = __atomic_load_n(&urio__fork_gen, __ATOMIC_RELAXED);
	loop->flags = opts.flags;
	loop->wake_fd = -1;
	loop->pt_idx = -1;
	loop->log =
		opts.log ? opts.log
			 : (opts.flags & URIO_LOOP_QUIET ? NULL : log_stderr);
	loop->log_arg = opts.log_arg;
	loop->spin_ns = (uint64_t)opts.spin_usec * 1000;
	loop->layout.size = sizeof(loop->layout);

	ret = urio__setup_engines(loop, &opts);
	if (ret < 0)
		goto fail;
	for (unsigned i = 0; i < loop->nengines; i++)
		room += loop->engines[i]->cap;
	loop->cap = room > INT32_MAX - 1 ? INT32_MAX - 1 : (unsigned)room;
	if (opts.inflight_cap) {
		if (opts.inflight_cap > loop->cap) {
			if (opts.flags & URIO_LOOP_STRICT) {
				loop->step = "in-flight cap (strict)";
				ret = -ENOMEM;
				goto fail;
			}
			urio__fallback(loop, "inflight_cap", 0,
				       "asked %u in flight, the rings hold %u",
				       opts.inflight_cap, loop->cap);
		} else {
			loop->cap = opts.inflight_cap;
		}
	}
	ret = setup_pool(loop);
	if (ret < 0)
		goto fail;
	ret = setup_wake(loop);
	if (ret < 0)
		goto fail;
	loop->step = NULL;
	*out = loop;
	return 0;
fail:
	/* The partial loop goes whole; the error names the step. */
	if (loop->log) {
		char msg[160];

		snprintf(msg, sizeof(msg), "urio_loop_create: %s failed: %s",
			 loop->step ? loop->step : "set-up", strerror(-ret));
		loop->log(loop->log_arg, msg);
	}
	free_loop(loop, true);
	return ret;
}

static struct urio_engine *pick_engine(urio_loop *loop, int ring, unsigned need,
				       unsigned *idx)
{
	unsigned n = loop->nengines, i = loop->cur;

	if (URIO_LIKELY(n == 1 && ring < 0)) {
		*idx = 0;
		return loop->engines[0];
	}
	if (ring >= 0) {
		*idx = (unsigned)ring;
		return loop->engines[ring];
	}
	/* Fill one ring before the next: fewer rings to enter per wait.
	 * The passthrough ring takes NVMe commands only. */
	for (unsigned k = 0; k < n; k++) {
		struct urio_engine *e = loop->engines[i];

		if ((int)i != loop->pt_idx && e->c.inflight + need <= e->cap) {
			loop->cur = i;
			*idx = i;
			return e;
		}
		i = i + 1 == n ? 0 : i + 1;
	}
	*idx = loop->cur;
	return loop->engines[loop->cur];
}

static inline void count_submit(struct urio_counters *c)
{
	c->submitted++;
	if (++c->inflight > c->hwm)
		c->hwm = c->inflight;
}

static inline void count_complete(struct urio_counters *c)
{
	c->inflight--;
}

static int run_iter(urio_loop *loop, bool block, bool flush);

static bool is_rw(uint8_t op)
{
	return op == URIO_OP_READ || op == URIO_OP_WRITE ||
	       op == URIO_OP_READV || op == URIO_OP_WRITEV;
}

/* The read or write itself, now; its callback runs from the loop. */
static int do_inline(const struct urio_io *io)
{
	ssize_t n;

	switch (io->op) {
	case URIO_OP_READ:
		n = pread(io->fd, io->buf, io->len, (off_t)io->off);
		break;
	case URIO_OP_WRITE:
		n = pwrite(io->fd, io->buf, io->len, (off_t)io->off);
		break;
	case URIO_OP_READV:
		n = preadv(io->fd, io->buf, (int)io->len, (off_t)io->off);
		break;
	default:
		n = pwritev(io->fd, io->buf, (int)io->len, (off_t)io->off);
		break;
	}
	return n < 0 ? -errno : (int)n;
}

urio_id urio__submit(urio_loop *loop, struct urio_target *t, int ring,
		     struct urio_io *io, unsigned nio, unsigned flags,
		     urio_cb cb, void *data)
{
	struct urio_engine *e;
	struct urio_req *r;
	unsigned idx, done = 0;
	uint32_t slot;
	uint64_t ud;
	int ret = 0;

	if (t && t->pinned)
		ring = (int)t->ring;
	if (io->op == URIO_OP_URING_CMD)
		ring = loop->pt_idx;
	bool local = t && t->inline_io && is_rw(io->op);

	/* CQEs it will bring: one per SQE, and one for a deadline. */
	unsigned ncqe = nio + (io->deadline ? 1 : 0);

	for (;;) {
		e = pick_engine(loop, ring, ncqe, &idx);
		if (URIO_LIKELY(loop->c.inflight < loop->cap &&
				(!t || t->c.inflight < t->cap) &&
				(local || e->c.inflight + ncqe <= e->cap)))
			break;
		if (!(flags & URIO_F_WAIT) || loop->destroying) {
			loop->c.ebusy++;
			if (t)
				t->c.ebusy++;
			if (e->c.inflight + ncqe > e->cap)
				e->c.ebusy++;
			return -EBUSY;
		}
		ret = run_iter(loop, true, true);
		if (ret < 0)
			return ret;
	}
	slot = loop->free_head;
	r = &loop->reqs[slot];
	ud = urio_ud(slot, r->gen);
	if (io->op == URIO_OP_TIMEOUT) {
		r->ts = *io->ts;
		io->ts = &r->ts;
	} else if (io->deadline) {
		r->ts = *io->deadline;
		io->deadline = &r->ts;
	}
	if (io->dsm) {
		/* The controller reads the range when it runs the command. */
		r->dsm = *io->dsm;
		io->cmd->addr = (uintptr_t)&r->dsm;
	}
	if (local) {
		struct urio_cqe *c =
			&loop->local[(loop->local_head + loop->local_n++) %
				     loop->nreqs];

		c->ud = ud;
		c->res = do_inline(io);
		idx = URIO_NO_ENGINE;
		done = 1;
		if (loop->fd_mode) {
			uint64_t one = 1;

			if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
				/* a full counter is readable: enough */
			}
		}
	} else {
		/* A split command is several SQEs with one ud.  One that
		 * cannot be queued ends the request with its error once the
		 * ones before it complete; if none was queued, nothing was. */
		for (; done < nio; done++) {
			io[done].ud = ud;
			ret = e->ops->prep(e, &io[done]);
			if (URIO_UNLIKELY(ret < 0))
				break;
		}
		if (URIO_UNLIKELY(!done))
			return ret;
	}
	loop->free_head = r->next_free;
	r->cb = cb;
	r->data = data;
	r->target = t;
	r->engine = (uint16_t)idx;
	r->op = io->op;
	r->busy = true;
	if (done == nio && io->deadline)
		done++; /* the linked timeout's CQE */
	r->pending = (uint16_t)done;
	r->first_err = done < nio ? ret : 0;
	r->timed_out = false;
	r->result = 0;
	r->status = 0;
	r->len = io->op == URIO_OP_URING_CMD ? (uint32_t)io->arg : 0;
	r->passthru = io->op == URIO_OP_URING_CMD;
	count_submit(&loop->c);
	if (!local) {
		e->c.submitted += done;
		e->c.inflight += done;
		if (e->c.inflight > e->c.hwm)
			e->c.hwm = e->c.inflight;
	}
	if (t)
		count_submit(&t->c);
	return (urio_id)ud;
}

/* Looks up an accepted, still pending request by its id. */
struct urio_req *urio__find(urio_loop *loop, urio_id id)
{
	uint64_t ud = (uint64_t)id;
	uint32_t slot = urio_ud_slot(ud);
	struct urio_req *r;

	if (id <= 0 || slot >= loop->nreqs)
		return NULL;
	r = &loop->reqs[slot];
	if (!r->busy || urio_ud(slot, r->gen) != ud)
		return NULL;
	return r;
}

/* Folds one CQE into its request; true when it was the request's last,
 * with *res what the callback gets.  aux: the CQE of its linked timeout. */
static bool settle(struct urio_req *r, int *res, bool aux)
{
	if (aux) {
		if (*res == -ETIME)
			r->timed_out = true;
	} else {
		if (r->op == URIO_OP_TIMEOUT && *res == -ETIME)
			*res = 0; /* it fired: that is success */
		if (r->passthru && *res > 0) {
			/* NVMe status: the controller's; keep it readable. */
			if (!r->status)
				r->status = (uint16_t)*res;
			*res = urio_nvme_status_errno(*res);
		}
		if (*res < 0 && !r->first_err)
			r->first_err = *res;
		else
			r->result = *res;
	}
	if (r->pending > 1) {
		r->pending--;
		return false;
	}
	if (r->first_err)
		*res = r->timed_out && r->first_err == -ECANCELED
			       ? -ETIMEDOUT
			       : r->first_err;
	else if (r->passthru)
		*res = (int)r->len;
	else
		*res = r->result;
	return true;
}

/* Runs the callbacks of n CQEs; returns how many ran (a split command's
 * CQEs run one callback). */
static unsigned dispatch(urio_loop *loop, const struct urio_cqe *cq, unsigned n)
{
	unsigned ran = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t slot = urio_ud_slot(cq[i].ud);
		struct urio_req *r;
		urio_cb cb;
		void *data;
		int res;

		if (URIO_UNLIKELY(slot >= loop->nreqs))
			continue;
		r = &loop->reqs[slot];
		if (URIO_UNLIKELY(!r->busy ||
				  urio_ud(slot, r->gen) !=
					  (cq[i].ud & ~URIO_UD_AUX)))
			continue;
		if (r->engine != URIO_NO_ENGINE)
			count_complete(&loop->engines[r->engine]->c);
		res = cq[i].res;
		if (URIO_UNLIKELY(r->pending != 1 || r->passthru ||
				  r->first_err || r->timed_out ||
				  (cq[i].ud & URIO_UD_AUX) ||
				  r->op == URIO_OP_TIMEOUT) &&
		    !settle(r, &res, (cq[i].ud & URIO_UD_AUX) != 0))
			continue;
		loop->nvme_status = r->status;
		cb = r->cb;
		data = r->data;
		count_complete(&loop->c);
		if (r->target)
			count_complete(&r->target->c);
		/* Free the slot first: the callback may submit into it. */
		r->busy = false;
		r->gen++;
		r->next_free = loop->free_head;
		loop->free_head = slot;
		ran++;
		cb(loop, res, data);
	}
	return ran;
}

#define REAP_BATCH 64

/* Completions made at submission, as many as there were on entry: the
 * callbacks may add more, for the next iteration. */
static int reap_local(urio_loop *loop, struct urio_cqe *cq)
{
	uint32_t todo = loop->local_n, done = 0;
	int ran = 0;

	while (done < todo) {
		unsigned n = 0;

		while (n < REAP_BATCH && done + n < todo) {
			cq[n++] = loop->local[loop->local_head];
			loop->local_head = (loop->local_head + 1) % loop->nreqs;
			loop->local_n--;
		}
		loop->in_dispatch++;
		ran += (int)dispatch(loop, cq, n);
		loop->in_dispatch--;
		done += n;
	}
	return ran;
}

static int reap_all(urio_loop *loop)
{
	struct urio_cqe cq[REAP_BATCH];
	int total = loop->local_n ? reap_local(loop, cq) : 0;

	for (unsigned i = 0; i < loop->nengines; i++) {
		struct urio_engine *e = loop->engines[i];
		unsigned n;

		do {
			n = e->ops->reap(e, cq, REAP_BATCH);
			loop->in_dispatch++;
			total += (int)dispatch(loop, cq, n);
			loop->in_dispatch--;
		} while (n == REAP_BATCH);
	}
	return total;
}

static int flush_engines(urio_loop *loop, unsigned from)
{
	for (unsigned i = from; i < loop->nengines; i++) {
		int ret = loop->engines[i]->ops->enter(loop->engines[i], 0);

		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The user waits on wake_fd: so does a blocking run. */
static int wait_wake_fd(urio_loop *loop)
{
	struct pollfd pfd = { .fd = loop->wake_fd, .events = POLLIN };
	uint64_t v;
	int ret = flush_engines(loop, 0);

	if (ret < 0)
		return ret;
	if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
		return -errno;
	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* A polled ring has requests: the loop spins on it instead of sleeping. */
static bool polling(const urio_loop *loop)
{
	return loop->pt_idx >= 0 && loop->engines[loop->pt_idx]->polled &&
	       loop->engines[loop->pt_idx]->c.inflight;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Submits, then polls the rings for up to spin_ns: reaping costs a syscall
 * only once the kernel flags completions, so the wait is a memory poll. */
static int spin(urio_loop *loop)
{
	uint64_t end = mono_ns() + loop->spin_ns;
	int ret = flush_engines(loop, 0), n = 0;

	if (ret < 0)
		return ret;
	do {
		for (unsigned i = 0; i < loop->nengines && !n; i++)
			if (loop->engines[i]->ops->has_ready(loop->engines[i]))
				n = reap_all(loop);
	} while (!n && loop->c.inflight && mono_ns() < end);
	return n;
}

/* One iteration: submit what is prepared, dispatch what is ready, and when
 * block is set and nothing was ready, wait for something first. */
static int run_iter(urio_loop *loop, bool block, bool flush)
{
	int ret, n;

	ret = flush_engines(loop, 1);
	if (ret < 0)
		return ret;
	n = reap_all(loop);
	if (n == 0 && block && loop->c.inflight && loop->spin_ns) {
		n = spin(loop);
		if (n < 0)
			return n;
	}
	if (n == 0 && block && loop->c.inflight && !polling(loop)) {
		if (loop->fd_mode)
			ret = wait_wake_fd(loop);
		else
			ret = loop->engines[0]->ops->enter(loop->engines[0], 1);
		if (ret < 0)
			return ret;
		n = reap_all(loop);
	}
	if (flush) {
		ret = flush_engines(loop, 0);
		if (ret < 0)
			return ret;
	}
	return n;
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
	for (unsigned i = 0; i < loop->nengines; i++) {
		if (loop->engines[i]->ops->has_ready(loop->engines[i])) {
			v = 1;
			if (write(loop->wake_fd, &v, sizeof(v)) < 0)
				return -errno;
			break;
		}
	}
	return 0;
}

int urio_loop_run(urio_loop *loop, enum urio_run_mode mode)
{
	int ret = urio__check_loop(loop), total = 0;

	if (ret < 0)
		return ret;
	if ((unsigned)mode > URIO_RUN_NOWAIT)
		return -EINVAL;
	switch (mode) {
	case URIO_RUN_NOWAIT:
		total = run_iter(loop, false, true);
		break;
	case URIO_RUN_ONCE:
		do {
			total = run_iter(loop, true, true);
		} while (total == 0 && loop->c.inflight);
		break;
	default:
		while (loop->c.inflight) {
			ret = run_iter(loop, true, false);
			if (ret < 0)
				return ret;
			total += ret;
		}
		ret = flush_engines(loop, 0);
		if (ret < 0)
			return ret;
	}
	if (total >= 0 && loop->fd_mode) {
		ret = quiet_wake_fd(loop);
		if (ret < 0)
			return ret;
	}
	return total;
}

int urio_loop_submit(urio_loop *loop)
{
	int ret = urio__check_loop(loop);

	return ret < 0 ? ret : flush_engines(loop, 0);
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
	ret = loop->engines[0]->ops->disarm_wake(loop->engines[0]);
	if (ret < 0)
		return ret;
	ret = loop->engines[0]->ops->set_wake(loop->engines[0], loop->wake_fd);
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

	if (flush_engines(loop, 0) < 0) {
		/* Nothing can reach the kernel: fall through to cancel. */
	}
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->cancel_all(loop->engines[i]);
	while (loop->c.inflight) {
		ret = run_iter(loop, true, true);
		if (ret < 0 && ret != -EINTR)
			break;
	}
}

/* Requests the kernel never answered (a failed submission, a dead ring):
 * their callbacks still run once. */
static void complete_leftovers(urio_loop *loop)
{
	for (uint32_t i = 0; i < loop->nreqs && loop->c.inflight; i++) {
		struct urio_req *r = &loop->reqs[i];
		struct urio_cqe cqe = { urio_ud(i, r->gen), -ECANCELED };

		if (r->busy) {
			r->pending = 1;
			dispatch(loop, &cqe, 1);
		}
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
	if (loop->in_dispatch || loop->destroying)
		return -EDEADLK;
	loop->destroying = true;
	drain(loop);
	complete_leftovers(loop);
	free_loop(loop, true);
	return 0;
}

/* The other half of urio__copy_opts: fills a caller's struct that starts
 * with its size, as far as that size (and ours) reach. */
static void copy_out(void *dst, const void *src, size_t ours)
{
	size_t theirs = *(const size_t *)dst;
	size_t n = theirs < ours ? theirs : ours;

	memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
	       n - sizeof(size_t));
}

int urio__export_stats(const struct urio_counters *c, uint64_t cap,
		       struct urio_stats *st)
{
	struct urio_stats tmp = {
		.size = sizeof(tmp),
		.submitted = c->submitted,
		.completed = c->submitted - c->inflight,
		.inflight = c->inflight,
		.inflight_hwm = c->hwm,
		.ebusy = c->ebusy,
		.cap = cap,
	};

	if (!st || st->size < offsetof(struct urio_stats, submitted) +
				      sizeof(st->submitted))
		return -EINVAL;
	copy_out(st, &tmp, sizeof(tmp));
	return 0;
}

int urio_loop_stats(const urio_loop *loop, struct urio_stats *st)
{
	int ret = urio__check_loop(loop);

	return ret < 0 ? ret : urio__export_stats(&loop->c, loop->cap, st);
}

int urio_loop_ring_stats(const urio_loop *loop, unsigned idx,
			 struct urio_stats *st)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (idx >= loop->nengines)
		return -ERANGE;
	return urio__export_stats(&loop->engines[idx]->c,
				  loop->engines[idx]->cap, st);
}

int urio_loop_layout(const urio_loop *loop, struct urio_layout *out)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!out || out->size < offsetof(struct urio_layout, nrings))
		return -EINVAL;
	copy_out(out, &loop->layout, sizeof(*out));
	return 0;
}

int urio_loop_describe(const urio_loop *loop, char *buf, size_t len)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!buf || !len)
		return -EINVAL;
	return urio__describe(&loop->layout, loop->cap, buf, len);
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

	return ret < 0 ? ret : loop->nvme_status;
}

int urio_loop_set_deadline(urio_loop *loop, uint64_t ns)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	loop->deadline_ns = ns;
	return 0;
}
