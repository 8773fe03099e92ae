/* SPDX-License-Identifier: MIT */
/* urio-bench - a fio-like benchmark that drives urio: random or sequential
 * reads and writes (or NOPs) at a queue depth, on one or more threads each
 * with its own loop, for a time, with latency percentiles, CPU per I/O and
 * the ring layout each loop got.  This file is the workload: the threads,
 * what each issues and counts.  With no target it creates a temporary
 * 256 MiB file filled with a checkable pattern, and removes it afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static pthread_barrier_t start_line;

/* SIGINT or SIGTERM came: every job stops issuing, its requests in flight
 * complete, and the run is reported as far as it went (fio's way); a
 * second one ends the process at once. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

/* For deadlines: a few ms coarse, and a fraction of the cost. */
static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void set_error(struct thread_job *j, int err, const char *where)
{
	if (!j->errors) {
		j->first_error = err;
		j->error_where = where;
	}
	j->errors++;
	j->stop = true;
}

static bool next_is_write(struct thread_job *j)
{
	switch (j->cfg->rw) {
	case RW_RANDWRITE:
	case RW_WRITE:
		return true;
	case RW_RANDRW:
		return xorshift(&j->rng) % 100 >= j->cfg->rwmix;
	default:
		return false;
	}
}

static uint64_t next_block(struct thread_job *j)
{
	uint64_t b;

	if (j->cfg->rw == RW_READ || j->cfg->rw == RW_WRITE) {
		b = j->next_block++;
		if (j->next_block == j->nblocks)
			j->next_block = 0;
		return b;
	}
	return xorshift(&j->rng) % j->nblocks;
}

/* Counts one finished I/O; the ramp ends at the first one past it. */
static void account(struct thread_job *j, struct slot *s, uint64_t t,
		    size_t bytes)
{
	if (!j->counting) {
		if (t < j->ramp_end_ns)
			return;
		j->counting = true;
		j->t_meas0 = t;
		getrusage(RUSAGE_THREAD, &j->ru0);
	}
	j->ios++;
	j->bytes += bytes;
	if (s && s->write)
		j->writes++;
	else
		j->reads++;
	if (s && s->timed) {
		hist_add(&j->lat, t - s->start_ns);
		if (!j->cfg->nop)
			hist_add(&j->lat_dir[s->write], t - s->start_ns);
	}
	if ((j->ios & 255) == 0) {
		atomic_store_explicit(&j->progress_ios, j->ios,
				      memory_order_relaxed);
		atomic_store_explicit(&j->progress_bytes, j->bytes,
				      memory_order_relaxed);
	}
}

static void issue(struct slot *s);

/* --verify: whether block must read back as the pattern: urio-bench laid
 * it out, or wrote it in this run. */
static bool holds_pattern(const struct thread_job *j, uint64_t block)
{
	return block * j->cfg->bs >= j->cfg->pattern_from ||
	       (j->wbitmap[block / 8] & (1 << (block % 8)));
}

static void on_done(urio_loop *loop, int res, void *data)
{
	struct slot *s = data;
	struct thread_job *j = s->job;
	const struct config *c = j->cfg;
	uint64_t t = s->timed		  ? now_ns()
		     : (j->ios & 15) == 0 ? coarse_ns()
					  : j->last_t;

	(void)loop;
	if (c->nop) {
		account(j, s, t, 0);
	} else if (res < 0 || (size_t)res != c->bs) {
		set_error(j, res < 0 ? res : -EIO, s->write ? "write" : "read");
	} else {
		if (c->verify && !s->write && holds_pattern(j, s->block) &&
		    !block_ok(s->buf, c->bs, s->block))
			j->verify_errors++;
		if (c->verify && s->write)
			j->wbitmap[s->block / 8] |= (char)(1 << (s->block % 8));
		account(j, s, t, (size_t)res);
	}
	j->last_t = t;
	if (!j->stop && t < j->deadline_ns && !interrupted)
		issue(s);
}

