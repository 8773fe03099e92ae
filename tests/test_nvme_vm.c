/* SPDX-License-Identifier: MIT */
/* test_nvme_vm.c - NVMe passthrough on a real (emulated) controller: run
 * inside the QEMU guest of tools/nvme-vm (one boot for the whole suite).
 * The namespace is $URIO_NVME_DEV; by default /dev/ng0n1 (QEMU's PCIe
 * controller) and then, when the guest has one (NVME_VM_TCP=1), the NVMe
 * over TCP namespace $NVME_VM_TCP_NG: the same cases on both transports.
 * A device that is missing skips the suite (exit 77), or fails it inside
 * the guest, where the harness promised the device. */
#include "helpers.h"
#include "src/nvme.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *NG; /* the namespace's generic char device */
static char BLK[64];   /* its block device */
static char CTRL[64];  /* its controller's char device (admin commands) */

/* Picks the namespace the cases run on; false if it is not there. */
static bool use_device(const char *ng)
{
	unsigned c, n;
	struct stat st;

	if (stat(ng, &st) != 0 || !S_ISCHR(st.st_mode) ||
	    sscanf(ng, "/dev/ng%un%u", &c, &n) != 2)
		return false;
	NG = ng;
	snprintf(BLK, sizeof(BLK), "/dev/nvme%un%u", c, n);
	snprintf(CTRL, sizeof(CTRL), "/dev/nvme%u", c);
	return true;
}

static urio_loop *loop_with(unsigned flags, size_t buf_bytes)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop;
	int ret;

	o.flags |= flags;
	o.buf_bytes = buf_bytes;
	o.entries = 64;
	ret = urio_loop_create(&loop, &o);
	ck_assert_msg(ret == 0, "loop: %s", urio_strerror(ret));
	return loop;
}

static urio_target *open_ng(urio_loop *loop, const char *path)
{
	struct urio_target_info info = { .size = sizeof(info) };
	urio_target *t;
	int ret = urio_target_open(loop, &t, path, O_RDWR, 0, NULL);

	ck_assert_msg(ret == 0, "open %s: %s", path, urio_strerror(ret));
	ck_assert_int_eq(urio_target_info(t, &info), 0);
	ck_assert_uint_eq(info.passthru, 1);
	ck_assert_uint_eq(info.nsid, 1);
	ck_assert_uint_ge(info.lba_size, 512);
	return t;
}

