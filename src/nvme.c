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

/* Whether fd is a char device of sysfs class name: only such a device is
 * asked NVMe ioctls, whose numbers may mean something else to another
 * driver. */
static bool of_class(int fd, const char *name)
{
	char class[PATH_MAX];
	const char *base;

	if (!sys_char_link(fd, "/subsystem", class, sizeof(class)))
		return false;
	base = strrchr(class, '/');
	return strcmp(base ? base + 1 : class, name) == 0;
}

int urio_nvme_probe(int fd, struct urio_nvme_ns *ns)
{
	struct urio_nvme_id_ns idns = { .size = sizeof(idns) };
	unsigned char *id;
	int nsid, ret;

	if (!of_class(fd, "nvme-generic"))
		return -ENOTTY;
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
	unsigned char *id;
	int ret;

	if (!of_class(fd, "nvme"))
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

/* A 128-bit counter, saturated to 64 bits. */
static uint64_t le128_at(const unsigned char *p, size_t off)
{
	return le_at(p, off + 8, 8) ? UINT64_MAX : le_at(p, off, 8);
}

/* An ASCII field padded with spaces, as a C string. */
static void ascii_at(char *dst, const unsigned char *p, size_t off, size_t n)
{
	memcpy(dst, p + off, n);
	while (n && (dst[n - 1] == ' ' || dst[n - 1] == 0))
		n--;
	dst[n] = 0;
}

/* One number of a page: its byte offset and width there (little endian),
 * and the decoded struct's field it goes to (1, 2, 4 or 8 bytes wide). */
struct page_field {
	uint16_t at;
	uint8_t bytes;
	uint16_t out;
	uint8_t width;
};

#define FIELD(type, name, at, bytes)                                           \
	{                                                                      \
		(at), (bytes), offsetof(type, name), sizeof(((type *)0)->name) \
	}

static void decode_fields(void *out, const unsigned char *p,
			  const struct page_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = le_at(p, f[i].at, f[i].bytes);
		char *dst = (char *)out + f[i].out;
		uint8_t v8 = (uint8_t)v;
		uint16_t v16 = (uint16_t)v;
		uint32_t v32 = (uint32_t)v;

		memcpy(dst,
		       f[i].width == 1	 ? (void *)&v8
		       : f[i].width == 2 ? (void *)&v16
		       : f[i].width == 4 ? (void *)&v32
					 : (void *)&v,
		       f[i].width);
	}
}

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

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

#define C struct urio_nvme_id_ctrl
static const struct page_field id_ctrl_fields[] = {
	FIELD(C, vid, 0, 2),	  FIELD(C, ssvid, 2, 2),
	FIELD(C, rab, 72, 1),	  FIELD(C, ieee, 73, 3),
	FIELD(C, cmic, 76, 1),	  FIELD(C, mdts, 77, 1),
	FIELD(C, cntlid, 78, 2),  FIELD(C, ver, 80, 4),
	FIELD(C, oacs, 256, 2),	  FIELD(C, acl, 258, 1),
	FIELD(C, aerl, 259, 1),	  FIELD(C, frmw, 260, 1),
	FIELD(C, lpa, 261, 1),	  FIELD(C, elpe, 262, 1),
	FIELD(C, npss, 263, 1),	  FIELD(C, wctemp, 266, 2),
	FIELD(C, cctemp, 268, 2), FIELD(C, sqes, 512, 1),
	FIELD(C, cqes, 513, 1),	  FIELD(C, nn, 516, 4),
	FIELD(C, oncs, 520, 2),	  FIELD(C, fuses, 522, 2),
	FIELD(C, fna, 524, 1),	  FIELD(C, vwc, 525, 1),
	FIELD(C, awun, 526, 2),	  FIELD(C, awupf, 528, 2),
	FIELD(C, sgls, 536, 4),
};
#undef C

int urio_nvme_id_ctrl_decode(const void *page, size_t len,
			     struct urio_nvme_id_ctrl *out)
{
	struct urio_nvme_id_ctrl id = { .size = sizeof(id) };
	const unsigned char *p = page;

	if (!decode_ok(page, len, URIO_NVME_IDENTIFY_BYTES, out,
		       offsetof(struct urio_nvme_id_ctrl, vid) +
			       sizeof(id.vid)))
		return -EINVAL;
	decode_fields(&id, p, id_ctrl_fields, NFIELDS(id_ctrl_fields));
	ascii_at(id.sn, p, 4, 20);
	ascii_at(id.mn, p, 24, 40);
	ascii_at(id.fr, p, 64, 8);
	ascii_at(id.subnqn, p, 768, 256);
	id.max_xfer = mdts_bytes(id.mdts);
	urio__copy_out(out, &id, sizeof(id));
	return 0;
}

