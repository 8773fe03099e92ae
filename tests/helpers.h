/* SPDX-License-Identifier: MIT */
/* helpers.h - what the Check suites share: scratch files on tmpfs and on
 * disk, counting callbacks, and one main() for every suite. */
#ifndef URIO_TEST_HELPERS_H
#define URIO_TEST_HELPERS_H

#include <check.h>

#include "check_main.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "urio.h"

/* A directory on tmpfs (/dev/shm), or NULL when there is none. */
const char *tmpfs_dir(void);
/* A directory on a disk file system ($URIO_TEST_DISK_DIR or /var/tmp). */
const char *disk_dir(void);
/* Creates an empty file in dir; returns its path (static buffer per call
 * site is the caller's: pass buf).  ck_assert on failure. */
void make_path(const char *dir, char *buf, size_t len);

/* The backend the suites run on: $URIO_TEST_BACKEND=aio for libaio (the
 * same test bodies on both backends, as libuv does). */
bool backend_is_aio(void);
/* Pipes block inside io_submit under libaio: such tests run on io_uring. */
#define SKIP_ON_AIO()                                                        \
	do {                                                                 \
		if (backend_is_aio())                                        \
			SKIP("a pipe read would block io_submit on libaio"); \
	} while (0)

/* Loop options with defaults and no log line on stderr. */
struct urio_loop_opts quiet_opts(void);
urio_loop *new_loop(unsigned entries, unsigned rings, unsigned cap);

/* A callback that records results. */
struct tally {
	unsigned calls;
	int last;
	int64_t sum;
	unsigned errors;
};
void tally_cb(urio_loop *loop, int res, void *data);

/* Fills buf with a pattern derived from (seed, block). */
void fill_pattern(void *buf, size_t len, uint64_t seed, uint64_t block);
bool check_pattern(const void *buf, size_t len, uint64_t seed, uint64_t block);

/* Runs fn(arg) in a forked child, for faults that cannot be undone
 * (seccomp, a dropped uid); returns 77 if the child skipped (exit 77).
 * In the child, REQUIRE fails it with a message the parent asserts on. */
int in_child(void (*fn)(void *), void *arg);
void child_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
#define REQUIRE(cond, ...)                       \
	do {                                     \
		if (!(cond))                     \
			child_fail(__VA_ARGS__); \
	} while (0)

/* Prints why a test did not run; the test then returns (Check has no skip). */
#define SKIP(...)                                       \
	do {                                            \
		fprintf(stderr, "SKIP %s: ", __func__); \
		fprintf(stderr, __VA_ARGS__);           \
		fprintf(stderr, "\n");                  \
		return;                                 \
	} while (0)

#endif
