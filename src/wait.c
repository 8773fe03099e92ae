/* SPDX-License-Identifier: MIT */
/* wait.c - how a loop waits for completions when none are ready.
 *
 * What pays depends on the device, the queue depth and what else runs on
 * the machine, so by default each loop finds out by trying.  It has four
 * ways to wait:
 *   sleep   submit the batch callbacks made, sleep in the kernel;
 *   early   also send each callback's requests as soon as it returns
 *           (fio's iodepth_batch_submit=1): the device is fed while the
 *           rest of the batch is dispatched;
 *   spin    early, and poll the rings before sleeping (a memory read, no
 *           syscall) for up to twice the recent wait, at most 50 us,
 *           backing off when spins stop finding completions;
 *   batch   early, and let the kernel gather completions while asleep
 *           (IORING_ENTER_EXT_ARG's min_wait_usec, 6.12+): one wake-up for
 *           up to half the queue, at most BATCH_USEC past the first.
 * While the loop keeps waiting, it runs each way for a short phase in
 * turn (the first time after a warm-up spent early), a few rounds, keeps the
 * one that completed the most requests per second (a costlier one must beat the
 * cheaper by a margin), uses it for a while, and tries again: so it follows the
 * device and the machine (a spin that starves the kernel worker on the other
 * core loses its trial). Spinning is never tried on a thread that may use one
 * CPU only, nor while the thread waits for its CPU as it spins (run-queue
 * delay from /proc/thread-self/schedstat, or involuntary switches).  Where
 * completions come at submission (NOPs, the page cache) no way gains: the waits
 * return at once, and early submission turns itself off (req.c).
 *
 * When the only requests in flight are on one secondary ring (NVMe
 * passthrough), the loop sleeps on that ring itself: one syscall instead
 * of a submit, a wake-up through the primary's eventfd poll and a read of
 * it (after a spin, when spinning pays there as anywhere); a polled one is
 * polled by the kernel in the same call.
 *
 * spin_usec > 0 fixes the way (spin that long, then sleep); URIO_LOOP_SLEEP
 * never spins (the trial is among the others).  A signal that arrives
 * while the loop sleeps ends the wait with -EINTR: nothing is lost, the
 * requests stay in flight. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* The longest adaptive spin. */
#define SPIN_CAP_NS 50000u
/* Spins judged together, and the share of them that must find a
 * completion for spinning to go on. */
#define SPIN_WINDOW 16u
/* Waits slept through after a window that did not pay, at first and at
 * most (doubling in between). */
#define BACKOFF_MIN 16u
#define BACKOFF_MAX 4096u
/* How often the thread's CPU contention is read, and the share of the
 * time it may spend waiting for a CPU as it spins before spinning stops:
 * not less, as the kernel work completing the spinner's own I/O preempts
 * it up to 30 % of the time (QD1, loop device) while spinning still
 * doubles IOPS, and a process sharing its CPU takes about half. */
#define CHECK_NS     10000000u
#define CONTENDED_PC 40u
/* Turns of the loop that keep submitting early after its last wait. */
#define EARLY_ITERS 64u
/* A sleep on a lone secondary ring wakes this often to see posts from
 * other threads (the primary's poll of the wake-up fd cannot wake it). */
#define SECONDARY_TIMEOUT_NS 1000000u
/* batch: for a primary ring with this many requests in flight or more,
 * wait for half of them, at most this long past the first. */
#define BATCH_MIN_INFLIGHT 8u
#define BATCH_USEC	   20u
/* The trial: phases of PHASE_NS, ROUNDS of each way, then the winner for
 * EXPLOIT_NS, twice as long each time the same way wins again, up to
 * EXPLOIT_MAX_NS: a trial spends most of its time in the ways that lose
 * (at QD1 on a loop device, a tenth of the time at a third of the rate).
 * A way that costs more CPU must complete MARGIN_PC percent more requests
 * per second than a cheaper one to win. */
