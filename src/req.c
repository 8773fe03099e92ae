/* SPDX-License-Identifier: MIT */
/* req.c - the request path: the record pool, submission on any engine
 * under the in-flight bounds (the common case is inline in req.h), NVMe
 * commands split into waves, the backlog of requests a callback queued
 * with URIO_F_WAIT, and the completion walk that runs each callback
 * exactly once.
 *
 * Callbacks may call anything, urio_loop_run included: a completion is
 * taken off its queue (the CQ head moves, the record is freed) before its
 * callback runs, and every walk re-reads the queue after each callback,
 * so a nested run sees a consistent loop and leaves one behind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "req.h"

/* Parts of a split NVMe command in flight at once, at most. */
#define WAVE_MAX 32

/* ---- the pool ---- */

static void init_records(struct urio_req *r, uint32_t n, uint32_t first)
{
	for (uint32_t i = 0; i < n; i++) {
		r[i].ud = URIO_UD_GEN_ONE | (first + i + 1);
		r[i].next = i + 1 < n ? first + i + 1 : URIO_POOL_END;
	}
}

int urio__pool_init(urio_loop *loop)
{
	size_t bytes = (size_t)loop->cap * sizeof(struct urio_req);

	loop->nreqs = loop->cap;
	loop->reqs = aligned_alloc(64, (bytes + 63) / 64 * 64);
	if (!loop->reqs)
		return -ENOMEM;
	memset(loop->reqs, 0, bytes);
	init_records(loop->reqs, loop->nreqs, 0);
	loop->free_head = 0;
	loop->xfree_head = URIO_POOL_END;
	loop->backlog_head = loop->backlog_tail = URIO_POOL_END;
	loop->local_head = loop->local_n = 0;
	return 0;
}

void urio__pool_free(urio_loop *loop)
{
	for (uint32_t i = 0; i < loop->nchunks; i++)
		free(loop->chunks[i]);
	free(loop->chunks);
	free(loop->reqs);
}

static struct urio_req *req_at(urio_loop *loop, uint32_t slot)
{
	if (URIO_LIKELY(slot < loop->nreqs))
		return &loop->reqs[slot];
	slot -= loop->nreqs;
	if (slot / URIO_REQ_CHUNK >= loop->nchunks)
		return NULL;
	return &loop->chunks[slot / URIO_REQ_CHUNK][slot % URIO_REQ_CHUNK];
}

