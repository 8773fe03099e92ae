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

static const struct step_case cases[] = {
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
		REQUIRE(urio_loop_destroy(loop) == 0, "destroy");
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

START_TEST(each_creation_step_fails_cleanly_and_is_named)
{
	const struct step_case *c = &cases[_i];

	if (c->fault) {
#ifndef URIO_FAULT_INJECTION
		SKIP("%s: needs -Dfault_injection=true (CI's sanitizer build)",
		     c->name);
#endif
	}
	in_child(step_child, (void *)c);
}
END_TEST

START_TEST(a_loop_made_after_the_faults_works)
{
	struct tally t = { 0 };
	urio_loop *loop = new_loop(8, 2, 0);

	ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &t), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("teardown");
	TCase *tc = tcase_create("teardown");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, each_creation_step_fails_cleanly_and_is_named,
			    0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, a_loop_made_after_the_faults_works);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