static void issue(struct slot *s)
{
	struct thread_job *j = s->job;
	const struct config *c = j->cfg;
	urio_id id;

	/* A clock read costs as much as a NOP (29% of the cycles of a --nop
	 * run here): time one NOP in 64, every I/O. */
	s->timed = !c->nop || (j->issued++ & 63) == 0;
	if (s->timed)
		s->start_ns = now_ns();
	if (c->nop) {
		id = urio_nop(j->loop, 0, on_done, s);
	} else {
		s->block = next_block(j);
		s->write = next_is_write(j);
		if (s->write) {
			if (c->verify)
				fill_block(s->buf, c->bs, s->block);
			id = urio_write(j->target, s->buf, c->bs,
					s->block * c->bs, 0, on_done, s);
		} else {
			id = urio_read(j->target, s->buf, c->bs,
				       s->block * c->bs, 0, on_done, s);
		}
	}
	if (id < 0)
		set_error(j, (int)id, "submit");
}

/* psync: the baseline a runtime has to beat, one pread/pwrite at a time. */
static void run_psync(struct thread_job *j)
{
	const struct config *c = j->cfg;
	struct slot s = { .job = j, .buf = j->slots[0].buf, .timed = true };

	for (;;) {
		uint64_t t;
		ssize_t n;

		s.start_ns = now_ns();
		if (s.start_ns >= j->deadline_ns || j->stop || interrupted)
			break;
		s.block = next_block(j);
		s.write = next_is_write(j);
		if (s.write && c->verify)
			fill_block(s.buf, c->bs, s.block);
		n = s.write ? pwrite(j->fd, s.buf, c->bs,
				     (off_t)(s.block * c->bs))
			    : pread(j->fd, s.buf, c->bs,
				    (off_t)(s.block * c->bs));
		t = now_ns();
		if (n != (ssize_t)c->bs) {
			set_error(j, n < 0 ? -errno : -EIO,
				  s.write ? "pwrite" : "pread");
			break;
		}
		if (c->verify && !s.write && holds_pattern(j, s.block) &&
		    !block_ok(s.buf, c->bs, s.block))
			j->verify_errors++;
		if (c->verify && s.write)
			j->wbitmap[s.block / 8] |= (char)(1 << (s.block % 8));
		account(j, &s, t, c->bs);
	}
}

struct verify_read {
	struct thread_job *j;
	uint64_t block;
	char *buf;
};

static void on_verify(urio_loop *loop, int res, void *data)
{
	struct verify_read *v = data;

	(void)loop;
	if (res != (int)v->j->cfg->bs ||
	    !block_ok(v->buf, v->j->cfg->bs, v->block))
		v->j->verify_errors++;
}

/* After the run with --verify: read back every block written, through the
 * same path as the run (a passthrough target has no pread), qd at a time. */
static void verify_pass(struct thread_job *j)
{
	const struct config *c = j->cfg;
	struct verify_read *v = calloc(c->qd, sizeof(*v));
	uint64_t b = 0;

	if (!v)
		return;
	while (b < j->nblocks) {
		unsigned n = 0;

		for (; b < j->nblocks && n < c->qd; b++) {
			if (!(j->wbitmap[b / 8] & (1 << (b % 8))))
				continue;
			v[n] = (struct verify_read){ j, b, j->slots[n].buf };
			if (c->engine == ENG_PSYNC) {
				on_verify(NULL,
					  (int)pread(j->fd, v[n].buf, c->bs,
						     (off_t)(b * c->bs)),
					  &v[n]);
			} else if (urio_read(j->target, v[n].buf, c->bs,
					     b * c->bs, URIO_F_WAIT, on_verify,
					     &v[n]) < 0) {
				j->verify_errors++;
			}
			n++;
		}
		if (c->engine != ENG_PSYNC)
			urio_loop_run(j->loop, URIO_RUN_DEFAULT);
	}
	free(v);
}

static int open_flags(const struct config *c)
{
	bool rd = c->rw == RW_RANDREAD || c->rw == RW_READ;

	return (rd && !c->verify ? O_RDONLY : O_RDWR) |
	       (c->direct ? O_DIRECT : 0) | O_CLOEXEC;
}

