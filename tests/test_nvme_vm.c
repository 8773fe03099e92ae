/* SPDX-License-Identifier: MIT */
/* test_nvme_vm.c - NVMe passthrough and admin commands on a real (emulated)
 * controller: run inside the QEMU guest of tools/nvme-vm (one boot for the
 * whole group).  Every case runs twice, as two rows: row 0 on /dev/ng0n1
 * (QEMU's PCIe controller; $URIO_NVME_DEV instead when set), row 1 on the
 * NVMe over TCP namespace the guest exports when booted with NVME_VM_TCP=1
 * ($NVME_VM_TCP_NG), skipped without one: the same code path, locally and
 * across a fabric. */
#include "fault.h"
#include "helpers.h"
#include "src/nvme.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *NG; /* the namespace's generic char device */
static char BLK[64];   /* its block device */
static char CTRL[64];  /* its controller's char device (admin commands) */

/* Picks the namespace the case runs on; false if it is not there. */
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

/* The device of row row (see the top), or why there is none. */
static const char *use_row(int row)
{
	const char *env = getenv("URIO_NVME_DEV"),
		   *tcp = getenv("NVME_VM_TCP_NG");
	static char why[160];
	const char *dev = env && *env ? env : "/dev/ng0n1";

	if (row == 1) {
		if (env && *env)
			return "URIO_NVME_DEV names one namespace: row 0 runs "
			       "it";
		if (!tcp || !*tcp)
			return "no NVMe/TCP namespace (tools/nvme-vm makes one "
			       "with NVME_VM_TCP=1)";
		dev = tcp;
	}
	if (use_device(dev))
		return NULL;
	snprintf(why, sizeof(why), "no NVMe generic device %s", dev);
	return why;
}

/* Rows: 0 the PCIe namespace, 1 the NVMe/TCP one. */
#define ROWS 2
#define ON_ROW()                                \
	do {                                    \
		const char *why_ = use_row(_i); \
		if (why_)                       \
			SKIP("%s", why_);       \
	} while (0)

static urio_loop *loop_opts(unsigned flags, size_t buf_bytes, unsigned cap)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop;
	int ret;

	o.flags |= flags;
	o.buf_bytes = buf_bytes;
	o.entries = 64;
	o.inflight_cap = cap;
	ret = urio_loop_create(&loop, &o);
	ck_assert_msg(ret == 0, "loop: %s", urio_strerror(ret));
	return loop;
}

static urio_loop *loop_with(unsigned flags, size_t buf_bytes)
{
	return loop_opts(flags, buf_bytes, 0);
}

static urio_target *open_ng(urio_loop *loop, const char *path)
{
	struct urio_target_info info = { .size = sizeof(info) };
	urio_target *t;
	int ret = urio_target_open(loop, &t, path, O_RDWR, 0, NULL);

	ck_assert_msg(ret == 0, "open %s: %s", path, urio_strerror(ret));
	ck_assert_int_eq(urio_target_info(t, &info), 0);
	ck_assert_uint_eq(info.passthru, 1);
	ck_assert_uint_eq(info.controller, 0);
	ck_assert_uint_eq(info.nsid, 1);
	ck_assert_uint_ge(info.lba_size, 512);
	return t;
}

static urio_target *open_ctrl(urio_loop *loop)
{
	urio_target *t;
	int ret = urio_target_open(loop, &t, CTRL, O_RDWR, 0, NULL);

	ck_assert_msg(ret == 0, "open %s: %s", CTRL, urio_strerror(ret));
	return t;
}

static struct urio_target_info info_of(urio_target *t)
{
	struct urio_target_info info = { .size = sizeof(info) };

	ck_assert_int_eq(urio_target_info(t, &info), 0);
	return info;
}

static void *page_alloc(size_t len)
{
	void *p;

	ck_assert(posix_memalign(&p, 4096, len) == 0);
	memset(p, 0xee, len);
	return p;
}

/* The passthrough ring's index in the loop's layout (the last ring). */
static unsigned pt_ring(urio_loop *loop)
{
	struct urio_layout lay = { .size = sizeof(lay) };

	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.rings[lay.nrings - 1].kind, URIO_RING_PASSTHRU);
	return lay.nrings - 1;
}

static uint64_t ring_submitted(urio_loop *loop, unsigned idx)
{
	struct urio_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(urio_loop_ring_stats(loop, idx, &st), 0);
	return st.submitted;
}

static uint64_t loop_submitted(urio_loop *loop)
{
	struct urio_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	return st.submitted;
}

/* Reads n 4 KiB blocks from off into buf, r[i] the record of block i. */
static void read_blocks(urio_target *ng, char *buf, unsigned n, uint64_t off,
			unsigned flags, struct req *r)
{
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_gt(urio_read(ng, buf + (size_t)i * 4096, 4096,
					   off + i * 4096ull, flags, req_cb,
					   &r[i]),
				 0);
}

