/* SPDX-License-Identifier: MIT */
/* test_memlock_ladder.c - loops under real kernel faults: an unprivileged
 * user with a small RLIMIT_MEMLOCK, and seccomp filters that make
 * io_uring_setup fail.  Each case runs in a child of its own (the faults
 * cannot be undone) under a uid of its own (the kernel charges locked
 * memory per user, and releases a closed ring's charge late). */
#include "fault.h"
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <liburing.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/plan.h"

#define KiB 1024ull

/* In a child: nothing in flight, and destroy returns 0. */
static void finish(urio_loop *loop)
{
	char why[192];

	REQUIRE(destroy_clean(loop, why, sizeof(why)) == 0, "%s", why);
}

/* Writes n blocks through the loop and reads them back. */
static void roundtrip(urio_loop *loop, urio_target *t, unsigned n, char *wbuf,
		      char *rbuf)
{
	struct req *w = calloc(n, sizeof(*w)), *r = calloc(n, sizeof(*r));
	urio_id id;

	REQUIRE(w && r, "alloc");
	for (unsigned i = 0; i < n; i++) {
		fill_pattern(wbuf + (size_t)i * 4096, 4096, 3, i);
		id = urio_write(t, wbuf + (size_t)i * 4096, 4096,
				(uint64_t)i * 4096, URIO_F_WAIT, req_cb, &w[i]);
		REQUIRE(id > 0, "write %u: %s", i, urio_strerror((int)id));
	}
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) >= 0, "run");
	for (unsigned i = 0; i < n; i++)
		REQUIRE(w[i].calls == 1 && w[i].res == 4096,
			"write %u: %u callbacks, %d", i, w[i].calls, w[i].res);
	memset(rbuf, 0, (size_t)n * 4096);
	for (unsigned i = 0; i < n; i++) {
		id = urio_read(t, rbuf + (size_t)i * 4096, 4096,
			       (uint64_t)i * 4096, URIO_F_WAIT, req_cb, &r[i]);
		REQUIRE(id > 0, "read %u: %s", i, urio_strerror((int)id));
	}
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) >= 0, "run");
	for (unsigned i = 0; i < n; i++) {
		REQUIRE(r[i].calls == 1 && r[i].res == 4096,
			"read %u: %u callbacks, %d", i, r[i].calls, r[i].res);
		REQUIRE(check_pattern(rbuf + (size_t)i * 4096, 4096, 3, i),
			"block %u differs", i);
	}
	free(w);
	free(r);
}

static bool has_step(const struct urio_layout *l, const char *step, int err)
{
	for (unsigned i = 0; i < l->nfallbacks; i++)
		if (!strcmp(l->fallbacks[i].step, step) &&
		    (err < 0 || l->fallbacks[i].err == err))
			return true;
	return false;
}

/* A scratch file opened before any privilege is dropped. */
static int scratch_fd(bool direct)
{
	char path[256];
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR | (direct ? O_DIRECT : 0));
	REQUIRE(fd >= 0, "scratch file %s: %s", path, strerror(errno));
	unlink(path);
	return fd;
}

struct count_log {
	unsigned calls;
	char all[2048]; /* every line, in order */
};

static void count_log(void *arg, const char *msg)
{
	struct count_log *c = arg;
	size_t n = strlen(c->all);

	c->calls++;
	snprintf(c->all + n, sizeof(c->all) - n, "%s\n", msg);
}

/* ---- an unprivileged user with a small RLIMIT_MEMLOCK --------------- */

static const uint64_t limits[] = { 64 * KiB, 256 * KiB, 1024 * KiB };

