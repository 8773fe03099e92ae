/* SPDX-License-Identifier: MIT */
/* stress.h - integrity under load, for any suite: threads with a loop each
 * issue random mixed reads and writes of checksummed 4 KiB blocks on
 * disjoint ranges of one target, one request per block at a time, and check
 * every read against the block's last version.  The threads only record;
 * the caller asserts on the results once stress_run has joined them (Check
 * cannot see an assertion made on another thread). */
#ifndef URIO_TEST_STRESS_H
#define URIO_TEST_STRESS_H

#include <stdint.h>

#include "urio.h"

#define STRESS_BS	   4096
#define STRESS_MAX_THREADS 8
#define STRESS_MAX_QD	   64

struct stress_opts {
	const char *path; /* each thread opens it O_RDWR | oflags, or ... */
	int fd;		  /* ... adopts this fd, when path is NULL */
	int oflags;
	int backend;		      /* enum urio_backend */
	unsigned threads, blocks, qd; /* blocks and queue depth per thread */
	unsigned ms;		      /* how long the threads keep issuing */
	uint64_t base;		      /* byte offset of thread 0's block 0 */
};

struct stress_result {
	int setup;	 /* 0 or the first set-up error (negative errno) */
	int create;	 /* pthread_create's result */
	int first_error; /* the first failed result (negative errno) */
	uint64_t reads, writes, errors, mismatches;
	uint64_t accepted, completed;
	uint64_t extra_calls; /* callbacks for a request already completed */
	uint64_t final_mismatches; /* blocks not at their last version after */
};

/* Runs the threads and joins them; res has opts->threads entries.  Returns
 * 0, or the first pthread_create error (as a negative errno); the workers'
 * own failures are only in res. */
int stress_run(const struct stress_opts *opts, struct stress_result *res);

/* A sentence on what thread i did wrong, or NULL if nothing: the totals
 * must show work done, every accepted request completed exactly once, no
 * error and no mismatch. */
const char *stress_fault(const struct stress_result *res, unsigned i, char *buf,
			 size_t len);

#endif
