/* SPDX-License-Identifier: MIT */
/* urio-fio.c - a fio external ioengine backed by urio, so fio users keep
 * their job files and compare engines inside one harness:
 *
 *   fio --ioengine=external:/path/to/urio-fio.so --iodepth=32 ...
 *
 * One urio loop per fio thread (td), created in init.  queue() prepares a
 * urio request, commit() submits, getevents() runs the loop and collects
 * the io_us whose callbacks ran, event(n) hands the n-th one back.  Built
 * against fio's own headers (the source package of the installed fio, after
 * its ./configure), since fio has no installed engine API. */
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fio.h"
#include "optgroup.h"

#include "probe.h"
#include "urio.h"

struct ufio_opts {
	void *pad; /* fio keeps offset 0 of an engine's options unused */
	unsigned int entries;
	unsigned int rings;
	unsigned int fixedbufs;
	unsigned int registerfiles;
	unsigned int passthrough;
	unsigned int spin_usec;
	unsigned int nospin;
	unsigned int backend;
	unsigned int sqpoll;
	unsigned int hipri;
	unsigned int noinline;
};

struct ufio_data {
	urio_loop *loop;
	unsigned int depth;
	/* Completed io_us not yet handed to fio, oldest first; the first
	 * `handed` of them went out with the last getevents(). */
	struct io_u **done;
	unsigned int ndone, handed;
	/* Queued since the last commit(): their issue time is set there. */
	struct io_u **queued;
	unsigned int nqueued;
	bool timer_done;
};

static struct fio_option options[] = {
	{
		.name = "entries",
		.lname = "urio SQ entries per ring",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct ufio_opts, entries),
		.help = "SQ entries per ring (0: the loop's default, or "
			"iodepth when larger)",
		.def = "0",
		.maxval = 32768,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "rings",
		.lname = "urio rings per loop",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct ufio_opts, rings),
		.help = "Plain rings in the loop (0: one)",
		.def = "0",
		.maxval = URIO_MAX_RINGS,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "fixedbufs",
		.lname = "urio registered buffers",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, fixedbufs),
		.help = "I/O buffers come from urio's registered pool",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "registerfiles",
		.lname = "urio registered files",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, registerfiles),
		.help = "Register each file with the rings (fixed files)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "passthrough",
		.lname = "urio NVMe passthrough",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, passthrough),
		.help = "NVMe commands through io_uring (/dev/ngXnY, or "
			"/dev/nvmeXnY switched to it); fail if not NVMe",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "spin_usec",
		.lname = "urio spin before sleeping",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct ufio_opts, spin_usec),
		.help = "Poll for completions this long before sleeping "
			"(0: the loop decides)",
		.def = "0",
		.maxval = 1000000,
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "nospin",
		.lname = "urio never spins",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, nospin),
		.help = "Never poll for completions: sleep in the kernel "
			"(URIO_LOOP_SLEEP; not with spin_usec)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "backend",
		.lname = "urio backend",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct ufio_opts, backend),
		.help = "urio backend",
		.def = "auto",
		.posval = {
			{ .ival = "auto",
			  .oval = URIO_BACKEND_AUTO,
			  .help = "io_uring, libaio when it cannot be had" },
			{ .ival = "uring",
			  .oval = URIO_BACKEND_URING,
			  .help = "io_uring only" },
			{ .ival = "aio",
			  .oval = URIO_BACKEND_AIO,
			  .help = "libaio (use direct=1)" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "sqthread_poll",
		.lname = "urio kernel SQ polling",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, sqpoll),
		.help = "A kernel thread polls the SQ",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "hipri",
		.lname = "urio polled passthrough",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, hipri),
		.help = "Poll the NVMe passthrough ring (IOPOLL; needs "
			"nvme.poll_queues)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = "noinline",
		.lname = "urio never inline",
		.type = FIO_OPT_STR_SET,
		.off1 = offsetof(struct ufio_opts, noinline),
		.help = "Never read or write at submission (tmpfs): always "
			"through the backend",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_IOURING,
	},
	{
		.name = NULL,
	},
};

/* fio's td_verror() is not exported by the fio binary: the same, here.
 * what is a short phrase (it goes into fio's short verror too). */
static int ufio_fail(struct thread_data *td, int err, const char *what,
		     const char *name)
{
	log_err("urio-fio: %s%s%s: %s\n", what, name ? " " : "",
		name ? name : "", urio_strerror(-err));
	td->error = err;
	snprintf(td->verror, sizeof(td->verror), "urio-fio: %s", what);
	return 1;
}

