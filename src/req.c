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
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "req.h"

/* Parts of a split NVMe command in flight at once, at most. */
#define WAVE_MAX 32

static void deliver(urio_loop *loop, struct urio_req *r, int res,
		    uint32_t cflags);

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
	uint32_t size = 1;
	size_t bytes;

	/* A power of two: a completion finds its record with a mask, and a
	 * record past the pool (slot >= size) never aliases a pool record's
	 * id. */
	while (size < loop->nreqs)
		size <<= 1;
	bytes = (size_t)size * sizeof(struct urio_req);
	loop->pool_mask = size - 1;
	loop->reqs = aligned_alloc(64, bytes);
	loop->nobody = calloc(1, sizeof(*loop->nobody));
	if (!loop->reqs || !loop->nobody)
		return -ENOMEM;
	memset(loop->reqs, 0, bytes);
	init_records(loop->reqs, size, 0);
	loop->reqs[loop->nreqs - 1].next = URIO_POOL_END;
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
	free(loop->nobody);
}

/* Slots past the pool start at its full size. */
static uint32_t pool_size(const urio_loop *loop)
{
	return loop->pool_mask + 1;
}

static struct urio_req *req_at(urio_loop *loop, uint32_t slot)
{
	if (URIO_LIKELY(slot <= loop->pool_mask))
		return &loop->reqs[slot];
	slot -= pool_size(loop);
	if (slot / URIO_REQ_CHUNK >= loop->nchunks)
		return NULL;
	return &loop->chunks[slot / URIO_REQ_CHUNK][slot % URIO_REQ_CHUNK];
}

