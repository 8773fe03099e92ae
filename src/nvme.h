/* SPDX-License-Identifier: MIT */
/* nvme.h - NVMe namespace facts and passthrough command encoding (see
 * nvme.c).  A leaf: it knows nothing of loops or rings. */
#ifndef URIO_NVME_H
#define URIO_NVME_H

#include <linux/nvme_ioctl.h>
#include <stdbool.h>
#include <stdint.h>

#define URIO_NVME_READ		 0x02
#define URIO_NVME_WRITE		 0x01
#define URIO_NVME_FLUSH		 0x00
#define URIO_NVME_WRITE_ZEROES	 0x08
#define URIO_NVME_DSM		 0x09
#define URIO_NVME_DSM_DEALLOCATE (1u << 2)

struct urio_nvme_ns {
	uint32_t nsid;
	uint32_t lba_shift; /* log2 of the LBA data size */
	uint64_t nlba;	    /* namespace size in LBAs */
	uint32_t max_xfer;  /* bytes per command (MDTS); 0: no limit */
};

/* One DSM range, as the controller reads it (16 bytes, little endian). */
struct urio_nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb;
	uint64_t slba;
};

/* Reads the namespace's facts from the device (ioctls). */
int urio_nvme_probe(int fd, struct urio_nvme_ns *ns);

/* Checks a byte range against the namespace: -EINVAL if not LBA-aligned or
 * empty, -ERANGE past the end.  On success *nlb is the LBA count. */
int urio_nvme_check_range(const struct urio_nvme_ns *ns, uint64_t off,
			  uint64_t len, uint64_t *nlb);
/* Commands a transfer of len bytes splits into under MDTS. */
unsigned urio_nvme_split_count(const struct urio_nvme_ns *ns, uint64_t len);

/* Encoders: fill *c for one command.  Ranges must have been checked. */
void urio_nvme_rw(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		  uint8_t opcode, void *buf, uint32_t len, uint64_t off);
void urio_nvme_flush(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns);
void urio_nvme_write_zeroes(struct nvme_uring_cmd *c,
			    const struct urio_nvme_ns *ns, uint64_t off,
			    uint64_t len);
void urio_nvme_deallocate(struct nvme_uring_cmd *c,
			  const struct urio_nvme_ns *ns,
			  struct urio_nvme_dsm_range *range, uint64_t off,
			  uint64_t len);

/* Fills a 128-byte SQE for IORING_OP_URING_CMD carrying c; fixed: the
 * buffer is registered buffer buf_index. */
void urio_nvme_prep_sqe(void *sqe128, int fd, bool fixed_file,
			const struct nvme_uring_cmd *c, bool fixed_buf,
			unsigned buf_index);

/* A completion's NVMe status (positive cqe->res) as a negative errno. */
int urio_nvme_status_errno(int status);

#endif
