/* SPDX-License-Identifier: MIT */
/* case.c - what a running case shares with the runner: its backend, its
 * skip, whether strict mode allows that skip; and the main() of suites not
 * yet on the list.  Apart from runner.c, which holds the list's main(). */
#include "runner.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum test_backend case_backend = TB_AUTO;

enum test_backend test_backend(void)
{
	return case_backend;
}

void test_set_backend(enum test_backend b)
{
	case_backend = b;
}

/* A skip travels as the case's last checkpoint: Check carries it from a
 * forked child as it carries an assertion's location, and the case still
 * counts as run.  The report turns it into a skip. */
#define SKIP_MARK "\x01skip: "

void test_skip_mark(const char *fmt, ...)
{
	char why[512];
	va_list ap;

	memcpy(why, SKIP_MARK, sizeof(SKIP_MARK) - 1);
	va_start(ap, fmt);
	vsnprintf(why + sizeof(SKIP_MARK) - 1,
		  sizeof(why) - (sizeof(SKIP_MARK) - 1), fmt, ap);
	va_end(ap);
	_mark_point(why, 0);
}

const char *test_skip_reason(TestResult *tr)
{
	const char *f = tr_lfile(tr);

	if (tr_rtype(tr) != CK_PASS || !f ||
	    strncmp(f, SKIP_MARK, sizeof(SKIP_MARK) - 1))
		return NULL;
	return f + sizeof(SKIP_MARK) - 1;
}

/* ---- strict mode -------------------------------------------------------- */

/* URIO_TEST_STRICT=1: every skip fails; =FILE: every skip fails unless a
 * line of FILE (a pattern for group/case, then why) names it. */
bool test_skip_allowed(const char *group, const char *name)
{
	const char *strict = getenv("URIO_TEST_STRICT");
	char full[256], line[512];
	bool ok = false;
	FILE *f;

	if (!strict || !*strict || !strcmp(strict, "0"))
		return true;
	if (!strcmp(strict, "1"))
		return false;
	f = fopen(strict, "r");
	if (!f) {
		fprintf(stderr, "URIO_TEST_STRICT: %s: %s\n", strict,
			strerror(errno));
		return false;
	}
	snprintf(full, sizeof(full), "%s/%s", group, name);
	while (!ok && fgets(line, sizeof(line), f)) {
		line[strcspn(line, " \t\n#")] = '\0';
		ok = line[0] && fnmatch(line, full, 0) == 0;
	}
	fclose(f);
	return ok;
}

/* ---- suites not yet on the list ----------------------------------------- */

int test_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	unsigned n, failed, skips = 0, refused = 0;
	TestResult **trs;

	srunner_run_all(sr, CK_ENV);
	n = (unsigned)srunner_ntests_run(sr);
	failed = (unsigned)srunner_ntests_failed(sr);
	trs = srunner_results(sr);
	for (unsigned i = 0; i < n; i++) {
		const char *why = test_skip_reason(trs[i]);

		if (!why)
			continue;
		printf("SKIP %s: %s\n", tr_tcname(trs[i]), why);
		if (test_skip_allowed(tr_tcname(trs[i]), ""))
			skips++;
		else
			refused++;
	}
	free(trs);
	srunner_free(sr);
	printf("%u passed, %u failed, %u skipped%s\n",
	       n - failed - skips - refused, failed + refused, skips,
	       refused ? " (URIO_TEST_STRICT refuses the other skips)" : "");
	if (failed + refused)
		return 1;
	return n && skips == n ? 77 : 0;
}
