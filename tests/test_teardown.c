/* SPDX-License-Identifier: MIT */
/* test_teardown.c - every step of loop creation fails in turn: the partial
 * loop is torn down (no fd left open, no leak under LeakSanitizer), nothing
 * crashes, and the error names the step.  The kernel makes the faults it
 * can (seccomp on eventfd2, io_uring_register, io_uring_setup); build-time
 * hooks (-Dfault_injection=true, as CI's sanitizer build) make the
 * allocation failures. */
#include "fault.h"
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

struct logged {
	char last[256];
	unsigned lines;
};

static void keep_log(void *arg, const char *msg)
{
	struct logged *l = arg;

	l->lines++;
	snprintf(l->last, sizeof(l->last), "%s", msg);
}

struct step_case {
	const char *name;
	long nr;	   /* syscall made to fail, or 0 */
	int err;	   /* its errno */
	const char *fault; /* or a build-time fault site */
	unsigned rings, backend;
	size_t buf_bytes;
	int want;	  /* what urio_loop_create returns */
	const char *step; /* what the log line names, or NULL */
	bool open_target; /* the failure is in urio_target_open */
};

/* Faults the kernel makes: seccomp in a forked child. */
static const struct step_case kernel_faults[] = {
	{ "eventfd", SYS_eventfd2, EMFILE, NULL, 1, 0, 0, -EMFILE,
	  "wake-up eventfd", false },
	{ "register for the wake-up of ring 2", SYS_io_uring_register, EPERM,
	  NULL, 2, 0, 0, -EPERM, "wake-up eventfd", false },
	{ "buffer registration", SYS_io_uring_register, EPERM, NULL, 1, 0,
	  1 << 20, -EPERM, "registered buffer pool", false },
	{ "io_uring_setup, io_uring forced", SYS_io_uring_setup, EPERM, NULL, 1,
	  URIO_BACKEND_URING, 0, -EPERM, "io_uring rings", false },
	{ "io_setup, libaio forced", SYS_io_setup, ENOSYS, NULL, 1,
	  URIO_BACKEND_AIO, 0, -ENOSYS, "libaio context", false },
};

/* Allocation failures: build-time hooks ($URIO_FAULT=site). */
static const struct step_case injected[] = {
	{ "loop allocation", 0, 0, "loop", 1, 0, 0, -ENOMEM, NULL, false },
	{ "ring allocation", 0, 0, "ring", 1, URIO_BACKEND_URING, 0, -ENOMEM,
	  "io_uring rings", false },
	{ "engine table", 0, 0, "engines", 3, URIO_BACKEND_URING, 0, -ENOMEM,
	  "io_uring rings", false },
	{ "request pool", 0, 0, "pool", 2, 0, 0, -ENOMEM, "request pool",
	  false },
	{ "eventfd, injected", 0, 0, "eventfd", 2, 0, 0, -EMFILE,
	  "wake-up eventfd", false },
	{ "libaio context, injected", 0, 0, "aio", 1, URIO_BACKEND_AIO, 0,
	  -ENOMEM, "libaio context", false },
	{ "target allocation", 0, 0, "target", 1, 0, 0, -ENOMEM, NULL, true },
};

#define ROWS(a) (sizeof(a) / sizeof((a)[0]))

static void step_child(void *arg)
{
	const struct step_case *c = arg;
	struct urio_loop_opts o = quiet_opts();
	struct logged log = { { 0 }, 0 };
	urio_loop *loop = (urio_loop *)&log;
	urio_target *t;
	int before, ret;

	o.rings = c->rings;
	o.backend = c->backend;
	o.buf_bytes = c->buf_bytes;
	o.log = keep_log;
	o.log_arg = &log;
	before = fault_count_fds();
	if (c->nr)
		REQUIRE(fault_syscall(c->nr, c->err) == 0, "seccomp");
	else
		setenv("URIO_FAULT", c->fault, 1);
	if (c->open_target) {
		unsetenv("URIO_FAULT");
		REQUIRE(urio_loop_create(&loop, &o) == 0, "create");
		setenv("URIO_FAULT", c->fault, 1);
		before = fault_count_fds();
		ret = urio_target_open(loop, &t, "/dev/null", O_RDONLY, 0,
				       NULL);
		REQUIRE(ret == c->want, "%s: open returned %d", c->name, ret);
		REQUIRE(t == NULL, "%s: target set on failure", c->name);
		REQUIRE(fault_count_fds() == before, "%s: fd left open",
			c->name);
		unsetenv("URIO_FAULT");
		REQUIRE(destroy_clean(loop, log.last, sizeof(log.last)) == 0,
			"%s", log.last);
		return;
	}
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == c->want, "%s: create returned %d (%s), log: %s", c->name,
		ret, urio_strerror(ret), log.last);
	REQUIRE(loop == NULL, "%s: loop set on failure", c->name);
	REQUIRE(fault_count_fds() == before, "%s: %d fds before, %d after",
		c->name, before, fault_count_fds());
	if (c->step)
		REQUIRE(strstr(log.last, c->step) && strstr(log.last, "failed"),
			"%s: log line '%s' does not name '%s'", c->name,
			log.last, c->step);
}

