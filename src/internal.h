/* SPDX-License-Identifier: MIT */
/* internal.h - what the parts of urio share: the loop, targets, request
 * records, and the ops table every backend (an io_uring ring, a libaio
 * context) implements.  Which file does what is listed at the end. */
#ifndef URIO_INTERNAL_H
#define URIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <linux/openat2.h>
#include <linux/time_types.h>

#include "nvme.h"
#include "urio.h"

struct io_uring;
struct io_uring_buf_ring;

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

/* Linux moves at most this much in one read or write (MAX_RW_COUNT). */
#define URIO_MAX_IO  0x7ffff000u
#define URIO_MAX_IOV 1024 /* UIO_MAXIOV */

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
	URIO_OP_FALLOCATE, /* arg: the mode; off, len64: the range */
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
	URIO_OP_LOCAL, /* completes in the loop with arg as its result */
	/* the kernel's multishot receive into a buffer ring (io.group) */
	URIO_OP_RECV_MULTI,
	URIO_OP_OPENAT,	  /* fd: dirfd, addr: path, addrlen: open_how */
	URIO_OP_STATX,	  /* fd: dirfd, addr: path, buf: statx, arg: flags,
			   * len: mask */
	URIO_OP_SENDFILE, /* fd: the socket, arg: the file, off, len64 */
	/* one step of a sendfile: arg: fd in, off: its offset or -1, fd:
	 * out, len: bytes; link: the next SQE waits for this one */
	URIO_OP_SPLICE,
};

/* user_data of a request, which is also its id: its record's slot plus one
 * in the low 32 bits (so even an id cut to int stays > 0), the record's
 * generation in bits 32-60.  Bit 63 marks a backend's own completions, bit
 * 62 the second completion of a request (its linked timeout).  Bit 61 is
 * never sent: a record of the general path keeps it set in its stored id,
 * so the short path's one comparison sends its completions elsewhere. */
#define URIO_UD_INTERNAL (1ull << 63)
#define URIO_UD_AUX	 (1ull << 62)
#define URIO_UD_SLOW	 (1ull << 61)
#define URIO_UD_GEN_ONE	 (1ull << 32)
#define URIO_UD_KEEP	 0x1fffffffffffffffull /* generation and slot */

static inline uint32_t urio_ud_slot(uint64_t ud)
{
	return (uint32_t)ud - 1;
}

/* One request as a backend sees it. */
struct urio_io {
	uint8_t op;
	bool fixed;	    /* buf lies in the loop's registered buffer pool */
	uint16_t buf_index; /* ... in this chunk of it */
	int fd;
	int file_slot; /* registered file index, or -1 */
	/* bytes, the iovec count, CONNECT's addrlen, or URING_CMD's cmd_op
	 * (0: NVME_URING_CMD_IO) */
	uint32_t len;
	void *buf; /* or the iovec array for READV/WRITEV */
	uint64_t off;
	uint64_t ud;
	uint64_t arg;	/* CANCEL: the ud to cancel */
	uint64_t len64; /* FALLOCATE: past 4 GiB */
	void *addr;	/* sockaddr or msghdr */
	void *addrlen;	/* ACCEPT: socklen_t *; OPENAT: struct open_how * */
	struct __kernel_timespec *ts;	    /* TIMEOUT */
	struct __kernel_timespec *deadline; /* a linked timeout */
	struct nvme_uring_cmd *cmd;	    /* URING_CMD */
	/* A deallocate's range: copied into the request, which the
	 * controller reads when it runs the command. */
	struct urio_nvme_dsm_range *dsm;
	bool multi;    /* goes on until cancelled or it fails (multishot) */
	bool link;     /* SPLICE: the next SQE runs after this one */
	int16_t group; /* RECV_MULTI, or a multishot RECV: its buffers */
};

/* One completion as a backend hands it to the loop. */
struct urio_cqe {
	uint64_t ud;
	int32_t res;
	uint32_t flags; /* IORING_CQE_F_* */
};

struct urio_engine;

