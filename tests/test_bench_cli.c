/* SPDX-License-Identifier: MIT */
/* test_bench_cli.c - urio-bench as a user runs it: the JSON carries the
 * keys later tools read, --verify finds no mismatch, a failure says what
 * failed in words and exits non-zero, and where urio-bench borrows fio's
 * words it behaves as fio does (targets laid out, the page cache dropped,
 * fio's spellings taken, reads and writes reported apart). */
#include "helpers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* The number after key in a JSON text, from the first occurrence after
 * from. */
static double json_num(const char *from, const char *key)
{
	const char *p = strstr(from, key);

	ck_assert_msg(p, "no %s in %s", key, from);
	return strtod(p + strlen(key), NULL);
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
	/* The first "iops" is the run's (then per direction, per thread). */
	ck_assert_double_gt(json_num(out, "\"iops\": "), 0);
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

START_TEST(uncreatable_target_fails_in_words_with_nonzero_status)
{
	char file[PATH_MAX], args[PATH_MAX + 64], out[4096];

	/* A path below a regular file can be neither opened nor created. */
	make_path(tmpfs_dir() ? tmpfs_dir() : disk_dir(), file, sizeof(file));
	snprintf(args, sizeof(args), "--runtime 0.2 %s/target", file);
	ck_assert_int_ne(bench(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "cannot open") && strstr(out, file), "%s",
		      out);
	ck_assert_msg(strstr(out, "Not a directory"), "%s", out);
	unlink(file);
}
END_TEST

/* A scratch directory (removed by the caller with rm_tree). */
static void scratch_dir(char *buf, size_t len)
{
	snprintf(buf, len, "%s/urio-bench-cli.XXXXXX",
		 tmpfs_dir() ? tmpfs_dir() : disk_dir());
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static void rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

START_TEST(missing_target_is_laid_out_at_size_as_fio_does)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], args[PATH_MAX + 64];
	char out[4096];

	scratch_dir(dir, sizeof(dir));
	/* fio creates the directories of a new file's name too. */
	snprintf(path, sizeof(path), "%s/sub/f", dir);
	snprintf(args, sizeof(args), "--runtime 0.2 --size 4m --verify %s",
		 path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_int_eq(file_size(path), 4 << 20);
	ck_assert_msg(strstr(out, "target: created"), "%s", out);
	/* Filled, not sparse: every block read matched the pattern. */
	ck_assert_msg(strstr(out, "verify: 0 mismatches"), "%s", out);
	rm_tree(dir);
}
END_TEST

/* A file of zeros (sparse) of size bytes, named name in dir; its path in
 * path. */
static void zero_file(const char *dir, const char *name, off_t size, char *path,
		      size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	close(fd);
}

/* A target urio-bench did not lay out (here a file of zeros, as a block
 * device would be) holds no pattern: reads are checked only where the run
 * wrote, and nothing is called a mismatch that was never written. */
START_TEST(verify_on_a_found_target_checks_only_what_it_wrote)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], args[PATH_MAX + 96];
	char out[4096];

	scratch_dir(dir, sizeof(dir));
	zero_file(dir, "zeros", 4 << 20, path, sizeof(path));
	snprintf(args, sizeof(args),
		 "--runtime 0.3 --rw randrw --verify --json %s", path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"target_prepared\": \"existing\""), "%s",
		      out);
	ck_assert_double_gt(json_num(out, "\"writes\": "), 0);
	ck_assert_msg(strstr(out, "\"verify_errors\": 0,"), "%s", out);
	rm_tree(dir);
}
END_TEST

START_TEST(size_past_a_smaller_file_grows_it_as_fio_does)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], args[PATH_MAX + 64];
	char out[4096];

	scratch_dir(dir, sizeof(dir));
	zero_file(dir, "f", 1 << 20, path, sizeof(path));
	snprintf(args, sizeof(args), "--runtime 0.2 --size 3m --json %s", path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_int_eq(file_size(path), 3 << 20);
	ck_assert_msg(strstr(out, "\"target_prepared\": \"grown to --size\""),
		      "%s", out);
	rm_tree(dir);
}
END_TEST

START_TEST(directory_target_is_refused_before_starting)
{
	char dir[PATH_MAX], args[PATH_MAX + 64], out[4096];

	scratch_dir(dir, sizeof(dir));
	snprintf(args, sizeof(args), "--runtime 0.2 %s", dir);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "is a directory"), "%s", out);
	/* Refused before any I/O: no summary, no EISDIR per request. */
	ck_assert_ptr_null(strstr(out, "IOPS"));
	ck_assert_ptr_null(strstr(out, "error"));
	rm_tree(dir);
}
END_TEST

