/* SPDX-License-Identifier: MIT */
/* test_target_recycling.c - closed targets and their registered-file slots
 * are reused, so a loop that opens a file per request runs in constant
 * memory; a stale handle (closed, or its struct reused) answers -EBADF,
 * never another target's I/O. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

START_TEST(a_million_open_close_cycles_run_in_constant_memory)
{
	urio_loop *loop = new_loop(8, 1, 0);
	urio_target *t;
	long before, after;

	/* Warm up: the first slab of targets and libc's own buffers. */
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(urio_target_open(loop, &t, "/dev/null",
						  O_RDONLY, 0, NULL),
				 0);
		ck_assert_int_eq(urio_target_close(t), 0);
	}
	before = rss_kib();
	for (int i = 0; i < 1000000; i++) {
		int ret = urio_target_open(loop, &t, "/dev/null", O_RDONLY, 0,
					   NULL);

		if (ret != 0 || urio_target_close(t) != 0)
			ck_abort_msg("cycle %d: %s", i, urio_strerror(ret));
	}
	after = rss_kib();
	ck_assert_msg(after - before < 1024,
		      "RSS grew from %ld to %ld KiB over 1,000,000 cycles",
		      before, after);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(registered_file_slots_are_reused)
{
	struct urio_target_opts o = { .size = sizeof(o),
				      .flags = URIO_TARGET_REGISTER };
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *loop;
	urio_target *t;
	char path[256], buf[64];
	struct req r[10] = { 0 };
	int fd;

	loop = new_loop(8, 1, 0);
	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "slot", 4, 0), 4);
	close(fd);
	/* Far fewer slots than cycles: they must be given back. */
	for (int i = 0; i < 100000; i++) {
		int ret = urio_target_open(loop, &t, path, O_RDONLY, 0, &o);

		if (ret != 0)
			ck_abort_msg("cycle %d: %s", i, urio_strerror(ret));
		if (i % 10000 == 0) {
			ck_assert_int_eq(urio_target_info(t, &info), 0);
			ck_assert_uint_eq(info.registered, 1);
			memset(buf, 0, sizeof(buf));
			ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 0, 0,
						   req_cb, &r[i / 10000]),
					 0);
			ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT),
					 1);
			ck_assert_req(r[i / 10000], 4);
			ck_assert_mem_eq(buf, "slot", 4);
		}
		ck_assert_int_eq(urio_target_close(t), 0);
	}
	DESTROY_CLEAN(loop);
	ck_assert_reqs(r, 10, 4);
	unlink(path);
}
END_TEST

/* Opens registered targets of path until one fails: how many opened, each
 * registered, each read back through its fixed file; *err the failure. */
static unsigned open_registered(urio_loop *loop, const char *path,
				urio_target **t, unsigned max, int *err)
{
	struct urio_target_opts o = { .size = sizeof(o),
				      .flags = URIO_TARGET_REGISTER };
	struct urio_target_info info = { .size = sizeof(info) };
	static struct req r[4096];
	static char buf[4096][8];
	unsigned n = 0;

	*err = 0;
	while (n < max && (*err = urio_target_open(loop, &t[n], path, O_RDONLY,
						   0, &o)) == 0) {
		ck_assert_int_eq(urio_target_info(t[n], &info), 0);
		ck_assert_uint_eq(info.registered, 1);
		n++;
	}
	ck_assert_uint_le(n, 4096);
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_gt(urio_read(t[i], buf[i], 4, 0, URIO_F_WAIT,
					   req_cb, &r[i]),
				 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_req(r[i], 4);
		ck_assert_mem_eq(buf[i], "slot", 4);
	}
	return n;
}

/* The kernel refuses a registered-file table larger than RLIMIT_NOFILE:
 * a loop sizes its table by that limit, so a process at 100 descriptors
 * registers until its descriptors run out (-EMFILE), and one with room
 * registers thousands, not 256. */