#define PHASE_NS       20000000u
#define ROUNDS	       3u
#define EXPLOIT_NS     2000000000ull
#define EXPLOIT_MAX_NS 16000000000ull
#define MARGIN_PC      8u
/* A first round whose best way ran at this share of every other's rate (or
 * more) ends the trial. */
#define DECISIVE_PC 160u
/* The first trial waits this long after the loop's first wait: the first
 * moments are unlike the rest (the device's kernel workers start), and a
 * trial made then picked wrongly and kept it for EXPLOIT_NS (a 3 s run at
 * QD32 on a loop device: 224-230 k IOPS, against 260-265 k with it). */
#define WARMUP_NS 100000000u

/* The ways, cheapest first. */
enum { WAY_SLEEP, WAY_EARLY, WAY_BATCH, WAY_SPIN, NWAYS };
static const char *const way_names[NWAYS] = { "sleep", "early", "batch",
					      "spin" };

uint64_t urio__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned cpus_available(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 1;
	return (unsigned)CPU_COUNT(&set);
}

/* Whether way may be tried on this loop now. */
static bool way_allowed(const struct urio_waiter *w, unsigned way)
{
	switch (way) {
	case WAY_BATCH:
		return w->min_wait;
	case WAY_SPIN:
		return w->can_spin && !w->contended;
	}
	return true;
}

void urio__wait_init(urio_loop *loop, unsigned spin_usec)
{
	struct urio_waiter *w = &loop->w;

	w->stat_fd = w->load_fd = -1;
	w->min_wait = loop->e0->min_wait;
	w->spin_ns = SPIN_CAP_NS;
	if (spin_usec) {
		w->policy = URIO_WAIT_SPIN;
		w->spin_ns = spin_usec * 1000ull;
		w->way = WAY_SPIN;
	} else {
		w->policy = loop->flags & URIO_LOOP_SLEEP ? URIO_WAIT_SLEEP
							  : URIO_WAIT_ADAPTIVE;
		w->ncpus = cpus_available();
		w->can_spin = w->policy == URIO_WAIT_ADAPTIVE && w->ncpus > 1;
		w->way = WAY_SLEEP;
	}
}

void urio__wait_fini(urio_loop *loop)
{
	if (loop->w.stat_fd >= 0)
		close(loop->w.stat_fd);
	if (loop->w.load_fd >= 0)
		close(loop->w.load_fd);
	loop->w.stat_fd = loop->w.load_fd = -1;
}

int urio__wait_describe(const urio_loop *loop, char *buf, size_t len)
{
	const struct urio_waiter *w = &loop->w;
	char ways[64];
	size_t off = 0;

	if (w->policy == URIO_WAIT_SPIN)
		return snprintf(buf, len, "spin %llu us, then sleep",
				(unsigned long long)(w->spin_ns / 1000));
	ways[0] = '\0';
	for (unsigned i = 0; i < NWAYS; i++)
		if (way_allowed(w, i))
			off += (size_t)snprintf(ways + off, sizeof(ways) - off,
						"%s%s", off ? "/" : "",
						way_names[i]);
	return snprintf(buf, len, "%s (tries %s)%s",
			w->policy == URIO_WAIT_SLEEP ? "sleep" : "adaptive",
			ways,
			w->policy == URIO_WAIT_ADAPTIVE && !w->can_spin
				? "; one CPU: no spin"
				: "");
}

/* The time this thread has spent waiting for a CPU (ns), or with no
 * schedstat its involuntary context switches, counted as 50 us each. */
static uint64_t cpu_wait_ns(struct urio_waiter *w)
{
	char buf[96];
	unsigned long long delay;
	struct rusage ru;
	ssize_t n;

	if (w->stat_fd == -1)
		w->stat_fd = open("/proc/thread-self/schedstat",
				  O_RDONLY | O_CLOEXEC);
	if (w->stat_fd >= 0) {
		n = pread(w->stat_fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			char *end;

			/* "run_ns delay_ns slices": strtoull, not sscanf,
			 * which costs more than the rest of a wait. */
			buf[n] = '\0';
			(void)strtoull(buf, &end, 10); /* run_ns */
			if (end != buf && *end == ' ') {
				char *p = end + 1;

				delay = strtoull(p, &end, 10);
				if (end != p)
					return delay;
			}
		}
		close(w->stat_fd);
		w->stat_fd = -2; /* never again */
	}
	if (getrusage(RUSAGE_THREAD, &ru) < 0)
		return 0;
	return (uint64_t)ru.ru_nivcsw * 50000u;
}

