/* SPDX-License-Identifier: MIT */
/* urio.h - the one public header of urio, an asynchronous I/O runtime for
 * Linux built on io_uring.
 *
 * Conventions: every function returns 0, a count or an id on success and a
 * negative errno on failure; nothing here sets or reads errno for you.
 * urio_strerror() explains urio's own meanings of the codes.  Handles are
 * opaque.  Options structs start with their size, so the ABI can grow; a
 * zero-filled struct (with size set) means sensible defaults.
 *
 * A loop belongs to the thread (and the process) that created it: one loop
 * per thread, created after any fork().  Calls on a loop (or its targets)
 * from another thread return -EPERM; from a process forked after the loop
 * was made, -EOWNERDEAD (urio_loop_destroy() then frees the child's copy).
 *
 * Errors urio gives a meaning of its own (urio_strerror() says what to do):
 *   -EBUSY       an in-flight bound was reached: nothing was queued.
 *   -EOWNERDEAD  the loop was created before a fork(), in another process.
 *   -EPERM       called from a thread that does not own the loop.
 *   -EDEADLK     urio_loop_destroy() from the loop's own callback, or
 *                urio_loop_run() while the loop is being destroyed.
 *   -ESHUTDOWN   a request while the loop is being destroyed.
 *   -EINTR       a signal ended a blocking run or a URIO_F_WAIT wait;
 *                what is in flight stays in flight.
 *   -E2BIG       a request that could never fit its ring (a socket deadline
 *                takes two completion slots); an options struct (loop,
 *                target) larger than this header's whose extra bytes are
 *                not all zero: built for a newer urio.
 *   -EINVAL      bad input: NULL, zero or overflowing lengths, unknown
 *                flags, a struct size below its first field, O_DIRECT
 *                misalignment.
 *
 * Limits: a request moves at most 0x7ffff000 bytes (the kernel's
 * MAX_RW_COUNT; a vectored request in all its iovecs) and takes at most
 * 1024 iovecs (UIO_MAXIOV); offset + length must not pass INT64_MAX.  A
 * loop has at most URIO_MAX_RINGS rings of at most 32768 entries each, and
 * at most 16384 registered targets (fewer where RLIMIT_NOFILE is lower).
 *
 * Kernel: Linux 6.1 or newer (tested on 6.1 and 6.18): teardown cancels with
 * IORING_ASYNC_CANCEL_ANY (5.19), urio_cancel_fd() cancels synchronously
 * (6.0), passthrough with registered buffers needs 6.1.  Ring set-up flags
 * the kernel refuses are dropped one by one, and reported.
 *
 * Every function has a man page: man 3 urio_read, man 7 urio.
 */
#ifndef URIO_H
#define URIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Only the names this header declares leave the library. */
#if defined(__GNUC__) && !defined(URIO_STATIC_BUILD)
#define URIO_API __attribute__((visibility("default")))
#else
#define URIO_API
#endif

/* The version this header belongs to; urio_version() tells the library's.
 * The soname changes with MAJOR only: a MINOR adds calls, a PATCH fixes. */
#define URIO_VERSION_MAJOR 0
#define URIO_VERSION_MINOR 2
#define URIO_VERSION_PATCH 0
#define URIO_VERSION_NUMBER                                       \
	((URIO_VERSION_MAJOR << 16) | (URIO_VERSION_MINOR << 8) | \
	 URIO_VERSION_PATCH)

/* An event loop: rings, a request pool, bounds (urio_loop_create). */
typedef struct urio_loop urio_loop;
/* A file, block device or NVMe namespace of a loop (urio_target_open). */
typedef struct urio_target urio_target;

/* Id of an accepted request: always > 0, unique while the request is in
 * flight.  Pass it to urio_cancel(). */
typedef int64_t urio_id;

/* Completion callback: res is a byte count or 0 on success, a negative errno
 * on failure (-ECANCELED when cancelled).  Runs exactly once per accepted
 * request, from urio_loop_run() or urio_loop_destroy(), or from a request
 * call with URIO_F_WAIT that had to run the loop; data is the caller's. */
typedef void (*urio_cb)(urio_loop *loop, int res, void *data);

/* Log sink for what the loop wants a person to know (a ring it could not
 * have, a backend it fell back to).  Default: one line on stderr. */
typedef void (*urio_log_fn)(void *arg, const char *msg);

/* ---- loop ---------------------------------------------------------- */

enum urio_backend {
	URIO_BACKEND_AUTO =
		0, /* io_uring, libaio when io_uring cannot be had */
	/* io_uring or an error */
	URIO_BACKEND_URING = 1,
	/* libaio (-EOPNOTSUPP from a urio built without it) */
	URIO_BACKEND_AIO = 2,
};

/* urio_loop_opts.flags */
#define URIO_LOOP_STRICT   (1u << 0) /* any cut or fallback is an error */
#define URIO_LOOP_NO_DEFER (1u << 1) /* no DEFER_TASKRUN/SINGLE_ISSUER */
#define URIO_LOOP_SQPOLL   (1u << 2) /* a kernel thread polls the SQ */
#define URIO_LOOP_QUIET	   (1u << 3) /* no default log line on stderr */
/* The NVMe passthrough ring is polled (IORING_SETUP_IOPOLL): the guest or
 * host must give the nvme driver poll queues (nvme.poll_queues=N).  A
 * multipath head (an NVMe-oF or shared namespace) is refused on such a
 * loop (-EOPNOTSUPP): polling one oopses Linux 6.1 and 6.12. */
