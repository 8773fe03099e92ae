/* SPDX-License-Identifier: MIT */
/* test_bad_input.c - every public function refuses bad input with a precise
 * negative errno and never crashes: NULL handles, zero and overflowing
 * sizes, O_DIRECT misalignment, closed targets, wrong options sizes, the
 * wrong thread, and a loop carried across fork(). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every case: a loop, a target on a scratch file, and a record that every
 * refused call passes and that must never see a callback. */
static char path[256];
static urio_loop *loop;
static urio_target *tg;
static struct req never;

static void setup(void)
{
	memset(&never, 0, sizeof(never));
	loop = new_loop(16, 1, 0);
	make_path(disk_dir(), path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &tg, path, O_RDWR, 0, NULL), 0);
}

static void teardown(void)
{
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(never);
	unlink(path);
}

START_TEST(null_loop_is_einval_everywhere)
{
	struct urio_stats st = { .size = sizeof(st) };
	struct urio_layout lay = { .size = sizeof(lay) };
	urio_target *x;
	char d[64];

	setup();
	ck_assert_int_eq(urio_loop_create(NULL, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_run(NULL, URIO_RUN_NOWAIT), -EINVAL);
	ck_assert_int_eq(urio_loop_submit(NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_fd(NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(urio_loop_ring_stats(NULL, 0, &st), -EINVAL);
	ck_assert_int_eq(urio_loop_layout(NULL, &lay), -EINVAL);
	ck_assert_int_eq(urio_loop_describe(NULL, d, sizeof(d)), -EINVAL);
	ck_assert_int_eq(urio_target_open(NULL, &x, path, O_RDONLY, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(urio_target_adopt(NULL, &x, 0, NULL), -EINVAL);
	ck_assert_int_eq(urio_nop(NULL, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_timeout(NULL, 1, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_cancel(NULL, 1, 0, req_cb, &never), -EINVAL);
	teardown();
}
END_TEST

START_TEST(null_target_and_null_out_params_are_einval)
{
	struct urio_stats st = { .size = sizeof(st) };
	struct urio_target_info info = { .size = sizeof(info) };

	setup();
	ck_assert_io_refused(NULL, -EINVAL);
	ck_assert_int_eq(urio_target_close(NULL), -EINVAL);
	ck_assert_int_eq(urio_target_info(NULL, &info), -EINVAL);
	ck_assert_int_eq(urio_target_stats(NULL, &st), -EINVAL);
	ck_assert_int_eq(urio_target_info(tg, NULL), -EINVAL);
	ck_assert_int_eq(urio_target_stats(tg, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_stats(loop, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_layout(loop, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_describe(loop, NULL, 10), -EINVAL);
	ck_assert_int_eq(urio_target_open(loop, NULL, path, O_RDONLY, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(urio_target_open(loop, &tg, NULL, O_RDONLY, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(urio_target_open(loop, &tg, "", O_RDONLY, 0, NULL),
			 -EINVAL);
	ck_assert_int_eq(urio_target_adopt(loop, &tg, -1, NULL), -EINVAL);
	teardown();
}
END_TEST

START_TEST(null_buffer_or_callback_is_einval)
{
	char buf[16];

	setup();
	ck_assert_int_eq(urio_read(tg, NULL, 16, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_write(tg, NULL, 16, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_read(tg, buf, 16, 0, 0, NULL, &never), -EINVAL);
	ck_assert_int_eq(urio_fsync(tg, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(urio_nop(loop, 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(urio_timeout(loop, 5, 0, NULL, NULL), -EINVAL);
	teardown();
}
END_TEST

START_TEST(zero_huge_and_overflowing_sizes_are_einval)
{
	char buf[16];
	struct urio_stats st = { .size = sizeof(st) };

	setup();
	ck_assert_int_eq(urio_read(tg, buf, 0, 0, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_write(tg, buf, 0, 0, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_read(tg, buf, SIZE_MAX, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(
		urio_read(tg, buf, (size_t)1 << 32, 0, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(urio_read(tg, buf, 16, UINT64_MAX, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(
		urio_write(tg, buf, 16, INT64_MAX - 8, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 0);
	teardown();
}
END_TEST

START_TEST(bad_iovecs_are_einval)
{
	char buf[16];
	struct iovec ok = { buf, sizeof(buf) };
	struct iovec zero[2] = { { buf, 8 }, { buf, 0 } };
	struct iovec nul[1] = { { NULL, 8 } };
	struct iovec huge[2] = { { buf, 0x7ffff000u }, { buf, 16 } };
	struct iovec *many = calloc(1025, sizeof(*many));
	char *data = malloc(1024 * 16), *back = calloc(1024, 16);
	struct req r = { 0 };
	int fd;

	setup();
	for (int i = 0; i < 1025; i++)
		many[i] = ok;
	ck_assert_int_eq(urio_readv(tg, NULL, 1, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_readv(tg, &ok, 0, 0, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_readv(tg, zero, 2, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_writev(tg, nul, 1, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_writev(tg, huge, 2, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_readv(tg, many, 1025, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(
		urio_readv(tg, &ok, 1, UINT64_MAX - 4, 0, req_cb, &never),
		-EINVAL);
	/* IOV_MAX iovecs are fine: each reads its own 16 bytes. */
	fill_pattern(data, 1024 * 16, 3, 0);
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, data, 1024 * 16, 0), 1024 * 16);
	close(fd);
	for (int i = 0; i < 1024; i++)
		many[i] = (struct iovec){ back + 16 * i, 16 };
	ck_assert_int_gt(urio_readv(tg, many, 1024, 0, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 1024 * 16);
	ck_assert_mem_eq(back, data, 1024 * 16);
	free(many);
	free(data);
	free(back);
	teardown();
}
END_TEST

START_TEST(misaligned_direct_io_is_einval_aligned_io_works)
{
	struct urio_target_info info = { .size = sizeof(info) };
	urio_target *d;
	struct req r = { 0 };
	char *buf;
	unsigned a;

	setup();
	ck_assert_int_eq(
		urio_target_open(loop, &d, path, O_RDWR | O_DIRECT, 0, NULL),
		0);
	ck_assert_int_eq(urio_target_info(d, &info), 0);
	a = info.offset_align;
	ck_assert(posix_memalign((void **)&buf, 4096, 3 * 4096) == 0);
	if (info.mem_align > 1)
		ck_assert_int_eq(
			urio_write(d, buf + 1, a, 0, 0, req_cb, &never),
			-EINVAL);
	ck_assert_int_eq(urio_write(d, buf, a, 1, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_write(d, buf, a + 1, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_read(d, buf, a / 2, a, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_gt(urio_write(d, buf, a, a, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, (int)a);
	free(buf);
	teardown();
}
END_TEST

START_TEST(closed_target_is_ebadf)
{
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };

	setup();
	ck_assert_int_eq(urio_target_close(tg), 0);
	ck_assert_int_eq(urio_read(tg, buf, 16, 0, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_write(tg, buf, 16, 0, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_readv(tg, &iov, 1, 0, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_fsync(tg, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_target_close(tg), -EBADF);
	ck_assert_ptr_nonnull(strstr(urio_strerror(-EBADF), "closed"));
	teardown();
}
END_TEST

START_TEST(options_struct_with_wrong_size_is_refused)
{
	struct {
		struct urio_loop_opts o;
		char extra[16];
	} big;
	struct urio_loop_opts o = quiet_opts();
	struct urio_target_opts to = { .size = 3 };
	struct urio_stats st = { .size = 4 };
	urio_loop *l2 = NULL;
	urio_target *x;

	setup();
	o.size = 0;
	ck_assert_int_eq(urio_loop_create(&l2, &o), -EINVAL);
	o.size = 4;
	ck_assert_int_eq(urio_loop_create(&l2, &o), -EINVAL);
	/* A newer caller's larger struct: fine while the extra bytes are 0. */
	memset(&big, 0, sizeof(big));
	big.o = quiet_opts();
	big.o.size = sizeof(big);
	big.o.entries = 8;
	ck_assert_int_eq(urio_loop_create(&l2, &big.o), 0);
	DESTROY_CLEAN(l2);
	big.extra[3] = 1;
	ck_assert_int_eq(urio_loop_create(&l2, &big.o), -E2BIG);
	ck_assert_ptr_null(l2);
	ck_assert_int_eq(urio_target_open(loop, &x, path, O_RDONLY, 0, &to),
			 -EINVAL);
	ck_assert_int_eq(urio_loop_stats(loop, &st), -EINVAL);
	teardown();
}
END_TEST

START_TEST(unknown_flags_and_values_are_einval)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *l2 = NULL;
	urio_target *x;
	char buf[16];

	setup();
	o.flags = 1u << 30;
	ck_assert_int_eq(urio_loop_create(&l2, &o), -EINVAL);
	o = quiet_opts();
	o.backend = 99;
	ck_assert_int_eq(urio_loop_create(&l2, &o), -EINVAL);
	o = quiet_opts();
	o.rings = URIO_MAX_RINGS + 1;
	ck_assert_int_eq(urio_loop_create(&l2, &o), -EINVAL);
	to.flags = 1u << 20;
	ck_assert_int_eq(urio_target_open(loop, &x, path, O_RDONLY, 0, &to),
			 -EINVAL);
	to.flags = URIO_TARGET_RING;
	to.ring = 5;
	ck_assert_int_eq(urio_target_open(loop, &x, path, O_RDONLY, 0, &to),
			 -EINVAL);
	ck_assert_int_eq(urio_read(tg, buf, 16, 0, 1u << 7, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nop(loop, 1u << 9, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_loop_run(loop, 7), -EINVAL);
	ck_assert_int_eq(urio_loop_run(loop, -1), -EINVAL);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 1, &st), -ERANGE);
	teardown();
}
END_TEST

START_TEST(open_of_missing_file_passes_the_kernels_errno)
{
	urio_target *x = (urio_target *)&x;

	setup();
	ck_assert_int_eq(urio_target_open(loop, &x, "/nonexistent/urio/file",
					  O_RDONLY, 0, NULL),
			 -ENOENT);
	ck_assert_ptr_null(x);
	ck_assert_int_eq(urio_target_adopt(loop, &x, 1000000, NULL), -EBADF);
	teardown();
}
END_TEST

struct other_thread {
	int nop, run, stats, destroy;
};

static void *call_from_other_thread(void *arg)
{
	struct other_thread *o = arg;
	struct urio_stats st = { .size = sizeof(st) };

	o->nop = (int)urio_nop(loop, 0, req_cb, &never);
	o->run = urio_loop_run(loop, URIO_RUN_NOWAIT);
	o->stats = urio_loop_stats(loop, &st);
	o->destroy = urio_loop_destroy(loop);
	return NULL;
}

START_TEST(calls_from_a_thread_that_does_not_own_the_loop_are_eperm)
{
	struct other_thread o;
	struct req r = { 0 };
	pthread_t th;

	setup();
	ck_assert_int_eq(pthread_create(&th, NULL, call_from_other_thread, &o),
			 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(o.nop, -EPERM);
	ck_assert_int_eq(o.run, -EPERM);
	ck_assert_int_eq(o.stats, -EPERM);
	ck_assert_int_eq(o.destroy, -EPERM);
	/* The owner still works. */
	ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 0);
	teardown();
}
END_TEST

START_TEST(loop_used_after_fork_is_eownerdead_and_parent_is_untouched)
{
	struct req before = { 0 }, after = { 0 }, child = { 0 };
	pid_t pid;
	int status;

	setup();
	ck_assert_int_gt(urio_nop(loop, 0, req_cb, &before), 0);
	ck_assert_int_eq(urio_loop_submit(loop), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		urio_loop *mine;
		char why[192];
		int ok = urio_nop(loop, 0, req_cb, &never) == -EOWNERDEAD &&
			 urio_loop_run(loop, URIO_RUN_NOWAIT) == -EOWNERDEAD &&
			 strstr(urio_strerror(-EOWNERDEAD), "after the fork");
		/* A loop made in the child works. */
		ok = ok && urio_loop_create(&mine, NULL) == 0 &&
		     urio_nop(mine, 0, req_cb, &child) > 0 &&
		     urio_loop_run(mine, URIO_RUN_DEFAULT) == 1 &&
		     child.calls == 1 && child.res == 0 &&
		     destroy_clean(mine, why, sizeof(why)) == 0;
		/* Nor does the parent's request call back here. */
		ok = ok && before.calls == 0 && never.calls == 0;
		/* Releasing the inherited loop touches nothing shared. */
		ok = ok && urio_loop_destroy(loop) == 0;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(before, 0);
	ck_assert_int_gt(urio_nop(loop, 0, req_cb, &after), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(before, 0);
	ck_assert_req(after, 0);
	teardown();
}
END_TEST

START_TEST(strerror_explains_urio_codes_and_passes_others)
{
	setup();
	ck_assert_str_eq(urio_strerror(0), "success");
	ck_assert_str_eq(urio_strerror(-ENOSPC), strerror(ENOSPC));
	ck_assert_ptr_nonnull(strstr(urio_strerror(-EINVAL), "aligned"));
	ck_assert_ptr_nonnull(strstr(urio_strerror(5), "unknown"));
	ck_assert_ptr_nonnull(strstr(urio_strerror(-EPERM), "thread"));
	teardown();
}
END_TEST

START_TEST(newer_calls_refuse_bad_input_too)
{
	struct urio_nvme_cmd cmd = { .size = sizeof(cmd) };
	char buf[512];
	void *base = buf;
	size_t len = 1;
	struct req z = { 0 }, tr = { 0 };

	setup();
	ck_assert_int_eq(urio_write_zeroes(NULL, 0, 4096, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_write_zeroes(tg, 0, 0, 0, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_write_zeroes(tg, 0, 4096, 0, NULL, &never),
			 -EINVAL);
	ck_assert_int_eq(
		urio_trim(tg, UINT64_MAX - 10, 4096, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(urio_trim(tg, 0, 4096, 1u << 5, req_cb, &never),
			 -EINVAL);
	ck_assert_int_eq(urio_nvme_io(NULL, &cmd, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(urio_nvme_io(tg, NULL, 0, req_cb, &never), -EINVAL);
	cmd.size = 3;
	ck_assert_int_eq(urio_nvme_io(tg, &cmd, 0, req_cb, &never), -EINVAL);
	cmd.size = sizeof(cmd);
	cmd.len = 512; /* a length without a buffer */
	ck_assert_int_eq(urio_nvme_io(tg, &cmd, 0, req_cb, &never), -EINVAL);
	cmd.buf = buf;
	/* Not an NVMe namespace: no raw commands. */
	ck_assert_int_eq(urio_nvme_io(tg, &cmd, 0, req_cb, &never),
			 -EOPNOTSUPP);
	ck_assert_int_eq(urio_loop_buffers(NULL, &base, &len), -EINVAL);
	ck_assert_int_eq(urio_loop_buffers(loop, NULL, &len), -EINVAL);
	ck_assert_int_eq(urio_loop_buffers(loop, &base, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_buffers(loop, &base, &len), 0);
	ck_assert_ptr_null(base);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(urio_loop_nvme_status(NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_nvme_status(loop), 0);
	/* On a file, zeroes and trim are fallocate, and work. */
	ck_assert_int_gt(urio_write_zeroes(tg, 0, 8192, 0, req_cb, &z), 0);
	ck_assert_int_gt(urio_trim(tg, 0, 4096, 0, req_cb, &tr), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(z, 0);
	ck_assert_req(tr, 0);
	ck_assert_int_eq(urio_target_close(tg), 0);
	ck_assert_int_eq(urio_trim(tg, 0, 4096, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_nvme_io(tg, &cmd, 0, req_cb, &never), -EBADF);
	teardown();
}
END_TEST