/* Tasks running or runnable on the machine now, this one included
 * (/proc/loadavg's fourth field); 0 when it cannot be read. */
static unsigned running_tasks(struct urio_waiter *w)
{
	char buf[128];
	unsigned running = 0;
	ssize_t n;

	if (w->load_fd == -1)
		w->load_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
	if (w->load_fd < 0)
		return 0;
	n = pread(w->load_fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		/* "0.50 0.40 0.30 2/123 4567": the fourth field's first
		 * number (by hand: sscanf costs more than the wait). */
		char *p = buf, *end;

		buf[n] = '\0';
		for (int f = 0; f < 3 && p; f++)
			if ((p = strchr(p, ' ')))
				p++;
		if (p) {
			unsigned long v = strtoul(p, &end, 10);

			if (end != p && *end == '/')
				running = v > UINT32_MAX ? UINT32_MAX
							 : (unsigned)v;
		}
	}
	if (!running) {
		close(w->load_fd);
		w->load_fd = -2; /* never again */
		return 0;
	}
	return running;
}

/* Whether a spin would take a CPU something else needs: the thread waited
 * for its own lately, or no CPU it may use is left idle by the others (a
 * kernel worker that completes the I/O, another process).  Read every
 * CHECK_NS of waiting at most. */
static void check_contention(struct urio_waiter *w, uint64_t now)
{
	uint64_t delay;

	if (!w->can_spin || now < w->check_ns)
		return;
	delay = cpu_wait_ns(w);
	if (w->checked_ns) {
		/* The run-queue count is a snapshot: a kernel worker that
		 * runs for a moment must not stop spinning, a busy process
		 * shows in two reads running. */
		bool crowded = running_tasks(w) > w->ncpus;

		/* Run-queue delay counts over a window spent spinning only:
		 * a thread that sleeps waits for its CPU at each wake-up
		 * too (tens of microseconds where an idle virtual CPU must
		 * be woken: 40 % of the time of a QD1 loop at 20 k IOPS,
		 * which then never tried spinning), and that is no CPU
		 * taken from it.  Outside such windows the verdict stands
		 * until the next trial. */
		if (w->way == WAY_SPIN && w->checked_way == WAY_SPIN)
			w->delayed = (delay - w->cpu_wait) * 100 >
				     (now - w->checked_ns) * CONTENDED_PC;
		w->contended = w->delayed || (crowded && w->crowded);
		w->crowded = crowded;
	}
	w->checked_way = w->way;
	w->cpu_wait = delay;
	w->checked_ns = now;
	w->check_ns = now + CHECK_NS;
}

/* The next way of the trial, after way (NWAYS: the first), skipping
 * those not allowed; NWAYS at the end of a round. */
static unsigned next_way(const struct urio_waiter *w, unsigned way)
{
	for (way = way == NWAYS ? 0 : way + 1; way < NWAYS; way++)
		if (way_allowed(w, way))
			return way;
	return NWAYS;
}

static uint64_t median3(const uint64_t *v)
{
	uint64_t a = v[0], b = v[1], c = v[2];

	if (a > b) {
		uint64_t t = a;

		a = b;
		b = t;
	}
	return c < a ? a : c > b ? b : c;
}

/* The trial is over (w->round rounds of it): the way with the best median
 * rate wins, a costlier one only by MARGIN_PC over every cheaper. */