#define URIO_LOOP_IOPOLL (1u << 4)
/* Never spin for completions: sleep in the kernel at once (the default
 * spins while spinning pays, see spin_usec, and to judge that keeps two
 * read-only /proc descriptors open from the loop's first wait). */
#define URIO_LOOP_SLEEP (1u << 5)

struct urio_loop_opts {
	size_t size;	       /* sizeof(struct urio_loop_opts) */
	unsigned entries;      /* SQ entries per ring; 0: 256 */
	unsigned rings;	       /* plain rings; 0: 1 */
	unsigned inflight_cap; /* in flight per loop; 0: all rings can hold */
	unsigned flags;	       /* URIO_LOOP_* */
	unsigned backend;      /* enum urio_backend */
	unsigned min_entries;  /* ladder floor for entries; 0: 8 */
	unsigned max_rings;    /* ladder bound for rings; 0: 16 */
	size_t buf_bytes;      /* registered buffer pool wanted; 0: none */
	urio_log_fn log;       /* NULL: stderr */
	/* log's first argument */
	void *log_arg;
	/* Before sleeping for completions, poll for them this long, every
	 * time (at most 1000000).  0: the loop decides by itself, spinning
	 * for up to 50 us only while spins find completions and the thread
	 * gets its CPU; URIO_LOOP_SLEEP: never. */
	unsigned spin_usec;
};

/* urio_loop_run() modes */
enum urio_run_mode {
	URIO_RUN_DEFAULT = 0, /* until nothing is in flight */
	URIO_RUN_ONCE = 1,    /* block until at least one completion */
	URIO_RUN_NOWAIT = 2,  /* dispatch what is ready, never block */
};

/* Creates a loop owned by the calling thread: plans its rings against
 * RLIMIT_MEMLOCK, steps down the ladder (smaller rings, more rings, libaio)
 * when the kernel says ENOMEM, and logs each step.  opts may be NULL (the
 * defaults).  *out is the loop, or NULL on failure: -EINVAL (bad opts),
 * -E2BIG, -ENOMEM (the log line names the limit and the fix), -EPERM or
 * -ENOSYS (io_uring refused and libaio not allowed). */
URIO_API int urio_loop_create(urio_loop **out,
			      const struct urio_loop_opts *opts);
/* Cancels what is in flight, runs every pending callback once (with
 * -ECANCELED where the request was cancelled), frees everything (targets
 * included; adopted fds stay open).  -EDEADLK from one of the loop's own
 * callbacks or during its destruction. */
URIO_API int urio_loop_destroy(urio_loop *loop);
/* Submits what is prepared and dispatches completions; returns the number of
 * callbacks run, or a negative errno.  -EINVAL for an unknown mode. */
URIO_API int urio_loop_run(urio_loop *loop, enum urio_run_mode mode);
/* Submits what is prepared without waiting: a request call only prepares,
 * so call this before sleeping anywhere but urio_loop_run(). */
URIO_API int urio_loop_submit(urio_loop *loop);
/* An fd that becomes readable when the loop has completions to dispatch:
 * add it to your own epoll set and call urio_loop_run(URIO_RUN_NOWAIT).
 * Call urio_loop_submit() before waiting on it for requests made outside
 * callbacks.  A polled ring (URIO_LOOP_IOPOLL) completes only when the
 * loop polls it: while it has requests in flight the fd stays readable,
 * and each NOWAIT run polls (a busy wait, as polling is). */
URIO_API int urio_loop_fd(urio_loop *loop);

struct urio_stats {
	size_t size;	    /* sizeof(struct urio_stats), set by the caller */
	uint64_t submitted; /* requests accepted */
	uint64_t completed; /* callbacks run */
	uint64_t inflight;  /* accepted, callback not yet run */
	/* The most in flight at once so far. */
	uint64_t inflight_hwm;
	uint64_t ebusy; /* submissions refused by an in-flight bound */
	uint64_t cap;	/* the in-flight bound itself */
	/* Accepted with URIO_F_WAIT inside a callback while the loop was
	 * full: waiting in the loop for a slot, not yet in flight. */
	uint64_t queued;
	/* Times the kernel's completion queue was found overflowed (its
	 * completions kept in the kernel's overflow list): the bounds exist
	 * so that this stays 0. */
	uint64_t cq_overflows;
	/* How the loop waited for completions (a ring's stats: 0): sleeps
	 * in the kernel, spins, and spins that found one. */
	uint64_t sleeps, spins, spin_hits;
};

/* Whole-loop counters.  st->size set by the caller; filled as far as it
 * reaches (-EINVAL when it does not reach submitted). */
URIO_API int urio_loop_stats(const urio_loop *loop, struct urio_stats *st);
/* Counters of ring (or libaio context) number idx, as the layout lists
 * them; -ERANGE past the last.  For a ring, counts are of SQEs and CQEs:
 * an NVMe request split at MDTS counts once per command. */