#define N struct urio_nvme_id_ns
static const struct page_field id_ns_fields[] = {
	FIELD(N, nsze, 0, 8),	 FIELD(N, ncap, 8, 8),	 FIELD(N, nuse, 16, 8),
	FIELD(N, nsfeat, 24, 1), FIELD(N, nlbaf, 25, 1), FIELD(N, flbas, 26, 1),
	FIELD(N, mc, 27, 1),	 FIELD(N, dpc, 28, 1),	 FIELD(N, dps, 29, 1),
	FIELD(N, nmic, 30, 1),
};
#undef N

int urio_nvme_id_ns_decode(const void *page, size_t len,
			   struct urio_nvme_id_ns *out)
{
	struct urio_nvme_id_ns id = { .size = sizeof(id) };
	const unsigned char *p = page;
	const struct urio_nvme_lbaf *f;

	if (!decode_ok(page, len, URIO_NVME_IDENTIFY_BYTES, out,
		       offsetof(struct urio_nvme_id_ns, nsze) +
			       sizeof(id.nsze)))
		return -EINVAL;
	decode_fields(&id, p, id_ns_fields, NFIELDS(id_ns_fields));
	memcpy(id.nguid, p + 104, sizeof(id.nguid));
	memcpy(id.eui64, p + 120, sizeof(id.eui64));
	for (unsigned i = 0; i < 64; i++) {
		id.lbaf[i].ms = (uint16_t)le_at(p, 128 + 4 * i, 2);
		id.lbaf[i].lbads = p[128 + 4 * i + 2];
		id.lbaf[i].rp = p[128 + 4 * i + 3] & 3;
	}
	/* FLBAS bits 3:0, and 6:5 as the high bits past 16 formats */
	id.format = (uint8_t)((id.flbas & 0xf) | ((id.flbas >> 1) & 0x30));
	f = &id.lbaf[id.format];
	id.ms = f->ms;
	if (f->lbads >= 9 && f->lbads <= 16)
		id.lba_size = 1u << f->lbads;
	urio__copy_out(out, &id, sizeof(id));
	return 0;
}

#define S struct urio_nvme_smart
static const struct page_field smart_fields[] = {
	FIELD(S, critical_warning, 0, 1),
	FIELD(S, temperature, 1, 2),
	FIELD(S, avail_spare, 3, 1),
	FIELD(S, spare_thresh, 4, 1),
	FIELD(S, percent_used, 5, 1),
	FIELD(S, endu_grp_crit_warn_sumry, 6, 1),
	FIELD(S, warning_temp_time, 192, 4),
	FIELD(S, critical_comp_time, 196, 4),
	FIELD(S, thm_temp1_trans_count, 216, 4),
	FIELD(S, thm_temp2_trans_count, 220, 4),
	FIELD(S, thm_temp1_total_time, 224, 4),
	FIELD(S, thm_temp2_total_time, 228, 4),
};
#undef S

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
	decode_fields(&s, p, smart_fields, NFIELDS(smart_fields));
	for (unsigned i = 0; i < NFIELDS(counter); i++)
		*counter[i] = le128_at(p, 32 + 16 * i);
	for (unsigned i = 0; i < 8; i++)
		s.temp_sensor[i] = (uint16_t)le_at(p, 200 + 2 * i, 2);
	urio__copy_out(out, &s, sizeof(s));
	return 0;
}

#define E struct urio_nvme_error_entry
static const struct page_field error_fields[] = {
	FIELD(E, error_count, 0, 8),
	FIELD(E, sqid, 8, 2),
	FIELD(E, cmdid, 10, 2),
	FIELD(E, status_field, 12, 2),
	FIELD(E, parm_error_location, 14, 2),
	FIELD(E, lba, 16, 8),
	FIELD(E, nsid, 24, 4),
	FIELD(E, vs, 28, 1),
	FIELD(E, trtype, 29, 1),
	FIELD(E, cs, 32, 8),
	FIELD(E, trtype_spec_info, 40, 2),
};
#undef E

int urio_nvme_error_decode(const void *entry, size_t len,
			   struct urio_nvme_error_entry *out)
{
	struct urio_nvme_error_entry e = { .size = sizeof(e) };

	if (!decode_ok(entry, len, URIO_NVME_ERROR_BYTES, out,
		       offsetof(struct urio_nvme_error_entry, error_count) +
			       sizeof(e.error_count)))
		return -EINVAL;
	decode_fields(&e, entry, error_fields, NFIELDS(error_fields));
	e.status_field >>= 1; /* bit 0 is the phase tag */
	urio__copy_out(out, &e, sizeof(e));
	return 0;
}
