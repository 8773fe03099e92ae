/* SPDX-License-Identifier: MIT */
/* helpers.h - what the Check cases share: scratch files, loops on the
 * backend the runner chose, one record per request, a clean end for every
 * loop, forked children for faults that cannot be undone. */
#ifndef URIO_TEST_HELPERS_H
#define URIO_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "runner.h"
#include "urio.h"
#include "util.h"

/* Creates an empty file in dir, its path in buf.  ck_assert on failure. */
void make_path(const char *dir, char *buf, size_t len);
/* Whether files in dir can be opened with O_DIRECT (tmpfs: Linux 6.6+). */
bool dir_takes_direct(const char *dir);

/* The backend of the running case (runner.h), as urio names it. */
bool backend_is_aio(void);
/* Loop options with the case's backend and no log line on stderr. */
struct urio_loop_opts quiet_opts(void);
urio_loop *new_loop(unsigned entries, unsigned rings, unsigned cap);

/* ---- exactly once, per request -------------------------------------- */

/* One accepted request: how often its callback ran, and with what.  Every
 * request has its own (an array for many), so a duplicate of one and the
 * loss of another cannot cancel out as they would in a total. */
struct req {
	unsigned calls;
	int res;
};
void req_cb(urio_loop *loop, int res, void *data);

/* The callback of request r ran exactly once, with result want. */
#define ck_assert_req(r, want)                                               \
	ck_assert_msg((r).calls == 1 && (r).res == (want),                   \
		      "%s: %u callbacks, last result %d (%s); want one, %d", \
		      #r, (r).calls, (r).res, urio_strerror((r).res),        \
		      (int)(want))
/* Each of r[0..n) ran exactly once, with result a or b (a twice: a only):
 * every result a case accepts is named. */
#define ck_assert_reqs_in(r, n, a, b)                                          \
	do {                                                                   \
		for (size_t i_ = 0; i_ < (size_t)(n); i_++)                    \
			ck_assert_msg((r)[i_].calls == 1 &&                    \
					      ((r)[i_].res == (a) ||           \
					       (r)[i_].res == (b)),            \
				      "request %zu of %zu: %u callbacks, "     \
				      "result %d (%s); want one, %d or %d",    \
				      i_, (size_t)(n), (r)[i_].calls,          \
				      (r)[i_].res, urio_strerror((r)[i_].res), \
				      (int)(a), (int)(b));                     \
	} while (0)
#define ck_assert_reqs(r, n, want) ck_assert_reqs_in(r, n, want, want)
/* A request urio refused must never call back. */
#define ck_assert_no_callback(r) \
	ck_assert_msg((r).calls == 0, "%s: refused, yet called back", #r)

/* Every read, write, readv, writev, fsync and fdatasync on t returns err
 * (a NULL handle, a controller) and none calls back. */
void ck_assert_io_refused(urio_target *t, int err);

/* A total, for test_file_ops.c until it moves to struct req: new cases
 * count per request. */
struct tally {
	unsigned calls;
	int last;
	int64_t sum;
	unsigned errors;
};
void tally_cb(urio_loop *loop, int res, void *data);

/* ---- the end of every loop -------------------------------------------- */

/* Nothing left in flight (stats) and urio_loop_destroy() returns 0: 0, or
 * -1 with why filled in.  For threads and forked children, which cannot
 * assert; cases use DESTROY_CLEAN. */
int destroy_clean(urio_loop *loop, char *why, size_t len);
#define DESTROY_CLEAN(loop)                                                 \
	do {                                                                \
		char why_[192];                                             \
		ck_assert_msg(destroy_clean(loop, why_, sizeof(why_)) == 0, \
			      "%s", why_);                                  \
	} while (0)

/* ---- data -------------------------------------------------------------- */

/* Fills buf with a pattern derived from (seed, block). */
void fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t block);
bool check_pattern(const void *buf, size_t len, uint64_t seed, uint64_t block);

/* ---- faults that cannot be undone -------------------------------------- */

/* Runs fn(arg) in a forked child (seccomp, a dropped uid); asserts that it
 * exited 0.  In the child, REQUIRE fails it with a message the parent
 * asserts on. */
void in_child(void (*fn)(void *), void *arg);
void child_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
#define REQUIRE(cond, ...)                       \
	do {                                     \
		if (!(cond))                     \
			child_fail(__VA_ARGS__); \
	} while (0)

#endif
