/* SPDX-License-Identifier: MIT */
/* target.c - files and block devices a loop does I/O on: opening, what
 * O_DIRECT demands of them (alignment), and closing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

#define DIO_FALLBACK_ALIGN 512

/* Alignment O_DIRECT needs: the device's logical block size, or for a file
 * what statx(STATX_DIOALIGN) reports (kernel 6.1+). */
static void dio_align(struct urio_target *t, const struct stat *st)
{
	struct statx sx;
	int lbs;

	t->mem_align = t->off_align = DIO_FALLBACK_ALIGN;
	if (t->blockdev) {
		if (ioctl(t->fd, BLKSSZGET, &lbs) == 0 && lbs > 0)
			t->mem_align = t->off_align = (unsigned)lbs;
		return;
	}
	if (statx(t->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align) {
		t->mem_align = sx.stx_dio_mem_align;
		t->off_align = sx.stx_dio_offset_align;
	} else if (st->st_blksize > 0) {
		t->off_align = (unsigned)st->st_blksize;
	}
}

/* Whether buffered reads can be tried without blocking (ext4, xfs: yes;
 * tmpfs: no).  io_uring punts each read it cannot try that way to an io-wq
 * worker: measured on tmpfs, 8x slower than pread at queue depth 1. */
static bool can_read_nowait(int fd)
{
	char c;
	struct iovec iov = { &c, 1 };

	return preadv2(fd, &iov, 1, 0, RWF_NOWAIT) >= 0 || errno != EOPNOTSUPP;
}

/* Puts the fd in the same registered-file slot of every ring: a slot a
 * closed target gave back, or a new one. */
static int register_fd(urio_loop *loop, struct urio_target *t)
{
	unsigned slot, i;
	int ret = 0;

	if (!loop->slot_cap) {
		struct rlimit rl;
		unsigned cap = URIO_FILE_SLOTS_MAX;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < cap)
			cap = rl.rlim_cur ? (unsigned)rl.rlim_cur : 1;
		loop->slot_free = malloc(cap * sizeof(*loop->slot_free));
		if (!loop->slot_free)
			return -ENOMEM;
		loop->slot_cap = cap;
	}
	if (loop->nslot_free)
		slot = loop->slot_free[loop->nslot_free - 1];
	else if (loop->file_slots < loop->slot_cap)
		slot = loop->file_slots;
	else
		return -ENOSPC;
	for (i = 0; i < loop->nengines; i++) {
		ret = loop->engines[i]->ops->register_file(
			loop->engines[i], slot, t->fd, loop->slot_cap);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		while (i--)
			loop->engines[i]->ops->register_file(
				loop->engines[i], slot, -1, loop->slot_cap);
		return ret;
	}
	if (loop->nslot_free)
		loop->nslot_free--;
	else
		loop->file_slots++;
	t->file_slot = (int)slot;
	return 0;
}

static void unregister_fd(urio_loop *loop, struct urio_target *t)
{
	for (unsigned i = 0; i < loop->nengines; i++)
		loop->engines[i]->ops->register_file(loop->engines[i],
						     (unsigned)t->file_slot, -1,
						     loop->slot_cap);
	loop->slot_free[loop->nslot_free++] = (uint16_t)t->file_slot;
	t->file_slot = -1;
}

/* A namespace this loop must not take: it polls its passthrough ring, and
 * polling a multipath head (NVMe-oF, a shared namespace) oopses Linux. */
static bool polled_head(const urio_loop *loop, const struct urio_nvme_ns *ns)
{
	return (loop->flags & URIO_LOOP_IOPOLL) && !urio_nvme_iopoll_safe(ns);
}

#define POLLED_HEAD                                                         \
	"an NVMe multipath head (a fabrics or shared namespace) cannot be " \
	"polled: the kernel oopses; use a loop without URIO_LOOP_IOPOLL"

#define TSLAB 64

/* A target struct: a closed one, or one of a new slab.  Structs are never
 * freed before the loop, so a stale handle always points at a target,
 * whose handle field tells it is stale. */
static struct urio_target *target_alloc(urio_loop *loop)
{
	struct urio_target **v, *slab, *t;

	if (URIO_FAULT("target"))
		return NULL;
	if (!loop->tfree) {
		v = realloc(loop->tslabs, (loop->ntslabs + 1) * sizeof(*v));
		if (!v)
			return NULL;
		loop->tslabs = v;
		slab = calloc(TSLAB, sizeof(*slab));
		/* The handle keeps the address in 48 bits. */
		if (!slab || ((uintptr_t)slab & ~URIO_HANDLE_ADDR)) {
			free(slab);
			return NULL;
		}
		loop->tslabs[loop->ntslabs++] = slab;
		for (unsigned i = 0; i < TSLAB; i++) {
			slab[i].next = loop->tfree;
			slab[i].gen = 1;
			loop->tfree = &slab[i];
		}
	}
	t = loop->tfree;
	loop->tfree = t->next;
	return t;
}

