/* SPDX-License-Identifier: MIT */
/* stress.c - the integrity stress worker: threads with a loop each write
 * version 0 of their blocks, mix random reads and writes until a deadline,
 * then read every block back.  Every accepted request has a record of its
 * own (never reused), so a late duplicate callback cannot pass as the first
 * call of a reissued request.  Threads only record; the caller asserts. */
#include "stress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

#define CHUNK 4096

struct worker;

struct rec {
	struct worker *w;
	unsigned slot; /* its buffer */
	uint32_t block, version;
	bool write;
	unsigned calls;
};

struct chunk {
	struct chunk *next;
	unsigned used;
	struct rec r[CHUNK];
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
	uint64_t rng, deadline;
	uint64_t reads, writes, mismatches, errors, accepted, lost, dups;
	struct chunk *chunks;
	char why[256]; /* the first error, in words */
};

static void note(struct worker *w, const char *what, int err)
{
	w->errors++;
	if (!w->why[0])
		snprintf(w->why, sizeof(w->why), "%s: %s", what,
			 urio_strerror(err));
}

static uint64_t seed_of(const struct worker *w, uint32_t version)
{
	return ((uint64_t)w->idx << 40) ^ version;
}

static uint64_t offset_of(const struct worker *w, uint32_t block)
{
	return w->o->base +
	       ((uint64_t)w->idx * w->o->blocks + block) * w->o->bs;
}

static struct rec *new_rec(struct worker *w)
{
	struct chunk *c = w->chunks;

	if (!c || c->used == CHUNK) {
		c = calloc(1, sizeof(*c));
		if (!c)
			return NULL;
		c->next = w->chunks;
		w->chunks = c;
	}
	return &c->r[c->used++];
}

static void done(urio_loop *loop, int res, void *data);

/* A request on block b from buffer slot; false when it was refused. */
static bool submit(struct worker *w, unsigned slot, uint32_t b, bool write)
{
	struct rec *r = new_rec(w);
	char *buf = w->bufs + (size_t)slot * w->o->bs;
	urio_id id;

	if (!r) {
		note(w, "record", -ENOMEM);
		return false;
	}
	*r = (struct rec){ .w = w, .slot = slot, .block = b, .write = write };
	r->version = w->version[b] + write;
	w->busy[b] = true;
	if (write) {
		fill_pattern(buf, w->o->bs, seed_of(w, r->version), b);
		id = urio_write(w->t, buf, w->o->bs, offset_of(w, b), 0, done,
				r);
	} else {
		id = urio_read(w->t, buf, w->o->bs, offset_of(w, b), 0, done,
			       r);
	}
	if (id < 0) {
		w->busy[b] = false;
		w->chunks->used--; /* never accepted: no callback to count */
		note(w, write ? "write refused" : "read refused", (int)id);
		return false;
	}
	w->accepted++;
	return true;
}

/* One request per block at a time: a read never races a write. */
static void issue_random(struct worker *w, unsigned slot)
{
	uint32_t b;

	do
		b = (uint32_t)(xorshift(&w->rng) % w->o->blocks);
	while (w->busy[b]);
	submit(w, slot, b, xorshift(&w->rng) & 1);
}

static void done(urio_loop *loop, int res, void *data)
{
	struct rec *r = data;
	struct worker *w = r->w;

	(void)loop;
	if (++r->calls > 1)
		return; /* counted at the end, from the records */
	w->busy[r->block] = false;
	if (res != (int)w->o->bs) {
		note(w, r->write ? "write" : "read", res);
	} else if (r->write) {
		w->version[r->block] = r->version;
		w->writes++;
	} else {
		w->reads++;
		if (!check_pattern(w->bufs + (size_t)r->slot * w->o->bs,
				   w->o->bs, seed_of(w, r->version), r->block))
			w->mismatches++;
	}
	if (w->mixing && now_ms() < w->deadline)
		issue_random(w, r->slot);
}

/* Every block once, qd at a time: version 0 written, or the last version
 * read back. */
static void every_block(struct worker *w, bool write)
{
	for (uint32_t b = 0; b < w->o->blocks; b += w->o->qd) {
		for (unsigned s = 0; s < w->o->qd && b + s < w->o->blocks; s++)
			submit(w, s, b + s, write);
		if (urio_loop_run(w->loop, URIO_RUN_DEFAULT) < 0)
			note(w, "run", -EIO);
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
	if (ret < 0 || posix_memalign((void **)&w->bufs, 4096,
				      (size_t)w->o->qd * w->o->bs)) {
		note(w, "open", ret < 0 ? ret : -ENOMEM);
		destroy_clean(w->loop, w->why, sizeof(w->why));
		return NULL;
	}
	every_block(w, true);
	w->mixing = true;
	for (unsigned s = 0; s < w->o->qd; s++)
		issue_random(w, s);
	ret = urio_loop_run(w->loop, URIO_RUN_DEFAULT);
	if (ret < 0)
		note(w, "run", ret);
	w->mixing = false;
	every_block(w, false);
	if (destroy_clean(w->loop, w->why + strlen(w->why),
			  sizeof(w->why) - strlen(w->why)))
		w->errors++;
	for (struct chunk *c = w->chunks; c; c = c->next)
		for (unsigned i = 0; i < c->used; i++) {
			w->lost += c->r[i].calls == 0;
			w->dups += c->r[i].calls > 1;
		}
	return NULL;
}

void stress_check(const struct stress_opts *o)
{
	struct worker w[8];
	pthread_t th[8];
	uint64_t reads = 0, writes = 0;

	ck_assert_uint_le(o->threads, 8);
	ck_assert_uint_ge(o->blocks, 2 * o->qd);
	memset(w, 0, sizeof(w));
	for (unsigned t = 0; t < o->threads; t++) {
		w[t].o = o;
		w[t].idx = t;
		w[t].rng = 0x9e3779b97f4a7c15ull * (t + 1);
		w[t].version = calloc(o->blocks, sizeof(uint32_t));
		w[t].busy = calloc(o->blocks, sizeof(bool));
		ck_assert(w[t].version && w[t].busy);
		w[t].deadline = now_ms() + o->ms;
		ck_assert_int_eq(
			pthread_create(&th[t], NULL, run_worker, &w[t]), 0);
	}
	for (unsigned t = 0; t < o->threads; t++) {
		struct chunk *c;

		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
		ck_assert_msg(w[t].errors == 0, "thread %u: %llu errors, %s", t,
			      (unsigned long long)w[t].errors, w[t].why);
		ck_assert_uint_eq(w[t].mismatches, 0);
		ck_assert_msg(w[t].lost == 0 && w[t].dups == 0,
			      "thread %u: of %llu requests, %llu never called "
			      "back, %llu called back twice or more",
			      t, (unsigned long long)w[t].accepted,
			      (unsigned long long)w[t].lost,
			      (unsigned long long)w[t].dups);
		ck_assert_uint_gt(w[t].reads, o->blocks);
		ck_assert_uint_gt(w[t].writes, o->blocks);
		reads += w[t].reads;
		writes += w[t].writes;
		free(w[t].version);
		free(w[t].busy);
		free(w[t].bufs);
		while ((c = w[t].chunks)) {
			w[t].chunks = c->next;
			free(c);
		}
	}
	fprintf(stderr,
		"%s: %u threads, %llu reads, %llu writes, 0 mismatches, "
		"every callback once\n",
		o->label, o->threads, (unsigned long long)reads,
		(unsigned long long)writes);
}