static unsigned pick_way(const struct urio_waiter *w)
{
	uint64_t best = 0, r;
	unsigned way = WAY_SLEEP;

	for (unsigned i = 0; i < NWAYS; i++) {
		if (!w->round || w->nrates[i] < w->round)
			continue;
		r = w->round < ROUNDS ? w->rates[i][0] : median3(w->rates[i]);
		if (r * 100 > best * (100 + MARGIN_PC)) {
			best = r;
			way = i;
		}
	}
	return way;
}

/* After the first round: whether one way's rate is DECISIVE_PC of every
 * other's, when the other rounds could not change the verdict (at QD1 on a
 * loop device spinning runs at three times the others' rate, and two more
 * rounds of them cost it a tenth of the trial's time at a third of the
 * rate).  Only a clear first round ends a trial early; anything closer
 * gets its three. */
static bool decisive(const struct urio_waiter *w)
{
	uint64_t top = 0, next = 0;

	if (w->round != 1)
		return false;
	for (unsigned i = 0; i < NWAYS; i++) {
		uint64_t r;

		if (!way_allowed(w, i))
			continue;
		if (!w->nrates[i])
			return false; /* a phase that did not count */
		r = w->rates[i][0];
		if (r > top) {
			next = top;
			top = r;
		} else if (r > next) {
			next = r;
		}
	}
	return next && top * 100 >= next * DECISIVE_PC;
}

/* Called at each wait of an adaptive loop: ends a phase when its time is
 * up (a phase that ran much longer, the loop having been idle, does not
 * count), moves through the trial, and starts one when the winner has had
 * its time. */
static void tune(urio_loop *loop, uint64_t now)
{
	struct urio_waiter *w = &loop->w;
	uint64_t len, done;

	if (!w->phase_end) {
		/* Until the first trial: early, which feeds a device and
		 * turns itself off where completions come at submission. */
		w->way = WAY_EARLY;
		w->phase_end = now + WARMUP_NS;
		return;
	}
	/* A winner picked while spinning was ruled out runs its base time
	 * only once the contention has gone: spinning may pay again. */
	if (now < w->phase_end &&
	    !(!w->trial && w->won_contended && !w->contended &&
	      now - w->phase_t0 >= EXPLOIT_NS))
		return;
	len = now - w->phase_t0;
	done = loop->c.completed - w->phase_c0;
	if (w->trial && len < 2 * (uint64_t)PHASE_NS &&
	    w->nrates[w->way] < ROUNDS)
		w->rates[w->way][w->nrates[w->way]++] =
			done * 1000000000u / (len ? len : 1);
	if (!w->trial) {
		/* Time for a trial. */
		w->trial = true;
		w->delayed = w->contended = false;
		memset(w->nrates, 0, sizeof(w->nrates));
		w->round = 0;
		w->way = next_way(w, NWAYS);
	} else if ((w->way = next_way(w, w->way)) == NWAYS &&
		   ++w->round < ROUNDS && !decisive(w)) {
		w->way = next_way(w, NWAYS);
	}
	if (w->way == NWAYS) {
		w->trial = false;
		w->way = pick_way(w);
		w->exploit_ns = w->trials && w->way == w->won && w->exploit_ns
					? w->exploit_ns * 2
					: EXPLOIT_NS;
		if (w->exploit_ns > EXPLOIT_MAX_NS)
			w->exploit_ns = EXPLOIT_MAX_NS;
		w->won = w->way;
		w->won_contended = w->contended;
		w->trials++;
		w->phase_end = now + w->exploit_ns;
	} else {
		w->phase_end = now + PHASE_NS;
	}
	w->phase_t0 = now;
	w->phase_c0 = loop->c.completed;
}