static void small_limit_child(void *arg)
{
	unsigned i = *(unsigned *)arg;
	uint64_t limit = limits[i];
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_plan_in pin = { .memlock_limit = limit };
	char *wbuf = malloc(256 * 4096), *rbuf = malloc(256 * 4096);
	urio_loop *loop;
	urio_target *t;
	uint64_t sum = 0;
	int fd, ret;

	REQUIRE(wbuf && rbuf, "alloc");
	fd = scratch_fd(false);
	ret = fault_drop_to(61000 + i, limit);
	REQUIRE(ret == 0, "drop: %s", strerror(-ret));
	o.entries = 4096;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "create under %llu KiB: %s",
		(unsigned long long)(limit >> 10), urio_strerror(ret));
	REQUIRE(urio_loop_layout(loop, &lay) == 0, "layout");
	REQUIRE(!strcmp(lay.backend, "io_uring"), "backend %s", lay.backend);
	REQUIRE(lay.memlock_limit == limit, "limit seen %llu",
		(unsigned long long)lay.memlock_limit);
	for (unsigned r = 0; r < lay.nrings; r++)
		sum += urio_plan_ring_bytes(&pin, lay.rings[r].entries,
					    lay.rings[r].cq_entries);
	REQUIRE(sum <= limit, "rings need %llu KiB of %llu",
		(unsigned long long)(sum >> 10),
		(unsigned long long)(limit >> 10));
	REQUIRE(lay.planned_bytes <= limit, "planned %llu",
		(unsigned long long)lay.planned_bytes);
	if (limit == 64 * KiB)
		REQUIRE(lay.nrings == 1 && lay.rings[0].entries == 512,
			"64 KiB: %u rings of %u", lay.nrings,
			lay.rings[0].entries);
	/* A 4096-entry ring needs 404 KiB: cut under 64 and 256 KiB only. */
	REQUIRE(has_step(&lay, "memlock", -1) == (limit < 404 * KiB),
		"cut reported: %d under %llu KiB",
		has_step(&lay, "memlock", -1),
		(unsigned long long)(limit >> 10));
	REQUIRE(urio_target_adopt(loop, &t, fd, NULL) == 0, "adopt");
	roundtrip(loop, t, 256, wbuf, rbuf);
	finish(loop);
	free(wbuf);
	free(rbuf);
}

START_LOOP_TEST(small_memlock_limit_gives_rings_that_fit_and_io_works, 3)
{
	unsigned i = (unsigned)_i;

	in_child(small_limit_child, &i);
}
END_TEST

/* The planner's model against what the kernel allows: the largest ring it
 * says fits starts, the next size up is refused with ENOMEM. */
static void model_child(void *arg)
{
	unsigned i = *(unsigned *)arg;
	uint64_t limit = limits[i];
	struct urio_plan_in pin = { .memlock_limit = limit };
	struct io_uring ring, small;
	unsigned e = 8, ring_e = 8;
	uint64_t left;
	char *buf;
	int ret;

	REQUIRE(fault_drop_to(61100 + i, limit) == 0, "drop");
	while (urio_plan_ring_bytes(&pin, e * 2, 0) <= limit)
		e *= 2;
	ret = io_uring_queue_init(e, &ring, 0);
	REQUIRE(ret == 0, "%u entries fit the model under %llu KiB, kernel: %s",
		e, (unsigned long long)(limit >> 10), strerror(-ret));
	io_uring_queue_exit(&ring);
	usleep(100000); /* the charge is released late */
	ret = io_uring_queue_init(e * 2, &ring, 0);
	REQUIRE(ret == -ENOMEM, "%u entries exceed the model, kernel: %d",
		e * 2, ret);
	/* Buffers: what a small ring leaves registers, a page more does not. */
	usleep(100000);
	REQUIRE(io_uring_queue_init(ring_e, &small, 0) == 0, "small ring");
	left = limit - urio_plan_ring_bytes(&pin, ring_e, 0);
	buf = aligned_alloc(4096, left + 4096);
	REQUIRE(buf, "alloc");
	{
		struct iovec iov = { buf, left };

		ret = io_uring_register_buffers(&small, &iov, 1);
		REQUIRE(ret == 0, "%llu KiB of buffers: %s",
			(unsigned long long)(left >> 10), strerror(-ret));
		REQUIRE(io_uring_unregister_buffers(&small) == 0, "unregister");
		iov.iov_len = left + 4096;
		ret = io_uring_register_buffers(&small, &iov, 1);
		REQUIRE(ret == -ENOMEM, "%llu KiB of buffers: %d",
			(unsigned long long)((left + 4096) >> 10), ret);
	}
	io_uring_queue_exit(&small);
	free(buf);
}

START_LOOP_TEST(planner_model_matches_what_the_kernel_allows, 3)
{
	unsigned i = (unsigned)_i;

	in_child(model_child, &i);
}
END_TEST

