/* SPDX-License-Identifier: MIT */
/* req.h - the short path: a request on a loop whose only plain ring takes
 * it directly goes from the public call straight into an SQE, with one
 * record popped off the pool, one id, and the counters once.  Everything
 * else (several rings, libaio, inline I/O, deadlines, passthrough, a full
 * loop) returns NULL here and takes urio__submit() in req.c. */
#ifndef URIO_REQ_H
#define URIO_REQ_H

#include <liburing.h>

#include "internal.h"

static inline void urio__count_submit(struct urio_counters *c)
{
	c->submitted++;
	if (++c->inflight > c->hwm)
		c->hwm = c->inflight;
}

/* An SQE of the loop's plain ring when the request may take the short
 * path: the loop (and target) have room, and so does the SQ. */
static inline struct io_uring_sqe *urio__fast_sqe(urio_loop *loop,
						  const struct urio_target *t)
{
	struct io_uring *ring = loop->fast_ring;
	struct io_uring_sq *sq;
	unsigned tail;

	if (URIO_UNLIKELY(!ring || loop->c.inflight >= loop->cap ||
			  (t && t->c.inflight >= t->cap)))
		return NULL;
	sq = &ring->sq;
	tail = sq->sqe_tail;
	if (URIO_UNLIKELY(tail - IO_URING_READ_ONCE(*sq->khead) >=
			  sq->ring_entries))
		return NULL;
	sq->sqe_tail = tail + 1;
	return &sq->sqes[tail & sq->ring_mask];
}

/* Takes a record for the request whose SQE is filled: room was checked by
 * urio__fast_sqe, so the pool has a free record. */
static inline urio_id urio__fast_commit(urio_loop *loop, struct urio_target *t,
					struct io_uring_sqe *sqe, urio_cb cb,
					void *data)
{
	struct urio_req *r = &loop->reqs[loop->free_head];
	uint64_t ud = r->ud;

	loop->free_head = r->next;
	r->cb = cb;
	r->data = data;
	r->target = t;
	sqe->user_data = ud;
	urio__count_submit(&loop->c);
	urio__count_submit(&loop->e0->c);
	if (t)
		urio__count_submit(&t->c);
	return (urio_id)ud;
}

#endif
