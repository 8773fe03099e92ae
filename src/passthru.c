/* SPDX-License-Identifier: MIT */
/* passthru.c - requests on an NVMe passthrough target become NVMe commands
 * on the loop's passthrough ring, checked against the namespace (LBA
 * alignment, range, MDTS) before anything is queued.  A read or write that
 * is one command took the short path already if it could (passthru.h, from
 * io.c); here are the others: split at MDTS and completed once, waiting
 * for room or in the backlog; vectored reads and writes (one command, on
 * the short path when there is room); flush, write zeroes, deallocate and
 * raw commands. */
#include <errno.h>

#include "passthru.h"

urio_id urio__pt_submit(struct urio_target *t, struct nvme_uring_cmd *cmd,
			uint32_t cmd_op, struct urio_nvme_dsm_range *dsm,
			uint32_t len, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = URIO_OP_URING_CMD,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.cmd = cmd,
		.len = cmd_op,
		.dsm = dsm,
		.arg = len,
	};

	return urio__submit(t->loop, t, -1, &io, NULL, flags, cb, data);
}

/* The general path of a read or write: past MDTS the first command goes
 * now, the loop sends the rest as ring slots free (waves), and the request
 * completes once. */
static urio_id pt_rw_slow(struct urio_target *t, uint8_t opcode, void *buf,
			  uint32_t len, uint64_t off, unsigned flags,
			  urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;
	unsigned nparts = urio_nvme_split_count(&t->ns, len);
	struct urio_wave wave = {
		.buf = buf,
		.off = off,
		.len = len,
		.max = t->ns.max_xfer ? t->ns.max_xfer : len,
		.nparts = (uint16_t)nparts,
		.opcode = opcode,
	};
	uint32_t first = len < wave.max ? len : wave.max;
	int idx = urio__buf_index(t->loop, buf, first);
	struct urio_io io = {
		.op = URIO_OP_URING_CMD,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.cmd = &cmd,
		.arg = len,
		.fixed = idx >= 0,
		.buf_index = (uint16_t)(idx >= 0 ? idx : 0),
	};

	if (nparts > UINT16_MAX)
		return -EINVAL;
	urio_nvme_rw(&cmd, &t->ns, opcode, buf, first, off);
	return urio__submit(t->loop, t, -1, &io, nparts > 1 ? &wave : NULL,
			    flags, cb, data);
}

urio_id urio__pt_rw(struct urio_target *t, uint8_t opcode, void *buf,
		    uint32_t len, uint64_t off, unsigned flags, urio_cb cb,
		    void *data)
{
	uint64_t nlb;
	int ret = urio_nvme_check_range(&t->ns, off, len, &nlb);

	if (ret < 0)
		return ret;
	return pt_rw_slow(t, opcode, buf, len, off, flags, cb, data);
}

urio_id urio__pt_rwv(struct urio_target *t, uint8_t opcode,
		     const struct iovec *iov, unsigned iovcnt, uint64_t off,
		     unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;
	struct io_uring_sqe *sqe;
	uint64_t len, nlb;
	int ret = urio_nvme_check_iov(&t->ns, iov, iovcnt, off, &len, &nlb);

	if (ret < 0)
		return ret;
	/* One command whatever its size: the kernel maps the iovecs as one
	 * request (a copy when they do not suit the device). */
	urio_nvme_rwv(&cmd, &t->ns, opcode, iov, iovcnt, len, off);
	sqe = urio__pt_fast_sqe(t->loop, t, len, off);
	if (sqe) {
		urio_nvme_prep_sqe_op(sqe, urio__pt_fd(t), t->file_slot >= 0,
				      NVME_URING_CMD_IO_VEC, &cmd, false, 0);
		return urio__pt_fast_commit(t->loop, t, sqe, (uint32_t)len, cb,
					    data);
	}
	return urio__pt_submit(t, &cmd, NVME_URING_CMD_IO_VEC, NULL,
			       (uint32_t)len, flags, cb, data);
}

urio_id urio__pt_flush(struct urio_target *t, unsigned flags, urio_cb cb,
		       void *data)
{
	struct nvme_uring_cmd cmd;

	urio_nvme_flush(&cmd, &t->ns);
	return urio__pt_submit(t, &cmd, 0, NULL, 0, flags, cb, data);
}

urio_id urio__pt_zero_or_trim(struct urio_target *t, bool trim, uint64_t off,
			      uint64_t len, unsigned flags, urio_cb cb,
			      void *data)
{
	struct nvme_uring_cmd cmd;
	struct urio_nvme_dsm_range range;
	uint64_t nlb;
	int ret = urio_nvme_check_range(&t->ns, off, len, &nlb);

	/* One command: NLB is 16 bits for Write Zeroes, 32 for a range. */
	if (ret == 0 && nlb > (trim ? UINT32_MAX : 65536u))
		ret = -EINVAL;
	if (ret < 0)
		return ret;
	if (trim) {
		urio_nvme_deallocate(&cmd, &t->ns, &range, off, len);
		return urio__pt_submit(t, &cmd, 0, &range, 0, flags, cb, data);
	}
	urio_nvme_write_zeroes(&cmd, &t->ns, off, len);
	return urio__pt_submit(t, &cmd, 0, NULL, 0, flags, cb, data);
}

urio_id urio_nvme_io(urio_target *h, const struct urio_nvme_cmd *c,
		     unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd = { 0 };
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	if (ret < 0)
		return ret;
	if (!c || c->size < sizeof(*c) || !cb || (flags & ~URIO_F_WAIT) ||
	    (c->len && !c->buf) || (!c->len && c->buf))
		return -EINVAL;
	if (!t->passthru)
		return -EOPNOTSUPP;
	cmd.opcode = c->opcode;
	cmd.nsid = t->ns.nsid;
	cmd.addr = (uintptr_t)c->buf;
	cmd.data_len = c->len;
	cmd.cdw10 = c->cdw10;
	cmd.cdw11 = c->cdw11;
	cmd.cdw12 = c->cdw12;
	cmd.cdw13 = c->cdw13;
	cmd.cdw14 = c->cdw14;
	cmd.cdw15 = c->cdw15;
	return urio__pt_submit(t, &cmd, 0, NULL, 0, flags, cb, data);
}