static void buffer_pool_child(void *arg)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct req w = { 0 }, r = { 0 };
	urio_loop *loop;
	urio_target *t;
	void *base;
	size_t len;
	char *p;
	int fd, ret;

	(void)arg;
	fd = scratch_fd(false);
	REQUIRE(fault_drop_to(61200, 256 * KiB) == 0, "drop");
	o.entries = 64;
	o.buf_bytes = 1024 * KiB;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "create: %s", urio_strerror(ret));
	REQUIRE(urio_loop_layout(loop, &lay) == 0, "layout");
	REQUIRE(urio_loop_buffers(loop, &base, &len) == 0, "buffers");
	REQUIRE(len == lay.buf_bytes, "pool %zu, layout %llu", len,
		(unsigned long long)lay.buf_bytes);
	REQUIRE(len > 0 && len < 1024 * KiB, "pool of %zu bytes", len);
	REQUIRE(has_step(&lay, "buffers", -1), "the cut is not reported");
	/* Fixed-buffer I/O from the pool reads back. */
	REQUIRE(urio_target_adopt(loop, &t, fd, NULL) == 0, "adopt");
	p = base;
	fill_pattern(p, 8192, 9, 1);
	REQUIRE(urio_write(t, p, 8192, 0, 0, req_cb, &w) > 0, "write");
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) == 1 && w.calls == 1 &&
			w.res == 8192,
		"write: %u callbacks, %d", w.calls, w.res);
	memset(p, 0, 8192);
	REQUIRE(urio_read(t, p + 4096 * 3, 8192, 0, 0, req_cb, &r) > 0, "read");
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) == 1 && r.calls == 1 &&
			r.res == 8192,
		"read: %u callbacks, %d", r.calls, r.res);
	REQUIRE(check_pattern(p + 4096 * 3, 8192, 9, 1), "data differs");
	finish(loop);
	REQUIRE(w.calls == 1 && r.calls == 1, "called back again at the end");
}

START_TEST(buffer_pool_larger_than_the_limit_is_cut_and_reported)
{
	in_child(buffer_pool_child, NULL);
}
END_TEST

static void nothing_fits_child(void *arg)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct count_log log = { 0 };
	urio_loop *loop = NULL;
	const char *line, *end;
	int ret;

	(void)arg;
	REQUIRE(fault_drop_to(61300, 4 * KiB) == 0, "drop");
	o.log = count_log;
	o.log_arg = &log;
	o.backend = URIO_BACKEND_URING;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == -ENOMEM, "forced io_uring under 4 KiB: %d", ret);
	REQUIRE(loop == NULL, "loop set on failure");
	REQUIRE(strstr(log.all, "RLIMIT_MEMLOCK is 4 KiB"), "log: %s", log.all);
	REQUIRE(strstr(log.all, "ulimit -l") && strstr(log.all, "CAP_IPC_LOCK"),
		"log: %s", log.all);
	REQUIRE(strstr(urio_strerror(ret), "RLIMIT_MEMLOCK"), "strerror");
	/* Left to choose, the loop serves on libaio and says why. */
	o.backend = URIO_BACKEND_AUTO;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "auto: %s", urio_strerror(ret));
	REQUIRE(urio_loop_layout(loop, &lay) == 0, "layout");
	REQUIRE(!strcmp(lay.backend, "libaio"), "backend %s", lay.backend);
	REQUIRE(has_step(&lay, "backend", ENOMEM), "no backend step");
	/* The step's line says where it went first, and whole: the layout
	 * keeps 160 bytes of it (cut lines end in "..."), the log all. */
	line = strstr(log.all, "backend: using libaio: io_uring unavailable "
			       "(RLIMIT_MEMLOCK is 4 KiB");
	REQUIRE(line, "log: %s", log.all);
	end = strchr(line, '\n');
	REQUIRE(end && end[-1] == ')' && strstr(line, "CAP_IPC_LOCK"),
		"cut: %s", line);
	for (unsigned i = 0; i < lay.nfallbacks; i++)
		if (!strcmp(lay.fallbacks[i].step, "backend"))
			REQUIRE(!strncmp(lay.fallbacks[i].reason,
					 "using libaio: ", 14) &&
					strlen(lay.fallbacks[i].reason) <
						sizeof(lay.fallbacks[i].reason),
				"reason: %s", lay.fallbacks[i].reason);
	finish(loop);
}

