/* SPDX-License-Identifier: MIT */
/* urio-bench - a fio-like benchmark that drives urio: random or sequential
 * reads and writes (or NOPs) at a queue depth, on one or more threads each
 * with its own loop, for a time, with latency percentiles, CPU per I/O and
 * the ring layout each loop got.  With no target it creates a temporary
 * 256 MiB file filled with a checkable pattern, and removes it afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "urio.h"

enum rw_mode { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE, RW_RANDRW };
enum engine { ENG_URING, ENG_AIO, ENG_PSYNC, ENG_PASSTHRU };

static const char *const rw_names[] = { "randread", "randwrite", "read",
					"write", "randrw" };
static const char *const engine_names[] = { "uring", "aio", "psync",
					    "passthru" };

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
	bool stop, counting;
	uint64_t last_t;	/* the last time read, for untimed NOPs */
	struct rusage ru0, ru1; /* this thread, measured part */
	uint64_t t_meas0, t_meas1;
	char layout[1024];
	struct urio_layout lay;
	char *wbitmap; /* blocks written, for --verify */
	struct hist lat;
};

static pthread_barrier_t start_line;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Every block holds the same pattern, derived from its number. */
static void fill_block(char *buf, size_t len, uint64_t block)
{
	uint64_t *p = (uint64_t *)buf;

	for (size_t i = 0; i < len / 8; i++)
		p[i] = mix((block << 24) ^ i ^ 0x5bd1e995u);
}

static bool block_ok(const char *buf, size_t len, uint64_t block)
{
	const uint64_t *p = (const uint64_t *)buf;

	for (size_t i = 0; i < len / 8; i++)
		if (p[i] != mix((block << 24) ^ i ^ 0x5bd1e995u))
			return false;
	return true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: urio-bench [options] [TARGET]\n"
		"  TARGET           file or block device (default: a temporary "
		"256 MiB\n"
		"                   file in $TMPDIR or /tmp, removed "
		"afterwards)\n"
		"  --engine NAME    uring (io_uring; libaio if it cannot be "
		"had),\n"
		"                   aio (libaio), psync (pread/pwrite, no "
		"urio)\n"
		"  --rw MODE        randread|randwrite|read|write|randrw "
		"(randread)\n"
		"  --rwmix PCT      reads in randrw, percent (50)\n"
		"  --bs BYTES       block size, k/m suffixes (4k)\n"
		"  --qd N           queue depth per thread (32)\n"
		"  --size BYTES     bytes of the target to use (256m or the "
		"target's size)\n"
		"  --runtime SEC    seconds to measure (5)\n"
		"  --ramp SEC       seconds to run before measuring (0)\n"
		"  --threads N      threads, one loop each, pinned to a CPU "
		"(1)\n"
		"  --entries N      SQ entries per ring (default: the loop's)\n"
		"  --rings N        rings per loop (1)\n"
		"  --fixedbufs      buffers from the loop's registered pool\n"
		"  --regfiles       register the target's fd with the rings\n"
		"  --sqpoll         a kernel thread polls the SQ\n"
		"  --iopoll         poll for NVMe passthrough completions\n"
		"  --spin USEC      poll for completions this long before "
		"sleeping\n"
		"  --direct         open with O_DIRECT\n"
		"  --verify         write a pattern, check every block read\n"
		"  --nop            NOP requests only: urio's own cost per "
		"request\n"
		"  --json           print one JSON object instead of the "
		"summary\n"
		"  --help           this text\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10;
		end++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		end++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		end++;
		break;
	default:
		break;
	}
	if (*end)
		return -1;
	*out = v;
	return 0;
}

static int pick(const char *what, const char *arg, const char *const *names,
		size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(arg, names[i]))
			return (int)i;
	fprintf(stderr, "urio-bench: unknown %s '%s'\n", what, arg);
	return -1;
}

