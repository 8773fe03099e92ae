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

struct io_check {
	unsigned calls, bad;
};

static void expect_bs(urio_loop *loop, int res, void *data)
{
	struct io_check *c = data;

	(void)loop;
	c->calls++;
	if (res != BS)
		c->bad++;
}

/* Writes NBLOCKS distinct random blocks, reads them back, compares. */
static void roundtrip(const char *dir, bool direct)
{
	char path[256];
	uint32_t *blocks = malloc(SPACE * sizeof(*blocks));
	char *wbuf, *rbuf;
	struct io_check wc = { 0 }, rc = { 0 };
	urio_loop *loop = new_loop(128, 1, 0);
	urio_target *t;
	int ret, oflags = O_RDWR | (direct ? O_DIRECT : 0);
	unsigned bad = 0;

	make_path(dir, path, sizeof(path));
	ret = urio_target_open(loop, &t, path, oflags, 0, NULL);
	if (ret == -EINVAL && direct) {
		unlink(path);
		urio_loop_destroy(loop);
		free(blocks);
		SKIP("%s does not support O_DIRECT", dir);
	}
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
				      expect_bs, &wc);
		ck_assert_msg(ret > 0, "write %u: %s", i, urio_strerror(ret));
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(wc.calls, NBLOCKS);
	ck_assert_uint_eq(wc.bad, 0);
	memset(rbuf, 0, (size_t)NBLOCKS * BS);
	for (uint32_t i = 0; i < NBLOCKS; i++) {
		ret = (int)urio_read(t, rbuf + (size_t)i * BS, BS,
				     (uint64_t)blocks[i] * BS, URIO_F_WAIT,
				     expect_bs, &rc);
		ck_assert_msg(ret > 0, "read %u: %s", i, urio_strerror(ret));
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(rc.calls, NBLOCKS);
	ck_assert_uint_eq(rc.bad, 0);
	for (uint32_t i = 0; i < NBLOCKS; i++)
		if (!check_pattern(rbuf + (size_t)i * BS, BS, 7, blocks[i]))
			bad++;
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(urio_target_close(t), 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	unlink(path);
	free(wbuf);
	free(rbuf);
	free(blocks);
}

START_TEST(roundtrip_10000_blocks_tmpfs_buffered)
{
	if (!tmpfs_dir())
		SKIP("no tmpfs at /dev/shm");
	roundtrip(tmpfs_dir(), false);
}
END_TEST

START_TEST(roundtrip_10000_blocks_tmpfs_direct)
{
	if (!tmpfs_dir())
		SKIP("no tmpfs at /dev/shm");
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
	roundtrip(disk_dir(), true);
}
END_TEST

START_TEST(readv_writev_scatter_and_gather)
{
	char path[256], a[3000], b[5000], c[3000], d[5000];
	struct iovec wv[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct iovec rv[2] = { { c, sizeof(c) }, { d, sizeof(d) } };
	struct tally w = { 0 }, r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDWR, 0, NULL), 0);
	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	ck_assert_int_gt(urio_writev(t, wv, 2, 100, 0, tally_cb, &w), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_int_eq(w.last, 8000);
	ck_assert_int_gt(urio_readv(t, rv, 2, 100, 0, tally_cb, &r), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_int_eq(r.last, 8000);
	ck_assert(memcmp(a, c, sizeof(a)) == 0);
	ck_assert(memcmp(b, d, sizeof(b)) == 0);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

START_TEST(fsync_and_fdatasync_complete_with_zero)
{
	char path[256], buf[4096] = { 1 };
	struct tally w = { 0 }, s = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDWR, 0, NULL), 0);
	ck_assert_int_gt(urio_write(t, buf, sizeof(buf), 0, 0, tally_cb, &w),
			 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_int_gt(urio_fsync(t, 0, tally_cb, &s), 0);
	ck_assert_int_gt(urio_fdatasync(t, 0, tally_cb, &s), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(s.calls, 2);
	ck_assert_uint_eq(s.errors, 0);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

START_TEST(read_past_end_returns_short_count)
{
	char path[256], buf[8192];
	struct tally r = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, "0123456789", 10, 0), 10);
	close(fd);
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDONLY, 0, NULL),
			 0);
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 4, 0, tally_cb, &r), 0);
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 100, 0, tally_cb, &r),
			 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(r.calls, 2);
	ck_assert_int_eq(r.sum, 6);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

