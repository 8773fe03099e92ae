/* SPDX-License-Identifier: MIT */
/* test_bench_cli.c - urio-bench as a user runs it: the JSON carries the
 * keys later tools read, --verify finds no mismatch, and a failure says
 * what failed in words and exits non-zero. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Runs urio-bench with args; returns its exit status, output in out. */
static int bench(const char *args, char *out, size_t len)
{
	const char *exe = getenv("URIO_BENCH");
	char cmd[1024];
	size_t n = 0;
	FILE *p;
	int st;

	ck_assert_msg(exe != NULL, "URIO_BENCH is not set");
	snprintf(cmd, sizeof(cmd), "%s %s 2>&1", exe, args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (n + 1 < len && fgets(out + n, (int)(len - n), p))
		n += strlen(out + n);
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

START_TEST(json_has_every_key_later_tools_read)
{
	static const char *const keys[] = {
		"\"iops\": ",	    "\"bw_bytes\": ",	   "\"ios\": ",
		"\"errors\": 0",    "\"lat_ns\": {",	   "\"mean\": ",
		"\"p50\": ",	    "\"p99\": ",	   "\"p999\": ",
		"\"max\": ",	    "\"cpu\": {",	   "\"usr_pct\": ",
		"\"sys_pct\": ",    "\"cpu_ns_per_io\": ", "\"per_thread\": [",
		"\"layout\": {",    "\"backend\": ",	   "\"rings\": [",
		"\"entries\": ",    "\"cq_entries\": ",	   "\"kind\": ",
		"\"fallbacks\": [",
	};
	char out[8192];

	ck_assert_int_eq(bench("--runtime 0.3 --size 8m --json --threads 2",
			       out, sizeof(out)),
			 0);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(out, keys[i]), "no %s in %s", keys[i],
			      out);
	ck_assert_ptr_null(strstr(out, "\"iops\": 0.0"));
}
END_TEST

START_TEST(verify_after_random_writes_finds_no_mismatch)
{
	char out[4096];

	ck_assert_int_eq(bench("--runtime 0.3 --size 8m --rw randrw --verify",
			       out, sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "verify: 0 mismatches"));
}
END_TEST

START_TEST(missing_target_fails_in_words_with_nonzero_status)
{
	char out[4096];

	ck_assert_int_ne(bench("--runtime 0.2 /nonexistent/urio/target", out,
			       sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(
		strstr(out, "cannot open /nonexistent/urio/target"));
	ck_assert_ptr_nonnull(strstr(out, "No such file"));
}
END_TEST

START_TEST(bad_option_values_are_refused)
{
	char out[4096];

	ck_assert_int_eq(bench("--qd 0", out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "bad --qd"));
	ck_assert_int_eq(bench("--engine nosuch", out, sizeof(out)), 2);
	ck_assert_int_eq(bench("--rw sideways", out, sizeof(out)), 2);
}
END_TEST

START_TEST(psync_and_nop_modes_run)
{
	char out[4096];

	ck_assert_int_eq(bench("--runtime 0.2 --size 8m --engine psync", out,
			       sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "psync"));
	ck_assert_int_eq(bench("--runtime 0.2 --nop --json", out, sizeof(out)),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "\"rw\": \"nop\""));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("bench_cli");
	TCase *tc = tcase_create("bench_cli");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_has_every_key_later_tools_read);
	tcase_add_test(tc, verify_after_random_writes_finds_no_mismatch);
	tcase_add_test(tc, missing_target_fails_in_words_with_nonzero_status);
	tcase_add_test(tc, bad_option_values_are_refused);
	tcase_add_test(tc, psync_and_nop_modes_run);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