/* How an engine sleeps (wait.c decides). */
struct urio_wait_args {
	unsigned nr;		/* until this many completions are ready, */
	unsigned min_wait_usec; /* or (> 0) this long with at least one */
	uint64_t timeout_ns;	/* at most this long; 0: no bound */
	bool quiet; /* its completions need not signal the wake-up fd */
};

struct urio_engine_ops {
	const char *name;
	/* Queue one request; submits by itself only when its queue is full.
	 * -EAGAIN: no room right now. */
	int (*prep)(struct urio_engine *e, const struct urio_io *io);
	/* Submit what is queued, and with wait set sleep until a completion
	 * is ready.  -EINTR when a signal came first. */
	int (*enter)(struct urio_engine *e, bool wait);
	/* Takes the next ready completion off the queue (its slot is given
	 * back before the caller acts on it); false when there is none. */
	bool (*next)(struct urio_engine *e, struct urio_cqe *out);
	/* Submit what is queued and sleep as a says (NULL: the engine only
	 * has enter).  -EINTR when a signal came first. */
	int (*wait)(struct urio_engine *e, const struct urio_wait_args *a);
	/* Completions wait to be taken (or to be run by the kernel). */
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
	/* The first call makes a table of nslots, all empty. */
	int (*register_file)(struct urio_engine *e, unsigned slot, int fd,
			     unsigned nslots);
	/* Register the loop's buffer pool (a no-op where nothing pins). */
	int (*register_buf)(struct urio_engine *e, void *base, size_t len);
	/* Release everything; the process is the creator when owner is true,
	 * else only local memory and fds are released. */
	void (*destroy)(struct urio_engine *e, bool owner);
};

/* Counts as the user sees them (urio_stats).  Targets and engines keep
 * inflight; the loop keeps completed instead and derives inflight
 * (urio__loop_inflight), so its short path counts once each way. */
struct urio_counters {
	uint64_t submitted;
	uint64_t completed; /* the loop's only */
	uint64_t inflight;  /* holding a slot (for an engine: CQEs to come) */
	uint64_t queued;    /* accepted inside a callback, waiting for room */
	uint64_t hwm, ebusy;
	uint64_t overflows; /* an engine's CQ seen overflowed */
};

/* The part of every backend instance the loop reads. */
struct urio_engine {
	const struct urio_engine_ops *ops;
	unsigned cap;  /* CQEs of user requests it can hold */
	bool polled;   /* IOPOLL: completions come only by polling */
	bool min_wait; /* its wait takes min_wait_usec (IORING_FEAT_MIN_TIMEOUT)
			*/
	struct urio_counters c;
	struct urio_layout_ring desc;
};

/* The wait policy's state (wait.c). */
enum { URIO_WAIT_ADAPTIVE, URIO_WAIT_SPIN, URIO_WAIT_SLEEP };

struct urio_waiter {
	unsigned policy;
	bool can_spin;	     /* adaptive, and more than one CPU to run on */
	bool contended;	     /* the thread waited for its CPU lately */
	bool crowded;	     /* more tasks ran than CPUs at the last read */
	bool delayed;	     /* it waited for its CPU while it spun */
	bool min_wait;	     /* the primary ring takes min_wait_usec */
	bool trial;	     /* trying each way in turn */
	unsigned way;	     /* how it waits now (wait.c's WAY_*) */
	unsigned round;	     /* of the trial */
	unsigned early_left; /* turns of submit_early left without a wait */
	uint64_t phase_end, phase_t0, phase_c0; /* the phase: end, start */
	uint64_t rates[4][3]; /* completions/s of each way, each round */
	unsigned nrates[4];
	uint64_t trials;
	uint64_t exploit_ns;  /* how long the last trial's winner runs */
	unsigned won;	      /* the last trial's winner */
	bool won_contended;   /* spinning was ruled out when it won */
	uint64_t spin_ns;     /* the longest spin (fixed: every spin) */
	uint32_t ewma_ns;     /* how long waits took, recently */
	unsigned tries, hits; /* spins in the window, those that paid */
	unsigned backoff, backoff_len;	/* waits to sleep through */
	unsigned probe_wait, probe_gap; /* sleeps until a probing spin */
	bool probing;			/* this wait's spin is a probe */
	uint64_t check_ns, checked_ns;	/* next and last contention reads */
	uint64_t cpu_wait;		/* ns waited for a CPU at the last */
	unsigned checked_way;		/* the way at the last read */
	int stat_fd;	/* /proc/thread-self/schedstat; -1 unopened, -2 none */
	int load_fd;	/* /proc/loadavg, the same way */
	unsigned ncpus; /* the thread may run on */
	uint64_t sleeps, spins, spin_hits;
};

