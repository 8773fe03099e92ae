/* SPDX-License-Identifier: MIT */
/* check-test.c - a Check suite for code that uses urio.
 *
 * Check runs every test in a forked child (CK_FORK=yes, its default).  A
 * loop belongs to the process that created it: in a forked child its calls
 * return -EOWNERDEAD.  So each test's loop is made in a checked fixture,
 * which runs in the child before the test, and destroyed in its teardown;
 * not in main() or an unchecked fixture, which run in the parent.  The last
 * test shows what a loop made in the parent does in a test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <urio.h>

static urio_loop *loop;	       /* the test's own, from the fixture */
static urio_target *file;      /* an unlinked temporary file */
static urio_loop *parent_loop; /* made in main(), before the fork */
static pid_t parent;

struct call {
	int calls;
	int res;
};

static void record(urio_loop *l, int res, void *data)
{
	struct call *c = data;

	(void)l;
	c->calls++;
	c->res = res;
}

static void setup(void)
{
	struct urio_loop_opts opts = { .size = sizeof(opts),
				       .flags = URIO_LOOP_QUIET };
	char path[] = "/tmp/urio-check-XXXXXX";
	int fd, ret;

	ret = urio_loop_create(&loop, &opts);
	ck_assert_msg(ret == 0, "urio_loop_create: %s", urio_strerror(ret));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(urio_target_adopt(loop, &file, fd, NULL), 0);
}

static void teardown(void)
{
	/* Every test ends with nothing in flight and the loop gone. */
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
}

START_TEST(written_blocks_read_back)
{
	static char out[4][4096], in[4][4096];
	struct call w[4] = { 0 }, r[4] = { 0 };

	for (int i = 0; i < 4; i++) {
		memset(out[i], 'a' + i, sizeof(out[i]));
		ck_assert_int_gt(urio_write(file, out[i], 4096, i * 4096ull, 0,
					    record, &w[i]),
				 0);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(w[i].calls, 1);
		ck_assert_int_eq(w[i].res, 4096);
		ck_assert_int_gt(urio_read(file, in[i], 4096, i * 4096ull, 0,
					   record, &r[i]),
				 0);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(r[i].calls, 1);
		ck_assert_int_eq(r[i].res, 4096);
		ck_assert_mem_eq(in[i], out[i], 4096);
	}
}
END_TEST

START_TEST(cancelled_timeout_completes_once_with_ecanceled)
{
	struct call tmo = { 0 }, cancel = { 0 };
	urio_id id = urio_timeout(loop, 10ull * 1000000000, 0, record, &tmo);

	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, record, &cancel), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_int_eq(tmo.calls, 1);
	ck_assert_int_eq(tmo.res, -ECANCELED);
	ck_assert_int_eq(cancel.calls, 1);
	ck_assert_int_eq(cancel.res, 0);
}
END_TEST

START_TEST(loop_from_the_parent_is_refused_in_a_forked_test)
{
	struct call nop = { 0 };
	urio_id id = urio_nop(parent_loop, 0, record, &nop);

	if (getpid() == parent) {
		/* CK_FORK=no: the test runs in the loop's own process. */
		ck_assert_int_gt(id, 0);
		ck_assert_int_eq(urio_loop_run(parent_loop, URIO_RUN_DEFAULT),
				 1);
		ck_assert_int_eq(nop.calls, 1);
	} else {
		ck_assert_int_eq(id, -EOWNERDEAD);
		ck_assert_int_eq(nop.calls, 0);
		/* Frees this process's copy; the parent's loop lives on. */
		ck_assert_int_eq(urio_loop_destroy(parent_loop), 0);
	}
}
END_TEST

int main(void)
{
	struct urio_loop_opts opts = { .size = sizeof(opts),
				       .flags = URIO_LOOP_QUIET };
	Suite *s = suite_create("urio example");
	TCase *tc = tcase_create("io");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, written_blocks_read_back);
	tcase_add_test(tc, cancelled_timeout_completes_once_with_ecanceled);
	tcase_add_test(tc, loop_from_the_parent_is_refused_in_a_forked_test);
	suite_add_tcase(s, tc);

	parent = getpid();
	if (urio_loop_create(&parent_loop, &opts) < 0)
		return 1;
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	urio_loop_destroy(parent_loop);
	return failed ? 1 : 0;
}