START_TEST(when_nothing_fits_the_error_names_the_limit_and_the_fix)
{
	in_child(nothing_fits_child, NULL);
}
END_TEST

/* The kernel counts RLIMIT_MEMLOCK over every ring of the user, while a
 * process sees only its own limit: loops made one after another fit the
 * plan and still meet ENOMEM once the earlier ones hold the rest.  Then,
 * with fs.aio-max-nr used up (by this process's own contexts: the case
 * runs alone), not even libaio can be had.  Each time the log names the
 * limit and the fix. */
static void shared_limits_child(void *arg)
{
	enum { MAX_LOOPS = 64, MAX_CTX = 8192 };
	static urio_loop *loops[MAX_LOOPS];
	static aio_context_t ctx[MAX_CTX];
	struct urio_loop_opts o = quiet_opts();
	struct count_log log = { 0 };
	unsigned nloops = 0, nctx = 0, uring = 0;
	urio_loop *loop = NULL;
	bool on_aio = false;
	int ret;

	(void)arg;
	REQUIRE(fault_drop_to(61400, 64 * KiB) == 0, "drop");
	o.log = count_log;
	o.log_arg = &log;
	while (!on_aio && nloops < MAX_LOOPS) {
		struct urio_layout lay = { .size = sizeof(lay) };

		log.all[0] = '\0';
		ret = urio_loop_create(&loops[nloops], &o);
		REQUIRE(ret == 0, "loop %u: %s", nloops, urio_strerror(ret));
		REQUIRE(urio_loop_layout(loops[nloops], &lay) == 0, "layout");
		on_aio = !strcmp(lay.backend, "libaio");
		uring += !on_aio;
		nloops++;
	}
	REQUIRE(on_aio && uring > 0, "%u loops on io_uring, then %s", uring,
		on_aio ? "libaio" : "no libaio");
	REQUIRE(strstr(log.all, "RLIMIT_MEMLOCK 64 KiB counts every io_uring "
				"ring of this user") &&
			strstr(log.all, "ulimit -l"),
		"log: %s", log.all);
	/* Every event fs.aio-max-nr allows, taken: halving the ask until even
	 * one event is refused. */
	for (unsigned n = 4096; n >= 1 && nctx < MAX_CTX;) {
		aio_context_t c = 0;

		if (syscall(SYS_io_setup, n, &c) == 0)
			ctx[nctx++] = c;
		else if (errno == EAGAIN)
			n /= 2;
		else
			REQUIRE(0, "io_setup(%u): %s", n, strerror(errno));
	}
	REQUIRE(nctx < MAX_CTX, "fs.aio-max-nr never ran out");
	log.all[0] = '\0';
	ret = urio_loop_create(&loop, &o);
	for (unsigned i = 0; i < nctx; i++)
		syscall(SYS_io_destroy, ctx[i]);
	REQUIRE(ret == -EAGAIN && loop == NULL, "created with nothing left: %d",
		ret);
	REQUIRE(strstr(log.all, "fs.aio-max-nr") &&
			strstr(log.all, "sysctl -w fs.aio-max-nr="),
		"log: %s", log.all);
	REQUIRE(strstr(urio_strerror(ret), "fs.aio-max-nr"), "strerror: %s",
		urio_strerror(ret));
	/* Given back, a context can be had again. */
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "after: %s", urio_strerror(ret));
	finish(loop);
	while (nloops)
		finish(loops[--nloops]);
}

START_TEST(shared_memlock_and_aio_max_nr_are_named_when_used_up)
{
	in_child(shared_limits_child, NULL);
}
END_TEST

/* ---- seccomp: io_uring_setup refused by the kernel ------------------ */