/* A target handle is the target's address with a generation in its top
 * 16 bits: closed targets are recycled, and a stale handle (closed, or its
 * struct reused) no longer matches the target's own handle field. */
#define URIO_HANDLE_SHIFT 48
#define URIO_HANDLE_ADDR  ((1ull << URIO_HANDLE_SHIFT) - 1)

struct urio_target {
	uintptr_t handle; /* the live handle; 0 while closed */
	urio_loop *loop;
	int fd;
	/* Reads and writes take the short path (see req.h): open, on the
	 * plain ring, not inline, not passthrough. */
	bool fast;
	bool owns_fd;
	bool closed;
	bool direct;
	bool blockdev;
	bool pinned;
	bool inline_io; /* reads/writes done at submission (see target.c) */
	bool passthru;	/* NVMe commands on the loop's passthrough ring */
	bool ctrl;	/* an NVMe controller: admin commands only */
	int file_slot;	/* registered file index, or -1 */
	/* O_DIRECT alignment (1 when buffered), and as masks */
	unsigned mem_align, off_align;
	uint32_t mem_mask, off_mask;
	unsigned ring;
	unsigned cap;
	uint64_t bytes;
	struct urio_counters c;
	struct urio_nvme_ns ns;
	uint16_t gen;		  /* of the next handle */
	struct urio_target *next; /* free list */
};

/* A request split into NVMe commands at MDTS: the parts not yet queued go
 * out as earlier ones complete, so any size fits any ring. */
struct urio_wave {
	char *buf;
	uint64_t off;
	uint32_t len, max; /* whole transfer; bytes per part */
	uint16_t next, nparts;
	uint8_t opcode;
};

/* Where a sendfile stands: it moves the file through a pipe, a step at a
 * time (file to pipe, then pipe to socket, linked), until len is sent. */
struct urio_sendfile {
	uint32_t left;	  /* bytes of the file still to read */
	uint32_t sent;	  /* bytes the socket took */
	uint32_t in_pipe; /* read into the pipe, not yet sent */
	int32_t n_in;	  /* this step's file-to-pipe result */
	int32_t n_out;	  /* this step's pipe-to-socket result */
	uint16_t pipe;	  /* the loop's pipe it uses */
	bool pair;	  /* this step reads the file too */
	bool wait;	  /* this step waits for the socket to take more */
};

/* A request's record, from acceptance until its callback has run.  The
 * first cache line is all the short path touches.  The pool holds the
 * loop's in-flight bound in records: a free one is room. */
struct urio_req {
	uint64_t ud; /* its id while in use (| URIO_UD_SLOW); the next id */
	urio_cb cb;
	void *data;
	struct urio_target *target;
	uint32_t next; /* free list, local queue or backlog order */
	/* Records of the pool held as room: for a linked timeout's CQE, and
	 * for a request whose own record lies past the pool (it waited in
	 * the backlog). */
	uint32_t shadow, token;
	uint8_t op;
	bool is_shadow;
	uint16_t engine;
	int16_t ring;	  /* the ring asked for, -1: any (while queued) */
	uint16_t pending; /* completions still to come */
	uint16_t status;  /* the first NVMe status that was not success */
	int32_t first_err;
	int32_t result;	    /* of the request's own completion */
	bool timed_out;	    /* its linked timeout fired */
	bool passthru;	    /* completion res > 0 is an NVMe status */
	bool queued;	    /* counted as queued: it never held a slot */
	bool in_backlog;    /* on the backlog list */
	bool is_cancel;	    /* a cancel waiting in the backlog */
	bool owns_cmd;	    /* io.cmd is a copy to free */
	bool multi;	    /* goes on (multishot): re-armed after each */
	bool cancelled;	    /* urio_cancel asked: no more re-arming */
	bool parked;	    /* multishot, waiting for a buffer of its group */
	int16_t group;	    /* its buffer group, or -1 */
	int32_t buf;	    /* a receive's buffer of the group, or -1 */
	uint32_t armed_gen; /* its group's returned count when armed */
	uint32_t len;  /* what a successful passthrough read/write returns */
	uint32_t ncqe; /* completions it needs room for when queued */
	union {
		struct __kernel_timespec ts;	/* TIMEOUT, or a deadline */
		struct urio_nvme_dsm_range dsm; /* deallocate */
	};
	union {
		struct urio_wave wave; /* a split NVMe command */
		struct open_how how;   /* OPENAT: read when submitted */
		struct urio_sendfile sf;
	};
	/* While queued, and for a multishot request: the request as asked
	 * (io.cmd then a copy the record owns, freed with it). */
	struct urio_io io;
} __attribute__((aligned(64)));

