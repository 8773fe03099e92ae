/* SPDX-License-Identifier: MIT */
/* test_wait.c - how a loop waits (wait.c): the policy is named in the
 * layout and its options are checked; waits longer than a spin are slept,
 * a fixed spin spins before every sleep, URIO_LOOP_SLEEP and a one-CPU
 * thread never spin; a batched wait (min_wait) never holds back a lone
 * completion, and a signal still ends it with -EINTR; a loop whose only
 * requests are on a secondary ring sleeps there and still wakes for its
 * completions, for posts and for signals. */
#include "helpers.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define URIO_TEST_CHAIN_QD 32u

static struct urio_stats loop_stats(urio_loop *loop)
{
	struct urio_stats st = { .size = sizeof(st) };

	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	return st;
}

static urio_loop *loop_with(unsigned flags, unsigned spin_usec, int *err)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop = NULL;

	o.flags |= flags;
	o.spin_usec = spin_usec;
	*err = urio_loop_create(&loop, &o);
	return loop;
}

/* n timeouts of ns each, one after the other: n waits. */
static void sequential_timeouts(urio_loop *loop, unsigned n, uint64_t ns)
{
	for (unsigned i = 0; i < n; i++) {
		struct req r = { 0 };

		ck_assert_int_gt(urio_timeout(loop, ns, 0, req_cb, &r), 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
		ck_assert_req(r, 0);
	}
}

START_TEST(policy_is_named_in_the_layout_and_its_options_checked)
{
	struct urio_layout lay = { .size = sizeof(lay) };
	char line[1024];
	urio_loop *loop;
	int err;

	loop = loop_with(0, 0, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_msg(!strncmp(lay.wait, "adaptive", 8), "wait: '%s'",
		      lay.wait);
	ck_assert_int_gt(urio_loop_describe(loop, line, sizeof(line)), 0);
	ck_assert_ptr_nonnull(strstr(line, "; wait: adaptive"));
	DESTROY_CLEAN(loop);

	loop = loop_with(URIO_LOOP_SLEEP, 0, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_msg(!strncmp(lay.wait, "sleep", 5), "wait: '%s'", lay.wait);
	DESTROY_CLEAN(loop);

	loop = loop_with(0, 200, &err);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_str_eq(lay.wait, "spin 200 us, then sleep");
	DESTROY_CLEAN(loop);

	/* A fixed spin and never spinning contradict each other. */
	loop = loop_with(URIO_LOOP_SLEEP, 10, &err);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_ptr_null(loop);
	loop = loop_with(0, 1000001, &err);
	ck_assert_int_eq(err, -EINVAL);
	ck_assert_ptr_null(loop);
}
END_TEST

/* 2 ms waits outlast the adaptive spin (50 us): after the first, which
 * knows nothing yet, the loop sleeps at once. */
START_TEST(waits_longer_than_a_spin_are_slept_not_spun)
{
	struct urio_stats st;
	urio_loop *loop;
	int err;

	loop = loop_with(0, 0, &err);
	ck_assert_int_eq(err, 0);
	sequential_timeouts(loop, 50, 2000000);
	st = loop_stats(loop);
	ck_assert_uint_ge(st.sleeps, 40);
	ck_assert_msg(st.spins <= 2, "%llu spins for 50 waits of 2 ms",
		      (unsigned long long)st.spins);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(a_fixed_spin_spins_before_every_sleep)
{
	struct urio_stats st;
	urio_loop *loop;
	int err;

	loop = loop_with(0, 100, &err);
	ck_assert_int_eq(err, 0);
	sequential_timeouts(loop, 20, 2000000);
	st = loop_stats(loop);
	/* Every wait spun first, then slept unless the spin found the
	 * timeout done (a thread kept off its CPU for 2 ms may). */
	ck_assert_uint_eq(st.spins, 20);
	ck_assert_uint_eq(st.sleeps + st.spin_hits, 20);
	ck_assert_uint_ge(st.sleeps, 1);
	DESTROY_CLEAN(loop);
}
END_TEST

/* NOPs whose callbacks submit more, until want have run. */
struct chain {
	unsigned ran, want;
	int errs;
};

static void chain_cb(urio_loop *loop, int res, void *data)
{
	struct chain *c = data;

	c->errs += res != 0;
	if (++c->ran + URIO_TEST_CHAIN_QD <= c->want)
		ck_assert_int_gt(urio_nop(loop, 0, chain_cb, c), 0);
}

/* After a wait the loop sends each callback's requests as it returns
 * (wait.c's early submission).  Requests that complete inside that submit
 * must not keep one pass going for ever: a pass ends with the completions
 * it found, whatever its callbacks submit. */
START_TEST(requests_that_complete_at_submission_do_not_stretch_a_pass)
{
	struct chain c = { .want = 100000 };
	urio_loop *loop;
	int err, ret;

	loop = loop_with(0, 100, &err); /* a fixed spin: always early */
	ck_assert_int_eq(err, 0);
	sequential_timeouts(loop, 1, 1000000);
	for (unsigned i = 0; i < URIO_TEST_CHAIN_QD; i++)
		ck_assert_int_gt(urio_nop(loop, 0, chain_cb, &c), 0);
	ret = urio_loop_run(loop, URIO_RUN_ONCE);
	/* One pass: the NOPs found, and at most a CQ's worth more. */
	ck_assert_int_ge(ret, 1);
	ck_assert_int_le(ret, 4 * URIO_TEST_CHAIN_QD);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT),
			 (int)c.want - ret);
	ck_assert_uint_eq(c.ran, c.want);
	ck_assert_int_eq(c.errs, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

START_TEST(sleep_flag_never_spins)
{
	struct urio_stats st;
	urio_loop *loop;
	int err;

	loop = loop_with(URIO_LOOP_SLEEP, 0, &err);
	ck_assert_int_eq(err, 0);
	sequential_timeouts(loop, 50, 20000);
	st = loop_stats(loop);
	ck_assert_uint_eq(st.spins, 0);
	ck_assert_uint_gt(st.sleeps, 0);
	DESTROY_CLEAN(loop);
}
END_TEST

struct one_cpu {
	char wait[96];
	struct urio_stats st;
	char why[256];
};

/* A thread that may run on one CPU only: spinning would keep the kernel
 * from completing the very request it waits for. */
static void *one_cpu_loop(void *arg)
{
	struct one_cpu *o = arg;
	struct urio_layout lay = { .size = sizeof(lay) };
	struct urio_loop_opts opts = quiet_opts();
	cpu_set_t set;
	urio_loop *loop;
	int cpu = sched_getcpu();

	CPU_ZERO(&set);
	CPU_SET(cpu < 0 ? 0 : cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		snprintf(o->why, sizeof(o->why), "sched_setaffinity: %s",
			 strerror(errno));
		return NULL;
	}
	if (urio_loop_create(&loop, &opts) < 0) {
		snprintf(o->why, sizeof(o->why), "loop");
		return NULL;
	}
	urio_loop_layout(loop, &lay);
	memcpy(o->wait, lay.wait, sizeof(o->wait));
	for (unsigned i = 0; i < 100; i++) {
		struct req r = { 0 };

		if (urio_timeout(loop, 20000, 0, req_cb, &r) <= 0 ||
		    urio_loop_run(loop, URIO_RUN_DEFAULT) != 1 ||
		    r.calls != 1) {
			snprintf(o->why, sizeof(o->why), "timeout %u", i);
			break;
		}
	}
	o->st.size = sizeof(o->st);
	urio_loop_stats(loop, &o->st);
	if (destroy_clean(loop, o->why, sizeof(o->why)) < 0)
		return NULL;
	return NULL;
}

START_TEST(a_thread_on_one_cpu_never_spins)
{
	struct one_cpu o = { 0 };
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, one_cpu_loop, &o), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_msg(!o.why[0], "%s", o.why);
	ck_assert_msg(strstr(o.wait, "one CPU"), "wait: '%s'", o.wait);
	ck_assert_uint_eq(o.st.spins, 0);
	ck_assert_uint_gt(o.st.sleeps, 0);
}
END_TEST

/* A loop with an SQPOLL ring, or NULL (the ring could not be had, and
 * line says what the loop has instead). */
static urio_loop *sqpoll_loop(char *line, size_t len)
{
	struct urio_loop_opts o = quiet_opts();
	urio_loop *loop;

	o.flags |= URIO_LOOP_SQPOLL;
	ck_assert_int_eq(urio_loop_create(&loop, &o), 0);
	ck_assert_int_gt(urio_loop_describe(loop, line, len), 0);
	if (!strstr(line, "SQPOLL")) {
		DESTROY_CLEAN(loop);
		return NULL;
	}
	return loop;
}

/* A kernel thread polls the SQ, and sleeps after a second without work:
 * a wait must wake it for what the loop prepared, or it never ends. */
START_TEST(an_sqpoll_loop_wakes_its_sleeping_sq_thread)
{
	struct timespec idle = { 1, 300000000 };
	char line[1024];
	urio_loop *loop = sqpoll_loop(line, sizeof(line));

	if (!loop)
		SKIP("no SQPOLL ring here: %s", line);
	for (unsigned round = 0; round < 2; round++) {
		struct req r[64] = { { 0 } };

		/* The second round starts after the SQ thread went idle. */
		if (round)
			nanosleep(&idle, NULL);
		for (unsigned i = 0; i < 64; i++)
			ck_assert_int_gt(urio_timeout(loop, 1000000 + i * 1000,
						      0, req_cb, &r[i]),
					 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 64);
		ck_assert_reqs(r, 64, 0);
	}
	DESTROY_CLEAN(loop);
}
END_TEST

/* An SQPOLL ring can wake its waiter before the completion is posted (a
 * timeout that fires counts at once; the SQ thread posts its CQE after):
 * such a wake is no signal.  Short timeouts, eight at a time, thousands of
 * times: a run must never end with -EINTR, nor report fewer completions
 * than its callbacks ran (it did, a few times in 24,000). */
START_TEST(an_sqpoll_loop_reports_no_signal_that_was_not_sent)
{
	uint64_t ran = 0, reported = 0;
	char line[1024];
	urio_loop *loop = sqpoll_loop(line, sizeof(line));

	if (!loop)
		SKIP("no SQPOLL ring here: %s", line);
	for (unsigned round = 0; round < 3000; round++) {
		struct req r[8] = { { 0 } };
		int n;

		for (unsigned i = 0; i < 8; i++)
			ck_assert_int_gt(urio_timeout(loop, 20000 + i * 5000, 0,
						      req_cb, &r[i]),
					 0);
		n = urio_loop_run(loop, URIO_RUN_DEFAULT);
		ck_assert_msg(n == 8, "round %u: run returned %d (%s)", round,
			      n, urio_strerror(n));
		ck_assert_reqs(r, 8, 0);
		ran += 8;
		reported += (unsigned)n;
	}
	ck_assert_uint_eq(reported, ran);
	DESTROY_CLEAN(loop);
}
END_TEST

/* ---- batched waits ---- */

#define DEEP 16

struct pairs {
	int sv[DEEP][2];
	char buf[DEEP][8];
	struct req r[DEEP];
};

static void deep_recvs(urio_loop *loop, struct pairs *p)
{
	for (unsigned i = 0; i < DEEP; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv[i]),
				 0);
		ck_assert_int_gt(urio_recv(loop, p->sv[i][0], p->buf[i],
					   sizeof(p->buf[i]), 0, 0, req_cb,
					   &p->r[i]),
				 0);
	}
}

static void close_pairs(struct pairs *p)
{
	for (unsigned i = 0; i < DEEP; i++) {
		close(p->sv[i][0]);
		close(p->sv[i][1]);
	}
}

static volatile sig_atomic_t got_signal;

static void on_usr1(int sig)
{
	(void)sig;
	got_signal = 1;
}

struct later {
	pthread_t target;
	urio_loop *loop;
	int delay_ms;
	int fd;	     /* write one byte here, or -1 */
	bool post;   /* post to loop instead */
	bool signal; /* SIGUSR1 to target instead, every delay_ms until done */
	int done;    /* atomic: the target returned */
	int err;
};

static void on_post(urio_loop *loop, int res, void *data)
{
	(void)loop;
	req_cb(NULL, res, data);
}

static struct req posted;

static void *act_later(void *arg)
{
	struct later *l = arg;
	struct timespec ts = { 0, l->delay_ms * 1000000L };

	nanosleep(&ts, NULL);
	/* A signal that lands while the target runs user code ends no
	 * wait, and a loaded machine can keep it there past one delay. */
	while (l->signal && !__atomic_load_n(&l->done, __ATOMIC_ACQUIRE)) {
		l->err = pthread_kill(l->target, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	if (l->post)
		l->err = urio_loop_post(l->loop, on_post, &posted);
	else if (!l->signal && write(l->fd, "L", 1) != 1)
		l->err = -errno;
	return NULL;
}

START_TEST(a_signal_ends_a_batched_wait_with_eintr_and_loses_nothing)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct pairs p = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);
	struct later l = { .target = pthread_self(),
			   .delay_ms = 50,
			   .signal = true };
	pthread_t th;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	got_signal = 0;
	deep_recvs(loop, &p);
	ck_assert_int_eq(pthread_create(&th, NULL, act_later, &l), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), -EINTR);
	__atomic_store_n(&l.done, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(got_signal, 1);
	for (unsigned i = 0; i < DEEP; i++) {
		ck_assert_uint_eq(p.r[i].calls, 0);
		ck_assert_int_eq(write(p.sv[i][1], "k", 1), 1);
	}
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), DEEP);
	ck_assert_reqs(p.r, DEEP, 1);
	DESTROY_CLEAN(loop);
	close_pairs(&p);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);
}
END_TEST

