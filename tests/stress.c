/* SPDX-License-Identifier: MIT */
/* stress.c - the integrity stress of stress.h: each thread writes version 0
 * of its blocks, keeps qd requests in flight until its deadline, each on a
 * block no other request holds, and reads every block once more at the
 * end.  Every request gets a ticket of its own, so a second callback for a
 * request is seen even after its buffer slot was reissued.  Threads only
 * record; stress_check asserts once it has joined them. */
#include "stress.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers.h"

#define MAX_THREADS 8
#define MAX_QD	    64
#define MAX_TICKETS (1u << 21) /* requests per thread; pages commit on use */

struct worker;

struct ticket {
	struct worker *w;
	uint16_t slot; /* its buffer */
	bool write, done;
	uint32_t block, version;
};

struct worker {
	const struct stress_opts *o;
	unsigned idx;
	urio_loop *loop;
	urio_target *t;
	char *bufs;
	uint32_t *version; /* last version written, per block */
	bool *busy;	   /* a request on the block is in flight */
	bool mixing;	   /* reissue from the callback until the deadline */
	uint64_t rng, deadline_ms;
	struct ticket *tick;
	size_t ntick;
	uint64_t reads, writes, mismatches, errors, accepted, completed,
		extra_calls;
	char why[160]; /* the first error, in words */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void note(struct worker *w, const char *what, int err)
{
	w->errors++;
	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "%s: %s", what,
			 urio_strerror(err < 0 ? err : -EIO));
}

/* The pattern of a block depends on its thread, block and version. */
static uint64_t seed_of(const struct worker *w, uint32_t version)
{
	return ((uint64_t)w->idx << 40) ^ version;
}

static uint64_t offset_of(const struct worker *w, uint32_t block)
{
	return w->o->base +
	       ((uint64_t)w->idx * w->o->blocks + block) * w->o->bs;
}

static char *buf_of(const struct worker *w, unsigned slot)
{
	return w->bufs + (size_t)slot * w->o->bs;
}

static void done(urio_loop *loop, int res, void *data);

/* A request on block b from buffer slot; false when it was refused. */
static bool submit(struct worker *w, unsigned slot, uint32_t b, bool write)
{
	struct ticket *k;
	urio_id id;

	if (w->ntick == MAX_TICKETS)
		return false; /* ends the mix early; the totals still hold */
	k = &w->tick[w->ntick++];
	*k = (struct ticket){ .w = w,
			      .slot = (uint16_t)slot,
			      .write = write,
			      .block = b,
			      .version = w->version[b] + write };
	if (write)
		fill_pattern(buf_of(w, slot), w->o->bs, seed_of(w, k->version),
			     b);
	id = write ? urio_write(w->t, buf_of(w, slot), w->o->bs,
				offset_of(w, b), 0, done, k)
		   : urio_read(w->t, buf_of(w, slot), w->o->bs, offset_of(w, b),
			       0, done, k);
	if (id < 0) {
		k->done = true; /* never accepted: no callback to count */
		note(w, write ? "write refused" : "read refused", (int)id);
		return false;
	}
	w->busy[b] = true;
	w->accepted++;
	return true;
}

/* One request per block at a time: a read never races a write. */
static void issue_random(struct worker *w, unsigned slot)
{
	uint32_t b;

	do
		b = (uint32_t)(rnd(&w->rng) % w->o->blocks);
	while (w->busy[b]);
	submit(w, slot, b, (rnd(&w->rng) >> 20) & 1);
}

static void done(urio_loop *loop, int res, void *data)
{
	struct ticket *k = data;
	struct worker *w = k->w;

	(void)loop;
	if (k->done) {
		w->extra_calls++;
		return;
	}
	k->done = true;
	w->completed++;
	w->busy[k->block] = false;
	if (res != (int)w->o->bs) {
		note(w, k->write ? "write" : "read", res);
	} else if (k->write) {
		w->version[k->block] = k->version;
		w->writes++;
	} else {
		w->reads++;
		if (!check_pattern(buf_of(w, k->slot), w->o->bs,
				   seed_of(w, k->version), k->block))
			w->mismatches++;
	}
	if (w->mixing && now_ms() < w->deadline_ms)
		issue_random(w, k->slot);
}