URIO_API int urio_loop_ring_stats(const urio_loop *loop, unsigned idx,
				  struct urio_stats *st);

/* Sizes of the arrays in struct urio_layout. */
#define URIO_MAX_RINGS	   64
#define URIO_MAX_FALLBACKS 16

enum urio_ring_kind {
	/* An io_uring ring for any request but NVMe commands. */
	URIO_RING_PLAIN = 0,
	/* A libaio context. */
	URIO_RING_AIO = 1,
	URIO_RING_PASSTHRU = 2, /* SQE128/CQE32, for NVMe commands */
};

struct urio_layout_ring {
	/* Submission and completion queue entries. */
	unsigned entries;
	unsigned cq_entries;
	unsigned kind;	      /* enum urio_ring_kind */
	unsigned setup_flags; /* IORING_SETUP_* the kernel accepted */
};

struct urio_fallback {
	char step[32];	  /* "entries", "rings", "flags", "backend", ... */
	int err;	  /* the errno that caused it (positive) or 0 */
	char reason[160]; /* in words */
};

struct urio_layout {
	size_t size;	  /* sizeof(struct urio_layout), set by the caller */
	char backend[32]; /* "io_uring" or "libaio" */
	/* Entries of rings[] in use. */
	unsigned nrings;
	struct urio_layout_ring rings[URIO_MAX_RINGS];
	uint64_t memlock_limit; /* bytes; UINT64_MAX when unlimited */
	uint64_t planned_bytes; /* locked memory the layout was planned for */
	uint64_t buf_bytes;	/* registered buffer pool obtained */
	char note[160];		/* what a user should know about the backend */
	/* Entries of fallbacks[] in use, in the order the steps were taken. */
	unsigned nfallbacks;
	struct urio_fallback fallbacks[URIO_MAX_FALLBACKS];
	/* How the loop waits for completions: "adaptive (...)", "sleep",
	 * "spin N us, then sleep" (urio_loop_opts.spin_usec, flags). */
	char wait[96];
};

/* What loop creation built and every step it took away from what was asked.
 * out->size set by the caller (it must reach backend); filled as far as it
 * reaches. */
URIO_API int urio_loop_layout(const urio_loop *loop, struct urio_layout *out);
/* One line describing the layout, like "io_uring: 1 x 256/512 ...", always
 * terminated: its length, or -ENOSPC when len bytes cut it short. */
URIO_API int urio_loop_describe(const urio_loop *loop, char *buf, size_t len);
/* The loop's buffer pool (opts.buf_bytes), registered with every ring: a
 * read or write whose buffer lies inside it uses the fixed-buffer ops.
 * *len is 0 when the loop has no pool. */
URIO_API int urio_loop_buffers(const urio_loop *loop, void **base, size_t *len);

/* ---- targets ------------------------------------------------------- */

/* urio_target_opts.flags */
#define URIO_TARGET_RING (1u << 0) /* put every request on ring opts.ring */
/* Never read or write at submission: always through the backend. */
#define URIO_TARGET_NO_INLINE (1u << 1)
/* Register the fd with every ring (IOSQE_FIXED_FILE): no fd lookup and
 * reference per request. */
#define URIO_TARGET_REGISTER (1u << 2)
/* An NVMe namespace's block device stays a block device: no switch to its
 * generic char device (/dev/ngXnY) for passthrough. */
#define URIO_TARGET_NO_PASSTHRU (1u << 3)

struct urio_target_opts {
	size_t size;	       /* sizeof(struct urio_target_opts) */
	unsigned inflight_cap; /* in flight on this target; 0: the loop's */
	unsigned flags;	       /* URIO_TARGET_* */
	unsigned ring;	       /* with URIO_TARGET_RING */
};

struct urio_target_info {
	size_t size;	       /* sizeof(struct urio_target_info) */
	uint64_t bytes;	       /* file or device size */
	unsigned direct;       /* opened with O_DIRECT */
	unsigned blockdev;     /* a block device */
	unsigned mem_align;    /* buffer alignment O_DIRECT requires */
	unsigned offset_align; /* offset/length alignment O_DIRECT requires */
	/* Reads and writes run at submission with pread/pwrite: the file
	 * system cannot serve them without blocking (RWF_NOWAIT answers
	 * EOPNOTSUPP, as on tmpfs), so io_uring would hand every one to a
	 * worker thread, which costs far more than the copy itself. */
	unsigned inline_io;
	unsigned registered; /* URIO_TARGET_REGISTER took effect */
	/* NVMe passthrough (IORING_OP_URING_CMD on /dev/ngXnY): requests
	 * become NVMe commands, checked against the namespace first. */
	unsigned passthru;
	unsigned lba_size; /* passthrough: the namespace's LBA size */
	unsigned max_xfer; /* passthrough: bytes per command (MDTS), 0: none */
	/* passthrough: the NVMe namespace id */
	unsigned nsid;
	/* An NVMe controller (/dev/nvmeX): admin commands only
	 * (urio_nvme_admin); reads and writes are -EOPNOTSUPP.  max_xfer is
	 * its MDTS. */
	unsigned controller;
};