static void ufio_log(void *arg, const char *msg)
{
	(void)arg;
	log_err("urio-fio: %s\n", msg);
}

/* What fio will ask iomem_alloc() for (init_io_u_buffers() and
 * allocate_io_mem()), known before it asks: the pool must exist when the
 * loop is created. */
static size_t pool_bytes(struct thread_data *td)
{
	return (size_t)td_max_bs(td) * td->o.iodepth + 2 * page_size +
	       td->o.mem_align;
}

static int ufio_init(struct thread_data *td)
{
	struct ufio_opts *o = td->eo;
	struct urio_loop_opts lo = { .size = sizeof(lo) };
	struct ufio_data *d = calloc(1, sizeof(*d));
	int ret;

	if (!d)
		return 1;
	if (o->nospin && o->spin_usec) {
		free(d);
		return ufio_fail(td, EINVAL, "nospin and spin_usec conflict",
				 NULL);
	}
	d->depth = td->o.iodepth ? td->o.iodepth : 1;
	d->done = calloc(d->depth, sizeof(*d->done));
	d->queued = calloc(d->depth, sizeof(*d->queued));
	if (!d->done || !d->queued)
		goto nomem;
	lo.entries = o->entries ? o->entries : d->depth > 256 ? d->depth : 0;
	lo.rings = o->rings;
	lo.spin_usec = o->spin_usec;
	lo.backend = o->backend;
	lo.flags = (o->sqpoll ? URIO_LOOP_SQPOLL : 0) |
		   (o->hipri ? URIO_LOOP_IOPOLL : 0) |
		   (o->nospin ? URIO_LOOP_SLEEP : 0);
	lo.log = ufio_log;
	if (o->fixedbufs)
		lo.buf_bytes = pool_bytes(td);
	ret = urio_loop_create(&d->loop, &lo);
	if (ret < 0) {
		free(d->done);
		free(d->queued);
		free(d);
		return ufio_fail(td, -ret, "cannot create a loop", NULL);
	}
	if (o->fixedbufs) {
		void *base;
		size_t len = 0;

		urio_loop_buffers(d->loop, &base, &len);
		if (len < lo.buf_bytes) {
			log_err("urio-fio: fixedbufs: the registered pool "
				"holds "
				"%zu bytes of the %zu wanted (RLIMIT_MEMLOCK? "
				"ulimit -l)\n",
				len, lo.buf_bytes);
			urio_loop_destroy(d->loop);
			free(d->done);
			free(d->queued);
			free(d);
			return 1;
		}
	}
	td->io_ops_data = d;
	return 0;
nomem:
	free(d->done);
	free(d->queued);
	free(d);
	return 1;
}

static void ufio_cleanup(struct thread_data *td)
{
	struct ufio_data *d = td->io_ops_data;

	if (!d)
		return;
	/* Anything still in flight completes (cancelled) into done[]. */
	urio_loop_destroy(d->loop);
	free(d->done);
	free(d->queued);
	free(d);
	td->io_ops_data = NULL;
}

/* The completion callback finds its td's data through the io_u: fio keeps
 * io_u->engine_data for the engine. */
static int ufio_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	io_u->engine_data = td->io_ops_data;
	return 0;
}

static void ufio_done(urio_loop *loop, int res, void *data)
{
	struct io_u *io_u = data;
	struct ufio_data *d = io_u->engine_data;

	(void)loop;
	if (res < 0)
		io_u->error = (unsigned int)-res;
	else if (ddir_rw(io_u->ddir) &&
		 (unsigned long long)res < io_u->xfer_buflen)
		io_u->resid = io_u->xfer_buflen - (unsigned long long)res;
	if (d->ndone < d->depth)
		d->done[d->ndone++] = io_u;
}

