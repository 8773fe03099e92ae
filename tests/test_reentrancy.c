/* SPDX-License-Identifier: MIT */
/* test_reentrancy.c - callbacks may call anything: a callback that runs
 * the loop leaves it consistent, URIO_F_WAIT inside callbacks keeps the
 * stack flat however far they fan out, a signal ends a blocking run with
 * -EINTR and loses nothing, a request that can never fit is refused at
 * once, and a cancel of a request that never reached a ring is answered. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Per-request accounting: each request's callback exactly once. */
struct book {
	urio_loop *loop;
	urio_target *t;
	unsigned char *calls; /* by request number */
	unsigned total, issued, done, dup, errors, nested_runs;
	int last_err;
	char buf[4096];
};

struct ticket {
	struct book *b;
	unsigned n;
};

static void count(struct book *b, unsigned n, int res)
{
	if (b->calls[n]++)
		b->dup++;
	b->done++;
	if (res < 0) {
		b->errors++;
		b->last_err = res;
	}
}

static int tmpfs_file(char *path, size_t len, size_t bytes)
{
	const char *dir = tmpfs_dir();
	int fd;

	if (!dir)
		return -1;
	make_path(dir, path, len);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)bytes), 0);
	return fd;
}

/* ---- a callback that runs the loop ---- */

static void run_inside(urio_loop *loop, int res, void *data)
{
	struct ticket *tk = data;
	int ret;

	count(tk->b, tk->n, res < 0 ? res : 0);
	ret = urio_loop_run(loop, URIO_RUN_NOWAIT);
	if (ret < 0)
		tk->b->errors++;
	else
		tk->b->nested_runs++;
}

