/* SPDX-License-Identifier: MIT */
/* internal.h - the structures the loop shares with its backends, and the
 * ops table every backend (io_uring ring, libaio context) implements. */
#ifndef URIO_INTERNAL_H
#define URIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/time_types.h>

#include "nvme.h"
#include "urio.h"

/* Build-time fault injection (-Dfault_injection=true): URIO_FAULT(site)
 * is true when $URIO_FAULT names the site, so tests can fail each step of
 * loop creation that the kernel cannot be made to fail. */
#ifdef URIO_FAULT_INJECTION
bool urio__fault(const char *site);
#define URIO_FAULT(site) urio__fault(site)
#else
#define URIO_FAULT(site) false
#endif

#define URIO_LIKELY(x)	 __builtin_expect(!!(x), 1)
#define URIO_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* What a request asks a backend to do. */
enum urio_op {
	URIO_OP_NOP,
	URIO_OP_READ,
	URIO_OP_WRITE,
	URIO_OP_READV,
	URIO_OP_WRITEV,
	URIO_OP_FSYNC,
	URIO_OP_FDATASYNC,
	URIO_OP_TIMEOUT,
	URIO_OP_CANCEL,
	URIO_OP_URING_CMD, /* an NVMe command on a passthrough ring */
	URIO_OP_FALLOCATE, /* arg: the mode; off, len: the range */
	/* sockets: fd is the socket; arg: MSG_* flags, events or how */
	URIO_OP_ACCEPT,	 /* addr, addrlen */
	URIO_OP_CONNECT, /* addr; len: its length */
	URIO_OP_RECV,
	URIO_OP_SEND,
	URIO_OP_RECVMSG, /* addr: the msghdr */
	URIO_OP_SENDMSG,
	URIO_OP_SHUTDOWN,
	URIO_OP_CLOSE,
	URIO_OP_POLL,
};

/* user_data of a request, which is also its id: its pool slot plus one in
 * the low 32 bits (so even an id cut to int stays > 0), the slot's
 * generation above, bit 63 clear.  Backends' own completions set bit 63 and
 * are never shown to the loop. */
#define URIO_UD_INTERNAL (1ull << 63)
/* The second CQE of a request: its linked timeout (a deadline). */
#define URIO_UD_AUX (1ull << 62)

static inline uint64_t urio_ud(uint32_t slot, uint32_t gen)
{
	return ((uint64_t)(gen & 0x7fffffffu) << 32) | (slot + 1);
}

static inline uint32_t urio_ud_slot(uint64_t ud)
{
	return (uint32_t)ud - 1;
}

/* One request as a backend sees it. */
struct urio_io {
	uint8_t op;
	int fd;
	void *buf;    /* or the iovec array for READV/WRITEV */
	uint32_t len; /* bytes, or the iovec count */
	uint64_t off;
	uint64_t ud;
	uint64_t arg;		      /* CANCEL: the ud to cancel */
	struct __kernel_timespec *ts; /* TIMEOUT: lives in the request slot */
	bool fixed;	    /* buf lies in the loop's registered buffer pool */
	uint16_t buf_index; /* ... in this chunk of it */
	int file_slot;	    /* registered file index, or -1 */
	/* URING_CMD: copied at prep; arg: what success returns */
	struct nvme_uring_cmd *cmd;
	struct urio_nvme_dsm_range *dsm; /* moved into the request slot */
	void *addr;			 /* sockaddr or msghdr */
	void *addrlen;			 /* ACCEPT: socklen_t * */
	/* a linked timeout (lives in the request slot) */
	struct __kernel_timespec *deadline;
	uint64_t len64; /* FALLOCATE: the range can pass 4 GiB */
};

/* One completion as a backend hands it to the loop. */
struct urio_cqe {
	uint64_t ud;
	int32_t res;
};

struct urio_engine;

struct urio_engine_ops {
	const char *name;
	/* Queue one request; submits by itself only when its queue is full. */
	int (*prep)(struct urio_engine *e, const struct urio_io *io);
	/* Submit what is queued; wait for wait_nr completions when > 0. */
	int (*enter)(struct urio_engine *e, unsigned wait_nr);
	/* Copy out up to max ready completions without blocking. */
	unsigned (*reap)(struct urio_engine *e, struct urio_cqe *out,
			 unsigned max);
	/* Completions wait to be reaped (or to be run by the kernel). */
	bool (*has_ready)(struct urio_engine *e);
	/* Cancel every request on fd now; how many, or -ENOENT. */
	int (*cancel_fd)(struct urio_engine *e, int fd);
	/* Ask the kernel to cancel everything in flight on this engine. */
	int (*cancel_all)(struct urio_engine *e);
	/* Signal evfd on every completion (the loop's wake-up fd). */
	int (*set_wake)(struct urio_engine *e, int evfd);
	/* Wait on evfd through this engine (it is the loop's primary).  */
	int (*arm_wake)(struct urio_engine *e, int evfd);
	/* Stop waiting on evfd (the user took the fd to wait on it). */
	int (*disarm_wake)(struct urio_engine *e);
	/* Put fd in registered-file slot (fd -1 clears it); -ENOTSUP where
	 * the backend has no such table. */
	int (*register_file)(struct urio_engine *e, unsigned slot, int fd);
	/* Register the loop's buffer pool (a no-op where nothing pins). */
	int (*register_buf)(struct urio_engine *e, void *base, size_t len);
	/* Release everything; the process is the creator when owner is true,
	 * else only local memory and fds are released. */
	void (*destroy)(struct urio_engine *e, bool owner);
};

struct urio_counters {
	/* completed is submitted - inflight: not kept twice */
	uint64_t submitted, inflight, hwm, ebusy;
};

