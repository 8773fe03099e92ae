/* SPDX-License-Identifier: MIT */
/* test_nvme_encode.c - NVMe passthrough commands as bytes, with no device:
 * the nvme_uring_cmd of each op, the 128-byte SQE that carries it, LBA and
 * MDTS arithmetic, and what each NVMe status means as an errno. */
#include <check.h>
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "../src/nvme.h"

#include "runner.h"

static const struct urio_nvme_ns ns512 = {
	.nsid = 3, .lba_shift = 9, .nlba = 1 << 20, .max_xfer = 512 << 10
};
static const struct urio_nvme_ns ns4k = {
	.nsid = 1, .lba_shift = 12, .nlba = 1ull << 33, .max_xfer = 0
};

START_TEST(read_and_write_encode_slba_nlb_and_buffer)
{
	struct nvme_uring_cmd c;
	char buf[8192];

	urio_nvme_rw(&c, &ns512, URIO_NVME_READ, buf, 8192, 3 * 512);
	ck_assert_uint_eq(c.opcode, 0x02);
	ck_assert_uint_eq(c.nsid, 3);
	ck_assert_uint_eq(c.addr, (uintptr_t)buf);
	ck_assert_uint_eq(c.data_len, 8192);
	ck_assert_uint_eq(c.cdw10, 3);
	ck_assert_uint_eq(c.cdw11, 0);
	ck_assert_uint_eq(c.cdw12, 16 - 1); /* 0's based */
	ck_assert_uint_eq(c.cdw13 | c.cdw14 | c.cdw15 | c.flags, 0);
	/* A 64-bit LBA splits into cdw10 (low) and cdw11 (high). */
	urio_nvme_rw(&c, &ns4k, URIO_NVME_WRITE, buf, 4096,
		     (0x123456789ull) << 12);
	ck_assert_uint_eq(c.opcode, 0x01);
	ck_assert_uint_eq(c.cdw10, 0x23456789);
	ck_assert_uint_eq(c.cdw11, 0x1);
	ck_assert_uint_eq(c.cdw12, 0);
}
END_TEST

START_TEST(flush_write_zeroes_and_deallocate_encode)
{
	struct nvme_uring_cmd c;
	struct urio_nvme_dsm_range r;

	urio_nvme_flush(&c, &ns512);
	ck_assert_uint_eq(c.opcode, 0x00);
	ck_assert_uint_eq(c.nsid, 3);
	ck_assert_uint_eq(c.addr | c.data_len | c.cdw10 | c.cdw12, 0);
	urio_nvme_write_zeroes(&c, &ns512, 1 << 20, 65536);
	ck_assert_uint_eq(c.opcode, 0x08);
	ck_assert_uint_eq(c.cdw10, 2048);
	ck_assert_uint_eq(c.cdw12, 127);
	ck_assert_uint_eq(c.data_len, 0);
	urio_nvme_deallocate(&c, &ns512, &r, 4096, 1 << 20);
	ck_assert_uint_eq(c.opcode, 0x09);
	ck_assert_uint_eq(c.cdw10, 0);	     /* one range */
	ck_assert_uint_eq(c.cdw11, 1u << 2); /* AD: deallocate */
	ck_assert_uint_eq(c.addr, (uintptr_t)&r);
	ck_assert_uint_eq(c.data_len, 16);
	ck_assert_uint_eq(sizeof(r), 16);
	ck_assert_uint_eq(r.slba, 8);
	ck_assert_uint_eq(r.nlb, 2048);
	ck_assert_uint_eq(r.cattr, 0);
}
END_TEST

