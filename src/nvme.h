/* SPDX-License-Identifier: MIT */
/* nvme.h - NVMe namespace facts and passthrough command encoding (see
 * nvme.c).  A leaf: it knows nothing of loops or rings. */
#ifndef URIO_NVME_H
#define URIO_NVME_H

#include <errno.h>
#include <linux/nvme_ioctl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

/* I/O command set opcodes */
#define URIO_NVME_READ		 0x02
#define URIO_NVME_WRITE		 0x01
#define URIO_NVME_FLUSH		 0x00
#define URIO_NVME_WRITE_ZEROES	 0x08
#define URIO_NVME_DSM		 0x09
#define URIO_NVME_DSM_DEALLOCATE (1u << 2)

/* Admin opcodes, Identify CNS values and log page identifiers */
#define URIO_NVME_ADMIN_GET_LOG	 0x02
#define URIO_NVME_ADMIN_IDENTIFY 0x06
#define URIO_NVME_CNS_NS	 0x00
#define URIO_NVME_CNS_CTRL	 0x01
#define URIO_NVME_LOG_ERROR	 0x01
#define URIO_NVME_LOG_SMART	 0x02
#define URIO_NVME_NSID_ALL	 0xffffffffu /* controller-wide logs */
#define URIO_NVME_ID_BYTES	 4096
#define URIO_NVME_SMART_BYTES	 512
#define URIO_NVME_ERROR_BYTES	 64   /* one error log entry */
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

/* Reads the namespace's facts from the device (ioctls, sysfs). */
int urio_nvme_probe(int fd, struct urio_nvme_ns *ns);
/* Whether this kernel can poll the namespace (IORING_SETUP_IOPOLL) without
 * harm: polling a multipath head oopses kernels before 6.3 in bio_poll
 * (fixed upstream by "blk-mq: directly poll requests"). */
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
 * Identify: cns URIO_NVME_CNS_CTRL (nsid 0) or URIO_NVME_CNS_NS; buf holds
 * URIO_NVME_ID_BYTES. */
void urio_nvme_identify(struct nvme_uring_cmd *c, uint32_t cns, uint32_t nsid,
			void *buf);
/* Get Log Page lid for nsid (URIO_NVME_NSID_ALL: the controller's), len
 * bytes from byte offset; rae: retain the asynchronous event, so reading
 * the log does not clear a pending one.  -EINVAL unless len and offset are
 * dword multiples and len is 4 bytes to 16 GiB. */
int urio_nvme_get_log(struct nvme_uring_cmd *c, uint32_t nsid, uint8_t lid,
		      bool rae, void *buf, uint32_t len, uint64_t offset);

/* Fills a 128-byte SQE for IORING_OP_URING_CMD carrying c as cmd_op
 * (NVME_URING_CMD_IO, _IO_VEC or _ADMIN); fixed: the buffer is registered
 * buffer buf_index. */
void urio_nvme_prep_sqe_op(void *sqe128, int fd, bool fixed_file,
			   uint32_t cmd_op, const struct nvme_uring_cmd *c,
			   bool fixed_buf, unsigned buf_index);
/* The same for an I/O command (NVME_URING_CMD_IO). */
void urio_nvme_prep_sqe(void *sqe128, int fd, bool fixed_file,
			const struct nvme_uring_cmd *c, bool fixed_buf,
			unsigned buf_index);
/* A read or write written straight into the 128-byte SQE, with no command
 * built on the side and copied: what urio_nvme_rw plus urio_nvme_prep_sqe
 * produce, at a third of the instructions.  buf_index < 0: not a registered
 * buffer.  The range must have been checked. */
void urio_nvme_sqe_rw(void *sqe128, const struct urio_nvme_ns *ns, int fd,
		      bool fixed_file, uint8_t opcode, void *buf, uint32_t len,
		      uint64_t off, int buf_index);

/* A completion's NVMe status (positive cqe->res) as a negative errno. */
int urio_nvme_status_errno(int status);

/* Decoded pages, as nvme-cli prints them.  Strings are NUL-terminated with
 * the controller's trailing spaces removed; temperatures are in kelvin;
 * 128-bit counters saturate at UINT64_MAX. */
struct urio_nvme_id_ctrl {
	uint16_t vid, ssvid;
	char sn[21], mn[41], fr[9];
	uint8_t cmic;	   /* bit 1: more than one controller (multipath) */
	uint32_t max_xfer; /* MDTS in bytes (for a 4 KiB MPSMIN); 0: none */
	uint16_t cntlid;
	uint32_t ver; /* major << 16 | minor << 8 | tertiary */
	uint32_t nn;  /* namespaces */
};

struct urio_nvme_id_ns {
	uint64_t nsze, ncap, nuse; /* in LBAs */
	uint8_t nlbaf;		   /* LBA formats, 0's based */
	uint8_t flbas;		   /* index of the format in use */
	uint32_t lba_shift;	   /* of that format; 0 if out of spec */
	uint16_t ms;		   /* metadata bytes per LBA */
};

struct urio_nvme_smart {
	uint8_t critical_warning;
	uint16_t temperature;	    /* composite, kelvin */
	uint8_t avail_spare;	    /* percent */
	uint8_t spare_thresh;	    /* percent */
	uint8_t percent_used;	    /* may exceed 100 */
	uint8_t endu_grp_crit_warn; /* endurance group summary */
	uint64_t data_units_read;   /* thousands of 512-byte units */
	uint64_t data_units_written;
	uint64_t host_reads, host_writes; /* commands */
	uint64_t ctrl_busy_time;	  /* minutes */
	uint64_t power_cycles, power_on_hours, unsafe_shutdowns;
	uint64_t media_errors, num_err_log_entries;
	uint32_t warning_temp_time, critical_comp_time; /* minutes */
	uint16_t temp_sensor[8];			/* kelvin, 0: none */
	uint32_t thm_temp_trans_count[2], thm_temp_total_time[2];
};

struct urio_nvme_error_entry {
	uint64_t error_count; /* 0: an empty entry */
	uint16_t sqid, cmdid;
	uint16_t status; /* status field without the phase tag: SC | SCT << 8 |
			  * CRD << 11 | M << 13 | DNR << 14 */
	uint16_t param_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs, trtype;
	uint64_t cs; /* command specific information */
	uint16_t trtype_spec_info;
};

void urio_nvme_id_ctrl_decode(const void *page, struct urio_nvme_id_ctrl *id);
void urio_nvme_id_ns_decode(const void *page, struct urio_nvme_id_ns *id);
void urio_nvme_smart_decode(const void *page, struct urio_nvme_smart *s);
void urio_nvme_error_decode(const void *entry, struct urio_nvme_error_entry *e);

#endif
