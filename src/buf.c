/* SPDX-License-Identifier: MIT */
/* buf.c - the loop's registered-buffer pool: one mapping, registered with
 * every ring in chunks (a request whose buffer lies in one chunk uses the
 * fixed-buffer ops), sized against memlock and cut in half on ENOMEM. */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define BUF_FLOOR (64u << 10)

int urio__buf_index(const urio_loop *loop, const void *buf, uint64_t len)
{
	const char *b = buf, *base = loop->buf_base;
	size_t first, last;

	if (!base || b < base || !len || len > loop->buf_len ||
	    (size_t)(b - base) > loop->buf_len - len)
		return -1;
	first = (size_t)(b - base) / URIO_BUF_CHUNK;
	last = ((size_t)(b - base) + len - 1) / URIO_BUF_CHUNK;
	return first == last ? (int)first : -1;
}

int urio__setup_buffers(urio_loop *loop, const struct urio_loop_opts *o,
			uint64_t planned)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t want = (o->buf_bytes + page - 1) / page * page, len = planned;
	int ret = 0;

	while (len >= BUF_FLOOR || (len && len == want)) {
		void *base = mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		unsigned i;

		if (base == MAP_FAILED)
			return -errno;
		for (i = 0; i < loop->nengines; i++) {
			struct urio_engine *e = loop->engines[i];

			ret = e->ops->register_buf(e, base, len);
			if (ret < 0)
				break;
		}
		if (i == loop->nengines) {
			loop->buf_base = base;
			loop->buf_len = len;
			break;
		}
		/* Unregistering is closing: drop what took it, retry smaller.
		 */
		while (i--)
			loop->engines[i]->ops->register_buf(loop->engines[i],
							    NULL, 0);
		munmap(base, len);
		if (ret != -ENOMEM)
			return ret;
		len = len / 2 / page * page;
	}
	loop->layout.buf_bytes = loop->buf_len;
	if (loop->buf_len < want) {
		urio__fallback(
			loop, "buffers", ret < 0 ? -ret : 0,
			"registered buffer pool of %zu KiB, not the %zu "
			"KiB asked for (RLIMIT_MEMLOCK %llu KiB)",
			loop->buf_len >> 10, want >> 10,
			(unsigned long long)(loop->layout.memlock_limit >> 10));
		if (loop->flags & URIO_LOOP_STRICT)
			return -ENOMEM;
	}
	return 0;
}
