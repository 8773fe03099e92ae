/* SPDX-License-Identifier: MIT */
/* wait.c - how a loop waits for completions when none are ready: submit
 * what is queued and sleep in the kernel, spin on the rings first when
 * asked (spin_usec), or poll the wake-up fd the user took.  A signal ends
 * the wait with -EINTR: nothing is lost, the requests stay in flight. */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

/* A polled ring has requests: the loop spins on it instead of sleeping. */
static bool polling(const urio_loop *loop)
{
	return loop->pt_idx >= 0 && loop->engines[loop->pt_idx]->polled &&
	       loop->engines[loop->pt_idx]->c.inflight;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool any_ready(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->nengines; i++)
		if (loop->engines[i]->ops->has_ready(loop->engines[i]))
			return true;
	return false;
}

/* Submits, then polls the rings for up to spin_ns: whether the kernel has
 * completions is a memory read, so the wait costs no syscall. */
static int spin(urio_loop *loop, bool *ready)
{
	uint64_t end = mono_ns() + loop->spin_ns;
	int ret = urio__flush(loop);

	if (ret < 0)
		return ret;
	do {
		*ready = any_ready(loop);
	} while (!*ready && mono_ns() < end);
	return 0;
}

/* The user waits on wake_fd: so does a blocking run. */
static int wait_wake_fd(urio_loop *loop)
{
	struct pollfd pfd = { .fd = loop->wake_fd, .events = POLLIN };
	uint64_t v;
	int ret = urio__flush(loop);

	if (ret < 0)
		return ret;
	if (poll(&pfd, 1, -1) < 0)
		return -errno;
	if (read(loop->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

int urio__wait(urio_loop *loop)
{
	struct urio_engine *e0 = loop->e0;
	bool ready = false;
	int ret;

	if (polling(loop))
		return 0;
	if (loop->spin_ns) {
		ret = spin(loop, &ready);
		if (ret < 0 || ready)
			return ret;
	}
	if (loop->fd_mode)
		return wait_wake_fd(loop);
	/* The secondary rings signal the primary's wake-up poll. */
	for (unsigned i = 1; i < loop->nengines; i++) {
		ret = loop->engines[i]->ops->enter(loop->engines[i], false);
		if (ret < 0)
			return ret;
	}
	return e0->ops->enter(e0, true);
}
