/* SPDX-License-Identifier: MIT */
/* stress.c - the integrity stress of stress.h: each thread writes version 0
 * of its blocks, then keeps qd requests in flight until its deadline, each
 * on a block no other request holds, and reads every block once more at the
 * end.  Every request gets its own ticket, so a second callback for one
 * request is seen even when its op slot has been reissued since. */
#include "stress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define MAX_TICKETS (1u << 21) /* requests per thread; pages commit on use */

struct worker;

struct ticket {
	struct worker *w;
	uint16_t op;
	bool done;
};

struct op {
	uint32_t block, version;
	bool write;
	char *buf;
};

struct worker {
	const struct stress_opts *o;
	struct stress_result *res;
	unsigned idx;
	uint32_t *version; /* last version written, per block */
	bool *busy;	   /* a request on the block is in flight */
	uint64_t rng, deadline_ms;
	struct ticket *tick;
	size_t ntick;
	struct op ops[STRESS_MAX_QD];
	urio_loop *loop;
	urio_target *t;
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

/* The pattern of a block depends on its thread, block and version. */
static uint64_t seed_of(const struct worker *w, uint32_t version)
{
	return ((uint64_t)w->idx << 40) ^ version;
}

static uint64_t offset_of(const struct worker *w, uint32_t block)
{
	return w->o->base +
	       ((uint64_t)w->idx * w->o->blocks + block) * STRESS_BS;
}

static void failed(struct worker *w, int err)
{
	w->res->errors++;
	if (!w->res->first_error)
		w->res->first_error = err ? err : -EIO;
}

static void issue(struct worker *w, unsigned i);

static void done(urio_loop *loop, int res, void *data)
{
	struct ticket *k = data;
	struct worker *w = k->w;
	struct op *o = &w->ops[k->op];

	(void)loop;
	if (k->done) {
		w->res->extra_calls++;
		return;
	}
	k->done = true;
	w->res->completed++;
	w->busy[o->block] = false;
	if (res != STRESS_BS) {
		failed(w, res < 0 ? res : -EIO);
	} else if (o->write) {
		w->version[o->block] = o->version;
		w->res->writes++;
	} else {
		w->res->reads++;
		if (!check_pattern(o->buf, STRESS_BS, seed_of(w, o->version),
				   o->block))
			w->res->mismatches++;
	}
	if (now_ms() < w->deadline_ms)
		issue(w, k->op);
}

static void issue(struct worker *w, unsigned i)
{
	struct op *o = &w->ops[i];
	struct ticket *k;
	urio_id id;

	if (w->ntick == MAX_TICKETS)
		return; /* ends the run early; the totals still hold */
	k = &w->tick[w->ntick++];
	*k = (struct ticket){ .w = w, .op = (uint16_t)i };
	/* One request per block at a time: a read never races a write. */
	do
		o->block = (uint32_t)(rnd(&w->rng) % w->o->blocks);
	while (w->busy[o->block]);
	o->write = (rnd(&w->rng) >> 20) & 1;
	if (o->write) {
		o->version = w->version[o->block] + 1;
		fill_pattern(o->buf, STRESS_BS, seed_of(w, o->version),
			     o->block);
		id = urio_write(w->t, o->buf, STRESS_BS, offset_of(w, o->block),
				0, done, k);
	} else {
		o->version = w->version[o->block];
		id = urio_read(w->t, o->buf, STRESS_BS, offset_of(w, o->block),
			       0, done, k);
	}
	if (id > 0) {
		w->busy[o->block] = true;
		w->res->accepted++;
	} else {
		k->done = true;
		failed(w, (int)id);
	}
}

/* Writes (or reads and checks) every block, qd at a time. */
static int every_block(struct worker *w, char *bufs, bool write)
{
	for (uint32_t b0 = 0; b0 < w->o->blocks; b0 += w->o->qd) {
		struct tally t = { 0 };
		unsigned n = w->o->blocks - b0 < w->o->qd ? w->o->blocks - b0
							  : w->o->qd;
		int ret;

		for (unsigned i = 0; i < n; i++) {
			char *p = bufs + (size_t)i * STRESS_BS;
			uint32_t b = b0 + i;

			if (write)
				fill_pattern(p, STRESS_BS, seed_of(w, 0), b);
			ret = (int)(write ? urio_write(w->t, p, STRESS_BS,
						       offset_of(w, b), 0,
						       tally_cb, &t)
					  : urio_read(w->t, p, STRESS_BS,
						      offset_of(w, b), 0,
						      tally_cb, &t));
			if (ret < 0)
				return ret;
		}
		ret = urio_loop_run(w->loop, URIO_RUN_DEFAULT);
		if (ret < 0)
			return ret;
		if (t.calls != n || t.errors)
			return t.last < 0 ? t.last : -EIO;
		for (unsigned i = 0; !write && i < n; i++)
			if (!check_pattern(
				    bufs + (size_t)i * STRESS_BS, STRESS_BS,
				    seed_of(w, w->version[b0 + i]), b0 + i))
				w->res->final_mismatches++;
	}
	return 0;
}

/* After the run: every block at its last version, read through urio, and
 * through pread as well when the fd is the caller's. */
static int check_all(struct worker *w, char *bufs)
{
	int ret = every_block(w, bufs, false);

	for (uint32_t b = 0; ret == 0 && !w->o->path && b < w->o->blocks; b++) {
		if (pread(w->o->fd, bufs, STRESS_BS, (off_t)offset_of(w, b)) !=
		    STRESS_BS)
			return -errno ? -errno : -EIO;
		if (!check_pattern(bufs, STRESS_BS, seed_of(w, w->version[b]),
				   b))
			w->res->final_mismatches++;
	}
	return ret;
}

static int setup(struct worker *w, char **bufs)
{
	struct urio_loop_opts lo = quiet_opts();
	const struct stress_opts *o = w->o;
	int ret;

	lo.backend = (enum urio_backend)o->backend;
	lo.entries = 64;
	ret = urio_loop_create(&w->loop, &lo);
	if (ret < 0)
		return ret;
	ret = o->path ? urio_target_open(w->loop, &w->t, o->path,
					 O_RDWR | o->oflags, 0, NULL)
		      : urio_target_adopt(w->loop, &w->t, o->fd, NULL);
	if (ret < 0)
		return ret;
	w->version = calloc(o->blocks, sizeof(*w->version));
	w->busy = calloc(o->blocks, sizeof(*w->busy));
	w->tick = calloc(MAX_TICKETS, sizeof(*w->tick));
	if (!w->version || !w->busy || !w->tick ||
	    posix_memalign((void **)bufs, 4096, (size_t)o->qd * STRESS_BS))
		return -ENOMEM;
	return every_block(w, *bufs, true); /* version 0 of every block */
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	char *bufs = NULL;
	int ret = setup(w, &bufs);

	if (ret == 0) {
		w->deadline_ms = now_ms() + w->o->ms;
		for (unsigned i = 0; i < w->o->qd; i++) {
			w->ops[i].buf = bufs + (size_t)i * STRESS_BS;
			issue(w, i);
		}
		ret = urio_loop_run(w->loop, URIO_RUN_DEFAULT);
		if (ret < 0)
			failed(w, ret);
		ret = check_all(w, bufs);
	}
	if (ret < 0)
		w->res->setup = ret;
	if (w->loop && urio_loop_destroy(w->loop) != 0 && !w->res->setup)
		w->res->setup = -EBUSY; /* something was still in flight */
	free(bufs);
	free(w->version);
	free(w->busy);
	free(w->tick);
	return NULL;
}

int stress_run(const struct stress_opts *opts, struct stress_result *res)
{
	struct worker w[STRESS_MAX_THREADS];
	pthread_t th[STRESS_MAX_THREADS];
	unsigned started = 0;
	int ret = 0;

	if (opts->threads > STRESS_MAX_THREADS || opts->qd > STRESS_MAX_QD ||
	    !opts->qd || opts->qd > opts->blocks)
		return -EINVAL;
	memset(w, 0, sizeof(w));
	memset(res, 0, opts->threads * sizeof(*res));
	for (unsigned i = 0; i < opts->threads; i++) {
		w[i].o = opts;
		w[i].res = &res[i];
		w[i].idx = i;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		res[i].create = pthread_create(&th[i], NULL, run_worker, &w[i]);
		if (res[i].create) {
			ret = -res[i].create;
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	return ret;
}

const char *stress_fault(const struct stress_result *r, unsigned i, char *buf,
			 size_t len)
{
	if (r->create)
		snprintf(buf, len, "thread %u: pthread_create: %s", i,
			 strerror(r->create));
	else if (r->setup)
		snprintf(buf, len, "thread %u: set-up or final check: %s", i,
			 urio_strerror(r->setup));
	else if (r->errors)
		snprintf(buf, len, "thread %u: %llu failed requests, first %s",
			 i, (unsigned long long)r->errors,
			 urio_strerror(r->first_error));
	else if (r->mismatches || r->final_mismatches)
		snprintf(buf, len,
			 "thread %u: %llu reads and %llu final blocks did "
			 "not match",
			 i, (unsigned long long)r->mismatches,
			 (unsigned long long)r->final_mismatches);
	else if (r->extra_calls || r->completed != r->accepted)
		snprintf(buf, len,
			 "thread %u: %llu accepted, %llu completed, %llu "
			 "second callbacks",
			 i, (unsigned long long)r->accepted,
			 (unsigned long long)r->completed,
			 (unsigned long long)r->extra_calls);
	else if (!r->reads || !r->writes)
		snprintf(buf, len,
			 "thread %u: no work (%llu reads, %llu writes)", i,
			 (unsigned long long)r->reads,
			 (unsigned long long)r->writes);
	else
		return NULL;
	return buf;
}
