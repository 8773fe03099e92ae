/* SPDX-License-Identifier: MIT */
/* setup.c - builds a loop's backends: plans rings and buffers against the
 * memlock budget, then climbs down the ladder when the kernel still says
 * no (smaller rings, more of them, then libaio), recording every step. */
#include <errno.h>
#include <liburing.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "compat.h"
#include "internal.h"
#include "plan.h"

#define DEFAULT_ENTRIES	    256
#define DEFAULT_MIN_ENTRIES 8
#define DEFAULT_MAX_RINGS   16
#define BUF_FLOOR	    (64u << 10)
/* A closed ring's memlock charge is released 13-25 ms later: a refusal
 * of a ring the planner said fits is retried after that long. */
#define RELEASE_WAIT_MS 10
#define RELEASE_TRIES	3

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

/* What the process can see of its memlock budget. */
static void read_memlock(struct urio_plan_in *in)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3,
						0 };
	struct __user_cap_data_struct caps[2];
	struct rlimit rl;
	char line[256];
	FILE *f;

	in->memlock_limit = UINT64_MAX;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		in->memlock_limit = rl.rlim_cur;
	if (syscall(SYS_capget, &hdr, caps) == 0)
		in->unlimited = (caps[CAP_IPC_LOCK / 32].effective >>
				 (CAP_IPC_LOCK % 32)) &
				1;
	in->page_size = (unsigned)sysconf(_SC_PAGESIZE);
	f = fopen("/proc/self/status", "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long kb;

		if (sscanf(line, "VmLck: %llu kB", &kb) == 1) {
			in->locked = kb << 10;
			break;
		}
	}
	fclose(f);
}