/* Opens path with open(2)'s flags and mode.  The target and its requests
 * belong to loop.  /dev/ngXnY (or /dev/nvmeXnY, switched to it) becomes an
 * NVMe passthrough target, /dev/nvmeX a controller target.  open(2)'s errors;
 * -EINVAL, -E2BIG for opts; -ENOSPC past the registered-file table's slots;
 * -EOPNOTSUPP for passthrough or URIO_TARGET_REGISTER on libaio, and for a
 * multipath head on a URIO_LOOP_IOPOLL loop. */
URIO_API int urio_target_open(urio_loop *loop, urio_target **out,
			      const char *path, int oflags, mode_t mode,
			      const struct urio_target_opts *opts);
/* Wraps an fd the caller keeps owning (it is not closed by urio). */
URIO_API int urio_target_adopt(urio_loop *loop, urio_target **out, int fd,
			       const struct urio_target_opts *opts);
/* -EBUSY while requests are in flight on it.  The handle stays safe to pass
 * (calls return -EBADF) until the loop is destroyed. */
URIO_API int urio_target_close(urio_target *t);
/* Fills info as far as info->size reaches (it must reach bytes). */
URIO_API int urio_target_info(const urio_target *t,
			      struct urio_target_info *info);
/* The target's counters, as urio_loop_stats(). */
URIO_API int urio_target_stats(const urio_target *t, struct urio_stats *st);

/* ---- requests ------------------------------------------------------ */

/* Submission flag: at a bound, wait for room instead of failing with
 * -EBUSY.  Outside callbacks the call runs the loop until a slot frees
 * (callbacks run meanwhile; a signal ends the wait with -EINTR, nothing
 * queued).  Inside a callback, where running the loop would nest once per
 * wait, the request is accepted at once and waits in the loop (counted as
 * queued in urio_stats), going out in order as slots free: the stack stays
 * flat whatever callbacks submit, at the cost of memory for what waits. */
#define URIO_F_WAIT (1u << 0)
/* Sockets: complete only when all len bytes moved (MSG_WAITALL): partial
 * sends and receives are continued by the kernel. */
#define URIO_F_ALL (1u << 1)

/* Each returns the request's id (> 0) once it is accepted, or a negative
 * errno and then nothing was queued and the callback will not run.
 * -EBUSY: an in-flight bound was reached (not a memory shortage).
 * Buffers and iovecs must stay valid until the callback runs.
 * len is 1..0x7ffff000, iovcnt 1..1024 (their total at most 0x7ffff000);
 * on an O_DIRECT target buffers, offsets and lengths aligned as
 * urio_target_info() says, else -EINVAL.  On a passthrough target, reads
 * and writes become NVMe commands (whole LBAs; -ERANGE past the end;
 * split at MDTS, completing once); readv/writev become one vectored
 * command (iovecs dword-aligned, their total whole LBAs, at most MDTS:
 * -EINVAL past it, it is not split).  On a controller target all four
 * return -EOPNOTSUPP. */
URIO_API urio_id urio_read(urio_target *t, void *buf, size_t len, uint64_t off,
			   unsigned flags, urio_cb cb, void *data);
URIO_API urio_id urio_write(urio_target *t, const void *buf, size_t len,
			    uint64_t off, unsigned flags, urio_cb cb,
			    void *data);
URIO_API urio_id urio_readv(urio_target *t, const struct iovec *iov,
			    unsigned iovcnt, uint64_t off, unsigned flags,
			    urio_cb cb, void *data);
URIO_API urio_id urio_writev(urio_target *t, const struct iovec *iov,
			     unsigned iovcnt, uint64_t off, unsigned flags,
			     urio_cb cb, void *data);
/* fsync(2) and fdatasync(2) of what has completed; NVMe Flush on a
 * passthrough target. */
URIO_API urio_id urio_fsync(urio_target *t, unsigned flags, urio_cb cb,
			    void *data);
URIO_API urio_id urio_fdatasync(urio_target *t, unsigned flags, urio_cb cb,
				void *data);
/* Completes with 0 without doing anything: the cost of urio itself. */
URIO_API urio_id urio_nop(urio_loop *loop, unsigned flags, urio_cb cb,
			  void *data);
/* Completes with 0 after ns nanoseconds, -ECANCELED if cancelled first. */
URIO_API urio_id urio_timeout(urio_loop *loop, uint64_t ns, unsigned flags,
			      urio_cb cb, void *data);
/* Asks to cancel request id.  The cancelled request completes with
 * -ECANCELED; this request completes with 0 (found), -ENOENT (not found) or
 * -EALREADY (already running).  Returns -ENOENT at once for an id that is
 * not in flight.  An NVMe passthrough command the kernel was given runs to
 * its end (there is no abort for it): -EALREADY; a request split past
 * MDTS sends no more commands and ends with -ECANCELED (0). */
URIO_API urio_id urio_cancel(urio_loop *loop, urio_id id, unsigned flags,
			     urio_cb cb, void *data);