/* Back to the free list, its handle dead. */
static void target_release(urio_loop *loop, struct urio_target *t)
{
	uint16_t gen = t->gen;

	memset(t, 0, sizeof(*t));
	t->gen = gen;
	t->next = loop->tfree;
	loop->tfree = t;
}

static int adopt(urio_loop *loop, urio_target **out, int fd, bool owns,
		 const struct urio_target_opts *user)
{
	struct urio_target_opts opts = { .size = sizeof(opts) };
	struct urio_target *t;
	struct stat st;
	int fl, ret;

	if (user) {
		ret = urio__copy_opts(
			&opts, sizeof(opts), user,
			offsetof(struct urio_target_opts, inflight_cap));
		if (ret < 0)
			return ret;
	}
	if ((opts.flags & ~(URIO_TARGET_RING | URIO_TARGET_NO_INLINE |
			    URIO_TARGET_REGISTER | URIO_TARGET_NO_PASSTHRU)) ||
	    ((opts.flags & URIO_TARGET_RING) && opts.ring >= loop->nengines))
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	t = target_alloc(loop);
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->fd = fd;
	t->owns_fd = owns;
	t->direct = (fl & O_DIRECT) != 0;
	t->blockdev = S_ISBLK(st.st_mode);
	t->bytes = (uint64_t)st.st_size;
	if (t->blockdev && ioctl(fd, BLKGETSIZE64, &t->bytes) < 0)
		t->bytes = 0;
	if (t->direct)
		dio_align(t, &st);
	else
		t->mem_align = t->off_align = 1;
	t->inline_io = !(opts.flags & URIO_TARGET_NO_INLINE) && !t->direct &&
		       S_ISREG(st.st_mode) && !can_read_nowait(fd);
	if (S_ISCHR(st.st_mode) &&
	    (ret = urio_nvme_probe(fd, &t->ns)) != -ENOTTY) {
		/* A namespace we cannot identify is no plain file either:
		 * its read(2) is -EINVAL, every request would be. */
		if (ret < 0) {
			urio__log(loop,
				  "an NVMe namespace whose Identify the "
				  "kernel refused: %s",
				  strerror(-ret));
			target_release(loop, t);
			return ret;
		}
		/* Polling a multipath head oopses the kernel (nvme.h). */
		if (polled_head(loop, &t->ns)) {
			urio__log(loop, "%s", POLLED_HEAD);
			target_release(loop, t);
			return -EOPNOTSUPP;
		}
		ret = urio__passthru_engine(loop);
		if (ret < 0) {
			if (ret == -EOPNOTSUPP)
				urio__log(loop,
					  "an NVMe namespace: passthrough "
					  "needs io_uring, and this loop "
					  "runs on libaio");
			target_release(loop, t);
			return ret;
		}
		t->passthru = true;
		t->direct = true; /* aligned as the namespace requires */
		t->mem_align = 4; /* dword: what NVMe data pointers need */
		t->off_align = 1u << t->ns.lba_shift;
		t->bytes = t->ns.nlba << t->ns.lba_shift;
	} else if (S_ISCHR(st.st_mode) &&
		   (ret = urio_nvme_probe_ctrl(fd, &t->ns.max_xfer)) !=
			   -ENOTTY) {
		/* A controller: admin commands, on the passthrough ring (an
		 * Identify it refused, -EACCES say, is the open's error). */
		if (ret == 0)
			ret = urio__passthru_engine(loop);
		if (ret < 0) {
			target_release(loop, t);
			return ret;
		}
		t->ctrl = true;
	}
	t->cap = opts.inflight_cap && opts.inflight_cap < loop->cap
			 ? opts.inflight_cap
			 : loop->cap;
	t->file_slot = -1;
	if (opts.flags & URIO_TARGET_REGISTER) {
		ret = register_fd(loop, t);
		if (ret < 0) {
			target_release(loop, t);
			return ret;
		}
	}
	t->pinned = (opts.flags & URIO_TARGET_RING) != 0;
	t->ring = opts.ring;
	t->mem_mask = t->mem_align - 1;
	t->off_mask = t->off_align - 1;
	t->fast = !t->inline_io && !t->passthru && !t->ctrl && !t->pinned;
	t->handle = (uintptr_t)t | ((uintptr_t)t->gen << URIO_HANDLE_SHIFT);
	t->gen = t->gen == UINT16_MAX ? 1 : t->gen + 1;
	*out = (urio_target *)t->handle;
	return 0;
}

/* An NVMe namespace's block device (/dev/nvmeXnY): its generic char
 * device (/dev/ngXnY) takes passthrough commands.  Returns the char
 * device's fd, or -1 with why set. */
