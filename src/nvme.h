/* SPDX-License-Identifier: MIT */
/* nvme.h - NVMe namespace facts and passthrough command encoding (see
 * nvme.c).  A leaf: it knows nothing of loops or rings. */
#ifndef URIO_NVME_H
#define URIO_NVME_H

#include <errno.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h> /* _IOWR, which the NVME_URING_CMD_* values use */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "urio.h" /* the admin constants and the decoded pages */

/* I/O command set opcodes */
#define URIO_NVME_READ		 0x02
#define URIO_NVME_WRITE		 0x01
#define URIO_NVME_FLUSH		 0x00
#define URIO_NVME_WRITE_ZEROES	 0x08
#define URIO_NVME_DSM		 0x09
#define URIO_NVME_DSM_DEALLOCATE (1u << 2)

/* Admin opcodes */
#define URIO_NVME_ADMIN_GET_LOG	 0x02
#define URIO_NVME_ADMIN_IDENTIFY 0x06
#define URIO_NVME_MAX_IOV	 1024 /* UIO_MAXIOV: what the kernel maps */

struct urio_nvme_ns {
	uint32_t nsid;
	uint32_t lba_shift; /* log2 of the LBA data size */
	uint64_t nlba;	    /* namespace size in LBAs */
	uint32_t max_xfer;  /* bytes per command (MDTS); 0: no limit */
	/* The generic device of a multipath head (a shared namespace of an
	 * NVMe-oF or multi-controller subsystem), not of one controller. */
	bool mpath_head;
};

/* One DSM range, as the controller reads it (16 bytes, little endian). */
struct urio_nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};

/* Reads the namespace's facts from its generic char device (/dev/ngXnY:
 * ioctls, sysfs).  -ENOTTY: not one; another errno: one whose Identify
 * failed (-EACCES where the kernel keeps it for CAP_SYS_ADMIN). */
int urio_nvme_probe(int fd, struct urio_nvme_ns *ns);
/* Whether fd is an NVMe controller's char device (/dev/nvmeX), which
 * takes admin commands: then 0 and *max_xfer its MDTS in bytes (0: no
 * limit).  -ENOTTY: not one; another errno: one whose Identify failed. */
int urio_nvme_probe_ctrl(int fd, uint32_t *max_xfer);
/* Whether the namespace can be polled (IORING_SETUP_IOPOLL) without harm:
 * polling a multipath head's generic device oopses the kernel (a NULL
 * dereference: in bio_poll on Debian's 6.1.0-56, in nvme_tcp_poll through
 * blk_rq_poll on 6.12.117, both on an NVMe/TCP namespace), and the task
 * then hangs in io_uring teardown. */
bool urio_nvme_iopoll_safe(const struct urio_nvme_ns *ns);

/* Checks a byte range against the namespace: -EINVAL if not LBA-aligned or
 * empty, -ERANGE past the end.  On success *nlb is the LBA count.  Inline:
 * it runs for every request. */
static inline int urio_nvme_check_range(const struct urio_nvme_ns *ns,
					uint64_t off, uint64_t len,
					uint64_t *nlb)
{
	uint64_t slba = off >> ns->lba_shift, n = len >> ns->lba_shift;

	if (!len || ((off | len) & ((1ull << ns->lba_shift) - 1)))
		return -EINVAL;
	if (slba >= ns->nlba || n > ns->nlba - slba)
		return -ERANGE;
	*nlb = n;
	return 0;
}

/* Commands a transfer of len bytes splits into under MDTS. */
static inline unsigned urio_nvme_split_count(const struct urio_nvme_ns *ns,
					     uint64_t len)
{
	if (!ns->max_xfer || len <= ns->max_xfer)
		return 1;
	return (unsigned)((len + ns->max_xfer - 1) / ns->max_xfer);
}

/* Checks an iovec array for one vectored command: 1 to URIO_NVME_MAX_IOV
 * entries, dword-aligned bases and lengths, a total that is LBA-aligned,
 * within the namespace and within MDTS (a vectored command is not split).
 * -EINVAL or -ERANGE as urio_nvme_check_range; on success *len is the
 * total in bytes and *nlb in LBAs. */
int urio_nvme_check_iov(const struct urio_nvme_ns *ns, const struct iovec *iov,
			unsigned iovcnt, uint64_t off, uint64_t *len,
			uint64_t *nlb);

/* Where a 128-byte SQE carries its NVMe command (sqe->cmd). */
#define URIO_NVME_CMD_OFF 48

static inline struct nvme_uring_cmd *urio_nvme_sqe_cmd(void *sqe128)
{
	return (struct nvme_uring_cmd *)((char *)sqe128 + URIO_NVME_CMD_OFF);
}

/* The 48-byte head of a URING_CMD SQE and its last 8 bytes, which the
 * command does not cover: the command is written by the caller. */
static inline void urio_nvme_sqe_head(void *sqe128, int fd, bool fixed_file,
				      uint32_t cmd_op, int buf_index)
{
	struct io_uring_sqe *sqe = (struct io_uring_sqe *)sqe128;

	memset(sqe, 0, URIO_NVME_CMD_OFF);
	memset((char *)sqe128 + URIO_NVME_CMD_OFF +
		       sizeof(struct nvme_uring_cmd),
	       0, 128 - URIO_NVME_CMD_OFF - sizeof(struct nvme_uring_cmd));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->flags = fixed_file ? IOSQE_FIXED_FILE : 0;
	sqe->fd = fd;
	sqe->cmd_op = cmd_op;
	if (buf_index >= 0) {
		sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
		sqe->buf_index = (__u16)buf_index;
	}
}

