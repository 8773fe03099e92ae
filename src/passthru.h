/* SPDX-License-Identifier: MIT */
/* passthru.h - the passthrough ring's short path, inline as req.h is ring
 * 0's: a read or write of one NVMe command goes from the public call
 * straight into the ring's 128-byte SQE, with one record popped off the
 * pool, and req.c's walk of the ring's CQ completes it.  Whatever it does
 * not fit (past the namespace or MDTS, no room, a backlog, a loop being
 * destroyed) finds NULL here and takes passthru.c's general path. */
#ifndef URIO_PASSTHRU_H
#define URIO_PASSTHRU_H

#include "req.h"

/* An SQE of the passthrough ring for len bytes at off on passthrough
 * target t (the caller checked alignment and overflow), when the short
 * path may take them: inside the namespace, one command (MDTS; 0 is no
 * limit), nothing in the backlog before it, a free record in the pool, and
 * room on the target and in the ring's CQ. */
static inline struct io_uring_sqe *
urio__pt_fast_sqe(urio_loop *loop, const struct urio_target *t, size_t len,
		  uint64_t off)
{
	const struct urio_engine *e = loop->pt;
	struct io_uring_sq *sq = &loop->pt_ring->sq;
	unsigned tail = sq->sqe_tail;

	/* The ring is never SQPOLL: its head moves only when we enter. */
	if (URIO_UNLIKELY(off + len > t->bytes ||
			  len - 1 > t->ns.max_xfer - 1u || loop->backlog_n ||
			  loop->destroying ||
			  loop->free_head == URIO_POOL_END ||
			  t->c.inflight >= t->cap || e->c.inflight >= e->cap ||
			  tail + 1 - *sq->khead > sq->ring_entries))
		return NULL;
	sq->sqe_tail = tail + 1;
	return &sq->sqes[(tail & sq->ring_mask) << 1]; /* 128-byte SQEs */
}

/* The fd as the SQE names it: its registered slot when it has one. */
static inline int urio__pt_fd(const struct urio_target *t)
{
	return t->file_slot >= 0 ? t->file_slot : t->fd;
}

/* Takes a record for the request whose SQE is filled, as ring 0's short
 * path does, and counts it apart from that path (in the loop's slow
 * share) and on the ring.  len: what the callback gets when the command
 * succeeds (the controller says 0). */
static inline urio_id urio__pt_fast_commit(urio_loop *loop,
					   struct urio_target *t,
					   struct io_uring_sqe *sqe,
					   uint32_t len, urio_cb cb, void *data)
{
	urio_id id = urio__fast_commit(loop, t, sqe, cb, data);

	loop->reqs[urio_ud_slot((uint64_t)id)].len = len;
	loop->slow.submitted++;
	if (loop->sq_room)
		loop->sq_room--; /* it promised no more records than are free */
	urio__count_submit(&loop->pt->c);
	return id;
}

/* A read or write on the short path: the command written into sqe. */
static inline urio_id urio__pt_fast_rw(struct urio_target *t,
				       struct io_uring_sqe *sqe, bool write,
				       void *buf, uint32_t len, uint64_t off,
				       urio_cb cb, void *data)
{
	urio_loop *loop = t->loop;
	int idx = loop->buf_base ? urio__buf_index(loop, buf, len) : -1;

	urio_nvme_sqe_rw(sqe, &t->ns, urio__pt_fd(t), t->file_slot >= 0,
			 write ? URIO_NVME_WRITE : URIO_NVME_READ, buf, len,
			 off, idx);
	return urio__pt_fast_commit(loop, t, sqe, len, cb, data);
}

#endif
