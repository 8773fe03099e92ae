/* SPDX-License-Identifier: MIT */
/* plan.h - the ring planner's inputs and outputs (see plan.c). */
#ifndef URIO_PLAN_H
#define URIO_PLAN_H

#include <stdbool.h>
#include <stdint.h>

/* How to give a process more locked memory: every message about
 * RLIMIT_MEMLOCK ends with it. */
#define URIO_MEMLOCK_FIX                                               \
	"'ulimit -l', a 'memlock' line in /etc/security/limits.conf, " \
	"or CAP_IPC_LOCK"

struct urio_plan_in {
	uint64_t memlock_limit; /* RLIMIT_MEMLOCK soft limit, bytes */
	uint64_t locked;	/* already locked (VmLck), bytes */
	bool unlimited;		/* CAP_IPC_LOCK: the limit does not apply */
	unsigned page_size;	/* 0: 4096 */
	unsigned sqe_size;	/* 64, or 128 for SQE128; 0: 64 */
	unsigned cqe_size;	/* 16, or 32 for CQE32; 0: 16 */
	unsigned entries;	/* SQ entries per ring wanted; 0: 256 */
	unsigned cq_entries;	/* CQ entries per ring; 0: 2 x entries */
	unsigned rings;		/* rings wanted; 0: 1 */
	unsigned min_entries;	/* floor when cutting; 0: 8 */
	unsigned max_rings;	/* bound when adding rings; 0: 16 */
	uint64_t buf_bytes;	/* registered buffers wanted, per ring */
};

#define URIO_PLAN_CUT_RINGS (1u << 0) /* fewer entries or rings than asked */
#define URIO_PLAN_CUT_BUFS  (1u << 1) /* a smaller buffer pool, or none */

struct urio_plan_out {
	unsigned entries, cq_entries, rings;
	uint64_t ring_bytes; /* one ring's charge */
	uint64_t ring_total; /* all rings */
	uint64_t buf_bytes;  /* buffer pool per ring (0: none) */
	uint64_t total;	     /* everything planned */
	uint64_t need_bytes; /* on failure: what the smallest ring needs */
	unsigned cut;	     /* URIO_PLAN_CUT_* */
	char why[320];	     /* on failure: which limit, and how to raise it */
};

/* Charge of one ring of entries SQEs and cq_entries CQEs (0: 2x). */
uint64_t urio_plan_ring_bytes(const struct urio_plan_in *in, unsigned entries,
			      unsigned cq_entries);
/* 0 and a layout that fits, or -ENOMEM with out->why filled in. */
int urio_plan(const struct urio_plan_in *in, struct urio_plan_out *out);

#endif