#define URIO_MAX_GROUPS 16
#define URIO_MAX_PIPES	64

/* Buffers that multishot receives fill as data arrives: one group serves
 * many connections.  Each buffer holds a record of the pool as room for
 * the completion that will carry it. */
struct urio_bufgroup {
	bool used;
	unsigned count, size;
	char *base; /* count * size bytes */
	size_t base_len;
	/* The kernel's buffer ring (registered with ring 0), or NULL: then
	 * urio hands buffers out itself, one receive at a time. */
	struct io_uring_buf_ring *br;
	size_t br_len;
	uint16_t *free; /* without a kernel ring: the buffers not in use */
	unsigned nfree;
	uint32_t *held;	   /* the pool records held as room */
	unsigned users;	   /* multishot receives on it */
	uint32_t returned; /* buffers given back, ever */
	/* multishot receives waiting for a buffer, in order */
	uint32_t wait_head, wait_tail;
};

#define URIO_POOL_END  UINT32_MAX
#define URIO_NO_ENGINE UINT16_MAX
/* Registered-file slots of a loop: this many, or RLIMIT_NOFILE's soft limit
 * at the first registration where lower (the kernel refuses a table larger
 * than it, and each registered target holds a descriptor anyway). */
#define URIO_FILE_SLOTS_MAX 16384
/* Records past the pool (requests queued inside callbacks) come in chunks
 * of this many. */
#define URIO_REQ_CHUNK 1024
/* The buffer pool is registered in chunks of this size: Linux 6.1 bounces
 * NVMe passthrough I/O on a registered buffer through a copy that takes at
 * most 1024 pages of the registration, so one big buffer fails. */
#define URIO_BUF_CHUNK (256u << 10)

/* urio_loop.owner_tp of a loop carried into a fork()ed child. */
#define URIO_TP_FORKED ((uintptr_t)1)

struct urio_loop {
	/* ---- what the short path reads and writes ---- */
	/* Requests the short path may take without asking anything else: at
	 * most the SQEs free in ring0 and the records free in the pool, 0
	 * when it may not (no short path, requests in the backlog).  Taking a
	 * record elsewhere lowers it; urio__sq_refresh() recounts it. */
	unsigned sq_room;
	uint32_t free_head;
	struct urio_req *reqs; /* the pool: nreqs records in use, ... */
	uint32_t pool_mask;    /* ... pool_mask + 1 (a power of two) in all */
	uint32_t nreqs;	       /* records in the pool: the in-flight bound */
	/* Records of the pool ever in use at once: the pool is a stack, so
	 * they are records 0 .. pool_hwm - 1 (the loop's high-water mark). */
	uint32_t pool_hwm;
	struct urio_counters c;
	/* The plain ring when it is the loop's only one and takes requests
	 * without help (no SQPOLL): requests go straight into it and its CQ
	 * is walked in place.  NULL when there is no such ring. */
	struct io_uring *ring0;
	/* The owner thread's thread pointer; URIO_TP_FORKED in a child. */
	uintptr_t owner_tp;
	unsigned depth;	      /* > 0 while callbacks run */
	uint32_t backlog_n;   /* requests on the backlog */
	uint64_t deadline_ns; /* for socket requests; 0: none */
	/* Of the completion whose callback runs: IORING_CQE_F_* flags, and
	 * its NVMe status. */
	uint32_t cflags;
	uint16_t cstatus;
	/* Completions came from somewhere slower than submission lately: a
	 * callback's requests go to the kernel as soon as it returns. */
	bool submit_early;
	/* The target of short-path requests that have none: its counters
	 * count nothing anyone reads, so completions need not test. */
	struct urio_target *nobody;