static int add_engine(urio_loop *loop, struct urio_engine *e)
{
	struct urio_engine **v;

	if (loop->layout.nrings == URIO_MAX_RINGS)
		return -E2BIG;
	v = URIO_FAULT("engines")
		    ? NULL
		    : realloc(loop->engines, (loop->nengines + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	loop->engines = v;
	loop->engines[loop->nengines++] = e;
	loop->layout.rings[loop->layout.nrings++] = e->desc;
	return 0;
}

static void drop_engines(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->destroy(loop->engines[i], true);
	loop->nengines = 0;
	loop->layout.nrings = 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* Creates the planned rings; on ENOMEM halves the entries and adds rings
 * of the smaller size, to keep the in-flight capacity asked for. */
static int build_rings(urio_loop *loop, const struct urio_loop_opts *o,
		       const struct urio_plan_out *plan, unsigned floor_e,
		       unsigned max_r)
{
	struct urio_ring_params p = {
		.entries = plan->entries,
		.cq_entries = plan->cq_entries,
		.flags = wanted_flags(o),
	};
	uint64_t want = (uint64_t)plan->rings * plan->cq_entries, got_cap = 0;
	unsigned got, retries = 0;
	char want_f[128], have_f[128];
	int ret = 0;

	while (got_cap < want && loop->nengines < max_r) {
		struct urio_engine *e;

		ret = urio_ring_create(&e, &p, &got);
		if (ret == -ENOMEM && retries < RELEASE_TRIES) {
			retries++;
			sleep_ms(RELEASE_WAIT_MS);
			continue;
		}
		if (ret == -ENOMEM && p.entries / 2 >= floor_e) {
			urio__fallback(loop, "entries", ENOMEM,
				       "kernel refused a ring of %u entries; "
				       "trying rings of %u",
				       p.entries, p.entries / 2);
			if (loop->flags & URIO_LOOP_STRICT)
				return -ENOMEM;
			p.entries /= 2;
			p.cq_entries /= 2;
			continue;
		}
		if (ret < 0)
			break;
		ret = add_engine(loop, e);
		if (ret < 0) {
			e->ops->destroy(e, true);
			return ret;
		}
		got_cap += e->desc.cq_entries;
		if (loop->nengines == 1 && (got & p.flags) != p.flags) {
			urio__flags_str(p.flags & ~got, want_f, sizeof(want_f));
			urio__flags_str(got, have_f, sizeof(have_f));
			urio__fallback(loop, "flags", EINVAL,
				       "kernel refused %s; rings use %s",
				       want_f, have_f);
			if (loop->flags & URIO_LOOP_STRICT)
				return -EINVAL;
		}
		p.flags = got;
	}
	if (!loop->nengines)
		return ret < 0 ? ret : -ENOMEM;
	if (got_cap < want) {
		urio__fallback(loop, "rings", ret < 0 ? -ret : 0,
			       "%u rings hold %llu completions of the %llu "
			       "planned",
			       loop->nengines, (unsigned long long)got_cap,
			       (unsigned long long)want);
		if (loop->flags & URIO_LOOP_STRICT)
			return -ENOMEM;
	}
	return 0;
}

#if URIO_HAVE_LIBAIO
static unsigned long long read_ull(const char *path)
{
	unsigned long long v = 0;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* io_setup's EAGAIN even for the smallest context: the system-wide
 * fs.aio-max-nr is taken by contexts of every process.  Says which limit,
 * and how to raise it. */
static void aio_max_nr_used_up(urio_loop *loop)
{
	unsigned long long max = read_ull("/proc/sys/fs/aio-max-nr");
	unsigned long long used = read_ull("/proc/sys/fs/aio-nr");

	urio__log(loop,
		  "libaio: fs.aio-max-nr (%llu events, system-wide) is used up "
		  "by the contexts of every process (fs.aio-nr %llu). Raise "
		  "it with 'sysctl -w fs.aio-max-nr=%llu' (or a line in "
		  "/etc/sysctl.d/)",
		  max, used, max ? 2 * max : 1048576ull);
}
#endif

static int setup_aio(urio_loop *loop, const struct urio_loop_opts *o)
{
#if URIO_HAVE_LIBAIO
	unsigned want = 2 * (o->entries ? o->entries : DEFAULT_ENTRIES), got;
	struct urio_engine *e;
	int ret;

	loop->step = "libaio context";
	ret = URIO_FAULT("aio") ? -ENOMEM : urio_aio_create(&e, want, &got);
	if (ret == -EAGAIN)
		aio_max_nr_used_up(loop);
	if (ret < 0)
		return ret;
	ret = add_engine(loop, e);
	if (ret < 0) {
		e->ops->destroy(e, true);
		return ret;
	}
	if (got < want)
		urio__fallback(loop, "aio_events", EAGAIN,
			       "fs.aio-max-nr allowed a context of %u events, "
			       "not %u",
			       got, want);
	snprintf(loop->layout.backend, sizeof(loop->layout.backend), "libaio");
	snprintf(loop->layout.note, sizeof(loop->layout.note),
		 "libaio: buffered I/O runs synchronously inside io_submit; "
		 "open targets with O_DIRECT for asynchronous I/O");
	return 0;
#else
	(void)loop;
	(void)o;
	return -EOPNOTSUPP;
#endif
}

/* Falls back to libaio after io_uring failed with err, when allowed. */
static int fall_to_aio(urio_loop *loop, const struct urio_loop_opts *o, int err,
		       const char *why)
{
	drop_engines(loop);
	if (o->backend == URIO_BACKEND_URING ||
	    (loop->flags & URIO_LOOP_STRICT))
		return err;
	urio__fallback(loop, "backend", -err,
		       "using libaio: io_uring unavailable (%s)", why);
	return setup_aio(loop, o);
}

int urio__setup_engines(urio_loop *loop, const struct urio_loop_opts *o)
{
	struct urio_plan_in in = {
		.entries = o->entries ? o->entries : DEFAULT_ENTRIES,
		.rings = o->rings ? o->rings : 1,
		.min_entries =
			o->min_entries ? o->min_entries : DEFAULT_MIN_ENTRIES,
		.max_rings = o->max_rings ? o->max_rings : DEFAULT_MAX_RINGS,
		.buf_bytes = o->buf_bytes,
	};
	struct urio_plan_out plan;
	int ret;

	read_memlock(&in);
	loop->layout.memlock_limit =
		in.unlimited ? UINT64_MAX : in.memlock_limit;
	if (o->backend == URIO_BACKEND_AIO) {
		ret = setup_aio(loop, o);
		if (ret == 0 && o->buf_bytes)
			ret = urio__setup_buffers(loop, o, o->buf_bytes);
		return ret;
	}
	loop->step = "memlock plan";
	ret = urio_plan(&in, &plan);
	if (ret < 0) {
		if (loop->log)
			loop->log(loop->log_arg, plan.why);
		return fall_to_aio(loop, o, ret, plan.why);
	}
	if (plan.cut & URIO_PLAN_CUT_RINGS) {
		urio__fallback(
			loop, "memlock", 0,
			"RLIMIT_MEMLOCK %llu KiB, %llu KiB locked: %u x %u "
			"entries planned instead of %u x %u",
			(unsigned long long)(in.memlock_limit >> 10),
			(unsigned long long)(in.locked >> 10), plan.rings,
			plan.entries, in.rings, in.entries);
		if (loop->flags & URIO_LOOP_STRICT)
			return -ENOMEM;
	}
	loop->layout.planned_bytes = plan.total;
	loop->step = "io_uring rings";
	ret = build_rings(loop, o, &plan, in.min_entries, in.max_rings);
	if (ret == -ENOMEM || ret == -EPERM || ret == -ENOSYS ||
	    ret == -EACCES) {
		char why[320];

		if (ret == -ENOMEM && !in.unlimited &&
		    in.memlock_limit != UINT64_MAX)
			/* The plan fitted this process's limit, but the kernel
			 * charges rings to the user: its other rings, in this
			 * process or any other, took the rest. */
			snprintf(why, sizeof(why),
				 "io_uring_setup: %s: RLIMIT_MEMLOCK %llu KiB "
				 "counts every io_uring ring of this user, in "
				 "all its processes. Raise it "
				 "with " URIO_MEMLOCK_FIX,
				 strerror(-ret),
				 (unsigned long long)(in.memlock_limit >> 10));
		else
			snprintf(why, sizeof(why), "io_uring_setup: %s",
				 strerror(-ret));
		if (o->backend == URIO_BACKEND_URING ||
		    (loop->flags & URIO_LOOP_STRICT))
			urio__log(loop, "%s", why);
		return fall_to_aio(loop, o, ret, why);
	}
	if (ret < 0)
		return ret;
	snprintf(loop->layout.backend, sizeof(loop->layout.backend), "%s",
		 loop->engines[0]->ops->name);
	if (o->buf_bytes) {
		loop->step = "registered buffer pool";
		return urio__setup_buffers(loop, o, plan.buf_bytes);
	}
	return 0;
}

int urio__passthru_engine(urio_loop *loop)
{
	struct urio_engine *e0 = loop->engines[0], *e;
	struct urio_plan_in in = { .sqe_size = 128, .cqe_size = 32 };
	struct urio_ring_params p = {
		.entries = e0->desc.entries,
		.flags = (e0->desc.setup_flags &
			  ~(IORING_SETUP_CQSIZE | IORING_SETUP_SQPOLL)) |
			 IORING_SETUP_SQE128 | IORING_SETUP_CQE32,
	};
	uint64_t budget = loop->layout.memlock_limit;
	unsigned got;
	int ret;

	if (loop->pt_idx >= 0)
		return loop->pt_idx;
	if (e0->desc.kind == URIO_RING_AIO)
		return -EOPNOTSUPP; /* libaio has no passthrough */
	/* Hybrid polling (6.13) sleeps through most of a command's expected
	 * time before it polls: dropped where the kernel refuses it. */
	if (loop->flags & URIO_LOOP_IOPOLL)
		p.flags |= IORING_SETUP_IOPOLL | IORING_SETUP_HYBRID_IOPOLL;
	/* Planned like any ring: what is left of the memlock budget. */
	while (budget != UINT64_MAX && p.entries > 8 &&
	       loop->layout.planned_bytes +
			       urio_plan_ring_bytes(&in, p.entries, 0) >
		       budget)
		p.entries /= 2;
	for (;;) {
		p.cq_entries = 2 * p.entries;
		ret = urio_ring_create(&e, &p, &got);
		if (ret != -ENOMEM || p.entries <= 8)
			break;
		p.entries /= 2;
	}
	if (ret < 0)
		return ret;
	if (e->desc.entries < e0->desc.entries)
		urio__fallback(loop, "passthru", ENOMEM,
			       "passthrough ring of %u entries, not %u",
			       e->desc.entries, e0->desc.entries);
	ret = add_engine(loop, e);
	if (ret < 0) {
		e->ops->destroy(e, true);
		return ret;
	}
	loop->pt_idx = (int)loop->nengines - 1;
	loop->pt = e;
	loop->pt_ring = urio__ring_uring(e);
	loop->layout.planned_bytes += urio_plan_ring_bytes(&in, p.entries, 0);
	/* It signals the loop's wake-up fd like any secondary ring; a polled
	 * ring is polled by the loop instead. */
	if (!e->polled) {
		ret = e->ops->set_wake(e, loop->wake_fd);
		if (ret == 0 && !loop->fd_mode)
			ret = e0->ops->arm_wake(e0, loop->wake_fd);
		urio__sq_refresh(loop); /* the wake poll took an SQE */
		if (ret < 0)
			return ret;
	}
	if (loop->buf_base) {
		ret = e->ops->register_buf(e, loop->buf_base, loop->buf_len);
		if (ret < 0)
			urio__fallback(loop, "buffers", -ret,
				       "passthrough ring without the buffer "
				       "pool: %s",
				       strerror(-ret));
	}
	return loop->pt_idx;
}