START_TEST(registered_targets_go_as_far_as_the_descriptors_do)
{
	static urio_target *t[4096];
	struct rlimit old, rl;
	urio_loop *loop;
	char path[256];
	unsigned n;
	int fd, err;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "slot", 4, 0), 4);
	close(fd);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);

	rl = old;
	rl.rlim_cur = 100;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	loop = new_loop(64, 1, 0);
	n = open_registered(loop, path, t, 4096, &err);
	ck_assert_msg(err == -EMFILE && n >= 50, "%u registered, then %s", n,
		      urio_strerror(err));
	while (n)
		ck_assert_int_eq(urio_target_close(t[--n]), 0);
	DESTROY_CLEAN(loop);

	rl.rlim_cur = old.rlim_max < 3000 ? old.rlim_max : 3000;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	loop = new_loop(64, 1, 0);
	n = open_registered(loop, path, t, 2000, &err);
	ck_assert_msg(n == 2000 || (rl.rlim_cur < 2100 && err == -EMFILE),
		      "%u registered (RLIMIT_NOFILE %llu), then %s", n,
		      (unsigned long long)rl.rlim_cur, urio_strerror(err));
	while (n)
		ck_assert_int_eq(urio_target_close(t[--n]), 0);
	DESTROY_CLEAN(loop);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	unlink(path);
}
END_TEST

START_TEST(a_stale_handle_is_ebadf_even_when_its_struct_is_reused)
{
	urio_loop *loop = new_loop(8, 1, 0);
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_stats st = { .size = sizeof(st) };
	struct req r[2] = { 0 }, never = { 0 };
	urio_target *a, *b;
	char path_a[256], path_b[256], buf[16] = { 0 };
	int fd;

	make_path(disk_dir(), path_a, sizeof(path_a));
	make_path(disk_dir(), path_b, sizeof(path_b));
	fd = open(path_b, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "bbbb", 4, 0), 4);
	close(fd);
	ck_assert_int_eq(urio_target_open(loop, &a, path_a, O_RDWR, 0, NULL),
			 0);
	ck_assert_int_eq(urio_target_close(a), 0);
	/* Closed: every call with the handle says so. */
	ck_assert_int_eq(urio_read(a, buf, 4, 0, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_write(a, "aaaa", 4, 0, 0, req_cb, &never),
			 -EBADF);
	ck_assert_int_eq(urio_fsync(a, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_target_info(a, &info), -EBADF);
	ck_assert_int_eq(urio_target_stats(a, &st), -EBADF);
	ck_assert_int_eq(urio_target_close(a), -EBADF);
	/* The next open reuses a's struct: still, a is not b. */
	ck_assert_int_eq(urio_target_open(loop, &b, path_b, O_RDWR, 0, NULL),
			 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(urio_write(a, "aaaa", 4, 0, 0, req_cb, &never),
			 -EBADF);
	ck_assert_int_eq(urio_target_close(a), -EBADF);
	ck_assert_int_gt(urio_read(b, buf, 4, 0, 0, req_cb, &r[0]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[0], 4);
	ck_assert_mem_eq(buf, "bbbb", 4);
	/* A target with requests in flight (or waiting) cannot close. */
	ck_assert_int_gt(urio_read(b, buf, 4, 0, 0, req_cb, &r[1]), 0);
	ck_assert_int_eq(urio_target_close(b), -EBUSY);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[1], 4);
	ck_assert_int_eq(urio_target_close(b), 0);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	unlink(path_a);
	unlink(path_b);
}
END_TEST

START_TEST(targets_left_open_are_closed_by_destroy)
{
	urio_loop *loop;
	urio_target *t[100];
	int before = 0, after = 0;

	for (int fd = 0; fd < 1024; fd++)
		before += fcntl(fd, F_GETFD) >= 0;
	loop = new_loop(8, 1, 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(urio_target_open(loop, &t[i], "/dev/null",
						  O_RDONLY, 0, NULL),
				 0);
	for (int i = 0; i < 100; i += 2)
		ck_assert_int_eq(urio_target_close(t[i]), 0);
	DESTROY_CLEAN(loop);
	for (int fd = 0; fd < 1024; fd++)
		after += fcntl(fd, F_GETFD) >= 0;
	/* The loop's own fds went with it too. */
	ck_assert_int_eq(after, before);
}
END_TEST