/* Another chunk of records past the pool, for the backlog. */
static int grow(urio_loop *loop)
{
	uint32_t first = loop->nreqs + loop->nchunks * URIO_REQ_CHUNK;
	struct urio_req **v, *c;

	if (first > UINT32_MAX - 2 * URIO_REQ_CHUNK)
		return -ENOMEM;
	v = realloc(loop->chunks, (loop->nchunks + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	loop->chunks = v;
	c = aligned_alloc(64, URIO_REQ_CHUNK * sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c, 0, URIO_REQ_CHUNK * sizeof(*c));
	init_records(c, URIO_REQ_CHUNK, first);
	loop->chunks[loop->nchunks++] = c;
	loop->xfree_head = first;
	return 0;
}

/* A record: from the pool while it has one (room was checked), else,
 * for a queued request, past it. */
static struct urio_req *req_alloc(urio_loop *loop, bool queued)
{
	uint32_t *head = queued ? &loop->xfree_head : &loop->free_head;
	struct urio_req *r;

	if (*head == URIO_POOL_END && (!queued || grow(loop) < 0))
		return NULL;
	r = req_at(loop, *head);
	*head = r->next;
	r->slow = true;
	r->engine = URIO_NO_ENGINE;
	r->pending = 0;
	r->status = 0;
	r->first_err = 0;
	r->result = 0;
	r->timed_out = false;
	r->passthru = false;
	r->queued = false;
	r->in_backlog = false;
	r->is_cancel = false;
	r->ring = -1;
	r->len = 0;
	r->ncqe = 0;
	r->wave.nparts = 0;
	r->cmd = NULL;
	return r;
}

/* Gives a record back with the next generation of its id: a stale id, or
 * a late completion carrying it, no longer matches. */
static void req_free(urio_loop *loop, struct urio_req *r)
{
	uint32_t slot = urio_ud_slot(r->ud);

	r->ud = ((r->ud + URIO_UD_GEN_ONE) & URIO_UD_GEN_MASK) | (slot + 1);
	r->slow = false;
	r->engine = 0;
	free(r->cmd);
	r->cmd = NULL;
	if (slot < loop->nreqs) {
		r->next = loop->free_head;
		loop->free_head = slot;
	} else {
		r->next = loop->xfree_head;
		loop->xfree_head = slot;
	}
}

struct urio_req *urio__find(urio_loop *loop, urio_id id)
{
	struct urio_req *r;

	if (id <= 0 || ((uint64_t)id & (URIO_UD_INTERNAL | URIO_UD_AUX)))
		return NULL;
	r = req_at(loop, urio_ud_slot((uint64_t)id));
	/* A free record's id has moved on: equal ids mean in use. */
	return r && r->ud == (uint64_t)id ? r : NULL;
}

/* ---- submission, the general path ---- */

static bool is_rw(uint8_t op)
{
	return op == URIO_OP_READ || op == URIO_OP_WRITE ||
	       op == URIO_OP_READV || op == URIO_OP_WRITEV;
}

/* Done in the loop, at submission: reads and writes on an inline target,
 * and answers the loop knows itself. */
static bool is_local(const struct urio_target *t, uint8_t op)
{
	return op == URIO_OP_LOCAL || (t && t->inline_io && is_rw(op));
}

/* The read or write itself, now; its callback runs from the loop. */
static int do_inline(const struct urio_io *io)
{
	ssize_t n;

	switch (io->op) {
	case URIO_OP_LOCAL:
		return (int)(int64_t)io->arg;
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

/* A completion made in user space (inline I/O, a cancel the loop answers
 * itself): it waits in the local queue for the loop to deliver it. */
static void complete_local(urio_loop *loop, struct urio_req *r, int res)
{
	uint32_t slot = urio_ud_slot(r->ud);

	r->result = res;
	r->next = URIO_POOL_END;
	if (loop->local_n++)
		req_at(loop, loop->local_tail)->next = slot;
	else
		loop->local_head = slot;
	loop->local_tail = slot;
	if (loop->fd_mode) {
		uint64_t one = 1;

		if (write(loop->wake_fd, &one, sizeof(one)) < 0) {
			/* a full counter is readable: enough */
		}
	}
}

static bool room(const urio_loop *loop, const struct urio_target *t,
		 const struct urio_engine *e, unsigned ncqe)
{
	return loop->c.inflight < loop->cap && (!t || t->c.inflight < t->cap) &&
	       (!e || e->c.inflight + ncqe <= e->cap);
}

/* The engine a request goes to: the one asked for, else the first plain
 * ring with room (fill one before the next: fewer rings to enter). */
static struct urio_engine *pick_engine(urio_loop *loop, int ring, unsigned ncqe,
				       unsigned *idx)
{
	unsigned n = loop->nengines, i = loop->cur_engine;

	if (ring >= 0) {
		*idx = (unsigned)ring;
		return loop->engines[ring];
	}
	if (loop->nplain == 1) {
		*idx = 0;
		return loop->e0;
	}
	for (unsigned k = 0; k < n; k++) {
		struct urio_engine *e = loop->engines[i];

		if ((int)i != loop->pt_idx && e->c.inflight + ncqe <= e->cap) {
			loop->cur_engine = i;
			*idx = i;
			return e;
		}
		i = i + 1 == n ? 0 : i + 1;
	}
	*idx = loop->cur_engine;
	return loop->engines[loop->cur_engine];
}

/* Whether a request needing ncqe completion slots can ever be carried out
 * on this loop: a deadline takes two slots of one ring. */
static bool can_fit(const urio_loop *loop, int ring, unsigned ncqe)
{
	if (ring >= 0)
		return loop->engines[ring]->cap >= ncqe;
	for (unsigned i = 0; i < loop->nengines; i++)
		if ((int)i != loop->pt_idx && loop->engines[i]->cap >= ncqe)
			return true;
	return false;
}

/* Part i of a split NVMe command, into io (and *cmd). */
static void wave_part(urio_loop *loop, const struct urio_req *r, unsigned i,
		      struct urio_io *io, struct nvme_uring_cmd *cmd)
{
	const struct urio_wave *w = &r->wave;
	uint32_t at = i * w->max,
		 part = w->len - at < w->max ? w->len - at : w->max;
	int idx = urio__buf_index(loop, w->buf + at, part);

	urio_nvme_rw(cmd, &r->target->ns, w->opcode, w->buf + at, part,
		     w->off + at);
	*io = (struct urio_io){
		.op = URIO_OP_URING_CMD,
		.fd = r->target->fd,
		.file_slot = r->target->file_slot,
		.cmd = cmd,
		.fixed = idx >= 0,
		.buf_index = (uint16_t)(idx >= 0 ? idx : 0),
		.ud = r->ud,
	};
}

/* Queues the next part of a split command; false when none could go. */
static bool wave_next(urio_loop *loop, struct urio_req *r,
		      struct urio_engine *e)
{
	struct nvme_uring_cmd cmd;
	struct urio_io io;
	int ret;

	wave_part(loop, r, r->wave.next, &io, &cmd);
	ret = e->ops->prep(e, &io);
	if (ret < 0) {
		if (!r->first_err)
			r->first_err = ret;
		return false;
	}
	r->wave.next++;
	r->pending++;
	urio__count_submit(&e->c);
	return true;
}

/* Starts a request whose record is filled and for which there is room:
 * does it now (inline), or hands it to engine e.  Returns 0, or an error
 * when nothing reached the engine (the caller gives the record back). */
static int start(urio_loop *loop, struct urio_req *r, struct urio_engine *e,
		 unsigned idx, struct urio_io *io, bool local)
{
	int ret;

	if (local) {
		r->engine = URIO_NO_ENGINE;
		r->pending = 1;
		complete_local(loop, r, do_inline(io));
		return 0;
	}
	io->ud = r->ud;
	ret = e->ops->prep(e, io);
	if (ret < 0)
		return ret;
	r->engine = (uint16_t)idx;
	r->pending = io->deadline ? 2 : 1;
	e->c.submitted++;
	e->c.inflight += r->pending;
	if (e->c.inflight > e->c.hwm)
		e->c.hwm = e->c.inflight;
	if (r->wave.nparts) {
		r->wave.next = 1;
		/* The first wave: as many parts as the ring has room for. */
		while (r->wave.next < r->wave.nparts && r->pending < WAVE_MAX &&
		       e->c.inflight < e->cap && wave_next(loop, r, e))
			;
	}
	return 0;
}

/* Fills a record from the request as asked; pointers into the caller's
 * stack are copied into it. */
static void fill(struct urio_req *r, struct urio_target *t, struct urio_io *io,
		 const struct urio_wave *wave, urio_cb cb, void *data)
{
	r->cb = cb;
	r->data = data;
	r->target = t;
	r->op = io->op;
	if (io->op == URIO_OP_TIMEOUT) {
		r->ts = *io->ts;
		io->ts = &r->ts;
	} else if (io->deadline) {
		r->ts = *io->deadline;
		io->deadline = &r->ts;
	}
	if (io->op == URIO_OP_URING_CMD) {
		r->passthru = true;
		r->len = (uint32_t)io->arg;
		if (io->dsm) {
			r->dsm = *io->dsm;
			io->dsm = &r->dsm;
			io->cmd->addr = (uintptr_t)&r->dsm;
		}
	}
	r->is_cancel = io->op == URIO_OP_CANCEL;
	if (wave)
		r->wave = *wave;
}

static void take_slot(struct urio_counters *c)
{
	if (++c->inflight > c->hwm)
		c->hwm = c->inflight;
}

static void count_accept(struct urio_counters *c, bool queued)
{
	c->submitted++;
	if (queued)
		c->queued++;
	else
		take_slot(c);
}

/* Inside a callback, URIO_F_WAIT cannot run the loop (it would nest once
 * per wait, without bound): the request waits in the backlog instead, and
 * goes out, in order, as slots free. */
static urio_id enqueue(urio_loop *loop, struct urio_target *t, int ring,
		       struct urio_io *io, const struct urio_wave *wave,
		       unsigned ncqe, urio_cb cb, void *data)
{
	struct urio_req *r = req_alloc(loop, true);
	uint32_t slot;

	if (!r)
		return -ENOMEM;
	if (io->cmd) {
		r->cmd = malloc(sizeof(*r->cmd));
		if (!r->cmd) {
			req_free(loop, r);
			return -ENOMEM;
		}
		*r->cmd = *io->cmd;
		io->cmd = r->cmd;
	}
	fill(r, t, io, wave, cb, data);
	r->io = *io;
	r->ncqe = ncqe;
	r->ring = (int16_t)ring;
	r->queued = true;
	r->in_backlog = true;
	slot = urio_ud_slot(r->ud);
	r->next = URIO_POOL_END;
	if (loop->backlog_n++)
		req_at(loop, loop->backlog_tail)->next = slot;
	else
		loop->backlog_head = slot;
	loop->backlog_tail = slot;
	count_accept(&loop->c, true);
	if (t)
		count_accept(&t->c, true);
	return (urio_id)r->ud;
}

static void backlog_unlink(urio_loop *loop, struct urio_req *r)
{
	uint32_t slot = urio_ud_slot(r->ud), prev = URIO_POOL_END;

	for (uint32_t s = loop->backlog_head; s != slot;
	     s = req_at(loop, s)->next)
		prev = s;
	if (prev == URIO_POOL_END)
		loop->backlog_head = r->next;
	else
		req_at(loop, prev)->next = r->next;
	if (loop->backlog_tail == slot)
		loop->backlog_tail = prev;
	loop->backlog_n--;
	r->in_backlog = false;
}

/* A queued cancel, now that it may go: its request may have finished or
 * be answered here.  Returns the ring to ask, or -1 when it is done. */
static int cancel_ring(urio_loop *loop, struct urio_req *r)
{
	struct urio_req *victim = urio__find(loop, (urio_id)r->io.arg);
	int ret = victim ? urio__cancel_local(loop, victim) : -ENOENT;

	if (ret == 1)
		return victim->engine;
	complete_local(loop, r, ret);
	return -1;
}

/* Moves queued requests into the slots that freed, in order.  A request
 * the backend refuses now completes with that error. */
static void promote(urio_loop *loop)
{
	while (loop->backlog_n && !loop->destroying) {
		struct urio_req *r = req_at(loop, loop->backlog_head);
		struct urio_target *t = r->target;
		bool local = is_local(t, r->op);
		struct urio_engine *e = NULL;
		unsigned idx = 0;
		int ring = r->ring, ret;

		if (!local)
			e = pick_engine(loop, ring, r->ncqe, &idx);
		if (!room(loop, t, e, r->ncqe))
			return;
		backlog_unlink(loop, r);
		r->queued = false;
		loop->c.queued--;
		take_slot(&loop->c);
		if (t) {
			t->c.queued--;
			take_slot(&t->c);
		}
		if (r->is_cancel) {
			ring = cancel_ring(loop, r);
			if (ring < 0)
				continue;
			e = loop->engines[ring];
			idx = (unsigned)ring;
		}
		ret = start(loop, r, e, idx, &r->io, local);
		if (ret < 0) {
			r->engine = URIO_NO_ENGINE;
			complete_local(loop, r, ret);
		}
	}
}

/* An answer the loop knows itself (a cancel of a request that never
 * reached a backend): it takes no slot, so it is never refused for room;
 * it is delivered from the loop like any completion. */
static urio_id answer_here(urio_loop *loop, struct urio_io *io, urio_cb cb,
			   void *data)
{
	struct urio_req *r = req_alloc(loop, true);

	if (!r)
		return -ENOMEM;
	fill(r, NULL, io, NULL, cb, data);
	r->queued = true;
	r->pending = 1;
	count_accept(&loop->c, true);
	complete_local(loop, r, (int)(int64_t)io->arg);
	return (urio_id)r->ud;
}

urio_id urio__submit(urio_loop *loop, struct urio_target *t, int ring,
		     struct urio_io *io, const struct urio_wave *wave,
		     unsigned flags, urio_cb cb, void *data)
{
	bool local = is_local(t, io->op);
	unsigned ncqe = io->deadline ? 2 : 1, idx = 0;
	struct urio_engine *e = NULL;
	struct urio_req *r;
	int ret;

	if (URIO_UNLIKELY(loop->destroying))
		return -ESHUTDOWN;
	if (io->op == URIO_OP_LOCAL)
		return answer_here(loop, io, cb, data);
	if (t && t->pinned)
		ring = (int)t->ring;
	if (io->op == URIO_OP_URING_CMD)
		ring = loop->pt_idx;
	if (!local && !can_fit(loop, ring, ncqe))
		return -E2BIG;
	for (;;) {
		if (!local)
			e = pick_engine(loop, ring, ncqe, &idx);
		if (URIO_LIKELY(room(loop, t, e, ncqe)))
			break;
		if (!(flags & URIO_F_WAIT)) {
			loop->c.ebusy++;
			if (t)
				t->c.ebusy++;
			if (e && e->c.inflight + ncqe > e->cap)
				e->c.ebusy++;
			return -EBUSY;
		}
		if (loop->depth)
			return enqueue(loop, t, ring, io, wave, ncqe, cb, data);
		ret = urio__iterate(loop, true);
		if (ret < 0)
			return ret;
	}
	r = req_alloc(loop, false);
	fill(r, t, io, wave, cb, data);
	ret = start(loop, r, e, idx, io, local);
	if (ret < 0) {
		req_free(loop, r);
		return ret;
	}
	count_accept(&loop->c, false);
	if (t)
		count_accept(&t->c, false);
	return (urio_id)r->ud;
}

int urio__cancel_local(urio_loop *loop, struct urio_req *r)
{
	if (r->in_backlog) {
		backlog_unlink(loop, r);
		complete_local(loop, r, -ECANCELED);
		return 0;
	}
	if (r->engine == URIO_NO_ENGINE)
		return -EALREADY;
	/* A split command sends no more parts; those out are cancelled. */
	if (r->wave.nparts && r->wave.next < r->wave.nparts && !r->first_err)
		r->first_err = -ECANCELED;
	return 1;
}

/* ---- completion ---- */

/* Folds one completion into its request; true when it was the request's
 * last, with *res what the callback gets.  aux: its linked timeout's. */
static bool settle(urio_loop *loop, struct urio_req *r, int *res, bool aux)
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
	r->pending--;
	/* A part done: the next one takes its slot. */
	if (!aux && r->wave.next < r->wave.nparts && !r->first_err)
		wave_next(loop, r, loop->engines[r->engine]);
	if (r->pending)
		return false;
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

/* Runs a callback with what urio_loop_completion() reports inside it; a
 * nested run inside the callback cannot change what the outer one sees. */
static inline void run_cb(urio_loop *loop, urio_cb cb, int res, void *data,
			  uint64_t cur)
{
	uint64_t saved = loop->cur;

	loop->cur = cur;
	loop->depth++;
	cb(loop, res, data);
	loop->depth--;
	loop->cur = saved;
}

/* The request is done: its record goes back (the callback may reuse it),
 * queued requests take the slot, then the callback runs. */
static void deliver(urio_loop *loop, struct urio_req *r, int res,
		    uint32_t cflags)
{
	struct urio_target *t = r->target;
	uint64_t cur = cflags | ((uint64_t)r->status << 32);
	urio_cb cb = r->cb;
	void *data = r->data;

	if (r->queued) {
		loop->c.queued--;
		if (t)
			t->c.queued--;
	} else {
		loop->c.inflight--;
		if (t)
			t->c.inflight--;
	}
	if (r->passthru)
		loop->last_nvme_status = r->status;
	req_free(loop, r);
	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	run_cb(loop, cb, res, data, cur);
}

static int complete_slow(urio_loop *loop, struct urio_engine *e, uint64_t ud,
			 int res, uint32_t cflags)
{
	bool aux = (ud & URIO_UD_AUX) != 0;
	struct urio_req *r;

	if (ud & URIO_UD_INTERNAL) {
		urio__ring_internal(e, ud);
		return 0;
	}
	r = req_at(loop, urio_ud_slot(ud));
	if (!r || r->ud != (ud & ~URIO_UD_AUX))
		return 0; /* not ours, or already delivered */
	if (r->engine != URIO_NO_ENGINE)
		loop->engines[r->engine]->c.inflight--;
	if (!settle(loop, r, &res, aux))
		return 0;
	deliver(loop, r, res, cflags);
	return 1;
}

/* One completion from engine e.  The short path: a record from the pool
 * with nothing unusual about it. */
static inline int complete(urio_loop *loop, struct urio_engine *e, uint64_t ud,
			   int res, uint32_t cflags)
{
	uint32_t slot = urio_ud_slot(ud);
	struct urio_req *r;
	struct urio_target *t;
	urio_cb cb;
	void *data;

	if (URIO_UNLIKELY(slot >= loop->nreqs))
		return complete_slow(loop, e, ud, res, cflags);
	r = &loop->reqs[slot];
	if (URIO_UNLIKELY(r->ud != ud || r->slow))
		return complete_slow(loop, e, ud, res, cflags);
	cb = r->cb;
	data = r->data;
	t = r->target;
	r->ud = ((ud + URIO_UD_GEN_ONE) & URIO_UD_GEN_MASK) | (slot + 1);
	r->next = loop->free_head;
	loop->free_head = slot;
	loop->c.inflight--;
	e->c.inflight--;
	if (t)
		t->c.inflight--;
	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	run_cb(loop, cb, res, data, cflags);
	return 1;
}

/* Completions made at submission: taken one at a time off the head, so
 * callbacks may add more (or a nested run take some). */
static int reap_local(urio_loop *loop)
{
	int ran = 0;

	while (loop->local_n) {
		struct urio_req *r = req_at(loop, loop->local_head);

		loop->local_head = r->next;
		loop->local_n--;
		r->pending = 0;
		deliver(loop, r, r->result, 0);
		ran++;
	}
	return ran;
}

/* The plain ring of the short path, walked in place: the head moves past
 * each CQE before its callback runs. */
static int reap_fast_ring(urio_loop *loop)
{
	struct io_uring *ring = loop->fast_ring;
	struct io_uring_cq *cq = &ring->cq;
	struct urio_engine *e = loop->e0;
	int ran = 0;

	/* With DEFER_TASKRUN, completions wait as task work until the ring is
	 * entered: do it, and submit what callbacks prepared in the same
	 * call, or it would sit in the SQ while completions keep coming. */
	if (io_uring_cq_ready(ring) == 0 &&
	    (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN)) {
		if (io_uring_sq_ready(ring))
			io_uring_submit_and_get_events(ring);
		else
			io_uring_get_events(ring);
	}
	for (;;) {
		unsigned head = *cq->khead;
		const struct io_uring_cqe *cqe;
		uint64_t ud;
		uint32_t fl;
		int res;

		if (head == io_uring_smp_load_acquire(cq->ktail))
			break;
		cqe = &cq->cqes[head & cq->ring_mask];
		ud = cqe->user_data;
		res = cqe->res;
		fl = cqe->flags;
		io_uring_smp_store_release(cq->khead, head + 1);
		ran += complete(loop, e, ud, res, fl);
	}
	return ran;
}

static int reap_engine(urio_loop *loop, struct urio_engine *e)
{
	struct urio_cqe c;
	int ran = 0;

	while (e->ops->next(e, &c))
		ran += complete(loop, e, c.ud, c.res, c.flags);
	return ran;
}

/* Every completion ready now, on every engine. */
static int reap(urio_loop *loop)
{
	int ran = loop->local_n ? reap_local(loop) : 0;

	if (loop->fast_ring)
		ran += reap_fast_ring(loop);
	else
		ran += reap_engine(loop, loop->e0);
	for (unsigned i = 1; i < loop->nengines; i++)
		ran += reap_engine(loop, loop->engines[i]);
	return ran;
}

int urio__flush(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->nengines; i++) {
		int ret = loop->engines[i]->ops->enter(loop->engines[i], false);

		if (ret < 0)
			return ret;
	}
	return 0;
}

int urio__iterate(urio_loop *loop, bool block)
{
	int n, ret;

	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	n = reap(loop);

	if (n || !block || !loop->c.inflight)
		return n;
	ret = urio__wait(loop);
	if (ret < 0)
		return ret;
	return reap(loop);
}

void urio__cancel_backlog(urio_loop *loop)
{
	while (loop->backlog_n) {
		struct urio_req *r = req_at(loop, loop->backlog_head);

		backlog_unlink(loop, r);
		complete_local(loop, r, -ECANCELED);
	}
}

/* Requests the kernel never answered (a failed submission, a dead ring):
 * their callbacks still run once, with -ECANCELED.  Free records are the
 * ones on the free lists; every other record holds a request. */
void urio__complete_leftovers(urio_loop *loop)
{
	uint32_t total = loop->nreqs + loop->nchunks * URIO_REQ_CHUNK;
	bool *is_free;

	reap_local(loop);
	if (!loop->c.inflight && !loop->c.queued)
		return;
	is_free = calloc(total, sizeof(*is_free));
	if (!is_free)
		return;
	for (uint32_t s = loop->free_head; s != URIO_POOL_END;
	     s = req_at(loop, s)->next)
		is_free[s] = true;
	for (uint32_t s = loop->xfree_head; s != URIO_POOL_END;
	     s = req_at(loop, s)->next)
		is_free[s] = true;
	for (uint32_t s = 0; s < total; s++) {
		struct urio_req *r = req_at(loop, s);

		if (is_free[s])
			continue;
		r->slow = true;
		r->pending = 1;
		r->first_err = 0;
		r->wave.nparts = 0;
		r->engine = URIO_NO_ENGINE;
		complete_slow(loop, NULL, r->ud, -ECANCELED, 0);
	}
	free(is_free);
}
