/* SPDX-License-Identifier: MIT */
/* test_io_integrity.c - bytes written through urio read back the same, on
 * tmpfs and on disk, buffered and O_DIRECT; every op completes once with
 * the result the kernel gave. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BS	4096
#define NBLOCKS 10000
#define SPACE	12000 /* blocks in the file; NBLOCKS distinct ones are used */

/* Writes NBLOCKS distinct random blocks, reads them back, compares. */
static void roundtrip(const char *dir, bool direct)
{
	char path[256];
	uint32_t *blocks = malloc(SPACE * sizeof(*blocks));
	struct req *w = calloc(NBLOCKS, sizeof(*w)),
		   *r = calloc(NBLOCKS, sizeof(*r));
	char *wbuf, *rbuf;
	urio_loop *loop = new_loop(128, 1, 0);
	urio_target *t;
	int ret, oflags = O_RDWR | (direct ? O_DIRECT : 0);
	unsigned bad = 0;

	make_path(dir, path, sizeof(path));
	ret = urio_target_open(loop, &t, path, oflags, 0, NULL);
	ck_assert_msg(ret == 0, "open %s: %s", path, urio_strerror(ret));
	ck_assert(posix_memalign((void **)&wbuf, 4096, (size_t)NBLOCKS * BS) ==
		  0);
	ck_assert(posix_memalign((void **)&rbuf, 4096, (size_t)NBLOCKS * BS) ==
		  0);
	for (uint32_t i = 0; i < SPACE; i++)
		blocks[i] = i;
	srand(42);
	for (uint32_t i = SPACE - 1; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), tmp = blocks[i];

		blocks[i] = blocks[j];
		blocks[j] = tmp;
	}
	for (uint32_t i = 0; i < NBLOCKS; i++) {
		fill_pattern(wbuf + (size_t)i * BS, BS, 7, blocks[i]);
		ret = (int)urio_write(t, wbuf + (size_t)i * BS, BS,
				      (uint64_t)blocks[i] * BS, URIO_F_WAIT,
				      req_cb, &w[i]);
		ck_assert_msg(ret > 0, "write %u: %s", i, urio_strerror(ret));
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(w, NBLOCKS, BS);
	memset(rbuf, 0, (size_t)NBLOCKS * BS);
	for (uint32_t i = 0; i < NBLOCKS; i++) {
		ret = (int)urio_read(t, rbuf + (size_t)i * BS, BS,
				     (uint64_t)blocks[i] * BS, URIO_F_WAIT,
				     req_cb, &r[i]);
		ck_assert_msg(ret > 0, "read %u: %s", i, urio_strerror(ret));
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(r, NBLOCKS, BS);
	for (uint32_t i = 0; i < NBLOCKS; i++)
		if (!check_pattern(rbuf + (size_t)i * BS, BS, 7, blocks[i]))
			bad++;
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(urio_target_close(t), 0);
	DESTROY_CLEAN(loop);
	ck_assert_reqs(w, NBLOCKS, BS);
	ck_assert_reqs(r, NBLOCKS, BS);
	unlink(path);
	free(wbuf);
	free(rbuf);
	free(w);
	free(r);
	free(blocks);
}

START_TEST(roundtrip_10000_blocks_tmpfs_buffered)
{
	roundtrip(tmpfs_dir(), false);
}
END_TEST

START_TEST(roundtrip_10000_blocks_tmpfs_direct)
{
	if (!dir_takes_direct(tmpfs_dir()))
		SKIP("tmpfs takes O_DIRECT only from Linux 6.6 on");
	roundtrip(tmpfs_dir(), true);
}
END_TEST

START_TEST(roundtrip_10000_blocks_disk_buffered)
{
	roundtrip(disk_dir(), false);
}
END_TEST

START_TEST(roundtrip_10000_blocks_disk_direct)
{
	if (!dir_takes_direct(disk_dir()))
		SKIP("%s does not take O_DIRECT: set URIO_TEST_DISK_DIR",
		     disk_dir());
	roundtrip(disk_dir(), true);
}
END_TEST

START_TEST(readv_writev_scatter_and_gather)
{
	char path[256], a[3000], b[5000], c[3000], d[5000];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rv[2] = { { c, sizeof(c) }, { d, sizeof(d) } };
	struct req w = { 0 }, r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDWR, 0, NULL), 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	ck_assert_int_gt(urio_writev(t, wv, 2, 100, 0, req_cb, &w), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(w, 8000);
	ck_assert_int_gt(urio_readv(t, rv, 2, 100, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 8000);
	ck_assert(memcmp(a, c, sizeof(a)) == 0);
	ck_assert(memcmp(b, d, sizeof(b)) == 0);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

START_TEST(fsync_and_fdatasync_complete_with_zero)
{
	char path[256], buf[4096] = { 1 };
	struct req w = { 0 }, s[2] = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDWR, 0, NULL), 0);
	ck_assert_int_gt(urio_write(t, buf, sizeof(buf), 0, 0, req_cb, &w), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(w, 4096);
	ck_assert_int_gt(urio_fsync(t, 0, req_cb, &s[0]), 0);
	ck_assert_int_gt(urio_fdatasync(t, 0, req_cb, &s[1]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_reqs(s, 2, 0);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

START_TEST(read_past_end_returns_short_count)
{
	char path[256], a[8192], b[8192];
	struct req r[2] = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "0123456789", 10, 0), 10);
	close(fd);
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDONLY, 0, NULL),
			 0);
	ck_assert_int_gt(urio_read(t, a, sizeof(a), 4, 0, req_cb, &r[0]), 0);
	ck_assert_int_gt(urio_read(t, b, sizeof(b), 100, 0, req_cb, &r[1]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(r[0], 6);
	ck_assert_mem_eq(a, "456789", 6);
	ck_assert_req(r[1], 0);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

START_TEST(write_on_read_only_target_fails_with_ebadf)
{
	char path[256], buf[512] = { 0 };
	struct req w = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDONLY, 0, NULL),
			 0);
	ck_assert_int_gt(urio_write(t, buf, sizeof(buf), 0, 0, req_cb, &w), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(w, -EBADF);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

START_TEST(nop_completes_with_zero)
{
	struct req n[5] = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);

	for (int i = 0; i < 5; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &n[i]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 5);
	ck_assert_reqs(n, 5, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(direct_target_reports_its_alignment)
{
	char path[256];
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *loop;
	urio_target *t;

	if (!dir_takes_direct(disk_dir()))
		SKIP("%s does not take O_DIRECT: set URIO_TEST_DISK_DIR",
		     disk_dir());
	loop = new_loop(8, 1, 0);
	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(
		urio_target_open(loop, &t, path, O_RDWR | O_DIRECT, 0, NULL),
		0);
	ck_assert_int_eq(urio_target_info(t, &info), 0);
	ck_assert_uint_eq(info.direct, 1);
	ck_assert_uint_ge(info.offset_align, 512);
	ck_assert_uint_ge(info.mem_align, 1);
	ck_assert_uint_eq(info.offset_align & (info.offset_align - 1), 0);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

START_TEST(tmpfs_reads_run_inline_and_disk_reads_through_the_backend)
{
	char shm[256], disk[256], buf[4][4096], back[4096];
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_target_opts no = { .size = sizeof(no),
				       .flags = URIO_TARGET_NO_INLINE };
	struct urio_stats st = { .size = sizeof(st) };
	struct req w[4] = { 0 }, r = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 4);
	urio_target *a, *b, *c;

	make_path(tmpfs_dir(), shm, sizeof(shm));
	make_path(disk_dir(), disk, sizeof(disk));
	ck_assert_int_eq(urio_target_open(loop, &a, shm, O_RDWR, 0, NULL), 0);
	ck_assert_int_eq(urio_target_open(loop, &b, disk, O_RDWR, 0, NULL), 0);
	ck_assert_int_eq(urio_target_open(loop, &c, shm, O_RDWR, 0, &no), 0);
	ck_assert_int_eq(urio_target_info(a, &info), 0);
	ck_assert_uint_eq(info.inline_io, 1);
	ck_assert_int_eq(urio_target_info(b, &info), 0);
	ck_assert_uint_eq(info.inline_io, 0);
	ck_assert_int_eq(urio_target_info(c, &info), 0);
	ck_assert_uint_eq(info.inline_io, 0);
	/* Inline requests keep the bounds, and complete from the loop. */
	for (int i = 0; i < 4; i++) {
		fill_pattern(buf[i], sizeof(buf[i]), 13, (uint64_t)i);
		ck_assert_int_gt(urio_write(a, buf[i], sizeof(buf[i]), 4096 * i,
					    0, req_cb, &w[i]),
				 0);
	}
	ck_assert_int_eq(
		urio_write(a, buf[0], sizeof(buf[0]), 0, 0, req_cb, &never),
		-EBUSY);
	ck_assert_uint_eq(w[0].calls, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 4);
	ck_assert_reqs(w, 4, 4096);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &st), 0);
	ck_assert_uint_eq(st.submitted, 0);
	/* The other path reads what the inline one wrote. */
	ck_assert_int_gt(
		urio_read(c, back, sizeof(back), 4096 * 3, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 4096);
	ck_assert(check_pattern(back, sizeof(back), 13, 3));
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &st), 0);
	ck_assert_uint_eq(st.submitted, 1);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	unlink(shm);
	unlink(disk);
}
END_TEST

START_TEST(registered_file_target_reads_back_what_it_wrote)
{
	char path[256], w[4096], r[4096];
	struct urio_target_opts to = { .size = sizeof(to),
				       .flags = URIO_TARGET_REGISTER };
	struct urio_target_info info = { .size = sizeof(info) };
	struct req wr = { 0 }, rd = { 0 }, fs = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	urio_target *tg;
	int ret;

	make_path(disk_dir(), path, sizeof(path));
	ret = urio_target_open(loop, &tg, path, O_RDWR, 0, &to);
	if (backend_is_aio()) {
		/* libaio has no registered files: said so, not ignored. */
		ck_assert_int_eq(ret, -ENOTSUP);
		DESTROY_CLEAN(loop);
		unlink(path);
		return;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(urio_target_info(tg, &info), 0);
	ck_assert_uint_eq(info.registered, 1);
	fill_pattern(w, sizeof(w), 5, 5);
	ck_assert_int_gt(urio_write(tg, w, sizeof(w), 8192, 0, req_cb, &wr), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(wr, 4096);
	ck_assert_int_gt(urio_read(tg, r, sizeof(r), 8192, 0, req_cb, &rd), 0);
	ck_assert_int_gt(urio_fsync(tg, 0, req_cb, &fs), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(rd, 4096);
	ck_assert_req(fs, 0);
	ck_assert(check_pattern(r, sizeof(r), 5, 5));
	ck_assert_int_eq(urio_target_close(tg), 0);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST
