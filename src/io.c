/* SPDX-License-Identifier: MIT */
/* io.c - the public request calls on targets and on the loop itself: each
 * checks every argument, then either fills an SQE on the short path (one
 * test decides: req.h) or hands one urio_io to the general path with the
 * precise error for whatever is wrong.  Nothing malformed reaches the
 * kernel. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>

#include "passthru.h"

#define SUBMIT_FLAGS URIO_F_WAIT

/* A read or write everything is right about, in one test (the short
 * paths'): any doubt goes to check_rw for the precise errno.  h is the
 * handle; its target is live when its own handle field says so. */
static inline bool rw_ok(const urio_target *h, const void *buf, size_t len,
			 uint64_t off, unsigned flags, urio_cb cb)
{
	const struct urio_target *t = urio__tptr(h);

	return h && t->handle == (uintptr_t)h && urio__loop_ok(t->loop) &&
	       buf && cb && len - 1 < URIO_MAX_IO && !(flags & ~SUBMIT_FLAGS) &&
	       off <= INT64_MAX - len &&
	       !(((uintptr_t)buf & t->mem_mask) | ((off | len) & t->off_mask));
}

static int check_rw(const urio_target *h, struct urio_target **t,
		    const void *buf, size_t len, uint64_t off, unsigned flags,
		    urio_cb cb)
{
	int ret = urio__check_target(h, t);

	if (ret < 0)
		return ret;
	if (!buf || !cb || !len || len > URIO_MAX_IO ||
	    (flags & ~SUBMIT_FLAGS) || off > INT64_MAX - len)
		return -EINVAL;
	if (((uintptr_t)buf & (*t)->mem_mask) || ((off | len) & (*t)->off_mask))
		return -EINVAL;
	return 0;
}

static int check_iov(const urio_target *h, struct urio_target **t,
		     const struct iovec *iov, unsigned iovcnt, uint64_t off,
		     unsigned flags, urio_cb cb)
{
	size_t total = 0;
	uint32_t len_mask;
	int ret = urio__check_target(h, t);

	if (ret < 0)
		return ret;
	if (!iov || !cb || !iovcnt || iovcnt > URIO_MAX_IOV ||
	    (flags & ~SUBMIT_FLAGS))
		return -EINVAL;
	/* One NVMe command carries the iovecs: each needs whole dwords, their
	 * total whole LBAs (urio_nvme_check_iov). */
	len_mask = (*t)->passthru ? (*t)->mem_mask : (*t)->off_mask;
	for (unsigned i = 0; i < iovcnt; i++) {
		if (!iov[i].iov_base || !iov[i].iov_len ||
		    iov[i].iov_len > URIO_MAX_IO - total)
			return -EINVAL;
		total += iov[i].iov_len;
		if (((uintptr_t)iov[i].iov_base & (*t)->mem_mask) ||
		    (iov[i].iov_len & len_mask))
			return -EINVAL;
	}
	if (off > INT64_MAX - total || (off & (*t)->off_mask))
		return -EINVAL;
	return 0;
}

/* The general path of a read or write (checked already). */
static urio_id rw_slow(struct urio_target *t, uint8_t op, void *buf, size_t len,
		       uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = op,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.buf = buf,
		.len = (uint32_t)len,
		.off = off,
	};

	if (t->ctrl)
		return -EOPNOTSUPP; /* a controller takes admin commands */
	if (t->passthru) {
		uint8_t opcode = op == URIO_OP_READ || op == URIO_OP_READV
					 ? URIO_NVME_READ
					 : URIO_NVME_WRITE;

		if (op == URIO_OP_READV || op == URIO_OP_WRITEV)
			return urio__pt_rwv(t, opcode, buf, (unsigned)len, off,
					    flags, cb, data);
		return urio__pt_rw(t, opcode, buf, (uint32_t)len, off, flags,
				   cb, data);
	}
	/* Inside the registered pool: the kernel skips pinning pages. */
	if (op == URIO_OP_READ || op == URIO_OP_WRITE) {
		int idx = urio__buf_index(t->loop, buf, len);

		io.fixed = idx >= 0;
		io.buf_index = (uint16_t)(idx >= 0 ? idx : 0);
	}
	return urio__submit(t->loop, t, -1, &io, NULL, flags, cb, data);
}

/* The short path's SQE for a read or write: fixed buffer and registered
 * file when the loop has them. */
