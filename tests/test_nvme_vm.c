/* SPDX-License-Identifier: MIT */
/* test_nvme_vm.c - NVMe passthrough on a real (emulated) controller: run
 * inside the QEMU guest of tools/nvme-vm (one boot for the whole suite).
 * The namespace is $URIO_NVME_DEV; by default /dev/ng0n1 (QEMU's PCIe
 * controller) and then, when the guest has one (NVME_VM_TCP=1), the NVMe
 * over TCP namespace $NVME_VM_TCP_NG: the same cases on both transports.
 * A device that is missing skips the suite (exit 77), or fails it inside
 * the guest, where the harness promised the device. */
#include "helpers.h"
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *NG; /* the namespace's generic char device */
static char BLK[64];   /* its block device */

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

/* Polling a multipath head's generic device (/dev/ngXnY of an NVMe-oF or
 * multi-controller subsystem) oopses kernels before 6.3 in bio_poll (seen
 * on Debian's 6.1.0-56: a GPF, then the task hangs in io_uring teardown);
 * upstream's "blk-mq: directly poll requests" (6.3) fixed it. */
static bool polling_head_crashes_kernel(void)
{
	char link[PATH_MAX], sys[64];
	struct utsname u;
	struct stat st;
	unsigned major = 0, minor = 0;
	ssize_t n;

	if (stat(NG, &st) != 0)
		return false;
	snprintf(sys, sizeof(sys), "/sys/dev/char/%u:%u", major(st.st_rdev),
		 minor(st.st_rdev));
	n = readlink(sys, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	if (!strstr(link, "/nvme-subsystem/") || uname(&u) != 0 ||
	    sscanf(u.release, "%u.%u", &major, &minor) != 2)
		return false;
	return major < 6 || (major == 6 && minor < 3);
}

START_TEST(write_read_back_with_iopoll)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	urio_loop *loop;

	if (polling_head_crashes_kernel())
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
	struct stress_opts o = { .path = NG,
				 .threads = 2,
				 .blocks = 256,
				 .qd = 16,
				 .ms = 2000,
				 .base = 8u << 20 };
	struct stress_result r[2];
	char why[256];

	ck_assert_int_eq(stress_run(&o, r), 0);
	for (unsigned i = 0; i < 2; i++) {
		const char *f = stress_fault(&r[i], i, why, sizeof(why));

		ck_assert_msg(!f, "%s on %s", f, NG);
		fprintf(stderr,
			"passthrough integrity on %s, thread %u: %llu reads, "
			"%llu writes, 0 mismatches, every callback once\n",
			NG, i, (unsigned long long)r[i].reads,
			(unsigned long long)r[i].writes);
	}
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
