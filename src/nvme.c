/* SPDX-License-Identifier: MIT */
/* nvme.c - NVMe namespaces for passthrough: what the device says of itself
 * (nsid, LBA format, capacity, MDTS), command encoding for reads, writes
 * (plain and vectored), flush, write-zeroes, deallocate, Identify and Get
 * Log Page, the 128-byte SQE that carries them, what an NVMe status means
 * as an errno, and the Identify, SMART and error log pages decoded. */
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "compat.h"
#include "nvme.h"

#define MPS_MIN 4096 /* CAP.MPSMIN: 4 KiB on every controller seen here */

_Static_assert(offsetof(struct io_uring_sqe, cmd) == URIO_NVME_CMD_OFF,
	       "the NVMe command starts at byte 48 of the SQE");
_Static_assert(URIO_NVME_CMD_OFF + sizeof(struct nvme_uring_cmd) <= 128,
	       "the NVMe command fits a 128-byte SQE");

static int identify(int fd, uint32_t nsid, uint32_t cns, void *buf)
{
	struct nvme_admin_cmd ac = {
		.opcode = 0x06,
		.nsid = nsid,
		.addr = (uintptr_t)buf,
		.data_len = URIO_NVME_IDENTIFY_BYTES,
		.cdw10 = cns,
	};
	int ret = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &ac);

	if (ret < 0)
		return -errno;
	return ret > 0 ? -EIO : 0; /* a positive return is an NVMe status */
}

static uint32_t mdts_bytes(unsigned mdts)
{
	return mdts && mdts < 20 ? MPS_MIN << mdts : 0;
}

/* Where sysfs links the char device fd's entry (what) to: the device
 * itself ("") or its class ("/subsystem").  false if fd is none. */
static bool sys_char_link(int fd, const char *what, char *link, size_t len)
{
	char sys[80];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode))
		return false;
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u%s", major(st.st_rdev),
		 minor(st.st_rdev), what);
	n = readlink(sys, link, len - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	return true;
}

/* A head's generic device hangs off the subsystem in sysfs, a per-path
 * one off its controller. */
static bool is_mpath_head(int fd)
{
	char link[PATH_MAX];

	return sys_char_link(fd, "", link, sizeof(link)) &&
	       strstr(link, "/nvme-subsystem/") != NULL;
}

bool urio_nvme_iopoll_safe(const struct urio_nvme_ns *ns)
{
	return !ns->mpath_head;
}

int urio_nvme_probe(int fd, struct urio_nvme_ns *ns)
{
	struct urio_nvme_id_ns idns = { .size = sizeof(idns) };
	unsigned char *id;
	int nsid, ret;

	nsid = ioctl(fd, NVME_IOCTL_ID);
	if (nsid < 0)
		return -errno;
	if (posix_memalign((void **)&id, 4096, URIO_NVME_IDENTIFY_BYTES))
		return -ENOMEM;
	ret = identify(fd, (uint32_t)nsid, URIO_NVME_CNS_NS, id);
	if (ret < 0)
		goto out;
	urio_nvme_id_ns_decode(id, URIO_NVME_IDENTIFY_BYTES, &idns);
	if (!idns.lba_size) {
		ret = -EINVAL;
		goto out;
	}
	ns->nsid = (uint32_t)nsid;
	ns->lba_shift = (uint32_t)__builtin_ctz(idns.lba_size);
	ns->nlba = idns.nsze;
	ns->mpath_head = is_mpath_head(fd);
	/* MDTS from Identify Controller (byte 77), in units of MPSMIN. */
	ns->max_xfer = 0;
	if (identify(fd, 0, URIO_NVME_CNS_CTRL, id) == 0)
		ns->max_xfer = mdts_bytes(id[77]);
	ret = 0;
out:
	free(id);
	return ret;
}

int urio_nvme_probe_ctrl(int fd, uint32_t *max_xfer)
{
	char class[PATH_MAX];
	unsigned char *id;
	const char *base;
	int ret;

	/* Only a device of the nvme class is asked: an NVMe ioctl number
	 * may mean something else to another driver. */
	if (!sys_char_link(fd, "/subsystem", class, sizeof(class)))
		return -ENOTTY;
	base = strrchr(class, '/');
	if (strcmp(base ? base + 1 : class, "nvme"))
		return -ENOTTY;
	if (posix_memalign((void **)&id, 4096, URIO_NVME_IDENTIFY_BYTES))
		return -ENOMEM;
	ret = identify(fd, 0, URIO_NVME_CNS_CTRL, id);
	if (ret == 0)
		*max_xfer = mdts_bytes(id[77]);
	free(id);
	return ret;
}

