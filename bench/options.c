/* SPDX-License-Identifier: MIT */
/* options.c - urio-bench's command line.  Where it borrows fio's words it
 * takes fio's spellings too (--iodepth, --numjobs, --filename, --ioengine,
 * --direct=1, --opt=value everywhere), so a fio user's line runs as is. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

const char *const rw_names[] = { "randread", "randwrite", "read", "write",
				 "randrw" };
const char *const engine_names[] = { "uring", "aio", "psync", "passthru" };

/* fio's --ioengine names for the same engines, in engine order. */
static const char *const fio_engine_names[] = { "io_uring", "libaio", "psync",
						"io_uring_cmd" };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: urio-bench [options] [TARGET]\n"
		"  TARGET             file or block device, or --filename=PATH "
		"(default: a\n"
		"                     temporary 256 MiB file in $TMPDIR or "
		"/tmp, "
		"removed\n"
		"                     afterwards); a missing file is created "
		"and filled,\n"
		"                     a smaller one grown to --size, as fio "
		"does\n"
		"  --engine NAME      --ioengine: uring (io_uring; libaio if "
		"it "
		"cannot be had),\n"
		"                     aio (libaio), psync (pread/pwrite, no "
		"urio),\n"
		"                     passthru (NVMe commands on /dev/ngXnY); "
		"fio's names\n"
		"                     io_uring, libaio, io_uring_cmd work too\n"
		"  --rw MODE          randread|randwrite|read|write|randrw "
		"(randread)\n"
		"  --rwmix PCT        --rwmixread: reads in randrw, percent "
		"(50)\n"
		"  --bs BYTES         block size, k/m/g suffixes (4k)\n"
		"  --qd N             --iodepth: queue depth per thread (32)\n"
		"  --size BYTES       bytes of the target to use (256m or the "
		"target's size)\n"
		"  --runtime SEC      seconds to measure, s/m/h suffixes (5); "
		"always time\n"
		"                     based (--time_based is accepted)\n"
		"  --ramp SEC         --ramp_time: seconds to run before "
		"measuring (0)\n"
		"  --threads N        --numjobs: threads, one loop each, "
		"pinned "
		"to a CPU (1)\n"
		"  --entries N        SQ entries per ring (default: the "
		"loop's)\n"
		"  --rings N          rings per loop (1)\n"
		"  --fixedbufs        buffers from the loop's registered pool\n"
		"  --regfiles         --registerfiles: register the target's "
		"fd "
		"with the rings\n"
		"  --sqpoll           --sqthread_poll: a kernel thread polls "
		"the "
		"SQ\n"
		"  --iopoll           --hipri: poll for NVMe passthrough "
		"completions\n"
		"  --spin USEC        poll for completions this long before "
		"sleeping,\n"
		"                     every time (default: the loop adapts)\n"
		"  --sleep            never spin: sleep in the kernel at once\n"
		"  --direct           open with O_DIRECT (--direct=1)\n"
		"  --invalidate 0|1   drop the target's page cache before the "
		"run (1, as fio)\n"
		"  --verify           write a pattern, check every block read\n"
		"  --nop              NOP requests only: urio's own cost per "
		"request\n"
		"  --json             print one JSON object instead of the "
		"summary\n"
		"  --version          urio-bench's and urio's version\n"
		"  --help             this text\n"
		"Flags take fio's --flag=1 and --flag=0 too.\n");
}

static int parse_size(const char *s, uint64_t *out)
{
	unsigned shift = 0;
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		break;
	}
	if (shift)
		end++;
	if (*end || v > UINT64_MAX >> shift)
		return -1;
	*out = v << shift;
	return 0;
}

static int pick(const char *what, const char *arg, const char *const *names,
		size_t n, const char *const *alt)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(arg, names[i]) || (alt && !strcmp(arg, alt[i])))
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

/* Decimal seconds with fio's optional unit (s, m, h): no inf, nan, hex or
 * exponent, which strtod would take. */
