/* SPDX-License-Identifier: MIT */
/* error.c - urio_strerror: what a negative errno means when urio returns
 * it, in words a user can act on. */
#include <errno.h>
#include <string.h>

#include "plan.h"
#include "urio.h"

const char *urio_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -EBUSY:
		return "in-flight bound reached: too many requests already in "
		       "flight on this loop, ring or target (not a memory "
		       "shortage); run the loop to complete some, or submit "
		       "with URIO_F_WAIT";
	case -EOWNERDEAD:
		return "loop belongs to another process: it was created before "
		       "fork(); create the loop after the fork, in the process "
		       "that uses it";
	case -EPERM:
		return "operation not permitted (or called from a thread that "
		       "does not own the loop: one loop per thread)";
	case -EBADF:
		return "bad file descriptor, or the target was closed";
	case -EINVAL:
		return "invalid argument: a NULL handle or callback, a zero or "
		       "overflowing length, an unknown flag, an options struct "
		       "of the wrong size, or for an O_DIRECT target a buffer, "
		       "offset or length not aligned as the device requires";
	case -E2BIG:
		return "too big for this loop: the request needs more "
		       "completion slots than its rings hold (a socket "
		       "deadline "
		       "takes two), so it could never be carried out; create "
		       "the loop with more entries.  (From urio_loop_create "
		       "and "
		       "other calls taking an options struct: the struct is "
		       "larger than this urio knows, with non-zero fields it "
		       "does not understand)";
	case -ENOENT:
		return "no such file, or no request in flight with that id";
	case -EDEADLK:
		return "cannot destroy the loop from inside one of its own "
		       "callbacks, nor run it while it is being destroyed";
	case -ESHUTDOWN:
		return "the loop is being destroyed: it takes no new requests";
	case -EINTR:
		return "interrupted: from urio_loop_run, a signal (the "
		       "requests in flight stay in flight; run the loop again "
		       "to complete them); as a request's result, the kernel "
		       "cancelled it (an NVMe command aborted by a controller "
		       "reset after a timeout)";
	case -ENOMEM:
		return "out of memory, or of locked memory: io_uring rings and "
		       "registered buffers count against RLIMIT_MEMLOCK; raise "
		       "it with " URIO_MEMLOCK_FIX;
	case -EAGAIN:
		return "resource temporarily unavailable (from "
		       "urio_loop_create on libaio: the system-wide "
		       "fs.aio-max-nr is used up; raise it with 'sysctl -w "
		       "fs.aio-max-nr=N')";
	case -EOPNOTSUPP:
		return "operation not supported (or this urio was built "
		       "without the libaio backend)";
	case -ECANCELED:
		return "request cancelled";
	case -ERANGE:
		return "index or range out of bounds";
	}
	if (err < 0 && err > -4096)
		return strerror(-err);
	return "unknown error (not a negative errno)";
}
