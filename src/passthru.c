/* SPDX-License-Identifier: MIT */
/* passthru.c - requests on an NVMe passthrough target become NVMe commands
 * on the loop's passthrough ring: checked against the namespace (LBA
 * alignment, range) before anything is queued, split at MDTS and completed
 * once. */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

#define STACK_CMDS 4

urio_id urio__pt_rw(urio_target *t, uint8_t opcode, void *buf, uint32_t len,
		    uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd scmd[STACK_CMDS], *cmd = scmd;
	struct urio_io sio[STACK_CMDS], *io = sio;
	uint64_t nlb;
	unsigned n, max;
	urio_id ret = urio_nvme_check_range(&t->ns, off, len, &nlb);

	if (ret < 0)
		return ret;
	n = urio_nvme_split_count(&t->ns, len);
	max = t->ns.max_xfer ? t->ns.max_xfer : len;
	if (n > STACK_CMDS) {
		/* Only requests past 4 x MDTS pay for an allocation. */
		cmd = malloc(n * sizeof(*cmd));
		io = malloc(n * sizeof(*io));
		if (!cmd || !io) {
			ret = -ENOMEM;
			goto out;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t part = len - i * max < max ? len - i * max : max;

		char *p = (char *)buf + (size_t)i * max;
		int idx = urio__buf_index(t->loop, p, part);

		urio_nvme_rw(&cmd[i], &t->ns, opcode, p, part,
			     off + (uint64_t)i * max);
		io[i] = (struct urio_io){
			.op = URIO_OP_URING_CMD,
			.fd = t->fd,
			.file_slot = t->file_slot,
			.cmd = &cmd[i],
			.fixed = idx >= 0,
			.buf_index = (uint16_t)(idx >= 0 ? idx : 0),
			.arg = len,
		};
	}
	ret = urio__submit(t->loop, t, -1, io, n, flags, cb, data);
out:
	if (cmd != scmd)
		free(cmd);
	if (io != sio)
		free(io);
	return ret;
}

static urio_id submit_one(urio_target *t, struct nvme_uring_cmd *cmd,
			  struct urio_nvme_dsm_range *dsm, uint32_t okres,
			  unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = {
		.op = URIO_OP_URING_CMD,
		.fd = t->fd,
		.file_slot = t->file_slot,
		.cmd = cmd,
		.dsm = dsm,
		.arg = okres,
	};

	return urio__submit(t->loop, t, -1, &io, 1, flags, cb, data);
}

urio_id urio__pt_flush(urio_target *t, unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;

	urio_nvme_flush(&cmd, &t->ns);
	return submit_one(t, &cmd, NULL, 0, flags, cb, data);
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
		return submit_one(t, &cmd, &range, 0, flags, cb, data);
	}
	urio_nvme_write_zeroes(&cmd, &t->ns, off, len);
	return submit_one(t, &cmd, NULL, 0, flags, cb, data);
}

urio_id urio_nvme_io(urio_target *t, const struct urio_nvme_cmd *c,
		     unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd = { 0 };
	int ret = urio__check_target(t);

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
	return submit_one(t, &cmd, NULL, 0, flags, cb, data);
}