static int setup_job(struct thread_job *j)
{
	const struct config *c = j->cfg;
	struct urio_loop_opts lo = { .size = sizeof(lo) };
	struct urio_target_opts to = { .size = sizeof(to) };
	char *pool = NULL;
	size_t pool_len = 0;
	int ret;

	j->fd = -1;
	j->slots = calloc(c->qd, sizeof(*j->slots));
	if (!j->slots)
		return -ENOMEM;
	if (c->engine == ENG_PSYNC) {
		j->fd = open(c->path, open_flags(c));
		if (j->fd < 0) {
			j->error_where = "open";
			return -errno;
		}
	}
	if (c->engine != ENG_PSYNC) {
		lo.entries = c->entries;
		lo.rings = c->rings;
		lo.spin_usec = c->spin_usec;
		lo.backend = c->engine == ENG_AIO ? URIO_BACKEND_AIO
						  : URIO_BACKEND_AUTO;
		lo.flags = (c->sqpoll ? URIO_LOOP_SQPOLL : 0) |
			   (c->iopoll ? URIO_LOOP_IOPOLL : 0) |
			   (c->sleep ? URIO_LOOP_SLEEP : 0);
		if (c->fixedbufs)
			lo.buf_bytes = (size_t)c->qd * c->bs;
		ret = urio_loop_create(&j->loop, &lo);
		if (ret < 0) {
			j->error_where = "loop";
			return ret;
		}
		j->lay.size = sizeof(j->lay);
		urio_loop_layout(j->loop, &j->lay);
		if (urio_loop_describe(j->loop, j->layout, sizeof(j->layout)) <
		    0)
			snprintf(j->layout, sizeof(j->layout), "%s",
				 j->lay.backend);
		urio_loop_buffers(j->loop, (void **)&pool, &pool_len);
		if (!c->nop) {
			struct urio_target_info info = { .size = sizeof(info) };

			/* uring on an NVMe block device means the block path:
			 * passthru is asked for by name. */
			to.flags = (c->regfiles ? URIO_TARGET_REGISTER : 0) |
				   (c->engine == ENG_PASSTHRU
					    ? 0
					    : URIO_TARGET_NO_PASSTHRU);
			ret = urio_target_open(j->loop, &j->target, c->path,
					       open_flags(c), 0, &to);
			if (ret < 0) {
				j->error_where = "open";
				return ret;
			}
			urio_target_info(j->target, &info);
			if (c->engine == ENG_PASSTHRU && !info.passthru) {
				j->error_where = "open (not an NVMe namespace "
						 "for passthrough)";
				return -EOPNOTSUPP;
			}
			/* The layout now includes a passthrough ring. */
			urio_loop_layout(j->loop, &j->lay);
			urio_loop_describe(j->loop, j->layout,
					   sizeof(j->layout));
		}
	}
	if (c->engine != ENG_PSYNC) {
		/* Past the loop's (or target's) in-flight bound a submission
		 * is refused: say so now, not as an I/O error mid-run. */
		struct urio_stats ls = { .size = sizeof(ls) };
		struct urio_stats ts = { .size = sizeof(ts) };
		uint64_t cap;

		urio_loop_stats(j->loop, &ls);
		cap = ls.cap;
		if (j->target && urio_target_stats(j->target, &ts) == 0 &&
		    ts.cap && ts.cap < cap)
			cap = ts.cap;
		if (c->qd > cap) {
			snprintf(j->where_buf, sizeof(j->where_buf),
				 "setup (--qd %u is more than the loop holds "
				 "in flight, %llu: lower --qd or raise "
				 "--entries)",
				 c->qd, (unsigned long long)cap);
			j->error_where = j->where_buf;
			return -EBUSY;
		}
	}
	for (unsigned i = 0; i < c->qd; i++) {
		j->slots[i].job = j;
		/* The pool may be smaller than asked: the rest allocate. */
		if (pool && (size_t)(i + 1) * c->bs <= pool_len) {
			j->slots[i].buf = pool + (size_t)i * c->bs;
			continue;
		}
		if (posix_memalign((void **)&j->slots[i].buf, 4096, c->bs))
			return -ENOMEM;
		memset(j->slots[i].buf, 0x5a, c->bs);
	}
	if (c->verify) {
		j->wbitmap = calloc(j->nblocks / 8 + 1, 1);
		if (!j->wbitmap)
			return -ENOMEM;
	}
	return 0;
}

