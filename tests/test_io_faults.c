/* SPDX-License-Identifier: MIT */
/* test_io_faults.c - faults made by the kernel during I/O: a tmpfs that
 * fills up, a file truncated under its requests, a loop device whose
 * backing store runs out.  Each gives per-request errors, never a crash or
 * a hang, and every callback runs once.  Mounts happen in a private mount
 * namespace of a child; they need root and skip without it. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define TINY (256 << 10)

/* A tmpfs of `size` bytes at a fresh directory, in a private namespace. */
static int tiny_tmpfs(char *dir, size_t len)
{
	char opts[64];

	if (geteuid() != 0)
		return -EPERM;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	snprintf(dir, len, "/var/tmp/urio-tiny.XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(opts, sizeof(opts), "size=%u", TINY);
	if (mount("tmpfs", dir, "tmpfs", 0, opts) < 0)
		return -errno;
	return 0;
}

static void fill_tiny_tmpfs(unsigned target_flags)
{
	struct urio_target_opts to = { .size = sizeof(to),
				       .flags = target_flags };
	struct tally t = { 0 };
	struct urio_stats st = { .size = sizeof(st) };
	char dir[64], path[128], *buf;
	urio_loop *loop;
	urio_target *tg;
	unsigned n = 2 * TINY / 4096;
	int ret = tiny_tmpfs(dir, sizeof(dir));

	if (ret == -EPERM)
		SKIP("needs root to mount a tmpfs (CI runs as root)");
	ck_assert_msg(ret == 0, "tiny tmpfs: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/f", dir);
	loop = new_loop(64, 1, 0);
	ck_assert_int_eq(
		urio_target_open(loop, &tg, path, O_RDWR | O_CREAT, 0600, &to),
		0);
	buf = calloc(1, 4096);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_gt(urio_write(tg, buf, 4096, (uint64_t)i * 4096,
					    URIO_F_WAIT, tally_cb, &t),
				 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(t.calls, n);
	ck_assert_int_eq(t.last, -ENOSPC);
	ck_assert_uint_ge(t.errors, n / 2 - 8);
	ck_assert_int_le(t.sum, TINY);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.completed, n);
	ck_assert_uint_eq(st.inflight, 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	free(buf);
	umount(dir);
	rmdir(dir);
}

START_TEST(full_tmpfs_gives_enospc_per_write_inline_path)
{
	fill_tiny_tmpfs(0);
}
END_TEST

START_TEST(full_tmpfs_gives_enospc_per_write_io_uring_path)
{
	fill_tiny_tmpfs(URIO_TARGET_NO_INLINE);
}
END_TEST

START_TEST(file_truncated_under_its_requests_reads_short)
{
	enum { N = 256 };
	char path[256], *buf;
	struct tally t = { 0 };
	urio_loop *loop = new_loop(512, 1, 0);
	urio_target *tg;
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR);
	buf = calloc(N, 4096);
	memset(buf, 'a', (size_t)N * 4096);
	ck_assert_int_eq(pwrite(fd, buf, (size_t)N * 4096, 0), N * 4096);
	ck_assert_int_eq(urio_target_open(loop, &tg, path, O_RDONLY, 0, NULL),
			 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_read(tg, buf + (size_t)i * 4096, 4096,
					   (uint64_t)i * 4096, 0, tally_cb, &t),
				 0);
	/* Truncated before the kernel sees most of them. */
	ck_assert_int_eq(ftruncate(fd, 10 * 4096), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(t.calls, N);
	ck_assert_uint_eq(t.errors, 0);
	ck_assert_int_le(t.sum, 10 * 4096);
	ck_assert_int_ge(t.sum, 10 * 4096 - 4096);
	urio_loop_destroy(loop);
	close(fd);
	unlink(path);
	free(buf);
}
END_TEST

/* A loop device of 1 MiB over a sparse file on a 256 KiB tmpfs: writes
 * past what the tmpfs holds fail in the block layer. */
START_TEST(loop_device_over_a_full_store_gives_io_errors)
{
	enum { N = 256 };
	char dir[64], img[128], cmd[512], dev[64] = { 0 }, *buf;
	struct tally t = { 0 }, r = { 0 };
	urio_loop *loop;
	urio_target *tg;
	FILE *p;
	int fd, ret = tiny_tmpfs(dir, sizeof(dir));

	if (ret == -EPERM)
		SKIP("needs root for losetup (CI runs as root)");
	ck_assert_int_eq(ret, 0);
	snprintf(img, sizeof(img), "%s/img", dir);
	fd = open(img, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(ftruncate(fd, N * 4096), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "losetup --find --show --direct-io=on %s 2>&1", img);
	p = popen(cmd, "r");
	if (!p || !fgets(dev, sizeof(dev), p) || strncmp(dev, "/dev/loop", 9)) {
		if (p)
			pclose(p);
		umount(dir);
		SKIP("no loop device: %s", dev);
	}
	pclose(p);
	dev[strcspn(dev, "\n")] = '\0';
	loop = new_loop(256, 1, 0);
	ck_assert_int_eq(
		urio_target_open(loop, &tg, dev, O_RDWR | O_DIRECT, 0, NULL),
		0);
	ck_assert(posix_memalign((void **)&buf, 4096, (size_t)N * 4096) == 0);
	memset(buf, 'z', (size_t)N * 4096);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_write(tg, buf + (size_t)i * 4096, 4096,
					    (uint64_t)i * 4096, URIO_F_WAIT,
					    tally_cb, &t),
				 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(t.calls, N);
	ck_assert_uint_gt(t.errors, 0);
	ck_assert_uint_gt(t.sum, 0);
	/* What was written reads back; the device is still usable. */
	ck_assert_int_gt(urio_read(tg, buf, 4096, 0, 0, tally_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(r.last, 4096);
	ck_assert_int_eq(buf[100], 'z');
	fprintf(stderr, "loop device: %u writes, %u failed (last %s)\n",
		t.calls, t.errors, urio_strerror(t.last));
	urio_loop_destroy(loop);
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	ck_assert_int_eq(system(cmd), 0);
	umount(dir);
	free(buf);
}
END_TEST

START_TEST(bench_on_a_full_tmpfs_says_what_failed_and_exits_nonzero)
{
	const char *bench = getenv("URIO_BENCH");
	char dir[64], cmd[512], out[4096] = { 0 };
	FILE *p;
	size_t n;
	int ret, st, fd;

	if (!bench)
		SKIP("URIO_BENCH is not set");
	ret = tiny_tmpfs(dir, sizeof(dir));
	if (ret == -EPERM)
		SKIP("needs root to mount a tmpfs (CI runs as root)");
	ck_assert_int_eq(ret, 0);
	/* A sparse 1 MiB file: its holes need space the tmpfs lacks. */
	snprintf(cmd, sizeof(cmd), "%s/sparse", dir);
	fd = open(cmd, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s --rw write --runtime 1 %s/sparse 2>&1",
		 bench, dir);
	p = popen(cmd, "r");
	n = fread(out, 1, sizeof(out) - 1, p);
	st = pclose(p);
	out[n] = '\0';
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_msg(strstr(out, "error") && strstr(out, "first in write") &&
			      strstr(out, "No space left on device"),
		      "%s", out);
	umount(dir);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("io_faults");
	TCase *tc = tcase_create("io_faults");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, full_tmpfs_gives_enospc_per_write_inline_path);
	tcase_add_test(tc, full_tmpfs_gives_enospc_per_write_io_uring_path);
	tcase_add_test(tc, file_truncated_under_its_requests_reads_short);
	tcase_add_test(tc, loop_device_over_a_full_store_gives_io_errors);
	tcase_add_test(
		tc, bench_on_a_full_tmpfs_says_what_failed_and_exits_nonzero);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