START_TEST(callback_that_runs_the_loop_leaves_it_consistent)
{
	struct book b = { .total = 64 };
	struct ticket tk[64];
	struct urio_stats st = { .size = sizeof(st) };
	struct urio_target_info info = { .size = sizeof(info) };
	char path[256];
	int fd = tmpfs_file(path, sizeof(path), 1 << 20);
	struct timespec t0, t1;

	if (fd < 0)
		SKIP("no tmpfs at /dev/shm");
	b.calls = calloc(b.total, 1);
	b.loop = new_loop(32, 1, 0);
	ck_assert_int_eq(urio_target_adopt(b.loop, &b.t, fd, NULL), 0);
	ck_assert_int_eq(urio_target_info(b.t, &info), 0);
	/* tmpfs reads run at submission: their completions wait in the
	 * loop's own queue, the one the nested runs walk too. */
	ck_assert_uint_eq(info.inline_io, 1);
	for (unsigned i = 0; i < b.total; i++) {
		tk[i] = (struct ticket){ &b, i };
		ck_assert_int_gt(urio_read(b.t, b.buf, 512, (uint64_t)i * 512,
					   URIO_F_WAIT, run_inside, &tk[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(b.loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(b.done, b.total);
	ck_assert_uint_eq(b.dup, 0);
	ck_assert_uint_eq(b.errors, 0);
	ck_assert_uint_eq(b.nested_runs, b.total);
	ck_assert_int_eq(urio_loop_stats(b.loop, &st), 0);
	ck_assert_uint_eq(st.inflight, 0);
	ck_assert_uint_eq(st.completed, b.total);
	/* Nothing left to spin on: a run with nothing in flight returns at
	 * once (it spun at 100 % CPU when nested runs broke the count). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(urio_loop_run(b.loop, URIO_RUN_DEFAULT), 0);
	ck_assert_int_eq(urio_loop_run(b.loop, URIO_RUN_ONCE), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
	/* And it still works. */
	ck_assert_int_gt(urio_read(b.t, b.buf, 512, 0, 0, run_inside, &tk[0]),
			 0);
	ck_assert_int_eq(urio_loop_run(b.loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(b.calls[0], 2);
	DESTROY_CLEAN(b.loop);
	close(fd);
	unlink(path);
	free(b.calls);
}
END_TEST

/* Every public call from inside a callback, on a loop with requests in
 * flight: each answers as documented and the loop goes on. */
struct hostile {
	urio_loop *loop;
	urio_target *t;
	unsigned ran, bad;
	struct req inner[8][3]; /* per callback: a nop, its cancel, a read */
	char buf[512];
};

static void hostile_cb(urio_loop *loop, int res, void *data)
{
	struct hostile *h = data;
	struct urio_stats st = { .size = sizeof(st) };
	struct urio_completion c = { .size = sizeof(c) };
	char line[256];
	urio_target *t2;
	urio_id id;

	struct req *in = h->inner[h->ran < 8 ? h->ran : 7];

	(void)res;
	h->ran++;
	h->bad += urio_loop_destroy(loop) != -EDEADLK;
	h->bad += urio_loop_stats(loop, &st) != 0;
	h->bad += urio_loop_describe(loop, line, sizeof(line)) <= 0;
	h->bad += urio_loop_completion(loop, &c) != 0;
	h->bad += urio_loop_submit(loop) != 0;
	h->bad += urio_loop_run(loop, URIO_RUN_NOWAIT) < 0;
	id = urio_nop(loop, URIO_F_WAIT, req_cb, &in[0]);
	h->bad += id <= 0;
	h->bad += urio_cancel(loop, id, URIO_F_WAIT, req_cb, &in[1]) <= 0;
	h->bad += urio_read(h->t, h->buf, sizeof(h->buf), 0, URIO_F_WAIT,
			    req_cb, &in[2]) <= 0;
	h->bad += urio_target_adopt(loop, &t2, 0, NULL) != 0 ||
		  urio_target_close(t2) != 0;
	h->bad += urio_loop_run(loop, URIO_RUN_ONCE) < 0;
}

START_TEST(every_call_from_a_callback_answers_and_the_loop_goes_on)
{
	struct hostile h = { 0 };
	struct urio_stats st = { .size = sizeof(st) };
	char path[256];
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	h.loop = new_loop(16, 1, 0);
	ck_assert_int_eq(urio_target_adopt(h.loop, &h.t, fd, NULL), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_gt(urio_nop(h.loop, 0, hostile_cb, &h), 0);
	while (h.ran < 8)
		ck_assert_int_ge(urio_loop_run(h.loop, URIO_RUN_ONCE), 0);
	ck_assert_int_ge(urio_loop_run(h.loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(h.bad, 0);
	ck_assert_uint_eq(h.ran, 8);
	/* Per callback: a nop, its cancel, a read.  The nop was cancelled
	 * (the cancel found it: 0) or had finished (-ENOENT, -EALREADY). */
	for (int i = 0; i < 8; i++) {
		const struct req *in = h.inner[i];

		ck_assert_msg(
			in[0].calls == 1 && in[1].calls == 1 &&
				(in[0].res == -ECANCELED
					 ? in[1].res == 0
					 : in[0].res == 0 &&
						   (in[1].res == -ENOENT ||
						    in[1].res == -EALREADY)),
			"callback %d: nop %u x %d, cancel %u x %d", i,
			in[0].calls, in[0].res, in[1].calls, in[1].res);
		ck_assert_req(in[2], (int)sizeof(h.buf));
	}
	ck_assert_int_eq(urio_loop_stats(h.loop, &st), 0);
	ck_assert_uint_eq(st.inflight + st.queued, 0);
	ck_assert_uint_eq(st.completed, st.submitted);
	DESTROY_CLEAN(h.loop);
	close(fd);
	unlink(path);
}
END_TEST

/* ---- URIO_F_WAIT fanning out inside callbacks ---- */

#define FANOUT_TOTAL 1000000u

struct fan {
	struct book b; /* first: a ticket's book is its fan */
	struct ticket *tk;
	bool nop;
	int fd, ret;
	unsigned max_queued;
	struct urio_stats st;
};

static void fan_cb(urio_loop *loop, int res, void *data);

static void fan_issue(struct fan *f)
{
	struct ticket *tk = &f->tk[f->b.issued];
	urio_id id;

	*tk = (struct ticket){ &f->b, f->b.issued++ };
	if (f->nop)
		id = urio_nop(f->b.loop, URIO_F_WAIT, fan_cb, tk);
	else
		id = urio_read(f->b.t, f->b.buf, 64, (tk->n % 1024) * 64,
			       URIO_F_WAIT, fan_cb, tk);
	if (id <= 0) {
		f->b.errors++;
		f->b.last_err = (int)id;
	}
}

static void fan_cb(urio_loop *loop, int res, void *data)
{
	struct ticket *tk = data;
	struct fan *f = (struct fan *)tk->b;
	struct urio_stats st = { .size = sizeof(st) };

	count(&f->b, tk->n, f->nop ? res : (res == 64 ? 0 : -EIO));
	for (int i = 0; i < 2 && f->b.issued < f->b.total; i++)
		fan_issue(f);
	if ((tk->n & 1023) == 0 && urio_loop_stats(loop, &st) == 0 &&
	    st.queued > f->max_queued)
		f->max_queued = (unsigned)st.queued;
}

static void *fan_thread(void *arg)
{
	struct fan *f = arg;
	struct urio_loop_opts o = quiet_opts();

	o.entries = 16;
	f->ret = urio_loop_create(&f->b.loop, &o);
	if (f->ret < 0)
		return NULL;
	if (f->fd >= 0) {
		f->ret = urio_target_adopt(f->b.loop, &f->b.t, f->fd, NULL);
		if (f->ret < 0)
			return NULL;
	}
	for (int i = 0; i < 4; i++)
		fan_issue(f);
	f->ret = urio_loop_run(f->b.loop, URIO_RUN_DEFAULT);
	f->st.size = sizeof(f->st);
	if (f->ret >= 0)
		f->ret = urio_loop_stats(f->b.loop, &f->st);
	if (f->ret >= 0)
		f->ret = urio_loop_destroy(f->b.loop);
	return NULL;
}

/* The loop and its callbacks run on a thread with a 256 KiB stack: the
 * recursion this used to take (a nested run per wait) overflows it long
 * before a million requests. */
static void fan_out(bool nop)
{
	struct fan *f = calloc(1, sizeof(*f));
	pthread_attr_t attr;
	pthread_t th;
	char path[256] = "";

	ck_assert_ptr_nonnull(f);
	f->nop = nop;
	f->fd = -1;
	f->b.total = FANOUT_TOTAL;
	f->b.calls = calloc(f->b.total, 1);
	f->tk = calloc(f->b.total, sizeof(*f->tk));
	ck_assert_ptr_nonnull(f->b.calls);
	ck_assert_ptr_nonnull(f->tk);
	if (!nop) {
		f->fd = tmpfs_file(path, sizeof(path), 1 << 16);
		if (f->fd < 0)
			SKIP("no tmpfs at /dev/shm");
	}
	ck_assert_int_eq(pthread_attr_init(&attr), 0);
	ck_assert_int_eq(pthread_attr_setstacksize(&attr, 256 << 10), 0);
	ck_assert_int_eq(pthread_create(&th, &attr, fan_thread, f), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	pthread_attr_destroy(&attr);
	ck_assert_msg(f->ret >= 0, "loop: %s", urio_strerror(f->ret));
	ck_assert_msg(f->b.errors == 0, "%u errors, last %s", f->b.errors,
		      urio_strerror(f->b.last_err));
	ck_assert_uint_eq(f->b.issued, f->b.total);
	ck_assert_uint_eq(f->b.done, f->b.total);
	ck_assert_uint_eq(f->b.dup, 0);
	for (unsigned i = 0; i < f->b.total; i++)
		ck_assert_msg(f->b.calls[i] == 1, "request %u: %u callbacks", i,
			      f->b.calls[i]);
	ck_assert_uint_eq(f->st.submitted, f->b.total);
	ck_assert_uint_eq(f->st.completed, f->b.total);
	ck_assert_uint_le(f->st.inflight_hwm, f->st.cap);
	/* The fan-out outgrew the ring: requests did wait in the loop. */
	ck_assert_uint_gt(f->max_queued, f->st.cap);
	if (f->fd >= 0) {
		close(f->fd);
		unlink(path);
	}
	free(f->b.calls);
	free(f->tk);
	free(f);
}

START_TEST(wait_inside_callbacks_fans_out_a_million_nops_on_a_flat_stack)
{
	fan_out(true);
}
END_TEST

START_TEST(wait_inside_callbacks_fans_out_a_million_inline_reads)
{
	fan_out(false);
}
END_TEST

/* ---- signals ---- */

static volatile sig_atomic_t got_signal;

static void on_usr1(int sig)
{
	(void)sig;
	got_signal = 1;
}

struct kicker {
	pthread_t target;
	int delay_ms;
	int done; /* atomic: the target returned */
};

/* Signals the target every delay_ms until it returns: a signal that lands
 * while it runs user code (not asleep in the kernel) ends no wait, and a
 * loaded machine can keep it there past one delay. */
static void *kick(void *arg)
{
	struct kicker *k = arg;
	struct timespec ts = { 0, k->delay_ms * 1000000L };

	for (;;) {
		nanosleep(&ts, NULL);
		if (__atomic_load_n(&k->done, __ATOMIC_ACQUIRE))
			return NULL;
		pthread_kill(k->target, SIGUSR1);
	}
}

static void kicked(struct kicker *k, pthread_t th)
{
	__atomic_store_n(&k->done, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	k->done = 0;
}

START_TEST(signal_ends_a_blocking_run_with_eintr_and_loses_nothing)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct kicker k = { pthread_self(), 100, 0 };
	struct req r[2] = { 0 };
	urio_loop *loop;
	char buf[16] = { 0 };
	pthread_t th;
	int sv[2], ret;

	loop = new_loop(8, 1, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART */
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	got_signal = 0;
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r[0]),
		0);
	ck_assert_int_eq(pthread_create(&th, NULL, kick, &k), 0);
	ret = urio_loop_run(loop, URIO_RUN_ONCE);
	kicked(&k, th);
	ck_assert_int_eq(ret, -EINTR);
	ck_assert_int_eq(got_signal, 1);
	ck_assert_uint_eq(r[0].calls, 0);
	/* The recv is still in flight: data arrives, it completes. */
	ck_assert_int_eq(write(sv[1], "after", 5), 5);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[0], 5);
	ck_assert_mem_eq(buf, "after", 5);
	/* URIO_RUN_DEFAULT is interrupted the same way. */
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r[1]),
		0);
	ck_assert_int_eq(pthread_create(&th, NULL, kick, &k), 0);
	ret = urio_loop_run(loop, URIO_RUN_DEFAULT);
	kicked(&k, th);
	ck_assert_int_eq(ret, -EINTR);
	ck_assert_uint_eq(r[1].calls, 0);
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r[0], 5);
	ck_assert_req(r[1], 1);
	DESTROY_CLEAN(loop);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A blocked URIO_F_WAIT submission is interrupted too: -EINTR, nothing
 * queued. */
START_TEST(signal_ends_a_wait_for_room_with_eintr)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct kicker k = { pthread_self(), 100, 0 };
	struct urio_stats st = { .size = sizeof(st) };
	struct req tm = { 0 }, never = { 0 };
	urio_loop *loop = new_loop(8, 1, 1);
	pthread_t th;
	urio_id id;

	ck_assert_int_eq(sigaction(SIGUSR1, NULL, &old), 0);
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	/* The one slot: a timeout far away. */
	ck_assert_int_gt(
		urio_timeout(loop, 10ull * 1000000000u, 0, req_cb, &tm), 0);
	ck_assert_int_eq(urio_nop(loop, 0, req_cb, &never), -EBUSY);
	ck_assert_int_eq(pthread_create(&th, NULL, kick, &k), 0);
	id = urio_nop(loop, URIO_F_WAIT, req_cb, &never);
	kicked(&k, th);
	ck_assert_int_eq(id, -EINTR);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 1);
	ck_assert_uint_eq(st.inflight, 1);
	/* Ten seconds away: nothing but the cancel of destroy. */
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_req(tm, -ECANCELED);
	ck_assert_no_callback(never);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
}
END_TEST

/* ---- requests that can never fit ---- */

/* A deadline request was refused on loop: without the deadline a receive
 * fits and completes; then the loop ends clean and never called back. */
static void fits_without_deadline(urio_loop *loop, const int sv[2],
				  const struct req *never)
{
	struct req r = { 0 };
	char buf[8];

	ck_assert_int_eq(urio_loop_set_deadline(loop, 0), 0);
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &r), 0);
	ck_assert_int_eq(write(sv[1], "ok", 2), 2);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 2);
	DESTROY_CLEAN(loop);
	ck_assert_no_callback(*never);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(request_that_can_never_fit_is_refused_at_once)
{
	struct urio_loop_opts o = quiet_opts();
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_stats st = { .size = sizeof(st) };
	struct req never = { 0 }, late = { 0 };
	urio_loop *loop;
	char buf[8];
	int sv[2];

	/* The smallest ring holds one request's completion. */
	o.entries = 1;
	o.min_entries = 1;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(urio_loop_ring_stats(loop, 0, &st), 0);
	if (backend_is_aio()) {
		/* libaio's smallest context holds two completions: the
		 * request fits, and is carried out to its deadline. */
		ck_assert_uint_ge(st.cap, 2);
		ck_assert_int_eq(urio_loop_set_deadline(loop, 20000000u), 0);
		ck_assert_int_gt(urio_recv(loop, sv[0], buf, sizeof(buf), 0,
					   URIO_F_WAIT, req_cb, &late),
				 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
		ck_assert_req(late, -ETIMEDOUT);
	} else {
		ck_assert_uint_eq(st.cap, 1);
		ck_assert_int_eq(urio_loop_set_deadline(loop, 1000000000u), 0);
		/* A deadline takes a second completion slot: never on this
		 * loop, so not -EBUSY (try later) and no endless wait. */
		ck_assert_int_eq(urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0,
					   req_cb, &never),
				 -E2BIG);
		ck_assert_int_eq(urio_recv(loop, sv[0], buf, sizeof(buf), 0,
					   URIO_F_WAIT, req_cb, &never),
				 -E2BIG);
		ck_assert_str_ne(urio_strerror(-E2BIG), urio_strerror(-EBUSY));
	}
	fits_without_deadline(loop, sv, &never);
}
END_TEST

/* The loop's own bound is one request: a deadline's second record can
 * never be had, however large the ring (it used to be -EBUSY, and an
 * endless wait with URIO_F_WAIT). */
START_TEST(a_deadline_on_a_loop_capped_at_one_is_e2big)
{
	struct urio_loop_opts o = quiet_opts();
	struct req never = { 0 };
	urio_loop *loop;
	char buf[8];
	int sv[2];

	o.inflight_cap = 1;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(urio_loop_set_deadline(loop, 1000000000u), 0);
	ck_assert_int_eq(
		urio_recv(loop, sv[0], buf, sizeof(buf), 0, 0, req_cb, &never),
		-E2BIG);
	ck_assert_int_eq(urio_recv(loop, sv[0], buf, sizeof(buf), 0,
				   URIO_F_WAIT, req_cb, &never),
			 -E2BIG);
	fits_without_deadline(loop, sv, &never);
}
END_TEST

/* ---- cancels of requests that never reached a ring ---- */

START_TEST(cancel_of_an_inline_read_is_answered_ealready)
{
	struct req rd = { 0 }, cn = { 0 };
	char path[256], buf[512];
	int fd = tmpfs_file(path, sizeof(path), 4096);
	urio_loop *loop;
	urio_target *t;
	urio_id id;

	if (fd < 0)
		SKIP("no tmpfs at /dev/shm");
	loop = new_loop(8, 1, 0);
	ck_assert_int_eq(pwrite(fd, "inline", 6, 0), 6);
	ck_assert_int_eq(urio_target_adopt(loop, &t, fd, NULL), 0);
	id = urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &rd);
	ck_assert_int_gt(id, 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, req_cb, &cn), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 2);
	ck_assert_req(rd, 512);
	ck_assert_mem_eq(buf, "inline", 6);
	ck_assert_req(cn, -EALREADY);
	DESTROY_CLEAN(loop);
	close(fd);
	unlink(path);
}
END_TEST

struct queuer {
	urio_loop *loop;
	struct req slow[2], queued, cancel;
	urio_id victim;
	int cancel_ret;
};

/* Inside a callback: fill the loop, queue a nop, then cancel it. */
static void queue_then_cancel(urio_loop *loop, int res, void *data)
{
	struct queuer *q = data;

	(void)res;
	if (urio_timeout(loop, 5ull * 1000000000u, 0, req_cb, &q->slow[1]) <= 0)
		return;
	q->victim = urio_nop(loop, URIO_F_WAIT, req_cb, &q->queued);
	if (q->victim > 0)
		q->cancel_ret = (int)urio_cancel(loop, q->victim, URIO_F_WAIT,
						 req_cb, &q->cancel);
}

START_TEST(cancel_of_a_queued_request_takes_it_off_the_backlog)
{
	struct queuer q = { 0 };
	struct urio_stats st = { .size = sizeof(st) };

	q.loop = new_loop(8, 1, 2);
	ck_assert_int_gt(
		urio_timeout(q.loop, 5ull * 1000000000u, 0, req_cb, &q.slow[0]),
		0);
	ck_assert_int_gt(urio_nop(q.loop, 0, queue_then_cancel, &q), 0);
	while (q.queued.calls == 0 || q.cancel.calls == 0)
		ck_assert_int_ge(urio_loop_run(q.loop, URIO_RUN_ONCE), 0);
	ck_assert_int_gt(q.victim, 0);
	ck_assert_int_gt(q.cancel_ret, 0);
	ck_assert_req(q.queued, -ECANCELED);
	ck_assert_req(q.cancel, 0);
	ck_assert_int_eq(urio_loop_stats(q.loop, &st), 0);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.inflight, 2);
	/* Five seconds away: nothing but the cancel of destroy. */
	ck_assert_int_eq(urio_loop_destroy(q.loop), 0);
	ck_assert_reqs(q.slow, 2, -ECANCELED);
}
END_TEST

