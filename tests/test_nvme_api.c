/* SPDX-License-Identifier: MIT */
/* test_nvme_api.c - the NVMe admin calls where there is no NVMe device:
 * every one refuses bad input and targets that are not controllers with
 * the precise errno, and queues nothing.  What they do on a controller is
 * test_nvme_vm.c's, in the guest. */
#include "helpers.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(admin_calls_refuse_what_is_not_a_controller)
{
	struct urio_nvme_admin a = { .size = sizeof(a), .opcode = 0x06 };
	struct urio_target_info info = { .size = sizeof(info) };
	struct urio_stats st = { .size = sizeof(st) };
	struct req never = { 0 };
	char path[256], page[4096];
	urio_loop *loop = new_loop(16, 1, 0);
	urio_target *file, *null;

	make_path("/tmp", path, sizeof(path));
	ck_assert_int_eq(urio_target_open(loop, &file, path, O_RDWR, 0, NULL),
			 0);
	/* a char device that is not NVMe: asked nothing NVMe means */
	ck_assert_int_eq(
		urio_target_open(loop, &null, "/dev/null", O_RDWR, 0, NULL), 0);
	ck_assert_int_eq(urio_target_info(null, &info), 0);
	ck_assert_uint_eq(info.controller, 0);
	ck_assert_uint_eq(info.passthru, 0);
	ck_assert_int_eq(urio_target_info(file, &info), 0);
	ck_assert_uint_eq(info.controller, 0);

	ck_assert_int_eq(urio_nvme_admin(NULL, &a, 0, req_cb, &never), -EINVAL);
	ck_assert_int_eq(
		urio_nvme_identify(NULL, 1, 0, page, 0, req_cb, &never),
		-EINVAL);
	ck_assert_int_eq(urio_nvme_get_log(NULL, 2, ~0u, page, 512, 0, 0,
					   req_cb, &never),
			 -EINVAL);
	for (int i = 0; i < 2; i++) {
		urio_target *t = i ? null : file;

		ck_assert_int_eq(urio_nvme_admin(t, &a, 0, req_cb, &never),
				 -EOPNOTSUPP);
		ck_assert_int_eq(urio_nvme_identify(t, URIO_NVME_CNS_CTRL, 0,
						    page, 0, req_cb, &never),
				 -EOPNOTSUPP);
		ck_assert_int_eq(urio_nvme_get_log(t, URIO_NVME_LOG_SMART,
						   URIO_NVME_NSID_ALL, page,
						   URIO_NVME_SMART_BYTES, 0,
						   URIO_NVME_RAE, req_cb,
						   &never),
				 -EOPNOTSUPP);
		/* bad arguments come first, whatever the target */
		ck_assert_int_eq(
			urio_nvme_identify(t, 1, 0, page, 0, NULL, NULL),
			-EINVAL);
		ck_assert_int_eq(urio_nvme_identify(t, 1, 0, page, 1u << 9,
						    req_cb, &never),
				 -EINVAL);
	}
	/* a closed handle */
	ck_assert_int_eq(urio_target_close(null), 0);
	ck_assert_int_eq(urio_nvme_admin(null, &a, 0, req_cb, &never), -EBADF);
	ck_assert_int_eq(urio_loop_stats(loop, &st), 0);
	ck_assert_uint_eq(st.submitted, 0);
	ck_assert_no_callback(never);
	DESTROY_CLEAN(loop);
	unlink(path);
}
END_TEST

static void result_cb(urio_loop *loop, int res, void *data)
{
	uint64_t *r = data;

	(void)res;
	*r = 1;
	ck_assert_int_eq(urio_loop_nvme_result(loop, r), 0);
}

START_TEST(nvme_result_outside_a_callback_is_zero)
{
	urio_loop *loop = new_loop(16, 1, 0);
	uint64_t r = 7, in_nop = 7;

	ck_assert_int_eq(urio_loop_nvme_result(NULL, &r), -EINVAL);
	ck_assert_int_eq(urio_loop_nvme_result(loop, NULL), -EINVAL);
	ck_assert_int_eq(urio_loop_nvme_result(loop, &r), 0);
	ck_assert_uint_eq(r, 0);
	/* a request that is no NVMe command has none either */
	ck_assert_int_gt(urio_nop(loop, 0, result_cb, &in_nop), 0);
	ck_assert_int_eq(urio_loop_run(loop, URIO_RUN_DEFAULT), 1);
	ck_assert_uint_eq(in_nop, 0);
	DESTROY_CLEAN(loop);
}
END_TEST
