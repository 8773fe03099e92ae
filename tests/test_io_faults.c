/* SPDX-License-Identifier: MIT */
/* test_io_faults.c - faults made by the kernel during I/O: a tmpfs that
 * fills up, a file truncated under its requests, a loop device whose
 * backing store runs out.  Each gives per-request errors, never a crash or
 * a hang, and every callback runs once.  Mounts happen in a private mount
 * namespace of the case's process (T_MOUNT in test-list.h). */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#define TINY (256 << 10)

/* A tmpfs of TINY bytes at a fresh directory, in a private mount
 * namespace of this process (the runner checked that it may). */
static void tiny_tmpfs(char *dir, size_t len)
{
	char opts[64];

	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s",
		      strerror(errno));
	ck_assert_msg(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0,
		      "private /: %s", strerror(errno));
	snprintf(dir, len, "/var/tmp/urio-tiny.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(opts, sizeof(opts), "size=%u", TINY);
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount: %s",
		      strerror(errno));
}

/* Lazily: a loop device lets go of its backing file in its own time, and
 * the namespace ends with this process anyway. */
static void untiny(const char *dir)
{
	ck_assert_msg(umount2(dir, MNT_DETACH) == 0, "umount %s: %s", dir,
		      strerror(errno));
	ck_assert_int_eq(rmdir(dir), 0);
}

