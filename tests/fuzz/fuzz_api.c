/* SPDX-License-Identifier: MIT */
/* fuzz_api.c - libFuzzer drives urio's public API with fuzzed sequences of
 * calls and arguments on a tmpfs file: NULLs, zero and huge sizes,
 * misaligned O_DIRECT buffers, closed targets, cancels of stale ids, runs
 * in every mode.  Whatever it does, no crash, no sanitizer report, and
 * every accepted request's callback runs exactly once (checked, abort()).
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

static char path[64];
static char *buf; /* 64 KiB + 4 KiB, 4 KiB aligned */
static uint64_t callbacks;

static void count(urio_loop *loop, int res, void *data)
{
	(void)loop;
	(void)res;
	(void)data;
	callbacks++;
}

/* A size: often small and aligned, sometimes zero, odd or huge. */
static size_t size_of(struct input *in)
{
	switch (take(in, 1) % 6) {
	case 0:
		return 0;
	case 1:
		return (size_t)take(in, 8);
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

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof(path), "/dev/shm/urio-fuzz.%d", (int)getpid());
	if (posix_memalign((void **)&buf, 4096, 65536 + 8192))
		abort();
	memset(buf, 0x33, 65536 + 8192);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct urio_loop_opts o = { .size = sizeof(o) };
	struct urio_target_opts to = { .size = sizeof(to) };
	struct iovec iov[4];
	urio_loop *loop;
	urio_target *t = NULL;
	urio_id ids[8] = { 0 };
	uint64_t accepted = 0;
	unsigned flags;
	int fd;

	callbacks = 0;
	o.entries = 1 + (unsigned)take(&in, 1) % 64;
	o.rings = 1 + (unsigned)take(&in, 1) % 3;
	o.inflight_cap = (unsigned)take(&in, 1) % 80;
	o.backend = (unsigned)take(&in, 1) % 3;
	o.flags =
		URIO_LOOP_QUIET | ((unsigned)take(&in, 1) & URIO_LOOP_NO_DEFER);
	if (urio_loop_create(&loop, &o) < 0)
		return 0;
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		if (ftruncate(fd, 1 << 20) == 0) {
			/* target flags: direct, no-inline, register */
			flags = (unsigned)take(&in, 1);
			close(fd);
			to.flags = (flags & 2 ? URIO_TARGET_NO_INLINE : 0) |
				   (flags & 4 ? URIO_TARGET_REGISTER : 0);
			to.inflight_cap = (unsigned)take(&in, 1) % 40;
			if (urio_target_open(loop, &t, path,
					     O_RDWR |
						     (flags & 1 ? O_DIRECT : 0),
					     0, &to) < 0)
				t = NULL;
		} else {
			close(fd);
		}
	}
	for (unsigned step = 0; step < 64 && in.n; step++) {
		unsigned op = (unsigned)take(&in, 1) % 16;
		unsigned f = take(&in, 1) % 8 == 0 ? URIO_F_WAIT : 0;
		urio_id id = 0;
		size_t len;

		switch (op) {
		case 0:
		case 1:
			len = size_of(&in);
			id = op ? urio_write(t, buf_of(&in, len), len,
					     off_of(&in), f, count, NULL)
				: urio_read(t, buf_of(&in, len), len,
					    off_of(&in), f, count, NULL);
			break;
		case 2:
		case 3: {
			unsigned cnt = (unsigned)take(&in, 1) % 5;

			for (unsigned i = 0; i < cnt && i < 4; i++) {
				iov[i].iov_len = 1 + take(&in, 2) % 16384;
				iov[i].iov_base = buf + 16384 * i;
			}
			id = op == 2 ? urio_readv(t, iov, cnt, off_of(&in), f,
						  count, NULL)
				     : urio_writev(t, iov, cnt, off_of(&in), f,
						   count, NULL);
			break;
		}
		case 4:
			id = take(&in, 1) % 2
				     ? urio_fsync(t, f, count, NULL)
				     : urio_fdatasync(t, f, count, NULL);
			break;
		case 5:
			id = urio_nop(loop, f, count, NULL);
			break;
		case 6:
			id = urio_timeout(loop, take(&in, 2) * 100, f, count,
					  NULL);
			break;
		case 7:
			id = urio_cancel(loop, ids[take(&in, 1) % 8], f, count,
					 NULL);
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
							 NULL)
				     : urio_trim(t, off_of(&in), size_of(&in),
						 f, count, NULL);
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
				       NULL);
			break;
		}
		if (id > 0) {
			accepted++;
			ids[step % 8] = id;
		}
	}
	if (urio_loop_destroy(loop) != 0)
		abort();
	if (callbacks != accepted) {
		fprintf(stderr, "fuzz_api: %llu accepted, %llu callbacks\n",
			(unsigned long long)accepted,
			(unsigned long long)callbacks);
		abort();
	}
	return 0;
}
