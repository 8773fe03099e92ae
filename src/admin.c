/* SPDX-License-Identifier: MIT */
/* admin.c - admin commands on an NVMe controller target (/dev/nvmeX):
 * Identify, Get Log Page and any raw admin command, each sent on the
 * loop's passthrough ring as NVME_URING_CMD_ADMIN; and the result dwords
 * of the passthrough completion being delivered. */
#include <errno.h>

#include "internal.h"

/* The controller behind handle h, for a request with these flags. */
static int check_ctrl(const urio_target *h, struct urio_target **t,
		      unsigned flags, unsigned allowed, urio_cb cb)
{
	int ret = urio__check_target(h, t);

	if (ret < 0)
		return ret;
	if (!cb || (flags & ~allowed))
		return -EINVAL;
	if (!(*t)->ctrl)
		return -EOPNOTSUPP;
	/* The kernel polls no admin queue: it would fail every command. */
	if ((*t)->loop->pt->polled)
		return -EOPNOTSUPP;
	return 0;
}

static urio_id submit_admin(struct urio_target *t, struct nvme_uring_cmd *cmd,
			    unsigned flags, urio_cb cb, void *data)
{
	return urio__pt_submit(t, cmd, NVME_URING_CMD_ADMIN, NULL, 0,
			       flags & URIO_F_WAIT, cb, data);
}

urio_id urio_nvme_admin(urio_target *h, const struct urio_nvme_admin *c,
			unsigned flags, urio_cb cb, void *data)
{
	struct urio_nvme_admin a;
	struct nvme_uring_cmd cmd;
	struct urio_target *t;
	int ret = check_ctrl(h, &t, flags, URIO_F_WAIT, cb);

	if (ret < 0)
		return ret;
	if (!c)
		return -EINVAL;
	ret = urio__copy_opts(&a, sizeof(a), c, sizeof(a));
	if (ret < 0)
		return ret;
	if (!a.buf != !a.len)
		return -EINVAL;
	cmd = (struct nvme_uring_cmd){
		.opcode = a.opcode,
		.nsid = a.nsid,
		.addr = (uintptr_t)a.buf,
		.data_len = a.len,
		.cdw10 = a.cdw10,
		.cdw11 = a.cdw11,
		.cdw12 = a.cdw12,
		.cdw13 = a.cdw13,
		.cdw14 = a.cdw14,
		.cdw15 = a.cdw15,
		.timeout_ms = a.timeout_ms,
	};
	return submit_admin(t, &cmd, flags, cb, data);
}

urio_id urio_nvme_identify(urio_target *h, unsigned cns, uint32_t nsid,
			   void *buf, unsigned flags, urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;
	struct urio_target *t;
	int ret = check_ctrl(h, &t, flags, URIO_F_WAIT, cb);

	if (ret < 0)
		return ret;
	if (!buf || cns > 0xff)
		return -EINVAL;
	urio_nvme_identify_cmd(&cmd, cns, nsid, buf);
	return submit_admin(t, &cmd, flags, cb, data);
}

urio_id urio_nvme_get_log(urio_target *h, unsigned lid, uint32_t nsid,
			  void *buf, uint32_t len, uint64_t off, unsigned flags,
			  urio_cb cb, void *data)
{
	struct nvme_uring_cmd cmd;
	struct urio_target *t;
	int ret = check_ctrl(h, &t, flags, URIO_F_WAIT | URIO_NVME_RAE, cb);

	if (ret < 0)
		return ret;
	if (lid > 0xff)
		return -EINVAL;
	ret = urio_nvme_get_log_cmd(&cmd, nsid, (uint8_t)lid,
				    flags & URIO_NVME_RAE, buf, len, off);
	if (ret < 0)
		return ret;
	return submit_admin(t, &cmd, flags, cb, data);
}

int urio_loop_nvme_result(const urio_loop *loop, uint64_t *result)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!result)
		return -EINVAL;
	*result = loop->depth ? loop->cresult : 0;
	return 0;
}
