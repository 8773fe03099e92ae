/* SPDX-License-Identifier: MIT */
/* target.c - the target made ready before a run, as fio does it: a missing
 * file is created (with its directories) and filled to --size, a smaller
 * regular file grows to --size, a directory is refused, and the page cache
 * is dropped (fio's --invalidate=1) so that reads come from the device,
 * not from memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "probe.h"

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

/* Word w (8 bytes at offset 8w) of the pattern. */
static uint64_t word(uint64_t w)
{
	return mix(w ^ 0x5bd1e995u);
}

void fill_block(char *buf, size_t len, uint64_t block)
{
	uint64_t *p = (uint64_t *)buf, w0 = block * (len / 8);

	for (size_t i = 0; i < len / 8; i++)
		p[i] = word(w0 + i);
}

bool block_ok(const char *buf, size_t len, uint64_t block)
{
	const uint64_t *p = (const uint64_t *)buf;
	uint64_t w0 = block * (len / 8);

	for (size_t i = 0; i < len / 8; i++)
		if (p[i] != word(w0 + i))
			return false;
	return true;
}

/* Writes the pattern into [from, to) of fd (from a multiple of 8), then
 * makes it durable so that the cache can be dropped. */
static int lay_out(int fd, const char *path, uint64_t from, uint64_t to)
{
	size_t chunk = 1 << 20;
	uint64_t *buf = malloc(chunk);

	if (!buf)
		return -1;
	for (uint64_t off = from; off < to; off += chunk) {
		size_t n = to - off < chunk ? (size_t)(to - off) : chunk;

		for (size_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = word(off / 8 + i);
		errno = 0;
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n) {
			fprintf(stderr, "urio-bench: cannot lay out %s: %s\n",
				path, strerror(errno ? errno : ENOSPC));
			free(buf);
			return -1;
		}
	}
	free(buf);
	if (fsync(fd) < 0) {
		fprintf(stderr, "urio-bench: cannot sync %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	return 0;
}

int make_temp_file(struct config *c, char *path, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	snprintf(path, len, "%s/urio-bench.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0) {
		fprintf(stderr, "urio-bench: cannot create a file in %s: %s\n",
			dir, strerror(errno));
		return -1;
	}
	if (lay_out(fd, path, 0, c->size) < 0) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	c->pattern_from = 0;
	return 0;
}

/* fio creates the directories a new file's name asks for. */
static int make_dirs(const char *path)
{
	char dir[PATH_MAX];

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (char *p = dir + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* Creates the missing file, or grows a smaller one, to c->size. */
static int grow(struct config *c, const struct stat *st, bool exists)
{
	uint64_t from = exists ? (uint64_t)st->st_size & ~7ull : 0;
	int fd, ret;

	if (!exists) {
		ret = make_dirs(c->path);
		if (ret < 0) {
			fprintf(stderr, "urio-bench: cannot create %s: %s\n",
				c->path, strerror(-ret));
			return -1;
		}
	}
	fd = open(c->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "urio-bench: cannot create %s: %s\n", c->path,
			strerror(errno));
		return -1;
	}
	ret = lay_out(fd, c->path, from, c->size);
	close(fd);
	if (ret == 0) {
		c->prepared = exists ? "grown to --size" : "created";
		c->pattern_from = from;
	}
	return ret;
}

/* fio's --invalidate=1: POSIX_FADV_DONTNEED, and BLKFLSBUF on a block
 * device (its buffer cache).  Dirty pages stay: lay_out() synced them. */
static int invalidate(const char *path, const struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	if (S_ISBLK(st->st_mode) && ioctl(fd, BLKFLSBUF, 0) < 0)
		err = errno;
	close(fd);
	return -err;
}

int target_prepare(struct config *c)
{
	struct stat st;
	bool exists = stat(c->path, &st) == 0;
	uint64_t bytes = 0;
	int ret;

	if (!exists && errno != ENOENT) {
		fprintf(stderr, "urio-bench: cannot open %s: %s\n", c->path,
			strerror(errno));
		return -1;
	}
	if (exists && S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"urio-bench: %s is a directory: give a file or a "
			"block device\n",
			c->path);
		return -1;
	}
	/* A FIFO's open would wait for a writer; a socket has no blocks. */
	if (exists && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		fprintf(stderr,
			"urio-bench: %s is a %s: give a file or a block "
			"device\n",
			c->path, S_ISFIFO(st.st_mode) ? "FIFO" : "socket");
		return -1;
	}
	if (!exists && !c->size)
		c->size = BENCH_DEFAULT_SIZE;
	if (!exists ||
	    (S_ISREG(st.st_mode) && c->size > (uint64_t)st.st_size)) {
		if (grow(c, &st, exists) < 0)
			return -1;
		if (stat(c->path, &st) < 0)
			return -1;
	}
	ret = probe_bytes(c->path, &bytes);
	if (ret < 0) {
		fprintf(stderr, "urio-bench: cannot open %s: %s\n", c->path,
			urio_strerror(ret));
		return -1;
	}
	if (c->size > bytes) {
		fprintf(stderr,
			"urio-bench: --size %llu is larger than %s (%llu "
			"bytes)\n",
			(unsigned long long)c->size, c->path,
			(unsigned long long)bytes);
		return -1;
	}
	if (!c->size)
		c->size = bytes;
	if (c->size / c->bs == 0) {
		fprintf(stderr,
			"urio-bench: %s holds no whole %zu-byte block\n",
			c->path, c->bs);
		return -1;
	}
	if (c->invalidate && !S_ISCHR(st.st_mode)) {
		ret = invalidate(c->path, &st);
		if (ret < 0) {
			fprintf(stderr,
				"urio-bench: cannot drop the page cache of %s: "
				"%s (--invalidate 0 keeps it)\n",
				c->path, strerror(-ret));
			return -1;
		}
	}
	return 0;
}