START_TEST(write_on_read_only_target_fails_with_ebadf)
{
	char path[256], buf[512] = { 0 };
	struct tally w = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &t, path, O_RDONLY, 0, NULL),
			 0);
	ck_assert_int_gt(urio_write(t, buf, sizeof(buf), 0, 0, tally_cb, &w),
			 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(w.calls, 1);
	ck_assert_int_eq(w.last, -EBADF);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

START_TEST(nop_completes_with_zero)
{
	struct tally n = { 0 };
	urio_loop *loop = new_loop(8, 1, 0);

	for (int i = 0; i < 5; i++)
		ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &n), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 5);
	ck_assert_uint_eq(n.calls, 5);
	ck_assert_int_eq(n.last, 0);
	urio_loop_destroy(loop);
}
END_TEST

START_TEST(direct_target_reports_its_alignment)
{
	char path[256];
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;

	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(
		urio_target_open(loop, &t, path, O_RDWR | O_DIRECT, 0, NULL),
		0);
	ck_assert_int_eq(urio_target_info(t, &info), 0);
	ck_assert_uint_eq(info.direct, 1);
	ck_assert_uint_ge(info.offset_align, 512);
	ck_assert_uint_ge(info.mem_align, 1);
	ck_assert_uint_eq(info.offset_align & (info.offset_align - 1), 0);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

START_TEST(tmpfs_reads_run_inline_and_disk_reads_through_the_backend)
{
	char shm[256], disk[256], buf[4096];
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_target_opts no = { .size = sizeof(no),
				       .flags = URIO_TARGET_NO_INLINE };
	struct urio_stats st = { .size = sizeof(st) };
	struct tally t = { 0 };
	urio_loop *loop;
	urio_target *a, *b, *c;

	if (!tmpfs_dir())
		SKIP("no tmpfs at /dev/shm");
	loop = new_loop(8, 1, 4);
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
	memset(buf, 'x', sizeof(buf));
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(urio_write(a, buf, sizeof(buf), 4096 * i, 0,
					    tally_cb, &t),
				 0);
	ck_assert_int_eq(urio_write(a, buf, sizeof(buf), 0, 0, tally_cb, &t),
			 -EBUSY);
	ck_assert_uint_eq(t.calls, 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 4);
	ck_assert_uint_eq(t.calls, 4);
	ck_assert_int_eq(t.sum, 4 * 4096);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &st), 0);
	ck_assert_uint_eq(st.submitted, 0);
	/* The other path reads what the inline one wrote. */
	memset(buf, 0, sizeof(buf));
	ck_assert_int_gt(
		urio_read(c, buf, sizeof(buf), 4096 * 3, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(t.last, 4096);
	ck_assert_int_eq(buf[4095], 'x');
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &st), 0);
	ck_assert_uint_eq(st.submitted, 1);
	urio_loop_destroy(loop);
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
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);
	urio_target *tg;
	int ret;

	make_path(disk_dir(), path, sizeof(path));
	ret = urio_target_open(loop, &tg, path, O_RDWR, 0, &to);
	if (backend_is_aio()) {
		ck_assert_int_eq(ret, -ENOTSUP);
		urio_loop_destroy(loop);
		unlink(path);
		return;
	}
	ck_assert_int_eq(ret, 0);
	ck_assert_int_eq(urio_target_info(tg, &info), 0);
	ck_assert_uint_eq(info.registered, 1);
	fill_pattern(w, sizeof(w), 5, 5);
	ck_assert_int_gt(urio_write(tg, w, sizeof(w), 8192, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_gt(urio_read(tg, r, sizeof(r), 8192, 0, tally_cb, &t), 0);
	ck_assert_int_gt(urio_fsync(tg, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_uint_eq(t.errors, 0);
	ck_assert(check_pattern(r, sizeof(r), 5, 5));
	ck_assert_int_eq(urio_target_close(tg), 0);
	urio_loop_destroy(loop);
	unlink(path);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("io_integrity");
	TCase *tc = tcase_create("io");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, roundtrip_10000_blocks_tmpfs_buffered);
	tcase_add_test(tc, roundtrip_10000_blocks_tmpfs_direct);
	tcase_add_test(tc, roundtrip_10000_blocks_disk_buffered);
	tcase_add_test(tc, roundtrip_10000_blocks_disk_direct);
	tcase_add_test(tc, readv_writev_scatter_and_gather);
	tcase_add_test(tc, fsync_and_fdatasync_complete_with_zero);
	tcase_add_test(tc, read_past_end_returns_short_count);
	tcase_add_test(tc, write_on_read_only_target_fails_with_ebadf);
	tcase_add_test(tc, nop_completes_with_zero);
	tcase_add_test(tc, direct_target_reports_its_alignment);
	tcase_add_test(
		tc, tmpfs_reads_run_inline_and_disk_reads_through_the_backend);
	tcase_add_test(tc, registered_file_target_reads_back_what_it_wrote);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