static int number(const char *what, const char *arg, uint64_t lo, uint64_t hi,
		  uint64_t *v)
{
	if (parse_size(arg, v) || *v < lo || *v > hi) {
		fprintf(stderr, "urio-bench: bad %s '%s' (%llu..%llu)\n", what,
			arg, (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	return 0;
}

static int seconds(const char *what, const char *arg, bool zero_ok, double *v)
{
	char *end;

	*v = strtod(arg, &end);
	if (*end || end == arg || !(*v > 0 || (zero_ok && *v == 0))) {
		fprintf(stderr, "urio-bench: bad %s '%s'\n", what, arg);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct config *c)
{
	static const struct option opts[] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "rw", required_argument, NULL, 'w' },
		{ "rwmix", required_argument, NULL, 'm' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 't' },
		{ "ramp", required_argument, NULL, 'R' },
		{ "threads", required_argument, NULL, 'T' },
		{ "entries", required_argument, NULL, 'n' },
		{ "rings", required_argument, NULL, 'r' },
		{ "fixedbufs", no_argument, NULL, 'F' },
		{ "regfiles", no_argument, NULL, 'G' },
		{ "sqpoll", no_argument, NULL, 'P' },
		{ "iopoll", no_argument, NULL, 'I' },
		{ "spin", required_argument, NULL, 'S' },
		{ "direct", no_argument, NULL, 'd' },
		{ "verify", no_argument, NULL, 'V' },
		{ "nop", no_argument, NULL, 'N' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int o, i;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			i = pick("engine", optarg, engine_names, 4);
			if (i < 0)
				return -1;
			c->engine = (enum engine)i;
			break;
		case 'w':
			i = pick("--rw", optarg, rw_names, 5);
			if (i < 0)
				return -1;
			c->rw = (enum rw_mode)i;
			break;
		case 'm':
			if (number("--rwmix", optarg, 0, 100, &v))
				return -1;
			c->rwmix = (unsigned)v;
			break;
		case 'b':
			if (number("--bs", optarg, 1, 1u << 30, &v))
				return -1;
			c->bs = v;
			break;
		case 'q':
			if (number("--qd", optarg, 1, 65536, &v))
				return -1;
			c->qd = (unsigned)v;
			break;
		case 's':
			if (number("--size", optarg, 1, UINT64_MAX, &v))
				return -1;
			c->size = v;
			break;
		case 't':
			if (seconds("--runtime", optarg, false, &c->runtime))
				return -1;
			break;
		case 'R':
			if (seconds("--ramp", optarg, true, &c->ramp))
				return -1;
			break;
		case 'T':
			if (number("--threads", optarg, 1, 256, &v))
				return -1;
			c->threads = (unsigned)v;
			break;
		case 'n':
			if (number("--entries", optarg, 1, 32768, &v))
				return -1;
			c->entries = (unsigned)v;
			break;
		case 'r':
			if (number("--rings", optarg, 1, URIO_MAX_RINGS, &v))
				return -1;
			c->rings = (unsigned)v;
			break;
		case 'F':
			c->fixedbufs = true;
			break;
		case 'G':
			c->regfiles = true;
			break;
		case 'P':
			c->sqpoll = true;
			break;
		case 'I':
			c->iopoll = true;
			break;
		case 'S':
			if (number("--spin", optarg, 0, 1000000, &v))
				return -1;
			c->spin_usec = (unsigned)v;
			break;
		case 'd':
			c->direct = true;
			break;
		case 'V':
			c->verify = true;
			break;
		case 'N':
			c->nop = true;
			break;
		case 'j':
			c->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		c->path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "urio-bench: one target only\n");
		return -1;
	}
	if (c->bs % 8 && c->verify) {
		fprintf(stderr,
			"urio-bench: --verify needs --bs a multiple of 8\n");
		return -1;
	}
	if (c->nop && c->engine == ENG_PSYNC) {
		fprintf(stderr, "urio-bench: --nop needs a urio engine\n");
		return -1;
	}
	return 0;
}

/* Creates the default target: the pattern in every block, so that reads
 * find real data (not holes) and --verify can check them. */
static int make_temp_file(struct config *c, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	size_t chunk = 1 << 20;
	char *buf;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, len, "%s/urio-bench.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "urio-bench: cannot create a file in %s: %s\n",
			dir, strerror(errno));
		return -1;
	}
	buf = malloc(chunk);
	if (!buf) {
		close(fd);
		unlink(path);
		return -1;
	}
	for (uint64_t off = 0; off < c->size; off += chunk) {
		size_t n = c->size - off < chunk ? c->size - off : chunk;

		for (size_t b = 0; b + c->bs <= n; b += c->bs)
			fill_block(buf + b, c->bs, (off + b) / c->bs);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			fprintf(stderr, "urio-bench: cannot fill %s: %s\n",
				path, strerror(errno ? errno : ENOSPC));
			free(buf);
			close(fd);
			unlink(path);
			return -1;
		}
	}
	free(buf);
	fsync(fd);
	close(fd);
	return 0;
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
	if (s && s->timed)
		hist_add(&j->lat, t - s->start_ns);
	if ((j->ios & 255) == 0) {
		atomic_store_explicit(&j->progress_ios, j->ios,
				      memory_order_relaxed);
		atomic_store_explicit(&j->progress_bytes, j->bytes,
				      memory_order_relaxed);
	}
}

