/* SPDX-License-Identifier: MIT */
/* test_file_ops.c - a server's file work on the loop, on plain fds: open
 * (openat2, RESOLVE_*), stat, read, write, sync, close, and a file sent to
 * a socket through a pipe - every byte where it belongs, every error the
 * kernel's. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static int run_one(urio_loop *loop, struct tally *t)
{
	unsigned before = t->calls;

	while (t->calls == before)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
	return t->last;
}

START_TEST(open_write_sync_stat_read_close_on_the_loop)
{
	urio_loop *loop;
	struct statx sx;
	struct tally t = { 0 };
	char dir[256], buf[64] = { 0 };
	int dfd, fd;

	loop = new_loop(8, 1, 0);
	snprintf(dir, sizeof(dir), "%s/urio-fileops.XXXXXX", disk_dir());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_gt(urio_openat(loop, dfd, "f", O_CREAT | O_RDWR, 0600,
				     RESOLVE_BENEATH, 0, tally_cb, &t),
			 0);
	fd = run_one(loop, &t);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_gt(
		urio_pwrite(loop, fd, "hello, loop", 11, 100, 0, tally_cb, &t),
		0);
	ck_assert_int_eq(run_one(loop, &t), 11);
	ck_assert_int_gt(
		urio_fsync_fd(loop, fd, URIO_SYNC_DATA, 0, tally_cb, &t), 0);
	ck_assert_int_eq(run_one(loop, &t), 0);
	ck_assert_int_gt(urio_fsync_fd(loop, fd, 0, 0, tally_cb, &t), 0);
	ck_assert_int_eq(run_one(loop, &t), 0);
	memset(&sx, 0, sizeof(sx));
	ck_assert_int_gt(urio_statx(loop, dfd, "f", 0, STATX_SIZE | STATX_TYPE,
				    &sx, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(run_one(loop, &t), 0);
	ck_assert_uint_eq(sx.stx_size, 111);
	ck_assert(S_ISREG(sx.stx_mode));
	ck_assert_int_gt(
		urio_pread(loop, fd, buf, sizeof(buf), 100, 0, tally_cb, &t),
		0);
	ck_assert_int_eq(run_one(loop, &t), 11);
	ck_assert_str_eq(buf, "hello, loop");
	ck_assert_int_gt(urio_close(loop, fd, 0, tally_cb, &t), 0);
	ck_assert_int_eq(run_one(loop, &t), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1);
	/* The kernel's answers, as they are. */
	ck_assert_int_gt(urio_openat(loop, dfd, "missing", O_RDONLY, 0, 0, 0,
				     tally_cb, &t),
			 0);
	ck_assert_int_eq(run_one(loop, &t), -ENOENT);
	ck_assert_int_gt(urio_openat(loop, dfd, "../f", O_RDONLY, 0,
				     RESOLVE_BENEATH, 0, tally_cb, &t),
			 0);
	ck_assert_int_eq(run_one(loop, &t), -EXDEV);
	ck_assert_int_gt(urio_statx(loop, dfd, "missing", 0, STATX_SIZE, &sx, 0,
				    tally_cb, &t),
			 0);
	ck_assert_int_eq(run_one(loop, &t), -ENOENT);
	/* Bad input: refused at once. */
	ck_assert_int_eq(
		urio_openat(loop, dfd, "", O_RDONLY, 0, 0, 0, tally_cb, &t),
		-EINVAL);
	ck_assert_int_eq(
		urio_openat(loop, dfd, "f", O_RDONLY, 0644, 0, 0, tally_cb, &t),
		-EINVAL);
	ck_assert_int_eq(
		urio_openat(loop, -5, "f", O_RDONLY, 0, 0, 0, tally_cb, &t),
		-EBADF);
	ck_assert_int_eq(
		urio_statx(loop, dfd, "f", 0, 0, NULL, 0, tally_cb, &t),
		-EINVAL);
	ck_assert_int_eq(urio_pwrite(loop, -1, "x", 1, 0, 0, tally_cb, &t),
			 -EBADF);
	ck_assert_int_eq(urio_fsync_fd(loop, 0, 2, 0, tally_cb, &t), -EINVAL);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_int_eq(unlinkat(dfd, "f", 0), 0);
	close(dfd);
	rmdir(dir);
}
END_TEST

START_TEST(opening_a_fifo_without_o_nonblock_does_not_stop_the_loop)
{
	struct tally open_t = { 0 }, nop = { 0 };
	urio_loop *loop;
	char dir[256], fifo[300];
	int wr;

	loop = new_loop(8, 1, 0);
	snprintf(dir, sizeof(dir), "%s/urio-fileops.XXXXXX", disk_dir());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* open(2) would wait here for a writer, in the loop's thread.  On
	 * the loop the open runs in the kernel's hands (io_uring tries it
	 * non-blocking first: 6.18 answers at once), and the loop goes on
	 * whatever it does. */
	ck_assert_int_gt(urio_openat(loop, AT_FDCWD, fifo, O_RDONLY, 0, 0, 0,
				     tally_cb, &open_t),
			 0);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_gt(urio_nop(loop, 0, tally_cb, &nop), 0);
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 1);
	}
	ck_assert_uint_eq(nop.calls, 10);
	wr = open(fifo, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
	if (open_t.calls == 0)
		ck_assert_int_ge(wr, 0); /* a reader waits: this succeeds */
	if (open_t.calls == 0)
		run_one(loop, &open_t);
	ck_assert_uint_eq(open_t.calls, 1);
	ck_assert_int_ge(open_t.last, 0);
	if (wr >= 0) {
		ck_assert_int_eq(write(wr, "x", 1), 1);
		ck_assert_int_eq(read(open_t.last, &(char){ 0 }, 1), 1);
		close(wr);
	}
	close(open_t.last);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* The other end of a socket, read in a thread: what arrived. */
struct reader {
	int fd;
	unsigned char *got;
	size_t cap, have;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	ssize_t n;

	while (r->have < r->cap &&
	       (n = read(r->fd, r->got + r->have, r->cap - r->have)) > 0)
		r->have += (size_t)n;
	return NULL;
}

static int file_with(const unsigned char *p, size_t n, char *path, size_t plen)
{
	int fd;

	make_path(disk_dir(), path, plen);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, p, n), (ssize_t)n);
	return fd;
}

