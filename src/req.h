/* SPDX-License-Identifier: MIT */
/* req.h - the short path: a request on a loop whose only plain ring takes
 * it directly goes from the public call straight into an SQE, with one
 * record popped off the pool (a free record is room in the loop), one id,
 * and the counters once.  Everything else (several rings, libaio, inline
 * I/O, deadlines, passthrough, a full loop) finds NULL here and takes
 * urio__submit() in req.c. */
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
 * path: room in the SQ and the pool (sq_room counts both; it is 0 on a
 * loop without a short path), and room on the target. */
static inline bool urio__fast_sqe(urio_loop *loop, const struct urio_target *t,
				  struct io_uring_sqe **sqe)
{
	struct io_uring_sq *sq;
	unsigned tail;

	if (URIO_UNLIKELY(!loop->sq_room || (t && t->c.inflight >= t->cap)))
		return false;
	loop->sq_room--;
	sq = &loop->ring0->sq;
	tail = sq->sqe_tail;
	sq->sqe_tail = tail + 1;
	*sqe = &sq->sqes[tail & sq->ring_mask];
	return true;
}

/* Takes a free record (sq_room promised one) for the request whose SQE is
 * filled. */
static inline urio_id urio__fast_commit(urio_loop *loop, struct urio_target *t,
					struct io_uring_sqe *sqe, urio_cb cb,
					void *data)
{
	uint32_t slot = loop->free_head;
	struct urio_req *r = &loop->reqs[slot];
	uint64_t ud = r->ud;

	loop->free_head = r->next;
	if (URIO_UNLIKELY(slot >= loop->pool_hwm))
		loop->pool_hwm = slot + 1;
	r->cb = cb;
	r->data = data;
	sqe->user_data = ud;
	loop->c.submitted++;
	if (t) {
		r->target = t;
		urio__count_submit(&t->c);
	} else {
		r->target = loop->nobody;
	}
	return (urio_id)ud;
}

#endif
