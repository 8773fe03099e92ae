/* SPDX-License-Identifier: MIT */
/* urio-fault - runs a command under a kernel-made fault, so a whole program
 * (urio-bench) meets it as a user would:
 *   urio-fault --uring-enomem-above N  CMD...  io_uring_setup ENOMEM above N
 *   urio-fault --uring-errno ENOSYS|EPERM CMD...  io_uring_setup always fails
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

static int usage(void)
{
	fprintf(stderr,
		"usage: urio-fault --uring-enomem-above N CMD [ARGS...]\n"
		"       urio-fault --uring-errno ENOSYS|EPERM CMD [ARGS...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned above = 0;
	int err, ret;

	if (argc < 4)
		return usage();
	if (!strcmp(argv[1], "--uring-enomem-above")) {
		above = (unsigned)strtoul(argv[2], NULL, 10);
		err = ENOMEM;
	} else if (!strcmp(argv[1], "--uring-errno")) {
		if (!strcmp(argv[2], "ENOSYS"))
			err = ENOSYS;
		else if (!strcmp(argv[2], "EPERM"))
			err = EPERM;
		else
			return usage();
	} else {
		return usage();
	}
	ret = fault_uring_setup(above, err);
	if (ret < 0) {
		fprintf(stderr, "urio-fault: seccomp: %s\n", strerror(-ret));
		return 1;
	}
	execvp(argv[3], argv + 3);
	fprintf(stderr, "urio-fault: %s: %s\n", argv[3], strerror(errno));
	return 127;
}