int urio_nvme_check_iov(const struct urio_nvme_ns *ns, const struct iovec *iov,
			unsigned iovcnt, uint64_t off, uint64_t *len,
			uint64_t *nlb)
{
	uint64_t total = 0;

	if (!iov || !iovcnt || iovcnt > URIO_NVME_MAX_IOV)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt; i++) {
		/* A dword-aligned data pointer, as for a plain request. */
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & 3 ||
		    (!iov[i].iov_base && iov[i].iov_len) ||
		    iov[i].iov_len > UINT32_MAX)
			return -EINVAL;
		total += iov[i].iov_len; /* no overflow: < 2^42 */
	}
	if (ns->max_xfer && total > ns->max_xfer)
		return -EINVAL;
	*len = total;
	return urio_nvme_check_range(ns, off, total, nlb);
}

void urio_nvme_rw(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		  uint8_t opcode, void *buf, uint32_t len, uint64_t off)
{
	urio_nvme_lba_cmd(c, ns, opcode, (uintptr_t)buf, len, off, len);
}

void urio_nvme_rwv(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns,
		   uint8_t opcode, const struct iovec *iov, unsigned iovcnt,
		   uint64_t len, uint64_t off)
{
	urio_nvme_lba_cmd(c, ns, opcode, (uintptr_t)iov, iovcnt, off, len);
}

void urio_nvme_flush(struct nvme_uring_cmd *c, const struct urio_nvme_ns *ns)
{
	*c = (struct nvme_uring_cmd){ .opcode = URIO_NVME_FLUSH,
				      .nsid = ns->nsid };
}

void urio_nvme_write_zeroes(struct nvme_uring_cmd *c,
			    const struct urio_nvme_ns *ns, uint64_t off,
			    uint64_t len)
{
	urio_nvme_lba_cmd(c, ns, URIO_NVME_WRITE_ZEROES, 0, 0, off, len);
}

void urio_nvme_deallocate(struct nvme_uring_cmd *c,
			  const struct urio_nvme_ns *ns,
			  struct urio_nvme_dsm_range *range, uint64_t off,
			  uint64_t len)
{
	range->cattr = 0;
	range->nlb = (uint32_t)(len >> ns->lba_shift);
	range->slba = off >> ns->lba_shift;
	*c = (struct nvme_uring_cmd){
		.opcode = URIO_NVME_DSM,
		.nsid = ns->nsid,
		.addr = (uintptr_t)range,
		.data_len = sizeof(*range),
		.cdw10 = 0, /* one range, 0's based */
		.cdw11 = URIO_NVME_DSM_DEALLOCATE,
	};
}

void urio_nvme_identify_cmd(struct nvme_uring_cmd *c, uint32_t cns,
			    uint32_t nsid, void *buf)
{
	*c = (struct nvme_uring_cmd){
		.opcode = URIO_NVME_ADMIN_IDENTIFY,
		.nsid = nsid,
		.addr = (uintptr_t)buf,
		.data_len = URIO_NVME_IDENTIFY_BYTES,
		.cdw10 = cns,
	};
}

int urio_nvme_get_log_cmd(struct nvme_uring_cmd *c, uint32_t nsid, uint8_t lid,
			  bool rae, void *buf, uint32_t len, uint64_t offset)
{
	uint32_t numd = len / 4 - 1; /* dwords, 0's based: NUMDU:NUMDL */

	if (!buf || !len || (len & 3) || (offset & 3))
		return -EINVAL;
	*c = (struct nvme_uring_cmd){
		.opcode = URIO_NVME_ADMIN_GET_LOG,
		.nsid = nsid,
		.addr = (uintptr_t)buf,
		.data_len = len,
		.cdw10 = lid | (rae ? 1u << 15 : 0) | (numd & 0xffff) << 16,
		.cdw11 = numd >> 16,
		.cdw12 = (uint32_t)offset,
		.cdw13 = (uint32_t)(offset >> 32),
	};
	return 0;
}