static inline void prep_rw(struct io_uring_sqe *sqe,
			   const struct urio_target *t, bool write, void *buf,
			   size_t len, uint64_t off)
{
	int idx = t->loop->buf_base ? urio__buf_index(t->loop, buf, len) : -1;

	if (idx >= 0) {
		if (write)
			io_uring_prep_write_fixed(sqe, t->fd, buf,
						  (unsigned)len, off, idx);
		else
			io_uring_prep_read_fixed(sqe, t->fd, buf, (unsigned)len,
						 off, idx);
	} else {
		io_uring_prep_rw(write ? IORING_OP_WRITE : IORING_OP_READ, sqe,
				 t->fd, buf, (unsigned)len, off);
	}
	if (t->file_slot >= 0) {
		sqe->fd = t->file_slot;
		sqe->flags |= IOSQE_FIXED_FILE;
	}
}

static __attribute__((noinline)) urio_id
rw_checked(urio_target *h, bool write, void *buf, size_t len, uint64_t off,
	   unsigned flags, urio_cb cb, void *data)
{
	struct urio_target *t;
	int ret = check_rw(h, &t, buf, len, off, flags, cb);

	if (ret < 0)
		return ret;
	return rw_slow(t, write ? URIO_OP_WRITE : URIO_OP_READ, buf, len, off,
		       flags, cb, data);
}

static inline urio_id rw(urio_target *h, bool write, void *buf, size_t len,
			 uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct urio_target *t = urio__tptr(h);
	struct io_uring_sqe *sqe;

	if (URIO_LIKELY(rw_ok(h, buf, len, off, flags, cb))) {
		if (URIO_LIKELY(t->fast && urio__fast_sqe(t->loop, t, &sqe))) {
			prep_rw(sqe, t, write, buf, len, off);
			return urio__fast_commit(t->loop, t, sqe, cb, data);
		}
		/* An NVMe namespace: its ring's own short path. */
		if (t->passthru &&
		    (sqe = urio__pt_fast_sqe(t->loop, t, len, off)))
			return urio__pt_fast_rw(t, sqe, write, buf,
						(uint32_t)len, off, cb, data);
	}
	return rw_checked(h, write, buf, len, off, flags, cb, data);
}

urio_id urio_read(urio_target *t, void *buf, size_t len, uint64_t off,
		  unsigned flags, urio_cb cb, void *data)
{
	return rw(t, false, buf, len, off, flags, cb, data);
}

urio_id urio_write(urio_target *t, const void *buf, size_t len, uint64_t off,
		   unsigned flags, urio_cb cb, void *data)
{
	return rw(t, true, (void *)buf, len, off, flags, cb, data);
}

urio_id urio_readv(urio_target *h, const struct iovec *iov, unsigned iovcnt,
		   uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct urio_target *t;
	int ret = check_iov(h, &t, iov, iovcnt, off, flags, cb);

	return ret < 0 ? ret
		       : rw_slow(t, URIO_OP_READV, (void *)iov, iovcnt, off,
				 flags, cb, data);
}

urio_id urio_writev(urio_target *h, const struct iovec *iov, unsigned iovcnt,
		    uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct urio_target *t;
	int ret = check_iov(h, &t, iov, iovcnt, off, flags, cb);

	return ret < 0 ? ret
		       : rw_slow(t, URIO_OP_WRITEV, (void *)iov, iovcnt, off,
				 flags, cb, data);
}

static urio_id sync_op(urio_target *h, uint8_t op, unsigned flags, urio_cb cb,
		       void *data)
{
	struct urio_io io = { .op = op, .file_slot = -1 };
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	if (ret < 0)
		return ret;
	if (!cb || (flags & ~SUBMIT_FLAGS))
		return -EINVAL;
	if (t->ctrl)
		return -EOPNOTSUPP;
	if (t->passthru)
		return urio__pt_flush(t, flags, cb, data);
	io.fd = t->fd;
	io.file_slot = t->file_slot;
	return urio__submit(t->loop, t, -1, &io, NULL, flags, cb, data);
}

urio_id urio_fsync(urio_target *t, unsigned flags, urio_cb cb, void *data)
{
	return sync_op(t, URIO_OP_FSYNC, flags, cb, data);
}

urio_id urio_fdatasync(urio_target *t, unsigned flags, urio_cb cb, void *data)
{
	return sync_op(t, URIO_OP_FDATASYNC, flags, cb, data);
}