START_TEST(sqe128_carries_the_command)
{
	unsigned char sqe[128];
	struct io_uring_sqe *s = (struct io_uring_sqe *)sqe;
	struct nvme_uring_cmd c;
	char buf[4096];

	memset(sqe, 0xff, sizeof(sqe));
	urio_nvme_rw(&c, &ns512, URIO_NVME_READ, buf, 4096, 0);
	urio_nvme_prep_sqe(sqe, 7, false, &c, false, 0);
	ck_assert_uint_eq(s->opcode, IORING_OP_URING_CMD);
	ck_assert_int_eq(s->fd, 7);
	ck_assert_uint_eq(s->flags, 0);
	ck_assert_uint_eq(s->cmd_op, NVME_URING_CMD_IO);
	ck_assert_uint_eq(s->uring_cmd_flags, 0);
	ck_assert(memcmp(s->cmd, &c, sizeof(c)) == 0);
	/* the rest of the 128 bytes is zero */
	for (size_t i = offsetof(struct io_uring_sqe, cmd) + sizeof(c); i < 128;
	     i++)
		ck_assert_uint_eq(sqe[i], 0);
	/* registered file and buffer */
	urio_nvme_prep_sqe(sqe, 2, true, &c, true, 5);
	ck_assert_uint_eq(s->flags, IOSQE_FIXED_FILE);
	ck_assert_int_eq(s->fd, 2);
	ck_assert_uint_eq(s->uring_cmd_flags, 1u /* IORING_URING_CMD_FIXED */);
	ck_assert_uint_eq(s->buf_index, 5);
}
END_TEST

START_TEST(ranges_are_checked_against_the_namespace)
{
	uint64_t nlb = 0, end = ns512.nlba << 9;

	ck_assert_int_eq(urio_nvme_check_range(&ns512, 0, 512, &nlb), 0);
	ck_assert_uint_eq(nlb, 1);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, end - 4096, 4096, &nlb),
			 0);
	ck_assert_uint_eq(nlb, 8);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, end, 512, &nlb),
			 -ERANGE);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, end - 512, 1024, &nlb),
			 -ERANGE);
	ck_assert_int_eq(
		urio_nvme_check_range(&ns512, UINT64_MAX - 511, 512, &nlb),
		-ERANGE);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, 100, 512, &nlb),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, 0, 100, &nlb), -EINVAL);
	ck_assert_int_eq(urio_nvme_check_range(&ns512, 0, 0, &nlb), -EINVAL);
	ck_assert_int_eq(urio_nvme_check_range(&ns4k, 512, 4096, &nlb),
			 -EINVAL);
}
END_TEST

START_TEST(mdts_splits_into_whole_commands)
{
	ck_assert_uint_eq(urio_nvme_split_count(&ns512, 4096), 1);
	ck_assert_uint_eq(urio_nvme_split_count(&ns512, 512 << 10), 1);
	ck_assert_uint_eq(urio_nvme_split_count(&ns512, (512 << 10) + 512), 2);
	ck_assert_uint_eq(urio_nvme_split_count(&ns512, 5 << 20), 10);
	ck_assert_uint_eq(urio_nvme_split_count(&ns4k, 1u << 30), 1);
}
END_TEST