/* Zeroes len bytes at off: NVMe Write Zeroes on a passthrough target,
 * fallocate(FALLOC_FL_ZERO_RANGE) on a file. */
URIO_API urio_id urio_write_zeroes(urio_target *t, uint64_t off, uint64_t len,
				   unsigned flags, urio_cb cb, void *data);
/* Deallocates (trims) len bytes at off: NVMe Dataset Management on a
 * passthrough target, a punched hole on a file. */
URIO_API urio_id urio_trim(urio_target *t, uint64_t off, uint64_t len,
			   unsigned flags, urio_cb cb, void *data);

/* A raw NVMe I/O command for an opcode urio has no call for.  nsid is the
 * target's; nothing is checked but the buffer, so the controller's own
 * status comes back (urio_loop_nvme_status). */
struct urio_nvme_cmd {
	size_t size; /* sizeof(struct urio_nvme_cmd) */
	/* An NVM command set opcode, and the data buffer and its bytes (NULL
	 * and 0 for none): the command is not split at MDTS. */
	uint8_t opcode;
	void *buf;
	uint32_t len;
	/* Command dwords 10-15 as the NVMe specification lays them out. */
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
/* cmd->size must be at least this header's struct (-EINVAL);
 * -EOPNOTSUPP on a target that is not passthrough. */
URIO_API urio_id urio_nvme_io(urio_target *t, const struct urio_nvme_cmd *cmd,
			      unsigned flags, urio_cb cb, void *data);
/* The NVMe status the controller returned (status code in bits 0-7, type
 * in 8-10, DNR in bit 14), 0 for success: inside a passthrough request's
 * callback, that request's; elsewhere, that of the last passthrough
 * request whose callback ran.  The callback's res is that status as an
 * errno. */
URIO_API int urio_loop_nvme_status(const urio_loop *loop);

/* ---- NVMe admin commands, on a controller target (/dev/nvmeX) ------- */

/* Identify CNS values and log page identifiers (NVMe base specification) */
#define URIO_NVME_CNS_NS    0x00	/* Identify Namespace nsid */
#define URIO_NVME_CNS_CTRL  0x01	/* Identify Controller (nsid 0) */
#define URIO_NVME_LOG_ERROR 0x01	/* Error Information: 64-byte entries */
#define URIO_NVME_LOG_SMART 0x02	/* SMART / Health Information */
#define URIO_NVME_NSID_ALL  0xffffffffu /* the controller as a whole */
/* Bytes of an Identify page, the SMART log, an error log entry */
#define URIO_NVME_IDENTIFY_BYTES 4096
#define URIO_NVME_SMART_BYTES	 512
#define URIO_NVME_ERROR_BYTES	 64
/* urio_nvme_get_log() flag: Retain Asynchronous Event (reading the log
 * does not clear an event the controller reported through it). */
#define URIO_NVME_RAE (1u << 16)

/* A raw admin command, as nvme-cli's admin-passthru sends it. */
struct urio_nvme_admin {
	size_t size;	/* sizeof(struct urio_nvme_admin) */
	uint8_t opcode; /* admin opcode; its low bits give the direction */
	uint32_t nsid;	/* 0, a namespace, or URIO_NVME_NSID_ALL */
	void *buf;	/* data buffer (NULL and 0 for none) */
	uint32_t len;
	/* Command dwords 10-15 as the NVMe specification lays them out. */
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
	uint32_t timeout_ms; /* 0: the driver's admin timeout */
};
/* Sends cmd on ctrl, a controller target, through the loop's passthrough
 * ring (NVME_URING_CMD_ADMIN).  The callback gets 0, or the NVMe status as
 * an errno (urio_loop_nvme_status has the status itself);
 * urio_loop_nvme_result() the completion's result dwords.  -EINVAL: bad
 * cmd (size, buffer without length); -EOPNOTSUPP: ctrl is not a
 * controller target, or the loop polls its passthrough ring
 * (URIO_LOOP_IOPOLL: the kernel polls no admin queue).  Needs
 * CAP_SYS_ADMIN, as nvme-cli does, on Linux before 6.2. */
URIO_API urio_id urio_nvme_admin(urio_target *ctrl,
				 const struct urio_nvme_admin *cmd,
				 unsigned flags, urio_cb cb, void *data);
/* Identify (opcode 0x06): cns for nsid into buf, which holds
 * URIO_NVME_IDENTIFY_BYTES.  cns 0-255. */
URIO_API urio_id urio_nvme_identify(urio_target *ctrl, unsigned cns,
				    uint32_t nsid, void *buf, unsigned flags,
				    urio_cb cb, void *data);
/* Get Log Page (opcode 0x02): len bytes of log lid for nsid
 * (URIO_NVME_NSID_ALL: the controller's), from byte off of the log.  len
 * and off are whole dwords.  flags: URIO_F_WAIT, URIO_NVME_RAE. */
URIO_API urio_id urio_nvme_get_log(urio_target *ctrl, unsigned lid,
				   uint32_t nsid, void *buf, uint32_t len,
				   uint64_t off, unsigned flags, urio_cb cb,
				   void *data);
/* The result the controller returned (completion dword 0 in the low 32
 * bits, dword 1 in the high ones: Get Features' value, say) in *result:
 * inside the callback of a passthrough or admin request, that command's;
 * elsewhere 0.  A run nested in the callback does not change it. */
URIO_API int urio_loop_nvme_result(const urio_loop *loop, uint64_t *result);

/* Pages decoded as nvme-cli prints them.  Each call takes the page and its
 * length (-EINVAL when shorter than the page), and fills *out as far as
 * out->size reaches (it must reach the first field past size).  Numbers are
 * host-endian; strings are NUL-terminated without the controller's padding;
 * temperatures are kelvin; 128-bit counters saturate at UINT64_MAX. */
struct urio_nvme_id_ctrl {
	size_t size; /* sizeof(struct urio_nvme_id_ctrl) */
	uint16_t vid, ssvid;
	char sn[21], mn[41], fr[9];
	uint8_t rab;
	uint32_t ieee; /* IEEE OUI, 24 bits */
	uint8_t cmic;  /* bit 1: more than one controller (multipath) */
	uint8_t mdts;  /* as the controller says it: a power of two of pages */
	uint16_t cntlid;
	uint32_t ver; /* major << 16 | minor << 8 | tertiary */
	uint16_t oacs;
	uint8_t acl, aerl, frmw, lpa;
	uint8_t elpe; /* error log entries, 0's based */
	uint8_t npss;
	uint16_t wctemp, cctemp; /* kelvin */
	uint8_t sqes, cqes;
	uint32_t nn; /* namespaces */
	uint16_t oncs, fuses;
	uint8_t fna, vwc;
	uint16_t awun, awupf;
	uint32_t sgls;
	char subnqn[257];
	uint32_t max_xfer; /* MDTS in bytes (4 KiB pages); 0: no limit */
};

struct urio_nvme_lbaf {
	uint16_t ms;   /* metadata bytes per LBA */
	uint8_t lbads; /* log2 of the LBA data size */
	uint8_t rp;    /* relative performance, 0 best */
};

struct urio_nvme_id_ns {
	size_t size;		   /* sizeof(struct urio_nvme_id_ns) */
	uint64_t nsze, ncap, nuse; /* in LBAs */
	uint8_t nsfeat;
	uint8_t nlbaf; /* LBA formats, 0's based */
	uint8_t flbas; /* as the controller says it */
	uint8_t mc, dpc, dps, nmic;
	uint8_t format;	   /* the LBA format in use (from flbas) */
	uint32_t lba_size; /* its data size in bytes; 0 if out of spec */
	uint16_t ms;	   /* its metadata bytes per LBA */
	uint8_t nguid[16], eui64[8];
	struct urio_nvme_lbaf lbaf[64];
};

struct urio_nvme_smart {
	size_t size; /* sizeof(struct urio_nvme_smart) */
	uint8_t critical_warning;
	uint16_t temperature; /* composite */
	uint8_t avail_spare;  /* percent */
	uint8_t spare_thresh; /* percent */
	uint8_t percent_used; /* may exceed 100 */
	uint8_t endu_grp_crit_warn_sumry;
	uint64_t data_units_read; /* thousands of 512-byte units */
	uint64_t data_units_written;
	uint64_t host_reads, host_writes; /* commands */
	uint64_t ctrl_busy_time;	  /* minutes */
	uint64_t power_cycles, power_on_hours, unsafe_shutdowns;
	uint64_t media_errors, num_err_log_entries;
	uint32_t warning_temp_time, critical_comp_time; /* minutes */
	uint16_t temp_sensor[8];			/* 0: no sensor */
	uint32_t thm_temp1_trans_count, thm_temp2_trans_count;
	uint32_t thm_temp1_total_time, thm_temp2_total_time;
};

struct urio_nvme_error_entry {
	size_t size;	      /* sizeof(struct urio_nvme_error_entry) */
	uint64_t error_count; /* 0: an empty entry */
	uint16_t sqid, cmdid;
	/* The status field without the phase tag: SC | SCT << 8 | CRD << 11
	 * | M << 13 | DNR << 14, as urio_loop_nvme_status() reports it. */
	uint16_t status_field;
	uint16_t parm_error_location;
	uint64_t lba;
	uint32_t nsid;
	uint8_t vs, trtype;
	uint64_t cs; /* command specific information */
	uint16_t trtype_spec_info;
};

/* Identify Controller and Identify Namespace pages (4096 bytes). */
URIO_API int urio_nvme_id_ctrl_decode(const void *page, size_t len,
				      struct urio_nvme_id_ctrl *out);
URIO_API int urio_nvme_id_ns_decode(const void *page, size_t len,
				    struct urio_nvme_id_ns *out);
/* The SMART / Health Information log (512 bytes). */
URIO_API int urio_nvme_smart_decode(const void *page, size_t len,
				    struct urio_nvme_smart *out);
/* One entry of the Error Information log (64 bytes): entry i of a log read
 * whole is at page + i * URIO_NVME_ERROR_BYTES. */
URIO_API int urio_nvme_error_decode(const void *entry, size_t len,
				    struct urio_nvme_error_entry *out);

/* ---- the completion being delivered ---------------------------------- */

/* urio_completion.flags */
/* The request goes on: its callback runs again (multishot requests). */
#define URIO_C_MORE (1u << 0)
/* A receive left more data waiting in the socket. */
#define URIO_C_SOCK_NONEMPTY (1u << 1)

struct urio_completion {
	size_t size;	/* sizeof(struct urio_completion), set by caller */
	unsigned flags; /* URIO_C_* */
	uint16_t nvme_status; /* as urio_loop_nvme_status() */
	/* A multishot receive's data (res bytes), in a buffer of its group:
	 * valid until the callback returns, then the group takes it back.
	 * NULL for every other completion. */
	void *buf;
};

/* Inside a callback: what the loop knows of the completion being
 * delivered beyond its result.  Outside callbacks everything is 0.  A run
 * nested inside the callback does not change what it reports. */
URIO_API int urio_loop_completion(const urio_loop *loop,
				  struct urio_completion *c);

/* ---- multishot: one request, many completions ---------------------- */

/* A multishot request runs its callback once per event, with URIO_C_MORE
 * in urio_loop_completion()'s flags while more will come, until it is
 * cancelled (urio_cancel, urio_cancel_fd, urio_loop_destroy) or fails: its
 * last callback, without URIO_C_MORE, is the one that completes it (with
 * -ECANCELED, the error, or 0 when a peer closes).  It holds one slot of
 * the loop's bound while it lasts.  Deadlines (urio_loop_set_deadline) do
 * not apply to it. */

/* A group of count buffers (a power of two, at most 32768) of size bytes
 * (at most 1 MiB) that multishot receives fill as data arrives: one group
 * serves every connection, and an idle one holds no buffer.  Each buffer
 * holds a slot of the loop's bound while the group exists (the completion
 * that carries it must have room in the CQ), so count must fit: -ENOSPC
 * otherwise, -EMFILE past 16 groups a loop.  With a kernel that has buffer
 * rings (5.19+) the kernel picks the buffer; else urio does, one receive at
 * a time.  Returns the group (>= 0). */
URIO_API int urio_bufgroup_create(urio_loop *loop, unsigned count,
				  unsigned size);
/* -EBUSY while a multishot receive uses it, -ENOENT for no such group. */
URIO_API int urio_bufgroup_destroy(urio_loop *loop, int group);

/* Receives on fd into the group's buffers, each receive a callback: res
 * bytes at urio_completion.buf.  A receive of 0 (the peer closed) or an
 * error ends it.  When the group has no buffer free the request waits for
 * one (its callbacks pause), it does not fail.  msg_flags as urio_recv,
 * without MSG_WAITALL or MSG_PEEK. */
URIO_API urio_id urio_recv_multi(urio_loop *loop, int fd, int group,
				 int msg_flags, unsigned flags, urio_cb cb,
				 void *data);
/* Accepts connections on fd, each a callback with the new fd (close-on-
 * exec) as res.  It keeps one accept armed, armed again by the loop after
 * each connection: the kernel's multishot accept would post a completion
 * per connection with nothing to bound them, and a flood of connections
 * then overflows the CQ (seen on Linux 6.18: a 16-entry CQ, 200
 * connections, the last completion overflowed). */
URIO_API urio_id urio_accept_multi(urio_loop *loop, int fd, unsigned flags,
				   urio_cb cb, void *data);

/* ---- sockets ------------------------------------------------------- */

/* On the same loop and bounds as file I/O; fd is the caller's socket.
 * Results are those of the syscall: a new fd (accept), bytes, revents
 * (poll), 0, or a negative errno; -ETIMEDOUT when the loop's deadline
 * passed first.  Sends never raise SIGPIPE (-EPIPE instead).
 *
 * msg_flags are recv(2)/send(2)'s MSG_* flags, kept apart from urio's own
 * URIO_F_* flags: receives take MSG_PEEK, MSG_TRUNC, MSG_OOB, MSG_WAITALL
 * and MSG_ERRQUEUE; sends MSG_MORE, MSG_EOR, MSG_OOB, MSG_DONTROUTE and
 * MSG_WAITALL (MSG_NOSIGNAL is always added).  Others: -EINVAL.
 * URIO_F_ALL is MSG_WAITALL.
 *
 * On a libaio loop each call is a non-blocking syscall made when
 * IOCB_CMD_POLL reports the socket ready: urio_accept and urio_connect make
 * their socket non-blocking (O_NONBLOCK) for that, as urio_sendfile does on
 * both backends; the other calls leave the socket's flags alone. */
struct sockaddr;
struct msghdr;
URIO_API urio_id urio_accept(urio_loop *loop, int fd, struct sockaddr *addr,
			     socklen_t *addrlen, unsigned flags, urio_cb cb,
			     void *data);
URIO_API urio_id urio_connect(urio_loop *loop, int fd,
			      const struct sockaddr *addr, socklen_t addrlen,
			      unsigned flags, urio_cb cb, void *data);
URIO_API urio_id urio_recv(urio_loop *loop, int fd, void *buf, size_t len,
			   int msg_flags, unsigned flags, urio_cb cb,
			   void *data);
URIO_API urio_id urio_send(urio_loop *loop, int fd, const void *buf, size_t len,
			   int msg_flags, unsigned flags, urio_cb cb,
			   void *data);
URIO_API urio_id urio_recvmsg(urio_loop *loop, int fd, struct msghdr *msg,
			      int msg_flags, unsigned flags, urio_cb cb,
			      void *data);
URIO_API urio_id urio_sendmsg(urio_loop *loop, int fd, const struct msghdr *msg,
			      int msg_flags, unsigned flags, urio_cb cb,
			      void *data);
URIO_API urio_id urio_shutdown(urio_loop *loop, int fd, int how, unsigned flags,
			       urio_cb cb, void *data);
URIO_API urio_id urio_close(urio_loop *loop, int fd, unsigned flags, urio_cb cb,
			    void *data);
/* Completes with the revents of fd (POLLIN, POLLOUT, ...). */
URIO_API urio_id urio_poll(urio_loop *loop, int fd, unsigned events,
			   unsigned flags, urio_cb cb, void *data);
/* Thread-safe, from any thread: has the loop's own thread run cb(loop, 0,
 * data) from its next run, in the order posted (per posting thread).  A
 * loop asleep in urio_loop_run wakes for it, as does a server waiting on
 * urio_loop_fd().  A loop with nothing in flight returns from
 * urio_loop_run at once: keep a request in flight (a timeout, a pending
 * accept) to sleep until posts come.  Returns 0, -EINVAL, -ENOMEM,
 * -EOWNERDEAD (a loop carried into a fork()ed child), -ESHUTDOWN (the loop
 * is being destroyed; posts already accepted then run with -ECANCELED).
 * The loop must outlive the call. */
URIO_API int urio_loop_post(urio_loop *loop, urio_cb cb, void *data);
/* Every socket request submitted after this gets a deadline of ns (a
 * linked timeout; urio_close excepted); 0 removes it.  Requests already
 * submitted keep theirs. */
URIO_API int urio_loop_set_deadline(urio_loop *loop, uint64_t ns);
/* ---- files the caller owns: no target, nothing blocks the loop ------ */

/* A read or write on a plain fd the caller owns (for servers that open a
 * file per request; no O_DIRECT checks are made). */
URIO_API urio_id urio_pread(urio_loop *loop, int fd, void *buf, size_t len,
			    uint64_t off, unsigned flags, urio_cb cb,
			    void *data);
URIO_API urio_id urio_pwrite(urio_loop *loop, int fd, const void *buf,
			     size_t len, uint64_t off, unsigned flags,
			     urio_cb cb, void *data);
/* urio_fsync_fd how: data only (fdatasync) */
#define URIO_SYNC_DATA (1u << 0)
URIO_API urio_id urio_fsync_fd(urio_loop *loop, int fd, unsigned how,
			       unsigned flags, urio_cb cb, void *data);
/* openat2(2) on the loop: completes with the new fd (always close-on-
 * exec) or a negative errno.  resolve: RESOLVE_* (RESOLVE_BENEATH keeps
 * path under dirfd).  path must stay valid until the callback runs.  A
 * FIFO still blocks an open without O_NONBLOCK (in a kernel worker, not in
 * the loop's thread). */
URIO_API urio_id urio_openat(urio_loop *loop, int dirfd, const char *path,
			     int oflags, mode_t mode, uint64_t resolve,
			     unsigned flags, urio_cb cb, void *data);
/* statx(2) on the loop into *out (valid when the callback runs with 0). */
struct statx;
URIO_API urio_id urio_statx(urio_loop *loop, int dirfd, const char *path,
			    int at_flags, unsigned mask, struct statx *out,
			    unsigned flags, urio_cb cb, void *data);
/* Sends len bytes of file fd from off to socket sock without copying them
 * through user space: spliced through a pipe of the loop's, a pipe's worth
 * (1 MiB) at a time.  The socket is made non-blocking (O_NONBLOCK): a slow
 * peer then holds no kernel worker, only a poll.  Completes with the bytes sent
 * (fewer if the file ended, the peer went or it was cancelled after some were),
 * or a negative errno when none were.  -EMFILE with 64 sendfiles in flight on
 * the loop. Takes two slots of the loop's bound (its steps are linked pairs).
 */
URIO_API urio_id urio_sendfile(urio_loop *loop, int sock, int fd, uint64_t off,
			       size_t len, unsigned flags, urio_cb cb,
			       void *data);
/* Cancels every request on fd, now: returns how many (their callbacks run
 * with -ECANCELED), 0 if none. */
URIO_API int urio_cancel_fd(urio_loop *loop, int fd);

/* ---- version ------------------------------------------------------- */

/* The library's version as URIO_VERSION_NUMBER computes it, and as text
 * ("0.2.0"): what is loaded at run time, which may be newer than the
 * header a program was built with. */
URIO_API unsigned urio_version(void);
URIO_API const char *urio_version_string(void);

/* ---- errors -------------------------------------------------------- */

/* Text for a negative errno as urio returns it (urio_strerror(-EBUSY)):
 * static, never NULL. */
URIO_API const char *urio_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* URIO_H */
