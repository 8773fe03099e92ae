/* SPDX-License-Identifier: MIT */
/* nvme-encode - the leaf work of one passthrough read, N times over, with
 * no device: the range check, the MDTS split count, the 64-byte NVMe
 * command and the 128-byte SQE that carries it, and the status decode of a
 * completion; what src/passthru.c and the ring ask of src/nvme.c per
 * request.  Run under callgrind twice (N and 2N) and take the difference:
 * instructions per request, per function, exactly.
 *   nvme-encode [N] [--error|--fused]
 * --error: every completion an NVMe error; --fused: the SQE written in one
 * step (urio_nvme_sqe_rw) instead of a command then an SQE. */
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"

/* Keeps the compiler from dropping work whose result nothing reads. */
#define USE(p) __asm__ volatile("" : : "r"(p) : "memory")

int main(int argc, char **argv)
{
	static const struct urio_nvme_ns ns = { .nsid = 1,
						.lba_shift = 9,
						.nlba = 1 << 19,
						.max_xfer = 512 << 10 };
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	int status = argc > 2 && !strcmp(argv[2], "--error") ? 0x4080 : 0;
	bool fused = argc > 2 && !strcmp(argv[2], "--fused");
	static unsigned char sqe[128] __attribute__((aligned(64)));
	static char buf[4096] __attribute__((aligned(4096)));
	struct nvme_uring_cmd cmd;
	unsigned long errs = 0;

	for (unsigned long i = 0; i < n; i++) {
		uint64_t off = (i * 7919 % 65536) * 4096, nlb;

		if (urio_nvme_check_range(&ns, off, sizeof(buf), &nlb) < 0 ||
		    urio_nvme_split_count(&ns, sizeof(buf)) != 1)
			return 1;
		if (fused) {
			urio_nvme_sqe_rw(sqe, &ns, 3, false, URIO_NVME_READ,
					 buf, sizeof(buf), off, -1);
		} else {
			urio_nvme_rw(&cmd, &ns, URIO_NVME_READ, buf,
				     sizeof(buf), off);
			urio_nvme_prep_sqe(sqe, 3, false, &cmd, false, 0);
		}
		USE(sqe);
		if (status) /* the completion path decodes only errors */
			errs += urio_nvme_status_errno(status) < 0;
	}
	printf("%lu requests encoded, %lu errors decoded\n", n, errs);
	return 0;
}
