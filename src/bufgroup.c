/* SPDX-License-Identifier: MIT */
/* bufgroup.c - buffer groups for multishot receives: one set of buffers
 * that the kernel (a buffer ring, Linux 5.19+) or urio itself hands to
 * whichever connection has data, so an idle connection holds no buffer.
 * Each buffer holds a record of the loop's pool as room for the completion
 * that will carry it: the CQ never holds more than the loop counted. */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#define GROUP_MAX_COUNT 32768 /* a buffer ring's limit */
#define GROUP_MAX_SIZE	(1u << 20)

static struct urio_bufgroup *group_of(urio_loop *loop, int group)
{
	if (group < 0 || group >= URIO_MAX_GROUPS || !loop->groups[group].used)
		return NULL;
	return &loop->groups[group];
}

/* owner: this process made the ring (a fork()ed child must not
 * unregister the parent's buffer ring). */
static void group_release(urio_loop *loop, unsigned id, bool owner)
{
	struct urio_bufgroup *g = &loop->groups[id];

	if (g->br) {
		if (owner)
			urio__ring_pbuf(loop->e0, id, NULL, 0);
		munmap(g->br, g->br_len);
	}
	if (g->base)
		munmap(g->base, g->base_len);
	if (g->held) {
		for (unsigned i = 0; i < g->count; i++)
			if (g->held[i] != URIO_POOL_END)
				urio__drop_room(loop, g->held[i]);
		free(g->held);
	}
	free(g->free);
	memset(g, 0, sizeof(*g));
}

/* The kernel's buffer ring for the group, when ring 0 is a ring whose
 * kernel has them: every buffer in it. */
static void kernel_ring(urio_loop *loop, unsigned id, struct urio_bufgroup *g)
{
	size_t len = g->count * sizeof(struct io_uring_buf);
	void *br = mmap(NULL, len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (br == MAP_FAILED)
		return;
	io_uring_buf_ring_init(br);
	if (urio__ring_pbuf(loop->e0, id, br, g->count) < 0) {
		munmap(br, len);
		return;
	}
	g->br = br;
	g->br_len = len;
	for (unsigned b = 0; b < g->count; b++)
		io_uring_buf_ring_add(g->br, g->base + (size_t)b * g->size,
				      g->size, (unsigned short)b,
				      io_uring_buf_ring_mask(g->count), (int)b);
	io_uring_buf_ring_advance(g->br, (int)g->count);
}

int urio_bufgroup_create(urio_loop *loop, unsigned count, unsigned size)
{
	int ret = urio__check_loop(loop);
	struct urio_bufgroup *g = NULL;
	unsigned id;

	if (ret < 0)
		return ret;
	if (!count || count > GROUP_MAX_COUNT || (count & (count - 1)) ||
	    !size || size > GROUP_MAX_SIZE)
		return -EINVAL;
	if (loop->destroying)
		return -ESHUTDOWN;
	for (id = 0; id < URIO_MAX_GROUPS && !g; id++)
		if (!loop->groups[id].used)
			g = &loop->groups[id];
	if (!g)
		return -EMFILE;
	id--;
	/* Room for every buffer's completion, now. */
	if (urio__pool_free_count(loop) < count)
		return -ENOSPC;
	g->used = true;
	g->count = count;
	g->size = size;
	g->wait_head = g->wait_tail = URIO_POOL_END;
	g->base_len = (size_t)count * size;
	g->base = mmap(NULL, g->base_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g->held = malloc(count * sizeof(*g->held));
	g->free = malloc(count * sizeof(*g->free));
	if (g->base == MAP_FAILED || !g->held || !g->free) {
		if (g->base == MAP_FAILED)
			g->base = NULL;
		free(g->held);
		g->held = NULL;
		group_release(loop, id, true);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < count; i++)
		g->held[i] = urio__hold_room(loop);
	if (loop->ring0)
		kernel_ring(loop, id, g);
	if (!g->br)
		for (unsigned b = 0; b < count; b++)
			g->free[g->nfree++] = (uint16_t)(count - 1 - b);
	return (int)id;
}

int urio_bufgroup_destroy(urio_loop *loop, int group)
{
	int ret = urio__check_loop(loop);
	struct urio_bufgroup *g;

	if (ret < 0)
		return ret;
	g = group_of(loop, group);
	if (!g)
		return -ENOENT;
	if (g->users)
		return -EBUSY;
	group_release(loop, (unsigned)group, true);
	urio__sq_refresh(loop);
	return 0;
}

int urio__group_take(urio_loop *loop, struct urio_bufgroup *g)
{
	(void)loop;
	return g->nfree ? g->free[--g->nfree] : -1;
}

void urio__group_put(urio_loop *loop, struct urio_bufgroup *g, unsigned bid)
{
	if (g->br) {
		io_uring_buf_ring_add(g->br, g->base + (size_t)bid * g->size,
				      g->size, (unsigned short)bid,
				      io_uring_buf_ring_mask(g->count), 0);
		io_uring_buf_ring_advance(g->br, 1);
	} else {
		g->free[g->nfree++] = (uint16_t)bid;
	}
	g->returned++;
	if (g->wait_head != URIO_POOL_END)
		urio__group_wake(loop, g);
}

void urio__groups_free(urio_loop *loop, bool owner)
{
	for (unsigned id = 0; id < URIO_MAX_GROUPS; id++)
		if (loop->groups[id].used)
			group_release(loop, id, owner);
}
