/* SPDX-License-Identifier: MIT */
/* test_integrity_stress.c - random mixed reads and writes with checksummed
 * blocks, on several threads each with its own loop, on io_uring and on
 * libaio: every byte verified, every callback counted exactly once. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BS		  4096
#define BLOCKS_PER_THREAD 512
#define QD		  32
#define THREADS		  3

struct worker;

struct op {
	struct worker *w;
	uint32_t block;
	uint32_t version;
	bool write;
	char *buf;
	unsigned calls;
};

struct worker {
	int fd;
	unsigned idx;
	bool aio;
	uint32_t *version; /* last version written, per block */
	bool *busy;	   /* a request on the block is in flight */
	uint64_t deadline, rng;
	uint64_t reads, writes, mismatches, errors, accepted, callbacks;
	uint64_t extra_calls; /* callbacks that ran more than once */
	struct op ops[QD];
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

/* The pattern of a block depends on which thread, block and version. */
static uint64_t seed_of(const struct worker *w, uint32_t version)
{
	return ((uint64_t)w->idx << 40) ^ version;
}

static uint64_t offset_of(const struct worker *w, uint32_t block)
{
	return ((uint64_t)w->idx * BLOCKS_PER_THREAD + block) * BS;
}

static void issue(struct op *o);

static void done(urio_loop *loop, int res, void *data)
{
	struct op *o = data;
	struct worker *w = o->w;

	(void)loop;
	if (++o->calls > 1)
		w->extra_calls++;
	w->callbacks++;
	w->busy[o->block] = false;
	if (res != BS) {
		w->errors++;
	} else if (o->write) {
		w->version[o->block] = o->version;
		w->writes++;
	} else {
		w->reads++;
		if (!check_pattern(o->buf, BS, seed_of(w, o->version),
				   o->block))
			w->mismatches++;
	}
	if (now_ms() < w->deadline)
		issue(o);
}

static void issue(struct op *o)
{
	struct worker *w = o->w;
	urio_id id;

	/* One request per block at a time: a read never races a write. */
	do
		o->block = (uint32_t)(rnd(&w->rng) % BLOCKS_PER_THREAD);
	while (w->busy[o->block]);
	w->busy[o->block] = true;
	o->write = rnd(&w->rng) % 2;
	o->calls = 0;
	if (o->write) {
		o->version = w->version[o->block] + 1;
		fill_pattern(o->buf, BS, seed_of(w, o->version), o->block);
		id = urio_write(w->t, o->buf, BS, offset_of(w, o->block), 0,
				done, o);
	} else {
		o->version = w->version[o->block];
		id = urio_read(w->t, o->buf, BS, offset_of(w, o->block), 0,
			       done, o);
	}
	if (id > 0)
		w->accepted++;
	else
		w->errors++;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	struct urio_loop_opts o = quiet_opts();
	char *bufs;

	o.backend = w->aio ? URIO_BACKEND_AIO : URIO_BACKEND_URING;
	o.entries = 64;
	if (urio_loop_create(&w->loop, &o) < 0 ||
	    urio_target_adopt(w->loop, &w->t, w->fd, NULL) < 0 ||
	    posix_memalign((void **)&bufs, 4096, QD * BS)) {
		w->errors++;
		return NULL;
	}
	for (unsigned i = 0; i < QD; i++) {
		w->ops[i].w = w;
		w->ops[i].buf = bufs + (size_t)i * BS;
		issue(&w->ops[i]);
	}
	if (urio_loop_run(w->loop, URIO_RUN_DEFAULT) < 0)
		w->errors++;
	/* Every block once more, checked against its last version. */
	for (uint32_t b = 0; b < BLOCKS_PER_THREAD; b++) {
		if (pread(w->fd, bufs, BS, (off_t)offset_of(w, b)) != BS ||
		    !check_pattern(bufs, BS, seed_of(w, w->version[b]), b))
			w->mismatches++;
	}
	urio_loop_destroy(w->loop);
	free(bufs);
	return NULL;
}

static void stress(bool aio, bool direct, unsigned ms)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	char path[256], *init;
	uint64_t tot_r = 0, tot_w = 0;
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
	ck_assert_int_ge(fd, 0);
	unlink(path);
	/* Version 0 of every block, written before the threads start. */
	ck_assert(posix_memalign((void **)&init, 4096, BS) == 0);
	memset(w, 0, sizeof(w));
	for (unsigned t = 0; t < THREADS; t++) {
		w[t].idx = t;
		for (uint32_t b = 0; b < BLOCKS_PER_THREAD; b++) {
			fill_pattern(init, BS, seed_of(&w[t], 0), b);
			ck_assert_int_eq(pwrite(fd, init, BS,
						(off_t)offset_of(&w[t], b)),
					 BS);
		}
	}
	for (unsigned t = 0; t < THREADS; t++) {
		w[t].fd = fd;
		w[t].aio = aio;
		w[t].rng = 0x9e3779b97f4a7c15ull * (t + 1);
		w[t].version = calloc(BLOCKS_PER_THREAD, sizeof(uint32_t));
		w[t].busy = calloc(BLOCKS_PER_THREAD, sizeof(bool));
		w[t].deadline = now_ms() + ms;
		pthread_create(&th[t], NULL, run_worker, &w[t]);
	}
	for (unsigned t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_msg(w[t].errors == 0, "thread %u: %llu errors", t,
			      (unsigned long long)w[t].errors);
		ck_assert_uint_eq(w[t].mismatches, 0);
		ck_assert_uint_eq(w[t].callbacks, w[t].accepted);
		ck_assert_uint_eq(w[t].extra_calls, 0);
		ck_assert_uint_gt(w[t].reads, 0);
		ck_assert_uint_gt(w[t].writes, 0);
		tot_r += w[t].reads;
		tot_w += w[t].writes;
		free(w[t].version);
		free(w[t].busy);
	}
	fprintf(stderr,
		"integrity %s%s: %u threads, %llu reads, %llu writes, "
		"0 mismatches, every callback once\n",
		aio ? "libaio" : "io_uring", direct ? " O_DIRECT" : "", THREADS,
		(unsigned long long)tot_r, (unsigned long long)tot_w);
	close(fd);
	free(init);
}

START_TEST(io_uring_buffered_threads_verify_every_byte)
{
	stress(false, false, 1500);
}
END_TEST

START_TEST(io_uring_direct_threads_verify_every_byte)
{
	stress(false, true, 1500);
}
END_TEST

START_TEST(libaio_direct_threads_verify_every_byte)
{
	stress(true, true, 1500);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("integrity_stress");
	TCase *tc = tcase_create("stress");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, io_uring_buffered_threads_verify_every_byte);
	tcase_add_test(tc, io_uring_direct_threads_verify_every_byte);
	tcase_add_test(tc, libaio_direct_threads_verify_every_byte);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