/* Every block once, qd at a time: version 0 written, or the last version
 * read back and checked. */
static void every_block(struct worker *w, bool write)
{
	for (uint32_t b = 0; b < w->o->blocks; b += w->o->qd) {
		int ret;

		for (unsigned s = 0; s < w->o->qd && b + s < w->o->blocks; s++)
			submit(w, s, b + s, write);
		ret = urio_loop_run(w->loop, URIO_RUN_DEFAULT);
		if (ret < 0)
			note(w, "run", ret);
	}
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct urio_loop_opts lo = quiet_opts();
	int ret;

	lo.entries = 64;
	ret = urio_loop_create(&w->loop, &lo);
	if (ret < 0) {
		note(w, "loop", ret);
		return NULL;
	}
	ret = urio_target_open(w->loop, &w->t, w->o->path, w->o->oflags, 0,
			       NULL);
	if (ret < 0) {
		note(w, "open", ret);
	} else if (posix_memalign((void **)&w->bufs, 4096,
				  (size_t)w->o->qd * w->o->bs)) {
		note(w, "buffers", -ENOMEM);
	} else {
		every_block(w, true);
		w->mixing = true;
		for (unsigned s = 0; s < w->o->qd; s++)
			issue_random(w, s);
		ret = urio_loop_run(w->loop, URIO_RUN_DEFAULT);
		if (ret < 0)
			note(w, "run", ret);
		w->mixing = false;
		every_block(w, false);
	}
	ret = urio_loop_destroy(w->loop);
	if (ret != 0)
		note(w, "destroy", ret);
	return NULL;
}

void stress_check(const struct stress_opts *o)
{
	struct worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	uint64_t reads = 0, writes = 0;

	ck_assert_uint_le(o->threads, MAX_THREADS);
	ck_assert_uint_le(o->qd, MAX_QD);
	ck_assert_uint_ge(o->blocks, 2 * o->qd);
	ck_assert(o->bs && o->bs % 4096 == 0);
	memset(w, 0, sizeof(w));
	for (unsigned t = 0; t < o->threads; t++) {
		w[t].o = o;
		w[t].idx = t;
		w[t].rng = 0x9e3779b97f4a7c15ull * (t + 1);
		w[t].version = calloc(o->blocks, sizeof(uint32_t));
		w[t].busy = calloc(o->blocks, sizeof(bool));
		w[t].tick = calloc(MAX_TICKETS, sizeof(struct ticket));
		ck_assert(w[t].version && w[t].busy && w[t].tick);
		w[t].deadline_ms = now_ms() + o->ms;
		ck_assert_int_eq(
			pthread_create(&th[t], NULL, run_worker, &w[t]), 0);
	}
	for (unsigned t = 0; t < o->threads; t++) {
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
		ck_assert_msg(w[t].errors == 0, "thread %u: %llu errors, %s", t,
			      (unsigned long long)w[t].errors, w[t].why);
		ck_assert_uint_eq(w[t].mismatches, 0);
		ck_assert_msg(w[t].completed == w[t].accepted &&
				      !w[t].extra_calls,
			      "thread %u: of %llu requests, %llu called back, "
			      "%llu callbacks for a request already done",
			      t, (unsigned long long)w[t].accepted,
			      (unsigned long long)w[t].completed,
			      (unsigned long long)w[t].extra_calls);
		/* more than the version-0 writes and the final reads */
		ck_assert_uint_gt(w[t].reads, o->blocks);
		ck_assert_uint_gt(w[t].writes, o->blocks);
		reads += w[t].reads;
		writes += w[t].writes;
		free(w[t].version);
		free(w[t].busy);
		free(w[t].tick);
		free(w[t].bufs);
	}
	fprintf(stderr,
		"%s: %u threads, %llu reads, %llu writes, 0 mismatches, "
		"every callback once\n",
		o->label, o->threads, (unsigned long long)reads,
		(unsigned long long)writes);
}