void urio_nvme_prep_sqe_op(void *sqe128, int fd, bool fixed_file,
			   uint32_t cmd_op, const struct nvme_uring_cmd *c,
			   bool fixed_buf, unsigned buf_index)
{
	urio_nvme_sqe_head(sqe128, fd, fixed_file, cmd_op,
			   fixed_buf ? (int)(buf_index & 0xffff) : -1);
	memcpy(urio_nvme_sqe_cmd(sqe128), c, sizeof(*c));
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

/* A little-endian field of n bytes at byte offset off of a page. */
static uint64_t le_at(const unsigned char *p, size_t off, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[off + n];
	return v;
}

static uint16_t le16_at(const unsigned char *p, size_t off)
{
	return (uint16_t)le_at(p, off, 2);
}

static uint32_t le32_at(const unsigned char *p, size_t off)
{
	return (uint32_t)le_at(p, off, 4);
}

static uint64_t le64_at(const unsigned char *p, size_t off)
{
	return le_at(p, off, 8);
}

/* A 128-bit counter, saturated to 64 bits. */
static uint64_t le128_at(const unsigned char *p, size_t off)
{
	return le64_at(p, off + 8) ? UINT64_MAX : le64_at(p, off);
}

/* An ASCII field padded with spaces, as a C string. */
static void ascii_at(char *dst, const unsigned char *p, size_t off, size_t n)
{
	memcpy(dst, p + off, n);
	while (n && (dst[n - 1] == ' ' || dst[n - 1] == 0))
		n--;
	dst[n] = 0;
}

/* util.c's (internal.h declares it for the parts that know loops): fills
 * a size-first struct as far as its size reaches. */
void urio__copy_out(void *dst, const void *src, size_t ours);

/* A decoder's arguments: the page whole, out reaching its first field. */
static bool decode_ok(const void *page, size_t len, size_t need,
		      const void *out, size_t first_field)
{
	return page && out && len >= need &&
	       *(const size_t *)out >= first_field;
}

int urio_nvme_id_ctrl_decode(const void *page, size_t len,
			     struct urio_nvme_id_ctrl *out)
{
	struct urio_nvme_id_ctrl id = { .size = sizeof(id) };
	const unsigned char *p = page;

	if (!decode_ok(page, len, URIO_NVME_IDENTIFY_BYTES, out,
		       offsetof(struct urio_nvme_id_ctrl, vid) +
			       sizeof(id.vid)))
		return -EINVAL;
	id.vid = le16_at(p, 0);
	id.ssvid = le16_at(p, 2);
	ascii_at(id.sn, p, 4, 20);
	ascii_at(id.mn, p, 24, 40);
	ascii_at(id.fr, p, 64, 8);
	id.rab = p[72];
	id.ieee = (uint32_t)le_at(p, 73, 3);
	id.cmic = p[76];
	id.mdts = p[77];
	id.cntlid = le16_at(p, 78);
	id.ver = le32_at(p, 80);
	id.oacs = le16_at(p, 256);
	id.acl = p[258];
	id.aerl = p[259];
	id.frmw = p[260];
	id.lpa = p[261];
	id.elpe = p[262];
	id.npss = p[263];
	id.wctemp = le16_at(p, 266);
	id.cctemp = le16_at(p, 268);
	id.sqes = p[512];
	id.cqes = p[513];
	id.nn = le32_at(p, 516);
	id.oncs = le16_at(p, 520);
	id.fuses = le16_at(p, 522);
	id.fna = p[524];
	id.vwc = p[525];
	id.awun = le16_at(p, 526);
	id.awupf = le16_at(p, 528);
	id.sgls = le32_at(p, 536);
	ascii_at(id.subnqn, p, 768, 256);
	id.max_xfer = mdts_bytes(id.mdts);
	urio__copy_out(out, &id, sizeof(id));
	return 0;
}

int urio_nvme_id_ns_decode(const void *page, size_t len,
			   struct urio_nvme_id_ns *out)
{
	struct urio_nvme_id_ns id = { .size = sizeof(id) };
	const unsigned char *p = page;

	if (!decode_ok(page, len, URIO_NVME_IDENTIFY_BYTES, out,
		       offsetof(struct urio_nvme_id_ns, nsze) +
			       sizeof(id.nsze)))
		return -EINVAL;
	id.nsze = le64_at(p, 0);
	id.ncap = le64_at(p, 8);
	id.nuse = le64_at(p, 16);
	id.nsfeat = p[24];
	id.nlbaf = p[25];
	id.flbas = p[26];
	id.mc = p[27];
	id.dpc = p[28];
	id.dps = p[29];
	id.nmic = p[30];
	memcpy(id.nguid, p + 104, sizeof(id.nguid));
	memcpy(id.eui64, p + 120, sizeof(id.eui64));
	for (unsigned i = 0; i < 64; i++) {
		id.lbaf[i].ms = le16_at(p, 128 + 4 * i);
		id.lbaf[i].lbads = p[128 + 4 * i + 2];
		id.lbaf[i].rp = p[128 + 4 * i + 3] & 3;
	}
	/* FLBAS bits 3:0, and 6:5 as the high bits past 16 formats */
	id.format = (uint8_t)((id.flbas & 0xf) | ((id.flbas >> 1) & 0x30));
	id.ms = id.lbaf[id.format].ms;
	if (id.lbaf[id.format].lbads >= 9 && id.lbaf[id.format].lbads <= 16)
		id.lba_size = 1u << id.lbaf[id.format].lbads;
	urio__copy_out(out, &id, sizeof(id));
	return 0;
}

int urio_nvme_smart_decode(const void *page, size_t len,
			   struct urio_nvme_smart *out)
{
	struct urio_nvme_smart s = { .size = sizeof(s) };
	const unsigned char *p = page;
	/* ten 128-bit counters in a row from byte 32, in the log's order */
	uint64_t *counter[] = {
		&s.data_units_read,	&s.data_units_written, &s.host_reads,
		&s.host_writes,		&s.ctrl_busy_time,     &s.power_cycles,
		&s.power_on_hours,	&s.unsafe_shutdowns,   &s.media_errors,
		&s.num_err_log_entries,
	};

	if (!decode_ok(page, len, URIO_NVME_SMART_BYTES, out,
		       offsetof(struct urio_nvme_smart, critical_warning) + 1))
		return -EINVAL;
	s.critical_warning = p[0];
	s.temperature = le16_at(p, 1);
	s.avail_spare = p[3];
	s.spare_thresh = p[4];
	s.percent_used = p[5];
	s.endu_grp_crit_warn_sumry = p[6];
	for (unsigned i = 0; i < sizeof(counter) / sizeof(counter[0]); i++)
		*counter[i] = le128_at(p, 32 + 16 * i);
	s.warning_temp_time = le32_at(p, 192);
	s.critical_comp_time = le32_at(p, 196);
	for (unsigned i = 0; i < 8; i++)
		s.temp_sensor[i] = le16_at(p, 200 + 2 * i);
	s.thm_temp1_trans_count = le32_at(p, 216);
	s.thm_temp2_trans_count = le32_at(p, 220);
	s.thm_temp1_total_time = le32_at(p, 224);
	s.thm_temp2_total_time = le32_at(p, 228);
	urio__copy_out(out, &s, sizeof(s));
	return 0;
}

int urio_nvme_error_decode(const void *entry, size_t len,
			   struct urio_nvme_error_entry *out)
{
	struct urio_nvme_error_entry e = { .size = sizeof(e) };
	const unsigned char *p = entry;

	if (!decode_ok(entry, len, URIO_NVME_ERROR_BYTES, out,
		       offsetof(struct urio_nvme_error_entry, error_count) +
			       sizeof(e.error_count)))
		return -EINVAL;
	e.error_count = le64_at(p, 0);
	e.sqid = le16_at(p, 8);
	e.cmdid = le16_at(p, 10);
	e.status_field = le16_at(p, 12) >> 1; /* bit 0 is the phase tag */
	e.parm_error_location = le16_at(p, 14);
	e.lba = le64_at(p, 16);
	e.nsid = le32_at(p, 24);
	e.vs = p[28];
	e.trtype = p[29];
	e.cs = le64_at(p, 32);
	e.trtype_spec_info = le16_at(p, 40);
	urio__copy_out(out, &e, sizeof(e));
	return 0;
}