/* Writes n random distinct 4 KiB blocks, reads them back, compares. */
static void roundtrip(urio_loop *loop, urio_target *t, char *wbuf, char *rbuf,
		      unsigned n, uint64_t seed)
{
	struct tally w = { 0 }, r = { 0 };
	unsigned bad = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t blk = (i * 7919ull + seed) % 60000;

		fill_pattern(wbuf + (size_t)i * 4096, 4096, seed, blk);
		ck_assert_int_gt(urio_write(t, wbuf + (size_t)i * 4096, 4096,
					    blk * 4096, URIO_F_WAIT, tally_cb,
					    &w),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(w.calls, n);
	if (w.errors) {
		char d[1024];

		urio_loop_describe(loop, d, sizeof(d));
		ck_abort_msg("write errors: %u (last %d, status 0x%x) on %s",
			     w.errors, w.last, urio_loop_nvme_status(loop), d);
	}
	ck_assert_int_eq(w.sum, (int64_t)n * 4096);
	memset(rbuf, 0, (size_t)n * 4096);
	for (unsigned i = 0; i < n; i++) {
		uint64_t blk = (i * 7919ull + seed) % 60000;

		ck_assert_int_gt(urio_read(t, rbuf + (size_t)i * 4096, 4096,
					   blk * 4096, URIO_F_WAIT, tally_cb,
					   &r),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(r.calls, n);
	ck_assert_uint_eq(r.errors, 0);
	for (unsigned i = 0; i < n; i++)
		if (!check_pattern(rbuf + (size_t)i * 4096, 4096, seed,
				   (i * 7919ull + seed) % 60000))
			bad++;
	ck_assert_uint_eq(bad, 0);
}

static void roundtrip_with(unsigned flags, bool fixed)
{
	enum { N = 1000 };
	urio_loop *loop;
	urio_target *t;
	char *w, *r;
	void *pool;
	size_t len;

	loop = loop_with(flags, fixed ? 2 * N * 4096 : 0);
	t = open_ng(loop, NG);
	if (fixed) {
		ck_assert_int_eq(urio_loop_buffers(loop, &pool, &len), 0);
		ck_assert_uint_ge(len, 2 * N * 4096);
		w = pool;
		r = w + N * 4096;
	} else {
		ck_assert(posix_memalign((void **)&w, 4096, N * 4096) == 0);
		ck_assert(posix_memalign((void **)&r, 4096, N * 4096) == 0);
	}
	roundtrip(loop, t, w, r, N, 11 + flags + fixed);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	if (!fixed) {
		free(w);
		free(r);
	}
}

START_TEST(write_read_back_through_passthrough)
{
	roundtrip_with(0, false);
}
END_TEST

START_TEST(write_read_back_with_fixed_buffers)
{
	roundtrip_with(0, true);
}
END_TEST

/* Polling a multipath head's generic device (the TCP namespace) oopses
 * kernels before 6.3 (Debian's 6.1.0-56: a GPF in bio_poll, then the task
 * hangs in io_uring teardown and the guest with it). */
static struct urio_nvme_ns probe_ng(void)
{
	struct urio_nvme_ns ns;
	int fd = open(NG, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(urio_nvme_probe(fd, &ns), 0);
	close(fd);
	return ns;
}

static bool iopoll_safe(void)
{
	struct urio_nvme_ns ns = probe_ng();

	return urio_nvme_iopoll_safe(&ns);
}

START_TEST(write_read_back_with_iopoll)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	urio_loop *loop;

	if (!iopoll_safe())
		SKIP("%s is a multipath head: IOPOLL on it oopses kernels "
		     "before 6.3",
		     NG);
	roundtrip_with(URIO_LOOP_IOPOLL, false);
	roundtrip_with(URIO_LOOP_IOPOLL, true);
	loop = loop_with(URIO_LOOP_IOPOLL, 0);
	open_ng(loop, NG);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.rings[lay.nrings - 1].kind, URIO_RING_PASSTHRU);
	ck_assert(lay.rings[lay.nrings - 1].setup_flags & 1u /* IOPOLL */);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(plain_and_passthrough_rings_serve_one_loop)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	struct tally a = { 0 }, b = { 0 };
	char path[] = "/tmp/urio-vm.XXXXXX", *buf, *fbuf;
	urio_loop *loop;
	urio_target *ng, *file;
	int fd;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(urio_target_open(loop, &file, path, O_RDWR, 0, NULL),
			 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.nrings, 2);
	ck_assert_uint_eq(lay.rings[0].kind, URIO_RING_PLAIN);
	ck_assert_uint_eq(lay.rings[1].kind, URIO_RING_PASSTHRU);
	ck_assert(posix_memalign((void **)&buf, 4096, 64 * 4096) == 0);
	fbuf = malloc(64 * 4096);
	for (int i = 0; i < 64; i++) {
		ck_assert_int_gt(urio_read(ng, buf + i * 4096, 4096,
					   i * 4096ull, URIO_F_WAIT, tally_cb,
					   &a),
				 0);
		ck_assert_int_gt(urio_write(file, fbuf + i * 4096, 4096,
					    i * 4096ull, URIO_F_WAIT, tally_cb,
					    &b),
				 0);
		ck_assert_int_gt(
			urio_timeout(loop, 1000, URIO_F_WAIT, tally_cb, &b), 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(a.calls, 64);
	ck_assert_uint_eq(a.errors, 0);
	ck_assert_uint_eq(b.calls, 128);
	ck_assert_uint_eq(b.errors, 0);
	urio_loop_destroy(loop);
	unlink(path);
	free(buf);
	free(fbuf);
}
END_TEST

START_TEST(bad_ranges_are_refused_before_submission)
{
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_stats st = { .size = sizeof(st) };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert_int_eq(urio_target_info(ng, &info), 0);
	ck_assert(posix_memalign((void **)&buf, 4096, 8192) == 0);
	ck_assert_int_eq(urio_read(ng, buf, 4096, info.bytes, 0, tally_cb, &t),
			 -ERANGE);
	ck_assert_int_eq(
		urio_read(ng, buf, 8192, info.bytes - 4096, 0, tally_cb, &t),
		-ERANGE);
	ck_assert_int_eq(urio_read(ng, buf, 4096, 100, 0, tally_cb, &t),
			 -EINVAL);
	ck_assert_int_eq(urio_read(ng, buf, 100, 0, 0, tally_cb, &t), -EINVAL);
	ck_assert_int_eq(urio_read(ng, buf + 1, 4096, 0, 0, tally_cb, &t),
			 -EINVAL);
	ck_assert_int_eq(urio_trim(ng, info.bytes, 4096, 0, tally_cb, &t),
			 -ERANGE);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 0);
	urio_loop_destroy(loop);
	free(buf);
}
END_TEST

/* Records a passthrough completion with its NVMe status, read where the
 * API says it is valid: in the callback. */
struct status_tally {
	unsigned calls;
	int res, status;
};

static void status_cb(urio_loop *loop, int res, void *data)
{
	struct status_tally *t = data;

	t->calls++;
	t->res = res;
	t->status = urio_loop_nvme_status(loop);
}

START_TEST(raw_command_past_the_end_returns_the_nvme_status)
{
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_nvme_cmd cmd = { .size = sizeof(cmd) };
	struct status_tally t = { 0 };
	int status;
	urio_loop *loop;
	urio_target *ng;
	uint64_t slba;
	char *buf;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert_int_eq(urio_target_info(ng, &info), 0);
	ck_assert(posix_memalign((void **)&buf, 4096, 4096) == 0);
	slba = info.bytes / info.lba_size; /* one past the last LBA */
	cmd.opcode = 0x02;
	cmd.buf = buf;
	cmd.len = info.lba_size;
	cmd.cdw10 = (uint32_t)slba;
	cmd.cdw11 = (uint32_t)(slba >> 32);
	cmd.cdw12 = 0;
	ck_assert_int_gt(urio_nvme_io(ng, &cmd, 0, status_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	/* What the controller said, with do-not-retry: QEMU's checks the
	 * range (LBA Out of Range, SC 0x80); nvmet's block-device backend
	 * submits the bio and reports its failure (Internal Error, 0x06). */
	ck_assert_uint_eq(t.calls, 1);
	status = t.status;
	ck_assert_msg((status & 0x4000) && ((status & 0x7ff) == 0x80 ||
					    (status & 0x7ff) == 0x06),
		      "status 0x%x (%d)", status, t.res);
	ck_assert_int_eq(t.res, (status & 0xff) == 0x80 ? -ERANGE : -EIO);
	urio_loop_destroy(loop);
	free(buf);
}
END_TEST

START_TEST(inflight_cap_holds_on_the_passthrough_ring)
{
	struct urio_target_opts to = { .size = sizeof(to), .inflight_cap = 8 };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	loop = loop_with(0, 0);
	ck_assert_int_eq(urio_target_open(loop, &ng, NG, O_RDWR, 0, &to), 0);
	ck_assert(posix_memalign((void **)&buf, 4096, 9 * 4096) == 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_gt(urio_read(ng, buf + i * 4096, 4096,
					   i * 4096ull, 0, tally_cb, &t),
				 0);
	ck_assert_int_eq(
		urio_read(ng, buf + 8 * 4096, 4096, 0, 0, tally_cb, &t),
		-EBUSY);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 8);
	ck_assert_uint_eq(t.calls, 8);
	ck_assert_uint_eq(t.errors, 0);
	urio_loop_destroy(loop);
	free(buf);
}
END_TEST

START_TEST(destroy_with_passthrough_requests_in_flight)
{
	enum { N = 400 };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert(posix_memalign((void **)&buf, 4096, N * 4096) == 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_gt(urio_read(ng, buf + i * 4096, 4096,
					   (i * 13ull % 50000) * 4096,
					   URIO_F_WAIT, tally_cb, &t),
				 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	/* each once: read (4096) or cancelled */
	ck_assert_uint_eq(t.calls, N);
	ck_assert_uint_eq(t.sum / 4096 + t.errors, N);
	free(buf);
}
END_TEST

START_TEST(requests_past_mdts_split_and_complete_once)
{
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_stats rs = { .size = sizeof(rs) };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	unsigned cmds;
	size_t len;
	char *w, *r;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert_int_eq(urio_target_info(ng, &info), 0);
	/* Three commands per request under MDTS; one when the controller
	 * sets no limit (nvmet over TCP reports MDTS 0). */
	cmds = info.max_xfer ? 3 : 1;
	len = info.max_xfer ? (size_t)info.max_xfer * 5 / 2 / 4096 * 4096
			    : 1u << 20;
	ck_assert(posix_memalign((void **)&w, 4096, len) == 0);
	ck_assert(posix_memalign((void **)&r, 4096, len) == 0);
	fill_pattern(w, len, 21, 0);
	ck_assert_int_gt(urio_write(ng, w, len, 1 << 20, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, (int)len);
	ck_assert_int_gt(urio_read(ng, r, len, 1 << 20, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, (int)len);
	ck_assert_uint_eq(t.calls, 2);
	ck_assert(memcmp(w, r, len) == 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &rs), 0);
	ck_assert_uint_eq(rs.submitted, 2 * cmds); /* a CQE per command */
	urio_loop_destroy(loop);
	free(w);
	free(r);
}
END_TEST

START_TEST(block_device_switches_to_its_generic_sibling)
{
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_target_opts no = { .size = sizeof(no),
				       .flags = URIO_TARGET_NO_PASSTHRU };
	urio_loop *loop;
	urio_target *t;

	loop = loop_with(0, 0);
	open_ng(loop, BLK);
	ck_assert_int_eq(
		urio_target_open(loop, &t, BLK, O_RDWR | O_DIRECT, 0, &no), 0);
	ck_assert_int_eq(urio_target_info(t, &info), 0);
	ck_assert_uint_eq(info.passthru, 0);
	ck_assert_uint_eq(info.blockdev, 1);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(flush_write_zeroes_and_trim_complete)
{
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf, *zero;

	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert(posix_memalign((void **)&buf, 4096, 65536) == 0);
	zero = calloc(1, 65536);
	memset(buf, 0xab, 65536);
	ck_assert_int_gt(urio_write(ng, buf, 65536, 2 << 20, 0, tally_cb, &t),
			 0);
	ck_assert_int_gt(urio_fsync(ng, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_uint_eq(t.errors, 0);
	ck_assert_int_gt(urio_write_zeroes(ng, 2 << 20, 65536, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, 0);
	ck_assert_int_gt(urio_read(ng, buf, 65536, 2 << 20, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert(memcmp(buf, zero, 65536) == 0);
	ck_assert_int_gt(urio_trim(ng, 2 << 20, 65536, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(t.last == 0, "trim: %d, status 0x%x", t.last,
		      urio_loop_nvme_status(loop));
	urio_loop_destroy(loop);
	free(buf);
	free(zero);
}
END_TEST

/* Integrity under load: threads with a loop each, random mixed reads and
 * writes on disjoint regions of the namespace (tests/stress.c). */
START_TEST(threads_with_a_loop_each_verify_every_byte)
{
	char label[96];
	struct stress_opts o = { .path = NG,
				 .oflags = O_RDWR,
				 .threads = 2,
				 .blocks = 256,
				 .qd = 16,
				 .bs = 4096,
				 .base = 8u << 20,
				 .ms = 2000,
				 .label = label };

	snprintf(label, sizeof(label), "passthrough integrity on %s", NG);
	stress_check(&o);
}
END_TEST

/* ---- src/nvme.c's encoders against the controller, on a bare ring ----
 * What phase two wires into the loop (vectored I/O, Identify, Get Log
 * Page), sent here through liburing alone: the bytes nvme.c builds are the
 * ones the kernel and the controller accept. */

/* Sends one command through a SQE128|CQE32 ring; returns cqe->res (an NVMe
 * status when positive). */
static int raw_cmd(const char *path, uint32_t cmd_op,
		   const struct nvme_uring_cmd *c)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int fd, ret;

	fd = open(path, O_RDWR);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ret = io_uring_queue_init(4, &ring,
				  IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	ck_assert_msg(ret == 0, "ring: %s", strerror(-ret));
	urio_nvme_prep_sqe_op(io_uring_get_sqe(&ring), fd, false, cmd_op, c,
			      false, 0);
	ck_assert_int_eq(io_uring_submit_and_wait(&ring, 1), 1);
	ck_assert_int_eq(io_uring_peek_cqe(&ring, &cqe), 0);
	ret = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
	return ret;
}

static void *page_alloc(size_t len)
{
	void *p;

	ck_assert(posix_memalign(&p, 4096, len) == 0);
	memset(p, 0xee, len);
	return p;
}

static struct urio_target_info ng_info(void)
{
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *loop = loop_with(0, 0);

	ck_assert_int_eq(urio_target_info(open_ng(loop, NG), &info), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	return info;
}

START_TEST(encoded_identify_describes_controller_and_namespace)
{
	struct urio_target_info info = ng_info();
	struct urio_nvme_id_ctrl ctrl;
	struct urio_nvme_ns probed;
	struct urio_nvme_id_ns ns;
	struct nvme_uring_cmd c;
	unsigned char *page = page_alloc(URIO_NVME_ID_BYTES);

	urio_nvme_identify(&c, URIO_NVME_CNS_CTRL, 0, page);
	ck_assert_int_eq(raw_cmd(CTRL, NVME_URING_CMD_ADMIN, &c), 0);
	urio_nvme_id_ctrl_decode(page, &ctrl);
	fprintf(stderr, "%s: \"%s\" sn \"%s\" fw \"%s\", NVMe %u.%u, cmic %u\n",
		CTRL, ctrl.mn, ctrl.sn, ctrl.fr, ctrl.ver >> 16,
		(ctrl.ver >> 8) & 0xff, ctrl.cmic);
	ck_assert_uint_gt(strlen(ctrl.mn), 0);
	ck_assert_uint_gt(strlen(ctrl.sn), 0);
	ck_assert_uint_ge(ctrl.nn, 1);
	ck_assert_uint_ge(ctrl.ver, 0x10000);
	ck_assert_uint_eq(ctrl.max_xfer, info.max_xfer); /* what urio uses */
	/* a multipath head only where the controller says it can be one */
	probed = probe_ng();
	ck_assert(!probed.mpath_head || (ctrl.cmic & 2));
	urio_nvme_identify(&c, URIO_NVME_CNS_NS, info.nsid, page);
	ck_assert_int_eq(raw_cmd(CTRL, NVME_URING_CMD_ADMIN, &c), 0);
	urio_nvme_id_ns_decode(page, &ns);
	ck_assert_uint_eq(1u << ns.lba_shift, info.lba_size);
	ck_assert_uint_eq(ns.nsze << ns.lba_shift, info.bytes);
	ck_assert_uint_le(ns.ncap, ns.nsze);
	/* Admin commands belong on the controller, not the namespace. */
	ck_assert_int_eq(raw_cmd(NG, NVME_URING_CMD_ADMIN, &c), -ENOTTY);
	free(page);
}
END_TEST

static struct urio_nvme_smart smart_now(void)
{
	struct urio_nvme_smart s;
	struct nvme_uring_cmd c;
	unsigned char *page = page_alloc(URIO_NVME_SMART_BYTES);

	ck_assert_int_eq(urio_nvme_get_log(&c, URIO_NVME_NSID_ALL,
					   URIO_NVME_LOG_SMART, false, page,
					   URIO_NVME_SMART_BYTES, 0),
			 0);
	ck_assert_int_eq(raw_cmd(CTRL, NVME_URING_CMD_ADMIN, &c), 0);
	urio_nvme_smart_decode(page, &s);
	free(page);
	return s;
}

START_TEST(encoded_smart_log_counts_the_reads_we_make)
{
	enum { N = 50 };
	struct urio_nvme_smart a, b;
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	a = smart_now();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	buf = page_alloc(N * 4096);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_read(ng, buf + i * 4096, 4096,
					   (1ull << 20) + i * 4096ull,
					   URIO_F_WAIT, tally_cb, &t),
				 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), N);
	ck_assert_uint_eq(t.errors, 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	b = smart_now();
	fprintf(stderr,
		"%s SMART: warning 0x%x, %u K, spare %u%% (threshold %u%%), "
		"used %u%%, units read %llu, host reads %llu -> %llu, "
		"power-on hours %llu, unsafe shutdowns %llu, media errors "
		"%llu\n",
		CTRL, b.critical_warning, b.temperature, b.avail_spare,
		b.spare_thresh, b.percent_used,
		(unsigned long long)b.data_units_read,
		(unsigned long long)a.host_reads,
		(unsigned long long)b.host_reads,
		(unsigned long long)b.power_on_hours,
		(unsigned long long)b.unsafe_shutdowns,
		(unsigned long long)b.media_errors);
	/* Our N reads are in the controller's count (and maybe others'). */
	ck_assert_uint_ge(b.host_reads, a.host_reads + N);
	ck_assert_uint_ge(b.data_units_read, a.data_units_read);
	ck_assert_uint_le(b.avail_spare, 100);
	ck_assert_uint_eq(b.critical_warning, 0);
	free(buf);
}
END_TEST

START_TEST(encoded_error_log_reads_whole_entries)
{
	enum { ENTRIES = 4 };
	struct nvme_uring_cmd c;
	unsigned char *page = page_alloc(ENTRIES * URIO_NVME_ERROR_BYTES);

	ck_assert_int_eq(urio_nvme_get_log(&c, URIO_NVME_NSID_ALL,
					   URIO_NVME_LOG_ERROR, true, page,
					   ENTRIES * URIO_NVME_ERROR_BYTES, 0),
			 0);
	ck_assert_int_eq(raw_cmd(CTRL, NVME_URING_CMD_ADMIN, &c), 0);
	/* The controller wrote at least the first entry (QEMU 7.2 writes
	 * that one only and leaves the rest of the buffer as it was); an
	 * entry that counts an error names its status. */
	for (unsigned i = 0; i < ENTRIES; i++) {
		struct urio_nvme_error_entry e;

		urio_nvme_error_decode(page + i * URIO_NVME_ERROR_BYTES, &e);
		if (e.error_count == 0xeeeeeeeeeeeeeeeeull) {
			ck_assert_uint_gt(i, 0);
			continue;
		}
		if (e.error_count)
			ck_assert_uint_ne(e.status, 0);
	}
	free(page);
}
END_TEST

START_TEST(encoded_vectored_write_reads_back)
{
	struct urio_target_info info = ng_info();
	struct urio_nvme_ns ns = { .nsid = info.nsid,
				   .lba_shift = (uint32_t)__builtin_ctz(
					   info.lba_size),
				   .nlba = info.bytes / info.lba_size,
				   .max_xfer = info.max_xfer };
	char *w = page_alloc(3 * 4096), *whole = page_alloc(16384),
	     *r = page_alloc(2 * 8192);
	/* three buffers out of order and apart: 4 + 8 + 4 KiB */
	struct iovec wv[3] = { { w + 8192, 4096 },
			       { page_alloc(8192), 8192 },
			       { w, 4096 } },
		     rv[2] = { { r + 8192, 8192 }, { r, 8192 } };
	uint64_t off = 3 << 20, len, nlb;
	struct nvme_uring_cmd c;

	fill_pattern(wv[0].iov_base, 4096, 77, 0);
	fill_pattern(wv[1].iov_base, 8192, 77, 1);
	fill_pattern(wv[2].iov_base, 4096, 77, 2);
	ck_assert_int_eq(urio_nvme_check_iov(&ns, wv, 3, off, &len, &nlb), 0);
	ck_assert_uint_eq(len, 16384);
	urio_nvme_rwv(&c, &ns, URIO_NVME_WRITE, wv, 3, len, off);
	ck_assert_int_eq(raw_cmd(NG, NVME_URING_CMD_IO_VEC, &c), 0);
	/* back in one plain read: the pieces in iovec order */
	urio_nvme_rw(&c, &ns, URIO_NVME_READ, whole, 16384, off);
	ck_assert_int_eq(raw_cmd(NG, NVME_URING_CMD_IO, &c), 0);
	ck_assert(memcmp(whole, wv[0].iov_base, 4096) == 0);
	ck_assert(memcmp(whole + 4096, wv[1].iov_base, 8192) == 0);
	ck_assert(memcmp(whole + 12288, wv[2].iov_base, 4096) == 0);
	/* and in a vectored read, scattered the other way round */
	ck_assert_int_eq(urio_nvme_check_iov(&ns, rv, 2, off, &len, &nlb), 0);
	urio_nvme_rwv(&c, &ns, URIO_NVME_READ, rv, 2, len, off);
	ck_assert_int_eq(raw_cmd(NG, NVME_URING_CMD_IO_VEC, &c), 0);
	ck_assert(memcmp(rv[0].iov_base, whole, 8192) == 0);
	ck_assert(memcmp(rv[1].iov_base, whole + 8192, 8192) == 0);
	free(w);
	free(whole);
	free(r);
	free(wv[1].iov_base);
}
END_TEST

static Suite *suite(void)
{
	static char name[96];
	Suite *s;
	TCase *tc;

	snprintf(name, sizeof(name), "nvme_vm %s", NG);
	s = suite_create(name);
	tc = tcase_create("passthru");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, write_read_back_through_passthrough);
	tcase_add_test(tc, write_read_back_with_fixed_buffers);
	tcase_add_test(tc, write_read_back_with_iopoll);
	tcase_add_test(tc, plain_and_passthrough_rings_serve_one_loop);
	tcase_add_test(tc, bad_ranges_are_refused_before_submission);
	tcase_add_test(tc, raw_command_past_the_end_returns_the_nvme_status);
	tcase_add_test(tc, inflight_cap_holds_on_the_passthrough_ring);
	tcase_add_test(tc, destroy_with_passthrough_requests_in_flight);
	tcase_add_test(tc, requests_past_mdts_split_and_complete_once);
	tcase_add_test(tc, block_device_switches_to_its_generic_sibling);
	tcase_add_test(tc, flush_write_zeroes_and_trim_complete);
	tcase_add_test(tc, threads_with_a_loop_each_verify_every_byte);
	suite_add_tcase(s, tc);
	tc = tcase_create("encoders");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, encoded_identify_describes_controller_and_namespace);
	tcase_add_test(tc, encoded_smart_log_counts_the_reads_we_make);
	tcase_add_test(tc, encoded_error_log_reads_whole_entries);
	tcase_add_test(tc, encoded_vectored_write_reads_back);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *env = getenv("URIO_NVME_DEV"),
		   *tcp = getenv("NVME_VM_TCP_NG");
	const char *dev[2] = { env && *env ? env : "/dev/ng0n1" };
	bool in_vm = getenv("NVME_VM") != NULL;
	unsigned ndev = 1, ran = 0;
	int failed = 0;

	if (!(env && *env) && tcp && *tcp)
		dev[ndev++] = tcp;
	for (unsigned i = 0; i < ndev; i++) {
		SRunner *sr;

		if (!use_device(dev[i])) {
			fprintf(stderr, "%s: no NVMe generic device %s%s\n",
				in_vm ? "FAIL" : "SKIP", dev[i],
				in_vm ? " in the guest"
				      : ": run me in tools/nvme-vm");
			failed += in_vm;
			continue;
		}
		sr = srunner_create(suite());
		srunner_run_all(sr, CK_ENV);
		failed += srunner_ntests_failed(sr);
		srunner_free(sr);
		ran++;
	}
	if (failed)
		return 1;
	return ran ? 0 : 77; /* 77: meson's SKIP */
}