/* A command on LBAs: every field not named here is zero. */
static inline void urio_nvme_lba_cmd(struct nvme_uring_cmd *c,
				     const struct urio_nvme_ns *ns,
				     uint8_t opcode, uint64_t addr,
				     uint32_t data_len, uint64_t off,
				     uint64_t len)
{
	uint64_t slba = off >> ns->lba_shift;

	*c = (struct nvme_uring_cmd){
		.opcode = opcode,
		.nsid = ns->nsid,
		.addr = addr,
		.data_len = data_len,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (uint32_t)((len >> ns->lba_shift) - 1), /* 0's based */
	};
}

/* Encoders: fill *c for one command.  Ranges must have been checked. */
void urio_nvme_rw(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		  uint8_t opcode, void *buf, uint32_t len, uint64_t off);
/* A vectored read or write (NVME_URING_CMD_IO_VEC): addr is the iovec
 * array and data_len its count; len is the total bytes. */
void urio_nvme_rwv(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		   uint8_t opcode, const struct iovec *iov, unsigned iovcnt,
		   uint64_t len, uint64_t off);
void urio_nvme_flush(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns);
void urio_nvme_write_zeroes(struct nvme_uring_cmd *c,
			    const struct urio_nvme_ns *ns, uint64_t off,
			    uint64_t len);
void urio_nvme_deallocate(struct nvme_uring_cmd *c,
			  const struct urio_nvme_ns *ns,
			  struct urio_nvme_dsm_range *range, uint64_t off,
			  uint64_t len);

/* Admin commands (NVME_URING_CMD_ADMIN, on the controller's /dev/nvmeX).
 * Identify: cns for nsid; buf holds URIO_NVME_IDENTIFY_BYTES. */
void urio_nvme_identify_cmd(struct nvme_uring_cmd *c, uint32_t cns,
			    uint32_t nsid, void *buf);
/* Get Log Page lid for nsid (URIO_NVME_NSID_ALL: the controller's), len
 * bytes from byte offset; rae: retain the asynchronous event, so reading
 * the log does not clear a pending one.  -EINVAL unless buf is set and len
 * and offset are dword multiples (len 4 bytes to 4 GiB). */
int urio_nvme_get_log_cmd(struct nvme_uring_cmd *c, uint32_t nsid, uint8_t lid,
			  bool rae, void *buf, uint32_t len, uint64_t offset);

/* Fills a 128-byte SQE for IORING_OP_URING_CMD carrying c as cmd_op
 * (NVME_URING_CMD_IO, _IO_VEC or _ADMIN); fixed: the buffer is registered
 * buffer buf_index. */
void urio_nvme_prep_sqe_op(void *sqe128, int fd, bool fixed_file,
			   uint32_t cmd_op, const struct nvme_uring_cmd *c,
			   bool fixed_buf, unsigned buf_index);
/* The same for an I/O command (NVME_URING_CMD_IO). */
static inline void urio_nvme_prep_sqe(void *sqe128, int fd, bool fixed_file,
				      const struct nvme_uring_cmd *c,
				      bool fixed_buf, unsigned buf_index)
{
	urio_nvme_prep_sqe_op(sqe128, fd, fixed_file, NVME_URING_CMD_IO, c,
			      fixed_buf, buf_index);
}
/* A read or write written straight into the 128-byte SQE, with no command
 * built on the side and copied: what urio_nvme_rw plus urio_nvme_prep_sqe
 * produce, at a third of the instructions (inline: it runs per request).
 * buf_index < 0: not a registered buffer.  The range must have been
 * checked. */
static inline void urio_nvme_sqe_rw(void *sqe128, const struct urio_nvme_ns *ns,
				    int fd, bool fixed_file, uint8_t opcode,
				    void *buf, uint32_t len, uint64_t off,
				    int buf_index)
{
	struct io_uring_sqe *sqe = (struct io_uring_sqe *)sqe128;
	uint64_t slba = off >> ns->lba_shift, tail = 0;

	/* Two struct stores and the 8 bytes past the command: the compiler
	 * writes each byte once, in wide stores (a memset of all 128 bytes
	 * becomes rep stos, slower for so little). */
	*sqe = (struct io_uring_sqe){
		.opcode = IORING_OP_URING_CMD,
		.flags = (__u8)(fixed_file ? IOSQE_FIXED_FILE : 0),
		.fd = fd,
		.cmd_op = NVME_URING_CMD_IO,
		.uring_cmd_flags = buf_index >= 0 ? IORING_URING_CMD_FIXED : 0,
		.buf_index = (__u16)(buf_index >= 0 ? buf_index : 0),
	};
	*urio_nvme_sqe_cmd(sqe128) = (struct nvme_uring_cmd){
		.opcode = opcode,
		.nsid = ns->nsid,
		.addr = (uintptr_t)buf,
		.data_len = len,
		.cdw10 = (uint32_t)slba,
		.cdw11 = (uint32_t)(slba >> 32),
		.cdw12 = (len >> ns->lba_shift) - 1, /* 0's based */
	};
	memcpy((char *)sqe128 + 120, &tail, sizeof(tail));
}

/* A completion's NVMe status (positive cqe->res) as a negative errno. */
int urio_nvme_status_errno(int status);

#endif
