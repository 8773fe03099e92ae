/* SPDX-License-Identifier: MIT */
/* nvme.c - NVMe namespaces for passthrough: what the device says of itself
 * (nsid, LBA format, capacity, MDTS), command encoding for reads, writes,
 * flush, write-zeroes and deallocate, the 128-byte SQE that carries them,
 * and what an NVMe status means as an errno. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "compat.h"
#include "nvme.h"

#define ID_BYTES 4096
#define MPS_MIN	 4096 /* CAP.MPSMIN: 4 KiB on every controller seen here */

static int identify(int fd, uint32_t nsid, uint32_t cns, void *buf)
{
	struct nvme_admin_cmd ac = {
		.opcode = 0x06,
		.nsid = nsid,
		.addr = (uintptr_t)buf,
		.data_len = ID_BYTES,
		.cdw10 = cns,
	};
	int ret = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &ac);

	if (ret < 0)
		return -errno;
	return ret > 0 ? -EIO : 0; /* a positive return is an NVMe status */
}

int urio_nvme_probe(int fd, struct urio_nvme_ns *ns)
{
	unsigned char *id;
	unsigned flbas, fmt, lbads, mdts;
	int nsid, ret;

	nsid = ioctl(fd, NVME_IOCTL_ID);
	if (nsid < 0)
		return -errno;
	if (posix_memalign((void **)&id, 4096, ID_BYTES))
		return -ENOMEM;
	ret = identify(fd, (uint32_t)nsid, 0, id);
	if (ret < 0)
		goto out;
	memcpy(&ns->nlba, id, 8);
	flbas = id[26];
	fmt = (flbas & 0xf) | ((flbas >> 1) & 0x30);
	lbads = id[128 + 4 * fmt + 2];
	if (lbads < 9 || lbads > 16) {
		ret = -EINVAL;
		goto out;
	}
	ns->nsid = (uint32_t)nsid;
	ns->lba_shift = lbads;
	/* MDTS from Identify Controller (byte 77), in units of MPSMIN. */
	ns->max_xfer = 0;
	if (identify(fd, 0, 1, id) == 0) {
		mdts = id[77];
		if (mdts && mdts < 20)
			ns->max_xfer = MPS_MIN << mdts;
	}
	ret = 0;
out:
	free(id);
	return ret;
}

int urio_nvme_check_range(const struct urio_nvme_ns *ns, uint64_t off,
			  uint64_t len, uint64_t *nlb)
{
	uint64_t mask = (1ull << ns->lba_shift) - 1;

	if (!len || (off & mask) || (len & mask))
		return -EINVAL;
	if ((off >> ns->lba_shift) >= ns->nlba ||
	    (len >> ns->lba_shift) > ns->nlba - (off >> ns->lba_shift))
		return -ERANGE;
	*nlb = len >> ns->lba_shift;
	return 0;
}

unsigned urio_nvme_split_count(const struct urio_nvme_ns *ns, uint64_t len)
{
	if (!ns->max_xfer || len <= ns->max_xfer)
		return 1;
	return (unsigned)((len + ns->max_xfer - 1) / ns->max_xfer);
}

static void lba_cmd(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		    uint8_t opcode, uint64_t off, uint64_t nlb)
{
	uint64_t slba = off >> ns->lba_shift;

	memset(c, 0, sizeof(*c));
	c->opcode = opcode;
	c->nsid = ns->nsid;
	c->cdw10 = (uint32_t)slba;
	c->cdw11 = (uint32_t)(slba >> 32);
	c->cdw12 = (uint32_t)(nlb - 1); /* 0's based */
}

void urio_nvme_rw(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		  uint8_t opcode, void *buf, uint32_t len, uint64_t off)
{
	lba_cmd(c, ns, opcode, off, len >> ns->lba_shift);
	c->addr = (uintptr_t)buf;
	c->data_len = len;
}

void urio_nvme_flush(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns)
{
	memset(c, 0, sizeof(*c));
	c->opcode = URIO_NVME_FLUSH;
	c->nsid = ns->nsid;
}

void urio_nvme_write_zeroes(struct nvme_uring_cmd *c,
			    const struct urio_nvme_ns *ns, uint64_t off,
			    uint64_t len)
{
	lba_cmd(c, ns, URIO_NVME_WRITE_ZEROES, off, len >> ns->lba_shift);
}

void urio_nvme_deallocate(struct nvme_uring_cmd *c,
			  const struct urio_nvme_ns *ns,
			  struct urio_nvme_dsm_range *range, uint64_t off,
			  uint64_t len)
{
	range->cattr = 0;
	range->nlb = (uint32_t)(len >> ns->lba_shift);
	range->slba = off >> ns->lba_shift;
	memset(c, 0, sizeof(*c));
	c->opcode = URIO_NVME_DSM;
	c->nsid = ns->nsid;
	c->addr = (uintptr_t)range;
	c->data_len = sizeof(*range);
	c->cdw10 = 0; /* one range, 0's based */
	c->cdw11 = URIO_NVME_DSM_DEALLOCATE;
}

void urio_nvme_prep_sqe(void *sqe128, int fd, bool fixed_file,
			const struct nvme_uring_cmd *c, bool fixed_buf,
			unsigned buf_index)
{
	struct io_uring_sqe *sqe = sqe128;

	/* Both halves of the 128-byte SQE; memset on the 64-byte type would
	 * trip gcc's -Wstringop-overflow. */
	memset(sqe, 0, sizeof(*sqe));
	memset((char *)sqe128 + sizeof(*sqe), 0, sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	if (fixed_file)
		sqe->flags |= IOSQE_FIXED_FILE;
	sqe->cmd_op = NVME_URING_CMD_IO;
	if (fixed_buf) {
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = (__u16)buf_index;
	}
	memcpy(sqe->cmd, c, sizeof(*c));
}

int urio_nvme_status_errno(int status)
{
	unsigned sct = ((unsigned)status >> 8) & 0x7,
		 sc = (unsigned)status & 0xff;

	if (sct == 0) {
		switch (sc) {
		case 0x01: /* invalid opcode */
			return -EOPNOTSUPP;
		case 0x02: /* invalid field */
			return -EINVAL;
		case 0x07: /* abort requested */
		case 0x08: /* aborted: SQ deletion */
			return -ECANCELED;
		case 0x0b: /* invalid namespace or format */
			return -ENODEV;
		case 0x80: /* LBA out of range */
			return -ERANGE;
		case 0x81: /* capacity exceeded */
			return -ENOSPC;
		case 0x82: /* namespace not ready */
			return -EAGAIN;
		case 0x83: /* reservation conflict */
			return -EBADE;
		}
		return -EIO;
	}
	if (sct == 2) {
		switch (sc) {
		case 0x81: /* unrecovered read error */
		case 0x87: /* deallocated or unwritten block */
			return -ENODATA;
		case 0x85: /* compare failure */
			return -EILSEQ;
		case 0x86: /* access denied */
			return -EACCES;
		}
		return -EIO;
	}
	return -EIO;
}
