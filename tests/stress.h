/* SPDX-License-Identifier: MIT */
/* stress.h - integrity under load, for files and NVMe namespaces alike:
 * threads with a loop each, random mixed reads and writes on disjoint
 * blocks, one request per block at a time, every read checked against the
 * block's last version, every request's callback counted exactly once. */
#ifndef URIO_TEST_STRESS_H
#define URIO_TEST_STRESS_H

#include <stddef.h>
#include <stdint.h>

struct stress_opts {
	const char *path; /* each thread opens it with oflags */
	int oflags;
	unsigned threads;  /* at most 8 */
	unsigned blocks;   /* per thread */
	unsigned qd;	   /* in flight per thread */
	size_t bs;	   /* block size, a multiple of 4096 */
	uint64_t base;	   /* byte offset of thread 0's first block */
	unsigned ms;	   /* how long the mix runs */
	const char *label; /* for the line on stderr */
};

/* Runs the threads, joins them, and asserts (on the calling thread, the
 * case's own) what each recorded: no error, no mismatch, reads and writes
 * done, every accepted request's callback exactly once, a clean destroy. */
void stress_check(const struct stress_opts *o);

#endif
