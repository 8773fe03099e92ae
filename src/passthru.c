/* SPDX-License-Identifier: MIT */
/* passthru.c - requests on an NVMe passthrough target become NVMe commands
 * on the loop's passthrough ring: checked against the namespace (LBA
 * alignment, range) before anything is queued, split at MDTS and completed
 * once. */
#include <errno.h>

#include "internal.h"

urio_id urio__pt_rw(urio_target *t, uint8_t opcode, void *buf, uint32_t len,
		    uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;
	struct urio_wave wave = {
		.buf = buf,
		.off = off,
		.len = len,
		.max = t->ns.max_xfer ? t->ns.max_xfer : len,
		.opcode = opcode,
	};
	uint64_t nlb;
	uint32_t first;
	int idx, ret = urio_nvme_check_range(&t->ns, off, len, &nlb);
	struct urio_io io = {
		.op = URIO_OP_URING_CMD,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.cmd = &cmd,
		.arg = len,
	};

	if (ret < 0)
		return ret;
	/* Past MDTS: the first command goes now, the loop sends the rest as
	 * ring slots free (waves), and the request completes once. */
	wave.nparts = (uint16_t)urio_nvme_split_count(&t->ns, len);
	if (urio_nvme_split_count(&t->ns, len) > UINT16_MAX)
		return -EINVAL;
	first = len < wave.max ? len : wave.max;
	idx = urio__buf_index(t->loop, buf, first);
	io.fixed = idx >= 0;
	io.buf_index = (uint16_t)(idx >= 0 ? idx : 0);
	urio_nvme_rw(&cmd, &t->ns, opcode, buf, first, off);
	return urio__submit(t->loop, t, -1, &io, wave.nparts > 1 ? &wave : NULL,
			    flags, cb, data);
}

/* One command; a DSM range it points at is copied into the request. */
static urio_id submit_one(urio_target *t, struct nvme_uring_cmd *cmd,
			  struct urio_nvme_dsm_range *dsm, unsigned flags,
			  urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = URIO_OP_URING_CMD,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.cmd = cmd,
		.dsm = dsm,
	};

	return urio__submit(t->loop, t, -1, &io, NULL, flags, cb, data);
}

urio_id urio__pt_flush(urio_target *t, unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;

	urio_nvme_flush(&cmd, &t->ns);
	return submit_one(t, &cmd, NULL, flags, cb, data);
}

urio_id urio__pt_zero_or_trim(urio_target *t, bool trim, uint64_t off,
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
		return submit_one(t, &cmd, &range, flags, cb, data);
	}
	urio_nvme_write_zeroes(&cmd, &t->ns, off, len);
	return submit_one(t, &cmd, NULL, flags, cb, data);
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
	return submit_one(t, &cmd, NULL, flags, cb, data);
}