/* How long to spin before this wait sleeps: 0 for not at all. */
static uint64_t spin_budget(struct urio_waiter *w)
{
	uint64_t b;

	if (w->policy == URIO_WAIT_SPIN)
		return w->spin_ns;
	if (w->way != WAY_SPIN || w->contended)
		return 0;
	if (w->backoff) {
		w->backoff--;
		return 0;
	}
	/* Waits that usually outlast the cap are not worth spinning for
	 * (an idle server, a slow disk): sleep at once.  A slept wait is no
	 * measure of a spun one (it adds the wake-up, and where an idle CPU
	 * must be woken to complete the I/O, that too), so it does not feed
	 * the average, which would hold itself above the cap (QD1 on a
	 * loop device slept through a third of its waits at 26 k IOPS,
	 * spinning 45 k); a spin to the cap now and then (a probe, at
	 * doubling intervals while they miss) finds when waits got short
	 * again. */
	if (w->ewma_ns > w->spin_ns) {
		if (w->probe_wait) {
			w->probe_wait--;
			return 0;
		}
		w->probe_gap = w->probe_gap ? w->probe_gap * 2 : BACKOFF_MIN;
		if (w->probe_gap > BACKOFF_MAX)
			w->probe_gap = BACKOFF_MAX;
		w->probe_wait = w->probe_gap;
		w->probing = true;
		return w->spin_ns;
	}
	b = 2 * (uint64_t)w->ewma_ns + 2000;
	return b < w->spin_ns ? b : w->spin_ns;
}

/* How long waits take, recently: an average over about 8. */
static void ewma_add(struct urio_waiter *w, uint64_t dt)
{
	if (dt > UINT32_MAX)
		dt = UINT32_MAX;
	w->ewma_ns = w->ewma_ns - w->ewma_ns / 8 + (uint32_t)(dt / 8);
}

/* A spin ended, having found a completion or not: judge the window. */
static void spin_judged(struct urio_waiter *w, bool hit)
{
	w->spins++;
	w->spin_hits += hit;
	if (w->policy != URIO_WAIT_ADAPTIVE)
		return;
	w->tries++;
	w->hits += hit;
	if (w->tries < SPIN_WINDOW)
		return;
	if (w->hits * 2 < w->tries) {
		w->backoff_len =
			w->backoff_len ? w->backoff_len * 2 : BACKOFF_MIN;
		if (w->backoff_len > BACKOFF_MAX)
			w->backoff_len = BACKOFF_MAX;
		w->backoff = w->backoff_len;
	} else {
		w->backoff_len = 0;
	}
	w->tries = w->hits = 0;
}

/* Polls the rings until one has a completion or end passes. */
static bool spin(urio_loop *loop, uint64_t end)
{
	unsigned n = 0;

	for (;;) {
		if (urio__any_ready(loop) ||
		    __atomic_load_n(&loop->posted, __ATOMIC_ACQUIRE))
			return true;
		/* The clock is read every few polls: it costs more. */
		if (!(++n & 7) && urio__mono_ns() >= end)
			return false;
	}
}

/* The user waits on wake_fd: so does a blocking run. */
static int wait_wake_fd(urio_loop *loop)
{
	struct pollfd pfd = { .fd = loop->wake_fd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, -1) < 0)
		return -errno;
	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Requests in flight on the primary engine: the short path counts its
 * own in the loop only. */
static uint64_t primary_inflight(const urio_loop *loop)
{
	return loop->e0->c.inflight + urio__loop_inflight(&loop->c) -
	       urio__loop_inflight(&loop->slow);
}

/* The one engine with requests in flight when it is not the primary and
 * the primary has none (an NVMe passthrough ring, typically), else NULL. */
static struct urio_engine *lone_secondary(urio_loop *loop)
{
	struct urio_engine *busy = NULL;

	if (primary_inflight(loop) || loop->local_n)
		return NULL;
	for (unsigned i = 1; i < loop->nengines; i++) {
		if (!loop->engines[i]->c.inflight)
			continue;
		if (busy || !loop->engines[i]->ops->wait)
			return NULL;
		busy = loop->engines[i];
	}
	return busy;
}

/* Submits what every engine but skip has queued. */
static int flush_but(urio_loop *loop, const struct urio_engine *skip)
{
	for (unsigned i = 0; i < loop->nengines; i++) {
		struct urio_engine *e = loop->engines[i];
		int ret;

		if (e != skip && (ret = e->ops->enter(e, false)) < 0)
			return ret;
	}
	return 0;
}

