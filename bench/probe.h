/* SPDX-License-Identifier: MIT */
/* probe.h - a target's size as urio sees it, for urio-bench and the fio
 * engine alike. */
#ifndef URIO_BENCH_PROBE_H
#define URIO_BENCH_PROBE_H

#include <stdint.h>

/* A device's size (not st_size), a namespace's (/dev/ngXnY, which has no
 * other), or a file's: 0 or a negative errno. */
int probe_bytes(const char *path, uint64_t *bytes);

#endif
