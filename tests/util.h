/* SPDX-License-Identifier: MIT */
/* util.h - scratch directories, clocks and a reproducible generator, for
 * every test program and the runner (nothing here needs urio). */
#ifndef URIO_TEST_UTIL_H
#define URIO_TEST_UTIL_H

#include <stdint.h>

/* A directory on tmpfs (/dev/shm), or NULL when there is none. */
const char *tmpfs_dir(void);
/* A directory on a disk file system ($URIO_TEST_DISK_DIR or /var/tmp). */
const char *disk_dir(void);
/* CLOCK_MONOTONIC. */
uint64_t now_ns(void);
uint64_t now_ms(void);
/* xorshift64: cheap, reproducible; *s must not be 0. */
uint64_t xorshift(uint64_t *s);

#endif