/* Sleeps on the primary (the others signal its wake-up poll), or on a lone
 * secondary: the engine slept on submits its own requests in the same
 * call. */
static int sleep_kernel(urio_loop *loop, struct urio_engine *lone)
{
	struct urio_engine *e0 = loop->e0;
	struct urio_wait_args a = { .nr = 1 };
	int ret = flush_but(loop, lone ? lone : e0);

	if (ret < 0)
		return ret;
	loop->w.sleeps++;
	if (lone) {
		/* Its completions need not signal the primary's poll; posts
		 * are seen at the timeout at the latest. */
		a.quiet = true;
		a.timeout_ns = lone->polled ? 0 : SECONDARY_TIMEOUT_NS;
		return lone->ops->wait(lone, &a);
	}
	if (!e0->ops->wait)
		return e0->ops->enter(e0, true);
	if (loop->w.way == WAY_BATCH && loop->nengines == 1) {
		uint64_t n = primary_inflight(loop);

		if (n >= BATCH_MIN_INFLIGHT) {
			a.nr = (unsigned)(n / 2);
			a.min_wait_usec = BATCH_USEC;
		}
	}
	return e0->ops->wait(e0, &a);
}

int urio__wait(urio_loop *loop)
{
	struct urio_waiter *w = &loop->w;
	struct urio_engine *lone;
	uint64_t t0, budget;
	int ret;

	lone = loop->fd_mode ? NULL : lone_secondary(loop);
	/* A polled ring with requests: the reap polls it, unless it is all
	 * there is to wait for, when the kernel polls it in one call. */
	if (loop->pt_idx >= 0 && loop->engines[loop->pt_idx]->polled &&
	    loop->engines[loop->pt_idx]->c.inflight && (!lone || !lone->polled))
		return urio__flush(loop);
	t0 = urio__mono_ns();
	check_contention(w, t0);
	if (w->policy != URIO_WAIT_SPIN)
		tune(loop, t0);
	/* Completions come from somewhere slower than submission: for a
	 * while, what callbacks submit goes out as each returns. */
	if (w->way != WAY_SLEEP && !loop->fd_mode) {
		loop->submit_early = true;
		w->early_left = EARLY_ITERS;
	}
	/* A polled lone ring is polled by the kernel as it waits. */
	budget = lone && lone->polled ? 0 : spin_budget(w);
	/* What is prepared goes out before a spin or a wait elsewhere; a
	 * sleep submits in the same call. */
	if ((budget || loop->fd_mode) && (ret = urio__flush(loop)) < 0)
		return ret;
	if (budget) {
		bool hit = spin(loop, t0 + budget);

		spin_judged(w, hit);
		if (hit) {
			uint64_t dt = urio__mono_ns() - t0;

			/* A probe that found a completion: waits are short
			 * again, start over from this one. */
			if (w->probing) {
				w->ewma_ns = dt < w->spin_ns ? (uint32_t)dt
							     : w->ewma_ns;
				w->probe_gap = 0;
			} else {
				ewma_add(w, dt);
			}
			w->probing = false;
			return 0;
		}
	}
	if (loop->fd_mode)
		return wait_wake_fd(loop);
	ret = sleep_kernel(loop, lone);
	/* A spin that missed: the whole wait, but no more than twice the cap
	 * (see spin_budget: the sleep inflates it). */
	if (budget && w->policy == URIO_WAIT_ADAPTIVE) {
		uint64_t dt = urio__mono_ns() - t0;

		ewma_add(w, dt < 2 * w->spin_ns ? dt : 2 * w->spin_ns);
		w->probing = false;
	}
	return ret;
}

void urio__wait_early_off(urio_loop *loop)
{
	loop->submit_early = false;
	loop->w.early_left = 0;
}

void urio__wait_idle_pass(urio_loop *loop)
{
	if (!--loop->w.early_left)
		loop->submit_early = false;
}
