/* SPDX-License-Identifier: MIT */
/* read-file.c - the README's example, line for line (examples/check-readme
 * keeps the two equal): one loop, one target, one read. */
#include <fcntl.h>
#include <stdio.h>
#include <urio.h>

static void done(urio_loop *loop, int res, void *data)
{
	(void)loop;
	printf("%s: %s\n", (const char *)data,
	       res < 0 ? urio_strerror(res) : "ok");
}

int main(void)
{
	struct urio_loop_opts opts = { .size = sizeof(opts), .entries = 256 };
	static char buf[4096];
	urio_loop *loop;
	urio_target *t;
	int ret;

	ret = urio_loop_create(&loop, &opts);
	if (ret < 0)
		return fprintf(stderr, "%s\n", urio_strerror(ret)), 1;
	ret = urio_target_open(loop, &t, "/etc/hostname", O_RDONLY, 0, NULL);
	if (ret == 0)
		ret = (int)urio_read(t, buf, sizeof(buf), 0, 0, done, "read");
	if (ret < 0)
		fprintf(stderr, "%s\n", urio_strerror(ret));
	urio_loop_run(loop, URIO_RUN_DEFAULT); /* until nothing is in flight */
	urio_loop_destroy(loop);
	return 0;
}
