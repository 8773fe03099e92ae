/* setup.c - builds a loop's backends from its options: the rings asked for,
 * with the set-up flags the kernel accepts, and the layout report that says
 * what was obtained. */
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "internal.h"

#ifndef IORING_SETUP_SUBMIT_ALL
#define IORING_SETUP_SUBMIT_ALL (1u << 7)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1u << 8)
#endif
#ifndef IORING_SETUP_TASKRUN_FLAG
#define IORING_SETUP_TASKRUN_FLAG (1u << 9)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1u << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1u << 13)
#endif

#define DEFAULT_ENTRIES 256

static const struct {
	unsigned flag;
	const char *name;
} flag_names[] = {
	{ IORING_SETUP_SQPOLL, "SQPOLL" },
	{ IORING_SETUP_SUBMIT_ALL, "SUBMIT_ALL" },
	{ IORING_SETUP_COOP_TASKRUN, "COOP_TASKRUN" },
	{ IORING_SETUP_TASKRUN_FLAG, "TASKRUN_FLAG" },
	{ IORING_SETUP_SINGLE_ISSUER, "SINGLE_ISSUER" },
	{ IORING_SETUP_DEFER_TASKRUN, "DEFER_TASKRUN" },
};

static size_t flags_str(unsigned flags, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++) {
		if (!(flags & flag_names[i].flag))
			continue;
		off += (size_t)snprintf(buf + off, off < len ? len - off : 0,
					"%s%s", off ? "|" : "",
					flag_names[i].name);
	}
	return off;
}

static unsigned wanted_flags(const struct urio_loop_opts *o)
{
	unsigned f = IORING_SETUP_SUBMIT_ALL;

	if (o->flags & URIO_LOOP_SQPOLL)
		return f | IORING_SETUP_SQPOLL;
	if (!(o->flags & URIO_LOOP_NO_DEFER))
		f |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		     IORING_SETUP_TASKRUN_FLAG;
	else
		f |= IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
	return f;
}

static int add_engine(urio_loop *loop, struct urio_engine *e)
{
	struct urio_engine **v;

	v = realloc(loop->engines, (loop->nengines + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	loop->engines = v;
	loop->engines[loop->nengines++] = e;
	loop->layout.rings[loop->layout.nrings++] = e->desc;
	return 0;
}

static int setup_rings(urio_loop *loop, const struct urio_loop_opts *o)
{
	struct urio_ring_params p = {
		.entries = o->entries ? o->entries : DEFAULT_ENTRIES,
		.flags = wanted_flags(o),
	};
	unsigned rings = o->rings ? o->rings : 1, got;
	char want[128], have[128];
	int ret;

	p.cq_entries = 2 * p.entries;
	for (unsigned i = 0; i < rings; i++) {
		struct urio_engine *e;

		ret = urio_ring_create(&e, &p, &got);
		if (ret < 0)
			return ret;
		ret = add_engine(loop, e);
		if (ret < 0) {
			e->ops->destroy(e, true);
			return ret;
		}
		if (i == 0 && (got & p.flags) != p.flags) {
			flags_str(p.flags & ~got, want, sizeof(want));
			flags_str(got, have, sizeof(have));
			urio__fallback(loop, "flags", EINVAL,
				       "kernel refused %s; rings use %s", want,
				       have);
			if (loop->flags & URIO_LOOP_STRICT)
				return -EINVAL;
		}
		p.flags = got;
	}
	snprintf(loop->layout.backend, sizeof(loop->layout.backend), "%s",
		 loop->engines[0]->ops->name);
	return 0;
}

int urio__setup_engines(urio_loop *loop, const struct urio_loop_opts *o)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0)
		loop->layout.memlock_limit =
			rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : rl.rlim_cur;
	if (o->backend == URIO_BACKEND_AIO)
		return -EOPNOTSUPP;
	return setup_rings(loop, o);
}

int urio__describe(const struct urio_layout *l, unsigned cap, char *buf,
		   size_t len)
{
	size_t off = 0;
	char flags[128];

#define OUT(...)                                                             \
	off += (size_t)snprintf(buf + off, off < len ? len - off : 0,        \
				__VA_ARGS__)
	OUT("%s:", l->backend);
	for (unsigned i = 0; i < l->nrings; i++) {
		unsigned n = 1;

		/* Runs of equal rings print once, with a count. */
		while (i + n < l->nrings &&
		       !memcmp(&l->rings[i], &l->rings[i + n], sizeof(l->rings[i])))
			n++;
		flags_str(l->rings[i].setup_flags, flags, sizeof(flags));
		OUT("%s %u x %u/%u%s%s%s", i ? "," : "", n, l->rings[i].entries,
		    l->rings[i].cq_entries, flags[0] ? " (" : "", flags,
		    flags[0] ? ")" : "");
		i += n - 1;
	}
	OUT("; in-flight cap %u", cap);
	if (l->memlock_limit == UINT64_MAX)
		OUT("; memlock unlimited");
	else
		OUT("; memlock %llu KiB",
		    (unsigned long long)(l->memlock_limit >> 10));
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