static enum fio_q_status ufio_queue(struct thread_data *td, struct io_u *io_u)
{
	struct ufio_data *d = td->io_ops_data;
	urio_target *t = io_u->file->engine_data;
	urio_id id;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
		id = urio_read(t, io_u->xfer_buf, io_u->xfer_buflen,
			       io_u->offset, 0, ufio_done, io_u);
		break;
	case DDIR_WRITE:
		id = urio_write(t, io_u->xfer_buf, io_u->xfer_buflen,
				io_u->offset, 0, ufio_done, io_u);
		break;
	case DDIR_SYNC:
		id = urio_fsync(t, 0, ufio_done, io_u);
		break;
	case DDIR_DATASYNC:
		id = urio_fdatasync(t, 0, ufio_done, io_u);
		break;
	case DDIR_TRIM:
		id = urio_trim(t, io_u->offset, io_u->xfer_buflen, 0, ufio_done,
			       io_u);
		break;
	default:
		id = -EINVAL;
		break;
	}
	/* -EBUSY is urio's in-flight bound: fio commits, reaps, retries. */
	if (id == -EBUSY)
		return FIO_Q_BUSY;
	if (id < 0) {
		io_u->error = (unsigned int)-id;
		return FIO_Q_COMPLETED;
	}
	if (fio_fill_issue_time(td))
		d->queued[d->nqueued++] = io_u;
	return FIO_Q_QUEUED;
}

static int ufio_commit(struct thread_data *td)
{
	struct ufio_data *d = td->io_ops_data;
	int ret;

	if (d->nqueued) {
		struct timespec now;

		fio_gettime(&now, NULL);
		for (unsigned int i = 0; i < d->nqueued; i++) {
			d->queued[i]->issue_time = now;
			io_u_queued(td, d->queued[i]);
		}
		d->nqueued = 0;
	}
	ret = urio_loop_submit(d->loop);
	return ret < 0 ? ret : 0;
}

static void ufio_timer(urio_loop *loop, int res, void *data)
{
	struct ufio_data *d = data;

	(void)loop;
	(void)res;
	d->timer_done = true;
}

static void ufio_ignore(urio_loop *loop, int res, void *data)
{
	(void)loop;
	(void)res;
	(void)data;
}

static int ufio_run(struct ufio_data *d, enum urio_run_mode mode)
{
	int ret;

	do
		ret = urio_loop_run(d->loop, mode);
	while (ret == -EINTR);
	return ret;
}

/* A wait bounded by fio's timeout: a urio timeout request wakes the loop,
 * and is cancelled (and its callback run) if I/O came first. */