/* ---- teardown with requests waiting in the loop ---- */

struct flood {
	unsigned char calls[4096];
	unsigned issued, dup, canceled, ok, refused;
};

struct fticket {
	struct flood *f;
	unsigned n;
};

static struct fticket ftk[4096];

static void flood_cb(urio_loop *loop, int res, void *data)
{
	struct fticket *tk = data;
	struct flood *f = tk->f;

	if (f->calls[tk->n]++)
		f->dup++;
	if (res == -ECANCELED)
		f->canceled++;
	else if (res == 0)
		f->ok++;
	for (int i = 0; i < 2 && f->issued < 4096; i++) {
		ftk[f->issued] = (struct fticket){ f, f->issued };
		if (urio_timeout(loop, 50000000u, URIO_F_WAIT, flood_cb,
				 &ftk[f->issued]) > 0)
			f->issued++;
		else
			f->refused++;
	}
}

START_TEST(destroy_completes_queued_requests_once)
{
	static struct flood f;
	struct urio_stats st = { .size = sizeof(st) };
	urio_loop *loop = new_loop(8, 1, 4);

	memset(&f, 0, sizeof(f));
	for (; f.issued < 4; f.issued++) {
		ftk[f.issued] = (struct fticket){ &f, f.issued };
		ck_assert_int_gt(urio_timeout(loop, 1000000u, 0, flood_cb,
					      &ftk[f.issued]),
				 0);
	}
	/* A few rounds: the backlog grows past the 4 slots. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_gt(st.queued, 0);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(f.dup, 0);
	/* Callbacks during destroy cannot submit (the loop is going). */
	ck_assert_uint_gt(f.refused, 0);
	for (unsigned i = 0; i < f.issued; i++)
		ck_assert_uint_eq(f.calls[i], 1);
	ck_assert_uint_eq(f.ok + f.canceled, f.issued);
	ck_assert_uint_gt(f.canceled, 0);
}
END_TEST