START_TEST(nvme_status_maps_to_errno)
{
	static const struct {
		int status, err;
	} m[] = {
		{ 0x4080, -ERANGE }, /* LBA out of range, DNR */
		{ 0x0080, -ERANGE },
		{ 0x0002, -EINVAL },
		{ 0x0001, -EOPNOTSUPP },
		{ 0x0081, -ENOSPC },
		{ 0x000b, -ENODEV },
		{ 0x0007, -ECANCELED },
		{ 0x0082, -EAGAIN },
		{ 0x0281, -ENODATA }, /* media: unrecovered read */
		{ 0x0285, -EILSEQ },
		{ 0x0286, -EACCES },
		{ 0x0006, -EIO },
		{ 0x0101, -EIO }, /* command specific */
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		ck_assert_msg(urio_nvme_status_errno(m[i].status) == m[i].err,
			      "status 0x%x: %d, want %d", m[i].status,
			      urio_nvme_status_errno(m[i].status), m[i].err);
}
END_TEST

/* The bytes of a little-endian field, for the byte-exact checks. */
static void put_le(unsigned char *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* The 128-byte SQE of a URING_CMD, built by hand from the kernel's layout
 * (io_uring.h and nvme_ioctl.h), to compare the encoders' output with. */
static void expect_sqe(unsigned char *e, int fd, uint8_t flags, uint32_t cmd_op,
		       int buf_index, const unsigned char *cmd72)
{
	memset(e, 0, 128);
	e[0] = 46; /* IORING_OP_URING_CMD */
	e[1] = flags;
	put_le(e + 4, (uint32_t)fd, 4);
	put_le(e + 8, cmd_op, 4);
	if (buf_index >= 0) {
		put_le(e + 28, 1, 4); /* IORING_URING_CMD_FIXED */
		put_le(e + 40, (uint16_t)buf_index, 2);
	}
	memcpy(e + 48, cmd72, 72);
}

/* The 72-byte struct nvme_uring_cmd, by hand. */
static void expect_cmd(unsigned char *c, uint8_t opcode, uint32_t nsid,
		       uint64_t addr, uint32_t data_len, const uint32_t cdw[6])
{
	memset(c, 0, 72);
	c[0] = opcode;
	put_le(c + 4, nsid, 4);
	put_le(c + 24, addr, 8);
	put_le(c + 36, data_len, 4);
	for (unsigned i = 0; i < 6; i++)
		put_le(c + 40 + 4 * i, cdw[i], 4);
}

/* c must be the command laid out by hand as want_cmd; when cmd_op is not 0,
 * the SQE that urio_nvme_prep_sqe_op makes of it must be byte-exact too. */
static void assert_cmd_and_sqe(const struct nvme_uring_cmd *c,
			       const unsigned char *want_cmd, int fd,
			       uint32_t cmd_op)
{
	unsigned char sqe[128], want[128];

	ck_assert(memcmp(c, want_cmd, 72) == 0);
	if (!cmd_op)
		return;
	memset(sqe, 0xa5, sizeof(sqe));
	urio_nvme_prep_sqe_op(sqe, fd, false, cmd_op, c, false, 0);
	expect_sqe(want, fd, 0, cmd_op, -1, want_cmd);
	ck_assert(memcmp(sqe, want, 128) == 0);
}

START_TEST(cmd_op_values_are_the_kernel_abi)
{
	/* _IOWR('N', 0x80 + n, struct nvme_uring_cmd): 72-byte argument */
	ck_assert_uint_eq(sizeof(struct nvme_uring_cmd), 72);
	ck_assert_uint_eq(NVME_URING_CMD_IO, 0xc0484e80u);
	ck_assert_uint_eq(NVME_URING_CMD_IO_VEC, 0xc0484e81u);
	ck_assert_uint_eq(NVME_URING_CMD_ADMIN, 0xc0484e82u);
}
END_TEST

START_TEST(read_and_its_sqe_are_byte_exact)
{
	static const uint32_t cdw[6] = { 0x23456789, 0x1, 7, 0, 0, 0 };
	unsigned char sqe[128], want_cmd[72], want[128];
	struct nvme_uring_cmd c;
	char buf[4096];

	urio_nvme_rw(&c, &ns4k, URIO_NVME_READ, buf, 8 * 4096,
		     0x123456789ull << 12);
	expect_cmd(want_cmd, 0x02, 1, (uintptr_t)buf, 8 * 4096, cdw);
	ck_assert(memcmp(&c, want_cmd, 72) == 0);
	memset(sqe, 0xa5, sizeof(sqe));
	urio_nvme_prep_sqe(sqe, 9, true, &c, true, 0x1234);
	expect_sqe(want, 9, 1 /* IOSQE_FIXED_FILE */, 0xc0484e80u, 0x1234,
		   want_cmd);
	ck_assert(memcmp(sqe, want, 128) == 0);
}
END_TEST

START_TEST(one_step_sqe_equals_command_then_sqe)
{
	static const struct {
		const struct urio_nvme_ns *ns;
		uint8_t op;
		uint32_t len;
		uint64_t off;
		bool fixed_file;
		int buf_index;
	} cases[] = {
		{ &ns512, URIO_NVME_READ, 4096, 512, false, -1 },
		{ &ns512, URIO_NVME_WRITE, 512 << 10, 1ull << 28, true, 0 },
		{ &ns4k, URIO_NVME_READ, 4096, (1ull << 33) - 4096, false, 7 },
		{ &ns4k, URIO_NVME_WRITE, 1u << 20, 0x123456789ull << 12, true,
		  65535 },
	};
	unsigned char a[128], b[128];
	struct nvme_uring_cmd c;
	static char buf[8];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(a, 0x5a, sizeof(a));
		memset(b, 0xc3, sizeof(b));
		urio_nvme_rw(&c, cases[i].ns, cases[i].op, buf, cases[i].len,
			     cases[i].off);
		urio_nvme_prep_sqe(a, 4, cases[i].fixed_file, &c,
				   cases[i].buf_index >= 0,
				   (unsigned)cases[i].buf_index);
		urio_nvme_sqe_rw(b, cases[i].ns, 4, cases[i].fixed_file,
				 cases[i].op, buf, cases[i].len, cases[i].off,
				 cases[i].buf_index);
		ck_assert_msg(memcmp(a, b, 128) == 0, "case %zu", i);
	}
}
END_TEST

START_TEST(vectored_command_carries_the_iovec_array_and_count)
{
	static const uint32_t cdw[6] = { 16, 0, 24 - 1, 0, 0, 0 };
	unsigned char want_cmd[72];
	static char b0[4096], b1[8192];
	struct iovec iov[2] = { { b0, 4096 }, { b1, 8192 } };
	struct nvme_uring_cmd c;
	uint64_t len = 0, nlb = 0;

	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 8192, &len, &nlb),
			 0);
	ck_assert_uint_eq(len, 12288);
	ck_assert_uint_eq(nlb, 24);
	urio_nvme_rwv(&c, &ns512, URIO_NVME_WRITE, iov, 2, len, 8192);
	/* addr: the iovec array; data_len: the iovec count, not bytes */
	expect_cmd(want_cmd, 0x01, 3, (uintptr_t)iov, 2, cdw);
	assert_cmd_and_sqe(&c, want_cmd, 5, 0xc0484e81u /* IO_VEC */);
}
END_TEST