static int seconds(const char *what, const char *arg, bool zero_ok, double *v)
{
	size_t digits = strspn(arg, "0123456789.");
	const char *unit = arg + digits;
	double scale = 1;
	char *end;

	if (!strcmp(unit, "m"))
		scale = 60;
	else if (!strcmp(unit, "h"))
		scale = 3600;
	else if (*unit && strcmp(unit, "s"))
		digits = 0;
	*v = digits ? strtod(arg, &end) * scale : 0;
	if (!digits || end != unit || !(*v > 0 || (zero_ok && *v == 0)) ||
	    *v > 1e7) {
		fprintf(stderr,
			"urio-bench: bad %s '%s' (seconds: a decimal number, "
			"with s, m or h)\n",
			what, arg);
		return -1;
	}
	return 0;
}

/* A flag alone, or fio's --flag=1 / --flag=0 (and its other words). */
static int flag(const char *what, const char *arg, bool *v)
{
	if (!arg || !strcmp(arg, "1") || !strcmp(arg, "true") ||
	    !strcmp(arg, "yes") || !strcmp(arg, "on")) {
		*v = true;
	} else if (!strcmp(arg, "0") || !strcmp(arg, "false") ||
		   !strcmp(arg, "no") || !strcmp(arg, "off")) {
		*v = false;
	} else {
		fprintf(stderr, "urio-bench: bad %s '%s' (0 or 1)\n", what,
			arg);
		return -1;
	}
	return 0;
}

static int target(struct config *c, const char *path)
{
	if (c->path) {
		fprintf(stderr, "urio-bench: one target only\n");
		return -1;
	}
	c->path = path;
	return 0;
}

enum {
	OPT_ENGINE = 256,
	OPT_RW,
	OPT_RWMIX,
	OPT_BS,
	OPT_QD,
	OPT_SIZE,
	OPT_RUNTIME,
	OPT_RAMP,
	OPT_THREADS,
	OPT_ENTRIES,
	OPT_RINGS,
	OPT_FIXEDBUFS,
	OPT_REGFILES,
	OPT_SQPOLL,
	OPT_IOPOLL,
	OPT_SPIN,
	OPT_SLEEP,
	OPT_DIRECT,
	OPT_INVALIDATE,
	OPT_VERIFY,
	OPT_NOP,
	OPT_JSON,
	OPT_FILENAME,
	OPT_TIME_BASED,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option opts[] = {
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "ioengine", required_argument, NULL, OPT_ENGINE },
	{ "rw", required_argument, NULL, OPT_RW },
	{ "readwrite", required_argument, NULL, OPT_RW },
	{ "rwmix", required_argument, NULL, OPT_RWMIX },
	{ "rwmixread", required_argument, NULL, OPT_RWMIX },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "blocksize", required_argument, NULL, OPT_BS },
	{ "qd", required_argument, NULL, OPT_QD },
	{ "iodepth", required_argument, NULL, OPT_QD },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "runtime", required_argument, NULL, OPT_RUNTIME },
	{ "ramp", required_argument, NULL, OPT_RAMP },
	{ "ramp_time", required_argument, NULL, OPT_RAMP },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "numjobs", required_argument, NULL, OPT_THREADS },
	{ "entries", required_argument, NULL, OPT_ENTRIES },
	{ "rings", required_argument, NULL, OPT_RINGS },
	{ "fixedbufs", optional_argument, NULL, OPT_FIXEDBUFS },
	{ "regfiles", optional_argument, NULL, OPT_REGFILES },
	{ "registerfiles", optional_argument, NULL, OPT_REGFILES },
	{ "sqpoll", optional_argument, NULL, OPT_SQPOLL },
	{ "sqthread_poll", optional_argument, NULL, OPT_SQPOLL },
	{ "iopoll", optional_argument, NULL, OPT_IOPOLL },
	{ "hipri", optional_argument, NULL, OPT_IOPOLL },
	{ "spin", required_argument, NULL, OPT_SPIN },
	{ "sleep", optional_argument, NULL, OPT_SLEEP },
	{ "direct", optional_argument, NULL, OPT_DIRECT },
	{ "invalidate", required_argument, NULL, OPT_INVALIDATE },
	{ "verify", optional_argument, NULL, OPT_VERIFY },
	{ "nop", optional_argument, NULL, OPT_NOP },
	{ "json", optional_argument, NULL, OPT_JSON },
	{ "filename", required_argument, NULL, OPT_FILENAME },
	{ "time_based", optional_argument, NULL, OPT_TIME_BASED },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* One option; name is the spelling given, for the error message. */
