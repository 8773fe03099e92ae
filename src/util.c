/* SPDX-License-Identifier: MIT */
/* util.c - what every part of urio leans on: argument checks on handles,
 * size-first structs copied in and out, the log and its record of
 * fallbacks, counters as the user sees them, and the fault hook. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#ifdef URIO_FAULT_INJECTION
bool urio__fault(const char *site)
{
	const char *f = getenv("URIO_FAULT");

	return f && !strcmp(f, site);
}
#endif

int urio__check_loop(const urio_loop *loop)
{
	if (URIO_UNLIKELY(!loop))
		return -EINVAL;
	if (URIO_UNLIKELY(loop->owner_tp != urio__self()))
		return loop->owner_tp == URIO_TP_FORKED ? -EOWNERDEAD : -EPERM;
	return 0;
}

int urio__check_target(const urio_target *h, struct urio_target **t)
{
	struct urio_target *tp;

	if (URIO_UNLIKELY(!h))
		return -EINVAL;
	tp = urio__tptr(h);
	if (URIO_UNLIKELY(tp->handle != (uintptr_t)h))
		return -EBADF;
	*t = tp;
	return urio__check_loop(tp->loop);
}

/* Like the kernel's copy_struct_from_user: a caller built against an older
 * header passes a smaller struct (the rest is zero), a newer one a larger
 * struct whose extra bytes must all be zero. */
int urio__copy_opts(void *dst, size_t dst_size, const void *src,
		    size_t min_size)
{
	size_t size = *(const size_t *)src;
	const unsigned char *p = src;

	if (size < min_size)
		return -EINVAL;
	for (size_t i = dst_size; i < size; i++)
		if (p[i])
			return -E2BIG;
	memset(dst, 0, dst_size);
	memcpy(dst, src, size < dst_size ? size : dst_size);
	return 0;
}

/* The other half: fills a caller's struct that starts with its size, as
 * far as that size (and ours) reach. */
void urio__copy_out(void *dst, const void *src, size_t ours)
{
	size_t theirs = *(const size_t *)dst;
	size_t n = theirs < ours ? theirs : ours;

	memcpy((char *)dst + sizeof(size_t), (const char *)src + sizeof(size_t),
	       n - sizeof(size_t));
}

void urio__log(urio_loop *loop, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!loop->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	loop->log(loop->log_arg, msg);
}

void urio__fallback(urio_loop *loop, const char *step, int err, const char *fmt,
		    ...)
{
	struct urio_layout *l = &loop->layout;
	struct urio_fallback fb = { .err = err };
	char reason[512];
	va_list ap;

	snprintf(fb.step, sizeof(fb.step), "%s", step);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	/* The layout keeps what fits, marked cut; the log says it all. */
	if (snprintf(fb.reason, sizeof(fb.reason), "%s", reason) >=
	    (int)sizeof(fb.reason))
		memcpy(fb.reason + sizeof(fb.reason) - 4, "...", 4);
	if (l->nfallbacks < URIO_MAX_FALLBACKS)
		l->fallbacks[l->nfallbacks++] = fb;
	urio__log(loop, "%s: %s", fb.step, reason);
}

int urio__export_stats(const struct urio_counters *c, uint64_t cap,
		       const struct urio_waiter *w, struct urio_stats *st)
{
	struct urio_stats tmp = {
		.size = sizeof(tmp),
		.submitted = c->submitted,
		.completed = c->submitted - c->inflight - c->queued,
		.inflight = c->inflight,
		.inflight_hwm = c->hwm,
		.ebusy = c->ebusy,
		.cap = cap,
		.queued = c->queued,
		.cq_overflows = c->overflows,
		.sleeps = w ? w->sleeps : 0,
		.spins = w ? w->spins : 0,
		.spin_hits = w ? w->spin_hits : 0,
	};

	if (!st || st->size < offsetof(struct urio_stats, submitted) +
				      sizeof(st->submitted))
		return -EINVAL;
	urio__copy_out(st, &tmp, sizeof(tmp));
	return 0;
}

int urio__set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}
