/* SPDX-License-Identifier: MIT */
/* check_main.h - one main() for every Check suite: run it, exit 1 if any
 * case failed. */
#ifndef URIO_TEST_CHECK_MAIN_H
#define URIO_TEST_CHECK_MAIN_H

#include <check.h>

#define URIO_TEST_MAIN(make_suite)                          \
	int main(void)                                      \
	{                                                   \
		SRunner *sr = srunner_create(make_suite()); \
		int failed;                                 \
		srunner_run_all(sr, CK_NORMAL);             \
		failed = srunner_ntests_failed(sr);         \
		srunner_free(sr);                           \
		return failed ? 1 : 0;                      \
	}

#endif
