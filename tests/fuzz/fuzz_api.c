/* SPDX-License-Identifier: MIT */
/* fuzz_api.c - libFuzzer drives urio's public API with fuzzed sequences of
 * calls and arguments on a file it made at start: NULLs, zero and huge
 * sizes, misaligned O_DIRECT buffers, closed targets, cancels of stale ids,
 * runs in every mode.  Whatever it does, no crash, no sanitizer report, and
 * each accepted request's callback runs exactly once while a refused one's
 * never runs (checked per request, abort()).  At exit it says how much it
 * exercised; .ci/fuzz requires a minimum.
 * Build: CC=clang meson setup build-fuzz -Dfuzz=true; run:
 *   build-fuzz/tests/fuzz/fuzz_api -max_total_time=60 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "urio.h"

struct input {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct input *in, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

#define STEPS 64

static char path[64];
static char *buf; /* 64 KiB + 4 KiB, 4 KiB aligned */

/* One record per step: at most one request each. */
struct rec {
	urio_id id; /* > 0: accepted */
	unsigned calls;
};

/* What the run exercised, printed at exit for .ci/fuzz. */
static struct {
	uint64_t inputs, accepted, callbacks, on_target, opts_refused;
} seen;

static void count(urio_loop *loop, int res, void *data)
{
	struct rec *r = data;

	(void)loop;
	(void)res;
	r->calls++;
	seen.callbacks++;
}

/* A size: often small and aligned, sometimes zero, odd or huge. */
static size_t size_of(struct input *in)
{
	switch (take(in, 1) % 6) {
	case 0:
		return 0;
	case 1: {
		/* Huge sizes urio must refuse; any it accepts must fit the
		 * arena (a read into it, a write from it). */
		uint64_t v = take(in, 8);

		return v > 65536 && v <= 0x7ffff000u ? 65536 : (size_t)v;
	}
	case 2:
		return 1 + take(in, 2) % 65536;
	default:
		return 512 * (1 + take(in, 1) % 128);
	}
}

static uint64_t off_of(struct input *in)
{
	switch (take(in, 1) % 5) {
	case 0:
		return take(in, 8);
	case 1:
		return take(in, 3);
	default:
		return 4096 * (take(in, 2) % 256);
	}
}

static void *buf_of(struct input *in, size_t len)
{
	uint64_t o = take(in, 2) % 4096;

	if (take(in, 1) % 16 == 0)
		return NULL;
	/* keep buffer + len inside the arena when len fits at all */
	if (len > 65536)
		return buf + o % 8;
	return buf + (o < 4096 - 1 ? o : 0) * (take(in, 1) % 2);
}

static void report(void)
{
	fprintf(stderr,
		"fuzz_api: %llu inputs, %llu requests accepted, %llu "
		"callbacks, %llu inputs with a target, %llu loop options "
		"refused\n",
		(unsigned long long)seen.inputs,
		(unsigned long long)seen.accepted,
		(unsigned long long)seen.callbacks,
		(unsigned long long)seen.on_target,
		(unsigned long long)seen.opts_refused);
	unlink(path);
}

/* The target: a 1 MiB file on tmpfs (or $TMPDIR), made here once, so that
 * every input has something to open. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	int fd;

	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "%s/urio-fuzz.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0) {
		perror("fuzz_api: target file");
		abort();
	}
	close(fd);
	if (posix_memalign((void **)&buf, 4096, 65536 + 8192))
		abort();
	memset(buf, 0x33, 65536 + 8192);
	atexit(report);
	return 0;
}

static urio_loop *make_loop(struct input *in)
{
	struct urio_loop_opts o = { .size = sizeof(o) };
	urio_loop *loop;
	int ret;

	o.entries = 1 + (unsigned)take(in, 1) % 64;
	o.rings = 1 + (unsigned)take(in, 1) % 3;
	o.inflight_cap = (unsigned)take(in, 1) % 80;
	o.backend = (unsigned)take(in, 1) % 3;
	o.flags =
		URIO_LOOP_QUIET | ((unsigned)take(in, 1) & URIO_LOOP_NO_DEFER);
	ret = urio_loop_create(&loop, &o);
	if (ret == 0)
		return loop;
	/* Refused options still leave the calls to exercise: defaults. */
	seen.opts_refused++;
	o = (struct urio_loop_opts){ .size = sizeof(o),
				     .flags = URIO_LOOP_QUIET };
	ret = urio_loop_create(&loop, &o);
	if (ret) {
		fprintf(stderr, "fuzz_api: default loop: %s\n",
			urio_strerror(ret));
		abort();
	}
	return loop;
}

/* Opens the file with fuzzed flags; without O_DIRECT when the file system
 * refuses it (tmpfs before Linux 6.6), and plainly when the options are
 * what urio refuses.  Never NULL. */
