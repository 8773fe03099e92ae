/* SPDX-License-Identifier: MIT */
/* util.c - scratch directories, clocks and a reproducible generator for
 * the tests. */
#include "util.h"

#include <stdlib.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

const char *tmpfs_dir(void)
{
	struct statfs fs;

	if (statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC &&
	    access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	return NULL;
}

const char *disk_dir(void)
{
	const char *d = getenv("URIO_TEST_DISK_DIR");

	return d && *d ? d : "/var/tmp";
}