static void issue(struct slot *s);

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
		if (c->verify && !s->write &&
		    !block_ok(s->buf, c->bs, s->block))
			j->verify_errors++;
		if (c->verify && s->write)
			j->wbitmap[s->block / 8] |= (char)(1 << (s->block % 8));
		account(j, s, t, (size_t)res);
	}
	j->last_t = t;
	if (!j->stop && t < j->deadline_ns)
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
		if (s.start_ns >= j->deadline_ns || j->stop)
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
		if (c->verify && !s.write && !block_ok(s.buf, c->bs, s.block))
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
			   (c->iopoll ? URIO_LOOP_IOPOLL : 0);
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

static void teardown_job(struct thread_job *j)
{
	char *pool = NULL;
	size_t pool_len = 0;

	if (j->loop)
		urio_loop_buffers(j->loop, (void **)&pool, &pool_len);
	for (unsigned i = 0; j->slots && i < j->cfg->qd; i++) {
		char *b = j->slots[i].buf;

		if (b && !(pool && b >= pool && b < pool + pool_len))
			free(b);
	}
	free(j->slots);
	free(j->wbitmap);
	if (j->loop)
		urio_loop_destroy(j->loop);
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

	CPU_ZERO(&set);
	CPU_SET((int)(j->idx % (unsigned)(ncpu > 0 ? ncpu : 1)), &set);
	sched_setaffinity(0, sizeof(set), &set);
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
			for (unsigned i = 0; i < c->qd && !j->stop; i++)
				issue(&j->slots[i]);
			ret = urio_loop_run(j->loop, URIO_RUN_DEFAULT);
			if (ret < 0)
				set_error(j, ret, "run");
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

static double tv_sec(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

struct totals {
	uint64_t ios, bytes, errors, verify_errors, reads, writes;
	double secs, usr, sys;
	struct hist lat;
};

static void report_json(const struct config *c, struct thread_job *jobs,
			const struct totals *t)
{
	const struct urio_layout *lay = &jobs[0].lay;
	double iops = t->secs > 0 ? t->ios / t->secs : 0;
	double cpu_ns = t->ios ? (t->usr + t->sys) * 1e9 / t->ios : 0;

	printf("{\"target\": ");
	json_str(c->nop ? "(nop)" : c->path);
	printf(", \"engine\": \"%s\", \"rw\": \"%s\", \"bs\": %zu, \"qd\": %u, "
	       "\"threads\": %u, \"runtime_s\": %.3f, \"iops\": %.1f, "
	       "\"bw_bytes\": %.0f, \"ios\": %" PRIu64 ", \"reads\": %" PRIu64
	       ", \"writes\": %" PRIu64 ", \"errors\": %" PRIu64
	       ", \"verify_errors\": %" PRIu64 ", ",
	       engine_names[c->engine], c->nop ? "nop" : rw_names[c->rw], c->bs,
	       c->qd, c->threads, t->secs, iops,
	       t->secs > 0 ? t->bytes / t->secs : 0, t->ios, t->reads,
	       t->writes, t->errors, t->verify_errors);
	printf("\"lat_ns\": {\"mean\": %.0f, \"p50\": %" PRIu64
	       ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64
	       ", \"max\": %" PRIu64 "}, ",
	       hist_mean(&t->lat), hist_quantile(&t->lat, 0.5),
	       hist_quantile(&t->lat, 0.99), hist_quantile(&t->lat, 0.999),
	       t->lat.n ? t->lat.max : 0);
	printf("\"cpu\": {\"usr_pct\": %.1f, \"sys_pct\": %.1f}, "
	       "\"cpu_ns_per_io\": %.0f, ",
	       t->secs > 0 ? 100 * t->usr / t->secs : 0,
	       t->secs > 0 ? 100 * t->sys / t->secs : 0, cpu_ns);
	printf("\"per_thread\": [");
	for (unsigned i = 0; i < c->threads; i++) {
		struct thread_job *j = &jobs[i];
		double s = (j->t_meas1 - j->t_meas0) / 1e9;
		double cpu = tv_sec(j->ru1.ru_utime) - tv_sec(j->ru0.ru_utime) +
			     tv_sec(j->ru1.ru_stime) - tv_sec(j->ru0.ru_stime);

		printf("%s{\"iops\": %.1f, \"ios\": %" PRIu64
		       ", \"errors\": %" PRIu64 ", \"cpu_ns_per_io\": %.0f, "
		       "\"lat_p50_ns\": %" PRIu64 "}",
		       i ? ", " : "", s > 0 ? j->ios / s : 0, j->ios, j->errors,
		       j->ios ? cpu * 1e9 / j->ios : 0,
		       hist_quantile(&j->lat, 0.5));
	}
	printf("], \"layout\": {\"backend\": ");
	json_str(c->engine == ENG_PSYNC ? "psync" : lay->backend);
	printf(", \"description\": ");
	json_str(c->engine == ENG_PSYNC ? "pread/pwrite" : jobs[0].layout);
	if (lay->memlock_limit == UINT64_MAX || c->engine == ENG_PSYNC)
		printf(", \"memlock_limit\": null");
	else
		printf(", \"memlock_limit\": %" PRIu64, lay->memlock_limit);
	printf(", \"planned_bytes\": %" PRIu64 ", \"buf_bytes\": %" PRIu64
	       ", \"rings\": [",
	       lay->planned_bytes, lay->buf_bytes);
	for (unsigned i = 0; c->engine != ENG_PSYNC && i < lay->nrings; i++)
		printf("%s{\"entries\": %u, \"cq_entries\": %u, \"kind\": "
		       "\"%s\"}",
		       i ? ", " : "", lay->rings[i].entries,
		       lay->rings[i].cq_entries,
		       lay->rings[i].kind == URIO_RING_AIO	  ? "aio"
		       : lay->rings[i].kind == URIO_RING_PASSTHRU ? "passthru"
								  : "plain");
	printf("], \"fallbacks\": [");
	for (unsigned i = 0; c->engine != ENG_PSYNC && i < lay->nfallbacks;
	     i++) {
		printf("%s{\"step\": ", i ? ", " : "");
		json_str(lay->fallbacks[i].step);
		printf(", \"errno\": %d, \"reason\": ", lay->fallbacks[i].err);
		json_str(lay->fallbacks[i].reason);
		printf("}");
	}
	printf("]}}\n");
}

static void report_text(const struct config *c, struct thread_job *jobs,
			const struct totals *t)
{
	double iops = t->secs > 0 ? t->ios / t->secs : 0;
	double bw = t->secs > 0 ? t->bytes / t->secs : 0;

	printf("urio-bench: %s %s bs=%zu qd=%u threads=%u %s\n",
	       engine_names[c->engine], c->nop ? "nop" : rw_names[c->rw], c->bs,
	       c->qd, c->threads, c->nop ? "" : c->path);
	printf("  layout: %s\n", c->engine == ENG_PSYNC
					 ? "psync (pread/pwrite, no urio)"
					 : jobs[0].layout);
	printf("  %s: IOPS=%.0f, BW=%.1fMiB/s (%.1fMB/s), ios=%" PRIu64
	       " errors=%" PRIu64 " in %.2fs\n",
	       c->nop ? "nop" : "io", iops, bw / (1 << 20), bw / 1e6, t->ios,
	       t->errors, t->secs);
	printf("  lat (usec): mean=%.2f, p50=%.2f, p99=%.2f, p99.9=%.2f, "
	       "max=%.2f\n",
	       hist_mean(&t->lat) / 1e3, hist_quantile(&t->lat, 0.5) / 1e3,
	       hist_quantile(&t->lat, 0.99) / 1e3,
	       hist_quantile(&t->lat, 0.999) / 1e3,
	       (t->lat.n ? t->lat.max : 0) / 1e3);
	printf("  cpu: usr=%.1f%%, sys=%.1f%%, %.0f ns per I/O\n",
	       t->secs > 0 ? 100 * t->usr / t->secs : 0,
	       t->secs > 0 ? 100 * t->sys / t->secs : 0,
	       t->ios ? (t->usr + t->sys) * 1e9 / t->ios : 0);
	if (c->verify)
		printf("  verify: %" PRIu64 " mismatches\n", t->verify_errors);
}

/* A fio-like line on a terminal, once a second, while the jobs run. */
static void progress(const struct config *c, struct thread_job *jobs,
		     uint64_t start, uint64_t *last_ios, uint64_t *last_bytes,
		     uint64_t *last_t)
{
	uint64_t ios = 0, bytes = 0, t = now_ns();
	double total = c->ramp + c->runtime, el = (t - start) / 1e9;
	double dt = (t - *last_t) / 1e9;

	for (unsigned i = 0; i < c->threads; i++) {
		ios += atomic_load_explicit(&jobs[i].progress_ios,
					    memory_order_relaxed);
		bytes += atomic_load_explicit(&jobs[i].progress_bytes,
					      memory_order_relaxed);
	}
	fprintf(stderr,
		"\r[%.0fs/%.0fs] %s: %.0f IOPS, %.1f MiB/s, eta %.0fs   ", el,
		total, el < c->ramp ? "ramp" : "run",
		dt > 0 ? (ios - *last_ios) / dt : 0,
		dt > 0 ? (bytes - *last_bytes) / dt / (1 << 20) : 0,
		total > el ? total - el : 0);
	*last_ios = ios;
	*last_bytes = bytes;
	*last_t = t;
}

static int run(struct config *c)
{
	struct thread_job *jobs = calloc(c->threads, sizeof(*jobs));
	struct totals t = { 0 };
	struct urio_target_info info = { .size = sizeof(info) };
	uint64_t nblocks = 0, start;
	bool tty = isatty(2) && !c->json;
	int status = 0;

	if (!jobs)
		return 1;
	if (!c->nop) {
		int fd = open(c->path, O_RDONLY | O_CLOEXEC);
		urio_loop *probe;
		urio_target *pt;
		uint64_t bytes = 0;

		if (fd < 0) {
			fprintf(stderr, "urio-bench: cannot open %s: %s\n",
				c->path, strerror(errno));
			free(jobs);
			return 1;
		}
		/* The size as urio sees it (a device's, not st_size). */
		if (urio_loop_create(&probe, NULL) == 0) {
			if (urio_target_adopt(probe, &pt, fd, NULL) == 0 &&
			    urio_target_info(pt, &info) == 0)
				bytes = info.bytes;
			urio_loop_destroy(probe);
		}
		close(fd);
		if (!c->size || c->size > bytes)
			c->size = bytes;
		nblocks = c->size / c->bs;
		if (!nblocks) {
			fprintf(stderr,
				"urio-bench: %s holds no whole %zu-byte "
				"block\n",
				c->path, c->bs);
			free(jobs);
			return 1;
		}
	}
	pthread_barrier_init(&start_line, NULL, c->threads + 1);
	for (unsigned i = 0; i < c->threads; i++) {
		jobs[i].cfg = c;
		jobs[i].idx = i;
		jobs[i].nblocks = nblocks;
		jobs[i].next_block = nblocks / c->threads * i;
		jobs[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		hist_init(&jobs[i].lat);
		pthread_create(&jobs[i].th, NULL, job_main, &jobs[i]);
	}
	pthread_barrier_wait(&start_line);
	start = now_ns();
	if (tty) {
		uint64_t li = 0, lb = 0, lt = start;
		uint64_t end = start + (uint64_t)((c->ramp + c->runtime) * 1e9);

		while (now_ns() + 1000000000u < end) {
			sleep(1);
			progress(c, jobs, start, &li, &lb, &lt);
		}
		fprintf(stderr, "\r%78s\r", "");
	}
	hist_init(&t.lat);
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
	};
	char tmp[PATH_MAX];
	int status;

	if (parse_args(argc, argv, &c) < 0)
		return 2;
	if (!c.path && !c.nop) {
		if (!c.size)
			c.size = 256ull << 20;
		if (make_temp_file(&c, tmp, sizeof(tmp)) < 0)
			return 1;
		c.path = tmp;
		status = run(&c);
		unlink(tmp);
		return status;
	}
	return run(&c);
}
