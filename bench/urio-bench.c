/* urio-bench - a fio-like benchmark that drives urio: random or sequential
 * reads and writes at a queue depth, for a time, with latency percentiles,
 * CPU usage and the ring layout the loop got.  With no target it creates a
 * temporary 256 MiB file, and removes it afterwards. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "urio.h"

enum rw_mode { RW_RANDREAD, RW_RANDWRITE, RW_READ, RW_WRITE };

static const char *const rw_names[] = { "randread", "randwrite", "read",
					"write" };

struct config {
	const char *path;
	const char *engine;
	enum rw_mode rw;
	size_t bs;
	unsigned qd;
	uint64_t size;
	double runtime;
	unsigned entries, rings;
	bool json, direct;
};

struct job;

struct slot {
	struct job *job;
	char *buf;
	uint64_t start_ns;
};

struct job {
	const struct config *cfg;
	urio_loop *loop;
	urio_target *target;
	struct slot *slots;
	uint64_t deadline_ns;
	uint64_t nblocks, next_block, rng;
	uint64_t ios, bytes, errors;
	int first_error;
	bool stop;
	struct hist lat;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: urio-bench [options] [TARGET]\n"
		"  TARGET           file or block device (default: a temporary "
		"256 MiB\n"
		"                   file in $TMPDIR or /tmp, removed "
		"afterwards)\n"
		"  --engine NAME    uring (io_uring, libaio if it cannot be "
		"had)\n"
		"                   or aio (libaio only)\n"
		"  --rw MODE        randread|randwrite|read|write (randread)\n"
		"  --bs BYTES       block size, k/m suffixes (4k)\n"
		"  --qd N           queue depth (32)\n"
		"  --size BYTES     bytes of the target to use (256m or the "
		"target's size)\n"
		"  --runtime SEC    seconds to run (5)\n"
		"  --entries N      SQ entries per ring (default: the loop's)\n"
		"  --rings N        rings in the loop (1)\n"
		"  --direct         open with O_DIRECT\n"
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
	if (errno || end == s)
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

static int parse_args(int argc, char **argv, struct config *c)
{
	static const struct option opts[] = {
		{ "engine", required_argument, NULL, 'e' },
		{ "rw", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "runtime", required_argument, NULL, 't' },
		{ "entries", required_argument, NULL, 'n' },
		{ "rings", required_argument, NULL, 'r' },
		{ "direct", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	uint64_t v;
	int o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			c->engine = optarg;
			if (strcmp(optarg, "uring") && strcmp(optarg, "aio")) {
				fprintf(stderr,
					"urio-bench: unknown engine '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'w': {
			size_t i;

			for (i = 0; i < sizeof(rw_names) / sizeof(rw_names[0]);
			     i++)
				if (!strcmp(optarg, rw_names[i]))
					break;
			if (i == sizeof(rw_names) / sizeof(rw_names[0])) {
				fprintf(stderr,
					"urio-bench: unknown --rw '%s'\n",
					optarg);
				return -1;
			}
			c->rw = (enum rw_mode)i;
			break;
		}
		case 'b':
			if (parse_size(optarg, &v) || !v || v > (1u << 30)) {
				fprintf(stderr, "urio-bench: bad --bs '%s'\n",
					optarg);
				return -1;
			}
			c->bs = v;
			break;
		case 'q':
			if (parse_size(optarg, &v) || !v || v > 65536) {
				fprintf(stderr, "urio-bench: bad --qd '%s'\n",
					optarg);
				return -1;
			}
			c->qd = (unsigned)v;
			break;
		case 's':
			if (parse_size(optarg, &v) || !v) {
				fprintf(stderr, "urio-bench: bad --size '%s'\n",
					optarg);
				return -1;
			}
			c->size = v;
			break;
		case 't':
			c->runtime = strtod(optarg, NULL);
			if (!(c->runtime > 0)) {
				fprintf(stderr,
					"urio-bench: bad --runtime '%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_size(optarg, &v) || !v || v > 32768) {
				fprintf(stderr,
					"urio-bench: bad --entries '%s'\n",
					optarg);
				return -1;
			}
			c->entries = (unsigned)v;
			break;
		case 'r':
			if (parse_size(optarg, &v) || !v ||
			    v > URIO_MAX_RINGS) {
				fprintf(stderr,
					"urio-bench: bad --rings '%s'\n",
					optarg);
				return -1;
			}
			c->rings = (unsigned)v;
			break;
		case 'd':
			c->direct = true;
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
	return 0;
}

/* Creates the default target: a file of c->size bytes of non-zero data,
 * so that reads find real blocks, not holes. */
