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