START_LOOP_TEST(each_creation_step_fails_cleanly_and_is_named,
		ROWS(kernel_faults))
{
	const struct step_case *c = &kernel_faults[_i];
	struct rlimit ml;

	/* Under a small limit the pool is cut before it is registered. */
	ck_assert_int_eq(getrlimit(RLIMIT_MEMLOCK, &ml), 0);
	if (c->buf_bytes && geteuid() != 0 && ml.rlim_cur != RLIM_INFINITY &&
	    ml.rlim_cur < 2 * c->buf_bytes)
		SKIP("%s: RLIMIT_MEMLOCK of %llu KiB cannot hold the pool",
		     c->name, (unsigned long long)ml.rlim_cur >> 10);
	in_child(step_child, (void *)c);
}
END_TEST

START_LOOP_TEST(each_allocation_failure_is_clean_and_named, ROWS(injected))
{
	in_child(step_child, (void *)&injected[_i]);
}
END_TEST

/* The fd limit is a fault that can be undone: lowered, each step of
 * creation that needs a descriptor fails in turn, in this process; raised
 * again, a loop made here works.  Nothing a failed creation left behind
 * (fds, state of the library) may get in its way. */
START_TEST(a_loop_made_after_failed_creations_works)
{
	struct urio_loop_opts o = quiet_opts();
	struct rlimit old, low;
	struct req r[8] = { 0 };
	urio_loop *loop;
	int first_free, before, ret = -EMFILE;
	unsigned spare;

	o.rings = 2;
	o.backend = URIO_BACKEND_URING;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	first_free = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(first_free, 0);
	close(first_free);
	before = fault_count_fds();
	/* Room for no descriptor, then one more each time. */
	for (spare = 0; spare < 16 && ret == -EMFILE; spare++) {
		low = old;
		low.rlim_cur = (rlim_t)first_free + spare;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
		loop = (urio_loop *)&low;
		ret = urio_loop_create(&loop, &o);
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
		if (ret == -EMFILE) {
			ck_assert_ptr_null(loop);
			ck_assert_int_eq(fault_count_fds(), before);
		}
	}
	/* It failed for want of descriptors, then worked with enough. */
	ck_assert_msg(ret == 0, "with %u spare fds: %s", spare - 1,
		      urio_strerror(ret));
	ck_assert_uint_ge(spare, 2);
	DESTROY_CLEAN(loop);
	ck_assert_int_eq(fault_count_fds(), before);
#ifdef URIO_FAULT_INJECTION
	/* Each allocation failure, here too, then none. */
	for (size_t i = 0; i < ROWS(injected); i++) {
		const struct step_case *c = &injected[i];

		if (c->open_target)
			continue;
		o = quiet_opts();
		o.rings = c->rings;
		o.backend = c->backend;
		ck_assert_int_eq(setenv("URIO_FAULT", c->fault, 1), 0);
		ret = urio_loop_create(&loop, &o);
		ck_assert_int_eq(unsetenv("URIO_FAULT"), 0);
		ck_assert_msg(ret == c->want, "%s: %d", c->name, ret);
		ck_assert_int_eq(fault_count_fds(), before);
	}
#endif
	loop = new_loop(8, 2, 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &r[i]), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 8);
	ck_assert_reqs(r, 8, 0);
	DESTROY_CLEAN(loop);
	ck_assert_int_eq(fault_count_fds(), before);
}
END_TEST
