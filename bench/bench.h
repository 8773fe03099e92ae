/* SPDX-License-Identifier: MIT */
/* bench.h - what urio-bench's parts share: the configuration its options
 * give (options.c), the target made ready as fio would (target.c), one
 * thread's job (urio-bench.c, the workload) and the totals its report
 * prints (report.c). */
#ifndef URIO_BENCH_H
#define URIO_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>

#include "hist.h"
#include "urio.h"

enum rw_mode { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_RANDRW };
enum engine { ENG_URING, ENG_AIO, ENG_PSYNC, ENG_PASSTHRU, ENG_COUNT };

extern const char *const rw_names[];
extern const char *const engine_names[];

#define BENCH_DEFAULT_SIZE (256ull << 20)

struct config {
	const char *path;
	enum engine engine;
	enum rw_mode rw;
	unsigned rwmix; /* % reads in randrw */
	size_t bs;
	unsigned qd, threads, entries, rings, spin_usec;
	uint64_t size;
	double runtime, ramp;
	bool json, direct, fixedbufs, regfiles, sqpoll, iopoll, verify, nop;
	bool sleep;	      /* URIO_LOOP_SLEEP */
	bool invalidate;      /* drop the target's page cache first (fio's 1) */
	const char *prepared; /* what target_prepare() did, in words */
	bool temp;	      /* path is urio-bench's own: unlinked once open */
	/* --verify: the target holds the pattern from this byte on, as laid
	 * out by urio-bench (UINT64_MAX: nowhere known, a target it found). */
	uint64_t pattern_from;
};

struct thread_job;

struct slot {
	struct thread_job *job;
	char *buf;
	uint64_t start_ns, block;
	bool write;
	bool timed; /* latency measured for this request */
};

struct thread_job {
	const struct config *cfg;
	unsigned idx;
	pthread_t th;
	urio_loop *loop;
	urio_target *target;
	int fd; /* psync */
	struct slot *slots;
	uint64_t start_ns, ramp_end_ns, deadline_ns;
	uint64_t nblocks, next_block, rng, issued;
	uint64_t ios, reads, writes, bytes, errors, verify_errors;
	atomic_uint_fast64_t progress_ios, progress_bytes;
	int first_error;
	const char *error_where;
	char where_buf[160]; /* error_where, when it needs numbers */
	bool stop, counting;
	uint64_t last_t;	/* the last time read, for untimed NOPs */
	struct rusage ru0, ru1; /* this thread, measured part */
	uint64_t t_meas0, t_meas1;
	char layout[1024];
	struct urio_layout lay;
	struct urio_stats st;	/* the loop's, after the run */
	char *wbitmap;		/* blocks written, for --verify */
	struct hist lat;	/* every timed request */
	struct hist lat_dir[2]; /* reads, writes apart (as fio reports) */
};

struct totals {
	uint64_t ios, bytes, errors, verify_errors, reads, writes;
	double secs, usr, sys;
	struct hist lat, lat_dir[2];
};

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* options.c: 0, or -1 after saying why on stderr (exit status 2). */
int parse_args(int argc, char **argv, struct config *c);

/* target.c */
/* Every block holds a pattern derived from its byte offset, so a file laid
 * out at one --bs verifies at another.  A target urio-bench did not lay
 * out (a block device, a file it found) is checked only where written. */
void fill_block(char *buf, size_t len, uint64_t block);
bool block_ok(const char *buf, size_t len, uint64_t block);
/* The default target: a temporary file of c->size in $TMPDIR or /tmp. */
int make_temp_file(struct config *c, char *path, size_t len);
/* Readies c->path as fio does (see target.c); sets c->size to the bytes
 * the run uses.  0, or -1 after saying why on stderr. */
int target_prepare(struct config *c);

/* report.c */
double tv_sec(struct timeval tv);
void report_json(const struct config *c, struct thread_job *jobs,
		 const struct totals *t);
void report_text(const struct config *c, struct thread_job *jobs,
		 const struct totals *t);
void progress(const struct config *c, struct thread_job *jobs, uint64_t start,
	      uint64_t *last_ios, uint64_t *last_bytes, uint64_t *last_t);

#endif