static int make_temp_file(const struct config *c, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	size_t chunk = 1 << 20;
	char *buf;
	int fd;

	snprintf(path, len, "%s/urio-bench.XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "urio-bench: cannot create a file in %s: %s\n",
			dir && *dir ? dir : "/tmp", strerror(errno));
		return -1;
	}
	buf = malloc(chunk);
	if (!buf) {
		close(fd);
		unlink(path);
		return -1;
	}
	memset(buf, 0xa5, chunk);
	for (uint64_t off = 0; off < c->size; off += chunk) {
		size_t n = c->size - off < chunk ? c->size - off : chunk;

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

static void issue(struct slot *s);

static void on_done(urio_loop *loop, int res, void *data)
{
	struct slot *s = data;
	struct job *j = s->job;
	uint64_t t = now_ns();

	(void)loop;
	if (res < 0 || (size_t)res != j->cfg->bs) {
		if (!j->errors)
			j->first_error = res < 0 ? res : -EIO;
		j->errors++;
		j->stop = true;
	} else {
		j->ios++;
		j->bytes += (uint64_t)res;
		hist_add(&j->lat, t - s->start_ns);
	}
	if (!j->stop && t < j->deadline_ns)
		issue(s);
}

static void issue(struct slot *s)
{
	struct job *j = s->job;
	const struct config *c = j->cfg;
	uint64_t block;
	urio_id id;

	if (c->rw == RW_RANDREAD || c->rw == RW_RANDWRITE) {
		block = xorshift(&j->rng) % j->nblocks;
	} else {
		block = j->next_block++;
		if (j->next_block == j->nblocks)
			j->next_block = 0;
	}
	s->start_ns = now_ns();
	if (c->rw == RW_RANDREAD || c->rw == RW_READ)
		id = urio_read(j->target, s->buf, c->bs, block * c->bs, 0,
			       on_done, s);
	else
		id = urio_write(j->target, s->buf, c->bs, block * c->bs, 0,
				on_done, s);
	if (id < 0) {
		if (!j->errors)
			j->first_error = (int)id;
		j->errors++;
		j->stop = true;
	}
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

static void report(const struct config *c, const struct job *j,
		   const urio_loop *loop, double secs, double usr, double sys)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	char desc[1024];
	double iops = j->ios / secs, bw = j->bytes / secs;
	const struct hist *h = &j->lat;

	urio_loop_layout(loop, &lay);
	if (urio_loop_describe(loop, desc, sizeof(desc)) < 0)
		snprintf(desc, sizeof(desc), "%s", lay.backend);
	if (c->json) {
		printf("{\"target\": ");
		json_str(c->path);
		printf(", \"rw\": \"%s\", \"bs\": %zu, \"qd\": %u, "
		       "\"runtime_s\": %.3f, \"iops\": %.1f, \"bw_bytes\": "
		       "%.0f, "
		       "\"ios\": %" PRIu64 ", \"errors\": %" PRIu64 ", ",
		       rw_names[c->rw], c->bs, c->qd, secs, iops, bw, j->ios,
		       j->errors);
		printf("\"lat_ns\": {\"mean\": %.0f, \"p50\": %" PRIu64
		       ", \"p99\": %" PRIu64 ", \"p999\": %" PRIu64
		       ", \"max\": %" PRIu64 "}, ",
		       hist_mean(h), hist_quantile(h, 0.5),
		       hist_quantile(h, 0.99), hist_quantile(h, 0.999),
		       h->n ? h->max : 0);
		printf("\"cpu\": {\"usr_pct\": %.1f, \"sys_pct\": %.1f}, ",
		       100 * usr / secs, 100 * sys / secs);
		printf("\"layout\": {\"backend\": ");
		json_str(lay.backend);
		printf(", \"description\": ");
		json_str(desc);
		if (lay.memlock_limit == UINT64_MAX)
			printf(", \"memlock_limit\": null");
		else
			printf(", \"memlock_limit\": %" PRIu64,
			       lay.memlock_limit);
		printf(", \"planned_bytes\": %" PRIu64 ", \"rings\": [",
		       lay.planned_bytes);
		for (unsigned i = 0; i < lay.nrings; i++)
			printf("%s{\"entries\": %u, \"cq_entries\": %u, "
			       "\"kind\": \"%s\"}",
			       i ? ", " : "", lay.rings[i].entries,
			       lay.rings[i].cq_entries,
			       lay.rings[i].kind == URIO_RING_AIO ? "aio"
								  : "plain");
		printf("], \"fallbacks\": [");
		for (unsigned i = 0; i < lay.nfallbacks; i++) {
			printf("%s{\"step\": ", i ? ", " : "");
			json_str(lay.fallbacks[i].step);
			printf(", \"errno\": %d, \"reason\": ",
			       lay.fallbacks[i].err);
			json_str(lay.fallbacks[i].reason);
			printf("}");
		}
		printf("]}}\n");
		return;
	}
	printf("urio-bench: %s bs=%zu qd=%u %s\n", rw_names[c->rw], c->bs,
	       c->qd, c->path);
	printf("  layout: %s\n", desc);
	printf("  %s: IOPS=%.0f, BW=%.1fMiB/s (%.1fMB/s), ios=%" PRIu64
	       " errors=%" PRIu64 " in %.2fs\n",
	       c->rw == RW_RANDREAD || c->rw == RW_READ ? "read" : "write",
	       iops, bw / (1 << 20), bw / 1e6, j->ios, j->errors, secs);
	printf("  lat (usec): mean=%.2f, p50=%.2f, p99=%.2f, p99.9=%.2f, "
	       "max=%.2f\n",
	       hist_mean(h) / 1e3, hist_quantile(h, 0.5) / 1e3,
	       hist_quantile(h, 0.99) / 1e3, hist_quantile(h, 0.999) / 1e3,
	       (h->n ? h->max : 0) / 1e3);
	printf("  cpu: usr=%.1f%%, sys=%.1f%%\n", 100 * usr / secs,
	       100 * sys / secs);
}

static int run(struct config *c)
{
	struct urio_loop_opts lo = { .size = sizeof(lo) };
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_target_info info = { .size = sizeof(info) };
	struct job j = { .cfg = c, .rng = 0x9e3779b97f4a7c15ull };
	struct rusage r0, r1;
	uint64_t t0;
	double secs;
	int ret, oflags, status = 1;

	lo.entries = c->entries;
	lo.rings = c->rings;
	lo.backend =
		strcmp(c->engine, "aio") ? URIO_BACKEND_AUTO : URIO_BACKEND_AIO;
	ret = urio_loop_create(&j.loop, &lo);
	if (ret < 0) {
		fprintf(stderr, "urio-bench: cannot create the loop: %s\n",
			urio_strerror(ret));
		return 1;
	}
	oflags = (c->rw == RW_RANDREAD || c->rw == RW_READ) ? O_RDONLY : O_RDWR;
	if (c->direct)
		oflags |= O_DIRECT;
	ret = urio_target_open(j.loop, &j.target, c->path, oflags, 0, &to);
	if (ret < 0) {
		fprintf(stderr, "urio-bench: cannot open %s: %s\n", c->path,
			urio_strerror(ret));
		goto out_loop;
	}
	ret = urio_target_info(j.target, &info);
	if (ret == 0 && (!c->size || c->size > info.bytes))
		c->size = info.bytes;
	j.nblocks = c->size / c->bs;
	if (!j.nblocks) {
		fprintf(stderr,
			"urio-bench: %s holds no whole %zu-byte block\n",
			c->path, c->bs);
		goto out_loop;
	}
	j.slots = calloc(c->qd, sizeof(*j.slots));
	if (!j.slots)
		goto out_loop;
	for (unsigned i = 0; i < c->qd; i++) {
		j.slots[i].job = &j;
		if (posix_memalign((void **)&j.slots[i].buf, 4096, c->bs)) {
			fprintf(stderr,
				"urio-bench: out of memory for buffers\n");
			goto out_slots;
		}
		memset(j.slots[i].buf, 0x5a, c->bs);
	}
	hist_init(&j.lat);
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	j.deadline_ns = t0 + (uint64_t)(c->runtime * 1e9);
	for (unsigned i = 0; i < c->qd && !j.stop; i++)
		issue(&j.slots[i]);
	ret = urio_loop_run(j.loop, URIO_RUN_DEFAULT);
	secs = (now_ns() - t0) / 1e9;
	getrusage(RUSAGE_SELF, &r1);
	if (ret < 0 && !j.errors) {
		j.first_error = ret;
		j.errors++;
	}
	report(c, &j, j.loop, secs, tv_sec(r1.ru_utime) - tv_sec(r0.ru_utime),
	       tv_sec(r1.ru_stime) - tv_sec(r0.ru_stime));
	if (j.errors)
		fprintf(stderr,
			"urio-bench: %" PRIu64
			" I/O error%s on %s, first: %s\n",
			j.errors, j.errors > 1 ? "s" : "", c->path,
			urio_strerror(j.first_error));
	else
		status = 0;
out_slots:
	for (unsigned i = 0; i < c->qd; i++)
		free(j.slots[i].buf);
	free(j.slots);
out_loop:
	urio_loop_destroy(j.loop);
	return status;
}

int main(int argc, char **argv)
{
	struct config c = {
		.engine = "uring",
		.rw = RW_RANDREAD,
		.bs = 4096,
		.qd = 32,
		.runtime = 5,
	};
	char tmp[PATH_MAX];
	int status;

	if (parse_args(argc, argv, &c) < 0)
		return 2;
	if (!c.path) {
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
