/* SPDX-License-Identifier: MIT */
/* helpers.c - scratch files, loops on the case's backend, per-request
 * records, a clean end for every loop, forked children, clocks. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

void make_path(const char *dir, char *buf, size_t len)
{
	int fd;

	snprintf(buf, len, "%s/urio-test.XXXXXX", dir);
	fd = mkstemp(buf);
	ck_assert_msg(fd >= 0, "mkstemp in %s: %s", dir, strerror(errno));
	close(fd);
}

bool dir_takes_direct(const char *dir)
{
	char path[256];
	int fd;

	make_path(dir, path, sizeof(path));
	fd = open(path, O_RDWR | O_DIRECT);
	unlink(path);
	if (fd < 0) {
		ck_assert_msg(errno == EINVAL, "O_DIRECT open in %s: %s", dir,
			      strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

bool backend_is_aio(void)
{
	return test_backend() == TB_AIO;
}

struct urio_loop_opts quiet_opts(void)
{
	struct urio_loop_opts o = { .size = sizeof(o) };

	o.flags = URIO_LOOP_QUIET;
	/* Named, not AUTO: a loop that fell back would pass as the other. */
	if (test_backend() == TB_AIO)
		o.backend = URIO_BACKEND_AIO;
	else if (test_backend() == TB_URING)
		o.backend = URIO_BACKEND_URING;
	return o;
}

urio_loop *new_loop(unsigned entries, unsigned rings, unsigned cap)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop = NULL;
	int ret;

	o.entries = entries;
	o.rings = rings;
	o.inflight_cap = cap;
	ret = urio_loop_create(&loop, &o);
	ck_assert_msg(ret == 0, "urio_loop_create: %s", urio_strerror(ret));
	return loop;
}

void req_cb(urio_loop *loop, int res, void *data)
{
	struct req *r = data;

	(void)loop;
	r->calls++;
	r->res = res;
}

void ck_assert_io_refused(urio_target *t, int err)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct iovec v = { buf, sizeof(buf) };
	struct req never = { 0 };

	ck_assert_int_eq(urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &never),
			 err);
	ck_assert_int_eq(urio_write(t, buf, sizeof(buf), 0, 0, req_cb, &never),
			 err);
	ck_assert_int_eq(urio_readv(t, &v, 1, 0, 0, req_cb, &never), err);
	ck_assert_int_eq(urio_writev(t, &v, 1, 0, 0, req_cb, &never), err);
	ck_assert_int_eq(urio_fsync(t, 0, req_cb, &never), err);
	ck_assert_int_eq(urio_fdatasync(t, 0, req_cb, &never), err);
	ck_assert_no_callback(never);
}

void tally_cb(urio_loop *loop, int res, void *data)
{
	struct tally *t = data;

	(void)loop;
	t->calls++;
	t->last = res;
	if (res < 0)
		t->errors++;
	else
		t->sum += res;
}

int destroy_clean(urio_loop *loop, char *why, size_t len)
{
	struct urio_stats st = { .size = sizeof(st) };
	int ret = urio_loop_stats(loop, &st);

	if (ret < 0) {
		snprintf(why, len, "urio_loop_stats: %s", urio_strerror(ret));
		return -1;
	}
	if (st.inflight || st.queued || st.completed != st.submitted) {
		snprintf(why, len,
			 "at the end: %llu in flight, %llu queued, %llu "
			 "accepted, %llu completed",
			 (unsigned long long)st.inflight,
			 (unsigned long long)st.queued,
			 (unsigned long long)st.submitted,
			 (unsigned long long)st.completed);
		urio_loop_destroy(loop);
		return -1;
	}
	ret = urio_loop_destroy(loop);
	if (ret) {
		snprintf(why, len, "urio_loop_destroy: %s", urio_strerror(ret));
		return -1;
	}
	return 0;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* Word by word through memcpy: buffers need not be 8-byte aligned. */
void fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t block)
{
	char *p = buf;

	for (size_t i = 0; i < len / 8; i++) {
		uint64_t v = mix(seed ^ (block << 20) ^ i);

		memcpy(p + 8 * i, &v, 8);
	}
}

bool check_pattern(const void *buf, size_t len, uint64_t seed, uint64_t block)
{
	const char *p = buf;

	for (size_t i = 0; i < len / 8; i++) {
		uint64_t v = mix(seed ^ (block << 20) ^ i);

		if (memcmp(p + 8 * i, &v, 8))
			return false;
	}
	return true;
}

static int report_fd = -1;

void child_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (write(report_fd, msg,
		  n > 0 && n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1) <
	    0) {
		/* the parent sees the exit status anyway */
	}
	_exit(1);
}

void in_child(void (*fn)(void *), void *arg)
{
	char msg[512] = { 0 };
	int p[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		report_fd = p[1];
		fn(arg);
		exit(0); /* not _exit: LeakSanitizer checks the child here */
	}
	close(p[1]);
	if (read(p[0], msg, sizeof(msg) - 1) < 0)
		msg[0] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died (signal %d): %s",
		      WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg);
	ck_assert_msg(WEXITSTATUS(status) == 0, "child exited %d: %s",
		      WEXITSTATUS(status), msg);
}
