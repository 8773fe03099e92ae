/* SPDX-License-Identifier: MIT */
/* layout.c - what the ladder built, told to the user: the layout struct,
 * and one line that names every ring, its flags, the memlock budget and
 * each fallback taken. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "compat.h"
#include "internal.h"

static const struct {
	unsigned flag;
	const char *name;
} flag_names[] = {
	{ IORING_SETUP_IOPOLL, "IOPOLL" },
	{ IORING_SETUP_HYBRID_IOPOLL, "HYBRID_IOPOLL" },
	{ IORING_SETUP_SQPOLL, "SQPOLL" },
	{ IORING_SETUP_SQE128, "SQE128" },
	{ IORING_SETUP_CQE32, "CQE32" },
	{ IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL" },
	{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
	{ IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG" },
	{ IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER" },
	{ IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN" },
};

size_t urio__flags_str(unsigned flags, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]);
	     i++) {
		if (!(flags & flag_names[i].flag))
			continue;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"%s%s", off ? "|" : "",
					flag_names[i].name);
	}
	return off;
}

int urio__describe(const struct urio_layout *l, unsigned cap, char *buf,
		   size_t len)
{
	size_t off = 0;
	char flags[128];

#define OUT(...)                                                      \
	off += (size_t)snprintf(buf + off, off < len ? len - off : 0, \
				__VA_ARGS__)
	OUT("%s:", l->backend);
	for (unsigned i = 0; i < l->nrings; i++) {
		unsigned n = 1;

		/* Runs of equal rings print once, with a count. */
		while (i + n < l->nrings &&
		       !memcmp(&l->rings[i], &l->rings[i + n],
			       sizeof(l->rings[i])))
			n++;
		urio__flags_str(l->rings[i].setup_flags, flags, sizeof(flags));
		OUT("%s %u x %u/%u%s%s%s", i ? "," : "", n, l->rings[i].entries,
		    l->rings[i].cq_entries, flags[0] ? " (" : "", flags,
		    flags[0] ? ")" : "");
		i += n - 1;
	}
	OUT("; in-flight cap %u", cap);
	if (l->memlock_limit == UINT64_MAX)
		OUT("; memlock unlimited");
	else
		OUT("; memlock %llu KiB, planned %llu KiB",
		    (unsigned long long)(l->memlock_limit >> 10),
		    (unsigned long long)(l->planned_bytes >> 10));
	if (l->buf_bytes)
		OUT("; buffers %llu KiB",
		    (unsigned long long)(l->buf_bytes >> 10));
	if (l->note[0])
		OUT("; %s", l->note);
	if (l->wait[0])
		OUT("; wait: %s", l->wait);
	if (l->nfallbacks) {
		OUT("; %u fallback%s:", l->nfallbacks,
		    l->nfallbacks > 1 ? "s" : "");
		for (unsigned i = 0; i < l->nfallbacks; i++)
			OUT(" [%s: %s]", l->fallbacks[i].step,
			    l->fallbacks[i].reason);
	}
#undef OUT
	return off >= len ? -ENOSPC : (int)off;
}

int urio_loop_layout(const urio_loop *loop, struct urio_layout *out)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!out || out->size < offsetof(struct urio_layout, nrings))
		return -EINVAL;
	urio__copy_out(out, &loop->layout, sizeof(*out));
	return 0;
}

int urio_loop_describe(const urio_loop *loop, char *buf, size_t len)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!buf || !len)
		return -EINVAL;
	return urio__describe(&loop->layout, loop->cap, buf, len);
}