/* Another chunk of records past the pool, for the backlog. */
static int grow(urio_loop *loop)
{
	uint32_t first = pool_size(loop) + loop->nchunks * URIO_REQ_CHUNK;
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

/* Takes the top record of the pool's stack (there is one: room was
 * checked). */
static uint32_t pop_free(urio_loop *loop)
{
	uint32_t slot = loop->free_head;

	loop->free_head = loop->reqs[slot].next;
	if (slot >= loop->pool_hwm)
		loop->pool_hwm = slot + 1;
	if (loop->sq_room)
		loop->sq_room--; /* it promised no more records than are free */
	return slot;
}

/* A record of the general path: from the pool (room was checked), or past
 * it for a request that takes no slot (queued, or answered here). */
static struct urio_req *req_alloc(urio_loop *loop, bool past_pool)
{
	struct urio_req *r;

	if (!past_pool) {
		if (loop->free_head == URIO_POOL_END)
			return NULL;
		r = &loop->reqs[pop_free(loop)];
	} else {
		if (loop->xfree_head == URIO_POOL_END && grow(loop) < 0)
			return NULL;
		r = req_at(loop, loop->xfree_head);
		loop->xfree_head = r->next;
	}
	r->ud |= URIO_UD_SLOW;
	r->shadow = URIO_POOL_END;
	r->token = URIO_POOL_END;
	r->is_shadow = false;
	r->engine = URIO_NO_ENGINE;
	r->ring = -1;
	r->pending = 0;
	r->status = 0;
	r->first_err = 0;
	r->result = 0;
	r->timed_out = false;
	r->passthru = false;
	r->queued = false;
	r->in_backlog = false;
	r->is_cancel = false;
	r->multi = false;
	r->cancelled = false;
	r->parked = false;
	r->group = -1;
	r->buf = -1;
	r->len = 0;
	r->ncqe = 0;
	r->wave.nparts = 0;
	r->owns_cmd = false;
	return r;
}

/* Gives a record back with the next generation of its id: a stale id, or
 * a late completion carrying it, no longer matches. */
static void req_release(urio_loop *loop, struct urio_req *r)
{
	uint32_t slot = urio_ud_slot(r->ud);

	r->ud = (r->ud + URIO_UD_GEN_ONE) & URIO_UD_KEEP;
	if (slot <= loop->pool_mask) {
		r->next = loop->free_head;
		loop->free_head = slot;
	} else {
		r->next = loop->xfree_head;
		loop->xfree_head = slot;
	}
}

/* A record of the pool taken as room only (room was checked). */
static uint32_t hold_room(urio_loop *loop)
{
	uint32_t slot = pop_free(loop);

	loop->reqs[slot].is_shadow = true;
	loop->shadows++;
	return slot;
}

static void drop_room(urio_loop *loop, uint32_t *slot)
{
	if (*slot != URIO_POOL_END) {
		struct urio_req *h = req_at(loop, *slot);

		h->is_shadow = false;
		loop->shadows--;
		req_release(loop, h);
		*slot = URIO_POOL_END;
	}
}

uint32_t urio__hold_room(urio_loop *loop)
{
	return hold_room(loop);
}

void urio__drop_room(urio_loop *loop, uint32_t slot)
{
	drop_room(loop, &slot);
}

uint32_t urio__pool_free_count(const urio_loop *loop)
{
	uint64_t used = urio__loop_inflight(&loop->c) + loop->shadows;

	return used < loop->nreqs ? loop->nreqs - (uint32_t)used : 0;
}

static void req_free(urio_loop *loop, struct urio_req *r)
{
	drop_room(loop, &r->shadow);
	drop_room(loop, &r->token);
	if (r->owns_cmd)
		free(r->io.cmd);
	r->owns_cmd = false;
	req_release(loop, r);
}

/* The id a record's request has (the stored one without the path bit). */
static inline uint64_t req_id(const struct urio_req *r)
{
	return r->ud & ~URIO_UD_SLOW;
}

struct urio_req *urio__find(urio_loop *loop, urio_id id)
{
	struct urio_req *r;

	if (id <= 0 || ((uint64_t)id & (URIO_UD_INTERNAL | URIO_UD_AUX)))
		return NULL;
	r = req_at(loop, urio_ud_slot((uint64_t)id));
	/* A free record's id has moved on: equal ids mean in use. */
	return r && !r->is_shadow && req_id(r) == (uint64_t)id ? r : NULL;
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

/* Room for a request needing ncqe completion slots: a record per slot in
 * the pool (the loop's bound, and its CQ's), under the target's bound, and
 * in the engine's CQ. */
static bool room(urio_loop *loop, const struct urio_target *t,
		 const struct urio_engine *e, unsigned ncqe)
{
	uint32_t f = loop->free_head;

	return f != URIO_POOL_END &&
	       (ncqe < 2 || loop->reqs[f].next != URIO_POOL_END) &&
	       (!t || t->c.inflight < t->cap) &&
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
 * on this loop: a deadline takes two slots of one ring, and two records
 * of the pool (the loop's in-flight bound). */
static bool can_fit(const urio_loop *loop, int ring, unsigned ncqe)
{
	if (loop->nreqs < ncqe)
		return false;
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
		.ud = req_id(r),
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

/* ---- multishot requests ---- */

static void park(urio_loop *loop, struct urio_bufgroup *g, struct urio_req *r)
{
	uint32_t slot = urio_ud_slot(r->ud);

	r->parked = true;
	r->next = URIO_POOL_END;
	if (g->wait_head == URIO_POOL_END)
		g->wait_head = slot;
	else
		req_at(loop, g->wait_tail)->next = slot;
	g->wait_tail = slot;
}

static void unpark(urio_loop *loop, struct urio_bufgroup *g, struct urio_req *r)
{
	uint32_t slot = urio_ud_slot(r->ud), prev = URIO_POOL_END;

	for (uint32_t s = g->wait_head; s != slot; s = req_at(loop, s)->next)
		prev = s;
	if (prev == URIO_POOL_END)
		g->wait_head = r->next;
	else
		req_at(loop, prev)->next = r->next;
	if (g->wait_tail == slot)
		g->wait_tail = prev;
	r->parked = false;
}

/* (Re-)arms a multishot request on ring 0: the kernel's multishot receive
 * into the group's buffer ring, or one receive (or accept) at a time into
 * a buffer urio takes from the group.  With no buffer free it waits in
 * the group's queue, its slot held.  0, or the error that ends it. */
static int multi_arm(urio_loop *loop, struct urio_req *r)
{
	struct urio_engine *e = loop->e0;
	struct urio_io io = r->io;
	int ret;

	if (io.op == URIO_OP_RECV_MULTI)
		r->armed_gen = loop->groups[r->group].returned;
	if (io.op == URIO_OP_RECV && r->group >= 0) {
		struct urio_bufgroup *g = &loop->groups[r->group];
		int b = urio__group_take(loop, g);

		if (b < 0) {
			park(loop, g, r);
			return 0;
		}
		r->buf = b;
		io.buf = g->base + (size_t)b * g->size;
		io.len = g->size;
	}
	io.ud = req_id(r);
	ret = e->ops->prep(e, &io);
	if (ret < 0) {
		if (r->buf >= 0) {
			urio__group_put(loop, &loop->groups[r->group],
					(unsigned)r->buf);
			r->buf = -1;
		}
		return ret;
	}
	r->engine = 0;
	r->pending = 1;
	urio__count_submit(&e->c);
	return 0;
}

void urio__group_wake(urio_loop *loop, struct urio_bufgroup *g)
{
	struct urio_req *r = req_at(loop, g->wait_head);
	int ret;

	unpark(loop, g, r);
	ret = multi_arm(loop, r);
	if (ret < 0)
		complete_local(loop, r, ret);
}

/* ---- sendfile: a file to a socket through a pipe ---- */

/* One step: file to pipe then pipe to socket, linked; or, when the last
 * step left bytes in the pipe, pipe to socket alone, or a wait for the
 * socket to take more (a poll).  The socket is non-blocking and so is its
 * splice: no kernel worker ever waits on a slow peer, and a cancel always
 * finds the step (all its SQEs carry the request's id; a link completes in
 * order, so a pair's first CQE is the file's). */
static int sendfile_step(urio_loop *loop, struct urio_req *r, bool wait)
{
	struct urio_engine *e = loop->engines[r->engine];
	struct urio_sendfile *sf = &r->sf;
	struct urio_io in = { .op = URIO_OP_SPLICE,
			      .ud = req_id(r),
			      .file_slot = -1 };
	struct urio_io out = in;
	int ret;

	out.arg = (unsigned)loop->pipes[sf->pipe].rd;
	out.off = (uint64_t)-1;
	out.fd = r->io.fd;
	out.len64 = SPLICE_F_NONBLOCK;
	sf->pair = !sf->in_pipe;
	sf->wait = wait;
	sf->n_in = sf->n_out = 0;
	if (wait) {
		out.op = URIO_OP_POLL;
		out.arg = POLLOUT;
		ret = e->ops->prep(e, &out);
	} else if (sf->pair) {
		uint32_t chunk = loop->pipes[sf->pipe].size;

		in.arg = r->io.arg; /* the file */
		in.off = r->io.off;
		in.fd = loop->pipes[sf->pipe].wr;
		in.len = sf->left < chunk ? sf->left : chunk;
		in.link = true;
		out.len = in.len;
		ret = e->ops->prep(e, &in);
		if (ret == 0)
			ret = e->ops->prep(e, &out);
	} else {
		out.len = sf->in_pipe;
		ret = e->ops->prep(e, &out);
	}
	if (ret < 0)
		return ret;
	r->pending = sf->pair && !wait ? 2 : 1;
	e->c.submitted++;
	e->c.inflight += r->pending;
	if (e->c.inflight > e->c.hwm)
		e->c.hwm = e->c.inflight;
	return 0;
}

/* Gives the pipe back for the next sendfile, or closes it when data was
 * left in it. */
static void sendfile_pipe_back(urio_loop *loop, struct urio_sendfile *sf)
{
	if (sf->in_pipe) {
		close(loop->pipes[sf->pipe].rd);
		close(loop->pipes[sf->pipe].wr);
		loop->pipes[sf->pipe].rd = loop->pipes[sf->pipe].wr = -1;
	}
	loop->pipe_free[loop->npipe_free++] = sf->pipe;
}

/* A CQE of a sendfile; once the step's are in, the next step, or the end:
 * the bytes sent, or the error when none were. */
static int sendfile_cqe(urio_loop *loop, struct urio_req *r, int res)
{
	struct urio_sendfile *sf = &r->sf;
	bool stalled = false;
	int err = 0;

	if (sf->pair && !sf->wait && r->pending == 2)
		sf->n_in = res;
	else
		sf->n_out = res;
	if (--r->pending)
		return 0;
	if (sf->wait) {
		/* The socket can take more (or has an error to tell). */
		err = res < 0 ? res : 0;
		goto next;
	}
	/* A short read (the file ended, or less was there) breaks the link:
	 * the send was cancelled, not failed; the bytes wait in the pipe. */
	if (sf->pair && sf->n_in >= 0 && sf->n_out == -ECANCELED &&
	    !r->cancelled)
		sf->n_out = 0;
	/* The socket is full: the next step waits for it. */
	if (sf->n_out == -EAGAIN)
		sf->n_out = 0;
	stalled = sf->n_out == 0;
	if (sf->pair && sf->n_in < 0) {
		err = sf->n_in; /* the link broke: the send never ran */
	} else {
		if (sf->pair) {
			sf->left -= (uint32_t)sf->n_in;
			r->io.off += (uint32_t)sf->n_in;
			sf->in_pipe += (uint32_t)sf->n_in;
		}
		if (sf->n_out < 0) {
			err = sf->n_out;
		} else {
			sf->sent += (uint32_t)sf->n_out;
			sf->in_pipe -= (uint32_t)sf->n_out;
		}
	}
next:
	if (!err &&
	    (sf->in_pipe || (sf->left && !(sf->pair && sf->n_in == 0)))) {
		/* More to send: the next step, unless it is to stop. */
		if (r->cancelled || loop->destroying)
			err = -ECANCELED;
		else if ((err = sendfile_step(loop, r,
					      sf->in_pipe && stalled)) == 0)
			return 0;
	}
	deliver(loop, r, sf->sent ? (int)sf->sent : err, 0);
	return 1;
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
	if (r->multi)
		return multi_arm(loop, r);
	if (io->op == URIO_OP_SENDFILE) {
		r->engine = (uint16_t)idx;
		ret = sendfile_step(loop, r, false);
		if (ret == 0)
			r->shadow = hold_room(loop); /* the pair's second CQE */
		return ret;
	}
	io->ud = req_id(r);
	ret = e->ops->prep(e, io);
	if (ret < 0)
		return ret;
	/* The linked timeout's CQE holds a record of room too. */
	if (io->deadline)
		r->shadow = hold_room(loop);
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
static void fill(urio_loop *loop, struct urio_req *r, struct urio_target *t,
		 struct urio_io *io, const struct urio_wave *wave, urio_cb cb,
		 void *data)
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
	if (io->op == URIO_OP_OPENAT) {
		r->how = *(const struct open_how *)io->addrlen;
		io->addrlen = &r->how;
	}
	if (io->op == URIO_OP_SENDFILE) {
		r->io = *io;
		r->sf = (struct urio_sendfile){ .left = (uint32_t)io->len64,
						.pipe = (uint16_t)io->group };
	}
	if (io->multi) {
		/* Re-armed from the record after each completion. */
		r->multi = true;
		r->group = io->group;
		r->io = *io;
		if (io->group >= 0)
			loop->groups[io->group].users++;
	}
}

static void take_slot(struct urio_counters *c)
{
	if (++c->inflight > c->hwm)
		c->hwm = c->inflight;
}

/* Counts a request the general path accepted: in the loop, in its share
 * of the loop, and on its target. */
static void count_accept(urio_loop *loop, struct urio_target *t, bool queued)
{
	loop->c.submitted++;
	loop->slow.submitted++;
	loop->c.queued += queued;
	loop->slow.queued += queued;
	if (t) {
		t->c.submitted++;
		if (queued)
			t->c.queued++;
		else
			take_slot(&t->c);
	}
}

/* A queued request takes a slot. */
static void count_promote(urio_loop *loop, struct urio_target *t)
{
	loop->c.queued--;
	loop->slow.queued--;
	if (t) {
		t->c.queued--;
		take_slot(&t->c);
	}
}

/* A request of the general path is done, from a slot or from the queue. */
static void count_done(urio_loop *loop, struct urio_target *t, bool queued)
{
	loop->c.completed++;
	loop->slow.completed++;
	loop->c.queued -= queued;
	loop->slow.queued -= queued;
	if (t) {
		if (queued)
			t->c.queued--;
		else
			t->c.inflight--;
	}
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
		struct nvme_uring_cmd *copy = malloc(sizeof(*copy));

		if (!copy) {
			req_free(loop, r);
			return -ENOMEM;
		}
		*copy = *io->cmd;
		io->cmd = copy;
		r->owns_cmd = true;
	}
	fill(loop, r, t, io, wave, cb, data);
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
	/* While requests wait, new ones take the general path behind them:
	 * slots freed go to the backlog first. */
	loop->sq_room = 0;
	count_accept(loop, t, true);
	return (urio_id)req_id(r);
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
		r->token = hold_room(loop);
		count_promote(loop, t);
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
	if (!loop->backlog_n)
		urio__sq_refresh(loop);
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
	fill(loop, r, NULL, io, NULL, cb, data);
	r->queued = true;
	r->pending = 1;
	count_accept(loop, NULL, true);
	complete_local(loop, r, (int)(int64_t)io->arg);
	return (urio_id)req_id(r);
}

urio_id urio__submit(urio_loop *loop, struct urio_target *t, int ring,
		     struct urio_io *io, const struct urio_wave *wave,
		     unsigned flags, urio_cb cb, void *data)
{
	bool local = is_local(t, io->op);
	/* A deadline's CQE, or the second of a sendfile's linked pair. */
	unsigned ncqe = io->deadline || io->op == URIO_OP_SENDFILE ? 2 : 1;
	unsigned idx = 0;
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
	/* Queued requests go first into whatever room there is. */
	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
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
	fill(loop, r, t, io, wave, cb, data);
	ret = start(loop, r, e, idx, io, local);
	if (ret < 0) {
		req_free(loop, r);
		return ret;
	}
	count_accept(loop, t, false);
	if (e == loop->e0)
		urio__sq_refresh(loop); /* the general path used the SQ */
	return (urio_id)req_id(r);
}

int urio__cancel_local(urio_loop *loop, struct urio_req *r)
{
	bool parts_left;

	/* A short-path request is in the kernel: on ring 0, or an NVMe
	 * command on the passthrough ring.  The rest of its record is a past
	 * request's. */
	if (!(r->ud & URIO_UD_SLOW)) {
		if (r->target->passthru)
			return -EALREADY;
		r->engine = 0;
		return 1;
	}
	if (r->in_backlog) {
		backlog_unlink(loop, r);
		complete_local(loop, r, -ECANCELED);
		promote(loop); /* an empty backlog opens the short path */
		return 0;
	}
	if (r->parked) {
		unpark(loop, &loop->groups[r->group], r);
		complete_local(loop, r, -ECANCELED);
		return 0;
	}
	if (r->engine == URIO_NO_ENGINE)
		return -EALREADY;
	/* A multishot request is not armed again once it ends. */
	r->cancelled = true;
	/* A split command sends no more parts; those out are cancelled. */
	parts_left = r->wave.nparts && r->wave.next < r->wave.nparts &&
		     !r->first_err;
	if (parts_left)
		r->first_err = -ECANCELED;
	/* The kernel has no abort for an NVMe command it was given: that
	 * one runs to its end.  Found, when the parts it stops end it. */
	if (r->passthru)
		return parts_left ? 0 : -EALREADY;
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
		if (r->op == URIO_OP_CANCEL && *res > 0)
			*res = 0; /* found (a count, with CANCEL_ALL) */
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

/* The request is done: its record goes back (the callback may reuse it),
 * queued requests take the slot, then the callback runs. */
static void deliver(urio_loop *loop, struct urio_req *r, int res,
		    uint32_t cflags)
{
	struct urio_target *t = r->target;
	urio_cb cb = r->cb;
	void *data = r->data;

	count_done(loop, t, r->queued);
	if (r->op == URIO_OP_SENDFILE)
		sendfile_pipe_back(loop, &r->sf);
	if (r->multi && r->group >= 0)
		loop->groups[r->group].users--;
	if (r->passthru)
		loop->last_nvme_status = r->status;
	loop->cflags = cflags;
	loop->cstatus = r->status;
	req_free(loop, r);
	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	cb(loop, res, data);
}

/* A callback that is not the request's last: the record stays.  The
 * buffer (if any) goes back to its group once the callback returns; the
 * request itself is not touched after it (a nested run may end it). */
static void deliver_more(urio_loop *loop, struct urio_req *r, int res,
			 uint32_t cflags, int bid)
{
	struct urio_bufgroup *g =
		r->group >= 0 ? &loop->groups[r->group] : NULL;

	loop->cflags = cflags | IORING_CQE_F_MORE;
	loop->cstatus = 0;
	loop->cbuf = bid >= 0 ? g->base + (size_t)bid * g->size : NULL;
	r->cb(loop, res, r->data);
	loop->cbuf = NULL;
	if (bid >= 0)
		urio__group_put(loop, g, (unsigned)bid);
}

/* A completion of a multishot request.  While the kernel's multishot goes
 * on (IORING_CQE_F_MORE) each completion is a callback with URIO_C_MORE;
 * when it ends, urio arms it again unless it was cancelled or failed: out
 * of buffers it waits for one, silently.  Its last callback has no
 * URIO_C_MORE. */
static int complete_multi(urio_loop *loop, struct urio_req *r, int res,
			  uint32_t cflags)
{
	bool kmore = cflags & IORING_CQE_F_MORE;
	bool data = r->op == URIO_OP_ACCEPT ? res >= 0 : res > 0;
	struct urio_bufgroup *g =
		r->group >= 0 ? &loop->groups[r->group] : NULL;
	int bid = -1, ret = 0;

	if (cflags & IORING_CQE_F_BUFFER) {
		bid = (int)(cflags >> IORING_CQE_BUFFER_SHIFT);
	} else if (r->buf >= 0) {
		bid = r->buf; /* urio's own single receive */
		r->buf = -1;
		if (!data) {
			urio__group_put(loop, g, (unsigned)bid);
			bid = -1;
		}
	}
	if (kmore) {
		deliver_more(loop, r, res, cflags, bid);
		return 1;
	}
	/* The armed request ended: arm it again, or end it. */
	loop->engines[r->engine]->c.inflight--;
	r->pending = 0;
	if (!r->cancelled && !loop->destroying && res == -ENOBUFS &&
	    g->returned == r->armed_gen) {
		/* Every buffer was taken since it was armed: the completions
		 * that took them will give them back, and one wakes it. */
		park(loop, g, r);
		return 0;
	}
	if (!r->cancelled && !loop->destroying && (data || res == -ENOBUFS))
		ret = multi_arm(loop, r);
	else if (data || res == -ENOBUFS)
		ret = r->cancelled || loop->destroying ? -ECANCELED : 0;
	if (!data) {
		if (res == -ENOBUFS && ret == 0)
			return 0; /* waits for a buffer, unseen */
		deliver(loop, r, ret < 0 ? ret : res, cflags);
		return 1;
	}
	if (ret == 0) {
		deliver_more(loop, r, res, cflags, bid);
		return 1;
	}
	/* Data, and the end (cancelled, or it could not go on). */
	deliver_more(loop, r, res, cflags, bid);
	deliver(loop, r, ret, 0);
	return 2;
}

static int complete_slow(urio_loop *loop, struct urio_engine *e, uint64_t ud,
			 int res, uint32_t cflags)
{
	bool aux = (ud & URIO_UD_AUX) != 0;
	struct urio_req *r;

	if (ud & URIO_UD_INTERNAL) {
		urio__ring_internal(e, ud);
		urio__sq_refresh(loop); /* it may have taken an SQE */
		return 0;
	}
	r = req_at(loop, urio_ud_slot(ud));
	if (!r || r->is_shadow || r->ud != ((ud & ~URIO_UD_AUX) | URIO_UD_SLOW))
		return 0; /* not ours, or already delivered */
	if (r->multi && !aux)
		return complete_multi(loop, r, res, cflags);
	if (r->engine != URIO_NO_ENGINE)
		loop->engines[r->engine]->c.inflight--;
	if (r->op == URIO_OP_SENDFILE && r->engine != URIO_NO_ENGINE)
		return sendfile_cqe(loop, r, res);
	if (!settle(loop, r, &res, aux))
		return 0;
	deliver(loop, r, res, cflags);
	return 1;
}

/* One completion.  The short path: a record of the pool whose stored id
 * (no URIO_UD_SLOW) is the completion's. */
static inline int complete(urio_loop *loop, struct urio_engine *e, uint64_t ud,
			   int res, uint32_t cflags)
{
	uint32_t slot = urio_ud_slot(ud);
	struct urio_req *r = &loop->reqs[slot & loop->pool_mask];
	struct urio_target *t;
	urio_cb cb;
	void *data;

	if (URIO_UNLIKELY(r->ud != ud))
		return complete_slow(loop, e, ud, res, cflags);
	cb = r->cb;
	data = r->data;
	t = r->target;
	r->ud = (ud + URIO_UD_GEN_ONE) & URIO_UD_KEEP;
	r->next = loop->free_head;
	loop->free_head = slot;
	loop->c.completed++;
	t->c.inflight--; /* loop->nobody for requests without a target */
	loop->cflags = cflags;
	cb(loop, res, data);
	return 1;
}

/* A completion of the passthrough ring.  Its short path (passthru.c): a
 * record of the pool whose stored id is the completion's; res is 0 or the
 * NVMe status, and the callback gets the bytes moved or the status as an
 * errno (the status itself stays readable). */
static inline int complete_pt(urio_loop *loop, struct urio_engine *e,
			      uint64_t ud, int res)
{
	uint32_t slot = urio_ud_slot(ud);
	struct urio_req *r = &loop->reqs[slot & loop->pool_mask];
	uint16_t status = 0;
	struct urio_target *t;
	urio_cb cb;
	void *data;

	if (URIO_UNLIKELY(r->ud != ud))
		return complete_slow(loop, e, ud, res, 0);
	cb = r->cb;
	data = r->data;
	t = r->target;
	if (URIO_LIKELY(res == 0)) {
		res = (int)r->len;
	} else if (res > 0) {
		status = (uint16_t)res;
		res = urio_nvme_status_errno(res);
	}
	r->ud = (ud + URIO_UD_GEN_ONE) & URIO_UD_KEEP;
	r->next = loop->free_head;
	loop->free_head = slot;
	loop->c.completed++;
	loop->slow.completed++;
	t->c.inflight--;
	e->c.inflight--;
	loop->cflags = 0;
	loop->cstatus = status;
	loop->last_nvme_status = status;
	cb(loop, res, data);
	return 1;
}

/* Completions made at submission: taken one at a time off the head, so
 * callbacks may add more (or a nested run take some). */
static int reap_local(urio_loop *loop)
{
	unsigned n = loop->local_n;
	int ran = 0;

	/* Those there when the pass began: what callbacks complete at once
	 * (NOPs, inline reads) waits for the next, or a callback that always
	 * submits another would keep one run going for ever. */
	while (n-- && loop->local_n) {
		struct urio_req *r = req_at(loop, loop->local_head);

		loop->local_head = r->next;
		loop->local_n--;
		r->pending = 0;
		deliver(loop, r, r->result, 0);
		ran++;
	}
	return ran;
}

/* The rings are walked in place: the head moves past each CQE before its
 * callback runs, and is read again after it (a nested run may have moved
 * it).  The next CQE, or false; big (a CQE32 ring's, the passthrough
 * ring) also takes the first dword of its second half. */
static inline bool take_cqe_of(struct io_uring *ring, uint64_t *ud, int *res,
			       uint32_t *fl, uint64_t *big)
{
	unsigned head = *ring->cq.khead;
	const struct io_uring_cqe *cqe;

	if (head == io_uring_smp_load_acquire(ring->cq.ktail))
		return false;
	cqe = &ring->cq.cqes[(head & ring->cq.ring_mask) << (big ? 1 : 0)];
	*ud = cqe->user_data;
	*res = cqe->res;
	*fl = cqe->flags;
	if (big)
		*big = cqe->big_cqe[0];
	io_uring_smp_store_release(ring->cq.khead, head + 1);
	return true;
}

static inline bool take_cqe(struct io_uring *ring, uint64_t *ud, int *res,
			    uint32_t *fl)
{
	return take_cqe_of(ring, ud, res, fl, NULL);
}

/* reap_fast_ring's walk when completions come from a device (the loop has
 * had to wait, wait.c): what a callback prepared goes to the kernel as it
 * returns if more completions are left to dispatch before the loop enters
 * the kernel anyway, so the device is not left idle meanwhile.  A request
 * that completes inside that submit (a NOP, the page cache) has no device
 * to keep busy: early submission then only costs a syscall per request
 * (and would never end, each submit adding a completion to walk), so it
 * stops until the loop next has to wait. */
static __attribute__((noinline)) int reap_fast_early(urio_loop *loop)
{
	struct io_uring *ring = loop->ring0;
	unsigned tail;
	uint64_t ud;
	uint32_t fl;
	int res, ran = 0;
	bool tw;

	while (loop->submit_early && take_cqe(ring, &ud, &res, &fl)) {
		if (URIO_LIKELY(complete(loop, loop->e0, ud, res, fl)))
			ran++;
		tail = io_uring_smp_load_acquire(ring->cq.ktail);
		if (!io_uring_sq_ready(ring) || *ring->cq.khead == tail)
			continue;
		/* Task work pending: the submit runs it, and what it posts
		 * says nothing of the requests just sent. */
		tw = IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN;
		io_uring_submit(ring);
		urio__sq_refresh(loop);
		if (!tw && io_uring_smp_load_acquire(ring->cq.ktail) != tail)
			urio__wait_early_off(loop);
	}
	return ran;
}

static int reap_fast_ring(urio_loop *loop)
{
	struct io_uring *ring = loop->ring0;
	struct urio_engine *e = loop->e0;
	uint64_t ud;
	uint32_t fl;
	int res, ran = 0;

	/* With DEFER_TASKRUN, completions wait as task work until the ring is
	 * entered: do it, and submit what callbacks prepared in the same
	 * call, or it would sit in the SQ while completions keep coming. */
	if (URIO_UNLIKELY(IO_URING_READ_ONCE(*ring->sq.kflags) &
			  IORING_SQ_CQ_OVERFLOW))
		e->c.overflows++;
	if (*ring->cq.khead == io_uring_smp_load_acquire(ring->cq.ktail) &&
	    (IO_URING_READ_ONCE(*ring->sq.kflags) & IORING_SQ_TASKRUN)) {
		if (io_uring_sq_ready(ring)) {
			io_uring_submit_and_get_events(ring);
			urio__sq_refresh(loop);
		} else {
			io_uring_get_events(ring);
		}
	}
	if (URIO_UNLIKELY(loop->submit_early))
		ran = reap_fast_early(loop);
	while (take_cqe(ring, &ud, &res, &fl))
		if (URIO_LIKELY(complete(loop, e, ud, res, fl)))
			ran++;
	return ran;
}

/* The passthrough ring, walked in place as ring 0 is: 32-byte CQEs, whose
 * second half carries the command's result dwords for the callback (kept
 * for the callback that a nested run interrupts).  The kernel is asked
 * once a pass when its CQ is empty: completions wait there as task work
 * (DEFER_TASKRUN), or must be polled (IOPOLL). */
static int reap_pt_ring(urio_loop *loop, struct urio_engine *e)
{
	struct io_uring *ring = loop->pt_ring;
	uint64_t outer = loop->cresult, ud;
	uint32_t fl;
	int res, ran = 0;

	if (URIO_UNLIKELY(IO_URING_READ_ONCE(*ring->sq.kflags) &
			  IORING_SQ_CQ_OVERFLOW))
		e->c.overflows++;
	/* The engine's own test: polled with requests, task work or an
	 * overflow list waiting. */
	if (*ring->cq.khead == io_uring_smp_load_acquire(ring->cq.ktail) &&
	    e->ops->has_ready(e)) {
		if (io_uring_sq_ready(ring))
			io_uring_submit_and_get_events(ring);
		else
			io_uring_get_events(ring);
	}
	while (take_cqe_of(ring, &ud, &res, &fl, &loop->cresult)) {
		if (URIO_UNLIKELY(ud & URIO_UD_INTERNAL))
			urio__ring_internal(e, ud);
		else
			ran += complete_pt(loop, e, ud, res);
		/* As reap_engine: the device is not left idle while the
		 * rest of the pass is dispatched (wait.c). */
		if (URIO_UNLIKELY(loop->submit_early) &&
		    io_uring_sq_ready(ring))
			io_uring_submit(ring);
	}
	loop->cresult = outer;
	return ran;
}

static int reap_engine(urio_loop *loop, struct urio_engine *e)
{
	struct urio_cqe c;
	int ran = 0;

	while (e->ops->next(e, &c)) {
		ran += complete(loop, e, c.ud, c.res, c.flags);
		if (URIO_UNLIKELY(loop->submit_early))
			e->ops->enter(e, false);
	}
	return ran;
}

/* Every completion ready now, on every engine.  Callbacks run only in
 * here, so the loop knows it is inside one (depth) for the whole pass. */
static int reap(urio_loop *loop)
{
	int ran;

	loop->depth++;
	ran = loop->local_n ? reap_local(loop) : 0;
	if (loop->ring0)
		ran += reap_fast_ring(loop);
	else
		ran += reap_engine(loop, loop->e0);
	for (unsigned i = 1; i < loop->nengines; i++)
		ran += loop->engines[i] == loop->pt
			       ? reap_pt_ring(loop, loop->pt)
			       : reap_engine(loop, loop->engines[i]);
	if (URIO_UNLIKELY(__atomic_load_n(&loop->posted, __ATOMIC_ACQUIRE)) &&
	    !loop->destroying)
		ran += urio__run_posts(loop, 0);
	loop->depth--;
	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	return ran;
}

void urio__sq_refresh(urio_loop *loop)
{
	unsigned sq, pool;

	if (!loop->ring0 || loop->backlog_n || loop->destroying) {
		loop->sq_room = 0;
		return;
	}
	/* Records in use: every request holding a slot has one of the pool
	 * (its own, or a token when its own lies past it), plus shadows. */
	sq = io_uring_sq_space_left(loop->ring0);
	pool = urio__pool_free_count(loop);
	loop->sq_room = sq < pool ? sq : pool;
}

int urio__flush(urio_loop *loop)
{
	int ret = 0;

	for (unsigned i = 0; i < loop->nengines && ret >= 0; i++)
		ret = loop->engines[i]->ops->enter(loop->engines[i], false);
	urio__sq_refresh(loop);
	return ret < 0 ? ret : 0;
}

int urio__iterate(urio_loop *loop, bool block)
{
	int n, ret;

	if (URIO_UNLIKELY(loop->backlog_n))
		promote(loop);
	n = reap(loop);

	if (n || !block || !urio__loop_inflight(&loop->c)) {
		if (URIO_UNLIKELY(loop->submit_early) && n)
			urio__wait_idle_pass(loop);
		return n;
	}
	/* A post that came after the reap looked: it woke nobody. */
	if (__atomic_load_n(&loop->posted, __ATOMIC_ACQUIRE) &&
	    !loop->destroying)
		return reap(loop);
	ret = urio__wait(loop);
	urio__sq_refresh(loop); /* the wait submitted the SQ */
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
	/* Multishot receives waiting for a buffer end too. */
	for (unsigned i = 0; i < URIO_MAX_GROUPS; i++) {
		struct urio_bufgroup *g = &loop->groups[i];

		while (g->used && g->wait_head != URIO_POOL_END) {
			struct urio_req *r = req_at(loop, g->wait_head);

			unpark(loop, g, r);
			complete_local(loop, r, -ECANCELED);
		}
	}
}

int urio__cancel_parked_fd(urio_loop *loop, int fd)
{
	int n = 0;

	for (unsigned i = 0; i < URIO_MAX_GROUPS; i++) {
		struct urio_bufgroup *g = &loop->groups[i];
		uint32_t s = g->used ? g->wait_head : URIO_POOL_END;

		while (s != URIO_POOL_END) {
			struct urio_req *r = req_at(loop, s);

			s = r->next;
			if (r->io.fd != fd)
				continue;
			unpark(loop, g, r);
			complete_local(loop, r, -ECANCELED);
			n++;
		}
	}
	return n;
}

/* Requests the kernel never answered (a failed submission, a dead ring):
 * their callbacks still run once, with -ECANCELED.  Free records are the
 * ones on the free lists; every other record holds a request. */
void urio__complete_leftovers(urio_loop *loop)
{
	uint32_t total = pool_size(loop) + loop->nchunks * URIO_REQ_CHUNK;
	bool *is_free;

	loop->depth++;
	reap_local(loop);
	if (loop->c.submitted == loop->c.completed)
		goto out;
	is_free = calloc(total, sizeof(*is_free));
	if (!is_free)
		goto out;
	for (uint32_t s = loop->free_head; s != URIO_POOL_END;
	     s = req_at(loop, s)->next)
		is_free[s] = true;
	for (uint32_t s = loop->xfree_head; s != URIO_POOL_END;
	     s = req_at(loop, s)->next)
		is_free[s] = true;
	for (uint32_t s = 0; s < total; s++) {
		struct urio_req *r = req_at(loop, s);

		/* Pool records past nreqs round its size up: never used. */
		if (is_free[s] || r->is_shadow ||
		    (s >= loop->nreqs && s <= loop->pool_mask))
			continue;
		if (!(r->ud & URIO_UD_SLOW) && r->target->passthru) {
			complete_pt(loop, loop->pt, r->ud, -ECANCELED);
			continue;
		}
		if (!(r->ud & URIO_UD_SLOW)) {
			complete(loop, loop->e0, r->ud, -ECANCELED, 0);
			continue;
		}
		r->pending = 1;
		r->first_err = 0;
		r->wave.nparts = 0;
		r->engine = URIO_NO_ENGINE;
		complete_slow(loop, NULL, req_id(r), -ECANCELED, 0);
	}
	free(is_free);
out:
	loop->depth--;
}

int urio__run_posts(urio_loop *loop, int res)
{
	struct urio_post *p, *next;
	unsigned long n = 0;

	pthread_mutex_lock(&loop->post_lock);
	p = loop->post_head;
	loop->post_head = loop->post_tail = NULL;
	pthread_mutex_unlock(&loop->post_lock);
	for (; p; p = next, n++) {
		next = p->next;
		loop->cflags = 0;
		loop->cstatus = 0;
		p->cb(loop, res, p->data);
		free(p);
	}
	__atomic_sub_fetch(&loop->posted, n, __ATOMIC_RELEASE);
	return (int)n;
}