static void fill_tiny_tmpfs(unsigned target_flags)
{
	struct urio_target_opts to = { .size = sizeof(to),
				       .flags = target_flags };
	struct urio_stats st = { .size = sizeof(st) };
	char dir[64], path[128], *buf;
	urio_loop *loop;
	urio_target *tg;
	unsigned n = 2 * TINY / 4096, done = 0, full = 0;
	struct req *w = calloc(n, sizeof(*w));

	tiny_tmpfs(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	loop = new_loop(64, 1, 0);
	ck_assert_int_eq(
		urio_target_open(loop, &tg, path, O_RDWR | O_CREAT, 0600, &to),
		0);
	buf = calloc(1, 4096);
	for (unsigned i = 0; i < n; i++)
		ck_assert_int_gt(urio_write(tg, buf, 4096, (uint64_t)i * 4096,
					    URIO_F_WAIT, req_cb, &w[i]),
				 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	/* Each block written whole or refused for want of space. */
	ck_assert_reqs_in(w, n, 4096, -ENOSPC);
	for (unsigned i = 0; i < n; i++) {
		done += w[i].res == 4096;
		full += w[i].res == -ENOSPC;
	}
	ck_assert_uint_le(done * 4096, TINY);
	ck_assert_uint_ge(full, n / 2 - 8);
	ck_assert_int_eq(w[n - 1].res, -ENOSPC);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.completed, n);
	DESTROY_CLEAN(loop);
	free(buf);
	free(w);
	untiny(dir);
}

START_TEST(full_tmpfs_gives_enospc_per_write_inline_path)
{
	fill_tiny_tmpfs(0);
}
END_TEST

START_TEST(full_tmpfs_gives_enospc_per_write_io_uring_path)
{
	fill_tiny_tmpfs(URIO_TARGET_NO_INLINE);
}
END_TEST

START_TEST(file_truncated_under_its_requests_reads_short)
{
	enum { N = 256 };
	char path[256], *buf;
	struct req r[N] = { 0 };
	urio_loop *loop = new_loop(512, 1, 0);
	urio_target *tg;
	int fd;

	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	buf = calloc(N, 4096);
	ck_assert_ptr_nonnull(buf);
	memset(buf, 'a', (size_t)N * 4096);
	ck_assert_int_eq(pwrite(fd, buf, (size_t)N * 4096, 0), N * 4096);
	memset(buf, 0, (size_t)N * 4096);
	ck_assert_int_eq(urio_target_open(loop, &tg, path, O_RDONLY, 0, NULL),
			 0);
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_gt(urio_read(tg, buf + (size_t)i * 4096, 4096,
					   (uint64_t)i * 4096, 0, req_cb,
					   &r[i]),
				 0);
	/* Truncated before the kernel sees them (they wait for the run):
	 * the first ten blocks whole, the rest past the end. */
	ck_assert_int_eq(ftruncate(fd, 10 * 4096), 0);
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	ck_assert_reqs(r, 10, 4096);
	ck_assert_reqs(r + 10, N - 10, 0);
	ck_assert_int_eq(buf[10 * 4096 - 1], 'a');
	ck_assert_int_eq(buf[10 * 4096], 0);
	DESTROY_CLEAN(loop);
	close(fd);
	unlink(path);
	free(buf);
}
END_TEST

/* Runs cmd; its first line of output in out; its exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");

	ck_assert_ptr_nonnull(p);
	out[0] = '\0';
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return pclose(p);
}

/* A loop device of 1 MiB over a sparse file on a 256 KiB tmpfs: writes
 * past what the tmpfs holds fail in the block layer. */
START_TEST(loop_device_over_a_full_store_gives_io_errors)
{
	enum { N = 256 };
	char dir[64], img[128], cmd[512], dev[256], *wbuf, *rbuf;
	struct req w[N] = { 0 }, r = { 0 };
	urio_loop *loop;
	urio_target *tg;
	int fd, st, ok = -1, failed = 0;

	tiny_tmpfs(dir, sizeof(dir));
	snprintf(img, sizeof(img), "%s/img", dir);
	fd = open(img, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, N * 4096), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd),
		 "losetup --find --show --direct-io=on %s 2>&1", img);
	/* Root, with losetup and the loop driver (the runner checked): a
	 * refusal now is a failure, not a skip. */
	st = run(cmd, dev, sizeof(dev));
	ck_assert_msg(st == 0 && !strncmp(dev, "/dev/loop", 9),
		      "losetup failed (status %d): %s", st, dev);
	loop = new_loop(256, 1, 0);
	ck_assert_int_eq(
		urio_target_open(loop, &tg, dev, O_RDWR | O_DIRECT, 0, NULL),
		0);
	/* Detached while open, the device goes when its last user closes
	 * it: at the end, or when a failed assertion ends the process. */
	snprintf(cmd, sizeof(cmd), "losetup -d %s", dev);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert(posix_memalign((void **)&wbuf, 4096, (size_t)N * 4096) == 0);
	ck_assert(posix_memalign((void **)&rbuf, 4096, 4096) == 0);
	for (unsigned i = 0; i < N; i++) {
		fill_pattern(wbuf + (size_t)i * 4096, 4096, 17, i);
		ck_assert_int_gt(urio_write(tg, wbuf + (size_t)i * 4096, 4096,
					    (uint64_t)i * 4096, URIO_F_WAIT,
					    req_cb, &w[i]),
				 0);
	}
	ck_assert_int_ge(urio_loop_run(loop, URIO_RUN_DEFAULT), 0);
	/* Whole, or an error from the block layer (EIO, or ENOSPC passed
	 * up by the loop driver). */
	for (unsigned i = 0; i < N; i++) {
		ck_assert_msg(w[i].calls == 1 &&
				      (w[i].res == 4096 || w[i].res == -EIO ||
				       w[i].res == -ENOSPC),
			      "write %u: %u callbacks, %d", i, w[i].calls,
			      w[i].res);
		if (w[i].res == 4096 && ok < 0)
			ok = (int)i;
		failed += w[i].res != 4096;
	}
	ck_assert_int_gt(failed, 0);
	ck_assert_int_ge(ok, 0);
	/* A block that was written reads back, into a buffer of its own:
	 * the device is still usable. */
	ck_assert_int_gt(
		urio_read(tg, rbuf, 4096, (uint64_t)ok * 4096, 0, req_cb, &r),
		0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_req(r, 4096);
	ck_assert(check_pattern(rbuf, 4096, 17, (uint64_t)ok));
	fprintf(stderr, "loop device: %u writes, %d failed\n", N, failed);
	DESTROY_CLEAN(loop);
	untiny(dir);
	free(wbuf);
	free(rbuf);
}
END_TEST

START_TEST(bench_on_a_full_tmpfs_says_what_failed_and_exits_nonzero)
{
	const char *bench = getenv("URIO_BENCH");
	char dir[64], cmd[512], out[4096] = { 0 };
	FILE *p;
	size_t n;
	int st, fd;

	tiny_tmpfs(dir, sizeof(dir));
	/* A sparse 1 MiB file: its holes need space the tmpfs lacks. */
	snprintf(cmd, sizeof(cmd), "%s/sparse", dir);
	fd = open(cmd, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s --rw write --runtime 1 %s/sparse 2>&1",
		 bench, dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	st = pclose(p);
	out[n] = '\0';
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_msg(strstr(out, "error") && strstr(out, "first in write") &&
			      strstr(out, "No space left on device"),
		      "%s", out);
	untiny(dir);
}
END_TEST
