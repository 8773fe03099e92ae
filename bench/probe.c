/* SPDX-License-Identifier: MIT */
/* probe.c - a target's size as urio sees it: opened on a small loop of
 * its own, read from urio_target_info(), closed. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "probe.h"
#include "urio.h"

int probe_bytes(const char *path, uint64_t *bytes)
{
	struct urio_loop_opts lo = { .size = sizeof(lo),
				     .entries = 8,
				     .flags = URIO_LOOP_QUIET };
	struct urio_target_info info = { .size = sizeof(info) };
	urio_loop *probe;
	urio_target *t;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = urio_loop_create(&probe, &lo);
	if (ret == 0) {
		ret = urio_target_adopt(probe, &t, fd, NULL);
		if (ret == 0)
			ret = urio_target_info(t, &info);
		urio_loop_destroy(probe);
	}
	close(fd);
	*bytes = info.bytes;
	return ret;
}