START_TEST(iovec_arrays_are_checked_before_encoding)
{
	static char b[1 << 20] __attribute__((aligned(4096)));
	static struct iovec many[URIO_NVME_MAX_IOV + 1];
	struct iovec iov[2] = { { b, 4096 }, { b + 4096, 4096 } };
	uint64_t len, nlb, end = ns512.nlba << 9;

	ck_assert_int_eq(urio_nvme_check_iov(&ns512, NULL, 1, 0, &len, &nlb),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 0, 0, &len, &nlb),
			 -EINVAL);
	for (unsigned i = 0; i <= URIO_NVME_MAX_IOV; i++)
		many[i] = (struct iovec){ b, 512 };
	ck_assert_int_eq(urio_nvme_check_iov(&ns4k, many, URIO_NVME_MAX_IOV, 0,
					     &len, &nlb),
			 0);
	ck_assert_uint_eq(len, 512 * URIO_NVME_MAX_IOV);
	ck_assert_int_eq(urio_nvme_check_iov(&ns4k, many, URIO_NVME_MAX_IOV + 1,
					     0, &len, &nlb),
			 -EINVAL);
	/* a data pointer must be dword aligned, base and length */
	iov[1].iov_base = b + 4098;
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 0, &len, &nlb),
			 -EINVAL);
	iov[1] = (struct iovec){ b + 4096, 4094 };
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 0, &len, &nlb),
			 -EINVAL);
	iov[1] = (struct iovec){ NULL, 4096 };
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 0, &len, &nlb),
			 -EINVAL);
	/* the total: LBA-aligned, in the namespace, within MDTS */
	iov[1] = (struct iovec){ b + 4096, 4 };
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 0, &len, &nlb),
			 -EINVAL);
	iov[1] = (struct iovec){ b + 4096, 4096 };
	ck_assert_int_eq(
		urio_nvme_check_iov(&ns512, iov, 2, end - 4096, &len, &nlb),
		-ERANGE);
	ck_assert_int_eq(
		urio_nvme_check_iov(&ns512, iov, 2, end - 8192, &len, &nlb), 0);
	iov[1] = (struct iovec){ b + 4096, 512 << 10 }; /* MDTS + 4 KiB */
	ck_assert_int_eq(urio_nvme_check_iov(&ns512, iov, 2, 0, &len, &nlb),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_check_iov(&ns4k, iov, 2, 0, &len, &nlb), 0);
}
END_TEST