	/* ---- the rest ---- */
	/* The share of c that is not ring 0's short path: the general path's
	 * and the passthrough ring's short path's (passthru.c). */
	struct urio_counters slow;
	uint32_t shadows; /* pool records held as room for linked timeouts */
	uint16_t last_nvme_status; /* of the last passthrough delivered */
	const char *step; /* what loop creation is doing, for its error */
	unsigned cap;	  /* the in-flight bound (= nreqs) */
	unsigned flags;
	struct urio_engine *e0; /* engines[0] */
	struct urio_engine **engines;
	unsigned nengines;
	unsigned nplain;     /* plain rings (not passthrough) */
	unsigned cur_engine; /* where the next unpinned request tries first */
	struct urio_req **chunks; /* records past the pool */
	uint32_t nchunks;
	uint32_t xfree_head;		     /* free records past the pool */
	uint32_t backlog_head, backlog_tail; /* FIFO of queued requests */
	/* completions made in user space, linked through their records */
	uint32_t local_head, local_tail, local_n;
	int wake_fd; /* eventfd the secondary engines signal; -1 if none */
	int pt_idx;  /* the passthrough ring, or -1 */
	/* ... that engine and its liburing ring (the passthrough short path
	 * fills its SQEs and walks its CQ in place), or NULL */
	struct urio_engine *pt;
	struct io_uring *pt_ring;
	/* The result dwords of the passthrough completion whose callback
	 * runs (urio_loop_nvme_result), 0 elsewhere. */
	uint64_t cresult;
	struct urio_waiter w;
	bool fd_mode; /* the user waits on wake_fd: every engine signals it */
	bool destroying;
	struct urio_target **tslabs; /* targets, in slabs never moved */
	unsigned ntslabs;
	struct urio_target *tfree; /* closed targets, for reuse */
	unsigned file_slots;	   /* registered-file slots ever handed out */
	unsigned nslot_free;	   /* ... and given back: */
	uint16_t *slot_free;
	unsigned slot_cap; /* the table's size, 0 before the first */
	char *buf_base;	   /* registered buffer pool, or NULL */
	size_t buf_len;
	struct urio_layout layout;
	urio_log_fn log;
	void *log_arg;
	struct urio_loop *reg_prev, *reg_next; /* every loop (for fork) */
	struct urio_bufgroup groups[URIO_MAX_GROUPS];
	void *cbuf; /* the buffer of the completion whose callback runs */
	/* Pipes sendfile moves data through, kept for the next one. */
	struct {
		int rd, wr;
		unsigned size;
	} pipes[URIO_MAX_PIPES];
	unsigned npipes;		    /* made */
	uint16_t pipe_free[URIO_MAX_PIPES]; /* not in use */
	unsigned npipe_free;
	/* Callbacks other threads handed to the loop (urio_loop_post). */
	pthread_mutex_t post_lock;
	struct urio_post *post_head, *post_tail;
	bool post_closed;
	unsigned long posted; /* atomic: posts not yet run */
};

struct urio_post {
	urio_cb cb;
	void *data;
	struct urio_post *next;
};

/* The calling thread, cheaply: the thread pointer where the compiler can
 * read it, pthread_self() elsewhere. */
static inline uintptr_t urio__self(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
	return (uintptr_t)__builtin_thread_pointer();
#else
	return (uintptr_t)pthread_self();
#endif
}

/* The loop may be used here: it exists and this thread owns it (a fork()ed
 * child's copy has its owner poisoned, see loop.c). */
static inline bool urio__loop_ok(const urio_loop *loop)
{
	return URIO_LIKELY(loop && loop->owner_tp == urio__self());
}