/* With 16 receives in flight the loop asks the kernel for a batch (half
 * of them, or min_wait past the first): one completion that comes while
 * it sleeps must still end the wait, and so must each later one. */
START_TEST(a_batched_wait_never_holds_back_a_lone_completion)
{
	struct pairs p = { 0 };
	urio_loop *loop = new_loop(64, 1, 0);

	deep_recvs(loop, &p);
	ck_assert_int_eq(urio_loop_submit(loop), 0);
	for (unsigned i = 0; i < DEEP; i++) {
		struct later l = { .delay_ms = 10, .fd = p.sv[i][1] };
		pthread_t th;

		/* One at a time, each written while the loop sleeps: each
		 * wait ends with its one completion. */
		ck_assert_int_eq(pthread_create(&th, NULL, act_later, &l), 0);
		ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
		ck_assert_int_eq(pthread_join(th, NULL), 0);
		ck_assert_int_eq(l.err, 0);
		ck_assert_req(p.r[i], 1);
		ck_assert_int_eq(p.buf[i][0], 'L');
	}
	DESTROY_CLEAN(loop);
	close_pairs(&p);
}
END_TEST

/* ---- a lone secondary ring ---- */

/* A loop of two rings with a receive pinned to the second: the primary
 * has nothing in flight, so the loop sleeps on the second ring itself. */