START_TEST(identify_controller_and_namespace_encode)
{
	static const uint32_t ctrl[6] = { 1 }, ns[6] = { 0 };
	unsigned char want_cmd[72];
	struct nvme_uring_cmd c;
	static char page[4096];

	urio_nvme_identify_cmd(&c, URIO_NVME_CNS_CTRL, 0, page);
	expect_cmd(want_cmd, 0x06, 0, (uintptr_t)page, 4096, ctrl);
	assert_cmd_and_sqe(&c, want_cmd, 3, 0xc0484e82u /* ADMIN */);
	urio_nvme_identify_cmd(&c, URIO_NVME_CNS_NS, 2, page);
	expect_cmd(want_cmd, 0x06, 2, (uintptr_t)page, 4096, ns);
	assert_cmd_and_sqe(&c, want_cmd, 3, 0xc0484e82u);
}
END_TEST

START_TEST(get_log_page_encodes_lid_numd_rae_and_offset)
{
	/* SMART: 512 bytes = 128 dwords, NUMDL 127 in cdw10 bits 31:16 */
	static const uint32_t smart[6] = { 0x02 | 127u << 16 };
	/* error log, 4 entries, retain the event, from byte 0x10000004:
	 * NUMD 64 - 1; offset in cdw12 (low) and cdw13 (high) */
	static const uint32_t err[6] = { 0x01 | 1u << 15 | 63u << 16, 0,
					 0x10000004, 0x2 };
	/* 256 KiB + 4 bytes: NUMD 0x10000 spills into NUMDU (cdw11) */
	static const uint32_t big[6] = { 0x02, 0x1 };
	unsigned char want_cmd[72];
	struct nvme_uring_cmd c;
	static char page[(256 << 10) + 4];

	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, URIO_NVME_NSID_ALL,
					       URIO_NVME_LOG_SMART, false, page,
					       512, 0),
			 0);
	expect_cmd(want_cmd, 0x02, 0xffffffffu, (uintptr_t)page, 512, smart);
	assert_cmd_and_sqe(&c, want_cmd, 3, 0xc0484e82u);
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 0, URIO_NVME_LOG_ERROR, true,
					       page, 256, 0x210000004ull),
			 0);
	expect_cmd(want_cmd, 0x02, 0, (uintptr_t)page, 256, err);
	assert_cmd_and_sqe(&c, want_cmd, 3, 0);
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 1, URIO_NVME_LOG_SMART,
					       false, page, sizeof(page), 0),
			 0);
	expect_cmd(want_cmd, 0x02, 1, (uintptr_t)page, sizeof(page), big);
	assert_cmd_and_sqe(&c, want_cmd, 3, 0);
	/* lengths and offsets in whole dwords, and a buffer */
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 1, 2, false, page, 0, 0),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 1, 2, false, page, 510, 0),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 1, 2, false, page, 512, 2),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log_cmd(&c, 1, 2, false, NULL, 512, 0),
			 -EINVAL);
}
END_TEST

