/* SPDX-License-Identifier: MIT */
/* test_nvme_vm.c - NVMe passthrough on a real (emulated) controller: run
 * inside the QEMU guest of tools/nvme-vm (one boot for the whole suite).
 * Outside a guest with /dev/ng0n1 every case skips, saying so. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NG  "/dev/ng0n1"
#define BLK "/dev/nvme0n1"

static bool have_device(void)
{
	struct stat st;

	return stat(NG, &st) == 0 && S_ISCHR(st.st_mode);
}

#define NEED_DEVICE()                                               \
	do {                                                        \
		if (!have_device())                                 \
			SKIP("no " NG ": run me in tools/nvme-vm"); \
	} while (0)

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

	NEED_DEVICE();
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

START_TEST(write_read_back_with_iopoll)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	urio_loop *loop;

	NEED_DEVICE();
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

	NEED_DEVICE();
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

	NEED_DEVICE();
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

START_TEST(raw_command_past_the_end_returns_the_nvme_status)
{
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_nvme_cmd cmd = { .size = sizeof(cmd) };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *ng;
	uint64_t slba;
	char *buf;

	NEED_DEVICE();
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
	ck_assert_int_gt(urio_nvme_io(ng, &cmd, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, -ERANGE);
	/* LBA out of range (SC 0x80), do not retry */
	ck_assert_int_eq(urio_loop_nvme_status(loop) & 0xff, 0x80);
	ck_assert_int_eq(urio_loop_nvme_status(loop) & 0x4000, 0x4000);
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

	NEED_DEVICE();
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

	NEED_DEVICE();
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
	size_t len;
	char *w, *r;

	NEED_DEVICE();
	loop = loop_with(0, 0);
	ng = open_ng(loop, NG);
	ck_assert_int_eq(urio_target_info(ng, &info), 0);
	ck_assert_uint_gt(info.max_xfer, 0);
	len = (size_t)info.max_xfer * 5 / 2 / 4096 * 4096; /* three commands */
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
	ck_assert_uint_eq(rs.submitted, 6); /* CQEs: 3 per request */
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

	NEED_DEVICE();
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

	NEED_DEVICE();
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
 * writes on disjoint regions of the namespace, one request per block at a
 * time, every read checked against the block's last version. */
#define ST_BLOCKS 256
#define ST_QD	  16

struct st_worker;

struct st_op {
	struct st_worker *w;
	uint32_t block, version;
	bool write;
	char *buf;
};

struct st_worker {
	unsigned idx;
	uint32_t version[ST_BLOCKS];
	bool busy[ST_BLOCKS];
	uint64_t rng, deadline_ms, reads, writes, mismatches, errors, accepted,
		callbacks;
	urio_loop *loop;
	urio_target *t;
	struct st_op ops[ST_QD];
};

static uint64_t st_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t st_off(const struct st_worker *w, uint32_t b)
{
	return ((uint64_t)w->idx * ST_BLOCKS + b) * 4096 + (8u << 20);
}

static void st_issue(struct st_op *o);

static void st_done(urio_loop *loop, int res, void *data)
{
	struct st_op *o = data;
	struct st_worker *w = o->w;

	(void)loop;
	w->callbacks++;
	w->busy[o->block] = false;
	if (res != 4096)
		w->errors++;
	else if (o->write)
		w->version[o->block] = o->version, w->writes++;
	else if (w->reads++,
		 !check_pattern(o->buf, 4096,
				(uint64_t)w->idx << 40 | o->version, o->block))
		w->mismatches++;
	if (st_now_ms() < w->deadline_ms)
		st_issue(o);
}

static void st_issue(struct st_op *o)
{
	struct st_worker *w = o->w;
	urio_id id;

	do {
		w->rng ^= w->rng << 13;
		w->rng ^= w->rng >> 7;
		w->rng ^= w->rng << 17;
		o->block = (uint32_t)(w->rng % ST_BLOCKS);
	} while (w->busy[o->block]);
	w->busy[o->block] = true;
	o->write = (w->rng >> 20) & 1;
	o->version = w->version[o->block] + o->write;
	if (o->write)
		fill_pattern(o->buf, 4096, (uint64_t)w->idx << 40 | o->version,
			     o->block);
	id = o->write ? urio_write(w->t, o->buf, 4096, st_off(w, o->block), 0,
				   st_done, o)
		      : urio_read(w->t, o->buf, 4096, st_off(w, o->block), 0,
				  st_done, o);
	if (id > 0)
		w->accepted++;
	else
		w->errors++;
}

static void *st_run(void *arg)
{
	struct st_worker *w = arg;
	char *bufs = NULL;

	w->loop = loop_with(0, 0);
	if (urio_target_open(w->loop, &w->t, NG, O_RDWR, 0, NULL) < 0 ||
	    posix_memalign((void **)&bufs, 4096, ST_QD * 4096)) {
		w->errors++;
		return NULL;
	}
	/* version 0 of every block first */
	for (uint32_t b = 0; b < ST_BLOCKS; b++) {
		struct tally t = { 0 };

		fill_pattern(bufs, 4096, (uint64_t)w->idx << 40, b);
		urio_write(w->t, bufs, 4096, st_off(w, b), 0, tally_cb, &t);
		urio_loop_run(w->loop, URIO_RUN_DEFAULT);
		if (t.last != 4096)
			w->errors++;
	}
	for (unsigned i = 0; i < ST_QD; i++) {
		w->ops[i] = (struct st_op){ .w = w, .buf = bufs + i * 4096 };
		st_issue(&w->ops[i]);
	}
	urio_loop_run(w->loop, URIO_RUN_DEFAULT);
	urio_loop_destroy(w->loop);
	free(bufs);
	return NULL;
}

START_TEST(threads_with_a_loop_each_verify_every_byte)
{
	struct st_worker w[2];
	pthread_t th[2];

	NEED_DEVICE();
	memset(w, 0, sizeof(w));
	for (unsigned i = 0; i < 2; i++) {
		w[i].idx = i;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		w[i].deadline_ms = st_now_ms() + 2000;
		pthread_create(&th[i], NULL, st_run, &w[i]);
	}
	for (unsigned i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_eq(w[i].errors, 0);
		ck_assert_uint_eq(w[i].mismatches, 0);
		ck_assert_uint_eq(w[i].callbacks, w[i].accepted);
		ck_assert_uint_gt(w[i].reads, 0);
		ck_assert_uint_gt(w[i].writes, 0);
		fprintf(stderr,
			"passthrough integrity, thread %u: %llu reads, %llu "
			"writes, 0 mismatches\n",
			i, (unsigned long long)w[i].reads,
			(unsigned long long)w[i].writes);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("nvme_vm");
	TCase *tc = tcase_create("passthru");

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

URIO_TEST_MAIN(suite)