static int nvme_sibling(urio_loop *loop, const char *path, int oflags,
			char *why, size_t len)
{
	const char *base = strrchr(path, '/');
	struct urio_nvme_ns ns;
	char ng[PATH_MAX];
	unsigned c, n;
	int fd, ret;

	base = base ? base + 1 : path;
	if (sscanf(base, "nvme%un%u", &c, &n) != 2) {
		snprintf(why, len, "not an NVMe namespace");
		return -1;
	}
	snprintf(ng, sizeof(ng), "/dev/ng%un%u", c, n);
	fd = open(ng, (oflags & O_ACCMODE) | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, len, "cannot open %s: %s", ng, strerror(errno));
		return -1;
	}
	ret = urio_nvme_probe(fd, &ns);
	if (ret < 0) {
		snprintf(why, len, "%s: Identify refused: %s", ng,
			 strerror(-ret));
		close(fd);
		return -1;
	}
	if (polled_head(loop, &ns)) {
		snprintf(why, len, "%s", POLLED_HEAD);
		close(fd);
		return -1;
	}
	ret = urio__passthru_engine(loop);
	if (ret < 0) {
		snprintf(why, len, "no passthrough ring: %s", strerror(-ret));
		close(fd);
		return -1;
	}
	return fd;
}

int urio_target_open(urio_loop *loop, urio_target **out, const char *path,
		     int oflags, mode_t mode,
		     const struct urio_target_opts *opts)
{
	int ret = urio__check_loop(loop), fd, ng;
	struct stat st;
	char why[PATH_MAX + 64], msg[PATH_MAX * 2 + 128];

	if (ret < 0)
		return ret;
	if (!out || !path || !*path)
		return -EINVAL;
	*out = NULL;
	fd = open(path, oflags | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) &&
	    !(opts && opts->size >= offsetof(struct urio_target_opts, ring) &&
	      (opts->flags & URIO_TARGET_NO_PASSTHRU))) {
		ng = nvme_sibling(loop, path, oflags, why, sizeof(why));
		if (ng >= 0) {
			close(fd);
			fd = ng;
		} else if (strcmp(why, "not an NVMe namespace")) {
			/* Passthrough was the plan: block I/O, but direct. */
			snprintf(msg, sizeof(msg),
				 "%s: %s; using the block device with O_DIRECT",
				 path, why);
			if (loop->log)
				loop->log(loop->log_arg, msg);
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_DIRECT);
		}
	}
	ret = adopt(loop, out, fd, true, opts);
	if (ret < 0)
		close(fd);
	return ret;
}

int urio_target_adopt(urio_loop *loop, urio_target **out, int fd,
		      const struct urio_target_opts *opts)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!out || fd < 0)
		return -EINVAL;
	*out = NULL;
	return adopt(loop, out, fd, false, opts);
}

int urio_target_close(urio_target *h)
{
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	if (ret < 0)
		return ret;
	if (t->c.inflight || t->c.queued)
		return -EBUSY;
	if (t->file_slot >= 0)
		unregister_fd(t->loop, t);
	if (t->owns_fd && close(t->fd) < 0 && errno != EINTR)
		ret = -errno;
	/* The handle dies now; the struct waits for the next open. */
	target_release(t->loop, t);
	return ret;
}

void urio__targets_free(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->ntslabs; i++) {
		for (unsigned k = 0; k < TSLAB; k++) {
			struct urio_target *t = &loop->tslabs[i][k];

			if (t->handle && t->owns_fd && t->fd >= 0)
				close(t->fd);
		}
		free(loop->tslabs[i]);
	}
	free(loop->tslabs);
	loop->tslabs = NULL;
	loop->ntslabs = 0;
}

int urio_target_info(const urio_target *h, struct urio_target_info *info)
{
	struct urio_target_info tmp = { .size = sizeof(tmp) };
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	if (ret < 0)
		return ret;
	/* Size first: any size that reaches the first field will do. */
	if (!info || info->size < offsetof(struct urio_target_info, bytes) +
					  sizeof(info->bytes))
		return -EINVAL;
	tmp.bytes = t->bytes;
	tmp.direct = t->direct;
	tmp.blockdev = t->blockdev;
	tmp.mem_align = t->mem_align;
	tmp.offset_align = t->off_align;
	tmp.inline_io = t->inline_io;
	tmp.registered = t->file_slot >= 0;
	tmp.passthru = t->passthru;
	tmp.lba_size = t->passthru ? 1u << t->ns.lba_shift : 0;
	tmp.max_xfer = t->passthru || t->ctrl ? t->ns.max_xfer : 0;
	tmp.nsid = t->passthru ? t->ns.nsid : 0;
	tmp.controller = t->ctrl;
	urio__copy_out(info, &tmp, sizeof(tmp));
	return 0;
}

int urio_target_stats(const urio_target *h, struct urio_stats *st)
{
	struct urio_target *t;
	int ret = urio__check_target(h, &t);

	return ret < 0 ? ret : urio__export_stats(&t->c, t->cap, NULL, st);
}