static urio_target *open_target(urio_loop *loop, struct input *in)
{
	struct urio_target_opts to = { .size = sizeof(to) };
	unsigned flags = (unsigned)take(in, 1);
	urio_target *t;
	int ret;

	to.flags = (flags & 2 ? URIO_TARGET_NO_INLINE : 0) |
		   (flags & 4 ? URIO_TARGET_REGISTER : 0);
	to.inflight_cap = (unsigned)take(in, 1) % 40;
	ret = urio_target_open(loop, &t, path,
			       O_RDWR | (flags & 1 ? O_DIRECT : 0), 0, &to);
	if (ret == -EINVAL && (flags & 1))
		ret = urio_target_open(loop, &t, path, O_RDWR, 0, &to);
	if (ret < 0)
		ret = urio_target_open(loop, &t, path, O_RDWR, 0, NULL);
	if (ret < 0) {
		fprintf(stderr, "fuzz_api: open %s: %s\n", path,
			urio_strerror(ret));
		abort();
	}
	seen.on_target++;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct rec rec[STEPS];
	struct iovec iov[4];
	urio_loop *loop;
	urio_target *t;
	urio_id ids[8] = { 0 };

	seen.inputs++;
	memset(rec, 0, sizeof(rec));
	if (truncate(path, 1 << 20) < 0)
		abort();
	loop = make_loop(&in);
	t = open_target(loop, &in);
	for (unsigned step = 0; step < STEPS && in.n; step++) {
		unsigned op = (unsigned)take(&in, 1) % 16;
		unsigned f = take(&in, 1) % 8 == 0 ? URIO_F_WAIT : 0;
		struct rec *r = &rec[step];
		urio_id id = 0;
		size_t len;

		switch (op) {
		case 0:
		case 1:
			len = size_of(&in);
			id = op ? urio_write(t, buf_of(&in, len), len,
					     off_of(&in), f, count, r)
				: urio_read(t, buf_of(&in, len), len,
					    off_of(&in), f, count, r);
			break;
		case 2:
		case 3: {
			unsigned cnt = (unsigned)take(&in, 1) % 5;

			for (unsigned i = 0; i < cnt && i < 4; i++) {
				iov[i].iov_len = 1 + take(&in, 2) % 16384;
				iov[i].iov_base = buf + 16384 * i;
			}
			id = op == 2 ? urio_readv(t, iov, cnt, off_of(&in), f,
						  count, r)
				     : urio_writev(t, iov, cnt, off_of(&in), f,
						   count, r);
			break;
		}
		case 4:
			id = take(&in, 1) % 2 ? urio_fsync(t, f, count, r)
					      : urio_fdatasync(t, f, count, r);
			break;
		case 5:
			id = urio_nop(loop, f, count, r);
			break;
		case 6:
			id = urio_timeout(loop, take(&in, 2) * 100, f, count,
					  r);
			break;
		case 7:
			id = urio_cancel(loop, ids[take(&in, 1) % 8], f, count,
					 r);
			break;
		case 8:
			urio_loop_run(loop, URIO_RUN_NOWAIT);
			break;
		case 9:
			urio_loop_run(loop, URIO_RUN_ONCE);
			break;
		case 10:
			urio_target_close(t);
			break;
		case 11: {
			struct urio_stats st = { .size = take(&in, 1) % 64 };

			urio_loop_stats(loop, &st);
			urio_target_stats(t, &st);
			urio_loop_ring_stats(loop, (unsigned)take(&in, 1) % 5,
					     &st);
			break;
		}
		case 12:
			id = take(&in, 1) % 2
				     ? urio_write_zeroes(t, off_of(&in),
							 size_of(&in), f, count,
							 r)
				     : urio_trim(t, off_of(&in), size_of(&in),
						 f, count, r);
			break;
		case 13: {
			char d[256];

			urio_loop_describe(loop, d, 1 + take(&in, 1));
			break;
		}
		case 14:
			urio_loop_submit(loop);
			break;
		default:
			id = urio_read(take(&in, 1) % 2 ? t : NULL, buf, 4096,
				       0, f, take(&in, 1) % 2 ? count : NULL,
				       r);
			break;
		}
		if (id > 0) {
			r->id = id;
			seen.accepted++;
			ids[step % 8] = id;
		}
	}
	if (urio_loop_destroy(loop) != 0)
		abort();
	/* Per request: a duplicate of one cannot hide the loss of another. */
	for (unsigned step = 0; step < STEPS; step++) {
		if (rec[step].calls == (rec[step].id > 0 ? 1u : 0u))
			continue;
		fprintf(stderr,
			"fuzz_api: step %u, id %lld (%s): %u callbacks\n", step,
			(long long)rec[step].id,
			rec[step].id > 0 ? "accepted" : "refused",
			rec[step].calls);
		abort();
	}
	return 0;
}