/* ---- what a callback can learn of its completion ---- */

struct peek {
	struct urio_completion outer, after;
	unsigned calls;
	int res;
};

static void completion_cb(urio_loop *loop, int res, void *data)
{
	struct peek *p = data;

	p->calls++;
	p->res = res;
	p->outer.size = sizeof(p->outer);
	p->after.size = sizeof(p->after);
	urio_loop_completion(loop, &p->outer);
	/* A nested run that delivers other completions ... */
	urio_loop_run(loop, URIO_RUN_NOWAIT);
	/* ... leaves this one's as it was. */
	urio_loop_completion(loop, &p->after);
}

START_TEST(callback_reads_its_completion_flags)
{
	struct peek p = { 0 };
	struct req other[4] = { 0 };
	struct urio_completion c = { .size = sizeof(c) };
	urio_loop *loop;
	char buf[4];
	int sv[2];

	loop = new_loop(8, 1, 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(write(sv[1], "12345678", 8), 8);
	/* 4 of 8 bytes: the socket still has data. */
	ck_assert_int_gt(
		urio_recv(loop, sv[0], buf, 4, 0, 0, completion_cb, &p), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(urio_nop(loop, 0, req_cb, &other[i]), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(p.calls, 1);
	ck_assert_int_eq(p.res, 4);
	ck_assert_reqs(other, 4, 0);
	ck_assert_uint_eq(p.outer.flags & URIO_C_MORE, 0);
	ck_assert_uint_eq(p.outer.flags, p.after.flags);
	ck_assert_uint_eq(p.outer.flags & URIO_C_SOCK_NONEMPTY,
			  URIO_C_SOCK_NONEMPTY);
	/* Outside callbacks: nothing. */
	ck_assert_int_eq(urio_loop_completion(loop, &c), 0);
	ck_assert_uint_eq(c.flags, 0);
	ck_assert_int_eq(urio_loop_completion(NULL, &c), -EINVAL);
	ck_assert_int_eq(urio_loop_completion(loop, NULL), -EINVAL);
	c.size = 1;
	ck_assert_int_eq(urio_loop_completion(loop, &c), -EINVAL);
	DESTROY_CLEAN(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- every path at once, on a small loop ---- */

#define MIX_TOTAL 20000u

struct mix {
	struct book b;
	struct ticket *tk;
	urio_target *inl; /* tmpfs: inline */
	int sock;	  /* an idle socket: recvs end by their deadline */
	uint64_t rng;
	unsigned cancels, timeouts, local_done;
	urio_id last_id;
	char rbuf[512];
};

static void mix_cb(urio_loop *loop, int res, void *data);

/* One request of a random kind: short path (nop, disk read), general path
 * (timeout, inline read, cancel, recv with a deadline: two slots). */
static void mix_issue(struct mix *m)
{
	struct ticket *tk = &m->tk[m->b.issued];
	urio_loop *loop = m->b.loop;
	urio_id id;

	/* Counted first: a wait for room runs callbacks that issue too. */
	*tk = (struct ticket){ &m->b, m->b.issued++ };
	switch (xorshift(&m->rng) % 6) {
	case 0:
		id = urio_nop(loop, URIO_F_WAIT, mix_cb, tk);
		break;
	case 1:
		id = urio_read(m->b.t, m->rbuf, 512, (tk->n % 64) * 512,
			       URIO_F_WAIT, mix_cb, tk);
		break;
	case 2:
		id = urio_timeout(loop, 20000, URIO_F_WAIT, mix_cb, tk);
		break;
	case 3:
		id = urio_read(m->inl, m->rbuf, 512, 0, URIO_F_WAIT, mix_cb,
			       tk);
		break;
	case 4:
		/* Of whatever was issued last: in flight, queued or gone. */
		id = urio_cancel(loop, m->last_id, URIO_F_WAIT, mix_cb, tk);
		if (id == -ENOENT)
			id = urio_nop(loop, URIO_F_WAIT, mix_cb, tk);
		break;
	default:
		urio_loop_set_deadline(loop, 200000);
		id = urio_recv(loop, m->sock, m->rbuf, 16, 0, URIO_F_WAIT,
			       mix_cb, tk);
		urio_loop_set_deadline(loop, 0);
		break;
	}
	if (id <= 0) {
		m->b.errors++;
		m->b.last_err = (int)id;
		return;
	}
	m->last_id = id;
}

static void mix_cb(urio_loop *loop, int res, void *data)
{
	struct ticket *tk = data;
	struct mix *m = (struct mix *)tk->b;
	struct urio_stats st = { .size = sizeof(st) };

	if (m->b.calls[tk->n]++)
		m->b.dup++;
	m->b.done++;
	m->cancels += res == -ECANCELED;
	m->timeouts += res == -ETIMEDOUT;
	if (urio_loop_stats(loop, &st) < 0 || st.inflight > st.cap ||
	    st.inflight_hwm > st.cap)
		m->b.errors++;
	for (unsigned i = 1 + xorshift(&m->rng) % 2;
	     i && m->b.issued < m->b.total; i--)
		mix_issue(m);
}

START_TEST(every_path_at_once_keeps_every_bound_and_completes_once)
{
	struct mix *m = calloc(1, sizeof(*m));
	struct urio_stats st = { .size = sizeof(st) };
	char dpath[256], tpath[256];
	int dfd, tfd = tmpfs_file(tpath, sizeof(tpath), 1 << 16), sv[2];

	if (tfd < 0) {
		free(m);
		SKIP("no tmpfs at /dev/shm");
	}
	make_path(disk_dir(), dpath, sizeof(dpath));
	dfd = open(dpath, O_RDWR);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(ftruncate(dfd, 1 << 16), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	m->sock = sv[0];
	m->rng = 0x9e3779b97f4a7c15ull;
	m->b.total = MIX_TOTAL;
	m->b.calls = calloc(m->b.total, 1);
	m->tk = calloc(m->b.total, sizeof(*m->tk));
	/* A small ring: the loop is full most of the time. */
	m->b.loop = new_loop(4, 1, 0);
	ck_assert_int_eq(urio_target_adopt(m->b.loop, &m->b.t, dfd, NULL), 0);
	ck_assert_int_eq(urio_target_adopt(m->b.loop, &m->inl, tfd, NULL), 0);
	for (int i = 0; i < 8; i++)
		mix_issue(m);
	ck_assert_int_ge(urio_loop_run(m->b.loop, URIO_RUN_DEFAULT), 1);
	ck_assert_msg(m->b.errors == 0, "%u errors, last %s", m->b.errors,
		      urio_strerror(m->b.last_err));
	ck_assert_uint_eq(m->b.issued, m->b.total);
	ck_assert_uint_eq(m->b.done, m->b.total);
	ck_assert_uint_eq(m->b.dup, 0);
	for (unsigned i = 0; i < m->b.total; i++)
		ck_assert_uint_eq(m->b.calls[i], 1);
	ck_assert_uint_gt(m->timeouts, 0);
	ck_assert_int_eq(urio_loop_stats(m->b.loop, &st), 0);
	ck_assert_uint_eq(st.submitted, m->b.total);
	ck_assert_uint_eq(st.completed, m->b.total);
	ck_assert_uint_eq(st.inflight + st.queued, 0);
	DESTROY_CLEAN(m->b.loop);
	close(dfd);
	close(tfd);
	close(sv[0]);
	close(sv[1]);
	unlink(dpath);
	unlink(tpath);
	free(m->b.calls);
	free(m->tk);
	free(m);
}
END_TEST