/* Runs urio-bench with args (split at spaces) and TMPDIR=dir, sends sig
 * after ms milliseconds; returns its wait status, its output in out. */
static int bench_signalled(const char *dir, const char *args, int sig,
			   unsigned ms, char *out, size_t len)
{
	const char *exe = getenv("URIO_BENCH");
	char buf[512], *argv[32];
	size_t n = 0;
	int fds[2], st, argc = 0;
	ssize_t got;
	pid_t pid;

	ck_assert_msg(exe != NULL, "URIO_BENCH is not set");
	snprintf(buf, sizeof(buf), "%s", args);
	argv[argc++] = (char *)exe;
	for (char *tok = strtok(buf, " "); tok && argc < 31;
	     tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 1);
		dup2(fds[1], 2);
		close(fds[0]);
		setenv("TMPDIR", dir, 1);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		execv(exe, argv);
		_exit(127);
	}
	close(fds[1]);
	usleep(ms * 1000u);
	ck_assert_int_eq(kill(pid, sig), 0);
	while (n + 1 < len && (got = read(fds[0], out + n, len - n - 1)) > 0)
		n += (size_t)got;
	out[n] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* Entries of dir other than . and .. */
static unsigned dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* Ctrl-C stops a run as fio's does: the requests in flight complete, what
 * was done is reported, the exit status says why it ended, and the
 * temporary target is gone. */
START_TEST(sigint_reports_the_run_so_far_and_leaves_no_file)
{
	static const char *const runs[] = {
		"--runtime 60 --size 16m",
		"--runtime 60 --size 16m --engine aio --direct --rw randrw",
		"--runtime 60 --size 16m --engine psync",
	};
	char dir[PATH_MAX], out[8192];

	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
		int st;

		scratch_dir(dir, sizeof(dir));
		st = bench_signalled(dir, runs[i], SIGINT, 1500, out,
				     sizeof(out));
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGINT,
			      "status %#x: %s", st, out);
		ck_assert_msg(strstr(out, "stopped by"), "%s", out);
		ck_assert_msg(strstr(out, "errors=0"), "%s", out);
		/* It ran until the signal, not to its end nor not at all. */
		ck_assert_msg(
			strstr(out, "ios=") &&
				strtoull(strstr(out, "ios=") + 4, NULL, 10) > 0,
			"%s", out);
		ck_assert_uint_eq(dir_entries(dir), 0);
		rm_tree(dir);
	}
}
END_TEST

/* Not even SIGKILL leaves the temporary 256 MiB behind: it is unlinked as
 * soon as every thread has it open. */
START_TEST(killed_run_leaves_no_temporary_file)
{
	char dir[PATH_MAX], out[4096];
	int st;

	scratch_dir(dir, sizeof(dir));
	st = bench_signalled(dir, "--runtime 60 --size 16m --threads 2",
			     SIGKILL, 1500, out, sizeof(out));
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	ck_assert_uint_eq(dir_entries(dir), 0);
	rm_tree(dir);
}
END_TEST

/* A FIFO's open would wait for a writer that never comes. */
START_TEST(fifo_target_is_refused_before_it_can_hang)
{
	char dir[PATH_MAX], fifo[PATH_MAX + 8], args[PATH_MAX + 64];
	char out[4096];

	scratch_dir(dir, sizeof(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	snprintf(args, sizeof(args), "--runtime 0.2 %s", fifo);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "is a FIFO"), "%s", out);
	ck_assert_ptr_null(strstr(out, "IOPS"));
	rm_tree(dir);
}
END_TEST

/* A queue depth the loop cannot hold in flight is refused at the start in
 * words that name both numbers, not counted as an I/O error mid-run; one
 * it can hold runs. */
START_TEST(qd_past_the_in_flight_bound_is_refused_in_words)
{
	char out[4096];

	ck_assert_int_eq(bench("--runtime 0.2 --size 8m --entries 4 --qd 32",
			       out, sizeof(out)),
			 1);
	ck_assert_msg(strstr(out, "--qd 32 is more than the loop holds in "
				  "flight, 4"),
		      "%s", out);
	ck_assert_msg(strstr(out, "ios=0 "), "%s", out);
	ck_assert_int_eq(bench("--runtime 0.2 --size 8m --entries 4 --qd 4",
			       out, sizeof(out)),
			 0);
	ck_assert_msg(strstr(out, "errors=0"), "%s", out);
	ck_assert_int_eq(bench("--runtime 0.2 --engine aio --size 8m "
			       "--entries 4 --qd 32",
			       out, sizeof(out)),
			 1);
	ck_assert_msg(strstr(out, "--qd 32 is more than the loop holds"), "%s",
		      out);
}
END_TEST