/* Requests of the loop holding a slot: accepted, not queued, not done. */
static inline uint64_t urio__loop_inflight(const struct urio_counters *c)
{
	return c->submitted - c->completed - c->queued;
}

/* The target behind handle h: its address, not yet checked. */
static inline struct urio_target *urio__tptr(const urio_target *h)
{
	return (struct urio_target *)((uintptr_t)h & URIO_HANDLE_ADDR);
}

/* ---- loop.c: the loop's life, its runs, its fd ---- */
/* Whether a completion waits on an engine or the loop's own list. */
bool urio__any_ready(urio_loop *loop);

/* ---- util.c: options, logging, stats, the fault hook ---- */
int urio__check_loop(const urio_loop *loop);
/* The live target behind handle h, on its owner's thread, in *t; or
 * -EINVAL (NULL), -EBADF (closed: a stale handle), -EPERM, -EOWNERDEAD. */
int urio__check_target(const urio_target *h, struct urio_target **t);
int urio__copy_opts(void *dst, size_t dst_size, const void *src,
		    size_t min_size);
void urio__copy_out(void *dst, const void *src, size_t ours);
void urio__log(urio_loop *loop, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void urio__fallback(urio_loop *loop, const char *step, int err, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));
int urio__export_stats(const struct urio_counters *c, uint64_t cap,
		       const struct urio_waiter *w, struct urio_stats *st);
/* Makes fd non-blocking (O_NONBLOCK) unless it is; 0 or -errno. */
int urio__set_nonblock(int fd);

/* ---- req.c: the request path (the short path itself is in req.h) ---- */
int urio__pool_init(urio_loop *loop);
void urio__pool_free(urio_loop *loop);
/* The general path: any request, any engine, bounds, waves, the backlog.
 * nparts > 1: io is the first part of a split NVMe command, wave says how
 * to make the others. */
urio_id urio__submit(urio_loop *loop, struct urio_target *t, int ring,
		     struct urio_io *io, const struct urio_wave *wave,
		     unsigned flags, urio_cb cb, void *data);
struct urio_req *urio__find(urio_loop *loop, urio_id id);
/* One turn of the loop: submit, take completions, and when block is set
 * and none were ready, wait for one.  Callbacks run; returns how many. */
int urio__iterate(urio_loop *loop, bool block);
/* Submits what every engine has queued. */
int urio__flush(urio_loop *loop);
/* Counts what the short path may take of ring0's SQ (after the kernel took
 * some, or the general path used some). */
void urio__sq_refresh(urio_loop *loop);
/* Runs what other threads posted (res 0), or with -ECANCELED at
 * teardown; how many ran. */
int urio__run_posts(urio_loop *loop, int res);
/* Destroy: the backlog completes with -ECANCELED, then whatever never
 * reached a callback does. */
void urio__cancel_backlog(urio_loop *loop);
void urio__complete_leftovers(urio_loop *loop);
/* urio_cancel() of a request that never reached a backend: 0 when it was
 * taken off the backlog (it completes with -ECANCELED), -EALREADY when it
 * already completed, 1 when the backend must be asked. */
int urio__cancel_local(urio_loop *loop, struct urio_req *r);
/* A pool record held as room (a buffer group's), and its release. */
uint32_t urio__hold_room(urio_loop *loop);
void urio__drop_room(urio_loop *loop, uint32_t slot);
/* Free records in the pool now. */
uint32_t urio__pool_free_count(const urio_loop *loop);
/* A buffer of group g came back: a multishot receive waiting for one
 * goes on. */
void urio__group_wake(urio_loop *loop, struct urio_bufgroup *g);
/* urio_cancel_fd() for multishot receives waiting for a buffer. */
int urio__cancel_parked_fd(urio_loop *loop, int fd);

/* ---- wait.c: how a loop waits for completions ---- */
void urio__wait_init(urio_loop *loop, unsigned spin_usec);
void urio__wait_fini(urio_loop *loop);
/* The policy in words, for the layout: snprintf's return. */
int urio__wait_describe(const urio_loop *loop, char *buf, size_t len);
/* Sleeps (or spins) until a completion may be ready; submits first. */
int urio__wait(urio_loop *loop);
/* A turn of the loop found completions without waiting. */
void urio__wait_idle_pass(urio_loop *loop);
/* Completions come at submission (no device to keep busy): stop sending
 * each callback's requests early, until the loop next has to wait. */