/* The part of every backend instance the loop reads. */
struct urio_engine {
	const struct urio_engine_ops *ops;
	unsigned cap; /* CQEs of user requests it can hold */
	bool polled;  /* IOPOLL: completions come only by polling */
	struct urio_counters c;
	struct urio_layout_ring desc;
};

struct urio_target {
	urio_loop *loop;
	int fd;
	bool owns_fd;
	bool closed;
	bool direct;
	bool blockdev;
	bool pinned;
	bool inline_io; /* reads/writes done at submission (see target.c) */
	bool passthru;	/* NVMe commands on the loop's passthrough ring */
	struct urio_nvme_ns ns;
	int file_slot; /* registered file index, or -1 */
	unsigned ring;
	unsigned mem_align, off_align;
	uint64_t bytes;
	unsigned cap;
	struct urio_counters c;
	struct urio_target *next; /* all targets of the loop */
};

struct urio_req {
	urio_cb cb;
	void *data;
	struct urio_target *target;
	uint32_t gen;
	uint32_t next_free;
	uint16_t engine;
	uint8_t op;
	bool busy;
	uint16_t pending; /* CQEs still to come (a split NVMe command) */
	bool passthru;	  /* CQE res > 0 is an NVMe status */
	uint16_t status;  /* the first NVMe status that was not success */
	int32_t first_err;
	int32_t result; /* of the request's own CQE */
	bool timed_out; /* its linked timeout fired */
	uint32_t len;	/* what a successful passthrough read/write returns */
	union {
		struct __kernel_timespec ts;	/* TIMEOUT, or a deadline */
		struct urio_nvme_dsm_range dsm; /* deallocate */
	};
};

struct urio_loop {
	const char *step; /* what loop creation is doing, for its error */
	pthread_t owner;
	unsigned fork_gen;
	unsigned flags;
	unsigned cap;
	struct urio_counters c;
	struct urio_engine **engines;
	unsigned nengines;
	unsigned cur; /* engine the next unpinned request tries first */
	struct urio_req *reqs;
	uint32_t nreqs;
	struct urio_cqe *local; /* completions made at submission */
	uint32_t local_head, local_n;
	uint32_t free_head;
	int wake_fd; /* eventfd the secondary engines signal; -1 if none */
	int pt_idx;  /* the passthrough ring, or -1 */
	uint64_t deadline_ns; /* for socket requests; 0: none */
	uint64_t spin_ns;     /* poll this long before sleeping */
	int nvme_status;      /* of the completion whose callback runs */
	bool fd_mode; /* the user waits on wake_fd: every engine signals it */
	bool destroying;
	unsigned in_dispatch;
	struct urio_target *targets;
	unsigned file_slots; /* registered-file slots handed out */
	char *buf_base;	     /* registered buffer pool, or NULL */
	size_t buf_len;
	struct urio_layout layout;
	urio_log_fn log;
	void *log_arg;
};

#define URIO_POOL_END	UINT32_MAX
#define URIO_NO_ENGINE	UINT16_MAX
#define URIO_FILE_SLOTS 256
/* The buffer pool is registered in chunks of this size: Linux 6.1 bounces
 * NVMe passthrough I/O on a registered buffer through a copy that takes at
 * most 1024 pages of the registration, so one big buffer fails. */
#define URIO_BUF_CHUNK (256u << 10)

/* ring.c */
struct urio_ring_params {
	unsigned entries;
	unsigned cq_entries;
	unsigned flags; /* IORING_SETUP_* wanted; SQE128: a passthrough ring */
};
int urio_ring_create(struct urio_engine **out, const struct urio_ring_params *p,
		     unsigned *got_flags);

/* aio.c */
int urio_aio_create(struct urio_engine **out, unsigned nr, unsigned *got_nr);

/* loop.c helpers shared with the other files */
int urio__check_loop(const urio_loop *loop);
void urio__fallback(urio_loop *loop, const char *step, int err, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
urio_id urio__submit(urio_loop *loop, struct urio_target *t, int ring,
		     struct urio_io *io, unsigned nio, unsigned flags,
		     urio_cb cb, void *data);
int urio__copy_opts(void *dst, size_t dst_size, const void *src,
		    size_t min_size);
int urio__check_target(const urio_target *t);
struct urio_req *urio__find(urio_loop *loop, urio_id id);
int urio__export_stats(const struct urio_counters *c, uint64_t cap,
		       struct urio_stats *st);
extern unsigned urio__fork_gen;

/* setup.c: the loop's backends, as the options and the kernel allow */
int urio__setup_engines(urio_loop *loop, const struct urio_loop_opts *opts);
/* passthru.c: NVMe commands for requests on passthrough targets */
urio_id urio__pt_rw(urio_target *t, uint8_t opcode, void *buf, uint32_t len,
		    uint64_t off, unsigned flags, urio_cb cb, void *data);
urio_id urio__pt_flush(urio_target *t, unsigned flags, urio_cb cb, void *data);
urio_id urio__pt_zero_or_trim(urio_target *t, bool trim, uint64_t off,
			      uint64_t len, unsigned flags, urio_cb cb,
			      void *data);

/* buf.c */
int urio__setup_buffers(urio_loop *loop, const struct urio_loop_opts *o,
			uint64_t planned);
/* The registered chunk holding [buf, buf+len), or -1. */
int urio__buf_index(const urio_loop *loop, const void *buf, uint64_t len);

/* The loop's passthrough ring (SQE128/CQE32), made on first use. */
int urio__passthru_engine(urio_loop *loop);
int urio__describe(const struct urio_layout *l, unsigned cap, char *buf,
		   size_t len);

#endif
