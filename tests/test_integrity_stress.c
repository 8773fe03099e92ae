/* SPDX-License-Identifier: MIT */
/* test_integrity_stress.c - random mixed reads and writes with checksummed
 * blocks, on several threads each with its own loop (stress.c): every byte
 * verified, every request's callback counted exactly once. */
#include "helpers.h"
#include "stress.h"

#include <fcntl.h>
#include <unistd.h>

static void stress_file(bool direct)
{
	char path[256];
	struct stress_opts o = {
		.path = path,
		.oflags = O_RDWR | (direct ? O_DIRECT : 0),
		.threads = 3,
		.blocks = 512,
		.qd = 32,
		.bs = 4096,
		.ms = 1500,
	};
	char label[64];

	snprintf(label, sizeof(label), "integrity %s%s",
		 backend_is_aio() ? "libaio" : "io_uring",
		 direct ? " O_DIRECT" : "");
	o.label = label;
	make_path(disk_dir(), path, sizeof(path));
	stress_check(&o);
	unlink(path);
}

START_TEST(buffered_threads_verify_every_byte)
{
	stress_file(false);
}
END_TEST

START_TEST(direct_threads_verify_every_byte)
{
	stress_file(true);
}
END_TEST