/* Pages of path in the page cache, by mincore(2). */
static size_t resident_pages(const char *path, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = 0;
	unsigned char *vec = calloc(len / pg + 1, 1);
	int fd = open(path, O_RDONLY);
	void *p;

	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mincore(p, len, vec), 0);
	for (size_t i = 0; i < len / pg; i++)
		n += vec[i] & 1;
	munmap(p, len);
	close(fd);
	free(vec);
	return n;
}

/* Reads the whole file through the page cache. */
static void cache_file(const char *path, size_t len)
{
	char *buf = malloc(len);
	int fd = open(path, O_RDONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	free(buf);
}

START_TEST(page_cache_is_dropped_unless_invalidate_0)
{
	char path[PATH_MAX], args[PATH_MAX + 96], out[8192];
	size_t len = 4 << 20, pg = (size_t)sysconf(_SC_PAGESIZE);
	int fd;

	/* On a disk file system (tmpfs pages are the file: nothing to
	 * drop); O_DIRECT runs, so the run itself caches nothing. */
	make_path(disk_dir(), path, sizeof(path));
	fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		unlink(path);
		SKIP("%s takes no O_DIRECT: %s", disk_dir(), strerror(errno));
	}
	close(fd);
	snprintf(args, sizeof(args),
		 "--runtime 0.2 --size 4m --direct=1 --invalidate 0 %s", path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "page cache kept (--invalidate 0)"), "%s",
		      out);
	cache_file(path, len);
	ck_assert_uint_eq(resident_pages(path, len), len / pg);
	snprintf(args, sizeof(args),
		 "--runtime 0.2 --size 4m --direct=1 --invalidate=0 --json %s",
		 path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "\"invalidate\": 0"), "%s", out);
	ck_assert_uint_eq(resident_pages(path, len), len / pg);
	/* The default, as fio's --invalidate=1. */
	snprintf(args, sizeof(args), "--runtime 0.2 --size 4m --direct=1 %s",
		 path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "page cache dropped before the run"), "%s",
		      out);
	ck_assert_uint_eq(resident_pages(path, len), 0);
	unlink(path);
}
END_TEST

START_TEST(fio_spellings_are_accepted)
{
	char out[8192];

	ck_assert_int_eq(
		bench("--runtime=0.3 --size=8m --iodepth=4 --numjobs=2 "
		      "--ioengine=io_uring --direct=1 --time_based "
		      "--bs=4k --rw=randread --invalidate=1 --json",
		      out, sizeof(out)),
		0);
	ck_assert_msg(strstr(out, "\"qd\": 4,"), "%s", out);
	ck_assert_msg(strstr(out, "\"threads\": 2,"), "%s", out);
	ck_assert_msg(strstr(out, "\"engine\": \"uring\""), "%s", out);
	ck_assert_msg(strstr(out, "\"errors\": 0"), "%s", out);
	ck_assert_int_eq(bench("--runtime=0.2 --size=8m --ioengine=libaio "
			       "--direct=1 --json",
			       out, sizeof(out)),
			 0);
	ck_assert_msg(strstr(out, "\"engine\": \"aio\""), "%s", out);
	ck_assert_int_eq(bench("--direct=maybe", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "bad --direct 'maybe'"), "%s", out);
}
END_TEST

START_TEST(filename_option_names_the_target)
{
	char dir[PATH_MAX], path[PATH_MAX + 16], args[2 * PATH_MAX + 64];
	char out[4096];

	scratch_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	snprintf(args, sizeof(args), "--runtime=0.2 --size=2m --filename=%s",
		 path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 0);
	ck_assert_int_eq(file_size(path), 2 << 20);
	snprintf(args, sizeof(args), "--filename=%s %s", path, path);
	ck_assert_int_eq(bench(args, out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "one target only"), "%s", out);
	rm_tree(dir);
}
END_TEST

START_TEST(version_names_urio)
{
	char out[4096];

	ck_assert_int_eq(bench("--version", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, urio_version_string()), "%s", out);
}
END_TEST