START_TEST(smart_log_decodes_what_nvme_cli_prints)
{
	unsigned char p[512] = { 0 };
	struct urio_nvme_smart s = { .size = sizeof(s) };

	p[0] = 0x05;	       /* spare below threshold, read-only */
	put_le(p + 1, 310, 2); /* 310 K = 37 C */
	p[3] = 97;	       /* available spare % */
	p[4] = 10;	       /* threshold % */
	p[5] = 103;	       /* percentage used: may pass 100 */
	p[6] = 0x01;	       /* endurance group warning */
	put_le(p + 32, 123456789012ull, 8); /* data units read */
	put_le(p + 48, 42, 8);		    /* data units written ... */
	put_le(p + 56, 1, 8);		    /* ... past 2^64: saturated */
	put_le(p + 64, 1000, 8);
	put_le(p + 80, 2000, 8);
	put_le(p + 96, 77, 8);
	put_le(p + 112, 12, 8);
	put_le(p + 128, 8760, 8); /* power-on hours */
	put_le(p + 144, 3, 8);	  /* unsafe shutdowns */
	put_le(p + 160, 2, 8);	  /* media errors */
	put_le(p + 176, 9, 8);
	put_le(p + 192, 15, 4);
	put_le(p + 196, 16, 4);
	put_le(p + 200, 300, 2); /* sensor 1 */
	put_le(p + 214, 330, 2); /* sensor 8 */
	put_le(p + 216, 4, 4);
	put_le(p + 220, 5, 4);
	put_le(p + 224, 60, 4);
	put_le(p + 228, 70, 4);
	ck_assert_int_eq(urio_nvme_smart_decode(p, sizeof(p), &s), 0);
	ck_assert_uint_eq(s.critical_warning, 0x05);
	ck_assert_uint_eq(s.temperature, 310);
	ck_assert_uint_eq(s.avail_spare, 97);
	ck_assert_uint_eq(s.spare_thresh, 10);
	ck_assert_uint_eq(s.percent_used, 103);
	ck_assert_uint_eq(s.endu_grp_crit_warn_sumry, 1);
	ck_assert_uint_eq(s.data_units_read, 123456789012ull);
	ck_assert_uint_eq(s.data_units_written, UINT64_MAX);
	ck_assert_uint_eq(s.host_reads, 1000);
	ck_assert_uint_eq(s.host_writes, 2000);
	ck_assert_uint_eq(s.ctrl_busy_time, 77);
	ck_assert_uint_eq(s.power_cycles, 12);
	ck_assert_uint_eq(s.power_on_hours, 8760);
	ck_assert_uint_eq(s.unsafe_shutdowns, 3);
	ck_assert_uint_eq(s.media_errors, 2);
	ck_assert_uint_eq(s.num_err_log_entries, 9);
	ck_assert_uint_eq(s.warning_temp_time, 15);
	ck_assert_uint_eq(s.critical_comp_time, 16);
	ck_assert_uint_eq(s.temp_sensor[0], 300);
	ck_assert_uint_eq(s.temp_sensor[1], 0);
	ck_assert_uint_eq(s.temp_sensor[7], 330);
	ck_assert_uint_eq(s.thm_temp1_trans_count, 4);
	ck_assert_uint_eq(s.thm_temp2_trans_count, 5);
	ck_assert_uint_eq(s.thm_temp1_total_time, 60);
	ck_assert_uint_eq(s.thm_temp2_total_time, 70);
}
END_TEST

START_TEST(error_log_entry_decodes)
{
	unsigned char p[64] = { 0 };
	struct urio_nvme_error_entry e = { .size = sizeof(e) };

	put_le(p, 17, 8);		    /* error count */
	put_le(p + 8, 3, 2);		    /* SQID */
	put_le(p + 10, 0x1234, 2);	    /* CID */
	put_le(p + 12, 0x4080 << 1 | 1, 2); /* status, phase tag set */
	put_le(p + 14, 0x0a05, 2);	    /* parameter error location */
	put_le(p + 16, 0x1122334455ull, 8);
	put_le(p + 24, 1, 4);
	p[28] = 0;
	p[29] = 3; /* transport: TCP */
	put_le(p + 32, 0xdeadbeefull, 8);
	put_le(p + 40, 0x77, 2);
	ck_assert_int_eq(urio_nvme_error_decode(p, sizeof(p), &e), 0);
	ck_assert_uint_eq(e.error_count, 17);
	ck_assert_uint_eq(e.sqid, 3);
	ck_assert_uint_eq(e.cmdid, 0x1234);
	ck_assert_uint_eq(e.status_field, 0x4080); /* LBA out of range, DNR */
	ck_assert_int_eq(urio_nvme_status_errno(e.status_field), -ERANGE);
	ck_assert_uint_eq(e.parm_error_location, 0x0a05);
	ck_assert_uint_eq(e.lba, 0x1122334455ull);
	ck_assert_uint_eq(e.nsid, 1);
	ck_assert_uint_eq(e.trtype, 3);
	ck_assert_uint_eq(e.cs, 0xdeadbeefull);
	ck_assert_uint_eq(e.trtype_spec_info, 0x77);
}
END_TEST

