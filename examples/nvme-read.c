/* SPDX-License-Identifier: MIT */
/* nvme-read.c - the passthrough path: open an NVMe namespace's generic char
 * device (/dev/ngXnY) and read its first 64 KiB as NVMe Read commands, into
 * the loop's registered buffer pool.  Nothing is written.
 *
 *   nvme-read [/dev/ngXnY]    (none: the first /dev/ng*n* there is)
 *
 * Exits 77 (a skip, to meson and automake) when there is no such device or
 * it cannot be opened (passthrough needs root, or the device's group). */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>

#include <urio.h>

#define SKIP 77

/* NVMe data pointers need dword alignment; a page is the usual choice. */
static _Alignas(4096) unsigned char spare[64 << 10];

struct result {
	int res;
	int status;
};

static void done(urio_loop *loop, int res, void *data)
{
	struct result *r = data;

	r->res = res;
	/* Only inside the callback: the controller's own status word. */
	r->status = urio_loop_nvme_status(loop);
}

static int first_ng(char *path, size_t len)
{
	glob_t g;
	int ret = glob("/dev/ng*n*", 0, NULL, &g);

	if (ret == 0)
		snprintf(path, len, "%s", g.gl_pathv[0]);
	globfree(&g);
	return ret == 0 ? 0 : -ENOENT;
}

int main(int argc, char **argv)
{
	struct urio_loop_opts opts = {
		.size = sizeof(opts),
		.buf_bytes = 1 << 20, /* registered once: no pinning per I/O */
	};
	struct urio_target_info info = { .size = sizeof(info) };
	struct result r = { .res = 1 };
	unsigned char *buf;
	char path[256];
	urio_loop *loop;
	urio_target *t;
	size_t pool, len = 64 << 10;
	urio_id id;
	int ret;

	if (argc > 1)
		snprintf(path, sizeof(path), "%s", argv[1]);
	else if (first_ng(path, sizeof(path)) < 0)
		return printf("no NVMe generic device (/dev/ngXnY): skipped\n"),
		       SKIP;

	ret = urio_loop_create(&loop, &opts);
	if (ret < 0)
		return fprintf(stderr, "loop: %s\n", urio_strerror(ret)), 1;
	ret = urio_target_open(loop, &t, path, O_RDONLY, 0, NULL);
	if (ret == -EACCES || ret == -EPERM) {
		printf("%s: %s: skipped\n", path, urio_strerror(ret));
		urio_loop_destroy(loop);
		return SKIP;
	}
	if (ret == 0)
		ret = urio_target_info(t, &info);
	if (ret == 0)
		ret = urio_loop_buffers(loop, (void **)&buf, &pool);
	if (ret < 0 || !info.passthru) {
		fprintf(stderr, "%s: %s\n", path,
			ret < 0 ? urio_strerror(ret)
				: "not an NVMe namespace: no passthrough");
		urio_loop_destroy(loop);
		return 1;
	}
	printf("%s: nsid %u, %u-byte LBAs, %llu bytes, %u bytes per command\n",
	       path, info.nsid, info.lba_size, (unsigned long long)info.bytes,
	       info.max_xfer);

	/* Lengths and offsets are whole LBAs; a longer read than MDTS is
	 * split into several commands and completes once. */
	if (len > info.bytes)
		len = info.bytes;
	if (pool < len) /* no locked memory for a pool: any buffer will do */
		buf = spare;
	id = urio_read(t, buf, len, 0, 0, done, &r);
	if (id < 0) {
		fprintf(stderr, "read: %s\n", urio_strerror((int)id));
		urio_loop_destroy(loop);
		return 1;
	}
	urio_loop_run(loop, URIO_RUN_DEFAULT);
	printf("read %zu bytes at 0: %s (NVMe status 0x%x)", len,
	       r.res < 0 ? urio_strerror(r.res) : "ok", (unsigned)r.status);
	for (int i = 0; r.res > 0 && i < 16; i++)
		printf("%s%02x", i ? " " : "; first bytes ", buf[i]);
	printf("\n");
	urio_loop_destroy(loop);
	return r.res == (int)len ? 0 : 1;
}
