/* SPDX-License-Identifier: MIT */
/* runner.c - the one main() of the Check suites.  From test-list.h it takes
 * the cases linked into this program (one group's), keeps those that run on
 * the backend asked for, skips with a reason those whose properties this
 * machine lacks, runs the rest under Check (forked, or in one process), and
 * reports every case as passed, failed or skipped: in words, or as TAP for
 * meson (--tap).  A skip is never a pass. */
#include "runner.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "util.h"

enum on { ON_BOTH, ON_URING, ON_ANY };

struct test_case {
	const char *group, *name;
	const TTest *tt;  /* NULL: its group's file is not in this program */
	const int *loops; /* NULL: one run, not a table */
	enum on on;
	unsigned props;
};

/* Weak: each program holds one group's cases; the others stay NULL. */
#define URIO_TEST(g, n, b, p)                               \
	extern const TTest n##_ttest __attribute__((weak)); \
	extern const int n##_loops __attribute__((weak));
#include "test-list.h"
#undef URIO_TEST

#define URIO_TEST(g, n, b, p) { #g, #n, &n##_ttest, &n##_loops, ON_##b, p },
static const struct test_case all_cases[] = {
#include "test-list.h"
};
#undef URIO_TEST

#define NCASES (sizeof(all_cases) / sizeof(all_cases[0]))

/* ---- the case that runs -------------------------------------------------- */

/* The backend of each case given to Check, in order.  An unchecked fixture
 * runs before each case's tests, here in the runner (forked children
 * inherit what it sets), so it takes the next one. */
static enum test_backend pass_backend = TB_AUTO;
static enum test_backend backend_of[NCASES];
static unsigned next_case;

static void enter_case(void)
{
	test_set_backend(backend_of[next_case++]);
}