static int check_loop_op(urio_loop *loop, unsigned flags, urio_cb cb)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!cb || (flags & ~SUBMIT_FLAGS))
		return -EINVAL;
	return 0;
}

static __attribute__((noinline)) urio_id
nop_slow(urio_loop *loop, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = { .op = URIO_OP_NOP, .fd = -1, .file_slot = -1 };
	int ret = check_loop_op(loop, flags, cb);

	return ret < 0 ? ret
		       : urio__submit(loop, NULL, -1, &io, NULL, flags, cb,
				      data);
}

urio_id urio_nop(urio_loop *loop, unsigned flags, urio_cb cb, void *data)
{
	struct io_uring_sqe *sqe;

	if (URIO_LIKELY(urio__loop_ok(loop) && cb && !(flags & ~SUBMIT_FLAGS) &&
			urio__fast_sqe(loop, NULL, &sqe))) {
		io_uring_prep_nop(sqe);
		return urio__fast_commit(loop, NULL, sqe, cb, data);
	}
	return nop_slow(loop, flags, cb, data);
}

urio_id urio_timeout(urio_loop *loop, uint64_t ns, unsigned flags, urio_cb cb,
		     void *data)
{
	struct __kernel_timespec ts = {
		.tv_sec = (long long)(ns / 1000000000u),
		.tv_nsec = (long long)(ns % 1000000000u),
	};
	struct urio_io io = {
		.op = URIO_OP_TIMEOUT, .fd = -1, .file_slot = -1, .ts = &ts
	};
	int ret = check_loop_op(loop, flags, cb);

	return ret < 0 ? ret
		       : urio__submit(loop, NULL, -1, &io, NULL, flags, cb,
				      data);
}

urio_id urio_cancel(urio_loop *loop, urio_id id, unsigned flags, urio_cb cb,
		    void *data)
{
	struct urio_io io = { .op = URIO_OP_CANCEL, .fd = -1, .file_slot = -1 };
	struct urio_req *r;
	int ret = check_loop_op(loop, flags, cb);

	if (ret < 0)
		return ret;
	if (loop->destroying)
		return -ESHUTDOWN;
	r = urio__find(loop, id);
	if (!r)
		return -ENOENT;
	io.arg = (uint64_t)id;
	/* A cancel only finds requests on its own ring.  Requests that never
	 * reached one (queued, or done at submission) are answered here: the
	 * cancel request then completes locally like an inline one. */
	ret = urio__cancel_local(loop, r);
	if (ret <= 0) {
		io.op = URIO_OP_LOCAL;
		io.arg = (uint64_t)(int64_t)ret;
		return urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
	}
	/* A sendfile's step may be two SQEs with its id: cancel both. */
	if (r->op == URIO_OP_SENDFILE)
		io.len = IORING_ASYNC_CANCEL_ALL;
	return urio__submit(loop, NULL, r->engine, &io, NULL, flags, cb, data);
}

static urio_id zero_or_trim(urio_target *h, bool trim, uint64_t off,
			    uint64_t len, unsigned flags, urio_cb cb,
			    void *data)
{
	struct urio_io io = { .op = URIO_OP_FALLOCATE };
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	if (ret < 0)
		return ret;
	if (!cb || !len || (flags & ~SUBMIT_FLAGS) || off > INT64_MAX - len)
		return -EINVAL;
	if (t->passthru)
		return urio__pt_zero_or_trim(t, trim, off, len, flags, cb,
					     data);
	if (t->blockdev || t->ctrl)
		return -EOPNOTSUPP;
	io.fd = t->fd;
	io.file_slot = t->file_slot;
	io.off = off;
	io.len64 = len;
	io.arg = trim ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
		      : FALLOC_FL_ZERO_RANGE;
	return urio__submit(t->loop, t, -1, &io, NULL, flags, cb, data);
}

urio_id urio_write_zeroes(urio_target *t, uint64_t off, uint64_t len,
			  unsigned flags, urio_cb cb, void *data)
{
	return zero_or_trim(t, false, off, len, flags, cb, data);
}

urio_id urio_trim(urio_target *t, uint64_t off, uint64_t len, unsigned flags,
		  urio_cb cb, void *data)
{
	return zero_or_trim(t, true, off, len, flags, cb, data);
}