START_TEST(identify_pages_decode)
{
	static unsigned char p[4096];
	struct urio_nvme_id_ctrl c = { .size = sizeof(c) };
	struct urio_nvme_id_ns n = { .size = sizeof(n) };

	put_le(p, 0x1b36, 2); /* QEMU's vendor id */
	put_le(p + 2, 0x1af4, 2);
	memcpy(p + 4, "nvmevm0001          ", 20);
	memcpy(p + 24, "QEMU NVMe Ctrl                          ", 40);
	memcpy(p + 64, "7.2.22  ", 8);
	p[76] = 0x2; /* may have several controllers */
	p[77] = 7;   /* MDTS: 4 KiB << 7 */
	put_le(p + 78, 0x41, 2);
	put_le(p + 80, 0x00010400, 4); /* 1.4.0 */
	put_le(p + 256, 0x1f, 2);      /* OACS */
	p[262] = 63;		       /* ELPE: 64 error log entries */
	put_le(p + 266, 343, 2);       /* WCTEMP */
	put_le(p + 268, 373, 2);       /* CCTEMP */
	p[512] = 0x66;		       /* SQES */
	p[513] = 0x44;		       /* CQES */
	put_le(p + 516, 256, 4);
	put_le(p + 520, 0x15d, 2); /* ONCS */
	p[525] = 0x7;		   /* VWC */
	put_le(p + 536, 0x00100001, 4);
	memcpy(p + 768, "nqn.2019-08.org.qemu:nvmevm0001", 31);
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(p, sizeof(p), &c), 0);
	ck_assert_uint_eq(c.vid, 0x1b36);
	ck_assert_uint_eq(c.ssvid, 0x1af4);
	ck_assert_str_eq(c.sn, "nvmevm0001");
	ck_assert_str_eq(c.mn, "QEMU NVMe Ctrl");
	ck_assert_str_eq(c.fr, "7.2.22");
	ck_assert_uint_eq(c.cmic, 2);
	ck_assert_uint_eq(c.max_xfer, 512 << 10);
	ck_assert_uint_eq(c.cntlid, 0x41);
	ck_assert_uint_eq(c.ver, 0x10400);
	ck_assert_uint_eq(c.nn, 256);
	ck_assert_uint_eq(c.mdts, 7);
	ck_assert_uint_eq(c.oacs, 0x1f);
	ck_assert_uint_eq(c.elpe, 63);
	ck_assert_uint_eq(c.wctemp, 343);
	ck_assert_uint_eq(c.cctemp, 373);
	ck_assert_uint_eq(c.sqes, 0x66);
	ck_assert_uint_eq(c.cqes, 0x44);
	ck_assert_uint_eq(c.oncs, 0x15d);
	ck_assert_uint_eq(c.vwc, 7);
	ck_assert_uint_eq(c.sgls, 0x00100001);
	ck_assert_str_eq(c.subnqn, "nqn.2019-08.org.qemu:nvmevm0001");
	p[77] = 0; /* no limit */
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(p, sizeof(p), &c), 0);
	ck_assert_uint_eq(c.max_xfer, 0);

	memset(p, 0, sizeof(p));
	put_le(p, 1 << 20, 8);
	put_le(p + 8, 1 << 19, 8);
	put_le(p + 16, 1000, 8);
	p[25] = 17;	    /* 18 formats */
	p[26] = 0x20 | 0x1; /* format 0x11: bits 6:5 are the high bits */
	put_le(p + 128 + 4 * 0x11, 8, 2); /* 8 bytes of metadata */
	p[128 + 4 * 0x11 + 2] = 12;	  /* 4 KiB LBAs */
	p[128 + 4 * 0x11 + 3] = 2;	  /* relative performance */
	p[128 + 2] = 9;			  /* format 0: 512-byte LBAs */
	p[30] = 1;			  /* NMIC: shared */
	memset(p + 104, 0xab, 16);	  /* NGUID */
	memset(p + 120, 0xcd, 8);	  /* EUI64 */
	ck_assert_int_eq(urio_nvme_id_ns_decode(p, sizeof(p), &n), 0);
	ck_assert_uint_eq(n.nsze, 1 << 20);
	ck_assert_uint_eq(n.ncap, 1 << 19);
	ck_assert_uint_eq(n.nuse, 1000);
	ck_assert_uint_eq(n.nlbaf, 17);
	ck_assert_uint_eq(n.flbas, 0x21);
	ck_assert_uint_eq(n.format, 0x11);
	ck_assert_uint_eq(n.nmic, 1);
	ck_assert_uint_eq(n.ms, 8);
	ck_assert_uint_eq(n.lba_size, 4096);
	ck_assert_uint_eq(n.lbaf[0].lbads, 9);
	ck_assert_uint_eq(n.lbaf[0x11].lbads, 12);
	ck_assert_uint_eq(n.lbaf[0x11].ms, 8);
	ck_assert_uint_eq(n.lbaf[0x11].rp, 2);
	ck_assert_uint_eq(n.nguid[15], 0xab);
	ck_assert_uint_eq(n.eui64[0], 0xcd);
	p[128 + 4 * 0x11 + 2] = 8; /* 256-byte LBAs: not valid NVMe */
	ck_assert_int_eq(urio_nvme_id_ns_decode(p, sizeof(p), &n), 0);
	ck_assert_uint_eq(n.lba_size, 0);
}
END_TEST