/* ---- properties this machine may lack ----------------------------------- */

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[512];

	for (const char *p = path ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
	     *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* Root may still be refused a mount namespace (a container without
 * CAP_SYS_ADMIN): a child tries, and the parent says which it was. */
static const char *mount_refused(void)
{
	static char why[160];
	static int done;
	int st = 0;
	pid_t pid;

	if (done)
		return why[0] ? why : NULL;
	done = 1;
	pid = fork();
	if (pid == 0) {
		char dir[] = "/var/tmp/urio-probe.XXXXXX";
		int err = 0;

		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			_exit(errno);
		if (!mkdtemp(dir))
			_exit(200);
		if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") < 0)
			err = 100 + errno;
		else
			umount(dir);
		rmdir(dir);
		_exit(err);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		snprintf(why, sizeof(why), "could not probe for mounts");
	else if (WEXITSTATUS(st) == 200)
		snprintf(why, sizeof(why),
			 "cannot make a directory in /var/tmp");
	else if (WEXITSTATUS(st) > 100)
		snprintf(why, sizeof(why),
			 "root, but mounting a tmpfs is refused (%s)",
			 strerror(WEXITSTATUS(st) - 100));
	else if (WEXITSTATUS(st))
		snprintf(why, sizeof(why),
			 "root, but unshare(CLONE_NEWNS) is refused (%s): no "
			 "CAP_SYS_ADMIN here (a container?)",
			 strerror(WEXITSTATUS(st)));
	return why[0] ? why : NULL;
}

/* Why a case with these properties cannot run here, or NULL. */
static const char *unmet(unsigned props)
{
	if ((props & (T_ROOT | T_MOUNT | T_LOOPDEV)) && geteuid() != 0)
		return "needs root (CI runs as root)";
	if ((props & (T_MOUNT | T_LOOPDEV)) && mount_refused())
		return mount_refused();
	if ((props & T_LOOPDEV) && access("/dev/loop-control", W_OK) != 0)
		return "no /dev/loop-control (no loop device driver)";
	if ((props & T_LOOPDEV) && !in_path("losetup"))
		return "no losetup (util-linux)";
	if (props & T_NVME) {
		struct stat st;

		if (stat("/dev/ng0n1", &st) != 0 || !S_ISCHR(st.st_mode))
			return "no NVMe namespace at /dev/ng0n1: runs in "
			       "tools/nvme-vm";
	}
#ifndef URIO_FAULT_INJECTION
	if (props & T_FAULTS)
		return "needs -Dfault_injection=true (CI's sanitizer build)";
#endif
#if !URIO_HAVE_LIBAIO
	if (props & T_LIBAIO)
		return "built without libaio";
#endif
	if ((props & T_BENCH) && !getenv("URIO_BENCH"))
		return "urio-bench not built (-Dbench=false)";
	if ((props & T_TMPFS) && !tmpfs_dir())
		return "no tmpfs at /dev/shm";
	return NULL;
}

/* ---- report ------------------------------------------------------------- */

enum outcome { PASSED, FAILED, SKIPPED };

struct report {
	bool tap;
	enum print_output verbosity;
	unsigned n, passed, failed, skipped;
	char *lines; /* what the human report prints last, failures first */
	size_t len;
};

static void add(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void add(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	r->lines = realloc(r->lines, r->len + (size_t)n + 1);
	if (!r->lines)
		abort();
	va_start(ap, fmt);
	vsnprintf(r->lines + r->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	r->len += (size_t)n;
}

/* One outcome: a TAP line, or a line of words (all at CK_VERBOSE, failures
 * and skips at CK_NORMAL). */
static void outcome(struct report *r, const struct test_case *c, int iter,
		    enum outcome o, const char *why)
{
	char name[160];
	const char *tag = o == PASSED ? "PASS" : o == FAILED ? "FAIL" : "SKIP";

	if (iter >= 0)
		snprintf(name, sizeof(name), "%s[%d]", c->name, iter);
	else
		snprintf(name, sizeof(name), "%s", c->name);
	r->n++;
	r->passed += o == PASSED;
	r->failed += o == FAILED;
	r->skipped += o == SKIPPED;
	if (r->tap) {
		add(r, "%s %u - %s%s%s\n", o == FAILED ? "not ok" : "ok", r->n,
		    name, o == SKIPPED ? " # SKIP " : "",
		    o == SKIPPED ? why : "");
		if (o == FAILED)
			add(r, "# %s\n", why);
	} else if (r->verbosity >= CK_VERBOSE ||
		   (r->verbosity >= CK_NORMAL && o != PASSED)) {
		add(r, "%s %s/%s%s%s\n", tag, c->group, name, why ? ": " : "",
		    why ? why : "");
	}
}

static void skipped(struct report *r, const struct test_case *c, int iter,
		    const char *why)
{
	char msg[600];

	if (test_skip_allowed(c->group, c->name)) {
		outcome(r, c, iter, SKIPPED, why);
		return;
	}
	snprintf(msg, sizeof(msg),
		 "skipped (%s), and URIO_TEST_STRICT allows no such skip", why);
	outcome(r, c, iter, FAILED, msg);
}

static const struct test_case *find(const char *name)
{
	for (size_t i = 0; i < NCASES; i++)
		if (all_cases[i].tt && !strcmp(all_cases[i].name, name))
			return &all_cases[i];
	return NULL;
}

static void result(struct report *r, const struct test_case *c, int iter,
		   TestResult *tr)
{
	const char *why = test_skip_reason(tr);
	char msg[1024];

	if (why) {
		skipped(r, c, iter, why);
	} else if (tr_rtype(tr) == CK_PASS) {
		outcome(r, c, iter, PASSED, NULL);
	} else {
		if (tr_lfile(tr))
			snprintf(msg, sizeof(msg), "%s:%d: %s", tr_lfile(tr),
				 tr_lno(tr), tr_msg(tr));
		else
			snprintf(msg, sizeof(msg), "%s", tr_msg(tr));
		outcome(r, c, iter, FAILED, msg);
	}
}

static enum print_output verbosity(void)
{
	const char *v = getenv("CK_VERBOSITY");

	if (!v)
		return CK_NORMAL;
	if (!strcmp(v, "silent"))
		return CK_SILENT;
	if (!strcmp(v, "minimal"))
		return CK_MINIMAL;
	if (!strcmp(v, "verbose"))
		return CK_VERBOSE;
	return CK_NORMAL;
}

/* ---- main --------------------------------------------------------------- */

static void usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s [--backend uring|aio] [--nofork] [--tap] [--list] "
		"[CASE...]\n"
		"Runs this group's cases (test-list.h) on one backend.\n"
		"  --nofork  only the cases marked T_NOFORK, in one process\n"
		"  --tap     TAP on stdout, for meson\n"
		"Environment: CK_VERBOSITY=silent|minimal|normal|verbose,\n"
		"  CK_FORK=no, URIO_TEST_STRICT=1|FILE (a skip fails unless\n"
		"  FILE allows it).\n",
		argv0);
}

static bool wanted(const struct test_case *c, char **names, int nnames)
{
	if (!nnames)
		return true;
	for (int i = 0; i < nnames; i++)
		if (!strcmp(names[i], c->name))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct report rep = { .verbosity = verbosity() };
	const struct test_case *sel[NCASES];
	const char *group = NULL, *pass = "io_uring";
	unsigned nsel = 0, not_here = 0, ntc = 0;
	bool nofork = false, list = false;
	char **names = NULL;
	int nnames = 0, ntr;
	Suite *s;
	SRunner *sr;
	TestResult **trs;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "aio")) {
				pass_backend = TB_AIO;
				pass = "libaio";
			} else if (!strcmp(argv[i], "uring")) {
				pass_backend = TB_URING;
			} else {
				usage(argv[0]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--nofork")) {
			nofork = true;
		} else if (!strcmp(argv[i], "--tap")) {
			rep.tap = true;
		} else if (!strcmp(argv[i], "--list")) {
			list = true;
		} else if (argv[i][0] == '-') {
			usage(argv[0]);
			return 2;
		} else {
			names = &argv[i];
			nnames = argc - i;
			break;
		}
	}
	if (pass_backend == TB_AUTO)
		pass_backend = TB_URING;
	/* Check's own selection would skip fixtures the runner counts on:
	 * CK_RUN_CASE selects here instead. */
	if (!nnames && getenv("CK_RUN_CASE")) {
		static char *one[1];

		one[0] = getenv("CK_RUN_CASE");
		names = one;
		nnames = 1;
	}
	unsetenv("CK_RUN_CASE");
	unsetenv("CK_RUN_SUITE");
	unsetenv("CK_INCLUDE_TAGS");
	unsetenv("CK_EXCLUDE_TAGS");

	for (size_t i = 0; i < NCASES; i++) {
		const struct test_case *c = &all_cases[i];

		if (!c->tt)
			continue;
		if (group && strcmp(group, c->group)) {
			fprintf(stderr,
				"%s: cases of %s and %s in one program\n",
				argv[0], group, c->group);
			return 2;
		}
		group = c->group;
		if (!wanted(c, names, nnames) ||
		    (nofork && !(c->props & T_NOFORK)))
			continue;
		if (pass_backend == TB_AIO && c->on != ON_BOTH) {
			not_here++;
			continue;
		}
		if (list) {
			printf("%s/%s\n", c->group, c->name);
			continue;
		}
		sel[nsel++] = c;
	}
	for (int i = 0; i < nnames; i++)
		if (!find(names[i])) {
			fprintf(stderr, "%s: no case %s here\n", argv[0],
				names[i]);
			return 2;
		}
	if (list)
		return 0;
	if (!group) {
		fprintf(stderr, "%s: no case of test-list.h is linked in\n",
			argv[0]);
		return 2;
	}

	s = suite_create(group);
	for (unsigned i = 0; i < nsel; i++) {
		const struct test_case *c = sel[i];
		TCase *tc;

		if (unmet(c->props))
			continue;
		tc = tcase_create(c->name);
		/* A hung case fails in two minutes, not at meson's limit. */
		tcase_set_timeout(tc, 120);
		backend_of[ntc++] = c->on == ON_ANY ? TB_AUTO : pass_backend;
		tcase_add_unchecked_fixture(tc, enter_case, NULL);
		tcase_add_loop_test(tc, c->tt, 0, c->loops ? *c->loops : 1);
		suite_add_tcase(s, tc);
	}
	sr = srunner_create(s);
	if (nofork)
		srunner_set_fork_status(sr, CK_NOFORK);
	fflush(NULL); /* nothing buffered for the forked children to repeat */
	srunner_run(sr, NULL, NULL, CK_SILENT);

	/* Check's results come in the order the cases ran. */
	ntr = srunner_ntests_run(sr);
	trs = srunner_results(sr);
	for (unsigned i = 0, k = 0; i < nsel; i++) {
		const struct test_case *c = sel[i];
		const char *why = unmet(c->props);
		int rows = c->loops ? *c->loops : 1;

		if (why) { /* one reason, one line, for all the rows */
			skipped(&rep, c, -1, why);
			continue;
		}
		for (int it = 0; it < rows; it++) {
			if ((int)k < ntr && !strcmp(tr_tcname(trs[k]), c->name))
				result(&rep, c, c->loops ? it : -1, trs[k++]);
			else
				outcome(&rep, c, c->loops ? it : -1, FAILED,
					"Check did not run it");
		}
	}
	free(trs);
	srunner_free(sr);

	if (rep.tap) {
		printf("1..%u%s\n", rep.n,
		       rep.n ? "" : " # SKIP nothing to run");
		fwrite(rep.lines ? rep.lines : "", 1, rep.len, stdout);
	} else if (rep.verbosity > CK_SILENT) {
		fwrite(rep.lines ? rep.lines : "", 1, rep.len, stdout);
	}
	if (rep.tap || rep.verbosity > CK_SILENT) {
		printf("%s%s on %s: %u passed, %u failed, %u skipped",
		       rep.tap ? "# " : "", group, pass, rep.passed, rep.failed,
		       rep.skipped);
		if (not_here)
			printf("; %u run in the io_uring pass only", not_here);
		printf("\n");
	}
	free(rep.lines);
	/* TAP carries the verdict itself; meson calls a non-zero exit an
	 * error of the program. */
	if (rep.tap)
		return 0;
	if (rep.failed)
		return 1;
	return rep.passed ? 0 : 77; /* nothing ran: a skip to meson */
}