static int option(struct config *c, int o, const char *name, const char *arg)
{
	bool time_based;
	uint64_t v;
	int i;

	switch (o) {
	case OPT_ENGINE:
		i = pick("engine", arg, engine_names, ENG_COUNT,
			 fio_engine_names);
		if (i < 0)
			return -1;
		c->engine = (enum engine)i;
		return 0;
	case OPT_RW:
		i = pick("--rw", arg, rw_names, 5, NULL);
		if (i < 0)
			return -1;
		c->rw = (enum rw_mode)i;
		return 0;
	case OPT_RWMIX:
		if (number(name, arg, 0, 100, &v))
			return -1;
		c->rwmix = (unsigned)v;
		return 0;
	case OPT_BS:
		if (number(name, arg, 1, 1u << 30, &v))
			return -1;
		c->bs = v;
		return 0;
	case OPT_QD:
		if (number(name, arg, 1, 65536, &v))
			return -1;
		c->qd = (unsigned)v;
		return 0;
	case OPT_SIZE:
		return number(name, arg, 1, UINT64_MAX, &c->size);
	case OPT_RUNTIME:
		return seconds(name, arg, false, &c->runtime);
	case OPT_RAMP:
		return seconds(name, arg, true, &c->ramp);
	case OPT_THREADS:
		if (number(name, arg, 1, 256, &v))
			return -1;
		c->threads = (unsigned)v;
		return 0;
	case OPT_ENTRIES:
		if (number(name, arg, 1, 32768, &v))
			return -1;
		c->entries = (unsigned)v;
		return 0;
	case OPT_RINGS:
		if (number(name, arg, 1, URIO_MAX_RINGS, &v))
			return -1;
		c->rings = (unsigned)v;
		return 0;
	case OPT_SPIN:
		if (number(name, arg, 0, 1000000, &v))
			return -1;
		c->spin_usec = (unsigned)v;
		return 0;
	case OPT_INVALIDATE:
		if (!arg || (strcmp(arg, "0") && strcmp(arg, "1"))) {
			fprintf(stderr,
				"urio-bench: bad --invalidate '%s' (0 or 1)\n",
				arg ? arg : "");
			return -1;
		}
		c->invalidate = *arg == '1';
		return 0;
	case OPT_FIXEDBUFS:
		return flag(name, arg, &c->fixedbufs);
	case OPT_REGFILES:
		return flag(name, arg, &c->regfiles);
	case OPT_SQPOLL:
		return flag(name, arg, &c->sqpoll);
	case OPT_IOPOLL:
		return flag(name, arg, &c->iopoll);
	case OPT_SLEEP:
		return flag(name, arg, &c->sleep);
	case OPT_DIRECT:
		return flag(name, arg, &c->direct);
	case OPT_VERIFY:
		return flag(name, arg, &c->verify);
	case OPT_NOP:
		return flag(name, arg, &c->nop);
	case OPT_JSON:
		return flag(name, arg, &c->json);
	case OPT_TIME_BASED:
		/* urio-bench always runs for --runtime: the flag is fio's
		 * way of asking for exactly that. */
		return flag(name, arg, &time_based);
	case OPT_FILENAME:
		return target(c, arg);
	case OPT_VERSION:
		printf("urio-bench %s (urio %s)\n", URIO_BENCH_VERSION,
		       urio_version_string());
		exit(0);
	case OPT_HELP:
		usage(stdout);
		exit(0);
	default:
		usage(stderr);
		return -1;
	}
}

int parse_args(int argc, char **argv, struct config *c)
{
	int o, idx;

	while ((o = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		char name[64];

		if (o == '?' || o == ':') {
			usage(stderr);
			return -1;
		}
		snprintf(name, sizeof(name), "--%s", opts[idx].name);
		if (option(c, o, name, optarg) < 0)
			return -1;
	}
	while (optind < argc)
		if (target(c, argv[optind++]) < 0)
			return -1;
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
