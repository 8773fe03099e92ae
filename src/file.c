/* SPDX-License-Identifier: MIT */
/* file.c - file calls on plain fds the caller owns, no target needed: what
 * a server does per request without blocking its loop thread (open, stat,
 * read, write, sync, and a file sent to a socket through a pipe). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "req.h"

#define FILE_FLAGS URIO_F_WAIT

static int check(urio_loop *loop, int fd, unsigned flags, urio_cb cb)
{
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EBADF;
	if (!cb || (flags & ~FILE_FLAGS))
		return -EINVAL;
	return 0;
}

static __attribute__((noinline)) urio_id rw_slow(urio_loop *loop, uint8_t op,
						 int fd, void *buf, size_t len,
						 uint64_t off, unsigned flags,
						 urio_cb cb, void *data)
{
	struct urio_io io = { .op = op,
			      .fd = fd,
			      .buf = buf,
			      .len = (uint32_t)len,
			      .off = off,
			      .file_slot = -1,
			      .group = -1 };
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (!buf || !len || len > URIO_MAX_IO || off > INT64_MAX - len)
		return -EINVAL;
	return urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
}

static inline urio_id rw(urio_loop *loop, bool write, int fd, void *buf,
			 size_t len, uint64_t off, unsigned flags, urio_cb cb,
			 void *data)
{
	struct io_uring_sqe *sqe;

	if (URIO_LIKELY(urio__loop_ok(loop) && fd >= 0 && cb && buf &&
			len - 1 < URIO_MAX_IO && !(flags & ~FILE_FLAGS) &&
			off <= INT64_MAX - len &&
			urio__fast_sqe(loop, NULL, &sqe))) {
		io_uring_prep_rw(write ? IORING_OP_WRITE : IORING_OP_READ, sqe,
				 fd, buf, (unsigned)len, off);
		return urio__fast_commit(loop, NULL, sqe, cb, data);
	}
	return rw_slow(loop, write ? URIO_OP_WRITE : URIO_OP_READ, fd, buf, len,
		       off, flags, cb, data);
}

urio_id urio_pread(urio_loop *loop, int fd, void *buf, size_t len, uint64_t off,
		   unsigned flags, urio_cb cb, void *data)
{
	return rw(loop, false, fd, buf, len, off, flags, cb, data);
}

urio_id urio_pwrite(urio_loop *loop, int fd, const void *buf, size_t len,
		    uint64_t off, unsigned flags, urio_cb cb, void *data)
{
	return rw(loop, true, fd, (void *)buf, len, off, flags, cb, data);
}

urio_id urio_fsync_fd(urio_loop *loop, int fd, unsigned how, unsigned flags,
		      urio_cb cb, void *data)
{
	struct urio_io io = { .fd = fd, .file_slot = -1, .group = -1 };
	int ret = check(loop, fd, flags, cb);

	if (ret < 0)
		return ret;
	if (how & ~URIO_SYNC_DATA)
		return -EINVAL;
	io.op = how & URIO_SYNC_DATA ? URIO_OP_FDATASYNC : URIO_OP_FSYNC;
	return urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
}

urio_id urio_openat(urio_loop *loop, int dirfd, const char *path, int oflags,
		    mode_t mode, uint64_t resolve, unsigned flags, urio_cb cb,
		    void *data)
{
	struct open_how how = {
		.flags = (uint64_t)(unsigned)oflags | O_CLOEXEC,
		.mode = mode,
		.resolve = resolve,
	};
	struct urio_io io = { .op = URIO_OP_OPENAT,
			      .fd = dirfd,
			      .addr = (void *)path,
			      .addrlen = &how, /* copied into the record */
			      .file_slot = -1,
			      .group = -1 };
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!cb || (flags & ~FILE_FLAGS) || !path || !*path)
		return -EINVAL;
	if (dirfd < 0 && dirfd != AT_FDCWD)
		return -EBADF;
	/* openat2(2) refuses a mode without O_CREAT/O_TMPFILE: so do we. */
	if ((mode & ~07777u) ||
	    (mode && !(oflags & O_CREAT) && (oflags & O_TMPFILE) != O_TMPFILE))
		return -EINVAL;
	return urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
}

urio_id urio_statx(urio_loop *loop, int dirfd, const char *path, int at_flags,
		   unsigned mask, struct statx *out, unsigned flags, urio_cb cb,
		   void *data)
{
	struct urio_io io = { .op = URIO_OP_STATX,
			      .fd = dirfd,
			      .addr = (void *)path,
			      .buf = out,
			      .arg = (unsigned)at_flags,
			      .len = mask,
			      .file_slot = -1,
			      .group = -1 };
	int ret = urio__check_loop(loop);

	if (ret < 0)
		return ret;
	if (!cb || (flags & ~FILE_FLAGS) || !path || !out)
		return -EINVAL;
	if (dirfd < 0 && dirfd != AT_FDCWD)
		return -EBADF;
	return urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
}

/* A pipe of the loop's for a sendfile: one given back by an earlier one,
 * or a new one as large as the system lets a pipe be (1 MiB here). */
static int pipe_take(urio_loop *loop)
{
	int p[2];
	unsigned i;
	long size;

	while (loop->npipe_free) {
		i = loop->pipe_free[--loop->npipe_free];
		if (loop->pipes[i].rd >= 0)
			return (int)i;
		/* Closed (data was left in it): make it again below. */
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
		goto fill;
	}
	if (loop->npipes == URIO_MAX_PIPES)
		return -EMFILE;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	i = loop->npipes++;
fill:
	size = fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
	if (size < 0)
		size = fcntl(p[1], F_GETPIPE_SZ);
	loop->pipes[i].rd = p[0];
	loop->pipes[i].wr = p[1];
	loop->pipes[i].size = size > 0 ? (unsigned)size : 65536;
	return (int)i;
}

urio_id urio_sendfile(urio_loop *loop, int sock, int fd, uint64_t off,
		      size_t len, unsigned flags, urio_cb cb, void *data)
{
	struct urio_io io = { .op = URIO_OP_SENDFILE,
			      .fd = sock,
			      .arg = (unsigned)fd,
			      .off = off,
			      .len64 = len,
			      .file_slot = -1 };
	int ret = check(loop, sock, flags, cb), pipe;
	urio_id id;

	if (ret < 0)
		return ret;
	if (fd < 0)
		return -EBADF;
	if (!len || len > URIO_MAX_IO || off > INT64_MAX - len)
		return -EINVAL;
	/* A non-blocking socket: its splice never holds a kernel worker
	 * while a slow peer reads (urio's other socket calls do not mind). */
	ret = urio__set_nonblock(sock);
	if (ret < 0)
		return ret;
	pipe = pipe_take(loop);
	if (pipe < 0)
		return pipe;
	io.group = (int16_t)pipe;
	id = urio__submit(loop, NULL, -1, &io, NULL, flags, cb, data);
	if (id < 0)
		loop->pipe_free[loop->npipe_free++] = (uint16_t)pipe;
	return id;
}

void urio__pipes_free(urio_loop *loop)
{
	for (unsigned i = 0; i < loop->npipes; i++) {
		if (loop->pipes[i].rd >= 0) {
			close(loop->pipes[i].rd);
			close(loop->pipes[i].wr);
		}
	}
	loop->npipes = 0;
}