void urio__wait_early_off(urio_loop *loop);
uint64_t urio__mono_ns(void);

/* ---- ring.c ---- */
struct urio_ring_params {
	unsigned entries;
	unsigned cq_entries;
	unsigned flags; /* IORING_SETUP_* wanted; SQE128: a passthrough ring */
};
int urio_ring_create(struct urio_engine **out, const struct urio_ring_params *p,
		     unsigned *got_flags);
/* The liburing ring inside a ring engine (for the short path). */
struct io_uring *urio__ring_uring(struct urio_engine *e);
/* A ring's own completion (bit 63 set in user_data). */
void urio__ring_internal(struct urio_engine *e, uint64_t ud);
/* Registers (br != NULL) or unregisters buffer ring bgid with a ring;
 * -EOPNOTSUPP for a backend that is not one, the kernel's errno else. */
int urio__ring_pbuf(struct urio_engine *e, unsigned bgid,
		    struct io_uring_buf_ring *br, unsigned entries);

/* ---- aio.c ---- */
int urio_aio_create(struct urio_engine **out, unsigned nr, unsigned *got_nr);

/* ---- setup.c: the loop's backends, as the options and the kernel allow
 * ---- */
int urio__setup_engines(urio_loop *loop, const struct urio_loop_opts *opts);
/* The loop's passthrough ring (SQE128/CQE32), made on first use. */
int urio__passthru_engine(urio_loop *loop);

/* ---- layout.c ---- */
size_t urio__flags_str(unsigned flags, char *buf, size_t len);
int urio__describe(const struct urio_layout *l, unsigned cap, char *buf,
		   size_t len);

/* ---- passthru.c: NVMe commands for requests on passthrough targets ---- */
/* A read or write (its arguments checked as any target's: check_rw). */
urio_id urio__pt_rw(struct urio_target *t, uint8_t opcode, void *buf,
		    uint32_t len, uint64_t off, unsigned flags, urio_cb cb,
		    void *data);
urio_id urio__pt_rwv(struct urio_target *t, uint8_t opcode,
		     const struct iovec *iov, unsigned iovcnt, uint64_t off,
		     unsigned flags, urio_cb cb, void *data);
urio_id urio__pt_flush(struct urio_target *t, unsigned flags, urio_cb cb,
		       void *data);
/* One command on the general path: cmd_op NVME_URING_CMD_* (0: _IO);
 * dsm, a range the command points at (copied into the request); len, what
 * the callback gets when it succeeds. */
urio_id urio__pt_submit(struct urio_target *t, struct nvme_uring_cmd *cmd,
			uint32_t cmd_op, struct urio_nvme_dsm_range *dsm,
			uint32_t len, unsigned flags, urio_cb cb, void *data);
urio_id urio__pt_zero_or_trim(struct urio_target *t, bool trim, uint64_t off,
			      uint64_t len, unsigned flags, urio_cb cb,
			      void *data);

/* ---- target.c ---- */
/* Closes every target still open (loop teardown) and frees them all. */
void urio__targets_free(urio_loop *loop);

/* ---- file.c ---- */
void urio__pipes_free(urio_loop *loop);

/* ---- bufgroup.c ---- */
/* A buffer for one receive (no kernel ring), or -1: none free. */
int urio__group_take(urio_loop *loop, struct urio_bufgroup *g);
/* The buffer goes back (to the kernel's ring, or the free stack). */
void urio__group_put(urio_loop *loop, struct urio_bufgroup *g, unsigned bid);
void urio__groups_free(urio_loop *loop, bool owner);

/* ---- buf.c ---- */
int urio__setup_buffers(urio_loop *loop, const struct urio_loop_opts *o,
			uint64_t planned);
/* The registered chunk holding [buf, buf+len), or -1. */
int urio__buf_index(const urio_loop *loop, const void *buf, uint64_t len);

#endif