static void enomem_above_child(void *arg)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct count_log log = { 0 };
	char *wbuf = malloc(512 * 4096), *rbuf = malloc(512 * 4096);
	urio_loop *loop;
	urio_target *t;
	int ret, fd = scratch_fd(false);

	(void)arg;
	REQUIRE(fault_uring_setup(32, ENOMEM) == 0, "seccomp");
	o.entries = 4096;
	o.log = count_log;
	o.log_arg = &log;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "create: %s", urio_strerror(ret));
	REQUIRE(urio_loop_layout(loop, &lay) == 0, "layout");
	REQUIRE(!strcmp(lay.backend, "io_uring"), "backend %s", lay.backend);
	REQUIRE(lay.nrings >= 2, "%u rings", lay.nrings);
	for (unsigned i = 0; i < lay.nrings; i++)
		REQUIRE(lay.rings[i].entries <= 32, "ring %u: %u entries", i,
			lay.rings[i].entries);
	REQUIRE(has_step(&lay, "entries", ENOMEM), "no entries step");
	REQUIRE(log.calls == lay.nfallbacks, "%u log lines, %u fallbacks",
		log.calls, lay.nfallbacks);
	REQUIRE(urio_target_adopt(loop, &t, fd, NULL) == 0, "adopt");
	roundtrip(loop, t, 512, wbuf, rbuf);
	finish(loop);
	free(wbuf);
	free(rbuf);
	/* strict: any cut is an error */
	o.flags |= URIO_LOOP_STRICT;
	REQUIRE(urio_loop_create(&loop, &o) == -ENOMEM, "strict loop created");
}

START_TEST(enomem_above_32_entries_gives_more_rings_of_at_most_32)
{
	in_child(enomem_above_child, NULL);
}
END_TEST

static void no_uring_child(void *arg)
{
	int err = *(int *)arg;
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct req tm = { 0 };
	char *wbuf, *rbuf;
	char desc[512];
	urio_loop *loop;
	urio_target *t;
	int ret, fd = scratch_fd(true);

	REQUIRE(fd >= 0, "O_DIRECT scratch file");
	REQUIRE(posix_memalign((void **)&wbuf, 4096, 256 * 4096) == 0 &&
			posix_memalign((void **)&rbuf, 4096, 256 * 4096) == 0,
		"alloc");
	REQUIRE(fault_uring_setup(0, err) == 0, "seccomp");
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == 0, "create: %s", urio_strerror(ret));
	REQUIRE(urio_loop_layout(loop, &lay) == 0, "layout");
	REQUIRE(!strcmp(lay.backend, "libaio"), "backend %s", lay.backend);
	REQUIRE(lay.nrings == 1 && lay.rings[0].kind == URIO_RING_AIO, "rings");
	REQUIRE(has_step(&lay, "backend", err), "no backend step");
	REQUIRE(urio_loop_describe(loop, desc, sizeof(desc)) > 0, "describe");
	REQUIRE(strstr(desc, "synchronously"), "no buffered-I/O note: %s",
		desc);
	REQUIRE(urio_target_adopt(loop, &t, fd, NULL) == 0, "adopt");
	roundtrip(loop, t, 256, wbuf, rbuf);
	REQUIRE(urio_timeout(loop, 20000000, 0, req_cb, &tm) > 0, "timeout");
	REQUIRE(urio_loop_run(loop, URIO_RUN_DEFAULT) == 1 && tm.calls == 1 &&
			tm.res == 0,
		"timeout: %u callbacks, %d", tm.calls, tm.res);
	finish(loop);
	/* Forced io_uring fails with the kernel's errno. */
	o.backend = URIO_BACKEND_URING;
	ret = urio_loop_create(&loop, &o);
	REQUIRE(ret == -err, "forced io_uring: %d", ret);
	free(wbuf);
	free(rbuf);
}

START_TEST(enosys_from_io_uring_setup_serves_on_libaio)
{
	int err = ENOSYS;

	in_child(no_uring_child, &err);
}
END_TEST

START_TEST(eperm_from_io_uring_setup_serves_on_libaio)
{
	int err = EPERM;

	in_child(no_uring_child, &err);
}
END_TEST

START_TEST(root_with_cap_ipc_lock_gets_what_it_asks)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	urio_loop *loop;

	o.entries = 4096;
	o.rings = 2;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.nrings, 2);
	ck_assert_uint_eq(lay.rings[0].entries, 4096);
	ck_assert_uint_eq(lay.memlock_limit, UINT64_MAX);
	for (unsigned i = 0; i < lay.nfallbacks; i++)
		ck_assert_str_ne(lay.fallbacks[i].step, "memlock");
	DESTROY_CLEAN(loop);
}
END_TEST