START_TEST(sendfile_moves_every_byte_through_the_pipe)
{
	enum { SIZE = 3 * 1024 * 1024 + 4321 };
	unsigned char *p = malloc(SIZE);
	struct reader rd = { 0 };
	struct tally t = { 0 };
	char path[256];
	urio_loop *loop;
	pthread_t th;
	int fd, sv[2];

	loop = new_loop(8, 1, 0);
	for (size_t i = 0; i < SIZE; i++)
		p[i] = (unsigned char)(i * 7 + (i >> 12));
	fd = file_with(p, SIZE, path, sizeof(path));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	rd = (struct reader){ sv[1], malloc(SIZE), SIZE, 0 };
	ck_assert_int_eq(pthread_create(&th, NULL, read_all, &rd), 0);
	/* The whole file, more than the pipe holds at once. */
	ck_assert_int_gt(
		urio_sendfile(loop, sv[0], fd, 0, SIZE, 0, tally_cb, &t), 0);
	ck_assert_int_eq(run_one(loop, &t), SIZE);
	/* From the middle, asking past the end: what there is. */
	ck_assert_int_gt(urio_sendfile(loop, sv[0], fd, SIZE - 1000, 5000, 0,
				       tally_cb, &t),
			 0);
	ck_assert_int_eq(run_one(loop, &t), 1000);
	shutdown(sv[0], SHUT_WR);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_uint_eq(rd.have, SIZE);
	ck_assert_mem_eq(rd.got, p, SIZE);
	/* The reader took SIZE: the last 1000 bytes wait in the socket. */
	ck_assert_int_eq(read(sv[1], rd.got, 1000), 1000);
	ck_assert_mem_eq(rd.got, p + SIZE - 1000, 1000);
	/* The peer goes: the error, and the next sendfile works. */
	close(sv[1]);
	ck_assert_int_gt(
		urio_sendfile(loop, sv[0], fd, 0, 4096, 0, tally_cb, &t), 0);
	ck_assert_int_eq(run_one(loop, &t), -EPIPE);
	ck_assert_int_eq(urio_sendfile(loop, sv[0], -1, 0, 1, 0, tally_cb, &t),
			 -EBADF);
	ck_assert_int_eq(urio_sendfile(loop, sv[0], fd, 0, 0, 0, tally_cb, &t),
			 -EINVAL);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	close(sv[0]);
	close(fd);
	unlink(path);
	free(rd.got);
	free(p);
}
END_TEST

START_TEST(a_stalled_sendfile_is_cancelled_and_the_loop_goes_on)
{
	enum { SIZE = 8 * 1024 * 1024 };
	unsigned char *p = calloc(1, SIZE);
	struct tally t = { 0 }, c = { 0 };
	char path[256];
	urio_loop *loop;
	urio_id id;
	int fd, sv[2];

	loop = new_loop(8, 1, 0);
	fd = file_with(p, SIZE, path, sizeof(path));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* Nobody reads: the socket fills and the send waits. */
	id = urio_sendfile(loop, sv[0], fd, 0, SIZE, 0, tally_cb, &t);
	ck_assert_int_gt(id, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_NOWAIT), 0);
	ck_assert_uint_eq(t.calls, 0);
	ck_assert_int_gt(urio_cancel(loop, id, 0, tally_cb, &c), 0);
	while (t.calls == 0)
		ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_ONCE), 0);
	/* What the socket took before the cancel, or the cancel itself. */
	ck_assert(t.last == -ECANCELED || (t.last > 0 && t.last < SIZE));
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_uint_eq(c.calls, 1);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	unlink(path);
	free(p);
}
END_TEST

START_TEST(sendfiles_past_the_pipes_are_refused_and_destroy_ends_them)
{
	struct tally t = { 0 };
	char path[256];
	unsigned char p[4096] = { 0 };
	urio_loop *loop;
	int fd, sv[2], n = 0;
	urio_id id;

	loop = new_loop(256, 1, 0);
	fd = file_with(p, sizeof(p), path, sizeof(path));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	/* Fill the socket so that every sendfile waits. */
	while (send(sv[0], p, sizeof(p), MSG_DONTWAIT) > 0)
		;
	while ((id = urio_sendfile(loop, sv[0], fd, 0, sizeof(p), 0, tally_cb,
				   &t)) > 0)
		n++;
	ck_assert_int_eq(id, -EMFILE);
	ck_assert_int_eq(n, 64);
	ck_assert_int_eq(urio_loop_destroy(loop), 0);
	ck_assert_uint_eq(t.calls, 64);
	ck_assert_int_eq(t.last, -ECANCELED);
	close(sv[0]);
	close(sv[1]);
	close(fd);
	unlink(path);
}
END_TEST