/* Size first: a page shorter than its kind, or an out struct that does not
 * reach its first field, is refused; an older, shorter struct is filled as
 * far as its size reaches and not a byte past it. */
START_TEST(decoders_check_lengths_and_fill_as_far_as_size_reaches)
{
	static unsigned char p[4096];
	struct {
		struct urio_nvme_smart s;
		unsigned char guard[64];
	} g;
	struct urio_nvme_id_ctrl c = { .size = sizeof(c) };
	struct urio_nvme_id_ns n = { .size = sizeof(n) };
	struct urio_nvme_error_entry e = { .size = sizeof(e) };
	size_t cut = offsetof(struct urio_nvme_smart, data_units_read);

	memset(p, 0x5a, sizeof(p));
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(NULL, 4096, &c), -EINVAL);
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(p, 4095, &c), -EINVAL);
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(p, 4096, NULL), -EINVAL);
	ck_assert_int_eq(urio_nvme_id_ns_decode(p, 4000, &n), -EINVAL);
	ck_assert_int_eq(urio_nvme_smart_decode(p, 511, &g.s), -EINVAL);
	ck_assert_int_eq(urio_nvme_error_decode(p, 63, &e), -EINVAL);
	e.size = sizeof(size_t); /* reaches no field */
	ck_assert_int_eq(urio_nvme_error_decode(p, 64, &e), -EINVAL);
	/* an older caller's struct: filled up to its size, nothing past */
	memset(&g, 0xee, sizeof(g));
	g.s.size = cut;
	ck_assert_int_eq(urio_nvme_smart_decode(p, 512, &g.s), 0);
	ck_assert_uint_eq(g.s.size, cut);
	ck_assert_uint_eq(g.s.critical_warning, 0x5a);
	ck_assert_uint_eq(g.s.temperature, 0x5a5a);
	for (size_t i = cut; i < sizeof(g.s); i++)
		ck_assert_uint_eq(((unsigned char *)&g.s)[i], 0xee);
	for (size_t i = 0; i < sizeof(g.guard); i++)
		ck_assert_uint_eq(g.guard[i], 0xee);
}
END_TEST