/* The loop goes first: requests still in flight (a run that failed) end
 * there, their callbacks run, and the kernel stops writing to their
 * buffers, while the slots, buffers and bitmap they use are still there. */
static void teardown_job(struct thread_job *j)
{
	char *pool = NULL;
	size_t pool_len = 0;

	if (j->loop) {
		urio_loop_buffers(j->loop, (void **)&pool, &pool_len);
		j->stop = true;
		urio_loop_destroy(j->loop);
	}
	for (unsigned i = 0; j->slots && i < j->cfg->qd; i++) {
		char *b = j->slots[i].buf;

		/* pool only names where the loop's buffers were */
		if (b && !(pool && (uintptr_t)b >= (uintptr_t)pool &&
			   (uintptr_t)b < (uintptr_t)pool + pool_len))
			free(b);
	}
	free(j->slots);
	free(j->wbitmap);
	if (j->fd >= 0)
		close(j->fd);
}

static void *job_main(void *arg)
{
	struct thread_job *j = arg;
	const struct config *c = j->cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	int ret;

	/* Several threads: a loop per core, each pinned.  One thread is left
	 * where the scheduler puts it, as fio leaves its job: pinned beside a
	 * busy core it could not move away from the device's own workers. */
	if (c->threads > 1) {
		CPU_ZERO(&set);
		CPU_SET((int)(j->idx % (unsigned)(ncpu > 0 ? ncpu : 1)), &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	ret = setup_job(j);
	if (ret < 0)
		set_error(j, ret, j->error_where ? j->error_where : "setup");
	pthread_barrier_wait(&start_line);
	if (!j->stop) {
		j->start_ns = now_ns();
		j->ramp_end_ns = j->start_ns + (uint64_t)(c->ramp * 1e9);
		j->deadline_ns = j->ramp_end_ns + (uint64_t)(c->runtime * 1e9);
		if (c->engine == ENG_PSYNC) {
			run_psync(j);
		} else {
			for (unsigned i = 0;
			     i < c->qd && !j->stop && !interrupted; i++)
				issue(&j->slots[i]);
			/* -EINTR: a signal ended a wait; nothing is lost.
			 * After SIGINT the requests in flight still end
			 * here: their callbacks issue no more. */
			do
				ret = urio_loop_run(j->loop, URIO_RUN_DEFAULT);
			while (ret == -EINTR);
			if (ret < 0)
				set_error(j, ret, "run");
			j->st.size = sizeof(j->st);
			urio_loop_stats(j->loop, &j->st);
		}
		j->t_meas1 = now_ns();
		getrusage(RUSAGE_THREAD, &j->ru1);
		if (!j->counting) {
			j->t_meas0 = j->t_meas1;
			j->ru0 = j->ru1;
		}
		if (c->verify && !c->nop)
			verify_pass(j);
	}
	teardown_job(j);
	return NULL;
}

static int run(struct config *c)
{
	struct thread_job *jobs = calloc(c->threads, sizeof(*jobs));
	struct totals t = { 0 };
	uint64_t nblocks = 0, start;
	bool tty = isatty(2) && !c->json;
	int status = 0;

	if (!jobs)
		return 1;
	if (!c->nop) {
		if (target_prepare(c) < 0) {
			free(jobs);
			return 1;
		}
		nblocks = c->size / c->bs;
	}
	pthread_barrier_init(&start_line, NULL, c->threads + 1);
	for (unsigned i = 0; i < c->threads; i++) {
		jobs[i].cfg = c;
		jobs[i].idx = i;
		jobs[i].nblocks = nblocks;
		jobs[i].next_block = nblocks / c->threads * i;
		jobs[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		hist_init(&jobs[i].lat);
		hist_init(&jobs[i].lat_dir[0]);
		hist_init(&jobs[i].lat_dir[1]);
		pthread_create(&jobs[i].th, NULL, job_main, &jobs[i]);
	}
	pthread_barrier_wait(&start_line);
	/* Every job has its target open: a temporary file is unlinked now, so
	 * that no way of ending the run leaves its 256 MiB behind. */
	if (c->temp)
		unlink(c->path);
	start = now_ns();
	if (tty) {
		uint64_t li = 0, lb = 0, lt = start;
		uint64_t end = start + (uint64_t)((c->ramp + c->runtime) * 1e9);

		while (now_ns() + 1000000000u < end && !interrupted) {
			sleep(1);
			progress(c, jobs, start, &li, &lb, &lt);
		}
		fprintf(stderr, "\r%78s\r", "");
	}
	hist_init(&t.lat);
	hist_init(&t.lat_dir[0]);
	hist_init(&t.lat_dir[1]);
	for (unsigned i = 0; i < c->threads; i++) {
		struct thread_job *j = &jobs[i];
		double s;

		pthread_join(j->th, NULL);
		s = (j->t_meas1 - j->t_meas0) / 1e9;
		if (s > t.secs)
			t.secs = s;
		t.ios += j->ios;
		t.reads += j->reads;
		t.writes += j->writes;
		t.bytes += j->bytes;
		t.errors += j->errors;
		t.verify_errors += j->verify_errors;
		t.usr += tv_sec(j->ru1.ru_utime) - tv_sec(j->ru0.ru_utime);
		t.sys += tv_sec(j->ru1.ru_stime) - tv_sec(j->ru0.ru_stime);
		hist_merge(&t.lat, &j->lat);
		hist_merge(&t.lat_dir[0], &j->lat_dir[0]);
		hist_merge(&t.lat_dir[1], &j->lat_dir[1]);
	}
	pthread_barrier_destroy(&start_line);
	if (c->json)
		report_json(c, jobs, &t);
	else
		report_text(c, jobs, &t);
	for (unsigned i = 0; i < c->threads; i++) {
		struct thread_job *j = &jobs[i];

		if (!j->errors)
			continue;
		fprintf(stderr,
			"urio-bench: thread %u: %" PRIu64
			" error%s, first in %s "
			"on %s: %s\n",
			i, j->errors, j->errors > 1 ? "s" : "",
			j->error_where ? j->error_where : "I/O",
			c->nop ? "(nop)" : c->path,
			urio_strerror(j->first_error));
		status = 1;
	}
	if (t.verify_errors) {
		fprintf(stderr,
			"urio-bench: --verify found %" PRIu64
			" blocks that differ\n",
			t.verify_errors);
		status = 1;
	}
	if (interrupted) {
		fprintf(stderr, "urio-bench: stopped by %s after %.2f s\n",
			strsignal(interrupted), (now_ns() - start) / 1e9);
		status = 128 + interrupted;
	}
	free(jobs);
	return status;
}

int main(int argc, char **argv)
{
	struct config c = {
		.engine = ENG_URING,
		.rw = RW_RANDREAD,
		.rwmix = 50,
		.bs = 4096,
		.qd = 32,
		.threads = 1,
		.runtime = 5,
		.invalidate = true,
		.pattern_from = UINT64_MAX,
	};
	struct sigaction sa = { .sa_handler = on_signal,
				.sa_flags = (int)SA_RESETHAND };
	char tmp[PATH_MAX];
	int status;

	if (parse_args(argc, argv, &c) < 0)
		return 2;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!c.path && !c.nop) {
		if (!c.size)
			c.size = BENCH_DEFAULT_SIZE;
		if (make_temp_file(&c, tmp, sizeof(tmp)) < 0)
			return 1;
		c.path = tmp;
		c.prepared = "temporary file";
		c.temp = true;
		status = run(&c);
		unlink(tmp);
		return status;
	}
	return run(&c);
}