static int ufio_wait_until(struct ufio_data *d, unsigned int min,
			   const struct timespec *t)
{
	uint64_t ns = (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
	urio_id tid;
	int ret = 0;

	d->timer_done = false;
	tid = urio_timeout(d->loop, ns, 0, ufio_timer, d);
	if (tid < 0)
		return (int)tid;
	while (d->ndone < min && !d->timer_done && ret >= 0)
		ret = ufio_run(d, URIO_RUN_ONCE);
	if (!d->timer_done &&
	    urio_cancel(d->loop, tid, 0, ufio_ignore, NULL) < 0 && ret >= 0)
		ret = -EIO;
	while (!d->timer_done && ret >= 0)
		ret = ufio_run(d, URIO_RUN_ONCE);
	return ret;
}

static int ufio_getevents(struct thread_data *td, unsigned int min,
			  unsigned int max, const struct timespec *t)
{
	struct ufio_data *d = td->io_ops_data;
	unsigned int n;
	int ret = 0;

	/* Usually all were handed out: then there is nothing to move. */
	if (d->handed) {
		d->ndone -= d->handed;
		if (d->ndone)
			memmove(d->done, d->done + d->handed,
				d->ndone * sizeof(*d->done));
		d->handed = 0;
	}
	/* ONCE dispatches what is ready without waiting and blocks only when
	 * nothing is: a NOWAIT pass first would cost a loop turn per call. */
	if (min == 0 && d->ndone < max)
		ret = ufio_run(d, URIO_RUN_NOWAIT);
	if (t && d->ndone < min)
		ret = ufio_wait_until(d, min, t);
	while (d->ndone < min && ret >= 0)
		ret = ufio_run(d, URIO_RUN_ONCE);
	if (ret < 0)
		return ret;
	n = d->ndone < max ? d->ndone : max;
	d->handed = n;
	return (int)n;
}

static struct io_u *ufio_event(struct thread_data *td, int event)
{
	struct ufio_data *d = td->io_ops_data;

	return d->done[event];
}

static int ufio_open_file(struct thread_data *td, struct fio_file *f)
{
	struct ufio_data *d = td->io_ops_data;
	struct ufio_opts *o = td->eo;
	struct urio_target_opts to = { .size = sizeof(to) };
	struct urio_target_info info = { .size = sizeof(info) };
	urio_target *t;
	int ret = generic_open_file(td, f);

	/* Without a loop (fio opening a file outside the job's thread):
	 * fio's own open is all there is. */
	if (ret || !d)
		return ret;
	to.flags = (o->registerfiles ? URIO_TARGET_REGISTER : 0) |
		   (o->noinline ? URIO_TARGET_NO_INLINE : 0) |
		   (o->passthrough ? 0 : URIO_TARGET_NO_PASSTHRU);
	/* A block device switches to its NVMe char device only when urio
	 * opens it by name; fio's fd stays open for fio's own calls. */
	if (o->passthrough && f->filetype == FIO_TYPE_BLOCK)
		ret = urio_target_open(d->loop, &t, f->file_name,
				       fcntl(f->fd, F_GETFL) & ~O_CREAT, 0,
				       &to);
	else
		ret = urio_target_adopt(d->loop, &t, f->fd, &to);
	if (ret == 0 && o->passthrough &&
	    (urio_target_info(t, &info) < 0 || !info.passthru)) {
		urio_target_close(t);
		log_err("urio-fio: %s is not an NVMe namespace: passthrough "
			"takes /dev/ngXnY (or /dev/nvmeXnY)\n",
			f->file_name);
		td->error = EOPNOTSUPP;
		snprintf(td->verror, sizeof(td->verror),
			 "urio-fio: passthrough: not an NVMe namespace");
		ret = 1;
	} else if (ret < 0) {
		ret = ufio_fail(td, -ret, "cannot open", f->file_name);
	}
	if (ret) {
		(void)!generic_close_file(td, f); /* the open error wins */
		return 1;
	}
	f->engine_data = t;
	return 0;
}

static int ufio_close_file(struct thread_data *td, struct fio_file *f)
{
	urio_target *t = f->engine_data;
	int ret;

	if (t) {
		ret = urio_target_close(t);
		if (ret < 0)
			log_err("urio-fio: closing %s: %s\n", f->file_name,
				urio_strerror(ret));
		f->engine_data = NULL;
	}
	return generic_close_file(td, f);
}

/* A char device (/dev/ngXnY) has no size fio can read: urio's namespace
 * probe knows it. */
static int ufio_get_file_size(struct thread_data *td, struct fio_file *f)
{
	uint64_t bytes;
	int ret;

	if (f->filetype != FIO_TYPE_CHAR || fio_file_size_known(f))
		return generic_get_file_size(td, f);
	ret = probe_bytes(f->file_name, &bytes);
	if (ret < 0)
		return ufio_fail(td, -ret, "cannot size", f->file_name);
	f->real_file_size = bytes;
	fio_file_set_size_known(f);
	return 0;
}

/* With fixedbufs the buffers are urio's registered pool, so every read
 * and write takes the fixed-buffer path; otherwise plain memory. */
static int ufio_iomem_alloc(struct thread_data *td, size_t total)
{
	struct ufio_data *d = td->io_ops_data;
	struct ufio_opts *o = td->eo;
	size_t len = 0;
	void *base;

	if (o->fixedbufs) {
		urio_loop_buffers(d->loop, &base, &len);
		if (total > len) {
			log_err("urio-fio: fixedbufs: fio wants %zu bytes, the "
				"pool holds %zu\n",
				total, len);
			return 1;
		}
		td->orig_buffer = base;
		return 0;
	}
	if (posix_memalign(&base, page_size, total))
		return 1;
	td->orig_buffer = base;
	return 0;
}

static void ufio_iomem_free(struct thread_data *td)
{
	struct ufio_opts *o = td->eo;

	if (!o->fixedbufs)
		free(td->orig_buffer);
}

__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
	.name = "urio",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_NO_OFFLOAD | FIO_ASYNCIO_SETS_ISSUE_TIME,
	.init = ufio_init,
	.cleanup = ufio_cleanup,
	.io_u_init = ufio_io_u_init,
	.queue = ufio_queue,
	.commit = ufio_commit,
	.getevents = ufio_getevents,
	.event = ufio_event,
	.open_file = ufio_open_file,
	.close_file = ufio_close_file,
	.get_file_size = ufio_get_file_size,
	.iomem_alloc = ufio_iomem_alloc,
	.iomem_free = ufio_iomem_free,
	.options = options,
	.option_struct_size = sizeof(struct ufio_opts),
};