START_TEST(unparsable_runtime_is_refused)
{
	static const char *const bad[] = { "inf", "nan", "1e3", "abc",
					   "-1",  "0",	 "",	"5x" };
	char args[64], out[4096];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(args, sizeof(args), "--runtime='%s' --nop", bad[i]);
		ck_assert_int_eq(bench(args, out, sizeof(out)), 2);
		ck_assert_msg(strstr(out, "bad --runtime"), "%s: %s", bad[i],
			      out);
	}
	ck_assert_int_eq(bench("--runtime=0.2s --nop", out, sizeof(out)), 0);
}
END_TEST

START_TEST(randrw_reports_reads_and_writes_apart)
{
	char out[8192];
	const char *r, *w;

	ck_assert_int_eq(bench("--runtime 0.3 --size 8m --rw randrw --json",
			       out, sizeof(out)),
			 0);
	r = strstr(out, "\"read\": {");
	w = strstr(out, "\"write\": {");
	ck_assert_msg(r && w, "%s", out);
	ck_assert_double_gt(json_num(r, "\"ios\": "), 0);
	ck_assert_double_gt(json_num(w, "\"ios\": "), 0);
	ck_assert_double_eq(json_num(r, "\"ios\": ") + json_num(w, "\"ios\": "),
			    json_num(out, "\"ios\": "));
	ck_assert_double_gt(json_num(strstr(r, "\"lat_ns\""), "\"p50\": "), 0);
	ck_assert_double_gt(json_num(strstr(w, "\"lat_ns\""), "\"p50\": "), 0);
	ck_assert_int_eq(
		bench("--runtime 0.3 --size 8m --rw randrw", out, sizeof(out)),
		0);
	ck_assert_msg(strstr(out, "  read: IOPS="), "%s", out);
	ck_assert_msg(strstr(out, "  write: IOPS="), "%s", out);
}
END_TEST

START_TEST(json_carries_version_and_timestamp)
{
	char out[8192], want[64];

	ck_assert_int_eq(bench("--runtime 0.2 --nop --json", out, sizeof(out)),
			 0);
	snprintf(want, sizeof(want), "\"urio_version\": \"%s\"",
		 urio_version_string());
	ck_assert_msg(strstr(out, want), "%s", out);
	/* Seconds since the epoch, within a minute of now. */
	ck_assert_double_le(
		json_num(out, "\"timestamp\": ") - (double)time(NULL), 60);
	ck_assert_double_ge(
		json_num(out, "\"timestamp\": ") - (double)time(NULL), -60);
	ck_assert_msg(strstr(out, "\"time\": \"20"), "%s", out);
}
END_TEST

START_TEST(help_lists_every_engine)
{
	static const char *const engines[] = { "uring", "aio", "psync",
					       "passthru" };
	char out[8192];

	ck_assert_int_eq(bench("--help", out, sizeof(out)), 0);
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		ck_assert_msg(strstr(out, engines[i]), "no %s in %s",
			      engines[i], out);
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
	tcase_add_test(tc,
		       uncreatable_target_fails_in_words_with_nonzero_status);
	tcase_add_test(tc, missing_target_is_laid_out_at_size_as_fio_does);
	tcase_add_test(tc, size_past_a_smaller_file_grows_it_as_fio_does);
	tcase_add_test(tc, verify_on_a_found_target_checks_only_what_it_wrote);
	tcase_add_test(tc, directory_target_is_refused_before_starting);
	tcase_add_test(tc, fifo_target_is_refused_before_it_can_hang);
	tcase_add_test(tc, sigint_reports_the_run_so_far_and_leaves_no_file);
	tcase_add_test(tc, killed_run_leaves_no_temporary_file);
	tcase_add_test(tc, qd_past_the_in_flight_bound_is_refused_in_words);
	tcase_add_test(tc, page_cache_is_dropped_unless_invalidate_0);
	tcase_add_test(tc, fio_spellings_are_accepted);
	tcase_add_test(tc, filename_option_names_the_target);
	tcase_add_test(tc, version_names_urio);
	tcase_add_test(tc, unparsable_runtime_is_refused);
	tcase_add_test(tc, randrw_reports_reads_and_writes_apart);
	tcase_add_test(tc, json_carries_version_and_timestamp);
	tcase_add_test(tc, help_lists_every_engine);
	tcase_add_test(tc, bad_option_values_are_refused);
	tcase_add_test(tc, psync_and_nop_modes_run);
	suite_add_tcase(s, tc);
	return s;
}

URIO_TEST_MAIN(suite)
