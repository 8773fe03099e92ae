/* SPDX-License-Identifier: MIT */
/* helpers.c - scratch files, quiet loops and counting callbacks for the
 * Check suites. */
#include "helpers.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

const char *tmpfs_dir(void)
{
	struct statfs fs;

	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
	    access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	return NULL;
}

const char *disk_dir(void)
{
	const char *d = getenv("URIO_TEST_DISK_DIR");

	return d && *d ? d : "/var/tmp";
}

void make_path(const char *dir, char *buf, size_t len)
{
	int fd;

	snprintf(buf, len, "%s/urio-test.XXXXXX", dir);
	fd = mkstemp(buf);
	ck_assert_msg(fd >= 0, "mkstemp in %s: %s", dir, strerror(errno));
	close(fd);
}

bool backend_is_aio(void)
{
	const char *b = getenv("URIO_TEST_BACKEND");

	return b && !strcmp(b, "aio");
}

struct urio_loop_opts quiet_opts(void)
{
	struct urio_loop_opts o = { .size = sizeof(o) };

	o.flags = URIO_LOOP_QUIET;
	if (backend_is_aio())
		o.backend = URIO_BACKEND_AIO;
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

int in_child(void (*fn)(void *), void *arg)
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
	ck_assert_msg(WIFEXITED(status), "child died: %s", msg);
	if (WEXITSTATUS(status) == 77)
		return 77;
	ck_assert_msg(WEXITSTATUS(status) == 0, "%s", msg);
	return 0;
}