/* Writes n random distinct 4 KiB blocks, reads them back, compares. */
static void roundtrip(urio_loop *loop, urio_target *t, char *wbuf, char *rbuf,
		      unsigned n, uint64_t seed)
{
	struct req *w = calloc(n, sizeof(*w)), *r = calloc(n, sizeof(*r));
	unsigned bad = 0;

	ck_assert(w && r);
	for (unsigned i = 0; i < n; i++) {
		uint64_t blk = (i * 7919ull + seed) % 60000;

		fill_pattern(wbuf + (size_t)i * 4096, 4096, seed, blk);
		ck_assert_int_gt(urio_write(t, wbuf + (size_t)i * 4096, 4096,
					    blk * 4096, URIO_F_WAIT, req_cb,
					    &w[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(w, n, 4096);
	memset(rbuf, 0, (size_t)n * 4096);
	for (unsigned i = 0; i < n; i++) {
		uint64_t blk = (i * 7919ull + seed) % 60000;

		ck_assert_int_gt(urio_read(t, rbuf + (size_t)i * 4096, 4096,
					   blk * 4096, URIO_F_WAIT, req_cb,
					   &r[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(r, n, 4096);
	for (unsigned i = 0; i < n; i++)
		if (!check_pattern(rbuf + (size_t)i * 4096, 4096, seed,
				   (i * 7919ull + seed) % 60000))
			bad++;
	ck_assert_uint_eq(bad, 0);
	free(w);
	free(r);
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
		/* registered buffers go with a registered file */
		struct urio_target_opts reg = { .size = sizeof(reg),
						.flags = URIO_TARGET_REGISTER };

		ck_assert_int_eq(urio_target_close(t), 0);
		ck_assert_int_eq(
			urio_target_open(loop, &t, NG, O_RDWR, 0, &reg), 0);
		ck_assert_uint_eq(info_of(t).registered, 1);
	}
	if (fixed) {
		ck_assert_int_eq(urio_loop_buffers(loop, &pool, &len), 0);
		ck_assert_uint_ge(len, 2 * N * 4096);
		w = pool;
		r = w + N * 4096;
	} else {
		w = page_alloc(N * 4096);
		r = page_alloc(N * 4096);
	}
	roundtrip(loop, t, w, r, N, 11 + flags + fixed);
	DESTROY_CLEAN(loop);
	if (!fixed) {
		free(w);
		free(r);
	}
}

START_LOOP_TEST(write_read_back_through_passthrough, ROWS)
{
	ON_ROW();
	roundtrip_with(0, false);
}
END_TEST

/* Buffers of the loop's registered pool, on a registered file. */
START_LOOP_TEST(write_read_back_with_fixed_buffers, ROWS)
{
	ON_ROW();
	roundtrip_with(0, true);
}
END_TEST

static struct urio_nvme_ns probe_ng(void)
{
	struct urio_nvme_ns ns;
	int fd = open(NG, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(urio_nvme_probe(fd, &ns), 0);
	close(fd);
	return ns;
}

/* Polling a multipath head's generic device (the TCP namespace) oopses
 * the kernel (Debian's 6.1.0-56: a GPF in bio_poll; 6.12.117: a NULL
 * dereference in nvme_tcp_poll), then the task hangs in io_uring teardown
 * and the guest with it: urio refuses to open one on a polled loop. */
START_LOOP_TEST(write_read_back_with_iopoll, ROWS)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_nvme_ns ns;
	struct req never = { 0 };
	urio_loop *loop;
	urio_target *ctrl;
	void *page;

	ON_ROW();
	ns = probe_ng();
	if (!urio_nvme_iopoll_safe(&ns)) {
		struct urio_target_info info;
		urio_target *blk;

		loop = loop_with(URIO_LOOP_IOPOLL, 0);
		ck_assert_int_eq(
			urio_target_open(loop, &ctrl, NG, O_RDWR, 0, NULL),
			-EOPNOTSUPP);
		/* its block device stays one, with O_DIRECT */
		ck_assert_int_eq(
			urio_target_open(loop, &blk, BLK, O_RDWR, 0, NULL), 0);
		info = info_of(blk);
		ck_assert_uint_eq(info.passthru, 0);
		ck_assert_uint_eq(info.blockdev, 1);
		ck_assert_uint_eq(info.direct, 1);
		/* and no passthrough ring was made for nothing */
		ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
		ck_assert_uint_eq(lay.nrings, 1);
		DESTROY_CLEAN(loop);
		return;
	}
	roundtrip_with(URIO_LOOP_IOPOLL, false);
	roundtrip_with(URIO_LOOP_IOPOLL, true);
	loop = loop_with(URIO_LOOP_IOPOLL, 0);
	open_ng(loop, NG);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.rings[lay.nrings - 1].kind, URIO_RING_PASSTHRU);
	ck_assert(lay.rings[lay.nrings - 1].setup_flags & 1u /* IOPOLL */);
	/* The kernel polls no admin queue: refused before it is queued. */
	ctrl = open_ctrl(loop);
	page = page_alloc(URIO_NVME_IDENTIFY_BYTES);
	ck_assert_int_eq(urio_nvme_identify(ctrl, URIO_NVME_CNS_CTRL, 0, page,
					    0, req_cb, &never),
			 -EOPNOTSUPP);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	free(page);
}
END_TEST

START_LOOP_TEST(plain_and_passthrough_rings_serve_one_loop, ROWS)
{
	enum { N = 64 };
	struct urio_layout lay = { .size = sizeof(lay) };
	struct req a[N] = { 0 }, b[N] = { 0 }, c[N] = { 0 };
	char path[] = "/tmp/urio-vm.XXXXXX", *buf, *fbuf;
	urio_loop *loop;
	urio_target *ng, *file;
	int fd;

	ON_ROW();
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
	buf = page_alloc(N * 4096);
	fbuf = calloc(N, 4096);
	for (int i = 0; i < N; i++) {
		ck_assert_int_gt(urio_read(ng, buf + i * 4096, 4096,
					   i * 4096ull, URIO_F_WAIT, req_cb,
					   &a[i]),
				 0);
		ck_assert_int_gt(urio_write(file, fbuf + i * 4096, 4096,
					    i * 4096ull, URIO_F_WAIT, req_cb,
					    &b[i]),
				 0);
		ck_assert_int_gt(
			urio_timeout(loop, 1000, URIO_F_WAIT, req_cb, &c[i]),
			0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(a, N, 4096);
	ck_assert_reqs(b, N, 4096);
	ck_assert_reqs(c, N, 0);
	DESTROY_CLEAN(loop);
	unlink(path);
	free(buf);
	free(fbuf);
}
END_TEST

START_LOOP_TEST(bad_ranges_are_refused_before_submission, ROWS)
{
	struct urio_target_info info;
	struct req never = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	info = info_of(ng);
	buf = page_alloc(8192);
	ck_assert_int_eq(
		urio_read(ng, buf, 4096, info.bytes, 0, req_cb, &never),
		-ERANGE);
	ck_assert_int_eq(
		urio_read(ng, buf, 8192, info.bytes - 4096, 0, req_cb, &never),
		-ERANGE);
	ck_assert_int_eq(urio_read(ng, buf, 4096, 100, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_read(ng, buf, 100, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_read(ng, buf + 1, 4096, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_trim(ng, info.bytes, 4096, 0, req_cb, &never),
			 -ERANGE);
	ck_assert_uint_eq(loop_submitted(loop), 0);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

/* A passthrough request's record: its result, with the NVMe status and
 * result dwords read where the API says they are valid, in the callback. */
struct nvme_req {
	struct req r;
	int status;
	uint64_t result;
};

static void nvme_req_cb(urio_loop *loop, int res, void *data)
{
	struct nvme_req *n = data;

	req_cb(loop, res, &n->r);
	n->status = urio_loop_nvme_status(loop);
	ck_assert_int_eq(urio_loop_nvme_result(loop, &n->result), 0);
}

START_LOOP_TEST(raw_command_past_the_end_returns_the_nvme_status, ROWS)
{
	struct urio_nvme_cmd cmd = { .size = sizeof(cmd) };
	struct urio_target_info info;
	struct nvme_req n = { 0 };
	urio_loop *loop;
	urio_target *ng;
	uint64_t slba;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	info = info_of(ng);
	buf = page_alloc(4096);
	slba = info.bytes / info.lba_size; /* one past the last LBA */
	cmd.opcode = 0x02;
	cmd.buf = buf;
	cmd.len = info.lba_size;
	cmd.cdw10 = (uint32_t)slba;
	cmd.cdw11 = (uint32_t)(slba >> 32);
	cmd.cdw12 = 0;
	ck_assert_int_gt(urio_nvme_io(ng, &cmd, 0, nvme_req_cb, &n), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	/* What the controller said, with do-not-retry: QEMU's checks the
	 * range (LBA Out of Range, SC 0x80); nvmet's block-device backend
	 * submits the bio and reports its failure (Internal Error, 0x06). */
	ck_assert_uint_eq(n.r.calls, 1);
	ck_assert_msg((n.status & 0x4000) && ((n.status & 0x7ff) == 0x80 ||
					      (n.status & 0x7ff) == 0x06),
		      "status 0x%x (%d)", n.status, n.r.res);
	ck_assert_int_eq(n.r.res, (n.status & 0xff) == 0x80 ? -ERANGE : -EIO);
	ck_assert_int_eq(urio_loop_nvme_status(loop), n.status);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

START_LOOP_TEST(inflight_cap_holds_on_the_passthrough_ring, ROWS)
{
	struct urio_target_opts to = { .size = sizeof(to), .inflight_cap = 8 };
	struct req r[8] = { 0 }, never = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ck_assert_int_eq(urio_target_open(loop, &ng, NG, O_RDWR, 0, &to), 0);
	buf = page_alloc(9 * 4096);
	read_blocks(ng, buf, 8, 0, 0, r);
	ck_assert_int_eq(
		urio_read(ng, buf + 8 * 4096, 4096, 0, 0, req_cb, &never),
		-EBUSY);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 8);
	ck_assert_reqs(r, 8, 4096);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

START_LOOP_TEST(destroy_with_passthrough_requests_in_flight, ROWS)
{
	enum { N = 400 };
	struct req r[N] = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	struct urio_nvme_ns ns;

	ON_ROW();
	ns = probe_ng();
	buf = page_alloc(N * 4096);
	/* plain, then polled (the kernel completes nothing by itself there:
	 * destroy must poll what is in flight out) */
	for (int polled = 0; polled < 2; polled++) {
		if (polled && !urio_nvme_iopoll_safe(&ns))
			break;
		memset(r, 0, sizeof(r));
		loop = loop_with(polled ? URIO_LOOP_IOPOLL : 0, 0);
		ng = open_ng(loop, NG);
		read_blocks(ng, buf, N, 0, URIO_F_WAIT, r);
		ck_assert_int_eq(urio_loop_destroy(loop), 0);
		/* each once: read, or cancelled */
		ck_assert_reqs_in(r, N, 4096, -ECANCELED);
	}
	free(buf);
}
END_TEST

START_LOOP_TEST(requests_past_mdts_split_and_complete_once, ROWS)
{
	struct urio_target_info info;
	struct req wr = { 0 }, rd = { 0 };
	urio_loop *loop;
	urio_target *ng;
	unsigned cmds;
	size_t len;
	char *w, *r;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	info = info_of(ng);
	/* Three commands per request under MDTS; one when the controller
	 * sets no limit (nvmet over TCP reports MDTS 0). */
	cmds = info.max_xfer ? 3 : 1;
	len = info.max_xfer ? (size_t)info.max_xfer * 5 / 2 / 4096 * 4096
			    : 1u << 20;
	w = page_alloc(len);
	r = page_alloc(len);
	fill_pattern(w, len, 21, 0);
	ck_assert_int_gt(urio_write(ng, w, len, 1 << 20, 0, req_cb, &wr), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(wr, (int)len);
	ck_assert_int_gt(urio_read(ng, r, len, 1 << 20, 0, req_cb, &rd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rd, (int)len);
	ck_assert(memcmp(w, r, len) == 0);
	/* a CQE per command */
	ck_assert_uint_eq(ring_submitted(loop, pt_ring(loop)), 2 * cmds);
	DESTROY_CLEAN(loop);
	free(w);
	free(r);
}
END_TEST

START_LOOP_TEST(block_device_switches_to_its_generic_sibling, ROWS)
{
	struct urio_target_info info;
	struct urio_target_opts no = { .size = sizeof(no),
				       .flags = URIO_TARGET_NO_PASSTHRU };
	urio_loop *loop;
	urio_target *t;

	ON_ROW();
	loop = loop_with(0, 0);
	open_ng(loop, BLK);
	ck_assert_int_eq(
		urio_target_open(loop, &t, BLK, O_RDWR | O_DIRECT, 0, &no), 0);
	info = info_of(t);
	ck_assert_uint_eq(info.passthru, 0);
	ck_assert_uint_eq(info.blockdev, 1);
	DESTROY_CLEAN(loop);
}
END_TEST

START_LOOP_TEST(flush_write_zeroes_and_trim_complete, ROWS)
{
	struct req wr = { 0 }, fl = { 0 }, wz = { 0 }, rd = { 0 };
	struct nvme_req tr = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf, *zero;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	buf = page_alloc(65536);
	zero = calloc(1, 65536);
	memset(buf, 0xab, 65536);
	ck_assert_int_gt(urio_write(ng, buf, 65536, 2 << 20, 0, req_cb, &wr),
			 0);
	ck_assert_int_gt(urio_fsync(ng, 0, req_cb, &fl), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(wr, 65536);
	ck_assert_req(fl, 0);
	ck_assert_int_gt(urio_write_zeroes(ng, 2 << 20, 65536, 0, req_cb, &wz),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(wz, 0);
	ck_assert_int_gt(urio_read(ng, buf, 65536, 2 << 20, 0, req_cb, &rd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rd, 65536);
	ck_assert(memcmp(buf, zero, 65536) == 0);
	ck_assert_int_gt(urio_trim(ng, 2 << 20, 65536, 0, nvme_req_cb, &tr), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(tr.r.calls == 1 && tr.r.res == 0, "trim: %d, status 0x%x",
		      tr.r.res, tr.status);
	DESTROY_CLEAN(loop);
	free(buf);
	free(zero);
}
END_TEST

/* Integrity under load: threads with a loop each, random mixed reads and
 * writes on disjoint regions of the namespace (tests/stress.c). */
START_LOOP_TEST(threads_with_a_loop_each_verify_every_byte, ROWS)
{
	char label[96];
	struct stress_opts o = { .oflags = O_RDWR,
				 .threads = 2,
				 .blocks = 256,
				 .qd = 16,
				 .bs = 4096,
				 .base = 8u << 20,
				 .ms = 2000,
				 .label = label };

	ON_ROW();
	o.path = NG;
	snprintf(label, sizeof(label), "passthrough integrity on %s", NG);
	stress_check(&o);
}
END_TEST

/* urio-bench (the static build, $URIO_BENCH, copied into the guest) on
 * the namespace: random writes at QD32, each block read back and checked
 * (--verify), with no error. */
START_LOOP_TEST(bench_writes_and_verifies_every_block, ROWS)
{
	char cmd[512], out[8192], *p;
	size_t n = 0;
	FILE *f;
	int st;

	ON_ROW();
	snprintf(cmd, sizeof(cmd),
		 "%s --engine passthru --qd 32 --runtime 2 --verify --rw "
		 "randwrite --json %s 2>&1",
		 getenv("URIO_BENCH"), NG);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while (n + 1 < sizeof(out) && fgets(out + n, (int)(sizeof(out) - n), f))
		n += strlen(out + n);
	st = pclose(f);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", cmd,
		      out);
	p = strstr(out, "\"ios\": ");
	ck_assert_msg(p && strtoull(p + 7, NULL, 10) > 0, "no I/O: %s", out);
	ck_assert_msg(strstr(out, "\"errors\": 0,") &&
			      strstr(out, "\"verify_errors\": 0,"),
		      "%s", out);
}
END_TEST

/* The short path counts each read once: in the loop and on the target, and
 * on the passthrough ring, not on ring 0; a read the kernel cannot map
 * fails alone. */
START_LOOP_TEST(short_path_counts_each_request_once_on_its_ring, ROWS)
{
	enum { N = 100 };
	struct urio_stats ts = { .size = sizeof(ts) };
	struct req r[N] = { 0 };
	struct nvme_req bad = { 0 };
	urio_loop *loop;
	urio_target *ng;
	char *buf;
	void *hole;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	buf = page_alloc(N * 4096);
	read_blocks(ng, buf, N, 0, 0, r);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), N);
	ck_assert_reqs(r, N, 4096);
	ck_assert_uint_eq(loop_submitted(loop), N);
	ck_assert_uint_eq(ring_submitted(loop, 0), 0);
	ck_assert_uint_eq(ring_submitted(loop, pt_ring(loop)), N);
	ck_assert_int_eq(urio_target_stats(ng, &ts), 0);
	ck_assert_uint_eq(ts.submitted, N);
	ck_assert_uint_eq(ts.completed, N);
	ck_assert_uint_eq(ts.inflight, 0);
	/* memory the kernel cannot pin: -EFAULT, no NVMe status */
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(hole != MAP_FAILED);
	ck_assert_int_gt(urio_read(ng, hole, 4096, 0, 0, nvme_req_cb, &bad), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(bad.r, -EFAULT);
	ck_assert_int_eq(bad.status, 0);
	DESTROY_CLEAN(loop);
	munmap(hole, 4096);
	free(buf);
}
END_TEST

/* ---- vectored I/O: one NVME_URING_CMD_IO_VEC command per request ---- */

static void fill_bytes(void *p, size_t len, unsigned seed)
{
	for (size_t k = 0; k < len; k++)
		((unsigned char *)p)[k] = (unsigned char)(k * 7 + seed);
}

START_LOOP_TEST(readv_and_writev_are_one_vectored_command_each, ROWS)
{
	enum { LEN = 2052 + 8192 + 2044 };
	struct req wr = { 0 }, rd = { 0 }, whole = { 0 };
	uint64_t off = 3 << 20, before;
	char *w = page_alloc(8192), *w2 = page_alloc(8192),
	     *r = page_alloc(LEN), *all = page_alloc(LEN);
	/* three pieces out of order and apart, two of them not whole LBAs
	 * (dword-aligned is what NVMe asks of each) */
	struct iovec wv[3] = { { w + 4096, 2052 },
			       { w2, 8192 },
			       { w + 4, 2044 } },
		     rv[2] = { { r + LEN / 2, LEN / 2 }, { r, LEN / 2 } };
	urio_loop *loop;
	urio_target *ng;
	unsigned pt;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	pt = pt_ring(loop);
	fill_bytes(wv[0].iov_base, wv[0].iov_len, 1);
	fill_bytes(wv[1].iov_base, wv[1].iov_len, 2);
	fill_bytes(wv[2].iov_base, wv[2].iov_len, 3);
	before = ring_submitted(loop, pt);
	ck_assert_int_gt(urio_writev(ng, wv, 3, off, 0, req_cb, &wr), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(wr, LEN);
	ck_assert_uint_eq(ring_submitted(loop, pt), before + 1);
	/* back in one plain read: the pieces in iovec order */
	ck_assert_int_gt(urio_read(ng, all, LEN, off, 0, req_cb, &whole), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(whole, LEN);
	ck_assert(memcmp(all, wv[0].iov_base, 2052) == 0);
	ck_assert(memcmp(all + 2052, wv[1].iov_base, 8192) == 0);
	ck_assert(memcmp(all + 2052 + 8192, wv[2].iov_base, 2044) == 0);
	/* and in a vectored read, scattered the other way round */
	ck_assert_int_gt(urio_readv(ng, rv, 2, off, 0, req_cb, &rd), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rd, LEN);
	ck_assert(memcmp(rv[0].iov_base, all, LEN / 2) == 0);
	ck_assert(memcmp(rv[1].iov_base, all + LEN / 2, LEN / 2) == 0);
	ck_assert_uint_eq(ring_submitted(loop, pt), before + 3);
	DESTROY_CLEAN(loop);
	free(w);
	free(w2);
	free(r);
	free(all);
}
END_TEST

START_LOOP_TEST(vectored_requests_are_checked_before_anything_is_queued, ROWS)
{
	struct urio_target_info info;
	struct req never = { 0 };
	struct iovec v[2];
	urio_loop *loop;
	urio_target *ng;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	info = info_of(ng);
	buf = page_alloc(info.max_xfer ? info.max_xfer + 8192 : 8192);
	v[0] = (struct iovec){ buf, 4096 };
	v[1] = (struct iovec){ buf + 4096, 4096 };
	ck_assert_int_eq(
		urio_readv(ng, v, 2, info.bytes - 4096, 0, req_cb, &never),
		-ERANGE);
	ck_assert_int_eq(urio_readv(ng, v, 2, 100, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_readv(ng, v, 0, 0, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_readv(ng, v, 1025, 0, 0, req_cb, &never),
			 -EINVAL);
	v[1].iov_len = 4094; /* not whole dwords */
	ck_assert_int_eq(urio_writev(ng, v, 2, 0, 0, req_cb, &never), -EINVAL);
	v[1].iov_len = 4; /* whole dwords, not a whole LBA in all */
	ck_assert_int_eq(urio_writev(ng, v, 2, 0, 0, req_cb, &never), -EINVAL);
	v[1] = (struct iovec){ buf + 4098, 4092 }; /* a misaligned base */
	ck_assert_int_eq(urio_writev(ng, v, 2, 0, 0, req_cb, &never), -EINVAL);
	if (info.max_xfer) {
		/* one command is never split: past MDTS is refused */
		v[1] = (struct iovec){ buf + 4096, info.max_xfer };
		ck_assert_int_eq(urio_readv(ng, v, 2, 0, 0, req_cb, &never),
				 -EINVAL);
		v[1].iov_len = info.max_xfer - 4096; /* MDTS exactly: fine */
		ck_assert_int_gt(urio_readv(ng, v, 2, 0, 0, req_cb, &never), 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
		ck_assert_req(never, (int)info.max_xfer);
		never.calls = 0;
	}
	ck_assert_uint_eq(loop_submitted(loop), info.max_xfer ? 1 : 0);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

/* URIO_F_WAIT inside a callback on a full loop: a vectored write and an
 * Identify wait in the backlog and go out later on the general path,
 * their commands (and cmd_op) kept. */
struct chain {
	urio_target *ng, *ctrl;
	struct iovec *wv;
	char *fillbuf;
	void *idbuf;
	struct req first, fill[5], vec, id;
	unsigned nfill;
	urio_id ret_vec, ret_id;
	uint64_t queued;
};

static void chain_cb(urio_loop *loop, int res, void *data)
{
	struct urio_stats st = { .size = sizeof(st) };
	struct chain *c = data;

	req_cb(loop, res, &c->first);
	/* whatever slots are free go to reads, until the loop (of 4) is full
	 * and refuses one */
	while (c->nfill < 5 &&
	       urio_read(c->ng, c->fillbuf + c->nfill * 4096, 4096, 0, 0,
			 req_cb, &c->fill[c->nfill]) > 0)
		c->nfill++;
	c->ret_vec = urio_writev(c->ng, c->wv, 2, 5 << 20, URIO_F_WAIT, req_cb,
				 &c->vec);
	c->ret_id = urio_nvme_identify(c->ctrl, URIO_NVME_CNS_CTRL, 0, c->idbuf,
				       URIO_F_WAIT, req_cb, &c->id);
	if (urio_loop_stats(loop, &st) == 0)
		c->queued = st.queued;
}

START_LOOP_TEST(vectored_and_admin_requests_wait_in_the_backlog_intact, ROWS)
{
	enum { CAP = 4 };
	struct urio_nvme_id_ctrl id = { .size = sizeof(id) };
	struct req r[CAP] = { 0 }, back = { 0 };
	char *w = page_alloc(8192), *rb = page_alloc(8192),
	     *bufs = page_alloc(CAP * 4096);
	struct iovec wv[2] = { { w + 4096, 4096 }, { w, 4096 } };
	struct chain c = { .wv = wv };
	urio_loop *loop;

	ON_ROW();
	loop = loop_opts(0, 0, CAP);
	c.ng = open_ng(loop, NG);
	c.ctrl = open_ctrl(loop);
	c.fillbuf = page_alloc((CAP + 1) * 4096);
	c.idbuf = page_alloc(URIO_NVME_IDENTIFY_BYTES);
	fill_bytes(w, 8192, 9);
	ck_assert_int_gt(urio_read(c.ng, bufs, 4096, 0, 0, chain_cb, &c), 0);
	for (int i = 1; i < CAP; i++)
		ck_assert_int_gt(urio_read(c.ng, bufs + i * 4096, 4096,
					   i * 4096ull, 0, req_cb, &r[i]),
				 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_req(c.first, 4096);
	ck_assert_reqs(r + 1, CAP - 1, 4096);
	ck_assert_uint_ge(c.nfill, 1); /* the slot the first read freed */
	ck_assert_uint_le(c.nfill, CAP);
	ck_assert_int_gt(c.ret_vec, 0);
	ck_assert_int_gt(c.ret_id, 0);
	ck_assert_uint_eq(c.queued, 2); /* both waited */
	ck_assert_reqs(c.fill, c.nfill, 4096);
	ck_assert_req(c.vec, 8192);
	ck_assert_req(c.id, 0);
	ck_assert_int_eq(urio_nvme_id_ctrl_decode(
				 c.idbuf, URIO_NVME_IDENTIFY_BYTES, &id),
			 0);
	ck_assert_uint_gt(strlen(id.mn), 0);
	ck_assert_int_gt(urio_read(c.ng, rb, 8192, 5 << 20, 0, req_cb, &back),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(back, 8192);
	ck_assert(memcmp(rb, w + 4096, 4096) == 0);
	ck_assert(memcmp(rb + 4096, w, 4096) == 0);
	DESTROY_CLEAN(loop);
	free(w);
	free(rb);
	free(bufs);
	free(c.fillbuf);
	free(c.idbuf);
}
END_TEST

/* ---- admin commands on the controller (/dev/nvmeX) ---- */

START_LOOP_TEST(controller_target_takes_admin_commands_only, ROWS)
{
	struct urio_nvme_admin a = { .size = sizeof(a), .opcode = 0x06 };
	struct {
		struct urio_nvme_admin a;
		uint64_t more;
	} newer = { .a = { .size = sizeof(newer), .opcode = 0x06 }, .more = 1 };
	struct urio_target_info ci, ni;
	struct req never = { 0 };
	urio_loop *loop;
	urio_target *ctrl, *ng;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ctrl = open_ctrl(loop);
	ci = info_of(ctrl);
	ni = info_of(ng);
	ck_assert_uint_eq(ci.controller, 1);
	ck_assert_uint_eq(ci.passthru, 0);
	ck_assert_uint_eq(ci.nsid, 0);
	ck_assert_uint_eq(ci.max_xfer, ni.max_xfer);
	buf = page_alloc(4096);
	/* no I/O on a controller */
	ck_assert_io_refused(ctrl, -EOPNOTSUPP);
	ck_assert_int_eq(urio_write_zeroes(ctrl, 0, 4096, 0, req_cb, &never),
			 -EOPNOTSUPP);
	ck_assert_int_eq(urio_trim(ctrl, 0, 4096, 0, req_cb, &never),
			 -EOPNOTSUPP);
	/* no admin command on a namespace */
	ck_assert_int_eq(urio_nvme_identify(ng, URIO_NVME_CNS_CTRL, 0, buf, 0,
					    req_cb, &never),
			 -EOPNOTSUPP);
	ck_assert_int_eq(urio_nvme_get_log(ng, URIO_NVME_LOG_SMART,
					   URIO_NVME_NSID_ALL, buf, 512, 0, 0,
					   req_cb, &never),
			 -EOPNOTSUPP);
	ck_assert_int_eq(urio_nvme_admin(ng, &a, 0, req_cb, &never),
			 -EOPNOTSUPP);
	/* bad input, before anything is queued */
	ck_assert_int_eq(urio_nvme_identify(ctrl, URIO_NVME_CNS_CTRL, 0, NULL,
					    0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(
		urio_nvme_identify(ctrl, 256, 0, buf, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(urio_nvme_identify(ctrl, 1, 0, buf, 0, NULL, NULL),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_identify(ctrl, 1, 0, buf, URIO_NVME_RAE,
					    req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log(ctrl, 256, URIO_NVME_NSID_ALL, buf,
					   512, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log(ctrl, 2, URIO_NVME_NSID_ALL, buf,
					   510, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log(ctrl, 2, URIO_NVME_NSID_ALL, buf,
					   512, 2, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_get_log(ctrl, 2, URIO_NVME_NSID_ALL, NULL,
					   512, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_admin(ctrl, NULL, 0, req_cb, &never),
			 -EINVAL);
	a.buf = buf; /* a buffer without a length */
	ck_assert_int_eq(urio_nvme_admin(ctrl, &a, 0, req_cb, &never), -EINVAL);
	a.size = sizeof(a) - 1;
	a.len = 4096;
	ck_assert_int_eq(urio_nvme_admin(ctrl, &a, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_nvme_admin(ctrl, &newer.a, 0, req_cb, &never),
			 -E2BIG);
	ck_assert_uint_eq(loop_submitted(loop), 0);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

/* The same command through the kernel's ioctl (nvme-cli's way), for
 * comparison: 0, the NVMe status, or -errno; the result dword in
 * ac->result. */
static int ioctl_admin(struct nvme_admin_cmd *ac)
{
	int fd = open(CTRL, O_RDWR), ret;

	ck_assert_msg(fd >= 0, "open %s: %s", CTRL, strerror(errno));
	ret = ioctl(fd, NVME_IOCTL_ADMIN_CMD, ac);
	if (ret < 0)
		ret = -errno;
	close(fd);
	return ret;
}

START_LOOP_TEST(identify_through_the_api_matches_the_device, ROWS)
{
	struct urio_nvme_id_ctrl id = { .size = sizeof(id) };
	struct urio_nvme_id_ns ns = { .size = sizeof(ns) };
	struct nvme_admin_cmd ac = { .opcode = 0x06,
				     .data_len = URIO_NVME_IDENTIFY_BYTES,
				     .cdw10 = URIO_NVME_CNS_CTRL };
	struct urio_target_info info;
	struct nvme_req c = { 0 }, n = { 0 };
	struct urio_nvme_ns probed;
	unsigned char *page = page_alloc(URIO_NVME_IDENTIFY_BYTES),
		      *npage = page_alloc(URIO_NVME_IDENTIFY_BYTES),
		      *want = page_alloc(URIO_NVME_IDENTIFY_BYTES);
	urio_loop *loop;
	urio_target *ctrl;

	ON_ROW();
	loop = loop_with(0, 0);
	info = info_of(open_ng(loop, NG));
	ctrl = open_ctrl(loop);
	ck_assert_int_gt(urio_nvme_identify(ctrl, URIO_NVME_CNS_CTRL, 0, page,
					    0, nvme_req_cb, &c),
			 0);
	ck_assert_int_gt(urio_nvme_identify(ctrl, URIO_NVME_CNS_NS, info.nsid,
					    npage, 0, nvme_req_cb, &n),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(c.r, 0);
	ck_assert_req(n.r, 0);
	ck_assert_int_eq(c.status, 0);
	/* byte for byte what nvme-cli's ioctl gets */
	ac.addr = (uintptr_t)want;
	ck_assert_int_eq(ioctl_admin(&ac), 0);
	ck_assert(memcmp(page, want, URIO_NVME_IDENTIFY_BYTES) == 0);
	ck_assert_int_eq(
		urio_nvme_id_ctrl_decode(page, URIO_NVME_IDENTIFY_BYTES, &id),
		0);
	fprintf(stderr,
		"%s: \"%s\" sn \"%s\" fw \"%s\", NVMe %u.%u, cmic %u, mdts %u, "
		"%s\n",
		CTRL, id.mn, id.sn, id.fr, id.ver >> 16, (id.ver >> 8) & 0xff,
		id.cmic, id.mdts, id.subnqn);
	ck_assert_uint_gt(strlen(id.mn), 0);
	ck_assert_uint_gt(strlen(id.sn), 0);
	ck_assert_uint_ge(id.nn, 1);
	ck_assert_uint_ge(id.ver, 0x10000);
	ck_assert_uint_eq(id.max_xfer, info.max_xfer); /* what urio uses */
	ck_assert_uint_gt(strlen(id.subnqn), 0);
	/* a multipath head only where the controller says it can be one */
	probed = probe_ng();
	ck_assert(!probed.mpath_head || (id.cmic & 2));
	ck_assert_int_eq(
		urio_nvme_id_ns_decode(npage, URIO_NVME_IDENTIFY_BYTES, &ns),
		0);
	ck_assert_uint_eq(ns.lba_size, info.lba_size);
	ck_assert_uint_eq(ns.nsze * ns.lba_size, info.bytes);
	ck_assert_uint_le(ns.ncap, ns.nsze);
	ck_assert_uint_le(ns.format, ns.nlbaf);
	DESTROY_CLEAN(loop);
	free(page);
	free(npage);
	free(want);
}
END_TEST

static struct urio_nvme_smart smart_now(urio_loop *loop, urio_target *ctrl)
{
	struct urio_nvme_smart s = { .size = sizeof(s) };
	unsigned char *page = page_alloc(URIO_NVME_SMART_BYTES);
	struct nvme_req r = { 0 };

	ck_assert_int_gt(urio_nvme_get_log(ctrl, URIO_NVME_LOG_SMART,
					   URIO_NVME_NSID_ALL, page,
					   URIO_NVME_SMART_BYTES, 0, 0,
					   nvme_req_cb, &r),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r.r, 0);
	ck_assert_int_eq(
		urio_nvme_smart_decode(page, URIO_NVME_SMART_BYTES, &s), 0);
	free(page);
	return s;
}

START_LOOP_TEST(smart_log_through_the_api_counts_the_reads_we_make, ROWS)
{
	enum { N = 50 };
	struct urio_nvme_smart a, b;
	struct req r[N] = { 0 };
	urio_loop *loop;
	urio_target *ng, *ctrl;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ctrl = open_ctrl(loop);
	a = smart_now(loop, ctrl);
	buf = page_alloc(N * 4096);
	read_blocks(ng, buf, N, 1 << 20, URIO_F_WAIT, r);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), N);
	ck_assert_reqs(r, N, 4096);
	b = smart_now(loop, ctrl);
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
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

START_LOOP_TEST(error_log_through_the_api_reads_whole_entries, ROWS)
{
	enum { ENTRIES = 4 };
	unsigned char *page = page_alloc(ENTRIES * URIO_NVME_ERROR_BYTES);
	struct nvme_req r = { 0 };
	urio_loop *loop;
	urio_target *ctrl;

	ON_ROW();
	loop = loop_with(0, 0);
	ctrl = open_ctrl(loop);
	ck_assert_int_gt(urio_nvme_get_log(ctrl, URIO_NVME_LOG_ERROR,
					   URIO_NVME_NSID_ALL, page,
					   ENTRIES * URIO_NVME_ERROR_BYTES, 0,
					   URIO_NVME_RAE, nvme_req_cb, &r),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r.r, 0);
	/* The controller wrote at least the first entry (QEMU 7.2 writes
	 * that one only and leaves the rest of the buffer as it was); an
	 * entry that counts an error names its status. */
	for (unsigned i = 0; i < ENTRIES; i++) {
		struct urio_nvme_error_entry e = { .size = sizeof(e) };

		ck_assert_int_eq(
			urio_nvme_error_decode(page + i * URIO_NVME_ERROR_BYTES,
					       URIO_NVME_ERROR_BYTES, &e),
			0);
		if (e.error_count == 0xeeeeeeeeeeeeeeeeull) {
			ck_assert_uint_gt(i, 0);
			continue;
		}
		if (e.error_count)
			ck_assert_uint_ne(e.status_field, 0);
	}
	DESTROY_CLEAN(loop);
	free(page);
}
END_TEST

/* What the controller answers reaches the callback: a refused command's
 * status (as an errno, and itself), a command's result dword (Get
 * Features, Number of Queues: the value nvme-cli's ioctl reads). */
START_LOOP_TEST(admin_status_and_result_reach_the_callback, ROWS)
{
	struct urio_nvme_admin feat = { .size = sizeof(feat),
					.opcode = 0x0a,	 /* Get Features */
					.cdw10 = 0x07 }; /* Number of Queues */
	struct nvme_admin_cmd ac = { .opcode = 0x0a, .cdw10 = 0x07 };
	struct nvme_req bad = { 0 }, q = { 0 };
	void *page = page_alloc(URIO_NVME_IDENTIFY_BYTES);
	uint64_t outside;
	urio_loop *loop;
	urio_target *ctrl;

	ON_ROW();
	loop = loop_with(0, 0);
	ctrl = open_ctrl(loop);
	/* a reserved CNS: Invalid Field in Command, do not retry */
	ck_assert_int_gt(
		urio_nvme_identify(ctrl, 0x7f, 0, page, 0, nvme_req_cb, &bad),
		0);
	ck_assert_int_gt(urio_nvme_admin(ctrl, &feat, 0, nvme_req_cb, &q), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_msg(bad.r.calls == 1 && (bad.status & 0x7ff) == 0x002 &&
			      (bad.status & 0x4000),
		      "identify cns 0x7f: %u calls, status 0x%x (%d)",
		      bad.r.calls, bad.status, bad.r.res);
	ck_assert_int_eq(bad.r.res, -EINVAL);
	ck_assert_req(q.r, 0);
	ck_assert_int_eq(q.status, 0);
	ck_assert_int_eq(ioctl_admin(&ac), 0);
	fprintf(stderr, "%s: Number of Queues 0x%08x (ioctl 0x%08x)\n", CTRL,
		(unsigned)q.result, ac.result);
	ck_assert_uint_eq(q.result, ac.result);
	/* NSQA and NCQA: allocated in pairs by both controllers here */
	ck_assert_uint_eq(q.result & 0xffff, q.result >> 16);
	/* outside a callback there is none */
	ck_assert_int_eq(urio_loop_nvme_result(loop, &outside), 0);
	ck_assert_uint_eq(outside, 0);
	ck_assert_int_eq(urio_loop_nvme_result(loop, NULL), -EINVAL);
	DESTROY_CLEAN(loop);
	free(page);
}
END_TEST

/* ---- a polled wait ends for a signal, and only for one ---- */

static void pin_to_cpu0(void)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	ck_assert_int_eq(
		pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
}

struct poster {
	urio_loop *loop;
	int stop; /* atomic */
	unsigned posted, ran;
	int err;
};

static void count_post(urio_loop *loop, int res, void *data)
{
	(void)loop;
	((struct poster *)data)->ran += res == 0;
}

/* Posts every 30 us from the loop's own CPU: each wake-up of this thread
 * takes the CPU from the loop as it waits. */
static void *post_often(void *arg)
{
	struct poster *p = arg;
	struct timespec ts = { 0, 30000 };
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(0, &one);
	if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
		p->err = -EINVAL;
	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE) && !p->err) {
		int ret = urio_loop_post(p->loop, count_post, p);

		if (ret == 0)
			p->posted++;
		else
			p->err = ret;
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Rounds of four reads on the passthrough ring alone, each run to its
 * end, until the first run that ended with -EINTR if until_eintr; how many
 * runs ended so. */
static unsigned read_rounds(urio_loop *loop, urio_target *ng, char *buf,
			    unsigned rounds, bool until_eintr)
{
	unsigned eintr = 0;

	for (unsigned i = 0; i < rounds && !(until_eintr && eintr); i++) {
		struct req r[4] = { 0 };
		unsigned done = 0;

		read_blocks(ng, buf, 4, (i % 256) * 4 * 4096ull, 0, r);
		while (done < 4) {
			int ret = urio_loop_run(loop, URIO_RUN_DEFAULT);

			if (ret == -EINTR) {
				eintr++;
				ret = 0;
			}
			ck_assert_msg(ret >= 0, "round %u: %s", i,
				      urio_strerror(ret));
			done = 0;
			for (unsigned k = 0; k < 4; k++)
				done += r[k].calls;
		}
		ck_assert_reqs(r, 4, 4096);
	}
	return eintr;
}

/* A polled ring's wait (the kernel polls the device in io_uring_enter)
 * also stops when its CPU is wanted elsewhere, with nothing to take, and
 * a call that submitted answers with its count: urio took that for a
 * signal, and runs ended with -EINTR that no signal sent (hundreds in
 * 6,000 reads with a thread posting beside the loop on its CPU).  Real
 * signals still end runs, and nothing is lost either way.  The loop never
 * spins in user space (a signal there ends no wait).  Without IOPOLL
 * (NVMe/TCP), no spurious -EINTR on the plain passthrough ring either;
 * its reads complete within the submitting call here (the target is in
 * the same guest), so no wait is there for a signal to end. */
START_LOOP_TEST(a_polled_wait_reports_no_signal_that_was_not_sent, ROWS)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	struct itimerval every = { { 0, 300 }, { 0, 300 } }, off = { 0 };
	struct poster p = { 0 };
	struct urio_nvme_ns ns;
	cpu_set_t was;
	urio_loop *loop;
	urio_target *ng;
	pthread_t th;
	bool polled;
	char *buf;

	ON_ROW();
	ck_assert_int_eq(
		pthread_getaffinity_np(pthread_self(), sizeof(was), &was), 0);
	ns = probe_ng();
	polled = urio_nvme_iopoll_safe(&ns);
	loop = loop_with(URIO_LOOP_SLEEP | (polled ? URIO_LOOP_IOPOLL : 0), 0);
	ng = open_ng(loop, NG);
	buf = page_alloc(4 * 4096);
	pin_to_cpu0();
	p.loop = loop;
	ck_assert_int_eq(pthread_create(&th, NULL, post_often, &p), 0);
	ck_assert_uint_eq(read_rounds(loop, ng, buf, 1500, false), 0);
	__atomic_store_n(&p.stop, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(p.err, 0);
	ck_assert_uint_gt(p.posted, 0);
	while (p.ran < p.posted)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_uint_eq(p.ran, p.posted);

	/* SIGALRM every 300 us, no SA_RESTART: runs end with -EINTR. */
	if (polled) {
		sigemptyset(&sa.sa_mask);
		ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
		ck_assert_int_eq(setitimer(ITIMER_REAL, &every, NULL), 0);
		ck_assert_uint_gt(read_rounds(loop, ng, buf, 5000, true), 0);
		ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
		ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
	}
	ck_assert_int_eq(
		pthread_setaffinity_np(pthread_self(), sizeof(was), &was), 0);
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

/* ---- cancelling: NVMe commands run to their end ---- */

/* The kernel has no abort for an NVMe command it was given: a cancel
 * answers -EALREADY and the command completes with its data; one split
 * past MDTS sends no more parts and ends with -ECANCELED (found).  Before,
 * the cancel went to the kernel, which answered -ENOENT, as for a request
 * long gone.  A pipe read on the plain ring, in the record a passthrough
 * command had (the short path keeps the rest of a record as it was), is
 * still cancelled. */
START_LOOP_TEST(nvme_commands_run_to_their_end_and_others_still_cancel, ROWS)
{
	struct req rd = { 0 }, cx = { 0 }, pr = { 0 };
	struct urio_target_info info;
	struct iovec iov;
	urio_target *ng, *pipe_t;
	urio_loop *loop;
	urio_id id, vid;
	int pfd[2];
	size_t big;
	char *buf;

	ON_ROW();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	info = info_of(ng);
	/* a split request of more parts than go out at once (32) */
	big = info.max_xfer ? (size_t)info.max_xfer * 48 : 8192;
	buf = page_alloc(big);
	/* a vectored read (the general path) leaves its record */
	iov = (struct iovec){ buf, 4096 };
	vid = urio_readv(ng, &iov, 1, 0, 0, req_cb, &rd);
	ck_assert_int_gt(vid, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(rd, 4096);
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(urio_target_adopt(loop, &pipe_t, pfd[0], NULL), 0);
	id = urio_read(pipe_t, buf, 8, 0, 0, req_cb, &pr);
	ck_assert_int_gt(id, 0);
	ck_assert_msg((id & 0xffffffff) == (vid & 0xffffffff),
		      "the read has another record: the case tests nothing");
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cx), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(cx, 0);
	ck_assert_req(pr, -ECANCELED);

	/* a whole command, on the short path */
	memset(&rd, 0, sizeof(rd));
	memset(&cx, 0, sizeof(cx));
	id = urio_read(ng, buf, 4096, 8192, 0, req_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cx), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(rd, 4096);
	ck_assert_req(cx, -EALREADY);

	/* one split past MDTS into 48 commands, 32 out at first (nvmet over
	 * TCP sets no MDTS: nothing to split) */
	if (info.max_xfer) {
		memset(&rd, 0, sizeof(rd));
		memset(&cx, 0, sizeof(cx));
		id = urio_read(ng, buf, big, 0, 0, req_cb, &rd);
		ck_assert_int_gt(id, 0);
		ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cx), 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
		ck_assert_req(rd, -ECANCELED);
		ck_assert_req(cx, 0);
	}
	ck_assert_int_eq(urio_target_close(pipe_t), 0);
	DESTROY_CLEAN(loop);
	close(pfd[1]);
	free(buf);
}
END_TEST

/* ---- a polled loop behind the caller's own epoll ---- */

/* A polled ring's completions come only when the loop polls, and nothing
 * signals the loop's fd for them: a server waiting on urio_loop_fd() after
 * urio_loop_submit() waited for ever (2 s here, each time).  While polled
 * requests are in flight the fd now stays readable; once they are done, it
 * is quiet again.  A namespace that cannot be polled (NVMe/TCP) runs the
 * same on a plain loop, whose fd the kernel signals. */
START_LOOP_TEST(a_polled_loop_keeps_its_fd_readable_while_it_must_poll, ROWS)
{
	struct urio_nvme_ns ns;
	urio_loop *loop;
	urio_target *ng;
	struct pollfd pfd;
	char *buf;

	ON_ROW();
	ns = probe_ng();
	loop = loop_with(urio_nvme_iopoll_safe(&ns) ? URIO_LOOP_IOPOLL : 0, 0);
	ng = open_ng(loop, NG);
	buf = page_alloc(4096);
	pfd = (struct pollfd){ .fd = urio_loop_fd(loop), .events = POLLIN };
	ck_assert_int_ge(pfd.fd, 0);
	for (int i = 0; i < 20; i++) {
		struct req r = { 0 };
		int spins = 0;

		ck_assert_int_gt(
			urio_read(ng, buf, 4096, i * 4096ull, 0, req_cb, &r),
			0);
		ck_assert_int_eq(urio_loop_submit(loop), 0);
		while (!r.calls) {
			ck_assert_msg(poll(&pfd, 1, 1000) == 1,
				      "read %d: the fd stayed quiet", i);
			ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT),
					 0);
			spins++;
		}
		ck_assert_req(r, 4096);
		ck_assert_int_gt(spins, 0);
		/* nothing in flight: quiet */
		ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	}
	DESTROY_CLEAN(loop);
	free(buf);
}
END_TEST

/* ---- an unprivileged user, a libaio loop ---- */

struct unpriv {
	uint64_t memlock; /* 0: the loop runs on libaio */
};

/* Reads 16 blocks through t, each 4096 bytes back. */
static void read_16(urio_loop *loop, urio_target *t)
{
	struct req r[16] = { 0 };
	char *buf = page_alloc(16 * 4096);

	for (unsigned i = 0; i < 16; i++)
		REQUIRE(urio_read(t, buf + i * 4096, 4096, i * 4096ull, 0,
				  req_cb, &r[i]) > 0,
			"read %u refused", i);
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) == 16, "run");
	for (unsigned i = 0; i < 16; i++)
		REQUIRE(r[i].calls == 1 && r[i].res == 4096, "read %u: %d", i,
			r[i].res);
	free(buf);
}

static void as_nobody(void *arg)
{
	const struct unpriv *u = arg;
	struct urio_loop_opts o = quiet_opts();
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *loop;
	urio_target *t;
	int ret;

	REQUIRE(fault_drop_to(65534, u->memlock) == 0, "drop");
	o.backend = u->memlock ? URIO_BACKEND_URING : URIO_BACKEND_AIO;
	REQUIRE(urio_loop_create(&loop, &o) == 0, "loop");
	/* The namespace: passthrough where this kernel lets a user identify
	 * it and the loop has io_uring; else refused, and why. */
	ret = urio_target_open(loop, &t, NG, O_RDWR, 0, NULL);
	REQUIRE(ret == (u->memlock ? 0 : -EOPNOTSUPP) || ret == -EACCES ||
			ret == -EPERM,
		"%s loop, %s: %d", u->memlock ? "io_uring" : "libaio", NG, ret);
	if (ret == 0) {
		REQUIRE(urio_target_info(t, &info) == 0 && info.passthru,
			"not passthrough");
		read_16(loop, t);
		REQUIRE(urio_target_close(t) == 0, "close");
	}
	/* Its block device: passthrough then, else direct block I/O. */
	REQUIRE(urio_target_open(loop, &t, BLK, O_RDWR, 0, NULL) == 0, "%s",
		BLK);
	read_16(loop, t);
	REQUIRE(urio_target_close(t) == 0, "close");
	REQUIRE(urio_loop_destroy(loop) == 0, "destroy");
}

/* A user without CAP_SYS_ADMIN (and a 64 KiB RLIMIT_MEMLOCK; or none at
 * all, on libaio) with the devices open to it.  On 6.1 the kernel refuses
 * such a user Identify: urio took the namespace's char device for a plain
 * file then, and every read failed with -EINVAL.  Now that open says
 * -EACCES, and a block device stays one (O_DIRECT).  On a libaio loop a
 * namespace is -EOPNOTSUPP, its block device direct block I/O. */
START_LOOP_TEST(a_user_gets_the_namespace_or_a_clear_refusal, ROWS)
{
	struct unpriv u[] = { { 64 * 1024 }, { 0 } };

	ON_ROW();
	if (geteuid() != 0)
		SKIP("needs root to drop to another user");
	ck_assert_int_eq(chmod(NG, 0666), 0);
	ck_assert_int_eq(chmod(BLK, 0666), 0);
	for (unsigned i = 0; i < 2; i++)
		in_child(as_nobody, &u[i]);
	ck_assert_int_eq(chmod(NG, 0600), 0);
	ck_assert_int_eq(chmod(BLK, 0660), 0);
}
END_TEST
