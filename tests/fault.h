/* SPDX-License-Identifier: MIT */
/* fault.h - faults made by the kernel for the tests and for urio-fault:
 * a seccomp filter on io_uring_setup, and a drop to an unprivileged user
 * with a small RLIMIT_MEMLOCK. */
#ifndef URIO_TEST_FAULT_H
#define URIO_TEST_FAULT_H

#include <stdint.h>
#include <sys/types.h>

/* From now on io_uring_setup() fails with err when its entries exceed
 * above (above 0: always).  0 or a negative errno. */
int fault_uring_setup(unsigned above, int err);
/* From now on syscall nr fails with err. */
int fault_syscall(long nr, int err);
/* Open file descriptors of this process. */
int fault_count_fds(void);
/* Sets RLIMIT_MEMLOCK to bytes, then becomes uid/gid (needs root: -EPERM
 * otherwise).  0 or a negative errno. */
int fault_drop_to(uid_t uid, uint64_t memlock_bytes);

#endif
