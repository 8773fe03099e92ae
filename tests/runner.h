/* SPDX-License-Identifier: MIT */
/* runner.h - what a Check case needs from the runner: cases the list in
 * test-list.h can name, the properties it gives them, a skip that is not a
 * pass, and the backend a case runs on.
 *
 * A case is a Check body (START_TEST ... END_TEST) in tests/test_<group>.c
 * and one line in test-list.h; runner.c is the one main() that runs them. */
#ifndef URIO_TEST_RUNNER_H
#define URIO_TEST_RUNNER_H

#include <check.h>
#include <stdbool.h>

/* As Check's, but the case is visible outside its file, so that runner.c
 * can find it from test-list.h; the old static pointer stays, for suites
 * not yet on the list (URIO_TEST_MAIN below). */
#undef START_TEST
#define START_TEST(name)                                                  \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED);                \
	extern const TTest name##_ttest;                                  \
	const TTest name##_ttest = { "" #name, name##_fn, __FILE__,       \
				     __LINE__ };                          \
	static const TTest *name __attribute__((unused)) = &name##_ttest; \
	static void name##_fn(int _i CK_ATTRIBUTE_UNUSED)

/* A table-driven case: runs once per row, _i the row (Check's loop test). */
#define START_LOOP_TEST(name, rows)           \
	extern const int name##_loops;        \
	const int name##_loops = (int)(rows); \
	START_TEST(name)

/* Properties (the list's fourth column); the runner checks them before it
 * runs a case, and reports the case skipped, with the reason, when one is
 * not met here. */
#define T_ROOT	  (1u << 0) /* root: drops to other uids, locks memory */
#define T_MOUNT	  (1u << 1) /* root, and a mount namespace of its own */
#define T_LOOPDEV (1u << 2) /* losetup and /dev/loop-control */
#define T_NVME	  (1u << 3) /* an NVMe namespace at /dev/ng0n1 */
#define T_FAULTS  (1u << 4) /* built with -Dfault_injection=true */
#define T_LIBAIO  (1u << 5) /* built with the libaio backend */
#define T_BENCH	  (1u << 6) /* urio-bench built ($URIO_BENCH) */
#define T_TMPFS	  (1u << 7) /* a tmpfs at /dev/shm */
/* Also runs in one process with the others (CK_FORK=no), as in a user's
 * own harness: meson's <group>-nofork test. */
#define T_NOFORK (1u << 8)
/* Must not run beside other test programs (locked memory is charged per
 * user, mounts, ports): the group's meson tests are not parallel. */
#define T_SERIAL (1u << 9)

/* The backend the running case is on: loops the helpers make use it. */
enum test_backend { TB_AUTO, TB_URING, TB_AIO };
enum test_backend test_backend(void);

/* Ends the case as skipped, with why: a skip, not a pass, in every report.
 * Only from the body of a case (it returns from the calling function);
 * conditions known before a case runs belong in its properties. */
#define SKIP(...)                            \
	do {                                 \
		test_skip_mark(__VA_ARGS__); \
		return;                      \
	} while (0)
void test_skip_mark(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For suites still built around their own suite(): runs it and reports
 * skips as skips (exit 77 when every case skipped). */
int test_run_suite(Suite *s);
#define URIO_TEST_MAIN(make_suite)                   \
	int main(void)                               \
	{                                            \
		return test_run_suite(make_suite()); \
	}

/* Between the runner and the running case (case.c). */
void test_set_backend(enum test_backend b);
const char *test_skip_reason(TestResult *tr);
bool test_skip_allowed(const char *group, const char *name);

#endif