static urio_loop *two_rings(urio_target **t, int fd)
{
	struct urio_target_opts to = { .size = sizeof(to),
				       .flags = URIO_TARGET_RING,
				       .ring = 1 };
	urio_loop *loop = new_loop(16, 2, 0);
	struct urio_layout lay = { .size = sizeof(lay) };

	ck_assert_int_eq(urio_loop_layout(loop, &lay), 0);
	ck_assert_uint_eq(lay.nrings, 2);
	ck_assert_int_eq(urio_target_adopt(loop, t, fd, &to), 0);
	return loop;
}

START_TEST(a_lone_secondary_ring_wakes_for_completions_posts_and_signals)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct req r = { 0 };
	urio_target *t;
	urio_loop *loop;
	char buf[8];
	pthread_t th;
	struct later l;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	loop = two_rings(&t, sv[0]);
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &r), 0);

	/* Its completion. */
	l = (struct later){ .delay_ms = 20, .fd = sv[1] };
	ck_assert_int_eq(pthread_create(&th, NULL, act_later, &l), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(l.err, 0);
	ck_assert_req(r, 1);
	ck_assert_int_eq(buf[0], 'L');

	/* A post from another thread, the read still in flight. */
	memset(&r, 0, sizeof(r));
	memset(&posted, 0, sizeof(posted));
	ck_assert_int_gt(urio_read(t, buf, sizeof(buf), 0, 0, req_cb, &r), 0);
	l = (struct later){ .loop = loop, .delay_ms = 20, .post = true };
	ck_assert_int_eq(pthread_create(&th, NULL, act_later, &l), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(l.err, 0);
	ck_assert_req(posted, 0);
	ck_assert_uint_eq(r.calls, 0);

	/* A signal. */
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0);
	got_signal = 0;
	l = (struct later){ .target = pthread_self(),
			    .delay_ms = 20,
			    .signal = true };
	ck_assert_int_eq(pthread_create(&th, NULL, act_later, &l), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_ONCE), -EINTR);
	__atomic_store_n(&l.done, 1, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(got_signal, 1);
	ck_assert_uint_eq(r.calls, 0);
	ck_assert_int_eq(sigaction(SIGUSR1, &old, NULL), 0);

	/* And the read, still there, completes. */
	ck_assert_int_eq(write(sv[1], "Z", 1), 1);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 1);
	ck_assert_int_eq(buf[0], 'Z');
	ck_assert_int_eq(urio_target_close(t), 0);
	DESTROY_CLEAN(loop);
	close(sv[0]);
	close(sv[1]);
}
END_TEST
